#![warn(missing_docs)]
//! From typed objects to files: the layout of the GitOps tree, the Argo CD
//! wiring that points at it, YAML emission, the atomic write and the
//! comparison with what is on disk, and the pictures (diagrams, README) of
//! each environment.
//!
//! This crate knows paths and bytes; it knows no particular platform: the
//! pictures read what a platform runs from its rendered objects.
//!
//! # Quickstart
//!
//! The pipeline renders every environment of a platform, checks it, and lays
//! it out as files (`render_platform` reads the inputs from a repository and
//! writes the tree; this is the same in memory):
//!
//! ```
//! use gitops_core::{image::*, name, platform::*, release::ReleasePins};
//! use gitops_tree::pipeline::{Inputs, render_pinned};
//!
//! let platform = Platform::new(name!("hello")).service(
//!     Service::api(name!("hello"), ImageRepository::from_static("docker.io/acme/hello")).route("/").postgres(),
//! );
//! # use gitops_core::crd::{argocd::ClusterRef, external_secrets::SecretStoreKind};
//! # use gitops_core::{name::HostName, profile::*};
//! # let small = |cpu, mem| Resources {
//! #     requests: Compute { cpu: Cpu(cpu), memory: Memory(mem) },
//! #     limits: Compute { cpu: Cpu(cpu * 4), memory: Memory(mem * 2) },
//! # };
//! # let dev = EnvironmentProfile {
//! #     name: name!("dev"),
//! #     stage: Stage::Development,
//! #     namespace: name!("hello-dev"),
//! #     cluster: ClusterRef::in_cluster(),
//! #     cluster_domain: HostName::new("cluster.local").unwrap(),
//! #     git: GitSource { repo_url: "https://git.example/hello.git".into(), target_revision: "main".into() },
//! #     sync: SyncMode::Automated { prune: true, self_heal: true },
//! #     argocd: ArgoCdProfile::new(name!("dev")),
//! #     ingress: IngressProfile {
//! #         routing: Routing::Ingress { class_name: name!("nginx") },
//! #         host: HostName::nip_io(&name!("hello-dev"), std::net::Ipv4Addr::new(10, 0, 0, 10)),
//! #         tls_issuer: IssuerRef { name: name!("internal-ca"), kind: IssuerKind::ClusterIssuer },
//! #         expose_opt_in: vec![],
//! #         issuer: IssuerSource::OutOfBand,
//! #     },
//! #     storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
//! #     secrets: SecretBackend::External(SecretStoreProfile {
//! #         store: name!("vault"),
//! #         kind: SecretStoreKind::ClusterSecretStore,
//! #         key_prefix: "hello/dev".into(),
//! #         refresh_interval: "1h",
//! #         vault: None,
//! #     }),
//! #     databases: vec![DatabaseProfile {
//! #         engine: DatabaseEngine::Postgres,
//! #         image: PinnedImage {
//! #             repository: ImageRepository::from_static("docker.io/library/postgres"),
//! #             version: VersionTag::from_static("17.6"),
//! #             digest: None,
//! #         },
//! #         resources: small(100, 256),
//! #     }],
//! #     api: WorkloadSizing { replicas: 1, resources: small(100, 128) },
//! #     web: WorkloadSizing { replicas: 1, resources: small(100, 128) },
//! #     migration: small(100, 128),
//! #     overrides: vec![],
//! #     network: NetworkProfile { ingress_namespace: name!("ingress-nginx"), external_egress: vec![] },
//! #     availability: AvailabilityProfile { spread_across_nodes: false, autoscaling: None },
//! #     gatekeeper_privileged_constraint: false,
//! #     compliance: None,
//! #     waivers: vec![],
//! #     require_digests: false,
//! # };
//! let pins = ReleasePins::parse("releases/dev.yaml", "images:\n  hello:\n    tag: sha-0a1b2c3\n", &[name!("hello")])
//!     .unwrap();
//! let policies = gitops_policy::Policies::none();
//! let rendered = render_pinned(&platform, &[dev], &[Inputs::pins(pins)], &policies, "deploy").unwrap();
//!
//! assert_eq!(rendered.report.blocking(), 0, "the built-in rules pass");
//! let kustomization = std::str::from_utf8(rendered.tree.get("dev/kustomization.yaml").unwrap()).unwrap();
//! assert!(kustomization.contains("deployment-hello.yaml"));
//! assert!(rendered.tree.get("argocd/dev/bootstrap/kustomization.yaml").is_some(), "the app of apps");
//! ```

pub mod argocd;
pub mod backup;
pub mod diff;
pub mod disk;
pub mod layout;
pub mod lock;
pub mod picture;
pub mod pipeline;
pub mod tree;

pub use layout::{EnvironmentObjects, LayoutError, layout};
pub use tree::Tree;
