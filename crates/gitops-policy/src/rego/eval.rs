//! One evaluation of a package's `deny` within the limits: a deadline for
//! regorus's timer (the smaller of [`EVAL_TIME_PER_OBJECT`] and what is left
//! of the package's [`EVAL_TIME_PER_PACKAGE`]), the builtins' counters
//! ([`super::guard`]), and a bounded conversion of its messages to text.
//! It runs on a policy thread ([`super::worker`]).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, LimitError, Value};

use super::guard;
use super::limits::{
    self, EVAL_TIME_PER_OBJECT, EVAL_TIME_PER_PACKAGE, MAX_MESSAGES, TIMER_CHECK_INTERVAL, WATCHDOG_GRACE,
};

/// The evaluation time each package has used, in nanoseconds, by every
/// thread of every environment of one render.
#[derive(Default)]
pub(crate) struct Budget(Vec<AtomicU64>);

impl Budget {
    pub(crate) fn new(packages: usize) -> Self {
        Budget((0..packages).map(|_| AtomicU64::new(0)).collect())
    }

    fn used(&self, package: usize) -> Duration {
        Duration::from_nanos(self.0.get(package).map_or(0, |u| u.load(Ordering::Relaxed)))
    }

    fn spend(&self, package: usize, d: Duration) {
        if let Some(u) = self.0.get(package) {
            u.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    /// The deadline of the next evaluation of `package`: none is left when
    /// its budget is spent.
    pub(crate) fn next_limit(&self, package: usize) -> Option<Duration> {
        let left = EVAL_TIME_PER_PACKAGE.saturating_sub(self.used(package));
        (!left.is_zero()).then(|| left.min(EVAL_TIME_PER_OBJECT))
    }
}

/// Why an evaluation gave no messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fail {
    /// regorus's error, which names the file and line.
    Error(String),
    /// A limit: where, if known (file, line, column), and which.
    Limit { at: Option<(String, u32, u32)>, hit: guard::Hit },
}

/// `deny` (`data.p.deny`) of package number `package` on the engine's
/// input: its messages, or why there are none.
pub(crate) fn deny(
    engine: &mut Engine,
    deny: &str,
    package: usize,
    budget: &Budget,
) -> Result<Vec<String>, Fail> {
    let Some(limit) = budget.next_limit(package) else {
        return Err(Fail::Limit { at: None, hit: budget_hit() });
    };
    let interval = NonZeroU32::new(TIMER_CHECK_INTERVAL).unwrap_or(NonZeroU32::MIN);
    engine.set_execution_timer_config(ExecutionTimerConfig { limit, check_interval: interval });
    guard::begin();
    let start = Instant::now();
    let result = engine.eval_rule(deny.to_owned());
    let elapsed = start.elapsed();
    budget.spend(package, elapsed);
    let error_text = result.as_ref().err().map(|e| format!("{e:#}"));
    if let Some(hit) = guard::take_hit() {
        return Err(Fail::Limit { at: error_text.as_deref().and_then(location), hit });
    }
    let timed_out = result.as_ref().err().is_some_and(|e| {
        e.downcast_ref::<LimitError>().is_some() || format!("{e:#}").contains("exceeded time limit")
    }) || elapsed > limit.saturating_add(WATCHDOG_GRACE);
    if timed_out {
        let hit = if limit < EVAL_TIME_PER_OBJECT { budget_hit() } else { time_hit() };
        return Err(Fail::Limit { at: error_text.as_deref().and_then(location), hit });
    }
    let value = result.map_err(|e| Fail::Error(e.to_string()))?;
    let messages: Vec<&Value> = match &value {
        Value::Undefined | Value::Null => Vec::new(),
        Value::Set(set) => set.iter().collect(),
        Value::Array(items) => items.iter().collect(),
        other => {
            let shown = text(other).unwrap_or_else(|_| "a value too large to show".into());
            return Err(Fail::Error(format!("`deny` is {shown}, not a set of messages")));
        }
    };
    if messages.len() > MAX_MESSAGES {
        return Err(Fail::Limit {
            at: None,
            hit: guard::Hit {
                what: format!("`deny` gave {} messages for one object", messages.len()),
                limit: format!("{MAX_MESSAGES} messages per package and object"),
                fix: "report one message per problem, not one per element of a large collection".into(),
            },
        });
    }
    messages.into_iter().map(|m| text(m).map_err(|hit| Fail::Limit { at: None, hit })).collect()
}

/// A message as text: a string as it is, anything else written out, unless
/// writing it would be too large.
fn text(v: &Value) -> Result<String, guard::Hit> {
    match v {
        Value::String(s) => Ok(s.to_string()),
        other => match guard::written("deny", other) {
            Ok(_) => Ok(other.to_string()),
            Err(hit) => Err(guard::Hit {
                what: "a message of `deny`, written out, would be too large".into(),
                limit: hit.limit,
                fix: "make each message a short string (`sprintf` of the fields it is about)".into(),
            }),
        },
    }
}

fn time_hit() -> guard::Hit {
    guard::Hit {
        what: "evaluating `deny` on one object did not finish in time".into(),
        limit: format!(
            "{} per evaluation of a package's `deny` on one object",
            limits::secs(EVAL_TIME_PER_OBJECT)
        ),
        fix: "make the rule cheaper: iterate over the object's fields rather than large generated \
              collections (`numbers.range`, nested comprehensions), and look values up instead of searching"
            .into(),
    }
}

fn budget_hit() -> guard::Hit {
    guard::Hit {
        what: "the package's evaluations used up their time".into(),
        limit: format!(
            "{} for all evaluations of one package in a render",
            limits::secs(EVAL_TIME_PER_PACKAGE)
        ),
        fix: "make the rule cheaper, or gate it on `input.kind` so it runs only on the kinds it checks"
            .into(),
    }
}

/// `(file, line, column)` from a regorus error (`--> file:line:col`).
fn location(error: &str) -> Option<(String, u32, u32)> {
    let rest = &error[error.find("--> ")? + 4..];
    let line = rest.lines().next()?.trim();
    let mut parts = line.rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let row = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_owned(), row, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_has_its_time_per_object_until_its_budget_runs_out() {
        let budget = Budget::new(2);
        assert_eq!(budget.next_limit(0), Some(EVAL_TIME_PER_OBJECT));
        budget.spend(0, EVAL_TIME_PER_PACKAGE - Duration::from_millis(500));
        assert_eq!(budget.next_limit(0), Some(Duration::from_millis(500)));
        assert_eq!(budget.next_limit(1), Some(EVAL_TIME_PER_OBJECT), "each package has its own");
        budget.spend(0, Duration::from_secs(1));
        assert_eq!(budget.next_limit(0), None);
    }

    #[test]
    fn a_location_is_read_from_regorus_errors() {
        let e = "\n--> policies/a.rego:3:14\n  |\n3 | x := y\n  |      ^\nerror: boom";
        assert_eq!(location(e), Some(("policies/a.rego".into(), 3, 14)));
        assert_eq!(location("no location"), None);
    }
}
