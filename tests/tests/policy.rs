//! Every built-in rule has a fixture that violates it and one that passes:
//! the passing fixture is ClinicFlow's rendered dev (or prod) environment,
//! and each violation is one mutation of it, on every pod-bearing kind.

use std::collections::BTreeMap;

use gitops_core::Object;
use gitops_core::crd::gateway_api::HttpRouteSpec;
use gitops_core::meta::SYNC_WAVE_ANNOTATION;
use gitops_core::profile::{EnvironmentProfile, Waiver};
use gitops_policy::{Environment, Finding, Policies, Report, Target, check, rules};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, HostPathVolumeSource, PodSpec, Secret, Volume};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pretty_assertions::assert_eq;
use workspace_tests::pins;

fn env_objects(env: &str) -> (EnvironmentProfile, Vec<Object>) {
    let profile = clinicflow::environments().into_iter().find(|p| p.name.as_str() == env).unwrap();
    let objects = gitops_core::render_environment(&clinicflow::platform(), &profile, &pins(env))
        .unwrap()
        .into_objects();
    (profile, objects)
}

fn run(profile: &EnvironmentProfile, objects: &[Object], policies: &Policies) -> Vec<Finding> {
    let targets = objects
        .iter()
        .map(|o| Target {
            file: format!("deploy/{}/{}", profile.name, gitops_tree::layout::file_name(o)),
            object: o,
        })
        .collect();
    check(&Environment { profile, targets, out_of_band: Vec::new() }, policies).unwrap()
}

fn find<'a>(objects: &'a mut [Object], kind: &str, name: &str) -> &'a mut Object {
    objects
        .iter_mut()
        .find(|o| o.kind() == kind && o.name() == name)
        .unwrap_or_else(|| panic!("{kind} {name}"))
}

fn pod<'a>(objects: &'a mut [Object], kind: &str, name: &str) -> &'a mut PodSpec {
    let spec = match find(objects, kind, name) {
        Object::Deployment(d) => &mut d.spec.as_mut().unwrap().template,
        Object::StatefulSet(s) => &mut s.spec.as_mut().unwrap().template,
        Object::Job(j) => &mut j.spec.as_mut().unwrap().template,
        Object::DaemonSet(d) => &mut d.spec.as_mut().unwrap().template,
        Object::CronJob(c) => &mut c.spec.as_mut().unwrap().job_template.spec.as_mut().unwrap().template,
        _ => panic!("not pod-bearing"),
    };
    spec.spec.as_mut().unwrap()
}

fn container<'a>(objects: &'a mut [Object], kind: &str, name: &str) -> &'a mut Container {
    &mut pod(objects, kind, name).containers[0]
}

/// `template` relabelled as the pods of `name`.
fn relabel(template: &mut k8s_openapi::api::core::v1::PodTemplateSpec, name: &str) {
    let labels = template.metadata.as_mut().unwrap().labels.as_mut().unwrap();
    labels.insert("app.kubernetes.io/name".into(), name.into());
}

/// A DaemonSet and a CronJob built from the web pod (with their own pod
/// labels), so that every pod-bearing kind is covered; the quota grows by
/// what the CronJob's pods ask, as the builders would grow it.
/// A clone of a workload has none of its NetworkPolicies: it keeps none of
/// the addresses the original's may reach.
fn without_addresses(template: &mut k8s_openapi::api::core::v1::PodTemplateSpec) {
    for c in &mut template.spec.as_mut().unwrap().containers {
        c.env.get_or_insert_with(Vec::new).retain(|e| !e.value.as_deref().is_some_and(|v| v.contains("://")));
    }
}

fn with_daemonset_and_cronjob(objects: &mut Vec<Object>) {
    let Some(Object::Deployment(web)) =
        objects.iter().find(|o| o.name() == "web" && o.kind() == "Deployment").cloned()
    else {
        panic!()
    };
    let spec = web.spec.clone().unwrap();
    let mut meta = web.metadata.clone();
    meta.name = Some("node-agent".into());
    let mut template = spec.template.clone();
    relabel(&mut template, "node-agent");
    without_addresses(&mut template);
    let mut selector = spec.selector.clone();
    selector.match_labels.as_mut().unwrap().insert("app.kubernetes.io/name".into(), "node-agent".into());
    objects.push(
        DaemonSet {
            metadata: meta.clone(),
            spec: Some(DaemonSetSpec { selector, template, ..Default::default() }),
            ..Default::default()
        }
        .into(),
    );
    meta.name = Some("nightly-report".into());
    let mut template = spec.template.clone();
    relabel(&mut template, "nightly-report");
    without_addresses(&mut template);
    template.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    objects.push(
        CronJob {
            metadata: meta,
            spec: Some(CronJobSpec {
                schedule: "0 3 * * *".into(),
                job_template: JobTemplateSpec {
                    metadata: None,
                    spec: Some(k8s_openapi::api::batch::v1::JobSpec { template, ..Default::default() }),
                },
                ..Default::default()
            }),
            ..Default::default()
        }
        .into(),
    );
    grow_quota(objects);
}

/// Raises the quota to what `objects` ask at their largest.
fn grow_quota(objects: &mut [Object]) {
    use gitops_core::build::admission::demand;
    use gitops_core::profile::{Compute, Cpu, Memory};
    let zero = Compute { cpu: Cpu(0), memory: Memory(0) };
    let d = demand(&objects.iter().collect::<Vec<_>>(), (zero, zero, 0));
    let Object::ResourceQuota(q) = find(objects, "ResourceQuota", "clinicflow") else { panic!() };
    let hard = q.spec.as_mut().unwrap().hard.as_mut().unwrap();
    hard.insert("pods".into(), Quantity(d.pods.to_string()));
    hard.insert("requests.cpu".into(), d.requests.cpu.quantity());
    hard.insert("limits.cpu".into(), d.limits.cpu.quantity());
    hard.insert("requests.memory".into(), d.requests.memory.quantity());
    hard.insert("limits.memory".into(), d.limits.memory.quantity());
}

type Mutation = fn(&mut Vec<Object>);

/// One violation per rule, each on the object kind named in the comment.
fn violations() -> Vec<(&'static str, &'static str, Mutation)> {
    vec![
        ("pod-security-context", "prod", |o| pod(o, "Deployment", "web").security_context = None),
        ("container-security-context", "dev", |o| {
            container(o, "DaemonSet", "node-agent").security_context = None
        }),
        ("resources", "dev", |o| {
            // An init container of the CronJob, without resources.
            let p = pod(o, "CronJob", "nightly-report");
            let mut init = p.containers[0].clone();
            init.name = "init".into();
            init.resources = None;
            p.init_containers = Some(vec![init]);
        }),
        ("image-pinned", "dev", |o| {
            container(o, "Job", "identity-migrate").image =
                Some("docker.io/bludivehub/clinicflow-identity:latest".into())
        }),
        ("no-privileged", "dev", |o| {
            container(o, "StatefulSet", "identity-db").security_context.as_mut().unwrap().privileged =
                Some(true)
        }),
        ("run-as-non-root", "dev", |o| {
            pod(o, "Deployment", "identity").security_context.as_mut().unwrap().run_as_user = Some(0)
        }),
        ("no-privilege-escalation", "dev", |o| {
            container(o, "CronJob", "nightly-report")
                .security_context
                .as_mut()
                .unwrap()
                .allow_privilege_escalation = Some(true)
        }),
        ("drop-all-capabilities", "dev", |o| {
            container(o, "Deployment", "web")
                .security_context
                .as_mut()
                .unwrap()
                .capabilities
                .as_mut()
                .unwrap()
                .add = Some(vec!["NET_ADMIN".into()])
        }),
        ("seccomp-runtime-default", "dev", |o| {
            pod(o, "DaemonSet", "node-agent")
                .security_context
                .as_mut()
                .unwrap()
                .seccomp_profile
                .as_mut()
                .unwrap()
                .type_ = "Unconfined".into()
        }),
        ("read-only-root-filesystem", "dev", |o| {
            container(o, "Deployment", "profiles")
                .security_context
                .as_mut()
                .unwrap()
                .read_only_root_filesystem = Some(false)
        }),
        ("no-host-namespaces", "dev", |o| pod(o, "DaemonSet", "node-agent").host_network = Some(true)),
        ("no-host-path", "dev", |o| {
            pod(o, "DaemonSet", "node-agent").volumes.get_or_insert_with(Vec::new).push(Volume {
                name: "host".into(),
                host_path: Some(HostPathVolumeSource { path: "/var/log".into(), type_: None }),
                ..Default::default()
            })
        }),
        ("compliance-label", "prod", |o| {
            find(o, "Service", "web").metadata_mut().labels.as_mut().unwrap().remove("compliance");
        }),
        ("no-localhost", "dev", |o| {
            let env = container(o, "Deployment", "web").env.as_mut().unwrap();
            env.iter_mut().find(|e| e.name == "IDENTITY_URL").unwrap().value =
                Some("http://localhost:3000".into());
        }),
        ("secret-env-from-secret", "dev", |o| {
            container(o, "Deployment", "notifications").env.as_mut().unwrap().push(EnvVar {
                name: "SMTP_PASSWORD".into(),
                value: Some("hunter2".into()),
                value_from: None,
            })
        }),
        ("no-secret-data", "dev", |o| {
            o.push(
                Secret {
                    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        name: Some("leaked".into()),
                        namespace: Some("clinicflow-dev".into()),
                        ..Default::default()
                    },
                    data: Some(BTreeMap::from([("password".into(), ByteString(b"hunter2".to_vec()))])),
                    ..Default::default()
                }
                .into(),
            )
        }),
        ("data-outlives-application", "prod", |o| {
            // A patch that sets the database's sync options and drops `Delete=false`.
            let db = find(o, "StatefulSet", "identity-db");
            db.metadata_mut()
                .annotations
                .get_or_insert_default()
                .insert(gitops_core::crd::argocd::SYNC_OPTIONS_ANNOTATION.into(), "Prune=false".into());
        }),
        ("service-selects-one-workload", "dev", |o| {
            let Object::Service(s) = find(o, "Service", "web") else { panic!() };
            s.spec
                .as_mut()
                .unwrap()
                .selector
                .as_mut()
                .unwrap()
                .insert("app.kubernetes.io/name".into(), "wbe".into());
        }),
        ("service-port-exists", "dev", |o| {
            let Object::Service(s) = find(o, "Service", "identity") else { panic!() };
            s.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port =
                Some(IntOrString::String("metrics".into()));
        }),
        ("ingress-backend-exists", "dev", |o| {
            let Object::Ingress(i) = find(o, "Ingress", "clinicflow") else { panic!() };
            let rule = &mut i.spec.as_mut().unwrap().rules.as_mut().unwrap()[0];
            rule.http.as_mut().unwrap().paths[0].backend.service.as_mut().unwrap().name = "nope".into();
        }),
        ("config-reference-exists", "dev", |o| {
            let env = container(o, "Deployment", "identity").env.as_mut().unwrap();
            let db = env.iter_mut().find(|e| e.name == "DATABASE_URL").unwrap();
            db.value_from.as_mut().unwrap().secret_key_ref.as_mut().unwrap().key = "DATABASE_URI".into();
        }),
        ("valid-names", "dev", |o| {
            find(o, "Deployment", "web")
                .metadata_mut()
                .labels
                .as_mut()
                .unwrap()
                .insert("team".into(), "x".repeat(64));
        }),
        ("unique-objects", "dev", |o| {
            let dup = find(o, "Service", "web").clone();
            o.push(dup);
        }),
        ("wave-order", "dev", |o| {
            // The migration after the service it migrates for.
            let annotations =
                find(o, "Job", "scheduling-migrate").metadata_mut().annotations.as_mut().unwrap();
            annotations.insert(SYNC_WAVE_ANNOTATION.into(), "3".into());
        }),
        ("service-account-exists", "dev", |o| {
            pod(o, "Deployment", "web").service_account_name = Some("wbe".into());
        }),
        ("probe-port-declared", "dev", |o| {
            let probe = container(o, "Deployment", "identity").readiness_probe.as_mut().unwrap();
            probe.http_get.as_mut().unwrap().port = IntOrString::String("metrics".into());
        }),
        ("grpc-probe-over-http", "dev", |o| {
            // The Service says its port speaks gRPC; the pods' HTTP probes ask it.
            let Object::Service(s) = find(o, "Service", "identity") else { panic!() };
            s.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].app_protocol = Some("grpc".into());
        }),
        ("shared-image-command", "dev", |o| {
            // A worker on the identity image that forgot its command.
            let Object::Deployment(mut worker) = find(o, "Deployment", "identity").clone() else { panic!() };
            worker.metadata.name = Some("identity-worker".into());
            let spec = worker.spec.as_mut().unwrap();
            relabel(&mut spec.template, "identity-worker");
            spec.selector
                .match_labels
                .as_mut()
                .unwrap()
                .insert("app.kubernetes.io/name".into(), "identity-worker".into());
            let c = &mut spec.template.spec.as_mut().unwrap().containers[0];
            (c.ports, c.startup_probe, c.readiness_probe, c.liveness_probe) = (None, None, None, None);
            o.push((*worker).into());
        }),
        ("quota-admits", "dev", |o| {
            let Object::ResourceQuota(q) = find(o, "ResourceQuota", "clinicflow") else { panic!() };
            q.spec.as_mut().unwrap().hard.as_mut().unwrap().insert("pods".into(), Quantity("3".into()));
        }),
        ("readiness-before-dependents", "dev", |o| {
            container(o, "StatefulSet", "profiles-db").readiness_probe = None
        }),
        // An address hard-coded in an argument, to a database only its
        // service may reach: the default deny blocks it.
        ("calls-allowed-by-network-policy", "dev", |o| {
            container(o, "Deployment", "web").args = Some(vec!["--audit-db=identity-db:5432".into()])
        }),
    ]
}

#[test]
fn every_built_in_rule_has_a_violating_fixture() {
    let covered: Vec<&str> = violations().iter().map(|(rule, _, _)| *rule).collect();
    let all: Vec<&str> = rules::ALL.iter().map(|r| r.id).collect();
    assert_eq!(covered, all, "one fixture per rule, in rule order");
}

#[test]
fn each_fixture_breaks_its_rule_and_the_baseline_passes_it() {
    for (rule, env, mutate) in violations() {
        let (profile, mut objects) = env_objects(env);
        with_daemonset_and_cronjob(&mut objects);
        let baseline = run(&profile, &objects, &Policies::none());
        assert!(baseline.iter().all(|f| f.rule != rule), "{rule}: the baseline must pass: {baseline:#?}");
        mutate(&mut objects);
        let findings = run(&profile, &objects, &Policies::none());
        let hits: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule).collect();
        assert!(!hits.is_empty(), "{rule}: the fixture must break it; got {findings:#?}");
        for f in hits {
            assert!(f.blocks(), "{rule} is an error");
            assert!(f.file.as_deref().is_none_or(|p| p.starts_with(&format!("deploy/{env}/"))), "{f:?}");
        }
    }
}

/// The HTTPRoute case of `ingress-backend-exists`: ClinicFlow's dev
/// environment routed through a Gateway passes, and a backendRef naming a
/// missing Service, or a port its Service does not have, breaks the rule.
#[test]
fn http_route_backends_are_checked_like_ingress_backends() {
    let (dev, _) = env_objects("dev");
    let profile = workspace_tests::via_gateway(dev);
    let objects = gitops_core::render_environment(&clinicflow::platform(), &profile, &pins("dev"))
        .unwrap()
        .into_objects();
    assert!(objects.iter().all(|o| o.kind() != "Ingress"));
    assert_eq!(run(&profile, &objects, &Policies::none()), [], "the baseline passes every rule");

    let broken = |mutate: fn(&mut HttpRouteSpec)| {
        let mut objects = objects.clone();
        let Object::HttpRoute(route) = find(&mut objects, "HTTPRoute", "clinicflow") else { panic!() };
        mutate(&mut route.spec);
        let findings = run(&profile, &objects, &Policies::none());
        let hits: Vec<(&str, &str, bool)> = findings
            .iter()
            .filter(|f| f.rule == "ingress-backend-exists")
            .map(|f| (f.file.as_deref().unwrap(), f.message.as_str(), f.blocks()))
            .collect();
        assert_eq!(hits.len(), 1, "{findings:#?}");
        assert_eq!(hits[0].0, "deploy/dev/httproute-clinicflow.yaml");
        assert!(hits[0].2, "an error");
        hits[0].1.to_owned()
    };
    let missing = broken(|spec| spec.rules[0].backend_refs[0].name = "nope".into());
    assert_eq!(missing, "a backend names Service `nope`, which the environment does not have");
    let port = broken(|spec| spec.rules[0].backend_refs[0].port = Some(8080));
    assert!(port.contains("names a port of Service"), "{port}");
    let no_port = broken(|spec| spec.rules[0].backend_refs[0].port = None);
    assert!(no_port.contains("names a port of Service"), "{no_port}");
}

#[test]
fn the_shipped_clinicflow_tree_has_no_findings() {
    let policies = Policies::load_dir(&workspace_tests::root(), "policies").unwrap();
    assert!(!policies.is_empty(), "BrainSAIT's policies ship in policies/");
    for env in ["dev", "staging", "prod"] {
        let (profile, objects) = env_objects(env);
        assert_eq!(run(&profile, &objects, &policies), [], "{env}");
    }
}

const SEED_POLICIES: &str = include_str!("../../policies/production-policies.rego");

#[test]
fn brainsaits_rego_policies_deny_what_they_describe() {
    let policies =
        Policies::from_sources(vec![("policies/production-policies.rego".into(), SEED_POLICIES.into())])
            .unwrap();
    let (profile, mut objects) = env_objects("dev");
    pod(&mut objects, "Deployment", "web").security_context = None;
    container(&mut objects, "Deployment", "identity").image =
        Some("docker.io/bludivehub/clinicflow-identity:latest".into());
    container(&mut objects, "Deployment", "profiles").resources.as_mut().unwrap().limits = None;
    let rego: Vec<(String, String)> = run(&profile, &objects, &policies)
        .into_iter()
        .filter(|f| f.rule == "rego/brainsait.production")
        .map(|f| (f.object.unwrap().name, f.message))
        .collect();
    let sorted = |mut v: Vec<(String, String)>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(rego),
        [
            (
                "identity".to_owned(),
                "Container identity cannot use :latest tag (policies/production-policies.rego)".to_owned()
            ),
            (
                "profiles".to_owned(),
                "Container profiles must define resource limits (policies/production-policies.rego)"
                    .to_owned()
            ),
            (
                "web".to_owned(),
                "Deployments must define securityContext (policies/production-policies.rego)".to_owned()
            ),
        ]
    );
}

#[test]
fn scoping_policies_to_the_kinds_they_deny_changes_no_finding() {
    let by_name = "package team.names\n\ndeny contains msg if {\n\tendswith(input.metadata.name, \"-db\")\n\tmsg := sprintf(\"%v %v ends in -db\", [input.kind, input.metadata.name])\n}\n";
    let services = "package team.services\n\ndeny contains msg if {\n\tinput.kind in {\"Service\", \"StatefulSet\"}\n\tinput.metadata.name == \"identity-db\"\n\tmsg := \"no identity-db\"\n}\n";
    let policies = Policies::from_sources(vec![
        ("policies/production-policies.rego".into(), SEED_POLICIES.into()),
        ("policies/names.rego".into(), by_name.into()),
        ("policies/services.rego".into(), services.into()),
    ])
    .unwrap();
    assert_eq!(
        policies.scopes(),
        [
            ("data.brainsait.production", Some(vec!["Deployment"])),
            ("data.team.names", None),
            ("data.team.services", Some(vec!["Service", "StatefulSet"])),
        ]
    );
    for env in ["dev", "staging", "prod"] {
        let (profile, mut objects) = env_objects(env);
        pod(&mut objects, "Deployment", "web").security_context = None;
        container(&mut objects, "Deployment", "profiles").resources.as_mut().unwrap().limits = None;
        let scoped = run(&profile, &objects, &policies);
        let everything = run(&profile, &objects, &policies.clone().without_scopes());
        assert_eq!(scoped, everything, "{env}");
        let count = |rule: &str| scoped.iter().filter(|f| f.rule == rule).count();
        // Each package found something, so the comparison compares findings.
        assert_eq!(count("rego/brainsait.production"), 2, "{env}");
        assert_eq!(count("rego/team.services"), 2, "{env}: the StatefulSet and its headless Service");
        assert!(count("rego/team.names") >= 8, "{env}: four databases, each a StatefulSet and a Service");
    }
}

#[test]
fn a_package_split_over_two_files_is_evaluated_once() {
    let a = "package team\n\ndeny contains \"no web\" if {\n\tinput.kind == \"Deployment\"\n\tinput.metadata.name == \"web\"\n}\n";
    let b = "package team\n\nweb_name := \"web\"\n";
    let policies = Policies::from_sources(vec![
        ("policies/a.rego".into(), a.into()),
        ("policies/b.rego".into(), b.into()),
    ])
    .unwrap();
    let (profile, objects) = env_objects("dev");
    let messages: Vec<String> = run(&profile, &objects, &policies).into_iter().map(|f| f.message).collect();
    assert_eq!(messages, ["no web (policies/a.rego, policies/b.rego)"]);
}

#[test]
fn rego_sees_the_environment_and_a_broken_policy_names_file_and_line() {
    let policy = "package team.rules\n\ndeny contains msg if {\n\tinput.kind == \"Ingress\"\n\tdata.environment.stage == \"production\"\n\tmsg := sprintf(\"%v: no public ingress in %v\", [input.metadata.name, data.environment.name])\n}\n";
    let policies = Policies::from_sources(vec![("policies/team.rego".into(), policy.into())]).unwrap();
    let (prod, objects) = env_objects("prod");
    let findings = run(&prod, &objects, &policies);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].message, "clinicflow: no public ingress in prod (policies/team.rego)");
    let (dev, objects) = env_objects("dev");
    assert_eq!(run(&dev, &objects, &policies), []);

    let broken = "package team.rules\n\ndeny[msg] {\n\tmsg := \"old syntax\"\n}\n";
    let err =
        Policies::from_sources(vec![("policies/old.rego".into(), broken.into())]).err().unwrap().to_string();
    assert!(err.contains("policies/old.rego:3:"), "{err}");
    assert!(err.contains("`if` keyword is required"), "{err}");
}

#[test]
fn waivers_accept_a_finding_keep_it_listed_and_catch_typos() {
    let (mut profile, mut objects) = env_objects("dev");
    container(&mut objects, "Deployment", "web")
        .security_context
        .as_mut()
        .unwrap()
        .read_only_root_filesystem = Some(false);
    profile.waivers = vec![
        Waiver {
            rule: "read-only-root-filesystem",
            kind: "Deployment",
            name: "web",
            container: Some("web"),
            field: None,
            reason: "Next.js writes its cache beside the app",
        },
        Waiver {
            rule: "no-such-rule",
            kind: "Deployment",
            name: "web",
            container: None,
            field: None,
            reason: "typo",
        },
        Waiver {
            rule: "no-host-path",
            kind: "Deployment",
            name: "web",
            container: None,
            field: None,
            reason: "stale",
        },
    ];
    let findings = run(&profile, &objects, &Policies::none());
    let waived = findings.iter().find(|f| f.rule == "read-only-root-filesystem").unwrap();
    assert_eq!(waived.waived.as_deref(), Some("Next.js writes its cache beside the app"));
    assert!(!waived.blocks());
    let waiver_findings: Vec<(&str, bool)> =
        findings.iter().filter(|f| f.rule == "waiver").map(|f| (f.message.as_str(), f.blocks())).collect();
    assert_eq!(waiver_findings.len(), 2);
    assert!(waiver_findings[0].0.contains("`no-such-rule`, which does not exist") && waiver_findings[0].1);
    assert!(waiver_findings[1].0.contains("matches no finding") && !waiver_findings[1].1);

    let report = Report { findings };
    assert_eq!(report.blocking(), 1);
    let text = report.to_text();
    assert!(text.contains("Deployment web (deploy/dev/deployment-web.yaml)"), "{text}");
    assert!(text.contains("waived  read-only-root-filesystem"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["blocking"], 1);
    let sarif: serde_json::Value = serde_json::from_str(&report.to_sarif("0.1.0")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let suppressed = results.iter().find(|r| r["ruleId"] == "read-only-root-filesystem").unwrap();
    assert_eq!(suppressed["suppressions"][0]["kind"], "external");
    assert_eq!(
        suppressed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "deploy/dev/deployment-web.yaml"
    );
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().len(), rules::ALL.len());
    // Code scanning shows each rule's fix as its help.
    let descriptor = &sarif["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(descriptor["id"], rules::ALL[0].id);
    assert_eq!(descriptor["help"]["text"], rules::ALL[0].fix);
}

/// Readiness is asked only of what a later wave waits on: a routed
/// Deployment (the Ingress in wave 4 waits for it), never a worker that
/// nothing routes to or connects to; and the sensitive-name rule tells a
/// duration from a secret.
#[test]
fn readiness_is_asked_of_what_later_waves_wait_on_and_names_about_secrets_pass() {
    let (profile, mut objects) = env_objects("dev");
    let Object::Deployment(mut worker) = find(&mut objects, "Deployment", "web").clone() else { panic!() };
    worker.metadata.name = Some("mailer".into());
    let spec = worker.spec.as_mut().unwrap();
    relabel(&mut spec.template, "mailer");
    without_addresses(&mut spec.template);
    spec.selector.match_labels.as_mut().unwrap().insert("app.kubernetes.io/name".into(), "mailer".into());
    let c = &mut spec.template.spec.as_mut().unwrap().containers[0];
    c.readiness_probe = None;
    c.command = Some(vec!["node".into(), "worker.js".into()]);
    c.env.get_or_insert_with(Vec::new).push(EnvVar {
        name: "ACCESS_TOKEN_EXPIRES_IN".into(),
        value: Some("15m".into()),
        value_from: None,
    });
    objects.push((*worker).into());
    grow_quota(&mut objects);
    let rules_hit = |objects: &[Object]| -> Vec<(String, String)> {
        run(&profile, objects, &Policies::none())
            .into_iter()
            .map(|f| (f.rule, f.object.map(|o| o.name).unwrap_or_default()))
            .collect()
    };
    assert_eq!(rules_hit(&objects), [], "a worker without readiness, and a token's lifetime in plain text");

    container(&mut objects, "Deployment", "web").readiness_probe = None;
    container(&mut objects, "Deployment", "mailer").env.as_mut().unwrap().push(EnvVar {
        name: "APP_SECRET".into(),
        value: Some("s3cr3t".into()),
        value_from: None,
    });
    assert_eq!(
        rules_hit(&objects),
        [
            ("secret-env-from-secret".to_owned(), "mailer".to_owned()),
            ("readiness-before-dependents".to_owned(), "web".to_owned()),
        ]
    );
}

/// A waiver names the container and the variable: waiving one plaintext
/// secret leaves a second in the same container blocking, and a waiver
/// that names only the object waives nothing a container-level rule finds.
#[test]
fn a_waiver_covers_one_variable_of_one_container_never_the_whole_object() {
    let (mut profile, mut objects) = env_objects("dev");
    let env = container(&mut objects, "Deployment", "notifications").env.as_mut().unwrap();
    for name in ["SMTP_PASSWORD", "SLACK_TOKEN"] {
        env.push(EnvVar { name: name.into(), value: Some("plain".into()), value_from: None });
    }
    let waiver = |container, field| Waiver {
        rule: "secret-env-from-secret",
        kind: "Deployment",
        name: "notifications",
        container,
        field,
        reason: "the relay takes no password in dev",
    };
    profile.waivers = vec![waiver(Some("notifications"), Some("SMTP_PASSWORD"))];
    let findings = run(&profile, &objects, &Policies::none());
    let secret: Vec<(&str, bool)> = findings
        .iter()
        .filter(|f| f.rule == "secret-env-from-secret")
        .map(|f| (f.field.as_deref().unwrap(), f.blocks()))
        .collect();
    assert_eq!(secret, [("SMTP_PASSWORD", false), ("SLACK_TOKEN", true)]);

    profile.waivers = vec![waiver(None, None)];
    let findings = run(&profile, &objects, &Policies::none());
    assert_eq!(findings.iter().filter(|f| f.rule == "secret-env-from-secret" && f.blocks()).count(), 2);
    let stale = findings.iter().find(|f| f.rule == "waiver").unwrap();
    assert!(stale.message.contains("name the container (and variable or field)"), "{}", stale.message);
}

/// A team's rule in Rust runs beside the built-in rules, through the
/// pipeline too; its findings are waived like theirs, and ids that would be
/// confused with others are refused.
#[test]
fn teams_add_rules_in_rust() {
    use gitops_policy::{CustomRule, Severity, Violation};
    fn team_label(env: &Environment) -> Vec<Violation> {
        env.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.object.kind() == "Deployment")
            .filter(|(_, t)| t.object.metadata().labels.as_ref().is_none_or(|l| !l.contains_key("team")))
            .map(|(i, t)| {
                let c = &t.object.pod_template().unwrap().spec.as_ref().unwrap().containers[0].name;
                Violation::on(i, "has no `team` label").in_container(c, None)
            })
            .collect()
    }
    const TEAM: CustomRule = CustomRule {
        id: "acme/team-label",
        severity: Severity::Error,
        summary: "Deployments name a team.",
        check: team_label,
    };
    let policies = Policies::none().with_rules(vec![TEAM]).unwrap();
    let (mut profile, objects) = env_objects("dev");
    let hits: Vec<String> =
        run(&profile, &objects, &policies).into_iter().map(|f| f.object.unwrap().name).collect();
    assert_eq!(hits, ["identity", "scheduling", "profiles", "notifications", "web"]);
    profile.waivers = vec![Waiver {
        rule: "acme/team-label",
        kind: "Deployment",
        name: "web",
        container: Some("web"),
        field: None,
        reason: "the web team labels it next sprint",
    }];
    let findings = run(&profile, &objects, &policies);
    assert_eq!(findings.iter().filter(|f| f.blocks()).count(), 4, "{findings:#?}");
    assert!(findings.iter().all(|f| f.rule != "waiver"), "the rule's id is known to waivers");

    for bad in ["resources", "rego/x", "Team-Label", "acme/", "waiver"] {
        let rule = CustomRule { id: bad, ..TEAM };
        let err = Policies::none().with_rules(vec![rule]).err().unwrap().to_string();
        assert!(err.contains("name it `<team>/<rule>`"), "{bad}: {err}");
    }
    assert!(Policies::none().with_rules(vec![TEAM, TEAM]).is_err(), "twice");

    // Through the pipeline: the minimal example with the rule is blocked.
    let root = workspace_tests::root().join("examples/minimal");
    let rules = [TEAM];
    let paths = gitops_tree::pipeline::Paths {
        root: &root,
        releases: "releases",
        policies: "policies",
        deploy: "deploy",
        rules: &rules,
    };
    let rendered = gitops_tree::pipeline::render_platform(
        &minimal_example::platform(),
        &[minimal_example::dev()],
        &paths,
    )
    .unwrap();
    assert_eq!(rendered.report.blocking(), 1);
    assert_eq!(rendered.report.findings[0].rule, "acme/team-label");
}
