//! `promote`: copies the tags one environment runs into the
//! next (BrainSAIT's pipeline document: dev → staging → prod through pull requests), re-renders,
//! and prints a summary to paste into the pull request.

use std::process::ExitCode;

use crate::pins::{self, ReleaseFile};
use crate::{CmdResult, Project};

/// The arguments of `promote`.
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

pub fn run(project: &Project, PromoteArgs { from, to, service }: PromoteArgs) -> CmdResult {
    let (source, target) = (project.environment(&from)?, project.environment(&to)?);
    if source.name == target.name {
        return Err(vec![format!("--from and --to are both `{from}`; promote between two environments")]);
    }
    let services = if service.is_empty() {
        project.released_services()
    } else {
        pins::find_services(project, &service)?
    };
    let source = ReleaseFile::read(project, source)?;
    let target = ReleaseFile::read(project, target)?;
    // Tag and digest travel together: what was tested is what ships.
    let changes: Vec<_> =
        services.into_iter().filter_map(|s| source.pins.pin(&s).cloned().map(|p| (s, p))).collect();
    let applied = pins::apply(project, &target, &changes)?;
    println!("## Promote {from} to {to}\n");
    applied.print(project, &target.rel);
    Ok(ExitCode::SUCCESS)
}
