//! `cargo run -p minimal-example -- <command>`: every command of `gitops-cli`
//! on the minimal platform (`render --out DIR`, `check`, `set-image`, …),
//! with this directory as the repository (`releases/`, `policies/`, `deploy/`).
fn main() -> std::process::ExitCode {
    use minimal_example::{dev, platform};
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let invocation = "cargo run -p minimal-example --";
    gitops_cli::main(gitops_cli::Project::new(platform(), vec![dev()], root, invocation))
}
