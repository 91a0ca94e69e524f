//! The Argo CD side of the ClinicFlow tree: one instance per cluster, a root
//! Application to bootstrap it, least-privilege projects, sync policies.

use gitops_core::crd::argocd::{AppProject, Application, ClusterRef, SyncOption, SyncWindowKind};
use gitops_core::yaml;
use gitops_tree::argocd::child_kinds;
use pretty_assertions::assert_eq;
use workspace_tests::{clinicflow_objects, clinicflow_tree, text};

const REPO: &str = "https://github.com/bludivehub/clinicflow-gitops.git";

fn app(env: &str, file: &str) -> Application {
    yaml::from_str(text(&clinicflow_tree(), &format!("argocd/{env}/{file}"))).unwrap()
}

fn project(env: &str) -> AppProject {
    yaml::from_str(text(&clinicflow_tree(), &format!("argocd/{env}/apps/appproject-clinicflow-{env}.yaml")))
        .unwrap()
}

#[test]
fn each_environment_application_syncs_its_directory_with_its_policy() {
    for (env, automated) in [("dev", Some((true, true))), ("staging", Some((true, false))), ("prod", None)] {
        let app = app(env, &format!("apps/application-clinicflow-{env}.yaml"));
        assert_eq!(app.spec.project, format!("clinicflow-{env}"));
        assert_eq!(app.spec.source.repo_url, REPO);
        assert_eq!(app.spec.source.path, format!("deploy/{env}"));
        assert_eq!(
            app.spec.destination.cluster,
            ClusterRef::in_cluster(),
            "each cluster runs its own Argo CD"
        );
        assert_eq!(app.spec.destination.namespace, format!("clinicflow-{env}"));
        let policy = app.spec.sync_policy.unwrap();
        assert_eq!(policy.automated.map(|a| (a.prune, a.self_heal)), automated, "{env}");
        assert_eq!(policy.sync_options, [SyncOption::CreateNamespace, SyncOption::PruneLast]);
        let retry = policy.retry.as_ref().unwrap();
        let backoff = retry.backoff.as_ref().unwrap();
        assert_eq!((retry.limit, backoff.duration.as_str(), backoff.factor), (3, "5s", 2));
        let annotations = app.metadata.annotations.unwrap();
        assert_eq!(
            annotations["notifications.argoproj.io/subscribe.on-sync-failed.slack"],
            "clinicflow-deploys"
        );
    }
}

#[test]
fn production_never_syncs_automatically_and_only_inside_its_window() {
    let app = app("prod", "apps/application-clinicflow-prod.yaml");
    assert!(app.spec.sync_policy.unwrap().automated.is_none());
    let windows = project("prod").spec.sync_windows;
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0].kind, SyncWindowKind::Allow);
    assert!(!windows[0].manual_sync, "outside the window even manual syncs are refused");
    assert_eq!(windows[0].applications, ["*"]);
    assert!(project("dev").spec.sync_windows.is_empty() && project("staging").spec.sync_windows.is_empty());
}

#[test]
fn projects_allow_only_the_repository_the_environment_and_the_kinds_it_renders() {
    let envs = clinicflow_objects();
    for (profile, objects) in &envs {
        let env = profile.name.as_str();
        let spec = project(env).spec;
        assert_eq!(spec.source_repos, [REPO]);
        assert!(spec.permits_destination(&ClusterRef::in_cluster(), &format!("clinicflow-{env}")));
        for (other, _) in envs.iter().filter(|(p, _)| p.name != profile.name) {
            let ns = other.namespace.as_str();
            assert!(!spec.permits_destination(&ClusterRef::in_cluster(), ns), "{env} project allows {ns}");
        }
        assert!(!spec.permits_destination(&ClusterRef::in_cluster(), "kube-system"));
        let cluster_kinds: Vec<_> =
            spec.cluster_resource_whitelist.iter().map(|gk| gk.kind.as_str()).collect();
        assert_eq!(
            cluster_kinds,
            ["Namespace", "ClusterIssuer"],
            "the Namespace, and the issuer the profile has the tree create"
        );
        for o in objects {
            let (group, kind) = o.group_kind();
            assert!(spec.permits_object(group, kind, o.name(), o.namespace().is_some()), "{env}: {kind}");
        }
        // Cluster-scoped objects only by name: the environment's own
        // Namespace and issuer, not another environment's or kube-system.
        assert!(spec.cluster_resource_whitelist.iter().all(|c| c.name.is_some()), "{env}");
        assert!(spec.permits_object("", "Namespace", &format!("clinicflow-{env}"), false));
        for (other, _) in envs.iter().filter(|(p, _)| p.name != profile.name) {
            assert!(!spec.permits_object("", "Namespace", other.namespace.as_str(), false), "{env}");
        }
        assert!(!spec.permits_object("", "Namespace", "kube-system", false));
        // Nothing more than what is rendered and what its controllers make:
        // every whitelisted kind is rendered, or the child of a rendered kind.
        for gk in &spec.namespace_resource_whitelist {
            let wanted = (gk.group.as_str(), gk.kind.as_str());
            assert!(
                objects.iter().any(|o| {
                    let (group, kind) = o.group_kind();
                    (group, kind) == wanted || child_kinds(group, kind).contains(&wanted)
                }),
                "{gk:?}"
            );
        }
        // What operators look at in the resource tree is visible: the pods and
        // ReplicaSets of the Deployments, the pods and claims of the databases,
        // the pods of the migration hooks, the Secrets ExternalSecrets write.
        for (group, kind) in
            [("apps", "ReplicaSet"), ("", "Pod"), ("", "PersistentVolumeClaim"), ("", "Secret")]
        {
            assert!(spec.permits_kind(group, kind, true), "{env}: {kind} is hidden from the resource tree");
        }
        // The tree itself renders none of them: they stay the controllers' own.
        for o in objects {
            assert!(
                !matches!(o.kind(), "Pod" | "ReplicaSet" | "PersistentVolumeClaim" | "ControllerRevision"),
                "{o:?}"
            );
        }
    }
}

#[test]
fn a_root_application_bootstraps_each_instance_in_one_apply() {
    let tree = clinicflow_tree();
    for env in ["dev", "staging", "prod"] {
        let root = app(env, "bootstrap/application-clinicflow-root.yaml");
        assert_eq!(root.spec.source.path, format!("deploy/argocd/{env}/apps"));
        assert_eq!(root.spec.project, "clinicflow-bootstrap");
        assert_eq!(root.spec.destination.namespace, "argocd");
        assert!(
            root.metadata.finalizers.is_none(),
            "deleting the root must not cascade into the environments"
        );
        let auto = root.spec.sync_policy.unwrap().automated.unwrap();
        assert!(!auto.prune && auto.self_heal);
        let bootstrap: AppProject = yaml::from_str(text(
            &tree,
            &format!("argocd/{env}/bootstrap/appproject-clinicflow-bootstrap.yaml"),
        ))
        .unwrap();
        assert!(bootstrap.spec.permits_destination(&ClusterRef::in_cluster(), "argocd"));
        assert!(!bootstrap.spec.permits_destination(&ClusterRef::in_cluster(), &format!("clinicflow-{env}")));
        assert!(bootstrap.spec.cluster_resource_whitelist.is_empty());
        // Every Application the root syncs names a project the root also syncs.
        let prefix = format!("argocd/{env}/apps/application-");
        for path in tree.paths().filter(|p| p.starts_with(&prefix)) {
            let child: Application = yaml::from_str(text(&tree, path)).unwrap();
            let project = format!("argocd/{env}/apps/appproject-{}.yaml", child.spec.project);
            assert!(tree.get(&project).is_some(), "{path} needs {project}");
        }
    }
}

#[test]
fn argo_cd_configuration_restores_application_health_and_keeps_tokens_out() {
    let tree = clinicflow_tree();
    for env in ["dev", "staging", "prod"] {
        let cm = text(&tree, &format!("argocd/{env}/apps/configmap-argocd-cm.yaml"));
        assert!(cm.contains("resource.customizations.health.argoproj.io_Application"));
        assert!(cm.contains("hs.status = obj.status.health.status"));
        let notifications = text(&tree, &format!("argocd/{env}/apps/configmap-argocd-notifications-cm.yaml"));
        assert!(notifications.contains("token: $slack-token"), "the token is a reference to the secret");
        for key in ["trigger.on-sync-failed", "trigger.on-health-degraded", "template.app-sync-failed"] {
            assert!(notifications.contains(key), "{key}");
        }
        // Once per revision, as the notifications catalog writes it: a failed
        // operation may have no syncResult.
        assert!(
            notifications.contains("oncePer: app.status.operationState?.syncResult?.revision"),
            "{notifications}"
        );
        assert!(!notifications.contains("oncePer: app.status.operationState.syncResult"), "{notifications}");
        // Production, and only production, announces its successful syncs.
        let app = app(env, &format!("apps/application-clinicflow-{env}.yaml"));
        let annotations = app.metadata.annotations.unwrap();
        let succeeded = annotations.get("notifications.argoproj.io/subscribe.on-sync-succeeded.slack");
        assert_eq!(succeeded.is_some(), env == "prod", "{env}: {annotations:?}");
        assert!(notifications.contains("trigger.on-sync-succeeded"));
    }
}

/// Deleting an Application (a cascading delete by default) must never delete
/// an environment's data: the Namespace, the database StatefulSets and the
/// claims they make survive it, and Argo CD tracks objects by annotation so
/// that the claims, which carry the `app.kubernetes.io/instance` label of
/// their StatefulSet (equal to the Application's name), are never taken for
/// the Application's own objects.
#[test]
fn deleting_an_application_keeps_the_namespace_the_databases_and_their_claims() {
    use gitops_core::Object;
    use gitops_core::crd::argocd::SYNC_OPTIONS_ANNOTATION;
    let options = |o: &Object| -> Vec<String> {
        let annotations = o.metadata().annotations.clone().unwrap_or_default();
        let value = annotations.get(SYNC_OPTIONS_ANNOTATION).cloned().unwrap_or_default();
        value.split(',').map(|s| s.trim().to_owned()).collect()
    };
    for (profile, objects) in clinicflow_objects() {
        let env = profile.name.as_str();
        let namespace = objects.iter().find(|o| o.kind() == "Namespace").expect("a Namespace");
        assert_eq!(options(namespace), ["Prune=false", "Delete=false"], "{env}: the Namespace");
        let databases: Vec<&Object> = objects.iter().filter(|o| o.kind() == "StatefulSet").collect();
        assert_eq!(databases.len(), 4, "{env}: four Postgres");
        for db in databases {
            let Object::StatefulSet(s) = db else { unreachable!() };
            let spec = s.spec.as_ref().unwrap();
            assert!(spec.volume_claim_templates.as_ref().is_some_and(|c| !c.is_empty()));
            assert_eq!(options(db), ["Delete=false"], "{env}: {}", db.name());
            let retention = spec.persistent_volume_claim_retention_policy.as_ref().unwrap();
            assert_eq!(
                retention.when_deleted.as_deref(),
                Some("Retain"),
                "{env}: claims outlive the StatefulSet"
            );
        }
        let cm: k8s_openapi::api::core::v1::ConfigMap =
            yaml::from_str(text(&clinicflow_tree(), &format!("argocd/{env}/apps/configmap-argocd-cm.yaml")))
                .unwrap();
        let data = cm.data.unwrap();
        assert_eq!(data.get("application.resourceTrackingMethod").map(String::as_str), Some("annotation"));
    }
}
