//! Waivers, and the report in three formats: text for people, JSON for
//! tools, SARIF 2.1.0 for code-scanning upload.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gitops_core::profile::EnvironmentProfile;
use serde_json::json;

use crate::{Finding, Severity, rules};

/// Marks the findings a profile accepts. A waiver that names no known rule
/// is an error; one that matches nothing is a warning (it has gone stale).
pub(crate) fn apply_waivers(
    profile: &EnvironmentProfile,
    custom: &[crate::CustomRule],
    findings: &mut Vec<Finding>,
) {
    let mut extra = Vec::new();
    for waiver in &profile.waivers {
        let known = rules::find(waiver.rule).is_some()
            || waiver.rule.starts_with("rego/")
            || custom.iter().any(|r| r.id == waiver.rule);
        let mut matched = false;
        for f in findings.iter_mut() {
            let on_object = f.object.as_ref().is_some_and(|o| o.kind == waiver.kind && o.name == waiver.name);
            // A finding about a container (and its variable) is waived only
            // by a waiver that names them: one waiver cannot hide another.
            let on_subject = f.container.as_deref() == waiver.container && f.field.as_deref() == waiver.field;
            if f.rule == waiver.rule && on_object && on_subject {
                f.waived = Some(waiver.reason.into());
                matched = true;
            }
        }
        let (severity, message) = if !known {
            (
                Severity::Error,
                format!(
                    "a waiver names rule `{}`, which does not exist; use a rule id from `cargo xtask check`",
                    waiver.rule
                ),
            )
        } else if !matched {
            (
                Severity::Warning,
                format!(
                    "the waiver of `{}` on {} {}{}{} matches no finding; remove it, or name the container (and variable or field) the finding is about",
                    waiver.rule,
                    waiver.kind,
                    waiver.name,
                    waiver.container.map(|c| format!(", container `{c}`")).unwrap_or_default(),
                    waiver.field.map(|f| format!(", `{f}`")).unwrap_or_default(),
                ),
            )
        } else {
            continue;
        };
        extra.push(Finding {
            rule: "waiver".into(),
            severity,
            environment: profile.name.to_string(),
            object: None,
            file: None,
            container: None,
            field: None,
            message,
            waived: None,
        });
    }
    findings.extend(extra);
}

/// Every finding of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Every finding, waived ones included, in check order.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Findings that stop a render: unwaived errors.
    pub fn blocking(&self) -> usize {
        self.findings.iter().filter(|f| f.blocks()).count()
    }

    /// Grouped by environment, then object; one line per finding.
    pub fn to_text(&self) -> String {
        let mut by_env: BTreeMap<&str, BTreeMap<String, Vec<&Finding>>> = BTreeMap::new();
        for f in &self.findings {
            let object = match (&f.object, &f.file) {
                (Some(o), Some(file)) => format!("{o} ({file})"),
                (Some(o), None) => o.to_string(),
                _ => "(environment)".to_owned(),
            };
            by_env.entry(&f.environment).or_default().entry(object).or_default().push(f);
        }
        let mut out = String::new();
        for (env, objects) in by_env {
            let all: Vec<&&Finding> = objects.values().flatten().collect();
            let blocking = all.iter().filter(|f| f.blocks()).count();
            let _ = writeln!(out, "{env}: {} finding(s), {blocking} blocking", all.len());
            for (object, findings) in objects {
                let _ = writeln!(out, "  {object}");
                for f in findings {
                    let level = match (f.severity, &f.waived) {
                        (_, Some(_)) => "waived",
                        (Severity::Error, None) => "error",
                        (Severity::Warning, None) => "warning",
                    };
                    let _ = write!(out, "    {level:<7} {}: {}", f.rule, f.message);
                    if let Some(reason) = &f.waived {
                        let _ = write!(out, " [waived: {reason}]");
                    }
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The report as JSON: the number of blocking findings, then every finding.
    pub fn to_json(&self) -> String {
        let value = json!({
            "blocking": self.blocking(),
            "findings": self.findings,
        });
        serde_json::to_string_pretty(&value).expect("findings serialize") + "\n"
    }

    /// SARIF 2.1.0: one run, the built-in rules as the tool's rules, waived
    /// findings as externally suppressed results.
    pub fn to_sarif(&self, tool_version: &str) -> String {
        let rules: Vec<_> = rules::ALL
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "shortDescription": { "text": r.summary },
                    "help": { "text": r.fix },
                    "defaultConfiguration": { "level": level(r.severity) },
                })
            })
            .collect();
        let results: Vec<_> = self
            .findings
            .iter()
            .map(|f| {
                let mut result = json!({
                    "ruleId": f.rule,
                    "level": level(f.severity),
                    "message": { "text": format!("[{}] {}", f.environment, f.message) },
                });
                if let Some(file) = &f.file {
                    result["locations"] =
                        json!([{ "physicalLocation": { "artifactLocation": { "uri": file } } }]);
                }
                if let Some(reason) = &f.waived {
                    result["suppressions"] = json!([{ "kind": "external", "justification": reason }]);
                }
                result
            })
            .collect();
        let sarif = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": { "driver": {
                    "name": "gitops-policy",
                    "version": tool_version,
                    "informationUri": "https://github.com/bludivehub/clinicflow-gitops",
                    "rules": rules,
                } },
                "results": results,
            }],
        });
        serde_json::to_string_pretty(&sarif).expect("SARIF serializes") + "\n"
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}
