//! The limits that keep a user policy from hanging a render, exhausting
//! memory or crashing the process, whatever its Rego says. Every one is
//! far above what a policy that checks objects needs (the shipped
//! `policies/production-policies.rego` uses a few percent of each), and
//! each error names the file, the limit and the change that brings the
//! policy under it.
//!
//! What each stage can do to the process, and what bounds it:
//!
//! - Reading and parsing ([`super::prescan`], before regorus sees the text):
//!   a file is at most [`MAX_FILE_BYTES`]; brackets nest at most
//!   [`MAX_NESTING`] deep; and the work regorus's parser does, which grows
//!   two- to threefold with every level of `[` or `{` (it parses a
//!   bracket's contents once as a comprehension, then again as an array,
//!   set or object), is estimated and kept under [`MAX_PARSE_COST`]. Runs
//!   of unary minus, which regorus parses by recursion, are at most
//!   [`MAX_UNARY_RUN`] long. Strings and comments count for nothing.
//! - The syntax tree ([`super::analysis`], after parsing, before any
//!   evaluation): an expression nests at most [`MAX_EXPR_DEPTH`] deep (a
//!   long `a + b + …` or `x.a.b.…` chain is as deep as it is long);
//!   no rule or function depends on itself, directly or through others (as
//!   OPA forbids; regorus detects this only for rules, and a recursive
//!   function overflows the stack, which aborts the process); no chain
//!   of rules and functions calling each other is longer than
//!   [`MAX_RULE_CHAIN`]; and no `print` is called (it writes its
//!   arguments out whole, however large, into the render's output).
//! - Evaluation ([`super::worker`], [`super::guard`]): each evaluation of a
//!   package's `deny` on one object stops after [`EVAL_TIME_PER_OBJECT`]
//!   (regorus's cooperative execution timer, checked as it evaluates), and
//!   all of a package's evaluations in one render after
//!   [`EVAL_TIME_PER_PACKAGE`]. Builtins that can allocate far more than
//!   their arguments in one uninterruptible call (`numbers.range`,
//!   `sprintf` widths, `concat`, `replace`, `bits.lsh`, `product`, …) are
//!   checked before they run: one value they make is at most
//!   [`MAX_VALUE_BYTES`], and all they make in one evaluation at most
//!   [`MAX_BUILT_BYTES`]; no builtin is given a value larger than
//!   [`MAX_VALUE_BYTES`] written out (a value that shares its parts, built
//!   by `b := [a, a]` forty times over, is tiny in memory and a terabyte
//!   written out). Everything else that grows memory (a comprehension
//!   adding one element at a time) is bounded by the time limit: building
//!   takes time, and the timer stops it. Evaluation runs on its own thread
//!   with a [`STACK_BYTES`] stack, far more than the limits above let a
//!   policy use, and a watchdog gives up on it [`WATCHDOG_GRACE`] after its
//!   time limit should have stopped it.
//!
//! Memory is bounded without a global allocator (regorus's
//! `allocator-memory-limits` feature installs mimalloc as the process's
//! allocator): by the value checks where one call could allocate a lot at
//! once, and by time everywhere else: allocating and filling memory takes
//! time too, and in the one second an evaluation has, a comprehension
//! adding small elements one by one builds a few hundred MiB (less than a
//! GiB in an optimised build).
//!
//! What is not bounded: an operation regorus runs to its end without
//! looking at its timer, on values the checks above let through:
//! comparing two distinct values that share their parts exponentially
//! (`a == b`, set insertion), or arithmetic on numbers made huge by
//! repeated multiplication. The watchdog returns an error
//! [`WATCHDOG_GRACE`] after the time limit, so the render does not hang,
//! but the thread it gave up on keeps one CPU busy until the operation ends
//! or the process exits (a render exits with the error).

use std::time::Duration;

use super::PolicyError;

/// Largest policy file. The shipped policies are about 1 KB and a large
/// hand-written library file 20-50 KB; regorus's own default is 1 MiB.
pub(crate) const MAX_FILE_BYTES: usize = 256 * 1024;

/// Deepest nesting of `[`, `{` and `(` outside strings and comments. A
/// policy needs 4-6 (rule body, call, array, object in an array, …).
pub(crate) const MAX_NESTING: usize = 16;

/// Estimated parser steps for one file ([`super::prescan`]): each token
/// counts once per time regorus's backtracking parser may read it. A
/// normal 256 KiB file costs a few hundred thousand; at the limit, the
/// parser (unoptimised build) takes about two seconds.
pub(crate) const MAX_PARSE_COST: u64 = 1 << 21;

/// Longest run of `-` signs in a row (`x - -1` is two); regorus parses each
/// by recursion, several kilobytes of stack apiece.
pub(crate) const MAX_UNARY_RUN: usize = 4;

/// Deepest expression in the syntax tree: each operator of a chain
/// (`a + b + c`, `x.a.b`, `x[0][1]`), call, comprehension and literal
/// adds one. Evaluating a level takes about 5 KB of stack (unoptimised).
pub(crate) const MAX_EXPR_DEPTH: usize = 100;

/// Longest chain of rules and functions that use one another (`deny` calls
/// `f`, which reads `r`, …). Each call takes about 15 KB of stack.
pub(crate) const MAX_RULE_CHAIN: usize = 100;

/// One evaluation of one package's `deny` on one object; a policy takes
/// microseconds (milliseconds in an unoptimised build).
pub(crate) const EVAL_TIME_PER_OBJECT: Duration = Duration::from_secs(1);

/// Every evaluation of one package in one render (one [`super::Policies`]),
/// over every object of every environment, on every thread.
pub(crate) const EVAL_TIME_PER_PACKAGE: Duration = Duration::from_secs(20);

/// How often regorus reads the clock, in units of its work.
pub(crate) const TIMER_CHECK_INTERVAL: u32 = 32;

/// Largest value one builtin call may make: a string's bytes, or 16 bytes
/// for each element of an array or set (32 per object field). The same
/// bound holds the text of a `deny` message.
pub(crate) const MAX_VALUE_BYTES: u64 = 16 << 20;

/// All that builtins make in one evaluation, by the same measure.
pub(crate) const MAX_BUILT_BYTES: u64 = 256 << 20;

/// Largest integer, in bits, that `sprintf`, `format_int` or a message may
/// turn into text (writing one out takes time quadratic in its length), and
/// that `bits.lsh` or `product` may make.
pub(crate) const MAX_NUMBER_BITS: u64 = 1 << 16;

/// Longest string `to_number` and `units.parse` read (a long run of digits
/// takes time quadratic in its length to read).
pub(crate) const MAX_NUMBER_TEXT: usize = 1024;

/// Most messages one package's `deny` may give for one object.
pub(crate) const MAX_MESSAGES: usize = 1000;

/// Stack of the threads that parse and evaluate policies. Only the pages a
/// policy uses are ever committed; the limits above keep that to a few
/// tens of MiB in an unoptimised build.
pub(crate) const STACK_BYTES: usize = 256 << 20;

/// Loading (reading, parsing and analysing every file) that outlasts this
/// has hit work the checks above did not foresee.
pub(crate) const LOAD_TIME: Duration = Duration::from_secs(20);

/// How long past its time limit an evaluation may take to stop before the
/// render gives up on it: regorus checks its timer between steps, and one
/// step (a builtin call, comparing two values) runs to its end.
pub(crate) const WATCHDOG_GRACE: Duration = Duration::from_secs(5);

/// A [`PolicyError::Limit`] on `file`, at `at` (`(line, column)`) if known.
pub(crate) fn error(
    file: &str,
    at: Option<(u32, u32)>,
    what: impl Into<String>,
    limit: impl Into<String>,
    fix: impl Into<String>,
) -> PolicyError {
    PolicyError::Limit(Box::new(super::LimitExceeded {
        file: file.into(),
        at: at.map(|(line, col)| format!(":{line}:{col}")).unwrap_or_default(),
        what: what.into(),
        limit: limit.into(),
        fix: fix.into(),
    }))
}

/// `n` bytes for people: `16 MiB`, `256 KiB`, `12 bytes`.
pub(crate) fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// A duration for people: `2 s`, `1.5 s`, `250 ms`.
pub(crate) fn secs(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else if d >= Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}
