//! The CI recipes in examples/ci/ are documentation that runs: the pin
//! script is run against a scratch origin, and the Jenkinsfile and the
//! workflows are checked against the platform they build for.

mod common;

use std::path::Path;
use std::process::Command;

use common::{git, read, rendered, stderr, stdout, workspace};

fn pin(clone: &Path, tag: &str) -> std::process::Output {
    pin_with(clone, tag, &[])
}

fn pin_with(clone: &Path, tag: &str, digests: &[&str]) -> std::process::Output {
    pin_env(clone, "dev", tag, digests)
}

/// Runs the pin script in `clone` for `env`, as CI does.
fn pin_env(clone: &Path, env: &str, tag: &str, digests: &[&str]) -> std::process::Output {
    Command::new(workspace().join("examples/ci/pin-images.sh"))
        .args([env, tag])
        .args(digests)
        .current_dir(clone)
        .env("XTASK", format!("{} --root .", env!("CARGO_BIN_EXE_xtask")))
        .env("GIT_CONFIG_COUNT", "2")
        .env("GIT_CONFIG_KEY_0", "user.name")
        .env("GIT_CONFIG_VALUE_0", "CI")
        .env("GIT_CONFIG_KEY_1", "user.email")
        .env("GIT_CONFIG_VALUE_1", "ci@invalid")
        .output()
        .unwrap()
}

/// CI pushes pins to dev only: a pin of staging or prod is refused before
/// anything is fetched, rendered or committed.
/// A rendered repository with its pins committed on `main`.
fn committed(name: &str) -> std::path::PathBuf {
    let repo = rendered(name);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "Initial pins"]);
    repo
}

#[test]
fn the_pin_script_refuses_every_environment_but_dev() {
    let repo = committed("ci-pin-prod");
    let before = git(&repo, &["rev-parse", "HEAD"]);
    for env in ["staging", "prod"] {
        let out = pin_env(&repo, env, "sha-abcdef1", &[]);
        assert_eq!(out.status.code(), Some(2), "{env}: {}", stderr(&out));
        assert!(stderr(&out).contains("changes by a reviewed pull request"), "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("promote --from … --to {env}")), "{}", stderr(&out));
    }
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), before, "nothing committed");
    assert!(git(&repo, &["status", "--porcelain"]).is_empty(), "nothing written");
    std::fs::remove_dir_all(repo).unwrap();
}

#[test]
fn the_pin_script_commits_and_pushes_the_new_tags_once() {
    let repo = committed("ci-pin");
    let origin = repo.with_extension("origin.git");
    let clone = repo.with_extension("clone");
    for dir in [&origin, &clone] {
        let _ = std::fs::remove_dir_all(dir);
    }
    git(&repo, &["clone", "-q", "--bare", ".", origin.to_str().unwrap()]);
    git(&repo, &["clone", "-q", origin.to_str().unwrap(), clone.to_str().unwrap()]);
    // Someone else pushes after the clone: the script starts from origin.
    git(&repo, &["remote", "add", "origin", origin.to_str().unwrap()]);
    let prod = read(&repo, "releases/prod.yaml").replacen("images:", "# Frozen until Tuesday.\nimages:", 1);
    std::fs::write(repo.join("releases/prod.yaml"), prod).unwrap();
    git(&repo, &["commit", "-q", "-am", "Note on prod"]);
    git(&repo, &["push", "-q", "origin", "main"]);

    let out = pin(&clone, "sha-abcdef1");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(git(&origin, &["log", "-1", "--format=%s", "main"]), "Deploy sha-abcdef1 to dev");
    assert_eq!(git(&origin, &["log", "-1", "--format=%s", "main~1"]), "Note on prod");
    let dev = git(&origin, &["show", "main:releases/dev.yaml"]);
    assert_eq!(dev.matches("tag: sha-abcdef1").count(), 5, "{dev}");
    let deployment = git(&origin, &["show", "main:deploy/dev/deployment-web.yaml"]);
    assert!(deployment.contains("clinicflow-web:sha-abcdef1"), "the rendered tree is in the same commit");

    // Again with the same tag: nothing to commit, nothing pushed.
    let out = pin(&clone, "sha-abcdef1");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("dev already runs sha-abcdef1"), "{}", stdout(&out));
    assert_eq!(git(&origin, &["rev-list", "--count", "main"]), "3");

    // With the digests the pushes printed: pinned beside each tag.
    let d = format!("sha256:{}", "ab".repeat(32));
    let digests: Vec<String> = ["identity", "scheduling", "profiles", "notifications", "web"]
        .iter()
        .map(|s| format!("{s}={d}"))
        .collect();
    let refs: Vec<&str> = digests.iter().map(String::as_str).collect();
    let out = pin_with(&clone, "sha-abcdef2", &refs);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let dev = git(&origin, &["show", "main:releases/dev.yaml"]);
    assert_eq!(dev.matches(&format!("digest: {d}")).count(), 5, "{dev}");
    let deployment = git(&origin, &["show", "main:deploy/dev/deployment-web.yaml"]);
    assert!(deployment.contains(&format!("clinicflow-web:sha-abcdef2@{d}")), "{deployment}");
    assert_eq!(git(&origin, &["rev-list", "--count", "main"]), "4");

    // A floating tag is refused before anything is committed.
    let out = pin(&clone, "dev-latest");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("`dev-latest` is a floating tag"), "{}", stderr(&out));
    assert_eq!(git(&origin, &["rev-list", "--count", "main"]), "4");
    for dir in [repo, origin, clone] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

fn yaml(rel: &str) -> serde_json::Value {
    gitops_core::yaml::from_str(&read(&workspace(), rel)).unwrap_or_else(|e| panic!("{rel}: {e:?}"))
}

#[test]
fn the_recipes_build_the_platforms_images() {
    let platform = clinicflow::platform();
    let names: Vec<&str> = platform.services.iter().map(|s| s.name.as_str()).collect();
    for s in &platform.services {
        assert_eq!(
            s.image.as_str(),
            format!("docker.io/bludivehub/clinicflow-{}", s.name),
            "the recipes' naming"
        );
    }

    let jenkins = read(&workspace(), "examples/ci/Jenkinsfile");
    let list =
        format!("def SERVICES = [{}]", names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "));
    assert!(jenkins.contains(&list), "the Jenkinsfile builds every service: {list}");
    assert!(jenkins.contains("REGISTRY = 'docker.io/bludivehub'"));
    assert!(jenkins.contains("examples/ci/pin-images.sh dev \"$TAG\" $DIGESTS"));
    assert!(jenkins.contains("{{index .RepoDigests 0}}"), "the Jenkinsfile captures each push's digest");

    let actions = yaml("examples/ci/github-actions.yml");
    for job in ["test", "build"] {
        assert_eq!(actions["jobs"][job]["strategy"]["matrix"]["service"], serde_json::json!(names), "{job}");
    }
    assert_eq!(actions["jobs"]["build"]["needs"], "test");
    assert_eq!(actions["jobs"]["pin"]["needs"], "build");
    let steps = actions["jobs"]["build"]["steps"].as_array().unwrap();
    let tags = steps.iter().find_map(|s| s["with"]["tags"].as_str()).unwrap();
    assert_eq!(tags, "docker.io/bludivehub/clinicflow-${{ matrix.service }}:sha-${{ github.sha }}");
    let pin = actions["jobs"]["pin"]["steps"].as_array().unwrap().last().unwrap()["run"].as_str().unwrap();
    assert!(pin.contains("examples/ci/pin-images.sh dev \"sha-${GITHUB_SHA}\" $(cat"), "{pin}");
    let captured =
        steps.iter().any(|s| s["run"].as_str().is_some_and(|r| r.contains("steps.push.outputs.digest")));
    assert!(captured, "the workflow captures each push's digest");

    let ci = yaml(".github/workflows/ci.yml");
    assert!(ci["on"].get("pull_request").is_some());
    assert_eq!(ci["jobs"]["check"]["steps"].as_array().unwrap().last().unwrap()["run"], ".ci/run");
}
