//! The coarse search of the locator: the maximum-likelihood cell of a grid
//! over the floor.
//!
//! `10 log10(d)` from every anchor to every cell is computed once per
//! layout, so a search is only multiply-adds over the cells within reach of
//! the anchors that hear the device (about 1,000 cells for a device heard by
//! the anchors within 12 m), in `f32` rows the compiler vectorises.

use super::locate::RadioModel;
use crate::layout::Point;
use crate::raster::Raster;

/// One residual term of a fix: `rssi - p0` (`excess`), the model's
/// path-loss exponent (`slope`) and a weight; the residual at distance `d`
/// is `excess + slope * 10 log10(d)`, less the shadowing offset there when
/// the grid has a map: negative where the level is weaker than expected.
#[derive(Debug, Clone, Copy)]
pub(super) struct Term {
    pub anchor: usize,
    pub excess: f64,
    pub slope: f64,
    pub weight: f64,
}

/// `10 log10(d)` from every anchor to every cell of a grid over the floor.
#[derive(Debug, Clone)]
pub(super) struct Grid {
    origin: Point,
    step: f64,
    nx: usize,
    ny: usize,
    /// `[anchor][cell]`, cells row by row.
    loss: Vec<f32>,
    /// Shadowing offsets, dB, laid out as `loss`; empty without a map.
    offset: Vec<f32>,
    /// Cells nobody can stand in (inside a shelf), by cell index in
    /// ascending order; empty when every cell is open.
    blocked: Vec<usize>,
}

impl Grid {
    /// A grid with cells every `step` metres from `lo` to (at least) `hi`.
    pub fn new(models: &[RadioModel], lo: Point, hi: Point, step: f64) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let cells = |span: f64| (span / step).ceil() as usize + 1;
        let (nx, ny) = (cells(hi.x - lo.x), cells(hi.y - lo.y));
        let mut loss = Vec::with_capacity(models.len() * nx * ny);
        for model in models {
            for iy in 0..ny {
                for ix in 0..nx {
                    let p = cell_point(lo, step, ix, iy);
                    #[allow(clippy::cast_possible_truncation)]
                    loss.push((10.0 * model.distance(p).log10()) as f32);
                }
            }
        }
        Grid {
            origin: lo,
            step,
            nx,
            ny,
            loss,
            offset: Vec::new(),
            blocked: Vec::new(),
        }
    }

    /// Fills the shadowing offsets, `offset(anchor, cell centre)` dB.
    pub fn set_offsets(&mut self, anchors: usize, offset: impl Fn(usize, Point) -> f64) {
        self.offset.clear();
        self.offset.reserve(anchors * self.nx * self.ny);
        for a in 0..anchors {
            for iy in 0..self.ny {
                for ix in 0..self.nx {
                    let p = cell_point(self.origin, self.step, ix, iy);
                    #[allow(clippy::cast_possible_truncation)] // dB fit f32
                    self.offset.push(offset(a, p) as f32);
                }
            }
        }
    }

    /// Takes the cells whose centre `blocked` says is off the floor out of
    /// the search.
    pub fn block(&mut self, blocked: impl Fn(Point) -> bool) {
        self.blocked = (0..self.nx * self.ny)
            .filter(|&i| blocked(cell_point(self.origin, self.step, i % self.nx, i / self.nx)))
            .collect();
    }

    /// The offset of `anchor` at `p`, dB, and its gradient, dB/m: bilinear
    /// between the cells around it, 0 without offsets.
    pub fn offset(&self, anchor: usize, p: Point) -> (f64, f64, f64) {
        if self.offset.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        let raster = Raster {
            origin: self.origin,
            step: self.step,
            nx: self.nx,
            ny: self.ny,
        };
        let cells = raster.nodes();
        raster.bilinear(&self.offset[anchor * cells..(anchor + 1) * cells], p)
    }

    /// The cell with the least weighted squared residual among those
    /// between `lo` and `hi`, a residual where the level is weaker than
    /// expected counting `weaker` times; `cost` is scratch space.
    pub fn best_cell(
        &self,
        terms: &[Term],
        lo: Point,
        hi: Point,
        weaker: f32,
        cost: &mut Vec<f32>,
    ) -> Point {
        let index = |v: f64, origin: f64, n: usize| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = ((v - origin) / self.step).round().max(0.0) as usize;
            i.min(n - 1)
        };
        let (x0, x1) = (
            index(lo.x, self.origin.x, self.nx),
            index(hi.x, self.origin.x, self.nx),
        );
        let (y0, y1) = (
            index(lo.y, self.origin.y, self.ny),
            index(hi.y, self.origin.y, self.ny),
        );
        let width = x1 - x0 + 1;
        cost.clear();
        cost.resize(width * (y1 - y0 + 1), 0.0);
        // `blocked` is in cell order: each row's run is two binary searches.
        for iy in y0..=y1 {
            let (first, last) = (iy * self.nx + x0, iy * self.nx + x1);
            let from = self.blocked.partition_point(|&i| i < first);
            let to = self.blocked.partition_point(|&i| i <= last);
            for &i in &self.blocked[from..to] {
                cost[(iy - y0) * width + i - first] = f32::INFINITY;
            }
        }
        let cells = self.nx * self.ny;
        for t in terms {
            let table = &self.loss[t.anchor * cells..(t.anchor + 1) * cells];
            #[allow(clippy::cast_possible_truncation)]
            let (excess, slope, weight) = (t.excess as f32, t.slope as f32, t.weight as f32);
            for (row, iy) in (y0..=y1).enumerate() {
                let cells_of_row = iy * self.nx + x0..=iy * self.nx + x1;
                let losses = &table[cells_of_row.clone()];
                let costs = &mut cost[row * width..(row + 1) * width];
                if self.offset.is_empty() {
                    for (c, l) in costs.iter_mut().zip(losses) {
                        let e = excess + slope * l;
                        *c += weight * e * e * if e < 0.0 { weaker } else { 1.0 };
                    }
                } else {
                    let offsets = &self.offset[t.anchor * cells..(t.anchor + 1) * cells];
                    let offsets = &offsets[cells_of_row];
                    for ((c, l), o) in costs.iter_mut().zip(losses).zip(offsets) {
                        let e = excess + slope * l - o;
                        *c += weight * e * e * if e < 0.0 { weaker } else { 1.0 };
                    }
                }
            }
        }
        let best = cost
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        cell_point(self.origin, self.step, x0 + best % width, y0 + best / width)
    }
}

fn cell_point(origin: Point, step: f64, ix: usize, iy: usize) -> Point {
    #[allow(clippy::cast_precision_loss)]
    let (fx, fy) = (ix as f64, iy as f64);
    Point::new(origin.x + fx * step, origin.y + fy * step)
}
