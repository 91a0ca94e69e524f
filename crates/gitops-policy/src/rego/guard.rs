//! regorus's builtins, each wrapped so that one call cannot allocate or
//! compute without bound: the wrapper checks what the call would make
//! before it runs (`numbers.range(1, 1e12)` would allocate 24 TB at once,
//! which aborts the process; `sprintf("%4000000000d", …)` makes a 4 GB
//! string), and counts what it made. The wrappers are regorus extensions
//! of the builtins' names, which regorus looks up before its builtins;
//! each calls the builtin itself, so results and errors are the builtin's.
//!
//! What a call may make ([`MAX_VALUE_BYTES`]) and what the calls of one
//! evaluation may make together ([`MAX_BUILT_BYTES`]) are measured as a
//! string's bytes, 16 bytes per element of an array or set and 32 per
//! field of an object. No builtin is given an array, set or object larger
//! than [`MAX_VALUE_BYTES`] written out: a value that shares its parts
//! (`a := [b, b]`, 40 times) is small in memory but exponentially large
//! written out, and builtins walk, compare or write out (in their error
//! messages) their arguments in one uninterruptible call. Each value is
//! measured once per evaluation.
//!
//! The first limit an evaluation hits is kept in a thread-local
//! ([`begin`], [`take_hit`]): an error from an extension may be swallowed by
//! Rego (a function with another definition that succeeds), and a policy
//! that tried is refused all the same.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use regorus::unstable::{BUILTINS, BuiltinFcn, Expr, Ref, Source, Span};
use regorus::{Engine, Value};

use super::limits::{self, MAX_BUILT_BYTES, MAX_NUMBER_BITS, MAX_NUMBER_TEXT, MAX_VALUE_BYTES};

/// Builtins whose result regorus keeps for the rest of an evaluation, for
/// the same arguments; the wrapper does the same.
const CACHED: [&str; 1] = ["rand.intn"];

/// Builtins whose result [`before`] estimates from their arguments.
const ESTIMATED: [&str; 17] = [
    "numbers.range",
    "numbers.range_step",
    "bits.lsh",
    "product",
    "format_int",
    "to_number",
    "units.parse",
    "units.parse_bytes",
    "sprintf",
    "concat",
    "replace",
    "strings.replace_n",
    "split",
    "indexof_n",
    "array.concat",
    "json.marshal",
    "json.marshal_with_options",
];

/// Arguments written out larger than this are measured once per
/// evaluation; smaller ones cost less to measure again than to remember.
const REMEMBERED_BYTES: u64 = 64;

/// A limit an evaluation hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) what: String,
    pub(crate) limit: String,
    pub(crate) fix: String,
}

#[derive(Default)]
struct State {
    built: u64,
    hit: Option<Hit>,
    /// Arrays, sets and objects measured in this evaluation, by address;
    /// the values are kept so that no address is reused meanwhile.
    measured: HashSet<usize>,
    kept: Vec<Value>,
    /// Results of [`CACHED`] builtins.
    cache: BTreeMap<(&'static str, Vec<Value>), Value>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Starts counting for one evaluation on this thread.
pub(crate) fn begin() {
    STATE.with(|s| *s.borrow_mut() = State::default());
}

/// The first limit the evaluation on this thread hit since [`begin`].
pub(crate) fn take_hit() -> Option<Hit> {
    STATE.with(|s| s.borrow_mut().hit.take())
}

fn record(hit: Hit) -> Limited {
    let message = format!("{}; the limit is {}", hit.what, hit.limit);
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.hit.is_none() {
            s.hit = Some(hit);
        }
    });
    Limited(message)
}

/// The error a wrapper returns; regorus adds the call's file and line.
#[derive(Debug)]
struct Limited(String);

impl fmt::Display for Limited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Limited {}

/// Adds the wrappers to `engine`.
pub(crate) fn install(engine: &mut Engine) -> Result<(), String> {
    let source = Source::from_contents("<builtin>".into(), "builtin".into()).map_err(|e| e.to_string())?;
    let span = Span { source, line: 1, col: 1, start: 0, end: 7 };
    let mut names: Vec<&&'static str> = BUILTINS.keys().collect();
    names.sort();
    for &name in names {
        if name.starts_with("__") {
            continue;
        }
        let builtin: BuiltinFcn = BUILTINS[name];
        // The builtins name their arguments' spans in errors; regorus adds
        // the call's own location around the message.
        let params: Arc<Vec<Ref<Expr>>> = Arc::new(
            (0..builtin.1)
                .map(|_| Ref::new(Expr::Null { span: span.clone(), value: Value::Null, eidx: 0 }))
                .collect(),
        );
        let span = span.clone();
        let how = How { name, estimated: ESTIMATED.contains(&name), cached: CACHED.contains(&name) };
        let wrapper =
            move |args: Vec<Value>| guarded(how, args, |args| (builtin.0)(&span, &params[..], args, true));
        engine.add_extension(name.to_string(), builtin.1, Box::new(wrapper)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A builtin and how its wrapper treats it, worked out once.
#[derive(Clone, Copy)]
struct How {
    name: &'static str,
    /// In [`ESTIMATED`].
    estimated: bool,
    /// In [`CACHED`].
    cached: bool,
}

/// Runs builtin `how.name` on `args` through `run` within the limits.
fn guarded<E: From<Limited> + fmt::Display>(
    how: How,
    args: Vec<Value>,
    run: impl FnOnce(&[Value]) -> Result<Value, E>,
) -> Result<Value, E> {
    let How { name, estimated, cached } = how;
    let checked = arguments(name, &args).and_then(|()| if estimated { before(name, &args) } else { Ok(()) });
    if let Err(hit) = checked {
        return Err(record(hit).into());
    }
    if cached && let Some(v) = STATE.with(|s| s.borrow().cache.get(&(name, args.clone())).cloned()) {
        return Ok(v);
    }
    // The builtin's error points at its placeholder arguments; regorus
    // puts the call's location around what it says.
    let value = run(&args).map_err(|e| {
        let e = e.to_string();
        let said = e.rsplit_once("error: ").map_or(e.as_str(), |(_, said)| said).trim();
        E::from(Limited(format!("`{name}`: {said}")))
    })?;
    let made = made(&value);
    let hit = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.built = s.built.saturating_add(made);
        s.built > MAX_BUILT_BYTES
    });
    if made > MAX_VALUE_BYTES {
        return Err(record(too_big(name, made)).into());
    }
    if cached {
        STATE.with(|s| s.borrow_mut().cache.insert((name, args), value.clone()));
    }
    if hit {
        return Err(record(Hit {
            what: format!(
                "the builtins this evaluation called made more than {} of strings, arrays, sets and objects",
                limits::bytes(MAX_BUILT_BYTES)
            ),
            limit: format!("{} per evaluation of `deny` on one object", limits::bytes(MAX_BUILT_BYTES)),
            fix: "build less: filter before you combine, and do not copy large values in a loop".into(),
        })
        .into());
    }
    Ok(value)
}

fn too_big(name: &str, bytes: u64) -> Hit {
    Hit {
        what: format!("`{name}` would make a value of about {bytes} bytes"),
        limit: format!(
            "{} per value a builtin makes (a string's bytes, 16 per array or set element, 32 per object field)",
            limits::bytes(MAX_VALUE_BYTES)
        ),
        fix: "work on less data at a time: a policy checks one object, which is far smaller".into(),
    }
}

fn number_too_big(name: &str, bits: u64) -> Hit {
    Hit {
        what: format!("`{name}` would work on an integer of {bits} bits"),
        limit: format!(
            "integers of {MAX_NUMBER_BITS} bits in `bits.lsh`, `product`, `sprintf` and `format_int`"
        ),
        fix: "keep numbers within the sizes an object's fields have".into(),
    }
}

/// Refuses arrays, sets and objects over [`MAX_VALUE_BYTES`] written out,
/// measuring each value once per evaluation.
fn arguments(name: &str, args: &[Value]) -> Result<(), Hit> {
    for arg in args {
        let address = match arg {
            Value::Array(a) => Arc::as_ptr(a) as *const () as usize,
            Value::Set(s) => Arc::as_ptr(s) as *const () as usize,
            Value::Object(o) => Arc::as_ptr(o) as *const () as usize,
            _ => continue,
        };
        if STATE.with(|s| {
            let s = s.borrow();
            !s.measured.is_empty() && s.measured.contains(&address)
        }) {
            continue;
        }
        if written(name, arg)? > REMEMBERED_BYTES {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.measured.insert(address);
                s.kept.push(arg.clone());
            });
        }
    }
    Ok(())
}

/// What a call of `name` with `args` would make, refused when too much.
fn before(name: &'static str, args: &[Value]) -> Result<(), Hit> {
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Undefined);
    let elements = |n: u128| {
        let bytes = n.saturating_mul(16).min(u128::from(u64::MAX)) as u64;
        if bytes > MAX_VALUE_BYTES { Err(too_big(name, bytes)) } else { Ok(()) }
    };
    match name {
        "numbers.range" => {
            if let (Some(a), Some(b)) = (integer(arg(0)), integer(arg(1))) {
                elements(a.abs_diff(b).saturating_add(1))?;
            }
        }
        "numbers.range_step" => {
            if let (Some(a), Some(b), Some(step)) = (integer(arg(0)), integer(arg(1)), integer(arg(2)))
                && step > 0
            {
                elements(a.abs_diff(b) / step.unsigned_abs() + 1)?;
            }
        }
        "bits.lsh" => {
            if let (Some(bits), Some(shift)) = (int_bits(arg(0)), integer(arg(1))) {
                let total = u64::try_from(shift.max(0)).unwrap_or(u64::MAX).saturating_add(bits);
                if total > MAX_NUMBER_BITS {
                    return Err(number_too_big(name, total));
                }
            }
        }
        "product" => {
            let items: Box<dyn Iterator<Item = &Value>> = match arg(0) {
                Value::Array(a) => Box::new(a.iter()),
                Value::Set(s) => Box::new(s.iter()),
                _ => Box::new(std::iter::empty()),
            };
            // The product has fewer bits than its factors together; 1 and
            // -1 (one bit each) add none.
            let bits =
                items.filter_map(int_bits).fold(0u64, |a, b| a.saturating_add(if b > 1 { b } else { 0 }));
            if bits > MAX_NUMBER_BITS {
                return Err(number_too_big(name, bits));
            }
        }
        "format_int" => {
            if let Some(bits) = int_bits(arg(0))
                && bits > MAX_NUMBER_BITS
            {
                return Err(number_too_big(name, bits));
            }
        }
        "to_number" | "units.parse" | "units.parse_bytes" => {
            if let Value::String(s) = arg(0)
                && s.len() > MAX_NUMBER_TEXT
            {
                return Err(Hit {
                    what: format!("`{name}` was given a string of {} bytes", s.len()),
                    limit: format!("{MAX_NUMBER_TEXT} bytes for a number written out"),
                    fix: "pass the number's text only".into(),
                });
            }
        }
        "sprintf" => {
            let Value::String(format) = arg(0) else { return Ok(()) };
            let mut size = format.len() as u64;
            let mut digits = format.split('%').skip(1);
            while let Some(after) = digits.next() {
                let width: String =
                    after.chars().skip_while(|&c| c == '.').take_while(char::is_ascii_digit).collect();
                if after.is_empty() {
                    // `%%`: the next piece is literal text.
                    digits.next();
                    continue;
                }
                let width = if width.len() > 9 { u64::MAX } else { width.parse().unwrap_or(0) };
                size = size.saturating_add(width);
            }
            size = size.saturating_add(written(name, arg(1))?);
            if size > MAX_VALUE_BYTES {
                return Err(too_big(name, size));
            }
        }
        "concat" => {
            let (Value::String(sep), items) = (arg(0), arg(1)) else { return Ok(()) };
            let items: Box<dyn Iterator<Item = &Value>> = match items {
                Value::Array(a) => Box::new(a.iter()),
                Value::Set(s) => Box::new(s.iter()),
                _ => return Ok(()),
            };
            let (mut count, mut size) = (0u64, 0u64);
            for item in items {
                if let Value::String(s) = item {
                    size = size.saturating_add(s.len() as u64);
                }
                count += 1;
            }
            size = size.saturating_add(count.saturating_sub(1).saturating_mul(sep.len() as u64));
            if size > MAX_VALUE_BYTES {
                return Err(too_big(name, size));
            }
        }
        "replace" => {
            if let (Value::String(s), Value::String(old), Value::String(new)) = (arg(0), arg(1), arg(2)) {
                let hits = if old.is_empty() { s.chars().count() + 1 } else { s.matches(&**old).count() };
                let size = (s.len() as u64).saturating_add((hits as u64).saturating_mul(new.len() as u64));
                if size > MAX_VALUE_BYTES {
                    return Err(too_big(name, size));
                }
            }
        }
        "strings.replace_n" => {
            if let (Value::Object(patterns), Value::String(s)) = (arg(0), arg(1)) {
                // Each replacement may multiply the text by the growth of
                // one pattern; bound the result without building it.
                let mut size = s.len() as u64;
                for (old, new) in patterns.iter() {
                    if let (Value::String(old), Value::String(new)) = (old, new) {
                        let hits = size / (old.len().max(1) as u64) + 1;
                        size = size.saturating_add(hits.saturating_mul(new.len() as u64));
                        if size > MAX_VALUE_BYTES {
                            return Err(too_big(name, size));
                        }
                    }
                }
            }
        }
        "split" | "indexof_n" => {
            // One element per match: per character of an empty separator.
            if let (Value::String(s), Value::String(sep)) = (arg(0), arg(1)) {
                let n = if sep.is_empty() { s.chars().count() } else { s.matches(&**sep).count() };
                elements(n as u128 + 1)?;
            }
        }
        "array.concat" => {
            if let (Value::Array(a), Value::Array(b)) = (arg(0), arg(1)) {
                elements(a.len() as u128 + b.len() as u128)?;
            }
        }
        "json.marshal" => {
            written(name, arg(0))?;
        }
        "json.marshal_with_options" => {
            // Pretty printing (the default) puts the prefix and the
            // indentation, once per level, on each line.
            let option = |key: &str| {
                let Value::Object(options) = arg(1) else { return None };
                options
                    .iter()
                    .find(|(k, _)| matches!(k, Value::String(s) if &**s == key))
                    .map(|(_, v)| v.clone())
            };
            let text_len = |v: Option<Value>, default: u64| match v {
                Some(Value::String(s)) => s.len() as u64,
                _ => default,
            };
            let (per_line, per_level) = if option("pretty") == Some(Value::Bool(false)) {
                (0, 0)
            } else {
                (text_len(option("prefix"), 0) + 1, text_len(option("indent"), 1))
            };
            written_with(name, arg(0), per_line, per_level)?;
        }
        _ => {}
    }
    Ok(())
}

/// An integer argument, saturated to `i128`; `None` for anything else.
fn integer(v: &Value) -> Option<i128> {
    let Value::Number(n) = v else { return None };
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    if !n.is_integer() {
        return None;
    }
    // Beyond 64 bits: saturate, keeping the sign.
    Some(if *v < Value::from(0i64) { i128::MIN } else { i128::MAX })
}

/// The bits of an integer argument, `None` for anything else.
fn int_bits(v: &Value) -> Option<u64> {
    let Value::Number(n) = v else { return None };
    if let Some(i) = n.as_i64() {
        return Some(u64::from(64 - i.unsigned_abs().leading_zeros()));
    }
    if let Some(u) = n.as_u64() {
        return Some(u64::from(64 - u.leading_zeros()));
    }
    if !n.is_integer() {
        return None;
    }
    n.as_big().map(|b| b.bits())
}

/// The size of `v` written out as text, as `sprintf("%v")` or
/// `json.marshal` would write it, refused when over [`MAX_VALUE_BYTES`] or
/// when it holds an integer over [`MAX_NUMBER_BITS`]. Stops as soon as it
/// knows, so a value that shares its parts costs no more than the limit.
pub(crate) fn written(name: &str, v: &Value) -> Result<u64, Hit> {
    written_with(name, v, 0, 0)
}

/// [`written`], pretty-printed: each value on a line of its own that
/// starts with `per_line` bytes and `per_level` more per level of nesting.
fn written_with(name: &str, v: &Value, per_line: u64, per_level: u64) -> Result<u64, Hit> {
    let mut size = 0u64;
    let mut stack = vec![(v, 0u64)];
    while let Some((v, depth)) = stack.pop() {
        let line = per_line.saturating_add(per_level.saturating_mul(depth));
        size = size.saturating_add(line).saturating_add(match v {
            Value::Null => 4,
            Value::Bool(_) => 5,
            Value::Undefined => 9,
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    u64::from(i.unsigned_abs().checked_ilog10().unwrap_or(0)) + 2
                } else if let Some(u) = n.as_u64() {
                    u64::from(u.checked_ilog10().unwrap_or(0)) + 1
                } else if n.as_f64().is_some() || !n.is_integer() {
                    24
                } else {
                    let bits = int_bits(v).unwrap_or(u64::MAX);
                    if bits > MAX_NUMBER_BITS {
                        return Err(number_too_big(name, bits));
                    }
                    // Decimal digits: log10(2) = 0.30103.
                    bits * 30103 / 100000 + 2
                }
            }
            // Escapes may make a string up to six times longer written out;
            // reading every byte for them would cost more than it saves.
            Value::String(s) => s.len() as u64 + 2,
            Value::Array(items) => {
                stack.extend(items.iter().map(|i| (i, depth + 1)));
                2 + 2 * items.len() as u64
            }
            Value::Set(items) => {
                stack.extend(items.iter().map(|i| (i, depth + 1)));
                2 + 2 * items.len() as u64
            }
            Value::Object(fields) => {
                for (k, v) in fields.iter() {
                    stack.push((k, depth + 1));
                    stack.push((v, depth + 1));
                }
                2 + 4 * fields.len() as u64
            }
        });
        if size > MAX_VALUE_BYTES {
            return Err(too_big(name, size));
        }
    }
    Ok(size)
}

/// What a builtin's result is counted as: a string's bytes, 16 per array
/// or set element and 32 per object field, plus the strings directly in
/// an array or set (`split` makes them).
fn made(v: &Value) -> u64 {
    let strings = |items: &mut dyn Iterator<Item = &Value>| -> u64 {
        items.map(|i| if let Value::String(s) = i { s.len() as u64 } else { 0 }).sum()
    };
    match v {
        Value::String(s) => s.len() as u64,
        Value::Array(items) => 16 * items.len() as u64 + strings(&mut items.iter()),
        Value::Set(items) => 16 * items.len() as u64 + strings(&mut items.iter()),
        Value::Object(fields) => 32 * fields.len() as u64,
        Value::Number(_) => int_bits(v).map_or(8, |bits| bits / 8 + 8),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_named_here_is_one_of_regorus() {
        for name in ESTIMATED.iter().chain(&CACHED) {
            assert!(BUILTINS.contains_key(name), "{name}");
        }
    }

    #[test]
    fn a_value_that_shares_its_parts_is_measured_written_out() {
        let mut v = Value::from_json_str("[1]").unwrap();
        for _ in 0..40 {
            v = Value::from(vec![v.clone(), v]);
        }
        assert!(written("sprintf", &v).is_err());
        // `{"a":[1,"xy"]}` is 14 bytes; the estimate is at least that.
        let size = written("sprintf", &Value::from_json_str(r#"{"a": [1, "xy"]}"#).unwrap()).unwrap();
        assert!((14..=32).contains(&size), "{size}");
    }
}
