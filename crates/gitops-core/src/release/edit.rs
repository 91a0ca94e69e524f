//! Changes to a release file that keep it as people wrote it.
//!
//! A release file is edited by hand, by CI and by `cargo xtask`; its comments,
//! its order and its layout belong to the people who read it. So a new tag is
//! a targeted edit of that service's `tag:` line, and the result is parsed
//! again and compared with the intended pins: an edit that would change
//! anything else is refused instead of written.

use std::fmt::Write as _;
use std::ops::Range;

use super::{ReleaseError, ReleasePins};
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

/// The tags of `pins` with `tags` applied: what an edit must produce.
fn expected(pins: &ReleasePins, tags: &[(Name, ImageTag)], file: &str) -> Result<ReleasePins, ReleaseError> {
    let mut want = pins.clone();
    for (service, tag) in tags {
        let Some(pin) = want.images.get_mut(service) else {
            let known: Vec<&str> = pins.images.keys().map(Name::as_str).collect();
            return Err(ReleaseError {
                file: file.into(),
                line: None,
                column: None,
                message: format!("unknown service `{service}`; the file pins: {}", known.join(", ")),
            });
        };
        pin.tag = tag.clone();
    }
    Ok(want)
}

/// Sets the tag of each service in `tags` in the release file `text`, read
/// from `file`, for a platform whose services are `services`. Returns the
/// new text and its pins; everything but those tags is kept byte for byte.
///
/// The file must parse before the edit, and each tag must sit on a block
/// `tag:` line under its service (the layout `cargo xtask` and CI write).
pub fn set_tags(
    file: &str,
    text: &str,
    services: &[Name],
    tags: &[(Name, ImageTag)],
) -> Result<(String, ReleasePins), ReleaseError> {
    let old = ReleasePins::parse(file, text, services)?;
    let want = expected(&old, tags, file)?;
    let mut spans = Vec::with_capacity(tags.len());
    for (service, tag) in tags {
        let span = tag_value(text, service.as_str()).map_err(|line| ReleaseError {
            file: file.into(),
            line,
            column: None,
            message: format!(
                "cannot find the `tag:` line of `{service}` to edit in place; write the pin as two lines, \
                 `{service}:` and below it `tag: {}`, under `images:`",
                old.tag(service).map(ImageTag::as_str).unwrap_or("sha-…")
            ),
        })?;
        spans.push((span, tag.as_str()));
    }
    // Replace from the end, so the earlier byte ranges stay valid.
    spans.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut new_text = text.to_owned();
    for (span, tag) in spans {
        new_text.replace_range(span, tag);
    }
    let new = ReleasePins::parse(file, &new_text, services)?;
    if new != want {
        return Err(ReleaseError {
            file: file.into(),
            line: None,
            column: None,
            message: "editing the tags in place would change other pins; set the tags by hand".into(),
        });
    }
    Ok((new_text, new))
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

/// The byte range of the value of `service`'s block `tag:` line in `text`,
/// quotes included, trailing comment and whitespace excluded. Without one,
/// the 1-based line of the service's key if it was found.
fn tag_value(text: &str, service: &str) -> Result<Range<usize>, Option<usize>> {
    let mut in_images = false;
    // The indentation of the service keys below `images:`.
    let mut services_indent = None;
    // The indentation of the service's key while inside its block.
    let mut current: Option<usize> = None;
    let mut service_line = None;
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
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
                let colon = line.find(':').expect("a key line has a colon");
                let after = &line[colon + 1..];
                let value = after.trim_start();
                let value_start = colon + 1 + (after.len() - value.len());
                // A quoted tag ends at its closing quote, a plain one at the
                // first blank (a tag holds none); a comment may follow.
                let len = match value.chars().next() {
                    Some(q @ ('"' | '\'')) => value[1..].find(q).map(|end| end + 2),
                    Some('{' | '[' | '|' | '>') | None => None,
                    Some(_) => Some(value.find(char::is_whitespace).unwrap_or(value.len())),
                };
                let Some(len) = len else { return Err(service_line) };
                return Ok(start + value_start..start + value_start + len);
            }
            _ if indent == services_indent && key == service => {
                current = Some(indent);
                service_line = Some(n + 1);
            }
            _ if indent <= services_indent => current = None,
            _ => {}
        }
    }
    Err(service_line)
}

/// One service whose tag an edit changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinChange {
    pub service: Name,
    pub old: ImageTag,
    pub new: ImageTag,
}

/// Every service whose tag differs between `old` and `new`, in `new`'s order.
pub fn changes(old: &ReleasePins, new: &ReleasePins) -> Vec<PinChange> {
    new.images
        .iter()
        .filter_map(|(service, pin)| {
            let before = old.tag(service)?;
            (before != &pin.tag).then(|| PinChange {
                service: service.clone(),
                old: before.clone(),
                new: pin.tag.clone(),
            })
        })
        .collect()
}

/// `changes` as a Markdown table (service, old tag, new tag), aligned so it
/// reads in a terminal and renders in a pull request.
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
            .and_then(|pins| expected(&pins, &[(name!("nope"), tag("sha-abcdef0"))], "f"))
            .unwrap_err();
        assert!(err.message.contains("unknown service `nope`; the file pins: identity, web, tag"), "{err}");
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
            [PinChange { service: name!("tag"), old: tag("sha-3333333"), new: tag("sha-abcdef0") }]
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
