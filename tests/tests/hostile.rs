//! The hostile-server suite: pppd 2.4.9 + sstp-rs.so in the UML test bed against every seed
//! failure condition, in ONE boot. The guest starts several `sstp-test-server` instances (one
//! fault mode per port), a Squid that demands proxy authentication, and runs one short pppd
//! attempt per condition in sequence. Each case asserts the exact key sentence the plugin logs,
//! pppd's exit status, that pppd ended within a bound (nothing hangs) and that no pppd was left
//! behind. Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed;
//! SSTP_RS_STREAM=1 shows the guest's progress.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use integration_tests::plugin::{self, Pppd};
use integration_tests::scenario::{self, parse_facts};
use integration_tests::testbed;

fn skip() -> bool {
    integration_tests::testbed::skip_testbed(&["/usr/sbin/squid"])
}

/// Builds the plugin for pppd 2.4.9 (release) and the test server, in target/pppd-2.4.9/cargo.
fn build() -> (PathBuf, PathBuf) {
    let so =
        plugin::build_plugin(Pppd::V249, true, "sstp-rs-hostile.so").expect("build the plugin");
    let server = plugin::build_test_server().expect("build sstp-test-server");
    (so, server)
}

/// One seed condition.
struct Case {
    /// Short name (log file `h-<tag>.log`, facts `exit_<tag>` ...).
    tag: &'static str,
    /// What is tested (for the report).
    what: &'static str,
    /// The `sstp-server` value.
    target: &'static str,
    /// Extra pppd options (a shell fragment: may use the script's variables).
    extra: &'static str,
    /// Sentences the plugin's log must contain (`{pin}`: the server certificate's pin;
    /// `{SHA256}`, `{SHA1}`: its hashes as uppercase hex, computed by the guest's openssl).
    expect: &'static [&'static str],
    /// pppd's exit status.
    exit: i32,
    /// pppd must have ended within this many seconds.
    max_secs: u32,
}

const CASES: &[Case] = &[
    Case {
        tag: "resolve",
        what: "unresolvable server name (.invalid)",
        target: "no-such-sstp-server.invalid",
        extra: "",
        expect: &[
            "sstp-rs: cannot resolve the server name \"no-such-sstp-server.invalid\" (",
            "); check the spelling, this machine's DNS settings and network connection",
        ],
        exit: 8,
        max_secs: 30,
    },
    Case {
        tag: "refused",
        what: "closed port: connection refused",
        target: "sstp-server.test:4444",
        extra: "",
        expect: &[
            "sstp-rs: cannot connect to the server sstp-server.test port 4444",
            "192.0.2.2:4444: connection refused",
            "hint: the host is up but nothing listens on that port: check the port and that \
             the SSTP service is running",
        ],
        exit: 8,
        max_secs: 15,
    },
    Case {
        tag: "noroute",
        what: "address without a neighbour: bounded by sstp-connect-timeout 2",
        target: "192.0.2.77:443",
        extra: "sstp-connect-timeout 2",
        expect: &[
            "sstp-rs: cannot connect to the server 192.0.2.77 port 443",
            "192.0.2.77:443: timed out after 2.0 s",
            "hint: no answer at all: a firewall drops the traffic, or the host is down",
        ],
        exit: 8,
        max_secs: 12,
    },
    Case {
        tag: "nonet",
        what: "address in a network without a route: unreachable at once",
        target: "203.0.113.5:443",
        extra: "",
        expect: &[
            "sstp-rs: cannot connect to the server 203.0.113.5 port 443",
            "203.0.113.5:443: unreachable (Network is unreachable",
            "hint: check the address, the port, firewalls and this machine's routes",
        ],
        exit: 8,
        max_secs: 10,
    },
    Case {
        tag: "untrusted",
        what: "TLS trust failure: certificate from a CA that is not trusted",
        target: "sstp-server.test:443",
        extra: "sstp-ca-file \"$SC_WORK/pki/other-ca.pem\"",
        expect: &[
            "sstp-rs: the server certificate from 192.0.2.2:443 is not trusted: its chain does \
             not lead to a trusted certificate authority",
            "to trust exactly this certificate add the option: {pin}",
        ],
        exit: 11,
        max_secs: 20,
    },
    Case {
        tag: "eku",
        what: "certificate EKU clientAuth only",
        target: "sstp-server.test:453",
        extra: "",
        expect: &[
            "is not trusted: its Extended Key Usage has neither Server Authentication nor Any \
             Purpose (Windows refuses it too)",
            "hint: the server's admin must bind a Server Authentication certificate",
        ],
        exit: 11,
        max_secs: 20,
    },
    Case {
        tag: "nohttp",
        what: "no HTTP response within sstp-http-timeout 3",
        target: "sstp-server.test:444",
        extra: "sstp-http-timeout 3",
        // The figure is the time actually waited (3.0 .. 3.x s).
        expect: &[
            "sstp-rs: SSTP handshake with 192.0.2.2:444: no HTTP response from the server \
             within 3.",
            " s after the SSTP request: the server is overloaded, not an SSTP server, or \
             something between drops the connection",
        ],
        exit: 8,
        max_secs: 15,
    },
    Case {
        tag: "noversion",
        what: "response without HTTP version",
        target: "sstp-server.test:449",
        extra: "",
        expect: &[
            "sstp-rs: SSTP handshake with 192.0.2.2:449: the server's answer \"200 OK\" has no \
             HTTP version",
        ],
        exit: 8,
        max_secs: 20,
    },
    Case {
        tag: "http10",
        what: "HTTP/1.0 response",
        target: "sstp-server.test:448",
        extra: "",
        expect: &[
            "sstp-rs: SSTP handshake with 192.0.2.2:448: the server answered with HTTP/1.0 \
             instead of HTTP/1.1",
        ],
        exit: 8,
        max_secs: 20,
    },
    Case {
        tag: "403",
        what: "refused with HTTP 403",
        target: "sstp-server.test:447",
        extra: "",
        expect: &[
            "sstp-rs: SSTP handshake with 192.0.2.2:447: the server refused the SSTP request \
             with HTTP 403 Forbidden",
            "access to the SSTP endpoint is denied",
        ],
        exit: 8,
        max_secs: 20,
    },
    Case {
        tag: "404",
        what: "refused with HTTP 404",
        target: "sstp-server.test:450",
        extra: "",
        expect: &[
            "sstp-rs: SSTP handshake with 192.0.2.2:450: the server refused the SSTP request \
             with HTTP 404 Not Found",
            "the SSTP resource does not exist there",
        ],
        exit: 8,
        max_secs: 20,
    },
    Case {
        tag: "503",
        what: "refused with HTTP 503",
        target: "sstp-server.test:451",
        extra: "",
        expect: &[
            "sstp-rs: SSTP handshake with 192.0.2.2:451: the server refused the SSTP request \
             with HTTP 503 Service Unavailable",
            "the server is failing or overloaded",
        ],
        exit: 8,
        max_secs: 20,
    },
    Case {
        tag: "proxy407",
        what: "proxy demands authentication, no credentials given (Squid: Digest + Basic)",
        target: "sstp-server.test:443",
        extra: "sstp-proxy http://192.0.2.2:3128",
        expect: &[
            "sstp-rs: the HTTP proxy 192.0.2.2:3128 demands authentication (407); offered: ",
            "Digest realm=\"sstp-hostile-digest\"",
            "Basic realm=\"sstp-hostile-basic\"",
            "; configure proxy credentials",
        ],
        exit: 8,
        max_secs: 20,
    },
    Case {
        tag: "nak",
        what: "CALL_CONNECT_NAK with Status Info",
        target: "sstp-server.test:446",
        extra: "",
        expect: &[
            "sstp-rs: SSTP negotiation failed: SSTP call ended: server refused the call: \
             CALL_CONNECT_NAK, status VALUE_NOT_SUPPORTED (4) for attribute \
             ENCAPSULATED_PROTOCOL_ID (proposed value 0001) (after 4 attempts)",
        ],
        exit: 10,
        max_secs: 40,
    },
    Case {
        tag: "abort",
        what: "CALL_ABORT right after CALL_CONNECTED (crypto binding rejected)",
        target: "sstp-server.test:445",
        extra: "",
        expect: &[
            "sstp-rs: SSTP call ended: server aborted the call (CALL_ABORT, status \
             VALUE_NOT_SUPPORTED (4) for attribute CRYPTO_BINDING): the server rejected the \
             crypto binding (nonce, certificate hash or Compound MAC mismatch)",
            "sstp-rs: the server aborted right after CALL_CONNECTED: it rejected the crypto \
             binding",
            "\n  certificate seen from IPv4 192.0.2.2:445\n  SHA-256: {SHA256}\n  SHA-1:   {SHA1}\n  \
             relay these hashes and the address to the server's administrator",
        ],
        exit: 19,
        max_secs: 40,
    },
    Case {
        tag: "certhash",
        what: "certificate hash mismatch (TLS-offloading device): crypto binding rejected",
        target: "sstp-server.test:452",
        extra: "",
        expect: &[
            "sstp-rs: SSTP call ended: server aborted the call (CALL_ABORT, status \
             VALUE_NOT_SUPPORTED (4) for attribute CRYPTO_BINDING): the server rejected the \
             crypto binding (nonce, certificate hash or Compound MAC mismatch)",
            "sstp-rs: the server aborted right after CALL_CONNECTED: it rejected the crypto \
             binding",
            "\n  certificate seen from IPv4 192.0.2.2:452\n  SHA-256: {SHA256}\n  SHA-1:   {SHA1}\n  \
             relay these hashes and the address to the server's administrator",
        ],
        exit: 19,
        max_secs: 40,
    },
    // connect-phase faults: bounded by one deadline per phase, without a busy loop.
    Case {
        tag: "tlsdrip",
        what: "server drips its TLS handshake (1 byte/s): ends at the handshake deadline",
        target: "sstp-server.test:454",
        extra: "sstp-connect-timeout 5",
        expect: &[
            "sstp-rs: TLS handshake with 192.0.2.2:454 failed: no TLS handshake within 5.0 s",
            "hint: the server accepted TCP but never completed TLS",
        ],
        exit: 8,
        max_secs: 9,
    },
    Case {
        tag: "endlesshdr",
        what: "HTTP header lines that never end (one per 0.5 s): sstp-http-timeout 3",
        target: "sstp-server.test:455",
        extra: "sstp-http-timeout 3",
        expect: &[
            "sstp-rs: SSTP handshake with 192.0.2.2:455: no HTTP response from the server \
             within 3.",
        ],
        exit: 8,
        max_secs: 9,
    },
    Case {
        tag: "endless407",
        what: "proxy 407 whose body never ends: one deadline for the CONNECT round",
        target: "sstp-server.test:443",
        extra: "sstp-proxy http://192.0.2.2:456 sstp-proxy-auth-file \"$SC_WORK/endless.cred\" \
                sstp-connect-timeout 5",
        expect: &[
            "sstp-rs: HTTP proxy 192.0.2.2:456: no complete answer within 5.",
            " s while reading the proxy's 407 body",
        ],
        exit: 8,
        max_secs: 10,
    },
    // Last: it points the guest's resolver at a name server that never answers.
    Case {
        tag: "dnsslow",
        what: "name server that never answers: resolution bounded by sstp-connect-timeout 2",
        target: "sstp-unanswered.test:443",
        extra: "sstp-connect-timeout 2",
        expect: &[
            "sstp-rs: cannot resolve the server name \"sstp-unanswered.test\" (no answer from \
             the resolver within 2.",
            " s; check the DNS servers in /etc/resolv.conf and that they are reachable)",
        ],
        exit: 8,
        max_secs: 6,
    },
];

/// Shell commands run before a case.
const BEFORE: &[(&str, &str)] = &[(
    "dnsslow",
    "printf 'nameserver 192.0.2.99\\noptions timeout:30 attempts:1\\n' >\"$SC_WORK/resolv.conf\" \
     && mount --bind \"$SC_WORK/resolv.conf\" /etc/resolv.conf",
)];

/// Cases whose pppd is sampled by `sc_proc_watch` (RSS, CPU share).
const WATCHED: &[&str] = &["tlsdrip", "endlesshdr", "endless407", "dnsslow"];
/// Bounds for the watched cases: highest RSS and CPU time / wall time.
const RSS_MAX_KB: u64 = 64 * 1024;
const CPU_MAX_PCT: f64 = 20.0;

fn script(so: &Path, server: &Path) -> String {
    let mut s = format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
SERVER={server}
sc_net_up || exit 1
sc_pki || exit 1
pki=$SC_WORK/pki
# Another CA (not trusted by the client) and a clientAuth-only certificate from the real CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=some other CA" -keyout "$pki/other-ca.key" -out "$pki/other-ca.pem" 2>/dev/null || exit 1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$SC_SERVER_NAME" \
    -keyout "$pki/client-only.key" -out "$pki/client-only.csr" 2>/dev/null || exit 1
printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' \
    "$SC_SERVER_NAME" "$SC_SERVER_V4" >"$pki/client-only.ext"
openssl x509 -req -in "$pki/client-only.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/client-only.ext" -out "$pki/client-only.pem" 2>/dev/null || exit 1
sc_fact pin "sstp-cert-pin sha256:$(openssl x509 -in "$pki/server.pem" -outform der | sha256sum | cut -d' ' -f1)"

sc_test_server_setup
sc_test_server 443 srv-ok.log server
sc_test_server 444 srv-nohttp.log server --fault no-http-response
sc_test_server 445 srv-abort.log server --fault abort-after-connected
sc_test_server 446 srv-nak.log server --fault nak=4
sc_test_server 447 srv-403.log server --fault http-status=403
sc_test_server 448 srv-http10.log server --fault http-1.0
sc_test_server 449 srv-noversion.log server --fault http-no-version
sc_test_server 450 srv-404.log server --fault http-status=404
sc_test_server 451 srv-503.log server --fault http-status=503
sc_test_server 452 srv-certhash.log server --fault cert-hash-mismatch
sc_test_server 453 srv-eku.log client-only
sc_test_server 454 srv-tlsdrip.log server --fault tls-drip
sc_test_server 455 srv-endlesshdr.log server --fault http-endless-headers
sc_test_server 456 srv-endless407.log server --fault proxy-407-endless-body
(umask 077; printf 'alice:%s\n' 'Endless-Pa55' >"$SC_WORK/endless.cred")

# Squid in netns srv on 192.0.2.2:3128, everything in tmpfs, demanding Digest or Basic.
sq=$SC_WORK/squid
mkdir -p "$sq"
printf 'alice:%s\n' "$(openssl passwd -apr1 'Basic-Pa55')" >"$sq/passwd"
printf 'bob:Digest-Pa55\n' >"$sq/digestpw"
sc_squid_start hostile 3128 "auth_param digest program /usr/lib/squid/digest_file_auth $sq/digestpw
auth_param digest realm sstp-hostile-digest
auth_param basic program /usr/lib/squid/basic_ncsa_auth $sq/passwd
auth_param basic realm sstp-hostile-basic"

for p in 443 444 445 446 447 448 449 450 451 452 453 454 455 456 3128; do
    SC_PORT=$p sc_wait 30 sc_server_listening || {{ echo "server on $p not listening"; cp "$sq/hostile/cache.log" "$SC_OUT/squid-cache.log" 2>/dev/null; exit 1; }}
done
sc_fact servers_started 1

attempt() {{ # tag limit target [extra pppd options]
    tag=$1; limit=$2; target=$3; shift 3
    echo "== $tag: $target $*"
    t0=$(sc_now)
    /usr/sbin/pppd plugin "$SO" sstp-server "$target" sstp-ca-file "$SC_OUT/ca.pem" \
        user "$SC_USER" password "$SC_PASSWORD" noauth noccp nobsdcomp nodeflate refuse-eap \
        nodefaultroute noipdefault lcp-echo-interval 0 debug nodetach \
        logfile "$SC_OUT/h-$tag.log" "$@" >"$SC_OUT/h-$tag.out" 2>&1 &
    pid=$!
    wpid=
    if [ "$watch" = 1 ]; then sc_proc_watch "$tag" $pid & wpid=$!; fi
    if sc_wait "$limit" sc_not_running $pid; then sc_fact "ended_$tag" 1; else sc_fact "ended_$tag" 0; kill -KILL $pid; fi
    wait $pid
    sc_fact "exit_$tag" $?
    sc_fact "secs_$tag" "$(sc_elapsed "$t0" "$(sc_now)")"
    [ -n "$wpid" ] && wait $wpid
    sleep 0.2
    sc_fact "left_$tag" "$(sc_client_pppds | wc -l)"
}}
"#,
        so = testbed::shell_quote(&so.to_string_lossy()),
        server = testbed::shell_quote(&server.to_string_lossy()),
    );
    for c in CASES {
        for (_, cmd) in BEFORE.iter().filter(|(t, _)| *t == c.tag) {
            s.push_str(cmd);
            s.push('\n');
        }
        s.push_str(&format!(
            "watch={}; attempt {} {} {} {}\n",
            u8::from(WATCHED.contains(&c.tag)),
            c.tag,
            c.max_secs + 10,
            c.target,
            c.extra
        ));
    }
    s.push_str(
        r#"
cp "$sq/hostile/cache.log" "$SC_OUT/squid-cache.log" 2>/dev/null
umount /etc/resolv.conf 2>/dev/null
for s in $(cat "$SC_WORK/servers"); do kill -TERM "$s" 2>/dev/null; done
for p in $(pgrep -x pppd); do kill -TERM "$p" 2>/dev/null; done
sleep 1
for p in $(pgrep -x squid); do kill -KILL "$p" 2>/dev/null; done
sc_leftovers
exit 0
"#,
    );
    s
}

#[test]
fn hostile_servers_produce_exact_diagnoses() {
    if skip() {
        return;
    }
    let (so, server) = build();
    let t0 = Instant::now();
    let Some(run) = scenario::run_script(&script(&so, &server), Duration::from_secs(420)) else {
        return;
    };
    let wall = t0.elapsed();
    let facts = parse_facts(&run.output);
    let fact = |k: &str| facts.get(k).cloned().unwrap_or_default();
    let get = |n: &str| run.read(n).unwrap_or_default();
    let diag = format!(
        "{}\n--- facts ---\n{facts:?}\n--- squid ---\n{}\n{}",
        run.diagnostics(),
        get("squid-hostile.out"),
        get("squid-cache.log")
    );
    assert!(run.success(), "{diag}");
    assert_eq!(fact("servers_started"), "1", "{diag}");
    let pin = fact("pin");
    assert!(
        pin.starts_with("sstp-cert-pin sha256:") && pin.len() == 85,
        "{diag}"
    );

    // The certificate's hashes as the administrator compares them (uppercase hex).
    let sha256 = fact("server_cert_sha256").to_ascii_uppercase();
    let sha1 = fact("server_cert_sha1").to_ascii_uppercase();
    assert!(sha256.len() == 64 && sha1.len() == 40, "{diag}");

    let mut failures = Vec::new();
    for c in CASES {
        let log = format!(
            "{}\n{}",
            get(&format!("h-{}.log", c.tag)),
            get(&format!("h-{}.out", c.tag))
        );
        let mut problems = Vec::new();
        if fact(&format!("ended_{}", c.tag)) != "1" {
            problems.push("pppd did not end in time".to_string());
        }
        let exit = fact(&format!("exit_{}", c.tag));
        if exit != c.exit.to_string() {
            problems.push(format!("exit status {exit}, expected {}", c.exit));
        }
        let secs: f64 = fact(&format!("secs_{}", c.tag)).parse().unwrap_or(f64::MAX);
        if secs > f64::from(c.max_secs) {
            problems.push(format!("took {secs:.1} s, bound {} s", c.max_secs));
        }
        if fact(&format!("left_{}", c.tag)) != "0" {
            problems.push("a client pppd was left running".into());
        }
        for e in c.expect {
            let e = e
                .replace("{pin}", &pin)
                .replace("{SHA256}", &sha256)
                .replace("{SHA1}", &sha1);
            if !log.contains(&e) {
                problems.push(format!("log lacks {e:?}"));
            }
        }
        let mut figures = String::new();
        if WATCHED.contains(&c.tag) {
            let rss: u64 = fact(&format!("{}_rss_max_kb", c.tag))
                .parse()
                .unwrap_or(u64::MAX);
            let cpu: f64 = fact(&format!("{}_cpu_pct", c.tag))
                .parse()
                .unwrap_or(f64::MAX);
            if rss == 0 || rss > RSS_MAX_KB {
                problems.push(format!("RSS max {rss} kB, bound {RSS_MAX_KB} kB"));
            }
            if cpu > CPU_MAX_PCT {
                problems.push(format!(
                    "CPU {cpu:.1} %: a busy loop (bound {CPU_MAX_PCT} %)"
                ));
            }
            figures = format!("  RSS max {rss} kB, CPU {cpu:.1} %");
        }
        // Never a secret in the log, whatever failed.
        if log.contains(integration_tests::scenario::PASSWORD) {
            problems.push("the PPP password is in the log".into());
        }
        eprintln!(
            "hostile {:<10} exit {exit:>2} in {secs:5.2} s  {}{figures}{}",
            c.tag,
            c.what,
            if problems.is_empty() { "" } else { "  FAILED" }
        );
        if !problems.is_empty() {
            failures.push(format!(
                "== {} ({}): {}\n{log}",
                c.tag,
                c.what,
                problems.join("; ")
            ));
        }
    }
    // The abort and certificate-hash cases fail at the server's binding check, not earlier.
    for (log, want) in [
        (
            "srv-abort.log",
            "server aborted by fault mode abort-after-connected",
        ),
        ("srv-certhash.log", "nonce ok, certificate hash WRONG"),
    ] {
        if !get(log).contains(want) {
            failures.push(format!("{log} lacks {want:?}:\n{}", get(log)));
        }
    }
    assert!(failures.is_empty(), "{}\n\n{diag}", failures.join("\n\n"));
    assert_eq!(fact("leftovers"), "", "{diag}");
    eprintln!(
        "hostile suite: {} cases; boot {:?}, guest command {:?}, UML wall {:.1} s, \
         test wall {:.1} s (incl. waiting for the test bed lock)",
        CASES.len(),
        run.boot_time,
        run.command_time,
        run.wall_time.as_secs_f64(),
        wall.as_secs_f64()
    );
}
