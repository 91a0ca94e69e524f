//! A small directed graph with boxes grouped in clusters, written as Mermaid
//! (`flowchart LR`, which GitHub and GitLab draw in Markdown) or as Graphviz
//! DOT. Only the constructs below are emitted, so their syntax is easy to
//! check:
//!
//! ```text
//! flowchart LR
//!     subgraph <id>["<label>"]
//!         <id>["<line><br/><line>"]        a box
//!         <id>[("<line><br/><line>")]      a cylinder (a database)
//!     end
//!     <id> --> <id>                        a solid arrow
//!     <id> -.-> <id>                       a dotted arrow
//! ```
//!
//! Ids are `[A-Za-z0-9_]+`; label text never holds `"`, `<`, `>` or `#`
//! except as Mermaid entity codes (`#quot;`) and the `<br/>` line break.

use std::fmt::Write as _;

/// A traffic diagram, independent of its notation: groups of nodes and
/// the edges between them, written as Mermaid or DOT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// The DOT graph's name.
    pub name: String,
    /// The groups of nodes, in drawing order.
    pub clusters: Vec<Cluster>,
    /// The edges, in drawing order.
    pub edges: Vec<Edge>,
}

/// A group of nodes: a Mermaid `subgraph`, a DOT `cluster_…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The group's identifier in the notation (letters, digits, `_`).
    pub id: String,
    /// The group's title.
    pub label: String,
    /// Its nodes.
    pub nodes: Vec<Node>,
}

/// One box or database in the diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's identifier, referred to by edges.
    pub id: String,
    /// The label, one entry per line.
    pub lines: Vec<String>,
    /// How it is drawn.
    pub shape: Shape,
}

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A service, an entry point.
    Box,
    /// A database.
    Cylinder,
}

/// An arrow from one node to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The source node's id.
    pub from: String,
    /// The target node's id.
    pub to: String,
    /// How it is drawn.
    pub style: EdgeStyle,
}

/// How an edge is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeStyle {
    /// Traffic from the entry point: host to path to service to database.
    Solid,
    /// A call one service makes to another.
    Dotted,
}

/// `<prefix>_<name>` with every character outside `[A-Za-z0-9]` replaced by
/// `_`. Distinct DNS labels (letters, digits, `-`) give distinct ids.
pub fn node_id(prefix: &str, name: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + 1 + name.len());
    id.push_str(prefix);
    id.push('_');
    id.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }));
    id
}

/// Label text for Mermaid: the characters that would end or confuse a
/// quoted label become entity codes.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn mermaid_label(lines: &[String]) -> String {
    lines.iter().map(|l| mermaid_text(l)).collect::<Vec<_>>().join("<br/>")
}

/// A DOT quoted string, without the quotes.
fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace(['\n', '\r'], " ")
}

impl Graph {
    /// A Mermaid `flowchart LR`, ending in a newline.
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for cluster in &self.clusters {
            let _ = writeln!(out, "    subgraph {}[\"{}\"]", cluster.id, mermaid_text(&cluster.label));
            for node in &cluster.nodes {
                let label = mermaid_label(&node.lines);
                let _ = match node.shape {
                    Shape::Box => writeln!(out, "        {}[\"{label}\"]", node.id),
                    Shape::Cylinder => writeln!(out, "        {}[(\"{label}\")]", node.id),
                };
            }
            out.push_str("    end\n");
        }
        for edge in &self.edges {
            let arrow = match edge.style {
                EdgeStyle::Solid => "-->",
                EdgeStyle::Dotted => "-.->",
            };
            let _ = writeln!(out, "    {} {arrow} {}", edge.from, edge.to);
        }
        out
    }

    /// A Graphviz `digraph`, every id quoted, ending in a newline.
    pub fn dot(&self) -> String {
        let mut out = format!("digraph \"{}\" {{\n", dot_text(&self.name));
        out.push_str("    rankdir=LR;\n    node [shape=box];\n");
        for cluster in &self.clusters {
            let _ = writeln!(out, "    subgraph \"cluster_{}\" {{", dot_text(&cluster.id));
            let _ = writeln!(out, "        label=\"{}\";", dot_text(&cluster.label));
            for node in &cluster.nodes {
                let label = node.lines.iter().map(|l| dot_text(l)).collect::<Vec<_>>().join("\\n");
                let shape = match node.shape {
                    Shape::Box => "",
                    Shape::Cylinder => ", shape=cylinder",
                };
                let _ = writeln!(out, "        \"{}\" [label=\"{label}\"{shape}];", dot_text(&node.id));
            }
            out.push_str("    }\n");
        }
        for edge in &self.edges {
            let style = match edge.style {
                EdgeStyle::Solid => "",
                EdgeStyle::Dotted => " [style=dashed]",
            };
            let _ = writeln!(out, "    \"{}\" -> \"{}\"{style};", dot_text(&edge.from), dot_text(&edge.to));
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn graph() -> Graph {
        Graph {
            name: "acme-dev".into(),
            clusters: vec![Cluster {
                id: "services".into(),
                label: "Services \"here\"".into(),
                nodes: vec![
                    Node {
                        id: node_id("svc", "api-v2"),
                        lines: vec!["api-v2".into(), "a<b>#1".into()],
                        shape: Shape::Box,
                    },
                    Node {
                        id: node_id("db", "api-v2-db"),
                        lines: vec!["api-v2-db".into()],
                        shape: Shape::Cylinder,
                    },
                ],
            }],
            edges: vec![
                Edge { from: "svc_api_v2".into(), to: "db_api_v2_db".into(), style: EdgeStyle::Solid },
                Edge { from: "svc_api_v2".into(), to: "svc_api_v2".into(), style: EdgeStyle::Dotted },
            ],
        }
    }

    #[test]
    fn ids_are_identifiers() {
        assert_eq!(node_id("svc", "identity-db"), "svc_identity_db");
        assert_eq!(node_id("host", "a.b:80/x"), "host_a_b_80_x");
    }

    #[test]
    fn mermaid_escapes_labels_and_uses_only_the_documented_constructs() {
        assert_eq!(
            graph().mermaid(),
            "flowchart LR\n\
             \x20   subgraph services[\"Services #quot;here#quot;\"]\n\
             \x20       svc_api_v2[\"api-v2<br/>a#lt;b#gt;#35;1\"]\n\
             \x20       db_api_v2_db[(\"api-v2-db\")]\n\
             \x20   end\n\
             \x20   svc_api_v2 --> db_api_v2_db\n\
             \x20   svc_api_v2 -.-> svc_api_v2\n"
        );
    }

    #[test]
    fn dot_quotes_ids_and_escapes_labels() {
        assert_eq!(
            graph().dot(),
            "digraph \"acme-dev\" {\n\
             \x20   rankdir=LR;\n\
             \x20   node [shape=box];\n\
             \x20   subgraph \"cluster_services\" {\n\
             \x20       label=\"Services \\\"here\\\"\";\n\
             \x20       \"svc_api_v2\" [label=\"api-v2\\na<b>#1\"];\n\
             \x20       \"db_api_v2_db\" [label=\"api-v2-db\", shape=cylinder];\n\
             \x20   }\n\
             \x20   \"svc_api_v2\" -> \"db_api_v2_db\";\n\
             \x20   \"svc_api_v2\" -> \"svc_api_v2\" [style=dashed];\n\
             }\n"
        );
    }
}
