//! `kind = "gd"` and `kind = "sgd"`: w ← w − λg with the expected gradient ∇L (GD) or the
//! minibatch gradient ĝ (SGD, Def. 1, Eq. 2).

use super::{Kind, Visit};
use crate::config::reader::{Reader, R};
use crate::optimizer::Sgd;
use crate::vector::Vector;
use toml::Table;

/// GD or SGD: no hyperparameters besides the shared ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SgdSpec {
    /// GD: the expected gradient instead of the minibatch one.
    pub expected: bool,
}

impl Kind for SgdSpec {
    const KEYS: &'static [&'static str] = &[];
    fn parse(name: &str, _: &Reader<'_>) -> R<Self> {
        Ok(SgdSpec {
            expected: name == "gd",
        })
    }
    fn emit(&self, _: &mut Table) {}
    fn name(&self) -> &'static str {
        if self.expected {
            "gd"
        } else {
            "sgd"
        }
    }
    fn expected_gradient(&self) -> bool {
        self.expected
    }
    fn visit<W: Vector, V: Visit<W>>(&self, lr: f64, v: V) -> Option<V::Out> {
        Some(v.visit(&Sgd { lr }))
    }
}
