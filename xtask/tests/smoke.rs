//! `cargo xtask smoke` against a small HTTP server on 127.0.0.1 that the
//! test starts: every exposed route is requested, statuses and failures are
//! reported, and the exit code says whether all passed.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{stderr, stdout, workspace};

/// Serves until the test ends: `answer(path)` gives the status and a delay.
/// Returns the base URL and the paths requested so far.
fn serve(answer: fn(&str) -> (u16, u64)) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            thread::spawn(move || respond(stream, answer, &log));
        }
    });
    (base, seen)
}

fn respond(stream: TcpStream, answer: fn(&str) -> (u16, u64), log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
    log.lock().unwrap().push(path.clone());
    let (status, delay) = answer(&path);
    thread::sleep(Duration::from_millis(delay));
    let body = if status == 200 { "ok" } else { "down" };
    let _ = write!(
        reader.get_mut(),
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn smoke(args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("--root").arg(workspace()).arg("smoke").args(args);
    // The requests go to 127.0.0.1 directly, whatever proxy the machine has.
    for var in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    cmd.output().unwrap()
}

#[test]
fn every_exposed_route_is_checked_and_a_healthy_environment_passes() {
    let (base, seen) = serve(|_| (200, 0));
    let out = smoke(&["--env", "dev", "--base-url", &format!("{base}/")]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let mut paths = seen.lock().unwrap().clone();
    paths.sort();
    assert_eq!(
        paths,
        ["/health", "/identity/health", "/notifications/health", "/profiles/health", "/scheduling/health"]
    );
    let text = stdout(&out);
    let words = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert!(text.lines().any(|l| words(l) == ["route", "status", "latency"]), "{text}");
    let row = text.lines().find(|l| l.starts_with("/identity/health ")).map(words).unwrap_or_default();
    assert!(row.len() == 4 && row[1] == "200" && row[2].parse::<u64>().is_ok() && row[3] == "ms", "{text}");
    assert!(text.contains("5 check(s) passed"), "{text}");
}

#[test]
fn production_does_not_check_what_it_does_not_expose() {
    let (base, seen) = serve(|_| (200, 0));
    let out = smoke(&["--env", "prod", "--base-url", &base]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!seen.lock().unwrap().iter().any(|p| p.starts_with("/notifications")));
    assert_eq!(seen.lock().unwrap().len(), 4);
}

#[test]
fn a_bad_status_or_a_timeout_fails_the_run() {
    let (base, _) = serve(|path| match path {
        "/scheduling/health" => (503, 0),
        "/profiles/health" => (200, 3000),
        _ => (200, 0),
    });
    let out = smoke(&["--env", "staging", "--base-url", &base, "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let row = |path: &str| {
        text.lines().find(|l| l.starts_with(&format!("{path} "))).unwrap_or_else(|| panic!("{path}: {text}"))
    };
    assert!(
        row("/scheduling/health").contains(" 503 ") && row("/scheduling/health").ends_with("FAIL"),
        "{text}"
    );
    assert!(
        row("/profiles/health").contains(" error ") && row("/profiles/health").ends_with("FAIL"),
        "{text}"
    );
    assert!(!row("/identity/health").ends_with("FAIL"), "{text}");
    assert!(text.contains("2 of 5 check(s) failed"), "{text}");
    let err = stderr(&out);
    assert!(err.contains(&format!("{base}/scheduling/health: HTTP 503")), "{err}");
    assert!(err.contains(&format!("{base}/profiles/health: timed out")), "{err}");
}

#[test]
fn nothing_listening_fails_every_check() {
    // A port that was free a moment ago.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = smoke(&["--env", "dev", "--base-url", &format!("http://127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("5 of 5 check(s) failed"), "{}", stdout(&out));
}

/// Credentials in --base-url reach neither the header nor a failure line,
/// whether the request fails or answers, nor a refusal.
#[test]
fn user_information_in_the_base_url_is_never_printed() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (healthy, _) = serve(|_| (503, 0));
    let bad = "ci:hunter2-s3cret";
    for base in
        [format!("http://{bad}@127.0.0.1:{port}"), healthy.replacen("http://", &format!("http://{bad}@"), 1)]
    {
        let out = smoke(&["--env", "dev", "--base-url", &base]);
        assert_eq!(out.status.code(), Some(1));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains("hunter2") && !all.contains("ci:"), "{all}");
        assert!(all.contains("http://***@127.0.0.1:"), "{all}");
    }
    let out = smoke(&["--env", "dev", "--base-url", &format!("ftp://{bad}@host")]);
    assert!(!stderr(&out).contains("hunter2") && stderr(&out).contains("ftp://***@host"), "{}", stderr(&out));
}

#[test]
fn refusals_name_the_fix() {
    let out = smoke(&["--env", "qa"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown environment `qa`; the environments are: dev, staging, prod"));
    let out = smoke(&["--env", "dev", "--base-url", "clinicflow-dev.local"]);
    assert!(stderr(&out).contains("give an http:// or https:// URL"), "{}", stderr(&out));
    let out = smoke(&["--env", "dev", "--ca-cert", "/nonexistent/ca.pem"]);
    assert!(stderr(&out).contains("--ca-cert /nonexistent/ca.pem"), "{}", stderr(&out));
    let not_pem = std::env::temp_dir().join(format!("xtask-smoke-ca-{}.pem", std::process::id()));
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let out = smoke(&["--env", "dev", "--ca-cert", not_pem.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("no certificate in the file; give the CA certificate in PEM form"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(not_pem).unwrap();
}
