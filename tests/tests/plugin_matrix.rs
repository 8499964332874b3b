//! The plugin issue's acceptance matrix with real pppd in the UML test bed, one guest boot per
//! pppd version (2.4.9 = Debian 12's, 2.5.2 = Debian 13's, built by `cargo xtask pppd25`). One
//! boot runs, one after the other, against the Python `sstp-server` (crypto binding verified)
//! and against the project's fault-mode `sstp-test-server`:
//!
//! - `main`: 100 pings (-i 0.05) with 0 loss, clean disconnect on both sides;
//! - `tls12`: `sstp-tls-max 1.2` over IPv4; `tls13v6`: `sstp-tls-min 1.3` over IPv6
//!   (`sstp-server [fd00:5::2]:443`); the log names the TLS version and the address;
//! - `badpw`: a wrong password fails fast with an authentication error (exit 19);
//! - `badpin`: a wrong `sstp-cert-pin` fails with exit 11 and the real SHA-256;
//! - `persist`: two sessions in one pppd (server-side hangup in between): equal fd counts;
//!   then sstpd stops, the next call is refused and in the holdoff the I/O thread is gone;
//! - `midabort`: `--fault abort-mid-session=3` -> exit 16 with the decoded status;
//! - `silent`: `--fault silent-after-connect` + `sstp-echo-interval 1` -> exit 15;
//! - `nak`: `--fault nak=4` -> exit 10; `abort`: `--fault abort-after-connected` -> exit 19;
//! - at the end: no pppd and no zombie process left in the guest.
//!
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed; SSTP_RS_STREAM=1 shows
//! the guest's progress, SSTP_RS_DIAG=1 prints every log.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use integration_tests::plugin::{build_plugin, build_test_server, Pppd};
use integration_tests::scenario::{parse_facts, sstpd_venv, PASSWORD, SCENARIO_LIB};
use integration_tests::testbed::{self, shell_quote, BootOptions, TestbedError};

fn skip() -> bool {
    integration_tests::testbed::skip_testbed(&[])
}

/// The guest script. Every client session is a background pppd with the plugin; its pppd log
/// is `c-<tag>.log`, its stderr `c-<tag>.out`, and the sstpd log lines of the session are cut
/// into `sstpd-<tag>.log`.
fn script(so: &Path, pppd_bin: &Path, server: &Path) -> String {
    format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
PPPD={pppd}
SERVER={server}
sc_net_up || exit 1
sc_pki || exit 1
sc_server_start || exit 1

# The fault-mode servers (their PPP peer: Debian's pppd, MS-CHAPv2 like RRAS).
printf '%s\n' name sstp-rs-test-server require-mschap-v2 refuse-pap refuse-chap refuse-eap noccp \
    nobsdcomp nodeflate nodefaultroute noipdefault local nodetach nologfd debug \
    "logfile $SC_OUT/server-pppd-ts.log" "$SC_PPP_SERVER:198.51.100.2" >/etc/ppp/options.ts
start_ts() {{ # port log args...
    port=$1; log=$2; shift 2
    ip netns exec srv "$SERVER" --listen "[::]:$port" --cert "$SC_WORK/pki/server.pem" \
        --key "$SC_WORK/pki/server.key" --pppd-cmd /usr/sbin/pppd \
        --pppd-arg file --pppd-arg /etc/ppp/options.ts "$@" >"$SC_OUT/$log" 2>&1 &
    echo $! >>"$SC_WORK/servers"
}}
start_ts 445 ts-abort.log --fault abort-after-connected
start_ts 446 ts-nak.log --fault nak=4
start_ts 447 ts-midabort.log --fault abort-mid-session=3
start_ts 448 ts-silent.log --fault silent-after-connect
for p in 445 446 447 448; do
    SC_PORT=$p sc_wait 20 sc_server_listening || {{ echo "test server on $p not listening"; exit 1; }}
done
sc_fact ts_started 1

CA="sstp-ca-file $SC_OUT/ca.pem"
# plugin <tag> <server> [pppd args...]: starts pppd + plugin in the background (PID, T0).
plugin() {{
    tag=$1; srv=$2; shift 2
    SSTPD_OFF=$(wc -c <"$SC_OUT/sstpd.log")
    T0=$(sc_now)
    "$PPPD" plugin "$SO" sstp-server "$srv" sstp-log-level 3 user "$SC_USER" \
        noauth noccp nobsdcomp nodeflate refuse-eap nodefaultroute noipdefault \
        lcp-echo-interval 0 debug nodetach logfile "$SC_OUT/c-$tag.log" "$@" \
        >"$SC_OUT/c-$tag.out" 2>&1 &
    PID=$!
    SC_CLIENT_PID=$PID
}}
# up <tag>: waits for ppp up (or pppd gone); facts <tag>_up, <tag>_connect_s.
up() {{
    if sc_wait 30 sc_ppp_up_or_client_gone && sc_ppp_up; then
        sc_fact "$1_up" 1
        sc_fact "$1_connect_s" "$(sc_elapsed "$T0" "$(sc_now)")"
        IF=$(sc_ppp_if)
        return 0
    fi
    sc_fact "$1_up" 0
    return 1
}}
# ends <tag> <seconds>: waits for pppd to exit by itself; facts <tag>_exit, <tag>_elapsed_s.
ends() {{
    if sc_wait "$2" sc_not_running "$PID"; then sc_fact "$1_ended" 1; else sc_fact "$1_ended" 0; kill -KILL "$PID"; fi
    wait "$PID"; rc=$?
    sc_fact "$1_elapsed_s" "$(sc_elapsed "$T0" "$(sc_now)")"
    sc_fact "$1_exit" "$rc"
    cut_sstpd "$1"
}}
# stop <tag>: SIGTERM (LCP terminate, CALL_DISCONNECT), waits; server pppd must exit too.
stop() {{
    t=$(sc_now)
    kill -TERM "$PID"
    ends "$1" 15
    sc_fact "$1_stop_s" "$(sc_elapsed "$t" "$(sc_now)")"
    if sc_wait 15 sc_server_pppd_gone; then sc_fact "$1_server_pppd_exited" 1; else sc_fact "$1_server_pppd_exited" 0; fi
}}
cut_sstpd() {{ tail -c "+$((SSTPD_OFF + 1))" "$SC_OUT/sstpd.log" >"$SC_OUT/sstpd-$1.log"; }}
# pings <tag> <count> <interval>
pings() {{
    ping -n -c "$2" -i "$3" -W 3 -I "$IF" "$SC_PPP_SERVER" >"$SC_OUT/ping-$1.txt" 2>&1
    sc_fact "$1_ping_tx" "$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$SC_OUT/ping-$1.txt")"
    sc_fact "$1_ping_rx" "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/ping-$1.txt")"
    sc_fact "$1_ping_rtt" "$(sed -n 's/^rtt [^=]*= *\([^ ]*\) ms.*/\1/p' "$SC_OUT/ping-$1.txt")"
}}
srv_pppds() {{
    srv_ns=$(ip netns exec srv readlink /proc/self/ns/net)
    for p in $(pgrep -x pppd); do [ "$(readlink "/proc/$p/ns/net")" = "$srv_ns" ] && echo "$p"; done
}}
t_all=$(sc_now)

sc_step "main: 100 pings, clean disconnect"
plugin main "$SC_SERVER_NAME:443" $CA password "$SC_PASSWORD"
if up main; then
    sc_fact main_route "$(ip route get "$SC_PPP_SERVER" | head -n 1)"
    sc_fact main_if "$IF"
    tx0=$(cat "/sys/class/net/$IF/statistics/tx_packets"); rx0=$(cat "/sys/class/net/$IF/statistics/rx_packets")
    pings main 100 0.05
    sc_fact main_tx_packets "$(($(cat "/sys/class/net/$IF/statistics/tx_packets") - tx0))"
    sc_fact main_rx_packets "$(($(cat "/sys/class/net/$IF/statistics/rx_packets") - rx0))"
fi
stop main

sc_step "tls12: sstp-tls-max 1.2, IPv4"
plugin tls12 "$SC_SERVER_NAME:443" $CA password "$SC_PASSWORD" sstp-tls-max 1.2
if up tls12; then pings tls12 3 0.05; fi
stop tls12

sc_step "tls13v6: sstp-tls-min 1.3, [fd00:5::2]:443"
plugin tls13v6 "[$SC_SERVER_V6]:443" $CA password "$SC_PASSWORD" sstp-tls-min 1.3
if up tls13v6; then pings tls13v6 3 0.05; fi
stop tls13v6

sc_step "badpw: wrong password"
plugin badpw "$SC_SERVER_NAME:443" $CA password "not-the-password"
ends badpw 60
sc_wait 15 sc_server_pppd_gone

sc_step "badpin: wrong certificate pin"
plugin badpin "$SC_SERVER_NAME:443" password "$SC_PASSWORD" \
    sstp-cert-pin "sha256:$(printf '%064d' 0 | sed 's/0/a/g')"
ends badpin 30

sc_step "persist: two sessions in one pppd (server-side hangup), then a refused call and holdoff"
plugin persist "$SC_SERVER_NAME:443" $CA password "$SC_PASSWORD" persist holdoff 5 maxfail 3
one_task() {{ [ "$(ls /proc/$PID/task | wc -l)" = 1 ] && [ -z "$(sc_ppp_if)" ]; }}
calls() {{ [ "$(grep -c 'sstp-rs: connecting to' "$SC_OUT/c-persist.log")" -ge "$1" ]; }}
if up persist1; then
    sleep 0.5
    sc_fact persist_fds1 "$(ls /proc/$PID/fd | wc -l)"
    sc_fact persist_tasks1 "$(ls /proc/$PID/task | wc -l)"
    ls -l /proc/$PID/fd >"$SC_OUT/persist-fds1.txt" 2>&1
    # The server ends the session (its pppd is killed); pppd calls again by itself (after the
    # holdoff when LCP TermReq came first, at once on "Modem hangup").
    for p in $(srv_pppds); do kill -TERM "$p"; done
    sc_wait 15 calls 2
    T0=$(sc_now)
    if up persist2; then
        sleep 0.5
        pings persist2 3 0.05
        sc_fact persist_fds2 "$(ls /proc/$PID/fd | wc -l)"
        sc_fact persist_tasks2 "$(ls /proc/$PID/task | wc -l)"
        ls -l /proc/$PID/fd >"$SC_OUT/persist-fds2.txt" 2>&1
        # sstpd stops: the session ends, the next call is refused, and pppd waits the holdoff
        # (5 s): the I/O thread must be gone and its fds closed by then.
        sc_server_stop
        sc_wait 15 calls 3
        if sc_wait 4 one_task; then sc_fact persist_between_tasks 1; else sc_fact persist_between_tasks "$(ls /proc/$PID/task | wc -l)"; fi
        sc_fact persist_between_fds "$(ls /proc/$PID/fd | wc -l)"
        ls -l /proc/$PID/fd >"$SC_OUT/persist-fds-between.txt" 2>&1
    fi
fi
sc_fact persist_calls "$(grep -c 'sstp-rs: connecting to' "$SC_OUT/c-persist.log")"
stop persist

sc_step "midabort: the server aborts 3 s into the session"
plugin midabort "$SC_SERVER_NAME:447" $CA password "$SC_PASSWORD"
up midabort
ends midabort 30

sc_step "silent: the server goes silent; sstp-echo-interval 1"
plugin silent "$SC_SERVER_NAME:448" $CA password "$SC_PASSWORD" sstp-echo-interval 1
ends silent 30

sc_step "nak: CALL_CONNECT_NAK"
plugin nak "$SC_SERVER_NAME:446" $CA password "$SC_PASSWORD"
ends nak 30

sc_step "abort: CALL_ABORT right after CALL_CONNECTED"
plugin abort "$SC_SERVER_NAME:445" $CA password "$SC_PASSWORD"
ends abort 30
sc_fact sessions_s "$(sc_elapsed "$t_all" "$(sc_now)")"

sc_step "teardown"
sleep 1
sc_fact client_pppds "$(sc_client_pppds | tr '\n' ' ')"
sc_fact zombies "$(ps -e -o pid=,stat=,comm= | awk '$2 ~ /^Z/ {{ printf "%s:%s ", $3, $1 }}')"
for s in $(cat "$SC_WORK/servers"); do kill -TERM "$s" 2>/dev/null; done
sc_server_stop
for p in $(pgrep -x pppd); do kill -TERM "$p" 2>/dev/null; done
sleep 0.5
sc_leftovers
exit 0
"#,
        so = shell_quote(&so.to_string_lossy()),
        pppd = shell_quote(&pppd_bin.to_string_lossy()),
        server = shell_quote(&server.to_string_lossy()),
    )
}

/// One boot's results.
struct Matrix {
    run: testbed::GuestRun,
    facts: BTreeMap<String, String>,
    diag: String,
}

impl Matrix {
    fn fact(&self, k: &str) -> &str {
        self.facts.get(k).map(String::as_str).unwrap_or("")
    }
    fn num(&self, k: &str) -> f64 {
        self.fact(k).trim().parse().unwrap_or(f64::NAN)
    }
    fn log(&self, tag: &str) -> String {
        self.run.read(&format!("c-{tag}.log")).unwrap_or_default()
    }
    fn file(&self, name: &str) -> String {
        self.run.read(name).unwrap_or_default()
    }
}

fn run_matrix(pppd: Pppd) -> Option<Matrix> {
    let sstpd = sstpd_venv().join("bin/sstpd");
    if integration_tests::testbed::skip_testbed(&[&sstpd.to_string_lossy()]) {
        return None;
    }
    let so = build_plugin(pppd, true, "sstp-rs-matrix.so").expect("build the plugin");
    let server = build_test_server().expect("build sstp-test-server");
    let opts = BootOptions {
        timeout: Duration::from_secs(300),
        env: vec![(
            "SC_VENV".to_string(),
            sstpd_venv().to_string_lossy().into_owned(),
        )],
        files: vec![(
            "sstp-scenario.sh".to_string(),
            SCENARIO_LIB.as_bytes().to_vec(),
        )],
        stream_output: std::env::var_os("SSTP_RS_STREAM").is_some(),
        ..BootOptions::default()
    };
    let run = match testbed::run(&script(&so, &pppd.binary(), &server), &opts) {
        Ok(r) => r,
        Err(TestbedError::Unavailable(why)) => {
            integration_tests::testbed::skip_unavailable(&why);
            return None;
        }
        Err(e) => panic!("test bed: {e}"),
    };
    let facts = parse_facts(&run.output);
    let diag = format!(
        "{}\n--- facts ---\n{facts:#?}\n{}",
        run.diagnostics(),
        run.log_tails(80)
    );
    if std::env::var_os("SSTP_RS_DIAG").is_some() {
        eprintln!("{diag}");
    }
    Some(Matrix { run, facts, diag })
}

fn check(m: &Matrix, pppd: Pppd) {
    let d = &m.diag;
    let v = pppd.version();
    assert!(m.run.success(), "{d}");
    assert_eq!(m.fact("server_started"), "1", "{d}");
    assert_eq!(m.fact("ts_started"), "1", "{d}");
    // The plugin was built for, and loaded into, this pppd (pppd_version matched).
    assert!(
        m.file("c-main.out").contains(&format!("(pppd {v})")),
        "not pppd {v}\n{d}"
    );
    let sha = m.fact("server_cert_sha256").to_string();
    assert_eq!(sha.len(), 64, "{d}");
    let server_pppd = m.file("server-pppd.log");

    // 1. 100 pings with 0 loss; crypto binding verified by sstpd; clean disconnect both sides.
    assert_eq!(m.fact("main_up"), "1", "{d}");
    assert_eq!(m.fact("main_ping_tx"), "100", "{d}");
    assert_eq!(m.fact("main_ping_rx"), "100", "packet loss\n{d}");
    // The pings went through the tunnel: the route to the peer is the ppp interface, whose
    // counters saw them.
    let ifname = m.fact("main_if");
    assert!(ifname.starts_with("ppp"), "{d}");
    assert!(
        m.fact("main_route").contains(&format!("dev {ifname}")),
        "{d}"
    );
    assert!(m.num("main_tx_packets") >= 100.0, "{d}");
    assert!(m.num("main_rx_packets") >= 100.0, "{d}");
    let main = m.log("main");
    let sstpd_main = m.file("sstpd-main.log");
    assert!(
        sstpd_main.contains("Crypto Binding is valid"),
        "binding not verified\n{d}"
    );
    assert!(
        main.contains("sstp-rs: SSTP call connected (crypto binding SHA256)"),
        "{d}"
    );
    assert!(main.contains("sent [LCP TermReq"), "{d}");
    assert!(server_pppd.contains("rcvd [LCP TermReq"), "{d}");
    assert!(
        main.contains("call disconnected locally; the server acknowledged"),
        "{d}"
    );
    assert!(
        sstpd_main.contains("Received call disconnect request"),
        "server did not see CALL_DISCONNECT\n{d}"
    );
    assert_eq!(m.fact("main_exit"), "5", "EXIT_USER_REQUEST\n{d}");
    assert_eq!(m.fact("main_server_pppd_exited"), "1", "{d}");
    assert!(!main.contains(PASSWORD), "password in the log\n{d}");

    // 2. TLS capped at 1.2 over IPv4 by name; TLS 1.3 minimum over IPv6 by address.
    for tag in ["tls12", "tls13v6"] {
        assert_eq!(m.fact(&format!("{tag}_up")), "1", "{tag}\n{d}");
        assert_eq!(m.fact(&format!("{tag}_ping_rx")), "3", "{tag}\n{d}");
        assert_eq!(m.fact(&format!("{tag}_exit")), "5", "{tag}\n{d}");
        assert!(
            m.file(&format!("sstpd-{tag}.log"))
                .contains("Crypto Binding is valid"),
            "{tag}\n{d}"
        );
        assert!(
            m.log(tag)
                .contains("call disconnected locally; the server acknowledged"),
            "{tag}\n{d}"
        );
    }
    let tls12 = m.log("tls12");
    assert!(
        tls12.contains("sstp-rs: TLSv1.2 ") && tls12.contains(" with 192.0.2.2:443 (direct)"),
        "{d}"
    );
    let tls13 = m.log("tls13v6");
    assert!(
        tls13.contains("sstp-rs: TLSv1.3 ") && tls13.contains(" with [fd00:5::2]:443 (direct)"),
        "{d}"
    );
    assert!(
        tls13.contains("Connect: ppp0 <--> sstp:[fd00:5::2]:443")
            || tls13.contains("<--> sstp:[fd00:5::2]:443"),
        "{d}"
    );

    // 3. Wrong password: fast, pppd's EXIT_AUTH_TOPEER_FAILED, named as an authentication
    // failure (not as a crypto binding rejection).
    let badpw = m.log("badpw");
    assert_eq!(m.fact("badpw_ended"), "1", "{d}");
    assert_eq!(m.fact("badpw_exit"), "19", "{d}");
    assert!(
        m.num("badpw_elapsed_s") < 15.0,
        "auth failure took {}s\n{d}",
        m.fact("badpw_elapsed_s")
    );
    assert!(
        badpw.contains("sstp-rs: PPP authentication failed - check user name and password"),
        "{d}"
    );
    assert!(!badpw.contains("CALL_CONNECTED"), "{d}");
    assert!(
        !badpw.to_lowercase().contains("rejected the crypto binding"),
        "{d}"
    );
    assert!(
        !badpw.contains("not-the-password"),
        "password in the log\n{d}"
    );

    // 4. Wrong pin: exit 11, the pin mismatch named with the certificate's real SHA-256.
    let badpin = m.log("badpin");
    assert_eq!(m.fact("badpin_exit"), "11", "{d}");
    assert!(badpin.contains("does not match the configured pin"), "{d}");
    assert!(badpin.contains(&format!("SHA-256:  {sha}")), "{d}");
    assert!(
        badpin.contains(&format!("sstp-cert-pin sha256:{sha}")),
        "{d}"
    );

    // 5. Server abort mid-session: EXIT_HANGUP with the decoded status; echo timeout: 15.
    let mid = m.log("midabort");
    assert_eq!(m.fact("midabort_up"), "1", "{d}");
    assert_eq!(m.fact("midabort_exit"), "16", "{d}");
    assert!(
        mid.contains(
            "sstp-rs: SSTP call ended: server aborted the call (CALL_ABORT, status NO_ERROR"
        ),
        "{d}"
    );
    assert!(!mid.contains("it rejected the crypto binding"), "{d}");
    assert!(mid.contains("Modem hangup"), "{d}");
    let silent = m.log("silent");
    assert_eq!(m.fact("silent_exit"), "15", "{d}");
    assert!(silent.contains("ECHO_REQUESTs without any reply"), "{d}");
    assert!(
        m.num("silent_elapsed_s") < 20.0,
        "echo timeout took {}s\n{d}",
        m.fact("silent_elapsed_s")
    );

    // 6. persist: two sessions in one pppd, same fds, the I/O thread gone in between.
    assert_eq!(m.fact("persist1_up"), "1", "{d}");
    assert_eq!(m.fact("persist2_up"), "1", "{d}");
    assert_eq!(m.fact("persist2_ping_rx"), "3", "{d}");
    assert_eq!(m.fact("persist_tasks1"), "2", "pppd + the I/O thread\n{d}");
    assert_eq!(m.fact("persist_between_tasks"), "1", "I/O thread left\n{d}");
    assert_eq!(m.fact("persist_tasks2"), "2", "{d}");
    let fds1 = m.num("persist_fds1");
    assert!(fds1 > 0.0, "{d}");
    assert_eq!(fds1, m.num("persist_fds2"), "fd leak across sessions\n{d}");
    assert!(m.num("persist_between_fds") < fds1, "{d}");
    // Three calls: two sessions, one that failed (sstpd stopping: refused, or reset during the
    // TLS handshake), then SIGTERM in the holdoff.
    assert_eq!(m.fact("persist_calls"), "3", "{d}");
    assert_eq!(
        m.log("persist").matches("SSTP call acknowledged").count(),
        2,
        "{d}"
    );
    // Both sessions' crypto bindings were verified by sstpd.
    assert_eq!(
        m.file("sstpd-persist.log")
            .matches("Crypto Binding is valid")
            .count(),
        2,
        "{d}"
    );
    assert_eq!(m.fact("persist_ended"), "1", "{d}");
    assert!(
        m.log("persist")
            .contains("sstp-rs: SSTP call ended: server disconnected the call")
            || m.log("persist").contains("rcvd [LCP TermReq"),
        "{d}"
    );

    // 7. Fault modes: NAK -> 10, abort right after CALL_CONNECTED -> 19 (crypto binding).
    assert_eq!(m.fact("nak_exit"), "10", "{d}");
    assert!(
        m.log("nak")
            .contains("CALL_CONNECT_NAK, status VALUE_NOT_SUPPORTED (4)"),
        "{d}"
    );
    assert_eq!(m.fact("abort_exit"), "19", "{d}");
    assert!(
        m.log("abort").contains("it rejected the crypto binding"),
        "{d}"
    );

    // Nothing left behind: no pppd, no zombie, no server.
    assert_eq!(m.fact("client_pppds"), "", "{d}");
    assert_eq!(m.fact("zombies"), "", "{d}");
    assert_eq!(m.fact("leftovers"), "", "{d}");
    assert!(
        m.run.no_leftover_processes,
        "UML processes left on the host"
    );

    let f = |k: &str| m.fact(k).to_string();
    eprintln!(
        "pppd {v}: boot {:?}, guest command {:?}, host wall {:?}, sessions {}s\n  \
         connect s: main {} tls12 {} tls13v6 {} persist {}/{} midabort {}\n  \
         ping rtt min/avg/max/mdev ms: main(100 x 0.05s) {} tls12 {} tls13v6 {}\n  \
         failures s: badpw {} badpin {} midabort {} silent {} nak {} abort {}\n  \
         disconnect s: main {} tls12 {} tls13v6 {}; persist fds {}/{}/{}",
        m.run.boot_time,
        m.run.command_time,
        m.run.wall_time,
        f("sessions_s"),
        f("main_connect_s"),
        f("tls12_connect_s"),
        f("tls13v6_connect_s"),
        f("persist1_connect_s"),
        f("persist2_connect_s"),
        f("midabort_connect_s"),
        f("main_ping_rtt"),
        f("tls12_ping_rtt"),
        f("tls13v6_ping_rtt"),
        f("badpw_elapsed_s"),
        f("badpin_elapsed_s"),
        f("midabort_elapsed_s"),
        f("silent_elapsed_s"),
        f("nak_elapsed_s"),
        f("abort_elapsed_s"),
        f("main_stop_s"),
        f("tls12_stop_s"),
        f("tls13v6_stop_s"),
        f("persist_fds1"),
        f("persist_between_fds"),
        f("persist_fds2"),
    );
}

#[test]
fn matrix_pppd249() {
    if skip() {
        return;
    }
    if let Some(m) = run_matrix(Pppd::V249) {
        check(&m, Pppd::V249);
    }
}

#[test]
fn matrix_pppd252() {
    if skip() {
        return;
    }
    if let Some(m) = run_matrix(Pppd::V252) {
        check(&m, Pppd::V252);
    }
}
