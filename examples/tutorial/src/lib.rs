//! The tutorial's platform (docs/tutorial.md): an orders API with its own
//! Postgres, a worker that consumes the API's queue with the same image, a
//! Redis both use, on one host; a dev and a prod environment.

// region: platform
use std::net::Ipv4Addr;

use gitops_core::crd::{argocd::ClusterRef, external_secrets::SecretStoreKind};
use gitops_core::{image::*, name, name::HostName, name::Name, platform::*, profile::*};

/// One repository, one image: the API serves it, the worker runs its `consume` command.
const IMAGE: ImageRepository = ImageRepository::from_static("ghcr.io/acme/orders");
pub const ORDERS: Name = name!("orders");
pub const WORKER: Name = name!("orders-worker");

pub fn platform() -> Platform {
    Platform::new(name!("shop"))
        .service(
            Service::api(ORDERS, IMAGE)
                .port(8080)
                .health_path("/healthz")
                .route("/orders")
                .postgres()
                .migrations(["/app/orders", "migrate"])
                .uses_database_of(WORKER),
        )
        .service(
            Service::worker(WORKER, IMAGE)
                .command(["/app/orders", "consume"])
                .redis()
                .uses_database_of(ORDERS),
        )
}
// endregion

// region: helpers
/// Requests and limits: CPU in millicores, memory in MiB.
const fn size(cpu: u32, memory: u32, cpu_limit: u32, memory_limit: u32) -> Resources {
    Resources {
        requests: Compute { cpu: Cpu(cpu), memory: Memory(memory) },
        limits: Compute { cpu: Cpu(cpu_limit), memory: Memory(memory_limit) },
    }
}

const POSTGRES: PinnedImage = PinnedImage {
    repository: ImageRepository::from_static("docker.io/library/postgres"),
    version: VersionTag::from_static("17.6"),
    digest: None,
};
const REDIS: PinnedImage = PinnedImage {
    repository: ImageRepository::from_static("docker.io/library/redis"),
    version: VersionTag::from_static("7.4.1"),
    digest: None,
};

fn databases(postgres: Resources, redis: Resources) -> Vec<DatabaseProfile> {
    vec![
        DatabaseProfile { engine: DatabaseEngine::Postgres, image: POSTGRES, resources: postgres },
        DatabaseProfile { engine: DatabaseEngine::Redis, image: REDIS, resources: redis },
    ]
}

/// Database credentials come from Vault through External Secrets, at `<prefix>/<database>`.
fn vault(key_prefix: &str) -> SecretBackend {
    SecretBackend::External(SecretStoreProfile {
        store: name!("vault"),
        kind: SecretStoreKind::ClusterSecretStore,
        key_prefix: key_prefix.into(),
        refresh_interval: "1h",
        vault: None,
    })
}
// endregion

// region: dev
pub fn dev() -> EnvironmentProfile {
    // The EXTERNAL-IP of the dev cluster's ingress controller.
    let ingress_ip = Ipv4Addr::new(10, 0, 0, 10);
    EnvironmentProfile {
        name: name!("dev"),
        stage: Stage::Development,
        namespace: name!("shop-dev"),
        cluster: ClusterRef::in_cluster(),
        cluster_domain: HostName::new("cluster.local").expect("a valid host name"),
        git: GitSource {
            repo_url: "https://git.example/acme/shop-gitops.git".into(),
            target_revision: "main".into(),
        },
        sync: SyncMode::Automated { prune: true, self_heal: true },
        argocd: ArgoCdProfile::new(name!("dev")),
        ingress: IngressProfile {
            routing: Routing::Ingress { class_name: name!("nginx") },
            host: HostName::nip_io(&name!("shop-dev"), ingress_ip),
            tls_issuer: IssuerRef { name: name!("internal-ca"), kind: IssuerKind::ClusterIssuer },
            expose_opt_in: vec![],
            issuer: IssuerSource::OutOfBand,
        },
        storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
        secrets: vault("shop/dev"),
        databases: databases(size(100, 256, 500, 512), size(50, 64, 250, 128)),
        api: WorkloadSizing { replicas: 1, resources: size(100, 128, 500, 256) },
        web: WorkloadSizing { replicas: 1, resources: size(100, 128, 500, 256) },
        migration: size(100, 128, 500, 256),
        overrides: vec![],
        network: NetworkProfile { ingress_namespace: name!("ingress-nginx"), external_egress: vec![] },
        availability: AvailabilityProfile { spread_across_nodes: false, autoscaling: None },
        gatekeeper_privileged_constraint: false,
        compliance: None,
        waivers: vec![],
        require_digests: false,
    }
}
// endregion

// region: prod
pub fn prod() -> EnvironmentProfile {
    let base = dev();
    let ingress_ip = Ipv4Addr::new(10, 0, 1, 10);
    EnvironmentProfile {
        name: name!("prod"),
        stage: Stage::Production,
        namespace: name!("shop-prod"),
        sync: SyncMode::Manual,
        argocd: ArgoCdProfile {
            change_window: Some(ChangeWindow {
                schedule: "0 9 * * 1-4",
                duration: "6h",
                time_zone: "Etc/UTC",
            }),
            ..ArgoCdProfile::new(name!("prod"))
        },
        ingress: IngressProfile { host: HostName::nip_io(&name!("shop-prod"), ingress_ip), ..base.ingress },
        storage: StorageProfile { database_size: Memory::gib(20), ..base.storage },
        secrets: vault("shop/prod"),
        databases: databases(size(500, 1024, 2000, 2048), size(100, 256, 500, 512)),
        api: WorkloadSizing { replicas: 2, resources: size(250, 256, 1000, 512) },
        overrides: vec![ServiceOverride::new(ORDERS).replicas(3).autoscale(6, 70)],
        availability: AvailabilityProfile { spread_across_nodes: true, autoscaling: None },
        compliance: Some(name!("internal")),
        require_digests: true,
        ..base
    }
}

/// The environments, in promotion order.
pub fn environments() -> Vec<EnvironmentProfile> {
    vec![dev(), prod()]
}
// endregion
