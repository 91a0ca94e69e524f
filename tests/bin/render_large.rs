//! `render-large OUT_DIR SERVICES TAG`: renders the synthetic platform of
//! SERVICES services (each with a database and a migration) in the minimal
//! example's one environment and writes it to OUT_DIR with the atomic writer.
//! The crash-safety test kills this process at random moments.

use std::path::PathBuf;
use std::process::ExitCode;

use gitops_core::image::ImageTag;
use gitops_core::release::{Pin, ReleasePins};
use gitops_tree::disk::write_atomically;
use gitops_tree::layout::{EnvironmentObjects, layout};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, out, services, tag] = &args[..] else {
        eprintln!("usage: render-large OUT_DIR SERVICES TAG");
        return ExitCode::from(2);
    };
    let count: usize = services.parse().expect("SERVICES is a number");
    let platform = synthetic::platform(count);
    let tag = ImageTag::new(tag.as_str()).expect("TAG is a sha- tag");
    let pins = ReleasePins {
        images: platform.services.iter().map(|s| (s.name.clone(), Pin::tag(tag.clone()))).collect(),
    };
    let profile = minimal_example::dev();
    let render = gitops_core::render_environment(&platform, &profile, &pins).expect("renders");
    let tree =
        layout(&platform, &[EnvironmentObjects { profile: &profile, render }], "deploy").expect("lays out");
    write_atomically(&tree, &PathBuf::from(out)).expect("writes");
    ExitCode::SUCCESS
}
