//! The ensemble engine against a plain step-by-step simulation written here from the public
//! pieces (each run's stream, `Sampler::draw`, `Model::grad_acc`, `Optimizer::update`, the box,
//! the divergence bound and absorption as documented). The engine advances 32 runs in lockstep,
//! draws blocks of data ahead (coin flips 64 at a time), keeps states in registers and freezes
//! runs by selects; none of that may change a single run's trajectory. Final states and
//! statuses are compared run by run (to the bit, except the sign of a zero).

use saddle::ensemble::{Boundary, Ensemble, GradientSource, Init, Settings, ABSORB_BELOW};
use saddle::model::{Field, Model, Quadratic, Quartic, Sample, TinyNet};
use saddle::noise::{Law, NoiseLaw};
use saddle::observe::{ObserveSpec, Status};
use saddle::optimizer::{Adam, Momentum, Optimizer, Sgd, WeightDecay};
use saddle::rng::{standard_normal, stream};
use saddle::vector::Vector;

fn settings(
    runs: u64,
    steps: u64,
    init: Init,
    sigma: f64,
    clip: Option<(f64, f64)>,
    bound: f64,
) -> Settings {
    Settings {
        runs,
        steps,
        seed: 11,
        cell: 4,
        init,
        gradient: GradientSource::Sampled,
        sigma,
        clip,
        boundary: Boundary::Truncate,
        bound,
        decay: WeightDecay::NONE,
        observe: ObserveSpec {
            final_states: true,
            ..ObserveSpec::default()
        },
    }
}

/// One run simulated step by step: (final state, status).
fn reference<M: Model, O: Optimizer<M::W>>(
    model: &M,
    noise: &NoiseLaw,
    opt: &O,
    s: &Settings,
    run: u64,
) -> (M::W, Status) {
    let mut rng = stream(s.seed, s.cell, run as u32);
    let mut w = M::W::zeros();
    match &s.init {
        Init::Uniform { lo, hi } => {
            for ((x, l), h) in w.as_mut_slice().iter_mut().zip(lo).zip(hi) {
                *x = l + (h - l) * rng.next_f64();
            }
        }
        Init::Point(p) => w = M::W::from_slice(p),
    }
    let absorbing = model.origin_is_fixed() && s.sigma == 0.0 && opt.rests_with_zero_gradient();
    let tiny = |w: &M::W| w.as_slice().iter().all(|x| x.abs() < ABSORB_BELOW);
    if absorbing && tiny(&w) {
        return (w, Status::Absorbed(0));
    }
    let mut sampler = noise.sampler();
    let mut state = opt.init();
    for t in 1..=s.steps {
        let mut g = M::W::zeros();
        for _ in 0..noise.batch {
            let x: Sample = sampler.draw(&mut rng);
            model.grad_acc(&w, &x, 1.0 / noise.batch as f64, &mut g);
        }
        if s.sigma != 0.0 {
            for gi in g.as_mut_slice() {
                *gi += s.sigma * standard_normal(&mut rng);
            }
        }
        let mut next = w;
        opt.update(&mut state, &mut next, &g, t);
        if let Some((lo, hi)) = s.clip {
            for x in next.as_mut_slice() {
                *x = x.clamp(lo, hi);
            }
        }
        // Non-finite or beyond the bound (NaN fails every comparison).
        if next
            .as_slice()
            .iter()
            .any(|x| x.is_nan() || x.abs() > s.bound)
        {
            return (w, Status::Diverged(t));
        }
        w = next;
        if absorbing && tiny(&w) {
            return (w, Status::Absorbed(t));
        }
    }
    (w, Status::Alive)
}

fn check<M: Model, O: Optimizer<M::W>>(
    what: &str,
    model: &M,
    noise: &NoiseLaw,
    opt: &O,
    s: &Settings,
) {
    let e = Ensemble::new(model, noise, opt, s).expect("valid ensemble");
    let finals = e
        .run(None)
        .observed
        .final_states
        .expect("final states kept");
    assert_eq!(finals.len() as u64, s.runs);
    let mut statuses = [0u64; 3];
    for f in &finals {
        let (w, status) = reference(model, noise, opt, s, f.run);
        assert_eq!(f.status, status, "{what}: run {} status", f.run);
        for (i, (a, b)) in f.w.iter().zip(w.as_slice()).enumerate() {
            let same = a.to_bits() == b.to_bits() || (*a == 0.0 && *b == 0.0);
            assert!(
                same,
                "{what}: run {} w{} = {a:e}, step by step {b:e}",
                f.run,
                i + 1
            );
        }
        statuses[match status {
            Status::Alive => 0,
            Status::Diverged(_) => 1,
            Status::Absorbed(_) => 2,
        }] += 1;
    }
    eprintln!("{what}: alive, diverged, absorbed = {statuses:?}");
}

fn two_point(a: f64) -> NoiseLaw {
    NoiseLaw {
        law: Law::TwoPoint { a },
        field: Field::X,
        batch: 1,
    }
}

fn uniform(lo: &[f64], hi: &[f64]) -> Init {
    Init::Uniform {
        lo: lo.to_vec(),
        hi: hi.to_vec(),
    }
}

/// SGD on the quadratic with two-point noise (the coin path, 64 flips per block): λ = 1 and
/// a = −1 absorb a run at 0 the first time x = 1, and a run with no x = 1 grows past the
/// bound; 150 steps cross block boundaries, and 101 runs leave a partial lane group.
#[test]
fn quadratic_coin_path_with_divergence_and_absorption() {
    let s = settings(101, 150, uniform(&[-1.0], &[1.0]), 0.0, None, 100.0);
    check(
        "quadratic, λ = 1",
        &Quadratic,
        &two_point(-1.0),
        &Sgd { lr: 1.0 },
        &s,
    );
    // Near the phase boundary (γ ≈ −0.06 per step) with a low bound: some runs wander out.
    let s = settings(101, 150, uniform(&[-1.0], &[1.0]), 0.0, None, 10.0);
    check(
        "quadratic, λ = 1.3",
        &Quadratic,
        &two_point(-0.5),
        &Sgd { lr: 1.3 },
        &s,
    );
}

/// The tiny network with two equally likely targets (coin path, two parameters), some runs
/// diverging at a large learning rate.
#[test]
fn tiny_net_coin_path() {
    let (noise, s) = tiny_net_setting();
    check("tiny net", &TinyNet, &noise, &Sgd { lr: 0.12 }, &s);
}

/// The tiny network's two equally likely targets, and 70 runs of 300 steps from
/// w₁ ~ U[−1, 1], w₂ ~ U[0, 1], diverged past 10⁶.
fn tiny_net_setting() -> (NoiseLaw, Settings) {
    let noise = NoiseLaw {
        law: Law::Discrete {
            values: vec![-1.0, 2.0],
            probs: vec![0.5, 0.5],
        },
        field: Field::Y,
        batch: 1,
    };
    let s = settings(70, 300, uniform(&[-1.0, 0.0], &[1.0, 1.0]), 0.0, None, 1e6);
    (noise, s)
}

/// AMSGrad in a box (Fig. 5's setting, the clamp path) and momentum on the quartic.
#[test]
fn adaptive_optimizers_and_the_box() {
    let opt = Adam {
        lr: 0.2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 0.0,
        amsgrad: true,
        bias_correction: false,
    };
    let s = settings(
        40,
        400,
        uniform(&[-1.0], &[1.0]),
        0.0,
        Some((-1.0, 1.0)),
        1e12,
    );
    check("AMSGrad, clip", &Quadratic, &two_point(-0.1), &opt, &s);
    // Without momentum AMSGrad absorbs most runs (0 is then a fixed point); with ε and on a
    // model of two parameters, its kept root must still match the update step by step.
    let opt = Adam { beta1: 0.0, ..opt };
    let s = settings(
        70,
        3000,
        uniform(&[-1.0], &[1.0]),
        0.0,
        Some((-1.0, 1.0)),
        1e12,
    );
    check(
        "AMSGrad β₁ = 0, clip",
        &Quadratic,
        &two_point(-0.1),
        &opt,
        &s,
    );
    let opt = Adam { eps: 1e-3, ..opt };
    let (noise, s) = tiny_net_setting();
    check("AMSGrad ε, tiny net", &TinyNet, &noise, &opt, &s);
    let s = settings(40, 200, uniform(&[-1.0], &[1.0]), 0.0, None, 1e6);
    check(
        "momentum, quartic",
        &Quartic { b: 1.0 },
        &two_point(-0.5),
        &Momentum {
            lr: 0.08,
            beta: 0.9,
            nesterov: false,
        },
        &s,
    );
}

/// Three data values in minibatches of 2 with injected noise: the buffered path, where the
/// data and normals of a block are drawn ahead in the order a step-by-step run draws them.
#[test]
fn buffered_path_with_batches_and_injected_noise() {
    let noise = NoiseLaw {
        law: Law::Discrete {
            values: vec![-1.0, 2.0, 0.5],
            probs: vec![0.3, 0.3, 0.4],
        },
        field: Field::Y,
        batch: 2,
    };
    let s = settings(45, 130, uniform(&[-1.0, 0.0], &[1.0, 1.0]), 0.02, None, 1e6);
    check(
        "tiny net, batch 2, σ",
        &TinyNet,
        &noise,
        &Sgd { lr: 0.08 },
        &s,
    );
}
