//! The walls of the state's range: absorption and divergence judged at the record steps.

use super::Product;
use crate::rules::{Next, Rules, ABSORB_BELOW};
use std::f64::consts::LN_2;

#[cfg(doc)]
use super::SAFE_LN;

/// How far beyond a wall the exponent bracket of [`Walls::advance`] must put ln|w| to decide
/// without a logarithm: far above the rounding of ln|x| + ln|Π| (about 10⁻¹³ at |ln| ≤ 2000).
const BRACKET_MARGIN: f64 = 1e-6;

/// The walls of the state's range: absorption below [`ABSORB_BELOW`], divergence above the
/// bound.
#[derive(Clone, Copy, Debug)]
pub struct Walls {
    rules: Rules,
    ln_limit: f64,
    ln_absorb: f64,
}

impl Walls {
    /// Divergence above `bound` (or f64's largest value, if lower).
    pub fn new(bound: f64) -> Walls {
        let rules = Rules::new(bound, true);
        Walls {
            rules,
            ln_limit: rules.limit().ln(),
            ln_absorb: ABSORB_BELOW.ln(),
        }
    }

    /// The state after an interval whose product is `p`, from the state `x` (a live run:
    /// ABSORB_BELOW ≤ |x| ≤ the bound). Within [`SAFE_LN`] the product is a normal number, so
    /// x · p is the true new state rounded once: if it underflows, the true state is below
    /// ABSORB_BELOW too, and if it overflows, past the bound. Beyond SAFE_LN (or for a zero
    /// factor) the product itself may not be representable, and the state is advanced in logs.
    // `!(x <= b)` is meant: it is true for NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    #[inline]
    pub fn advance(&self, x: f64, p: &Product) -> Next {
        match *p {
            Product::Value(v) => self.rules.land_value(x * v),
            Product::Log { ln_abs, negative } => {
                // Most such runs end far beyond a wall (a phase diagram's escaping and
                // trapped cells): x's binary exponent brackets ln|x| within ln 2, which
                // settles them without a logarithm, with a margin far above the rounding of
                // the sum below, so the answer is the one it gives.
                let biased = (x.to_bits() >> 52) & 0x7ff;
                if (1..0x7ff).contains(&biased) {
                    let e = biased as f64 - 1023.0;
                    if (e + 1.0) * LN_2 + ln_abs < self.ln_absorb - BRACKET_MARGIN {
                        return Next::Absorbed;
                    }
                    if e * LN_2 + ln_abs > self.ln_limit + BRACKET_MARGIN {
                        return Next::Diverged;
                    }
                }
                self.advance_in_logs(x, ln_abs, negative)
            }
        }
    }

    /// [`Walls::advance`] by a product ±exp(`ln_abs`) (sign `negative`), in logarithms:
    /// ln|w| = ln|x| + ln|Π| against the walls' logarithms.
    // `!(x <= b)` is meant: it is true for NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    #[inline]
    fn advance_in_logs(&self, x: f64, ln_abs: f64, negative: bool) -> Next {
        let ln_w = x.abs().ln() + ln_abs;
        if ln_w < self.ln_absorb {
            Next::Absorbed
        } else if !(ln_w <= self.ln_limit) {
            Next::Diverged
        } else {
            let v = ln_w.exp();
            Next::At(if (x < 0.0) != negative { -v } else { v })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::SAFE_LN;
    use crate::rng::Philox4x32;

    /// The state after an interval is the one computed in logs, on both sides of SAFE_LN and
    /// of the walls, over the whole range of live states.
    #[test]
    fn advance_agrees_with_logs() {
        let walls = Walls::new(1e300);
        let (ln_absorb, ln_limit) = (ABSORB_BELOW.ln(), 1e300f64.ln());
        let mut checked = 0;
        for e in (-969..=996).step_by(7) {
            for sx in [1.0, -1.0] {
                let x = sx * 2f64.powi(e) * 1.37;
                for s in [
                    -1500.0f64, -800.0, -701.0, -699.5, -320.0, -1.0, 0.0, 2.5, 333.0, 699.5,
                    701.0, 900.0, 1500.0,
                ] {
                    for negative in [false, true] {
                        let p = if s.abs() <= SAFE_LN {
                            Product::Value(if negative { -s.exp() } else { s.exp() })
                        } else {
                            Product::Log {
                                ln_abs: s,
                                negative,
                            }
                        };
                        let ln_w = x.abs().ln() + s;
                        let got = walls.advance(x, &p);
                        if ln_w < ln_absorb - 1e-9 {
                            assert_eq!(got, Next::Absorbed, "x = {x}, ln p = {s}");
                        } else if ln_w > ln_limit + 1e-9 {
                            assert_eq!(got, Next::Diverged, "x = {x}, ln p = {s}");
                        } else if ln_w > ln_absorb + 1e-9 && ln_w < ln_limit - 1e-9 {
                            let Next::At(y) = got else {
                                panic!("x = {x}, ln p = {s}: {got:?}")
                            };
                            assert!(((y.abs().ln() - ln_w) / ln_w.abs().max(1.0)).abs() < 1e-13);
                            assert_eq!(y < 0.0, (x < 0.0) != negative);
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 7000);
        // A zero factor absorbs.
        let zero = Product::Log {
            ln_abs: f64::NEG_INFINITY,
            negative: false,
        };
        assert_eq!(walls.advance(0.5, &zero), Next::Absorbed);
    }

    /// Beyond e^±700 the exponent bracket decides exactly as the logarithms do: over live
    /// states of every binade, with products that put ln|w| near either wall (within a few
    /// units, down to the last bits) and far beyond them.
    #[test]
    fn exponent_bracket_decides_as_the_logarithms() {
        let mut rng = Philox4x32::new(8, 0, 0);
        let mut decided = [0u32; 3];
        for bound in [1e300, 1e12, f64::MAX] {
            let walls = Walls::new(bound);
            for e in -969..=996 {
                for _ in 0..4 {
                    let x =
                        (1.0 + rng.next_f64()) * 2f64.powi(e) * if e % 2 == 0 { 1.0 } else { -1.0 };
                    if x.abs() < ABSORB_BELOW || x.abs() > walls.rules.limit() {
                        continue;
                    }
                    let lx = x.abs().ln();
                    let near = [walls.ln_absorb - lx, walls.ln_limit - lx];
                    for target in near {
                        for d in [
                            -3.0, -0.7, -1e-9, -1e-14, 0.0, 1e-14, 1e-9, 0.7, 3.0, 900.0, -900.0,
                        ] {
                            let ln_abs = target + d;
                            if ln_abs.abs() <= SAFE_LN {
                                continue;
                            }
                            for negative in [false, true] {
                                let p = Product::Log { ln_abs, negative };
                                let got = walls.advance(x, &p);
                                assert_eq!(
                                    got,
                                    walls.advance_in_logs(x, ln_abs, negative),
                                    "x {x:e} ln {ln_abs}"
                                );
                                decided[match got {
                                    Next::Absorbed => 0,
                                    Next::Diverged => 1,
                                    Next::At(_) => 2,
                                }] += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(decided.iter().all(|&n| n > 1000), "{decided:?}");
    }
}
