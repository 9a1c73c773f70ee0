//! Norms of a state without overflow or underflow, and the escape test ‖w − c‖ ≥ δ.

/// ln‖w‖ without overflow or underflow of the squares (scaled by the largest coordinate).
#[inline]
pub fn ln_norm(w: &[f64]) -> f64 {
    let m = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if m == 0.0 || !m.is_finite() || w.len() == 1 {
        return m.ln();
    }
    m.ln() + 0.5 * w.iter().map(|x| (x / m) * (x / m)).sum::<f64>().ln()
}

/// Whether ‖w − c‖ ≥ δ, with ‖w − c‖ computed as √(Σ (wᵢ − cᵢ)²). In one dimension, with
/// δ in (S, L] = (10⁻¹⁵⁰, 10¹⁵⁰], that is |w − c| ≥ δ, so the square root, the costliest step
/// of recording a cheap run, is skipped. For x = |w − c| in (S, L), x² is a normal number
/// and √(x²) rounds to x exactly in binary floating point with rounding to nearest (Boldo,
/// "Stupid is as stupid does", 2015). Below and above, both sides agree because the
/// rounded √(x²) is monotone in x: for x ≤ S it is at most √(S²) = S < δ, and for x ≥ L at
/// least L ≥ δ (∞ where x² overflows). NaN fails both.
#[inline(always)]
pub(super) fn beyond(w: &[f64], c: &[f64], delta: f64) -> bool {
    if let ([w], [c]) = (w, c) {
        if root_free(delta) {
            return (w - c).abs() >= delta;
        }
    }
    let d2: f64 = w.iter().zip(c).map(|(w, c)| (w - c) * (w - c)).sum();
    d2.sqrt() >= delta
}

/// Whether [`beyond`] in one dimension is |w − c| ≥ δ: δ in (S, L].
#[inline(always)]
pub(super) fn root_free(delta: f64) -> bool {
    delta > SQUARE_SAFE.0 && delta <= SQUARE_SAFE.1
}

/// (S, L): magnitudes whose squares are normal numbers, with room to spare.
const SQUARE_SAFE: (f64, f64) = (1e-150, 1e150);

/// ‖w‖ without overflow or underflow of the squares.
#[inline]
pub fn norm(w: &[f64]) -> f64 {
    let m = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if m == 0.0 || !m.is_finite() || w.len() == 1 {
        return m;
    }
    m * w.iter().map(|x| (x / m) * (x / m)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-dimensional shortcut of the escape test is the square-root form: for δ at and
    /// near the ends of its range and in between, and states over every binade of f64
    /// (subnormal to overflowing squares), next to δ, and not finite.
    #[test]
    fn one_dimensional_escape_test_is_the_square_root_form() {
        let by_root = |x: f64, c: f64, d: f64| ((x - c) * (x - c)).sqrt() >= d;
        let (s, l) = SQUARE_SAFE;
        let up = |x: f64| f64::from_bits(x.to_bits() + 1);
        let down = |x: f64| f64::from_bits(x.to_bits() - 1);
        let mut rng = crate::rng::Philox4x32::new(5, 0, 0);
        let mut checked = 0;
        for d in [up(s), 2.0 * s, 1e-100, 0.05, 1.0, 3e7, 1e100, down(l), l] {
            for e in -1074..=1023 {
                for _ in 0..8 {
                    let x = (1.0 + rng.next_f64()) * 2f64.powi(e);
                    for w in [x, -x, up(x), d, up(d), down(d), -d] {
                        for c in [0.0, 0.25 * d] {
                            assert_eq!(beyond(&[w], &[c], d), by_root(w, c, d), "w {w:e} δ {d:e}");
                            checked += 1;
                        }
                    }
                }
            }
            for w in [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
                s,
                l,
                f64::MAX,
            ] {
                assert_eq!(
                    beyond(&[w], &[0.0], d),
                    by_root(w, 0.0, d),
                    "w {w:e} δ {d:e}"
                );
            }
        }
        assert!(checked > 2_000_000);
        // Outside (S, L] the square root is taken: δ = S, say, and |w| below it.
        assert_eq!(beyond(&[1e-160], &[0.0], s), by_root(1e-160, 0.0, s));
    }
}
