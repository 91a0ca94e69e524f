//! Policies are parsed and evaluated on threads of their own, for two
//! reasons. Their stack ([`STACK_BYTES`]) is far deeper than any policy
//! within the limits needs, whichever thread asked (the threads that run
//! checks have the default 2 MiB), so a stack overflow, which aborts the
//! process and cannot be caught, cannot happen. And the asking thread
//! watches the time: when a step (one evaluation) outlasts its limit by
//! [`WATCHDOG_GRACE`], because regorus is inside one operation its timer
//! cannot interrupt, the asking thread returns an error instead of waiting
//! for ever. The thread it gave up on is left to finish on its own (it
//! holds nothing the render needs) and ends with the process.
//!
//! A panic on the thread (a bug in regorus) is caught and becomes an error.
//!
//! The threads are a pool that lives as long as the process: spawning a
//! thread with a large stack for every evaluation cost a ClinicFlow render
//! a dozen spawns, a third of its check time. A job goes to an idle worker;
//! when none is idle (every worker busy, or stuck in an operation the
//! watchdog gave up on), one more is started, so there are never more
//! workers than jobs ever ran at once, and a stuck one never blocks the next.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::limits::{STACK_BYTES, WATCHDOG_GRACE};

/// How often the asking thread looks at the time while it waits.
const POLL: Duration = Duration::from_millis(100);

/// What the asking thread sees of the work: which step it is on, since
/// when, and for how long that step may run.
pub(crate) struct Watch {
    base: Instant,
    /// Nanoseconds from `base` to the step's start, plus one; 0 when idle.
    started: AtomicU64,
    allowed: AtomicU64,
    step: AtomicU64,
}

impl Watch {
    fn new() -> Self {
        Watch {
            base: Instant::now(),
            started: AtomicU64::new(0),
            allowed: AtomicU64::new(0),
            step: AtomicU64::new(0),
        }
    }

    fn nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// Step `step` begins and may take `allowed`.
    pub(crate) fn step(&self, step: u64, allowed: Duration) {
        self.step.store(step, Ordering::Relaxed);
        self.allowed.store(u64::try_from(allowed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.started.store(self.nanos() + 1, Ordering::Release);
    }

    /// No step is running.
    pub(crate) fn idle(&self) {
        self.started.store(0, Ordering::Release);
    }

    /// The step running past its time and grace, if one is.
    fn overdue(&self) -> Option<(u64, Duration)> {
        let started = self.started.load(Ordering::Acquire);
        if started == 0 {
            return None;
        }
        let allowed = Duration::from_nanos(self.allowed.load(Ordering::Relaxed));
        let running = Duration::from_nanos(self.nanos().saturating_sub(started - 1));
        (running > allowed.saturating_add(WATCHDOG_GRACE))
            .then(|| (self.step.load(Ordering::Relaxed), allowed))
    }

    fn current(&self) -> u64 {
        self.step.load(Ordering::Relaxed)
    }
}

/// Why work on a policy thread gave no result.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Step `step` ran past its `allowed` time and the grace after it.
    Stuck { step: u64, allowed: Duration },
    /// The work panicked during step `step`.
    Panicked { step: u64, message: String },
    /// The thread could not be started.
    Spawn(String),
}

type Job = Box<dyn FnOnce() + Send>;

/// The policy threads: jobs in, each taken by one idle worker.
struct Pool {
    jobs: Sender<Job>,
    queue: Arc<Mutex<Receiver<Job>>>,
    /// Workers started, and jobs sent but not finished (stuck ones stay counted).
    workers: AtomicUsize,
    pending: Arc<AtomicUsize>,
}

impl Pool {
    fn get() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| {
            let (jobs, queue) = mpsc::channel();
            Pool {
                jobs,
                queue: Arc::new(Mutex::new(queue)),
                workers: AtomicUsize::new(0),
                pending: Arc::new(AtomicUsize::new(0)),
            }
        })
    }

    /// Queues `job`, starting a worker first when every one is taken.
    fn submit(&self, job: Job) -> Result<(), Failure> {
        let pending = self.pending.fetch_add(1, Ordering::SeqCst) + 1;
        if pending > self.workers.load(Ordering::SeqCst) {
            let queue = Arc::clone(&self.queue);
            let done = Arc::clone(&self.pending);
            let started =
                std::thread::Builder::new().name("rego".into()).stack_size(STACK_BYTES).spawn(move || {
                    loop {
                        // The lock is held only while waiting, never while working.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        job();
                        done.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            match started {
                Ok(_) => {
                    self.workers.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => {
                    self.pending.fetch_sub(1, Ordering::SeqCst);
                    return Err(Failure::Spawn(e.to_string()));
                }
            }
        }
        self.jobs.send(job).map_err(|e| Failure::Spawn(e.to_string()))
    }
}

/// Runs `work` on a policy thread (a [`STACK_BYTES`] stack) and waits for
/// its result, or until a step it announces on its [`Watch`] is overdue.
pub(crate) fn run<T: Send + 'static>(work: impl FnOnce(&Watch) -> T + Send + 'static) -> Result<T, Failure> {
    start(work)?.wait()
}

/// Work handed to a policy thread; [`Pending::wait`] gives its result.
pub(crate) struct Pending<T> {
    watch: Arc<Watch>,
    rx: mpsc::Receiver<std::thread::Result<T>>,
}

/// Hands `work` to a policy thread and returns at once: the caller may do
/// other work before it waits, so that waking the policy thread and
/// waking the caller again cost no time of their own.
pub(crate) fn start<T: Send + 'static>(
    work: impl FnOnce(&Watch) -> T + Send + 'static,
) -> Result<Pending<T>, Failure> {
    let watch = Arc::new(Watch::new());
    let (tx, rx) = mpsc::sync_channel(1);
    let theirs = Arc::clone(&watch);
    Pool::get().submit(Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(|| work(&theirs)));
        let _ = tx.send(result);
    }))?;
    Ok(Pending { watch, rx })
}

impl<T> Pending<T> {
    /// The work's result, or why there is none: it panicked, or a step it
    /// announced ran past its time and the watchdog's grace.
    pub(crate) fn wait(self) -> Result<T, Failure> {
        let Pending { watch, rx } = self;
        wait_for(&watch, &rx)
    }
}

fn wait_for<T>(watch: &Watch, rx: &mpsc::Receiver<std::thread::Result<T>>) -> Result<T, Failure> {
    loop {
        match rx.recv_timeout(POLL) {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(panic)) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                return Err(Failure::Panicked { step: watch.current(), message });
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Some((step, allowed)) = watch.overdue() {
                    return Err(Failure::Stuck { step, allowed });
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Failure::Panicked { step: watch.current(), message: "no result".into() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_comes_back_a_panic_is_caught_and_a_stuck_step_is_given_up_on() {
        assert_eq!(run(|_| 42).unwrap(), 42);
        match run(|watch| {
            watch.step(7, Duration::ZERO);
            panic!("boom")
        }) {
            Err(Failure::Panicked { step: 7, message }) => assert_eq!(message, "boom"),
            other => panic!("{other:?}"),
        }
        let started = Instant::now();
        match run(|watch| {
            watch.step(3, Duration::ZERO);
            std::thread::sleep(WATCHDOG_GRACE * 3);
        }) {
            Err(Failure::Stuck { step: 3, allowed }) => assert_eq!(allowed, Duration::ZERO),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < WATCHDOG_GRACE * 2);
        // The stuck worker is still asleep; the next job gets another.
        assert_eq!(run(|_| 7).unwrap(), 7);
    }

    #[test]
    fn workers_are_reused_and_run_on_a_large_stack() {
        let name = || std::thread::current().id();
        let first = run(move |_| name()).unwrap();
        let again: Vec<_> = (0..20).map(|_| run(move |_| name()).unwrap()).collect();
        // Other tests use the pool at the same time, so only bound the count.
        let distinct: std::collections::HashSet<_> = again.iter().chain([&first]).collect();
        assert!(distinct.len() < 21, "every job started a thread");
        // Recursion far deeper than a default 2 MiB stack allows.
        fn deep(n: u64) -> u64 {
            let pad = [n; 64];
            if n == 0 { 0 } else { std::hint::black_box(pad)[0] + deep(n - 1) - n + 1 }
        }
        assert_eq!(run(|_| deep(50_000)).unwrap(), 50_000);
    }
}
