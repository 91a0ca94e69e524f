//! OPA Gatekeeper's `K8sPSPPrivilegedContainer` constraint
//! (`constraints.gatekeeper.sh/v1beta1`), as BrainSAIT's pipeline document
//! uses it, and the `ConstraintTemplate` (`templates.gatekeeper.sh/v1`) that
//! defines its kind: Gatekeeper creates a constraint kind's CRD only once a
//! template of that kind is in the cluster, so the constraint needs it. The
//! template's Rego is ours ([`PRIVILEGED_CONTAINER_REGO`]), not the
//! gatekeeper-library's.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CustomResource, CustomResourceSpec};

/// `spec` of Gatekeeper's `K8sPSPPrivilegedContainer` constraint (from the gatekeeper-library
/// template of that name): which objects it applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintSpec {
    /// `match`: the kinds and namespaces the constraint checks.
    #[serde(rename = "match")]
    pub match_: ConstraintMatch,
}

impl CustomResourceSpec for ConstraintSpec {
    const API_VERSION: &'static str = "constraints.gatekeeper.sh/v1beta1";
    const KIND: &'static str = "K8sPSPPrivilegedContainer";
}

/// A Gatekeeper `K8sPSPPrivilegedContainer` constraint (`constraints.gatekeeper.sh/v1beta1`).
pub type PrivilegedContainerConstraint = CustomResource<ConstraintSpec>;

/// `spec.match`: the objects a constraint applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintMatch {
    /// `kinds`: the API groups and kinds.
    pub kinds: Vec<MatchKinds>,
    /// `namespaces`: the namespaces (all when empty).
    pub namespaces: Vec<String>,
}

/// One of `spec.match.kinds`: kinds in some API groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchKinds {
    /// `apiGroups`: the groups (`""` for the core group).
    pub api_groups: Vec<String>,
    /// `kinds`: the kinds (`Pod`).
    pub kinds: Vec<String>,
}

/// `spec` of a Gatekeeper `ConstraintTemplate`: the constraint kind it declares and the
/// Rego that decides which reviewed objects violate a constraint of that kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintTemplateSpec {
    /// `crd`: the CustomResourceDefinition Gatekeeper generates for the constraint kind.
    pub crd: ConstraintTemplateCrd,
    /// `targets`: the policy per enforcement target (Gatekeeper evaluates one,
    /// [`ADMISSION_TARGET`]).
    pub targets: Vec<ConstraintTemplateTarget>,
}

impl CustomResourceSpec for ConstraintTemplateSpec {
    const API_VERSION: &'static str = "templates.gatekeeper.sh/v1";
    const KIND: &'static str = "ConstraintTemplate";
}

/// A Gatekeeper `ConstraintTemplate` (`templates.gatekeeper.sh/v1`, cluster-scoped): declares
/// a constraint kind and its Rego. Its name must be the constraint kind in lowercase.
pub type ConstraintTemplate = CustomResource<ConstraintTemplateSpec>;

/// `spec.crd`: the constraint kind's CustomResourceDefinition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintTemplateCrd {
    /// `spec`: the parts of the CRD's spec a template sets.
    pub spec: ConstraintTemplateCrdSpec,
}

/// `spec.crd.spec`: the constraint kind's names and the schema of its `parameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintTemplateCrdSpec {
    /// `names`: the constraint kind's names.
    pub names: ConstraintTemplateNames,
    /// `validation`: the schema of the constraints' `spec.parameters`; `None` for a kind that
    /// takes no parameters (as upstream's parameterless templates leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ConstraintTemplateValidation>,
}

/// `spec.crd.spec.names`: the names of the generated constraint kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintTemplateNames {
    /// `kind`: the constraint kind (`K8sPSPPrivilegedContainer`), in group
    /// `constraints.gatekeeper.sh`; the template's name is its lowercase.
    pub kind: String,
}

/// `spec.crd.spec.validation`: how Gatekeeper validates a constraint's `parameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintTemplateValidation {
    /// `openAPIV3Schema`: the OpenAPI v3 schema of `spec.parameters`. In `v1` it must be a
    /// structural schema: a `type` at every level (`{"type": "object", "properties": …}`).
    #[serde(rename = "openAPIV3Schema")]
    pub open_api_v3_schema: serde_json::Value,
}

/// One of `spec.targets`: the Rego an enforcement target evaluates for the constraint kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintTemplateTarget {
    /// `target`: the enforcement target ([`ADMISSION_TARGET`] for Kubernetes admission and audit).
    pub target: String,
    /// `rego`: one Rego module (syntax v0) whose `violation` rule yields a
    /// `{"msg": …, "details": …}` per violation of a reviewed object (`input.review.object`),
    /// given the constraint's `input.parameters`.
    pub rego: String,
    /// `libs`: further Rego modules the `rego` module can import, each in a package
    /// under `lib.` (`package lib.helpers`, imported as `data.lib.helpers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libs: Vec<String>,
}

/// The Kubernetes admission target: Gatekeeper's webhook and audit review
/// objects against constraints of templates with this target.
pub const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";

/// The Rego of [`privileged_container_template`] (syntax v0, which Gatekeeper
/// expects in a target's `rego`): one violation per container, init container
/// and ephemeral container of the reviewed Pod whose `securityContext.privileged`
/// is `true`. An update cannot make a running container privileged, so on
/// `UPDATE` only ephemeral containers, which are added by update, are
/// checked: a Pod admitted before the constraint can still have its labels
/// or finalizers changed.
pub const PRIVILEGED_CONTAINER_REGO: &str = r#"package k8spspprivilegedcontainer

# The Pod fields that list containers, and what a message calls their entries.
container_fields := {
  "containers": "container",
  "initContainers": "init container",
  "ephemeralContainers": "ephemeral container"
}

violation[{"msg": msg, "details": {}}] {
  some field, i
  what := container_fields[field]
  checked(field)
  container := input.review.object.spec[field][i]
  container.securityContext.privileged == true
  msg := sprintf("privileged containers are not allowed: %v `%v` sets securityContext.privileged to true", [what, container.name])
}

checked(_) {
  not is_update
}

checked("ephemeralContainers") {
  true
}

is_update {
  input.review.operation == "UPDATE"
}
"#;

/// The `ConstraintTemplate` that declares [`PrivilegedContainerConstraint`]'s kind
/// (`K8sPSPPrivilegedContainer`), with [`PRIVILEGED_CONTAINER_REGO`]. It takes no
/// parameters, so it has no `validation`. Cluster-scoped: no namespace.
pub fn privileged_container_template() -> ConstraintTemplate {
    let kind = <ConstraintSpec as CustomResourceSpec>::KIND;
    CustomResource::new(
        ObjectMeta { name: Some(kind.to_ascii_lowercase()), ..Default::default() },
        ConstraintTemplateSpec {
            crd: ConstraintTemplateCrd {
                spec: ConstraintTemplateCrdSpec {
                    names: ConstraintTemplateNames { kind: kind.into() },
                    validation: None,
                },
            },
            targets: vec![ConstraintTemplateTarget {
                target: ADMISSION_TARGET.into(),
                rego: PRIVILEGED_CONTAINER_REGO.into(),
                libs: Vec::new(),
            }],
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_brainsaits_constraint() {
        let seed = r#"
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPPrivilegedContainer
metadata:
  name: deny-privileged-containers
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
    namespaces:
      - brainsait-production
      - brainsait-staging
"#;
        let c: PrivilegedContainerConstraint = crate::yaml::from_str(seed).unwrap();
        let want: serde_json::Value = crate::yaml::from_str(seed).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), want);
    }

    /// The object key paths of a JSON value (`spec.crd.spec.names.kind`), array
    /// elements under their array's path.
    fn key_paths(value: &serde_json::Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    out.insert(path.clone());
                    key_paths(v, &path, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| key_paths(v, prefix, out)),
            _ => {}
        }
    }

    #[test]
    fn template_matches_upstream_examples() {
        // gatekeeper-library, website/docs/validation/block-nodeport-services.md: a
        // documented `templates.gatekeeper.sh/v1` template without parameters.
        let block_nodeport = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sblocknodeport
  annotations:
    metadata.gatekeeper.sh/title: "Block NodePort"
    metadata.gatekeeper.sh/version: 1.0.0
    description: >-
      Disallows all Services with type NodePort.

      https://kubernetes.io/docs/concepts/services-networking/service/#nodeport
spec:
  crd:
    spec:
      names:
        kind: K8sBlockNodePort
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sblocknodeport

        violation[{"msg": msg}] {
          input.review.kind.kind == "Service"
          input.review.object.spec.type == "NodePort"
          msg := "User is not allowed to create service of type NodePort"
        }
"#;
        // open-policy-agent/frameworks, constraint/README.md ("What is a Constraint
        // Template?"): `validation` and `libs`. Moved to `templates.gatekeeper.sh/v1`
        // with the structural schema gatekeeper's website/docs/constrainttemplates.md
        // says v1 requires (`type` at every level).
        let with_libs = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: foosystemrequiredlabels
spec:
  crd:
    spec:
      names:
        kind: FooSystemRequiredLabel
      validation:
        # Schema for the `parameters` field
        openAPIV3Schema:
          type: object
          properties:
            labels:
              type: array
              items:
                type: string
  targets:
    - target: admission.k8s.gatekeeper.sh
      libs:
        - |
          package lib.helpers

          make_message(missing) = msg {
            msg := sprintf("you must provide labels: %v", [missing])
          }
      rego: |
        package foosystemrequiredlabels

        import data.lib.helpers

        violation[{"msg": msg, "details": {"missing_labels": missing}}] {
           provided := {label | input.request.object.metadata.labels[label]}
           required := {label | label := input.parameters.labels[_]}
           missing := required - provided
           count(missing) > 0
           msg := helpers.make_message(missing)
        }
"#;
        for documented in [block_nodeport, with_libs] {
            let template: ConstraintTemplate = crate::yaml::from_str(documented).unwrap();
            let want: serde_json::Value = crate::yaml::from_str(documented).unwrap();
            assert_eq!(serde_json::to_value(&template).unwrap(), want);
        }
        let with_libs: ConstraintTemplate = crate::yaml::from_str(with_libs).unwrap();
        assert_eq!(with_libs.spec.targets[0].libs.len(), 1);
        assert_eq!(
            with_libs.spec.crd.spec.validation.unwrap().open_api_v3_schema["properties"]["labels"]["items"]["type"],
            "string"
        );

        // Ours has exactly the upstream parameterless template's fields (its
        // annotations aside), and no namespace: ConstraintTemplates are cluster-scoped.
        let ours = serde_json::to_value(privileged_container_template()).unwrap();
        let upstream: serde_json::Value = crate::yaml::from_str(block_nodeport).unwrap();
        let (mut got, mut want) = (Default::default(), Default::default());
        key_paths(&ours, "", &mut got);
        key_paths(&upstream, "", &mut want);
        want.retain(|p: &String| !p.starts_with("metadata.annotations"));
        assert_eq!(got, want);
        assert_eq!(ours["apiVersion"], "templates.gatekeeper.sh/v1");
        assert_eq!(ours["spec"]["targets"][0]["target"], "admission.k8s.gatekeeper.sh");
    }

    #[test]
    fn template_declares_the_constraints_kind() {
        let template = privileged_container_template();
        let kind = &template.spec.crd.spec.names.kind;
        assert_eq!(kind, <ConstraintSpec as CustomResourceSpec>::KIND);
        assert_eq!(template.metadata.name.as_deref(), Some(kind.to_lowercase().as_str()));
        assert_eq!(template.metadata.namespace, None);
        // The Rego's package is the template's name, as Gatekeeper's own templates do.
        let package = PRIVILEGED_CONTAINER_REGO.lines().next().unwrap();
        assert_eq!(package, format!("package {}", kind.to_lowercase()));
        // A round trip through `Object`: the kind is registered.
        let object = crate::object::Object::from(template.clone());
        assert_eq!(
            (object.api_version(), object.kind()),
            ("templates.gatekeeper.sh/v1", "ConstraintTemplate")
        );
        let back = crate::object::Object::from_json(serde_json::to_value(&object).unwrap()).unwrap();
        assert_eq!(back, object);
    }

    /// The violation messages of the template's Rego for `pod` under review, sorted.
    fn violations(pod: serde_json::Value) -> Vec<String> {
        violations_on("CREATE", pod)
    }

    fn violations_on(operation: &str, pod: serde_json::Value) -> Vec<String> {
        let mut engine = regorus::Engine::new();
        // Gatekeeper reads a target's `rego` as Rego v0.
        engine.set_rego_v0(true);
        engine.add_policy("k8spspprivilegedcontainer.rego".into(), PRIVILEGED_CONTAINER_REGO.into()).unwrap();
        let input =
            serde_json::json!({ "review": { "operation": operation, "object": pod }, "parameters": {} });
        engine.set_input(regorus::Value::from_json_str(&input.to_string()).unwrap());
        let set = engine.eval_rule("data.k8spspprivilegedcontainer.violation".into()).unwrap();
        let set: serde_json::Value = serde_json::from_str(&set.to_json_str().unwrap()).unwrap();
        let mut messages: Vec<String> = set
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                assert_eq!(v["details"], serde_json::json!({}), "{v}");
                v["msg"].as_str().unwrap().to_owned()
            })
            .collect();
        messages.sort();
        messages
    }

    fn pod(spec: serde_json::Value) -> serde_json::Value {
        serde_json::json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "p" }, "spec": spec })
    }

    #[test]
    fn rego_denies_privileged_containers_only() {
        let privileged = serde_json::json!({ "privileged": true });
        let app = pod(serde_json::json!({ "containers": [
            { "name": "app", "image": "app:1", "securityContext": privileged },
            { "name": "sidecar", "image": "proxy:1", "securityContext": { "privileged": false } },
        ]}));
        assert_eq!(
            violations(app),
            [
                "privileged containers are not allowed: container `app` sets securityContext.privileged to true"
            ]
        );

        let init = pod(serde_json::json!({
            "initContainers": [{ "name": "migrate", "image": "app:1", "securityContext": privileged }],
            "containers": [{ "name": "app", "image": "app:1" }],
        }));
        let got = violations(init);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("init container `migrate`"), "{got:?}");

        let debug = pod(serde_json::json!({
            "containers": [{ "name": "app", "image": "app:1" }],
            "ephemeralContainers": [{ "name": "debugger", "image": "busybox", "securityContext": privileged }],
        }));
        assert_eq!(violations(debug).len(), 1);

        let all = pod(serde_json::json!({
            "initContainers": [{ "name": "a", "securityContext": privileged }],
            "containers": [{ "name": "b", "securityContext": privileged }, { "name": "c", "securityContext": privileged }],
            "ephemeralContainers": [{ "name": "d", "securityContext": privileged }],
        }));
        assert_eq!(violations(all).len(), 4);

        let unprivileged = pod(serde_json::json!({
            "initContainers": [{ "name": "migrate", "securityContext": { "privileged": false } }],
            "containers": [{ "name": "app", "securityContext": { "privileged": false, "runAsNonRoot": true } }],
        }));
        assert_eq!(violations(unprivileged), Vec::<String>::new());

        let no_security_context =
            pod(serde_json::json!({ "containers": [{ "name": "app", "image": "app:1" }] }));
        assert_eq!(violations(no_security_context), Vec::<String>::new());

        // An update cannot make a running container privileged: a Pod
        // admitted before the constraint may still be relabelled. An
        // ephemeral container is added by update, and is checked then.
        let running =
            pod(serde_json::json!({ "containers": [{ "name": "app", "securityContext": privileged }] }));
        assert_eq!(violations_on("UPDATE", running), Vec::<String>::new());
        let debug = pod(serde_json::json!({
            "containers": [{ "name": "app" }],
            "ephemeralContainers": [{ "name": "debugger", "securityContext": privileged }],
        }));
        assert_eq!(violations_on("UPDATE", debug).len(), 1);

        // Pod-level securityContext has no `privileged`; an object without
        // containers (a DELETE review has no object) yields nothing.
        assert_eq!(violations(serde_json::json!({})), Vec::<String>::new());
    }
}
