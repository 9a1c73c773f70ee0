//! Property test: no input makes the real `saddle` binary abort.
//!
//! Each case takes one of the experiment files in experiments/ (made cheap: at most 16 runs,
//! 50000 steps, 2 values per sweep axis), mutates it (keys renamed or deleted, values replaced
//! by huge, negative, NaN, infinite or subnormal numbers, strings, arrays, tables; the text
//! truncated or spliced with garbage bytes), adds random `--set` overrides, and runs `run`,
//! `run --json`, `describe` or `sweep` on it with a wall-clock limit. It must exit 0 or 2 —
//! never 101 (panic), 134 (abort), a signal or a hang — and an exit-2 message must be a short
//! `error: …` line with no panic text.
//!
//! A second property runs the theory commands with extreme numbers (see
//! [`no_theory_argument_aborts_or_stalls`]).
//!
//! 64 (and 48) cases by default (a few seconds); `PROPTEST_CASES=5000` (scripts/fuzz.sh) runs
//! a longer campaign. A failing case prints its file and arguments, and proptest shrinks it.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRng, TestRunner};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use toml::{Table, Value};

const BIN: &str = env!("CARGO_BIN_EXE_saddle");
/// Wall-clock limit of one invocation; past it the case fails as a hang.
const LIMIT: Duration = Duration::from_secs(20);
/// The longest acceptable error message (echoed values are shortened to 60 characters).
const MAX_MESSAGE: usize = 4096;
/// The longest acceptable line of a theory command's text output: a table row or summary
/// line, never a number spelled with hundreds of digits.
const MAX_LINE: usize = 400;

fn templates() -> Vec<(String, Table)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut v: Vec<(String, Table)> = std::fs::read_dir(&dir)
        .expect("experiments/")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "toml").then_some(())?;
            let t: Table = std::fs::read_to_string(&p).ok()?.parse().ok()?;
            Some((p.file_name()?.to_string_lossy().into_owned(), t))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        v.len() >= 10,
        "experiment files not found in {}",
        dir.display()
    );
    v
}

/// Upper bounds that keep a valid case fast: (key, cap).
const CAPS: [(&str, f64); 5] = [
    ("runs", 16.0),
    ("steps", 50_000.0),
    ("batch", 64.0),
    ("cells", 100_000.0),
    ("trace", 200.0),
];

fn cap_value(v: &mut Value, cap: f64) {
    match v {
        Value::Integer(i) if *i as f64 > cap && (*i as f64) < 9.0e15 => *i = cap as i64,
        Value::Float(f) if *f > cap && *f < 9.0e15 => *f = cap,
        _ => {}
    }
}

/// Make any table cheap to run without making it invalid: cap run and step counts, batch
/// sizes and sweep axes.
fn sanitize(t: &mut Table) {
    for (k, v) in t.iter_mut() {
        if let Some((_, cap)) = CAPS.iter().find(|(c, _)| c == k) {
            cap_value(v, *cap);
        }
        match v {
            Value::Table(sub) => sanitize(sub),
            Value::Array(items) => {
                for it in items.iter_mut() {
                    if let Value::Table(sub) = it {
                        sanitize(sub);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(Value::Table(sw)) = t.get_mut("sweep") {
        if let Some(Value::Array(axes)) = sw.get_mut("axis") {
            for a in axes.iter_mut().filter_map(Value::as_table_mut) {
                let cap = a
                    .get("path")
                    .and_then(Value::as_str)
                    .and_then(|p| CAPS.iter().find(|(c, _)| p.ends_with(c)))
                    .map(|c| c.1);
                for k in ["linspace", "logspace"] {
                    if let Some(Value::Array(v)) = a.get_mut(k) {
                        if let Some(n) = v.get_mut(2) {
                            cap_value(n, 2.0);
                        }
                        if let Some(c) = cap {
                            v.iter_mut().take(2).for_each(|x| cap_value(x, c));
                        }
                    }
                }
                if let Some(Value::Array(v)) = a.get_mut("values") {
                    v.truncate(2);
                    if let Some(c) = cap {
                        v.iter_mut().for_each(|x| cap_value(x, c));
                    }
                }
            }
        }
    }
}

/// Every key path of a table (tables and arrays of tables entered).
fn paths(t: &Table, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for (k, v) in t {
        let mut p = prefix.to_vec();
        p.push(k.clone());
        out.push(p.clone());
        if let Value::Table(sub) = v {
            paths(sub, &p, out);
        }
    }
}

fn get_parent<'a>(t: &'a mut Table, path: &[String]) -> Option<&'a mut Table> {
    let mut cur = t;
    for k in &path[..path.len() - 1] {
        cur = cur.get_mut(k)?.as_table_mut()?;
    }
    Some(cur)
}

/// A value to put somewhere it may not belong.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            2,
            3,
            i64::MAX,
            i64::MIN,
            u32::MAX as i64 + 1,
            100_000,
            100_001
        ])
        .prop_map(Value::Integer),
        any::<i64>().prop_map(Value::Integer),
        prop::sample::select(vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            1e308,
            -1e308,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            1e-310,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9.0e15,
            1e16
        ])
        .prop_map(Value::Float),
        any::<f64>().prop_map(Value::Float),
        "[a-z0-9_ .+*^()-]{0,12}".prop_map(Value::String),
        (1usize..20_000).prop_map(|n| Value::String("w1*".repeat(n / 3) + "w1")),
        any::<bool>().prop_map(Value::Boolean),
    ];
    leaf.prop_recursive(2, 16, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..3)
                .prop_map(|kv| Value::Table(kv.into_iter().collect())),
        ]
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the value at path number `.0` (modulo the number of paths).
    Set(usize, Value),
    /// Delete the key at path number `.0`.
    Delete(usize),
    /// Rename the key at path number `.0` by changing one character.
    Rename(usize, char),
    /// Add a known key (it may not belong where it lands).
    Add(usize, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), value()).prop_map(|(i, v)| Mutation::Set(i, v)),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => (any::<usize>(), prop::char::range('a', 'z')).prop_map(|(i, c)| Mutation::Rename(i, c)),
        1 => (
            any::<usize>(),
            prop::sample::select(vec![
                "runs", "steps", "seed", "mode", "kind", "lr", "clip", "boundary", "bins", "lo",
                "hi", "steps", "params", "param", "trace", "escape", "histogram", "histogram2d",
                "sweep", "axis", "path", "linspace", "values", "batch", "cells", "c0", "target",
                "loss", "x", "y", "w", "dt", "scheme", "bound", "delta", "center",
            ])
            .prop_map(String::from),
            value()
        )
            .prop_map(|(i, k, v)| Mutation::Add(i, k, v)),
    ]
}

fn apply(t: &mut Table, m: &Mutation) {
    let mut ps = vec![];
    paths(t, &[], &mut ps);
    if ps.is_empty() {
        return;
    }
    match m {
        Mutation::Set(i, v) => {
            let p = &ps[i % ps.len()];
            if let Some(parent) = get_parent(t, p) {
                parent.insert(p[p.len() - 1].clone(), v.clone());
            }
        }
        Mutation::Delete(i) => {
            let p = &ps[i % ps.len()];
            if let Some(parent) = get_parent(t, p) {
                parent.remove(&p[p.len() - 1]);
            }
        }
        Mutation::Rename(i, c) => {
            let p = &ps[i % ps.len()];
            if let Some(parent) = get_parent(t, p) {
                let old = &p[p.len() - 1];
                if let Some(v) = parent.remove(old) {
                    let mut name: Vec<char> = old.chars().collect();
                    let at = (*i / 7) % name.len().max(1);
                    if name.is_empty() {
                        name.push(*c);
                    } else {
                        name[at] = *c;
                    }
                    parent.insert(name.into_iter().collect(), v);
                }
            }
        }
        Mutation::Add(i, k, v) => {
            let p = &ps[i % ps.len()];
            let target = match get_parent(t, p).and_then(|pt| pt.get_mut(&p[p.len() - 1])) {
                Some(Value::Table(sub)) => sub,
                _ => t,
            };
            target.insert(k.clone(), v.clone());
        }
    }
}

/// Damage to the text itself, after the table is written.
#[derive(Clone, Debug)]
enum TextDamage {
    None,
    /// Keep the first `.0` thousandths of the text.
    Truncate(u16),
    /// Insert bytes (no digits, so no count grows) at `.0` thousandths of the text.
    Garbage(u16, Vec<u8>),
}

fn damage() -> impl Strategy<Value = TextDamage> {
    prop_oneof![
        4 => Just(TextDamage::None),
        1 => (0u16..1000).prop_map(TextDamage::Truncate),
        1 => (
            0u16..1000,
            prop::collection::vec(any::<u8>().prop_filter("no digits", |b| !b.is_ascii_digit()), 1..12)
        )
            .prop_map(|(at, g)| TextDamage::Garbage(at, g)),
    ]
}

fn overrides() -> impl Strategy<Value = Vec<String>> {
    let path = prop::sample::select(vec![
        "runs",
        "steps",
        "seed",
        "mode",
        "optimizer.lr",
        "optimizer.kind",
        "optimizer.clip",
        "optimizer.weight_decay",
        "optimizer.beta",
        "noise.batch",
        "noise.a",
        "noise.kind",
        "init.lo",
        "observe.trace",
        "observe.histogram",
        "sweep",
        "model.kind",
        "model",
        "divergence.bound",
        "optimizer.lr.x",
        "",
        "a..b",
        "optimizer.lrr",
    ]);
    let raw = prop::sample::select(vec![
        "0",
        "-1",
        "1",
        "3",
        "0.5",
        "-0.5",
        "1e308",
        "-1e308",
        "1e400",
        "nan",
        "inf",
        "1e-320",
        "18446744073709551616",
        "99999999999999999999999",
        "abc",
        "\"\"",
        "[1, 2]",
        "[]",
        "[[1]]",
        "{a = 1}",
        "true",
        "\"quadratic\"",
        "\"nesterov\"",
        "\"adamw\"",
        "exact",
        "=",
        "LONG",
    ]);
    prop::collection::vec((path, raw), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(p, r)| {
                let r = if r == "LONG" {
                    "z".repeat(5000)
                } else {
                    r.to_string()
                };
                format!("{p}={r}")
            })
            .collect()
    })
}

fn run_case(dir: &Path, text: &[u8], cmd: usize, sets: &[String]) -> Result<(), TestCaseError> {
    let file = dir.join("exp.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let mut args: Vec<String> = match cmd {
        0 => vec!["run".into(), "exp.toml".into(), "-q".into()],
        1 => vec![
            "run".into(),
            "exp.toml".into(),
            "--json".into(),
            "-q".into(),
        ],
        2 => vec!["describe".into(), "exp.toml".into()],
        _ => vec![
            "sweep".into(),
            "exp.toml".into(),
            "--out".into(),
            "out".into(),
            "-q".into(),
        ],
    };
    for s in sets {
        args.push("--set".into());
        args.push(s.clone());
    }
    let context = format!("--- exp.toml ---\n{}", String::from_utf8_lossy(text));
    invoke(dir, &args, &context, None)
}

/// Run `saddle args…` in `dir` and check the outcome: exit 0 or 2 within [`LIMIT`], no
/// signal, no panic text, an exit-2 message a short `error: …`, and, with `max_line`, no output
/// line longer than that (a number printed with hundreds of digits). `context` is shown on
/// failure.
fn invoke(
    dir: &Path,
    args: &[String],
    context: &str,
    max_line: Option<usize>,
) -> Result<(), TestCaseError> {
    let shown = || {
        format!(
            "saddle {}\n{context}",
            args.iter()
                .map(|a| if a.len() > 80 {
                    format!("{}…({} bytes)", &a[..60], a.len())
                } else {
                    a.clone()
                })
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start saddle");
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            s
        })
    };
    let out_reader = drain(Box::new(child.stdout.take().unwrap()));
    let err_reader = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TestCaseError::fail(format!(
                "hang: still running after {LIMIT:?}\n{}",
                shown()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    let code = status.code();
    if code.is_none() {
        use std::os::unix::process::ExitStatusExt;
        return Err(TestCaseError::fail(format!(
            "killed by signal {:?}\n{err}\n{}",
            status.signal(),
            shown()
        )));
    }
    if code != Some(0) && code != Some(2) {
        return Err(TestCaseError::fail(format!(
            "exit code {code:?}\n{err}\n{}",
            shown()
        )));
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        return Err(TestCaseError::fail(format!(
            "panic text:\n{err}\n{}",
            shown()
        )));
    }
    if code == Some(2) && (!err.starts_with("error: ") || err.len() > MAX_MESSAGE) {
        return Err(TestCaseError::fail(format!(
            "exit 2 without a short `error: …` message ({} bytes):\n{}\n{}",
            err.len(),
            &err[..err.len().min(2000)],
            shown()
        )));
    }
    let max_line = max_line.unwrap_or(usize::MAX);
    if let Some(line) = out.lines().find(|l| l.chars().count() > max_line) {
        return Err(TestCaseError::fail(format!(
            "an output line of {} characters:\n{}…\n{}",
            line.chars().count(),
            line.chars().take(300).collect::<String>(),
            shown()
        )));
    }
    Ok(())
}

/// A runner of `PROPTEST_CASES` cases (default `cases`) from a fixed seed, so the suite tests
/// the same cases on every run; `PROPTEST_RNG_SEED` set (scripts/fuzz.sh) draws them at random.
fn runner(cases: u32, max_shrink_iters: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(cases);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters,
        ..Config::default()
    };
    let algorithm = config.rng_algorithm;
    if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        TestRunner::new(config)
    } else {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(algorithm))
    }
}

#[test]
fn no_input_aborts_the_binary() {
    let mut runner = runner(64, 200);
    let tpl = templates();
    let n = tpl.len();
    let dir = tempfile::tempdir().unwrap();
    let strategy = (
        0..n,
        prop::collection::vec(mutation(), 0..4),
        damage(),
        0usize..4,
        overrides(),
    );
    let result = runner.run(&strategy, |(i, muts, dmg, cmd, sets)| {
        let mut t = tpl[i].1.clone();
        sanitize(&mut t);
        for m in &muts {
            apply(&mut t, m);
        }
        sanitize(&mut t);
        let mut text = toml::to_string(&t)
            .unwrap_or_else(|_| "runs = ]".into())
            .into_bytes();
        match &dmg {
            TextDamage::None => {}
            TextDamage::Truncate(k) => text.truncate(text.len() * *k as usize / 1000),
            TextDamage::Garbage(k, g) => {
                let at = text.len() * *k as usize / 1000;
                text.splice(at..at, g.iter().copied());
            }
        }
        run_case(dir.path(), &text, cmd, &sets)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Extreme numbers for the theory commands: zero, signed zero, subnormal, the float next to 1
/// on each side, ±10³⁰⁰, overflow to ∞, NaN, 2⁵³ + 1, and ordinary values.
fn extreme() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "-0",
        "5e-324",
        "1e-300",
        "1e-10",
        "0.5",
        "0.9999999999999999",
        "1",
        "1.0000000000000002",
        "2",
        "4.5",
        "-1",
        "-2",
        "1e10",
        "-1e10",
        "1e300",
        "-1e300",
        "1e309",
        "inf",
        "-inf",
        "nan",
        "9007199254740993",
    ])
    .prop_map(String::from)
}

/// Integers for counts (steps, batch, grid): 0, 1, huge, u64::MAX, negative, a float.
fn count() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "1",
        "2",
        "1000",
        "1000000000",
        "18446744073709551615",
        "-1",
        "1e3",
    ])
    .prop_map(String::from)
}

/// A noise law: `--a A`, or `--noise` with a Gaussian, uniform or two-atom discrete law (and
/// sometimes `--batch`).
fn noise_args() -> impl Strategy<Value = Vec<String>> {
    (0usize..4, extreme(), extreme(), prop::option::of(count())).prop_map(|(k, x, y, b)| {
        let mut v = match k {
            0 => vec!["--a".to_string(), x],
            1 => vec![
                "--noise".into(),
                format!("{{kind = \"gaussian\", mean = {x}, std = {y}}}"),
            ],
            2 => vec![
                "--noise".into(),
                format!("{{kind = \"uniform\", lo = {x}, hi = {y}}}"),
            ],
            _ => vec![
                "--noise".into(),
                format!("{{kind = \"discrete\", values = [{x}, {y}], probs = [0.5, 0.5]}}"),
            ],
        };
        if let (true, Some(b)) = (k > 0, b) {
            v.extend(["--batch".into(), b]);
        }
        v
    })
}

/// One theory command with extreme arguments.
fn theory_args() -> impl Strategy<Value = Vec<String>> {
    (
        0usize..7,
        noise_args(),
        prop::collection::vec(extreme(), 4),
        count(),
        any::<bool>(),
    )
        .prop_map(|(c, noise, x, n, json)| {
            let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
            let mut a = match c {
                0 => s(&["mu"]),
                1 => s(&["phase-boundary"]),
                2 => s(&["escape-rate"]),
                3 => s(&["escape-probability"]),
                4 => s(&["tail-exponent"]),
                5 => s(&["sharp-flat", "--a", &x[0], "--lr", &x[1]]),
                _ => s(&["amsgrad", "--a", &x[0], "--lr", &x[1]]),
            };
            if c <= 4 {
                a.extend(noise);
            }
            match c {
                0 => a.extend(s(&["--lr", &format!("{},{}", x[0], x[1])])),
                1 => a.extend(s(&["--range", &format!("{},{}", x[0], x[1]), "--grid", &n])),
                2 => a.extend(s(&["--lr", &x[0], "--lr-max", &x[1], "--epsilon", &x[2]])),
                3 => a.extend(s(&[
                    "--lr", &x[0], "--steps", &n, "--delta", &x[1], "--w0", &x[2],
                ])),
                4 => a.extend(s(&["--lr", &x[0]])),
                _ => {}
            }
            let mut v = vec!["theory".to_string()];
            v.extend(a);
            if json {
                v.push("--json".into());
            }
            v
        })
}

/// The theory commands with extreme numbers (found by fuzzing: a subnormal range that never
/// ended, E ln r overflowing to ∞, 10³⁰⁰ printed with 301 digits) end in exit 0 or 2 within
/// the limit, with short lines. 48 cases from a fixed seed by default.
#[test]
fn no_theory_argument_aborts_or_stalls() {
    let mut runner = runner(48, 100);
    let dir = tempfile::tempdir().unwrap();
    let result = runner.run(&theory_args(), |args| {
        invoke(dir.path(), &args, "", Some(MAX_LINE))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
