//! A profile may route through Gateway API instead of ingress-nginx (retired
//! in March 2026): ClinicFlow's environments rendered that way have one
//! HTTPRoute with exactly the routes their Ingress has, in the same wave, no
//! Ingress, a project that admits the HTTPRoute kind, and a tree whose files
//! parse back. ClinicFlow's own profiles keep the Ingress.

use gitops_core::crd::argocd::AppProject;
use gitops_core::crd::gateway_api::PathMatchType;
use gitops_core::platform::SERVICE_PORT;
use gitops_core::profile::Routing;
use gitops_core::{Object, yaml};
use pretty_assertions::assert_eq;
use workspace_tests::{clinicflow_objects, clinicflow_via_gateway, entry_routes, text};

#[test]
fn clinicflow_keeps_its_nginx_ingress() {
    for (profile, objects) in clinicflow_objects() {
        assert!(
            matches!(&profile.ingress.routing, Routing::Ingress { class_name } if class_name.as_str() == "nginx"),
            "{}",
            profile.name
        );
        assert!(objects.iter().all(|o| o.kind() != "HTTPRoute"), "{}", profile.name);
    }
}

#[test]
fn a_gateway_profile_renders_an_http_route_with_the_ingress_routes_and_no_ingress() {
    let (via_gateway, tree) = clinicflow_via_gateway();
    for ((profile, objects), (_, ingress_objects)) in via_gateway.iter().zip(clinicflow_objects()) {
        let env = profile.name.as_str();
        assert!(objects.iter().all(|o| o.kind() != "Ingress"), "{env}: no Ingress");
        let routes: Vec<&Object> = objects.iter().filter(|o| o.kind() == "HTTPRoute").collect();
        let [route_object] = routes[..] else { panic!("{env}: one HTTPRoute") };
        let Object::HttpRoute(route) = route_object else { panic!() };
        let ingress = ingress_objects.iter().find(|o| o.kind() == "Ingress").unwrap();
        assert_eq!(route_object.name(), ingress.name(), "{env}");
        assert_eq!(route_object.wave(), ingress.wave(), "{env}: the Ingress's sync wave");

        for rule in &route.spec.rules {
            let [m] = &rule.matches[..] else { panic!("{env}: one match per rule") };
            let [backend] = &rule.backend_refs[..] else { panic!("{env}: one backend per rule") };
            assert_eq!(m.path.as_ref().unwrap().type_, Some(PathMatchType::PathPrefix), "{env}");
            assert_eq!(backend.port, Some(SERVICE_PORT), "{env}: the Service's port");
        }
        let want = entry_routes([ingress]);
        assert!(!want.is_empty(), "{env}");
        assert_eq!(entry_routes([route_object]), want, "{env}: exactly the Ingress's routes, in order");

        let [parent] = &route.spec.parent_refs[..] else { panic!("{env}: one parent") };
        assert_eq!(
            (parent.namespace.as_deref(), parent.name.as_str(), parent.section_name.as_deref()),
            (Some("gateway-system"), "shared", Some("https"))
        );

        // One file per object, listed by kustomize, parsing back into the same object.
        let file = format!("{env}/httproute-{}.yaml", route_object.name());
        let back = Object::from_json(yaml::from_str(text(&tree, &file)).unwrap()).unwrap();
        assert_eq!(&back, route_object, "{file}");
        assert!(
            text(&tree, &format!("{env}/kustomization.yaml"))
                .contains(&format!("- httproute-{}.yaml", route_object.name()))
        );
        assert!(tree.paths().all(|p| !p.starts_with(&format!("{env}/ingress-"))), "{env}");
    }
}

#[test]
fn the_project_admits_the_http_route_kind_and_no_longer_the_ingress() {
    let (_, tree) = clinicflow_via_gateway();
    for env in ["dev", "staging", "prod"] {
        let path = format!("argocd/{env}/apps/appproject-clinicflow-{env}.yaml");
        let project: AppProject = yaml::from_str(text(&tree, &path)).unwrap();
        let kinds: Vec<(&str, &str)> = project
            .spec
            .namespace_resource_whitelist
            .iter()
            .map(|gk| (gk.group.as_str(), gk.kind.as_str()))
            .collect();
        assert!(kinds.contains(&("gateway.networking.k8s.io", "HTTPRoute")), "{env}: {kinds:?}");
        assert!(!kinds.iter().any(|(_, kind)| *kind == "Ingress"), "{env}: {kinds:?}");
    }
}
