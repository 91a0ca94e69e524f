//! The tutorial's commands, run in the order docs/tutorial.md shows them on a
//! scratch copy of `releases/`: every `$ cargo run -p orders-platform -- …`
//! line of a ```console block runs this crate's binary with `--root`, and the
//! lines after it are what the binary prints (stderr, then stdout; a line
//! `…` stands for any lines). Between the commands, the tree and the release
//! files are checked for what the tutorial says they hold.
//!
//! A test binary of its own (`harness = false`): run with
//! [`MISTAKE`] set, it is the tutorial's binary with the tutorial's mistake
//! made (the worker's command deleted), which the block marked
//! `output: mistake` runs.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

use common::{Block, blocks, tutorial};

const MISTAKE: &str = "ORDERS_TUTORIAL_MISTAKE";
const INVOCATION: &str = "cargo run -p orders-platform --";
const NEW_DIGEST: &str = "sha256:0775d6ddeed197c7daa36a97d47caaf12795743709a917b6c598d85abe3ab220";
const OLD_DIGEST: &str = "sha256:67c33a166d08420339cfdf57562d21b97dc0b49f484715603aab1250b9206471";

fn main() -> ExitCode {
    if std::env::var_os(MISTAKE).is_some() {
        return mistaken_binary();
    }
    let tests: [(&str, fn()); 2] = [
        ("the_tutorials_commands_print_what_it_shows", the_tutorials_commands_print_what_it_shows),
        ("the_committed_tree_is_what_the_sources_render", the_committed_tree_is_what_the_sources_render),
    ];
    // As libtest: arguments that are not flags filter the tests by name,
    // `--skip NAME` leaves some out, `--list` lists them, and the summary
    // line is the one `.ci/run` adds up.
    let (mut filters, mut skips, mut list) = (Vec::new(), Vec::new(), false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => list = true,
            "--skip" => skips.extend(args.next()),
            "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" => {
                args.next();
            }
            flag if flag.starts_with('-') => {}
            filter => filters.push(filter.to_owned()),
        }
    }
    let chosen: Vec<_> = tests
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .filter(|(name, _)| !skips.iter().any(|s| name.contains(s.as_str())))
        .collect();
    if list {
        for (name, _) in &chosen {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    println!("\nrunning {} tests", chosen.len());
    for (name, test) in &chosen {
        test();
        println!("test {name} ... ok");
    }
    println!(
        "\ntest result: ok. {} passed; 0 failed; 0 ignored; 0 measured; {} filtered out\n",
        chosen.len(),
        tests.len() - chosen.len()
    );
    ExitCode::SUCCESS
}

/// `src/main.rs`, with the worker's `.command(…)` deleted from the platform.
fn mistaken_binary() -> ExitCode {
    let mut platform = orders_platform::platform();
    let worker = platform.services.iter_mut().find(|s| s.name == orders_platform::WORKER).unwrap();
    assert!(worker.command.take().is_some(), "the tutorial's worker has a command to delete");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    gitops_cli::main(gitops_cli::Project::new(platform, orders_platform::environments(), root, INVOCATION))
}

fn run(root: &Path, mistake: bool, args: &[String]) -> Output {
    let mut command = if mistake {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.env(MISTAKE, "1");
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_orders-platform"))
    };
    command.arg("--root").arg(root).args(args).output().unwrap()
}

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every file below `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    gitops_tree::disk::read_tree(dir).unwrap().paths().map(str::to_owned).collect()
}

/// The release files and the whole tree: what a refused command leaves as it was.
fn snapshot(root: &Path) -> (String, String, gitops_tree::Tree) {
    let tree = gitops_tree::disk::read_tree(&root.join("deploy")).unwrap();
    (read(root, "releases/dev.yaml"), read(root, "releases/prod.yaml"), tree)
}

/// Whether `actual` is `expected`, where an `expected` line `…` stands for
/// any number of lines.
fn matches(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"…", rest)) => (0..=actual.len()).any(|skip| matches(rest, &actual[skip..])),
        Some((line, rest)) => actual.first() == Some(line) && matches(rest, &actual[1..]),
    }
}

/// The commands of a ```console block: each `$ cargo run -p orders-platform
/// -- …` line (continued by a trailing `\`), as the binary's arguments, and
/// the lines it prints.
fn commands(block: &Block) -> Vec<(Vec<String>, Vec<&str>)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    let mut continued = false;
    for line in block.body.lines() {
        if continued {
            out.last_mut().unwrap().0.push_str(line.trim_end_matches('\\'));
        } else if let Some(command) = line.strip_prefix("$ ") {
            out.push((command.trim_end_matches('\\').to_owned(), Vec::new()));
        } else {
            let (_, output) =
                out.last_mut().unwrap_or_else(|| panic!("{}: output before any command", block.at()));
            output.push(line);
        }
        continued = line.ends_with('\\');
    }
    out.into_iter()
        .map(|(command, output)| {
            let args = command
                .strip_prefix(INVOCATION)
                .unwrap_or_else(|| panic!("{}: `{command}` is not `{INVOCATION} …`", block.at()));
            (args.split_whitespace().map(str::to_owned).collect(), output)
        })
        .collect()
}

fn the_tutorials_commands_print_what_it_shows() {
    /// Removes the scratch directory, whether the test passes or panics.
    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    let scratch = Scratch(std::env::temp_dir().join(format!("orders-tutorial-{}", std::process::id())));
    let base = &scratch.0;
    let _ = fs::remove_dir_all(base);
    // The path a reader's checkout has, so that printed paths read the same.
    let root = base.join("examples/tutorial");
    fs::create_dir_all(root.join("releases")).unwrap();
    for env in ["dev", "prod"] {
        let release = format!("releases/{env}.yaml");
        fs::write(root.join(&release), read(Path::new(env!("CARGO_MANIFEST_DIR")), &release)).unwrap();
    }
    let mut ran = Vec::new();
    for block in blocks(&tutorial()) {
        if let Some(dir) = block.marked("tree") {
            tree_is_as_shown(&block, &root.join(dir.strip_prefix("examples/tutorial/").unwrap_or(dir)));
            continue;
        }
        let Some(kind) = block.marked("output") else { continue };
        let mistake = match kind {
            "" => false,
            "mistake" => true,
            other => panic!("{}: unknown output marker `{other}`", block.at()),
        };
        for (args, expected) in commands(&block) {
            let before = snapshot_if_rendered(&root);
            let out = run(&root, mistake, &args);
            let printed =
                format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout))
                    .replace(&base.display().to_string(), "…");
            let actual: Vec<&str> = printed.lines().collect();
            assert!(
                matches(&expected, &actual),
                "{}: `{}` printed\n{printed}\nand the tutorial shows\n{}",
                block.at(),
                args.join(" "),
                expected.join("\n")
            );
            let refused = expected.last() == Some(&"nothing was written");
            assert_eq!(out.status.success(), !refused, "{}: `{}` exit status", block.at(), args.join(" "));
            if refused {
                assert_eq!(
                    snapshot_if_rendered(&root),
                    before,
                    "{}: `{}` wrote something",
                    block.at(),
                    args.join(" ")
                );
            }
            state_is_as_told(&root, &args, refused);
            ran.push(args.join(" "));
        }
    }
    // The steps the tutorial takes, in its order.
    let steps: Vec<&str> = ran.iter().map(|c| c.split(" --").next().unwrap()).collect();
    assert_eq!(
        steps,
        ["render", "check", "render", "set-image", "promote", "set-image", "promote", "render"],
        "{ran:#?}"
    );
}

fn snapshot_if_rendered(root: &Path) -> Option<(String, String, gitops_tree::Tree)> {
    root.join("deploy").is_dir().then(|| snapshot(root))
}

/// The files a ```text block names (words ending in `.yaml` or `.md`) are
/// exactly the files of `dir`.
fn tree_is_as_shown(block: &Block, dir: &Path) {
    let shown: BTreeSet<String> = block
        .body
        .split_whitespace()
        .filter(|w| w.ends_with(".yaml") || w.ends_with(".md"))
        .map(str::to_owned)
        .collect();
    let actual: BTreeSet<String> = files(dir).into_iter().filter(|f| !f.starts_with('.')).collect();
    assert_eq!(shown, actual, "{}: the files of {}", block.at(), dir.display());
}

/// What the tutorial says each step leaves in the tree and the release files.
fn state_is_as_told(root: &Path, args: &[String], refused: bool) {
    let command = args.join(" ");
    let image = |env: &str, digest: &str, tag: &str| {
        for deployment in ["orders", "orders-worker"] {
            let text = read(root, &format!("deploy/{env}/deployment-{deployment}.yaml"));
            let expected = format!("image: ghcr.io/acme/orders:{tag}{digest}\n");
            assert!(
                text.contains(&expected),
                "after `{command}`, {env}/{deployment} runs {expected}:\n{text}"
            );
        }
    };
    match command.as_str() {
        "render" => {
            for env in ["dev", "prod"] {
                let worker = read(root, &format!("deploy/{env}/deployment-orders-worker.yaml"));
                assert!(
                    worker.contains("      - command:\n        - /app/orders\n        - consume\n"),
                    "{worker}"
                );
                assert!(!worker.contains("containerPort"), "the worker serves no port:\n{worker}");
                for var in ["REDIS_URL", "DATABASE_URL"] {
                    assert!(
                        worker.contains(&format!("- name: {var}\n")),
                        "the worker reads {var}:\n{worker}"
                    );
                }
                let api = read(root, &format!("deploy/{env}/deployment-orders.yaml"));
                assert!(api.contains("- containerPort: 8080\n          name: http\n"), "{api}");
                assert!(api.contains("path: /healthz\n"), "{api}");
                assert!(
                    api.contains("- name: REDIS_URL\n") && api.contains("- name: DATABASE_URL\n"),
                    "{api}"
                );
                let redis = read(root, &format!("deploy/{env}/statefulset-orders-worker-db.yaml"));
                assert!(redis.contains("image: docker.io/library/redis:7.4.1\n"), "{redis}");
                let postgres = read(root, &format!("deploy/{env}/statefulset-orders-db.yaml"));
                assert!(postgres.contains("image: docker.io/library/postgres:17.6\n"), "{postgres}");
                let migrate = read(root, &format!("deploy/{env}/job-orders-migrate.yaml"));
                assert!(migrate.contains("- /app/orders\n        - migrate\n"), "{migrate}");
                let ingress = read(root, &format!("deploy/{env}/ingress-shop.yaml"));
                assert!(ingress.contains(&format!("- host: shop-{env}.10.0.")), "{ingress}");
                assert!(ingress.contains("path: /orders\n"), "{ingress}");
                let app = read(root, &format!("deploy/argocd/{env}/apps/application-shop-{env}.yaml"));
                assert!(app.contains(&format!("path: deploy/{env}\n")), "{app}");
                assert_eq!(app.contains("automated:"), env == "dev", "only dev syncs by itself:\n{app}");
            }
            image("dev", &format!("@{OLD_DIGEST}"), "sha-1a2b3c4");
            image("prod", &format!("@{OLD_DIGEST}"), "sha-1a2b3c4");
            let prod: BTreeSet<String> = files(&root.join("deploy/prod"));
            let dev: BTreeSet<String> = files(&root.join("deploy/dev"));
            let only_prod: Vec<&String> = prod.difference(&dev).collect();
            assert_eq!(
                only_prod,
                [
                    "horizontalpodautoscaler-orders.yaml",
                    "namespace-shop-prod.yaml",
                    "poddisruptionbudget-orders-worker.yaml",
                    "poddisruptionbudget-orders.yaml"
                ]
            );
            let hpa = read(root, "deploy/prod/horizontalpodautoscaler-orders.yaml");
            assert!(hpa.contains("maxReplicas: 6\n") && hpa.contains("minReplicas: 3\n"), "{hpa}");
            let worker = read(root, "deploy/prod/deployment-orders-worker.yaml");
            assert!(worker.contains("  replicas: 2\n"), "{worker}");
        }
        c if c.starts_with("set-image") && !c.contains("--digest") => {
            image("dev", "", "sha-9f8e7d6");
            image("prod", &format!("@{OLD_DIGEST}"), "sha-1a2b3c4");
            assert!(
                !read(root, "releases/dev.yaml").contains(OLD_DIGEST),
                "the old digest went with the old tag"
            );
        }
        c if c.starts_with("set-image") => {
            image("dev", &format!("@{NEW_DIGEST}"), "sha-9f8e7d6");
            let release = read(root, "releases/dev.yaml");
            assert_eq!(release.matches(NEW_DIGEST).count(), 2, "{release}");
            assert!(release.starts_with("# The images dev runs"), "comments are kept:\n{release}");
        }
        c if c.starts_with("promote") && refused => {
            image("prod", &format!("@{OLD_DIGEST}"), "sha-1a2b3c4");
        }
        c if c.starts_with("promote") => {
            image("prod", &format!("@{NEW_DIGEST}"), "sha-9f8e7d6");
            image("dev", &format!("@{NEW_DIGEST}"), "sha-9f8e7d6");
            let (dev, prod) = (read(root, "releases/dev.yaml"), read(root, "releases/prod.yaml"));
            assert_eq!(dev.split_once("images:").unwrap().1, prod.split_once("images:").unwrap().1);
        }
        _ => {}
    }
}

/// The committed `deploy/` is what `releases/` and the sources render (CI
/// runs this test; `cargo run -p orders-platform -- render` refreshes it).
fn the_committed_tree_is_what_the_sources_render() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run(crate_dir, false, &["render".into(), "--check".into()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(": up to date ("),
        "examples/tutorial/deploy is stale; run `{INVOCATION} render`:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
