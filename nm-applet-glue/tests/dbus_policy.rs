//! The D-Bus policy file, loaded by a real `dbus-daemon`: root may own
//! `org.freedesktop.NetworkManager.sstp` and names below it (one per connection), an
//! unprivileged user may neither own it nor send to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use integration_tests::testbed::skip_unavailable;
use sstp_nm::install::{write_files, InstallPaths};

const NAME: &str = "org.freedesktop.NetworkManager.sstp";

struct Bus {
    child: Child,
    address: String,
    dir: PathBuf,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A system-type bus that lets everyone own any name and call anything, except what our
/// policy file (included last, so it wins) denies.
fn start_bus() -> Option<Bus> {
    let dir = std::env::temp_dir().join(format!("sstp-nm-dbus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let written = write_files(&dir.join("root"), &InstallPaths::default()).unwrap();
    let policy = &written[1];
    let config = dir.join("bus.conf");
    std::fs::write(&config, bus_config(&dir, policy)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(!line.trim().is_empty(), "dbus-daemon printed no address");
    Some(Bus {
        child,
        address: line.trim().to_owned(),
        dir,
    })
}

fn bus_config(dir: &Path, policy: &Path) -> String {
    format!(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\" \
         \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n\
         <type>system</type>\n<listen>unix:path={}/bus</listen>\n<auth>EXTERNAL</auth>\n\
         <policy context=\"default\">\n<allow user=\"*\"/>\n<allow own=\"*\"/>\n\
         <allow send_type=\"method_call\"/>\n<allow send_type=\"signal\"/>\n\
         <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n\
         <allow send_requested_reply=\"true\" send_type=\"error\"/>\n\
         <allow receive_type=\"method_call\"/>\n<allow receive_type=\"method_return\"/>\n\
         <allow receive_type=\"error\"/>\n<allow receive_type=\"signal\"/>\n\
         </policy>\n<include>{}</include>\n</busconfig>\n",
        dir.display(),
        policy.display()
    )
}

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
    let Some(bus) = start_bus() else {
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
