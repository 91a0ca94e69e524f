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

/// `argocd.argoproj.io/hook`: marks a resource as a hook; the value is a [`HookPhase`].
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// `argocd.argoproj.io/hook-delete-policy`: when Argo CD deletes a hook; the value is a [`HookDeletePolicy`].
pub const HOOK_DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";
/// `argocd.argoproj.io/sync-options`: [`SyncOption`]s of a single resource, comma-separated.
pub const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";
/// Deleting an Application with this finalizer deletes what it deployed (cascade).
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// `notifications.argoproj.io/subscribe.<trigger>.<service>`: who hears of a trigger.
pub fn subscribe_annotation(trigger: &str, service: &str) -> String {
    format!("notifications.argoproj.io/subscribe.{trigger}.{service}")
}

string_enum! {
    /// The sync phase a hook runs in: the value of [`HOOK_ANNOTATION`].
    pub enum HookPhase {
        /// Before any other object is applied.
        PreSync => "PreSync",
        /// With the other objects, after `PreSync` hooks succeed, in the hook's sync wave.
        Sync => "Sync",
        /// After every object is synced and healthy.
        PostSync => "PostSync",
        /// When the sync fails.
        SyncFail => "SyncFail",
        /// After the Application is deleted.
        PostDelete => "PostDelete",
        /// Never applied by Argo CD.
        Skip => "Skip",
    }
}

string_enum! {
    /// When Argo CD deletes a hook resource: the value of [`HOOK_DELETE_POLICY_ANNOTATION`].
    pub enum HookDeletePolicy {
        /// Delete the hook once it succeeds.
        HookSucceeded => "HookSucceeded",
        /// Delete the hook once it fails.
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
        /// Create the destination namespace if it does not exist.
        CreateNamespace => "CreateNamespace=true",
        /// Prune only after every other object is synced and healthy.
        PruneLast => "PruneLast=true",
        /// Apply only the objects that are out of sync.
        ApplyOutOfSyncOnly => "ApplyOutOfSyncOnly=true",
        /// Apply with Kubernetes server-side apply.
        ServerSideApply => "ServerSideApply=true",
        /// Leave the `ignoreDifferences` fields alone when applying, not only when comparing.
        RespectIgnoreDifferences => "RespectIgnoreDifferences=true",
        /// Fail the sync when an object is already managed by another Application.
        FailOnSharedResource => "FailOnSharedResource=true",
        /// Prune with foreground deletion: dependents go first.
        PrunePropagationForeground => "PrunePropagationPolicy=foreground",
        /// On a resource: never prune it (a Namespace holding volumes).
        PruneDisabled => "Prune=false",
        /// On a resource: keep it when the Application is deleted.
        DeleteDisabled => "Delete=false",
        /// Skip the dry run of an object whose kind's CRD does not exist yet
        /// (a CRD another object of the same sync creates).
        SkipDryRunOnMissingResource => "SkipDryRunOnMissingResource=true",
    }
}

/// `spec` of an Argo CD Application: what to deploy (`source`), where (`destination`), in
/// which project, and how to sync it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSpec {
    /// `project`: the AppProject whose rules the Application is held to.
    pub project: String,
    /// `source`: the Git repository, revision and path of the manifests.
    pub source: ApplicationSource,
    /// `destination`: the cluster and namespace the manifests go to.
    pub destination: ApplicationDestination,
    /// `syncPolicy`: automated sync, sync options and retries; `None` syncs only when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    /// `ignoreDifferences`: fields Argo CD leaves out of the comparison (one an HPA owns, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
    /// `info`: name/value pairs shown in the Application's summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<Info>,
    /// `revisionHistoryLimit`: how many past syncs Argo CD keeps for rollback (10 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
}

impl CustomResourceSpec for ApplicationSpec {
    const API_VERSION: &'static str = "argoproj.io/v1alpha1";
    const KIND: &'static str = "Application";
}

/// An Argo CD `Application` (`argoproj.io/v1alpha1`).
pub type Application = CustomResource<ApplicationSpec>;

/// `spec.source` of an Application: one directory of one Git repository at one revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSource {
    /// `repoURL`: the Git repository's URL.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// `targetRevision`: the branch, tag or commit Argo CD follows.
    pub target_revision: String,
    /// `path`: the directory below the repository root; empty (not written)
    /// for a Helm chart from a chart repository.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// `chart`: the chart's name, when `repoURL` is a Helm chart repository
    /// and `targetRevision` the chart's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// `helm`: options for a Helm chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<ApplicationSourceHelm>,
    /// `directory`: how a plain directory of manifests is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<ApplicationSourceDirectory>,
    /// `kustomize`: options for a directory Argo CD builds with Kustomize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<ApplicationSourceKustomize>,
}

/// `spec.source.helm`: how Argo CD renders a Helm chart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSourceHelm {
    /// `releaseName`: the Helm release's name (the Application's by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// `valuesObject`: the chart's values, as an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_object: Option<serde_json::Value>,
}

/// `spec.source.directory`: which files of a plain-manifest directory Argo CD reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSourceDirectory {
    /// `recurse`: read subdirectories too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recurse: bool,
    /// `include`: a glob of the files to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// `exclude`: a glob of the files to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
}

/// `spec.source.kustomize`: what Argo CD adds when it builds a Kustomize directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSourceKustomize {
    /// `namePrefix`: prepended to every object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// `nameSuffix`: appended to every object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// `commonLabels`: labels added to every object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,
    /// `commonAnnotations`: annotations added to every object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_annotations: BTreeMap<String, String>,
}

/// `spec.destination`: where an Application deploys. The cluster is exactly one of `server`
/// or `name`, so the two cannot both be written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
// No `deny_unknown_fields`: serde does not support it next to `flatten`.
pub struct ApplicationDestination {
    /// `server` or `name`: the cluster.
    #[serde(flatten)]
    pub cluster: ClusterRef,
    /// `namespace`: the namespace objects without one are deployed to.
    pub namespace: String,
}

/// A cluster, by API server URL or by the name it is registered under in Argo CD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ClusterRef {
    /// `server`: the API server URL; `https://kubernetes.default.svc` is the cluster Argo CD runs in.
    Server(String),
    /// `name`: the name a cluster is registered under in Argo CD.
    Name(String),
}

impl SyncOption {
    /// Whether `options`, the comma-separated value of an
    /// `argocd.argoproj.io/sync-options` annotation, holds this option
    /// (Argo CD trims the whitespace around each).
    pub fn is_in(self, options: &str) -> bool {
        options.split(',').any(|o| o.trim() == self.as_str())
    }
}

string_enum! {
    /// `spec.syncWindows[].kind`: lower-case, as Argo CD checks it.
    pub enum SyncWindowKind {
        /// Syncs are allowed only while a window of this kind is open.
        Allow => "allow",
        /// Syncs are denied while the window is open.
        Deny => "deny",
    }
}

/// `spec` of an Argo CD AppProject: what its Applications may deploy, from where, to where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppProjectSpec {
    /// `description`: shown in the UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `sourceRepos`: the Git repositories the project's Applications may deploy from.
    pub source_repos: Vec<String>,
    /// `destinations`: the clusters and namespaces they may deploy to.
    pub destinations: Vec<ProjectDestination>,
    /// `clusterResourceWhitelist`: the cluster-scoped kinds an Application may manage,
    /// each optionally only by name; empty means none.
    #[serde(default)]
    pub cluster_resource_whitelist: Vec<ClusterResource>,
    /// `namespaceResourceWhitelist`: the namespaced kinds an Application may manage. Always
    /// written, as `[]` when empty.
    #[serde(default)]
    pub namespace_resource_whitelist: Vec<GroupKind>,
    /// `syncWindows`: when syncs are allowed or denied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_windows: Vec<SyncWindow>,
    /// `destinationServiceAccounts`: with sync impersonation on (`argocd-cm`'s
    /// `application.sync.impersonation.enabled`), the ServiceAccount each
    /// destination's syncs run as; the first that matches is used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_service_accounts: Vec<DestinationServiceAccount>,
}

/// One of an AppProject's `spec.destinationServiceAccounts` (Argo CD's "Application Sync
/// using impersonation" page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationServiceAccount {
    /// `server`: the destination cluster's API server URL (a glob).
    pub server: String,
    /// `namespace`: the destination namespace (a glob).
    pub namespace: String,
    /// `defaultServiceAccount`: the ServiceAccount syncs run as, in the destination
    /// namespace, or `<namespace>:<name>` in another.
    pub default_service_account: String,
}

impl AppProjectSpec {
    /// Whether a destination of the project admits `namespace` of `cluster`. A pattern here is an
    /// exact name or `*` for any; Argo CD also reads globs such as `team-*`, which this does not
    /// expand, so such a pattern admits only its literal text.
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

    /// Whether the whitelist for `namespaced` or cluster-scoped kinds names `(group, kind)`
    /// exactly, whatever names a cluster-scoped entry is restricted to. Argo CD matches
    /// entries as globs; here a `*` entry matches only a literal `*`.
    pub fn permits_kind(&self, group: &str, kind: &str, namespaced: bool) -> bool {
        if namespaced {
            self.namespace_resource_whitelist.iter().any(|gk| gk.group == group && gk.kind == kind)
        } else {
            self.cluster_resource_whitelist.iter().any(|c| c.group == group && c.kind == kind)
        }
    }

    /// Whether the project lets an Application manage the object `name` of
    /// `(group, kind)`: [`permits_kind`](Self::permits_kind), and for a cluster-scoped
    /// kind an entry without a name or with exactly this one (Argo CD reads a glob there,
    /// which this does not expand).
    pub fn permits_object(&self, group: &str, kind: &str, name: &str, namespaced: bool) -> bool {
        if namespaced {
            self.permits_kind(group, kind, true)
        } else {
            self.cluster_resource_whitelist
                .iter()
                .any(|c| c.group == group && c.kind == kind && c.name.as_deref().is_none_or(|n| n == name))
        }
    }
}

impl CustomResourceSpec for AppProjectSpec {
    const API_VERSION: &'static str = "argoproj.io/v1alpha1";
    const KIND: &'static str = "AppProject";
}

/// An Argo CD `AppProject` (`argoproj.io/v1alpha1`).
pub type AppProject = CustomResource<AppProjectSpec>;

/// A destination an AppProject allows: one cluster (by server or name) and one namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectDestination {
    /// `server` or `name`: the cluster (`*` for any).
    #[serde(flatten)]
    pub cluster: ClusterRef,
    /// `namespace`: the namespace (`*` for any).
    pub namespace: String,
}

/// A kind of object in an API group, as an AppProject's whitelists name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupKind {
    /// `group`: the API group, `""` for the core group.
    pub group: String,
    /// `kind`: the kind (`Deployment`); Argo CD also reads a glob such as `*`.
    pub kind: String,
}

/// One entry of an AppProject's `clusterResourceWhitelist`: a cluster-scoped kind, and
/// optionally the one name (a glob, for Argo CD) an Application may manage of it
/// (`name`, Argo CD's `ClusterResourceRestrictionItem`, argoproj/argo-cd#24674).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterResource {
    /// `group`: the API group, `""` for the core group.
    pub group: String,
    /// `kind`: the kind (`Namespace`).
    pub kind: String,
    /// `name`: only objects of this name; every object of the kind when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One of an AppProject's `spec.syncWindows`: a schedule during which syncs of the
/// Applications, namespaces or clusters it names are allowed or denied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncWindow {
    /// `kind`: `allow` or `deny`.
    pub kind: SyncWindowKind,
    /// `schedule`: when the window opens, as a cron expression.
    pub schedule: String,
    /// `duration`: how long it stays open, as a Go duration (`2h`).
    pub duration: String,
    /// `applications`: the Applications it applies to (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
    /// `namespaces`: the destination namespaces it applies to (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// `clusters`: the destination clusters it applies to (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// `manualSync`: whether manual syncs are allowed while the window blocks syncs.
    #[serde(default)]
    pub manual_sync: bool,
    /// `timeZone`: the IANA time zone of `schedule` (UTC when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl ClusterRef {
    /// The API server URL of the cluster Argo CD itself runs in.
    pub const IN_CLUSTER: &'static str = "https://kubernetes.default.svc";

    /// The cluster Argo CD runs in (`https://kubernetes.default.svc`).
    pub fn in_cluster() -> Self {
        ClusterRef::Server(Self::IN_CLUSTER.into())
    }
}

/// `spec.syncPolicy` of an Application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncPolicy {
    /// `automated`: sync on every change of the source; `None` for manual syncs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<SyncPolicyAutomated>,
    /// `syncOptions`: options of every sync of the Application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<SyncOption>,
    /// `retry`: how a failed sync is retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
}

/// `spec.syncPolicy.automated`: what an automated sync may do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncPolicyAutomated {
    /// `prune`: delete live objects the source no longer has.
    pub prune: bool,
    /// `selfHeal`: revert changes made in the cluster by hand.
    pub self_heal: bool,
    /// `allowEmpty`: allow a sync that would leave the Application with no object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty: bool,
}

/// `spec.syncPolicy.retry`: how many times a failed sync is retried, and how long between tries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryStrategy {
    /// `limit`: the number of retries (`-1` for no limit).
    pub limit: i64,
    /// `backoff`: the wait between retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
}

/// `spec.syncPolicy.retry.backoff`: the first wait, its growth, and its ceiling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backoff {
    /// `duration`: the first wait, as a Go duration (`5s`).
    pub duration: String,
    /// `factor`: what each wait is multiplied by for the next.
    pub factor: i64,
    /// `maxDuration`: the longest wait, as a Go duration (`3m`).
    pub max_duration: String,
}

/// One of `spec.ignoreDifferences`: the fields of some objects left out of the comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceIgnoreDifferences {
    /// `group`: the objects' API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `kind`: the objects' kind.
    pub kind: String,
    /// `name`: only the object of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `namespace`: only objects in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `jsonPointers`: the fields, as JSON pointers (`/spec/replicas`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    /// `jqPathExpressions`: the fields, as jq path expressions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
}

/// One entry of `spec.info`: a name and a value shown with the Application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Info {
    /// `name`: the entry's title.
    pub name: String,
    /// `value`: the entry's text.
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
                    chart: None,
                    helm: None,
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
            cluster_resource_whitelist: vec![ClusterResource {
                group: "".into(),
                kind: "Namespace".into(),
                name: Some("shop".into()),
            }],
            namespace_resource_whitelist: vec![GroupKind { group: "apps".into(), kind: "Deployment".into() }],
            sync_windows: vec![],
            destination_service_accounts: vec![],
        };
        assert!(spec.permits_destination(&ClusterRef::in_cluster(), "app-dev"));
        assert!(!spec.permits_destination(&ClusterRef::in_cluster(), "app-prod"));
        assert!(!spec.permits_destination(&ClusterRef::Server("https://prod:6443".into()), "app-dev"));
        assert!(!spec.permits_destination(&ClusterRef::Name("in-cluster".into()), "app-dev"));
        assert!(spec.permits_kind("", "Namespace", false));
        assert!(spec.permits_object("", "Namespace", "shop", false));
        assert!(!spec.permits_object("", "Namespace", "kube-system", false), "only its own namespace");
        assert!(spec.permits_object("apps", "Deployment", "any", true));
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
