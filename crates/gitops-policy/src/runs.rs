//! Rules for trees that validate yet would not run: a probe that asks a
//! port its container does not declare (the pod never becomes ready), an
//! HTTP probe on a gRPC port (it never succeeds), a worker that runs a
//! server's image without its own command (it runs the server), and a quota
//! or limit range the API server would use to refuse the environment's own
//! pods. They read the final objects, so patched and hand-added objects are
//! held to them as much as the builders' own.

use gitops_core::Object;
use gitops_core::build::admission::{self, cpu_millis};
use gitops_core::hash::FxHashMap as HashMap;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::rules::{Rule, containers, pods};
use crate::{Environment, Sink};

/// The port a probe asks, and whether it asks over HTTP.
fn probe_port(p: &Probe) -> Option<(IntOrString, bool)> {
    if let Some(h) = &p.http_get {
        return Some((h.port.clone(), true));
    }
    if let Some(t) = &p.tcp_socket {
        return Some((t.port.clone(), false));
    }
    p.grpc.as_ref().map(|g| (IntOrString::Int(g.port), false))
}

fn probes(c: &Container) -> impl Iterator<Item = (&'static str, &Probe)> {
    [
        ("startupProbe", &c.startup_probe),
        ("readinessProbe", &c.readiness_probe),
        ("livenessProbe", &c.liveness_probe),
    ]
    .into_iter()
    .filter_map(|(what, p)| p.as_ref().map(|p| (what, p)))
}

fn shown(port: &IntOrString) -> String {
    match port {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// The container port `port` names, if the container declares it.
fn declared<'c>(
    c: &'c Container,
    port: &IntOrString,
) -> Option<&'c k8s_openapi::api::core::v1::ContainerPort> {
    c.ports.iter().flatten().find(|p| match port {
        IntOrString::String(name) => p.name.as_deref() == Some(name.as_str()),
        IntOrString::Int(n) => p.container_port == *n,
    })
}

pub(crate) fn probe_port_declared(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, spec) in pods(env) {
        for c in containers(spec) {
            for (what, p) in probes(c) {
                let Some((port, _)) = probe_port(p) else { continue };
                if declared(c, &port).is_none() {
                    sink.report_in(
                        rule,
                        i,
                        &c.name,
                        Some(what),
                        format!(
                            "container `{}`'s {what} asks port `{}`, which the container does not declare, so it never succeeds; probe a port in its `ports`, or declare the port",
                            c.name,
                            shown(&port)
                        ),
                    );
                }
            }
        }
    }
}

/// Container ports that speak gRPC: named `grpc` or `grpc-…` (the
/// convention service meshes read), or behind a Service port whose
/// `appProtocol` is `grpc`.
pub(crate) fn grpc_probe_over_http(rule: &Rule, env: &Environment, sink: &mut Sink) {
    // (workload index, target port) of every Service port that says grpc.
    let mut grpc_targets: HashMap<usize, Vec<IntOrString>> = HashMap::default();
    for (s, t) in env.targets.iter().enumerate() {
        let Object::Service(svc) = t.object else { continue };
        for port in svc.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
            if port.app_protocol.as_deref() == Some("grpc") {
                let target = port.target_port.clone().unwrap_or(IntOrString::Int(port.port));
                for w in sink.index.selected(env, s) {
                    grpc_targets.entry(w).or_default().push(target.clone());
                }
            }
        }
    }
    for (i, spec) in pods(env) {
        for c in containers(spec) {
            for (what, p) in probes(c) {
                let Some((port, true)) = probe_port(p) else { continue };
                let Some(cp) = declared(c, &port) else { continue };
                let by_name = cp.name.as_deref().is_some_and(|n| n == "grpc" || n.starts_with("grpc-"));
                let by_service = grpc_targets.get(&i).into_iter().flatten().any(|t| match t {
                    IntOrString::String(name) => cp.name.as_deref() == Some(name.as_str()),
                    IntOrString::Int(n) => cp.container_port == *n,
                });
                if by_name || by_service {
                    sink.report_in(
                        rule,
                        i,
                        &c.name,
                        Some(what),
                        format!(
                            "container `{}`'s {what} sends HTTP to gRPC port `{}`, which never answers it; use a `grpc` probe (or an exec of grpc_health_probe)",
                            c.name,
                            shown(&port)
                        ),
                    );
                }
            }
        }
    }
}

/// The image without tag or digest.
fn repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rfind(':') {
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    }
}

pub(crate) fn shared_image_command(rule: &Rule, env: &Environment, sink: &mut Sink) {
    // Repositories whose containers serve a port, and who runs them.
    let mut servers: HashMap<&str, usize> = HashMap::default();
    for (i, spec) in pods(env) {
        for c in &spec.containers {
            if c.ports.as_ref().is_some_and(|p| !p.is_empty())
                && let Some(image) = c.image.as_deref()
            {
                servers.entry(repository(image)).or_insert(i);
            }
        }
    }
    for (i, spec) in pods(env) {
        // Hook Jobs (migrations) always say what they run; workers may not.
        for c in &spec.containers {
            let Some(image) = c.image.as_deref() else { continue };
            let serves = c.ports.as_ref().is_some_and(|p| !p.is_empty());
            let Some(&server) = servers.get(repository(image)) else { continue };
            if !serves && server != i && c.command.is_none() && c.args.is_none() {
                sink.report_in(
                    rule,
                    i,
                    &c.name,
                    None,
                    format!(
                        "container `{}` runs `{}`, the image of {} `{}`, with neither command nor args, so it starts that server instead of its own work; set the command it runs",
                        c.name,
                        repository(image),
                        env.targets[server].object.kind(),
                        env.targets[server].object.name()
                    ),
                );
            }
        }
    }
}

pub(crate) fn quota_admits(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let objects: Vec<&Object> = env.targets.iter().map(|t| t.object).collect();
    // What the quota must hold beyond the rendered pods: nothing; the
    // builders' allowance is room, not demand.
    let zero = gitops_core::profile::Compute {
        cpu: gitops_core::profile::Cpu(0),
        memory: gitops_core::profile::Memory(0),
    };
    let d = admission::demand(&objects, (zero, zero, 0));
    let mib = |q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| {
        admission::bytes(q).map(|b| b.div_ceil(1 << 20))
    };
    for (i, t) in env.targets.iter().enumerate() {
        match t.object {
            Object::ResourceQuota(q) => {
                let hard = q.spec.as_ref().and_then(|s| s.hard.as_ref());
                let get = |k: &str| hard.and_then(|h| h.get(k));
                let checks: [(&str, Option<u128>, u128); 7] = [
                    (
                        "requests.cpu",
                        get("requests.cpu").and_then(cpu_millis).map(u128::from),
                        d.requests.cpu.0.into(),
                    ),
                    (
                        "limits.cpu",
                        get("limits.cpu").and_then(cpu_millis).map(u128::from),
                        d.limits.cpu.0.into(),
                    ),
                    ("requests.memory", get("requests.memory").and_then(mib), d.requests.memory.0.into()),
                    ("limits.memory", get("limits.memory").and_then(mib), d.limits.memory.0.into()),
                    ("pods", get("pods").and_then(|q| q.0.parse().ok()), d.pods.into()),
                    (
                        "persistentvolumeclaims",
                        get("persistentvolumeclaims").and_then(|q| q.0.parse().ok()),
                        d.claims.into(),
                    ),
                    ("requests.storage", get("requests.storage").and_then(mib), d.storage.0.into()),
                ];
                for (key, allowed, needed) in checks {
                    if let Some(allowed) = allowed
                        && allowed < needed
                    {
                        let unit = match key {
                            "requests.cpu" | "limits.cpu" => "m",
                            "pods" | "persistentvolumeclaims" => "",
                            _ => "Mi",
                        };
                        sink.report(
                            rule,
                            i,
                            format!(
                                "allows {key} {allowed}{unit}, but the environment's pods and claims need {needed}{unit} at their largest (every replica and surge pod); raise it, or the API server refuses pods"
                            ),
                        );
                    }
                }
            }
            Object::LimitRange(lr) => {
                for item in lr.spec.iter().flat_map(|s| s.limits.iter()) {
                    let max = item.max.as_ref();
                    let get = |k: &str| max.and_then(|m| m.get(k));
                    let checks: Vec<(&str, Option<u128>, u128)> = match item.type_.as_str() {
                        "Container" => vec![
                            (
                                "cpu",
                                get("cpu").and_then(cpu_millis).map(u128::from),
                                d.largest_container.cpu.0.into(),
                            ),
                            ("memory", get("memory").and_then(mib), d.largest_container.memory.0.into()),
                        ],
                        "PersistentVolumeClaim" => {
                            vec![("storage", get("storage").and_then(mib), d.largest_claim.0.into())]
                        }
                        _ => Vec::new(),
                    };
                    for (key, allowed, needed) in checks {
                        if let Some(allowed) = allowed
                            && allowed < needed
                        {
                            let unit = if key == "cpu" { "m" } else { "Mi" };
                            sink.report(
                                rule,
                                i,
                                format!(
                                    "caps a {} at {key} {allowed}{unit}, but one asks for {needed}{unit}; raise the max, or the API server refuses it",
                                    item.type_
                                ),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn service_account_exists(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let accounts: std::collections::BTreeSet<&str> = env
        .targets
        .iter()
        .filter(|t| matches!(t.object, Object::ServiceAccount(_)))
        .map(|t| t.object.name())
        .collect();
    for (i, spec) in pods(env) {
        if let Some(sa) = spec.service_account_name.as_deref()
            && sa != "default"
            && !accounts.contains(sa)
        {
            sink.report(
                rule,
                i,
                format!("runs as ServiceAccount `{sa}`, which the environment does not make, so no pod is created; render the ServiceAccount or name one that exists"),
            );
        }
    }
}
