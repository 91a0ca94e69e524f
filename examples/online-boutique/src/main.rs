//! `cargo run -p online-boutique -- [--check] OUT_DIR`: renders Online Boutique into OUT_DIR.
//! `examples/online-boutique/deploy` is the rendered tree, committed.
fn main() -> std::process::ExitCode {
    use online_boutique::{environments, paths, platform};
    gitops_tree::cli::main(&platform(), &environments(), &paths())
}
