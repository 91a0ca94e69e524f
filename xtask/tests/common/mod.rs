//! What the CLI tests share: a scratch repository root and a way to run
//! `cargo xtask` in it, as a user would.
#![allow(dead_code)] // Each test binary uses its own part.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A scratch repository root holding a copy of the committed release files.
pub fn scratch(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("releases")).unwrap();
    for env in ["dev", "staging", "prod"] {
        let from = workspace().join(format!("releases/{env}.yaml"));
        fs::copy(from, root.join(format!("releases/{env}.yaml"))).unwrap();
    }
    root
}

/// [`scratch`] with `deploy/` rendered, where dev and staging pin tags
/// only (production requires digests and keeps them): the tag-editing tests
/// read simpler, and the digest tests add digests where they need them.
pub fn rendered(name: &str) -> PathBuf {
    let root = scratch(name);
    for env in ["dev", "staging"] {
        let file = root.join(format!("releases/{env}.yaml"));
        let text = fs::read_to_string(&file).unwrap();
        let tags_only: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("digest:"))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&file, tags_only).unwrap();
    }
    let out = xtask(&root, &["render"]);
    assert!(out.status.success(), "{}", stderr(&out));
    root
}

pub fn xtask(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).arg("--root").arg(root).args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every release file and the whole `deploy/` tree: what a refused command must not touch.
pub fn snapshot(root: &Path) -> (Vec<String>, gitops_tree::Tree) {
    let releases = ["dev", "staging", "prod"].map(|e| read(root, &format!("releases/{e}.yaml"))).to_vec();
    (releases, gitops_tree::disk::read_tree(&root.join("deploy")).unwrap())
}

/// Runs `command` with each case's arguments and checks that it fails with
/// the case's message and leaves every release file and `deploy/` as it was.
pub fn assert_refused(root: &Path, command: &str, cases: &[(&[&str], &str)]) {
    let before = snapshot(root);
    for (args, message) in cases {
        let out = xtask(root, &[&[command], *args].concat());
        // 1 for the command's own refusals, 2 for clap's usage errors.
        assert!(matches!(out.status.code(), Some(1 | 2)), "{command} {args:?}: {:?}", out.status);
        assert!(stderr(&out).contains(message), "{command} {args:?}: {}", stderr(&out));
        assert_eq!(snapshot(root), before, "{command} {args:?} wrote something");
    }
}

/// Runs `git args…` in `dir` as a test user; its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out).trim().to_owned()
}
