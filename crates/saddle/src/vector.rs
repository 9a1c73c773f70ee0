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
    /// `N` vectors stored coordinate by coordinate (structure of arrays: coordinate i of
    /// vector l at `[i][l]`), so a loop over the vectors reads and writes each coordinate
    /// contiguously and the compiler vectorises it without shuffles.
    type Lanes<const N: usize>: Copy + Send + Sync + std::fmt::Debug;
    /// `N` copies of `v`.
    fn splat<const N: usize>(v: Self) -> Self::Lanes<N>;
    /// Vector `l` of `N`.
    fn lane<const N: usize>(ls: &Self::Lanes<N>, l: usize) -> Self;
    /// Set vector `l` of `N` to `v`.
    fn set_lane<const N: usize>(ls: &mut Self::Lanes<N>, l: usize, v: Self);
    /// Coordinate `i` of vector `l` of `N`.
    fn at<const N: usize>(ls: &Self::Lanes<N>, i: usize, l: usize) -> f64;
    /// Coordinate `i` of vector `l` of `N`, to write.
    fn at_mut<const N: usize>(ls: &mut Self::Lanes<N>, i: usize, l: usize) -> &mut f64;
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
    type Lanes<const L: usize> = [[f64; L]; N];
    #[inline(always)]
    fn splat<const L: usize>(v: Self) -> [[f64; L]; N] {
        let mut ls = [[0.0; L]; N];
        for (c, x) in ls.iter_mut().zip(v) {
            *c = [x; L];
        }
        ls
    }
    #[inline(always)]
    fn lane<const L: usize>(ls: &[[f64; L]; N], l: usize) -> Self {
        let mut v = [0.0; N];
        for (x, c) in v.iter_mut().zip(ls) {
            *x = c[l];
        }
        v
    }
    #[inline(always)]
    fn set_lane<const L: usize>(ls: &mut [[f64; L]; N], l: usize, v: Self) {
        for (c, x) in ls.iter_mut().zip(v) {
            c[l] = x;
        }
    }
    #[inline(always)]
    fn at<const L: usize>(ls: &[[f64; L]; N], i: usize, l: usize) -> f64 {
        ls[i][l]
    }
    #[inline(always)]
    fn at_mut<const L: usize>(ls: &mut [[f64; L]; N], i: usize, l: usize) -> &mut f64 {
        &mut ls[i][l]
    }
}

/// `N` vectors as [`Vector::Lanes`].
#[inline(always)]
pub fn to_lanes<W: Vector, const N: usize>(ws: &[W; N]) -> W::Lanes<N> {
    let mut ls = W::splat(W::zeros());
    for (l, w) in ws.iter().enumerate() {
        W::set_lane(&mut ls, l, *w);
    }
    ls
}

/// [`Vector::Lanes`] back to `N` vectors.
#[inline(always)]
pub fn from_lanes<W: Vector, const N: usize>(ls: &W::Lanes<N>) -> [W; N] {
    let mut ws = [W::zeros(); N];
    for (l, w) in ws.iter_mut().enumerate() {
        *w = W::lane(ls, l);
    }
    ws
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_hold_each_vector_coordinate_by_coordinate() {
        let ws: [[f64; 3]; 4] = std::array::from_fn(|l| [l as f64, 10.0 + l as f64, -(l as f64)]);
        let mut ls = to_lanes(&ws);
        assert_eq!(ls[1], [10.0, 11.0, 12.0, 13.0]);
        assert_eq!(<[f64; 3]>::lane(&ls, 2), ws[2]);
        *<[f64; 3]>::at_mut(&mut ls, 2, 3) = 7.0;
        assert_eq!(<[f64; 3]>::at(&ls, 2, 3), 7.0);
        <[f64; 3]>::set_lane(&mut ls, 0, [1.0, 2.0, 3.0]);
        let back: [[f64; 3]; 4] = from_lanes(&ls);
        assert_eq!(back[0], [1.0, 2.0, 3.0]);
        assert_eq!(back[3], [3.0, 13.0, 7.0]);
        assert_eq!(back[1..3], ws[1..3]);
        assert_eq!(
            <[f64; 3]>::splat::<2>([4.0, 5.0, 6.0]),
            [[4.0; 2], [5.0; 2], [6.0; 2]]
        );
    }
}
