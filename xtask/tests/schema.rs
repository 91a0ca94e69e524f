//! `cargo xtask schema`: the release files' JSON Schema and the line that
//! points each release file at it, written and checked.

mod common;

use std::fs;

use common::{read, scratch, stderr, stdout, workspace, xtask};

#[test]
fn schema_writes_the_schema_and_points_every_release_file_at_it() {
    let root = scratch("schema");
    // Release files without the schema line, as before this command existed.
    for env in ["dev", "staging", "prod"] {
        let rel = format!("releases/{env}.yaml");
        let text = read(&root, &rel);
        fs::write(root.join(&rel), text.split_once('\n').unwrap().1).unwrap();
    }
    let out = xtask(&root, &["schema", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("out of date: schemas/release.schema.json"), "{}", stdout(&out));
    assert!(stdout(&out).contains("out of date: releases/prod.yaml"), "{}", stdout(&out));
    assert!(!root.join("schemas").exists(), "--check writes nothing");

    let out = xtask(&root, &["schema"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for env in ["dev", "staging", "prod"] {
        let rel = format!("releases/{env}.yaml");
        assert_eq!(read(&root, &rel), read(&workspace(), &rel), "{rel}");
    }
    let schema: serde_json::Value =
        serde_json::from_str(&read(&root, "schemas/release.schema.json")).unwrap();
    assert_eq!(
        schema["properties"]["images"]["required"],
        serde_json::json!(["identity", "scheduling", "profiles", "notifications", "web"])
    );
    assert_eq!(xtask(&root, &["schema", "--check"]).status.code(), Some(0));
    // The schema line is a comment: the rendered tree does not change.
    assert!(xtask(&root, &["render"]).status.success());
    assert_eq!(
        gitops_tree::disk::read_tree(&root.join("deploy")).unwrap(),
        gitops_tree::disk::read_tree(&workspace().join("deploy")).unwrap()
    );
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_committed_schema_and_schema_lines_are_up_to_date() {
    let out = xtask(&workspace(), &["schema", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
