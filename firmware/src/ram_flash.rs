//! A NOR flash in RAM, for host tests, emulators and the QEMU run.
//!
//! It behaves like the nRF52840's internal flash where the settings live:
//! erased bytes read `0xFF`, a write can only clear bits (the stored byte
//! becomes `old & new`), writes are whole 4-byte words at word-aligned
//! offsets and erases are whole 4 KiB pages. It can also lose power: after
//! [`cut_power_after`](RamFlash::cut_power_after) lets a given number of
//! bytes reach the array, the write or erase in progress stops half-way and
//! every operation fails until [`restore_power`](RamFlash::restore_power),
//! which is what a node sees across a power cut and a reboot.

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Bytes of a write unit: the nRF52840 NVMC programs 32-bit words.
pub const WORD_SIZE: usize = 4;

/// Bytes of an erase unit: the nRF52840's 4 KiB flash page.
pub const PAGE_SIZE: usize = 4096;

/// A flash of `SIZE` bytes (a whole number of [`PAGE_SIZE`] pages) held in RAM.
#[derive(Clone)]
pub struct RamFlash<const SIZE: usize> {
    bytes: [u8; SIZE],
    /// Bytes that may still be written or erased before the power goes;
    /// `None` while the power is steady.
    budget: Option<usize>,
    powered: bool,
    /// Bytes written or erased since the flash was made.
    wear: u64,
}

/// Why a [`RamFlash`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RamFlashError {
    /// Offset or length not a multiple of the write or erase unit.
    NotAligned,
    /// The range runs past the end of the flash.
    OutOfBounds,
    /// The power was cut during this operation or before it.
    PowerCut,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::PowerCut => NorFlashErrorKind::Other,
        }
    }
}

impl<const SIZE: usize> Default for RamFlash<SIZE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIZE: usize> RamFlash<SIZE> {
    /// A fully erased flash.
    #[must_use]
    pub const fn new() -> Self {
        const {
            assert!(
                SIZE.is_multiple_of(PAGE_SIZE),
                "a flash is made of whole pages"
            );
        };
        Self {
            bytes: [0xFF; SIZE],
            budget: None,
            powered: true,
            wear: 0,
        }
    }

    /// The array as it stands.
    #[must_use]
    pub fn bytes(&self) -> &[u8; SIZE] {
        &self.bytes
    }

    /// Lets `bytes` more bytes reach the array, then cuts the power: the
    /// write or erase that crosses the limit is left half done and fails, as
    /// does every operation after it.
    pub fn cut_power_after(&mut self, bytes: usize) {
        self.budget = Some(bytes);
    }

    /// Powers the flash up again with steady power, as after a reboot. What
    /// the array holds stays as the cut left it.
    pub fn restore_power(&mut self) {
        self.budget = None;
        self.powered = true;
    }

    /// Whether a cut happened and the power is still off.
    #[must_use]
    pub fn power_is_cut(&self) -> bool {
        !self.powered
    }

    /// Bytes written or erased since the flash was made: a measure of wear
    /// and the range of power-cut points worth trying.
    #[must_use]
    pub fn bytes_changed(&self) -> u64 {
        self.wear
    }

    /// Checks alignment and bounds and returns the range as indices.
    fn span(from: u32, len: usize, unit: usize) -> Result<core::ops::Range<usize>, RamFlashError> {
        let start = usize::try_from(from).map_err(|_| RamFlashError::OutOfBounds)?;
        if !start.is_multiple_of(unit) || !len.is_multiple_of(unit) {
            return Err(RamFlashError::NotAligned);
        }
        let end = start.checked_add(len).ok_or(RamFlashError::OutOfBounds)?;
        if end > SIZE {
            return Err(RamFlashError::OutOfBounds);
        }
        Ok(start..end)
    }

    /// How many of `want` bytes the power allows; cuts it when they run out.
    fn allow(&mut self, want: usize) -> usize {
        match &mut self.budget {
            None => want,
            Some(left) if *left >= want => {
                *left -= want;
                want
            }
            Some(left) => {
                let allowed = *left;
                *left = 0;
                self.powered = false;
                allowed
            }
        }
    }
}

impl<const SIZE: usize> ErrorType for RamFlash<SIZE> {
    type Error = RamFlashError;
}

impl<const SIZE: usize> ReadNorFlash for RamFlash<SIZE> {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        if !self.powered {
            return Err(RamFlashError::PowerCut);
        }
        let span = Self::span(offset, bytes.len(), 1)?;
        let src = self.bytes.get(span).ok_or(RamFlashError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl<const SIZE: usize> NorFlash for RamFlash<SIZE> {
    const WRITE_SIZE: usize = WORD_SIZE;
    const ERASE_SIZE: usize = PAGE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        if !self.powered {
            return Err(RamFlashError::PowerCut);
        }
        let len =
            usize::try_from(to.saturating_sub(from)).map_err(|_| RamFlashError::OutOfBounds)?;
        if to < from {
            return Err(RamFlashError::OutOfBounds);
        }
        let span = Self::span(from, len, PAGE_SIZE)?;
        let allowed = self.allow(len);
        let start = span.start;
        // A cut erase leaves the first part of the range erased and the
        // rest as it was.
        if let Some(dst) = self.bytes.get_mut(start..start + allowed) {
            dst.fill(0xFF);
        }
        self.wear = self.wear.saturating_add(allowed as u64);
        if allowed < len {
            Err(RamFlashError::PowerCut)
        } else {
            Ok(())
        }
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        if !self.powered {
            return Err(RamFlashError::PowerCut);
        }
        let span = Self::span(offset, bytes.len(), WORD_SIZE)?;
        let allowed = self.allow(bytes.len());
        let start = span.start;
        let dst = self
            .bytes
            .get_mut(start..start + allowed)
            .ok_or(RamFlashError::OutOfBounds)?;
        // NOR programming only pulls bits to 0.
        for (d, s) in dst.iter_mut().zip(bytes) {
            *d &= *s;
        }
        self.wear = self.wear.saturating_add(allowed as u64);
        if allowed < bytes.len() {
            Err(RamFlashError::PowerCut)
        } else {
            Ok(())
        }
    }
}
