//! The ClinicFlow tree: golden, deterministic, and every promise of ClinicFlow's GitOps README
//! checked on the typed objects.

use std::collections::{BTreeMap, BTreeSet};

use gitops_core::Object;
use gitops_core::crd::argocd::{HOOK_ANNOTATION, HOOK_DELETE_POLICY_ANNOTATION};
use gitops_core::meta::SyncWave;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pretty_assertions::assert_eq;
use workspace_tests::{clinicflow_objects, clinicflow_tree, pins, root, text};

const APIS: [&str; 4] = ["identity", "scheduling", "profiles", "notifications"];

/// A pod-bearing object: its kind, name, wave and pod template.
fn workloads(objects: &[Object]) -> Vec<(&str, &str, Option<SyncWave>, &PodTemplateSpec)> {
    objects
        .iter()
        .filter_map(|o| {
            let template = match o {
                Object::Deployment(d) => &d.spec.as_ref()?.template,
                Object::StatefulSet(s) => &s.spec.as_ref()?.template,
                Object::Job(j) => &j.spec.as_ref()?.template,
                _ => return None,
            };
            Some((o.kind(), o.name(), o.wave(), template))
        })
        .collect()
}

fn names_of<'a>(objects: &'a [Object], kind: &str) -> BTreeSet<&'a str> {
    objects.iter().filter(|o| o.kind() == kind).map(|o| o.name()).collect()
}

#[test]
fn committed_tree_is_what_the_sources_render() {
    let on_disk = gitops_tree::disk::read_tree(&root().join("deploy")).unwrap();
    let drift = gitops_tree::disk::compare(&clinicflow_tree(), &on_disk);
    assert_eq!(drift, [], "run `cargo xtask render` and commit deploy/");
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let (a, b) = (clinicflow_tree(), clinicflow_tree());
    assert_eq!(a, b);
    for (path, bytes) in a.files() {
        assert!(bytes.ends_with(b"\n") && !bytes.ends_with(b"\n\n"), "{path} must end in one newline");
    }
}

#[test]
fn each_environment_holds_clinicflows_objects() {
    for (profile, objects) in clinicflow_objects() {
        let env = profile.name.as_str();
        let ns = format!("clinicflow-{env}");
        assert_eq!(names_of(&objects, "Namespace"), BTreeSet::from([ns.as_str()]), "{env}");
        let dbs: BTreeSet<String> = APIS.iter().map(|s| format!("{s}-db")).collect();
        let dbs: BTreeSet<&str> = dbs.iter().map(String::as_str).collect();
        assert_eq!(names_of(&objects, "StatefulSet"), dbs, "{env}");
        let jobs: BTreeSet<String> = APIS.iter().map(|s| format!("{s}-migrate")).collect();
        assert_eq!(names_of(&objects, "Job"), jobs.iter().map(String::as_str).collect(), "{env}");
        let mut apps: BTreeSet<&str> = APIS.into_iter().collect();
        apps.insert("web");
        assert_eq!(names_of(&objects, "Deployment"), apps, "{env}");
        assert_eq!(names_of(&objects, "Service"), apps.union(&dbs).copied().collect(), "{env}");
        assert_eq!(names_of(&objects, "Ingress").len(), 1, "{env}");
        assert_eq!(names_of(&objects, "ExternalSecret").len(), 4, "{env}");
        assert!(names_of(&objects, "Secret").is_empty(), "{env}: no Secret object, ever");
        for o in &objects {
            // Cluster-scoped: the Namespace itself and the issuer the profile creates.
            if !matches!(o.kind(), "Namespace" | "ClusterIssuer") {
                assert_eq!(o.namespace(), Some(ns.as_str()), "{env}: {} {}", o.kind(), o.name());
            }
        }
    }
}

#[test]
fn waves_follow_clinicflows_readme_and_hooks_can_rerun() {
    for (profile, objects) in clinicflow_objects() {
        for o in &objects {
            let want = match o.kind() {
                // What must exist before any pod: namespace, secrets, identities,
                // network rules, quota, the issuer.
                "Namespace" | "ExternalSecret" | "ServiceAccount" | "NetworkPolicy" | "ResourceQuota"
                | "LimitRange" | "ClusterIssuer" => SyncWave::Foundation,
                "StatefulSet" => SyncWave::Database,
                "Service" if o.name().ends_with("-db") => SyncWave::Database,
                "Job" => SyncWave::Migration,
                "Deployment" | "Service" | "PodDisruptionBudget" | "HorizontalPodAutoscaler" => {
                    SyncWave::Application
                }
                "Ingress" => SyncWave::Ingress,
                other => panic!("unexpected kind {other}"),
            };
            assert_eq!(o.wave(), Some(want), "{}: {} {}", profile.name, o.kind(), o.name());
        }
        for o in objects.iter().filter(|o| o.kind() == "Job") {
            let Object::Job(job) = o else { unreachable!() };
            let a = job.metadata.annotations.as_ref().unwrap();
            assert_eq!(a[HOOK_ANNOTATION], "Sync", "a PreSync hook would run before the secrets exist");
            assert_eq!(a[HOOK_DELETE_POLICY_ANNOTATION], "BeforeHookCreation");
            assert_eq!(job.spec.as_ref().unwrap().ttl_seconds_after_finished, None);
        }
    }
}

#[test]
fn production_does_not_render_without_digests() {
    let prod = clinicflow::prod();
    let mut pins = pins("prod");
    let web = gitops_core::name!("web");
    pins.images.get_mut(&web).unwrap().digest = None;
    let err = gitops_core::render_environment(&clinicflow::platform(), &prod, &pins).unwrap_err().to_string();
    assert!(err.contains("environment `prod` requires image digests, and service `web` has none"), "{err}");
    assert!(err.contains("--digest sha256:"), "names the fix: {err}");
}

#[test]
fn every_container_runs_with_a_high_uid_and_gid() {
    for (profile, objects) in clinicflow_objects() {
        for (kind, name, _, template) in workloads(&objects) {
            let spec = template.spec.as_ref().unwrap();
            let pod = spec.security_context.as_ref().unwrap();
            for c in &spec.containers {
                let sc = c.security_context.as_ref();
                let uid = sc.and_then(|s| s.run_as_user).or(pod.run_as_user).unwrap();
                let gid = sc.and_then(|s| s.run_as_group).or(pod.run_as_group).unwrap();
                assert!(uid >= 10000 && gid >= 10000, "{}: {kind} {name}: {uid}:{gid}", profile.name);
            }
        }
    }
}

#[test]
fn migrations_use_the_release_image_and_prisma() {
    for (profile, objects) in clinicflow_objects() {
        let pins = pins(profile.name.as_str());
        for svc in APIS {
            // `repo:tag`, or `repo:tag@digest` where the release pins one.
            let pin = pins.images.iter().find(|(n, _)| n.as_str() == svc).unwrap().1;
            let image = format!("docker.io/bludivehub/clinicflow-{svc}:{pin}");
            assert!(pin.digest.is_some() || !profile.require_digests, "{}: {svc}", profile.name);
            let all = workloads(&objects);
            let job = all.iter().find(|w| w.1 == format!("{svc}-migrate")).unwrap();
            let deploy = all.iter().find(|w| w.0 == "Deployment" && w.1 == svc).unwrap();
            let job_c = &job.3.spec.as_ref().unwrap().containers[0];
            assert_eq!(job_c.image.as_deref(), Some(image.as_str()));
            assert_eq!(deploy.3.spec.as_ref().unwrap().containers[0].image.as_deref(), Some(image.as_str()));
            assert_eq!(job_c.command.as_deref().unwrap(), ["npx", "prisma", "migrate", "deploy"]);
        }
    }
}

#[test]
fn every_service_selects_exactly_one_workload_on_a_real_port() {
    for (profile, objects) in clinicflow_objects() {
        let all = workloads(&objects);
        for o in &objects {
            let Object::Service(svc) = o else { continue };
            let spec = svc.spec.as_ref().unwrap();
            let selector = spec.selector.as_ref().unwrap();
            let matching: Vec<_> = all
                .iter()
                .filter(|w| {
                    let labels = w.3.metadata.as_ref().unwrap().labels.as_ref().unwrap();
                    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
                })
                .collect();
            assert_eq!(matching.len(), 1, "{}: Service {} selects {matching:?}", profile.name, o.name());
            let ports: Vec<_> = matching[0].3.spec.as_ref().unwrap().containers[0]
                .ports
                .iter()
                .flatten()
                .filter_map(|p| p.name.clone())
                .collect();
            for p in spec.ports.as_ref().unwrap() {
                let k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(target) =
                    p.target_port.as_ref().unwrap()
                else {
                    panic!("target ports are named")
                };
                assert!(ports.contains(target), "{}: {} targets {target}", profile.name, o.name());
            }
        }
    }
}

#[test]
fn every_ingress_route_reaches_a_service_port() {
    for (profile, objects) in clinicflow_objects() {
        let services: BTreeMap<&str, Vec<String>> = objects
            .iter()
            .filter_map(|o| match o {
                Object::Service(s) => Some((
                    o.name(),
                    s.spec.as_ref()?.ports.iter().flatten().filter_map(|p| p.name.clone()).collect(),
                )),
                _ => None,
            })
            .collect();
        let Some(Object::Ingress(ing)) = objects.iter().find(|o| o.kind() == "Ingress") else { panic!() };
        let spec = ing.spec.as_ref().unwrap();
        assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
        let host = format!("clinicflow-{}.", profile.name);
        let rule = &spec.rules.as_ref().unwrap()[0];
        assert!(
            rule.host.as_ref().unwrap().starts_with(&host)
                && rule.host.as_ref().unwrap().ends_with(".nip.io")
        );
        let tls = &spec.tls.as_ref().unwrap()[0];
        assert_eq!(tls.hosts.as_ref().unwrap(), &[rule.host.clone().unwrap()]);
        assert!(tls.secret_name.is_some());
        let annotations = ing.metadata.annotations.as_ref().unwrap();
        assert!(annotations.contains_key("cert-manager.io/cluster-issuer"));
        let mut paths = BTreeSet::new();
        for p in &rule.http.as_ref().unwrap().paths {
            let backend = p.backend.service.as_ref().unwrap();
            let port = backend.port.as_ref().unwrap().name.clone().unwrap();
            assert!(services.get(backend.name.as_str()).is_some_and(|ports| ports.contains(&port)));
            paths.insert(p.path.clone().unwrap());
        }
        let mut want = BTreeSet::from(["/", "/identity", "/scheduling", "/profiles"].map(String::from));
        if profile.name.as_str() != "prod" {
            want.insert("/notifications".into());
        }
        assert_eq!(paths, want, "{}", profile.name);
    }
}

#[test]
fn every_secret_reference_resolves_to_an_earlier_external_secret_key() {
    for (profile, objects) in clinicflow_objects() {
        let mut keys: BTreeMap<&str, (Vec<&str>, Option<SyncWave>)> = BTreeMap::new();
        for o in &objects {
            if let Object::ExternalSecret(es) = o {
                keys.insert(es.spec.target.name.as_str(), (es.spec.target_keys(), o.wave()));
            }
        }
        for (kind, name, wave, template) in workloads(&objects) {
            let spec = template.spec.as_ref().unwrap();
            let mut refs = Vec::new();
            for c in &spec.containers {
                for e in c.env.iter().flatten() {
                    if let Some(r) = e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
                        refs.push((r.name.clone(), r.key.clone()));
                    }
                }
            }
            for v in spec.volumes.iter().flatten() {
                if let Some(s) = &v.secret {
                    for item in s.items.iter().flatten() {
                        refs.push((s.secret_name.clone().unwrap(), item.key.clone()));
                    }
                }
            }
            for (secret, key) in refs {
                let (target_keys, secret_wave) = keys.get(secret.as_str()).unwrap_or_else(|| {
                    panic!("{}: {kind} {name} reads unknown secret {secret}", profile.name)
                });
                assert!(target_keys.contains(&key.as_str()), "{kind} {name}: {secret} has no key {key}");
                assert!(secret_wave < &wave, "{kind} {name} must start after {secret}");
            }
        }
    }
}

#[test]
fn workloads_are_secure_sized_and_probed() {
    for (profile, objects) in clinicflow_objects() {
        for (kind, name, _, template) in workloads(&objects) {
            let spec = template.spec.as_ref().unwrap();
            let what = format!("{}: {kind} {name}", profile.name);
            assert_eq!(spec.automount_service_account_token, Some(false), "{what}");
            let psc = spec.security_context.as_ref().unwrap();
            assert_eq!(psc.run_as_non_root, Some(true), "{what}");
            assert!(psc.run_as_user.unwrap() >= 10000, "{what}");
            assert_eq!(psc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault", "{what}");
            for c in &spec.containers {
                let sc = c.security_context.as_ref().unwrap();
                assert_eq!(sc.allow_privilege_escalation, Some(false), "{what}");
                assert_eq!(sc.read_only_root_filesystem, Some(true), "{what}");
                assert_eq!(sc.capabilities.as_ref().unwrap().drop.as_deref(), Some(&["ALL".to_owned()][..]));
                let r = c.resources.as_ref().unwrap();
                for map in [r.requests.as_ref().unwrap(), r.limits.as_ref().unwrap()] {
                    assert!(map.contains_key("cpu") && map.contains_key("memory"), "{what}");
                }
                let image = c.image.as_deref().unwrap();
                assert!(!image.ends_with(":latest") && image.rsplit_once(':').is_some(), "{what}: {image}");
                if kind != "Job" {
                    let (ready, live) =
                        (c.readiness_probe.as_ref().unwrap(), c.liveness_probe.as_ref().unwrap());
                    // Liveness asks only whether the container still listens on
                    // its own port, never the health check readiness uses (which
                    // may follow dependencies), so the two are never the same
                    // probe (kube-score's "same readiness and liveness probe").
                    let port = live.tcp_socket.as_ref().map(|t| &t.port);
                    let named = c.ports.iter().flatten().find_map(|p| p.name.as_ref());
                    assert_eq!(port, named.map(|n| IntOrString::String(n.clone())).as_ref(), "{what}");
                    assert!(ready.tcp_socket.is_none() && live.http_get.is_none() && live.exec.is_none());
                    assert!(ready.http_get.is_some() || ready.exec.is_some(), "{what}");
                }
                for e in c.env.iter().flatten() {
                    let v = e.value.as_deref().unwrap_or("");
                    assert!(!v.contains("localhost") && !v.contains("127.0.0.1"), "{what}: {}={v}", e.name);
                    let sensitive = ["PASSWORD", "SECRET", "TOKEN"].iter().any(|s| e.name.contains(s));
                    assert!(
                        !sensitive || e.name.ends_with("_FILE") || e.value.is_none(),
                        "{what}: {}",
                        e.name
                    );
                }
            }
        }
    }
}

#[test]
fn databases_use_the_environments_storage_and_a_real_readiness_check() {
    for (profile, objects) in clinicflow_objects() {
        for o in &objects {
            let Object::StatefulSet(sts) = o else { continue };
            let spec = sts.spec.as_ref().unwrap();
            let pvc = &spec.volume_claim_templates.as_ref().unwrap()[0];
            let class = pvc.spec.as_ref().unwrap().storage_class_name.as_deref();
            assert_eq!(class, Some(format!("nfs-{}", profile.name).as_str()));
            let c = &spec.template.spec.as_ref().unwrap().containers[0];
            assert_eq!(
                c.image.as_deref(),
                Some(
                    "docker.io/library/postgres:17.6@sha256:00bc86618629af00d2937fdc5a5d63db3ff8450acf52f0636ec813c7f4902929"
                ),
                "pinned by version and digest"
            );
            let env: BTreeMap<_, _> = c.env.iter().flatten().map(|e| (e.name.as_str(), e)).collect();
            let pgdata = env["PGDATA"].value.as_deref().unwrap();
            let mount = &c.volume_mounts.as_ref().unwrap()[0];
            assert!(pgdata.starts_with(&format!("{}/", mount.mount_path)), "PGDATA below the volume root");
            let probe = c.readiness_probe.as_ref().unwrap().exec.as_ref().unwrap().command.as_ref().unwrap();
            assert!(probe.join(" ").contains("pg_isready --host=127.0.0.1"), "{probe:?}");
        }
    }
}

#[test]
fn kustomizations_list_every_file_of_their_directory() {
    let tree = clinicflow_tree();
    let dirs: BTreeSet<&str> = tree.paths().filter_map(|p| p.strip_suffix("/kustomization.yaml")).collect();
    assert!(
        dirs.contains("dev") && dirs.contains("argocd/prod/apps") && dirs.contains("argocd/prod/bootstrap")
    );
    for dir in dirs {
        let prefix = format!("{dir}/");
        let files: Vec<&str> = tree
            .paths()
            .filter_map(|p| p.strip_prefix(&prefix))
            // Only objects are resources: the environment's README.md is for people.
            .filter(|f| *f != "kustomization.yaml" && f.ends_with(".yaml") && !f.contains('/'))
            .collect();
        let text = text(&tree, &format!("{dir}/kustomization.yaml"));
        let listed: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("- ")).collect();
        assert_eq!(listed, files, "{dir}");
    }
}
