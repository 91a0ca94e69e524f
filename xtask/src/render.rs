//! `cargo xtask render`: reads the release pins, renders every environment
//! through the typed builders, checks it against the policies, lays the
//! objects out and writes the tree atomically; with `--check`, compares it
//! with what is on disk and writes nothing. A blocking policy finding stops
//! the render before anything is written.
//!
//! `--platform synthetic --services N` renders the synthetic platform of
//! `crates/synthetic` through the same pipeline, with in-memory pins.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_policy::{Policies, Report};
use std::sync::atomic::{AtomicUsize, Ordering};

use gitops_tree::disk::{self, Outcome, Staged};
use gitops_tree::layout::Files;
use gitops_tree::pipeline::{
    Inputs, Output, Paths, Rendered, into_tree, read_inputs, render_pinned_into, render_platform_to,
};

use crate::{CmdResult, DEPLOY_DIR, POLICIES_DIR, RELEASES_DIR};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformName {
    /// ClinicFlow, pinned by releases/<env>.yaml.
    Clinicflow,
    /// N ClinicFlow-shaped API services in ClinicFlow's profiles (crates/synthetic).
    Synthetic,
}

/// Which platform a command renders.
#[derive(clap::Args)]
pub struct PlatformArgs {
    #[arg(long, value_enum, default_value = "clinicflow")]
    platform: PlatformName,
    /// How many services the synthetic platform has.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=99_999))]
    services: Option<u32>,
}

impl PlatformArgs {
    pub fn sources(&self) -> Result<Sources, Vec<String>> {
        match (self.platform, self.services) {
            (PlatformName::Clinicflow, None) => Ok(Sources::clinicflow()),
            (PlatformName::Synthetic, Some(n)) => Ok(Sources::synthetic(n as usize)),
            (PlatformName::Clinicflow, Some(_)) => {
                Err(vec!["--services applies to --platform synthetic only".into()])
            }
            (PlatformName::Synthetic, None) => {
                Err(vec!["--platform synthetic needs --services N, the number of services".into()])
            }
        }
    }
}

/// A platform, its environments, and where their inputs come from.
pub struct Sources {
    pub platform: Platform,
    pub profiles: Vec<EnvironmentProfile>,
    /// ClinicFlow's inputs are its release files (and the tree is committed);
    /// the synthetic platform's are generated.
    committed: bool,
}

impl Sources {
    pub fn clinicflow() -> Self {
        Sources { platform: clinicflow::platform(), profiles: clinicflow::environments(), committed: true }
    }

    pub fn synthetic(services: usize) -> Self {
        Sources {
            platform: synthetic::platform(services),
            profiles: synthetic::environments(),
            committed: false,
        }
    }

    /// Whether the tree belongs in the repository's deploy/ (only ClinicFlow's does).
    pub fn is_committed(&self) -> bool {
        self.committed
    }

    /// Each environment's inputs, in profile order: read below `root`, or generated.
    pub fn inputs(&self, root: &Path) -> Result<Vec<Inputs>, Vec<String>> {
        if !self.committed {
            return Ok(self.profiles.iter().map(|_| Inputs::pins(synthetic::pins(&self.platform))).collect());
        }
        let (inputs, errors): (Vec<_>, Vec<_>) = self
            .profiles
            .iter()
            .map(|profile| read_inputs(&self.platform, profile, &paths(root), None))
            .partition(Result::is_ok);
        if errors.is_empty() {
            Ok(inputs.into_iter().filter_map(Result::ok).collect())
        } else {
            Err(errors.into_iter().filter_map(Result::err).collect())
        }
    }
}

/// Where the sources below `root` are and where the tree goes.
pub fn paths(root: &Path) -> Paths<'_> {
    Paths { root, releases: RELEASES_DIR, policies: POLICIES_DIR, deploy: DEPLOY_DIR, rules: &[] }
}

/// Every `policies/*.rego` file below `root`.
pub fn load_policies(root: &Path) -> Result<Policies, Vec<String>> {
    Policies::load_dir(root, POLICIES_DIR).map_err(|e| vec![e.to_string()])
}

/// The tree and its policy report, as `sources` render at `root`:
/// [`render_sources_to`] collected into a tree.
pub fn render_sources(root: &Path, sources: &Sources) -> Result<Rendered, Vec<String>> {
    into_tree(|out| render_sources_to(root, sources, out))
}

/// `sources` rendered at `root` through `render_pinned_to`, after reading
/// ClinicFlow's release files (and checking for stray ones) or generating
/// the synthetic pins, handing the files to `out` as they are laid out; the
/// policy report.
pub fn render_sources_to(root: &Path, sources: &Sources, out: Output) -> Result<Report, Vec<String>> {
    if sources.committed {
        return render_platform_to(&sources.platform, &sources.profiles, &paths(root), out);
    }
    let policies = load_policies(root)?;
    let inputs = sources.inputs(root)?;
    render_pinned_into(&sources.platform, &sources.profiles, &inputs, &policies, DEPLOY_DIR, out)
}

/// The ClinicFlow tree and its policy report, as the sources at `root` render it.
pub fn render_checked(root: &Path) -> Result<Rendered, Vec<String>> {
    render_sources(root, &Sources::clinicflow())
}

/// Prints the findings, if any, and refuses to go on when one blocks: a
/// render never writes a tree with an unwaived error.
pub fn refuse_blocking(report: &Report) -> Result<(), Vec<String>> {
    if !report.findings.is_empty() {
        eprint!("{}", report.to_text());
    }
    match report.blocking() {
        0 => Ok(()),
        n => Err(vec![format!(
            "{n} blocking policy finding(s); change the sources, or waive a finding in the environment's profile with a reason"
        )]),
    }
}

#[derive(clap::Args)]
pub struct RenderArgs {
    #[command(flatten)]
    platform: PlatformArgs,
    /// Write the tree here instead of <root>/deploy.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write nothing; list every file that differs and exit 1 if any does.
    #[arg(long)]
    check: bool,
}

pub fn run(root: &Path, RenderArgs { platform, out, check }: RenderArgs) -> CmdResult {
    let sources = platform.sources()?;
    if !sources.is_committed() && out.is_none() {
        return Err(vec![format!(
            "the synthetic platform renders only with --out DIR; {DEPLOY_DIR}/ holds ClinicFlow's tree"
        )]);
    }
    let dest = out.unwrap_or_else(|| root.join(DEPLOY_DIR));
    let io_err = |e: std::io::Error| vec![format!("{}: {e}", dest.display())];
    if check {
        let Rendered { tree, report } = render_sources(root, &sources)?;
        refuse_blocking(&report)?;
        let drift = disk::compare(&tree, &disk::read_tree(&dest).map_err(io_err)?);
        if drift.is_empty() {
            println!("{}: up to date ({} files)", dest.display(), tree.len());
            return Ok(ExitCode::SUCCESS);
        }
        for d in &drift {
            println!("{d}");
        }
        println!(
            "{}: {} file(s) differ from what the sources render; run `cargo xtask render` and commit the result",
            dest.display(),
            drift.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    // The files are staged as each environment is laid out, while the next
    // renders; only a render without blocking findings puts them in place
    // (dropping `staged` removes them otherwise).
    let staged = Staged::begin(&dest, &|_| Ok(())).map_err(io_err)?;
    let (files, bytes) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let write = |batch: Files| {
        files.fetch_add(batch.len(), Ordering::Relaxed);
        bytes.fetch_add(batch.iter().map(|(_, b)| b.len()).sum(), Ordering::Relaxed);
        staged.add(batch).map_err(|e| format!("{}: {e}", dest.display()))
    };
    let report = render_sources_to(root, &sources, &write)?;
    refuse_blocking(&report)?;
    let outcome = staged.finish().map_err(io_err)?;
    let verb = match outcome {
        Outcome::Unchanged => "unchanged",
        Outcome::Replaced => "written",
    };
    let (files, bytes) = (files.into_inner(), bytes.into_inner());
    println!("{}: {verb}, {files} files, {bytes} bytes", dest.display());
    Ok(ExitCode::SUCCESS)
}
