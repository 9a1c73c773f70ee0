//! The transient one-dimensional Fokker–Planck equation (App. C, Eqs 52–54) on a bounded
//! domain with zero-flux ends.
//!
//! Eq. 52 reads ∂P/∂t = ∂/∂w [A P + ∂(D P)/∂w] with drift A = λL′(w) and diffusion
//! D = λ²C(w)/(2S) (the SDE of Eq. 49). [`FokkerPlanck`] discretises it by finite volumes:
//! cell averages Pᵢ on N equal cells of [lo, hi], and the flux G = A P + ∂(DP)/∂w between the
//! centres xᵢ, xᵢ₊₁ by exponential fitting (Scharfetter–Gummel; the Chang–Cooper weighting of
//! this conservative form): with q = D P and βᵢ₊½ = ∫_{xᵢ}^{xᵢ₊₁} A/D dw =
//! (2S/λ) ∫ L′/C dw (Gauss–Legendre),
//!
//! Gᵢ₊½ = [B(−βᵢ₊½) qᵢ₊₁ − B(βᵢ₊½) qᵢ]/h,  B(x) = x/(eˣ − 1),
//!
//! which is exact when A/D is constant between the centres, and G = 0 at lo and hi. Then
//! dPᵢ/dt = (Gᵢ₊½ − Gᵢ₋½)/h: a tridiagonal matrix with non-negative off-diagonal entries and
//! zero column sums (probability is conserved). Its zero-flux (stationary) solution is
//! qᵢ₊₁/qᵢ = e^{−βᵢ₊½}, i.e. Pᵢ ∝ exp(−(2S/λ)∫ L′/C)/C(xᵢ): Eq. 57 sampled at the centres, the
//! discretisation error entering only through the normalisation h ΣPᵢ (O(h²)).
//!
//! Time stepping: backward Euler (unconditionally positivity-preserving, first order) or
//! Crank–Nicolson restricted to steps Δt ≤ 2/maxᵢ|Mᵢᵢ| (then its explicit half is a
//! non-negative matrix, so it preserves positivity; second order). Each step is one
//! tridiagonal solve (Thomas algorithm in a subtraction-free form: no pivoting is needed for
//! these M-matrices, every value stays non-negative in floating point, and probability is
//! conserved to rounding even when D/h² is huge).

use super::stationary::{check_cells, check_domain, check_lr_batch, gl5_points, grad_at, noise_at};
use super::{invalid, TheoryError};
use serde::Serialize;

/// The most time steps one call of [`FokkerPlanck::evolve`] takes.
pub const MAX_STEPS: u64 = 100_000_000;

/// The most work [`FokkerPlanck::evolve`] takes on: time steps × cells (each step is one
/// tridiagonal solve, O(cells)), about ten seconds on one core.
pub const MAX_CELL_STEPS: u64 = 1_000_000_000;

/// The most values [`FokkerPlanck::evolve`] returns: requested times × cells (8 bytes each).
pub const MAX_OUTPUT_VALUES: u64 = 20_000_000;

/// The initial density of a transient solution (normalised by the solver to total mass 1 on
/// the grid).
#[derive(Clone, Copy)]
pub enum Initial<'a> {
    /// A density given as a function (non-negative and finite on [lo, hi], not necessarily
    /// normalised); each cell receives its Gauss–Legendre integral over the cell.
    Density(&'a dyn Fn(f64) -> f64),
    /// Uniform on [lo, hi] (a sub-interval of the domain, lo < hi); cells receive their exact
    /// overlap (Fig. 10 starts from U[−1, 1]).
    Uniform {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// All the mass in the cell that contains w (the last cell for w = hi).
    PointMass(f64),
}

impl std::fmt::Debug for Initial<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Density(_) => write!(f, "Density(..)"),
            Self::Uniform { lo, hi } => write!(f, "Uniform {{ lo: {lo}, hi: {hi} }}"),
            Self::PointMass(w) => write!(f, "PointMass({w})"),
        }
    }
}

/// Time-stepping scheme of [`FokkerPlanck::evolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// (I − Δt M) Pⁿ⁺¹ = Pⁿ: first order, positive and conservative for any Δt.
    BackwardEuler,
    /// (I − Δt M/2) Pⁿ⁺¹ = (I + Δt M/2) Pⁿ with Δt capped at 2/maxᵢ|Mᵢᵢ| (positivity):
    /// second order.
    CrankNicolson,
}

/// The Fokker–Planck operator of Eq. 52 discretised on N equal cells of [lo, hi] (see the
/// module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct FokkerPlanck {
    lr: f64,
    batch: f64,
    lo: f64,
    hi: f64,
    h: f64,
    centres: Vec<f64>,
    /// (2S/λ) ∫ L′/C between neighbouring centres (N − 1 values).
    beta: Vec<f64>,
    /// D(xᵢ) = λ² C(xᵢ)/(2S).
    diffusion: Vec<f64>,
    /// Tridiagonal M: coefficient of Pᵢ₋₁, Pᵢ, Pᵢ₊₁ in dPᵢ/dt.
    lower: Vec<f64>,
    diag: Vec<f64>,
    upper: Vec<f64>,
}

/// A transient solution of Eq. 52 at the requested times.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transient {
    /// Learning rate λ.
    pub lr: f64,
    /// Batch size S.
    pub batch: f64,
    /// Lower end of the domain.
    pub lo: f64,
    /// Upper end of the domain.
    pub hi: f64,
    /// Cell centres xᵢ = lo + (i + ½)h, h = (hi − lo)/N.
    pub centres: Vec<f64>,
    /// Time-stepping scheme.
    pub scheme: Scheme,
    /// The requested times t (non-decreasing, ≥ 0), in the time units of Eq. 49.
    pub times: Vec<f64>,
    /// P(xᵢ, t) for each requested time (cell averages, h Σᵢ Pᵢ = 1).
    pub density: Vec<Vec<f64>>,
    /// The discrete stationary density (zero discrete flux) at the centres, h Σᵢ Pᵢ = 1.
    pub stationary: Vec<f64>,
    /// L1 distance h Σᵢ |Pᵢ(t) − Pᵢ^stat| to the discrete stationary density at each time.
    pub l1_to_stationary: Vec<f64>,
    /// Total probability h Σᵢ Pᵢ(t) at each requested time.
    pub total: Vec<f64>,
    /// max over every time step of |h Σᵢ Pᵢ − 1| (conservation).
    pub max_total_error: f64,
    /// min over every time step and cell of Pᵢ (positivity: ≥ 0).
    pub min_density: f64,
    /// Time steps taken.
    pub steps: u64,
    /// Largest time step used.
    pub max_dt: f64,
}

/// B(x) = x/(eˣ − 1), the Bernoulli function (B(0) = 1).
fn bernoulli(x: f64) -> f64 {
    if x.abs() < 1e-8 {
        1.0 - 0.5 * x
    } else {
        x / x.exp_m1()
    }
}

impl FokkerPlanck {
    /// Discretises Eq. 52 for L′ = `grad`, C = `noise` (per-sample gradient variance, not
    /// divided by S), λ = `lr`, S = `batch` on `cells` equal cells of [lo, hi].
    ///
    /// C is evaluated at the cell centres and between them (Gauss–Legendre nodes), i.e. on
    /// [lo + h/2, hi − h/2], where it must be finite and > 0.
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `lr`, `batch` (finite, > 0), `lo`, `hi` (finite,
    /// lo < hi), `cells` (2 ..= 10⁷), `c` (C ≤ 0 or not finite at an evaluated point: the
    /// process cannot cross a zero of C, choose a domain on one side), `grad` (not finite).
    pub fn new(
        grad: impl Fn(f64) -> f64,
        noise: impl Fn(f64) -> f64,
        lr: f64,
        batch: f64,
        lo: f64,
        hi: f64,
        cells: usize,
    ) -> Result<Self, TheoryError> {
        check_lr_batch(lr, batch)?;
        check_domain(lo, hi)?;
        check_cells(cells, 2)?;
        let h = (hi - lo) / cells as f64;
        let k = 2.0 * batch / lr;
        let centres: Vec<f64> = (0..cells)
            .map(|i| lo + (hi - lo) * ((i as f64 + 0.5) / cells as f64))
            .collect();
        let mut diffusion = Vec::with_capacity(cells);
        for &x in &centres {
            diffusion.push(lr * lr * noise_at(&noise, x, lo, hi)? / (2.0 * batch));
        }
        let mut beta = Vec::with_capacity(cells - 1);
        for i in 0..cells - 1 {
            let mut s = 0.0;
            for (x, wt) in gl5_points(centres[i], centres[i + 1]) {
                s += wt * grad_at(&grad, x, lo, hi)? / noise_at(&noise, x, lo, hi)?;
            }
            let b = k * s;
            if !b.is_finite() {
                return Err(TheoryError::Numeric(format!(
                    "(2S/λ)∫ L'/C dw overflows between w = {} and w = {}",
                    centres[i],
                    centres[i + 1]
                )));
            }
            beta.push(b);
        }
        let h2 = h * h;
        let mut lower = vec![0.0; cells];
        let mut diag = vec![0.0; cells];
        let mut upper = vec![0.0; cells];
        for (i, &b) in beta.iter().enumerate() {
            // Face i + ½ between cells i and i + 1: G = [B(−β) D_{i+1} P_{i+1} − B(β) D_i P_i]/h.
            let a_plus = bernoulli(-b) / h2;
            let a_minus = bernoulli(b) / h2;
            upper[i] = a_plus * diffusion[i + 1];
            diag[i] -= a_minus * diffusion[i];
            lower[i + 1] = a_minus * diffusion[i];
            diag[i + 1] -= a_plus * diffusion[i + 1];
        }
        if diag.iter().any(|d| !d.is_finite()) {
            return Err(TheoryError::Numeric(
                "the discretised operator is not finite (C or L'/C too large)".into(),
            ));
        }
        Ok(Self {
            lr,
            batch,
            lo,
            hi,
            h,
            centres,
            beta,
            diffusion,
            lower,
            diag,
            upper,
        })
    }

    /// The cell centres xᵢ = lo + (i + ½)h.
    #[must_use]
    pub fn centres(&self) -> &[f64] {
        &self.centres
    }

    /// The cell width h = (hi − lo)/N.
    #[must_use]
    pub fn cell_width(&self) -> f64 {
        self.h
    }

    /// The largest time step for which Crank–Nicolson preserves positivity, 2/maxᵢ|Mᵢᵢ|.
    #[must_use]
    pub fn crank_nicolson_max_dt(&self) -> f64 {
        let m = self.diag.iter().fold(0.0_f64, |a, d| a.max(d.abs()));
        if m > 0.0 {
            2.0 / m
        } else {
            f64::INFINITY
        }
    }

    /// The discrete stationary density: zero discrete flux in every face,
    /// Pᵢ ∝ exp(−Σ_{j<i} βⱼ₊½)/C(xᵢ) (Eq. 57 at the centres), normalised so that h ΣPᵢ = 1.
    #[must_use]
    pub fn stationary(&self) -> Vec<f64> {
        let mut ln_p = Vec::with_capacity(self.centres.len());
        let mut phi = 0.0;
        ln_p.push(-self.diffusion[0].ln());
        for (i, b) in self.beta.iter().enumerate() {
            phi += b;
            ln_p.push(-phi - self.diffusion[i + 1].ln());
        }
        let top = ln_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = ln_p.iter().map(|l| (l - top).exp()).sum::<f64>() * self.h;
        ln_p.iter().map(|l| (l - top).exp() / total).collect()
    }

    /// dP/dt = M P for densities at the centres (the discretised right-hand side of Eq. 52).
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `p` when its length is not the number of cells.
    pub fn apply(&self, p: &[f64]) -> Result<Vec<f64>, TheoryError> {
        let n = self.centres.len();
        if p.len() != n {
            return invalid(
                "p",
                format!("need {n} values (one per cell), got {}", p.len()),
            );
        }
        Ok((0..n)
            .map(|i| {
                let mut s = self.diag[i] * p[i];
                if i > 0 {
                    s += self.lower[i] * p[i - 1];
                }
                if i + 1 < n {
                    s += self.upper[i] * p[i + 1];
                }
                s
            })
            .collect())
    }

    /// Densities at the centres (h ΣPᵢ = 1) of an initial condition.
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `initial` when a density is negative, not finite or
    /// has no mass on [lo, hi], a uniform interval is empty or leaves the domain, or a point
    /// mass lies outside [lo, hi].
    pub fn initial(&self, init: Initial<'_>) -> Result<Vec<f64>, TheoryError> {
        let n = self.centres.len();
        let (lo, hi, h) = (self.lo, self.hi, self.h);
        let edge = |i: usize| {
            if i == n {
                hi
            } else {
                lo + (hi - lo) * (i as f64 / n as f64)
            }
        };
        let mut mass = vec![0.0; n];
        match init {
            Initial::Density(f) => {
                for (i, m) in mass.iter_mut().enumerate() {
                    for (x, wt) in gl5_points(edge(i), edge(i + 1)) {
                        let v = f(x);
                        if !(v.is_finite() && v >= 0.0) {
                            return invalid(
                                "initial",
                                format!(
                                    "initial density is {v} at w = {x}: must be finite and ≥ 0"
                                ),
                            );
                        }
                        *m += wt * v;
                    }
                }
            }
            Initial::Uniform { lo: a, hi: b } => {
                if !(a.is_finite() && b.is_finite() && a < b && a >= lo && b <= hi) {
                    return invalid(
                        "initial",
                        format!(
                            "uniform interval [{a}, {b}] must satisfy lo ≤ a < b ≤ hi with \
                             [lo, hi] = [{lo}, {hi}]"
                        ),
                    );
                }
                for (i, m) in mass.iter_mut().enumerate() {
                    *m = (edge(i + 1).min(b) - edge(i).max(a)).max(0.0);
                }
            }
            Initial::PointMass(w) => {
                if !(w >= lo && w <= hi) {
                    return invalid(
                        "initial",
                        format!("point mass at {w} lies outside [lo, hi] = [{lo}, {hi}]"),
                    );
                }
                let i = (((w - lo) / h) as usize).min(n - 1);
                mass[i] = 1.0;
            }
        }
        let total: f64 = mass.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return invalid(
                "initial",
                format!("initial condition has total mass {total} on [{lo}, {hi}]"),
            );
        }
        Ok(mass.iter().map(|m| m / (total * h)).collect())
    }

    /// Advances the initial condition to each of `times` (non-decreasing, ≥ 0) with steps no
    /// longer than `dt` (each interval between requested times is cut into equal steps; for
    /// Crank–Nicolson the step is also capped at [`Self::crank_nicolson_max_dt`]).
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `initial` (see [`Self::initial`]), `times` (not finite,
    /// negative or decreasing), `dt` (not finite and > 0); [`TheoryError::TooLarge`] when
    /// more than [`MAX_STEPS`] steps would be needed.
    pub fn evolve(
        &self,
        init: Initial<'_>,
        times: &[f64],
        dt: f64,
        scheme: Scheme,
    ) -> Result<Transient, TheoryError> {
        let p0 = self.initial(init)?;
        if !(dt.is_finite() && dt > 0.0) {
            return invalid("dt", format!("time step must be finite and > 0, got {dt}"));
        }
        let mut prev = 0.0;
        for &t in times {
            if !(t.is_finite() && t >= prev) {
                return invalid(
                    "times",
                    format!("times must be finite, ≥ 0 and non-decreasing, got {times:?}"),
                );
            }
            prev = t;
        }
        let cap = match scheme {
            Scheme::BackwardEuler => dt,
            Scheme::CrankNicolson => dt.min(self.crank_nicolson_max_dt()),
        };
        let mut total_steps = 0u64;
        let mut prev = 0.0;
        for &t in times {
            let s = ((t - prev) / cap).ceil();
            if s.is_nan() || s > MAX_STEPS as f64 {
                return Err(TheoryError::TooLarge(format!(
                    "reaching t = {t} with steps ≤ {cap:e} needs more than {MAX_STEPS} steps"
                )));
            }
            total_steps += s as u64;
            prev = t;
        }
        if total_steps > MAX_STEPS {
            return Err(TheoryError::TooLarge(format!(
                "{total_steps} time steps needed (at most {MAX_STEPS})"
            )));
        }
        let n = self.centres.len();
        let work = total_steps.saturating_mul(n as u64);
        if work > MAX_CELL_STEPS {
            return Err(TheoryError::TooLarge(format!(
                "{total_steps} time steps on {n} cells are {work:e} cell-steps (at most \
                 {MAX_CELL_STEPS:e}); use fewer cells, a larger time step or earlier times"
            )));
        }
        let values = (times.len() as u64).saturating_mul(n as u64);
        if values > MAX_OUTPUT_VALUES {
            return Err(TheoryError::TooLarge(format!(
                "{} times on {n} cells are {values:e} values (at most {MAX_OUTPUT_VALUES:e}); \
                 ask for fewer times or cells",
                times.len()
            )));
        }

        let h = self.h;
        let stationary = self.stationary();
        // Work with cell masses uᵢ = h Pᵢ (same linear system).
        let mut u: Vec<f64> = p0.iter().map(|p| p * h).collect();
        let mut rhs = vec![0.0; n];
        let mut scratch = vec![0.0; n];
        let mut out = Transient {
            lr: self.lr,
            batch: self.batch,
            lo: self.lo,
            hi: self.hi,
            centres: self.centres.clone(),
            scheme,
            times: times.to_vec(),
            density: Vec::with_capacity(times.len()),
            stationary: stationary.clone(),
            l1_to_stationary: Vec::with_capacity(times.len()),
            total: Vec::with_capacity(times.len()),
            max_total_error: (u.iter().sum::<f64>() - 1.0).abs(),
            min_density: u.iter().copied().fold(f64::INFINITY, f64::min) / h,
            steps: 0,
            max_dt: 0.0,
        };
        let mut now = 0.0;
        for &t in times {
            let steps = ((t - now) / cap).ceil() as u64;
            if steps > 0 {
                let tau = (t - now) / steps as f64;
                out.max_dt = out.max_dt.max(tau);
                let (theta_impl, theta_expl) = match scheme {
                    Scheme::BackwardEuler => (tau, 0.0),
                    Scheme::CrankNicolson => (0.5 * tau, 0.5 * tau),
                };
                for _ in 0..steps {
                    // rhs = (I + θ_e M) u
                    for i in 0..n {
                        let mut s = u[i] * (1.0 + theta_expl * self.diag[i]).max(0.0);
                        if theta_expl > 0.0 {
                            if i > 0 {
                                s += theta_expl * self.lower[i] * u[i - 1];
                            }
                            if i + 1 < n {
                                s += theta_expl * self.upper[i] * u[i + 1];
                            }
                        }
                        rhs[i] = s;
                    }
                    self.solve_implicit(theta_impl, &rhs, &mut u, &mut scratch);
                    let total: f64 = u.iter().sum();
                    out.max_total_error = out.max_total_error.max((total - 1.0).abs());
                    let low = u.iter().copied().fold(f64::INFINITY, f64::min) / h;
                    out.min_density = out.min_density.min(low);
                }
                out.steps += steps;
            }
            now = t;
            let p: Vec<f64> = u.iter().map(|m| m / h).collect();
            out.l1_to_stationary.push(
                h * p
                    .iter()
                    .zip(&stationary)
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f64>(),
            );
            out.total.push(u.iter().sum());
            out.density.push(p);
        }
        Ok(out)
    }

    /// Solves (I − θM) x = rhs by the Thomas algorithm without a single subtraction.
    ///
    /// Row i reads −θLᵢxᵢ₋₁ + bᵢxᵢ − θUᵢxᵢ₊₁ = rhsᵢ with Lᵢ = `lower[i]`, Uᵢ = `upper[i]` ≥ 0
    /// and, since the columns of M sum to zero, bᵢ = 1 + θ(Lᵢ₊₁ + Uᵢ₋₁). The pivots of the
    /// elimination are then dᵢ = rᵢ + θLᵢ₊₁ with r₀ = 1, rᵢ = 1 + θUᵢ₋₁rᵢ₋₁/dᵢ₋₁ (the
    /// Grassmann–Taksar–Heyman idea): every operation combines non-negative numbers, so each
    /// computed xᵢ carries a small relative error however stiff the operator (D/h² may reach
    /// 10¹⁰), and probability is conserved to rounding. `c` is scratch space.
    fn solve_implicit(&self, theta: f64, rhs: &[f64], x: &mut [f64], c: &mut [f64]) {
        let n = rhs.len();
        let mut r = 1.0;
        let mut prev_d = 1.0;
        for i in 0..n {
            if i > 0 {
                r = 1.0 + theta * self.upper[i - 1] * (r / prev_d);
            }
            let below = if i + 1 < n {
                theta * self.lower[i + 1]
            } else {
                0.0
            };
            let d = r + below;
            let carry = if i > 0 {
                theta * self.lower[i] * x[i - 1]
            } else {
                0.0
            };
            x[i] = (rhs[i] + carry) / d;
            c[i] = theta * self.upper[i] / d;
            prev_d = d;
        }
        for i in (0..n - 1).rev() {
            x[i] += c[i] * x[i + 1];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_sum_to_zero_and_stationary_has_no_flux() {
        let fp = FokkerPlanck::new(
            |w| -0.3 * w + w * w * w,
            |w| w * w + 0.04,
            0.1,
            2.0,
            -2.0,
            2.0,
            200,
        )
        .unwrap();
        let n = fp.centres.len();
        for j in 0..n {
            let mut s = fp.diag[j];
            if j > 0 {
                s += fp.upper[j - 1];
            }
            if j + 1 < n {
                s += fp.lower[j + 1];
            }
            assert!(s.abs() <= 1e-12 * fp.diag[j].abs(), "column {j}: {s}");
        }
        let p = fp.stationary();
        let scale = fp.diag.iter().fold(0.0_f64, |a, d| a.max(d.abs()));
        let pmax = p.iter().copied().fold(0.0, f64::max);
        for r in fp.apply(&p).unwrap() {
            assert!(r.abs() <= 1e-12 * scale * pmax);
        }
    }

    #[test]
    fn bad_arguments() {
        let fp = FokkerPlanck::new(|w| w, |_| 1.0, 0.1, 1.0, -1.0, 1.0, 10).unwrap();
        let name = |r: Result<Transient, TheoryError>| match r {
            Err(TheoryError::InvalidArgument { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        let be = Scheme::BackwardEuler;
        assert_eq!(
            name(fp.evolve(Initial::PointMass(2.0), &[1.0], 0.1, be)),
            "initial"
        );
        assert_eq!(
            name(fp.evolve(Initial::Uniform { lo: 0.5, hi: 0.5 }, &[1.0], 0.1, be)),
            "initial"
        );
        assert_eq!(
            name(fp.evolve(Initial::Density(&|_| -1.0), &[1.0], 0.1, be)),
            "initial"
        );
        assert_eq!(
            name(fp.evolve(Initial::PointMass(0.0), &[2.0, 1.0], 0.1, be)),
            "times"
        );
        assert_eq!(
            name(fp.evolve(Initial::PointMass(0.0), &[1.0], 0.0, be)),
            "dt"
        );
        assert!(matches!(
            fp.evolve(Initial::PointMass(0.0), &[1e12], 1e-6, be),
            Err(TheoryError::TooLarge(_))
        ));
    }

    #[test]
    fn work_and_output_are_bounded_before_any_step() {
        let fp = FokkerPlanck::new(|w| w, |_| 1.0, 0.1, 1.0, -1.0, 1.0, 1000).unwrap();
        let n = fp.centres.len() as f64;
        let be = Scheme::BackwardEuler;
        // Steps within MAX_STEPS, but steps × cells beyond MAX_CELL_STEPS.
        let t = 1.01 * MAX_CELL_STEPS as f64 / n * 0.01;
        assert!(t / 0.01 < MAX_STEPS as f64);
        let start = std::time::Instant::now();
        assert!(matches!(
            fp.evolve(Initial::PointMass(0.0), &[t], 0.01, be),
            Err(TheoryError::TooLarge(m)) if m.contains("cell-steps")
        ));
        // Many requested times: their densities alone would exceed MAX_OUTPUT_VALUES.
        let k = (MAX_OUTPUT_VALUES as f64 / n) as usize + 1;
        let times = vec![0.0; k];
        assert!(matches!(
            fp.evolve(Initial::PointMass(0.0), &times, 0.01, be),
            Err(TheoryError::TooLarge(m)) if m.contains("values")
        ));
        assert!(start.elapsed().as_secs() < 5, "refused before stepping");
    }
}
