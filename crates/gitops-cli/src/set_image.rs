//! `set-image`: the CI step after the images are pushed. Sets the tag of
//! one, several or all services in one environment's release file, keeping
//! its comments, and re-renders the tree.

use std::process::ExitCode;

use gitops_core::release::Pin;

use crate::pins::{self, ReleaseFile};
use crate::{CmdResult, Project};

/// The arguments of `set-image`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["service", "all"]))]
pub struct SetImageArgs {
    /// The environment whose release file changes (dev, staging, prod).
    #[arg(long, value_name = "ENV")]
    env: String,
    /// A service to set; repeat for several.
    #[arg(long, value_name = "SVC")]
    service: Vec<String>,
    /// Every service: the images CI built from one commit.
    #[arg(long)]
    all: bool,
    /// The new tag, in the platform's tag rule (`sha-` and 7 to 40 lowercase
    /// hex digits, or a semantic version).
    #[arg(long, value_name = "TAG")]
    tag: String,
    /// The digest the push printed: `sha256:…` for a single service, or
    /// `SVC=sha256:…`, repeated, for several. A service set without one loses
    /// its old digest, which belonged to the old tag.
    #[arg(long, value_name = "[SVC=]DIGEST")]
    digest: Vec<String>,
}

pub fn run(project: &Project, SetImageArgs { env, service, all, tag, digest }: SetImageArgs) -> CmdResult {
    let tag = pins::tag(project, &tag)?;
    let profile = project.environment(&env)?;
    let services = if all { project.released_services() } else { pins::find_services(project, &service)? };
    let mut digests = pins::digests(project, &digest, &services)?;
    let file = ReleaseFile::read(project, profile)?;
    let changes: Vec<_> = services
        .into_iter()
        .map(|s| (s.clone(), Pin { tag: tag.clone(), digest: digests.remove(&s) }))
        .collect();
    pins::apply(project, &file, &changes)?.print(project, &file.rel);
    Ok(ExitCode::SUCCESS)
}
