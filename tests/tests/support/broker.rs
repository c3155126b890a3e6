//! Brokers and a subscriber, as the gateway's own MQTT tests use them
//! (copied from `gateway/tests/mqtt_support`, which they could share).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

fn wait_for_listener(port: u16) {
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
    /// user, which could not write the persistence file into `dir`.
    pub fn start(port: u16, dir: &Path) -> Self {
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
                 user root\n",
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

/// One message as the subscriber saw it; `at` is the arrival time.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub at: Instant,
}

/// A rumqttc subscriber (QoS 1, persistent session, fixed client id) that
/// reconnects and re-subscribes on its own.
pub struct Subscriber {
    pub messages: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    /// Subscribes to `filter` at QoS 1 and waits for the first SUBACK.
    pub async fn connect(port: u16, client_id: &str, filter: &str) -> Self {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
        options
            .set_clean_session(false)
            .set_keep_alive(Duration::from_secs(5));
        let (client, mut event_loop) = AsyncClient::new(options, 16);
        let (messages_tx, messages) = mpsc::unbounded_channel();
        let (suback_tx, mut subscribed) = watch::channel(0u64);
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
                            at: Instant::now(),
                        });
                    }
                    Ok(_) => {}
                    // Reconnects on the next poll; a short pause keeps a
                    // dead broker from spinning the loop.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
        tokio::time::timeout(WAIT, subscribed.wait_for(|count| *count > 0))
            .await
            .expect("subscribed in time")
            .unwrap();
        Self { messages, task }
    }

    /// Everything received so far, without waiting.
    pub fn drain(&mut self, into: &mut Vec<Received>) {
        while let Ok(message) = self.messages.try_recv() {
            into.push(message);
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
