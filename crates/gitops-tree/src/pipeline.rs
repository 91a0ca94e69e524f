//! The whole render of one platform: release pins and policies in, a
//! checked tree out.
//!
//! One path, [`render_pinned`], in three phases per environment (a
//! benchmark times them through [`render_pinned_observed`]):
//!
//! 1. render: the environment's typed objects (pure);
//! 2. check: the policy check over every object, with the file it will be
//!    written to ([`check_environment`]);
//! 3. layout: paths, Argo CD wiring and YAML bytes ([`Layout`]).
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
use gitops_policy::{Environment, Finding, Policies, Report, Target};

use crate::layout::{EnvironmentObjects, Layout, environment_dirs, file_name};
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

/// Phase 2: the policy check of one environment. Each object is checked
/// with the file it will be written to, below `deploy`.
pub fn check_environment(
    platform: &Platform,
    env: &EnvironmentObjects,
    policies: &Policies,
    deploy: &str,
) -> Result<Vec<Finding>, Vec<String>> {
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
    gitops_policy::check(&Environment { profile: env.profile, targets }, policies)
        .map_err(|e| vec![e.to_string()])
}

/// A phase of [`render_pinned_observed`], reported when a step of it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// An environment's typed objects are built.
    Render,
    /// An environment's objects are checked.
    Check,
    /// An environment's objects are files (or the Argo CD files are written).
    Layout,
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
    render_pinned_observed(platform, profiles, pins, policies, deploy, &mut |_| {})
}

/// [`render_pinned`], calling `done` at the end of every step with the
/// phase that step belonged to (a benchmark times the phases with it).
///
/// Environments go through the phases one at a time, and each one's typed
/// objects are dropped once they are files: the memory a render needs is
/// one environment's objects plus the tree, not every environment's
/// objects. Every environment is still rendered, so every render error is
/// reported; without one, the first check or layout error is.
pub fn render_pinned_observed(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    pins: &[ReleasePins],
    policies: &Policies,
    deploy: &str,
    done: &mut dyn FnMut(Phase),
) -> Result<Rendered, Vec<String>> {
    assert_eq!(profiles.len(), pins.len(), "one set of pins per environment");
    let mut render_errors = Vec::new();
    // The first check or layout error; render errors take precedence.
    let mut failed = None;
    let mut report = Report::default();
    let mut layout = Layout::new(platform, deploy);
    for (profile, pins) in profiles.iter().zip(pins) {
        let render = render_environment(platform, profile, pins);
        done(Phase::Render);
        match render {
            Err(e) => render_errors.push(e.to_string()),
            // Once something has failed, the others only report render errors.
            Ok(_) if !render_errors.is_empty() || failed.is_some() => {}
            Ok(render) => {
                let env = EnvironmentObjects { profile, render };
                let checked = check_environment(platform, &env, policies, deploy);
                done(Phase::Check);
                match checked {
                    Ok(findings) => report.findings.extend(findings),
                    Err(e) => failed = Some(e),
                }
                if failed.is_none()
                    && let Err(e) = layout.add(&env)
                {
                    failed = Some(vec![e.to_string()]);
                }
                drop(env);
                done(Phase::Layout);
            }
        }
    }
    if !render_errors.is_empty() {
        return Err(render_errors);
    }
    if let Some(errors) = failed {
        return Err(errors);
    }
    let tree = layout.finish().map_err(|e| vec![e.to_string()])?;
    done(Phase::Layout);
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
