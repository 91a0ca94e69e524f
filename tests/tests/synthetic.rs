//! The synthetic platform of `cargo xtask bench` renders through the same
//! pipeline and checks as ClinicFlow, cleanly and deterministically.

use gitops_core::Object;
use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_policy::Policies;
use gitops_tree::pipeline::{
    Inputs, Rendered, Schedule, into_tree, render_environments, render_pinned, render_pinned_to,
};
use pretty_assertions::assert_eq;

/// The generated pins of every environment.
fn inputs(platform: &Platform, envs: &[EnvironmentProfile]) -> Vec<Inputs> {
    envs.iter().map(|_| Inputs::pins(synthetic::pins(platform))).collect()
}

fn render(services: usize) -> Rendered {
    let platform = synthetic::platform(services);
    let envs = synthetic::environments();
    let pins = inputs(&platform, &envs);
    let policies = Policies::load_dir(&workspace_tests::root(), "policies").unwrap();
    assert!(!policies.is_empty(), "the repository's Rego policies take part");
    render_pinned(&platform, &envs, &pins, &policies, "deploy").unwrap()
}

#[test]
fn a_small_synthetic_platform_is_policy_clean_and_deterministic() {
    let rendered = render(7);
    assert_eq!(rendered.report.findings, [], "{}", rendered.report.to_text());
    assert_eq!(rendered.tree, render(7).tree, "the same inputs give the same bytes");
    // Per service: 12 files in dev (credentials, database, migration,
    // workload, Services, ServiceAccounts, NetworkPolicies), 13 in staging
    // (a PodDisruptionBudget), 14 in prod (a HorizontalPodAutoscaler); 81
    // files do not grow with the platform (shared objects, README.md,
    // kustomization.yaml, Argo CD and the cluster add-ons).
    assert_eq!(rendered.tree.len(), 39 * 7 + 81);
    let prod = workspace_tests::text(&rendered.tree, "prod/deployment-svc-0003.yaml");
    for needle in [
        "image: docker.io/clinicflow-synthetic/svc-0003:sha-5e1ec7a@sha256:5e1ec7a0",
        "value: http://svc-0004.clinicflow-prod.svc.cluster.local:80",
        "value: http://svc-0005.clinicflow-prod.svc.cluster.local:80",
        "compliance: hipaa",
    ] {
        assert!(prod.contains(needle), "{needle}\n{prod}");
    }
    let ingress = workspace_tests::text(&rendered.tree, "dev/ingress-synthetic.yaml");
    assert_eq!(ingress.matches("path: /svc-").count(), 7, "every service is routed");
}

#[test]
fn every_service_brings_the_objects_of_a_clinicflow_api() {
    let platform = synthetic::platform(3);
    let envs = synthetic::environments();
    let pins = inputs(&platform, &envs);
    let clinicflow = workspace_tests::clinicflow_objects();
    for (env, (profile, objects)) in
        render_environments(&platform, &envs, &pins).unwrap().iter().zip(&clinicflow)
    {
        assert_eq!(env.profile.name, profile.name);
        let (_, synthetic) = &env.render.services[1];
        let shape = |objects: Vec<&Object>, name: &str| -> Vec<(String, String)> {
            objects.iter().map(|o| (o.kind().to_owned(), o.name().replace(name, "<svc>"))).collect()
        };
        // ClinicFlow's `identity`, a NestJS API with its own Postgres, as the shape.
        let identity: Vec<&Object> = objects
            .iter()
            .filter(|o| o.name() == "identity" || o.name().starts_with("identity-"))
            .filter(|o| !matches!(o, Object::Ingress(_)))
            .collect();
        let mut want = shape(identity, "identity");
        let mut got = shape(synthetic.iter().collect(), "svc-0002");
        want.sort();
        got.sort();
        assert_eq!(got, want, "{}", profile.name);
        assert!(got.len() >= 12, "database, migration, workload, identities, network policies");
    }
}

#[test]
fn a_blocking_rego_finding_blocks_the_synthetic_platform_too() {
    let platform = synthetic::platform(2);
    let envs = synthetic::environments();
    let pins = inputs(&platform, &envs);
    let policy = "package team\n\ndeny contains msg if {\n\tinput.kind == \"Job\"\n\tmsg := \"no Jobs\"\n}\n";
    let policies = Policies::from_sources(vec![("policies/team.rego".into(), policy.into())]).unwrap();
    let rendered = render_pinned(&platform, &envs, &pins, &policies, "deploy").unwrap();
    assert_eq!(rendered.report.blocking(), 2 * 3, "one finding per migration Job per environment");
}

/// Environments side by side (small platforms) and in turn (large ones)
/// give the same bytes, the same findings and the same errors.
#[test]
fn both_schedules_give_the_same_tree_findings_and_errors() {
    let platform = synthetic::platform(3);
    let envs = synthetic::environments();
    let policy = "package team\n\ndeny contains msg if {\n\tinput.kind == \"Job\"\n\tmsg := \"no Jobs\"\n}\n";
    let policies = Policies::from_sources(vec![("policies/team.rego".into(), policy.into())]).unwrap();
    let run = |envs: &[EnvironmentProfile], inputs: &[Inputs], schedule| {
        into_tree(|out| {
            render_pinned_to(&platform, envs, inputs, &policies, "deploy", schedule, &mut |_, _| {}, out)
        })
        .map(|r| (r.tree, r.report.findings))
    };
    let both = |envs: &[EnvironmentProfile], inputs: &[Inputs]| {
        let (side_by_side, in_turn) =
            (run(envs, inputs, Schedule::SideBySide), run(envs, inputs, Schedule::InTurn));
        assert_eq!(side_by_side, in_turn);
        side_by_side
    };
    let (tree, findings) = both(&envs, &inputs(&platform, &envs)).unwrap();
    assert_eq!(findings.len(), 3 * 3, "a finding per migration Job per environment");
    assert!(tree.len() > 100);

    // Dev and prod cannot render (their pins are another platform's): both say so.
    let mut broken = inputs(&platform, &envs);
    for i in [0, 2] {
        broken[i] = Inputs::pins(synthetic::pins(&synthetic::platform(1)));
    }
    let errors = both(&envs, &broken).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    // An environment defined twice renders, then fails in the layout.
    let twice = [envs[0].clone(), envs[1].clone(), envs[0].clone()];
    let errors = both(&twice, &inputs(&platform, &twice)).unwrap_err();
    assert!(matches!(errors[0], gitops_tree::pipeline::PipelineError::Layout(_)), "{errors:#?}");
    assert!(errors[0].to_string().contains("is defined twice"), "{errors:#?}");
}

/// A failure of the output (a full disk, say) fails the render on either
/// schedule, with the output's message, whichever thread met it.
#[test]
fn an_output_that_fails_fails_the_render() {
    let platform = synthetic::platform(3);
    let envs = synthetic::environments();
    let inputs = inputs(&platform, &envs);
    for schedule in [Schedule::SideBySide, Schedule::InTurn] {
        let batches = std::sync::atomic::AtomicUsize::new(0);
        let out = |files: gitops_tree::layout::Files| {
            let n = batches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n == 1 { Err(format!("disk full after {} files (injected)", files.len())) } else { Ok(()) }
        };
        let errors = render_pinned_to(
            &platform,
            &envs,
            &inputs,
            &Policies::none(),
            "deploy",
            schedule,
            &mut |_, _| {},
            &out,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1, "{schedule:?}: {errors:#?}");
        let gitops_tree::pipeline::PipelineError::Output(message) = &errors[0] else { panic!("{errors:#?}") };
        assert!(message.starts_with("disk full after") && message.ends_with("(injected)"), "{errors:#?}");
    }
}

/// The rendered documents take the native YAML emitter, not the serde_yaml
/// fallback; the golden test proves the bytes are serde_yaml's.
#[test]
fn rendered_documents_stay_on_the_native_yaml_emitter() {
    let platform = synthetic::platform(3);
    let envs = synthetic::environments();
    let pins = inputs(&platform, &envs);
    let sso = gitops_core::profile::Sso {
        provider: gitops_core::profile::IdentityProvider::AzureAd { tenant_id: "tenant".into() },
        argocd_url: "https://argocd.example".into(),
        client_id: "argocd".into(),
        client_secret: gitops_core::profile::SecretKeyRef {
            name: gitops_core::name!("argocd-oidc"),
            key: "clientSecret".into(),
        },
    };
    let objects: Vec<Object> = render_environments(&platform, &envs, &pins)
        .unwrap()
        .into_iter()
        .flat_map(|env| env.render.into_objects())
        .chain(workspace_tests::clinicflow_objects().into_iter().flat_map(|(_, objects)| objects))
        .chain([gitops_tree::argocd::argocd_cm(Some(&sso), true).unwrap().into()])
        .chain([gitops_tree::argocd::rbac_cm(&platform, &envs.iter().collect::<Vec<_>>()).unwrap().into()])
        .chain([gitops_tree::argocd::notifications_cm("https://argocd.example").unwrap().into()])
        .collect();
    for o in &objects {
        assert!(gitops_core::yaml::to_string_native(o).is_some(), "{} {} falls back", o.kind(), o.name());
    }
}

/// Rego's `input` is built without a JSON round trip, and is the same value.
#[test]
fn rego_inputs_are_built_directly_and_equal_the_json_round_trip() {
    let platform = synthetic::platform(3);
    let envs = synthetic::environments();
    let pins = inputs(&platform, &envs);
    let synthetic = render_environments(&platform, &envs, &pins).unwrap();
    let objects = synthetic
        .into_iter()
        .flat_map(|env| env.render.into_objects())
        .chain(workspace_tests::clinicflow_objects().into_iter().flat_map(|(_, objects)| objects));
    for o in objects {
        assert_eq!(
            gitops_policy::rego::direct_input_matches_json(&o),
            Some(true),
            "{} {}",
            o.kind(),
            o.name()
        );
    }
}
