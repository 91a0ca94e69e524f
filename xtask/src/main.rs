//! `cargo xtask`: the project's command line.
//!
//! `render` reads the release pins, renders every environment through the
//! typed builders, lays the objects out and writes the tree atomically (or,
//! with `--check`, compares it with what is on disk and writes nothing).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gitops_tree::Tree;
use gitops_tree::disk::{self, Outcome};
use gitops_tree::pipeline::{Paths, render_platform};

/// Where the rendered tree lives in the repository; Argo CD reads it there.
const DEPLOY_DIR: &str = "deploy";
const RELEASES_DIR: &str = "releases";

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
    Render {
        /// Write the tree here instead of <root>/deploy.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write nothing; list every file that differs and exit 1 if any does.
        #[arg(long)]
        check: bool,
    },
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace root").to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.root.unwrap_or_else(workspace_root);
    let result = match cli.command {
        Command::Render { out, check } => render(&root, out, check),
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

fn render_tree(root: &Path) -> Result<Tree, Vec<String>> {
    let paths = Paths { root, releases: RELEASES_DIR, deploy: DEPLOY_DIR };
    render_platform(&clinicflow::platform(), &clinicflow::environments(), &paths)
}

fn render(root: &Path, out: Option<PathBuf>, check: bool) -> Result<ExitCode, Vec<String>> {
    let tree = render_tree(root)?;
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
