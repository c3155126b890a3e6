//! Serial ports: opening one with clear errors, and the blocking thread
//! that keeps one open, reads it and writes frames to it.
//!
//! `serialport` rather than `tokio-serial`: the link carries a few KiB a
//! second at most, so one blocking thread per port costs nothing, and
//! `serialport` without default features needs no libudev (`tokio-serial`
//! pulls `mio-serial`, which turns libudev on unless told otherwise, for
//! enumeration the gateway does not use).

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use serialport::TTYPort;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The link's line rate. USB CDC ignores it; on a UART it is what the
/// firmware uses. 115200 baud moves a full 512-byte frame in 45 ms.
pub const BAUD: u32 = 115_200;
/// How long one read waits before the port thread checks for frames to
/// send and for shutdown: the most a `Configure` waits behind a quiet line.
const READ_SLICE: Duration = Duration::from_millis(50);
/// First wait before opening a lost port again; doubled up to
/// [`BACKOFF_MAX`]. A USB node re-enumerates in about a second.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest wait between attempts to open a port.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why a port cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Nothing at the path.
    #[error("{port}: no such serial port (is the node plugged in?)")]
    Missing {
        /// The path.
        port: String,
    },
    /// Another program holds the port (the running gateway, a terminal).
    #[error("{port}: port busy: another program has it open (is `aisle run` using it?)")]
    Busy {
        /// The path.
        port: String,
    },
    /// Any other failure.
    #[error("{port}: {reason}")]
    Io {
        /// The path.
        port: String,
        /// What failed.
        reason: String,
    },
}

/// Opens `path` exclusively, raw, at [`BAUD`], with reads returning after
/// `timeout` at most.
pub fn open(path: &Path, timeout: Duration) -> Result<TTYPort, PortError> {
    let port = path.display().to_string();
    serialport::new(port.clone(), BAUD)
        .timeout(timeout)
        .open_native()
        .map_err(|e| match e.kind {
            serialport::ErrorKind::NoDevice => PortError::Busy { port },
            serialport::ErrorKind::Io(std::io::ErrorKind::NotFound) => PortError::Missing { port },
            _ => PortError::Io {
                port,
                reason: e.description,
            },
        })
}

/// What the port thread tells its task.
#[derive(Debug)]
pub(super) enum PortEvent {
    /// The port is open (again).
    Opened,
    /// Bytes read.
    Bytes(Vec<u8>),
    /// The port was lost; the thread keeps trying to open it.
    Lost(String),
}

/// Keeps `path` open until `stop`: reads into `events`, writes what comes
/// from `frames`, and when the port fails or vanishes, opens it again with
/// backoff. Runs on a blocking thread.
pub(super) fn run_port_thread(
    path: &Path,
    events: &mpsc::Sender<PortEvent>,
    frames: &mut mpsc::Receiver<Vec<u8>>,
    stop: &CancellationToken,
) {
    let mut backoff = BACKOFF_MIN;
    let mut warned = false;
    while !stop.is_cancelled() {
        let mut port = match open(path, READ_SLICE) {
            Ok(p) => p,
            Err(error) => {
                if !warned {
                    tracing::warn!(port = %path.display(), %error, "node link port not open; retrying");
                    warned = true;
                }
                sleep_unless_stopped(backoff, stop);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        warned = false;
        // Frames queued while the port was away are stale; the link sends
        // again what is still due.
        while frames.try_recv().is_ok() {}
        if events.blocking_send(PortEvent::Opened).is_err() {
            return;
        }
        let reason = serve(&mut port, events, frames, stop);
        drop(port);
        match reason {
            Some(reason) => {
                if events.blocking_send(PortEvent::Lost(reason)).is_err() {
                    return;
                }
            }
            None => return,
        }
    }
}

/// Reads and writes an open port; returns why it was lost, or `None` on
/// shutdown.
fn serve(
    port: &mut TTYPort,
    events: &mpsc::Sender<PortEvent>,
    frames: &mut mpsc::Receiver<Vec<u8>>,
    stop: &CancellationToken,
) -> Option<String> {
    let mut buf = [0u8; 4096];
    loop {
        if stop.is_cancelled() {
            return None;
        }
        while let Ok(frame) = frames.try_recv() {
            if let Err(e) = port.write_all(&frame).and_then(|()| port.flush()) {
                return Some(format!("write: {e}"));
            }
        }
        match port.read(&mut buf) {
            Ok(0) => return Some("end of file".into()),
            Ok(n) => {
                if events
                    .blocking_send(PortEvent::Bytes(buf[..n].to_vec()))
                    .is_err()
                {
                    return None;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Some(format!("read: {e}")),
        }
    }
}

fn sleep_unless_stopped(total: Duration, stop: &CancellationToken) {
    let slice = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.is_cancelled() {
        std::thread::sleep(slice);
        slept += slice;
    }
}
