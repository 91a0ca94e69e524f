//! Unified diffs between the tree on disk and the rendered one, in the form
//! `git diff` prints, for people to read before they commit.

use similar::TextDiff;

use crate::disk::{Drift, compare};
use crate::tree::Tree;

/// Lines of context around each change, as `git diff` and `diff -u` use.
const CONTEXT: usize = 3;

/// The unified diff from `on_disk` to `rendered`, file by file in path order;
/// empty when they are equal. Paths are shown below `dir` (`deploy`), with
/// `a/` for the disk and `b/` for the render; a file only on one side is
/// compared with `/dev/null`.
pub fn unified(on_disk: &Tree, rendered: &Tree, dir: &str) -> String {
    let mut drift = compare(rendered, on_disk);
    drift.sort_by(|a, b| path(a).cmp(path(b)));
    let mut out = String::new();
    for d in &drift {
        let path = path(d);
        let text = |tree: &Tree| String::from_utf8_lossy(tree.get(path).unwrap_or_default()).into_owned();
        let (old, new) = (text(on_disk), text(rendered));
        let (a, b) = match d {
            Drift::Changed(_) => (format!("a/{dir}/{path}"), format!("b/{dir}/{path}")),
            Drift::Missing(_) => ("/dev/null".to_owned(), format!("b/{dir}/{path}")),
            Drift::Extra(_) => (format!("a/{dir}/{path}"), "/dev/null".to_owned()),
        };
        let diff = TextDiff::from_lines(&old, &new);
        out.push_str(&diff.unified_diff().context_radius(CONTEXT).header(&a, &b).to_string());
    }
    out
}

fn path(d: &Drift) -> &str {
    match d {
        Drift::Changed(p) | Drift::Missing(p) | Drift::Extra(p) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn tree(files: &[(&str, &str)]) -> Tree {
        files.iter().copied().collect()
    }

    #[test]
    fn equal_trees_have_an_empty_diff() {
        let t = tree(&[("dev/a.yaml", "a: 1\n")]);
        assert_eq!(unified(&t, &t, "deploy"), "");
    }

    #[test]
    fn changed_added_and_removed_files_in_path_order() {
        let disk = tree(&[
            ("dev/a.yaml", "kind: A\nimage: x:sha-1111111\nreplicas: 1\n"),
            ("dev/z.yaml", "gone: true\n"),
        ]);
        let rendered = tree(&[
            ("dev/a.yaml", "kind: A\nimage: x:sha-2222222\nreplicas: 1\n"),
            ("dev/b.yaml", "new: true\n"),
        ]);
        assert_eq!(
            unified(&disk, &rendered, "deploy"),
            "\
--- a/deploy/dev/a.yaml
+++ b/deploy/dev/a.yaml
@@ -1,3 +1,3 @@
 kind: A
-image: x:sha-1111111
+image: x:sha-2222222
 replicas: 1
--- /dev/null
+++ b/deploy/dev/b.yaml
@@ -0,0 +1 @@
+new: true
--- a/deploy/dev/z.yaml
+++ /dev/null
@@ -1 +0,0 @@
-gone: true
"
        );
    }
}
