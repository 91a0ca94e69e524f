//! `cargo xtask render` as a user runs it: exit codes, messages, and the
//! promise that a failed run leaves `deploy/` byte-for-byte as it was.

mod common;

use std::fs;

use common::{scratch, stderr, workspace, xtask};
use gitops_tree::disk::read_tree;

#[test]
fn render_writes_the_layout_and_is_idempotent() {
    let root = scratch("layout");
    let out = xtask(&root, &["render"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tree = read_tree(&root.join("deploy")).unwrap();
    for path in [
        "argocd/dev/apps/application-clinicflow-dev.yaml",
        "argocd/dev/bootstrap/application-clinicflow-root.yaml",
        "dev/kustomization.yaml",
        "prod/statefulset-identity-db.yaml",
    ] {
        assert!(tree.get(path).is_some(), "{path}");
    }
    // The same bytes as the committed tree, since the inputs are the same.
    assert_eq!(tree, read_tree(&workspace().join("deploy")).unwrap());
    let again = xtask(&root, &["render"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("unchanged"));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn bad_tags_fail_with_file_line_and_rule_and_write_nothing() {
    for bad in ["latest", "dev-latest", "staging-latest", "prod-latest", "''", "sha-XYZ1234", "1.2.3"] {
        let root = scratch("badtag");
        assert!(xtask(&root, &["render"]).status.success());
        let before = read_tree(&root.join("deploy")).unwrap();

        let file = root.join("releases/staging.yaml");
        let text = fs::read_to_string(&file).unwrap();
        // The web pin is the last entry: its tag is on the last line.
        let line = text.lines().count();
        let (head, _) = text.trim_end().rsplit_once("tag: ").unwrap();
        fs::write(&file, format!("{head}tag: {bad}\n")).unwrap();

        let out = xtask(&root, &["render"]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let err = stderr(&out);
        assert!(err.contains(&format!("releases/staging.yaml:{line}:")), "{bad}: {err}");
        assert!(err.contains("tags are `sha-` followed by 7 to 40 lowercase hex digits"), "{bad}: {err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert_eq!(read_tree(&root.join("deploy")).unwrap(), before, "{bad}: deploy/ changed");
        fs::remove_dir_all(root).unwrap();
    }
}

#[test]
fn errors_in_several_files_are_all_reported() {
    let root = scratch("many");
    fs::write(root.join("releases/dev.yaml"), "images: [\n").unwrap();
    fs::remove_file(root.join("releases/prod.yaml")).unwrap();
    let out = xtask(&root, &["render"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("releases/dev.yaml:"), "{err}");
    assert!(err.contains("releases/prod.yaml: cannot read the release file"), "{err}");
    assert!(!root.join("deploy").exists(), "a failed first render creates nothing");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn check_reports_drift_and_writes_nothing() {
    let root = scratch("check");
    assert!(xtask(&root, &["render"]).status.success());
    let ok = xtask(&root, &["render", "--check"]);
    assert_eq!(ok.status.code(), Some(0));

    fs::write(root.join("deploy/dev/service-web.yaml"), "edited by hand\n").unwrap();
    fs::remove_file(root.join("deploy/prod/ingress-clinicflow.yaml")).unwrap();
    fs::write(root.join("deploy/staging/stray.yaml"), "x\n").unwrap();
    let before = read_tree(&root.join("deploy")).unwrap();
    let out = xtask(&root, &["render", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "changed: dev/service-web.yaml",
        "missing: prod/ingress-clinicflow.yaml",
        "extra:   staging/stray.yaml",
    ] {
        assert!(stdout.contains(line), "{stdout}");
    }
    assert_eq!(read_tree(&root.join("deploy")).unwrap(), before);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn out_writes_elsewhere_and_leaves_deploy_alone() {
    let root = scratch("out");
    let out_dir = root.join("preview");
    let out = xtask(&root, &["render", "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out_dir.join("dev/kustomization.yaml").is_file());
    assert!(!root.join("deploy").exists());
    fs::remove_dir_all(root).unwrap();
}
