//! `kind = "momentum"`: heavy-ball momentum as PyTorch's SGD with momentum (no dampening),
//! m ← βm + ĝ, w ← w − λm.

use super::{unit, Kind, Visit};
use crate::config::reader::{Reader, R};
use crate::optimizer::Momentum;
use crate::vector::Vector;
use toml::Table;

/// Heavy-ball momentum's β.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomentumSpec {
    /// Momentum β ∈ [0, 1) (default 0.9).
    pub beta: f64,
}

impl Kind for MomentumSpec {
    const KEYS: &'static [&'static str] = &["beta"];
    fn parse(_: &str, r: &Reader<'_>) -> R<Self> {
        Ok(MomentumSpec {
            beta: unit(r, "beta", 0.9)?,
        })
    }
    fn emit(&self, t: &mut Table) {
        t.insert("beta".into(), self.beta.into());
    }
    fn name(&self) -> &'static str {
        "momentum"
    }
    fn visit<W: Vector, V: Visit<W>>(&self, lr: f64, v: V) -> Option<V::Out> {
        Some(v.visit(&Momentum {
            lr,
            beta: self.beta,
            nesterov: false,
        }))
    }
}
