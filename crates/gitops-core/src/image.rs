//! Container image references.
//!
//! A service image is `repository:tag` where the tag is an [`ImageTag`]: the
//! immutable git-SHA tag CI pushed (`sha-<hex>`), or a full semantic version
//! where the platform's [`TagRule`] allows one. Floating tags (`latest`,
//! `dev-latest`, …) cannot be represented. Third-party images (Postgres) are
//! pinned by a [`VersionTag`], which starts with a digit and so is never
//! `latest` either.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A repository without tag or digest: `docker.io/bludivehub/clinicflow-web`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRepository(Cow<'static, str>);

/// Why a string is not an [`ImageRepository`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an image repository: {problem}")]
pub struct RepositoryError {
    /// The string.
    pub value: String,
    /// The rule it breaks.
    pub problem: &'static str,
}

const fn repository_problem(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Some("it is empty");
    }
    let mut i = 0;
    let mut slashes = 0;
    while i < b.len() {
        let c = b[i];
        if c == b':' || c == b'@' {
            return Some("give the repository alone; the tag comes from the release file");
        }
        if c == b'/' {
            slashes += 1;
            if i == 0 || i + 1 == b.len() || b[i + 1] == b'/' {
                return Some("it has an empty path component");
            }
        } else if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'_') {
            return Some("use lowercase letters, digits, '.', '-', '_' and '/'");
        }
        i += 1;
    }
    if slashes == 0 {
        return Some("name the registry and path in full, e.g. docker.io/library/postgres");
    }
    None
}

impl ImageRepository {
    /// The repository literal `s`: the registry and path in full (at least one
    /// `/`; lowercase letters, digits, `.`, `-`, `_`), with no tag or digest.
    /// Checked at compile time in a `const` context; panics otherwise.
    pub const fn from_static(s: &'static str) -> Self {
        if let Some(problem) = repository_problem(s) {
            panic!("{}", problem);
        }
        ImageRepository(Cow::Borrowed(s))
    }

    /// The repository `s`, checked as [`ImageRepository::from_static`] checks a literal.
    pub fn new(s: impl Into<String>) -> Result<Self, RepositoryError> {
        let s = s.into();
        match repository_problem(&s) {
            None => Ok(ImageRepository(Cow::Owned(s))),
            Some(problem) => Err(RepositoryError { value: s, problem }),
        }
    }

    /// The repository, as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ImageRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Why a string is not an [`ImageTag`]. Each variant names the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// No tag at all.
    #[error("the image tag is empty")]
    Empty,
    #[error(
        "`{0}` is a floating tag; it moves with every push, so a deployment cannot be reproduced or rolled back"
    )]
    /// `latest` or another tag that moves with every push.
    Floating(String),
    /// Not `sha-` and a commit, where the platform's tag rule asks for one.
    #[error("`{0}` is not an immutable git SHA tag")]
    NotSha(String),
    /// Not a semantic version, where the platform's tag rule asks for one.
    #[error("`{0}` is not a semantic version such as `v1.4.2`")]
    NotSemVer(String),
    /// Neither form, where the platform's tag rule accepts both.
    #[error("`{0}` is neither a git SHA tag (`sha-1a2b3c4`) nor a semantic version (`v1.4.2`)")]
    NeitherForm(String),
    /// `sha-` followed by something other than 7 to 40 lowercase hex digits.
    #[error("`{tag}` has {problem}")]
    BadSha {
        /// The tag.
        tag: String,
        /// What is wrong after `sha-`.
        problem: &'static str,
    },
}

impl TagError {
    /// The rule every release tag has to meet, for error messages.
    pub const RULE: &'static str = "tags are `sha-` followed by 7 to 40 lowercase hex digits of the commit the image was built from (e.g. `sha-1a2b3c4`)";
}

/// An immutable image tag: `sha-` followed by 7 to 40 lowercase hexadecimal
/// digits (a short or full git commit SHA) or, built with [`ImageTag::any`] or
/// [`ImageTag::parse`], a full semantic version (`v1.4.2`). Deserializing
/// accepts either form, as [`ImageTag::any`] does; which one a platform takes is
/// checked with [`TagRule::admits`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageTag(String);

/// The form a platform's release tags take. Either form is immutable by
/// convention; floating tags (`latest`, `main`, `1.4`) are never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagRule {
    /// `sha-` and 7 to 40 lowercase hex digits of the commit (ClinicFlow's GitOps README).
    #[default]
    GitSha,
    /// A full semantic version, `v` optional: `v0.10.6`, `1.4.2-rc.1`.
    SemVer,
    /// Either of the two.
    GitShaOrSemVer,
}

impl TagRule {
    /// The rule, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            TagRule::GitSha => TagError::RULE,
            TagRule::SemVer => {
                "tags are full semantic versions, `v` optional (e.g. `v1.4.2`, `1.4.2-rc.1`); floating tags such as `latest` or `1.4` are refused"
            }
            TagRule::GitShaOrSemVer => {
                "tags are `sha-<7 to 40 hex digits>` or a full semantic version (e.g. `sha-1a2b3c4`, `v1.4.2`)"
            }
        }
    }

    /// The JSON Schema pattern of a tag under this rule.
    pub fn pattern(self) -> &'static str {
        match self {
            TagRule::GitSha => "^sha-[0-9a-f]{7,40}$",
            TagRule::SemVer => "^v?(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$",
            TagRule::GitShaOrSemVer => {
                "^(sha-[0-9a-f]{7,40}|v?(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?)$"
            }
        }
    }

    /// Checks `tag`'s form (git SHA tag or semantic version) against the rule:
    /// [`TagError::NotSha`] or [`TagError::NotSemVer`] when it is the other form.
    pub fn admits(self, tag: &ImageTag) -> Result<(), TagError> {
        let sha = tag.0.starts_with(ImageTag::PREFIX);
        match self {
            TagRule::GitSha if !sha => Err(TagError::NotSha(tag.0.clone())),
            TagRule::SemVer if sha => Err(TagError::NotSemVer(tag.0.clone())),
            _ => Ok(()),
        }
    }
}

/// Is `s` a full semantic version (`v` optional, a pre-release allowed, no
/// build metadata: image tags cannot hold `+`)?
fn is_semver(s: &str) -> bool {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (core, pre) = match s.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (s, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let number_ok = |n: &&str| {
        !n.is_empty()
            && n.len() <= 20
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
    };
    numbers.len() == 3
        && numbers.iter().all(number_ok)
        && pre.is_none_or(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
}

impl ImageTag {
    /// What every git-SHA tag starts with.
    pub const PREFIX: &'static str = "sha-";

    /// A tag under `rule`.
    pub fn parse(s: impl Into<String>, rule: TagRule) -> Result<Self, TagError> {
        match rule {
            TagRule::GitSha => Self::new(s),
            TagRule::GitShaOrSemVer => Self::any(s),
            TagRule::SemVer => match Self::any(s)? {
                tag if tag.0.starts_with(Self::PREFIX) => Err(TagError::NotSemVer(tag.0)),
                tag => Ok(tag),
            },
        }
        .map_err(|e| match (e, rule) {
            (TagError::NeitherForm(s), TagRule::SemVer) => TagError::NotSemVer(s),
            (e, _) => e,
        })
    }

    /// A tag of either immutable form (a git SHA tag or a semantic version);
    /// which one a platform takes is its [`TagRule`].
    pub fn any(s: impl Into<String>) -> Result<Self, TagError> {
        let s = s.into();
        if s.len() <= 128 && !s.starts_with(Self::PREFIX) && is_semver(&s) {
            return Ok(ImageTag(s));
        }
        match Self::new(s) {
            Err(TagError::NotSha(s)) => Err(TagError::NeitherForm(s)),
            other => other,
        }
    }

    /// A git SHA tag (`sha-<hex>`), the default rule. Refuses an empty tag,
    /// `latest` and any `*-latest` tag ([`TagError::Floating`]) before checking the form.
    pub fn new(s: impl Into<String>) -> Result<Self, TagError> {
        let s = s.into();
        if s.is_empty() {
            return Err(TagError::Empty);
        }
        if s == "latest" || s.ends_with("-latest") {
            return Err(TagError::Floating(s));
        }
        let Some(hex) = s.strip_prefix(Self::PREFIX) else {
            return Err(TagError::NotSha(s));
        };
        let problem = if !hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
            Some("characters other than lowercase hex digits after `sha-`")
        } else if hex.len() < 7 {
            Some("fewer than 7 hex digits after `sha-`")
        } else if hex.len() > 40 {
            Some("more than 40 hex digits after `sha-`")
        } else {
            None
        };
        match problem {
            None => Ok(ImageTag(s)),
            Some(problem) => Err(TagError::BadSha { tag: s, problem }),
        }
    }

    /// The tag, as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ImageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Serialize for ImageTag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ImageTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ImageTag::any(s).map_err(|e| serde::de::Error::custom(format!("{e}; {}", TagError::RULE)))
    }
}

impl schemars::JsonSchema for ImageTag {
    fn schema_name() -> Cow<'static, str> {
        "ImageTag".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^sha-[0-9a-f]{7,40}$",
            "description": TagError::RULE,
        })
    }
}

/// A content digest, `sha256:` and 64 lowercase hex digits: what a registry
/// cannot move, unlike a tag.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageDigest(Cow<'static, str>);

/// Why a string is not an [`ImageDigest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an image digest; a digest is `sha256:` followed by 64 lowercase hex digits, as `docker push` prints it"
)]
pub struct DigestError(
    /// The string.
    pub String,
);

const fn digest_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 71 {
        return false;
    }
    let prefix = b"sha256:";
    let mut i = 0;
    while i < 7 {
        if b[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    while i < 71 {
        if !(b[i].is_ascii_digit() || (b[i] >= b'a' && b[i] <= b'f')) {
            return false;
        }
        i += 1;
    }
    true
}

impl ImageDigest {
    /// A digest literal, checked at compile time (`sha256:` and 64 lowercase hex digits).
    pub const fn from_static(s: &'static str) -> Self {
        if !digest_ok(s) {
            panic!("an image digest is `sha256:` followed by 64 lowercase hex digits");
        }
        ImageDigest(Cow::Borrowed(s))
    }

    /// The digest `s`, checked as [`ImageDigest::from_static`] checks a literal.
    pub fn new(s: impl Into<String>) -> Result<Self, DigestError> {
        let s = s.into();
        if digest_ok(&s) { Ok(ImageDigest(Cow::Owned(s))) } else { Err(DigestError(s)) }
    }

    /// The digest, as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ImageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for ImageDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ImageDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ImageDigest::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for ImageDigest {
    fn schema_name() -> Cow<'static, str> {
        "ImageDigest".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^sha256:[0-9a-f]{64}$",
            "description": "The digest `docker push` printed for this tag; what the kubelet pulls.",
        })
    }
}

/// The version tag of a third-party image (`17.6`): 1 to 128 letters, digits,
/// `.`, `-` or `_`, starting with a digit, so never `latest` or another name.
/// An upstream may still rebuild a version tag (`17.6` after a base image
/// update); [`PinnedImage::digest`] fixes the bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VersionTag(Cow<'static, str>);

const fn version_problem(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 128 {
        return Some("a tag has 1 to 128 characters");
    }
    if !b[0].is_ascii_digit() {
        return Some("a pinned version starts with a digit (e.g. `17.6`); `latest` and other names float");
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_') {
            return Some("a tag may contain only letters, digits, '.', '-' and '_'");
        }
        i += 1;
    }
    None
}

impl VersionTag {
    /// A version literal, checked at compile time: it starts with a digit (`17.6`), so `latest` and other
    /// floating names are refused. Panics otherwise.
    pub const fn from_static(s: &'static str) -> Self {
        if let Some(problem) = version_problem(s) {
            panic!("{}", problem);
        }
        VersionTag(Cow::Borrowed(s))
    }

    /// The version, as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for VersionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// A third-party image pinned by version, and by digest when given, e.g.
/// `docker.io/library/postgres:17.6@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedImage {
    /// The registry and repository.
    pub repository: ImageRepository,
    /// The version tag (`17.6`).
    pub version: VersionTag,
    /// The digest of that version; `None` pulls by the version tag alone
    /// (no profile setting requires one here).
    pub digest: Option<ImageDigest>,
}

impl PinnedImage {
    /// `repository:version`, with `@digest` when there is one.
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(digest) => format!("{}:{}@{digest}", self.repository, self.version.as_str()),
            None => format!("{}:{}", self.repository, self.version.as_str()),
        }
    }
}

/// `repository:tag`, or `repository:tag@digest`: the tag stays readable in
/// reviews, and the digest is what the kubelet pulls.
pub fn image_reference(repository: &ImageRepository, tag: &ImageTag, digest: Option<&ImageDigest>) -> String {
    match digest {
        Some(digest) => format!("{repository}:{tag}@{digest}"),
        None => format!("{repository}:{tag}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_short_and_full_sha_tags() {
        for ok in ["sha-1a2b3c4", "sha-0123456789abcdef0123456789abcdef01234567"] {
            assert_eq!(ImageTag::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_every_floating_tag_the_sources_name() {
        for bad in ["latest", "dev-latest", "staging-latest", "prod-latest"] {
            assert_eq!(ImageTag::new(bad), Err(TagError::Floating(bad.into())));
        }
        assert_eq!(ImageTag::new(""), Err(TagError::Empty));
    }

    #[test]
    fn rejects_malformed_sha_tags() {
        let cases = [
            ("v1.2.3", None),
            ("1a2b3c4", None),
            ("sha-1a2b3c", Some("fewer than 7 hex digits after `sha-`")),
            ("sha-1A2B3C4", Some("characters other than lowercase hex digits after `sha-`")),
            ("sha-1a2b3cg", Some("characters other than lowercase hex digits after `sha-`")),
            ("sha-", Some("fewer than 7 hex digits after `sha-`")),
        ];
        for (bad, problem) in cases {
            match (ImageTag::new(bad).unwrap_err(), problem) {
                (TagError::NotSha(t), None) => assert_eq!(t, bad),
                (TagError::BadSha { problem: p, .. }, Some(want)) => assert_eq!(p, want, "{bad}"),
                (other, _) => panic!("{bad}: unexpected {other:?}"),
            }
        }
        let long = format!("sha-{}", "a".repeat(41));
        assert!(matches!(ImageTag::new(long), Err(TagError::BadSha { .. })));
    }

    #[test]
    fn repositories_are_full_and_untagged() {
        assert!(ImageRepository::new("docker.io/bludivehub/clinicflow-web").is_ok());
        for bad in ["", "postgres", "docker.io/library/postgres:17", "docker.io//x", "Docker.io/x"] {
            assert!(ImageRepository::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn digests_are_sha256_and_64_lowercase_hex() {
        let ok = format!("sha256:{}", "0123456789abcdef".repeat(4));
        assert_eq!(ImageDigest::new(ok.clone()).unwrap().as_str(), ok);
        for bad in [
            String::new(),
            "sha256:abc".into(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha512:{}", "a".repeat(64)),
            format!("sha256:{}", "a".repeat(65)),
            format!("sha256:{}g", "a".repeat(63)),
        ] {
            let err = ImageDigest::new(bad.clone()).unwrap_err().to_string();
            assert!(err.contains("`sha256:` followed by 64 lowercase hex digits"), "{bad}: {err}");
        }
        let repo = ImageRepository::from_static("docker.io/acme/a");
        let tag = ImageTag::new("sha-1234567").unwrap();
        let digest = ImageDigest::new(ok.clone()).unwrap();
        assert_eq!(image_reference(&repo, &tag, Some(&digest)), format!("docker.io/acme/a:sha-1234567@{ok}"));
        assert_eq!(image_reference(&repo, &tag, None), "docker.io/acme/a:sha-1234567");
    }

    #[test]
    fn version_tags_never_float() {
        const PG: VersionTag = VersionTag::from_static("17.6");
        assert_eq!(PG.as_str(), "17.6");
        assert!(version_problem("latest").is_some());
        assert!(version_problem("").is_some());
        assert!(version_problem("17.6-bookworm").is_none());
    }
}
