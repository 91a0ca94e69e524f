//! The rules reference, `docs/rules.md`, is generated from the built-in
//! rules themselves, and every example it shows is true: the failing
//! snippet makes its rule find something, the passing one does not.
//! `UPDATE_DOCS=1 cargo test -p workspace-tests --test rules_reference`
//! rewrites the file after a rule changes.

use std::path::Path;

use gitops_core::Object;
use gitops_core::name::Name;
use gitops_core::profile::EnvironmentProfile;
use gitops_policy::{Environment, Policies, Target, check, rules};

/// A production environment `prod` in namespace `shop` whose compliance
/// label is `hipaa`, as the examples assume.
fn profile() -> EnvironmentProfile {
    let mut profile = clinicflow::environments().into_iter().find(|p| p.name.as_str() == "prod").unwrap();
    profile.namespace = Name::new("shop").unwrap();
    profile.compliance = Some(Name::new("hipaa").unwrap());
    profile
}

fn objects(rule: &str, which: &str, yaml: &str) -> Vec<Object> {
    yaml.split("\n---\n")
        .map(|doc| {
            let doc = doc.trim_start_matches("---\n");
            let value: serde_json::Value = gitops_core::yaml::from_str(doc)
                .unwrap_or_else(|e| panic!("{rule}: the {which} example does not parse: {e:?}"));
            Object::from_json(value)
                .unwrap_or_else(|e| panic!("{rule}: the {which} example is no object: {e}"))
        })
        .collect()
}

/// The messages `rule` gives on `objects`.
fn findings(rule: &str, profile: &EnvironmentProfile, objects: &[Object]) -> Vec<String> {
    let targets =
        objects.iter().map(|o| Target { file: gitops_tree::layout::file_name(o), object: o }).collect();
    let env = Environment { profile, targets, out_of_band: Vec::new() };
    check(&env, &Policies::none())
        .unwrap()
        .into_iter()
        .filter(|f| f.rule == rule)
        .map(|f| format!("{}: {}", f.object.map(|o| o.to_string()).unwrap_or_default(), f.message))
        .collect()
}

#[test]
fn every_example_fails_or_passes_its_rule_as_shown() {
    let profile = profile();
    let mut wrong = Vec::new();
    for rule in rules::ALL {
        let failing = findings(rule.id, &profile, &objects(rule.id, "failing", rule.failing));
        if failing.is_empty() {
            wrong.push(format!("{}: the failing example passes", rule.id));
        }
        let passing = findings(rule.id, &profile, &objects(rule.id, "passing", rule.passing));
        if !passing.is_empty() {
            wrong.push(format!("{}: the passing example fails: {passing:?}", rule.id));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_rules_reference_is_up_to_date() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rules.md");
    let want = rules::reference(rules::ALL);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&file, &want).unwrap();
    }
    let have = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        have == want,
        "docs/rules.md is not what the rules say; run `UPDATE_DOCS=1 cargo test -p workspace-tests --test rules_reference` and commit it"
    );
    for rule in rules::ALL {
        assert!(have.contains(&format!("\n## {}\n", rule.id)), "{} has no section", rule.id);
    }
}
