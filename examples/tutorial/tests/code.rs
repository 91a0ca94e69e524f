//! The tutorial's code is this crate: every block of docs/tutorial.md that
//! shows a file is that file, or a region of it (`// region: NAME` …
//! `// endregion`), byte for byte; every block is checked by a test; and
//! every line of `src/` is shown somewhere.

mod common;

use std::collections::BTreeSet;

use common::{Block, blocks, repository, tutorial};

fn read(path: &str) -> String {
    let full = repository().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn is_region_start(line: &str, name: &str) -> bool {
    let line = line.trim();
    [format!("// region: {name}"), format!("# region: {name}")].iter().any(|m| line == m)
}

fn is_region_end(line: &str) -> bool {
    matches!(line.trim(), "// endregion" | "# endregion")
}

/// The lines strictly between `region: name` and the next `endregion`.
fn region(text: &str, name: &str) -> Option<String> {
    let mut lines = text.lines().skip_while(|l| !is_region_start(l, name));
    lines.next()?;
    let mut out = String::new();
    for line in lines {
        if is_region_end(line) {
            return Some(out);
        }
        out.push_str(line);
        out.push('\n');
    }
    None
}

/// `PATH` or `PATH region: NAME`, as a `file:` marker says.
fn target(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(" region:") {
        Some((path, name)) => (path.trim(), Some(name.trim())),
        None => (spec.trim(), None),
    }
}

/// Where two texts first differ, for a failure message.
fn first_difference(shown: &str, actual: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (shown.lines().collect(), actual.lines().collect());
    let i = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    format!(
        "first difference at line {} of the block:\n  tutorial: {:?}\n  source:   {:?}",
        i + 1,
        a.get(i).copied().unwrap_or("<end>"),
        b.get(i).copied().unwrap_or("<end>")
    )
}

fn file_blocks() -> Vec<(Block, String, Option<String>)> {
    blocks(&tutorial())
        .into_iter()
        .filter_map(|b| {
            let (path, name) = target(b.marked("file")?);
            let (path, name) = (path.to_owned(), name.map(str::to_owned));
            Some((b, path, name))
        })
        .collect()
}

#[test]
fn every_block_that_shows_a_file_is_that_file() {
    let mut errors = Vec::new();
    for (block, path, name) in file_blocks() {
        let text = read(&path);
        let (expected, what) = match &name {
            None => (Some(text), path.clone()),
            Some(name) => (region(&text, name), format!("{path}, region `{name}`")),
        };
        match expected {
            None => errors.push(format!("{}: {what} does not exist", block.at())),
            Some(expected) if expected != block.body => errors.push(format!(
                "{}: is not {what}; copy the source into the block\n{}",
                block.at(),
                first_difference(&block.body, &expected)
            )),
            Some(_) => {}
        }
    }
    assert!(errors.is_empty(), "\n{}", errors.join("\n\n"));
}

#[test]
fn every_block_is_checked_by_a_test() {
    let mut errors = Vec::new();
    for block in blocks(&tutorial()) {
        let (kind, checked_by) = match block.lang.as_str() {
            "rust" | "toml" | "yaml" => ("file", "this file's tests"),
            "console" => ("output", "tests/commands.rs, which runs it"),
            "text" => ("tree", "tests/commands.rs, against the rendered tree"),
            "diff" => ("diff", "this file's tests"),
            other => {
                errors.push(format!("{}: a ```{other} block no test checks", block.at()));
                continue;
            }
        };
        if block.marked(kind).is_none() {
            errors.push(format!(
                "{}: needs `<!-- {kind}: … -->` on the line before its fence ({checked_by} check it)",
                block.at()
            ));
        }
    }
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

/// Every line of the crate's sources reaches the reader: `main.rs` and the
/// release files whole, the manifest but for its test section, and
/// `lib.rs` region by region (outside them, only its `//!` header).
#[test]
fn every_line_of_the_crate_is_shown() {
    let shown: BTreeSet<(String, Option<String>)> =
        file_blocks().into_iter().map(|(_, path, name)| (path, name)).collect();
    for whole in ["examples/tutorial/src/main.rs", "examples/tutorial/releases/dev.yaml"] {
        assert!(shown.contains(&(whole.to_owned(), None)), "the tutorial does not show {whole}");
    }
    let manifest = ("examples/tutorial/Cargo.toml".to_owned(), Some("crate".to_owned()));
    assert!(shown.contains(&manifest), "the tutorial does not show the manifest");
    let rest = read(&manifest.0).split("# endregion\n").nth(1).unwrap().to_owned();
    assert!(!rest.contains("[dependencies]") && !rest.contains("[package]"), "{rest}");
    let lib = "examples/tutorial/src/lib.rs";
    let mut inside = false;
    for (i, line) in read(lib).lines().enumerate() {
        if let Some(name) = line.trim().strip_prefix("// region: ") {
            assert!(
                shown.contains(&(lib.to_owned(), Some(name.to_owned()))),
                "{lib}:{}: region `{name}` is not shown in the tutorial",
                i + 1
            );
            inside = true;
        } else if is_region_end(line) {
            inside = false;
        } else {
            assert!(
                inside || line.is_empty() || line.starts_with("//!"),
                "{lib}:{}: outside every region the tutorial shows: {line:?}",
                i + 1
            );
        }
    }
}

/// The mistake is shown as a diff of `lib.rs`: its context and removed
/// lines are a piece of the file, and it removes exactly the worker's
/// command, which is what the mistaken binary of tests/commands.rs removes.
#[test]
fn the_mistake_is_the_workers_command_deleted() {
    let diffs: Vec<Block> = blocks(&tutorial()).into_iter().filter(|b| b.marked("diff").is_some()).collect();
    assert_eq!(diffs.len(), 1, "one mistake is shown");
    let block = &diffs[0];
    let path = block.marked("diff").unwrap();
    let (mut before, mut removed, mut added) = (String::new(), Vec::new(), Vec::new());
    for line in block.body.lines() {
        let (sign, rest) = line.split_at(1.min(line.len()));
        match sign {
            " " | "" => before.push_str(&format!("{rest}\n")),
            "-" => {
                before.push_str(&format!("{rest}\n"));
                removed.push(rest.to_owned());
            }
            "+" => added.push(rest.to_owned()),
            _ => panic!("{}: {line:?} is not a line of a diff", block.at()),
        }
    }
    let source = read(path);
    assert_eq!(source.matches(&before).count(), 1, "{}: is not a piece of {path}:\n{before}", block.at());
    assert_eq!(removed, [r#"                .command(["/app/orders", "consume"])"#], "{}", block.at());
    assert!(added.is_empty(), "{}: adds {added:?}", block.at());
}
