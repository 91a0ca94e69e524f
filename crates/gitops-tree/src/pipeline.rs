//! The whole render of one platform: release pins and policies in, a
//! checked tree out.
//!
//! One path, [`render_pinned_to`], in three phases per environment (a
//! benchmark times them through its observer), each environment's files
//! handed on as soon as they are laid out; [`render_pinned`] collects them
//! into a tree:
//!
//! 1. render: the environment's typed objects (pure);
//! 2. check: the policy check over every object, with the file it will be
//!    written to ([`check_environment`]);
//! 3. layout: paths, Argo CD wiring and YAML bytes ([`Layout`]).
//!
//! [`render_platform`] is the same path with the inputs read from disk
//! (`<releases>/<env>.yaml`, sealed secrets). Every environment is tried, so
//! one run reports every input error; nothing is written here.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use gitops_core::build::credential_secrets;
use gitops_core::crd::sealed_secrets::{SealedFileError, parse_kubeseal_output};
use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::profile::SecretBackend;
use gitops_core::release::{ReleaseError, ReleasePins};
use gitops_core::source::{self, SourceError};
use gitops_core::{EnvironmentRender, RenderError, SealedInputs, render_environment_with};
use gitops_policy::{Environment, Finding, Policies, PolicyError, Report, Target};

use crate::layout::{
    EnvironmentObjects, Files, Layout, LayoutError, PreparedEnvironment, environment_dirs, file_name,
};
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
    /// The team's policy rules in Rust, checked beside the built-in rules
    /// and the Rego policies (`&[]` for none).
    pub rules: &'a [gitops_policy::CustomRule],
}

/// Why a render produced no tree. Each names the file or the environment
/// and the fix; strings are made only at a binary's edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// A release file or sealed secret that cannot be read.
    #[error("{file}: {problem}")]
    Unreadable {
        /// The file, relative to the root.
        file: String,
        /// Why, and the fix.
        problem: String,
    },
    /// A release file that does not parse or pins what the platform does not have.
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// A sealed-secret file that is not what the environment's secret needs.
    #[error(transparent)]
    Sealed(#[from] SealedFileError),
    /// The builders refused the environment.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The policies could not be loaded or evaluated.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The objects cannot be laid out as files.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A release file for an environment the platform does not define.
    #[error(
        "{file}: there is no environment `{env}`; the environments are {known}; rename or remove the file, or define the environment"
    )]
    StrayRelease {
        /// The release file.
        file: String,
        /// The environment its name says.
        env: String,
        /// The environments the platform defines.
        known: String,
    },
    /// The output refused the files (writing them failed).
    #[error("{0}")]
    Output(String),
}

/// Every error of a render, in environment order.
pub type PipelineErrors = Vec<PipelineError>;

/// A rendered tree and what the policy check found in it. Write the tree
/// only when `report.blocking()` is zero.
pub struct Rendered {
    /// Every file of the tree, by path.
    pub tree: Tree,
    /// The policy check's findings over every environment.
    pub report: Report,
}

/// The release file of `profile`, relative to the root: `releases/<env>.yaml`.
pub fn release_file(paths: &Paths, profile: &EnvironmentProfile) -> String {
    format!("{}/{}.yaml", paths.releases, profile.name)
}

/// The text of `profile`'s release file, read as every input is
/// ([`source::read_text`]: a regular UTF-8 file below the root, not a
/// link, of bounded size); the error names the file and the fix.
pub fn read_release(paths: &Paths, profile: &EnvironmentProfile) -> Result<String, PipelineError> {
    let name = format!("{}.yaml", profile.name);
    source::read_text(paths.root, paths.releases, &name, source::MAX_DATA_BYTES).map_err(|e| {
        let problem = match e {
            SourceError::Missing => {
                "the release file does not exist; create it with an `images:` entry for every service, or run the command from the repository (or pass --root)".to_owned()
            }
            e => e.to_string(),
        };
        PipelineError::Unreadable { file: release_file(paths, profile), problem }
    })
}

/// What one environment renders from besides the platform and its profile:
/// the release pins, and the ciphertext of its sealed secrets (if sealed).
pub struct Inputs {
    /// The images its release file pins.
    pub pins: ReleasePins,
    /// The ciphertext of its sealed secrets, when its secret backend seals.
    pub sealed: SealedInputs,
}

impl Inputs {
    /// Pins alone, for an environment whose secrets are not sealed.
    pub fn pins(pins: ReleasePins) -> Self {
        Inputs { pins, sealed: SealedInputs::new() }
    }
}

/// Reads one environment's inputs: its release file (or `text`, when given:
/// a changed release file is rendered before it is written) and its sealed
/// secrets. The error names the file and the fix.
pub fn read_inputs(
    platform: &Platform,
    profile: &EnvironmentProfile,
    paths: &Paths,
    text: Option<&str>,
) -> Result<Inputs, PipelineError> {
    let services: Vec<_> = platform.released().map(|s| s.name.clone()).collect();
    let rel = release_file(paths, profile);
    let text = match text {
        Some(text) => text.to_owned(),
        None => read_release(paths, profile)?,
    };
    let pins = ReleasePins::parse_for(&rel, &text, &services, platform.tag_rule)?;
    let sealed = read_sealed(platform, profile, paths)?;
    Ok(Inputs { pins, sealed })
}

/// Renders one environment from its release file, or from `text` when given,
/// without the policy check. The error names the file or the environment,
/// and the fix.
pub fn render_one(
    platform: &Platform,
    profile: &EnvironmentProfile,
    paths: &Paths,
    text: Option<&str>,
) -> Result<EnvironmentRender, PipelineError> {
    let inputs = read_inputs(platform, profile, paths, text)?;
    Ok(render_environment_with(platform, profile, &inputs.pins, &inputs.sealed)?)
}

/// For an environment whose secrets are sealed: the ciphertext of every
/// credentials Secret, from `<dir>/<secret>.yaml` (`kubeseal` output).
fn read_sealed(
    platform: &Platform,
    profile: &EnvironmentProfile,
    paths: &Paths,
) -> Result<SealedInputs, PipelineError> {
    let SecretBackend::Sealed { dir } = profile.secrets else { return Ok(SealedInputs::new()) };
    let mut sealed = SealedInputs::new();
    for (secret, keys) in credential_secrets(platform)? {
        let file = format!("{dir}/{secret}.yaml");
        let name = format!("{secret}.yaml");
        let text = source::read_text(paths.root, dir, &name, source::MAX_DATA_BYTES).map_err(|e| {
            let problem = match e {
                SourceError::Missing => format!(
                    "the sealed secret does not exist; environment `{}` seals its secrets: seal `{secret}` with `kubeseal --format yaml` into that file",
                    profile.name
                ),
                e => e.to_string(),
            };
            PipelineError::Unreadable { file: file.clone(), problem }
        })?;
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let data = parse_kubeseal_output(&file, &text, secret.as_str(), profile.namespace.as_str(), &keys)?;
        sealed.insert(secret, data);
    }
    Ok(sealed)
}

/// Phase 1 for every environment, without the check: the typed objects of
/// each; `inputs[i]` are the inputs of `profiles[i]`. On failure, the error
/// of every environment that fails.
///
/// # Panics
///
/// When `inputs` and `profiles` differ in length.
pub fn render_environments<'p>(
    platform: &Platform,
    profiles: &'p [EnvironmentProfile],
    inputs: &[Inputs],
) -> Result<Vec<EnvironmentObjects<'p>>, PipelineErrors> {
    assert_eq!(profiles.len(), inputs.len(), "one set of inputs per environment");
    let mut errors = Vec::new();
    let mut envs = Vec::with_capacity(profiles.len());
    for (profile, inputs) in profiles.iter().zip(inputs) {
        match render_environment_with(platform, profile, &inputs.pins, &inputs.sealed) {
            Ok(render) => envs.push(EnvironmentObjects { profile, render }),
            Err(e) => errors.push(e.into()),
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
) -> Result<Vec<Finding>, PipelineErrors> {
    let dirs =
        environment_dirs(platform, env.profile.name.as_str(), &env.render).map_err(|e| vec![e.into()])?;
    let targets = dirs
        .iter()
        .flat_map(|dir| {
            dir.objects
                .iter()
                .map(|o| Target { file: format!("{deploy}/{}/{}", dir.path, file_name(o)), object: o })
        })
        .collect();
    let out_of_band = env.render.out_of_band.iter().map(|n| n.to_string()).collect();
    gitops_policy::check(&Environment { profile: env.profile, targets, out_of_band }, policies)
        .map_err(|e| vec![e.into()])
}

/// A phase of [`render_pinned_to`], reported with its duration when
/// a step of it ends.
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
/// `profiles`, in memory: the inputs are given, nothing is read or written.
///
/// `inputs[i]` holds the release pins (and sealed ciphertext) of
/// `profiles[i]`; `policies` are the Rego policies and team rules checked
/// beside the built-in rules ([`Policies::none`] for the built-in rules
/// alone); `deploy` is the tree's place in the repository (`deploy`), which
/// the Argo CD Applications' source paths and the findings' files name.
///
/// The result is the whole [`Tree`] (each environment's directory and
/// `README.md`, and `argocd/<instance>/`) with the [`Report`] of the check.
/// Blocking findings are not an error: the tree is for writing only when
/// [`Report::blocking`] is zero. An error is every environment's render
/// error, or else the first check or layout error (see [`render_pinned_to`],
/// of which this is the unobserved form, collected with [`into_tree`]).
///
/// # Panics
///
/// When `inputs` and `profiles` differ in length.
pub fn render_pinned(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    inputs: &[Inputs],
    policies: &Policies,
    deploy: &str,
) -> Result<Rendered, PipelineErrors> {
    into_tree(|out| render_pinned_into(platform, profiles, inputs, policies, deploy, out))
}

/// [`render_pinned_to`] on the platform's [`Schedule`] ([`Schedule::for_platform`]),
/// unobserved: the files go to `out` as they are laid out.
///
/// # Panics
///
/// When `inputs` and `profiles` differ in length.
pub fn render_pinned_into(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    inputs: &[Inputs],
    policies: &Policies,
    deploy: &str,
    out: Output,
) -> Result<Report, PipelineErrors> {
    let schedule = Schedule::for_platform(platform);
    render_pinned_to(platform, profiles, inputs, policies, deploy, schedule, &mut |_, _| {}, out)
}

/// The files a render hands to its [`Output`], collected into a [`Tree`],
/// with the render's report.
pub fn into_tree(
    render: impl FnOnce(Output) -> Result<Report, PipelineErrors>,
) -> Result<Rendered, PipelineErrors> {
    let tree = Mutex::new(Tree::new());
    let out = |files: Files| {
        let mut tree = tree.lock().unwrap_or_else(PoisonError::into_inner);
        tree.extend(files).map_err(|path| format!("{path}: laid out twice"))
    };
    let report = render(&out)?;
    Ok(Rendered { tree: tree.into_inner().unwrap_or_else(PoisonError::into_inner), report })
}

/// How environments share the CPUs. Both give the same tree, findings and
/// errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// One environment per thread, all at once: the CPUs stay busy (a
    /// single environment has serial stretches: its index, its README,
    /// its Argo CD objects), at the price of every environment's objects
    /// in memory together.
    SideBySide,
    /// One environment after the other, each on every CPU, its objects
    /// freed before the next and its files handed on while the next
    /// renders: memory is about one environment's objects and one's files.
    InTurn,
}

/// Below this many services, environments go side by side. Side by side
/// costs about 0.6 MiB per service (three environments' objects at once),
/// so up to about 75 MiB; in turn, 500 services peak at about 80 MiB.
const SIDE_BY_SIDE_BELOW: usize = 128;

impl Schedule {
    /// Side by side below 128 services, in turn from there on.
    pub fn for_platform(platform: &Platform) -> Self {
        if platform.services.len() < SIDE_BY_SIDE_BELOW { Schedule::SideBySide } else { Schedule::InTurn }
    }
}

/// What one environment's step ended with.
enum Step<'p> {
    /// Its objects could not be rendered.
    RenderFailed(PipelineError),
    /// Rendered; not checked, because an environment before it failed.
    Rendered,
    /// Its check or layout failed.
    Failed(PipelineErrors),
    Done {
        findings: Vec<Finding>,
        prepared: PreparedEnvironment<'p>,
    },
}

/// What every environment's step shares.
struct Shared<'a, 'p> {
    platform: &'a Platform,
    policies: &'a Policies,
    layout: &'a Layout<'p>,
    deploy: &'a str,
    /// Give freed memory back after each environment (when they take turns).
    trim: bool,
}

/// Render, check and layout of one environment, each step's time recorded
/// in `times`. Only renders when `go_on` is false.
fn step<'p>(
    shared: &Shared<'_, 'p>,
    profile: &'p EnvironmentProfile,
    inputs: &Inputs,
    go_on: bool,
    times: &mut Vec<(Phase, Duration)>,
) -> Step<'p> {
    let Shared { platform, policies, layout, deploy, trim } = *shared;
    let mut clock = Instant::now();
    let mut lap = |phase, times: &mut Vec<(Phase, Duration)>| {
        let now = Instant::now();
        times.push((phase, now - clock));
        clock = now;
    };
    let render = render_environment_with(platform, profile, &inputs.pins, &inputs.sealed);
    lap(Phase::Render, times);
    let render = match render {
        Err(e) => return Step::RenderFailed(e.into()),
        Ok(_) if !go_on => return Step::Rendered,
        Ok(render) => render,
    };
    let env = EnvironmentObjects { profile, render };
    let checked = check_environment(platform, &env, policies, deploy);
    lap(Phase::Check, times);
    let step = match checked {
        Err(e) => Step::Failed(e),
        Ok(findings) => match layout.prepare(&env) {
            Ok(prepared) => Step::Done { findings, prepared },
            Err(e) => Step::Failed(vec![e.into()]),
        },
    };
    drop(env);
    if trim {
        release_free_memory();
    }
    lap(Phase::Layout, times);
    step
}

/// Where [`render_pinned_to`] puts each batch of files as soon as it is laid
/// out: an environment's directory, or the Argo CD directories. Called from
/// several threads at once, possibly; an error fails the render.
pub type Output<'a> = &'a (dyn Fn(Files) -> Result<(), String> + Sync);

/// Renders, checks and lays out every environment on `schedule`, handing
/// each environment's files to `out` while the next one renders (in turn)
/// or as each is laid out (side by side). Every environment is rendered,
/// so every render error is reported; without one, the first check or
/// layout error in environment order is, then the first error of `out`.
/// On error, `out` may have had some of the files: a caller that writes
/// them stages them (see [`crate::disk::Staged`]).
///
/// `done` is told each [`Phase`]'s duration as it ends, once per
/// environment and phase, and once more for the Argo CD files'
/// [`Phase::Layout`] (the benchmark's observer; `&mut |_, _| {}` for none).
/// An environment after one that failed is rendered (for its errors) but
/// neither checked nor laid out, when environments take turns.
///
/// # Panics
///
/// When `inputs` and `profiles` differ in length; a panic on one of its
/// threads is passed on.
#[allow(clippy::too_many_arguments)]
pub fn render_pinned_to(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    inputs: &[Inputs],
    policies: &Policies,
    deploy: &str,
    schedule: Schedule,
    done: &mut dyn FnMut(Phase, Duration),
    out: Output,
) -> Result<Report, PipelineErrors> {
    assert_eq!(profiles.len(), inputs.len(), "one set of inputs per environment");
    let mut layout = Layout::new(platform, deploy);
    let envs: Vec<(&EnvironmentProfile, &Inputs)> = profiles.iter().zip(inputs).collect();
    let side_by_side = schedule == Schedule::SideBySide;
    let shared = Shared { platform, policies, layout: &layout, deploy, trim: !side_by_side };
    // The first error of `out`, in environment order.
    let mut out_error = None;
    let steps: Vec<Step> = if side_by_side {
        let side = |i: usize| {
            let (profile, inputs) = envs[i];
            let mut times = Vec::new();
            let mut step = step(&shared, profile, inputs, true, &mut times);
            let written = match &mut step {
                Step::Done { prepared, .. } => out(prepared.take_files()),
                _ => Ok(()),
            };
            (step, times, written)
        };
        // A thread per environment, even beyond the CPUs: three environments
        // on two cores then share both, where two threads would leave one
        // core idle while the other finishes the third.
        let steps: Vec<_> = thread::scope(|scope| {
            let others: Vec<_> = (1..envs.len()).map(|i| scope.spawn(move || side(i))).collect();
            let first = (!envs.is_empty()).then(|| side(0));
            first.into_iter().chain(others.into_iter().map(join)).collect()
        });
        steps
            .into_iter()
            .map(|(step, times, written)| {
                times.into_iter().for_each(|(phase, spent)| done(phase, spent));
                out_error = out_error.take().or(written.err());
                step
            })
            .collect()
    } else {
        // Each environment's files are handed to `out` on a thread of their
        // own while the next environment renders; one batch at a time.
        thread::scope(|scope| {
            let mut steps = Vec::with_capacity(envs.len());
            let mut writing: Option<thread::ScopedJoinHandle<Result<(), String>>> = None;
            for &(profile, inputs) in &envs {
                let go_on = steps.iter().all(|s| matches!(s, Step::Done { .. }));
                let mut times = Vec::new();
                let mut step = step(&shared, profile, inputs, go_on, &mut times);
                times.into_iter().for_each(|(phase, spent)| done(phase, spent));
                if let Step::Done { prepared, .. } = &mut step {
                    let files = prepared.take_files();
                    let written = writing.take().and_then(|w| join(w).err());
                    out_error = out_error.take().or(written);
                    writing = Some(scope.spawn(move || out(files)));
                }
                steps.push(step);
            }
            let written = writing.and_then(|w| join(w).err());
            out_error = out_error.take().or(written);
            steps
        })
    };
    let render_errors: PipelineErrors = steps
        .iter()
        .filter_map(|s| match s {
            Step::RenderFailed(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    if !render_errors.is_empty() {
        return Err(render_errors);
    }
    let mut report = Report::default();
    for step in steps {
        match step {
            Step::Done { findings, prepared } => {
                report.findings.extend(findings);
                layout.commit(prepared).map_err(|e| vec![e.into()])?;
            }
            Step::Failed(errors) => return Err(errors),
            Step::RenderFailed(_) | Step::Rendered => unreachable!("only after a failure, which returned"),
        }
    }
    if let Some(error) = out_error {
        return Err(vec![PipelineError::Output(error)]);
    }
    let start = Instant::now();
    let argocd = layout.finish().map_err(|e| vec![e.into()])?;
    done(Phase::Layout, start.elapsed());
    out(argocd).map_err(|e| vec![PipelineError::Output(e)])?;
    Ok(report)
}

/// Joins a thread of [`render_pinned_to`], passing on its panic.
fn join<T>(handle: thread::ScopedJoinHandle<T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Hands the pages an environment's freed objects leave behind back to
/// the system: glibc keeps them otherwise, fragmented, and the next
/// environment's objects pile on top (about 10 MiB of the peak at 500
/// services, for a few milliseconds of page faults).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Renders `platform` in every environment of `profiles` and checks it,
/// reading its inputs below `paths.root`: the Rego policies in
/// `paths.policies` (none when the directory does not exist) with the team's
/// `paths.rules`, each environment's release file `<releases>/<env>.yaml`
/// ([`read_inputs`]), and, where an environment seals its secrets, the
/// `kubeseal` output of each credentials Secret. Then [`render_pinned`].
///
/// Nothing is written; a caller writes [`Rendered::tree`] below
/// `paths.deploy` only when [`Report::blocking`] is zero (with
/// [`crate::disk::write_atomically`], say). On failure, every input error of
/// every environment, each naming its file and the fix: what an environment
/// could not read, why an environment that did read does not render, and a
/// release file for an environment `profiles` does not define
/// ([`PipelineError::StrayRelease`]).
pub fn render_platform(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
) -> Result<Rendered, PipelineErrors> {
    render_platform_with(platform, profiles, paths, &BTreeMap::new())
}

/// [`render_platform`] with the release file of some environments given as
/// text (environment name -> file content) instead of read from disk: a
/// changed release file is rendered and checked before it is written.
pub fn render_platform_with(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
    releases: &BTreeMap<String, String>,
) -> Result<Rendered, PipelineErrors> {
    into_tree(|out| render_platform_into(platform, profiles, paths, releases, out))
}

/// [`render_platform`], handing the files to `out` as they are laid out
/// ([`render_pinned_to`]) rather than keeping them: the path of a render
/// that writes its tree, with `out` adding each batch to a
/// [`crate::disk::Staged`] that is finished only when the report has no
/// blocking finding.
pub fn render_platform_to(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
    out: Output,
) -> Result<Report, PipelineErrors> {
    render_platform_into(platform, profiles, paths, &BTreeMap::new(), out)
}

/// The inputs below `paths.root` (with `releases` standing in for some
/// release files), rendered into `out`.
fn render_platform_into(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
    releases: &BTreeMap<String, String>,
    out: Output,
) -> Result<Report, PipelineErrors> {
    let (policies, inputs) = read_platform_inputs(platform, profiles, paths, releases)?;
    render_pinned_into(platform, profiles, &inputs, &policies, paths.deploy, out)
}

/// The policies and every environment's inputs below `paths.root` (with
/// `releases` standing in for some release files). On failure, every input
/// error found, each naming its file or environment.
fn read_platform_inputs(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
    releases: &BTreeMap<String, String>,
) -> Result<(Policies, Vec<Inputs>), PipelineErrors> {
    let policies = Policies::load_dir(paths.root, paths.policies)
        .and_then(|p| p.with_rules(paths.rules.to_vec()))
        .map_err(|e| vec![e.into()])?;
    let read: Vec<Result<Inputs, PipelineError>> = profiles
        .iter()
        .map(|profile| {
            let text = releases.get(profile.name.as_str()).map(String::as_str);
            read_inputs(platform, profile, paths, text)
        })
        .collect();
    let stray = stray_release_files(profiles, paths);
    if !stray.is_empty() || read.iter().any(Result::is_err) {
        // Every environment's error, in order: what it could not read, or
        // (when it read) why it does not render; then the stray files.
        let mut errors: PipelineErrors = profiles
            .iter()
            .zip(&read)
            .filter_map(|(profile, read)| match read {
                Err(e) => Some(e.clone()),
                Ok(i) => render_environment_with(platform, profile, &i.pins, &i.sealed).err().map(Into::into),
            })
            .collect();
        errors.extend(stray);
        return Err(errors);
    }
    Ok((policies, read.into_iter().filter_map(Result::ok).collect()))
}

/// Release files for environments the platform does not define: a renamed
/// or removed environment, or a typo in a file name. Each would silently be
/// ignored, so each is an error.
fn stray_release_files(profiles: &[EnvironmentProfile], paths: &Paths) -> PipelineErrors {
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
        .map(|env| PipelineError::StrayRelease {
            file: format!("{}/{env}.yaml", paths.releases),
            env,
            known: known.join(", "),
        })
        .collect()
}
