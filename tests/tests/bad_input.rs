//! Mistakes in the Rust definitions of a platform or an environment. The
//! worst are compile errors (an empty storage class: `name!("")` does not
//! compile, see the `name!` docs); the rest are render errors that name the
//! defining file and line or the environment, the place, and the fix. The
//! render stops before the layout, so nothing can be written.

use gitops_core::image::ImageRepository;
use gitops_core::name;
use gitops_core::name::{HostName, Name};
use gitops_core::platform::Service;
use gitops_core::profile::{Memory, Stage, SyncMode};
use gitops_core::release::ReleasePins;
use gitops_core::render_environment;

const IMG: ImageRepository = ImageRepository::from_static("docker.io/bludivehub/clinicflow-extra");

/// Renders ClinicFlow's dev with `change` applied to the platform and profile.
fn render_dev(
    change_platform: impl FnOnce(gitops_core::platform::Platform) -> gitops_core::platform::Platform,
    change_profile: impl FnOnce(&mut gitops_core::profile::EnvironmentProfile),
) -> String {
    let platform = change_platform(clinicflow::platform());
    let mut profile = clinicflow::dev();
    change_profile(&mut profile);
    let services: Vec<Name> = platform.services.iter().map(|s| s.name.clone()).collect();
    let mut text = std::fs::read_to_string(workspace_tests::root().join("releases/dev.yaml")).unwrap();
    let pinned: Vec<Name> = clinicflow::platform().services.into_iter().map(|s| s.name).collect();
    for s in dedup(services.clone()).iter().filter(|s| !pinned.contains(s)) {
        text.push_str(&format!("  {s}:\n    tag: sha-1234567\n"));
    }
    let pins = ReleasePins::parse("releases/dev.yaml", &text, &dedup(services)).unwrap();
    render_environment(&platform, &profile, &pins).unwrap_err().to_string()
}

fn dedup(mut v: Vec<Name>) -> Vec<Name> {
    v.sort();
    v.dedup();
    v
}

const THIS_FILE: &str = "tests/tests/bad_input.rs:";

#[test]
fn duplicate_service_names_name_the_defining_line() {
    let err = render_dev(|p| p.service(Service::api(name!("identity"), IMG)), |_| {});
    assert!(err.contains(THIS_FILE), "{err}");
    assert!(err.ends_with("service `identity` is defined twice; give each service a unique name"), "{err}");
}

#[test]
fn a_colliding_route_names_both_services_and_the_fix() {
    let err = render_dev(|p| p.service(Service::api(name!("billing"), IMG).route("/identity")), |_| {});
    assert!(err.contains(THIS_FILE), "{err}");
    assert!(err.contains("service `billing` routes `/identity`, which `identity` routes already; give each service its own path prefix"), "{err}");
}

#[test]
fn an_unknown_dependency_names_the_service() {
    let err = render_dev(
        |p| p.service(Service::api(name!("billing"), IMG).depends_on([name!("payments")])),
        |_| {},
    );
    assert!(err.contains("service `billing` depends on `payments`, which the platform does not define; define that service or remove the dependency"), "{err}");
}

#[test]
fn a_name_too_long_once_suffixed_is_refused() {
    let long = Name::new("billing-".repeat(6) + "x").unwrap();
    let err = render_dev(|p| p.service(Service::api(long, IMG).postgres()), |_| {});
    assert!(
        err.contains(
            "-db-credentials` would be 64 characters; shorten the service name to 48 characters or fewer"
        ),
        "{err}"
    );
    assert_eq!(
        Name::new("a".repeat(64)).unwrap_err().to_string(),
        format!("`{}` is not a valid name: it is longer than 63 characters", "a".repeat(64))
    );
}

#[test]
fn an_empty_storage_class_or_bad_host_cannot_be_built() {
    assert_eq!(Name::new("").unwrap_err().to_string(), "`` is not a valid name: it is empty");
    let err = HostName::new("clinicflow dev.192.168.10.240.nip.io").unwrap_err().to_string();
    assert_eq!(
        err,
        "`clinicflow dev.192.168.10.240.nip.io` is not a valid name: it may contain only lowercase letters, digits, '-' and '.'"
    );
    assert!(HostName::new("clinicflow-dev..nip.io").is_err());
}

#[test]
fn profile_mistakes_name_the_environment_and_the_fix() {
    let err = render_dev(|p| p, |e| e.web.replicas = 0);
    assert_eq!(err, "environment `dev`: web replicas are 0; run at least one replica");
    let err = render_dev(|p| p, |e| e.databases[0].resources.requests.memory = Memory::gib(8));
    assert_eq!(
        err,
        "environment `dev`: postgres resources: memory request 8Gi is above its limit 512Mi; raise the limit or lower the request"
    );
    let err = render_dev(
        |p| p,
        |e| {
            e.stage = Stage::Production;
            e.sync = SyncMode::Automated { prune: true, self_heal: true };
        },
    );
    assert!(
        err.contains(
            "environment `dev`: is production and syncs automatically; set `sync: SyncMode::Manual`"
        ),
        "{err}"
    );
    let err = render_dev(|p| p, |e| e.ingress.expose_opt_in.push(name!("web")));
    assert!(err.contains("exposes `web`, which is not a service with an opt-in route; list only services declared with `opt_in_route`"), "{err}");
}
