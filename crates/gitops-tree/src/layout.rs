//! Where each object goes, and the files that tie a directory together.
//!
//! ```text
//! <env>/kustomization.yaml        lists every file, so `kubectl kustomize <env>` works
//! <env>/<kind>-<name>.yaml        one object per file
//! argocd/<env>.yaml               the Application that syncs <repo_dir>/<env>
//! ```

use std::collections::BTreeSet;

use gitops_core::Object;
use gitops_core::name::NameError;
use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::yaml::{self, YamlError};
use serde::Serialize;

use crate::argocd;
use crate::tree::Tree;

/// First line of every rendered file.
pub const HEADER: &str =
    "# Rendered by `cargo xtask render`: edit the Rust sources or releases/, not this file.\n";

/// Directory of the Argo CD Applications, beside the environment directories.
pub const ARGOCD_DIR: &str = "argocd";

/// The rendered objects of one environment.
pub struct EnvironmentObjects<'a> {
    pub profile: &'a EnvironmentProfile,
    pub objects: Vec<Object>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("environment `{env}` has two {kind} objects named `{name}`; give one of them another name")]
    Duplicate { env: String, kind: String, name: String },
    #[error(
        "environment `{env}`: {kind} `{name}` is in namespace `{found}`, not the environment's `{expected}`"
    )]
    WrongNamespace { env: String, kind: String, name: String, found: String, expected: String },
    #[error("environment `{0}` is defined twice, or is named `argocd`, which the layout reserves; rename it")]
    EnvironmentName(String),
    #[error("cannot emit YAML for {what}: {}", .error.message)]
    Yaml { what: String, error: YamlError },
    #[error(transparent)]
    Name(#[from] NameError),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization<'a> {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<&'a str>,
}

/// `<kind>-<name>.yaml`, lowercase: stable, unique per kind and name.
pub fn file_name(object: &Object) -> String {
    format!("{}-{}.yaml", object.kind().to_ascii_lowercase(), object.name())
}

fn document<T: Serialize>(what: impl FnOnce() -> String, value: &T) -> Result<Vec<u8>, LayoutError> {
    let body = yaml::to_string(value).map_err(|error| LayoutError::Yaml { what: what(), error })?;
    let mut bytes = Vec::with_capacity(HEADER.len() + body.len());
    bytes.extend_from_slice(HEADER.as_bytes());
    bytes.extend_from_slice(body.as_bytes());
    Ok(bytes)
}

/// Lays out every environment of `platform`. `repo_dir` is where the tree
/// sits in the Git repository (`deploy`), for the Applications' source paths.
pub fn layout(platform: &Platform, envs: &[EnvironmentObjects], repo_dir: &str) -> Result<Tree, LayoutError> {
    let mut tree = Tree::new();
    let mut env_names = BTreeSet::new();
    for env in envs {
        let env_name = env.profile.name.as_str();
        if env_name == ARGOCD_DIR || !env_names.insert(env_name) {
            return Err(LayoutError::EnvironmentName(env_name.into()));
        }
        let mut files = Vec::with_capacity(env.objects.len());
        for object in &env.objects {
            if let Some(ns) = object.namespace()
                && ns != env.profile.namespace.as_str()
            {
                return Err(LayoutError::WrongNamespace {
                    env: env_name.into(),
                    kind: object.kind().into(),
                    name: object.name().into(),
                    found: ns.into(),
                    expected: env.profile.namespace.to_string(),
                });
            }
            let file = file_name(object);
            let bytes = document(|| format!("{} `{}`", object.kind(), object.name()), object)?;
            if !tree.insert(format!("{env_name}/{file}"), bytes) {
                return Err(LayoutError::Duplicate {
                    env: env_name.into(),
                    kind: object.kind().into(),
                    name: object.name().into(),
                });
            }
            files.push(file);
        }
        files.sort();
        let kustomization = Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            resources: files.iter().map(String::as_str).collect(),
        };
        tree.insert(
            format!("{env_name}/kustomization.yaml"),
            document(|| "kustomization.yaml".into(), &kustomization)?,
        );

        let app = argocd::environment_application(platform, env.profile, &format!("{repo_dir}/{env_name}"))?;
        tree.insert(
            format!("{ARGOCD_DIR}/{env_name}.yaml"),
            document(|| format!("Application for `{env_name}`"), &app)?,
        );
    }
    Ok(tree)
}
