//! The `README.md` of an environment directory: the traffic diagram, the
//! start order, what runs and the Argo CD settings, in Markdown that GitHub
//! and GitLab render (Mermaid included).

use std::fmt::Write as _;

use gitops_core::Object;
use gitops_core::crd::argocd::{ClusterRef, SyncPolicy, SyncWindowKind};
use gitops_core::meta::SyncWave;

use super::{EnvironmentPicture, Workload, kind_label};

/// First line of every rendered Markdown file: the YAML files' header as an HTML comment.
fn header(platform: &gitops_core::platform::Platform) -> String {
    let line = crate::layout::header(platform);
    format!("<!-- {} -->\n", line.trim_start_matches("# ").trim_end())
}

/// What a wave of the renderer is for.
fn purpose(number: i32) -> &'static str {
    match SyncWave::ALL.into_iter().find(|w| w.number() == number) {
        Some(SyncWave::ArgoCdConfig) => "Argo CD configuration and projects",
        Some(SyncWave::Foundation) => "the namespace and the secrets everything else reads",
        Some(SyncWave::Database) => "databases; healthy once they accept connections",
        Some(SyncWave::Migration) => "schema migrations, run by Argo CD as hooks",
        Some(SyncWave::Application) => "the services",
        Some(SyncWave::Ingress) => "the entry point, once every backend is ready",
        None => "objects of this wave",
    }
}

fn code(text: &str) -> String {
    format!("`{}`", text.replace('|', "\\|"))
}

fn or_dash(text: Option<&str>) -> String {
    text.map_or_else(|| "-".into(), code)
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        format!("| {} |\n", cells.join(" | "))
    };
    out.push_str(&line(&mut header.iter().copied()));
    out.push_str(&line(&mut header.iter().map(|_| "---")));
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
}

fn start_order(out: &mut String, picture: &EnvironmentPicture) {
    out.push_str(
        "\n## Start order\n\nArgo CD applies one sync wave at a time and starts the next once \
         everything in it is healthy.\n\n",
    );
    let rows: Vec<Vec<String>> = picture
        .waves
        .iter()
        .map(|wave| {
            // One entry per kind (and hook phase), in order of first appearance.
            let mut groups: Vec<(String, Vec<String>)> = Vec::new();
            for o in &wave.objects {
                let kind = match &o.hook {
                    Some(phase) => format!("{} ({phase} hook)", o.kind),
                    None => o.kind.to_owned(),
                };
                match groups.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, names)) => names.push(code(&o.name)),
                    None => groups.push((kind, vec![code(&o.name)])),
                }
            }
            let objects: Vec<String> =
                groups.into_iter().map(|(kind, names)| format!("{kind} {}", names.join(", "))).collect();
            vec![wave.number.to_string(), purpose(wave.number).into(), objects.join("; ")]
        })
        .collect();
    table(out, &["wave", "what starts", "objects"], &rows);
}

fn what_runs(out: &mut String, picture: &EnvironmentPicture) {
    out.push_str("\n## What runs\n\n");
    let mut rows = Vec::new();
    let mut db_rows = Vec::new();
    let paths_by_service = picture.paths_by_service();
    for s in &picture.services {
        let paths = paths_by_service.get(s.name.as_str()).map_or(&[][..], Vec::as_slice);
        let path = if paths.is_empty() {
            "not exposed".to_owned()
        } else {
            paths.iter().map(|p| code(p)).collect::<Vec<_>>().join(", ")
        };
        for d in &s.deployments {
            let (repo, tag) = d.image_parts().unzip();
            rows.push(vec![
                code(s.name.as_str()),
                kind_label(s.kind).into(),
                or_dash(repo),
                or_dash(tag.flatten()),
                d.replicas_label(),
                or_dash(d.requests.as_deref()),
                or_dash(d.limits.as_deref()),
                path.clone(),
            ]);
        }
        for db in &s.databases {
            db_rows.push(database_row(s.name.as_str(), db));
        }
    }
    table(
        out,
        &[
            "service",
            "kind",
            "image",
            "tag",
            "replicas",
            "requests (CPU / memory)",
            "limits (CPU / memory)",
            "path",
        ],
        &rows,
    );
    if !db_rows.is_empty() {
        out.push('\n');
        table(
            out,
            &[
                "database",
                "of service",
                "image",
                "replicas",
                "storage",
                "requests (CPU / memory)",
                "limits (CPU / memory)",
            ],
            &db_rows,
        );
    }
}

fn database_row(service: &str, db: &Workload) -> Vec<String> {
    let storage = db.storage.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ");
    vec![
        code(&db.name),
        code(service),
        or_dash(db.image.as_deref()),
        db.replicas.map_or_else(|| "-".into(), |n| n.to_string()),
        if storage.is_empty() { "-".into() } else { storage },
        or_dash(db.requests.as_deref()),
        or_dash(db.limits.as_deref()),
    ]
}

fn sync_text(policy: Option<&SyncPolicy>) -> (String, String, String) {
    let Some(policy) = policy else { return ("manual".into(), "-".into(), "-".into()) };
    let mode = match &policy.automated {
        None => "manual".to_owned(),
        Some(a) => {
            let what: Vec<&str> = [(a.prune, "prune"), (a.self_heal, "self-heal")]
                .into_iter()
                .filter(|f| f.0)
                .map(|f| f.1)
                .collect();
            if what.is_empty() { "automated".to_owned() } else { format!("automated: {}", what.join(", ")) }
        }
    };
    let options = policy.sync_options.iter().map(|o| code(o.as_str())).collect::<Vec<_>>().join(", ");
    let retry = policy.retry.as_ref().map_or_else(
        || "-".to_owned(),
        |r| match &r.backoff {
            Some(b) => {
                format!("{} tries, backoff {} ×{} up to {}", r.limit, b.duration, b.factor, b.max_duration)
            }
            None => format!("{} tries", r.limit),
        },
    );
    (mode, if options.is_empty() { "-".into() } else { options }, retry)
}

fn argocd(out: &mut String, argocd: &[Object]) {
    out.push_str("\n## Argo CD\n\n");
    let mut rows = Vec::new();
    for object in argocd {
        let Object::Application(app) = object else { continue };
        let spec = &app.spec;
        let cluster = match &spec.destination.cluster {
            ClusterRef::Server(server) => code(server),
            ClusterRef::Name(name) => format!("cluster {}", code(name)),
        };
        let (mode, options, retry) = sync_text(spec.sync_policy.as_ref());
        rows.push(vec![
            code(object.name()),
            code(&spec.project),
            format!("{} at {}", code(&spec.source.path), code(&spec.source.target_revision)),
            format!("{cluster}, namespace {}", code(&spec.destination.namespace)),
            mode,
            options,
            retry,
        ]);
    }
    table(
        out,
        &["Application", "project", "syncs", "destination", "sync policy", "sync options", "retry"],
        &rows,
    );
    for object in argocd {
        let Object::AppProject(project) = object else { continue };
        let windows = &project.spec.sync_windows;
        if windows.is_empty() {
            let _ = writeln!(
                out,
                "\nProject {} has no sync windows: syncs may run at any time.",
                code(object.name())
            );
            continue;
        }
        let _ = writeln!(out, "\nSync windows of project {}:\n", code(object.name()));
        for w in windows {
            let zone = w.time_zone.as_deref().map(|z| format!(" ({z})")).unwrap_or_default();
            let when = format!("the window opening at {} for {}{zone}", code(&w.schedule), w.duration);
            let text = match (w.kind, w.manual_sync) {
                (SyncWindowKind::Allow, false) => {
                    format!("syncs only in {when}; outside it manual syncs are refused too")
                }
                (SyncWindowKind::Allow, true) => {
                    format!("automated syncs only in {when}; manual syncs at any time")
                }
                (SyncWindowKind::Deny, false) => format!("no syncs in {when}, manual ones included"),
                (SyncWindowKind::Deny, true) => {
                    format!("no automated syncs in {when}; manual syncs at any time")
                }
            };
            let apps = w.applications.iter().map(|a| code(a)).collect::<Vec<_>>().join(", ");
            let apps = if apps.is_empty() { apps } else { format!(" (Applications {apps})") };
            let _ = writeln!(out, "- {text}{apps}");
        }
    }
}

/// The `README.md` of one environment. `argocd` holds the environment's
/// AppProject and Applications, as the layout renders them.
pub fn environment_readme(
    platform: &gitops_core::platform::Platform,
    picture: &EnvironmentPicture,
    argocd_objects: &[Object],
) -> String {
    let env = &picture.environment;
    let mut out = header(platform);
    let _ = writeln!(out, "# {} in {env}\n", picture.platform);
    let _ = writeln!(
        out,
        "Namespace {}. Everything below is read from the objects rendered into this tree.",
        code(picture.namespace.as_str())
    );
    out.push_str("\n## Traffic\n\n```mermaid\n");
    out.push_str(&picture.traffic().mermaid());
    out.push_str("```\n\n");
    // The platform's own command line: `<invocation> render` becomes `<invocation> graph`.
    let graph = match platform.render_command.as_deref().and_then(|c| c.strip_suffix(" render")) {
        Some(invocation) => format!("`{invocation} graph --env {env}`"),
        None => format!("The platform's `graph --env {env}` command"),
    };
    let _ = writeln!(
        out,
        "Solid arrows carry requests: from the ingress host through each path to its service, and from \
         each service to its own database. Dotted arrows are the calls a service makes to another. \
         {graph} prints this diagram (`--format dot` for Graphviz)."
    );
    start_order(&mut out, picture);
    what_runs(&mut out, picture);
    argocd(&mut out, argocd_objects);
    out
}
