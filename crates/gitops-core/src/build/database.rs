//! A service's own database: credentials from the secret backend, a
//! StatefulSet on the environment's StorageClass, and a headless Service.
//! What differs between engines (image, port, probe, data path, how the
//! password is read) is in the private `container` function; the rest is the same for all.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodTemplateSpec,
    SecretVolumeSource, Service, ServicePort, ServiceSpec, Volume, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::{self, LIVENESS, ProbeTiming, READINESS, STARTUP};
use super::{Ctx, RenderError};
use crate::Object;
use crate::crd::CustomResource;
use crate::crd::external_secrets::{
    CreationPolicy, DeletionPolicy, ExternalSecret, ExternalSecretData, ExternalSecretSpec,
    ExternalSecretTarget, ExternalSecretTemplate, RemoteRef, SecretStore, SecretStoreProvider,
    SecretStoreRef, SecretStoreSpec, ServiceAccountSelector, TemplateEngineVersion, TemplateMergePolicy,
    VaultAuth, VaultKubernetesAuth, VaultProvider,
};
use crate::crd::sealed_secrets::{SealedSecret, SealedSecretSpec, SecretTemplate, TemplateMetadata};
use crate::meta::{Component, Labels, SyncWave};
use crate::name::Name;
use crate::platform::DatabaseEngine;
use crate::profile::{DatabaseProfile, Memory, SecretBackend, SecretStoreProfile};

const DATA_VOLUME: &str = "data";
const CREDENTIALS_VOLUME: &str = "credentials";

/// The key of the database user in a credentials Secret.
pub const USERNAME_KEY: &str = "username";
/// The key of the database password.
pub const PASSWORD_KEY: &str = "password";
/// The key of the database's name.
pub const DBNAME_KEY: &str = "dbname";

/// The names derived from a service that owns a database, and its engine.
pub struct DatabaseNames {
    /// StatefulSet and headless Service: `<service>-db`.
    pub database: Name,
    /// ExternalSecret and the Secret it writes: `<service>-db-credentials`.
    pub credentials: Name,
    /// The engine: its image, port and connection variable come from it.
    pub engine: DatabaseEngine,
    /// What the connection string ends with (`schema=public` for Prisma).
    pub url_query: Option<String>,
}

impl DatabaseNames {
    /// The names of `service`'s database of `engine`; an error when a
    /// derived name would be longer than a DNS label allows.
    pub fn of(service: &Name, engine: DatabaseEngine) -> Result<Self, crate::name::NameError> {
        let database = service.suffixed("db")?;
        let credentials = database.suffixed("credentials")?;
        Ok(DatabaseNames { database, credentials, engine, url_query: None })
    }

    /// The names of the database `service` owns, with its connection settings.
    pub fn owned(service: &Name, db: &crate::platform::Database) -> Result<Self, crate::name::NameError> {
        Ok(DatabaseNames { url_query: db.url_query.clone(), ..Self::of(service, db.engine)? })
    }

    /// The named container and Service port: the engine's name (`postgres`).
    pub fn port_name(&self) -> &'static str {
        self.engine.as_str()
    }
}

/// The keys of a credentials Secret for `engine` that the secret store (or
/// whoever seals or creates it) provides: username, password and database
/// name; Redis has a password only.
pub fn stored_keys(engine: DatabaseEngine) -> &'static [&'static str] {
    match engine {
        DatabaseEngine::Redis => &[PASSWORD_KEY],
        _ => &[USERNAME_KEY, PASSWORD_KEY, DBNAME_KEY],
    }
}

/// Every key a credentials Secret for `engine` holds, whatever delivers it:
/// the stored keys and the connection string.
pub fn credential_keys(engine: DatabaseEngine) -> Vec<&'static str> {
    let mut keys = stored_keys(engine).to_vec();
    keys.push(engine.connection_env());
    keys
}

/// What delivers `<service>-db-credentials`, by the profile's backend: an
/// ExternalSecret, a SealedSecret of committed ciphertext, or nothing (a
/// Secret made out of band).
pub fn credentials(ctx: &Ctx, names: &DatabaseNames) -> Result<Option<Object>, RenderError> {
    Ok(match &ctx.profile.secrets {
        SecretBackend::External(store) => Some(external_credentials(ctx, store, names).into()),
        SecretBackend::Sealed { dir } => Some(sealed(ctx, dir, &names.credentials)?),
        SecretBackend::OutOfBand => None,
    })
}

/// The SealedSecret `name` of the environment, from the ciphertext read from
/// `<dir>/<name>.yaml` (`kubeseal` output); an error naming that file when
/// there is none.
fn sealed(ctx: &Ctx, dir: &str, name: &Name) -> Result<Object, RenderError> {
    let data = ctx.sealed.get(name).ok_or_else(|| RenderError::MissingSealed {
        env: ctx.profile.name.to_string(),
        file: format!("{dir}/{name}.yaml"),
    })?;
    let labels = ctx.labels(name, Component::Secret, None);
    Ok(SealedSecret::new(
        ctx.meta(name, &labels, SyncWave::Foundation),
        SealedSecretSpec {
            encrypted_data: data.clone(),
            template: SecretTemplate {
                type_: "Opaque".into(),
                metadata: TemplateMetadata { labels: labels.all() },
            },
        },
    )
    .into())
}

/// What delivers an application secret, by the profile's backend: an
/// ExternalSecret with one property of `<key prefix>/<secret>` per key, a
/// SealedSecret of committed ciphertext, or nothing (made out of band).
pub fn app_secret(ctx: &Ctx, secret: &crate::platform::AppSecret) -> Result<Option<Object>, RenderError> {
    let labels = ctx.labels(&secret.name, Component::Secret, None);
    Ok(match &ctx.profile.secrets {
        SecretBackend::External(store) => {
            let remote_key = format!("{}/{}", store.key_prefix, secret.name);
            let data = secret
                .keys
                .iter()
                .map(|key| ExternalSecretData {
                    secret_key: key.clone(),
                    remote_ref: RemoteRef::property(&remote_key, key),
                })
                .collect();
            Some(
                CustomResource::new(
                    ctx.meta(&secret.name, &labels, SyncWave::Foundation),
                    ExternalSecretSpec {
                        refresh_interval: store.refresh_interval.into(),
                        secret_store_ref: SecretStoreRef { name: store.store.to_string(), kind: store.kind },
                        target: ExternalSecretTarget {
                            name: secret.name.to_string(),
                            creation_policy: CreationPolicy::Owner,
                            deletion_policy: DeletionPolicy::Retain,
                            template: None,
                        },
                        data,
                    },
                )
                .into(),
            )
        }
        SecretBackend::Sealed { dir } => Some(sealed(ctx, dir, &secret.name)?),
        SecretBackend::OutOfBand => None,
    })
}

/// The connection string of a database as an External Secrets template over
/// the username, password and database name keys.
fn connection_template(ctx: &Ctx, names: &DatabaseNames) -> String {
    let host = ctx.fqdn(&names.database);
    let port = names.engine.port();
    let user = format!("{{{{ .{USERNAME_KEY} | urlquery }}}}");
    let password = format!("{{{{ .{PASSWORD_KEY} | urlquery }}}}");
    let db = format!("{{{{ .{DBNAME_KEY} }}}}");
    let (url, engine_query) = match names.engine {
        DatabaseEngine::Postgres => (format!("postgresql://{user}:{password}@{host}:{port}/{db}"), None),
        // The image's entrypoint creates the user in `admin`.
        DatabaseEngine::MongoDb => {
            (format!("mongodb://{user}:{password}@{host}:{port}/{db}"), Some("authSource=admin"))
        }
        DatabaseEngine::MySql => (format!("mysql://{user}:{password}@{host}:{port}/{db}"), None),
        // The default user, database 0.
        DatabaseEngine::Redis => (format!("redis://:{password}@{host}:{port}/0"), None),
    };
    let query: Vec<&str> = engine_query.into_iter().chain(names.url_query.as_deref()).collect();
    if query.is_empty() { url } else { format!("{url}?{}", query.join("&")) }
}

/// The ExternalSecret that writes `<service>-db-credentials` with the
/// username, password and database name from the store, plus the
/// connection string built from them by the operator, in the cluster.
fn external_credentials(ctx: &Ctx, store: &SecretStoreProfile, names: &DatabaseNames) -> ExternalSecret {
    let remote_key = format!("{}/{}", store.key_prefix, names.database);
    let data = stored_keys(names.engine)
        .iter()
        .copied()
        .map(|key| ExternalSecretData {
            secret_key: key.into(),
            remote_ref: RemoteRef::property(&remote_key, key),
        })
        .collect();
    let mut template: BTreeMap<String, String> = stored_keys(names.engine)
        .iter()
        .map(|key| ((*key).to_owned(), format!("{{{{ .{key} }}}}")))
        .collect();
    template.extend([(names.engine.connection_env().to_owned(), connection_template(ctx, names))]);
    let labels = ctx.labels(&names.credentials, Component::Secret, None);
    CustomResource::new(
        ctx.meta(&names.credentials, &labels, SyncWave::Foundation),
        ExternalSecretSpec {
            refresh_interval: store.refresh_interval.into(),
            secret_store_ref: SecretStoreRef { name: store.store.to_string(), kind: store.kind },
            target: ExternalSecretTarget {
                name: names.credentials.to_string(),
                creation_policy: CreationPolicy::Owner,
                deletion_policy: DeletionPolicy::Retain,
                template: Some(ExternalSecretTemplate {
                    type_: "Opaque".into(),
                    engine_version: TemplateEngineVersion::V2,
                    merge_policy: TemplateMergePolicy::Replace,
                    data: template,
                }),
            },
            data,
        },
    )
}

/// The database container of `names.engine` and the volumes it needs
/// besides its data volume. Every engine runs with the restricted security
/// context as UID 10001 (neither image needs root: their entrypoints only
/// change owners and drop privileges when started as root), keeps its data
/// on the volume, reads the password from a mounted file, and counts as
/// ready only when the real server accepts connections, never the temporary
/// one each image runs while it initialises a new volume.
fn container(names: &DatabaseNames, profile: &DatabaseProfile) -> (Container, Vec<Volume>) {
    let credentials = names.credentials.as_str();
    let engine = names.engine;
    let mut c = pod::container(engine.as_str(), profile.image.reference());
    c.ports = Some(vec![pod::port(names.port_name(), engine.port())]);
    c.resources = Some(profile.resources.to_k8s());
    let (ready, timing, volumes) = match engine {
        DatabaseEngine::Postgres => {
            const DATA: &str = "/var/lib/postgresql/data";
            const SECRETS: &str = "/run/secrets/postgres";
            const RUN_VOLUME: &str = "run";
            c.env = Some(vec![
                // Every credential as a file: the entrypoint reads `*_FILE`,
                // so no secret sits in the process environment.
                pod::plain_env("POSTGRES_USER_FILE", format!("{SECRETS}/{USERNAME_KEY}")),
                pod::plain_env("POSTGRES_DB_FILE", format!("{SECRETS}/{DBNAME_KEY}")),
                pod::plain_env("POSTGRES_PASSWORD_FILE", format!("{SECRETS}/{PASSWORD_KEY}")),
                // A subdirectory of the volume: NFS and many block volumes
                // carry `lost+found` at their root, which `initdb` refuses.
                pod::plain_env("PGDATA", format!("{DATA}/pgdata")),
            ]);
            c.volume_mounts = Some(vec![
                pod::mount(DATA_VOLUME, DATA, false),
                pod::mount(RUN_VOLUME, "/var/run/postgresql", false),
                pod::mount(pod::TMP_VOLUME, "/tmp", false),
                pod::mount(CREDENTIALS_VOLUME, SECRETS, true),
            ]);
            // TCP, not the socket: during initdb the entrypoint runs a
            // temporary server on the socket only, which must not count as ready.
            let ready = "exec pg_isready --host=127.0.0.1 --port=5432 --username=\"$(cat /run/secrets/postgres/username)\" --dbname=\"$(cat /run/secrets/postgres/dbname)\"";
            let volumes =
                vec![pod::empty_dir(RUN_VOLUME, Memory(16)), pod::empty_dir(pod::TMP_VOLUME, Memory(64))];
            (ready, [STARTUP, READINESS, LIVENESS], volumes)
        }
        DatabaseEngine::MongoDb => {
            const SECRETS: &str = "/run/secrets/mongodb";
            c.env = Some(vec![
                pod::plain_env("MONGO_INITDB_ROOT_USERNAME_FILE", format!("{SECRETS}/{USERNAME_KEY}")),
                pod::plain_env("MONGO_INITDB_ROOT_PASSWORD_FILE", format!("{SECRETS}/{PASSWORD_KEY}")),
                pod::secret_env("MONGO_INITDB_DATABASE", credentials, DBNAME_KEY),
                pod::field_env(POD_IP_ENV, "status.podIP"),
            ]);
            // `/data/db` is the image's data path; mongod writes its socket
            // and the entrypoint its temporary files to `/tmp`.
            c.volume_mounts = Some(vec![
                pod::mount(DATA_VOLUME, "/data/db", false),
                pod::mount(pod::TMP_VOLUME, "/tmp", false),
                pod::mount(CREDENTIALS_VOLUME, SECRETS, true),
            ]);
            // The pod IP, not 127.0.0.1: while it initialises a new volume
            // the entrypoint runs a temporary mongod without authentication
            // on 127.0.0.1 only. `ping` needs no credentials.
            let ready = "exec mongosh --quiet --norc --host \"$POD_IP\" --port 27017 --eval 'quit(db.adminCommand({ ping: 1 }).ok === 1 ? 0 : 1)'";
            (ready, MONGOSH_TIMING, vec![pod::empty_dir(pod::TMP_VOLUME, Memory(64))])
        }
        DatabaseEngine::MySql => {
            const SECRETS: &str = "/run/secrets/mysql";
            const RUN_VOLUME: &str = "run";
            c.env = Some(vec![
                // The entrypoint reads every `*_FILE`; the image insists on a
                // root password, which is the user's (no second secret to hold).
                pod::plain_env("MYSQL_USER_FILE", format!("{SECRETS}/{USERNAME_KEY}")),
                pod::plain_env("MYSQL_PASSWORD_FILE", format!("{SECRETS}/{PASSWORD_KEY}")),
                pod::plain_env("MYSQL_DATABASE_FILE", format!("{SECRETS}/{DBNAME_KEY}")),
                pod::plain_env("MYSQL_ROOT_PASSWORD_FILE", format!("{SECRETS}/{PASSWORD_KEY}")),
            ]);
            // A subdirectory of the volume: `mysqld --initialize` refuses a
            // data directory holding the volume's `lost+found`.
            c.args = Some(vec!["--datadir=/var/lib/mysql/data".into()]);
            c.volume_mounts = Some(vec![
                pod::mount(DATA_VOLUME, "/var/lib/mysql", false),
                pod::mount(RUN_VOLUME, "/var/run/mysqld", false),
                pod::mount(pod::TMP_VOLUME, "/tmp", false),
                pod::mount(CREDENTIALS_VOLUME, SECRETS, true),
            ]);
            // TCP: the entrypoint's temporary server while it initialises a
            // new volume listens on the socket only. `ping` exits 0 for a
            // running server even without credentials.
            let ready = "exec mysqladmin ping --host=127.0.0.1 --port=3306 --silent";
            let volumes =
                vec![pod::empty_dir(RUN_VOLUME, Memory(16)), pod::empty_dir(pod::TMP_VOLUME, Memory(64))];
            (ready, [STARTUP, READINESS, LIVENESS], volumes)
        }
        DatabaseEngine::Redis => {
            // The password from the mounted file; redis-server replaces its
            // process title, so the argument does not show in `ps`.
            c.command = Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "exec redis-server --dir /data --appendonly yes --requirepass \"$(cat /run/secrets/redis/password)\"".into(),
            ]);
            c.volume_mounts = Some(vec![
                pod::mount(DATA_VOLUME, "/data", false),
                pod::mount(pod::TMP_VOLUME, "/tmp", false),
                pod::mount(CREDENTIALS_VOLUME, "/run/secrets/redis", true),
            ]);
            let ready = "REDISCLI_AUTH=\"$(cat /run/secrets/redis/password)\" redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG";
            (ready, [STARTUP, READINESS, LIVENESS], vec![pod::empty_dir(pod::TMP_VOLUME, Memory(64))])
        }
    };
    let ready = ["/bin/sh", "-c", ready];
    let [startup, readiness, liveness] = timing;
    c.startup_probe = Some(pod::exec_probe(&ready, startup));
    c.readiness_probe = Some(pod::exec_probe(&ready, readiness));
    // Alive while it accepts connections; readiness asks the engine itself.
    c.liveness_probe = Some(pod::tcp_probe(names.port_name(), liveness));
    let mut volumes = volumes;
    volumes.push(Volume {
        name: CREDENTIALS_VOLUME.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(credentials.into()),
            items: Some(
                stored_keys(engine)
                    .iter()
                    .map(|key| KeyToPath { key: (*key).into(), path: (*key).into(), mode: None })
                    .collect(),
            ),
            default_mode: Some(0o440),
            optional: Some(false),
        }),
        ..Default::default()
    });
    (c, volumes)
}

/// The variable that carries the pod's IP (downward API).
const POD_IP_ENV: &str = "POD_IP";

/// `mongosh` is a Node.js program: starting it takes most of a second of
/// CPU, so MongoDB's probes allow 10 seconds (startup still up to 3 minutes).
const MONGOSH_TIMING: [ProbeTiming; 3] = [
    ProbeTiming { initial_delay: 0, period: 10, timeout: 10, failure_threshold: 18 },
    ProbeTiming { initial_delay: 0, period: 10, timeout: 10, failure_threshold: READINESS.failure_threshold },
    ProbeTiming {
        initial_delay: 0,
        period: LIVENESS.period,
        timeout: 10,
        failure_threshold: LIVENESS.failure_threshold,
    },
];

/// The database StatefulSet: one replica of the engine's container, a
/// volume on the environment's StorageClass kept when the StatefulSet goes.
pub fn statefulset(ctx: &Ctx, names: &DatabaseNames, profile: &DatabaseProfile) -> StatefulSet {
    let labels =
        ctx.labels(&names.database, Component::Database, Some(profile.image.version.as_str().into()));
    let (c, volumes) = container(names, profile);

    let mut metadata = ctx.meta(&names.database, &labels, SyncWave::Database);
    super::keep_when_application_deleted(&mut metadata);
    StatefulSet {
        metadata,
        spec: Some(StatefulSetSpec {
            service_name: Some(names.database.to_string()),
            replicas: Some(1),
            selector: LabelSelector { match_labels: Some(labels.selector()), ..Default::default() },
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Retain".into()),
                when_scaled: Some("Retain".into()),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels.all()), ..Default::default() }),
                spec: Some(pod::pod_spec(names.database.as_str(), vec![c], volumes, None)),
            },
            volume_claim_templates: Some(vec![claim_template(
                ctx,
                DATA_VOLUME,
                ctx.profile.storage.database_size,
                &labels,
            )]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A volume claim of each pod of a StatefulSet: `size` on the environment's
/// StorageClass, labelled with the workload's selector.
pub(crate) fn claim_template(ctx: &Ctx, name: &str, size: Memory, labels: &Labels) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.selector()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: Some(ctx.profile.storage.class.to_string()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), size.quantity())])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The headless Service that gives the StatefulSet's pod a stable DNS name.
pub fn headless_service(ctx: &Ctx, names: &DatabaseNames) -> Service {
    let labels = ctx.labels(&names.database, Component::Database, None);
    Service {
        metadata: ctx.meta(&names.database, &labels, SyncWave::Database),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(labels.selector()),
            ports: Some(vec![ServicePort {
                name: Some(names.port_name().into()),
                port: names.engine.port(),
                target_port: Some(IntOrString::String(names.port_name().into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Vault `SecretStore` an environment owns (BrainSAIT's pipeline document), authenticating as
/// its own ServiceAccount through Vault's Kubernetes auth.
pub fn vault_store(
    ctx: &Ctx,
    labels: &crate::meta::Labels,
    vault: &crate::profile::VaultStore,
) -> SecretStore {
    CustomResource::new(
        ctx.meta(&labels.name, labels, SyncWave::Foundation),
        SecretStoreSpec {
            provider: SecretStoreProvider {
                vault: VaultProvider {
                    server: vault.server.clone(),
                    path: vault.mount.clone(),
                    version: "v2".into(),
                    auth: VaultAuth {
                        kubernetes: VaultKubernetesAuth {
                            mount_path: vault.auth_mount.clone(),
                            role: vault.role.clone(),
                            service_account_ref: ServiceAccountSelector { name: labels.name.to_string() },
                        },
                    },
                },
            },
        },
    )
}
