//! A platform service: its Deployment (main container, init containers,
//! sidecars, volumes), the Services in front of it and, when it owns a
//! database with migrations, the migration Job.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, PersistentVolumeClaimVolumeSource, PodSpec,
    PodTemplateSpec, SecretVolumeSource, Service, ServicePort, ServiceSpec, Sysctl, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use super::database::DatabaseNames;
use super::pod;
use crate::crd::argocd::{HOOK_ANNOTATION, HOOK_DELETE_POLICY_ANNOTATION, HookDeletePolicy, HookPhase};
use crate::image::image_reference;
use crate::meta::{Component, Labels, SyncWave};
use crate::name::Name;
use crate::object::Object;
use crate::platform::{Migration, Service as PlatformService, ServiceKind, WorkloadImage};
use crate::profile::{Memory, WorkloadSizing};
use crate::release::Pin;
use crate::spec::{
    ClaimTemplate, ContainerImage, ContainerSpec, Controller, ServiceType, VolumeSource, VolumeSpec,
};

pub(crate) fn component(kind: ServiceKind) -> Component {
    match kind {
        ServiceKind::Api => Component::Api,
        ServiceKind::Web => Component::Web,
        ServiceKind::Worker => Component::Worker,
    }
}

/// The service's plain configuration in this environment: its own, with
/// the profile's per-environment values over it.
fn configuration<'s>(ctx: &Ctx, svc: &'s PlatformService) -> std::borrow::Cow<'s, BTreeMap<String, String>> {
    match ctx.profile.override_of(&svc.name).filter(|o| !o.env.is_empty()) {
        None => std::borrow::Cow::Borrowed(&svc.env),
        Some(o) => {
            let mut env = svc.env.clone();
            env.extend(o.env.iter().cloned());
            std::borrow::Cow::Owned(env)
        }
    }
}

/// The address `svc` is given for `dep`: the callee's own Service, on the
/// port the address names (or its first), in the form the caller chose.
pub(crate) fn dependency_address(ctx: &Ctx, svc: &PlatformService, dep: &Name) -> Option<(String, String)> {
    let address = svc.address_of(dep);
    if !address.announced() {
        return None;
    }
    let callee = ctx.service(dep.as_str())?;
    let port = dependency_port(svc, callee)?;
    let host = if address.short_host { dep.to_string() } else { ctx.fqdn(dep) };
    Some((address.env.clone(), address.value(&host, port.port)))
}

/// The port of `callee`'s own Service that `svc` calls.
pub(crate) fn dependency_port<'a>(
    svc: &PlatformService,
    callee: &'a PlatformService,
) -> Option<&'a crate::spec::ServicePortSpec> {
    let exposure = callee.own_exposure()?;
    match svc.addresses.get(&callee.name).and_then(|a| a.port.as_ref()) {
        Some(name) => exposure.ports.iter().find(|p| &p.name == name),
        None => exposure.ports.first(),
    }
}

/// Variables the main container gets: its port, its configuration, its
/// dependencies' addresses and, when it owns a database, its connection
/// string (`DATABASE_URL`, `MONGODB_URI`) from the credentials Secret.
fn environment(ctx: &Ctx, svc: &PlatformService, db: Option<&DatabaseNames>) -> Vec<EnvVar> {
    let mut env = Vec::new();
    if let (Some(var), Some(port)) = (&svc.port_env, svc.ports.first()) {
        env.push(pod::plain_env(var, port.number.to_string()));
    }
    env.extend(configuration(ctx, svc).iter().map(|(k, v)| pod::plain_env(k, v.clone())));
    let mut deps: Vec<&Name> = svc.depends_on.iter().collect();
    deps.sort();
    deps.dedup();
    env.extend(
        deps.into_iter()
            .filter_map(|dep| dependency_address(ctx, svc, dep))
            .map(|(k, v)| pod::plain_env(&k, v)),
    );
    if let (Some(db), Some(own)) = (db, &svc.database) {
        env.push(connection_env(own.env(), db));
    }
    for owner in &svc.shared_databases {
        let owned = ctx.service(owner.as_str()).and_then(|o| o.database.as_ref());
        if let Some(shared) = owned
            && let Ok(names) = DatabaseNames::owned(owner, shared)
        {
            env.push(connection_env(shared.env(), &names));
        }
    }
    env.extend(svc.secret_env.iter().map(|e| pod::secret_env(&e.env, e.secret.as_str(), &e.key)));
    env
}

/// The database's connection string as `var`, read from its credentials Secret.
fn connection_env(var: &str, db: &DatabaseNames) -> EnvVar {
    pod::secret_env(var, db.credentials.as_str(), db.engine.connection_env())
}

/// The pod's volumes, and the main container's mounts: `/tmp`, each
/// writable directory, then the service's own volumes.
fn volumes(svc: &PlatformService) -> (Vec<Volume>, Vec<VolumeMount>) {
    let (size, in_memory) = svc.tmp;
    let mut tmp = pod::empty_dir(pod::TMP_VOLUME, size);
    if in_memory && let Some(e) = &mut tmp.empty_dir {
        e.medium = Some("Memory".into());
    }
    let mut volumes = vec![tmp];
    let mut mounts = vec![pod::mount(pod::TMP_VOLUME, "/tmp", false)];
    for (i, dir) in svc.writable_dirs.iter().enumerate() {
        let name = format!("writable-{i}");
        volumes.push(pod::empty_dir(&name, Memory(256)));
        mounts.push(pod::mount(&name, dir, false));
    }
    for v in &svc.volumes {
        volumes.push(volume(v));
        if let Some(path) = &v.mount_path {
            mounts.push(pod::mount(&v.name, path, v.read_only));
        }
    }
    (volumes, mounts)
}

fn volume(v: &VolumeSpec) -> Volume {
    let base = Volume { name: v.name.clone(), ..Default::default() };
    match &v.source {
        VolumeSource::EmptyDir { size, medium_memory } => {
            let mut volume = pod::empty_dir(&v.name, *size);
            if *medium_memory && let Some(e) = &mut volume.empty_dir {
                e.medium = Some("Memory".into());
            }
            volume
        }
        VolumeSource::ConfigMap { name } => Volume {
            config_map: Some(ConfigMapVolumeSource {
                name: name.to_string(),
                default_mode: Some(0o444),
                optional: Some(false),
                ..Default::default()
            }),
            ..base
        },
        VolumeSource::Secret { name } => Volume {
            secret: Some(SecretVolumeSource {
                secret_name: Some(name.to_string()),
                default_mode: Some(0o440),
                optional: Some(false),
                ..Default::default()
            }),
            ..base
        },
        VolumeSource::Claim { name } => Volume {
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: name.to_string(),
                read_only: v.read_only.then_some(true),
            }),
            ..base
        },
    }
}

/// The replicas and resources of this service in this environment: the
/// profile's override, else the service's own sizing, else the profile's
/// size for its kind (a worker is sized like an API).
pub(crate) fn sizing(ctx: &Ctx, svc: &PlatformService) -> WorkloadSizing {
    let base = svc.sizing.unwrap_or(match svc.kind {
        ServiceKind::Api | ServiceKind::Worker => ctx.profile.api,
        ServiceKind::Web => ctx.profile.web,
    });
    match ctx.profile.override_of(&svc.name) {
        Some(o) => WorkloadSizing {
            replicas: o.replicas.unwrap_or(base.replicas),
            resources: o.resources.unwrap_or(base.resources),
        },
        None => base,
    }
}

/// The pod's restricted security context, as the service's own UID and GID
/// where it names them.
fn security_context(svc: &PlatformService) -> k8s_openapi::api::core::v1::PodSecurityContext {
    match svc.run_as {
        Some(uid) => pod::pod_security_context_ids(uid, svc.run_as_group.unwrap_or(uid)),
        None => pod::pod_security_context(),
    }
}

/// Whether and how the service's Deployment scales here: the profile's
/// override for the service, else the environment's.
pub(crate) fn autoscaling(ctx: &Ctx, svc: &PlatformService) -> Option<crate::profile::Autoscaling> {
    match ctx.profile.override_of(&svc.name).and_then(|o| o.autoscaling) {
        Some(own) => own,
        None => ctx.profile.availability.autoscaling,
    }
}

/// The image reference of the service's main container in this environment.
fn own_image(svc: &PlatformService, pin: Option<&Pin>) -> String {
    match (&svc.image, pin) {
        (WorkloadImage::Pinned(image), _) => image.reference(),
        (WorkloadImage::Own(repository), Some(pin)) => {
            image_reference(repository, &pin.tag, pin.digest.as_ref())
        }
        // The render looks every own image's pin up before building.
        (WorkloadImage::Own(repository), None) => repository.to_string(),
    }
}

/// The tag the `app.kubernetes.io/version` label carries.
pub(crate) fn version(svc: &PlatformService, pin: Option<&Pin>) -> Option<String> {
    match &svc.image {
        WorkloadImage::Pinned(image) => Some(image.version.as_str().to_owned()),
        WorkloadImage::Own(_) => pin.map(|p| p.tag.to_string()),
    }
}

/// An init container or sidecar: its own image or the service's, sized
/// like the service unless it says otherwise, with `/tmp` and the volumes
/// it names.
fn extra_container(spec: &ContainerSpec, own: &str, sizing: WorkloadSizing) -> Container {
    let image = match &spec.image {
        ContainerImage::Own => own.to_owned(),
        ContainerImage::Pinned(image) => image.reference(),
    };
    let mut c = pod::container(&spec.name, image);
    c.command = spec.command.clone();
    c.args = spec.args.clone();
    c.env =
        (!spec.env.is_empty()).then(|| spec.env.iter().map(|(k, v)| pod::plain_env(k, v.clone())).collect());
    c.ports = (!spec.ports.is_empty()).then(|| spec.ports.iter().map(pod::from_port_spec).collect());
    c.resources = Some(spec.resources.unwrap_or(sizing.resources).to_k8s());
    c.startup_probe = spec.probes.startup.as_ref().map(pod::from_spec);
    c.readiness_probe = spec.probes.readiness.as_ref().map(pod::from_spec);
    c.liveness_probe = spec.probes.liveness.as_ref().map(pod::from_spec);
    let mut mounts = vec![pod::mount(pod::TMP_VOLUME, "/tmp", false)];
    mounts.extend(spec.mounts.iter().map(|(volume, path, read_only)| pod::mount(volume, path, *read_only)));
    c.volume_mounts = Some(mounts);
    c
}

/// The pod of the service's long-running workload: the main container,
/// init containers, sidecars (native sidecars: init containers that keep
/// running), and volumes.
fn pod_template(
    ctx: &Ctx,
    svc: &PlatformService,
    pin: Option<&Pin>,
    db: Option<&DatabaseNames>,
    labels: &Labels,
) -> PodTemplateSpec {
    let sizing = sizing(ctx, svc);
    let (volumes, mounts) = volumes(svc);
    let image = own_image(svc, pin);

    let mut c = pod::container(svc.main_container(), image.clone());
    c.command = svc.command.clone();
    c.args = svc.args.clone();
    c.working_dir = svc.working_dir.clone();
    c.ports = (!svc.ports.is_empty()).then(|| svc.ports.iter().map(pod::from_port_spec).collect());
    c.env = Some(environment(ctx, svc, db));
    c.resources = Some(sizing.resources.to_k8s());
    c.startup_probe = svc.probes.startup.as_ref().map(pod::from_spec);
    c.readiness_probe = svc.probes.readiness.as_ref().map(pod::from_spec);
    c.liveness_probe = svc.probes.liveness.as_ref().map(pod::from_spec);
    c.volume_mounts = Some(mounts);

    let mut init: Vec<Container> =
        svc.init_containers.iter().map(|spec| extra_container(spec, &image, sizing)).collect();
    init.extend(svc.sidecars.iter().map(|spec| Container {
        restart_policy: Some("Always".into()),
        ..extra_container(spec, &image, sizing)
    }));
    let mut spec = PodSpec {
        topology_spread_constraints: super::hardening::spread(ctx, labels),
        affinity: super::hardening::anti_affinity(ctx, labels),
        ..pod::pod_spec_with_init(svc.name.as_str(), init, vec![c], volumes, None)
    };
    let mut security = security_context(svc);
    // A non-root process binds a port below 1024 only where the kernel lets
    // it (runtimes before containerd 2 do not): a sysctl the restricted
    // Pod Security Standard allows.
    let mut ports = svc.ports.iter().chain(svc.sidecars.iter().flat_map(|c| c.ports.iter()));
    if ports.any(|p| p.number < 1024) {
        security.sysctls =
            Some(vec![Sysctl { name: "net.ipv4.ip_unprivileged_port_start".into(), value: "0".into() }]);
    }
    spec.security_context = Some(security);
    spec.node_selector = (!svc.node_selector.is_empty()).then(|| svc.node_selector.clone());
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels.all()), ..Default::default() }),
        spec: Some(spec),
    }
}

/// The wave of a service's workload and Services: a StatefulSet comes up
/// with the databases, before the applications that connect to it; a hook
/// Job in the migrations' wave.
pub(crate) fn wave(svc: &PlatformService) -> SyncWave {
    match svc.controller {
        Controller::StatefulSet { .. } => SyncWave::Database,
        Controller::HookJob { .. } => SyncWave::Migration,
        Controller::Deployment | Controller::CronJob { .. } => SyncWave::Application,
    }
}

/// The object that runs the service's pods, as its controller says.
pub fn workload(ctx: &Ctx, svc: &PlatformService, pin: Option<&Pin>, db: Option<&DatabaseNames>) -> Object {
    match &svc.controller {
        Controller::Deployment => deployment(ctx, svc, pin, db).into(),
        Controller::StatefulSet { claims } => statefulset(ctx, svc, pin, db, claims).into(),
        Controller::CronJob { schedule, time_zone } => {
            cron_job(ctx, svc, pin, db, schedule, time_zone.as_deref()).into()
        }
        Controller::HookJob { phase } => hook_job(ctx, svc, pin, db, *phase).into(),
    }
}

fn statefulset(
    ctx: &Ctx,
    svc: &PlatformService,
    pin: Option<&Pin>,
    db: Option<&DatabaseNames>,
    claims: &[ClaimTemplate],
) -> StatefulSet {
    let sizing = sizing(ctx, svc);
    let labels = ctx.labels(&svc.name, component(svc.kind), version(svc, pin));
    let mut template = pod_template(ctx, svc, pin, db, &labels);
    if let Some(c) = template.spec.as_mut().and_then(|s| s.containers.first_mut()) {
        let mounts = c.volume_mounts.get_or_insert_with(Vec::new);
        mounts.extend(claims.iter().map(|claim| pod::mount(&claim.name, &claim.mount_path, false)));
    }
    let volume_claim_templates = claims
        .iter()
        .map(|claim| super::database::claim_template(ctx, &claim.name, claim.size, &labels))
        .collect::<Vec<_>>();
    let mut metadata = ctx.meta(&svc.name, &labels, SyncWave::Database);
    if !volume_claim_templates.is_empty() {
        super::keep_when_application_deleted(&mut metadata);
    }
    StatefulSet {
        metadata,
        spec: Some(StatefulSetSpec {
            service_name: svc.own_exposure().map(|e| svc.exposure_name(e).to_string()),
            replicas: Some(i32::from(sizing.replicas)),
            selector: LabelSelector { match_labels: Some(labels.selector()), ..Default::default() },
            // The claims hold the data: kept when the StatefulSet goes or shrinks.
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Retain".into()),
                when_scaled: Some("Retain".into()),
            }),
            template,
            volume_claim_templates: (!volume_claim_templates.is_empty()).then_some(volume_claim_templates),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pod that runs to completion: restarted by the Job, not the kubelet.
fn job_spec(
    ctx: &Ctx,
    svc: &PlatformService,
    pin: Option<&Pin>,
    db: Option<&DatabaseNames>,
    labels: &Labels,
) -> JobSpec {
    let mut template = pod_template(ctx, svc, pin, db, labels);
    if let Some(spec) = template.spec.as_mut() {
        spec.restart_policy = Some("Never".into());
        // Spreading one pod over nodes means nothing.
        spec.topology_spread_constraints = None;
        spec.affinity = None;
    }
    JobSpec { backoff_limit: Some(2), active_deadline_seconds: Some(3600), template, ..Default::default() }
}

fn cron_job(
    ctx: &Ctx,
    svc: &PlatformService,
    pin: Option<&Pin>,
    db: Option<&DatabaseNames>,
    schedule: &str,
    time_zone: Option<&str>,
) -> CronJob {
    let labels = ctx.labels(&svc.name, component(svc.kind), version(svc, pin));
    CronJob {
        metadata: ctx.meta(&svc.name, &labels, SyncWave::Application),
        spec: Some(CronJobSpec {
            schedule: schedule.into(),
            time_zone: time_zone.map(Into::into),
            // A late run is skipped, never doubled.
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(300),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels.all()), ..Default::default() }),
                spec: Some(job_spec(ctx, svc, pin, db, &labels)),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A hook Job: Argo CD creates it on every sync, in `phase`, and deletes
/// the previous run just before (so its immutable pod template may change).
fn hook_job(
    ctx: &Ctx,
    svc: &PlatformService,
    pin: Option<&Pin>,
    db: Option<&DatabaseNames>,
    phase: HookPhase,
) -> Job {
    let labels = ctx.labels(&svc.name, component(svc.kind), version(svc, pin));
    let mut meta = ctx.meta(&svc.name, &labels, SyncWave::Migration);
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(HOOK_ANNOTATION.into(), phase.to_string());
    annotations
        .insert(HOOK_DELETE_POLICY_ANNOTATION.into(), HookDeletePolicy::BeforeHookCreation.to_string());
    Job { metadata: meta, spec: Some(job_spec(ctx, svc, pin, db, &labels)), ..Default::default() }
}

/// The Deployment of `svc`: its pod at the pinned image, its sizing from the
/// profile, the database's connection variable when it has one.
pub fn deployment(
    ctx: &Ctx,
    svc: &PlatformService,
    pin: Option<&Pin>,
    db: Option<&DatabaseNames>,
) -> Deployment {
    let sizing = sizing(ctx, svc);
    let labels = ctx.labels(&svc.name, component(svc.kind), version(svc, pin));
    Deployment {
        metadata: ctx.meta(&svc.name, &labels, SyncWave::Application),
        spec: Some(DeploymentSpec {
            // An autoscaled Deployment leaves its replica count to the HPA;
            // a count here would be reset on every sync.
            replicas: autoscaling(ctx, svc).is_none().then_some(i32::from(sizing.replicas)),
            revision_history_limit: Some(5),
            selector: LabelSelector { match_labels: Some(labels.selector()), ..Default::default() },
            // Never below the wanted replica count during a rollout.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: pod_template(ctx, svc, pin, db, &labels),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A ConfigMap the service declares with its files.
pub fn config_map(ctx: &Ctx, labels: &Labels, files: &crate::spec::ConfigFiles) -> ConfigMap {
    ConfigMap {
        metadata: ctx.meta(&files.name, labels, SyncWave::Foundation),
        data: Some(files.files.clone()),
        ..Default::default()
    }
}

/// The Services in front of the service's pods, one per exposure.
pub fn services(ctx: &Ctx, svc: &PlatformService) -> Vec<Service> {
    let labels = ctx.labels(&svc.name, component(svc.kind), None);
    svc.exposes
        .iter()
        .map(|exposure| {
            let name = svc.exposure_name(exposure);
            let ports = exposure
                .ports
                .iter()
                .map(|p| {
                    let target = svc.pod_port(&p.target);
                    ServicePort {
                        name: Some(p.name.clone()),
                        port: i32::from(p.port),
                        node_port: p
                            .node_port
                            .filter(|_| exposure.type_ == ServiceType::NodePort)
                            .map(i32::from),
                        target_port: Some(IntOrString::String(p.target.clone())),
                        protocol: Some(target.map_or("TCP", |t| t.protocol.as_str()).into()),
                        app_protocol: target
                            .and_then(|t| t.app_protocol.as_ref())
                            .map(|a| a.as_str().to_owned()),
                    }
                })
                .collect();
            let (type_, cluster_ip) = match exposure.type_ {
                ServiceType::ClusterIp => ("ClusterIP", None),
                ServiceType::Headless => ("ClusterIP", Some("None".to_owned())),
                ServiceType::LoadBalancer => ("LoadBalancer", None),
                ServiceType::NodePort => ("NodePort", None),
            };
            Service {
                metadata: ctx.meta(&name, &labels, wave(svc)),
                spec: Some(ServiceSpec {
                    type_: Some(type_.into()),
                    cluster_ip,
                    selector: Some(labels.selector()),
                    ports: Some(ports),
                    session_affinity: exposure.client_ip_affinity.then(|| "ClientIP".to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect()
}

/// `<service>-migrate`: the migration command with the service's own image
/// and tag, as an Argo CD `Sync` hook in the migration wave.
///
/// A `Sync` hook (not `PreSync`, which runs before wave 0 and so before the
/// credentials exist) runs in wave order on every sync. `BeforeHookCreation`
/// deletes the previous run just before the next, so the Job's immutable pod
/// template can change with every tag. No `ttlSecondsAfterFinished`: Argo CD
/// would lose track of a hook the cluster deleted on its own.
pub fn migration_job(
    ctx: &Ctx,
    svc: &PlatformService,
    pin: &Pin,
    db: &DatabaseNames,
    migration: &Migration,
) -> Result<Job, crate::name::NameError> {
    let name = svc.name.suffixed("migrate")?;
    let labels = ctx.labels(&name, Component::Migration, version(svc, Some(pin)));
    let (volumes, mounts) = volumes(svc);

    let mut c = pod::container("migrate", own_image(svc, Some(pin)));
    c.command = Some(migration.command.clone());
    let mut env = vec![pod::plain_env("HOME", "/tmp")];
    env.extend(configuration(ctx, svc).iter().map(|(k, v)| pod::plain_env(k, v.clone())));
    env.push(connection_env(svc.database.as_ref().map_or(db.engine.connection_env(), |d| d.env()), db));
    c.env = Some(env);
    c.resources = Some(ctx.profile.migration.to_k8s());
    c.volume_mounts = Some(mounts);

    let mut meta = ctx.meta(&name, &labels, SyncWave::Migration);
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(HOOK_ANNOTATION.into(), HookPhase::Sync.to_string());
    annotations
        .insert(HOOK_DELETE_POLICY_ANNOTATION.into(), HookDeletePolicy::BeforeHookCreation.to_string());

    Ok(Job {
        metadata: meta,
        spec: Some(JobSpec {
            backoff_limit: Some(2),
            active_deadline_seconds: Some(900),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels.all()), ..Default::default() }),
                spec: Some(PodSpec {
                    security_context: Some(security_context(svc)),
                    ..pod::pod_spec(name.as_str(), vec![c], volumes, Some("Never"))
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}
