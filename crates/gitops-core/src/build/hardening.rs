//! What keeps an environment safe and available beyond each pod's own
//! settings: a ServiceAccount per workload, PodDisruptionBudgets,
//! HorizontalPodAutoscalers, topology spread, the namespace's ResourceQuota
//! and LimitRange, the certificate issuer and the Gatekeeper constraint.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Affinity, LimitRange, LimitRangeItem, LimitRangeSpec, PodAffinityTerm, PodAntiAffinity, ResourceQuota,
    ResourceQuotaSpec, ServiceAccount, TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use crate::crd::CustomResource;
use crate::crd::cert_manager::{
    AcmeIssuer, AcmeSolver, CaIssuer, ClusterIssuer, Http01GatewayHttpRoute, Http01Ingress, Http01Route,
    Http01Solver, IssuerSpec, IssuerType, SecretKeySelector,
};
use crate::crd::gatekeeper::{ConstraintMatch, ConstraintSpec, MatchKinds, PrivilegedContainerConstraint};
use crate::crd::gateway_api::ParentReference;
use crate::meta::{self, Labels, SyncWave};
use crate::object::Object;
use crate::profile::{Compute, Cpu, IssuerSource, Memory, Resources, Routing, WorkloadSizing};

/// The ServiceAccount a workload runs as: its own, without a token.
pub fn service_account(ctx: &Ctx, labels: &Labels) -> ServiceAccount {
    ServiceAccount {
        metadata: ctx.meta(&labels.name, labels, SyncWave::Foundation),
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

/// A budget that lets a drain take one pod at a time, for workloads with
/// more than one replica. Pods that are not ready may always be evicted
/// (`AlwaysAllow`): with the default `IfHealthyBudget`, a replica stuck in a
/// crash loop blocks every node drain, and these are stateless Deployments
/// (the databases, StatefulSets of one pod, get no budget).
pub fn disruption_budget(ctx: &Ctx, labels: &Labels, replicas: u16) -> Option<PodDisruptionBudget> {
    (replicas > 1).then(|| PodDisruptionBudget {
        metadata: ctx.meta(&labels.name, labels, SyncWave::Application),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector { match_labels: Some(labels.selector()), ..Default::default() }),
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Scales a Deployment between its profile replicas and the profile's maximum on CPU.
pub fn autoscaler(
    ctx: &Ctx,
    labels: &Labels,
    sizing: WorkloadSizing,
    scaling: Option<crate::profile::Autoscaling>,
) -> Option<HorizontalPodAutoscaler> {
    let scaling = scaling?;
    Some(HorizontalPodAutoscaler {
        metadata: ctx.meta(&labels.name, labels, SyncWave::Application),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: labels.name.to_string(),
            },
            min_replicas: Some(i32::from(sizing.replicas)),
            max_replicas: i32::from(scaling.max_replicas.max(sizing.replicas)),
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(i32::from(scaling.cpu_utilization)),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Spreads a Deployment's pods over nodes, when the profile asks for it.
pub fn spread(ctx: &Ctx, labels: &Labels) -> Option<Vec<TopologySpreadConstraint>> {
    ctx.profile.availability.spread_across_nodes.then(|| {
        vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "kubernetes.io/hostname".into(),
            // A lost node must not stop the rollout; the scheduler still spreads.
            when_unsatisfiable: "ScheduleAnyway".into(),
            label_selector: Some(LabelSelector {
                match_labels: Some(labels.selector()),
                ..Default::default()
            }),
            match_label_keys: Some(vec!["pod-template-hash".into()]),
            ..Default::default()
        }]
    })
}

/// With the spread, a preferred (never required) anti-affinity between a
/// Deployment's pods on one node: the scheduler weighs both the same way,
/// and scanners that look only for anti-affinity (kube-score's "host
/// PodAntiAffinity") see it. A lost node still never blocks a rollout.
pub fn anti_affinity(ctx: &Ctx, labels: &Labels) -> Option<Affinity> {
    ctx.profile.availability.spread_across_nodes.then(|| Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    topology_key: "kubernetes.io/hostname".into(),
                    label_selector: Some(LabelSelector {
                        match_labels: Some(labels.selector()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Room for what the renderer does not size: one cert-manager solver or
/// debugging pod.
pub const ALLOWANCE: Resources = Resources {
    requests: Compute { cpu: Cpu(200), memory: Memory(256) },
    limits: Compute { cpu: Cpu(500), memory: Memory(512) },
};

/// What the environment's objects ask for at their largest, plus the allowance.
pub fn demand(objects: &[&Object]) -> super::admission::Demand {
    super::admission::demand(objects, (ALLOWANCE.requests, ALLOWANCE.limits, 1))
}

/// The namespace's quota: everything the environment runs at its largest
/// (every replica, or the autoscaler's maximum, plus a surge pod per
/// Deployment during a rollout; every database and hook Job at once; every
/// claim) plus a small allowance, computed from the final objects.
pub fn quota(ctx: &Ctx, d: &super::admission::Demand) -> ResourceQuota {
    let name = ctx.platform.name.clone();
    let labels = ctx.labels(&name, meta::Component::Platform, None);
    // Room for one claim of the profile's size where the tree makes none.
    let (claims, storage) =
        if d.claims == 0 { (1, ctx.profile.storage.database_size) } else { (d.claims, d.storage) };
    let hard = BTreeMap::from([
        ("requests.cpu".to_owned(), d.requests.cpu.quantity()),
        ("requests.memory".to_owned(), d.requests.memory.quantity()),
        ("limits.cpu".to_owned(), d.limits.cpu.quantity()),
        ("limits.memory".to_owned(), d.limits.memory.quantity()),
        ("pods".to_owned(), Quantity(d.pods.to_string())),
        ("persistentvolumeclaims".to_owned(), Quantity(claims.to_string())),
        ("requests.storage".to_owned(), storage.quantity()),
    ]);
    ResourceQuota {
        metadata: ctx.meta(&name, &labels, SyncWave::Foundation),
        spec: Some(ResourceQuotaSpec { hard: Some(hard), ..Default::default() }),
        ..Default::default()
    }
}

/// Defaults for containers that do not size themselves (a solver pod) and a
/// ceiling no container may pass: the largest size the profile gives, or
/// the largest container or claim of the final objects where that is larger.
pub fn limit_range(ctx: &Ctx, d: &super::admission::Demand) -> LimitRange {
    let p = ctx.profile;
    let mut all = vec![p.api.resources, p.web.resources, p.migration];
    all.extend(p.databases.iter().map(|d| d.resources));
    let max = Compute {
        cpu: all.iter().map(|r| r.limits.cpu).max().unwrap_or(Cpu(0)).max(d.largest_container.cpu),
        memory: all
            .iter()
            .map(|r| r.limits.memory)
            .max()
            .unwrap_or(Memory(0))
            .max(d.largest_container.memory),
    };
    let compute = |c: Compute| {
        BTreeMap::from([("cpu".to_owned(), c.cpu.quantity()), ("memory".to_owned(), c.memory.quantity())])
    };
    let name = ctx.platform.name.clone();
    let labels = ctx.labels(&name, meta::Component::Platform, None);
    let claim = p.storage.database_size.max(d.largest_claim);
    LimitRange {
        metadata: ctx.meta(&name, &labels, SyncWave::Foundation),
        spec: Some(LimitRangeSpec {
            limits: vec![
                LimitRangeItem {
                    type_: "Container".into(),
                    default: Some(compute(ALLOWANCE.limits)),
                    default_request: Some(compute(ALLOWANCE.requests)),
                    max: Some(compute(max)),
                    ..Default::default()
                },
                LimitRangeItem {
                    type_: "PersistentVolumeClaim".into(),
                    max: Some(BTreeMap::from([("storage".to_owned(), claim.quantity())])),
                    ..Default::default()
                },
            ],
        }),
    }
}

/// Where cert-manager routes an HTTP-01 challenge: through the ingress class,
/// or through the Gateway that serves the host.
fn http01_route(routing: &Routing) -> Http01Route {
    match routing {
        Routing::Ingress { class_name } => {
            Http01Route::Ingress(Http01Ingress { ingress_class_name: class_name.to_string() })
        }
        Routing::GatewayApi { gateway, namespace, section_name } => {
            Http01Route::GatewayHttpRoute(Http01GatewayHttpRoute {
                parent_refs: vec![ParentReference::gateway(gateway, namespace, section_name.as_ref())],
            })
        }
    }
}

/// The ClusterIssuer the profile asks the tree to create, if any.
pub fn cluster_issuer(ctx: &Ctx) -> Option<ClusterIssuer> {
    let ingress = &ctx.profile.ingress;
    let spec = match &ingress.issuer {
        IssuerSource::OutOfBand => return None,
        IssuerSource::InternalCa { secret_name } => {
            IssuerType::Ca(CaIssuer { secret_name: secret_name.to_string() })
        }
        IssuerSource::LetsEncrypt { email, staging } => IssuerType::Acme(AcmeIssuer {
            server: if *staging {
                "https://acme-staging-v02.api.letsencrypt.org/directory".into()
            } else {
                "https://acme-v02.api.letsencrypt.org/directory".into()
            },
            email: email.clone(),
            private_key_secret_ref: SecretKeySelector {
                name: format!("{}-account-key", ingress.tls_issuer.name),
            },
            solvers: vec![AcmeSolver { http01: Http01Solver { route: http01_route(&ingress.routing) } }],
        }),
    };
    let name = &ingress.tls_issuer.name;
    let labels = ctx.labels(name, meta::Component::Ingress, None);
    let mut metadata = ctx.meta(name, &labels, SyncWave::Foundation);
    metadata.namespace = None;
    Some(CustomResource::new(metadata, IssuerSpec { issuer: spec }))
}

/// BrainSAIT's pipeline document's runtime guard: Gatekeeper refuses privileged pods in the namespace.
pub fn privileged_constraint(ctx: &Ctx) -> Option<PrivilegedContainerConstraint> {
    if !ctx.profile.gatekeeper_privileged_constraint {
        return None;
    }
    let name = ctx.profile.namespace.suffixed("deny-privileged").ok()?;
    let labels = ctx.labels(&name, meta::Component::Platform, None);
    let mut metadata = ctx.meta(&name, &labels, SyncWave::Foundation);
    metadata.namespace = None;
    // The constraint's kind is a CRD Gatekeeper makes from the template
    // (which the instance's root syncs first), so it may not exist at the
    // dry run of the first sync (Argo CD's sync-options page names
    // Gatekeeper's constraints as the case for this option).
    metadata.annotations.get_or_insert_with(Default::default).insert(
        crate::crd::argocd::SYNC_OPTIONS_ANNOTATION.to_owned(),
        crate::crd::argocd::SyncOption::SkipDryRunOnMissingResource.as_str().to_owned(),
    );
    Some(CustomResource::new(
        metadata,
        ConstraintSpec {
            match_: ConstraintMatch {
                kinds: vec![MatchKinds { api_groups: vec![String::new()], kinds: vec!["Pod".into()] }],
                namespaces: vec![ctx.profile.namespace.to_string()],
            },
        },
    ))
}
