//! Noise and data: the distribution p(x) the minibatch is drawn from (Eq. 1, Def. 1).
//!
//! A [`NoiseLaw`] is immutable and shared by every run; the mutable per-run part (the bit
//! buffer for fair coins and, for datasets drawn without replacement, the epoch's
//! permutation) lives in a [`Sampler`] that the engine creates per run from that run's own
//! random stream, so draws never depend on other runs.
//!
//! [`BatchMean`] ([`batch_mean`]) is the exact law of the minibatch mean x̄ of a law.

pub mod batch_mean;

pub use batch_mean::BatchMean;

use crate::rng::{standard_normal, Bits, Philox4x32};

/// One data point: an input `x` and a target `y`.
///
/// Scalar noise laws drive one of the two fields (see [`Field`]); the other keeps its default
/// (x = 1, y = 0), which is what the paper's models need (the tiny network has x = 1 and a
/// random label y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// The input (the paper's x).
    pub x: f64,
    /// The target (the paper's y; only the tiny network and formulas use it).
    pub y: f64,
}

impl Default for Sample {
    fn default() -> Self {
        Sample { x: 1.0, y: 0.0 }
    }
}

/// Which field of a [`Sample`] a scalar noise law draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The input x (quadratic, quartic, sharp-flat).
    X,
    /// The target y (tiny network).
    Y,
}

impl Sample {
    /// A sample with `field` set to `v` and the other field at its default.
    #[inline(always)]
    pub fn with(field: Field, v: f64) -> Self {
        match field {
            Field::X => Sample { x: v, y: 0.0 },
            Field::Y => Sample { x: 1.0, y: v },
        }
    }
}

/// First two moments of the data distribution, per field: enough for the closed-form
/// expected loss of every built-in model, which is at most quadratic in x or y.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moments {
    /// E\[x\]
    pub mean_x: f64,
    /// E\[x²\]
    pub m2_x: f64,
    /// E\[y\]
    pub mean_y: f64,
    /// E\[y²\]
    pub m2_y: f64,
}

/// The distribution of one data point.
#[derive(Clone, Debug, PartialEq)]
pub enum Law {
    /// x = 1 or x = a − 1 with probability ½ each (Props 1–3, Figs 1, 3, 5, 7, 8):
    /// E\[x\] = a/2. One fair bit per draw (bit 1 → x = 1).
    TwoPoint {
        /// The paper's a.
        a: f64,
    },
    /// Finitely many values with probabilities.
    Discrete {
        /// Support.
        values: Vec<f64>,
        /// Probabilities (non-negative, summing to 1).
        probs: Vec<f64>,
    },
    /// x ~ N(mean, std²) (App. B.2).
    Gaussian {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// x ~ U[lo, hi).
    Uniform {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// A finite data set of samples (x and y), drawn uniformly.
    Dataset {
        /// The data points.
        samples: Vec<Sample>,
        /// Draw with replacement (Def. 1) or without replacement within each epoch.
        replacement: bool,
    },
}

/// A data distribution with the minibatch size S.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseLaw {
    /// The distribution of one data point.
    pub law: Law,
    /// Which field of the sample a scalar law draws (ignored for datasets).
    pub field: Field,
    /// Minibatch size S ≥ 1: the gradient is the mean of S per-sample gradients.
    pub batch: usize,
}

impl NoiseLaw {
    /// Finite support with probabilities, for laws that have one (exact expectations).
    pub fn atoms(&self) -> Option<Vec<(Sample, f64)>> {
        match &self.law {
            Law::TwoPoint { a } => Some(vec![
                (Sample::with(self.field, 1.0), 0.5),
                (Sample::with(self.field, a - 1.0), 0.5),
            ]),
            Law::Discrete { values, probs } => Some(
                values
                    .iter()
                    .zip(probs)
                    .map(|(v, p)| (Sample::with(self.field, *v), *p))
                    .collect(),
            ),
            Law::Dataset { samples, .. } => {
                let p = 1.0 / samples.len() as f64;
                Some(samples.iter().map(|s| (*s, p)).collect())
            }
            Law::Gaussian { .. } | Law::Uniform { .. } => None,
        }
    }

    /// First two moments of x and y.
    pub fn moments(&self) -> Moments {
        let (mean, m2) = match &self.law {
            Law::Gaussian { mean, std } => (*mean, mean * mean + std * std),
            Law::Uniform { lo, hi } => {
                let mean = 0.5 * (lo + hi);
                (mean, mean * mean + (hi - lo) * (hi - lo) / 12.0)
            }
            _ => {
                let atoms = self.atoms().expect("finite law");
                let mut m = Moments {
                    mean_x: 0.0,
                    m2_x: 0.0,
                    mean_y: 0.0,
                    m2_y: 0.0,
                };
                for (s, p) in atoms {
                    m.mean_x += p * s.x;
                    m.m2_x += p * s.x * s.x;
                    m.mean_y += p * s.y;
                    m.m2_y += p * s.y * s.y;
                }
                return m;
            }
        };
        let d = Sample::default();
        match self.field {
            Field::X => Moments {
                mean_x: mean,
                m2_x: m2,
                mean_y: d.y,
                m2_y: d.y * d.y,
            },
            Field::Y => Moments {
                mean_x: d.x,
                m2_x: d.x * d.x,
                mean_y: mean,
                m2_y: m2,
            },
        }
    }

    /// A fresh per-run sampler.
    pub fn sampler(&self) -> Sampler<'_> {
        let kind = match &self.law {
            Law::TwoPoint { a } => Kind::Coin {
                heads: 1.0,
                tails: a - 1.0,
            },
            Law::Discrete { values, probs }
                if values.len() == 2 && probs[0] == 0.5 && probs[1] == 0.5 =>
            {
                Kind::Coin {
                    heads: values[0],
                    tails: values[1],
                }
            }
            Law::Discrete { values, probs } => {
                let mut acc = 0.0;
                let cdf = probs
                    .iter()
                    .map(|p| {
                        acc += p;
                        acc
                    })
                    .collect();
                Kind::Table { values, cdf }
            }
            Law::Gaussian { mean, std } => Kind::Gaussian {
                mean: *mean,
                std: *std,
            },
            Law::Uniform { lo, hi } => Kind::Uniform {
                lo: *lo,
                width: hi - lo,
            },
            Law::Dataset {
                samples,
                replacement: true,
            } => Kind::WithReplacement { samples },
            Law::Dataset {
                samples,
                replacement: false,
            } => Kind::Epochs {
                samples,
                perm: (0..samples.len()).collect(),
                pos: samples.len(),
            },
        };
        Sampler {
            kind,
            field: self.field,
            bits: Bits::default(),
        }
    }
}

#[derive(Clone, Debug)]
enum Kind<'a> {
    Coin {
        heads: f64,
        tails: f64,
    },
    Table {
        values: &'a [f64],
        cdf: Vec<f64>,
    },
    Gaussian {
        mean: f64,
        std: f64,
    },
    Uniform {
        lo: f64,
        width: f64,
    },
    WithReplacement {
        samples: &'a [Sample],
    },
    Epochs {
        samples: &'a [Sample],
        perm: Vec<usize>,
        pos: usize,
    },
}

/// Per-run sampling state. Reset it with [`Sampler::reset`] at the start of each run.
#[derive(Clone, Debug)]
pub struct Sampler<'a> {
    kind: Kind<'a>,
    field: Field,
    bits: Bits,
}

impl Sampler<'_> {
    /// Forget buffered bits and the epoch position (start of a new run).
    pub fn reset(&mut self) {
        self.bits = Bits::default();
        if let Kind::Epochs { samples, perm, pos } = &mut self.kind {
            // The identity permutation, so each run's shuffles depend on its stream alone.
            for (i, p) in perm.iter_mut().enumerate() {
                *p = i;
            }
            *pos = samples.len();
        }
    }

    /// Draw one data point from the run's stream.
    ///
    /// Consumption of the stream, per draw: two-point (and two equally likely values): one
    /// bit; discrete tables, uniform and datasets with replacement: one 53-bit uniform (two
    /// words); Gaussian: what `rand_distr::StandardNormal` takes; datasets without
    /// replacement: a Fisher–Yates shuffle (one uniform per element) at the start of each
    /// epoch. A minibatch that runs past the end of an epoch continues in the next one.
    #[inline(always)]
    pub fn draw(&mut self, rng: &mut Philox4x32) -> Sample {
        let v = match &mut self.kind {
            Kind::Coin { heads, tails } => {
                if self.bits.next_bit(rng) {
                    *heads
                } else {
                    *tails
                }
            }
            Kind::Table { values, cdf } => {
                let u = rng.next_f64();
                let i = cdf.iter().position(|c| u < *c).unwrap_or(cdf.len() - 1);
                values[i]
            }
            Kind::Gaussian { mean, std } => *mean + *std * standard_normal(rng),
            Kind::Uniform { lo, width } => *lo + *width * rng.next_f64(),
            Kind::WithReplacement { samples } => {
                return samples[index(rng, samples.len())];
            }
            Kind::Epochs { samples, perm, pos } => {
                if *pos == samples.len() {
                    for i in (1..perm.len()).rev() {
                        perm.swap(i, index(rng, i + 1));
                    }
                    *pos = 0;
                }
                let s = samples[perm[*pos]];
                *pos += 1;
                return s;
            }
        };
        Sample::with(self.field, v)
    }
}

impl Sampler<'_> {
    /// The two samples of a fair-coin law (two-point, or two equally likely values):
    /// `(heads, tails)` for bit 1 and bit 0.
    pub fn coin(&self) -> Option<(Sample, Sample)> {
        match &self.kind {
            Kind::Coin { heads, tails } => Some((
                Sample::with(self.field, *heads),
                Sample::with(self.field, *tails),
            )),
            _ => None,
        }
    }

    /// Draw `count` consecutive data points into `out[start]`, `out[start + stride]`, … —
    /// exactly the values `count` calls of [`Sampler::draw`] would give, with the law
    /// matched once instead of per draw.
    #[inline]
    pub fn fill(
        &mut self,
        rng: &mut Philox4x32,
        out: &mut [Sample],
        start: usize,
        stride: usize,
        count: usize,
    ) {
        let idx = (0..count).map(|j| start + j * stride);
        match &self.kind {
            Kind::Coin { heads, tails } => {
                let (h, t) = (
                    Sample::with(self.field, *heads),
                    Sample::with(self.field, *tails),
                );
                let pick = |bit: bool| coin_sample(bit, h, t);
                let mut j = 0;
                // Whole words while the buffer is empty: the same bits, in the same order,
                // as flip by flip, without a refill test per flip.
                while self.bits.is_empty() && count - j >= 32 {
                    let word = rng.next_word();
                    for b in 0..32 {
                        out[start + (j + b) * stride] = pick((word >> b) & 1 != 0);
                    }
                    j += 32;
                }
                for i in j..count {
                    out[start + i * stride] = pick(self.bits.next_bit(rng));
                }
            }
            Kind::Uniform { lo, width } => {
                let (lo, width) = (*lo, *width);
                for i in idx {
                    out[i] = Sample::with(self.field, lo + width * rng.next_f64());
                }
            }
            _ => {
                for i in idx {
                    out[i] = self.draw(rng);
                }
            }
        }
    }
}

/// `heads` for a 1 bit, `tails` for a 0, field by field as selects, not a branch (a branch on
/// a random bit mispredicts half the time): over the engine's lanes each field becomes one bit
/// test and one blend per vector.
#[inline(always)]
pub fn coin_sample(is_heads: bool, heads: Sample, tails: Sample) -> Sample {
    Sample {
        x: if is_heads { heads.x } else { tails.x },
        y: if is_heads { heads.y } else { tails.y },
    }
}

/// A uniform index in 0..n from one 53-bit uniform.
#[inline(always)]
fn index(rng: &mut Philox4x32, n: usize) -> usize {
    ((rng.next_f64() * n as f64) as usize).min(n - 1)
}

/// Expectation nodes of a data law: its atoms for finite laws (exact), Gauss–Hermite nodes for
/// a Gaussian and Gauss–Legendre nodes for a uniform law ([`GAUSS_NODES`] each), so that
/// E f(x) = Σ pᵢ f(xᵢ) is exact for polynomials f of degree below 2·[`GAUSS_NODES`]: the drift
/// and the minibatch variance of every built-in model (affine in the data) are exact; a
/// formula that is not polynomial in the data gets a Gauss-rule approximation.
pub fn data_nodes(noise: &NoiseLaw) -> Vec<(Sample, f64)> {
    let n = GAUSS_NODES.try_into().expect("non-zero");
    let field = noise.field;
    match &noise.law {
        Law::Gaussian { mean, std } => gauss_quad::GaussHermite::new(n)
            .iter()
            .map(|(x, w)| {
                let v = mean + std * std::f64::consts::SQRT_2 * x;
                (Sample::with(field, v), w / std::f64::consts::PI.sqrt())
            })
            .collect(),
        Law::Uniform { lo, hi } => gauss_quad::GaussLegendre::new(n)
            .iter()
            .map(|(x, w)| {
                let v = 0.5 * (lo + hi) + 0.5 * (hi - lo) * x;
                (Sample::with(field, v), 0.5 * w)
            })
            .collect(),
        _ => noise.atoms().expect("finite law"),
    }
}

/// Nodes of the Gauss rules in [`data_nodes`].
pub const GAUSS_NODES: usize = 24;
