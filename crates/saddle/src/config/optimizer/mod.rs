//! `[optimizer]`: the optimizer kinds of experiment files, one module per kind, each with its
//! spec, its keys, parsing, emission, name and the update rule it builds
//! ([`crate::optimizer`]). The keys every kind shares (`lr`, `weight_decay`, `clip`,
//! `boundary`) are read here, once.
//!
//! To add a kind: a module here implementing [`Kind`], and one line in the `kinds!` list
//! below (docs/architecture.md).

mod adam;
mod momentum;
mod nesterov;
mod rmsprop;
mod sde;
mod sgd;

pub use adam::AdamSpec;
pub use momentum::MomentumSpec;
pub use nesterov::NesterovSpec;
pub use rmsprop::RmsPropSpec;
pub use sde::{SdeSpec, DEFAULT_DT};
pub use sgd::SgdSpec;

use super::floats;
use super::reader::{num, show, Reader, R};
use crate::optimizer::{Optimizer, WeightDecay};
use crate::rules::Boundary;
use crate::vector::Vector;
use toml::Table;

/// What an optimizer kind provides: its keys, parsing and emission, its name, and the update
/// rule it builds.
pub trait Kind: Sized {
    /// The keys this kind reads besides the shared ones, in the order messages list them.
    const KEYS: &'static [&'static str];
    /// Whether `weight_decay` applies to this kind.
    const DECAYS: bool = true;
    /// Read the kind's own keys; `name` is the `kind` given (one spec may serve several).
    fn parse(name: &str, r: &Reader<'_>) -> R<Self>;
    /// Write the kind's own keys.
    fn emit(&self, t: &mut Table);
    /// The `kind` name.
    fn name(&self) -> &'static str;
    /// The default `weight_decay`.
    fn default_weight_decay(&self) -> f64 {
        0.0
    }
    /// Whether `weight_decay` is decoupled from the gradient (AdamW: w ← (1 − λ·wd)·w before
    /// the step) rather than an L2 term added to it (PyTorch's `weight_decay`).
    fn decoupled(&self) -> bool {
        false
    }
    /// Whether the rule follows the expected gradient ∇L (GD) rather than the minibatch one.
    fn expected_gradient(&self) -> bool {
        false
    }
    /// Build the update rule with learning rate `lr` and hand it to `v`; None for a kind that
    /// is no discrete update rule (the SDE, run by its own kernel).
    fn visit<W: Vector, V: Visit<W>>(&self, lr: f64, v: V) -> Option<V::Out>;
}

/// What to do with an update rule once its type is known (one dispatch per experiment, none
/// per step).
pub trait Visit<W: Vector> {
    /// The result.
    type Out;
    /// Use the rule.
    fn visit<O: Optimizer<W>>(self, o: &O) -> Self::Out;
}

/// The registry: one line per kind, `Variant(Spec) = "name" | …`. It generates [`Rule`], the
/// list of names [`KINDS`] and the dispatch to each kind's [`Kind`] methods.
macro_rules! kinds {
    ($($(#[$doc:meta])* $var:ident($ty:ty) = $($name:literal)|+;)*) => {
        /// An optimizer kind with its own hyperparameters.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Rule {
            $($(#[$doc])* $var($ty),)*
        }

        /// The `optimizer.kind` names, as the registry lists them.
        pub const KINDS: &[&str] = &[$($($name,)+)*];

        impl Rule {
            fn parse(name: &str, r: &Reader<'_>) -> R<Rule> {
                match name {
                    $($($name)|+ => Ok(Rule::$var(<$ty as Kind>::parse(name, r)?)),)*
                    _ => unreachable!("the name was checked against KINDS"),
                }
            }
            fn keys(name: &str) -> (&'static [&'static str], bool) {
                match name {
                    $($($name)|+ => (<$ty as Kind>::KEYS, <$ty as Kind>::DECAYS),)*
                    _ => unreachable!("the name was checked against KINDS"),
                }
            }
            /// The `kind` name.
            pub fn name(&self) -> &'static str {
                match self { $(Rule::$var(s) => s.name(),)* }
            }
            fn emit(&self, t: &mut Table) {
                match self { $(Rule::$var(s) => s.emit(t),)* }
            }
            fn default_weight_decay(&self) -> f64 {
                match self { $(Rule::$var(s) => s.default_weight_decay(),)* }
            }
            /// Whether `weight_decay` is decoupled (AdamW) rather than added to the gradient.
            pub fn decoupled(&self) -> bool {
                match self { $(Rule::$var(s) => s.decoupled(),)* }
            }
            /// Whether the rule follows the expected gradient (GD).
            pub fn expected_gradient(&self) -> bool {
                match self { $(Rule::$var(s) => s.expected_gradient(),)* }
            }
            /// Build the update rule and hand it to `v` (None for the SDE).
            pub fn visit<W: Vector, V: Visit<W>>(&self, lr: f64, v: V) -> Option<V::Out> {
                match self { $(Rule::$var(s) => s.visit(lr, v),)* }
            }
        }
    };
}

kinds! {
    /// Gradient descent (`gd`) and minibatch SGD (`sgd`, Def. 1).
    Sgd(SgdSpec) = "gd" | "sgd";
    /// Heavy-ball momentum.
    Momentum(MomentumSpec) = "momentum";
    /// RMSProp.
    RmsProp(RmsPropSpec) = "rmsprop";
    /// Adam, AMSGrad (Fig. 2) and AdamW.
    Adam(AdamSpec) = "adam" | "amsgrad" | "adamw";
    /// Nesterov momentum.
    Nesterov(NesterovSpec) = "nesterov";
    /// The continuous-time limit of SGD, the SDE of Eq. 49 ([`crate::sde`]).
    Sde(SdeSpec) = "sde";
}

/// A validated `[optimizer]` table: the kind with its own hyperparameters, and the keys
/// every kind shares.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSpec {
    /// The kind and its hyperparameters.
    pub rule: Rule,
    /// Learning rate λ > 0.
    pub lr: f64,
    /// Weight decay ≥ 0: added to the gradient as wd·w (PyTorch's `weight_decay`), or
    /// decoupled for AdamW ([`Rule::decoupled`]).
    pub weight_decay: f64,
    /// Box constraint.
    pub clip: Option<(f64, f64)>,
    /// What the box does to a coordinate that leaves it.
    pub boundary: Boundary,
}

impl OptimizerSpec {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        self.rule.name()
    }

    /// The SDE's time step and scheme, for `kind = "sde"`.
    pub fn sde(&self) -> Option<&SdeSpec> {
        match &self.rule {
            Rule::Sde(s) => Some(s),
            _ => None,
        }
    }

    /// The SDE's time step dt (None for the discrete optimizers).
    pub fn dt(&self) -> Option<f64> {
        self.sde().map(|s| s.dt)
    }

    /// Adam's, AMSGrad's or AdamW's hyperparameters.
    pub fn adam(&self) -> Option<&AdamSpec> {
        match &self.rule {
            Rule::Adam(a) => Some(a),
            _ => None,
        }
    }

    /// The weight decay as the engine applies it, for the update rule's learning rate.
    pub fn decay(&self) -> WeightDecay {
        if self.weight_decay == 0.0 {
            WeightDecay::NONE
        } else if self.rule.decoupled() {
            WeightDecay::decoupled(self.lr, self.weight_decay)
        } else {
            WeightDecay::l2(self.weight_decay)
        }
    }

    /// Parse an `[optimizer]` table.
    pub(crate) fn parse(r: &Reader<'_>) -> R<OptimizerSpec> {
        let name = r.choice("kind", KINDS, None)?;
        let (keys, decays) = Rule::keys(&name);
        let mut allowed = vec!["kind", "lr", "clip", "boundary"];
        if decays {
            allowed.push("weight_decay");
        }
        allowed.extend(keys);
        r.only(&allowed)?;
        let lr = r.req_f64("lr")?;
        if lr <= 0.0 {
            return r.err(
                "lr",
                format!("the learning rate must be > 0 (got {})", num(lr)),
            );
        }
        let rule = Rule::parse(&name, r)?;
        let clip = match r.f64_list("clip")? {
            None => None,
            Some(v) if v.len() == 2 && v[0] < v[1] => Some((v[0], v[1])),
            Some(v) => {
                return r.err(
                    "clip",
                    format!("must be [lo, hi] with lo < hi (got {})", show(&floats(&v))),
                )
            }
        };
        let boundary = match r
            .choice("boundary", &["truncate", "reflect"], Some("truncate"))?
            .as_str()
        {
            "truncate" => Boundary::Truncate,
            _ => Boundary::Reflect,
        };
        if r.has("boundary") && clip.is_none() {
            return r.err("boundary", "needs a box: give clip = [lo, hi] as well");
        }
        let weight_decay = r.f64_or("weight_decay", rule.default_weight_decay())?;
        if weight_decay < 0.0 {
            return r.err(
                "weight_decay",
                format!("must be >= 0 (got {})", num(weight_decay)),
            );
        }
        if rule.decoupled() && lr * weight_decay > 1.0 {
            return r.err(
                "weight_decay",
                format!(
                    "decoupled decay multiplies w by 1 − lr·weight_decay, which must be >= 0 \
                     (lr·weight_decay = {})",
                    num(lr * weight_decay)
                ),
            );
        }
        Ok(OptimizerSpec {
            rule,
            lr,
            weight_decay,
            clip,
            boundary,
        })
    }

    /// The table [`OptimizerSpec::parse`] reads back to `self`.
    pub(crate) fn to_table(&self) -> Table {
        let mut t = Table::new();
        t.insert("kind".into(), self.kind().into());
        t.insert("lr".into(), self.lr.into());
        self.rule.emit(&mut t);
        if self.weight_decay != 0.0 || self.rule.default_weight_decay() != 0.0 {
            t.insert("weight_decay".into(), self.weight_decay.into());
        }
        if let Some((lo, hi)) = self.clip {
            t.insert("clip".into(), floats(&[lo, hi]));
            t.insert("boundary".into(), self.boundary.name().into());
        }
        t
    }
}

/// A hyperparameter in [0, 1) (β's), `d` when absent.
fn unit(r: &Reader<'_>, k: &str, d: f64) -> R<f64> {
    let v = r.f64_or(k, d)?;
    if !(0.0..1.0).contains(&v) {
        return r.err(k, format!("must be in [0, 1) (got {})", num(v)));
    }
    Ok(v)
}

/// ε ≥ 0, `d` when absent.
fn eps(r: &Reader<'_>, d: f64) -> R<f64> {
    let eps = r.f64_or("eps", d)?;
    if eps < 0.0 {
        return r.err("eps", format!("must be >= 0 (got {})", num(eps)));
    }
    Ok(eps)
}
