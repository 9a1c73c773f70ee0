//! Tests of formulas: gradients against central differences and closed forms, parse errors,
//! the tape against exmex and random references.

use super::parse::{analyze, tokenize, Expr};
use super::*;
use exmex::prelude::*;

/// A 64-bit LCG (Knuth's MMIX constants), enough for test points.
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n - 1)
    }
}

type ClosedGrad = fn(&[f64], f64, f64) -> Vec<f64>;

fn spec(expr: &str, params: usize) -> FormulaSpec {
    FormulaSpec::parse(expr, params).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// Compares the symbolic gradient at 50 random points (w ∈ [lo, hi]^d, x, y ∈ [-2, 2])
/// with central differences and, where given, with a hand-derived gradient.
fn check_grad(expr: &str, params: usize, lo: f64, hi: f64, closed: Option<ClosedGrad>) {
    let f = spec(expr, params);
    let mut rng = Lcg(0x5eed ^ expr.len() as u64);
    for _ in 0..50 {
        let w: Vec<f64> = (0..params).map(|_| rng.uniform(lo, hi)).collect();
        let x = rng.uniform(-2.0, 2.0);
        let y = rng.uniform(-2.0, 2.0);
        let mut g = vec![0.0; params];
        f.grad(&w, x, y, &mut g);
        for i in 0..params {
            // Step h ≈ 1e-5: truncation error h²|f'''|/6 ≲ 1e-8 and rounding error
            // ε|f|/h ≲ 1e-10 for these formulas on these domains, far below 1e-6.
            let h = 1e-5 * (1.0 + w[i].abs());
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[i] += h;
            wm[i] -= h;
            let fd = (f.loss(&wp, x, y) - f.loss(&wm, x, y)) / (2.0 * h);
            assert!(
                (g[i] - fd).abs() <= 1e-6 * (1.0 + g[i].abs().max(fd.abs())),
                "{expr}: d/dw{} at w={w:?} x={x} y={y}: symbolic {} vs central {fd}",
                i + 1,
                g[i]
            );
        }
        if let Some(closed) = closed {
            let c = closed(&w, x, y);
            for i in 0..params {
                assert!(
                    (g[i] - c[i]).abs() <= 1e-12 * (1.0 + c[i].abs()),
                    "{expr}: d/dw{} at w={w:?} x={x} y={y}: symbolic {} vs closed form {}",
                    i + 1,
                    g[i],
                    c[i]
                );
            }
        }
    }
}

/// The sharp-flat landscape with a = 0.5, b = 14. Eq. 9's `-(w1-w2)^2` is written
/// `-((w1-w2)^2)`: exmex would read the former as `(-(w1-w2))^2` and it is rejected (see
/// `ambiguous_forms_are_rejected`).
const SHARP_FLAT: &str = "0.5*(-((w1-w2)^2) - (w1+w2)^2 + (w1-w2)^4 + (w1+w2)^4 \
                          - 2*0.5*w2^2 + x*14*w1^2)";

#[test]
fn gradient_quadratic() {
    check_grad("x*w1^2/2", 1, -3.0, 3.0, Some(|w, x, _| vec![x * w[0]]));
}

#[test]
fn gradient_quartic() {
    check_grad(
        "x*w1^2/2 + w1^4/4",
        1,
        -2.0,
        2.0,
        Some(|w, x, _| vec![x * w[0] + w[0].powi(3)]),
    );
}

#[test]
fn gradient_tiny_net() {
    check_grad(
        "(w2*w1^2 - y)^2",
        2,
        -1.5,
        1.5,
        Some(|w, _, y| {
            let r = w[1] * w[0] * w[0] - y;
            vec![2.0 * r * 2.0 * w[1] * w[0], 2.0 * r * w[0] * w[0]]
        }),
    );
}

#[test]
fn gradient_sharp_flat() {
    let (a, b) = (0.5, 14.0);
    let f = spec(SHARP_FLAT, 2);
    let mut rng = Lcg(7);
    for _ in 0..50 {
        let w = [rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5)];
        let x = rng.uniform(-2.0, 2.0);
        let (u, v) = (w[0] - w[1], w[0] + w[1]);
        let loss = 0.5
            * (-u * u - v * v + u.powi(4) + v.powi(4) - 2.0 * a * w[1] * w[1]
                + x * b * w[0] * w[0]);
        assert!((f.loss(&w, x, 0.0) - loss).abs() <= 1e-12 * (1.0 + loss.abs()));
    }
    check_grad(
        SHARP_FLAT,
        2,
        -1.5,
        1.5,
        Some(|w, x, _| {
            let (a, b) = (0.5, 14.0);
            let (u, v) = (w[0] - w[1], w[0] + w[1]);
            vec![
                0.5 * (-2.0 * u - 2.0 * v + 4.0 * u.powi(3) + 4.0 * v.powi(3) + 2.0 * x * b * w[0]),
                0.5 * (2.0 * u - 2.0 * v - 4.0 * u.powi(3) + 4.0 * v.powi(3) - 4.0 * a * w[1]),
            ]
        }),
    );
}

#[test]
fn gradient_transcendental() {
    check_grad(
        "sin(w1*x) * exp(w2/3) + ln(1 + w3^2) * y - cos(w1 - w3) + tanh(w2*w3) \
         + sqrt(1 + w1^2) + log(2 + sin(w2))",
        3,
        -2.0,
        2.0,
        None,
    );
}

#[test]
fn gradient_eight_params() {
    check_grad(
        "w1*w2 + w3^2*x - w4*y + sin(w5)*w6 + exp(w7/4)*w8",
        8,
        -2.0,
        2.0,
        Some(|w, x, y| {
            vec![
                w[1],
                w[0],
                2.0 * w[2] * x,
                -y,
                w[4].cos() * w[5],
                w[4].sin(),
                (w[6] / 4.0).exp() * w[7] / 4.0,
                (w[6] / 4.0).exp(),
            ]
        }),
    );
}

#[test]
fn variables_map_to_w_x_y_whatever_their_order() {
    // exmex orders the variables w1 < w2 < x < y; the spec takes care of it.
    let f = spec("y - 2*x + 3*{w2} - 4*w1", 2);
    assert_eq!(
        f.loss(&[10.0, 100.0], 1000.0, 10000.0),
        10000.0 - 2000.0 + 300.0 - 40.0
    );
    let mut g = [0.0; 2];
    f.grad(&[10.0, 100.0], 1000.0, 10000.0, &mut g);
    assert_eq!(g, [-4.0, 3.0]);
    assert!(f.uses_x() && f.uses_y());
    assert_eq!(f.params(), 2);
    assert_eq!(f.expr(), "y - 2*x + 3*{w2} - 4*w1");

    let f = spec("x*w1^2/2 + w1^4/4", 1);
    assert!(f.uses_x() && !f.uses_y());
    assert_eq!(f.loss(&[2.0], -1.0, 0.0), -2.0 + 4.0);
    let f = spec("(w2*w1^2 - y)^2", 2);
    assert!(!f.uses_x() && f.uses_y());
}

#[test]
fn parameters_absent_from_the_formula_have_zero_gradient() {
    let f = spec("w1^2 + x*w3", 3);
    let mut g = [7.0; 3];
    f.grad(&[1.0, 2.0, 3.0], 5.0, 0.0, &mut g);
    assert_eq!(g, [2.0, 0.0, 5.0]);
    let f = spec("x^2 + y", 1);
    f.grad(&[1.0], 5.0, 0.0, &mut g);
    assert_eq!(g[0], 0.0);
}

#[test]
fn whitespace_is_ignored() {
    let f = spec(" w1\t*\n x ", 1);
    assert_eq!(f.loss(&[3.0], 2.0, 0.0), 6.0);
    assert_eq!(f.expr(), " w1\t*\n x ");
}

#[test]
fn unknown_variables_are_named() {
    for (expr, name, position) in [("w1*z", "z", 3), ("w9 + w1", "w9", 0), ("w0*x", "w0", 0)] {
        match FormulaSpec::parse(expr, 2) {
            Err(e @ FormulaError::UnknownVariable { .. }) => {
                let msg = e.to_string();
                let FormulaError::UnknownVariable {
                    name: n,
                    allowed,
                    position: p,
                    ..
                } = e
                else {
                    unreachable!()
                };
                assert_eq!(n, name);
                assert_eq!(p, position, "{expr}");
                assert_eq!(allowed, ["w1", "w2", "x", "y"]);
                assert!(msg.contains(&format!("`{name}`")), "{msg}");
                assert!(msg.contains("w1, w2, x, y"), "{msg}");
            }
            other => panic!("{expr}: {other:?}"),
        }
    }
    // w3 is fine with 3 parameters.
    assert!(FormulaSpec::parse("w3", 3).is_ok());
}

#[test]
fn params_out_of_range_are_rejected() {
    for params in [0, 9] {
        assert_eq!(
            FormulaSpec::parse("w1", params).unwrap_err(),
            FormulaError::BadParams { params }
        );
    }
    assert!(FormulaSpec::parse("w8", 8).is_ok());
}

fn parse_error(expr: &str) -> (usize, String, String) {
    match FormulaSpec::parse(expr, 2) {
        Err(FormulaError::Parse {
            reason,
            position,
            message,
        }) => (position, reason, message),
        other => panic!("{expr}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn parse_errors_point_at_the_offending_place() {
    // Positions are 0-based char indices of the token where the formula stops making
    // sense, i.e. the end of the longest prefix that can still be completed, except at the
    // end of the string, where the unfinished construct is blamed:
    let cases = [
        // `x*w1^` is a fine start; the second `^` (index 5) is where an operand was needed.
        ("x*w1^^2", 5),
        // Everything up to the end could be completed by a `)`; the caret goes under the
        // `(` that is never closed (index 0), which tells which parenthesis is open.
        ("(w1 + 2", 0),
        // The formula ends after the `+` (index 3), which lacks its right operand.
        ("w1 + ", 3),
        // Nothing at all: index 0.
        ("", 0),
        ("   ", 0),
        // `$` (index 3) is not part of the syntax.
        ("w1 $ 2", 3),
        // After a tab (one char) the position is still a char index.
        ("w1\t$", 3),
        // Two operands in a row: the second one (index 3).
        ("w1 w2", 3),
        // A `)` that closes nothing (index 2) and an empty argument list (`)` at 4).
        ("w1)", 2),
        ("sin()", 4),
        // An operand is missing before `)` at index 3.
        ("(x*)2", 3),
        // A malformed number starts at index 2; scientific notation breaks at the `e`.
        ("x*1..2", 2),
        ("x*1e-3", 3),
        // A `,` outside `min(a, b)`-style calls.
        ("x, y", 1),
    ];
    for (expr, position) in cases {
        let (p, reason, message) = parse_error(expr);
        assert_eq!(p, position, "{expr:?}: {message}");
        assert!(message.starts_with(&format!("cannot parse formula: {reason}\n")));
    }
    let (_, _, message) = parse_error("x*w1^^2");
    assert_eq!(
        message,
        "cannot parse formula: expected a number, a variable, `(` or a function, \
         found operator `^`\n  x*w1^^2\n       ^ here"
    );
    assert!(parse_error("w1 $ 2").1.contains('$'));
    assert!(parse_error("(w1 + 2").1.contains("never closed"));
    assert!(parse_error("x*1e-3").1.contains("scientific notation"));
}

#[test]
fn ambiguous_forms_are_rejected() {
    // exmex reads `-w1^2` as `(-w1)^2`: the caret is under the unary minus.
    assert_eq!(parse_error("x - -w1^2").0, 4);
    assert_eq!(parse_error("-sin(w1)^2").0, 0);
    // Eq. 9 written naively: `0.5*(-(w1-w2)^2 ...`, minus at index 5.
    assert_eq!(parse_error("0.5*(-(w1-w2)^2 - (w1+w2)^2 + (w1-w2)^4)").0, 5);
    // exmex reads `2^3^2` as `(2^3)^2`: the caret is under the second `^`.
    assert_eq!(parse_error("w1^3^2").0, 4);
    assert_eq!(parse_error("w1^(3)^2").0, 6);
    // Explicit forms are accepted and mean what they say.
    let w = [3.0, 0.0];
    for (expr, value) in [
        ("-(w1^2)", -9.0),
        ("(-w1)^2", 9.0),
        ("0 - w1^2", -9.0),
        ("2*-w1", -6.0),
        ("-w1*2", -6.0),
        ("w1 - -w1", 6.0),
        ("(w1^2)^2", 81.0),
        ("w1^(2^2)", 81.0),
        ("w1^2*w1^2", 81.0),
        ("2^-w1", 0.125),
        ("sin(w1)^2 + cos(w1)^2", 1.0),
        ("min(w1^2, 10) + 0*x", 9.0),
    ] {
        let f = FormulaSpec::parse(expr, 2).map(|f| f.loss(&w, 1.0, 0.0));
        // `min` parses; it only fails to differentiate.
        match f {
            Ok(v) => assert!((v - value).abs() < 1e-12, "{expr}: {v} != {value}"),
            Err(FormulaError::Differentiate { .. }) if expr.starts_with("min") => {}
            Err(e) => panic!("{expr}: {e}"),
        }
    }
}

#[test]
fn non_differentiable_functions_are_reported() {
    for expr in ["abs(w1)", "w1^2*abs(x)", "min(w1, x)", "floor(w1)"] {
        assert!(
            matches!(
                FormulaSpec::parse(expr, 1),
                Err(FormulaError::Differentiate { param: 1, .. })
            ),
            "{expr}"
        );
    }
}

#[test]
fn origin_probe() {
    assert!(spec("x*w1^2/2", 1).origin_is_fixed());
    assert!(spec("x*w1^2/2 + w1^4/4", 1).origin_is_fixed());
    assert!(spec("(w2*w1^2 - y)^2", 2).origin_is_fixed());
    assert!(spec(SHARP_FLAT, 2).origin_is_fixed());
    assert!(!spec("(w1 - y)^2", 1).origin_is_fixed());
    // Zero at x = 0 only.
    assert!(!spec("w1^2 + x*w1", 1).origin_is_fixed());
    // Infinite derivative at 0.
    assert!(!spec("sqrt(w1^2 + 0*x)", 1).origin_is_fixed());
}

#[test]
fn model_impl() {
    let m = Formula::<2>::new(spec("(w2*w1^2 - y)^2 + x*w2", 2)).unwrap();
    assert_eq!(m.name(), "formula");
    let w = [0.5, -1.5];
    let s = Sample { x: 2.0, y: 0.25 };
    let r = w[1] * w[0] * w[0] - s.y;
    assert!((m.loss(&w, &s) - (r * r + s.x * w[1])).abs() < 1e-15);
    let mut g = [1.0, -1.0];
    m.grad_acc(&w, &s, 0.5, &mut g);
    let exact = [4.0 * r * w[1] * w[0], 2.0 * r * w[0] * w[0] + s.x];
    assert!((g[0] - (1.0 + 0.5 * exact[0])).abs() < 1e-15);
    assert!((g[1] - (-1.0 + 0.5 * exact[1])).abs() < 1e-15);
    let moments = Moments {
        mean_x: 0.0,
        m2_x: 1.0,
        mean_y: 0.0,
        m2_y: 1.0,
    };
    assert_eq!(m.expected_loss(&w, &moments), None);
    assert!(!m.expected_grad(&w, &moments, &mut g));
    assert!(!m.origin_is_fixed());
    assert_eq!(m.spec().params(), 2);

    assert_eq!(
        Formula::<3>::new(spec("w1", 2)).unwrap_err(),
        FormulaError::DimensionMismatch { spec: 2, model: 3 }
    );
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Formula<2>>();
}

#[test]
fn discrete_expectations_are_weighted_sums() {
    let m = Formula::<1>::new(spec("x*w1^2/2 + w1^4/4 + y*w1", 1)).unwrap();
    let atoms = [
        (Sample { x: 1.0, y: 0.0 }, 0.25),
        (Sample { x: -3.0, y: 2.0 }, 0.75),
    ];
    let w = [1.5];
    let ex: f64 = 0.25 * 1.0 - 0.75 * 3.0;
    let ey: f64 = 0.75 * 2.0;
    let loss = ex * w[0] * w[0] / 2.0 + w[0].powi(4) / 4.0 + ey * w[0];
    assert!((m.expected_loss_discrete(&w, &atoms) - loss).abs() < 1e-12);
    let mut g = [123.0];
    m.expected_grad_discrete(&w, &atoms, &mut g);
    assert!((g[0] - (ex * w[0] + w[0].powi(3) + ey)).abs() < 1e-12);
}

/// A reference evaluation of a formula: (w, x, y) ↦ value.
type Reference = Box<dyn Fn([f64; 2], f64, f64) -> f64>;

/// A random formula in w1, w2, x, y of nesting depth at most `depth`, with an
/// independent evaluation of it in Rust. Its values stay finite on w, x, y ∈ [-2, 2]
/// (functions with a restricted domain get a safe argument). Sub-formulas are
/// parenthesized where they are operands, except in the last, unparenthesized chain.
fn random_formula(rng: &mut Lcg, depth: usize) -> (String, Reference) {
    if depth == 0 || rng.unit() < 0.2 {
        let k = rng.below(7);
        let text = ["w1", "w2", "x", "y", "0.5", "3", "w1"][k].to_string();
        let f: Reference = Box::new(move |w, x, y| [w[0], w[1], x, y, 0.5, 3.0, w[0]][k]);
        return (text, f);
    }
    let (a, fa) = random_formula(rng, depth - 1);
    let (b, fb) = random_formula(rng, depth - 1);
    let (a, b) = (format!("({a})"), format!("({b})"));
    let (text, f): (String, Reference) = match rng.below(14) {
        0 => (
            format!("{a} + {b}"),
            Box::new(move |w, x, y| fa(w, x, y) + fb(w, x, y)),
        ),
        1 => (
            format!("{a} - {b}"),
            Box::new(move |w, x, y| fa(w, x, y) - fb(w, x, y)),
        ),
        2 => (
            format!("{a} * {b}"),
            Box::new(move |w, x, y| fa(w, x, y) * fb(w, x, y)),
        ),
        3 => (
            format!("{a} * {b} / (2 + {b}^2)"),
            Box::new(move |w, x, y| {
                let v = fb(w, x, y);
                fa(w, x, y) * v / (2.0 + v * v)
            }),
        ),
        4 => (
            format!("{a}^2"),
            Box::new(move |w, x, y| fa(w, x, y).powi(2)),
        ),
        5 => (
            format!("{a}^3 - {b}"),
            Box::new(move |w, x, y| fa(w, x, y).powi(3) - fb(w, x, y)),
        ),
        6 => (
            format!("sin{a}"),
            Box::new(move |w, x, y| fa(w, x, y).sin()),
        ),
        7 => (
            format!("cos{a} * {b}"),
            Box::new(move |w, x, y| fa(w, x, y).cos() * fb(w, x, y)),
        ),
        8 => (
            format!("exp(tanh{a})"),
            Box::new(move |w, x, y| fa(w, x, y).tanh().exp()),
        ),
        9 => (
            format!("atan{a} + -{b}"),
            Box::new(move |w, x, y| fa(w, x, y).atan() - fb(w, x, y)),
        ),
        10 => (
            format!("sqrt(1 + {a}^2)"),
            Box::new(move |w, x, y| (1.0 + fa(w, x, y).powi(2)).sqrt()),
        ),
        11 => (
            format!("ln(2 + sin{a})"),
            Box::new(move |w, x, y| (2.0 + fa(w, x, y).sin()).ln()),
        ),
        12 => (
            format!("(2 + cos{a})^({b}/4)"),
            Box::new(move |w, x, y| (2.0 + fa(w, x, y).cos()).powf(fb(w, x, y) / 4.0)),
        ),
        _ => (
            format!("{a} - {b} + {a}*{b} - {b}/3 * 2*3"),
            Box::new(move |w, x, y| {
                let (u, v) = (fa(w, x, y), fb(w, x, y));
                u - v + u * v - v / 3.0 * 6.0
            }),
        ),
    };
    (text, f)
}

/// On random formulas, the tape's value agrees with an independent evaluation, and its
/// gradient with central differences of that evaluation and with exmex's symbolic partial
/// derivatives (the method used before the tape) wherever exmex evaluates the formula
/// right.
#[test]
fn tape_agrees_with_references() {
    let mut rng = Lcg(2024);
    let (mut checked, mut symbolic_checked) = (0, 0);
    for _ in 0..300 {
        let (expr, reference) = random_formula(&mut rng, 4);
        let f = spec(&expr, 2);
        let exmex = Expr::parse(&expr).unwrap();
        let names = exmex.var_names().to_vec();
        let partials: Vec<Option<Expr>> = (0..2)
            .map(|i| {
                let idx = names.iter().position(|n| *n == format!("w{}", i + 1))?;
                Some(exmex.clone().partial(idx).expect("differentiable"))
            })
            .collect();
        for _ in 0..5 {
            let w = [rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)];
            let (x, y) = (rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0));
            let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * (1.0 + b.abs());
            let loss = f.loss(&w, x, y);
            let want = reference(w, x, y);
            assert!(
                close(loss, want, 1e-11),
                "{expr}: tape {loss} vs reference {want}"
            );
            let vars: Vec<f64> = names
                .iter()
                .map(|n| match n.as_str() {
                    "w1" => w[0],
                    "w2" => w[1],
                    "x" => x,
                    _ => y,
                })
                .collect();
            let exmex_right = close(exmex.eval(&vars).unwrap(), want, 1e-11);
            let mut g = [0.0; 2];
            f.grad(&w, x, y, &mut g);
            for i in 0..2 {
                let h = 1e-5;
                let (mut wp, mut wm) = (w, w);
                wp[i] += h;
                wm[i] -= h;
                let fd = (reference(wp, x, y) - reference(wm, x, y)) / (2.0 * h);
                assert!(
                    close(g[i], fd, 1e-5),
                    "{expr}: d/dw{} tape {} vs central {fd}",
                    i + 1,
                    g[i]
                );
                if exmex_right {
                    let symbolic = partials[i].as_ref().map_or(0.0, |p| p.eval(&vars).unwrap());
                    assert!(
                        close(g[i], symbolic, 1e-11),
                        "{expr}: d/dw{} tape {} vs symbolic {symbolic}",
                        i + 1,
                        g[i]
                    );
                    symbolic_checked += 1;
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 1500);
    assert!(symbolic_checked > 2000, "{symbolic_checked}");
}

/// exmex 0.21 misreads `cos(w1*3*3/11)` as `w1*cos(3*3/11)`; the tape does not.
#[test]
fn exmex_misreading_is_avoided() {
    let f = spec("cos(w1 * 3 * 3 / 11)", 1);
    let w = 0.7f64;
    assert_eq!(f.loss(&[w], 0.0, 0.0), (w * 3.0 * 3.0 / 11.0).cos());
    let exmex = Expr::parse("cos(w1 * 3 * 3 / 11)")
        .unwrap()
        .eval(&[w])
        .unwrap();
    assert!((exmex - w * (9.0f64 / 11.0).cos()).abs() < 1e-15, "{exmex}");
    let mut g = [0.0];
    f.grad(&[w], 0.0, 0.0, &mut g);
    assert!((g[0] + (9.0 / 11.0) * (w * 9.0 / 11.0).sin()).abs() < 1e-15);
}

#[test]
fn tape_shape() {
    // Constants fold and unary `+` is nothing: x, w1, 2, ^, ·, 1.5, /, 0, +.
    assert_eq!(spec("x*w1^2/(3*0.5) + 0*+2", 1).tape.len(), 9);
    assert_eq!(spec("((((w1))))", 1).tape.len(), 1);
    // exmex's priorities: `/` before `*`, `-` before `+`, left to right among equals.
    for (expr, value) in [
        ("w1 - 2 - 3", -4.0),
        ("w1 / 2 / 4", 0.125),
        ("w1 / 2 * 4", 2.0),
        ("w1 * 2 / 4", 0.5),
        ("w1 + 2 - 3 + 1", 1.0),
        ("2^w1^2", 4.0),
        ("-w1 + 3", 2.0),
        ("sin w1^2 + 1", 1.0 + 1f64.sin().powi(2)),
        ("max(w1, 3) - min(1, 2)", 2.0),
    ] {
        let tokens = tokenize(expr).unwrap();
        let slot = |n: &str| (n == "w1").then_some(Slot::W(0));
        let t = ad::Tape::build(&tokens, slot, MAX_DEPTH).unwrap();
        let v = t.value(|_| 1.0);
        assert!((v - value).abs() < 1e-15, "{expr}: {v} != {value}");
    }
}

/// Random token soups: whatever exmex rejects, the tokenizer or the grammar rejects too, at
/// a position of its own (so exmex's bare message, without a position, is never needed
/// for these tokens), and the grammar's language is a subset of exmex's.
#[test]
fn grammar_rejects_whatever_exmex_rejects() {
    const ALPHABET: [&str; 30] = [
        "w1", "w2", "x", "y", "2", "0.5", "+", "-", "*", "/", "^", "(", ")", "(", ")", ",", "sin",
        "min", "exp", " ", "e", "PI", "{x}", "w1", "atan2", "ln", "{", "}", ".", "e3",
    ];
    let mut rng = Lcg(42);
    let (mut rejected, mut accepted) = (0, 0);
    for _ in 0..20_000 {
        let n = 1 + rng.below(8);
        let s: String = (0..n)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        let exmex = Expr::parse(&s);
        let ours = tokenize(&s).map(|t| analyze(&t).syntax);
        match (&exmex, &ours) {
            (Err(_), Err(_) | Ok(Some(_))) => rejected += 1,
            (Ok(_), Ok(None)) => accepted += 1,
            (Ok(_), _) => {} // exmex is laxer (e.g. `*2 x`): fine
            (Err(e), Ok(None)) => panic!("{s:?}: exmex says {e}, the grammar accepts it"),
        }
    }
    assert!(rejected > 4_000 && accepted > 400, "{rejected} {accepted}");
}
