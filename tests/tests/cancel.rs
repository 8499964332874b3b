//! Cancelling the connect phase: pppd 2.4.9 (and 2.5.2 for TLS and SSTP negotiation) +
//! sstp-rs.so in the UML test bed, ONE boot. For each
//! phase (DNS, TCP, proxy, TLS, HTTP, SSTP negotiation) a pppd is started against a peer that
//! stays silent in exactly that phase; once the guest sees it waiting there, it sends SIGTERM.
//! pppd must end within 1 s with "connect cancelled (SIGTERM) during <phase>" in its log and
//! exit status 5 (EXIT_USER_REQUEST). Then SIGCHLD and SIGUSR1 bursts during a slow TLS
//! handshake and a slow HTTP answer must NOT fail the connect: the session comes up.
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::plugin::{self, Pppd};
use integration_tests::scenario::{self, parse_facts};
use integration_tests::testbed;

/// One phase to cancel.
struct Phase {
    tag: &'static str,
    /// Shell condition (a function of the script) that holds once pppd waits in the phase.
    ready: &'static str,
    /// `sstp-server` value and extra options.
    target: &'static str,
    extra: &'static str,
    /// The phase name in the message.
    phase: &'static str,
}

const PHASES: &[Phase] = &[
    Phase {
        tag: "dns",
        ready: "dns_waiting",
        target: "sstp-unanswered.test:443",
        extra: "",
        phase: "name resolution",
    },
    Phase {
        tag: "tcp",
        ready: "tcp_waiting",
        target: "192.0.2.77:443",
        extra: "",
        phase: "the TCP connect",
    },
    Phase {
        tag: "proxy",
        ready: "proxy_waiting",
        target: "sstp-server.test:443",
        extra: "sstp-proxy http://192.0.2.2:458",
        phase: "the proxy CONNECT",
    },
    Phase {
        tag: "tls",
        ready: "tls_waiting",
        target: "sstp-server.test:454",
        extra: "",
        phase: "the TLS handshake",
    },
    Phase {
        tag: "http",
        ready: "http_waiting",
        target: "sstp-server.test:444",
        extra: "",
        phase: "the SSTP HTTP exchange",
    },
    Phase {
        tag: "sstp",
        ready: "sstp_waiting",
        target: "sstp-server.test:457",
        extra: "",
        phase: "SSTP call negotiation",
    },
    // pppd 2.5.2 (its NF_SIGNALED notifier): tags starting with v25_ run it.
    Phase {
        tag: "v25_tls",
        ready: "tls25_waiting",
        target: "sstp-server.test:464",
        extra: "",
        phase: "the TLS handshake",
    },
    Phase {
        tag: "v25_sstp",
        ready: "sstp25_waiting",
        target: "sstp-server.test:467",
        extra: "",
        phase: "SSTP call negotiation",
    },
];

/// From SIGTERM to pppd's end (the guest polls every 0.1 s).
const STOP_BOUND_SECS: f64 = 1.0;

fn build() -> (PathBuf, PathBuf, PathBuf) {
    plugin::ensure_pppd25().expect("pppd 2.5.2");
    let so25 = plugin::build_plugin(Pppd::V252, true, "sstp-rs-cancel.so").expect("build plugin");
    let so = plugin::build_plugin(Pppd::V249, true, "sstp-rs-cancel.so").expect("build plugin");
    let server = plugin::build_test_server().expect("build sstp-test-server");
    (so, so25, server)
}

fn script(so: &Path, so25: &Path, server: &Path) -> String {
    let mut s = format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
SO25={so25}
PPPD25={pppd25}
SERVER={server}
sc_net_up || exit 1
sc_pki || exit 1
pki=$SC_WORK/pki
sc_test_server_setup
sc_test_server 444 srv-http.log server --fault no-http-response
sc_test_server 454 srv-tls.log server --fault tls-drip
sc_test_server 457 srv-sstp.log server --fault silent-after-http
sc_test_server 458 srv-proxy.log server --fault tcp-silent
sc_test_server 460 srv-slow.log server --fault slow-connect=1.5
sc_test_server 464 srv-tls25.log server --fault tls-drip
sc_test_server 467 srv-sstp25.log server --fault silent-after-http
for p in 444 454 457 458 460 464 467; do
    SC_PORT=$p sc_wait 30 sc_server_listening || {{ echo "server on $p not listening"; exit 1; }}
done
sc_fact servers_started 1

# DNS: a name server that never answers (no neighbour at that address).
printf 'nameserver 192.0.2.99\noptions timeout:30 attempts:1\n' >"$SC_WORK/resolv.conf"
mount --bind "$SC_WORK/resolv.conf" /etc/resolv.conf || exit 1

dns_waiting() {{ ss -Hun "dst 192.0.2.99" | grep -q .; }}
tcp_waiting() {{ ss -Htn state syn-sent "dst 192.0.2.77" | grep -q .; }}
proxy_waiting() {{ grep -q 'fault tcp-silent: accepted' "$SC_OUT/srv-proxy.log"; }}
tls_waiting() {{ grep -q 'fault tls-drip: sending' "$SC_OUT/srv-tls.log"; }}
http_waiting() {{ grep -q 'fault no-http-response: never answering' "$SC_OUT/srv-http.log"; }}
sstp_waiting() {{ grep -q 'fault mode silent-after-http acts' "$SC_OUT/srv-sstp.log"; }}
tls25_waiting() {{ grep -q 'fault tls-drip: sending' "$SC_OUT/srv-tls25.log"; }}
sstp25_waiting() {{ grep -q 'fault mode silent-after-http acts' "$SC_OUT/srv-sstp25.log"; }}

client() {{ # tag target [extra pppd options]
    tag=$1; target=$2; shift 2
    case $tag in v25_*) bin=$PPPD25; so=$SO25 ;; *) bin=/usr/sbin/pppd; so=$SO ;; esac
    "$bin" plugin "$so" sstp-server "$target" sstp-ca-file "$SC_OUT/ca.pem" \
        user "$SC_USER" password "$SC_PASSWORD" noauth noccp nobsdcomp nodeflate refuse-eap \
        nodefaultroute noipdefault lcp-echo-interval 0 debug nodetach \
        logfile "$SC_OUT/c-$tag.log" "$@" >"$SC_OUT/c-$tag.out" 2>&1 &
    pid=$!
}}
stopped() {{ # tag: waits for $pid after the signal sent at $ts; exit status and time
    ( sleep 10; kill -KILL $pid 2>/dev/null ) & guard=$!
    wait $pid
    rc=$?
    te=$(sc_now)
    kill $guard 2>/dev/null
    sc_fact "exit_$1" $rc
    sc_fact "stop_secs_$1" "$(sc_elapsed "$ts" "$te")"
    sleep 0.2
    sc_fact "left_$1" "$(sc_client_pppds | wc -l)"
}}
cancel() {{ # tag ready target [extra]
    tag=$1; ready=$2; target=$3; shift 3
    echo "== cancel during $tag"
    client "$tag" "$target" "$@"
    sc_proc_watch "$tag" $pid & wpid=$!
    if sc_wait 20 "$ready"; then sc_fact "reached_$tag" 1; else sc_fact "reached_$tag" 0; fi
    sc_fact "alive_$tag" "$(kill -0 $pid 2>/dev/null && echo 1 || echo 0)"
    ts=$(sc_now)
    kill -TERM $pid
    stopped "$tag"
    wait $wpid
}}
burst() {{ # pid: SIGCHLD and SIGUSR1, 5 times each over 0.5 s
    for i in 1 2 3 4 5; do kill -CHLD $1; kill -USR1 $1; sleep 0.1; done
}}
"#,
        so = testbed::shell_quote(&so.to_string_lossy()),
        server = testbed::shell_quote(&server.to_string_lossy()),
        so25 = testbed::shell_quote(&so25.to_string_lossy()),
        pppd25 = testbed::shell_quote(&Pppd::V252.binary().to_string_lossy()),
    );
    for p in PHASES {
        s.push_str(&format!(
            "cancel {} {} {} {}\n",
            p.tag, p.ready, p.target, p.extra
        ));
    }
    s.push_str(
        r#"
echo "== SIGCHLD/SIGUSR1 during a slow TLS handshake and a slow HTTP answer"
client signals sstp-server.test:460
sc_wait 20 grep -q 'before the TLS handshake' "$SC_OUT/srv-slow.log" && sc_fact burst_tls 1
burst $pid
sc_wait 20 grep -q 'before the HTTP answer' "$SC_OUT/srv-slow.log" && sc_fact burst_http 1
burst $pid
if sc_wait 30 sc_ppp_up; then sc_fact up_signals 1; else sc_fact up_signals 0; fi
ts=$(sc_now)
kill -TERM $pid
stopped signals

umount /etc/resolv.conf
for s in $(cat "$SC_WORK/servers"); do kill -TERM "$s" 2>/dev/null; done
for p in $(pgrep -x pppd); do kill -TERM "$p" 2>/dev/null; done
sleep 1
sc_leftovers
exit 0
"#,
    );
    s
}

#[test]
fn sigterm_cancels_every_connect_phase_and_other_signals_do_not() {
    if integration_tests::testbed::skip_testbed(&[]) {
        return;
    }
    let (so, so25, server) = build();
    let script = script(&so, &so25, &server);
    let Some(run) = scenario::run_script(&script, Duration::from_secs(240)) else {
        return;
    };
    let facts = parse_facts(&run.output);
    let fact = |k: &str| facts.get(k).cloned().unwrap_or_default();
    let get = |n: &str| run.read(n).unwrap_or_default();
    let diag = format!("{}\n--- facts ---\n{facts:?}", run.diagnostics());
    assert!(run.success(), "{diag}");
    assert_eq!(fact("servers_started"), "1", "{diag}");

    let mut failures = Vec::new();
    for p in PHASES {
        let t = p.tag;
        let log = format!(
            "{}\n{}",
            get(&format!("c-{t}.log")),
            get(&format!("c-{t}.out"))
        );
        let mut problems = Vec::new();
        if fact(&format!("reached_{t}")) != "1" || fact(&format!("alive_{t}")) != "1" {
            problems.push("pppd was not waiting in the phase when SIGTERM was sent".to_string());
        }
        let exit = fact(&format!("exit_{t}"));
        if exit != "5" {
            problems.push(format!(
                "exit status {exit}, expected 5 (EXIT_USER_REQUEST)"
            ));
        }
        let secs: f64 = fact(&format!("stop_secs_{t}")).parse().unwrap_or(f64::MAX);
        if secs > STOP_BOUND_SECS {
            problems.push(format!(
                "ended {secs:.2} s after SIGTERM, bound {STOP_BOUND_SECS} s"
            ));
        }
        let want = format!("sstp-rs: connect cancelled (SIGTERM) during {}", p.phase);
        let want_negotiation = format!("sstp-rs: SSTP negotiation failed: {}", &want[9..]);
        if !log.contains(&want) && !log.contains(&want_negotiation) {
            problems.push(format!("log lacks {want:?}"));
        }
        if fact(&format!("left_{t}")) != "0" {
            problems.push("a client pppd was left running".into());
        }
        eprintln!(
            "cancel {t:<6} exit {exit:>2}, ended {secs:.3} s after SIGTERM, RSS max {} kB, \
             CPU {} %{}",
            fact(&format!("{t}_rss_max_kb")),
            fact(&format!("{t}_cpu_pct")),
            if problems.is_empty() { "" } else { "  FAILED" }
        );
        if !problems.is_empty() {
            failures.push(format!("== {t}: {}\n{log}", problems.join("; ")));
        }
    }
    let log = get("c-signals.log");
    eprintln!(
        "signals: bursts during TLS {} / HTTP {}, session up {}, exit {} after SIGTERM",
        fact("burst_tls"),
        fact("burst_http"),
        fact("up_signals"),
        fact("exit_signals")
    );
    if fact("burst_tls") != "1" || fact("burst_http") != "1" || fact("up_signals") != "1" {
        failures.push(format!(
            "== signals: SIGCHLD/SIGUSR1 during TLS/HTTP broke the connect\n{log}\n{}",
            get("srv-slow.log")
        ));
    }
    if log.contains("cancelled") || log.contains("Interrupted") {
        failures.push(format!(
            "== signals: the log mentions an interruption\n{log}"
        ));
    }
    assert!(failures.is_empty(), "{}\n\n{diag}", failures.join("\n\n"));
    assert_eq!(fact("leftovers"), "", "{diag}");
}
