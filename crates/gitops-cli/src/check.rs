//! `check`: the policy check alone, as text, JSON or SARIF.
//! Exits 1 when a blocking finding exists; writes nothing.

use std::process::ExitCode;

use crate::render::render_project;
use crate::{CmdResult, Project};

/// How the findings are printed.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

/// The arguments of `check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// Output format; `sarif` is for code-scanning upload.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(project: &Project, CheckArgs { format }: CheckArgs) -> CmdResult {
    let report = render_project(project)?.report;
    match format {
        Format::Text if report.findings.is_empty() => println!("no findings"),
        Format::Text => print!("{}", report.to_text()),
        Format::Json => print!("{}", report.to_json()),
        Format::Sarif => print!("{}", report.to_sarif(env!("CARGO_PKG_VERSION"))),
    }
    Ok(if report.blocking() > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
