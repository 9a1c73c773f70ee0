//! The stationary law of an experiment: the numerical density of Eq. 57 for its drift and
//! noise strength, beside App. C's closed forms (Eqs 63, 65, 68, 76) where they apply.

use super::inputs::app_c_closed_form;
use crate::config::Experiment;
use crate::sde::Coefficients;
use crate::theory::stationary::{
    concentration_threshold_m, critical_m, stationary_density, Normalisability, StationaryDensity,
};
use crate::theory::TheoryError;
use serde::Serialize;

/// The stationary density of Eq. 57 on [lo, hi] (`cells` grid points) for the experiment's
/// landscape `land` (its drift L′(w) and noise strength C(w)), learning rate λ and batch S.
pub fn stationary_density_for(
    e: &Experiment,
    land: &dyn Coefficients,
    lo: f64,
    hi: f64,
    cells: usize,
) -> Result<StationaryDensity, TheoryError> {
    stationary_density(
        |w| land.grad(w),
        |w| land.c(w),
        e.optimizer.lr,
        e.noise.batch as f64,
        lo,
        hi,
        cells,
    )
}

/// App. C's closed form beside a numerical stationary density (the JSON of `saddle theory
/// stationary`, schema in docs/theory.md).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClosedForm {
    /// m = E[x].
    pub m: f64,
    /// v = Var x.
    pub v: f64,
    /// b (0 for the quadratic).
    pub b: f64,
    /// σ.
    pub sigma: f64,
    /// The power of (v w² + Sσ²) in Eq. 63 (of |w| in Eqs 68, 76).
    pub exponent: Option<f64>,
    /// Where the closed-form density can be normalised.
    pub normalisability: Normalisability,
    /// Eq. 65 (null where it has no finite value).
    pub most_probable_w: Option<f64>,
    /// m below which the mode leaves 0: −λv/S (Eqs 65, 77).
    pub critical_m: f64,
    /// m below which the origin stops attracting (σ = 0): −λv/(2S).
    pub concentration_threshold_m: f64,
    /// Largest |ln p_numeric − ln p_closed| on the grid, after matching at the mode.
    pub max_log_difference: f64,
}

/// Eqs 63/68/76 and 65 for the experiment beside its numerical stationary density `d` (Eq. 57),
/// where the experiment is App. C's landscape (quadratic or quartic model, minibatch noise on
/// x: [`app_c_closed_form`]); None otherwise. The log-densities are matched at the grid point
/// nearest the numerical mode, and their largest difference elsewhere is reported.
pub fn closed_form(
    e: &Experiment,
    d: &StationaryDensity,
) -> Result<Option<ClosedForm>, TheoryError> {
    let Some(q) = app_c_closed_form(e) else {
        return Ok(None);
    };
    let (m, v, lr, s) = (q.m, q.v, q.lr, q.batch);
    let at = |i: usize| d.log_density[i] - q.log_density(d.w[i]);
    let imode =
        d.w.iter()
            .enumerate()
            .min_by(|x, y| (x.1 - d.mode).abs().total_cmp(&(y.1 - d.mode).abs()))
            .map_or(0, |x| x.0);
    let off = at(imode);
    let max_log_difference = (0..d.w.len())
        .filter(|&i| d.log_density[i].is_finite())
        .map(|i| (at(i) - off).abs())
        .fold(0.0, f64::max);
    Ok(Some(ClosedForm {
        m,
        v,
        b: q.b,
        sigma: q.sigma,
        exponent: q.exponent(),
        normalisability: q.normalisability(),
        most_probable_w: q.most_probable_w().ok(),
        critical_m: critical_m(v, lr, s)?,
        concentration_threshold_m: concentration_threshold_m(v, lr, s)?,
        max_log_difference,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::exp;
    use super::*;
    use crate::experiment::coefficients;

    const EQ63: &str = "name = 't'\nruns = 1\nsteps = 1\n[model]\nkind = 'quartic'\nb = 1.0\n[noise]\nkind = 'gaussian'\nmean = -1.0\nstd = 1.0\ninjected_sigma = 0.3\n[optimizer]\nkind = 'sde'\nlr = 0.5\ndt = 0.01\n[diffusion]\nkind = 'minibatch'";

    #[test]
    fn eq63_closed_form_beside_the_numerical_density() {
        // eq63.toml: m = −1, b = 1, v = 1, σ = 0.3, λ = 0.5, S = 1.
        let e = exp(EQ63);
        let land = coefficients(&e).unwrap();
        let d = stationary_density_for(&e, land.as_ref(), -4.0, 4.0, 4000).unwrap();
        // Eq. 65: the most probable w is √(−λv/(Sb) − m/b) = √0.5, for both the numerical
        // density (to a grid step) and the closed form.
        assert!((d.mode.abs() - 0.5f64.sqrt()).abs() < 4e-3, "{}", d.mode);
        let c = closed_form(&e, &d).unwrap().expect("App. C applies");
        assert_eq!((c.m, c.v, c.b, c.sigma), (-1.0, 1.0, 1.0, 0.3));
        assert!((c.most_probable_w.unwrap() - 0.5f64.sqrt()).abs() < 1e-15);
        // κ = −1 − Sm/(λv) + S²bσ²/(λv²) = 1.18; −λv/S = −0.5; −λv/(2S) = −0.25.
        assert!((c.exponent.unwrap() - 1.18).abs() < 1e-12);
        assert!((c.critical_m + 0.5).abs() < 1e-15);
        assert!((c.concentration_threshold_m + 0.25).abs() < 1e-15);
        assert!(c.normalisability.normalisable);
        // The numerical density of Eq. 57 is Eq. 63 up to the grid's error.
        assert!(c.max_log_difference < 1e-3, "{}", c.max_log_difference);
        // Noise on y is not App. C's landscape: no closed form.
        let y = exp(&EQ63.replace("injected_sigma", "field = 'y'\ninjected_sigma"));
        assert_eq!(closed_form(&y, &d).unwrap(), None);
    }
}
