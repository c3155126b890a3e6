//! The store the simulator walks shoppers through: a [`Layout`] plus what a
//! layout does not say, namely where the shelves stand and where the doors are.
//!
//! [`demo_layout`] and [`FloorPlan::demo`] describe a small supermarket of
//! 20 x 14 m that `aisle demo` and `aisle simulate` use by default:
//!
//! ```text
//!  y=14 +------------------------------------------+
//!       |                          [=meat counter=]|
//!       |  back aisle                meat-counter  |
//!  y=11 |         +-+     +-+     +-+     +-+      |
//!       | bakery  | | a-1 | | a-2 | | a-3 | | produce
//!       |         | |     | |     | |     | |      |
//!  y=4.5|         +-+     +-+     +-+     +-+      |
//!       |  front aisle                             |
//!  y=3.5|  entrance                     checkout   |
//!       |                           [till] [till]  |
//!  y=0  +---door----------exit---------------------+
//!       x=0     gondolas (+-+) are 1.2 x 6.5 m   x=20
//! ```

use crate::config::{
    BrokerAddress, Config, Loaded, LogSection, MqttSection, SourceSection, StoreSection,
};
use crate::engine::EngineConfig;
use crate::identify::IdentifyConfig;
use crate::layout::{Anchor, Layout, Point, Store, Zone};

/// An obstacle shoppers walk around: a shelving run, a counter, a till desk.
/// An axis-aligned rectangle, metres, of some height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shelf {
    /// Corner with the smallest x and y.
    pub min: Point,
    /// Corner with the largest x and y.
    pub max: Point,
    /// Height, metres: radio paths passing lower go through the goods.
    pub height: f64,
}

/// Height of a supermarket gondola, metres.
pub const GONDOLA_HEIGHT: f64 = 1.8;

impl Shelf {
    /// A gondola-high rectangle from two corners.
    #[must_use]
    pub const fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Shelf {
            min: Point::new(x0, y0),
            max: Point::new(x1, y1),
            height: GONDOLA_HEIGHT,
        }
    }

    /// The same rectangle at another height.
    #[must_use]
    pub const fn with_height(self, height: f64) -> Self {
        Shelf { height, ..self }
    }

    /// Whether `p` lies inside (edges included).
    #[must_use]
    pub fn contains(&self, p: Point) -> bool {
        (self.min.x..=self.max.x).contains(&p.x) && (self.min.y..=self.max.y).contains(&p.y)
    }

    /// The layout's entry for this shelf.
    #[must_use]
    pub fn to_layout(&self) -> crate::layout::Shelf {
        crate::layout::Shelf {
            min: [self.min.x, self.min.y],
            max: [self.max.x, self.max.y],
            height: Some(self.height),
        }
    }

    /// The simulator's shelf for a layout's entry.
    #[must_use]
    pub fn of_layout(shelf: &crate::layout::Shelf) -> Self {
        Shelf {
            min: Point::new(shelf.min[0], shelf.min[1]),
            max: Point::new(shelf.max[0], shelf.max[1]),
            height: shelf.height_m(),
        }
    }

    /// Distance from `p` to the rectangle, 0 inside.
    #[must_use]
    pub fn distance(&self, p: Point) -> f64 {
        let dx = (self.min.x - p.x).max(p.x - self.max.x).max(0.0);
        let dy = (self.min.y - p.y).max(p.y - self.max.y).max(0.0);
        dx.hypot(dy)
    }
}

/// A store as the simulator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorPlan {
    /// Anchors and zones.
    pub layout: Layout,
    /// The floor shoppers may stand on: a rectangle, usually the walls
    /// (its height is not used).
    pub floor: Shelf,
    /// Obstacles inside the floor.
    pub shelves: Vec<Shelf>,
    /// Where shoppers come in.
    pub entrance: Point,
    /// Where shoppers leave.
    pub exit: Point,
    /// The zone where shoppers pay, visited last; none in a layout without
    /// such a zone.
    pub checkout: Option<String>,
    /// Zones a shopping list is drawn from.
    pub stops: Vec<String>,
}

impl FloorPlan {
    /// The demo store of [`demo_layout`] with its shelves and doors.
    #[must_use]
    pub fn demo() -> Self {
        FloorPlan {
            floor: Shelf::new(0.0, 0.0, WIDTH, DEPTH).with_height(0.0),
            shelves: DEMO_SHELVES.to_vec(),
            entrance: Point::new(2.0, 0.4),
            exit: Point::new(9.5, 0.4),
            checkout: Some("checkout".into()),
            stops: [
                "bakery",
                "aisle-1",
                "aisle-2",
                "aisle-3",
                "produce",
                "meat-counter",
            ]
            .map(String::from)
            .to_vec(),
            layout: demo_layout(),
        }
    }

    /// A plan for a layout without a floor file: the whole bounding box of
    /// its anchors and zones is floor, with the layout's shelves (if it
    /// lists any) standing on it. Shoppers come in and leave
    /// at a zone named like an entrance (else the lowest corner), pay at a
    /// zone named like a checkout or till (else skip paying), and shop in the
    /// other zones.
    #[must_use]
    pub fn open(layout: Layout) -> Self {
        let (lo, hi) = layout.bounds();
        let named = |words: &[&str]| {
            layout.zones.iter().find(|z| {
                let text = format!("{} {}", z.id, z.name.as_deref().unwrap_or("")).to_lowercase();
                words.iter().any(|w| text.contains(w))
            })
        };
        let entrance_zone = named(&["entrance", "door"]).map(|z| z.id.clone());
        let checkout = named(&["checkout", "till", "cashier"]).map(|z| z.id.clone());
        let entrance = entrance_zone
            .as_deref()
            .and_then(|id| layout.zone(id))
            .map_or(lo, Zone::centroid);
        let stops = layout
            .zones
            .iter()
            .map(|z| z.id.clone())
            .filter(|id| Some(id) != entrance_zone.as_ref() && Some(id) != checkout.as_ref())
            .collect();
        FloorPlan {
            floor: Shelf {
                min: lo,
                max: Point::new(hi.x.max(lo.x + 1.0), hi.y.max(lo.y + 1.0)),
                height: 0.0,
            },
            shelves: layout.shelves.iter().map(Shelf::of_layout).collect(),
            entrance,
            exit: entrance,
            checkout,
            stops,
            layout,
        }
    }
}

impl From<Layout> for FloorPlan {
    fn from(layout: Layout) -> Self {
        FloorPlan::open(layout)
    }
}

const WIDTH: f64 = 20.0;
const DEPTH: f64 = 14.0;

/// Gondolas 1.2 m deep and 6.5 m long leave aisles of 2.4 m; the meat
/// counter runs along the back wall and two till desks stand at the front.
const DEMO_SHELVES: [Shelf; 7] = [
    Shelf::new(3.0, 4.5, 4.2, 11.0),
    Shelf::new(6.6, 4.5, 7.8, 11.0),
    Shelf::new(10.2, 4.5, 11.4, 11.0),
    Shelf::new(13.8, 4.5, 15.0, 11.0),
    Shelf::new(14.5, 13.2, 20.0, 14.0).with_height(1.3),
    Shelf::new(13.0, 1.0, 14.6, 1.7).with_height(0.9),
    Shelf::new(16.5, 1.0, 18.1, 1.7).with_height(0.9),
];

/// Height of anchors on top of the gondolas; wall anchors hang at 2.3 m.
const SHELF_TOP: f64 = 2.0;
const WALL: f64 = 2.3;

/// The demo store's layout: twelve anchors on gondolas and walls, and eight
/// named zones from the entrance to the checkout.
#[must_use]
pub fn demo_layout() -> Layout {
    let anchors: [(&str, f64, f64, f64); 12] = [
        ("entrance-wall", 0.2, 1.5, WALL),
        ("bakery-wall", 0.2, 8.0, WALL),
        ("gondola-1-front", 3.6, 4.7, SHELF_TOP),
        ("gondola-1-back", 3.6, 10.8, SHELF_TOP),
        ("gondola-2-middle", 7.2, 7.75, SHELF_TOP),
        ("gondola-3-front", 10.8, 4.7, SHELF_TOP),
        ("gondola-3-back", 10.8, 10.8, SHELF_TOP),
        ("gondola-4-middle", 14.4, 7.75, SHELF_TOP),
        ("back-wall", 8.0, 13.8, WALL),
        ("meat-counter", 17.25, 13.8, WALL),
        ("produce-wall", 19.8, 7.5, WALL),
        ("checkout-wall", 16.0, 0.2, WALL),
    ];
    let zones: [(&str, &str, [f64; 4]); 8] = [
        ("entrance", "Entrance", [0.0, 0.0, 6.0, 3.5]),
        ("bakery", "Bakery", [0.0, 4.5, 3.0, 11.0]),
        ("aisle-1", "Aisle 1: pasta and rice", [4.2, 4.5, 6.6, 11.0]),
        ("aisle-2", "Aisle 2: drinks", [7.8, 4.5, 10.2, 11.0]),
        ("aisle-3", "Aisle 3: household", [11.4, 4.5, 13.8, 11.0]),
        ("produce", "Fruit and vegetables", [15.0, 4.5, 20.0, 11.0]),
        ("meat-counter", "Meat counter", [14.5, 11.0, 20.0, 13.2]),
        ("checkout", "Checkout", [12.0, 0.0, 20.0, 3.5]),
    ];
    Layout {
        store: Store {
            id: "demo-store".into(),
            name: Some("Aisle demo supermarket".into()),
            timezone: "Europe/Madrid".into(),
        },
        anchors: anchors
            .iter()
            .map(|&(id, x, y, z)| Anchor {
                id: id.into(),
                x,
                y,
                z: Some(z),
                rssi_at_1m: None,
                path_loss_exponent: None,
            })
            .collect(),
        zones: zones
            .iter()
            .map(|&(id, name, [x0, y0, x1, y1])| Zone {
                id: id.into(),
                name: Some(name.into()),
                polygon: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
            })
            .collect(),
        shadowing: None,
        shelves: DEMO_SHELVES.iter().map(Shelf::to_layout).collect(),
    }
}

/// The demo store as a loaded gateway configuration, as `aisle demo` runs
/// it: [`demo_layout`], `sources`, default identification, engine, MQTT
/// and logging settings with the spool in `spool_dir`, publishing to
/// `broker`; no enrolled shoppers, password or TLS.
#[must_use]
pub fn demo_configuration(
    sources: Vec<SourceSection>,
    spool_dir: &std::path::Path,
    broker: BrokerAddress,
) -> Loaded {
    Loaded {
        config: Config {
            store: StoreSection {
                layout: "demo".into(),
                shoppers: None,
            },
            mqtt: MqttSection {
                spool_dir: spool_dir.to_owned(),
                ..MqttSection::default()
            },
            sources,
            identify: IdentifyConfig::default(),
            engine: EngineConfig::default(),
            log: LogSection::default(),
        },
        layout: demo_layout(),
        shoppers: Vec::new(),
        broker,
        password: None,
        tls: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_layout_round_trips_through_toml() {
        let layout = demo_layout();
        let back = Layout::parse(&layout.to_toml(), "demo").unwrap();
        assert_eq!(back, layout);
        assert_eq!(layout.anchors.len(), 12);
        assert!(layout.anchors.iter().all(|a| a.z.is_some()));
        let meat = layout.zone("meat-counter").unwrap();
        assert_eq!(meat.name.as_deref(), Some("Meat counter"));
    }

    #[test]
    fn demo_plan_names_zones_of_its_layout_and_doors_on_open_floor() {
        let plan = FloorPlan::demo();
        for id in plan.stops.iter().chain(&plan.checkout) {
            assert!(plan.layout.zone(id).is_some(), "{id}");
        }
        for door in [plan.entrance, plan.exit] {
            assert!(plan.floor.contains(door));
            assert!(plan.shelves.iter().all(|s| !s.contains(door)));
        }
        // Zones are floor, not shelves: each has room to stand in.
        for z in &plan.layout.zones {
            let c = z.centroid();
            assert!(plan.shelves.iter().all(|s| !s.contains(c)), "{}", z.id);
        }
    }

    #[test]
    fn open_plan_finds_entrance_and_checkout_by_name() {
        let mut layout = demo_layout();
        layout.zones[7].id = "tills".into();
        layout.zones[7].name = None;
        let plan = FloorPlan::open(layout);
        assert_eq!(plan.checkout.as_deref(), Some("tills"));
        assert_eq!(plan.entrance, plan.layout.zones[0].centroid());
        assert_eq!(plan.stops.len(), 6);
        // The layout's shelves stand on the open floor.
        assert_eq!(plan.shelves, DEMO_SHELVES.to_vec());
        let mut bare = demo_layout();
        bare.shelves.clear();
        assert!(FloorPlan::open(bare).shelves.is_empty());
    }
}
