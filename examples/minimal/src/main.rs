//! `cargo run -p minimal-example -- [--check] OUT_DIR`: renders the minimal platform into OUT_DIR.
use std::path::Path;

use gitops_tree::pipeline::Paths;

fn main() -> std::process::ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let paths = Paths { root, releases: "releases", policies: "policies", deploy: "deploy", rules: &[] };
    gitops_tree::cli::main(&minimal_example::platform(), &[minimal_example::dev()], &paths)
}
