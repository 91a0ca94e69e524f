//! Helpers for the workspace-level tests in `tests/tests/`: render ClinicFlow
//! from the committed release files, as `cargo xtask render` does.

use std::path::{Path, PathBuf};

use gitops_core::Object;
use gitops_core::image::ImageRepository;
use gitops_core::name;
use gitops_core::platform::{Platform, Service, Topology};
use gitops_core::profile::{EnvironmentProfile, Routing};
use gitops_core::release::ReleasePins;
use gitops_tree::pipeline::{Paths, render_platform};
use gitops_tree::{EnvironmentObjects, Tree, layout};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the root").to_path_buf()
}

/// `platform` in `profiles`, rendered and checked: the tree, or every error
/// the render reports, one per line.
pub fn try_render(
    platform: &Platform,
    profiles: &[EnvironmentProfile],
    paths: &Paths,
) -> Result<Tree, String> {
    render_platform(platform, profiles, paths)
        .map(|rendered| rendered.tree)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
}

/// ClinicFlow in `profiles`, with the committed release files: [`try_render`].
pub fn try_clinicflow(profiles: &[EnvironmentProfile]) -> Result<Tree, String> {
    let root = root();
    let paths =
        Paths { root: &root, releases: "releases", policies: "policies", deploy: "deploy", rules: &[] };
    try_render(&clinicflow::platform(), profiles, &paths)
}

/// BrainSAIT RCM in `profiles`: [`try_render`].
pub fn try_brainsait(profiles: &[EnvironmentProfile]) -> Result<Tree, String> {
    try_render(&brainsait_rcm::platform(), profiles, &brainsait_rcm::paths())
}

/// The full ClinicFlow tree, as `cargo xtask render` lays it out.
pub fn clinicflow_tree() -> Tree {
    tree_of(&clinicflow::environments())
}

/// ClinicFlow in `profiles`, rendered and checked as `cargo xtask render` does.
fn tree_of(profiles: &[EnvironmentProfile]) -> Tree {
    let root = root();
    let paths =
        Paths { root: &root, releases: "releases", policies: "policies", deploy: "deploy", rules: &[] };
    let rendered = render_platform(&clinicflow::platform(), profiles, &paths).expect("ClinicFlow renders");
    assert_eq!(rendered.report.blocking(), 0, "{}", rendered.report.to_text());
    rendered.tree
}

/// The release pins committed for `env`.
pub fn pins(env: &str) -> ReleasePins {
    let platform = clinicflow::platform();
    let services: Vec<_> = platform.released().map(|s| s.name.clone()).collect();
    let rel = format!("releases/{env}.yaml");
    let text = std::fs::read_to_string(root().join(&rel)).expect("release file");
    ReleasePins::parse(&rel, &text, &services).expect("committed pins parse")
}

/// Every environment with its typed objects.
pub fn clinicflow_objects() -> Vec<(EnvironmentProfile, Vec<Object>)> {
    objects_of(clinicflow::environments())
}

fn objects_of(profiles: Vec<EnvironmentProfile>) -> Vec<(EnvironmentProfile, Vec<Object>)> {
    let platform = clinicflow::platform();
    profiles
        .into_iter()
        .map(|profile| {
            let objects = gitops_core::render_environment(&platform, &profile, &pins(profile.name.as_str()))
                .expect("environment renders")
                .into_objects();
            (profile, objects)
        })
        .collect()
}

/// `profile` routed through Gateway API instead of its Ingress: an
/// HTTPRoute attached to the listener `https` of the Gateway
/// `gateway-system/shared`.
pub fn via_gateway(mut profile: EnvironmentProfile) -> EnvironmentProfile {
    profile.ingress.routing = Routing::GatewayApi {
        gateway: name!("shared"),
        namespace: name!("gateway-system"),
        section_name: Some(name!("https")),
    };
    // The shared Gateway and its implementation are the cluster's, made out
    // of band: no add-on list to check the routes against.
    profile.argocd.addons.clear();
    profile
}

/// ClinicFlow's environments routed [`via_gateway`], rendered and checked as
/// `cargo xtask render` would: each environment with its typed objects, and the tree.
pub fn clinicflow_via_gateway() -> (Vec<(EnvironmentProfile, Vec<Object>)>, Tree) {
    let profiles: Vec<EnvironmentProfile> = clinicflow::environments().into_iter().map(via_gateway).collect();
    let tree = tree_of(&profiles);
    (objects_of(profiles), tree)
}

/// `(host, path, service)` of every route of the Ingresses and HTTPRoutes among
/// `objects`, in their order.
pub fn entry_routes<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Vec<(String, String, String)> {
    let mut routes = Vec::new();
    for o in objects {
        match o {
            Object::Ingress(ing) => {
                for rule in ing.spec.iter().flat_map(|s| s.rules.iter().flatten()) {
                    for p in rule.http.iter().flat_map(|h| &h.paths) {
                        let service = p.backend.service.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                        routes.push((
                            rule.host.clone().unwrap_or_default(),
                            p.path.clone().unwrap_or_default(),
                            service,
                        ));
                    }
                }
            }
            Object::HttpRoute(route) => {
                for host in &route.spec.hostnames {
                    for rule in &route.spec.rules {
                        // Every match of a rule goes to its backends.
                        for m in &rule.matches {
                            let path = m.path.as_ref().and_then(|p| p.value.clone()).unwrap_or_default();
                            for b in &rule.backend_refs {
                                routes.push((host.clone(), path.clone(), b.name.clone()));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    routes
}

/// The text of a rendered file.
pub fn text<'a>(tree: &'a Tree, path: &str) -> &'a str {
    std::str::from_utf8(tree.get(path).unwrap_or_else(|| panic!("{path} is rendered"))).expect("UTF-8")
}

/// A platform in the per-service topology, laid out in the minimal example's
/// `dev` profile: `claims` (route, database) and `web` (route, calls
/// `claims`), pinned to `sha-1234567` and `sha-7654321`. Returns the
/// platform, the environment's objects and the tree.
pub fn per_service_example() -> (Platform, Vec<Object>, Tree) {
    let image = ImageRepository::from_static("docker.io/acme/x");
    let platform = Platform::new(name!("acme"))
        .topology(Topology::PerService)
        .service(Service::api(name!("claims"), image.clone()).route("/claims").postgres())
        .service(Service::web(name!("web"), image).route("/").depends_on([name!("claims")]));
    let profile = minimal_example::dev();
    let pins = ReleasePins::parse(
        "releases/dev.yaml",
        "images:\n  claims: {tag: sha-1234567}\n  web: {tag: sha-7654321}\n",
        &[name!("claims"), name!("web")],
    )
    .expect("the pins parse");
    let render = gitops_core::render_environment(&platform, &profile, &pins).expect("the example renders");
    let objects = render.objects().cloned().collect();
    let tree = layout(&platform, &[EnvironmentObjects { profile: &profile, render }], "deploy")
        .expect("the example lays out");
    (platform, objects, tree)
}
