//! A store's layout: where the anchors hang and where the zones lie, in metres.
//!
//! Read from TOML:
//!
//! ```toml
//! [store]
//! id = "reference-room"
//! name = "Reference room"
//! timezone = "UTC"
//!
//! [[anchor]]
//! id = "sensor10"
//! x = 7.0
//! y = 7.09
//! z = 1.22                 # optional, metres above the floor
//! rssi_at_1m = -59.0       # optional, fitted by `aisle calibrate`
//! path_loss_exponent = 2.2 # optional, fitted by `aisle calibrate`
//!
//! [[zone]]
//! id = "A1"
//! name = "Meat counter"    # optional
//! polygon = [[0.0, 0.0], [6.89, 0.0], [6.89, 5.88], [0.0, 5.88]]
//!
//! [[shelf]]                # optional: shelving runs, counters, walls
//! min = [3.0, 4.5]         # corner with the smallest x and y, metres
//! max = [4.2, 11.0]
//! height = 1.8             # optional, metres (default 1.8, a gondola)
//! ```
//!
//! A layout is checked as a whole when it is read; every problem names the
//! key it sits at (`zone[2].polygon`) and the reason.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

mod shelf;
mod zone;
pub use shelf::{DEFAULT_SHELF_HEIGHT_M, Shelf};
pub use zone::Zone;
use zone::check_polygon;

/// A point on the floor plan, metres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Metres along the plan's x axis.
    pub x: f64,
    /// Metres along the plan's y axis.
    pub y: f64,
}

impl Point {
    /// A point.
    #[must_use]
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    /// Straight-line distance to another point.
    #[must_use]
    pub fn distance(self, other: Point) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

/// The `[store]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// The store's id, used in MQTT topics.
    pub id: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// IANA time zone of the store (`Europe/Madrid`), for campaign windows.
    pub timezone: String,
}

/// An `[[anchor]]`: a radio at a known position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// The anchor's id, as sightings name it.
    pub id: String,
    /// Metres.
    pub x: f64,
    /// Metres.
    pub y: f64,
    /// Height above the floor, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// Fitted RSSI at 1 m, dBm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi_at_1m: Option<f64>,
    /// Fitted path-loss exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_loss_exponent: Option<f64>,
}

impl Anchor {
    /// The anchor's position on the plan.
    #[must_use]
    pub fn position(&self) -> Point {
        Point::new(self.x, self.y)
    }
}

/// What a calibration measured beyond each anchor's model: the model's
/// error at each reference point, which the locator spreads over the floor
/// (see `engine::shadowing`). Written by `aisle calibrate` as
/// `[shadowing]` with `[[shadowing.samples]]`.
/// One residual measured at calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowingSample {
    /// The anchor's id.
    pub anchor: String,
    /// Reference point, metres.
    pub x: f64,
    /// Reference point, metres.
    pub y: f64,
    /// Reduced RSSI (interquartile mean) there minus the anchor's fitted model, dB.
    pub offset_db: f64,
}

/// Residuals of the fitted models at the reference points, and how to
/// spread them over the floor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowingMap {
    /// Width of the kernel across the ray from the anchor, metres (see
    /// `engine::shadowing` for why the kernel follows rays).
    pub bandwidth_m: f64,
    /// Width of the kernel along the ray from the anchor, metres. Layouts
    /// calibrated before the kernel followed rays lack it and get the
    /// default, 6.
    #[serde(default = "default_along_ray_m")]
    pub along_ray_m: f64,
    /// Kernel weight of a virtual zero-offset sample: a lone reference
    /// point one kernel width away (weight 0.6) moves the map by 55% of
    /// its residual,
    /// one among the six or so near an interior spot by about 90%.
    pub prior_weight: f64,
    /// The residuals.
    pub samples: Vec<ShadowingSample>,
}

fn default_along_ray_m() -> f64 {
    6.0
}

/// A store layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// The store.
    pub store: Store,
    /// The anchors.
    #[serde(rename = "anchor", default)]
    pub anchors: Vec<Anchor>,
    /// The zones.
    #[serde(rename = "zone", default)]
    pub zones: Vec<Zone>,
    /// Shelves and other obstacles, when the layout says where they stand.
    #[serde(rename = "shelf", default, skip_serializing_if = "Vec::is_empty")]
    pub shelves: Vec<Shelf>,
    /// Calibrated shadowing, when `aisle calibrate` measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadowing: Option<ShadowingMap>,
}

/// A layout that cannot be used: where, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}: {key}: {reason}")]
pub struct LayoutError {
    /// The file (or other source) the layout came from.
    pub origin: String,
    /// The key the problem sits at, such as `zone[2].polygon`.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl Layout {
    /// Reads and checks a layout file.
    pub fn load(path: &Path) -> Result<Layout, LayoutError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LayoutError {
            origin: origin.clone(),
            key: String::new(),
            reason: format!("cannot read: {e}"),
        })?;
        Layout::parse(&text, &origin)
    }

    /// Parses and checks a layout; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Layout, LayoutError> {
        let layout: Layout = toml::from_str(text).map_err(|e| LayoutError {
            origin: origin.to_owned(),
            key: e
                .span()
                .map_or_else(String::new, |s| line_col(text, s.start)),
            reason: e.message().to_owned(),
        })?;
        layout.check().map_err(|(key, reason)| LayoutError {
            origin: origin.to_owned(),
            key,
            reason,
        })?;
        Ok(layout)
    }

    /// The layout as TOML, in the form [`Layout::parse`] reads.
    #[must_use]
    pub fn to_toml(&self) -> String {
        // Serialising plain strings, numbers and arrays cannot fail.
        toml::to_string(self).unwrap_or_default()
    }

    /// The anchor with this id.
    #[must_use]
    pub fn anchor(&self, id: &str) -> Option<&Anchor> {
        self.anchors.iter().find(|a| a.id == id)
    }

    /// The zone with this id.
    #[must_use]
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }

    /// The bounding box of anchors and zones: `(min, max)`.
    #[must_use]
    pub fn bounds(&self) -> (Point, Point) {
        let points = self
            .anchors
            .iter()
            .map(|a| [a.x, a.y])
            .chain(self.zones.iter().flat_map(|z| z.polygon.iter().copied()));
        let (mut lo, mut hi) = (
            Point::new(f64::INFINITY, f64::INFINITY),
            Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY),
        );
        for [x, y] in points {
            lo = Point::new(lo.x.min(x), lo.y.min(y));
            hi = Point::new(hi.x.max(x), hi.y.max(y));
        }
        (lo, hi)
    }

    fn check(&self) -> Result<(), (String, String)> {
        check_id("store.id", &self.store.id)?;
        if self.store.timezone.trim().is_empty() {
            return Err((
                "store.timezone".into(),
                "must name an IANA time zone".into(),
            ));
        }
        if self.anchors.is_empty() {
            return Err(("anchor".into(), "a layout needs at least one anchor".into()));
        }
        let mut seen = HashSet::new();
        for (i, a) in self.anchors.iter().enumerate() {
            let key = format!("anchor[{i}]");
            check_id(&format!("{key}.id"), &a.id)?;
            if !seen.insert(a.id.as_str()) {
                return Err((
                    format!("{key}.id"),
                    format!("duplicate anchor id {:?}", a.id),
                ));
            }
            for (field, v) in [("x", Some(a.x)), ("y", Some(a.y)), ("z", a.z)] {
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err((format!("{key}.{field}"), "must be a finite number".into()));
                }
            }
            if let Some(p) = a.rssi_at_1m.filter(|p| !(-120.0..=20.0).contains(p)) {
                return Err((
                    format!("{key}.rssi_at_1m"),
                    format!("{p} dBm is outside -120..=20"),
                ));
            }
            if let Some(n) = a.path_loss_exponent.filter(|n| !(1.0..=6.0).contains(n)) {
                return Err((
                    format!("{key}.path_loss_exponent"),
                    format!("{n} is outside 1.0..=6.0"),
                ));
            }
        }
        let mut seen = HashSet::new();
        for (i, z) in self.zones.iter().enumerate() {
            let key = format!("zone[{i}]");
            check_id(&format!("{key}.id"), &z.id)?;
            if !seen.insert(z.id.as_str()) {
                return Err((format!("{key}.id"), format!("duplicate zone id {:?}", z.id)));
            }
            check_polygon(z).map_err(|r| (format!("{key}.polygon"), r))?;
        }
        for (i, s) in self.shelves.iter().enumerate() {
            let key = format!("shelf[{i}]");
            let finite = s
                .min
                .iter()
                .chain(&s.max)
                .chain(&s.height)
                .all(|v| v.is_finite());
            if !finite {
                return Err((key, "holds a number that is not finite".into()));
            }
            if s.min[0] >= s.max[0] || s.min[1] >= s.max[1] {
                return Err((key, "min must be below and left of max".into()));
            }
            if !(0.0..=10.0).contains(&s.height_m()) {
                return Err((
                    format!("{key}.height"),
                    format!("{} is outside 0..=10 m", s.height_m()),
                ));
            }
        }
        if let Some(map) = &self.shadowing {
            let widths = [
                ("bandwidth_m", map.bandwidth_m),
                ("along_ray_m", map.along_ray_m),
            ];
            for (field, v) in widths {
                if !(v.is_finite() && v > 0.0) {
                    return Err((
                        format!("shadowing.{field}"),
                        format!("{v} is not a width (a positive number of metres)"),
                    ));
                }
            }
            if !(map.prior_weight.is_finite() && map.prior_weight >= 0.0) {
                return Err((
                    "shadowing.prior_weight".into(),
                    format!("{} is not a weight (0 or more)", map.prior_weight),
                ));
            }
        }
        Ok(())
    }
}

/// Ids go into MQTT topic levels, so they follow the same rules.
fn check_id(key: &str, id: &str) -> Result<(), (String, String)> {
    let bad = |r: &str| Err((key.to_owned(), format!("{id:?} {r}")));
    if id.is_empty() {
        return bad("is empty");
    }
    if id.len() > 64 {
        return bad("is longer than 64 bytes");
    }
    if id
        .chars()
        .any(|c| matches!(c, '/' | '+' | '#') || c.is_control())
    {
        return bad("may not hold '/', '+', '#' or control characters");
    }
    Ok(())
}

pub(crate) fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {col}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
[store]
id = "s1"
timezone = "Europe/Madrid"

[[anchor]]
id = "a"
x = 0.0
y = 0.0

[[zone]]
id = "meat"
polygon = [[0.0, 0.0], [4.0, 0.0], [4.0, 3.0], [0.0, 3.0]]
"#;

    fn with_zone(polygon: &str) -> String {
        SMALL.replace("[[0.0, 0.0], [4.0, 0.0], [4.0, 3.0], [0.0, 3.0]]", polygon)
    }

    #[test]
    fn reads_a_layout_and_answers_geometry() {
        let l = Layout::parse(SMALL, "small.toml").unwrap();
        let z = l.zone("meat").unwrap();
        assert!(z.contains(Point::new(1.0, 1.0)));
        assert!(!z.contains(Point::new(5.0, 1.0)));
        assert!((z.area() - 12.0).abs() < 1e-9);
        assert!((z.distance_to_edge(Point::new(1.0, 1.5)) - 1.0).abs() < 1e-9);
        assert!((z.distance_to_edge(Point::new(6.0, 1.5)) - 2.0).abs() < 1e-9);
        let back = Layout::parse(&l.to_toml(), "round trip").unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn concave_zone_contains_only_its_own_floor() {
        // An L shape: the notch at the top right is outside.
        let l = Layout::parse(
            &with_zone("[[0,0],[4,0],[4,2],[2,2],[2,4],[0,4]]"),
            "l.toml",
        )
        .unwrap();
        let z = &l.zones[0];
        assert!(z.contains(Point::new(1.0, 3.0)));
        assert!(z.contains(Point::new(3.0, 1.0)));
        assert!(!z.contains(Point::new(3.0, 3.0)));
    }

    #[test]
    fn rejects_bad_polygons_naming_the_zone() {
        let err = |poly: &str| Layout::parse(&with_zone(poly), "bad.toml").unwrap_err();
        let e = err("[[0,0],[4,4],[4,0],[0,4]]");
        assert_eq!(e.key, "zone[0].polygon");
        assert!(e.reason.contains("crosses itself"), "{e}");
        let e = err("[]");
        assert!(e.reason.contains("at least 3 corners"), "{e}");
        let e = err("[[0,0],[1,1],[2,2]]");
        assert!(e.reason.contains("no area"), "{e}");
        assert_eq!(e.to_string(), "bad.toml: zone[0].polygon: encloses no area");
    }

    #[test]
    fn rejects_duplicates_and_bad_values() {
        let dup = format!("{SMALL}\n[[anchor]]\nid = \"a\"\nx = 1.0\ny = 1.0\n");
        let e = Layout::parse(&dup, "d.toml").unwrap_err();
        assert_eq!(e.key, "anchor[1].id");
        assert!(e.reason.contains("duplicate"));
        let dup = format!("{SMALL}\n[[zone]]\nid = \"meat\"\npolygon = [[0,0],[1,0],[0,1]]\n");
        assert_eq!(Layout::parse(&dup, "d.toml").unwrap_err().key, "zone[1].id");
        let slash = SMALL.replace("id = \"s1\"", "id = \"s/1\"");
        assert_eq!(Layout::parse(&slash, "s.toml").unwrap_err().key, "store.id");
        let nan = SMALL.replace("x = 0.0", "x = nan");
        assert_eq!(
            Layout::parse(&nan, "n.toml").unwrap_err().key,
            "anchor[0].x"
        );
        let loss = SMALL.replace("y = 0.0\n", "y = 0.0\npath_loss_exponent = 9.0\n");
        assert_eq!(
            Layout::parse(&loss, "p.toml").unwrap_err().key,
            "anchor[0].path_loss_exponent"
        );
    }

    #[test]
    fn syntax_errors_and_unknown_keys_name_their_place() {
        let e = Layout::parse("[store]\nid = \n", "x.toml").unwrap_err();
        assert!(e.key.starts_with("line 2"), "{e}");
        let e =
            Layout::parse(&SMALL.replace("x = 0.0", "x = 0.0\ncolour = 1"), "u.toml").unwrap_err();
        assert!(e.reason.contains("colour"), "{e}");
    }

    #[test]
    fn reads_the_reference_room() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/reference-room/layout.toml");
        if !path.exists() {
            eprintln!(
                "skipped: {} is absent (the shared data sits beside the checkout in CI)",
                path.display()
            );
            return;
        }
        let l = Layout::load(&path).unwrap();
        assert_eq!(l.anchors.len(), 12);
        assert_eq!(l.zones.len(), 9);
        let c2 = l.zone("C2").unwrap();
        assert!(c2.contains(Point::new(10.0, 15.0)));
    }
}
