//! `sstp probe` in the UML test bed: the full report against the Python sstp-server (sstpd,
//! PyPI sstp-server 0.6.0, the scenario's server) and the diagnosis + exit code against the
//! project's hostile test server for several conditions (exit codes: cli/README.md).
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::scenario::{parse_facts, sstpd_venv, SCENARIO_LIB};
use integration_tests::testbed::{self, workspace_root, BootOptions, TestbedError};

fn skip() -> bool {
    let sstpd = sstpd_venv().join("bin/sstpd");
    integration_tests::testbed::skip_testbed(&[&sstpd.to_string_lossy()])
}

/// Builds `sstp` and the test server (release) in target/pppd-2.4.9/cargo.
fn build() -> (PathBuf, PathBuf) {
    let root = workspace_root();
    let dir = root.join("target/pppd-2.4.9/cargo");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "sstp-cli",
            "-p",
            "sstp-test-server",
        ])
        .args(["--bin", "sstp", "--bin", "sstp-test-server"])
        .env("CARGO_TARGET_DIR", &dir)
        .env("PPPD_INCLUDE_DIR", "/usr/include")
        .env_remove("PPPD_VERSION")
        .status()
        .expect("cargo build");
    assert!(st.success(), "build failed");
    (
        dir.join("release/sstp"),
        dir.join("release/sstp-test-server"),
    )
}

/// A failing probe: tag, target, extra options, expected exit code, key sentences on stderr.
struct Failing {
    tag: &'static str,
    target: &'static str,
    extra: &'static str,
    exit: i32,
    expect: &'static [&'static str],
}

const FAILING: &[Failing] = &[
    Failing {
        tag: "resolve",
        target: "no-such-sstp-server.invalid",
        extra: "",
        exit: 3,
        expect: &["cannot resolve the server name \"no-such-sstp-server.invalid\""],
    },
    Failing {
        tag: "refused",
        target: "sstp-server.test:4444",
        extra: "",
        exit: 4,
        expect: &[
            "cannot connect to the server sstp-server.test port 4444",
            "192.0.2.2:4444: connection refused",
        ],
    },
    Failing {
        tag: "untrusted",
        target: "sstp-server.test:443",
        extra: "--ca-file \"$SC_WORK/pki/other-ca.pem\"",
        exit: 6,
        expect: &[
            "the server certificate from 192.0.2.2:443 is not trusted: its chain does not \
             lead to a trusted certificate authority",
            "to trust exactly this certificate add the option: {pin}",
            "with sstp: --pin sha256:",
        ],
    },
    Failing {
        tag: "eku",
        target: "sstp-server.test:453",
        extra: "--ca-file \"$SC_OUT/ca.pem\"",
        exit: 6,
        expect: &["its Extended Key Usage has neither Server Authentication nor Any Purpose"],
    },
    Failing {
        tag: "403",
        target: "sstp-server.test:447",
        extra: "--ca-file \"$SC_OUT/ca.pem\"",
        exit: 7,
        expect: &["the server refused the SSTP request with HTTP 403 Forbidden"],
    },
    Failing {
        tag: "http10",
        target: "sstp-server.test:448",
        extra: "--ca-file \"$SC_OUT/ca.pem\"",
        exit: 7,
        expect: &["the server answered with HTTP/1.0 instead of HTTP/1.1"],
    },
    Failing {
        tag: "nohttp",
        target: "sstp-server.test:444",
        extra: "--ca-file \"$SC_OUT/ca.pem\" --timeout 3",
        exit: 7,
        expect: &["no HTTP response from the server within 3."],
    },
    Failing {
        tag: "nak",
        target: "sstp-server.test:446",
        extra: "--ca-file \"$SC_OUT/ca.pem\"",
        exit: 9,
        expect: &[
            "server refused the call: CALL_CONNECT_NAK, status VALUE_NOT_SUPPORTED (4) for \
             attribute ENCAPSULATED_PROTOCOL_ID",
        ],
    },
];

/// The IPv4/IPv6 listener check (event 24), after the cases above: `sstp-server.test` gets an
/// AAAA record too. Port 460: the IPv4 listener presents the scenario's certificate, the IPv6
/// listener another one from the same CA (two test servers); 461: one dual-stack listener;
/// 462: IPv4 only (the IPv6 address refuses); 463: the IPv6 listener presents the clientAuth-only
/// certificate (not trusted: its EKU).
const LISTENERS: &str = r#"
sc_pki_server server6 "/O=sstp-rs IPv6 listener/CN=$SC_SERVER_NAME" || exit 1
sc_dual_name
start_at() { # listen-address cert-stem
    ip netns exec srv "$SERVER" --listen "$1" --cert "$pki/$2.pem" --key "$pki/$2.key" \
        >>"$SC_OUT/srv-listeners.log" 2>&1 &
    echo $! >>"$SC_WORK/servers"
}
start_at "$SC_SERVER_V4:460" server
start_at "[$SC_SERVER_V6]:460" server6
start_at "[::]:461" server
start_at "$SC_SERVER_V4:462" server
start_at "$SC_SERVER_V4:463" server
start_at "[$SC_SERVER_V6]:463" client-only
sc_fact client_only_cert_sha256 "$(openssl x509 -in "$pki/client-only.pem" -outform der | sha256sum | cut -d' ' -f1)"
for p in 460 461 462 463; do
    SC_PORT=$p sc_wait 30 sc_server_listening || { echo "server on $p not listening"; exit 1; }
done
for p in 460 463; do
    sc_wait 30 sh -c "ip netns exec srv ss -Htln 'sport = :$p' | grep -c LISTEN | grep -qx 2" || exit 1
done
sc_fact listeners_started 1
probe differ "$SC_SERVER_NAME:460" --ca-file "$SC_OUT/ca.pem"
probe differjson "$SC_SERVER_NAME:460" --ca-file "$SC_OUT/ca.pem" --json -q
probe same "$SC_SERVER_NAME:461" --ca-file "$SC_OUT/ca.pem"
probe v4only "$SC_SERVER_NAME:462" --ca-file "$SC_OUT/ca.pem"
probe v6untrusted "$SC_SERVER_NAME:463" --ca-file "$SC_OUT/ca.pem"
"#;

fn script(sstp: &Path, server: &Path) -> String {
    let mut s = format!(
        r#"
. /run/bed/sstp-scenario.sh
SSTP={sstp}
SERVER={server}
sc_net_up || exit 1
sc_pki || exit 1
pki=$SC_WORK/pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=some other CA" -keyout "$pki/other-ca.key" -out "$pki/other-ca.pem" 2>/dev/null || exit 1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$SC_SERVER_NAME" \
    -keyout "$pki/client-only.key" -out "$pki/client-only.csr" 2>/dev/null || exit 1
printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' \
    "$SC_SERVER_NAME" "$SC_SERVER_V4" >"$pki/client-only.ext"
openssl x509 -req -in "$pki/client-only.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/client-only.ext" -out "$pki/client-only.pem" 2>/dev/null || exit 1
sc_fact pin "sstp-cert-pin sha256:$(openssl x509 -in "$pki/server.pem" -outform der | sha256sum | cut -d' ' -f1)"

# The Python sstpd on 443 (the scenario's server), the hostile test server on other ports.
sc_server_start || exit 1
: >"$SC_WORK/servers"
start_server() {{ # port cert-stem args...
    port=$1; stem=$2; shift 2
    ip netns exec srv "$SERVER" --listen "[::]:$port" --cert "$pki/$stem.pem" \
        --key "$pki/$stem.key" "$@" >"$SC_OUT/srv-$port.log" 2>&1 &
    echo $! >>"$SC_WORK/servers"
}}
start_server 444 server --fault no-http-response
start_server 446 server --fault nak=4
start_server 447 server --fault http-status=403
start_server 448 server --fault http-1.0
start_server 453 client-only
for p in 444 446 447 448 453; do
    SC_PORT=$p sc_wait 30 sc_server_listening || {{ echo "server on $p not listening"; exit 1; }}
done
sc_fact servers_started 1

probe() {{ # tag target [options]
    tag=$1; target=$2; shift 2
    echo "== probe $tag: $target $*"
    t0=$(sc_now)
    timeout 60 "$SSTP" probe "$target" "$@" >"$SC_OUT/probe-$tag.txt" 2>"$SC_OUT/probe-$tag.err"
    sc_fact "exit_$tag" $?
    sc_fact "secs_$tag" "$(sc_elapsed "$t0" "$(sc_now)")"
}}
probe ok "$SC_SERVER_NAME:443" --ca-file "$SC_OUT/ca.pem"
probe json "$SC_SERVER_NAME:443" --ca-file "$SC_OUT/ca.pem" --json -q
"#,
        sstp = testbed::shell_quote(&sstp.to_string_lossy()),
        server = testbed::shell_quote(&server.to_string_lossy()),
    );
    for f in FAILING {
        s.push_str(&format!("probe {} {} {}\n", f.tag, f.target, f.extra));
    }
    s.push_str(LISTENERS);
    s.push_str(
        r#"
sc_server_stop
for s in $(cat "$SC_WORK/servers"); do kill -TERM "$s" 2>/dev/null; done
sleep 0.5
sc_leftovers
exit 0
"#,
    );
    s
}

/// The value after `label` on the line that starts with it (after indentation).
fn line_value<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
}

/// The milliseconds figure of a phase line (`  tls         12.3 ms  TLSv1.3 ...`).
fn phase_ms(text: &str, phase: &str) -> Option<f64> {
    let rest = line_value(text, phase)?;
    let mut it = rest.split_whitespace();
    let n: f64 = it.next()?.parse().ok()?;
    match it.next()? {
        "ms" => Some(n),
        "s" => Some(n * 1000.0),
        "µs" | "us" => Some(n / 1000.0),
        _ => None,
    }
}

#[test]
fn probe_in_the_test_bed() {
    if skip() {
        return;
    }
    let (sstp, server) = build();
    let mut opts = BootOptions {
        timeout: Duration::from_secs(300),
        files: vec![(
            "sstp-scenario.sh".to_string(),
            SCENARIO_LIB.as_bytes().to_vec(),
        )],
        stream_output: std::env::var_os("SSTP_RS_STREAM").is_some(),
        ..BootOptions::default()
    };
    opts.env.push((
        "SC_VENV".into(),
        sstpd_venv().to_string_lossy().into_owned(),
    ));
    let t0 = Instant::now();
    let run = match testbed::run(&script(&sstp, &server), &opts) {
        Ok(r) => r,
        Err(TestbedError::Unavailable(why)) => {
            integration_tests::testbed::skip_unavailable(&why);
            return;
        }
        Err(e) => panic!("test bed: {e}"),
    };
    let wall = t0.elapsed();
    let facts = parse_facts(&run.output);
    let fact = |k: &str| facts.get(k).cloned().unwrap_or_default();
    let get = |n: &str| run.read(n).unwrap_or_default();
    let diag = format!(
        "{}\n--- facts ---\n{facts:?}\n--- probe-ok.txt ---\n{}\n--- probe-ok.err ---\n{}\n\
         --- sstpd.log ---\n{}",
        run.diagnostics(),
        get("probe-ok.txt"),
        get("probe-ok.err"),
        get("sstpd.log")
    );
    assert!(run.success(), "{diag}");
    assert_eq!(fact("server_started"), "1", "{diag}");
    assert_eq!(fact("servers_started"), "1", "{diag}");
    let pin = fact("pin");
    let sha = fact("server_cert_sha256");
    assert_eq!(sha.len(), 64, "{diag}");

    // The full report against sstpd.
    assert_eq!(fact("exit_ok"), "0", "{diag}");
    let ok = get("probe-ok.txt");
    assert!(
        ok.starts_with("SSTP server sstp-server.test port 443: OK\n"),
        "{diag}"
    );
    let resolve = line_value(&ok, "resolve").unwrap_or_default();
    assert!(resolve.ends_with("192.0.2.2"), "{diag}");
    assert!(
        line_value(&ok, "tcp")
            .unwrap_or_default()
            .ends_with("connected to 192.0.2.2:443"),
        "{diag}"
    );
    let tls_phase = line_value(&ok, "tls ").unwrap_or_default();
    let version = line_value(&ok, "version:").unwrap_or_default().to_string();
    let cipher = line_value(&ok, "cipher:").unwrap_or_default().to_string();
    assert!(version == "TLSv1.3" || version == "TLSv1.2", "{diag}");
    assert!(!cipher.is_empty(), "{diag}");
    assert!(
        tls_phase.ends_with(&format!("{version} {cipher}")),
        "{diag}"
    );
    assert!(
        line_value(&ok, "http ")
            .unwrap_or_default()
            .ends_with("HTTP/1.1 200 OK"),
        "{diag}"
    );
    assert!(
        line_value(&ok, "sstp ")
            .unwrap_or_default()
            .ends_with("CALL_CONNECT_ACK"),
        "{diag}"
    );
    let mut timings = Vec::new();
    for phase in ["resolve", "tcp", "tls ", "http ", "sstp "] {
        let ms = phase_ms(&ok, phase);
        assert!(
            ms.is_some_and(|m| (0.0..30_000.0).contains(&m)),
            "{phase}: {diag}"
        );
        timings.push(format!("{}={:.1}ms", phase.trim(), ms.unwrap_or_default()));
    }
    assert_eq!(
        line_value(&ok, "subject:"),
        Some("CN=sstp-server.test"),
        "{diag}"
    );
    assert_eq!(
        line_value(&ok, "issuer:"),
        Some("CN=sstp-rs test CA"),
        "{diag}"
    );
    assert_eq!(
        line_value(&ok, "EKU:"),
        Some("Server Authentication"),
        "{diag}"
    );
    assert_eq!(line_value(&ok, "SHA-256:"), Some(sha.as_str()), "{diag}");
    assert_eq!(
        line_value(&ok, "pin:"),
        Some(format!("sha256:{sha}").as_str()),
        "{diag}"
    );
    assert_eq!(
        line_value(&ok, "pppd option line:"),
        Some(pin.as_str()),
        "{diag}"
    );
    assert!(
        ok.contains("\nHTTP response\n  HTTP/1.1 200 OK\n"),
        "{diag}"
    );
    let offered = line_value(&ok, "crypto binding offered:").unwrap_or_default();
    assert!(
        offered.contains("SHA256") && offered.contains("bitmask 0x0"),
        "{diag}"
    );
    assert!(
        line_value(&ok, "would use:").is_some_and(|u| u == "SHA256"),
        "{diag}"
    );
    assert!(
        line_value(&ok, "teardown:")
            .unwrap_or_default()
            .starts_with("CALL_DISCONNECT, acknowledged"),
        "{diag}"
    );
    // --json: the same facts, machine-readable.
    assert_eq!(fact("exit_json"), "0", "{diag}");
    let json = get("probe-json.txt");
    for k in [
        "\"ok\": true",
        &format!("\"sha256\": \"{sha}\""),
        "\"hash_protocols_offered\"",
        "\"status_line\": \"HTTP/1.1 200 OK\"",
        &format!("\"version\": \"{version}\""),
    ] {
        assert!(json.contains(k), "{k}\n{json}");
    }

    // The diagnosis and exit code for each failure.
    let mut failures = Vec::new();
    for f in FAILING {
        let err = get(&format!("probe-{}.err", f.tag));
        let exit = fact(&format!("exit_{}", f.tag));
        let mut problems = Vec::new();
        if exit != f.exit.to_string() {
            problems.push(format!("exit {exit}, expected {}", f.exit));
        }
        let code_line = format!("sstp probe: exit code {} (", f.exit);
        if !err.contains(&code_line) {
            problems.push(format!("stderr lacks {code_line:?}"));
        }
        for e in f.expect {
            let e = e.replace("{pin}", &pin);
            if !err.contains(&e) {
                problems.push(format!("stderr lacks {e:?}"));
            }
        }
        eprintln!(
            "probe {:<9} exit {exit} in {} s",
            f.tag,
            fact(&format!("secs_{}", f.tag))
        );
        if !problems.is_empty() {
            failures.push(format!("== {}: {}\n{err}", f.tag, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}\n\n{diag}", failures.join("\n\n"));
    check_listeners(&fact, &get, &diag);
    assert_eq!(fact("leftovers"), "", "{diag}");
    eprintln!(
        "probe against sstpd: {version} {cipher}, {}; offered {offered}",
        timings.join(" ")
    );
    eprintln!(
        "probe suite: guest command {:?}, UML wall {:.1} s, test wall {:.1} s",
        run.command_time,
        run.wall_time.as_secs_f64(),
        wall.as_secs_f64()
    );
}

/// The listener check's report of each address: `IPv4 192.0.2.2:460: <subject>` and the
/// uppercase SHA-256 on the next line.
fn listener_block(addr: &str, subject: &str, sha256: &str) -> String {
    let family = if addr.starts_with('[') {
        "IPv6"
    } else {
        "IPv4"
    };
    format!("  {family} {addr}: {subject}\n    SHA-256: {sha256}\n")
}

/// Event 24: different certificates on the IPv4 and IPv6 listeners are reported with both
/// subjects and hashes and exit code 17; the same certificate on both, exit 0; an IPv6 address
/// that refuses is reported as not reached, not as a mismatch.
fn check_listeners(fact: &dyn Fn(&str) -> String, get: &dyn Fn(&str) -> String, diag: &str) {
    assert_eq!(fact("listeners_started"), "1", "{diag}");
    let v4 = fact("server_cert_sha256").to_ascii_uppercase();
    let v6 = fact("server6_cert_sha256").to_ascii_uppercase();
    assert!(v4.len() == 64 && v6.len() == 64 && v4 != v6, "{diag}");
    let own = "CN=sstp-server.test";
    let other = "O=sstp-rs IPv6 listener, CN=sstp-server.test";
    let verdict = "the addresses present DIFFERENT certificates: the server binds one \
                   certificate to its IPv4 listener and another to its IPv6 listener";
    let mut problems = Vec::new();
    let mut want = |tag: &str, exit: &str, file: &str, texts: &[String]| {
        let got = fact(&format!("exit_{tag}"));
        if got != exit {
            problems.push(format!("{tag}: exit {got}, expected {exit}"));
        }
        let text = get(file);
        for t in texts {
            if !text.contains(t.as_str()) {
                problems.push(format!("{tag}: {file} lacks {t:?}:\n{text}"));
            }
        }
        eprintln!(
            "probe {tag:<9} exit {got} in {} s",
            fact(&format!("secs_{tag}"))
        );
    };
    let differ = [
        listener_block("192.0.2.2:460", own, &v4),
        listener_block("[fd00:5::2]:460", other, &v6),
        verdict.to_string(),
    ];
    want("differ", "17", "probe-differ.txt", &differ);
    // The administrator's form of the probed address's hashes (whichever family came first).
    let (addr, sha256, sha1) = if get("probe-differ.txt").contains("seen from IPv6") {
        ("IPv6 [fd00:5::2]:460", &v6, fact("server6_cert_sha1"))
    } else {
        ("IPv4 192.0.2.2:460", &v4, fact("server_cert_sha1"))
    };
    let admin = format!(
        "  for the server's administrator (uppercase hex, as Windows shows it):\n    \
         certificate seen from {addr}\n      SHA-256: {sha256}\n      SHA-1:   {}\n",
        sha1.to_ascii_uppercase()
    );
    want("differ", "17", "probe-differ.txt", &[admin]);
    let mut on_stderr = differ.to_vec();
    on_stderr.push(
        "sstp probe: exit code 17 (the server's addresses present different certificates)".into(),
    );
    want("differ", "17", "probe-differ.err", &on_stderr);
    want(
        "differjson",
        "17",
        "probe-differjson.txt",
        &[
            "\"listener_certificates_differ\": true".into(),
            "\"exit_code\": 17".into(),
            format!("\"sha256\": \"{v6}\""),
            format!("\"subject\": \"{other}\""),
        ],
    );
    want(
        "same",
        "0",
        "probe-same.txt",
        &[
            "SSTP server sstp-server.test port 461: OK\n".into(),
            listener_block("192.0.2.2:461", own, &v4),
            listener_block("[fd00:5::2]:461", own, &v4),
            "  every address presents the same certificate\n".into(),
        ],
    );
    want(
        "v4only",
        "0",
        "probe-v4only.txt",
        &[
            "SSTP server sstp-server.test port 462: OK\n".into(),
            listener_block("192.0.2.2:462", own, &v4),
            "  IPv6 [fd00:5::2]:462: not reached (connection refused): not compared\n".into(),
            "  only one address presented a certificate: nothing to compare\n".into(),
        ],
    );
    let client_only = fact("client_only_cert_sha256").to_ascii_uppercase();
    want(
        "v6untrusted",
        "17",
        "probe-v6untrusted.txt",
        &[
            listener_block("192.0.2.2:463", own, &v4),
            listener_block("[fd00:5::2]:463", own, &client_only)
                + "    (not usable: the server certificate from [fd00:5::2]:463 is not trusted: its \
                   Extended Key Usage has neither Server Authentication nor Any Purpose \
                   (Windows refuses it too))\n",
            verdict.to_string(),
        ],
    );
    assert!(problems.is_empty(), "{}\n\n{diag}", problems.join("\n\n"));
}
