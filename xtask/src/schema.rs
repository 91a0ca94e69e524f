//! `cargo xtask schema`: writes the JSON Schema of the release files and
//! points each release file at it on its first line, so editors with the
//! YAML language server complete service names and flag a bad tag as it is
//! typed. `--check` writes nothing and fails when either is out of date.

use std::path::Path;
use std::process::ExitCode;

use gitops_core::release::ReleasePins;
use gitops_core::release::edit::with_schema_directive;
use gitops_tree::disk;
use gitops_tree::pipeline::release_file;

use crate::{CmdResult, pins};

/// Where the schema lives, relative to the root.
pub const SCHEMA_FILE: &str = "schemas/release.schema.json";
/// The schema as a release file refers to it, relative to `releases/`.
pub const SCHEMA_URL: &str = "../schemas/release.schema.json";

#[derive(clap::Args)]
pub struct SchemaArgs {
    /// Write nothing; list what is out of date and exit 1 if anything is.
    #[arg(long)]
    check: bool,
}

/// The schema file's content.
pub fn schema_text() -> String {
    let schema = ReleasePins::json_schema(&pins::services());
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON value serialises");
    text.push('\n');
    text
}

pub fn run(root: &Path, SchemaArgs { check }: SchemaArgs) -> CmdResult {
    let paths = crate::render::paths(root);
    let schema_now = std::fs::read_to_string(root.join(SCHEMA_FILE)).ok();
    let mut files = vec![(SCHEMA_FILE.to_owned(), schema_now, schema_text())];
    for profile in clinicflow::environments() {
        let rel = release_file(&paths, &profile);
        let text = std::fs::read_to_string(root.join(&rel))
            .map_err(|e| vec![format!("{rel}: cannot read the release file ({e})")])?;
        let new = with_schema_directive(&text, SCHEMA_URL);
        files.push((rel, Some(text), new));
    }
    let stale: Vec<_> = files.iter().filter(|(_, old, new)| old.as_ref() != Some(new)).collect();
    if check {
        if stale.is_empty() {
            println!("{SCHEMA_FILE} and the release files' schema lines: up to date");
            return Ok(ExitCode::SUCCESS);
        }
        for (rel, _, _) in &stale {
            println!("out of date: {rel}");
        }
        println!("run `cargo xtask schema` and commit the result");
        return Ok(ExitCode::FAILURE);
    }
    for (rel, _, new) in &stale {
        disk::write_file_atomically(&root.join(rel), new.as_bytes())
            .map_err(|e| vec![format!("{rel}: {e}")])?;
        println!("written: {rel}");
    }
    if stale.is_empty() {
        println!("{SCHEMA_FILE} and the release files' schema lines: unchanged");
    }
    Ok(ExitCode::SUCCESS)
}
