//! Platform definitions: what runs, independent of where.
//!
//! A [`Platform`] is a list of [`Service`]s built with typed builders: each
//! service has an image repository, a port, an optional route on the shared
//! ingress host, an optional database with migrations, and the services it
//! calls. The environment decides sizes, hosts and storage.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::Location;

use crate::hash::FxHashSet;
use crate::image::ImageRepository;
use crate::name::{MAX_LABEL_LEN, Name};

#[derive(Debug, Clone)]
pub struct Platform {
    /// `app.kubernetes.io/part-of`, and the stem of shared object names.
    pub name: Name,
    pub services: Vec<Service>,
    pub topology: Topology,
}

/// How the platform's environments are cut into Argo CD Applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Topology {
    /// One Application per environment, syncing `deploy/<env>` (seed 000).
    #[default]
    PerEnvironment,
    /// One Application per service per environment, syncing
    /// `deploy/<env>/<service>`, plus one for the shared objects in
    /// `deploy/<env>/platform` (seed 002).
    PerService,
}

/// What kind of workload a service is; the profile sizes each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKind {
    /// A backend API.
    Api,
    /// A web front end.
    Web,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: Name,
    /// Where the service is defined (`Service::api` / `Service::web` record
    /// their caller), so errors point at the line to change.
    pub defined_at: &'static Location<'static>,
    pub kind: ServiceKind,
    pub image: ImageRepository,
    /// The port the container listens on.
    pub port: u16,
    /// HTTP path the kubelet probes.
    pub health_path: String,
    pub route: Option<Route>,
    pub database: Option<Database>,
    /// Services this one calls; each gets a `<NAME>_URL` variable.
    pub depends_on: Vec<Name>,
    /// Plain, non-secret configuration.
    pub env: BTreeMap<String, String>,
    /// Directories the program writes to; each becomes an `emptyDir` so the
    /// root filesystem stays read-only.
    pub writable_dirs: Vec<String>,
}

/// A path prefix on the environment's ingress host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub path: String,
    pub exposure: Exposure,
}

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
    pub engine: DatabaseEngine,
    /// Schema migrations run before the service starts, with the service's image.
    pub migration: Option<Migration>,
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
}

impl DatabaseEngine {
    pub const ALL: [DatabaseEngine; 2] = [DatabaseEngine::Postgres, DatabaseEngine::MongoDb];

    /// Lowercase name: the database container's name and port name, and
    /// how profile errors name the engine (`postgres`, `mongodb`).
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseEngine::Postgres => "postgres",
            DatabaseEngine::MongoDb => "mongodb",
        }
    }

    /// The port the database listens on.
    pub fn port(self) -> i32 {
        match self {
            DatabaseEngine::Postgres => 5432,
            DatabaseEngine::MongoDb => 27017,
        }
    }

    /// The variable (and credentials Secret key) that carries the
    /// connection string the owning service reads.
    pub fn connection_env(self) -> &'static str {
        match self {
            DatabaseEngine::Postgres => DATABASE_URL_ENV,
            DatabaseEngine::MongoDb => MONGODB_URI_ENV,
        }
    }
}

impl std::fmt::Display for DatabaseEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub command: Vec<String>,
}

/// Port every Service of the platform listens on.
pub const SERVICE_PORT: i32 = 80;
/// The variable that carries a Postgres connection string.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";
/// The variable that carries a MongoDB connection string.
pub const MONGODB_URI_ENV: &str = "MONGODB_URI";
/// The variable that carries the listening port.
pub const PORT_ENV: &str = "PORT";

impl Platform {
    pub fn new(name: Name) -> Self {
        Platform { name, services: Vec::new(), topology: Topology::default() }
    }

    pub fn topology(mut self, topology: Topology) -> Self {
        self.topology = topology;
        self
    }

    pub fn service(mut self, service: Service) -> Self {
        self.services.push(service);
        self
    }

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
    /// distinct routes, names that stay valid once suffixed.
    pub fn validate(&self) -> Result<(), PlatformError> {
        // Every name, for dependency lookups that stay linear in the size of the platform.
        let defined: FxHashSet<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        let mut routes: BTreeMap<&str, &Name> = BTreeMap::new();
        for s in &self.services {
            let err = |problem: String, fix: &str| PlatformError {
                defined_at: s.defined_at.to_string(),
                service: s.name.to_string(),
                problem,
                fix: fix.to_owned(),
            };
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
            if s.port == 0 {
                return Err(err("listens on port 0".into(), "set the port the container listens on"));
            }
            if !is_http_path(&s.health_path) {
                return Err(err(
                    format!("has health path `{}`", s.health_path),
                    "use an absolute path such as `/health`",
                ));
            }
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
            }
            if let Some(route) = &s.route {
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
            for key in s.env.keys() {
                let generated = key == PORT_ENV
                    || DatabaseEngine::ALL.iter().any(|e| key == e.connection_env())
                    || s.depends_on.iter().any(|d| *key == dependency_env(d));
                if !is_env_name(key) || generated {
                    return Err(err(
                        format!("sets variable `{key}`"),
                        "use a name of letters, digits and `_` that the renderer does not set itself (PORT, DATABASE_URL, MONGODB_URI, <DEPENDENCY>_URL)",
                    ));
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
        Ok(())
    }
}

/// `<NAME>_URL`: the variable that carries a dependency's address.
pub fn dependency_env(dep: &Name) -> String {
    format!("{}_URL", dep.env_var_stem())
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
    pub service: String,
    pub problem: String,
    pub fix: String,
}

impl Service {
    #[track_caller]
    fn new(name: Name, kind: ServiceKind, image: ImageRepository) -> Self {
        Service {
            name,
            defined_at: Location::caller(),
            kind,
            image,
            port: 3000,
            health_path: "/health".into(),
            route: None,
            database: None,
            depends_on: Vec::new(),
            env: BTreeMap::new(),
            writable_dirs: Vec::new(),
        }
    }

    /// A backend API listening on port 3000 with `/health`.
    #[track_caller]
    pub fn api(name: Name, image: ImageRepository) -> Self {
        Self::new(name, ServiceKind::Api, image)
    }

    /// A web front end listening on port 3000 with `/health`.
    #[track_caller]
    pub fn web(name: Name, image: ImageRepository) -> Self {
        Self::new(name, ServiceKind::Web, image)
    }

    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    pub fn health_path(mut self, path: &str) -> Self {
        self.health_path = path.into();
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

    /// Gives the service its own database of `engine`, keeping migrations
    /// already declared.
    pub fn database(mut self, engine: DatabaseEngine) -> Self {
        let migration = self.database.take().and_then(|db| db.migration);
        self.database = Some(Database { engine, migration });
        self
    }

    /// Runs `command` with the service's image before each rollout. Without
    /// a database declared first, the service gets a Postgres one.
    pub fn migrations<I: IntoIterator<Item = S>, S: Into<String>>(mut self, command: I) -> Self {
        let command = command.into_iter().map(Into::into).collect();
        let db = self.database.get_or_insert(Database { engine: DatabaseEngine::Postgres, migration: None });
        db.migration = Some(Migration { command });
        self
    }

    pub fn depends_on<I: IntoIterator<Item = Name>>(mut self, deps: I) -> Self {
        self.depends_on.extend(deps);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn writable_dir(mut self, dir: &str) -> Self {
        self.writable_dirs.push(dir.into());
        self
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
        for key in ["PORT", "DATABASE_URL", "MONGODB_URI", "API_URL", "1X", "A-B"] {
            let p =
                ok_platform().service(Service::api(name!("x"), IMG).depends_on([name!("api")]).env(key, "v"));
            assert!(problem(p).contains(&format!("sets variable `{key}`")), "{key}");
        }
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
