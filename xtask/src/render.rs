//! `cargo xtask render`: reads the release pins, renders every environment
//! through the typed builders, checks it against the policies, lays the
//! objects out and writes the tree atomically; with `--check`, compares it
//! with what is on disk and writes nothing. A blocking policy finding stops
//! the render before anything is written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gitops_policy::Report;
use gitops_tree::disk::{self, Outcome};
use gitops_tree::pipeline::{Paths, Rendered, render_platform};

use crate::{CmdResult, DEPLOY_DIR, POLICIES_DIR, RELEASES_DIR};

#[derive(clap::Args)]
pub struct RenderArgs {
    /// Write the tree here instead of <root>/deploy.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write nothing; list every file that differs and exit 1 if any does.
    #[arg(long)]
    check: bool,
}

/// Where the sources below `root` are and where the tree goes.
pub fn paths(root: &Path) -> Paths<'_> {
    Paths { root, releases: RELEASES_DIR, policies: POLICIES_DIR, deploy: DEPLOY_DIR }
}

/// The ClinicFlow tree and its policy report, as the sources at `root` render it.
pub fn render_checked(root: &Path) -> Result<Rendered, Vec<String>> {
    render_platform(&clinicflow::platform(), &clinicflow::environments(), &paths(root))
}

/// Prints the findings, if any, and refuses to go on when one blocks: a
/// render never writes a tree with an unwaived error.
pub fn refuse_blocking(report: &Report) -> Result<(), Vec<String>> {
    if !report.findings.is_empty() {
        eprint!("{}", report.to_text());
    }
    match report.blocking() {
        0 => Ok(()),
        n => Err(vec![format!(
            "{n} blocking policy finding(s); change the sources, or waive a finding in the environment's profile with a reason"
        )]),
    }
}

pub fn run(root: &Path, RenderArgs { out, check }: RenderArgs) -> CmdResult {
    let Rendered { tree, report } = render_checked(root)?;
    refuse_blocking(&report)?;
    let dest = out.unwrap_or_else(|| root.join(DEPLOY_DIR));
    let io_err = |e: std::io::Error| vec![format!("{}: {e}", dest.display())];
    if check {
        let drift = disk::compare(&tree, &disk::read_tree(&dest).map_err(io_err)?);
        if drift.is_empty() {
            println!("{}: up to date ({} files)", dest.display(), tree.len());
            return Ok(ExitCode::SUCCESS);
        }
        for d in &drift {
            println!("{d}");
        }
        println!(
            "{}: {} file(s) differ from what the sources render; run `cargo xtask render` and commit the result",
            dest.display(),
            drift.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let outcome = disk::write_atomically(&tree, &dest).map_err(io_err)?;
    let verb = match outcome {
        Outcome::Unchanged => "unchanged",
        Outcome::Replaced => "written",
    };
    println!("{}: {verb}, {} files, {} bytes", dest.display(), tree.len(), tree.total_bytes());
    Ok(ExitCode::SUCCESS)
}
