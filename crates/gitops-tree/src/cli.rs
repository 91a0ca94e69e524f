//! The command line of a platform crate of its own, such as the examples:
//! `cargo run -p <crate> -- [--check] DIR` renders every environment,
//! refuses a blocking policy finding, and writes the tree to `DIR` in one
//! atomic swap, or with `--check` compares `DIR` with it and writes nothing.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;

use crate::disk::{self, Outcome};
use crate::pipeline::{Paths, render_platform};

/// The whole `main` of a platform crate: runs the command with the
/// process's arguments. Prints what it did; exits 0 on success, 1 on an
/// error or drift, 2 on a usage error.
pub fn main(platform: &Platform, profiles: &[EnvironmentProfile], paths: &Paths) -> ExitCode {
    let mut args = std::env::args_os();
    // `cargo run -p <crate>` runs the binary named after the crate.
    let program = args.next().map(PathBuf::from);
    let package = program.as_deref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned());
    render_command(package.as_deref().unwrap_or("<crate>"), platform, profiles, paths, args)
}

/// The command with `args` (without the program name); `package` names the
/// crate in the usage line.
pub fn render_command(
    package: &str,
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
    args: impl IntoIterator<Item = OsString>,
) -> ExitCode {
    let (flags, dirs): (Vec<OsString>, Vec<OsString>) =
        args.into_iter().partition(|a| a.to_string_lossy().starts_with('-'));
    let check = flags.iter().any(|f| f == "--check");
    let (Ok([out]), true) = (<[OsString; 1]>::try_from(dirs), flags.iter().all(|f| f == "--check")) else {
        eprintln!("usage: cargo run -p {package} -- [--check] OUT_DIR");
        return ExitCode::from(2);
    };
    let out = PathBuf::from(out);
    let rendered = match render_platform(platform, profiles, paths) {
        Ok(rendered) => rendered,
        Err(errors) => {
            errors.iter().for_each(|e| eprintln!("error: {e}"));
            return ExitCode::FAILURE;
        }
    };
    if !rendered.report.findings.is_empty() {
        eprint!("{}", rendered.report.to_text());
    }
    if rendered.report.blocking() > 0 {
        eprintln!("error: blocking policy findings; nothing was written");
        return ExitCode::FAILURE;
    }
    let tree = rendered.tree;
    if check {
        let drift = match disk::read_tree(&out) {
            Ok(on_disk) => disk::compare(&tree, &on_disk),
            Err(e) => {
                eprintln!("error: {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
        };
        for d in &drift {
            println!("{d}");
        }
        if drift.is_empty() {
            println!("{}: up to date ({} files)", out.display(), tree.len());
            return ExitCode::SUCCESS;
        }
        println!("{}: {} file(s) differ from what the sources render", out.display(), drift.len());
        return ExitCode::FAILURE;
    }
    match disk::write_atomically(&tree, &out) {
        Ok(outcome) => {
            let verb = if outcome == Outcome::Unchanged { "unchanged" } else { "written" };
            println!("{}: {verb}, {} files", out.display(), tree.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
