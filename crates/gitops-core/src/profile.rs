//! Environment profiles: where a platform runs and how much of it.
//!
//! Every field is required and has no `Default`, so a profile that forgets a
//! setting (a storage class, a secret store, a sync policy) does not compile.
//! A profile knows nothing of a particular platform's services; it sizes them
//! by [`ServiceKind`](crate::platform::ServiceKind).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::crd::argocd::ClusterRef;
use crate::crd::external_secrets::SecretStoreKind;
use crate::image::PinnedImage;
use crate::name::{HostName, Name};
use crate::platform::DatabaseEngine;

/// One environment of a platform: `dev`, `staging`, `prod`, …
///
/// Every field is required, so forgetting one is a compile error:
///
/// ```compile_fail,E0063
/// use gitops_core::name;
/// use gitops_core::profile::*;
/// // No storage, no secrets, …: does not compile.
/// let p = EnvironmentProfile { name: name!("dev"), namespace: name!("app-dev") };
/// ```
#[derive(Debug, Clone)]
pub struct EnvironmentProfile {
    /// Short name, used in file paths and object names (`dev`).
    pub name: Name,
    /// Where the environment stands in the promotion order.
    pub stage: Stage,
    /// The namespace every object of the environment lives in.
    pub namespace: Name,
    /// The cluster the environment's Argo CD Application deploys to.
    pub cluster: ClusterRef,
    /// The cluster's DNS domain (`cluster.local`), for service addresses.
    pub cluster_domain: HostName,
    /// The repository and branch Argo CD reads the environment from.
    pub git: GitSource,
    /// Automated (prune, self-heal) or manual sync; production may not be automated.
    pub sync: SyncMode,
    /// The Argo CD instance, change window and notifications.
    pub argocd: ArgoCdProfile,
    /// The entry point: Ingress or Gateway API, host, TLS issuer.
    pub ingress: IngressProfile,
    /// The StorageClass and size of database volumes.
    pub storage: StorageProfile,
    /// How database credentials reach the cluster.
    pub secrets: SecretBackend,
    /// The image pin and size of every database engine the platform's
    /// services use, one entry per engine (an engine no service uses may be
    /// listed too).
    pub databases: Vec<DatabaseProfile>,
    /// Replicas and resources of [`ServiceKind::Api`](crate::platform::ServiceKind::Api)
    /// and [`ServiceKind::Worker`](crate::platform::ServiceKind::Worker) services
    /// without sizing of their own or an override.
    pub api: WorkloadSizing,
    /// Replicas and resources of [`ServiceKind::Web`](crate::platform::ServiceKind::Web)
    /// services without sizing of their own or an override.
    pub web: WorkloadSizing,
    /// Resources of a migration job.
    pub migration: Resources,
    /// Per-service replicas, resources and configuration in this
    /// environment, over the service's own sizing and the kind's.
    pub overrides: Vec<ServiceOverride>,
    /// Where outside traffic comes from and which external destinations are reachable.
    pub network: NetworkProfile,
    /// Spreading across nodes and autoscaling.
    pub availability: AvailabilityProfile,
    /// Emit BrainSAIT's pipeline document's Gatekeeper constraint that forbids privileged
    /// containers in the namespace. Needs Gatekeeper in the cluster; the
    /// `K8sPSPPrivilegedContainer` ConstraintTemplate that declares the
    /// constraint's kind is synced by the instance's root Application, once
    /// for every environment of the instance.
    pub gatekeeper_privileged_constraint: bool,
    /// The value of the `compliance` label every object carries (BrainSAIT's pipeline document:
    /// production objects must have one), or `None`.
    pub compliance: Option<Name>,
    /// Policy findings this environment accepts, each with its reason.
    pub waivers: Vec<Waiver>,
    /// Every release pin (the platform's own images) must carry a digest as
    /// well as a tag (a tag is immutable only by convention; a digest cannot
    /// be moved): a pin without one is [`RenderError::MissingDigest`](crate::RenderError::MissingDigest).
    /// Third-party images pinned in Rust ([`PinnedImage`]) are not checked.
    pub require_digests: bool,
}

/// Accepts one policy finding: rule `rule` on the object `kind`/`name`,
/// and, for a finding about a container, on that `container` and the
/// variable or field `field` it names. A waiver never covers a whole object
/// when the finding is about one of its containers, so waiving one
/// plaintext variable cannot hide a second. Waived findings are still
/// reported, marked with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// The rule's id (`read-only-root-filesystem`, `rego/<package>`).
    pub rule: &'static str,
    /// The object's kind.
    pub kind: &'static str,
    /// The object's name.
    pub name: &'static str,
    /// The container the finding is about; required when the finding names one.
    pub container: Option<&'static str>,
    /// The variable or field of that container; required when the finding names one.
    pub field: Option<&'static str>,
    /// Why the finding is accepted, shown with it in every report.
    pub reason: &'static str,
}

/// Who may talk to whom, beyond the default deny.
#[derive(Debug, Clone)]
pub struct NetworkProfile {
    /// The namespace of the ingress controller, the only source of traffic
    /// from outside the namespace (`ingress-nginx`). With
    /// [`Routing::GatewayApi`], the namespace of the pods that proxy the
    /// Gateway's traffic: where they run depends on the implementation (the
    /// Gateway's own namespace for some, the controller's for others).
    pub ingress_namespace: Name,
    /// Traffic leaving the cluster, per service.
    pub external_egress: Vec<ExternalEgress>,
}

/// One service's permitted traffic to outside the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalEgress {
    /// The service allowed out.
    pub service: Name,
    /// Why, for the reader of the NetworkPolicy (`SMTP relay`).
    pub purpose: &'static str,
    /// Where, as a CIDR (`0.0.0.0/0`), less `except`.
    pub cidr: &'static str,
    /// Addresses inside `cidr` it may not reach (private ranges).
    pub except: &'static [&'static str],
    /// TCP ports.
    pub ports: &'static [u16],
}

/// How many pods survive a disruption, and how they scale and spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvailabilityProfile {
    /// Spread each Deployment's pods across nodes (topology spread on
    /// `kubernetes.io/hostname`).
    pub spread_across_nodes: bool,
    /// HorizontalPodAutoscalers for the services: between the profile's
    /// replicas and `max_replicas`, at `cpu_utilization` percent of requests.
    pub autoscaling: Option<Autoscaling>,
}

/// A HorizontalPodAutoscaler on CPU: from the sizing's replicas up to `max_replicas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Autoscaling {
    /// The most replicas the autoscaler may run.
    pub max_replicas: u16,
    /// The average CPU utilisation, in percent of requests, it keeps.
    pub cpu_utilization: u8,
}

/// Where Argo CD reads the rendered tree from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// The repository's URL.
    pub repo_url: String,
    /// The branch, tag or commit Argo CD follows.
    pub target_revision: String,
}

/// The promotion stage of an environment. Production has rules of its own:
/// it never syncs automatically and it declares a change window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// A developer's environment: syncs automatically.
    Development,
    /// The last stop before production.
    Staging,
    /// Production: manual syncs, digests and the compliance label where the profile asks.
    Production,
}

/// How the environment's Argo CD is organised.
#[derive(Debug, Clone)]
pub struct ArgoCdProfile {
    /// The Argo CD installation that manages this environment. Environments
    /// with their own clusters each have one (ClinicFlow's GitOps README); environments that
    /// share a cluster share one (BrainSAIT's pipeline document). Each instance gets its own
    /// root Application under `deploy/argocd/<instance>/`.
    pub instance: Name,
    /// Production: manual syncs are possible only inside this window.
    pub change_window: Option<ChangeWindow>,
    /// Slack notifications on failed syncs and degraded health.
    pub notifications: Option<SlackNotifications>,
    /// Who may do what to this environment's Applications, and how people
    /// sign in to the instance (`argocd-rbac-cm`, `argocd-cm`'s `oidc.config`).
    pub access: Access,
    /// The Prometheus Operator runs in the cluster: the instance gets a
    /// ServiceMonitor for Argo CD's metrics and a PrometheusRule with its
    /// alerts (sync failed, degraded, out of sync too long). Belongs to the
    /// instance, like [`Access::sso`].
    pub prometheus: Option<PrometheusOperator>,
    /// The cluster add-ons the instance's root Application installs first
    /// ([`crate::addons`]): empty when they are installed another way.
    /// Belongs to the instance, like [`Access::sso`].
    pub addons: Vec<crate::addons::Addon>,
    /// A daily export of Argo CD's state to object storage (BrainSAIT's
    /// disaster recovery). Belongs to the instance, like [`Access::sso`].
    pub backup: Option<ArgoCdBackup>,
    /// Sync impersonation (Argo CD: Alpha from 2.13, Beta from 3.5): each
    /// environment's Applications sync as a ServiceAccount that may change
    /// only the kinds the environment renders, in its namespace, instead of
    /// as Argo CD's controller, which may change anything. The root then
    /// owns the environment's Namespace, its quota and limits, and that
    /// ServiceAccount's Role. Only for environments in the cluster Argo CD
    /// runs in. Belongs to the instance.
    pub impersonation: bool,
}

/// `argocd admin export` on a schedule, uploaded to S3-compatible object
/// storage. The export holds Argo CD's Secrets (repository and cluster
/// credentials): the bucket must encrypt at rest and be readable only by
/// those who may restore. Retention (90 days in BrainSAIT's pipeline
/// document) is the bucket's lifecycle rule: set it there, where the
/// storage enforces it; an uploader that deletes old copies could be
/// stopped, and the copies would pile up unnoticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgoCdBackup {
    /// Cron expression, in `time_zone` (`0 2 * * *`: every day at 02:00).
    pub schedule: &'static str,
    /// IANA time zone of the schedule.
    pub time_zone: &'static str,
    /// Where copies go: `s3://<bucket>/<prefix>`; each is named after the time it was taken.
    pub destination: String,
    /// The endpoint of S3-compatible storage other than AWS (MinIO, Ceph): `https://…`.
    pub endpoint: Option<String>,
    /// The storage's region (`eu-central-1`); `None` leaves it to the AWS CLI
    /// (`us-east-1`, which finds a bucket elsewhere by redirect).
    pub region: Option<String>,
    /// Where the storage credentials come from.
    pub credentials: BackupCredentials,
}

/// The access key of the backup's object storage, never in Git: a Secret
/// in Argo CD's namespace with keys `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupCredentials {
    /// Written by an ExternalSecret from a ClusterSecretStore (the
    /// environment's secret backend), from `key`'s properties
    /// `access-key-id` and `secret-access-key`.
    External {
        /// The ClusterSecretStore.
        store: Name,
        /// The key in the store.
        key: String,
    },
    /// A Secret of that name made another way (sealed, or by hand).
    Secret(Name),
}

impl ArgoCdBackup {
    /// `None` when the settings are well formed, else what is wrong.
    pub fn problem(&self) -> Option<String> {
        let window = ChangeWindow { schedule: self.schedule, duration: "1h", time_zone: self.time_zone };
        if let Some(problem) = window.problem() {
            return Some(problem);
        }
        let bucket = self.destination.strip_prefix("s3://").unwrap_or_default();
        // It is written into the upload's shell command: no quote, `$`, `\\` or backquote.
        if bucket.is_empty()
            || bucket.starts_with('/')
            || self.destination.contains(|c: char| c.is_whitespace() || "\"'$`\\".contains(c))
        {
            return Some(format!("destination `{}` is not `s3://<bucket>/<prefix>`", self.destination));
        }
        if let Some(endpoint) = &self.endpoint
            && (!endpoint.starts_with("https://")
                || endpoint.contains(|c: char| c.is_whitespace() || "\"'$`\\".contains(c)))
        {
            return Some(format!("endpoint `{endpoint}` is not an https:// URL"));
        }
        if let Some(region) = &self.region
            && (region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Some(format!("region `{region}` is not a region name such as `eu-central-1`"));
        }
        None
    }
}

/// How the cluster's Prometheus Operator finds rules and monitors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrometheusOperator {
    /// Labels put on the ServiceMonitor and the PrometheusRule, those the
    /// `Prometheus` object's `serviceMonitorSelector` and `ruleSelector`
    /// match (kube-prometheus-stack's default: `release: <its release name>`).
    /// Empty for a Prometheus that selects every one.
    pub labels: BTreeMap<String, String>,
}

impl ArgoCdProfile {
    /// Instance `instance` with nothing else: no change window, no
    /// notifications, read-only access for everyone signed in, no
    /// monitoring, add-ons installed another way, no backup. Set the rest
    /// with struct update syntax: `ArgoCdProfile { change_window: …, ..ArgoCdProfile::new(name) }`.
    pub fn new(instance: Name) -> Self {
        ArgoCdProfile {
            instance,
            change_window: None,
            notifications: None,
            access: Access::default(),
            prometheus: None,
            addons: Vec::new(),
            backup: None,
            impersonation: false,
        }
    }
}

/// The access model of an environment in its Argo CD instance (BrainSAIT's
/// pipeline document: least privilege, SSO with Azure AD or Okta, MFA for
/// production syncs). Everyone signed in may read everything
/// (`policy.default: role:readonly`). Group names are whatever the identity
/// provider puts in the token's `groups` claim: Okta sends group names,
/// Azure AD (Entra ID) sends group object IDs unless the app registration
/// is set to emit names.
///
/// The platform admins and the single sign-on belong to the whole instance:
/// every environment an instance serves must declare the same ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Single sign-on through the identity provider; `None` leaves Argo CD
    /// with its local accounts only.
    pub sso: Option<Sso>,
    /// Groups of platform admins: Argo CD's built-in `role:admin` on the
    /// instance, except syncing or rolling back a production environment.
    pub admin_groups: Vec<String>,
    /// Groups that may sync and roll back this environment's Applications.
    /// In production, the change board: nobody else may, admins included.
    pub deploy_groups: Vec<String>,
}

/// OpenID Connect sign-in to Argo CD (`argocd-cm`'s `oidc.config`). Multi-factor
/// authentication is the identity provider's to enforce (an Azure AD
/// Conditional Access policy or an Okta authentication policy on the Argo
/// CD application): Argo CD only sees the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sso {
    /// Which identity provider, and where it is.
    pub provider: IdentityProvider,
    /// Argo CD's external URL (`argocd-cm`'s `url`), where the identity
    /// provider sends people back after they sign in.
    pub argocd_url: String,
    /// The application's client ID at the identity provider (not a secret).
    pub client_id: String,
    /// The Secret in Argo CD's namespace that holds the client secret, and
    /// its key. The repository never holds the value: the Secret comes from
    /// the environment's secret backend and must carry the label
    /// `app.kubernetes.io/part-of: argocd`, or Argo CD will not read it.
    pub client_secret: SecretKeyRef,
}

/// A key of a Secret, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: Name,
    /// The key in its `data`.
    pub key: String,
}

/// An OpenID Connect identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityProvider {
    /// Microsoft Entra ID (Azure AD): issuer
    /// `https://login.microsoftonline.com/<tenant_id>/v2.0`.
    AzureAd {
        /// The directory (tenant) ID.
        tenant_id: String,
    },
    /// Okta: `issuer` is the organisation's URL (`https://example.okta.com`)
    /// or one of its authorization servers (`…/oauth2/default`).
    Okta {
        /// The issuer URL.
        issuer: String,
    },
}

impl Sso {
    /// `None` when the settings are well formed, else what is wrong.
    pub fn problem(&self) -> Option<String> {
        let https = |what: &str, url: &str| {
            (!url.starts_with("https://")
                || url.len() == "https://".len()
                || url.contains(char::is_whitespace))
            .then(|| format!("{what} `{url}` is not an https:// URL"))
        };
        let id = |what: &str, value: &str| {
            (value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '$'))
                .then(|| format!("{what} `{value}` is empty or has spaces or `$`"))
        };
        https("argocd_url", &self.argocd_url)
            .or_else(|| id("client_id", &self.client_id))
            .or_else(|| id("client_secret.key", &self.client_secret.key))
            .or_else(|| match &self.provider {
                IdentityProvider::AzureAd { tenant_id } => id("tenant_id", tenant_id),
                IdentityProvider::Okta { issuer } => https("issuer", issuer),
            })
    }
}

/// A recurring window, as an Argo CD sync window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeWindow {
    /// Cron expression for when the window opens, e.g. `0 20 * * 2`.
    pub schedule: &'static str,
    /// A Go duration such as `3h`.
    pub duration: &'static str,
    /// IANA time zone of the schedule, e.g. `Asia/Riyadh`.
    pub time_zone: &'static str,
}

impl ChangeWindow {
    /// `None` when the window is well formed, else what is wrong.
    pub fn problem(&self) -> Option<String> {
        let fields = self.schedule.split_whitespace().count();
        let duration_ok = {
            let d = self.duration;
            let unit = d.trim_start_matches(|c: char| c.is_ascii_digit());
            d.len() > unit.len() && ["s", "m", "h"].contains(&unit)
        };
        if fields != 5 {
            Some(format!("schedule `{}` has {fields} fields; a cron expression has 5", self.schedule))
        } else if !duration_ok {
            Some(format!("duration `{}` is not a whole number of s, m or h", self.duration))
        } else if self.time_zone.is_empty() || self.time_zone.contains(' ') {
            Some(format!("time zone `{}` is not an IANA name such as `UTC`", self.time_zone))
        } else {
            None
        }
    }
}

/// Argo CD notifications to a Slack channel; the token stays in the
/// `argocd-notifications-secret` Secret, under `slack-token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackNotifications {
    /// The Slack channel (without `#`).
    pub channel: String,
    /// Argo CD's external URL, for links in the messages.
    pub argocd_url: String,
}

/// How Argo CD syncs the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Syncs on every commit. `prune` deletes what the tree no longer has;
    /// `self_heal` reverts changes made in the cluster by hand.
    Automated {
        /// Delete live objects the tree no longer has.
        prune: bool,
        /// Revert changes made in the cluster by hand.
        self_heal: bool,
    },
    /// A person presses Sync (production, after approval).
    Manual,
}

/// The single HTTPS entry point of an environment.
#[derive(Debug, Clone)]
pub struct IngressProfile {
    /// Which API routes the host's paths: an Ingress or a Gateway API HTTPRoute.
    pub routing: Routing,
    /// The host every exposed path is served on.
    pub host: HostName,
    /// cert-manager issuer that signs the host's certificate. With
    /// [`Routing::GatewayApi`] the Gateway's owner names it in the Gateway's
    /// `cert-manager.io/cluster-issuer` (or `issuer`) annotation.
    pub tls_issuer: IssuerRef,
    /// Services whose opt-in routes this environment exposes.
    pub expose_opt_in: Vec<Name>,
    /// Whether the tree creates the issuer named by `tls_issuer`, and how.
    pub issuer: IssuerSource,
}

/// How requests for the host reach the services: exactly one of the two, so
/// a profile cannot ask for both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// A `networking.k8s.io/v1` Ingress of this class (`nginx`), terminating
    /// TLS with a certificate cert-manager's ingress-shim requests. ClinicFlow's
    /// clusters run ingress-nginx, which was retired in March 2026 and gets no
    /// more security fixes: plan the move to [`Routing::GatewayApi`].
    Ingress {
        /// The IngressClass (`nginx`).
        class_name: Name,
    },
    /// A `gateway.networking.k8s.io/v1` HTTPRoute with the same host and
    /// paths, attached to the Gateway `namespace`/`gateway` (and to its
    /// listener `section_name`, or every listener that admits the route).
    /// The Gateway is not part of this tree: its owner gives it an HTTPS
    /// listener for the host, whose certificate cert-manager's gateway-shim
    /// requests from the issuer in the Gateway's annotation, and an
    /// `allowedRoutes.namespaces` that admits the environment's namespace.
    GatewayApi {
        /// The Gateway's name.
        gateway: Name,
        /// The Gateway's namespace.
        namespace: Name,
        /// Its listener; `None` for every listener that admits the route.
        section_name: Option<Name>,
    },
}

/// Where the certificate issuer comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerSource {
    /// Someone else creates it; the tree only names it.
    OutOfBand,
    /// A ClusterIssuer that signs with a CA key pair held in a Secret of
    /// cert-manager's namespace. Right for nip.io hosts on private MetalLB
    /// addresses, which Let's Encrypt cannot reach for HTTP-01.
    InternalCa {
        /// The Secret with the CA's `tls.crt` and `tls.key`, in cert-manager's namespace.
        secret_name: Name,
    },
    /// A ClusterIssuer for Let's Encrypt, answering HTTP-01 through the
    /// ingress class, or through the Gateway with [`Routing::GatewayApi`];
    /// only for hosts reachable from the internet.
    LetsEncrypt {
        /// The ACME account's contact address.
        email: String,
        /// Use Let's Encrypt's staging server (untrusted certificates, high rate limits).
        staging: bool,
    },
}

/// The cert-manager issuer that signs the environment's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRef {
    /// The issuer's name.
    pub name: Name,
    /// `Issuer` (in the namespace) or `ClusterIssuer`.
    pub kind: IssuerKind,
}

/// Which kind of cert-manager issuer a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerKind {
    /// A namespaced `Issuer` in the environment's namespace.
    Issuer,
    /// A `ClusterIssuer`, shared by the cluster.
    ClusterIssuer,
}

impl IssuerRef {
    /// The cert-manager ingress-shim annotation that requests a certificate.
    pub fn ingress_annotation(&self) -> (&'static str, String) {
        let key = match self.kind {
            IssuerKind::Issuer => "cert-manager.io/issuer",
            IssuerKind::ClusterIssuer => "cert-manager.io/cluster-issuer",
        };
        (key, self.name.to_string())
    }
}

/// Where databases keep their data.
#[derive(Debug, Clone)]
pub struct StorageProfile {
    /// The StorageClass of every PersistentVolumeClaim (`nfs-dev`).
    pub class: Name,
    /// Size of each database volume.
    pub database_size: Memory,
}

/// How an environment's secrets reach the cluster. In every case the
/// repository holds no secret value: a reference, or ciphertext only the
/// cluster's Sealed Secrets controller can open.
#[derive(Debug, Clone)]
pub enum SecretBackend {
    /// ExternalSecrets read the keys from a secret store.
    External(SecretStoreProfile),
    /// SealedSecrets whose ciphertext is `kubeseal` output committed as
    /// `<dir>/<secret>.yaml` (relative to the repository root).
    Sealed {
        /// The directory of the committed `kubeseal` output, relative to the root.
        dir: &'static str,
    },
    /// Secrets someone creates by hand (`kubectl create secret`); the tree
    /// only references them.
    OutOfBand,
}

/// The secret store database credentials are read from.
#[derive(Debug, Clone)]
pub struct SecretStoreProfile {
    /// The store's name.
    pub store: Name,
    /// `SecretStore` or `ClusterSecretStore`.
    pub kind: SecretStoreKind,
    /// Remote keys are `<prefix>/<database>`, e.g. `clinicflow/dev/identity-db`.
    pub key_prefix: String,
    /// How often the operator re-reads the store (a Go duration, `1h`).
    pub refresh_interval: &'static str,
    /// When the environment owns its store: a Vault `SecretStore` the tree
    /// creates (BrainSAIT's pipeline document), authenticating with Kubernetes auth.
    pub vault: Option<VaultStore>,
}

/// A HashiCorp Vault KV v2 store, reached with Vault's Kubernetes auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultStore {
    /// Vault's address (`https://vault.example:8200`).
    pub server: String,
    /// The KV mount, e.g. `secret`.
    pub mount: String,
    /// The Vault role bound to the store's ServiceAccount.
    pub role: String,
    /// Where Vault's Kubernetes auth method is mounted (`kubernetes`).
    pub auth_mount: String,
}

/// How one database engine runs in an environment: the pinned image of
/// every database of that engine, and the size of each.
#[derive(Debug, Clone)]
pub struct DatabaseProfile {
    /// The engine this entry is for.
    pub engine: DatabaseEngine,
    /// Its image, pinned by version, and by digest when one is given
    /// ([`EnvironmentProfile::require_digests`] does not cover it).
    pub image: PinnedImage,
    /// The database pod's requests and limits.
    pub resources: Resources,
}

impl EnvironmentProfile {
    /// The profile of `engine`'s databases, if the environment pins one.
    pub fn database(&self, engine: DatabaseEngine) -> Option<&DatabaseProfile> {
        self.databases.iter().find(|d| d.engine == engine)
    }
}

/// One service's settings in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOverride {
    /// The service it sizes.
    pub service: Name,
    /// Its replicas, instead of the profile's sizing for its kind.
    pub replicas: Option<u16>,
    /// Its requests and limits, instead of the profile's.
    pub resources: Option<Resources>,
    /// Autoscaling bounds of this service here, over the profile's
    /// (`availability.autoscaling`); `Some(None)` turns it off for the service.
    pub autoscaling: Option<Option<Autoscaling>>,
    /// Plain variables set (or replaced) in this environment only.
    pub env: Vec<(String, String)>,
}

impl ServiceOverride {
    /// An override of `service` that changes nothing yet.
    pub fn new(service: Name) -> Self {
        ServiceOverride { service, replicas: None, resources: None, autoscaling: None, env: Vec::new() }
    }

    /// Scales the service between its replicas and `max_replicas` at
    /// `cpu_utilization` percent of its CPU request, here.
    pub fn autoscale(mut self, max_replicas: u16, cpu_utilization: u8) -> Self {
        self.autoscaling = Some(Some(Autoscaling { max_replicas, cpu_utilization }));
        self
    }

    /// A fixed replica count here, whatever the profile's autoscaling.
    pub fn no_autoscaling(mut self) -> Self {
        self.autoscaling = Some(None);
        self
    }

    /// Runs `n` replicas.
    pub fn replicas(mut self, n: u16) -> Self {
        self.replicas = Some(n);
        self
    }

    /// Sets its requests and limits.
    pub fn resources(mut self, resources: Resources) -> Self {
        self.resources = Some(resources);
        self
    }

    /// Adds the literal variable `key`=`value` to its main container.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

impl EnvironmentProfile {
    /// The override of `service`, if the profile has one.
    pub fn override_of(&self, service: &Name) -> Option<&ServiceOverride> {
        self.overrides.iter().find(|o| &o.service == service)
    }
}

/// A workload's sizing: how many replicas, each of what size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadSizing {
    /// Replicas (the autoscaler's minimum when it autoscales).
    pub replicas: u16,
    /// Requests and limits of each replica's main container.
    pub resources: Resources,
}

/// Requests and limits of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// What the scheduler reserves.
    pub requests: Compute,
    /// The most it may use.
    pub limits: Compute,
}

/// CPU and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compute {
    /// CPU, in millicores.
    pub cpu: Cpu,
    /// Memory, in mebibytes.
    pub memory: Memory,
}

/// CPU in millicores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cpu(
    /// Millicores: `500` is half a core.
    pub u32,
);

/// Memory or storage in mebibytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Memory(
    /// Mebibytes (MiB): `1024` is 1 GiB.
    pub u32,
);

impl Cpu {
    /// As a Kubernetes quantity: whole cores (`2`) or millicores (`500m`).
    pub fn quantity(self) -> Quantity {
        Quantity(if self.0.is_multiple_of(1000) {
            (self.0 / 1000).to_string()
        } else {
            format!("{}m", self.0)
        })
    }
}

impl Memory {
    /// `n` gibibytes.
    pub const fn gib(n: u32) -> Self {
        Memory(n * 1024)
    }

    /// As a Kubernetes quantity: `Gi` when whole, else `Mi`.
    pub fn quantity(self) -> Quantity {
        Quantity(if self.0.is_multiple_of(1024) {
            format!("{}Gi", self.0 / 1024)
        } else {
            format!("{}Mi", self.0)
        })
    }

    /// The size a [`Memory::quantity`] names (`<n>Mi` or `<n>Gi`); `None` for
    /// any other form of quantity.
    pub fn from_quantity(q: &Quantity) -> Option<Self> {
        let (digits, per) = match q.0.strip_suffix("Gi") {
            Some(n) => (n, 1024),
            None => (q.0.strip_suffix("Mi")?, 1),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u32>().ok()?.checked_mul(per).map(Memory)
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quantity().0)
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quantity().0)
    }
}

impl Resources {
    /// `None` when every request fits its limit, else what is wrong.
    pub fn problem(&self) -> Option<String> {
        let (r, l) = (self.requests, self.limits);
        if r.cpu.0 == 0 || r.memory.0 == 0 {
            Some("requests must be above zero".into())
        } else if r.cpu > l.cpu {
            Some(format!("cpu request {} is above its limit {}", r.cpu, l.cpu))
        } else if r.memory > l.memory {
            Some(format!("memory request {} is above its limit {}", r.memory, l.memory))
        } else {
            None
        }
    }

    /// As a container's `resources`.
    pub fn to_k8s(self) -> k8s_openapi::api::core::v1::ResourceRequirements {
        let compute = |c: Compute| {
            std::collections::BTreeMap::from([
                ("cpu".to_owned(), c.cpu.quantity()),
                ("memory".to_owned(), c.memory.quantity()),
            ])
        };
        k8s_openapi::api::core::v1::ResourceRequirements {
            requests: Some(compute(self.requests)),
            limits: Some(compute(self.limits)),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_use_the_shortest_exact_unit() {
        assert_eq!(Cpu(250).quantity().0, "250m");
        assert_eq!(Cpu(2000).quantity().0, "2");
        assert_eq!(Memory(512).quantity().0, "512Mi");
        assert_eq!(Memory::gib(20).quantity().0, "20Gi");
        for m in [Memory(1), Memory(512), Memory(1536), Memory::gib(20)] {
            assert_eq!(Memory::from_quantity(&m.quantity()), Some(m));
        }
        for other in ["", "Mi", "1.5Gi", "100M", "1Ti", "-1Mi", "5000000Gi"] {
            assert_eq!(Memory::from_quantity(&Quantity(other.into())), None, "{other}");
        }
    }

    #[test]
    fn requests_must_fit_limits() {
        let c = |cpu, mem| Compute { cpu: Cpu(cpu), memory: Memory(mem) };
        assert_eq!(Resources { requests: c(100, 128), limits: c(500, 256) }.problem(), None);
        assert!(Resources { requests: c(600, 128), limits: c(500, 256) }.problem().unwrap().contains("cpu"));
        assert!(
            Resources { requests: c(100, 512), limits: c(500, 256) }.problem().unwrap().contains("memory")
        );
        assert!(Resources { requests: c(0, 512), limits: c(500, 1024) }.problem().is_some());
    }
}
