//! A node's settings flash kept in a file, so an emulated node keeps its
//! identity, key and frame counter across restarts as a board does.
//!
//! It behaves as NOR flash does (nRF52 geometry: 4-byte words, 4 KiB
//! pages): erase sets a page to 0xFF, a write can only clear bits. Every
//! erase and write goes to the file before it returns, as it would be on
//! the chip.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// nRF52's flash word.
pub const WORD: usize = 4;
/// nRF52's flash page.
pub const PAGE: usize = 4096;

/// Flash backed by a file of `pages` pages.
#[derive(Debug)]
pub struct FileFlash {
    file: File,
    image: Vec<u8>,
}

/// What a file-backed flash can fail with.
#[derive(Debug, thiserror::Error)]
pub enum FileFlashError {
    /// Reading or writing the file.
    #[error("flash file: {0}")]
    Io(#[from] std::io::Error),
    /// The file holds another size of flash than asked for.
    #[error("flash file holds {got} bytes, not {want}")]
    WrongSize {
        /// Bytes asked for.
        want: usize,
        /// Bytes in the file.
        got: usize,
    },
    /// An address or length off the word or page grid, or past the end.
    #[error("flash access out of bounds or misaligned")]
    Misuse(NorFlashErrorKind),
}

impl NorFlashError for FileFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FileFlashError::Misuse(kind) => *kind,
            _ => NorFlashErrorKind::Other,
        }
    }
}

impl FileFlash {
    /// Opens the flash file at `path`, creating it erased when missing.
    pub fn open(path: &Path, pages: usize) -> Result<Self, FileFlashError> {
        let want = pages * PAGE;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut image = Vec::new();
        file.read_to_end(&mut image)?;
        if image.is_empty() {
            image = vec![0xFF; want];
            file.write_all(&image)?;
            file.sync_data()?;
        } else if image.len() != want {
            return Err(FileFlashError::WrongSize {
                want,
                got: image.len(),
            });
        }
        Ok(FileFlash { file, image })
    }

    fn check(&self, offset: u32, len: usize, align: usize) -> Result<usize, FileFlashError> {
        let start = offset as usize;
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(FileFlashError::Misuse(NorFlashErrorKind::NotAligned));
        }
        if start
            .checked_add(len)
            .is_none_or(|end| end > self.image.len())
        {
            return Err(FileFlashError::Misuse(NorFlashErrorKind::OutOfBounds));
        }
        Ok(start)
    }

    fn persist(&mut self, start: usize, len: usize) -> Result<(), FileFlashError> {
        self.file.seek(SeekFrom::Start(start as u64))?;
        self.file.write_all(&self.image[start..start + len])?;
        self.file.sync_data()?;
        Ok(())
    }
}

impl ErrorType for FileFlash {
    type Error = FileFlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let start = self.check(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(&self.image[start..start + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.image.len()
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = PAGE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to
            .checked_sub(from)
            .ok_or(FileFlashError::Misuse(NorFlashErrorKind::OutOfBounds))?
            as usize;
        let start = self.check(from, len, PAGE)?;
        self.image[start..start + len].fill(0xFF);
        self.persist(start, len)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let start = self.check(offset, bytes.len(), WORD)?;
        // NOR programming only clears bits.
        for (cell, byte) in self.image[start..start + bytes.len()].iter_mut().zip(bytes) {
            *cell &= byte;
        }
        self.persist(start, bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_what_was_written_across_reopen_and_only_clears_bits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.flash");
        let mut flash = FileFlash::open(&path, 2).unwrap();
        flash.write(8, &[0x0F, 0xF0, 0x12, 0x34]).await.unwrap();
        flash.write(8, &[0xFF, 0x00, 0xFF, 0xFF]).await.unwrap();
        drop(flash);

        let mut flash = FileFlash::open(&path, 2).unwrap();
        let mut got = [0u8; 4];
        flash.read(8, &mut got).await.unwrap();
        assert_eq!(got, [0x0F, 0x00, 0x12, 0x34]);
        flash.erase(0, 4096).await.unwrap();
        flash.read(8, &mut got).await.unwrap();
        assert_eq!(got, [0xFF; 4]);
    }

    #[tokio::test]
    async fn refuses_misaligned_or_out_of_range_access_and_wrong_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.flash");
        let mut flash = FileFlash::open(&path, 1).unwrap();
        let misaligned = flash.write(2, &[0; 4]).await.unwrap_err();
        assert_eq!(misaligned.kind(), NorFlashErrorKind::NotAligned);
        let past_end = flash.write(4096, &[0; 4]).await.unwrap_err();
        assert_eq!(past_end.kind(), NorFlashErrorKind::OutOfBounds);
        let half_page = flash.erase(0, 100).await.unwrap_err();
        assert_eq!(half_page.kind(), NorFlashErrorKind::NotAligned);
        drop(flash);
        let err = FileFlash::open(&path, 3).unwrap_err();
        assert!(err.to_string().contains("4096 bytes, not 12288"), "{err}");
    }
}
