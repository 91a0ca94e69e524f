//! Argo CD wiring: AppProjects, Applications in either topology, the root
//! Application of each Argo CD instance, and the instance's configuration
//! (Application health, notifications).

use std::collections::{BTreeMap, BTreeSet};

use gitops_core::Object;
use gitops_core::addons::Addon;
use gitops_core::crd::CustomResource;
use gitops_core::crd::argocd::{
    AppProject, AppProjectSpec, Application, ApplicationDestination, ApplicationSource,
    ApplicationSourceHelm, ApplicationSpec, Backoff, ClusterRef, ClusterResource, DestinationServiceAccount,
    GroupKind, ProjectDestination, RESOURCES_FINALIZER, RetryStrategy, SYNC_OPTIONS_ANNOTATION, SyncOption,
    SyncPolicy, SyncPolicyAutomated, SyncWindow, SyncWindowKind, subscribe_annotation,
};
use gitops_core::crd::monitoring;
use gitops_core::meta::{
    LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, LABEL_PART_OF, MANAGED_BY, SYNC_WAVE_ANNOTATION, SyncWave,
};
use gitops_core::name::Name;
use gitops_core::object::DynamicObject;
use gitops_core::platform::Platform;
use gitops_core::profile::{
    EnvironmentProfile, IdentityProvider, PrometheusOperator, SlackNotifications, Sso, Stage, SyncMode,
};
use gitops_core::yaml::{self, YamlError};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// The Argo CD release the rendered objects target, and the recovery
/// runbook installs (docs/argocd.md): annotation tracking by default (3.0),
/// name-restricted cluster whitelists, server-side apply of the install
/// manifests (3.3).
pub const ARGOCD_VERSION: &str = "v3.5.2";

/// The namespace Argo CD runs in and reads Applications from.
pub const ARGOCD_NAMESPACE: &str = gitops_core::crd::argocd::ARGOCD_NAMESPACE;

/// Retries with backoff as BrainSAIT's pipeline document sets them: 3 retries,
/// 5 s doubling up to 3 min.
pub fn retry() -> RetryStrategy {
    RetryStrategy {
        limit: 3,
        backoff: Some(Backoff { duration: "5s".into(), factor: 2, max_duration: "3m".into() }),
    }
}

/// The sync policy of an environment's Applications: automated (with the
/// mode's prune and self-heal, never an empty sync) or manual, the namespace
/// created if missing, pruning last, and [`retry`].
pub fn sync_policy(mode: SyncMode) -> SyncPolicy {
    SyncPolicy {
        automated: match mode {
            SyncMode::Automated { prune, self_heal } => {
                Some(SyncPolicyAutomated { prune, self_heal, allow_empty: false })
            }
            SyncMode::Manual => None,
        },
        // Prune only once everything new is applied and healthy.
        sync_options: vec![SyncOption::CreateNamespace, SyncOption::PruneLast],
        retry: Some(retry()),
    }
}

fn meta(name: &Name, part_of: &Name, wave: Option<SyncWave>) -> ObjectMeta {
    let annotations = wave.map(|w| BTreeMap::from([(SYNC_WAVE_ANNOTATION.to_owned(), w.annotation_value())]));
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ARGOCD_NAMESPACE.into()),
        labels: Some(BTreeMap::from([
            (LABEL_INSTANCE.to_owned(), name.to_string()),
            (LABEL_PART_OF.to_owned(), part_of.to_string()),
            (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        ])),
        annotations,
        ..Default::default()
    }
}

/// The objects the controllers of a rendered kind create (and Argo CD shows
/// under it in the Application's resource tree). The project's
/// `namespaceResourceWhitelist` also filters that tree: a child whose kind
/// is not whitelisted is hidden, so a Deployment would show no ReplicaSet
/// and no Pod (argoproj/argo-cd#28564, documented in Argo CD's projects
/// page). Endpoints and EndpointSlices are left out: Argo CD's default
/// `resource.exclusions` hide them anyway.
pub fn child_kinds(group: &str, kind: &str) -> &'static [(&'static str, &'static str)] {
    match (group, kind) {
        ("apps", "Deployment") => &[("apps", "ReplicaSet"), ("", "Pod")],
        ("apps", "StatefulSet") => {
            &[("apps", "ControllerRevision"), ("", "Pod"), ("", "PersistentVolumeClaim")]
        }
        ("apps", "DaemonSet") => &[("apps", "ControllerRevision"), ("", "Pod")],
        ("batch", "CronJob") => &[("batch", "Job"), ("", "Pod")],
        ("batch", "Job") => &[("", "Pod")],
        ("external-secrets.io", "ExternalSecret") | ("bitnami.com", "SealedSecret") => &[("", "Secret")],
        // cert-manager's ingress-shim: a Certificate per TLS Ingress, and its requests.
        ("networking.k8s.io", "Ingress") => {
            &[("cert-manager.io", "Certificate"), ("cert-manager.io", "CertificateRequest")]
        }
        _ => &[],
    }
}

/// The AppProject of one environment: the Git repository as the only
/// source, the environment's cluster and namespace as the only destination,
/// and exactly the kinds the environment's tree holds, plus the kinds their
/// controllers create ([`child_kinds`]), so that operators see the Pods,
/// ReplicaSets, claims and hook Pods in the resource tree. The tree never
/// renders objects of those kinds itself. Production gets its change
/// window: outside it, no sync at all, manual ones included.
pub fn environment_project<'a>(
    platform: &Platform,
    profile: &EnvironmentProfile,
    objects: impl Iterator<Item = &'a Object>,
) -> Result<AppProject, gitops_core::name::NameError> {
    let name = platform.name.suffixed(profile.name.as_str())?;
    let mut cluster_objects = BTreeSet::new();
    let mut namespaced_kinds = BTreeSet::new();
    let impersonation = profile.argocd.impersonation;
    for object in objects {
        let (group, kind) = object.group_kind();
        // Impersonated, the root owns the environment's Namespace.
        if impersonation && root_owned_under_impersonation(object) {
            continue;
        }
        if object.namespace().is_some() {
            namespaced_kinds.insert(GroupKind { group: group.into(), kind: kind.into() });
            for (group, kind) in child_kinds(group, kind) {
                namespaced_kinds.insert(GroupKind { group: (*group).into(), kind: (*kind).into() });
            }
        } else {
            // Cluster-scoped objects by name: in a cluster several
            // environments share, a project may touch only its own.
            cluster_objects.insert(ClusterResource {
                group: group.into(),
                kind: kind.into(),
                name: Some(object.name().into()),
            });
        }
    }
    // `CreateNamespace=true` creates the Namespace before anything else.
    if !impersonation {
        cluster_objects.insert(ClusterResource {
            group: String::new(),
            kind: "Namespace".into(),
            name: Some(profile.namespace.to_string()),
        });
    }
    let destination_service_accounts = if impersonation {
        vec![DestinationServiceAccount {
            server: IN_CLUSTER.into(),
            namespace: profile.namespace.to_string(),
            default_service_account: deployer_name(&name)?.to_string(),
        }]
    } else {
        Vec::new()
    };
    let sync_windows = profile
        .argocd
        .change_window
        .iter()
        .map(|w| SyncWindow {
            kind: SyncWindowKind::Allow,
            schedule: w.schedule.into(),
            duration: w.duration.into(),
            applications: vec!["*".into()],
            namespaces: Vec::new(),
            clusters: Vec::new(),
            manual_sync: false,
            time_zone: Some(w.time_zone.into()),
        })
        .collect();
    Ok(CustomResource::new(
        meta(&name, &platform.name, Some(SyncWave::ArgoCdConfig)),
        AppProjectSpec {
            description: Some(format!(
                "{} in {}: only its repository, cluster and namespace",
                platform.name, profile.name
            )),
            source_repos: vec![profile.git.repo_url.clone()],
            destinations: vec![ProjectDestination {
                cluster: profile.cluster.clone(),
                namespace: profile.namespace.to_string(),
            }],
            cluster_resource_whitelist: cluster_objects.into_iter().collect(),
            namespace_resource_whitelist: namespaced_kinds.into_iter().collect(),
            sync_windows,
            destination_service_accounts,
        },
    ))
}

/// One Application of an environment: `name` syncs `path` into the
/// environment's cluster and namespace under the environment's project.
/// Deleting it deletes what it deployed (resources finalizer), except what
/// holds data: the Namespace and StatefulSets with claims carry
/// `Delete=false`, and claims are not its objects (annotation tracking).
pub fn application(
    platform: &Platform,
    profile: &EnvironmentProfile,
    name: &Name,
    path: &str,
) -> Result<Application, gitops_core::name::NameError> {
    let project = platform.name.suffixed(profile.name.as_str())?;
    let mut metadata = meta(name, &platform.name, None);
    metadata.finalizers = Some(vec![RESOURCES_FINALIZER.into()]);
    if let Some(SlackNotifications { channel, .. }) = &profile.argocd.notifications {
        let annotations = metadata.annotations.get_or_insert_with(BTreeMap::new);
        for trigger in [ON_SYNC_FAILED, ON_HEALTH_DEGRADED] {
            annotations.insert(subscribe_annotation(trigger, "slack"), channel.clone());
        }
        // Production announces every successful sync (BrainSAIT's pipeline
        // document: Slack on successful production deployments).
        if profile.stage == Stage::Production {
            annotations.insert(subscribe_annotation(ON_SYNC_SUCCEEDED, "slack"), channel.clone());
        }
    }
    Ok(CustomResource::new(
        metadata,
        ApplicationSpec {
            project: project.to_string(),
            source: ApplicationSource {
                repo_url: profile.git.repo_url.clone(),
                target_revision: profile.git.target_revision.clone(),
                path: path.into(),
                chart: None,
                helm: None,
                directory: None,
                kustomize: None,
            },
            destination: ApplicationDestination {
                cluster: profile.cluster.clone(),
                namespace: profile.namespace.to_string(),
            },
            sync_policy: Some({
                let mut policy = sync_policy(profile.sync);
                // Impersonated, the root has made the Namespace already.
                if profile.argocd.impersonation {
                    policy.sync_options.retain(|o| *o != SyncOption::CreateNamespace);
                }
                policy
            }),
            ignore_differences: Vec::new(),
            info: Vec::new(),
            revision_history_limit: Some(10),
        },
    ))
}

/// `<platform>-bootstrap`: the project of the root Application. It may only
/// manage the kinds of `objects` (the instance's `apps/` directory:
/// Applications, AppProjects, Argo CD's ConfigMaps and, as the profile
/// asks, a ServiceMonitor, a PrometheusRule and add-ons' configuration),
/// in their namespaces (`argocd`, an add-on's), and the cluster-scoped
/// objects among them by name (Gatekeeper's template).
pub fn bootstrap_project(
    platform: &Platform,
    repo_url: &str,
    objects: &[Object],
    impersonation: bool,
) -> Result<AppProject, gitops_core::name::NameError> {
    let name = platform.name.suffixed("bootstrap")?;
    let mut kinds = BTreeSet::new();
    let mut cluster_objects = BTreeSet::new();
    let mut namespaces = BTreeSet::from([ARGOCD_NAMESPACE.to_owned()]);
    for o in objects {
        let (group, kind) = o.group_kind();
        if let Some(namespace) = o.namespace() {
            namespaces.insert(namespace.to_owned());
            kinds.insert(GroupKind { group: group.into(), kind: kind.into() });
        } else {
            cluster_objects.insert(ClusterResource {
                group: group.into(),
                kind: kind.into(),
                name: Some(o.name().into()),
            });
        }
    }
    Ok(CustomResource::new(
        meta(&name, &platform.name, None),
        AppProjectSpec {
            description: Some(format!(
                "The root Application of {}: Argo CD objects, cluster add-ons and their configuration",
                platform.name
            )),
            source_repos: vec![repo_url.into()],
            destinations: namespaces
                .into_iter()
                .map(|namespace| ProjectDestination { cluster: ClusterRef::in_cluster(), namespace })
                .collect(),
            cluster_resource_whitelist: cluster_objects.into_iter().collect(),
            namespace_resource_whitelist: kinds.into_iter().collect(),
            sync_windows: Vec::new(),
            destination_service_accounts: impersonate_as_controller(impersonation),
        },
    ))
}

/// Gatekeeper's `K8sPSPPrivilegedContainer` ConstraintTemplate, in Argo CD's
/// configuration wave: Gatekeeper makes the constraint's CRD from it before
/// the root syncs the environments' Applications that hold the constraints.
pub fn privileged_container_template() -> gitops_core::crd::gatekeeper::ConstraintTemplate {
    let mut template = gitops_core::crd::gatekeeper::privileged_container_template();
    let metadata = &mut template.metadata;
    let name = metadata.name.clone().unwrap_or_default();
    metadata.labels = Some(BTreeMap::from([
        (LABEL_NAME.to_owned(), name),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
    ]));
    metadata.annotations = Some(BTreeMap::from([
        (SYNC_WAVE_ANNOTATION.to_owned(), SyncWave::ArgoCdConfig.annotation_value()),
        // Gatekeeper's CRDs come from its add-on Application, in the same
        // sync of the root: not there yet when the sync's dry run runs.
        (SYNC_OPTIONS_ANNOTATION.to_owned(), SyncOption::SkipDryRunOnMissingResource.as_str().to_owned()),
    ]));
    template
}

/// The API server of the cluster Argo CD runs in.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// The ServiceAccount the root's and the add-ons' syncs run as under sync
/// impersonation: Argo CD's own controller, in Argo CD's namespace. They
/// are the platform's own (installers make CRDs, webhooks and cluster
/// roles), so impersonation keeps their rights what they were; the least
/// privilege is for the environments.
pub const CONTROLLER_SERVICE_ACCOUNT: &str = "argocd:argocd-application-controller";

fn impersonate_as_controller(on: bool) -> Vec<DestinationServiceAccount> {
    if !on {
        return Vec::new();
    }
    vec![DestinationServiceAccount {
        server: IN_CLUSTER.into(),
        namespace: "*".into(),
        default_service_account: CONTROLLER_SERVICE_ACCOUNT.into(),
    }]
}

/// The ServiceAccount (and Role) an environment's syncs run as under sync
/// impersonation: `<project>-deployer`, in the environment's namespace.
pub fn deployer_name(project: &Name) -> Result<Name, gitops_core::name::NameError> {
    project.suffixed("deployer")
}

/// The plural resource name of `kind` in RBAC rules: Kubernetes' own for
/// the kinds it and the known add-ons serve; otherwise the lower-case kind
/// made plural as the API machinery does by default (`-s`, `-es` after s,
/// x, ch or sh, `-ies` for a consonant and `y`). A Gatekeeper constraint's
/// resource is its lower-case kind.
pub fn resource_name(group: &str, kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if group == "constraints.gatekeeper.sh" {
        return lower;
    }
    if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    if lower.ends_with(['s', 'x']) || lower.ends_with("ch") || lower.ends_with("sh") {
        return format!("{lower}es");
    }
    format!("{lower}s")
}

/// The objects the root takes from an environment's tree under sync
/// impersonation: the Namespace, which must exist before the account in it,
/// and the limits the platform puts on it (ResourceQuota, LimitRange), which
/// the account they limit must not be able to lift.
pub fn root_owned_under_impersonation(object: &Object) -> bool {
    matches!(object.group_kind(), ("", "Namespace" | "ResourceQuota" | "LimitRange"))
}

/// What operators look at through Argo CD, which since 3.5 reads it as the
/// impersonated account too (live manifests, logs, events): read-only, on
/// the children of the rendered kinds ([`child_kinds`]), their logs and the
/// namespace's events. Secrets stay out: the account reads no credentials.
fn operator_reads(kinds: &BTreeSet<(String, String)>) -> BTreeMap<String, BTreeSet<String>> {
    let mut reads: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (group, kind) in kinds {
        for (child_group, child_kind) in child_kinds(group, kind) {
            if (*child_group, *child_kind) == ("", "Secret") {
                continue;
            }
            reads.entry((*child_group).into()).or_default().insert(resource_name(child_group, child_kind));
        }
    }
    let core = reads.entry(String::new()).or_default();
    core.extend(["pods".to_owned(), "pods/log".to_owned(), "events".to_owned()]);
    reads.entry("events.k8s.io".into()).or_default().insert("events".into());
    reads
}

/// What an environment's syncs run as under sync impersonation, made by the
/// root before the environment's Application (Argo CD's configuration
/// wave): the environment's Namespace, quota and limits (taken from its
/// tree, [`root_owned_under_impersonation`]; the Namespace keeps
/// `Delete=false`), the ServiceAccount `<project>-deployer` in it, a Role
/// allowing every verb Argo CD's sync uses on exactly the other namespaced
/// kinds the environment renders and reading what operators look at
/// (children of the rendered kinds, logs, events; no Secrets), and its RoleBinding. The cluster-scoped
/// objects it renders besides its Namespace (an issuer, a constraint) get
/// a ClusterRole by name; Kubernetes cannot limit `create` by name, so for
/// those kinds creating one of any name is allowed.
pub fn deployer_objects<'a>(
    platform: &Platform,
    profile: &EnvironmentProfile,
    objects: impl Iterator<Item = &'a Object>,
) -> Result<Vec<Object>, gitops_core::name::NameError> {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{
        ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
    };
    let project = platform.name.suffixed(profile.name.as_str())?;
    let name = deployer_name(&project)?;
    let namespace = profile.namespace.to_string();
    let mut out = Vec::new();
    let mut namespaced: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut namespaced_kinds = BTreeSet::new();
    let mut cluster: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for object in objects {
        let (group, kind) = object.group_kind();
        if root_owned_under_impersonation(object) {
            // In the wave of the ServiceAccount and Role: within a wave a
            // Namespace goes first, and the limits are in place before the
            // environment's Application starts.
            let mut owned = object.clone();
            owned
                .metadata_mut()
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(SYNC_WAVE_ANNOTATION.to_owned(), SyncWave::ArgoCdConfig.annotation_value());
            out.push(owned);
        } else if object.namespace().is_some() {
            namespaced.entry(group.into()).or_default().insert(resource_name(group, kind));
            namespaced_kinds.insert((group.to_owned(), kind.to_owned()));
        } else {
            cluster
                .entry((group.into(), resource_name(group, kind)))
                .or_default()
                .insert(object.name().into());
        }
    }
    let metadata = |namespace: Option<&str>| {
        let mut m = meta(&name, &platform.name, Some(SyncWave::ArgoCdConfig));
        m.namespace = namespace.map(Into::into);
        m
    };
    let verbs = |list: &[&str]| list.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
    let all = verbs(&["get", "list", "watch", "create", "update", "patch", "delete"]);
    let subject = || Subject {
        kind: "ServiceAccount".into(),
        name: name.to_string(),
        namespace: Some(namespace.clone()),
        ..Default::default()
    };
    let role_ref = |kind: &str| RoleRef {
        api_group: "rbac.authorization.k8s.io".into(),
        kind: kind.into(),
        name: name.to_string(),
    };
    let dynamic = |resource: Result<DynamicObject, String>| -> Object {
        resource.expect("an RBAC object is an object").into()
    };
    out.push(
        ServiceAccount {
            metadata: metadata(Some(&namespace)),
            automount_service_account_token: Some(false),
            ..Default::default()
        }
        .into(),
    );
    let mut rules: Vec<PolicyRule> = namespaced
        .iter()
        .map(|(group, resources)| PolicyRule {
            api_groups: Some(vec![group.clone()]),
            resources: Some(resources.iter().cloned().collect()),
            verbs: all.clone(),
            ..Default::default()
        })
        .collect();
    for (group, mut resources) in operator_reads(&namespaced_kinds) {
        // What the rule above already allows needs no second rule.
        if let Some(synced) = namespaced.get(&group) {
            resources.retain(|r| !synced.contains(r));
        }
        if !resources.is_empty() {
            rules.push(PolicyRule {
                api_groups: Some(vec![group]),
                resources: Some(resources.into_iter().collect()),
                verbs: verbs(&["get", "list", "watch"]),
                ..Default::default()
            });
        }
    }
    out.push(dynamic(DynamicObject::from_resource(&Role {
        metadata: metadata(Some(&namespace)),
        rules: Some(rules),
    })));
    out.push(dynamic(DynamicObject::from_resource(&RoleBinding {
        metadata: metadata(Some(&namespace)),
        role_ref: role_ref("Role"),
        subjects: Some(vec![subject()]),
    })));
    if !cluster.is_empty() {
        let mut rules = Vec::new();
        for ((group, resource), names) in cluster {
            rules.push(PolicyRule {
                api_groups: Some(vec![group.clone()]),
                resources: Some(vec![resource.clone()]),
                resource_names: Some(names.into_iter().collect()),
                verbs: verbs(&["get", "update", "patch", "delete"]),
                ..Default::default()
            });
            rules.push(PolicyRule {
                api_groups: Some(vec![group]),
                resources: Some(vec![resource]),
                verbs: verbs(&["create", "list", "watch"]),
                ..Default::default()
            });
        }
        out.push(dynamic(DynamicObject::from_resource(&ClusterRole {
            metadata: metadata(None),
            rules: Some(rules),
            aggregation_rule: None,
        })));
        out.push(dynamic(DynamicObject::from_resource(&ClusterRoleBinding {
            metadata: metadata(None),
            role_ref: role_ref("ClusterRole"),
            subjects: Some(vec![subject()]),
        })));
    }
    Ok(out)
}

/// The sync wave of the add-ons' project in the root: a wave of its own,
/// because within a wave Argo CD orders custom resources by name, and an
/// Application created before its project is refused until the next refresh.
pub const ADDONS_PROJECT_WAVE: i32 = -6;

/// The sync waves of an add-on's Application and of its own custom
/// resources (MetalLB's pool). Add-ons that give LoadBalancer Services
/// their addresses come first, with their configuration: another add-on's
/// LoadBalancer Service (ingress-nginx's) is healthy only once it has an
/// address. Everything else follows. Each wave waits for the previous one
/// to be healthy, Applications included (the health check `argocd-cm`
/// restores, applied with the bootstrap so it holds from the first sync).
pub fn addon_waves(addon: &Addon) -> (i32, i32) {
    if addon.provides.contains(&gitops_core::addons::Provides::LoadBalancers) { (-5, -4) } else { (-3, -2) }
}

fn wave_annotations(wave: i32, skip_dry_run: bool) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([(SYNC_WAVE_ANNOTATION.to_owned(), wave.to_string())]);
    if skip_dry_run {
        annotations.insert(
            SYNC_OPTIONS_ANNOTATION.to_owned(),
            SyncOption::SkipDryRunOnMissingResource.as_str().to_owned(),
        );
    }
    annotations
}

/// `<platform>-addons`: the project of the add-on Applications. Installers
/// create CRDs, cluster roles and webhooks, so it admits every kind; it is
/// held to the add-ons' chart repositories and namespaces.
pub fn addons_project(
    platform: &Platform,
    addons: &[Addon],
    impersonation: bool,
) -> Result<AppProject, gitops_core::name::NameError> {
    let name = platform.name.suffixed("addons")?;
    let mut metadata = meta(&name, &platform.name, None);
    metadata.annotations = Some(wave_annotations(ADDONS_PROJECT_WAVE, false));
    let repos: BTreeSet<&str> = addons.iter().map(|a| a.chart.repo_url).collect();
    let namespaces: BTreeSet<&str> = addons.iter().map(|a| a.namespace.as_str()).collect();
    Ok(CustomResource::new(
        metadata,
        AppProjectSpec {
            description: Some(format!(
                "The cluster add-ons of {}: their charts, into their namespaces",
                platform.name
            )),
            source_repos: repos.into_iter().map(Into::into).collect(),
            destinations: namespaces
                .into_iter()
                .map(|ns| ProjectDestination { cluster: ClusterRef::in_cluster(), namespace: ns.into() })
                .collect(),
            cluster_resource_whitelist: vec![ClusterResource {
                group: "*".into(),
                kind: "*".into(),
                name: None,
            }],
            namespace_resource_whitelist: vec![GroupKind { group: "*".into(), kind: "*".into() }],
            sync_windows: Vec::new(),
            destination_service_accounts: impersonate_as_controller(impersonation),
        },
    ))
}

/// The Application of one add-on: its chart at its pinned version, with
/// its values, in its namespace. It syncs automatically and heals, never
/// prunes, and has no resources finalizer: deleting it leaves the add-on,
/// its CRDs and every object of theirs in place. Server-side apply: the
/// CRDs of cert-manager or Gatekeeper are too large for the annotation
/// client-side apply keeps.
pub fn addon_application(
    platform: &Platform,
    addon: &Addon,
) -> Result<Application, gitops_core::name::NameError> {
    let mut metadata = meta(&addon.name, &platform.name, None);
    metadata.annotations = Some(wave_annotations(addon_waves(addon).0, false));
    Ok(CustomResource::new(
        metadata,
        ApplicationSpec {
            project: platform.name.suffixed("addons")?.to_string(),
            source: ApplicationSource {
                repo_url: addon.chart.repo_url.into(),
                target_revision: addon.chart.version.into(),
                path: String::new(),
                chart: Some(addon.chart.chart.into()),
                helm: Some(ApplicationSourceHelm {
                    release_name: Some(addon.name.to_string()),
                    values_object: Some(addon.values.clone()),
                }),
                directory: None,
                kustomize: None,
            },
            destination: ApplicationDestination {
                cluster: ClusterRef::in_cluster(),
                namespace: addon.namespace.to_string(),
            },
            sync_policy: Some(SyncPolicy {
                automated: Some(SyncPolicyAutomated { prune: false, self_heal: true, allow_empty: false }),
                sync_options: vec![SyncOption::CreateNamespace, SyncOption::ServerSideApply],
                retry: Some(retry()),
            }),
            ignore_differences: Vec::new(),
            info: Vec::new(),
            revision_history_limit: Some(10),
        },
    ))
}

/// Everything the root syncs for `addons`: their project
/// ([`ADDONS_PROJECT_WAVE`]), their Applications and their own custom
/// resources ([`addon_waves`]; the resources skip the dry run their CRDs
/// are not there for yet). Nothing when there are none.
pub fn addon_objects(
    platform: &Platform,
    addons: &[Addon],
    impersonation: bool,
) -> Result<Vec<Object>, gitops_core::name::NameError> {
    if addons.is_empty() {
        return Ok(Vec::new());
    }
    let mut objects: Vec<Object> = vec![addons_project(platform, addons, impersonation)?.into()];
    for addon in addons {
        objects.push(addon_application(platform, addon)?.into());
        for config in &addon.config {
            let mut object = config.object(&addon.namespace);
            object.metadata.labels = Some(BTreeMap::from([
                (LABEL_NAME.to_owned(), config.name.to_string()),
                (LABEL_PART_OF.to_owned(), platform.name.to_string()),
                (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
            ]));
            object.metadata.annotations = Some(wave_annotations(addon_waves(addon).1, true));
            objects.push(object.into());
        }
    }
    Ok(objects)
}

/// Argo CD's metrics for the Prometheus Operator: a ServiceMonitor on the
/// application controller's metrics Service and a PrometheusRule with the
/// alerts of [`argocd_alerts`](gitops_core::crd::monitoring::argocd_alerts),
/// both in Argo CD's namespace and labelled as `prometheus` says.
pub fn monitoring(platform: &Platform, prometheus: &PrometheusOperator) -> [Object; 2] {
    let labels = |name: &str| {
        let mut labels = prometheus.labels.clone();
        labels.insert(LABEL_NAME.to_owned(), name.to_owned());
        labels.insert(LABEL_PART_OF.to_owned(), platform.name.to_string());
        labels.insert(LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned());
        labels
    };
    // The Prometheus Operator is the cluster's, not an add-on: after the
    // environments (wave 1) and without the dry run, so a cluster still
    // without it fails these two objects only, never the environments.
    let mut monitor = monitoring::argocd_service_monitor(ARGOCD_NAMESPACE, labels("argocd-metrics"));
    monitor.metadata.annotations = Some(wave_annotations(MONITORING_WAVE, true));
    let mut alerts = monitoring::argocd_alerts("argocd-alerts", ARGOCD_NAMESPACE, labels("argocd-alerts"));
    alerts.metadata.annotations = Some(wave_annotations(MONITORING_WAVE, true));
    [monitor.into(), alerts.into()]
}

/// The sync wave of Argo CD's ServiceMonitor and alerts: after everything else.
pub const MONITORING_WAVE: i32 = 1;

/// The root's retries: about 17 minutes in all (5 s doubling to 3 min, 10
/// times), the time a first sync's add-ons may take to come up. Past the
/// last retry Argo CD does not sync the same commit again by itself.
pub fn root_retry() -> RetryStrategy {
    RetryStrategy { limit: 10, ..retry() }
}

/// `<platform>-root`: the app of apps of one Argo CD instance, syncing `path`
/// (the instance's `apps/` directory). It syncs automatically and heals, but
/// never prunes and has no resources finalizer: neither removing an
/// environment's Application from Git nor deleting the root may cascade into
/// deleting environments; that takes a deliberate act.
pub fn root_application(
    platform: &Platform,
    git: &gitops_core::profile::GitSource,
    path: &str,
) -> Result<Application, gitops_core::name::NameError> {
    let name = platform.name.suffixed("root")?;
    Ok(CustomResource::new(
        meta(&name, &platform.name, None),
        ApplicationSpec {
            project: platform.name.suffixed("bootstrap")?.to_string(),
            source: ApplicationSource {
                repo_url: git.repo_url.clone(),
                target_revision: git.target_revision.clone(),
                path: path.into(),
                chart: None,
                helm: None,
                directory: None,
                kustomize: None,
            },
            destination: ApplicationDestination {
                cluster: ClusterRef::in_cluster(),
                namespace: ARGOCD_NAMESPACE.into(),
            },
            sync_policy: Some(SyncPolicy {
                automated: Some(SyncPolicyAutomated { prune: false, self_heal: true, allow_empty: false }),
                sync_options: Vec::new(),
                retry: Some(root_retry()),
            }),
            ignore_differences: Vec::new(),
            info: Vec::new(),
            revision_history_limit: Some(10),
        },
    ))
}

/// Argo CD 1.8 stopped assessing the health of Applications, so an app of
/// apps is "Healthy" as soon as its children exist. This restores the check
/// (the snippet of Argo CD's health documentation), so the root reports its
/// children's health and `argocd app wait <root> --health` means something.
const APPLICATION_HEALTH_LUA: &str = r#"hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
"#;

/// The sync options of the keys this tree sets in Argo CD's own
/// ConfigMaps. They are patches, not whole ConfigMaps: the install (Argo
/// CD's manifests, its Helm chart) creates the ConfigMaps and owns every
/// other key. Server-side apply makes Argo CD's field manager the owner of
/// the keys written here and of nothing else, so a key the install sets is
/// left alone and an install upgrade does not undo these (Argo CD's
/// sync-options page, "Server-Side Apply": patching a resource Argo CD does
/// not fully manage with a partial manifest). `Delete=false` and
/// `Prune=false`: the ConfigMaps are the install's, so deleting the root
/// Application or dropping a file never deletes one.
const CONFIG_PATCH_SYNC_OPTIONS: [SyncOption; 3] =
    [SyncOption::ServerSideApply, SyncOption::PruneDisabled, SyncOption::DeleteDisabled];

fn argocd_config_map(name: &'static str, data: BTreeMap<String, String>) -> ConfigMap {
    let sync_options = CONFIG_PATCH_SYNC_OPTIONS.map(SyncOption::as_str).join(",");
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ARGOCD_NAMESPACE.into()),
            // The labels Argo CD's own manifests put on its ConfigMaps.
            labels: Some(BTreeMap::from([
                (LABEL_NAME.to_owned(), name.to_owned()),
                (LABEL_PART_OF.to_owned(), "argocd".to_owned()),
            ])),
            annotations: Some(BTreeMap::from([
                (SYNC_WAVE_ANNOTATION.to_owned(), SyncWave::ArgoCdConfig.annotation_value()),
                (SYNC_OPTIONS_ANNOTATION.to_owned(), sync_options),
            ])),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

/// The keys of `argocd-cm` this tree sets, as a server-side-apply patch
/// (server-side apply, never pruned or deleted): the Application health check, the
/// resource tracking method and, when `sso` is given, Argo CD's external
/// URL and its OpenID Connect sign-in.
///
/// The tracking method is set explicitly to `annotation`
/// (the default from Argo CD 3.0, `label` before): the claims a StatefulSet
/// makes copy its claim template's labels, `app.kubernetes.io/instance:
/// <platform>-<env>` among them, which is also the environment's
/// Application's name, so under label tracking Argo CD would take them for
/// its own objects, show them as orphans to prune, and delete them with the
/// Application. Under annotation tracking only objects carrying Argo CD's
/// `argocd.argoproj.io/tracking-id` are the Application's
/// (<https://argo-cd.readthedocs.io/en/stable/user-guide/resource_tracking/>).
pub fn argocd_cm(sso: Option<&Sso>, impersonation: bool) -> Result<ConfigMap, YamlError> {
    let mut data = BTreeMap::from([
        (
            "resource.customizations.health.argoproj.io_Application".to_owned(),
            APPLICATION_HEALTH_LUA.to_owned(),
        ),
        (TRACKING_METHOD_KEY.to_owned(), "annotation".to_owned()),
    ]);
    if impersonation {
        data.insert(IMPERSONATION_KEY.to_owned(), "true".to_owned());
    }
    if let Some(sso) = sso {
        // With single sign-on, the local `admin` (Argo CD's built-in
        // `role:admin`, untouched by the RBAC here) is switched off. Break
        // glass with cluster credentials: `argocd --core`, or kubectl.
        data.insert("admin.enabled".to_owned(), "false".to_owned());
        data.insert("url".to_owned(), sso.argocd_url.clone());
        data.insert("oidc.config".to_owned(), yaml::to_string(&OidcConfig::of(sso))?);
    }
    Ok(argocd_config_map("argocd-cm", data))
}

/// `argocd-cm`'s `oidc.config`, as Argo CD's user-management page shows it
/// for Azure AD and Okta
/// (<https://argo-cd.readthedocs.io/en/stable/operator-manual/user-management/>).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OidcConfig {
    name: &'static str,
    issuer: String,
    #[serde(rename = "clientID")]
    client_id: String,
    /// `$<secret>:<key>`: read from that Secret in Argo CD's namespace,
    /// which must be labelled `app.kubernetes.io/part-of: argocd`.
    client_secret: String,
    requested_scopes: Vec<&'static str>,
    #[serde(rename = "requestedIDTokenClaims")]
    requested_id_token_claims: BTreeMap<&'static str, GroupsClaim>,
}

#[derive(Serialize)]
struct GroupsClaim {
    essential: bool,
}

impl OidcConfig {
    fn of(sso: &Sso) -> Self {
        let (name, issuer, scopes) = match &sso.provider {
            // Azure AD puts the groups (their object IDs) in the ID token
            // when the app registration's token configuration adds the
            // claim; there is no `groups` scope.
            IdentityProvider::AzureAd { tenant_id } => (
                "Azure",
                format!("https://login.microsoftonline.com/{tenant_id}/v2.0"),
                vec!["openid", "profile", "email"],
            ),
            // Okta: a `groups` claim on the authorization server, asked for
            // with the `groups` scope.
            IdentityProvider::Okta { issuer } => {
                ("Okta", issuer.clone(), vec!["openid", "profile", "email", "groups"])
            }
        };
        OidcConfig {
            name,
            issuer,
            client_id: sso.client_id.clone(),
            client_secret: format!("${}:{}", sso.client_secret.name, sso.client_secret.key),
            requested_scopes: scopes,
            requested_id_token_claims: BTreeMap::from([("groups", GroupsClaim { essential: true })]),
        }
    }
}

/// The role of an instance's platform admins: Argo CD's `role:admin`, less
/// changing production ([`PRODUCTION_DENIED`]).
pub fn admin_role(platform: &Platform) -> String {
    format!("role:{}-admin", platform.name)
}

/// The role that may sync and roll back one environment's Applications.
pub fn deploy_role(project: &Name) -> String {
    format!("role:{project}-deploy")
}

/// What platform admins may not do to a production project's Applications
/// (resource `applications`, object `<project>/*`): sync or roll back
/// (`sync`; `rollback` where Argo CD's separate rollback permission is
/// switched on), sync local manifests (`override`), edit or delete them or
/// the objects they manage (`update`, `delete`, `update/*`, `delete/*`), or
/// run resource actions such as a restart (`action/*`). Deleting would
/// cascade into production's workloads.
pub const PRODUCTION_DENIED: [&str; 8] =
    ["sync", "rollback", "override", "update", "delete", "update/*", "delete/*", "action/*"];

/// `argocd-rbac-cm` of an instance serving `profiles` (a server-side-apply
/// patch: server-side apply, never pruned or deleted), from their
/// [`Access`](gitops_core::profile::Access):
///
/// - `policy.default: role:readonly`: everyone signed in may look, nobody
///   may change anything unless a policy below says so;
/// - the admin groups get `role:admin`, with every change to production
///   denied ([`PRODUCTION_DENIED`], `exec` into its pods, and `update` or
///   `delete` of its project, which holds its change window): Argo CD's
///   policy model lets a deny win over any allow;
/// - each environment's deploy groups may `get` and `sync` that project's
///   Applications (a rollback is a sync to an earlier revision and needs
///   the same permission); production's (the change board) may also
///   `update` its project, to open the change window in an emergency,
///   which takes an admin to pause the root first (docs/argocd.md).
///
/// The policy file is Casbin CSV (Argo CD's RBAC page,
/// <https://argo-cd.readthedocs.io/en/stable/operator-manual/rbac/>);
/// group names are checked when the profile is, so none can add a line.
pub fn rbac_cm(
    platform: &Platform,
    profiles: &[&EnvironmentProfile],
) -> Result<ConfigMap, gitops_core::name::NameError> {
    let admin = admin_role(platform);
    let mut csv = String::new();
    let mut admin_groups = BTreeSet::new();
    let mut production = Vec::new();
    let mut deploy = Vec::new();
    for profile in profiles {
        admin_groups.extend(profile.argocd.access.admin_groups.iter());
        let project = platform.name.suffixed(profile.name.as_str())?;
        let is_production = profile.stage == Stage::Production;
        if is_production {
            production.push(project.clone());
        }
        if !profile.argocd.access.deploy_groups.is_empty() {
            deploy.push((project, is_production, &profile.argocd.access.deploy_groups));
        }
    }
    if !admin_groups.is_empty() {
        csv.push_str(&format!(
            "# Platform admins: everything, except changing production.\ng, {admin}, role:admin\n"
        ));
        for project in &production {
            for action in PRODUCTION_DENIED {
                csv.push_str(&format!("p, {admin}, applications, {action}, {project}/*, deny\n"));
            }
            csv.push_str(&format!("p, {admin}, exec, create, {project}/*, deny\n"));
            for action in ["update", "delete"] {
                csv.push_str(&format!("p, {admin}, projects, {action}, {project}, deny\n"));
            }
        }
        for group in admin_groups {
            csv.push_str(&format!("g, {group}, {admin}\n"));
        }
    }
    for (project, is_production, groups) in deploy {
        let role = deploy_role(&project);
        csv.push_str(&format!("# Who may sync and roll back {project}.\n"));
        for action in ["get", "sync"] {
            csv.push_str(&format!("p, {role}, applications, {action}, {project}/*, allow\n"));
        }
        if is_production {
            // The change window is the project's: opened in an emergency.
            csv.push_str(&format!("p, {role}, projects, update, {project}, allow\n"));
        }
        for group in groups {
            csv.push_str(&format!("g, {group}, {role}\n"));
        }
    }
    let mut data = BTreeMap::from([
        ("policy.default".to_owned(), "role:readonly".to_owned()),
        ("scopes".to_owned(), "[groups]".to_owned()),
    ]);
    if !csv.is_empty() {
        data.insert("policy.csv".to_owned(), csv);
    }
    Ok(argocd_config_map("argocd-rbac-cm", data))
}

/// The `argocd-cm` key that turns sync impersonation on (Argo CD's "Application Sync using
/// impersonation" page).
pub const IMPERSONATION_KEY: &str = "application.sync.impersonation.enabled";

/// The `argocd-cm` key of the resource tracking method.
pub const TRACKING_METHOD_KEY: &str = "application.resourceTrackingMethod";

/// The notifications trigger for a failed sync (`argocd-notifications-cm`'s `trigger.on-sync-failed`).
pub const ON_SYNC_FAILED: &str = "on-sync-failed";
/// The notifications trigger for an Application whose health turned `Degraded`.
pub const ON_HEALTH_DEGRADED: &str = "on-health-degraded";
/// The notifications trigger for a successful sync; production Applications subscribe to it.
pub const ON_SYNC_SUCCEEDED: &str = "on-sync-succeeded";

/// Once per synced revision, as Argo CD's notifications catalog says it: a
/// failed operation may have no `syncResult`, hence the `?.`
/// (<https://github.com/argoproj/argo-cd/tree/master/notifications_catalog/triggers>).
const ONCE_PER_REVISION: &str = "app.status.operationState?.syncResult?.revision";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Trigger {
    description: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    once_per: Option<&'static str>,
    send: [&'static str; 1],
    when: &'static str,
}

#[derive(Serialize)]
struct Template {
    message: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    argocd_url: &'a str,
}

/// `argocd-notifications-cm`: Slack as a service whose token is read from
/// `argocd-notifications-secret` (key `slack-token`, never in Git), the
/// on-sync-failed, on-health-degraded and on-sync-succeeded triggers, and
/// their templates.
pub fn notifications_cm(argocd_url: &str) -> Result<ConfigMap, YamlError> {
    let triggers = [
        (
            ON_SYNC_FAILED,
            Trigger {
                description: "Application syncing has failed",
                once_per: Some(ONCE_PER_REVISION),
                send: ["app-sync-failed"],
                when: "app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']",
            },
        ),
        (
            ON_HEALTH_DEGRADED,
            Trigger {
                description: "Application has degraded",
                once_per: None,
                send: ["app-health-degraded"],
                when: "app.status.health.status == 'Degraded'",
            },
        ),
        (
            ON_SYNC_SUCCEEDED,
            Trigger {
                description: "Application syncing has succeeded",
                once_per: Some(ONCE_PER_REVISION),
                send: ["app-sync-succeeded"],
                when: "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']",
            },
        ),
    ];
    let templates = [
        (
            "app-sync-failed",
            Template {
                message: "Application {{.app.metadata.name}} sync failed: {{.app.status.operationState.message}}\nDetails: {{.context.argocdUrl}}/applications/{{.app.metadata.name}}\n",
            },
        ),
        (
            "app-sync-succeeded",
            Template {
                message: "Application {{.app.metadata.name}} synced revision {{.app.status.operationState.syncResult.revision}}.\nDetails: {{.context.argocdUrl}}/applications/{{.app.metadata.name}}\n",
            },
        ),
        (
            "app-health-degraded",
            Template {
                message: "Application {{.app.metadata.name}} is degraded.\nDetails: {{.context.argocdUrl}}/applications/{{.app.metadata.name}}\n",
            },
        ),
    ];
    let mut data = BTreeMap::new();
    data.insert("service.slack".to_owned(), "token: $slack-token\n".to_owned());
    data.insert("context".to_owned(), yaml::to_string(&Context { argocd_url })?);
    for (name, trigger) in triggers {
        data.insert(format!("trigger.{name}"), yaml::to_string(&[trigger])?);
    }
    for (name, template) in templates {
        data.insert(format!("template.{name}"), yaml::to_string(&template)?);
    }
    Ok(argocd_config_map("argocd-notifications-cm", data))
}

/// The name of the Application that syncs a platform's shared objects (or
/// the whole environment, in the per-environment topology): `<platform>-<env>`,
/// refused when longer than a name may be.
pub fn environment_app_name(
    platform: &Platform,
    profile: &EnvironmentProfile,
) -> Result<Name, gitops_core::name::NameError> {
    platform.name.suffixed(profile.name.as_str())
}

/// The per-service Application's name: `<service>-<env>` (BrainSAIT's
/// pipeline document), refused when longer than a name may be.
pub fn service_app_name(
    service: &Name,
    profile: &EnvironmentProfile,
) -> Result<Name, gitops_core::name::NameError> {
    service.suffixed(profile.name.as_str())
}
