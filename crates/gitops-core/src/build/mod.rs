//! Builders that turn a platform, a profile and release pins into the typed
//! objects of one environment. Pure: no I/O, no YAML.

pub mod admission;
pub mod database;
pub mod hardening;
pub mod ingress;
pub mod network;
pub mod pod;
pub mod workload;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::crd::argocd::{SYNC_OPTIONS_ANNOTATION, SyncOption};
use crate::hash::FxHashMap;
use crate::meta::{self, Component, LABEL_MANAGED_BY, LABEL_PART_OF, Labels, MANAGED_BY, SyncWave};
use crate::name::Name;
use crate::object::Object;
use crate::par;
use crate::platform::{DatabaseEngine, Exposure, Platform, PlatformError};
use crate::profile::{DatabaseProfile, EnvironmentProfile, Resources, Stage, SyncMode};
use crate::release::ReleasePins;

/// Ciphertext of the environment's SealedSecrets, by secret name, read from
/// `kubeseal` output files by the caller (the render itself does no I/O).
pub type SealedInputs = BTreeMap<Name, BTreeMap<String, String>>;

/// The Secrets a platform's environments need, whatever delivers them (for
/// a sealed backend: one `kubeseal` output file each), with their keys:
/// each database's credentials, then the application secrets.
pub fn credential_secrets(platform: &Platform) -> Result<Vec<(Name, Vec<String>)>, RenderError> {
    let mut secrets = Vec::new();
    for svc in &platform.services {
        if let Some(db) = &svc.database {
            let names = database::DatabaseNames::of(&svc.name, db.engine)?;
            let keys = database::credential_keys(db.engine).iter().map(|k| (*k).to_owned()).collect();
            secrets.push((names.credentials, keys));
        }
    }
    secrets.extend(platform.secrets.iter().map(|s| (s.name.clone(), s.keys.clone())));
    Ok(secrets)
}

/// Marks an object that holds data (a StatefulSet with claims) to outlive
/// its Application: a cascading delete of the Application leaves it, and
/// with it the database that runs on the claims (Argo CD's `Delete=false`).
pub(crate) fn keep_when_application_deleted(meta: &mut ObjectMeta) {
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    let options = annotations.entry(SYNC_OPTIONS_ANNOTATION.to_owned()).or_default();
    if !SyncOption::DeleteDisabled.is_in(options) {
        if !options.is_empty() {
            options.push(',');
        }
        options.push_str(SyncOption::DeleteDisabled.as_str());
    }
}

/// What every builder of one environment needs to know.
pub struct Ctx<'a> {
    /// The platform being rendered.
    pub platform: &'a Platform,
    /// The environment it is rendered for.
    pub profile: &'a EnvironmentProfile,
    /// The ciphertext of the environment's sealed secrets.
    pub sealed: &'a SealedInputs,
    /// `<platform>-<environment>`, the `app.kubernetes.io/instance` label.
    pub instance: Name,
    /// The services that call each service, in platform order: found once,
    /// so that no service's objects scan the whole platform.
    pub callers: FxHashMap<&'a str, Vec<&'a Name>>,
    /// The services that use each service's database besides its owner.
    pub db_users: FxHashMap<&'a str, Vec<&'a Name>>,
    /// Every service by name: looked up in constant time, so that no
    /// service's objects scan the whole platform.
    pub by_name: FxHashMap<&'a str, &'a crate::platform::Service>,
}

impl<'a> Ctx<'a> {
    /// The service called `name`, if the platform defines it.
    pub fn service(&self, name: &str) -> Option<&'a crate::platform::Service> {
        self.by_name.get(name).copied()
    }

    /// The recommended labels of an object named `name` (and the
    /// `compliance` label the profile names), computed in one place.
    pub fn labels(&self, name: &Name, component: Component, version: Option<String>) -> Labels {
        Labels {
            name: name.clone(),
            instance: self.instance.clone(),
            component,
            part_of: self.platform.name.clone(),
            version,
            compliance: self.profile.compliance.clone(),
        }
    }

    /// An object's metadata in the environment's namespace: `name`, `labels` and its sync wave.
    pub fn meta(&self, name: &Name, labels: &Labels, wave: SyncWave) -> ObjectMeta {
        meta::object_meta(name, &self.profile.namespace, labels.all(), Some(wave), BTreeMap::new())
    }

    /// `<service>.<namespace>.svc.<cluster domain>`.
    pub fn fqdn(&self, service: &Name) -> String {
        format!("{service}.{}.svc.{}", self.profile.namespace, self.profile.cluster_domain)
    }
}

/// Why an environment cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The platform's definition would not run (found by [`Platform::validate`](crate::platform::Platform::validate)).
    #[error("platform definition: {0}")]
    Platform(#[from] PlatformError),
    /// A profile setting the environment cannot have.
    #[error("environment `{env}`: {problem}; {fix}")]
    Profile {
        /// The environment.
        env: String,
        /// What is wrong.
        problem: String,
        /// What to change.
        fix: String,
    },
    /// A service the release file does not pin.
    #[error(
        "environment `{env}`: no image tag for service `{service}`; add it to the environment's release file"
    )]
    MissingPin {
        /// The environment.
        env: String,
        /// The service without a pin.
        service: String,
    },
    /// A service pinned without a digest in an environment that requires digests.
    #[error(
        "environment `{env}` requires image digests, and service `{service}` has none; add `digest: sha256:<64 hex>` under its `tag:` (`set-image --env {env} --service {service} --tag … --digest sha256:…`; when promoting, pin the digest in the source environment first)"
    )]
    MissingDigest {
        /// The environment that requires digests.
        env: String,
        /// The service pinned by tag alone.
        service: String,
    },
    /// A tag the platform's tag rule refuses.
    #[error("environment `{env}`: the tag of service `{service}`: {problem}")]
    Tag {
        /// The environment.
        env: String,
        /// The service.
        service: String,
        /// Why the tag is refused.
        problem: String,
    },
    /// A sealed-secret file the environment's backend needs is missing.
    #[error(
        "environment `{env}` seals its secrets, and `{file}` is missing; seal the Secret with `kubeseal --format yaml` into that file"
    )]
    MissingSealed {
        /// The environment.
        env: String,
        /// The sealed-secret file it needs.
        file: String,
    },
    /// A derived name (`<service>-db-credentials`, …) is not a valid name.
    #[error(transparent)]
    Name(#[from] crate::name::NameError),
}

/// Why an environment may not own `namespace`, if it may not: the
/// environment labels its namespace for restricted Pod Security and denies
/// all traffic in it by default, and deleting its Application may delete
/// it. Kubernetes reserves `kube-` for its own namespaces ("Namespaces",
/// kubernetes.io/docs/concepts/overview/working-with-objects/namespaces).
pub fn reserved_namespace(namespace: &str) -> Option<&'static str> {
    if namespace == "default" {
        Some(
            "holds the API server's own Service (`default/kubernetes`) and whatever is created without a namespace",
        )
    } else if namespace.starts_with("kube-") {
        Some("Kubernetes reserves (names starting with `kube-`) for its own components")
    } else if namespace == crate::crd::argocd::ARGOCD_NAMESPACE {
        Some("is Argo CD's own: its policies and quota would apply to Argo CD")
    } else {
        None
    }
}

fn check_profile(platform: &Platform, profile: &EnvironmentProfile) -> Result<(), RenderError> {
    let err = |problem: String, fix: &str| RenderError::Profile {
        env: profile.name.to_string(),
        problem,
        fix: fix.into(),
    };
    if let Some(why) = reserved_namespace(profile.namespace.as_str()) {
        return Err(err(
            format!("deploys into namespace `{}`, which {why}", profile.namespace),
            "give the environment a namespace of its own, such as `<platform>-<environment>`",
        ));
    }
    let sized: [(&str, &Resources); 3] =
        [("api", &profile.api.resources), ("web", &profile.web.resources), ("migration", &profile.migration)];
    let databases = profile.databases.iter().map(|d| (d.engine.as_str(), &d.resources));
    for (what, resources) in sized.into_iter().chain(databases) {
        if let Some(problem) = resources.problem() {
            return Err(err(format!("{what} resources: {problem}"), "raise the limit or lower the request"));
        }
    }
    for (i, db) in profile.databases.iter().enumerate() {
        if profile.databases[..i].iter().any(|other| other.engine == db.engine) {
            return Err(err(
                format!("lists {} twice in `databases`", db.engine),
                "keep one entry per database engine",
            ));
        }
    }
    for svc in &platform.services {
        if let Some(db) = &svc.database {
            database_profile(profile, svc, db.engine)?;
        }
    }
    for (i, o) in profile.overrides.iter().enumerate() {
        let Some(svc) = platform.find(o.service.as_str()) else {
            return Err(err(
                format!("overrides `{}`, which the platform does not define", o.service),
                "name a service of the platform in `overrides`",
            ));
        };
        if profile.overrides[..i].iter().any(|p| p.service == o.service) {
            return Err(err(format!("overrides `{}` twice", o.service), "keep one override per service"));
        }
        if o.replicas == Some(0) {
            return Err(err(format!("runs 0 replicas of `{}`", o.service), "run at least one replica"));
        }
        if let Some(Some(a)) = o.autoscaling
            && (a.max_replicas == 0 || a.cpu_utilization == 0 || a.cpu_utilization > 100)
        {
            return Err(err(
                format!(
                    "autoscales `{}` to {} replicas at {}% CPU",
                    o.service, a.max_replicas, a.cpu_utilization
                ),
                "scale to at least one replica, at 1 to 100 percent of the CPU request",
            ));
        }
        if let Some(problem) = o.resources.as_ref().and_then(|r| r.problem()) {
            return Err(err(
                format!("`{}` resources: {problem}", o.service),
                "raise the limit or lower the request",
            ));
        }
        let generated = svc.generated_env();
        for (key, _) in &o.env {
            let valid = !key.is_empty()
                && !key.as_bytes()[0].is_ascii_digit()
                && key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
            if !valid || generated.contains(key) || svc.secret_env.iter().any(|e| &e.env == key) {
                return Err(err(
                    format!("sets variable `{key}` of `{}`", o.service),
                    "use letters, digits and `_`, and a variable the renderer does not set itself",
                ));
            }
        }
    }
    for (what, sizing) in [("api", profile.api), ("web", profile.web)] {
        if sizing.replicas == 0 {
            return Err(err(format!("{what} replicas are 0"), "run at least one replica"));
        }
    }
    for exposed in &profile.ingress.expose_opt_in {
        let ok = platform
            .find(exposed.as_str())
            .and_then(|s| s.route.as_ref())
            .is_some_and(|r| r.exposure == Exposure::OptIn);
        if !ok {
            return Err(err(
                format!("exposes `{exposed}`, which is not a service with an opt-in route"),
                "list only services declared with `opt_in_route`",
            ));
        }
    }
    let argocd = &profile.argocd;
    if profile.stage == Stage::Production {
        if profile.sync != SyncMode::Manual {
            return Err(err(
                "is production and syncs automatically".into(),
                "set `sync: SyncMode::Manual`; production syncs after approval, by a person",
            ));
        }
        if argocd.change_window.is_none() {
            return Err(err(
                "is production and declares no change window".into(),
                "set `argocd.change_window` to the window in which manual syncs are allowed",
            ));
        }
    }
    if let Some(problem) = argocd.change_window.as_ref().and_then(|w| w.problem()) {
        return Err(err(format!("change window: {problem}"), "fix the window in the profile"));
    }
    if argocd.impersonation && profile.cluster != crate::crd::argocd::ClusterRef::in_cluster() {
        return Err(err(
            "asks for sync impersonation but deploys to another cluster than Argo CD's".into(),
            "the root makes the ServiceAccount syncs run as, in Argo CD's cluster: turn `argocd.impersonation` off, or deploy in-cluster",
        ));
    }
    if let Some(problem) = argocd.backup.as_ref().and_then(|b| b.problem()) {
        return Err(err(format!("Argo CD backup: {problem}"), "fix `argocd.backup` in the profile"));
    }
    if let Some(problem) = argocd.access.sso.as_ref().and_then(|s| s.problem()) {
        return Err(err(format!("single sign-on: {problem}"), "fix `argocd.access.sso` in the profile"));
    }
    for group in argocd.access.admin_groups.iter().chain(&argocd.access.deploy_groups) {
        // A line of argocd-rbac-cm's `policy.csv`: a comma, quote or line
        // break would write another policy, a leading `#` a comment.
        if group.trim().is_empty()
            || group.trim() != group
            || group.starts_with('#')
            || group.contains([',', '"', '\n', '\r'])
        {
            return Err(err(
                format!("access group `{}` cannot be written in Argo CD's policy.csv", group.escape_debug()),
                "name the group as the identity provider's `groups` claim does, without commas, quotes, line breaks or surrounding spaces",
            ));
        }
    }
    if let Some(n) = &argocd.notifications
        && (n.channel.is_empty() || n.channel.contains(char::is_whitespace))
    {
        return Err(err(format!("Slack channel `{}`", n.channel), "name the channel without spaces"));
    }
    for e in &profile.network.external_egress {
        if platform.find(e.service.as_str()).is_none() {
            return Err(err(
                format!("allows external egress for `{}`, which the platform does not define", e.service),
                "name a service of the platform in `network.external_egress`",
            ));
        }
    }
    if profile.ingress.issuer != crate::profile::IssuerSource::OutOfBand
        && profile.ingress.tls_issuer.kind != crate::profile::IssuerKind::ClusterIssuer
    {
        return Err(err(
            "asks the tree to create its issuer, which is a namespaced Issuer".into(),
            "use `IssuerKind::ClusterIssuer`, or `IssuerSource::OutOfBand` for an Issuer made elsewhere",
        ));
    }
    if let crate::profile::SecretBackend::External(store) = &profile.secrets {
        let prefix = &store.key_prefix;
        if prefix.is_empty() || prefix.starts_with('/') || prefix.ends_with('/') {
            return Err(err(
                format!("secret key prefix `{prefix}`"),
                "use a non-empty path without leading or trailing `/`, e.g. `clinicflow/dev`",
            ));
        }
        if store.vault.is_some() && store.kind != crate::crd::external_secrets::SecretStoreKind::SecretStore {
            return Err(err(
                "asks the tree to create its Vault store as a ClusterSecretStore".into(),
                "use `SecretStoreKind::SecretStore` for a store the environment owns",
            ));
        }
    }
    if profile.git.repo_url.is_empty() || profile.git.target_revision.is_empty() {
        return Err(err(
            "has no Git repository or revision".into(),
            "set git.repo_url and git.target_revision",
        ));
    }
    Ok(())
}

/// How `profile` runs the `engine` database of `svc`: every engine a
/// service uses must be pinned.
fn database_profile<'p>(
    profile: &'p EnvironmentProfile,
    svc: &crate::platform::Service,
    engine: DatabaseEngine,
) -> Result<&'p DatabaseProfile, RenderError> {
    profile.database(engine).ok_or_else(|| RenderError::Profile {
        env: profile.name.to_string(),
        problem: format!("pins no {engine} image, which service `{}` needs", svc.name),
        fix: "add a `DatabaseProfile` for that engine to `databases`".into(),
    })
}

/// The Namespace, first object of the first wave. It is never pruned: it
/// holds the database volumes.
fn namespace(ctx: &Ctx) -> Namespace {
    let mut labels = BTreeMap::from([
        (LABEL_PART_OF.to_owned(), ctx.platform.name.to_string()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
    ]);
    if let Some(compliance) = &ctx.profile.compliance {
        labels.insert(meta::LABEL_COMPLIANCE.to_owned(), compliance.to_string());
    }
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".into());
    }
    let annotations = BTreeMap::from([
        (meta::SYNC_WAVE_ANNOTATION.to_owned(), SyncWave::Foundation.annotation_value()),
        // Never pruned, and kept when the Application is deleted: deleting a
        // namespace deletes its volumes (Argo CD's sync options: "No Resource
        // Deletion", https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/).
        (
            SYNC_OPTIONS_ANNOTATION.to_owned(),
            format!("{},{}", SyncOption::PruneDisabled, SyncOption::DeleteDisabled),
        ),
    ]);
    Namespace {
        metadata: ObjectMeta {
            name: Some(ctx.profile.namespace.to_string()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Everything one service owns: its ServiceAccounts, database, migration,
/// ConfigMaps, Deployment, Services, NetworkPolicies, and disruption budget
/// and autoscaler.
fn service_objects(
    ctx: &Ctx,
    svc: &crate::platform::Service,
    pin: Option<&crate::release::Pin>,
) -> Result<Vec<Object>, RenderError> {
    use network::{Allow, pods};
    let labels = ctx.labels(&svc.name, workload::component(svc.kind), None);
    let peer = |name: &Name| pods(&ctx.labels(name, Component::Api, None));
    let mut objects: Vec<Object> = vec![hardening::service_account(ctx, &labels).into()];
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    if svc.exposed_route(&ctx.profile.ingress.expose_opt_in).is_some()
        && let Some(port) = svc.own_exposure().and_then(|e| e.ports.first())
    {
        ingress.push(Allow::named_port(
            vec![network::namespace(&ctx.profile.network.ingress_namespace)],
            &port.target,
        ));
    }
    // Callers, grouped by the container port they reach, in platform order.
    let mut from_callers: Vec<(&str, Vec<_>)> = Vec::new();
    for caller in ctx.callers.get(svc.name.as_str()).into_iter().flatten() {
        let Some(caller_svc) = ctx.service(caller.as_str()) else { continue };
        let Some(port) = workload::dependency_port(caller_svc, svc) else { continue };
        match from_callers.iter_mut().find(|(p, _)| *p == port.target) {
            Some((_, peers)) => peers.push(peer(caller)),
            None => from_callers.push((&port.target, vec![peer(caller)])),
        }
    }
    ingress.extend(from_callers.into_iter().map(|(port, peers)| Allow::named_port(peers, port)));
    // A load balancer's clients come from anywhere.
    for exposure in svc.exposes.iter().filter(|e| e.type_.external()) {
        for port in &exposure.ports {
            let protocol = svc.pod_port(&port.target).map_or(crate::spec::Protocol::Tcp, |p| p.protocol);
            ingress.push(network::anywhere(&port.target, protocol));
        }
    }
    let mut deps = svc.depends_on.clone();
    deps.sort();
    deps.dedup();
    let mut to_deps: Vec<(&str, Vec<_>)> = Vec::new();
    for dep in &deps {
        let Some(callee) = ctx.service(dep.as_str()) else { continue };
        let Some(port) = workload::dependency_port(svc, callee) else { continue };
        match to_deps.iter_mut().find(|(p, _)| *p == port.target) {
            Some((_, peers)) => peers.push(peer(dep)),
            None => to_deps.push((&port.target, vec![peer(dep)])),
        }
    }
    egress.extend(to_deps.into_iter().map(|(port, peers)| Allow::named_port(peers, port)));
    for e in ctx.profile.network.external_egress.iter().filter(|e| e.service == svc.name) {
        egress.push(network::external(e.cidr, e.except, e.ports));
    }

    let db = match &svc.database {
        Some(database) => {
            let names = database::DatabaseNames::owned(&svc.name, database)?;
            let profile = database_profile(ctx.profile, svc, database.engine)?;
            let db_labels = ctx.labels(&names.database, Component::Database, None);
            let mut clients = vec![pods(&labels)];
            // The services that use this database too.
            clients.extend(ctx.db_users.get(svc.name.as_str()).into_iter().flatten().map(|user| peer(user)));
            objects.push(hardening::service_account(ctx, &db_labels).into());
            objects.extend(database::credentials(ctx, &names)?);
            objects.push(database::statefulset(ctx, &names, profile).into());
            objects.push(database::headless_service(ctx, &names).into());
            if let Some(migration) = &database.migration {
                let pin = pin.ok_or_else(|| RenderError::MissingPin {
                    env: ctx.profile.name.to_string(),
                    service: svc.name.to_string(),
                })?;
                let job = workload::migration_job(ctx, svc, pin, &names, migration)?;
                let job_labels = ctx.labels(&svc.name.suffixed("migrate")?, Component::Migration, None);
                clients.push(pods(&job_labels));
                objects.push(hardening::service_account(ctx, &job_labels).into());
                objects.push(job.into());
                let to_db = Allow::named_port(vec![pods(&db_labels)], names.port_name());
                objects.push(network::workload(ctx, &job_labels, Vec::new(), vec![to_db]).into());
            }
            let from_clients = Allow::named_port(clients, names.port_name());
            objects.push(network::workload(ctx, &db_labels, vec![from_clients], Vec::new()).into());
            egress.push(Allow::named_port(vec![pods(&db_labels)], names.port_name()));
            Some(names)
        }
        None => None,
    };
    for owner in &svc.shared_databases {
        let Some(db) = ctx.service(owner.as_str()).and_then(|o| o.database.as_ref()) else { continue };
        let names = database::DatabaseNames::owned(owner, db)?;
        let db_labels = ctx.labels(&names.database, Component::Database, None);
        egress.push(Allow::named_port(vec![pods(&db_labels)], names.port_name()));
    }
    for files in &svc.config_files {
        objects.push(workload::config_map(ctx, &labels, files).into());
    }
    objects.push(workload::workload(ctx, svc, pin, db.as_ref()));
    objects.extend(workload::services(ctx, svc).into_iter().map(Object::from));
    objects.push(network::workload(ctx, &labels, ingress, egress).into());
    // Budgets and autoscalers are for Deployments: a StatefulSet's pods
    // hold data a drain must not race, and jobs run to completion.
    if svc.controller == crate::spec::Controller::Deployment {
        let sizing = workload::sizing(ctx, svc);
        objects.extend(hardening::disruption_budget(ctx, &labels, sizing.replicas).map(Object::from));
        let scaling = workload::autoscaling(ctx, svc);
        objects.extend(hardening::autoscaler(ctx, &labels, sizing, scaling).map(Object::from));
    }
    Ok(objects)
}

/// Applies the platform's escape hatches, in order: added objects (in the
/// environment's namespace, with its labels and their wave), typed
/// patches, extra traffic.
fn extend(
    ctx: &Ctx,
    shared: &mut Vec<Object>,
    services: &mut [(Name, Vec<Object>)],
) -> Result<(), RenderError> {
    use crate::extend::Extension;
    let err = |problem: String, fix: &str| RenderError::Profile {
        env: ctx.profile.name.to_string(),
        problem,
        fix: fix.into(),
    };
    for extension in &ctx.platform.extensions {
        match extension {
            Extension::Add(f) => {
                for added in f(ctx.profile) {
                    let mut object = added.object;
                    let name = Name::new(object.name()).map_err(|e| {
                        err(
                            format!("adds a {} named `{}` ({e})", object.kind(), object.name()),
                            "give it a valid name",
                        )
                    })?;
                    let labels = ctx.labels(&name, Component::Platform, None);
                    let meta = object.metadata_mut();
                    if !added.cluster_scoped {
                        meta.namespace = Some(ctx.profile.namespace.to_string());
                    }
                    let all = meta.labels.get_or_insert_with(Default::default);
                    for (k, v) in labels.all() {
                        all.entry(k).or_insert(v);
                    }
                    meta.annotations
                        .get_or_insert_with(Default::default)
                        .entry(meta::SYNC_WAVE_ANNOTATION.to_owned())
                        .or_insert_with(|| added.wave.annotation_value());
                    match &added.owner {
                        None => shared.push(object),
                        Some(owner) => match services.iter_mut().find(|(s, _)| s == owner) {
                            Some((_, objects)) => objects.push(object),
                            None => {
                                return Err(err(
                                    format!(
                                        "adds {} `{name}` to service `{owner}`, which the platform does not define",
                                        object.kind()
                                    ),
                                    "name a service of the platform in `owned_by`, or leave the object shared",
                                ));
                            }
                        },
                    }
                }
            }
            Extension::Patch { kind, name, apply } => {
                let mut matched = false;
                let all = shared.iter_mut().chain(services.iter_mut().flat_map(|(_, o)| o.iter_mut()));
                for object in all {
                    if name.as_deref().is_some_and(|n| n != object.name()) {
                        continue;
                    }
                    matched |= apply(ctx.profile, object);
                }
                if let Some(name) = name
                    && !matched
                {
                    return Err(err(
                        format!("patches {kind} `{name}`, which the environment does not render"),
                        "fix the kind or name of the patch, or return early from it in this environment",
                    ));
                }
            }
            Extension::AllowIngress { service, from, port } => {
                let policy = services
                    .iter_mut()
                    .filter(|(s, _)| s == service)
                    .flat_map(|(_, o)| o.iter_mut())
                    .find_map(|o| match o {
                        Object::NetworkPolicy(p) if p.metadata.name.as_deref() == Some(service.as_str()) => {
                            Some(p)
                        }
                        _ => None,
                    });
                let Some(policy) = policy.and_then(|p| p.spec.as_mut()) else {
                    return Err(err(
                        format!("opens `{service}`, which has no NetworkPolicy of its own"),
                        "open a service of the platform",
                    ));
                };
                let allow = network::Allow::named_port(vec![network::namespace(from)], port);
                policy.ingress.get_or_insert_with(Vec::new).push(
                    k8s_openapi::api::networking::v1::NetworkPolicyIngressRule {
                        from: Some(allow.peers),
                        ports: Some(allow.ports),
                    },
                );
            }
        }
    }
    Ok(())
}

/// A ServiceAccount, without a token, for every pod whose account the
/// objects do not make: a workload added or patched through a hatch runs
/// under an identity of its own rather than failing to start.
fn derive_service_accounts(ctx: &Ctx, shared: &mut Vec<Object>, services: &mut [(Name, Vec<Object>)]) {
    let existing: std::collections::BTreeSet<String> = shared
        .iter()
        .chain(services.iter().flat_map(|(_, o)| o))
        .filter(|o| o.kind() == "ServiceAccount")
        .map(|o| o.name().to_owned())
        .collect();
    let wanted = |objects: &[Object]| -> Vec<Name> {
        let mut names: Vec<Name> = objects
            .iter()
            .filter_map(|o| o.pod_template()?.spec.as_ref()?.service_account_name.as_deref())
            .filter(|sa| *sa != "default" && !existing.contains(*sa))
            .filter_map(|sa| Name::new(sa).ok())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let account = |name: &Name| -> Object {
        hardening::service_account(ctx, &ctx.labels(name, Component::Platform, None)).into()
    };
    let missing = wanted(shared);
    shared.extend(missing.iter().map(account));
    for (_, objects) in services.iter_mut() {
        let missing = wanted(objects);
        objects.extend(missing.iter().map(account));
    }
}

/// The objects of one environment, grouped by who owns them.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentRender {
    /// Objects of the whole environment: the Namespace, the Ingress or HTTPRoute, …
    pub shared: Vec<Object>,
    /// Each service's own objects, in platform order.
    pub services: Vec<(Name, Vec<Object>)>,
    /// Secrets the objects read that someone creates out of band.
    pub out_of_band: Vec<Name>,
}

impl EnvironmentRender {
    /// Every object: the shared ones first, then each service's.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.shared.iter().chain(self.services.iter().flat_map(|(_, objects)| objects))
    }

    /// Every object: the shared ones, then each service's, in platform order.
    pub fn into_objects(self) -> Vec<Object> {
        let mut all = self.shared;
        all.extend(self.services.into_iter().flat_map(|(_, objects)| objects));
        all
    }
}

/// Every object of one environment, in a stable order; for profiles whose
/// secrets are not sealed.
pub fn render_environment(
    platform: &Platform,
    profile: &EnvironmentProfile,
    pins: &ReleasePins,
) -> Result<EnvironmentRender, RenderError> {
    render_environment_with(platform, profile, pins, &SealedInputs::new())
}

/// [`render_environment`] with the ciphertext of sealed secrets.
pub fn render_environment_with(
    platform: &Platform,
    profile: &EnvironmentProfile,
    pins: &ReleasePins,
    sealed: &SealedInputs,
) -> Result<EnvironmentRender, RenderError> {
    platform.validate()?;
    check_profile(platform, profile)?;
    let mut callers: FxHashMap<&str, Vec<&Name>> = FxHashMap::default();
    for s in &platform.services {
        for dep in &s.depends_on {
            let calling = callers.entry(dep.as_str()).or_default();
            if calling.last() != Some(&&s.name) {
                calling.push(&s.name);
            }
        }
    }
    let mut db_users: FxHashMap<&str, Vec<&Name>> = FxHashMap::default();
    for s in &platform.services {
        for owner in &s.shared_databases {
            db_users.entry(owner.as_str()).or_default().push(&s.name);
        }
    }
    let instance = platform.name.suffixed(profile.name.as_str())?;
    let by_name = platform.services.iter().map(|s| (s.name.as_str(), s)).collect();
    let ctx = Ctx { platform, profile, sealed, instance, callers, db_users, by_name };

    let mut shared: Vec<Object> =
        vec![namespace(&ctx).into(), network::default_deny(&ctx).into(), network::allow_dns(&ctx).into()];
    shared.extend(network::acme_solver(&ctx).map(Object::from));
    for secret in &platform.secrets {
        shared.extend(database::app_secret(&ctx, secret)?);
    }
    shared.extend(hardening::cluster_issuer(&ctx).map(Object::from));
    shared.extend(hardening::privileged_constraint(&ctx).map(Object::from));
    if let crate::profile::SecretBackend::External(store) = &profile.secrets
        && let Some(vault) = &store.vault
    {
        let labels = ctx.labels(&store.store, Component::Secret, None);
        shared.push(hardening::service_account(&ctx, &labels).into());
        shared.push(database::vault_store(&ctx, &labels, vault).into());
    }

    let service = |svc: &crate::platform::Service| -> Result<(Name, Vec<Object>), RenderError> {
        let crate::platform::WorkloadImage::Own(_) = svc.image else {
            return Ok((svc.name.clone(), service_objects(&ctx, svc, None)?));
        };
        let pin = pins.pin(&svc.name).ok_or_else(|| RenderError::MissingPin {
            env: profile.name.to_string(),
            service: svc.name.to_string(),
        })?;
        if let Err(e) = platform.tag_rule.admits(&pin.tag) {
            return Err(RenderError::Tag {
                env: profile.name.to_string(),
                service: svc.name.to_string(),
                problem: format!("{e}; {}", platform.tag_rule.describe()),
            });
        }
        if profile.require_digests && pin.digest.is_none() {
            return Err(RenderError::MissingDigest {
                env: profile.name.to_string(),
                service: svc.name.to_string(),
            });
        }
        Ok((svc.name.clone(), service_objects(&ctx, svc, Some(pin))?))
    };
    // Services are independent: large platforms build them on every CPU,
    // in chunks, and keep platform order (and the first error in it).
    let chunks = par::map(
        par::worth_threads(platform.services.len() * 6),
        &par::chunks(&platform.services, 4, 32),
        |chunk| chunk.iter().map(service).collect::<Result<Vec<_>, _>>(),
    );
    let mut services = Vec::with_capacity(platform.services.len());
    for chunk in chunks {
        services.extend(chunk?);
    }
    shared.extend(ingress::entry_point(&ctx)?);
    // The builders give every pod they make its own account; only an object
    // added or patched through a hatch can name one nothing makes.
    if !platform.extensions.is_empty() {
        extend(&ctx, &mut shared, &mut services)?;
        derive_service_accounts(&ctx, &mut shared, &mut services);
    }
    // Quota and limits admit what the final objects ask for; they stand
    // after the default policies, before the shared objects that follow.
    let all: Vec<&Object> = shared.iter().chain(services.iter().flat_map(|(_, o)| o)).collect();
    let demand = hardening::demand(&all);
    let admission: [Object; 2] =
        [hardening::quota(&ctx, &demand).into(), hardening::limit_range(&ctx, &demand).into()];
    shared.splice(3..3, admission);
    let out_of_band = match profile.secrets {
        crate::profile::SecretBackend::OutOfBand => {
            credential_secrets(platform)?.into_iter().map(|(name, _)| name).collect()
        }
        _ => Vec::new(),
    };
    Ok(EnvironmentRender { shared, services, out_of_band })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::build::pod;
    use crate::crd::argocd::ClusterRef;
    use crate::crd::external_secrets::SecretStoreKind;
    use crate::image::{ImageRepository, ImageTag, PinnedImage, VersionTag};
    use crate::name;
    use crate::name::HostName;
    use crate::platform::Service;
    use crate::profile::*;
    use crate::release::Pin;

    const IMG: ImageRepository = ImageRepository::from_static("docker.io/acme/app");

    pub fn profile() -> EnvironmentProfile {
        let r = Resources {
            requests: Compute { cpu: Cpu(100), memory: Memory(128) },
            limits: Compute { cpu: Cpu(500), memory: Memory(256) },
        };
        EnvironmentProfile {
            name: name!("test"),
            namespace: name!("acme-test"),
            cluster: ClusterRef::in_cluster(),
            cluster_domain: HostName::new("cluster.local").unwrap(),
            git: GitSource {
                repo_url: "https://example.com/acme.git".into(),
                target_revision: "main".into(),
            },
            stage: Stage::Development,
            sync: SyncMode::Manual,
            argocd: ArgoCdProfile::new(name!("test")),
            ingress: IngressProfile {
                routing: Routing::Ingress { class_name: name!("nginx") },
                host: HostName::nip_io(&name!("acme"), Ipv4Addr::new(10, 0, 0, 1)),
                tls_issuer: IssuerRef { name: name!("ca"), kind: IssuerKind::Issuer },
                expose_opt_in: vec![],
                issuer: IssuerSource::OutOfBand,
            },
            storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
            secrets: SecretBackend::External(SecretStoreProfile {
                store: name!("vault"),
                kind: SecretStoreKind::SecretStore,
                key_prefix: "acme/test".into(),
                refresh_interval: "1h",
                vault: None,
            }),
            databases: vec![
                DatabaseProfile {
                    engine: DatabaseEngine::Postgres,
                    image: PinnedImage {
                        repository: ImageRepository::from_static("docker.io/library/postgres"),
                        version: VersionTag::from_static("17.6"),
                        digest: None,
                    },
                    resources: r,
                },
                DatabaseProfile {
                    engine: DatabaseEngine::MongoDb,
                    image: PinnedImage {
                        repository: ImageRepository::from_static("docker.io/library/mongo"),
                        version: VersionTag::from_static("8.0.12"),
                        digest: None,
                    },
                    resources: r,
                },
            ],
            api: WorkloadSizing { replicas: 2, resources: r },
            web: WorkloadSizing { replicas: 1, resources: r },
            migration: r,
            overrides: vec![],
            network: NetworkProfile { ingress_namespace: name!("ingress-nginx"), external_egress: vec![] },
            availability: AvailabilityProfile { spread_across_nodes: false, autoscaling: None },
            gatekeeper_privileged_constraint: false,
            compliance: None,
            waivers: vec![],
            require_digests: false,
        }
    }

    pub fn pins(platform: &Platform) -> ReleasePins {
        ReleasePins {
            images: platform
                .services
                .iter()
                .map(|s| (s.name.clone(), Pin::tag(ImageTag::new("sha-abcdef0").unwrap())))
                .collect(),
        }
    }

    fn kinds(objects: &[Object]) -> Vec<(&str, &str)> {
        objects.iter().map(|o| (o.kind(), o.name())).collect()
    }

    #[test]
    fn a_service_without_database_or_route_is_a_deployment_and_a_service() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("worker"), IMG));
        let objects = render_environment(&p, &profile(), &pins(&p)).unwrap().into_objects();
        assert_eq!(
            kinds(&objects),
            [
                ("Namespace", "acme-test"),
                ("NetworkPolicy", "default-deny"),
                ("NetworkPolicy", "allow-dns"),
                ("ResourceQuota", "acme"),
                ("LimitRange", "acme"),
                ("ServiceAccount", "worker"),
                ("Deployment", "worker"),
                ("Service", "worker"),
                ("NetworkPolicy", "worker"),
                ("PodDisruptionBudget", "worker"),
            ],
            "no Ingress when nothing is exposed; a budget for two replicas"
        );
    }

    #[test]
    fn a_database_brings_credentials_statefulset_service_and_migration() {
        let p = Platform::new(name!("acme"))
            .service(Service::api(name!("api"), IMG).route("/api").postgres().migrations(["migrate"]));
        let objects = render_environment(&p, &profile(), &pins(&p)).unwrap().into_objects();
        assert_eq!(
            kinds(&objects),
            [
                ("Namespace", "acme-test"),
                ("NetworkPolicy", "default-deny"),
                ("NetworkPolicy", "allow-dns"),
                ("ResourceQuota", "acme"),
                ("LimitRange", "acme"),
                ("Ingress", "acme"),
                ("ServiceAccount", "api"),
                ("ServiceAccount", "api-db"),
                ("ExternalSecret", "api-db-credentials"),
                ("StatefulSet", "api-db"),
                ("Service", "api-db"),
                ("ServiceAccount", "api-migrate"),
                ("Job", "api-migrate"),
                ("NetworkPolicy", "api-migrate"),
                ("NetworkPolicy", "api-db"),
                ("Deployment", "api"),
                ("Service", "api"),
                ("NetworkPolicy", "api"),
                ("PodDisruptionBudget", "api"),
            ]
        );
        let Object::Ingress(ing) = &objects[5] else { panic!() };
        let annotations = ing.metadata.annotations.as_ref().unwrap();
        assert_eq!(
            annotations["cert-manager.io/issuer"], "ca",
            "a namespaced Issuer uses its own annotation"
        );
        let Object::Deployment(d) = &objects[15] else { panic!() };
        assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2), "api sizing applies");
    }

    #[test]
    fn a_postgres_database_without_migrations_has_no_job() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("api"), IMG).postgres());
        let objects = render_environment(&p, &profile(), &pins(&p)).unwrap().into_objects();
        assert!(objects.iter().all(|o| o.kind() != "Job"));
    }

    #[test]
    fn a_mongodb_database_has_its_own_image_port_probe_data_path_and_connection_string() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("api"), IMG).mongodb());
        let objects = render_environment(&p, &profile(), &pins(&p)).unwrap().into_objects();
        let find = |kind: &str, name: &str| {
            objects.iter().find(|o| o.kind() == kind && o.name() == name).unwrap_or_else(|| panic!("{kind}"))
        };
        let Object::StatefulSet(sts) = find("StatefulSet", "api-db") else { panic!() };
        let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        assert_eq!(pod.security_context, Some(pod::pod_security_context()), "non-root, restricted");
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("docker.io/library/mongo:8.0.12"));
        assert_eq!(c.security_context, Some(pod::container_security_context()));
        let port = &c.ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.container_port), (Some("mongodb"), 27017));
        let mounts: Vec<(&str, &str)> =
            c.volume_mounts.iter().flatten().map(|m| (m.name.as_str(), m.mount_path.as_str())).collect();
        assert_eq!(mounts, [("data", "/data/db"), ("tmp", "/tmp"), ("credentials", "/run/secrets/mongodb")]);
        let env: Vec<&str> = c.env.iter().flatten().map(|e| e.name.as_str()).collect();
        assert_eq!(
            env,
            [
                "MONGO_INITDB_ROOT_USERNAME_FILE",
                "MONGO_INITDB_ROOT_PASSWORD_FILE",
                "MONGO_INITDB_DATABASE",
                "POD_IP"
            ]
        );
        let probe = c.readiness_probe.as_ref().unwrap();
        let command = probe.exec.as_ref().unwrap().command.as_ref().unwrap().join(" ");
        assert!(command.contains("mongosh --quiet --norc --host \"$POD_IP\" --port 27017"), "{command}");
        assert!(command.contains("db.adminCommand({ ping: 1 }).ok === 1"), "{command}");
        assert_eq!(probe.timeout_seconds, Some(10));

        let Object::Service(svc) = find("Service", "api-db") else { panic!() };
        let port = &svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some("mongodb"), 27017));
        let Object::ExternalSecret(es) = find("ExternalSecret", "api-db-credentials") else { panic!() };
        let template = &es.spec.target.template.as_ref().unwrap().data;
        assert_eq!(
            template["MONGODB_URI"],
            "mongodb://{{ .username | urlquery }}:{{ .password | urlquery }}@api-db.acme-test.svc.cluster.local:27017/{{ .dbname }}?authSource=admin"
        );
        assert!(!template.contains_key("DATABASE_URL"));
        let Object::Deployment(d) = find("Deployment", "api") else { panic!() };
        let c = &d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        let uri = c.env.iter().flatten().find(|e| e.name == "MONGODB_URI").expect("connection string");
        let from = uri.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
        assert_eq!((from.name.as_str(), from.key.as_str()), ("api-db-credentials", "MONGODB_URI"));
        let Object::NetworkPolicy(np) = find("NetworkPolicy", "api-db") else { panic!() };
        let json = serde_json::to_value(np).unwrap();
        assert_eq!(json["spec"]["ingress"][0]["ports"][0]["port"], "mongodb");

        // An engine the profile does not pin is refused with the fix.
        let mut postgres_only = profile();
        postgres_only.databases.retain(|d| d.engine == DatabaseEngine::Postgres);
        let err = render_environment(&p, &postgres_only, &pins(&p)).unwrap_err().to_string();
        assert_eq!(
            err,
            "environment `test`: pins no mongodb image, which service `api` needs; add a `DatabaseProfile` for that engine to `databases`"
        );
        let mut twice = profile();
        twice.databases.push(twice.databases[0].clone());
        let err = render_environment(&p, &twice, &pins(&p)).unwrap_err().to_string();
        assert!(err.contains("lists postgres twice in `databases`"), "{err}");
    }

    #[test]
    fn profile_mistakes_are_refused_with_a_fix() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("api"), IMG).route("/api"));
        let mut bad = profile();
        bad.api.replicas = 0;
        let err = render_environment(&p, &bad, &pins(&p)).unwrap_err().to_string();
        assert_eq!(err, "environment `test`: api replicas are 0; run at least one replica");

        let mut bad = profile();
        bad.ingress.expose_opt_in = vec![name!("api")];
        let err = render_environment(&p, &bad, &pins(&p)).unwrap_err().to_string();
        assert!(err.contains("exposes `api`, which is not a service with an opt-in route"), "{err}");

        let mut bad = profile();
        bad.web.resources.requests.memory = Memory(4096);
        let err = render_environment(&p, &bad, &pins(&p)).unwrap_err().to_string();
        assert!(err.contains("web resources: memory request 4Gi is above its limit 256Mi"), "{err}");

        let mut bad = profile();
        let SecretBackend::External(store) = &mut bad.secrets else { unreachable!() };
        store.key_prefix = "/acme/".into();
        assert!(render_environment(&p, &bad, &pins(&p)).is_err());
    }

    /// The namespaces of the cluster and of Argo CD are not an
    /// environment's to lock down, and a Service named `kubernetes` would
    /// stand in for the API server.
    #[test]
    fn system_namespaces_and_a_kubernetes_service_are_refused() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("api"), IMG).route("/api"));
        for namespace in
            ["kube-system", "kube-public", "kube-node-lease", "kube-anything", "default", "argocd"]
        {
            let mut bad = profile();
            bad.namespace = Name::new(namespace).unwrap();
            let err = render_environment(&p, &bad, &pins(&p)).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("environment `test`: deploys into namespace `{namespace}`, which "))
                    && err.ends_with(
                        "give the environment a namespace of its own, such as `<platform>-<environment>`"
                    ),
                "{err}"
            );
        }
        let mut fine = profile();
        fine.namespace = name!("kubeflow");
        assert!(render_environment(&p, &fine, &pins(&p)).is_ok());

        let p = Platform::new(name!("acme")).service(Service::api(name!("kubernetes"), IMG).route("/api"));
        let err = render_environment(&p, &profile(), &pins(&p)).unwrap_err().to_string();
        assert!(
            err.contains("renders a Service named `kubernetes`, which would take the API server's place"),
            "{err}"
        );
    }

    #[test]
    fn production_is_manual_and_has_a_change_window() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("api"), IMG));
        let mut prod = profile();
        prod.stage = Stage::Production;
        prod.sync = SyncMode::Automated { prune: true, self_heal: false };
        let err = render_environment(&p, &prod, &pins(&p)).unwrap_err().to_string();
        assert!(err.contains("is production and syncs automatically"), "{err}");
        prod.sync = SyncMode::Manual;
        let err = render_environment(&p, &prod, &pins(&p)).unwrap_err().to_string();
        assert!(err.contains("declares no change window"), "{err}");
        let window = ChangeWindow { schedule: "0 20 * * 2", duration: "3h", time_zone: "UTC" };
        prod.argocd.change_window = Some(window);
        assert!(render_environment(&p, &prod, &pins(&p)).is_ok());
        for bad in [
            ChangeWindow { schedule: "0 20 * *", ..window },
            ChangeWindow { duration: "3 hours", ..window },
            ChangeWindow { time_zone: "", ..window },
        ] {
            prod.argocd.change_window = Some(bad);
            let err = render_environment(&p, &prod, &pins(&p)).unwrap_err().to_string();
            assert!(err.contains("change window:"), "{err}");
        }
    }

    #[test]
    fn lets_encrypt_and_gatekeeper_bring_their_objects() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("api"), IMG).route("/api"));
        let mut prof = profile();
        prof.ingress.tls_issuer.kind = IssuerKind::ClusterIssuer;
        prof.ingress.issuer = IssuerSource::LetsEncrypt { email: "ops@example.com".into(), staging: false };
        prof.gatekeeper_privileged_constraint = true;
        let objects = render_environment(&p, &prof, &pins(&p)).unwrap().into_objects();
        let find = |kind: &str| objects.iter().find(|o| o.kind() == kind).unwrap_or_else(|| panic!("{kind}"));
        let Object::ClusterIssuer(issuer) = find("ClusterIssuer") else { panic!() };
        assert!(issuer.metadata.namespace.is_none(), "cluster-scoped");
        let json = serde_json::to_value(&issuer.spec).unwrap();
        assert_eq!(json["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"], "nginx");
        let solver = objects.iter().find(|o| o.name() == "allow-acme-http01-solver").expect("solver policy");
        assert_eq!(solver.kind(), "NetworkPolicy");
        let Object::PrivilegedContainerConstraint(c) = find("K8sPSPPrivilegedContainer") else { panic!() };
        assert_eq!(c.spec.match_.namespaces, ["acme-test"]);

        // A namespaced Issuer cannot be created by the tree, and egress needs a real service.
        prof.ingress.tls_issuer.kind = IssuerKind::Issuer;
        let err = render_environment(&p, &prof, &pins(&p)).unwrap_err().to_string();
        assert!(err.contains("use `IssuerKind::ClusterIssuer`"), "{err}");
        let mut prof = profile();
        prof.network.external_egress.push(ExternalEgress {
            service: name!("mailer"),
            purpose: "SMTP",
            cidr: "0.0.0.0/0",
            except: &[],
            ports: &[587],
        });
        let err = render_environment(&p, &prof, &pins(&p)).unwrap_err().to_string();
        assert!(
            err.contains("allows external egress for `mailer`, which the platform does not define"),
            "{err}"
        );
    }

    #[test]
    fn each_secret_backend_delivers_the_credentials_its_way() {
        let p = Platform::new(name!("acme"))
            .service(Service::api(name!("api"), IMG).postgres().migrations(["m"]));
        let kinds_of = |objects: &[Object]| -> Vec<String> {
            objects
                .iter()
                .filter(|o| o.name().starts_with("api-db-credentials") || o.kind().contains("Secret"))
                .map(|o| format!("{} {}", o.kind(), o.name()))
                .collect()
        };

        // Sealed: ciphertext in, SealedSecret out; no input, a clear error.
        let mut sealed = profile();
        sealed.secrets = SecretBackend::Sealed { dir: "secrets/test" };
        let err = render_environment(&p, &sealed, &pins(&p)).unwrap_err().to_string();
        assert!(err.contains("`secrets/test/api-db-credentials.yaml` is missing; seal the Secret"), "{err}");
        let inputs = SealedInputs::from([(
            name!("api-db-credentials"),
            database::credential_keys(DatabaseEngine::Postgres)
                .iter()
                .map(|k| (k.to_string(), "AgB==".to_owned()))
                .collect(),
        )]);
        let render = render_environment_with(&p, &sealed, &pins(&p), &inputs).unwrap();
        let objects = render.into_objects();
        assert_eq!(kinds_of(&objects), ["SealedSecret api-db-credentials"]);
        let Some(Object::SealedSecret(s)) = objects.iter().find(|o| o.kind() == "SealedSecret") else {
            panic!()
        };
        assert_eq!(s.spec.encrypted_data.len(), 4);
        assert_eq!(s.metadata.annotations.as_ref().unwrap()[meta::SYNC_WAVE_ANNOTATION], "0");

        // Out of band: nothing rendered, the name handed to the policy check.
        let mut oob = profile();
        oob.secrets = SecretBackend::OutOfBand;
        let render = render_environment(&p, &oob, &pins(&p)).unwrap();
        assert_eq!(render.out_of_band, [name!("api-db-credentials")]);
        assert!(kinds_of(&render.into_objects()).is_empty());

        // An owned Vault store: a SecretStore and its ServiceAccount, and the ExternalSecret points at it.
        let mut vault = profile();
        let SecretBackend::External(store) = &mut vault.secrets else { unreachable!() };
        store.vault = Some(VaultStore {
            server: "https://vault.example:8200".into(),
            mount: "secret".into(),
            role: "acme-test".into(),
            auth_mount: "kubernetes".into(),
        });
        let objects = render_environment(&p, &vault, &pins(&p)).unwrap().into_objects();
        let Some(Object::SecretStore(ss)) = objects.iter().find(|o| o.kind() == "SecretStore") else {
            panic!()
        };
        let json = serde_json::to_value(&ss.spec).unwrap();
        assert_eq!(json["provider"]["vault"]["auth"]["kubernetes"]["mountPath"], "kubernetes");
        assert_eq!(json["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"]["name"], "vault");
        assert!(objects.iter().any(|o| o.kind() == "ServiceAccount" && o.name() == "vault"));
        let Some(Object::ExternalSecret(es)) = objects.iter().find(|o| o.kind() == "ExternalSecret") else {
            panic!()
        };
        assert_eq!(es.spec.secret_store_ref.name, "vault");
        let SecretBackend::External(store) = &mut vault.secrets else { unreachable!() };
        store.kind = crate::crd::external_secrets::SecretStoreKind::ClusterSecretStore;
        let err = render_environment(&p, &vault, &pins(&p)).unwrap_err().to_string();
        assert!(err.contains("use `SecretStoreKind::SecretStore`"), "{err}");
    }

    #[test]
    fn gateway_api_routes_the_same_paths_with_an_http_route_and_no_ingress() {
        use crate::crd::cert_manager::{Http01Route, IssuerType};
        use crate::crd::gateway_api::PathMatchType;
        let p = Platform::new(name!("acme"))
            .service(Service::web(name!("web"), IMG).route("/"))
            .service(Service::api(name!("api"), IMG).route("/api"))
            .service(Service::api(name!("admin"), IMG).opt_in_route("/admin"));
        let mut prof = profile();
        prof.ingress.expose_opt_in = vec![name!("admin")];
        let via_ingress = render_environment(&p, &prof, &pins(&p)).unwrap().into_objects();
        prof.ingress.routing = Routing::GatewayApi {
            gateway: name!("shared"),
            namespace: name!("infra"),
            section_name: Some(name!("https")),
        };
        prof.ingress.tls_issuer.kind = IssuerKind::ClusterIssuer;
        prof.ingress.issuer = IssuerSource::LetsEncrypt { email: "ops@example.com".into(), staging: true };
        let objects = render_environment(&p, &prof, &pins(&p)).unwrap().into_objects();
        assert!(objects.iter().all(|o| o.kind() != "Ingress"), "no Ingress beside the HTTPRoute");

        let Some(Object::Ingress(ing)) = via_ingress.iter().find(|o| o.kind() == "Ingress") else { panic!() };
        let ingress_routes: Vec<(String, String)> = ing.spec.as_ref().unwrap().rules.as_ref().unwrap()[0]
            .http
            .as_ref()
            .unwrap()
            .paths
            .iter()
            .map(|p| (p.path.clone().unwrap(), p.backend.service.as_ref().unwrap().name.clone()))
            .collect();
        let Some(Object::HttpRoute(route)) = objects.iter().find(|o| o.kind() == "HTTPRoute") else {
            panic!()
        };
        let routes: Vec<(String, String)> = route
            .spec
            .rules
            .iter()
            .map(|r| {
                let path = r.matches[0].path.as_ref().unwrap();
                assert_eq!(path.type_, Some(PathMatchType::PathPrefix));
                assert_eq!(r.backend_refs[0].port, Some(crate::platform::SERVICE_PORT), "the Service port");
                (path.value.clone().unwrap(), r.backend_refs[0].name.clone())
            })
            .collect();
        assert_eq!(routes, ingress_routes, "the same paths to the same services, in the same order");
        assert_eq!(routes.len(), 3);
        assert_eq!(route.spec.hostnames, [prof.ingress.host.to_string()]);
        let parent = &route.spec.parent_refs[..];
        assert_eq!(parent.len(), 1);
        assert_eq!(
            (parent[0].group.as_deref(), parent[0].kind.as_deref(), parent[0].namespace.as_deref()),
            (Some("gateway.networking.k8s.io"), Some("Gateway"), Some("infra"))
        );
        assert_eq!((parent[0].name.as_str(), parent[0].section_name.as_deref()), ("shared", Some("https")));
        assert_eq!(route.metadata.name.as_deref(), ing.metadata.name.as_deref());
        let wave = |kind: &str, objects: &[Object]| objects.iter().find(|o| o.kind() == kind).unwrap().wave();
        assert_eq!(wave("HTTPRoute", &objects), Some(SyncWave::Ingress));
        assert_eq!(wave("HTTPRoute", &objects), wave("Ingress", &via_ingress), "the Ingress's wave");
        let annotations = route.metadata.annotations.as_ref().unwrap();
        assert!(
            annotations.keys().all(|k| !k.starts_with("cert-manager.io/")),
            "the Gateway carries the certificate, not the route"
        );

        // Let's Encrypt answers HTTP-01 through the Gateway; its solver pods
        // run in the Gateway's namespace, so this one needs no policy for them.
        let Some(Object::ClusterIssuer(issuer)) = objects.iter().find(|o| o.kind() == "ClusterIssuer") else {
            panic!()
        };
        let IssuerType::Acme(acme) = &issuer.spec.issuer else { panic!() };
        let Http01Route::GatewayHttpRoute(solver) = &acme.solvers[0].http01.route else { panic!() };
        assert_eq!(&solver.parent_refs[..], parent);
        assert!(objects.iter().all(|o| o.name() != "allow-acme-http01-solver"));
        // The Gateway's proxies reach the exposed services, from the profile's namespace.
        let Some(Object::NetworkPolicy(web)) =
            objects.iter().find(|o| o.kind() == "NetworkPolicy" && o.name() == "web")
        else {
            panic!()
        };
        let from = &web.spec.as_ref().unwrap().ingress.as_ref().unwrap()[0].from.as_ref().unwrap()[0];
        let ns = from.namespace_selector.as_ref().unwrap().match_labels.as_ref().unwrap();
        assert_eq!(ns["kubernetes.io/metadata.name"], "ingress-nginx");
    }

    #[test]
    fn a_missing_pin_names_the_service() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("api"), IMG));
        let empty = ReleasePins { images: Default::default() };
        let err = render_environment(&p, &profile(), &empty).unwrap_err();
        assert_eq!(err, RenderError::MissingPin { env: "test".into(), service: "api".into() });
    }

    #[test]
    fn dependencies_become_cluster_dns_addresses() {
        let p = Platform::new(name!("acme"))
            .service(Service::api(name!("api"), IMG))
            .service(Service::web(name!("web"), IMG).depends_on([name!("api")]));
        let objects = render_environment(&p, &profile(), &pins(&p)).unwrap().into_objects();
        let Some(Object::Deployment(web)) =
            objects.iter().find(|o| o.name() == "web" && o.kind() == "Deployment")
        else {
            panic!()
        };
        let env =
            web.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].env.clone().unwrap();
        let url = env.iter().find(|e| e.name == "API_URL").unwrap();
        assert_eq!(url.value.as_deref(), Some("http://api.acme-test.svc.cluster.local:80"));
    }
}
