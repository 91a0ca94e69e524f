//! The environment's single entry point: one host, one path prefix per
//! exposed service, as an Ingress (TLS from cert-manager's ingress-shim) or,
//! when the profile chooses Gateway API, as an HTTPRoute attached to the
//! profile's Gateway (which terminates TLS at its listener).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Ctx;
use crate::crd::CustomResource;
use crate::crd::gateway_api::{
    HttpBackendRef, HttpPathMatch, HttpRoute, HttpRouteMatch, HttpRouteRule, HttpRouteSpec, ParentReference,
    PathMatchType,
};
use crate::meta::{Component, SyncWave};
use crate::name::{Name, NameError};
use crate::object::Object;
use crate::profile::Routing;

/// `path` prefix to the Service `service`, on its first port.
struct PathRoute<'a> {
    path: &'a str,
    service: &'a Name,
    port_name: &'a str,
    port: u16,
}

/// The exposed routes, longest prefix first, as a reader expects (Ingress
/// controllers and Gateways match the longest prefix whatever the order).
fn routes<'a>(ctx: &'a Ctx) -> Vec<PathRoute<'a>> {
    let mut routes: Vec<PathRoute> = ctx
        .platform
        .exposed_routes(&ctx.profile.ingress.expose_opt_in)
        .filter_map(|(s, r)| {
            // Validation guarantees a routed service's own Service and its port.
            let port = s.own_exposure()?.ports.first()?;
            Some(PathRoute { path: &r.path, service: &s.name, port_name: &port.name, port: port.port })
        })
        .collect();
    routes.sort_by(|a, b| b.path.len().cmp(&a.path.len()).then(a.path.cmp(b.path)));
    routes
}

/// The Ingress or HTTPRoute the profile's routing asks for; `None` when no
/// service is exposed in this environment.
pub fn entry_point(ctx: &Ctx) -> Result<Option<Object>, NameError> {
    let routes = routes(ctx);
    if routes.is_empty() {
        return Ok(None);
    }
    let name = ctx.platform.name.clone();
    let labels = ctx.labels(&name, Component::Ingress, None);
    let meta = ctx.meta(&name, &labels, SyncWave::Ingress);
    Ok(Some(match &ctx.profile.ingress.routing {
        Routing::Ingress { class_name } => ingress(ctx, meta, class_name, &routes)?.into(),
        Routing::GatewayApi { gateway, namespace, section_name } => {
            let parent = ParentReference::gateway(gateway, namespace, section_name.as_ref());
            http_route(ctx, meta, parent, &routes).into()
        }
    }))
}

fn ingress(
    ctx: &Ctx,
    mut meta: ObjectMeta,
    class_name: &Name,
    routes: &[PathRoute],
) -> Result<Ingress, NameError> {
    let profile = &ctx.profile.ingress;
    let paths = routes
        .iter()
        .map(|r| HTTPIngressPath {
            path: Some(r.path.to_owned()),
            path_type: "Prefix".into(),
            backend: IngressBackend {
                service: Some(IngressServiceBackend {
                    name: r.service.to_string(),
                    port: Some(ServiceBackendPort { name: Some(r.port_name.into()), number: None }),
                }),
                resource: None,
            },
        })
        .collect();
    let tls_secret = ctx.platform.name.suffixed("tls")?;
    let (key, value) = profile.tls_issuer.ingress_annotation();
    meta.annotations.get_or_insert_with(BTreeMap::new).insert(key.into(), value);
    Ok(Ingress {
        metadata: meta,
        spec: Some(IngressSpec {
            ingress_class_name: Some(class_name.to_string()),
            tls: Some(vec![IngressTLS {
                hosts: Some(vec![profile.host.to_string()]),
                secret_name: Some(tls_secret.to_string()),
            }]),
            rules: Some(vec![IngressRule {
                host: Some(profile.host.to_string()),
                http: Some(HTTPIngressRuleValue { paths }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// One rule per route, each a `PathPrefix` match (whole path elements, as the
/// Ingress's `Prefix`) to the Service's port. No TLS and no cert-manager
/// annotation here: the Gateway's listener holds the certificate.
fn http_route(ctx: &Ctx, meta: ObjectMeta, parent: ParentReference, routes: &[PathRoute]) -> HttpRoute {
    let rules = routes
        .iter()
        .map(|r| HttpRouteRule {
            matches: vec![HttpRouteMatch {
                path: Some(HttpPathMatch {
                    type_: Some(PathMatchType::PathPrefix),
                    value: Some(r.path.to_owned()),
                }),
            }],
            backend_refs: vec![HttpBackendRef { name: r.service.to_string(), port: Some(i32::from(r.port)) }],
        })
        .collect();
    CustomResource::new(
        meta,
        HttpRouteSpec {
            parent_refs: vec![parent],
            hostnames: vec![ctx.profile.ingress.host.to_string()],
            rules,
        },
    )
}
