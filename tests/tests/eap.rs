//! EAP inside PPP (issue 8, item 4) with real pppd in the UML test bed, one guest boot:
//!
//! The server is `sstp-test-server` whose server pppd (2.5.2) requires EAP-TLS (certificates
//! made by the scenario's CA) and hands its MPPE keys to the test server through the test-only
//! plugin `tests/fixtures/mppe-keys-export.c`; the test server verifies the client's Compound
//! MAC with the server HLAK (the first 32 bytes of the MSK).
//!
//! - `tls25`: pppd 2.5.2 + sstp-rs with `ca`/`cert`/`key`: EAP-TLS succeeds, the plugin derives
//!   the HLAK from the 32-byte MSK, the server verifies the Compound MAC, 3 pings through ppp0;
//! - `tls249`: pppd 2.4.9 + sstp-rs: EAP-TLS succeeds but pppd keeps 16 key bytes, so the
//!   plugin refuses with "EAP method unusable on this pppd" and exit 19, without sending a
//!   CALL_CONNECTED the server would reject;
//! - `cli25`: the same through `sstp connect --eap-tls CERT KEY CA` (pppd 2.5.2);
//! - `md525`, `md5249`: once the server pppd also knows the password it offers EAP-MD5 first
//!   (pppd as an EAP server never reaches EAP-MSCHAPv2 with a pppd client, which answers MD5
//!   whenever it has the password): the plugin uses the zero HLAK with its weak-method warning,
//!   which a second test server checks (`--hlak-zero`).
//!
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed; SSTP_RS_DIAG=1 prints
//! every log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::plugin::{build_plugin, build_test_server, ensure_pppd25, Pppd};
use integration_tests::scenario::{parse_facts, SCENARIO_LIB};
use integration_tests::testbed::{self, shell_quote, workspace_root, BootOptions, TestbedError};

/// Compiles the server-side key-export plugin against pppd 2.5.2's headers.
fn build_keys_export() -> Result<PathBuf, String> {
    ensure_pppd25()?;
    let root = workspace_root();
    let out = Pppd::V252.dir().join("mppe-keys-export.so");
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-Wall", "-Werror", "-I"])
        .arg(root.join("target/pppd-2.5.2/install/include"))
        .arg("-o")
        .arg(&out)
        .arg(root.join("tests/fixtures/mppe-keys-export.c"))
        .status()
        .map_err(|e| format!("running cc: {e}"))?;
    st.success()
        .then_some(out)
        .ok_or_else(|| "compiling mppe-keys-export.c failed".to_string())
}

/// Builds the release `sstp` command (where sstp-test-server is built) and returns its path.
fn build_sstp() -> Result<PathBuf, String> {
    let dir = Pppd::V249.dir().join("cargo");
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args(["build", "--release", "-p", "sstp-cli", "--bin", "sstp"])
        .env("CARGO_TARGET_DIR", &dir)
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    st.success()
        .then(|| dir.join("release/sstp"))
        .ok_or_else(|| "building sstp failed".to_string())
}

fn script(so25: &Path, so249: &Path, keys_so: &Path, server: &Path, sstp: &Path) -> String {
    let q = |p: &Path| shell_quote(&p.to_string_lossy());
    format!(
        r#"
. /run/bed/sstp-scenario.sh
SO25={so25}
SO249={so249}
PPPD25={pppd25}
SERVER={server}
SSTP={sstp}
sc_net_up || exit 1
sc_pki || exit 1
: >"$SC_WORK/servers"
sc_eap_tls_server "$PPPD25" {keys_so} 450 ts-eap.log || {{ echo "EAP-TLS server not listening"; exit 1; }}
sc_fact eap_server_started 1
# eap <tag> <pppd> <plugin> <port> <auth options...>: pppd + sstp-rs in the background.
eap() {{
    tag=$1; bin=$2; so=$3; port=$4; shift 4
    T0=$(sc_now)
    "$bin" plugin "$so" sstp-server "$SC_SERVER_NAME:$port" sstp-ca-file "$SC_OUT/ca.pem" \
        sstp-log-level 3 user "$SC_USER" remotename sstp-rs-test-server "$@" \
        noauth noccp nobsdcomp nodeflate nodefaultroute noipdefault lcp-echo-interval 0 \
        debug nodetach logfile "$SC_OUT/c-$tag.log" >"$SC_OUT/c-$tag.out" 2>&1 &
    PID=$!
    SC_CLIENT_PID=$PID
}}
ends() {{ # <tag> <seconds>
    if sc_wait "$2" sc_not_running "$PID"; then sc_fact "$1_ended" 1; else sc_fact "$1_ended" 0; kill -KILL "$PID"; fi
    wait "$PID"; sc_fact "$1_exit" "$?"
    sc_fact "$1_elapsed_s" "$(sc_elapsed "$T0" "$(sc_now)")"
}}
# session <tag>: waits for ppp up, 3 pings through it, SIGTERM, waits for both pppds.
session() {{
    if sc_wait 30 sc_ppp_up_or_client_gone && sc_ppp_up; then
        sc_fact "$1_up" 1
        IF=$(sc_ppp_if)
        ping -n -c 3 -i 0.2 -W 3 -I "$IF" "$SC_PPP_SERVER" >"$SC_OUT/ping-$1.txt" 2>&1
        sc_fact "$1_ping_rx" "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/ping-$1.txt")"
        sc_fact "$1_route" "$(ip route get "$SC_PPP_SERVER" | head -n 1)"
    else
        sc_fact "$1_up" 0
    fi
    kill -TERM "$PID" 2>/dev/null
    ends "$1" 15
    sc_wait 15 sc_server_pppd_gone
}}
TLS="ca $SC_WORK/pki/ca.pem cert $SC_WORK/pki/eap-client.pem key $SC_WORK/pki/eap-client.key"

sc_step "tls25: pppd 2.5.2, EAP-TLS, Compound MAC checked with the server's MSK"
eap tls25 "$PPPD25" "$SO25" 450 $TLS
session tls25
rm -f "$SC_WORK/eap-keys"

sc_step "tls249: pppd 2.4.9, EAP-TLS: keys truncated to 16 bytes -> clear refusal"
eap tls249 /usr/sbin/pppd "$SO249" 450 $TLS
ends tls249 40
sc_wait 15 sc_server_pppd_gone

sc_step "cli25: sstp connect --eap-tls CERT KEY CA with pppd 2.5.2"
rm -f "$SC_WORK/eap-keys"
printf 'unused\n' >"$SC_WORK/pw"
chmod 600 "$SC_WORK/pw"
T0=$(sc_now)
"$SSTP" connect "$SC_SERVER_NAME:450" -u "$SC_USER" --password-file "$SC_WORK/pw" \
    --plugin "$SO25" --pppd "$PPPD25" --ca-file "$SC_OUT/ca.pem" --log-level 3 \
    --eap-tls "$SC_WORK/pki/eap-client.pem" "$SC_WORK/pki/eap-client.key" "$SC_WORK/pki/ca.pem" \
    -- lcp-echo-interval 0 logfile "$SC_OUT/c-cli25.log" >"$SC_OUT/sstp-cli25.out" 2>&1 &
PID=$!
SC_CLIENT_PID=$PID
session cli25

# From here on the server pppd also has the user's password (chap-secrets in its configuration
# directory, which pppd 2.5.2 as a client shares here): it then offers EAP-MD5 first.
sc_eap_password_server 451 ts-md5.log || {{ echo "EAP-MD5 server not listening"; exit 1; }}
sc_fact md5_server_started 1

sc_step "md525: pppd 2.5.2, EAP-MD5: no keys, zero HLAK (warning)"
eap md525 "$PPPD25" "$SO25" 451 password "$SC_PASSWORD"
session md525

sc_step "md5249: pppd 2.4.9, EAP-MD5: no keys, zero HLAK (warning)"
eap md5249 /usr/sbin/pppd "$SO249" 451 password "$SC_PASSWORD"
session md5249

sc_step "teardown"
for s in $(cat "$SC_WORK/servers"); do kill -TERM "$s" 2>/dev/null; done
for p in $(pgrep -x pppd); do kill -TERM "$p" 2>/dev/null; done
sleep 0.5
sc_leftovers
exit 0
"#,
        so25 = q(so25),
        so249 = q(so249),
        pppd25 = q(&Pppd::V252.binary()),
        keys_so = q(keys_so),
        server = q(server),
        sstp = q(sstp),
    )
}

struct Run {
    run: testbed::GuestRun,
    facts: BTreeMap<String, String>,
    diag: String,
}

impl Run {
    fn fact(&self, k: &str) -> &str {
        self.facts.get(k).map(String::as_str).unwrap_or("")
    }
    fn file(&self, name: &str) -> String {
        self.run.read(name).unwrap_or_default()
    }
}

fn run_bed() -> Option<Run> {
    if testbed::skip_testbed(&[]) {
        return None;
    }
    let so25 = build_plugin(Pppd::V252, true, "sstp-rs-eap.so").expect("build plugin 2.5.2");
    let so249 = build_plugin(Pppd::V249, true, "sstp-rs-eap.so").expect("build plugin 2.4.9");
    let keys_so = build_keys_export().expect("build mppe-keys-export.so");
    let server = build_test_server().expect("build sstp-test-server");
    let sstp = build_sstp().expect("build sstp");
    let opts = BootOptions {
        timeout: Duration::from_secs(240),
        files: vec![(
            "sstp-scenario.sh".to_string(),
            SCENARIO_LIB.as_bytes().to_vec(),
        )],
        stream_output: std::env::var_os("SSTP_RS_STREAM").is_some(),
        ..BootOptions::default()
    };
    let run = match testbed::run(&script(&so25, &so249, &keys_so, &server, &sstp), &opts) {
        Ok(r) => r,
        Err(TestbedError::Unavailable(why)) => {
            testbed::skip_unavailable(&why);
            return None;
        }
        Err(e) => panic!("test bed: {e}"),
    };
    let facts = parse_facts(&run.output);
    let mut diag = format!("{}\n--- facts ---\n{facts:#?}\n", run.diagnostics());
    for n in [
        "c-tls25.log",
        "c-tls249.log",
        "ts-eap.log",
        "server-pppd-eap.log",
        "c-cli25.log",
        "sstp-cli25.out",
        "c-md525.log",
        "c-md5249.log",
        "ts-md5.log",
    ] {
        let text = run.read(n).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        diag.push_str(&format!("--- {n} ---\n{tail}\n"));
    }
    if std::env::var_os("SSTP_RS_DIAG").is_some() {
        eprintln!("{diag}");
    }
    Some(Run { run, facts, diag })
}

#[test]
fn eap_tls_on_pppd_252_and_249() {
    let Some(r) = run_bed() else {
        return;
    };
    let d = &r.diag;
    assert!(r.run.success(), "{d}");
    assert_eq!(r.fact("eap_server_started"), "1", "{d}");
    let server = r.file("ts-eap.log");
    let server_pppd = r.file("server-pppd-eap.log");

    // pppd 2.5.2: EAP-TLS, HLAK = first 32 bytes of the MSK, verified by the server.
    let c25 = r.file("c-tls25.log");
    assert_eq!(r.fact("tls25_up"), "1", "{d}");
    assert_eq!(r.fact("tls25_ping_rx"), "3", "{d}");
    assert!(r.fact("tls25_route").contains("dev ppp"), "{d}");
    assert!(
        c25.contains("authentication done: EAP-TLS, MPPE keys 32+32 bytes -> HLAK: the first 32 bytes of the MSK"),
        "{d}"
    );
    assert!(
        server_pppd.contains("mppe-keys-export: wrote 32+32 key bytes"),
        "the server pppd did not export 32-byte EAP-TLS keys\n{d}"
    );
    assert!(
        server.contains("compound MAC ok"),
        "the server did not verify the Compound MAC with the MSK\n{d}"
    );
    assert!(!server.contains("compound MAC WRONG"), "{d}");
    assert_eq!(
        r.fact("tls25_exit"),
        "5",
        "SIGTERM -> EXIT_USER_REQUEST\n{d}"
    );

    // pppd 2.4.9: the same EAP-TLS succeeds, but 16 key bytes: a clear refusal, exit 19,
    // no CALL_CONNECTED with a wrong binding.
    let c249 = r.file("c-tls249.log");
    assert_eq!(r.fact("tls249_ended"), "1", "{d}");
    assert_eq!(r.fact("tls249_exit"), "19", "{d}");
    assert!(
        c249.contains(
            "sstp-rs: EAP method unusable on this pppd: EAP-TLS succeeded, but pppd 2.4.9 \
             handed over only 16 bytes of its key"
        ),
        "{d}"
    );
    assert!(c249.contains("use pppd 2.5 or later for EAP-TLS"), "{d}");
    let elapsed: f64 = r.fact("tls249_elapsed_s").parse().unwrap_or(f64::NAN);
    assert!(elapsed < 20.0, "refusal took {elapsed} s\n{d}");
    // Two CALL_CONNECTED in the server's log: the 2.5.2 sessions' (pppd, sstp connect).
    assert_eq!(server.matches("CALL_CONNECTED received").count(), 2, "{d}");

    // `sstp connect --eap-tls CERT KEY CA` (pppd 2.5.2): EAP allowed, the others still refused,
    // the binding verified with the MSK.
    let cli = r.file("c-cli25.log");
    assert_eq!(r.fact("cli25_up"), "1", "{d}");
    assert_eq!(r.fact("cli25_ping_rx"), "3", "{d}");
    assert!(
        cli.contains("authentication done: EAP-TLS, MPPE keys 32+32 bytes -> HLAK: the first 32 bytes of the MSK"),
        "{d}"
    );
    assert_eq!(server.matches("compound MAC ok").count(), 2, "{d}");

    // EAP-MD5 on both versions: EAP without keys is told from EAP-TLS and EAP-MSCHAPv2, the
    // zero HLAK is used with the weak-method warning, and the server checks it.
    let md5_server = r.file("ts-md5.log");
    assert_eq!(r.fact("md5_server_started"), "1", "{d}");
    for tag in ["md525", "md5249"] {
        assert_eq!(r.fact(&format!("{tag}_up")), "1", "{tag}\n{d}");
        assert_eq!(r.fact(&format!("{tag}_ping_rx")), "3", "{tag}\n{d}");
        assert_eq!(r.fact(&format!("{tag}_exit")), "5", "{tag}\n{d}");
        let log = r.file(&format!("c-{tag}.log"));
        assert!(log.contains("MD5-Challenge"), "{tag}\n{d}");
        assert!(
            log.contains(
                "authentication done: EAP (MD5 or another method without keys), MPPE keys 0+0 \
                 bytes -> HLAK: zero HLAK (the method gives no keys)"
            ),
            "{tag}\n{d}"
        );
        assert!(
            log.contains("sstp-rs: WARNING: authentication gave no MPPE keys"),
            "{tag}\n{d}"
        );
    }
    assert_eq!(md5_server.matches("compound MAC ok").count(), 2, "{d}");
    assert_eq!(r.fact("leftovers"), "", "{d}");
}
