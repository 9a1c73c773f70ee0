//! Fixed-size parameter vectors.
//!
//! Every model declares its parameter vector as `[f64; D]` through [`Vector`], so the
//! ensemble's inner loop is monomorphised per dimension and the compiler sees loop bounds
//! as constants (no heap allocation and no dynamic dispatch per step).

/// A parameter vector of fixed length: implemented for `[f64; N]`.
pub trait Vector: Copy + Send + Sync + std::fmt::Debug + 'static {
    /// Number of parameters.
    const DIM: usize;
    /// The zero vector.
    fn zeros() -> Self;
    /// Read-only view of the coordinates.
    fn as_slice(&self) -> &[f64];
    /// Mutable view of the coordinates.
    fn as_mut_slice(&mut self) -> &mut [f64];
    /// Build from a slice of length `DIM` (extra entries are ignored, missing ones are 0).
    fn from_slice(s: &[f64]) -> Self {
        let mut v = Self::zeros();
        for (o, i) in v.as_mut_slice().iter_mut().zip(s) {
            *o = *i;
        }
        v
    }
}

impl<const N: usize> Vector for [f64; N] {
    const DIM: usize = N;
    #[inline(always)]
    fn zeros() -> Self {
        [0.0; N]
    }
    #[inline(always)]
    fn as_slice(&self) -> &[f64] {
        self
    }
    #[inline(always)]
    fn as_mut_slice(&mut self) -> &mut [f64] {
        self
    }
}
