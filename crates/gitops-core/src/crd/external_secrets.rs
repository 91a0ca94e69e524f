//! External Secrets Operator `ExternalSecret` (`external-secrets.io/v1`).
//!
//! An ExternalSecret names keys in a secret store; the operator writes the
//! Kubernetes Secret in the cluster. The repository holds only the reference.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CustomResource, CustomResourceSpec};

string_enum! {
    pub enum SecretStoreKind {
        SecretStore => "SecretStore",
        ClusterSecretStore => "ClusterSecretStore",
    }
}

string_enum! {
    pub enum CreationPolicy {
        /// The operator creates the Secret and owns it (garbage-collected with the ExternalSecret).
        Owner => "Owner",
        Orphan => "Orphan",
        Merge => "Merge",
        None => "None",
    }
}

string_enum! {
    /// What happens to the Secret when the keys disappear from the provider.
    pub enum DeletionPolicy {
        Delete => "Delete",
        Merge => "Merge",
        /// Keep the last good Secret: a provider outage must not take a database down.
        Retain => "Retain",
    }
}

string_enum! {
    pub enum TemplateEngineVersion {
        V2 => "v2",
    }
}

string_enum! {
    pub enum TemplateMergePolicy {
        Replace => "Replace",
        Merge => "Merge",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretSpec {
    /// A Go duration such as `1h`.
    pub refresh_interval: String,
    pub secret_store_ref: SecretStoreRef,
    pub target: ExternalSecretTarget,
    pub data: Vec<ExternalSecretData>,
}

impl CustomResourceSpec for ExternalSecretSpec {
    const API_VERSION: &'static str = "external-secrets.io/v1";
    const KIND: &'static str = "ExternalSecret";
}

pub type ExternalSecret = CustomResource<ExternalSecretSpec>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretStoreRef {
    pub name: String,
    pub kind: SecretStoreKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretTarget {
    /// The name of the Secret the operator writes.
    pub name: String,
    pub creation_policy: CreationPolicy,
    pub deletion_policy: DeletionPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretTemplate {
    #[serde(rename = "type")]
    pub type_: String,
    pub engine_version: TemplateEngineVersion,
    pub merge_policy: TemplateMergePolicy,
    /// Secret key -> Go template over the fetched `secretKey`s.
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretData {
    pub secret_key: String,
    pub remote_ref: RemoteRef,
}

string_enum! {
    pub enum ConversionStrategy {
        Default => "Default",
        Unicode => "Unicode",
    }
}

string_enum! {
    pub enum DecodingStrategy {
        None => "None",
        Auto => "Auto",
        Base64 => "Base64",
        Base64Url => "Base64URL",
    }
}

string_enum! {
    pub enum MetadataPolicy {
        None => "None",
        Fetch => "Fetch",
    }
}

/// A key in the provider. The three strategies are written out with their
/// upstream defaults: the API server would add them anyway, and Argo CD
/// would otherwise show the ExternalSecret as out of sync forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteRef {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    pub conversion_strategy: ConversionStrategy,
    pub decoding_strategy: DecodingStrategy,
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

/// A `SecretStore` (`external-secrets.io/v1`) backed by Vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretStoreSpec {
    pub provider: SecretStoreProvider,
}

impl CustomResourceSpec for SecretStoreSpec {
    const API_VERSION: &'static str = "external-secrets.io/v1";
    const KIND: &'static str = "SecretStore";
}

pub type SecretStore = CustomResource<SecretStoreSpec>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretStoreProvider {
    pub vault: VaultProvider,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultProvider {
    pub server: String,
    /// The KV mount; ESO adds `/data` for version 2.
    pub path: String,
    pub version: String,
    pub auth: VaultAuth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultAuth {
    pub kubernetes: VaultKubernetesAuth,
}

/// Vault's Kubernetes auth: the JSON key is `mountPath` (the Go field is `Path`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultKubernetesAuth {
    pub mount_path: String,
    pub role: String,
    pub service_account_ref: ServiceAccountSelector,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountSelector {
    pub name: String,
}
