//! Hand-written custom resources, typed with serde and schemars.
//!
//! Field names follow the upstream CRDs exactly (camelCase via serde); a field
//! the upstream schema does not have cannot be written, and a field cannot be
//! written twice. Each resource is a [`CustomResource`] of a spec type that
//! knows its `apiVersion` and `kind`.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The spec type of a custom resource names its group version and kind.
pub trait CustomResourceSpec {
    /// The resource's `apiVersion` (`argoproj.io/v1alpha1`).
    const API_VERSION: &'static str;
    /// The resource's `kind` (`Application`).
    const KIND: &'static str;
}

/// `apiVersion`, `kind`, `metadata` and a typed `spec`, in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomResource<S> {
    /// The object's metadata.
    pub metadata: ObjectMeta,
    /// The typed spec.
    pub spec: S,
}

impl<S: CustomResourceSpec> CustomResource<S> {
    /// A resource of `spec`'s kind with `metadata`.
    pub fn new(metadata: ObjectMeta, spec: S) -> Self {
        CustomResource { metadata, spec }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ser<'a, S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    spec: &'a S,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct De<S> {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: S,
}

impl<S: CustomResourceSpec + Serialize> Serialize for CustomResource<S> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        Ser { api_version: S::API_VERSION, kind: S::KIND, metadata: &self.metadata, spec: &self.spec }
            .serialize(s)
    }
}

impl<'de, S: CustomResourceSpec + Deserialize<'de>> Deserialize<'de> for CustomResource<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let de = De::<S>::deserialize(d)?;
        if de.api_version != S::API_VERSION || de.kind != S::KIND {
            return Err(D::Error::custom(format!(
                "expected {} {}, found {} {}",
                S::API_VERSION,
                S::KIND,
                de.api_version,
                de.kind
            )));
        }
        Ok(CustomResource { metadata: de.metadata, spec: de.spec })
    }
}

impl<S: CustomResourceSpec + schemars::JsonSchema> schemars::JsonSchema for CustomResource<S> {
    fn schema_name() -> Cow<'static, str> {
        S::KIND.into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let spec = generator.subschema_for::<S>();
        schemars::json_schema!({
            "type": "object",
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {
                "apiVersion": { "const": S::API_VERSION },
                "kind": { "const": S::KIND },
                "metadata": { "type": "object" },
                "spec": spec,
            },
        })
    }
}

/// Implements `Serialize`, `Deserialize` and `JsonSchema` for a C-like enum
/// whose wire form is a fixed string per variant (an upstream enum value).
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $ty:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $ty { $($(#[$vmeta])* $variant,)+ }

        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)+];

            /// The value as the upstream API writes it.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $wire,)+ }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| <D::Error as ::serde::de::Error>::custom(format!(
                        "unknown {} `{}`", stringify!($ty), s
                    )))
            }
        }

        impl ::schemars::JsonSchema for $ty {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                let values: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                ::schemars::json_schema!({ "type": "string", "enum": values })
            }
        }
    };
}

// After `string_enum!`: macro_rules are visible only below their definition.
pub mod argocd;
pub mod cert_manager;
pub mod external_secrets;
pub mod gatekeeper;
pub mod gateway_api;
pub mod monitoring;
pub mod sealed_secrets;
