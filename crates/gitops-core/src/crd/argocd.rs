//! Argo CD `Application` (`argoproj.io/v1alpha1`) and the annotations Argo CD
//! reads on the resources it syncs.
//!
//! Only fields of the upstream CRD exist here, each once: BrainSAIT's pipeline document's second
//! `syncPolicy` key and its invented `preSyncHook` field cannot be written.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CustomResource, CustomResourceSpec};

/// The namespace Argo CD runs in and reads Applications from.
pub const ARGOCD_NAMESPACE: &str = "argocd";

/// `argocd.argoproj.io/hook`.
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// `argocd.argoproj.io/hook-delete-policy`.
pub const HOOK_DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";
/// `argocd.argoproj.io/sync-options` on a single resource.
pub const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";
/// Deleting an Application with this finalizer deletes what it deployed (cascade).
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// `notifications.argoproj.io/subscribe.<trigger>.<service>`: who hears of a trigger.
pub fn subscribe_annotation(trigger: &str, service: &str) -> String {
    format!("notifications.argoproj.io/subscribe.{trigger}.{service}")
}

string_enum! {
    /// The sync phase a hook runs in.
    pub enum HookPhase {
        PreSync => "PreSync",
        Sync => "Sync",
        PostSync => "PostSync",
        SyncFail => "SyncFail",
        PostDelete => "PostDelete",
        Skip => "Skip",
    }
}

string_enum! {
    /// When Argo CD deletes a hook resource.
    pub enum HookDeletePolicy {
        HookSucceeded => "HookSucceeded",
        HookFailed => "HookFailed",
        /// Delete the previous run just before creating the next: a Job with
        /// a fixed name can run again on every sync, and its last run's logs
        /// stay readable until then.
        BeforeHookCreation => "BeforeHookCreation",
    }
}

string_enum! {
    /// One entry of `spec.syncPolicy.syncOptions`, or of the
    /// `argocd.argoproj.io/sync-options` annotation.
    pub enum SyncOption {
        CreateNamespace => "CreateNamespace=true",
        PruneLast => "PruneLast=true",
        ApplyOutOfSyncOnly => "ApplyOutOfSyncOnly=true",
        ServerSideApply => "ServerSideApply=true",
        RespectIgnoreDifferences => "RespectIgnoreDifferences=true",
        FailOnSharedResource => "FailOnSharedResource=true",
        PrunePropagationForeground => "PrunePropagationPolicy=foreground",
        /// On a resource: never prune it (a Namespace holding volumes).
        PruneDisabled => "Prune=false",
        /// On a resource: keep it when the Application is deleted.
        DeleteDisabled => "Delete=false",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSpec {
    pub project: String,
    pub source: ApplicationSource,
    pub destination: ApplicationDestination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<Info>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
}

impl CustomResourceSpec for ApplicationSpec {
    const API_VERSION: &'static str = "argoproj.io/v1alpha1";
    const KIND: &'static str = "Application";
}

pub type Application = CustomResource<ApplicationSpec>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<ApplicationSourceDirectory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<ApplicationSourceKustomize>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSourceDirectory {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recurse: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSourceKustomize {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_annotations: BTreeMap<String, String>,
}

/// Where an Application deploys: exactly one of `server` or `name`, so the two
/// cannot both be set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
// No `deny_unknown_fields`: serde does not support it next to `flatten`.
pub struct ApplicationDestination {
    #[serde(flatten)]
    pub cluster: ClusterRef,
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ClusterRef {
    /// The API server URL; `https://kubernetes.default.svc` is the cluster Argo CD runs in.
    Server(String),
    /// The name of a cluster registered in Argo CD.
    Name(String),
}

string_enum! {
    /// `spec.syncWindows[].kind`: lower-case, as Argo CD checks it.
    pub enum SyncWindowKind {
        Allow => "allow",
        Deny => "deny",
    }
}

/// AppProject: what an Application may deploy, from where, to where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppProjectSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub source_repos: Vec<String>,
    pub destinations: Vec<ProjectDestination>,
    /// Cluster-scoped kinds an Application may manage; empty means none.
    #[serde(default)]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    /// Namespaced kinds an Application may manage.
    #[serde(default)]
    pub namespace_resource_whitelist: Vec<GroupKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_windows: Vec<SyncWindow>,
}

impl AppProjectSpec {
    /// Whether Argo CD lets an Application of this project deploy to
    /// `namespace` of `cluster` (exact names, or `*` for any).
    pub fn permits_destination(&self, cluster: &ClusterRef, namespace: &str) -> bool {
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        self.destinations.iter().any(|d| {
            let cluster_ok = match (&d.cluster, cluster) {
                (ClusterRef::Server(p), ClusterRef::Server(v))
                | (ClusterRef::Name(p), ClusterRef::Name(v)) => matches(p, v),
                _ => false,
            };
            cluster_ok && matches(&d.namespace, namespace)
        })
    }

    /// Whether the project lets an Application manage `(group, kind)`.
    pub fn permits_kind(&self, group: &str, kind: &str, namespaced: bool) -> bool {
        let list =
            if namespaced { &self.namespace_resource_whitelist } else { &self.cluster_resource_whitelist };
        list.iter().any(|gk| gk.group == group && gk.kind == kind)
    }
}

impl CustomResourceSpec for AppProjectSpec {
    const API_VERSION: &'static str = "argoproj.io/v1alpha1";
    const KIND: &'static str = "AppProject";
}

pub type AppProject = CustomResource<AppProjectSpec>;

/// A destination an AppProject allows: one cluster (by server or name) and one namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectDestination {
    #[serde(flatten)]
    pub cluster: ClusterRef,
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupKind {
    /// `""` for the core API group.
    pub group: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncWindow {
    pub kind: SyncWindowKind,
    /// A cron expression: when the window opens.
    pub schedule: String,
    /// How long it stays open, as a Go duration (`2h`).
    pub duration: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// Whether manual syncs may bypass the window.
    #[serde(default)]
    pub manual_sync: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl ClusterRef {
    pub const IN_CLUSTER: &'static str = "https://kubernetes.default.svc";

    pub fn in_cluster() -> Self {
        ClusterRef::Server(Self::IN_CLUSTER.into())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<SyncPolicyAutomated>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<SyncOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncPolicyAutomated {
    pub prune: bool,
    pub self_heal: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryStrategy {
    pub limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backoff {
    /// A Go duration such as `5s`.
    pub duration: String,
    pub factor: i64,
    pub max_duration: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceIgnoreDifferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Info {
    pub name: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn app() -> Application {
        CustomResource::new(
            ObjectMeta { name: Some("x".into()), namespace: Some("argocd".into()), ..Default::default() },
            ApplicationSpec {
                project: "default".into(),
                source: ApplicationSource {
                    repo_url: "https://example.com/r.git".into(),
                    target_revision: "main".into(),
                    path: "deploy/dev".into(),
                    directory: None,
                    kustomize: None,
                },
                destination: ApplicationDestination {
                    cluster: ClusterRef::in_cluster(),
                    namespace: "ns".into(),
                },
                sync_policy: Some(SyncPolicy {
                    automated: Some(SyncPolicyAutomated { prune: true, self_heal: true, allow_empty: false }),
                    sync_options: vec![SyncOption::PruneLast],
                    retry: Some(RetryStrategy {
                        limit: 3,
                        backoff: Some(Backoff {
                            duration: "5s".into(),
                            factor: 2,
                            max_duration: "3m".into(),
                        }),
                    }),
                }),
                ignore_differences: vec![],
                info: vec![],
                revision_history_limit: None,
            },
        )
    }

    #[test]
    fn serializes_upstream_field_names() {
        let v = serde_json::to_value(app()).unwrap();
        assert_eq!(v["apiVersion"], "argoproj.io/v1alpha1");
        assert_eq!(v["kind"], "Application");
        assert_eq!(v["spec"]["source"]["repoURL"], "https://example.com/r.git");
        assert_eq!(v["spec"]["source"]["targetRevision"], "main");
        assert_eq!(v["spec"]["destination"]["server"], "https://kubernetes.default.svc");
        assert_eq!(v["spec"]["syncPolicy"]["automated"]["selfHeal"], true);
        assert_eq!(v["spec"]["syncPolicy"]["syncOptions"][0], "PruneLast=true");
        assert_eq!(v["spec"]["syncPolicy"]["retry"]["backoff"]["maxDuration"], "3m");
        assert!(v["spec"].get("ignoreDifferences").is_none());
    }

    #[test]
    fn app_project_matches_the_documented_example() {
        // The shape of the AppProject example in Argo CD's declarative-setup
        // documentation, reduced to the fields this crate emits.
        let documented = r#"
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: my-project
  namespace: argocd
spec:
  description: Example Project
  sourceRepos:
  - https://github.com/argoproj/argocd-example-apps.git
  destinations:
  - namespace: guestbook
    server: https://kubernetes.default.svc
  clusterResourceWhitelist:
  - group: ''
    kind: Namespace
  namespaceResourceWhitelist:
  - group: apps
    kind: Deployment
  syncWindows:
  - kind: allow
    schedule: 10 1 * * *
    duration: 1h
    applications:
    - '*-prod'
    manualSync: true
    timeZone: Europe/Amsterdam
"#;
        let project: AppProject = crate::yaml::from_str(documented).unwrap();
        assert_eq!(project.spec.destinations[0].cluster, ClusterRef::in_cluster());
        assert_eq!(project.spec.sync_windows[0].kind, SyncWindowKind::Allow);
        let back = serde_json::to_value(&project).unwrap();
        let want: serde_json::Value = crate::yaml::from_str(documented).unwrap();
        assert_eq!(back, want, "serializes to exactly the documented field names");
    }

    #[test]
    fn application_matches_the_documented_example() {
        // The guestbook Application of Argo CD's declarative-setup
        // documentation, with the sync policy of its automated-sync page.
        let documented = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
    - CreateNamespace=true
    retry:
      limit: 5
      backoff:
        duration: 5s
        factor: 2
        maxDuration: 3m
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers:
    - /spec/replicas
"#;
        let app: Application = crate::yaml::from_str(documented).unwrap();
        let back = serde_json::to_value(&app).unwrap();
        let want: serde_json::Value = crate::yaml::from_str(documented).unwrap();
        assert_eq!(back, want, "serializes to exactly the documented field names");
    }

    #[test]
    fn a_project_permits_only_its_destinations() {
        let spec = AppProjectSpec {
            description: None,
            source_repos: vec!["https://example.com/r.git".into()],
            destinations: vec![ProjectDestination {
                cluster: ClusterRef::in_cluster(),
                namespace: "app-dev".into(),
            }],
            cluster_resource_whitelist: vec![GroupKind { group: "".into(), kind: "Namespace".into() }],
            namespace_resource_whitelist: vec![GroupKind { group: "apps".into(), kind: "Deployment".into() }],
            sync_windows: vec![],
        };
        assert!(spec.permits_destination(&ClusterRef::in_cluster(), "app-dev"));
        assert!(!spec.permits_destination(&ClusterRef::in_cluster(), "app-prod"));
        assert!(!spec.permits_destination(&ClusterRef::Server("https://prod:6443".into()), "app-dev"));
        assert!(!spec.permits_destination(&ClusterRef::Name("in-cluster".into()), "app-dev"));
        assert!(spec.permits_kind("", "Namespace", false));
        assert!(!spec.permits_kind("rbac.authorization.k8s.io", "ClusterRole", false));
        assert!(spec.permits_kind("apps", "Deployment", true));
        assert!(!spec.permits_kind("", "Secret", true));
    }

    #[test]
    fn a_sync_window_kind_is_lower_case() {
        assert!(serde_json::from_value::<SyncWindowKind>("Allow".into()).is_err());
        assert_eq!(serde_json::to_value(SyncWindowKind::Deny).unwrap(), "deny");
    }

    #[test]
    fn round_trips() {
        let v = serde_json::to_value(app()).unwrap();
        let back: Application = serde_json::from_value(v).unwrap();
        assert_eq!(back, app());
    }

    #[test]
    fn the_pipeline_documents_mistakes_do_not_parse() {
        let mut v = serde_json::to_value(app()).unwrap();
        v["spec"]["syncPolicy"]["preSyncHook"] = serde_json::json!([{"name": "opa-validate"}]);
        let err = serde_json::from_value::<Application>(v).unwrap_err().to_string();
        assert!(err.contains("preSyncHook"), "{err}");

        let mut v = serde_json::to_value(app()).unwrap();
        v["spec"]["syncPolicy"]["syncOptions"][0] = "CreateNamespace=yes".into();
        assert!(serde_json::from_value::<Application>(v).is_err());
    }
}
