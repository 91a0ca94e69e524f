//! `graph --env ENV [--format mermaid|dot]`: prints the traffic
//! diagram of one environment, the one its `README.md` shows, for other
//! tools (Mermaid CLI, Graphviz). Reads the release pins; writes nothing.

use std::process::ExitCode;

use gitops_tree::picture::EnvironmentPicture;
use gitops_tree::pipeline::render_one;

use crate::{CmdResult, Project};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// A Mermaid `flowchart`, as in the README.
    Mermaid,
    /// A Graphviz `digraph`.
    Dot,
}

/// The arguments of `graph`.
#[derive(clap::Args)]
pub struct GraphArgs {
    /// The environment to draw, e.g. `dev`.
    #[arg(long, value_name = "ENV")]
    env: String,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
}

pub fn run(project: &Project, GraphArgs { env, format }: GraphArgs) -> CmdResult {
    let platform = &project.platform;
    let profile = project.environment(&env)?;
    let render = render_one(platform, &profile, &project.paths(), None).map_err(|e| vec![e.to_string()])?;
    let graph = EnvironmentPicture::of(platform, &profile, &render).traffic();
    print!(
        "{}",
        match format {
            Format::Mermaid => graph.mermaid(),
            Format::Dot => graph.dot(),
        }
    );
    Ok(ExitCode::SUCCESS)
}
