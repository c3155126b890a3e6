//! A node as the firmware behaves on the node link, scripted by a test,
//! on the master side of a real pseudo-terminal.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aisle_protocol::link::{
    Configure, Direction, Feed, FirmwareVersion, Hello, LinkDeframer, MAX_WIRE_LEN, Message,
    NodeKey, Provision, ReplayGuard, Role, Sealer, UnverifiedFrame,
};
use serialport::{SerialPort as _, TTYPort};

pub const FIRMWARE: FirmwareVersion = FirmwareVersion {
    major: 0,
    minor: 1,
    patch: 0,
};

/// A node as the firmware behaves on the link, scripted by the test: it
/// holds the master side of a pty, the gateway the slave.
pub struct ScriptedNode {
    pub master: TTYPort,
    /// The slave as `TTYPort::pair` opened it; kept so the pty stays up
    /// until the gateway opens the slave itself.
    _slave: TTYPort,
    pub slave_path: PathBuf,
    pub key: NodeKey,
    pub id: u32,
    pub uplink: Sealer,
    pub downlink_guard: ReplayGuard,
    deframer: LinkDeframer,
}

/// A message from the gateway, as the node opened it.
#[derive(Debug, Clone, Copy)]
pub enum Downlink {
    Configure(Configure),
    Provision(Provision),
}

impl ScriptedNode {
    pub fn new(key: NodeKey, id: u32) -> Self {
        let (master, slave) = TTYPort::pair().expect("a pty pair");
        let slave_path = PathBuf::from(slave.name().expect("the slave's path"));
        ScriptedNode {
            master,
            _slave: slave,
            slave_path,
            key,
            id,
            uplink: Sealer::new(key, id, Direction::NodeToGateway),
            downlink_guard: ReplayGuard::new(),
            deframer: LinkDeframer::new(),
        }
    }

    /// Seals `message` and returns the wire bytes, without sending them.
    pub fn seal(&mut self, message: &Message<'_>) -> Vec<u8> {
        let mut buf = [0u8; MAX_WIRE_LEN];
        let n = self.uplink.seal(message, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    pub fn send(&mut self, message: &Message<'_>) -> Vec<u8> {
        let bytes = self.seal(message);
        self.write(&bytes);
        bytes
    }

    /// `Hello`, naming the last downlink counter the node accepted (0
    /// before any), as the firmware does.
    pub fn hello(&mut self, role: Role) -> Vec<u8> {
        self.send(&Message::Hello(Hello {
            node_id: self.id,
            firmware: FIRMWARE,
            role,
            downlink_last: Some(self.downlink_guard.last()),
        }))
    }

    /// The next frame from the gateway that opens under the node's key,
    /// within `timeout`.
    pub fn downlink(&mut self, timeout: Duration) -> Option<Downlink> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 1024];
        while Instant::now() < deadline {
            let n = match self.master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(e) => panic!("node read: {e}"),
            };
            let mut input = &buf[..n];
            loop {
                match self.deframer.feed(input) {
                    Feed::Pending => break,
                    Feed::Dropped { rest, .. } => input = rest,
                    Feed::Frame { frame, rest } => {
                        input = rest;
                        let opened = UnverifiedFrame::parse(frame).and_then(|f| {
                            f.open(
                                &self.key,
                                Direction::GatewayToNode,
                                &mut self.downlink_guard,
                            )
                        });
                        match opened {
                            Ok((_, Message::Configure(c))) => return Some(Downlink::Configure(c)),
                            Ok((_, Message::Provision(p))) => return Some(Downlink::Provision(p)),
                            Ok(_) | Err(_) => {}
                        }
                    }
                }
            }
        }
        None
    }

    /// Takes a `Provision` as the firmware does: new id and key, uplink
    /// counter from 1, then `Hello`.
    pub fn apply(&mut self, p: Provision) {
        self.key = p.key;
        self.id = p.node_id;
        self.uplink = Sealer::new(p.key, p.node_id, Direction::NodeToGateway);
        self.downlink_guard = ReplayGuard::new();
        self.hello(Role::Scanner);
    }
}
