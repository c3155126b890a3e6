//! The node's end of the node link: sealing frames under a counter that is
//! reserved in flash before use, and opening the gateway's frames.

use aisle_protocol::link::{
    Configure, Direction, LinkDeframer, MAX_WIRE_LEN, Message, Provision, ReplayGuard, Sealer,
    UnverifiedFrame,
};
use embedded_io_async::Write;
use embedded_storage_async::nor_flash::NorFlash;

use crate::Error;
use crate::settings::{COUNTER_BLOCK, Record, Store};

/// What the gateway asked for in a frame that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// New settings; `counter` is the frame's downlink counter.
    Configure {
        /// The settings.
        configure: Configure,
        /// The frame's counter, persisted with the settings.
        counter: u32,
    },
    /// A new id and key.
    Provision(Provision),
}

/// Sealing state and the downlink's defences.
pub(crate) struct Uplink {
    sealer: Sealer,
    /// No counter at or above this was reserved in flash yet.
    counter_mark: u32,
    guard: ReplayGuard,
    pub(crate) deframer: LinkDeframer,
    wire: [u8; MAX_WIRE_LEN],
    /// Gateway frames refused: noise, forgery, replay, wrong node or message.
    pub(crate) frames_rejected: u32,
    /// Deframer drops already counted into `frames_rejected`.
    deframer_drops_seen: u32,
}

impl Uplink {
    /// Resumes under `record`'s key, with counters from `counter_mark` on.
    pub(crate) fn new(record: &Record, counter_mark: u32) -> Self {
        let settings = &record.settings;
        Self {
            sealer: Sealer::resume(
                settings.key,
                settings.node_id,
                Direction::NodeToGateway,
                counter_mark,
            ),
            counter_mark,
            guard: ReplayGuard::resume(record.downlink_last),
            deframer: LinkDeframer::new(),
            wire: [0; MAX_WIRE_LEN],
            frames_rejected: 0,
            deframer_drops_seen: 0,
        }
    }

    /// Takes up `record`'s key and downlink counter, with uplink counters
    /// from `counter_mark` on, in place: the deframer and counts stay.
    pub(crate) fn resume(&mut self, record: &Record, counter_mark: u32) {
        let settings = &record.settings;
        self.sealer = Sealer::resume(
            settings.key,
            settings.node_id,
            Direction::NodeToGateway,
            counter_mark,
        );
        self.counter_mark = counter_mark;
        self.guard = ReplayGuard::resume(record.downlink_last);
    }

    /// Starts over under a new key: counters from 1 in both directions.
    /// The caller has already persisted the record; the counter mark is
    /// reset here, after it, so a cut in between leaves a mark that is too
    /// high, never one that is too low.
    pub(crate) async fn rekey<S: NorFlash, RE, LE>(
        &mut self,
        store: &mut Store<S>,
        record: &Record,
    ) -> Result<(), Error<RE, LE, S::Error>> {
        let mark = 1 + COUNTER_BLOCK;
        store.set_counter_mark(mark).await.map_err(Error::Storage)?;
        self.counter_mark = mark;
        self.sealer = Sealer::new(
            record.settings.key,
            record.settings.node_id,
            Direction::NodeToGateway,
        );
        self.guard = ReplayGuard::resume(record.downlink_last);
        Ok(())
    }

    /// Takes a new node id under the same key: the counters go on.
    pub(crate) fn rename(&mut self, key: [u8; 16], node_id: u32) {
        self.sealer = Sealer::resume(
            key,
            node_id,
            Direction::NodeToGateway,
            self.sealer.next_counter(),
        );
    }

    /// Seals `message` and writes it to the link, reserving a new block of
    /// counters in flash first when the reserved ones are used up.
    pub(crate) async fn send<L: Write, S: NorFlash, RE>(
        &mut self,
        link: &mut L,
        store: &mut Store<S>,
        message: &Message<'_>,
    ) -> Result<(), Error<RE, L::Error, S::Error>> {
        let next = self.sealer.next_counter();
        if next >= self.counter_mark {
            let mark = next.saturating_add(COUNTER_BLOCK);
            store.set_counter_mark(mark).await.map_err(Error::Storage)?;
            self.counter_mark = mark;
        }
        let n = self
            .sealer
            .seal(message, &mut self.wire)
            .map_err(Error::Protocol)?;
        let frame = self.wire.get(..n).unwrap_or_default();
        link.write_all(frame).await.map_err(Error::Link)?;
        link.flush().await.map_err(Error::Link)
    }

    /// Feeds bytes from the link through the deframer and opens each frame
    /// under `key` for node `node_id`. Returns the first command found and
    /// the bytes after its frame; refused frames are counted.
    pub(crate) fn receive<'i>(
        &mut self,
        key: &[u8; 16],
        node_id: u32,
        mut input: &'i [u8],
    ) -> (Option<Command>, &'i [u8]) {
        use aisle_protocol::link::Feed;
        loop {
            match self.deframer.feed(input) {
                Feed::Pending => {
                    self.count_deframer_drops();
                    return (None, &[]);
                }
                Feed::Dropped { rest, .. } => input = rest,
                Feed::Frame { frame, rest } => {
                    // Another node's frame is refused before it is opened,
                    // so its counter cannot move this node's replay guard.
                    let opened = UnverifiedFrame::parse(frame)
                        .and_then(|f| {
                            if f.claimed_header().node_id == node_id {
                                Ok(f)
                            } else {
                                Err(aisle_protocol::Error::WrongKind {
                                    expected: "a frame for this node",
                                })
                            }
                        })
                        .and_then(|f| f.open(key, Direction::GatewayToNode, &mut self.guard));
                    let command = match opened {
                        Ok((header, Message::Configure(configure))) => Some(Command::Configure {
                            configure,
                            counter: header.counter,
                        }),
                        Ok((_, Message::Provision(provision))) => {
                            Some(Command::Provision(provision))
                        }
                        _ => None,
                    };
                    if command.is_none() {
                        self.frames_rejected = self.frames_rejected.wrapping_add(1);
                    }
                    self.count_deframer_drops();
                    if command.is_some() {
                        return (command, rest);
                    }
                    input = rest;
                }
            }
        }
    }

    /// Counts a refusal that happened outside the deframer (e.g. a command
    /// an unprovisioned node does not take).
    pub(crate) fn reject(&mut self) {
        self.frames_rejected = self.frames_rejected.wrapping_add(1);
    }

    fn count_deframer_drops(&mut self) {
        let stats = self.deframer.stats();
        let drops = stats.malformed.wrapping_add(stats.oversized);
        let new = drops.wrapping_sub(self.deframer_drops_seen);
        self.frames_rejected = self.frames_rejected.wrapping_add(new);
        self.deframer_drops_seen = drops;
    }
}
