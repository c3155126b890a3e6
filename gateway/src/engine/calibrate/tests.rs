#![allow(clippy::float_cmp)] // values set exactly, compared exactly

use super::*;
use crate::engine::locate::tests::square_room;

fn sighting(anchor: &str, rssi: f64, p: Point) -> RecordedSighting {
    RecordedSighting {
        ts: 0.0,
        anchor: anchor.into(),
        device: Some("beacon".into()),
        adv: None,
        rssi,
        x: Some(p.x),
        y: Some(p.y),
    }
}

#[test]
fn recovers_known_models_through_noise_and_dips() {
    let mut truth = square_room();
    let known = [
        (-55.0, 1.8),
        (-62.0, 2.6),
        (-58.0, 3.1),
        (-66.0, 2.0),
        (-60.0, 2.2),
    ];
    for (a, &(p0, n)) in truth.anchors.iter_mut().zip(&known) {
        a.rssi_at_1m = Some(p0);
        a.path_loss_exponent = Some(n);
    }
    let locate = LocateConfig::default();
    let mut sightings = Vec::new();
    let mut noise = 0u32;
    for ix in 0..13 {
        for iy in 0..11 {
            let p = Point::new(0.5 + f64::from(ix) * 0.9, 0.5 + f64::from(iy) * 0.9);
            for a in &truth.anchors {
                let expected = RadioModel::of(a, &locate).expected_rssi(p);
                for k in 0..9 {
                    // Symmetric noise of +-3 dB, and one deep dip.
                    noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let jitter = f64::from(noise >> 24) / 255.0 * 6.0 - 3.0;
                    let dip = if k == 4 { -20.0 } else { 0.0 };
                    sightings.push(sighting(&a.id, expected + jitter + dip, p));
                }
            }
        }
    }
    sightings.push(sighting("nobody", -50.0, Point::new(1.0, 1.0)));
    let mut blank = truth.clone();
    for a in &mut blank.anchors {
        a.rssi_at_1m = None;
        a.path_loss_exponent = None;
    }
    let c = calibrate(&blank, &sightings, &locate, &CalibrateConfig::default());
    assert_eq!(c.unknown_anchor, 1);
    for (fit, &(p0, n)) in c.fits.iter().zip(&known) {
        assert!(fit.fitted && fit.points >= 130, "{fit:?}");
        assert!((fit.rssi_at_1m - p0).abs() < 1.0, "{fit:?} vs {p0}");
        assert!((fit.path_loss_exponent - n).abs() < 0.1, "{fit:?} vs {n}");
        assert!(fit.residual_rms_db < 2.0, "{fit:?}");
    }
    assert_eq!(c.layout.anchors[1].rssi_at_1m, Some(c.fits[1].rssi_at_1m));
}

#[test]
fn too_few_points_keep_the_old_model_and_exponents_stay_in_range() {
    let layout = square_room();
    let p = Point::new(3.0, 3.0);
    let few = [sighting("sw", -70.0, p)];
    let c = calibrate(
        &layout,
        &few,
        &LocateConfig::default(),
        &CalibrateConfig::default(),
    );
    assert!(!c.fits[0].fitted);
    assert_eq!(c.fits[0].rssi_at_1m, -60.0);
    assert_eq!(c.layout, layout);
    // RSSI rising with distance would fit a negative exponent.
    let odd: Vec<_> = (0..6)
        .map(|i| {
            sighting(
                "sw",
                -90.0 + f64::from(i) * 5.0,
                Point::new(f64::from(i) + 1.0, 0.0),
            )
        })
        .collect();
    let c = calibrate(
        &layout,
        &odd,
        &LocateConfig::default(),
        &CalibrateConfig::default(),
    );
    assert!(c.fits[0].fitted);
    assert_eq!(c.fits[0].path_loss_exponent, 1.0);
}

#[test]
fn a_walk_with_two_phones_fits_the_place_not_the_phones() {
    let mut truth = square_room();
    for a in &mut truth.anchors {
        a.rssi_at_1m = Some(-60.0);
        a.path_loss_exponent = Some(2.0);
    }
    let locate = LocateConfig::default();
    let mut sightings = Vec::new();
    // Two phones walk the room along the same lines, one 6 dB louder;
    // every reading has its own position, 0.1 m apart.
    for (phone, offset) in [("quiet", 0.0), ("loud", 6.0)] {
        for i in 0..100 {
            for row in 0..5 {
                let p = Point::new(0.5 + f64::from(i) * 0.1, 1.0 + f64::from(row) * 2.0);
                for a in &truth.anchors {
                    let expected = RadioModel::of(a, &locate).expected_rssi(p);
                    let mut s = sighting(&a.id, expected + offset, p);
                    s.device = Some(phone.into());
                    sightings.push(s);
                }
            }
        }
    }
    let c = calibrate(&truth, &sightings, &locate, &CalibrateConfig::default());
    for fit in &c.fits {
        assert!(fit.fitted, "{fit:?}");
        // The phones' mean: 3 dB over the room's model.
        assert!((fit.rssi_at_1m + 57.0).abs() < 0.3, "{fit:?}");
        assert!((fit.path_loss_exponent - 2.0).abs() < 0.05, "{fit:?}");
        // A 10 m walk in 0.5 m cells, not a point per reading.
        assert!(fit.points <= 5 * 21, "{fit:?}");
    }
    // The phones' difference is not mistaken for the place's.
    let worst = c
        .shadowing
        .samples
        .iter()
        .map(|s| s.offset_db.abs())
        .fold(0.0, f64::max);
    assert!(worst < 0.3, "{worst}");
    // Dense points take a narrow kernel: three spacings, under 3 m.
    assert!(c.shadowing.bandwidth_m < 2.0, "{}", c.shadowing.bandwidth_m);
}

/// A map of `offset(x, y)` for anchor "sw" of the square room, sampled
/// every 0.5 m over its floor, with the kernel calibration chooses.
fn chosen_kernel(offset: impl Fn(f64, f64) -> f64) -> ShadowingMap {
    let room = square_room();
    let mut map = ShadowingMap {
        bandwidth_m: 2.0,
        ..ShadowingMap::none()
    };
    for i in 0..24 {
        for j in 0..20 {
            let (x, y) = (0.25 + 0.5 * f64::from(i), 0.25 + 0.5 * f64::from(j));
            map.samples.push(ShadowingSample {
                anchor: "sw".into(),
                x,
                y,
                offset_db: offset(x, y),
            });
        }
    }
    choose_kernel(&mut map, &room, &LocateConfig::default());
    map
}

#[test]
fn calibration_chooses_long_kernels_for_shadows_cast_along_rays() {
    // Shadows that depend on the bearing from the anchor alone: stripes
    // fanning out from it, as obstacles near an anchor cast them.
    let rays = chosen_kernel(|x, y| 6.0 * (8.0 * y.atan2(x)).sin());
    assert!(
        rays.along_ray_m >= 2.0 * rays.bandwidth_m,
        "{} across, {} along",
        rays.bandwidth_m,
        rays.along_ray_m
    );
    // A field that varies as fast with range as across rays: blotches
    // about four metres wide.
    let round = chosen_kernel(|x, y| 6.0 * (0.7 * x).sin() * (0.7 * y).cos());
    assert!(
        round.along_ray_m <= round.bandwidth_m * 1.01,
        "{} across, {} along",
        round.bandwidth_m,
        round.along_ray_m
    );
}
