//! The run rules, in one place for every kernel: when a run has diverged (a coordinate
//! non-finite or beyond the bound), when it is absorbed at 0 (every coordinate below
//! [`ABSORB_BELOW`], where 0 is a fixed point of the dynamics), when its recorded loss
//! diverges it, and how a box (`optimizer.clip`) brings a coordinate back (Props 4, 5,
//! Fig. 10). The stepping kernel applies them to states, the exact kernels to products
//! ([`Walls`]); both call these functions.

// `!(x <= b)` is meant: it is true for NaN, which a divergence check must catch.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::observe::Status;

/// Below this magnitude in every coordinate a run counts as having reached 0: 2⁻⁹⁶⁹, the
/// smallest scale at which a relative update of 2⁻⁵³ (one unit in the last place) is still a
/// normal number. With subnormals flushed to zero ([`crate::flush`]) a state below it could
/// otherwise stall, its updates underflowing to 0 while it does not.
pub const ABSORB_BELOW: f64 = f64::MIN_POSITIVE * (1u64 << 53) as f64;

/// What happens to a coordinate that leaves the box [lo, hi] (`optimizer.clip`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Boundary {
    /// Set it to the nearest wall (clip; "truncated" in Fig. 10).
    #[default]
    Truncate,
    /// Reflect it at the walls, as often as needed to land inside.
    Reflect,
}

impl Boundary {
    /// The name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Boundary::Truncate => "truncate",
            Boundary::Reflect => "reflect",
        }
    }
}

/// `x` reflected into [lo, hi]: the walls act as mirrors, so a point beyond `hi` by d lands at
/// hi − d, folded again while it is outside (the map is periodic with period 2(hi − lo)).
/// Non-finite `x` gives NaN, which the engine counts as diverged.
#[inline(always)]
pub fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    if x >= lo && x <= hi {
        return x;
    }
    let width = hi - lo;
    let y = (x - lo).rem_euclid(2.0 * width);
    lo + if y > width { 2.0 * width - y } else { y }
}

/// The rules of one ensemble: its divergence bound, and whether 0 absorbs (the model's
/// origin is a fixed point, there is no injected noise and the optimizer rests where the
/// gradient vanishes).
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// The bound, at most f64's largest value: |x| ≤ limit fails for NaN and ∞ alike.
    limit: f64,
    absorbing: bool,
}

impl Rules {
    /// Divergence beyond `bound` (or f64's largest value, if lower); absorption at 0 where
    /// `absorbing`.
    pub fn new(bound: f64, absorbing: bool) -> Rules {
        Rules {
            limit: bound.min(f64::MAX),
            absorbing,
        }
    }

    /// Whether 0 absorbs.
    #[inline(always)]
    pub fn absorbing(&self) -> bool {
        self.absorbing
    }

    /// The largest magnitude a live state may have.
    #[inline(always)]
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// Whether a state has diverged (a coordinate non-finite or beyond the bound), and whether
    /// it has reached 0 (every coordinate below [`ABSORB_BELOW`]).
    #[inline(always)]
    pub fn verdict(&self, x: &[f64]) -> (bool, bool) {
        let (mut out, mut tiny) = (false, true);
        for x in x {
            out |= !(x.abs() <= self.limit);
            tiny &= x.abs() < ABSORB_BELOW;
        }
        (out, tiny)
    }

    /// A run's status at step 0: absorbed if it starts at 0 where 0 absorbs.
    #[inline(always)]
    pub fn start_status(&self, w0: &[f64]) -> Status {
        if self.absorbing && is_zero(w0) {
            Status::Absorbed(0)
        } else {
            Status::Alive
        }
    }

    /// [`Rules::verdict`] for every lane at once, on the states' bits (see [`LaneTest`]).
    pub fn lane_test(&self) -> LaneTest {
        // With m the largest |x|'s bits shifted left by one (the sign dropped; for |x| and NaN
        // the order of the bits is that of the values, NaN above ∞), a lane has diverged iff
        // m > B and has reached 0 iff m < A (B, A: the bound's and ABSORB_BELOW's bits,
        // shifted alike), so it stops iff m − A > B − A in wrapping arithmetic.
        let big = self.limit.to_bits() << 1;
        let (floor, span) = match self.absorbing {
            false => (0, big),
            true if ABSORB_BELOW <= self.limit => {
                let small = ABSORB_BELOW.to_bits() << 1;
                (small, big - small)
            }
            // A bound below ABSORB_BELOW: every state stops (m is even, so m − 1 > 0).
            true => (1, 0),
        };
        LaneTest { floor, span }
    }

    /// Whether a one-parameter run from `w0`, now at `w`, is one the rules leave alone: `w`
    /// neither reached 0 nor beyond the bound, and `w0` not a start at 0 that absorbs (NaN is
    /// neither).
    #[inline(always)]
    pub fn untouched(&self, w0: f64, w: f64) -> bool {
        let start_floor = if self.absorbing { ABSORB_BELOW } else { 0.0 };
        w.abs() >= ABSORB_BELOW && w.abs() <= self.limit && w0.abs() >= start_floor
    }

    /// A live state after an interval of the exact law: within the walls, absorbed or
    /// diverged, where the new state `y` = x · (a product that is a normal number) was
    /// rounded once (if it underflows, the true state is below ABSORB_BELOW too, and if it
    /// overflows, past the bound).
    #[inline(always)]
    pub fn land_value(&self, y: f64) -> Next {
        if y.abs() < ABSORB_BELOW {
            Next::Absorbed
        } else if !(y.abs() <= self.limit) {
            Next::Diverged
        } else {
            Next::At(y)
        }
    }
}

/// Whether a run stopped at a step, for all lanes at once: one subtraction and one comparison
/// per lane on the bits of the largest coordinate, which the compiler vectorises. A lane that
/// has stopped compares with u64::MAX (its limit), which nothing exceeds.
#[derive(Clone, Copy, Debug)]
pub struct LaneTest {
    floor: u64,
    span: u64,
}

impl LaneTest {
    /// The limits of the lanes: the span where alive, u64::MAX where stopped.
    #[inline(always)]
    pub fn limits<const L: usize>(&self, alive: &[bool; L]) -> [u64; L] {
        let mut m = [u64::MAX; L];
        for (m, a) in m.iter_mut().zip(alive) {
            if *a {
                *m = self.span;
            }
        }
        m
    }

    /// The key of a coordinate: its bits shifted left by one (sign dropped). A lane's key is
    /// the largest of its coordinates'.
    #[inline(always)]
    pub fn key(x: f64) -> u64 {
        x.to_bits() << 1
    }

    /// Whether a lane whose largest key is `m` and limit `limit` has stopped.
    #[inline(always)]
    pub fn stopped(&self, m: u64, limit: u64) -> bool {
        m.wrapping_sub(self.floor) > limit
    }
}

/// Whether a state has reached 0 (exactly, or below [`ABSORB_BELOW`] in every coordinate).
#[inline(always)]
pub fn is_zero(w: &[f64]) -> bool {
    w.iter().all(|x| x.abs() < ABSORB_BELOW)
}

/// The loss recorded for a run at step `stop`: None once it has diverged. A finite state
/// whose loss overflows has diverged as surely as one past the bound: it is marked so here,
/// never averaged into an infinite mean.
#[inline(always)]
pub fn recorded_loss(
    loss: impl FnOnce() -> Option<f64>,
    status: &mut Status,
    stop: u64,
) -> Option<f64> {
    if matches!(status, Status::Diverged(_)) {
        return None;
    }
    match loss() {
        Some(v) if !v.is_finite() => {
            *status = Status::Diverged(stop);
            None
        }
        other => other,
    }
}

/// Where an interval of the exact law takes a run: to 0, past the bound, or to a new state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    /// Below [`ABSORB_BELOW`] (or a zero factor was drawn): absorbed.
    Absorbed,
    /// Past the bound (or beyond f64): diverged.
    Diverged,
    /// The new state.
    At(f64),
}

impl Next {
    /// Apply to a one-parameter run recorded at step `stop`: absorbed at 0, diverged (its last
    /// finite state, at the previous record step, kept), or at its new state.
    #[inline(always)]
    pub fn land(self, stop: u64, w: &mut f64, status: &mut Status) {
        match self {
            Next::Absorbed => {
                *status = Status::Absorbed(stop);
                *w = 0.0;
            }
            Next::Diverged => *status = Status::Diverged(stop),
            Next::At(y) => *w = y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_folds_into_the_box() {
        assert_eq!(reflect(0.5, -1.0, 1.0), 0.5);
        assert_eq!(reflect(1.25, -1.0, 1.0), 0.75);
        assert_eq!(reflect(-1.5, -1.0, 1.0), -0.5);
        // Beyond the opposite wall: 3.5 → 1 − 2.5 = −1.5 → −1 + 0.5 = −0.5.
        assert_eq!(reflect(3.5, -1.0, 1.0), -0.5);
        assert_eq!(reflect(1.0, -1.0, 1.0), 1.0);
        assert!(reflect(f64::INFINITY, -1.0, 1.0).is_nan());
        assert!(reflect(f64::NAN, -1.0, 1.0).is_nan());
        for i in 0..1000 {
            let x = -50.0 + 0.1 * i as f64;
            let y = reflect(x, 0.0, 4.0);
            assert!((0.0..=4.0).contains(&y), "{x} -> {y}");
        }
    }

    /// The lanes' bit test says what the verdict says, for states at and around both walls,
    /// NaN and ±∞, with and without absorption, for several bounds.
    #[test]
    fn lane_test_is_the_verdict() {
        let probes = [
            0.0,
            -0.0,
            ABSORB_BELOW,
            ABSORB_BELOW * (1.0 - f64::EPSILON),
            -ABSORB_BELOW,
            1.0,
            -3.5,
            1e10,
            1e50,
            1e50 * (1.0 + f64::EPSILON),
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for bound in [1e10, 1e50, f64::INFINITY, ABSORB_BELOW / 2.0] {
            for absorbing in [false, true] {
                let rules = Rules::new(bound, absorbing);
                let test = rules.lane_test();
                let limit = test.limits(&[true])[0];
                for &a in &probes {
                    for &b in &probes {
                        let (out, tiny) = rules.verdict(&[a, b]);
                        let m = LaneTest::key(a).max(LaneTest::key(b));
                        assert_eq!(
                            test.stopped(m, limit),
                            out || (tiny && absorbing),
                            "bound {bound}, absorbing {absorbing}, state ({a}, {b})"
                        );
                        assert!(!test.stopped(m, u64::MAX));
                    }
                }
            }
        }
    }
}
