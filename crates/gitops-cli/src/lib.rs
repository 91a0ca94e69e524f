#![warn(missing_docs)]
//! One command line for every platform: `render`, `check`, `diff`,
//! `set-image`, `promote`, `rollback`, `history`, `schema`, `graph`, `smoke`
//! and `seal`, the same for every platform and both topologies.
//!
//! A platform crate describes its [`Project`] (the platform, its environment
//! profiles in promotion order, the repository root below which its release
//! files, policies and rendered tree live, and how its users invoke the
//! command line) and mounts every command with one call to [`main`]. The
//! commands go through [`gitops_tree::pipeline`], so `render`, `render
//! --check`, `diff` and `check` see the same tree and the same findings.
//!
//! # Quickstart
//!
//! The `src/main.rs` of a platform crate, `my-platform`, whose library
//! defines the platform and its environments (the `gitops-core` quickstart
//! shows both; `examples/minimal` is such a crate):
//!
//! ```no_run
//! # mod my_platform {
//! #     use gitops_core::crd::{argocd::ClusterRef, external_secrets::SecretStoreKind};
//! #     use gitops_core::{image::*, name, name::HostName, platform::*, profile::*};
//! #     pub fn platform() -> Platform {
//! #         let image = ImageRepository::from_static("docker.io/acme/hello");
//! #         Platform::new(name!("hello")).service(Service::api(name!("hello"), image).route("/"))
//! #     }
//! #     pub fn environments() -> Vec<EnvironmentProfile> {
//! #         let small = |cpu, mem| Resources {
//! #             requests: Compute { cpu: Cpu(cpu), memory: Memory(mem) },
//! #             limits: Compute { cpu: Cpu(cpu * 4), memory: Memory(mem * 2) },
//! #         };
//! #         vec![EnvironmentProfile {
//! #             name: name!("dev"),
//! #             stage: Stage::Development,
//! #             namespace: name!("hello-dev"),
//! #             cluster: ClusterRef::in_cluster(),
//! #             cluster_domain: HostName::new("cluster.local").unwrap(),
//! #             git: GitSource { repo_url: "https://git.example/hello.git".into(), target_revision: "main".into() },
//! #             sync: SyncMode::Automated { prune: true, self_heal: true },
//! #             argocd: ArgoCdProfile::new(name!("dev")),
//! #             ingress: IngressProfile {
//! #                 routing: Routing::Ingress { class_name: name!("nginx") },
//! #                 host: HostName::nip_io(&name!("hello-dev"), std::net::Ipv4Addr::new(10, 0, 0, 10)),
//! #                 tls_issuer: IssuerRef { name: name!("internal-ca"), kind: IssuerKind::ClusterIssuer },
//! #                 expose_opt_in: vec![],
//! #                 issuer: IssuerSource::OutOfBand,
//! #             },
//! #             storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
//! #             secrets: SecretBackend::External(SecretStoreProfile {
//! #                 store: name!("vault"),
//! #                 kind: SecretStoreKind::ClusterSecretStore,
//! #                 key_prefix: "hello/dev".into(),
//! #                 refresh_interval: "1h",
//! #                 vault: None,
//! #             }),
//! #             databases: vec![],
//! #             api: WorkloadSizing { replicas: 1, resources: small(100, 128) },
//! #             web: WorkloadSizing { replicas: 1, resources: small(100, 128) },
//! #             migration: small(100, 128),
//! #             overrides: vec![],
//! #             network: NetworkProfile { ingress_namespace: name!("ingress-nginx"), external_egress: vec![] },
//! #             availability: AvailabilityProfile { spread_across_nodes: false, autoscaling: None },
//! #             gatekeeper_privileged_constraint: false,
//! #             compliance: None,
//! #             waivers: vec![],
//! #             require_digests: false,
//! #         }]
//! #     }
//! # }
//! use my_platform::{environments, platform};
//!
//! fn main() -> std::process::ExitCode {
//!     // The crate's directory is the repository: `releases/<env>.yaml`,
//!     // `policies/`, and the rendered tree at `deploy/`.
//!     let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
//!     let invocation = "cargo run -p my-platform --";
//!     gitops_cli::main(gitops_cli::Project::new(platform(), environments(), root, invocation))
//! }
//! ```
//!
//! Then, from the repository:
//!
//! ```text
//! cargo run -p my-platform -- render                  # write deploy/ (or --out DIR); --check compares
//! cargo run -p my-platform -- check --format sarif    # the policy findings, for code scanning
//! cargo run -p my-platform -- set-image --env dev --service hello --tag sha-0a1b2c3
//! cargo run -p my-platform -- promote --from dev --to prod
//! cargo run -p my-platform -- diff                    # what render would change, as a unified diff
//! cargo run -p my-platform -- graph --env dev         # the traffic diagram, Mermaid
//! ```
//!
//! # What every command shares
//!
//! - Each writing command renders and checks every environment before it
//!   writes anything, and a blocking policy finding stops it
//!   ([`refuse_blocking`]); the tree and the release file it changes are
//!   replaced as one change ([`gitops_tree::disk`]).
//! - Commands that write hold the repository's lock exclusively, commands
//!   that compare hold it shared ([`gitops_tree::lock`]), waiting up to
//!   `GITOPS_LOCK_WAIT` seconds (60 by default); a change a killed command
//!   left half-made is completed first.
//! - `--root DIR` overrides the project's root; paths are relative to it.
//! - Errors are strings only here, at the edge: each printed as `error: …`,
//!   then `nothing was written` unless part of a change was made, which the
//!   next command completes ([`exit`]).
//!
//! # Mounting it elsewhere
//!
//! [`Command`] and [`ReleaseCommand`] are clap subcommands, for a command
//! line of the team's own: [`run`] and [`run_release`] run one on a project,
//! [`exit`] turns the outcome into the process's exit code. ClinicFlow's
//! `cargo xtask` renders in its own way and keeps the [`ReleaseCommand`]s.
//! [`render_project`], [`render_project_to`], [`inputs`] and
//! [`load_policies`] render or read a project as the commands do.
//!
//! # Features
//!
//! `smoke` (the `smoke` command: HTTP with ureq and rustls) and `seal` (the
//! `seal` command: Sealed Secrets' encryption with RustCrypto) are on by
//! default; [`SMOKE`] and [`SEAL`] say whether this build has them.

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
#[cfg(feature = "seal")]
mod seal;
mod set_image;
#[cfg(feature = "smoke")]
mod smoke;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use gitops_core::image::TagRule;
use gitops_core::name::Name;
use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::release::ReleasePins;
use gitops_policy::CustomRule;
use gitops_tree::disk;
use gitops_tree::lock::{self, Access, RepoLock};
use gitops_tree::pipeline::Paths;

pub use check::CheckArgs;
pub use diff::DiffArgs;
pub use graph::GraphArgs;
pub use history::HistoryArgs;
pub use promote::PromoteArgs;
pub use render::{
    RenderArgs, inputs, load_policies, refuse_blocking, render_project, render_project_to, strings,
};
pub use rollback::RollbackArgs;
pub use schema::SchemaArgs;
#[cfg(feature = "seal")]
pub use seal::SealArgs;
pub use set_image::SetImageArgs;
#[cfg(feature = "smoke")]
pub use smoke::SmokeArgs;

/// Whether this build has the `smoke` command.
pub const SMOKE: bool = cfg!(feature = "smoke");
/// Whether this build has the `seal` command.
pub const SEAL: bool = cfg!(feature = "seal");

/// A command's outcome: an exit code, or the errors to print (exit 1).
pub type CmdResult = Result<ExitCode, Vec<String>>;

/// A platform and everything the commands need to know about its repository.
///
/// [`Project::new`] gives the conventional layout below [`root`](Self::root):
/// `releases/`, `policies/`, `deploy/` and `schemas/release.schema.json`.
/// [`Project::policies`], [`Project::require_policies`] and [`Project::rules`]
/// change the policies; every field is public for the rest. The paths are
/// relative to the root, which `--root DIR` overrides when [`main`] runs;
/// [`Project::paths`] hands them to [`gitops_tree::pipeline`].
///
/// ```
/// use gitops_core::{name, platform::Platform};
///
/// let root = std::path::PathBuf::from("/srv/hello-gitops");
/// let project = gitops_cli::Project::new(Platform::new(name!("hello")), vec![], root, "hello-gitops")
///     .policies("../shared/policies")
///     .require_policies();
/// assert_eq!(project.render_command(), "hello-gitops render");
/// assert_eq!(project.paths().deploy, "deploy");
/// // The header of every rendered file names the command that renders it.
/// assert_eq!(project.platform.render_command.as_deref(), Some("hello-gitops render"));
/// ```
#[derive(Debug, Clone)]
pub struct Project {
    /// The platform: its services and what they need.
    pub platform: Platform,
    /// The environments, in promotion order.
    pub profiles: Vec<EnvironmentProfile>,
    /// The repository root: the directories below are relative to it
    /// (`--root` overrides it).
    pub root: PathBuf,
    /// The release files, one per environment (`releases`).
    pub releases: &'static str,
    /// The Rego policies (`policies`); it may not exist unless the project
    /// says it must ([`Project::require_policies`]).
    pub policies: &'static str,
    /// Whether a missing policies directory is an error.
    pub policies_required: bool,
    /// The rendered tree (`deploy`), which the Argo CD Applications point at.
    pub deploy: &'static str,
    /// The release files' JSON Schema (`schemas/release.schema.json`).
    pub schema_file: &'static str,
    /// The team's policy rules in Rust.
    pub rules: Vec<CustomRule>,
    /// How users run this command line (`cargo xtask`, `cargo run -p
    /// brainsait-rcm --`): in messages, and in the header of every rendered file.
    pub invocation: String,
    /// Pins made in code instead of read from release files (a generated
    /// platform): the tree is then rendered only with `--out`.
    pub generated_pins: Option<ReleasePins>,
}

impl Project {
    /// A project with the conventional layout below `root`: `releases/`,
    /// `policies/` (optional), `deploy/`, `schemas/release.schema.json`, and
    /// no rules in Rust. `profiles` are in promotion order; `invocation` is
    /// how users run the command line (`cargo run -p my-platform --`). A
    /// platform without [`Platform::rendered_by`] gets `<invocation> render`
    /// as the command named in every rendered file's header.
    pub fn new(
        platform: Platform,
        profiles: Vec<EnvironmentProfile>,
        root: PathBuf,
        invocation: &str,
    ) -> Self {
        let platform = match platform.render_command {
            Some(_) => platform,
            None => platform.rendered_by(&format!("{invocation} render")),
        };
        Project {
            platform,
            profiles,
            root,
            releases: "releases",
            policies: "policies",
            policies_required: false,
            deploy: "deploy",
            schema_file: "schemas/release.schema.json",
            rules: Vec::new(),
            invocation: invocation.into(),
            generated_pins: None,
        }
    }

    /// Policies in `dir` instead of `policies`.
    pub fn policies(mut self, dir: &'static str) -> Self {
        self.policies = dir;
        self
    }

    /// A missing policies directory is an error rather than no policies:
    /// for a project whose policies live elsewhere ([`Project::policies`]),
    /// where a wrong path would silently check nothing.
    pub fn require_policies(mut self) -> Self {
        self.policies_required = true;
        self
    }

    /// The team's rules in Rust, checked beside the built-in rules.
    pub fn rules(mut self, rules: Vec<CustomRule>) -> Self {
        self.rules = rules;
        self
    }

    /// Where the sources are and where the tree goes, for the pipeline.
    pub fn paths(&self) -> Paths<'_> {
        Paths {
            root: &self.root,
            releases: self.releases,
            policies: self.policies,
            deploy: self.deploy,
            rules: &self.rules,
        }
    }

    /// The tag rule of the platform's releases.
    pub fn tag_rule(&self) -> TagRule {
        self.platform.tag_rule
    }

    /// The command that renders the tree, as a user types it.
    pub fn render_command(&self) -> String {
        format!("{} render", self.invocation)
    }

    /// The profile of the environment called `name`, or an error listing the known ones.
    pub fn environment(&self, name: &str) -> Result<EnvironmentProfile, Vec<String>> {
        let known: Vec<&str> = self.profiles.iter().map(|e| e.name.as_str()).collect();
        self.profiles.iter().find(|e| e.name.as_str() == name).cloned().ok_or_else(|| {
            vec![format!("unknown environment `{name}`; the environments are: {}", known.join(", "))]
        })
    }

    /// The services whose images the release files pin, in platform order.
    pub fn released_services(&self) -> Vec<Name> {
        self.platform.released().map(|s| s.name.clone()).collect()
    }
}

/// Every command, for a platform crate's own `main`.
#[derive(Subcommand)]
pub enum Command {
    /// Render every environment into the deploy directory (or --out DIR).
    Render(RenderArgs),
    /// Run the policy check over every environment and report the findings.
    Check(CheckArgs),
    /// The release commands: graph, set-image, promote, diff, rollback, history, schema, smoke, seal.
    #[command(flatten)]
    Release(ReleaseCommand),
}

/// The commands beyond render and check: a mount that renders in its own
/// way (ClinicFlow's `xtask`, with its synthetic platform) keeps these.
#[derive(Subcommand)]
pub enum ReleaseCommand {
    /// Print one environment's traffic diagram (Mermaid, or DOT with --format dot).
    Graph(GraphArgs),
    /// Set the image tag of services in one environment and re-render.
    SetImage(SetImageArgs),
    /// Copy image tags from one environment to another and re-render.
    Promote(PromoteArgs),
    /// Show what a render would change in the deploy directory as a unified diff; exit 1 if anything.
    Diff(DiffArgs),
    /// Restore an environment's image tags as they were at a commit and re-render.
    Rollback(RollbackArgs),
    /// List the image tags each commit set in an environment, newest first.
    History(HistoryArgs),
    /// Write the release files' JSON Schema and point each release file at it.
    Schema(SchemaArgs),
    /// GET /health through every exposed ingress path of an environment.
    #[cfg(feature = "smoke")]
    Smoke(SmokeArgs),
    /// Seal KEY=VALUE lines from stdin into a SealedSecret, as kubeseal does, with a cluster's certificate.
    #[cfg(feature = "seal")]
    Seal(SealArgs),
}

/// Runs `command` on `project`: `render` under the repository's lock held
/// exclusively (shared with `--check`), `check` under it shared, the
/// [`ReleaseCommand`]s as [`run_release`] does. Returns the exit code, or
/// the errors for [`exit`] to print.
pub fn run(project: &Project, command: Command) -> CmdResult {
    let _lock = match &command {
        Command::Render(RenderArgs { check: false, .. }) => Some(guard(project, Access::Exclusive)?),
        Command::Render(_) | Command::Check(_) => Some(guard(project, Access::Shared)?),
        Command::Release(_) => None,
    };
    match command {
        Command::Render(args) => render::run(project, args),
        Command::Check(args) => check::run(project, args),
        Command::Release(command) => run_release(project, command),
    }
}

/// Runs one of the [`ReleaseCommand`]s on `project`: `set-image`, `promote`,
/// `rollback` and `schema` under the repository's lock held exclusively,
/// `diff` under it shared, the others (which read only) without it.
pub fn run_release(project: &Project, command: ReleaseCommand) -> CmdResult {
    let _lock = match &command {
        ReleaseCommand::SetImage(_)
        | ReleaseCommand::Promote(_)
        | ReleaseCommand::Rollback(_)
        | ReleaseCommand::Schema(_) => Some(guard(project, Access::Exclusive)?),
        ReleaseCommand::Diff(_) => Some(guard(project, Access::Shared)?),
        _ => None,
    };
    match command {
        ReleaseCommand::Graph(args) => graph::run(project, args),
        ReleaseCommand::SetImage(args) => set_image::run(project, args),
        ReleaseCommand::Promote(args) => promote::run(project, args),
        ReleaseCommand::Diff(args) => diff::run(project, args),
        ReleaseCommand::Rollback(args) => rollback::run(project, args),
        ReleaseCommand::History(args) => history::run(project, args),
        ReleaseCommand::Schema(args) => schema::run(project, args),
        #[cfg(feature = "smoke")]
        ReleaseCommand::Smoke(args) => smoke::run(project, args),
        #[cfg(feature = "seal")]
        ReleaseCommand::Seal(args) => seal::run(project, args),
    }
}

#[derive(Parser)]
struct Cli {
    /// Repository root (default: the project's).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// How long a command waits for another that holds the repository's lock:
/// `GITOPS_LOCK_WAIT` seconds, 60 by default.
fn lock_wait() -> Result<Duration, Vec<String>> {
    match std::env::var("GITOPS_LOCK_WAIT") {
        Err(_) => Ok(Duration::from_secs(60)),
        Ok(v) => v.trim().parse::<u64>().map(Duration::from_secs).map_err(|_| {
            vec![format!("GITOPS_LOCK_WAIT={v}: not a number of seconds; set it to one, such as 60")]
        }),
    }
}

/// Takes the repository's lock for a command (exclusive to write, shared
/// to compare) and first completes any change a killed command left
/// half-made, so that every command sees the release files and the tree
/// agree. A writer also removes the temporaries killed writers left.
fn guard(project: &Project, access: Access) -> Result<RepoLock, Vec<String>> {
    let wait = lock_wait()?;
    let dest = project.root.join(project.deploy);
    let take = |access| lock::acquire(&project.root, access, wait).map_err(|e| vec![e]);
    if access == Access::Shared {
        let shared = take(Access::Shared)?;
        if !disk::pending(&dest) {
            return Ok(shared);
        }
    }
    // Only a writer may complete a change, so a reader that finds one
    // half-made waits as a writer does.
    let held = take(Access::Exclusive)?;
    let mut notes = disk::recover(&dest).map_err(|e| vec![e.to_string()])?;
    if access == Access::Exclusive {
        for dir in [project.root.join(project.releases), project.root.clone()] {
            notes.extend(disk::remove_stale_temporaries(&dir));
        }
        if let Some(schemas) = project.root.join(project.schema_file).parent() {
            notes.extend(disk::remove_stale_temporaries(schemas));
        }
    }
    for note in notes {
        eprintln!("note: {note}");
    }
    Ok(held)
}

/// Put before an error when part of a change was made (the rest is
/// recorded, and the next command completes it): not "nothing was written".
pub(crate) const PARTLY_WRITTEN: &str = "\u{0}partly written\u{0}";

/// The error of a failed commit: "nothing was written" stays true unless
/// the commit was [`disk::Incomplete`].
pub(crate) fn commit_error(what: &std::path::Path, e: std::io::Error) -> Vec<String> {
    if e.get_ref().is_some_and(|inner| inner.is::<disk::Incomplete>()) {
        return vec![format!("{PARTLY_WRITTEN}{e}")];
    }
    io_error(what, e)
}

/// An I/O error, naming `path` unless the message already does.
pub(crate) fn io_error(path: &std::path::Path, e: std::io::Error) -> Vec<String> {
    let message = e.to_string();
    if message.contains(&path.display().to_string()) {
        vec![message]
    } else {
        vec![format!("{}: {message}", path.display())]
    }
}

/// Prints the notes of a finished commit (what could not be tidied).
pub(crate) fn print_notes(finished: &disk::Finished) {
    for note in &finished.warnings {
        eprintln!("note: {note}");
    }
}

/// The process's exit code for a command's `result`: its own code, or, on
/// errors, 1 after printing each as `error: …` on standard error, then
/// `nothing was written` unless part of a change was made (which the next
/// command completes).
pub fn exit(result: CmdResult) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(errors) => {
            let mut partly = false;
            for e in &errors {
                match e.strip_prefix(PARTLY_WRITTEN) {
                    Some(e) => {
                        partly = true;
                        eprintln!("error: {e}");
                    }
                    None => eprintln!("error: {e}"),
                }
            }
            if !partly {
                eprintln!("nothing was written");
            }
            ExitCode::FAILURE
        }
    }
}

/// The whole `main` of a platform crate: parses the process's arguments,
/// runs the command on `project` ([`run`]) and returns its exit code
/// ([`exit`]); the crate-level quickstart shows the call.
///
/// Help and errors name the program by [`Project::invocation`] and the
/// platform by its name. `--root DIR`, anywhere on the line, overrides
/// [`Project::root`]. `render --check`, `check` and `diff` exit 1 when they
/// find a difference or a blocking finding; an error exits 1; arguments
/// clap refuses exit 2 with the usage, and `--help` exits 0.
pub fn main(mut project: Project) -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let args = std::iter::once(project.invocation.clone().into()).chain(std::env::args_os().skip(1));
    let about =
        format!("Render, check and release the GitOps tree of the `{}` platform", project.platform.name);
    let matches = Cli::command().about(about).get_matches_from::<_, std::ffi::OsString>(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(root) = cli.root {
        project.root = root;
    }
    exit(run(&project, cli.command))
}
