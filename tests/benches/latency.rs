//! Latency from a sighting to a subscriber: how long after the sighting that
//! settles a zone decision is pushed into the pipeline does the zone event
//! reach a subscriber of the embedded broker?
//!
//! The path is the live gateway's: `Pipeline::push`, the payload mapping of
//! `aisle_gateway::publish`, the MQTT publisher (spooled and fsynced, QoS 1),
//! rumqttd embedded in this process, a rumqttc subscriber. The deliberate
//! waits of the engine (zone and presence confirmation) are not counted:
//! the clock starts at the push of the sighting whose fix makes the decision.
//!
//! A shopper walks between the produce and the checkout, standing 10 s in
//! each, played 50 times faster than real time (about 6,000 sightings a
//! second with positions published, some fifty shoppers' worth).
//!
//! `cargo bench -p aisle-tests --bench latency`

#[path = "../tests/support/broker.rs"]
#[allow(dead_code)]
mod broker;
#[path = "../tests/support/walk.rs"]
#[allow(dead_code)]
mod walk;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aisle_gateway::engine::{EngineConfig, Output};
use aisle_gateway::identify::IdentifyConfig;
use aisle_gateway::layout::Point;
use aisle_gateway::mqtt::{BrokerOptions, EmbeddedBroker, Outgoing, Publisher, PublisherConfig};
use aisle_gateway::pipeline::{Pipeline, SourceSighting, Subject};
use aisle_gateway::publish::{EventIds, Payload, ZoneNames, to_payload};
use aisle_gateway::sim::store::demo_layout;
use aisle_protocol::event::{EventId, ZoneEvent};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use broker::{Subscriber, WAIT};
use walk::{Step, Walk};

const SPEED: f64 = 50.0;
const ROUND_TRIPS: usize = 60;
const DEVICE: &str = "shopper-0007";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(measure());
}

async fn measure() {
    let layout = demo_layout();
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = broker.addr().port();
    let spool = tempfile::tempdir().unwrap();
    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    let out = start_publisher(port, spool.path(), &tracker, &shutdown).sender();
    let mut subscriber = Subscriber::connect(
        port,
        "bench-dashboard",
        "aisle/v1/demo-store/zones/+/events/+",
    )
    .await;

    let start_ts = aisle_gateway::source::wall_clock().floor();
    let sightings = back_and_forth().sightings(&layout, DEVICE, start_ts);

    let mut pipeline = Pipeline::new(
        &layout,
        &IdentifyConfig::default(),
        &[],
        EngineConfig::default(),
        start_ts,
    )
    .unwrap();
    let zones = ZoneNames::of(&layout);
    let mut ids = EventIds::for_live_run();
    let mut pushed_at: HashMap<EventId, Instant> = HashMap::new();
    let mut outputs = Vec::new();
    let origin = Instant::now();
    for s in &sightings {
        let due = origin + Duration::from_secs_f64((s.ts - start_ts) / SPEED);
        tokio::time::sleep_until(due).await;
        let sighting = SourceSighting {
            ts: s.ts,
            anchor: Arc::from(s.anchor.as_str()),
            subject: Subject::Device(Arc::from(DEVICE)),
            rssi: s.rssi,
        };
        let pushed = Instant::now();
        pipeline.push(&sighting, &mut outputs).unwrap();
        for output in outputs.drain(..) {
            let Ok(payload) = to_payload(&output, pipeline.devices(), &zones, &mut ids) else {
                continue;
            };
            let topic = payload.topic("demo-store").unwrap().to_string();
            match (&output, &payload) {
                (Output::Presence(_), Payload::Zone(event)) => {
                    pushed_at.insert(event.id, pushed);
                    let message =
                        Outgoing::at_least_once(topic, serde_json::to_vec(event).unwrap());
                    out.send(message).await.unwrap();
                }
                (_, Payload::Position(position)) => {
                    let message =
                        Outgoing::at_most_once(topic, serde_json::to_vec(position).unwrap());
                    let _ = out.try_send(message);
                }
                _ => {}
            }
        }
    }

    let mut latencies = Vec::new();
    let collect = async {
        while latencies.len() < pushed_at.len() {
            let message = subscriber.messages.recv().await.unwrap();
            let event: ZoneEvent = serde_json::from_slice(&message.payload).unwrap();
            if let Some(pushed) = pushed_at.get(&event.id) {
                latencies.push(message.at.duration_since(*pushed));
            }
        }
    };
    tokio::time::timeout(WAIT, collect)
        .await
        .expect("every zone event reaches the subscriber");
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;

    report(&mut latencies, sightings.len());
}

fn start_publisher(
    port: u16,
    spool: &std::path::Path,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Publisher {
    let broker = BrokerOptions {
        host: "127.0.0.1".into(),
        port,
        client_id: "bench-gateway".into(),
        credentials: None,
        tls: None,
        keep_alive: Duration::from_secs(15),
        last_will: None,
        birth: None,
    };
    Publisher::spawn(
        PublisherConfig::new(broker, spool),
        tracker,
        shutdown.clone(),
    )
    .unwrap()
}

/// Between the produce and the checkout, standing 10 s in each.
fn back_and_forth() -> Walk {
    let produce = Point::new(17.5, 7.75);
    let checkout = Point::new(16.0, 2.0);
    let mut steps = Vec::new();
    for _ in 0..ROUND_TRIPS {
        steps.extend([
            Step::Stand(10.0),
            Step::To(checkout),
            Step::Stand(10.0),
            Step::To(produce),
        ]);
    }
    Walk {
        start: produce,
        steps,
    }
}

fn report(latencies: &mut [Duration], sightings: usize) {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        ms(latencies[i])
    };
    println!(
        "sighting pushed -> zone event at a subscriber of the embedded broker, {} events \
         ({} sightings at {SPEED}x real time):",
        latencies.len(),
        sightings
    );
    println!(
        "  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        at(0.50),
        at(0.90),
        at(0.99),
        ms(*latencies.last().unwrap())
    );
}
