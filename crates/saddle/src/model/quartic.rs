//! The fourth-order landscape of Fig. 1 (right), Fig. 7 and App. C (Eq. 58):
//! L̂(w; x) = x w²/2 + b w⁴/4.

use super::{Model, Moments, Sample};

/// L̂(w; x) = x w²/2 + b w⁴/4. The paper writes the quartic term as w⁴ (Fig. 1 caption),
/// w⁴/4 (§6.1) and b w⁴/4 (App. C, Eq. 58); saddle uses b w⁴/4 with `b` a parameter
/// (default 1).
#[derive(Clone, Copy, Debug)]
pub struct Quartic {
    /// Coefficient of the quartic term.
    pub b: f64,
}

impl Default for Quartic {
    fn default() -> Self {
        Quartic { b: 1.0 }
    }
}

impl Model for Quartic {
    type W = [f64; 1];

    fn name(&self) -> &str {
        "quartic"
    }

    #[inline(always)]
    fn loss(&self, w: &[f64; 1], s: &Sample) -> f64 {
        let w2 = w[0] * w[0];
        0.5 * s.x * w2 + 0.25 * self.b * w2 * w2
    }

    #[inline(always)]
    fn grad_acc(&self, w: &[f64; 1], s: &Sample, scale: f64, g: &mut [f64; 1]) {
        g[0] += scale * (s.x * w[0] + self.b * w[0] * w[0] * w[0]);
    }

    #[inline(always)]
    fn grad(&self, w: &[f64; 1], s: &Sample, g: &mut [f64; 1]) {
        g[0] = s.x * w[0] + self.b * w[0] * w[0] * w[0];
    }

    fn expected_loss(&self, w: &[f64; 1], m: &Moments) -> Option<f64> {
        let w2 = w[0] * w[0];
        Some(0.5 * m.mean_x * w2 + 0.25 * self.b * w2 * w2)
    }

    fn expected_grad(&self, w: &[f64; 1], m: &Moments, g: &mut [f64; 1]) -> bool {
        g[0] = m.mean_x * w[0] + self.b * w[0] * w[0] * w[0];
        true
    }

    fn origin_is_fixed(&self) -> bool {
        true
    }
}
