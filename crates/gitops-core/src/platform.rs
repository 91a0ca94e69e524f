//! Platform definitions: what runs, independent of where.
//!
//! A [`Platform`] is a list of [`Service`]s built with typed builders: each
//! service has an image repository, a port, an optional route on the shared
//! ingress host, an optional database with migrations, and the services it
//! calls. The environment decides sizes, hosts and storage.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::Location;

use crate::extend::{Added, Extension};
use crate::hash::FxHashSet;
use crate::image::{ImageRepository, PinnedImage, TagRule};
use crate::name::{MAX_LABEL_LEN, Name};
use crate::object::TypedKind;
use crate::profile::{EnvironmentProfile, Memory, WorkloadSizing};
use crate::spec::{
    Address, ClaimTemplate, ConfigFiles, ContainerSpec, Controller, Expose, LIVENESS, PortRef, PortSpec,
    ProbeAction, ProbeSpec, Probes, READINESS, STARTUP, SecretEnv, ServiceType, VolumeSource, VolumeSpec,
    is_dns_label, is_port_name,
};

/// What runs, independent of where: the platform's services (each an API, web front
/// end, worker or third-party server, with what it calls and what it stores), its
/// application secrets, its tag rule and its escape hatches. Built with [`Platform::new`]
/// and [`Platform::service`]; [`Platform::validate`] refuses a definition that would not
/// run, naming the line that defines the service. Environments say where and how much
/// ([`crate::profile::EnvironmentProfile`]).
#[derive(Debug, Clone)]
pub struct Platform {
    /// `app.kubernetes.io/part-of`, and the stem of shared object names.
    pub name: Name,
    /// The services, in the order their objects are rendered.
    pub services: Vec<Service>,
    /// One Argo CD Application per environment, or one per service per environment.
    pub topology: Topology,
    /// The form every release tag of the platform's own images takes.
    pub tag_rule: TagRule,
    /// Escape hatches: objects added, typed patches, extra traffic; see
    /// [`crate::extend`].
    pub extensions: Vec<Extension>,
    /// Application secrets (an API token, an SMTP password): each
    /// environment's secret backend delivers them; services read their keys
    /// as variables or files.
    pub secrets: Vec<AppSecret>,
    /// The command that renders the platform's tree, as its users type it
    /// (`cargo xtask render`): named in the header of every rendered file.
    pub render_command: Option<String>,
}

/// A Secret the platform's services read, with the keys it holds. The
/// repository never holds its values: the environment's backend delivers it
/// (an ExternalSecret reading `<key prefix>/<name>` with one property per
/// key, a SealedSecret of committed ciphertext, or a Secret made out of band).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSecret {
    /// The secret's name: the Secret's, and the last part of its key in the store.
    pub name: Name,
    /// The keys it holds; services read them with [`Service::secret_env`] or [`Service::secret_files`].
    pub keys: Vec<String>,
}

/// How the platform's environments are cut into Argo CD Applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Topology {
    /// One Application per environment, syncing `deploy/<env>` (ClinicFlow's GitOps README).
    #[default]
    PerEnvironment,
    /// One Application per service per environment, syncing
    /// `deploy/<env>/<service>`, plus one for the shared objects in
    /// `deploy/<env>/platform` (BrainSAIT's pipeline document).
    PerService,
}

/// What kind of workload a service is; the profile sizes each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKind {
    /// A backend API.
    Api,
    /// A web front end.
    Web,
    /// A long-running process with no port and no Service: a queue
    /// consumer, a load generator. Sized like an API unless it says otherwise.
    Worker,
}

/// One service of the platform: what its pods run, listen on and are probed on,
/// what fronts them, what they call and what they store. The intent builders
/// ([`Service::api`], [`Service::web`], [`Service::worker`], [`Service::third_party`])
/// set defaults that every other method overrides.
#[derive(Debug, Clone)]
pub struct Service {
    /// The service's name: its workload's, its Service's, its directory's.
    pub name: Name,
    /// Where the service is defined (the intent builders record their
    /// caller), so errors point at the line to change.
    pub defined_at: &'static Location<'static>,
    /// API, web front end or worker: its labels, and its sizing in the profile.
    pub kind: ServiceKind,
    /// What runs its pods: a Deployment unless it says otherwise.
    pub controller: Controller,
    /// Its own release image (pinned per environment) or a third-party image pinned in Rust.
    pub image: WorkloadImage,
    /// The main container's name; `None` is the service's name.
    pub container_name: Option<String>,
    /// Overrides the image's entrypoint (a worker that runs the server
    /// image with another program says so here).
    pub command: Option<Vec<String>>,
    /// Overrides the image's default arguments.
    pub args: Option<Vec<String>>,
    /// The main container's working directory; `None` is the image's.
    pub working_dir: Option<String>,
    /// The ports the main container listens on; the first is its primary
    /// port. `api` and `web` start with `http` on 3000; workers with none.
    pub ports: Vec<PortSpec>,
    /// The variable that carries the primary port's number (`PORT`), or none.
    pub port_env: Option<String>,
    /// The main container's probes. `api` and `web`: startup and readiness
    /// `GET /health` on `http`, liveness a TCP connect on `http`.
    pub probes: Probes,
    /// The Services in front of the pods. `api` and `web`: one ClusterIP
    /// Service, port `http` 80 to the container's `http`.
    pub exposes: Vec<Expose>,
    /// A path of the environment's host that routes to it.
    pub route: Option<Route>,
    /// Its own database, if it has one.
    pub database: Option<Database>,
    /// Databases owned by other services that this one connects to as well.
    pub shared_databases: Vec<Name>,
    /// Services this one calls; each gets a variable with its address
    /// (`<NAME>_URL=http://<fqdn>:<port>` unless `addresses` says otherwise).
    pub depends_on: Vec<Name>,
    /// How a dependency's address reaches this service, where it is not the default.
    pub addresses: BTreeMap<Name, Address>,
    /// Plain, non-secret configuration.
    pub env: BTreeMap<String, String>,
    /// Variables read from keys of the platform's application secrets.
    pub secret_env: Vec<SecretEnv>,
    /// Directories the program writes to; each becomes an `emptyDir` so the
    /// root filesystem stays read-only.
    pub writable_dirs: Vec<String>,
    /// Further volumes of the pod.
    pub volumes: Vec<VolumeSpec>,
    /// The size of the `emptyDir` at `/tmp` (64 MiB of node disk by default),
    /// and whether it lives in memory instead (counted in the memory limit).
    pub tmp: (Memory, bool),
    /// Labels of the nodes the pods may run on.
    pub node_selector: BTreeMap<String, String>,
    /// ConfigMaps this service declares, rendered beside it.
    pub config_files: Vec<ConfigFiles>,
    /// Containers that run to completion, in order, before the main one.
    pub init_containers: Vec<ContainerSpec>,
    /// Containers that run beside the main one.
    pub sidecars: Vec<ContainerSpec>,
    /// The UID the pod runs as when the image needs its own (never 0).
    pub run_as: Option<i64>,
    /// Its GID and the volumes' group, when not the UID.
    pub run_as_group: Option<i64>,
    /// Replicas and resources in every environment, unless the profile
    /// overrides them; `None` takes the profile's size for the kind.
    pub sizing: Option<WorkloadSizing>,
}

/// The image of a service's main container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadImage {
    /// The platform's own image; the release file pins its tag per environment.
    Own(ImageRepository),
    /// A third-party image (`redis`) pinned in Rust by version, and by digest
    /// when given; no release file names it.
    Pinned(PinnedImage),
}

impl WorkloadImage {
    /// The repository, without tag or digest.
    pub fn repository(&self) -> &ImageRepository {
        match self {
            WorkloadImage::Own(r) => r,
            WorkloadImage::Pinned(p) => &p.repository,
        }
    }

    /// Same as [`WorkloadImage::repository`], as text.
    pub fn as_str(&self) -> &str {
        self.repository().as_str()
    }
}

/// A path prefix on the environment's ingress host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The path prefix (`/api`).
    pub path: String,
    /// Whether every environment exposes it.
    pub exposure: Exposure,
}

/// Which environments expose a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Exposed in every environment.
    Always,
    /// Exposed only where the environment's profile lists the service.
    OptIn,
}

/// A service's own database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// The engine.
    pub engine: DatabaseEngine,
    /// Schema migrations run before the service starts, with the service's image.
    pub migration: Option<Migration>,
    /// The variable that carries the connection string to the services
    /// that use it; `None` is the engine's (`DATABASE_URL`, `MONGODB_URI`,
    /// `REDIS_URL`).
    pub connection_env: Option<String>,
    /// A query string the connection string ends with (`schema=public`
    /// for Prisma); the engine's own parameters come first.
    pub url_query: Option<String>,
}

impl Database {
    /// The variable that carries the connection string.
    pub fn env(&self) -> &str {
        self.connection_env.as_deref().unwrap_or(self.engine.connection_env())
    }
}

/// The database a service owns. Each engine brings its own image (pinned by
/// the environment's profile), port, readiness probe, data path and
/// connection-string variable; credentials, ExternalSecrets, NetworkPolicies
/// and the quota treat every engine alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatabaseEngine {
    /// PostgreSQL (`docker.io/library/postgres`); the service reads `DATABASE_URL`.
    Postgres,
    /// MongoDB (`docker.io/library/mongo`); the service reads `MONGODB_URI`.
    MongoDb,
    /// MySQL (`docker.io/library/mysql`); the service reads `DATABASE_URL`.
    MySql,
    /// Redis (`docker.io/library/redis`) with a password and an append-only
    /// file, as a cache or a queue; the service reads `REDIS_URL`.
    Redis,
}

impl DatabaseEngine {
    /// Every engine.
    pub const ALL: [DatabaseEngine; 4] =
        [DatabaseEngine::Postgres, DatabaseEngine::MongoDb, DatabaseEngine::MySql, DatabaseEngine::Redis];

    /// Lowercase name: the database container's name and port name, and
    /// how profile errors name the engine (`postgres`, `mongodb`).
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseEngine::Postgres => "postgres",
            DatabaseEngine::MongoDb => "mongodb",
            DatabaseEngine::MySql => "mysql",
            DatabaseEngine::Redis => "redis",
        }
    }

    /// The port the database listens on.
    pub fn port(self) -> i32 {
        match self {
            DatabaseEngine::Postgres => 5432,
            DatabaseEngine::MongoDb => 27017,
            DatabaseEngine::MySql => 3306,
            DatabaseEngine::Redis => 6379,
        }
    }

    /// The credentials Secret key that carries the connection string, and
    /// the variable the owning service reads it into unless it names another.
    pub fn connection_env(self) -> &'static str {
        match self {
            DatabaseEngine::Postgres | DatabaseEngine::MySql => DATABASE_URL_ENV,
            DatabaseEngine::MongoDb => MONGODB_URI_ENV,
            DatabaseEngine::Redis => REDIS_URL_ENV,
        }
    }
}

impl std::fmt::Display for DatabaseEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Schema migrations: a Job with the service's release image, run by Argo CD in the
/// migrations' wave of every sync, before the new pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The command run with the service's image (`npx prisma migrate deploy`).
    pub command: Vec<String>,
}

/// The port of the default Service of `api` and `web` services (others may listen elsewhere).
pub const SERVICE_PORT: i32 = 80;
/// The variable that carries a Postgres connection string.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";
/// The variable that carries a MongoDB connection string.
pub const MONGODB_URI_ENV: &str = "MONGODB_URI";
/// The variable that carries a Redis connection string.
pub const REDIS_URL_ENV: &str = "REDIS_URL";
/// The variable that carries the listening port.
pub const PORT_ENV: &str = "PORT";
/// The `emptyDir` every pod mounts at `/tmp`.
pub const TMP_VOLUME: &str = "tmp";
/// The name of the port of `api` and `web` services.
pub const HTTP_PORT: &str = "http";

impl Platform {
    /// A platform named `name` with no service, the default topology and tag rule.
    pub fn new(name: Name) -> Self {
        Platform {
            name,
            services: Vec::new(),
            topology: Topology::default(),
            tag_rule: TagRule::default(),
            extensions: Vec::new(),
            secrets: Vec::new(),
            render_command: None,
        }
    }

    /// Names the command that renders the tree in every rendered file's header.
    pub fn rendered_by(mut self, command: &str) -> Self {
        self.render_command = Some(command.into());
        self
    }

    /// Declares the application secret `name` with `keys`.
    pub fn secret(mut self, name: Name, keys: &[&str]) -> Self {
        self.secrets.push(AppSecret { name, keys: keys.iter().map(|k| (*k).to_owned()).collect() });
        self
    }

    /// The application secret `name`, if declared.
    pub fn find_secret(&self, name: &Name) -> Option<&AppSecret> {
        self.secrets.iter().find(|s| &s.name == name)
    }

    /// Adds the objects `f` returns to each environment (see [`crate::extend`]).
    pub fn include(mut self, f: impl Fn(&EnvironmentProfile) -> Vec<Added> + Send + Sync + 'static) -> Self {
        self.extensions.push(Extension::Add(std::sync::Arc::new(f)));
        self
    }

    /// Patches every rendered object of kind `T` (named `name`, when given)
    /// in each environment, after the builders and before the check. A named
    /// patch that matches no object of the environment is an error.
    pub fn patch<T: TypedKind + 'static>(
        mut self,
        name: Option<&str>,
        f: impl Fn(&EnvironmentProfile, &mut T) + Send + Sync + 'static,
    ) -> Self {
        self.extensions.push(Extension::patch(name, f));
        self
    }

    /// Lets the pods of namespace `from` reach container port `port` of
    /// `service`'s pods (a Prometheus scraping them, say).
    pub fn allow_ingress(mut self, service: Name, from: Name, port: &str) -> Self {
        self.extensions.push(Extension::AllowIngress { service, from, port: port.into() });
        self
    }

    /// Sets the form the platform's release tags take ([`TagRule::GitSha`],
    /// `sha-<hex>`, by default).
    pub fn tag_rule(mut self, rule: TagRule) -> Self {
        self.tag_rule = rule;
        self
    }

    /// The services whose image the release files pin: those with their own image.
    pub fn released(&self) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(|s| matches!(s.image, WorkloadImage::Own(_)))
    }

    /// Sets the Argo CD topology.
    pub fn topology(mut self, topology: Topology) -> Self {
        self.topology = topology;
        self
    }

    /// Adds a service.
    pub fn service(mut self, service: Service) -> Self {
        self.services.push(service);
        self
    }

    /// The service called `name`, if the platform defines one.
    pub fn find(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name.as_str() == name)
    }

    /// The services with a route in an environment that exposes `opt_in`,
    /// in platform order: what that environment's ingress serves.
    pub fn exposed_routes<'a>(
        &'a self,
        opt_in: &'a [Name],
    ) -> impl Iterator<Item = (&'a Service, &'a Route)> {
        self.services.iter().filter_map(move |s| s.exposed_route(opt_in).map(|r| (s, r)))
    }

    /// Checks what the type system cannot: unique names, known dependencies,
    /// distinct routes, names that stay valid once suffixed, and every
    /// service's own definition (probes and Service ports on declared ports,
    /// calls only to services with a Service, no variable the renderer sets
    /// itself, a valid cron schedule, …). Returns the first problem found, as
    /// a [`PlatformError`] pointing at the service's definition.
    /// [`render_environment`](crate::render_environment) runs it first.
    pub fn validate(&self) -> Result<(), PlatformError> {
        // Every name, for dependency lookups that stay linear in the size of the platform.
        let defined: FxHashSet<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        let mut routes: BTreeMap<&str, &Name> = BTreeMap::new();
        // Every Service name, whichever service renders it.
        let mut service_names: BTreeMap<Name, &Name> = BTreeMap::new();
        let mut config_maps: BTreeMap<Name, &Name> = BTreeMap::new();
        for s in &self.services {
            let err = |problem: String, fix: &str| s.error(problem, fix);
            if !seen.insert(&s.name) {
                return Err(err("is defined twice".into(), "give each service a unique name"));
            }
            // `<name>-db-credentials` is the longest derived object name.
            let longest = s.name.as_str().len() + "-db-credentials".len();
            if s.database.is_some() && longest > MAX_LABEL_LEN {
                return Err(err(
                    format!("has a database, and `{}-db-credentials` would be {longest} characters", s.name),
                    "shorten the service name to 48 characters or fewer",
                ));
            }
            s.validate_container(&err)?;
            for dep in &s.depends_on {
                if dep == &s.name {
                    return Err(err("depends on itself".into(), "remove it from its own depends_on"));
                }
                if !defined.contains(dep.as_str()) {
                    return Err(err(
                        format!("depends on `{dep}`, which the platform does not define"),
                        "define that service or remove the dependency",
                    ));
                }
                let callee = self.find(dep.as_str()).expect("defined");
                let Some(exposure) = callee.own_exposure() else {
                    return Err(err(
                        format!("calls `{dep}`, which has no Service named after it"),
                        "expose the callee (its default Service, or `Expose` without `named`) or drop the call",
                    ));
                };
                if let Some(port) = s.addresses.get(dep).and_then(|a| a.port.as_ref())
                    && !exposure.ports.iter().any(|p| &p.name == port)
                {
                    return Err(err(
                        format!("calls `{dep}` on port `{port}`, which its Service does not have"),
                        "name a port of the callee's Service in `Address::via_port`",
                    ));
                }
            }
            for dep in s.addresses.keys() {
                if !s.depends_on.contains(dep) {
                    return Err(err(
                        format!("has an address for `{dep}`, which it does not call"),
                        "declare the call with `calls`",
                    ));
                }
            }
            for exposure in &s.exposes {
                let name = s.exposure_name(exposure);
                if name.as_str() == "kubernetes" {
                    // The kubelet gives every pod of a namespace the
                    // `KUBERNETES_SERVICE_HOST` of a Service called
                    // `kubernetes` there, in place of the API server's:
                    // in-cluster clients would send their tokens to it.
                    return Err(err(
                        "renders a Service named `kubernetes`, which would take the API server's place for every pod of the namespace (KUBERNETES_SERVICE_HOST)".into(),
                        "give the service or its exposure another name",
                    ));
                }
                if let Some(other) = service_names.insert(name.clone(), &s.name) {
                    return Err(err(
                        format!("exposes a Service `{name}`, which `{other}` renders already"),
                        "give each Service its own name",
                    ));
                }
            }
            if let Some(route) = &s.route {
                if s.own_exposure().is_none_or(|e| e.ports.is_empty()) {
                    return Err(err(
                        format!("has route `{}` but no Service named after it", route.path),
                        "keep the default Service, or expose one without `named` and with a port",
                    ));
                }
                if !is_http_path(&route.path) || (route.path.len() > 1 && route.path.ends_with('/')) {
                    return Err(err(
                        format!("has route `{}`", route.path),
                        "use `/` or an absolute prefix without a trailing slash, e.g. `/identity`",
                    ));
                }
                if let Some(other) = routes.insert(&route.path, &s.name) {
                    return Err(err(
                        format!("routes `{}`, which `{other}` routes already", route.path),
                        "give each service its own path prefix",
                    ));
                }
            }
            let generated = s.generated_env();
            for key in s.env.keys().chain(generated.iter()) {
                if !is_env_name(key) {
                    return Err(err(
                        format!("sets variable `{key}`"),
                        "use a name of letters, digits and `_`",
                    ));
                }
            }
            for (i, key) in generated.iter().enumerate() {
                if generated[..i].contains(key) {
                    return Err(err(
                        format!(
                            "gets variable `{key}` twice (port, connection string or dependency address)"
                        ),
                        "give each dependency address its own variable",
                    ));
                }
            }
            for key in s.env.keys() {
                if generated.contains(key) {
                    return Err(err(
                        format!("sets variable `{key}`, which the renderer sets itself"),
                        "drop it from env: the renderer sets the port variable, the database connection string and each dependency's address",
                    ));
                }
            }
            let mut connection_vars: Vec<&str> = s.database.iter().map(|d| d.env()).collect();
            for owner in &s.shared_databases {
                let Some(db) =
                    self.find(owner.as_str()).filter(|o| o.name != s.name).and_then(|o| o.database.as_ref())
                else {
                    return Err(err(
                        format!(
                            "uses the database of `{owner}`, which is not another service with a database"
                        ),
                        "name a service of the platform that owns a database",
                    ));
                };
                let var = db.env();
                let clash = connection_vars.contains(&var)
                    || s.env.contains_key(var)
                    || generated
                        .iter()
                        .any(|g| g == var && s.database.as_ref().is_none_or(|d| d.env() != var));
                if clash {
                    return Err(err(
                        format!("gets `{var}` from the database of `{owner}` and from elsewhere too"),
                        "give one of the databases its own variable with `connection_env`",
                    ));
                }
                connection_vars.push(var);
            }
            for file in &s.config_files {
                if let Some(other) = config_maps.insert(file.name.clone(), &s.name) {
                    return Err(err(
                        format!("declares ConfigMap `{}`, which `{other}` declares already", file.name),
                        "give each ConfigMap its own name",
                    ));
                }
                for key in file.files.keys() {
                    let ok = !key.is_empty()
                        && key.len() <= 253
                        && key.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
                        && key != "."
                        && key != "..";
                    if !ok {
                        return Err(err(
                            format!("declares file `{key}` in ConfigMap `{}`", file.name),
                            "name files with letters, digits, `-`, `_` and `.` only",
                        ));
                    }
                }
            }
            for dir in &s.writable_dirs {
                if !dir.starts_with('/') || dir == "/" || dir.contains("..") {
                    return Err(err(
                        format!("lists writable directory `{dir}`"),
                        "use an absolute path below `/`, e.g. `/app/.next/cache`",
                    ));
                }
            }
        }
        let platform_err = |what: &str, problem: String, fix: &str| PlatformError {
            defined_at: "the platform's secrets".into(),
            service: what.into(),
            problem,
            fix: fix.into(),
        };
        for (i, secret) in self.secrets.iter().enumerate() {
            let clash = self.secrets[..i].iter().any(|o| o.name == secret.name)
                || self.services.iter().any(|s| {
                    s.database.is_some() && secret.name.as_str() == format!("{}-db-credentials", s.name)
                });
            if clash {
                return Err(platform_err(
                    secret.name.as_str(),
                    "is declared twice, or under a database's credentials name".into(),
                    "give each secret its own name",
                ));
            }
            let key_ok = |k: &String| {
                !k.is_empty()
                    && k.len() <= 253
                    && k.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
            };
            if secret.keys.is_empty() || !secret.keys.iter().all(key_ok) {
                return Err(platform_err(
                    secret.name.as_str(),
                    format!("has keys {:?}", secret.keys),
                    "declare at least one key, of letters, digits, `-`, `_` and `.`",
                ));
            }
        }
        for s in &self.services {
            let err = |problem: String, fix: &str| s.error(problem, fix);
            for e in &s.secret_env {
                match self.find_secret(&e.secret) {
                    None => {
                        return Err(err(
                            format!(
                                "reads `{}` from secret `{}`, which the platform does not declare",
                                e.env, e.secret
                            ),
                            "declare it with `Platform::secret`",
                        ));
                    }
                    Some(secret) if !secret.keys.contains(&e.key) => {
                        return Err(err(
                            format!(
                                "reads key `{}` of secret `{}`, which declares {:?}",
                                e.key, e.secret, secret.keys
                            ),
                            "read a declared key, or declare it",
                        ));
                    }
                    Some(_) => {}
                }
                if !is_env_name(&e.env) || s.env.contains_key(&e.env) || s.generated_env().contains(&e.env) {
                    return Err(err(
                        format!(
                            "reads `{}` from a secret, and sets it otherwise too (or the name is invalid)",
                            e.env
                        ),
                        "set each variable one way",
                    ));
                }
            }
            for v in &s.volumes {
                if let VolumeSource::Secret { name } = &v.source
                    && self.find_secret(name).is_none()
                {
                    return Err(err(
                        format!("mounts secret `{name}`, which the platform does not declare"),
                        "declare it with `Platform::secret`",
                    ));
                }
            }
        }
        for e in &self.extensions {
            if let Extension::AllowIngress { service, port, .. } = e {
                let ok = self.find(service.as_str()).is_some_and(|s| s.pod_port(port).is_some());
                if !ok {
                    return Err(PlatformError {
                        defined_at: "the platform's extensions".into(),
                        service: service.to_string(),
                        problem: format!(
                            "is opened on port `{port}`, which it does not declare (or it is not a service of the platform)"
                        ),
                        fix: "name a service of the platform and a port its main container declares".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `<NAME>_URL`: the variable that carries a dependency's address.
pub fn dependency_env(dep: &Name) -> String {
    format!("{}_URL", dep.env_var_stem())
}

fn is_mount_path(p: &str) -> bool {
    p.starts_with('/') && p != "/" && !p.split('/').any(|part| part == "..")
}

/// Port names and numbers of one container: valid and distinct.
fn check_ports(ports: &[PortSpec], err: &dyn Fn(String, &str) -> PlatformError) -> Result<(), PlatformError> {
    for (i, p) in ports.iter().enumerate() {
        if !is_port_name(&p.name) || p.number == 0 {
            return Err(err(
                format!("declares port `{}` {}", p.name, p.number),
                "name ports with at most 15 lowercase letters, digits and `-` (at least one letter), numbered above 0",
            ));
        }
        if ports[..i].iter().any(|q| q.name == p.name || (q.number == p.number && q.protocol == p.protocol)) {
            return Err(err(format!("declares port `{}` ({}) twice", p.name, p.number), "keep one"));
        }
    }
    Ok(())
}

/// Each probe asks a port its container declares, and a gRPC port only
/// over gRPC: a probe on any other port never succeeds, and the pod never
/// becomes ready.
fn check_probes(
    probes: &Probes,
    ports: &[PortSpec],
    container: &str,
    err: &dyn Fn(String, &str) -> PlatformError,
) -> Result<(), PlatformError> {
    let declared = |port: &PortRef| {
        ports.iter().find(|p| match port {
            PortRef::Name(name) => &p.name == name,
            PortRef::Number(n) => p.number == *n,
        })
    };
    for probe in [&probes.startup, &probes.readiness, &probes.liveness].into_iter().flatten() {
        let (port, http) = match &probe.action {
            ProbeAction::Http { path, port, .. } => {
                if !is_http_path(path) {
                    return Err(err(
                        format!("probes path `{path}` in container `{container}`"),
                        "use an absolute path such as `/health`",
                    ));
                }
                (port.clone(), true)
            }
            ProbeAction::Grpc { port, .. } => (PortRef::Number(*port), false),
            ProbeAction::Tcp { port } => (port.clone(), false),
            ProbeAction::Exec { command } => {
                if command.is_empty() {
                    return Err(err(
                        format!("has an exec probe with no command in container `{container}`"),
                        "give the probe its command",
                    ));
                }
                continue;
            }
        };
        let Some(spec) = declared(&port) else {
            let shown = match &port {
                PortRef::Name(n) => n.clone(),
                PortRef::Number(n) => n.to_string(),
            };
            return Err(err(
                format!("probes port `{shown}`, which container `{container}` does not declare"),
                "probe a port the container listens on (see `listen`), or change the probe",
            ));
        };
        if http && spec.app_protocol == Some(crate::spec::AppProtocol::Grpc) {
            return Err(err(
                format!("probes gRPC port `{}` of container `{container}` over HTTP", spec.name),
                "use `ProbeSpec::grpc` (or an exec probe such as grpc_health_probe)",
            ));
        }
    }
    Ok(())
}

fn is_http_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.contains("//")
        && p.bytes().all(|c| c.is_ascii_alphanumeric() || b"/-._~".contains(&c))
}

fn is_env_name(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// A platform definition that cannot render, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{defined_at}: service `{service}` {problem}; {fix}")]
pub struct PlatformError {
    /// `file:line:column` of the service's definition.
    pub defined_at: String,
    /// The service's name.
    pub service: String,
    /// What is wrong.
    pub problem: String,
    /// What to change.
    pub fix: String,
}

impl Service {
    #[track_caller]
    fn new(name: Name, kind: ServiceKind, image: WorkloadImage) -> Self {
        let http = kind != ServiceKind::Worker;
        Service {
            name,
            defined_at: Location::caller(),
            kind,
            controller: Controller::Deployment,
            image,
            container_name: None,
            command: None,
            args: None,
            working_dir: None,
            ports: if http { vec![PortSpec::tcp(HTTP_PORT, 3000)] } else { Vec::new() },
            port_env: http.then(|| PORT_ENV.to_owned()),
            probes: if http {
                Probes {
                    startup: Some(ProbeSpec::http("/health", HTTP_PORT, STARTUP)),
                    readiness: Some(ProbeSpec::http("/health", HTTP_PORT, READINESS)),
                    liveness: Some(ProbeSpec::tcp(HTTP_PORT, LIVENESS)),
                }
            } else {
                Probes::default()
            },
            exposes: if http {
                vec![Expose::new(ServiceType::ClusterIp, &[(HTTP_PORT, SERVICE_PORT as u16, HTTP_PORT)])]
            } else {
                Vec::new()
            },
            route: None,
            database: None,
            shared_databases: Vec::new(),
            depends_on: Vec::new(),
            addresses: BTreeMap::new(),
            env: BTreeMap::new(),
            secret_env: Vec::new(),
            writable_dirs: Vec::new(),
            volumes: Vec::new(),
            tmp: (Memory(64), false),
            node_selector: BTreeMap::new(),
            config_files: Vec::new(),
            init_containers: Vec::new(),
            sidecars: Vec::new(),
            run_as: None,
            run_as_group: None,
            sizing: None,
        }
    }

    /// A backend API listening on port 3000 (`http`) with `/health`, behind
    /// a ClusterIP Service on port 80.
    #[track_caller]
    pub fn api(name: Name, image: ImageRepository) -> Self {
        Self::new(name, ServiceKind::Api, WorkloadImage::Own(image))
    }

    /// A web front end listening on port 3000 (`http`) with `/health`,
    /// behind a ClusterIP Service on port 80.
    #[track_caller]
    pub fn web(name: Name, image: ImageRepository) -> Self {
        Self::new(name, ServiceKind::Web, WorkloadImage::Own(image))
    }

    /// A worker: a Deployment with no port, no probe and no Service. Give it
    /// a `command` when it shares its image with a server.
    #[track_caller]
    pub fn worker(name: Name, image: ImageRepository) -> Self {
        Self::new(name, ServiceKind::Worker, WorkloadImage::Own(image))
    }

    /// A server of a third-party image (a cache, a broker) pinned by version,
    /// and by digest when given: an API in every other respect, with no port,
    /// probe or Service until one is declared with [`Service::listen`].
    #[track_caller]
    pub fn third_party(name: Name, image: PinnedImage) -> Self {
        let mut s = Self::new(name, ServiceKind::Api, WorkloadImage::Pinned(image));
        s.ports.clear();
        s.port_env = None;
        s.probes = Probes::default();
        s.exposes.clear();
        s
    }

    /// Runs the pods as a StatefulSet, each with `claims` of its own.
    pub fn stateful<I: IntoIterator<Item = ClaimTemplate>>(mut self, claims: I) -> Self {
        self.controller = Controller::StatefulSet { claims: claims.into_iter().collect() };
        self
    }

    /// Runs the pod on a five-field cron `schedule` (UTC unless
    /// [`Service::time_zone`] says otherwise), never two at once.
    pub fn cron(mut self, schedule: &str) -> Self {
        self.controller = Controller::CronJob { schedule: schedule.into(), time_zone: None };
        self
    }

    /// The IANA time zone of a cron schedule (`Europe/Paris`).
    pub fn time_zone(mut self, zone: &str) -> Self {
        if let Controller::CronJob { time_zone, .. } = &mut self.controller {
            *time_zone = Some(zone.into());
        }
        self
    }

    /// Runs the pod as an Argo CD hook Job of every sync, in `phase`.
    pub fn hook(mut self, phase: crate::crd::argocd::HookPhase) -> Self {
        self.controller = Controller::HookJob { phase };
        self
    }

    /// Sets the primary port's number (`http` 3000 by default).
    pub fn port(mut self, port: u16) -> Self {
        match self.ports.first_mut() {
            Some(p) => p.number = port,
            None => self.ports.push(PortSpec::tcp(HTTP_PORT, port)),
        }
        self
    }

    /// The HTTP path the startup and readiness probes ask (`/health`).
    pub fn health_path(mut self, path: &str) -> Self {
        for probe in [&mut self.probes.startup, &mut self.probes.readiness].into_iter().flatten() {
            if let ProbeAction::Http { path: p, .. } = &mut probe.action {
                *p = path.into();
            }
        }
        self
    }

    /// The container listens on exactly these ports (the first is primary),
    /// exposed one to one by a ClusterIP Service with the same numbers, and
    /// probed by a TCP connect on the primary port until probes say
    /// otherwise. Replaces the `http` port of `api` and `web`.
    pub fn listen<I: IntoIterator<Item = PortSpec>>(mut self, ports: I) -> Self {
        self.ports = ports.into_iter().collect();
        let primary = self.ports.first().map(|p| p.name.clone());
        self.exposes = if self.ports.is_empty() {
            Vec::new()
        } else {
            let service_ports: Vec<(&str, u16, &str)> =
                self.ports.iter().map(|p| (p.name.as_str(), p.number, p.name.as_str())).collect();
            vec![Expose::new(ServiceType::ClusterIp, &service_ports)]
        };
        self.probes = match primary {
            Some(port) => Probes {
                startup: None,
                readiness: Some(ProbeSpec::tcp(PortRef::Name(port.clone()), READINESS)),
                liveness: Some(ProbeSpec::tcp(PortRef::Name(port), LIVENESS)),
            },
            None => Probes::default(),
        };
        self
    }

    /// The Services in front of the pods, replacing the default one.
    pub fn expose<I: IntoIterator<Item = Expose>>(mut self, services: I) -> Self {
        self.exposes = services.into_iter().collect();
        self
    }

    /// Adds one more Service in front of the pods (a LoadBalancer beside the
    /// ClusterIP one).
    pub fn also_expose(mut self, service: Expose) -> Self {
        self.exposes.push(service);
        self
    }

    /// The main container's probes, replacing the defaults.
    pub fn probes(mut self, probes: Probes) -> Self {
        self.probes = probes;
        self
    }

    /// The variable that carries the primary port (`PORT`), or `None` for none.
    pub fn port_env(mut self, env: Option<&str>) -> Self {
        self.port_env = env.map(Into::into);
        self
    }

    /// Names the main container (`server`) instead of after the service.
    pub fn container_name(mut self, name: &str) -> Self {
        self.container_name = Some(name.into());
        self
    }

    /// Runs `command` instead of the image's entrypoint: required for a worker that runs
    /// another service's image (the `shared-image-command` rule).
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, command: I) -> Self {
        self.command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// Passes `args` instead of the image's default arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Runs the main container in `dir`.
    pub fn working_dir(mut self, dir: &str) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Runs the pod as this UID and GID (the image needs its own; never 0).
    pub fn run_as(mut self, id: i64) -> Self {
        self.run_as = Some(id);
        self
    }

    /// Runs the pod as UID `uid` and GID `gid`, its volumes owned by `gid`.
    pub fn run_as_ids(mut self, uid: i64, gid: i64) -> Self {
        self.run_as = Some(uid);
        self.run_as_group = Some(gid);
        self
    }

    /// Replicas and resources in every environment the profile does not override.
    pub fn sizing(mut self, sizing: WorkloadSizing) -> Self {
        self.sizing = Some(sizing);
        self
    }

    /// The `/tmp` of every container: `size`, on node disk or `in_memory`.
    pub fn tmp(mut self, size: Memory, in_memory: bool) -> Self {
        self.tmp = (size, in_memory);
        self
    }

    /// Runs the pods only on nodes labelled `key=value`.
    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        self.node_selector.insert(key.into(), value.into());
        self
    }

    /// One more volume of the pod.
    pub fn volume(mut self, volume: VolumeSpec) -> Self {
        self.volumes.push(volume);
        self
    }

    /// A ConfigMap `name` with `files`, mounted read-only at `dir`.
    pub fn config_file(mut self, name: Name, dir: &str, files: &[(&str, &str)]) -> Self {
        self.volumes.push(VolumeSpec {
            name: name.to_string(),
            source: VolumeSource::ConfigMap { name: name.clone() },
            mount_path: Some(dir.into()),
            read_only: true,
        });
        self.config_files.push(ConfigFiles {
            name,
            files: files.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        });
        self
    }

    /// Adds an init container, run to completion before the main one starts.
    pub fn init_container(mut self, container: ContainerSpec) -> Self {
        self.init_containers.push(container);
        self
    }

    /// Adds a sidecar: a native sidecar (an init container with `restartPolicy: Always`) that
    /// starts before the main container and runs beside it.
    pub fn sidecar(mut self, container: ContainerSpec) -> Self {
        self.sidecars.push(container);
        self
    }

    /// Routes `path` to this service in every environment.
    pub fn route(mut self, path: &str) -> Self {
        self.route = Some(Route { path: path.into(), exposure: Exposure::Always });
        self
    }

    /// Routes `path` to this service only where the profile exposes it.
    pub fn opt_in_route(mut self, path: &str) -> Self {
        self.route = Some(Route { path: path.into(), exposure: Exposure::OptIn });
        self
    }

    /// Gives the service its own Postgres database.
    pub fn postgres(self) -> Self {
        self.database(DatabaseEngine::Postgres)
    }

    /// Gives the service its own MongoDB database.
    pub fn mongodb(self) -> Self {
        self.database(DatabaseEngine::MongoDb)
    }

    /// Gives the service its own MySQL database.
    pub fn mysql(self) -> Self {
        self.database(DatabaseEngine::MySql)
    }

    /// Gives the service its own Redis (a cache or a queue).
    pub fn redis(self) -> Self {
        self.database(DatabaseEngine::Redis)
    }

    /// Gives the service its own database of `engine`, keeping migrations
    /// and connection settings already declared.
    pub fn database(mut self, engine: DatabaseEngine) -> Self {
        let db = self.database.take();
        self.database = Some(Database {
            engine,
            migration: db.as_ref().and_then(|db| db.migration.clone()),
            connection_env: db.as_ref().and_then(|db| db.connection_env.clone()),
            url_query: db.and_then(|db| db.url_query),
        });
        self
    }

    /// Names the variable that carries the connection string of the
    /// service's database (to it and to every service that uses it).
    pub fn connection_env(mut self, env: &str) -> Self {
        if let Some(db) = &mut self.database {
            db.connection_env = Some(env.into());
        }
        self
    }

    /// Ends the connection string with `query` (`schema=public`, what Prisma reads).
    pub fn url_query(mut self, query: &str) -> Self {
        if let Some(db) = &mut self.database {
            db.url_query = Some(query.into());
        }
        self
    }

    /// Connects to the database `owner` owns too (a worker on its server's
    /// database): the same connection variable from the same credentials,
    /// and the NetworkPolicies to match.
    pub fn uses_database_of(mut self, owner: Name) -> Self {
        if !self.shared_databases.contains(&owner) {
            self.shared_databases.push(owner);
        }
        self
    }

    /// Runs `command` with the service's image before each rollout. Without
    /// a database declared first, the service gets a Postgres one.
    pub fn migrations<I: IntoIterator<Item = S>, S: Into<String>>(mut self, command: I) -> Self {
        let command = command.into_iter().map(Into::into).collect();
        let db = self.database.get_or_insert(Database {
            engine: DatabaseEngine::Postgres,
            migration: None,
            connection_env: None,
            url_query: None,
        });
        db.migration = Some(Migration { command });
        self
    }

    /// Calls each of `deps`, told its address as `<NAME>_URL=http://<fqdn>:<port>` (the
    /// callee's first Service port); the NetworkPolicies open exactly these calls.
    pub fn depends_on<I: IntoIterator<Item = Name>>(mut self, deps: I) -> Self {
        self.depends_on.extend(deps);
        self
    }

    /// Calls `dep`, told its address the way `address` says
    /// (`Address::host_port("CART_SERVICE_ADDR")` gives `cartservice:7070`).
    pub fn calls(mut self, dep: Name, address: Address) -> Self {
        if !self.depends_on.contains(&dep) {
            self.depends_on.push(dep.clone());
        }
        self.addresses.insert(dep, address);
        self
    }

    /// Reads variable `env` from key `key` of the application secret `secret`.
    pub fn secret_env(mut self, env: &str, secret: Name, key: &str) -> Self {
        self.secret_env.push(SecretEnv { env: env.into(), secret, key: key.into() });
        self
    }

    /// Mounts every key of the application secret `secret` as a file in
    /// `dir`, read-only.
    pub fn secret_files(mut self, secret: Name, dir: &str) -> Self {
        self.volumes.push(VolumeSpec {
            name: secret.to_string(),
            source: VolumeSource::Secret { name: secret },
            mount_path: Some(dir.into()),
            read_only: true,
        });
        self
    }

    /// Sets the literal variable `key`=`value` on the main container (never a secret: use
    /// [`Service::secret_env`]).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Mounts a writable `emptyDir` at `dir`: the root filesystem is read-only.
    pub fn writable_dir(mut self, dir: &str) -> Self {
        self.writable_dirs.push(dir.into());
        self
    }

    /// A mistake in this service's definition, at the line that defines it.
    fn error(&self, problem: String, fix: &str) -> PlatformError {
        PlatformError {
            defined_at: self.defined_at.to_string(),
            service: self.name.to_string(),
            problem,
            fix: fix.to_owned(),
        }
    }

    /// The main container's name.
    pub fn main_container(&self) -> &str {
        self.container_name.as_deref().unwrap_or(self.name.as_str())
    }

    /// The name of the Service `exposure` renders.
    pub fn exposure_name(&self, exposure: &Expose) -> Name {
        exposure.name.clone().unwrap_or_else(|| self.name.clone())
    }

    /// The Service named after this service, which routes and callers use.
    pub fn own_exposure(&self) -> Option<&Expose> {
        self.exposes.iter().find(|e| e.name.is_none() || e.name.as_ref() == Some(&self.name))
    }

    /// How this service learns `dep`'s address.
    pub fn address_of(&self, dep: &Name) -> Address {
        self.addresses.get(dep).cloned().unwrap_or_else(|| Address::http_url(&dependency_env(dep)))
    }

    /// The variables the renderer sets: the port variable, the database
    /// connection string and every dependency's address.
    pub fn generated_env(&self) -> Vec<String> {
        let mut env: Vec<String> = self.port_env.iter().filter(|_| !self.ports.is_empty()).cloned().collect();
        if let Some(db) = &self.database {
            env.push(db.env().to_owned());
        }
        let mut deps: Vec<&Name> = self.depends_on.iter().collect();
        deps.sort();
        deps.dedup();
        env.extend(deps.into_iter().map(|d| self.address_of(d)).filter(|a| a.announced()).map(|a| a.env));
        env
    }

    /// The port called `name` that a container of the pod declares: the
    /// main container's, else a sidecar's (a Service or a NetworkPolicy may
    /// name either).
    pub fn pod_port(&self, name: &str) -> Option<&PortSpec> {
        self.ports.iter().chain(self.sidecars.iter().flat_map(|c| c.ports.iter())).find(|p| p.name == name)
    }

    /// The port the main container declares under `port`, if any.
    pub fn declared_port(&self, port: &PortRef) -> Option<&PortSpec> {
        self.ports.iter().find(|p| match port {
            PortRef::Name(name) => &p.name == name,
            PortRef::Number(n) => p.number == *n,
        })
    }

    /// What the type system cannot say about the containers, ports, probes,
    /// volumes and Services.
    fn validate_container(&self, err: &dyn Fn(String, &str) -> PlatformError) -> Result<(), PlatformError> {
        if self.kind == ServiceKind::Worker && self.route.is_some() {
            return Err(err(
                "is a worker with a route".into(),
                "route a server, or declare it with `api`/`web`",
            ));
        }
        match &self.controller {
            Controller::Deployment => {}
            Controller::StatefulSet { claims } => {
                for (i, c) in claims.iter().enumerate() {
                    let clash = claims[..i].iter().any(|o| o.name == c.name)
                        || self.volumes.iter().any(|v| v.name == c.name)
                        || c.name == TMP_VOLUME;
                    if !is_dns_label(&c.name) || clash || c.size.0 == 0 || !is_mount_path(&c.mount_path) {
                        return Err(err(
                            format!("claims `{}` of {} at `{}`", c.name, c.size, c.mount_path),
                            "name each claim with its own DNS label, give it a size, and mount it at an absolute path",
                        ));
                    }
                }
            }
            Controller::CronJob { schedule, time_zone } => {
                if schedule.split_whitespace().count() != 5 || schedule.contains("TZ=") {
                    return Err(err(
                        format!("runs on schedule `{schedule}`"),
                        "use a five-field cron expression such as `0 3 * * *`, and `time_zone` for the zone",
                    ));
                }
                if time_zone.as_ref().is_some_and(|z| z.is_empty() || z.contains(' ')) {
                    return Err(err(
                        "has an empty or spaced time zone".into(),
                        "name an IANA zone such as `Europe/Paris`",
                    ));
                }
            }
            Controller::HookJob { .. } => {}
        }
        let runs_to_completion =
            matches!(self.controller, Controller::CronJob { .. } | Controller::HookJob { .. });
        if runs_to_completion && (!self.exposes.is_empty() || self.route.is_some()) {
            return Err(err(
                "runs to completion, yet has a Service or a route".into(),
                "drop its Services (`expose([])`) and route: a job serves nothing",
            ));
        }
        if runs_to_completion && (self.probes.readiness.is_some() || self.probes.startup.is_some()) {
            return Err(err(
                "runs to completion, yet has a readiness or startup probe".into(),
                "drop them (`probes(Probes::default())`): nothing waits for a job to be ready",
            ));
        }
        if !is_dns_label(self.main_container()) {
            return Err(err(
                format!("names its container `{}`", self.main_container()),
                "use a DNS label: lowercase letters, digits and `-`",
            ));
        }
        for (what, list) in [("command", &self.command), ("args", &self.args)] {
            if list.as_ref().is_some_and(|l| l.is_empty() || l.iter().any(String::is_empty)) {
                return Err(err(format!("has an empty {what}"), "leave it unset, or give it its words"));
            }
        }
        if self.run_as.is_some_and(|id| id <= 0) || self.run_as_group.is_some_and(|id| id < 0) {
            return Err(err(
                "runs as root".into(),
                "run as a UID above 0 (the restricted Pod Security profile)",
            ));
        }
        if let Some(sizing) = &self.sizing {
            if sizing.replicas == 0 {
                return Err(err("runs 0 replicas".into(), "run at least one replica"));
            }
            if let Some(problem) = sizing.resources.problem() {
                return Err(err(format!("resources: {problem}"), "raise the limit or lower the request"));
            }
        }
        check_ports(&self.ports, err)?;
        check_probes(&self.probes, &self.ports, self.main_container(), err)?;
        for exposure in &self.exposes {
            let name = self.exposure_name(exposure);
            if exposure.ports.is_empty() && exposure.type_ != ServiceType::Headless {
                return Err(err(format!("exposes Service `{name}` with no port"), "give it a port"));
            }
            for (i, p) in exposure.ports.iter().enumerate() {
                if !is_port_name(&p.name) || p.port == 0 {
                    return Err(err(
                        format!("exposes Service `{name}` port `{}` {}", p.name, p.port),
                        "name Service ports like container ports (at most 15 lowercase letters, digits, `-`) and number them above 0",
                    ));
                }
                if exposure.ports[..i].iter().any(|q| q.name == p.name || q.port == p.port) {
                    return Err(err(
                        format!("exposes port `{}` ({}) twice on Service `{name}`", p.name, p.port),
                        "give each Service port its own name and number",
                    ));
                }
                if self.pod_port(&p.target).is_none() {
                    return Err(err(
                        format!(
                            "exposes Service `{name}` port {} to `{}`, which no container of its pod declares",
                            p.port, p.target
                        ),
                        "target a port named in `listen` (or the default `http`), or a sidecar's",
                    ));
                }
                match (exposure.type_, p.node_port) {
                    (ServiceType::NodePort, Some(n)) if !(30000..=32767).contains(&n) => {
                        return Err(err(
                            format!("asks for node port {n} on Service `{name}`"),
                            "use a node port from 30000 to 32767, or let the cluster choose",
                        ));
                    }
                    (ServiceType::NodePort, _) | (_, None) => {}
                    (_, Some(_)) => {
                        return Err(err(
                            format!(
                                "asks for a node port on Service `{name}`, which is not a NodePort Service"
                            ),
                            "use `ServiceType::NodePort`, or drop the node port",
                        ));
                    }
                }
            }
        }
        let mut volumes: Vec<&str> = vec![TMP_VOLUME];
        let writable: Vec<String> = (0..self.writable_dirs.len()).map(|i| format!("writable-{i}")).collect();
        volumes.extend(writable.iter().map(String::as_str));
        for v in &self.volumes {
            if !is_dns_label(&v.name) || volumes.contains(&v.name.as_str()) {
                return Err(err(
                    format!("has volume `{}` twice, or under a reserved or invalid name", v.name),
                    "name volumes with a DNS label other than `tmp` and `writable-<n>`",
                ));
            }
            if let Some(path) = &v.mount_path
                && !is_mount_path(path)
            {
                return Err(err(
                    format!("mounts `{}` at `{path}`", v.name),
                    "use an absolute path below `/`",
                ));
            }
            if let VolumeSource::EmptyDir { size, .. } = v.source
                && size.0 == 0
            {
                return Err(err(format!("has emptyDir `{}` of size 0", v.name), "give it a size"));
            }
            volumes.push(&v.name);
        }
        let mut names = vec![self.main_container()];
        for c in self.init_containers.iter().chain(&self.sidecars) {
            if !is_dns_label(&c.name) || names.contains(&c.name.as_str()) {
                return Err(err(
                    format!("has container `{}` twice, or under an invalid name", c.name),
                    "give every container of the pod its own DNS-label name",
                ));
            }
            names.push(&c.name);
            check_ports(&c.ports, err)?;
            check_probes(&c.probes, &c.ports, &c.name, err)?;
            for (volume, path, _) in &c.mounts {
                if !volumes.contains(&volume.as_str()) || !is_mount_path(path) {
                    return Err(err(
                        format!("mounts volume `{volume}` at `{path}` in container `{}`", c.name),
                        "mount a volume the service declares, at an absolute path",
                    ));
                }
            }
            for (key, _) in &c.env {
                if !is_env_name(key) {
                    return Err(err(
                        format!("sets variable `{key}` in container `{}`", c.name),
                        "use letters, digits and `_`",
                    ));
                }
            }
            if c.resources.is_some_and(|r| r.problem().is_some()) {
                return Err(err(
                    format!("sizes container `{}` wrongly", c.name),
                    "keep requests at or below limits, above zero",
                ));
            }
        }
        // Two mounts at one path: the API server refuses the pod.
        let mut paths: Vec<&str> = vec!["/tmp"];
        paths.extend(self.writable_dirs.iter().map(String::as_str));
        paths.extend(self.volumes.iter().filter_map(|v| v.mount_path.as_deref()));
        if let Controller::StatefulSet { claims } = &self.controller {
            paths.extend(claims.iter().map(|c| c.mount_path.as_str()));
        }
        let mut containers: Vec<(&str, Vec<&str>)> = vec![(self.main_container(), paths)];
        for c in self.init_containers.iter().chain(&self.sidecars) {
            let mut paths = vec!["/tmp"];
            paths.extend(c.mounts.iter().map(|(_, path, _)| path.as_str()));
            containers.push((&c.name, paths));
        }
        for (container, paths) in &containers {
            let normal = |p: &str| p.trim_end_matches('/').to_owned();
            for (i, path) in paths.iter().enumerate() {
                if paths[..i].iter().any(|q| normal(q) == normal(path)) {
                    return Err(err(
                        format!("mounts two volumes at `{path}` in container `{container}`"),
                        "give each volume its own path (`tmp` sets the size and medium of `/tmp`)",
                    ));
                }
            }
        }
        if self.tmp.0.0 == 0 {
            return Err(err("has a /tmp of size 0".into(), "give /tmp a size"));
        }
        for dir in &self.writable_dirs {
            if !is_mount_path(dir) {
                return Err(err(
                    format!("lists writable directory `{dir}`"),
                    "use an absolute path below `/`, e.g. `/app/.next/cache`",
                ));
            }
        }
        Ok(())
    }

    /// The route this service has in an environment that exposes `opt_in`.
    pub fn exposed_route(&self, opt_in: &[Name]) -> Option<&Route> {
        self.route.as_ref().filter(|r| r.exposure == Exposure::Always || opt_in.contains(&self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name;

    const IMG: ImageRepository = ImageRepository::from_static("docker.io/acme/a");

    fn ok_platform() -> Platform {
        Platform::new(name!("acme"))
            .service(Service::web(name!("web"), IMG).route("/").depends_on([name!("api")]))
            .service(Service::api(name!("api"), IMG).route("/api").postgres().migrations(["migrate"]))
    }

    #[test]
    fn a_sound_platform_validates() {
        ok_platform().validate().unwrap();
    }

    fn problem(p: Platform) -> String {
        p.validate().unwrap_err().to_string()
    }

    #[test]
    fn duplicate_names_are_refused() {
        let p = ok_platform().service(Service::api(name!("api"), IMG));
        let text = problem(p);
        assert!(text.starts_with("crates/gitops-core/src/platform.rs:"), "names the defining line: {text}");
        assert!(text.ends_with("service `api` is defined twice; give each service a unique name"), "{text}");
    }

    #[test]
    fn unknown_and_self_dependencies_are_refused() {
        let p = ok_platform().service(Service::api(name!("x"), IMG).depends_on([name!("nope")]));
        assert!(problem(p).contains("depends on `nope`, which the platform does not define"));
        let p = ok_platform().service(Service::api(name!("x"), IMG).depends_on([name!("x")]));
        assert!(problem(p).contains("depends on itself"));
    }

    #[test]
    fn colliding_and_malformed_routes_are_refused() {
        let p = ok_platform().service(Service::api(name!("x"), IMG).route("/api"));
        assert!(problem(p).contains("routes `/api`, which `api` routes already"));
        for bad in ["api", "/api/", "/a b", "//x"] {
            let p = ok_platform().service(Service::api(name!("x"), IMG).route(bad));
            assert!(problem(p).contains("has route"), "{bad}");
        }
    }

    #[test]
    fn generated_variables_cannot_be_overridden() {
        for key in ["PORT", "DATABASE_URL", "API_URL", "1X", "A-B"] {
            let p = ok_platform()
                .service(Service::api(name!("x"), IMG).postgres().depends_on([name!("api")]).env(key, "v"));
            assert!(problem(p).contains(&format!("sets variable `{key}`")), "{key}");
        }
        // An address of the caller's choosing is generated too, and a
        // service without a database may name its own connection variable.
        let call = |key: &str| {
            Service::api(name!("x"), IMG).calls(name!("api"), Address::host_port("API_ADDR")).env(key, "v")
        };
        assert!(problem(ok_platform().service(call("API_ADDR"))).contains("sets variable `API_ADDR`"));
        ok_platform().service(call("API_URL")).validate().unwrap();
        ok_platform().service(call("MONGODB_URI")).validate().unwrap();
        // Two dependencies told apart by one variable would overwrite each other.
        let twice = Service::api(name!("x"), IMG)
            .calls(name!("api"), Address::host_port("UPSTREAM"))
            .calls(name!("web"), Address::host_port("UPSTREAM"));
        assert!(problem(ok_platform().service(twice)).contains("gets variable `UPSTREAM` twice"));
    }

    #[test]
    fn derived_names_must_stay_short_enough() {
        let long = Name::new("s".repeat(49)).unwrap();
        let p = ok_platform().service(Service::api(long, IMG).postgres());
        assert!(problem(p).contains("shorten the service name"));
    }

    #[test]
    fn the_engine_can_change_and_migrations_stay() {
        let s = Service::api(name!("x"), IMG).postgres().migrations(["m"]).mongodb();
        let db = s.database.unwrap();
        assert_eq!(db.engine, DatabaseEngine::MongoDb);
        assert_eq!(db.migration.unwrap().command, ["m"]);
        assert_eq!(DatabaseEngine::MongoDb.connection_env(), "MONGODB_URI");
        assert_eq!(DatabaseEngine::Postgres.connection_env(), DATABASE_URL_ENV);
    }

    #[test]
    fn opt_in_routes_need_the_profile() {
        let s = Service::api(name!("notifications"), IMG).opt_in_route("/notifications");
        assert!(s.exposed_route(&[]).is_none());
        assert_eq!(s.exposed_route(&[name!("notifications")]).unwrap().path, "/notifications");
    }
}
