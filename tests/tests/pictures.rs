//! The `README.md` of each environment: its Mermaid diagram is valid for the
//! constructs the renderer uses and shows every service, database, route and
//! declared call; its tables agree with the typed objects and the release files.

use std::collections::{BTreeMap, BTreeSet};

use gitops_core::Object;
use gitops_core::platform::Platform;
use gitops_tree::Tree;
use pretty_assertions::assert_eq;
use workspace_tests::{clinicflow_objects, clinicflow_tree, pins, text};

/// A Mermaid flowchart, checked while parsed. Accepts exactly what
/// `gitops_tree::picture::graph` documents: `flowchart LR`, `subgraph
/// id["label"]` … `end`, `id["label"]` and `id[("label")]` nodes, and
/// `id --> id` / `id -.-> id` edges.
#[derive(Debug, Default)]
struct Flowchart {
    /// Node id -> (label lines, is a cylinder).
    nodes: BTreeMap<String, (Vec<String>, bool)>,
    /// (from, arrow, to).
    edges: Vec<(String, String, String)>,
}

impl Flowchart {
    /// The id of the node whose first label line is `first`; exactly one must exist.
    fn id_of(&self, first: &str) -> &str {
        let ids: Vec<&str> = self
            .nodes
            .iter()
            .filter(|(_, (lines, _))| lines[0] == first)
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(ids.len(), 1, "one node labelled `{first}`: {ids:?}");
        ids[0]
    }

    fn has_edge(&self, from: &str, arrow: &str, to: &str) -> bool {
        self.edges.iter().any(|(f, a, t)| f == from && a == arrow && t == to)
    }
}

const KEYWORDS: [&str; 10] = [
    "end",
    "subgraph",
    "graph",
    "flowchart",
    "style",
    "classDef",
    "class",
    "click",
    "linkStyle",
    "direction",
];

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("id `{id}` is not [A-Za-z0-9_]+"));
    }
    if KEYWORDS.contains(&id) {
        return Err(format!("id `{id}` is a Mermaid keyword"));
    }
    Ok(())
}

/// The lines of a quoted label: `<br/>` breaks lines; `"`, `<`, `>` and
/// backticks never appear otherwise, and `#` only starts an entity code.
fn label_lines(label: &str) -> Result<Vec<String>, String> {
    label
        .split("<br/>")
        .map(|line| {
            if line.is_empty() || line.contains(['"', '<', '>', '`', '\n']) {
                return Err(format!("label line `{line}` is empty or holds a forbidden character"));
            }
            for (i, _) in line.match_indices('#') {
                let entity = line[i + 1..].split_once(';').map(|(e, _)| e).unwrap_or("");
                let ok = !entity.is_empty()
                    && (entity.bytes().all(|b| b.is_ascii_digit())
                        || entity.bytes().all(|b| b.is_ascii_lowercase()));
                if !ok {
                    return Err(format!("`#` outside an entity code in `{line}`"));
                }
            }
            Ok(line.to_owned())
        })
        .collect()
}

/// `id` followed by `open` "label" `close`.
fn declaration<'a>(line: &'a str, open: &str, close: &str) -> Option<(&'a str, &'a str)> {
    let (id, rest) = line.split_at(line.find('[')?);
    let label = rest.strip_prefix(open)?.strip_suffix(close)?;
    Some((id, label))
}

fn parse_flowchart(text: &str) -> Result<Flowchart, String> {
    let mut lines = text.lines();
    if lines.next() != Some("flowchart LR") {
        return Err("the first line is not `flowchart LR`".into());
    }
    let mut chart = Flowchart::default();
    let mut subgraphs = BTreeSet::new();
    let mut depth = 0usize;
    for line in lines {
        let line = line.trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(rest) = line.strip_prefix("subgraph ") {
            let (id, label) = declaration(rest, "[\"", "\"]").ok_or(format!("bad subgraph `{line}`"))?;
            check_id(id)?;
            label_lines(label)?;
            if !subgraphs.insert(id.to_owned()) {
                return Err(format!("subgraph `{id}` declared twice"));
            }
            depth += 1;
        } else if line == "end" {
            depth = depth.checked_sub(1).ok_or("`end` without a subgraph")?;
        } else if words.len() == 3 && (words[1] == "-->" || words[1] == "-.->") {
            check_id(words[0])?;
            check_id(words[2])?;
            chart.edges.push((words[0].into(), words[1].into(), words[2].into()));
        } else {
            let (id, label, cylinder) = match declaration(line, "[(\"", "\")]") {
                Some((id, label)) => (id, label, true),
                None => {
                    let (id, label) =
                        declaration(line, "[\"", "\"]").ok_or(format!("unknown line `{line}`"))?;
                    (id, label, false)
                }
            };
            check_id(id)?;
            if chart.nodes.insert(id.into(), (label_lines(label)?, cylinder)).is_some() {
                return Err(format!("node `{id}` declared twice"));
            }
        }
    }
    if depth != 0 {
        return Err(format!("{depth} subgraph(s) without `end`"));
    }
    for (from, _, to) in &chart.edges {
        for id in [from, to] {
            if !chart.nodes.contains_key(id) {
                return Err(format!("edge to undeclared node `{id}`"));
            }
        }
    }
    if let Some(clash) = subgraphs.iter().find(|s| chart.nodes.contains_key(*s)) {
        return Err(format!("`{clash}` is both a subgraph and a node"));
    }
    Ok(chart)
}

#[test]
fn the_flowchart_checker_rejects_what_mermaid_would() {
    let good = "flowchart LR\n    subgraph s[\"S\"]\n        a[\"a<br/>#quot;x#quot;\"]\n        b[(\"b\")]\n    end\n    a --> b\n    b -.-> a\n";
    let chart = parse_flowchart(good).unwrap();
    assert!(chart.nodes["b"].1 && chart.has_edge("b", "-.->", "a"));
    for (bad, why) in [
        ("graph TD\n", "first line"),
        ("flowchart LR\n    subgraph s[\"S\"]\n        a[\"a\"]\n", "without `end`"),
        ("flowchart LR\n    a[\"a\"]\n    end\n", "without a subgraph"),
        ("flowchart LR\n    a[\"a\"]\n    a --> b\n", "undeclared node `b`"),
        ("flowchart LR\n    a-b[\"a\"]\n", "not [A-Za-z0-9_]+"),
        ("flowchart LR\n    end[\"a\"]\n", "keyword"),
        ("flowchart LR\n    a[\"say \"hi\"\"]\n", "forbidden character"),
        ("flowchart LR\n    a[\"<b>\"]\n", "forbidden character"),
        ("flowchart LR\n    a[\"#1\"]\n", "entity"),
        ("flowchart LR\n    a[\"a\"]\n    a[\"b\"]\n", "declared twice"),
        ("flowchart LR\n    a[\"a\"]\n    a ==> a\n", "unknown line"),
    ] {
        let err = parse_flowchart(bad).unwrap_err();
        assert!(err.contains(why), "{bad:?}: {err}");
    }
}

/// The body of the README's first ```mermaid block.
fn mermaid_block(readme: &str) -> &str {
    let start = readme.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let len = readme[start..].find("```\n").expect("the block is closed");
    &readme[start..start + len]
}

/// The first table after `## <section>`: header cells, then rows.
fn table<'a>(readme: &'a str, section: &str) -> (Vec<&'a str>, Vec<Vec<&'a str>>) {
    let start = readme.find(&format!("\n## {section}\n")).unwrap_or_else(|| panic!("section {section}"));
    let mut rows = readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_start_matches("| ").trim_end_matches(" |").split(" | ").collect::<Vec<_>>());
    let header = rows.next().expect("a header");
    let separator = rows.next().expect("a separator");
    assert!(separator.iter().all(|c| *c == "---") && separator.len() == header.len(), "{section}");
    let rows: Vec<_> = rows.collect();
    assert!(rows.iter().all(|r| r.len() == header.len()), "{section}: ragged table");
    (header, rows)
}

fn column(header: &[&str], name: &str) -> usize {
    header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("column {name}"))
}

/// Every service, database, route and declared call of `objects` is in the
/// flowchart, wired as the objects say.
fn check_traffic(platform: &Platform, objects: &[Object], mermaid: &str) {
    let chart = parse_flowchart(mermaid).unwrap_or_else(|e| panic!("{e}\n{mermaid}"));
    for s in &platform.services {
        let id = chart.id_of(s.name.as_str());
        assert!(!chart.nodes[id].1, "service {} is a box", s.name);
        for dep in &s.depends_on {
            assert!(chart.has_edge(id, "-.->", chart.id_of(dep.as_str())), "{} calls {dep}", s.name);
        }
    }
    let calls: usize = platform.services.iter().map(|s| s.depends_on.len()).sum();
    assert_eq!(chart.edges.iter().filter(|e| e.1 == "-.->").count(), calls, "no call is invented");

    let mut databases = 0;
    for o in objects.iter().filter(|o| o.kind() == "StatefulSet") {
        let id = chart.id_of(o.name());
        assert!(chart.nodes[id].1, "database {} is a cylinder", o.name());
        let owner = platform.services.iter().find(|s| o.name() == format!("{}-db", s.name)).unwrap();
        assert!(
            chart.has_edge(chart.id_of(owner.name.as_str()), "-->", id),
            "{} uses {}",
            owner.name,
            o.name()
        );
        databases += 1;
    }
    assert_eq!(chart.nodes.values().filter(|n| n.1).count(), databases, "no database is invented");

    let wanted = workspace_tests::entry_routes(objects);
    assert!(!wanted.is_empty(), "every example exposes something");
    let mut routes = BTreeSet::new();
    for (host, path, service) in &wanted {
        let host = chart.id_of(&format!("https://{host}"));
        let route = chart.id_of(path);
        let backend = chart.id_of(service);
        assert!(chart.has_edge(host, "-->", route) && chart.has_edge(route, "-->", backend), "{path}");
        routes.insert(route);
    }
    let route_edges = chart.edges.iter().filter(|(from, _, _)| routes.contains(from.as_str())).count();
    assert_eq!(route_edges, routes.len(), "each path reaches exactly one service");
}

#[test]
fn every_environment_has_a_readme_whose_diagram_shows_all_it_runs() {
    let tree = clinicflow_tree();
    let platform = clinicflow::platform();
    for (profile, objects) in clinicflow_objects() {
        let readme = text(&tree, &format!("{}/README.md", profile.name));
        assert!(readme.starts_with("<!-- Rendered by `cargo xtask render`"), "{}", profile.name);
        check_traffic(&platform, &objects, mermaid_block(readme));
    }
    // prod does not expose /notifications: neither does its picture.
    let prod = parse_flowchart(mermaid_block(text(&tree, "prod/README.md"))).unwrap();
    assert!(prod.nodes.values().all(|(lines, _)| lines[0] != "/notifications"));
    let dev = parse_flowchart(mermaid_block(text(&tree, "dev/README.md"))).unwrap();
    assert!(dev.nodes.values().any(|(lines, _)| lines[0] == "/notifications"));
}

#[test]
fn a_gateway_environment_draws_its_http_route() {
    let (environments, tree) = workspace_tests::clinicflow_via_gateway();
    let platform = clinicflow::platform();
    for (profile, objects) in environments {
        let readme = text(&tree, &format!("{}/README.md", profile.name));
        let mermaid = mermaid_block(readme);
        check_traffic(&platform, &objects, mermaid);
        assert!(
            mermaid.contains("[\"HTTPRoute clinicflow (Gateway gateway-system/shared, listener https)\"]"),
            "the route's box names the Gateway and listener:\n{mermaid}"
        );
        assert!(!mermaid.contains("Ingress"), "{mermaid}");
        let (header, rows) = table(readme, "Start order");
        let last = rows.last().unwrap();
        assert_eq!(last[column(&header, "wave")], "4");
        assert!(last[column(&header, "objects")].contains("HTTPRoute `clinicflow`"), "{last:?}");
    }
}

#[test]
fn the_start_order_lists_each_wave_once_in_order_with_its_objects() {
    let tree = clinicflow_tree();
    for (profile, objects) in clinicflow_objects() {
        let readme = text(&tree, &format!("{}/README.md", profile.name));
        let (header, rows) = table(readme, "Start order");
        let (wave, cell) = (column(&header, "wave"), column(&header, "objects"));
        let listed: Vec<i32> = rows.iter().map(|r| r[wave].parse().unwrap()).collect();
        let want: Vec<i32> =
            objects.iter().map(|o| o.wave().unwrap().number()).collect::<BTreeSet<_>>().into_iter().collect();
        assert_eq!(listed, want, "{}: waves ascending, each once", profile.name);
        assert_eq!(listed, [0, 1, 2, 3, 4]);
        for o in &objects {
            let row = &rows[listed.iter().position(|w| *w == o.wave().unwrap().number()).unwrap()];
            assert!(
                row[cell].contains(&format!("`{}`", o.name())),
                "{}: {} {}",
                profile.name,
                o.kind(),
                o.name()
            );
            assert!(row[cell].contains(o.kind()), "{}: {}", profile.name, o.kind());
        }
        assert!(rows[2][cell].starts_with("Job (Sync hook) "), "migrations are marked as hooks");
    }
}

#[test]
fn what_runs_shows_the_released_tags_sizes_and_paths() {
    let tree = clinicflow_tree();
    for (profile, objects) in clinicflow_objects() {
        let env = profile.name.as_str();
        let (header, rows) = table(text(&tree, &format!("{env}/README.md")), "What runs");
        let col = |name| column(&header, name);
        let pins = pins(env);
        assert_eq!(rows.len(), pins.images.len(), "{env}: one row per service");
        for (service, pin) in &pins.images {
            let row = rows.iter().find(|r| r[col("service")] == format!("`{service}`")).unwrap();
            assert_eq!(
                row[col("tag")],
                format!("`{}`", pin.tag),
                "{env}: {service} runs releases/{env}.yaml's tag"
            );
            let sizing = if service.as_str() == "web" { profile.web } else { profile.api };
            let replicas = match profile.availability.autoscaling {
                Some(a) => format!("{}–{} (HPA)", sizing.replicas, a.max_replicas),
                None => sizing.replicas.to_string(),
            };
            assert_eq!(row[col("replicas")], replicas, "{env}: {service}");
            let r = sizing.resources;
            let req = format!("`{} / {}`", r.requests.cpu, r.requests.memory);
            assert_eq!(row[col("requests (CPU / memory)")], req, "{env}: {service}");
            let lim = format!("`{} / {}`", r.limits.cpu, r.limits.memory);
            assert_eq!(row[col("limits (CPU / memory)")], lim, "{env}: {service}");
            let exposed = objects.iter().find_map(|o| match o {
                Object::Ingress(i) => {
                    i.spec.as_ref()?.rules.as_ref()?[0].http.as_ref()?.paths.iter().find_map(|p| {
                        (p.backend.service.as_ref()?.name == service.as_str())
                            .then(|| p.path.clone().unwrap())
                    })
                }
                _ => None,
            });
            let path = exposed.map_or("not exposed".to_owned(), |p| format!("`{p}`"));
            assert_eq!(row[col("path")], path, "{env}: {service}");
        }
        let hidden = rows.iter().any(|r| r[col("path")] == "not exposed");
        assert_eq!(hidden, env == "prod", "{env}: only prod keeps a service off the ingress");
    }
}

#[test]
fn argo_cd_settings_name_the_project_destination_and_sync_policy() {
    let tree = clinicflow_tree();
    for (env, policy) in
        [("dev", "automated: prune, self-heal"), ("staging", "automated: prune"), ("prod", "manual")]
    {
        let readme = text(&tree, &format!("{env}/README.md"));
        let (header, rows) = table(readme, "Argo CD");
        assert_eq!(rows.len(), 1, "{env}: one Application per environment");
        let row = &rows[0];
        assert_eq!(row[column(&header, "Application")], format!("`clinicflow-{env}`"));
        assert_eq!(row[column(&header, "project")], format!("`clinicflow-{env}`"));
        assert_eq!(row[column(&header, "syncs")], format!("`deploy/{env}` at `main`"));
        assert_eq!(
            row[column(&header, "destination")],
            format!("`https://kubernetes.default.svc`, namespace `clinicflow-{env}`")
        );
        assert_eq!(row[column(&header, "sync policy")], policy, "{env}");
        assert_eq!(readme.contains("window opening at `0 20 * * 2,4` for 3h"), env == "prod", "{env}");
    }
}

#[test]
fn readmes_are_not_kustomize_resources() {
    let tree = clinicflow_tree();
    for env in ["dev", "staging", "prod"] {
        assert!(!text(&tree, &format!("{env}/kustomization.yaml")).contains("README"), "{env}");
    }
}

fn minimal_tree() -> Tree {
    let root = workspace_tests::root().join("examples/minimal");
    let paths = gitops_tree::pipeline::Paths {
        root: &root,
        releases: "releases",
        policies: "policies",
        deploy: "deploy",
        rules: &[],
    };
    gitops_tree::pipeline::render_platform(&minimal_example::platform(), &[minimal_example::dev()], &paths)
        .unwrap()
        .tree
}

#[test]
fn the_minimal_example_gets_its_picture_too() {
    let platform = minimal_example::platform();
    let root = workspace_tests::root().join("examples/minimal");
    let text_pins = std::fs::read_to_string(root.join("releases/dev.yaml")).unwrap();
    let services: Vec<_> = platform.services.iter().map(|s| s.name.clone()).collect();
    let pins = gitops_core::release::ReleasePins::parse("releases/dev.yaml", &text_pins, &services).unwrap();
    let objects =
        gitops_core::render_environment(&platform, &minimal_example::dev(), &pins).unwrap().into_objects();
    check_traffic(&platform, &objects, mermaid_block(text(&minimal_tree(), "dev/README.md")));
}

#[test]
fn the_per_service_topology_puts_the_readme_beside_the_service_directories() {
    let (platform, objects, tree) = workspace_tests::per_service_example();
    let readmes: Vec<&str> = tree.paths().filter(|p| p.ends_with("README.md")).collect();
    assert_eq!(readmes, ["dev/README.md"]);
    let readme = text(&tree, "dev/README.md");
    check_traffic(&platform, &objects, mermaid_block(readme));
    let (header, rows) = table(readme, "Argo CD");
    let apps: Vec<&str> = rows.iter().map(|r| r[column(&header, "Application")]).collect();
    assert_eq!(apps, ["`acme-dev`", "`claims-dev`", "`web-dev`"]);
    let syncs: Vec<&str> = rows.iter().map(|r| r[column(&header, "syncs")]).collect();
    assert_eq!(
        syncs,
        ["`deploy/dev/platform` at `main`", "`deploy/dev/claims` at `main`", "`deploy/dev/web` at `main`"]
    );
    let (header, rows) = table(readme, "What runs");
    let tags: Vec<&str> = rows.iter().map(|r| r[column(&header, "tag")]).collect();
    assert_eq!(tags, ["`sha-1234567`", "`sha-7654321`"]);
}
