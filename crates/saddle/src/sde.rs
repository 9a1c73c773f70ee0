//! The continuous-time limit of SGD (App. C): the Itô SDE of Eq. 49,
//!
//! dw = −λ L'(w) dt + (λ/√S) √C(w) dW,
//!
//! for a one-parameter landscape, integrated by Euler–Maruyama or Milstein.
//!
//! L(w) = E L̂(w; x) is the expected loss and C(w) the variance of one data point's gradient,
//! Var_x ∂L̂(w; x)/∂w (not divided by the batch size S, whose 1/√S is explicit in Eq. 49; the
//! paper's Eq. 71 writes the variance with +a² where −a² is meant and puts 1/S in C as well).
//! C(w) comes from one of three sources ([`Diffusion`]): the minibatch noise of the model and
//! data law ([`Minibatch`]), a formula ([`FormulaDiffusion`]), or the designed noise of Prop. 10
//! (`theory::designed_noise::DesignedNoise`). Additive noise σ adds Sσ² to C (Eq. 62).
//!
//! # One engine
//!
//! An SDE ensemble runs through the same engine as the discrete optimizers
//! ([`crate::ensemble`]): each step's data point is the standard normal ξ of the Brownian
//! increment ΔW = √dt·ξ, drawn from the run's own stream, and the "gradient" that the engine
//! applies with unit step is −Δw of the scheme ([`SdeModel`]). Streams, chunking, lanes,
//! observers, boundaries, divergence and absorption accounting, and byte-identical results
//! whatever the thread count are therefore the engine's; there is no second kernel.

use crate::model::formula::FormulaSpec;
use crate::model::{Field, Model, Moments, Sample};
use crate::noise::{Law, NoiseLaw};

/// How an SDE step is integrated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheme {
    /// Euler–Maruyama, strong order ½: Δw = −λL'(w)dt + λ√(C(w)/S)·ΔW.
    EulerMaruyama,
    /// Milstein, strong order 1: Euler–Maruyama plus ½bb'(ΔW² − dt) with b = λ√(C/S), i.e.
    /// (λ²/(4S))·C'(w)·(ΔW² − dt), written without dividing by √C so that it is finite where C
    /// vanishes.
    #[default]
    Milstein,
}

impl Scheme {
    /// The name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::EulerMaruyama => "euler-maruyama",
            Scheme::Milstein => "milstein",
        }
    }
}

/// The step of Eq. 49 with its constants folded once: λ dt, λ√(dt/S) and λ²dt/(4S).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stepper {
    drift: f64,
    noise: f64,
    milstein: f64,
    scheme: Scheme,
}

impl Stepper {
    /// The stepper for learning rate λ, batch size S and time step dt.
    pub fn new(lr: f64, batch: usize, dt: f64, scheme: Scheme) -> Self {
        let s = batch as f64;
        Stepper {
            drift: lr * dt,
            noise: lr * (dt / s).sqrt(),
            milstein: lr * lr * dt / (4.0 * s),
            scheme,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Δw of one step from a state where L' = `grad`, C = `c` and C' = `dc` (read by Milstein
    /// only), with the standard normal `xi` = ΔW/√dt (Eq. 49).
    #[inline(always)]
    pub fn increment(&self, grad: f64, c: f64, dc: f64, xi: f64) -> f64 {
        let em = -self.drift * grad + self.noise * c.sqrt() * xi;
        match self.scheme {
            Scheme::EulerMaruyama => em,
            Scheme::Milstein => em + self.milstein * dc * (xi * xi - 1.0),
        }
    }
}

pub use crate::noise::{data_nodes, GAUSS_NODES};

/// Where C(w) comes from. Implementations are chosen once per experiment, so the step is
/// monomorphised per source.
pub trait Diffusion: Send + Sync {
    /// C(w), and C'(w) when `need_dc`, given the minibatch variance `var` at w and a function
    /// giving it elsewhere (used by [`Minibatch`] only).
    fn c_dc(&self, w: f64, var: f64, var_at: impl Fn(f64) -> f64, need_dc: bool) -> (f64, f64);
    /// Whether C(0) = 0 and C'(0) = 0 given the minibatch variance vanishes at 0, so a run at
    /// w = 0 with zero drift stays there.
    fn fixes_origin(&self) -> bool;
}

/// C(w) = Var_x ∂L̂(w; x)/∂w, the minibatch noise of the model and data (Eqs 3, 49, 71).
#[derive(Clone, Copy, Debug, Default)]
pub struct Minibatch;

impl Diffusion for Minibatch {
    #[inline(always)]
    fn c_dc(&self, w: f64, var: f64, var_at: impl Fn(f64) -> f64, need_dc: bool) -> (f64, f64) {
        // Where a variance is 0 it is at its minimum, so C' = 0 there exactly.
        if !need_dc || var == 0.0 {
            return (var, 0.0);
        }
        let h = DC_STEP * w.abs().max(1.0);
        (var, (var_at(w + h) - var_at(w - h)) / (2.0 * h))
    }
    fn fixes_origin(&self) -> bool {
        true
    }
}

/// Relative step of the central difference that gives C'(w) for [`Minibatch`] noise (its
/// O(h²) error, about 10⁻¹², is far below Milstein's own).
const DC_STEP: f64 = 1e-6;

/// C(w) given as a formula in `w1`, with its symbolic derivative.
#[derive(Clone, Debug)]
pub struct FormulaDiffusion {
    spec: FormulaSpec,
}

impl FormulaDiffusion {
    /// Wraps a formula in `w1` alone (no `x` or `y`).
    pub fn new(spec: FormulaSpec) -> Result<Self, String> {
        if spec.params() != 1 || spec.uses_x() || spec.uses_y() {
            return Err("C(w) must be a formula in w1 only".into());
        }
        Ok(FormulaDiffusion { spec })
    }
}

impl Diffusion for FormulaDiffusion {
    #[inline(always)]
    fn c_dc(&self, w: f64, _: f64, _: impl Fn(f64) -> f64, need_dc: bool) -> (f64, f64) {
        let c = self.spec.loss(&[w], 0.0, 0.0);
        let mut dc = [0.0];
        if need_dc {
            self.spec.grad(&[w], 0.0, 0.0, &mut dc);
        }
        (c, dc[0])
    }
    fn fixes_origin(&self) -> bool {
        let mut dc = [0.0];
        self.spec.grad(&[0.0], 0.0, 0.0, &mut dc);
        self.spec.loss(&[0.0], 0.0, 0.0) == 0.0 && dc[0] == 0.0
    }
}

/// A landscape in continuous time: L(w) and L'(w) from a one-parameter model averaged over
/// the data law's [`data_nodes`], and C(w) from a [`Diffusion`] plus Sσ² (Eq. 62).
#[derive(Clone, Debug)]
pub struct Landscape<M, D> {
    model: M,
    nodes: Vec<(Sample, f64)>,
    diffusion: D,
    additive: f64,
}

impl<M: Model<W = [f64; 1]>, D: Diffusion> Landscape<M, D> {
    /// The landscape of `model` under `noise` (its batch size S scales the additive part
    /// S·`sigma`² of C), with C(w) from `diffusion`.
    pub fn new(model: M, noise: &NoiseLaw, diffusion: D, sigma: f64) -> Self {
        Landscape {
            model,
            nodes: data_nodes(noise),
            diffusion,
            additive: noise.batch as f64 * sigma * sigma,
        }
    }

    /// L(w) = E L̂(w; x).
    pub fn loss(&self, w: f64) -> f64 {
        self.nodes
            .iter()
            .map(|(s, p)| p * self.model.loss(&[w], s))
            .sum()
    }

    /// The mean and variance over the data of ∂L̂(w; x)/∂w, in one pass.
    #[inline(always)]
    fn gradient_moments(&self, w: f64) -> (f64, f64) {
        let (mut m, mut m2) = (0.0, 0.0);
        for (s, p) in &self.nodes {
            let mut g = [0.0];
            self.model.grad_acc(&[w], s, 1.0, &mut g);
            m += p * g[0];
            m2 += p * g[0] * g[0];
        }
        // E g² − (E g)² can come out a rounding error below 0; a variance is not negative.
        (m, (m2 - m * m).max(0.0))
    }

    /// (L'(w), C(w), C'(w)); C'(w) is computed only when `need_dc`.
    #[inline(always)]
    pub fn coefficients(&self, w: f64, need_dc: bool) -> (f64, f64, f64) {
        let (grad, var) = self.gradient_moments(w);
        let (c, dc) = self
            .diffusion
            .c_dc(w, var, |u| self.gradient_moments(u).1, need_dc);
        (grad, c + self.additive, dc)
    }

    /// L'(w).
    pub fn grad(&self, w: f64) -> f64 {
        self.gradient_moments(w).0
    }

    /// C(w), additive part included.
    pub fn c(&self, w: f64) -> f64 {
        self.coefficients(w, false).1
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Whether w = 0 is a fixed point of the SDE: no drift or noise of any data point there,
    /// no additive noise, and C(0) = C'(0) = 0.
    pub fn origin_is_fixed(&self) -> bool {
        self.model.origin_is_fixed() && self.additive == 0.0 && self.diffusion.fixes_origin()
    }
}

/// A one-dimensional continuous-time landscape seen from outside the engine (the theory
/// commands): L(w), L'(w) and C(w).
pub trait Coefficients: Send + Sync {
    /// L(w).
    fn loss(&self, w: f64) -> f64;
    /// L'(w).
    fn grad(&self, w: f64) -> f64;
    /// C(w), additive part included.
    fn c(&self, w: f64) -> f64;
}

impl<M: Model<W = [f64; 1]>, D: Diffusion> Coefficients for Landscape<M, D> {
    fn loss(&self, w: f64) -> f64 {
        Landscape::loss(self, w)
    }
    fn grad(&self, w: f64) -> f64 {
        Landscape::grad(self, w)
    }
    fn c(&self, w: f64) -> f64 {
        Landscape::c(self, w)
    }
}

/// The SDE as a model for the ensemble engine: its data point is ξ ~ N(0, 1) and its
/// "gradient" is −Δw of the [`Stepper`], applied with unit step ([`SdeModel::unit_step`]), so
/// the engine's w ← w − 1·(−Δw) is exactly w + Δw.
#[derive(Clone, Debug)]
pub struct SdeModel<M, D> {
    landscape: Landscape<M, D>,
    stepper: Stepper,
}

impl<M: Model<W = [f64; 1]>, D: Diffusion> SdeModel<M, D> {
    /// The SDE of `landscape` stepped by `stepper`.
    pub fn new(landscape: Landscape<M, D>, stepper: Stepper) -> Self {
        SdeModel { landscape, stepper }
    }

    /// The data law the engine must draw: one standard normal per step.
    pub fn brownian() -> NoiseLaw {
        NoiseLaw {
            law: Law::Gaussian {
                mean: 0.0,
                std: 1.0,
            },
            field: Field::X,
            batch: 1,
        }
    }

    /// The optimizer the engine must apply: w ← w − 1·ĝ.
    pub fn unit_step() -> crate::optimizer::Sgd {
        crate::optimizer::Sgd { lr: 1.0 }
    }

    /// The landscape.
    pub fn landscape(&self) -> &Landscape<M, D> {
        &self.landscape
    }
}

impl<M: Model<W = [f64; 1]>, D: Diffusion> Model for SdeModel<M, D> {
    type W = [f64; 1];
    const VECTOR_BUILDS: bool = M::VECTOR_BUILDS;

    fn name(&self) -> &str {
        self.landscape.model.name()
    }

    fn loss(&self, w: &[f64; 1], _: &Sample) -> f64 {
        self.landscape.loss(w[0])
    }

    #[inline(always)]
    fn grad_acc(&self, w: &[f64; 1], s: &Sample, scale: f64, g: &mut [f64; 1]) {
        let milstein = self.stepper.scheme == Scheme::Milstein;
        let (grad, c, dc) = self.landscape.coefficients(w[0], milstein);
        g[0] -= scale * self.stepper.increment(grad, c, dc, s.x);
    }

    fn expected_loss(&self, w: &[f64; 1], _: &Moments) -> Option<f64> {
        Some(self.landscape.loss(w[0]))
    }

    fn expected_grad(&self, _: &[f64; 1], _: &Moments, _: &mut [f64; 1]) -> bool {
        false
    }

    fn origin_is_fixed(&self) -> bool {
        self.landscape.origin_is_fixed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Quadratic, Quartic};

    #[test]
    fn gauss_nodes_reproduce_moments() {
        let g = NoiseLaw {
            law: Law::Gaussian {
                mean: -0.3,
                std: 1.7,
            },
            field: Field::X,
            batch: 1,
        };
        let nodes = data_nodes(&g);
        let m = |k: i32| nodes.iter().map(|(s, p)| p * s.x.powi(k)).sum::<f64>();
        assert!((m(0) - 1.0).abs() < 1e-13);
        assert!((m(1) + 0.3).abs() < 1e-13);
        // E x² = m² + s², E x⁴ = m⁴ + 6m²s² + 3s⁴.
        let (mu, s2) = (-0.3f64, 1.7f64 * 1.7);
        assert!((m(2) - (mu * mu + s2)).abs() < 1e-12);
        assert!((m(4) - (mu.powi(4) + 6.0 * mu * mu * s2 + 3.0 * s2 * s2)).abs() < 1e-11);
        let u = NoiseLaw {
            law: Law::Uniform { lo: -1.0, hi: 3.0 },
            field: Field::X,
            batch: 1,
        };
        let nodes = data_nodes(&u);
        let m = |k: i32| nodes.iter().map(|(s, p)| p * s.x.powi(k)).sum::<f64>();
        // E x^k = (3^{k+1} − (−1)^{k+1}) / (4(k+1)).
        for k in 0..8 {
            let exact = (3f64.powi(k + 1) - (-1f64).powi(k + 1)) / (4.0 * (k + 1) as f64);
            assert!(
                (m(k) - exact).abs() < 1e-12 * exact.abs().max(1.0),
                "k = {k}"
            );
        }
    }

    #[test]
    fn minibatch_coefficients_of_the_quartic_are_closed_forms() {
        // L̂ = x w²/2 + b w⁴/4, x ∈ {1, a−1}: L' = E[x] w + b w³, C = Var(x) w².
        let (a, b) = (-0.4, 1.5);
        let noise = NoiseLaw {
            law: Law::TwoPoint { a },
            field: Field::X,
            batch: 3,
        };
        let model = Quartic { b };
        let l = Landscape::new(model, &noise, Minibatch, 0.2);
        let (m, v) = (a / 2.0, ((2.0 - a) / 2.0) * ((2.0 - a) / 2.0));
        for w in [-1.3, -0.2, 0.0, 0.7, 2.0] {
            let (g, c, dc) = l.coefficients(w, true);
            assert!((g - (m * w + b * w * w * w)).abs() < 1e-14);
            // Additive part Sσ² = 3 · 0.04 (Eq. 62).
            assert!((c - (v * w * w + 0.12)).abs() < 1e-13);
            assert!((dc - 2.0 * v * w).abs() < 1e-8, "C'({w}) = {dc}");
        }
        assert!(!l.origin_is_fixed());
        assert!(Landscape::new(Quadratic, &noise, Minibatch, 0.0).origin_is_fixed());
    }

    #[test]
    fn one_step_matches_the_schemes() {
        let st = Stepper::new(0.5, 4, 0.01, Scheme::EulerMaruyama);
        let (g, c, dc, xi) = (2.0, 3.0f64, -1.0, 0.7);
        let em = -0.5 * 0.01 * g + 0.5 * (0.01f64 / 4.0).sqrt() * c.sqrt() * xi;
        assert!((st.increment(g, c, dc, xi) - em).abs() < 1e-16);
        let mil = Stepper::new(0.5, 4, 0.01, Scheme::Milstein);
        // ½ b b' (ΔW² − dt), b = λ√(C/S), b' = λC'/(2√(SC)).
        let b = 0.5 * (c / 4.0).sqrt();
        let db = 0.5 * dc / (2.0 * (4.0 * c).sqrt());
        let extra = 0.5 * b * db * (0.01 * xi * xi - 0.01);
        assert!((mil.increment(g, c, dc, xi) - (em + extra)).abs() < 1e-15);
    }
}
