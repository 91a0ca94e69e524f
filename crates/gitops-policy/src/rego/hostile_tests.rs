//! Hostile policies: each one hung the render, exhausted its memory or
//! crashed the process before the limits. Now each is refused with an
//! error that names the file and the limit, in bounded time.

use std::time::{Duration, Instant};

use regorus::Value;

use super::limits::{self, EVAL_TIME_PER_OBJECT, MAX_VALUE_BYTES, WATCHDOG_GRACE};
use super::{Policies, PolicyError};

const FILE: &str = "policies/hostile.rego";

/// Loads `policy`, prepares it and evaluates it on a small object: the
/// messages, or the first error. Fails the test if that takes longer than
/// any limit allows.
fn run(policy: &str) -> Result<Vec<String>, PolicyError> {
    // One hostile policy at a time: each is built to use a core and
    // hundreds of MiB for up to its time limit, so side by side on a small
    // machine one would reach another's time limit before its own limit.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let started = Instant::now();
    let result = (|| {
        let policies = Policies::from_sources(vec![(FILE.into(), policy.into())])?;
        let data = Value::from_json_str(r#"{"environment": {"name": "dev"}}"#).unwrap();
        let prepared = policies.prepare(data)?.expect("policies");
        let input = Value::from_json_str(r#"{"kind": "ConfigMap", "metadata": {"name": "a"}}"#).unwrap();
        prepared.evaluate_inputs(vec![input])
    })();
    let bound = limits::LOAD_TIME + 2 * (EVAL_TIME_PER_OBJECT + WATCHDOG_GRACE);
    assert!(started.elapsed() < bound, "took {:?}: {result:?}", started.elapsed());
    result
}

/// The error of `policy`, checked to name the file and a limit.
fn refused(policy: &str) -> String {
    let e = run(policy).expect_err("a limit").to_string();
    assert!(e.starts_with(FILE), "{e}");
    assert!(e.contains("; the limit is "), "{e}");
    assert!(e.contains("\nfix: "), "{e}");
    e
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

#[test]
fn the_normal_policies_load_and_deny_as_before() {
    let seed = include_str!("../../../../policies/production-policies.rego");
    let policies =
        Policies::from_sources(vec![("policies/production-policies.rego".into(), seed.into())]).unwrap();
    let prepared = policies.prepare(Value::new_object()).unwrap().unwrap();
    let deployment = r#"{"kind": "Deployment", "metadata": {"name": "web", "namespace": "x"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:latest"}]}}}}"#;
    let mut messages = prepared.evaluate_inputs(vec![Value::from_json_str(deployment).unwrap()]).unwrap();
    messages.sort();
    assert_eq!(
        messages,
        [
            "Container web cannot use :latest tag",
            "Container web must define resource limits",
            "Deployments must define securityContext",
        ]
    );
    // Builtins keep their results through the limits' wrappers.
    let policy = r#"package p
deny contains m if {
	r := numbers.range(1, 3)
	numbers.range(1, 2, out)
	m := sprintf("%v %v %s %d", [r, out, concat("-", ["a", "b"]), product([2, 3])])
}
"#;
    assert_eq!(run(policy).unwrap(), ["[1, 2, 3] [1, 2] a-b 6"]);
}

#[test]
fn deeply_nested_brackets_are_refused_before_parsing() {
    // 142 bytes that took regorus 64 s to parse.
    let arrays =
        format!("package p\ndeny contains m if {{ x := {}1{}; m := \"a\" }}", "[".repeat(28), "]".repeat(28));
    let (e, took) = timed(|| refused(&arrays));
    assert!(e.contains("nested 17 deep"), "{e}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    for (open, close) in [("{", "}"), ("(", ")"), ("[{", "}]"), ("{\"a\": ", "}"), ("[x | x := ", "]")] {
        let policy = format!(
            "package p\ndeny contains m if {{ x := {}1{}; m := \"a\" }}",
            open.repeat(30),
            close.repeat(30)
        );
        let e = refused(&policy);
        assert!(e.contains("nested 17 deep"), "{open}: {e}");
    }
    // Shallower, but each level triples the parser's work.
    let tripling = format!(
        "package p\ndeny contains m if {{ x := {}1{}; m := \"a\" }}",
        "[a | ".repeat(14),
        ", b]".repeat(14)
    );
    let (e, took) = timed(|| refused(&tripling));
    assert!(e.contains("steps per file"), "{e}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn nesting_inside_strings_and_comments_does_not_count() {
    let deep = "[{(".repeat(100);
    let policy = format!(
        "package p\n# {deep}\ndeny contains m if {{ input.kind == \"ConfigMap\"; x := \"{deep}\"; y := `{deep}`; m := concat(\"\", [\"ok\", x, y]) }}\n"
    );
    let messages = run(&policy).unwrap();
    assert_eq!(messages, [format!("ok{deep}{deep}")]);
}

#[test]
fn recursion_is_refused_before_evaluation() {
    let recursive = [
        "package p\nf(x) := f(x)\ndeny contains m if { m := f(1) }\n",
        "package p\nf(x) := g(x)\ng(x) := f(x)\ndeny contains m if { m := f(1) }\n",
        "package p\nf(x) := y if { y := g(x + 1) }\ng(x) := y if { x < 1000000; y := f(x) }\ndeny contains m if { m := f(1) }\n",
        "package p\na := b\nb := a\ndeny contains m if { m := a }\n",
        "package p\ncount_all := c if { c := count([k | some k, _ in data.p]) }\ndeny contains m if { m := sprintf(\"%d\", [count_all]) }\n",
        "package p\nimport data.p as self\nr := self.r\ndeny contains m if { m := r }\n",
    ];
    for policy in recursive {
        let e = refused(policy);
        assert!(e.contains("depends on itself"), "{policy}\n{e}");
    }
}

#[test]
fn long_chains_and_deep_expressions_are_refused() {
    let mut chain = String::from("package p\ndeny contains m if { m := f0(1) }\n");
    for i in 0..3000 {
        chain += &format!("f{i}(x) := f{}(x)\n", i + 1);
    }
    chain += "f3000(x) := \"a\"\n";
    assert!(refused(&chain).contains("starts a chain of"));

    let sum = format!(
        "package p\ndeny contains m if {{ x := (1{}); m := sprintf(\"%d\", [x]) }}\n",
        "\n+ 1".repeat(3000)
    );
    assert!(refused(&sum).contains("nested more than"));

    let minus = format!("package p\ndeny contains m if {{ x := {}1; m := \"a\" }}\n", "- ".repeat(1000));
    assert!(refused(&minus).contains("`-` signs"));
}

#[test]
fn a_huge_comprehension_stops_at_the_limits() {
    // Ran 171 s: two million elements in one `numbers.range`.
    let (e, took) = timed(|| {
        refused(
            "package p\ndeny contains m if { n := count([x | some x in numbers.range(1, 2000000)]); m := sprintf(\"%d\", [n]) }\n",
        )
    });
    assert!(e.contains("`numbers.range` would make"), "{e}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A billion small steps: the time limit.
    let (e, took) = timed(|| {
        refused(
            "package p\ndeny contains m if { n := count([1 | some i in numbers.range(1, 1000); some j in numbers.range(1, 1000); some k in numbers.range(1, 1000)]); m := sprintf(\"%d\", [n]) }\n",
        )
    });
    assert!(
        e.contains(&format!("the limit is {} per evaluation", limits::secs(EVAL_TIME_PER_OBJECT))),
        "{e}"
    );
    assert!(took < EVAL_TIME_PER_OBJECT * 3, "{took:?}");
    // The same, only on the objects of one kind: refused on the first.
    let e = refused(
        "package p\ndeny contains m if { input.kind == \"ConfigMap\"; n := count([1 | some i in numbers.range(1, 1000); some j in numbers.range(1, 1000); some k in numbers.range(1, 1000)]); m := sprintf(\"%d\", [n]) }\n",
    );
    assert!(e.contains("evaluating `data.p.deny` on input #0: "), "{e}");
    // A set growing one element at a time: the time limit too.
    refused(
        "package p\ndeny contains m if { s := {[i, j] | some i in numbers.range(1, 1000000); some j in numbers.range(1, 1000000)}; m := sprintf(\"%d\", [count(s)]) }\n",
    );
}

#[test]
fn builtins_that_would_allocate_at_once_are_refused() {
    // `s<k>` is `"ab"` repeated 2^k times (`s20` is 2 MiB), made quickly.
    let mut prelude = String::from("\ts0 := \"ab\"\n");
    for i in 0..20 {
        prelude += &format!("\ts{} := concat(\"\", [s{i}, s{i}])\n", i + 1);
    }
    let calls = [
        "x := numbers.range(1, 1000000000000)",
        "x := numbers.range(-100000000000000000000000000, 1)",
        "x := numbers.range_step(1, 1000000000000, 2)",
        "x := sprintf(\"%4000000000d\", [1])",
        "x := sprintf(\"%.99999999f\", [1])",
        "x := bits.lsh(1, 4000000000)",
        "x := product(numbers.range(2, 100000))",
        "x := strings.replace_n({\"a\": s5, \"b\": s6}, s16)",
        "x := replace(s17, \"\", s10)",
        "x := to_number(s10)",
        "x := json.marshal_with_options(numbers.range(1, 100), {\"indent\": s17})",
        "x := split(s20, \"\")",
        "x := array.concat(numbers.range(1, 600000), numbers.range(1, 600000))",
    ];
    let line = 3 + prelude.lines().count();
    for call in calls {
        let policy = format!("package p\ndeny contains m if {{\n{prelude}\t{call}\n\tm := \"a\"\n}}\n");
        let e = refused(&policy);
        assert!(e.starts_with(&format!("{FILE}:{line}:")), "{call}: {e}");
    }
}

#[test]
fn values_that_double_at_every_step_are_refused() {
    // A string that doubles 40 times: 4 TB.
    let mut doubling = String::from("package p\ndeny contains m if {\n\ts0 := \"aaaaaaaaaaaaaaaa\"\n");
    for i in 0..40 {
        doubling += &format!("\ts{} := concat(\"\", [s{i}, s{i}])\n", i + 1);
    }
    doubling += "\tm := s40\n}\n";
    let e = refused(&doubling);
    assert!(e.contains(&limits::bytes(MAX_VALUE_BYTES)), "{e}");

    // An array that shares its halves: small in memory, 2^40 elements
    // written out.
    let mut shared = String::from("package p\ndeny contains m if {\n\ta0 := [1]\n");
    for i in 0..40 {
        shared += &format!("\ta{} := [a{i}, a{i}]\n", i + 1);
    }
    for out in [
        "m := sprintf(\"%v\", [a40])",
        "m := json.marshal(a40)",
        "m := a40",
        "m := object.union({\"a\": a40}, {\"a\": a40})",
        "m := upper(a40)",
        "m := print(a40)",
    ] {
        let policy = format!("{shared}\t{out}\n}}\n");
        let e = refused(&policy);
        assert!(e.contains("the limit is"), "{out}: {e}");
    }
}

#[test]
fn an_evaluation_stuck_in_one_operation_is_given_up_on() {
    // Comparing two equal values that each share their halves 2^28 times
    // is one call regorus's timer cannot interrupt (about 40 s here,
    // unoptimised; the thread given up on finishes it in the background).
    let mut policy = String::from("package p\ndeny contains m if {\n\ta0 := [1]\n\tb0 := [1]\n");
    for i in 0..28 {
        policy += &format!("\ta{} := [a{i}, a{i}]\n\tb{} := [b{i}, b{i}]\n", i + 1, i + 1);
    }
    policy += "\ta28 == b28\n\tm := \"equal\"\n}\n";
    let (e, took) = timed(|| refused(&policy));
    assert!(e.contains("did not stop"), "{e}");
    assert!(took < EVAL_TIME_PER_OBJECT + WATCHDOG_GRACE * 2, "{took:?}");
}

#[test]
fn too_many_messages_are_refused() {
    let e = refused(
        "package p\ndeny contains m if { some i in numbers.range(1, 2000); m := sprintf(\"%d\", [i]) }\n",
    );
    assert!(e.contains("messages per package and object"), "{e}");
}

#[test]
fn what_builtins_make_together_is_bounded() {
    // A 4 MiB string, then 8 MiB copies of it in a loop.
    let mut policy = String::from("package p\ndeny contains m if {\n\ts0 := \"aaaaaaaaaaaaaaaa\"\n");
    for i in 0..18 {
        policy += &format!("\ts{} := concat(\"\", [s{i}, s{i}])\n", i + 1);
    }
    policy += "\txs := [concat(\"\", [s18, s18]) | some i in numbers.range(1, 1000)]\n\tm := \"a\"\n}\n";
    let e = refused(&policy);
    assert!(e.contains("256 MiB per evaluation"), "{e}");
}

#[test]
fn errors_and_panics_of_builtins_name_the_file() {
    let e = run("package p\ndeny contains m if { input.kind == \"ConfigMap\"; x := json.unmarshal(\"[\"); m := \"a\" }\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(FILE), "{e}");
    assert!(e.contains("`json.unmarshal`: could not deserialize json") && !e.contains("<builtin>"), "{e}");
    // regorus 0.11 panics on a non-ASCII digit in a `sprintf` width.
    let e =
        run("package p\ndeny contains m if { m := sprintf(\"%\u{663}d\", [1]) }\n").unwrap_err().to_string();
    assert!(e.starts_with(FILE) && e.contains("regorus panicked"), "{e}");
}
