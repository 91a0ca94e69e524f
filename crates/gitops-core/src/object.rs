//! The typed objects of a rendered environment.

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PodTemplateSpec, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Serialize, Serializer};

use crate::crd::CustomResourceSpec;
use crate::crd::argocd::{AppProject, AppProjectSpec, Application, ApplicationSpec};
use crate::crd::external_secrets::{ExternalSecret, ExternalSecretSpec};
use crate::meta::{SYNC_WAVE_ANNOTATION, SyncWave};

/// Every kind the renderer emits. Variants are boxed: the k8s-openapi structs
/// are large and differ in size.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Namespace(Box<Namespace>),
    ConfigMap(Box<ConfigMap>),
    Secret(Box<Secret>),
    Service(Box<Service>),
    Deployment(Box<Deployment>),
    StatefulSet(Box<StatefulSet>),
    Job(Box<Job>),
    CronJob(Box<CronJob>),
    DaemonSet(Box<DaemonSet>),
    Ingress(Box<Ingress>),
    ExternalSecret(Box<ExternalSecret>),
    Application(Box<Application>),
    AppProject(Box<AppProject>),
}

impl Object {
    pub fn api_version(&self) -> &'static str {
        match self {
            Object::Namespace(_) => Namespace::API_VERSION,
            Object::ConfigMap(_) => ConfigMap::API_VERSION,
            Object::Secret(_) => Secret::API_VERSION,
            Object::Service(_) => Service::API_VERSION,
            Object::Deployment(_) => Deployment::API_VERSION,
            Object::StatefulSet(_) => StatefulSet::API_VERSION,
            Object::Job(_) => Job::API_VERSION,
            Object::CronJob(_) => CronJob::API_VERSION,
            Object::DaemonSet(_) => DaemonSet::API_VERSION,
            Object::Ingress(_) => Ingress::API_VERSION,
            Object::ExternalSecret(_) => ExternalSecretSpec::API_VERSION,
            Object::Application(_) => ApplicationSpec::API_VERSION,
            Object::AppProject(_) => AppProjectSpec::API_VERSION,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Object::Namespace(_) => Namespace::KIND,
            Object::ConfigMap(_) => ConfigMap::KIND,
            Object::Secret(_) => Secret::KIND,
            Object::Service(_) => Service::KIND,
            Object::Deployment(_) => Deployment::KIND,
            Object::StatefulSet(_) => StatefulSet::KIND,
            Object::Job(_) => Job::KIND,
            Object::CronJob(_) => CronJob::KIND,
            Object::DaemonSet(_) => DaemonSet::KIND,
            Object::Ingress(_) => Ingress::KIND,
            Object::ExternalSecret(_) => ExternalSecretSpec::KIND,
            Object::Application(_) => ApplicationSpec::KIND,
            Object::AppProject(_) => AppProjectSpec::KIND,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Namespace(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::StatefulSet(o) => &o.metadata,
            Object::Job(o) => &o.metadata,
            Object::CronJob(o) => &o.metadata,
            Object::DaemonSet(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::ExternalSecret(o) => &o.metadata,
            Object::Application(o) => &o.metadata,
            Object::AppProject(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }

    /// The pod template of a pod-bearing kind (Deployment, StatefulSet,
    /// DaemonSet, Job, CronJob); `None` for every other kind.
    pub fn pod_template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Object::Deployment(o) => o.spec.as_ref().map(|s| &s.template),
            Object::StatefulSet(o) => o.spec.as_ref().map(|s| &s.template),
            Object::DaemonSet(o) => o.spec.as_ref().map(|s| &s.template),
            Object::Job(o) => o.spec.as_ref().map(|s| &s.template),
            Object::CronJob(o) => {
                o.spec.as_ref().and_then(|s| s.job_template.spec.as_ref()).map(|s| &s.template)
            }
            _ => None,
        }
    }

    /// Mutable access to the metadata, for post-processing such as labels a
    /// profile adds to every object.
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Namespace(o) => &mut o.metadata,
            Object::ConfigMap(o) => &mut o.metadata,
            Object::Secret(o) => &mut o.metadata,
            Object::Service(o) => &mut o.metadata,
            Object::Deployment(o) => &mut o.metadata,
            Object::StatefulSet(o) => &mut o.metadata,
            Object::Job(o) => &mut o.metadata,
            Object::CronJob(o) => &mut o.metadata,
            Object::DaemonSet(o) => &mut o.metadata,
            Object::Ingress(o) => &mut o.metadata,
            Object::ExternalSecret(o) => &mut o.metadata,
            Object::Application(o) => &mut o.metadata,
            Object::AppProject(o) => &mut o.metadata,
        }
    }

    /// `(group, kind)`, the way RBAC and Argo CD AppProjects name a kind.
    pub fn group_kind(&self) -> (&'static str, &'static str) {
        let group = self.api_version().rsplit_once('/').map_or("", |(group, _)| group);
        (group, self.kind())
    }

    /// The sync wave this object carries, read back from its annotation.
    pub fn wave(&self) -> Option<SyncWave> {
        let annotations = self.metadata().annotations.as_ref()?;
        SyncWave::from_annotation(annotations.get(SYNC_WAVE_ANNOTATION)?)
    }
}

impl Object {
    /// Reads an object back from its JSON form (for instance a rendered YAML
    /// file parsed with [`crate::yaml::from_str`]), by `apiVersion` and `kind`.
    pub fn from_json(value: serde_json::Value) -> Result<Object, String> {
        fn typed<T: serde::de::DeserializeOwned + Into<Object>>(
            v: serde_json::Value,
        ) -> Result<Object, String> {
            serde_json::from_value::<T>(v).map(Into::into).map_err(|e| e.to_string())
        }
        let api_version = value.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let kind = value.get("kind").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        match (api_version.as_str(), kind.as_str()) {
            ("v1", "Namespace") => typed::<Namespace>(value),
            ("v1", "ConfigMap") => typed::<ConfigMap>(value),
            ("v1", "Secret") => typed::<Secret>(value),
            ("v1", "Service") => typed::<Service>(value),
            ("apps/v1", "Deployment") => typed::<Deployment>(value),
            ("apps/v1", "StatefulSet") => typed::<StatefulSet>(value),
            ("apps/v1", "DaemonSet") => typed::<DaemonSet>(value),
            ("batch/v1", "Job") => typed::<Job>(value),
            ("batch/v1", "CronJob") => typed::<CronJob>(value),
            ("networking.k8s.io/v1", "Ingress") => typed::<Ingress>(value),
            (ExternalSecretSpec::API_VERSION, ExternalSecretSpec::KIND) => typed::<ExternalSecret>(value),
            (ApplicationSpec::API_VERSION, ApplicationSpec::KIND) => typed::<Application>(value),
            (AppProjectSpec::API_VERSION, AppProjectSpec::KIND) => typed::<AppProject>(value),
            _ => Err(format!("`{api_version}` `{kind}` is not a kind this renderer emits")),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Object::Namespace(o) => o.serialize(s),
            Object::ConfigMap(o) => o.serialize(s),
            Object::Secret(o) => o.serialize(s),
            Object::Service(o) => o.serialize(s),
            Object::Deployment(o) => o.serialize(s),
            Object::StatefulSet(o) => o.serialize(s),
            Object::Job(o) => o.serialize(s),
            Object::CronJob(o) => o.serialize(s),
            Object::DaemonSet(o) => o.serialize(s),
            Object::Ingress(o) => o.serialize(s),
            Object::ExternalSecret(o) => o.serialize(s),
            Object::Application(o) => o.serialize(s),
            Object::AppProject(o) => o.serialize(s),
        }
    }
}

macro_rules! from_object {
    ($($variant:ident($ty:ty)),+ $(,)?) => {
        $(impl From<$ty> for Object {
            fn from(o: $ty) -> Self {
                Object::$variant(Box::new(o))
            }
        })+
    };
}

from_object!(
    Namespace(Namespace),
    ConfigMap(ConfigMap),
    Secret(Secret),
    Service(Service),
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    Job(Job),
    CronJob(CronJob),
    DaemonSet(DaemonSet),
    Ingress(Ingress),
    ExternalSecret(ExternalSecret),
    Application(Application),
    AppProject(AppProject),
);
