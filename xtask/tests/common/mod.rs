//! What the CLI tests share: a scratch repository root and a way to run
//! the xtask binary against it.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A scratch repository root holding a copy of the committed release files.
pub fn scratch(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("releases")).unwrap();
    for env in ["dev", "staging", "prod"] {
        let from = workspace().join(format!("releases/{env}.yaml"));
        fs::copy(from, root.join(format!("releases/{env}.yaml"))).unwrap();
    }
    root
}

pub fn xtask(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).arg("--root").arg(root).args(args).output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
