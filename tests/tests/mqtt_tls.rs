//! The gateway and a broker over TLS: a real Mosquitto with a second,
//! TLS listener that wants a client certificate, and certificates made for
//! each test with rcgen (a CA, the broker's, the gateway's, and a CA no one
//! uses). The subscriber listens on the plain listener, so whatever it
//! receives from the gateway came over TLS.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aisle_gateway::config::Config;
use aisle_gateway::mqtt::tls::{ClientConfig, client_config};
use aisle_gateway::mqtt::{Outgoing, PublisherConfig, Spool, TlsFiles};
use aisle_gateway::sim::store::demo_layout;
use aisle_gateway::source::wall_clock;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use support::broker::{
    Mosquitto, Subscriber, first_appearances, free_port, publisher_config, wait_for_listener,
};
use support::gateway::Gateway;
use support::publisher::Running;
use support::walk::{Step, Walk, write_recording};

/// The certificates of one test, as PEM files in `dir`.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Self {
        let ca = Self::ca("Aisle test CA");
        let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
        write("ca.pem", ca.pem());
        write("other-ca.pem", Self::ca("Someone else's CA").pem());
        for (name, san, usage) in [
            ("broker", "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth),
            (
                "gateway",
                "aisle-gateway",
                ExtendedKeyUsagePurpose::ClientAuth,
            ),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![san.to_owned()]).unwrap();
            // OpenSSL takes a certificate whose subject is its issuer's
            // name for self-signed, so every name differs.
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca).unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Self {
            dir: dir.to_owned(),
        }
    }

    fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Mosquitto's lines for a TLS listener on `port` that trusts the CA's
    /// client certificates only.
    fn listener(&self, port: u16) -> String {
        format!(
            "listener {port} 127.0.0.1\n\
             cafile {}\n\
             certfile {}\n\
             keyfile {}\n\
             require_certificate true\n",
            self.path("ca.pem").display(),
            self.path("broker.pem").display(),
            self.path("broker.key").display(),
        )
    }

    /// A client TLS configuration trusting `ca`, with the gateway's
    /// certificate when `client` is set.
    fn client(&self, ca: &str, client: bool) -> Arc<ClientConfig> {
        let (ca, cert, key) = (
            self.path(ca),
            self.path("gateway.pem"),
            self.path("gateway.key"),
        );
        client_config(&TlsFiles {
            ca_file: Some(&ca),
            client_cert_file: client.then_some(cert.as_path()),
            client_key_file: client.then_some(key.as_path()),
        })
        .unwrap()
    }
}

/// Mosquitto with a plain listener (returned first) and a TLS one.
fn start_broker(dir: &Path, pki: &Pki) -> (Mosquitto, u16) {
    let (plain, tls) = (free_port(), free_port());
    let broker = Mosquitto::start_with(plain, dir, &pki.listener(tls));
    wait_for_listener(tls);
    (broker, tls)
}

fn tls_publisher(port: u16, spool: &Path, tls: Arc<ClientConfig>) -> PublisherConfig {
    let mut config = publisher_config(port, spool, "gateway-tls");
    config.broker.tls = Some(tls);
    config
}

/// The gateway as `aisle run` starts it, from a configuration file naming
/// an `mqtts://` broker and its certificate files; a shopper's walk is
/// played in, and the zone events reach a subscriber through the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_publishes_zone_events_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let (broker, tls_port) = start_broker(dir.path(), &pki);
    // Twenty seconds in the entrance: an enter there within a few.
    let walk = Walk {
        start: aisle_gateway::layout::Point::new(3.0, 1.5),
        steps: vec![Step::Stand(20.0)],
    };
    let recording = dir.path().join("walk.jsonl");
    let start = wall_clock().floor();
    write_recording(
        &recording,
        &walk.sightings(&demo_layout(), "shopper-0042", start),
    );
    std::fs::write(dir.path().join("layout.toml"), demo_layout().to_toml()).unwrap();
    let config = format!(
        "[store]\nlayout = \"layout.toml\"\n\n\
         [mqtt]\nbroker = \"mqtts://127.0.0.1:{tls_port}\"\nclient_id = \"gateway-tls\"\n\
         ca_file = \"ca.pem\"\nclient_cert_file = \"gateway.pem\"\nclient_key_file = \"gateway.key\"\n\
         spool_dir = \"spool\"\n\n\
         [[source]]\nkind = \"recording\"\npath = \"walk.jsonl\"\nspeed = 10.0\n"
    );
    std::fs::write(dir.path().join("gateway.toml"), config).unwrap();
    let loaded = Config::load(&dir.path().join("gateway.toml")).expect("the configuration loads");
    assert!(loaded.tls.is_some());

    let mut subscriber = Subscriber::connect(
        broker.port,
        "tls-sub",
        "aisle/v1/demo-store/zones/+/events/+",
    )
    .await;
    let mut gateway = Gateway::run(&loaded);
    gateway
        .until("an enter", |decided| !decided.is_empty())
        .await;
    let first = &gateway.decided[0];
    let arrived = subscriber.next().await;
    let received: aisle_protocol::event::ZoneEvent =
        serde_json::from_slice(&arrived.payload).unwrap();
    assert_eq!(&received, first, "the subscriber got the first decision");
    assert!(gateway.stats.connected.load(Ordering::Relaxed));
    assert_eq!(gateway.stats.last_error(), None);
    gateway.stop().await;
}

/// A gateway that does not trust the broker's CA is refused with an error
/// that says so; its events wait in the spool, and once the CA is fixed
/// they are delivered in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_is_refused_and_the_events_wait_in_the_spool() {
    const COUNT: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let (broker, tls_port) = start_broker(dir.path(), &pki);

    let wrong = Running::start(tls_publisher(
        tls_port,
        spool.path(),
        pki.client("other-ca.pem", true),
    ));
    for id in 0..COUNT {
        let message = Outgoing::at_least_once("aisle/test/events", id.to_string());
        wrong.send(message).await;
    }
    let error = wrong.error_until(|e| e.contains("not trusted")).await;
    assert!(error.contains("mqtt.ca_file"), "{error}");
    let stats = wrong.stats();
    assert!(!stats.connected.load(Ordering::Relaxed));
    assert_eq!(stats.acked.load(Ordering::Relaxed), 0);
    wrong.stop().await;
    assert_eq!(Spool::open(spool.path(), 1 << 20).unwrap().len(), COUNT);

    let mut subscriber = Subscriber::connect(broker.port, "tls-sub", "aisle/test/#").await;
    let fixed = Running::start(tls_publisher(
        tls_port,
        spool.path(),
        pki.client("ca.pem", true),
    ));
    let arrived = subscriber.until_all(COUNT).await;
    assert_eq!(first_appearances(&arrived), (0..COUNT).collect::<Vec<_>>());
    fixed.stop().await;
    assert!(Spool::open(spool.path(), 1 << 20).unwrap().is_empty());
}

/// A broker that wants a client certificate refuses a gateway without one,
/// and the error points at the client certificate settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_client_certificate_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let (_broker, tls_port) = start_broker(dir.path(), &pki);
    let running = Running::start(tls_publisher(
        tls_port,
        spool.path(),
        pki.client("ca.pem", false),
    ));
    let error = running.error_until(|e| e.contains("refused")).await;
    assert!(error.contains("mqtt.client_cert_file"), "{error}");
    assert!(!running.stats().connected.load(Ordering::Relaxed));
    running.stop().await;
}
