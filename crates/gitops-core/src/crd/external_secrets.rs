//! External Secrets Operator `ExternalSecret` (`external-secrets.io/v1`).
//!
//! An ExternalSecret names keys in a secret store; the operator writes the
//! Kubernetes Secret in the cluster. The repository holds only the reference.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CustomResource, CustomResourceSpec};

string_enum! {
    /// `spec.secretStoreRef.kind`: a store of the namespace, or one of the cluster.
    pub enum SecretStoreKind {
        /// A `SecretStore` in the ExternalSecret's own namespace.
        SecretStore => "SecretStore",
        /// A `ClusterSecretStore`, usable from every namespace it admits.
        ClusterSecretStore => "ClusterSecretStore",
    }
}

string_enum! {
    /// `spec.target.creationPolicy`: whether and how the operator creates the Secret.
    pub enum CreationPolicy {
        /// The operator creates the Secret and owns it (garbage-collected with the ExternalSecret).
        Owner => "Owner",
        /// The operator creates the Secret and leaves it when the ExternalSecret goes.
        Orphan => "Orphan",
        /// The operator only merges keys into a Secret that exists.
        Merge => "Merge",
        /// The operator writes nothing (the values are only fetched).
        None => "None",
    }
}

string_enum! {
    /// `spec.target.deletionPolicy`: what happens to the Secret when the keys disappear from the
    /// provider.
    pub enum DeletionPolicy {
        /// Delete the Secret.
        Delete => "Delete",
        /// Remove the keys that disappeared, keep the rest.
        Merge => "Merge",
        /// Keep the last good Secret: a provider outage must not take a database down.
        Retain => "Retain",
    }
}

string_enum! {
    /// `spec.target.template.engineVersion`: the template language.
    pub enum TemplateEngineVersion {
        /// Go templates with Sprig functions (the only version of `external-secrets.io/v1`).
        V2 => "v2",
    }
}

string_enum! {
    /// `spec.target.template.mergePolicy`: whether fetched keys join the template's.
    pub enum TemplateMergePolicy {
        /// The Secret holds only the template's keys.
        Replace => "Replace",
        /// The Secret holds the template's keys and the fetched ones.
        Merge => "Merge",
    }
}

/// `spec` of an External Secrets `ExternalSecret`: which keys to fetch from which store, and
/// the Secret the operator writes from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretSpec {
    /// `refreshInterval`: how long before the operator reads the provider again, as a Go duration
    /// (`1h`); `0` reads it once.
    pub refresh_interval: String,
    /// `secretStoreRef`: the SecretStore or ClusterSecretStore to read from.
    pub secret_store_ref: SecretStoreRef,
    /// `target`: the Secret to write.
    pub target: ExternalSecretTarget,
    /// `data`: each key of the Secret and where in the provider it comes from.
    pub data: Vec<ExternalSecretData>,
}

impl CustomResourceSpec for ExternalSecretSpec {
    const API_VERSION: &'static str = "external-secrets.io/v1";
    const KIND: &'static str = "ExternalSecret";
}

/// An External Secrets `ExternalSecret` (`external-secrets.io/v1`).
pub type ExternalSecret = CustomResource<ExternalSecretSpec>;

/// `spec.secretStoreRef`: a store by name and kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretStoreRef {
    /// `name`: the store's name.
    pub name: String,
    /// `kind`: `SecretStore` (in the namespace) or `ClusterSecretStore` (cluster-wide).
    pub kind: SecretStoreKind,
}

/// `spec.target`: the Secret the operator writes, and how it owns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretTarget {
    /// `name`: the name of the Secret the operator writes.
    pub name: String,
    /// `creationPolicy`: whether the operator creates and owns the Secret.
    pub creation_policy: CreationPolicy,
    /// `deletionPolicy`: what happens to the Secret when the keys disappear from the provider.
    pub deletion_policy: DeletionPolicy,
    /// `template`: a Secret built from the fetched values (a connection string, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
}

/// `spec.target.template`: the Secret's type and its keys as Go templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretTemplate {
    /// `type`: the Secret's type (`Opaque`).
    #[serde(rename = "type")]
    pub type_: String,
    /// `engineVersion`: the template engine (`v2`).
    pub engine_version: TemplateEngineVersion,
    /// `mergePolicy`: `Replace` writes only the template's keys; `Merge` adds the fetched ones.
    pub merge_policy: TemplateMergePolicy,
    /// `data`: Secret key -> Go template over the fetched `secretKey`s.
    pub data: BTreeMap<String, String>,
}

/// One of `spec.data`: a key of the Secret and the provider's value it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretData {
    /// `secretKey`: the key in the Secret (and the name templates use).
    pub secret_key: String,
    /// `remoteRef`: where the value is in the provider.
    pub remote_ref: RemoteRef,
}

string_enum! {
    /// `remoteRef.conversionStrategy`: how characters a Secret key cannot hold (anything but
    /// letters, digits, `-`, `.` and `_`) are rewritten in key names the provider returns.
    pub enum ConversionStrategy {
        /// Each becomes `_`.
        Default => "Default",
        /// Each becomes `_U` and its code point in four hex digits and `_` (`_U0021_` for `!`).
        Unicode => "Unicode",
    }
}

string_enum! {
    /// `remoteRef.decodingStrategy`: how the value is decoded before use.
    pub enum DecodingStrategy {
        /// Not decoded.
        None => "None",
        /// Tried as base64, then as URL-safe base64; left as it is, without error, when neither
        /// decodes.
        Auto => "Auto",
        /// Standard base64; a value that does not decode is an error.
        Base64 => "Base64",
        /// URL-safe base64; a value that does not decode is an error.
        Base64Url => "Base64URL",
    }
}

string_enum! {
    /// `remoteRef.metadataPolicy`: whether the secret's metadata is fetched instead of its value.
    pub enum MetadataPolicy {
        /// The value.
        None => "None",
        /// The metadata.
        Fetch => "Fetch",
    }
}

/// `spec.data[].remoteRef`: a key in the provider. The three strategies are written out with their
/// upstream defaults: the API server would add them anyway, and Argo CD
/// would otherwise show the ExternalSecret as out of sync forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteRef {
    /// `key`: the secret's path in the provider.
    pub key: String,
    /// `property`: the field of that secret; `None` for all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// `conversionStrategy`: how invalid characters of returned key names are rewritten.
    pub conversion_strategy: ConversionStrategy,
    /// `decodingStrategy`: how the value is decoded (base64, …) before use.
    pub decoding_strategy: DecodingStrategy,
    /// `metadataPolicy`: whether to fetch the secret's metadata instead of its value.
    pub metadata_policy: MetadataPolicy,
}

impl RemoteRef {
    /// `property` of `key`, with the upstream default strategies.
    pub fn property(key: &str, property: &str) -> Self {
        RemoteRef {
            key: key.into(),
            property: Some(property.into()),
            conversion_strategy: ConversionStrategy::Default,
            decoding_strategy: DecodingStrategy::None,
            metadata_policy: MetadataPolicy::None,
        }
    }
}

impl ExternalSecretSpec {
    /// The keys the Secret written by the operator will hold.
    pub fn target_keys(&self) -> Vec<&str> {
        match &self.target.template {
            Some(t) if t.merge_policy == TemplateMergePolicy::Replace => {
                t.data.keys().map(String::as_str).collect()
            }
            Some(t) => {
                let mut keys: Vec<&str> = self.data.iter().map(|d| d.secret_key.as_str()).collect();
                keys.extend(t.data.keys().map(String::as_str));
                keys.sort_unstable();
                keys.dedup();
                keys
            }
            None => self.data.iter().map(|d| d.secret_key.as_str()).collect(),
        }
    }
}

/// `spec` of an External Secrets `SecretStore` (`external-secrets.io/v1`) backed by Vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretStoreSpec {
    /// `provider`: the secret manager the store reads.
    pub provider: SecretStoreProvider,
}

impl CustomResourceSpec for SecretStoreSpec {
    const API_VERSION: &'static str = "external-secrets.io/v1";
    const KIND: &'static str = "SecretStore";
}

/// An External Secrets `SecretStore` (`external-secrets.io/v1`).
pub type SecretStore = CustomResource<SecretStoreSpec>;

/// `spec.provider`: the secret manager; only Vault is emitted here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretStoreProvider {
    /// `vault`: HashiCorp Vault.
    pub vault: VaultProvider,
}

/// `spec.provider.vault`: where Vault is and how to log in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultProvider {
    /// `server`: Vault's address (`https://vault.example:8200`).
    pub server: String,
    /// `path`: the KV engine's mount (`secret`); for version `v2` the operator appends `/data`
    /// itself when it is missing.
    pub path: String,
    /// `version`: the KV engine version, `v1` or `v2`.
    pub version: String,
    /// `auth`: how the operator logs in.
    pub auth: VaultAuth,
}

/// `spec.provider.vault.auth`: the login method; only Kubernetes auth is emitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultAuth {
    /// `kubernetes`: log in with a ServiceAccount token.
    pub kubernetes: VaultKubernetesAuth,
}

/// Vault's Kubernetes auth: the JSON key is `mountPath` (the Go field is `Path`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultKubernetesAuth {
    /// `mountPath`: where Vault's Kubernetes auth method is mounted (`kubernetes`).
    pub mount_path: String,
    /// `role`: the Vault role bound to the ServiceAccount.
    pub role: String,
    /// `serviceAccountRef`: the ServiceAccount whose token is presented.
    pub service_account_ref: ServiceAccountSelector,
}

/// `serviceAccountRef`: a ServiceAccount of the store's namespace, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountSelector {
    /// `name`: the ServiceAccount's name.
    pub name: String,
}
