//! From typed objects to files: the layout of the GitOps tree, the Argo CD
//! wiring that points at it, YAML emission, the atomic write and the
//! comparison with what is on disk, and the pictures (diagrams, README) of
//! each environment.
//!
//! This crate knows paths and bytes; it knows no particular platform: the
//! pictures read what a platform runs from its rendered objects.

pub mod argocd;
pub mod diff;
pub mod disk;
pub mod layout;
pub mod lock;
pub mod picture;
pub mod pipeline;
pub mod tree;

pub use layout::{EnvironmentObjects, LayoutError, layout};
pub use tree::Tree;
