//! docs/tutorial.md, read as its tests need it: the fenced blocks, each
//! with the marker comment on the line before its fence.
#![allow(dead_code)] // Each test binary uses its own part.

use std::path::{Path, PathBuf};

/// The repository root (this crate is `examples/tutorial`).
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fenced block of the tutorial.
#[derive(Debug)]
pub struct Block {
    /// The 1-based line of the opening fence, to name the block in failures.
    pub line: usize,
    /// The fence's language (`rust`, `console`, …).
    pub lang: String,
    /// What the `<!-- … -->` comment right before the fence says, if there is one.
    pub marker: Option<String>,
    /// The lines between the fences, each ending with a newline.
    pub body: String,
}

impl Block {
    /// `docs/tutorial.md:<line>`, how a failure names the block.
    pub fn at(&self) -> String {
        format!("docs/tutorial.md:{} (```{})", self.line, self.lang)
    }

    /// The marker's words after `kind:`, when the marker is of that kind.
    pub fn marked(&self, kind: &str) -> Option<&str> {
        let marker = self.marker.as_deref()?;
        if marker == kind {
            return Some("");
        }
        marker.strip_prefix(kind)?.strip_prefix(':').map(str::trim)
    }
}

pub fn tutorial() -> String {
    let path = repository().join("docs/tutorial.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every fenced block of `markdown`, in order.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let marker = i
            .checked_sub(1)
            .map(|p| lines[p].trim())
            .and_then(|l| l.strip_prefix("<!--")?.strip_suffix("-->"))
            .map(|m| m.trim().to_owned());
        let start = i;
        i += 1;
        let mut body = String::new();
        while i < lines.len() && lines[i] != "```" {
            body.push_str(lines[i]);
            body.push('\n');
            i += 1;
        }
        assert!(i < lines.len(), "docs/tutorial.md:{}: the block is never closed", start + 1);
        blocks.push(Block { line: start + 1, lang: lang.trim().to_owned(), marker, body });
        i += 1;
    }
    blocks
}
