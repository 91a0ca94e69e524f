//! A service's Postgres database: credentials from the secret store, a
//! StatefulSet on the environment's StorageClass, and a headless Service.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodTemplateSpec, SecretVolumeSource,
    Service, ServicePort, ServiceSpec, Volume, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::{self, LIVENESS, READINESS, STARTUP};
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
use crate::meta::{Component, SyncWave};
use crate::name::Name;
use crate::platform::DATABASE_URL_ENV;
use crate::profile::{SecretBackend, SecretStoreProfile};

pub const POSTGRES_PORT: i32 = 5432;
/// Name of the Postgres container and Service port.
pub const PORT_NAME: &str = "postgres";
const DATA_VOLUME: &str = "data";
const DATA_MOUNT: &str = "/var/lib/postgresql/data";
/// A subdirectory of the volume: NFS and many block volumes carry
/// `lost+found` at their root, which `initdb` refuses.
const PGDATA: &str = "/var/lib/postgresql/data/pgdata";
const RUN_VOLUME: &str = "run";
const SOCKET_DIR: &str = "/var/run/postgresql";
const CREDENTIALS_VOLUME: &str = "credentials";
const CREDENTIALS_MOUNT: &str = "/run/secrets/postgres";

/// The keys of a database credentials Secret.
pub const USERNAME_KEY: &str = "username";
pub const PASSWORD_KEY: &str = "password";
pub const DBNAME_KEY: &str = "dbname";

/// The names derived from a service that owns a database.
pub struct DatabaseNames {
    /// StatefulSet and headless Service: `<service>-db`.
    pub database: Name,
    /// ExternalSecret and the Secret it writes: `<service>-db-credentials`.
    pub credentials: Name,
}

impl DatabaseNames {
    pub fn of(service: &Name) -> Result<Self, crate::name::NameError> {
        let database = service.suffixed("db")?;
        let credentials = database.suffixed("credentials")?;
        Ok(DatabaseNames { database, credentials })
    }
}

/// Every key a database credentials Secret holds, whatever delivers it.
pub const CREDENTIAL_KEYS: [&str; 4] = [USERNAME_KEY, PASSWORD_KEY, DBNAME_KEY, DATABASE_URL_ENV];

/// What delivers `<service>-db-credentials`, by the profile's backend: an
/// ExternalSecret, a SealedSecret of committed ciphertext, or nothing (a
/// Secret made out of band).
pub fn credentials(ctx: &Ctx, names: &DatabaseNames) -> Result<Option<Object>, RenderError> {
    Ok(match &ctx.profile.secrets {
        SecretBackend::External(store) => Some(external_credentials(ctx, store, names).into()),
        SecretBackend::Sealed { dir } => {
            let data = ctx.sealed.get(&names.credentials).ok_or_else(|| RenderError::MissingSealed {
                env: ctx.profile.name.to_string(),
                file: format!("{dir}/{}.yaml", names.credentials),
            })?;
            let labels = ctx.labels(&names.credentials, Component::Secret, None);
            Some(
                SealedSecret::new(
                    ctx.meta(&names.credentials, &labels, SyncWave::Foundation),
                    SealedSecretSpec {
                        encrypted_data: data.clone(),
                        template: SecretTemplate {
                            type_: "Opaque".into(),
                            metadata: TemplateMetadata { labels: labels.all() },
                        },
                    },
                )
                .into(),
            )
        }
        SecretBackend::OutOfBand => None,
    })
}

/// The ExternalSecret that writes `<service>-db-credentials` with the
/// username, password and database name from the store, plus a
/// `DATABASE_URL` built from them by the operator, in the cluster.
fn external_credentials(ctx: &Ctx, store: &SecretStoreProfile, names: &DatabaseNames) -> ExternalSecret {
    let remote_key = format!("{}/{}", store.key_prefix, names.database);
    let data = [USERNAME_KEY, PASSWORD_KEY, DBNAME_KEY]
        .into_iter()
        .map(|key| ExternalSecretData {
            secret_key: key.into(),
            remote_ref: RemoteRef::property(&remote_key, key),
        })
        .collect();
    let url = format!(
        "postgresql://{{{{ .{USERNAME_KEY} | urlquery }}}}:{{{{ .{PASSWORD_KEY} | urlquery }}}}@{}:{POSTGRES_PORT}/{{{{ .{DBNAME_KEY} }}}}?schema=public",
        ctx.fqdn(&names.database)
    );
    let template = BTreeMap::from([
        (USERNAME_KEY.to_owned(), format!("{{{{ .{USERNAME_KEY} }}}}")),
        (PASSWORD_KEY.to_owned(), format!("{{{{ .{PASSWORD_KEY} }}}}")),
        (DBNAME_KEY.to_owned(), format!("{{{{ .{DBNAME_KEY} }}}}")),
        (DATABASE_URL_ENV.to_owned(), url),
    ]);
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

/// The Postgres StatefulSet: one replica, a volume on the environment's
/// StorageClass, the password read from a file, and a readiness probe that
/// passes only once the server accepts TCP connections.
pub fn statefulset(ctx: &Ctx, names: &DatabaseNames) -> StatefulSet {
    let image = &ctx.profile.postgres.image;
    let labels = ctx.labels(&names.database, Component::Database, Some(image.version.as_str().into()));
    let credentials = names.credentials.as_str();

    let mut c = pod::container("postgres", image.reference());
    c.ports = Some(vec![pod::port(PORT_NAME, POSTGRES_PORT)]);
    c.env = Some(vec![
        // Every credential as a file: the image's entrypoint reads `*_FILE`,
        // so no secret sits in the process environment.
        pod::plain_env("POSTGRES_USER_FILE", format!("{CREDENTIALS_MOUNT}/{USERNAME_KEY}")),
        pod::plain_env("POSTGRES_DB_FILE", format!("{CREDENTIALS_MOUNT}/{DBNAME_KEY}")),
        pod::plain_env("POSTGRES_PASSWORD_FILE", format!("{CREDENTIALS_MOUNT}/{PASSWORD_KEY}")),
        pod::plain_env("PGDATA", PGDATA),
    ]);
    c.resources = Some(ctx.profile.postgres.resources.to_k8s());
    c.volume_mounts = Some(vec![
        pod::mount(DATA_VOLUME, DATA_MOUNT, false),
        pod::mount(RUN_VOLUME, SOCKET_DIR, false),
        pod::mount(pod::TMP_VOLUME, "/tmp", false),
        pod::mount(CREDENTIALS_VOLUME, CREDENTIALS_MOUNT, true),
    ]);
    // TCP, not the socket: during initdb the entrypoint runs a temporary
    // server on the socket only, which must not count as ready.
    let ready_command = format!(
        "exec pg_isready --host=127.0.0.1 --port=5432 --username=\"$(cat {CREDENTIALS_MOUNT}/{USERNAME_KEY})\" --dbname=\"$(cat {CREDENTIALS_MOUNT}/{DBNAME_KEY})\""
    );
    let ready = ["/bin/sh", "-c", ready_command.as_str()];
    c.startup_probe = Some(pod::exec_probe(&ready, STARTUP));
    c.readiness_probe = Some(pod::exec_probe(&ready, READINESS));
    c.liveness_probe = Some(pod::exec_probe(&ready, LIVENESS));

    let volumes = vec![
        pod::empty_dir(RUN_VOLUME, "16Mi"),
        pod::empty_dir(pod::TMP_VOLUME, "64Mi"),
        Volume {
            name: CREDENTIALS_VOLUME.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(credentials.into()),
                items: Some(
                    [USERNAME_KEY, PASSWORD_KEY, DBNAME_KEY]
                        .into_iter()
                        .map(|key| KeyToPath { key: key.into(), path: key.into(), mode: None })
                        .collect(),
                ),
                default_mode: Some(0o440),
                optional: Some(false),
            }),
            ..Default::default()
        },
    ];

    StatefulSet {
        metadata: ctx.meta(&names.database, &labels, SyncWave::Database),
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
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(DATA_VOLUME.into()),
                    labels: Some(labels.selector()),
                    ..Default::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    storage_class_name: Some(ctx.profile.storage.class.to_string()),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_owned(),
                            ctx.profile.storage.database_size.quantity(),
                        )])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
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
                name: Some(PORT_NAME.into()),
                port: POSTGRES_PORT,
                target_port: Some(IntOrString::String(PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Vault `SecretStore` an environment owns (seed 002), authenticating as
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
