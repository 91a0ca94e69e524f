//! `cargo run -p brainsait-rcm -- [--check] OUT_DIR`: renders BrainSAIT RCM into OUT_DIR.
//! `examples/brainsait-rcm/deploy` is the rendered tree, committed.
use std::process::ExitCode;

fn main() -> ExitCode {
    let (platform, profiles) = (brainsait_rcm::platform(), brainsait_rcm::environments());
    let paths = brainsait_rcm::paths();
    gitops_tree::cli::render_command(
        env!("CARGO_PKG_NAME"),
        &platform,
        &profiles,
        &paths,
        std::env::args_os().skip(1),
    )
}
