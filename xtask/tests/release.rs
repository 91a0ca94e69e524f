//! The commands that change image tags (`set-image`, `promote`) and `diff`,
//! as CI and people run them: what they write, what they print, and that a
//! refused run leaves every file as it was.

mod common;

use std::fs;

use common::{assert_refused, read, rendered, snapshot, stderr, stdout, xtask};
use gitops_core::release::ReleasePins;

fn pins(root: &std::path::Path, env: &str) -> ReleasePins {
    let services: Vec<_> = clinicflow::platform().services.into_iter().map(|s| s.name).collect();
    let rel = format!("releases/{env}.yaml");
    ReleasePins::parse(&rel, &read(root, &rel), &services).unwrap()
}

fn tags(pins: &ReleasePins) -> Vec<(String, String)> {
    pins.images.iter().map(|(s, p)| (s.to_string(), p.tag.to_string())).collect()
}

#[test]
fn set_image_edits_one_tag_line_and_re_renders() {
    let root = rendered("set-one");
    let before = read(&root, "releases/dev.yaml");
    let out = xtask(&root, &["set-image", "--env", "dev", "--service", "scheduling", "--tag", "sha-abcdef1"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Only the scheduling tag line changed: comments, order, other tags kept.
    let after = read(&root, "releases/dev.yaml");
    let want =
        before.replacen("  scheduling:\n    tag: sha-4e1c9a7", "  scheduling:\n    tag: sha-abcdef1", 1);
    assert_ne!(want, before);
    assert_eq!(after, want);

    let deployment = read(&root, "deploy/dev/deployment-scheduling.yaml");
    assert!(deployment.contains("docker.io/bludivehub/clinicflow-scheduling:sha-abcdef1"), "{deployment}");
    assert!(read(&root, "deploy/dev/deployment-identity.yaml").contains(":sha-4e1c9a7"));
    assert_eq!(xtask(&root, &["render", "--check"]).status.code(), Some(0), "deploy/ matches the new pins");

    let text = stdout(&out);
    assert!(text.contains("| scheduling | `sha-4e1c9a7` | `sha-abcdef1` |"), "{text}");
    assert!(text.contains("changed: dev/deployment-scheduling.yaml"), "{text}");
    assert!(text.contains("changed: dev/job-scheduling-migrate.yaml"), "{text}");
    assert!(!text.contains("staging/"), "{text}");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn set_image_all_sets_every_service_of_one_environment() {
    let root = rendered("set-all");
    let before = read(&root, "releases/dev.yaml");
    let staging = read(&root, "releases/staging.yaml");
    let tag = "sha-0123456789abcdef0123456789abcdef01234567";
    let out = xtask(&root, &["set-image", "--env", "dev", "--all", "--tag", tag]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pins = pins(&root, "dev");
    assert_eq!(pins.images.len(), 5);
    assert!(pins.images.values().all(|p| p.tag.as_str() == tag), "{pins:?}");
    assert_eq!(read(&root, "releases/staging.yaml"), staging);
    // Every line but the tag lines is kept.
    let kept =
        |text: &str| text.lines().filter(|l| !l.contains("tag: ")).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(kept(&read(&root, "releases/dev.yaml")), kept(&before));
    assert!(stdout(&out).contains("5 tag(s) changed"), "{}", stdout(&out));

    // The same command again changes nothing.
    let again = xtask(&root, &["set-image", "--env", "dev", "--all", "--tag", tag]);
    assert!(again.status.success());
    assert!(stdout(&again).contains("no tag changed"), "{}", stdout(&again));
    assert!(stdout(&again).contains("deploy: unchanged"), "{}", stdout(&again));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn refused_set_image_runs_touch_nothing() {
    let root = rendered("set-refused");
    let cases: [(&[&str], &str); 7] = [
        (&["--env", "dev", "--all", "--tag", "latest"], "`latest` is a floating tag"),
        (&["--env", "dev", "--all", "--tag", "dev-latest"], "`dev-latest` is a floating tag"),
        (&["--env", "dev", "--all", "--tag", "sha-ABCDEF1"], "tags are `sha-` followed by 7 to 40"),
        (&["--env", "dev", "--all", "--tag", "v1.2.3"], "`v1.2.3` is not an immutable git SHA tag"),
        (
            &["--env", "qa", "--all", "--tag", "sha-abcdef1"],
            "unknown environment `qa`; the environments are: dev, staging, prod",
        ),
        (
            &["--env", "dev", "--service", "idnetity", "--tag", "sha-abcdef1"],
            "unknown service `idnetity`; the services are: identity, scheduling, profiles, notifications, web",
        ),
        (&["--env", "dev", "--tag", "sha-abcdef1"], "--service <SVC>|--all"),
    ];
    assert_refused(&root, "set-image", &cases);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_failed_render_leaves_the_release_file_and_deploy_as_they_were() {
    let root = rendered("set-render-fails");
    // Another environment's release file is broken: the render fails as a whole.
    let prod = read(&root, "releases/prod.yaml").replacen("tag: sha-0c5a6e2", "tag: prod-latest", 1);
    let line = 1 + prod.lines().position(|l| l.contains("prod-latest")).unwrap();
    fs::write(root.join("releases/prod.yaml"), prod).unwrap();
    let before = snapshot(&root);
    let out = xtask(&root, &["set-image", "--env", "dev", "--all", "--tag", "sha-abcdef1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("releases/prod.yaml:{line}:")), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(snapshot(&root), before);
    let left: Vec<_> = fs::read_dir(root.join("releases")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 3, "no temporary file is left: {left:?}");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn promote_copies_pins_and_prints_a_table() {
    let root = rendered("promote");
    let out = xtask(&root, &["promote", "--from", "dev", "--to", "staging"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(tags(&pins(&root, "staging")), tags(&pins(&root, "dev")));
    let text = stdout(&out);
    assert!(text.contains("## Promote dev to staging"), "{text}");
    assert!(text.contains("| service       | old tag       | new tag       |"), "{text}");
    for service in ["identity", "scheduling", "profiles", "notifications", "web"] {
        assert!(text.contains(&format!("| {service:13} | `sha-b83d2f0` | `sha-4e1c9a7` |")), "{text}");
    }
    assert!(read(&root, "deploy/staging/deployment-web.yaml").contains(":sha-4e1c9a7"));
    assert_eq!(xtask(&root, &["render", "--check"]).status.code(), Some(0));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn promotion_carries_digests_and_production_refuses_pins_without() {
    let root = rendered("promote-digests");
    // Staging has no digests; production requires them: refused, nothing written.
    let before = snapshot(&root);
    let out = xtask(&root, &["promote", "--from", "staging", "--to", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("environment `prod` requires image digests, and service `identity` has none"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&root), before);

    // With digests set in staging, promotion carries them to production.
    let d = format!("sha256:{}", "cd".repeat(32));
    let digests: Vec<String> = ["identity", "scheduling", "profiles", "notifications", "web"]
        .iter()
        .flat_map(|s| ["--digest".to_owned(), format!("{s}={d}")])
        .collect();
    let mut args = vec!["set-image", "--env", "staging", "--all", "--tag", "sha-b83d2f0"];
    args.extend(digests.iter().map(String::as_str));
    let out = xtask(&root, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = xtask(&root, &["promote", "--from", "staging", "--to", "prod"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("`sha-b83d2f0@{d}`")), "{}", stdout(&out));
    assert!(read(&root, "deploy/prod/deployment-web.yaml").contains(&format!(":sha-b83d2f0@{d}")));

    // A digest of the wrong form is refused before anything is written.
    let before = snapshot(&root);
    let bad = [
        (
            &["--env", "dev", "--service", "web", "--tag", "sha-1234567", "--digest", "sha256:abc"][..],
            "is not an image digest",
        ),
        (
            &["--env", "dev", "--all", "--tag", "sha-1234567", "--digest", &d][..],
            "with several services, name the service",
        ),
        (
            &["--env", "dev", "--service", "web", "--tag", "sha-1234567", "--digest", "api=sha256:00"][..],
            "unknown service `api`",
        ),
    ];
    for (args, message) in bad {
        let out = xtask(&root, &[&["set-image"][..], args].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert_eq!(snapshot(&root), before, "{args:?}");
    }
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn promote_one_service_leaves_the_others() {
    let root = rendered("promote-one");
    let out = xtask(&root, &["promote", "--from", "dev", "--to", "staging", "--service", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let staging = pins(&root, "staging");
    for (service, tag) in tags(&staging) {
        let want = if service == "web" { "sha-4e1c9a7" } else { "sha-b83d2f0" };
        assert_eq!(tag, want, "{service}");
    }
    assert!(stdout(&out).contains("1 tag(s) changed"), "{}", stdout(&out));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn refused_promotions_touch_nothing() {
    let root = rendered("promote-refused");
    let cases: [(&[&str], &str); 4] = [
        (&["--from", "prod", "--to", "prod"], "--from and --to are both `prod`"),
        (
            &["--from", "stagin", "--to", "prod"],
            "unknown environment `stagin`; the environments are: dev, staging, prod",
        ),
        (&["--from", "staging", "--to", "production"], "unknown environment `production`"),
        (&["--from", "staging", "--to", "prod", "--service", "api"], "unknown service `api`"),
    ];
    assert_refused(&root, "promote", &cases);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn diff_shows_what_a_render_would_change_and_exits_1() {
    let root = rendered("diff");
    let clean = xtask(&root, &["diff"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert_eq!(stdout(&clean), "");

    // A pin edited by hand, not yet rendered.
    let dev = read(&root, "releases/dev.yaml").replacen("tag: sha-4e1c9a7", "tag: sha-1234567", 1);
    fs::write(root.join("releases/dev.yaml"), dev).unwrap();
    let before = snapshot(&root);
    let out = xtask(&root, &["diff"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "--- a/deploy/dev/deployment-identity.yaml\n+++ b/deploy/dev/deployment-identity.yaml\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("-        image: docker.io/bludivehub/clinicflow-identity:sha-4e1c9a7\n"),
        "{text}"
    );
    assert!(
        text.contains("+        image: docker.io/bludivehub/clinicflow-identity:sha-1234567\n"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal");
    // The Deployment, the migration Job and the environment's README show the tag.
    assert!(stderr(&out).contains("3 file(s) differ"), "{}", stderr(&out));
    assert_eq!(snapshot(&root), before, "diff writes nothing");

    // Other environments are unaffected.
    let prod = xtask(&root, &["diff", "--env", "prod"]);
    assert_eq!(prod.status.code(), Some(0), "{}", stdout(&prod));
    assert_eq!(xtask(&root, &["diff", "--env", "dev"]).status.code(), Some(1));

    // A file that is not rendered any more and one that is missing.
    fs::write(root.join("deploy/prod/stray.yaml"), "x: 1\n").unwrap();
    fs::remove_file(root.join("deploy/prod/service-web.yaml")).unwrap();
    let out = xtask(&root, &["diff", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("--- a/deploy/prod/stray.yaml\n+++ /dev/null\n"), "{text}");
    assert!(text.contains("--- /dev/null\n+++ b/deploy/prod/service-web.yaml\n"), "{text}");
    assert!(!text.contains("deploy/dev/"), "{text}");

    let out = xtask(&root, &["diff", "--env", "qa"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown environment `qa`; the environments are: dev, staging, prod"));
    fs::remove_dir_all(root).unwrap();
}
