//! BrainSAIT's disaster recovery: a daily `argocd admin export` of the
//! instance's state to object storage, with the Argo CD the tree targets,
//! credentials the repository never holds, and API access for the export
//! step alone.

use gitops_core::crd::external_secrets::{ExternalSecret, SecretStoreKind};
use gitops_core::name;
use gitops_core::profile::{ArgoCdBackup, BackupCredentials};
use gitops_core::yaml;
use gitops_tree::argocd::ARGOCD_VERSION;
use k8s_openapi::api::batch::v1::CronJob;
use pretty_assertions::assert_eq;
use workspace_tests::{text, try_brainsait, try_clinicflow};

#[test]
fn a_daily_export_goes_to_object_storage_with_the_targeted_argo_cd() {
    let tree = try_brainsait(&brainsait_rcm::environments()).unwrap();
    let apps = "argocd/brainsait/apps";
    let cron: CronJob = yaml::from_str(text(&tree, &format!("{apps}/cronjob-argocd-backup.yaml"))).unwrap();
    let spec = cron.spec.unwrap();
    assert_eq!((spec.schedule.as_str(), spec.time_zone.as_deref()), ("0 2 * * *", Some("Asia/Riyadh")));
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    let pod = spec.job_template.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.automount_service_account_token, Some(false), "no container gets a token by default");
    assert_eq!(pod.service_account_name.as_deref(), Some("argocd-backup"));

    let export = &pod.init_containers.as_ref().unwrap()[0];
    assert_eq!(export.image.as_deref(), Some(format!("quay.io/argoproj/argocd:{ARGOCD_VERSION}").as_str()));
    assert!(export.args.as_ref().unwrap()[0].contains("argocd admin export --namespace argocd > /backup/"));
    let upload = &pod.containers[0];
    let command = &upload.args.as_ref().unwrap()[0];
    assert!(command.contains("aws s3 cp") && command.contains("--sse AES256"), "{command}");
    assert!(command.contains("\"s3://brainsait-dr-backups/argocd/argocd-export-$stamp.yaml\""), "{command}");
    assert!(upload.image.as_deref().unwrap().starts_with("docker.io/amazon/aws-cli:2."), "a pinned version");

    // The token is mounted into the export step only.
    let token_mounts = |c: &k8s_openapi::api::core::v1::Container| {
        c.volume_mounts.iter().flatten().filter(|m| m.name == "api-token").count()
    };
    assert_eq!((token_mounts(export), token_mounts(upload)), (1, 0));
    // The storage key comes from a Secret, by name; no value is in the tree.
    let from = &upload.env_from.as_ref().unwrap()[0];
    assert_eq!(from.secret_ref.as_ref().unwrap().name, "argocd-backup-storage");
    assert!(
        tree.files().all(|(_, bytes)| !String::from_utf8_lossy(bytes).contains("AWS_SECRET_ACCESS_KEY:"))
    );

    // Read-only, in Argo CD's namespace, on what the export reads.
    let role: serde_json::Value =
        yaml::from_str(text(&tree, &format!("{apps}/role-argocd-backup.yaml"))).unwrap();
    assert_eq!(role["metadata"]["namespace"], "argocd");
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(rule["verbs"], serde_json::json!(["get", "list"]), "{rule}");
    }
    let resources: Vec<&str> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["resources"].as_array().unwrap())
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(resources, ["configmaps", "secrets", "applications", "appprojects", "applicationsets"]);
}

#[test]
fn storage_credentials_can_come_from_a_cluster_secret_store() {
    let mut profiles = clinicflow::environments();
    for p in &mut profiles {
        p.argocd.backup = Some(ArgoCdBackup {
            schedule: "30 1 * * *",
            time_zone: "Etc/UTC",
            destination: "s3://clinicflow-backups/argocd/".into(),
            endpoint: Some("https://minio.example.org".into()),
            region: Some("us-east-1".into()),
            credentials: BackupCredentials::External {
                store: name!("clinicflow-secrets"),
                key: "clinicflow/argocd-backup".into(),
            },
        });
    }
    let tree = try_clinicflow(&profiles).unwrap();
    let secret: ExternalSecret =
        yaml::from_str(text(&tree, "argocd/prod/apps/externalsecret-argocd-backup-storage.yaml")).unwrap();
    assert_eq!(secret.spec.secret_store_ref.kind, SecretStoreKind::ClusterSecretStore);
    assert_eq!(secret.spec.secret_store_ref.name, "clinicflow-secrets");
    let keys: Vec<&str> = secret.spec.data.iter().map(|d| d.secret_key.as_str()).collect();
    assert_eq!(keys, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    let cron: CronJob = yaml::from_str(text(&tree, "argocd/prod/apps/cronjob-argocd-backup.yaml")).unwrap();
    let pod = cron.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap();
    let upload = &pod.containers[0];
    assert_eq!(
        upload.env_from.as_ref().unwrap()[0].secret_ref.as_ref().unwrap().name,
        "argocd-backup-storage"
    );
    let command = &upload.args.as_ref().unwrap()[0];
    assert!(command.contains("--endpoint-url 'https://minio.example.org'"), "{command}");
    assert!(
        command.contains("\"s3://clinicflow-backups/argocd/argocd-export-$stamp.yaml\""),
        "no double slash: {command}"
    );
    let env: Vec<(&str, Option<&str>)> =
        upload.env.iter().flatten().map(|e| (e.name.as_str(), e.value.as_deref())).collect();
    assert!(env.contains(&("AWS_DEFAULT_REGION", Some("us-east-1"))), "{env:?}");
}

#[test]
fn settings_that_would_break_the_upload_are_refused() {
    for (destination, endpoint, region, what) in [
        ("brainsait-dr-backups/argocd", None, None, "destination"),
        ("s3://bucket/a\"; rm -rf /tmp; \"", None, None, "destination"),
        ("s3://bucket/$(id)", None, None, "destination"),
        ("s3://bucket", Some("http://minio.example.org"), None, "endpoint"),
        ("s3://bucket", None, Some("eu central"), "region"),
    ] {
        let mut profiles = brainsait_rcm::environments();
        for p in &mut profiles {
            let backup = p.argocd.backup.as_mut().unwrap();
            backup.destination = destination.into();
            backup.endpoint = endpoint.map(Into::into);
            backup.region = region.map(Into::into);
        }
        let message = try_brainsait(&profiles).unwrap_err();
        assert!(message.contains("argocd.backup") && message.contains(what), "{destination}: {message}");
    }
}
