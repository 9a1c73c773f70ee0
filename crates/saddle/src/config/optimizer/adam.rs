//! `kind = "adam"`, `"amsgrad"` and `"adamw"`: Adam and AMSGrad as the paper's Fig. 2
//! (Eqs 12–15, variant `paper`) or as PyTorch (`library`), and AdamW, Adam with decoupled
//! weight decay (Loshchilov & Hutter; PyTorch's `AdamW`: w ← (1 − λ·wd)·w, then the Adam
//! step), bias-corrected by default as PyTorch's.

use super::{eps, unit, Kind, Visit};
use crate::config::reader::{Reader, R};
use crate::optimizer::Adam;
use crate::vector::Vector;
use toml::Table;

/// PyTorch's default decoupled weight decay for AdamW.
pub const ADAMW_WEIGHT_DECAY: f64 = 0.01;

/// Adam's, AMSGrad's or AdamW's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSpec {
    /// β₁ ∈ [0, 1) (default 0.9).
    pub beta1: f64,
    /// β₂ ∈ [0, 1) (default 0.999).
    pub beta2: f64,
    /// ε ≥ 0 (default 0 for the paper's variant, 1e-8 for the library's).
    pub eps: f64,
    /// The `library` variant (PyTorch's bias correction) rather than the `paper`'s.
    pub library: bool,
    /// AMSGrad's running maximum of v.
    pub amsgrad: bool,
    /// AdamW: `weight_decay` decoupled from the gradient.
    pub decoupled: bool,
}

impl Kind for AdamSpec {
    const KEYS: &'static [&'static str] = &["beta1", "beta2", "eps", "variant"];
    fn parse(name: &str, r: &Reader<'_>) -> R<Self> {
        let decoupled = name == "adamw";
        let default = if decoupled { "library" } else { "paper" };
        let library = r.choice("variant", &["paper", "library"], Some(default))? == "library";
        Ok(AdamSpec {
            beta1: unit(r, "beta1", 0.9)?,
            beta2: unit(r, "beta2", 0.999)?,
            eps: eps(r, if library { 1e-8 } else { 0.0 })?,
            library,
            amsgrad: name == "amsgrad",
            decoupled,
        })
    }
    fn emit(&self, t: &mut Table) {
        let variant = if self.library { "library" } else { "paper" };
        t.insert("variant".into(), variant.into());
        t.insert("beta1".into(), self.beta1.into());
        t.insert("beta2".into(), self.beta2.into());
        t.insert("eps".into(), self.eps.into());
    }
    fn name(&self) -> &'static str {
        match (self.amsgrad, self.decoupled) {
            (true, _) => "amsgrad",
            (false, true) => "adamw",
            (false, false) => "adam",
        }
    }
    fn default_weight_decay(&self) -> f64 {
        if self.decoupled {
            ADAMW_WEIGHT_DECAY
        } else {
            0.0
        }
    }
    fn decoupled(&self) -> bool {
        self.decoupled
    }
    fn visit<W: Vector, V: Visit<W>>(&self, lr: f64, v: V) -> Option<V::Out> {
        Some(v.visit(&Adam {
            lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            amsgrad: self.amsgrad,
            bias_correction: self.library,
        }))
    }
}
