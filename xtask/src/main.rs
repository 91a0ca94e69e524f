//! `cargo xtask`: ClinicFlow's mount of the command line every platform
//! shares (`gitops-cli`), plus what only this repository needs: the
//! synthetic platform for `render` and `check`, and `bench`.

mod bench;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use gitops_cli::CmdResult;

/// How users run this command line.
pub const INVOCATION: &str = "cargo xtask";

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Render, check, release and benchmark the ClinicFlow GitOps tree",
    after_help = "`smoke` and `seal` are built with their features on first use (`cargo xtask smoke --help`)."
)]
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
    Render(render::RenderCommand),
    /// Run the policy check over every environment and report the findings.
    Check(render::CheckCommand),
    #[command(flatten)]
    Release(gitops_cli::ReleaseCommand),
    /// Time render, check and write of ClinicFlow and of synthetic platforms (run from a release build);
    /// --compare adds helm template, kubectl kustomize and cdk8s producing the same objects.
    Bench(bench::BenchArgs),
}

/// The subcommand of the process's arguments (the first word that is not
/// an option or `--root`'s value).
fn subcommand() -> Option<String> {
    let mut args = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => {
                args.next();
            }
            a if a.starts_with('-') => {}
            a => return Some(a.to_owned()),
        }
    }
    None
}

/// `smoke` and `seal` are features: `render` and the other everyday
/// commands compile no TLS and no RSA. The first `cargo xtask smoke` (or
/// `seal`) in a build without it runs itself again through cargo, built
/// with the feature; `Some(exit code)` when it did.
fn with_feature_if_missing() -> Option<ExitCode> {
    let command = subcommand()?;
    let built = match command.as_str() {
        "smoke" => gitops_cli::SMOKE,
        "seal" => gitops_cli::SEAL,
        _ => return None,
    };
    if built {
        return None;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["run", "--quiet", "--package", "xtask", "--features", &command, "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"))
        .arg("--")
        .args(std::env::args_os().skip(1))
        .status();
    Some(match status {
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1))),
        Err(e) => {
            eprintln!(
                "error: cannot run cargo to build `{command}` ({e}); run `cargo run -p xtask --features {command} -- {command} …`"
            );
            ExitCode::FAILURE
        }
    })
}

/// ClinicFlow's project, rooted at `root`.
pub fn clinicflow_project(root: &Path) -> gitops_cli::Project {
    gitops_cli::Project::new(
        clinicflow::platform(),
        clinicflow::environments(),
        root.to_path_buf(),
        INVOCATION,
    )
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
    if let Some(code) = with_feature_if_missing() {
        return code;
    }
    let cli = Cli::parse();
    let root = cli.root.unwrap_or_else(workspace_root);
    let result = match cli.command {
        Command::Render(args) => render::run(&root, args),
        Command::Check(args) => render::check(&root, args),
        Command::Release(command) => gitops_cli::run_release(&clinicflow_project(&root), command),
        Command::Bench(args) => bench::run(&root, args),
    };
    gitops_cli::exit(result)
}
