//! The built-in rules. Each is a small function with an id, a severity and
//! a message that tells the user what to change; pod rules apply to every
//! pod-bearing kind (Deployment, StatefulSet, DaemonSet, Job, CronJob) and
//! to init containers as well as containers.

use gitops_core::meta::LABEL_COMPLIANCE;
use gitops_core::profile::Stage;
use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext};

use crate::{Environment, Severity, Sink, audit, runs};

/// A built-in rule.
pub struct Rule {
    /// The rule's id in findings, waivers and SARIF (`pod-security-context`).
    pub id: &'static str,
    /// How bad a finding is; every built-in rule is an [`Severity::Error`].
    pub severity: Severity,
    /// What the rule requires, in one sentence.
    pub summary: &'static str,
    /// What to change when the rule finds something, in one or two sentences.
    pub fix: &'static str,
    /// Objects (YAML, `---` between documents) the rule finds something in.
    /// `docs/rules.md` shows them, and a test checks they fail the rule.
    pub failing: &'static str,
    /// The same objects changed as [`Rule::fix`] says, which pass the rule.
    pub passing: &'static str,
    /// The check itself, over one environment's objects.
    pub check: fn(&Rule, &Environment, &mut Sink),
}

/// A built-in rule, with its examples from `rules/examples/<id>.{fail,pass}.yaml`.
macro_rules! rule {
    ($id:literal, $summary:literal, $check:path, $fix:literal) => {
        Rule {
            id: $id,
            severity: Severity::Error,
            summary: $summary,
            fix: $fix,
            failing: include_str!(concat!("rules/examples/", $id, ".fail.yaml")),
            passing: include_str!(concat!("rules/examples/", $id, ".pass.yaml")),
            check: $check,
        }
    };
}

/// Every built-in rule, in report order.
pub static ALL: &[Rule] = &[
    rule!(
        "pod-security-context",
        "Every pod spec sets a securityContext.",
        pod_security_context,
        "Set `spec.template.spec.securityContext` with `runAsNonRoot: true`, a non-zero `runAsUser` and `seccompProfile: {type: RuntimeDefault}` (the builders do; check a patch or an added object)."
    ),
    rule!(
        "container-security-context",
        "Every container sets a securityContext.",
        container_security_context,
        "Give every container a `securityContext` (`allowPrivilegeEscalation: false`, `readOnlyRootFilesystem: true`, `capabilities: {drop: [ALL]}`)."
    ),
    rule!(
        "resources",
        "Every container, init containers too, has cpu and memory requests and limits.",
        resources,
        "Set `resources.requests` and `resources.limits` for `cpu` and `memory` on every container, init containers too (the profile's sizing, or `Service::resources`)."
    ),
    rule!(
        "image-pinned",
        "Every image names a tag or digest, and the tag is not `latest`.",
        image_pinned,
        "Pin a tag (`sha-<commit>` by the platform's tag rule) or a digest; never `latest` or no tag."
    ),
    rule!(
        "no-privileged",
        "No container runs privileged.",
        no_privileged,
        "Remove `privileged: true`; grant the one capability the program needs instead, if any."
    ),
    rule!(
        "run-as-non-root",
        "Every container runs as a non-root user (runAsNonRoot, runAsUser not 0).",
        run_as_non_root,
        "Set `runAsNonRoot: true` and a non-zero `runAsUser` (the image's user, e.g. 10001)."
    ),
    rule!(
        "no-privilege-escalation",
        "Every container sets allowPrivilegeEscalation: false.",
        no_privilege_escalation,
        "Set `allowPrivilegeEscalation: false` in the container's securityContext."
    ),
    rule!(
        "drop-all-capabilities",
        "Every container drops ALL capabilities and adds none but NET_BIND_SERVICE.",
        drop_all_capabilities,
        "Set `capabilities: {drop: [ALL]}`; add back only `NET_BIND_SERVICE`, and only to bind a port below 1024."
    ),
    rule!(
        "seccomp-runtime-default",
        "Every container runs with the RuntimeDefault (or a Localhost) seccomp profile.",
        seccomp,
        "Set `seccompProfile: {type: RuntimeDefault}` on the pod or the container (or `Localhost` with a profile the nodes have)."
    ),
    rule!(
        "read-only-root-filesystem",
        "Every container has a read-only root filesystem.",
        read_only_root_filesystem,
        "Set `readOnlyRootFilesystem: true` and mount an `emptyDir` where the program writes (`/tmp`, caches)."
    ),
    rule!(
        "no-host-namespaces",
        "No pod shares the host's network, PID or IPC namespace.",
        no_host_namespaces,
        "Remove `hostNetwork`, `hostPID` and `hostIPC`; reach the node through a Service or a DaemonSet built for it."
    ),
    rule!(
        "no-host-path",
        "No pod mounts a hostPath volume.",
        no_host_path,
        "Use a PersistentVolumeClaim for data that must last, an `emptyDir` for scratch space."
    ),
    rule!(
        "compliance-label",
        "Production objects carry the `compliance` label with the value the profile names.",
        compliance_label,
        "Set `compliance` in the production profile; the builders label every object with it (an added object needs the label too)."
    ),
    rule!(
        "no-localhost",
        "No environment value, argument or config value points at localhost.",
        no_localhost,
        "Address another service by its cluster DNS name (`<service>.<namespace>.svc.cluster.local`, or the short `<service>`); localhost is the pod itself."
    ),
    rule!(
        "secret-env-from-secret",
        "A variable whose name says it is sensitive comes from a secretKeyRef.",
        secret_env_from_secret,
        "Read the value from a Secret (`valueFrom.secretKeyRef`, delivered by an ExternalSecret or SealedSecret), or rename a variable that is not secret."
    ),
    rule!(
        "no-secret-data",
        "No Secret with data or stringData is rendered; use an ExternalSecret or SealedSecret.",
        no_secret_data,
        "Deliver the Secret with an ExternalSecret (from the secret store) or a SealedSecret (`seal`); Git never holds the value."
    ),
    rule!(
        "data-outlives-application",
        "A Namespace, a StatefulSet with claims and a PersistentVolumeClaim are kept when their Argo CD Application is deleted.",
        data_outlives_application,
        "Add `Delete=false` to the object's `argocd.argoproj.io/sync-options` annotation (comma-separated with any other option); the builders do for the Namespace and every StatefulSet with claims."
    ),
    rule!(
        "service-selects-one-workload",
        "Every Service selects the pods of exactly one workload.",
        audit::service_selects_one_workload,
        "Make the Service's selector match the labels of exactly one workload's pod template."
    ),
    rule!(
        "service-port-exists",
        "Every Service port targets a port its pods expose.",
        audit::service_port_exists,
        "Point `targetPort` at a port the selected pods declare, by name or number."
    ),
    rule!(
        "ingress-backend-exists",
        "Every Ingress backend and HTTPRoute backendRef names a Service of the environment and one of its ports.",
        audit::ingress_backend_exists,
        "Name a Service of the environment and one of its ports (by number or name) in every backend."
    ),
    rule!(
        "config-reference-exists",
        "Every Secret and ConfigMap a pod reads is produced in the environment, with the key it reads.",
        audit::config_reference_exists,
        "Produce the Secret or ConfigMap in the environment with the key the pod reads, or declare it as created out of band."
    ),
    rule!(
        "valid-names",
        "Names are valid DNS names; label keys and values are valid and at most 63 characters.",
        audit::valid_names,
        "Use lowercase DNS names (`a-z`, `0-9`, `-`, at most 63 characters for labels, 253 for names)."
    ),
    rule!(
        "unique-objects",
        "No two objects share kind, namespace and name.",
        audit::unique_objects,
        "Rename one of the objects, or drop the duplicate (an escape hatch adding what a builder already makes)."
    ),
    rule!(
        "wave-order",
        "What an object needs (namespace, secrets, database, migration) comes in an earlier sync wave.",
        audit::wave_order,
        "Put the Namespace, the Secrets and ConfigMaps a pod reads and the databases it connects to in earlier sync waves than the pod."
    ),
    rule!(
        "service-account-exists",
        "Every pod runs as a ServiceAccount of the environment (or `default`).",
        runs::service_account_exists,
        "Render the ServiceAccount the pod names (the builders make one per workload), or leave `serviceAccountName` unset."
    ),
    rule!(
        "probe-port-declared",
        "Every httpGet, tcpSocket and grpc probe asks a port its container declares.",
        runs::probe_port_declared,
        "Probe a port the container declares in `ports`, by name or number."
    ),
    rule!(
        "grpc-probe-over-http",
        "No HTTP probe asks a gRPC port (named `grpc`/`grpc-…`, or behind a Service port with appProtocol grpc).",
        runs::grpc_probe_over_http,
        "Probe a gRPC port with a `grpc` probe (the gRPC health checking protocol), or with `grpc_health_probe` in an exec probe."
    ),
    rule!(
        "shared-image-command",
        "A container without ports that runs another workload's server image sets its own command or args.",
        runs::shared_image_command,
        "Set the command (or args) the second workload runs, e.g. its queue consumer's entry point."
    ),
    rule!(
        "quota-admits",
        "The ResourceQuota holds every pod and claim at their largest, and the LimitRange admits the largest container and claim.",
        runs::quota_admits,
        "Raise the ResourceQuota's `hard` values (or the LimitRange's `max`) to what every replica and surge pod and every claim asks, or lower the sizing."
    ),
    rule!(
        "readiness-before-dependents",
        "A workload that later waves wait on has a readiness probe on every container.",
        audit::readiness_before_dependents,
        "Give every container of a workload that later waves wait on a readiness probe that passes only when it serves."
    ),
    rule!(
        "calls-allowed-by-network-policy",
        "A container that names a Service of its namespace may reach its pods through the NetworkPolicies.",
        audit::calls_allowed_by_network_policy,
        "Declare the call on the service (`.calls(...)`, which writes the NetworkPolicies), or allow the traffic; an address hard-coded in arguments or values is otherwise blocked by the default deny."
    ),
];

/// Looks a rule up by id.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.id == id)
}

/// The rules reference, `docs/rules.md`: every rule of `rules` with its id,
/// severity, summary, fix and examples, in the order given. A test keeps
/// the committed file equal to `reference(ALL)`.
pub fn reference(rules: &[Rule]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "<!-- Generated from gitops_policy::rules::ALL by `UPDATE_DOCS=1 cargo test -p workspace-tests --test rules_reference`; do not edit. -->\n\
         # Built-in rules\n\n\
         Every render, `render --check` and `check` runs these rules over every object of every\n\
         environment, beside the team's Rego policies (`policies/*.rego`, findings `rego/<package>`)\n\
         and its rules in Rust (`gitops_policy::CustomRule`). A finding of severity `error` stops the\n\
         render before anything is written, unless the environment's profile waives it\n\
         (`Waiver { rule, kind, name, container, field, reason }`); `check --format json` lists the\n\
         same rules. Each example below is checked by a test: the first snippet fails the rule, the\n\
         second passes it (other rules may still have something to say about either), in a production\n\
         environment whose namespace is `shop` and whose profile's compliance label is `hipaa`.\n\n\
         | rule | requires |\n|---|---|\n",
    );
    for rule in rules {
        let _ = writeln!(out, "| [`{}`](#{}) | {} |", rule.id, rule.id, rule.summary.replace('|', "\\|"));
    }
    for rule in rules {
        let severity = match rule.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = write!(
            out,
            "\n## {id}\n\n{summary}\n\n- id: `{id}`\n- severity: {severity}\n- fix: {fix}\n\n\
             Fails:\n\n```yaml\n{failing}```\n\nPasses:\n\n```yaml\n{passing}```\n",
            id = rule.id,
            summary = rule.summary,
            fix = rule.fix,
            failing = rule.failing,
            passing = rule.passing,
        );
    }
    out
}

/// Every pod-bearing target: its index and pod spec.
pub(crate) fn pods<'e>(env: &'e Environment) -> impl Iterator<Item = (usize, &'e PodSpec)> {
    env.targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.object.pod_template().and_then(|p| p.spec.as_ref()).map(|spec| (i, spec)))
}

/// Init containers, then containers.
pub(crate) fn containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.init_containers.iter().flatten().chain(spec.containers.iter())
}

/// Reports, for each container that fails `ok`, `message(container)`.
fn each_container(
    rule: &Rule,
    env: &Environment,
    sink: &mut Sink,
    ok: impl Fn(&PodSpec, &Container) -> bool,
    message: impl Fn(&Container) -> String,
) {
    for (i, spec) in pods(env) {
        for c in containers(spec) {
            if !ok(spec, c) {
                sink.report_in(rule, i, &c.name, None, message(c));
            }
        }
    }
}

fn sc(c: &Container) -> Option<&SecurityContext> {
    c.security_context.as_ref()
}

fn pod_security_context(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, spec) in pods(env) {
        if spec.security_context.is_none() {
            sink.report(rule, i, "the pod has no securityContext; set runAsNonRoot, runAsUser and seccompProfile in spec.template.spec.securityContext".into());
        }
    }
}

fn container_security_context(rule: &Rule, env: &Environment, sink: &mut Sink) {
    each_container(
        rule,
        env,
        sink,
        |_, c| sc(c).is_some(),
        |c| {
            format!(
                "container `{}` has no securityContext; set allowPrivilegeEscalation, capabilities and readOnlyRootFilesystem",
                c.name
            )
        },
    );
}

fn resources(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, spec) in pods(env) {
        for c in containers(spec) {
            let r = c.resources.as_ref();
            let mut missing = Vec::new();
            for (what, map) in [
                ("requests", r.and_then(|r| r.requests.as_ref())),
                ("limits", r.and_then(|r| r.limits.as_ref())),
            ] {
                for resource in ["cpu", "memory"] {
                    if !map.is_some_and(|m| m.contains_key(resource)) {
                        missing.push(format!("{what}.{resource}"));
                    }
                }
            }
            if !missing.is_empty() {
                sink.report_in(
                    rule,
                    i,
                    &c.name,
                    None,
                    format!(
                        "container `{}` has no {}; size it in the environment profile",
                        c.name,
                        missing.join(", ")
                    ),
                );
            }
        }
    }
}

/// The tag of an image reference, `None` when it has none; `Some("@")` for a digest.
fn image_tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return Some("@");
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, tag)| tag)
}

fn image_pinned(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, spec) in pods(env) {
        for c in containers(spec) {
            let image = c.image.as_deref().unwrap_or("");
            let problem = match image_tag(image) {
                _ if image.is_empty() => Some("has no image"),
                None => Some("has an untagged image, which means `latest`"),
                Some(tag) if tag == "latest" || tag.ends_with("-latest") => {
                    Some("uses a floating `latest` tag")
                }
                Some(_) => None,
            };
            if let Some(problem) = problem {
                sink.report_in(
                    rule,
                    i,
                    &c.name,
                    None,
                    format!(
                        "container `{}` {problem} (`{image}`); pin an immutable tag such as `sha-1a2b3c4`",
                        c.name
                    ),
                );
            }
        }
    }
}

fn no_privileged(rule: &Rule, env: &Environment, sink: &mut Sink) {
    each_container(
        rule,
        env,
        sink,
        |_, c| sc(c).and_then(|s| s.privileged) != Some(true),
        |c| format!("container `{}` is privileged; remove `privileged: true`", c.name),
    );
}

fn run_as_non_root(rule: &Rule, env: &Environment, sink: &mut Sink) {
    each_container(
        rule,
        env,
        sink,
        |spec, c| {
            let pod = spec.security_context.as_ref();
            let non_root = sc(c).and_then(|s| s.run_as_non_root).or(pod.and_then(|p| p.run_as_non_root));
            let user = sc(c).and_then(|s| s.run_as_user).or(pod.and_then(|p| p.run_as_user));
            non_root == Some(true) && user != Some(0)
        },
        |c| {
            format!("container `{}` may run as root; set runAsNonRoot: true and a non-zero runAsUser", c.name)
        },
    );
}

fn no_privilege_escalation(rule: &Rule, env: &Environment, sink: &mut Sink) {
    each_container(
        rule,
        env,
        sink,
        |_, c| sc(c).and_then(|s| s.allow_privilege_escalation) == Some(false),
        |c| format!("container `{}` may escalate privileges; set allowPrivilegeEscalation: false", c.name),
    );
}

fn drop_all_capabilities(rule: &Rule, env: &Environment, sink: &mut Sink) {
    each_container(
        rule,
        env,
        sink,
        |_, c| {
            let caps = sc(c).and_then(|s| s.capabilities.as_ref());
            let drops_all = caps.and_then(|c| c.drop.as_ref()).is_some_and(|d| d.iter().any(|x| x == "ALL"));
            let adds_only_bind =
                caps.and_then(|c| c.add.as_ref()).is_none_or(|a| a.iter().all(|x| x == "NET_BIND_SERVICE"));
            drops_all && adds_only_bind
        },
        |c| {
            format!(
                "container `{}` keeps capabilities; set capabilities.drop: [ALL] and add at most NET_BIND_SERVICE",
                c.name
            )
        },
    );
}

fn seccomp(rule: &Rule, env: &Environment, sink: &mut Sink) {
    each_container(
        rule,
        env,
        sink,
        |spec, c| {
            let pod = spec.security_context.as_ref().and_then(|p| p.seccomp_profile.as_ref());
            let profile = sc(c).and_then(|s| s.seccomp_profile.as_ref()).or(pod);
            profile.is_some_and(|p| p.type_ == "RuntimeDefault" || p.type_ == "Localhost")
        },
        |c| {
            format!(
                "container `{}` runs without a seccomp profile; set seccompProfile.type: RuntimeDefault",
                c.name
            )
        },
    );
}

fn read_only_root_filesystem(rule: &Rule, env: &Environment, sink: &mut Sink) {
    each_container(
        rule,
        env,
        sink,
        |_, c| sc(c).and_then(|s| s.read_only_root_filesystem) == Some(true),
        |c| {
            format!(
                "container `{}` can write its root filesystem; set readOnlyRootFilesystem: true and mount an emptyDir where it writes",
                c.name
            )
        },
    );
}

fn no_host_namespaces(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, spec) in pods(env) {
        for (what, on) in
            [("hostNetwork", spec.host_network), ("hostPID", spec.host_pid), ("hostIPC", spec.host_ipc)]
        {
            if on == Some(true) {
                sink.report(rule, i, format!("the pod sets {what}: true; remove it"));
            }
        }
    }
}

fn no_host_path(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, spec) in pods(env) {
        for v in spec.volumes.iter().flatten().filter(|v| v.host_path.is_some()) {
            sink.report(
                rule,
                i,
                format!("volume `{}` is a hostPath; use a PersistentVolumeClaim or an emptyDir", v.name),
            );
        }
    }
}

fn compliance_label(rule: &Rule, env: &Environment, sink: &mut Sink) {
    if env.profile.stage != Stage::Production {
        return;
    }
    let Some(want) = env.profile.compliance.as_ref() else {
        sink.push(
            rule.id.into(),
            rule.severity,
            None,
            "the production profile names no compliance label value; set `compliance` in the profile".into(),
        );
        return;
    };
    for (i, t) in env.targets.iter().enumerate() {
        let found = t.object.metadata().labels.as_ref().and_then(|l| l.get(LABEL_COMPLIANCE));
        if found.map(String::as_str) != Some(want.as_str()) {
            sink.report(
                rule,
                i,
                format!("has {LABEL_COMPLIANCE}={found:?}, production requires `{LABEL_COMPLIANCE}: {want}`"),
            );
        }
    }
}

const LOCALHOST: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

fn no_localhost(rule: &Rule, env: &Environment, sink: &mut Sink) {
    let points_home = |v: &str| LOCALHOST.iter().any(|l| v.contains(l));
    for (i, spec) in pods(env) {
        for c in containers(spec) {
            for e in c.env.iter().flatten() {
                if e.value.as_deref().is_some_and(points_home) {
                    sink.report_in(rule, i, &c.name, Some(&e.name), format!("container `{}` sets {} to a localhost address; use the service's cluster DNS name", c.name, e.name));
                }
            }
            if c.args.iter().flatten().any(|a| points_home(a)) {
                sink.report_in(rule, i, &c.name, Some("args"), format!("container `{}` passes a localhost address in its args; use the service's cluster DNS name", c.name));
            }
        }
    }
    for (i, t) in env.targets.iter().enumerate() {
        if let gitops_core::Object::ConfigMap(cm) = t.object {
            for (k, v) in cm.data.iter().flatten() {
                if points_home(v) {
                    sink.report(
                        rule,
                        i,
                        format!("key `{k}` points at localhost; use the service's cluster DNS name"),
                    );
                }
            }
        }
    }
}

const SENSITIVE: [&str; 8] =
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "APIKEY", "CREDENTIALS", "PRIVATE"];

/// Last words that make a name about a secret rather than the secret
/// itself: its lifetime, size, algorithm, identifier or where it is
/// (`ACCESS_TOKEN_EXPIRES_IN`, `JWT_SECRET_LENGTH`, `AWS_ACCESS_KEY_ID`).
const ABOUT_A_SECRET: [&str; 22] = [
    "EXPIRES",
    "IN",
    "EXPIRY",
    "EXPIRATION",
    "TTL",
    "LIFETIME",
    "DURATION",
    "TIMEOUT",
    "AGE",
    "LENGTH",
    "SIZE",
    "BITS",
    "ALGORITHM",
    "ALG",
    "ID",
    "NAME",
    "ISSUER",
    "AUDIENCE",
    "HEADER",
    "URL",
    "ENDPOINT",
    "ENABLED",
];

/// Whether a variable's name says it carries a secret: one of its
/// `_`-separated words is sensitive (`DB_PASSWORD`, `API_KEY`, not
/// `MONKEY`), and the words after the last sensitive one do not say the
/// variable is about the secret instead (`ACCESS_TOKEN_EXPIRES_IN` is a
/// duration, `APP_SECRET` is a secret).
pub fn is_sensitive_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split('_').filter(|w| !w.is_empty()).collect();
    let Some(last_sensitive) = words.iter().rposition(|w| SENSITIVE.contains(w)) else { return false };
    let after = &words[last_sensitive + 1..];
    after.is_empty()
        || !after.iter().all(|w| ABOUT_A_SECRET.contains(w) || w.bytes().all(|b| b.is_ascii_digit()))
}

fn secret_env_from_secret(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, spec) in pods(env) {
        for c in containers(spec) {
            for e in c.env.iter().flatten().filter(|e| is_sensitive_name(&e.name)) {
                let from_secret = e.value_from.as_ref().is_some_and(|v| v.secret_key_ref.is_some());
                // `*_FILE` naming a mounted file is how a program reads a secret from a file.
                let file_path =
                    e.name.ends_with("_FILE") && e.value.as_deref().is_some_and(|v| v.starts_with('/'));
                if !from_secret && !file_path {
                    sink.report_in(
                        rule,
                        i,
                        &c.name,
                        Some(&e.name),
                        format!(
                            "container `{}` sets {} without a secretKeyRef; read it from a Secret",
                            c.name, e.name
                        ),
                    );
                }
            }
        }
    }
}

/// Deleting an Application cascades to its objects by default: a Namespace
/// takes every claim in it, a StatefulSet its database's pods, a claim its
/// volume. Argo CD keeps an object with `Delete=false`
/// (<https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#no-resource-deletion>).
fn data_outlives_application(rule: &Rule, env: &Environment, sink: &mut Sink) {
    use gitops_core::crd::argocd::{SYNC_OPTIONS_ANNOTATION, SyncOption};
    for (i, t) in env.targets.iter().enumerate() {
        let holds_data = match t.object {
            gitops_core::Object::StatefulSet(s) => {
                s.spec.as_ref().and_then(|s| s.volume_claim_templates.as_ref()).is_some_and(|c| !c.is_empty())
            }
            o => matches!(o.kind(), "Namespace" | "PersistentVolumeClaim"),
        };
        if !holds_data {
            continue;
        }
        let options = t.object.metadata().annotations.as_ref().and_then(|a| a.get(SYNC_OPTIONS_ANNOTATION));
        let kept = options.is_some_and(|o| SyncOption::DeleteDisabled.is_in(o));
        if !kept {
            sink.report(
                rule,
                i,
                format!(
                    "holds data, and deleting its Argo CD Application would delete it; add `Delete=false` to its `{SYNC_OPTIONS_ANNOTATION}` annotation"
                ),
            );
        }
    }
}

fn no_secret_data(rule: &Rule, env: &Environment, sink: &mut Sink) {
    for (i, t) in env.targets.iter().enumerate() {
        if let gitops_core::Object::Secret(s) = t.object {
            let has_data = s.data.as_ref().is_some_and(|d| !d.is_empty())
                || s.string_data.as_ref().is_some_and(|d| !d.is_empty());
            if has_data {
                sink.report(rule, i, "a Secret with data would put the secret in Git; deliver it through an ExternalSecret or SealedSecret".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_names_are_whole_words() {
        for yes in [
            "DB_PASSWORD",
            "API_KEY",
            "SLACK_TOKEN",
            "secret",
            "AWS_SECRET_ACCESS_KEY",
            "APP_SECRET",
            "SMTP_PASSWORD",
            "GITHUB_TOKEN_VALUE",
            "TOKEN_SECRET_ID_KEY",
        ] {
            assert!(is_sensitive_name(yes), "{yes}");
        }
        for no in [
            "MONKEY",
            "TOKENIZER_MODE",
            "PORT",
            "DATABASE_URL",
            "KEYCLOAK_URL",
            "ACCESS_TOKEN_EXPIRES_IN",
            "REFRESH_TOKEN_TTL",
            "JWT_SECRET_LENGTH",
            "AWS_ACCESS_KEY_ID",
            "OAUTH_TOKEN_URL",
            "SESSION_SECRET_NAME",
        ] {
            assert!(!is_sensitive_name(no), "{no}");
        }
    }

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("docker.io/a/b:sha-1"), Some("sha-1"));
        assert_eq!(image_tag("registry:5000/a/b"), None);
        assert_eq!(image_tag("a/b@sha256:00"), Some("@"));
        assert_eq!(image_tag("postgres"), None);
    }

    #[test]
    fn rule_ids_are_unique() {
        let mut ids: Vec<&str> = ALL.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
    }
}
