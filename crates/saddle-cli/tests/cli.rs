//! End-to-end tests of the `saddle` binary: every test runs the real executable in a fresh
//! temporary directory and checks exit codes, messages, JSON and files on disk.
//!
//! Exit codes: 0 success, 1 failure while running, 2 bad input (files, flags, values).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::*;

fn read_str(p: &Path) -> String {
    String::from_utf8(read(p)).expect("UTF-8 file")
}

/// Assert that the named files are byte-identical in two directories.
fn assert_same_files(a: &Path, b: &Path, names: &[&str]) {
    for n in names {
        let (x, y) = (read(&a.join(n)), read(&b.join(n)));
        assert!(
            x == y,
            "{n} differs between {} and {}:\n--- {} ---\n{}\n--- {} ---\n{}",
            a.display(),
            b.display(),
            a.display(),
            String::from_utf8_lossy(&x),
            b.display(),
            String::from_utf8_lossy(&y)
        );
    }
}

/// No temporary files (names starting with '.') left in `dir`.
fn assert_no_hidden_files(dir: &Path) {
    let hidden: Vec<String> = std::fs::read_dir(dir)
        .expect("read output directory")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        hidden.is_empty(),
        "leftover temporary files in {}: {hidden:?}",
        dir.display()
    );
}

/// Complete journal lines (ending in a newline and parsing as JSON with a "cell").
fn complete_journal_lines(text: &str) -> usize {
    text.split_inclusive('\n')
        .take_while(|l| {
            l.ends_with('\n')
                && serde_json::from_str::<Value>(l.trim_end())
                    .ok()
                    .and_then(|v| v.get("cell")?.as_u64())
                    .is_some()
        })
        .count()
}

// ---------------------------------------------------------------------------------------------
// Experiments
// ---------------------------------------------------------------------------------------------

/// A small valid experiment (1-parameter quadratic).
const BASE: &str = r#"name = "base"
seed = 1
runs = 20
steps = 10

[model]
kind = "quadratic"

[noise]
kind = "two-point"
a = -1.0

[optimizer]
kind = "sgd"
lr = 0.5
"#;

const BASE_MODEL: &str = "[model]\nkind = \"quadratic\"\n";
const BASE_NOISE: &str = "[noise]\nkind = \"two-point\"\na = -1.0\n";
const BASE_OPT: &str = "[optimizer]\nkind = \"sgd\"\nlr = 0.5\n";

const SWEEP_AXIS: &str = r#"
[[sweep.axis]]
path = "optimizer.lr"
linspace = [0.1, 0.9, 3]
"#;

/// Fig. 1 left of the paper (experiments/fig1-left.toml): SGD on x w²/2, two-point noise
/// with a = −1, lr = 0.8: attracted to the maximum w = 0.
const FIG1: &str = r#"name = "fig1-left"
seed = 1
runs = 2000
steps = 1000

[model]
kind = "quadratic"

[noise]
kind = "two-point"
a = -1.0

[init]
kind = "uniform"
lo = -1.0
hi = 1.0

[optimizer]
kind = "sgd"
lr = 0.8

[observe]
trace = 30
escape = { delta = 0.05 }
escape_rate_steps = [50, 100]

[[observe.histogram]]
param = 1
lo = -1.0
hi = 1.0
bins = 40
steps = [0, 1000]
"#;

/// A 2-parameter experiment where some runs diverge and every observer is on.
const TINY_NET: &str = r#"name = "tn"
seed = 5
runs = 400
steps = 200

[model]
kind = "tiny-net"

[noise]
kind = "discrete"
values = [-1.0, 2.0]
probs = [0.5, 0.5]

[optimizer]
kind = "sgd"
lr = 0.15

[divergence]
bound = 1e6

[observe]
trace = 8
final_states = true
escape = { delta = 0.1, center = [0.0, 0.0] }
escape_rate_steps = [20, 200]

[[observe.histogram]]
param = 2
lo = -2.0
hi = 2.0
bins = 16
steps = [0, 100, 200]

[[observe.histogram2d]]
params = [1, 2]
lo = -2.0
hi = 2.0
bins = [5, 4]
steps = [200]
"#;

/// A 40-cell sweep whose cells take tens of milliseconds each, so that a kill lands
/// mid-sweep.
const HEAVY_SWEEP: &str = r#"name = "heavy"
seed = 7
runs = 4000
steps = 1000

[model]
kind = "quadratic"

[noise]
kind = "two-point"
a = -1.0

[optimizer]
kind = "sgd"
lr = 0.5

[observe]
escape = { delta = 0.05 }
escape_rate_steps = [10, 100]

[[sweep.axis]]
path = "optimizer.lr"
linspace = [0.2, 0.9, 8]

[[sweep.axis]]
path = "noise.a"
values = [-1.0, -0.5, 0.0, 0.5, 1.0]
"#;

const SWEEP_TABLES: [&str; 2] = ["sweep.csv", "sweep.jsonl"];

// ---------------------------------------------------------------------------------------------
// 1. Bad input
// ---------------------------------------------------------------------------------------------

struct Case {
    name: &'static str,
    /// Text of `exp.toml`, if the case needs one.
    file: Option<String>,
    args: Vec<&'static str>,
    /// Substrings stderr must contain.
    expect: Vec<&'static str>,
}

fn case(
    name: &'static str,
    file: Option<String>,
    args: &[&'static str],
    expect: &[&'static str],
) -> Case {
    Case {
        name,
        file,
        args: args.to_vec(),
        expect: expect.to_vec(),
    }
}

fn with_noise(noise: &str) -> String {
    BASE.replace(BASE_NOISE, noise)
}

#[test]
fn bad_input_exits_2_with_a_precise_message() {
    let base = || Some(BASE.to_string());
    let with_sweep = || Some(format!("{BASE}{SWEEP_AXIS}"));
    let run = ["run", "exp.toml"];
    let cases = vec![
        case(
            "missing file",
            None,
            &["run", "missing.toml"],
            &["missing.toml", "cannot read experiment file"],
        ),
        case(
            "missing file (describe)",
            None,
            &["describe", "missing.toml"],
            &["missing.toml", "cannot read experiment file"],
        ),
        case(
            "invalid TOML syntax",
            Some("name = \"x\"\nruns = 10\nsteps = = 3\n".into()),
            &run,
            &["exp.toml", "invalid TOML", "line 3"],
        ),
        case(
            "unknown top-level key",
            Some(format!("bogus = 1\n{BASE}")),
            &run,
            &[
                "bogus",
                "unknown key",
                "allowed here: name, description, mode, seed, runs, steps, model, noise",
            ],
        ),
        case(
            "unknown key inside [noise]",
            Some(with_noise(
                "[noise]\nkind = \"two-point\"\na = -1.0\nsigma = 0.1\n",
            )),
            &run,
            &[
                "noise.sigma",
                "unknown key",
                "allowed here: kind, batch, field, injected_sigma, a",
            ],
        ),
        case(
            "unknown model kind",
            Some(BASE.replace(BASE_MODEL, "[model]\nkind = \"cubic\"\n")),
            &run,
            &[
                "model.kind",
                "\"cubic\"",
                "allowed: quadratic, quartic, sharp-flat, tiny-net, formula",
            ],
        ),
        case(
            "lr = 0",
            Some(BASE.replace("lr = 0.5", "lr = 0.0")),
            &run,
            &["optimizer.lr", "must be > 0", "got 0"],
        ),
        case(
            "lr = -1",
            Some(BASE.replace("lr = 0.5", "lr = -1")),
            &run,
            &["optimizer.lr", "must be > 0", "got -1"],
        ),
        case(
            "probs not summing to 1",
            Some(with_noise(
                "[noise]\nkind = \"discrete\"\nvalues = [1.0, 2.0]\nprobs = [0.5, 0.6]\n",
            )),
            &run,
            &["noise.probs", "sum to 1", "1.1"],
        ),
        case(
            "negative prob",
            Some(with_noise(
                "[noise]\nkind = \"discrete\"\nvalues = [1.0, 2.0]\nprobs = [1.5, -0.5]\n",
            )),
            &run,
            &["noise.probs", ">= 0", "-0.5"],
        ),
        case(
            "runs = 0",
            Some(BASE.replace("runs = 20", "runs = 0")),
            &run,
            &["runs", "must be between 1 and", "got 0"],
        ),
        case(
            "histogram bins = 0",
            Some(format!(
                "{BASE}\n[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nbins = 0\n"
            )),
            &run,
            &["observe.histogram[0].bins", "between 1 and 100000", "got 0"],
        ),
        case(
            "histogram lo = hi",
            Some(format!(
                "{BASE}\n[[observe.histogram]]\nlo = 1.0\nhi = 1.0\n"
            )),
            &run,
            &["observe.histogram[0].hi", "greater than lo"],
        ),
        case(
            "histogram lo > hi",
            Some(format!(
                "{BASE}\n[[observe.histogram]]\nlo = 2.0\nhi = 1.0\n"
            )),
            &run,
            &["observe.histogram[0].hi", "greater than lo"],
        ),
        case(
            "histogram step > steps",
            Some(format!(
                "{BASE}\n[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nsteps = [0, 11]\n"
            )),
            &run,
            &["observe.histogram[0].steps", "step 11", "0..=10"],
        ),
        case(
            "--set without =",
            base(),
            &["run", "exp.toml", "--set", "optimizer.lr"],
            &["--set optimizer.lr", "expected PATH=VALUE"],
        ),
        case(
            "--set optimizer.lr=-3",
            base(),
            &["run", "exp.toml", "--set", "optimizer.lr=-3"],
            &["optimizer.lr", "must be > 0", "got -3"],
        ),
        case(
            "--set of an unknown key",
            base(),
            &["run", "exp.toml", "--set", "optimizer.momentum=0.9"],
            &[
                "optimizer.momentum",
                "unknown key",
                "allowed here: kind, lr, clip",
            ],
        ),
        case(
            "--threads 0",
            base(),
            &["run", "exp.toml", "--threads", "0"],
            &["--threads", "between 1 and", "8 per core", "got 0"],
        ),
        case(
            "--shard 0/2",
            with_sweep(),
            &["sweep", "exp.toml", "--out", "o", "--shard", "0/2"],
            &["--shard", "0/2", "K/N with 1 <= K <= N"],
        ),
        case(
            "--shard 3/2",
            with_sweep(),
            &["sweep", "exp.toml", "--out", "o", "--shard", "3/2"],
            &["--shard", "3/2", "K/N with 1 <= K <= N"],
        ),
        case(
            "--shard x",
            with_sweep(),
            &["sweep", "exp.toml", "--out", "o", "--shard", "x"],
            &["--shard", "\"x\"", "K/N with 1 <= K <= N"],
        ),
        case(
            "sweep without [sweep]",
            base(),
            &["sweep", "exp.toml", "--out", "o"],
            &["exp.toml", "no [sweep] table", "[[sweep.axis]]"],
        ),
        case(
            "sweep with an invalid cell (linspace -1..1)",
            Some(format!(
                "{BASE}\n[[sweep.axis]]\npath = \"optimizer.lr\"\nlinspace = [-1.0, 1.0, 5]\n"
            )),
            &["sweep", "exp.toml", "--out", "o"],
            &["sweep cell 0", "optimizer.lr = -1", "must be > 0"],
        ),
        case(
            "sweep with an invalid cell in the middle",
            Some(format!(
                "{BASE}\n[[sweep.axis]]\npath = \"optimizer.lr\"\nvalues = [0.5, 0.1, -0.2, 0.3]\n"
            )),
            &["sweep", "exp.toml", "--out", "o"],
            &["sweep cell 2", "optimizer.lr = -0.2", "must be > 0"],
        ),
        case(
            "formula parse error",
            Some(BASE.replace(
                BASE_MODEL,
                "[model]\nkind = \"formula\"\nloss = \"w1^2 +* x\"\nparams = 1\n",
            )),
            &run,
            &["model.loss", "cannot parse formula", "w1^2 +* x", "^"],
        ),
        case(
            "2-D histogram on a 1-parameter model",
            Some(format!(
                "{BASE}\n[[observe.histogram2d]]\nlo = -1.0\nhi = 1.0\n"
            )),
            &run,
            &[
                "observe.histogram2d[0].params",
                "two or more parameters",
                "has 1",
            ],
        ),
        case(
            "gd on a formula model with gaussian noise",
            Some(
                BASE.replace(
                    BASE_MODEL,
                    "[model]\nkind = \"formula\"\nloss = \"x * w1^2 / 2\"\nparams = 1\n",
                )
                .replace(BASE_NOISE, "[noise]\nkind = \"gaussian\"\nstd = 1.0\n")
                .replace(BASE_OPT, "[optimizer]\nkind = \"gd\"\nlr = 0.1\n"),
            ),
            &run,
            &["`gd`", "expected gradient", "discrete or two-point"],
        ),
        case("unknown subcommand", None, &["frobnicate"], &["frobnicate"]),
        case(
            "unknown flag",
            base(),
            &["run", "exp.toml", "--frobnicate"],
            &["--frobnicate"],
        ),
        case(
            "--resume on a missing directory",
            with_sweep(),
            &["sweep", "exp.toml", "--out", "nothing", "--resume"],
            &["--resume", "nothing", "no sweep"],
        ),
        case(
            "merge of a directory that is not a sweep",
            None,
            &["merge", "--out", "m", "."],
            &["not a sweep directory"],
        ),
        case(
            "merge without directories",
            None,
            &["merge", "--out", "m"],
            &["<DIRS>"],
        ),
    ];

    let mut failures = vec![];
    for c in &cases {
        let dir = tempdir();
        if let Some(text) = &c.file {
            write(dir.path(), "exp.toml", text);
        }
        let out = saddle(dir.path(), &c.args);
        if let Some(p) = out.check_bad_input(&c.expect) {
            failures.push(format!("[{}] {p}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn resume_on_an_existing_directory_without_a_sweep() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", &format!("{BASE}{SWEEP_AXIS}"));
    std::fs::create_dir(d.join("empty")).unwrap();
    saddle(d, &["sweep", "exp.toml", "--out", "empty", "--resume"])
        .assert_bad_input(&["--resume", "empty", "no sweep"]);
}

#[test]
fn formula_error_points_at_the_offending_position() {
    let dir = tempdir();
    let text = BASE.replace(
        BASE_MODEL,
        "[model]\nkind = \"formula\"\nloss = \"w1^2 +* x\"\nparams = 1\n",
    );
    write(dir.path(), "exp.toml", &text);
    let out = saddle(dir.path(), &["run", "exp.toml"]);
    out.assert_bad_input(&["model.loss", "cannot parse formula"]);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("w1^2 +* x"))
        .unwrap_or_else(|| panic!("the formula is not quoted:\n{}", out.describe()));
    let caret_line = lines
        .get(i + 1)
        .unwrap_or_else(|| panic!("no caret line:\n{}", out.describe()));
    let star = lines[i].find("+*").unwrap() + 1;
    let caret = caret_line
        .find('^')
        .unwrap_or_else(|| panic!("no caret:\n{}", out.describe()));
    assert_eq!(
        caret,
        star,
        "the caret does not point at the `*`:\n{}",
        out.describe()
    );
}

#[test]
fn resume_with_a_changed_experiment_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", LIGHT_SWEEP);
    saddle(d, &["sweep", "exp.toml", "--out", "s"]).ok();
    let before = read(&d.join("s/sweep.csv"));
    saddle(
        d,
        &[
            "sweep", "exp.toml", "--out", "s", "--resume", "--set", "seed=4",
        ],
    )
    .assert_bad_input(&["--resume", "differs", "s"]);
    saddle(
        d,
        &[
            "sweep", "exp.toml", "--out", "s", "--resume", "--set", "runs=201",
        ],
    )
    .assert_bad_input(&["--resume", "differs"]);
    saddle(
        d,
        &[
            "sweep", "exp.toml", "--out", "s", "--resume", "--shard", "1/2",
        ],
    )
    .assert_bad_input(&["--resume", "shard", "1/1", "1/2"]);
    assert_eq!(
        read(&d.join("s/sweep.csv")),
        before,
        "a refused resume changed sweep.csv"
    );
    // The unchanged experiment resumes (a no-op here).
    saddle(d, &["sweep", "exp.toml", "--out", "s", "--resume"]).ok();
    assert_eq!(read(&d.join("s/sweep.csv")), before);
}

#[test]
fn sweep_twice_into_the_same_directory_needs_resume() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", LIGHT_SWEEP);
    saddle(d, &["sweep", "exp.toml", "--out", "s"]).ok();
    let before = read(&d.join("s/journal.jsonl"));
    saddle(d, &["sweep", "exp.toml", "--out", "s"]).assert_bad_input(&[
        "s",
        "already holds a sweep",
        "--resume",
    ]);
    assert_eq!(read(&d.join("s/journal.jsonl")), before);
}

/// A sweep whose cells all fail when run (gd needs an expected gradient the formula model
/// lacks under gaussian noise) is bad input; once the file is fixed, the same command must
/// work without cleaning up by hand.
#[test]
fn failed_sweep_leaves_no_sweep_behind() {
    let dir = tempdir();
    let d = dir.path();
    let bad = BASE
        .replace(
            BASE_MODEL,
            "[model]\nkind = \"formula\"\nloss = \"x * w1^2 / 2\"\nparams = 1\n",
        )
        .replace(BASE_NOISE, "[noise]\nkind = \"gaussian\"\nstd = 1.0\n")
        .replace(BASE_OPT, "[optimizer]\nkind = \"gd\"\nlr = 0.1\n");
    write(d, "exp.toml", &format!("{bad}{SWEEP_AXIS}"));
    saddle(d, &["sweep", "exp.toml", "--out", "s"]).assert_bad_input(&[
        "sweep cell",
        "`gd`",
        "expected gradient",
    ]);
    // Fixed: discrete noise gives the expected gradient.
    let fixed = bad.replace(
        "[noise]\nkind = \"gaussian\"\nstd = 1.0\n",
        "[noise]\nkind = \"discrete\"\nvalues = [1.0, -0.5]\n",
    );
    write(d, "exp.toml", &format!("{fixed}{SWEEP_AXIS}"));
    saddle(d, &["sweep", "exp.toml", "--out", "s"]).ok();
}

// ---------------------------------------------------------------------------------------------
// 2. `saddle run --json`
// ---------------------------------------------------------------------------------------------

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("{k} is not a number in {v}"))
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} is not a non-negative integer in {v}"))
}

/// Structural checks every summary must pass.
fn check_summary(s: &Value, runs: u64, steps: u64, seed: u64) {
    for k in [
        "version",
        "name",
        "runs",
        "steps",
        "seed",
        "diverged",
        "absorbed",
        "escape_fraction",
        "escape_rate",
        "mean_loss_final",
        "mean_norm_final",
        "trace",
        "histograms",
        "histograms2d",
    ] {
        assert!(s.get(k).is_some(), "summary lacks {k:?}: {s}");
    }
    assert_eq!(u(s, "runs"), runs);
    assert_eq!(u(s, "steps"), steps);
    assert_eq!(u(s, "seed"), seed);
    let diverged = u(s, "diverged");
    let absorbed = u(s, "absorbed");
    assert!(diverged + absorbed <= runs, "{s}");
    if !s["escape_fraction"].is_null() {
        let e = f(s, "escape_fraction");
        assert!((0.0..=1.0).contains(&e), "escape_fraction {e}");
        assert!(
            e * runs as f64 >= diverged as f64 - 1e-9,
            "diverged runs count as escaped"
        );
    }
    for p in s["escape_rate"]
        .as_array()
        .expect("escape_rate is an array")
    {
        for k in ["t", "value", "stderr", "n", "excluded"] {
            assert!(p.get(k).is_some(), "escape_rate point lacks {k:?}: {p}");
        }
        assert!(u(p, "t") >= 1 && u(p, "t") <= steps);
        assert_eq!(u(p, "n") + u(p, "excluded"), runs, "{p}");
        if !p["stderr"].is_null() {
            assert!(f(p, "stderr") >= 0.0);
        }
    }
    for k in ["histograms", "histograms2d"] {
        for h in s[k].as_array().expect("histograms are arrays") {
            let counts: Vec<u64> = h["counts"]
                .as_array()
                .expect("counts")
                .iter()
                .map(|c| c.as_u64().expect("count"))
                .collect();
            let bins: usize = h["bins"]
                .as_array()
                .expect("bins")
                .iter()
                .map(|b| b.as_u64().unwrap() as usize)
                .product();
            assert_eq!(counts.len(), bins, "{k}: {h}");
            let total: u64 = counts.iter().sum::<u64>()
                + u(h, "underflow")
                + u(h, "overflow")
                + u(h, "excluded");
            assert_eq!(
                total, runs,
                "{k} at step {}: counts + underflow + overflow + excluded != runs",
                h["step"]
            );
            assert!(u(h, "excluded") <= diverged);
            if u(h, "step") == steps {
                assert_eq!(u(h, "excluded"), diverged);
            }
        }
    }
    for p in s["trace"].as_array().expect("trace is an array") {
        assert!(u(p, "n") + u(p, "diverged") == runs, "{p}");
    }
}

fn saddle_version(dir: &Path) -> String {
    let out = saddle(dir, &["--version"]);
    out.ok()
        .split_whitespace()
        .last()
        .expect("saddle --version prints a version")
        .to_string()
}

#[test]
fn run_json_fig1_left() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "fig1.toml", FIG1);
    let out = saddle(d, &["run", "fig1.toml", "--json"]);
    let s = json(out.ok());
    check_summary(&s, 2000, 1000, 1);
    assert_eq!(s["version"].as_str(), Some(saddle_version(d).as_str()));
    assert_eq!(s["name"].as_str(), Some("fig1-left"));
    assert_eq!(u(&s, "diverged"), 0);

    // Attracted to the maximum: nothing escapes.
    assert_eq!(f(&s, "escape_fraction"), 0.0, "{}", s["escape"]);
    assert_eq!(f(&s["escape"], "delta"), 0.05);

    // γ̂(50) against the Lyapunov exponent μ = ½ ln|(1−λ)(1−λ(a−1))|.
    let (lr, a) = (0.8_f64, -1.0_f64);
    let mu = 0.5 * ((1.0 - lr) * (1.0 - lr * (a - 1.0))).abs().ln();
    let rates = s["escape_rate"].as_array().unwrap();
    assert_eq!(
        rates.iter().map(|p| u(p, "t")).collect::<Vec<_>>(),
        vec![50, 100]
    );
    let g = &rates[0];
    let (value, se) = (f(g, "value"), f(g, "stderr"));
    assert!(se > 0.0 && se < 0.05, "stderr {se}");
    assert!(
        (value - mu).abs() <= 4.0 * se,
        "gamma(50) = {value} ± {se}, expected mu = {mu}"
    );

    let h = s["histograms"].as_array().unwrap();
    assert_eq!(h.len(), 2, "one histogram at steps 0 and 1000");
    assert_eq!(
        h.iter().map(|h| u(h, "step")).collect::<Vec<_>>(),
        vec![0, 1000]
    );
    // Uniform init in [-1, 1): everything inside the range at step 0.
    assert_eq!(u(&h[0], "underflow") + u(&h[0], "overflow"), 0);
    // 30 log-spaced trace steps from 1 to 1000, rounded and deduplicated.
    let ts: Vec<u64> = s["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| u(p, "t"))
        .collect();
    assert!(ts.len() <= 30 && ts.len() >= 20, "trace steps {ts:?}");
    assert_eq!(
        (ts[0], *ts.last().unwrap()),
        (1, 1000),
        "trace steps {ts:?}"
    );
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "trace steps {ts:?}");
}

#[test]
fn run_json_with_divergence_is_consistent() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "tn.toml", TINY_NET);
    let s = json(saddle(d, &["run", "tn.toml", "--json"]).ok());
    check_summary(&s, 400, 200, 5);
    let diverged = u(&s, "diverged");
    assert!(
        diverged > 0 && diverged < 400,
        "this setting should diverge partly (got {diverged})"
    );
    assert_eq!(s["histograms"].as_array().unwrap().len(), 3);
    assert_eq!(s["histograms2d"].as_array().unwrap().len(), 1);
    let h2 = &s["histograms2d"][0];
    assert_eq!(h2["params"], serde_json::json!([0, 1]));
    assert_eq!(h2["bins"], serde_json::json!([5, 4]));
}

#[test]
fn run_without_escape_has_null_escape_fraction() {
    let dir = tempdir();
    write(dir.path(), "exp.toml", BASE);
    let s = json(saddle(dir.path(), &["run", "exp.toml", "--json"]).ok());
    check_summary(&s, 20, 10, 1);
    assert!(s["escape_fraction"].is_null(), "{s}");
    assert_eq!(s["escape_rate"], serde_json::json!([]));
}

// ---------------------------------------------------------------------------------------------
// 3. `saddle run --out DIR`
// ---------------------------------------------------------------------------------------------

fn csv_rows(p: &Path) -> Vec<Vec<String>> {
    read_str(p)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn run_out_writes_resolved_config_summary_and_tables() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "tn.toml", TINY_NET);
    let out = saddle(d, &["run", "tn.toml", "--json", "--out", "results/tn"]);
    let stdout = out.ok().to_string();
    let s = json(&stdout);
    let o = d.join("results/tn");
    for name in [
        "config.toml",
        "summary.json",
        "histograms.csv",
        "histograms2d.csv",
        "trace.csv",
        "escape_rate.csv",
        "final_states.csv",
    ] {
        assert!(o.join(name).is_file(), "{name} missing in --out");
    }
    assert_no_hidden_files(&o);

    // summary.json is the --json document.
    assert_eq!(json(&read_str(&o.join("summary.json"))), s);

    // config.toml is the resolved experiment: running it reproduces the summary exactly.
    let again = saddle(d, &["run", "results/tn/config.toml", "--json"]);
    assert_eq!(again.ok(), stdout, "config.toml does not reproduce the run");
    let config: toml::Table = read_str(&o.join("config.toml"))
        .parse()
        .expect("config.toml is TOML");
    assert_eq!(config["seed"].as_integer(), Some(5));
    assert_eq!(config["divergence"]["bound"].as_float(), Some(1e6));

    // histograms.csv: bins × histogram steps rows, counts as in the summary.
    let rows = csv_rows(&o.join("histograms.csv"));
    assert_eq!(rows.len(), 16 * 3);
    let csv_counts: Vec<u64> = rows
        .iter()
        .map(|r| r.last().unwrap().parse().unwrap())
        .collect();
    let json_counts: Vec<u64> = s["histograms"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["counts"].as_array().unwrap().clone())
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(csv_counts, json_counts);
    let steps: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert!(steps[..16].iter().all(|t| *t == "0"));
    assert!(steps[32..].iter().all(|t| *t == "200"));

    let rows2 = csv_rows(&o.join("histograms2d.csv"));
    assert_eq!(rows2.len(), 5 * 4);

    let trace = csv_rows(&o.join("trace.csv"));
    assert_eq!(trace.len(), s["trace"].as_array().unwrap().len());
    assert_eq!(csv_rows(&o.join("escape_rate.csv")).len(), 2);

    let finals = csv_rows(&o.join("final_states.csv"));
    assert_eq!(finals.len(), 400);
    let diverged = finals.iter().filter(|r| r[1] == "diverged").count() as u64;
    assert_eq!(diverged, u(&s, "diverged"));
}

#[test]
fn run_out_without_json_still_writes_files() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "fig1.toml", FIG1);
    let out = saddle(d, &["run", "fig1.toml", "--out", "o"]);
    let text = out.ok();
    assert!(text.contains("fig1-left"), "human summary:\n{text}");
    assert!(text.contains("escape fraction"), "human summary:\n{text}");
    let o = d.join("o");
    assert_eq!(csv_rows(&o.join("histograms.csv")).len(), 40 * 2);
    assert!(o.join("config.toml").is_file());
    assert!(o.join("summary.json").is_file());
    assert!(!o.join("final_states.csv").exists());
    assert_no_hidden_files(&o);
}

// ---------------------------------------------------------------------------------------------
// 4. `saddle describe`
// ---------------------------------------------------------------------------------------------

#[test]
fn describe_fills_defaults_and_is_a_fixpoint() {
    let dir = tempdir();
    let d = dir.path();
    for (name, text) in [
        ("base.toml", BASE.to_string()),
        ("fig1.toml", FIG1.to_string()),
        ("tn.toml", TINY_NET.to_string()),
        ("sweep.toml", LIGHT_SWEEP.to_string()),
        (
            "desc.toml",
            BASE.replace(
                "name = \"base\"",
                "name = \"d\"\ndescription = \"quotes \\\" and λ\"",
            ),
        ),
    ] {
        write(d, name, &text);
        let first = saddle(d, &["describe", name]).ok().to_string();
        let table: toml::Table = first
            .parse()
            .unwrap_or_else(|e| panic!("describe {name} is not TOML ({e}):\n{first}"));
        write(d, "described.toml", &first);
        let second = saddle(d, &["describe", "described.toml"]).ok().to_string();
        assert_eq!(first, second, "describe of {name} is not a fixpoint");
        for k in [
            "seed",
            "runs",
            "steps",
            "model",
            "noise",
            "init",
            "optimizer",
        ] {
            assert!(table.contains_key(k), "describe {name} lacks {k}:\n{first}");
        }
        assert!(
            table["divergence"].get("bound").is_some(),
            "describe {name} lacks divergence.bound"
        );
        // The resolved file runs like the original (sweep files: the base experiment).
        if name != "sweep.toml" {
            let a = saddle(d, &["run", name, "--json"]).ok().to_string();
            let b = saddle(d, &["run", "described.toml", "--json"])
                .ok()
                .to_string();
            assert_eq!(a, b, "describe of {name} runs differently");
        }
    }

    // Defaults of the minimal file.
    let t: toml::Table = saddle(d, &["describe", "base.toml"]).ok().parse().unwrap();
    assert_eq!(t["seed"].as_integer(), Some(1));
    let bound = t["divergence"]["bound"].as_float();
    assert!(
        bound.is_some_and(|b| b > 0.0),
        "default divergence.bound {bound:?}"
    );
    assert_eq!(t["init"]["kind"].as_str(), Some("uniform"));
    assert_eq!(t["init"]["lo"], toml::Value::Array(vec![(-1.0).into()]));
    assert_eq!(t["init"]["hi"], toml::Value::Array(vec![1.0.into()]));
    assert_eq!(t["noise"]["batch"].as_integer(), Some(1));
    assert_eq!(t["noise"]["field"].as_str(), Some("x"));
    assert_eq!(t["noise"]["injected_sigma"].as_float(), Some(0.0));
    let no_seed = BASE.replace("seed = 1\n", "");
    write(d, "noseed.toml", &no_seed);
    let t: toml::Table = saddle(d, &["describe", "noseed.toml"])
        .ok()
        .parse()
        .unwrap();
    assert_eq!(t["seed"].as_integer(), Some(0), "default seed");

    // --set applies to describe.
    let t: toml::Table = saddle(d, &["describe", "base.toml", "--set", "optimizer.lr=0.25"])
        .ok()
        .parse()
        .unwrap();
    assert_eq!(t["optimizer"]["lr"].as_float(), Some(0.25));
}

// ---------------------------------------------------------------------------------------------
// 5. Determinism across thread counts
// ---------------------------------------------------------------------------------------------

#[test]
fn run_is_independent_of_threads() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "tn.toml", TINY_NET);
    let a = saddle(d, &["run", "tn.toml", "--json", "--threads", "1"]);
    let b = saddle(d, &["run", "tn.toml", "--json", "--threads", "2"]);
    assert_eq!(a.ok(), b.ok(), "run --json differs between 1 and 2 threads");
    let c = saddle(d, &["run", "tn.toml", "--threads", "1"]);
    let e = saddle(d, &["run", "tn.toml", "--threads", "2"]);
    assert_eq!(
        c.ok(),
        e.ok(),
        "human output differs between 1 and 2 threads"
    );
}

#[test]
fn sweep_is_independent_of_threads() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", LIGHT_SWEEP);
    saddle(d, &["sweep", "exp.toml", "--out", "t1", "--threads", "1"]).ok();
    saddle(d, &["sweep", "exp.toml", "--out", "t2", "--threads", "2"]).ok();
    assert_same_files(&d.join("t1"), &d.join("t2"), &SWEEP_TABLES);
    assert_no_hidden_files(&d.join("t1"));
    assert_no_hidden_files(&d.join("t2"));

    // Shape of the tables: a header and one row per cell, in cell order.
    let csv = read_str(&d.join("t1/sweep.csv"));
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header
            .starts_with("cell,optimizer.lr,noise.a,runs,steps,diverged,absorbed,escape_fraction"),
        "header: {header}"
    );
    assert!(header.ends_with("gamma_t10,gamma_t10_stderr,gamma_t200,gamma_t200_stderr"));
    let cells: Vec<usize> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(cells, (0..12).collect::<Vec<_>>());
    let jsonl = read_str(&d.join("t1/sweep.jsonl"));
    let docs: Vec<Value> = jsonl.lines().map(json).collect();
    assert_eq!(docs.len(), 12);
    for (k, v) in docs.iter().enumerate() {
        assert_eq!(u(v, "cell"), k as u64);
        assert_eq!(u(&v["summary"], "cell"), k as u64);
        check_summary(&v["summary"], 200, 200, 3);
    }
    assert_eq!(docs[5]["summary"]["name"].as_str(), Some("light"));
}

// ---------------------------------------------------------------------------------------------
// 6. Resume after kill -9 and after a torn journal line
// ---------------------------------------------------------------------------------------------

#[test]
fn resume_after_kill_matches_an_uninterrupted_sweep() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", HEAVY_SWEEP);

    // The interrupted sweep: start, wait for the first complete journal line, kill -9.
    let journal = d.join("killed/journal.jsonl");
    let mut child = Command::new(BIN)
        .args(["sweep", "exp.toml", "--out", "killed", "--threads", "2"])
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start saddle sweep");
    let t0 = Instant::now();
    let finished_early = loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            assert!(status.success(), "the sweep failed on its own: {status}");
            break true;
        }
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if text.contains('\n') {
            break false;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no journal line after 120 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    if !finished_early {
        let _ = child.kill(); // SIGKILL on Unix; the child may have just exited
    }
    let _ = child.wait();
    let text = std::fs::read_to_string(&journal).unwrap_or_default();
    let kept = complete_journal_lines(&text);
    eprintln!(
        "kill test: {kept} of 40 cells in the journal at the kill{}",
        if finished_early || kept == 40 {
            " (the sweep finished first; resume is a no-op)"
        } else {
            ""
        }
    );

    // The reference: an uninterrupted sweep.
    saddle(d, &["sweep", "exp.toml", "--out", "full"]).ok();

    let out = saddle(d, &["sweep", "exp.toml", "--out", "killed", "--resume"]);
    let stdout = out.ok();
    assert!(
        stdout.is_empty(),
        "sweep prints its report on stderr, not stdout"
    );
    assert!(
        out.stderr
            .contains(&format!("({} run now, {kept} already done)", 40 - kept)),
        "resume did not keep the {kept} finished cells:\n{}",
        out.describe()
    );
    assert_same_files(&d.join("full"), &d.join("killed"), &SWEEP_TABLES);
    let j = read_str(&journal);
    assert_eq!(complete_journal_lines(&j), 40);
    assert_eq!(j.lines().count(), 40, "journal has a torn or extra line");
    assert_no_hidden_files(&d.join("killed"));
}

#[test]
fn resume_drops_a_torn_journal_line() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", LIGHT_SWEEP);
    saddle(d, &["sweep", "exp.toml", "--out", "full"]).ok();
    let full_journal = read_str(&d.join("full/journal.jsonl"));
    let lines: Vec<&str> = full_journal.lines().collect();
    assert_eq!(lines.len(), 12);

    // (a) A finished sweep whose tables were deleted, with half a line appended.
    saddle(d, &["sweep", "exp.toml", "--out", "a"]).ok();
    let ja = d.join("a/journal.jsonl");
    let original = read(&ja);
    for t in SWEEP_TABLES {
        std::fs::remove_file(d.join("a").join(t)).unwrap();
    }
    let torn = &lines[3][..lines[3].len() / 2];
    let mut text = original.clone();
    text.extend_from_slice(torn.as_bytes());
    std::fs::write(&ja, &text).unwrap();
    let out = saddle(d, &["sweep", "exp.toml", "--out", "a", "--resume"]);
    out.ok();
    assert!(
        out.stderr.contains("(0 run now, 12 already done)"),
        "{}",
        out.describe()
    );
    assert_same_files(&d.join("full"), &d.join("a"), &SWEEP_TABLES);
    assert_eq!(read(&ja), original, "the torn line was not dropped");

    // (b) An interrupted sweep: 5 complete lines and half of the sixth.
    let b = d.join("b");
    std::fs::create_dir(&b).unwrap();
    for f in ["sweep.toml", "shard.txt"] {
        std::fs::copy(d.join("full").join(f), b.join(f)).unwrap();
    }
    let mut partial: String = lines[..5].iter().map(|l| format!("{l}\n")).collect();
    partial.push_str(&lines[5][..lines[5].len() / 2]);
    std::fs::write(b.join("journal.jsonl"), partial).unwrap();
    let out = saddle(d, &["sweep", "exp.toml", "--out", "b", "--resume"]);
    out.ok();
    assert!(
        out.stderr.contains("(7 run now, 5 already done)"),
        "{}",
        out.describe()
    );
    assert_same_files(&d.join("full"), &b, &SWEEP_TABLES);
    let j = read_str(&b.join("journal.jsonl"));
    assert_eq!(complete_journal_lines(&j), 12);
    assert_eq!(j.lines().count(), 12);
    assert!(j.starts_with(&lines[..5].join("\n")));
    assert_no_hidden_files(&b);
}

// ---------------------------------------------------------------------------------------------
// 7. Shards and merge
// ---------------------------------------------------------------------------------------------

#[test]
fn merged_shards_equal_an_unsharded_sweep() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", LIGHT_SWEEP);
    saddle(d, &["sweep", "exp.toml", "--out", "full"]).ok();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = format!("d{k}");
        saddle(d, &["sweep", "exp.toml", "--out", &out, "--shard", &shard]).ok();
        // Shard k holds the cells with index mod 3 = k - 1.
        let csv = read_str(&d.join(&out).join("sweep.csv"));
        let cells: Vec<usize> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        let want: Vec<usize> = (0..12).filter(|c| c % 3 == k - 1).collect();
        assert_eq!(cells, want, "cells of shard {shard}");
    }
    let out = saddle(d, &["merge", "--out", "M", "d1", "d2", "d3"]);
    assert!(out.ok().is_empty());
    assert_same_files(&d.join("full"), &d.join("M"), &SWEEP_TABLES);
    assert_no_hidden_files(&d.join("M"));

    // The order of the directories does not matter.
    saddle(d, &["merge", "--out", "M2", "d3", "d1", "d2"]).ok();
    assert_same_files(&d.join("full"), &d.join("M2"), &SWEEP_TABLES);

    // A merged directory resumes as a complete sweep.
    let out = saddle(d, &["sweep", "exp.toml", "--out", "M", "--resume"]);
    out.ok();
    assert!(
        out.stderr.contains("(0 run now, 12 already done)"),
        "{}",
        out.describe()
    );
    assert_same_files(&d.join("full"), &d.join("M"), &SWEEP_TABLES);
}

#[test]
fn merging_shards_of_different_experiments_fails() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", LIGHT_SWEEP);
    saddle(d, &["sweep", "exp.toml", "--out", "d1", "--shard", "1/2"]).ok();
    saddle(
        d,
        &[
            "sweep", "exp.toml", "--out", "d2", "--shard", "2/2", "--set", "seed=4",
        ],
    )
    .ok();
    saddle(d, &["merge", "--out", "M", "d1", "d2"]).assert_bad_input(&[
        "d2",
        "different experiment",
        "d1",
    ]);
}

// ---------------------------------------------------------------------------------------------
// 8. Bench (the quick nn-sweep workload takes a few seconds)
// ---------------------------------------------------------------------------------------------

#[test]
fn bench_nn_sweep_json() {
    let dir = tempdir();
    let out = saddle(
        dir.path(),
        &["bench", "--size", "quick", "--work", "nn-sweep", "--json"],
    );
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.describe());
    let v = json(lines[0]);
    assert_eq!(v["impl"].as_str(), Some("saddle"));
    assert_eq!(v["work"].as_str(), Some("nn-sweep"));
    assert_eq!(v["size"].as_str(), Some("quick"));
    assert_eq!(u(&v, "steps"), 40 * 500 * 5000);
    assert!(f(&v, "seconds") > 0.0);
    assert!(f(&v, "steps_per_s") > 0.0);
    assert!(u(&v, "threads") >= 1);
    let check = f(&v, "check");
    assert!((0.0..=1.0).contains(&check), "diverged fraction {check}");
    saddle(dir.path(), &["bench", "--work", "nope"]).assert_bad_input(&["nope", "nn-sweep"]);

    // --out: the per-cell answers, in the layout of the peers' --out files, agreeing with the
    // one-number check (the mean diverged fraction over the 40 learning rates).
    saddle(
        dir.path(),
        &[
            "bench", "--size", "quick", "--work", "nn-sweep", "--out", "answers",
        ],
    )
    .ok();
    let a = json(&std::fs::read_to_string(dir.path().join("answers/nn-sweep.json")).unwrap());
    assert_eq!(a["work"], "nn-sweep");
    assert_eq!(u(&a, "runs"), 500);
    let div: Vec<f64> = a["diverged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(div.len(), 40);
    assert!((div.iter().sum::<f64>() / 40.0 - check).abs() < 1e-12);
    for k in ["mean_loss", "mean_loss_stderr"] {
        assert_eq!(a[k].as_array().unwrap().len(), 40, "{k}");
    }
    // Small learning rates reach the valley of minima (L* = 2.25), large ones the saddle.
    let loss = |i: usize| a["mean_loss"][i].as_f64().unwrap();
    assert!(loss(0) < 2.3 && loss(30) > 2.45, "{} {}", loss(0), loss(30));
}

// ---------------------------------------------------------------------------------------------
// 9. No progress bar when stderr is not a terminal
// ---------------------------------------------------------------------------------------------

#[test]
fn no_progress_output_when_stderr_is_not_a_terminal() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "fig1.toml", FIG1);
    for args in [
        &["run", "fig1.toml"][..],
        &["run", "fig1.toml", "--json"][..],
        &["run", "fig1.toml", "--quiet"][..],
    ] {
        let out = saddle(d, args);
        out.ok();
        assert!(
            out.stderr.is_empty(),
            "stderr of a successful run is not empty:\n{}",
            out.describe()
        );
    }
    write(d, "sweep.toml", LIGHT_SWEEP);
    let out = saddle(d, &["sweep", "sweep.toml", "--out", "s"]);
    out.ok();
    for bad in ['\r', '\u{1b}', '█'] {
        assert!(!out.stderr.contains(bad), "{}", out.describe());
    }
    assert!(!out.stderr.contains("=>"), "{}", out.describe());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.describe());
    assert!(
        lines[0].starts_with("sweep light: 12 cells (12 run now, 0 already done)"),
        "{}",
        out.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Misc
// ---------------------------------------------------------------------------------------------

#[test]
fn overrides_change_the_run() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "fig1.toml", FIG1);
    let s = json(
        saddle(
            d,
            &[
                "run",
                "fig1.toml",
                "--json",
                "--set",
                "runs=300",
                "--set",
                "steps=100",
                "--set",
                "observe.histogram=[]",
                "--set",
                "name=\"renamed\"",
            ],
        )
        .ok(),
    );
    check_summary(&s, 300, 100, 1);
    assert_eq!(s["name"].as_str(), Some("renamed"));
    assert_eq!(s["histograms"], serde_json::json!([]));
}

// ---------------------------------------------------------------------------------------------
// Input and output conditions: closed pipes, full disks, non-regular files, huge values
// ---------------------------------------------------------------------------------------------

/// A reader that closes the pipe before reading anything (`saddle … | head -c 0`) ends the
/// program quietly: exit 0, nothing on stderr, for every command that prints.
#[test]
fn a_closed_stdout_pipe_ends_quietly_with_exit_0() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "fig1.toml", &FIG1.replace("runs = 2000", "runs = 50"));
    for args in [
        &["run", "fig1.toml", "--json"][..],
        &["run", "fig1.toml"],
        &["describe", "fig1.toml"],
        &["theory", "phase-boundary", "--help"],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start saddle");
        drop(child.stdout.take()); // the read end closes before saddle writes
        let st = wait_or_kill(&mut child, 60, &args.join(" "));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(
            st.code(),
            Some(0),
            "saddle {}: {st:?}\n{err}",
            args.join(" ")
        );
        assert!(
            err.is_empty(),
            "saddle {}: stderr not empty:\n{err}",
            args.join(" ")
        );
    }
}

/// Any other write error (a full disk) is reported, exit 1, never a panic.
#[test]
fn a_full_stdout_is_an_error_with_exit_1() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("skipped: no /dev/full on this system");
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", BASE);
    for args in [
        &["describe", "exp.toml"][..],
        &["run", "exp.toml", "--json"],
    ] {
        let o = Command::new(BIN)
            .args(args)
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(std::fs::OpenOptions::new().write(true).open(full).unwrap())
            .output()
            .expect("run saddle");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(1),
            "saddle {}:\n{err}",
            args.join(" ")
        );
        assert!(
            err.contains("cannot write to standard output") && !err.contains("panicked"),
            "saddle {}:\n{err}",
            args.join(" ")
        );
    }
}

/// A FIFO (which blocks on open), a device that never ends and a directory are refused at
/// once, before opening, with exit 2; so is a file over the 1 MiB limit.
#[test]
fn non_regular_and_oversized_experiment_files_are_refused_fast() {
    let dir = tempdir();
    let d = dir.path();
    let mut cases: Vec<(String, &str)> = vec![
        ("/dev/zero".into(), "not a regular file"),
        ("/dev/urandom".into(), "not a regular file"),
        (d.display().to_string(), "a directory"),
    ];
    let fifo = d.join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        cases.push((fifo.display().to_string(), "not a regular file"));
    } else {
        eprintln!("mkfifo unavailable: the FIFO case is skipped");
    }
    let big = d.join("big.toml");
    std::fs::write(&big, format!("{BASE}\n#{}\n", "x".repeat(1 << 20))).unwrap();
    cases.push((big.display().to_string(), "at most 1 MiB"));
    for (file, expect) in &cases {
        for cmd in ["run", "describe"] {
            if !Path::new(file).exists() {
                continue;
            }
            let start = Instant::now();
            let mut child = Command::new(BIN)
                .args([cmd, file.as_str()])
                .current_dir(d)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let st = wait_or_kill(&mut child, 10, &format!("saddle {cmd} {file}"));
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            assert_eq!(st.code(), Some(2), "saddle {cmd} {file}: {err}");
            assert!(
                err.contains(expect) && !err.contains("panicked"),
                "{file}: {err}"
            );
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{file} took {:?}",
                start.elapsed()
            );
        }
    }
}

/// Integers beyond i64 (TOML's integers) are "too large", never wrapped to -1; long values
/// are echoed shortened; floats compactly (1e308, not 309 digits).
#[test]
fn huge_values_are_reported_as_too_large_and_echoed_shortened() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", BASE);
    let o = saddle(
        d,
        &["run", "exp.toml", "--set", "seed=18446744073709551615"],
    );
    o.assert_bad_input(&["--set seed=18446744073709551615", "too large"]);
    assert!(!o.stderr.contains("-1"), "wrapped:\n{}", o.describe());
    let o = saddle(
        d,
        &["run", "exp.toml", "--set", "runs=99999999999999999999999"],
    );
    o.assert_bad_input(&["runs", "too large"]);
    let o = saddle(d, &["run", "exp.toml", "--set", "seed=1e300"]);
    o.assert_bad_input(&["seed", "1e300", "too large"]);

    let long = format!("optimizer.lr={}", "9".repeat(100_000));
    let o = saddle(d, &["run", "exp.toml", "--set", &long]);
    o.assert_bad_input(&["optimizer.lr", "…(100013 bytes)"]);
    assert!(
        o.stderr.len() < 1000,
        "not shortened: {} bytes",
        o.stderr.len()
    );
    let key = format!("optimizer.{}=1", "k".repeat(100_000));
    let o = saddle(d, &["run", "exp.toml", "--set", &key]);
    o.assert_bad_input(&["unknown key"]);
    assert!(
        o.stderr.len() < 1000,
        "not shortened: {} bytes",
        o.stderr.len()
    );

    let o = saddle(d, &["run", "exp.toml", "--set", "optimizer.lr=-1e308"]);
    o.assert_bad_input(&["optimizer.lr", "got -1e308"]);
    let o = saddle(
        d,
        &["run", "exp.toml", "--set", "noise.injected_sigma=-1.5e-9"],
    );
    o.assert_bad_input(&["noise.injected_sigma", "got -1.5e-9"]);
    // A theory flag that becomes a TOML integer.
    let o = saddle(
        d,
        &[
            "theory",
            "escape-probability",
            "exp.toml",
            "--delta",
            "0.1",
            "--steps",
            "18446744073709551615",
        ],
    );
    if o.code == Some(2) && o.stderr.contains("--steps") {
        o.assert_bad_input(&["--steps", "too large"]);
    }
    assert!(!o.stderr.contains("got -1"), "wrapped:\n{}", o.describe());
}

/// `--set` errors name the override with its value and suggest the closest key; so do unknown
/// keys inside the file.
#[test]
fn set_errors_name_the_override_and_suggest_the_closest_key() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", BASE);
    saddle(d, &["run", "exp.toml", "--set", "optimizer.lrr=0.1"]).assert_bad_input(&[
        "--set optimizer.lrr=0.1",
        "unknown key",
        "did you mean `optimizer.lr`?",
    ]);
    saddle(d, &["run", "exp.toml", "--set", "optimizer.lr=abc"])
        .assert_bad_input(&["--set optimizer.lr=abc", "expected a number"]);
    saddle(d, &["run", "exp.toml", "--set", "nosie.a=1"])
        .assert_bad_input(&["--set nosie.a=1", "did you mean `noise`?"]);
    // The file's own mistakes blame the file.
    write(
        d,
        "typo.toml",
        &BASE.replace("lr = 0.5", "lr = 0.5\nbetta = 0.9"),
    );
    let o = saddle(d, &["run", "typo.toml"]);
    o.assert_bad_input(&["typo.toml", "optimizer.betta", "unknown key"]);
    write(d, "typo2.toml", &BASE.replace("seed = 1", "sed = 1"));
    saddle(d, &["run", "typo2.toml", "--set", "optimizer.lr=0.2"])
        .assert_bad_input(&["typo2.toml: sed", "did you mean `seed`?"]);
}

/// `run` on a file with a [sweep] runs the base point and says so on stderr.
#[test]
fn run_on_a_sweep_file_says_it_runs_the_base_point() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", &format!("{BASE}{SWEEP_AXIS}"));
    let o = saddle(d, &["run", "exp.toml", "--json"]);
    let summary = json(o.ok());
    assert_eq!(summary["runs"], 20);
    assert!(
        o.stderr.contains("exp.toml has a [sweep] grid of 3 cells")
            && o.stderr.contains("runs its base point only")
            && o.stderr.contains("saddle sweep"),
        "{}",
        o.describe()
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.describe());
    let plain = saddle(d, &["run", "exp.toml"]);
    plain.ok();
    write(d, "nosweep.toml", BASE);
    assert!(saddle(d, &["run", "nosweep.toml"]).stderr.is_empty());
}

/// The text summary prints the requested trace (step, mean loss, mean |w|, n) matching the
/// JSON, and says when histogram bins are merged for display.
#[test]
fn text_output_prints_the_trace_and_says_when_bins_are_merged() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "fig1.toml", &FIG1.replace("runs = 2000", "runs = 100"));
    let text = saddle(d, &["run", "fig1.toml"]).ok().to_string();
    let js = json(saddle(d, &["run", "fig1.toml", "--json"]).ok());
    let trace = js["trace"].as_array().unwrap();
    assert!(!trace.is_empty());
    assert!(
        text.contains(&format!("trace ({} points):", trace.len())),
        "{text}"
    );
    // Every trace row: the step and n match the JSON, the means to the 6 decimals shown.
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| !l.starts_with("trace ("))
        .skip(2)
        .take(trace.len())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), trace.len(), "{text}");
    for (r, p) in rows.iter().zip(trace) {
        assert_eq!(r[0], p["t"].to_string(), "{text}");
        assert_eq!(r[3], p["n"].to_string(), "{text}");
        let norm: f64 = r[2].parse().unwrap();
        let want = p["mean_norm"].as_f64().unwrap();
        assert!(
            (norm - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{norm} vs {want}"
        );
    }
    assert!(
        text.contains("histogram of w1 at step 0 (40 bins shown as 20, 2 merged per row"),
        "{text}"
    );
    // The merged rows add up to the runs inside the range.
    let counts: u64 = text
        .lines()
        .skip_while(|l| !l.starts_with("histogram of w1 at step 0"))
        .skip(1)
        .take(20)
        .map(|l| {
            l.split(')')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(counts, 100, "{text}");
    // Unmerged: no note.
    write(
        d,
        "few.toml",
        &FIG1
            .replace("runs = 2000", "runs = 10")
            .replace("bins = 40", "bins = 20"),
    );
    let t = saddle(d, &["run", "few.toml"]).ok().to_string();
    assert!(t.contains("histogram of w1 at step 0:\n"), "{t}");
}

/// Values derived by arithmetic are displayed with sensible digits; describe writes a
/// linspace's count as an integer.
#[test]
fn displayed_numbers_are_rounded_and_linspace_counts_are_integers() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", &format!("{BASE}{SWEEP_AXIS}"));
    let t = saddle(d, &["describe", "exp.toml"]).ok().to_string();
    assert!(t.contains("linspace = [0.1, 0.9, 3]"), "{t}");
    // describe's output reads back to the same experiment.
    write(d, "again.toml", &t);
    assert_eq!(saddle(d, &["describe", "again.toml"]).ok(), t);
    let o = saddle(
        d,
        &[
            "run",
            "exp.toml",
            "--set",
            "optimizer.lr=0.30000000000000004",
        ],
    );
    assert!(o.ok().contains("(lr 0.3)"), "{}", o.describe());
}

/// --threads above 8 per core is refused at once (4096 threads on 2 cores took minutes).
#[test]
fn too_many_threads_are_refused_fast() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "exp.toml", BASE);
    let start = Instant::now();
    saddle(d, &["run", "exp.toml", "--threads", "100000"]).assert_bad_input(&[
        "--threads",
        "8 per core",
        "got 100000",
    ]);
    assert!(start.elapsed() < Duration::from_secs(5));
    let max = 8 * std::thread::available_parallelism().map_or(1, |n| n.get());
    saddle(d, &["run", "exp.toml", "--threads", &max.to_string()]).ok();
    // rayon's own variable is held to the same bound; --threads takes precedence over it.
    let start = Instant::now();
    let with_env = |args: &[&str]| saddle_env(d, args, &[("RAYON_NUM_THREADS", "100000")]);
    with_env(&["run", "exp.toml"]).assert_bad_input(&["RAYON_NUM_THREADS", "got 100000"]);
    assert!(start.elapsed() < Duration::from_secs(5));
    with_env(&["run", "exp.toml", "--threads", "2"]).ok();
}
