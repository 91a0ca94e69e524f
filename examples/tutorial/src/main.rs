//! `cargo run -p orders-platform -- <command>`: every command of `gitops-cli`
//! on the tutorial's platform, with this directory as the repository root.
fn main() -> std::process::ExitCode {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let project = gitops_cli::Project::new(
        orders_platform::platform(),
        orders_platform::environments(),
        root,
        "cargo run -p orders-platform --",
    );
    gitops_cli::main(project)
}
