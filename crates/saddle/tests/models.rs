//! Models against independent references: per-sample gradients against central differences of
//! the per-sample loss, closed-form expectations (from the noise moments) against exact
//! probability-weighted sums over the atoms of finite laws, and the landmarks the paper states
//! in closed form (Eq. 11 for the sharp-flat landscape, Eq. 18 for the tiny network).

use saddle::model::formula::FormulaSpec;
use saddle::model::{
    Field, Formula, Model, Moments, Quadratic, Quartic, Sample, SharpFlat, TinyNet,
};
use saddle::noise::{Law, NoiseLaw};
use saddle::rng::{stream, Philox4x32};

/// Uniform draws from the crate's own counter-based stream (seeded per test, so the points are
/// fixed and a failure is reproducible).
struct Draw(Philox4x32);

impl Draw {
    fn new(run: u32) -> Self {
        Draw(stream(0x5eed_0001, 7, run))
    }
    fn uni(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.next_f64()
    }
    fn point<const N: usize>(&mut self, r: f64) -> [f64; N] {
        std::array::from_fn(|_| self.uni(-r, r))
    }
    fn sample(&mut self) -> Sample {
        Sample {
            x: self.uni(-3.0, 3.0),
            y: self.uni(-3.0, 3.0),
        }
    }
}

/// Central-difference gradient of `f` at `w` with step h_i = 1e-5·(1 + |w_i|).
///
/// Error budget: truncation h²/6·|f'''| and rounding ≈ ε·|f|/h. For the losses below
/// (|w| ≤ 2, |x|, |y| ≤ 3: |f| ≲ 10³, |f'''| ≲ 10³) that is ≲ 10⁻⁷ in absolute terms, so a
/// tolerance of 1e-6·(1 + |g|) is loose for correct code yet any wrong term (an O(1) relative
/// error) fails it.
fn fd<const N: usize>(f: impl Fn(&[f64; N]) -> f64, w: &[f64; N]) -> [f64; N] {
    std::array::from_fn(|i| {
        let h = 1e-5 * (1.0 + w[i].abs());
        let (mut p, mut m) = (*w, *w);
        p[i] += h;
        m[i] -= h;
        (f(&p) - f(&m)) / (2.0 * h)
    })
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// `grad_acc` against central differences of `loss` at 50 random points and samples, with a
/// random scale added onto a random non-zero `g` (so the "accumulate" contract is checked too).
fn check_grad<const N: usize, M: Model<W = [f64; N]>>(m: &M, seed: u32) {
    let mut d = Draw::new(seed);
    for k in 0..50 {
        let w: [f64; N] = d.point(2.0);
        let s = d.sample();
        let scale = d.uni(-2.0, 2.0);
        let g0: [f64; N] = d.point(1.0);
        let mut g = g0;
        m.grad_acc(&w, &s, scale, &mut g);
        let num = fd(|v| m.loss(v, &s), &w);
        for i in 0..N {
            let got = g[i] - g0[i];
            let want = scale * num[i];
            assert!(
                close(got, want, 1e-6),
                "{} point {k}: ∂L/∂w{} at w = {w:?}, s = {s:?}, scale {scale}: grad_acc gives {got}, \
                 central difference {want}",
                m.name(),
                i + 1
            );
        }
    }
}

#[test]
fn gradients_match_central_differences_for_builtin_models() {
    check_grad(&Quadratic, 1);
    check_grad(&Quartic { b: 1.0 }, 2);
    check_grad(&Quartic { b: -0.7 }, 3);
    check_grad(&SharpFlat { a: 0.5, b: 14.0 }, 4);
    check_grad(&SharpFlat { a: 1.3, b: -2.0 }, 5);
    check_grad(&TinyNet, 6);
}

/// `grad` (a one-sample gradient written into `g`) against central differences, and against
/// `grad_acc` at scale 1 into zeros: bit for bit, except that a zero coordinate may differ in
/// sign (0 + (−0) = +0). A previous value in `g` must not leak into the result.
fn check_grad_direct<const N: usize, M: Model<W = [f64; N]>>(m: &M, seed: u32) {
    let mut d = Draw::new(seed);
    for k in 0..50 {
        let w: [f64; N] = d.point(2.0);
        let s = d.sample();
        let mut direct: [f64; N] = d.point(1.0);
        m.grad(&w, &s, &mut direct);
        let mut acc = [0.0; N];
        m.grad_acc(&w, &s, 1.0, &mut acc);
        let num = fd(|v| m.loss(v, &s), &w);
        for i in 0..N {
            let same = direct[i].to_bits() == acc[i].to_bits() || direct[i] == 0.0 && acc[i] == 0.0;
            assert!(
                same,
                "{} point {k}: grad gives {} where grad_acc gives {}",
                m.name(),
                direct[i],
                acc[i]
            );
            assert!(close(direct[i], num[i], 1e-6), "{} point {k}", m.name());
        }
    }
}

#[test]
fn one_sample_gradients_equal_accumulated_ones() {
    check_grad_direct(&Quadratic, 31);
    check_grad_direct(&Quartic { b: 1.0 }, 32);
    check_grad_direct(&SharpFlat { a: 0.5, b: 14.0 }, 33);
    check_grad_direct(&TinyNet, 34);
    // The default (formulas): grad_acc into zeros.
    check_grad_direct(&formula::<2>("(w2*(w1*x)^2 - y)^2"), 35);
}

fn formula<const N: usize>(expr: &str) -> Formula<N> {
    Formula::<N>::new(FormulaSpec::parse(expr, N).expect("formula parses")).expect("dimension")
}

#[test]
fn gradients_match_central_differences_for_formulas() {
    check_grad(&formula::<1>("x*w1^2/2 + w1^4/4"), 11);
    check_grad(&formula::<2>("(w2*(w1*x)^2 - y)^2"), 12);
    check_grad(
        &formula::<3>("sin(w1*x) + exp(w2)*w3^2 - y*w1*w3 + sqrt(1 + w2^2)"),
        13,
    );
    // A parameter that does not occur has derivative 0 (and grad_acc leaves g alone there).
    check_grad(&formula::<3>("x*w1^2/2 - y*w3"), 14);
}

/// Formulas that spell out a built-in model give the same loss and gradient (to rounding): an
/// independent implementation of the same landscape.
#[test]
fn formulas_agree_with_the_builtin_models_they_spell_out() {
    let quartic = formula::<1>("x*w1^2/2 + w1^4/4");
    let net = formula::<2>("(w2*(w1*x)^2 - y)^2");
    let mut d = Draw::new(20);
    for _ in 0..50 {
        let s = d.sample();
        let w1: [f64; 1] = d.point(2.0);
        let w2: [f64; 2] = d.point(2.0);
        assert!(close(
            quartic.loss(&w1, &s),
            Quartic { b: 1.0 }.loss(&w1, &s),
            1e-12
        ));
        assert!(close(net.loss(&w2, &s), TinyNet.loss(&w2, &s), 1e-12));
        let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
        net.grad_acc(&w2, &s, 1.0, &mut a);
        TinyNet.grad_acc(&w2, &s, 1.0, &mut b);
        for i in 0..2 {
            assert!(close(a[i], b[i], 1e-12), "{a:?} vs {b:?} at {w2:?}, {s:?}");
        }
    }
}

/// A formula has no closed-form expectation; its exact discrete expectations are the
/// probability-weighted sums over the atoms.
#[test]
fn formula_expectations_are_atom_sums() {
    let f = formula::<2>("(w2*(w1*x)^2 - y)^2 + x*w1");
    let m = Moments {
        mean_x: 1.0,
        m2_x: 1.0,
        mean_y: 0.5,
        m2_y: 2.5,
    };
    let w = [0.3, -1.1];
    assert_eq!(f.expected_loss(&w, &m), None);
    let mut g = [0.0; 2];
    assert!(!f.expected_grad(&w, &m, &mut g));
    let atoms = [
        (Sample { x: 1.0, y: -1.0 }, 0.25),
        (Sample { x: -0.5, y: 2.0 }, 0.75),
    ];
    let want: f64 = atoms.iter().map(|(s, p)| p * f.loss(&w, s)).sum();
    assert!(close(f.expected_loss_discrete(&w, &atoms), want, 1e-14));
    let mut out = [9.0, 9.0];
    f.expected_grad_discrete(&w, &atoms, &mut out);
    let num = fd(|v| f.expected_loss_discrete(v, &atoms), &w);
    for i in 0..2 {
        assert!(close(out[i], num[i], 1e-6), "{out:?} vs {num:?}");
    }
}

fn law(law: Law, field: Field) -> NoiseLaw {
    NoiseLaw {
        law,
        field,
        batch: 1,
    }
}

/// Finite laws on x used for the exactness checks: two-point at several a, an uneven discrete
/// law, and a data set.
fn x_laws() -> Vec<NoiseLaw> {
    let mut v: Vec<NoiseLaw> = [-1.0, -0.1, 0.0, 0.5, 2.0]
        .iter()
        .map(|a| law(Law::TwoPoint { a: *a }, Field::X))
        .collect();
    v.push(law(
        Law::Discrete {
            values: vec![-2.0, 0.25, 3.0],
            probs: vec![0.2, 0.5, 0.3],
        },
        Field::X,
    ));
    v.push(law(
        Law::Dataset {
            samples: [0.5, -1.5, 2.0, 0.1]
                .iter()
                .map(|x| Sample { x: *x, y: 0.0 })
                .collect(),
            replacement: true,
        },
        Field::X,
    ));
    v
}

/// The closed form from the moments against Σ p·L̂(w; s) over the atoms, and the closed-form
/// gradient against Σ p·∇L̂(w; s) (exact sums: only rounding separates them).
fn check_expectations<const N: usize, M: Model<W = [f64; N]>>(m: &M, laws: &[NoiseLaw]) {
    let mut d = Draw::new(30);
    for nl in laws {
        let atoms = nl.atoms().expect("finite law");
        let mo = nl.moments();
        for _ in 0..20 {
            let w: [f64; N] = d.point(2.0);
            let want: f64 = atoms.iter().map(|(s, p)| p * m.loss(&w, s)).sum();
            let got = m
                .expected_loss(&w, &mo)
                .unwrap_or_else(|| panic!("{} has a closed form for {nl:?}", m.name()));
            assert!(
                close(got, want, 1e-12),
                "{}: E L at {w:?} under {nl:?}: closed form {got}, atom sum {want}",
                m.name()
            );
            let mut want_g = [0.0; N];
            for (s, p) in &atoms {
                m.grad_acc(&w, s, *p, &mut want_g);
            }
            let mut g = [f64::NAN; N];
            assert!(m.expected_grad(&w, &mo, &mut g));
            for i in 0..N {
                assert!(
                    close(g[i], want_g[i], 1e-12),
                    "{}: E ∇L at {w:?} under {nl:?}: {g:?} vs {want_g:?}",
                    m.name()
                );
            }
        }
    }
}

#[test]
fn closed_form_expectations_equal_atom_sums() {
    let laws = x_laws();
    check_expectations(&Quadratic, &laws);
    check_expectations(&Quartic { b: 1.0 }, &laws);
    check_expectations(&Quartic { b: 2.5 }, &laws);
    check_expectations(&SharpFlat { a: 0.5, b: 14.0 }, &laws);
    // The tiny network: random labels with x fixed (x = 1 by default, and x = 1.5 in a data
    // set where every point has the same input).
    let y_laws = vec![
        law(
            Law::Discrete {
                values: vec![-1.0, 2.0],
                probs: vec![0.5, 0.5],
            },
            Field::Y,
        ),
        law(
            Law::Discrete {
                values: vec![-3.0, 0.5, 1.0],
                probs: vec![0.1, 0.6, 0.3],
            },
            Field::Y,
        ),
        law(
            Law::Dataset {
                samples: [-1.0, 2.0, 0.75]
                    .iter()
                    .map(|y| Sample { x: 1.5, y: *y })
                    .collect(),
                replacement: false,
            },
            Field::X,
        ),
    ];
    check_expectations(&TinyNet, &y_laws);
}

/// The tiny network's closed form needs a deterministic input: with a random x it must decline
/// rather than return a wrong number (E[x⁴] is not a function of two moments).
#[test]
fn tiny_net_declines_a_random_input() {
    let nl = law(Law::TwoPoint { a: -1.0 }, Field::X);
    let w = [0.7, 0.4];
    assert_eq!(TinyNet.expected_loss(&w, &nl.moments()), None);
    let mut g = [0.0; 2];
    assert!(!TinyNet.expected_grad(&w, &nl.moments(), &mut g));
}

/// Moments of the laws against their definitions: exact sums for finite laws, and numerical
/// quadrature (composite Simpson, error ≪ 1e-9 on these smooth integrands) for the continuous
/// ones, which are not computed from atoms.
#[test]
fn noise_moments_match_their_definitions() {
    for a in [-1.0, 0.5, 3.0] {
        let m = law(Law::TwoPoint { a }, Field::X).moments();
        // x = 1 or a − 1 with probability ½ : E[x] = a/2, E[x²] = (1 + (a−1)²)/2.
        assert!(close(m.mean_x, a / 2.0, 1e-15));
        assert!(close(m.m2_x, (1.0 + (a - 1.0) * (a - 1.0)) / 2.0, 1e-15));
        assert_eq!((m.mean_y, m.m2_y), (0.0, 0.0));
    }
    let m = law(
        Law::Discrete {
            values: vec![-1.0, 2.0],
            probs: vec![0.5, 0.5],
        },
        Field::Y,
    )
    .moments();
    assert_eq!((m.mean_x, m.m2_x, m.mean_y, m.m2_y), (1.0, 1.0, 0.5, 2.5));

    let simpson = |f: &dyn Fn(f64) -> f64, lo: f64, hi: f64| {
        let n = 20_000;
        let h = (hi - lo) / n as f64;
        let mut s = f(lo) + f(hi);
        for i in 1..n {
            s += f(lo + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0
    };
    for (mean, std) in [(0.3, 1.7), (-2.0, 0.25)] {
        let pdf = move |x: f64| {
            (-(x - mean) * (x - mean) / (2.0 * std * std)).exp()
                / (std * (2.0 * std::f64::consts::PI).sqrt())
        };
        let (lo, hi) = (mean - 12.0 * std, mean + 12.0 * std);
        let m = law(Law::Gaussian { mean, std }, Field::X).moments();
        assert!(close(m.mean_x, simpson(&|x| x * pdf(x), lo, hi), 1e-9));
        assert!(close(m.m2_x, simpson(&|x| x * x * pdf(x), lo, hi), 1e-9));
        let my = law(Law::Gaussian { mean, std }, Field::Y).moments();
        assert_eq!((my.mean_x, my.m2_x), (1.0, 1.0));
        assert!(close(my.m2_y, m.m2_x, 1e-15));
    }
    for (lo, hi) in [(-1.0, 3.0), (0.5, 0.75)] {
        let m = law(Law::Uniform { lo, hi }, Field::X).moments();
        let dens = 1.0 / (hi - lo);
        assert!(close(m.mean_x, simpson(&|x| x * dens, lo, hi), 1e-9));
        assert!(close(m.m2_x, simpson(&|x| x * x * dens, lo, hi), 1e-9));
    }
}

/// The paper's minimal network (§6.5): with x = 1 and y ∈ {−1, 2} with probability ½ the
/// expected loss is Eq. 18, L = ½(w₂w₁² + 1)² + ½(w₂w₁² − 2)²; its minimum L* = 2.25 is the
/// valley w₂w₁² = ½ and the line w₁ = 0 consists of stationary points with L = 2.5.
#[test]
fn tiny_net_expected_loss_is_eq_18() {
    let nl = law(
        Law::Discrete {
            values: vec![-1.0, 2.0],
            probs: vec![0.5, 0.5],
        },
        Field::Y,
    );
    let mo = nl.moments();
    let eq18 = |w: &[f64; 2]| {
        let f = w[1] * w[0] * w[0];
        0.5 * (f + 1.0) * (f + 1.0) + 0.5 * (f - 2.0) * (f - 2.0)
    };
    let mut d = Draw::new(40);
    for _ in 0..50 {
        let w: [f64; 2] = d.point(2.0);
        let l = TinyNet.expected_loss(&w, &mo).unwrap();
        assert!(
            close(l, eq18(&w), 1e-12),
            "at {w:?}: {l} vs Eq. 18 {}",
            eq18(&w)
        );
        assert!(
            l >= 2.25 - 1e-12,
            "L* = 2.25 is the minimum; L({w:?}) = {l}"
        );
        // GD's gradient is the gradient of Eq. 18.
        let mut g = [0.0; 2];
        assert!(TinyNet.expected_grad(&w, &mo, &mut g));
        let num = fd(eq18, &w);
        assert!(close(g[0], num[0], 1e-6) && close(g[1], num[1], 1e-6));

        // On the valley w₂ = ½/w₁²: L = 2.25 and ∇L = 0.
        let w1 = d.uni(0.3, 2.0) * if d.uni(0.0, 1.0) < 0.5 { -1.0 } else { 1.0 };
        let v = [w1, 0.5 / (w1 * w1)];
        assert!(close(TinyNet.expected_loss(&v, &mo).unwrap(), 2.25, 1e-12));
        assert!(TinyNet.expected_grad(&v, &mo, &mut g));
        assert!(
            g[0].abs() < 1e-12 && g[1].abs() < 1e-12,
            "∇L on the valley: {g:?}"
        );

        // The saddle line w₁ = 0: L = 2.5 and ∇L = 0 for every w₂.
        let s = [0.0, d.uni(-3.0, 3.0)];
        assert_eq!(TinyNet.expected_loss(&s, &mo), Some(2.5));
        assert!(TinyNet.expected_grad(&s, &mo, &mut g));
        assert_eq!(g, [0.0, 0.0]);
    }
}

/// Eq. 9 with E[x] = 0 (x = ±1): the four minima of Eq. 11 are stationary, and the Hessian of
/// the expected loss there (central differences of the expected gradient) is diagonal with the
/// entries of Eq. 10, ∂²L/∂w₁² = −2 + 12(w₁² + w₂²) and ∂²L/∂w₂² = −2 − 2a + 12(w₁² + w₂²):
///
/// * flat minima (±1/√2, 0): diag(4, 4 − 2a), curvature along the minimum's axis 4;
/// * sharp minima (0, ±√((1+a)/2)): diag(4 + 6a, 4 + 4a), curvature along its axis 4 + 4a.
///
/// The paper's Eq. 11 quotes s = 4 and s = 4 + 4a; those are the on-axis curvatures (H₁₁ at the
/// flat minima, H₂₂ at the sharp ones). The full traces of Def. 4 are 8 − 2a and 8 + 10a, which
/// order the minima the same way (sharp > flat for a > 0). Both are checked.
#[test]
fn sharp_flat_minima_and_their_curvatures() {
    let x_pm1 = law(
        Law::Discrete {
            values: vec![1.0, -1.0],
            probs: vec![0.5, 0.5],
        },
        Field::X,
    )
    .moments();
    assert_eq!(x_pm1.mean_x, 0.0);
    for a in [0.5, 0.2, 1.0] {
        for b in [14.0, 0.0, 3.0] {
            let m = SharpFlat { a, b };
            let r2 = std::f64::consts::FRAC_1_SQRT_2;
            let rs = ((1.0 + a) / 2.0).sqrt();
            let flat = [[r2, 0.0], [-r2, 0.0]];
            let sharp = [[0.0, rs], [0.0, -rs]];
            let hess = |w: &[f64; 2]| -> [[f64; 2]; 2] {
                // Row i: central differences of (∇L)_i.
                let gi = |i: usize| {
                    fd(
                        |v| {
                            let mut g = [0.0; 2];
                            assert!(m.expected_grad(v, &x_pm1, &mut g));
                            g[i]
                        },
                        w,
                    )
                };
                [gi(0), gi(1)]
            };
            for (minima, diag) in [
                (flat, [4.0, 4.0 - 2.0 * a]),
                (sharp, [4.0 + 6.0 * a, 4.0 + 4.0 * a]),
            ] {
                for w in minima {
                    let mut g = [f64::NAN; 2];
                    assert!(m.expected_grad(&w, &x_pm1, &mut g));
                    assert!(
                        g[0].abs() < 1e-12 && g[1].abs() < 1e-12,
                        "a = {a}, b = {b}: ∇L at {w:?} is {g:?}"
                    );
                    let h = hess(&w);
                    let tol = 1e-6;
                    assert!(
                        (h[0][0] - diag[0]).abs() < tol
                            && (h[1][1] - diag[1]).abs() < tol
                            && h[0][1].abs() < tol
                            && h[1][0].abs() < tol,
                        "a = {a}, b = {b}: Hessian at {w:?} is {h:?}, expected diag{diag:?}"
                    );
                }
            }
            // On-axis curvatures as quoted in Eq. 11, and the traces (Def. 4).
            let hf = hess(&flat[0]);
            let hs = hess(&sharp[0]);
            assert!((hf[0][0] - 4.0).abs() < 1e-6);
            assert!((hs[1][1] - (4.0 + 4.0 * a)).abs() < 1e-6);
            let (tf, ts) = (hf[0][0] + hf[1][1], hs[0][0] + hs[1][1]);
            assert!((tf - (8.0 - 2.0 * a)).abs() < 1e-6, "flat trace {tf}");
            assert!((ts - (8.0 + 10.0 * a)).abs() < 1e-6, "sharp trace {ts}");
            assert!(ts > tf);
        }
    }
}

/// The quadratic's expected loss is ½E[x]w² and one SGD step multiplies w by 1 − λx (the
/// gradient is x·w), the fact every statistical test of the quadratic relies on.
#[test]
fn quadratic_step_multiplies_by_one_minus_lambda_x() {
    let mut d = Draw::new(50);
    for _ in 0..20 {
        let (w, x, lr) = (d.uni(-2.0, 2.0), d.uni(-3.0, 3.0), d.uni(0.01, 1.5));
        let mut g = [0.0];
        Quadratic.grad_acc(&[w], &Sample { x, y: 0.0 }, 1.0, &mut g);
        assert!(close(w - lr * g[0], (1.0 - lr * x) * w, 1e-15));
    }
}

#[test]
fn origin_is_fixed_where_every_sample_gradient_vanishes_at_zero() {
    assert!(Quadratic.origin_is_fixed());
    assert!(Quartic { b: 1.0 }.origin_is_fixed());
    assert!(SharpFlat { a: 0.5, b: 14.0 }.origin_is_fixed());
    assert!(TinyNet.origin_is_fixed());
    assert!(formula::<1>("x*w1^2/2").origin_is_fixed());
    assert!(!formula::<1>("x*w1^2/2 - y*w1").origin_is_fixed());
    // And where it is claimed, the per-sample gradient at 0 is indeed 0.
    let mut d = Draw::new(60);
    for _ in 0..20 {
        let s = d.sample();
        let (mut g1, mut g2) = ([0.0], [0.0; 2]);
        Quartic { b: 1.0 }.grad_acc(&[0.0], &s, 1.0, &mut g1);
        SharpFlat { a: 0.5, b: 14.0 }.grad_acc(&[0.0; 2], &s, 1.0, &mut g2);
        TinyNet.grad_acc(&[0.0; 2], &s, 1.0, &mut g2);
        assert_eq!((g1, g2), ([0.0], [0.0; 2]));
    }
}
