#![warn(missing_docs)]
//! Typed building blocks for rendering a GitOps tree.
//!
//! Data flows one way: a [`platform::Platform`] (what runs) plus an
//! [`profile::EnvironmentProfile`] (where and how much) plus
//! [`release::ReleasePins`] (which image) go through
//! [`build::render_environment`] to a list of typed [`object::Object`]s.
//! The render does no I/O (the callers read input files, with [`source`]'s
//! bounded reads), and nothing here knows a particular platform.
//!
//! - [`platform`]: the [`Service`](platform::Service) builders and their validation;
//!   [`spec`]: what a workload says about itself (ports, probes, Services, controller).
//! - [`profile`]: the environment settings, every one required.
//! - [`release`]: release files parsed into pins, and edits that keep their comments.
//! - [`extend`]: escape hatches (added objects, typed patches, extra traffic).
//! - [`name`](mod@name), [`image`]: validated names, hosts and image references.
//! - [`meta`]: labels, selectors and sync waves, computed in one place.
//! - [`crd`]: custom resources (Argo CD, External Secrets, Sealed Secrets, cert-manager,
//!   Gatekeeper, Gateway API) with upstream field names.
//! - [`build`]: the builders, one module per building block.
//! - [`object`]: [`Object`], every kind the builders emit, plus dynamic objects.
//! - [`source`]: bounded reads of the repository's input files, for the callers.
//! - [`yaml`]: the only module that knows the YAML library.
//! - [`par`], [`hash`]: order-keeping data parallelism on scoped threads, and a fast hasher.
//!
//! # Quickstart
//!
//! A platform (what runs: one API with its own Postgres), an environment
//! profile (where, and how much: every setting is required, so it is written
//! out in full) and the release pins (which image) render to typed objects:
//!
//! ```
//! use gitops_core::crd::{argocd::ClusterRef, external_secrets::SecretStoreKind};
//! use gitops_core::{image::*, name, name::HostName, platform::*, profile::*};
//! use gitops_core::{release::ReleasePins, render_environment};
//!
//! // What runs, in every environment.
//! let platform = Platform::new(name!("hello")).service(
//!     Service::api(name!("hello"), ImageRepository::from_static("docker.io/acme/hello"))
//!         .route("/")
//!         .postgres(),
//! );
//!
//! // Where it runs, and how much of it.
//! let small = |cpu, mem| Resources {
//!     requests: Compute { cpu: Cpu(cpu), memory: Memory(mem) },
//!     limits: Compute { cpu: Cpu(cpu * 4), memory: Memory(mem * 2) },
//! };
//! let dev = EnvironmentProfile {
//!     name: name!("dev"),
//!     stage: Stage::Development,
//!     namespace: name!("hello-dev"),
//!     cluster: ClusterRef::in_cluster(),
//!     cluster_domain: HostName::new("cluster.local").unwrap(),
//!     git: GitSource { repo_url: "https://git.example/hello.git".into(), target_revision: "main".into() },
//!     sync: SyncMode::Automated { prune: true, self_heal: true },
//!     argocd: ArgoCdProfile::new(name!("dev")),
//!     ingress: IngressProfile {
//!         routing: Routing::Ingress { class_name: name!("nginx") },
//!         host: HostName::nip_io(&name!("hello-dev"), std::net::Ipv4Addr::new(10, 0, 0, 10)),
//!         tls_issuer: IssuerRef { name: name!("internal-ca"), kind: IssuerKind::ClusterIssuer },
//!         expose_opt_in: vec![],
//!         issuer: IssuerSource::OutOfBand,
//!     },
//!     storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
//!     secrets: SecretBackend::External(SecretStoreProfile {
//!         store: name!("vault"),
//!         kind: SecretStoreKind::ClusterSecretStore,
//!         key_prefix: "hello/dev".into(),
//!         refresh_interval: "1h",
//!         vault: None,
//!     }),
//!     databases: vec![DatabaseProfile {
//!         engine: DatabaseEngine::Postgres,
//!         image: PinnedImage {
//!             repository: ImageRepository::from_static("docker.io/library/postgres"),
//!             version: VersionTag::from_static("17.6"),
//!             digest: None,
//!         },
//!         resources: small(100, 256),
//!     }],
//!     api: WorkloadSizing { replicas: 1, resources: small(100, 128) },
//!     web: WorkloadSizing { replicas: 1, resources: small(100, 128) },
//!     migration: small(100, 128),
//!     overrides: vec![],
//!     network: NetworkProfile { ingress_namespace: name!("ingress-nginx"), external_egress: vec![] },
//!     availability: AvailabilityProfile { spread_across_nodes: false, autoscaling: None },
//!     gatekeeper_privileged_constraint: false,
//!     compliance: None,
//!     waivers: vec![],
//!     require_digests: false,
//! };
//!
//! // Which image each service runs there: `releases/dev.yaml`, as CI writes it.
//! let pins = ReleasePins::parse("releases/dev.yaml", "images:\n  hello:\n    tag: sha-0a1b2c3\n", &[name!("hello")])
//!     .unwrap();
//!
//! let objects = render_environment(&platform, &dev, &pins).unwrap().into_objects();
//!
//! let deployment = objects.iter().find(|o| o.kind() == "Deployment" && o.name() == "hello").unwrap();
//! assert_eq!(deployment.namespace(), Some("hello-dev"));
//! assert!(objects.iter().any(|o| o.kind() == "StatefulSet" && o.name() == "hello-db"), "its Postgres");
//! assert!(objects.iter().any(|o| o.kind() == "Ingress"), "its route");
//!
//! // Each object is written as the YAML Argo CD reads.
//! let yaml = gitops_core::yaml::to_string(deployment).unwrap();
//! assert!(yaml.contains("image: docker.io/acme/hello:sha-0a1b2c3"), "{yaml}");
//! ```
//!
//! Laying the objects out as files, with a `kustomization.yaml` per directory
//! and the Argo CD Applications, is the `gitops-tree` crate's job.
//!
//! A definition that would not run (a probe on an undeclared port, a call to a
//! service without a Service) is a [`RenderError`] naming the service and the fix.

pub mod addons;
pub mod build;
pub mod crd;
pub mod extend;
pub mod hash;
pub mod image;
pub mod meta;
pub mod name;
pub mod object;
pub mod par;
pub mod platform;
pub mod profile;
pub mod release;
pub mod source;
pub mod spec;
pub mod yaml;

pub use build::{EnvironmentRender, RenderError, SealedInputs, render_environment, render_environment_with};
pub use object::Object;
