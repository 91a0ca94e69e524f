//! The starting-point example renders through the same pipeline as ClinicFlow.

use std::path::Path;

use gitops_tree::pipeline::{Paths, render_platform};
use pretty_assertions::assert_eq;

#[test]
fn the_minimal_example_renders_one_service_in_one_environment() {
    let root = workspace_tests::root().join("examples/minimal");
    let paths = Paths { root: Path::new(&root), releases: "releases", deploy: "deploy" };
    let render = || render_platform(&minimal_example::platform(), &[minimal_example::dev()], &paths).unwrap();
    let tree = render();
    assert_eq!(tree, render(), "deterministic");
    let files: Vec<&str> = tree.paths().collect();
    assert_eq!(
        files,
        [
            "argocd/dev.yaml",
            "dev/deployment-hello.yaml",
            "dev/externalsecret-hello-db-credentials.yaml",
            "dev/ingress-hello.yaml",
            "dev/kustomization.yaml",
            "dev/namespace-hello-dev.yaml",
            "dev/service-hello-db.yaml",
            "dev/service-hello.yaml",
            "dev/statefulset-hello-db.yaml",
        ]
    );
}
