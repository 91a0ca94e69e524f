//! `cargo xtask smoke`: the part of seed 000's smoke checklist a machine can
//! do. GETs `/health` through every path the environment's ingress exposes
//! (taken from the typed platform and profile, not from YAML), each with a
//! timeout, and prints route, status and latency. Exit 1 if any check fails.
//!
//! HTTP is `ureq` (blocking, small, rustls): the environments' hosts are
//! HTTPS with a certificate from the cluster's internal CA, which
//! `--ca-cert` trusts; without it the Mozilla roots (webpki-roots) are used.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gitops_core::profile::EnvironmentProfile;
use ureq::tls::{PemItem, RootCerts, TlsConfig};

use crate::{CmdResult, pins};

#[derive(clap::Args)]
pub struct SmokeArgs {
    /// The environment to check.
    #[arg(long, value_name = "ENV")]
    env: String,
    /// Where to send the requests. Default: https://<the environment's ingress host>.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Seconds each request may take, connection included.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    timeout: u64,
    /// PEM file of the CA that signed the ingress certificate (the
    /// `clinicflow-internal-ca` issuer's certificate).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

/// The paths to check in `profile`'s environment: `/health`, then
/// `<route>/health` for each exposed route, without repeats.
pub fn health_paths(profile: &EnvironmentProfile) -> Vec<String> {
    let platform = clinicflow::platform();
    let mut paths = vec!["/health".to_owned()];
    for (_, route) in platform.exposed_routes(&profile.ingress.expose_opt_in) {
        let path = format!("{}/health", route.path.trim_end_matches('/'));
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// One check's outcome: the HTTP status, or why there is none.
struct Check {
    path: String,
    result: Result<u16, String>,
    latency: Duration,
}

impl Check {
    fn passed(&self) -> bool {
        matches!(self.result, Ok(200..=299))
    }
}

fn agent(timeout: Duration, ca_cert: Option<&Path>) -> Result<ureq::Agent, Vec<String>> {
    let mut tls = TlsConfig::builder();
    if let Some(file) = ca_cert {
        let err = |e: String| {
            vec![format!("--ca-cert {}: {e}; give the CA certificate in PEM form", file.display())]
        };
        let pem = std::fs::read(file).map_err(|e| err(e.to_string()))?;
        let certs = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(e.to_string()))?;
        if certs.is_empty() {
            return Err(err("no certificate in the file".into()));
        }
        tls = tls.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        // A status is a result to report, not an error; a redirect (to a
        // login page, or from http to https) is not a healthy answer.
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(tls.build())
        .build()
        .into())
}

fn check(agent: &ureq::Agent, base: &str, path: &str) -> Check {
    let start = Instant::now();
    let result = match agent.get(&format!("{base}{path}")).call() {
        Ok(response) => Ok(response.status().as_u16()),
        Err(ureq::Error::Timeout(_)) => Err("timed out".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    Check { path: path.to_owned(), result, latency: start.elapsed() }
}

pub fn run(_root: &Path, SmokeArgs { env, base_url, timeout, ca_cert }: SmokeArgs) -> CmdResult {
    let profile = pins::environment(&env)?;
    let base = base_url.unwrap_or_else(|| format!("https://{}", profile.ingress.host));
    let base = base.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(vec![format!("--base-url `{base}`: give an http:// or https:// URL")]);
    }
    let agent = agent(Duration::from_secs(timeout), ca_cert.as_deref())?;
    let checks: Vec<Check> = health_paths(&profile).iter().map(|p| check(&agent, base, p)).collect();

    println!("{env}: {base}\n");
    let width = checks.iter().map(|c| c.path.len()).max().unwrap_or(0).max("route".len());
    println!("{:width$}  {:6}  {:>8}", "route", "status", "latency");
    for c in &checks {
        let status = match &c.result {
            Ok(code) => code.to_string(),
            Err(_) => "error".to_owned(),
        };
        let latency = format!("{} ms", c.latency.as_millis());
        let mark = if c.passed() { "" } else { "  FAIL" };
        println!("{:width$}  {status:6}  {latency:>8}{mark}", c.path);
    }
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed()).collect();
    for c in &failed {
        let why = match &c.result {
            Ok(code) => format!("HTTP {code}; a healthy service answers 2xx"),
            Err(e) => e.clone(),
        };
        eprintln!("{}{}: {why}", base, c.path);
    }
    if failed.is_empty() {
        println!("\n{} check(s) passed", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{} of {} check(s) failed", failed.len(), checks.len());
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exposed_route_is_checked_once() {
        assert_eq!(
            health_paths(&clinicflow::dev()),
            [
                "/health",
                "/identity/health",
                "/scheduling/health",
                "/profiles/health",
                "/notifications/health"
            ]
        );
        // Production does not expose /notifications.
        assert!(!health_paths(&clinicflow::prod()).contains(&"/notifications/health".to_owned()));
    }
}
