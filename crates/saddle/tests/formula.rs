//! Public API of user-defined formula models.

use saddle::model::formula::{Formula, FormulaError, FormulaSpec};
use saddle::model::{Model, Sample};

#[test]
fn gradient_descent_on_a_formula_finds_the_minimum() {
    // L̂ = x w²/2 + w⁴/4 with x = -1: minima at w = ±1.
    let m = Formula::<1>::new(FormulaSpec::parse("x*w1^2/2 + w1^4/4", 1).unwrap()).unwrap();
    let s = Sample { x: -1.0, y: 0.0 };
    let mut w = [0.3];
    for _ in 0..2000 {
        let mut g = [0.0];
        m.grad_acc(&w, &s, 1.0, &mut g);
        w[0] -= 0.05 * g[0];
    }
    assert!((w[0] - 1.0).abs() < 1e-9, "{w:?}");
    assert!((m.loss(&w, &s) + 0.25).abs() < 1e-12);
    assert!(m.origin_is_fixed());
    assert_eq!(m.name(), "formula");
}

#[test]
fn discrete_expectation_of_the_tiny_net() {
    let spec = FormulaSpec::parse("(w2*w1^2 - y)^2", 2).unwrap();
    assert!(spec.uses_y() && !spec.uses_x());
    let m = Formula::<2>::new(spec).unwrap();
    // y = ±1 with probability 1/2: E L̂ = (w2 w1²)² + 1.
    let atoms = [
        (Sample { x: 1.0, y: 1.0 }, 0.5),
        (Sample { x: 1.0, y: -1.0 }, 0.5),
    ];
    let w = [0.5, 2.0];
    assert!((m.expected_loss_discrete(&w, &atoms) - 1.25).abs() < 1e-12);
    let mut g = [0.0; 2];
    m.expected_grad_discrete(&w, &atoms, &mut g);
    // ∇ (w2² w1⁴) = (4 w2² w1³, 2 w2 w1⁴)
    assert!(
        (g[0] - 2.0).abs() < 1e-12 && (g[1] - 0.25).abs() < 1e-12,
        "{g:?}"
    );
}

#[test]
fn errors_are_descriptive() {
    let e = FormulaSpec::parse("x*w1^^2", 1).unwrap_err();
    assert!(matches!(e, FormulaError::Parse { position: 5, .. }));
    assert!(e.to_string().ends_with("  x*w1^^2\n       ^ here"), "{e}");
    let e = FormulaSpec::parse("w1*z", 1).unwrap_err();
    assert!(
        e.to_string().contains("`z`") && e.to_string().contains("w1, x, y"),
        "{e}"
    );
    assert!(matches!(
        Formula::<2>::new(FormulaSpec::parse("w1", 1).unwrap()),
        Err(FormulaError::DimensionMismatch { spec: 1, model: 2 })
    ));
}

use saddle::model::formula::{MAX_DEPTH, MAX_LEN};
use saddle::model::{Field, Moments};
use saddle::noise::{Law, NoiseLaw};
use std::time::{Duration, Instant};

/// Generous for an optimised test build on a loaded 2-core machine: the tape takes
/// microseconds to milliseconds here, where exmex's symbolic derivative took 27 s for a
/// 300-factor product.
const FAST: Duration = Duration::from_secs(5);

/// Parses `expr` and evaluates its loss and gradient at `w`, within [`FAST`].
fn timed(expr: &str, params: usize, w: &[f64]) -> (f64, Vec<f64>) {
    let t = Instant::now();
    let f = FormulaSpec::parse(expr, params).unwrap_or_else(|e| panic!("{e}"));
    let loss = f.loss(w, 0.5, -0.5);
    let mut g = vec![0.0; params];
    f.grad(w, 0.5, -0.5, &mut g);
    assert!(t.elapsed() < FAST, "{:?}", t.elapsed());
    (loss, g)
}

#[test]
fn a_thousand_factor_product_is_fast_and_exact() {
    // Π (1 + wᵢ/1000) over 300 factors cycling through w1, w2: d/dw1 = L·150/(1000 + w1).
    let factors: Vec<String> = (0..300)
        .map(|i| format!("(1+w{}/1000)", i % 2 + 1))
        .collect();
    let expr = factors.join("*");
    assert!(expr.chars().count() <= MAX_LEN);
    let w = [0.3, -0.7];
    let (loss, g) = timed(&expr, 2, &w);
    let want = (1.0 + w[0] / 1000.0).powi(150) * (1.0 + w[1] / 1000.0).powi(150);
    assert!((loss - want).abs() < 1e-12 * want, "{loss} {want}");
    for i in 0..2 {
        let d = want * 150.0 / (1000.0 + w[i]);
        assert!((g[i] - d).abs() < 1e-12 * d.abs(), "{i}: {} {d}", g[i]);
    }
    // The form: w1*w1*…*w1, 1000 factors (2999 characters): L = w1¹⁰⁰⁰.
    let expr = vec!["w1"; 1000].join("*");
    let (loss, g) = timed(&expr, 1, &[1.001]);
    let want = 1.001f64.powi(1000);
    assert!((loss - want).abs() < 1e-12 * want);
    assert!((g[0] - 1000.0 * 1.001f64.powi(999)).abs() < 1e-11 * want);
}

#[test]
fn deep_nesting_is_fast_or_refused_cleanly() {
    // cos nested 500 deep (3002 characters): the fixed-point iteration of cos, with the chain
    // rule's product of −sin along the way.
    let expr = format!("{}w1{}", "cos(".repeat(500), ")".repeat(500));
    let (loss, g) = timed(&expr, 1, &[0.4]);
    let (mut v, mut d) = (0.4f64, 1.0f64);
    for _ in 0..500 {
        d *= -v.sin();
        v = v.cos();
    }
    assert!((loss - v).abs() < 1e-15 && (g[0] - d).abs() <= 1e-12 * d.abs().max(1e-300));
    // Parentheses and unary minus up to the depth limit evaluate; one more level is refused.
    let n = MAX_DEPTH / 2;
    let expr = format!("{}w1{}", "-(".repeat(n), ")".repeat(n));
    assert_eq!(timed(&expr, 1, &[0.25]), (0.25, vec![1.0]));
    let expr = format!("{}w1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(timed(&expr, 1, &[0.25]), (0.25, vec![1.0]));
    for expr in [
        format!(
            "{}w1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        ),
        format!("{}w1", "-".repeat(MAX_DEPTH + 1)),
        format!("{}w1{}", "-(".repeat(600), ")".repeat(600)),
    ] {
        let e = FormulaSpec::parse(&expr, 1).unwrap_err();
        assert!(
            matches!(e, FormulaError::TooLarge { what: "nesting depth", size, limit: MAX_DEPTH } if size == MAX_DEPTH + 1),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "formula too large: its nesting depth is {}, more than the limit of {MAX_DEPTH}",
                MAX_DEPTH + 1
            )
        );
    }
}

#[test]
fn huge_inputs_are_refused_before_parsing() {
    // 10⁵ levels of each kind: refused by length, without recursing or allocating per level.
    let n = 100_000;
    for expr in [
        format!("{}w1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}w1{}", "-(".repeat(n), ")".repeat(n)),
        format!("{}w1{}", "cos(".repeat(n), ")".repeat(n)),
    ] {
        let t = Instant::now();
        let e = FormulaSpec::parse(&expr, 1).unwrap_err();
        assert!(t.elapsed() < FAST);
        let len = expr.chars().count();
        assert_eq!(
            e,
            FormulaError::TooLarge {
                what: "length in characters",
                size: len,
                limit: MAX_LEN
            }
        );
        assert_eq!(
            e.to_string(),
            format!("formula too large: its length in characters is {len}, more than the limit of {MAX_LEN}")
        );
    }
}

/// A 64-bit LCG (Knuth's MMIX constants) for test points.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (hi - lo) * ((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }
}

#[test]
fn gradients_match_central_differences() {
    let formulas = [
        "x*w1^2/2 + w1^4/4",
        "(w2*(w1*x)^2 - y)^2",
        "sin(w1*x) * exp(w2/3) + ln(1 + w3^2) * y - cos(w1 - w3) + tanh(w2*w3)",
        "w1 - w2 + w3 - w1*w2/(1 + w3^2) - w3/3*2",
        "(2 + cos(w1))^(w2/4) + atan(w3*x) + sqrt(1 + (w1*w2)^2) + asinh(w2) - acos(w3/3)",
        "log2(3 + sin(w1)) + log10(3 + w2^2) + cosh(w3/2) - sinh(w1*w2/4) + atanh(w3/3)",
        "2^w1 + w2^w3 * 0 + (1 + w3^2)^w1 + tan(w1/2) + asin(w2/3) + acosh(2 + w3^2)",
    ];
    let mut rng = Lcg(11);
    for expr in formulas {
        let f = FormulaSpec::parse(expr, 3).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..40 {
            let w = [
                rng.uniform(-1.5, 1.5),
                rng.uniform(0.2, 1.5),
                rng.uniform(-1.5, 1.5),
            ];
            let (x, y) = (rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0));
            let mut g = [0.0; 3];
            f.grad(&w, x, y, &mut g);
            for i in 0..3 {
                let h = 1e-5;
                let (mut wp, mut wm) = (w, w);
                wp[i] += h;
                wm[i] -= h;
                let fd = (f.loss(&wp, x, y) - f.loss(&wm, x, y)) / (2.0 * h);
                assert!(
                    (g[i] - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                    "{expr}: d/dw{} = {} vs central {fd} at {w:?}",
                    i + 1,
                    g[i]
                );
            }
        }
    }
}

fn law(law: Law) -> NoiseLaw {
    NoiseLaw {
        law,
        field: Field::X,
        batch: 1,
    }
}

/// Moments are not what a formula's expected loss reads; any will do.
const MOMENTS: Moments = Moments {
    mean_x: 0.0,
    m2_x: 0.0,
    mean_y: 0.0,
    m2_y: 0.0,
};

#[test]
fn expected_loss_by_quadrature_matches_closed_forms() {
    let (mu, sd, lo, hi) = (-0.5, 1.3, -1.0, 2.5);
    let gaussian = law(Law::Gaussian { mean: mu, std: sd });
    let uniform = law(Law::Uniform { lo, hi });
    let model = |expr: &str, noise: &NoiseLaw| {
        Formula::<1>::new(FormulaSpec::parse(expr, 1).unwrap())
            .unwrap()
            .with_noise(noise)
    };
    for w in [-1.5, -0.2, 0.0, 0.7, 2.0] {
        // E[x w²/2] = E[x] w²/2 (exact: the rule integrates polynomials).
        let l = model("x*w1^2/2", &gaussian)
            .expected_loss(&[w], &MOMENTS)
            .unwrap();
        assert!((l - mu * w * w / 2.0).abs() < 1e-14, "{l}");
        let l = model("x*w1^2/2", &uniform)
            .expected_loss(&[w], &MOMENTS)
            .unwrap();
        assert!((l - (lo + hi) / 2.0 * w * w / 2.0).abs() < 1e-14, "{l}");
        // E[(w − x)²] = (w − μ)² + σ².
        let l = model("(w1 - x)^2", &gaussian)
            .expected_loss(&[w], &MOMENTS)
            .unwrap();
        assert!((l - ((w - mu).powi(2) + sd * sd)).abs() < 1e-13, "{l}");
        // The moment generating functions: E e^{wx} = e^{μw + σ²w²/2} for N(μ, σ²) and
        // (e^{w·hi} − e^{w·lo}) / (w (hi − lo)) for U[lo, hi].
        let l = model("exp(x*w1)", &gaussian)
            .expected_loss(&[w], &MOMENTS)
            .unwrap();
        let want = (mu * w + sd * sd * w * w / 2.0).exp();
        assert!((l - want).abs() < 1e-12 * want, "w = {w}: {l} vs {want}");
        let l = model("exp(x*w1)", &uniform)
            .expected_loss(&[w], &MOMENTS)
            .unwrap();
        let want = if w == 0.0 {
            1.0
        } else {
            ((w * hi).exp() - (w * lo).exp()) / (w * (hi - lo))
        };
        assert!((l - want).abs() < 1e-13 * want, "w = {w}: {l} vs {want}");
        // E cos(wx) = e^{−σ²w²/2} cos(μw) for N(μ, σ²).
        let l = model("cos(x*w1)", &gaussian)
            .expected_loss(&[w], &MOMENTS)
            .unwrap();
        let want = (-sd * sd * w * w / 2.0).exp() * (mu * w).cos();
        assert!((l - want).abs() < 1e-12, "w = {w}: {l} vs {want}");
    }
    // A finite law leaves it to the engine (an exact sum over atoms); GD still needs one.
    let m = model("x*w1^2/2", &law(Law::TwoPoint { a: -1.0 }));
    assert_eq!(m.expected_loss(&[1.0], &MOMENTS), None);
    let mut g = [0.0];
    assert!(!model("x*w1^2/2", &gaussian).expected_grad(&[1.0], &MOMENTS, &mut g));
}
