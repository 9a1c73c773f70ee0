//! `kind = "sde"`: the continuous-time limit of SGD, the SDE of Eq. 49, integrated with time
//! step `dt` by the `scheme` of [`crate::sde`]. Not a discrete update rule: the SDE has a
//! kernel of its own, and its diffusion comes from `[diffusion]`.

use super::{Kind, Visit};
use crate::config::reader::{num, Reader, R};
use crate::sde::Scheme;
use crate::vector::Vector;
use toml::Table;

/// Default SDE time step.
pub const DEFAULT_DT: f64 = 0.01;

/// The SDE's time step and integration scheme.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SdeSpec {
    /// Time step dt > 0.
    pub dt: f64,
    /// Integration scheme.
    pub scheme: Scheme,
}

impl Kind for SdeSpec {
    const KEYS: &'static [&'static str] = &["dt", "scheme"];
    const DECAYS: bool = false;
    fn parse(_: &str, r: &Reader<'_>) -> R<Self> {
        let dt = r.f64_or("dt", DEFAULT_DT)?;
        if dt <= 0.0 {
            return r.err("dt", format!("the time step must be > 0 (got {})", num(dt)));
        }
        let scheme = match r
            .choice("scheme", &["milstein", "euler-maruyama"], Some("milstein"))?
            .as_str()
        {
            "milstein" => Scheme::Milstein,
            _ => Scheme::EulerMaruyama,
        };
        Ok(SdeSpec { dt, scheme })
    }
    fn emit(&self, t: &mut Table) {
        t.insert("dt".into(), self.dt.into());
        t.insert("scheme".into(), self.scheme.name().into());
    }
    fn name(&self) -> &'static str {
        "sde"
    }
    fn visit<W: Vector, V: Visit<W>>(&self, _: f64, _: V) -> Option<V::Out> {
        None
    }
}
