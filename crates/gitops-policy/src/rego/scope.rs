//! Which objects a package's `deny` can say anything about, read from the
//! policies' syntax tree: when every body of every `deny` rule of a package
//! holds a literal `input.kind == "Kind"` (or `input.kind in {"A", "B"}`),
//! `deny` is undefined for any object of another kind, whatever else the
//! body says: a body is a conjunction, and that literal is false. Such
//! objects need neither an `input` nor an evaluation, which is most of the
//! policy check's time at scale (BrainSAIT's policies look at Deployments
//! only).
//!
//! The analysis answers "every kind" whenever it is not sure: a rule it does
//! not recognise, an `else`, a `default`, a `with` on the literal, a rule
//! head that is a path (`a.deny contains …`, which may add to another
//! package's `deny`), or a package that is a prefix of another. Scoping is
//! an optimisation that never changes a finding; a test evaluates every
//! object both ways.

use std::collections::{BTreeMap, BTreeSet};

// regorus's syntax tree is public only as `unstable`: a regorus upgrade
// that reshapes it fails to compile here rather than scoping wrongly.
use regorus::unstable::{BoolOp, Expr, Literal, LiteralStmt, Module, Ref, Rule, RuleHead};

/// The kinds `deny` of one package can deny; `None` for every kind.
pub(crate) type Scope = Option<BTreeSet<String>>;

/// The scope of each package's `deny`, from regorus's syntax tree of every
/// loaded module (`Engine::get_modules`). `packages` are the packages'
/// paths as regorus names them (`data.brainsait.production`).
pub(crate) fn scopes(modules: &[Ref<Module>], packages: &[&str]) -> Vec<Scope> {
    let unscoped = || packages.iter().map(|_| None).collect();
    // The gates of every `deny` rule, per package; `None` once one is not gated.
    let mut gates: BTreeMap<String, Scope> = BTreeMap::new();
    for module in modules {
        let Some(package) = path(&module.package.refr) else { return unscoped() };
        for rule in &module.policy {
            let Some((name, gate)) = rule_gate(rule) else { return unscoped() };
            if name == "deny" {
                let entry = gates.entry(package.clone()).or_insert_with(|| Some(BTreeSet::new()));
                *entry = match (entry.take(), gate) {
                    (Some(mut kinds), Some(more)) => {
                        kinds.extend(more);
                        Some(kinds)
                    }
                    _ => None,
                };
            }
        }
    }
    // `package a` may define `b.deny` through `package a.b`'s path: keep
    // it simple and scope nothing when one package nests in another.
    let names: Vec<&String> = gates.keys().collect();
    let nested = names.iter().any(|a| names.iter().any(|b| b.starts_with(&format!("{a}."))));
    if nested {
        return unscoped();
    }
    packages
        .iter()
        .map(|p| gates.get(p.strip_prefix("data.").unwrap_or(p)).cloned().unwrap_or(None))
        .collect()
}

/// `a.b.c` from a package's reference.
fn path(refr: &Expr) -> Option<String> {
    match refr {
        Expr::Var { value, .. } => Some(value.as_string().ok()?.to_string()),
        Expr::RefDot { refr, field: (_, field), .. } => {
            Some(format!("{}.{}", path(refr)?, field.as_string().ok()?))
        }
        _ => None,
    }
}

/// A rule's name, and the kinds every body of it is gated on (`None` when
/// one body is not). `None` altogether for a rule this analysis does not
/// take apart: a `default`, a head that is a path, an `else`.
fn rule_gate(rule: &Rule) -> Option<(String, Scope)> {
    let Rule::Spec { head, bodies, .. } = rule else { return None };
    let (RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } | RuleHead::Func { refr, .. }) = head;
    let Expr::Var { value, .. } = &**refr else { return None };
    let name = value.as_string().ok()?.to_string();
    // Several bodies are an `else` chain (regorus 0.11 does not mark which):
    // not taken apart.
    if bodies.len() > 1 {
        return None;
    }
    let mut kinds = BTreeSet::new();
    for body in bodies {
        match body.query.stmts.iter().find_map(gate) {
            Some(gate) => kinds.extend(gate),
            None => return Some((name, None)),
        }
    }
    // A rule without a body holds for every input.
    Some((name, (!bodies.is_empty()).then_some(kinds)))
}

/// The kinds a statement `input.kind == "K"`, `"K" == input.kind` or
/// `input.kind in {"A", "B"}` (set or array) admits, without `with`.
fn gate(stmt: &LiteralStmt) -> Option<Vec<String>> {
    if !stmt.with_mods.is_empty() {
        return None;
    }
    let Literal::Expr { expr, .. } = &stmt.literal else { return None };
    match &**expr {
        Expr::BoolExpr { op: BoolOp::Eq, lhs, rhs, .. } => {
            let kind = match (is_input_kind(lhs), is_input_kind(rhs)) {
                (true, false) => string(rhs)?,
                (false, true) => string(lhs)?,
                _ => return None,
            };
            Some(vec![kind])
        }
        Expr::Membership { key: None, value, collection, .. } if is_input_kind(value) => {
            let (Expr::Set { items, .. } | Expr::Array { items, .. }) = &**collection else { return None };
            items.iter().map(|item| string(item)).collect()
        }
        _ => None,
    }
}

/// Whether `expr` is `input.kind`.
fn is_input_kind(expr: &Expr) -> bool {
    let Expr::RefDot { refr, field: (_, field), .. } = expr else { return false };
    matches!(&**refr, Expr::Var { value, .. } if value.as_string().is_ok_and(|v| &**v == "input"))
        && field.as_string().is_ok_and(|f| &**f == "kind")
}

fn string(expr: &Expr) -> Option<String> {
    match expr {
        Expr::String { value, .. } | Expr::RawString { value, .. } => {
            Some(value.as_string().ok()?.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regorus::Engine;

    fn scopes_of(sources: &[(&str, &str)]) -> Vec<Scope> {
        let mut engine = Engine::new();
        let packages: Vec<String> = sources
            .iter()
            .map(|(file, text)| engine.add_policy((*file).into(), (*text).into()).unwrap())
            .collect();
        let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
        scopes(engine.get_modules(), &packages)
    }

    fn kinds(kinds: &[&str]) -> Scope {
        Some(kinds.iter().map(|k| (*k).to_owned()).collect())
    }

    #[test]
    fn brainsaits_policies_concern_deployments_only() {
        let seed = include_str!("../../../../policies/production-policies.rego");
        assert_eq!(scopes_of(&[("p.rego", seed)]), vec![kinds(&["Deployment"])]);
    }

    #[test]
    fn every_form_of_the_gate_is_read_and_their_kinds_add_up() {
        let policy = r#"package p
deny contains "a" if { "StatefulSet" == input.kind }
deny contains "b" if { input.kind in {"Job", "CronJob"} }
deny contains "c" if { x := 1; input.kind == `Service`; x == 1 }
allow if { true }
"#;
        assert_eq!(
            scopes_of(&[("p.rego", policy)]),
            vec![kinds(&["CronJob", "Job", "Service", "StatefulSet"])]
        );
    }

    #[test]
    fn anything_unrecognised_widens_the_scope_to_every_kind() {
        let ungated = [
            // One body without the gate.
            "package p\ndeny contains \"a\" if { input.kind == \"Job\" }\ndeny contains \"b\" if { input.metadata.name == \"x\" }\n",
            // A gate that is negated or compared otherwise.
            "package p\ndeny contains \"a\" if { not input.kind == \"Job\" }\n",
            "package p\ndeny contains \"a\" if { input.kind != \"Job\" }\n",
            // A gate on another field.
            "package p\ndeny contains \"a\" if { input.apiVersion == \"v1\" }\n",
            // A rule without a body, a default, an else.
            "package p\ndeny contains \"always\"\n",
            "package p\ndefault deny := set()\n",
            "package p\ndeny := {\"a\"} if { input.kind == \"Job\" } else := {\"b\"}\n",
            // A `with` on the literal replaces the input it looks at.
            "package p\ndeny contains \"a\" if { input.kind == \"Job\" with input as {\"kind\": \"Job\"} }\n",
            // A head that is a path.
            "package p\nq.deny contains \"a\" if { input.kind == \"Job\" }\n",
        ];
        for policy in ungated {
            assert_eq!(scopes_of(&[("p.rego", policy)]), vec![None], "{policy}");
        }
    }

    #[test]
    fn a_package_is_scoped_over_all_its_files_and_nesting_packages_are_not_scoped() {
        let a = "package p\ndeny contains \"a\" if { input.kind == \"Job\" }\n";
        let b = "package p\ndeny contains \"b\" if { input.kind == \"Service\" }\n";
        let c = "package q\ndeny contains \"c\" if { input.kind == \"Secret\" }\n";
        assert_eq!(
            scopes_of(&[("a.rego", a), ("b.rego", b), ("c.rego", c)]),
            vec![kinds(&["Job", "Service"]), kinds(&["Job", "Service"]), kinds(&["Secret"])]
        );
        let b_everything = "package p\ndeny contains \"b\" if { true }\n";
        assert_eq!(scopes_of(&[("a.rego", a), ("b.rego", b_everything)]), vec![None, None]);
        let nested = "package p.q\ndeny contains \"n\" if { input.kind == \"Job\" }\n";
        assert_eq!(scopes_of(&[("a.rego", a), ("n.rego", nested)]), vec![None, None]);
    }
}
