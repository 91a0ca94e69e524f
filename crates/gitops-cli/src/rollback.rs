//! `rollback`: sets an environment's tags back to what they were
//! at an earlier commit (BrainSAIT's pipeline document's "pin a revision"), keeping today's
//! comments, and re-renders. The change is a new commit, not a rewrite.

use std::process::ExitCode;

use gitops_core::release::ReleasePins;

use crate::pins::{self, ReleaseFile};
use crate::{CmdResult, Project, git};

/// The arguments of `rollback`.
#[derive(clap::Args)]
pub struct RollbackArgs {
    /// The environment to roll back.
    #[arg(long, value_name = "ENV")]
    env: String,
    /// The commit whose tags to restore (a hash, a tag, `HEAD~2`, …).
    #[arg(long, value_name = "GIT_REV")]
    to: String,
}

pub fn run(project: &Project, RollbackArgs { env, to }: RollbackArgs) -> CmdResult {
    let root = &project.root;
    let profile = project.environment(&env)?;
    let hint = format!("`{} history --env {env}` lists the commits that set its tags", project.invocation);
    let commit = git::commit(root, &to, &hint)?;
    let file = ReleaseFile::read(project, profile)?;
    let short = &commit[..commit.len().min(7)];
    let old = git::show(root, &commit, &file.rel)
        .map_err(|e| vec![format!("git: {e}")])?
        .ok_or_else(|| vec![format!("{}: does not exist at `{to}` ({short}); {hint}", file.rel)])?;
    let at = format!("{} at {short}", file.rel);
    let old = ReleasePins::parse_for(&at, &old, &project.released_services(), project.tag_rule()).map_err(|e| {
        vec![format!(
            "{e}\n  the pins of that commit do not fit today's platform; set the tags with `{} set-image`",
            project.invocation
        )]
    })?;
    let changes: Vec<_> = old.images.into_iter().collect();
    let applied = pins::apply(project, &file, &changes)?;
    println!("## Roll back {env} to the tags of {short} (`{to}`)\n");
    applied.print(project, &file.rel);
    Ok(ExitCode::SUCCESS)
}
