//! NetworkPolicies: everything denied, then exactly the traffic the platform
//! declares: DNS; the ingress controller (or the Gateway's proxies, from the
//! same profile field) to the exposed services; each
//! service and its migration Job to their own database; service to service
//! along declared dependencies; out of the cluster only where the profile
//! says so.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use crate::crd::cert_manager::{HTTP01_SOLVER_LABEL, HTTP01_SOLVER_PORT};
use crate::meta::{self, Labels, SyncWave};
use crate::name::Name;
use crate::profile::{IssuerSource, Routing};

/// The label every namespace carries with its own name (Kubernetes sets it).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector { match_labels: Some(labels), ..Default::default() }
}

fn tcp(port: IntOrString) -> NetworkPolicyPort {
    NetworkPolicyPort { port: Some(port), protocol: Some("TCP".into()), ..Default::default() }
}

/// A peer in the same namespace: the pods of one workload.
pub fn pods(labels: &Labels) -> NetworkPolicyPeer {
    NetworkPolicyPeer { pod_selector: Some(selector(labels.selector())), ..Default::default() }
}

/// A peer: every pod of another namespace.
pub fn namespace(name: &Name) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(selector(BTreeMap::from([(
            NAMESPACE_NAME_LABEL.to_owned(),
            name.to_string(),
        )]))),
        ..Default::default()
    }
}

/// Traffic to or from `peers` on the named container `port`.
pub struct Allow {
    /// Who may connect (or be connected to).
    pub peers: Vec<NetworkPolicyPeer>,
    /// On which ports.
    pub ports: Vec<NetworkPolicyPort>,
}

impl Allow {
    /// `peers` on the container port named `port`, over TCP.
    pub fn named_port(peers: Vec<NetworkPolicyPeer>, port: &str) -> Self {
        Allow { peers, ports: vec![tcp(IntOrString::String(port.into()))] }
    }
}

fn policy(
    ctx: &Ctx,
    labels: &Labels,
    pods: LabelSelector,
    ingress: Vec<Allow>,
    egress: Vec<Allow>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ctx.meta(&labels.name, labels, SyncWave::Foundation),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pods),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(
                ingress
                    .into_iter()
                    .map(|a| NetworkPolicyIngressRule { from: Some(a.peers), ports: Some(a.ports) })
                    .collect(),
            ),
            egress: Some(
                egress
                    .into_iter()
                    .map(|a| NetworkPolicyEgressRule { to: Some(a.peers), ports: Some(a.ports) })
                    .collect(),
            ),
        }),
    }
}

/// The policy of one workload's pods: what may reach them, and what they may reach.
pub fn workload(ctx: &Ctx, labels: &Labels, ingress: Vec<Allow>, egress: Vec<Allow>) -> NetworkPolicy {
    policy(ctx, labels, selector(labels.selector()), ingress, egress)
}

fn shared_labels(ctx: &Ctx, name: Name) -> Labels {
    ctx.labels(&name, meta::Component::Platform, None)
}

/// Denies all traffic to and from every pod of the namespace; the other
/// policies add what is allowed.
pub fn default_deny(ctx: &Ctx) -> NetworkPolicy {
    let labels = shared_labels(ctx, crate::name!("default-deny"));
    policy(ctx, &labels, LabelSelector::default(), Vec::new(), Vec::new())
}

/// Lets every pod resolve names with the cluster DNS (kube-dns / CoreDNS in kube-system).
pub fn allow_dns(ctx: &Ctx) -> NetworkPolicy {
    let labels = shared_labels(ctx, crate::name!("allow-dns"));
    let dns = NetworkPolicyPeer {
        namespace_selector: Some(selector(BTreeMap::from([(
            NAMESPACE_NAME_LABEL.to_owned(),
            "kube-system".to_owned(),
        )]))),
        pod_selector: Some(selector(BTreeMap::from([("k8s-app".to_owned(), "kube-dns".to_owned())]))),
        ..Default::default()
    };
    let ports = ["UDP", "TCP"]
        .into_iter()
        .map(|protocol| NetworkPolicyPort {
            port: Some(IntOrString::Int(53)),
            protocol: Some(protocol.into()),
            ..Default::default()
        })
        .collect();
    let mut p =
        policy(ctx, &labels, LabelSelector::default(), Vec::new(), vec![Allow { peers: vec![dns], ports }]);
    if let Some(spec) = &mut p.spec {
        spec.policy_types = Some(vec!["Egress".into()]);
        spec.ingress = None;
    }
    p
}

/// With a Let's Encrypt issuer, the ingress controller must reach
/// cert-manager's HTTP-01 solver pods in this namespace. With Gateway API the
/// certificate, and so its challenge and solver pods, live in the Gateway's
/// namespace: nothing to allow here.
pub fn acme_solver(ctx: &Ctx) -> Option<NetworkPolicy> {
    let ingress = &ctx.profile.ingress;
    if !matches!(ingress.issuer, IssuerSource::LetsEncrypt { .. })
        || !matches!(ingress.routing, Routing::Ingress { .. })
    {
        return None;
    }
    let labels = shared_labels(ctx, crate::name!("allow-acme-http01-solver"));
    let solver = selector(BTreeMap::from([(HTTP01_SOLVER_LABEL.to_owned(), "true".to_owned())]));
    let from_ingress = Allow {
        peers: vec![namespace(&ctx.profile.network.ingress_namespace)],
        ports: vec![tcp(IntOrString::Int(HTTP01_SOLVER_PORT))],
    };
    let mut p = policy(ctx, &labels, solver, vec![from_ingress], Vec::new());
    if let Some(spec) = &mut p.spec {
        spec.policy_types = Some(vec!["Ingress".into()]);
        spec.egress = None;
    }
    Some(p)
}

/// Traffic from any address, IPv4 or IPv6, to the named container `port`:
/// what reaches the pods behind a LoadBalancer Service (clients' addresses,
/// or the nodes' after SNAT).
pub fn anywhere(port: &str, protocol: crate::spec::Protocol) -> Allow {
    let block = |cidr: &str| NetworkPolicyPeer {
        ip_block: Some(IPBlock { cidr: cidr.into(), except: None }),
        ..Default::default()
    };
    Allow {
        peers: vec![block("0.0.0.0/0"), block("::/0")],
        ports: vec![NetworkPolicyPort {
            port: Some(IntOrString::String(port.into())),
            protocol: Some(protocol.as_str().into()),
            ..Default::default()
        }],
    }
}

/// Traffic out of the cluster to `cidr` (less `except`) on TCP `ports`.
pub fn external(cidr: &str, except: &[&str], ports: &[u16]) -> Allow {
    Allow {
        peers: vec![NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: cidr.into(),
                except: (!except.is_empty()).then(|| except.iter().map(|e| e.to_string()).collect()),
            }),
            ..Default::default()
        }],
        ports: ports.iter().map(|p| tcp(IntOrString::Int(i32::from(*p)))).collect(),
    }
}
