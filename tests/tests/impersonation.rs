//! Sync impersonation (Argo CD's "Application Sync using impersonation",
//! 2.13 and later): an environment's Applications sync as a ServiceAccount
//! that may change only what the environment renders, in its namespace.
//! The root makes that ServiceAccount, its Role and the Namespace first; the
//! root's and the add-ons' syncs keep the controller's rights.

use std::collections::{BTreeMap, BTreeSet};

use gitops_core::crd::argocd::{AppProject, Application, ClusterRef, SyncOption};
use gitops_core::profile::EnvironmentProfile;
use gitops_core::yaml;
use gitops_tree::Tree;
use gitops_tree::argocd::{CONTROLLER_SERVICE_ACCOUNT, IMPERSONATION_KEY, resource_name};
use pretty_assertions::assert_eq;
use workspace_tests::{root, text, try_clinicflow};

fn impersonated() -> Vec<EnvironmentProfile> {
    let mut profiles = clinicflow::environments();
    for p in &mut profiles {
        p.argocd.impersonation = true;
    }
    profiles
}

fn value(tree: &Tree, path: &str) -> serde_json::Value {
    yaml::from_str(text(tree, path)).unwrap()
}

#[test]
fn each_environment_syncs_as_a_deployer_that_may_change_only_what_it_renders() {
    let tree = try_clinicflow(&impersonated()).unwrap();
    for env in ["dev", "staging", "prod"] {
        let (apps, ns, project_name) =
            (format!("argocd/{env}/apps"), format!("clinicflow-{env}"), format!("clinicflow-{env}"));
        let deployer = format!("clinicflow-{env}-deployer");
        let cm = value(&tree, &format!("{apps}/configmap-argocd-cm.yaml"));
        assert_eq!(cm["data"][IMPERSONATION_KEY], "true");

        let project: AppProject =
            yaml::from_str(text(&tree, &format!("{apps}/appproject-{project_name}.yaml"))).unwrap();
        let accounts: Vec<(&str, &str, &str)> = project
            .spec
            .destination_service_accounts
            .iter()
            .map(|a| (a.server.as_str(), a.namespace.as_str(), a.default_service_account.as_str()))
            .collect();
        assert_eq!(accounts, [("https://kubernetes.default.svc", ns.as_str(), deployer.as_str())]);
        assert!(!project.spec.permits_kind("", "Namespace", false), "{env}: the root owns the Namespace");

        // The platform's own projects keep the controller's rights.
        for file in [
            format!("{apps}/appproject-clinicflow-addons.yaml"),
            format!("argocd/{env}/bootstrap/appproject-clinicflow-bootstrap.yaml"),
        ] {
            let p: AppProject = yaml::from_str(text(&tree, &file)).unwrap();
            assert_eq!(
                p.spec.destination_service_accounts[0].default_service_account, CONTROLLER_SERVICE_ACCOUNT,
                "{file}"
            );
        }

        // The Namespace moved to the root, still never deleted with an Application.
        assert!(tree.get(&format!("{env}/namespace-{ns}.yaml")).is_none());
        let namespace = value(&tree, &format!("{apps}/namespace-{ns}.yaml"));
        let options =
            namespace["metadata"]["annotations"]["argocd.argoproj.io/sync-options"].as_str().unwrap();
        assert!(SyncOption::DeleteDisabled.is_in(options), "{options}");
        let app: Application =
            yaml::from_str(text(&tree, &format!("{apps}/application-clinicflow-{env}.yaml"))).unwrap();
        assert!(!app.spec.sync_policy.unwrap().sync_options.contains(&SyncOption::CreateNamespace));

        // The Role: every verb a sync uses, on exactly the namespaced kinds
        // of the environment's tree, nothing more.
        let mut rendered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut cluster_scoped = BTreeMap::new();
        for (path, _) in tree.files().filter(|(p, _)| {
            p.starts_with(&format!("{env}/")) && p.ends_with(".yaml") && !p.ends_with("kustomization.yaml")
        }) {
            let v = value(&tree, path);
            let api_version = v["apiVersion"].as_str().unwrap();
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g).to_owned();
            let resource = resource_name(&group, v["kind"].as_str().unwrap());
            if v["metadata"]["namespace"].is_string() {
                rendered.entry(group).or_default().insert(resource);
            } else {
                cluster_scoped.insert(resource, v["metadata"]["name"].as_str().unwrap().to_owned());
            }
        }
        let role = value(&tree, &format!("{apps}/role-{deployer}.yaml"));
        assert_eq!(role["metadata"]["namespace"], ns.as_str());
        let (mut granted, mut read): (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) =
            Default::default();
        for rule in role["rules"].as_array().unwrap() {
            let group = rule["apiGroups"][0].as_str().unwrap().to_owned();
            let resources =
                rule["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned());
            if rule["verbs"] == serde_json::json!(["get", "list", "watch"]) {
                read.extend(resources.map(|r| format!("{group}/{r}")));
            } else {
                assert_eq!(
                    rule["verbs"],
                    serde_json::json!(["get", "list", "watch", "create", "update", "patch", "delete"])
                );
                granted.entry(group).or_default().extend(resources);
            }
        }
        assert_eq!(granted, rendered, "{env}: every verb on exactly what the environment's tree holds");
        // What operators look at through Argo CD (3.5 reads it as this
        // account): read-only, and never a Secret.
        for what in [
            "/pods",
            "/pods/log",
            "/events",
            "events.k8s.io/events",
            "apps/replicasets",
            "/persistentvolumeclaims",
        ] {
            assert!(read.contains(what), "{env}: {what} in {read:?}");
        }
        assert!(!read.contains("/secrets") && !granted.get("").is_some_and(|r| r.contains("secrets")));
        // The limits on the namespace are the root's: the account they limit cannot lift them.
        for kind in ["resourcequotas", "limitranges"] {
            assert!(!granted.get("").is_some_and(|r| r.contains(kind)), "{env}: {kind}");
        }
        assert!(tree.get(&format!("{apps}/resourcequota-clinicflow.yaml")).is_some());
        assert!(tree.get(&format!("{env}/resourcequota-clinicflow.yaml")).is_none());
        let binding = value(&tree, &format!("{apps}/rolebinding-{deployer}.yaml"));
        assert_eq!(binding["subjects"][0]["name"], deployer.as_str());
        assert_eq!(binding["subjects"][0]["namespace"], ns.as_str());
        assert_eq!(binding["roleRef"]["kind"], "Role");

        // Cluster-scoped objects besides the Namespace (dev's issuer): by name.
        if let Some(issuer) = cluster_scoped.get("clusterissuers") {
            let cluster_role = value(&tree, &format!("{apps}/clusterrole-{deployer}.yaml"));
            let named = &cluster_role["rules"][0];
            assert_eq!(named["resourceNames"], serde_json::json!([issuer]));
            assert_eq!(named["verbs"], serde_json::json!(["get", "update", "patch", "delete"]));
        }

        // The root may make all of it: the Namespace and RBAC by name, in the environment's namespace.
        let bootstrap: AppProject = yaml::from_str(text(
            &tree,
            &format!("argocd/{env}/bootstrap/appproject-clinicflow-bootstrap.yaml"),
        ))
        .unwrap();
        assert!(bootstrap.spec.permits_object("", "Namespace", &ns, false));
        assert!(bootstrap.spec.permits_destination(&ClusterRef::in_cluster(), &ns));
        for kind in ["Role", "RoleBinding"] {
            assert!(bootstrap.spec.permits_kind("rbac.authorization.k8s.io", kind, true), "{kind}");
        }
        let waves = |path: &str| {
            value(&tree, path)["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
                .as_str()
                .map(str::to_owned)
        };
        assert_eq!(
            waves(&format!("{apps}/role-{deployer}.yaml")).as_deref(),
            Some("-1"),
            "before the environment's Application"
        );
        assert_eq!(
            waves(&format!("{apps}/namespace-{ns}.yaml")).as_deref(),
            Some("-1"),
            "with what it holds, which it precedes within the wave"
        );
    }
    let out = root().join("target/validate-impersonation");
    gitops_tree::disk::write_atomically(&tree, &out).unwrap();
}

#[test]
fn impersonation_is_refused_for_another_cluster() {
    let mut profiles = impersonated();
    for p in &mut profiles {
        p.cluster = ClusterRef::Name("remote".into());
    }
    let message = try_clinicflow(&profiles).unwrap_err();
    assert!(message.contains("impersonation") && message.contains("in-cluster"), "{message}");
}

#[test]
fn resource_names_are_the_api_servers() {
    for (group, kind, resource) in [
        ("", "Service", "services"),
        ("networking.k8s.io", "NetworkPolicy", "networkpolicies"),
        ("networking.k8s.io", "Ingress", "ingresses"),
        ("policy", "PodDisruptionBudget", "poddisruptionbudgets"),
        ("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        ("gateway.networking.k8s.io", "HTTPRoute", "httproutes"),
        ("external-secrets.io", "ExternalSecret", "externalsecrets"),
        ("", "ServiceAccount", "serviceaccounts"),
        ("constraints.gatekeeper.sh", "K8sPSPPrivilegedContainer", "k8spspprivilegedcontainer"),
        ("apps", "Deployment", "deployments"),
        ("", "ConfigMap", "configmaps"),
    ] {
        assert_eq!(resource_name(group, kind), resource, "{kind}");
    }
}
