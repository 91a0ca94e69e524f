//! `cargo xtask set-image`: the CI step after the images are pushed. Sets
//! the tag of one, several or all services in one environment's release
//! file, keeping its comments, and re-renders `deploy/`.

use std::path::Path;
use std::process::ExitCode;

use crate::CmdResult;
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
}

pub fn run(root: &Path, SetImageArgs { env, service, all, tag }: SetImageArgs) -> CmdResult {
    let tag = pins::tag(&tag)?;
    let profile = pins::environment(&env)?;
    let services = if all { pins::services() } else { pins::find_services(&service)? };
    let file = ReleaseFile::read(root, profile)?;
    let tags: Vec<_> = services.into_iter().map(|s| (s, tag.clone())).collect();
    pins::apply(root, &file, &tags)?.print(&file.rel);
    Ok(ExitCode::SUCCESS)
}
