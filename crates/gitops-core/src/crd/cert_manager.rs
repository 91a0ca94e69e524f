//! cert-manager `ClusterIssuer` (`cert-manager.io/v1`): an internal CA, or
//! Let's Encrypt through ACME HTTP-01 answered by the ingress class or a Gateway.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::gateway_api::ParentReference;
use super::{CustomResource, CustomResourceSpec};

/// `spec` of a cert-manager issuer: exactly one issuer type, flattened so that it is written
/// as the key `ca:` or `acme:` (the YAML library would write an enum as a tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IssuerSpec {
    /// The issuer type: `ca` or `acme`.
    #[serde(flatten)]
    pub issuer: IssuerType,
}

/// Exactly one issuer type, so an issuer cannot be both a CA and ACME.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum IssuerType {
    /// Signs with the CA key pair in `secretName` (in cert-manager's namespace
    /// for a ClusterIssuer).
    Ca(CaIssuer),
    /// Obtains certificates from an ACME server (Let's Encrypt) by HTTP-01.
    Acme(AcmeIssuer),
}

impl CustomResourceSpec for IssuerSpec {
    const API_VERSION: &'static str = "cert-manager.io/v1";
    const KIND: &'static str = "ClusterIssuer";
}

/// A cert-manager `ClusterIssuer` (`cert-manager.io/v1`).
pub type ClusterIssuer = CustomResource<IssuerSpec>;

/// `spec.ca`: sign with a CA key pair kept in a Secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaIssuer {
    /// `secretName`: the Secret holding the CA's `tls.crt` and `tls.key`.
    pub secret_name: String,
}

/// `spec.acme`: an ACME account and how its challenges are solved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcmeIssuer {
    /// `server`: the ACME directory URL (Let's Encrypt's production or staging).
    pub server: String,
    /// `email`: the account's contact address (expiry notices).
    pub email: String,
    /// `privateKeySecretRef`: the Secret cert-manager keeps the account key in.
    pub private_key_secret_ref: SecretKeySelector,
    /// `solvers`: how challenges are answered.
    pub solvers: Vec<AcmeSolver>,
}

/// A Secret by name (cert-manager's `SecretKeySelector`, the key left to its default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeySelector {
    /// `name`: the Secret's name.
    pub name: String,
}

/// One of `spec.acme.solvers`; only HTTP-01 is emitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcmeSolver {
    /// `http01`: answer challenges over plain HTTP on port 80.
    pub http01: Http01Solver,
}

/// `spec.acme.solvers[].http01`: how the challenge is routed to cert-manager's solver pods: exactly one
/// of the two, flattened so that it is written as the key `ingress:` or
/// `gatewayHTTPRoute:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Http01Solver {
    /// `ingress` or `gatewayHTTPRoute`: what routes the challenge to the solver.
    #[serde(flatten)]
    pub route: Http01Route,
}

/// The route of an HTTP-01 challenge: an Ingress or a Gateway API HTTPRoute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum Http01Route {
    /// An Ingress of a class, created in the Certificate's namespace.
    #[serde(rename = "ingress")]
    Ingress(Http01Ingress),
    /// An HTTPRoute attached to a Gateway, created in the Certificate's
    /// namespace: with the gateway-shim, the Gateway's own. cert-manager
    /// must run with its Gateway API support enabled.
    #[serde(rename = "gatewayHTTPRoute")]
    GatewayHttpRoute(Http01GatewayHttpRoute),
}

/// `gatewayHTTPRoute`: the HTTPRoute cert-manager creates for a challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Http01GatewayHttpRoute {
    /// `parentRefs`: the Gateways (and listeners) the challenge's route attaches to.
    pub parent_refs: Vec<ParentReference>,
}

/// `http01.ingress`: the Ingress cert-manager creates for a challenge, by class. Only
/// `ingressClassName` is typed, the field cert-manager recommends (the older `class`
/// sets a deprecated annotation; only one of the two may be set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Http01Ingress {
    /// `ingressClassName`: the class of the Ingress cert-manager creates for a challenge.
    pub ingress_class_name: String,
}

/// The label cert-manager puts on its HTTP-01 solver pods.
pub const HTTP01_SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";
/// The port an HTTP-01 solver pod listens on.
pub const HTTP01_SOLVER_PORT: i32 = 8089;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_acme_example() {
        // cert-manager's ACME HTTP-01 ClusterIssuer example, reduced to these fields.
        let documented = r#"
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt-prod
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    email: ops@example.com
    privateKeySecretRef:
      name: letsencrypt-prod-account
    solvers:
    - http01:
        ingress:
          ingressClassName: nginx
"#;
        let issuer: ClusterIssuer = crate::yaml::from_str(documented).unwrap();
        assert!(matches!(issuer.spec.issuer, IssuerType::Acme(_)));
        let want: serde_json::Value = crate::yaml::from_str(documented).unwrap();
        assert_eq!(serde_json::to_value(&issuer).unwrap(), want);
        let ca: ClusterIssuer =
            crate::yaml::from_str("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: ca}\nspec:\n  ca:\n    secretName: ca-key-pair\n").unwrap();
        assert_eq!(ca.spec.issuer, IssuerType::Ca(CaIssuer { secret_name: "ca-key-pair".into() }));
        let gateway = documented.replace(
            "        ingress:\n          ingressClassName: nginx\n",
            "        gatewayHTTPRoute:\n          parentRefs:\n          - name: shared\n            namespace: infra\n            kind: Gateway\n",
        );
        let issuer: ClusterIssuer = crate::yaml::from_str(&gateway).unwrap();
        let IssuerType::Acme(acme) = &issuer.spec.issuer else { panic!() };
        let Http01Route::GatewayHttpRoute(route) = &acme.solvers[0].http01.route else { panic!() };
        assert_eq!(
            (route.parent_refs[0].name.as_str(), route.parent_refs[0].group.as_deref()),
            ("shared", None)
        );
        let want: serde_json::Value = crate::yaml::from_str(&gateway).unwrap();
        assert_eq!(serde_json::to_value(&issuer).unwrap(), want);
        let text = crate::yaml::to_string(&ca).unwrap();
        assert!(
            text.contains("spec:\n  ca:\n    secretName: ca-key-pair\n"),
            "written as a key, not a tag: {text}"
        );
    }
}
