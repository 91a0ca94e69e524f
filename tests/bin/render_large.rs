//! `render-large OUT_DIR SERVICES TAG`: renders the synthetic platform of
//! SERVICES services (each with a database and a migration) in the minimal
//! example's one environment and writes it to OUT_DIR the way `xtask
//! render` does: staged while it is laid out, then swapped in whole. The
//! crash-safety test kills this process at random moments.

use std::path::PathBuf;
use std::process::ExitCode;

use gitops_core::image::ImageTag;
use gitops_core::release::{Pin, ReleasePins};
use gitops_policy::Policies;
use gitops_tree::disk::Staged;
use gitops_tree::layout::Files;
use gitops_tree::pipeline::{Inputs, Schedule, render_pinned_to};

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
    let profiles = [minimal_example::dev()];
    let out = PathBuf::from(out);
    let staged = Staged::begin(&out, &|_| Ok(())).expect("stages");
    let write = |files: Files| staged.add(files).map_err(|e| e.to_string());
    let schedule = Schedule::for_platform(&platform);
    render_pinned_to(
        &platform,
        &profiles,
        &[Inputs::pins(pins)],
        &Policies::none(),
        "deploy",
        schedule,
        &mut |_, _| {},
        &write,
    )
    .expect("renders");
    staged.finish().expect("writes");
    ExitCode::SUCCESS
}
