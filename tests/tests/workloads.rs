//! Workload shapes beyond an API behind `/health`: application secrets by
//! every backend, per-service and per-environment sizing, the platform's
//! tag rule, and the definition mistakes that would give a tree that does
//! not run, each refused with the fix.

use gitops_core::image::{ImageRepository, ImageTag, TagRule};
use gitops_core::platform::{Platform, Service};
use gitops_core::profile::{Compute, Cpu, Memory, Resources, SecretBackend, ServiceOverride, WorkloadSizing};
use gitops_core::release::{Pin, ReleasePins};
use gitops_core::spec::{Address, PortSpec, ProbeSpec, Probes, READINESS};
use gitops_core::{Object, name, render_environment, render_environment_with};
use k8s_openapi::api::apps::v1::Deployment;
use pretty_assertions::assert_eq;

const IMG: ImageRepository = ImageRepository::from_static("docker.io/acme/app");

fn pins(platform: &Platform, tag: &str) -> ReleasePins {
    ReleasePins {
        images: platform
            .released()
            .map(|s| (s.name.clone(), Pin::tag(ImageTag::any(tag).unwrap())))
            .collect(),
    }
}

fn deployment<'o>(objects: &'o [Object], name: &str) -> &'o Deployment {
    objects
        .iter()
        .find_map(|o| match o {
            Object::Deployment(d) if d.metadata.name.as_deref() == Some(name) => Some(d.as_ref()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("Deployment {name}"))
}

fn mailer() -> Platform {
    Platform::new(name!("acme")).secret(name!("smtp"), &["password", "username"]).service(
        Service::worker(name!("mailer"), IMG)
            .command(["node", "dist/mailer.js"])
            .secret_env("SMTP_PASSWORD", name!("smtp"), "password")
            .secret_files(name!("smtp"), "/run/secrets/smtp"),
    )
}

#[test]
fn application_secrets_come_from_each_backend_and_are_read_by_reference() {
    let platform = mailer();
    let profile = minimal_example::dev();
    let objects =
        render_environment(&platform, &profile, &pins(&platform, "sha-1a2b3c4")).unwrap().into_objects();
    let Some(Object::ExternalSecret(es)) = objects.iter().find(|o| o.kind() == "ExternalSecret") else {
        panic!("an ExternalSecret")
    };
    let data: Vec<(&str, &str, Option<&str>)> = es
        .spec
        .data
        .iter()
        .map(|d| (d.secret_key.as_str(), d.remote_ref.key.as_str(), d.remote_ref.property.as_deref()))
        .collect();
    assert_eq!(
        data,
        [("password", "hello/dev/smtp", Some("password")), ("username", "hello/dev/smtp", Some("username"))]
    );
    assert_eq!(es.spec.target.name, "smtp");
    let pod = deployment(&objects, "mailer").spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let c = &pod.containers[0];
    let var = c.env.iter().flatten().find(|e| e.name == "SMTP_PASSWORD").unwrap();
    assert_eq!(var.value, None, "no value in the tree");
    let r = var.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!((r.name.as_str(), r.key.as_str()), ("smtp", "password"));
    let volume = pod.volumes.iter().flatten().find(|v| v.name == "smtp").unwrap();
    assert_eq!(volume.secret.as_ref().unwrap().secret_name.as_deref(), Some("smtp"));
    let mount = c.volume_mounts.iter().flatten().find(|m| m.name == "smtp").unwrap();
    assert_eq!((mount.mount_path.as_str(), mount.read_only), ("/run/secrets/smtp", Some(true)));
    assert_eq!(c.command.as_deref(), Some(&["node".to_owned(), "dist/mailer.js".to_owned()][..]));
    assert!(c.ports.is_none() && c.readiness_probe.is_none(), "a worker serves nothing");
    assert!(objects.iter().all(|o| o.kind() != "Service"), "and has no Service");

    // Sealed: the ciphertext file is required; out of band: only the name is known.
    let mut sealed = profile.clone();
    sealed.secrets = SecretBackend::Sealed { dir: "secrets/dev" };
    let err =
        render_environment(&platform, &sealed, &pins(&platform, "sha-1a2b3c4")).unwrap_err().to_string();
    assert!(err.contains("`secrets/dev/smtp.yaml` is missing; seal the Secret"), "{err}");
    let inputs = [(
        name!("smtp"),
        [("password".to_owned(), "AgB=".to_owned()), ("username".to_owned(), "AgC=".to_owned())].into(),
    )]
    .into();
    let objects = render_environment_with(&platform, &sealed, &pins(&platform, "sha-1a2b3c4"), &inputs)
        .unwrap()
        .into_objects();
    assert!(objects.iter().any(|o| o.kind() == "SealedSecret" && o.name() == "smtp"));
    let mut oob = profile;
    oob.secrets = SecretBackend::OutOfBand;
    let render = render_environment(&platform, &oob, &pins(&platform, "sha-1a2b3c4")).unwrap();
    assert_eq!(render.out_of_band, [name!("smtp")]);
}

#[test]
fn sizing_comes_from_the_profile_override_then_the_service_then_the_kind() {
    let sized = |cpu, mem| Resources {
        requests: Compute { cpu: Cpu(cpu), memory: Memory(mem) },
        limits: Compute { cpu: Cpu(cpu * 2), memory: Memory(mem * 2) },
    };
    let platform = Platform::new(name!("acme"))
        .service(Service::api(name!("a"), IMG))
        .service(
            Service::api(name!("b"), IMG).sizing(WorkloadSizing { replicas: 2, resources: sized(300, 300) }),
        )
        .service(
            Service::api(name!("c"), IMG).sizing(WorkloadSizing { replicas: 2, resources: sized(300, 300) }),
        );
    let mut profile = minimal_example::dev();
    profile.overrides = vec![ServiceOverride::new(name!("c")).replicas(4).env("LOG_LEVEL", "debug")];
    let objects =
        render_environment(&platform, &profile, &pins(&platform, "sha-1a2b3c4")).unwrap().into_objects();
    let size = |name: &str| {
        let d = deployment(&objects, name).spec.as_ref().unwrap();
        let c = &d.template.spec.as_ref().unwrap().containers[0];
        let cpu = c.resources.as_ref().unwrap().requests.as_ref().unwrap()["cpu"].0.clone();
        let log = c.env.iter().flatten().find(|e| e.name == "LOG_LEVEL").and_then(|e| e.value.clone());
        (d.replicas, cpu, log)
    };
    assert_eq!(size("a"), (Some(1), "100m".to_owned(), None), "the profile's api size");
    assert_eq!(size("b"), (Some(2), "300m".to_owned(), None), "the service's own");
    assert_eq!(
        size("c"),
        (Some(4), "300m".to_owned(), Some("debug".to_owned())),
        "the environment's override"
    );

    let mut unknown = minimal_example::dev();
    unknown.overrides = vec![ServiceOverride::new(name!("zz")).replicas(2)];
    let err =
        render_environment(&platform, &unknown, &pins(&platform, "sha-1a2b3c4")).unwrap_err().to_string();
    assert!(err.contains("overrides `zz`, which the platform does not define"), "{err}");
}

#[test]
fn the_platform_chooses_its_tag_rule_and_floating_tags_never_pass() {
    let semver =
        Platform::new(name!("acme")).tag_rule(TagRule::SemVer).service(Service::api(name!("api"), IMG));
    render_environment(&semver, &minimal_example::dev(), &pins(&semver, "v0.10.6")).unwrap();
    let err =
        render_environment(&semver, &minimal_example::dev(), &pins(&semver, "sha-1a2b3c4")).unwrap_err();
    assert!(err.to_string().contains("is not a semantic version"), "{err}");
    let names = [name!("api")];
    let file = "images:\n  api:\n    tag: v1.4\n";
    let err = ReleasePins::parse_for("releases/dev.yaml", file, &names, TagRule::SemVer).unwrap_err();
    assert_eq!((err.line, err.column), (Some(3), Some(10)), "{err}");
    for floating in ["latest", "v1", "1.4", "stable", "v1.2.3+build"] {
        assert!(ImageTag::parse(floating, TagRule::GitShaOrSemVer).is_err(), "{floating}");
    }
    let ok = ImageTag::parse("1.4.2-rc.1", TagRule::SemVer).unwrap();
    assert_eq!(ok.as_str(), "1.4.2-rc.1");
    let err =
        ReleasePins::parse("releases/dev.yaml", "images:\n  api:\n    tag: v1.2.3\n", &names).unwrap_err();
    assert!(
        err.message.contains("`v1.2.3` is not an immutable git SHA tag"),
        "a SHA platform says its rule: {err}"
    );
}

/// Each shape that would render a tree that never runs is refused where it
/// is defined, with the fix.
#[test]
fn definitions_that_would_not_run_are_refused_with_the_fix() {
    let cases: Vec<(Service, &str)> = vec![
        (
            Service::api(name!("x"), IMG).listen([PortSpec::grpc("grpc", 8080)]).probes(Probes {
                readiness: Some(ProbeSpec::http("/health", "grpc", READINESS)),
                ..Probes::default()
            }),
            "probes gRPC port `grpc` of container `x` over HTTP; use `ProbeSpec::grpc`",
        ),
        (
            Service::api(name!("x"), IMG)
                .listen([PortSpec::grpc("grpc", 8080)])
                .probes(Probes { readiness: Some(ProbeSpec::grpc(9090, READINESS)), ..Probes::default() }),
            "probes port `9090`, which container `x` does not declare",
        ),
        (
            Service::api(name!("x"), IMG).health_path("/ready").listen([PortSpec::tcp("web", 8080)]).probes(
                Probes { readiness: Some(ProbeSpec::http("/ready", "http", READINESS)), ..Probes::default() },
            ),
            "probes port `http`, which container `x` does not declare",
        ),
        (
            Service::api(name!("x"), IMG).listen([PortSpec::tcp("web", 8080)]).expose([
                gitops_core::spec::Expose::new(
                    gitops_core::spec::ServiceType::ClusterIp,
                    &[("http", 80, "http")],
                ),
            ]),
            "exposes Service `x` port 80 to `http`, which no container of its pod declares",
        ),
        (Service::worker(name!("x"), IMG).route("/x"), "is a worker with a route"),
        (
            Service::api(name!("x"), IMG).calls(name!("w"), Address::host_port("W_ADDR")),
            "calls `w`, which has no Service named after it",
        ),
        (
            Service::api(name!("x"), IMG).secret_env("TOKEN", name!("nope"), "token"),
            "reads `TOKEN` from secret `nope`, which the platform does not declare",
        ),
        (Service::api(name!("x"), IMG).run_as(0), "runs as root"),
        (
            // The API server refuses a pod that mounts two volumes at one path.
            Service::api(name!("x"), IMG).volume(gitops_core::spec::VolumeSpec {
                name: "scratch".into(),
                source: gitops_core::spec::VolumeSource::EmptyDir { size: Memory(32), medium_memory: true },
                mount_path: Some("/tmp/".into()),
                read_only: false,
            }),
            "mounts two volumes at `/tmp/` in container `x`",
        ),
        (
            Service::api(name!("x"), IMG).expose([gitops_core::spec::Expose::new(
                gitops_core::spec::ServiceType::NodePort,
                &[("http", 80, "http")],
            )
            .node_port("http", 8080)]),
            "asks for node port 8080 on Service `x`",
        ),
    ];
    for (service, expected) in cases {
        let platform = Platform::new(name!("acme"))
            .service(Service::worker(name!("w"), IMG).command(["run"]))
            .service(service);
        let err = platform.validate().unwrap_err().to_string();
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
        assert!(err.starts_with("tests/tests/workloads.rs:"), "the error names the defining line: {err}");
    }
}

/// A stateful backing service from a pinned image with its own claims, a
/// cron job and a hook job, each run by its own controller in its wave.
#[test]
fn stateful_cron_and_hook_workloads_get_their_controllers_and_waves() {
    use gitops_core::crd::argocd::HookPhase;
    use gitops_core::image::{PinnedImage, VersionTag};
    use gitops_core::meta::SyncWave;
    use gitops_core::spec::{ClaimTemplate, Expose, ServiceType};
    const RABBITMQ: PinnedImage = PinnedImage {
        repository: ImageRepository::from_static("docker.io/library/rabbitmq"),
        version: VersionTag::from_static("4.0.5-management"),
        digest: None,
    };
    let platform = Platform::new(name!("acme"))
        .service(
            Service::third_party(name!("queue"), RABBITMQ)
                .listen([PortSpec::tcp("amqp", 5672)])
                .expose([Expose::new(ServiceType::Headless, &[("amqp", 5672, "amqp")])])
                .stateful([ClaimTemplate::new("data", Memory::gib(8), "/var/lib/rabbitmq")])
                .sizing(WorkloadSizing {
                    replicas: 1,
                    resources: Resources {
                        requests: Compute { cpu: Cpu(200), memory: Memory(512) },
                        limits: Compute { cpu: Cpu(1000), memory: Memory(1024) },
                    },
                }),
        )
        .service(
            Service::worker(name!("report"), IMG)
                .command(["report"])
                .cron("30 2 * * *")
                .time_zone("Europe/Paris"),
        )
        .service(Service::worker(name!("seed"), IMG).command(["seed"]).hook(HookPhase::PostSync))
        .service(Service::api(name!("api"), IMG).calls(name!("queue"), Address::url("AMQP_URL", "amqp", "")));
    let objects = render_environment(&platform, &minimal_example::dev(), &pins(&platform, "sha-1a2b3c4"))
        .unwrap()
        .into_objects();
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .unwrap_or_else(|| panic!("{kind} {name}"))
    };
    let Object::StatefulSet(queue) = find("StatefulSet", "queue") else { unreachable!() };
    let spec = queue.spec.as_ref().unwrap();
    assert_eq!(spec.service_name.as_deref(), Some("queue"));
    let claim = &spec.volume_claim_templates.as_ref().unwrap()[0];
    assert_eq!(claim.spec.as_ref().unwrap().storage_class_name.as_deref(), Some("standard"));
    assert_eq!(
        claim.spec.as_ref().unwrap().resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "8Gi"
    );
    let mounts = &spec.template.spec.as_ref().unwrap().containers[0].volume_mounts;
    assert!(mounts.iter().flatten().any(|m| m.name == "data" && m.mount_path == "/var/lib/rabbitmq"));
    assert_eq!(find("StatefulSet", "queue").wave(), Some(SyncWave::Database), "before the apps that connect");
    let Object::Service(svc) = find("Service", "queue") else { unreachable!() };
    assert_eq!(svc.spec.as_ref().unwrap().cluster_ip.as_deref(), Some("None"), "headless");
    assert_eq!(find("Service", "queue").wave(), Some(SyncWave::Database));
    assert!(objects.iter().all(|o| o.kind() != "PodDisruptionBudget" || o.name() != "queue"));

    let Object::CronJob(report) = find("CronJob", "report") else { unreachable!() };
    let cron = report.spec.as_ref().unwrap();
    assert_eq!((cron.schedule.as_str(), cron.time_zone.as_deref()), ("30 2 * * *", Some("Europe/Paris")));
    assert_eq!(cron.concurrency_policy.as_deref(), Some("Forbid"));
    let pod = cron.job_template.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));

    let seed = find("Job", "seed");
    let annotations = seed.metadata().annotations.as_ref().unwrap();
    assert_eq!(annotations["argocd.argoproj.io/hook"], "PostSync");
    assert_eq!(annotations["argocd.argoproj.io/hook-delete-policy"], "BeforeHookCreation");

    let api = deployment(&objects, "api").spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let url = api.containers[0].env.iter().flatten().find(|e| e.name == "AMQP_URL").unwrap();
    assert_eq!(url.value.as_deref(), Some("amqp://queue.hello-dev.svc.cluster.local:5672"));

    // The quota holds the claim; the limit range admits it.
    let Some(Object::ResourceQuota(q)) = objects.iter().find(|o| o.kind() == "ResourceQuota") else {
        panic!()
    };
    let hard = q.spec.as_ref().unwrap().hard.as_ref().unwrap();
    assert_eq!(
        (hard["persistentvolumeclaims"].0.as_str(), hard["requests.storage"].0.as_str()),
        ("1", "8Gi")
    );

    // A job serves nothing and nothing waits for it to be ready.
    let err = Platform::new(name!("acme"))
        .service(Service::api(name!("x"), IMG).cron("0 * * * *"))
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("runs to completion, yet has a Service or a route"), "{err}");
    let err = Platform::new(name!("acme"))
        .service(Service::worker(name!("x"), IMG).cron("@hourly"))
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("use a five-field cron expression"), "{err}");
}

/// Redis and MySQL beside Postgres and MongoDB, one database shared by a
/// server and its worker, and connection variables of the platform's
/// choosing; the tree passes every rule.
#[test]
fn redis_and_mysql_backing_services_shared_by_several_workloads() {
    use gitops_core::image::{PinnedImage, VersionTag};
    use gitops_core::platform::DatabaseEngine;
    use gitops_core::profile::DatabaseProfile;
    use gitops_tree::pipeline::{Inputs, render_pinned};
    let platform = Platform::new(name!("shop"))
        .service(Service::api(name!("sessions"), IMG).redis())
        .service(Service::api(name!("store"), IMG).route("/").mysql().uses_database_of(name!("sessions")))
        .service(Service::worker(name!("indexer"), IMG).command(["index"]).uses_database_of(name!("store")));
    let mut profile = minimal_example::dev();
    let pinned = |repo: &'static str, version: &'static str| PinnedImage {
        repository: ImageRepository::from_static(repo),
        version: VersionTag::from_static(version),
        digest: None,
    };
    let size = profile.databases[0].resources;
    profile.databases = vec![
        DatabaseProfile {
            engine: DatabaseEngine::MySql,
            image: pinned("docker.io/library/mysql", "8.4.3"),
            resources: size,
        },
        DatabaseProfile {
            engine: DatabaseEngine::Redis,
            image: pinned("docker.io/library/redis", "7.4.1"),
            resources: size,
        },
    ];
    let rendered = render_pinned(
        &platform,
        std::slice::from_ref(&profile),
        &[Inputs::pins(pins(&platform, "sha-1a2b3c4"))],
        &gitops_policy::Policies::none(),
        "deploy",
    )
    .unwrap();
    assert_eq!(rendered.report.findings, [], "every reference resolves and every rule passes");
    let objects =
        render_environment(&platform, &profile, &pins(&platform, "sha-1a2b3c4")).unwrap().into_objects();
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .unwrap_or_else(|| panic!("{kind} {name}"))
    };
    let Object::ExternalSecret(redis) = find("ExternalSecret", "sessions-db-credentials") else {
        unreachable!()
    };
    let keys: Vec<&str> = redis.spec.data.iter().map(|d| d.secret_key.as_str()).collect();
    assert_eq!(keys, ["password"], "Redis has a password only");
    let template = &redis.spec.target.template.as_ref().unwrap().data;
    assert_eq!(
        template["REDIS_URL"],
        "redis://:{{ .password | urlquery }}@sessions-db.hello-dev.svc.cluster.local:6379/0"
    );
    let Object::ExternalSecret(mysql) = find("ExternalSecret", "store-db-credentials") else {
        unreachable!()
    };
    assert_eq!(
        mysql.spec.target.template.as_ref().unwrap().data["DATABASE_URL"],
        "mysql://{{ .username | urlquery }}:{{ .password | urlquery }}@store-db.hello-dev.svc.cluster.local:3306/{{ .dbname }}",
        "no query string nobody asked for"
    );
    let env_of = |kind: &str, name: &str| -> Vec<(String, String, String)> {
        let spec = find(kind, name).pod_template().unwrap().spec.as_ref().unwrap();
        spec.containers[0]
            .env
            .iter()
            .flatten()
            .filter_map(|e| {
                let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
                Some((e.name.clone(), r.name.clone(), r.key.clone()))
            })
            .collect()
    };
    let var = |n: &str, s: &str, k: &str| (n.to_owned(), s.to_owned(), k.to_owned());
    assert_eq!(
        env_of("Deployment", "store"),
        [
            var("DATABASE_URL", "store-db-credentials", "DATABASE_URL"),
            var("REDIS_URL", "sessions-db-credentials", "REDIS_URL")
        ]
    );
    assert_eq!(
        env_of("Deployment", "indexer"),
        [var("DATABASE_URL", "store-db-credentials", "DATABASE_URL")]
    );
    // The database admits its owner and the worker, and the worker may reach it.
    let Object::NetworkPolicy(db) = find("NetworkPolicy", "store-db") else { unreachable!() };
    let from: Vec<String> = db.spec.as_ref().unwrap().ingress.as_ref().unwrap()[0]
        .from
        .iter()
        .flatten()
        .map(|p| {
            p.pod_selector.as_ref().unwrap().match_labels.as_ref().unwrap()["app.kubernetes.io/name"].clone()
        })
        .collect();
    assert_eq!(from, ["store", "indexer"]);
    let Object::NetworkPolicy(indexer) = find("NetworkPolicy", "indexer") else { unreachable!() };
    let egress = &indexer.spec.as_ref().unwrap().egress.as_ref().unwrap()[0];
    let to = egress.to.as_ref().unwrap()[0].pod_selector.as_ref().unwrap().match_labels.as_ref().unwrap();
    assert_eq!(to["app.kubernetes.io/name"], "store-db");
    assert_eq!(
        egress.ports.as_ref().unwrap()[0].port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("mysql".into()))
    );
    let redis_pod = find("StatefulSet", "sessions-db").pod_template().unwrap().spec.as_ref().unwrap();
    let c = &redis_pod.containers[0];
    assert!(c.command.as_ref().unwrap()[2].contains("--requirepass \"$(cat /run/secrets/redis/password)\""));
    assert!(c.env.is_none(), "no secret in the environment");
    let mysql_pod = find("StatefulSet", "store-db").pod_template().unwrap().spec.as_ref().unwrap();
    assert_eq!(
        mysql_pod.containers[0].args.as_deref(),
        Some(&["--datadir=/var/lib/mysql/data".to_owned()][..])
    );

    // Two databases may not feed one variable; a shared database must exist.
    let clash = Platform::new(name!("shop"))
        .service(Service::api(name!("a"), IMG).postgres())
        .service(Service::api(name!("b"), IMG).mysql().uses_database_of(name!("a")));
    let err = clash.validate().unwrap_err().to_string();
    assert!(err.contains("gets `DATABASE_URL` from the database of `a` and from elsewhere too"), "{err}");
    let fixed = Platform::new(name!("shop"))
        .service(Service::api(name!("a"), IMG).postgres().connection_env("ORDERS_DATABASE_URL"))
        .service(Service::api(name!("b"), IMG).mysql().uses_database_of(name!("a")));
    fixed.validate().unwrap();
    let none = Platform::new(name!("shop"))
        .service(Service::api(name!("a"), IMG))
        .service(Service::api(name!("b"), IMG).uses_database_of(name!("a")));
    assert!(
        none.validate().unwrap_err().to_string().contains("which is not another service with a database")
    );
}

/// Every workload shape in one platform, rendered through the whole
/// pipeline with no finding, and written to `target/validate-shapes` so
/// that `.ci/run`'s third-party validators (strict Kubernetes schemas, CRD
/// schemas) see shapes no committed tree has: a gRPC probe, a native
/// sidecar, a CronJob, a hook Job, StatefulSets with claims, MySQL, Redis,
/// application secrets, headless and LoadBalancer Services, a ConfigMap.
#[test]
fn every_shape_renders_checked_for_the_validators() {
    use gitops_core::crd::argocd::HookPhase;
    use gitops_core::image::{PinnedImage, VersionTag};
    use gitops_core::platform::DatabaseEngine;
    use gitops_core::profile::DatabaseProfile;
    use gitops_core::spec::{ClaimTemplate, ContainerImage, ContainerSpec, Expose, LIVENESS, ServiceType};
    use gitops_tree::pipeline::{Inputs, render_pinned};
    const NATS: PinnedImage = PinnedImage {
        repository: ImageRepository::from_static("docker.io/library/nats"),
        version: VersionTag::from_static("2.10.24"),
        digest: None,
    };
    let grpc = Probes {
        startup: None,
        readiness: Some(ProbeSpec::grpc(50051, READINESS)),
        liveness: Some(ProbeSpec::grpc(50051, LIVENESS)),
    };
    let platform = Platform::new(name!("shapes"))
        .tag_rule(TagRule::GitShaOrSemVer)
        .service(
            // An image that listens on port 80 as a non-root user, on a node
            // port, with /tmp in memory, on chosen nodes; it calls `orders`
            // by a name built into the image.
            Service::api(name!("legacy"), IMG)
                .listen([PortSpec::tcp("http", 80)])
                .expose(
                    [Expose::new(ServiceType::NodePort, &[("http", 80, "http")]).node_port("http", 30080)],
                )
                .tmp(Memory(128), true)
                .node_selector("kubernetes.io/os", "linux")
                .calls(name!("orders"), Address::none()),
        )
        .secret(name!("api-token"), &["token"])
        .service(
            Service::api(name!("gateway"), IMG)
                .route("/")
                .also_expose(
                    Expose::new(ServiceType::LoadBalancer, &[("http", 80, "http")])
                        .named(name!("gateway-lb")),
                )
                .calls(name!("orders"), Address::host_port("ORDERS_ADDR"))
                .secret_env("API_TOKEN", name!("api-token"), "token")
                .config_file(name!("gateway-config"), "/etc/gateway", &[("routes.yaml", "timeout: 5s\n")])
                .sidecar(
                    ContainerSpec::new("proxy", ContainerImage::Own)
                        .command(["envoy", "-c", "/etc/gateway/routes.yaml"])
                        .port(PortSpec::tcp("admin", 9901))
                        .mount("gateway-config", "/etc/envoy", true),
                ),
        )
        .service(
            Service::api(name!("orders"), IMG)
                .listen([PortSpec::grpc("grpc", 50051)])
                .probes(grpc)
                .mysql()
                .migrations(["migrate"])
                .uses_database_of(name!("cache")),
        )
        .service(
            Service::api(name!("cache"), IMG).redis().secret_files(name!("api-token"), "/run/secrets/api"),
        )
        .service(
            Service::worker(name!("fulfilment"), IMG).command(["fulfil"]).uses_database_of(name!("orders")),
        )
        .service(
            Service::worker(name!("nightly"), IMG)
                .command(["report"])
                .cron("15 3 * * *")
                .time_zone("Etc/UTC"),
        )
        .service(Service::worker(name!("smoke"), IMG).command(["smoke"]).hook(HookPhase::PostSync))
        .service(
            Service::third_party(name!("events"), NATS)
                .listen([PortSpec::tcp("client", 4222)])
                .expose([Expose::new(ServiceType::Headless, &[("client", 4222, "client")])])
                .stateful([ClaimTemplate::new("jetstream", Memory::gib(2), "/data")])
                .args(["--jetstream", "--store_dir=/data"]),
        );
    let mut profile = minimal_example::dev();
    let pinned = |repo: &'static str, version: &'static str| PinnedImage {
        repository: ImageRepository::from_static(repo),
        version: VersionTag::from_static(version),
        digest: None,
    };
    let size = profile.databases[0].resources;
    profile.databases.extend([
        DatabaseProfile {
            engine: DatabaseEngine::MySql,
            image: pinned("docker.io/library/mysql", "8.4.3"),
            resources: size,
        },
        DatabaseProfile {
            engine: DatabaseEngine::Redis,
            image: pinned("docker.io/library/redis", "7.4.1"),
            resources: size,
        },
    ]);
    let rendered = render_pinned(
        &platform,
        std::slice::from_ref(&profile),
        &[Inputs::pins(pins(&platform, "v1.4.2"))],
        &gitops_policy::Policies::none(),
        "deploy",
    )
    .unwrap();
    assert_eq!(rendered.report.findings, [], "every shape passes every rule");
    let kinds: std::collections::BTreeSet<&str> = rendered
        .tree
        .paths()
        .filter_map(|p| p.strip_prefix("dev/"))
        .filter_map(|f| f.split_once('-').map(|(kind, _)| kind))
        .collect();
    for kind in ["cronjob", "job", "statefulset", "configmap", "externalsecret", "service", "deployment"] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let out = workspace_tests::root().join("target/validate-shapes");
    gitops_tree::disk::write_atomically(&rendered.tree, &out).unwrap();
}

/// Autoscaling bounds per service and per environment, over the profile's;
/// a UID and GID of the image's own.
#[test]
fn autoscaling_bounds_per_service_and_the_images_own_ids() {
    use gitops_core::profile::Autoscaling;
    let platform = Platform::new(name!("acme"))
        .service(Service::api(name!("a"), IMG))
        .service(Service::api(name!("b"), IMG).run_as_ids(1000, 2000))
        .service(Service::api(name!("c"), IMG));
    let mut profile = minimal_example::dev();
    profile.availability.autoscaling = Some(Autoscaling { max_replicas: 4, cpu_utilization: 70 });
    profile.overrides = vec![
        ServiceOverride::new(name!("b")).autoscale(10, 60),
        ServiceOverride::new(name!("c")).replicas(2).no_autoscaling(),
    ];
    let objects =
        render_environment(&platform, &profile, &pins(&platform, "sha-1a2b3c4")).unwrap().into_objects();
    let hpa = |name: &str| {
        objects.iter().find_map(|o| match o {
            Object::HorizontalPodAutoscaler(h) if h.metadata.name.as_deref() == Some(name) => {
                let spec = h.spec.as_ref().unwrap();
                let target =
                    spec.metrics.as_ref().unwrap()[0].resource.as_ref().unwrap().target.average_utilization;
                Some((spec.max_replicas, target))
            }
            _ => None,
        })
    };
    assert_eq!(hpa("a"), Some((4, Some(70))), "the environment's bounds");
    assert_eq!(hpa("b"), Some((10, Some(60))), "the service's own here");
    assert_eq!(hpa("c"), None, "turned off for the service");
    let replicas = |name: &str| deployment(&objects, name).spec.as_ref().unwrap().replicas;
    assert_eq!(
        (replicas("a"), replicas("b"), replicas("c")),
        (None, None, Some(2)),
        "the autoscaler owns the count"
    );
    let sc = deployment(&objects, "b")
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .security_context
        .clone()
        .unwrap();
    assert_eq!((sc.run_as_user, sc.run_as_group, sc.fs_group), (Some(1000), Some(2000), Some(2000)));

    profile.overrides = vec![ServiceOverride::new(name!("a")).autoscale(0, 70)];
    let err =
        render_environment(&platform, &profile, &pins(&platform, "sha-1a2b3c4")).unwrap_err().to_string();
    assert!(err.contains("autoscales `a` to 0 replicas"), "{err}");
}

/// What a port of Weaveworks' Sock Shop needed: a Service and a
/// NetworkPolicy on a sidecar's port, a port below 1024 as a non-root user,
/// a NodePort, a call the image makes by a built-in name, a memory /tmp.
#[test]
fn sidecar_ports_low_ports_node_ports_and_silent_calls() {
    use gitops_core::image::{PinnedImage, VersionTag};
    use gitops_core::spec::{ContainerImage, ContainerSpec, Expose, ServiceType};
    const EXPORTER: PinnedImage = PinnedImage {
        repository: ImageRepository::from_static("docker.io/kbudde/rabbitmq-exporter"),
        version: VersionTag::from_static("1.0.0"),
        digest: None,
    };
    let platform = Platform::new(name!("shop"))
        .service(
            Service::api(name!("queue"), IMG)
                .listen([PortSpec::tcp("amqp", 5672)])
                .sidecar(
                    ContainerSpec::new("exporter", ContainerImage::Pinned(EXPORTER))
                        .port(PortSpec::tcp("exporter", 9090)),
                )
                .expose([Expose::new(
                    ServiceType::ClusterIp,
                    &[("amqp", 5672, "amqp"), ("exporter", 9090, "exporter")],
                )]),
        )
        .service(
            Service::api(name!("front-end"), IMG)
                .listen([PortSpec::tcp("http", 80)])
                .expose(
                    [Expose::new(ServiceType::NodePort, &[("http", 80, "http")]).node_port("http", 30001)],
                )
                .tmp(Memory(64), true)
                .calls(name!("queue"), Address::none()),
        )
        .allow_ingress(name!("queue"), name!("monitoring"), "exporter");
    let profile = minimal_example::dev();
    let rendered = gitops_tree::pipeline::render_pinned(
        &platform,
        std::slice::from_ref(&profile),
        &[gitops_tree::pipeline::Inputs::pins(pins(&platform, "sha-1a2b3c4"))],
        &gitops_policy::Policies::none(),
        "deploy",
    )
    .unwrap();
    assert_eq!(rendered.report.findings, [], "a Service on a sidecar's port is no finding");
    let objects =
        render_environment(&platform, &profile, &pins(&platform, "sha-1a2b3c4")).unwrap().into_objects();
    let find =
        |kind: &str, name: &str| objects.iter().find(|o| o.kind() == kind && o.name() == name).unwrap();
    let Object::Service(fe) = find("Service", "front-end") else { unreachable!() };
    let spec = fe.spec.as_ref().unwrap();
    assert_eq!(
        (spec.type_.as_deref(), spec.ports.as_ref().unwrap()[0].node_port),
        (Some("NodePort"), Some(30001))
    );
    let Object::NetworkPolicy(p) = find("NetworkPolicy", "front-end") else { unreachable!() };
    let ingress = p.spec.as_ref().unwrap().ingress.clone().unwrap();
    assert!(
        ingress.iter().any(|r| r
            .from
            .iter()
            .flatten()
            .any(|f| f.ip_block.as_ref().is_some_and(|b| b.cidr == "0.0.0.0/0"))),
        "a node port's clients come from anywhere"
    );
    let egress = p.spec.as_ref().unwrap().egress.clone().unwrap();
    assert!(
        egress.iter().any(|r| r.to.iter().flatten().any(|t| {
            t.pod_selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref())
                .is_some_and(|l| l["app.kubernetes.io/name"] == "queue")
        })),
        "the silent call is open"
    );
    let pod = deployment(&objects, "front-end").spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert!(
        pod.containers[0].env.iter().flatten().all(|e| !e.name.starts_with("QUEUE")),
        "no variable for it"
    );
    let sysctls = pod.security_context.as_ref().unwrap().sysctls.clone().unwrap();
    assert_eq!(
        (sysctls[0].name.as_str(), sysctls[0].value.as_str()),
        ("net.ipv4.ip_unprivileged_port_start", "0")
    );
    let tmp = pod.volumes.iter().flatten().find(|v| v.name == "tmp").unwrap();
    assert_eq!(tmp.empty_dir.as_ref().unwrap().medium.as_deref(), Some("Memory"));
    let queue = deployment(&objects, "queue").spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert!(queue.security_context.as_ref().unwrap().sysctls.is_none(), "only where a port is below 1024");
    let Object::NetworkPolicy(q) = find("NetworkPolicy", "queue") else { unreachable!() };
    let scrape = q.spec.as_ref().unwrap().ingress.as_ref().unwrap().last().unwrap().clone();
    assert_eq!(
        scrape.ports.unwrap()[0].port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("exporter".into()))
    );
}
