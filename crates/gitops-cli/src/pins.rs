//! What the commands that change image tags share: finding an environment
//! and a service by name, reading a release file, and the one way a change
//! is applied (edit in memory, render, then write).

use std::collections::BTreeMap;
use std::path::PathBuf;

use gitops_core::image::{ImageDigest, ImageTag};
use gitops_core::name::Name;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::release::edit::{self, PinChange};
use gitops_core::release::{Pin, ReleasePins};
use gitops_tree::disk::{self, Outcome, Staged};
use gitops_tree::pipeline::{read_release, release_file, render_platform_with};

use crate::Project;

/// The released services called `names`, or an error listing the known ones.
pub fn find_services(project: &Project, names: &[String]) -> Result<Vec<Name>, Vec<String>> {
    let all = project.released_services();
    let known: Vec<&str> = all.iter().map(Name::as_str).collect();
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|s| s.as_str() == n)
                .cloned()
                .ok_or_else(|| vec![format!("unknown service `{n}`; the services are: {}", known.join(", "))])
        })
        .collect()
}

/// A tag given on the command line, checked with the platform's rule.
pub fn tag(project: &Project, value: &str) -> Result<ImageTag, Vec<String>> {
    let rule = project.tag_rule();
    ImageTag::parse(value, rule).map_err(|e| vec![format!("--tag: {e}; {}", rule.describe())])
}

/// The `--digest` values of a set-image run, by service: `SVC=sha256:…`,
/// or a bare `sha256:…` when exactly one service is set.
pub fn digests(
    project: &Project,
    values: &[String],
    services: &[Name],
) -> Result<BTreeMap<Name, ImageDigest>, Vec<String>> {
    let mut out = BTreeMap::new();
    for value in values {
        let (service, digest) = match value.split_once('=') {
            Some((service, digest)) => (find_services(project, &[service.to_owned()])?.remove(0), digest),
            None if services.len() == 1 => (services[0].clone(), value.as_str()),
            None => {
                return Err(vec![format!(
                    "--digest {value}: with several services, name the service: `--digest SVC=sha256:…`"
                )]);
            }
        };
        if !services.contains(&service) {
            return Err(vec![format!("--digest {value}: `{service}` is not among the services being set")]);
        }
        let digest = ImageDigest::new(digest).map_err(|e| vec![format!("--digest: {e}")])?;
        if out.insert(service.clone(), digest).is_some() {
            return Err(vec![format!("--digest: `{service}` is given twice")]);
        }
    }
    Ok(out)
}

/// One environment's release file as it is on disk.
pub struct ReleaseFile {
    pub profile: EnvironmentProfile,
    /// Relative to the root, for messages: `releases/dev.yaml`.
    pub rel: String,
    pub path: PathBuf,
    pub text: String,
    pub pins: ReleasePins,
}

impl ReleaseFile {
    pub fn read(project: &Project, profile: EnvironmentProfile) -> Result<Self, Vec<String>> {
        let rel = release_file(&project.paths(), &profile);
        let path = project.root.join(&rel);
        let text = read_release(&project.paths(), &profile).map_err(|e| vec![e.to_string()])?;
        let pins = ReleasePins::parse_for(&rel, &text, &project.released_services(), project.tag_rule())
            .map_err(|e| vec![e.to_string()])?;
        Ok(ReleaseFile { profile, rel, path, text, pins })
    }
}

/// What [`apply`] changed.
pub struct Applied {
    pub changes: Vec<PinChange>,
    drift: Vec<disk::Drift>,
    outcome: Outcome,
}

impl Applied {
    /// The pin table and the files of the tree that changed.
    pub fn print(&self, project: &Project, rel: &str) {
        let deploy = project.deploy;
        if self.changes.is_empty() {
            println!("{rel}: no tag changed");
        } else {
            println!("{rel}: {} tag(s) changed\n", self.changes.len());
            print!("{}", edit::summary_table(&self.changes));
            println!();
        }
        match self.outcome {
            Outcome::Unchanged => println!("{deploy}: unchanged"),
            Outcome::Replaced => {
                println!("{deploy}: written, {} file(s) changed", self.drift.len());
                for d in &self.drift {
                    println!("  {d}");
                }
            }
        }
    }
}

/// Sets `tags` in `file`, renders every environment with the new file and
/// only then writes the release file and `deploy/` as one change
/// ([`Staged::also_replace`]): a failure before it leaves every file as it
/// was, and after a kill at any moment the two are both old, or the next
/// command completes both.
pub fn apply(project: &Project, file: &ReleaseFile, changes: &[(Name, Pin)]) -> Result<Applied, Vec<String>> {
    let services = project.released_services();
    let (text, pins) = edit::set_pins_for(&file.rel, &file.text, &services, changes, project.tag_rule())
        .map_err(|e| vec![e.to_string()])?;
    let releases = BTreeMap::from([(file.profile.name.to_string(), text.clone())]);
    let rendered = render_platform_with(&project.platform, &project.profiles, &project.paths(), &releases)
        .map_err(crate::render::strings)?;
    crate::render::refuse_blocking(&rendered.report)?;
    let tree = rendered.tree;

    let dest = project.root.join(project.deploy);
    let io_err = |e| crate::io_error(&dest, e);
    let drift = disk::compare(&tree, &disk::read_tree(&dest).map_err(io_err)?);
    let staged = Staged::begin(&dest, &|_| Ok(())).map_err(io_err)?;
    staged
        .add(tree.files().map(|(path, bytes)| (path.to_owned(), bytes.to_vec())).collect())
        .map_err(io_err)?;
    if text != file.text {
        staged.also_replace(file.path.clone(), text.into_bytes());
    }
    let finished = staged.finish().map_err(|e| crate::commit_error(&dest, e))?;
    crate::print_notes(&finished);
    Ok(Applied { changes: edit::changes(&file.pins, &pins), drift, outcome: finished.outcome })
}
