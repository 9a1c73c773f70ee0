//! Statistical tests through the public API (`Experiment::from_toml` → `experiment::run` →
//! `Summary`) against the paper's closed forms and exact moment recursions.
//!
//! Every tolerance is derived, never tuned: either a rigorous tail bound (Hoeffding, binomial)
//! that makes the asserted outcome certain up to a stated probability, or k = 4 standard errors
//! of an unbiased estimator (two-sided false-alarm rate 6·10⁻⁵ per check under normality), plus
//! where stated an explicit bias allowance with its derivation. Seeds are fixed, so the tests
//! are deterministic; the bounds say why the fixed outcome is not a lucky one.

use saddle::config::Experiment;
use saddle::experiment::{run, Summary};
use saddle::rng::stream;

fn go(toml: &str) -> Summary {
    let exp = Experiment::from_toml(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    run(&exp, 0, None).expect("experiment runs")
}

fn finals(s: &Summary) -> Vec<Vec<f64>> {
    s.final_states
        .as_ref()
        .expect("observe.final_states = true")
        .iter()
        .map(|f| f.w.clone())
        .collect()
}

/// Sample mean and its standard error (sample sd / √n).
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// μ(λ) = E ln|1 − λx| = ½ ln|(1−λ)(1−λ(a−1))| for two-point noise (Eq. 87; the two-point convention of docs/experiment-files.md).
fn mu(a: f64, lr: f64) -> f64 {
    0.5 * ((1.0 - lr) * (1.0 - lr * (a - 1.0))).abs().ln()
}

/// Range of the increment ln|1 − λx|: |ln|1−λ| − ln|1−λ(a−1)||.
fn incr_range(a: f64, lr: f64) -> f64 {
    ((1.0 - lr).abs().ln() - (1.0 - lr * (a - 1.0)).abs().ln()).abs()
}

/// Eq. 7 (a < 1): the trapped interval a/(a−1) < λ < (a − √(a² − 8a + 8))/(2(a−1)).
fn eq7_trapped(a: f64, lr: f64) -> bool {
    let lo = a / (a - 1.0);
    let hi = (a - (a * a - 8.0 * a + 8.0).sqrt()) / (2.0 * (a - 1.0));
    lo < lr && lr < hi
}

fn quadratic_two_point(a: f64, lr: f64, runs: u64, steps: u64, extra: &str) -> String {
    format!(
        r#"
        seed = 11
        runs = {runs}
        steps = {steps}
        [model]
        kind = "quadratic"
        [noise]
        kind = "two-point"
        a = {a:?}
        [optimizer]
        kind = "sgd"
        lr = {lr:?}
        {extra}
        "#
    )
}

/// Escape fraction (δ = 0.05) inside and outside the trapped region of Eq. 7, for a < 0 (w = 0
/// a local maximum) and a > 0 (a local minimum, trapped at small λ and escaping only through
/// the discrete-time instability at large λ).
///
/// For the quadratic, ln|w_T/w₀| = S_T, a sum of T i.i.d. increments ln|1 − λx| with mean μ and
/// range r. With w₀ ~ U[0.5, 1]:
/// * trapped (μ < 0): escape needs S_T ≥ ln δ − ln|w₀| ≥ ln 0.05 =: c;
/// * escaping (μ > 0): staying needs S_T < ln δ − ln|w₀| ≤ ln 0.1 =: c (diverged runs count as
///   escaped, so leaving the bound is fine).
///
/// Hoeffding: P(S_T − Tμ ≥ u) ≤ exp(−2u²/(T r²)) with u = |c − Tμ|. The test first asserts
/// that R times this bound is below 10⁻⁶ for the chosen (a, λ, T), so the expected outcome
/// (escape fraction exactly 0 or exactly 1) holds with probability > 1 − 10⁻⁶; then asserts it.
/// (Hoeffding's maximal inequality bounds max_t S_t the same way, so no trapped run diverges on
/// the way.)
#[test]
fn escape_fraction_follows_the_phase_diagram_of_eq_7() {
    let runs = 1000u64;
    // (a, λ, T)
    let cases = [
        (-1.0, 0.8, 1000u64), // Fig. 1 left: trapped at a local maximum
        (-1.0, 1.1, 1000),    // trapped
        (-1.0, 0.2, 4000),    // small λ: escapes
        (-1.0, 1.5, 1000),    // large λ: escapes
        (-0.5, 0.9, 1000),    // trapped
        (-0.5, 0.1, 8000),    // escapes slowly (μ ≈ 0.017)
        (0.5, 0.5, 1000),     // a > 0: local minimum, trapped
        (0.5, 1.9, 1000),     // a > 0: discrete-time instability, escapes
    ];
    for (a, lr, steps) in cases {
        let m = mu(a, lr);
        let trapped = m < 0.0;
        assert_eq!(
            trapped,
            eq7_trapped(a, lr),
            "μ and Eq. 7 disagree at a={a}, λ={lr}"
        );
        let c = if trapped { 0.05f64.ln() } else { 0.1f64.ln() };
        let u = (c - steps as f64 * m).abs();
        assert!(trapped == (c > steps as f64 * m));
        let r = incr_range(a, lr);
        let bound = runs as f64 * (-2.0 * u * u / (steps as f64 * r * r)).exp();
        assert!(bound < 1e-6, "T too small for a={a}, λ={lr}: bound {bound}");

        let s = go(&quadratic_two_point(
            a,
            lr,
            runs,
            steps,
            "[init]\nkind = \"uniform\"\nlo = 0.5\nhi = 1.0\n[observe.escape]\ndelta = 0.05",
        ));
        let e = s.escape.as_ref().expect("escape observed");
        assert_eq!(e.delta, 0.05);
        let want = if trapped { 0.0 } else { 1.0 };
        assert_eq!(
            e.value, want,
            "a={a}, λ={lr}, μ={m}: escape fraction {} (diverged {}, absorbed {})",
            e.value, s.diverged, s.absorbed
        );
        assert_eq!(s.escape_fraction, Some(want));
        assert_eq!(e.stderr, 0.0);
        if trapped {
            assert_eq!(s.diverged, 0);
        }
    }
}

/// γ̂(t) = (1/t)·mean ln|w_t/w₀| (Eq. 8). For the quadratic ln|w_t/w₀| = S_t exactly, so
/// E γ̂(t) = μ(λ) for every t (not only asymptotically): the estimator is unbiased and the test is
/// |γ̂ − μ| ≤ 4·stderr. The reported stderr is itself checked against the exact one,
/// (r/2)/√(tR) (each increment is μ ± r/2): the sample sd of R = 2000 values has a relative
/// sd of ≈ √((κ−1)/(4R)) ≈ 1.6% (κ ≈ 3), so ±20% is > 10 of those.
/// The bound is 1e300, so no run diverges (|w_t| ≤ 4¹⁰⁰ ≈ 10⁶⁰) and none is absorbed
/// (|w_t| ≥ 0.1¹⁰⁰·|w₀|): n must equal R.
#[test]
fn escape_rate_matches_mu() {
    let runs = 2000u64;
    let cases = [
        (-1.0, 0.25), // Prop. 3: λ* = a/(2(a−1)) = 0.25, γ* = ln(3/(2√2))
        (-1.0, 0.8),
        (-1.0, 1.5),
        (0.5, 0.5),
        (-0.3, 0.6),
    ];
    for (a, lr) in cases {
        let s = go(&quadratic_two_point(
            a,
            lr,
            runs,
            100,
            "[divergence]\nbound = 1e300\n[observe]\nescape_rate_steps = [50, 100]",
        ));
        assert_eq!((s.diverged, s.absorbed), (0, 0));
        assert_eq!(s.escape_rate.len(), 2);
        let m = mu(a, lr);
        let r = incr_range(a, lr);
        for p in &s.escape_rate {
            assert_eq!((p.n, p.excluded), (runs, 0), "a={a}, λ={lr}, t={}", p.t);
            let (v, se) = (p.value.unwrap(), p.stderr.unwrap());
            let exact_se = 0.5 * r / ((p.t * runs) as f64).sqrt();
            assert!(
                (se / exact_se - 1.0).abs() < 0.2,
                "a={a}, λ={lr}, t={}: stderr {se} vs exact {exact_se}",
                p.t
            );
            assert!(
                (v - m).abs() <= 4.0 * se,
                "a={a}, λ={lr}, t={}: γ̂ = {v} ± {se}, μ = {m}",
                p.t
            );
        }
    }
    // Prop. 3's closed form agrees with μ at its optimum λ* (a check of the reference itself).
    let a = -1.0f64;
    let (ls, gs) = (
        a / (2.0 * (a - 1.0)),
        ((2.0 - a) / (2.0 * (1.0 - a).sqrt())).ln(),
    );
    assert_eq!(ls, 0.25);
    assert!((mu(a, ls) - gs).abs() < 1e-15);
}

/// Prop. 1: λ = 1, a < 0. Drawing x = 1 sets w to exactly 0 (absorbed); x = a − 1 multiplies w
/// by 2 − a. After T steps a run survives iff it never drew x = 1: probability 2⁻ᵀ, so the
/// absorbed count is Binomial(R, 1 − 2⁻ᵀ): checked within 4 binomial sds. Every survivor has
/// |w_T/w₀| = (2 − a)ᵀ exactly, so γ̂(T) = ln(2 − a) to rounding, with the absorbed runs
/// excluded (no −∞ or NaN). With T = 60, P(any of R runs survives) ≤ R·2⁻⁶⁰ < 10⁻¹⁴.
#[test]
fn prop1_absorption_at_lambda_one() {
    let (runs, a) = (4000u64, -1.0);
    let s = go(&quadratic_two_point(
        a,
        1.0,
        runs,
        3,
        "[observe]\nescape_rate_steps = [3]\ntrace = 3",
    ));
    let p = 1.0 - 0.125;
    let (mean, sd) = (runs as f64 * p, (runs as f64 * p * (1.0 - p)).sqrt());
    assert!(
        (s.absorbed as f64 - mean).abs() <= 4.0 * sd,
        "absorbed {} vs binomial mean {mean} ± {sd}",
        s.absorbed
    );
    assert_eq!(s.diverged, 0);
    let g = &s.escape_rate[0];
    assert_eq!(g.excluded, s.absorbed);
    assert_eq!(g.n, runs - s.absorbed);
    let v = g.value.expect("some runs survive");
    assert!(v.is_finite() && (v - 3f64.ln()).abs() < 1e-12, "γ̂(3) = {v}");
    // The paper's point (Eq. 6 and after): the mean norm still "escapes". E|w_T| = 2⁻ᵀ·3ᵀ·E|w₀|
    // = (27/8)·½ with w₀ ~ U[−1, 1]; checked within 4 standard errors.
    let (mn, se) = (
        s.mean_norm_final.unwrap(),
        s.mean_norm_final_stderr.unwrap(),
    );
    assert!((mn - 27.0 / 16.0).abs() <= 4.0 * se, "E|w_3| = {mn} ± {se}");
    // The trace counts the absorbed runs too.
    let last = s.trace.last().unwrap();
    assert_eq!((last.t, last.absorbed, last.n), (3, s.absorbed, runs));

    let s = go(&quadratic_two_point(
        a,
        1.0,
        runs,
        60,
        "[observe]\nescape_rate_steps = [60]",
    ));
    assert_eq!(s.absorbed, runs);
    assert_eq!(s.mean_norm_final, Some(0.0));
    let g = &s.escape_rate[0];
    assert_eq!((g.n, g.excluded, g.value), (0, runs, None));
}

fn tiny_net(lr: f64, runs: u64) -> String {
    format!(
        r#"
        seed = 5
        runs = {runs}
        steps = 10000
        [model]
        kind = "tiny-net"
        [noise]
        kind = "discrete"
        values = [-1.0, 2.0]
        probs = [0.5, 0.5]
        [init]
        lo = [-1.0, 0.0]
        hi = [1.0, 1.0]
        [optimizer]
        kind = "sgd"
        lr = {lr:?}
        [observe]
        final_states = true
        "#
    )
}

/// §6.5, Fig. 6: the minimal network ends in the valley of global minima (L* = 2.25) at
/// λ = 0.001 and on the saddle line w₁ = 0 (L = 2.5) at λ = 0.1.
///
/// λ = 0.001. L = 2.25 + (f − ½)² ≥ 2.25 for every w (f = w₂w₁²), so the mean cannot be below
/// 2.25. What lies above it is checked piece by piece from the final states:
/// * the summary's mean loss equals the mean of Eq. 18 over the final states (to rounding);
/// * runs still in transit near the saddle (|f − ½| > 0.3): those that started close to the
///   origin, where the flow is slow. At this λ SGD follows the gradient flow, so their fraction
///   is the one of deterministic GD from the same initial law, estimated by an independent
///   implementation (the gradient of Eq. 18 by hand) from N points: |k/R − p̂| ≤
///   4√(p̂(1−p̂)(1/R + 1/N));
/// * the runs on the valley fluctuate across it: with u = f − ½ one step is
///   u ← (1 − k)u + k(y − ½) to first order, k = 2λ|∇f|², y − ½ = ±3/2, so the stationary
///   E u² = 2.25·k/(2 − k) ≈ 2.25λ|∇f|² (≈ 0.005; relaxation time 1/k ≈ 250 ≪ 10⁴ steps).
///   The mean of u² over valley runs must match the mean of that prediction at each run's
///   position within 4 standard errors of both plus a 10% allowance for the neglected
///   higher-order terms (relative size O(k) and O(u) ≈ 0.07).
///
/// λ = 0.1: every run ends at the saddle point (0, 0): norm < 0.5 (every point of the valley
/// has norm ≥ 1.09: min of w₁² + 1/(4w₁⁴) at w₁⁶ = ½) and L within 1e-3 of 2.5 (the valley's
/// 2.25 is 0.25 away), and so does the mean; no run diverges. On the line w₁ = 0 a step
/// multiplies w₁ by 1 + 4λw₂y, whose mean log ½ln((1 − 0.4w₂)(1 + 0.8w₂)) is negative for
/// w₂ < 0 but vanishes as w₂ → 0⁻, where the runs collect: convergence is geometric with a
/// vanishing rate, so no tighter per-run claim is made.
#[test]
fn tiny_net_valley_at_small_lr_saddle_at_large_lr() {
    let (runs, lr) = (1000u64, 0.001);
    let s = go(&tiny_net(lr, runs));
    assert_eq!(s.diverged, 0);
    let l = s.mean_loss_final.unwrap();
    assert!(l >= 2.25 - 1e-12, "mean loss {l} below L* = 2.25");
    let w = finals(&s);
    let eq18 = |w: &[f64]| {
        let f = w[1] * w[0] * w[0];
        0.5 * (f + 1.0).powi(2) + 0.5 * (f - 2.0).powi(2)
    };
    let own = w.iter().map(|w| eq18(w)).sum::<f64>() / runs as f64;
    assert!(
        (own - l).abs() < 1e-12,
        "summary mean loss {l} vs Eq. 18 on final states {own}"
    );

    let transit = |w: &[f64]| (w[1] * w[0] * w[0] - 0.5).abs() > 0.3;
    let k = w.iter().filter(|w| transit(w)).count();
    let n = 4000u32;
    let mut kr = 0;
    for i in 0..n {
        let mut rng = stream(0x7e57, 2, i);
        let mut v = [2.0 * rng.next_f64() - 1.0, rng.next_f64()];
        for _ in 0..10_000 {
            // ∂L/∂w₁ = 2(f − ½)·2w₂w₁, ∂L/∂w₂ = 2(f − ½)·w₁² (Eq. 18, f = w₂w₁²).
            let c = 2.0 * (v[1] * v[0] * v[0] - 0.5);
            v = [
                v[0] - lr * c * 2.0 * v[1] * v[0],
                v[1] - lr * c * v[0] * v[0],
            ];
        }
        kr += transit(&v) as u32;
    }
    let p = kr as f64 / n as f64;
    let frac = k as f64 / runs as f64;
    let sd = (p * (1.0 - p) * (1.0 / runs as f64 + 1.0 / n as f64)).sqrt();
    assert!(
        p > 0.0 && (frac - p).abs() <= 4.0 * sd,
        "in transit: {frac} vs GD {p} ± {sd}"
    );

    let (mut u2, mut pred) = (vec![], vec![]);
    for w in w.iter().filter(|w| !transit(w)) {
        let f = w[1] * w[0] * w[0];
        u2.push((f - 0.5) * (f - 0.5));
        let k = 2.0 * lr * ((2.0 * w[1] * w[0]).powi(2) + w[0].powi(4));
        pred.push(2.25 * k / (2.0 - k));
    }
    let ((a, sa), (b, sb)) = (mean_se(&u2), mean_se(&pred));
    assert!(
        (a - b).abs() <= 4.0 * (sa * sa + sb * sb).sqrt() + 0.1 * b,
        "valley fluctuation E(f − ½)² = {a} ± {sa}, predicted {b} ± {sb}"
    );

    let s = go(&tiny_net(0.1, 200));
    assert_eq!(s.diverged, 0);
    let l = s.mean_loss_final.unwrap();
    assert!((l - 2.5).abs() < 1e-3, "λ = 0.1: mean loss {l}");
    for w in finals(&s) {
        let norm = (w[0] * w[0] + w[1] * w[1]).sqrt();
        assert!(
            norm < 0.5 && (eq18(&w) - 2.5).abs() < 1e-3,
            "λ = 0.1: run not at the saddle: {w:?}, L = {}",
            eq18(&w)
        );
    }
}

fn sharp_flat(b: f64, runs: u64) -> String {
    format!(
        r#"
        seed = 3
        runs = {runs}
        steps = 10000
        [model]
        kind = "sharp-flat"
        a = 0.5
        b = {b:?}
        [noise]
        kind = "discrete"
        values = [1.0, -1.0]
        [init]
        lo = -1.0
        hi = 1.0
        [optimizer]
        kind = "sgd"
        lr = 0.05
        clip = [-1.0, 1.0]
        [observe]
        final_states = true
        "#
    )
}

/// Nearest of the four minima of Eq. 11 (a = 0.5) and the distance to it; `true` for sharp.
fn nearest_minimum(w: &[f64]) -> (bool, f64) {
    let r2 = std::f64::consts::FRAC_1_SQRT_2;
    let rs = 0.75f64.sqrt();
    [
        (false, [r2, 0.0]),
        (false, [-r2, 0.0]),
        (true, [0.0, rs]),
        (true, [0.0, -rs]),
    ]
    .iter()
    .map(|(sh, m)| (*sh, ((w[0] - m[0]).powi(2) + (w[1] - m[1]).powi(2)).sqrt()))
    .min_by(|x, y| x.1.total_cmp(&y.1))
    .unwrap()
}

/// Reference for b = 0: the noise term x·b·w₁² vanishes, so SGD is deterministic gradient descent
/// from w₀ and the fraction ending at the sharp minima is the U[−1,1]² measure of their basins.
/// Estimated here with an independent implementation (the gradient of Eq. 9 written out by hand,
/// the same λ, clip and step count) from `n` points of a separate random stream.
fn sharp_basin_fraction(n: u32) -> f64 {
    let (a, lr) = (0.5, 0.05);
    let mut sharp = 0;
    for i in 0..n {
        let mut rng = stream(0xba51, 1, i);
        let mut w = [2.0 * rng.next_f64() - 1.0, 2.0 * rng.next_f64() - 1.0];
        for _ in 0..10_000 {
            let (p, q) = (w[0] - w[1], w[0] + w[1]);
            // ∂L/∂w₁ = −2w₁ + 2p³ + 2q³, ∂L/∂w₂ = −2w₂ − 2p³ + 2q³ − 2a w₂ (b = 0).
            let g0 = -2.0 * w[0] + 2.0 * p.powi(3) + 2.0 * q.powi(3);
            let g1 = -2.0 * w[1] - 2.0 * p.powi(3) + 2.0 * q.powi(3) - 2.0 * a * w[1];
            w = [
                (w[0] - lr * g0).clamp(-1.0, 1.0),
                (w[1] - lr * g1).clamp(-1.0, 1.0),
            ];
        }
        let (sh, d) = nearest_minimum(&w);
        assert!(
            d < 1e-6,
            "reference GD did not converge from point {i}: {w:?}"
        );
        sharp += sh as u32;
    }
    sharp as f64 / n as f64
}

/// Prop. 4 and Fig. 4: with x = ±1, a = 0.5, λ = 0.05, b = 1/λ − 6 = 14 and
/// |w| ≤ 1, every run ends at a sharp minimum (0, ±√((1+a)/2)), none at the flat ones; with b = 0
/// the runs split between sharp and flat minima as the basins of gradient descent dictate.
///
/// b = 14: along w₁ the noise is multiplicative (∂L̂/∂w₁ ∝ w₁ near w₁ = 0), so a run at a sharp
/// minimum converges to it exactly; the 0.05 radius is loose. b = 0: the sharp count is
/// Binomial(R, p) with p estimated from N reference points; |k/R − p̂| ≤ 4·√(p̂(1−p̂)(1/R + 1/N)).
#[test]
fn sharp_flat_prefers_sharp_minima_only_with_the_designed_noise() {
    let runs = 1000;
    let b: f64 = 1.0 / 0.05 - 6.0;
    assert!((b - 14.0).abs() < 1e-12);
    let s = go(&sharp_flat(14.0, runs));
    assert_eq!(s.diverged, 0);
    for w in finals(&s) {
        let (sh, d) = nearest_minimum(&w);
        assert!(
            sh && d < 0.05,
            "b = 14: run ended at {w:?}, not at a sharp minimum"
        );
    }

    let s = go(&sharp_flat(0.0, runs));
    let mut sharp = 0u64;
    for w in finals(&s) {
        let (sh, d) = nearest_minimum(&w);
        assert!(d < 0.05, "b = 0: run ended at {w:?}, at no minimum");
        sharp += sh as u64;
    }
    let n = 4000;
    let p = sharp_basin_fraction(n);
    assert!(
        p > 0.1 && p < 0.9,
        "reference basin fraction {p}: no split to test"
    );
    let frac = sharp as f64 / runs as f64;
    let sd = (p * (1.0 - p) * (1.0 / runs as f64 + 1.0 / n as f64)).sqrt();
    assert!(
        (frac - p).abs() <= 4.0 * sd,
        "b = 0: sharp fraction {frac}, reference {p} ± {sd}"
    );
}

fn quadratic_with(noise: &str, opt: &str, runs: u64, steps: u64, w0: f64) -> String {
    format!(
        r#"
        seed = 21
        runs = {runs}
        steps = {steps}
        [model]
        kind = "quadratic"
        [noise]
        {noise}
        [init]
        kind = "point"
        w = {w0:?}
        [optimizer]
        {opt}
        [divergence]
        bound = 1e300
        [observe]
        final_states = true
        "#
    )
}

/// Data sets drawn without replacement: with the minibatch equal to the whole set each step
/// sees every point once, so SGD is GD: w_T = w₀(1 − λx̄)ᵀ for every run (to rounding: only the
/// summation order differs). With batch 1 and T a whole number of epochs, every run ends at
/// w₀·Πᵢ(1 − λxᵢ)^epochs whatever the shuffles. Drawn with replacement the runs differ.
#[test]
fn dataset_without_replacement_is_exact() {
    let xs = "[0.5, 1.5, -0.25, 2.25]"; // x̄ = 1
    let (lr, steps) = (0.1, 40u64);
    let gd = 0.9f64.powi(40);
    for (noise, opt) in [
        (
            format!("kind = \"dataset\"\nx = {xs}\nreplacement = false\nbatch = 4"),
            "kind = \"sgd\"\nlr = 0.1",
        ),
        (
            format!("kind = \"dataset\"\nx = {xs}"),
            "kind = \"gd\"\nlr = 0.1",
        ),
    ] {
        let s = go(&quadratic_with(&noise, opt, 50, steps, 1.0));
        for w in finals(&s) {
            assert!((w[0] / gd - 1.0).abs() < 1e-12, "{noise}: {} vs {gd}", w[0]);
        }
    }
    // Batch 1, 10 epochs of 4 steps.
    let prod: f64 = [0.5, 1.5, -0.25, 2.25]
        .iter()
        .map(|x: &f64| 1.0 - lr * x)
        .product();
    let want = prod.powi(10);
    let s = go(&quadratic_with(
        &format!("kind = \"dataset\"\nx = {xs}\nreplacement = false"),
        "kind = \"sgd\"\nlr = 0.1",
        50,
        steps,
        1.0,
    ));
    for w in finals(&s) {
        assert!((w[0] / want - 1.0).abs() < 1e-12, "{} vs {want}", w[0]);
    }
    // With replacement (batch 4) the runs spread out.
    let s = go(&quadratic_with(
        &format!("kind = \"dataset\"\nx = {xs}\nbatch = 4"),
        "kind = \"sgd\"\nlr = 0.1",
        50,
        steps,
        1.0,
    ));
    let f: Vec<f64> = finals(&s).iter().map(|w| w[0]).collect();
    assert!(f.iter().any(|x| (x / gd - 1.0).abs() > 1e-3));

    // Minibatches straddling epochs: 3 points, batch 2, 3 steps = 6 draws = two whole epochs,
    // each point drawn exactly twice. On the linear loss L̂ = w1·x (gradient x) from 0 with
    // λ = 1: w₃ = −Σ_steps (x_a + x_b)/2 = −Σᵢ xᵢ = −(0.5 + 2 + 7) for every run.
    let s = go(r#"
        runs = 200
        steps = 3
        [model]
        kind = "formula"
        loss = "w1*x"
        params = 1
        [noise]
        kind = "dataset"
        x = [0.5, 2.0, 7.0]
        replacement = false
        batch = 2
        [init]
        kind = "point"
        w = 0.0
        [optimizer]
        kind = "sgd"
        lr = 1.0
        [observe]
        final_states = true
        "#);
    for w in finals(&s) {
        assert!(
            (w[0] + 9.5).abs() < 1e-12,
            "two epochs in batches of 2: {}",
            w[0]
        );
    }
}

/// Exact moments of SGD on the quadratic with i.i.d. data: w_T = w₀ Π_t (1 − λX̄_t), X̄_t the mean
/// of a batch of S i.i.d. draws, so E w_T = w₀(1 − λ E x)ᵀ and
/// E w_T² = w₀²((1 − λ E x)² + λ² Var x / S)ᵀ. Checked for a Gaussian law (App. B.2), a uniform
/// law and a data set drawn with replacement, with batches 1 and 2, each within 4 standard
/// errors of the sample means of w_T and w_T² over R runs.
#[test]
fn iid_noise_moments_of_sgd_on_the_quadratic() {
    let (lr, steps, runs) = (0.1, 10u64, 4000u64);
    // (noise, E x, Var x, batch)
    let data = [1.0, -0.5, 2.0, 0.5, 3.0];
    let dm = data.iter().sum::<f64>() / 5.0;
    let dv = data.iter().map(|x| (x - dm) * (x - dm)).sum::<f64>() / 5.0;
    let cases = [
        (
            "kind = \"gaussian\"\nmean = 0.5\nstd = 1.0".to_string(),
            0.5,
            1.0,
            1usize,
        ),
        (
            "kind = \"gaussian\"\nmean = 0.5\nstd = 1.0\nbatch = 2".to_string(),
            0.5,
            1.0,
            2,
        ),
        (
            "kind = \"uniform\"\nlo = -1.0\nhi = 2.0".to_string(),
            0.5,
            0.75,
            1,
        ),
        (
            "kind = \"dataset\"\nx = [1.0, -0.5, 2.0, 0.5, 3.0]\nbatch = 2".to_string(),
            dm,
            dv,
            2,
        ),
    ];
    for (noise, ex, vx, batch) in cases {
        let s = go(&quadratic_with(
            &noise,
            &format!("kind = \"sgd\"\nlr = {lr:?}"),
            runs,
            steps,
            1.0,
        ));
        let w: Vec<f64> = finals(&s).iter().map(|w| w[0]).collect();
        let w2: Vec<f64> = w.iter().map(|x| x * x).collect();
        let m1 = (1.0 - lr * ex).powi(steps as i32);
        let m2 = ((1.0 - lr * ex).powi(2) + lr * lr * vx / batch as f64).powi(steps as i32);
        let (a, sa) = mean_se(&w);
        let (b, sb) = mean_se(&w2);
        assert!(
            (a - m1).abs() <= 4.0 * sa,
            "{noise}: E w_T = {a} ± {sa}, exact {m1}"
        );
        assert!(
            (b - m2).abs() <= 4.0 * sb,
            "{noise}: E w_T² = {b} ± {sb}, exact {m2}"
        );
    }
}

/// Injected noise (Fig. 9): w ← (1 − λx)w − λσξ.
///
/// x ≡ c (a one-atom law): an AR(1) process from w₀ = 0, Gaussian with mean 0 and variance
/// V_T = λ²σ²(1 − ρ^{2T})/(1 − ρ²), ρ = 1 − λc (→ λ²σ²/(1 − (1−λc)²)). The sample variance of
/// R Gaussians has relative sd √(2/(R−1)); checked within 4 of those, the mean within 4√(V/R).
///
/// Two-point noise with a > 0 in the trapped region (a = 0.5, λ = 0.2, μ < 0): a Kesten process.
/// With A = E(1 − λx)² < 1, E w_T² = Aᵀw₀² + λ²σ²(1 − Aᵀ)/(1 − A) exactly (x, ξ, w_t independent,
/// E ξ = 0): finite and positive, checked within 4 sample standard errors (E(1 − λx)⁴ = 0.937 < 1,
/// so w_T² has a finite variance). Without σ the same runs collapse towards 0 (E w_T² = Aᵀ
/// ≈ 2·10⁻⁷).
#[test]
fn injected_noise_stationary_moments() {
    let (lr, sigma, c, steps, runs) = (0.1, 1.0, 1.0, 100u64, 4000u64);
    let s = go(&quadratic_with(
        &format!(
            "kind = \"discrete\"\nvalues = [{c:?}]\nprobs = [1.0]\ninjected_sigma = {sigma:?}"
        ),
        &format!("kind = \"sgd\"\nlr = {lr:?}"),
        runs,
        steps,
        0.0,
    ));
    assert_eq!((s.absorbed, s.diverged), (0, 0));
    let w: Vec<f64> = finals(&s).iter().map(|w| w[0]).collect();
    let rho: f64 = 1.0 - lr * c;
    let v = lr * lr * sigma * sigma * (1.0 - rho.powi(2 * steps as i32)) / (1.0 - rho * rho);
    let (m, _) = mean_se(&w);
    let var = w.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (runs - 1) as f64;
    assert!(m.abs() <= 4.0 * (v / runs as f64).sqrt(), "AR(1) mean {m}");
    let rel = (2.0 / (runs - 1) as f64).sqrt();
    assert!(
        (var / v - 1.0).abs() <= 4.0 * rel,
        "AR(1) variance {var} vs {v}"
    );

    let (a, lr, sigma, steps): (f64, f64, f64, u64) = (0.5, 0.2, 0.1, 200);
    let big_a: f64 = 0.5 * ((1.0 - lr).powi(2) + (1.0 - lr * (a - 1.0)).powi(2));
    assert!(mu(a, lr) < 0.0 && big_a < 1.0);
    let at = big_a.powi(steps as i32);
    let want = at + lr * lr * sigma * sigma * (1.0 - at) / (1.0 - big_a);
    let noise = format!("kind = \"two-point\"\na = {a:?}\ninjected_sigma = {sigma:?}");
    let s = go(&quadratic_with(
        &noise,
        &format!("kind = \"sgd\"\nlr = {lr:?}"),
        runs,
        steps,
        1.0,
    ));
    assert_eq!((s.absorbed, s.diverged), (0, 0));
    let w2: Vec<f64> = finals(&s).iter().map(|w| w[0] * w[0]).collect();
    let (m2, se) = mean_se(&w2);
    assert!(
        m2 > 0.0 && (m2 - want).abs() <= 4.0 * se,
        "Kesten E w² = {m2} ± {se}, exact {want}"
    );

    let s = go(&quadratic_with(
        &format!("kind = \"two-point\"\na = {a:?}"),
        &format!("kind = \"sgd\"\nlr = {lr:?}"),
        runs,
        steps,
        1.0,
    ));
    let w2: Vec<f64> = finals(&s).iter().map(|w| w[0] * w[0]).collect();
    let (m0, _) = mean_se(&w2);
    assert!(m0 < 1e-3 && m0 < want / 5.0, "without σ: E w² = {m0}");
}

/// Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5·10⁻⁷, negligible
/// against the KS critical value below).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.3275911 * x);
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Kolmogorov–Smirnov statistic of a sample against a continuous CDF.
fn ks(mut v: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, x)| {
            let f = cdf(*x);
            ((i + 1) as f64 / n - f).max(f - i as f64 / n)
        })
        .fold(0.0, f64::max)
}

/// Per-atom counts against the binomial: |k − Rp| ≤ 4√(Rp(1−p)); values outside the support
/// must not occur at all.
fn check_atoms(xs: &[f64], atoms: &[(f64, f64)], what: &str) {
    let r = xs.len() as f64;
    for (v, p) in atoms {
        let k = xs.iter().filter(|x| (*x - v).abs() < 1e-9).count() as f64;
        let sd = (r * p * (1.0 - p)).sqrt();
        assert!(
            (k - r * p).abs() <= 4.0 * sd,
            "{what}: value {v}: {k} of {r}, p = {p}"
        );
    }
    let stray = xs
        .iter()
        .find(|x| atoms.iter().all(|(v, _)| (*x - v).abs() >= 1e-9));
    assert!(
        stray.is_none(),
        "{what}: value {stray:?} outside the support"
    );
}

/// The data the engine draws, read off one step: a formula L̂ = w1·x (or w1·y) has gradient x,
/// so one SGD step from w₀ = 0 with λ = 1 gives w₁ = −x exactly. Each law's sample of R draws
/// (one per run, each from its own stream) is tested against the law: finite laws per atom
/// (binomial, 4 sds), continuous laws by Kolmogorov–Smirnov with the critical value 2.23/√R
/// (P(√R·D > 2.23) ≈ 2e^{−2·2.23²} ≈ 10⁻⁴) and all draws inside the support. A data set drawn
/// without replacement is observed through momentum (β = ½) on the same linear loss: after two
/// steps w₂ = −(1.5x₁ + x₂), which identifies the ordered pair (x₁, x₂); it must be a pair of
/// distinct points, each of the 6 equally likely (the first two of a uniform permutation).
#[test]
fn noise_laws_are_sampled_with_their_distributions() {
    let runs = 20_000u64;
    let draws = |noise: &str, field_y: bool, opt: &str, steps: u64| -> Vec<f64> {
        let var = if field_y { "y" } else { "x" };
        // Data sets set both fields; scalar laws draw the field the loss reads.
        let field = if noise.contains("dataset") {
            String::new()
        } else {
            format!("field = \"{var}\"")
        };
        let s = go(&format!(
            r#"
            seed = 2
            runs = {runs}
            steps = {steps}
            [model]
            kind = "formula"
            loss = "w1*{var}"
            params = 1
            [noise]
            {noise}
            {field}
            [init]
            kind = "point"
            w = 0.0
            [optimizer]
            {opt}
            [observe]
            final_states = true
            "#
        ));
        finals(&s).iter().map(|w| -w[0]).collect()
    };
    let sgd = "kind = \"sgd\"\nlr = 1.0";
    let xs = draws("kind = \"two-point\"\na = 0.3", false, sgd, 1);
    check_atoms(&xs, &[(1.0, 0.5), (-0.7, 0.5)], "two-point");
    let xs = draws(
        "kind = \"discrete\"\nvalues = [-2.0, 0.25, 3.0, 5.0]\nprobs = [0.1, 0.2, 0.3, 0.4]",
        false,
        sgd,
        1,
    );
    check_atoms(
        &xs,
        &[(-2.0, 0.1), (0.25, 0.2), (3.0, 0.3), (5.0, 0.4)],
        "discrete",
    );
    let xs = draws("kind = \"discrete\"\nvalues = [0.0, 1.0]", true, sgd, 1);
    check_atoms(&xs, &[(0.0, 0.5), (1.0, 0.5)], "discrete coin on y");
    let xs = draws("kind = \"dataset\"\nx = [0.5, 1.5, 2.5]", false, sgd, 1);
    check_atoms(
        &xs,
        &[(0.5, 1.0 / 3.0), (1.5, 1.0 / 3.0), (2.5, 1.0 / 3.0)],
        "dataset",
    );

    let crit = 2.23 / (runs as f64).sqrt();
    let (m, s) = (0.3, 2.0);
    let xs = draws("kind = \"gaussian\"\nmean = 0.3\nstd = 2.0", false, sgd, 1);
    let d = ks(xs, |x| normal_cdf((x - m) / s));
    assert!(d <= crit, "gaussian: KS D = {d} > {crit}");
    let xs = draws("kind = \"gaussian\"\nmean = -1.0\nstd = 0.5", true, sgd, 1);
    let d = ks(xs, |x| normal_cdf((x + 1.0) / 0.5));
    assert!(d <= crit, "gaussian on y: KS D = {d} > {crit}");
    let xs = draws("kind = \"uniform\"\nlo = -1.0\nhi = 3.0", false, sgd, 1);
    assert!(xs.iter().all(|x| (-1.0..3.0).contains(x)));
    let d = ks(xs, |x| ((x + 1.0) / 4.0).clamp(0.0, 1.0));
    assert!(d <= crit, "uniform: KS D = {d} > {crit}");

    // Without replacement: ordered pairs of the points {0, 1, 10}.
    let ws = draws(
        "kind = \"dataset\"\nx = [0.0, 1.0, 10.0]\nreplacement = false",
        false,
        "kind = \"momentum\"\nlr = 1.0\nbeta = 0.5",
        2,
    );
    let pairs: Vec<(f64, f64)> = [0.0, 1.0, 10.0]
        .iter()
        .flat_map(|a| [0.0, 1.0, 10.0].map(|b| (*a, b)))
        .filter(|(a, b)| a != b)
        .collect();
    let codes: Vec<(f64, f64)> = pairs
        .iter()
        .map(|(a, b)| (1.5 * a + b, 1.0 / 6.0))
        .collect();
    check_atoms(&ws, &codes, "dataset without replacement, first two draws");
}

/// Injected noise is independent across coordinates and steps (docs: ξ ~ N(0, 1) per coordinate
/// and step): with a zero data gradient, w_T = −λσ Σ_t ξ_t per coordinate, N(0, Tλ²σ²) and
/// independent between coordinates. Sample variances within 4·√(2/(R−1)) relative, the sample
/// correlation within 4/√R of 0.
#[test]
fn injected_noise_is_independent_across_coordinates() {
    let (runs, steps, lr, sigma) = (4000u64, 25u64, 0.1, 1.0);
    let s = go(&format!(
        r#"
        seed = 4
        runs = {runs}
        steps = {steps}
        [model]
        kind = "formula"
        loss = "x*(w1 + w2)"
        params = 2
        [noise]
        kind = "discrete"
        values = [0.0]
        injected_sigma = {sigma:?}
        [init]
        kind = "point"
        w = 0.0
        [optimizer]
        kind = "sgd"
        lr = {lr:?}
        [observe]
        final_states = true
        "#
    ));
    let w = finals(&s);
    let v = steps as f64 * lr * lr * sigma * sigma;
    let rel = 4.0 * (2.0 / (runs - 1) as f64).sqrt();
    let n = runs as f64;
    let mut var = [0.0; 2];
    for (i, vi) in var.iter_mut().enumerate() {
        let m = w.iter().map(|w| w[i]).sum::<f64>() / n;
        assert!(m.abs() <= 4.0 * (v / n).sqrt(), "coordinate {i}: mean {m}");
        *vi = w.iter().map(|w| (w[i] - m).powi(2)).sum::<f64>() / (n - 1.0);
        assert!(
            (*vi / v - 1.0).abs() <= rel,
            "coordinate {i}: variance {} vs {v}",
            *vi
        );
    }
    let cov = w.iter().map(|w| w[0] * w[1]).sum::<f64>() / n;
    let r = cov / (var[0] * var[1]).sqrt();
    assert!(r.abs() <= 4.0 / n.sqrt(), "correlation {r}");
}

/// Every run's initial state follows the init law: the step-0 histogram of w₀ ~ U[−0.5, 1.5)
/// over [−1, 2) in 30 bins has 0 counts outside [−0.5, 1.5) and R/20 ± 4√(R·(1/20)(19/20)) in
/// each of the 20 bins inside.
#[test]
fn initial_states_follow_the_init_law() {
    let runs = 10_000u64;
    let s = go(&format!(
        r#"
        runs = {runs}
        steps = 1
        [model]
        kind = "quadratic"
        [noise]
        kind = "two-point"
        a = -1.0
        [init]
        lo = -0.5
        hi = 1.5
        [optimizer]
        kind = "sgd"
        lr = 0.1
        [[observe.histogram]]
        lo = -1.0
        hi = 2.0
        bins = 30
        steps = [0]
        "#
    ));
    let h = &s.histograms[0];
    assert_eq!((h.step, h.underflow, h.overflow, h.excluded), (0, 0, 0, 0));
    let p = 1.0 / 20.0;
    let sd = (runs as f64 * p * (1.0 - p)).sqrt();
    for (i, c) in h.counts.iter().enumerate() {
        if (5..25).contains(&i) {
            assert!(
                (*c as f64 - runs as f64 * p).abs() <= 4.0 * sd,
                "bin {i}: {c}"
            );
        } else {
            assert_eq!(*c, 0, "bin {i} is outside the init range");
        }
    }
}

/// Numbers within `rel` of each other (relative, or absolute below 1), everything else equal.
fn close(a: &serde_json::Value, b: &serde_json::Value, rel: f64, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= rel * x.abs().max(y.abs()).max(1.0),
                "{at}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                close(p, q, rel, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (k, p) in x {
                close(p, &y[k], rel, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// `Accumulator::record_batch` (exact mode's way of feeding the observers) gives what
/// recording run by run gives: the same counts, histograms and final states, and the same
/// means and standard errors up to rounding, whatever the batch sizes; a shifted value is
/// caught.
#[test]
fn recording_in_batches_equals_recording_run_by_run() {
    use saddle::observe::{
        Accumulator, EscapeSpec, Hist1dSpec, Hist2dSpec, ObserveSpec, RunView, Status,
    };
    let t_max = 40;
    let spec = ObserveSpec {
        histograms: vec![Hist1dSpec {
            param: 0,
            lo: -2.0,
            hi: 2.0,
            bins: 16,
            steps: vec![10, 40],
        }],
        histograms2d: vec![Hist2dSpec {
            params: [0, 1],
            lo: [-2.0, -1.0],
            hi: [2.0, 3.0],
            bins: [4, 5],
            steps: vec![40],
        }],
        trace_steps: vec![10, 25, 40],
        escape: Some(EscapeSpec {
            delta: 0.5,
            center: vec![0.0, 1.0],
        }),
        escape_rate_steps: vec![10, 40],
        final_states: true,
    };
    let steps = spec.record_steps(t_max);
    // 203 runs of two parameters with every status, drawn from a stream.
    let mut rng = stream(7, 0, 0);
    // Per run: w₀, the state at each record step, the status at each record step.
    type Run = (Vec<f64>, Vec<Vec<f64>>, Vec<Status>);
    let runs: Vec<Run> = (0..203u64)
        .map(|r| {
            let w0 = vec![rng.next_f64() * 4.0 - 2.0, rng.next_f64() * 2.0];
            let ws = steps
                .iter()
                .map(|_| vec![rng.next_f64() * 5.0 - 2.5, rng.next_f64() * 5.0 - 1.5])
                .collect();
            let st = steps
                .iter()
                .map(|&t| match r % 7 {
                    0 if t >= 25 => Status::Diverged(25),
                    1 => Status::Absorbed(1),
                    _ => Status::Alive,
                })
                .collect();
            (w0, ws, st)
        })
        .collect();
    let view = |r: usize, k: usize, shift: f64| -> (Vec<f64>, f64) {
        let w: Vec<f64> = runs[r].1[k].iter().map(|x| x + shift).collect();
        let loss = w.iter().map(|x| x * x).sum::<f64>() / 2.0;
        (w, loss)
    };
    let record = |batch: usize, shift: f64| -> serde_json::Value {
        let mut acc = Accumulator::new(&spec, t_max);
        for first in (0..runs.len()).step_by(batch) {
            let last = (first + batch).min(runs.len());
            for (k, &t) in steps.iter().enumerate() {
                let ws: Vec<(Vec<f64>, f64)> = (first..last).map(|r| view(r, k, shift)).collect();
                let views: Vec<RunView<'_>> = (first..last)
                    .zip(&ws)
                    .map(|(r, (w, loss))| RunView {
                        run: r as u64,
                        t,
                        w,
                        w0: &runs[r].0,
                        status: runs[r].2[k],
                        loss: Some(*loss),
                    })
                    .collect();
                if batch == 1 {
                    acc.record(&spec, &views[0]);
                } else {
                    acc.record_batch(&spec, &views);
                }
            }
        }
        serde_json::to_value(acc.finish(&spec)).unwrap()
    };
    let one = record(1, 0.0);
    for batch in [2, 16, 203] {
        close(&record(batch, 0.0), &one, 1e-13, &format!("batch {batch}"));
    }
    // The comparison can fail: a shift of 10⁻⁹ in every state is seen.
    let shifted = std::panic::catch_unwind(|| close(&record(16, 1e-9), &one, 1e-13, "shifted"));
    assert!(shifted.is_err());
}
