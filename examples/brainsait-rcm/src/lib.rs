#![warn(missing_docs)]
//! BrainSAIT RCM (BrainSAIT's pipeline document): revenue-cycle management for Saudi healthcare
//! providers. Two services, `claims-scrubbing` and `fhir-gateway`, and two
//! apps, `api` (which keeps its data in MongoDB) and `web`. Three
//! environments, `dev`, `staging` and `production`, in the namespaces
//! `brainsait-<env>` of one cluster, all managed by its one Argo CD: one
//! Application per service per environment (`<service>-<env>`, as the pipeline document
//! names them) under a single app-of-apps root.
//!
//! Only BrainSAIT's facts live here; every mechanism is in `gitops-core`.
//! Where the pipeline document is silent (ports, hosts, sizes, the storage class, the
//! Vault address, the change window), the values are placeholders to
//! replace with the real ones.
//!
//! [`platform`] holds the services; [`dev`], [`staging`] and [`production`]
//! the environments ([`environments`] in promotion order); [`project`] mounts
//! them on [`gitops_cli`] with this directory as the repository (release
//! files in `releases/`, dev's sealed secrets in `secrets/dev/`, the tree
//! committed at `deploy/`, the repository's shared `policies/`).

use std::net::Ipv4Addr;
use std::path::Path;

use gitops_core::addons::{self, Addon};
use gitops_core::crd::argocd::ClusterRef;
use gitops_core::crd::external_secrets::SecretStoreKind;
use gitops_core::image::{ImageDigest, ImageRepository, PinnedImage, VersionTag};
use gitops_core::name;
use gitops_core::name::{HostName, Name};
use gitops_core::platform::{DatabaseEngine, Platform, Service, Topology};
use gitops_core::profile::{
    Access, ArgoCdBackup, ArgoCdProfile, AvailabilityProfile, BackupCredentials, ChangeWindow, Compute, Cpu,
    DatabaseProfile, EnvironmentProfile, ExternalEgress, GitSource, IngressProfile, IssuerKind, IssuerRef,
    IssuerSource, Memory, NetworkProfile, PrometheusOperator, Resources, Routing, SecretBackend,
    SecretStoreProfile, SlackNotifications, Stage, StorageProfile, SyncMode, VaultStore, WorkloadSizing,
};
use gitops_tree::pipeline::Paths;

/// The platform's name: its one Argo CD instance, and the prefix of its
/// namespaces (`brainsait-<env>`).
pub const PLATFORM: Name = name!("brainsait");

const CLAIMS_SCRUBBING: Name = name!("claims-scrubbing");
const FHIR_GATEWAY: Name = name!("fhir-gateway");
const API: Name = name!("api");
const WEB: Name = name!("web");

/// CI pushes `docker.io/brainsait/<service>:sha-<commit>`. (The pipeline document's
/// workflow tags the bare `${{ github.sha }}`; the core's immutable tags
/// carry the `sha-` prefix, so CI tags `sha-${{ github.sha }}`.)
fn image(service: &Name) -> ImageRepository {
    ImageRepository::new(format!("docker.io/brainsait/{service}")).expect("service names are valid paths")
}

/// The four services. The web app calls the API under `/api` on the same
/// host; the API asks claims-scrubbing to validate claims and the FHIR
/// gateway to exchange them with NPHIES.
pub fn platform() -> Platform {
    Platform::new(PLATFORM)
        .rendered_by(RENDER)
        .topology(Topology::PerService)
        .service(Service::api(CLAIMS_SCRUBBING, image(&CLAIMS_SCRUBBING)).depends_on([FHIR_GATEWAY]))
        .service(Service::api(FHIR_GATEWAY, image(&FHIR_GATEWAY)))
        .service(
            Service::api(API, image(&API))
                .route("/api")
                .mongodb()
                .depends_on([CLAIMS_SCRUBBING, FHIR_GATEWAY]),
        )
        .service(Service::web(WEB, image(&WEB)).route("/").depends_on([API]))
}

/// How BrainSAIT's team runs the command line from this repository.
pub const INVOCATION: &str = "cargo run -p brainsait-rcm --";
const RENDER: &str = "cargo run -p brainsait-rcm -- render";

/// BrainSAIT's project: the platform, its environments, and this directory
/// as the root of its GitOps repository, for every command of `gitops-cli`.
pub fn project() -> gitops_cli::Project {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    gitops_cli::Project::new(platform(), environments(), root, INVOCATION)
        .policies("../../policies")
        .require_policies()
}

/// Where the sources are: this directory stands for the root of BrainSAIT's
/// GitOps repository (`releases/`, `secrets/`, the tree at `deploy/`); the
/// pipeline document's four OPA policies are this repository's `policies/`.
pub fn paths() -> Paths<'static> {
    Paths {
        root: Path::new(env!("CARGO_MANIFEST_DIR")),
        releases: "releases",
        policies: "../../policies",
        deploy: "deploy",
        rules: &[],
    }
}

/// MongoDB 8.0.12, by version for readers and by digest for the kubelet.
const MONGODB: PinnedImage = PinnedImage {
    repository: ImageRepository::from_static("docker.io/library/mongo"),
    version: VersionTag::from_static("8.0.12"),
    digest: Some(ImageDigest::from_static(
        "sha256:108c3c1646aa75e8f75361024ae3f90b2ba9d2ad6d442d042bdeb269ef8d15bf",
    )),
};

/// The EXTERNAL-IP of the cluster's ingress controller (a placeholder):
/// one cluster, so one address, and a host per environment.
const LB_IP: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 240);

/// The one cluster's add-ons (BrainSAIT's pipeline document): ingress-nginx
/// behind MetalLB, cert-manager, Sealed Secrets for dev and External
/// Secrets (Vault) for staging and production, Gatekeeper for the
/// privileged-container constraint, metrics-server for autoscaling.
fn addons() -> Vec<Addon> {
    vec![
        addons::metallb(vec![format!("{LB_IP}/32")]),
        addons::ingress_nginx(&name!("nginx"), Some(LB_IP)),
        addons::cert_manager(),
        addons::sealed_secrets(),
        addons::external_secrets(),
        addons::gatekeeper(),
        addons::metrics_server(),
    ]
}

const fn resources(req_cpu: u32, req_mem: u32, lim_cpu: u32, lim_mem: u32) -> Resources {
    Resources {
        requests: Compute { cpu: Cpu(req_cpu), memory: Memory(req_mem) },
        limits: Compute { cpu: Cpu(lim_cpu), memory: Memory(lim_mem) },
    }
}

/// What grows from one environment to the next.
struct Size {
    replicas: u16,
    app: Resources,
    mongodb: Resources,
    volume: Memory,
}

/// Production changes go out after the change board approves them, inside
/// this window (Sunday and Wednesday evenings, Riyadh time).
const CHANGE_WINDOW: ChangeWindow =
    ChangeWindow { schedule: "0 20 * * 0,3", duration: "3h", time_zone: "Asia/Riyadh" };

/// Dev seals its MongoDB credentials (the pipeline document's SealedSecret workflow, with
/// `cargo xtask seal`); staging and production read them from Vault through
/// a SecretStore each owns (the pipeline document's `vault-backend`), at
/// `secret/mongodb/<env>/api-db`.
fn secrets(env: &Name, stage: Stage) -> SecretBackend {
    if stage == Stage::Development {
        return SecretBackend::Sealed { dir: "secrets/dev" };
    }
    SecretBackend::External(SecretStoreProfile {
        store: name!("vault-backend"),
        kind: SecretStoreKind::SecretStore,
        key_prefix: format!("mongodb/{env}"),
        refresh_interval: "1h",
        vault: Some(VaultStore {
            server: "https://vault.vault.svc.cluster.local:8200".into(),
            mount: "secret".into(),
            role: format!("brainsait-{env}"),
            auth_mount: "kubernetes".into(),
        }),
    })
}

/// One environment; the pipeline document's table of environment characteristics follows
/// from the stage: dev syncs and heals automatically, staging syncs
/// automatically, production only by hand inside the change window, with
/// the `compliance` label and, like staging, Gatekeeper's constraint.
fn environment(env: Name, stage: Stage, size: Size) -> EnvironmentProfile {
    let production = stage == Stage::Production;
    let namespace = PLATFORM.suffixed(env.as_str()).expect("`brainsait-<env>` is a valid name");
    EnvironmentProfile {
        stage,
        cluster: ClusterRef::in_cluster(),
        cluster_domain: HostName::new("cluster.local").expect("valid"),
        git: GitSource {
            repo_url: "https://github.com/Fadil369/brainsait-rcm.git".into(),
            target_revision: "main".into(),
        },
        sync: match stage {
            Stage::Development => SyncMode::Automated { prune: true, self_heal: true },
            Stage::Staging => SyncMode::Automated { prune: true, self_heal: false },
            Stage::Production => SyncMode::Manual,
        },
        // One Argo CD for the whole cluster (BrainSAIT's pipeline document): one instance, one root.
        argocd: ArgoCdProfile {
            change_window: production.then_some(CHANGE_WINDOW),
            notifications: Some(SlackNotifications {
                channel: "brainsait-deployments".into(),
                argocd_url: format!("https://argocd.{LB_IP}.nip.io"),
            }),
            // Least privilege (BrainSAIT's pipeline document, security
            // practices): platform admins run the instance, developers
            // deploy dev and staging, and only the change board syncs or
            // rolls back production. The groups are the identity
            // provider's; single sign-on is the document's next step and
            // names no tenant, so it is not configured here.
            access: Access {
                sso: None,
                admin_groups: vec!["brainsait-platform-admins".into()],
                deploy_groups: vec![
                    if production { "brainsait-change-board" } else { "brainsait-developers" }.into(),
                ],
            },
            // Sync operations tracked via Prometheus (BrainSAIT's pipeline
            // document, deployment metrics): its Operator picks up every rule
            // and monitor here.
            prometheus: Some(PrometheusOperator::default()),
            addons: addons(),
            // BrainSAIT's pipeline document, disaster recovery: daily, to
            // its S3 bucket, kept 90 days (the bucket's lifecycle rule).
            // Its secret stores are per namespace, so the storage key is a
            // Secret made with the cluster, not an ExternalSecret.
            backup: Some(ArgoCdBackup {
                schedule: "0 2 * * *",
                time_zone: "Asia/Riyadh",
                destination: "s3://brainsait-dr-backups/argocd".into(),
                endpoint: None,
                region: None,
                credentials: BackupCredentials::Secret(name!("argocd-backup-storage")),
            }),
            ..ArgoCdProfile::new(PLATFORM)
        },
        ingress: IngressProfile {
            routing: Routing::Ingress { class_name: name!("nginx") },
            host: HostName::nip_io(&namespace, LB_IP),
            tls_issuer: IssuerRef { name: name!("brainsait-ca"), kind: IssuerKind::ClusterIssuer },
            expose_opt_in: vec![],
            // Cluster-scoped and shared by the three environments of the one
            // cluster, so made once, out of band, not by each environment.
            issuer: IssuerSource::OutOfBand,
        },
        storage: StorageProfile { class: name!("standard"), database_size: size.volume },
        secrets: secrets(&env, stage),
        databases: vec![DatabaseProfile {
            engine: DatabaseEngine::MongoDb,
            image: MONGODB,
            resources: size.mongodb,
        }],
        api: WorkloadSizing { replicas: size.replicas, resources: size.app },
        web: WorkloadSizing { replicas: size.replicas, resources: size.app },
        // No service runs migrations; the field sizes them if one does.
        migration: resources(100, 128, 500, 256),
        overrides: vec![],
        network: NetworkProfile {
            ingress_namespace: name!("ingress-nginx"),
            external_egress: vec![ExternalEgress {
                service: FHIR_GATEWAY,
                purpose: "NPHIES FHIR exchange over HTTPS",
                cidr: "0.0.0.0/0",
                except: &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
                ports: &[443],
            }],
        },
        availability: AvailabilityProfile {
            spread_across_nodes: stage != Stage::Development,
            autoscaling: None,
        },
        // BrainSAIT's pipeline document's runtime policy covers staging and production.
        gatekeeper_privileged_constraint: stage != Stage::Development,
        // Saudi Arabia's Personal Data Protection Law.
        compliance: production.then_some(name!("pdpl")),
        waivers: vec![],
        // A tag is immutable only by convention: production pulls what was
        // pushed, by digest (CI hands each push's digest to the pin).
        require_digests: production,
        name: env,
        namespace,
    }
}

/// Dev: one replica of each service, a 5 GiB MongoDB volume, sealed secrets,
/// synced and healed automatically.
pub fn dev() -> EnvironmentProfile {
    let size = Size {
        replicas: 1,
        app: resources(100, 128, 500, 256),
        mongodb: resources(250, 512, 1000, 1024),
        volume: Memory::gib(5),
    };
    environment(name!("dev"), Stage::Development, size)
}

/// Staging: two replicas spread across nodes, a 10 GiB MongoDB volume,
/// secrets from Vault, synced automatically without self-heal, under
/// Gatekeeper's privileged-container constraint.
pub fn staging() -> EnvironmentProfile {
    let size = Size {
        replicas: 2,
        app: resources(200, 256, 1000, 512),
        mongodb: resources(500, 1024, 1000, 2048),
        volume: Memory::gib(10),
    };
    environment(name!("staging"), Stage::Staging, size)
}

/// Production: three replicas spread across nodes, a 50 GiB MongoDB volume,
/// secrets from Vault, synced by hand inside the change window (Sunday and
/// Wednesday from 20:00 Riyadh time, for 3 hours), every release pin required
/// to carry a digest, Gatekeeper's constraint as in staging, and every object
/// labelled `compliance: pdpl`.
pub fn production() -> EnvironmentProfile {
    let size = Size {
        replicas: 3,
        app: resources(250, 384, 1000, 768),
        mongodb: resources(1000, 2048, 2000, 4096),
        volume: Memory::gib(50),
    };
    environment(name!("production"), Stage::Production, size)
}

/// The environments in promotion order.
pub fn environments() -> Vec<EnvironmentProfile> {
    vec![dev(), staging(), production()]
}
