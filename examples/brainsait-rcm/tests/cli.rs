//! `cargo run -p brainsait-rcm -- <command>` as BrainSAIT's team runs it:
//! the same command line as ClinicFlow's `cargo xtask`, on BrainSAIT's
//! per-service layout (one directory and Application per service per
//! environment), in a scratch copy of its repository.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(root: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brainsait-rcm"));
    if let Some(root) = root {
        command.arg("--root").arg(root);
    }
    command.args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", out(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// A scratch copy of BrainSAIT's repository: its release files and sealed
/// secrets, with the policies two directories up, where the project looks.
fn scratch(name: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!("brainsait-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let root = base.join("examples/brainsait-rcm");
    for dir in ["releases", "secrets/dev"] {
        fs::create_dir_all(root.join(dir)).unwrap();
        for entry in fs::read_dir(example().join(dir)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), root.join(dir).join(entry.file_name())).unwrap();
        }
    }
    fs::create_dir_all(base.join("policies")).unwrap();
    for entry in fs::read_dir(example().join("../../policies")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), base.join("policies").join(entry.file_name())).unwrap();
    }
    root
}

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn renders_checks_and_reports_drift() {
    let o = run(None, &["render", "--check"]);
    assert!(o.status.success() && out(&o).contains("up to date (156 files)"), "{}", out(&o));

    let root = scratch("render");
    let o = run(Some(&root), &["render"]);
    assert!(o.status.success() && out(&o).contains("written, 156 files"), "{}", out(&o));
    assert!(out(&run(Some(&root), &["render"])).contains("unchanged"));
    let header = read(&root, "deploy/dev/api/service-api.yaml");
    assert!(header.starts_with("# Rendered by `cargo run -p brainsait-rcm -- render`"), "{header}");
    fs::write(root.join("deploy/dev/api/service-api.yaml"), "changed by hand\n").unwrap();
    let o = run(Some(&root), &["render", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("dev/api/service-api.yaml"), "{}", out(&o));
    assert!(out(&o).contains("run `cargo run -p brainsait-rcm -- render`"), "{}", out(&o));

    // The usage line names the command a BrainSAIT user types.
    let o = run(None, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("Usage: cargo run -p brainsait-rcm --"), "{}", out(&o));
}

#[test]
fn set_image_promote_and_diff_on_the_per_service_layout() {
    let root = scratch("release");
    assert!(run(Some(&root), &["render"]).status.success());
    let o = run(Some(&root), &["set-image", "--env", "dev", "--service", "api", "--tag", "sha-0123abc"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("| api     | `sha-e7a61c2` | `sha-0123abc` |"), "the pin table: {}", out(&o));
    assert!(read(&root, "releases/dev.yaml").contains("tag: sha-0123abc"));
    let api = read(&root, "deploy/dev/api/deployment-api.yaml");
    assert!(api.contains("image: docker.io/brainsait/api:sha-0123abc"), "{api}");
    assert!(!read(&root, "deploy/staging/api/deployment-api.yaml").contains("sha-0123abc"));

    let o = run(Some(&root), &["promote", "--from", "dev", "--to", "staging", "--service", "api"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("## Promote dev to staging"));
    assert!(read(&root, "deploy/staging/api/deployment-api.yaml").contains("sha-0123abc"));
    assert!(!read(&root, "releases/staging.yaml").contains("web:\n    tag: sha-0123abc"));

    // Nothing to show after a render; a hand edit of a release file shows as a diff.
    let o = run(Some(&root), &["diff"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let dev = read(&root, "releases/dev.yaml").replace("sha-0123abc", "sha-4567def");
    fs::write(root.join("releases/dev.yaml"), dev).unwrap();
    let o = run(Some(&root), &["diff", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("+        image: docker.io/brainsait/api:sha-4567def"), "{}", out(&o));

    // An unknown service or a floating tag is refused, naming BrainSAIT's own.
    let o = run(Some(&root), &["set-image", "--env", "dev", "--service", "identity", "--tag", "sha-0123abc"]);
    assert!(out(&o).contains("the services are: claims-scrubbing, fhir-gateway, api, web"), "{}", out(&o));
    let o = run(Some(&root), &["set-image", "--env", "dev", "--all", "--tag", "latest"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("floating tag"), "{}", out(&o));
}

#[test]
fn rollback_and_history_in_a_git_repository() {
    let root = scratch("history");
    git(&root, &["init", "-q"]);
    assert!(run(Some(&root), &["render"]).status.success());
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "first pins"]);
    let o = run(Some(&root), &["set-image", "--env", "dev", "--all", "--tag", "sha-89abcde"]);
    assert!(o.status.success(), "{}", out(&o));
    git(&root, &["commit", "-q", "-am", "dev: sha-89abcde"]);

    let o = run(Some(&root), &["history", "--env", "dev"]);
    assert!(o.status.success(), "{}", out(&o));
    let history = out(&o);
    assert!(history.contains("dev: sha-89abcde") && history.contains("first pins"), "{history}");

    let o = run(Some(&root), &["rollback", "--env", "dev", "--to", "HEAD~1"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(!read(&root, "releases/dev.yaml").contains("sha-89abcde"));
    assert!(read(&root, "deploy/dev/web/deployment-web.yaml").contains("sha-"));
    assert!(!read(&root, "deploy/dev/web/deployment-web.yaml").contains("sha-89abcde"));
}

#[test]
fn check_reports_in_sarif_and_a_missing_policies_directory_is_an_error() {
    let o = run(None, &["check", "--format", "sarif"]);
    assert!(o.status.success(), "{}", out(&o));
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 0, "BrainSAIT has no finding");

    let root = scratch("policies");
    fs::remove_dir_all(root.join("../../policies")).unwrap();
    let o = run(Some(&root), &["render"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("../../policies: the project's policies directory does not exist"),
        "{}",
        out(&o)
    );
    assert!(!root.join("deploy").exists(), "nothing was written");
}

/// BrainSAIT's CI recipe builds exactly the platform's services, tags them
/// by the platform's rule, and pins dev through this command line (never
/// `kustomize edit set image`, never staging or production).
#[test]
fn the_ci_recipe_pins_dev_through_this_command_line() {
    let text = read(&example(), "ci/github-actions.yml");
    let recipe: serde_json::Value = gitops_core::yaml::from_str(&text).unwrap();
    let matrix = recipe["jobs"]["test-and-build"]["strategy"]["matrix"]["include"].as_array().unwrap();
    let built: Vec<&str> = matrix.iter().map(|m| m["service"].as_str().unwrap()).collect();
    let platform = brainsait_rcm::platform();
    let services: Vec<&str> = platform.released().map(|s| s.name.as_str()).collect();
    assert_eq!(built, services);
    let steps = recipe["jobs"]["test-and-build"]["steps"].as_array().unwrap();
    let push = steps.iter().find(|s| s["id"] == "push").unwrap();
    let tag = push["with"]["tags"].as_str().unwrap();
    for s in platform.released() {
        let image = tag.replace("${{ matrix.service }}", s.name.as_str());
        assert!(image.starts_with(&format!("{}:sha-", s.image.as_str())), "{image}");
    }
    let pin = recipe["jobs"]["pin"]["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(pin["env"]["XTASK"], format!("{} --", "cargo run -q -p brainsait-rcm"));
    assert!(pin["run"].as_str().unwrap().contains("examples/ci/pin-images.sh dev \"sha-${GITHUB_SHA}\""));
    let commands: String = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    assert!(!commands.contains("kustomize"), "the pipeline document's last step is replaced");
    assert!(!text.contains("pin-images.sh staging") && !text.contains("pin-images.sh production"));
}
