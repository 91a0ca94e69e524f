//! What an environment's pods and claims ask of the API server's admission:
//! the ResourceQuota must hold all of it at once (every replica, a surge
//! pod per Deployment during a rollout, every hook Job, every claim), and
//! the LimitRange must admit its largest container and claim. Both are
//! computed here from the final objects, so a service sized on its own, an
//! init container, a sidecar or an object added by hand is counted; the
//! policy check measures a tree against the same [`Demand`].

use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::object::Object;
use crate::profile::{Compute, Cpu, Memory};

/// CPU in millicores of a Kubernetes quantity (`250m`, `2`, `0.5`), rounded up.
pub fn cpu_millis(q: &Quantity) -> Option<u64> {
    let s = q.0.trim();
    if let Some(m) = s.strip_suffix('m') {
        return m.parse().ok();
    }
    decimal_times(s, 1000)
}

/// Bytes of a Kubernetes quantity (`128Mi`, `1Gi`, `500M`, `1e3`), rounded up.
pub fn bytes(q: &Quantity) -> Option<u128> {
    let s = q.0.trim();
    const UNITS: [(&str, u128); 12] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("Pi", 1 << 50),
        ("Ei", 1 << 60),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("E", 1_000_000_000_000_000_000),
    ];
    for (suffix, factor) in UNITS {
        if let Some(n) = s.strip_suffix(suffix) {
            return decimal_times(n, factor as u64).map(u128::from).or_else(|| {
                let n: u128 = n.parse().ok()?;
                n.checked_mul(factor)
            });
        }
    }
    decimal_times(s, 1).map(u128::from)
}

/// `n * factor` for a decimal `n` (`0.5`, `2`), rounded up; `None` for anything else.
fn decimal_times(n: &str, factor: u64) -> Option<u64> {
    let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 9 {
        return None;
    }
    if !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let scale = 10u64.pow(frac.len() as u32);
    let frac: u64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    let total = whole.checked_mul(factor)?.checked_add((frac.checked_mul(factor)?).div_ceil(scale))?;
    Some(total)
}

/// MiB, rounded up, of a byte count.
fn mebibytes(b: u128) -> u32 {
    u32::try_from(b.div_ceil(1 << 20)).unwrap_or(u32::MAX)
}

/// A container's requests or limits of CPU and memory; a missing value is 0.
fn compute(r: Option<&ResourceRequirements>, limits: bool) -> Compute {
    let map = r.and_then(|r| if limits { r.limits.as_ref() } else { r.requests.as_ref() });
    let get = |key: &str| map.and_then(|m| m.get(key));
    Compute {
        cpu: Cpu(get("cpu").and_then(cpu_millis).map_or(0, |m| u32::try_from(m).unwrap_or(u32::MAX))),
        memory: Memory(get("memory").and_then(bytes).map_or(0, mebibytes)),
    }
}

fn add(a: Compute, b: Compute) -> Compute {
    Compute {
        cpu: Cpu(a.cpu.0.saturating_add(b.cpu.0)),
        memory: Memory(a.memory.0.saturating_add(b.memory.0)),
    }
}

fn max(a: Compute, b: Compute) -> Compute {
    Compute { cpu: a.cpu.max(b.cpu), memory: a.memory.max(b.memory) }
}

fn times(a: Compute, n: u32) -> Compute {
    Compute { cpu: Cpu(a.cpu.0.saturating_mul(n)), memory: Memory(a.memory.0.saturating_mul(n)) }
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// What one pod counts against a quota, the way the scheduler and quota
/// admission count it: the larger of its regular init containers (each
/// with the sidecars started before it) and its containers plus sidecars.
pub fn pod_demand(spec: &PodSpec, limits: bool) -> Compute {
    let (requests, limit, _) =
        pod_sizes(spec, |c| (compute(c.resources.as_ref(), false), compute(c.resources.as_ref(), true)));
    if limits { limit } else { requests }
}

/// A pod's requests and limits as [`pod_demand`] counts them, and the
/// largest limits of one container, from each container's `(requests,
/// limits)` as `size` reads them (each container read once).
fn pod_sizes(spec: &PodSpec, size: impl Fn(&Container) -> (Compute, Compute)) -> (Compute, Compute, Compute) {
    let zero = Compute { cpu: Cpu(0), memory: Memory(0) };
    let (mut sidecars, mut init_peak, mut largest) = ((zero, zero), (zero, zero), zero);
    for c in spec.init_containers.iter().flatten() {
        let (requests, limits) = size(c);
        largest = max(largest, limits);
        if is_sidecar(c) {
            sidecars = (add(sidecars.0, requests), add(sidecars.1, limits));
        } else {
            init_peak =
                (max(init_peak.0, add(requests, sidecars.0)), max(init_peak.1, add(limits, sidecars.1)));
        }
    }
    let mut running = sidecars;
    for c in &spec.containers {
        let (requests, limits) = size(c);
        largest = max(largest, limits);
        running = (add(running.0, requests), add(running.1, limits));
    }
    (max(init_peak.0, running.0), max(init_peak.1, running.1), largest)
}

/// Everything an environment's objects ask for at their largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    /// CPU and memory requests of every pod at once, init containers counted as the API server counts them.
    pub requests: Compute,
    /// CPU and memory limits, counted the same way.
    pub limits: Compute,
    /// Pods at once: every replica, a surge pod per Deployment, every Job.
    pub pods: u32,
    /// PersistentVolumeClaims: one per replica of each StatefulSet claim template.
    pub claims: u32,
    /// Requested storage of every claim, in MiB.
    pub storage: Memory,
    /// The largest limits of any one container.
    pub largest_container: Compute,
    /// The largest claim.
    pub largest_claim: Memory,
}

/// The largest replica count each autoscaler allows, by the kind and name
/// it scales: found once, so that counting stays linear in the objects.
type HpaMax<'o> = crate::hash::FxHashMap<(&'o str, &'o str), u32>;

fn hpa_maxima<'o>(objects: &[&'o Object]) -> HpaMax<'o> {
    objects
        .iter()
        .filter_map(|o| match o {
            Object::HorizontalPodAutoscaler(h) => h.spec.as_ref().map(|s| {
                let target = (s.scale_target_ref.kind.as_str(), s.scale_target_ref.name.as_str());
                (target, s.max_replicas.max(0) as u32)
            }),
            _ => None,
        })
        .collect()
}

/// How many pods of a pod-bearing object can run at once.
fn pods_at_once(o: &Object, hpas: &HpaMax) -> u32 {
    let hpa_max = |kind: &str, name: &str| hpas.get(&(kind, name)).copied();
    match o {
        Object::Deployment(d) => {
            let spec = d.spec.as_ref();
            let replicas = spec.and_then(|s| s.replicas).map_or(1, |r| r.max(0) as u32);
            let replicas = hpa_max("Deployment", o.name()).map_or(replicas, |max| max.max(replicas));
            let surge = spec
                .and_then(|s| s.strategy.as_ref())
                .filter(|s| s.type_.as_deref() != Some("Recreate"))
                .map_or(Some(IntOrString::String("25%".into())), |s| {
                    s.rolling_update.as_ref().and_then(|r| r.max_surge.clone())
                });
            let surge = match surge {
                Some(IntOrString::Int(n)) => n.max(0) as u32,
                // A percentage of the replicas, rounded up.
                Some(IntOrString::String(p)) => {
                    let pct: u32 = p.trim_end_matches('%').parse().unwrap_or(25);
                    (replicas * pct).div_ceil(100)
                }
                None if spec
                    .and_then(|s| s.strategy.as_ref())
                    .is_some_and(|s| s.type_.as_deref() == Some("Recreate")) =>
                {
                    0
                }
                None => replicas.div_ceil(4),
            };
            replicas + surge
        }
        Object::StatefulSet(s) => {
            let replicas = s.spec.as_ref().and_then(|s| s.replicas).map_or(1, |r| r.max(0) as u32);
            hpa_max("StatefulSet", o.name()).map_or(replicas, |max| max.max(replicas))
        }
        Object::Job(j) => j.spec.as_ref().and_then(|s| s.parallelism).map_or(1, |p| p.max(0) as u32),
        Object::CronJob(c) => {
            let spec = c.spec.as_ref();
            let parallel = spec
                .and_then(|s| s.job_template.spec.as_ref())
                .and_then(|s| s.parallelism)
                .map_or(1, |p| p.max(0) as u32);
            // `Allow` (the default) may run the next schedule beside a late one.
            let overlap = match spec.and_then(|s| s.concurrency_policy.as_deref()) {
                Some("Forbid") => 1,
                Some("Replace") => 2,
                _ => 2,
            };
            parallel * overlap
        }
        _ => 0,
    }
}

/// The demand of `objects`, plus `allowance` (pods that are not rendered:
/// a cert-manager solver, a debugging pod).
pub fn demand(objects: &[&Object], allowance: (Compute, Compute, u32)) -> Demand {
    let zero = Compute { cpu: Cpu(0), memory: Memory(0) };
    let mut d = Demand {
        requests: allowance.0,
        limits: allowance.1,
        pods: allowance.2,
        claims: 0,
        storage: Memory(0),
        largest_container: zero,
        largest_claim: Memory(0),
    };
    let hpas = hpa_maxima(objects);
    for o in objects {
        if let Object::PersistentVolumeClaim(pvc) = o {
            let size = claim_size(pvc.spec.as_ref().and_then(|s| s.resources.as_ref()));
            d.claims += 1;
            d.storage = Memory(d.storage.0.saturating_add(size.0));
            d.largest_claim = d.largest_claim.max(size);
        }
        let Some(spec) = o.pod_template().and_then(|t| t.spec.as_ref()) else { continue };
        let n = pods_at_once(o, &hpas);
        let (requests, limits, largest) =
            pod_sizes(spec, |c| (compute(c.resources.as_ref(), false), compute(c.resources.as_ref(), true)));
        d.pods += n;
        d.requests = add(d.requests, times(requests, n));
        d.limits = add(d.limits, times(limits, n));
        d.largest_container = max(d.largest_container, largest);
        if let Object::StatefulSet(s) = o {
            let replicas = s.spec.as_ref().and_then(|s| s.replicas).map_or(1, |r| r.max(0) as u32);
            for t in s.spec.iter().flat_map(|s| s.volume_claim_templates.iter().flatten()) {
                let size = claim_size(t.spec.as_ref().and_then(|s| s.resources.as_ref()));
                d.claims += replicas;
                d.storage = Memory(d.storage.0.saturating_add(size.0.saturating_mul(replicas)));
                d.largest_claim = d.largest_claim.max(size);
            }
        }
    }
    d
}

fn claim_size(r: Option<&k8s_openapi::api::core::v1::VolumeResourceRequirements>) -> Memory {
    Memory(
        r.and_then(|r| r.requests.as_ref())
            .and_then(|m| m.get("storage"))
            .and_then(bytes)
            .map_or(0, mebibytes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_as_the_api_server_reads_them() {
        let q = |s: &str| Quantity(s.into());
        assert_eq!(cpu_millis(&q("250m")), Some(250));
        assert_eq!(cpu_millis(&q("2")), Some(2000));
        assert_eq!(cpu_millis(&q("0.5")), Some(500));
        assert_eq!(cpu_millis(&q("0.0001")), Some(1), "rounded up");
        assert_eq!(cpu_millis(&q("x")), None);
        assert_eq!(bytes(&q("128Mi")), Some(128 << 20));
        assert_eq!(bytes(&q("1Gi")), Some(1 << 30));
        assert_eq!(bytes(&q("500M")), Some(500_000_000));
        assert_eq!(bytes(&q("1.5Gi")), Some(3 << 29));
        assert_eq!(bytes(&q("1024")), Some(1024));
        assert_eq!(mebibytes(500_000_000), 477);
    }

    #[test]
    fn a_pod_counts_its_largest_init_container_or_its_containers_and_sidecars() {
        use std::collections::BTreeMap;
        let c = |name: &str, cpu: &str, sidecar: bool| Container {
            name: name.into(),
            restart_policy: sidecar.then(|| "Always".to_owned()),
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([("cpu".to_owned(), Quantity(cpu.into()))])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let spec = PodSpec {
            init_containers: Some(vec![c("init", "900m", false), c("proxy", "100m", true)]),
            containers: vec![c("main", "300m", false), c("other", "200m", false)],
            ..Default::default()
        };
        // Init alone 900m, then main + other + proxy 600m.
        assert_eq!(pod_demand(&spec, false).cpu, Cpu(900));
        let spec = PodSpec {
            init_containers: Some(vec![c("proxy", "100m", true), c("init", "300m", false)]),
            ..spec
        };
        // The sidecar runs beside the init container after it, and beside the containers.
        assert_eq!(pod_demand(&spec, false).cpu, Cpu(600));
    }
}
