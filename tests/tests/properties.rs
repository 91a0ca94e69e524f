//! Properties of every platform and profile a team might write, generated
//! (APIs, web front ends, workers, gRPC servers; Postgres, MongoDB, MySQL
//! and Redis, owned or shared; per-service and per-environment sizing):
//! rendering succeeds exactly when the inputs are sound and otherwise
//! returns a typed error; a rendered environment is deterministic, routes the
//! same paths whether the profile chooses an Ingress or Gateway API, passes
//! every built-in rule (unique objects, one workload per Service, routes
//! that resolve, waves in order, security) and its YAML parses back into
//! the same typed objects, and every call and shared database is open in
//! both directions.
//!
//! CI runs 96 cases per property; `PROPTEST_CASES=5000 cargo test -p
//! workspace-tests --test properties` runs more.

use std::net::Ipv4Addr;

use gitops_core::build::credential_secrets;
use gitops_core::image::{ImageDigest, ImageRepository, ImageTag, PinnedImage, VersionTag};
use gitops_core::name::{HostName, Name};
use gitops_core::platform::{DatabaseEngine, Platform, Service, Topology};
use gitops_core::profile::SecretBackend;
use gitops_core::profile::{
    ChangeWindow, Compute, Cpu, DatabaseProfile, EnvironmentProfile, Memory, Resources, Routing, Stage,
    SyncMode,
};
use gitops_core::release::{Pin, ReleasePins};
use gitops_core::spec::{self, Address, PortSpec, ProbeSpec, Probes};
use gitops_core::{Object, RenderError, SealedInputs, render_environment, render_environment_with, yaml};
use gitops_policy::{Environment, Policies, Target, check};
use gitops_tree::layout::{EnvironmentObjects, environment_dirs, file_name, header, layout};
use proptest::prelude::*;
use workspace_tests::entry_routes;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96)
}

/// What one generated service looks like.
#[derive(Debug, Clone)]
struct ServiceShape {
    web: bool,
    /// 0: the intent's default (api or web), 1: a worker with a command and
    /// no Service, 2: a gRPC server probed over gRPC on its own port, told
    /// to callers as `host:port`.
    shape: u8,
    database: bool,
    /// 0 Postgres, 1 MongoDB, 2 MySQL, 3 Redis, when it has a database.
    engine: u8,
    migrations: bool,
    /// Another service whose database it uses too (modulo the count).
    shares: Option<usize>,
    /// Its own replicas in every environment, and the profile's override.
    own_replicas: Option<u16>,
    override_replicas: Option<u16>,
    /// 0: internal, 1: always routed, 2: routed where the profile opts in.
    route: u8,
    /// Indexes of other services it depends on.
    deps: Vec<usize>,
    suffix: String,
}

fn service_shape() -> impl Strategy<Value = ServiceShape> {
    (
        (any::<bool>(), 0u8..3),
        (any::<bool>(), 0u8..4, any::<bool>()),
        (proptest::option::of(0usize..8), proptest::option::of(1u16..4), proptest::option::of(1u16..4)),
        0u8..3,
        proptest::collection::vec(0usize..8, 0..3),
        "[a-z]{0,6}",
    )
        .prop_map(
            |(
                (web, shape),
                (database, engine, migrations),
                (shares, own_replicas, override_replicas),
                route,
                deps,
                suffix,
            )| ServiceShape {
                web,
                shape,
                database,
                engine,
                migrations,
                shares,
                own_replicas,
                override_replicas,
                route,
                deps,
                suffix,
            },
        )
}

const ENGINES: [DatabaseEngine; 4] =
    [DatabaseEngine::Postgres, DatabaseEngine::MongoDb, DatabaseEngine::MySql, DatabaseEngine::Redis];

fn build_platform(shapes: &[ServiceShape], per_service: bool) -> Platform {
    let names: Vec<Name> =
        shapes.iter().enumerate().map(|(i, s)| Name::new(format!("svc{i}{}", s.suffix)).unwrap()).collect();
    let image = ImageRepository::from_static("docker.io/acme/generated");
    let mut platform = Platform::new(Name::new("acme").unwrap());
    if per_service {
        platform = platform.topology(Topology::PerService);
    }
    let serves = |i: usize| shapes[i].shape != 1;
    for (i, shape) in shapes.iter().enumerate() {
        let name = names[i].clone();
        let mut s = match shape.shape {
            1 => Service::worker(name.clone(), image.clone()).command(["node", "worker.js"]),
            2 => Service::api(name.clone(), image.clone()).listen([PortSpec::grpc("grpc", 50051)]).probes(
                Probes {
                    startup: None,
                    readiness: Some(ProbeSpec::grpc(50051, spec::READINESS)),
                    liveness: Some(ProbeSpec::grpc(50051, spec::LIVENESS)),
                },
            ),
            _ if shape.web => Service::web(name.clone(), image.clone()),
            _ => Service::api(name.clone(), image.clone()),
        };
        // The first service may own `/`; the others route under their name.
        // Only HTTP servers are routed.
        let path = if i == 0 { "/".to_owned() } else { format!("/{name}") };
        s = match shape.route {
            1 if shape.shape == 0 => s.route(&path),
            2 if shape.shape == 0 => s.opt_in_route(&path),
            _ => s,
        };
        if shape.database {
            s = s.database(ENGINES[usize::from(shape.engine)]);
            if shape.migrations {
                s = s.migrations(["migrate", "up"]);
            }
        }
        // A database of another service, under its own variable when the
        // service has one of its own too.
        if let Some(owner) = shape.shares.map(|o| o % shapes.len()).filter(|&o| o != i && shapes[o].database)
        {
            if shape.database {
                s = s.connection_env(&format!("{}_OWN_URL", name.env_var_stem()));
            }
            s = s.uses_database_of(names[owner].clone());
        }
        if let Some(replicas) = shape.own_replicas {
            let resources = Resources {
                requests: Compute { cpu: Cpu(50), memory: Memory(64) },
                limits: Compute { cpu: Cpu(250), memory: Memory(128) },
            };
            s = s.sizing(gitops_core::profile::WorkloadSizing { replicas, resources });
        }
        let mut deps: Vec<Name> = shape
            .deps
            .iter()
            .map(|d| d % shapes.len())
            .filter(|&d| d != i && serves(d))
            .map(|d| names[d].clone())
            .collect();
        deps.sort();
        deps.dedup();
        for dep in deps {
            let callee = shapes[names.iter().position(|n| n == &dep).unwrap()].shape;
            s = if callee == 2 {
                s.calls(dep.clone(), Address::host_port(&format!("{}_ADDR", dep.env_var_stem())))
            } else {
                s.depends_on([dep])
            };
        }
        platform = platform.service(s);
    }
    platform
}

/// What a generated profile varies over the minimal example's dev profile.
#[derive(Debug, Clone)]
struct ProfileShape {
    api_replicas: u16,
    web_replicas: u16,
    request_cpu: u32,
    limit_cpu: u32,
    request_mem: u32,
    limit_mem: u32,
    ip: [u8; 4],
    storage_class: String,
    stage: u8,
    automated: Option<(bool, bool)>,
    expose_opt_in: bool,
    /// 0: external store, 1: sealed ciphertext, 2: out of band.
    secrets: u8,
    require_digests: bool,
    /// Gateway API instead of the Ingress: `Some(attach to the listener `https`)`.
    gateway: Option<bool>,
}

impl ProfileShape {
    /// Whether the rules of a profile hold, as the renderer must decide.
    fn sound(&self) -> bool {
        let production = self.stage == 2;
        self.api_replicas > 0
            && self.web_replicas > 0
            && self.request_cpu <= self.limit_cpu
            && self.request_mem <= self.limit_mem
            && !(production && self.automated.is_some())
    }

    /// Whether pins with (or without) digests satisfy the profile.
    fn pins_fit(&self, with_digests: bool) -> bool {
        with_digests || !self.require_digests
    }
}

fn profile_shape() -> impl Strategy<Value = ProfileShape> {
    (
        (0u16..5, 0u16..5),
        (50u32..2000, 50u32..2000, 64u32..4096, 64u32..4096),
        any::<[u8; 4]>(),
        "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        0u8..3,
        proptest::option::of((any::<bool>(), any::<bool>())),
        (any::<bool>(), 0u8..3, any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(
                (api_replicas, web_replicas),
                (request_cpu, limit_cpu, request_mem, limit_mem),
                ip,
                storage_class,
                stage,
                automated,
                (expose_opt_in, secrets, require_digests),
                gateway,
            )| {
                ProfileShape {
                    api_replicas,
                    web_replicas,
                    request_cpu,
                    limit_cpu,
                    request_mem,
                    limit_mem,
                    ip,
                    storage_class,
                    stage,
                    automated,
                    expose_opt_in,
                    secrets,
                    require_digests,
                    gateway,
                }
            },
        )
}

/// The profile of `shape`, with each service's `override_replicas` as its override.
fn build_profile(shape: &ProfileShape, platform: &Platform, services: &[ServiceShape]) -> EnvironmentProfile {
    let mut p = minimal_example::dev();
    let sized = Resources {
        requests: Compute { cpu: Cpu(shape.request_cpu), memory: Memory(shape.request_mem) },
        limits: Compute { cpu: Cpu(shape.limit_cpu), memory: Memory(shape.limit_mem) },
    };
    p.api.replicas = shape.api_replicas;
    p.web.replicas = shape.web_replicas;
    p.api.resources = sized;
    p.web.resources = sized;
    p.databases.push(DatabaseProfile {
        engine: DatabaseEngine::MongoDb,
        image: PinnedImage {
            repository: ImageRepository::from_static("docker.io/library/mongo"),
            version: VersionTag::from_static("8.0.12"),
            digest: None,
        },
        resources: p.databases[0].resources,
    });
    for (engine, repo, version) in [
        (DatabaseEngine::MySql, "docker.io/library/mysql", "8.4.3"),
        (DatabaseEngine::Redis, "docker.io/library/redis", "7.4.1"),
    ] {
        p.databases.push(DatabaseProfile {
            engine,
            image: PinnedImage {
                repository: ImageRepository::from_static(repo),
                version: VersionTag::from_static(version),
                digest: None,
            },
            resources: p.databases[0].resources,
        });
    }
    p.ingress.host = HostName::nip_io(&Name::new("acme-dev").unwrap(), Ipv4Addr::from(shape.ip));
    p.storage.class = Name::new(shape.storage_class.clone()).unwrap();
    p.sync = match shape.automated {
        Some((prune, self_heal)) => SyncMode::Automated { prune, self_heal },
        None => SyncMode::Manual,
    };
    p.stage = [Stage::Development, Stage::Staging, Stage::Production][usize::from(shape.stage)];
    if p.stage == Stage::Production {
        p.argocd.change_window =
            Some(ChangeWindow { schedule: "0 20 * * 2", duration: "3h", time_zone: "Etc/UTC" });
        p.compliance = Some(Name::new("hipaa").unwrap());
    }
    p.require_digests = shape.require_digests;
    match shape.secrets {
        1 => p.secrets = SecretBackend::Sealed { dir: "secrets/dev" },
        2 => p.secrets = SecretBackend::OutOfBand,
        _ => {}
    }
    if let Some(listener) = shape.gateway {
        p.ingress.routing = Routing::GatewayApi {
            gateway: Name::new("shared").unwrap(),
            namespace: Name::new("gateway-system").unwrap(),
            section_name: listener.then(|| Name::new("https").unwrap()),
        };
    }
    p.overrides = platform
        .services
        .iter()
        .zip(services)
        .filter_map(|(s, shape)| {
            shape
                .override_replicas
                .map(|n| gitops_core::profile::ServiceOverride::new(s.name.clone()).replicas(n))
        })
        .collect();
    if shape.expose_opt_in {
        p.ingress.expose_opt_in = platform
            .services
            .iter()
            .filter(|s| {
                s.route.as_ref().is_some_and(|r| r.exposure == gitops_core::platform::Exposure::OptIn)
            })
            .map(|s| s.name.clone())
            .collect();
    }
    p
}

fn pins(platform: &Platform, tag: &str) -> ReleasePins {
    pins_with(platform, tag, None)
}

fn pins_with(platform: &Platform, tag: &str, digest: Option<&ImageDigest>) -> ReleasePins {
    ReleasePins {
        images: platform
            .released()
            .map(|s| (s.name.clone(), Pin { tag: ImageTag::new(tag).unwrap(), digest: digest.cloned() }))
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn rendering_succeeds_exactly_for_sound_inputs_and_then_holds_every_invariant(
        shapes in proptest::collection::vec(service_shape(), 1..7),
        profile_shape in profile_shape(),
        per_service in any::<bool>(),
        tag in "sha-[0-9a-f]{7,40}",
        digest in proptest::option::of("[0-9a-f]{64}"),
    ) {
        let platform = build_platform(&shapes, per_service);
        let profile = build_profile(&profile_shape, &platform, &shapes);
        let digest = digest.map(|hex| ImageDigest::new(format!("sha256:{hex}")).unwrap());
        let pins = pins_with(&platform, &tag, digest.as_ref());
        // Ciphertext as kubeseal would write it (opaque to the renderer).
        let sealed: SealedInputs = credential_secrets(&platform)
            .unwrap()
            .into_iter()
            .map(|(s, keys)| (s, keys.iter().map(|k| (k.to_string(), format!("AgB{k}=="))).collect()))
            .collect();
        let result = render_environment_with(&platform, &profile, &pins, &sealed);
        if !profile_shape.sound() {
            prop_assert!(matches!(result, Err(RenderError::Profile { .. })), "{:?}", result.map(|_| ()));
            return Ok(());
        }
        if !profile_shape.pins_fit(digest.is_some()) {
            prop_assert!(matches!(result, Err(RenderError::MissingDigest { .. })), "{:?}", result.map(|_| ()));
            return Ok(());
        }
        let render = match result {
            Ok(render) => render,
            Err(e) => return Err(TestCaseError::fail(format!("a sound input failed: {e}"))),
        };
        prop_assert_eq!(&render_environment_with(&platform, &profile, &pins, &sealed).unwrap(), &render, "deterministic");

        // The routing choice changes the entry point's kind, nothing else: an
        // HTTPRoute has exactly the routes the Ingress would have had.
        let mut via_ingress = profile.clone();
        via_ingress.ingress.routing = Routing::Ingress { class_name: Name::new("nginx").unwrap() };
        let ingress_render = render_environment_with(&platform, &via_ingress, &pins, &sealed).unwrap();
        let entry = |o: &&Object| matches!(o, Object::Ingress(_) | Object::HttpRoute(_));
        let others = |r: &gitops_core::EnvironmentRender| r.objects().filter(|o| !entry(o)).cloned().collect::<Vec<_>>();
        prop_assert_eq!(others(&render), others(&ingress_render));
        let entries: Vec<&Object> = render.objects().filter(entry).collect();
        let expected = entry_routes(ingress_render.objects().filter(entry));
        prop_assert_eq!(entry_routes(entries.clone()), expected);
        let kinds: Vec<&str> = entries.iter().map(|o| o.kind()).collect();
        let want = if profile_shape.gateway.is_some() { "HTTPRoute" } else { "Ingress" };
        prop_assert!(kinds.iter().all(|k| *k == want), "{:?}", kinds);

        // Every object passes every built-in rule.
        let dirs = environment_dirs(&platform, profile.name.as_str(), &render).unwrap();
        let targets: Vec<Target> = dirs
            .iter()
            .flat_map(|d| d.objects.iter().map(|o| Target { file: format!("{}/{}", d.path, file_name(o)), object: o }))
            .collect();
        let out_of_band = render.out_of_band.iter().map(|n| n.to_string()).collect();
        let findings = check(&Environment { profile: &profile, targets, out_of_band }, &Policies::none()).unwrap();
        prop_assert!(findings.is_empty(), "{:#?}", findings);

        // The tree lays out, the same twice, and every file parses back into its object.
        let objects: Vec<Object> = render.objects().cloned().collect();
        let tree = layout(&platform, &[EnvironmentObjects { profile: &profile, render: render.clone() }], "deploy").unwrap();
        let again = render_environment_with(&platform, &profile, &pins, &sealed).unwrap();
        prop_assert_eq!(&layout(&platform, &[EnvironmentObjects { profile: &profile, render: again }], "deploy").unwrap(), &tree);
        for dir in &dirs {
            for o in &dir.objects {
                let path = format!("{}/{}", dir.path, file_name(o));
                let text = std::str::from_utf8(tree.get(&path).unwrap()).unwrap();
                prop_assert!(text.starts_with(&header(&platform)));
                let value: serde_json::Value = yaml::from_str(text).unwrap();
                let back = Object::from_json(value).unwrap();
                prop_assert_eq!(&&back, o, "{} parses back", path);
            }
        }
        prop_assert_eq!(objects.len(), dirs.iter().map(|d| d.objects.len()).sum::<usize>());

        // Every call and every shared database is open in both directions,
        // on the callee's named port; a worker is no callee.
        let policy = |name: &str| objects.iter().find_map(|o| match o {
            Object::NetworkPolicy(p) if p.metadata.name.as_deref() == Some(name) => Some(p.spec.clone().unwrap()),
            _ => None,
        }).unwrap();
        let names_in = |peers: &Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicyPeer>>| -> Vec<String> {
            peers.iter().flatten().filter_map(|p| {
                Some(p.pod_selector.as_ref()?.match_labels.as_ref()?.get("app.kubernetes.io/name")?.clone())
            }).collect()
        };
        for s in &platform.services {
            let mut reached: Vec<String> = s.depends_on.iter().map(|d| d.to_string()).collect();
            reached.extend(s.shared_databases.iter().map(|o| format!("{o}-db")));
            let egress = policy(s.name.as_str()).egress.unwrap_or_default();
            for callee in reached {
                prop_assert!(egress.iter().any(|r| names_in(&r.to).contains(&callee)), "{} may reach {}", s.name, callee);
                let ingress = policy(&callee).ingress.unwrap_or_default();
                prop_assert!(ingress.iter().any(|r| names_in(&r.from).contains(&s.name.to_string())), "{} admits {}", callee, s.name);
            }
        }
    }

    #[test]
    fn duplicate_or_colliding_services_are_typed_errors(
        shapes in proptest::collection::vec(service_shape(), 1..5),
        dup in any::<prop::sample::Index>(),
    ) {
        let mut platform = build_platform(&shapes, false);
        let twin = platform.services[dup.index(platform.services.len())].clone();
        platform = platform.service(twin);
        let profile = minimal_example::dev();
        let err = render_environment(&platform, &profile, &pins(&platform, "sha-1234567")).unwrap_err();
        prop_assert!(matches!(err, RenderError::Platform(_)), "{}", err);
        prop_assert!(err.to_string().contains("is defined twice"), "{}", err);
    }
}
