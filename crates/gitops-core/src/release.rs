//! Release pins: which image tag each service runs in one environment.
//!
//! `releases/<env>.yaml` is the one file CI edits. It is parsed at the edge
//! into typed pins: every error names the file, the line and the rule, and a
//! file that names an unknown service or misses one does not parse.
//!
//! ```yaml
//! images:
//!   identity:
//!     tag: sha-1a2b3c4
//! ```

use std::cell::Cell;
use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::hash::FxHashMap;
use crate::image::{ImageDigest, ImageTag, TagRule};
use crate::name::Name;
use crate::yaml;

pub mod edit;

/// The image of one service in one environment: the tag CI pushed, and the
/// digest the push printed (required where the profile says so).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The tag CI pushed (`sha-1a2b3c4`).
    pub tag: ImageTag,
    /// The digest the push printed; the kubelet pulls by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<ImageDigest>,
}

impl Pin {
    /// A pin by `tag` alone.
    pub fn tag(tag: ImageTag) -> Self {
        Pin { tag, digest: None }
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.digest {
            Some(digest) => write!(f, "{}@{digest}", self.tag),
            None => write!(f, "{}", self.tag),
        }
    }
}

/// The parsed release file of one environment, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "Release pins",
    description = "The image tag each service runs in one environment. Edited by `cargo xtask set-image`."
)]
pub struct ReleasePins {
    /// Each service's pin, in file order.
    pub images: IndexMap<Name, Pin>,
}

impl ReleasePins {
    /// The tag `service` runs.
    pub fn tag(&self, service: &Name) -> Option<&ImageTag> {
        self.images.get(service).map(|p| &p.tag)
    }

    /// The pin of `service`.
    pub fn pin(&self, service: &Name) -> Option<&Pin> {
        self.images.get(service)
    }

    /// The JSON Schema of a release file for a platform whose services are
    /// `services`: the generic schema, with `images` narrowed to exactly those
    /// services so that editors complete their names and flag a missing one.
    pub fn json_schema(services: &[Name]) -> serde_json::Value {
        Self::json_schema_for(services, TagRule::GitSha)
    }

    /// [`ReleasePins::json_schema`] for a platform whose tags follow `rule`.
    pub fn json_schema_for(services: &[Name], rule: TagRule) -> serde_json::Value {
        let mut schema = schemars::schema_for!(ReleasePins).to_value();
        schema["$defs"]["ImageTag"]["pattern"] = rule.pattern().into();
        schema["$defs"]["ImageTag"]["description"] = rule.describe().into();
        let pin = serde_json::json!({ "$ref": "#/$defs/Pin" });
        schema["properties"]["images"] = serde_json::json!({
            "description": "Every service of the platform, each with the tag of its image.",
            "type": "object",
            "properties": services.iter().map(|s| (s.to_string(), pin.clone())).collect::<serde_json::Map<_, _>>(),
            "required": services,
            "additionalProperties": false,
        });
        schema
    }

    /// Parses `text`, read from `file`, for a platform whose services are
    /// `services` and whose tags are git SHA tags.
    pub fn parse(file: &str, text: &str, services: &[Name]) -> Result<Self, ReleaseError> {
        Self::parse_for(file, text, services, TagRule::GitSha)
    }

    /// Parses `text`, read from `file`, for a platform whose released
    /// services are `services` and whose tags follow `rule`.
    pub fn parse_for(file: &str, text: &str, services: &[Name], rule: TagRule) -> Result<Self, ReleaseError> {
        let located = |e: yaml::YamlError| ReleaseError {
            file: file.to_owned(),
            line: e.line,
            column: e.column,
            message: e.message,
        };
        if text.len() as u64 > crate::source::MAX_DATA_BYTES {
            return Err(ReleaseError {
                file: file.to_owned(),
                line: None,
                column: None,
                message: format!(
                    "is larger than {} bytes, the limit for an input file; a release file is a few lines per service",
                    crate::source::MAX_DATA_BYTES
                ),
            });
        }
        if text.trim().is_empty() {
            return Err(ReleaseError {
                file: file.into(),
                line: None,
                column: None,
                message: "the file is empty; list every service under `images:`, e.g. `images: {identity: {tag: sha-1a2b3c4}}`".into(),
            });
        }
        let bad_key = Cell::new(None);
        // Keys are looked up by name: linear in the size of the platform.
        let index: FxHashMap<&str, &Name> = services.iter().map(|s| (s.as_str(), s)).collect();
        let services = Services { all: services, index: &index, rule };
        yaml::from_str_seed(text, FileSeed { services, bad_key: &bad_key }).map_err(|e| {
            let mut err = located(e);
            // Messages of the YAML library itself say what is wrong, not what to do.
            if !err.message.contains("; ") {
                err.message.push_str(&format!("; {SHAPE}"));
            }
            // The YAML library places errors raised on a mapping key at the
            // mapping; point at the key itself.
            if let Some((line, column)) =
                bad_key.take().and_then(|(key, nth)| locate_image_key(text, &key, nth))
            {
                err.line = Some(line);
                err.column = Some(column);
            }
            err
        })
    }
}

/// What a release file looks like, for error messages.
const SHAPE: &str =
    "a release file is `images:` followed by `<service>:` and an indented `tag: sha-<hex>` for every service";

/// A release file that does not parse: where, and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ReleaseError {
    /// The file, relative to the root.
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what to change.
    pub message: String,
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// The 1-based line and column of the `nth` (1-based) occurrence of `key`
/// as a key nested under `images:`.
fn locate_image_key(text: &str, key: &str, nth: usize) -> Option<(usize, usize)> {
    let mut in_images = false;
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 0 {
            in_images = trimmed.starts_with("images:");
            continue;
        }
        let unquoted = trimmed.trim_start_matches(['"', '\'']);
        if in_images
            && unquoted.starts_with(key)
            && unquoted[key.len()..].trim_start_matches(['"', '\'']).trim_start().starts_with(':')
        {
            seen += 1;
            if seen == nth {
                return Some((i + 1, indent + 1));
            }
        }
    }
    None
}

/// The platform's services, in order and by name.
#[derive(Clone, Copy)]
struct Services<'a> {
    all: &'a [Name],
    index: &'a FxHashMap<&'a str, &'a Name>,
    rule: TagRule,
}

struct FileSeed<'a> {
    services: Services<'a>,
    bad_key: &'a Cell<Option<(String, usize)>>,
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = ReleasePins;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<ReleasePins, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = ReleasePins;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping with the key `images`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReleasePins, A::Error> {
        let mut images = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "images" if images.is_none() => {
                    images = Some(
                        map.next_value_seed(ImagesSeed { services: self.services, bad_key: self.bad_key })?,
                    )
                }
                "images" => return Err(de::Error::custom("`images` appears twice; keep one")),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}`; a release file has only `images:`"
                    )));
                }
            }
        }
        images
            .map(|images| ReleasePins { images })
            .ok_or_else(|| de::Error::custom("missing `images:`; list every service's tag under it"))
    }
}

struct ImagesSeed<'a> {
    services: Services<'a>,
    bad_key: &'a Cell<Option<(String, usize)>>,
}

impl<'de> DeserializeSeed<'de> for ImagesSeed<'_> {
    type Value = IndexMap<Name, Pin>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ImagesSeed<'_> {
    type Value = IndexMap<Name, Pin>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping from service name to `{tag: sha-…}`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut images = IndexMap::new();
        while let Some(service) =
            map.next_key_seed(ServiceKey { services: self.services, seen: &images, bad_key: self.bad_key })?
        {
            let pin: Pin = map.next_value_seed(PinSeed(self.services.rule))?;
            images.insert(service, pin);
        }
        let missing: Vec<&str> =
            self.services.all.iter().filter(|s| !images.contains_key(*s)).map(Name::as_str).collect();
        if !missing.is_empty() {
            return Err(de::Error::custom(format!(
                "no tag for {}; every service needs `<service>: {{tag: sha-…}}` under `images:`",
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(images)
    }
}

/// A pin whose tag must follow the platform's rule; the error is raised
/// on the tag itself, so it carries the tag's line and column.
struct PinSeed(TagRule);

impl<'de> DeserializeSeed<'de> for PinSeed {
    type Value = Pin;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Pin, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PinSeed {
    type Value = Pin;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`{tag: …}` with an optional `digest: sha256:…`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pin, A::Error> {
        let (mut tag, mut digest) = (None, None);
        while let Some(field) = map.next_key::<PinField>()? {
            match field {
                PinField::Tag if tag.is_none() => tag = Some(map.next_value_seed(TagSeed(self.0))?),
                PinField::Digest if digest.is_none() => digest = Some(map.next_value::<ImageDigest>()?),
                PinField::Tag => return Err(de::Error::duplicate_field("tag")),
                PinField::Digest => return Err(de::Error::duplicate_field("digest")),
            }
        }
        let tag = tag.ok_or_else(|| de::Error::custom("missing field `tag`"))?;
        Ok(Pin { tag, digest })
    }
}

/// A key of a pin; an unknown one is refused where it stands.
enum PinField {
    Tag,
    Digest,
}

impl<'de> Deserialize<'de> for PinField {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Errors raised inside the visitor carry the key's position.
        struct Field;
        impl Visitor<'_> for Field {
            type Value = PinField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`tag` or `digest`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PinField, E> {
                match v {
                    "tag" => Ok(PinField::Tag),
                    "digest" => Ok(PinField::Digest),
                    other => Err(de::Error::unknown_field(other, &["tag", "digest"])),
                }
            }
        }
        d.deserialize_identifier(Field)
    }
}

struct TagSeed(TagRule);

impl<'de> DeserializeSeed<'de> for TagSeed {
    type Value = ImageTag;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<ImageTag, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for TagSeed {
    type Value = ImageTag;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    // Raised inside the visitor, so the error carries the tag's position.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ImageTag, E> {
        ImageTag::parse(v, self.0).map_err(|e| E::custom(format!("{e}; {}", self.0.describe())))
    }
}

struct ServiceKey<'a> {
    services: Services<'a>,
    seen: &'a IndexMap<Name, Pin>,
    bad_key: &'a Cell<Option<(String, usize)>>,
}

impl<'de> DeserializeSeed<'de> for ServiceKey<'_> {
    type Value = Name;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        let key = String::deserialize(d)?;
        let Some(&service) = self.services.index.get(key.as_str()) else {
            self.bad_key.set(Some((key.clone(), 1)));
            let known: Vec<&str> = self.services.all.iter().map(Name::as_str).collect();
            return Err(de::Error::custom(format!(
                "unknown service `{key}`; the platform's services are: {}",
                known.join(", ")
            )));
        };
        if self.seen.contains_key(service) {
            self.bad_key.set(Some((key.clone(), 2)));
            return Err(de::Error::custom(format!("service `{key}` is pinned twice; keep one entry")));
        }
        Ok(service.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name;

    #[test]
    fn the_schema_names_every_service_and_nothing_else() {
        let schema = ReleasePins::json_schema(&SERVICES);
        let images = &schema["properties"]["images"];
        assert_eq!(images["required"], serde_json::json!(["identity", "web"]));
        assert_eq!(images["additionalProperties"], false);
        assert_eq!(images["properties"]["web"]["$ref"], "#/$defs/Pin");
        assert!(images.get("patternProperties").is_none(), "{images}");
        assert_eq!(schema["$defs"]["ImageTag"]["pattern"], "^sha-[0-9a-f]{7,40}$");
        assert_eq!(schema["$defs"]["Pin"]["additionalProperties"], false);
    }

    const SERVICES: [Name; 2] = [name!("identity"), name!("web")];

    fn parse(text: &str) -> Result<ReleasePins, ReleaseError> {
        ReleasePins::parse("releases/dev.yaml", text, &SERVICES)
    }

    #[test]
    fn parses_pins_in_file_order() {
        let pins =
            parse("# comment\nimages:\n  web:\n    tag: sha-abcdef0\n  identity:\n    tag: sha-1234567\n")
                .unwrap();
        let order: Vec<&str> = pins.images.keys().map(Name::as_str).collect();
        assert_eq!(order, ["web", "identity"]);
        assert_eq!(pins.tag(&name!("identity")).unwrap().as_str(), "sha-1234567");
    }

    #[test]
    fn a_floating_tag_names_file_line_and_rule() {
        let err = parse("images:\n  identity:\n    tag: sha-1234567\n  web:\n    tag: latest\n").unwrap_err();
        assert_eq!(err.file, "releases/dev.yaml");
        assert_eq!(err.line, Some(5), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("releases/dev.yaml:5:"), "{text}");
        assert!(text.contains("`latest` is a floating tag"), "{text}");
        assert!(text.contains(crate::image::TagError::RULE), "{text}");
    }

    #[test]
    fn every_forbidden_tag_is_refused_on_its_line() {
        for bad in ["latest", "dev-latest", "staging-latest", "prod-latest", "''", "v1.2.3", "sha-123"] {
            let err = parse(&format!("images:\n  identity:\n    tag: {bad}\n  web:\n    tag: sha-1234567\n"))
                .unwrap_err();
            assert_eq!(err.line, Some(3), "{bad}: {err}");
            assert!(err.message.contains("tags are `sha-`"), "{bad}: {err}");
        }
    }

    #[test]
    fn unknown_and_missing_services_are_refused() {
        let err = parse("images:\n  identity:\n    tag: sha-1234567\n  idnetity:\n    tag: sha-1234567\n")
            .unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(
            err.message.contains("unknown service `idnetity`; the platform's services are: identity, web"),
            "{err}"
        );

        let err = parse("images:\n  identity:\n    tag: sha-1234567\n").unwrap_err();
        assert!(err.message.contains("no tag for `web`"), "{err}");
    }

    #[test]
    fn structural_mistakes_are_refused() {
        assert!(parse("").unwrap_err().message.contains("the file is empty"));
        assert!(parse("images: [\n").unwrap_err().line.is_some());
        assert!(parse("imgs: {}\n").unwrap_err().message.contains("unknown key `imgs`"));
        let err =
            parse("images:\n  identity:\n    tag: sha-1234567\n    tga: x\n  web:\n    tag: sha-1234567\n")
                .unwrap_err();
        assert!(err.message.contains("unknown field `tga`, expected `tag` or `digest`"), "{err}");
        assert_eq!(err.line, Some(4), "{err}");
        let err =
            parse("images:\n  identity:\n    tag: sha-1234567\n    digest: sha256:abc\n  web:\n    tag: sha-1234567\n")
                .unwrap_err();
        assert!(
            err.message.contains("`sha256:abc` is not an image digest; a digest is `sha256:` followed by 64"),
            "{err}"
        );
        let err = parse("images:\n  identity:\n    tag: [1]\n  web:\n    tag: sha-1234567\n").unwrap_err();
        assert!(err.message.contains("invalid type"), "{err}");
        let err = parse("images:\n  identity:\n    tag: sha-1234567\n  identity:\n    tag: sha-1234567\n  web:\n    tag: sha-1234567\n").unwrap_err();
        assert!(err.message.contains("service `identity` is pinned twice"), "{err}");
        assert_eq!(err.line, Some(4), "{err}");
    }
}

/// Fuzzing the parser with proptest: arbitrary text, arbitrary bytes and
/// random edits of a valid file must give a value or an error, never a
/// panic. `PROPTEST_CASES=100000 cargo test -p gitops-core release::fuzz`
/// runs it longer.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::name;

    const SERVICES: [Name; 2] = [name!("identity"), name!("web")];
    const VALID: &str = "# pins\nimages:\n  identity:\n    tag: sha-1234567\n  web:\n    tag: sha-89abcde\n";

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = ReleasePins::parse("f.yaml", &text, &SERVICES);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = ReleasePins::parse("f.yaml", &String::from_utf8_lossy(&bytes), &SERVICES);
        }

        #[test]
        fn edits_of_a_valid_file_parse_or_fail_with_a_location(
            at in 0..VALID.len(),
            cut in 0usize..6,
            insert in "[ -~\n:\\-\\[\\]{}'\"#]{0,6}",
        ) {
            let end = (at + cut).min(VALID.len());
            let text = format!("{}{}{}", &VALID[..at], insert, &VALID[end..]);
            match ReleasePins::parse("f.yaml", &text, &SERVICES) {
                Ok(pins) => prop_assert_eq!(pins.images.len(), 2),
                Err(e) => {
                    prop_assert_eq!(e.file.as_str(), "f.yaml");
                    prop_assert!(!e.message.is_empty());
                    if let Some(line) = e.line {
                        prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {} of {:?}", line, text);
                    }
                }
            }
        }
    }
}
