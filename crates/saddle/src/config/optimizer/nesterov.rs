//! `kind = "nesterov"`: Nesterov momentum in PyTorch's convention (`SGD(nesterov=True)`, no
//! dampening): v ← μv + g, w ← w − λ(g + μv).

use super::{unit, Kind, Visit};
use crate::config::reader::{Reader, R};
use crate::optimizer::Momentum;
use crate::vector::Vector;
use toml::Table;

/// Nesterov momentum's μ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NesterovSpec {
    /// Momentum μ ∈ [0, 1) (key `beta`, default 0.9).
    pub beta: f64,
}

impl Kind for NesterovSpec {
    const KEYS: &'static [&'static str] = &["beta"];
    fn parse(_: &str, r: &Reader<'_>) -> R<Self> {
        Ok(NesterovSpec {
            beta: unit(r, "beta", 0.9)?,
        })
    }
    fn emit(&self, t: &mut Table) {
        t.insert("beta".into(), self.beta.into());
    }
    fn name(&self) -> &'static str {
        "nesterov"
    }
    fn visit<W: Vector, V: Visit<W>>(&self, lr: f64, v: V) -> Option<V::Out> {
        Some(v.visit(&Momentum {
            lr,
            beta: self.beta,
            nesterov: true,
        }))
    }
}
