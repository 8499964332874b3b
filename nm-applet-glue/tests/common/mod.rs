//! A private system-type dbus-daemon for tests, with our policy file included.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sstp_nm::install::{write_files, InstallPaths};

pub struct Bus {
    child: Child,
    pub address: String,
    pub dir: PathBuf,
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
pub fn start_bus(tag: &str) -> Option<Bus> {
    let dir = std::env::temp_dir().join(format!("sstp-nm-dbus-{tag}-{}", std::process::id()));
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
