//! `history`: the tags each commit set in one environment, newest first,
//! read from `git log` of its release file. Pick a line and
//! `rollback --env ENV --to COMMIT` restores it.

use std::process::ExitCode;

use gitops_core::release::ReleasePins;

use crate::pins::ReleaseFile;
use crate::{CmdResult, Project, git};

/// The arguments of `history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// The environment whose release file to follow.
    #[arg(long, value_name = "ENV")]
    env: String,
    /// Show at most this many commits.
    #[arg(long, short = 'n', value_name = "N")]
    max_count: Option<usize>,
}

/// One commit that touched the release file.
struct Entry {
    line: String,
    pins: Result<Option<ReleasePins>, String>,
}

/// `text` with every control character (escape sequences, carriage
/// returns, C1 controls) and bidirectional override shown as `\u{fffd}`,
/// so that it prints as the characters it holds and nothing else.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi =
                matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
            if c.is_control() || bidi { '\u{fffd}' } else { c }
        })
        .collect()
}

pub fn run(project: &Project, HistoryArgs { env, max_count }: HistoryArgs) -> CmdResult {
    let root = &project.root;
    let profile = project.environment(&env)?;
    let rel = ReleaseFile::read(project, profile)?.rel;
    let services = project.released_services();
    let rule = project.tag_rule();
    // Unit separators: subjects may hold any other character.
    let log = git::git(root, &["log", "--format=%H%x1f%h %ad %an: %s", "--date=short", "--", &rel])
        .map_err(|e| vec![format!("git log {rel}: {e}")])?;
    let mut entries: Vec<Entry> = log
        .lines()
        .filter_map(|l| l.split_once('\x1f'))
        .map(|(hash, line)| {
            let pins = git::show(root, hash, &rel).and_then(|text| {
                text.map(|t| ReleasePins::parse_for(&rel, &t, &services, rule).map_err(|e| e.message))
                    .transpose()
            });
            Entry { line: line.to_owned(), pins }
        })
        .collect();
    if entries.is_empty() {
        println!("{rel}: no commit touches it yet");
        return Ok(ExitCode::SUCCESS);
    }
    // Each commit is compared with the one before it that touched the file.
    let older: Vec<Option<ReleasePins>> =
        entries.iter().skip(1).map(|e| e.pins.clone().ok().flatten()).chain([None]).collect();
    entries.truncate(max_count.unwrap_or(usize::MAX));
    let width = services.iter().map(|s| s.as_str().len()).max().unwrap_or(0);
    for (entry, before) in entries.iter().zip(older) {
        // Authors and subjects are anyone's text: no terminal control reaches the screen.
        println!("{}", printable(&entry.line));
        match &entry.pins {
            Err(e) => println!("    (does not parse with today's platform: {})", printable(e)),
            Ok(None) => println!("    (the file was deleted)"),
            Ok(Some(pins)) => {
                let set: Vec<_> = pins
                    .images
                    .iter()
                    .map(|(service, pin)| {
                        (service.as_str(), before.as_ref().and_then(|b| b.pin(service)), pin)
                    })
                    .filter(|(_, old, new)| *old != Some(*new))
                    .collect();
                if set.is_empty() {
                    println!("    (no tag changed)");
                }
                for (service, old, new) in set {
                    match old {
                        Some(old) => println!("    {service:width$}  {old} -> {new}"),
                        None => println!("    {service:width$}  {new}"),
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_do_not_reach_the_terminal() {
        let hostile = "a1b2c3d 2026-12-03 Eve\x1b]0;pwned\x07: fix \x1b[2J\r\u{9b}31m\u{202e}txt.exe";
        let shown = printable(hostile);
        assert_eq!(
            shown,
            "a1b2c3d 2026-12-03 Eve\u{fffd}]0;pwned\u{fffd}: fix \u{fffd}[2J\u{fffd}\u{fffd}31m\u{fffd}txt.exe"
        );
        assert_eq!(printable("plain: añadir ✓"), "plain: añadir ✓");
    }
}
