//! The whole render of one platform: release files and policies in, a
//! checked tree out.
//!
//! Reads `<releases>/<env>.yaml` for every profile, renders each
//! environment, runs the policy check over every object (with the file it
//! will be written to) and lays the result out. Every environment is tried,
//! so one run reports every input error; nothing is written here.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use gitops_core::build::credential_secrets;
use gitops_core::crd::sealed_secrets::parse_kubeseal_output;
use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::profile::SecretBackend;
use gitops_core::release::ReleasePins;
use gitops_core::{EnvironmentRender, SealedInputs, render_environment_with};
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

/// The release file of `profile`, relative to the root: `releases/<env>.yaml`.
pub fn release_file(paths: &Paths, profile: &EnvironmentProfile) -> String {
    format!("{}/{}.yaml", paths.releases, profile.name)
}

/// Renders one environment from its release file, or from `text` when given
/// (a changed release file is rendered before it is written), without the
/// policy check. The error names the file or the environment, and the fix.
pub fn render_one(
    platform: &Platform,
    profile: &EnvironmentProfile,
    paths: &Paths,
    text: Option<&str>,
) -> Result<EnvironmentRender, String> {
    let services: Vec<_> = platform.services.iter().map(|s| s.name.clone()).collect();
    let rel = release_file(paths, profile);
    let text = match text {
        Some(text) => text.to_owned(),
        None => fs::read_to_string(paths.root.join(&rel)).map_err(|e| {
            format!("{rel}: cannot read the release file ({e}); create it with an `images:` entry for every service")
        })?,
    };
    let pins = ReleasePins::parse(&rel, &text, &services).map_err(|e| e.to_string())?;
    let sealed = read_sealed(platform, profile, paths)?;
    render_environment_with(platform, profile, &pins, &sealed).map_err(|e| e.to_string())
}

/// For an environment whose secrets are sealed: the ciphertext of every
/// credentials Secret, from `<dir>/<secret>.yaml` (`kubeseal` output).
fn read_sealed(
    platform: &Platform,
    profile: &EnvironmentProfile,
    paths: &Paths,
) -> Result<SealedInputs, String> {
    let SecretBackend::Sealed { dir } = profile.secrets else { return Ok(SealedInputs::new()) };
    let mut sealed = SealedInputs::new();
    for (secret, keys) in credential_secrets(platform).map_err(|e| e.to_string())? {
        let file = format!("{dir}/{secret}.yaml");
        let text = fs::read_to_string(paths.root.join(&file)).map_err(|e| {
            format!("{file}: cannot read the sealed secret ({e}); environment `{}` seals its secrets: seal `{secret}` with `kubeseal --format yaml` into that file", profile.name)
        })?;
        let data = parse_kubeseal_output(&file, &text, secret.as_str(), profile.namespace.as_str(), &keys)
            .map_err(|e| e.to_string())?;
        sealed.insert(secret, data);
    }
    Ok(sealed)
}

/// Renders `platform` in every environment of `profiles` and checks it. On
/// failure, every input error found, each naming its file or environment.
pub fn render_platform(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
) -> Result<Rendered, Vec<String>> {
    render_platform_with(platform, profiles, paths, &BTreeMap::new())
}

/// [`render_platform`] with the release file of some environments given as
/// text (environment name -> file content) instead of read from disk.
pub fn render_platform_with(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
    releases: &BTreeMap<String, String>,
) -> Result<Rendered, Vec<String>> {
    let policies = Policies::load_dir(paths.root, paths.policies).map_err(|e| vec![e.to_string()])?;
    let mut errors = Vec::new();
    let mut envs = Vec::new();
    for profile in profiles {
        let text = releases.get(profile.name.as_str()).map(String::as_str);
        match render_one(platform, profile, paths, text) {
            Ok(render) => envs.push(EnvironmentObjects { profile, render }),
            Err(e) => errors.push(e),
        }
    }
    errors.extend(stray_release_files(profiles, paths));
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut report = Report::default();
    for env in &envs {
        let dirs = environment_dirs(platform, env.profile.name.as_str(), &env.render)
            .map_err(|e| vec![e.to_string()])?;
        let targets = dirs
            .iter()
            .flat_map(|dir| {
                dir.objects.iter().map(|o| Target {
                    file: format!("{}/{}/{}", paths.deploy, dir.path, file_name(o)),
                    object: o,
                })
            })
            .collect();
        let out_of_band = env.render.out_of_band.iter().map(|n| n.to_string()).collect();
        let findings =
            gitops_policy::check(&Environment { profile: env.profile, targets, out_of_band }, &policies)
                .map_err(|e| vec![e.to_string()])?;
        report.findings.extend(findings);
    }
    let tree = layout(platform, &envs, paths.deploy).map_err(|e| vec![e.to_string()])?;
    Ok(Rendered { tree, report })
}

/// Release files for environments the platform does not define: a renamed
/// or removed environment, or a typo in a file name. Each would silently be
/// ignored, so each is an error.
fn stray_release_files(profiles: &[EnvironmentProfile], paths: &Paths) -> Vec<String> {
    let Ok(entries) = fs::read_dir(paths.root.join(paths.releases)) else { return Vec::new() };
    let known: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    let mut stray: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".yaml")).map(str::to_owned))
        .filter(|env| !known.contains(&env.as_str()))
        .collect();
    stray.sort();
    stray
        .into_iter()
        .map(|env| {
            format!(
                "{}/{env}.yaml: there is no environment `{env}`; the environments are {}; rename or remove the file, or define the environment",
                paths.releases,
                known.join(", ")
            )
        })
        .collect()
}
