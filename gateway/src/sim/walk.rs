//! Shoppers' trips: in at the entrance, a short shopping list walked in the
//! order the store leads, a pause at each shelf, the checkout, out.
//!
//! A trip is planned whole when the shopper arrives (a few dozen corners), so
//! where a shopper is at any time is a pure function of the trip: the
//! simulator and the ground truth ask the same [`Trip::pose_at`].

use rand::{Rng, RngExt};

use super::floor::FloorGrid;
use super::store::{FloorPlan, Shelf};
use crate::layout::Point;

/// Walking speeds of shoppers, m/s: a browsing pace, slower than the usual
/// 1.4 m/s of pedestrians in the open.
pub const SPEED: std::ops::Range<f64> = 0.8..1.4;
/// How long a shopper stands at a shelf, seconds.
pub const SHELF_PAUSE: std::ops::Range<f64> = 5.0..60.0;
/// How long paying takes, queue included, seconds.
pub const CHECKOUT_PAUSE: std::ops::Range<f64> = 20.0..90.0;
/// How many zones a shopping list names (fewer when the store has fewer).
pub const LIST_LEN: std::ops::RangeInclusive<usize> = 2..=4;

/// Sideways sway of a walking shopper, metres, over a wavelength of metres
/// walked; it fades out within `WANDER_TAPER` of each corner so turns and
/// stops are where the path says.
const WANDER_AMPLITUDE: f64 = 0.1;
const WANDER_WAVELENGTH: f64 = 4.0;
const WANDER_TAPER: f64 = 0.6;

/// Where a shopper is and which way they face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Position on the plan, metres.
    pub position: Point,
    /// Unit vector of the way the shopper faces (the last way they walked).
    pub heading: (f64, f64),
    /// Whether the shopper is walking (not standing at a shelf or till).
    pub walking: bool,
}

#[derive(Debug, Clone)]
enum Activity {
    Walk {
        corners: Vec<Point>,
        /// Distance walked at each corner, from 0.
        walked: Vec<f64>,
        speed: f64,
    },
    Stand {
        at: Point,
        heading: (f64, f64),
    },
}

#[derive(Debug, Clone)]
struct Leg {
    /// Seconds since the start of the run.
    start: f64,
    activity: Activity,
}

/// One shopper's visit, times in seconds since the start of the run.
#[derive(Debug, Clone)]
pub struct Trip {
    /// The shopper's phone, as sightings name it.
    pub device: String,
    /// Zones on the shopping list in the order visited, the checkout last
    /// (if the store has one).
    pub visits: Vec<String>,
    legs: Vec<Leg>,
    departure: f64,
    wander_phase: f64,
}

impl Trip {
    /// When the shopper comes in.
    #[must_use]
    pub fn arrival(&self) -> f64 {
        self.legs.first().map_or(self.departure, |l| l.start)
    }

    /// When the shopper walks out of the exit.
    #[must_use]
    pub fn departure(&self) -> f64 {
        self.departure
    }

    /// Where the shopper is at `t`; none before arrival or after departure.
    #[must_use]
    pub fn pose_at(&self, t: f64) -> Option<Pose> {
        if t < self.arrival() || t > self.departure {
            return None;
        }
        let current = self
            .legs
            .partition_point(|l| l.start <= t)
            .saturating_sub(1);
        let leg = &self.legs[current];
        match &leg.activity {
            Activity::Stand { at, heading } => Some(Pose {
                position: *at,
                heading: *heading,
                walking: false,
            }),
            Activity::Walk {
                corners,
                walked,
                speed,
            } => {
                let total = walked[walked.len() - 1];
                let so_far = ((t - leg.start) * speed).clamp(0.0, total);
                let next = walked
                    .partition_point(|&w| w <= so_far)
                    .clamp(1, corners.len() - 1);
                let from = corners[next - 1];
                let seg = walked[next] - walked[next - 1];
                let (ux, uy) = unit(from, corners[next]);
                let along = so_far - walked[next - 1];
                let taper = (along.min(seg - along) / WANDER_TAPER).clamp(0.0, 1.0);
                let sway = WANDER_AMPLITUDE
                    * taper
                    * (std::f64::consts::TAU * so_far / WANDER_WAVELENGTH + self.wander_phase)
                        .sin();
                Some(Pose {
                    position: Point::new(
                        from.x + ux * along - uy * sway,
                        from.y + uy * along + ux * sway,
                    ),
                    heading: (ux, uy),
                    walking: true,
                })
            }
        }
    }
}

fn unit(a: Point, b: Point) -> (f64, f64) {
    let d = a.distance(b);
    if d > 0.0 {
        ((b.x - a.x) / d, (b.y - a.y) / d)
    } else {
        (0.0, 1.0)
    }
}

/// Plans trips through one store.
#[derive(Debug, Clone)]
pub struct Planner {
    grid: FloorGrid,
    shelves: Vec<Shelf>,
    entrance: Point,
    exit: Point,
    /// Shopping-list zones with the free spots in each, in store order; a
    /// store without such zones has one unnamed stop: the whole floor.
    stops: Vec<(String, Vec<Point>)>,
    checkout: Option<(String, Vec<Point>)>,
}

/// Why a store cannot be walked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Shelves and walls leave no floor.
    #[error("the floor plan leaves no room to walk")]
    NoFloor,
    /// The checkout zone has no floor that can be reached from the entrance.
    #[error("zone {0:?} cannot be reached from the entrance")]
    Unreachable(String),
}

impl Planner {
    /// Rasterises the plan and finds where shoppers can stand in each zone.
    /// Zones without free floor (or out of reach) are left off lists.
    pub fn new(plan: &FloorPlan) -> Result<Self, PlanError> {
        let mut grid = FloorGrid::new(plan);
        let entrance = grid.snap(plan.entrance).ok_or(PlanError::NoFloor)?;
        // Floor cut off from the entrance (behind a counter, say) is no
        // floor to shoppers; after this every free cell can reach every other.
        grid.keep_reachable(entrance);
        let exit = grid.snap(plan.exit).ok_or(PlanError::NoFloor)?;
        let spots = |id: &str| {
            let spots = grid.spots_in(plan.layout.zone(id)?);
            (!spots.is_empty()).then(|| (id.to_owned(), spots))
        };
        let checkout = match plan.checkout.as_deref() {
            Some(id) => Some(spots(id).ok_or_else(|| PlanError::Unreachable(id.into()))?),
            None => None,
        };
        // Shoppers work their way from the entrance towards the checkout (or
        // the exit): the list is walked in order of progress along that line.
        let towards = checkout
            .as_ref()
            .and_then(|(id, _)| plan.layout.zone(id))
            .map_or(exit, crate::layout::Zone::centroid);
        let (dx, dy) = unit(entrance, towards);
        let progress = |p: Point| (p.x - entrance.x) * dx + (p.y - entrance.y) * dy;
        let mut stops: Vec<(String, Vec<Point>)> =
            plan.stops.iter().filter_map(|id| spots(id)).collect();
        stops.sort_by(|a, b| {
            let c = |id: &str| plan.layout.zone(id).map_or(0.0, |z| progress(z.centroid()));
            c(&a.0).total_cmp(&c(&b.0))
        });
        if stops.is_empty() {
            // A layout without zones to shop in: stop anywhere on the floor.
            let anywhere = grid.spots_in(&crate::layout::Zone {
                id: String::new(),
                name: None,
                polygon: vec![
                    [plan.floor.min.x, plan.floor.min.y],
                    [plan.floor.max.x, plan.floor.min.y],
                    [plan.floor.max.x, plan.floor.max.y],
                    [plan.floor.min.x, plan.floor.max.y],
                ],
            });
            stops.push((String::new(), anywhere));
        }
        Ok(Planner {
            grid,
            shelves: plan.shelves.clone(),
            entrance,
            exit,
            stops,
            checkout,
        })
    }

    /// The occupancy grid shoppers walk on.
    #[must_use]
    pub fn grid(&self) -> &FloorGrid {
        &self.grid
    }

    /// Which way a shopper standing at `p` faces: towards the nearest shelf
    /// within reach, goods in hand and phone between them and the shelf.
    fn facing_shelf(&self, p: Point) -> Option<(f64, f64)> {
        const REACH: f64 = 1.5;
        self.shelves
            .iter()
            .map(|s| {
                let near = Point::new(p.x.clamp(s.min.x, s.max.x), p.y.clamp(s.min.y, s.max.y));
                (p.distance(near), near)
            })
            .filter(|&(d, _)| d > 0.0 && d <= REACH)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, near)| unit(p, near))
    }

    /// Plans one shopper's trip, arriving `arrival` seconds into the run.
    pub fn trip(&self, device: String, arrival: f64, rng: &mut impl Rng) -> Trip {
        let speed = rng.random_range(SPEED);
        // Draw the list as a partial shuffle, then walk it in store order.
        let want = rng.random_range(LIST_LEN);
        let order: Vec<usize> = if self.stops[0].0.is_empty() {
            // The floor as one unnamed stop: several places on it.
            vec![0; want]
        } else {
            let mut order: Vec<usize> = (0..self.stops.len()).collect();
            for i in 0..want.min(order.len()) {
                let j = rng.random_range(i..order.len());
                order.swap(i, j);
            }
            order.truncate(want);
            order.sort_unstable();
            order
        };

        let mut targets: Vec<(String, Point, Option<f64>)> = order
            .iter()
            .map(|&i| {
                let (id, spots) = &self.stops[i];
                let spot = spots[rng.random_range(0..spots.len())];
                (id.clone(), spot, Some(rng.random_range(SHELF_PAUSE)))
            })
            .collect();
        if let Some((id, spots)) = &self.checkout {
            let spot = spots[rng.random_range(0..spots.len())];
            targets.push((id.clone(), spot, Some(rng.random_range(CHECKOUT_PAUSE))));
        }
        targets.push((String::new(), self.exit, None));

        let mut legs = Vec::new();
        let mut visits = Vec::new();
        let (mut t, mut at, mut heading) = (arrival, self.entrance, (0.0, 1.0));
        for (zone, spot, pause) in targets {
            let Some(corners) = self.grid.path(at, spot) else {
                continue;
            };
            let mut walked = vec![0.0];
            for w in corners.windows(2) {
                walked.push(walked[walked.len() - 1] + w[0].distance(w[1]));
            }
            let leg_speed = (speed * rng.random_range(0.93..1.05)).clamp(0.7, 1.45);
            let length = walked[walked.len() - 1];
            if corners.len() >= 2 && length > 0.0 {
                heading = unit(corners[corners.len() - 2], corners[corners.len() - 1]);
            }
            legs.push(Leg {
                start: t,
                activity: Activity::Walk {
                    corners,
                    walked,
                    speed: leg_speed,
                },
            });
            t += length / leg_speed;
            at = spot;
            if let Some(pause) = pause {
                heading = self.facing_shelf(at).unwrap_or(heading);
                legs.push(Leg {
                    start: t,
                    activity: Activity::Stand { at, heading },
                });
                t += pause;
                if !zone.is_empty() {
                    visits.push(zone);
                }
            }
        }
        Trip {
            device,
            visits,
            legs,
            departure: t,
            wander_phase: rng.random_range(0.0..std::f64::consts::TAU),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    use super::*;

    fn trips(n: u32, seed: u64) -> (FloorPlan, Vec<Trip>) {
        let plan = FloorPlan::demo();
        let planner = Planner::new(&plan).unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let trips = (0..n)
            .map(|i| planner.trip(format!("shopper-{i:04}"), 10.0 * f64::from(i), &mut rng))
            .collect();
        (plan, trips)
    }

    #[test]
    fn shoppers_stay_off_shelves_and_inside_the_walls() {
        let (plan, trips) = trips(60, 7);
        for trip in &trips {
            let mut t = trip.arrival();
            while t <= trip.departure() {
                let p = trip.pose_at(t).unwrap().position;
                assert!(plan.floor.contains(p), "{} at {t}: {p:?}", trip.device);
                for s in &plan.shelves {
                    assert!(
                        s.distance(p) > 0.1,
                        "{} at {t}: {p:?} on {s:?}",
                        trip.device
                    );
                }
                t += 0.1;
            }
        }
    }

    #[test]
    fn walking_speeds_are_human() {
        let (_, trips) = trips(60, 8);
        for trip in &trips {
            let dt = 0.1;
            let mut t = trip.arrival();
            let mut last = trip.pose_at(t).unwrap().position;
            while t + dt <= trip.departure() {
                t += dt;
                let p = trip.pose_at(t).unwrap().position;
                let v = p.distance(last) / dt;
                assert!(v < 2.0, "{} at {t}: {v} m/s", trip.device);
                last = p;
            }
        }
    }

    #[test]
    fn every_shopper_shops_pays_and_leaves() {
        let (plan, trips) = trips(100, 9);
        let checkout = plan.layout.zone("checkout").unwrap();
        let mut meat = 0;
        for trip in &trips {
            assert!(trip.visits.len() >= 3, "{:?}", trip.visits);
            assert_eq!(trip.visits.last().map(String::as_str), Some("checkout"));
            meat += usize::from(trip.visits.iter().any(|v| v == "meat-counter"));
            let stay = trip.departure() - trip.arrival();
            assert!((60.0..900.0).contains(&stay), "{stay}");
            // The shopper stands in the checkout zone at some point, and is
            // gone after the departure.
            let mut t = trip.arrival();
            let mut paid = false;
            while t <= trip.departure() {
                paid |= checkout.contains(trip.pose_at(t).unwrap().position);
                t += 1.0;
            }
            assert!(paid, "{}", trip.device);
            assert_eq!(trip.pose_at(trip.departure() + 0.01), None);
            let out = trip.pose_at(trip.departure()).unwrap().position;
            assert!(out.distance(plan.exit) < 0.3, "{out:?}");
        }
        // A list of 2 to 4 of 6 zones names the meat counter about half the time.
        assert!((25..75).contains(&meat), "{meat}");
    }

    #[test]
    fn lists_are_walked_in_store_order() {
        let (_, trips) = trips(50, 10);
        let rank = |z: &str| {
            [
                "bakery",
                "aisle-1",
                "aisle-2",
                "aisle-3",
                "produce",
                "meat-counter",
                "checkout",
            ]
            .iter()
            .position(|&x| x == z)
            .unwrap()
        };
        for trip in &trips {
            let ranks: Vec<_> = trip.visits.iter().map(|v| rank(v)).collect();
            let mut sorted = ranks.clone();
            sorted.sort_unstable();
            assert_eq!(ranks, sorted, "{:?}", trip.visits);
        }
    }

    #[test]
    fn shoppers_face_the_shelf_they_stop_at() {
        let (plan, trips) = trips(40, 11);
        let aisles: Vec<_> = ["aisle-1", "aisle-2", "aisle-3"]
            .iter()
            .map(|id| plan.layout.zone(id).unwrap())
            .collect();
        let mut standing = 0;
        for trip in &trips {
            let mut t = trip.arrival();
            while t <= trip.departure() {
                let pose = trip.pose_at(t).unwrap();
                if !pose.walking && aisles.iter().any(|z| z.contains(pose.position)) {
                    // Gondolas run along y: facing one is facing east or west.
                    assert!(pose.heading.0.abs() > 0.99, "{pose:?}");
                    standing += 1;
                }
                t += 1.0;
            }
        }
        assert!(standing > 100, "{standing}");
    }
}
