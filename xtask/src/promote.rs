//! `cargo xtask promote`: copies the tags one environment runs into the
//! next (seed 002: dev → staging → prod through pull requests), re-renders,
//! and prints a summary to paste into the pull request.

use std::path::Path;
use std::process::ExitCode;

use crate::CmdResult;
use crate::pins::{self, ReleaseFile};

#[derive(clap::Args)]
pub struct PromoteArgs {
    /// The environment whose tags are copied.
    #[arg(long, value_name = "ENV")]
    from: String,
    /// The environment that receives them.
    #[arg(long, value_name = "ENV")]
    to: String,
    /// Promote only this service; repeat for several. Default: every service.
    #[arg(long, value_name = "SVC")]
    service: Vec<String>,
}

pub fn run(root: &Path, PromoteArgs { from, to, service }: PromoteArgs) -> CmdResult {
    let (source, target) = (pins::environment(&from)?, pins::environment(&to)?);
    if source.name == target.name {
        return Err(vec![format!("--from and --to are both `{from}`; promote between two environments")]);
    }
    let services = if service.is_empty() { pins::services() } else { pins::find_services(&service)? };
    let source = ReleaseFile::read(root, source)?;
    let target = ReleaseFile::read(root, target)?;
    // Tag and digest travel together: what was tested is what ships.
    let changes: Vec<_> =
        services.into_iter().filter_map(|s| source.pins.pin(&s).cloned().map(|p| (s, p))).collect();
    let applied = pins::apply(root, &target, &changes)?;
    println!("## Promote {from} to {to}\n");
    applied.print(&target.rel);
    Ok(ExitCode::SUCCESS)
}
