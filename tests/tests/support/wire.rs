//! A serial line between a node and the gateway, made of two real
//! pseudo-terminal pairs with a copier in the middle: the node opens one
//! slave, the gateway the other. Armed, the copier tampers with the node's
//! side of the conversation the way a bad cable or an attacker would.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serialport::{SerialPort as _, TTYPort};

/// What an armed wire puts on the line, one item after each genuine frame
/// from the node, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// Bytes that are no frame.
    Noise(Vec<u8>),
    /// The first half of the frame just passed, then a delimiter.
    Truncated,
    /// The frame just passed, again.
    Replayed,
    /// These bytes, as they are (a whole frame on the wire).
    Raw(Vec<u8>),
}

/// The line; dropped, it stops copying.
pub struct Wire {
    /// The device the node opens.
    pub node_path: PathBuf,
    /// The device the gateway opens.
    pub gateway_path: PathBuf,
    plan: Arc<Mutex<Vec<Tamper>>>,
    injected: Arc<Mutex<Vec<Tamper>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    // The slaves as `TTYPort::pair` opened them: they keep each pty up
    // while its user is between opens.
    _slaves: (TTYPort, TTYPort),
}

impl Wire {
    /// A transparent line.
    pub fn new() -> Self {
        let (node_master, node_slave) = TTYPort::pair().expect("a pty pair");
        let (gateway_master, gateway_slave) = TTYPort::pair().expect("a pty pair");
        let node_path = PathBuf::from(node_slave.name().expect("a pty path"));
        let gateway_path = PathBuf::from(gateway_slave.name().expect("a pty path"));
        let stop = Arc::new(AtomicBool::new(false));
        let plan = Arc::new(Mutex::new(Vec::new()));
        let injected = Arc::new(Mutex::new(Vec::new()));
        let up = {
            let (from, to) = (
                node_master.try_clone_native().unwrap(),
                gateway_master.try_clone_native().unwrap(),
            );
            let (stop, plan, injected) = (stop.clone(), plan.clone(), injected.clone());
            std::thread::spawn(move || copy_up(from, to, &stop, &plan, &injected))
        };
        let down = {
            let stop = stop.clone();
            std::thread::spawn(move || copy(gateway_master, node_master, &stop))
        };
        Wire {
            node_path,
            gateway_path,
            plan,
            injected,
            stop,
            threads: vec![up, down],
            _slaves: (node_slave, gateway_slave),
        }
    }

    /// From the next genuine frame on, puts `plan` on the line.
    pub fn arm(&self, plan: Vec<Tamper>) {
        let mut armed = self.plan.lock().unwrap();
        *armed = plan;
        armed.reverse();
    }

    /// What has been put on the line so far.
    pub fn injected(&self) -> Vec<Tamper> {
        self.injected.lock().unwrap().clone()
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn read_slice(port: &mut TTYPort) {
    port.set_timeout(Duration::from_millis(50)).unwrap();
}

/// Gateway to node, untouched.
fn copy(mut from: TTYPort, mut to: TTYPort, stop: &AtomicBool) {
    read_slice(&mut from);
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::Relaxed) {
        match from.read(&mut buf) {
            Ok(n) if n > 0 => {
                let _ = to.write_all(&buf[..n]);
            }
            _ => {}
        }
    }
}

/// Node to gateway: bytes are passed on as they come; after each frame
/// (its closing delimiter) the next planned item goes in.
fn copy_up(
    mut from: TTYPort,
    mut to: TTYPort,
    stop: &AtomicBool,
    plan: &Mutex<Vec<Tamper>>,
    injected: &Mutex<Vec<Tamper>>,
) {
    read_slice(&mut from);
    let mut buf = [0u8; 1024];
    // The stuffed bytes of the frame coming in.
    let mut current = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let n = match from.read(&mut buf) {
            Ok(n) if n > 0 => n,
            _ => continue,
        };
        for &byte in &buf[..n] {
            let _ = to.write_all(&[byte]);
            if byte != 0 {
                current.push(byte);
                continue;
            }
            if current.is_empty() {
                continue;
            }
            let last = std::mem::take(&mut current);
            let Some(item) = plan.lock().unwrap().pop() else {
                continue;
            };
            let bytes = match &item {
                Tamper::Noise(bytes) | Tamper::Raw(bytes) => bytes.clone(),
                Tamper::Truncated => [&[0][..], &last[..last.len() / 2], &[0]].concat(),
                Tamper::Replayed => [&[0][..], &last, &[0]].concat(),
            };
            let _ = to.write_all(&bytes);
            injected.lock().unwrap().push(item);
        }
    }
}
