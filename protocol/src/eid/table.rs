//! The flat hash table behind [`EidResolver`](super::EidResolver): observed
//! EID in, shopper and period out.
//!
//! Open addressing with linear probing over one `Vec` of 16-byte slots, in
//! Robin Hood order: an entry being inserted takes the place of any entry
//! nearer its own home slot, so every run of entries stays sorted by home
//! slot. A lookup can then stop at the first entry that sits nearer its home
//! than the EID sought would, which makes a miss about as cheap as a hit (a
//! plain linear-probing miss reads on to the next empty slot). The capacity
//! is a power of two holding at most three entries for every four slots.
//!
//! # Why the slot index is keyed
//!
//! EIDs are AES outputs, uniformly random to anyone without the keys, so any
//! of their bits would make a good index. But every shopper holds their own
//! key: someone enrolling many accounts could grind keys whose EIDs share
//! index bits for a chosen future period and pile them into one long run.
//! The index is therefore the top bits of `eid * multiplier`, the multiplier
//! derived from every enrolled identity key (see the resolver), which an
//! attacker who knows only their own keys cannot predict. Crafting *observed*
//! EIDs buys nothing: a lookup reads at most the longest displacement any
//! honest entry produced, plus one.

use alloc::vec::Vec;

use super::{PeriodOffset, Resolution, ShopperId};

/// At most 3 entries per 4 slots. In Robin Hood order a lookup, hit or miss,
/// then reads a few adjacent slots: with 10^6 shoppers (2^22 slots) the
/// longest displacement was 20 slots and a miss cost 40-75 ns
/// (`cargo bench -p aisle-protocol --bench eid`). Plain linear probing at the
/// same load read on to an empty slot: 131 ns a miss, longest run 161.
const LOAD_NUM: usize = 3;
const LOAD_DEN: usize = 4;

/// Small enough to cost nothing, large enough that the index shift stays
/// below 64 whatever the table holds.
const MIN_SLOTS: usize = 16;

const EMPTY: u32 = 0;
const AMBIGUOUS: u32 = 4;

/// One entry; `tag` is [`EMPTY`], [`AMBIGUOUS`] or a period offset + 2.
#[derive(Clone, Copy)]
struct Slot {
    eid: u64,
    shopper: u32,
    tag: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        eid: 0,
        shopper: 0,
        tag: EMPTY,
    };
}

const fn tag_of(offset: PeriodOffset) -> u32 {
    match offset {
        PeriodOffset::Previous => 1,
        PeriodOffset::Current => 2,
        PeriodOffset::Next => 3,
    }
}

/// Bytes of one slot.
pub(super) const SLOT_BYTES: usize = core::mem::size_of::<Slot>();

/// The home slot of `eid`: the top bits of its keyed product. The shifted
/// product has at most log2(slots) bits, so it always fits a `usize`.
fn home(eid: u64, multiplier: u64, shift: u32) -> usize {
    usize::try_from(eid.wrapping_mul(multiplier) >> shift).unwrap_or(0)
}

pub(super) struct EidTable {
    slots: Vec<Slot>,
    /// `slots.len() - 1`; the length is a power of two.
    mask: usize,
    /// `64 - log2(slots.len())`: the index is the product's top bits.
    shift: u32,
    /// Odd; see the module comment.
    multiplier: u64,
    /// The longest distance any entry sits from its home slot, which bounds
    /// every probe run.
    longest_probe: usize,
    len: usize,
    ambiguous: usize,
}

impl EidTable {
    pub(super) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            mask: 0,
            shift: 63,
            multiplier: 1,
            longest_probe: 0,
            len: 0,
            ambiguous: 0,
        }
    }

    /// Empties the table and sizes it for `entries`, reusing its allocation
    /// when the size does not change.
    pub(super) fn reset(&mut self, entries: usize, multiplier: u64) {
        let slots = entries
            .saturating_mul(LOAD_DEN)
            .div_ceil(LOAD_NUM)
            .max(MIN_SLOTS)
            .checked_next_power_of_two()
            .unwrap_or(1 << (usize::BITS - 1));
        if slots == self.slots.len() {
            self.slots.fill(Slot::EMPTY);
        } else {
            // Free the old table first, so a resize never holds both.
            self.slots = Vec::new();
            self.slots.resize(slots, Slot::EMPTY);
        }
        self.mask = slots - 1;
        self.shift = u64::BITS - slots.trailing_zeros();
        self.multiplier = multiplier | 1;
        self.longest_probe = 0;
        self.len = 0;
        self.ambiguous = 0;
    }

    fn home(&self, eid: u64) -> usize {
        home(eid, self.multiplier, self.shift)
    }

    /// How far the entry in slot `at` sits from its home slot.
    fn displacement(&self, slot: &Slot, at: usize) -> usize {
        at.wrapping_sub(self.home(slot.eid)) & self.mask
    }

    /// Records that `shopper` advertises `eid` in the period at `offset`.
    ///
    /// An EID already present for another shopper or period turns into
    /// [`Resolution::Ambiguous`] for good; the same entry twice (the same key
    /// enrolled twice under one id) is kept once.
    pub(super) fn insert(&mut self, eid: u64, shopper: ShopperId, offset: PeriodOffset) {
        // The resolver sizes the table for every entry it inserts; this only
        // keeps a probe run from ever circling a full table.
        if self.len >= self.slots.len() / LOAD_DEN * LOAD_NUM {
            return;
        }
        let (multiplier, shift, mask) = (self.multiplier, self.shift, self.mask);
        let mut carried = Slot {
            eid,
            shopper: shopper.0,
            tag: tag_of(offset),
        };
        // Whether `carried` is still the new entry, rather than one it displaced.
        let mut new = true;
        let mut i = self.home(eid);
        let mut distance = 0;
        for _ in 0..self.slots.len() {
            let Some(slot) = self.slots.get_mut(i) else {
                return;
            };
            if slot.tag == EMPTY {
                *slot = carried;
                self.len += 1;
                self.longest_probe = self.longest_probe.max(distance);
                return;
            }
            // Runs are sorted by home slot, so an equal EID lies before any
            // entry nearer its home than this one.
            if new && slot.eid == eid {
                if slot.tag != AMBIGUOUS
                    && (slot.shopper != carried.shopper || slot.tag != carried.tag)
                {
                    slot.tag = AMBIGUOUS;
                    self.ambiguous += 1;
                }
                return;
            }
            let theirs = i.wrapping_sub(home(slot.eid, multiplier, shift)) & mask;
            if theirs < distance {
                core::mem::swap(slot, &mut carried);
                self.longest_probe = self.longest_probe.max(distance);
                distance = theirs;
                new = false;
            }
            i = (i + 1) & mask;
            distance += 1;
        }
    }

    /// What `eid` resolves to, reading at most `longest_probe + 1` slots.
    pub(super) fn lookup(&self, eid: u64) -> Option<Resolution> {
        let mut i = self.home(eid);
        for distance in 0..=self.longest_probe {
            let slot = self.slots.get(i)?;
            if slot.tag == EMPTY {
                return None;
            }
            if slot.eid == eid {
                let offset = match slot.tag {
                    1 => PeriodOffset::Previous,
                    2 => PeriodOffset::Current,
                    3 => PeriodOffset::Next,
                    _ => return Some(Resolution::Ambiguous),
                };
                return Some(Resolution::Unique {
                    shopper: ShopperId(slot.shopper),
                    offset,
                });
            }
            // Had `eid` been inserted, it would sit here or earlier.
            if self.displacement(slot, i) < distance {
                return None;
            }
            i = (i + 1) & self.mask;
        }
        None
    }

    /// Distinct EIDs in the table.
    pub(super) const fn len(&self) -> usize {
        self.len
    }

    /// EIDs that more than one (shopper, period) produces.
    pub(super) const fn ambiguous(&self) -> usize {
        self.ambiguous
    }

    pub(super) const fn longest_probe(&self) -> usize {
        self.longest_probe
    }

    pub(super) fn slots(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * SLOT_BYTES
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::collections::HashSet;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    const OFFSETS: [PeriodOffset; 3] = [
        PeriodOffset::Previous,
        PeriodOffset::Current,
        PeriodOffset::Next,
    ];

    /// What the table should answer, from every insertion made.
    fn expected(inserted: &[(u64, u32, PeriodOffset)], eid: u64) -> Option<Resolution> {
        let mut found = inserted.iter().filter(|&&(e, ..)| e == eid);
        let &(_, shopper, offset) = found.next()?;
        if found.all(|&(_, s, o)| s == shopper && o == offset) {
            Some(Resolution::Unique {
                shopper: ShopperId(shopper),
                offset,
            })
        } else {
            Some(Resolution::Ambiguous)
        }
    }

    proptest! {
        /// With multiplier 1 and 16 slots an entry's home is its top four
        /// bits, so EIDs drawn from a few top nibbles pile into long runs that
        /// wrap past the end of the table: the hard cases for Robin Hood
        /// insertion and early-stopping lookups. Compared with a plain model.
        #[test]
        fn crowded_table_matches_a_model(
            entries in proptest::collection::vec(
                (prop::sample::select(vec![0u64, 1, 14, 15]), 0u64..6, 0u32..3, 0usize..3),
                0..=12,
            ),
            probes in proptest::collection::vec(any::<u64>(), 0..32),
        ) {
            let mut table = EidTable::new();
            table.reset(12, 0);
            prop_assert_eq!(table.slots(), 16);
            let mut inserted = Vec::new();
            for (top, low, shopper, offset) in entries {
                let eid = top << 60 | low;
                table.insert(eid, ShopperId(shopper), OFFSETS[offset]);
                inserted.push((eid, shopper, OFFSETS[offset]));
            }
            let distinct: HashSet<u64> = inserted.iter().map(|&(e, ..)| e).collect();
            prop_assert_eq!(table.len(), distinct.len());
            let ambiguous = distinct
                .iter()
                .filter(|&&e| expected(&inserted, e) == Some(Resolution::Ambiguous))
                .count();
            prop_assert_eq!(table.ambiguous(), ambiguous);
            for &(eid, ..) in &inserted {
                prop_assert_eq!(table.lookup(eid), expected(&inserted, eid));
            }
            for top in [0u64, 1, 2, 7, 14, 15] {
                for low in 0..8 {
                    let eid = top << 60 | low;
                    prop_assert_eq!(table.lookup(eid), expected(&inserted, eid));
                }
            }
            for eid in probes {
                prop_assert_eq!(table.lookup(eid), expected(&inserted, eid));
            }
        }
    }

    #[test]
    fn a_full_table_refuses_more() {
        let mut table = EidTable::new();
        table.reset(1, 0);
        for eid in 0..20 {
            table.insert(eid, ShopperId(1), PeriodOffset::Current);
        }
        assert_eq!(table.len(), 12);
        assert_eq!(table.lookup(19), None);
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        let table = EidTable::new();
        assert_eq!(table.lookup(0), None);
        assert_eq!(table.lookup(u64::MAX), None);
    }
}
