//! `aisle inspect` as a store owner runs it.

use std::io::Write;
use std::process::{Command, Stdio};

fn aisle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
}

#[test]
fn inspect_describes_each_advert_and_names_the_bad_line() {
    let mut child = aisle()
        .arg("inspect")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // An AltBeacon, a blank line, a truncated structure, an iPhone, and not-hex.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"02011a1bff1801beac2f234454cf6d4a0fadf2f4911ba9ffa600010002c509\n\n\
              0201060909ff\n02:01:1a:0a:ff:4c:00:10:05:0b:1c:0e:a8:36\nzz\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "bad lines must fail the run");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["kind"], "altbeacon");
    assert_eq!(lines[0]["frame"]["reference_rssi"], -59);
    assert_eq!(lines[1]["kind"], "apple");
    assert_eq!(lines[1]["identity"], serde_json::Value::Null);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("line 3: AD structure at byte 3 claims 9 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("line 5: not hex"), "{stderr}");
    assert!(stderr.contains("2 described, 2 rejected"), "{stderr}");
}

#[test]
fn inspect_takes_arguments_too() {
    let out = aisle()
        .args(["inspect", "0201060303aafe0d16aafe30f6a9b76a71c5f89290"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "eddystone_eid");
    assert_eq!(v["frame"]["eid"], "a9b76a71c5f89290");
    assert_eq!(v["identity"], "eddystone_eid:a9b76a71c5f89290");
}
