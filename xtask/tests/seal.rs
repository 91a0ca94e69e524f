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

/// Certificates kubeseal would refuse, and keys too weak to seal to, are
/// refused with the fix; an expired one is accepted only when asked, saying so.
#[test]
fn expired_future_and_weak_certificates_are_refused() {
    let fixtures = workspace().join("xtask/tests/fixtures/seal");
    let input = "password=never-shown\n";
    for (file, problem) in [
        ("expired.pem", "expired on 2021-01-01T00:00:00Z; fetch the controller's current certificate"),
        ("not-yet-valid.pem", "is not valid before 2040-01-01T00:00:00Z (check this machine's clock)"),
        ("rsa-1024.pem", "holds a 1024-bit RSA key, too weak to protect a secret (at least 2048 bits)"),
    ] {
        let cert = fixtures.join(file);
        let out = seal(&["--cert", cert.to_str().unwrap(), "--namespace", "app-dev", "--name", "db"], input);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(stderr(&out).contains(problem), "{file}: {}", stderr(&out));
        assert!(stdout(&out).is_empty() && !stderr(&out).contains("never-shown"));
    }
    let expired = fixtures.join("expired.pem");
    let args = [
        "--cert",
        expired.to_str().unwrap(),
        "--namespace",
        "app-dev",
        "--name",
        "db",
        "--allow-expired-cert",
    ];
    let out = seal(&args, input);
    assert!(out.status.success() && stdout(&out).contains("kind: SealedSecret"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: ") && stderr(&out).contains("the certificate expired on 2021-01-01")
    );
    // Input of unbounded size is cut off, not read into memory whole.
    let cert = workspace().join("examples/brainsait-rcm/sealed-secrets-example.pem");
    let flood = format!("password={}\n", "x".repeat(3 << 20));
    let out = seal(&["--cert", cert.to_str().unwrap(), "--namespace", "a", "--name", "b"], &flood);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("standard input: more than 1048576 bytes"), "{}", stderr(&out));
    let out = seal(&["--cert", "/dev/zero", "--namespace", "a", "--name", "b"], input);
    assert!(stderr(&out).contains("/dev/zero: more than 65536 bytes"), "{}", stderr(&out));
    // Weakness is not waived by the flag.
    let weak = fixtures.join("rsa-1024.pem");
    let out = seal(
        &["--cert", weak.to_str().unwrap(), "--namespace", "a", "--name", "b", "--allow-expired-cert"],
        input,
    );
    assert_eq!(out.status.code(), Some(1));
}
