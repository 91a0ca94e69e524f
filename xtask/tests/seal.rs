//! `cargo xtask seal` as a user runs it: values piped in, ciphertext out,
//! nothing written on a mistake, no value ever echoed.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{stderr, stdout, workspace};

fn seal(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("seal")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refused command may exit before it reads anything: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

#[test]
fn seals_piped_values_into_the_file_the_renderer_reads() {
    let cert = workspace().join("examples/brainsait-rcm/sealed-secrets-example.pem");
    let cert = cert.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("xtask-seal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("db.yaml");
    let file_arg = file.to_str().unwrap();
    let input = "username=rcm\npassword=never-shown\n";

    let out = seal(&["--cert", cert, "--namespace", "app-dev", "--name", "db", "--out", file_arg], input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("never-shown") && !stderr(&out).contains("never-shown"));
    assert!(stderr(&out).contains("sealed password, username for app-dev/db"), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("never-shown"));
    gitops_core::crd::sealed_secrets::parse_kubeseal_output(
        "f",
        &text,
        "db",
        "app-dev",
        &["username", "password"],
    )
    .unwrap();
    std::fs::remove_file(&file).unwrap();

    // Without --out, the SealedSecret goes to standard output.
    let out = seal(&["--cert", cert, "--namespace", "app-dev", "--name", "db"], input);
    assert!(out.status.success() && stdout(&out).contains("kind: SealedSecret"), "{}", stderr(&out));

    for (args, message) in [
        (vec!["--cert", "/nonexistent.pem", "--namespace", "app-dev", "--name", "db"], "/nonexistent.pem"),
        (vec!["--cert", cert, "--namespace", "App_Dev", "--name", "db"], "--namespace: `App_Dev`"),
        (vec!["--cert", file_arg, "--namespace", "app-dev", "--name", "db"], "db.yaml"),
    ] {
        let mut args = args;
        args.extend(["--out", file_arg]);
        let out = seal(&args, input);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(!file.exists(), "{args:?} wrote the file");
    }
    let out = seal(&["--cert", cert, "--namespace", "app-dev", "--name", "db"], "password never-shown\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 1: is not `KEY=VALUE`") && !stderr(&out).contains("never-shown"));
    std::fs::remove_dir_all(dir).unwrap();
}
