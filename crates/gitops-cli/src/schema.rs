//! `schema`: writes the JSON Schema of the release files and
//! points each release file at it on its first line, so editors with the
//! YAML language server complete service names and flag a bad tag as it is
//! typed. `--check` writes nothing and fails when either is out of date.

use std::process::ExitCode;

use gitops_core::release::ReleasePins;
use gitops_core::release::edit::with_schema_directive;
use gitops_tree::disk;
use gitops_tree::pipeline::{read_release, release_file};

use crate::{CmdResult, Project};

/// The arguments of `schema`.
#[derive(clap::Args)]
pub struct SchemaArgs {
    /// Write nothing; list what is out of date and exit 1 if anything is.
    #[arg(long)]
    check: bool,
}

/// The schema file's content.
pub fn schema_text(project: &Project) -> String {
    let schema = ReleasePins::json_schema_for(&project.released_services(), project.tag_rule());
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// The schema as a release file refers to it: relative to the release files' directory.
fn schema_url(project: &Project) -> String {
    let depth = project.releases.split('/').filter(|p| !p.is_empty() && *p != ".").count();
    format!("{}{}", "../".repeat(depth), project.schema_file)
}

pub fn run(project: &Project, SchemaArgs { check }: SchemaArgs) -> CmdResult {
    let root = &project.root;
    let paths = project.paths();
    let schema_file = project.schema_file;
    let schema_now = std::fs::read_to_string(root.join(schema_file)).ok();
    let mut files = vec![(schema_file.to_owned(), schema_now, schema_text(project))];
    let url = schema_url(project);
    for profile in &project.profiles {
        let rel = release_file(&paths, profile);
        let text = read_release(&paths, profile).map_err(|e| vec![e.to_string()])?;
        let new = with_schema_directive(&text, &url);
        files.push((rel, Some(text), new));
    }
    let stale: Vec<_> = files.iter().filter(|(_, old, new)| old.as_ref() != Some(new)).collect();
    if check {
        if stale.is_empty() {
            println!("{schema_file} and the release files' schema lines: up to date");
            return Ok(ExitCode::SUCCESS);
        }
        for (rel, _, _) in &stale {
            println!("out of date: {rel}");
        }
        println!("run `{} schema` and commit the result", project.invocation);
        return Ok(ExitCode::FAILURE);
    }
    // One change: after a kill, all of these files are old, or the next
    // command makes all of them new.
    let writes = stale.iter().map(|(rel, _, new)| (root.join(rel), new.as_bytes().to_vec())).collect();
    let dest = root.join(project.deploy);
    let notes = disk::replace_files(&dest, writes).map_err(|e| crate::commit_error(root, e))?;
    for (rel, _, _) in &stale {
        println!("written: {rel}");
    }
    for note in notes {
        eprintln!("note: {note}");
    }
    if stale.is_empty() {
        println!("{schema_file} and the release files' schema lines: unchanged");
    }
    Ok(ExitCode::SUCCESS)
}
