//! Bitnami `SealedSecret` (`bitnami.com/v1alpha1`), and the parser for the
//! `kubeseal --format yaml` output it is built from.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CustomResource, CustomResourceSpec};

/// `spec` of a Bitnami `SealedSecret`: the ciphertext and the Secret the controller writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedSecretSpec {
    /// `encryptedData`: key -> ciphertext, as `kubeseal` wrote it. Only the controller's
    /// private key opens it, and only for this name and namespace.
    pub encrypted_data: BTreeMap<String, String>,
    /// `template`: the written Secret's type and labels.
    pub template: SecretTemplate,
}

impl CustomResourceSpec for SealedSecretSpec {
    const API_VERSION: &'static str = "bitnami.com/v1alpha1";
    const KIND: &'static str = "SealedSecret";
}

/// A Bitnami Sealed Secrets `SealedSecret` (`bitnami.com/v1alpha1`).
pub type SealedSecret = CustomResource<SealedSecretSpec>;

/// `spec.template`: the Secret the controller writes: its type and metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretTemplate {
    /// `type`: the Secret's type (`Opaque`).
    #[serde(rename = "type")]
    pub type_: String,
    /// `metadata`: the Secret's labels.
    pub metadata: TemplateMetadata,
}

/// `spec.template.metadata`: the labels the written Secret carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateMetadata {
    /// `labels`: its labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Why a `kubeseal` output file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}; {fix}")]
pub struct SealedFileError {
    /// The file, relative to the root.
    pub file: String,
    /// What is wrong with it.
    pub problem: String,
    /// What to change.
    pub fix: String,
}

/// The ciphertext of `kubeseal --format yaml` output in `file`, checked to
/// be sealed for `name` in `namespace` (kubeseal's default strict scope
/// binds the ciphertext to both) and to hold every key in `keys`.
pub fn parse_kubeseal_output(
    file: &str,
    text: &str,
    name: &str,
    namespace: &str,
    keys: &[&str],
) -> Result<BTreeMap<String, String>, SealedFileError> {
    let fix = format!(
        "seal it with `kubectl create secret generic {name} -n {namespace} --dry-run=client -o yaml --from-literal=… | kubeseal --format yaml > {file}`"
    );
    let err = |problem: String| SealedFileError { file: file.into(), problem, fix: fix.clone() };
    let value: serde_json::Value = crate::yaml::from_str(text).map_err(|e| {
        let at = e.line.map(|l| format!("line {l}: ")).unwrap_or_default();
        err(format!("{at}{}", e.message))
    })?;
    let field = |path: &[&str]| path.iter().try_fold(&value, |v, k| v.get(k)).and_then(|v| v.as_str());
    if field(&["apiVersion"]) != Some(SealedSecretSpec::API_VERSION)
        || field(&["kind"]) != Some(SealedSecretSpec::KIND)
    {
        return Err(err("is not a bitnami.com/v1alpha1 SealedSecret".into()));
    }
    if field(&["metadata", "name"]) != Some(name) || field(&["metadata", "namespace"]) != Some(namespace) {
        return Err(err(format!(
            "is sealed for {}/{}, not {namespace}/{name}; the controller would refuse to open it",
            field(&["metadata", "namespace"]).unwrap_or("?"),
            field(&["metadata", "name"]).unwrap_or("?")
        )));
    }
    let data: BTreeMap<String, String> = value
        .pointer("/spec/encryptedData")
        .and_then(|d| serde_json::from_value(d.clone()).ok())
        .ok_or_else(|| err("has no spec.encryptedData".into()))?;
    let missing: Vec<&str> =
        keys.iter().copied().filter(|k| data.get(*k).is_none_or(|v| v.is_empty())).collect();
    if !missing.is_empty() {
        return Err(err(format!("has no ciphertext for {}", missing.join(", "))));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBESEAL: &str = "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  creationTimestamp: null\n  name: db\n  namespace: app-dev\nspec:\n  encryptedData:\n    password: AgBy3i4OJSWK+PiTySYZZA==\n    username: AgAKAoiQm7QDEW1e==\n  template:\n    metadata:\n      creationTimestamp: null\n      name: db\n      namespace: app-dev\n";

    #[test]
    fn reads_kubeseal_output() {
        let data = parse_kubeseal_output(
            "secrets/dev/db.yaml",
            KUBESEAL,
            "db",
            "app-dev",
            &["username", "password"],
        )
        .unwrap();
        assert_eq!(data["password"], "AgBy3i4OJSWK+PiTySYZZA==");
    }

    #[test]
    fn refuses_the_wrong_scope_missing_keys_and_other_files() {
        let err = parse_kubeseal_output("f.yaml", KUBESEAL, "db", "app-prod", &[]).unwrap_err().to_string();
        assert!(err.starts_with("f.yaml: is sealed for app-dev/db, not app-prod/db"), "{err}");
        assert!(err.contains("kubeseal --format yaml > f.yaml"), "{err}");
        let err =
            parse_kubeseal_output("f.yaml", KUBESEAL, "db", "app-dev", &["dbname"]).unwrap_err().to_string();
        assert!(err.contains("has no ciphertext for dbname"), "{err}");
        let err = parse_kubeseal_output("f.yaml", "apiVersion: v1\nkind: Secret\n", "db", "app-dev", &[])
            .unwrap_err();
        assert!(err.problem.contains("is not a bitnami.com/v1alpha1 SealedSecret"));
        assert!(
            parse_kubeseal_output("f.yaml", "a: [", "db", "app-dev", &[])
                .unwrap_err()
                .problem
                .contains("line")
        );
    }

    #[test]
    fn serializes_upstream_field_names() {
        let s: SealedSecret = CustomResource::new(
            Default::default(),
            SealedSecretSpec {
                encrypted_data: BTreeMap::from([("k".into(), "Ag==".into())]),
                template: SecretTemplate { type_: "Opaque".into(), metadata: TemplateMetadata::default() },
            },
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["spec"]["encryptedData"]["k"], "Ag==");
        assert_eq!(v["spec"]["template"]["type"], "Opaque");
    }
}
