//! `[model]`: the landscapes of experiment files, their keys, parsing and emission. The
//! engine's model types are [`crate::model`]; each backend builds them from a [`ModelSpec`]
//! (`backend::with_model`).

use super::int;
use super::reader::{Reader, R};
use crate::model::formula::{FormulaSpec, MAX_PARAMS};
use crate::model::{Formula, Model, Quadratic, Quartic, SharpFlat, TinyNet};
use crate::noise::NoiseLaw;
use toml::Table;

/// What to do with a model once its concrete type is known: one dispatch per experiment, none
/// per step, so the engine's loops are monomorphised per model.
pub trait ModelVisit {
    /// The result.
    type Out;
    /// Use the model.
    fn visit<M: Model>(self, m: &M) -> Self::Out;
}

/// [`ModelVisit`] for a one-parameter model, handed over by value (the SDE's landscape keeps
/// it).
pub trait OneParameterVisit {
    /// The result.
    type Out;
    /// Use the model.
    fn visit<M: Model<W = [f64; 1]> + Clone + 'static>(self, m: M) -> Self::Out;
}

/// A landscape (see [`crate::model`]).
#[derive(Clone, Debug)]
pub enum ModelSpec {
    /// Eq. 4.
    Quadratic,
    /// x w²/2 + b w⁴/4.
    Quartic {
        /// Quartic coefficient.
        b: f64,
    },
    /// Eq. 9.
    SharpFlat {
        /// a
        a: f64,
        /// b
        b: f64,
    },
    /// §6.5.
    TinyNet,
    /// A user formula.
    Formula(Box<FormulaSpec>),
}

impl PartialEq for ModelSpec {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (ModelSpec::Formula(a), ModelSpec::Formula(b)) => {
                a.expr() == b.expr() && a.params() == b.params()
            }
            (ModelSpec::Quartic { b: x }, ModelSpec::Quartic { b: y }) => x == y,
            (ModelSpec::SharpFlat { a, b }, ModelSpec::SharpFlat { a: c, b: d }) => {
                a == c && b == d
            }
            _ => std::mem::discriminant(self) == std::mem::discriminant(o),
        }
    }
}

impl ModelSpec {
    /// Number of parameters.
    pub fn dim(&self) -> usize {
        match self {
            ModelSpec::Quadratic | ModelSpec::Quartic { .. } => 1,
            ModelSpec::SharpFlat { .. } | ModelSpec::TinyNet => 2,
            ModelSpec::Formula(f) => f.params(),
        }
    }
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Quadratic => "quadratic",
            ModelSpec::Quartic { .. } => "quartic",
            ModelSpec::SharpFlat { .. } => "sharp-flat",
            ModelSpec::TinyNet => "tiny-net",
            ModelSpec::Formula(_) => "formula",
        }
    }
}

impl ModelSpec {
    /// Build the model, a formula with the expectation nodes of `noise` (its data law), and
    /// hand it to `v`. Err: why a formula cannot be built.
    pub fn visit<V: ModelVisit>(&self, noise: &NoiseLaw, v: V) -> Result<V::Out, String> {
        Ok(match self {
            ModelSpec::Quadratic => v.visit(&Quadratic),
            ModelSpec::Quartic { b } => v.visit(&Quartic { b: *b }),
            ModelSpec::SharpFlat { a, b } => v.visit(&SharpFlat { a: *a, b: *b }),
            ModelSpec::TinyNet => v.visit(&TinyNet),
            ModelSpec::Formula(f) => {
                // One monomorphised engine per parameter count, 1 to MAX_PARAMS.
                macro_rules! formula {
                    ($($n:literal)*) => {
                        match f.params() {
                            $($n => v.visit(
                                &Formula::<$n>::new((**f).clone())
                                    .map_err(|e| e.to_string())?
                                    .with_noise(noise),
                            ),)*
                            n => {
                                return Err(format!(
                                    "{n} parameters; 1 to {MAX_PARAMS} are supported"
                                ))
                            }
                        }
                    };
                }
                formula!(1 2 3 4 5 6 7 8)
            }
        })
    }

    /// Build a one-parameter model and hand it to `v`; `Ok(None)` for a model with more
    /// parameters. Err: why a formula cannot be built.
    pub fn visit_one_parameter<V: OneParameterVisit>(
        &self,
        v: V,
    ) -> Result<Option<V::Out>, String> {
        Ok(match self {
            ModelSpec::Quadratic => Some(v.visit(Quadratic)),
            ModelSpec::Quartic { b } => Some(v.visit(Quartic { b: *b })),
            ModelSpec::Formula(f) if f.params() == 1 => {
                Some(v.visit(Formula::<1>::new((**f).clone()).map_err(|e| e.to_string())?))
            }
            _ => None,
        })
    }

    /// The `[model]` table that parses back to `self`.
    pub(crate) fn to_table(&self) -> Table {
        let mut m = Table::new();
        m.insert("kind".into(), self.kind().into());
        match self {
            ModelSpec::Quartic { b } => {
                m.insert("b".into(), (*b).into());
            }
            ModelSpec::SharpFlat { a, b } => {
                m.insert("a".into(), (*a).into());
                m.insert("b".into(), (*b).into());
            }
            ModelSpec::Formula(f) => {
                m.insert("loss".into(), f.expr().into());
                m.insert("params".into(), int(f.params() as u64));
            }
            _ => {}
        }
        m
    }
}

const MODEL_KINDS: [&str; 5] = ["quadratic", "quartic", "sharp-flat", "tiny-net", "formula"];

pub(super) fn parse(r: &Reader<'_>) -> R<ModelSpec> {
    let kind = r.choice("kind", &MODEL_KINDS, None)?;
    Ok(match kind.as_str() {
        "quadratic" => {
            r.only(&["kind"])?;
            ModelSpec::Quadratic
        }
        "quartic" => {
            r.only(&["kind", "b"])?;
            ModelSpec::Quartic {
                b: r.f64_or("b", 1.0)?,
            }
        }
        "sharp-flat" => {
            r.only(&["kind", "a", "b"])?;
            ModelSpec::SharpFlat {
                a: r.f64_or("a", 0.5)?,
                b: r.f64_or("b", 14.0)?,
            }
        }
        "tiny-net" => {
            r.only(&["kind"])?;
            ModelSpec::TinyNet
        }
        _ => {
            r.only(&["kind", "loss", "params"])?;
            let expr = match r.str("loss")? {
                Some(s) => s,
                None => return r.err("loss", "missing: the loss as a formula in w1..wd, x, y"),
            };
            let params = r.req_u64("params")? as usize;
            match FormulaSpec::parse(expr, params) {
                Ok(f) => ModelSpec::Formula(Box::new(f)),
                Err(e) => {
                    let key = if matches!(e, crate::model::formula::FormulaError::BadParams { .. })
                    {
                        "params"
                    } else {
                        "loss"
                    };
                    return r.err(key, e.to_string());
                }
            }
        }
    })
}

/// Why the SDE (Eq. 49) cannot serve a model, if it cannot: it is one-dimensional.
pub fn sde_obstacle(model: &ModelSpec) -> Option<String> {
    (model.dim() != 1).then(|| {
        format!(
            "\"sde\" (Eq. 49) is one-dimensional; model `{}` has {} parameters",
            model.kind(),
            model.dim()
        )
    })
}
