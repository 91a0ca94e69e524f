//! The rendered Online Boutique against the facts of upstream's
//! `release/kubernetes-manifests.yaml` at v0.5.1 (GoogleCloudPlatform/
//! microservices-demo), written out by hand below from that file: the same
//! workloads, containers, images, ports, variables, probes, volumes and
//! Services, in both environments, plus the reachability the core's
//! NetworkPolicies must leave for every call upstream's addresses make.

use std::collections::{BTreeMap, BTreeSet};

use gitops_core::Object;
use gitops_tree::pipeline::{render_one, render_platform};
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pretty_assertions::assert_eq;

/// How upstream probes a container.
#[derive(Debug, Clone, PartialEq, Eq)]
enum P {
    /// `exec` of this command.
    Exec(&'static [&'static str]),
    /// `httpGet` of a path on a port number, with one header.
    Http(&'static str, i32, (&'static str, &'static str)),
    /// `tcpSocket` on a port number.
    Tcp(i32),
}

/// One upstream Deployment.
struct Workload {
    name: &'static str,
    container: &'static str,
    /// Image without registry path for the project's own (`emailservice`), or the whole reference's repository.
    image: &'static str,
    ports: &'static [i32],
    env: &'static [(&'static str, &'static str)],
    /// `(probe, initialDelaySeconds, periodSeconds)`, Kubernetes' defaults where upstream sets none.
    readiness: Option<(P, i32, i32)>,
    liveness: Option<(P, i32, i32)>,
    /// requests cpu, memory; limits cpu, memory.
    resources: [&'static str; 4],
    /// `(volume, mountPath)` beyond the core's `/tmp`.
    volumes: &'static [(&'static str, &'static str)],
}

/// One upstream Service: `(name, type, [(port name, port, target container port)])`.
type Svc = (&'static str, &'static str, &'static [(&'static str, i32, i32)]);

const GRPC_8080: &[&str] = &["/bin/grpc_health_probe", "-addr=:8080"];
const GRPC_5050: &[&str] = &["/bin/grpc_health_probe", "-addr=:5050"];
const GRPC_50051: &[&str] = &["/bin/grpc_health_probe", "-addr=:50051"];
const GRPC_3550: &[&str] = &["/bin/grpc_health_probe", "-addr=:3550"];
const GRPC_7070: &[&str] = &["/bin/grpc_health_probe", "-addr=:7070", "-rpc-timeout=5s"];
const GRPC_7000: &[&str] = &["/bin/grpc_health_probe", "-addr=:7000"];
const GRPC_9555: &[&str] = &["/bin/grpc_health_probe", "-addr=:9555"];
const SMALL: [&str; 4] = ["100m", "64Mi", "200m", "128Mi"];

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "emailservice",
        container: "server",
        image: "emailservice",
        ports: &[8080],
        env: &[("PORT", "8080"), ("DISABLE_PROFILER", "1")],
        readiness: Some((P::Exec(GRPC_8080), 0, 5)),
        liveness: Some((P::Exec(GRPC_8080), 0, 5)),
        resources: SMALL,
        volumes: &[],
    },
    Workload {
        name: "checkoutservice",
        container: "server",
        image: "checkoutservice",
        ports: &[5050],
        env: &[
            ("PORT", "5050"),
            ("PRODUCT_CATALOG_SERVICE_ADDR", "productcatalogservice:3550"),
            ("SHIPPING_SERVICE_ADDR", "shippingservice:50051"),
            ("PAYMENT_SERVICE_ADDR", "paymentservice:50051"),
            ("EMAIL_SERVICE_ADDR", "emailservice:5000"),
            ("CURRENCY_SERVICE_ADDR", "currencyservice:7000"),
            ("CART_SERVICE_ADDR", "cartservice:7070"),
        ],
        readiness: Some((P::Exec(GRPC_5050), 0, 10)),
        liveness: Some((P::Exec(GRPC_5050), 0, 10)),
        resources: SMALL,
        volumes: &[],
    },
    Workload {
        name: "recommendationservice",
        container: "server",
        image: "recommendationservice",
        ports: &[8080],
        env: &[
            ("PORT", "8080"),
            ("PRODUCT_CATALOG_SERVICE_ADDR", "productcatalogservice:3550"),
            ("DISABLE_PROFILER", "1"),
        ],
        readiness: Some((P::Exec(GRPC_8080), 0, 5)),
        liveness: Some((P::Exec(GRPC_8080), 0, 5)),
        resources: ["100m", "220Mi", "200m", "450Mi"],
        volumes: &[],
    },
    Workload {
        name: "frontend",
        container: "server",
        image: "frontend",
        ports: &[8080],
        env: &[
            ("PORT", "8080"),
            ("PRODUCT_CATALOG_SERVICE_ADDR", "productcatalogservice:3550"),
            ("CURRENCY_SERVICE_ADDR", "currencyservice:7000"),
            ("CART_SERVICE_ADDR", "cartservice:7070"),
            ("RECOMMENDATION_SERVICE_ADDR", "recommendationservice:8080"),
            ("SHIPPING_SERVICE_ADDR", "shippingservice:50051"),
            ("CHECKOUT_SERVICE_ADDR", "checkoutservice:5050"),
            ("AD_SERVICE_ADDR", "adservice:9555"),
            ("ENABLE_PROFILER", "0"),
        ],
        readiness: Some((
            P::Http("/_healthz", 8080, ("Cookie", "shop_session-id=x-readiness-probe")),
            10,
            10,
        )),
        liveness: Some((P::Http("/_healthz", 8080, ("Cookie", "shop_session-id=x-liveness-probe")), 10, 10)),
        resources: SMALL,
        volumes: &[],
    },
    Workload {
        name: "paymentservice",
        container: "server",
        image: "paymentservice",
        ports: &[50051],
        env: &[("PORT", "50051"), ("DISABLE_PROFILER", "1")],
        readiness: Some((P::Exec(GRPC_50051), 0, 10)),
        liveness: Some((P::Exec(GRPC_50051), 0, 10)),
        resources: SMALL,
        volumes: &[],
    },
    Workload {
        name: "productcatalogservice",
        container: "server",
        image: "productcatalogservice",
        ports: &[3550],
        env: &[("PORT", "3550"), ("DISABLE_PROFILER", "1")],
        readiness: Some((P::Exec(GRPC_3550), 0, 10)),
        liveness: Some((P::Exec(GRPC_3550), 0, 10)),
        resources: SMALL,
        volumes: &[],
    },
    Workload {
        name: "cartservice",
        container: "server",
        image: "cartservice",
        ports: &[7070],
        env: &[("REDIS_ADDR", "redis-cart:6379")],
        readiness: Some((P::Exec(GRPC_7070), 15, 10)),
        liveness: Some((P::Exec(GRPC_7070), 15, 10)),
        resources: ["200m", "64Mi", "300m", "128Mi"],
        volumes: &[],
    },
    Workload {
        name: "loadgenerator",
        container: "main",
        image: "loadgenerator",
        ports: &[],
        env: &[("FRONTEND_ADDR", "frontend:80"), ("USERS", "10")],
        readiness: None,
        liveness: None,
        resources: ["300m", "256Mi", "500m", "512Mi"],
        volumes: &[],
    },
    Workload {
        name: "currencyservice",
        container: "server",
        image: "currencyservice",
        ports: &[7000],
        env: &[("PORT", "7000"), ("DISABLE_PROFILER", "1")],
        readiness: Some((P::Exec(GRPC_7000), 0, 10)),
        liveness: Some((P::Exec(GRPC_7000), 0, 10)),
        resources: SMALL,
        volumes: &[],
    },
    Workload {
        name: "shippingservice",
        container: "server",
        image: "shippingservice",
        ports: &[50051],
        env: &[("PORT", "50051"), ("DISABLE_PROFILER", "1")],
        readiness: Some((P::Exec(GRPC_50051), 0, 5)),
        liveness: Some((P::Exec(GRPC_50051), 0, 10)),
        resources: SMALL,
        volumes: &[],
    },
    Workload {
        name: "redis-cart",
        container: "redis",
        image: "docker.io/library/redis",
        ports: &[6379],
        env: &[],
        readiness: Some((P::Tcp(6379), 0, 5)),
        liveness: Some((P::Tcp(6379), 0, 5)),
        resources: ["70m", "200Mi", "125m", "256Mi"],
        volumes: &[("redis-data", "/data")],
    },
    Workload {
        name: "adservice",
        container: "server",
        image: "adservice",
        ports: &[9555],
        env: &[("PORT", "9555")],
        readiness: Some((P::Exec(GRPC_9555), 20, 15)),
        liveness: Some((P::Exec(GRPC_9555), 20, 15)),
        resources: ["200m", "180Mi", "300m", "300Mi"],
        volumes: &[],
    },
];

const SERVICES: &[Svc] = &[
    ("emailservice", "ClusterIP", &[("grpc", 5000, 8080)]),
    ("checkoutservice", "ClusterIP", &[("grpc", 5050, 5050)]),
    ("recommendationservice", "ClusterIP", &[("grpc", 8080, 8080)]),
    ("frontend", "ClusterIP", &[("http", 80, 8080)]),
    ("frontend-external", "LoadBalancer", &[("http", 80, 8080)]),
    ("paymentservice", "ClusterIP", &[("grpc", 50051, 50051)]),
    ("productcatalogservice", "ClusterIP", &[("grpc", 3550, 3550)]),
    ("cartservice", "ClusterIP", &[("grpc", 7070, 7070)]),
    ("currencyservice", "ClusterIP", &[("grpc", 7000, 7000)]),
    ("shippingservice", "ClusterIP", &[("grpc", 50051, 50051)]),
    ("redis-cart", "ClusterIP", &[("tcp-redis", 6379, 6379)]),
    ("adservice", "ClusterIP", &[("grpc", 9555, 9555)]),
];

fn objects(env: &str) -> Vec<Object> {
    let platform = online_boutique::platform();
    let profile = online_boutique::environments().into_iter().find(|p| p.name.as_str() == env).unwrap();
    render_one(&platform, &profile, &online_boutique::paths(), None).expect("renders").into_objects()
}

fn find<'o>(objects: &'o [Object], kind: &str, name: &str) -> &'o Object {
    objects.iter().find(|o| o.kind() == kind && o.name() == name).unwrap_or_else(|| panic!("{kind} {name}"))
}

fn pod(o: &Object) -> &PodSpec {
    o.pod_template().and_then(|t| t.spec.as_ref()).unwrap()
}

/// A port reference resolved to its number through the container's ports.
fn number(c: &Container, port: &IntOrString) -> i32 {
    match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .map(|p| p.container_port)
            .unwrap_or_else(|| {
                panic!(
                    "{}: probe or Service names port `{name}`, which the container does not declare",
                    c.name
                )
            }),
    }
}

fn probe_of(c: &Container, p: &Probe) -> (P, i32, i32) {
    let kind = if let Some(exec) = &p.exec {
        let command: Vec<String> = exec.command.clone().unwrap();
        let known = [GRPC_8080, GRPC_5050, GRPC_50051, GRPC_3550, GRPC_7070, GRPC_7000, GRPC_9555];
        P::Exec(known.into_iter().find(|k| *k == command).unwrap_or_else(|| panic!("{command:?}")))
    } else if let Some(http) = &p.http_get {
        let h = &http.http_headers.as_ref().unwrap()[0];
        let header = if h.value.ends_with("readiness-probe") {
            ("Cookie", "shop_session-id=x-readiness-probe")
        } else {
            ("Cookie", "shop_session-id=x-liveness-probe")
        };
        assert_eq!(h.name, "Cookie");
        assert_eq!(h.value, header.1);
        P::Http(
            if http.path.as_deref() == Some("/_healthz") { "/_healthz" } else { "?" },
            number(c, &http.port),
            header,
        )
    } else if let Some(tcp) = &p.tcp_socket {
        P::Tcp(number(c, &tcp.port))
    } else {
        panic!("{}: a probe kind upstream does not use", c.name)
    };
    (kind, p.initial_delay_seconds.unwrap_or(0), p.period_seconds.unwrap_or(10))
}

#[test]
fn every_workload_runs_what_upstream_runs() {
    for env in ["dev", "prod"] {
        let objects = objects(env);
        let deployments: BTreeSet<&str> =
            objects.iter().filter(|o| o.kind() == "Deployment").map(|o| o.name()).collect();
        let upstream: BTreeSet<&str> = WORKLOADS.iter().map(|w| w.name).collect();
        assert_eq!(deployments, upstream, "{env}: the same Deployments, no more");
        for w in WORKLOADS {
            let spec = pod(find(&objects, "Deployment", w.name));
            let [c] = &spec.containers[..] else { panic!("{}: one container", w.name) };
            assert_eq!(c.name, w.container, "{env} {}", w.name);
            let image = c.image.as_deref().unwrap();
            if w.image.contains('/') {
                assert!(image.starts_with(&format!("{}:", w.image)), "{image}");
            } else {
                assert_eq!(image, format!("gcr.io/google-samples/microservices-demo/{}:v0.5.1", w.image));
            }
            assert_eq!(c.command, None, "{}: upstream runs the image's entrypoint", w.name);
            assert_eq!(c.args, None);
            let ports: Vec<i32> = c.ports.iter().flatten().map(|p| p.container_port).collect();
            assert_eq!(ports, w.ports, "{env} {}", w.name);
            let env_vars: BTreeMap<&str, &str> = c
                .env
                .iter()
                .flatten()
                .map(|e| (e.name.as_str(), e.value.as_deref().expect("plain values")))
                .collect();
            let mut expected: BTreeMap<&str, &str> = w.env.iter().copied().collect();
            if env == "prod" && w.name == "loadgenerator" {
                expected.insert("USERS", "1"); // prod's override, the one intended difference
            }
            assert_eq!(env_vars, expected, "{env} {}", w.name);
            assert_eq!(c.readiness_probe.as_ref().map(|p| probe_of(c, p)), w.readiness.clone(), "{}", w.name);
            assert_eq!(c.liveness_probe.as_ref().map(|p| probe_of(c, p)), w.liveness.clone(), "{}", w.name);
            assert_eq!(c.startup_probe, None, "{}: upstream has no startup probe", w.name);
            let r = c.resources.as_ref().unwrap();
            let get = |m: &Option<BTreeMap<String, _>>, k: &str| {
                m.as_ref()
                    .unwrap()
                    .get(k)
                    .map(|q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| q.0.clone())
            };
            let sized = [
                get(&r.requests, "cpu"),
                get(&r.requests, "memory"),
                get(&r.limits, "cpu"),
                get(&r.limits, "memory"),
            ];
            let overridden = env == "prod" && w.name == "frontend";
            if !overridden {
                assert_eq!(sized, w.resources.map(|s| Some(s.to_owned())), "{env} {}", w.name);
            }
            for (volume, path) in w.volumes {
                let mount = c.volume_mounts.iter().flatten().find(|m| m.name == *volume).expect("mounted");
                assert_eq!(mount.mount_path, *path);
                let v = spec.volumes.iter().flatten().find(|v| v.name == *volume).unwrap();
                assert!(v.empty_dir.is_some(), "{volume} is an emptyDir, as upstream's");
            }
            // Upstream runs every pod as 1000:1000; so does the port.
            let sc = spec.security_context.as_ref().unwrap();
            assert_eq!((sc.run_as_user, sc.run_as_group, sc.fs_group), (Some(1000), Some(1000), Some(1000)));
        }
        // The load generator waits for the front end, with upstream's script, before it starts.
        let lg = pod(find(&objects, "Deployment", "loadgenerator"));
        let [init] = &lg.init_containers.as_ref().unwrap()[..] else { panic!("one init container") };
        assert_eq!(init.name, "frontend-check");
        assert!(init.image.as_deref().unwrap().starts_with("docker.io/library/busybox:"));
        let command = init.command.as_ref().unwrap();
        assert_eq!(&command[..2], ["/bin/sh", "-exc"]);
        assert!(command[2].contains("wget --server-response http://${FRONTEND_ADDR}"));
        assert!(command[2].contains("if test $STATUSCODE -ne 200; then"));
        let init_env: Vec<(&str, &str)> =
            init.env.iter().flatten().map(|e| (e.name.as_str(), e.value.as_deref().unwrap())).collect();
        assert_eq!(init_env, [("FRONTEND_ADDR", "frontend:80")]);
    }
}

#[test]
fn every_service_exposes_what_upstream_exposes() {
    for env in ["dev", "prod"] {
        let objects = objects(env);
        let services: BTreeSet<&str> =
            objects.iter().filter(|o| o.kind() == "Service").map(|o| o.name()).collect();
        assert_eq!(services, SERVICES.iter().map(|s| s.0).collect(), "{env}");
        for (name, type_, ports) in SERVICES {
            let Object::Service(s) = find(&objects, "Service", name) else { unreachable!() };
            let spec = s.spec.as_ref().unwrap();
            assert_eq!(spec.type_.as_deref(), Some(*type_), "{name}");
            assert_eq!(spec.cluster_ip, None, "{name}: not headless");
            // The selected workload, and each port's target resolved through its container.
            let selector = spec.selector.as_ref().unwrap();
            let workload = objects
                .iter()
                .filter(|o| o.kind() == "Deployment")
                .find(|o| {
                    let labels =
                        o.pod_template().unwrap().metadata.as_ref().unwrap().labels.as_ref().unwrap();
                    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
                })
                .unwrap_or_else(|| panic!("{name} selects a Deployment"));
            let c = &pod(workload).containers[0];
            let got: Vec<(&str, i32, i32)> = spec
                .ports
                .iter()
                .flatten()
                .map(|p| (p.name.as_deref().unwrap(), p.port, number(c, p.target_port.as_ref().unwrap())))
                .collect();
            assert_eq!(got, *ports, "{env} {name}");
        }
    }
}

/// Does `policy` (of the pods it selects) admit `peer` pods (by name) on
/// `port` (a container port name of the destination), in `direction`?
fn admits(policy: &NetworkPolicy, ingress: bool, peer: &str, port: &str) -> bool {
    let spec = policy.spec.as_ref().unwrap();
    let rules: Vec<(_, _)> = if ingress {
        spec.ingress.iter().flatten().map(|r| (r.from.as_ref(), r.ports.as_ref())).collect()
    } else {
        spec.egress.iter().flatten().map(|r| (r.to.as_ref(), r.ports.as_ref())).collect()
    };
    rules.into_iter().any(|(peers, ports)| {
        let peer_ok = peers.into_iter().flatten().any(|p| {
            p.pod_selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref())
                .is_some_and(|l| l.get("app.kubernetes.io/name").map(String::as_str) == Some(peer))
                || (peer == "*" && p.ip_block.as_ref().is_some_and(|b| b.cidr == "0.0.0.0/0"))
        });
        let port_ok = ports.into_iter().flatten().any(|p| p.port == Some(IntOrString::String(port.into())));
        peer_ok && port_ok
    })
}

#[test]
fn the_network_policies_admit_every_call_upstream_makes_and_the_load_balancer() {
    for env in ["dev", "prod"] {
        let objects = objects(env);
        let policy = |name: &str| match find(&objects, "NetworkPolicy", name) {
            Object::NetworkPolicy(p) => p.as_ref().clone(),
            _ => unreachable!(),
        };
        let mut calls = 0;
        for w in WORKLOADS {
            for (_, value) in w.env.iter().filter(|(k, _)| k.ends_with("_ADDR")) {
                let (host, port) = value.split_once(':').unwrap();
                let (service, _, ports) = SERVICES.iter().find(|s| s.0 == host).unwrap();
                let port: i32 = port.parse().unwrap();
                let target = ports.iter().find(|p| p.1 == port).unwrap().2;
                // The callee's container port name, as the policies name it.
                let callee = WORKLOADS.iter().find(|c| c.name == *service).unwrap();
                let spec = pod(find(&objects, "Deployment", callee.name));
                let name = spec.containers[0]
                    .ports
                    .iter()
                    .flatten()
                    .find(|p| p.container_port == target)
                    .and_then(|p| p.name.clone())
                    .unwrap();
                assert!(
                    admits(&policy(w.name), false, callee.name, &name),
                    "{env}: {} may reach {value}",
                    w.name
                );
                assert!(
                    admits(&policy(callee.name), true, w.name, &name),
                    "{env}: {} admits {}",
                    callee.name,
                    w.name
                );
                calls += 1;
            }
        }
        // checkout 6, recommendation 1, frontend 7, cart 1, load generator 1.
        assert_eq!(calls, 16, "every address upstream's manifests give");
        assert!(
            admits(&policy("frontend"), true, "*", "http"),
            "{env}: the LoadBalancer's clients reach the front end"
        );
        // Nothing else reaches the back ends from outside the namespace.
        for back_end in ["cartservice", "redis-cart", "paymentservice"] {
            assert!(
                !admits(&policy(back_end), true, "*", "grpc")
                    && !admits(&policy(back_end), true, "*", "redis")
            );
        }
    }
}

#[test]
fn the_tree_passes_every_check_and_is_committed() {
    let rendered = render_platform(
        &online_boutique::platform(),
        &online_boutique::environments(),
        &online_boutique::paths(),
    )
    .expect("renders");
    assert_eq!(rendered.report.blocking(), 0, "{}", rendered.report.to_text());
    let on_disk = gitops_tree::disk::read_tree(&online_boutique::paths().root.join("deploy")).unwrap();
    assert_eq!(
        gitops_tree::disk::compare(&rendered.tree, &on_disk),
        [],
        "run `cargo run -p online-boutique -- render` and commit the result"
    );
}

#[test]
fn prod_sizes_the_services_shoppers_reach_on_its_own() {
    let objects = objects("prod");
    let replicas = |name: &str| match find(&objects, "Deployment", name) {
        Object::Deployment(d) => d.spec.as_ref().unwrap().replicas,
        _ => unreachable!(),
    };
    assert_eq!(
        (replicas("frontend"), replicas("cartservice"), replicas("emailservice")),
        (Some(3), Some(2), Some(1))
    );
    let r = pod(find(&objects, "Deployment", "frontend")).containers[0].resources.clone().unwrap();
    assert_eq!(r.limits.unwrap()["memory"].0, "256Mi");
    // The LimitRange admits the largest container, and the quota every replica and surge pod.
    let Object::LimitRange(lr) = find(&objects, "LimitRange", "online-boutique") else { unreachable!() };
    assert_eq!(lr.spec.as_ref().unwrap().limits[0].max.as_ref().unwrap()["memory"].0, "512Mi");
    let Object::ResourceQuota(q) = find(&objects, "ResourceQuota", "online-boutique") else { unreachable!() };
    let pods: u32 = q.spec.as_ref().unwrap().hard.as_ref().unwrap()["pods"].0.parse().unwrap();
    // Nine Deployments of 1 replica, frontend 3, cart and checkout 2 (16 pods),
    // a surge pod for each of the 12 Deployments, and the allowance's one.
    assert_eq!(pods, 16 + 12 + 1);
}
