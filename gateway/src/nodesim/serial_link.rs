//! A host node's link over a serial device (a USB-serial adapter or one
//! end of a pseudo-terminal pair): blocking reader and writer threads, and
//! the `embedded-io-async` face the firmware core reads and writes.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use serialport::TTYPort;
use tokio::sync::mpsc;

/// The line rate the firmware's UART uses.
pub const BAUD: u32 = 115_200;
/// How long a read waits before the reader checks whether the node is
/// gone.
const READ_SLICE: Duration = Duration::from_millis(100);
/// Chunks between the threads and the node: seconds of a busy link.
const QUEUE: usize = 64;

/// The node's side of a serial link.
#[derive(Debug)]
pub struct SerialLink {
    incoming: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    at: usize,
    outgoing: mpsc::Sender<Vec<u8>>,
}

impl SerialLink {
    /// Opens `path` raw at [`BAUD`] and starts its threads, which end when
    /// the device is lost or the link is dropped.
    pub fn open(path: &Path) -> Result<Self, serialport::Error> {
        let port: TTYPort = serialport::new(path.display().to_string(), BAUD)
            .timeout(READ_SLICE)
            .open_native()?;
        Self::over(port)
    }

    /// The link over a port already open, such as one end of
    /// `TTYPort::pair()`; its read timeout should be short (100 ms), since
    /// the reader checks between reads whether the node is gone.
    pub fn over(port: TTYPort) -> Result<Self, serialport::Error> {
        let mut reader = port;
        let mut writer = reader.try_clone_native()?;
        let (in_tx, incoming) = mpsc::channel(QUEUE);
        let (outgoing, mut out_rx) = mpsc::channel::<Vec<u8>>(QUEUE);
        std::thread::Builder::new()
            .name("node-link-read".into())
            .spawn(move || {
                let mut buf = [0u8; 1024];
                while !in_tx.is_closed() {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if in_tx.blocking_send(buf[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "node link lost");
                            break;
                        }
                    }
                }
            })
            .map_err(serialport::Error::from)?;
        std::thread::Builder::new()
            .name("node-link-write".into())
            .spawn(move || {
                while let Some(bytes) = out_rx.blocking_recv() {
                    if let Err(e) = writer.write_all(&bytes).and_then(|()| writer.flush()) {
                        tracing::warn!(error = %e, "node link write failed");
                        break;
                    }
                }
            })
            .map_err(serialport::Error::from)?;
        Ok(SerialLink {
            incoming,
            pending: Vec::new(),
            at: 0,
            outgoing,
        })
    }
}

impl embedded_io_async::ErrorType for SerialLink {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for SerialLink {
    /// Cancel-safe: a chunk taken from the queue is kept until it is read.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.at == self.pending.len() {
            match self.incoming.recv().await {
                // The device is gone: end of stream.
                None => return Ok(0),
                Some(chunk) => {
                    self.pending = chunk;
                    self.at = 0;
                }
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl embedded_io_async::Write for SerialLink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.outgoing
            .send(buf.to_vec())
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "serial link lost"))?;
        Ok(buf.len())
    }

    /// The writer thread writes and flushes each chunk in order as it comes;
    /// there is nothing more to wait for here.
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
