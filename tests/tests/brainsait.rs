//! BrainSAIT RCM (BrainSAIT's pipeline document), the second platform on the core, tested like
//! ClinicFlow: the committed `examples/brainsait-rcm/deploy` is what the
//! sources render, the render is deterministic and passes every built-in
//! rule and BrainSAIT's four OPA policies, and its pipeline document's promises hold.

use std::collections::BTreeSet;

use base64::Engine as _;
use gitops_core::Object;
use gitops_core::crd::argocd::{AppProject, Application, ClusterRef, SyncWindowKind};
use gitops_core::crd::sealed_secrets::parse_kubeseal_output;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::yaml;
use gitops_tree::Tree;
use gitops_tree::pipeline::{Rendered, render_one, render_platform};
use pretty_assertions::assert_eq;
use workspace_tests::{root, text};

const SERVICES: [&str; 4] = ["claims-scrubbing", "fhir-gateway", "api", "web"];
const ENVS: [&str; 3] = ["dev", "staging", "production"];

fn render(profiles: &[EnvironmentProfile]) -> Rendered {
    render_platform(&brainsait_rcm::platform(), profiles, &brainsait_rcm::paths()).expect("BrainSAIT renders")
}

fn tree() -> Tree {
    let rendered = render(&brainsait_rcm::environments());
    assert_eq!(rendered.report.findings, [], "no finding at all, blocking or not");
    rendered.tree
}

/// Every environment with its typed objects, as the pipeline renders them.
fn objects() -> Vec<(EnvironmentProfile, Vec<Object>)> {
    let platform = brainsait_rcm::platform();
    brainsait_rcm::environments()
        .into_iter()
        .map(|p| {
            let render = render_one(&platform, &p, &brainsait_rcm::paths(), None).expect("renders");
            (p, render.into_objects())
        })
        .collect()
}

fn parse<T: serde::de::DeserializeOwned>(tree: &Tree, path: &str) -> T {
    yaml::from_str(text(tree, path)).unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

#[test]
fn the_committed_tree_is_what_the_sources_render() {
    let on_disk = gitops_tree::disk::read_tree(&root().join("examples/brainsait-rcm/deploy")).unwrap();
    let drift = gitops_tree::disk::compare(&tree(), &on_disk);
    assert_eq!(drift, [], "run `cargo run -p brainsait-rcm -- render` and commit the result");
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(tree(), tree());
}

#[test]
fn brainsaits_opa_policies_are_evaluated_over_the_example() {
    // Without its compliance label, production breaks BrainSAIT's fourth policy.
    let mut envs = brainsait_rcm::environments();
    envs[2].compliance = None;
    let report = render(&envs).report;
    let rego: BTreeSet<(&str, &str)> = report
        .findings
        .iter()
        .filter(|f| f.rule == "rego/brainsait.production")
        // The message names the policy file: ` (../../policies/production-policies.rego)`.
        .map(|f| (f.object.as_ref().unwrap().name.as_str(), f.message.split(" (").next().unwrap()))
        .collect();
    let expected: BTreeSet<(&str, &str)> =
        SERVICES.iter().map(|s| (*s, "Production deployments must have compliance label")).collect();
    assert_eq!(rego, expected);
    assert!(report.blocking() > 0, "a BrainSAIT policy stops the render");
}

#[test]
fn each_environment_runs_brainsaits_services_in_its_namespace() {
    for (profile, objects) in objects() {
        let env = profile.name.as_str();
        let names = |kind: &str| -> BTreeSet<&str> {
            objects.iter().filter(|o| o.kind() == kind).map(|o| o.name()).collect()
        };
        assert_eq!(names("Namespace"), BTreeSet::from([format!("brainsait-{env}").as_str()]));
        assert_eq!(names("Deployment"), BTreeSet::from(SERVICES), "{env}");
        // Only the API owns a database, a MongoDB; the others have none.
        assert_eq!(names("StatefulSet"), BTreeSet::from(["api-db"]), "{env}");
        assert!(names("Job").is_empty(), "{env}: nothing to migrate");
        for o in &objects {
            let Object::Deployment(d) = o else { continue };
            let image = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone();
            let image = image.unwrap();
            let (repo, tag) = image.split_once(':').unwrap();
            assert_eq!(repo, format!("docker.io/brainsait/{}", o.name()));
            assert!(tag.starts_with("sha-"), "{image}: tagged by commit");
            // Production pulls exactly what was pushed.
            assert_eq!(tag.contains("@sha256:"), env == "production", "{env}: {image}");
        }
        let Some(Object::StatefulSet(db)) = objects.iter().find(|o| o.kind() == "StatefulSet") else {
            panic!()
        };
        let c = &db.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        assert_eq!(
            c.image.as_deref(),
            Some(
                "docker.io/library/mongo:8.0.12@sha256:108c3c1646aa75e8f75361024ae3f90b2ba9d2ad6d442d042bdeb269ef8d15bf"
            ),
            "pinned by version and digest"
        );
        let api = objects.iter().find(|o| o.kind() == "Deployment" && o.name() == "api").unwrap();
        let Object::Deployment(api) = api else { panic!() };
        let env_vars = &api.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].env;
        assert!(env_vars.iter().flatten().any(|e| e.name == "MONGODB_URI"), "{env}");
    }
}

#[test]
fn one_argo_cd_one_root_and_an_application_per_service_per_environment() {
    let tree = tree();
    let instances: BTreeSet<&str> =
        tree.paths().filter_map(|p| p.strip_prefix("argocd/")).filter_map(|p| p.split('/').next()).collect();
    assert_eq!(instances, BTreeSet::from(["brainsait"]), "the three environments share one Argo CD");
    let root: Application = parse(&tree, "argocd/brainsait/bootstrap/application-brainsait-root.yaml");
    assert_eq!(root.spec.source.path, "deploy/argocd/brainsait/apps");

    let apps: BTreeSet<&str> = tree
        .paths()
        .filter_map(|p| p.strip_prefix("argocd/brainsait/apps/application-"))
        .filter_map(|p| p.strip_suffix(".yaml"))
        .collect();
    // The cluster's add-ons, then an Application per environment and service.
    let mut expected: BTreeSet<String> = [
        "cert-manager",
        "external-secrets",
        "gatekeeper",
        "ingress-nginx",
        "metallb",
        "metrics-server",
        "sealed-secrets",
    ]
    .map(String::from)
    .into();
    for env in ENVS {
        expected.insert(format!("brainsait-{env}"));
        for s in SERVICES {
            expected.insert(format!("{s}-{env}"));
        }
    }
    assert_eq!(apps, expected.iter().map(String::as_str).collect());
    for env in ENVS {
        for (name, dir) in SERVICES
            .iter()
            .map(|s| (format!("{s}-{env}"), *s))
            .chain([(format!("brainsait-{env}"), "platform")])
        {
            let app: Application = parse(&tree, &format!("argocd/brainsait/apps/application-{name}.yaml"));
            assert_eq!(app.spec.project, format!("brainsait-{env}"), "an AppProject per environment");
            assert_eq!(app.spec.source.path, format!("deploy/{env}/{dir}"));
            assert_eq!(app.spec.destination.namespace, format!("brainsait-{env}"));
            assert_eq!(app.spec.destination.cluster, ClusterRef::in_cluster(), "one cluster");
            let auto =
                app.spec.sync_policy.as_ref().unwrap().automated.as_ref().map(|a| (a.prune, a.self_heal));
            let expected = match env {
                "dev" => Some((true, true)),
                "staging" => Some((true, false)),
                _ => None,
            };
            assert_eq!(auto, expected, "{name}: production syncs by hand only");
            let subscribed = &app.metadata.annotations.as_ref().unwrap()["notifications.argoproj.io/subscribe.on-sync-failed.slack"];
            assert_eq!(subscribed, "brainsait-deployments");
        }
        let project: AppProject =
            parse(&tree, &format!("argocd/brainsait/apps/appproject-brainsait-{env}.yaml"));
        assert!(project.spec.permits_destination(&ClusterRef::in_cluster(), &format!("brainsait-{env}")));
        for other in ENVS.iter().filter(|o| **o != env) {
            assert!(
                !project.spec.permits_destination(&ClusterRef::in_cluster(), &format!("brainsait-{other}"))
            );
            // One cluster, three environments: a project may create or
            // change only its own Namespace, by name.
            assert!(
                !project.spec.permits_object("", "Namespace", &format!("brainsait-{other}"), false),
                "{env}"
            );
        }
        assert!(project.spec.permits_object("", "Namespace", &format!("brainsait-{env}"), false));
        let windows = &project.spec.sync_windows;
        if env == "production" {
            assert_eq!(windows.len(), 1);
            assert_eq!((windows[0].kind, windows[0].manual_sync), (SyncWindowKind::Allow, false));
        } else {
            assert!(windows.is_empty(), "{env}");
        }
    }
    let notifications = text(&tree, "argocd/brainsait/apps/configmap-argocd-notifications-cm.yaml");
    assert!(
        notifications.contains("trigger.on-sync-failed") && notifications.contains("token: $slack-token")
    );
}

#[test]
fn production_objects_carry_the_compliance_label_and_staging_and_production_run_gatekeeper() {
    for (profile, objects) in objects() {
        let env = profile.name.as_str();
        for o in &objects {
            let label = o.metadata().labels.as_ref().and_then(|l| l.get("compliance")).map(String::as_str);
            let expected = (env == "production").then_some("pdpl");
            assert_eq!(label, expected, "{env}: {} {}", o.kind(), o.name());
        }
        let constraints: Vec<&Object> =
            objects.iter().filter(|o| o.kind() == "K8sPSPPrivilegedContainer").collect();
        if env == "dev" {
            assert!(constraints.is_empty());
        } else {
            let Object::PrivilegedContainerConstraint(c) = constraints[0] else { panic!() };
            assert_eq!(c.spec.match_.namespaces, [format!("brainsait-{env}")]);
        }
    }
}

#[test]
fn mongodb_credentials_are_sealed_in_dev_and_read_from_an_owned_vault_store_elsewhere() {
    let tree = tree();
    assert!(!tree.paths().any(|p| p.contains("/secret-")), "no Secret is ever rendered");
    // Dev: the committed ciphertext, sealed for brainsait-dev/api-db-credentials.
    let file = "secrets/dev/api-db-credentials.yaml";
    let sealed = std::fs::read_to_string(root().join("examples/brainsait-rcm").join(file)).unwrap();
    let keys = ["MONGODB_URI", "dbname", "password", "username"];
    let data = parse_kubeseal_output(file, &sealed, "api-db-credentials", "brainsait-dev", &keys).unwrap();
    for ciphertext in data.values() {
        let bytes = base64::engine::general_purpose::STANDARD.decode(ciphertext).unwrap();
        assert_eq!(bytes[..2], [2, 0], "a 4096-bit RSA block: the example certificate's key");
    }
    let rendered = text(&tree, "dev/api/sealedsecret-api-db-credentials.yaml");
    for ciphertext in data.values() {
        assert!(rendered.contains(ciphertext.as_str()));
    }
    assert!(!tree.paths().any(|p| p.starts_with("dev/") && p.contains("externalsecret")));
    assert!(!tree.paths().any(|p| p.starts_with("dev/") && p.contains("secretstore")));
    // Staging and production: an ExternalSecret against the environment's own Vault SecretStore.
    for env in ["staging", "production"] {
        let es = text(&tree, &format!("{env}/api/externalsecret-api-db-credentials.yaml"));
        assert!(es.contains("name: vault-backend\n    kind: SecretStore"), "{es}");
        assert!(es.contains(&format!("key: mongodb/{env}/api-db")), "{es}");
        let store = text(&tree, &format!("{env}/platform/secretstore-vault-backend.yaml"));
        assert!(store.contains(&format!("role: brainsait-{env}")), "{store}");
        assert!(tree.get(&format!("{env}/platform/serviceaccount-vault-backend.yaml")).is_some());
        assert!(!tree.paths().any(|p| p.starts_with(&format!("{env}/")) && p.contains("sealedsecret")));
    }
}

/// A constraint's kind is a CRD Gatekeeper makes from its template: the
/// instance's root syncs the template, once for the cluster, in Argo CD's
/// configuration wave, before the environments' Applications (wave 0) that
/// hold the constraints; the constraints skip the dry run their kind may
/// not yet exist for.
#[test]
fn the_privileged_constraint_has_its_template_synced_first() {
    use gitops_core::crd::gatekeeper::{ConstraintTemplate, PrivilegedContainerConstraint};
    let tree = tree();
    let template: ConstraintTemplate =
        parse(&tree, "argocd/brainsait/apps/constrainttemplate-k8spspprivilegedcontainer.yaml");
    assert_eq!(template.spec.crd.spec.names.kind, "K8sPSPPrivilegedContainer");
    assert_eq!(template.metadata.namespace, None, "cluster-scoped");
    let wave = |annotations: &Option<std::collections::BTreeMap<String, String>>| -> i32 {
        annotations
            .as_ref()
            .and_then(|a| a.get("argocd.argoproj.io/sync-wave"))
            .map_or(0, |w| w.parse().unwrap())
    };
    let template_wave = wave(&template.metadata.annotations);
    let bootstrap: AppProject =
        parse(&tree, "argocd/brainsait/bootstrap/appproject-brainsait-bootstrap.yaml");
    assert!(bootstrap.spec.permits_object(
        "templates.gatekeeper.sh",
        "ConstraintTemplate",
        "k8spspprivilegedcontainer",
        false
    ));
    assert!(!bootstrap.spec.permits_object(
        "templates.gatekeeper.sh",
        "ConstraintTemplate",
        "anything-else",
        false
    ));
    let mut constraints = 0;
    for env in ENVS {
        for (path, _) in
            tree.files().filter(|(p, _)| p.starts_with(&format!("{env}/")) && p.contains("k8spspprivileged"))
        {
            let constraint: PrivilegedContainerConstraint = parse(&tree, path);
            let options =
                &constraint.metadata.annotations.as_ref().unwrap()["argocd.argoproj.io/sync-options"];
            assert!(options.split(',').any(|o| o == "SkipDryRunOnMissingResource=true"), "{path}");
            let app: Application =
                parse(&tree, &format!("argocd/brainsait/apps/application-brainsait-{env}.yaml"));
            assert!(template_wave < wave(&app.metadata.annotations), "{env}: the template comes first");
            constraints += 1;
        }
    }
    assert_eq!(constraints, 2, "staging and production hold one each");
}
