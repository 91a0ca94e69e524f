//! From typed objects to files: the layout of the GitOps tree, the Argo CD
//! wiring that points at it, YAML emission, the atomic write and the
//! comparison with what is on disk.
//!
//! This crate knows paths and bytes; it does not know what a platform runs.

pub mod argocd;
pub mod diff;
pub mod disk;
pub mod layout;
pub mod pipeline;
pub mod tree;

pub use layout::{EnvironmentObjects, LayoutError, layout};
pub use tree::Tree;
