//! Prometheus Operator's `PrometheusRule` and `ServiceMonitor`
//! (`monitoring.coreos.com/v1`), and the alert rules and scrape target of
//! Argo CD's application controller written with them.
//!
//! Field names are the upstream CRDs'
//! (`example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml` and
//! `monitoring.coreos.com_servicemonitors.yaml` in prometheus-operator/prometheus-operator),
//! reduced to the fields this crate writes. The metric and label names are those
//! Argo CD 3.x exports (`docs/operator-manual/metrics.md` and
//! `controller/metrics/metrics.go` in argoproj/argo-cd).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::argocd::ARGOCD_NAMESPACE;
use super::{CustomResource, CustomResourceSpec};

/// `spec` of a Prometheus Operator `PrometheusRule`: the content of one
/// Prometheus rule file, which the Prometheus objects whose `ruleSelector`
/// matches the resource's labels load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusRuleSpec {
    /// `groups`: the rule groups of the file.
    pub groups: Vec<RuleGroup>,
}

impl CustomResourceSpec for PrometheusRuleSpec {
    const API_VERSION: &'static str = "monitoring.coreos.com/v1";
    const KIND: &'static str = "PrometheusRule";
}

/// A Prometheus Operator `PrometheusRule` (`monitoring.coreos.com/v1`).
pub type PrometheusRule = CustomResource<PrometheusRuleSpec>;

/// One of `spec.groups`: rules Prometheus evaluates in sequence, at one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleGroup {
    /// `name`: the group's name, unique within the resource.
    pub name: String,
    /// `interval`: how often the group's rules are evaluated (`30s`); Prometheus's
    /// `evaluation_interval` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// `rules`: the group's rules.
    pub rules: Vec<Rule>,
}

/// One of `spec.groups[].rules`: an alerting rule. (Upstream a rule is either
/// an alerting rule, with `alert`, or a recording rule, with `record`; this
/// crate writes only alerting rules.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// `alert`: the alert's name, a valid label value.
    pub alert: String,
    /// `expr`: the PromQL expression; every series it returns is an alert.
    pub expr: String,
    /// `for`: how long the expression must return a series before the alert
    /// fires (`5m`); it fires on the first evaluation when unset.
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// `labels`: labels added to each alert (`severity`), for Alertmanager's routing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `annotations`: annotations added to each alert (`summary`, `description`);
    /// values are Go templates that can read the series' labels as `{{ $labels.name }}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `spec` of a Prometheus Operator `ServiceMonitor`: which Services' endpoints
/// the Prometheus objects whose `serviceMonitorSelector` matches the resource's
/// labels scrape, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceMonitorSpec {
    /// `selector`: the labels of the Services whose endpoints are scraped.
    pub selector: LabelSelector,
    /// `namespaceSelector`: the namespaces the Services are looked for in; the
    /// ServiceMonitor's own namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    /// `endpoints`: the Service ports to scrape, and how.
    pub endpoints: Vec<Endpoint>,
    /// `jobLabel`: the Service label whose value becomes the `job` label of the
    /// scraped metrics; the Service's name when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_label: Option<String>,
}

impl CustomResourceSpec for ServiceMonitorSpec {
    const API_VERSION: &'static str = "monitoring.coreos.com/v1";
    const KIND: &'static str = "ServiceMonitor";
}

/// A Prometheus Operator `ServiceMonitor` (`monitoring.coreos.com/v1`).
pub type ServiceMonitor = CustomResource<ServiceMonitorSpec>;

/// `spec.selector` of a ServiceMonitor: a Kubernetes label selector, reduced to
/// `matchLabels`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// `matchLabels`: labels a Service must all carry; every Service when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

/// `spec.namespaceSelector` of a ServiceMonitor: the namespaces by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSelector {
    /// `matchNames`: the names of the namespaces.
    pub match_names: Vec<String>,
}

/// One of `spec.endpoints` of a ServiceMonitor: a Service port Prometheus scrapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    /// `port`: the name of the Service port.
    pub port: String,
    /// `interval`: how often it is scraped (`30s`); Prometheus's global scrape
    /// interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// `path`: the HTTP path of the metrics; `/metrics` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The application controller's metrics Service in Argo CD's install manifests
/// (`manifests/base/application-controller/argocd-metrics.yaml`): its name and
/// its `app.kubernetes.io/name` label.
const ARGOCD_METRICS_SERVICE: &str = "argocd-metrics";
/// The name of that Service's port (8082).
const ARGOCD_METRICS_PORT: &str = "metrics";

/// The labels one Argo CD Application's series are grouped by, so that a `for`
/// is not restarted when one of `argocd_app_info`'s other labels changes (its
/// `operation` is `sync` while a sync runs) and a series from every controller
/// shard counts once. `namespace` is the Application's namespace, or, when the
/// scrape's target label took that name, `exported_namespace`.
const APP_LABELS: &str = "namespace, exported_namespace, name, project";

/// The alerting rules for Argo CD's Applications, from the metrics the
/// application controller of Argo CD 3.x exports (`argocd_app_info` and
/// `argocd_app_sync_total`, labelled with the Application's `name` and
/// `project`), as a `PrometheusRule` named `name` in `namespace` with `labels`
/// (those a Prometheus's `ruleSelector` matches):
///
/// - `ArgoCdSyncFailed` (warning): a sync operation ended in phase `Error`
///   or `Failed` in the last 10 minutes;
/// - `ArgoCdAppDegraded` (critical): an Application has been `Degraded` for 5 minutes;
/// - `ArgoCdAppOutOfSync` (warning): an Application has been `OutOfSync` for 30 minutes.
pub fn argocd_alerts(name: &str, namespace: &str, labels: BTreeMap<String, String>) -> PrometheusRule {
    let rule =
        |alert: &str, expr: String, for_: Option<&str>, severity: &str, summary: &str, description: &str| {
            Rule {
                alert: alert.into(),
                expr,
                for_: for_.map(Into::into),
                labels: [("severity".to_owned(), severity.to_owned())].into_iter().collect(),
                annotations: [
                    ("summary".to_owned(), summary.to_owned()),
                    ("description".to_owned(), description.to_owned()),
                ]
                .into_iter()
                .collect(),
            }
        };
    // A counter's series appears with its first increment, which `increase`
    // cannot see (it needs two samples): a series younger than the window is
    // a failure too.
    let failed = r#"argocd_app_sync_total{phase=~"Error|Failed"}"#;
    let sync_failed = format!(
        "sum by ({APP_LABELS}, phase) (\n  increase({failed}[10m]) > 0\n  or\n  ({failed} unless {failed} offset 10m)\n)"
    );
    let app_info = |selector: &str| format!("max by ({APP_LABELS}) (argocd_app_info{{{selector}}})");
    CustomResource::new(
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: (!labels.is_empty()).then_some(labels),
            ..Default::default()
        },
        PrometheusRuleSpec {
            groups: vec![RuleGroup {
                name: "argocd".into(),
                interval: None,
                rules: vec![
                    rule(
                        "ArgoCdSyncFailed",
                        sync_failed,
                        None,
                        "warning",
                        "Argo CD application {{ $labels.name }} failed to sync",
                        "A sync of application {{ $labels.name }} (project {{ $labels.project }}) ended in phase \
                         {{ $labels.phase }} in the last 10 minutes.",
                    ),
                    rule(
                        "ArgoCdAppDegraded",
                        app_info(r#"health_status="Degraded""#),
                        Some("5m"),
                        "critical",
                        "Argo CD application {{ $labels.name }} is degraded",
                        "Application {{ $labels.name }} (project {{ $labels.project }}) has been Degraded for \
                         5 minutes or more.",
                    ),
                    rule(
                        "ArgoCdAppOutOfSync",
                        app_info(r#"sync_status="OutOfSync""#),
                        Some("30m"),
                        "warning",
                        "Argo CD application {{ $labels.name }} is out of sync",
                        "Application {{ $labels.name }} (project {{ $labels.project }}) has differed from Git \
                         for 30 minutes or more.",
                    ),
                ],
            }],
        },
    )
}

/// A `ServiceMonitor` named `argocd-metrics` in `namespace`, with `labels`
/// (those a Prometheus's `serviceMonitorSelector` matches), that scrapes the
/// application controller's metrics Service of Argo CD's install manifests:
/// the Service labelled `app.kubernetes.io/name: argocd-metrics`, port
/// `metrics` (8082), in Argo CD's namespace ([`ARGOCD_NAMESPACE`]).
pub fn argocd_service_monitor(namespace: &str, labels: BTreeMap<String, String>) -> ServiceMonitor {
    CustomResource::new(
        ObjectMeta {
            name: Some(ARGOCD_METRICS_SERVICE.into()),
            namespace: Some(namespace.into()),
            labels: (!labels.is_empty()).then_some(labels),
            ..Default::default()
        },
        ServiceMonitorSpec {
            selector: LabelSelector {
                match_labels: [("app.kubernetes.io/name".to_owned(), ARGOCD_METRICS_SERVICE.to_owned())]
                    .into_iter()
                    .collect(),
            },
            namespace_selector: Some(NamespaceSelector { match_names: vec![ARGOCD_NAMESPACE.into()] }),
            endpoints: vec![Endpoint { port: ARGOCD_METRICS_PORT.into(), interval: None, path: None }],
            job_label: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Object;

    /// Parses `yaml` as `T` and checks it serializes back to exactly the same JSON.
    fn round_trips<T: Serialize + serde::de::DeserializeOwned>(yaml: &str) -> T {
        let typed: T = crate::yaml::from_str(yaml).unwrap();
        let want: serde_json::Value = crate::yaml::from_str(yaml).unwrap();
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            want,
            "serializes to exactly the documented field names"
        );
        typed
    }

    #[test]
    fn prometheus_rule_matches_the_documented_examples() {
        // prometheus-operator's alerting guide (example/user-guides/alerting/
        // prometheus-example-rules.yaml), without its `creationTimestamp: null`.
        let documented = r#"
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  labels:
    prometheus: example
    role: alert-rules
  name: prometheus-example-rules
spec:
  groups:
  - name: ./example.rules
    rules:
    - alert: ExampleAlert
      expr: vector(1)
"#;
        let rule: PrometheusRule = round_trips(documented);
        assert_eq!(rule.spec.groups[0].rules[0].for_, None);

        // Every field, as Prometheus's alerting-rules page writes a rule.
        let full = r#"
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: example
  namespace: monitoring
spec:
  groups:
  - name: example
    interval: 30s
    rules:
    - alert: HighRequestLatency
      expr: job:request_latency_seconds:mean5m{job="myjob"} > 0.5
      for: 10m
      labels:
        severity: page
      annotations:
        summary: High request latency
        description: '{{ $labels.instance }} has a median request latency above 0.5s.'
"#;
        let rule: PrometheusRule = round_trips(full);
        assert_eq!(rule.spec.groups[0].rules[0].for_.as_deref(), Some("10m"));
        assert_eq!(rule.spec.groups[0].interval.as_deref(), Some("30s"));
    }

    #[test]
    fn service_monitor_matches_the_documented_examples() {
        // prometheus-operator's getting-started guide
        // (example/user-guides/getting-started/example-app-service-monitor.yaml).
        round_trips::<ServiceMonitor>(
            r#"
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: example-app
spec:
  selector:
    matchLabels:
      app: example-app
  endpoints:
  - port: web
"#,
        );
        // Every field.
        let monitor: ServiceMonitor = round_trips(
            r#"
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: api
  namespace: monitoring
  labels:
    release: prometheus-operator
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: api
  namespaceSelector:
    matchNames:
    - api-prod
  endpoints:
  - port: http
    interval: 30s
    path: /metrics
  jobLabel: app.kubernetes.io/name
"#,
        );
        assert_eq!(monitor.spec.job_label.as_deref(), Some("app.kubernetes.io/name"));
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let rule = r#"
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: x
spec:
  groups:
  - name: g
    rules:
    - alert: A
      expression: vector(1)
"#;
        let err = crate::yaml::from_str::<PrometheusRule>(rule).unwrap_err();
        assert!(format!("{err:?}").contains("expression"), "{err:?}");

        let monitor = r#"
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: x
spec:
  selector:
    matchLabel:
      app: x
  endpoints:
  - port: web
"#;
        let err = crate::yaml::from_str::<ServiceMonitor>(monitor).unwrap_err();
        assert!(format!("{err:?}").contains("matchLabel"), "{err:?}");
    }

    #[test]
    fn argocd_alerts_read_the_metrics_argo_cd_exports() {
        let labels: BTreeMap<String, String> = [("release".to_owned(), "prometheus".to_owned())].into();
        let rule = argocd_alerts("argocd-alerts", "monitoring", labels.clone());
        assert_eq!(rule.metadata.name.as_deref(), Some("argocd-alerts"));
        assert_eq!(rule.metadata.namespace.as_deref(), Some("monitoring"));
        assert_eq!(rule.metadata.labels, Some(labels));
        let rules = &rule.spec.groups[0].rules;
        let alert = |name: &str| rules.iter().find(|r| r.alert == name).unwrap_or_else(|| panic!("{name}"));

        let failed = alert("ArgoCdSyncFailed");
        assert!(failed.expr.contains(r#"increase(argocd_app_sync_total{phase=~"Error|Failed"}[10m]) > 0"#));
        assert_eq!(failed.for_, None);
        let degraded = alert("ArgoCdAppDegraded");
        assert!(degraded.expr.contains(r#"argocd_app_info{health_status="Degraded"}"#));
        assert_eq!(degraded.for_.as_deref(), Some("5m"));
        let out_of_sync = alert("ArgoCdAppOutOfSync");
        assert!(out_of_sync.expr.contains(r#"argocd_app_info{sync_status="OutOfSync"}"#));
        assert_eq!(out_of_sync.for_.as_deref(), Some("30m"));

        for r in rules {
            // Grouped by the labels the annotations read.
            assert!(
                r.expr.starts_with("max by (namespace, exported_namespace, name, project")
                    || r.expr.starts_with("sum by (namespace, exported_namespace, name, project")
            );
            assert!(["warning", "critical"].contains(&r.labels["severity"].as_str()), "{}", r.alert);
            for key in ["summary", "description"] {
                assert!(r.annotations[key].contains("{{ $labels.name }}"), "{} {key}", r.alert);
            }
            assert!(r.annotations["description"].contains("{{ $labels.project }}"), "{}", r.alert);
        }
    }

    #[test]
    fn argocd_service_monitor_selects_the_controllers_metrics_service() {
        let monitor = argocd_service_monitor("monitoring", BTreeMap::new());
        let v = serde_json::to_value(&monitor).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": {"name": "argocd-metrics", "namespace": "monitoring"},
                "spec": {
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "argocd-metrics"}},
                    "namespaceSelector": {"matchNames": ["argocd"]},
                    "endpoints": [{"port": "metrics"}],
                },
            })
        );
    }

    #[test]
    fn both_kinds_are_typed_objects() {
        let rule = argocd_alerts("argocd-alerts", "monitoring", BTreeMap::new());
        let monitor = argocd_service_monitor("monitoring", BTreeMap::new());
        for object in [Object::from(rule), Object::from(monitor)] {
            assert_eq!(object.api_version(), "monitoring.coreos.com/v1");
            let back = Object::from_json(serde_json::to_value(&object).unwrap()).unwrap();
            assert!(
                matches!(back, Object::PrometheusRule(_) | Object::ServiceMonitor(_)),
                "{}",
                object.kind()
            );
            assert_eq!(back, object);
        }
    }
}
