use rand_pcg::Pcg64Mcg;

use super::*;
use crate::layout::Anchor;

fn one_anchor(rssi_at_1m: Option<f64>, n: Option<f64>) -> Layout {
    let mut layout = super::super::store::demo_layout();
    layout.anchors = vec![Anchor {
        id: "a".into(),
        x: 0.0,
        y: 0.0,
        z: Some(1.2),
        rssi_at_1m,
        path_loss_exponent: n,
    }];
    layout
}

/// A shopper `d` m east of the anchor, facing it.
fn facing(d: f64) -> Pose {
    Pose {
        position: Point::new(d, 0.0),
        heading: (-1.0, 0.0),
        walking: true,
    }
}

/// The radio without the store's shadowing field (tested in
/// [`crate::sim::site`]), whose value at one spot would shift every mean.
fn fieldless() -> RadioConfig {
    RadioConfig {
        site_shadowing_sigma_db: 0.0,
        ..RadioConfig::default()
    }
}

fn mean_heard(model: &RadioModel, pose: &Pose, packets: u32, seed: u64) -> (f64, u32) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let (mut sum, mut heard) = (0.0, 0);
    for _ in 0..packets {
        let mut shadow = 0.0;
        if let Some(r) = model.receive(0, pose, 0.0, &mut shadow, Carry::NONE, &mut rng) {
            sum += r;
            heard += 1;
        }
    }
    (sum / f64::from(heard.max(1)), heard)
}

#[test]
fn mean_rssi_follows_the_path_loss_model() {
    let model = RadioModel::new(&one_anchor(Some(-61.0), Some(2.4)), fieldless());
    let mut points = Vec::new();
    // Within 5 m the floor is over 3 sigma away; farther out the packets
    // that are still heard are the lucky ones and the mean drifts up.
    for d in [1.0, 2.0, 3.0, 5.0] {
        let (mean, heard) = mean_heard(&model, &facing(d), 40_000, 1);
        let want = -61.0 - 24.0 * f64::log10(d);
        assert!((mean - want).abs() < 0.5, "at {d} m: {mean} vs {want}");
        // Near the anchor about `capture` of packets are heard.
        if d <= 2.0 {
            assert!(
                (0.66..0.72).contains(&(f64::from(heard) / 40_000.0)),
                "{heard}"
            );
        }
        points.push((d.log10(), mean));
    }
    // Least-squares slope over log distance gives back the exponent.
    let n = 4.0;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let sxx: f64 = points.iter().map(|(x, _)| x * x).sum();
    let sxy: f64 = points.iter().map(|(x, y)| x * y).sum();
    let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    assert!(
        (slope / -10.0 - 2.4).abs() < 0.1,
        "exponent {}",
        slope / -10.0
    );
}

#[test]
fn nothing_below_the_sensitivity_floor_is_reported() {
    let model = RadioModel::new(&one_anchor(None, None), RadioConfig::default());
    // At 40 m the mean is about -94 dBm: half the packets fall short.
    let mut rng = Pcg64Mcg::seed_from_u64(2);
    let mut heard = 0;
    let mut shadow = 0.0;
    for i in 0..20_000 {
        let pose = facing(30.0 + f64::from(i % 20));
        if let Some(r) = model.receive(0, &pose, 0.0, &mut shadow, Carry::NONE, &mut rng) {
            assert!(r >= -95.0, "{r}");
            assert!((r - r.round()).abs() < 1e-9, "{r}");
            heard += 1;
        }
    }
    assert!((1_000..10_000).contains(&heard), "{heard}");
}

#[test]
fn the_body_costs_signal_from_behind_only() {
    let model = RadioModel::new(&one_anchor(None, None), fieldless());
    assert!(model.site_shadowing(0, Point::new(5.0, 0.0)).abs() < 1e-12);
    let ahead = facing(5.0);
    let behind = Pose {
        heading: (1.0, 0.0),
        ..ahead
    };
    let side = Pose {
        heading: (0.0, 1.0),
        ..ahead
    };
    assert!(model.body_loss(0, &ahead).abs() < 1e-9);
    assert!(model.body_loss(0, &side).abs() < 1e-9);
    assert!((model.body_loss(0, &behind) - 8.0).abs() < 1e-9);
    let (front, _) = mean_heard(&model, &ahead, 20_000, 3);
    let (back, _) = mean_heard(&model, &behind, 20_000, 3);
    assert!((front - back - 8.0).abs() < 0.7, "{front} {back}");
}

#[test]
fn shelves_in_the_way_cost_their_loss() {
    let plan = FloorPlan::demo();
    let model = RadioModel::new(&plan.layout, RadioConfig::default()).with_shelves(&plan);
    let middle = plan
        .layout
        .anchors
        .iter()
        .position(|a| a.id == "gondola-2-middle")
        .unwrap();
    // Two points 5.4 m from the anchor: behind gondola 3, and in the back aisle.
    let (behind, open) = (Point::new(12.6, 7.75), Point::new(7.2, 13.15));
    assert!((model.mean_rssi(middle, behind) - model.mean_rssi(middle, open)).abs() < 1e-9);
    assert!((model.shelf_loss(middle, behind) - 5.0).abs() < 1e-9);
    assert!(model.shelf_loss(middle, open).abs() < 1e-9);
    let bare = RadioModel::new(&plan.layout, RadioConfig::default());
    assert!(bare.shelf_loss(middle, behind).abs() < 1e-9);
}

#[test]
fn shadowing_is_correlated_over_short_walks() {
    let model = RadioModel::new(&one_anchor(None, None), RadioConfig::default());
    let mut rng = Pcg64Mcg::seed_from_u64(4);
    // Packets 0.1 s apart while walking at 1.2 m/s.
    let carry = model.carry(0.12, 0.1);
    let mut shadow = model.initial_shadow(&mut rng);
    let mut prev = shadow;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for _ in 0..50_000 {
        let _ = model.receive(0, &facing(3.0), 0.0, &mut shadow, carry, &mut rng);
        sxy += prev * shadow;
        sxx += prev * prev;
        prev = shadow;
    }
    let lag1 = sxy / sxx;
    assert!((lag1 - carry.rho).abs() < 0.02, "{lag1} vs {}", carry.rho);
    assert!(lag1 > 0.9);
    let sigma = (sxx / 50_000.0).sqrt();
    assert!((sigma - 2.0).abs() < 0.3, "{sigma}");
}
