//! `cargo xtask`: the project's command line. One module per subcommand;
//! this file only parses arguments and dispatches.

mod bench;
mod check;
mod diff;
mod git;
mod graph;
mod history;
mod pins;
mod promote;
mod render;
mod rollback;
mod schema;
mod seal;
mod set_image;
mod smoke;

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
#[command(name = "cargo xtask", about = "Render, check, release and benchmark the ClinicFlow GitOps tree")]
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
    /// Set the image tag of services in one environment and re-render.
    SetImage(set_image::SetImageArgs),
    /// Copy image tags from one environment to another and re-render.
    Promote(promote::PromoteArgs),
    /// Show what a render would change in deploy/ as a unified diff; exit 1 if anything.
    Diff(diff::DiffArgs),
    /// Restore an environment's image tags as they were at a commit and re-render.
    Rollback(rollback::RollbackArgs),
    /// List the image tags each commit set in an environment, newest first.
    History(history::HistoryArgs),
    /// Write the release files' JSON Schema and point each release file at it.
    Schema(schema::SchemaArgs),
    /// GET /health through every exposed ingress path of an environment.
    Smoke(smoke::SmokeArgs),
    /// Seal KEY=VALUE lines from stdin into a SealedSecret, as kubeseal does, with a cluster's certificate.
    Seal(seal::SealArgs),
    /// Time render, check and write of ClinicFlow and of synthetic platforms (run from a release build);
    /// --compare adds helm template, kubectl kustomize and cdk8s producing the same objects.
    Bench(bench::BenchArgs),
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace root").to_path_buf()
}

/// Each thread's glibc arena starts with this much address space writable.
/// glibc otherwise makes a thread's heap writable a page at a time, each an
/// `mprotect` that takes the address-space lock for writing and so stalls
/// every other thread's page faults: 250 of them in a ClinicFlow render,
/// whose environments render on three threads. Writable is not resident:
/// untouched pages cost no memory.
const ARENA_PAD: libc::c_int = 4 << 20;

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator, before any thread exists.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, ARENA_PAD);
    }
    let cli = Cli::parse();
    let root = cli.root.unwrap_or_else(workspace_root);
    let result = match cli.command {
        Command::Render(args) => render::run(&root, args),
        Command::Check(args) => check::run(&root, args),
        Command::Graph(args) => graph::run(&root, args),
        Command::SetImage(args) => set_image::run(&root, args),
        Command::Promote(args) => promote::run(&root, args),
        Command::Diff(args) => diff::run(&root, args),
        Command::Rollback(args) => rollback::run(&root, args),
        Command::History(args) => history::run(&root, args),
        Command::Schema(args) => schema::run(&root, args),
        Command::Smoke(args) => smoke::run(&root, args),
        Command::Seal(args) => seal::run(&root, args),
        Command::Bench(args) => bench::run(&root, args),
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
