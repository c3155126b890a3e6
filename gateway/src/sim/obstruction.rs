//! Loss through shelves: goods on metal shelving between a phone and an
//! anchor take several dB off the signal, which is what makes a store unlike
//! an open room.
//!
//! For each anchor, a map over the floor grid says how many shelves the
//! straight path from a phone at that cell to the anchor passes through
//! below their top. Looking a loss up is then one index per packet, where
//! testing every shelf would be a dozen segment tests.

use super::floor::CELL;
use super::store::FloorPlan;
use crate::layout::Point;

/// Shelves crossed from each floor cell to each anchor.
#[derive(Debug, Clone)]
pub struct ObstructionMap {
    origin: Point,
    cols: usize,
    rows: usize,
    /// `crossed[anchor * cols * rows + row * cols + col]`.
    crossed: Vec<u8>,
}

impl ObstructionMap {
    /// Rasterises the plan's shelves as seen from each anchor (heights from
    /// the layout, else `anchor_height`) by a phone at `phone_height`.
    /// Anchors standing on a shelf see over that one.
    #[must_use]
    pub fn new(plan: &FloorPlan, phone_height: f64, anchor_height: f64) -> Self {
        let origin = plan.floor.min;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // tens of metres
        let cells = |len: f64| ((len / CELL).ceil() as usize).max(1);
        let cols = cells(plan.floor.max.x - origin.x);
        let rows = cells(plan.floor.max.y - origin.y);
        let mut crossed = Vec::with_capacity(plan.layout.anchors.len() * cols * rows);
        for anchor in &plan.layout.anchors {
            let at = anchor.position();
            let z = anchor.z.unwrap_or(anchor_height);
            for r in 0..rows {
                for c in 0..cols {
                    #[allow(clippy::cast_precision_loss)]
                    let phone = Point::new(
                        origin.x + (c as f64 + 0.5) * CELL,
                        origin.y + (r as f64 + 0.5) * CELL,
                    );
                    let n = plan
                        .shelves
                        .iter()
                        .filter(|s| s.to_layout().blocks(phone, phone_height, at, z))
                        .count();
                    crossed.push(u8::try_from(n).unwrap_or(u8::MAX));
                }
            }
        }
        ObstructionMap {
            origin,
            cols,
            rows,
            crossed,
        }
    }

    /// Shelves between a phone at `p` and an anchor (by layout index); none
    /// off the map.
    #[must_use]
    pub fn crossed(&self, anchor: usize, p: Point) -> u8 {
        let (fx, fy) = ((p.x - self.origin.x) / CELL, (p.y - self.origin.y) / CELL);
        if fx < 0.0 || fy < 0.0 {
            return 0;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked >= 0
        let (c, r) = (fx as usize, fy as usize);
        if c >= self.cols || r >= self.rows {
            return 0;
        }
        self.crossed
            .get((anchor * self.rows + r) * self.cols + c)
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gondolas_between_phone_and_anchor_count_and_low_counters_do_not() {
        let plan = FloorPlan::demo();
        let map = ObstructionMap::new(&plan, 1.2, 2.0);
        let index = |id: &str| plan.layout.anchors.iter().position(|a| a.id == id).unwrap();
        let middle = index("gondola-2-middle");
        // Aisle 1 borders gondola 2, which the anchor stands on.
        assert_eq!(map.crossed(middle, Point::new(5.4, 7.75)), 0);
        // Aisle 3 is behind gondola 3.
        assert_eq!(map.crossed(middle, Point::new(12.6, 7.75)), 1);
        // The bakery wall is behind gondola 1.
        assert_eq!(map.crossed(middle, Point::new(1.5, 7.75)), 1);
        // From the front aisle the path runs along gondola 2's own length.
        assert_eq!(map.crossed(middle, Point::new(7.2, 3.9)), 0);
        // Tills and the meat counter are lower than the paths over them.
        let meat = index("meat-counter");
        assert_eq!(map.crossed(meat, Point::new(17.0, 12.0)), 0);
        let till = index("checkout-wall");
        assert_eq!(map.crossed(till, Point::new(17.3, 3.0)), 0);
        // Across the store from the bakery wall to the produce the path
        // passes over the two gondolas nearer the high wall anchor and
        // through the two nearer the phone.
        let bakery = index("bakery-wall");
        assert_eq!(map.crossed(bakery, Point::new(17.5, 8.0)), 2);
        // Off the map, nothing.
        assert_eq!(map.crossed(bakery, Point::new(-5.0, 8.0)), 0);
    }
}
