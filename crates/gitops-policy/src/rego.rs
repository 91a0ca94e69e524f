//! User policies: every `policies/*.rego` file, evaluated in-process with
//! regorus over every rendered object. `input` is the object as it is
//! rendered; `data.environment` holds the environment's name, namespace,
//! stage and compliance label. Each message of a package's `deny` rule is a
//! finding `rego/<package>` on that object.
//!
//! A policy is code the render runs, so whatever it says, it cannot hang
//! the render, exhaust its memory or crash it: the private `limits` module has the limits (listed in `docs/guarantees.md`)
//! and how each stage is held to them. A policy over one is refused with
//! [`PolicyError::Limit`], which names the file, the limit and the fix.

mod analysis;
mod eval;
mod guard;
#[cfg(test)]
mod hostile_tests;
mod input;
pub(crate) mod limits;
mod prescan;
mod scope;
mod worker;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use gitops_core::Object;
use gitops_core::profile::{EnvironmentProfile, Stage};
use regorus::{Engine, Value};

use crate::{Severity, Sink, Target};
use eval::Fail;

/// Loaded Rego policies, ready to evaluate.
#[derive(Clone, Default)]
pub struct Policies {
    engine: Option<Engine>,
    packages: Arc<Vec<Package>>,
    /// The evaluation time each package has used, shared by clones: the
    /// policies of one render have one budget.
    budget: Arc<eval::Budget>,
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

/// Why the policies could not be loaded or evaluated. Each names the file
/// (relative to the root) and, where there is one, the line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A policy file could not be read: a link, not a regular file, not UTF-8, unreadable.
    #[error("{file}: cannot read the policy ({error})")]
    Read {
        /// The policy file.
        file: String,
        /// Why (never the file's content).
        error: String,
    },
    /// regorus's message names the file, line and column.
    #[error("policy does not parse:{0}\nfix the Rego (OPA 1.0 syntax: `deny contains msg if {{ ... }}`)")]
    Parse(String),
    /// Evaluating a package's `deny` on one object failed (a builtin's error, a conflict).
    #[error("{file}: evaluating `{package}.deny` on {object} failed: {message}")]
    Eval {
        /// The file that holds the package.
        file: String,
        /// The package (`data.production`).
        package: String,
        /// The object, as `Kind name`.
        object: String,
        /// regorus's message.
        message: String,
    },
    /// A team's [`crate::CustomRule`] cannot be added: the rule's id, and why.
    #[error("rule `{0}`: {1}")]
    Rule(String, String),
    /// A policy went over one of the limits that keep a render from
    /// hanging, running out of memory or crashing; `at` is `:line:col` or empty.
    #[error("{0}")]
    Limit(Box<LimitExceeded>),
}

/// What [`PolicyError::Limit`] says: the file, where in it (`:line:col` or
/// empty), what went over which limit, and the change that brings the
/// policy under it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{at}: {what}; the limit is {limit}\nfix: {fix}")]
pub struct LimitExceeded {
    /// The policy file, relative to the root.
    pub file: String,
    /// `:line:col`, or empty when the limit is not about one place.
    pub at: String,
    /// What went over the limit, and by how much.
    pub what: String,
    /// The limit.
    pub limit: String,
    /// The change that brings the policy under the limit.
    pub fix: String,
}

impl Policies {
    /// No policies at all.
    pub fn none() -> Self {
        Policies::default()
    }

    /// Every `*.rego` file directly in `root/dir`, in name order; none when
    /// the directory does not exist. Errors name the file (relative to root).
    /// A policy file must be a regular file, not a link, of at most 256 KiB.
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
            // Read as every repository input is: no link followed (a linked
            // policy could print a file the repository does not own in a parse
            // error), regular files only, bounded.
            let name = &file[dir.len() + 1..];
            let text = gitops_core::source::read_text(root, dir, name, limits::MAX_FILE_BYTES as u64)
                .map_err(|e| match e {
                    gitops_core::source::SourceError::TooLarge { .. } => limits::error(
                        &file,
                        None,
                        "the policy is larger than the limit",
                        format!("{} per file", limits::bytes(limits::MAX_FILE_BYTES as u64)),
                        "split it into several files (a package may span files)",
                    ),
                    e => PolicyError::Read { file: file.clone(), error: e.to_string() },
                })?;
            sources.push((file, text));
        }
        Self::from_sources(sources)
    }

    /// Policies from `(file name, Rego text)` pairs.
    pub fn from_sources(sources: Vec<(String, String)>) -> Result<Self, PolicyError> {
        if sources.is_empty() {
            return Ok(Policies::none());
        }
        for (file, text) in &sources {
            prescan::check(file, text)?;
        }
        let files: Vec<String> = sources.iter().map(|(file, _)| file.clone()).collect();
        let loaded = worker::run(move |watch| {
            watch.step(0, limits::LOAD_TIME);
            let loaded = load(sources);
            watch.idle();
            loaded
        });
        let (engine, packages) = match loaded {
            Ok(loaded) => loaded?,
            Err(failure) => {
                let what = match failure {
                    worker::Failure::Stuck { .. } => "loading the policies did not finish in time".to_owned(),
                    worker::Failure::Panicked { message, .. } => {
                        format!("regorus failed loading the policies: {message}")
                    }
                    worker::Failure::Spawn(e) => format!("cannot start a thread to load the policies: {e}"),
                };
                return Err(limits::error(
                    &files.join(", "),
                    None,
                    what,
                    format!("{} to read, parse and analyse the policies", limits::secs(limits::LOAD_TIME)),
                    "simplify the policies; this is work the other limits did not foresee, so please report it",
                ));
            }
        };
        let budget = Arc::new(eval::Budget::new(packages.len()));
        Ok(Policies { engine: Some(engine), packages: Arc::new(packages), budget, rules: Vec::new() })
    }

    /// The same policies evaluated over every object, whatever their scope:
    /// for tests that scoping changes no finding.
    #[doc(hidden)]
    pub fn without_scopes(mut self) -> Self {
        for package in Arc::make_mut(&mut self.packages) {
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

    /// Whether there is nothing to run: no Rego package and no team rule.
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
    /// evaluate; `None` without policies. Prepared (analysed once, on a
    /// policy thread) when `shared` says several threads will clone them;
    /// otherwise the one evaluation run prepares them as it goes, which
    /// spares the environment a round trip to a policy thread.
    pub(crate) fn for_environment(
        &self,
        profile: &EnvironmentProfile,
        shared: bool,
    ) -> Result<Option<EnvironmentPolicies<'_>>, PolicyError> {
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
        if shared {
            return self.prepare(data);
        }
        let Some(base) = &self.engine else { return Ok(None) };
        let mut engine = base.clone();
        // Adding data evaluates nothing: it is safe on any thread.
        engine
            .add_data(data)
            .map_err(|e| self.failure(0, "(the environment's data)", Fail::Error(e.to_string())))?;
        Ok(Some(EnvironmentPolicies { engine, policies: self }))
    }

    /// The policies with `data`, ready to evaluate. The policies are
    /// analysed once here rather than in every clone: clones of a prepared
    /// engine share the prepared policies. This evaluates every package on
    /// an empty input, and fails only when that goes over a limit.
    pub(crate) fn prepare(&self, data: Value) -> Result<Option<EnvironmentPolicies<'_>>, PolicyError> {
        let Some(base) = &self.engine else { return Ok(None) };
        let mut engine = base.clone();
        let packages = Arc::clone(&self.packages);
        let budget = Arc::clone(&self.budget);
        let prepared = worker::run(move |watch| {
            engine.add_data(data).map_err(|e| (0, Fail::Error(e.to_string())))?;
            engine.set_input(Value::new_object());
            for (p, package) in packages.iter().enumerate() {
                watch.step(p as u64, limits::EVAL_TIME_PER_OBJECT);
                match eval::deny(&mut engine, &package.deny, p, &budget) {
                    Err(fail @ Fail::Limit { .. }) => return Err((p, fail)),
                    Ok(_) | Err(Fail::Error(_)) => {}
                }
            }
            watch.idle();
            // Leave no evaluation's values in the engine: the asking
            // thread, with its smaller stack, drops them.
            let _ = engine.eval_rule("data".into());
            Ok(engine)
        });
        let failed = |p: usize, fail: Fail| self.failure(p, "(an empty input, while preparing)", fail);
        let engine = match prepared {
            Ok(Ok(engine)) => engine,
            Ok(Err((p, fail))) => return Err(failed(p, fail)),
            Err(failure) => {
                let (p, fail) = self.worker_failure(failure, |step| step as usize);
                return Err(failed(p, fail));
            }
        };
        Ok(Some(EnvironmentPolicies { engine, policies: self }))
    }

    /// The error of `fail`, which evaluating package number `package` on
    /// `object` gave.
    fn failure(&self, package: usize, object: &str, fail: Fail) -> PolicyError {
        let Some(package) = self.packages.get(package) else {
            return PolicyError::Parse(format!("internal error: no package #{package}"));
        };
        match fail {
            Fail::Error(message) => PolicyError::Eval {
                file: package.files.clone(),
                package: package.path.clone(),
                object: object.into(),
                message,
            },
            Fail::Limit { at, hit } => {
                let (file, at) = match at {
                    Some((file, line, col)) => (file, Some((line, col))),
                    None => (package.files.clone(), None),
                };
                limits::error(
                    &file,
                    at,
                    format!("evaluating `{}.deny` on {object}: {}", package.path, hit.what),
                    hit.limit,
                    hit.fix,
                )
            }
        }
    }

    /// The package and failure of a policy thread that gave no result;
    /// `package` reads the package number from the step number.
    fn worker_failure(
        &self,
        failure: worker::Failure,
        mut package: impl FnMut(u64) -> usize,
    ) -> (usize, Fail) {
        match failure {
            worker::Failure::Stuck { step, allowed } => (
                package(step),
                Fail::Limit {
                    at: None,
                    hit: guard::Hit {
                        what: format!(
                            "the evaluation did not stop {} after its time limit: it is inside one operation \
                             regorus cannot interrupt, such as arithmetic on huge numbers, or comparing or \
                             merging values that share their parts many times over",
                            limits::secs(limits::WATCHDOG_GRACE)
                        ),
                        limit: format!(
                            "{} per evaluation of a package's `deny` on one object",
                            limits::secs(allowed)
                        ),
                        fix: "keep numbers to the sizes an object's fields have, and do not build values \
                              by nesting a value in itself (`b := [a, a]`, `c := [b, b]`, ...) to compare or \
                              merge them"
                            .into(),
                    },
                },
            ),
            worker::Failure::Panicked { step, message } => {
                (package(step), Fail::Error(format!("regorus panicked: {message}")))
            }
            worker::Failure::Spawn(e) => {
                (0, Fail::Error(format!("cannot start a thread to evaluate policies: {e}")))
            }
        }
    }
}

/// Loads `(file, text)` pairs: parses them, checks their syntax trees,
/// reads their scopes and wraps the builtins. Runs on a policy thread.
fn load(sources: Vec<(String, String)>) -> Result<(Engine, Vec<Package>), PolicyError> {
    let mut engine = Engine::new();
    let length = regorus::PolicyLengthConfig {
        max_file_bytes: std::num::NonZeroUsize::new(limits::MAX_FILE_BYTES)
            .unwrap_or(std::num::NonZeroUsize::MIN),
        ..Default::default()
    };
    engine.set_policy_length_config(length);
    // Package path -> its files, in file order; a package split over
    // several files is evaluated once.
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    for (file, text) in sources {
        let path = engine.add_policy(file.clone(), text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        match files.iter_mut().find(|(p, _)| *p == path) {
            Some((_, of)) => of.push(file),
            None => files.push((path, vec![file])),
        }
    }
    analysis::check(engine.get_modules())?;
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    let scopes = scope::scopes(engine.get_modules(), &paths);
    guard::install(&mut engine).map_err(|e| PolicyError::Parse(format!("internal error: {e}")))?;
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
    Ok((engine, packages))
}

/// [`Policies`] with one environment's data, prepared.
pub(crate) struct EnvironmentPolicies<'p> {
    engine: Engine,
    policies: &'p Policies,
}

/// What one policy thread evaluated: per object (in order) and package in
/// scope (in order), the messages.
type Denied = Vec<(usize, usize, Vec<String>)>;

/// A run's result on the policy thread: the messages, or the target,
/// package and failure of the evaluation that failed.
type RunResult = Result<Denied, (usize, usize, Fail)>;

/// A run of objects handed to a policy thread by [`EnvironmentPolicies::start`].
pub(crate) struct Started<'t, 'a> {
    targets: &'t [Target<'a>],
    run: Option<Result<worker::Pending<RunResult>, worker::Failure>>,
}

impl EnvironmentPolicies<'_> {
    /// Starts evaluating every package's `deny` with each of `targets` as
    /// `input`, in order, on a clone of the prepared engine: the inputs are
    /// made on this thread, the evaluation runs on a policy thread, and
    /// [`EnvironmentPolicies::finish`] collects the messages. An object
    /// outside every package's scope is neither converted nor evaluated.
    pub(crate) fn start<'t, 'a>(&self, targets: &'t [Target<'a>]) -> Started<'t, 'a> {
        let packages = &self.policies.packages;
        let mut keys = input::Keys::default();
        let mut inputs = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            let object = target.object;
            let concerned: Vec<usize> =
                packages.iter().enumerate().filter(|(_, p)| p.concerns(object)).map(|(p, _)| p).collect();
            if !concerned.is_empty() {
                inputs.push((i, rego_input(object, &mut keys), concerned));
            }
        }
        let run = (!inputs.is_empty()).then(|| self.run_start(inputs));
        Started { targets, run }
    }

    /// The messages of a [`EnvironmentPolicies::start`]ed run, as findings in `sink`.
    pub(crate) fn finish(&self, started: Started, sink: &mut Sink) -> Result<(), PolicyError> {
        let Started { targets, run } = started;
        let Some(run) = run else { return Ok(()) };
        let object_name = |i: usize| format!("{} {}", targets[i].object.kind(), targets[i].object.name());
        let denied =
            self.run_finish(run).map_err(|(i, p, fail)| self.policies.failure(p, &object_name(i), fail))?;
        let packages = &self.policies.packages;
        for (i, p, messages) in denied {
            let package = &packages[p];
            for message in messages {
                let message = format!("{message} ({})", package.files);
                sink.push(package.rule.clone(), Severity::Error, Some(&targets[i]), message);
            }
        }
        Ok(())
    }

    /// For tests: the messages of every package on each of `inputs`.
    #[cfg(test)]
    pub(crate) fn evaluate_inputs(&self, inputs: Vec<Value>) -> Result<Vec<String>, PolicyError> {
        let every: Vec<usize> = (0..self.policies.packages.len()).collect();
        let inputs = inputs.into_iter().enumerate().map(|(i, v)| (i, v, every.clone())).collect();
        let denied = self
            .run(inputs)
            .map_err(|(i, p, fail)| self.policies.failure(p, &format!("input #{i}"), fail))?;
        Ok(denied.into_iter().flat_map(|(_, _, messages)| messages).collect())
    }

    /// Evaluates `(target index, input, packages)` on a policy thread.
    #[cfg(test)]
    fn run(&self, inputs: Vec<(usize, Value, Vec<usize>)>) -> Result<Denied, (usize, usize, Fail)> {
        self.run_finish(self.run_start(inputs))
    }

    /// Hands `(target index, input, packages)` to a policy thread.
    fn run_start(
        &self,
        inputs: Vec<(usize, Value, Vec<usize>)>,
    ) -> Result<worker::Pending<RunResult>, worker::Failure> {
        let mut engine = self.engine.clone();
        let packages = Arc::clone(&self.policies.packages);
        let budget = Arc::clone(&self.policies.budget);
        // A step is one evaluation: the target's index and the package's.
        let step = |i: usize, p: usize| ((i as u64) << 32) | p as u64;
        worker::start(move |watch| {
            let mut denied = Vec::new();
            for (i, input, concerned) in inputs {
                engine.set_input(input);
                for p in concerned {
                    watch.step(step(i, p), limits::EVAL_TIME_PER_OBJECT);
                    match eval::deny(&mut engine, &packages[p].deny, p, &budget) {
                        Ok(messages) => denied.push((i, p, messages)),
                        Err(fail) => return Err((i, p, fail)),
                    }
                }
            }
            watch.idle();
            Ok(denied)
        })
    }

    /// What a run gave: the messages, or the evaluation that failed and why.
    fn run_finish(
        &self,
        run: Result<worker::Pending<RunResult>, worker::Failure>,
    ) -> Result<Denied, (usize, usize, Fail)> {
        let unstep = |step: u64| ((step >> 32) as usize, (step & 0xffff_ffff) as usize);
        match run.and_then(worker::Pending::wait) {
            Ok(result) => result,
            Err(failure) => {
                let mut target = 0;
                let (p, fail) = self.policies.worker_failure(failure, |step| {
                    let (i, p) = unstep(step);
                    target = i;
                    p
                });
                Err((target, p, fail))
            }
        }
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
