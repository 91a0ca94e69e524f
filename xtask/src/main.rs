//! `cargo xtask`: the project's command line. One module per subcommand;
//! this file only parses arguments and dispatches.

mod check;
mod graph;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Where the rendered tree lives in the repository; Argo CD reads it there.
pub const DEPLOY_DIR: &str = "deploy";
/// Where the release pins live, one file per environment.
pub const RELEASES_DIR: &str = "releases";
/// Where the Rego policies live.
pub const POLICIES_DIR: &str = "policies";

/// A subcommand's outcome: an exit code, or the errors to print (exit 1).
pub type CmdResult = Result<ExitCode, Vec<String>>;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Render and check the ClinicFlow GitOps tree")]
struct Cli {
    /// Repository root (default: this workspace).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render every environment into deploy/ (or --out DIR).
    Render(render::RenderArgs),
    /// Run the policy check over every environment and report the findings.
    Check(check::CheckArgs),
    /// Print one environment's traffic diagram (Mermaid, or DOT with --format dot).
    Graph(graph::GraphArgs),
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace root").to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.root.unwrap_or_else(workspace_root);
    let result = match cli.command {
        Command::Render(args) => render::run(&root, args),
        Command::Check(args) => check::run(&root, args),
        Command::Graph(args) => graph::run(&root, args),
    };
    match result {
        Ok(code) => code,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("nothing was written");
            ExitCode::FAILURE
        }
    }
}
