//! `cargo run -p minimal-example -- [--check] OUT_DIR`: renders the minimal platform into OUT_DIR.
use std::path::Path;
use std::process::ExitCode;

use gitops_tree::pipeline::Paths;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let paths = Paths { root, releases: "releases", policies: "policies", deploy: "deploy" };
    let (platform, profiles) = (minimal_example::platform(), [minimal_example::dev()]);
    gitops_tree::cli::render_command(
        env!("CARGO_PKG_NAME"),
        &platform,
        &profiles,
        &paths,
        std::env::args_os().skip(1),
    )
}
