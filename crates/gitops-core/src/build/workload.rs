//! A platform service: its Deployment, its ClusterIP Service and, when it
//! owns a database with migrations, the migration Job.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{EnvVar, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use super::database::DatabaseNames;
use super::pod::{self, HTTP_PORT_NAME, LIVENESS, READINESS, STARTUP};
use crate::crd::argocd::{HOOK_ANNOTATION, HOOK_DELETE_POLICY_ANNOTATION, HookDeletePolicy, HookPhase};
use crate::image::image_reference;
use crate::meta::{Component, SyncWave};
use crate::name::Name;
use crate::platform::{self, Migration, PORT_ENV, SERVICE_PORT, Service as PlatformService, ServiceKind};
use crate::profile::Memory;
use crate::release::Pin;

pub(crate) fn component(kind: ServiceKind) -> Component {
    match kind {
        ServiceKind::Api => Component::Api,
        ServiceKind::Web => Component::Web,
    }
}

/// Variables every container of the service gets: its port, its
/// configuration, its dependencies' cluster DNS addresses and, when it owns a
/// database, its connection string (`DATABASE_URL`, `MONGODB_URI`) from
/// the credentials Secret.
fn environment(ctx: &Ctx, svc: &PlatformService, db: Option<&DatabaseNames>) -> Vec<EnvVar> {
    let mut env = vec![pod::plain_env(PORT_ENV, svc.port.to_string())];
    env.extend(svc.env.iter().map(|(k, v)| pod::plain_env(k, v.clone())));
    let mut deps: Vec<&Name> = svc.depends_on.iter().collect();
    deps.sort();
    deps.dedup();
    env.extend(deps.into_iter().map(|dep| {
        pod::plain_env(&platform::dependency_env(dep), format!("http://{}:{SERVICE_PORT}", ctx.fqdn(dep)))
    }));
    if let Some(db) = db {
        env.push(connection_env(db));
    }
    env
}

/// The database's connection string, read from its credentials Secret.
fn connection_env(db: &DatabaseNames) -> EnvVar {
    let key = db.engine.connection_env();
    pod::secret_env(key, db.credentials.as_str(), key)
}

fn tmp_volumes(
    svc: &PlatformService,
) -> (Vec<k8s_openapi::api::core::v1::Volume>, Vec<k8s_openapi::api::core::v1::VolumeMount>) {
    let mut volumes = vec![pod::empty_dir(pod::TMP_VOLUME, Memory(64))];
    let mut mounts = vec![pod::mount(pod::TMP_VOLUME, "/tmp", false)];
    for (i, dir) in svc.writable_dirs.iter().enumerate() {
        let name = format!("writable-{i}");
        volumes.push(pod::empty_dir(&name, Memory(256)));
        mounts.push(pod::mount(&name, dir, false));
    }
    (volumes, mounts)
}

/// The replicas and resources the profile gives this kind of service.
pub(crate) fn sizing(ctx: &Ctx, svc: &PlatformService) -> crate::profile::WorkloadSizing {
    match svc.kind {
        ServiceKind::Api => ctx.profile.api,
        ServiceKind::Web => ctx.profile.web,
    }
}

pub fn deployment(ctx: &Ctx, svc: &PlatformService, pin: &Pin, db: Option<&DatabaseNames>) -> Deployment {
    let sizing = sizing(ctx, svc);
    let labels = ctx.labels(&svc.name, component(svc.kind), Some(pin.tag.to_string()));
    let (volumes, mounts) = tmp_volumes(svc);

    let mut c = pod::container(svc.name.as_str(), image_reference(&svc.image, &pin.tag, pin.digest.as_ref()));
    c.ports = Some(vec![pod::port(HTTP_PORT_NAME, i32::from(svc.port))]);
    c.env = Some(environment(ctx, svc, db));
    c.resources = Some(sizing.resources.to_k8s());
    c.startup_probe = Some(pod::http_probe(&svc.health_path, STARTUP));
    c.readiness_probe = Some(pod::http_probe(&svc.health_path, READINESS));
    c.liveness_probe = Some(pod::tcp_probe(HTTP_PORT_NAME, LIVENESS));
    c.volume_mounts = Some(mounts);

    Deployment {
        metadata: ctx.meta(&svc.name, &labels, SyncWave::Application),
        spec: Some(DeploymentSpec {
            // An autoscaled Deployment leaves its replica count to the HPA;
            // a count here would be reset on every sync.
            replicas: ctx.profile.availability.autoscaling.is_none().then_some(i32::from(sizing.replicas)),
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
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels.all()), ..Default::default() }),
                spec: Some(PodSpec {
                    topology_spread_constraints: super::hardening::spread(ctx, &labels),
                    affinity: super::hardening::anti_affinity(ctx, &labels),
                    ..pod::pod_spec(svc.name.as_str(), vec![c], volumes, None)
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn service(ctx: &Ctx, svc: &PlatformService) -> Service {
    let labels = ctx.labels(&svc.name, component(svc.kind), None);
    Service {
        metadata: ctx.meta(&svc.name, &labels, SyncWave::Application),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels.selector()),
            ports: Some(vec![ServicePort {
                name: Some(HTTP_PORT_NAME.into()),
                port: SERVICE_PORT,
                target_port: Some(IntOrString::String(HTTP_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
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
    let labels = ctx.labels(&name, Component::Migration, Some(pin.tag.to_string()));
    let (volumes, mounts) = tmp_volumes(svc);

    let mut c = pod::container("migrate", image_reference(&svc.image, &pin.tag, pin.digest.as_ref()));
    c.command = Some(migration.command.clone());
    let mut env = vec![pod::plain_env("HOME", "/tmp")];
    env.extend(svc.env.iter().map(|(k, v)| pod::plain_env(k, v.clone())));
    env.push(connection_env(db));
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
                spec: Some(pod::pod_spec(name.as_str(), vec![c], volumes, Some("Never"))),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}
