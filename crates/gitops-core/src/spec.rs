//! What a workload says about itself beyond its intent: ports, probes, the
//! Services that expose it, extra containers and volumes, how callers learn
//! its address. [`crate::platform::Service`]'s builders (`api`, `web`,
//! `worker`, `third_party`) fill these with defaults; every field is public and
//! each has a builder method, so a team overrides what its image needs.
//!
//! Nothing here is Kubernetes yet: `build::workload` turns a spec into
//! containers, Services and NetworkPolicies, and `gitops-policy` checks the
//! result (a probe on a port the container does not declare, a Service that
//! targets no container port, a gRPC port probed over HTTP).

use crate::image::PinnedImage;
use crate::name::Name;
use crate::profile::{Memory, Resources};

/// The transport of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The Kubernetes spelling (`TCP`, `UDP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// The application protocol a port speaks, as a Service's `appProtocol`.
/// Probes and checks use it: a gRPC port cannot answer an HTTP probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppProtocol {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP/2 without TLS (`kubernetes.io/h2c`).
    H2c,
    /// gRPC (HTTP/2): an HTTP probe on such a port never succeeds.
    Grpc,
    /// Anything else, spelled as the Service should carry it (`redis`, `example.com/custom`).
    Other(String),
}

impl AppProtocol {
    /// The value of the port's `appProtocol`.
    pub fn as_str(&self) -> &str {
        match self {
            AppProtocol::Http => "http",
            AppProtocol::H2c => "kubernetes.io/h2c",
            AppProtocol::Grpc => "grpc",
            AppProtocol::Other(s) => s,
        }
    }
}

/// A port a container listens on: a name (IANA service name, at most 15
/// characters, how probes, Services and NetworkPolicies refer to it), a
/// number and a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The port's name (an IANA service name: at most 15 characters), which probes and Services refer to.
    pub name: String,
    /// The container port number.
    pub number: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Put on the Services that expose this port. `None` leaves it unset.
    pub app_protocol: Option<AppProtocol>,
}

impl PortSpec {
    /// A TCP port with no declared application protocol.
    pub fn tcp(name: &str, number: u16) -> Self {
        PortSpec { name: name.into(), number, protocol: Protocol::Tcp, app_protocol: None }
    }

    /// A UDP port.
    pub fn udp(name: &str, number: u16) -> Self {
        PortSpec { protocol: Protocol::Udp, ..Self::tcp(name, number) }
    }

    /// A gRPC port (`appProtocol: grpc` on its Services).
    pub fn grpc(name: &str, number: u16) -> Self {
        PortSpec { app_protocol: Some(AppProtocol::Grpc), ..Self::tcp(name, number) }
    }

    /// The same port with an application protocol.
    pub fn app_protocol(mut self, protocol: AppProtocol) -> Self {
        self.app_protocol = Some(protocol);
        self
    }
}

/// A container port, by name or by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    /// A port by its name.
    Name(String),
    /// A port by its number.
    Number(u16),
}

impl From<&str> for PortRef {
    fn from(name: &str) -> Self {
        PortRef::Name(name.into())
    }
}

impl From<u16> for PortRef {
    fn from(number: u16) -> Self {
        PortRef::Number(number)
    }
}

/// How the kubelet asks a container whether it is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAction {
    /// `GET path` on a container port, with extra request headers.
    Http {
        /// The request path.
        path: String,
        /// The container port.
        port: PortRef,
        /// Extra request headers, as (name, value).
        headers: Vec<(String, String)>,
    },
    /// The gRPC health checking protocol (`grpc.health.v1.Health/Check`) on
    /// a port number, for `service` (`None`: the server as a whole).
    Grpc {
        /// The container port number (gRPC probes take no port name).
        port: u16,
        /// The service name asked about; `None` for the server as a whole.
        service: Option<String>,
    },
    /// A TCP connection to a container port.
    Tcp {
        /// The container port.
        port: PortRef,
    },
    /// A command in the container; exit 0 means healthy.
    Exec {
        /// The command and its arguments.
        command: Vec<String>,
    },
}

/// When and how often a probe runs, and how many misses count as down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeTiming {
    /// `initialDelaySeconds`; 0 leaves it unset.
    pub initial_delay: i32,
    /// `periodSeconds`: how often the probe runs.
    pub period: i32,
    /// `timeoutSeconds`: how long one try may take.
    pub timeout: i32,
    /// `failureThreshold`: failures in a row before the probe counts as failed.
    pub failure_threshold: i32,
}

/// Startup: up to `period * failure_threshold` seconds to come up.
pub const STARTUP: ProbeTiming =
    ProbeTiming { initial_delay: 0, period: 5, timeout: 3, failure_threshold: 36 };
/// Readiness: out of the Service after 3 misses.
pub const READINESS: ProbeTiming =
    ProbeTiming { initial_delay: 0, period: 10, timeout: 3, failure_threshold: 3 };
/// Liveness: restarted after a minute of misses.
pub const LIVENESS: ProbeTiming =
    ProbeTiming { initial_delay: 0, period: 20, timeout: 5, failure_threshold: 3 };

impl ProbeTiming {
    /// The same timing, first run `seconds` after the container starts.
    pub fn initial_delay(self, seconds: i32) -> Self {
        ProbeTiming { initial_delay: seconds, ..self }
    }

    /// The same timing, run every `seconds`.
    pub fn period(self, seconds: i32) -> Self {
        ProbeTiming { period: seconds, ..self }
    }

    /// The same timing, each try given `seconds`.
    pub fn timeout(self, seconds: i32) -> Self {
        ProbeTiming { timeout: seconds, ..self }
    }

    /// The same timing, failed after `n` failures in a row.
    pub fn failure_threshold(self, n: i32) -> Self {
        ProbeTiming { failure_threshold: n, ..self }
    }
}

/// One probe: what it asks, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// What the probe does.
    pub action: ProbeAction,
    /// When and how often it does it.
    pub timing: ProbeTiming,
}

impl ProbeSpec {
    /// `GET path` on `port` (a name or a number) with `timing`.
    pub fn http(path: &str, port: impl Into<PortRef>, timing: ProbeTiming) -> Self {
        ProbeSpec {
            action: ProbeAction::Http { path: path.into(), port: port.into(), headers: Vec::new() },
            timing,
        }
    }

    /// An HTTP probe that sends `name: value` with every request.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let ProbeAction::Http { headers, .. } = &mut self.action {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// The gRPC health check on port number `port` with `timing`.
    pub fn grpc(port: u16, timing: ProbeTiming) -> Self {
        ProbeSpec { action: ProbeAction::Grpc { port, service: None }, timing }
    }

    /// A TCP connection to `port` with `timing`.
    pub fn tcp(port: impl Into<PortRef>, timing: ProbeTiming) -> Self {
        ProbeSpec { action: ProbeAction::Tcp { port: port.into() }, timing }
    }

    /// `command` run in the container with `timing`; exit 0 passes.
    pub fn exec<I: IntoIterator<Item = S>, S: Into<String>>(command: I, timing: ProbeTiming) -> Self {
        ProbeSpec {
            action: ProbeAction::Exec { command: command.into_iter().map(Into::into).collect() },
            timing,
        }
    }
}

/// The three probes of a container; `None` leaves one out (a worker has no
/// port to ask).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Probes {
    /// Whether the container has started: the other probes wait for it.
    pub startup: Option<ProbeSpec>,
    /// Whether the pod may receive traffic (and count as healthy to later sync waves).
    pub readiness: Option<ProbeSpec>,
    /// Whether the container must be restarted.
    pub liveness: Option<ProbeSpec>,
}

/// The type of a Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceType {
    /// A cluster-internal virtual IP.
    #[default]
    ClusterIp,
    /// `ClusterIP` with `clusterIP: None`: DNS returns the pods' addresses.
    Headless,
    /// A load balancer outside the cluster (MetalLB, a cloud's): reachable
    /// from anywhere, so its pods' NetworkPolicy admits traffic from any
    /// address on the target ports.
    LoadBalancer,
    /// A port on every node (30000–32767, given per port with
    /// [`Expose::node_port`] or chosen by the cluster): reachable from
    /// anywhere too, and admitted the same way.
    NodePort,
}

impl ServiceType {
    /// Whether clients outside the cluster reach the pods through it.
    pub fn external(self) -> bool {
        matches!(self, ServiceType::LoadBalancer | ServiceType::NodePort)
    }
}

/// One port of a Service: the port clients use, and the container port
/// (by name) it forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePortSpec {
    /// The Service port's name.
    pub name: String,
    /// The port the Service listens on.
    pub port: u16,
    /// The name of a port the workload's main container (or a sidecar) declares.
    pub target: String,
    /// The node port of a NodePort Service; `None` lets the cluster choose.
    pub node_port: Option<u16>,
}

/// A Service in front of a workload's pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expose {
    /// The Service's name; `None` is the workload's own name.
    pub name: Option<Name>,
    /// ClusterIP, headless, LoadBalancer or NodePort.
    pub type_: ServiceType,
    /// Its ports.
    pub ports: Vec<ServicePortSpec>,
    /// `ClientIP` session affinity: each client sticks to one pod.
    pub client_ip_affinity: bool,
}

impl Expose {
    /// A Service of `type_` with `ports` (`(name, port, target port name)`).
    pub fn new(type_: ServiceType, ports: &[(&str, u16, &str)]) -> Self {
        Expose {
            name: None,
            type_,
            ports: ports
                .iter()
                .map(|(name, port, target)| ServicePortSpec {
                    name: (*name).into(),
                    port: *port,
                    target: (*target).into(),
                    node_port: None,
                })
                .collect(),
            client_ip_affinity: false,
        }
    }

    /// The same Service under another name (`frontend-external`).
    pub fn named(mut self, name: Name) -> Self {
        self.name = Some(name);
        self
    }

    /// The node port of the Service port called `port` (NodePort Services).
    pub fn node_port(mut self, port: &str, node_port: u16) -> Self {
        if let Some(p) = self.ports.iter_mut().find(|p| p.name == port) {
            p.node_port = Some(node_port);
        }
        self
    }

    /// Send each client to the same pod (`sessionAffinity: ClientIP`).
    pub fn client_ip_affinity(mut self) -> Self {
        self.client_ip_affinity = true;
        self
    }
}

/// Where a container's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerImage {
    /// The workload's own image at the environment's release pin.
    Own,
    /// A third-party image pinned in Rust by version (and digest).
    Pinned(PinnedImage),
}

/// A volume of the pod, mounted into the main container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// The volume's name in the pod (a DNS label).
    pub name: String,
    /// What backs it.
    pub source: VolumeSource,
    /// Where the main container sees it; `None` mounts it in no main
    /// container (only in the extra containers that name it).
    pub mount_path: Option<String>,
    /// Whether it is mounted read-only.
    pub read_only: bool,
}

/// What backs a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// Node disk (or memory, with `medium_memory`), at most `size`.
    EmptyDir {
        /// `sizeLimit`: the most the volume may hold before the pod is evicted.
        size: Memory,
        /// Back it with memory (`medium: Memory`), counted against the container's limit.
        medium_memory: bool,
    },
    /// The files of a ConfigMap: one the platform declares with
    /// [`crate::platform::Service::config_file`], or one made elsewhere.
    ConfigMap {
        /// The ConfigMap's name.
        name: Name,
    },
    /// The keys of an application secret (see
    /// [`crate::platform::Platform::secret`]), as files.
    Secret {
        /// The application secret's name.
        name: Name,
    },
    /// A PersistentVolumeClaim made elsewhere.
    Claim {
        /// The claim's name.
        name: Name,
    },
}

/// An init container or sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The container's name, unique in the pod.
    pub name: String,
    /// Its image: the service's own pinned release, or a third-party image pinned in Rust.
    pub image: ContainerImage,
    /// `command`, replacing the image's entrypoint.
    pub command: Option<Vec<String>>,
    /// `args`, replacing the image's default arguments.
    pub args: Option<Vec<String>>,
    /// Literal environment variables, as (name, value).
    pub env: Vec<(String, String)>,
    /// The ports it listens on.
    pub ports: Vec<PortSpec>,
    /// Its startup, readiness and liveness probes.
    pub probes: Probes,
    /// `None`: the profile's size for the workload's kind.
    pub resources: Option<Resources>,
    /// `(volume name, path, read only)`.
    pub mounts: Vec<(String, String, bool)>,
}

impl ContainerSpec {
    /// A container named `name` running `image`, with nothing else set.
    pub fn new(name: &str, image: ContainerImage) -> Self {
        ContainerSpec {
            name: name.into(),
            image,
            command: None,
            args: None,
            env: Vec::new(),
            ports: Vec::new(),
            probes: Probes::default(),
            resources: None,
            mounts: Vec::new(),
        }
    }

    /// Runs `command` instead of the image's entrypoint.
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, command: I) -> Self {
        self.command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// Passes `args` instead of the image's default arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Adds the variable `key` with the literal `value` (never a secret: read those from a Secret).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Declares `port`.
    pub fn port(mut self, port: PortSpec) -> Self {
        self.ports.push(port);
        self
    }

    /// Sets its requests and limits.
    pub fn resources(mut self, resources: Resources) -> Self {
        self.resources = Some(resources);
        self
    }

    /// Mounts the pod's volume `volume` at `path`.
    pub fn mount(mut self, volume: &str, path: &str, read_only: bool) -> Self {
        self.mounts.push((volume.into(), path.into(), read_only));
        self
    }

    /// Sets its readiness probe.
    pub fn readiness(mut self, probe: ProbeSpec) -> Self {
        self.probes.readiness = Some(probe);
        self
    }

    /// Sets its liveness probe.
    pub fn liveness(mut self, probe: ProbeSpec) -> Self {
        self.probes.liveness = Some(probe);
        self
    }
}

/// What runs a service's pods.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Controller {
    /// A Deployment: replicas that come and go, rolled one surge pod at a time.
    #[default]
    Deployment,
    /// A StatefulSet: pods with stable names, each with its own claims, in
    /// the databases' wave (what runs later connects to it).
    StatefulSet {
        /// The claim each pod gets (`volumeClaimTemplates`).
        claims: Vec<ClaimTemplate>,
    },
    /// A CronJob running the pod on `schedule` (five-field cron) in
    /// `time_zone` (IANA, `None` for the controller's), never two at once.
    CronJob {
        /// Five-field cron (`0 3 * * *`).
        schedule: String,
        /// An IANA time zone (`Europe/Berlin`); `None` for the controller's.
        time_zone: Option<String>,
    },
    /// A Job run by Argo CD as a hook of every sync, in `phase` (`Sync`
    /// runs in the migrations' wave; `PreSync` before the first wave,
    /// `PostSync` after the last), deleted before the next run.
    HookJob {
        /// The sync phase the Job runs in.
        phase: crate::crd::argocd::HookPhase,
    },
}

/// A volume claim of each pod of a StatefulSet, on the environment's
/// StorageClass, kept when the StatefulSet is deleted or scaled down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimTemplate {
    /// The claim's (and the volume's) name.
    pub name: String,
    /// The claim's size.
    pub size: Memory,
    /// Where the main container mounts it.
    pub mount_path: String,
}

impl ClaimTemplate {
    /// A claim `name` of `size`, mounted at `mount_path`.
    pub fn new(name: &str, size: Memory, mount_path: &str) -> Self {
        ClaimTemplate { name: name.into(), size, mount_path: mount_path.into() }
    }
}

/// How a caller is told a dependency's address: the variable's name and the
/// form of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The variable (`PRODUCT_CATALOG_SERVICE_ADDR`); empty for a call the
    /// image knows the address of already ([`Address::none`]).
    pub env: String,
    /// `host:port`, or a URL.
    pub form: AddressForm,
    /// The short name (`cartservice`, resolved through the pod's DNS search
    /// path in the same namespace) instead of the cluster FQDN.
    pub short_host: bool,
    /// The dependency's Service port, by name; `None` is its first port.
    pub port: Option<String>,
}

/// The form of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressForm {
    /// `host:port`.
    HostPort,
    /// `scheme://host:port` followed by `path` (empty, or starting with `/`).
    Url {
        /// The scheme (`http`, `redis`).
        scheme: String,
        /// What follows `host:port`: empty, or a path starting with `/`.
        path: String,
    },
}

impl Address {
    /// `env=host:port`, with the short host name.
    pub fn host_port(env: &str) -> Self {
        Address { env: env.into(), form: AddressForm::HostPort, short_host: true, port: None }
    }

    /// No variable: the image has the callee's address built in (its
    /// Service name); only the NetworkPolicies learn of the call.
    pub fn none() -> Self {
        Address { env: String::new(), form: AddressForm::HostPort, short_host: true, port: None }
    }

    /// Whether the caller is given a variable.
    pub fn announced(&self) -> bool {
        !self.env.is_empty()
    }

    /// `env=http://<fqdn>:port`: the default of `depends_on`.
    pub fn http_url(env: &str) -> Self {
        Address {
            env: env.into(),
            form: AddressForm::Url { scheme: "http".into(), path: String::new() },
            short_host: false,
            port: None,
        }
    }

    /// `env=scheme://host:port/path`.
    pub fn url(env: &str, scheme: &str, path: &str) -> Self {
        Address {
            env: env.into(),
            form: AddressForm::Url { scheme: scheme.into(), path: path.into() },
            short_host: false,
            port: None,
        }
    }

    /// The cluster FQDN instead of the short name.
    pub fn fqdn(mut self) -> Self {
        self.short_host = false;
        self
    }

    /// The short name instead of the cluster FQDN.
    pub fn short(mut self) -> Self {
        self.short_host = true;
        self
    }

    /// The dependency's Service port named `port`.
    pub fn via_port(mut self, port: &str) -> Self {
        self.port = Some(port.into());
        self
    }

    /// The value, for a dependency reached at `host` on `port`.
    pub fn value(&self, host: &str, port: u16) -> String {
        match &self.form {
            AddressForm::HostPort => format!("{host}:{port}"),
            AddressForm::Url { scheme, path } => format!("{scheme}://{host}:{port}{path}"),
        }
    }
}

/// An environment variable read from a key of an application secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEnv {
    /// The variable's name.
    pub env: String,
    /// The application secret (declared with [`crate::platform::Platform::secret`]).
    pub secret: Name,
    /// The key of the secret the variable holds.
    pub key: String,
}

/// A ConfigMap a workload declares with its files, rendered beside it and
/// mounted read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFiles {
    /// The ConfigMap's name.
    pub name: Name,
    /// File name to content; each becomes a file in the mount directory.
    pub files: std::collections::BTreeMap<String, String>,
}

/// Is `s` an IANA service name, as container and Service port names must
/// be: 1 to 15 lowercase letters, digits and `-`, at least one letter, no
/// leading, trailing or doubled `-`.
pub fn is_port_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.iter().any(u8::is_ascii_lowercase)
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
}

/// Is `s` a DNS-1123 label: container, volume and most object names
/// (the policy check's name rule uses it too).
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_names_follow_iana() {
        for ok in ["http", "grpc", "tcp-redis", "h2c", "a1"] {
            assert!(is_port_name(ok), "{ok}");
        }
        for bad in ["", "1234", "-http", "http-", "a--b", "HTTP", "averyverylongname", "a_b"] {
            assert!(!is_port_name(bad), "{bad}");
        }
    }

    #[test]
    fn addresses_take_the_callers_form() {
        assert_eq!(Address::host_port("CART").value("cartservice", 7070), "cartservice:7070");
        assert_eq!(
            Address::http_url("API_URL").value("api.ns.svc.cluster.local", 80),
            "http://api.ns.svc.cluster.local:80"
        );
        assert_eq!(Address::url("U", "redis", "/0").value("cache", 6379), "redis://cache:6379/0");
    }
}
