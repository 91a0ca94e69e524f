//! OPA Gatekeeper's `K8sPSPPrivilegedContainer` constraint
//! (`constraints.gatekeeper.sh/v1beta1`, from the gatekeeper-library
//! template of the same name), as BrainSAIT's pipeline document uses it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CustomResource, CustomResourceSpec};

/// `spec` of Gatekeeper's `K8sPSPPrivilegedContainer` constraint (from the gatekeeper-library
/// template of that name): which objects it applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintSpec {
    /// `match`: the kinds and namespaces the constraint checks.
    #[serde(rename = "match")]
    pub match_: ConstraintMatch,
}

impl CustomResourceSpec for ConstraintSpec {
    const API_VERSION: &'static str = "constraints.gatekeeper.sh/v1beta1";
    const KIND: &'static str = "K8sPSPPrivilegedContainer";
}

/// A Gatekeeper `K8sPSPPrivilegedContainer` constraint (`constraints.gatekeeper.sh/v1beta1`).
pub type PrivilegedContainerConstraint = CustomResource<ConstraintSpec>;

/// `spec.match`: the objects a constraint applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintMatch {
    /// `kinds`: the API groups and kinds.
    pub kinds: Vec<MatchKinds>,
    /// `namespaces`: the namespaces (all when empty).
    pub namespaces: Vec<String>,
}

/// One of `spec.match.kinds`: kinds in some API groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchKinds {
    /// `apiGroups`: the groups (`""` for the core group).
    pub api_groups: Vec<String>,
    /// `kinds`: the kinds (`Pod`).
    pub kinds: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_brainsaits_constraint() {
        let seed = r#"
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPPrivilegedContainer
metadata:
  name: deny-privileged-containers
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
    namespaces:
      - brainsait-production
      - brainsait-staging
"#;
        let c: PrivilegedContainerConstraint = crate::yaml::from_str(seed).unwrap();
        let want: serde_json::Value = crate::yaml::from_str(seed).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), want);
    }
}
