//! `cargo run -p minimal-example -- OUT_DIR`: renders the minimal platform.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gitops_tree::disk::write_atomically;
use gitops_tree::pipeline::{Paths, render_platform};

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: cargo run -p minimal-example -- OUT_DIR");
        return ExitCode::from(2);
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let paths = Paths { root, releases: "releases", policies: "policies", deploy: "deploy" };
    match render_platform(&minimal_example::platform(), &[minimal_example::dev()], &paths) {
        Ok(rendered) if rendered.report.blocking() > 0 => {
            eprint!("{}", rendered.report.to_text());
            ExitCode::FAILURE
        }
        Ok(rendered) => match write_atomically(&rendered.tree, &out) {
            Ok(_) => {
                println!("{}: {} files", out.display(), rendered.tree.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}: {e}", out.display());
                ExitCode::FAILURE
            }
        },
        Err(errors) => {
            errors.iter().for_each(|e| eprintln!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}
