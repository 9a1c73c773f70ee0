//! The sharp-versus-flat landscape of §5.3, Eq. 9.

use super::{Model, Moments, Sample};

/// Eq. 9: L̂(w₁, w₂; x) = ½[−(w₁−w₂)² − (w₁+w₂)² + (w₁−w₂)⁴ + (w₁+w₂)⁴ − 2a w₂² + x b w₁²].
///
/// With E\[x\] = 0 there are four minima (Eq. 11): the flat ones (±1/√2, 0) and the sharp ones
/// (0, ±√((1+a)/2)). Eq. 11 quotes the curvature along each minimum's own axis (4 and 4 + 4a);
/// the full Hessians are diag(4, 4 − 2a) and diag(4 + 6a, 4 + 4a), so the sharpness of
/// Def. 4 (the trace) is 8 − 2a and 8 + 10a. Prop. 4: with x = ±1 and b = 1/λ − 6, SGD ends at
/// the sharp minima.
#[derive(Clone, Copy, Debug)]
pub struct SharpFlat {
    /// The asymmetry a > 0 that makes the w₂ minima sharper.
    pub a: f64,
    /// The noise coupling b of the x b w₁² term.
    pub b: f64,
}

impl SharpFlat {
    /// `scale · ∇_w L̂(w; s)`, shared by `grad_acc` and `grad`.
    #[inline(always)]
    fn scaled_grad(&self, w: &[f64; 2], s: &Sample, scale: f64) -> [f64; 2] {
        let (p, q) = (w[0] - w[1], w[0] + w[1]);
        let (p3, q3) = (p * p * p, q * q * q);
        [
            scale * (-2.0 * w[0] + 2.0 * p3 + 2.0 * q3 + s.x * self.b * w[0]),
            scale * (-2.0 * w[1] - 2.0 * p3 + 2.0 * q3 - 2.0 * self.a * w[1]),
        ]
    }
}

impl Model for SharpFlat {
    type W = [f64; 2];

    fn name(&self) -> &str {
        "sharp-flat"
    }

    #[inline(always)]
    fn loss(&self, w: &[f64; 2], s: &Sample) -> f64 {
        let (p, q) = (w[0] - w[1], w[0] + w[1]);
        let (p2, q2) = (p * p, q * q);
        0.5 * (-p2 - q2 + p2 * p2 + q2 * q2 - 2.0 * self.a * w[1] * w[1]
            + s.x * self.b * w[0] * w[0])
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

    fn expected_loss(&self, w: &[f64; 2], m: &Moments) -> Option<f64> {
        Some(self.loss(
            w,
            &Sample {
                x: m.mean_x,
                y: 0.0,
            },
        ))
    }

    fn expected_grad(&self, w: &[f64; 2], m: &Moments, g: &mut [f64; 2]) -> bool {
        *g = [0.0; 2];
        self.grad_acc(
            w,
            &Sample {
                x: m.mean_x,
                y: 0.0,
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
