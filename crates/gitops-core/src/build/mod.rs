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
use crate::par;
use crate::platform::{Exposure, Platform, PlatformError};
use crate::profile::{EnvironmentProfile, Resources, Stage, SyncMode};
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
            compliance: self.profile.compliance.clone(),
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
    if let Some(n) = &argocd.notifications
        && (n.channel.is_empty() || n.channel.contains(char::is_whitespace))
    {
        return Err(err(format!("Slack channel `{}`", n.channel), "name the channel without spaces"));
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
    if let Some(compliance) = &ctx.profile.compliance {
        labels.insert(meta::LABEL_COMPLIANCE.to_owned(), compliance.to_string());
    }
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

/// The objects of one environment, grouped by who owns them.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentRender {
    /// Objects of the whole environment: the Namespace and the Ingress.
    pub shared: Vec<Object>,
    /// Each service's own objects, in platform order.
    pub services: Vec<(Name, Vec<Object>)>,
}

impl EnvironmentRender {
    /// Every object: the shared ones first, then each service's.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.shared.iter().chain(self.services.iter().flat_map(|(_, objects)| objects))
    }

    pub fn into_objects(self) -> Vec<Object> {
        let mut all = self.shared;
        all.extend(self.services.into_iter().flat_map(|(_, objects)| objects));
        all
    }
}

/// Every object of one environment, in a stable order.
pub fn render_environment(
    platform: &Platform,
    profile: &EnvironmentProfile,
    pins: &ReleasePins,
) -> Result<EnvironmentRender, RenderError> {
    platform.validate()?;
    check_profile(platform, profile)?;
    let ctx = Ctx { platform, profile, instance: platform.name.suffixed(profile.name.as_str())? };

    let mut shared: Vec<Object> = vec![namespace(&ctx).into()];
    let service_objects = |svc: &crate::platform::Service| -> Result<(Name, Vec<Object>), RenderError> {
        let tag = pins.tag(&svc.name).ok_or_else(|| RenderError::MissingPin {
            env: profile.name.to_string(),
            service: svc.name.to_string(),
        })?;
        let mut objects: Vec<Object> = Vec::new();
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
        Ok((svc.name.clone(), objects))
    };
    // Services are independent: large platforms build them on every CPU,
    // in chunks, and keep platform order (and the first error in it).
    let chunks = par::map(
        par::worth_threads(platform.services.len() * 6),
        &par::chunks(&platform.services, 4, 32),
        |chunk| chunk.iter().map(service_objects).collect::<Result<Vec<_>, _>>(),
    );
    let mut services = Vec::with_capacity(platform.services.len());
    for chunk in chunks {
        services.extend(chunk?);
    }
    if let Some(ingress) = ingress::ingress(&ctx)? {
        shared.push(ingress.into());
    }
    Ok(EnvironmentRender { shared, services })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use super::*;
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
            argocd: ArgoCdProfile { instance: name!("test"), change_window: None, notifications: None },
            ingress: IngressProfile {
                class_name: name!("nginx"),
                host: HostName::nip_io(&name!("acme"), Ipv4Addr::new(10, 0, 0, 1)),
                tls_issuer: IssuerRef { name: name!("ca"), kind: IssuerKind::Issuer },
                expose_opt_in: vec![],
            },
            storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
            secrets: SecretStoreProfile {
                store: name!("vault"),
                kind: SecretStoreKind::SecretStore,
                key_prefix: "acme/test".into(),
                refresh_interval: "1h",
            },
            postgres: PostgresProfile {
                image: PinnedImage {
                    repository: ImageRepository::from_static("docker.io/library/postgres"),
                    version: VersionTag::from_static("17.6"),
                },
                resources: r,
            },
            api: WorkloadSizing { replicas: 2, resources: r },
            web: WorkloadSizing { replicas: 1, resources: r },
            migration: r,
            compliance: None,
            waivers: vec![],
        }
    }

    pub fn pins(platform: &Platform) -> ReleasePins {
        ReleasePins {
            images: platform
                .services
                .iter()
                .map(|s| (s.name.clone(), Pin { tag: ImageTag::new("sha-abcdef0").unwrap() }))
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
            [("Namespace", "acme-test"), ("Deployment", "worker"), ("Service", "worker")],
            "no Ingress when nothing is exposed"
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
                ("Ingress", "acme"),
                ("ExternalSecret", "api-db-credentials"),
                ("StatefulSet", "api-db"),
                ("Service", "api-db"),
                ("Job", "api-migrate"),
                ("Deployment", "api"),
                ("Service", "api"),
            ]
        );
        let Object::Ingress(ing) = &objects[1] else { panic!() };
        let annotations = ing.metadata.annotations.as_ref().unwrap();
        assert_eq!(
            annotations["cert-manager.io/issuer"], "ca",
            "a namespaced Issuer uses its own annotation"
        );
        let Object::Deployment(d) = &objects[6] else { panic!() };
        assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2), "api sizing applies");
    }

    #[test]
    fn a_postgres_database_without_migrations_has_no_job() {
        let p = Platform::new(name!("acme")).service(Service::api(name!("api"), IMG).postgres());
        let objects = render_environment(&p, &profile(), &pins(&p)).unwrap().into_objects();
        assert!(objects.iter().all(|o| o.kind() != "Job"));
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
        bad.secrets.key_prefix = "/acme/".into();
        assert!(render_environment(&p, &bad, &pins(&p)).is_err());
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
        let Some(Object::Deployment(web)) = objects.iter().find(|o| o.name() == "web") else { panic!() };
        let env =
            web.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].env.clone().unwrap();
        let url = env.iter().find(|e| e.name == "API_URL").unwrap();
        assert_eq!(url.value.as_deref(), Some("http://api.acme-test.svc.cluster.local:80"));
    }
}
