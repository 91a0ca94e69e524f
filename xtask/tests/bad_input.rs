//! The bad-input suite: one case per mistake a user makes in the files
//! `cargo xtask render` reads. Each must exit 1 with a message naming the
//! file, the place and the fix, and leave `deploy/` byte-for-byte as it was.
//! (Mistakes in the Rust definitions are in tests/tests/bad_input.rs.)

mod common;

use std::fs;
use std::path::Path;

use common::{scratch, stderr, xtask};
use gitops_tree::disk::read_tree;

/// 1-based number of the first line of `text` that satisfies `pred` (from the `nth` match).
fn line_of(text: &str, nth: usize, pred: impl Fn(&str) -> bool) -> usize {
    text.lines().enumerate().filter(|(_, l)| pred(l)).nth(nth).map(|(i, _)| i + 1).expect("line exists")
}

/// The last `tag:` line of dev.yaml is web's.
fn web_tag_line(text: &str) -> usize {
    text.lines().enumerate().filter(|(_, l)| l.trim_start().starts_with("tag:")).last().unwrap().0 + 1
}

/// `text` with the value of web's `tag:` line (the last one) replaced; the
/// lines after it (its digest) stay.
fn set_web_tag(text: &str, tag: &str) -> String {
    let n = web_tag_line(text) - 1;
    text.lines()
        .enumerate()
        .map(|(i, l)| if i == n { format!("    tag: {tag}\n") } else { format!("{l}\n") })
        .collect()
}

struct Case {
    name: &'static str,
    /// Changes the scratch root; returns the substrings stderr must contain.
    apply: fn(&Path, &str) -> Vec<String>,
}

const DEV: &str = "releases/dev.yaml";

fn write_dev(root: &Path, text: String) {
    fs::write(root.join(DEV), text).unwrap();
}

/// Sets web's tag in dev to `tag`; the error must name its line, `problem` and the rule.
fn tag_case(root: &Path, text: &str, tag: &str, problem: &str) -> Vec<String> {
    write_dev(root, set_web_tag(text, tag));
    vec![
        format!("{DEV}:{}:", web_tag_line(text)),
        problem.to_owned(),
        "tags are `sha-` followed by 7 to 40 lowercase hex digits".into(),
    ]
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "YAML syntax error",
            apply: |root, text| {
                write_dev(root, text.replacen("images:", "images: [", 1));
                vec![format!("{DEV}:"), "a release file is `images:`".into()]
            },
        },
        Case {
            name: "unknown top-level key",
            apply: |root, text| {
                write_dev(root, text.replacen("images:", "imgs:", 1));
                vec![
                    format!("{DEV}:{}:", line_of(text, 0, |l| l.starts_with("images:"))),
                    "unknown key `imgs`; a release file has only `images:`".into(),
                ]
            },
        },
        Case {
            name: "unknown key in a pin",
            apply: |root, text| {
                write_dev(root, text.replacen("    tag:", "    tga:", 1));
                vec![
                    format!("{DEV}:"),
                    "unknown field `tga`, expected `tag`".into(),
                    "indented `tag: sha-<hex>`".into(),
                ]
            },
        },
        Case {
            name: "wrong type",
            apply: |root, text| {
                write_dev(root, set_web_tag(text, "[sha-1234567]"));
                vec![
                    format!("{DEV}:{}:", web_tag_line(text)),
                    "invalid type: sequence, expected a string".into(),
                ]
            },
        },
        Case {
            name: "a tag YAML reads as a number",
            apply: |root, text| {
                write_dev(root, set_web_tag(text, "1234567"));
                vec![
                    format!("{DEV}:{}:", web_tag_line(text)),
                    "`1234567` is not an immutable git SHA tag".into(),
                ]
            },
        },
        Case {
            name: "unknown service",
            apply: |root, text| {
                write_dev(root, text.replacen("  web:", "  wbe:", 1));
                vec![format!("{DEV}:{}:", line_of(text, 0, |l| l == "  web:")), "unknown service `wbe`; the platform's services are: identity, scheduling, profiles, notifications, web".into()]
            },
        },
        Case {
            name: "missing service",
            apply: |root, text| {
                let cut = text.find("  web:").unwrap();
                write_dev(root, text[..cut].to_owned());
                vec![
                    format!("{DEV}:"),
                    "no tag for `web`; every service needs `<service>: {tag: sha-…}` under `images:`".into(),
                ]
            },
        },
        Case {
            name: "service pinned twice",
            apply: |root, text| {
                write_dev(root, format!("{text}  web:\n    tag: sha-1234567\n"));
                vec![
                    format!("{DEV}:{}:", text.lines().count() + 1),
                    "service `web` is pinned twice; keep one entry".into(),
                ]
            },
        },
        Case {
            name: "tag latest",
            apply: |root, text| tag_case(root, text, "latest", "`latest` is a floating tag"),
        },
        Case {
            name: "tag dev-latest",
            apply: |root, text| tag_case(root, text, "dev-latest", "`dev-latest` is a floating tag"),
        },
        Case {
            name: "tag staging-latest",
            apply: |root, text| tag_case(root, text, "staging-latest", "`staging-latest` is a floating tag"),
        },
        Case {
            name: "tag prod-latest",
            apply: |root, text| tag_case(root, text, "prod-latest", "`prod-latest` is a floating tag"),
        },
        Case { name: "empty tag", apply: |root, text| tag_case(root, text, "''", "the image tag is empty") },
        Case {
            name: "not a SHA tag",
            apply: |root, text| tag_case(root, text, "v1.2.3", "`v1.2.3` is not an immutable git SHA tag"),
        },
        Case {
            name: "SHA too short",
            apply: |root, text| tag_case(root, text, "sha-12345", "fewer than 7 hex digits"),
        },
        Case {
            name: "SHA too long",
            apply: |root, text| {
                tag_case(
                    root,
                    text,
                    "sha-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "more than 40 hex digits",
                )
            },
        },
        Case {
            name: "uppercase SHA",
            apply: |root, text| {
                tag_case(root, text, "sha-ABCDEF1", "characters other than lowercase hex digits")
            },
        },
        Case {
            name: "empty release file",
            apply: |root, _| {
                write_dev(root, String::new());
                vec![format!("{DEV}: the file is empty; list every service under `images:`")]
            },
        },
        Case {
            name: "two documents in one release file",
            apply: |root, text| {
                write_dev(root, format!("{text}---\n{text}"));
                vec![format!("{DEV}:"), "more than one document".into()]
            },
        },
        Case {
            name: "missing release file",
            apply: |root, _| {
                fs::remove_file(root.join("releases/prod.yaml")).unwrap();
                vec![
                    "releases/prod.yaml: the release file does not exist; create it".into(),
                    "create it with an `images:` entry for every service".into(),
                ]
            },
        },
        Case {
            name: "unknown environment",
            apply: |root, text| {
                fs::write(root.join("releases/qa.yaml"), text).unwrap();
                vec!["releases/qa.yaml: there is no environment `qa`; the environments are dev, staging, prod; rename or remove the file".into()]
            },
        },
        Case {
            name: "Rego policy that does not parse",
            apply: |root, _| {
                fs::create_dir_all(root.join("policies")).unwrap();
                fs::write(
                    root.join("policies/team.rego"),
                    "package team\n\ndeny[msg] {\n\tmsg := \"x\"\n}\n",
                )
                .unwrap();
                vec!["policies/team.rego:3:".into(), "`if` keyword is required".into(), "fix the Rego".into()]
            },
        },
        Case {
            name: "Rego policy with a syntax error",
            apply: |root, _| {
                fs::create_dir_all(root.join("policies")).unwrap();
                fs::write(
                    root.join("policies/team.rego"),
                    "package team\n\ndeny contains msg if {\n\tmsg :=\n}\n",
                )
                .unwrap();
                vec!["policies/team.rego:4:".into(), "fix the Rego".into()]
            },
        },
    ]
}

#[test]
fn every_bad_input_fails_clearly_and_writes_nothing() {
    let cases = cases();
    assert!(cases.len() >= 20, "the suite covers at least twenty mistakes");
    let root = scratch("bad-input");
    assert!(xtask(&root, &["render"]).status.success());
    let deploy = root.join("deploy");
    let before = read_tree(&deploy).unwrap();
    let pristine: Vec<(String, String)> = ["dev", "staging", "prod"]
        .iter()
        .map(|env| {
            let rel = format!("releases/{env}.yaml");
            let text = fs::read_to_string(root.join(&rel)).unwrap();
            (rel, text)
        })
        .collect();
    let dev_text = pristine[0].1.clone();
    for case in cases {
        let expected = (case.apply)(&root, &dev_text);
        let out = xtask(&root, &["render"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", case.name);
        for want in &expected {
            assert!(err.contains(want.as_str()), "{}: expected `{want}` in:\n{err}", case.name);
        }
        assert!(err.contains("nothing was written"), "{}", case.name);
        assert_eq!(read_tree(&deploy).unwrap(), before, "{}: deploy/ changed", case.name);
        // Restore the inputs for the next case.
        for (rel, text) in &pristine {
            fs::write(root.join(rel), text).unwrap();
        }
        let _ = fs::remove_file(root.join("releases/qa.yaml"));
        let _ = fs::remove_dir_all(root.join("policies"));
        assert!(xtask(&root, &["render", "--check"]).status.success(), "{}: inputs restored", case.name);
    }
    fs::remove_dir_all(root).unwrap();
}
