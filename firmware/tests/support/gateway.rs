//! The gateway's end of the link, written with the protocol's gateway-side
//! API only: seal downlink frames, deframe and open uplink frames.

use aisle_firmware::protocol::link::{
    Direction, Feed, FrameKind, Header, Hello, LinkDeframer, MAX_WIRE_LEN, Message, NodeKey,
    ReplayGuard, Rssi, Sealer, Status, UnverifiedFrame,
};
use aisle_firmware::protocol::ll::Channel;

use super::Sim;

/// A sighting as the gateway decoded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedSighting {
    pub kind: FrameKind,
    pub channel: Channel,
    pub rssi: Rssi,
    pub count: u16,
    pub identity: Vec<u8>,
}

/// One uplink frame the gateway accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    Hello(Header, Hello),
    Status(Header, Status),
    Batch {
        header: Header,
        window_start_ms: u64,
        window_len_ms: u16,
        sightings: Vec<OwnedSighting>,
    },
}

impl Heard {
    pub fn header(&self) -> Header {
        match self {
            Heard::Hello(h, _) | Heard::Status(h, _) | Heard::Batch { header: h, .. } => *h,
        }
    }
}

/// The gateway's view of one node.
pub struct Gateway {
    pub sim: Sim,
    pub key: NodeKey,
    pub node_id: u32,
    pub downlink: Sealer,
    pub uplink_guard: ReplayGuard,
    deframer: LinkDeframer,
    /// Bytes of the node's output already read.
    read: usize,
    /// Uplink frames that failed to open, with the error.
    pub refused: Vec<aisle_firmware::protocol::Error>,
    /// Every downlink frame sent, as wire bytes, for replays.
    pub sent: Vec<Vec<u8>>,
}

impl Gateway {
    /// A gateway attaching now: it reads what the node writes from here on.
    pub fn new(sim: &Sim, key: NodeKey, node_id: u32) -> Self {
        let read = sim.0.borrow().from_node.len();
        Self {
            sim: sim.clone(),
            key,
            node_id,
            downlink: Sealer::new(key, node_id, Direction::GatewayToNode),
            uplink_guard: ReplayGuard::new(),
            deframer: LinkDeframer::new(),
            read,
            refused: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Switches to a node's new id and key, as after provisioning.
    pub fn rekey(&mut self, key: NodeKey, node_id: u32) {
        self.key = key;
        self.node_id = node_id;
        self.downlink = Sealer::new(key, node_id, Direction::GatewayToNode);
        self.uplink_guard = ReplayGuard::new();
    }

    /// Seals `message` and puts it on the link to the node.
    pub fn send(&mut self, message: &Message<'_>) {
        let mut wire = [0u8; MAX_WIRE_LEN];
        let n = self.downlink.seal(message, &mut wire).unwrap();
        self.inject(&wire[..n]);
        self.sent.push(wire[..n].to_vec());
    }

    /// Puts raw bytes on the link to the node.
    pub fn inject(&self, bytes: &[u8]) {
        let mut w = self.sim.0.borrow_mut();
        // Bytes queue behind those still on the line, at the line's rate.
        let start = w.to_node.back().map_or(w.now_us, |(t, _)| *t).max(w.now_us);
        for (at, &b) in (1..).map(|i| start + i * super::UART_BYTE_US).zip(bytes) {
            w.to_node.push_back((at, b));
        }
        w.activity += 1;
    }

    /// Opens everything the node wrote since the last call.
    pub fn receive(&mut self) -> Vec<Heard> {
        let fresh = {
            let w = self.sim.0.borrow();
            w.from_node[self.read..].to_vec()
        };
        self.read += fresh.len();
        let mut heard = Vec::new();
        let mut input: &[u8] = &fresh;
        loop {
            match self.deframer.feed(input) {
                Feed::Pending => break,
                Feed::Dropped { rest, error } => {
                    self.refused.push(error);
                    input = rest;
                }
                Feed::Frame { frame, rest } => {
                    let opened = UnverifiedFrame::parse(frame).and_then(|f| {
                        f.open(&self.key, Direction::NodeToGateway, &mut self.uplink_guard)
                    });
                    match opened {
                        Ok((header, Message::Hello(h))) => heard.push(Heard::Hello(header, h)),
                        Ok((header, Message::Status(s))) => heard.push(Heard::Status(header, s)),
                        Ok((header, Message::SightingBatch(b))) => heard.push(Heard::Batch {
                            header,
                            window_start_ms: b.window_start_ms(),
                            window_len_ms: b.window_len_ms(),
                            sightings: b
                                .iter()
                                .map(|s| {
                                    let s = s.unwrap();
                                    OwnedSighting {
                                        kind: s.kind,
                                        channel: s.channel,
                                        rssi: s.rssi,
                                        count: s.count,
                                        identity: s.identity.to_vec(),
                                    }
                                })
                                .collect(),
                        }),
                        Ok((_, other)) => panic!("a node sent a gateway message: {other:?}"),
                        Err(e) => self.refused.push(e),
                    }
                    input = rest;
                }
            }
        }
        heard
    }
}
