//! The environment's single Ingress: one host, TLS from cert-manager, one
//! path prefix per exposed service.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::Ctx;
use super::pod::HTTP_PORT_NAME;
use crate::meta::{Component, SyncWave};
use crate::name::NameError;

/// `None` when no service is exposed in this environment.
pub fn ingress(ctx: &Ctx) -> Result<Option<Ingress>, NameError> {
    let profile = &ctx.profile.ingress;
    let mut paths: Vec<HTTPIngressPath> = ctx
        .platform
        .exposed_routes(&profile.expose_opt_in)
        .map(|(s, r)| HTTPIngressPath {
            path: Some(r.path.clone()),
            path_type: "Prefix".into(),
            backend: IngressBackend {
                service: Some(IngressServiceBackend {
                    name: s.name.to_string(),
                    port: Some(ServiceBackendPort { name: Some(HTTP_PORT_NAME.into()), number: None }),
                }),
                resource: None,
            },
        })
        .collect();
    if paths.is_empty() {
        return Ok(None);
    }
    // Longest prefix first, as a reader expects; the controller matches the
    // longest prefix whatever the order.
    paths.sort_by(|a, b| {
        let (a, b) = (a.path.as_deref().unwrap_or(""), b.path.as_deref().unwrap_or(""));
        b.len().cmp(&a.len()).then(a.cmp(b))
    });

    let name = ctx.platform.name.clone();
    let tls_secret = name.suffixed("tls")?;
    let labels = ctx.labels(&name, Component::Ingress, None);
    let mut meta = ctx.meta(&name, &labels, SyncWave::Ingress);
    let (key, value) = profile.tls_issuer.ingress_annotation();
    meta.annotations.get_or_insert_with(BTreeMap::new).insert(key.into(), value);

    Ok(Some(Ingress {
        metadata: meta,
        spec: Some(IngressSpec {
            ingress_class_name: Some(profile.class_name.to_string()),
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
    }))
}
