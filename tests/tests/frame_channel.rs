//! The frame-preserving channel to pppd (issue 10 item 2): the kernel's PPP over L2TP on a
//! loopback UDP pair instead of a pty with async HDLC, in the UML test bed.
//!
//! - `kernel_line`: `sstp_tunnel::l2tp::open` in the guest's kernel (6.1, l2tp_ppp loaded):
//!   frames both ways with the documented L2TPv2 headers; without l2tp_ppp: "unavailable".
//! - `sessions`: pppd 2.4.9 (`sstp-channel l2tp`) and 2.5.2 (default `auto`) with the plugin
//!   against the Rust test server (MS-CHAPv2, crypto binding verified by the server): the L2TP
//!   channel is used (logged, LCP without ACFC/PFC/asyncmap, no L2TP network device), pings
//!   both ways, an iperf3 bulk transfer, a clean disconnect (exit 5).
//! - `fallback`: the guest without l2tp_ppp: `auto` logs one notice and uses the pty (session
//!   works, async LCP options back), `sstp-channel l2tp` fails clearly with exit status 4.
//!
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed (not under CI);
//! SSTP_RS_STREAM=1 shows the guest's progress, SSTP_RS_DIAG=1 prints every log.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use integration_tests::plugin::{build_plugin, build_test_server, Pppd};
use integration_tests::scenario::{parse_facts, SCENARIO_LIB};
use integration_tests::testbed::{self, shell_quote, BootOptions, TestbedError, DEFAULT_MODULES};

fn skip() -> bool {
    testbed::skip_testbed(&[])
}

/// One datagram from a socket (read(2) on a socket is recv(2) without flags).
fn recv_wait(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    read_wait(fd, buf)
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

/// The guest script: the Rust test server (MS-CHAPv2 pppd behind it) on 443, then one client
/// pppd per `cases` entry `(tag, pppd binary, plugin, mode, extra options)` (a tag starting
/// with `p` calls the PAP server on 444, whose binding check includes the MAC, `m` the server
/// that aborts 3 s into the session, on 447); mode `up` runs a
/// session (pings both ways, iperf3 when `bulk`, SIGTERM), mode `fail` waits for pppd to end.
fn session_script(
    server: &std::path::Path,
    cases: &[(&str, String, String, &str, &str)],
    bulk: bool,
) -> String {
    let mut s = format!(
        r#"
. /run/bed/sstp-scenario.sh
SERVER={server}
sc_net_up || exit 1
sc_pki || exit 1
sc_test_server_setup
sc_test_server 443 ts.log server
SC_PORT=443 sc_wait 20 sc_server_listening || {{ echo "test server not listening"; exit 1; }}
# 444: PAP with the zero HLAK, so the server verifies the whole binding including the MAC.
printf '%s * %s *\n' "$SC_USER" "$SC_PASSWORD" >/etc/ppp/pap-secrets
chmod 600 /etc/ppp/pap-secrets
printf '%s\n' name sstp-rs-test-server noccp nobsdcomp nodeflate nodefaultroute noipdefault local \
    nodetach nologfd debug require-pap refuse-chap refuse-mschap refuse-mschap-v2 refuse-eap \
    "logfile $SC_OUT/server-pppd-pap.log" "$SC_PPP_SERVER:198.51.100.2" >/etc/ppp/options.pap
ip netns exec srv "$SERVER" --listen "[::]:444" --cert "$SC_WORK/pki/server.pem" \
    --key "$SC_WORK/pki/server.key" --pppd-cmd /usr/sbin/pppd --hlak-zero --pppd-arg file \
    --pppd-arg /etc/ppp/options.pap >"$SC_OUT/tsp.log" 2>&1 &
echo $! >>"$SC_WORK/servers"
SC_PORT=444 sc_wait 20 sc_server_listening || {{ echo "PAP test server not listening"; exit 1; }}
# 447: the server aborts 3 s into the session (pppd must see the hang-up).
sc_test_server 447 tsm.log server --fault abort-mid-session=3
SC_PORT=447 sc_wait 20 sc_server_listening || {{ echo "abort test server not listening"; exit 1; }}
sc_fact server_started 1
CA="sstp-ca-file $SC_OUT/ca.pem"
PORT=443
client() {{ # tag pppd so extra...
    tag=$1; pppd=$2; so=$3; shift 3
    T0=$(sc_now)
    "$pppd" plugin "$so" sstp-server "$SC_SERVER_NAME:$PORT" $CA sstp-log-level 3 user "$SC_USER" \
        password "$SC_PASSWORD" noauth noccp nobsdcomp nodeflate refuse-eap nodefaultroute \
        noipdefault lcp-echo-interval 0 debug nodetach logfile "$SC_OUT/c-$tag.log" "$@" \
        >"$SC_OUT/c-$tag.out" 2>&1 &
    PID=$!
    SC_CLIENT_PID=$PID
}}
ends() {{ # tag seconds
    if sc_wait "$2" sc_not_running "$PID"; then sc_fact "$1_ended" 1; else sc_fact "$1_ended" 0; kill -KILL "$PID"; fi
    wait "$PID"; sc_fact "$1_exit" "$?"
    sc_fact "$1_elapsed_s" "$(sc_elapsed "$T0" "$(sc_now)")"
}}
session() {{ # tag
    if sc_wait 30 sc_ppp_up_or_client_gone && sc_ppp_up; then
        sc_fact "$1_up" 1
        IF=$(sc_ppp_if)
        sc_fact "$1_if" "$IF"
        sc_fact "$1_l2tp_links" "$(ip -o link show | grep -c -i l2tp)"
        ping -n -c 20 -i 0.05 -W 3 -I "$IF" "$SC_PPP_SERVER" >"$SC_OUT/ping-$1.txt" 2>&1
        sc_fact "$1_ping_rx" "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/ping-$1.txt")"
        ip netns exec srv ping -n -c 20 -i 0.05 -W 3 198.51.100.2 >"$SC_OUT/rping-$1.txt" 2>&1
        sc_fact "$1_rping_rx" "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/rping-$1.txt")"
        # 1400-byte pings: full-size frames through the L2TP header.
        ping -n -c 5 -i 0.1 -s 1400 -W 3 -I "$IF" "$SC_PPP_SERVER" >"$SC_OUT/bping-$1.txt" 2>&1
        sc_fact "$1_bigping_rx" "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/bping-$1.txt")"
        if [ "$BULK" = 1 ]; then
            SC_PPP_IF=$IF sc_iperf 3 >"$SC_OUT/iperf-$1.txt" 2>&1
            sc_fact "$1_iperf_bps" "$(sed -n 's/^@@ iperf_bps=//p' "$SC_OUT/iperf-$1.txt")"
        fi
    else
        sc_fact "$1_up" 0
    fi
    kill -TERM "$PID"
    ends "$1" 20
    if sc_wait 15 sc_server_pppd_gone; then sc_fact "$1_server_pppd_exited" 1; else sc_fact "$1_server_pppd_exited" 0; fi
}}
BULK={bulk}
"#,
        server = shell_quote(&server.to_string_lossy()),
        bulk = u8::from(bulk),
    );
    for (tag, pppd, so, mode, extra) in cases {
        let port = match tag.as_bytes()[0] {
            b'p' => 444,
            b'm' => 447,
            _ => 443,
        };
        s.push_str(&format!(
            "sc_step {tag}\nPORT={port}\nclient {tag} {} {} {extra}\n",
            shell_quote(pppd),
            shell_quote(so)
        ));
        match *mode {
            "up" => s.push_str(&format!("session {tag}\n")),
            "hangup" => s.push_str(&format!(
                "if sc_wait 30 sc_ppp_up_or_client_gone && sc_ppp_up; then sc_fact {tag}_up 1; \
                 else sc_fact {tag}_up 0; fi\nends {tag} 30\n"
            )),
            _ => s.push_str(&format!("ends {tag} 40\n")),
        }
    }
    s.push_str(
        r#"
sc_fact ts_connected "$(grep -c 'CALL_CONNECTED received: .* nonce ok, certificate hash ok' "$SC_OUT/ts.log")"
sc_fact tsp_mac_ok "$(grep -c 'certificate hash ok, compound MAC ok' "$SC_OUT/tsp.log")"
for p in $(cat "$SC_WORK/servers"); do kill -TERM "$p" 2>/dev/null; done
for p in $(pgrep -x pppd); do kill -TERM "$p" 2>/dev/null; done
sleep 0.5
sc_leftovers
exit 0
"#,
    );
    s
}

struct Bed {
    run: testbed::GuestRun,
    facts: std::collections::BTreeMap<String, String>,
    diag: String,
}

impl Bed {
    fn fact(&self, k: &str) -> &str {
        self.facts.get(k).map(String::as_str).unwrap_or("")
    }
    fn file(&self, n: &str) -> String {
        self.run.read(n).unwrap_or_default()
    }
}

fn boot(script: &str, modules: &[&str]) -> Option<Bed> {
    let opts = BootOptions {
        timeout: Duration::from_secs(240),
        modules: modules.iter().map(|m| m.to_string()).collect(),
        files: vec![(
            "sstp-scenario.sh".to_string(),
            SCENARIO_LIB.as_bytes().to_vec(),
        )],
        stream_output: std::env::var_os("SSTP_RS_STREAM").is_some(),
        ..BootOptions::default()
    };
    let run = match testbed::run(script, &opts) {
        Ok(r) => r,
        Err(TestbedError::Unavailable(why)) => {
            testbed::skip_unavailable(&why);
            return None;
        }
        Err(e) => panic!("test bed: {e}"),
    };
    let facts = parse_facts(&run.output);
    let diag = format!(
        "{}\n--- facts ---\n{facts:#?}\n{}",
        run.diagnostics(),
        run.log_tails(60)
    );
    if std::env::var_os("SSTP_RS_DIAG").is_some() {
        eprintln!("{diag}");
    }
    Some(Bed { run, facts, diag })
}

/// The plugin (debug build) for both pppd versions and the test server.
fn builds() -> [(Pppd, String); 2] {
    [Pppd::V249, Pppd::V252].map(|p| {
        let so = build_plugin(p, false, "sstp-rs-frames.so").expect("build the plugin");
        (p, so.to_string_lossy().into_owned())
    })
}

/// The LCP Configure-Requests pppd sent.
fn lcp_confreqs(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("sent [LCP ConfReq"))
        .collect()
}

#[test]
fn sessions() {
    if skip() {
        return;
    }
    let [(_, so249), (_, so25)] = builds();
    let server = build_test_server().expect("build sstp-test-server");
    let p249 = Pppd::V249.binary().to_string_lossy().into_owned();
    let p25 = Pppd::V252.binary().to_string_lossy().into_owned();
    let cases = [
        (
            "l249",
            p249.clone(),
            so249.clone(),
            "up",
            "sstp-channel l2tp",
        ),
        ("a25", p25.clone(), so25.clone(), "up", ""),
        ("p25", p25.clone(), so25.clone(), "up", "sstp-channel l2tp"),
        ("m249", p249.clone(), so249.clone(), "hangup", ""),
        ("m25", p25, so25, "hangup", ""),
    ];
    let Some(b) = boot(&session_script(&server, &cases, true), DEFAULT_MODULES) else {
        return;
    };
    let d = &b.diag;
    assert!(b.run.success(), "{d}");
    assert_eq!(b.fact("server_started"), "1", "{d}");
    for tag in ["l249", "a25", "p25"] {
        let log = b.file(&format!("c-{tag}.log"));
        assert_eq!(b.fact(&format!("{tag}_up")), "1", "{tag}\n{d}");
        assert!(
            log.contains("sstp-rs: SSTP call connected (crypto binding"),
            "{tag}\n{d}"
        );
        assert!(
            log.contains("sstp-rs: channel to pppd: kernel L2TP (tunnel "),
            "{tag}\n{d}"
        );
        assert!(!log.contains("unavailable"), "{tag}\n{d}");
        // Frames mode: no async-only LCP options asked for.
        let reqs = lcp_confreqs(&log);
        assert!(!reqs.is_empty(), "{tag}\n{d}");
        for r in &reqs {
            for opt in ["asyncmap", "<pcomp>", "<accomp>"] {
                assert!(!r.contains(opt), "{tag}: {r}\n{d}");
            }
        }
        assert_eq!(b.fact(&format!("{tag}_l2tp_links")), "0", "{tag}\n{d}");
        assert_eq!(b.fact(&format!("{tag}_ping_rx")), "20", "{tag}\n{d}");
        assert_eq!(b.fact(&format!("{tag}_rping_rx")), "20", "{tag}\n{d}");
        assert_eq!(b.fact(&format!("{tag}_bigping_rx")), "5", "{tag}\n{d}");
        let bps: f64 = b.fact(&format!("{tag}_iperf_bps")).parse().unwrap_or(0.0);
        eprintln!(
            "{tag}: iperf3 over the L2TP channel: {:.1} Mbit/s",
            bps / 1e6
        );
        assert!(bps > 1e6, "{tag}: iperf3 {bps} bit/s\n{d}");
        // SIGTERM: pppd's own status (5), the server's pppd ends too.
        assert_eq!(b.fact(&format!("{tag}_exit")), "5", "{tag}\n{d}");
        assert_eq!(
            b.fact(&format!("{tag}_server_pppd_exited")),
            "1",
            "{tag}\n{d}"
        );
    }
    // The server aborts mid-session: the I/O thread ends, pppd sees the hang-up at once
    // (the plugin closes the L2TP session socket) and exits with the call's status.
    for tag in ["m249", "m25"] {
        let log = b.file(&format!("c-{tag}.log"));
        assert_eq!(b.fact(&format!("{tag}_up")), "1", "{tag}\n{d}");
        assert_eq!(b.fact(&format!("{tag}_ended")), "1", "{tag}\n{d}");
        assert_eq!(b.fact(&format!("{tag}_exit")), "16", "{tag}\n{d}");
        assert!(log.contains("channel to pppd: kernel L2TP"), "{tag}\n{d}");
        assert!(log.contains("server aborted the call"), "{tag}\n{d}");
        assert!(log.contains("Modem hangup"), "{tag}\n{d}");
        let secs: f64 = b
            .fact(&format!("{tag}_elapsed_s"))
            .parse()
            .unwrap_or(f64::NAN);
        assert!(secs < 15.0, "{tag}: {secs} s\n{d}");
    }
    // The MS-CHAPv2 calls' bindings (nonce, certificate hash) accepted by the server; the PAP
    // call's verified including the Compound MAC.
    assert_eq!(b.fact("ts_connected"), "2", "{d}");
    assert_eq!(b.fact("tsp_mac_ok"), "1", "{d}");
    assert_eq!(b.fact("leftovers"), "", "{d}");
}

#[test]
fn fallback() {
    if skip() {
        return;
    }
    let [(_, so249), (_, so25)] = builds();
    let server = build_test_server().expect("build sstp-test-server");
    let p249 = Pppd::V249.binary().to_string_lossy().into_owned();
    let p25 = Pppd::V252.binary().to_string_lossy().into_owned();
    let cases = [
        ("a249", p249.clone(), so249.clone(), "up", ""),
        ("a25", p25.clone(), so25.clone(), "up", "sstp-channel auto"),
        ("f249", p249, so249, "fail", "sstp-channel l2tp"),
        ("f25", p25, so25, "fail", "sstp-channel l2tp"),
    ];
    let without: Vec<&str> = DEFAULT_MODULES
        .iter()
        .copied()
        .filter(|m| *m != "l2tp_ppp")
        .collect();
    let Some(b) = boot(&session_script(&server, &cases, false), &without) else {
        return;
    };
    let d = &b.diag;
    assert!(b.run.success(), "{d}");
    for tag in ["a249", "a25"] {
        let log = b.file(&format!("c-{tag}.log"));
        assert_eq!(b.fact(&format!("{tag}_up")), "1", "{tag}\n{d}");
        assert_eq!(
            log.matches("sstp-rs: kernel L2TP (l2tp_ppp) unavailable (")
                .count(),
            1,
            "{tag}\n{d}"
        );
        assert!(log.contains("); using the pty channel"), "{tag}\n{d}");
        assert!(
            log.contains("sstp-rs: channel to pppd: pty /dev/pts/"),
            "{tag}\n{d}"
        );
        // The pty keeps pppd's async LCP options.
        assert!(
            lcp_confreqs(&log)
                .iter()
                .any(|r| r.contains("<pcomp>") && r.contains("<accomp>")),
            "{tag}\n{d}"
        );
        assert_eq!(b.fact(&format!("{tag}_ping_rx")), "20", "{tag}\n{d}");
        assert_eq!(b.fact(&format!("{tag}_rping_rx")), "20", "{tag}\n{d}");
        assert_eq!(b.fact(&format!("{tag}_exit")), "5", "{tag}\n{d}");
    }
    for tag in ["f249", "f25"] {
        let log = b.file(&format!("c-{tag}.log"));
        assert_eq!(b.fact(&format!("{tag}_ended")), "1", "{tag}\n{d}");
        // EXIT_NO_KERNEL_SUPPORT, before any call to the server.
        assert_eq!(b.fact(&format!("{tag}_exit")), "4", "{tag}\n{d}");
        assert!(
            log.contains("sstp-rs: kernel L2TP (l2tp_ppp) unavailable (")
                && log.contains("sstp-channel l2tp needs it"),
            "{tag}\n{d}"
        );
        assert!(!log.contains("connecting to"), "{tag}\n{d}");
    }
    assert_eq!(b.fact("ts_connected"), "2", "{d}");
    assert_eq!(b.fact("leftovers"), "", "{d}");
}
