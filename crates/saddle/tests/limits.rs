//! Limits: no configuration may exhaust memory or take unbounded time in the engine. Oversized
//! observers are refused with an error naming the key (not a panic or an abort); exact mode
//! costs the same memory and time at T = 10¹² or 8·10¹⁵ as at T = 10³, with the exact law; a
//! run that does not keep final states needs memory independent of the number of runs.

use saddle::config::{ConfigError, Experiment};
use saddle::ensemble::{Ensemble, EnsembleError, GradientSource, Init, Settings};
use saddle::exact::{Counts, Factors, TABLE_STEPS};
use saddle::experiment::{run, run_summary, RunError, Summary};
use saddle::model::{Field, TinyNet};
use saddle::noise::{Law, NoiseLaw};
use saddle::observe::{
    Hist2dSpec, ObserveSpec, MAX_FINAL_STATES, MAX_HISTOGRAM_BINS, MAX_HISTOGRAM_STEPS,
};
use saddle::optimizer::Sgd;
use saddle::optimizer::WeightDecay;
use saddle::theory::escape_probability::{self, escape_probability};
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal};
use std::sync::Mutex;
use std::time::Instant;

/// The tests that measure peak memory run one at a time (the peak is the process's).
static SERIAL: Mutex<()> = Mutex::new(());

/// Peak resident memory of this process since the last [`reset_peak`], in MB (None where
/// /proc is not there).
fn peak_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Start a new peak-memory measurement (Linux: writing 5 to clear_refs resets VmHWM to the
/// current resident set). False where it cannot be reset: then the peak is the process's.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A small experiment on the quadratic with `[observe]` text `observe`.
fn quadratic(runs: u64, steps: u64, extra: &str) -> String {
    format!(
        "name = \"limits\"\nruns = {runs}\nsteps = {steps}\nseed = 3\n{extra}\n[model]\nkind = \
         \"quadratic\"\n[noise]\nkind = \"two-point\"\na = -1.0\n[optimizer]\nkind = \"sgd\"\nlr \
         = 0.8\n"
    )
}

/// The 2-parameter tiny net, for 2-D histograms, with `[observe]` text `observe`.
fn tiny_net(observe: &str) -> String {
    format!(
        "name = \"limits\"\nruns = 10\nsteps = 100\n[model]\nkind = \"tiny-net\"\n[noise]\nkind \
         = \"two-point\"\na = -1.0\nfield = \"y\"\n[optimizer]\nkind = \"sgd\"\nlr = 0.1\n\
         [observe]\n{observe}\n"
    )
}

/// The key path and message of a validation error.
fn invalid(text: &str) -> (String, String) {
    match Experiment::from_toml(text) {
        Err(ConfigError::Invalid { path, msg }) => (path, msg),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_huge_2d_histogram_is_refused_naming_the_key() {
    // The fuzzer's case: 10¹⁰ bins, OOM-killed at 23 GB before.
    let (path, msg) = invalid(&tiny_net(
        "[[observe.histogram2d]]\nlo = -1.0\nhi = 1.0\nbins = [100000, 100000]",
    ));
    assert_eq!(path, "observe.histogram2d[0].bins");
    assert!(msg.contains("10000000000"), "{msg}");
    assert!(msg.contains(&MAX_HISTOGRAM_BINS.to_string()), "{msg}");
    // Per axis within 1..100000, but the product is what is counted: 2000 × 2000 is the
    // limit at one step, and over it at two.
    let ok = "[[observe.histogram2d]]\nlo = -1.0\nhi = 1.0\nbins = [2000, 2000]\nsteps = [100]";
    Experiment::from_toml(&tiny_net(ok)).unwrap();
    let (path, msg) = invalid(&tiny_net(
        "[[observe.histogram2d]]\nlo = -1.0\nhi = 1.0\nbins = [2000, 2000]\nsteps = [0, 100]",
    ));
    assert_eq!(path, "observe.histogram2d[0].bins");
    assert!(msg.contains("8000000"), "{msg}");
}

#[test]
fn histograms_are_bounded_in_bins_times_steps_over_all_of_them() {
    // 1-D: 100000 bins is allowed per histogram, but not at 41 steps (4.1·10⁶ bins).
    let steps: Vec<u64> = (0..41).collect();
    let (path, msg) = invalid(&quadratic(
        10,
        100,
        &format!("[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nbins = 100000\nsteps = {steps:?}"),
    ));
    assert_eq!(path, "observe.histogram[0].bins");
    assert!(msg.contains("4100000"), "{msg}");
    // Summed over histograms: the second one goes over, and is named.
    let h = "[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nbins = 100000\nsteps = [0, 10, 20, 30, \
             40, 50, 60, 70, 80, 90, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15]\n";
    let (path, _) = invalid(&quadratic(10, 100, &format!("{h}{h}")));
    assert_eq!(path, "observe.histogram[1].bins");
    // (Histogram, step) pairs: 1 bin at 10001 steps.
    let steps: Vec<u64> = (0..=10_000).collect();
    let (path, msg) = invalid(&quadratic(
        10,
        10_000,
        &format!("[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nbins = 1\nsteps = {steps:?}"),
    ));
    assert_eq!(path, "observe.histogram[0].steps");
    assert!(msg.contains(&MAX_HISTOGRAM_STEPS.to_string()), "{msg}");
}

#[test]
fn step_lists_are_bounded() {
    let steps: Vec<u64> = (1..=10_001).collect();
    let (path, msg) = invalid(&quadratic(
        10,
        20_000,
        &format!("[observe]\nescape_rate_steps = {steps:?}"),
    ));
    assert_eq!(path, "observe.escape_rate_steps");
    assert!(msg.contains("10001") && msg.contains("10000"), "{msg}");
    let (path, msg) = invalid(&quadratic(10, 20_000, "[observe]\ntrace = 10001"));
    assert_eq!(path, "observe.trace");
    assert!(msg.contains("10001"), "{msg}");
}

/// The engine checks the sizes itself, for observers built without a file.
#[test]
fn the_engine_refuses_oversized_observers_built_in_code() {
    let noise = NoiseLaw {
        law: Law::TwoPoint { a: -1.0 },
        field: Field::Y,
        batch: 1,
    };
    let opt = Sgd { lr: 0.1 };
    let mut settings = Settings {
        runs: 10,
        steps: 10,
        seed: 0,
        cell: 0,
        init: Init::Point(vec![0.5, 0.5]),
        gradient: GradientSource::Sampled,
        sigma: 0.0,
        clip: None,
        boundary: Default::default(),
        bound: 1e50,
        decay: WeightDecay::NONE,
        observe: ObserveSpec {
            histograms2d: vec![Hist2dSpec {
                params: [0, 1],
                lo: [-1.0; 2],
                hi: [1.0; 2],
                bins: [100_000, 100_000],
                steps: vec![10],
            }],
            ..ObserveSpec::default()
        },
    };
    let Err(EnsembleError::TooLarge(e)) = Ensemble::new(&TinyNet, &noise, &opt, &settings) else {
        panic!("accepted 10¹⁰ bins")
    };
    assert_eq!(e.key, "observe.histogram2d[0].bins");
    assert_eq!((e.value, e.limit), (10_000_000_000, MAX_HISTOGRAM_BINS));
    settings.observe = ObserveSpec {
        final_states: true,
        ..ObserveSpec::default()
    };
    settings.runs = MAX_FINAL_STATES + 1;
    let Err(EnsembleError::TooLarge(e)) = Ensemble::new(&TinyNet, &noise, &opt, &settings) else {
        panic!("accepted final states beyond the limit")
    };
    assert_eq!(e.key, "observe.final_states");
    settings.runs = MAX_FINAL_STATES;
    assert!(Ensemble::new(&TinyNet, &noise, &opt, &settings).is_ok());
}

/// Where final states are kept, runs beyond the limit are refused before anything runs; where
/// they are not (`run_summary`), the same file is accepted.
#[test]
fn kept_final_states_are_bounded_and_unkept_ones_cost_nothing() {
    let e = Experiment::from_toml(&quadratic(
        u32::MAX as u64,
        1,
        "mode = \"exact\"\n[observe]\nfinal_states = true",
    ))
    .unwrap();
    let t = Instant::now();
    let err = run(&e, 0, None).unwrap_err();
    assert!(
        t.elapsed().as_secs_f64() < 1.0,
        "refused only after running"
    );
    let RunError::Ensemble(EnsembleError::TooLarge(too)) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(too.key, "observe.final_states");
    assert_eq!(too.value, u32::MAX as u64);
    let msg = err.to_string();
    assert!(
        msg.contains("observe.final_states") && msg.contains("4294967295"),
        "{msg}"
    );
    saddle::experiment::check(&e).unwrap();
}

/// Without kept final states the summary is that of the run that keeps them, and the
/// histograms (counted sparsely per chunk) are the counts of the kept final states.
#[test]
fn the_summary_without_final_states_is_the_same() {
    let observe = "[observe]\nfinal_states = true\ntrace = 12\nescape = { delta = 0.05 }\n\
                   [[observe.histogram]]\nlo = -0.5\nhi = 0.5\nbins = 7\nsteps = [0, 3, 40]\n\
                   [[observe.histogram]]\nlo = -1.0\nhi = 1.0\nbins = 100000\n";
    let e = Experiment::from_toml(&quadratic(3000, 40, observe)).unwrap();
    let full = run(&e, 0, None).unwrap();
    let lean = run_summary(&e, 0, None).unwrap();
    assert!(lean.final_states.is_none());
    let finals = full.final_states.clone().unwrap();
    assert_eq!(finals.len(), 3000);
    assert_eq!(
        Summary {
            final_states: None,
            ..full.clone()
        },
        lean
    );
    // The final histograms, counted from the final states by the documented edges.
    for h in full.histograms.iter().filter(|h| h.step == 40) {
        let (lo, hi, n) = (h.lo[0], h.hi[0], h.bins[0]);
        let width = (hi - lo) / n as f64;
        let mut counts = vec![0u64; n];
        let (mut under, mut over) = (0, 0);
        for f in &finals {
            let x = f.w[0];
            if x < lo {
                under += 1;
            } else if x > hi {
                over += 1;
            } else {
                let j = (0..n)
                    .rev()
                    .find(|&j| x >= lo + width * j as f64)
                    .unwrap_or(0);
                counts[j] += 1;
            }
        }
        assert_eq!((h.underflow, h.overflow), (under, over));
        assert_eq!(h.counts, counts, "{n} bins");
    }
}

/// A run of many runs that keeps no final states needs memory independent of the runs.
#[test]
fn many_runs_without_final_states_take_little_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runs = 3_000_000;
    let e = Experiment::from_toml(&quadratic(
        runs,
        1,
        "mode = \"exact\"\n[observe]\nfinal_states = true\nescape = { delta = 0.05 }",
    ))
    .unwrap();
    let fresh = reset_peak();
    let before = peak_mb().unwrap_or(0.0);
    let s = run_summary(&e, 0, None).unwrap();
    let after = peak_mb().unwrap_or(0.0);
    assert_eq!(s.runs, runs);
    // One step of x ∈ {1, −2} at λ = 0.8 from U[−1, 1]: w₁ = 0.2 w₀ or 2.6 w₀, each with
    // probability ½; |w₁| ≥ 0.05 unless |w₀| < 0.25 (first factor) or < 0.05/2.6: the escape
    // fraction is 1 − ½(0.25 + 0.05/2.6).
    let p = 1.0 - 0.5 * (0.25 + 0.05 / 2.6);
    let se = (p * (1.0 - p) / runs as f64).sqrt();
    let got = s.escape_fraction.unwrap();
    assert!((got - p).abs() < 5.0 * se, "{got} vs {p} ± {se}");
    // Kept, 3·10⁶ final states would take about 200 MB.
    if fresh {
        assert!(after - before < 40.0, "peak {before:.1} → {after:.1} MB");
    }
}

/// Exact mode at T with one factor ½ and one 2^(r/(1−r)) (r slightly above ½), each with
/// probability ½, from w₀ = 1 with δ = 1: |w_T| = e^{K ln ½ + (T − K) l₂} for the count K of
/// the first factor, Binomial(T, ½), so the run escapes (|w_T| ≥ 1, or diverged: beyond 1
/// too) iff K ≤ k* = T l₂/(l₂ − ln ½). The escape probability is P(K ≤ ⌊k*⌋).
fn exact_at(t: u64, runs: u64, z: f64) -> (Summary, f64, f64) {
    let (a, lr) = near_critical(t, z);
    let text = format!(
        "name = \"exact-limits\"\nmode = \"exact\"\nruns = {runs}\nsteps = {t}\nseed = 5\n\
         [model]\nkind = \"quadratic\"\n[noise]\nkind = \"two-point\"\na = {a:?}\n[init]\nkind \
         = \"point\"\nw = 1.0\n[optimizer]\nkind = \"sgd\"\nlr = {lr}\n[divergence]\nbound = \
         1e300\n[observe]\nescape = {{ delta = 1.0 }}\n"
    );
    let e = Experiment::from_toml(&text).unwrap();
    // The factors the engine uses.
    let f = Factors::new(&e.noise, lr).unwrap();
    let (l1, l2) = (f.ln_abs[0], f.ln_abs[1]);
    assert!(l1 < 0.0 && l2 > 0.0 && f.probs == [0.5, 0.5]);
    let k_star = (t as f64 * l2 / (l2 - l1)).floor();
    let s = run(&e, 0, None).unwrap();
    (s, k_star, l2)
}

/// Two-point noise a and learning rate λ whose factors are −½ (x = 1) and −e^{l₂} (x = a − 1)
/// with l₂ = ln 2 · r/(1 − r), r = ½ + z/(2√T): a run from |w₀| = 1 escapes δ = 1 at T iff
/// the count of the first factor is at most k* = rT = T/2 + z·√T/2, z standard deviations
/// above its mean.
fn near_critical(t: u64, z: f64) -> (f64, f64) {
    let r = 0.5 + z / (2.0 * (t as f64).sqrt());
    let l2 = std::f64::consts::LN_2 * r / (1.0 - r);
    let lr = 1.5;
    (1.0 + (1.0 + l2.exp()) / lr, lr)
}

/// P(K ≤ k) for K ~ Binomial(T, ½) by the normal law with continuity correction: within the
/// Berry–Esseen bound 0.4748/√T (5·10⁻⁷ at T = 10¹²) of the exact value.
fn binomial_half_cdf(t: u64, k: f64) -> f64 {
    let sd = (t as f64).sqrt() / 2.0;
    Normal::standard().cdf((k + 0.5 - t as f64 / 2.0) / sd)
}

#[test]
fn exact_mode_at_huge_t_is_fast_small_and_exact() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runs = 20_000;
    for (t, z) in [(1_000_000_000_000u64, 0.7), (8_000_000_000_000_000, -0.4)] {
        let fresh = reset_peak();
        // The resident set at the reset: what this test adds is measured from there (tests
        // without the lock may hold memory in this process at the same time).
        let base = peak_mb().unwrap_or(0.0);
        let start = Instant::now();
        let (s, k_star, _) = exact_at(t, runs, z);
        let secs = start.elapsed().as_secs_f64();
        let peak = peak_mb().map(|p| p - base);
        let p = binomial_half_cdf(t, k_star);
        // The statrs binomial agrees where its incomplete beta is reliable (a check of the
        // reference, at the smaller T).
        if t == 1_000_000_000_000 {
            let exact = Binomial::new(0.5, 10_000).unwrap().cdf(5_035);
            assert!((binomial_half_cdf(10_000, 5_035.0) - exact).abs() < 1e-3);
        }
        let se = (p * (1.0 - p) / runs as f64).sqrt();
        let got = s.escape_fraction.unwrap();
        assert!(
            (got - p).abs() < 4.5 * se,
            "T = {t}: escape {got} vs {p} ± {se}"
        );
        assert!(p > 0.2 && p < 0.8, "a test near the middle of the law: {p}");
        assert!(secs < 20.0, "T = {t}: {secs:.1} s");
        if let (true, Some(peak)) = (fresh, peak) {
            assert!(peak < 100.0, "T = {t}: peak grew by {peak:.1} MB");
        }
    }
}

/// Beyond the tabulated steps ([`TABLE_STEPS`]) counts are drawn with rand_distr's binomial:
/// exact mode then agrees with the exact escape probability of `saddle::theory` (the sum over
/// all T + 1 counts), from w₀ ~ U[−1, 1].
#[test]
fn drawn_counts_agree_with_the_exact_escape_probability() {
    let t = 3_000_000;
    assert!(t > TABLE_STEPS);
    let runs = 20_000;
    let (a, lr) = near_critical(t, 0.5);
    let delta = 0.05;
    let text = format!(
        "name = \"drawn\"\nmode = \"exact\"\nruns = {runs}\nsteps = {t}\nseed = 9\n[model]\nkind \
         = \"quadratic\"\n[noise]\nkind = \"two-point\"\na = {a:?}\n[optimizer]\nkind = \"sgd\"\n\
         lr = {lr}\n[divergence]\nbound = 1e300\n[observe]\nescape = {{ delta = {delta} }}\n"
    );
    let e = Experiment::from_toml(&text).unwrap();
    let s = run(&e, 0, None).unwrap();
    let p = escape_probability(
        &e.noise,
        lr,
        t,
        delta,
        &escape_probability::Init::Uniform { lo: -1.0, hi: 1.0 },
    )
    .unwrap()
    .exact
    .expect("the exact sum over the counts");
    assert!(p > 0.05 && p < 0.95, "{p}");
    let se = (p * (1.0 - p) / runs as f64).sqrt();
    let got = s.escape_fraction.unwrap();
    assert!((got - p).abs() < 4.5 * se, "escape {got} vs {p} ± {se}");
}

/// The drawn counts are Binomial(n, p): their frequencies in ten bins of equal binomial
/// probability pass a χ² test. The reference CDF is an exact sum of the pmf
/// C(n, k)pᵏ(1 − p)ⁿ⁻ᵏ (terms from ln Γ, relative error ~10⁻⁸ at n = 6·10⁶) from 40 standard
/// deviations below the mean, where the neglected tail is below e⁻⁸⁰⁰.
#[test]
fn drawn_counts_are_binomial() {
    let n = 3 * TABLE_STEPS;
    let noise = NoiseLaw {
        law: Law::Discrete {
            values: vec![1.0, -2.0],
            probs: vec![0.3, 0.7],
        },
        field: Field::X,
        batch: 1,
    };
    let f = Factors::new(&noise, 0.5).unwrap();
    let p = f.probs[0] / (f.probs[0] + f.probs[1]);
    let nf = n as f64;
    let ln_pmf = |k: u64| {
        let k = k as f64;
        libm::lgamma(nf + 1.0) - libm::lgamma(k + 1.0) - libm::lgamma(nf - k + 1.0)
            + k * p.ln()
            + (nf - k) * (-p).ln_1p()
    };
    let sd = (nf * p * (1.0 - p)).sqrt();
    let first = (nf * p - 40.0 * sd).max(0.0) as u64;
    // CDF table from `first` to 40 sd above the mean.
    let last = ((nf * p + 40.0 * sd) as u64).min(n);
    let mut cdf = Vec::with_capacity((last - first + 1) as usize);
    let mut acc = 0.0;
    for k in first..=last {
        acc += ln_pmf(k).exp();
        cdf.push(acc);
    }
    assert!((acc - 1.0).abs() < 1e-6, "the pmf sums to {acc}");
    let cdf_at = |k: u64| cdf[(k - first) as usize];
    // Bin edges: the deciles (the smallest k with F(k) ≥ q), and each bin's probability.
    let edges: Vec<u64> = (1..10)
        .map(|i| first + cdf.partition_point(|&c| c < i as f64 / 10.0) as u64)
        .collect();
    let mut probs = vec![];
    let mut prev = 0.0;
    for &k in &edges {
        let c = cdf_at(k);
        probs.push(c - prev);
        prev = c;
    }
    probs.push(1.0 - prev);
    let sampler = Counts::new(&f, n);
    let mut rng = saddle::rng::stream(4, 0, 0);
    let mut out = [0u64; 2];
    let draws = 50_000;
    let mut freq = [0u64; 10];
    for _ in 0..draws {
        sampler.draw(&f, &mut rng, &mut out);
        assert_eq!(out[0] + out[1], n);
        freq[edges.partition_point(|&e| e < out[0])] += 1;
    }
    let chi2: f64 = freq
        .iter()
        .zip(&probs)
        .map(|(&o, &q)| {
            let e = q * draws as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    // χ²(9) exceeds 27.88 with probability 10⁻³.
    assert!(chi2 < 27.88, "χ² = {chi2}: {freq:?} vs {probs:?}");
}

/// An experiment changed in code after parsing is bounded by the plan as the parser bounds a
/// file: a minibatch of 10⁹ (whose samples the engine would buffer for 32 runs at once,
/// 512 GB), zero runs or zero steps are refused naming the key, before anything is allocated.
#[test]
fn the_plan_bounds_sizes_of_experiments_changed_in_code() {
    let base = Experiment::from_toml(&quadratic(100, 10, "")).unwrap();
    let refused = |e: &Experiment, key: &str, msg: &str| {
        for r in [
            run(e, 0, None).map(|_| ()),
            run_summary(e, 0, None).map(|_| ()),
            saddle::experiment::check(e),
        ] {
            match r {
                Err(RunError::Size(ConfigError::Invalid { path, msg: m })) => {
                    assert_eq!(path, key);
                    assert!(m.contains(msg), "{m}");
                }
                other => panic!("{key}: expected a size error, got {other:?}"),
            }
        }
    };
    let mut e = base.clone();
    e.noise.batch = 1_000_000_000;
    refused(
        &e,
        "noise.batch",
        "must be between 1 and 1000000 (got 1000000000)",
    );
    let mut e = base.clone();
    e.noise.batch = 0;
    refused(&e, "noise.batch", "(got 0)");
    let mut e = base.clone();
    e.runs = 0;
    refused(&e, "runs", "must be between 1 and 4294967295 (got 0)");
    let mut e = base.clone();
    e.runs = 1 << 33;
    refused(&e, "runs", "(got 8589934592)");
    let mut e = base.clone();
    e.steps = 0;
    refused(&e, "steps", "must be at least 1 (got 0)");
    // The same experiment within bounds runs.
    assert!(run(&base, 0, None).is_ok());
}
