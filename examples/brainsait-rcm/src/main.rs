//! `cargo run -p brainsait-rcm -- <command>`: every command of `gitops-cli`
//! (render, check, diff, set-image, promote, rollback, history, schema,
//! graph, smoke, seal) on BrainSAIT RCM. `examples/brainsait-rcm/deploy` is
//! the rendered tree, committed.
fn main() -> std::process::ExitCode {
    gitops_cli::main(brainsait_rcm::project())
}
