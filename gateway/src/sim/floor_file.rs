//! Floor files: what a layout does not say about a store but the simulator
//! needs, namely its shelves and doors. TOML, beside the layout:
//!
//! ```toml
//! entrance = [2.0, 0.4]          # where shoppers come in, metres
//! exit = [9.5, 0.4]              # optional: where they leave (default: the entrance)
//! checkout = "checkout"          # optional: zone paid at last (default: one named like it)
//! stops = ["bakery", "aisle-1"]  # optional: zones lists are drawn from (default: the others)
//! floor = [[0.0, 0.0], [20.0, 14.0]]  # optional: the walls (default: the layout's bounds)
//!
//! [[shelf]]
//! min = [3.0, 4.5]
//! max = [4.2, 11.0]
//! height = 1.8                   # optional, metres (default: a gondola's 1.8)
//! ```
//!
//! `aisle simulate --print-floor` writes the demo store's.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::store::{FloorPlan, GONDOLA_HEIGHT, Shelf};
use crate::layout::{Layout, LayoutError, Point};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloorFile {
    entrance: [f64; 2],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exit: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stops: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    floor: Option<[[f64; 2]; 2]>,
    #[serde(default, rename = "shelf")]
    shelves: Vec<ShelfEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShelfEntry {
    min: [f64; 2],
    max: [f64; 2],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    height: Option<f64>,
}

const fn point([x, y]: [f64; 2]) -> Point {
    Point::new(x, y)
}

impl FloorPlan {
    /// Reads a floor file for `layout`.
    pub fn load_floor(layout: Layout, path: &Path) -> Result<FloorPlan, LayoutError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LayoutError {
            origin: origin.clone(),
            key: String::new(),
            reason: format!("cannot read: {e}"),
        })?;
        FloorPlan::parse_floor(layout, &text, &origin)
    }

    /// Parses and checks a floor file for `layout`; `origin` names the source
    /// in errors, which name the key at fault as layout errors do.
    pub fn parse_floor(layout: Layout, text: &str, origin: &str) -> Result<FloorPlan, LayoutError> {
        let error = |key: &str, reason: String| LayoutError {
            origin: origin.to_owned(),
            key: key.to_owned(),
            reason,
        };
        let file: FloorFile =
            toml::from_str(text).map_err(|e| error("", e.message().to_owned()))?;
        let mut plan = FloorPlan::open(layout);
        if let Some([lo, hi]) = file.floor {
            plan.floor = Shelf {
                min: point(lo),
                max: point(hi),
                height: 0.0,
            };
            check_rect("floor", &plan.floor).map_err(|r| error("floor", r))?;
        }
        for (key, p) in [("entrance", Some(file.entrance)), ("exit", file.exit)] {
            if let Some(p) = p
                && (!p.iter().all(|v| v.is_finite()) || !plan.floor.contains(point(p)))
            {
                return Err(error(key, format!("{p:?} is not on the floor")));
            }
        }
        plan.entrance = point(file.entrance);
        plan.exit = file.exit.map_or(plan.entrance, point);
        let zone = |key: &str, id: &str| {
            if plan.layout.zone(id).is_some() {
                Ok(id.to_owned())
            } else {
                Err(error(key, format!("the layout has no zone {id:?}")))
            }
        };
        if let Some(id) = &file.checkout {
            plan.checkout = Some(zone("checkout", id)?);
        }
        if let Some(stops) = &file.stops {
            plan.stops = stops
                .iter()
                .enumerate()
                .map(|(i, id)| zone(&format!("stops[{i}]"), id))
                .collect::<Result<_, _>>()?;
        } else if file.checkout.is_some() {
            plan.stops.retain(|id| Some(id) != plan.checkout.as_ref());
        }
        if file.shelves.is_empty() {
            // The layout's own shelves, if any, stand.
            return Ok(plan);
        }
        plan.shelves = file
            .shelves
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let shelf = Shelf {
                    min: point(s.min),
                    max: point(s.max),
                    height: s.height.unwrap_or(GONDOLA_HEIGHT),
                };
                let key = format!("shelf[{i}]");
                check_rect(&key, &shelf).map_err(|r| error(&key, r))?;
                Ok(shelf)
            })
            .collect::<Result<_, _>>()?;
        Ok(plan)
    }

    /// The plan's shelves and doors as a floor file.
    #[must_use]
    pub fn floor_toml(&self) -> String {
        let xy = |p: Point| [p.x, p.y];
        let file = FloorFile {
            entrance: xy(self.entrance),
            exit: Some(xy(self.exit)),
            checkout: self.checkout.clone(),
            stops: Some(self.stops.clone()),
            floor: Some([xy(self.floor.min), xy(self.floor.max)]),
            shelves: self
                .shelves
                .iter()
                .map(|s| ShelfEntry {
                    min: xy(s.min),
                    max: xy(s.max),
                    height: Some(s.height),
                })
                .collect(),
        };
        // Plain numbers, strings and arrays always serialise.
        let body = toml::to_string(&file).unwrap_or_default();
        format!(
            "# Shelves and doors of {:?} for `aisle simulate --floor`, metres.\n{body}",
            self.layout.store.id
        )
    }
}

fn check_rect(key: &str, r: &Shelf) -> Result<(), String> {
    let finite = [r.min.x, r.min.y, r.max.x, r.max.y, r.height]
        .iter()
        .all(|v| v.is_finite());
    if !finite {
        return Err(format!("{key} holds a number that is not finite"));
    }
    if r.min.x >= r.max.x || r.min.y >= r.max.y {
        return Err("min must be below and left of max".into());
    }
    if !(0.0..=10.0).contains(&r.height) {
        return Err(format!("height {} is outside 0..=10 m", r.height));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::store::demo_layout;

    #[test]
    fn the_demo_floor_round_trips() {
        let demo = FloorPlan::demo();
        let text = demo.floor_toml();
        let back = FloorPlan::parse_floor(demo_layout(), &text, "demo-floor.toml").unwrap();
        assert_eq!(back, demo);
    }

    #[test]
    fn a_short_floor_file_takes_defaults() {
        let plan = FloorPlan::parse_floor(
            demo_layout(),
            "entrance = [2.0, 0.4]\ncheckout = \"meat-counter\"\n\n[[shelf]]\nmin = [3, 4.5]\nmax = [4.2, 11]\n",
            "f.toml",
        )
        .unwrap();
        assert_eq!(plan.exit, plan.entrance);
        assert_eq!(plan.shelves.len(), 1);
        assert!((plan.shelves[0].height - GONDOLA_HEIGHT).abs() < 1e-9);
        assert_eq!(plan.checkout.as_deref(), Some("meat-counter"));
        assert!(!plan.stops.iter().any(|s| s == "meat-counter"));
        assert!(!plan.stops.iter().any(|s| s == "entrance"));
        assert!(crate::sim::walk::Planner::new(&plan).is_ok());
    }

    #[test]
    fn errors_name_the_key() {
        let err = |text: &str| FloorPlan::parse_floor(demo_layout(), text, "f.toml").unwrap_err();
        let e = err("entrance = [2.0, 0.4]\ncheckout = \"tills\"\n");
        assert_eq!(e.key, "checkout");
        assert_eq!(
            e.to_string(),
            "f.toml: checkout: the layout has no zone \"tills\""
        );
        let e = err("entrance = [2.0, 0.4]\nstops = [\"bakery\", \"deli\"]\n");
        assert_eq!(e.key, "stops[1]");
        let e = err("entrance = [50.0, 0.4]\n");
        assert_eq!(e.key, "entrance");
        let e = err("entrance = [2.0, 0.4]\n[[shelf]]\nmin = [3, 4]\nmax = [1, 5]\n");
        assert_eq!(e.key, "shelf[0]");
        let e = err("entrance = [2.0, 0.4]\ncolour = 1\n");
        assert!(e.reason.contains("colour"), "{e}");
    }
}
