//! The escape probability of an experiment (Eqs 79–80): its law of w₀ as the theory's, and
//! the simulated escape fraction beside the theory's value.

use super::{optimizer_is, AnalysisError};
use crate::config::Experiment;
use crate::ensemble::Init as EnsembleInit;
use crate::theory::escape_probability::Init;
use serde::Serialize;

/// The experiment's law of w₀ as the escape probability's (Eqs 79–80): a point or a uniform
/// interval, for a one-parameter experiment.
///
/// # Errors
/// [`AnalysisError::NotOneParameter`] when w has more than one coordinate.
pub fn escape_init(e: &Experiment) -> Result<Init, AnalysisError> {
    match &e.init {
        EnsembleInit::Uniform { lo, hi } if lo.len() == 1 => Ok(Init::Uniform {
            lo: lo[0],
            hi: hi[0],
        }),
        EnsembleInit::Point(w) if w.len() == 1 => Ok(Init::Point { w0: w[0] }),
        _ => Err(AnalysisError::NotOneParameter(e.name.clone())),
    }
}

/// The escape fraction P(|w_T| ≥ δ) of a simulated SGD ensemble.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Simulated {
    /// Runs.
    pub runs: u64,
    /// The seed.
    pub seed: u64,
    /// The escape fraction.
    pub value: f64,
    /// Its binomial standard error.
    pub stderr: f64,
}

/// Run the experiment (SGD, observing the escape fraction) and return its escape fraction,
/// the simulated counterpart of the exact probability of Eqs 79–80.
///
/// # Errors
/// [`AnalysisError::Optimizer`] unless the optimizer is SGD; [`AnalysisError::NotObserved`]
/// without `[observe.escape]`; [`AnalysisError::Run`] when the run fails.
pub fn simulated_escape(e: &Experiment) -> Result<Simulated, AnalysisError> {
    if !optimizer_is(e, "sgd") {
        return Err(AnalysisError::Optimizer("sgd"));
    }
    if e.observe.escape.is_none() {
        return Err(AnalysisError::NotObserved("the escape fraction"));
    }
    let s = crate::experiment::run(e, 0, None)?;
    let esc = s
        .escape
        .ok_or(AnalysisError::NotObserved("the escape fraction"))?;
    Ok(Simulated {
        runs: e.runs,
        seed: e.seed,
        value: esc.value,
        stderr: esc.stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::exp;
    use super::*;

    const FILE: &str = "name = 'esc'\nruns = 400\nsteps = 1\nseed = 3\n[model]\nkind = 'quadratic'\n[noise]\nkind = 'two-point'\na = -1.0\n[init]\nkind = 'point'\nw = 1.0\n[optimizer]\nkind = 'sgd'\nlr = 1.0\n[observe]\nescape = { delta = 0.5 }";

    #[test]
    fn the_law_of_w0() {
        assert_eq!(escape_init(&exp(FILE)).unwrap(), Init::Point { w0: 1.0 });
        let u = exp(&FILE.replace(
            "kind = 'point'\nw = 1.0",
            "kind = 'uniform'\nlo = -1.0\nhi = 0.5",
        ));
        assert_eq!(
            escape_init(&u).unwrap(),
            Init::Uniform { lo: -1.0, hi: 0.5 }
        );
    }

    #[test]
    fn one_sgd_step_escapes_with_the_probability_of_x_equal_a_minus_1() {
        // From w₀ = 1 at λ = 1 one step gives w₁ = (1 − x)w₀: 0 for x = 1, 3 for x = a − 1 =
        // −2, each with probability ½; so the escape fraction over 400 runs is binomial(400, ½)
        // / 400, with its standard error √(p(1 − p)/n) about 0.025.
        let s = simulated_escape(&exp(FILE)).unwrap();
        assert_eq!((s.runs, s.seed), (400, 3));
        assert!((s.value - 0.5).abs() < 4.0 * 0.025, "{}", s.value);
        assert!((s.stderr - (s.value * (1.0 - s.value) / 400.0).sqrt()).abs() < 1e-3);
        let gd = exp(&FILE.replace("kind = 'sgd'", "kind = 'gd'"));
        assert_eq!(
            simulated_escape(&gd).unwrap_err().to_string(),
            "needs optimizer.kind = \"sgd\""
        );
    }
}
