#![warn(missing_docs)]
//! Google's Online Boutique (GoogleCloudPlatform/microservices-demo), ported
//! from its `release/kubernetes-manifests.yaml` at v0.5.1 with the public
//! API only: ten gRPC services and an HTTP front end that call each other by
//! `host:port` addresses, a Redis cart store from a third-party image, a
//! load generator (a worker with an init container) and the front end's
//! `frontend-external` LoadBalancer.
//!
//! Everything functional is upstream's: container names, images and tags,
//! ports, commands, variables, probe kinds, ports and timings, volumes,
//! Service ports and types, and each container's requests and limits. What
//! the core adds is its hardening (own ServiceAccounts, default-deny
//! NetworkPolicies with exactly the calls below allowed, read-only roots,
//! seccomp, node-disk limits, quota) and Argo CD.
//!
//! [`platform`] holds the services, [`dev`] and [`prod`] the two
//! environments ([`environments`] in promotion order), and [`project`] mounts
//! them on [`gitops_cli`] with this directory as the repository: release
//! files in `releases/`, the tree committed at `deploy/`, and the
//! repository's shared `policies/`. Releases are tagged by semantic version
//! (`v0.5.1`, [`TagRule::SemVer`]), as upstream publishes them.

use std::net::Ipv4Addr;
use std::path::Path;

use gitops_core::crd::argocd::ClusterRef;
use gitops_core::crd::external_secrets::SecretStoreKind;
use gitops_core::image::{ImageRepository, PinnedImage, TagRule, VersionTag};
use gitops_core::name;
use gitops_core::name::{HostName, Name};
use gitops_core::platform::{Platform, Service};
use gitops_core::profile::{
    ArgoCdProfile, AvailabilityProfile, ChangeWindow, Compute, Cpu, EnvironmentProfile, GitSource,
    IngressProfile, IssuerKind, IssuerRef, IssuerSource, Memory, NetworkProfile, Resources, Routing,
    SecretBackend, SecretStoreProfile, ServiceOverride, Stage, StorageProfile, SyncMode, WorkloadSizing,
};
use gitops_core::spec::{
    Address, ContainerImage, ContainerSpec, Expose, PortSpec, ProbeSpec, ProbeTiming, Probes, ServiceType,
    VolumeSource, VolumeSpec,
};
use gitops_tree::pipeline::Paths;

/// The platform's name, and the prefix of its namespaces and Argo CD
/// projects (`online-boutique-<env>`).
pub const PLATFORM: Name = name!("online-boutique");

// Upstream's service names, used as they are for the Deployments, Services,
// images (`gcr.io/google-samples/microservices-demo/<name>`) and pins.

/// `emailservice` (gRPC, port 8080 behind Service port 5000).
pub const EMAIL: Name = name!("emailservice");
/// `checkoutservice` (gRPC, 5050): calls the catalog, shipping, payment, email, currency and cart.
pub const CHECKOUT: Name = name!("checkoutservice");
/// `recommendationservice` (gRPC, 8080): calls the product catalog.
pub const RECOMMENDATION: Name = name!("recommendationservice");
/// `frontend` (HTTP, 8080 behind Service port 80, and the `frontend-external` LoadBalancer).
pub const FRONTEND: Name = name!("frontend");
/// `paymentservice` (gRPC, 50051).
pub const PAYMENT: Name = name!("paymentservice");
/// `productcatalogservice` (gRPC, 3550).
pub const PRODUCT_CATALOG: Name = name!("productcatalogservice");
/// `cartservice` (gRPC, 7070): keeps carts in [`REDIS_CART`].
pub const CART: Name = name!("cartservice");
/// `loadgenerator`: a worker that sends simulated shoppers to the [`FRONTEND`].
pub const LOAD_GENERATOR: Name = name!("loadgenerator");
/// `currencyservice` (gRPC, 7000).
pub const CURRENCY: Name = name!("currencyservice");
/// `shippingservice` (gRPC, 50051).
pub const SHIPPING: Name = name!("shippingservice");
/// `redis-cart`: the cart store, Redis from [`REDIS`], on 6379.
pub const REDIS_CART: Name = name!("redis-cart");
/// `adservice` (gRPC, 9555).
pub const AD: Name = name!("adservice");

/// Every image but Redis and BusyBox is built by the project and released
/// as a semantic version (`v0.5.1`): the release files pin them.
fn image(service: &Name) -> ImageRepository {
    ImageRepository::new(format!("gcr.io/google-samples/microservices-demo/{service}"))
        .expect("service names are valid repository paths")
}

/// Upstream runs `redis:alpine`, a floating tag; pinned here to a release.
/// No digest: add the one your registry reports (`crane digest`), which
/// this repository cannot look up.
pub const REDIS: PinnedImage = PinnedImage {
    repository: ImageRepository::from_static("docker.io/library/redis"),
    version: VersionTag::from_static("7.2.4-alpine"),
    digest: None,
};

/// Upstream's init container runs `busybox:latest`; pinned here to a release.
pub const BUSYBOX: PinnedImage = PinnedImage {
    repository: ImageRepository::from_static("docker.io/library/busybox"),
    version: VersionTag::from_static("1.36.1"),
    digest: None,
};

/// The probes Kubernetes runs when a manifest gives no timing.
const DEFAULT_TIMING: ProbeTiming =
    ProbeTiming { initial_delay: 0, period: 10, timeout: 1, failure_threshold: 3 };

/// `grpc_health_probe` against the container's own port, the probe every
/// gRPC service of upstream's manifests runs for readiness and liveness.
fn grpc_health(port: u16, extra: &[&str], readiness: ProbeTiming, liveness: ProbeTiming) -> Probes {
    let mut command = vec!["/bin/grpc_health_probe".to_owned(), format!("-addr=:{port}")];
    command.extend(extra.iter().map(|s| s.to_string()));
    Probes {
        startup: None,
        readiness: Some(ProbeSpec::exec(command.clone(), readiness)),
        liveness: Some(ProbeSpec::exec(command, liveness)),
    }
}

const fn resources(req_cpu: u32, req_mem: u32, lim_cpu: u32, lim_mem: u32) -> Resources {
    Resources {
        requests: Compute { cpu: Cpu(req_cpu), memory: Memory(req_mem) },
        limits: Compute { cpu: Cpu(lim_cpu), memory: Memory(lim_mem) },
    }
}

const fn one(resources: Resources) -> WorkloadSizing {
    WorkloadSizing { replicas: 1, resources }
}

/// The common shape of upstream's servers: container `server`, running as
/// UID 1000, listening on `port` (named after its protocol), behind a
/// ClusterIP Service whose port `service_port` forwards to it.
fn server(name: Name, port: PortSpec, service_port: u16, sizing: Resources) -> Service {
    let port_name = port.name.clone();
    let service_port_name = if port_name == "http" { "http" } else { "grpc" };
    Service::api(name.clone(), image(&name))
        .container_name("server")
        .listen([port])
        .expose([Expose::new(ServiceType::ClusterIp, &[(service_port_name, service_port, &port_name)])])
        .run_as(1000)
        .sizing(one(sizing))
}

/// A gRPC server whose `PORT` variable and Service port are both `port`.
fn grpc(name: Name, port: u16, service_port: u16, sizing: Resources) -> Service {
    server(name, PortSpec::grpc("grpc", port), service_port, sizing)
}

/// `host:port` of a dependency, as upstream writes every address.
fn addr(env: &str) -> Address {
    Address::host_port(env)
}

/// Online Boutique's services, as upstream's manifests define them.
pub fn platform() -> Platform {
    let small = resources(100, 64, 200, 128);
    let frontend_probe = |cookie: &str| {
        ProbeSpec::http("/_healthz", "http", DEFAULT_TIMING.initial_delay(10)).header("Cookie", cookie)
    };
    Platform::new(PLATFORM)
        .rendered_by(RENDER)
        .tag_rule(TagRule::SemVer)
        .service(
            grpc(EMAIL, 8080, 5000, small)
                .probes(grpc_health(8080, &[], DEFAULT_TIMING.period(5), DEFAULT_TIMING.period(5)))
                .env("DISABLE_PROFILER", "1"),
        )
        .service(
            grpc(CHECKOUT, 5050, 5050, small)
                .probes(grpc_health(5050, &[], DEFAULT_TIMING, DEFAULT_TIMING))
                .calls(PRODUCT_CATALOG, addr("PRODUCT_CATALOG_SERVICE_ADDR"))
                .calls(SHIPPING, addr("SHIPPING_SERVICE_ADDR"))
                .calls(PAYMENT, addr("PAYMENT_SERVICE_ADDR"))
                .calls(EMAIL, addr("EMAIL_SERVICE_ADDR"))
                .calls(CURRENCY, addr("CURRENCY_SERVICE_ADDR"))
                .calls(CART, addr("CART_SERVICE_ADDR")),
        )
        .service(
            grpc(RECOMMENDATION, 8080, 8080, resources(100, 220, 200, 450))
                .probes(grpc_health(8080, &[], DEFAULT_TIMING.period(5), DEFAULT_TIMING.period(5)))
                .calls(PRODUCT_CATALOG, addr("PRODUCT_CATALOG_SERVICE_ADDR"))
                .env("DISABLE_PROFILER", "1"),
        )
        .service(
            server(FRONTEND, PortSpec::tcp("http", 8080), 80, small)
                .probes(Probes {
                    startup: None,
                    readiness: Some(frontend_probe("shop_session-id=x-readiness-probe")),
                    liveness: Some(frontend_probe("shop_session-id=x-liveness-probe")),
                })
                .also_expose(
                    Expose::new(ServiceType::LoadBalancer, &[("http", 80, "http")])
                        .named(name!("frontend-external")),
                )
                .calls(PRODUCT_CATALOG, addr("PRODUCT_CATALOG_SERVICE_ADDR"))
                .calls(CURRENCY, addr("CURRENCY_SERVICE_ADDR"))
                .calls(CART, addr("CART_SERVICE_ADDR"))
                .calls(RECOMMENDATION, addr("RECOMMENDATION_SERVICE_ADDR"))
                .calls(SHIPPING, addr("SHIPPING_SERVICE_ADDR"))
                .calls(CHECKOUT, addr("CHECKOUT_SERVICE_ADDR"))
                .calls(AD, addr("AD_SERVICE_ADDR"))
                .env("ENABLE_PROFILER", "0"),
        )
        .service(
            grpc(PAYMENT, 50051, 50051, small)
                .probes(grpc_health(50051, &[], DEFAULT_TIMING, DEFAULT_TIMING))
                .env("DISABLE_PROFILER", "1"),
        )
        .service(
            grpc(PRODUCT_CATALOG, 3550, 3550, small)
                .probes(grpc_health(3550, &[], DEFAULT_TIMING, DEFAULT_TIMING))
                .env("DISABLE_PROFILER", "1"),
        )
        .service(
            // The cart service listens on 7070 by itself: upstream sets no `PORT`.
            grpc(CART, 7070, 7070, resources(200, 64, 300, 128))
                .port_env(None)
                .probes(grpc_health(
                    7070,
                    &["-rpc-timeout=5s"],
                    DEFAULT_TIMING.initial_delay(15),
                    DEFAULT_TIMING.initial_delay(15).period(10),
                ))
                .calls(REDIS_CART, addr("REDIS_ADDR")),
        )
        .service(
            Service::worker(LOAD_GENERATOR, image(&LOAD_GENERATOR))
                .container_name("main")
                .run_as(1000)
                .sizing(one(resources(300, 256, 500, 512)))
                .init_container(
                    ContainerSpec::new("frontend-check", ContainerImage::Pinned(BUSYBOX))
                        .command(["/bin/sh", "-exc", FRONTEND_CHECK])
                        .env("FRONTEND_ADDR", "frontend:80"),
                )
                .calls(FRONTEND, addr("FRONTEND_ADDR"))
                .env("USERS", "10"),
        )
        .service(
            grpc(CURRENCY, 7000, 7000, small)
                .probes(grpc_health(7000, &[], DEFAULT_TIMING, DEFAULT_TIMING))
                .env("DISABLE_PROFILER", "1"),
        )
        .service(
            grpc(SHIPPING, 50051, 50051, small)
                .probes(grpc_health(50051, &[], DEFAULT_TIMING.period(5), DEFAULT_TIMING))
                .env("DISABLE_PROFILER", "1"),
        )
        .service(
            Service::third_party(REDIS_CART, REDIS)
                .container_name("redis")
                .listen([PortSpec::tcp("redis", 6379)])
                .expose([Expose::new(ServiceType::ClusterIp, &[("tcp-redis", 6379, "redis")])])
                .probes(Probes {
                    startup: None,
                    readiness: Some(ProbeSpec::tcp(6379, DEFAULT_TIMING.period(5))),
                    liveness: Some(ProbeSpec::tcp(6379, DEFAULT_TIMING.period(5))),
                })
                .volume(VolumeSpec {
                    name: "redis-data".into(),
                    // Upstream leaves the emptyDir unbounded; a cart cache of
                    // at most 256 MiB of memory fits in 1 GiB of disk.
                    source: VolumeSource::EmptyDir { size: Memory::gib(1), medium_memory: false },
                    mount_path: Some("/data".into()),
                    read_only: false,
                })
                .run_as(1000)
                .sizing(one(resources(70, 200, 125, 256))),
        )
        .service(grpc(AD, 9555, 9555, resources(200, 180, 300, 300)).probes(grpc_health(
            9555,
            &[],
            DEFAULT_TIMING.initial_delay(20).period(15),
            DEFAULT_TIMING.initial_delay(20).period(15),
        )))
}

/// Upstream's init container script: wait until the front end answers 200.
pub const FRONTEND_CHECK: &str = r#"echo "Init container pinging frontend: ${FRONTEND_ADDR}..."
STATUSCODE=$(wget --server-response http://${FRONTEND_ADDR} 2>&1 | awk '/^  HTTP/{print $2}')
if test $STATUSCODE -ne 200; then
    echo "Error: Could not reach frontend - Status code: ${STATUSCODE}"
    exit 1
fi
"#;

/// How the team runs the command line from this repository.
pub const INVOCATION: &str = "cargo run -p online-boutique --";
const RENDER: &str = "cargo run -p online-boutique -- render";

/// The project: the platform, its environments, and this directory as the
/// root of its GitOps repository, for every command of `gitops-cli`.
pub fn project() -> gitops_cli::Project {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    gitops_cli::Project::new(platform(), environments(), root, INVOCATION)
        .policies("../../policies")
        .require_policies()
}

/// Where the pipeline finds the sources and puts the tree, for calling
/// [`gitops_tree::pipeline`] directly (the tests do): this directory stands
/// for the root of the team's GitOps repository, with the repository's shared
/// `policies/` and no rules in Rust.
pub fn paths() -> Paths<'static> {
    Paths {
        root: Path::new(env!("CARGO_MANIFEST_DIR")),
        releases: "releases",
        policies: "../../policies",
        deploy: "deploy",
        rules: &[],
    }
}

/// The address MetalLB gives the front end's LoadBalancer (a placeholder);
/// the profile's ingress host is unused, since nothing is routed by path.
const LB_IP: Ipv4Addr = Ipv4Addr::new(10, 30, 0, 240);

fn environment(env: Name, stage: Stage, overrides: Vec<ServiceOverride>) -> EnvironmentProfile {
    let production = stage == Stage::Production;
    let namespace = PLATFORM.suffixed(env.as_str()).expect("a valid namespace");
    // Every service sizes itself (upstream's requests and limits); these
    // only size a service that does not.
    let fallback = WorkloadSizing { replicas: 1, resources: resources(100, 64, 200, 128) };
    EnvironmentProfile {
        stage,
        cluster: ClusterRef::in_cluster(),
        cluster_domain: HostName::new("cluster.local").expect("valid"),
        git: GitSource {
            repo_url: "https://git.example/online-boutique-gitops.git".into(),
            target_revision: "main".into(),
        },
        sync: if production {
            SyncMode::Manual
        } else {
            SyncMode::Automated { prune: true, self_heal: true }
        },
        argocd: ArgoCdProfile {
            change_window: production.then_some(ChangeWindow {
                schedule: "0 9 * * 1-4",
                duration: "6h",
                time_zone: "UTC",
            }),
            ..ArgoCdProfile::new(env.clone())
        },
        ingress: IngressProfile {
            routing: Routing::Ingress { class_name: name!("nginx") },
            host: HostName::nip_io(&namespace, LB_IP),
            tls_issuer: IssuerRef { name: name!("internal-ca"), kind: IssuerKind::ClusterIssuer },
            expose_opt_in: vec![],
            issuer: IssuerSource::OutOfBand,
        },
        storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
        // No service reads a secret; the backend is named for completeness.
        secrets: SecretBackend::External(SecretStoreProfile {
            store: name!("vault"),
            kind: SecretStoreKind::ClusterSecretStore,
            key_prefix: format!("online-boutique/{env}"),
            refresh_interval: "1h",
            vault: None,
        }),
        databases: vec![],
        api: fallback,
        web: fallback,
        migration: resources(100, 128, 500, 256),
        overrides,
        network: NetworkProfile { ingress_namespace: name!("ingress-nginx"), external_egress: vec![] },
        availability: AvailabilityProfile { spread_across_nodes: production, autoscaling: None },
        gatekeeper_privileged_constraint: false,
        // Production objects carry the regime they are run under.
        compliance: production.then_some(name!("internal")),
        waivers: vec![],
        // The project's images are pinned by version; set digests to require them.
        require_digests: false,
        name: env,
        namespace,
    }
}

/// Dev runs upstream's manifests as they are: one replica each.
pub fn dev() -> EnvironmentProfile {
    environment(name!("dev"), Stage::Development, vec![])
}

/// Prod runs the services the shoppers reach with more replicas and room,
/// and no load generator traffic beyond one user.
pub fn prod() -> EnvironmentProfile {
    environment(
        name!("prod"),
        Stage::Production,
        vec![
            ServiceOverride::new(FRONTEND).replicas(3).resources(resources(200, 128, 400, 256)),
            ServiceOverride::new(CART).replicas(2),
            ServiceOverride::new(CHECKOUT).replicas(2),
            ServiceOverride::new(LOAD_GENERATOR).env("USERS", "1"),
        ],
    )
}

/// The environments in promotion order.
pub fn environments() -> Vec<EnvironmentProfile> {
    vec![dev(), prod()]
}
