//! Brokers and a subscriber for the end-to-end tests: a Mosquitto the
//! test starts and kills, and a rumqttc subscriber that timestamps arrivals.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aisle_gateway::mqtt::publisher::{BrokerOptions, PublisherConfig};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Every wait for one thing to happen is bounded by this: generous, since
/// the tests share two cores with other builds.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_listener(port: u16) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = std::time::Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(started.elapsed() < WAIT, "nothing listening on {addr}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A Mosquitto process with its own configuration, killed when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
}

impl Mosquitto {
    /// Starts Mosquitto on `port`, persisting sessions in `dir` after every
    /// change so that a session survives SIGKILL. `user root` keeps a
    /// Mosquitto started as root (as in CI) from switching to the `mosquitto`
    /// user, which could not write the persistence file into `dir`; started
    /// as anyone else it has no effect.
    pub fn start(port: u16, dir: &Path) -> Self {
        Self::start_with(port, dir, "")
    }

    /// As [`Mosquitto::start`], with more configuration lines after the
    /// first listener's (another listener, say).
    pub fn start_with(port: u16, dir: &Path, more: &str) -> Self {
        let binary = find_mosquitto();
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\n\
                 allow_anonymous true\n\
                 persistence true\n\
                 persistence_location {}/\n\
                 autosave_interval 1\n\
                 autosave_on_changes true\n\
                 max_queued_messages 0\n\
                 user root\n\
                 {more}",
                dir.display()
            ),
        )
        .unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("mosquitto-{port}.log")))
            .unwrap();
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto starts");
        wait_for_listener(port);
        Self { child, port }
    }

    /// SIGSTOP: the broker keeps its sockets open but reads, acknowledges
    /// and forwards nothing.
    pub fn freeze(&self) {
        let status = Command::new("kill")
            .args(["-STOP", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGSTOP to mosquitto failed");
    }

    /// SIGKILL: no clean shutdown, no final save.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn find_mosquitto() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("mosquitto"));
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "the `mosquitto` binary is missing: run scripts/test, which installs it \
         (Debian package `mosquitto`)"
    );
}

/// One message as the subscriber saw it; `at` is the arrival time, for
/// latency measurements.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub at: Instant,
}

impl Received {
    /// The message id carried as a decimal payload.
    pub fn id(&self) -> usize {
        std::str::from_utf8(&self.payload).unwrap().parse().unwrap()
    }
}

/// A rumqttc subscriber that reconnects and re-subscribes on its own.
pub struct Subscriber {
    pub messages: mpsc::UnboundedReceiver<Received>,
    arrived: Vec<Received>,
    subscribed: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    /// Subscribes to `filter` at QoS 1 with a persistent session and waits
    /// for the first SUBACK.
    pub async fn connect(port: u16, client_id: &str, filter: &str) -> Self {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
        options
            .set_clean_session(false)
            .set_keep_alive(Duration::from_secs(5));
        let (client, mut event_loop) = AsyncClient::new(options, 16);
        let mut network = event_loop.network_options();
        network.set_tcp_nodelay(true);
        event_loop.set_network_options(network);
        let (messages_tx, messages) = mpsc::unbounded_channel();
        let (suback_tx, subscribed) = watch::channel(0u64);
        let filter = filter.to_owned();
        let task = tokio::spawn(async move {
            loop {
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        client.try_subscribe(&filter, QoS::AtLeastOnce).unwrap();
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        suback_tx.send_modify(|count| *count += 1);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let _ = messages_tx.send(Received {
                            topic: publish.topic,
                            payload: publish.payload.to_vec(),
                            retain: publish.retain,
                            at: Instant::now(),
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
        let mut this = Self {
            messages,
            arrived: Vec::new(),
            subscribed,
            task,
        };
        tokio::time::timeout(WAIT, this.subscribed.wait_for(|count| *count > 0))
            .await
            .expect("subscribed in time")
            .unwrap();
        this
    }

    /// Everything received so far, without waiting.
    pub fn drain(&mut self, into: &mut Vec<Received>) {
        while let Ok(message) = self.messages.try_recv() {
            into.push(message);
        }
    }

    /// The next message, or a panic after `WAIT`.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.messages.recv())
            .await
            .expect("a message in time")
            .expect("subscriber running")
    }

    /// Every message with an id (a decimal payload) received so far, once
    /// every id in `0..count` has arrived; in arrival order, duplicates included.
    pub async fn until_all(&mut self, count: usize) -> Vec<Received> {
        loop {
            let mut seen = vec![false; count];
            for message in &self.arrived {
                if let Some(slot) = seen.get_mut(message.id()) {
                    *slot = true;
                }
            }
            if seen.iter().all(|seen| *seen) {
                return self.arrived.clone();
            }
            let Ok(message) = tokio::time::timeout(WAIT, self.messages.recv()).await else {
                let absent: Vec<_> = (0..count).filter(|id| !seen[*id]).collect();
                let arrived: Vec<_> = self.arrived.iter().map(Received::id).collect();
                panic!("ids {absent:?} missing; arrived: {arrived:?}");
            };
            self.arrived.push(message.expect("subscriber running"));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Ids in order of first appearance.
pub fn first_appearances(messages: &[Received]) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    messages
        .iter()
        .map(Received::id)
        .filter(|id| seen.insert(*id))
        .collect()
}

pub fn publisher_config(port: u16, spool_dir: &Path, client_id: &str) -> PublisherConfig {
    let broker = BrokerOptions {
        host: "127.0.0.1".to_owned(),
        port,
        client_id: client_id.to_owned(),
        credentials: None,
        tls: None,
        keep_alive: Duration::from_secs(5),
        last_will: None,
        birth: None,
    };
    let mut config = PublisherConfig::new(broker, spool_dir);
    config.spool_max_bytes = 4 * 1024 * 1024;
    config.backoff_min = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(400);
    config
}
