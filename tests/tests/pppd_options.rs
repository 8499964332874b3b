//! pppd options a user writes, with real pppd 2.4.9 and 2.5.2 in the UML test bed against the
//! Python `sstp-server` (one boot, both pppd versions one after the other):
//!
//! - `peers`: the README's peers file (its block, with the test server, user and plugin path put
//!   in) plus the serial-line options of a peers file written for sstpc (`lock crtscts modem
//!   115200 ...`), started with `pppd call`, the password from chap-secrets: the session comes
//!   up, 3 pings go through, every serial-line option got its "ignored" log line, and pppd's
//!   `dump` shows the channel's option;
//! - `v6`: `+ipv6` on both pppds: IPV6CP gives the client fe80::2 and the server fe80::1, and
//!   20 IPv6 pings of 1000 bytes reach the server's inner address through ppp (interface
//!   counters).
//!
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed; SSTP_RS_STREAM=1 shows
//! the guest's progress, SSTP_RS_DIAG=1 prints every log.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use integration_tests::plugin::{build_plugin, Pppd};
use integration_tests::scenario::{parse_facts, sstpd_venv, SCENARIO_LIB};
use integration_tests::testbed::{self, shell_quote, BootOptions, TestbedError};

/// The serial-line options the peers file carries (as sstpc's peers files do).
const TTY_OPTIONS: [&str; 11] = [
    "lock",
    "crtscts",
    "modem",
    "115200",
    "local",
    "-crtscts",
    "nocrtscts",
    "cdtrcts",
    "nocdtrcts",
    "xonxoff",
    "nolock",
];

const VERSIONS: [Pppd; 2] = [Pppd::V249, Pppd::V252];

/// The README's peers file, made to run here: `@SO@` and `@CA@` stand for the plugin's path
/// (one per pppd version) and the CA file, put in by the guest; then the CA, the serial-line options and the log.
fn peers_file() -> String {
    let readme = include_str!("../../README.md");
    let block = readme
        .split("A peers file, `/etc/ppp/peers/work`:")
        .nth(1)
        .and_then(|r| r.split("```").nth(1))
        .expect("README's peers file block");
    let mut out = String::new();
    let mut replaced = 0;
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let put = match line.split_whitespace().next() {
            Some("plugin") => Some("plugin @SO@"),
            Some("sstp-server") => Some("sstp-server sstp-server.test"),
            Some("user") => Some("user sstp-test"),
            _ => None,
        };
        replaced += usize::from(put.is_some());
        let line = put.unwrap_or(line);
        out.push_str(line);
        out.push('\n');
    }
    assert_eq!(
        replaced, 3,
        "README's peers file lost plugin/sstp-server/user:\n{block}"
    );
    out.push_str("sstp-ca-file @CA@\nsstp-log-level 3\n");
    for o in TTY_OPTIONS {
        out.push_str(o);
        out.push('\n');
    }
    out.push_str("debug\nnodetach\n");
    out
}

fn script(sos: &[(Pppd, &Path)]) -> String {
    let mut s = format!(
        r#"
. /run/bed/sstp-scenario.sh
sc_net_up || exit 1
sc_pki || exit 1
SC_SERVER_PPPD_EXTRA=$SC_PPP6_SERVER_OPTS sc_server_start || exit 1
cat >"$SC_WORK/peers" <<'PEERS_EOF'
{peers}PEERS_EOF
# session <tag> <pppd> [args...]: pppd in the background, its stdout/stderr in c-<tag>.out.
session() {{
    tag=$1; bin=$2; shift 2
    T0=$(sc_now)
    "$bin" "$@" >"$SC_OUT/c-$tag.out" 2>&1 &
    PID=$!; SC_CLIENT_PID=$PID
}}
# stop <tag>: SIGTERM, wait; facts <tag>_exit.
stop() {{
    kill -TERM "$PID"
    sc_wait 15 sc_not_running "$PID" || kill -KILL "$PID"
    wait "$PID"; sc_fact "$1_exit" "$?"
    sc_wait 15 sc_server_pppd_gone
}}
"#,
        peers = peers_file()
    );
    for (pppd, so) in sos {
        let v = pppd.version().replace('.', "");
        let (etc, setup) = match pppd {
            Pppd::V249 => ("/etc/ppp".to_string(), String::new()),
            Pppd::V252 => (
                "$ETC25".to_string(),
                format!(
                    "ETC25=$(sc_etc25 {}) || exit 1\n",
                    shell_quote(&pppd.binary().to_string_lossy())
                ),
            ),
        };
        s.push_str(&format!(
            r#"
sc_step "pppd {ver}: README's peers file + serial-line options, pppd call"
PPPD={pppd}
SO={so}
{setup}mkdir -p {etc}/peers
sed -e "s|@SO@|$SO|" -e "s|@CA@|$SC_OUT/ca.pem|" "$SC_WORK/peers" >{etc}/peers/sstp-tty
session peers{v} "$PPPD" call sstp-tty dump logfile "$SC_OUT/c-peers{v}.log"
if sc_wait 30 sc_ppp_up_or_client_gone && sc_ppp_up; then
    sc_fact peers{v}_up 1
    ping -n -c 3 -i 0.2 -W 3 -I "$(sc_ppp_if)" "$SC_PPP_SERVER" >"$SC_OUT/ping-peers{v}.txt" 2>&1
    sc_fact peers{v}_pings "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/ping-peers{v}.txt")"
else
    sc_fact peers{v}_up 0
fi
stop peers{v}

sc_step "pppd {ver}: IPv6 inside the tunnel"
session v6{v} "$PPPD" plugin "$SO" sstp-server "$SC_SERVER_NAME" sstp-ca-file "$SC_OUT/ca.pem" \
    user "$SC_USER" remotename work refuse-pap refuse-chap refuse-mschap refuse-eap noauth noccp \
    nobsdcomp nodeflate noipdefault nodefaultroute +ipv6 $SC_PPP6_CLIENT_OPTS \
    lcp-echo-interval 0 debug nodetach logfile "$SC_OUT/c-v6{v}.log"
if sc_wait 30 sc_ppp6_up; then
    sc_fact v6{v}_up 1
    sc_fact v6{v}_if_addrs "$(ip -o -6 addr show dev "$(sc_ppp6_if)" | awk '{{ printf "%s ", $4 }}')"
    sc_ping6 v6{v} 20 1000
else
    sc_fact v6{v}_up 0
    sc_fact v6{v}_addrs_seen "$(ip -o -6 addr show | tr '\n' ' ')"
fi
stop v6{v}
"#,
            ver = pppd.version(),
            pppd = shell_quote(&pppd.binary().to_string_lossy()),
            so = shell_quote(&so.to_string_lossy()),
        ));
    }
    s.push_str("sc_server_stop\nsc_leftovers\nexit 0\n");
    s
}

#[test]
fn serial_line_options_ignored_and_ipv6_through_the_tunnel() {
    let sstpd = sstpd_venv().join("bin/sstpd");
    if testbed::skip_testbed(&[&sstpd.to_string_lossy()]) {
        return;
    }
    let sos: Vec<(Pppd, std::path::PathBuf)> = VERSIONS
        .iter()
        .map(|&p| {
            (
                p,
                build_plugin(p, true, "sstp-rs-pppdopts.so").expect("build the plugin"),
            )
        })
        .collect();
    let refs: Vec<(Pppd, &Path)> = sos.iter().map(|(p, s)| (*p, s.as_path())).collect();
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
    let run = match testbed::run(&script(&refs), &opts) {
        Ok(r) => r,
        Err(TestbedError::Unavailable(why)) => {
            testbed::skip_unavailable(&why);
            return;
        }
        Err(e) => panic!("test bed: {e}"),
    };
    let facts: BTreeMap<String, String> = parse_facts(&run.output);
    let fact = |k: &str| facts.get(k).cloned().unwrap_or_default();
    let num = |k: &str| fact(k).parse::<u64>().unwrap_or(0);
    let read = |n: &str| run.read(n).unwrap_or_default();
    let mut diag = format!("{}\n--- facts ---\n{facts:#?}\n", run.diagnostics());
    for v in ["249", "252"] {
        for n in [
            format!("c-peers{v}.log"),
            format!("c-peers{v}.out"),
            format!("c-v6{v}.log"),
            format!("c-v6{v}.out"),
        ] {
            diag.push_str(&format!("--- {n} ---\n{}\n", read(&n)));
        }
    }
    diag.push_str(&format!(
        "--- server-pppd.log ---\n{}\n",
        read("server-pppd.log")
    ));
    if std::env::var_os("SSTP_RS_DIAG").is_some() {
        eprintln!("{diag}");
    }
    assert!(run.success(), "{diag}");
    for pppd in VERSIONS {
        let v = pppd.version().replace('.', "");
        let ver = pppd.version();
        // The README's peers file with sstpc's serial-line options connects and carries pings.
        assert_eq!(
            fact(&format!("peers{v}_up")),
            "1",
            "pppd {ver}: peers\n{diag}"
        );
        assert_eq!(fact(&format!("peers{v}_pings")), "3", "pppd {ver}\n{diag}");
        // pppd's own status on SIGTERM (5 = EXIT_USER_REQUEST), not 2 (option error).
        assert_eq!(fact(&format!("peers{v}_exit")), "5", "pppd {ver}\n{diag}");
        let log = format!(
            "{}{}",
            read(&format!("c-peers{v}.out")),
            read(&format!("c-peers{v}.log"))
        );
        for o in TTY_OPTIONS {
            let line = format!("sstp-rs: option {o} ignored: SSTP has no serial line");
            assert_eq!(log.matches(&line).count(), 1, "pppd {ver}: {line}\n{diag}");
        }
        assert!(!log.contains("unrecognized option"), "pppd {ver}\n{diag}");
        // pppd's `dump` shows the channel's option (the last serial-line option ignored).
        assert!(
            log.lines()
                .any(|l| l.starts_with("nolock") && l.contains("# (from")),
            "pppd {ver}: dump\n{diag}"
        );

        // IPv6 inside the tunnel: IPV6CP up, the link-local address from `ipv6 ::2,::1`, and
        // the pings went through ppp (its counters saw at least the pings' packets and bytes).
        assert_eq!(
            fact(&format!("v6{v}_up")),
            "1",
            "pppd {ver}: IPV6CP\n{diag}"
        );
        assert!(
            fact(&format!("v6{v}_if_addrs"))
                .split_whitespace()
                .any(|a| a == "fe80::2" || a.starts_with("fe80::2/")),
            "pppd {ver}\n{diag}"
        );
        assert_eq!(fact(&format!("v6{v}_ping6_tx")), "20", "pppd {ver}\n{diag}");
        assert_eq!(fact(&format!("v6{v}_ping6_rx")), "20", "pppd {ver}\n{diag}");
        assert!(
            num(&format!("v6{v}_ppp6_tx_packets")) >= 20,
            "pppd {ver}\n{diag}"
        );
        assert!(
            num(&format!("v6{v}_ppp6_rx_packets")) >= 20,
            "pppd {ver}\n{diag}"
        );
        assert!(
            num(&format!("v6{v}_ppp6_tx_bytes")) >= 20 * 1000,
            "pppd {ver}\n{diag}"
        );
        assert!(
            num(&format!("v6{v}_ppp6_rx_bytes")) >= 20 * 1000,
            "pppd {ver}\n{diag}"
        );
        assert_eq!(fact(&format!("v6{v}_exit")), "5", "pppd {ver}\n{diag}");
    }
    assert_eq!(fact("leftovers"), "", "{diag}");
    eprintln!(
        "pppd_options: boot {:?}, guest command {:?}, host wall {:?}",
        run.boot_time, run.command_time, run.wall_time
    );
}
