//! Optimizers: the update rules of Def. 1 (SGD), heavy-ball momentum, RMSProp, and Adam and
//! AMSGrad exactly as the paper's Fig. 2 or as the deep-learning libraries implement them.
//!
//! An optimizer is immutable and shared by every run; its per-run state (momentum buffers,
//! second-moment estimates) is a [`Optimizer::State`] value the engine keeps per run.

use crate::vector::Vector;

/// An update rule w ← w − (step computed from the gradient ĝ).
pub trait Optimizer<W: Vector>: Send + Sync {
    /// Per-run state.
    type State: Clone + Send;
    /// The state at t = 0.
    fn init(&self) -> Self::State;
    /// Apply the update at step `t` (1-based) with gradient `g`.
    fn update(&self, state: &mut Self::State, w: &mut W, g: &W, t: u64);
    /// The state of `L` runs advanced together (the engine's lanes), laid out so that the
    /// same field of every run is contiguous. `Copy`, so the engine can keep a block's
    /// working copy in registers.
    type Lanes<const L: usize>: Send + Copy;
    /// The lane state at t = 0.
    fn init_lanes<const L: usize>(&self) -> Self::Lanes<L>;
    /// [`Optimizer::update`] for `L` runs at once, their states and gradients as
    /// [`Vector::Lanes`]; the result equals calling `update` run by run.
    fn update_lanes<const L: usize>(
        &self,
        states: &mut Self::Lanes<L>,
        w: &mut W::Lanes<L>,
        g: &W::Lanes<L>,
        t: u64,
    );
    /// Whether a zero gradient gives a zero step whatever the state (so a run resting at a
    /// fixed point of the landscape stays there). False for momentum, whose buffer keeps
    /// moving w after the gradient vanishes.
    fn rests_with_zero_gradient(&self) -> bool;
}

/// The lane state and update of an optimizer whose per-run state is small: an array of
/// per-run states, updated run by run.
macro_rules! run_by_run_lanes {
    ($state:ty) => {
        type Lanes<const L: usize> = [$state; L];
        fn init_lanes<const L: usize>(&self) -> [$state; L] {
            std::array::from_fn(|_| Optimizer::<W>::init(self))
        }
        #[inline(always)]
        fn update_lanes<const L: usize>(
            &self,
            s: &mut [$state; L],
            w: &mut W::Lanes<L>,
            g: &W::Lanes<L>,
            t: u64,
        ) {
            for l in 0..L {
                let mut wl = W::lane(w, l);
                self.update(&mut s[l], &mut wl, &W::lane(g, l), t);
                W::set_lane(w, l, wl);
            }
        }
    };
}

/// Weight decay as the engine applies it at every step, for every optimizer: PyTorch's
/// `weight_decay`, the L2 term wd·w added to the gradient before the update, or AdamW's
/// decoupled decay, w ← (1 − λ·wd)·w before the update (Loshchilov & Hutter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightDecay {
    /// wd of the L2 term added to the gradient (0: none).
    pub l2: f64,
    /// The factor 1 − λ·wd of decoupled decay (1: none).
    pub shrink: f64,
}

impl WeightDecay {
    /// No weight decay.
    pub const NONE: WeightDecay = WeightDecay {
        l2: 0.0,
        shrink: 1.0,
    };

    /// The L2 term wd·w added to the gradient.
    pub fn l2(wd: f64) -> WeightDecay {
        WeightDecay {
            l2: wd,
            ..Self::NONE
        }
    }

    /// Decoupled decay with learning rate `lr`: w ← (1 − lr·wd)·w.
    pub fn decoupled(lr: f64, wd: f64) -> WeightDecay {
        WeightDecay {
            shrink: 1.0 - lr * wd,
            ..Self::NONE
        }
    }

    /// Add the L2 term wd·w to the gradients `g` of the lanes' states `w`.
    #[inline(always)]
    pub fn to_gradient<W: Vector, const L: usize>(&self, w: &W::Lanes<L>, g: &mut W::Lanes<L>) {
        if self.l2 != 0.0 {
            for i in 0..W::DIM {
                for l in 0..L {
                    *W::at_mut(g, i, l) += self.l2 * W::at(w, i, l);
                }
            }
        }
    }

    /// Apply decoupled decay to the lanes' states `w`.
    #[inline(always)]
    pub fn to_state<W: Vector, const L: usize>(&self, w: &mut W::Lanes<L>) {
        if self.shrink != 1.0 {
            for i in 0..W::DIM {
                for l in 0..L {
                    *W::at_mut(w, i, l) *= self.shrink;
                }
            }
        }
    }
}

/// Plain (minibatch) SGD, Eq. 2: w ← w − λĝ. GD is the same rule fed the expected gradient.
#[derive(Clone, Copy, Debug)]
pub struct Sgd {
    /// Learning rate λ.
    pub lr: f64,
}

impl<W: Vector> Optimizer<W> for Sgd {
    type State = ();
    run_by_run_lanes!(());

    fn init(&self) {}
    fn rests_with_zero_gradient(&self) -> bool {
        true
    }
    #[inline(always)]
    fn update(&self, _: &mut (), w: &mut W, g: &W, _t: u64) {
        for (w, g) in w.as_mut_slice().iter_mut().zip(g.as_slice()) {
            *w -= self.lr * g;
        }
    }
}

/// Heavy-ball momentum as PyTorch's SGD with momentum (no dampening):
/// m ← βm + ĝ, w ← w − λm; with `nesterov`, PyTorch's Nesterov momentum:
/// m ← βm + ĝ, w ← w − λ(ĝ + βm).
#[derive(Clone, Copy, Debug)]
pub struct Momentum {
    /// Learning rate λ.
    pub lr: f64,
    /// Momentum β.
    pub beta: f64,
    /// Nesterov's look-ahead step ĝ + βm instead of m.
    pub nesterov: bool,
}

impl<W: Vector> Optimizer<W> for Momentum {
    type State = W;
    run_by_run_lanes!(W);

    fn init(&self) -> W {
        W::zeros()
    }
    fn rests_with_zero_gradient(&self) -> bool {
        self.beta == 0.0
    }
    #[inline(always)]
    fn update(&self, m: &mut W, w: &mut W, g: &W, _t: u64) {
        for ((w, m), g) in w
            .as_mut_slice()
            .iter_mut()
            .zip(m.as_mut_slice())
            .zip(g.as_slice())
        {
            *m = self.beta * *m + g;
            *w -= self.lr
                * if self.nesterov {
                    g + self.beta * *m
                } else {
                    *m
                };
        }
    }
}

/// RMSProp as PyTorch: v ← βv + (1−β)ĝ², w ← w − λĝ/(√v + ε).
#[derive(Clone, Copy, Debug)]
pub struct RmsProp {
    /// Learning rate λ.
    pub lr: f64,
    /// Decay β of the squared-gradient average.
    pub beta: f64,
    /// ε added to √v.
    pub eps: f64,
}

impl<W: Vector> Optimizer<W> for RmsProp {
    type State = W;
    run_by_run_lanes!(W);

    fn init(&self) -> W {
        W::zeros()
    }
    fn rests_with_zero_gradient(&self) -> bool {
        true
    }
    #[inline(always)]
    fn update(&self, v: &mut W, w: &mut W, g: &W, _t: u64) {
        for ((w, v), g) in w
            .as_mut_slice()
            .iter_mut()
            .zip(v.as_mut_slice())
            .zip(g.as_slice())
        {
            *v = self.beta * *v + (1.0 - self.beta) * g * g;
            *w -= self.lr * g / (v.sqrt() + self.eps);
        }
    }
}

/// Adam and AMSGrad.
///
/// The `paper` variant is Fig. 2 (Eqs 12–15) exactly: m ← β₁m + (1−β₁)ĝ,
/// v ← β₂v + (1−β₂)ĝ², v̂ ← max(v̂, v) for AMSGrad (v̂ = v for Adam), w ← w − λm/(√v̂ + ε),
/// with v₀ = 0, no bias correction and ε = 0 by default.
///
/// The `library` variant is PyTorch's: bias-corrected m̂ = m/(1−β₁ᵗ); for AMSGrad the maximum
/// is taken over the uncorrected v and then divided by (1−β₂ᵗ); w ← w − λm̂/(√v̂ + ε) with
/// ε = 1e-8 by default.
#[derive(Clone, Copy, Debug)]
pub struct Adam {
    /// Learning rate λ.
    pub lr: f64,
    /// β₁ (momentum; 0 disables it).
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε added to √v̂.
    pub eps: f64,
    /// Take the running maximum of v (AMSGrad).
    pub amsgrad: bool,
    /// Apply bias correction (the `library` variant).
    pub bias_correction: bool,
}

/// Per-run state of [`Adam`]: first moment, second moment, running maximum, and β₁ᵗ, β₂ᵗ
/// (kept as running products for the bias correction).
#[derive(Clone, Copy, Debug)]
pub struct AdamState<W> {
    /// m
    pub m: W,
    /// v
    pub v: W,
    /// v̂ (AMSGrad's running maximum)
    pub vmax: W,
    /// √v̂ + ε, kept by the lane update of AMSGrad without bias correction, which takes the
    /// square root again only where v̂ has grown (bit for bit the same divisor). The
    /// one-run update does not use it (it stays at its start value there).
    pub root: W,
    /// β₁ᵗ
    pub beta1_t: f64,
    /// β₂ᵗ
    pub beta2_t: f64,
}

impl<W: Vector> Optimizer<W> for Adam {
    type State = AdamState<W>;
    fn init(&self) -> AdamState<W> {
        AdamState {
            m: W::zeros(),
            v: W::zeros(),
            vmax: W::zeros(),
            root: self.root_at_zero(),
            beta1_t: 1.0,
            beta2_t: 1.0,
        }
    }
    fn rests_with_zero_gradient(&self) -> bool {
        self.beta1 == 0.0
    }
    type Lanes<const L: usize> = AdamState<W::Lanes<L>>;
    fn init_lanes<const L: usize>(&self) -> AdamState<W::Lanes<L>> {
        AdamState {
            m: W::splat(W::zeros()),
            v: W::splat(W::zeros()),
            vmax: W::splat(W::zeros()),
            root: W::splat(self.root_at_zero()),
            beta1_t: 1.0,
            beta2_t: 1.0,
        }
    }

    #[inline(always)]
    fn update(&self, s: &mut AdamState<W>, w: &mut W, g: &W, _t: u64) {
        let (c1, c2) = self.advance(&mut s.beta1_t, &mut s.beta2_t);
        let (ms, vs, xs) = (
            s.m.as_mut_slice(),
            s.v.as_mut_slice(),
            s.vmax.as_mut_slice(),
        );
        for (i, (w, g)) in w.as_mut_slice().iter_mut().zip(g.as_slice()).enumerate() {
            self.coord(&mut ms[i], &mut vs[i], &mut xs[i], w, *g, c1, c2);
        }
    }

    #[inline(always)]
    fn update_lanes<const L: usize>(
        &self,
        s: &mut AdamState<W::Lanes<L>>,
        w: &mut W::Lanes<L>,
        g: &W::Lanes<L>,
        _t: u64,
    ) {
        match (self.amsgrad, self.bias_correction) {
            (false, false) => self.lanes::<false, false, L, W>(s, w, g),
            (true, false) => self.lanes::<true, false, L, W>(s, w, g),
            (false, true) => self.lanes::<false, true, L, W>(s, w, g),
            (true, true) => self.lanes::<true, true, L, W>(s, w, g),
        }
    }
}

impl Adam {
    /// √v̂ + ε at v̂ = 0, in every coordinate: [`AdamState::root`]'s start.
    fn root_at_zero<W: Vector>(&self) -> W {
        let mut r = W::zeros();
        for x in r.as_mut_slice() {
            *x = self.root(0.0);
        }
        r
    }

    /// Advance β₁ᵗ, β₂ᵗ (bias correction only) and return the divisors (1 − β₁ᵗ, 1 − β₂ᵗ).
    #[inline(always)]
    fn advance(&self, b1t: &mut f64, b2t: &mut f64) -> (f64, f64) {
        if self.bias_correction {
            *b1t *= self.beta1;
            *b2t *= self.beta2;
        }
        (1.0 - *b1t, 1.0 - *b2t)
    }

    /// One coordinate of the update (Eqs 12–15, with the variant's options).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn coord(
        &self,
        m: &mut f64,
        v: &mut f64,
        vmax: &mut f64,
        w: &mut f64,
        g: f64,
        c1: f64,
        c2: f64,
    ) {
        match (self.amsgrad, self.bias_correction) {
            (false, false) => self.coord_as::<false, false>(m, v, vmax, w, g, c1, c2),
            (true, false) => self.coord_as::<true, false>(m, v, vmax, w, g, c1, c2),
            (false, true) => self.coord_as::<false, true>(m, v, vmax, w, g, c1, c2),
            (true, true) => self.coord_as::<true, true>(m, v, vmax, w, g, c1, c2),
        }
    }

    /// [`Adam::coord`] with the variant fixed at compile time.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn coord_as<const AMSGRAD: bool, const BIAS: bool>(
        &self,
        m: &mut f64,
        v: &mut f64,
        vmax: &mut f64,
        w: &mut f64,
        g: f64,
        c1: f64,
        c2: f64,
    ) {
        self.moments(m, v, g);
        let vh = if AMSGRAD {
            *vmax = vmax.max(*v);
            *vmax
        } else {
            *v
        };
        *w -= if BIAS {
            self.lr * (*m / c1) / self.root(vh / c2)
        } else {
            self.lr * *m / self.root(vh)
        };
    }

    /// The moments' update (Eqs 12–13): m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g².
    #[inline(always)]
    fn moments(&self, m: &mut f64, v: &mut f64, g: f64) {
        *m = self.beta1 * *m + (1.0 - self.beta1) * g;
        *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
    }

    /// The step's divisor √v̂ + ε.
    #[inline(always)]
    fn root(&self, vh: f64) -> f64 {
        vh.sqrt() + self.eps
    }

    /// The lane update with the variant fixed at compile time, so the loop over lanes has no
    /// branch on it. All lanes share t, hence β₁ᵗ and β₂ᵗ.
    #[inline(always)]
    fn lanes<const AMSGRAD: bool, const BIAS: bool, const L: usize, W: Vector>(
        &self,
        s: &mut AdamState<W::Lanes<L>>,
        w: &mut W::Lanes<L>,
        g: &W::Lanes<L>,
    ) {
        let (c1, c2) = self.advance(&mut s.beta1_t, &mut s.beta2_t);
        if AMSGRAD && !BIAS && L % ROOT_CHUNK == 0 {
            self.amsgrad_lanes::<L, W>(s, w, g);
            return;
        }
        for i in 0..W::DIM {
            for l in 0..L {
                self.coord_as::<AMSGRAD, BIAS>(
                    W::at_mut(&mut s.m, i, l),
                    W::at_mut(&mut s.v, i, l),
                    W::at_mut(&mut s.vmax, i, l),
                    W::at_mut(w, i, l),
                    W::at(g, i, l),
                    c1,
                    c2,
                );
            }
        }
    }

    /// The lane update of AMSGrad without bias correction (Eqs 12–15 with v̂ = max(v̂, v)),
    /// the same arithmetic as [`Adam::coord_as`], in chunks of [`ROOT_CHUNK`] lanes: the
    /// divisor √v̂ + ε ([`AdamState::root`]) is taken again only in a chunk where some v̂ has
    /// grown. v̂ stops growing soon in most runs (in the paper's Fig. 5 setting it grows in
    /// about 1.5 % (β₁ = 0) and 30 % (β₁ = 0.9) of the chunks' steps by T = 5000), and the
    /// square root is, with the division, the costliest operation of the step.
    #[inline(always)]
    fn amsgrad_lanes<const L: usize, W: Vector>(
        &self,
        s: &mut AdamState<W::Lanes<L>>,
        w: &mut W::Lanes<L>,
        g: &W::Lanes<L>,
    ) {
        for i in 0..W::DIM {
            // Three plain loops, which the compiler vectorises: the moments (noting where v̂
            // grows), the roots of the chunks where it did, the step.
            let mut grew = [false; L];
            for (l, grew) in grew.iter_mut().enumerate() {
                let v = W::at_mut(&mut s.v, i, l);
                self.moments(W::at_mut(&mut s.m, i, l), v, W::at(g, i, l));
                let vmax = W::at_mut(&mut s.vmax, i, l);
                // Where v > v̂ fails (v ≤ v̂, or v NaN), max keeps v̂: the root holds.
                *grew = *v > *vmax;
                *vmax = vmax.max(*v);
            }
            for (c, grew) in grew.chunks_exact(ROOT_CHUNK).enumerate() {
                if grew.contains(&true) {
                    for l in c * ROOT_CHUNK..(c + 1) * ROOT_CHUNK {
                        *W::at_mut(&mut s.root, i, l) = self.root(W::at(&s.vmax, i, l));
                    }
                }
            }
            for l in 0..L {
                *W::at_mut(w, i, l) -= self.lr * W::at(&s.m, i, l) / W::at(&s.root, i, l);
            }
        }
    }
}

/// Lanes per chunk of [`Adam::amsgrad_lanes`]: one 512-bit vector of doubles.
const ROOT_CHUNK: usize = 8;
