//! An MQTT broker embedded in the gateway, for stores without one.
//!
//! rumqttd's `Broker::start` blocks its thread for the life of the broker and
//! has no shutdown call, so the broker gets a thread of its own and lives until
//! the process exits. Port selection happens before the broker starts because
//! rumqttd only logs a failed bind from inside its server thread.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// How many ports after the preferred one are tried before asking the OS for any.
const PORT_ATTEMPTS: u16 = 16;
/// How long `start` waits for the broker to accept TCP connections.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Presence events and offers are a few hundred bytes; 256 KiB leaves room
/// for status documents without letting one client exhaust the Pi's memory.
const MAX_PAYLOAD_SIZE: usize = 256 * 1024;

/// Why the embedded broker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("no free port at or after {preferred} and none from the OS: {source}")]
    NoFreePort {
        preferred: SocketAddr,
        source: std::io::Error,
    },
    #[error("could not spawn the broker thread: {0}")]
    Spawn(std::io::Error),
    #[error("broker thread stopped before accepting connections on {addr}")]
    Stopped { addr: SocketAddr },
    #[error("broker did not accept connections on {addr} within {waited:?}")]
    NotReady { addr: SocketAddr, waited: Duration },
}

/// A running rumqttd broker with an MQTT 3.1.1 listener.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    // Kept so that `is_running` can tell whether the broker thread ended.
    thread: JoinHandle<()>,
}

impl EmbeddedBroker {
    /// Starts a broker on `preferred`, or the next free port after it, or any
    /// port the OS assigns; returns once the broker accepts TCP connections.
    pub fn start(preferred: SocketAddr) -> Result<Self, BrokerError> {
        let addr = pick_free_addr(preferred)?;
        let config = broker_config(addr);
        let thread = std::thread::Builder::new()
            .name("mqtt-broker".to_owned())
            .spawn(move || {
                let mut broker = Broker::new(config);
                if let Err(error) = broker.start() {
                    tracing::error!(%addr, %error, "embedded broker stopped");
                }
            })
            .map_err(BrokerError::Spawn)?;

        let started = Instant::now();
        loop {
            if thread.is_finished() {
                return Err(BrokerError::Stopped { addr });
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                break;
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(BrokerError::NotReady {
                    addr,
                    waited: READY_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        tracing::info!(%addr, "embedded broker listening");
        Ok(Self { addr, thread })
    }

    /// The address the broker listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the broker thread is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }
}

/// Finds a bindable address: `preferred`, then the next ports, then an
/// OS-assigned one. The probe listener is closed again before rumqttd binds,
/// so another process could take the port in between; `start` then fails with
/// `Stopped` rather than talking to the wrong server for long.
fn pick_free_addr(preferred: SocketAddr) -> Result<SocketAddr, BrokerError> {
    // Port 0 already means "any port"; counting up from it would probe 1..16.
    let attempts = if preferred.port() == 0 {
        0
    } else {
        PORT_ATTEMPTS
    };
    let candidates = (0..attempts)
        .filter_map(|offset| preferred.port().checked_add(offset))
        .map(|port| SocketAddr::new(preferred.ip(), port));
    for candidate in candidates {
        if TcpListener::bind(candidate).is_ok() {
            return Ok(candidate);
        }
    }
    TcpListener::bind(SocketAddr::new(preferred.ip(), 0))
        .and_then(|listener| listener.local_addr())
        .map_err(|source| BrokerError::NoFreePort { preferred, source })
}

fn broker_config(addr: SocketAddr) -> Config {
    let server = ServerSettings {
        name: "v4".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: MAX_PAYLOAD_SIZE,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    Config {
        id: 0,
        router: RouterConfig {
            // A store has one gateway, a handful of dashboards and the offer service.
            max_connections: 64,
            max_outgoing_packet_count: 200,
            // rumqttd keeps each topic's log in memory: 1 MiB x 8 segments
            // bounds it at 8 MiB per filter on a 1 GiB Pi.
            max_segment_size: 1024 * 1024,
            max_segment_count: 8,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Config::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_preferred_port_moves_to_another() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = taken.local_addr().unwrap();
        let picked = pick_free_addr(busy).unwrap();
        assert_ne!(picked, busy);
        assert_eq!(picked.ip(), busy.ip());
    }

    #[test]
    fn broker_accepts_connections() {
        let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(broker.addr().port(), 0);
        assert!(broker.is_running());
        TcpStream::connect(broker.addr()).unwrap();
    }
}
