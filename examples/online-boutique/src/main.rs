//! `cargo run -p online-boutique -- <command>`: every command of `gitops-cli`
//! on Online Boutique. `examples/online-boutique/deploy` is the rendered tree,
//! committed.
fn main() -> std::process::ExitCode {
    gitops_cli::main(online_boutique::project())
}
