//! User policies: every `policies/*.rego` file, evaluated in-process with
//! regorus over every rendered object. `input` is the object as it is
//! rendered; `data.environment` holds the environment's name, namespace,
//! stage and compliance label. Each message of a package's `deny` rule is a
//! finding `rego/<package>` on that object.

use std::fs;
use std::path::Path;

use gitops_core::profile::Stage;
use regorus::{Engine, Value};

use crate::{Environment, Severity, Sink};

/// Loaded Rego policies, ready to evaluate.
#[derive(Clone, Default)]
pub struct Policies {
    engine: Option<Engine>,
    /// (file, package path such as `data.brainsait.production`)
    packages: Vec<(String, String)>,
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
        let mut packages = Vec::new();
        for (file, text) in sources {
            let package =
                engine.add_policy(file.clone(), text).map_err(|e| PolicyError::Parse(e.to_string()))?;
            packages.push((file, package));
        }
        Ok(Policies { engine: Some(engine), packages })
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    pub(crate) fn evaluate(&self, env: &Environment, sink: &mut Sink) -> Result<(), PolicyError> {
        let Some(base) = &self.engine else { return Ok(()) };
        let mut engine = base.clone();
        let profile = env.profile;
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
        for target in &env.targets {
            let json = serde_json::to_string(target.object).expect("objects serialize");
            engine.set_input(Value::from_json_str(&json).expect("serde_json output is JSON"));
            for (file, package) in &self.packages {
                let eval_err = |message: String| PolicyError::Eval {
                    file: file.clone(),
                    package: package.clone(),
                    object: format!("{} {}", target.object.kind(), target.object.name()),
                    message,
                };
                let denied =
                    engine.eval_rule(format!("{package}.deny")).map_err(|e| eval_err(e.to_string()))?;
                let messages: Vec<String> = match denied {
                    Value::Undefined | Value::Null => Vec::new(),
                    Value::Set(set) => set.iter().map(message_text).collect(),
                    Value::Array(items) => items.iter().map(message_text).collect(),
                    other => return Err(eval_err(format!("`deny` is {other}, not a set of messages"))),
                };
                let rule = format!("rego/{}", package.trim_start_matches("data."));
                for message in messages {
                    sink.push(rule.clone(), Severity::Error, Some(target), format!("{message} ({file})"));
                }
            }
        }
        Ok(())
    }
}

fn message_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}
