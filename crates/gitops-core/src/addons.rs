//! The cluster add-ons a platform needs before its environments can run:
//! the ingress controller, cert-manager, External Secrets or Sealed
//! Secrets, metrics-server, MetalLB and Gatekeeper, each an Argo CD
//! Application of its upstream Helm chart at a pinned version with typed
//! values. The instance's root Application syncs them first, so the CRDs
//! exist before the custom resources that use them.
//!
//! A profile lists its instance's add-ons in
//! [`ArgoCdProfile::addons`](crate::profile::ArgoCdProfile::addons). When
//! the list is not empty, the layout refuses an environment that renders a
//! kind no add-on provides (an ExternalSecret without External Secrets, an
//! HPA without metrics-server, an Ingress of a class no controller serves):
//! such a tree would pass every schema and never run. An empty list means
//! the cluster's add-ons are installed another way, and nothing is checked.
//!
//! Argo CD itself is not an add-on: it is installed first, by the recovery
//! runbook (docs/argocd.md), and this tree only patches its ConfigMaps.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::Object;
use crate::name::Name;
use crate::object::DynamicObject;

/// An upstream Helm chart at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmChart {
    /// The chart repository's URL (`https://charts.jetstack.io`).
    pub repo_url: &'static str,
    /// The chart's name in it (`cert-manager`).
    pub chart: &'static str,
    /// An exact version (`v1.21.2`): never a range, so a sync installs what was reviewed.
    pub version: &'static str,
}

/// What an add-on makes available to the environments' objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provides {
    /// Every kind of an API group (`cert-manager.io`).
    ApiGroup(String),
    /// The resource metrics API (`metrics.k8s.io`), which HorizontalPodAutoscalers on CPU read.
    ResourceMetrics,
    /// Serves Ingresses of this class.
    IngressClass(String),
    /// Gives LoadBalancer Services an address.
    LoadBalancers,
}

/// One cluster add-on: an Argo CD Application `<name>` of `chart` in `namespace`, with `values`.
#[derive(Debug, Clone, PartialEq)]
pub struct Addon {
    /// The Application's and the Helm release's name.
    pub name: Name,
    /// The namespace it is installed in (created by the sync).
    pub namespace: Name,
    /// The chart and its pinned version.
    pub chart: HelmChart,
    /// The chart's values (`helm.valuesObject`), from the add-on's typed values.
    pub values: serde_json::Value,
    /// What it makes available.
    pub provides: Vec<Provides>,
    /// Objects of the add-on's own kinds the cluster needs (MetalLB's
    /// address pool), synced by the root once the add-on is healthy.
    pub config: Vec<AddonConfig>,
}

/// A custom resource of an add-on's own API, with its typed body.
#[derive(Debug, Clone, PartialEq)]
pub struct AddonConfig {
    /// `apiVersion` (`metallb.io/v1beta1`).
    pub api_version: &'static str,
    /// `kind` (`IPAddressPool`).
    pub kind: &'static str,
    /// `metadata.name`; the namespace is the add-on's.
    pub name: Name,
    /// `spec`.
    pub spec: serde_json::Value,
}

impl AddonConfig {
    /// The object, in the add-on's `namespace`.
    pub fn object(&self, namespace: &Name) -> DynamicObject {
        let mut object = DynamicObject::new(
            self.api_version,
            self.kind,
            self.name.as_str(),
            serde_json::json!({ "spec": self.spec }),
        )
        .expect("a spec is a body without apiVersion, kind or metadata");
        object.metadata.namespace = Some(namespace.to_string());
        object
    }
}

fn values<T: Serialize>(typed: &T) -> serde_json::Value {
    serde_json::to_value(typed).expect("typed values are plain data")
}

fn name(value: &'static str) -> Name {
    Name::new(value).expect("add-on names are valid")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CertManagerValues {
    crds: CertManagerCrds,
}

#[derive(Serialize)]
struct CertManagerCrds {
    /// Install the CRDs with the chart (`installCRDs` before v1.15).
    enabled: bool,
    /// Keep them when the release is removed: deleting a CRD deletes every certificate.
    keep: bool,
}

/// cert-manager (<https://cert-manager.io/docs/installation/helm/>), with
/// its CRDs, kept if the release is removed.
pub fn cert_manager() -> Addon {
    Addon {
        name: name("cert-manager"),
        namespace: name("cert-manager"),
        chart: HelmChart {
            repo_url: "https://charts.jetstack.io",
            chart: "cert-manager",
            version: "v1.21.2",
        },
        values: values(&CertManagerValues { crds: CertManagerCrds { enabled: true, keep: true } }),
        provides: vec![
            Provides::ApiGroup("cert-manager.io".into()),
            Provides::ApiGroup("acme.cert-manager.io".into()),
        ],
        config: Vec::new(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngressNginxValues {
    controller: IngressNginxController,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngressNginxController {
    ingress_class_resource: IngressClassResource,
    service: IngressNginxService,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngressClassResource {
    name: String,
}

#[derive(Serialize)]
struct IngressNginxService {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, String>,
}

/// The ingress-nginx controller serving Ingresses of `class`, its
/// LoadBalancer Service at `address` when one is given (MetalLB's
/// `metallb.io/loadBalancerIPs`: the address a `nip.io` host names).
/// The project was retired upstream in March 2026 (no more releases or
/// security fixes): a platform that can should route with
/// [`Routing::GatewayApi`](crate::profile::Routing::GatewayApi) instead.
pub fn ingress_nginx(class: &Name, address: Option<Ipv4Addr>) -> Addon {
    let annotations = address.map(|ip| ("metallb.io/loadBalancerIPs", ip.to_string())).into_iter().collect();
    Addon {
        name: name("ingress-nginx"),
        namespace: name("ingress-nginx"),
        chart: HelmChart {
            repo_url: "https://kubernetes.github.io/ingress-nginx",
            chart: "ingress-nginx",
            version: "4.15.1",
        },
        values: values(&IngressNginxValues {
            controller: IngressNginxController {
                ingress_class_resource: IngressClassResource { name: class.to_string() },
                service: IngressNginxService { annotations },
            },
        }),
        provides: vec![Provides::IngressClass(class.to_string())],
        config: Vec::new(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalSecretsValues {
    #[serde(rename = "installCRDs")]
    install_crds: bool,
}

/// External Secrets Operator (<https://external-secrets.io>), with its CRDs.
pub fn external_secrets() -> Addon {
    Addon {
        name: name("external-secrets"),
        namespace: name("external-secrets"),
        chart: HelmChart {
            repo_url: "https://charts.external-secrets.io",
            chart: "external-secrets",
            version: "2.10.0",
        },
        values: values(&ExternalSecretsValues { install_crds: true }),
        provides: vec![
            Provides::ApiGroup("external-secrets.io".into()),
            Provides::ApiGroup("generators.external-secrets.io".into()),
        ],
        config: Vec::new(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SealedSecretsValues {
    fullname_override: &'static str,
}

/// The Sealed Secrets controller, named and placed as `kubeseal` looks for
/// it by default (`sealed-secrets-controller` in `kube-system`).
pub fn sealed_secrets() -> Addon {
    Addon {
        name: name("sealed-secrets"),
        namespace: name("kube-system"),
        chart: HelmChart {
            repo_url: "https://bitnami.github.io/sealed-secrets",
            chart: "sealed-secrets",
            version: "2.18.5",
        },
        values: values(&SealedSecretsValues { fullname_override: "sealed-secrets-controller" }),
        provides: vec![Provides::ApiGroup("bitnami.com".into())],
        config: Vec::new(),
    }
}

#[derive(Serialize)]
struct NoValues {}

/// metrics-server: the resource metrics HorizontalPodAutoscalers on CPU read.
pub fn metrics_server() -> Addon {
    Addon {
        name: name("metrics-server"),
        namespace: name("kube-system"),
        chart: HelmChart {
            repo_url: "https://kubernetes-sigs.github.io/metrics-server/",
            chart: "metrics-server",
            version: "3.14.0",
        },
        values: values(&NoValues {}),
        provides: vec![Provides::ResourceMetrics],
        config: Vec::new(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IpAddressPoolSpec {
    addresses: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct L2AdvertisementSpec {
    ip_address_pools: Vec<String>,
}

/// MetalLB in layer-2 mode, handing out `addresses` (each an address range
/// `192.168.10.240-192.168.10.250` or a CIDR) to LoadBalancer Services: an
/// `IPAddressPool` and the `L2Advertisement` that announces it
/// (<https://metallb.universe.tf/configuration/>).
pub fn metallb(addresses: Vec<String>) -> Addon {
    let pool = name("default-pool");
    Addon {
        name: name("metallb"),
        namespace: name("metallb-system"),
        chart: HelmChart {
            repo_url: "https://metallb.github.io/metallb",
            chart: "metallb",
            version: "0.16.0",
        },
        values: values(&NoValues {}),
        provides: vec![Provides::ApiGroup("metallb.io".into()), Provides::LoadBalancers],
        config: vec![
            AddonConfig {
                api_version: "metallb.io/v1beta1",
                kind: "IPAddressPool",
                name: pool.clone(),
                spec: values(&IpAddressPoolSpec { addresses }),
            },
            AddonConfig {
                api_version: "metallb.io/v1beta1",
                kind: "L2Advertisement",
                name: name("default"),
                spec: values(&L2AdvertisementSpec { ip_address_pools: vec![pool.to_string()] }),
            },
        ],
    }
}

/// OPA Gatekeeper: the admission controller that enforces
/// `constraints.gatekeeper.sh` constraints of `templates.gatekeeper.sh`
/// templates.
pub fn gatekeeper() -> Addon {
    Addon {
        name: name("gatekeeper"),
        namespace: name("gatekeeper-system"),
        chart: HelmChart {
            repo_url: "https://open-policy-agent.github.io/gatekeeper/charts",
            chart: "gatekeeper",
            version: "3.22.2",
        },
        values: values(&NoValues {}),
        provides: vec![
            Provides::ApiGroup("templates.gatekeeper.sh".into()),
            Provides::ApiGroup("constraints.gatekeeper.sh".into()),
        ],
        config: Vec::new(),
    }
}

/// API groups every Kubernetes cluster serves, and Argo CD's (installed
/// before anything else): objects of these need no add-on.
fn built_in(group: &str) -> bool {
    group.is_empty()
        || group == "argoproj.io"
        || (!group.contains('.') && !group.is_empty())
        || (group.ends_with(".k8s.io") && group != "gateway.networking.k8s.io")
}

/// What `object` needs from the cluster beyond the API server: its kind's
/// API group when that is not built in, the resource metrics for an HPA,
/// a controller for an Ingress's class, addresses for a LoadBalancer
/// Service, and cert-manager for an Ingress or Gateway that asks it for a
/// certificate (its `cert-manager.io/cluster-issuer` or `issuer` annotation).
pub fn needs(object: &Object) -> Vec<Provides> {
    let (group, kind) = object.group_kind();
    let mut needs = Vec::new();
    match object {
        Object::HorizontalPodAutoscaler(_) => needs.push(Provides::ResourceMetrics),
        Object::Ingress(i) => {
            if let Some(class) = i.spec.as_ref().and_then(|s| s.ingress_class_name.as_ref()) {
                needs.push(Provides::IngressClass(class.clone()));
            }
        }
        Object::Service(s) if s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer") => {
            needs.push(Provides::LoadBalancers)
        }
        _ => {}
    }
    let annotations = object.metadata().annotations.as_ref();
    if matches!(kind, "Ingress" | "Gateway")
        && annotations
            .is_some_and(|a| a.contains_key(CLUSTER_ISSUER_ANNOTATION) || a.contains_key(ISSUER_ANNOTATION))
    {
        needs.push(Provides::ApiGroup("cert-manager.io".into()));
    }
    if !built_in(group) {
        needs.push(Provides::ApiGroup(group.to_owned()));
    }
    needs
}

const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";
const ISSUER_ANNOTATION: &str = "cert-manager.io/issuer";

impl Provides {
    /// `need` in words, for an error.
    pub fn describe(&self) -> String {
        match self {
            Provides::ApiGroup(group) => format!("the API group `{group}`"),
            Provides::ResourceMetrics => "the resource metrics API (metrics-server)".into(),
            Provides::IngressClass(class) => format!("an ingress controller for class `{class}`"),
            Provides::LoadBalancers => "addresses for LoadBalancer Services (MetalLB, or a cloud's)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_add_on_pins_an_exact_version_and_says_what_it_provides() {
        let class = Name::new("nginx").unwrap();
        for addon in [
            cert_manager(),
            ingress_nginx(&class, Some(Ipv4Addr::new(192, 168, 10, 240))),
            external_secrets(),
            sealed_secrets(),
            metrics_server(),
            metallb(vec!["192.168.10.240/32".into()]),
            gatekeeper(),
        ] {
            let version = addon.chart.version.trim_start_matches('v');
            assert_eq!(version.split('.').count(), 3, "{}: {version}", addon.name);
            assert!(
                version.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
                "{version}"
            );
            assert!(addon.chart.repo_url.starts_with("https://"), "{}", addon.name);
            assert!(!addon.provides.is_empty(), "{}", addon.name);
            assert!(addon.values.is_object(), "{}", addon.name);
        }
    }

    #[test]
    fn values_are_the_charts_own_keys() {
        assert_eq!(cert_manager().values, serde_json::json!({ "crds": { "enabled": true, "keep": true } }));
        assert_eq!(external_secrets().values, serde_json::json!({ "installCRDs": true }));
        assert_eq!(
            ingress_nginx(&Name::new("nginx").unwrap(), Some(Ipv4Addr::new(10, 0, 0, 7))).values,
            serde_json::json!({ "controller": {
                "ingressClassResource": { "name": "nginx" },
                "service": { "annotations": { "metallb.io/loadBalancerIPs": "10.0.0.7" } },
            }})
        );
        assert_eq!(
            ingress_nginx(&Name::new("public").unwrap(), None).values["controller"]["service"],
            serde_json::json!({})
        );
        assert_eq!(
            sealed_secrets().values,
            serde_json::json!({ "fullnameOverride": "sealed-secrets-controller" })
        );
        let pool = &metallb(vec!["10.0.0.7/32".into()]).config;
        assert_eq!(pool[0].spec, serde_json::json!({ "addresses": ["10.0.0.7/32"] }));
        assert_eq!(pool[1].spec, serde_json::json!({ "ipAddressPools": ["default-pool"] }));
    }

    #[test]
    fn what_an_object_needs_from_the_cluster() {
        let object = |yaml: &str| Object::from_json(crate::yaml::from_str(yaml).unwrap()).unwrap();
        let deployment = object(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {selector: {}, template: {}}",
        );
        assert_eq!(needs(&deployment), []);
        let policy = object(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {podSelector: {}}",
        );
        assert_eq!(needs(&policy), []);
        let hpa = object(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\nspec: {maxReplicas: 2, scaleTargetRef: {kind: Deployment, name: a}}",
        );
        assert_eq!(needs(&hpa), [Provides::ResourceMetrics]);
        let ingress = object(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a, annotations: {cert-manager.io/cluster-issuer: ca}}\nspec: {ingressClassName: nginx}",
        );
        assert_eq!(
            needs(&ingress),
            [Provides::IngressClass("nginx".into()), Provides::ApiGroup("cert-manager.io".into())]
        );
        let lb = object("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {type: LoadBalancer}");
        assert_eq!(needs(&lb), [Provides::LoadBalancers]);
        let cluster_ip =
            object("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {type: ClusterIP}");
        assert_eq!(needs(&cluster_ip), []);
        let widget = object("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a}\nspec: {}");
        assert_eq!(needs(&widget), [Provides::ApiGroup("example.com".into())]);
        let gateway = object(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: a, annotations: {cert-manager.io/issuer: ca}}\nspec: {}",
        );
        assert_eq!(
            needs(&gateway),
            [
                Provides::ApiGroup("cert-manager.io".into()),
                Provides::ApiGroup("gateway.networking.k8s.io".into())
            ],
            "the Gateway API is CRDs an implementation installs, not built in"
        );
    }
}
