//! Values held on a regular grid over the floor, read between its nodes.

use crate::layout::Point;

/// A grid of `nx` by `ny` nodes `step` metres apart from `origin`, its
/// values row by row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Raster {
    /// The node with the smallest x and y.
    pub origin: Point,
    /// Metres between neighbouring nodes.
    pub step: f64,
    /// Nodes along x.
    pub nx: usize,
    /// Nodes along y.
    pub ny: usize,
}

impl Raster {
    /// Nodes in all.
    #[must_use]
    pub fn nodes(&self) -> usize {
        self.nx * self.ny
    }

    /// `values` (one per node) at `p`, bilinear between the four nodes
    /// around it, with its gradient per metre: `(value, d/dx, d/dy)`.
    /// Beyond the grid, its edge.
    #[must_use]
    pub fn bilinear(&self, values: &[f32], p: Point) -> (f64, f64, f64) {
        #[allow(clippy::cast_precision_loss)]
        let split = |v: f64, origin: f64, n: usize| {
            let f = ((v - origin) / self.step).clamp(0.0, (n - 1) as f64);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = (f.floor() as usize).min(n.saturating_sub(2));
            (i, f - i as f64)
        };
        let (ix, fx) = split(p.x, self.origin.x, self.nx);
        let (iy, fy) = split(p.y, self.origin.y, self.ny);
        let at = |x: usize, y: usize| f64::from(values[y * self.nx + x]);
        let (x1, y1) = ((ix + 1).min(self.nx - 1), (iy + 1).min(self.ny - 1));
        // The four corners: low/high x, low/high y.
        let (ll, hl, lh, hh) = (at(ix, iy), at(x1, iy), at(ix, y1), at(x1, y1));
        let value = (1.0 - fy) * ((1.0 - fx) * ll + fx * hl) + fy * ((1.0 - fx) * lh + fx * hh);
        let dx = ((1.0 - fy) * (hl - ll) + fy * (hh - lh)) / self.step;
        let dy = ((1.0 - fx) * (lh - ll) + fx * (hh - hl)) / self.step;
        (value, dx, dy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_plane_exactly_between_nodes_and_holds_its_edge_beyond() {
        let r = Raster {
            origin: Point::new(1.0, 2.0),
            step: 0.5,
            nx: 4,
            ny: 3,
        };
        // v = 2x + 3y at every node.
        let values: Vec<f32> = (0..r.nodes())
            .map(|i| {
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let (x, y) = (1.0 + 0.5 * (i % 4) as f64, 2.0 + 0.5 * (i / 4) as f64);
                #[allow(clippy::cast_possible_truncation)]
                let v = (2.0 * x + 3.0 * y) as f32;
                v
            })
            .collect();
        let (v, dx, dy) = r.bilinear(&values, Point::new(1.7, 2.3));
        assert!((v - (3.4 + 6.9)).abs() < 1e-5, "{v}");
        assert!(
            (dx - 2.0).abs() < 1e-5 && (dy - 3.0).abs() < 1e-5,
            "{dx} {dy}"
        );
        // Far beyond the last node: the corner's value.
        let (v, _, _) = r.bilinear(&values, Point::new(50.0, 50.0));
        assert!((v - (2.0 * 2.5 + 3.0 * 3.0)).abs() < 1e-5, "{v}");
    }
}
