//! The one module that knows the YAML library.
//!
//! `serde_yaml` is archived upstream; replacing it must touch this file only.
//! Emission is deterministic: struct fields in declaration order, maps sorted
//! (k8s-openapi and this crate use `BTreeMap`), block style, and a trailing
//! newline.

use serde::Serialize;
use serde::de::DeserializeSeed;

/// A YAML error with the 1-based line and column it refers to, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl From<serde_yaml::Error> for YamlError {
    fn from(e: serde_yaml::Error) -> Self {
        let location = e.location();
        let mut message = e.to_string();
        // serde_yaml appends " at line L column C"; the caller prints the
        // location in `file:line:column` form instead.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        YamlError {
            message,
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
        }
    }
}

/// One YAML document, ending in a newline.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, YamlError> {
    Ok(serde_yaml::to_string(value)?)
}

/// Parses exactly one document through a `DeserializeSeed`, keeping error locations.
pub fn from_str_seed<'de, S: DeserializeSeed<'de>>(text: &'de str, seed: S) -> Result<S::Value, YamlError> {
    Ok(seed.deserialize(serde_yaml::Deserializer::from_str(text))?)
}

/// Parses one document into `T`.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    Ok(serde_yaml::from_str(text)?)
}
