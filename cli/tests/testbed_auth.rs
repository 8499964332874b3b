//! `sstp connect` in the UML test bed (real pppd 2.4.9, kernel PPP, the project's SSTP test
//! server with a server-side pppd): the PPP authentication policy.
//! - a server that demands MS-CHAPv2 (as Windows RRAS): connects with the default refusals;
//! - a server that offers only PAP: refused by default, with a message that names the cause and
//!   `--allow-weak-auth`; with `--allow-weak-auth` it connects, and both `sstp` and the plugin
//!   warn that the crypto binding cannot protect the session.
//!
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::plugin;
use integration_tests::scenario::{self, parse_facts};
use integration_tests::testbed::{self, shell_quote, skip_unavailable};

/// The plugin built next to `sstp` (this cargo profile, the host's pppd 2.4.9).
fn plugin_next_to_sstp() -> Option<PathBuf> {
    let exe_dir = Path::new(env!("CARGO_BIN_EXE_sstp")).parent().unwrap();
    let so = sstp_cli::pppd::dev_plugin(exe_dir);
    if so.is_none() {
        skip_unavailable("the plugin is not built (cargo build -p sstp-pppd-plugin)");
    }
    so
}

fn script(sstp: &Path, so: &Path, server: &Path) -> String {
    format!(
        r#"
. /run/bed/sstp-scenario.sh
SSTP={sstp}
SO={so}
SERVER={server}
sc_net_up || exit 1
sc_pki || exit 1
printf '%s * %s *\n' "$SC_USER" "$SC_PASSWORD" >/etc/ppp/pap-secrets
printf '%s * %s *\n' "$SC_USER" "$SC_PASSWORD" >/etc/ppp/chap-secrets
chmod 600 /etc/ppp/pap-secrets /etc/ppp/chap-secrets
common="name sstp-rs-test-server noccp nobsdcomp nodeflate nodefaultroute noipdefault local nodetach nologfd debug"
printf '%s\n' "$common" require-mschap-v2 refuse-pap refuse-chap refuse-eap "logfile $SC_OUT/server-pppd-mschap.log" "$SC_PPP_SERVER:198.51.100.2" >/etc/ppp/options.mschap
printf '%s\n' "$common" require-pap refuse-chap refuse-mschap refuse-mschap-v2 refuse-eap "logfile $SC_OUT/server-pppd-pap.log" "$SC_PPP_SERVER:198.51.100.3" >/etc/ppp/options.pap
: >"$SC_WORK/servers"
start_server() {{ # port log args...
    port=$1; log=$2; shift 2
    ip netns exec srv "$SERVER" --listen "[::]:$port" --cert "$SC_WORK/pki/server.pem" \
        --key "$SC_WORK/pki/server.key" --pppd-cmd /usr/sbin/pppd "$@" >"$SC_OUT/$log" 2>&1 &
    echo $! >>"$SC_WORK/servers"
}}
start_server 443 server-mschap.log --pppd-arg file --pppd-arg /etc/ppp/options.mschap
start_server 444 server-pap.log --hlak-zero --pppd-arg file --pppd-arg /etc/ppp/options.pap
for p in 443 444; do
    SC_PORT=$p sc_wait 20 sc_server_listening || {{ echo "server on $p not listening"; exit 1; }}
done
printf '%s\n' "$SC_PASSWORD" >"$SC_WORK/pw"
chmod 600 "$SC_WORK/pw"

connect() {{ # tag port [sstp connect options]
    tag=$1; port=$2; shift 2
    "$SSTP" connect "$SC_SERVER_NAME:$port" -u "$SC_USER" --password-file "$SC_WORK/pw" \
        --plugin "$SO" --pppd /usr/sbin/pppd --ca-file "$SC_OUT/ca.pem" "$@" \
        -- lcp-echo-interval 0 >"$SC_OUT/sstp-$tag.out" 2>&1 &
    PID=$!
}}
up_and_down() {{ # tag: waits for the link, pings once, Ctrl-C, records up/exit
    if sc_wait 30 sc_ppp_up; then
        sc_fact up_$1 1
        ping -n -c 1 -W 3 -I "$(sc_ppp_if)" "$SC_PPP_SERVER" >/dev/null 2>&1 && sc_fact ping_$1 1
    fi
    kill -INT $PID; sc_wait 25 sc_not_running $PID; wait $PID; sc_fact exit_$1 $?
    sc_wait 10 sc_no_client_pppd
}}

echo "== MS-CHAPv2 server, default refusals (443)"
connect mschap 443
up_and_down mschap

echo "== PAP-only server, default refusals (444)"
t0=$(sc_now)
connect pap-refused 444
if sc_wait 60 sc_not_running $PID; then wait $PID; sc_fact exit_pap_refused $?; else kill -KILL $PID; fi
sc_fact pap_refused_seconds "$(sc_elapsed "$t0" "$(sc_now)")"
sc_ppp_up && sc_fact up_pap_refused 1
sc_wait 10 sc_no_client_pppd

echo "== PAP-only server, --allow-weak-auth (444)"
connect pap-allowed 444 --allow-weak-auth
up_and_down pap_allowed

for s in $(cat "$SC_WORK/servers"); do kill -TERM "$s" 2>/dev/null; done
for p in $(pgrep -x pppd); do kill -TERM "$p" 2>/dev/null; done
sleep 1
sc_leftovers
exit 0
"#,
        sstp = shell_quote(&sstp.to_string_lossy()),
        so = shell_quote(&so.to_string_lossy()),
        server = shell_quote(&server.to_string_lossy()),
    )
}

#[test]
fn weak_ppp_authentication_is_refused_unless_allowed() {
    if testbed::skip_testbed(&[]) {
        return;
    }
    let Some(so) = plugin_next_to_sstp() else {
        return;
    };
    let server = plugin::build_test_server().expect("build sstp-test-server");
    let sstp = PathBuf::from(env!("CARGO_BIN_EXE_sstp"));
    let Some(run) = scenario::run_script(&script(&sstp, &so, &server), Duration::from_secs(240))
    else {
        return;
    };
    let facts = parse_facts(&run.output);
    let get = |n: &str| run.read(n).unwrap_or_default();
    let fact = |k: &str| facts.get(k).cloned().unwrap_or_default();
    let mut diag = format!("{}\n--- facts ---\n{facts:?}\n", run.diagnostics());
    for n in [
        "sstp-mschap.out",
        "sstp-pap-refused.out",
        "sstp-pap-allowed.out",
        "server-pap.log",
        "server-pppd-pap.log",
    ] {
        diag.push_str(&format!("--- {n} ---\n{}\n", get(n)));
    }
    assert!(run.success(), "{diag}");

    // MS-CHAPv2, as Windows: the refusals leave it, and the session is keyed.
    let mschap = get("sstp-mschap.out");
    assert_eq!(fact("up_mschap"), "1", "{diag}");
    assert_eq!(fact("ping_mschap"), "1", "{diag}");
    assert_eq!(fact("exit_mschap"), "0", "{diag}");
    assert!(
        mschap.contains("refuse-pap refuse-chap refuse-mschap refuse-eap"),
        "{mschap}"
    );
    assert!(!mschap.contains("WARNING"), "{mschap}");
    // Ctrl-C reached pppd as SIGTERM (its signal mask is not the one `sstp` blocks).
    assert!(mschap.contains("Terminating on signal 15"), "{mschap}");
    // The summary names the address used and the certificate's hashes as the server's
    // administrator sees them (uppercase hex), from the plugin's sstp-ipc-fd records.
    let sha256 = fact("server_cert_sha256").to_ascii_uppercase();
    let sha1 = fact("server_cert_sha1").to_ascii_uppercase();
    assert!(sha256.len() == 64 && sha1.len() == 40, "{diag}");
    for want in [
        "  connected to:  IPv4 192.0.2.2:443\n".to_string(),
        format!("  certificate:   SHA-256 {sha256}\n                 SHA-1   {sha1}\n"),
    ] {
        assert!(mschap.contains(&want), "lacks {want:?}:\n{mschap}");
    }

    // PAP only: refused, in bounded time, with the cause and the way out.
    let refused = get("sstp-pap-refused.out");
    assert_eq!(fact("up_pap_refused"), "", "{diag}");
    assert_ne!(fact("exit_pap_refused"), "", "sstp did not end: {diag}");
    assert_ne!(fact("exit_pap_refused"), "0", "{diag}");
    assert!(
        refused.contains(sstp_cli::pppd::WEAK_AUTH_REFUSED),
        "no weak-auth message: {diag}"
    );
    assert!(!refused.contains("zero HLAK"), "{refused}");

    // --allow-weak-auth: connects over PAP, with the warnings of sstp and of the plugin.
    let allowed = get("sstp-pap-allowed.out");
    assert_eq!(fact("up_pap_allowed"), "1", "{diag}");
    assert_eq!(fact("exit_pap_allowed"), "0", "{diag}");
    let started = allowed
        .lines()
        .find(|l| l.starts_with("sstp: starting"))
        .unwrap_or("");
    assert!(
        !started.is_empty() && !started.contains("refuse-"),
        "{allowed}"
    );
    assert!(allowed.contains("warning: --allow-weak-auth"), "{allowed}");
    assert!(
        allowed.contains("sstp-rs: WARNING: authentication gave no MPPE keys"),
        "{allowed}"
    );
    assert!(
        get("server-pap.log").contains("certificate hash ok, compound MAC ok"),
        "{diag}"
    );
    for out in [&mschap, &refused, &allowed] {
        assert!(
            !out.contains(integration_tests::scenario::PASSWORD),
            "{out}"
        );
    }
    assert_eq!(fact("leftovers"), "", "{diag}");
    let timing = run
        .diagnostics()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    eprintln!("testbed_auth: {timing}; facts {facts:?}");
}
