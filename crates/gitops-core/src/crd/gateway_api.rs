//! Gateway API `HTTPRoute` (`gateway.networking.k8s.io/v1`): path routes on a
//! host, attached to a Gateway that someone else owns.
//!
//! Only the fields the renderer writes are typed: parent references, host
//! names, and rules of path matches and backend references. A backend
//! reference is always a Service of the route's own namespace (no `group`,
//! `kind` or `namespace`), so the policy check can resolve every one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CustomResource, CustomResourceSpec};
use crate::name::Name;

/// The API group of the Gateway API, the default `group` of a parent reference.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// `spec` of a Gateway API `HTTPRoute`: the Gateways it attaches to, its hosts and its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteSpec {
    /// `parentRefs`: the Gateways (and their listeners) the route attaches to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentReference>,
    /// `hostnames`: the hosts it serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// `rules`: each match and the backends it sends to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<HttpRouteRule>,
}

impl CustomResourceSpec for HttpRouteSpec {
    const API_VERSION: &'static str = "gateway.networking.k8s.io/v1";
    const KIND: &'static str = "HTTPRoute";
}

/// A Gateway API `HTTPRoute` (`gateway.networking.k8s.io/v1`).
pub type HttpRoute = CustomResource<HttpRouteSpec>;

/// A Gateway, and optionally one of its listeners, a route attaches to.
/// Upstream defaults `group` to `gateway.networking.k8s.io`, `kind` to
/// `Gateway` and `namespace` to the route's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentReference {
    /// `group`: the parent's API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `kind`: the parent's kind (`Gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `namespace`: the Gateway's namespace (the route's own when unset). A Gateway in
    /// another namespace admits the route only if its listener's
    /// `allowedRoutes.namespaces` selects the route's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `name`: the Gateway's name.
    pub name: String,
    /// `sectionName`: the listener's name; without it the route attaches to every listener
    /// that admits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

impl ParentReference {
    /// The Gateway `namespace`/`name`, and its listener `section_name` if given,
    /// with group and kind written out rather than left to upstream defaults.
    pub fn gateway(name: &Name, namespace: &Name, section_name: Option<&Name>) -> Self {
        ParentReference {
            group: Some(GROUP.into()),
            kind: Some("Gateway".into()),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
            section_name: section_name.map(Name::to_string),
        }
    }
}

/// One of `spec.rules`: requests that match, and the backends they go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteRule {
    /// `matches`: the request matches (any of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpRouteMatch>,
    /// `backendRefs`: the Services matching requests go to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<HttpBackendRef>,
}

/// One of `spec.rules[].matches`; only a path match is emitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteMatch {
    /// `path`: how the request path matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathMatch>,
}

/// `spec.rules[].matches[].path`: how the request path matches. Upstream defaults `type` to
/// `PathPrefix` and `value` to `/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpPathMatch {
    /// `type`: `Exact`, `PathPrefix` or `RegularExpression`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<PathMatchType>,
    /// `value`: the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

string_enum! {
    /// `spec.rules[].matches[].path.type`: how a path matches. `PathPrefix` matches whole path elements, as an
    /// Ingress `Prefix` path does (`/api` matches `/api/x`, not `/apix`).
    pub enum PathMatchType {
        /// The path exactly.
        Exact => "Exact",
        /// The path and everything below it, element by element.
        PathPrefix => "PathPrefix",
        /// A regular expression (implementation-specific).
        RegularExpression => "RegularExpression",
    }
}

/// One of `spec.rules[].backendRefs`: a Service of the route's namespace, by name and port number (the
/// Service's `port`, not its target port; Gateway API has no port names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBackendRef {
    /// `name`: the Service's name.
    pub name: String,
    /// `port`: the Service's port number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

impl HttpRouteSpec {
    /// Every backend reference, rule by rule.
    pub fn backend_refs(&self) -> impl Iterator<Item = &HttpBackendRef> {
        self.rules.iter().flat_map(|r| &r.backend_refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Gateway API guide "Migrating from Ingress" (`examples/standard/simple-http-https/foo-route.yaml`).
    const UPSTREAM_EXAMPLE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: foo
spec:
  parentRefs:
  - name: example-gateway
    sectionName: https
  hostnames:
  - foo.example.com
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /
    backendRefs:
    - name: foo-app
      port: 80
  - matches:
    - path:
        type: PathPrefix
        value: /orders
    backendRefs:
    - name: foo-orders-app
      port: 80
"#;

    #[test]
    fn matches_the_documented_upstream_example() {
        let route: HttpRoute = crate::yaml::from_str(UPSTREAM_EXAMPLE).unwrap();
        assert_eq!(route.spec.parent_refs[0].section_name.as_deref(), Some("https"));
        assert_eq!(
            route.spec.rules[1].matches[0].path.as_ref().unwrap().type_,
            Some(PathMatchType::PathPrefix)
        );
        let names: Vec<(&str, Option<i32>)> =
            route.spec.backend_refs().map(|b| (b.name.as_str(), b.port)).collect();
        assert_eq!(names, [("foo-app", Some(80)), ("foo-orders-app", Some(80))]);
        let want: serde_json::Value = crate::yaml::from_str(UPSTREAM_EXAMPLE).unwrap();
        assert_eq!(serde_json::to_value(&route).unwrap(), want, "written back field for field");
    }

    #[test]
    fn fields_upstream_does_not_have_are_refused() {
        let typo = UPSTREAM_EXAMPLE.replace("sectionName", "section");
        assert!(crate::yaml::from_str::<HttpRoute>(&typo).is_err());
        let ingress_path_type = UPSTREAM_EXAMPLE.replacen("type: PathPrefix", "type: Prefix", 1);
        let err = crate::yaml::from_str::<HttpRoute>(&ingress_path_type).unwrap_err().message;
        assert!(err.contains("unknown PathMatchType `Prefix`"), "{err}");
    }
}
