//! The daily backup of an Argo CD instance's state (BrainSAIT's pipeline
//! document, disaster recovery): a CronJob in Argo CD's namespace that runs
//! `argocd admin export` with the instance's own Argo CD image, then uploads
//! the export to S3-compatible object storage with the AWS CLI.
//!
//! Only the export step can reach the Kubernetes API: the pod mounts no
//! token by default, and the export container alone gets a projected one,
//! for a ServiceAccount whose Role reads Argo CD's ConfigMaps, Secrets,
//! Applications, AppProjects and ApplicationSets in its namespace and
//! nothing else. The upload step reads the storage credentials from a Secret
//! the repository never holds. Retention is the bucket's lifecycle rule
//! ([`ArgoCdBackup`]).

use std::collections::BTreeMap;

use gitops_core::Object;
use gitops_core::build::pod;
use gitops_core::crd::CustomResource;
use gitops_core::crd::external_secrets::{
    CreationPolicy, DeletionPolicy, ExternalSecret, ExternalSecretData, ExternalSecretSpec,
    ExternalSecretTarget, RemoteRef, SecretStoreKind, SecretStoreRef,
};
use gitops_core::meta::{
    LABEL_MANAGED_BY, LABEL_NAME, LABEL_PART_OF, MANAGED_BY, SYNC_WAVE_ANNOTATION, SyncWave,
};
use gitops_core::object::DynamicObject;
use gitops_core::platform::Platform;
use gitops_core::profile::{ArgoCdBackup, BackupCredentials, Memory};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, DownwardAPIProjection, DownwardAPIVolumeFile, EnvFromSource, EnvVar, KeyToPath,
    ObjectFieldSelector, PodTemplateSpec, ProjectedVolumeSource, ResourceRequirements, SecretEnvSource,
    ServiceAccount, ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::argocd::{ARGOCD_NAMESPACE, ARGOCD_VERSION};

/// The name of the CronJob, its ServiceAccount, Role and RoleBinding.
pub const NAME: &str = "argocd-backup";
/// The Secret with the storage credentials when an ExternalSecret writes it.
pub const CREDENTIALS: &str = "argocd-backup-storage";
/// The AWS CLI image of the upload step, pinned.
pub const AWS_CLI_IMAGE: &str = "docker.io/amazon/aws-cli:2.27.9";

const EXPORT_DIR: &str = "/backup";
const TOKEN_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn meta(platform: &Platform, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ARGOCD_NAMESPACE.into()),
        labels: Some(BTreeMap::from([
            (LABEL_NAME.to_owned(), NAME.to_owned()),
            (LABEL_PART_OF.to_owned(), platform.name.to_string()),
            (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        ])),
        annotations: Some(BTreeMap::from([(
            SYNC_WAVE_ANNOTATION.to_owned(),
            SyncWave::ArgoCdConfig.annotation_value(),
        )])),
        ..Default::default()
    }
}

fn resources(cpu: &str, memory: Memory) -> ResourceRequirements {
    let quantities = |cpu: &str| {
        BTreeMap::from([("cpu".to_owned(), Quantity(cpu.into())), ("memory".to_owned(), memory.quantity())])
    };
    ResourceRequirements {
        requests: Some(quantities("50m")),
        limits: Some(quantities(cpu)),
        ..Default::default()
    }
}

/// The objects of the backup: ServiceAccount, Role, RoleBinding, the
/// credentials' ExternalSecret when the profile says so, and the CronJob.
pub fn objects(platform: &Platform, backup: &ArgoCdBackup) -> Vec<Object> {
    let mut objects: Vec<Object> = vec![
        ServiceAccount {
            metadata: meta(platform, NAME),
            automount_service_account_token: Some(false),
            ..Default::default()
        }
        .into(),
        DynamicObject::from_resource(&role(platform)).expect("a Role is an object").into(),
        DynamicObject::from_resource(&role_binding(platform)).expect("a RoleBinding is an object").into(),
    ];
    let credentials = match &backup.credentials {
        BackupCredentials::External { store, key } => {
            objects.push(external_credentials(platform, store.as_str(), key).into());
            CREDENTIALS.to_owned()
        }
        BackupCredentials::Secret(name) => name.to_string(),
    };
    objects.push(cron_job(platform, backup, &credentials).into());
    objects
}

/// What `argocd admin export` reads: Argo CD's ConfigMaps and Secrets and
/// its custom resources, in its namespace, read-only.
fn role(platform: &Platform) -> Role {
    let read = vec!["get".to_owned(), "list".to_owned()];
    Role {
        metadata: meta(platform, NAME),
        rules: Some(vec![
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["configmaps".into(), "secrets".into()]),
                verbs: read.clone(),
                ..Default::default()
            },
            PolicyRule {
                api_groups: Some(vec!["argoproj.io".into()]),
                resources: Some(vec!["applications".into(), "appprojects".into(), "applicationsets".into()]),
                verbs: read,
                ..Default::default()
            },
        ]),
    }
}

fn role_binding(platform: &Platform) -> RoleBinding {
    RoleBinding {
        metadata: meta(platform, NAME),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: NAME.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: NAME.into(),
            namespace: Some(ARGOCD_NAMESPACE.into()),
            ..Default::default()
        }]),
    }
}

fn external_credentials(platform: &Platform, store: &str, key: &str) -> ExternalSecret {
    let data = [("AWS_ACCESS_KEY_ID", "access-key-id"), ("AWS_SECRET_ACCESS_KEY", "secret-access-key")]
        .into_iter()
        .map(|(secret_key, property)| ExternalSecretData {
            secret_key: secret_key.into(),
            remote_ref: RemoteRef::property(key, property),
        })
        .collect();
    CustomResource::new(
        meta(platform, CREDENTIALS),
        ExternalSecretSpec {
            refresh_interval: "1h".into(),
            secret_store_ref: SecretStoreRef {
                name: store.into(),
                kind: SecretStoreKind::ClusterSecretStore,
            },
            target: ExternalSecretTarget {
                name: CREDENTIALS.into(),
                creation_policy: CreationPolicy::Owner,
                deletion_policy: DeletionPolicy::Retain,
                template: None,
            },
            data,
        },
    )
}

/// The token, CA and namespace a client inside the cluster reads, for the
/// export container only.
fn token_volume() -> Volume {
    Volume {
        name: "api-token".into(),
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(0o440),
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        path: "token".into(),
                        expiration_seconds: Some(3600),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: "kube-root-ca.crt".into(),
                        items: Some(vec![KeyToPath {
                            key: "ca.crt".into(),
                            path: "ca.crt".into(),
                            mode: None,
                        }]),
                        optional: None,
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".into(),
                            field_ref: Some(ObjectFieldSelector {
                                field_path: "metadata.namespace".into(),
                                api_version: None,
                            }),
                            ..Default::default()
                        }]),
                    }),
                    ..Default::default()
                },
            ]),
        }),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..Default::default()
    }
}

/// The upload command: the export, named after the time it was taken,
/// encrypted at rest by the storage (`--sse AES256`).
pub fn upload_command(backup: &ArgoCdBackup) -> String {
    let endpoint = backup.endpoint.as_ref().map(|e| format!(" --endpoint-url '{e}'")).unwrap_or_default();
    let destination = backup.destination.trim_end_matches('/');
    format!(
        "set -eu\nstamp=$(date -u +%Y%m%dT%H%M%SZ)\n\
         aws s3 cp{endpoint} --sse AES256 --only-show-errors {EXPORT_DIR}/argocd-export.yaml \
         \"{destination}/argocd-export-$stamp.yaml\"\n"
    )
}

fn cron_job(platform: &Platform, backup: &ArgoCdBackup, credentials: &str) -> CronJob {
    let mut export = pod::container("export", format!("quay.io/argoproj/argocd:{ARGOCD_VERSION}"));
    export.command = Some(vec!["sh".into(), "-c".into()]);
    export.args = Some(vec![format!(
        "set -eu\nargocd admin export --namespace {ARGOCD_NAMESPACE} > {EXPORT_DIR}/argocd-export.yaml\n"
    )]);
    export.env = Some(vec![EnvVar { name: "HOME".into(), value: Some("/tmp".into()), ..Default::default() }]);
    export.resources = Some(resources("500m", Memory(256)));
    export.volume_mounts = Some(vec![
        mount("export", EXPORT_DIR, false),
        mount(pod::TMP_VOLUME, "/tmp", false),
        mount("api-token", TOKEN_DIR, true),
    ]);

    let mut upload = pod::container("upload", AWS_CLI_IMAGE.into());
    upload.command = Some(vec!["sh".into(), "-c".into()]);
    upload.args = Some(vec![upload_command(backup)]);
    let region = backup.region.iter().map(|region| EnvVar {
        name: "AWS_DEFAULT_REGION".into(),
        value: Some(region.clone()),
        ..Default::default()
    });
    let home = EnvVar { name: "HOME".into(), value: Some("/tmp".into()), ..Default::default() };
    upload.env = Some(region.chain([home]).collect());
    upload.env_from = Some(vec![EnvFromSource {
        secret_ref: Some(SecretEnvSource { name: credentials.into(), optional: Some(false) }),
        ..Default::default()
    }]);
    upload.resources = Some(resources("500m", Memory(256)));
    upload.volume_mounts =
        Some(vec![mount("export", EXPORT_DIR, true), mount(pod::TMP_VOLUME, "/tmp", false)]);

    let volumes = vec![
        pod::empty_dir("export", Memory(256)),
        pod::empty_dir(pod::TMP_VOLUME, Memory(64)),
        token_volume(),
    ];
    // Both images run as any user: UID 10001 like every workload, `HOME` on
    // the scratch volume for the CLIs' caches.
    let spec = pod::pod_spec_with_init(NAME, vec![export], vec![upload], volumes, Some("Never"));
    let labels = meta(platform, NAME).labels;
    CronJob {
        metadata: meta(platform, NAME),
        spec: Some(CronJobSpec {
            schedule: backup.schedule.into(),
            time_zone: Some(backup.time_zone.into()),
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(3600),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    active_deadline_seconds: Some(1800),
                    ttl_seconds_after_finished: Some(7 * 24 * 3600),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta { labels, ..Default::default() }),
                        spec: Some(spec),
                    },
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}
