//! Interned names. Anchors and zones are numbered by their place in the
//! layout; devices by a number handed out at the edge by a [`DeviceTable`],
//! so the engine keeps them in plain vectors and never hashes a string per
//! sighting.

use std::collections::HashMap;

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

/// Interns device identities (resolved ids, addresses) into [`DeviceId`]s.
///
/// The table only grows: it lives at the edge, where whoever resolves
/// identities decides when a name is gone for good.
#[derive(Debug, Clone, Default)]
pub struct DeviceTable {
    ids: HashMap<String, DeviceId>,
    names: Vec<String>,
}

impl DeviceTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The id for `name`, handing out the next number the first time.
    ///
    /// # Panics
    ///
    /// After 2^32 distinct names.
    pub fn intern(&mut self, name: &str) -> DeviceId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = DeviceId(u32::try_from(self.names.len()).expect("fewer than 2^32 devices"));
        self.ids.insert(name.to_owned(), id);
        self.names.push(name.to_owned());
        id
    }

    /// The id already handed out for `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<DeviceId> {
        self.ids.get(name).copied()
    }

    /// The name behind an id.
    #[must_use]
    pub fn name(&self, id: DeviceId) -> Option<&str> {
        self.names.get(id.0 as usize).map(String::as_str)
    }

    /// How many names the table holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
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
    }
}
