//! `rollback` and `history` against a scratch Git repository whose commits
//! set the pins step by step.

mod common;

use std::fs;
use std::path::Path;

use common::{assert_refused, git, read, rendered, stderr, stdout, xtask};

fn commit(root: &Path, message: &str) -> String {
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", message]);
    git(root, &["rev-parse", "HEAD"])
}

fn set(root: &Path, args: &[&str]) {
    let out = xtask(root, &[&["set-image", "--env", "dev"], args].concat());
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A repository with four commits: the initial pins, all of dev at
/// `sha-1111111`, web at `sha-2222222`, and a comment-only change.
fn repository(name: &str) -> (std::path::PathBuf, [String; 4]) {
    let root = rendered(name);
    git(&root, &["init", "-q", "-b", "main"]);
    let initial = commit(&root, "Initial pins");
    set(&root, &["--all", "--tag", "sha-1111111"]);
    let all = commit(&root, "Deploy sha-1111111 to dev");
    set(&root, &["--service", "web", "--tag", "sha-2222222"]);
    let web = commit(&root, "Deploy web sha-2222222 to dev");
    let text = read(&root, "releases/dev.yaml").replacen("images:", "# Reviewed.\nimages:", 1);
    fs::write(root.join("releases/dev.yaml"), text).unwrap();
    let comment = commit(&root, "Explain the file");
    (root, [initial, all, web, comment])
}

#[test]
fn history_lists_the_pins_each_commit_set_newest_first() {
    let (root, [initial, all, web, comment]) = repository("history");
    // A commit that does not touch dev is not listed.
    let prod = read(&root, "releases/prod.yaml").replacen("images:", "# prod\nimages:", 1);
    fs::write(root.join("releases/prod.yaml"), prod).unwrap();
    commit(&root, "Touch prod only");

    let out = xtask(&root, &["history", "--env", "dev"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let at = |hash: &str| text.find(&format!("{} ", &hash[..7])).unwrap_or_else(|| panic!("{hash}: {text}"));
    assert!(at(&comment) < at(&web) && at(&web) < at(&all) && at(&all) < at(&initial), "{text}");
    assert!(!text.contains("Touch prod only"), "{text}");
    assert!(
        text.contains("Deploy web sha-2222222 to dev\n    web            sha-1111111 -> sha-2222222\n"),
        "{text}"
    );
    assert!(text.contains("Explain the file\n    (no tag changed)\n"), "{text}");
    assert!(text.contains("    identity       sha-4e1c9a7 -> sha-1111111\n"), "{text}");
    // The first commit sets every pin.
    assert!(text.trim_end().ends_with("    web            sha-4e1c9a7"), "{text}");

    // Digests show beside their tags.
    let d = format!("sha256:{}", "ef".repeat(32));
    set(&root, &["--service", "web", "--tag", "sha-3333333", "--digest", &d]);
    commit(&root, "Deploy web by digest");
    let out = xtask(&root, &["history", "--env", "dev", "-n", "1"]);
    assert!(
        stdout(&out).contains(&format!("    web            sha-2222222 -> sha-3333333@{d}\n")),
        "{}",
        stdout(&out)
    );

    let out = xtask(&root, &["history", "--env", "dev", "-n", "1"]);
    assert_eq!(stdout(&out).lines().filter(|l| !l.starts_with(' ')).count(), 1, "{}", stdout(&out));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn rollback_restores_the_pins_of_a_commit_and_keeps_todays_comments() {
    let (root, [_, all, _, _]) = repository("rollback");
    let before = read(&root, "releases/dev.yaml");
    let out = xtask(&root, &["rollback", "--env", "dev", "--to", &all[..10]]);
    assert!(out.status.success(), "{}", stderr(&out));
    // web goes back to sha-1111111; the comment added later stays.
    assert_eq!(read(&root, "releases/dev.yaml"), before.replace("sha-2222222", "sha-1111111"));
    assert!(read(&root, "deploy/dev/deployment-web.yaml").contains("clinicflow-web:sha-1111111"));
    assert_eq!(xtask(&root, &["render", "--check"]).status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains(&format!("## Roll back dev to the tags of {}", &all[..7])), "{text}");
    assert!(text.contains("| web     | `sha-2222222` | `sha-1111111` |"), "{text}");

    // Revisions git understands work too: HEAD~3 is the initial commit.
    let out = xtask(&root, &["rollback", "--env", "dev", "--to", "HEAD~3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(read(&root, "releases/dev.yaml").contains("tag: sha-4e1c9a7"));
    assert!(!read(&root, "releases/dev.yaml").contains("sha-1111111"));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn refused_rollbacks_touch_nothing() {
    let (root, [initial, ..]) = repository("rollback-refused");
    // A commit from before the release file existed.
    fs::write(root.join("NOTES"), "x\n").unwrap();
    git(&root, &["checkout", "-q", "--orphan", "empty"]);
    git(&root, &["rm", "-rq", "--cached", "."]);
    git(&root, &["add", "NOTES"]);
    git(&root, &["commit", "-q", "-m", "No releases"]);
    let empty = git(&root, &["rev-parse", "HEAD"]);
    git(&root, &["checkout", "-q", "-f", "main"]);
    assert_ne!(empty, initial);

    let cases: [(&[&str], &str); 4] = [
        (
            &["--env", "dev", "--to", "0123456789abcdef"],
            "`0123456789abcdef` is not a commit of the repository",
        ),
        (&["--env", "dev", "--to", "no-such-branch"], "`cargo xtask history --env dev` lists the commits"),
        (&["--env", "dev", "--to", &empty], "releases/dev.yaml: does not exist at"),
        (
            &["--env", "qa", "--to", &initial],
            "unknown environment `qa`; the environments are: dev, staging, prod",
        ),
    ];
    assert_refused(&root, "rollback", &cases);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn outside_a_git_repository_history_says_so() {
    let root = rendered("no-git");
    let out = xtask(&root, &["history", "--env", "dev"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a git repository"), "{}", stderr(&out));
    fs::remove_dir_all(root).unwrap();
}

/// A commit's author and subject are anyone's text: escape sequences in
/// them (a terminal title, a screen clear) print as harmless characters.
#[test]
fn history_prints_no_terminal_control_from_commits() {
    let (root, _) = repository("history-escapes");
    set(&root, &["--service", "web", "--tag", "sha-3333333"]);
    git(&root, &["add", "-A"]);
    git(
        &root,
        &[
            "-c",
            "user.name=Eve\x1b]0;owned\x07",
            "commit",
            "-q",
            "-m",
            "Deploy \x1b[2J\x1b[31mred\r\u{202e}gpj.exe",
        ],
    );
    let out = xtask(&root, &["history", "--env", "dev"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.chars().any(|c| c.is_control() && c != '\n') && !text.contains('\u{202e}'), "{text:?}");
    assert!(text.contains("Eve\u{fffd}]0;owned: Deploy \u{fffd}[2J\u{fffd}[31mred"), "{text}");
}
