//! The typed objects of a rendered environment: the kinds the builders emit,
//! each a k8s-openapi struct or a typed custom resource, and
//! [`DynamicObject`] for any other kind a platform adds (a PodMonitor, a
//! Certificate, a Role), kube-core's escape hatch.

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, PersistentVolumeClaim, PodTemplateSpec, ResourceQuota, Secret, Service,
    ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Serialize, Serializer};

use crate::crd::CustomResourceSpec;
use crate::crd::argocd::{AppProject, AppProjectSpec, Application, ApplicationSpec};
use crate::crd::cert_manager::{ClusterIssuer, IssuerSpec};
use crate::crd::external_secrets::{ExternalSecret, ExternalSecretSpec, SecretStore, SecretStoreSpec};
use crate::crd::gatekeeper::{
    ConstraintSpec, ConstraintTemplate, ConstraintTemplateSpec, PrivilegedContainerConstraint,
};
use crate::crd::gateway_api::{HttpRoute, HttpRouteSpec};
use crate::crd::monitoring::{PrometheusRule, PrometheusRuleSpec, ServiceMonitor, ServiceMonitorSpec};
use crate::crd::sealed_secrets::{SealedSecret, SealedSecretSpec};
use crate::meta::{SYNC_WAVE_ANNOTATION, SyncWave};

/// Declares `Object` and everything that dispatches on its kinds, from one
/// list: variant, Rust type, and where its `apiVersion` and `kind` come from.
macro_rules! objects {
    ($($variant:ident($ty:ty) = $meta:ty;)+) => {
        /// Every kind the renderer emits. Variants are boxed: the
        /// k8s-openapi structs are large and differ in size.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Object {
            $(#[doc = concat!("A boxed [`", stringify!($ty), "`].")] $variant(Box<$ty>),)+
            /// Any other kind, as `apiVersion`, `kind`, `metadata` and a body.
            Dynamic(Box<DynamicObject>),
        }

        impl Object {
            /// The object's `apiVersion`.
            pub fn api_version(&self) -> &str {
                match self {
                    $(Object::$variant(_) => <$meta>::API_VERSION,)+
                    Object::Dynamic(o) => &o.api_version,
                }
            }

            /// The object's `kind`.
            pub fn kind(&self) -> &str {
                match self {
                    $(Object::$variant(_) => <$meta>::KIND,)+
                    Object::Dynamic(o) => &o.kind,
                }
            }

            /// The object's metadata.
            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $(Object::$variant(o) => &o.metadata,)+
                    Object::Dynamic(o) => &o.metadata,
                }
            }

            /// Mutable access to the metadata, for post-processing and test fixtures.
            pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $(Object::$variant(o) => &mut o.metadata,)+
                    Object::Dynamic(o) => &mut o.metadata,
                }
            }

            /// Reads an object back from its JSON form (for instance a
            /// rendered YAML file parsed with [`crate::yaml::from_str`]), by
            /// `apiVersion` and `kind`.
            pub fn from_json(value: serde_json::Value) -> Result<Object, String> {
                let api_version = value.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                let kind = value.get("kind").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                $(
                    if api_version == <$meta>::API_VERSION && kind == <$meta>::KIND {
                        return serde_json::from_value::<$ty>(value).map(Into::into).map_err(|e| e.to_string());
                    }
                )+
                serde_json::from_value::<DynamicObject>(value).map(Into::into).map_err(|e| e.to_string())
            }
        }

        impl Serialize for Object {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Object::$variant(o) => o.serialize(s),)+
                    Object::Dynamic(o) => o.serialize(s),
                }
            }
        }

        $(impl From<$ty> for Object {
            fn from(o: $ty) -> Self {
                Object::$variant(Box::new(o))
            }
        }

        impl TypedKind for $ty {
            const OBJECT_KIND: &'static str = <$meta>::KIND;

            fn of_mut(object: &mut Object) -> Option<&mut Self> {
                match object {
                    Object::$variant(o) => Some(o),
                    _ => None,
                }
            }
        })+
    };
}

/// A kind the builders do not emit, typed only by its `apiVersion`, `kind`
/// and metadata; the rest of the object is `body` (`spec`, `data`, …), as
/// kube-core's `DynamicObject`. Any k8s-openapi or custom resource can be
/// turned into one with [`DynamicObject::from_resource`].
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicObject {
    /// `apiVersion` (`monitoring.coreos.com/v1`).
    pub api_version: String,
    /// `kind` (`ServiceMonitor`).
    pub kind: String,
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// Every other top-level field.
    #[serde(flatten)]
    pub body: serde_json::Map<String, serde_json::Value>,
}

impl DynamicObject {
    /// An object of `api_version`/`kind` named `name`, with `body`'s fields
    /// (an object: `{"spec": {...}}`). Its namespace and labels are the
    /// environment's, set when it is added to a platform.
    pub fn new(api_version: &str, kind: &str, name: &str, body: serde_json::Value) -> Result<Self, String> {
        let serde_json::Value::Object(body) = body else {
            return Err(format!(
                "{kind} `{name}`: the body must be a JSON object such as {{\"spec\": {{…}}}}"
            ));
        };
        for reserved in ["apiVersion", "kind", "metadata"] {
            if body.contains_key(reserved) {
                return Err(format!("{kind} `{name}`: `{reserved}` is set from the arguments, not the body"));
            }
        }
        Ok(DynamicObject {
            api_version: api_version.into(),
            kind: kind.into(),
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            body,
        })
    }

    /// Any typed resource (a k8s-openapi struct, a custom resource) as a
    /// dynamic object.
    pub fn from_resource<T: k8s_openapi::Resource + Serialize>(resource: &T) -> Result<Self, String> {
        let value = serde_json::to_value(resource).map_err(|e| e.to_string())?;
        let mut value = match value {
            serde_json::Value::Object(map) => map,
            _ => return Err(format!("{} is not an object", T::KIND)),
        };
        value.insert("apiVersion".into(), T::API_VERSION.into());
        value.insert("kind".into(), T::KIND.into());
        serde_json::from_value(serde_json::Value::Object(value)).map_err(|e| e.to_string())
    }
}

impl Serialize for DynamicObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(3 + self.body.len()))?;
        map.serialize_entry("apiVersion", &self.api_version)?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("metadata", &self.metadata)?;
        for (k, v) in &self.body {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl From<DynamicObject> for Object {
    fn from(o: DynamicObject) -> Self {
        Object::Dynamic(Box::new(o))
    }
}

/// A kind of [`Object`] a typed patch can edit: `Deployment`, `Service`, …
pub trait TypedKind: Sized {
    /// The `kind` of the objects of this type.
    const OBJECT_KIND: &'static str;

    /// The object as this kind, if it is one.
    fn of_mut(object: &mut Object) -> Option<&mut Self>;
}

/// `apiVersion` and `kind` of a custom resource, read from its spec type.
struct Crd<S>(S);

impl<S: CustomResourceSpec> Crd<S> {
    const API_VERSION: &'static str = S::API_VERSION;
    const KIND: &'static str = S::KIND;
}

objects! {
    Namespace(Namespace) = Namespace;
    ServiceAccount(ServiceAccount) = ServiceAccount;
    ConfigMap(ConfigMap) = ConfigMap;
    Secret(Secret) = Secret;
    ResourceQuota(ResourceQuota) = ResourceQuota;
    LimitRange(LimitRange) = LimitRange;
    PersistentVolumeClaim(PersistentVolumeClaim) = PersistentVolumeClaim;
    NetworkPolicy(NetworkPolicy) = NetworkPolicy;
    Service(Service) = Service;
    Deployment(Deployment) = Deployment;
    StatefulSet(StatefulSet) = StatefulSet;
    DaemonSet(DaemonSet) = DaemonSet;
    Job(Job) = Job;
    CronJob(CronJob) = CronJob;
    PodDisruptionBudget(PodDisruptionBudget) = PodDisruptionBudget;
    HorizontalPodAutoscaler(HorizontalPodAutoscaler) = HorizontalPodAutoscaler;
    Ingress(Ingress) = Ingress;
    HttpRoute(HttpRoute) = Crd<HttpRouteSpec>;
    SecretStore(SecretStore) = Crd<SecretStoreSpec>;
    ExternalSecret(ExternalSecret) = Crd<ExternalSecretSpec>;
    SealedSecret(SealedSecret) = Crd<SealedSecretSpec>;
    ClusterIssuer(ClusterIssuer) = Crd<IssuerSpec>;
    ConstraintTemplate(ConstraintTemplate) = Crd<ConstraintTemplateSpec>;
    PrivilegedContainerConstraint(PrivilegedContainerConstraint) = Crd<ConstraintSpec>;
    PrometheusRule(PrometheusRule) = Crd<PrometheusRuleSpec>;
    ServiceMonitor(ServiceMonitor) = Crd<ServiceMonitorSpec>;
    Application(Application) = Crd<ApplicationSpec>;
    AppProject(AppProject) = Crd<AppProjectSpec>;
}

impl Object {
    /// `metadata.name` (empty when unset).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// `metadata.namespace`; `None` for cluster-scoped objects.
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

    /// `(group, kind)`, the way RBAC and Argo CD AppProjects name a kind.
    pub fn group_kind(&self) -> (&str, &str) {
        let group = self.api_version().rsplit_once('/').map_or("", |(group, _)| group);
        (group, self.kind())
    }

    /// The sync wave this object carries, read back from its annotation.
    pub fn wave(&self) -> Option<SyncWave> {
        let annotations = self.metadata().annotations.as_ref()?;
        SyncWave::from_annotation(annotations.get(SYNC_WAVE_ANNOTATION)?)
    }
}
