//! The Argo CD Application that syncs one environment's directory.

use std::collections::BTreeMap;

use gitops_core::crd::CustomResource;
use gitops_core::crd::argocd::{
    Application, ApplicationDestination, ApplicationSource, ApplicationSpec, Backoff, RESOURCES_FINALIZER,
    RetryStrategy, SyncOption, SyncPolicy, SyncPolicyAutomated,
};
use gitops_core::meta::{LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_PART_OF, MANAGED_BY};
use gitops_core::name::{Name, NameError};
use gitops_core::platform::Platform;
use gitops_core::profile::{EnvironmentProfile, SyncMode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The namespace Argo CD runs in and reads Applications from.
pub const ARGOCD_NAMESPACE: &str = "argocd";
/// The AppProject every Application belongs to.
pub const PROJECT: &str = "default";

/// Retries with backoff as seed 002 sets them: 3 tries, 5s doubling up to 3m.
pub fn retry() -> RetryStrategy {
    RetryStrategy {
        limit: 3,
        backoff: Some(Backoff { duration: "5s".into(), factor: 2, max_duration: "3m".into() }),
    }
}

pub fn sync_policy(mode: SyncMode) -> SyncPolicy {
    SyncPolicy {
        automated: match mode {
            SyncMode::Automated { prune, self_heal } => {
                Some(SyncPolicyAutomated { prune, self_heal, allow_empty: false })
            }
            SyncMode::Manual => None,
        },
        // The tree ships its Namespace, so CreateNamespace is not needed;
        // pruning last keeps old objects until the new ones are healthy.
        sync_options: vec![SyncOption::PruneLast],
        retry: Some(retry()),
    }
}

/// `<platform>-<env>` in `argocd`, syncing `path` of the Git repository into
/// the environment's cluster and namespace. Deleting it deletes what it
/// deployed (resources finalizer), except the never-pruned Namespace.
pub fn environment_application(
    platform: &Platform,
    profile: &EnvironmentProfile,
    path: &str,
) -> Result<Application, NameError> {
    let name = platform.name.suffixed(profile.name.as_str())?;
    Ok(CustomResource::new(
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ARGOCD_NAMESPACE.into()),
            labels: Some(labels(platform, &name)),
            finalizers: Some(vec![RESOURCES_FINALIZER.into()]),
            ..Default::default()
        },
        ApplicationSpec {
            project: PROJECT.into(),
            source: ApplicationSource {
                repo_url: profile.git.repo_url.clone(),
                target_revision: profile.git.target_revision.clone(),
                path: path.into(),
                directory: None,
                kustomize: None,
            },
            destination: ApplicationDestination {
                cluster: profile.cluster.clone(),
                namespace: profile.namespace.to_string(),
            },
            sync_policy: Some(sync_policy(profile.sync)),
            ignore_differences: Vec::new(),
            info: Vec::new(),
            revision_history_limit: Some(10),
        },
    ))
}

fn labels(platform: &Platform, instance: &Name) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_INSTANCE.to_owned(), instance.to_string()),
        (LABEL_PART_OF.to_owned(), platform.name.to_string()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
    ])
}
