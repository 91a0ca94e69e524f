//! The whole render of one platform: release files in, tree out.
//!
//! Reads `<releases>/<env>.yaml` for every profile, renders each environment
//! and lays the result out. Every environment is tried, so one run reports
//! every error; nothing is written here.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::release::ReleasePins;
use gitops_core::render_environment;

use crate::layout::{EnvironmentObjects, layout};
use crate::tree::Tree;

/// Where the inputs are and where the output goes in the repository.
pub struct Paths<'a> {
    /// The repository root; release files are read below it.
    pub root: &'a Path,
    /// Release files, relative to the root (`releases`).
    pub releases: &'a str,
    /// The rendered tree's place in the repository (`deploy`), which the
    /// Argo CD Applications point at.
    pub deploy: &'a str,
}

/// The release file of `profile`, relative to the root: `releases/<env>.yaml`.
pub fn release_file(paths: &Paths, profile: &EnvironmentProfile) -> String {
    format!("{}/{}.yaml", paths.releases, profile.name)
}

/// Renders `platform` in every environment of `profiles`. On failure, every
/// error found, each naming its file or environment and the fix.
pub fn render_platform(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
) -> Result<Tree, Vec<String>> {
    render_platform_with(platform, profiles, paths, &BTreeMap::new())
}

/// [`render_platform`] with the release file of some environments given as
/// text (environment name -> file content) instead of read from disk, so a
/// changed release file is rendered before it is written.
pub fn render_platform_with(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
    releases: &BTreeMap<String, String>,
) -> Result<Tree, Vec<String>> {
    let services: Vec<_> = platform.services.iter().map(|s| s.name.clone()).collect();
    let mut errors = Vec::new();
    let mut envs = Vec::new();
    for profile in profiles {
        let rel = release_file(paths, profile);
        let text = match releases.get(profile.name.as_str()) {
            Some(text) => Ok(text.clone()),
            None => fs::read_to_string(paths.root.join(&rel)).map_err(|e| {
                format!("{rel}: cannot read the release file ({e}); create it with an `images:` entry for every service")
            }),
        };
        let pins =
            text.and_then(|text| ReleasePins::parse(&rel, &text, &services).map_err(|e| e.to_string()));
        match pins.and_then(|pins| render_environment(platform, profile, &pins).map_err(|e| e.to_string())) {
            Ok(render) => envs.push(EnvironmentObjects { profile, render }),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    layout(platform, &envs, paths.deploy).map_err(|e| vec![e.to_string()])
}
