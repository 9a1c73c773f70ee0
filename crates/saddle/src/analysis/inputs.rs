//! The parameters of an experiment as the inputs of the paper's closed forms: one function per
//! rule, so that every front end reads an experiment the same way.

use crate::config::{DiffusionSpec, Experiment, ModelSpec};
use crate::model::Field;
use crate::noise::Law;
use crate::theory::stationary::QuarticSgd;
use crate::theory::TheoryError;

/// The a of the paper's two-point noise x ∈ {1, a − 1} where the two-point closed forms apply:
/// μ(λ) of Eq. 83, the phase boundary of Eqs 85–87 and the optimum of Eqs 89–90, which are for
/// single-sample steps (S = 1) with the noise on x. None for any other noise.
pub fn two_point_a(e: &Experiment) -> Option<f64> {
    match (&e.noise.law, e.noise.batch, e.noise.field) {
        (Law::TwoPoint { a }, 1, Field::X) => Some(*a),
        _ => None,
    }
}

/// The a of the noise law, whatever the batch and field: the parameter the paper's figures
/// (Figs 1, 3, 5, 7, 8) are drawn over. None for a law other than the two-point one.
pub fn two_point_law_a(e: &Experiment) -> Option<f64> {
    match e.noise.law {
        Law::TwoPoint { a } => Some(a),
        _ => None,
    }
}

/// The b of the fourth-order landscape L = x w²/2 + b w⁴/4 (§6.1, App. C.2); None for any
/// other model.
pub fn quartic_b(e: &Experiment) -> Option<f64> {
    match e.model {
        ModelSpec::Quartic { b } => Some(b),
        _ => None,
    }
}

/// The b of App. C's landscape L = m w²/2 + b w⁴/4 (Eq. 58): 0 for the quadratic (Eq. 4),
/// b for the quartic; None for any other model.
pub fn landscape_b(e: &Experiment) -> Option<f64> {
    match e.model {
        ModelSpec::Quadratic => Some(0.0),
        _ => quartic_b(e),
    }
}

/// The data moments (m, v) = (E\[x\], Var x) of the experiment's noise: the mean of the
/// expected loss's curvature and the variance v w² of the per-sample gradient (Eq. 62).
pub fn data_moments(e: &Experiment) -> (f64, f64) {
    let mo = e.noise.moments();
    (mo.mean_x, mo.m2_x - mo.mean_x * mo.mean_x)
}

/// The continuous-time limit (Eq. 49) of the experiment's dynamics on App. C's landscape with
/// quartic coefficient `b`: the experiment's data moments m, v ([`data_moments`]), injected σ,
/// learning rate λ and batch S in the noise strength C(w) = v w² + Sσ² of Eq. 62, whose
/// stationary density is Eq. 63.
pub fn continuous_limit(e: &Experiment, b: f64) -> Result<QuarticSgd, TheoryError> {
    let (m, v) = data_moments(e);
    QuarticSgd::new(
        m,
        b,
        v,
        e.injected_sigma,
        e.optimizer.lr,
        e.noise.batch as f64,
    )
}

/// App. C's closed form for the experiment, where it applies: a quadratic or quartic model
/// ([`landscape_b`]) with minibatch noise on x (C(w) = v w² + Sσ², Eq. 62) and parameters
/// the closed form accepts ([`continuous_limit`]). None otherwise.
pub fn app_c_closed_form(e: &Experiment) -> Option<QuarticSgd> {
    let b = landscape_b(e)?;
    if e.diffusion != DiffusionSpec::Minibatch || e.noise.field != Field::X {
        return None;
    }
    continuous_limit(e, b).ok()
}

#[cfg(test)]
mod tests {
    use super::super::tests::exp;
    use super::*;

    fn file(model: &str, noise: &str, extra: &str) -> Experiment {
        exp(&format!(
            "name = 't'\nruns = 1\nsteps = 1\n[model]\n{model}\n[noise]\n{noise}\n[optimizer]\nkind = 'sde'\nlr = 0.5\ndt = 0.01\n[diffusion]\nkind = 'minibatch'\n{extra}"
        ))
    }

    #[test]
    fn two_point_a_needs_single_samples_on_x() {
        let e = file("kind = 'quadratic'", "kind = 'two-point'\na = -0.25", "");
        assert_eq!(two_point_a(&e), Some(-0.25));
        assert_eq!(two_point_law_a(&e), Some(-0.25));
        // With S = 2 Eq. 83 no longer applies, but the law still has its a.
        let e = file(
            "kind = 'quadratic'",
            "kind = 'two-point'\na = -0.25\nbatch = 2",
            "",
        );
        assert_eq!(two_point_a(&e), None);
        assert_eq!(two_point_law_a(&e), Some(-0.25));
        let e = file(
            "kind = 'quadratic'",
            "kind = 'gaussian'\nmean = 1.0\nstd = 1.0",
            "",
        );
        assert_eq!((two_point_a(&e), two_point_law_a(&e)), (None, None));
    }

    #[test]
    fn b_is_zero_for_the_quadratic_and_read_for_the_quartic() {
        let noise = "kind = 'two-point'\na = -1.0";
        let q = file("kind = 'quadratic'", noise, "");
        assert_eq!((quartic_b(&q), landscape_b(&q)), (None, Some(0.0)));
        let q = file("kind = 'quartic'\nb = 1.5", noise, "");
        assert_eq!((quartic_b(&q), landscape_b(&q)), (Some(1.5), Some(1.5)));
    }

    #[test]
    fn data_moments_of_the_two_point_law() {
        // x ∈ {1, a − 1} with probability ½: m = a/2, v = (2 − a)²/4 (fig9-sde.toml: a = −1
        // gives m = −½, v = 9/4).
        for a in [-1.0, -0.1, 0.5] {
            let e = file(
                "kind = 'quadratic'",
                &format!("kind = 'two-point'\na = {a}"),
                "",
            );
            let (m, v) = data_moments(&e);
            assert!((m - a / 2.0).abs() < 1e-15, "{m}");
            assert!((v - (2.0 - a) * (2.0 - a) / 4.0).abs() < 1e-14, "{v}");
        }
    }

    #[test]
    fn the_closed_form_carries_the_experiments_parameters() {
        // eq63.toml: m = −1, v = 1, b = 1, σ = 0.3, λ = 0.5, S = 1; Eq. 65's mode is
        // √(−λv/(Sb) − m/b) = √0.5.
        let e = file(
            "kind = 'quartic'\nb = 1.0",
            "kind = 'gaussian'\nmean = -1.0\nstd = 1.0\ninjected_sigma = 0.3",
            "",
        );
        let q = app_c_closed_form(&e).expect("App. C applies");
        assert_eq!(
            (q.m, q.b, q.v, q.sigma, q.lr, q.batch),
            (-1.0, 1.0, 1.0, 0.3, 0.5, 1.0)
        );
        assert!((q.most_probable_w().unwrap() - 0.5f64.sqrt()).abs() < 1e-15);
        // Eq. 63's exponent −1 − Sm/(λv) + S²bσ²/(λv²) = −1 + 2 + 0.18.
        assert!((q.exponent().unwrap() - 1.18).abs() < 1e-12);
        assert_eq!(continuous_limit(&e, 0.0).unwrap().b, 0.0);
        // Noise on y, or another diffusion, is not App. C's landscape.
        let y = file(
            "kind = 'quartic'\nb = 1.0",
            "kind = 'gaussian'\nmean = -1.0\nstd = 1.0\nfield = 'y'",
            "",
        );
        assert!(app_c_closed_form(&y).is_none());
    }
}
