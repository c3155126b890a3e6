//! Interned names. Anchors and zones are numbered by their place in the
//! layout; devices by a number handed out at the edge by a [`DeviceTable`],
//! so the engine keeps them in plain vectors and never hashes a string per
//! sighting.

use std::collections::{HashMap, VecDeque};

/// An anchor, by its position in the layout's anchor list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnchorIdx(pub u16);

/// A zone, by its position in the layout's zone list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneIdx(pub u16);

/// A tracked device: an identity interned by a [`DeviceTable`]. Numbers are
/// dense from 0, which lets the engine index its tracks by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub u32);

/// What a number of the table holds.
#[derive(Debug, Clone)]
enum Slot {
    /// Bound to a name: [`DeviceTable::intern`] of it returns this number.
    Bound(Box<str>),
    /// Forgotten: the name no longer maps here, but outputs decided before
    /// the forgetting may still be named by it until [`DeviceTable::recycle`].
    Retiring(Box<str>),
    /// Free, waiting in the free list to be handed out again.
    Free,
}

/// Interns device identities (resolved ids, addresses) into [`DeviceId`]s,
/// and takes them back when the device is forgotten.
///
/// Phones advertise from random addresses that rotate every few minutes, so
/// a table that only grew would gain a few hundred names per phone per day.
/// Numbers are therefore recycled in two steps, so that no number is handed
/// to a new device while anything may still mean the old one by it:
///
/// 1. [`DeviceTable::forget`], once the engine has dropped the device's
///    state: the name is unbound (heard again, it gets a fresh number), but
///    the number still names it, for the outputs decided just before.
/// 2. [`DeviceTable::recycle`], once those outputs have been taken: every
///    forgotten number becomes free. Free numbers are handed out oldest
///    first, the smallest ones from a fresh table, so numbers stay dense
///    and bounded by the most devices ever held at once.
#[derive(Debug, Clone, Default)]
pub struct DeviceTable {
    ids: HashMap<Box<str>, DeviceId>,
    slots: Vec<Slot>,
    retiring: Vec<DeviceId>,
    free: VecDeque<DeviceId>,
    handed_out: u64,
}

impl DeviceTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The id for `name`, handing out a free or the next number the first
    /// time.
    ///
    /// # Panics
    ///
    /// With 2^32 names held at once.
    pub fn intern(&mut self, name: &str) -> DeviceId {
        self.intern_new(name).0
    }

    /// [`DeviceTable::intern`], also saying whether the number was handed
    /// out just now (the name was not bound).
    ///
    /// # Panics
    ///
    /// With 2^32 names held at once.
    pub fn intern_new(&mut self, name: &str) -> (DeviceId, bool) {
        if let Some(&id) = self.ids.get(name) {
            return (id, false);
        }
        let slot = Slot::Bound(name.into());
        let id = if let Some(id) = self.free.pop_front() {
            self.slots[id.0 as usize] = slot;
            id
        } else {
            let id = DeviceId(u32::try_from(self.slots.len()).expect("fewer than 2^32 devices"));
            self.slots.push(slot);
            id
        };
        self.ids.insert(name.into(), id);
        self.handed_out += 1;
        (id, true)
    }

    /// The id bound to `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<DeviceId> {
        self.ids.get(name).copied()
    }

    /// The name behind an id: bound, or forgotten but not yet recycled.
    #[must_use]
    pub fn name(&self, id: DeviceId) -> Option<&str> {
        match self.slots.get(id.0 as usize)? {
            Slot::Bound(name) | Slot::Retiring(name) => Some(name),
            Slot::Free => None,
        }
    }

    /// Unbinds `id`'s name: the device is gone (the engine holds nothing of
    /// it). The number keeps naming it until the next
    /// [`DeviceTable::recycle`]. An id not bound is left alone.
    pub fn forget(&mut self, id: DeviceId) {
        let Some(slot) = self.slots.get_mut(id.0 as usize) else {
            return;
        };
        if let Slot::Bound(name) = slot {
            let name = std::mem::take(name);
            self.ids.remove(&name);
            *slot = Slot::Retiring(name);
            self.retiring.push(id);
        }
    }

    /// Frees every number forgotten since the last call, for new devices.
    /// Call it once nothing refers to those numbers any more: the outputs
    /// decided with them have been named and published.
    pub fn recycle(&mut self) {
        for id in self.retiring.drain(..) {
            self.slots[id.0 as usize] = Slot::Free;
            self.free.push_back(id);
        }
    }

    /// How many names are bound.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no name is bound.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Numbers in use or waiting for reuse: one more than the highest id
    /// ever handed out.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Names handed a number since the table was made; a name forgotten
    /// and heard again counts again.
    #[must_use]
    pub fn handed_out(&self) -> u64 {
        self.handed_out
    }

    /// Bytes the table holds, as allocated: the name map, the slots, the
    /// lists and the names themselves (each twice: map key and slot).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        // A hashbrown table keeps one control byte per bucket beside each
        // entry; its bucket count is at least the capacity.
        let map = self.ids.capacity() * (size_of::<(Box<str>, DeviceId)>() + 1);
        let names: usize = self
            .slots
            .iter()
            .map(|s| match s {
                Slot::Bound(n) | Slot::Retiring(n) => 2 * n.len(),
                Slot::Free => 0,
            })
            .sum();
        map + names
            + self.slots.capacity() * size_of::<Slot>()
            + self.retiring.capacity() * size_of::<DeviceId>()
            + self.free.capacity() * size_of::<DeviceId>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_each_name_once() {
        let mut t = DeviceTable::new();
        let a = t.intern("phone-a");
        let b = t.intern("phone-b");
        assert_eq!(t.intern("phone-a"), a);
        assert_eq!((a, b), (DeviceId(0), DeviceId(1)));
        assert_eq!(t.name(b), Some("phone-b"));
        assert_eq!(t.get("phone-c"), None);
        assert_eq!(t.len(), 2);
        assert_eq!(t.intern_new("phone-b"), (b, false));
    }

    #[test]
    fn a_forgotten_number_names_its_device_until_recycled_then_serves_another() {
        let mut table = DeviceTable::new();
        let a = table.intern("phone-a");
        let b = table.intern("phone-b");
        table.forget(a);
        // Unbound at once: heard again, the name gets another number...
        assert_eq!(table.get("phone-a"), None);
        let again = table.intern("phone-a");
        assert_ne!(again, a);
        // ...while the old number still names what was decided with it.
        assert_eq!(table.name(a), Some("phone-a"));
        // Nobody gets the retiring number before it is recycled.
        let c = table.intern("phone-c");
        assert_ne!(c, a);
        table.recycle();
        assert_eq!(table.name(a), None);
        let d = table.intern("phone-d");
        assert_eq!(d, a, "the freed number is reused");
        assert_eq!(table.name(d), Some("phone-d"));
        // The re-heard name and the others are untouched.
        assert_eq!(table.get("phone-a"), Some(again));
        assert_eq!(table.name(b), Some("phone-b"));
        assert_eq!((table.len(), table.slots(), table.handed_out()), (4, 4, 5));
    }

    #[test]
    fn forgetting_twice_or_an_unknown_number_changes_nothing() {
        let mut t = DeviceTable::new();
        let a = t.intern("phone-a");
        t.forget(a);
        t.forget(a);
        t.forget(DeviceId(77));
        t.recycle();
        // Freed once: handed out once, then the table grows.
        assert_eq!(t.intern("x"), a);
        assert_eq!(t.intern("y"), DeviceId(1));
        t.forget(a);
        t.recycle();
        t.recycle();
        assert_eq!(t.intern("z"), a);
        assert_eq!(t.slots(), 2);
    }

    #[test]
    fn rotating_names_keep_the_table_as_small_as_the_crowd() {
        let mut t = DeviceTable::new();
        // 50 phones at a time, each name living 50 rounds, for 10,000 rounds.
        let (mut settled, mut most) = (0, 0);
        for round in 0..10_000u32 {
            if round == 100 {
                settled = t.heap_bytes();
            }
            most = most.max(t.heap_bytes());
            let name = format!("#anon:{round:012x}");
            t.intern(&name);
            if round >= 50 {
                let gone = format!("#anon:{:012x}", round - 50);
                let id = t.get(&gone).unwrap();
                t.forget(id);
            }
            t.recycle();
        }
        assert_eq!(t.len(), 50);
        assert!(t.slots() <= 51, "{} slots", t.slots());
        assert_eq!(t.handed_out(), 10_000);
        // Its memory, too, stops growing once the crowd has turned over
        // (the name map's free room moves as removals leave tombstones).
        println!("{settled} bytes after a turnover, {most} at most");
        assert!(
            most <= 2 * settled,
            "{most} bytes, {settled} after a turnover"
        );
    }
}
