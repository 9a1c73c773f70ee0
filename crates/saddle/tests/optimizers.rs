//! Update rules against steps worked out by hand (the arithmetic is in the comments and the
//! expected values are written as the literal expressions of that arithmetic), then a few
//! deterministic runs through the engine that check it feeds the optimizer the right gradient,
//! the right (1-based) step counter, persistent state and the box constraint.

use saddle::config::Experiment;
use saddle::optimizer::{Adam, AdamState, Momentum, Optimizer, RmsProp, Sgd};

/// Tolerance for hand-computed steps: a few ulps of O(1) numbers.
const TOL: f64 = 1e-14;

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= TOL * (1.0 + w.abs()),
            "{what}: coordinate {i} is {g}, expected {w} (all: {got:?} vs {want:?})"
        );
    }
}

/// Apply `grads` one after another (t = 1, 2, …) and check w after each step.
fn steps<O: Optimizer<[f64; N]>, const N: usize>(
    opt: &O,
    w0: [f64; N],
    grads: &[[f64; N]],
    want: &[[f64; N]],
    what: &str,
) -> O::State {
    let mut s = opt.init();
    let mut w = w0;
    for (k, (g, e)) in grads.iter().zip(want).enumerate() {
        opt.update(&mut s, &mut w, g, k as u64 + 1);
        assert_close(&w, e, &format!("{what}, after step {}", k + 1));
    }
    s
}

#[test]
fn sgd_steps() {
    // w ← w − λg with λ = 0.1:
    // [1, −2] − 0.1·[0.5, −1] = [0.95, −1.9]; − 0.1·[2, 0] = [0.75, −1.9];
    // − 0.1·[−1, 4] = [0.85, −2.3].
    steps(
        &Sgd { lr: 0.1 },
        [1.0, -2.0],
        &[[0.5, -1.0], [2.0, 0.0], [-1.0, 4.0]],
        &[[0.95, -1.9], [0.75, -1.9], [0.85, -2.3]],
        "sgd",
    );
}

#[test]
fn momentum_steps() {
    // m ← βm + g, w ← w − λm with λ = 0.1, β = 0.9, m₀ = 0.
    // w₁: g = 1, 0.5, −2:  m = 1 → w = 0.9;  m = 0.9 + 0.5 = 1.4 → w = 0.76;
    //                      m = 1.26 − 2 = −0.74 → w = 0.834.
    // w₂ (from 0): g = −1, 3, 0: m = −1 → w = 0.1;  m = −0.9 + 3 = 2.1 → w = −0.11;
    //                      m = 1.89 → w = −0.299.
    let m = steps(
        &Momentum {
            lr: 0.1,
            beta: 0.9,
            nesterov: false,
        },
        [1.0, 0.0],
        &[[1.0, -1.0], [0.5, 3.0], [-2.0, 0.0]],
        &[[0.9, 0.1], [0.76, -0.11], [0.834, -0.299]],
        "momentum",
    );
    assert_close(&m, &[-0.74, 1.89], "momentum buffer");
}

#[test]
fn rmsprop_steps_pytorch_form() {
    // v ← βv + (1−β)g², w ← w − λg/(√v + ε) with λ = 0.1, β = 0.9, ε = 0.1 (large on
    // purpose: PyTorch adds ε outside the square root, and that is what is checked).
    // g = 2:  v = 0.1·4 = 0.4;            w = 1 − 0.1·2/(√0.4 + 0.1)
    // g = −1: v = 0.36 + 0.1 = 0.46;      w += 0.1/(√0.46 + 0.1)
    // g = 0:  v = 0.414;                  w unchanged
    let w1 = 1.0 - 0.1 * 2.0 / (0.4f64.sqrt() + 0.1);
    let w2 = w1 + 0.1 / (0.46f64.sqrt() + 0.1);
    let v = steps(
        &RmsProp {
            lr: 0.1,
            beta: 0.9,
            eps: 0.1,
        },
        [1.0],
        &[[2.0], [-1.0], [0.0]],
        &[[w1], [w2], [w2]],
        "rmsprop",
    );
    assert_close(&v, &[0.414], "rmsprop v");
}

fn adam(amsgrad: bool, bias_correction: bool, eps: f64) -> Adam {
    Adam {
        lr: 0.1,
        beta1: 0.5,
        beta2: 0.75,
        eps,
        amsgrad,
        bias_correction,
    }
}

// The gradient sequence g = 2, −1, 0.5 with β₁ = 0.5, β₂ = 0.75, λ = 0.1, w₀ = 1:
//   m₁ = 0.5·2 = 1,            v₁ = 0.25·4 = 1
//   m₂ = 0.5 − 0.5 = 0,        v₂ = 0.75 + 0.25 = 1
//   m₃ = 0 + 0.25 = 0.25,      v₃ = 0.75 + 0.0625 = 0.8125   (v decreases: AMSGrad's max
//                                                              keeps v̂₃ = 1)
const GRADS: [[f64; 1]; 3] = [[2.0], [-1.0], [0.5]];

#[test]
fn adam_paper_variant_fig2() {
    // No bias correction, ε = 0: w ← w − λ m/√v.
    // w₁ = 1 − 0.1·1/1 = 0.9; w₂ = 0.9 (m₂ = 0); w₃ = 0.9 − 0.1·0.25/√0.8125.
    let s = steps(
        &adam(false, false, 0.0),
        [1.0],
        &GRADS,
        &[[0.9], [0.9], [0.9 - 0.1 * 0.25 / 0.8125f64.sqrt()]],
        "adam (paper)",
    );
    assert_close(&s.m, &[0.25], "m");
    assert_close(&s.v, &[0.8125], "v");
}

#[test]
fn amsgrad_paper_variant_fig2() {
    // Eqs 12–15: v̂ = max(v̂, v): v̂ = 1, 1, max(1, 0.8125) = 1.
    // w₁ = 0.9; w₂ = 0.9; w₃ = 0.9 − 0.1·0.25/1 = 0.875.
    let s: AdamState<[f64; 1]> = steps(
        &adam(true, false, 0.0),
        [1.0],
        &GRADS,
        &[[0.9], [0.9], [0.875]],
        "amsgrad (paper)",
    );
    assert_close(&s.v, &[0.8125], "v");
    assert_close(&s.vmax, &[1.0], "v̂");
}

#[test]
fn amsgrad_paper_without_momentum_is_normalised_sgd() {
    // β₁ = 0 (the case of Prop. 5): m = g, so w ← w − λ g/√v̂ with v̂ the running max of v.
    // β₂ = 0.75, g = 2, −1, 0.5: v = 1, 1, 0.8125, v̂ = 1, 1, 1:
    // w = 1 − 0.2 = 0.8; 0.8 + 0.1 = 0.9; 0.9 − 0.05 = 0.85.
    let opt = Adam {
        beta1: 0.0,
        ..adam(true, false, 0.0)
    };
    steps(
        &opt,
        [1.0],
        &GRADS,
        &[[0.8], [0.9], [0.85]],
        "amsgrad β₁ = 0",
    );
}

#[test]
fn adam_library_variant_bias_corrected() {
    // m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ): c₁ = 0.5, 0.75, 0.875; c₂ = 0.25, 0.4375, 0.578125.
    // t = 1: m̂ = 2, v̂ = 4: w = 1 − 0.1·2/(2 + ε) (the classic first Adam step ≈ λ·sign g).
    // t = 2: m = 0: no move.
    // t = 3: w −= 0.1·(0.25/0.875)/(√(0.8125/0.578125) + ε).
    for eps in [0.0, 1e-3] {
        let w1 = 1.0 - 0.1 * 2.0 / (2.0 + eps);
        let w3 = w1 - 0.1 * (0.25 / 0.875) / ((0.8125f64 / 0.578125).sqrt() + eps);
        steps(
            &adam(false, true, eps),
            [1.0],
            &GRADS,
            &[[w1], [w1], [w3]],
            "adam (library)",
        );
    }
}

#[test]
fn amsgrad_library_variant_max_over_uncorrected_v() {
    // PyTorch: v̂ = max over the *uncorrected* v (max(1, 1, 0.8125) = 1), then divided by
    // 1 − β₂ᵗ: at t = 3, v̂ = 1/0.578125.
    // w₃ = 0.9 − 0.1·(0.25/0.875)/√(1/0.578125).
    let w3 = 0.9 - 0.1 * (0.25 / 0.875) / (1.0f64 / 0.578125).sqrt();
    let s = steps(
        &adam(true, true, 0.0),
        [1.0],
        &GRADS,
        &[[0.9], [0.9], [w3]],
        "amsgrad (library)",
    );
    assert_close(&s.vmax, &[1.0], "v̂ (uncorrected)");
    // Not optax's order (max after correction: max(4, 1/0.4375, 0.8125/0.578125) = 4), which
    // would give 0.9 − 0.1·(0.25/0.875)/2.
    let optax = 0.9 - 0.1 * (0.25 / 0.875) / 2.0;
    assert!((w3 - optax).abs() > 1e-3);
}

#[test]
fn coordinates_are_updated_independently() {
    // A 2-D Adam step equals two 1-D steps.
    for (ams, lib) in [(false, false), (true, false), (false, true), (true, true)] {
        let opt = adam(ams, lib, 1e-8);
        let mut s2 = Optimizer::<[f64; 2]>::init(&opt);
        let (mut sa, mut sb) = (
            Optimizer::<[f64; 1]>::init(&opt),
            Optimizer::<[f64; 1]>::init(&opt),
        );
        let (mut w2, mut wa, mut wb) = ([1.0, -0.5], [1.0], [-0.5]);
        for (t, g) in [[2.0, 0.3], [-1.0, -4.0], [0.5, 1.0], [0.0, 2.0]]
            .iter()
            .enumerate()
        {
            let t = t as u64 + 1;
            opt.update(&mut s2, &mut w2, g, t);
            opt.update(&mut sa, &mut wa, &[g[0]], t);
            opt.update(&mut sb, &mut wb, &[g[1]], t);
            assert_eq!(w2, [wa[0], wb[0]]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Through the engine (public API), with deterministic data so every step is known.
// ---------------------------------------------------------------------------------------------

fn run_final(toml: &str) -> Vec<Vec<f64>> {
    let exp = Experiment::from_toml(toml).expect("valid experiment");
    let s = saddle::experiment::run(&exp, 0, None).expect("runs");
    assert_eq!(s.diverged, 0);
    s.final_states
        .expect("final_states requested")
        .into_iter()
        .map(|f| f.w)
        .collect()
}

fn exp(noise: &str, optimizer: &str, w0: f64, steps: u64) -> String {
    format!(
        r#"
        runs = 3
        steps = {steps}
        [model]
        kind = "quadratic"
        [noise]
        {noise}
        [init]
        kind = "point"
        w = [{w0:?}]
        [optimizer]
        {optimizer}
        [observe]
        final_states = true
        "#
    )
}

#[test]
fn engine_momentum_keeps_its_buffer_across_steps() {
    // L̂ = x w²/2 with x ≡ 2: g = 2w. λ = 0.1, β = 0.9, w₀ = 1:
    // g = 2 → m = 2, w = 0.8;  g = 1.6 → m = 1.8 + 1.6 = 3.4, w = 0.46;
    // g = 0.92 → m = 3.06 + 0.92 = 3.98, w = 0.062.
    let f = run_final(&exp(
        "kind = \"discrete\"\nvalues = [2.0]\nprobs = [1.0]",
        "kind = \"momentum\"\nlr = 0.1\nbeta = 0.9",
        1.0,
        3,
    ));
    for w in f {
        assert_close(&w, &[0.062], "engine momentum");
    }
}

#[test]
fn engine_passes_one_based_step_to_bias_correction() {
    // x ≡ 1: g = w. Adam library, β₁ = 0.5, β₂ = 0.75, ε = 0, λ = 0.1, w₀ = 1:
    // t = 1: m = 0.5, v = 0.25, m̂ = 1, v̂ = 1 → w = 0.9
    // t = 2: g = 0.9: m = 0.25 + 0.45 = 0.7, v = 0.1875 + 0.2025 = 0.39;
    //        m̂ = 0.7/0.75, v̂ = 0.39/0.4375 → w = 0.9 − 0.1·(0.7/0.75)/√(0.39/0.4375).
    // (With a 0-based counter the first step would divide by 1 − β⁰ = 0.)
    let want = 0.9 - 0.1 * (0.7 / 0.75) / (0.39f64 / 0.4375).sqrt();
    let f = run_final(&exp(
        "kind = \"discrete\"\nvalues = [1.0]\nprobs = [1.0]",
        "kind = \"adam\"\nvariant = \"library\"\nlr = 0.1\nbeta1 = 0.5\nbeta2 = 0.75\neps = 0.0",
        1.0,
        2,
    ));
    for w in f {
        assert_close(&w, &[want], "engine adam (library)");
    }
}

#[test]
fn engine_gd_uses_the_expected_gradient() {
    // GD on the quadratic with two-point noise (E[x] = a/2 = −0.5): w_T = w₀(1 + 0.5λ)^T with
    // λ = 0.2, T = 7: w₇ = 0.3·1.1⁷ for every run (no randomness in GD).
    let f = run_final(&exp(
        "kind = \"two-point\"\na = -1.0",
        "kind = \"gd\"\nlr = 0.2",
        0.3,
        7,
    ));
    let want = 0.3 * 1.1f64.powi(7);
    for w in f {
        assert!((w[0] - want).abs() < 1e-14, "{} vs {want}", w[0]);
    }
}

#[test]
fn engine_clips_after_every_step() {
    // x ≡ −1 pushes w outward: w ← 1.5w with λ = 0.5. From 0.8: 1.2 → clipped to 1; then
    // 1.5 → 1 again. Without the clip, w₂ = 1.8.
    let f = run_final(&exp(
        "kind = \"discrete\"\nvalues = [-1.0]\nprobs = [1.0]",
        "kind = \"sgd\"\nlr = 0.5\nclip = [-1.0, 1.0]",
        0.8,
        2,
    ));
    for w in f {
        assert_eq!(w, vec![1.0]);
    }
    // One step from −0.6: −0.6·1.5 = −0.9, inside [−1, 1], so the clip leaves it alone.
    let f = run_final(&exp(
        "kind = \"discrete\"\nvalues = [-1.0]\nprobs = [1.0]",
        "kind = \"sgd\"\nlr = 0.5\nclip = [-1.0, 1.0]",
        -0.6,
        1,
    ));
    for w in f {
        assert_close(&w, &[-0.9], "unclipped step");
    }
}

#[test]
fn engine_gd_with_a_continuous_law_uses_the_closed_form() {
    // Quartic L̂ = x w²/2 + b w⁴/4 with x ~ N(−0.5, 1): ∇L = E[x]·w + b w³ = −0.5w + w³ (b = 1).
    // GD from w₀ = 0.2 with λ = 0.1 for 5 steps, iterated here; every run is the same.
    let mut want = 0.2f64;
    for _ in 0..5 {
        want -= 0.1 * (-0.5 * want + want * want * want);
    }
    let f = run_final(
        &exp(
            "kind = \"gaussian\"\nmean = -0.5\nstd = 1.0\nbatch = 7",
            "kind = \"gd\"\nlr = 0.1",
            0.2,
            5,
        )
        .replace("kind = \"quadratic\"", "kind = \"quartic\""),
    );
    for w in f {
        assert_close(&w, &[want], "gd on the quartic, gaussian law");
    }
}

#[test]
fn engine_gd_without_an_expected_gradient_is_an_error() {
    use saddle::ensemble::EnsembleError;
    use saddle::experiment::RunError;
    for (model, noise) in [
        // The tiny network's closed form needs a deterministic x.
        (
            "kind = \"tiny-net\"",
            "kind = \"gaussian\"\nstd = 1.0\nfield = \"x\"",
        ),
        // A formula has no closed form for a continuous law.
        (
            "kind = \"formula\"\nloss = \"x*w1^2\"\nparams = 1",
            "kind = \"uniform\"\nlo = 0.0\nhi = 1.0",
        ),
    ] {
        let text = format!(
            "runs = 2\nsteps = 2\n[model]\n{model}\n[noise]\n{noise}\n[optimizer]\nkind = \"gd\"\nlr = 0.1\n"
        );
        let e = Experiment::from_toml(&text).unwrap();
        match saddle::experiment::run(&e, 0, None) {
            Err(RunError::Ensemble(EnsembleError::NoExpectedGradient(_))) => {}
            other => panic!(
                "{model}: expected NoExpectedGradient, got {:?}",
                other.map(|s| s.name)
            ),
        }
    }
}

#[test]
fn engine_absorbs_a_run_that_starts_at_the_fixed_origin() {
    // Docs: a run whose w₀ is exactly 0 on a model with a fixed origin is absorbed at step 0.
    let text = exp(
        "kind = \"two-point\"\na = -1.0",
        "kind = \"sgd\"\nlr = 0.5",
        0.0,
        4,
    );
    let s = saddle::experiment::run(&Experiment::from_toml(&text).unwrap(), 0, None).unwrap();
    assert_eq!((s.absorbed, s.diverged), (3, 0));
    for f in s.final_states.unwrap() {
        assert_eq!(f.status, saddle::observe::Status::Absorbed(0));
        assert_eq!(f.w, vec![0.0]);
    }
}

#[test]
fn summary_names_the_model_and_optimizer() {
    for kind in ["gd", "sgd", "momentum", "rmsprop", "adam", "amsgrad"] {
        let text = exp(
            "kind = \"two-point\"\na = -1.0",
            &format!("kind = \"{kind}\"\nlr = 0.01"),
            0.5,
            2,
        );
        let s = saddle::experiment::run(&Experiment::from_toml(&text).unwrap(), 0, None).unwrap();
        assert_eq!(
            (s.model.as_str(), s.optimizer.as_str()),
            ("quadratic", kind)
        );
        assert_eq!((s.runs, s.steps, s.cell), (3, 2, 0));
    }
}

// ---------------------------------------------------------------------------------------------
// Nesterov momentum and weight decay (PyTorch's conventions).
// ---------------------------------------------------------------------------------------------

#[test]
fn nesterov_steps_pytorch_form() {
    // v ← μv + g, w ← w − λ(g + μv) with λ = 0.1, μ = 0.9, v₀ = 0 (PyTorch's
    // SGD(nesterov=True), no dampening):
    // g = 1:   v = 1,              w = 1 − 0.1·(1 + 0.9) = 0.81
    // g = 0.5: v = 0.9 + 0.5 = 1.4, w = 0.81 − 0.1·(0.5 + 1.26) = 0.634
    // g = −2:  v = 1.26 − 2 = −0.74, w = 0.634 − 0.1·(−2 − 0.666) = 0.9006
    let v = steps(
        &Momentum {
            lr: 0.1,
            beta: 0.9,
            nesterov: true,
        },
        [1.0],
        &[[1.0], [0.5], [-2.0]],
        &[[0.81], [0.634], [0.9006]],
        "nesterov",
    );
    assert_close(&v, &[-0.74], "nesterov buffer");
}

#[test]
fn engine_nesterov() {
    // x ≡ 1: g = w. λ = 0.1, μ = 0.9, w₀ = 1:
    // g = 1:    v = 1,                    w = 1 − 0.1·1.9 = 0.81
    // g = 0.81: v = 0.9 + 0.81 = 1.71,    w = 0.81 − 0.1·(0.81 + 1.539) = 0.5751
    let f = run_final(&exp(
        "kind = \"discrete\"\nvalues = [1.0]\nprobs = [1.0]",
        "kind = \"nesterov\"\nlr = 0.1\nbeta = 0.9",
        1.0,
        2,
    ));
    for w in f {
        assert_close(&w, &[0.5751], "engine nesterov");
    }
}

#[test]
fn engine_l2_weight_decay_is_added_to_the_gradient() {
    // x ≡ 1: g = w + wd·w (PyTorch's weight_decay). λ = 0.1, wd = 0.5, w₀ = 1.
    let x1 = "kind = \"discrete\"\nvalues = [1.0]\nprobs = [1.0]";
    // SGD: w ← w − 0.1·1.5w = 0.85w: w₂ = 0.7225.
    for w in run_final(&exp(
        x1,
        "kind = \"sgd\"\nlr = 0.1\nweight_decay = 0.5",
        1.0,
        2,
    )) {
        assert_close(&w, &[0.7225], "sgd + weight decay");
    }
    // GD on two-point noise with E x = a/2 = 0.25 (a = 0.5): g = 0.25w + 0.5w = 0.75w,
    // w ← (1 − 0.075)w: w₃ = 0.925³ = 0.791453125.
    let two = "kind = \"two-point\"\na = 0.5";
    for w in run_final(&exp(
        two,
        "kind = \"gd\"\nlr = 0.1\nweight_decay = 0.5",
        1.0,
        3,
    )) {
        assert_close(&w, &[0.791_453_125], "gd + weight decay");
    }
    // Momentum (β = 0.9): g = 1.5 → m = 1.5, w = 0.85; g = 1.275 → m = 1.35 + 1.275 = 2.625,
    // w = 0.85 − 0.2625 = 0.5875.
    for w in run_final(&exp(
        x1,
        "kind = \"momentum\"\nlr = 0.1\nbeta = 0.9\nweight_decay = 0.5",
        1.0,
        2,
    )) {
        assert_close(&w, &[0.5875], "momentum + weight decay");
    }
    // Nesterov: g = 1.5 → v = 1.5, w = 1 − 0.1·(1.5 + 1.35) = 0.715.
    for w in run_final(&exp(
        x1,
        "kind = \"nesterov\"\nlr = 0.1\nbeta = 0.9\nweight_decay = 0.5",
        1.0,
        1,
    )) {
        assert_close(&w, &[0.715], "nesterov + weight decay");
    }
    // RMSProp (β = 0.9, ε = 0): g = 1.5 → v = 0.1·2.25 = 0.225, w = 1 − 0.1·1.5/√0.225.
    for w in run_final(&exp(
        x1,
        "kind = \"rmsprop\"\nlr = 0.1\nbeta = 0.9\neps = 0.0\nweight_decay = 0.5",
        1.0,
        1,
    )) {
        assert_close(
            &w,
            &[1.0 - 0.15 / 0.225f64.sqrt()],
            "rmsprop + weight decay",
        );
    }
    // Adam, library variant (β₁ = 0.5, β₂ = 0.75, ε = 0): the first step is λ·sign(g) = 0.1
    // whatever g; the second from w = 0.9 has g = 1.35:
    // m = 0.5·0.75 + 0.675 = 1.05, v = 0.75·0.5625 + 0.25·1.8225 = 0.8775;
    // m̂ = 1.05/0.75 = 1.4, v̂ = 0.8775/0.4375 → w = 0.9 − 0.1·1.4/√(0.8775/0.4375).
    let want = 0.9 - 0.1 * 1.4 / (0.8775f64 / 0.4375).sqrt();
    for w in run_final(&exp(
        x1,
        "kind = \"adam\"\nvariant = \"library\"\nlr = 0.1\nbeta1 = 0.5\nbeta2 = 0.75\neps = 0.0\n\
         weight_decay = 0.5",
        1.0,
        2,
    )) {
        assert_close(&w, &[want], "adam + weight decay");
    }
}

#[test]
fn engine_adamw_decouples_weight_decay() {
    // PyTorch's AdamW: w ← (1 − λ·wd)·w, then the Adam step with the plain gradient. x ≡ 1:
    // g = w. λ = 0.1, wd = 0.5, β₁ = 0.5, β₂ = 0.75, ε = 0, w₀ = 1:
    // t = 1: g = 1; w = 0.95 − 0.1·1/1 = 0.85 (m̂ = v̂ = 1).
    // t = 2: g = 0.85; m = 0.25 + 0.425 = 0.675, v = 0.1875 + 0.180625 = 0.368125;
    //        m̂ = 0.675/0.75 = 0.9, v̂ = 0.368125/0.4375; w = 0.95·0.85 − 0.1·0.9/√v̂.
    let want = 0.95 * 0.85 - 0.1 * 0.9 / (0.368_125f64 / 0.4375).sqrt();
    let f = run_final(&exp(
        "kind = \"discrete\"\nvalues = [1.0]\nprobs = [1.0]",
        "kind = \"adamw\"\nlr = 0.1\nbeta1 = 0.5\nbeta2 = 0.75\neps = 0.0\nweight_decay = 0.5",
        1.0,
        2,
    ));
    for w in f {
        assert_close(&w, &[want], "adamw");
    }
    // AdamW's defaults are PyTorch's: weight_decay = 0.01, bias-corrected, ε = 1e-8. One step
    // from w₀ = 1 with g = 1: w = 0.999 − 0.1·1/(1 + 1e-8).
    let f = run_final(&exp(
        "kind = \"discrete\"\nvalues = [1.0]\nprobs = [1.0]",
        "kind = \"adamw\"\nlr = 0.1",
        1.0,
        1,
    ));
    for w in f {
        assert_close(&w, &[0.999 - 0.1 / (1.0 + 1e-8)], "adamw defaults");
    }
}

#[test]
fn weight_decay_is_validated() {
    let bad = |optimizer: &str, key: &str, msg: &str| {
        let toml = exp("kind = \"two-point\"\na = 0.5", optimizer, 1.0, 2);
        let e = Experiment::from_toml(&toml).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains(msg), "{optimizer}: {e}");
    };
    bad(
        "kind = \"sgd\"\nlr = 0.1\nweight_decay = -1.0",
        "optimizer.weight_decay",
        "must be >= 0 (got -1)",
    );
    // The SDE has no weight decay.
    bad(
        "kind = \"sde\"\nlr = 0.1\nweight_decay = 0.1",
        "optimizer.weight_decay",
        "unknown key",
    );
    // AdamW's factor 1 − λ·wd must stay ≥ 0.
    bad(
        "kind = \"adamw\"\nlr = 10.0\nweight_decay = 0.5",
        "optimizer.weight_decay",
        "1 − lr·weight_decay",
    );
    // Exact mode has no weight decay (the law of the product changes).
    let toml = format!(
        "mode = \"exact\"\n{}",
        exp(
            "kind = \"two-point\"\na = 0.5",
            "kind = \"sgd\"\nlr = 0.1\nweight_decay = 0.1",
            1.0,
            2
        )
    );
    let e = Experiment::from_toml(&toml).unwrap_err().to_string();
    assert!(e.contains("mode") && e.contains("no weight decay"), "{e}");
    // And the resolved experiment writes weight_decay back, so it round-trips.
    let e = Experiment::from_toml(&exp(
        "kind = \"two-point\"\na = 0.5",
        "kind = \"nesterov\"\nlr = 0.1\nweight_decay = 0.25",
        1.0,
        2,
    ))
    .unwrap();
    assert_eq!(Experiment::from_toml(&e.to_toml()).unwrap(), e);
    assert!(e.to_toml().contains("weight_decay = 0.25"));
}
