//! cert-manager `ClusterIssuer` (`cert-manager.io/v1`): an internal CA, or
//! Let's Encrypt through ACME HTTP-01 answered by the ingress class or a Gateway.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::gateway_api::ParentReference;
use super::{CustomResource, CustomResourceSpec};

/// An issuer's spec: exactly one issuer type, flattened so that it is written
/// as the key `ca:` or `acme:` (the YAML library would write an enum as a tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IssuerSpec {
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
    Acme(AcmeIssuer),
}

impl CustomResourceSpec for IssuerSpec {
    const API_VERSION: &'static str = "cert-manager.io/v1";
    const KIND: &'static str = "ClusterIssuer";
}

pub type ClusterIssuer = CustomResource<IssuerSpec>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaIssuer {
    pub secret_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcmeIssuer {
    pub server: String,
    pub email: String,
    pub private_key_secret_ref: SecretKeySelector,
    pub solvers: Vec<AcmeSolver>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeySelector {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcmeSolver {
    pub http01: Http01Solver,
}

/// How the challenge is routed to cert-manager's solver pods: exactly one
/// of the two, flattened so that it is written as the key `ingress:` or
/// `gatewayHTTPRoute:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Http01Solver {
    #[serde(flatten)]
    pub route: Http01Route,
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Http01GatewayHttpRoute {
    pub parent_refs: Vec<ParentReference>,
}

/// `ingressClassName`, the field cert-manager recommends (the older `class`
/// sets a deprecated annotation; only one of the two may be set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Http01Ingress {
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
