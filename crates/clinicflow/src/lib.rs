#![warn(missing_docs)]
//! ClinicFlow, as its GitOps README describes it: four NestJS APIs with their own Postgres, a Next.js
//! web front end, one ingress host per environment, and the dev, staging and
//! prod profiles of its three clusters.
//!
//! Only ClinicFlow's facts live here; every mechanism is in `gitops-core`.
//!
//! ```
//! let platform = clinicflow::platform();
//! let services: Vec<&str> = platform.services.iter().map(|s| s.name.as_str()).collect();
//! assert_eq!(services, ["identity", "scheduling", "profiles", "notifications", "web"]);
//! let environments: Vec<String> = clinicflow::environments().iter().map(|e| e.name.to_string()).collect();
//! assert_eq!(environments, ["dev", "staging", "prod"]);
//! assert!(clinicflow::prod().require_digests, "production pulls by digest");
//! ```

use std::net::Ipv4Addr;

use gitops_core::addons::{self, Addon};
use gitops_core::crd::argocd::ClusterRef;
use gitops_core::crd::external_secrets::SecretStoreKind;
use gitops_core::image::{ImageDigest, ImageRepository, PinnedImage, VersionTag};
use gitops_core::name;
use gitops_core::name::{HostName, Name};
use gitops_core::platform::{DatabaseEngine, Platform, Service};
use gitops_core::profile::{
    ArgoCdProfile, Autoscaling, AvailabilityProfile, ChangeWindow, Compute, Cpu, DatabaseProfile,
    EnvironmentProfile, ExternalEgress, GitSource, IngressProfile, IssuerKind, IssuerRef, IssuerSource,
    Memory, NetworkProfile, Resources, SecretBackend, SecretStoreProfile, SlackNotifications, Stage,
    StorageProfile, SyncMode, WorkloadSizing,
};

/// The platform's name: every object's `app.kubernetes.io/part-of`.
pub const PLATFORM: Name = name!("clinicflow");

const IDENTITY: Name = name!("identity");
const SCHEDULING: Name = name!("scheduling");
const PROFILES: Name = name!("profiles");
const NOTIFICATIONS: Name = name!("notifications");
const WEB: Name = name!("web");

/// Prisma reads the Postgres schema from the connection string.
const PRISMA_SCHEMA: &str = "schema=public";

/// `prisma migrate deploy`: applies pending migrations, never generates new ones.
const PRISMA_MIGRATE: [&str; 4] = ["npx", "prisma", "migrate", "deploy"];

/// The shape of a ClinicFlow API: a NestJS service (`NODE_ENV=production`)
/// routed at `path`, with its own Postgres (connection string with
/// `schema=public`, as Prisma reads it) and a migration Job running
/// `npx prisma migrate deploy`. The synthetic platform of `crates/synthetic`
/// is made of these.
pub fn nest_api(name: Name, image: ImageRepository, path: &str) -> Service {
    Service::api(name, image)
        .route(path)
        .postgres()
        .url_query(PRISMA_SCHEMA)
        .migrations(PRISMA_MIGRATE)
        .env("NODE_ENV", "production")
}

/// The five ClinicFlow services. Each API owns its database; the UI calls
/// the APIs through relative paths on the same host, so there is no CORS.
pub fn platform() -> Platform {
    Platform::new(PLATFORM)
        .rendered_by("cargo xtask render")
        .service(nest_api(
            IDENTITY,
            ImageRepository::from_static("docker.io/bludivehub/clinicflow-identity"),
            "/identity",
        ))
        .service(
            nest_api(
                SCHEDULING,
                ImageRepository::from_static("docker.io/bludivehub/clinicflow-scheduling"),
                "/scheduling",
            )
            .depends_on([IDENTITY, PROFILES, NOTIFICATIONS]),
        )
        .service(
            nest_api(
                PROFILES,
                ImageRepository::from_static("docker.io/bludivehub/clinicflow-profiles"),
                "/profiles",
            )
            .depends_on([IDENTITY]),
        )
        .service(
            Service::api(
                NOTIFICATIONS,
                ImageRepository::from_static("docker.io/bludivehub/clinicflow-notifications"),
            )
            .opt_in_route("/notifications")
            .postgres()
            .url_query(PRISMA_SCHEMA)
            .migrations(PRISMA_MIGRATE)
            .env("NODE_ENV", "production")
            .depends_on([IDENTITY, PROFILES]),
        )
        .service(
            Service::web(WEB, ImageRepository::from_static("docker.io/bludivehub/clinicflow-web"))
                .route("/")
                .env("NODE_ENV", "production")
                // Next.js standalone binds to $HOSTNAME, which Kubernetes sets to the pod name.
                .env("HOSTNAME", "0.0.0.0")
                .env("NEXT_TELEMETRY_DISABLED", "1")
                .writable_dir("/app/.next/cache")
                .depends_on([IDENTITY, SCHEDULING, PROFILES, NOTIFICATIONS]),
        )
}

/// Postgres 17.6, pinned by version for readers and by the digest of its
/// multi-platform index for the kubelet.
const POSTGRES: PinnedImage = PinnedImage {
    repository: ImageRepository::from_static("docker.io/library/postgres"),
    version: VersionTag::from_static("17.6"),
    digest: Some(ImageDigest::from_static(
        "sha256:00bc86618629af00d2937fdc5a5d63db3ff8450acf52f0636ec813c7f4902929",
    )),
};

/// Every ClinicFlow database is Postgres, sized per environment.
fn postgres(resources: Resources) -> DatabaseProfile {
    DatabaseProfile { engine: DatabaseEngine::Postgres, image: POSTGRES, resources }
}

const fn resources(req_cpu: u32, req_mem: u32, lim_cpu: u32, lim_mem: u32) -> Resources {
    Resources {
        requests: Compute { cpu: Cpu(req_cpu), memory: Memory(req_mem) },
        limits: Compute { cpu: Cpu(lim_cpu), memory: Memory(lim_mem) },
    }
}

fn git() -> GitSource {
    GitSource {
        repo_url: "https://github.com/bludivehub/clinicflow-gitops.git".into(),
        target_revision: "main".into(),
    }
}

/// `clinicflow-<env>.<ip>.nip.io`, where `ip` is the EXTERNAL-IP of
/// `kubectl -n ingress-nginx get svc ingress-nginx-controller` (MetalLB).
fn host(env: &str, lb_ip: Ipv4Addr) -> HostName {
    HostName::nip_io(&PLATFORM.suffixed(env).expect("`clinicflow-<env>` is a valid name"), lb_ip)
}

/// Each cluster runs its own Argo CD (ClinicFlow's GitOps README), so each environment is its
/// own Argo CD instance, named after it; failures and degradations go to Slack.
fn argocd(env: Name, lb_ip: Ipv4Addr, change_window: Option<ChangeWindow>) -> ArgoCdProfile {
    ArgoCdProfile {
        notifications: Some(SlackNotifications {
            channel: "clinicflow-deploys".into(),
            argocd_url: format!("https://argocd-{env}.{lb_ip}.nip.io"),
        }),
        change_window,
        addons: addons(lb_ip),
        // ClinicFlow's GitOps README names no identity provider or groups:
        // read-only for everyone signed in, the local admin for the rest.
        ..ArgoCdProfile::new(env)
    }
}

/// What each cluster runs before ClinicFlow (ClinicFlow's GitOps README):
/// ingress-nginx behind MetalLB at the address the `nip.io` hosts name,
/// cert-manager for the TLS certificates, External Secrets for the
/// database credentials, and metrics-server for production's autoscalers.
fn addons(lb_ip: Ipv4Addr) -> Vec<Addon> {
    vec![
        addons::metallb(vec![format!("{lb_ip}/32")]),
        addons::ingress_nginx(&name!("nginx"), Some(lb_ip)),
        addons::cert_manager(),
        addons::external_secrets(),
        addons::metrics_server(),
    ]
}

/// Production changes go out on Tuesday and Thursday evenings, 20:00 to 23:00 UTC.
const PROD_CHANGE_WINDOW: ChangeWindow =
    ChangeWindow { schedule: "0 20 * * 2,4", duration: "3h", time_zone: "Etc/UTC" };

/// Database credentials come from the ClusterSecretStore `clinicflow-secrets`
/// (keys `clinicflow/<env>/<svc>-db`) in every environment. Dev is meant to
/// move to SealedSecrets (`SecretBackend::Sealed { dir: "secrets/dev" }`) as
/// soon as its ciphertext, sealed with the dev cluster's certificate, is
/// committed there; nothing else changes.
fn secrets(env: &str) -> SecretBackend {
    SecretBackend::External(SecretStoreProfile {
        store: name!("clinicflow-secrets"),
        kind: SecretStoreKind::ClusterSecretStore,
        key_prefix: format!("clinicflow/{env}"),
        refresh_interval: "1h",
        vault: None,
    })
}

fn ingress(env: &str, lb_ip: Ipv4Addr, expose_opt_in: Vec<Name>) -> IngressProfile {
    IngressProfile {
        // ingress-nginx, as the clusters run it today; it was retired in
        // March 2026, and `Routing::GatewayApi` is the way off it.
        routing: gitops_core::profile::Routing::Ingress { class_name: name!("nginx") },
        host: host(env, lb_ip),
        tls_issuer: IssuerRef { name: name!("clinicflow-internal-ca"), kind: IssuerKind::ClusterIssuer },
        expose_opt_in,
        // The nip.io hosts resolve to private MetalLB addresses that Let's
        // Encrypt cannot reach for HTTP-01, so certificates come from an
        // internal CA whose key pair lives in cert-manager's namespace.
        issuer: IssuerSource::InternalCa { secret_name: name!("clinicflow-internal-ca-key-pair") },
    }
}

/// The ingress controller is the only way in; notifications may send mail
/// through an SMTP relay outside the cluster, nothing else leaves it.
fn network() -> NetworkProfile {
    NetworkProfile {
        ingress_namespace: name!("ingress-nginx"),
        external_egress: vec![ExternalEgress {
            service: NOTIFICATIONS,
            purpose: "SMTP relay (submission) for e-mail notifications",
            cidr: "0.0.0.0/0",
            except: &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
            ports: &[587],
        }],
    }
}

/// Dev: 1 master + 2 workers. One replica each, small requests, every change
/// synced and drift reverted automatically.
pub fn dev() -> EnvironmentProfile {
    // EXTERNAL-IP of `kubectl -n ingress-nginx get svc ingress-nginx-controller`.
    let lb_ip = Ipv4Addr::new(192, 168, 10, 240);
    EnvironmentProfile {
        name: name!("dev"),
        stage: Stage::Development,
        namespace: name!("clinicflow-dev"),
        cluster: ClusterRef::in_cluster(),
        cluster_domain: HostName::new("cluster.local").expect("valid"),
        git: git(),
        sync: SyncMode::Automated { prune: true, self_heal: true },
        argocd: argocd(name!("dev"), lb_ip, None),
        ingress: ingress("dev", lb_ip, vec![NOTIFICATIONS]),
        storage: StorageProfile { class: name!("nfs-dev"), database_size: Memory::gib(5) },
        secrets: secrets("dev"),
        databases: vec![postgres(resources(100, 256, 500, 512))],
        api: WorkloadSizing { replicas: 1, resources: resources(100, 128, 500, 256) },
        web: WorkloadSizing { replicas: 1, resources: resources(100, 128, 500, 256) },
        migration: resources(100, 128, 500, 256),
        overrides: vec![],
        network: network(),
        availability: AvailabilityProfile { spread_across_nodes: false, autoscaling: None },
        // The clusters run no Gatekeeper (the add-ons ClinicFlow's GitOps README installs); Pod Security Admission enforces instead.
        gatekeeper_privileged_constraint: false,
        compliance: None,
        waivers: vec![],
        require_digests: false,
    }
}

/// Staging: 3 masters + 3 workers. Two replicas, synced automatically.
pub fn staging() -> EnvironmentProfile {
    // EXTERNAL-IP of `kubectl -n ingress-nginx get svc ingress-nginx-controller`.
    let lb_ip = Ipv4Addr::new(192, 168, 20, 240);
    EnvironmentProfile {
        name: name!("staging"),
        stage: Stage::Staging,
        namespace: name!("clinicflow-staging"),
        cluster: ClusterRef::in_cluster(),
        cluster_domain: HostName::new("cluster.local").expect("valid"),
        git: git(),
        sync: SyncMode::Automated { prune: true, self_heal: false },
        argocd: argocd(name!("staging"), lb_ip, None),
        ingress: ingress("staging", lb_ip, vec![NOTIFICATIONS]),
        storage: StorageProfile { class: name!("nfs-staging"), database_size: Memory::gib(10) },
        secrets: secrets("staging"),
        databases: vec![postgres(resources(250, 512, 1000, 1024))],
        api: WorkloadSizing { replicas: 2, resources: resources(200, 256, 1000, 512) },
        web: WorkloadSizing { replicas: 2, resources: resources(200, 256, 1000, 512) },
        migration: resources(100, 256, 500, 512),
        overrides: vec![],
        network: network(),
        availability: AvailabilityProfile { spread_across_nodes: true, autoscaling: None },
        // The clusters run no Gatekeeper (the add-ons ClinicFlow's GitOps README installs); Pod Security Admission enforces instead.
        gatekeeper_privileged_constraint: false,
        compliance: None,
        waivers: vec![],
        require_digests: false,
    }
}

/// Prod: 3 masters + 4 workers. Three replicas, the largest sizes, and a
/// person presses Sync after approval. `/notifications` stays internal.
pub fn prod() -> EnvironmentProfile {
    // EXTERNAL-IP of `kubectl -n ingress-nginx get svc ingress-nginx-controller`.
    let lb_ip = Ipv4Addr::new(192, 168, 30, 240);
    EnvironmentProfile {
        name: name!("prod"),
        stage: Stage::Production,
        namespace: name!("clinicflow-prod"),
        cluster: ClusterRef::in_cluster(),
        cluster_domain: HostName::new("cluster.local").expect("valid"),
        git: git(),
        sync: SyncMode::Manual,
        argocd: argocd(name!("prod"), lb_ip, Some(PROD_CHANGE_WINDOW)),
        ingress: ingress("prod", lb_ip, vec![]),
        storage: StorageProfile { class: name!("nfs-prod"), database_size: Memory::gib(20) },
        secrets: secrets("prod"),
        databases: vec![postgres(resources(500, 1024, 2000, 2048))],
        api: WorkloadSizing { replicas: 3, resources: resources(250, 384, 1000, 768) },
        web: WorkloadSizing { replicas: 3, resources: resources(250, 384, 1000, 768) },
        migration: resources(100, 256, 500, 512),
        overrides: vec![],
        network: network(),
        availability: AvailabilityProfile {
            spread_across_nodes: true,
            autoscaling: Some(Autoscaling { max_replicas: 6, cpu_utilization: 70 }),
        },
        // The clusters run no Gatekeeper (the add-ons ClinicFlow's GitOps README installs); Pod Security Admission enforces instead.
        gatekeeper_privileged_constraint: false,
        compliance: Some(name!("hipaa")),
        waivers: vec![],
        // Production pulls exactly what was tested: tag and digest.
        require_digests: true,
    }
}

/// The environments in promotion order.
pub fn environments() -> Vec<EnvironmentProfile> {
    vec![dev(), staging(), prod()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_core::platform::ServiceKind;

    #[test]
    fn the_platform_is_sound() {
        let p = platform();
        p.validate().unwrap();
        let names: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["identity", "scheduling", "profiles", "notifications", "web"]);
        let with_db: Vec<&str> =
            p.services.iter().filter(|s| s.database.is_some()).map(|s| s.name.as_str()).collect();
        assert_eq!(with_db, ["identity", "scheduling", "profiles", "notifications"]);
        assert_eq!(p.find("web").unwrap().kind, ServiceKind::Web);
    }

    #[test]
    fn storage_classes_follow_the_seed() {
        let classes: Vec<String> = environments().iter().map(|e| e.storage.class.to_string()).collect();
        assert_eq!(classes, ["nfs-dev", "nfs-staging", "nfs-prod"]);
    }

    #[test]
    fn sizes_grow_towards_production() {
        let envs = environments();
        for pair in envs.windows(2) {
            let (lower, higher) = (&pair[0], &pair[1]);
            assert!(lower.api.replicas < higher.api.replicas);
            assert!(lower.api.resources.requests.memory < higher.api.resources.requests.memory);
            assert!(lower.storage.database_size < higher.storage.database_size);
        }
    }

    #[test]
    fn sync_policy_per_environment() {
        assert_eq!(dev().sync, SyncMode::Automated { prune: true, self_heal: true });
        assert!(matches!(staging().sync, SyncMode::Automated { .. }));
        assert_eq!(prod().sync, SyncMode::Manual);
    }

    #[test]
    fn hosts_are_nip_io_per_environment() {
        assert_eq!(dev().ingress.host.as_str(), "clinicflow-dev.192.168.10.240.nip.io");
        assert_eq!(prod().ingress.host.as_str(), "clinicflow-prod.192.168.30.240.nip.io");
    }
}
