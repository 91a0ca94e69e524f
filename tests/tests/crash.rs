//! Crash safety with a real process: a render killed (SIGKILL) at any
//! moment leaves the destination as the old tree or the new one, whole,
//! and the next render cleans up after it. (Injected write failures are
//! tested in gitops-tree's disk module.)

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gitops_tree::Tree;
use gitops_tree::disk::read_tree;

const SERVICES: &str = "300";

fn render(out: &Path, tag: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_render-large")).arg(out).arg(SERVICES).arg(tag).spawn().unwrap()
}

fn finish(out: &Path, tag: &str) -> Duration {
    let start = Instant::now();
    assert!(render(out, tag).wait().unwrap().success());
    start.elapsed()
}

#[test]
fn a_render_killed_at_any_moment_leaves_one_whole_tree() {
    let scratch = std::env::temp_dir().join(format!("crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let dest = scratch.join("deploy");
    let (tag_a, tag_b) = ("sha-aaaaaaa", "sha-bbbbbbb");

    // The two complete trees a render may leave behind.
    let full = finish(&scratch.join("b"), tag_b);
    let tree_b = read_tree(&scratch.join("b")).unwrap();
    finish(&dest, tag_a);
    let tree_a = read_tree(&dest).unwrap();
    assert_ne!(tree_a, tree_b);
    assert!(tree_a.len() > 1500, "large enough to be killed mid-write: {} files", tree_a.len());

    let which = |t: &Tree| {
        if *t == tree_a {
            "old"
        } else if *t == tree_b {
            "new"
        } else {
            "a mix"
        }
    };
    let mut seen = Vec::new();
    let mut current = tag_a;
    for step in 0..8u32 {
        let next = if current == tag_a { tag_b } else { tag_a };
        let mut child = render(&dest, next);
        std::thread::sleep(full * step / 8);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let after = read_tree(&dest).unwrap();
        let state = which(&after);
        assert_ne!(state, "a mix", "step {step}: killed render left a partial tree");
        if state == if next == tag_a { "old" } else { "new" } {
            current = next;
        }
        seen.push((step, status.success(), state));
    }
    // A complete render afterwards leaves no staging directory behind.
    finish(&dest, tag_b);
    assert_eq!(read_tree(&dest).unwrap(), tree_b);
    let left: Vec<_> = std::fs::read_dir(&scratch).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "only deploy/ and b/ remain: {left:?} after {seen:?}");
    assert!(seen.iter().any(|(_, finished, _)| !finished), "at least one render was really killed: {seen:?}");
    std::fs::remove_dir_all(&scratch).unwrap();
}
