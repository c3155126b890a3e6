//! From a shopper walking through the store to a subscriber's zone events:
//! a scripted walk is recorded as the anchors would hear it, played into the
//! gateway running in this process, and what a subscriber to the store's
//! zone events receives through a real broker is checked against the walk
//! and against what the gateway decided.

mod support;

use std::collections::{BTreeMap, HashSet};

use aisle_gateway::layout::Point;
use aisle_gateway::sim::store::demo_layout;
use aisle_protocol::event::{ZoneEvent, ZoneEventKind};
use support::broker::{Mosquitto, Received, Subscriber, WAIT, free_port};
use support::gateway::Gateway;
use support::walk::{Step, Walk, write_recording};

const STORE: &str = "demo-store";
const SHOPPER: &str = "shopper-0042";
const FILTER: &str = "aisle/v1/demo-store/zones/+/events/+";
/// Ten times real time: the two-minute walk plays in about twelve seconds.
const SPEED: f64 = 10.0;
/// A zone the walk passes closer than this may see a visit; any other may not.
const NEAR_M: f64 = 1.5;

/// In at the door, along the front aisle and up through the produce to the
/// meat counter; 40 s there; back down to the tills; 30 s there; out through
/// the exit door, where the shopper lingers a few seconds before the
/// recording ends.
fn the_walk() -> Walk {
    let p = Point::new;
    Walk {
        start: p(2.0, 0.8),
        steps: vec![
            Step::To(p(5.0, 4.0)),
            Step::To(p(17.5, 4.0)),
            Step::To(p(17.25, 12.1)),
            Step::Stand(40.0),
            Step::To(p(17.5, 4.0)),
            Step::To(p(15.75, 2.3)),
            Step::Stand(30.0),
            Step::To(p(9.5, 0.4)),
            Step::Stand(6.0),
        ],
    }
}

/// The walk as a recording in `dir`, starting now; and when it starts.
fn record_the_walk(dir: &std::path::Path) -> (std::path::PathBuf, f64) {
    let path = dir.join("walk.jsonl");
    let start = aisle_gateway::source::wall_clock().floor();
    write_recording(&path, &the_walk().sightings(&demo_layout(), SHOPPER, start));
    (path, start)
}

/// Shows the events decided, timed from the start of the walk (visible
/// with `--nocapture`).
fn show(events: &[ZoneEvent], start: f64) {
    for e in events {
        let kind = match e.kind {
            ZoneEventKind::Enter => "enter".to_owned(),
            ZoneEventKind::Dwell { dwell_s } => format!("dwell {dwell_s:.1} s"),
            ZoneEventKind::Exit { dwell_s } => format!("exit {dwell_s:.1} s"),
        };
        eprintln!(
            "t+{:5.1} s  {:<13} {kind:<14} arrived t+{:.1} s",
            e.ts - start,
            e.zone,
            e.entered_at - start
        );
    }
}

/// Whether the shopper's walk is over as far as the gateway can tell: the
/// checkout visit has ended and no visit is open.
fn walk_over(decided: &[ZoneEvent]) -> bool {
    let checkout_exit = decided
        .iter()
        .any(|e| e.zone == "checkout" && matches!(e.kind, ZoneEventKind::Exit { .. }));
    let mut open = HashSet::new();
    for e in decided {
        match e.kind {
            ZoneEventKind::Enter => open.insert(e.zone.as_str()),
            ZoneEventKind::Exit { .. } => open.remove(e.zone.as_str()),
            ZoneEventKind::Dwell { .. } => true,
        };
    }
    checkout_exit && open.is_empty()
}

/// Parses what the subscriber received, checking each message's topic and
/// schema; duplicates (same id, same content) are dropped.
fn parse(received: &[Received]) -> (Vec<ZoneEvent>, usize) {
    let mut by_id = BTreeMap::new();
    let mut duplicates = 0;
    for message in received {
        let json: serde_json::Value = serde_json::from_slice(&message.payload)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", message.topic));
        assert_eq!(json["v"], 1, "schema version of {json}");
        let event: ZoneEvent = serde_json::from_value(json.clone())
            .unwrap_or_else(|e| panic!("{}: not a zone event: {e}: {json}", message.topic));
        event.validate().unwrap();
        assert_eq!(
            message.topic,
            format!(
                "aisle/v1/{STORE}/zones/{}/events/{}",
                event.zone, event.device
            ),
            "topic of {json}"
        );
        if let Some(earlier) = by_id.insert(event.id, event.clone()) {
            assert_eq!(earlier, event, "two events with one id");
            duplicates += 1;
        }
    }
    (by_id.into_values().collect(), duplicates)
}

/// Waits until the subscriber has received every event in `decided`,
/// adding what arrives to `received`.
async fn receive_all(
    subscriber: &mut Subscriber,
    decided: &[ZoneEvent],
    received: &mut Vec<Received>,
) {
    let want: HashSet<_> = decided.iter().map(|e| e.id).collect();
    let arrivals = async {
        loop {
            subscriber.drain(received);
            let (got, _) = parse(received);
            let got: HashSet<_> = got.iter().map(|e| e.id).collect();
            if want.is_subset(&got) {
                return;
            }
            let Some(message) = subscriber.messages.recv().await else {
                panic!("subscriber stopped");
            };
            received.push(message);
        }
    };
    if tokio::time::timeout(WAIT, arrivals).await.is_err() {
        let (got, _) = parse(received);
        let got: HashSet<_> = got.iter().map(|e| e.id).collect();
        let missing: Vec<_> = decided.iter().filter(|e| !got.contains(&e.id)).collect();
        panic!("within {WAIT:?} the subscriber did not receive {missing:#?}");
    }
}

/// Checks the zone events of the walk, in decision order.
#[allow(clippy::float_cmp)] // a visit's events copy one arrival time
fn assert_the_walk(events: &[ZoneEvent]) {
    let layout = demo_layout();
    let walk = the_walk();
    let far: Vec<_> = layout
        .zones
        .iter()
        .filter(|z| walk.distance_to(z) > NEAR_M)
        .map(|z| z.id.as_str())
        .collect();
    assert!(
        far.contains(&"bakery"),
        "the walk keeps away from the bakery"
    );
    for e in events {
        assert_eq!(e.device, SHOPPER, "{e:?}");
        assert!(
            !far.contains(&e.zone.as_str()),
            "an event in {}, which the walk never comes near: {e:?}",
            e.zone
        );
    }
    // Every visit is an enter, dwells, an exit; nothing outside a visit.
    let mut visits: BTreeMap<&str, Vec<Vec<&ZoneEvent>>> = BTreeMap::new();
    for e in events {
        let zone = visits.entry(e.zone.as_str()).or_default();
        match e.kind {
            ZoneEventKind::Enter => zone.push(vec![e]),
            ZoneEventKind::Dwell { .. } | ZoneEventKind::Exit { .. } => {
                let visit = zone
                    .last_mut()
                    .unwrap_or_else(|| panic!("{e:?} without an enter"));
                assert!(
                    !matches!(visit.last().unwrap().kind, ZoneEventKind::Exit { .. }),
                    "{e:?} after the visit's exit"
                );
                visit.push(e);
            }
        }
    }
    for (zone, zone_visits) in &visits {
        for visit in zone_visits {
            assert!(
                matches!(visit.last().unwrap().kind, ZoneEventKind::Exit { .. }),
                "a visit to {zone} never ended: {visit:#?}"
            );
            let dwells: Vec<f64> = visit.iter().filter_map(|e| e.dwell_s()).collect();
            assert!(
                dwells.windows(2).all(|w| w[0] < w[1]),
                "dwell times of a visit to {zone} grow: {visit:#?}"
            );
            assert!(
                visit.iter().all(|e| e.entered_at == visit[0].entered_at),
                "one visit, one arrival: {visit:#?}"
            );
        }
    }
    let only_visit = |zone: &str| -> &Vec<&ZoneEvent> {
        match visits.get(zone).map(Vec::as_slice) {
            Some([visit]) => visit,
            other => panic!("one visit to {zone}, not {other:#?}"),
        }
    };
    let meat = only_visit("meat-counter");
    let meat_dwells = meat
        .iter()
        .filter(|e| matches!(e.kind, ZoneEventKind::Dwell { .. }))
        .count();
    assert!(meat_dwells >= 2, "40 s at the meat counter: {meat:#?}");
    let stayed = meat.last().unwrap().dwell_s().unwrap();
    assert!(
        (30.0..60.0).contains(&stayed),
        "40 s at the meat counter, less the confirmation of the zone, walking in \
         and out included: {stayed} s; {events:#?}"
    );
    let checkout = only_visit("checkout");
    let stayed = checkout.last().unwrap().dwell_s().unwrap();
    assert!(
        (20.0..45.0).contains(&stayed),
        "30 s at the tills, less the confirmation of the zone, walking in and \
         out included: {stayed} s; {events:#?}"
    );
    assert!(
        meat.last().unwrap().id < checkout[0].id && meat.last().unwrap().ts <= checkout[0].ts,
        "the meat counter is left before the checkout is entered: {events:#?}"
    );
}

/// Checks what the subscriber received against what the gateway decided:
/// the same events, each exactly as decided; returns how many duplicates
/// arrived.
fn assert_received_what_was_decided(decided: &[ZoneEvent], received: &[Received]) -> usize {
    let ids: HashSet<_> = decided.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), decided.len(), "every decision has its own id");
    // Ids count up from the gateway's run id: their order is decision order.
    assert!(
        decided.windows(2).all(|w| w[0].id < w[1].id),
        "ids grow in decision order"
    );
    let (got, duplicates) = parse(received);
    assert_eq!(got, decided, "the subscriber received what was decided");
    duplicates
}

/// The walk through a broker on `port`: the subscriber connects first, the
/// gateway then plays the whole walk; returns what was decided and received.
async fn the_walk_through(port: u16, name: &str) -> (Vec<ZoneEvent>, Vec<Received>) {
    let dir = tempfile::tempdir().unwrap();
    let (recording, start) = record_the_walk(dir.path());
    let mut subscriber = Subscriber::connect(port, &format!("{name}-dashboard"), FILTER).await;
    let mut gateway = Gateway::start(&recording, SPEED, port, name, &dir.path().join("spool"));
    gateway.until("the end of the walk", walk_over).await;
    let mut received = Vec::new();
    receive_all(&mut subscriber, &gateway.decided, &mut received).await;
    let seen = gateway.decided.len();
    let decided = gateway.stop().await;
    show(&decided, start);
    assert_eq!(
        decided.len(),
        seen,
        "nothing decided after the walk: {:#?}",
        &decided[seen..]
    );
    (decided, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_through_the_store_reaches_a_subscriber_via_the_embedded_broker() {
    let broker = aisle_gateway::mqtt::EmbeddedBroker::start("127.0.0.1:0".parse().unwrap())
        .expect("embedded broker starts");
    let (decided, received) = the_walk_through(broker.addr().port(), "e2e-embedded").await;
    assert_the_walk(&decided);
    let duplicates = assert_received_what_was_decided(&decided, &received);
    assert_eq!(duplicates, 0, "no broker outage, no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_through_the_store_reaches_a_subscriber_via_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let mosquitto = Mosquitto::start(free_port(), dir.path());
    let (decided, received) = the_walk_through(mosquitto.port, "e2e-mosquitto").await;
    assert_the_walk(&decided);
    let duplicates = assert_received_what_was_decided(&decided, &received);
    assert_eq!(duplicates, 0, "no broker outage, no duplicates");
}

/// Mosquitto is frozen (SIGSTOP) while the shopper stands at the meat
/// counter, killed (SIGKILL) with the events decided since in flight, and
/// restarted on the same port after the gateway has decided more; the
/// subscriber, with a persistent session, still receives every zone event
/// the gateway decided, at least once.
///
/// The freeze comes once the subscriber has everything decided so far: an
/// event a broker acknowledged but had not yet forwarded when it died is lost
/// inside that broker, which no publisher can prevent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_mid_walk_loses_no_zone_event() {
    let dir = tempfile::tempdir().unwrap();
    let broker_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mosquitto = Mosquitto::start(port, broker_dir.path());
    let (recording, start) = record_the_walk(dir.path());
    let mut subscriber = Subscriber::connect(port, "e2e-kill-dashboard", FILTER).await;
    let mut gateway = Gateway::start(
        &recording,
        SPEED,
        port,
        "e2e-kill",
        &dir.path().join("spool"),
    );

    gateway
        .until("the meat counter entered", |d| {
            d.iter()
                .any(|e| e.zone == "meat-counter" && e.kind == ZoneEventKind::Enter)
        })
        .await;
    let mut received = Vec::new();
    receive_all(&mut subscriber, &gateway.decided, &mut received).await;
    mosquitto.freeze();
    let frozen_at = gateway.decided.len();
    gateway
        .until("an event while the broker is frozen", |d| {
            d.len() > frozen_at
        })
        .await;
    mosquitto.kill();
    let killed_at = gateway.decided.len();
    gateway
        .until("an event while the broker is down", |d| d.len() > killed_at)
        .await;
    let _mosquitto = Mosquitto::start(port, broker_dir.path());

    gateway.until("the end of the walk", walk_over).await;
    receive_all(&mut subscriber, &gateway.decided, &mut received).await;
    let seen = gateway.decided.len();
    let stats = gateway.stats.clone();
    let decided = gateway.stop().await;
    show(&decided, start);
    assert_eq!(
        decided.len(),
        seen,
        "nothing decided after the walk: {:#?}",
        &decided[seen..]
    );
    assert_the_walk(&decided);
    assert_received_what_was_decided(&decided, &received);
    assert!(
        stats.reconnects.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "the gateway reconnected"
    );
}
