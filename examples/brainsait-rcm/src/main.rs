//! `cargo run -p brainsait-rcm -- [--check] OUT_DIR`: renders BrainSAIT RCM into OUT_DIR.
//! `examples/brainsait-rcm/deploy` is the rendered tree, committed.
fn main() -> std::process::ExitCode {
    use brainsait_rcm::{environments, paths, platform};
    gitops_tree::cli::main(&platform(), &environments(), &paths())
}
