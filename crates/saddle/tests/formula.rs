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
