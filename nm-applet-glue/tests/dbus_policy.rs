//! The D-Bus policy file, loaded by a real `dbus-daemon`: root may own
//! `org.freedesktop.NetworkManager.sstp` and names below it (one per connection), an
//! unprivileged user may neither own it nor send to it.

mod common;

use std::process::Command;

use common::{start_bus, Bus};
use integration_tests::testbed::skip_unavailable;

const NAME: &str = "org.freedesktop.NetworkManager.sstp";

/// `RequestName(name)` as `user` (None: root); the reply or the error text.
fn request_name(bus: &Bus, user: Option<&str>, name: &str) -> String {
    let mut cmd = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--", "dbus-send"]);
            c
        }
        None => Command::new("dbus-send"),
    };
    let out = cmd
        .arg(format!("--bus={}", bus.address))
        .args([
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.RequestName",
        ])
        .arg(format!("string:{name}"))
        .arg("uint32:0")
        .output()
        .expect("run dbus-send");
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn root_owns_the_service_names_others_cannot() {
    let root = nix::unistd::Uid::effective().is_root();
    if !root || Command::new("dbus-send").arg("--help").output().is_err() {
        skip_unavailable("needs root, dbus-daemon and dbus-send");
        return;
    }
    let Some(bus) = start_bus("policy") else {
        skip_unavailable("dbus-daemon cannot be started");
        return;
    };
    // 1 = DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
    assert!(request_name(&bus, None, NAME).contains("uint32 1"));
    let per_connection = format!("{NAME}.Connection_7");
    assert!(request_name(&bus, None, &per_connection).contains("uint32 1"));
    // Control: the unprivileged user reaches the bus and may own other names.
    let other = request_name(&bus, Some("nobody"), "org.example.Other");
    assert!(other.contains("uint32 1"), "{other}");
    let denied = request_name(&bus, Some("nobody"), NAME);
    assert!(denied.contains("AccessDenied"), "{denied}");
    let denied = request_name(&bus, Some("nobody"), &per_connection);
    assert!(denied.contains("AccessDenied"), "{denied}");
}
