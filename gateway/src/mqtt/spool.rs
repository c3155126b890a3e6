//! A bounded on-disk FIFO of outgoing QoS 1 messages.
//!
//! Presence events and offer triggers must survive a broker outage and a
//! gateway restart, so the publisher accepts a QoS 1 message only once it is
//! here and fsynced. Layout in the spool directory:
//!
//! - `spool.log`: a 16-byte header (magic, logical offset of the first byte
//!   after the header) followed by records `[len u32][crc32 u32][body]`, where
//!   the CRC covers the length and the body. Records are only ever appended.
//! - `spool.cursor`: the logical offset up to which the broker acknowledged,
//!   replaced atomically (write a temporary file, fsync, rename, fsync the
//!   directory), so it is either the old or the new value after a crash.
//!
//! A message's [`SeqNo`] is its logical byte offset: it grows forever, even
//! across compactions, which rewrite the log without the acknowledged prefix.
//!
//! Every append is fsynced. The gateway emits tens of events per second at
//! most, and an fsync on the Pi's SD card costs milliseconds, so this is
//! affordable and means "accepted" and "durable" are the same thing.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Outgoing, QoS};

const LOG_FILE: &str = "spool.log";
const CURSOR_FILE: &str = "spool.cursor";
const LOG_MAGIC: &[u8; 8] = b"AISLSPL1";
const CURSOR_MAGIC: &[u8; 8] = b"AISLCUR1";
const HEADER_LEN: u64 = HEADER_BYTES as u64;
const HEADER_BYTES: usize = 16;
const CURSOR_LEN: usize = 20;
/// Length and CRC in front of every record body.
const FRAME_LEN: u64 = FRAME_BYTES as u64;
const FRAME_BYTES: usize = 8;
/// Body prefix: QoS, retain flag, topic length.
const BODY_PREFIX_LEN: usize = 4;
/// Once everything is acknowledged, a log larger than this is replaced by an
/// empty one so that the file does not grow for days between restarts.
const COMPACT_WHEN_IDLE_BYTES: u64 = 1024 * 1024;

/// Position of a message in the spool; later messages have larger numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeqNo(pub u64);

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error(
        "spool is full: {used} of {max} bytes hold unacknowledged messages, {needed} more needed"
    )]
    Full { used: u64, max: u64, needed: u64 },
    #[error("message of {size} bytes can never fit a spool of {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error("topic of {len} bytes is longer than MQTT allows")]
    TopicTooLong { len: usize },
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: &'static str },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u64,
    len: u64,
}

/// The spool; see the module documentation for the format.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    log: File,
    /// Logical offset of the first byte after the header.
    base: u64,
    /// Logical offset one past the last complete record.
    end: u64,
    /// Logical offset up to which the broker acknowledged.
    acked: u64,
    max_bytes: u64,
    /// Unacknowledged records, oldest first.
    unacked: VecDeque<Entry>,
}

impl Spool {
    /// Opens or creates the spool in `dir`, holding at most `max_bytes` of
    /// messages. Recovers after a crash: a torn last record is cut off.
    pub fn open(dir: impl AsRef<Path>, max_bytes: u64) -> Result<Self, SpoolError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let acked = read_cursor(&dir)?;
        let log_path = dir.join(LOG_FILE);
        if !log_path.exists() {
            replace_log(&dir, acked.unwrap_or(0), &[])?;
        }
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .map_err(io_at(&log_path))?;
        let mut magic = [0u8; 8];
        let mut base = [0u8; 8];
        log.read_exact_at(&mut magic, 0)
            .and_then(|()| log.read_exact_at(&mut base, 8))
            .map_err(io_at(&log_path))?;
        if &magic != LOG_MAGIC {
            return Err(SpoolError::Corrupt {
                path: log_path,
                reason: "not a spool log (bad magic)",
            });
        }
        let base = u64::from_le_bytes(base);
        let file_len = log.metadata().map_err(io_at(&log_path))?.len();
        let physical_end = base + file_len - HEADER_LEN;
        let acked = acked.unwrap_or(base).max(base);

        let mut spool = Self {
            dir,
            log,
            base,
            end: acked,
            acked,
            max_bytes,
            unacked: VecDeque::new(),
        };
        if acked > physical_end {
            // Only outside damage gets here: everything up to the cursor was
            // acknowledged, so nothing unacknowledged is lost by starting over.
            tracing::warn!(
                acked,
                physical_end,
                "spool log shorter than its cursor; starting empty"
            );
            spool.reset_log(acked)?;
            return Ok(spool);
        }
        spool.recover(physical_end)?;
        Ok(spool)
    }

    /// Appends `message` and fsyncs it. On `Ok` the message is durable.
    pub fn push(&mut self, message: &Outgoing) -> Result<SeqNo, SpoolError> {
        let record = encode_record(message)?;
        let size = record.len() as u64;
        if size > self.max_bytes {
            return Err(SpoolError::TooLarge {
                size,
                max: self.max_bytes,
            });
        }
        if self.end - self.base + size > self.max_bytes && self.acked > self.base {
            self.compact()?;
        }
        if self.end - self.base + size > self.max_bytes {
            return Err(SpoolError::Full {
                used: self.end - self.acked,
                max: self.max_bytes,
                needed: size,
            });
        }
        let at = self.physical(self.end);
        let written = self
            .log
            .write_all_at(&record, at)
            .and_then(|()| self.log.sync_data());
        if let Err(source) = written {
            // Cut a partial record off so that later appends stay readable.
            let _ = self.log.set_len(at);
            return Err(SpoolError::Io {
                path: self.log_path(),
                source,
            });
        }
        let seq = self.end;
        self.unacked.push_back(Entry { seq, len: size });
        self.end += size;
        Ok(SeqNo(seq))
    }

    /// Reads the unacknowledged message at `seq`, if there is one.
    pub fn get(&self, seq: SeqNo) -> Result<Option<Outgoing>, SpoolError> {
        let index = self.unacked.partition_point(|entry| entry.seq < seq.0);
        match self.unacked.get(index) {
            Some(entry) if entry.seq == seq.0 => self.read(*entry).map(Some),
            _ => Ok(None),
        }
    }

    /// Unacknowledged messages from `seq` on (inclusive), oldest first.
    pub fn iter_from(
        &self,
        seq: SeqNo,
    ) -> impl Iterator<Item = Result<(SeqNo, Outgoing), SpoolError>> + '_ {
        let start = self.unacked.partition_point(|entry| entry.seq < seq.0);
        self.unacked
            .range(start..)
            .map(|entry| self.read(*entry).map(|message| (SeqNo(entry.seq), message)))
    }

    /// Unacknowledged messages after `seq` (exclusive), oldest first.
    pub fn iter_after(
        &self,
        seq: SeqNo,
    ) -> impl Iterator<Item = Result<(SeqNo, Outgoing), SpoolError>> + '_ {
        self.iter_from(SeqNo(seq.0 + 1))
    }

    /// The oldest unacknowledged message's number.
    #[must_use]
    pub fn first_unacked(&self) -> Option<SeqNo> {
        self.unacked.front().map(|entry| SeqNo(entry.seq))
    }

    /// Marks every message up to and including `seq` as acknowledged and
    /// persists that. Numbers already acknowledged are ignored.
    pub fn ack_through(&mut self, seq: SeqNo) -> Result<(), SpoolError> {
        let mut acked = self.acked;
        while let Some(entry) = self.unacked.front().copied() {
            if entry.seq > seq.0 {
                break;
            }
            acked = entry.seq + entry.len;
            self.unacked.pop_front();
        }
        if acked == self.acked {
            return Ok(());
        }
        write_cursor(&self.dir, acked)?;
        self.acked = acked;
        if self.unacked.is_empty() && self.end - self.base > COMPACT_WHEN_IDLE_BYTES {
            self.reset_log(self.end)?;
        }
        Ok(())
    }

    /// Number of unacknowledged messages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.unacked.len()
    }

    /// Whether every message was acknowledged.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.unacked.is_empty()
    }

    /// Bytes held by unacknowledged messages.
    #[must_use]
    pub fn unacked_bytes(&self) -> u64 {
        self.end - self.acked
    }

    fn physical(&self, logical: u64) -> u64 {
        HEADER_LEN + logical - self.base
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// Scans from the cursor, indexing complete records and cutting off the
    /// first incomplete or damaged one and everything after it.
    fn recover(&mut self, physical_end: u64) -> Result<(), SpoolError> {
        let mut pos = self.acked;
        while let Some(len) = self.valid_record_at(pos, physical_end)? {
            self.unacked.push_back(Entry { seq: pos, len });
            pos += len;
        }
        self.end = pos;
        if pos < physical_end {
            tracing::warn!(
                at = pos,
                dropped_bytes = physical_end - pos,
                "cutting a torn record off the spool"
            );
            let path = self.log_path();
            self.log.set_len(self.physical(pos)).map_err(io_at(&path))?;
            self.log.sync_all().map_err(io_at(&path))?;
        }
        Ok(())
    }

    fn valid_record_at(&self, pos: u64, physical_end: u64) -> Result<Option<u64>, SpoolError> {
        if physical_end - pos < FRAME_LEN {
            return Ok(None);
        }
        let mut frame = [0u8; FRAME_BYTES];
        self.log
            .read_exact_at(&mut frame, self.physical(pos))
            .map_err(io_at(&self.log_path()))?;
        let body_len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
        if u64::from(body_len) > physical_end - pos - FRAME_LEN {
            return Ok(None);
        }
        let Ok(body_bytes) = usize::try_from(body_len) else {
            return Ok(None);
        };
        let mut body = vec![0u8; body_bytes];
        self.log
            .read_exact_at(&mut body, self.physical(pos) + FRAME_LEN)
            .map_err(io_at(&self.log_path()))?;
        if check_record(&frame, &body).is_none() {
            return Ok(None);
        }
        Ok(Some(FRAME_LEN + u64::from(body_len)))
    }

    fn read(&self, entry: Entry) -> Result<Outgoing, SpoolError> {
        let len = usize::try_from(entry.len).map_err(|_| SpoolError::Corrupt {
            path: self.log_path(),
            reason: "record larger than memory",
        })?;
        let mut record = vec![0u8; len];
        self.log
            .read_exact_at(&mut record, self.physical(entry.seq))
            .map_err(io_at(&self.log_path()))?;
        let (frame, body) = record.split_at(FRAME_BYTES);
        check_record(frame, body).ok_or_else(|| SpoolError::Corrupt {
            path: self.log_path(),
            reason: "record changed on disk after it was written",
        })
    }

    /// Rewrites the log without the acknowledged prefix.
    fn compact(&mut self) -> Result<(), SpoolError> {
        let len = usize::try_from(self.end - self.acked).map_err(|_| SpoolError::Corrupt {
            path: self.log_path(),
            reason: "spool larger than memory",
        })?;
        let mut tail = vec![0u8; len];
        self.log
            .read_exact_at(&mut tail, self.physical(self.acked))
            .map_err(io_at(&self.log_path()))?;
        tracing::debug!(
            dropped = self.acked - self.base,
            kept = len,
            "compacting spool"
        );
        self.log = replace_log(&self.dir, self.acked, &tail)?;
        self.base = self.acked;
        Ok(())
    }

    /// Replaces the log with an empty one starting at `base`; only valid when
    /// everything before `base` is acknowledged.
    fn reset_log(&mut self, base: u64) -> Result<(), SpoolError> {
        self.log = replace_log(&self.dir, base, &[])?;
        self.base = base;
        self.end = base;
        self.acked = base;
        self.unacked.clear();
        Ok(())
    }
}

/// Atomically installs a log starting at logical offset `base` holding `records`.
fn replace_log(dir: &Path, base: u64, records: &[u8]) -> Result<File, SpoolError> {
    let mut contents = Vec::with_capacity(HEADER_BYTES + records.len());
    contents.extend_from_slice(LOG_MAGIC);
    contents.extend_from_slice(&base.to_le_bytes());
    contents.extend_from_slice(records);
    replace_file(dir, LOG_FILE, &contents)?;
    let path = dir.join(LOG_FILE);
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))
}

fn write_cursor(dir: &Path, acked: u64) -> Result<(), SpoolError> {
    let mut contents = Vec::with_capacity(CURSOR_LEN);
    contents.extend_from_slice(CURSOR_MAGIC);
    contents.extend_from_slice(&acked.to_le_bytes());
    let crc = crc32fast::hash(&contents);
    contents.extend_from_slice(&crc.to_le_bytes());
    replace_file(dir, CURSOR_FILE, &contents)
}

fn read_cursor(dir: &Path) -> Result<Option<u64>, SpoolError> {
    let path = dir.join(CURSOR_FILE);
    let contents = match fs::read(&path) {
        Ok(contents) => contents,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SpoolError::Io { path, source }),
    };
    let valid = contents.len() == CURSOR_LEN
        && &contents[..8] == CURSOR_MAGIC
        && crc32fast::hash(&contents[..16]).to_le_bytes() == contents[16..];
    if !valid {
        return Err(SpoolError::Corrupt {
            path,
            reason: "cursor file damaged",
        });
    }
    Ok(Some(u64::from_le_bytes(
        contents[8..16].try_into().expect("8 bytes"),
    )))
}

/// Write a temporary file, fsync it, rename it over `name`, fsync the directory.
fn replace_file(dir: &Path, name: &str, contents: &[u8]) -> Result<(), SpoolError> {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&temporary).map_err(io_at(&temporary))?;
    file.write_all(contents).map_err(io_at(&temporary))?;
    file.sync_all().map_err(io_at(&temporary))?;
    drop(file);
    fs::rename(&temporary, &path).map_err(io_at(&path))?;
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(io_at(dir))
}

fn encode_record(message: &Outgoing) -> Result<Vec<u8>, SpoolError> {
    let topic = message.topic.as_bytes();
    let topic_len =
        u16::try_from(topic.len()).map_err(|_| SpoolError::TopicTooLong { len: topic.len() })?;
    let body_len = BODY_PREFIX_LEN + topic.len() + message.payload.len();
    let body_len = u32::try_from(body_len).map_err(|_| SpoolError::TooLarge {
        size: body_len as u64,
        max: u64::from(u32::MAX),
    })?;
    let mut record =
        Vec::with_capacity(FRAME_BYTES + topic.len() + message.payload.len() + BODY_PREFIX_LEN);
    record.extend_from_slice(&body_len.to_le_bytes());
    record.extend_from_slice(&[0; 4]);
    record.push(match message.qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
    });
    record.push(u8::from(message.retain));
    record.extend_from_slice(&topic_len.to_le_bytes());
    record.extend_from_slice(topic);
    record.extend_from_slice(&message.payload);
    let crc = record_crc(&record[..4], &record[FRAME_BYTES..]);
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(record)
}

fn record_crc(len: &[u8], body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len);
    hasher.update(body);
    hasher.finalize()
}

/// Decodes a record whose frame and body were read back; `None` if damaged.
fn check_record(frame: &[u8], body: &[u8]) -> Option<Outgoing> {
    let stored = u32::from_le_bytes(frame.get(4..8)?.try_into().ok()?);
    if record_crc(&frame[..4], body) != stored || body.len() < BODY_PREFIX_LEN {
        return None;
    }
    let qos = match body[0] {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => return None,
    };
    let retain = match body[1] {
        0 => false,
        1 => true,
        _ => return None,
    };
    let topic_len = usize::from(u16::from_le_bytes([body[2], body[3]]));
    let rest = &body[BODY_PREFIX_LEN..];
    if rest.len() < topic_len {
        return None;
    }
    let (topic, payload) = rest.split_at(topic_len);
    Some(Outgoing {
        topic: String::from_utf8(topic.to_vec()).ok()?,
        payload: payload.to_vec(),
        qos,
        retain,
    })
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests;
