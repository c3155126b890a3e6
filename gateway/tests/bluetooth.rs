//! `aisle scan`, the gateway's Bluetooth source, up to the hardware: BlueZ
//! is played by python-dbusmock's `bluez5` template on a private D-Bus
//! daemon, which the gateway reaches as its system bus. The test adds an
//! adapter and devices, changes their advertisement properties as BlueZ does
//! when it hears an advertisement, and checks the sightings `aisle scan`
//! prints; then it powers the adapter off and on, and takes it away and
//! brings it back.
//!
//! Needs `dbus-daemon` and python-dbusmock; scripts/test installs both (the
//! latter into `target/python-dbusmock`). Real radios are not tested here.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aisle_protocol::beacon::{EddystoneEid, Frame, IBeacon};

/// Every wait is bounded by this: generous, the machine is shared.
const WAIT: Duration = Duration::from_secs(60);
const ANCHOR: &str = "gateway-radio";
const IBEACON_ADDRESS: &str = "C0:11:22:33:44:55";
const EDDYSTONE_ADDRESS: &str = "C0:11:22:33:44:66";

/// Drives the mock BlueZ: one command per run, on the bus that
/// `DBUS_SYSTEM_BUS_ADDRESS` names.
const DRIVER: &str = r#"
import sys, time, dbus
bus = dbus.SystemBus()
command, args = sys.argv[1], sys.argv[2:]
def mock():
    return dbus.Interface(bus.get_object("org.bluez", "/org/bluez"), "org.bluez.Mock")
if command == "wait":
    deadline = time.time() + float(args[0])
    while not bus.name_has_owner("org.bluez"):
        if time.time() > deadline:
            sys.exit("org.bluez never appeared")
        time.sleep(0.05)
elif command == "adapter-add":
    mock().AddAdapter(args[0], "aisle-test")
elif command == "adapter-remove":
    mock().RemoveAdapterWithDevices(args[0])
elif command == "device-add":
    mock().AddDevice(args[0], args[1], "beacon")
elif command == "discovering":
    adapter = bus.get_object("org.bluez", "/org/bluez/" + args[0])
    print(bool(adapter.Get("org.bluez.Adapter1", "Discovering", dbus_interface=dbus.PROPERTIES_IFACE)))
elif command == "power":
    # Powering off ends discovery, as in BlueZ.
    adapter = bus.get_object("org.bluez", "/org/bluez/" + args[0])
    on = args[1] == "on"
    props = {"Powered": dbus.Boolean(on)}
    if not on:
        props["Discovering"] = dbus.Boolean(False)
    adapter.UpdateProperties("org.bluez.Adapter1", props, dbus_interface="org.freedesktop.DBus.Mock")
elif command == "advertise":
    adapter, address, rssi, kind, key, data = args
    path = "/org/bluez/%s/dev_%s" % (adapter, address.replace(":", "_"))
    payload = dbus.Array(bytes.fromhex(data), signature="y")
    props = {"RSSI": dbus.Int16(int(rssi))}
    if kind == "manufacturer":
        props["ManufacturerData"] = dbus.Dictionary({dbus.UInt16(int(key, 16)): payload}, signature="qv")
    else:
        props["ServiceData"] = dbus.Dictionary({key: payload}, signature="sv")
    device = bus.get_object("org.bluez", path)
    device.UpdateProperties("org.bluez.Device1", props, dbus_interface="org.freedesktop.DBus.Mock")
else:
    sys.exit("unknown command " + command)
"#;

/// A python that has dbusmock: `$AISLE_PYTHON`, the one scripts/test sets
/// up, or the system's.
fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = std::env::var_os("AISLE_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            root.join("target/python-dbusmock/bin/python"),
            "python3".into(),
            "/usr/bin/python3".into(),
        ]);
    for python in candidates {
        let has = Command::new(&python)
            .args(["-c", "import dbusmock"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if has {
            return python;
        }
    }
    panic!(
        "python-dbusmock is missing: run scripts/test, which installs it into \
         target/python-dbusmock (or set AISLE_PYTHON to a python that has it)"
    );
}

/// A private system bus with the mock BlueZ on it; both killed when dropped.
struct MockBluez {
    daemon: Child,
    bluez: Child,
    address: String,
    python: PathBuf,
    _dir: tempfile::TempDir,
}

impl MockBluez {
    fn start() -> Self {
        let python = python();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("system_bus_socket");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<busconfig><type>system</type><listen>unix:path={}</listen>\
                 <auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>\
                 <allow own=\"*\"/><allow send_type=\"method_call\"/>\
                 <allow send_type=\"signal\"/><allow send_type=\"method_return\"/>\
                 <allow send_type=\"error\"/><allow receive_type=\"method_call\"/>\
                 <allow receive_type=\"signal\"/><allow receive_type=\"method_return\"/>\
                 <allow receive_type=\"error\"/></policy></busconfig>",
                socket.display()
            ),
        )
        .unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .stdin(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts (Debian package dbus-daemon; scripts/test installs it)");
        let started = Instant::now();
        while !socket.exists() {
            assert!(started.elapsed() < WAIT, "dbus-daemon never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        let address = format!("unix:path={}", socket.display());
        let bluez = Command::new(&python)
            .args(["-m", "dbusmock", "--system", "--template", "bluez5"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("python-dbusmock starts");
        let mock = Self {
            daemon,
            bluez,
            address,
            python,
            _dir: dir,
        };
        mock.run(&["wait", &WAIT.as_secs().to_string()]);
        mock
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .args(["-c", DRIVER])
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "mock BlueZ {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn add_adapter_and_devices(&self) {
        self.run(&["adapter-add", "hci0"]);
        self.run(&["device-add", "hci0", IBEACON_ADDRESS]);
        self.run(&["device-add", "hci0", EDDYSTONE_ADDRESS]);
    }

    fn wait_discovering(&self) {
        let started = Instant::now();
        while self.run(&["discovering", "hci0"]) != "True" {
            assert!(
                started.elapsed() < WAIT,
                "the gateway never started discovery"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MockBluez {
    fn drop(&mut self) {
        for child in [&mut self.bluez, &mut self.daemon] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `aisle scan` on the mock's bus, its lines as they come.
struct Scan {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
}

impl Scan {
    fn start(bus: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aisle"))
            .args(["scan", "--anchor", ANCHOR, "--adapter", "hci0"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("aisle runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {e}: {line}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// The first line, from now on, with this RSSI; earlier ones are dropped.
    fn until_rssi(&self, rssi: f64) -> serde_json::Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no sighting with RSSI {rssi} within {WAIT:?}"));
            assert_eq!(line["anchor"], ANCHOR, "{line}");
            if line["rssi"].as_f64() == Some(rssi) {
                return line;
            }
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn adv(line: &serde_json::Value) -> Vec<u8> {
    hex::decode(
        line["adv"]
            .as_str()
            .unwrap_or_else(|| panic!("no adv: {line}")),
    )
    .unwrap()
}

#[test]
fn the_adapter_hears_beacons_and_scans_again_after_power_off_and_removal() {
    let bluez = MockBluez::start();
    bluez.add_adapter_and_devices();
    let scan = Scan::start(&bluez.address);
    bluez.wait_discovering();

    let beacon = IBeacon {
        uuid: aisle_protocol::ad::Uuid([7; 16]),
        major: 3,
        minor: 17,
        measured_power: -59,
    };
    // The manufacturer-data value, company identifier first; BlueZ keys
    // the rest by the company.
    let mut value = [0u8; 25];
    let n = beacon.encode(&mut value).unwrap();
    assert_eq!(value[..2], [0x4c, 0x00], "Apple's company identifier");
    let ibeacon = |rssi: &str| {
        bluez.run(&[
            "advertise",
            "hci0",
            IBEACON_ADDRESS,
            rssi,
            "manufacturer",
            "004c",
            &hex::encode(&value[2..n]),
        ]);
    };

    // An iBeacon in manufacturer data: the AD structure comes back whole.
    ibeacon("-61");
    let line = scan.until_rssi(-61.0);
    let mut expected = vec![u8::try_from(n + 1).unwrap(), 0xff];
    expected.extend_from_slice(&value[..n]);
    // The template's devices report a transmit power of 0 dBm.
    expected.extend_from_slice(&[0x02, 0x0a, 0x00]);
    assert_eq!(adv(&line), expected, "{line}");
    assert_eq!(Frame::classify(&adv(&line)), Ok(Frame::IBeacon(beacon)));

    // The same advertisement again: duplicates are sightings too.
    ibeacon("-64");
    scan.until_rssi(-64.0);

    // Eddystone-EID in service data under 0xFEAA.
    let eid = EddystoneEid {
        tx_power: -20,
        eid: [1, 2, 3, 4, 5, 6, 7, 8],
    };
    let mut frame = [0u8; 10];
    let n = eid.encode(&mut frame).unwrap();
    bluez.run(&[
        "advertise",
        "hci0",
        EDDYSTONE_ADDRESS,
        "-70",
        "service",
        "0000feaa-0000-1000-8000-00805f9b34fb",
        &hex::encode(&frame[..n]),
    ]);
    let line = scan.until_rssi(-70.0);
    assert_eq!(Frame::classify(&adv(&line)), Ok(Frame::EddystoneEid(eid)));

    // The adapter powers off and on again: scanning starts again.
    bluez.run(&["power", "hci0", "off"]);
    assert_eq!(bluez.run(&["discovering", "hci0"]), "False");
    bluez.run(&["power", "hci0", "on"]);
    bluez.wait_discovering();
    ibeacon("-58");
    scan.until_rssi(-58.0);

    // The adapter goes away and comes back: scanning resumes by itself.
    bluez.run(&["adapter-remove", "hci0"]);
    std::thread::sleep(aisle_gateway::bluetooth::HEALTH_EVERY * 2);
    bluez.add_adapter_and_devices();
    bluez.wait_discovering();
    ibeacon("-55");
    let line = scan.until_rssi(-55.0);
    assert_eq!(Frame::classify(&adv(&line)), Ok(Frame::IBeacon(beacon)));
}
