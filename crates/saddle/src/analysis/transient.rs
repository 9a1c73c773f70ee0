//! The transient Fokker–Planck density (Eq. 52) of an experiment: its generator for the
//! experiment's landscape, its initial law and times from the experiment, and its distances
//! to the ensemble's histograms at the same times.

use super::distance::{cell_cdf, histogram_distance};
use super::time_per_step;
use crate::config::Experiment;
use crate::ensemble::Init;
use crate::observe::Histogram;
use crate::sde::Coefficients;
use crate::theory::distance::Comparison;
use crate::theory::fokker_planck::{FokkerPlanck, Initial, Transient};
use crate::theory::TheoryError;
use serde::Serialize;

/// The Fokker–Planck equation (Eq. 52) on [lo, hi] (`cells` finite volumes) for the
/// experiment's landscape `land` (drift L′(w), noise strength C(w)), learning rate λ and
/// batch S.
pub fn fokker_planck_for(
    e: &Experiment,
    land: &dyn Coefficients,
    lo: f64,
    hi: f64,
    cells: usize,
) -> Result<FokkerPlanck, TheoryError> {
    FokkerPlanck::new(
        |w| land.grad(w),
        |w| land.c(w),
        e.optimizer.lr,
        e.noise.batch as f64,
        lo,
        hi,
        cells,
    )
}

/// The experiment's law of w₀ (its first coordinate) as the initial density on [lo, hi]: a
/// point mass, or its uniform law cut to the domain.
pub fn initial_law(e: &Experiment, lo: f64, hi: f64) -> Initial<'static> {
    match &e.init {
        Init::Point(w) => Initial::PointMass(w[0]),
        Init::Uniform { lo: a, hi: b } => Initial::Uniform {
            lo: a[0].max(lo),
            hi: b[0].min(hi),
        },
    }
}

/// The times, in the units of Eq. 49, at which the experiment records histograms (each step
/// once, in order, times the time of a step: [`time_per_step`]); its last step's time when
/// it records none.
pub fn histogram_times(e: &Experiment) -> Vec<f64> {
    let dt = time_per_step(e);
    let mut steps: Vec<u64> = e
        .observe
        .histograms
        .iter()
        .flat_map(|h| h.steps.iter().copied())
        .collect();
    steps.sort_unstable();
    steps.dedup();
    let mut times: Vec<f64> = steps.iter().map(|t| *t as f64 * dt).collect();
    if times.is_empty() {
        times.push(e.steps as f64 * dt);
    }
    times
}

/// An ensemble histogram against the transient density at its time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FpComparison {
    /// The histogram's step.
    pub step: u64,
    /// Its time (step × dt; step for the discrete optimizers).
    pub time: f64,
    /// Distances to the density at that time.
    #[serde(flatten)]
    pub distance: Comparison,
}

/// The distances ([`histogram_distance`] at level `alpha`) between each 1-D histogram of an
/// ensemble and the transient density `t` at the histogram's time (its step × `dt`, matched to
/// t's times within 10⁻⁹ relative); histograms at other times are left out. The density is
/// piecewise constant on t's cells ([`cell_cdf`]).
pub fn compare_transient(
    t: &Transient,
    histograms: &[Histogram],
    dt: f64,
    alpha: f64,
) -> Result<Vec<FpComparison>, TheoryError> {
    let mut out = Vec::new();
    for h in histograms {
        let time = h.step as f64 * dt;
        let Some(k) = t
            .times
            .iter()
            .position(|s| (s - time).abs() <= 1e-9 * time.max(1.0))
        else {
            continue;
        };
        out.push(FpComparison {
            step: h.step,
            time,
            distance: histogram_distance(h, cell_cdf(&t.density[k], t.lo, t.hi), alpha)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::exp;
    use super::*;
    use crate::experiment::coefficients;
    use crate::theory::fokker_planck::Scheme;

    const FILE: &str = "name = 't'\nruns = 1\nsteps = 400\n[model]\nkind = 'quadratic'\n[noise]\nkind = 'two-point'\na = -1.0\ninjected_sigma = 0.1\n[init]\nkind = 'uniform'\nlo = -3.0\nhi = 0.5\n[optimizer]\nkind = 'sde'\nlr = 0.8\ndt = 0.01\n[diffusion]\nkind = 'minibatch'\n";

    #[test]
    fn times_and_initial_law_from_the_file() {
        let with = format!(
            "{FILE}[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nbins = 4\nsteps = [400, 100]\n[[observe.histogram]]\nlo = -2.0\nhi = 2.0\nbins = 4\nsteps = [100]"
        );
        let t = histogram_times(&exp(&with));
        assert_eq!(t.len(), 2);
        assert!(
            (t[0] - 1.0).abs() < 1e-15 && (t[1] - 4.0).abs() < 1e-15,
            "{t:?}"
        );
        // No histograms: the last step's time, 400 × 0.01.
        assert_eq!(histogram_times(&exp(FILE)), vec![4.0]);
        match initial_law(&exp(FILE), -2.0, 2.0) {
            Initial::Uniform { lo, hi } => assert_eq!((lo, hi), (-2.0, 0.5)),
            _ => panic!("uniform"),
        }
    }

    #[test]
    fn a_histogram_drawn_from_the_density_is_at_distance_zero() {
        // Counts proportional to the cell masses of the density at t = 1 (4 cells per bin):
        // the L1 distance is the rounding of the counts only.
        let e = exp(FILE);
        let land = coefficients(&e).unwrap();
        let fp = fokker_planck_for(&e, land.as_ref(), -2.0, 2.0, 40).unwrap();
        let init = initial_law(&e, -2.0, 2.0);
        let t = fp
            .evolve(init, &[1.0, 2.0], 1e-3, Scheme::BackwardEuler)
            .unwrap();
        let n = 1e9;
        let counts: Vec<u64> = t.density[0]
            .chunks(4)
            .map(|c| (c.iter().sum::<f64>() * 0.1 * n).round() as u64)
            .collect();
        let h = Histogram {
            params: vec![0],
            step: 100,
            lo: vec![-2.0],
            hi: vec![2.0],
            bins: vec![10],
            counts,
            underflow: 0,
            overflow: 0,
            excluded: 0,
        };
        let mut later = h.clone();
        later.step = 300; // time 3: not one of the density's times
        let c = compare_transient(&t, &[h, later], 0.01, 0.01).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].step, c[0].time), (100, 1.0));
        assert!(c[0].distance.l1 < 1e-8, "{}", c[0].distance.l1);
    }
}
