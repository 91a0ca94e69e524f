//! What a security reviewer checks in each ClinicFlow environment, as
//! properties of the rendered objects: default-deny networking with exactly
//! the declared paths, an identity per workload, disruption budgets,
//! autoscaling and spread where the profile asks, quota and limits.

use std::collections::{BTreeMap, BTreeSet};

use gitops_core::Object;
use gitops_core::profile::EnvironmentProfile;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer};
use pretty_assertions::assert_eq;
use workspace_tests::clinicflow_objects;

const NAME: &str = "app.kubernetes.io/name";

fn policies(objects: &[Object]) -> Vec<&NetworkPolicy> {
    objects.iter().filter_map(|o| if let Object::NetworkPolicy(p) = o { Some(&**p) } else { None }).collect()
}

/// The pod labels of each pod-bearing workload.
fn workload_labels(objects: &[Object]) -> BTreeMap<String, BTreeMap<String, String>> {
    objects
        .iter()
        .filter_map(|o| Some((o.name().to_owned(), o.pod_template()?.metadata.as_ref()?.labels.clone()?)))
        .collect()
}

fn selects(selector: &Option<BTreeMap<String, String>>, labels: &BTreeMap<String, String>) -> bool {
    selector.as_ref().is_none_or(|s| s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

fn peer_workloads(
    peer: &NetworkPolicyPeer,
    workloads: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeSet<String> {
    if peer.namespace_selector.is_some() || peer.ip_block.is_some() {
        return BTreeSet::new();
    }
    let sel = &peer.pod_selector.as_ref().unwrap().match_labels;
    workloads.iter().filter(|(_, l)| selects(sel, l)).map(|(n, _)| n.clone()).collect()
}

/// Which workloads may open a connection to `target` inside the namespace
/// (ingress side), from every policy selecting `target`'s pods.
fn allowed_sources(objects: &[Object], target: &str) -> BTreeSet<String> {
    let workloads = workload_labels(objects);
    let labels = &workloads[target];
    let mut sources = BTreeSet::new();
    for p in policies(objects) {
        let spec = p.spec.as_ref().unwrap();
        if !selects(&spec.pod_selector.as_ref().unwrap().match_labels, labels) {
            continue;
        }
        for rule in spec.ingress.iter().flatten() {
            for peer in rule.from.iter().flatten() {
                sources.extend(peer_workloads(peer, &workloads));
            }
        }
    }
    sources
}

/// Which workloads `source` may open connections to (egress side).
fn allowed_targets(objects: &[Object], source: &str) -> BTreeSet<String> {
    let workloads = workload_labels(objects);
    let labels = &workloads[source];
    let mut targets = BTreeSet::new();
    for p in policies(objects) {
        let spec = p.spec.as_ref().unwrap();
        if !selects(&spec.pod_selector.as_ref().unwrap().match_labels, labels) {
            continue;
        }
        for rule in spec.egress.iter().flatten() {
            for peer in rule.to.iter().flatten() {
                targets.extend(peer_workloads(peer, &workloads));
            }
        }
    }
    targets
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_namespace_denies_everything_by_default_and_allows_dns() {
    for (profile, objects) in clinicflow_objects() {
        let ps = policies(&objects);
        let deny = ps.iter().find(|p| p.metadata.name.as_deref() == Some("default-deny")).unwrap();
        let spec = deny.spec.as_ref().unwrap();
        assert_eq!(
            spec.pod_selector.as_ref().unwrap().match_labels,
            None,
            "{}: selects every pod",
            profile.name
        );
        assert_eq!(spec.policy_types.as_deref().unwrap(), ["Ingress", "Egress"]);
        assert!(spec.ingress.as_ref().unwrap().is_empty() && spec.egress.as_ref().unwrap().is_empty());
        let dns = ps.iter().find(|p| p.metadata.name.as_deref() == Some("allow-dns")).unwrap();
        let rule = &dns.spec.as_ref().unwrap().egress.as_ref().unwrap()[0];
        let ports: Vec<_> = rule.ports.iter().flatten().map(|p| p.protocol.clone().unwrap()).collect();
        assert_eq!(ports, ["UDP", "TCP"]);
    }
}

#[test]
fn each_database_is_reachable_only_from_its_service_and_migration() {
    for (profile, objects) in clinicflow_objects() {
        for svc in ["identity", "scheduling", "profiles", "notifications"] {
            let db = format!("{svc}-db");
            assert_eq!(
                allowed_sources(&objects, &db),
                set(&[svc, &format!("{svc}-migrate")]),
                "{}: {db}",
                profile.name
            );
            assert!(allowed_targets(&objects, &db).is_empty(), "a database opens no connection");
            assert_eq!(allowed_targets(&objects, &format!("{svc}-migrate")), set(&[&db]), "{}", profile.name);
        }
    }
}

#[test]
fn services_talk_only_along_declared_dependencies() {
    let platform = clinicflow::platform();
    for (profile, objects) in clinicflow_objects() {
        for svc in &platform.services {
            let mut want: BTreeSet<String> = svc.depends_on.iter().map(|d| d.to_string()).collect();
            if svc.database.is_some() {
                want.insert(format!("{}-db", svc.name));
            }
            assert_eq!(allowed_targets(&objects, svc.name.as_str()), want, "{}: {}", profile.name, svc.name);
            let callers: BTreeSet<String> = platform
                .services
                .iter()
                .filter(|s| s.depends_on.contains(&svc.name))
                .map(|s| s.name.to_string())
                .collect();
            assert_eq!(
                allowed_sources(&objects, svc.name.as_str()),
                callers,
                "{}: {}",
                profile.name,
                svc.name
            );
        }
    }
}

fn from_ingress_controller(objects: &[Object], target: &str) -> bool {
    let labels = &workload_labels(objects)[target];
    policies(objects).iter().any(|p| {
        let spec = p.spec.as_ref().unwrap();
        selects(&spec.pod_selector.as_ref().unwrap().match_labels, labels)
            && spec.ingress.iter().flatten().flat_map(|r| r.from.iter().flatten()).any(|peer| {
                peer.namespace_selector.as_ref().and_then(|n| n.match_labels.as_ref()).is_some_and(|l| {
                    l.get("kubernetes.io/metadata.name").map(String::as_str) == Some("ingress-nginx")
                })
            })
    })
}

#[test]
fn only_exposed_services_are_reachable_from_the_ingress_controller() {
    for (profile, objects) in clinicflow_objects() {
        let mut exposed = vec!["web", "identity", "scheduling", "profiles"];
        if profile.name.as_str() != "prod" {
            exposed.push("notifications");
        }
        for (name, _) in workload_labels(&objects) {
            assert_eq!(
                from_ingress_controller(&objects, &name),
                exposed.contains(&name.as_str()),
                "{}: {name}",
                profile.name
            );
        }
    }
}

#[test]
fn only_notifications_leaves_the_cluster_and_only_for_smtp() {
    for (profile, objects) in clinicflow_objects() {
        for p in policies(&objects) {
            for rule in p.spec.as_ref().unwrap().egress.iter().flatten() {
                if rule.to.iter().flatten().any(|peer| peer.ip_block.is_some()) {
                    assert_eq!(p.metadata.name.as_deref(), Some("notifications"), "{}", profile.name);
                    let ports: Vec<_> =
                        rule.ports.iter().flatten().map(|p| p.port.clone().unwrap()).collect();
                    assert_eq!(ports, [k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(587)]);
                    let block = rule.to.as_ref().unwrap()[0].ip_block.as_ref().unwrap();
                    assert!(
                        block.except.as_ref().unwrap().contains(&"10.0.0.0/8".to_owned()),
                        "not into private ranges"
                    );
                }
            }
        }
    }
}

#[test]
fn every_workload_runs_as_its_own_service_account_without_a_token() {
    for (profile, objects) in clinicflow_objects() {
        let accounts: BTreeMap<&str, Option<bool>> = objects
            .iter()
            .filter_map(|o| match o {
                Object::ServiceAccount(sa) => Some((o.name(), sa.automount_service_account_token)),
                _ => None,
            })
            .collect();
        for o in &objects {
            let Some(spec) = o.pod_template().and_then(|t| t.spec.as_ref()) else { continue };
            let sa = spec.service_account_name.as_deref().unwrap();
            assert_eq!(sa, o.name(), "{}: {} has its own account", profile.name, o.name());
            assert_eq!(accounts.get(sa), Some(&Some(false)), "{}: {sa} exists without a token", profile.name);
        }
    }
}

fn replicas(profile: &EnvironmentProfile, name: &str) -> u16 {
    if name == "web" { profile.web.replicas } else { profile.api.replicas }
}

#[test]
fn budgets_autoscalers_and_spread_follow_the_profile() {
    for (profile, objects) in clinicflow_objects() {
        let env = profile.name.as_str();
        for o in &objects {
            let Object::Deployment(d) = o else { continue };
            let name = o.name();
            let has = |kind: &str| objects.iter().any(|x| x.kind() == kind && x.name() == name);
            assert_eq!(has("PodDisruptionBudget"), replicas(&profile, name) > 1, "{env}: {name}");
            if let Some(Object::PodDisruptionBudget(pdb)) =
                objects.iter().find(|x| x.kind() == "PodDisruptionBudget" && x.name() == name)
            {
                // A crash-looping replica must not block a node drain.
                let policy = pdb.spec.as_ref().unwrap().unhealthy_pod_eviction_policy.as_deref();
                assert_eq!(policy, Some("AlwaysAllow"), "{env}: {name}");
            }
            assert_eq!(has("HorizontalPodAutoscaler"), env == "prod", "{env}: {name}: HPAs in production");
            let spec = d.spec.as_ref().unwrap();
            assert_eq!(
                spec.replicas.is_none(),
                env == "prod",
                "{env}: an autoscaled Deployment leaves replicas to the HPA"
            );
            let spread = spec.template.spec.as_ref().unwrap().topology_spread_constraints.as_ref();
            assert_eq!(
                spread.is_some(),
                env != "dev",
                "{env}: {name}: spread across nodes in staging and prod"
            );
            if let Some(spread) = spread {
                assert_eq!(spread[0].topology_key, "kubernetes.io/hostname");
                let sel = spread[0].label_selector.as_ref().unwrap().match_labels.as_ref().unwrap();
                assert_eq!(sel.get(NAME).map(String::as_str), Some(name));
            }
            // With the spread, a preferred anti-affinity on the node, selecting
            // the Deployment's own pods; never a required one.
            let template = spec.template.spec.as_ref().unwrap();
            let anti = template.affinity.as_ref().and_then(|a| a.pod_anti_affinity.as_ref());
            assert_eq!(anti.is_some(), spread.is_some(), "{env}: {name}");
            if let Some(anti) = anti {
                assert!(anti.required_during_scheduling_ignored_during_execution.is_none());
                let term = &anti.preferred_during_scheduling_ignored_during_execution.as_ref().unwrap()[0];
                assert_eq!(term.pod_affinity_term.topology_key, "kubernetes.io/hostname");
                let selector = term.pod_affinity_term.label_selector.as_ref().unwrap();
                let own = spec.template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
                let sel = selector.match_labels.as_ref().unwrap();
                assert!(sel.iter().all(|(k, v)| own.get(k) == Some(v)), "{env}: {name} selects its own pods");
                assert_eq!(sel.get(NAME).map(String::as_str), Some(name));
            }
        }
    }
}

#[test]
fn the_namespace_has_a_quota_that_fits_everything_and_a_limit_range() {
    for (profile, objects) in clinicflow_objects() {
        let Some(Object::ResourceQuota(q)) = objects.iter().find(|o| o.kind() == "ResourceQuota") else {
            panic!()
        };
        let hard = q.spec.as_ref().unwrap().hard.as_ref().unwrap();
        let pods: u32 = hard["pods"].0.parse().unwrap();
        let running: u32 = objects
            .iter()
            .map(|o| match o {
                Object::Deployment(d) => {
                    let max = profile.availability.autoscaling.map_or(0, |a| u32::from(a.max_replicas));
                    d.spec.as_ref().unwrap().replicas.map_or(max, |r| r as u32) + 1
                }
                Object::StatefulSet(_) | Object::Job(_) => 1,
                _ => 0,
            })
            .sum();
        assert!(pods > running, "{}: quota {pods} pods for {running} at most", profile.name);
        assert_eq!(hard["persistentvolumeclaims"].0, "4");
        assert!(objects.iter().any(|o| o.kind() == "LimitRange"), "{}", profile.name);
    }
}

#[test]
fn namespaces_enforce_the_restricted_standard_and_tls_comes_from_the_internal_ca() {
    for (profile, objects) in clinicflow_objects() {
        let ns = objects.iter().find(|o| o.kind() == "Namespace").unwrap();
        let labels = ns.metadata().labels.as_ref().unwrap();
        assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted", "{}", profile.name);
        let Some(Object::ClusterIssuer(issuer)) = objects.iter().find(|o| o.kind() == "ClusterIssuer") else {
            panic!()
        };
        assert_eq!(issuer.metadata.name.as_deref(), Some("clinicflow-internal-ca"));
        let text = serde_json::to_value(&issuer.spec).unwrap();
        assert_eq!(text["ca"]["secretName"], "clinicflow-internal-ca-key-pair");
        assert!(
            objects.iter().all(|o| o.kind() != "K8sPSPPrivilegedContainer"),
            "no Gatekeeper in these clusters"
        );
    }
}

/// Every container asks for node disk and is limited to it: its logs and
/// headroom plus every `emptyDir` of its pod, which counts against the
/// limit, so a runaway log or scratch file gets the pod evicted before it
/// fills the node.
#[test]
fn every_container_asks_for_node_disk_and_is_limited_to_its_scratch_and_logs() {
    use gitops_core::build::pod::{EPHEMERAL_HEADROOM, EPHEMERAL_REQUEST, EPHEMERAL_STORAGE};
    use gitops_core::profile::Memory;
    let mebibytes = |q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| {
        Memory::from_quantity(q).unwrap_or_else(|| panic!("{q:?} in Mi or Gi")).0
    };
    let mut checked = 0;
    for (profile, objects) in clinicflow_objects() {
        for o in &objects {
            let Some(spec) = o.pod_template().and_then(|t| t.spec.as_ref()) else { continue };
            let scratch: u32 = spec
                .volumes
                .iter()
                .flatten()
                .filter_map(|v| v.empty_dir.as_ref())
                .map(|e| mebibytes(e.size_limit.as_ref().expect("every emptyDir is bounded")))
                .sum();
            assert!(scratch > 0, "{}: {} has a /tmp", profile.name, o.name());
            for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
                let r = c.resources.as_ref().unwrap();
                let request = mebibytes(&r.requests.as_ref().unwrap()[EPHEMERAL_STORAGE]);
                let limit = mebibytes(&r.limits.as_ref().unwrap()[EPHEMERAL_STORAGE]);
                assert_eq!(request, EPHEMERAL_REQUEST.0, "{}: {}", profile.name, c.name);
                assert_eq!(limit, EPHEMERAL_HEADROOM.0 + scratch, "{}: {}", profile.name, c.name);
                checked += 1;
            }
        }
    }
    // Per environment: 5 Deployments, 4 databases, 4 migration Jobs.
    assert_eq!(checked, 3 * 13);
}
