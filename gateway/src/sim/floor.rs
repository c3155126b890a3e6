//! Where a shopper can stand: an occupancy grid over the floor plan, and the
//! shortest ways across it.
//!
//! A cell is free when its centre keeps [`CLEARANCE`] from every shelf and
//! wall. Paths are found with A* over the 8-connected grid and then pulled
//! tight (a corner is dropped when the points either side see each other),
//! so shoppers cut straight across open floor and turn only at shelf ends.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::store::FloorPlan;
use crate::layout::{Point, Zone};

/// Grid resolution, metres: fine enough for 2.4 m aisles to hold several free
/// cells side by side, coarse enough that a store is a few thousand cells.
pub const CELL: f64 = 0.25;

/// How far a walking path's cells keep from shelves and walls, metres: about
/// half a shopper's width. A point on a path lies within half a cell diagonal
/// (0.18 m) of a free cell's centre, so paths keep at least 0.27 m; lateral
/// wander (at most 0.12 m) still leaves a gap.
pub const CLEARANCE: f64 = 0.45;

/// The occupancy grid of a floor plan.
#[derive(Debug, Clone)]
pub struct FloorGrid {
    origin: Point,
    cols: usize,
    rows: usize,
    free: Vec<bool>,
}

type Cell = (usize, usize);

impl FloorGrid {
    /// Rasterises a plan's floor and shelves.
    #[must_use]
    pub fn new(plan: &FloorPlan) -> Self {
        let origin = plan.floor.min;
        // Floors are tens of metres: the casts hold small positive numbers.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let cells = |len: f64| ((len / CELL).ceil() as usize).max(1);
        let cols = cells(plan.floor.max.x - origin.x);
        let rows = cells(plan.floor.max.y - origin.y);
        let mut grid = FloorGrid {
            origin,
            cols,
            rows,
            free: vec![false; cols * rows],
        };
        let f = plan.floor;
        for r in 0..rows {
            for c in 0..cols {
                let p = grid.centre((c, r));
                let inside = p.x - f.min.x >= CLEARANCE
                    && f.max.x - p.x >= CLEARANCE
                    && p.y - f.min.y >= CLEARANCE
                    && f.max.y - p.y >= CLEARANCE;
                grid.free[r * cols + c] =
                    inside && plan.shelves.iter().all(|s| s.distance(p) >= CLEARANCE);
            }
        }
        grid
    }

    /// The centre of a cell.
    fn centre(&self, (c, r): Cell) -> Point {
        #[allow(clippy::cast_precision_loss)] // a few hundred cells a side
        Point::new(
            self.origin.x + (c as f64 + 0.5) * CELL,
            self.origin.y + (r as f64 + 0.5) * CELL,
        )
    }

    fn cell_of(&self, p: Point) -> Option<Cell> {
        let (fx, fy) = ((p.x - self.origin.x) / CELL, (p.y - self.origin.y) / CELL);
        if fx < 0.0 || fy < 0.0 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked >= 0
        let (c, r) = (fx as usize, fy as usize);
        (c < self.cols && r < self.rows).then_some((c, r))
    }

    fn is_free(&self, cell: Cell) -> bool {
        self.free[cell.1 * self.cols + cell.0]
    }

    /// Whether `p` lies in a free cell.
    #[must_use]
    pub fn is_walkable(&self, p: Point) -> bool {
        self.cell_of(p).is_some_and(|c| self.is_free(c))
    }

    /// The centre of the free cell nearest to `p`, if any cell is free.
    #[must_use]
    pub fn snap(&self, p: Point) -> Option<Point> {
        if self.is_walkable(p) {
            return Some(p);
        }
        self.free_cells()
            .map(|c| self.centre(c))
            .min_by(|a, b| a.distance(p).total_cmp(&b.distance(p)))
    }

    fn free_cells(&self) -> impl Iterator<Item = Cell> + '_ {
        (0..self.rows)
            .flat_map(move |r| (0..self.cols).map(move |c| (c, r)))
            .filter(|&c| self.is_free(c))
    }

    /// Blocks every free cell that cannot be walked to from `from` (a free
    /// point), so that any two free cells left are joined by a path.
    pub fn keep_reachable(&mut self, from: Point) {
        let Some(start) = self.cell_of(from).filter(|&c| self.is_free(c)) else {
            self.free.fill(false);
            return;
        };
        let mut seen = vec![false; self.free.len()];
        seen[start.1 * self.cols + start.0] = true;
        let mut stack = vec![start];
        while let Some((c, r)) = stack.pop() {
            for (dc, dr) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                let (Some(c), Some(r)) = (c.checked_add_signed(dc), r.checked_add_signed(dr))
                else {
                    continue;
                };
                if c < self.cols
                    && r < self.rows
                    && self.is_free((c, r))
                    && !seen[r * self.cols + c]
                {
                    seen[r * self.cols + c] = true;
                    stack.push((c, r));
                }
            }
        }
        self.free = seen;
    }

    /// Centres of the free cells inside a zone: places a shopper may stop.
    #[must_use]
    pub fn spots_in(&self, zone: &Zone) -> Vec<Point> {
        self.free_cells()
            .map(|c| self.centre(c))
            .filter(|&p| zone.contains(p))
            .collect()
    }

    /// Whether the straight line from `a` to `b` stays on free cells.
    #[must_use]
    pub fn sees(&self, a: Point, b: Point) -> bool {
        let len = a.distance(b);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // short lines
        let steps = (len / (CELL * 0.25)).ceil() as usize;
        (0..=steps).all(|i| {
            #[allow(clippy::cast_precision_loss)]
            let t = if steps == 0 {
                0.0
            } else {
                i as f64 / steps as f64
            };
            self.is_walkable(Point::new(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)))
        })
    }

    /// The shortest walk from `from` to `to`, both on free cells: corners in
    /// order, first `from`, last `to`. None when no path exists.
    #[must_use]
    pub fn path(&self, from: Point, to: Point) -> Option<Vec<Point>> {
        if self.sees(from, to) {
            return Some(vec![from, to]);
        }
        let start = self.cell_of(from).filter(|&c| self.is_free(c))?;
        let goal = self.cell_of(to).filter(|&c| self.is_free(c))?;
        let cells = self.astar(start, goal)?;
        let mut raw = Vec::with_capacity(cells.len() + 2);
        raw.push(from);
        raw.extend(
            cells[1..cells.len().saturating_sub(1)]
                .iter()
                .map(|&c| self.centre(c)),
        );
        raw.push(to);
        Some(self.pull_tight(&raw))
    }

    /// Drops every corner the walk can cut: from each kept point, jump to the
    /// farthest later point still in sight.
    fn pull_tight(&self, raw: &[Point]) -> Vec<Point> {
        let mut out = vec![raw[0]];
        let mut i = 0;
        while i + 1 < raw.len() {
            let mut j = raw.len() - 1;
            while j > i + 1 && !self.sees(raw[i], raw[j]) {
                j -= 1;
            }
            out.push(raw[j]);
            i = j;
        }
        out
    }

    fn astar(&self, start: Cell, goal: Cell) -> Option<Vec<Cell>> {
        // Costs in millimetres keep the heap on integers.
        const STRAIGHT: u32 = 250;
        const DIAGONAL: u32 = 354;
        let n = self.cols * self.rows;
        let idx = |(c, r): Cell| r * self.cols + c;
        let h = |(c, r): Cell| {
            let (dx, dy) = (c.abs_diff(goal.0), r.abs_diff(goal.1));
            let (lo, hi) = (dx.min(dy), dx.max(dy));
            // Cells per side are in the hundreds: no overflow.
            #[allow(clippy::cast_possible_truncation)]
            let cost = (lo as u32) * DIAGONAL + ((hi - lo) as u32) * STRAIGHT;
            cost
        };
        let mut best = vec![u32::MAX; n];
        let mut came = vec![usize::MAX; n];
        let mut open = BinaryHeap::new();
        best[idx(start)] = 0;
        open.push(Reverse((h(start), 0u32, start)));
        while let Some(Reverse((_, g, cell))) = open.pop() {
            if cell == goal {
                let mut out = vec![goal];
                let mut at = idx(goal);
                while at != idx(start) {
                    at = came[at];
                    out.push((at % self.cols, at / self.cols));
                }
                out.reverse();
                return Some(out);
            }
            if g > best[idx(cell)] {
                continue;
            }
            for (dc, dr) in [
                (-1, 0),
                (1, 0),
                (0, -1),
                (0, 1),
                (-1, -1),
                (-1, 1),
                (1, -1),
                (1, 1),
            ] {
                let (Some(c), Some(r)) =
                    (cell.0.checked_add_signed(dc), cell.1.checked_add_signed(dr))
                else {
                    continue;
                };
                if c >= self.cols || r >= self.rows || !self.is_free((c, r)) {
                    continue;
                }
                // No squeezing diagonally between two blocked cells.
                if dc != 0 && dr != 0 && !(self.is_free((c, cell.1)) && self.is_free((cell.0, r))) {
                    continue;
                }
                let step = if dc != 0 && dr != 0 {
                    DIAGONAL
                } else {
                    STRAIGHT
                };
                let g2 = g + step;
                let next = (c, r);
                if g2 < best[idx(next)] {
                    best[idx(next)] = g2;
                    came[idx(next)] = idx(cell);
                    open.push(Reverse((g2 + h(next), g2, next)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_round_gondolas_and_stay_clear_of_them() {
        let plan = FloorPlan::demo();
        let grid = FloorGrid::new(&plan);
        // From aisle 1 to aisle 3 the way runs round a gondola end.
        let a = Point::new(5.4, 8.0);
        let b = Point::new(12.6, 8.0);
        assert!(!grid.sees(a, b));
        let path = grid.path(a, b).unwrap();
        assert!(path.len() >= 3, "{path:?}");
        for w in path.windows(2) {
            assert!(grid.sees(w[0], w[1]));
            for i in 0..=100 {
                let t = f64::from(i) / 100.0;
                let p = Point::new(
                    w[0].x + t * (w[1].x - w[0].x),
                    w[0].y + t * (w[1].y - w[0].y),
                );
                let gap = plan
                    .shelves
                    .iter()
                    .map(|s| s.distance(p))
                    .fold(9.0, f64::min);
                assert!(gap > 0.25, "{p:?} is {gap} m from a shelf");
            }
        }
        let length: f64 = path.windows(2).map(|w| w[0].distance(w[1])).sum();
        // Round the nearer (front) end: 3.5 m down, 7.2 across, 3.5 up, a bit more.
        assert!(length < 16.0, "{length}");
    }

    #[test]
    fn every_zone_has_spots_and_doors_are_reachable() {
        let plan = FloorPlan::demo();
        let grid = FloorGrid::new(&plan);
        let entrance = grid.snap(plan.entrance).unwrap();
        for z in &plan.layout.zones {
            let spots = grid.spots_in(z);
            assert!(!spots.is_empty(), "{}", z.id);
            assert!(grid.path(entrance, spots[0]).is_some(), "{}", z.id);
        }
    }

    #[test]
    fn floor_behind_a_wall_is_cut_off() {
        let mut plan = FloorPlan::demo();
        // A wall across the store just above the front aisle.
        plan.shelves
            .push(crate::sim::store::Shelf::new(0.0, 4.0, 20.0, 4.4));
        let mut grid = FloorGrid::new(&plan);
        let (front, back) = (Point::new(9.0, 2.5), Point::new(9.0, 8.0));
        assert!(grid.is_walkable(back));
        grid.keep_reachable(front);
        assert!(grid.is_walkable(front));
        assert!(!grid.is_walkable(back));
        assert!(
            grid.spots_in(plan.layout.zone("aisle-2").unwrap())
                .is_empty()
        );
        assert!(matches!(
            crate::sim::walk::Planner::new(&FloorPlan {
                checkout: Some("meat-counter".into()),
                ..plan
            }),
            Err(crate::sim::walk::PlanError::Unreachable(z)) if z == "meat-counter"
        ));
    }
}
