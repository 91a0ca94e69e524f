//! The starting-point example renders through the same pipeline as ClinicFlow.

use std::path::Path;

use gitops_tree::pipeline::{Paths, render_platform};
use pretty_assertions::assert_eq;

#[test]
fn the_minimal_example_renders_one_service_in_one_environment() {
    let root = workspace_tests::root().join("examples/minimal");
    let paths = Paths {
        root: Path::new(&root),
        releases: "releases",
        policies: "policies",
        deploy: "deploy",
        rules: &[],
    };
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
            "argocd/dev/apps/configmap-argocd-rbac-cm.yaml",
            "argocd/dev/apps/kustomization.yaml",
            "argocd/dev/bootstrap/application-hello-root.yaml",
            "argocd/dev/bootstrap/appproject-hello-bootstrap.yaml",
            "argocd/dev/bootstrap/configmap-argocd-cm.yaml",
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

#[test]
fn sealed_secrets_come_from_committed_kubeseal_output() {
    use gitops_core::profile::SecretBackend;
    let scratch = std::env::temp_dir().join(format!("sealed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("releases")).unwrap();
    std::fs::create_dir_all(scratch.join("secrets/dev")).unwrap();
    std::fs::copy(
        workspace_tests::root().join("examples/minimal/releases/dev.yaml"),
        scratch.join("releases/dev.yaml"),
    )
    .unwrap();
    let mut profile = minimal_example::dev();
    profile.secrets = SecretBackend::Sealed { dir: "secrets/dev" };
    let paths =
        Paths { root: &scratch, releases: "releases", policies: "policies", deploy: "deploy", rules: &[] };
    let render = || render_platform(&minimal_example::platform(), std::slice::from_ref(&profile), &paths);

    // Typed: the file that cannot be read, and the fix in the message.
    let errors = render().err().unwrap();
    let [gitops_tree::pipeline::PipelineError::Unreadable { file, .. }] = &errors[..] else {
        panic!("{errors:?}")
    };
    assert_eq!(file, "secrets/dev/hello-db-credentials.yaml");
    let err = errors[0].to_string();
    assert!(err.contains("secrets/dev/hello-db-credentials.yaml: the sealed secret does not exist"), "{err}");

    // The shape `kubeseal --format yaml` writes (the ciphertext is opaque here).
    let sealed = |namespace: &str| {
        format!(
            "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  creationTimestamp: null\n  name: hello-db-credentials\n  namespace: {namespace}\nspec:\n  encryptedData:\n    DATABASE_URL: AgA1==\n    dbname: AgA2==\n    password: AgA3==\n    username: AgA4==\n  template:\n    metadata:\n      creationTimestamp: null\n      name: hello-db-credentials\n      namespace: {namespace}\n"
        )
    };
    let file = scratch.join("secrets/dev/hello-db-credentials.yaml");
    std::fs::write(&file, sealed("hello-prod")).unwrap();
    let errors = render().err().unwrap();
    assert!(matches!(errors[..], [gitops_tree::pipeline::PipelineError::Sealed(_)]), "{errors:?}");
    let err = errors[0].to_string();
    assert!(
        err.contains("is sealed for hello-prod/hello-db-credentials, not hello-dev/hello-db-credentials"),
        "{err}"
    );

    std::fs::write(&file, sealed("hello-dev")).unwrap();
    let rendered = render().unwrap();
    assert_eq!(rendered.report.findings, [], "the SealedSecret satisfies every reference");
    let text = workspace_tests::text(&rendered.tree, "dev/sealedsecret-hello-db-credentials.yaml");
    assert!(text.contains("password: AgA3=="), "{text}");
    assert!(!rendered.tree.paths().any(|p| p.contains("externalsecret")));
    std::fs::remove_dir_all(scratch).unwrap();
}
