//! Zones: polygons on the floor plan, and their geometry.

use serde::{Deserialize, Serialize};

use super::Point;

/// A `[[zone]]`: a polygon on the floor plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// The zone's id, used in MQTT topics and campaigns.
    pub id: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Corners in order, metres; the last joins the first.
    pub polygon: Vec<[f64; 2]>,
}

impl Zone {
    fn corners(&self) -> impl Iterator<Item = (Point, Point)> + '_ {
        let n = self.polygon.len();
        (0..n).map(move |i| {
            let [ax, ay] = self.polygon[i];
            let [bx, by] = self.polygon[(i + 1) % n];
            (Point::new(ax, ay), Point::new(bx, by))
        })
    }

    /// Whether `p` lies inside the polygon (even-odd rule; points on an edge
    /// may fall either way).
    #[must_use]
    pub fn contains(&self, p: Point) -> bool {
        let mut inside = false;
        for (a, b) in self.corners() {
            if (a.y > p.y) != (b.y > p.y) {
                let x_cross = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
                if p.x < x_cross {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// Distance from `p` to the polygon's nearest edge, metres.
    #[must_use]
    pub fn distance_to_edge(&self, p: Point) -> f64 {
        self.corners()
            .map(|(a, b)| segment_distance(p, a, b))
            .fold(f64::INFINITY, f64::min)
    }

    /// Distance from `p` to the nearest edge that does not run along a side
    /// of the rectangle `lo`-`hi` (the store's outer walls, where nobody
    /// crosses into another zone), metres; infinite when every edge does.
    #[must_use]
    pub fn distance_to_inner_edge(&self, p: Point, lo: Point, hi: Point) -> f64 {
        const ON: f64 = 1e-6;
        let along = |a: f64, b: f64, side: f64| (a - side).abs() < ON && (b - side).abs() < ON;
        self.corners()
            .filter(|(a, b)| {
                !(along(a.x, b.x, lo.x)
                    || along(a.x, b.x, hi.x)
                    || along(a.y, b.y, lo.y)
                    || along(a.y, b.y, hi.y))
            })
            .map(|(a, b)| segment_distance(p, a, b))
            .fold(f64::INFINITY, f64::min)
    }

    /// The polygon's area, m² (shoelace formula).
    #[must_use]
    pub fn area(&self) -> f64 {
        (self
            .corners()
            .map(|(a, b)| a.x * b.y - b.x * a.y)
            .sum::<f64>()
            / 2.0)
            .abs()
    }

    /// The mean of the corners: a point to draw a label at.
    #[must_use]
    pub fn centroid(&self) -> Point {
        #[allow(clippy::cast_precision_loss)] // a handful of corners
        let n = self.polygon.len().max(1) as f64;
        let (sx, sy) = self
            .polygon
            .iter()
            .fold((0.0, 0.0), |(sx, sy), [x, y]| (sx + x, sy + y));
        Point::new(sx / n, sy / n)
    }
}

fn segment_distance(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    p.distance(Point::new(a.x + t * dx, a.y + t * dy))
}

/// Whether segments `ab` and `cd` cross at a point inside both.
fn segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool {
    let orient =
        |p: Point, q: Point, r: Point| (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x);
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

/// Checks a zone's polygon: enough finite corners, edges that do not
/// cross, some area; the error gives the reason.
pub(super) fn check_polygon(z: &Zone) -> Result<(), String> {
    if z.polygon.len() < 3 {
        return Err(format!("needs at least 3 corners, has {}", z.polygon.len()));
    }
    if let Some(i) = z
        .polygon
        .iter()
        .position(|[x, y]| !x.is_finite() || !y.is_finite())
    {
        return Err(format!("corner {i} is not a finite number"));
    }
    let edges: Vec<_> = z.corners().collect();
    let n = edges.len();
    for i in 0..n {
        // Neighbouring edges share a corner; the first and last edges too.
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue;
            }
            let ((p1, p2), (q1, q2)) = (edges[i], edges[j]);
            if segments_cross(p1, p2, q1, q2) {
                return Err(format!(
                    "crosses itself: edge {i}-{} crosses edge {j}-{}",
                    (i + 1) % n,
                    (j + 1) % n
                ));
            }
        }
    }
    if z.area() < 1e-6 {
        return Err("encloses no area".into());
    }
    Ok(())
}
