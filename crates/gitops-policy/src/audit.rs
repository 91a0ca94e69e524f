//! The reference and start-order audit: what points at what, and whether it
//! exists, and exists first. The index is built once per environment and
//! shared by every rule, so each rule is linear in the number of objects
//! (no pairwise scans).

use gitops_core::Object;
use gitops_core::crd::argocd::HOOK_ANNOTATION;
use gitops_core::hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use gitops_core::meta::SYNC_WAVE_ANNOTATION;
use gitops_core::spec::is_dns_label as dns_label;
use k8s_openapi::api::core::v1::{Container, KeyToPath, PodSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::rules::{Rule, containers, pods};
use crate::{Environment, Sink};

/// The sync wave of an object: its annotation, or Argo CD's default 0.
fn wave(o: &Object) -> i64 {
    o.metadata()
        .annotations
        .as_ref()
        .and_then(|a| a.get(SYNC_WAVE_ANNOTATION))
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Source {
    Secret,
    ConfigMap,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Secret => "Secret",
            Source::ConfigMap => "ConfigMap",
        }
    }
}

/// Something that makes a Secret or ConfigMap exist in the cluster.
struct Producer<'e> {
    /// The object that produces it; `None` for a Secret made out of band.
    index: Option<usize>,
    /// The keys it holds; `None` when they cannot be known (out of band).
    keys: Option<Vec<&'e str>>,
    /// Hosts the produced data points at (templates of an ExternalSecret).
    templates: Vec<&'e str>,
}

/// A reference from a pod to a Secret or ConfigMap, and the key it reads.
struct Reference<'e> {
    source: Source,
    name: &'e str,
    key: Option<&'e str>,
    optional: bool,
}

impl<'e> Reference<'e> {
    fn new(source: Source, name: &'e str, key: Option<&'e str>, optional: Option<bool>) -> Self {
        Reference { source, name, key, optional: optional == Some(true) }
    }
}

fn references(spec: &PodSpec) -> Vec<Reference<'_>> {
    use Source::{ConfigMap, Secret};
    let mut refs = Vec::new();
    for c in containers(spec) {
        for from in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            if let Some(r) = &from.secret_key_ref {
                refs.push(Reference::new(Secret, &r.name, Some(&r.key), r.optional));
            }
            if let Some(r) = &from.config_map_key_ref {
                refs.push(Reference::new(ConfigMap, &r.name, Some(&r.key), r.optional));
            }
        }
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.secret_ref {
                refs.push(Reference::new(Secret, &r.name, None, r.optional));
            }
            if let Some(r) = &e.config_map_ref {
                refs.push(Reference::new(ConfigMap, &r.name, None, r.optional));
            }
        }
    }
    // A volume reads its source whole, and each listed key.
    fn volume<'e>(
        refs: &mut Vec<Reference<'e>>,
        source: Source,
        name: &'e str,
        items: &'e Option<Vec<KeyToPath>>,
        optional: Option<bool>,
    ) {
        refs.push(Reference::new(source, name, None, optional));
        for item in items.iter().flatten() {
            refs.push(Reference::new(source, name, Some(&item.key), optional));
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = &v.secret {
            volume(&mut refs, Secret, s.secret_name.as_deref().unwrap_or(""), &s.items, s.optional);
        }
        if let Some(cm) = &v.config_map {
            volume(&mut refs, ConfigMap, &cm.name, &cm.items, cm.optional);
        }
        for p in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &p.secret {
                volume(&mut refs, Secret, &s.name, &s.items, s.optional);
            }
            if let Some(cm) = &p.config_map {
                volume(&mut refs, ConfigMap, &cm.name, &cm.items, cm.optional);
            }
        }
    }
    refs
}

/// Everything the audit looks up, built once.
pub(crate) struct Index<'e> {
    services: HashMap<&'e str, usize>,
    producers: HashMap<(Source, &'e str), Producer<'e>>,
    /// (label key, value) -> workloads whose pods carry it.
    postings: HashMap<(&'e str, &'e str), Vec<usize>>,
}

impl<'e> Index<'e> {
    pub(crate) fn build(env: &'e Environment) -> Self {
        let mut services = HashMap::default();
        let mut producers = HashMap::default();
        let mut postings: HashMap<(&str, &str), Vec<usize>> = HashMap::default();
        for (i, t) in env.targets.iter().enumerate() {
            match t.object {
                Object::Service(_) => {
                    services.insert(t.object.name(), i);
                }
                Object::ExternalSecret(es) => {
                    let templates = es
                        .spec
                        .target
                        .template
                        .iter()
                        .flat_map(|t| t.data.values())
                        .map(String::as_str)
                        .collect();
                    let p = Producer { index: Some(i), keys: Some(es.spec.target_keys()), templates };
                    producers.insert((Source::Secret, es.spec.target.name.as_str()), p);
                }
                Object::Secret(s) => {
                    let keys = s
                        .data
                        .iter()
                        .flat_map(|d| d.keys())
                        .chain(s.string_data.iter().flat_map(|d| d.keys()));
                    let p = Producer {
                        index: Some(i),
                        keys: Some(keys.map(String::as_str).collect()),
                        templates: Vec::new(),
                    };
                    producers.insert((Source::Secret, t.object.name()), p);
                }
                Object::ConfigMap(cm) => {
                    let keys = cm
                        .data
                        .iter()
                        .flat_map(|d| d.keys())
                        .chain(cm.binary_data.iter().flat_map(|d| d.keys()));
                    let p = Producer {
                        index: Some(i),
                        keys: Some(keys.map(String::as_str).collect()),
                        templates: Vec::new(),
                    };
                    producers.insert((Source::ConfigMap, t.object.name()), p);
                }
                Object::SealedSecret(s) => {
                    let keys = s.spec.encrypted_data.keys().map(String::as_str).collect();
                    let p = Producer { index: Some(i), keys: Some(keys), templates: Vec::new() };
                    producers.insert((Source::Secret, t.object.name()), p);
                }
                _ => {}
            }
            let labels =
                t.object.pod_template().and_then(|p| p.metadata.as_ref()).and_then(|m| m.labels.as_ref());
            for (k, v) in labels.into_iter().flatten() {
                postings.entry((k.as_str(), v.as_str())).or_default().push(i);
            }
        }
        for name in &env.out_of_band {
            let p = Producer { index: None, keys: None, templates: Vec::new() };
            producers.entry((Source::Secret, name.as_str())).or_insert(p);
        }
        Index { services, producers, postings }
    }

    /// The workloads whose pods a Service's selector matches.
    pub(crate) fn selected(&self, env: &Environment, service: usize) -> Vec<usize> {
        let Object::Service(svc) = env.targets[service].object else { return Vec::new() };
        let Some(selector) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()).filter(|s| !s.is_empty())
        else {
            return Vec::new();
        };
        self.matching(env, selector)
    }

    /// The workloads whose pods carry every label of `selector` (not empty),
    /// read from the postings of its rarest label.
    fn matching(
        &self,
        env: &Environment,
        selector: &std::collections::BTreeMap<String, String>,
    ) -> Vec<usize> {
        let shortest = selector
            .iter()
            .map(|(k, v)| self.postings.get(&(k.as_str(), v.as_str())).map_or(&[][..], Vec::as_slice))
            .min_by_key(|p| p.len())
            .unwrap_or(&[]);
        shortest
            .iter()
            .copied()
            .filter(|&w| {
                let labels = pod_labels(env.targets[w].object);
                selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
            })
            .collect()
    }
}

/// The labels of an object's pods.
fn pod_labels(o: &Object) -> Option<&std::collections::BTreeMap<String, String>> {
    o.pod_template().and_then(|p| p.metadata.as_ref()).and_then(|m| m.labels.as_ref())
}

fn pod_spec(o: &Object) -> Option<&PodSpec> {
    o.pod_template().and_then(|p| p.spec.as_ref())
}

pub(crate) fn service_selects_one_workload(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let index = sink.index;
    for (i, t) in env.targets.iter().enumerate() {
        if !matches!(t.object, Object::Service(_)) {
            continue;
        }
        let selected = index.selected(env, i);
        if selected.len() != 1 {
            let names: Vec<String> = selected
                .iter()
                .map(|&w| format!("{} {}", env.targets[w].object.kind(), env.targets[w].object.name()))
                .collect();
            sink.report(
                rule,
                i,
                format!(
                    "selects {} workloads ({}); its selector must match the pod labels of exactly one",
                    selected.len(),
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ),
            );
        }
    }
}

/// Whether a container of the pod that keeps running (a container, or a
/// native sidecar: an init container with `restartPolicy: Always`) serves
/// `target`.
fn has_port(spec: &PodSpec, target: &IntOrString) -> bool {
    let sidecars =
        spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
    let containers: Vec<&Container> = spec.containers.iter().chain(sidecars).collect();
    containers.iter().flat_map(|c| c.ports.iter().flatten()).any(|p| match target {
        IntOrString::String(name) => p.name.as_deref() == Some(name.as_str()),
        IntOrString::Int(n) => p.container_port == *n,
    })
}

pub(crate) fn service_port_exists(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let index = sink.index;
    for (i, t) in env.targets.iter().enumerate() {
        let Object::Service(svc) = t.object else { continue };
        let [workload] = index.selected(env, i)[..] else { continue };
        let Some(spec) = pod_spec(env.targets[workload].object) else { continue };
        for port in svc.spec.as_ref().and_then(|s| s.ports.as_ref()).into_iter().flatten() {
            let target = port.target_port.clone().unwrap_or(IntOrString::Int(port.port));
            if !has_port(spec, &target) {
                let target = match &target {
                    IntOrString::String(s) => s.clone(),
                    IntOrString::Int(n) => n.to_string(),
                };
                sink.report(
                    rule,
                    i,
                    format!(
                        "port {} targets `{target}`, which no container of {} exposes; name a containerPort",
                        port.port,
                        env.targets[workload].object.name()
                    ),
                );
            }
        }
    }
}

/// The port a route's backend names: by name (an Ingress may), by number
/// (an Ingress may; an HTTPRoute must), or none.
#[derive(Clone, Copy)]
enum BackendPort<'e> {
    Name(&'e str),
    Number(i32),
    Missing,
}

/// A Service port a routing object (Ingress or HTTPRoute) sends traffic to.
struct Backend<'e> {
    service: &'e str,
    port: BackendPort<'e>,
}

fn backends(o: &Object) -> Vec<Backend<'_>> {
    match o {
        Object::Ingress(ing) => {
            let Some(spec) = &ing.spec else { return Vec::new() };
            let rule_backends = spec
                .rules
                .iter()
                .flatten()
                .flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter().map(|p| &p.backend)));
            spec.default_backend
                .iter()
                .chain(rule_backends)
                .filter_map(|b| b.service.as_ref())
                .map(|b| Backend {
                    service: &b.name,
                    port: match b.port.as_ref().map(|p| (p.name.as_deref(), p.number)) {
                        Some((Some(name), _)) => BackendPort::Name(name),
                        Some((None, Some(number))) => BackendPort::Number(number),
                        _ => BackendPort::Missing,
                    },
                })
                .collect()
        }
        Object::HttpRoute(route) => route
            .spec
            .backend_refs()
            .map(|b| Backend {
                service: &b.name,
                port: b.port.map_or(BackendPort::Missing, BackendPort::Number),
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn ingress_backend_exists(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let index = sink.index;
    for (i, t) in env.targets.iter().enumerate() {
        for b in backends(t.object) {
            let Some(&svc_index) = index.services.get(b.service) else {
                sink.report(
                    rule,
                    i,
                    format!("a backend names Service `{}`, which the environment does not have", b.service),
                );
                continue;
            };
            let Object::Service(svc) = env.targets[svc_index].object else { continue };
            let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
            let found = ports.into_iter().flatten().any(|p| match b.port {
                BackendPort::Name(name) => p.name.as_deref() == Some(name),
                BackendPort::Number(n) => p.port == n,
                BackendPort::Missing => false,
            });
            if !found {
                sink.report(
                    rule,
                    i,
                    format!("a backend names a port of Service `{}` that it does not have", b.service),
                );
            }
        }
    }
}

pub(crate) fn config_reference_exists(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let index = sink.index;
    for (i, spec) in pods(env) {
        for r in references(spec).into_iter().filter(|r| !r.optional) {
            match index.producers.get(&(r.source, r.name)) {
                None => sink.report(rule, i, format!(
                    "reads {} `{}`, which nothing in the environment produces; add an ExternalSecret, SealedSecret or ConfigMap for it",
                    r.source.as_str(),
                    r.name
                )),
                Some(p) => {
                    if let (Some(key), Some(keys)) = (r.key, &p.keys)
                        && !keys.contains(&key)
                    {
                        sink.report(rule, i, format!("reads key `{key}` of {} `{}`, which does not have it", r.source.as_str(), r.name));
                    }
                }
            }
        }
    }
}

/// DNS-1123 subdomain: what most object names must be.
fn dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(dns_label)
}

/// A label value, or the name part of a label key: at most 63 characters,
/// alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric (a value may be empty).
fn label_part(s: &str, may_be_empty: bool) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return may_be_empty;
    }
    b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn label_key(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => dns_subdomain(prefix) && label_part(name, false),
        None => label_part(k, false),
    }
}

pub(crate) fn valid_names(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, t) in env.targets.iter().enumerate() {
        let o = t.object;
        // Services and Namespaces are DNS labels; Services must also start with a letter.
        let name_ok = match o {
            Object::Service(_) => dns_label(o.name()) && o.name().as_bytes()[0].is_ascii_lowercase(),
            Object::Namespace(_) => dns_label(o.name()),
            _ => dns_subdomain(o.name()),
        };
        if !name_ok {
            sink.report(rule, i, format!("name `{}` is not a valid DNS name; use lowercase letters, digits and '-', at most 63 characters", o.name()));
        }
        let template_labels =
            o.pod_template().and_then(|p| p.metadata.as_ref()).and_then(|m| m.labels.as_ref());
        for (k, v) in o.metadata().labels.iter().flatten().chain(template_labels.into_iter().flatten()) {
            if !label_key(k) || !label_part(v, true) {
                sink.report(rule, i, format!("label `{k}: {v}` is not valid; keys and values are at most 63 characters of letters, digits, '-', '_' and '.'"));
            }
        }
    }
}

pub(crate) fn unique_objects(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let mut seen = HashSet::default();
    for (i, t) in env.targets.iter().enumerate() {
        let o = t.object;
        if !seen.insert((o.kind(), o.namespace(), o.name())) {
            sink.report(
                rule,
                i,
                format!("another {} named `{}` exists in the same namespace; rename one", o.kind(), o.name()),
            );
        }
    }
}

/// `<service>.<namespace>.svc` hosts named in `text`.
fn service_hosts<'t>(text: &'t str, namespace: &str) -> impl Iterator<Item = &'t str> {
    let marker = format!(".{namespace}.svc");
    text.match_indices(&marker)
        .filter_map(move |(at, _)| {
            let start =
                text[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).map_or(0, |p| p + 1);
            (start < at).then(|| &text[start..at])
        })
        .collect::<Vec<_>>()
        .into_iter()
}

fn image_repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rfind(':') {
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    }
}

pub(crate) fn wave_order(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let index = sink.index;
    let namespace = env.profile.namespace.as_str();
    let ns_wave =
        env.targets.iter().find(|t| matches!(t.object, Object::Namespace(_))).map(|t| wave(t.object));
    for (i, t) in env.targets.iter().enumerate() {
        let w = wave(t.object);
        if let Some(ns_wave) = ns_wave
            && t.object.namespace().is_some()
            && ns_wave > w
        {
            sink.report(rule, i, format!("is in wave {w}, before its Namespace (wave {ns_wave})"));
        }
        let Some(spec) = pod_spec(t.object) else { continue };
        let mut read = HashSet::default();
        for r in references(spec) {
            if !read.insert((r.source, r.name)) {
                continue;
            }
            let Some(p) = index.producers.get(&(r.source, r.name)) else { continue };
            let Some(producer) = p.index else { continue };
            let pw = wave(env.targets[producer].object);
            if pw >= w {
                sink.report(rule, i, format!(
                    "is in wave {w} but reads {} `{}`, produced in wave {pw}; move the producer to an earlier wave",
                    r.source.as_str(),
                    r.name
                ));
            }
            // A database the secret points at must be up before its reader starts.
            for host in p.templates.iter().flat_map(|tpl| service_hosts(tpl, namespace)) {
                let Some(&svc) = index.services.get(host) else { continue };
                // A database reads the secret that points at itself.
                for db in index.selected(env, svc).into_iter().filter(|&db| db != i) {
                    let dw = wave(env.targets[db].object);
                    if dw >= w {
                        sink.report(rule, i, format!(
                            "is in wave {w} but connects to `{host}`, whose pods start in wave {dw}; move it to an earlier wave"
                        ));
                    }
                }
            }
        }
    }
    // A migration (a hook Job) runs before the workloads of the same image.
    let images = |o: &'_ Object| -> Vec<String> {
        pod_spec(o)
            .into_iter()
            .flat_map(|s| s.containers.iter())
            .filter_map(|c| c.image.as_deref())
            .map(|i| image_repository(i).to_owned())
            .collect()
    };
    let mut migrations: HashMap<String, (usize, i64)> = HashMap::default();
    for (i, t) in env.targets.iter().enumerate() {
        let is_hook =
            t.object.metadata().annotations.as_ref().is_some_and(|a| a.contains_key(HOOK_ANNOTATION));
        if matches!(t.object, Object::Job(_)) && is_hook {
            for image in images(t.object) {
                migrations.insert(image, (i, wave(t.object)));
            }
        }
    }
    for (i, t) in env.targets.iter().enumerate() {
        if !matches!(t.object, Object::Deployment(_) | Object::StatefulSet(_) | Object::DaemonSet(_)) {
            continue;
        }
        for image in images(t.object) {
            if let Some(&(job, jw)) = migrations.get(&image)
                && jw >= wave(t.object)
            {
                sink.report(rule, i, format!(
                    "is in wave {} but its migration Job `{}` runs in wave {jw}; migrations must finish first",
                    wave(t.object),
                    env.targets[job].object.name()
                ));
            }
        }
    }
}

/// The host a plain value points at in the namespace: `name.<ns>.svc…`,
/// or a short `name:port` / `scheme://name:port/…`.
fn short_host(value: &str) -> Option<&str> {
    let rest = value.split_once("://").map_or(value, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = rest.split([':', '/']).next()?;
    (!host.is_empty() && !host.contains('.') && rest.len() > host.len()).then_some(host)
}

/// The workloads something in a later wave waits on: the backends of a
/// later Ingress or HTTPRoute, and the services a later pod connects to
/// (through a plain address or the connection string of a secret it reads).
fn waited_on(env: &Environment, index: &Index) -> HashSet<usize> {
    let namespace = env.profile.namespace.as_str();
    let marker = format!(".{namespace}.svc");
    let mut waited = HashSet::default();
    let wait_for = |service: &str, later: usize, waited: &mut HashSet<usize>| {
        let Some(&svc) = index.services.get(service) else { return };
        for w in index.selected(env, svc) {
            if w != later && wave(env.targets[w].object) < wave(env.targets[later].object) {
                waited.insert(w);
            }
        }
    };
    for (i, t) in env.targets.iter().enumerate() {
        for b in backends(t.object) {
            wait_for(b.service, i, &mut waited);
        }
        let Some(spec) = pod_spec(t.object) else { continue };
        for c in containers(spec) {
            // Only a value with a port or the namespace's domain can be an address.
            for value in c.env.iter().flatten().filter_map(|e| e.value.as_deref()).filter(|v| v.contains(':'))
            {
                if value.contains(marker.as_str()) {
                    for host in service_hosts(value, namespace) {
                        wait_for(host, i, &mut waited);
                    }
                }
                if let Some(host) = short_host(value) {
                    wait_for(host, i, &mut waited);
                }
            }
        }
        for r in references(spec) {
            let Some(p) = index.producers.get(&(r.source, r.name)) else { continue };
            for host in p.templates.iter().flat_map(|tpl| service_hosts(tpl, namespace)) {
                wait_for(host, i, &mut waited);
            }
        }
    }
    waited
}

pub(crate) fn readiness_before_dependents(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let waited = waited_on(env, sink.index);
    for (i, t) in env.targets.iter().enumerate() {
        if !waited.contains(&i)
            || !matches!(t.object, Object::Deployment(_) | Object::StatefulSet(_) | Object::DaemonSet(_))
        {
            continue;
        }
        for c in pod_spec(t.object).map(|s| s.containers.as_slice()).unwrap_or_default() {
            if c.readiness_probe.is_none() {
                sink.report(rule, i, format!(
                    "container `{}` has no readiness probe, yet a later wave waits for it to be healthy; add one that passes only when it serves",
                    c.name
                ));
            }
        }
    }
}

/// The Service addresses a container names in its environment values, its
/// command and its arguments (`--cache-server=cache:6379`,
/// `redis://cache:6379/0`, `api.<ns>.svc.cluster.local:80`): each host with
/// the port the address gives, if any.
fn addressed<'c>(c: &'c Container, namespace: &str) -> Vec<(&'c str, Option<i32>)> {
    let values = c.env.iter().flatten().filter_map(|e| e.value.as_deref());
    let words = c.command.iter().chain(c.args.iter()).flatten().map(String::as_str);
    let mut found = Vec::new();
    for text in values.chain(words).filter(|v| v.contains(':')) {
        for token in text.split(|c: char| c.is_whitespace() || c == '=' || c == ',') {
            let hosts: Vec<&str> =
                short_host(token).into_iter().chain(service_hosts(token, namespace)).collect();
            for host in hosts {
                let after = token.split_once(host).map_or("", |(_, rest)| rest);
                let after = after.split_once(':').map_or("", |(_, port)| port);
                let port = after.split(|c: char| !c.is_ascii_digit()).next().and_then(|p| p.parse().ok());
                found.push((host, port));
            }
        }
    }
    found
}

type Labels = std::collections::BTreeMap<String, String>;
type NetworkPolicy = k8s_openapi::api::networking::v1::NetworkPolicy;

/// `selector` (a NetworkPolicy's `matchLabels`, read only when the policies
/// have no expressions) selects `labels`.
fn selects(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    labels: &Labels,
) -> bool {
    selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether any selector of `np` has expressions, which this does not read.
fn has_expressions(np: &NetworkPolicy) -> bool {
    let expressions = |s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector| {
        s.match_expressions.as_ref().is_some_and(|e| !e.is_empty())
    };
    let Some(spec) = np.spec.as_ref() else { return false };
    let peers = spec
        .ingress
        .iter()
        .flatten()
        .flat_map(|r| r.from.iter().flatten())
        .chain(spec.egress.iter().flatten().flat_map(|r| r.to.iter().flatten()));
    spec.pod_selector.as_ref().is_some_and(expressions)
        || peers.flat_map(|p| p.pod_selector.iter().chain(p.namespace_selector.iter())).any(expressions)
}

/// For each workload, the policies that select its pods for egress and for
/// ingress: the namespace's NetworkPolicies, each matched once through the
/// label postings (an empty selector selects every workload).
struct PolicyIndex<'e> {
    egress: HashMap<usize, Vec<&'e NetworkPolicy>>,
    ingress: HashMap<usize, Vec<&'e NetworkPolicy>>,
}

impl<'e> PolicyIndex<'e> {
    /// `None` when there is no policy, or one this does not read.
    fn build(env: &'e Environment, index: &Index) -> Option<Self> {
        let policies: Vec<&NetworkPolicy> = env
            .targets
            .iter()
            .filter_map(|t| match t.object {
                Object::NetworkPolicy(np) => Some(&**np),
                _ => None,
            })
            .collect();
        if policies.is_empty() || policies.iter().any(|np| has_expressions(np)) {
            return None;
        }
        let all: Vec<usize> =
            (0..env.targets.len()).filter(|&w| pod_labels(env.targets[w].object).is_some()).collect();
        let mut policy_index = PolicyIndex { egress: HashMap::default(), ingress: HashMap::default() };
        for np in policies {
            let Some(spec) = np.spec.as_ref() else { continue };
            let types = spec.policy_types.clone().unwrap_or_else(|| {
                let mut types = vec!["Ingress".to_owned()];
                if spec.egress.is_some() {
                    types.push("Egress".to_owned());
                }
                types
            });
            let selector =
                spec.pod_selector.as_ref().and_then(|s| s.match_labels.as_ref()).filter(|m| !m.is_empty());
            let selected = selector.map_or_else(|| all.clone(), |m| index.matching(env, m));
            for (kind, map) in [("Egress", &mut policy_index.egress), ("Ingress", &mut policy_index.ingress)]
            {
                if types.iter().any(|t| t == kind) {
                    for &w in &selected {
                        map.entry(w).or_default().push(np);
                    }
                }
            }
        }
        Some(policy_index)
    }

    /// Whether a pod of workload `from` may send to one of workload `to` on
    /// `port` (the container port's number and name): egress checked on
    /// `from`'s policies, ingress on `to`'s. A pod no policy of a direction
    /// selects is open that way; else a rule must name the peer (a pod
    /// selector of this namespace, or no peer at all) and the port (or none).
    fn allows(&self, from: (usize, &Labels), to: (usize, &Labels), port: (i32, Option<&str>)) -> bool {
        use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicyPort};
        let port_ok = |ports: &Option<Vec<NetworkPolicyPort>>| {
            ports.as_ref().is_none_or(|ps| {
                ps.is_empty()
                    || ps.iter().any(|p| match &p.port {
                        None => true,
                        Some(IntOrString::Int(n)) => *n == port.0,
                        Some(IntOrString::String(name)) => Some(name.as_str()) == port.1,
                    })
            })
        };
        let peer_ok = |peers: &Option<Vec<NetworkPolicyPeer>>, labels: &Labels| {
            peers.as_ref().filter(|p| !p.is_empty()).is_none_or(|peers| {
                peers.iter().any(|peer| {
                    peer.namespace_selector.is_none()
                        && peer.ip_block.is_none()
                        && peer.pod_selector.as_ref().is_some_and(|s| selects(s, labels))
                })
            })
        };
        let open = |policies: Option<&Vec<&NetworkPolicy>>, egress: bool| {
            let Some(policies) = policies else { return true };
            let peer = if egress { to.1 } else { from.1 };
            policies.iter().filter_map(|np| np.spec.as_ref()).any(|spec| {
                if egress {
                    spec.egress.iter().flatten().any(|r| peer_ok(&r.to, peer) && port_ok(&r.ports))
                } else {
                    spec.ingress.iter().flatten().any(|r| peer_ok(&r.from, peer) && port_ok(&r.ports))
                }
            })
        };
        open(self.egress.get(&from.0), true) && open(self.ingress.get(&to.0), false)
    }
}

/// A container that names a Service of its namespace (in a value, its
/// command or its arguments) can reach that Service's pods: the
/// NetworkPolicies let the traffic out of its pod and into theirs, on the
/// port the address names. A hard-coded address with no declared call is
/// blocked by the default deny, and would pass every other check.
pub(crate) fn calls_allowed_by_network_policy(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let index = sink.index;
    let Some(policies) = PolicyIndex::build(env, index) else { return };
    let namespace = env.profile.namespace.as_str();
    for (i, t) in env.targets.iter().enumerate() {
        let (Some(spec), Some(from)) = (pod_spec(t.object), pod_labels(t.object)) else { continue };
        let mut seen = HashSet::default();
        for c in containers(spec) {
            for (host, port) in addressed(c, namespace) {
                let Some(&svc_index) = index.services.get(host) else { continue };
                let Object::Service(svc) = env.targets[svc_index].object else { continue };
                let ports =
                    svc.spec.as_ref().and_then(|s| s.ports.as_ref()).map(Vec::as_slice).unwrap_or_default();
                let service_port = match port {
                    Some(n) => ports.iter().find(|p| p.port == n),
                    None if ports.len() == 1 => ports.first(),
                    None => None,
                };
                let Some(service_port) = service_port else { continue };
                for w in index.selected(env, svc_index) {
                    if w == i || !seen.insert((w, service_port.port)) {
                        continue;
                    }
                    let target = env.targets[w].object;
                    let (Some(to), Some(target_spec)) = (pod_labels(target), pod_spec(target)) else {
                        continue;
                    };
                    let target_port =
                        service_port.target_port.clone().unwrap_or(IntOrString::Int(service_port.port));
                    let container_port =
                        target_spec.containers.iter().flat_map(|c| c.ports.iter().flatten()).find(|p| {
                            match &target_port {
                                IntOrString::Int(n) => p.container_port == *n,
                                IntOrString::String(name) => p.name.as_deref() == Some(name.as_str()),
                            }
                        });
                    let Some(container_port) = container_port else { continue };
                    let port = (container_port.container_port, container_port.name.as_deref());
                    if !policies.allows((i, from), (w, to), port) {
                        sink.report(rule, i, format!(
                            "container `{}` addresses Service `{host}` (port {}), but the NetworkPolicies do not let its pods reach `{}` on port {}; declare the call, or allow the traffic",
                            c.name,
                            service_port.port,
                            target.name(),
                            port.0
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels() {
        assert!(dns_subdomain("identity-db.v1") && !dns_subdomain("Identity") && !dns_subdomain("a..b"));
        assert!(label_key("app.kubernetes.io/name") && label_key("compliance") && !label_key("bad key"));
        assert!(label_part("", true) && !label_part(&"a".repeat(64), true) && !label_part("-a", true));
    }

    #[test]
    fn finds_service_hosts_in_templates() {
        let tpl = "postgresql://{{ .u }}:{{ .p }}@identity-db.clinicflow-dev.svc.cluster.local:5432/{{ .d }}";
        assert_eq!(service_hosts(tpl, "clinicflow-dev").collect::<Vec<_>>(), ["identity-db"]);
        assert_eq!(service_hosts(tpl, "other").count(), 0);
    }

    #[test]
    fn short_hosts_of_plain_addresses() {
        assert_eq!(short_host("redis-cart:6379"), Some("redis-cart"));
        assert_eq!(short_host("http://frontend:80/x"), Some("frontend"));
        assert_eq!(short_host("redis://user@cache:6379/0"), Some("cache"));
        assert_eq!(short_host("api.ns.svc.cluster.local:80"), None, "FQDNs are read by service_hosts");
        assert_eq!(short_host("production"), None, "a bare word is not an address");
        assert_eq!(short_host("1"), None);
    }

    #[test]
    fn image_repositories() {
        assert_eq!(image_repository("docker.io/a/b:sha-1"), "docker.io/a/b");
        assert_eq!(image_repository("registry:5000/a/b"), "registry:5000/a/b");
        assert_eq!(image_repository("a/b:t@sha256:00"), "a/b");
    }
}
