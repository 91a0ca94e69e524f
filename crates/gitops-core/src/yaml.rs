//! The one module that knows the YAML library.
//!
//! `serde_yaml` is archived upstream; replacing it must touch this module
//! only. Emission is deterministic: struct fields in declaration order, maps
//! sorted (k8s-openapi and this crate use `BTreeMap`), block style, and a
//! trailing newline. [`to_string`] writes serde_yaml's exact bytes through
//! the native emitter of [`emit`] (the render's hot path) and asks
//! serde_yaml itself for the rare value outside that emitter's subset.

mod emit;

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

/// One YAML document, ending in a newline: the bytes `serde_yaml::to_string` writes.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, YamlError> {
    match emit::to_string(value) {
        Ok(text) => Ok(text),
        Err(emit::Fallback) => Ok(serde_yaml::to_string(value)?),
    }
}

/// `header` (comment lines, each ending in a line break), then [`to_string`]'s
/// document: a rendered file in one allocation of its exact size.
pub fn to_string_with_header<T: Serialize + ?Sized>(header: &str, value: &T) -> Result<String, YamlError> {
    assert!(header.is_empty() || header.ends_with('\n'), "the header ends with a line break");
    match emit::after(header.to_owned(), value) {
        Ok(text) => Ok(text),
        Err(emit::Fallback) => Ok(format!("{header}{}", serde_yaml::to_string(value)?)),
    }
}

/// The native emitter's output, or `None` where [`to_string`] falls back to
/// serde_yaml. For tests that the rendered objects stay on the fast path.
#[doc(hidden)]
pub fn to_string_native<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    emit::to_string(value).ok()
}

/// Parses exactly one document through a `DeserializeSeed`, keeping error locations.
pub fn from_str_seed<'de, S: DeserializeSeed<'de>>(text: &'de str, seed: S) -> Result<S::Value, YamlError> {
    Ok(seed.deserialize(serde_yaml::Deserializer::from_str(text))?)
}

/// Parses one document into `T`.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    Ok(serde_yaml::from_str(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// The native emitter writes serde_yaml's bytes, or declines.
    fn same_as_serde_yaml(value: &Value) -> Result<bool, String> {
        let expected = serde_yaml::to_string(value).unwrap();
        match to_string_native(value) {
            None => Ok(false),
            Some(native) if native == expected => Ok(true),
            Some(native) => Err(format!("{value}\nserde_yaml:\n{expected}\nnative:\n{native}")),
        }
    }

    const TRICKY: &[&str] = &[
        "",
        " ",
        "a",
        "a b",
        " a",
        "a ",
        "-",
        "- a",
        "-a",
        "--- a",
        "...",
        "?",
        "? a",
        "?a",
        ":",
        ": a",
        "a:",
        "a: b",
        "a:b",
        "#",
        "a #b",
        "a#b",
        "'",
        "a'b",
        "'a'",
        "\"",
        "[a]",
        "{a}",
        "a,b",
        "&a",
        "*a",
        "!a",
        "|",
        ">",
        "%",
        "@",
        "`",
        "~",
        "null",
        "Null",
        "NULL",
        "nul",
        "true",
        "True",
        "TRUE",
        "yes",
        "no",
        "false",
        "0",
        "00",
        "01",
        "-01",
        "+01",
        "1",
        "-1",
        "+1",
        "+-1",
        "-+1",
        "1.5",
        ".5",
        "1.",
        "1e5",
        "1E5",
        "-1e5",
        ".inf",
        "-.inf",
        "+.inf",
        ".nan",
        "+.nan",
        "inf",
        "nan",
        "infinity",
        "0x1F",
        "-0x1F",
        "+0x1F",
        "0x",
        "0x-1",
        "0o17",
        "0b101",
        "0b2",
        "1_000",
        "4",
        "'4'",
        "sha-4e1c9a7",
        "100m",
        "1Gi",
        "http://a.b:80",
        "a\nb",
        "a\n",
        "a\n\n",
        "\n",
        "\na",
        " a\nb",
        "a \nb",
        "a\n b",
        "a\n\nb\n",
        "a\nb ",
        "  two\nlines\n",
        "x\ty",
        "é",
        "a\rb",
        "1.0.0",
        "v1",
        "12:30",
        "2024-01-01",
    ];

    #[test]
    fn tricky_strings_match_serde_yaml_as_values_keys_and_items() {
        let mut native = 0;
        for s in TRICKY {
            for value in
                [json!(s), json!({ *s: s }), json!([s, [s], { "k": [s] }]), json!({ "a": { *s: [] } })]
            {
                native += usize::from(same_as_serde_yaml(&value).unwrap());
            }
        }
        assert!(native > TRICKY.len() * 3, "most values stay native ({native})");
    }

    #[test]
    fn a_header_comes_first_on_both_paths() {
        for v in [json!({ "a": [1] }), json!({ "k": "é" })] {
            let text = to_string_with_header("# h\n", &v).unwrap();
            assert_eq!(text, format!("# h\n{}", serde_yaml::to_string(&v).unwrap()));
        }
    }

    #[test]
    fn structure_matches_serde_yaml() {
        let values = [
            json!(null),
            json!(7),
            json!(-7),
            json!(true),
            json!([]),
            json!({}),
            json!([[]]),
            json!([{}]),
            json!({ "a": [] , "b": {} }),
            json!([[1, [2, 3]], { "a": [1, { "b": [] }] }]),
            json!({ "a": { "b": { "c": [ { "d": 1, "e": [ [ "x" ] ] } ] } } }),
            json!({ "script": "hs = {}\nif a then\n  b\nend\nreturn hs\n", "n": 1 }),
            json!([ "line\nline\n", { "k": "x\ny" } ]),
        ];
        for v in &values {
            assert!(same_as_serde_yaml(v).unwrap(), "{v} stays native");
        }
    }

    #[test]
    fn out_of_subset_values_fall_back_to_serde_yaml() {
        for v in [
            json!(1.5),
            json!({ "k": "é" }),
            json!({ "a\nb": 1 }),
            json!({ "k": "a\n\n" }),
            json!("x".repeat(200)),
        ] {
            assert_eq!(to_string(&v).unwrap(), serde_yaml::to_string(&v).unwrap());
        }
        assert!(to_string_native(&json!({ "x".repeat(129): 1 })).is_none(), "complex keys fall back");
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "Z", "0", "1", "7", "-", "+", ".", " ", "  ", ":", "#", "'", "\"", "\n", "?", ",", "[",
                "]", "{", "}", "!", "&", "*", "|", ">", "%", "@", "`", "~", "x", "e", "null", "true", "0x",
                "\t", "é",
            ]),
            0..8,
        )
        .prop_map(|parts| parts.concat())
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            text().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_value_is_serde_yamls_bytes(v in value()) {
            prop_assert!(same_as_serde_yaml(&v).is_ok(), "{}", same_as_serde_yaml(&v).unwrap_err());
            prop_assert_eq!(to_string(&v).unwrap(), serde_yaml::to_string(&v).unwrap());
        }
    }
}
