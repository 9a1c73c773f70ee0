//! `kind = "rmsprop"`: RMSProp as PyTorch, v ← βv + (1−β)ĝ², w ← w − λĝ/(√v + ε).

use super::{eps, unit, Kind, Visit};
use crate::config::reader::{Reader, R};
use crate::optimizer::RmsProp;
use crate::vector::Vector;
use toml::Table;

/// RMSProp's β and ε.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropSpec {
    /// Decay β ∈ [0, 1) of the squared-gradient average (default 0.99).
    pub beta: f64,
    /// ε ≥ 0 added to √v (default 1e-8).
    pub eps: f64,
}

impl Kind for RmsPropSpec {
    const KEYS: &'static [&'static str] = &["beta", "eps"];
    fn parse(_: &str, r: &Reader<'_>) -> R<Self> {
        Ok(RmsPropSpec {
            beta: unit(r, "beta", 0.99)?,
            eps: eps(r, 1e-8)?,
        })
    }
    fn emit(&self, t: &mut Table) {
        t.insert("beta".into(), self.beta.into());
        t.insert("eps".into(), self.eps.into());
    }
    fn name(&self) -> &'static str {
        "rmsprop"
    }
    fn visit<W: Vector, V: Visit<W>>(&self, lr: f64, v: V) -> Option<V::Out> {
        Some(v.visit(&RmsProp {
            lr,
            beta: self.beta,
            eps: self.eps,
        }))
    }
}
