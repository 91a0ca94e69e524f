//! Changes to a release file that keep it as people wrote it.
//!
//! A release file is edited by hand, by CI and by `cargo xtask`; its comments,
//! its order and its layout belong to the people who read it. So a new tag is
//! a targeted edit of that service's `tag:` line, and the result is parsed
//! again and compared with the intended pins: an edit that would change
//! anything else is refused instead of written.

use std::fmt::Write as _;
use std::ops::Range;

use super::{Pin, ReleaseError, ReleasePins};
use crate::image::ImageTag;
use crate::name::Name;

/// The comment that points YAML editors (the yaml-language-server behind the
/// VS Code, Neovim, Helix and JetBrains YAML support) at a JSON Schema.
pub const SCHEMA_DIRECTIVE: &str = "# yaml-language-server: $schema=";

/// `text` whose first line is the schema directive for `schema_url`: an
/// existing directive on the first line is replaced, otherwise one is added.
pub fn with_schema_directive(text: &str, schema_url: &str) -> String {
    let rest = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with(SCHEMA_DIRECTIVE) => rest,
        None if text.starts_with(SCHEMA_DIRECTIVE) => "",
        _ => text,
    };
    format!("{SCHEMA_DIRECTIVE}{schema_url}\n{rest}")
}

/// `pins` with `changes` applied: what an edit must produce.
fn expected(pins: &ReleasePins, changes: &[(Name, Pin)], file: &str) -> Result<ReleasePins, ReleaseError> {
    let mut want = pins.clone();
    for (service, new) in changes {
        let Some(pin) = want.images.get_mut(service) else {
            let known: Vec<&str> = pins.images.keys().map(Name::as_str).collect();
            return Err(ReleaseError {
                file: file.into(),
                line: None,
                column: None,
                message: format!("unknown service `{service}`; the file pins: {}", known.join(", ")),
            });
        };
        *pin = new.clone();
    }
    Ok(want)
}

/// Sets the pin (tag, and digest or none) of each service in `changes` in
/// the release file `text`, read from `file`, for a platform whose services
/// are `services`. Returns the new text and its pins; everything but those
/// lines is kept byte for byte. A pin without a digest removes the old
/// digest line: it belonged to the old tag.
///
/// The file must parse before the edit, and each tag must sit on a block
/// `tag:` line under its service (the layout `cargo xtask` and CI write).
pub fn set_pins(
    file: &str,
    text: &str,
    services: &[Name],
    changes: &[(Name, Pin)],
) -> Result<(String, ReleasePins), ReleaseError> {
    set_pins_for(file, text, services, changes, crate::image::TagRule::GitSha)
}

/// [`set_pins`] for a platform whose tags follow `rule`.
pub fn set_pins_for(
    file: &str,
    text: &str,
    services: &[Name],
    changes: &[(Name, Pin)],
    rule: crate::image::TagRule,
) -> Result<(String, ReleasePins), ReleaseError> {
    let old = ReleasePins::parse_for(file, text, services, rule)?;
    let want = expected(&old, changes, file)?;
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for (service, pin) in changes {
        let lines = pin_lines(text, service.as_str()).map_err(|line| ReleaseError {
            file: file.into(),
            line,
            column: None,
            message: format!(
                "cannot find the `tag:` line of `{service}` to edit in place; write the pin as two lines, \
                 `{service}:` and below it `tag: {}`, under `images:`",
                old.tag(service).map(ImageTag::as_str).unwrap_or("sha-…")
            ),
        })?;
        edits.push((lines.tag, pin.tag.to_string()));
        match (&lines.digest, &pin.digest) {
            (Some(digest), Some(new)) => edits.push((digest.value.clone(), new.to_string())),
            (Some(digest), None) => edits.push((digest.line.clone(), String::new())),
            (None, Some(new)) => {
                let line = format!("{}digest: {new}{}", " ".repeat(lines.indent), lines.newline);
                edits.push((lines.tag_line_end..lines.tag_line_end, line));
            }
            (None, None) => {}
        }
    }
    // Replace from the end, so the earlier byte ranges stay valid.
    edits.sort_by_key(|(span, _)| std::cmp::Reverse((span.start, span.end)));
    let mut new_text = text.to_owned();
    for (span, replacement) in edits {
        new_text.replace_range(span, &replacement);
    }
    let new = ReleasePins::parse_for(file, &new_text, services, rule)?;
    if new != want {
        return Err(ReleaseError {
            file: file.into(),
            line: None,
            column: None,
            message: "editing the pins in place would change other pins; set them by hand".into(),
        });
    }
    Ok((new_text, new))
}

/// [`set_pins`] with tags only, for git SHA tags: each changed service's
/// `digest:` line, if it has one, is removed with its old tag.
pub fn set_tags(
    file: &str,
    text: &str,
    services: &[Name],
    tags: &[(Name, ImageTag)],
) -> Result<(String, ReleasePins), ReleaseError> {
    let changes: Vec<(Name, Pin)> = tags.iter().map(|(s, t)| (s.clone(), Pin::tag(t.clone()))).collect();
    set_pins(file, text, services, &changes)
}

/// A line's indentation, and its key when it is a `key:` line.
fn key_of(line: &str) -> (usize, Option<&str>) {
    let trimmed = line.trim_start_matches(' ');
    let indent = line.len() - trimmed.len();
    if trimmed.trim().is_empty() || trimmed.starts_with('#') {
        return (indent, None);
    }
    let key = trimmed.split_once(':').map(|(k, _)| k.trim().trim_matches(['"', '\'']));
    (indent, key)
}

/// Where one service's pin sits in the text.
struct PinLines {
    /// The tag's value, quotes included, comment excluded.
    tag: Range<usize>,
    /// Where the line after the `tag:` line starts, and that line's
    /// indentation and line ending, for inserting a `digest:` line.
    tag_line_end: usize,
    indent: usize,
    newline: &'static str,
    digest: Option<DigestLine>,
}

struct DigestLine {
    /// The whole line, line ending included.
    line: Range<usize>,
    value: Range<usize>,
}

/// The byte range of a scalar value after `key:` on `line` (which starts at
/// `start` in the text): quotes included, a trailing comment excluded.
/// `None` for a flow or block value.
fn scalar_value(line: &str, start: usize) -> Option<Range<usize>> {
    let colon = line.find(':')?;
    let after = &line[colon + 1..];
    let value = after.trim_start();
    let value_start = colon + 1 + (after.len() - value.len());
    // A quoted value ends at its closing quote, a plain one at the first
    // blank (tags and digests hold none); a comment may follow.
    let len = match value.chars().next() {
        Some(q @ ('"' | '\'')) => value[1..].find(q).map(|end| end + 2),
        Some('{' | '[' | '|' | '>') | None => None,
        Some(_) => Some(value.find(char::is_whitespace).unwrap_or(value.len())),
    }?;
    Some(start + value_start..start + value_start + len)
}

/// The lines of `service`'s pin in `text`. Without a block `tag:` line, the
/// 1-based line of the service's key if it was found.
fn pin_lines(text: &str, service: &str) -> Result<PinLines, Option<usize>> {
    let mut in_images = false;
    // The indentation of the service keys below `images:`.
    let mut services_indent = None;
    // The indentation of the service's key while inside its block.
    let mut current: Option<usize> = None;
    let mut service_line = None;
    let mut found: Option<PinLines> = None;
    let mut digest = None;
    let mut offset = 0;
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let (indent, Some(key)) = key_of(line) else { continue };
        if indent == 0 {
            in_images = key == "images";
            current = None;
            continue;
        }
        if !in_images {
            continue;
        }
        let services_indent = *services_indent.get_or_insert(indent);
        match current {
            Some(service_indent) if indent > service_indent && key == "tag" => {
                let Some(tag) = scalar_value(line, start) else { return Err(service_line) };
                let newline = if raw.ends_with("\r\n") { "\r\n" } else { "\n" };
                found = Some(PinLines { tag, tag_line_end: offset, indent, newline, digest: None });
            }
            Some(service_indent) if indent > service_indent && key == "digest" => {
                let Some(value) = scalar_value(line, start) else { return Err(service_line) };
                digest = Some(DigestLine { line: start..offset, value });
            }
            _ if indent == services_indent && key == service => {
                current = Some(indent);
                service_line = Some(n + 1);
            }
            _ if indent <= services_indent => {
                if found.is_some() {
                    break;
                }
                current = None;
            }
            _ => {}
        }
    }
    match found {
        Some(lines) => Ok(PinLines { digest, ..lines }),
        None => Err(service_line),
    }
}

/// One service whose pin an edit changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinChange {
    /// The service.
    pub service: Name,
    /// Its pin before.
    pub old: Pin,
    /// Its pin after.
    pub new: Pin,
}

/// Every service pinned in both `old` and `new` whose pin differs, in `new`'s
/// order; a service pinned in only one of them is not listed.
pub fn changes(old: &ReleasePins, new: &ReleasePins) -> Vec<PinChange> {
    new.images
        .iter()
        .filter_map(|(service, pin)| {
            let before = old.pin(service)?;
            (before != pin).then(|| PinChange {
                service: service.clone(),
                old: before.clone(),
                new: pin.clone(),
            })
        })
        .collect()
}

/// `changes` as a Markdown table (service, old tag, new tag), aligned so it
/// reads in a terminal and renders in a pull request. A tag cell shows the
/// whole pin: the tag, and `@digest` when it has one.
pub fn summary_table(changes: &[PinChange]) -> String {
    let cells: Vec<[String; 3]> = changes
        .iter()
        .map(|c| [c.service.to_string(), format!("`{}`", c.old), format!("`{}`", c.new)])
        .collect();
    let header = ["service", "old tag", "new tag"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut row = |cells: &[String; 3]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "| {} |", padded.join(" | "));
    };
    row(&header);
    row(&widths.map(|w| "-".repeat(w)));
    for cells in &cells {
        row(cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name;

    const SERVICES: [Name; 3] = [name!("identity"), name!("web"), name!("tag")];

    const FILE: &str = "\
# yaml-language-server: $schema=../schemas/release.schema.json
# Image tags of dev.
images:
  # The API.
  identity:
    tag: sha-1111111\t# built by Jenkins
  web:
    # Next.js
    tag: \"sha-2222222\"
  tag:
    tag: 'sha-3333333' # single quotes
";

    fn tag(s: &str) -> ImageTag {
        ImageTag::new(s).unwrap()
    }

    fn set(text: &str, tags: &[(Name, &str)]) -> Result<(String, ReleasePins), ReleaseError> {
        let tags: Vec<_> = tags.iter().map(|(s, t)| (s.clone(), tag(t))).collect();
        set_tags("releases/dev.yaml", text, &SERVICES, &tags)
    }

    #[test]
    fn only_the_tag_changes_and_comments_stay() {
        let (text, pins) = set(FILE, &[(name!("identity"), "sha-abcdef0")]).unwrap();
        assert_eq!(text, FILE.replace("sha-1111111", "sha-abcdef0"));
        assert_eq!(pins.tag(&name!("identity")), Some(&tag("sha-abcdef0")));
        assert_eq!(pins.tag(&name!("web")), Some(&tag("sha-2222222")));
    }

    #[test]
    fn quoted_tags_and_a_service_named_like_the_key_are_edited() {
        let (text, _) =
            set(FILE, &[(name!("web"), "sha-abcdef0"), (name!("tag"), "sha-0000000abc")]).unwrap();
        let want = FILE.replace("\"sha-2222222\"", "sha-abcdef0").replace("'sha-3333333'", "sha-0000000abc");
        assert_eq!(text, want);
    }

    #[test]
    fn crlf_line_endings_are_kept() {
        let crlf = FILE.replace('\n', "\r\n");
        let (text, _) = set(&crlf, &[(name!("identity"), "sha-abcdef0")]).unwrap();
        assert_eq!(text, crlf.replace("sha-1111111", "sha-abcdef0"));
    }

    #[test]
    fn a_flow_style_pin_is_refused_with_its_line() {
        let text = "images:\n  identity: {tag: sha-1111111}\n  web:\n    tag: sha-2222222\n  tag:\n    tag: sha-3333333\n";
        let err = set(text, &[(name!("identity"), "sha-abcdef0")]).unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("write the pin as two lines"), "{err}");
        // The other pins are still editable.
        assert!(set(text, &[(name!("web"), "sha-abcdef0")]).is_ok());
    }

    #[test]
    fn a_broken_file_or_an_unknown_service_is_refused() {
        let err = set("images: [\n", &[(name!("identity"), "sha-abcdef0")]).unwrap_err();
        assert!(err.line.is_some(), "{err}");
        let err = ReleasePins::parse("f", FILE, &SERVICES)
            .and_then(|pins| expected(&pins, &[(name!("nope"), Pin::tag(tag("sha-abcdef0")))], "f"))
            .unwrap_err();
        assert!(err.message.contains("unknown service `nope`; the file pins: identity, web, tag"), "{err}");
    }

    fn digest(hex: char) -> crate::image::ImageDigest {
        crate::image::ImageDigest::new(format!("sha256:{}", hex.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn a_digest_is_added_replaced_and_removed_beside_its_tag() {
        let pin = |t: &str, d: Option<char>| Pin { tag: tag(t), digest: d.map(digest) };
        let file = "releases/prod.yaml";
        let (added, pins) =
            set_pins(file, FILE, &SERVICES, &[(name!("identity"), pin("sha-abcdef0", Some('a')))]).unwrap();
        let line = format!("    tag: sha-abcdef0\t# built by Jenkins\n    digest: {}\n", digest('a'));
        assert!(added.contains(&line), "{added}");
        assert_eq!(pins.pin(&name!("identity")).unwrap().digest, Some(digest('a')));

        let (replaced, _) =
            set_pins(file, &added, &SERVICES, &[(name!("identity"), pin("sha-abcdef1", Some('b')))]).unwrap();
        assert_eq!(
            replaced,
            added.replace("sha-abcdef0", "sha-abcdef1").replace(digest('a').as_str(), digest('b').as_str())
        );

        // A new tag without a digest drops the old tag's digest.
        let (removed, pins) =
            set_pins(file, &replaced, &SERVICES, &[(name!("identity"), pin("sha-abcdef2", None))]).unwrap();
        assert_eq!(removed, FILE.replace("sha-1111111", "sha-abcdef2"));
        assert_eq!(pins.pin(&name!("identity")).unwrap().digest, None);

        // CRLF files get a CRLF digest line.
        let crlf = FILE.replace('\n', "\r\n");
        let (text, _) =
            set_pins(file, &crlf, &SERVICES, &[(name!("web"), pin("sha-abcdef0", Some('c')))]).unwrap();
        assert!(
            text.contains(&format!("    tag: sha-abcdef0\r\n    digest: {}\r\n", digest('c'))),
            "{text:?}"
        );
    }

    #[test]
    fn the_schema_directive_is_added_or_replaced() {
        let url = "../schemas/release.schema.json";
        assert_eq!(with_schema_directive(FILE, url), FILE);
        let bare = FILE.split_once('\n').unwrap().1;
        assert_eq!(with_schema_directive(bare, url), FILE);
        let old = FILE.replace("../schemas/release", "./old");
        assert_eq!(with_schema_directive(&old, url), FILE);
        assert_eq!(with_schema_directive("", "x.json"), format!("{SCHEMA_DIRECTIVE}x.json\n"));
    }

    #[test]
    fn changes_are_listed_in_file_order_and_tabled() {
        let old = ReleasePins::parse("f", FILE, &SERVICES).unwrap();
        let (_, new) =
            set(FILE, &[(name!("tag"), "sha-abcdef0"), (name!("identity"), "sha-1111111")]).unwrap();
        let changes = changes(&old, &new);
        assert_eq!(
            changes,
            [PinChange {
                service: name!("tag"),
                old: Pin::tag(tag("sha-3333333")),
                new: Pin::tag(tag("sha-abcdef0"))
            }]
        );
        assert_eq!(
            summary_table(&changes),
            "\
| service | old tag       | new tag       |
| ------- | ------------- | ------------- |
| tag     | `sha-3333333` | `sha-abcdef0` |
"
        );
    }
}
