//! The one module that knows the YAML library.
//!
//! `serde_yaml` is archived upstream; replacing it must touch this module
//! only. Emission is deterministic: struct fields in declaration order, maps
//! sorted (k8s-openapi and this crate use `BTreeMap`), block style, and a
//! trailing newline. [`to_string`] writes serde_yaml's exact bytes through
//! the native emitter (the private `emit` module, the render's hot path) and
//! asks serde_yaml itself for the rare value outside that emitter's subset.

mod emit;

use serde::Serialize;
use serde::de::DeserializeSeed;

/// A YAML error with the 1-based line and column it refers to, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// The YAML library's message.
    pub message: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The 1-based column, when known.
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

/// Parses exactly one document through a `DeserializeSeed`, keeping error
/// locations; refuses nesting deeper than [`MAX_DEPTH`] first.
pub fn from_str_seed<'de, S: DeserializeSeed<'de>>(text: &'de str, seed: S) -> Result<S::Value, YamlError> {
    check_depth(text)?;
    Ok(seed.deserialize(serde_yaml::Deserializer::from_str(text))?)
}

/// Parses one document into `T`; refuses nesting deeper than [`MAX_DEPTH`] first.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    check_depth(text)?;
    Ok(serde_yaml::from_str(text)?)
}

/// The deepest nesting a data file may have: of flow collections (`[`,
/// `{`), and of block collections, counted in columns of indentation and
/// `- `/`? `/`: ` indicators at two columns a level (more than
/// `2 * MAX_DEPTH` leading columns are refused). The YAML library's time
/// grows with the square of the depth (a 200 KB file of `[` took 50 s); the
/// data read here (release files, sealed secrets, manifests) nests fewer
/// than 20 levels.
pub const MAX_DEPTH: usize = 64;

/// Refuses `text` nested deeper than [`MAX_DEPTH`], in one linear pass that
/// skips comments and quoted scalars, naming the line and column.
fn check_depth(text: &str) -> Result<(), YamlError> {
    let too_deep = |line: usize, column: usize, what: &str| YamlError {
        message: format!(
            "{what} nested more than {MAX_DEPTH} levels deep, the limit for a data file; no file this tool \
             reads nests so deep: remove the extra nesting"
        ),
        line: Some(line),
        column: Some(column),
    };
    let mut flow = 0usize;
    // The quote a quoted scalar is in; quoted scalars may span lines.
    let mut quote: Option<u8> = None;
    for (index, line) in text.split('\n').enumerate() {
        let bytes = line.as_bytes();
        let mut i = 0;
        if quote.is_none() && flow == 0 {
            // Block structure: indentation and the indicators of entries.
            while i < bytes.len() {
                match bytes[i] {
                    b' ' => i += 1,
                    b'-' | b'?' | b':' if bytes.get(i + 1).is_none_or(|b| *b == b' ') => i += 2,
                    _ => break,
                }
            }
            if i > 2 * MAX_DEPTH {
                return Err(too_deep(index + 1, i + 1, "block collections"));
            }
        }
        // Whether the next character starts a scalar (a quote opens one only there).
        let mut at_start = true;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(b'"') if b == b'\\' => i += 1,
                Some(q) if b == q => {
                    // `''` inside single quotes is an escaped quote.
                    if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        quote = None;
                    }
                }
                Some(_) => {}
                None => match b {
                    b'#' if i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t' => break,
                    b'"' | b'\'' if at_start => quote = Some(b),
                    b'[' | b'{' => {
                        flow += 1;
                        if flow > MAX_DEPTH {
                            return Err(too_deep(index + 1, i + 1, "flow collections (`[` and `{`)"));
                        }
                    }
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            at_start = quote.is_none() && matches!(b, b' ' | b'\t' | b'[' | b'{' | b',' | b':' | b'-' | b'?');
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// Deep nesting of every kind is refused at once, naming where; the
    /// same characters in quotes and comments, and the real files' depth,
    /// are not.
    #[test]
    fn nesting_deeper_than_the_limit_is_refused_in_linear_time() {
        let deep_flow = format!("images: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        let err = from_str::<Value>(&deep_flow).unwrap_err();
        assert_eq!((err.line, err.column), (Some(1), Some(8 + MAX_DEPTH + 1)), "{err:?}");
        assert!(
            err.message.starts_with("flow collections (`[` and `{`) nested more than 64 levels"),
            "{err:?}"
        );
        let deep_map = (0..100).map(|d| format!("{}k{d}:\n", " ".repeat(2 * d))).collect::<String>();
        let err = from_str::<Value>(&deep_map).unwrap_err();
        assert_eq!(err.line, Some(66), "{err:?}");
        assert!(err.message.starts_with("block collections nested"), "{err:?}");
        let dashes = format!("{}x\n", "- ".repeat(200));
        assert_eq!(from_str::<Value>(&dashes).unwrap_err().line, Some(1));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "linear, not quadratic");

        let quoted = format!(
            "a: \"{}\"\nb: '{}'\nc: x # {}\nd: it's [fine]\n",
            "[".repeat(500),
            "{".repeat(500),
            "[".repeat(500)
        );
        let value: Value = from_str(&quoted).unwrap();
        assert_eq!(value["a"].as_str().unwrap().len(), 500);
        assert_eq!(value["d"], json!("it's [fine]"));
        let at_limit = format!("{}1{}\n", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(from_str::<Value>(&at_limit).is_ok());
    }

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
