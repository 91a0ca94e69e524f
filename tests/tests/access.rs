//! Who may do what in Argo CD (BrainSAIT's pipeline document: least
//! privilege, SSO with Azure AD or Okta, MFA for production syncs):
//! `argocd-rbac-cm` and `argocd-cm`'s sign-in, rendered from each
//! environment's `argocd.access`, and Argo CD's own ConfigMaps written as
//! patches that leave the install's keys alone.

use std::collections::BTreeMap;

use gitops_core::crd::argocd::SYNC_OPTIONS_ANNOTATION;
use gitops_core::name;
use gitops_core::profile::{EnvironmentProfile, IdentityProvider, SecretKeyRef, Sso};
use gitops_core::yaml;
use k8s_openapi::api::core::v1::ConfigMap;
use pretty_assertions::assert_eq;
use workspace_tests::{text, try_brainsait};

const APPS: &str = "argocd/brainsait/apps";

fn render_error(profiles: &[EnvironmentProfile]) -> String {
    try_brainsait(profiles).expect_err("refused")
}

fn config_map(profiles: &[EnvironmentProfile], name: &str) -> ConfigMap {
    let tree = try_brainsait(profiles).expect("renders");
    yaml::from_str(text(&tree, &format!("{APPS}/configmap-{name}.yaml"))).unwrap()
}

/// Argo CD's RBAC as its RBAC page describes it, small enough to read: a
/// subject has the roles `g` lines give it (transitively); `role:readonly`
/// may `get` everything and `role:admin` may do everything; a `p` line
/// matches when its resource, action and `<project>/*` object match; any
/// matching `deny` wins over every `allow`, whatever the order.
struct Rbac {
    groups: Vec<(String, String)>,
    policies: Vec<[String; 5]>,
    default: String,
}

impl Rbac {
    fn of(cm: &ConfigMap) -> Self {
        let data = cm.data.as_ref().unwrap();
        let mut rbac =
            Rbac { groups: Vec::new(), policies: Vec::new(), default: data["policy.default"].clone() };
        for line in data.get("policy.csv").map(String::as_str).unwrap_or_default().lines() {
            let fields: Vec<String> = line.split(',').map(|f| f.trim().to_owned()).collect();
            match fields.first().map(String::as_str) {
                Some("g") => {
                    assert_eq!(fields.len(), 3, "{line}");
                    rbac.groups.push((fields[1].clone(), fields[2].clone()));
                }
                Some("p") => {
                    assert_eq!(fields.len(), 6, "{line}");
                    assert!(["allow", "deny"].contains(&fields[5].as_str()), "{line}");
                    rbac.policies.push(fields[1..].to_vec().try_into().unwrap());
                }
                _ => assert!(line.starts_with('#'), "only policies, groups and comments: {line}"),
            }
        }
        rbac
    }

    fn roles(&self, subject: &str) -> Vec<String> {
        let mut roles = vec![subject.to_owned(), self.default.clone()];
        let mut i = 0;
        while i < roles.len() {
            for (who, role) in &self.groups {
                if *who == roles[i] && !roles.contains(role) {
                    roles.push(role.clone());
                }
            }
            i += 1;
        }
        roles
    }

    /// May a member of `group` do `action` to an Application of `project`?
    fn allows(&self, group: &str, action: &str, project: &str) -> bool {
        self.may(group, "applications", action, &format!("{project}/some-app"))
    }

    /// May a member of `group` do `action` on `resource` `object`? A glob
    /// (`*`, `action/*`, `<project>/*`) matches what starts like it.
    fn may(&self, group: &str, resource: &str, action: &str, object: &str) -> bool {
        let roles = self.roles(group);
        let glob = |pattern: &str, value: &str| {
            pattern == value || pattern.strip_suffix('*').is_some_and(|prefix| value.starts_with(prefix))
        };
        let matches = |p: &[String; 5]| {
            roles.contains(&p[0]) && p[1] == resource && glob(&p[2], action) && glob(&p[3], object)
        };
        let denied = self.policies.iter().any(|p| matches(p) && p[4] == "deny");
        let allowed = self.policies.iter().any(|p| matches(p) && p[4] == "allow")
            || roles.iter().any(|r| r == "role:admin")
            || (action == "get" && roles.iter().any(|r| r == "role:readonly"));
        allowed && !denied
    }
}

#[test]
fn only_the_change_board_syncs_or_rolls_back_production() {
    let cm = config_map(&brainsait_rcm::environments(), "argocd-rbac-cm");
    let rbac = Rbac::of(&cm);
    assert_eq!(rbac.default, "role:readonly", "everyone signed in may look");
    let (prod, staging, dev) = ("brainsait-production", "brainsait-staging", "brainsait-dev");
    // A rollback is a sync to an earlier revision: Argo CD checks `sync`.
    for (group, project, may_sync) in [
        ("brainsait-change-board", prod, true),
        ("brainsait-platform-admins", prod, false),
        ("brainsait-developers", prod, false),
        ("someone-else", prod, false),
        ("brainsait-platform-admins", staging, true),
        ("brainsait-developers", staging, true),
        ("brainsait-developers", dev, true),
        ("brainsait-change-board", dev, false),
        ("someone-else", dev, false),
    ] {
        assert_eq!(rbac.allows(group, "sync", project), may_sync, "{group} syncing {project}");
        assert!(rbac.allows(group, "get", project), "{group} may see {project}");
    }
    // Admins change nothing in production: not its Applications (a delete
    // would cascade into its workloads), their objects, actions, pods, or
    // the project that holds its change window.
    let admins = "brainsait-platform-admins";
    for action in
        ["override", "update", "delete", "update/apps/Deployment/ns/api", "action/apps/Deployment/restart"]
    {
        assert!(!rbac.allows(admins, action, prod), "admins may not {action} production");
        assert!(rbac.allows(admins, action, staging), "admins may {action} staging");
    }
    assert!(!rbac.may(admins, "exec", "create", &format!("{prod}/api")));
    assert!(rbac.may(admins, "exec", "create", &format!("{staging}/api")));
    assert!(!rbac.may(admins, "projects", "update", prod) && !rbac.may(admins, "projects", "delete", prod));
    assert!(rbac.may(admins, "projects", "update", staging));
    // The change board opens production's window in an emergency; nobody else.
    assert!(rbac.may("brainsait-change-board", "projects", "update", prod));
    assert!(!rbac.may("brainsait-change-board", "projects", "update", staging));
    assert!(!rbac.may("brainsait-developers", "projects", "update", prod));
}

fn with_sso(sso: Option<Sso>) -> Vec<EnvironmentProfile> {
    let mut profiles = brainsait_rcm::environments();
    for p in &mut profiles {
        p.argocd.access.sso = sso.clone();
    }
    profiles
}

fn sso(provider: IdentityProvider) -> Sso {
    Sso {
        provider,
        argocd_url: "https://argocd.example.org".into(),
        client_id: "0oa1argocd".into(),
        client_secret: SecretKeyRef { name: name!("argocd-oidc"), key: "clientSecret".into() },
    }
}

#[test]
fn sign_in_reads_the_client_secret_from_a_secret_and_asks_for_groups() {
    for (provider, issuer, scopes) in [
        (
            IdentityProvider::AzureAd { tenant_id: "4f5c1d2e-0000-4000-8000-000000000001".into() },
            "https://login.microsoftonline.com/4f5c1d2e-0000-4000-8000-000000000001/v2.0",
            vec!["openid", "profile", "email"],
        ),
        (
            IdentityProvider::Okta { issuer: "https://example.okta.com/oauth2/default".into() },
            "https://example.okta.com/oauth2/default",
            vec!["openid", "profile", "email", "groups"],
        ),
    ] {
        let cm = config_map(&with_sso(Some(sso(provider))), "argocd-cm");
        let data = cm.data.unwrap();
        assert_eq!(data["url"], "https://argocd.example.org");
        let oidc: serde_json::Value = yaml::from_str(&data["oidc.config"]).unwrap();
        assert_eq!(oidc["issuer"], issuer);
        assert_eq!(oidc["clientID"], "0oa1argocd");
        // `$<secret>:<key>`: Argo CD reads the value from that Secret; the
        // tree holds only its name.
        assert_eq!(oidc["clientSecret"], "$argocd-oidc:clientSecret");
        assert_eq!(oidc["requestedScopes"], serde_json::json!(scopes));
        assert_eq!(oidc["requestedIDTokenClaims"]["groups"]["essential"], true);
        assert_eq!(data["admin.enabled"], "false", "with SSO, no local admin outside the RBAC");
    }
    let without = config_map(&with_sso(None), "argocd-cm").data.unwrap();
    assert!(!without.contains_key("oidc.config") && !without.contains_key("url"));
    assert!(!without.contains_key("admin.enabled"), "without SSO the local admin is the way in");
}

#[test]
fn environments_of_one_instance_must_agree_on_sign_in_and_admins() {
    let mut profiles = with_sso(None);
    profiles[2].argocd.access.sso =
        Some(sso(IdentityProvider::Okta { issuer: "https://example.okta.com".into() }));
    let message = render_error(&profiles);
    assert!(message.contains("argocd.access.sso") && message.contains("instance `brainsait`"), "{message}");

    let mut profiles = brainsait_rcm::environments();
    profiles[1].argocd.access.admin_groups.push("more-admins".into());
    let message = render_error(&profiles);
    assert!(message.contains("argocd.access.admin_groups"), "{message}");
}

#[test]
fn a_group_that_would_write_another_policy_line_is_refused() {
    for group in ["admins, role:admin", "admins\np, x, *, *, */*, allow", "#admins", " admins", "\"admins\""]
    {
        let mut profiles = brainsait_rcm::environments();
        profiles[0].argocd.access.deploy_groups = vec![group.into()];
        let message = render_error(&profiles);
        assert!(message.contains("policy.csv") && message.contains("groups"), "{group:?}: {message}");
    }
}

#[test]
fn bad_sign_in_settings_are_refused_by_name() {
    for (bad, field) in [
        (
            Sso {
                argocd_url: "http://argocd.example.org".into(),
                ..sso(IdentityProvider::Okta { issuer: "https://o.example".into() })
            },
            "argocd_url",
        ),
        (
            Sso {
                client_id: String::new(),
                ..sso(IdentityProvider::Okta { issuer: "https://o.example".into() })
            },
            "client_id",
        ),
        (sso(IdentityProvider::Okta { issuer: "okta.example".into() }), "issuer"),
        (sso(IdentityProvider::AzureAd { tenant_id: "a b".into() }), "tenant_id"),
    ] {
        let message = render_error(&with_sso(Some(bad)));
        assert!(message.contains(field) && message.contains("argocd.access.sso"), "{field}: {message}");
    }
}

/// The install (Argo CD's manifests or Helm chart) owns these ConfigMaps;
/// the tree sets its keys with server-side apply and never deletes them.
#[test]
fn argo_cd_configmaps_are_patches_the_tree_never_deletes() {
    for name in ["argocd-cm", "argocd-rbac-cm", "argocd-notifications-cm"] {
        let cm = config_map(&brainsait_rcm::environments(), name);
        let annotations: BTreeMap<String, String> = cm.metadata.annotations.unwrap();
        let options: Vec<&str> = annotations[SYNC_OPTIONS_ANNOTATION].split(',').collect();
        for option in ["ServerSideApply=true", "Delete=false", "Prune=false"] {
            assert!(options.contains(&option), "{name}: {options:?}");
        }
        assert_eq!(cm.metadata.labels.unwrap()["app.kubernetes.io/part-of"], "argocd", "{name}");
    }
}

/// The runbook installs the Argo CD the objects are written for.
#[test]
fn the_recovery_runbook_installs_the_targeted_argo_cd_server_side() {
    let docs = std::fs::read_to_string(workspace_tests::root().join("docs/argocd.md")).unwrap();
    let version = gitops_tree::argocd::ARGOCD_VERSION;
    let install =
        format!("https://raw.githubusercontent.com/argoproj/argo-cd/{version}/manifests/install.yaml");
    assert!(docs.contains(&install), "docs/argocd.md installs {version}");
    assert!(docs.contains(&format!("({version})")), "docs/argocd.md names {version}");
    assert!(docs.contains("--server-side --force-conflicts"), "3.3 and later install server-side");
}
