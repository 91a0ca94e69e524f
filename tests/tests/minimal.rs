//! The starting-point example renders through the same pipeline as ClinicFlow.

use std::path::Path;

use gitops_tree::pipeline::{Paths, render_platform};
use pretty_assertions::assert_eq;

#[test]
fn the_minimal_example_renders_one_service_in_one_environment() {
    let root = workspace_tests::root().join("examples/minimal");
    let paths =
        Paths { root: Path::new(&root), releases: "releases", policies: "policies", deploy: "deploy" };
    let render = || {
        let rendered =
            render_platform(&minimal_example::platform(), &[minimal_example::dev()], &paths).unwrap();
        assert_eq!(rendered.report.findings, [], "the starting point is policy clean");
        rendered.tree
    };
    let tree = render();
    assert_eq!(tree, render(), "deterministic");
    let files: Vec<&str> = tree.paths().collect();
    assert_eq!(
        files,
        [
            "argocd/dev/apps/application-hello-dev.yaml",
            "argocd/dev/apps/appproject-hello-dev.yaml",
            "argocd/dev/apps/configmap-argocd-cm.yaml",
            "argocd/dev/apps/kustomization.yaml",
            "argocd/dev/bootstrap/application-hello-root.yaml",
            "argocd/dev/bootstrap/appproject-hello-bootstrap.yaml",
            "argocd/dev/bootstrap/kustomization.yaml",
            "dev/README.md",
            "dev/deployment-hello.yaml",
            "dev/externalsecret-hello-db-credentials.yaml",
            "dev/ingress-hello.yaml",
            "dev/kustomization.yaml",
            "dev/limitrange-hello.yaml",
            "dev/namespace-hello-dev.yaml",
            "dev/networkpolicy-allow-dns.yaml",
            "dev/networkpolicy-default-deny.yaml",
            "dev/networkpolicy-hello-db.yaml",
            "dev/networkpolicy-hello.yaml",
            "dev/resourcequota-hello.yaml",
            "dev/service-hello-db.yaml",
            "dev/service-hello.yaml",
            "dev/serviceaccount-hello-db.yaml",
            "dev/serviceaccount-hello.yaml",
            "dev/statefulset-hello-db.yaml",
        ]
    );
}

#[test]
fn the_per_service_topology_gives_each_service_its_directory_and_application() {
    let (_, _, tree) = workspace_tests::per_service_example();
    let dirs: Vec<&str> = tree.paths().filter_map(|p| p.strip_suffix("/kustomization.yaml")).collect();
    assert_eq!(dirs, ["argocd/dev/apps", "argocd/dev/bootstrap", "dev/claims", "dev/platform", "dev/web"]);
    assert!(tree.get("dev/claims/statefulset-claims-db.yaml").is_some());
    assert!(tree.get("dev/platform/namespace-hello-dev.yaml").is_some());
    assert!(tree.get("dev/platform/ingress-acme.yaml").is_some());
    let apps: Vec<&str> =
        tree.paths().filter_map(|p| p.strip_prefix("argocd/dev/apps/application-")).collect();
    assert_eq!(apps, ["acme-dev.yaml", "claims-dev.yaml", "web-dev.yaml"]);
    let claims = workspace_tests::text(&tree, "argocd/dev/apps/application-claims-dev.yaml");
    assert!(claims.contains("path: deploy/dev/claims"), "{claims}");
}
