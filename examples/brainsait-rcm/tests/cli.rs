//! `cargo run -p brainsait-rcm -- [--check] OUT_DIR` as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brainsait-rcm")).args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn renders_checks_and_reports_drift() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let o = run(&["--check", committed.to_str().unwrap()]);
    assert!(o.status.success() && out(&o).contains("up to date (137 files)"), "{}", out(&o));

    let dir = std::env::temp_dir().join(format!("brainsait-cli-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let o = run(&[d]);
    assert!(o.status.success() && out(&o).contains("written, 137 files"), "{}", out(&o));
    assert!(out(&run(&[d])).contains("unchanged"));
    std::fs::write(dir.join("dev/api/service-api.yaml"), "changed by hand\n").unwrap();
    let o = run(&["--check", d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("dev/api/service-api.yaml"), "{}", out(&o));
    std::fs::remove_dir_all(&dir).unwrap();

    for args in [&[][..], &["--force", d], &[d, d]] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(out(&o).contains("usage: cargo run -p brainsait-rcm -- [--check] OUT_DIR"));
    }
}
