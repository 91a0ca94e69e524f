#![warn(missing_docs)]
//! The smallest platform (one service with a database, one environment): copy it to start yours.
//!
//! [`platform`] says what runs (the `hello` API, routed at `/`, with its own
//! Postgres) and [`dev`] where and how much (the `hello-dev` namespace of the
//! cluster Argo CD runs in). `src/main.rs` mounts every command of
//! [`gitops_cli`] on them with this directory as the repository: the pin is
//! `releases/dev.yaml`, and `cargo run -p minimal-example -- render --out DIR`
//! writes the tree.
use gitops_core::crd::{argocd::ClusterRef, external_secrets::SecretStoreKind};
use gitops_core::{image::*, name, name::HostName, platform::*, profile::*};

/// The `hello` platform: one [`Service::api`] from `docker.io/acme/hello`,
/// served at `/` on the environment's host, with a Postgres of its own (its
/// engine's image and size come from [`dev`]'s `databases`).
pub fn platform() -> Platform {
    let image = ImageRepository::from_static("docker.io/acme/hello");
    Platform::new(name!("hello")).service(Service::api(name!("hello"), image).route("/").postgres())
}

/// The one environment, `dev`: namespace `hello-dev` on the cluster Argo CD
/// runs in, synced and healed automatically, served at
/// `hello-dev.10.0.0.10.nip.io` through the nginx ingress class, database
/// credentials from the existing `ClusterSecretStore` `vault` (External
/// Secrets, keys below `hello/dev`), and small sizes (CPU in millicores, memory in
/// MiB; limits four times the CPU and twice the memory requested).
/// Every field of [`EnvironmentProfile`] is required, so all are written out.
pub fn dev() -> EnvironmentProfile {
    let small = |cpu, mem| Resources {
        requests: Compute { cpu: Cpu(cpu), memory: Memory(mem) },
        limits: Compute { cpu: Cpu(cpu * 4), memory: Memory(mem * 2) },
    };
    EnvironmentProfile {
        name: name!("dev"),
        stage: Stage::Development,
        namespace: name!("hello-dev"),
        cluster: ClusterRef::in_cluster(),
        cluster_domain: HostName::new("cluster.local").expect("valid host"),
        git: GitSource { repo_url: "https://git.example/hello.git".into(), target_revision: "main".into() },
        sync: SyncMode::Automated { prune: true, self_heal: true },
        argocd: ArgoCdProfile::new(name!("dev")),
        ingress: IngressProfile {
            routing: Routing::Ingress { class_name: name!("nginx") },
            host: HostName::nip_io(&name!("hello-dev"), std::net::Ipv4Addr::new(10, 0, 0, 10)),
            tls_issuer: IssuerRef { name: name!("internal-ca"), kind: IssuerKind::ClusterIssuer },
            expose_opt_in: vec![],
            issuer: IssuerSource::OutOfBand,
        },
        storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
        secrets: SecretBackend::External(SecretStoreProfile {
            store: name!("vault"),
            kind: SecretStoreKind::ClusterSecretStore,
            key_prefix: "hello/dev".into(),
            refresh_interval: "1h",
            vault: None,
        }),
        databases: vec![DatabaseProfile {
            engine: DatabaseEngine::Postgres,
            image: PinnedImage {
                repository: ImageRepository::from_static("docker.io/library/postgres"),
                version: VersionTag::from_static("17.6"),
                digest: None,
            },
            resources: small(100, 256),
        }],
        api: WorkloadSizing { replicas: 1, resources: small(100, 128) },
        web: WorkloadSizing { replicas: 1, resources: small(100, 128) },
        migration: small(100, 128),
        overrides: vec![],
        network: NetworkProfile { ingress_namespace: name!("ingress-nginx"), external_egress: vec![] },
        availability: AvailabilityProfile { spread_across_nodes: false, autoscaling: None },
        gatekeeper_privileged_constraint: false,
        compliance: None,
        waivers: vec![],
        require_digests: false,
    }
}
