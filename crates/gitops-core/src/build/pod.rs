//! Pod-level building blocks shared by every workload: the restricted Pod
//! Security context, probes, volumes and environment variables.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, ExecAction,
    GRPCAction, HTTPGetAction, HTTPHeader, ObjectFieldSelector, PodSecurityContext, PodSpec, Probe,
    SeccompProfile, SecretKeySelector, SecurityContext, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::profile::Memory;
use crate::spec::{PortRef, ProbeAction, ProbeSpec};

/// The UID and GID every container runs as: not root, and above the range
/// of system users any image defines (scanners flag UIDs below 10000).
pub const RUN_AS_ID: i64 = 10001;
/// Name of the container port every HTTP workload exposes.
pub const HTTP_PORT_NAME: &str = "http";
/// The `emptyDir` mounted at `/tmp` in every pod (root filesystems are read-only).
pub const TMP_VOLUME: &str = "tmp";
/// Node disk every container asks for: its logs (the kubelet rotates them at
/// 10 Mi, five files) and what little the read-only root lets it write.
pub const EPHEMERAL_REQUEST: Memory = Memory(64);
/// Node disk a container may use besides its pod's `emptyDir` volumes,
/// which its limit also covers: past it the kubelet evicts the pod, before
/// a runaway log or scratch file fills the node.
pub const EPHEMERAL_HEADROOM: Memory = Memory(256);

/// The restricted Pod Security Standard at pod level.
pub fn pod_security_context() -> PodSecurityContext {
    pod_security_context_as(RUN_AS_ID)
}

/// [`pod_security_context`] as UID and GID `id` (an image that needs its own).
pub fn pod_security_context_as(id: i64) -> PodSecurityContext {
    pod_security_context_ids(id, id)
}

/// [`pod_security_context`] as UID `uid` and GID `gid`, volumes owned by `gid`.
pub fn pod_security_context_ids(uid: i64, gid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(gid),
        fs_group: Some(gid),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
        ..Default::default()
    }
}

/// The restricted Pod Security Standard at container level, with a
/// read-only root filesystem.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
        ..Default::default()
    }
}

/// A pod running as its own ServiceAccount with no token mounted, no
/// service-link variables, and the restricted security context. Every
/// container gets an `ephemeral-storage` request ([`EPHEMERAL_REQUEST`])
/// and a limit: [`EPHEMERAL_HEADROOM`] plus the size of every `emptyDir` of
/// the pod (made by [`empty_dir`]), which count against it.
pub fn pod_spec(
    service_account: &str,
    containers: Vec<Container>,
    volumes: Vec<Volume>,
    restart_policy: Option<&str>,
) -> PodSpec {
    pod_spec_with_init(service_account, Vec::new(), containers, volumes, restart_policy)
}

/// [`pod_spec`] with init containers (and native sidecars) before the
/// containers; they get the same node-disk request and limit.
pub fn pod_spec_with_init(
    service_account: &str,
    mut init_containers: Vec<Container>,
    mut containers: Vec<Container>,
    volumes: Vec<Volume>,
    restart_policy: Option<&str>,
) -> PodSpec {
    let scratch: u32 = volumes
        .iter()
        .filter_map(|v| v.empty_dir.as_ref())
        .map(|e| {
            let size = e.size_limit.as_ref().and_then(Memory::from_quantity);
            size.expect("emptyDir volumes come from `empty_dir`, with a size in Mi or Gi").0
        })
        .sum();
    let limit = Memory(EPHEMERAL_HEADROOM.0 + scratch);
    for c in init_containers.iter_mut().chain(&mut containers) {
        let resources = c.resources.get_or_insert_with(Default::default);
        for (map, size) in [(&mut resources.requests, EPHEMERAL_REQUEST), (&mut resources.limits, limit)] {
            map.get_or_insert_with(Default::default).insert(EPHEMERAL_STORAGE.into(), size.quantity());
        }
    }
    PodSpec {
        service_account_name: Some(service_account.into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(pod_security_context()),
        init_containers: (!init_containers.is_empty()).then_some(init_containers),
        containers,
        volumes: (!volumes.is_empty()).then_some(volumes),
        restart_policy: restart_policy.map(Into::into),
        ..Default::default()
    }
}

/// A container with the restricted security context. Pulls are `Always`:
/// the kubelet checks the registry (and the pull credentials) at every start,
/// which costs a manifest request, not a download, for a tag or digest it
/// already has; security scanners (kube-score, Checkov, Polaris) ask for it.
pub fn container(name: &str, image: String) -> Container {
    Container {
        name: name.into(),
        image: Some(image),
        image_pull_policy: Some("Always".into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    }
}

/// The resource name of node disk in requests and limits.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";

/// A disk-backed scratch volume of at most `size`.
pub fn empty_dir(name: &str, size: Memory) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource { size_limit: Some(size.quantity()), ..Default::default() }),
        ..Default::default()
    }
}

/// A mount of volume `name` at `path`.
pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// A named TCP container port.
pub fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

/// The container port of a workload spec's port.
pub fn from_port_spec(p: &crate::spec::PortSpec) -> ContainerPort {
    ContainerPort { protocol: Some(p.protocol.as_str().into()), ..port(&p.name, i32::from(p.number)) }
}

/// A variable with a literal value (never a secret: `secret-env-from-secret` checks the name).
pub fn plain_env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), value_from: None }
}

/// A variable read from `key` of Secret `secret` (`valueFrom.secretKeyRef`).
pub fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
    }
}

/// A variable from the pod's own fields (downward API), e.g. `status.podIP`.
pub fn field_env(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: field_path.into(), api_version: None }),
            ..Default::default()
        }),
    }
}

pub use crate::spec::{LIVENESS, ProbeTiming, READINESS, STARTUP};

fn probe(timing: ProbeTiming) -> Probe {
    Probe {
        initial_delay_seconds: (timing.initial_delay > 0).then_some(timing.initial_delay),
        period_seconds: Some(timing.period),
        timeout_seconds: Some(timing.timeout),
        failure_threshold: Some(timing.failure_threshold),
        success_threshold: Some(1),
        ..Default::default()
    }
}

fn port_ref(port: &PortRef) -> IntOrString {
    match port {
        PortRef::Name(name) => IntOrString::String(name.clone()),
        PortRef::Number(n) => IntOrString::Int(i32::from(*n)),
    }
}

/// The Kubernetes form of a probe of the workload spec.
pub fn from_spec(spec: &ProbeSpec) -> Probe {
    let base = probe(spec.timing);
    match &spec.action {
        ProbeAction::Http { path, port, headers } => Probe {
            http_get: Some(HTTPGetAction {
                path: Some(path.clone()),
                port: port_ref(port),
                scheme: Some("HTTP".into()),
                http_headers: (!headers.is_empty()).then(|| {
                    headers
                        .iter()
                        .map(|(name, value)| HTTPHeader { name: name.clone(), value: value.clone() })
                        .collect()
                }),
                ..Default::default()
            }),
            ..base
        },
        ProbeAction::Grpc { port, service } => {
            Probe { grpc: Some(GRPCAction { port: i32::from(*port), service: service.clone() }), ..base }
        }
        ProbeAction::Tcp { port } => {
            Probe { tcp_socket: Some(TCPSocketAction { port: port_ref(port), host: None }), ..base }
        }
        ProbeAction::Exec { command } => {
            Probe { exec: Some(ExecAction { command: Some(command.clone()) }), ..base }
        }
    }
}

/// `GET path` on the container's `http` port, with `timing`.
pub fn http_probe(path: &str, timing: ProbeTiming) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(HTTP_PORT_NAME.into()),
            scheme: Some("HTTP".into()),
            ..Default::default()
        }),
        ..probe(timing)
    }
}

/// Whether the container still accepts connections on its named port: the
/// liveness probe. It asks nothing of the container's dependencies (a
/// readiness or health check that does would restart every replica when
/// the database blips), and it differs from the readiness probe, which
/// scanners such as kube-score require.
pub fn tcp_probe(port_name: &str, timing: ProbeTiming) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::String(port_name.into()), host: None }),
        ..probe(timing)
    }
}

/// A probe that runs `command` in the container and passes when it exits 0.
pub fn exec_probe(command: &[&str], timing: ProbeTiming) -> Probe {
    Probe {
        exec: Some(ExecAction { command: Some(command.iter().map(|s| s.to_string()).collect()) }),
        ..probe(timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_context_meets_the_restricted_standard() {
        let pod = pod_security_context();
        assert_eq!(pod.run_as_non_root, Some(true));
        assert!(pod.run_as_user.unwrap() >= 10000);
        assert_eq!(pod.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let c = container_security_context();
        assert_eq!(c.allow_privilege_escalation, Some(false));
        assert_eq!(c.read_only_root_filesystem, Some(true));
        assert_eq!(c.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    }

    #[test]
    fn pods_carry_no_service_account_token() {
        let spec = pod_spec("app", vec![], vec![], None);
        assert_eq!(spec.service_account_name.as_deref(), Some("app"));
        assert_eq!(spec.automount_service_account_token, Some(false));
        assert_eq!(spec.enable_service_links, Some(false));
    }

    #[test]
    fn containers_ask_for_node_disk_and_are_limited_to_their_logs_and_scratch_volumes() {
        let c = |name: &str| container(name, "registry.example/app:sha-0123456".into());
        let volumes = vec![empty_dir("tmp", Memory(64)), empty_dir("cache", Memory::gib(1))];
        let spec = pod_spec("app", vec![c("a"), c("b")], volumes, None);
        for c in &spec.containers {
            let r = c.resources.as_ref().unwrap();
            assert_eq!(r.requests.as_ref().unwrap()[EPHEMERAL_STORAGE].0, "64Mi");
            // 256 Mi of headroom + 64 Mi + 1 Gi of emptyDir.
            assert_eq!(r.limits.as_ref().unwrap()[EPHEMERAL_STORAGE].0, "1344Mi");
        }
        let bare = pod_spec("app", vec![c("a")], vec![], None);
        let limits = bare.containers[0].resources.as_ref().unwrap().limits.as_ref().unwrap();
        assert_eq!(limits[EPHEMERAL_STORAGE].0, "256Mi");
    }

    #[test]
    fn secret_env_has_no_literal_value() {
        let e = secret_env("DATABASE_URL", "s", "DATABASE_URL");
        assert!(e.value.is_none());
        assert_eq!(e.value_from.unwrap().secret_key_ref.unwrap().name, "s");
    }
}
