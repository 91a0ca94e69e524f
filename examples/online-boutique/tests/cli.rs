//! The shared command line on a platform whose releases are semantic
//! versions and whose Redis is a third-party image no release file names.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_online-boutique")).arg("--root").arg(root).args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn set_image_takes_the_platforms_tag_rule_and_only_its_own_images() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let base = std::env::temp_dir().join(format!("boutique-cli-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let root = base.join("examples/online-boutique");
    fs::create_dir_all(root.join("releases")).unwrap();
    for env in ["dev", "prod"] {
        fs::copy(example.join(format!("releases/{env}.yaml")), root.join(format!("releases/{env}.yaml")))
            .unwrap();
    }
    fs::create_dir_all(base.join("policies")).unwrap();
    for entry in fs::read_dir(example.join("../../policies")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), base.join("policies").join(entry.file_name())).unwrap();
    }
    let o = run(&root, &["set-image", "--env", "dev", "--service", "frontend", "--tag", "v0.5.2"]);
    assert!(o.status.success(), "{}", out(&o));
    let frontend = fs::read_to_string(root.join("deploy/dev/deployment-frontend.yaml")).unwrap();
    assert!(
        frontend.contains("image: gcr.io/google-samples/microservices-demo/frontend:v0.5.2"),
        "{frontend}"
    );

    let o = run(&root, &["set-image", "--env", "dev", "--service", "frontend", "--tag", "sha-1a2b3c4"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("is not a semantic version"), "{}", out(&o));
    let o = run(&root, &["set-image", "--env", "dev", "--service", "redis-cart", "--tag", "v7.2.5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("unknown service `redis-cart`"), "pinned in Rust, not in releases: {}", out(&o));
    fs::remove_dir_all(&base).unwrap();
}
