//! User policies: every `policies/*.rego` file, evaluated in-process with
//! regorus over every rendered object. `input` is the object as it is
//! rendered; `data.environment` holds the environment's name, namespace,
//! stage and compliance label. Each message of a package's `deny` rule is a
//! finding `rego/<package>` on that object.

mod input;
mod scope;

use std::fs;
use std::path::Path;

use gitops_core::Object;
use gitops_core::profile::{EnvironmentProfile, Stage};
use regorus::{Engine, Value};

use crate::{Severity, Sink, Target};

/// Loaded Rego policies, ready to evaluate.
#[derive(Clone, Default)]
pub struct Policies {
    engine: Option<Engine>,
    packages: Vec<Package>,
    /// The team's rules in Rust, run beside the built-in ones.
    rules: Vec<crate::CustomRule>,
}

/// One Rego package: its `deny` is evaluated once per object in scope.
#[derive(Clone)]
struct Package {
    /// The package's path, such as `data.brainsait.production`.
    path: String,
    /// `data.brainsait.production.deny`, the rule evaluated.
    deny: String,
    /// `rego/brainsait.production`, the id of its findings.
    rule: String,
    /// The files that define it, comma-separated, as findings name them.
    files: String,
    /// The kinds its `deny` can concern ([`scope`]); `None` for every kind.
    kinds: scope::Scope,
}

impl Package {
    fn concerns(&self, object: &Object) -> bool {
        self.kinds.as_ref().is_none_or(|kinds| kinds.contains(object.kind()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}: cannot read the policy ({error})")]
    Read { file: String, error: String },
    /// regorus's message names the file, line and column.
    #[error("policy does not parse:{0}\nfix the Rego (OPA 1.0 syntax: `deny contains msg if {{ ... }}`)")]
    Parse(String),
    #[error("{file}: evaluating `{package}.deny` on {object} failed: {message}")]
    Eval { file: String, package: String, object: String, message: String },
    #[error("rule `{0}`: {1}")]
    Rule(String, String),
}

impl Policies {
    /// No policies at all.
    pub fn none() -> Self {
        Policies::default()
    }

    /// Every `*.rego` file directly in `root/dir`, in name order; none when
    /// the directory does not exist. Errors name the file (relative to root).
    pub fn load_dir(root: &Path, dir: &str) -> Result<Self, PolicyError> {
        let read_err =
            |file: &str, e: std::io::Error| PolicyError::Read { file: file.into(), error: e.to_string() };
        let entries = match fs::read_dir(root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Policies::none()),
            Err(e) => return Err(read_err(dir, e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| read_err(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rego") {
                files.push(format!("{dir}/{name}"));
            }
        }
        files.sort();
        let mut sources = Vec::with_capacity(files.len());
        for file in files {
            let text = fs::read_to_string(root.join(&file)).map_err(|e| read_err(&file, e))?;
            sources.push((file, text));
        }
        Self::from_sources(sources)
    }

    /// Policies from `(file name, Rego text)` pairs.
    pub fn from_sources(sources: Vec<(String, String)>) -> Result<Self, PolicyError> {
        if sources.is_empty() {
            return Ok(Policies::none());
        }
        let mut engine = Engine::new();
        // Package path -> its files, in file order; a package split over
        // several files is evaluated once.
        let mut files: Vec<(String, Vec<String>)> = Vec::new();
        for (file, text) in sources {
            let path =
                engine.add_policy(file.clone(), text).map_err(|e| PolicyError::Parse(e.to_string()))?;
            match files.iter_mut().find(|(p, _)| *p == path) {
                Some((_, of)) => of.push(file),
                None => files.push((path, vec![file])),
            }
        }
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        let scopes = scope::scopes(engine.get_modules(), &paths);
        let packages = files
            .into_iter()
            .zip(scopes)
            .map(|((path, files), kinds)| Package {
                deny: format!("{path}.deny"),
                rule: format!("rego/{}", path.trim_start_matches("data.")),
                files: files.join(", "),
                path,
                kinds,
            })
            .collect();
        Ok(Policies { engine: Some(engine), packages, rules: Vec::new() })
    }

    /// The same policies evaluated over every object, whatever their scope:
    /// for tests that scoping changes no finding.
    #[doc(hidden)]
    pub fn without_scopes(mut self) -> Self {
        for package in &mut self.packages {
            package.kinds = None;
        }
        self
    }

    /// The kinds each package's `deny` is evaluated on (`None`: every kind),
    /// by package path.
    pub fn scopes(&self) -> Vec<(&str, Option<Vec<&str>>)> {
        self.packages
            .iter()
            .map(|p| (p.path.as_str(), p.kinds.as_ref().map(|k| k.iter().map(String::as_str).collect())))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.rules.is_empty()
    }

    /// These policies and the team's `rules` in Rust. An id that a built-in
    /// rule has, that starts with `rego/`, that is not `<team>/<rule>`, or
    /// that two rules share is refused.
    pub fn with_rules(mut self, rules: Vec<crate::CustomRule>) -> Result<Self, PolicyError> {
        for (i, rule) in rules.iter().enumerate() {
            let problem = if crate::rules::find(rule.id).is_some() || rule.id == "waiver" {
                Some("is a built-in rule's id")
            } else if rule.id.starts_with("rego/") {
                Some("is kept for Rego packages")
            } else if !rule.id.split_once('/').is_some_and(|(team, name)| {
                let ok = |s: &str| {
                    !s.is_empty()
                        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                };
                ok(team) && ok(name)
            }) {
                Some("is not `<team>/<rule>` in lowercase letters, digits and `-`")
            } else if rules[..i].iter().any(|r| r.id == rule.id) || self.rules.iter().any(|r| r.id == rule.id)
            {
                Some("is declared twice")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(PolicyError::Rule(
                    rule.id.into(),
                    format!("the id {problem}; name it `<team>/<rule>`, e.g. `acme/team-label`"),
                ));
            }
        }
        self.rules.extend(rules);
        Ok(self)
    }

    /// The team's rules in Rust.
    pub fn rules(&self) -> &[crate::CustomRule] {
        &self.rules
    }

    /// The policies with `data.environment` set for `profile`, ready to
    /// evaluate (and to clone for other threads); `None` without policies.
    pub(crate) fn for_environment(
        &self,
        profile: &EnvironmentProfile,
    ) -> Result<Option<EnvironmentPolicies<'_>>, PolicyError> {
        let Some(base) = &self.engine else { return Ok(None) };
        let mut engine = base.clone();
        let stage = match profile.stage {
            Stage::Development => "development",
            Stage::Staging => "staging",
            Stage::Production => "production",
        };
        let data = serde_json::json!({
            "environment": {
                "name": profile.name.as_str(),
                "namespace": profile.namespace.as_str(),
                "stage": stage,
                "compliance": profile.compliance.as_ref().map(|c| c.as_str()),
            }
        });
        let data = Value::from_json_str(&data.to_string()).expect("serde_json output is JSON");
        engine.add_data(data).map_err(|e| PolicyError::Parse(e.to_string()))?;
        // Analyse the policies once here rather than in every clone: clones
        // of a prepared engine share the prepared policies. The result of
        // this empty input is not used.
        engine.set_input(Value::new_object());
        for package in &self.packages {
            let _ = engine.eval_rule(package.deny.clone());
        }
        Ok(Some(EnvironmentPolicies { engine, packages: &self.packages }))
    }
}

/// [`Policies`] with one environment's data, prepared.
pub(crate) struct EnvironmentPolicies<'p> {
    engine: Engine,
    packages: &'p [Package],
}

impl EnvironmentPolicies<'_> {
    /// Evaluates every package's `deny` with each of `targets` as `input`,
    /// in order, on a clone of the prepared engine. An object outside every
    /// package's scope is neither converted nor evaluated.
    pub(crate) fn evaluate(&self, targets: &[Target], sink: &mut Sink) -> Result<(), PolicyError> {
        let mut engine = self.engine.clone();
        let mut keys = input::Keys::default();
        for target in targets {
            let object = target.object;
            let mut packages = self.packages.iter().filter(|p| p.concerns(object)).peekable();
            if packages.peek().is_none() {
                continue;
            }
            engine.set_input(rego_input(object, &mut keys));
            for package in packages {
                let eval_err = |message: String| PolicyError::Eval {
                    file: package.files.clone(),
                    package: package.path.clone(),
                    object: format!("{} {}", object.kind(), object.name()),
                    message,
                };
                let denied = engine.eval_rule(package.deny.clone()).map_err(|e| eval_err(e.to_string()))?;
                let messages: Vec<String> = match denied {
                    Value::Undefined | Value::Null => Vec::new(),
                    Value::Set(set) => set.iter().map(message_text).collect(),
                    Value::Array(items) => items.iter().map(message_text).collect(),
                    other => return Err(eval_err(format!("`deny` is {other}, not a set of messages"))),
                };
                for message in messages {
                    let message = format!("{message} ({})", package.files);
                    sink.push(package.rule.clone(), Severity::Error, Some(target), message);
                }
            }
        }
        Ok(())
    }
}

/// The object as Rego's `input`: what regorus parses from its JSON, built
/// without the JSON text when the object allows.
fn rego_input(object: &Object, keys: &mut input::Keys) -> Value {
    input::to_value(object, keys).unwrap_or_else(|input::Fallback| json_input(object))
}

fn json_input(object: &Object) -> Value {
    let json = serde_json::to_string(object).expect("objects serialize");
    Value::from_json_str(&json).expect("serde_json output is JSON")
}

/// For tests: `None` when the object's input takes the JSON round trip,
/// else whether the direct input equals it.
#[doc(hidden)]
pub fn direct_input_matches_json(object: &Object) -> Option<bool> {
    let direct = input::to_value(object, &mut input::Keys::default()).ok()?;
    Some(direct == json_input(object))
}

fn message_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}
