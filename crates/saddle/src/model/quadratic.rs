//! The quadratic landscape of the warm-up example, Eq. 4: L̂(w; x) = x w²/2.

use super::{Model, Moments, Sample};

/// L̂(w; x) = x w²/2 (Eq. 4). With two-point noise x ∈ {1, a−1}, one SGD step multiplies
/// w by 1 − λ or 1 − λ(a − 1) (Props 1–3).
#[derive(Clone, Copy, Debug, Default)]
pub struct Quadratic;

impl Model for Quadratic {
    type W = [f64; 1];

    fn name(&self) -> &str {
        "quadratic"
    }

    #[inline(always)]
    fn loss(&self, w: &[f64; 1], s: &Sample) -> f64 {
        0.5 * s.x * w[0] * w[0]
    }

    #[inline(always)]
    fn grad_acc(&self, w: &[f64; 1], s: &Sample, scale: f64, g: &mut [f64; 1]) {
        g[0] += scale * s.x * w[0];
    }

    #[inline(always)]
    fn grad(&self, w: &[f64; 1], s: &Sample, g: &mut [f64; 1]) {
        g[0] = s.x * w[0];
    }

    fn expected_loss(&self, w: &[f64; 1], m: &Moments) -> Option<f64> {
        Some(0.5 * m.mean_x * w[0] * w[0])
    }

    fn expected_grad(&self, w: &[f64; 1], m: &Moments, g: &mut [f64; 1]) -> bool {
        g[0] = m.mean_x * w[0];
        true
    }

    fn origin_is_fixed(&self) -> bool {
        true
    }
}
