//! `cargo xtask bench`: how long the render takes, for ClinicFlow and for
//! synthetic platforms of growing size. Builds nothing: run it from a
//! release build (`cargo build --release -p xtask && target/release/xtask bench`).
//!
//! For each platform, `--runs` times each:
//! - in this process, `render_pinned` (the path `xtask render` takes) with
//!   its phases timed apart: render (platform, pins, typed objects), check
//!   (policies loaded and evaluated), layout (paths, Argo CD, YAML, freeing
//!   the objects) and write (each environment's files staged in a fresh
//!   directory while the next renders, then swapped in), each summed over
//!   the environments, and the whole run's wall time (less than the sum,
//!   since environments and writes overlap);
//! - `xtask render` as a child process into a fresh directory, from start to
//!   exit, and the child's peak resident memory (`ru_maxrss` from `wait4`).
//!
//! Every figure is the median of the runs. Nothing is asserted: the figures
//! are printed, and README.md records them.
//!
//! With `--compare`, a second table sets `helm template`, `kubectl
//! kustomize` and a cdk8s app producing the same objects beside the process
//! figure (see [`compare`]).

mod compare;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use std::sync::{Mutex, PoisonError};

use gitops_tree::disk::Staged;
use gitops_tree::layout::Files;
use gitops_tree::pipeline::{Phase, Schedule, render_pinned_to};

use gitops_cli::{Project, inputs, load_policies};

use crate::CmdResult;
use crate::render::synthetic_project;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Sizes of the synthetic platform, in services.
    #[arg(long, value_name = "N,…", value_delimiter = ',', default_value = "5,50,500,5000",
          value_parser = clap::value_parser!(u32).range(1..=99_999))]
    services: Vec<u32>,
    /// Runs per size; every figure is their median.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// After the table, time `helm template`, `kubectl kustomize` and a cdk8s
    /// app (`npm ci --prefix tools/cdk8s`) producing the same objects (once per platform).
    #[arg(long)]
    compare: bool,
}

/// What one platform is, for both measurements.
struct Case {
    label: String,
    services: usize,
    project: fn(&Path, usize) -> Project,
    /// `xtask render` arguments that render the same platform.
    args: Vec<String>,
}

/// The in-process phases of one run, each summed over the environments
/// (which a small platform renders side by side, so the sum may exceed the
/// run's time), and the run's wall time from start to written tree.
#[derive(Clone, Copy, Default)]
struct Phases {
    render: Duration,
    check: Duration,
    layout: Duration,
    write: Duration,
    wall: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.wall
    }
}

/// The size of what one run rendered.
struct Size {
    objects: usize,
    files: usize,
    bytes: usize,
}

/// One render through `render_pinned_to`, the path `xtask render` takes,
/// timed phase by phase, and written to `out` (which must not exist) as it
/// is laid out.
fn run_phases(root: &Path, case: &Case, out: &Path) -> Result<(Phases, Size), Vec<String>> {
    let io_err = |e: std::io::Error| vec![format!("{}: {e}", out.display())];
    let mut phases = Phases::default();
    let start = Instant::now();
    let project = (case.project)(root, case.services);
    let inputs = inputs(&project)?;
    let loaded = Instant::now();
    phases.render += loaded - start;
    let policies = load_policies(&project)?;
    phases.check += loaded.elapsed();
    let staged = Staged::begin(out, &|_| Ok(())).map_err(io_err)?;
    // Files, objects, bytes, and the time spent writing (on other threads).
    let written = Mutex::new((Size { objects: 0, files: 0, bytes: 0 }, Duration::ZERO));
    let write = |batch: Files| {
        let started = Instant::now();
        let objects =
            batch.iter().filter(|(p, _)| p.ends_with(".yaml") && !p.ends_with("/kustomization.yaml")).count();
        let (files, bytes) = (batch.len(), batch.iter().map(|(_, b)| b.len()).sum::<usize>());
        let result = staged.add(batch).map_err(|e| format!("{}: {e}", out.display()));
        let mut written = written.lock().unwrap_or_else(PoisonError::into_inner);
        written.0.objects += objects;
        written.0.files += files;
        written.0.bytes += bytes;
        written.1 += started.elapsed();
        result
    };
    let (platform, profiles) = (&project.platform, &project.profiles);
    let report = render_pinned_to(
        platform,
        profiles,
        &inputs,
        &policies,
        project.deploy,
        Schedule::for_platform(platform),
        &mut |phase, spent| match phase {
            Phase::Render => phases.render += spent,
            Phase::Check => phases.check += spent,
            Phase::Layout => phases.layout += spent,
        },
        &write,
    )
    .map_err(gitops_cli::strings)?;
    if report.blocking() > 0 {
        return Err(vec![format!("{}: blocking findings\n{}", case.label, report.to_text())]);
    }
    let finishing = Instant::now();
    staged.finish().map_err(io_err)?;
    let (size, writing) = written.into_inner().unwrap_or_else(PoisonError::into_inner);
    phases.write = writing + finishing.elapsed();
    phases.wall = start.elapsed();
    Ok((phases, size))
}

/// `xtask render …` as a child process: wall time from spawn to exit, and
/// its peak resident set in bytes.
fn run_process(root: &Path, case: &Case, out: &Path) -> Result<(Duration, u64), Vec<String>> {
    let exe = std::env::current_exe().map_err(|e| vec![format!("cannot find this executable: {e}")])?;
    let mut command = Command::new(exe);
    command.arg("--root").arg(root).arg("render").args(&case.args).arg("--out").arg(out);
    command.stdin(Stdio::null()).stdout(Stdio::null());
    let start = Instant::now();
    let child = command.spawn().map_err(|e| vec![format!("cannot start `xtask render`: {e}")])?;
    let (ok, peak) = wait_with_peak(child).map_err(|e| vec![format!("waiting for `xtask render`: {e}")])?;
    let elapsed = start.elapsed();
    if !ok {
        return Err(vec![format!("`xtask render {}` failed", case.args.join(" "))]);
    }
    Ok((elapsed, peak))
}

/// Waits for `child`; whether it succeeded, and its peak resident set in bytes.
#[cfg(unix)]
fn wait_with_peak(child: std::process::Child) -> std::io::Result<(bool, u64)> {
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid for writes for the call's
        // duration; `pid` is our child, which nothing else waits for.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    // `ru_maxrss` is in KiB on Linux.
    let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    Ok((libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, peak))
}

#[cfg(not(unix))]
fn wait_with_peak(mut child: std::process::Child) -> std::io::Result<(bool, u64)> {
    Ok((child.wait()?.success(), 0))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// This process's peak resident set (`VmHWM`), in bytes, where Linux reports it.
fn own_peak() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    Some(line.trim().trim_end_matches("kB").trim().parse::<u64>().ok()? * 1024)
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// A scratch directory for the written trees, removed afterwards; below
/// `$TMPDIR` (default `/tmp`), so `TMPDIR=/dev/shm` times the write to memory.
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()))
}

/// The filesystem `dir` is on, where Linux says.
#[cfg(target_os = "linux")]
fn filesystem(dir: &Path) -> &'static str {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return "?" };
    // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `fs` valid for writes during the call.
    if unsafe { libc::statfs(path.as_ptr(), &mut fs) } != 0 {
        return "?";
    }
    match fs.f_type {
        libc::TMPFS_MAGIC => "tmpfs",
        libc::EXT4_SUPER_MAGIC => "ext4",
        libc::XFS_SUPER_MAGIC => "xfs",
        libc::BTRFS_SUPER_MAGIC => "btrfs",
        libc::OVERLAYFS_SUPER_MAGIC => "overlayfs",
        _ => "other",
    }
}

#[cfg(not(target_os = "linux"))]
fn filesystem(_: &Path) -> &'static str {
    "?"
}

/// The table's row for `case`, and the median of its process times.
fn bench(root: &Path, case: &Case, runs: u32, dir: &Path) -> Result<(String, Duration), Vec<String>> {
    let io_err = |e: std::io::Error| vec![format!("{}: {e}", dir.display())];
    let mut phases = Vec::new();
    let mut size = None;
    let mut process = Vec::new();
    let mut peak = 0;
    for run in 0..runs {
        let (p, s) = run_phases(root, case, &dir.join(format!("phases-{run}")))?;
        phases.push(p);
        size = Some(s);
        let (elapsed, rss) = run_process(root, case, &dir.join(format!("process-{run}")))?;
        process.push(elapsed);
        peak = peak.max(rss);
    }
    // Only now: on ext4 without a journal, every file deleted in the last
    // half minute slows the creation of the next ones (the inode allocator
    // skips recently deleted inodes), so deleting between runs would time
    // this benchmark's own deletions.
    fs::remove_dir_all(dir).and_then(|()| fs::create_dir(dir)).map_err(io_err)?;
    let Size { objects, files, bytes } = size.expect("at least one run");
    let phase = |f: fn(&Phases) -> Duration| median(phases.iter().map(f).collect());
    let total = phase(Phases::total);
    let per_service = total.as_secs_f64() * 1e6 / case.services as f64;
    let process = median(process);
    let line = format!(
        "{:<10} {:>5} {:>7} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9.1} {:>9} {:>9}",
        case.label,
        case.services,
        objects,
        files,
        bytes,
        ms(phase(|p| p.render)),
        ms(phase(|p| p.check)),
        ms(phase(|p| p.layout)),
        ms(phase(|p| p.write)),
        ms(total),
        per_service,
        ms(process),
        mib(peak),
    );
    Ok((line, process))
}

pub fn run(root: &Path, BenchArgs { services, runs, compare }: BenchArgs) -> CmdResult {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; for figures that mean something run\n  cargo build --release -p xtask && target/release/xtask bench"
        );
    }
    let clinicflow = Case {
        label: "clinicflow".into(),
        services: clinicflow::platform().services.len(),
        project: |root, _| crate::clinicflow_project(root),
        args: Vec::new(),
    };
    let synthetic = services.iter().map(|&n| Case {
        label: "synthetic".into(),
        services: n as usize,
        project: synthetic_project,
        args: vec!["--platform".into(), "synthetic".into(), "--services".into(), n.to_string()],
    });
    let dir = scratch();
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?;
    println!(
        "median of {runs} run(s); 3 environments each; times in ms, per service in µs; \
         phases summed over environments and writer threads (they overlap), \
         total = in-process wall time; \
         process = `xtask render` from start to exit, peak = its maximum resident set; \
         trees written below {} ({}), {} CPU(s)",
        dir.display(),
        filesystem(&dir),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<10} {:>5} {:>7} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "platform",
        "svcs",
        "objects",
        "files",
        "bytes",
        "render",
        "check",
        "layout",
        "write",
        "total",
        "µs/svc",
        "process",
        "peak MiB"
    );
    let cases: Vec<Case> = std::iter::once(clinicflow).chain(synthetic).collect();
    let result = table(root, &cases, runs, &dir);
    let result = result.and_then(|process| {
        if let Some(peak) = own_peak() {
            println!("this benchmark process: peak {} MiB", mib(peak));
        }
        if compare { compare_table(root, &cases, &process, &dir) } else { Ok(()) }
    });
    let _ = fs::remove_dir_all(&dir);
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the main table's rows; each case's median process time.
fn table(root: &Path, cases: &[Case], runs: u32, dir: &Path) -> Result<Vec<Duration>, Vec<String>> {
    let mut process = Vec::new();
    for case in cases {
        let (line, median) = bench(root, case, runs, dir)?;
        println!("{line}");
        process.push(median);
    }
    Ok(process)
}

/// Prints the `--compare` table; fails, after the whole table, if a tool
/// failed or printed other objects than ours.
fn compare_table(root: &Path, cases: &[Case], process: &[Duration], dir: &Path) -> Result<(), Vec<String>> {
    let tools = compare::Tools::find();
    tools.print_header();
    let mut errors = Vec::new();
    for (case, &ours) in cases.iter().zip(process) {
        errors.extend(compare::row(root, case, ours, &tools, dir)?);
    }
    tools.print_missing();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}
