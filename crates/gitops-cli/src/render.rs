//! `render`: reads the release pins, renders every environment through the
//! typed builders, checks it against the policies, lays the objects out and
//! writes the tree atomically; with `--check`, compares it with what is on
//! disk and writes nothing. A blocking policy finding stops the render
//! before anything is written.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use gitops_policy::{Policies, Report};
use gitops_tree::disk::{self, Outcome, Staged};
use gitops_tree::layout::Files;
use gitops_tree::pipeline::{
    Inputs, Output, PipelineError, PipelineErrors, Rendered, into_tree, read_inputs, render_pinned_into,
    render_platform_to,
};

use crate::{CmdResult, Project};

/// Each environment's inputs, in profile order: its release file (and
/// sealed secrets) read below the root, or the project's generated pins.
pub fn inputs(project: &Project) -> Result<Vec<Inputs>, Vec<String>> {
    typed_inputs(project).map_err(strings)
}

fn typed_inputs(project: &Project) -> Result<Vec<Inputs>, PipelineErrors> {
    if let Some(pins) = &project.generated_pins {
        return Ok(project.profiles.iter().map(|_| Inputs::pins(pins.clone())).collect());
    }
    let (inputs, errors): (Vec<_>, Vec<_>) = project
        .profiles
        .iter()
        .map(|profile| read_inputs(&project.platform, profile, &project.paths(), None))
        .partition(Result::is_ok);
    if errors.is_empty() {
        Ok(inputs.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(errors.into_iter().filter_map(Result::err).collect())
    }
}

/// The project's policies: its Rego files and its rules in Rust.
pub fn load_policies(project: &Project) -> Result<Policies, Vec<String>> {
    typed_policies(project).map_err(strings)
}

fn typed_policies(project: &Project) -> Result<Policies, PipelineErrors> {
    if project.policies_required && !project.root.join(project.policies).is_dir() {
        return Err(vec![PipelineError::Unreadable {
            file: project.policies.into(),
            problem: "the project's policies directory does not exist; create it, or point the project at the right one".into(),
        }]);
    }
    Policies::load_dir(&project.root, project.policies)
        .and_then(|p| p.with_rules(project.rules.clone()))
        .map_err(|e| vec![e.into()])
}

/// The pipeline's typed errors, as the command line prints them.
pub fn strings(errors: PipelineErrors) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// The tree and its policy report, as the project renders:
/// [`render_project_to`] collected into a tree.
pub fn render_project(project: &Project) -> Result<Rendered, Vec<String>> {
    into_tree(|out| render_typed(project, out)).map_err(strings)
}

/// The project rendered through the one pipeline, after reading its
/// release files (and checking for stray ones) or taking its generated
/// pins, handing the files to `out` as they are laid out; the policy report.
pub fn render_project_to(project: &Project, out: Output) -> Result<Report, Vec<String>> {
    render_typed(project, out).map_err(strings)
}

fn render_typed(project: &Project, out: Output) -> Result<Report, PipelineErrors> {
    match &project.generated_pins {
        None => {
            if project.policies_required {
                typed_policies(project)?;
            }
            render_platform_to(&project.platform, &project.profiles, &project.paths(), out)
        }
        Some(_) => {
            let policies = typed_policies(project)?;
            let inputs = typed_inputs(project)?;
            render_pinned_into(&project.platform, &project.profiles, &inputs, &policies, project.deploy, out)
        }
    }
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

/// The arguments of `render`.
#[derive(clap::Args)]
pub struct RenderArgs {
    /// Write the tree here instead of the project's deploy directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write nothing; list every file that differs and exit 1 if any does.
    #[arg(long)]
    pub check: bool,
}

pub fn run(project: &Project, RenderArgs { out, check }: RenderArgs) -> CmdResult {
    if project.generated_pins.is_some() && out.is_none() {
        return Err(vec![format!(
            "this platform's pins are generated, so it renders only with --out DIR: its tree is not committed ({}/ holds the repository's)",
            project.deploy
        )]);
    }
    let dest = out.unwrap_or_else(|| project.root.join(project.deploy));
    let io_err = |e| crate::io_error(&dest, e);
    if check {
        let Rendered { tree, report } = render_project(project)?;
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
            "{}: {} file(s) differ from what the sources render; run `{}` and commit the result",
            dest.display(),
            drift.len(),
            project.render_command()
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
    let report = render_project_to(project, &write)?;
    refuse_blocking(&report)?;
    let finished = staged.finish().map_err(|e| crate::commit_error(&dest, e))?;
    crate::print_notes(&finished);
    let verb = match finished.outcome {
        Outcome::Unchanged => "unchanged",
        Outcome::Replaced => "written",
    };
    let (files, bytes) = (files.into_inner(), bytes.into_inner());
    println!("{}: {verb}, {files} files, {bytes} bytes", dest.display());
    Ok(ExitCode::SUCCESS)
}
