//! BrainSAIT's pipeline document tracks syncs via Prometheus: where the
//! profile says the Prometheus Operator runs, the instance gets Argo CD's
//! ServiceMonitor and alerts, and the root's project may manage them.

use gitops_core::crd::argocd::AppProject;
use gitops_core::crd::monitoring::{PrometheusRule, ServiceMonitor};
use gitops_core::profile::PrometheusOperator;
use gitops_core::yaml;
use pretty_assertions::assert_eq;
use workspace_tests::{clinicflow_tree, text, try_brainsait};

const APPS: &str = "argocd/brainsait/apps";

#[test]
fn the_instance_alerts_on_failed_degraded_and_stale_applications() {
    let mut profiles = brainsait_rcm::environments();
    for p in &mut profiles {
        p.argocd.prometheus = Some(PrometheusOperator {
            labels: [("release".to_owned(), "kube-prometheus-stack".to_owned())].into(),
        });
    }
    let tree = try_brainsait(&profiles).unwrap();
    let rule: PrometheusRule =
        yaml::from_str(text(&tree, &format!("{APPS}/prometheusrule-argocd-alerts.yaml"))).unwrap();
    assert_eq!(rule.metadata.namespace.as_deref(), Some("argocd"));
    assert_eq!(
        rule.metadata.labels.as_ref().unwrap()["release"],
        "kube-prometheus-stack",
        "what the ruleSelector matches"
    );
    let alerts: Vec<(&str, Option<&str>)> =
        rule.spec.groups[0].rules.iter().map(|r| (r.alert.as_str(), r.for_.as_deref())).collect();
    assert_eq!(
        alerts,
        [("ArgoCdSyncFailed", None), ("ArgoCdAppDegraded", Some("5m")), ("ArgoCdAppOutOfSync", Some("30m"))]
    );
    // The metrics Argo CD 3.x exports; `argocd_app_sync_status` left in 3.0.
    let exprs: String = rule.spec.groups[0].rules.iter().map(|r| r.expr.as_str()).collect();
    assert!(exprs.contains("argocd_app_sync_total{phase=~\"Error|Failed\"}"));
    assert!(exprs.contains("argocd_app_info{health_status=\"Degraded\"}"));
    assert!(exprs.contains("argocd_app_info{sync_status=\"OutOfSync\"}"));
    assert!(!exprs.contains("argocd_app_sync_status"));

    let monitor: ServiceMonitor =
        yaml::from_str(text(&tree, &format!("{APPS}/servicemonitor-argocd-metrics.yaml"))).unwrap();
    assert_eq!(monitor.spec.selector.match_labels["app.kubernetes.io/name"], "argocd-metrics");
    assert_eq!(monitor.spec.endpoints[0].port, "metrics");
    assert_eq!(monitor.metadata.labels.as_ref().unwrap()["release"], "kube-prometheus-stack");

    // The root Application syncs them: its project must admit both kinds.
    let bootstrap: AppProject =
        yaml::from_str(text(&tree, "argocd/brainsait/bootstrap/appproject-brainsait-bootstrap.yaml"))
            .unwrap();
    for kind in ["PrometheusRule", "ServiceMonitor"] {
        assert!(bootstrap.spec.permits_kind("monitoring.coreos.com", kind, true), "{kind}");
    }
}

#[test]
fn without_the_operator_there_is_no_monitor_and_no_kind_for_it() {
    let tree = clinicflow_tree();
    assert!(tree.paths().all(|p| !p.contains("prometheusrule") && !p.contains("servicemonitor")));
    let bootstrap: AppProject =
        yaml::from_str(text(&tree, "argocd/prod/bootstrap/appproject-clinicflow-bootstrap.yaml")).unwrap();
    assert!(!bootstrap.spec.permits_kind("monitoring.coreos.com", "PrometheusRule", true));
}

#[test]
fn environments_of_one_instance_must_agree_on_monitoring() {
    let mut profiles = brainsait_rcm::environments();
    profiles[0].argocd.prometheus = None;
    let message = try_brainsait(&profiles).unwrap_err();
    assert!(message.contains("argocd.prometheus") && message.contains("instance `brainsait`"), "{message}");
}
