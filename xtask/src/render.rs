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
use gitops_core::release::ReleasePins;
use gitops_policy::Policies;
use gitops_tree::disk::{self, Outcome};
use gitops_tree::pipeline::{Paths, Rendered, read_pins, render_pinned};

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

/// A platform, its environments, and where its release pins come from.
pub struct Sources {
    pub platform: Platform,
    pub profiles: Vec<EnvironmentProfile>,
    /// Whether the pins are ClinicFlow's release files (or generated).
    pins_from_files: bool,
}

impl Sources {
    pub fn clinicflow() -> Self {
        Sources {
            platform: clinicflow::platform(),
            profiles: clinicflow::environments(),
            pins_from_files: true,
        }
    }

    pub fn synthetic(services: usize) -> Self {
        Sources {
            platform: synthetic::platform(services),
            profiles: synthetic::environments(),
            pins_from_files: false,
        }
    }

    /// Whether the tree belongs in the repository's deploy/ (only ClinicFlow's does).
    pub fn is_committed(&self) -> bool {
        self.pins_from_files
    }

    /// The release pins of each environment, in profile order.
    pub fn pins(&self, root: &Path) -> Result<Vec<ReleasePins>, Vec<String>> {
        if self.pins_from_files {
            read_pins(&self.platform, &self.profiles, &paths(root))
        } else {
            Ok(self.profiles.iter().map(|_| synthetic::pins(&self.platform)).collect())
        }
    }
}

fn paths(root: &Path) -> Paths<'_> {
    Paths { root, releases: RELEASES_DIR, policies: POLICIES_DIR, deploy: DEPLOY_DIR }
}

/// Every `policies/*.rego` file below `root`.
pub fn load_policies(root: &Path) -> Result<Policies, Vec<String>> {
    Policies::load_dir(root, POLICIES_DIR).map_err(|e| vec![e.to_string()])
}

/// The tree and its policy report, as the sources at `root` render it.
pub fn render_checked(root: &Path, sources: &Sources) -> Result<Rendered, Vec<String>> {
    let policies = load_policies(root)?;
    let pins = sources.pins(root)?;
    render_pinned(&sources.platform, &sources.profiles, &pins, &policies, DEPLOY_DIR)
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
    let Rendered { tree, report } = render_checked(root, &sources)?;
    if !report.findings.is_empty() {
        eprint!("{}", report.to_text());
    }
    let blocking = report.blocking();
    if blocking > 0 {
        return Err(vec![format!(
            "{blocking} blocking policy finding(s); change the sources, or waive a finding in the environment's profile with a reason"
        )]);
    }
    let dest = out.unwrap_or_else(|| root.join(DEPLOY_DIR));
    let io_err = |e: std::io::Error| vec![format!("{}: {e}", dest.display())];
    if check {
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
    let outcome = disk::write_atomically(&tree, &dest).map_err(io_err)?;
    let verb = match outcome {
        Outcome::Unchanged => "unchanged",
        Outcome::Replaced => "written",
    };
    println!("{}: {verb}, {} files, {} bytes", dest.display(), tree.len(), tree.total_bytes());
    Ok(ExitCode::SUCCESS)
}
