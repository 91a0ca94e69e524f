//! The whole render of one platform: release pins and policies in, a
//! checked tree out.
//!
//! One path, in phases that [`render_pinned`] composes and that a benchmark
//! may time one by one:
//!
//! 1. [`render_environments`]: every environment's typed objects (pure);
//! 2. [`check`]: the policy check over every object, with the file it will
//!    be written to;
//! 3. [`layout`]: paths, Argo CD wiring and YAML bytes.
//!
//! [`render_platform`] is the same path with the pins read from
//! `<releases>/<env>.yaml`. Every release file is read and every environment
//! tried, so one run reports every broken file (or, when all read, every
//! environment that does not render); nothing is written here.

use std::fs;
use std::path::Path;

use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::release::ReleasePins;
use gitops_core::render_environment;
use gitops_policy::{Environment, Policies, Report, Target};

use crate::layout::{EnvironmentObjects, environment_dirs, file_name, layout};
use crate::tree::Tree;

/// Where the inputs are and where the output goes in the repository.
pub struct Paths<'a> {
    /// The repository root; release files and policies are read below it.
    pub root: &'a Path,
    /// Release files, relative to the root (`releases`).
    pub releases: &'a str,
    /// Rego policies, relative to the root (`policies`); may not exist.
    pub policies: &'a str,
    /// The rendered tree's place in the repository (`deploy`), which the
    /// Argo CD Applications point at.
    pub deploy: &'a str,
}

/// A rendered tree and what the policy check found in it. Write the tree
/// only when `report.blocking()` is zero.
pub struct Rendered {
    pub tree: Tree,
    pub report: Report,
}

/// Reads and parses `<releases>/<env>.yaml` for every profile, in profile
/// order. On failure, the error of every file that does not read or parse.
pub fn read_pins(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
) -> Result<Vec<ReleasePins>, Vec<String>> {
    let services: Vec<_> = platform.services.iter().map(|s| s.name.clone()).collect();
    let mut pins = Vec::with_capacity(profiles.len());
    let mut errors = Vec::new();
    for profile in profiles {
        let rel = format!("{}/{}.yaml", paths.releases, profile.name);
        let parsed = fs::read_to_string(paths.root.join(&rel))
            .map_err(|e| {
                format!("{rel}: cannot read the release file ({e}); create it with an `images:` entry for every service")
            })
            .and_then(|text| ReleasePins::parse(&rel, &text, &services).map_err(|e| e.to_string()));
        match parsed {
            Ok(p) => pins.push(p),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(pins) } else { Err(errors) }
}

/// Phase 1: the typed objects of every environment; `pins[i]` are the pins
/// of `profiles[i]`. On failure, the error of every environment that fails.
pub fn render_environments<'p>(
    platform: &Platform,
    profiles: &'p [EnvironmentProfile],
    pins: &[ReleasePins],
) -> Result<Vec<EnvironmentObjects<'p>>, Vec<String>> {
    assert_eq!(profiles.len(), pins.len(), "one set of pins per environment");
    let mut errors = Vec::new();
    let mut envs = Vec::with_capacity(profiles.len());
    for (profile, pins) in profiles.iter().zip(pins) {
        match render_environment(platform, profile, pins) {
            Ok(render) => envs.push(EnvironmentObjects { profile, render }),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() { Ok(envs) } else { Err(errors) }
}

/// Phase 2: the policy check of every environment. Each object is checked
/// with the file it will be written to, below `deploy`.
pub fn check(
    platform: &Platform,
    envs: &[EnvironmentObjects],
    policies: &Policies,
    deploy: &str,
) -> Result<Report, Vec<String>> {
    let mut report = Report::default();
    for env in envs {
        let dirs = environment_dirs(platform, env.profile.name.as_str(), &env.render)
            .map_err(|e| vec![e.to_string()])?;
        let targets = dirs
            .iter()
            .flat_map(|dir| {
                dir.objects
                    .iter()
                    .map(|o| Target { file: format!("{deploy}/{}/{}", dir.path, file_name(o)), object: o })
            })
            .collect();
        let findings = gitops_policy::check(&Environment { profile: env.profile, targets }, policies)
            .map_err(|e| vec![e.to_string()])?;
        report.findings.extend(findings);
    }
    Ok(report)
}

/// Renders, checks and lays out `platform` in every environment of
/// `profiles`, with `pins[i]` the release pins of `profiles[i]`. `deploy`
/// is the tree's place in the repository. The one path every platform
/// takes, whatever its pins come from.
pub fn render_pinned(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    pins: &[ReleasePins],
    policies: &Policies,
    deploy: &str,
) -> Result<Rendered, Vec<String>> {
    let envs = render_environments(platform, profiles, pins)?;
    let report = check(platform, &envs, policies, deploy)?;
    // Phase 3: layout and YAML.
    let tree = layout(platform, &envs, deploy).map_err(|e| vec![e.to_string()])?;
    Ok(Rendered { tree, report })
}

/// [`render_pinned`] with the policies and release files read below
/// `paths.root`. On failure, every input error found, each naming its file
/// or environment.
pub fn render_platform(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
) -> Result<Rendered, Vec<String>> {
    let policies = Policies::load_dir(paths.root, paths.policies).map_err(|e| vec![e.to_string()])?;
    let pins = read_pins(platform, profiles, paths)?;
    render_pinned(platform, profiles, &pins, &policies, paths.deploy)
}
