//! The minimal neural network of §6.5: f = w₂ σ(w₁ x) with σ(z) = z².

use super::{Model, Moments, Sample};

/// §6.5: f(x) = w₂ (w₁ x)², per-sample loss (f − y)². With x = 1 and y ∈ {−1, 2} (prob. ½)
/// its mean is Eq. 18: L = ½(w₂w₁² + 1)² + ½(w₂w₁² − 2)², with L* = 2.25 on w₂w₁² = ½
/// and saddle points w₁ = 0 at L = 2.5.
#[derive(Clone, Copy, Debug, Default)]
pub struct TinyNet;

impl TinyNet {
    /// `scale · ∇_w L̂(w; s)`, shared by `grad_acc` and `grad`.
    #[inline(always)]
    fn scaled_grad(&self, w: &[f64; 2], s: &Sample, scale: f64) -> [f64; 2] {
        let h = w[0] * s.x;
        let r2 = 2.0 * (w[1] * h * h - s.y) * scale;
        [r2 * 2.0 * w[1] * h * s.x, r2 * h * h]
    }
}

impl Model for TinyNet {
    type W = [f64; 2];

    fn name(&self) -> &str {
        "tiny-net"
    }

    #[inline(always)]
    fn loss(&self, w: &[f64; 2], s: &Sample) -> f64 {
        let h = w[0] * s.x;
        let r = w[1] * h * h - s.y;
        r * r
    }

    #[inline(always)]
    fn grad_acc(&self, w: &[f64; 2], s: &Sample, scale: f64, g: &mut [f64; 2]) {
        let d = self.scaled_grad(w, s, scale);
        g[0] += d[0];
        g[1] += d[1];
    }

    #[inline(always)]
    fn grad(&self, w: &[f64; 2], s: &Sample, g: &mut [f64; 2]) {
        // Scaling by 1 is exact, so this is `grad_acc` into zeros without the addition.
        *g = self.scaled_grad(w, s, 1.0);
    }

    /// E(f − y)² = w₂²w₁⁴E\[x⁴\]… is not a function of two moments when x is random, so the
    /// closed form here assumes x is deterministic (x² = E\[x²\]) and y independent of x.
    fn expected_loss(&self, w: &[f64; 2], m: &Moments) -> Option<f64> {
        if m.m2_x != m.mean_x * m.mean_x {
            return None;
        }
        let f = w[1] * w[0] * w[0] * m.mean_x * m.mean_x;
        Some(f * f - 2.0 * f * m.mean_y + m.m2_y)
    }

    fn expected_grad(&self, w: &[f64; 2], m: &Moments, g: &mut [f64; 2]) -> bool {
        if m.m2_x != m.mean_x * m.mean_x {
            return false;
        }
        *g = [0.0; 2];
        self.grad_acc(
            w,
            &Sample {
                x: m.mean_x,
                y: m.mean_y,
            },
            1.0,
            g,
        );
        true
    }

    fn origin_is_fixed(&self) -> bool {
        true
    }
}
