//! Where each object goes, and the files that tie a directory together.
//!
//! ```text
//! <env>/…                                       per-environment topology: the whole environment
//! <env>/platform/…, <env>/<service>/…           per-service topology: shared objects, each service
//!     kustomization.yaml                        in every directory: `kubectl kustomize <dir>` works
//!     <kind>-<name>.yaml                        one object per file
//! <env>/README.md                               pictures of the environment (not a kustomize resource)
//! argocd/<instance>/bootstrap/                  `kubectl apply -k` once: root project + root Application
//! argocd/<instance>/apps/                       what the root syncs: AppProjects, Applications, argocd-cm,
//!                                               argocd-notifications-cm
//! ```
//!
//! An Argo CD instance is one installation: each of ClinicFlow's clusters has
//! its own; BrainSAIT's environments share one.

use std::collections::{BTreeMap, BTreeSet};

use gitops_core::addons::{self, Provides};
use gitops_core::name::{Name, NameError};
use gitops_core::par;
use gitops_core::platform::{Platform, Topology};
use gitops_core::profile::{EnvironmentProfile, GitSource};
use gitops_core::yaml::{self, YamlError};
use gitops_core::{EnvironmentRender, Object};
use serde::Serialize;

use crate::argocd;
use crate::picture::EnvironmentPicture;
use crate::picture::readme::environment_readme;
use crate::tree::Tree;

/// The first line of every rendered YAML file: the command that renders it
/// ([`Platform::rendered_by`]), and that the file is not to be edited.
pub fn header(platform: &Platform) -> String {
    match &platform.render_command {
        Some(command) => {
            format!("# Rendered by `{command}`: edit the Rust sources or releases/, not this file.\n")
        }
        None => {
            "# Rendered from the platform's Rust sources: edit them or releases/, not this file.\n".into()
        }
    }
}

/// Directory of the Argo CD objects, beside the environment directories.
pub const ARGOCD_DIR: &str = "argocd";
/// In the per-service topology, the directory of an environment's shared objects.
pub const SHARED_DIR: &str = "platform";
/// The pictures of an environment, in its directory; not a kustomize resource.
pub const README: &str = "README.md";

/// The rendered objects of one environment.
pub struct EnvironmentObjects<'a> {
    /// The environment's profile: its name is the directory, its namespace every object's.
    pub profile: &'a EnvironmentProfile,
    /// What the builders rendered for it.
    pub render: EnvironmentRender,
}

/// Why objects cannot be laid out as files; each names the object or the
/// environment and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Two objects of one kind and name would be the same file.
    #[error("`{dir}` would hold two {kind} objects named `{name}`; give one of them another name")]
    Duplicate {
        /// The directory, relative to the tree root.
        dir: String,
        /// The objects' kind.
        kind: String,
        /// Their name.
        name: String,
    },
    /// An object outside its environment's namespace (an escape hatch's mistake).
    #[error(
        "environment `{env}`: {kind} `{name}` is in namespace `{found}`, not the environment's `{expected}`"
    )]
    WrongNamespace {
        /// The environment.
        env: String,
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// The namespace it names.
        found: String,
        /// The environment's namespace.
        expected: String,
    },
    /// An environment name used twice, or `argocd`, which the layout reserves.
    #[error("environment `{0}` is defined twice, or is named `argocd`, which the layout reserves; rename it")]
    EnvironmentName(String),
    /// An object needs what none of its instance's add-ons provides.
    #[error(
        "environment `{env}`: {object} needs {need}, which no add-on of its Argo CD instance provides; add the add-on to `argocd.addons` (gitops_core::addons), or leave `argocd.addons` empty \
         if the cluster's add-ons are installed another way"
    )]
    MissingAddon {
        /// The environment.
        env: String,
        /// The object, as `Kind `name``.
        object: String,
        /// What it needs, in words.
        need: String,
    },
    /// Two environments of one Argo CD instance with different instance settings.
    #[error(
        "environments `{first}` and `{env}` share Argo CD instance `{instance}` but set different `argocd.{what}`; \
         sign-in, admins, monitoring, add-ons and backup belong to the instance: set the same in all"
    )]
    InstanceAccess {
        /// The instance.
        instance: String,
        /// The environment that set it first.
        first: String,
        /// The environment that disagrees.
        env: String,
        /// The setting.
        what: &'static str,
    },
    /// A service named `platform`, the shared directory of the per-service topology.
    #[error(
        "service `{0}` is named like the shared directory `platform` of the per-service topology; rename it"
    )]
    ServiceName(String),
    /// An object the YAML emitter cannot write.
    #[error("cannot emit YAML for {what}: {}", .error.message)]
    Yaml {
        /// The object or file.
        what: String,
        /// The emitter's error.
        error: YamlError,
    },
    /// A name the layout derives (an Application's, a project's) is not a valid name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Two directories of the layout gave the same file: a bug in the layout.
    #[error("`{0}` would be written twice")]
    Twice(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization<'a> {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<&'a str>,
}

/// The directories of the tree that `profile`'s environment renders into:
/// its own, and its Argo CD instance's (shared with the instance's other
/// environments, if any).
pub fn environment_roots(profile: &EnvironmentProfile) -> [String; 2] {
    [profile.name.to_string(), format!("{ARGOCD_DIR}/{}", profile.argocd.instance)]
}

/// `<kind>-<name>.yaml`, lowercase: stable, unique per kind and name.
pub fn file_name(object: &Object) -> String {
    let (kind, name) = (object.kind(), object.name());
    // One allocation: called twice per object, by the check and the layout.
    let mut file = String::with_capacity(kind.len() + name.len() + ".yaml".len() + 1);
    file.extend(kind.chars().map(|c| c.to_ascii_lowercase()));
    file.push('-');
    file.push_str(name);
    file.push_str(".yaml");
    file
}

fn document<T: Serialize>(
    header: &str,
    what: impl FnOnce() -> String,
    value: &T,
) -> Result<Vec<u8>, LayoutError> {
    yaml::to_string_with_header(header, value)
        .map(String::into_bytes)
        .map_err(|error| LayoutError::Yaml { what: what(), error })
}

/// `objects` as files of `dir`, one each, plus a `kustomization.yaml`
/// listing them, appended to `files`. Large directories are serialised on
/// every CPU.
fn emit_dir<'a>(
    files: &mut Vec<(String, Vec<u8>)>,
    header: &str,
    dir: &str,
    objects: impl IntoIterator<Item = &'a Object>,
) -> Result<(), LayoutError> {
    let objects: Vec<&Object> = objects.into_iter().collect();
    let documents = par::map(par::worth_threads(objects.len()), &par::chunks(&objects, 4, 64), |chunk| {
        chunk
            .iter()
            .map(|o| document(header, || format!("{} `{}`", o.kind(), o.name()), o))
            .collect::<Result<Vec<_>, _>>()
    });
    let mut names = Vec::with_capacity(objects.len());
    for (object, bytes) in
        objects.iter().zip(documents.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().flatten())
    {
        let file = file_name(object);
        files.push((format!("{dir}/{file}"), bytes));
        names.push(file);
    }
    names.sort_unstable();
    if let Some(twice) = names.windows(2).position(|w| w[0] == w[1]) {
        let (kind, name) = objects
            .iter()
            .find(|o| file_name(o) == names[twice])
            .map(|o| (o.kind(), o.name()))
            .expect("the name is an object's");
        return Err(LayoutError::Duplicate { dir: dir.into(), kind: kind.into(), name: name.into() });
    }
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: names.iter().map(String::as_str).collect(),
    };
    let bytes = document(header, || format!("{dir}/kustomization.yaml"), &kustomization)?;
    files.push((format!("{dir}/kustomization.yaml"), bytes));
    Ok(())
}

/// With add-ons declared, every object's need from the cluster is met by
/// one of them (or, for the Prometheus Operator's kinds, by the profile's
/// word that it runs): otherwise the tree would validate and never run.
fn check_addons(env: &EnvironmentObjects) -> Result<(), LayoutError> {
    let argocd = &env.profile.argocd;
    if argocd.addons.is_empty() {
        return Ok(());
    }
    let mut provided: Vec<Provides> = argocd.addons.iter().flat_map(|a| a.provides.iter().cloned()).collect();
    if argocd.prometheus.is_some() {
        provided.push(Provides::ApiGroup("monitoring.coreos.com".into()));
    }
    for object in env.render.objects() {
        if let Some(need) = addons::needs(object).into_iter().find(|need| !provided.contains(need)) {
            return Err(LayoutError::MissingAddon {
                env: env.profile.name.to_string(),
                object: format!("{} `{}`", object.kind(), object.name()),
                need: need.describe(),
            });
        }
    }
    Ok(())
}

fn check_namespaces(env: &EnvironmentObjects) -> Result<(), LayoutError> {
    let expected = env.profile.namespace.as_str();
    for object in env.render.objects() {
        if let Some(ns) = object.namespace()
            && ns != expected
        {
            return Err(LayoutError::WrongNamespace {
                env: env.profile.name.to_string(),
                kind: object.kind().into(),
                name: object.name().into(),
                found: ns.into(),
                expected: expected.into(),
            });
        }
    }
    Ok(())
}

/// One directory of an environment: its path, the service that owns it
/// (`None` for the whole environment or its shared objects), its objects.
pub struct EnvDir<'r> {
    /// The directory, relative to the tree root (`prod`, `prod/api`).
    pub path: String,
    /// The service that owns it; `None` for the environment or its shared objects.
    pub service: Option<&'r Name>,
    /// Its objects, in render order.
    pub objects: Vec<&'r Object>,
}

/// The directories of one environment in the platform's topology.
pub fn environment_dirs<'r>(
    platform: &Platform,
    env_name: &str,
    render: &'r EnvironmentRender,
) -> Result<Vec<EnvDir<'r>>, LayoutError> {
    Ok(match platform.topology {
        Topology::PerEnvironment => {
            vec![EnvDir { path: env_name.to_owned(), service: None, objects: render.objects().collect() }]
        }
        Topology::PerService => {
            let shared = render.shared.iter().collect();
            let mut dirs =
                vec![EnvDir { path: format!("{env_name}/{SHARED_DIR}"), service: None, objects: shared }];
            for (service, objects) in &render.services {
                if service.as_str() == SHARED_DIR {
                    return Err(LayoutError::ServiceName(service.to_string()));
                }
                let path = format!("{env_name}/{service}");
                dirs.push(EnvDir { path, service: Some(service), objects: objects.iter().collect() });
            }
            dirs
        }
    })
}

/// Files of the tree: relative path and bytes.
pub type Files = Vec<(String, Vec<u8>)>;

/// Lays out every environment of `platform`. `repo_dir` is where the tree
/// sits in the Git repository (`deploy`), for the Applications' source paths.
pub fn layout(platform: &Platform, envs: &[EnvironmentObjects], repo_dir: &str) -> Result<Tree, LayoutError> {
    let mut layout = Layout::new(platform, repo_dir);
    let mut tree = Tree::new();
    for env in envs {
        let mut prepared = layout.prepare(env)?;
        tree.extend(prepared.take_files()).map_err(LayoutError::Twice)?;
        layout.commit(prepared)?;
    }
    tree.extend(layout.finish()?).map_err(LayoutError::Twice)?;
    Ok(tree)
}

/// A tree laid out one environment at a time, so that a caller may drop
/// each environment's objects once they are files: [`layout`] in steps.
/// [`Layout::prepare`] only reads, so environments may be prepared on
/// several threads, and an environment's files may be written as soon as
/// they are prepared; [`Layout::commit`] takes the environments in order for
/// the Argo CD files, which [`Layout::finish`] lays out.
pub struct Layout<'p> {
    platform: &'p Platform,
    repo_dir: &'p str,
    /// The first line of every file.
    header: String,
    env_names: BTreeSet<&'p str>,
    /// Each Argo CD instance's objects, and the Git source of its root.
    instances: BTreeMap<&'p Name, Instance<'p>>,
}

/// One Argo CD instance's objects, repository and environments.
struct Instance<'p> {
    apps: Vec<Object>,
    git: &'p GitSource,
    profiles: Vec<&'p EnvironmentProfile>,
}

/// One environment laid out: its files, and its Argo CD objects, which go
/// to its instance's directory. Holds no reference to the environment's
/// objects, which may be dropped.
pub struct PreparedEnvironment<'p> {
    profile: &'p EnvironmentProfile,
    files: Files,
    apps: Vec<Object>,
}

impl PreparedEnvironment<'_> {
    /// The environment's files (its directory's), leaving none behind.
    pub fn take_files(&mut self) -> Files {
        std::mem::take(&mut self.files)
    }
}

impl<'p> Layout<'p> {
    /// A layout of `platform`'s environments below `repo_dir`, the tree's
    /// directory in the repository (`deploy`), which Argo CD's Applications point at.
    pub fn new(platform: &'p Platform, repo_dir: &'p str) -> Self {
        let header = header(platform);
        Layout { platform, repo_dir, header, env_names: BTreeSet::new(), instances: BTreeMap::new() }
    }

    /// One environment's directories, files and Argo CD objects.
    pub fn prepare(&self, env: &EnvironmentObjects<'p>) -> Result<PreparedEnvironment<'p>, LayoutError> {
        let (platform, profile) = (self.platform, env.profile);
        let env_name = profile.name.as_str();
        if env_name == ARGOCD_DIR {
            return Err(LayoutError::EnvironmentName(env_name.into()));
        }
        check_namespaces(env)?;
        check_addons(env)?;
        // The environment's own Argo CD objects: its project, then its Applications.
        let mut apps: Vec<Object> =
            vec![argocd::environment_project(platform, profile, env.render.objects())?.into()];
        let app_name = argocd::environment_app_name(platform, profile)?;
        let mut files = Vec::new();
        let impersonation = profile.argocd.impersonation;
        if impersonation {
            apps.extend(argocd::deployer_objects(platform, profile, env.render.objects())?);
        }
        for mut dir in environment_dirs(platform, env_name, &env.render)? {
            // Impersonated, the root owns the Namespace (with the deployer in
            // it) and the limits on it.
            if impersonation {
                dir.objects.retain(|o| !argocd::root_owned_under_impersonation(o));
            }
            emit_dir(&mut files, &self.header, &dir.path, dir.objects)?;
            // The directory's Application: the environment's own, or the service's.
            let name = match dir.service {
                None => app_name.clone(),
                Some(service) => argocd::service_app_name(service, profile)?,
            };
            let path = format!("{}/{}", self.repo_dir, dir.path);
            apps.push(argocd::application(platform, profile, &name, &path)?.into());
        }
        let picture = EnvironmentPicture::of(platform, profile, &env.render);
        let readme = environment_readme(platform, &picture, &apps);
        files.push((format!("{env_name}/{README}"), readme.into_bytes()));
        Ok(PreparedEnvironment { profile, files, apps })
    }

    /// Adds a prepared environment's Argo CD objects to its instance's.
    /// Environments are committed in order; their files are the caller's
    /// ([`PreparedEnvironment::take_files`]).
    pub fn commit(&mut self, prepared: PreparedEnvironment<'p>) -> Result<(), LayoutError> {
        let PreparedEnvironment { profile, files: _, apps: env_apps } = prepared;
        if !self.env_names.insert(profile.name.as_str()) {
            return Err(LayoutError::EnvironmentName(profile.name.to_string()));
        }
        let instance = self.instances.entry(&profile.argocd.instance).or_insert_with(|| Instance {
            apps: Vec::new(),
            git: &profile.git,
            profiles: Vec::new(),
        });
        // Sign-in and platform admins are the instance's, not an environment's.
        if let Some(first) = instance.profiles.first() {
            let (a, b) = (&first.argocd.access, &profile.argocd.access);
            for (what, differs) in [
                ("access.sso", a.sso != b.sso),
                ("access.admin_groups", a.admin_groups != b.admin_groups),
                ("prometheus", first.argocd.prometheus != profile.argocd.prometheus),
                ("addons", first.argocd.addons != profile.argocd.addons),
                ("backup", first.argocd.backup != profile.argocd.backup),
                ("impersonation", first.argocd.impersonation != profile.argocd.impersonation),
            ] {
                if differs {
                    return Err(LayoutError::InstanceAccess {
                        instance: profile.argocd.instance.to_string(),
                        first: first.name.to_string(),
                        env: profile.name.to_string(),
                        what,
                    });
                }
            }
        }
        instance.profiles.push(profile);
        let apps = &mut instance.apps;
        apps.extend(env_apps);
        if let Some(n) = &profile.argocd.notifications
            && !apps.iter().any(|o| o.name() == "argocd-notifications-cm")
        {
            let cm = argocd::notifications_cm(&n.argocd_url)
                .map_err(|error| LayoutError::Yaml { what: "argocd-notifications-cm".into(), error })?;
            apps.push(cm.into());
        }
        Ok(())
    }

    /// The files of each Argo CD instance's `apps/` and `bootstrap/`.
    pub fn finish(self) -> Result<Files, LayoutError> {
        let platform = self.platform;
        let mut files = Vec::new();
        for (instance, Instance { mut apps, git, profiles }) in self.instances {
            let sso = profiles.first().and_then(|p| p.argocd.access.sso.as_ref());
            let impersonation = profiles.first().is_some_and(|p| p.argocd.impersonation);
            let argocd_cm = argocd::argocd_cm(sso, impersonation)
                .map_err(|error| LayoutError::Yaml { what: "argocd-cm".into(), error })?;
            apps.push(argocd_cm.clone().into());
            apps.push(argocd::rbac_cm(platform, &profiles)?.into());
            // Cluster-scoped and one per cluster: the template that declares
            // the constraint's kind, synced by the root before any
            // environment's Application (Argo CD's configuration wave).
            if profiles.iter().any(|p| p.gatekeeper_privileged_constraint) {
                apps.push(argocd::privileged_container_template().into());
            }
            if let Some(first) = profiles.first() {
                apps.extend(argocd::addon_objects(platform, &first.argocd.addons, impersonation)?);
            }
            if let Some(backup) = profiles.first().and_then(|p| p.argocd.backup.as_ref()) {
                apps.extend(crate::backup::objects(platform, backup));
            }
            if let Some(prometheus) = profiles.first().and_then(|p| p.argocd.prometheus.as_ref()) {
                apps.extend(argocd::monitoring(platform, prometheus));
            }
            let dir = format!("{ARGOCD_DIR}/{instance}");
            emit_dir(&mut files, &self.header, &format!("{dir}/apps"), &apps)?;
            // `argocd-cm` goes with the bootstrap too (applied server-side,
            // beside the install's keys): the tracking method and the health
            // of Applications must hold from the root's first sync, or its
            // waves would not wait for the add-ons.
            let bootstrap: [Object; 3] = [
                argocd::bootstrap_project(platform, &git.repo_url, &apps, impersonation)?.into(),
                argocd::root_application(platform, git, &format!("{}/{dir}/apps", self.repo_dir))?.into(),
                argocd_cm.into(),
            ];
            emit_dir(&mut files, &self.header, &format!("{dir}/bootstrap"), &bootstrap)?;
        }
        Ok(files)
    }
}
