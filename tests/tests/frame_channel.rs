//! The frame-preserving channel to pppd (issue 10 item 2): the kernel's PPP over L2TP on a
//! loopback UDP pair instead of a pty with async HDLC, in the UML test bed.
//!
//! - `kernel_line`: `sstp_tunnel::l2tp::open` in the guest's kernel (6.1, l2tp_ppp loaded):
//!   frames both ways with the documented L2TPv2 headers; without l2tp_ppp: "unavailable".
//!
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed (not under CI);
//! SSTP_RS_STREAM=1 shows the guest's progress, SSTP_RS_DIAG=1 prints every log.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use integration_tests::scenario::parse_facts;
use integration_tests::testbed::{self, shell_quote, BootOptions, TestbedError, DEFAULT_MODULES};

fn skip() -> bool {
    testbed::skip_testbed(&[])
}

fn recv_wait(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd; a buffer of its length.
    unsafe {
        if libc::poll(&mut p, 1, 2000) != 1 {
            return None;
        }
        let n = libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0);
        (n >= 0).then_some(n as usize)
    }
}

fn send(fd: &OwnedFd, b: &[u8]) -> bool {
    // SAFETY: a valid buffer of its length.
    unsafe { libc::send(fd.as_raw_fd(), b.as_ptr().cast(), b.len(), 0) == b.len() as isize }
}

/// A /dev/ppp channel fd attached to the channel of `fd` (pppd's generic_establish_ppp).
fn ppp_channel(fd: &OwnedFd) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    const PPPIOCGCHAN: libc::c_ulong = 0x8004_7437;
    const PPPIOCATTCHAN: libc::c_ulong = 0x4004_7438;
    let mut index: libc::c_int = -1;
    // SAFETY: ioctls with one int argument; open(2) of a fixed path.
    unsafe {
        if libc::ioctl(fd.as_raw_fd(), PPPIOCGCHAN as _, &mut index) < 0 {
            return None;
        }
        let ppp = libc::open(c"/dev/ppp".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if ppp < 0 {
            return None;
        }
        let ppp = OwnedFd::from_raw_fd(ppp);
        (libc::ioctl(ppp.as_raw_fd(), PPPIOCATTCHAN as _, &index) == 0).then_some(ppp)
    }
}

fn read_wait(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd; a buffer of its length.
    unsafe {
        if libc::poll(&mut p, 1, 2000) != 1 {
            return None;
        }
        let n = libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
        (n >= 0).then_some(n as usize)
    }
}

/// Not a test by itself: runs inside the guest (`kernel_line`), prints `@@ key=value` facts.
#[test]
#[ignore = "runs inside the UML guest (kernel_line)"]
fn guest_probe() {
    if std::env::var_os("SSTP_RS_IN_GUEST").is_none() {
        return;
    }
    let k = match sstp_tunnel::l2tp::open() {
        Ok(k) => k,
        Err(e) => {
            println!();
            println!("@@ open=err");
            println!("@@ unavailable={}", u8::from(e.is_unavailable()));
            println!("@@ error={e}");
            return;
        }
    };
    println!();
    println!("@@ open=ok");
    let (pt, ps) = k.peer_ids;
    let lcp = [0xc0u8, 0x21, 1, 1, 0, 4];
    let mut buf = [0u8; 256];
    // pppd's side (the session socket, not attached to a ppp unit yet) -> the plugin's end.
    let mut want = vec![0x00, 0x02];
    want.extend_from_slice(&pt.to_be_bytes());
    want.extend_from_slice(&ps.to_be_bytes());
    want.extend_from_slice(&[0xff, 0x03]);
    want.extend_from_slice(&lcp);
    let up = send(&k.pppd_fd, &lcp)
        && recv_wait(&k.line.sock, &mut buf).is_some_and(|n| buf[..n] == want[..]);
    println!("@@ to_plugin={}", u8::from(up));
    // The plugin's end -> pppd's side: the kernel's local ids, FF 03 stripped. open() asked
    // for the channel index (PPPIOCGCHAN binds the socket), so frames go to the PPP channel:
    // attach a /dev/ppp channel fd to it, as pppd's generic_establish_ppp does.
    let chan = ppp_channel(&k.pppd_fd).expect("PPPIOCGCHAN + PPPIOCATTCHAN");
    let mut d = vec![0x00, 0x02];
    d.extend_from_slice(&k.line.tunnel_id.to_be_bytes());
    d.extend_from_slice(&k.line.session_id.to_be_bytes());
    d.extend_from_slice(&[0xff, 0x03]);
    d.extend_from_slice(&lcp);
    let down =
        send(&k.line.sock, &d) && read_wait(&chan, &mut buf).is_some_and(|n| buf[..n] == lcp);
    println!("@@ to_pppd={}", u8::from(down));
    // Wrong ids are not delivered.
    let mut bad = d.clone();
    bad[4] ^= 0x55;
    let dropped = send(&k.line.sock, &bad) && read_wait(&chan, &mut buf).is_none();
    println!("@@ wrong_session_dropped={}", u8::from(dropped));
    let k2 = sstp_tunnel::l2tp::open().expect("a second line");
    println!(
        "@@ second_line_other_ids={}",
        u8::from(k2.line.tunnel_id != k.line.tunnel_id)
    );
    drop(k);
    drop(k2);
    // Closing the line removes the tunnel: a third one still works.
    println!("@@ reopen={}", u8::from(sstp_tunnel::l2tp::open().is_ok()));
}

/// Boots the guest with `modules` and runs [`guest_probe`] there.
fn probe(
    modules: &[&str],
) -> Option<(
    testbed::GuestRun,
    std::collections::BTreeMap<String, String>,
)> {
    let exe = std::env::current_exe().expect("current_exe");
    let script = format!(
        "SSTP_RS_IN_GUEST=1 {} guest_probe --exact --ignored --nocapture --test-threads=1\n",
        shell_quote(&exe.to_string_lossy())
    );
    let opts = BootOptions {
        timeout: Duration::from_secs(60),
        modules: modules.iter().map(|m| m.to_string()).collect(),
        stream_output: std::env::var_os("SSTP_RS_STREAM").is_some(),
        ..BootOptions::default()
    };
    match testbed::run(&script, &opts) {
        Ok(r) => {
            let facts = parse_facts(&r.output);
            Some((r, facts))
        }
        Err(TestbedError::Unavailable(why)) => {
            testbed::skip_unavailable(&why);
            None
        }
        Err(e) => panic!("test bed: {e}"),
    }
}

#[test]
fn kernel_line() {
    if skip() {
        return;
    }
    let Some((run, f)) = probe(DEFAULT_MODULES) else {
        return;
    };
    let d = format!("{}\n{f:#?}", run.diagnostics());
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    assert_eq!(get("open"), "ok", "{d}");
    assert_eq!(get("to_plugin"), "1", "{d}");
    assert_eq!(get("to_pppd"), "1", "{d}");
    assert_eq!(get("wrong_session_dropped"), "1", "{d}");
    assert_eq!(get("second_line_other_ids"), "1", "{d}");
    assert_eq!(get("reopen"), "1", "{d}");

    // Without l2tp_ppp (and its dependencies): "unavailable", so `auto` falls back.
    let without: Vec<&str> = DEFAULT_MODULES
        .iter()
        .copied()
        .filter(|m| *m != "l2tp_ppp")
        .collect();
    let Some((run, f)) = probe(&without) else {
        return;
    };
    let d = format!("{}\n{f:#?}", run.diagnostics());
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    assert_eq!(get("open"), "err", "{d}");
    assert_eq!(get("unavailable"), "1", "{d}");
}
