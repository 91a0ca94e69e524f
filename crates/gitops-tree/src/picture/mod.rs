//! Pictures of one environment, for people who would rather look at a
//! platform than read its YAML: where the traffic goes, in which order things
//! start, what runs, and how Argo CD syncs it.
//!
//! An [`EnvironmentPicture`] is read from the typed model, never from YAML:
//! the service-to-service calls the [`Platform`] declares, and everything
//! else from the rendered [`Object`]s (the Ingress or HTTPRoute, the
//! workloads, their sync waves). [`graph`] draws its traffic as Mermaid or Graphviz DOT; [`readme`]
//! writes the `README.md` of each environment directory.

pub mod graph;
pub mod readme;

use std::collections::{BTreeMap, BTreeSet};

use gitops_core::crd::argocd::HOOK_ANNOTATION;
use gitops_core::crd::gateway_api::HttpRoute;
use gitops_core::hash::{FxHashMap, FxHashSet};
use gitops_core::name::Name;
use gitops_core::platform::{Platform, Service, ServiceKind};
use gitops_core::profile::EnvironmentProfile;
use gitops_core::{EnvironmentRender, Object};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use self::graph::{Cluster, Edge, EdgeStyle, Graph, Node, Shape, node_id};

/// One host of an Ingress or HTTPRoute and the paths it routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The routing object's kind, `Ingress` or `HTTPRoute`.
    pub kind: &'static str,
    /// The routing object's name.
    pub name: String,
    /// What serves it: the Ingress class (`nginx`), or the Gateway an
    /// HTTPRoute attaches to (`Gateway infra/shared, listener https`).
    pub via: Option<String>,
    /// The host it serves (`clinicflow-prod.10.0.0.10.nip.io`).
    pub host: String,
    /// Whether TLS is terminated for this host: by the Ingress itself; for an
    /// HTTPRoute always, since the Gateway's HTTPS listener terminates it
    /// (the route has no TLS settings of its own).
    pub tls: bool,
    /// In the object's order.
    pub routes: Vec<Route>,
}

/// A path prefix and the Service it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The path prefix (`/api`).
    pub path: String,
    /// The Service it reaches.
    pub service: String,
}

/// A pod-bearing object as it runs: image, replicas, sizes of its first container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// The object's name.
    pub name: String,
    /// The full image reference, `<repository>:<tag>`.
    pub image: Option<String>,
    /// `spec.replicas`; `None` when the autoscaler owns it.
    pub replicas: Option<i32>,
    /// `(min, max)` when a HorizontalPodAutoscaler sets the replicas.
    pub autoscale: Option<(i32, i32)>,
    /// `<cpu> / <memory>`.
    pub requests: Option<String>,
    /// `<cpu> / <memory>`.
    pub limits: Option<String>,
    /// Volume claims: `<size> <storage class>`, for StatefulSets.
    pub storage: Vec<String>,
}

impl Workload {
    /// `3`, or `3–6 (HPA)` for an autoscaled Deployment.
    pub fn replicas_label(&self) -> String {
        match (self.autoscale, self.replicas) {
            (Some((min, max)), _) => format!("{min}–{max} (HPA)"),
            (None, Some(n)) => n.to_string(),
            (None, None) => "-".into(),
        }
    }

    /// The image split into repository and tag (`None` when untagged).
    pub fn image_parts(&self) -> Option<(&str, Option<&str>)> {
        // A digest (`@sha256:…`) follows the tag; the tag is what people read.
        let image = self.image.as_deref()?;
        let image = image.split_once('@').map_or(image, |(named, _)| named);
        Some(match image.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
            _ => (image, None),
        })
    }

    /// The last path segment of the image, with its tag: `postgres:17.6`.
    pub fn short_image(&self) -> Option<&str> {
        let image = self.image.as_deref()?;
        Some(image.rsplit_once('/').map_or(image, |(_, last)| last))
    }
}

/// One service of the platform in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePicture {
    /// The service's name.
    pub name: Name,
    /// `None` for a group of objects the platform does not declare as a service.
    pub kind: Option<ServiceKind>,
    /// Its Deployments: one when its controller is a Deployment, none for a
    /// StatefulSet, CronJob or hook Job controller.
    pub deployments: Vec<Workload>,
    /// Its databases: every StatefulSet among its objects (so also the
    /// service itself, when its controller is a StatefulSet).
    pub databases: Vec<Workload>,
    /// The services it calls, as the platform declares them; sorted, once each.
    pub calls: Vec<Name>,
}

/// One object in the start order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveObject {
    /// The object's kind.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The Argo CD hook phase (`Sync`) when the object is a hook.
    pub hook: Option<String>,
}

/// One sync wave and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    /// The `argocd.argoproj.io/sync-wave` value; objects without one are in wave 0, as in Argo CD.
    pub number: i32,
    /// In render order: shared objects first, then each service's, in platform order.
    pub objects: Vec<WaveObject>,
}

/// What one environment runs, read from its rendered objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentPicture {
    /// The platform's name.
    pub platform: Name,
    /// The environment's name.
    pub environment: Name,
    /// Its namespace.
    pub namespace: Name,
    /// Its entry points: the Ingress or the HTTPRoute, with their routes.
    pub entries: Vec<Entry>,
    /// In platform order.
    pub services: Vec<ServicePicture>,
    /// In start order.
    pub waves: Vec<Wave>,
}

fn kind_label(kind: Option<ServiceKind>) -> &'static str {
    match kind {
        Some(ServiceKind::Api) => "api",
        Some(ServiceKind::Web) => "web",
        Some(ServiceKind::Worker) => "worker",
        None => "-",
    }
}

/// `<cpu> / <memory>` of a requests or limits map.
fn compute(map: Option<&BTreeMap<String, Quantity>>) -> Option<String> {
    let map = map?;
    let get = |key: &str| map.get(key).map_or("-", |q| q.0.as_str());
    Some(format!("{} / {}", get("cpu"), get("memory")))
}

fn workload(name: &str, replicas: Option<i32>, template: &PodTemplateSpec, storage: Vec<String>) -> Workload {
    let container = template.spec.as_ref().and_then(|s| s.containers.first());
    let resources = container.and_then(|c| c.resources.as_ref());
    Workload {
        name: name.into(),
        image: container.and_then(|c| c.image.clone()),
        replicas,
        autoscale: None,
        requests: compute(resources.and_then(|r| r.requests.as_ref())),
        limits: compute(resources.and_then(|r| r.limits.as_ref())),
        storage,
    }
}

fn ingress_entries(name: &str, ingress: &Ingress) -> Vec<Entry> {
    let Some(spec) = &ingress.spec else { return Vec::new() };
    let tls_hosts: BTreeSet<&str> =
        spec.tls.iter().flatten().flat_map(|t| t.hosts.iter().flatten()).map(String::as_str).collect();
    spec.rules
        .iter()
        .flatten()
        .map(|rule| {
            let host = rule.host.clone().unwrap_or_else(|| "*".into());
            let routes = rule
                .http
                .iter()
                .flat_map(|http| &http.paths)
                .filter_map(|p| {
                    let service = p.backend.service.as_ref()?.name.clone();
                    Some(Route { path: p.path.clone().unwrap_or_else(|| "/".into()), service })
                })
                .collect();
            Entry {
                kind: "Ingress",
                name: name.into(),
                via: spec.ingress_class_name.clone(),
                tls: tls_hosts.contains(host.as_str()),
                host,
                routes,
            }
        })
        .collect()
}

fn http_route_entries(name: &str, route: &HttpRoute) -> Vec<Entry> {
    let spec = &route.spec;
    let gateways: Vec<String> = spec
        .parent_refs
        .iter()
        .map(|p| {
            let namespace = p.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
            let listener = p.section_name.as_deref().map(|l| format!(", listener {l}")).unwrap_or_default();
            format!("{} {namespace}{}{listener}", p.kind.as_deref().unwrap_or("Gateway"), p.name)
        })
        .collect();
    // Upstream defaults: no match is a `/` prefix match, and no path value is `/`.
    let routes: Vec<Route> = spec
        .rules
        .iter()
        .flat_map(|rule| {
            let paths: Vec<String> = if rule.matches.is_empty() {
                vec!["/".into()]
            } else {
                rule.matches
                    .iter()
                    .map(|m| m.path.as_ref().and_then(|p| p.value.clone()).unwrap_or_else(|| "/".into()))
                    .collect()
            };
            paths.into_iter().flat_map(move |path| {
                rule.backend_refs.iter().map(move |b| Route { path: path.clone(), service: b.name.clone() })
            })
        })
        .collect();
    let hosts = if spec.hostnames.is_empty() { vec!["*".to_owned()] } else { spec.hostnames.clone() };
    hosts
        .into_iter()
        .map(|host| Entry {
            kind: "HTTPRoute",
            name: name.into(),
            via: (!gateways.is_empty()).then(|| gateways.join("; ")),
            host,
            tls: true,
            routes: routes.clone(),
        })
        .collect()
}

fn entries<'a>(objects: impl Iterator<Item = &'a Object>) -> Vec<Entry> {
    objects
        .flat_map(|object| match object {
            Object::Ingress(ingress) => ingress_entries(object.name(), ingress),
            Object::HttpRoute(route) => http_route_entries(object.name(), route),
            _ => Vec::new(),
        })
        .collect()
}

fn waves<'a>(objects: impl Iterator<Item = &'a Object>) -> Vec<Wave> {
    let mut waves: BTreeMap<i32, Vec<WaveObject>> = BTreeMap::new();
    for object in objects {
        let hook = object.metadata().annotations.as_ref().and_then(|a| a.get(HOOK_ANNOTATION)).cloned();
        let number = object.wave().map_or(0, |w| w.number());
        waves.entry(number).or_default().push(WaveObject {
            kind: object.kind().to_owned(),
            name: object.name().into(),
            hook,
        });
    }
    waves.into_iter().map(|(number, objects)| Wave { number, objects }).collect()
}

impl EnvironmentPicture {
    /// The picture of `render`, the rendered objects of `profile`'s environment of `platform`.
    pub fn of(platform: &Platform, profile: &EnvironmentProfile, render: &EnvironmentRender) -> Self {
        // By name, so that the picture stays linear in the size of the platform.
        let by_name: FxHashMap<&str, &Service> =
            platform.services.iter().map(|s| (s.name.as_str(), s)).collect();
        let services = render
            .services
            .iter()
            .map(|(name, objects)| {
                let declared = by_name.get(name.as_str()).copied();
                let mut calls: Vec<Name> = declared.map(|s| s.depends_on.clone()).unwrap_or_default();
                calls.sort();
                calls.dedup();
                let mut deployments = Vec::new();
                let mut databases = Vec::new();
                for object in objects {
                    match object {
                        Object::Deployment(d) => {
                            let Some(spec) = d.spec.as_ref() else { continue };
                            let mut w = workload(object.name(), spec.replicas, &spec.template, Vec::new());
                            w.autoscale = objects.iter().find_map(|o| match o {
                                Object::HorizontalPodAutoscaler(h) => h
                                    .spec
                                    .as_ref()
                                    .filter(|s| s.scale_target_ref.name == object.name())
                                    .map(|s| (s.min_replicas.unwrap_or(1), s.max_replicas)),
                                _ => None,
                            });
                            deployments.push(w);
                        }
                        Object::StatefulSet(s) => {
                            let Some(spec) = s.spec.as_ref() else { continue };
                            let storage = spec
                                .volume_claim_templates
                                .iter()
                                .flatten()
                                .filter_map(|pvc| {
                                    let spec = pvc.spec.as_ref()?;
                                    let size = spec.resources.as_ref()?.requests.as_ref()?.get("storage")?;
                                    Some(match &spec.storage_class_name {
                                        Some(class) => format!("{} {class}", size.0),
                                        None => size.0.clone(),
                                    })
                                })
                                .collect();
                            databases.push(workload(object.name(), spec.replicas, &spec.template, storage));
                        }
                        _ => {}
                    }
                }
                ServicePicture {
                    name: name.clone(),
                    kind: declared.map(|s| s.kind),
                    deployments,
                    databases,
                    calls,
                }
            })
            .collect();
        EnvironmentPicture {
            platform: platform.name.clone(),
            environment: profile.name.clone(),
            namespace: profile.namespace.clone(),
            entries: entries(render.objects()),
            services,
            waves: waves(render.objects()),
        }
    }

    /// The paths that reach each service, on any host, in route order.
    pub fn paths_by_service(&self) -> FxHashMap<&str, Vec<&str>> {
        let mut paths: FxHashMap<&str, Vec<&str>> = FxHashMap::default();
        for route in self.entries.iter().flat_map(|e| &e.routes) {
            paths.entry(route.service.as_str()).or_default().push(route.path.as_str());
        }
        paths
    }

    /// The traffic: each Ingress or HTTPRoute host and its paths, the services they reach,
    /// each service's databases (solid arrows) and the calls services make
    /// to each other (dotted arrows).
    pub fn traffic(&self) -> Graph {
        let mut clusters = Vec::new();
        let mut edges = Vec::new();
        let solid = |from: &str, to: &str| Edge { from: from.into(), to: to.into(), style: EdgeStyle::Solid };

        let mut services = Cluster {
            id: "services".into(),
            label: format!("Services in namespace {}", self.namespace),
            nodes: Vec::new(),
        };
        let mut databases = Cluster { id: "databases".into(), label: "Databases".into(), nodes: Vec::new() };
        for s in &self.services {
            let mut lines = vec![s.name.to_string()];
            for d in &s.deployments {
                let tag = d.image_parts().and_then(|(_, tag)| tag).unwrap_or("untagged");
                let n = d.replicas_label();
                let plural = if n == "1" { "" } else { "s" };
                lines.push(format!("{}, {tag}, {n} replica{plural}", kind_label(s.kind)));
            }
            let id = node_id("svc", s.name.as_str());
            services.nodes.push(Node { id: id.clone(), lines, shape: Shape::Box });
            for db in &s.databases {
                let db_id = node_id("db", &db.name);
                let mut lines = vec![db.name.clone()];
                lines.extend(db.short_image().map(String::from));
                lines.extend(db.storage.iter().cloned());
                databases.nodes.push(Node { id: db_id.clone(), lines, shape: Shape::Cylinder });
                edges.push(solid(&id, &db_id));
            }
        }
        let mut drawn: FxHashSet<String> = services.nodes.iter().map(|n| n.id.clone()).collect();
        let mut route_edges = Vec::new();
        let mut route_count = 0;
        for (i, entry) in self.entries.iter().enumerate() {
            let host_id = format!("host_{}", i + 1);
            let scheme = if entry.tls { "https" } else { "http" };
            let mut nodes = vec![Node {
                id: host_id.clone(),
                lines: vec![format!("{scheme}://{}", entry.host)],
                shape: Shape::Box,
            }];
            for route in &entry.routes {
                route_count += 1;
                let route_id = format!("route_{route_count}");
                nodes.push(Node { id: route_id.clone(), lines: vec![route.path.clone()], shape: Shape::Box });
                route_edges.push(solid(&host_id, &route_id));
                let target = node_id("svc", &route.service);
                if drawn.insert(target.clone()) {
                    // A backend the platform does not define: still drawn, so no path leads nowhere.
                    services.nodes.push(Node {
                        id: target.clone(),
                        lines: vec![route.service.clone()],
                        shape: Shape::Box,
                    });
                }
                route_edges.push(solid(&route_id, &target));
            }
            let via = entry.via.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
            clusters.push(Cluster {
                id: node_id("ingress", &format!("{}_{}", entry.name, i + 1)),
                label: format!("{} {}{via}", entry.kind, entry.name),
                nodes,
            });
        }
        for s in &self.services {
            for dep in &s.calls {
                edges.push(Edge {
                    from: node_id("svc", s.name.as_str()),
                    to: node_id("svc", dep.as_str()),
                    style: EdgeStyle::Dotted,
                });
            }
        }
        clusters.push(services);
        if !databases.nodes.is_empty() {
            clusters.push(databases);
        }
        route_edges.extend(edges);
        Graph { name: format!("{}-{}", self.platform, self.environment), clusters, edges: route_edges }
    }
}
