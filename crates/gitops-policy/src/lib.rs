#![warn(missing_docs)]
//! Policy as code: one in-process check over the rendered objects of each
//! environment, run on every render and by `cargo xtask check`.
//!
//! - [`rules`]: the built-in rules (BrainSAIT's OPA policies for every
//!   pod-bearing kind, the restricted Pod Security Standard, ClinicFlow's GitOps README's
//!   conventions), each a small function with an id, a severity and a fix;
//! - [`audit`]: references (selectors, ports, backends, secrets, names) and
//!   start order (sync waves, readiness);
//! - [`rego`]: user policies in `policies/*.rego`, evaluated in-process;
//! - [`report`]: waivers and the text, JSON and SARIF output.
//!
//! This crate sees typed objects and the environment profile; it does not
//! read or write the tree. The rules reference, `docs/rules.md`, is
//! generated from [`rules::ALL`] ([`rules::reference`]).
//!
//! # Quickstart
//!
//! Check an environment's objects against the built-in rules and a Rego
//! policy (the render does this for every environment before it writes):
//!
//! ```
//! use gitops_core::Object;
//! use gitops_policy::{Environment, Policies, Target, check};
//!
//! let yaml = "apiVersion: v1\nkind: Secret\nmetadata: {name: api-token, namespace: clinicflow-dev}\n\
//!             stringData: {token: do-not-commit-me}\n";
//! let secret = Object::from_json(gitops_core::yaml::from_str(yaml).unwrap()).unwrap();
//! let profile = clinicflow::environments().into_iter().find(|p| p.name.as_str() == "dev").unwrap();
//!
//! // A team's own policy, in OPA 1.0 syntax; its findings are `rego/<package>`.
//! let policies = Policies::from_sources(vec![(
//!     "policies/team.rego".into(),
//!     "package team\n\
//!      deny contains msg if {\n  input.kind == \"Secret\"\n  msg := \"deliver Secrets through an ExternalSecret\"\n}\n"
//!         .into(),
//! )])
//! .unwrap();
//!
//! let env = Environment {
//!     profile: &profile,
//!     targets: vec![Target { file: "dev/secret-api-token.yaml".into(), object: &secret }],
//!     out_of_band: Vec::new(),
//! };
//! let findings = check(&env, &policies).unwrap();
//! let rules: Vec<&str> = findings.iter().filter(|f| f.blocks()).map(|f| f.rule.as_str()).collect();
//! assert!(rules.contains(&"no-secret-data"));
//! assert!(rules.contains(&"rego/team"));
//! ```

pub mod audit;
pub mod rego;
pub mod report;
pub mod rules;
mod runs;

use gitops_core::profile::EnvironmentProfile;
use gitops_core::{Object, par};
use serde::Serialize;

pub use rego::{LimitExceeded, Policies, PolicyError};
pub use report::Report;

/// How bad a finding is. An unwaived `Error` stops a render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Listed, never blocking.
    Warning,
    /// Stops the render unless the environment's profile waives it.
    Error,
}

/// The object a finding concerns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    /// The object's `kind` (`Deployment`).
    pub kind: String,
    /// Its namespace; none for cluster-scoped objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its `metadata.name`.
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// One rule broken by one object, and what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id: a built-in rule's, `rego/<package>`, or a team's `<team>/<rule>`.
    pub rule: String,
    /// Whether it stops a render (see [`Finding::blocks`]).
    pub severity: Severity,
    /// The environment's name (`prod`).
    pub environment: String,
    /// The object it is about; none for a finding about the environment as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// The rendered file of the object, relative to the tree root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The container the finding is about, for container-level rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The variable or field of the container it is about (`SMTP_PASSWORD`,
    /// `readinessProbe`), where the rule looks at one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong and what to change.
    pub message: String,
    /// Set when the environment's profile accepts the finding; the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<String>,
}

impl Finding {
    /// Whether this finding stops a render.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Error && self.waived.is_none()
    }
}

/// One rendered object and the file it is written to.
pub struct Target<'a> {
    /// The file the object is written to, relative to the tree root
    /// (`prod/deployment-api.yaml`); findings name it.
    pub file: String,
    /// The rendered object.
    pub object: &'a Object,
}

/// What the check sees of one environment.
pub struct Environment<'a> {
    /// The environment's profile: its namespace, stage, compliance label and waivers.
    pub profile: &'a EnvironmentProfile,
    /// Every rendered object of the environment, in render order.
    pub targets: Vec<Target<'a>>,
    /// Secrets created out of band: they exist, with keys the check cannot see.
    pub out_of_band: Vec<String>,
}

/// Collects the findings of one environment; only [`check`] creates one.
pub struct Sink<'e, 'a> {
    env: &'e Environment<'a>,
    /// What the audit rules look up, built once per environment.
    index: &'e audit::Index<'e>,
    findings: Vec<Finding>,
}

impl<'e, 'a> Sink<'e, 'a> {
    fn new(env: &'e Environment<'a>, index: &'e audit::Index<'e>) -> Self {
        Sink { env, index, findings: Vec::new() }
    }

    /// Reports `rule` on the object at `index` of the environment's targets.
    pub(crate) fn report(&mut self, rule: &rules::Rule, index: usize, message: String) {
        let target = &self.env.targets[index];
        self.push(rule.id.into(), rule.severity, Some(target), message);
    }

    /// Reports `rule` on container `container` of the object at `index`,
    /// and on its variable or field `field`: a waiver must name both.
    pub(crate) fn report_in(
        &mut self,
        rule: &rules::Rule,
        index: usize,
        container: &str,
        field: Option<&str>,
        message: String,
    ) {
        self.report(rule, index, message);
        if let Some(f) = self.findings.last_mut() {
            f.container = Some(container.into());
            f.field = field.map(Into::into);
        }
    }

    pub(crate) fn push(
        &mut self,
        rule: String,
        severity: Severity,
        target: Option<&Target>,
        message: String,
    ) {
        self.findings.push(Finding {
            rule,
            severity,
            environment: self.env.profile.name.to_string(),
            object: target.map(|t| ObjectRef {
                kind: t.object.kind().into(),
                namespace: t.object.namespace().map(Into::into),
                name: t.object.name().into(),
            }),
            file: target.map(|t| t.file.clone()),
            container: None,
            field: None,
            message,
            waived: None,
        });
    }
}

/// A rule a team writes in Rust, beside the built-in rules and its Rego
/// policies: a function over the environment's objects that returns what
/// it finds. Its findings, waivers and reports work as the built-in rules'.
///
/// ```
/// use gitops_policy::{CustomRule, Environment, Severity, Violation};
///
/// /// Every Deployment says which team owns it.
/// fn owned(env: &Environment) -> Vec<Violation> {
///     env.targets
///         .iter()
///         .enumerate()
///         .filter(|(_, t)| t.object.kind() == "Deployment")
///         .filter(|(_, t)| t.object.metadata().labels.as_ref().is_none_or(|l| !l.contains_key("team")))
///         .map(|(i, _)| Violation::on(i, "has no `team` label; add the owning team's name"))
///         .collect()
/// }
///
/// const OWNED: CustomRule = CustomRule {
///     id: "acme/team-label",
///     severity: Severity::Error,
///     summary: "Every Deployment has a `team` label.",
///     check: owned,
/// };
/// let policies = gitops_policy::Policies::none().with_rules(vec![OWNED]).unwrap();
/// assert!(!policies.is_empty());
/// ```
#[derive(Clone, Copy)]
pub struct CustomRule {
    /// The rule's id in findings and waivers; `<team>/<rule>`, never a
    /// built-in rule's id or `rego/…`.
    pub id: &'static str,
    /// How bad its findings are.
    pub severity: Severity,
    /// What the rule requires, in one sentence.
    pub summary: &'static str,
    /// The check: what it finds on the environment's objects.
    pub check: fn(&Environment) -> Vec<Violation>,
}

impl std::fmt::Debug for CustomRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomRule").field("id", &self.id).finish_non_exhaustive()
    }
}

/// What a [`CustomRule`] found on one object of the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The index of the object in [`Environment::targets`].
    pub target: usize,
    /// The container it is about, if any (a waiver must then name it).
    pub container: Option<String>,
    /// The variable or field of that container, if any.
    pub field: Option<String>,
    /// What is wrong and what to change.
    pub message: String,
}

impl Violation {
    /// A finding on the object at `target`.
    pub fn on(target: usize, message: impl Into<String>) -> Self {
        Violation { target, container: None, field: None, message: message.into() }
    }

    /// The same finding about container `container` (and its `field`).
    pub fn in_container(mut self, container: &str, field: Option<&str>) -> Self {
        self.container = Some(container.into());
        self.field = field.map(Into::into);
        self
    }
}

/// One unit of a check: a built-in rule over the environment, a team's
/// rule, or the Rego policies over a run of its objects.
enum Task<'e, 'a> {
    Rule(&'static rules::Rule),
    Custom(&'e CustomRule),
    Rego(&'e [Target<'a>]),
}

/// Runs every built-in rule and every Rego policy over one environment and
/// applies its profile's waivers. Rules and runs of objects are checked on
/// every CPU; the findings come out in the same order as one by one: the
/// built-in rules in [`rules::ALL`] order, then the Rego findings in object
/// order.
pub fn check(env: &Environment, policies: &Policies) -> Result<Vec<Finding>, PolicyError> {
    let index = audit::Index::build(env);
    let parallel = par::worth_threads(env.targets.len());
    let rego = policies.for_environment(env.profile, parallel)?;
    // Each run of objects is one round trip to a policy thread: one run
    // when they are evaluated on this thread anyway, chunks for every CPU.
    let runs = match (&rego, parallel) {
        (None, _) => Vec::new(),
        (Some(_), true) => par::chunks(&env.targets, 4, 32),
        (Some(_), false) => vec![&env.targets[..]],
    };
    // The Rego runs come first, so that they are on policy threads while
    // the rules run; their findings are still listed after the rules'.
    let rego_runs = runs.len();
    let tasks: Vec<Task> = runs
        .into_iter()
        .map(Task::Rego)
        .chain(rules::ALL.iter().map(Task::Rule))
        .chain(policies.rules().iter().map(Task::Custom))
        .collect();
    // Rego runs are handed to policy threads first and collected after the
    // rules, so that waking those threads overlaps the rules' work instead
    // of each run waiting on its own.
    enum Done<'t, 'a> {
        Findings(Vec<Finding>),
        Rego(rego::Started<'t, 'a>),
    }
    let mut results = par::map(parallel, &tasks, |task| {
        if let (Task::Rego(targets), Some(rego)) = (task, &rego) {
            return Ok(Done::Rego(rego.start(targets)));
        }
        let mut sink = Sink::new(env, &index);
        match (task, &rego) {
            (Task::Rule(rule), _) => (rule.check)(rule, env, &mut sink),
            (Task::Custom(rule), _) => {
                for v in (rule.check)(env) {
                    let Some(target) = env.targets.get(v.target) else {
                        sink.push(rule.id.into(), Severity::Error, None, format!(
                            "rule `{}` reported object #{}, which the environment does not have; report an index of `env.targets`",
                            rule.id, v.target
                        ));
                        continue;
                    };
                    sink.push(rule.id.into(), rule.severity, Some(target), v.message);
                    if let Some(f) = sink.findings.last_mut() {
                        f.container = v.container;
                        f.field = v.field;
                    }
                }
            }
            (Task::Rego(_), _) => {}
        }
        Ok(Done::Findings(sink.findings))
    });
    let mut findings = Vec::new();
    let started: Vec<_> = results.drain(..rego_runs).collect();
    for result in results.into_iter().chain(started) {
        match result? {
            Done::Findings(found) => findings.extend(found),
            Done::Rego(started) => {
                let mut sink = Sink::new(env, &index);
                rego.as_ref().expect("a run was started").finish(started, &mut sink)?;
                findings.extend(sink.findings);
            }
        }
    }
    report::apply_waivers(env.profile, policies.rules(), &mut findings);
    Ok(findings)
}
