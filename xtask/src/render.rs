//! `cargo xtask render` and `check`: `gitops-cli`'s commands on ClinicFlow,
//! or, with `--platform synthetic --services N`, on the synthetic platform of
//! `crates/synthetic` with generated pins (rendered only with `--out DIR`).

use std::path::Path;

use gitops_cli::{CmdResult, Project};

use crate::clinicflow_project;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformName {
    /// ClinicFlow, pinned by `releases/<env>.yaml`.
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
    /// The project these arguments name, rooted at `root`.
    pub fn project(&self, root: &Path) -> Result<Project, Vec<String>> {
        match (self.platform, self.services) {
            (PlatformName::Clinicflow, None) => Ok(clinicflow_project(root)),
            (PlatformName::Synthetic, Some(n)) => Ok(synthetic_project(root, n as usize)),
            (PlatformName::Clinicflow, Some(_)) => {
                Err(vec!["--services applies to --platform synthetic only".into()])
            }
            (PlatformName::Synthetic, None) => {
                Err(vec!["--platform synthetic needs --services N, the number of services".into()])
            }
        }
    }
}

/// The synthetic platform of `services` services in ClinicFlow's profiles,
/// with pins generated in code.
pub fn synthetic_project(root: &Path, services: usize) -> Project {
    let platform = synthetic::platform(services);
    let pins = synthetic::pins(&platform);
    let mut project =
        Project::new(platform, synthetic::environments(), root.to_path_buf(), crate::INVOCATION);
    project.generated_pins = Some(pins);
    project
}

#[derive(clap::Args)]
pub struct RenderCommand {
    #[command(flatten)]
    platform: PlatformArgs,
    #[command(flatten)]
    args: gitops_cli::RenderArgs,
}

#[derive(clap::Args)]
pub struct CheckCommand {
    #[command(flatten)]
    platform: PlatformArgs,
    #[command(flatten)]
    args: gitops_cli::CheckArgs,
}

pub fn run(root: &Path, RenderCommand { platform, args }: RenderCommand) -> CmdResult {
    gitops_cli::run(&platform.project(root)?, gitops_cli::Command::Render(args))
}

pub fn check(root: &Path, CheckCommand { platform, args }: CheckCommand) -> CmdResult {
    gitops_cli::run(&platform.project(root)?, gitops_cli::Command::Check(args))
}
