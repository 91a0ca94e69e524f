//! Builders that turn a platform, a profile and release pins into the typed
//! objects of one environment. Pure: no I/O, no YAML.

pub mod database;
pub mod ingress;
pub mod pod;
pub mod workload;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::crd::argocd::{SYNC_OPTIONS_ANNOTATION, SyncOption};
use crate::meta::{self, Component, LABEL_MANAGED_BY, LABEL_PART_OF, Labels, MANAGED_BY, SyncWave};
use crate::name::Name;
use crate::object::Object;
use crate::platform::{Exposure, Platform, PlatformError};
use crate::profile::{EnvironmentProfile, Resources};
use crate::release::ReleasePins;

/// What every builder of one environment needs to know.
pub struct Ctx<'a> {
    pub platform: &'a Platform,
    pub profile: &'a EnvironmentProfile,
    /// `<platform>-<environment>`, the `app.kubernetes.io/instance` label.
    pub instance: Name,
}

impl Ctx<'_> {
    pub fn labels(&self, name: &Name, component: Component, version: Option<String>) -> Labels {
        Labels {
            name: name.clone(),
            instance: self.instance.clone(),
            component,
            part_of: self.platform.name.clone(),
            version,
        }
    }

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
    #[error("platform definition: {0}")]
    Platform(#[from] PlatformError),
    #[error("environment `{env}`: {problem}; {fix}")]
    Profile { env: String, problem: String, fix: String },
    #[error(
        "environment `{env}`: no image tag for service `{service}`; add it to the environment's release file"
    )]
    MissingPin { env: String, service: String },
    #[error(transparent)]
    Name(#[from] crate::name::NameError),
}

fn check_profile(platform: &Platform, profile: &EnvironmentProfile) -> Result<(), RenderError> {
    let err = |problem: String, fix: &str| RenderError::Profile {
        env: profile.name.to_string(),
        problem,
        fix: fix.into(),
    };
    let sized: [(&str, &Resources); 4] = [
        ("api", &profile.api.resources),
        ("web", &profile.web.resources),
        ("migration", &profile.migration),
        ("postgres", &profile.postgres.resources),
    ];
    for (what, resources) in sized {
        if let Some(problem) = resources.problem() {
            return Err(err(format!("{what} resources: {problem}"), "raise the limit or lower the request"));
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
    let prefix = &profile.secrets.key_prefix;
    if prefix.is_empty() || prefix.starts_with('/') || prefix.ends_with('/') {
        return Err(err(
            format!("secret key prefix `{prefix}`"),
            "use a non-empty path without leading or trailing `/`, e.g. `clinicflow/dev`",
        ));
    }
    if profile.git.repo_url.is_empty() || profile.git.target_revision.is_empty() {
        return Err(err(
            "has no Git repository or revision".into(),
            "set git.repo_url and git.target_revision",
        ));
    }
    Ok(())
}

/// The Namespace, first object of the first wave. It is never pruned: it
/// holds the database volumes.
fn namespace(ctx: &Ctx) -> Namespace {
    let mut labels = BTreeMap::from([
        (LABEL_PART_OF.to_owned(), ctx.platform.name.to_string()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
    ]);
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".into());
    }
    let annotations = BTreeMap::from([
        (meta::SYNC_WAVE_ANNOTATION.to_owned(), SyncWave::Foundation.annotation_value()),
        (SYNC_OPTIONS_ANNOTATION.to_owned(), SyncOption::PruneDisabled.to_string()),
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

/// Every object of one environment, in a stable order.
pub fn render_environment(
    platform: &Platform,
    profile: &EnvironmentProfile,
    pins: &ReleasePins,
) -> Result<Vec<Object>, RenderError> {
    platform.validate()?;
    check_profile(platform, profile)?;
    let ctx = Ctx { platform, profile, instance: platform.name.suffixed(profile.name.as_str())? };

    let mut objects: Vec<Object> = vec![namespace(&ctx).into()];
    for svc in &platform.services {
        let tag = pins.tag(&svc.name).ok_or_else(|| RenderError::MissingPin {
            env: profile.name.to_string(),
            service: svc.name.to_string(),
        })?;
        let db = match &svc.database {
            Some(database) => {
                let names = database::DatabaseNames::of(&svc.name)?;
                objects.push(database::credentials(&ctx, &names).into());
                objects.push(database::statefulset(&ctx, &names).into());
                objects.push(database::headless_service(&ctx, &names).into());
                if let Some(migration) = &database.migration {
                    objects.push(workload::migration_job(&ctx, svc, tag, &names, migration)?.into());
                }
                Some(names)
            }
            None => None,
        };
        objects.push(workload::deployment(&ctx, svc, tag, db.as_ref()).into());
        objects.push(workload::service(&ctx, svc).into());
    }
    if let Some(ingress) = ingress::ingress(&ctx)? {
        objects.push(ingress.into());
    }
    Ok(objects)
}
