//! Exact mode (`mode = "exact"`): the count samplers against the binomial and multinomial
//! laws, exact-mode ensembles against step-by-step ones and against the exact escape
//! probability of `saddle::theory`, thread independence, and the configurations it refuses.

use saddle::config::Experiment;
use saddle::exact::{Counts, Factors};
use saddle::experiment::{run, Summary};
use saddle::noise::{Law, NoiseLaw};
use saddle::rng::stream;
use saddle::theory::escape_probability::{escape_probability, Init};
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::factorial::ln_binomial;

/// The two-sided normal threshold at level 10⁻³ with a Bonferroni correction over m tests.
fn z_crit(m: usize) -> f64 {
    Normal::standard().inverse_cdf(1.0 - 1e-3 / (2.0 * m as f64))
}

fn law(values: &[f64], probs: &[f64], batch: usize) -> NoiseLaw {
    let text = format!(
        "name = \"x\"\nruns = 1\nsteps = 1\n[model]\nkind = \"quadratic\"\n[noise]\nkind = \
         \"discrete\"\nvalues = {values:?}\nprobs = {probs:?}\nbatch = {batch}\n[optimizer]\nkind \
         = \"sgd\"\nlr = 0.1\n"
    );
    Experiment::from_toml(&text).unwrap().noise
}

/// Frequencies of the count of the first factor over `draws` draws of `n` steps, against the
/// Binomial(n, p) pmf: every value within the Bonferroni threshold of its binomial SE.
fn check_counts(f: &Factors, n: u64, expect: &dyn Fn(&[u64]) -> f64, draws: u32) {
    let sampler = Counts::new(f, n);
    let mut rng = stream(99, 0, 0);
    let mut out = vec![0u64; f.len()];
    let mut freq = std::collections::BTreeMap::<Vec<u64>, u64>::new();
    for _ in 0..draws {
        sampler.draw(f, &mut rng, &mut out);
        assert_eq!(out.iter().sum::<u64>(), n, "counts add up to the steps");
        *freq.entry(out.clone()).or_default() += 1;
    }
    let mut total_p = 0.0;
    let m = freq.len();
    for (counts, &c) in &freq {
        let p = expect(counts);
        total_p += p;
        let se = (p * (1.0 - p) / draws as f64).sqrt();
        let got = c as f64 / draws as f64;
        assert!(
            (got - p).abs() <= z_crit(m) * se + 1e-12,
            "counts {counts:?}: {got} vs {p} (se {se})"
        );
    }
    // The outcomes never drawn carry little probability.
    assert!(total_p > 0.99, "drawn outcomes cover {total_p}");
}

#[test]
fn two_factor_counts_are_binomial() {
    // x ∈ {1, −2} with P(1) = 0.3: factors 1 − λx.
    let noise = law(&[1.0, -2.0], &[0.3, 0.7], 1);
    let f = Factors::new(&noise, 0.5).unwrap();
    assert_eq!(f.len(), 2);
    for n in [1u64, 7, 40] {
        let p = f.probs[0];
        check_counts(
            &f,
            n,
            &|c| {
                let k = c[0];
                (ln_binomial(n, k) + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp()
            },
            200_000,
        );
    }
}

#[test]
fn many_factor_counts_are_multinomial() {
    // Three values, and a minibatch of 2 of two values (x̄ ∈ {1, 0, −1}).
    let three = law(&[1.0, 0.5, -1.0], &[0.2, 0.5, 0.3], 1);
    let two_batch = law(&[1.0, -1.0], &[0.5, 0.5], 2);
    for noise in [three, two_batch] {
        let f = Factors::new(&noise, 0.4).unwrap();
        assert_eq!(f.len(), 3);
        let n = 6u64;
        let probs = f.probs.clone();
        check_counts(
            &f,
            n,
            &|c| {
                let mut ln = statrs::function::factorial::ln_factorial(n);
                for (k, p) in c.iter().zip(&probs) {
                    ln += *k as f64 * p.ln() - statrs::function::factorial::ln_factorial(*k);
                }
                ln.exp()
            },
            200_000,
        );
    }
}

fn quadratic(mode: &str, a: f64, lr: f64, runs: u64, steps: u64, observe: &str) -> String {
    format!(
        r#"
name = "q"
mode = "{mode}"
seed = 5
runs = {runs}
steps = {steps}
[model]
kind = "quadratic"
[noise]
kind = "two-point"
a = {a}
[init]
kind = "uniform"
lo = -1.0
hi = 1.0
[optimizer]
kind = "sgd"
lr = {lr}
[divergence]
bound = 1e300
[observe]
{observe}
"#
    )
}

fn go(text: &str) -> Summary {
    run(&Experiment::from_toml(text).unwrap(), 0, None).unwrap()
}

/// Exact mode against the exact escape probability of the theory (an independent sum over
/// count vectors) and against stepping, in trapped, escaping, absorbing (λ = 1) and boundary
/// cells: escape fractions within binomial bounds, γ̂(t) within standard errors.
#[test]
fn exact_mode_has_the_law_of_stepping() {
    let cells = [
        (-1.0, 0.8),
        (-1.0, 0.3),
        (-1.0, 1.0),
        (-1.0, 1.5),
        (0.5, 0.1),
        (-0.5, 1.3),
    ];
    let runs = 4000u64;
    let steps = 200u64;
    let obs = "escape = { delta = 0.05 }\nescape_rate_steps = [20, 200]\ntrace = 5";
    let zc = z_crit(3 * cells.len());
    for (a, lr) in cells {
        let ex = go(&quadratic("exact", a, lr, runs, steps, obs));
        let st = go(&quadratic("step", a, lr, runs, steps, obs));
        assert_eq!(ex.mode, "exact");
        assert_eq!(st.mode, "step");
        let noise = NoiseLaw {
            law: Law::TwoPoint { a },
            ..Experiment::from_toml(&quadratic("step", a, lr, 1, 1, ""))
                .unwrap()
                .noise
        };
        let p = escape_probability(
            &noise,
            lr,
            steps,
            0.05,
            &Init::Uniform { lo: -1.0, hi: 1.0 },
        )
        .unwrap()
        .exact
        .unwrap();
        let se = (p * (1.0 - p) / runs as f64).sqrt();
        let fe = ex.escape.as_ref().unwrap().value;
        let fs = st.escape.as_ref().unwrap().value;
        assert!(
            (fe - p).abs() <= zc * se + 1e-12,
            "a = {a}, λ = {lr}: exact mode {fe} vs P = {p}"
        );
        assert!(
            (fs - p).abs() <= zc * se + 1e-12,
            "a = {a}, λ = {lr}: stepping {fs} vs P = {p}"
        );
        // Absorption at λ = 1 (Prop. 1): every run that drew x = 1 is at 0.
        if lr == 1.0 {
            let want = 1.0 - 0.5f64.powi(steps as i32);
            assert!((ex.absorbed as f64 / runs as f64 - want).abs() < 1e-3);
        }
        for (ge, gs) in ex.escape_rate.iter().zip(&st.escape_rate) {
            if let (Some(ve), Some(vs), Some(se_e), Some(se_s)) =
                (ge.value, gs.value, ge.stderr, gs.stderr)
            {
                let se = (se_e * se_e + se_s * se_s).sqrt();
                assert!(
                    (ve - vs).abs() <= zc * se,
                    "a = {a}, λ = {lr}, t = {}: γ̂ {ve} vs {vs} ± {se}",
                    ge.t
                );
            }
        }
    }
}

/// Both modes draw w₀ first from the same stream: the histograms at step 0 are identical.
#[test]
fn both_modes_start_from_the_same_w0() {
    let obs = "[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nbins = 64\nsteps = [0, 50]";
    let ex = go(&quadratic("exact", -1.0, 0.8, 3000, 50, obs));
    let st = go(&quadratic("step", -1.0, 0.8, 3000, 50, obs));
    assert_eq!(ex.histograms[0].step, 0);
    assert_eq!(ex.histograms[0].counts, st.histograms[0].counts);
    assert_ne!(ex.histograms[1].counts, ex.histograms[0].counts);
}

#[test]
fn exact_mode_does_not_depend_on_the_thread_count() {
    let text = quadratic(
        "exact",
        -1.0,
        0.8,
        1001,
        300,
        "escape = { delta = 0.05 }\nescape_rate_steps = [10, 300]\ntrace = 6\nfinal_states = true",
    );
    let e = Experiment::from_toml(&text).unwrap();
    let mut outs = Vec::new();
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let s = pool.install(|| run(&e, 3, None).unwrap());
        outs.push((serde_json::to_string(&s).unwrap(), s.final_states.clone()));
    }
    assert!(outs.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn exact_mode_is_refused_where_there_is_no_product_law() {
    let base = quadratic("exact", -1.0, 0.8, 10, 10, "");
    let cases = [
        (
            base.replace("kind = \"quadratic\"", "kind = \"quartic\""),
            "model.kind = \"quadratic\"",
        ),
        (
            base.replace(
                "kind = \"two-point\"\na = -1\n",
                "kind = \"gaussian\"\nmean = 0.0\nstd = 1.0\n",
            ),
            "noise.kind",
        ),
        (
            base.replace("kind = \"sgd\"", "kind = \"momentum\""),
            "optimizer.kind = \"sgd\"",
        ),
        (
            base.replace("a = -1\n", "a = -1\ninjected_sigma = 0.1\n"),
            "injected",
        ),
        (
            base.replace("lr = 0.8", "lr = 0.8\nclip = [-1.0, 1.0]"),
            "clip",
        ),
        (
            base.replace("mode = \"exact\"", "mode = \"fast\""),
            "step, exact",
        ),
    ];
    for (text, want) in cases {
        let err = match Experiment::from_toml(&text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("mode") && err.contains(want), "{err}");
    }
    // The resolved file states the mode, and reads back the same.
    let e = Experiment::from_toml(&base).unwrap();
    assert!(e.to_toml().contains("mode = \"exact\""));
    assert_eq!(Experiment::from_toml(&e.to_toml()).unwrap(), e);
}
