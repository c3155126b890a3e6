//! `[[shelf]]` entries of a layout: obstacles on the floor, and the
//! geometry the locator and the simulator ask of them.

use serde::{Deserialize, Serialize};

use super::Point;

/// Height of a shelf whose layout entry gives none: a supermarket
/// gondola, metres.
pub const DEFAULT_SHELF_HEIGHT_M: f64 = 1.8;

/// A `[[shelf]]`: an axis-aligned obstacle on the floor (a shelving run, a
/// counter, a wall). Nobody stands inside one, and radio paths passing
/// through it below its top lose signal in the goods and metal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shelf {
    /// Corner with the smallest x and y, metres.
    pub min: [f64; 2],
    /// Corner with the largest x and y, metres.
    pub max: [f64; 2],
    /// Height, metres; [`DEFAULT_SHELF_HEIGHT_M`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
}

impl Shelf {
    /// The height, or the default.
    #[must_use]
    pub fn height_m(&self) -> f64 {
        self.height.unwrap_or(DEFAULT_SHELF_HEIGHT_M)
    }

    /// Whether `p` lies inside (edges included).
    #[must_use]
    pub fn contains(&self, p: Point) -> bool {
        (self.min[0]..=self.max[0]).contains(&p.x) && (self.min[1]..=self.max[1]).contains(&p.y)
    }

    /// The point just outside the shelf nearest to `p`, `clearance` metres
    /// beyond its edge; `p` itself when it lies outside.
    #[must_use]
    pub fn push_out(&self, p: Point, clearance: f64) -> Point {
        if !self.contains(p) {
            return p;
        }
        let exits = [
            (p.x - self.min[0], Point::new(self.min[0] - clearance, p.y)),
            (self.max[0] - p.x, Point::new(self.max[0] + clearance, p.y)),
            (p.y - self.min[1], Point::new(p.x, self.min[1] - clearance)),
            (self.max[1] - p.y, Point::new(p.x, self.max[1] + clearance)),
        ];
        exits
            .into_iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map_or(p, |(_, q)| q)
    }

    /// Where the walk from `a` to `b` first enters the shelf, as the share
    /// of the way (0..=1); `None` when it stays clear. Heights do not
    /// matter: nobody walks through a counter either.
    #[must_use]
    pub fn entered(&self, a: Point, b: Point) -> Option<f64> {
        let (enter, exit) = self.clip(a, b)?;
        (enter <= exit).then_some(enter)
    }

    /// The share of the segment `a`-`b` (0..=1) over which it lies inside
    /// the rectangle, by slab clipping; `None` when a coordinate never
    /// meets it.
    fn clip(&self, a: Point, b: Point) -> Option<(f64, f64)> {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let (mut enter, mut exit) = (0.0_f64, 1.0_f64);
        for (start, d, lo, hi) in [
            (a.x, dx, self.min[0], self.max[0]),
            (a.y, dy, self.min[1], self.max[1]),
        ] {
            if d.abs() < 1e-12 {
                if start < lo || start > hi {
                    return None;
                }
            } else {
                let (t0, t1) = ((lo - start) / d, (hi - start) / d);
                enter = enter.max(t0.min(t1));
                exit = exit.min(t0.max(t1));
            }
        }
        Some((enter, exit))
    }

    /// Whether the straight path from a phone at `phone` (height
    /// `phone_z`) to an anchor at `anchor` (height `anchor_z`) passes
    /// through the shelf below its top. An anchor standing on the shelf
    /// sees over it.
    #[must_use]
    pub fn blocks(&self, phone: Point, phone_z: f64, anchor: Point, anchor_z: f64) -> bool {
        if self.contains(anchor) {
            return false;
        }
        let Some((enter, exit)) = self.clip(phone, anchor).filter(|(i, o)| i <= o) else {
            return false;
        };
        // The path is lowest inside the shelf at one of its ends there.
        let z = |t: f64| phone_z + t * (anchor_z - phone_z);
        z(enter).min(z(exit)) < self.height_m()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;

    const SMALL: &str = r#"
[store]
id = "s1"
timezone = "UTC"

[[anchor]]
id = "a"
x = 0.0
y = 0.0
"#;

    #[test]
    fn shelves_are_read_checked_and_block_low_paths() {
        let text = format!("{SMALL}\n[[shelf]]\nmin = [1.0, 1.0]\nmax = [2.0, 5.0]\n");
        let l = Layout::parse(&text, "s.toml").unwrap();
        let shelf = l.shelves[0];
        assert!((shelf.height_m() - DEFAULT_SHELF_HEIGHT_M).abs() < 1e-9);
        assert_eq!(Layout::parse(&l.to_toml(), "round trip").unwrap(), l);
        // A phone at 1.2 m across the shelf from an anchor at 2.0 m: the
        // path runs through the goods; over a 1 m counter it clears them.
        let (phone, anchor) = (Point::new(0.5, 3.0), Point::new(3.0, 3.0));
        assert!(shelf.blocks(phone, 1.2, anchor, 2.0));
        let counter = Shelf {
            height: Some(1.0),
            ..shelf
        };
        assert!(!counter.blocks(phone, 1.2, anchor, 2.0));
        assert!(!shelf.blocks(phone, 1.2, Point::new(0.5, 9.0), 2.0));
        assert_eq!(shelf.entered(phone, anchor), Some(0.2));
        assert_eq!(
            shelf.push_out(Point::new(1.2, 3.0), 0.3),
            Point::new(0.7, 3.0)
        );
        let bad = |entry: &str| {
            Layout::parse(&format!("{SMALL}\n[[shelf]]\n{entry}"), "b.toml").unwrap_err()
        };
        let e = bad("min = [2.0, 1.0]\nmax = [1.0, 5.0]\n");
        assert_eq!(e.key, "shelf[0]");
        assert!(e.reason.contains("below and left"), "{e}");
        let e = bad("min = [1.0, 1.0]\nmax = [2.0, 5.0]\nheight = 40.0\n");
        assert_eq!(e.key, "shelf[0].height");
    }
}
