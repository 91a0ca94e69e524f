//! The escape hatches go through the pipeline like built objects: a
//! dynamic ServiceMonitor is laid out, labelled, ordered and admitted by the
//! AppProject; a patch that adds a sidecar is counted by the quota and
//! limit range and held to every built-in rule; the NetworkPolicy opens
//! exactly the port Prometheus scrapes; a patch that names nothing fails.

use gitops_core::Object;
use gitops_core::extend::Added;
use gitops_core::meta::SyncWave;
use gitops_core::object::DynamicObject;
use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::release::{Pin, ReleasePins};
use gitops_core::{image::ImageTag, name, yaml};
use gitops_policy::Policies;
use gitops_tree::pipeline::{Inputs, Rendered, render_pinned};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, ResourceRequirements};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pretty_assertions::assert_eq;

fn monitor() -> DynamicObject {
    DynamicObject::new(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        "hello",
        serde_json::json!({"spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "hello"}},
            "endpoints": [{"port": "http", "path": "/metrics"}],
        }}),
    )
    .unwrap()
}

/// The log shipper the patch adds beside the main container, as a native
/// sidecar; `hardened` gives it the restricted security context.
fn shipper(hardened: bool) -> Container {
    let compute = |cpu: &str, memory: &str| {
        Some(
            [("cpu".to_owned(), Quantity(cpu.into())), ("memory".to_owned(), Quantity(memory.into()))]
                .into_iter()
                .collect(),
        )
    };
    Container {
        name: "log-shipper".into(),
        image: Some("docker.io/fluent/fluent-bit:3.2.4".into()),
        restart_policy: Some("Always".into()),
        resources: Some(ResourceRequirements {
            requests: compute("100m", "64Mi"),
            limits: compute("2", "2Gi"),
            ..Default::default()
        }),
        security_context: hardened.then(gitops_core::build::pod::container_security_context),
        ..Default::default()
    }
}

fn platform(hardened_sidecar: bool) -> Platform {
    minimal_example::platform()
        .include(|_env| vec![Added::new(monitor()).owned_by(name!("hello")).wave(SyncWave::Ingress)])
        .allow_ingress(name!("hello"), name!("monitoring"), "http")
        .patch::<Deployment>(Some("hello"), move |_env, d| {
            let spec = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
            spec.init_containers.get_or_insert_with(Vec::new).push(shipper(hardened_sidecar));
        })
}

fn render(platform: &Platform) -> Result<Rendered, Vec<String>> {
    let profile = minimal_example::dev();
    let pins = ReleasePins {
        images: [(name!("hello"), Pin::tag(ImageTag::new("sha-1a2b3c4").unwrap()))].into_iter().collect(),
    };
    render_pinned(platform, &[profile], &[Inputs::pins(pins)], &Policies::none(), "deploy")
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

fn object<T: serde::de::DeserializeOwned>(rendered: &Rendered, path: &str) -> T {
    let text = std::str::from_utf8(rendered.tree.get(path).unwrap_or_else(|| panic!("{path}"))).unwrap();
    yaml::from_str(text).unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

#[test]
fn a_dynamic_object_is_laid_out_labelled_ordered_and_admitted() {
    let rendered = render(&platform(true)).unwrap();
    assert_eq!(rendered.report.findings, [], "the hatches' objects pass every rule");
    let m: serde_json::Value = object(&rendered, "dev/servicemonitor-hello.yaml");
    assert_eq!(m["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(m["metadata"]["namespace"], "hello-dev");
    assert_eq!(m["metadata"]["labels"]["app.kubernetes.io/instance"], "hello-dev");
    assert_eq!(m["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"], "4");
    assert_eq!(m["spec"]["endpoints"][0]["port"], "http");
    let kustomization = std::str::from_utf8(rendered.tree.get("dev/kustomization.yaml").unwrap()).unwrap();
    assert!(kustomization.contains("- servicemonitor-hello.yaml"), "{kustomization}");
    let project: serde_json::Value = object(&rendered, "argocd/dev/apps/appproject-hello-dev.yaml");
    let kinds = project["spec"]["namespaceResourceWhitelist"].as_array().unwrap();
    assert!(
        kinds.iter().any(|k| k["group"] == "monitoring.coreos.com" && k["kind"] == "ServiceMonitor"),
        "the AppProject lets Argo CD sync the added kind: {kinds:?}"
    );
}

#[test]
fn the_network_policy_opens_exactly_the_scraped_port_to_the_monitoring_namespace() {
    let rendered = render(&platform(true)).unwrap();
    let policy: NetworkPolicy = object(&rendered, "dev/networkpolicy-hello.yaml");
    let ingress = policy.spec.unwrap().ingress.unwrap();
    let scrape = ingress.last().unwrap();
    let from = &scrape.from.as_ref().unwrap()[0];
    let ns = from.namespace_selector.as_ref().unwrap().match_labels.as_ref().unwrap();
    assert_eq!(ns["kubernetes.io/metadata.name"], "monitoring");
    assert_eq!(from.pod_selector, None, "every pod of that namespace");
    let ports: Vec<_> = scrape.ports.iter().flatten().map(|p| p.port.clone()).collect();
    assert_eq!(
        ports,
        [Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("http".into()))]
    );

    let without = render(&minimal_example::platform()).unwrap();
    let before: NetworkPolicy = object(&without, "dev/networkpolicy-hello.yaml");
    assert_eq!(
        before.spec.unwrap().ingress.unwrap().len() + 1,
        ingress.len(),
        "one rule more, no other change"
    );
}

#[test]
fn a_patched_sidecar_is_counted_by_the_quota_and_limits_and_checked() {
    let plain = render(&minimal_example::platform()).unwrap();
    let patched = render(&platform(true)).unwrap();
    let hard = |r: &Rendered, key: &str| {
        let q: k8s_openapi::api::core::v1::ResourceQuota = object(r, "dev/resourcequota-hello.yaml");
        q.spec.unwrap().hard.unwrap()[key].0.clone()
    };
    // Two pods of the Deployment at once (one replica, one surge), each with 2 CPUs more.
    let cpu = |s: String| gitops_core::build::admission::cpu_millis(&Quantity(s)).unwrap();
    assert_eq!(cpu(hard(&patched, "limits.cpu")), cpu(hard(&plain, "limits.cpu")) + 2 * 2000);
    let lr: k8s_openapi::api::core::v1::LimitRange = object(&patched, "dev/limitrange-hello.yaml");
    let max = lr.spec.unwrap().limits[0].max.clone().unwrap();
    assert_eq!((max["cpu"].0.as_str(), max["memory"].0.as_str()), ("2", "2Gi"), "the sidecar is admitted");
    let d: Deployment = object(&patched, "dev/deployment-hello.yaml");
    let init = d.spec.unwrap().template.spec.unwrap().init_containers.unwrap();
    assert_eq!(init[0].name, "log-shipper");

    // The same sidecar without a security context is held to the rules.
    let rendered = render(&platform(false)).unwrap();
    let rules: Vec<&str> = rendered.report.findings.iter().map(|f| f.rule.as_str()).collect();
    for rule in ["container-security-context", "no-privilege-escalation", "read-only-root-filesystem"] {
        assert!(rules.contains(&rule), "{rule}: {rules:?}");
    }
    assert!(rendered.report.blocking() > 0);
}

#[test]
fn a_patch_that_names_nothing_and_an_owner_that_does_not_exist_fail_with_the_fix() {
    let typo = minimal_example::platform().patch::<Deployment>(Some("helo"), |_, _| {});
    let err = render(&typo).err().unwrap().join("\n");
    assert!(err.contains("patches Deployment `helo`, which the environment does not render"), "{err}");
    let orphan = minimal_example::platform().include(|_| vec![Added::new(monitor()).owned_by(name!("nope"))]);
    let err = render(&orphan).err().unwrap().join("\n");
    assert!(err.contains("to service `nope`, which the platform does not define"), "{err}");
    let closed = minimal_example::platform().allow_ingress(name!("hello"), name!("monitoring"), "metrics");
    let err = render(&closed).err().unwrap().join("\n");
    assert!(err.contains("is opened on port `metrics`, which it does not declare"), "{err}");
    // A kind-wide patch may match nothing in an environment.
    let wide = minimal_example::platform().patch::<k8s_openapi::api::batch::v1::CronJob>(None, |_, _| {});
    assert!(render(&wide).is_ok());
}

#[test]
fn an_added_typed_object_of_a_built_kind_is_checked_like_a_built_one() {
    // A Service with a target port no container serves: the check catches it.
    let broken = minimal_example::platform().include(|env: &EnvironmentProfile| {
        let mut svc = k8s_openapi::api::core::v1::Service::default();
        svc.metadata.name = Some("hello-debug".into());
        let _ = env;
        svc.spec = Some(k8s_openapi::api::core::v1::ServiceSpec {
            selector: Some(
                [
                    ("app.kubernetes.io/name".to_owned(), "hello".to_owned()),
                    ("app.kubernetes.io/instance".to_owned(), "hello-dev".to_owned()),
                ]
                .into_iter()
                .collect(),
            ),
            ports: Some(vec![k8s_openapi::api::core::v1::ServicePort {
                port: 9000,
                target_port: Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(
                    "debug".into(),
                )),
                ..Default::default()
            }]),
            ..Default::default()
        });
        vec![Added::new(Object::from(svc))]
    });
    let rendered = render(&broken).unwrap();
    let hits: Vec<(&str, &str)> = rendered
        .report
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.object.as_ref().unwrap().name.as_str()))
        .collect();
    assert_eq!(hits, [("service-port-exists", "hello-debug")]);
}

/// A Deployment added through a hatch gets the ServiceAccount it names.
#[test]
fn an_added_workload_gets_its_service_account() {
    let added = minimal_example::platform().include(|_| {
        let mut d: Deployment = Deployment::default();
        d.metadata.name = Some("sidecar-job".into());
        let mut spec = k8s_openapi::api::apps::v1::DeploymentSpec::default();
        spec.template.spec = Some(k8s_openapi::api::core::v1::PodSpec {
            service_account_name: Some("sidecar-job".into()),
            ..Default::default()
        });
        d.spec = Some(spec);
        vec![Added::new(d).owned_by(name!("hello"))]
    });
    let profile = minimal_example::dev();
    let pins = ReleasePins {
        images: [(name!("hello"), Pin::tag(ImageTag::new("sha-1a2b3c4").unwrap()))].into_iter().collect(),
    };
    let objects = gitops_core::render_environment(&added, &profile, &pins).unwrap().into_objects();
    let sa =
        objects.iter().find(|o| o.kind() == "ServiceAccount" && o.name() == "sidecar-job").expect("derived");
    let Object::ServiceAccount(sa) = sa else { unreachable!() };
    assert_eq!(sa.automount_service_account_token, Some(false));
    assert_eq!(sa.metadata.namespace.as_deref(), Some("hello-dev"));
}
