//! Validated names: Kubernetes object names and DNS host names, and the
//! environment-variable spelling of a name.
//!
//! Every name the renderer emits passes through one of these types, so an
//! invalid name is rejected where it is written (at compile time for the
//! `name!` macro, at the data-file edge otherwise), never by the API server.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest DNS label (RFC 1123) and the longest label value Kubernetes accepts.
pub const MAX_LABEL_LEN: usize = 63;

/// A DNS-1035 label: what Kubernetes requires of a Service name, and so the
/// strictest rule any object name in the tree has to meet. Lowercase letters,
/// digits and `-`, starting with a letter, ending with a letter or digit, at
/// most 63 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Cow<'static, str>);

/// Why a string is not a [`Name`] or a [`HostName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid name: it {problem}")]
pub struct NameError {
    /// The string.
    pub value: String,
    /// The rule it breaks.
    pub problem: &'static str,
}

const fn label_problem(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Some("is empty");
    }
    if b.len() > MAX_LABEL_LEN {
        return Some("is longer than 63 characters");
    }
    if !b[0].is_ascii_lowercase() {
        return Some("must start with a lowercase letter");
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
            return Some("may contain only lowercase letters, digits and '-'");
        }
        i += 1;
    }
    if b[b.len() - 1] == b'-' {
        return Some("must end with a letter or digit");
    }
    None
}

impl Name {
    /// Validates a name known at compile time. In a `const` context (see the
    /// [`name!`](crate::name!) macro) an invalid name is a compile error.
    pub const fn from_static(s: &'static str) -> Self {
        if let Some(problem) = label_problem(s) {
            panic!("{}", problem);
        }
        Name(Cow::Borrowed(s))
    }

    /// The name `s`, checked as [`name!`](macro@crate::name) checks a literal.
    pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
        let s = s.into();
        match label_problem(&s) {
            None => Ok(Name(Cow::Owned(s))),
            Some(problem) => Err(NameError { value: s, problem }),
        }
    }

    /// The name, as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self` followed by `-suffix`, checked again (the result may be too long).
    pub fn suffixed(&self, suffix: &str) -> Result<Name, NameError> {
        Name::new(format!("{}-{suffix}", self.0))
    }

    /// The conventional environment-variable spelling: `fhir-gateway` -> `FHIR_GATEWAY`.
    pub fn env_var_stem(&self) -> String {
        self.0.to_ascii_uppercase().replace('-', "_")
    }
}

/// `name!("identity")` is a [`Name`] checked at compile time: an invalid
/// name, such as an empty storage class, does not compile.
///
/// ```compile_fail
/// let storage_class = gitops_core::name!("");
/// ```
///
/// ```compile_fail
/// let service = gitops_core::name!("Identity_Service");
/// ```
#[macro_export]
macro_rules! name {
    ($s:expr) => {
        const { $crate::name::Name::from_static($s) }
    };
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Name::new(s).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Name {
    fn schema_name() -> Cow<'static, str> {
        "Name".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_LABEL_LEN,
            "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$",
        })
    }
}

/// A fully qualified DNS host name (RFC 1123): dot-separated labels of
/// lowercase letters, digits and `-`, at most 253 characters. Used for ingress
/// hosts and TLS certificates.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostName(String);

impl HostName {
    /// The host `s`, checked: dot-separated DNS labels, at most 253 characters, no wildcard.
    pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
        let s = s.into();
        let problem = if s.is_empty() {
            Some("is empty")
        } else if s.len() > 253 {
            Some("is longer than 253 characters")
        } else if s.contains('*') {
            Some("is a wildcard; name the host exactly")
        } else {
            s.split('.').find_map(|label| {
                let b = label.as_bytes();
                if b.is_empty() {
                    Some("has an empty label (two dots in a row, or a leading or trailing dot)")
                } else if b.len() > MAX_LABEL_LEN {
                    Some("has a label longer than 63 characters")
                } else if !b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-') {
                    Some("may contain only lowercase letters, digits, '-' and '.'")
                } else if b[0] == b'-' || b[b.len() - 1] == b'-' {
                    Some("has a label that starts or ends with '-'")
                } else {
                    None
                }
            })
        };
        match problem {
            None => Ok(HostName(s)),
            Some(problem) => Err(NameError { value: s, problem }),
        }
    }

    /// `<label>.<a.b.c.d>.nip.io`: a host that resolves to `ip` without any DNS
    /// record of one's own. The IP is typed, so the host cannot be malformed.
    pub fn nip_io(label: &Name, ip: Ipv4Addr) -> Self {
        HostName(format!("{label}.{ip}.nip.io"))
    }

    /// The host, as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_service_like_names() {
        for ok in ["identity", "identity-db", "a", "web2", &"a".repeat(63)] {
            assert_eq!(Name::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_names_kubernetes_rejects() {
        let cases = [
            ("", "is empty"),
            ("Identity", "must start with a lowercase letter"),
            ("1db", "must start with a lowercase letter"),
            ("db_1", "may contain only lowercase letters, digits and '-'"),
            ("db.1", "may contain only lowercase letters, digits and '-'"),
            ("db-", "must end with a letter or digit"),
        ];
        for (bad, problem) in cases {
            assert_eq!(Name::new(bad).unwrap_err().problem, problem, "{bad:?}");
        }
        assert_eq!(Name::new("a".repeat(64)).unwrap_err().problem, "is longer than 63 characters");
    }

    #[test]
    fn suffix_is_checked_again() {
        let long = Name::new("a".repeat(60)).unwrap();
        assert!(long.suffixed("db").is_ok());
        assert!(long.suffixed("migrate").is_err());
    }

    #[test]
    fn name_macro_is_const() {
        const N: Name = name!("scheduling");
        assert_eq!(N.as_str(), "scheduling");
        assert_eq!(name!("fhir-gateway").env_var_stem(), "FHIR_GATEWAY");
    }

    #[test]
    fn nip_io_host() {
        let host = HostName::nip_io(&name!("clinicflow-dev"), Ipv4Addr::new(192, 168, 10, 240));
        assert_eq!(host.as_str(), "clinicflow-dev.192.168.10.240.nip.io");
        assert!(HostName::new(host.as_str()).is_ok());
    }

    #[test]
    fn host_rules() {
        assert!(HostName::new("clinicflow.example.com").is_ok());
        for bad in ["", "a..b", ".a", "a.", "A.com", "*.example.com", "-a.com", "a_b.com"] {
            assert!(HostName::new(bad).is_err(), "{bad:?}");
        }
    }
}
