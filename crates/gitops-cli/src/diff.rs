//! `diff`: what `render` would change in the deploy directory,
//! as a unified diff (like `helm diff` or `argocd app diff`), before anyone
//! commits or syncs it. Exit 1 when there is a difference, 0 when not.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use gitops_tree::disk;
use gitops_tree::layout::environment_roots;

use crate::render::{refuse_blocking, render_project};
use crate::{CmdResult, Project};

/// The arguments of `diff`.
#[derive(clap::Args)]
pub struct DiffArgs {
    /// Only this environment's files (its directory and its Argo CD instance's).
    #[arg(long, value_name = "ENV")]
    env: Option<String>,
}

pub fn run(project: &Project, DiffArgs { env }: DiffArgs) -> CmdResult {
    let deploy = project.deploy;
    let dirs = env.as_deref().map(|e| project.environment(e)).transpose()?.map(|p| environment_roots(&p));
    let checked = render_project(project)?;
    refuse_blocking(&checked.report)?;
    let mut rendered = checked.tree;
    let dest = project.root.join(deploy);
    let mut on_disk = disk::read_tree(&dest).map_err(|e| crate::io_error(&dest, e))?;
    if let Some(dirs) = &dirs {
        let keep = |path: &str| {
            dirs.iter().any(|d| path.strip_prefix(d.as_str()).is_some_and(|r| r.starts_with('/')))
        };
        rendered.retain(keep);
        on_disk.retain(keep);
    }
    let diff = gitops_tree::diff::unified(&on_disk, &rendered, deploy);
    let scope = dirs.map_or_else(|| format!("{deploy}/"), |d| format!("{deploy}/{{{}}}", d.join(",")));
    if diff.is_empty() {
        eprintln!("{scope}: no difference from what the sources render");
        return Ok(ExitCode::SUCCESS);
    }
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let text = if colour { colourise(&diff) } else { diff };
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = stdout.lock().write_all(text.as_bytes());
    let files = disk::compare(&rendered, &on_disk).len();
    eprintln!(
        "{scope}: {files} file(s) differ from what the sources render; `{}` writes them",
        project.render_command()
    );
    Ok(ExitCode::FAILURE)
}

/// ANSI colours as `git diff` uses them: headers bold, hunks cyan, removals
/// red, additions green.
fn colourise(diff: &str) -> String {
    const BOLD: &str = "\x1b[1m";
    const RED: &str = "\x1b[31m";
    const GREEN: &str = "\x1b[32m";
    const CYAN: &str = "\x1b[36m";
    const RESET: &str = "\x1b[0m";
    let mut out = String::with_capacity(diff.len() * 2);
    for line in diff.split_inclusive('\n') {
        let (body, end) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        let colour = if body.starts_with("--- ") || body.starts_with("+++ ") {
            BOLD
        } else if body.starts_with("@@") {
            CYAN
        } else if body.starts_with('-') {
            RED
        } else if body.starts_with('+') {
            GREEN
        } else {
            ""
        };
        if colour.is_empty() {
            out.push_str(line);
        } else {
            out.push_str(&format!("{colour}{body}{RESET}{end}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_coloured_by_their_role() {
        let diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n same\n-old\n+new\n";
        assert_eq!(
            colourise(diff),
            "\x1b[1m--- a/x\x1b[0m\n\x1b[1m+++ b/x\x1b[0m\n\x1b[36m@@ -1 +1 @@\x1b[0m\n same\n\x1b[31m-old\x1b[0m\n\x1b[32m+new\x1b[0m\n"
        );
    }
}
