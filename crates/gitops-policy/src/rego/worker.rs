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

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
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

/// Runs `work` on a thread with a [`STACK_BYTES`] stack and waits for its
/// result, or until a step it announces on its [`Watch`] is overdue.
pub(crate) fn run<T: Send + 'static>(work: impl FnOnce(&Watch) -> T + Send + 'static) -> Result<T, Failure> {
    let watch = Arc::new(Watch::new());
    let (tx, rx) = mpsc::sync_channel(1);
    let theirs = Arc::clone(&watch);
    std::thread::Builder::new()
        .name("rego".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| work(&theirs)));
            let _ = tx.send(result);
        })
        .map_err(|e| Failure::Spawn(e.to_string()))?;
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
    }
}
