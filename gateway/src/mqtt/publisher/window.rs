//! Which spool entries are in flight on one connection, and how far the
//! broker acknowledged them.
//!
//! rumqttc assigns packet ids itself and reports them only as it writes each
//! publish (`Outgoing::Publish(pkid)`, in the order requests were handed to
//! the client), so ids are learnt in that order and matched to PUBACKs here.

use std::collections::{HashMap, VecDeque};

use crate::mqtt::spool::SeqNo;

/// What a request handed to the rumqttc client carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    Spooled(SeqNo),
    /// Birth or offline status (QoS 1, not from the spool).
    Status,
    AtMostOnce,
}

/// A spool entry sent on this connection and not yet acknowledged.
#[derive(Debug)]
struct Unacked {
    seq: SeqNo,
    acked: bool,
}

#[derive(Debug, Default)]
pub(super) struct Window {
    /// Requests handed to the client whose `Outgoing::Publish` has not come.
    handed_over: VecDeque<Sent>,
    /// Packet id to what it carries, until the PUBACK.
    awaiting_ack: HashMap<u16, Sent>,
    /// Spool entries sent on this connection, oldest first.
    unacked: VecDeque<Unacked>,
    last_sent: Option<SeqNo>,
    statuses_unacked: usize,
}

impl Window {
    /// Records a request the client accepted.
    pub(super) fn handed_over(&mut self, sent: Sent) {
        match sent {
            Sent::Spooled(seq) => {
                self.unacked.push_back(Unacked { seq, acked: false });
                self.last_sent = Some(seq);
            }
            Sent::Status => self.statuses_unacked += 1,
            Sent::AtMostOnce => {}
        }
        self.handed_over.push_back(sent);
    }

    /// Spool entries sent and not yet acknowledged.
    pub(super) fn in_flight(&self) -> usize {
        self.unacked.len()
    }

    /// Statuses sent and not yet acknowledged.
    pub(super) fn statuses_unacked(&self) -> usize {
        self.statuses_unacked
    }

    /// The last spool entry sent on this connection.
    pub(super) fn last_sent(&self) -> Option<SeqNo> {
        self.last_sent
    }

    /// Handles `Outgoing::Publish(pkid)`: the oldest handed-over request was written.
    pub(super) fn written(&mut self, pkid: u16) -> Option<Sent> {
        let sent = self.handed_over.pop_front()?;
        if sent != Sent::AtMostOnce {
            self.awaiting_ack.insert(pkid, sent);
        }
        Some(sent)
    }

    /// Handles a PUBACK. Returns what it acknowledged and, if it moved, the
    /// newest spool entry up to which everything sent is acknowledged.
    pub(super) fn acknowledged(&mut self, pkid: u16) -> (Option<Sent>, Option<SeqNo>) {
        let Some(sent) = self.awaiting_ack.remove(&pkid) else {
            return (None, None);
        };
        match sent {
            Sent::Spooled(seq) => {
                if let Some(entry) = self.unacked.iter_mut().find(|entry| entry.seq == seq) {
                    entry.acked = true;
                }
                let mut through = None;
                while self.unacked.front().is_some_and(|entry| entry.acked) {
                    through = self.unacked.pop_front().map(|entry| entry.seq);
                }
                (Some(sent), through)
            }
            Sent::Status => {
                self.statuses_unacked -= 1;
                (Some(sent), None)
            }
            Sent::AtMostOnce => (Some(sent), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_moves_over_the_contiguous_acknowledged_prefix() {
        let mut window = Window::default();
        for seq in [10, 20, 30] {
            window.handed_over(Sent::Spooled(SeqNo(seq)));
        }
        assert_eq!(window.written(1), Some(Sent::Spooled(SeqNo(10))));
        assert_eq!(window.written(2), Some(Sent::Spooled(SeqNo(20))));
        assert_eq!(window.written(3), Some(Sent::Spooled(SeqNo(30))));
        assert_eq!(
            window.acknowledged(2),
            (Some(Sent::Spooled(SeqNo(20))), None)
        );
        assert_eq!(window.in_flight(), 3);
        assert_eq!(window.acknowledged(1).1, Some(SeqNo(20)));
        assert_eq!(window.in_flight(), 1);
        assert_eq!(window.acknowledged(3).1, Some(SeqNo(30)));
        assert_eq!(window.in_flight(), 0);
        assert_eq!(window.last_sent(), Some(SeqNo(30)));
    }

    #[test]
    fn statuses_and_positions_interleave_with_spooled_events() {
        let mut window = Window::default();
        window.handed_over(Sent::Status);
        window.handed_over(Sent::AtMostOnce);
        window.handed_over(Sent::Spooled(SeqNo(0)));
        assert_eq!(window.written(1), Some(Sent::Status));
        assert_eq!(window.written(0), Some(Sent::AtMostOnce));
        assert_eq!(window.written(2), Some(Sent::Spooled(SeqNo(0))));
        assert_eq!(window.statuses_unacked(), 1);
        assert_eq!(window.acknowledged(1), (Some(Sent::Status), None));
        assert_eq!(window.statuses_unacked(), 0);
        assert_eq!(window.acknowledged(2).1, Some(SeqNo(0)));
    }

    #[test]
    fn unknown_and_repeated_acknowledgements_are_ignored() {
        let mut window = Window::default();
        window.handed_over(Sent::Spooled(SeqNo(5)));
        assert_eq!(window.acknowledged(1), (None, None));
        window.written(1);
        assert_eq!(window.acknowledged(1).1, Some(SeqNo(5)));
        assert_eq!(window.acknowledged(1), (None, None));
        assert_eq!(window.written(9), None);
    }
}
