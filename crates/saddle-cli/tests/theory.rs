//! End-to-end tests of `saddle theory`: each command's JSON document, checked against the
//! paper's closed forms or an independent computation in the test, and bad arguments (exit 2).

use serde_json::Value;
use std::path::Path;

mod common;
use common::*;

/// Run a theory command with `--json` and parse its document.
fn theory_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["theory"];
    all.extend_from_slice(args);
    all.push("--json");
    json(saddle(dir, &all).ok())
}

fn num(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// μ(λ) of two-point noise is Eq. 83, ½ ln|(1 − λ)(1 − λ(a − 1))|; at λ = 1 a step sets w to 0
/// with probability ½ (Prop. 1): μ = −∞ (null) and s² does not exist.
#[test]
fn mu_is_eq_83_and_minus_infinity_at_prop_1() {
    let d = tempdir();
    let v = theory_json(d.path(), &["mu", "--a", "-1", "--lr", "0.8,1,0.3"]);
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    for (p, lr) in r.iter().zip([0.8f64, 1.0, 0.3]) {
        assert_eq!(num(&p["lr"]), lr);
    }
    let eq83 = |lr: f64| 0.5 * ((1.0 - lr) * (1.0 + 2.0 * lr)).abs().ln();
    close(num(&r[0]["mu"]), eq83(0.8), 1e-14, "mu(0.8)");
    close(num(&r[2]["mu"]), eq83(0.3), 1e-14, "mu(0.3)");
    // s² of a two-point law: ¼ (ln|1 − λ| − ln|1 + 2λ|)².
    let s2 = 0.25 * ((0.2f64).ln() - (2.6f64).ln()).powi(2);
    close(num(&r[0]["s2"]), s2, 1e-14, "s2(0.8)");
    // −∞ is spelled out, never null (null would read as "absent"); s² does not exist.
    assert_eq!(r[1]["mu"], "-inf");
    assert_eq!(r[1]["phase"], "absorbed");
    assert!(r[1]["s2"].is_null());
    assert_eq!(num(&r[1]["zero_probability"]), 0.5);
    // The same from an experiment file: its noise and learning rate.
    let f = theory_json(d.path(), &["mu", &repo("experiments/fig1-left.toml")]);
    assert_eq!(f["results"][0]["mu"], r[0]["mu"]);
    // The text table says the same.
    let t = saddle(d.path(), &["theory", "mu", "--a", "-1", "--lr", "1"]);
    assert!(t.ok().contains("-inf") && t.stdout.contains("Prop. 1"));
}

/// Eq. 7's trapped interval for a < 0, and the closed and numeric roots agree to 1e-10 over a
/// grid of a (the orange line of Fig. 3).
#[test]
fn phase_boundary_closed_and_numeric_agree() {
    let d = tempdir();
    let v = theory_json(
        d.path(),
        &["phase-boundary", "--a", "0", "--vary", "noise.a=-1,0.75,8"],
    );
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len(), 8);
    for p in pts {
        let a = num(&p["value"]);
        assert!(num(&p["max_root_difference"]) < 1e-10, "a = {a}: {p}");
        let roots: Vec<f64> = p["numeric"]["roots"]
            .as_array()
            .unwrap()
            .iter()
            .map(num)
            .collect();
        let upper = (a - (a * a - 8.0 * a + 8.0).sqrt()) / (2.0 * (a - 1.0));
        if a < 0.0 {
            // Eq. 7: trapped for a/(a−1) < λ < upper.
            assert_eq!(roots.len(), 2, "a = {a}");
            close(roots[0], a / (a - 1.0), 1e-10, "lower root");
            close(roots[1], upper, 1e-10, "upper root");
            let phases: Vec<&str> = p["numeric"]["intervals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["phase"].as_str().unwrap())
                .collect();
            assert_eq!(phases, ["escape", "trapped", "escape"]);
        } else if a > 0.0 {
            close(*roots.last().unwrap(), upper, 1e-10, "upper root");
        }
    }
}

/// Prop. 3: λ* = a/(2(a − 1)) and γ* = ln((2 − a)/(2√(1 − a))); numeric maximisation agrees;
/// Eq. 91's bound gives γ* = ε exactly.
#[test]
fn escape_rate_optimum_and_eq_91() {
    let d = tempdir();
    let a = -0.5f64;
    let v = theory_json(
        d.path(),
        &[
            "escape-rate",
            "--a",
            "-0.5",
            "--lr",
            "0.2",
            "--epsilon",
            "0.01",
        ],
    );
    let lr_star = a / (2.0 * (a - 1.0));
    let gamma_star = ((2.0 - a) / (2.0 * (1.0 - a).sqrt())).ln();
    close(
        num(&v["optimum_closed"]["lr_star"]),
        lr_star,
        1e-14,
        "closed lr*",
    );
    close(
        num(&v["optimum_closed"]["gamma_star"]),
        gamma_star,
        1e-14,
        "closed gamma*",
    );
    close(num(&v["optimum"]["lr_star"]), lr_star, 1e-7, "numeric lr*");
    close(
        num(&v["optimum"]["gamma_star"]),
        gamma_star,
        1e-12,
        "numeric gamma*",
    );
    close(
        num(&v["rates"][0]["mu"]),
        0.5 * (0.8f64 * 1.3).ln(),
        1e-14,
        "gamma(0.2)",
    );
    close(
        num(&v["slow_escape"]["gamma_star_at_bound"]),
        0.01,
        1e-12,
        "Eq. 91",
    );
    // For a ≥ 0 there is no interior optimum: said, not an error.
    let v = theory_json(d.path(), &["escape-rate", "--a", "0.5"]);
    assert!(v["optimum_closed"].is_null());
    assert!(v["optimum_closed_note"].as_str().unwrap().contains("a"));
    assert_eq!(v["optimum"]["interior"], false);
}

/// The exact escape probability equals a brute-force sum over all 2^t coin sequences, and the
/// simulated fraction agrees within 4 binomial standard errors.
#[test]
fn escape_probability_is_exact_and_matches_the_ensemble() {
    let d = tempdir();
    let (lr, t, delta, w0) = (0.8f64, 9u32, 0.3f64, 0.9f64);
    let v = theory_json(
        d.path(),
        &[
            "escape-probability",
            "--a",
            "-1",
            "--lr",
            "0.8",
            "--steps",
            "9",
            "--delta",
            "0.3",
            "--w0",
            "0.9",
            "--simulate",
        ],
    );
    let mut brute = 0.0;
    for seq in 0..(1u32 << t) {
        let mut w = w0;
        for k in 0..t {
            let x = if seq >> k & 1 == 1 { 1.0 } else { -2.0 };
            w *= 1.0 - lr * x;
        }
        if w.abs() >= delta {
            brute += 0.5f64.powi(t as i32);
        }
    }
    close(num(&v["exact"]), brute, 1e-13, "exact escape probability");
    let (sim, se) = (
        num(&v["simulated"]["value"]),
        num(&v["simulated"]["stderr"]),
    );
    assert!(
        (sim - brute).abs() <= 4.0 * se.max(1.0 / 2000.0),
        "simulated {sim} ± {se} vs {brute}"
    );
    assert!(v["lognormal"].as_f64().is_some());
}

/// Eqs 9–11 and Prop. 4's bounds; Prop. 5's interval; the Kesten exponent solves its equation.
#[test]
fn sharp_flat_amsgrad_and_tail_exponent() {
    let d = tempdir();
    let v = theory_json(d.path(), &["sharp-flat", "--a", "0.5", "--lr", "0.05"]);
    assert_eq!(v["minima"].as_array().unwrap().len(), 4);
    close(
        num(&v["lr_bound_paper"]),
        (1.0 + 6f64.sqrt()) / 20.0,
        1e-14,
        "Eq. 99",
    );
    close(
        num(&v["lr_bound"]),
        (2.0 - 2f64.sqrt()) / 8.0,
        1e-14,
        "from Eq. 97",
    );
    close(num(&v["contraction"]["b"]), 14.0, 1e-12, "b = 1/lr - 6");
    let traces: Vec<f64> = v["minima"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| num(&m["trace"]))
        .collect();
    // Def. 4: 8 − 2a (flat) and 8 + 10a (sharp).
    let has = |x: f64| traces.iter().any(|t| (t - x).abs() < 1e-9);
    assert!(has(7.0) && has(13.0), "{traces:?}");

    let v = theory_json(d.path(), &["amsgrad", "--a", "-0.1", "--lr", "0.2"]);
    close(num(&v["lr_prime_lo"]), -0.1 / -1.1, 1e-14, "Eq. 115 lower");
    let a = -0.1f64;
    let hi = (a - (a * a - 8.0 * a + 8.0).sqrt()) / (2.0 * (a - 1.0));
    close(num(&v["lr_prime_hi"]), hi, 1e-14, "Eq. 115 upper");
    let c = v["c_range"].as_array().unwrap();
    close(num(&c[0]), (0.2 / hi).powi(2), 1e-12, "c range");

    let v = theory_json(d.path(), &["tail-exponent", &repo("experiments/fig9.toml")]);
    let k = num(&v["kappa"]);
    close(
        0.5 * (0.2f64.powf(k) + 2.6f64.powf(k)),
        1.0,
        1e-12,
        "E|1 - lr x|^kappa",
    );
    assert!((k - 0.416).abs() < 1e-3);
}

const QUARTIC_SDE: &str = r#"
name = "quartic-sde"
runs = 2000
steps = 500
[model]
kind = "quartic"
[noise]
kind = "gaussian"
mean = -1.0
std = 1.0
injected_sigma = 0.3
[optimizer]
kind = "sde"
lr = 0.5
[[observe.histogram]]
lo = -3.0
hi = 3.0
bins = 30
steps = [50, 500]
"#;

/// The stationary density of Eq. 57 is Eq. 63 here, with Eq. 65's modes ±√0.5; the
/// Fokker–Planck transient conserves probability and stays non-negative, and the ensemble's
/// histograms are within sampling noise of P(w, t).
#[test]
fn stationary_and_fokker_planck_on_the_quartic() {
    let d = tempdir();
    let f = write(d.path(), "q.toml", QUARTIC_SDE);
    let f = f.to_str().unwrap();
    let v = theory_json(d.path(), &["stationary", f]);
    let cf = &v["closed_form"];
    assert!(num(&cf["max_log_difference"]) < 1e-8, "{cf}");
    close(num(&cf["most_probable_w"]), 0.5f64.sqrt(), 1e-12, "Eq. 65");
    close(num(&v["mode"]).abs(), 0.5f64.sqrt(), 1e-6, "numeric mode");
    close(num(&cf["critical_m"]), -0.5, 1e-15, "critical m");

    let v = theory_json(d.path(), &["fokker-planck", f, "--compare", "--quiet"]);
    assert!(num(&v["max_total_error"]) <= 1e-12);
    assert!(num(&v["min_density"]) >= 0.0);
    let cmp = v["comparisons"].as_array().unwrap();
    assert_eq!(cmp.len(), 2);
    for c in cmp {
        assert!(num(&c["l1_z"]) < 4.0, "{c}");
        assert!(num(&c["ks"]) < num(&c["ks_critical"]), "{c}");
    }
    assert_eq!(num(&cmp[1]["time"]), 5.0);
}

/// Example 2 / Fig. 10 out of the box: the designed C has the smallest c₀ that keeps it
/// non-negative, and Eq. 57 with it gives back the target.
#[test]
fn design_noise_of_fig_10() {
    let d = tempdir();
    let v = theory_json(d.path(), &["design-noise", &repo("experiments/fig10.toml")]);
    let n = &v["noise"];
    assert_eq!(n["c0"], n["c0_min"]);
    assert!(num(&n["min_noise"]) >= 0.0);
    assert!(num(&v["max_log_error"]) < 1e-3, "{}", v["max_log_error"]);
    assert_eq!(v["table"]["w"].as_array().unwrap().len(), 41);
    // On the paper's box [−4, 4] C spans 12 orders of magnitude.
    let v = theory_json(
        d.path(),
        &[
            "design-noise",
            &repo("experiments/fig10.toml"),
            "--set",
            "optimizer.clip=[-4.0, 4.0]",
        ],
    );
    assert!(num(&v["noise"]["max_noise"]) > 1e11);
}

#[test]
fn bad_theory_arguments_exit_2_and_say_what_is_allowed() {
    let d = tempdir();
    let fig1 = repo("experiments/fig1-left.toml");
    let fig10 = repo("experiments/fig10.toml");
    let not_positive = write(
        d.path(),
        "neg.toml",
        &std::fs::read_to_string(&fig10)
            .unwrap()
            .replace("exp(-((w1 - 1)^2))", "w1"),
    );
    let no_domain = write(
        d.path(),
        "q.toml",
        QUARTIC_SDE.split("[[observe").next().unwrap(),
    );
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["mu", "--a", "-1", "--lr", "0"], vec!["lr", "> 0"]),
        (
            vec![
                "phase-boundary",
                "--a",
                "-1",
                "--grid",
                "18446744073709551615",
            ],
            vec!["--grid", "18446744073709551615", "100000000"],
        ),
        (
            vec!["phase-boundary", "--a", "-1", "--grid", "1"],
            vec!["--grid", "2 <= grid"],
        ),
        (vec!["mu", "--a", "-1", "--lr", "-0.5"], vec!["lr", "> 0"]),
        (vec!["mu", "--lr", "0.5"], vec!["no noise law", "--a"]),
        (
            vec![
                "mu",
                "--a",
                "-1",
                "--noise",
                "{kind = \"two-point\", a = 0.5}",
                "--lr",
                "0.5",
            ],
            vec!["--a", "--noise", "cannot be used with"],
        ),
        (
            vec![
                "mu",
                "--noise",
                "{kind = \"gaussian\", std = -1.0}",
                "--lr",
                "0.5",
            ],
            vec!["noise.std", ">= 0"],
        ),
        (
            vec!["mu", "--noise", "gaussian"],
            vec!["--noise", "inline TOML table"],
        ),
        (
            vec!["phase-boundary", "--a", "-1", "--range", "1,1"],
            vec!["--range", "LO < HI"],
        ),
        (
            vec!["phase-boundary", "--a", "-1", "--vary", "noise.a=1,0"],
            vec!["--vary", "PATH=LO,HI,N"],
        ),
        (
            vec!["escape-rate", "--a", "-1", "--lr-max", "0"],
            vec!["lr_max", "> 0"],
        ),
        (
            vec![
                "escape-probability",
                "--a",
                "-1",
                "--lr",
                "0.8",
                "--steps",
                "10",
            ],
            vec!["--delta"],
        ),
        (
            vec!["escape-probability", &fig1, "--delta", "-1"],
            vec!["delta"],
        ),
        (vec!["tail-exponent", "--a", "-1", "--lr", "0.3"], vec!["μ"]),
        (vec!["amsgrad", "--a", "2"], vec!["a"]),
        (vec!["stationary", &fig1], vec!["C(w) = 0", "cannot cross"]),
        (
            vec!["stationary", no_domain.to_str().unwrap()],
            vec!["--range"],
        ),
        (
            vec!["stationary", &fig10, "--range", "-1,1", "--cells", "1"],
            vec!["cells"],
        ),
        (
            vec!["design-noise", not_positive.to_str().unwrap()],
            vec!["target", "positive"],
        ),
        (vec!["design-noise", &fig1], vec!["designed"]),
    ];
    let mut problems = vec![];
    for (args, expect) in &cases {
        let mut all = vec!["theory"];
        all.extend_from_slice(args);
        if let Some(p) = saddle(d.path(), &all).check_bad_input(expect) {
            problems.push(p);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Overflow never flips the answer: values ±10²⁰⁰ at λ = 10¹⁵⁰ multiply w by ~10³⁵⁰ per step,
/// so every simulated run diverges and μ = 350 ln 10 > 0 (escape), never "trapped, −∞"; one
/// ulp above λ = 1 two-point noise has its finite Eq. 83 value, not null. No null anywhere.
#[test]
fn mu_at_overflowing_inputs_escapes_and_has_no_null() {
    let d = tempdir();
    let noise = "{kind = \"discrete\", values = [1e200, -1e200], probs = [0.5, 0.5]}";
    let v = theory_json(d.path(), &["mu", "--noise", noise, "--lr", "1e150"]);
    let r = &v["results"][0];
    close(num(&r["mu"]), 350.0 * 10f64.ln(), 1e-12, "mu(1e150)");
    assert_eq!(r["phase"], "escape");
    for key in ["mu", "s2", "mu_error", "s2_error", "zero_probability"] {
        assert!(r[key].is_number(), "{key}: {r}");
    }
    assert!(num(&r["s2"]) < 1e-20, "{r}");
    let v = theory_json(d.path(), &["mu", "--a", "-1", "--lr", "1.0000000000000002"]);
    let r = &v["results"][0];
    let lr = 1.0000000000000002f64;
    let eq83 = 0.5 * ((1.0 - lr) * (1.0 + 2.0 * lr)).abs().ln();
    close(num(&r["mu"]), eq83, 1e-12, "mu one ulp above 1");
    close(num(&r["mu_eq83"]), eq83, 1e-12, "mu_eq83 one ulp above 1");
    assert_eq!(r["phase"], "trapped");
    assert!(!v.to_string().contains("null"), "{v}");
}

/// phase-boundary: a fine grid keeps both roots of a = −1; a = 10¹⁰ has Eqs 85–86's three
/// roots (mpmath: 2.0000000004e-10, 0.9999999999, 1.0000000001), numeric and closed agree.
#[test]
#[allow(clippy::excessive_precision)] // reference roots as mpmath printed them
fn phase_boundary_keeps_roots_at_fine_grids_and_large_a() {
    let d = tempdir();
    let v = theory_json(
        d.path(),
        &["phase-boundary", "--a", "-1", "--grid", "100000000"],
    );
    let roots: Vec<f64> = v["points"][0]["numeric"]["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(num)
        .collect();
    assert_eq!(roots.len(), 2, "{roots:?}");
    close(roots[0], 0.5, 1e-15, "root 0.5");
    close(roots[1], 1.2807764064044151375, 1e-15, "root 1.28");
    let v = theory_json(d.path(), &["phase-boundary", "--a", "1e10"]);
    let p = &v["points"][0];
    let want = [
        2.0000000004000000001e-10,
        0.99999999989999999997,
        1.0000000001,
    ];
    for key in ["numeric", "closed"] {
        let got: Vec<f64> = p[key]["roots"]
            .as_array()
            .unwrap()
            .iter()
            .map(num)
            .collect();
        assert_eq!(got.len(), 3, "{key}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-14 * w, "{key}: {got:?}");
        }
    }
}
