//! Plane geometry in display space: clipping to the shown rectangle (plotters does not clip
//! elements to the plotting area) and contour lines by marching squares.

/// A point in display space.
pub(super) type P = (f64, f64);

/// The shown rectangle of a panel in display space.
#[derive(Clone, Copy, Debug)]
pub(super) struct View {
    /// Left edge.
    pub x0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y0: f64,
    /// Top edge.
    pub y1: f64,
}

impl View {
    /// Whether `p` lies in the rectangle (edges included, with a rounding tolerance).
    pub fn contains(&self, p: P) -> bool {
        let ex = 1e-9 * (self.x1 - self.x0);
        let ey = 1e-9 * (self.y1 - self.y0);
        p.0 >= self.x0 - ex && p.0 <= self.x1 + ex && p.1 >= self.y0 - ey && p.1 <= self.y1 + ey
    }

    /// The part of segment `a`–`b` inside the rectangle (Liang–Barsky); an end inside the
    /// rectangle is returned unchanged.
    pub fn clip_segment(&self, a: P, b: P) -> Option<(P, P)> {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let mut t0 = 0.0f64;
        let mut t1 = 1.0f64;
        for (p, q) in [
            (-dx, a.0 - self.x0),
            (dx, self.x1 - a.0),
            (-dy, a.1 - self.y0),
            (dy, self.y1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if t0 > t1 {
            return None;
        }
        let at = |t: f64| {
            if t == 0.0 {
                a
            } else if t == 1.0 {
                b
            } else {
                (a.0 + t * dx, a.1 + t * dy)
            }
        };
        Some((at(t0), at(t1)))
    }

    /// The parts of a polyline inside the rectangle, as polylines.
    pub fn clip_polyline(&self, pts: &[P]) -> Vec<Vec<P>> {
        let mut out: Vec<Vec<P>> = Vec::new();
        for w in pts.windows(2) {
            let Some((a, b)) = self.clip_segment(w[0], w[1]) else {
                continue;
            };
            match out.last_mut() {
                Some(run) if run.last() == Some(&a) && a == w[0] => run.push(b),
                _ => out.push(vec![a, b]),
            }
        }
        out
    }

    /// A polygon clipped to the rectangle (Sutherland–Hodgman); empty when outside.
    pub fn clip_polygon(&self, poly: &[P]) -> Vec<P> {
        // Each edge: which coordinate, the bound, and whether inside means ≥ the bound.
        let edges = [
            (0, self.x0, true),
            (0, self.x1, false),
            (1, self.y0, true),
            (1, self.y1, false),
        ];
        let mut cur: Vec<P> = poly.to_vec();
        for (axis, bound, above) in edges {
            if cur.is_empty() {
                break;
            }
            let coord = |p: &P| if axis == 0 { p.0 } else { p.1 };
            let inside = |p: &P| {
                if above {
                    coord(p) >= bound
                } else {
                    coord(p) <= bound
                }
            };
            let cross = |a: &P, b: &P| {
                let t = (bound - coord(a)) / (coord(b) - coord(a));
                let p = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
                // Exactly on the bound, whatever the rounding.
                if axis == 0 {
                    (bound, p.1)
                } else {
                    (p.0, bound)
                }
            };
            let mut next = Vec::with_capacity(cur.len() + 4);
            for i in 0..cur.len() {
                let a = cur[(i + cur.len() - 1) % cur.len()];
                let b = cur[i];
                match (inside(&a), inside(&b)) {
                    (true, true) => next.push(b),
                    (true, false) => next.push(cross(&a, &b)),
                    (false, true) => {
                        next.push(cross(&a, &b));
                        next.push(b);
                    }
                    (false, false) => {}
                }
            }
            cur = next;
        }
        cur
    }

    /// The intersection of the rectangle with the box spanned by `a` and `b`, as (lower left,
    /// upper right); None when empty.
    pub fn clip_rect(&self, a: P, b: P) -> Option<(P, P)> {
        let lo = (a.0.min(b.0).max(self.x0), a.1.min(b.1).max(self.y0));
        let hi = (a.0.max(b.0).min(self.x1), a.1.max(b.1).min(self.y1));
        (lo.0 < hi.0 && lo.1 < hi.1).then_some((lo, hi))
    }
}

/// The level set `f = level` of a field sampled on a regular grid, as line segments, by
/// marching squares. (Written out here: plotters draws no contours and no crate provides
/// them for it.)
///
/// `values[iy * nx + ix]` is the value at `(x0 + ix·dx, y0 + iy·dy)`. Cells with a
/// non-finite corner are skipped. A corner counts as above the level when `f ≥ level`;
/// crossings are placed on cell edges by linear interpolation, and the two ambiguous
/// (saddle) cases are resolved by the mean of the four corners.
pub(super) fn marching_squares(
    nx: usize,
    ny: usize,
    values: &[f64],
    (x0, dx): (f64, f64),
    (y0, dy): (f64, f64),
    level: f64,
) -> Vec<(P, P)> {
    let mut segs = Vec::new();
    if nx < 2 || ny < 2 || values.len() < nx * ny || !level.is_finite() {
        return segs;
    }
    let at = |ix: usize, iy: usize| values[iy * nx + ix];
    let pos = |ix: usize, iy: usize| (x0 + ix as f64 * dx, y0 + iy as f64 * dy);
    // The crossing on the edge between corners (a, va) and (b, vb), which straddle the level.
    let cross = |a: P, va: f64, b: P, vb: f64| {
        let t = ((level - va) / (vb - va)).clamp(0.0, 1.0);
        (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
    };
    for iy in 0..ny - 1 {
        for ix in 0..nx - 1 {
            // Corners counter-clockwise from the lower left.
            let c = [(ix, iy), (ix + 1, iy), (ix + 1, iy + 1), (ix, iy + 1)];
            let v = c.map(|(i, j)| at(i, j));
            if v.iter().any(|x| !x.is_finite()) {
                continue;
            }
            let p = c.map(|(i, j)| pos(i, j));
            let above = v.map(|x| x >= level);
            // Crossing on edge k (corner k to corner k+1): bottom, right, top, left.
            let edge = |k: usize| {
                let l = (k + 1) % 4;
                (above[k] != above[l]).then(|| cross(p[k], v[k], p[l], v[l]))
            };
            let e = [edge(0), edge(1), edge(2), edge(3)];
            match e {
                [Some(b), Some(r), Some(t), Some(l)] => {
                    let centre_above = (v[0] + v[1] + v[2] + v[3]) / 4.0 >= level;
                    if centre_above == above[0] {
                        // Corner 0's side joins across the centre: cut off corners 1 and 3.
                        segs.push((b, r));
                        segs.push((t, l));
                    } else {
                        // Cut off corners 0 and 2.
                        segs.push((l, b));
                        segs.push((r, t));
                    }
                }
                _ => {
                    let mut found = e.into_iter().flatten();
                    if let (Some(a), Some(b)) = (found.next(), found.next()) {
                        segs.push((a, b));
                    }
                }
            }
        }
    }
    segs
}
