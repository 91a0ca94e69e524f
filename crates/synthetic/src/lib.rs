#![warn(missing_docs)]
//! A synthetic platform of N services, each shaped like a ClinicFlow API
//! ([`clinicflow::nest_api`]: its own Postgres, a migration Job, a Deployment,
//! a Service and a route) and calling its two next neighbours, in
//! ClinicFlow's dev, staging and prod profiles. It exists to measure how the
//! render and the checks scale (`cargo xtask bench`) and renders through the
//! same pipeline as ClinicFlow (`cargo xtask render --platform synthetic`).
//!
//! Only the platform and its in-memory release pins live here; every
//! mechanism is in `gitops-core`, every setting in ClinicFlow's profiles.
//!
//! ```
//! let platform = synthetic::platform(50);
//! assert_eq!(platform.services.len(), 50);
//! let pins = synthetic::pins(&platform);
//! assert!(platform.services.iter().all(|s| pins.pin(&s.name).is_some_and(|p| p.digest.is_some())));
//! ```

use gitops_core::image::{ImageDigest, ImageRepository, ImageTag};
use gitops_core::name;
use gitops_core::name::Name;
use gitops_core::platform::Platform;
use gitops_core::profile::EnvironmentProfile;
use gitops_core::release::{Pin, ReleasePins};

/// The synthetic platform's name.
pub const PLATFORM: Name = name!("synthetic");

/// The tag every synthetic service runs, in every environment.
pub const TAG: &str = "sha-5e1ec7a";
/// Its digest: production requires one (`require_digests`).
pub const DIGEST: ImageDigest =
    ImageDigest::from_static("sha256:5e1ec7a05e1ec7a05e1ec7a05e1ec7a05e1ec7a05e1ec7a05e1ec7a05e1ec7a0");

/// The name of service `i` of `n`: `svc-0001` … `svc-<n>`, zero-padded to at
/// least four digits and to the width of `n`, so that names sort in platform
/// order.
pub fn service_name(i: usize, n: usize) -> Name {
    let width = n.to_string().len().max(4);
    Name::new(format!("svc-{i:0width$}")).expect("`svc-<digits>` is a valid name")
}

/// `n` ClinicFlow-shaped APIs ([`clinicflow::nest_api`], from
/// `docker.io/clinicflow-synthetic/<name>`, routed at `/<name>`); service `i`
/// calls services `i+1` and `i+2` (wrapping around), so every service has two
/// dependencies once `n >= 3`. Names come from [`service_name`].
pub fn platform(n: usize) -> Platform {
    (1..=n).fold(Platform::new(PLATFORM).rendered_by("cargo xtask render"), |platform, i| {
        let name = service_name(i, n);
        let image = ImageRepository::new(format!("docker.io/clinicflow-synthetic/{name}"))
            .expect("a valid repository");
        let neighbours = [1, 2].map(|step| (i - 1 + step) % n + 1);
        let mut deps: Vec<Name> =
            neighbours.iter().filter(|&&j| j != i).map(|&j| service_name(j, n)).collect();
        deps.dedup();
        let route = format!("/{name}");
        platform.service(clinicflow::nest_api(name, image, &route).depends_on(deps))
    })
}

/// ClinicFlow's dev, staging and prod profiles, unchanged but for what
/// they grant `notifications`, a service this platform does not have: its
/// opt-in route and its external egress (mail).
pub fn environments() -> Vec<EnvironmentProfile> {
    let mut envs = clinicflow::environments();
    for env in &mut envs {
        env.ingress.expose_opt_in.clear();
        env.network.external_egress.clear();
    }
    envs
}

/// The release pins of one environment: [`TAG`] and [`DIGEST`] for every service.
pub fn pins(platform: &Platform) -> ReleasePins {
    let pin = Pin { tag: ImageTag::new(TAG).expect("a valid tag"), digest: Some(DIGEST) };
    ReleasePins { images: platform.services.iter().map(|s| (s.name.clone(), pin.clone())).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_clinicflows_api_shape_and_two_neighbours() {
        let p = platform(5);
        p.validate().unwrap();
        let names: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["svc-0001", "svc-0002", "svc-0003", "svc-0004", "svc-0005"]);
        let deps: Vec<&str> = p.services[4].depends_on.iter().map(Name::as_str).collect();
        assert_eq!(deps, ["svc-0001", "svc-0002"], "wraps around");
        let template = clinicflow::platform();
        let api = template.find("identity").unwrap();
        for s in &p.services {
            assert_eq!(s.depends_on.len(), 2);
            assert_eq!((s.kind, &s.ports, &s.env), (api.kind, &api.ports, &api.env));
            assert_eq!(s.database, api.database, "own Postgres and the same migrations");
            assert_eq!(s.route.as_ref().unwrap().path, format!("/{}", s.name));
        }
    }

    #[test]
    fn small_platforms_have_no_self_or_duplicate_dependency() {
        platform(1).validate().unwrap();
        assert!(platform(1).services[0].depends_on.is_empty());
        let two = platform(2);
        two.validate().unwrap();
        assert_eq!(two.services[0].depends_on, [service_name(2, 2)]);
    }

    #[test]
    fn names_stay_sorted_and_valid_at_any_size() {
        assert_eq!(service_name(7, 50_000).as_str(), "svc-00007");
        let p = platform(1_000);
        assert!(p.services.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(pins(&p).images.len(), 1_000);
    }
}
