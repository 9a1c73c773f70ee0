//! `[sweep]`: a Cartesian grid over any numeric key of an experiment file — its axes, cells,
//! parsing and emission. Running the cells is [`crate::sweep`].

use super::reader::{num, Reader, R};
use toml::{Table, Value};

/// The values of one axis.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisValues {
    /// n evenly spaced values from lo to hi inclusive (n = 1: lo).
    Linspace {
        /// First value.
        lo: f64,
        /// Last value.
        hi: f64,
        /// Count.
        n: usize,
    },
    /// n values evenly spaced in log scale from lo to hi inclusive.
    Logspace {
        /// First value (> 0).
        lo: f64,
        /// Last value.
        hi: f64,
        /// Count.
        n: usize,
    },
    /// Explicit values.
    List(Vec<f64>),
}

impl AxisValues {
    /// The number of values, without computing them.
    pub fn len(&self) -> usize {
        match self {
            AxisValues::Linspace { n, .. } | AxisValues::Logspace { n, .. } => *n,
            AxisValues::List(v) => v.len(),
        }
    }

    /// Whether there is no value (never, for an axis read from an experiment file).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values.
    pub fn values(&self) -> Vec<f64> {
        let space = |lo: f64, hi: f64, n: usize| -> Vec<f64> {
            if n == 1 {
                return vec![lo];
            }
            (0..n)
                .map(|i| {
                    if i == n - 1 {
                        hi
                    } else {
                        lo + (hi - lo) * i as f64 / (n - 1) as f64
                    }
                })
                .collect()
        };
        match self {
            AxisValues::Linspace { lo, hi, n } => space(*lo, *hi, *n),
            AxisValues::Logspace { lo, hi, n } => {
                let mut v: Vec<f64> = space(lo.ln(), hi.ln(), *n)
                    .into_iter()
                    .map(f64::exp)
                    .collect();
                v[0] = *lo;
                if *n > 1 {
                    v[n - 1] = *hi;
                }
                v
            }
            AxisValues::List(v) => v.clone(),
        }
    }
}

/// One swept key.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Dot-separated key path, e.g. `optimizer.lr`.
    pub path: String,
    /// Its values.
    pub values: AxisValues,
}

/// A Cartesian grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Axes, first slowest.
    pub axes: Vec<Axis>,
}

/// One cell of a grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Index, row-major.
    pub index: usize,
    /// (path, value) for each axis.
    pub assignments: Vec<(String, f64)>,
}

/// The most cells a grid may have, 2²⁰. Before a sweep runs, each cell's experiment is built,
/// validated and kept, and each finished cell's journal entry stays in memory until the tables
/// are written: measured, a sweep of 262144 one-run cells peaks at 742 MB (2.8 KB per cell),
/// so a grid at the bound needs about 3 GB, and one that is larger is refused before anything
/// is allocated per cell.
pub const MAX_CELLS: usize = 1 << 20;

impl Grid {
    /// Number of cells: the product of the axes' lengths, None if it overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        self.axes
            .iter()
            .try_fold(1usize, |p, a| p.checked_mul(a.values.len()))
    }

    /// Number of cells, `usize::MAX` if the product overflows (a grid read from an experiment
    /// file has at most [`MAX_CELLS`]).
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Whether the grid has no cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All cells in index order. Allocates per cell: call it only on a grid of at most
    /// [`MAX_CELLS`] cells (as every grid read from an experiment file is).
    pub fn cells(&self) -> Vec<Cell> {
        let vals: Vec<Vec<f64>> = self.axes.iter().map(|a| a.values.values()).collect();
        (0..self.len())
            .map(|index| {
                let mut rem = index;
                let mut assignments = vec![(String::new(), 0.0); vals.len()];
                for (i, v) in vals.iter().enumerate().rev() {
                    assignments[i] = (self.axes[i].path.clone(), v[rem % v.len()]);
                    rem /= v.len();
                }
                Cell { index, assignments }
            })
            .collect()
    }

    /// The grid as the `[sweep]` table of an experiment file.
    pub fn to_table(&self) -> Table {
        let axes = self
            .axes
            .iter()
            .map(|a| {
                let mut t = Table::new();
                t.insert("path".into(), a.path.clone().into());
                let fl = |v: &[f64]| Value::Array(v.iter().map(|x| Value::Float(*x)).collect());
                match &a.values {
                    AxisValues::Linspace { lo, hi, n } => {
                        t.insert("linspace".into(), fl(&[*lo, *hi, *n as f64]))
                    }
                    AxisValues::Logspace { lo, hi, n } => {
                        t.insert("logspace".into(), fl(&[*lo, *hi, *n as f64]))
                    }
                    AxisValues::List(v) => t.insert("values".into(), fl(v)),
                };
                Value::Table(t)
            })
            .collect();
        let mut t = Table::new();
        t.insert("axis".into(), Value::Array(axes));
        t
    }
}

pub(super) fn parse(r: &Reader<'_>) -> R<Grid> {
    r.only(&["axis"])?;
    let mut axes = vec![];
    let readers = r.tables("axis")?;
    if readers.is_empty() {
        return r.err("axis", "a sweep needs at least one [[sweep.axis]]");
    }
    for a in readers {
        a.only(&["path", "linspace", "logspace", "values"])?;
        let path = match a.str("path")? {
            Some(p) if !p.is_empty() && !p.starts_with("sweep") => p.to_string(),
            Some(p) => return a.err("path", format!("cannot sweep {p:?}")),
            None => return a.err("path", "missing: the key to vary, e.g. \"optimizer.lr\""),
        };
        let given: Vec<&str> = ["linspace", "logspace", "values"]
            .into_iter()
            .filter(|k| a.has(k))
            .collect();
        if given.len() != 1 {
            return a.err("path", "give exactly one of linspace = [lo, hi, n], logspace = [lo, hi, n], values = [...]");
        }
        let k = given[0];
        let v = a.f64_list(k)?.unwrap_or_default();
        let values = if k == "values" {
            if v.is_empty() {
                return a.err(k, "must not be empty");
            }
            AxisValues::List(v)
        } else {
            if v.len() != 3 {
                return a.err(k, format!("must be [lo, hi, n] (got {} values)", v.len()));
            }
            let (lo, hi, n) = (v[0], v[1], v[2]);
            if n < 1.0 || n.fract() != 0.0 || n > 1e7 {
                return a.err(
                    k,
                    format!(
                        "n must be a whole number between 1 and 10^7 (got {})",
                        num(n)
                    ),
                );
            }
            if lo >= hi {
                return a.err(
                    k,
                    format!("needs lo < hi (got lo = {}, hi = {})", num(lo), num(hi)),
                );
            }
            if k == "logspace" {
                if lo <= 0.0 {
                    return a.err(k, format!("needs lo > 0 (got {})", num(lo)));
                }
                AxisValues::Logspace {
                    lo,
                    hi,
                    n: n as usize,
                }
            } else {
                AxisValues::Linspace {
                    lo,
                    hi,
                    n: n as usize,
                }
            }
        };
        axes.push(Axis { path, values });
    }
    let grid = Grid { axes };
    // Checked before anything allocates per cell: Π n_a wraps around in usize for large axes.
    match grid.checked_len() {
        Some(n) if n <= MAX_CELLS => Ok(grid),
        _ => {
            let factors: Vec<String> = grid
                .axes
                .iter()
                .map(|a| format!("{} ({})", a.values.len(), a.path))
                .collect();
            let product = grid
                .axes
                .iter()
                .try_fold(1u128, |p, a| p.checked_mul(a.values.len() as u128))
                .map_or_else(|| "more than 2^128".to_string(), |p| p.to_string());
            r.err(
                "axis",
                format!(
                    "the grid has {} = {product} cells; at most {} (2^20) cells are allowed: use fewer values per axis or split the sweep into several files",
                    factors.join(" × "),
                    MAX_CELLS
                ),
            )
        }
    }
}
