//! `smoke`: the part of ClinicFlow's smoke checklist a machine can do. GETs
//! each exposed service's HTTP readiness path through the path the
//! environment's ingress routes to it (taken from the typed platform and
//! profile, not from YAML), each with a timeout, and prints route, status
//! and latency. Exit 1 if any check fails.
//!
//! HTTP is `ureq` (blocking, small, rustls): the environments' hosts are
//! HTTPS with a certificate from the cluster's internal CA, which
//! `--ca-cert` trusts; without it the Mozilla roots (webpki-roots) are used.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gitops_core::platform::Platform;
use gitops_core::spec::ProbeAction;
use std::time::{Duration, Instant};

use gitops_core::profile::EnvironmentProfile;
use ureq::tls::{PemItem, RootCerts, TlsConfig};

use crate::{CmdResult, Project};

/// The arguments of `smoke`.
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
    /// PEM file of the CA that signed the ingress certificate (the internal
    /// CA issuer's certificate).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

/// The paths to check in `profile`'s environment: for each exposed route,
/// the route followed by its service's HTTP readiness path
/// (`/identity/health`), the root route's first, without repeats. A service
/// whose readiness is not an HTTP probe has nothing to ask.
pub fn health_paths(platform: &Platform, profile: &EnvironmentProfile) -> Vec<String> {
    let mut routes: Vec<_> = platform.exposed_routes(&profile.ingress.expose_opt_in).collect();
    routes.sort_by_key(|(_, route)| route.path != "/");
    let mut paths = Vec::new();
    for (service, route) in routes {
        let Some(ProbeAction::Http { path: probe, .. }) =
            service.probes.readiness.as_ref().map(|p| &p.action)
        else {
            continue;
        };
        let path = format!("{}{probe}", route.path.trim_end_matches('/'));
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// `url` with the user information of its authority (`user:password@`)
/// replaced by `***`, and that user information, if it has any.
fn redact_userinfo(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return (url.to_owned(), None) };
    let authority_len = url[scheme_end..].find(['/', '?', '#']).unwrap_or(url.len() - scheme_end);
    let authority = &url[scheme_end..scheme_end + authority_len];
    match authority.rfind('@') {
        Some(at) if at > 0 => {
            let userinfo = authority[..at].to_owned();
            (format!("{}***{}", &url[..scheme_end], &url[scheme_end + at..]), Some(userinfo))
        }
        _ => (url.to_owned(), None),
    }
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
        let pem = std::fs::File::open(file)
            .and_then(|f| gitops_core::source::read_bounded(f, 1 << 20))
            .map_err(|e| err(e.to_string()))?;
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

pub fn run(project: &Project, SmokeArgs { env, base_url, timeout, ca_cert }: SmokeArgs) -> CmdResult {
    let profile = project.environment(&env)?;
    let base = base_url.unwrap_or_else(|| format!("https://{}", profile.ingress.host));
    let base = base.trim_end_matches('/');
    // The URL as printed: credentials in it never reach a log.
    let (shown, userinfo) = redact_userinfo(base);
    let scrub = |text: String| match &userinfo {
        Some(secret) => text.replace(secret.as_str(), "***"),
        None => text,
    };
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(vec![format!("--base-url `{shown}`: give an http:// or https:// URL")]);
    }
    let agent = agent(Duration::from_secs(timeout), ca_cert.as_deref())?;
    let paths = health_paths(&project.platform, &profile);
    if paths.is_empty() {
        return Err(vec![format!(
            "environment `{env}` routes no service with an HTTP readiness probe through its ingress: nothing to check"
        )]);
    }
    let checks: Vec<Check> = paths.iter().map(|p| check(&agent, base, p)).collect();

    println!("{env}: {shown}\n");
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
            Err(e) => scrub(e.clone()),
        };
        eprintln!("{shown}{}: {why}", c.path);
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
    fn user_information_is_redacted_from_every_url_shown() {
        assert_eq!(
            redact_userinfo("https://ci:s3cr%40t@app.example:8443/base?x=a@b"),
            ("https://***@app.example:8443/base?x=a@b".to_owned(), Some("ci:s3cr%40t".to_owned()))
        );
        assert_eq!(
            redact_userinfo("http://token@10.0.0.1"),
            ("http://***@10.0.0.1".to_owned(), Some("token".to_owned()))
        );
        assert_eq!(redact_userinfo("https://app.example/a@b"), ("https://app.example/a@b".to_owned(), None));
        assert_eq!(redact_userinfo("ftp:/x"), ("ftp:/x".to_owned(), None));
    }

    use gitops_core::image::ImageRepository;
    use gitops_core::name;
    use gitops_core::platform::Service;
    use gitops_core::spec::{PortSpec, ProbeSpec, Probes, READINESS};

    #[test]
    fn every_exposed_routes_readiness_path_is_checked_once() {
        let img = ImageRepository::from_static("docker.io/acme/app");
        let platform = Platform::new(name!("acme"))
            .service(Service::api(name!("orders"), img.clone()).route("/orders").health_path("/ready"))
            .service(Service::api(name!("admin"), img.clone()).opt_in_route("/admin"))
            .service(
                Service::api(name!("rpc"), img.clone())
                    .listen([PortSpec::grpc("grpc", 50051)])
                    .probes(Probes {
                        readiness: Some(ProbeSpec::grpc(50051, READINESS)),
                        ..Probes::default()
                    })
                    .route("/rpc"),
            )
            .service(Service::web(name!("web"), img).route("/"));
        let mut profile = minimal_example_profile();
        assert_eq!(health_paths(&platform, &profile), ["/health", "/orders/ready"], "gRPC has no HTTP path");
        profile.ingress.expose_opt_in = vec![name!("admin")];
        assert_eq!(health_paths(&platform, &profile), ["/health", "/orders/ready", "/admin/health"]);
    }

    fn minimal_example_profile() -> EnvironmentProfile {
        use gitops_core::crd::argocd::ClusterRef;
        use gitops_core::name::HostName;
        use gitops_core::profile::*;
        let r = Resources {
            requests: Compute { cpu: Cpu(100), memory: Memory(128) },
            limits: Compute { cpu: Cpu(200), memory: Memory(256) },
        };
        EnvironmentProfile {
            name: name!("dev"),
            stage: Stage::Development,
            namespace: name!("acme-dev"),
            cluster: ClusterRef::in_cluster(),
            cluster_domain: HostName::new("cluster.local").unwrap(),
            git: GitSource {
                repo_url: "https://git.example/acme.git".into(),
                target_revision: "main".into(),
            },
            sync: SyncMode::Manual,
            argocd: ArgoCdProfile::new(name!("dev")),
            ingress: IngressProfile {
                routing: Routing::Ingress { class_name: name!("nginx") },
                host: HostName::new("acme.example.com").unwrap(),
                tls_issuer: IssuerRef { name: name!("ca"), kind: IssuerKind::ClusterIssuer },
                expose_opt_in: vec![],
                issuer: IssuerSource::OutOfBand,
            },
            storage: StorageProfile { class: name!("standard"), database_size: Memory::gib(1) },
            secrets: SecretBackend::OutOfBand,
            databases: vec![],
            api: WorkloadSizing { replicas: 1, resources: r },
            web: WorkloadSizing { replicas: 1, resources: r },
            migration: r,
            overrides: vec![],
            network: NetworkProfile { ingress_namespace: name!("ingress-nginx"), external_egress: vec![] },
            availability: AvailabilityProfile { spread_across_nodes: false, autoscaling: None },
            gatekeeper_privileged_constraint: false,
            compliance: None,
            waivers: vec![],
            require_digests: false,
        }
    }
}
