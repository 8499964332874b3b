//! The password prompt: on the controlling terminal, without echo, handed to pppd through the
//! passwordfd pipe. Runs `sstp connect` in a new session whose controlling terminal is a pty
//! created here, with a stand-in pppd that checks the password it receives.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn openpty() -> (OwnedFd, OwnedFd) {
    let p = nix::pty::openpty(None, None).expect("openpty");
    (p.master, p.slave)
}

fn wait_for(buf: &Mutex<Vec<u8>>, what: &str, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if String::from_utf8_lossy(&buf.lock().unwrap()).contains(what) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn setup(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let fake = dir.join("pppd");
    std::fs::write(
        &fake,
        r#"#!/bin/sh
fd=""; prev=""
for a in "$@"; do [ "$prev" = passwordfd ] && fd="$a"; prev="$a"; done
pw=$(eval "cat <&$fd")
[ "$pw" = "tty s3cr3t" ] || { echo "bad password: '$pw'" >&2; exit 1; }
echo "password ok" >&2
exit 0
"#,
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plugin = dir.join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    (fake, plugin)
}

fn spawn_on_pty(
    fake: &std::path::Path,
    plugin: &std::path::Path,
) -> (std::process::Child, OwnedFd, OwnedFd) {
    let (master, slave) = openpty();
    let slave_fd = std::os::fd::AsRawFd::as_raw_fd(&slave);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sstp"));
    cmd.args([
        "connect",
        "127.0.0.1",
        "-u",
        "alice",
        "--plugin",
        plugin.to_str().unwrap(),
        "--pppd",
        fake.to_str().unwrap(),
        "--no-ipc",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // SAFETY: setsid and ioctl are async-signal-safe; slave_fd is open in the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    (child, master, slave)
}

fn reader(master: &OwnedFd) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b2 = Arc::clone(&buf);
    let mut f = std::fs::File::from(master.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut chunk = [0u8; 256];
        while let Ok(n) = f.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b2.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

#[test]
fn password_is_prompted_without_echo_and_reaches_pppd_through_the_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, plugin) = setup(dir.path());
    let (child, master, _slave) = spawn_on_pty(&fake, &plugin);
    let seen = reader(&master);
    assert!(
        wait_for(
            &seen,
            "Password for alice@127.0.0.1: ",
            Duration::from_secs(10)
        ),
        "no prompt: {:?}",
        String::from_utf8_lossy(&seen.lock().unwrap())
    );
    std::fs::File::from(master.try_clone().unwrap())
        .write_all(b"tty s3cr3t\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("password ok"), "{stderr}");
    std::thread::sleep(Duration::from_millis(100));
    let tty = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(!tty.contains("s3cr3t"), "the password was echoed: {tty:?}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}

#[test]
fn ctrl_c_at_the_prompt_exits_130_and_restores_echo() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, plugin) = setup(dir.path());
    let (child, master, slave) = spawn_on_pty(&fake, &plugin);
    let seen = reader(&master);
    assert!(wait_for(&seen, "Password for", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!echo_on(&slave), "echo is not off during the prompt");
    common::interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(echo_on(&slave), "echo not restored after Ctrl-C");
}

fn echo_on(tty: &OwnedFd) -> bool {
    let t = nix::sys::termios::tcgetattr(tty).expect("tcgetattr");
    t.local_flags.contains(nix::sys::termios::LocalFlags::ECHO)
}

#[test]
fn without_a_terminal_or_password_file_it_says_how_to_give_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, plugin) = setup(dir.path());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sstp"));
    cmd.args([
        "connect",
        "127.0.0.1",
        "-u",
        "alice",
        "--plugin",
        plugin.to_str().unwrap(),
        "--pppd",
        fake.to_str().unwrap(),
    ])
    .stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe: the child has no controlling terminal afterwards.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no terminal"), "{stderr}");
    assert!(stderr.contains("--password-file"), "{stderr}");
}
