//! The cluster add-ons the sources assume (ClinicFlow's GitOps README:
//! ingress-nginx behind MetalLB, cert-manager, External Secrets; BrainSAIT's
//! pipeline document adds Sealed Secrets and Gatekeeper): Applications of
//! their upstream charts at pinned versions, synced by each instance's root
//! before anything that uses them; and the check that refuses a tree
//! needing an add-on the instance does not install.

use gitops_core::addons;
use gitops_core::crd::argocd::{AppProject, Application, RESOURCES_FINALIZER};
use gitops_core::profile::EnvironmentProfile;
use gitops_core::yaml;
use gitops_tree::Tree;
use pretty_assertions::assert_eq;
use workspace_tests::{clinicflow_tree, text, try_brainsait};

fn wave(annotations: Option<&std::collections::BTreeMap<String, String>>) -> i32 {
    annotations.and_then(|a| a.get("argocd.argoproj.io/sync-wave")).map_or(0, |w| w.parse().unwrap())
}

/// Every document of `dir` with its kind, name and sync wave.
fn documents(tree: &Tree, dir: &str) -> Vec<(String, String, i32, serde_json::Value)> {
    tree.files()
        .filter(|(p, _)| p.starts_with(dir) && p.ends_with(".yaml") && !p.ends_with("kustomization.yaml"))
        .map(|(p, _)| {
            let v: serde_json::Value = yaml::from_str(text(tree, p)).unwrap();
            let annotations: Option<std::collections::BTreeMap<String, String>> =
                serde_json::from_value(v["metadata"]["annotations"].clone()).unwrap();
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["metadata"]["name"].as_str().unwrap().to_owned(),
                wave(annotations.as_ref()),
                v,
            )
        })
        .collect()
}

#[test]
fn each_cluster_installs_its_add_ons_before_anything_that_uses_them() {
    let tree = clinicflow_tree();
    for env in ["dev", "staging", "prod"] {
        let apps = documents(&tree, &format!("argocd/{env}/apps/"));
        let addons: Vec<&str> =
            ["metallb", "ingress-nginx", "cert-manager", "external-secrets", "metrics-server"].into();
        let mut seen = Vec::new();
        for (kind, name, wave, value) in &apps {
            match (kind.as_str(), name.as_str()) {
                ("Application", name) if addons.contains(&name) => {
                    let app: Application = serde_json::from_value(value.clone()).unwrap();
                    // MetalLB first: ingress-nginx's LoadBalancer Service is
                    // healthy only once the pool has given it an address.
                    let first = if name == "metallb" { -5 } else { -3 };
                    assert_eq!(*wave, first, "{name}");
                    assert_eq!(app.spec.project, "clinicflow-addons");
                    let source = &app.spec.source;
                    assert!(source.chart.is_some() && source.path.is_empty(), "{name}: a chart");
                    assert!(
                        source.target_revision.trim_start_matches('v').split('.').count() == 3,
                        "{name}: a pinned version"
                    );
                    assert!(
                        !app.metadata.finalizers.unwrap_or_default().iter().any(|f| f == RESOURCES_FINALIZER),
                        "{name}: deleting it must not delete the CRDs, and with them every certificate or secret"
                    );
                    seen.push(name.to_owned());
                }
                ("IPAddressPool" | "L2Advertisement", _) => {
                    assert_eq!(*wave, -4, "{name}: once MetalLB is healthy, before the other add-ons");
                    assert_eq!(value["metadata"]["namespace"], "metallb-system");
                    assert_eq!(
                        value["metadata"]["annotations"]["argocd.argoproj.io/sync-options"],
                        "SkipDryRunOnMissingResource=true",
                        "its CRD comes from MetalLB's chart, in the same sync"
                    );
                }
                ("Application", _) => assert!(*wave >= 0, "{name}: an environment after the add-ons"),
                // A wave of its own: within a wave, custom resources go by name.
                ("AppProject", "clinicflow-addons") => assert_eq!(*wave, -6),
                _ => assert!(*wave >= -1, "{kind} {name}"),
            }
        }
        // The health of Applications, which makes each wave wait for the
        // add-ons before it, and the tracking method hold from the root's
        // first sync: `argocd-cm` is applied with the bootstrap.
        let bootstrap_cm = text(&tree, &format!("argocd/{env}/bootstrap/configmap-argocd-cm.yaml"));
        assert_eq!(bootstrap_cm, text(&tree, &format!("argocd/{env}/apps/configmap-argocd-cm.yaml")));
        assert!(bootstrap_cm.contains("resource.customizations.health.argoproj.io_Application"));
        seen.sort();
        let mut want: Vec<String> = addons.iter().map(|a| (*a).to_owned()).collect();
        want.sort();
        assert_eq!(seen, want, "{env}");

        // The add-ons' project: their chart repositories, their namespaces.
        let project: AppProject =
            yaml::from_str(text(&tree, &format!("argocd/{env}/apps/appproject-clinicflow-addons.yaml")))
                .unwrap();
        assert!(project.spec.source_repos.contains(&"https://charts.jetstack.io".to_owned()));
        assert!(!project.spec.source_repos.iter().any(|r| r == "*" || r.ends_with(".git")), "charts only");
        let namespaces: Vec<&str> = project.spec.destinations.iter().map(|d| d.namespace.as_str()).collect();
        assert_eq!(
            namespaces,
            ["cert-manager", "external-secrets", "ingress-nginx", "kube-system", "metallb-system"]
        );
        assert!(!project.spec.permits_destination(
            &gitops_core::crd::argocd::ClusterRef::in_cluster(),
            &format!("clinicflow-{env}")
        ));

        // The root's project admits MetalLB's pool where MetalLB runs.
        let bootstrap: AppProject = yaml::from_str(text(
            &tree,
            &format!("argocd/{env}/bootstrap/appproject-clinicflow-bootstrap.yaml"),
        ))
        .unwrap();
        assert!(
            bootstrap
                .spec
                .permits_destination(&gitops_core::crd::argocd::ClusterRef::in_cluster(), "metallb-system")
        );
        assert!(bootstrap.spec.permits_kind("metallb.io", "IPAddressPool", true));
    }
}

fn render_error(profiles: &[EnvironmentProfile]) -> String {
    try_brainsait(profiles).expect_err("refused")
}

fn without(name: &str) -> Vec<EnvironmentProfile> {
    let mut profiles = brainsait_rcm::environments();
    for p in &mut profiles {
        p.argocd.addons.retain(|a| a.name.as_str() != name);
    }
    profiles
}

#[test]
fn a_tree_needing_an_add_on_the_cluster_lacks_is_refused() {
    for (missing, kind, need) in [
        ("external-secrets", "", "the API group `external-secrets.io`"),
        ("sealed-secrets", "SealedSecret", "the API group `bitnami.com`"),
        ("gatekeeper", "K8sPSPPrivilegedContainer", "the API group `constraints.gatekeeper.sh`"),
        ("cert-manager", "Ingress", "the API group `cert-manager.io`"),
        ("ingress-nginx", "Ingress", "an ingress controller for class `nginx`"),
    ] {
        let message = render_error(&without(missing));
        assert!(message.contains(kind) && message.contains(need), "without {missing}: {message}");
        assert!(message.contains("argocd.addons"), "{message}");
    }
    // An ingress controller for another class does not serve `nginx`.
    let mut profiles = without("ingress-nginx");
    for p in &mut profiles {
        p.argocd.addons.push(addons::ingress_nginx(&gitops_core::name!("public"), None));
    }
    assert!(render_error(&profiles).contains("class `nginx`"));
}

#[test]
fn with_no_add_ons_declared_the_cluster_is_trusted_to_have_them() {
    let mut profiles = brainsait_rcm::environments();
    for p in &mut profiles {
        p.argocd.addons.clear();
    }
    let tree = try_brainsait(&profiles).unwrap();
    assert!(tree.paths().all(|p| !p.contains("application-cert-manager") && !p.contains("addons")));
}

#[test]
fn environments_of_one_instance_must_agree_on_add_ons() {
    let mut profiles = brainsait_rcm::environments();
    profiles[1].argocd.addons.pop();
    let message = render_error(&profiles);
    assert!(message.contains("argocd.addons") && message.contains("instance `brainsait`"), "{message}");
}
