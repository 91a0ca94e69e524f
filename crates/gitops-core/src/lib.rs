//! Typed building blocks for rendering a GitOps tree.
//!
//! Data flows one way: a [`platform::Platform`] (what runs) plus an
//! [`profile::EnvironmentProfile`] (where and how much) plus
//! [`release::ReleasePins`] (which image) go through
//! [`build::render_environment`] to a list of typed [`object::Object`]s.
//! Nothing here does I/O, and nothing here knows a particular platform.
//!
//! - [`name`], [`image`]: validated names, hosts and image references.
//! - [`meta`]: labels, selectors and sync waves, computed in one place.
//! - [`crd`]: custom resources (Argo CD, External Secrets, Sealed Secrets, cert-manager,
//!   Gatekeeper, Gateway API) with upstream field names.
//! - [`build`]: the builders, one module per building block.
//! - [`yaml`]: the only module that knows the YAML library.
//! - [`par`]: order-keeping data parallelism on scoped threads.

pub mod build;
pub mod crd;
pub mod extend;
pub mod hash;
pub mod image;
pub mod meta;
pub mod name;
pub mod object;
pub mod par;
pub mod platform;
pub mod profile;
pub mod release;
pub mod source;
pub mod spec;
pub mod yaml;

pub use build::{EnvironmentRender, RenderError, SealedInputs, render_environment, render_environment_with};
pub use object::Object;
