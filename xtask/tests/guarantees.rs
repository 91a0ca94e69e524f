//! The guarantees of the writing commands, tried as a hostile operator
//! would: kills at any moment, writers at once, destinations that are not
//! ours, links and bytes where files should be. Each runs the real binary.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{read, rendered, snapshot, stderr, stdout, xtask};
use gitops_tree::lock::{self, Access};

/// The services of a release file, in file order.
fn services(root: &Path, env: &str) -> Vec<String> {
    read(root, &format!("releases/{env}.yaml"))
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_owned())
        .collect()
}

/// The tag a release file pins for `service`.
fn tag(root: &Path, env: &str, service: &str) -> String {
    let text = read(root, &format!("releases/{env}.yaml"));
    let mut lines = text.lines().skip_while(|l| l.trim() != format!("{service}:"));
    lines.nth(1).and_then(|l| l.trim().strip_prefix("tag: ")).unwrap().to_owned()
}

/// Nothing a run leaves behind: no temporary, staging directory or journal.
fn leftovers(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for dir in [root.to_path_buf(), root.join("releases")] {
        for entry in fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                names.push(name);
            }
        }
    }
    names
}

fn check_passes(root: &Path) {
    let out = xtask(root, &["render", "--check"]);
    assert!(out.status.success(), "releases/ and deploy/ disagree:\n{}{}", stdout(&out), stderr(&out));
}

/// `render --out` replaces only a tree a render wrote (or an empty or new
/// directory): a directory of notes, and the repository itself, are
/// refused with the reason and left as they were.
#[test]
fn render_out_refuses_a_directory_it_did_not_write() {
    let root = rendered("guarantee-out");
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    let notes = root.join("notes");
    fs::create_dir_all(&notes).unwrap();
    fs::write(notes.join("todo.txt"), "mine\n").unwrap();
    let before = snapshot(&root);
    for out in [&notes, &root, &root.join("releases")] {
        let o = xtask(&root, &["render", "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{}", out.display());
        assert!(
            stderr(&o).contains("is not a tree a render wrote") && stderr(&o).contains("nothing was written"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(read(&root, "notes/todo.txt"), "mine\n");
    assert_eq!(read(&root, ".git/HEAD"), "ref: refs/heads/main\n");
    assert_eq!(snapshot(&root), before);
    // An empty directory is taken, and rendering into it again is fine.
    let empty = root.join("elsewhere");
    fs::create_dir_all(&empty).unwrap();
    for _ in 0..2 {
        let o = xtask(&root, &["render", "--out", empty.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    fs::remove_dir_all(root).unwrap();
}

/// Six set-image runs at once, over two environments and several
/// services: every change lands, and the tree agrees with the release files.
#[test]
fn set_image_runs_at_once_keep_every_change() {
    let root = rendered("guarantee-concurrent");
    let mut runs = Vec::new();
    for env in ["dev", "staging"] {
        for (i, service) in services(&root, env).into_iter().take(3).enumerate() {
            let tag = format!("sha-{i}{i}{i}{}", if env == "dev" { "aaaa" } else { "bbbb" });
            let child = Command::new(env!("CARGO_BIN_EXE_xtask"))
                .arg("--root")
                .arg(&root)
                .args(["set-image", "--env", env, "--service", &service, "--tag", &tag])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            runs.push((env, service, tag, child));
        }
    }
    for (env, service, tag, child) in runs {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{env} {service}: {}", stderr(&out));
        assert_eq!(self::tag(&root, env, &service), tag, "{env} {service}: the change was lost");
    }
    check_passes(&root);
    assert_eq!(leftovers(&root), Vec::<String>::new());
    fs::remove_dir_all(root).unwrap();
}

/// A writer that cannot get the lock in time fails with the reason and
/// writes nothing; readers share it.
#[test]
fn a_held_lock_makes_a_writer_fail_clearly_after_its_wait() {
    let root = rendered("guarantee-lock");
    let before = snapshot(&root);
    let held = lock::acquire(&root, Access::Exclusive, Duration::ZERO).unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(&root)
        .args(["set-image", "--env", "dev", "--all", "--tag", "sha-abcdef1"])
        .env("GITOPS_LOCK_WAIT", "1")
        .output()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("another command is changing this repository"), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing was written"));
    assert_eq!(snapshot(&root), before);
    drop(held);
    let reader = lock::acquire(&root, Access::Shared, Duration::ZERO).unwrap();
    check_passes(&root);
    drop(reader);
    fs::remove_dir_all(root).unwrap();
}

/// set-image killed (SIGKILL) at moments spread over a whole run: after
/// each kill the release file pins the old tag or the new one, and the
/// next command finds the release files and the tree agreeing (completing
/// a change the kill interrupted) and leaves nothing behind.
#[test]
fn set_image_killed_at_any_moment_leaves_releases_and_deploy_agreeing() {
    let root = rendered("guarantee-kill");
    let service = services(&root, "dev").remove(0);
    let run = |tag: &str| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("--root")
            .arg(&root)
            .args(["set-image", "--env", "dev", "--service", &service, "--tag", tag])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one whole run takes here.
    let started = Instant::now();
    assert!(run("sha-0000000").wait().unwrap().success());
    let whole = started.elapsed();
    const KILLS: u32 = 24;
    let (mut old, mut completed) = (0, 0);
    for i in 0..KILLS {
        let before = tag(&root, "dev", &service);
        let new = format!("sha-{:07x}", 0x100000 + i);
        let mut child = run(&new);
        // Over a third more than a run takes: some kills come after the end.
        std::thread::sleep(whole * 4 * i / (3 * KILLS));
        let _ = child.kill();
        child.wait().unwrap();
        let after = tag(&root, "dev", &service);
        assert!(after == before || after == new, "kill {i}: {after} is neither {before} nor {new}");
        if after == before {
            old += 1
        } else {
            completed += 1
        }
        check_passes(&root);
    }
    // A writer tidies what the kills left.
    let out = xtask(&root, &["set-image", "--env", "dev", "--service", &service, "--tag", "sha-fffffff"]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_passes(&root);
    assert_eq!(leftovers(&root), Vec::<String>::new());
    eprintln!("kills: {old} left the old tag, {completed} the new one");
    assert!(old + completed == KILLS);
    fs::remove_dir_all(root).unwrap();
}

/// Turns `file` (relative to `root`) into a link to a token outside the
/// repository whose text is `secret`, then checks that each command of
/// `commands` fails naming the link and never prints the token.
fn link_is_refused_without_quoting_its_target(root: &Path, file: &str, secret: &str, commands: &[&[&str]]) {
    let token = root.with_extension("token");
    fs::write(&token, secret).unwrap();
    let link = root.join(file);
    let _ = fs::remove_file(&link);
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&token, &link).unwrap();
    for args in commands {
        let out = xtask(root, args);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {all}");
        assert!(!all.contains("TOPSECRET"), "{args:?} printed the token: {all}");
        assert!(all.contains(&format!("{file} is a symbolic link")), "{args:?}: {all}");
    }
    fs::remove_file(token).unwrap();
}

/// A release file turned into a link to a file outside the repository (a
/// token): every command refuses it without reading it, so nothing of the
/// token reaches a log.
#[test]
fn a_linked_release_file_is_refused_without_quoting_its_target() {
    let root = rendered("guarantee-link");
    link_is_refused_without_quoting_its_target(
        &root,
        "releases/staging.yaml",
        "ghp_TOPSECRETTOKEN: [unclosed\n",
        &[
            &["render", "--check"],
            &["render"],
            &["check"],
            &["diff"],
            &["set-image", "--env", "staging", "--all", "--tag", "sha-1234567"],
            &["promote", "--from", "dev", "--to", "staging"],
        ],
    );
    fs::remove_dir_all(root).unwrap();
}

/// A policy file turned into a link: refused by every command that reads
/// the policies, naming the link and never its target's content.
#[test]
fn a_linked_policy_is_refused_without_quoting_its_target() {
    let root = rendered("guarantee-policy-link");
    link_is_refused_without_quoting_its_target(
        &root,
        "policies/production-policies.rego",
        "package ghp_TOPSECRETTOKEN [[[\n",
        &[&["render", "--check"], &["render"], &["check"]],
    );
    fs::remove_dir_all(root).unwrap();
}

/// Bytes that are not UTF-8 are named by offset, line and column, with the
/// fix; nesting far deeper than any release file is refused at once.
#[test]
fn bad_bytes_and_deep_nesting_in_a_release_file_are_refused_clearly() {
    let root = rendered("guarantee-bytes");
    let before = snapshot(&root);
    let mut bytes = read(&root, "releases/dev.yaml").into_bytes();
    let at = bytes.windows(6).position(|w| w == b"images").unwrap();
    bytes.insert(at + 2, 0xff);
    fs::write(root.join("releases/dev.yaml"), &bytes).unwrap();
    let out = xtask(&root, &["render"]);
    assert_eq!(out.status.code(), Some(1));
    let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
    let want = format!(
        "releases/dev.yaml: byte {} (line {line}, column 3) is not valid UTF-8; save the file as UTF-8 text",
        at + 2
    );
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));

    let deep = format!("images: {}{}\n", "[".repeat(200_000), "]".repeat(200_000));
    fs::write(root.join("releases/dev.yaml"), deep).unwrap();
    let started = Instant::now();
    let out = xtask(&root, &["render", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20), "refused at once, not after a quadratic parse");
    assert!(stderr(&out).contains("releases/dev.yaml:1:"), "{}", stderr(&out));
    assert!(stderr(&out).contains("nested more than 64 levels deep"), "{}", stderr(&out));
    let huge = format!("images: {{}}\n#{}\n", "x".repeat(2 << 20));
    fs::write(root.join("releases/dev.yaml"), huge).unwrap();
    let out = xtask(&root, &["render", "--check"]);
    assert!(stderr(&out).contains("is larger than 1048576 bytes"), "{}", stderr(&out));
    assert_eq!(snapshot(&root).1, before.1, "deploy/ untouched");
    fs::remove_dir_all(root).unwrap();
}

/// `deploy` as a link, or a link inside it: one answer from every command
/// that reads or writes the tree, naming the link.
#[test]
fn links_in_the_tree_get_one_answer_from_every_command() {
    let root = rendered("guarantee-deploy-link");
    let real = root.with_extension("real-deploy");
    let _ = fs::remove_dir_all(&real);
    fs::rename(root.join("deploy"), &real).unwrap();
    std::os::unix::fs::symlink(&real, root.join("deploy")).unwrap();
    let commands: [&[&str]; 4] = [
        &["render"],
        &["render", "--check"],
        &["diff"],
        &["set-image", "--env", "dev", "--all", "--tag", "sha-1234567"],
    ];
    for args in commands {
        let out = xtask(&root, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains(&format!("{} is a symbolic link", root.join("deploy").display())),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    fs::remove_file(root.join("deploy")).unwrap();
    fs::rename(&real, root.join("deploy")).unwrap();
    let dev = root.join("deploy/dev");
    fs::rename(&dev, &real).unwrap();
    std::os::unix::fs::symlink(&real, &dev).unwrap();
    for args in commands {
        let out = xtask(&root, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains(&format!("{} is a symbolic link", dev.display())),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(fs::symlink_metadata(&dev).unwrap().is_symlink(), "the link is left alone");
    fs::remove_dir_all(real).unwrap();
    fs::remove_dir_all(root).unwrap();
}
