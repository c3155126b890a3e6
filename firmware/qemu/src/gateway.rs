//! The node link in memory, and the gateway's end of it: frames from the
//! node are deframed and opened with `protocol`'s receiving side, exactly
//! as the gateway does; `Configure` goes back sealed with the gateway's
//! downlink counter.

use core::convert::Infallible;

use aisle_firmware::protocol::link::{
    Configure, Direction, Feed, Hello, LinkDeframer, MAX_FRAME_LEN, MAX_WIRE_LEN, Message, NodeKey,
    Provision, ReplayGuard, Sealer, Status, open_frame,
};
use embassy_futures::select::{Either, select};
use embassy_futures::yield_now;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::pipe::Pipe;

use crate::sim::SimTime;

/// Bytes in flight each way. A UART would hold far less; a larger pipe only
/// means the node never waits on the gateway, which is not what is tested.
pub const WIRE_LEN: usize = 2048;

/// One direction of the link.
pub type Wire = Pipe<NoopRawMutex, WIRE_LEN>;

/// The node's end: what the board's UART is on the nRF52840.
pub struct NodeLink<'p> {
    pub from_gateway: &'p Wire,
    pub to_gateway: &'p Wire,
}

impl embedded_io_async::ErrorType for NodeLink<'_> {
    type Error = Infallible;
}

impl embedded_io_async::Read for NodeLink<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.from_gateway.read(buf).await)
    }
}

impl embedded_io_async::Write for NodeLink<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(self.to_gateway.write(buf).await)
    }

    /// Bytes in the pipe are with the gateway already.
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// A message the gateway accepted, copied out of its frame.
#[allow(clippy::large_enum_variant)] // Moved once per frame; there is no heap to box into.
pub enum Heard {
    Hello(Hello),
    Status(Status),
    /// A `SightingBatch` body; decode it with `SightingBatch::decode`.
    Batch {
        body: [u8; MAX_FRAME_LEN],
        len: usize,
    },
}

/// Why the gateway stopped waiting.
#[derive(Debug)]
pub enum Silence {
    /// Virtual time reached the deadline.
    Deadline,
    /// Neither side moved: the node waits for something that never comes.
    Stalled,
}

/// Polls without virtual time moving before a wait is called stalled. The
/// node yields at least once per radio operation and delay, so a live node
/// moves time long before this.
const STALL_POLLS: u32 = 200_000;

/// Waits until virtual time reaches `deadline_ms`.
async fn until(time: &SimTime, deadline_ms: u64) -> Silence {
    let mut still = 0;
    let mut last = time.now_us();
    while time.now_ms() < deadline_ms {
        yield_now().await;
        if time.now_us() == last {
            still += 1;
            if still > STALL_POLLS {
                return Silence::Stalled;
            }
        } else {
            still = 0;
            last = time.now_us();
        }
    }
    Silence::Deadline
}

/// The gateway as far as one node is concerned.
pub struct Gateway<'p, 'w> {
    key: NodeKey,
    from_node: &'p Wire,
    to_node: &'p Wire,
    time: &'w SimTime,
    deframer: LinkDeframer,
    /// Bytes read but not yet fed to the deframer.
    pending: [u8; 64],
    pending_at: usize,
    pending_len: usize,
    pub guard: ReplayGuard,
    downlink: Sealer,
    /// Frames from the node that failed to open; a healthy node sends none.
    pub rejected: u32,
    /// The counter the last `Configure` was sealed with.
    pub last_configure: u32,
}

impl<'p, 'w> Gateway<'p, 'w> {
    pub fn new(
        key: NodeKey,
        node_id: u32,
        from_node: &'p Wire,
        to_node: &'p Wire,
        time: &'w SimTime,
    ) -> Self {
        Self {
            key,
            from_node,
            to_node,
            time,
            deframer: LinkDeframer::new(),
            pending: [0; 64],
            pending_at: 0,
            pending_len: 0,
            guard: ReplayGuard::new(),
            downlink: Sealer::new(key, node_id, Direction::GatewayToNode),
            rejected: 0,
            last_configure: 0,
        }
    }

    /// The next message the node sends before virtual `deadline_ms`.
    pub async fn next(&mut self, deadline_ms: u64) -> Result<Heard, Silence> {
        loop {
            if self.pending_at == self.pending_len {
                let read = select(
                    self.from_node.read(&mut self.pending),
                    until(self.time, deadline_ms),
                );
                match read.await {
                    Either::First(n) => (self.pending_at, self.pending_len) = (0, n),
                    Either::Second(silence) => return Err(silence),
                }
            }
            let input = &self.pending[self.pending_at..self.pending_len];
            let (heard, rest_len) = match self.deframer.feed(input) {
                Feed::Pending => (None, 0),
                Feed::Dropped { rest, .. } => {
                    self.rejected += 1;
                    (None, rest.len())
                }
                Feed::Frame { frame, rest } => {
                    let heard = match open_frame(
                        &self.key,
                        Direction::NodeToGateway,
                        &mut self.guard,
                        frame,
                    ) {
                        Ok((_, Message::Hello(hello))) => Some(Heard::Hello(hello)),
                        Ok((_, Message::Status(status))) => Some(Heard::Status(status)),
                        Ok((_, Message::SightingBatch(batch))) => {
                            let mut body = [0; MAX_FRAME_LEN];
                            let len = batch.encode(&mut body).unwrap_or(0);
                            Some(Heard::Batch { body, len })
                        }
                        Ok(_) | Err(_) => {
                            self.rejected += 1;
                            None
                        }
                    };
                    (heard, rest.len())
                }
            };
            self.pending_at = self.pending_len - rest_len;
            if let Some(heard) = heard {
                return Ok(heard);
            }
        }
    }

    /// Seals `configure` with the next downlink counter and sends it;
    /// returns the bytes sent, for replaying them.
    pub async fn configure(&mut self, configure: Configure) -> ([u8; MAX_WIRE_LEN], usize) {
        self.last_configure = self.downlink.next_counter();
        let mut wire = [0; MAX_WIRE_LEN];
        let len = self
            .downlink
            .seal(&Message::Configure(configure), &mut wire)
            .expect("a Configure fits a frame");
        self.send_raw(&wire[..len]).await;
        (wire, len)
    }

    /// Gives the node `node_id` and `key`, sealed under the key it holds now,
    /// then talks to it under the new ones: a fresh guard, since the node
    /// restarts its counter under a new key, and a fresh downlink counter.
    pub async fn provision(&mut self, node_id: u32, key: NodeKey) {
        let mut wire = [0; MAX_WIRE_LEN];
        let provision = Message::Provision(Provision { node_id, key });
        let len = self
            .downlink
            .seal(&provision, &mut wire)
            .expect("a Provision fits a frame");
        self.send_raw(&wire[..len]).await;
        self.key = key;
        self.guard = ReplayGuard::new();
        self.downlink = Sealer::new(key, node_id, Direction::GatewayToNode);
    }

    /// Writes bytes to the node as they are: for forged and replayed frames.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.to_node.write(rest).await;
            rest = &rest[n..];
        }
    }
}
