//! Escape hatches inside the pipeline, after cdk8s's `Include` and
//! `addJsonPatch` and kube-core's `DynamicObject`: a platform adds objects
//! of any kind to each environment, patches any rendered object with a
//! typed closure, and opens traffic to a service's pods. They run after the
//! builders and before everything derived from the final objects (quota,
//! limit range, the AppProject's kinds, the pictures) and before the check,
//! so what goes through a hatch is counted and checked like the rest.
//!
//! ```
//! use gitops_core::extend::Added;
//! use gitops_core::object::DynamicObject;
//! use gitops_core::{name, platform::*, image::ImageRepository};
//! use k8s_openapi::api::apps::v1::Deployment;
//!
//! let image = ImageRepository::from_static("docker.io/acme/api");
//! let platform = Platform::new(name!("acme"))
//!     .service(Service::api(name!("api"), image))
//!     // A ServiceMonitor, a kind the builders do not know.
//!     .include(|_env| {
//!         let monitor = DynamicObject::new(
//!             "monitoring.coreos.com/v1",
//!             "ServiceMonitor",
//!             "api",
//!             serde_json::json!({"spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "api"}},
//!                                        "endpoints": [{"port": "http"}]}}),
//!         )
//!         .expect("a JSON object body");
//!         vec![Added::new(monitor).owned_by(name!("api"))]
//!     })
//!     // Prometheus, in its own namespace, scrapes the pods.
//!     .allow_ingress(name!("api"), name!("monitoring"), "http")
//!     // A typed patch: the `api` Deployment keeps ten old ReplicaSets, in every environment.
//!     .patch::<Deployment>(Some("api"), |_env, d| {
//!         d.spec.as_mut().unwrap().revision_history_limit = Some(10);
//!     });
//! assert_eq!(platform.extensions.len(), 3);
//! ```

use std::fmt;
use std::sync::Arc;

use crate::meta::SyncWave;
use crate::name::Name;
use crate::object::{Object, TypedKind};
use crate::profile::EnvironmentProfile;

/// An object a platform adds to an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    /// The object; its namespace is set to the environment's unless it is cluster-scoped.
    pub object: Object,
    /// Its sync wave; [`SyncWave::Application`] unless it says otherwise.
    pub wave: SyncWave,
    /// The service whose directory and Argo CD Application it joins (in the
    /// per-service topology); `None`: the environment's shared objects.
    pub owner: Option<Name>,
    /// A cluster-scoped kind: no namespace is set on it.
    pub cluster_scoped: bool,
}

impl Added {
    /// `object`, in the application wave, among the environment's shared objects.
    pub fn new(object: impl Into<Object>) -> Self {
        Added { object: object.into(), wave: SyncWave::Application, owner: None, cluster_scoped: false }
    }

    /// Puts it in `wave`.
    pub fn wave(mut self, wave: SyncWave) -> Self {
        self.wave = wave;
        self
    }

    /// Makes it part of `service`: its directory and Application in the per-service topology.
    pub fn owned_by(mut self, service: Name) -> Self {
        self.owner = Some(service);
        self
    }

    /// Marks it cluster-scoped: no namespace is set, and the AppProject must admit its kind.
    pub fn cluster_scoped(mut self) -> Self {
        self.cluster_scoped = true;
        self
    }
}

type AddFn = dyn Fn(&EnvironmentProfile) -> Vec<Added> + Send + Sync;
type PatchFn = dyn Fn(&EnvironmentProfile, &mut Object) -> bool + Send + Sync;

/// One escape hatch of a platform, applied in the order declared.
#[derive(Clone)]
pub enum Extension {
    /// Objects added to every environment (the closure may look at the
    /// profile and add nothing).
    Add(Arc<AddFn>),
    /// A typed patch of every rendered object of `kind` (named `name`, when
    /// given). A patch that names an object the environment does not render is
    /// an error when that environment renders.
    Patch {
        /// The kind patched (`Deployment`).
        kind: &'static str,
        /// Only the object of this name; `None` for every object of the kind.
        name: Option<String>,
        /// The patch; it returns whether the object was of its type.
        apply: Arc<PatchFn>,
    },
    /// Traffic from the pods of namespace `from` to the container port
    /// `port` of `service`'s pods, added to its NetworkPolicy.
    AllowIngress {
        /// The service reached.
        service: Name,
        /// The namespace the traffic comes from (`monitoring`).
        from: Name,
        /// The container port's name.
        port: String,
    },
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extension::Add(_) => f.write_str("Add(..)"),
            Extension::Patch { kind, name, .. } => write!(f, "Patch({kind} {name:?})"),
            Extension::AllowIngress { service, from, port } => {
                write!(f, "AllowIngress({from} -> {service}:{port})")
            }
        }
    }
}

impl Extension {
    /// A typed patch of the objects of kind `T`.
    pub fn patch<T: TypedKind + 'static>(
        name: Option<&str>,
        f: impl Fn(&EnvironmentProfile, &mut T) + Send + Sync + 'static,
    ) -> Self {
        Extension::Patch {
            kind: T::OBJECT_KIND,
            name: name.map(Into::into),
            apply: Arc::new(move |env, object| match T::of_mut(object) {
                Some(typed) => {
                    f(env, typed);
                    true
                }
                None => false,
            }),
        }
    }
}
