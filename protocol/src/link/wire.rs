//! Bounds-checked little-endian reading and writing for the link's layouts.
//!
//! Every read and write goes through here, so the rest of the link never
//! indexes a slice and every short input or small buffer becomes an `Error`
//! naming the field.

use crate::Error;

/// Reads fields in order from a borrowed buffer.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Offset of the next byte to read, from the start of the buffer.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.saturating_add(n);
        let bytes = self.buf.get(self.pos..end).ok_or(Error::TooShort {
            what,
            need: end,
            got: self.buf.len(),
        })?;
        self.pos = end;
        Ok(bytes)
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Error> {
        let bytes = self.take(N, what)?;
        // `take` returned exactly N bytes.
        bytes.try_into().map_err(|_| Error::TooShort {
            what,
            need: N,
            got: bytes.len(),
        })
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        self.array::<1>(what).map(|[b]| b)
    }

    pub(crate) fn i8(&mut self, what: &'static str) -> Result<i8, Error> {
        self.array(what).map(i8::from_le_bytes)
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        self.array(what).map(u16::from_le_bytes)
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, Error> {
        self.array(what).map(i16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, Error> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A `u32` that later firmware appended to a body: `None` when the body
    /// ends before it, as older firmware's does.
    pub(crate) fn trailing_u32(&mut self, what: &'static str) -> Result<Option<u32>, Error> {
        if self.pos == self.buf.len() {
            Ok(None)
        } else {
            self.u32(what).map(Some)
        }
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    /// Fails if bytes remain: a fixed-size body with trailing bytes was
    /// written by something else.
    pub(crate) fn finish(self, what: &'static str) -> Result<(), Error> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Error::TooLong {
                what,
                max: self.pos,
                got: self.buf.len(),
            })
        }
    }
}

/// Writes fields in order into a caller's buffer.
pub(crate) struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Self { out, pos: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.pos
    }

    pub(crate) fn put(&mut self, bytes: &[u8], what: &'static str) -> Result<(), Error> {
        let end = self.pos.saturating_add(bytes.len());
        let got = self.out.len();
        let dst = self
            .out
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall {
                what,
                need: end,
                got,
            })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8, what: &'static str) -> Result<(), Error> {
        self.put(&[v], what)
    }

    pub(crate) fn i8(&mut self, v: i8, what: &'static str) -> Result<(), Error> {
        self.put(&v.to_le_bytes(), what)
    }

    pub(crate) fn u16(&mut self, v: u16, what: &'static str) -> Result<(), Error> {
        self.put(&v.to_le_bytes(), what)
    }

    pub(crate) fn i16(&mut self, v: i16, what: &'static str) -> Result<(), Error> {
        self.put(&v.to_le_bytes(), what)
    }

    pub(crate) fn u32(&mut self, v: u32, what: &'static str) -> Result<(), Error> {
        self.put(&v.to_le_bytes(), what)
    }

    pub(crate) fn u64(&mut self, v: u64, what: &'static str) -> Result<(), Error> {
        self.put(&v.to_le_bytes(), what)
    }

    /// The twin of [`Reader::trailing_u32`]: nothing for `None`, so the body
    /// reads as older firmware's.
    pub(crate) fn trailing_u32(&mut self, v: Option<u32>, what: &'static str) -> Result<(), Error> {
        match v {
            Some(v) => self.u32(v, what),
            None => Ok(()),
        }
    }
}
