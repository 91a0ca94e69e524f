//! `cargo xtask set-image`: the CI step after the images are pushed. Sets
//! the tag of one, several or all services in one environment's release
//! file, keeping its comments, and re-renders `deploy/`.

use std::path::Path;
use std::process::ExitCode;

use crate::CmdResult;
use gitops_core::release::Pin;

use crate::pins::{self, ReleaseFile};

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
    /// The new tag: `sha-` and 7 to 40 lowercase hex digits.
    #[arg(long, value_name = "TAG")]
    tag: String,
    /// The digest the push printed: `sha256:…` for a single service, or
    /// `SVC=sha256:…`, repeated, for several. A service set without one loses
    /// its old digest, which belonged to the old tag.
    #[arg(long, value_name = "[SVC=]DIGEST")]
    digest: Vec<String>,
}

pub fn run(root: &Path, SetImageArgs { env, service, all, tag, digest }: SetImageArgs) -> CmdResult {
    let tag = pins::tag(&tag)?;
    let profile = pins::environment(&env)?;
    let services = if all { pins::services() } else { pins::find_services(&service)? };
    let mut digests = pins::digests(&digest, &services)?;
    let file = ReleaseFile::read(root, profile)?;
    let changes: Vec<_> = services
        .into_iter()
        .map(|s| (s.clone(), Pin { tag: tag.clone(), digest: digests.remove(&s) }))
        .collect();
    pins::apply(root, &file, &changes)?.print(&file.rel);
    Ok(ExitCode::SUCCESS)
}
