//! Object metadata computed in one place: recommended labels, selectors and
//! the Argo CD sync wave.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::name::Name;

/// Annotation Argo CD reads to order resources inside one sync phase.
pub const SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";

/// The start order of an environment, as Argo CD sync waves. Argo CD applies
/// one wave, waits until everything in it is healthy, then moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncWave {
    /// Argo CD's own configuration and AppProjects, before the Applications that use them.
    ArgoCdConfig = -1,
    /// Namespace and the secrets everything else reads.
    Foundation = 0,
    /// Databases and their Services, and services run as StatefulSets; healthy once ready to
    /// accept connections.
    Database = 1,
    /// Schema migrations and other hook Jobs (Argo CD resource hooks; migrations run as `Sync` hooks).
    Migration = 2,
    /// The application Deployments and CronJobs, and their Services.
    Application = 3,
    /// The Ingress, exposed once every backend is ready.
    Ingress = 4,
}

impl SyncWave {
    /// Every wave, in start order.
    pub const ALL: [SyncWave; 6] = [
        SyncWave::ArgoCdConfig,
        SyncWave::Foundation,
        SyncWave::Database,
        SyncWave::Migration,
        SyncWave::Application,
        SyncWave::Ingress,
    ];

    /// The wave's number, as Argo CD orders it.
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The value of the `argocd.argoproj.io/sync-wave` annotation.
    pub fn annotation_value(self) -> String {
        self.number().to_string()
    }

    /// Reads the wave back from an annotation value; `None` for any value this
    /// renderer does not emit.
    pub fn from_annotation(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.annotation_value() == value)
    }
}

/// `app.kubernetes.io/component`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// An API service.
    Api,
    /// A web front end.
    Web,
    /// A worker: no port, no Service.
    Worker,
    /// A database and its headless Service.
    Database,
    /// A migration Job.
    Migration,
    /// An ExternalSecret, SealedSecret or the Secret it makes.
    Secret,
    /// The entry point: Ingress or HTTPRoute, and the issuer.
    Ingress,
    /// Objects of the whole namespace: quota, limits, default network policies.
    Platform,
}

impl Component {
    /// The label's value (`api`).
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Api => "api",
            Component::Web => "web",
            Component::Worker => "worker",
            Component::Database => "database",
            Component::Migration => "migration",
            Component::Secret => "secret",
            Component::Ingress => "ingress",
            Component::Platform => "platform",
        }
    }
}

/// The recommended label of the object's (or its workload's) name.
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// The recommended label of the platform's instance: `<platform>-<environment>`.
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
/// The recommended label of the object's role ([`Component`]).
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
/// The recommended label of the platform the object is part of.
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
/// The recommended label of the workload's version: its image tag.
pub const LABEL_VERSION: &str = "app.kubernetes.io/version";
/// The recommended label of the tool that manages the object.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of `app.kubernetes.io/managed-by` on every rendered object.
pub const MANAGED_BY: &str = "gitops-core";

/// The recommended labels of one object. `name` + `instance` select a
/// workload's pods; the others describe it and never enter a selector (a
/// selector is immutable, a version is not).
#[derive(Debug, Clone)]
pub struct Labels {
    /// `app.kubernetes.io/name`.
    pub name: Name,
    /// `<platform>-<environment>`: one instance of the platform.
    pub instance: Name,
    /// `app.kubernetes.io/component`.
    pub component: Component,
    /// `app.kubernetes.io/part-of`: the platform.
    pub part_of: Name,
    /// `app.kubernetes.io/version`: the image tag, when the object runs one.
    pub version: Option<String>,
    /// The environment's `compliance` label value, if it names one.
    pub compliance: Option<Name>,
}

/// The label that marks objects under a compliance regime (BrainSAIT's pipeline document).
pub const LABEL_COMPLIANCE: &str = "compliance";

impl Labels {
    /// The selector labels: `name` and `instance`, never anything that changes with a release.
    pub fn selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_NAME.to_owned(), self.name.to_string()),
            (LABEL_INSTANCE.to_owned(), self.instance.to_string()),
        ])
    }

    /// Every label: the selector's and the descriptive ones.
    pub fn all(&self) -> BTreeMap<String, String> {
        let mut labels = self.selector();
        labels.insert(LABEL_COMPONENT.into(), self.component.as_str().into());
        labels.insert(LABEL_PART_OF.into(), self.part_of.to_string());
        labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
        if let Some(version) = &self.version {
            labels.insert(LABEL_VERSION.into(), version.clone());
        }
        if let Some(compliance) = &self.compliance {
            labels.insert(LABEL_COMPLIANCE.into(), compliance.to_string());
        }
        labels
    }
}

/// Metadata of a namespaced object: name, namespace, labels and, when given,
/// its sync wave plus any further annotations.
pub fn object_meta(
    name: &Name,
    namespace: &Name,
    labels: BTreeMap<String, String>,
    wave: Option<SyncWave>,
    mut annotations: BTreeMap<String, String>,
) -> ObjectMeta {
    if let Some(wave) = wave {
        annotations.insert(SYNC_WAVE_ANNOTATION.into(), wave.annotation_value());
    }
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name;

    #[test]
    fn waves_follow_clinicflows_order() {
        let numbers: Vec<i32> = SyncWave::ALL.iter().map(|w| w.number()).collect();
        assert_eq!(numbers, [-1, 0, 1, 2, 3, 4]);
        assert_eq!(SyncWave::from_annotation("2"), Some(SyncWave::Migration));
        assert_eq!(SyncWave::from_annotation("7"), None);
    }

    #[test]
    fn selector_is_a_subset_without_version() {
        let labels = Labels {
            name: name!("identity"),
            instance: name!("clinicflow-dev"),
            component: Component::Api,
            part_of: name!("clinicflow"),
            version: Some("sha-1a2b3c4".into()),
            compliance: None,
        };
        let all = labels.all();
        for (k, v) in labels.selector() {
            assert_eq!(all.get(&k), Some(&v));
        }
        assert!(!labels.selector().contains_key(LABEL_VERSION));
        assert_eq!(all[LABEL_VERSION], "sha-1a2b3c4");
        assert_eq!(all.len(), 6);
    }
}
