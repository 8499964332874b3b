//! No secret leaves the client, proven end to end: one full session of pppd 2.4.9 + sstp-rs.so
//! at its most verbose (pppd `debug` + `dump`, `sstp-log-level 4`, a `logfile`, stdout and
//! stderr captured) against sstpd (MS-CHAPv2 -> MPPE keys, crypto binding verified) through
//! Squid with proxy Basic auth from `sstp-proxy-auth-file`. While the tunnel is up the guest
//! copies `/proc/*/cmdline` and `/proc/*/environ` of every process; after teardown it adds
//! the client's logs, the kernel log and `/var/log`. The test then searches all of it for the
//! PPP password, the proxy password, the Base64 Basic credentials, the HLAK, both MPPE key
//! halves and the CMKs (hex in both cases, and raw bytes). The HLAK comes from sstpd's own
//! debug log ("Configured HLAK as ..." at `-v 10`, the server side, not searched); the CMKs
//! are derived from it with sstp-proto. Set SSTP_RS_SKIP_TESTBED=1 to skip.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use integration_tests::plugin::{self, Pppd};
use integration_tests::scenario::{self, parse_facts};
use integration_tests::testbed;
use sstp_proto::crypto_binding::{cmk, HashProtocol};
use sstp_proto::Hlak;

const PROXY_USER: &str = "alice";
const PROXY_PASSWORD: &str = "Prx-S3cret-q7Zt";

fn script(so: &Path) -> String {
    format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
PROXY_PW={proxy_pw}
sc_net_up || exit 1
# Squid in netns srv, Basic auth. Squid's AAAA lookup needs the name's IPv6 address (no DNS).
printf '%s %s\n' "$SC_SERVER_V6" "$SC_SERVER_NAME" >>/etc/hosts
sq=$SC_WORK/squid
mkdir -p "$sq"
printf '{proxy_user}:%s\n' "$(openssl passwd -apr1 "$PROXY_PW")" >"$sq/passwd"
cat >"$sq/squid.conf" <<EOF
http_port 192.0.2.2:3128
pid_filename $sq/squid.pid
cache_log $sq/cache.log
access_log stdio:$sq/access.log
coredump_dir $sq
cache deny all
cache_effective_user proxy
shutdown_lifetime 0 seconds
pinger_enable off
visible_hostname sstp-test-proxy
auth_param basic program /usr/lib/squid/basic_ncsa_auth $sq/passwd
auth_param basic realm sstp-basic
auth_param basic children 1 startup=1
acl authed proxy_auth REQUIRED
http_access allow authed
http_access deny all
EOF
chmod -R a+rwX "$sq"
ip netns exec srv /usr/sbin/squid -N -n sq -f "$sq/squid.conf" >"$SC_WORK/squid.out" 2>&1 &
SQUID=$!
# sstpd starts while Squid does.
sc_pki || exit 1
sc_server_start || exit 1
SC_PORT=3128 sc_wait 30 sc_server_listening || {{ echo "squid not listening"; exit 1; }}
sc_step "squid listening"
umask 077
printf '{proxy_user}\n%s\n' "$PROXY_PW" >"$SC_WORK/proxy.cred"
umask 022

# The client. Its PPP secret comes from /etc/ppp/chap-secrets (written by sc_server_start), as
# an installation would have it: nothing secret on the command line.
C=$SC_OUT/collect
mkdir -p "$C"
SC_CLIENT_T0=$(sc_now)
/usr/sbin/pppd plugin "$SO" sstp-server "$SC_SERVER_NAME:443" sstp-ca-file "$SC_OUT/ca.pem" \
    sstp-proxy http://192.0.2.2:3128 sstp-proxy-auth-file "$SC_WORK/proxy.cred" \
    sstp-log-level 4 user "$SC_USER" noauth noccp nobsdcomp nodeflate refuse-eap \
    nodefaultroute noipdefault lcp-echo-interval 0 debug dump nodetach \
    logfile "$C/pppd.log" >"$C/pppd.stdout" 2>"$C/pppd.stderr" &
SC_CLIENT_PID=$!
if sc_client_wait_up 30; then
    sc_ping 3
    # Every process while the session is up: argv and environment (one cp for all of them).
    cp --parents /proc/[0-9]*/cmdline /proc/[0-9]*/environ "$C/" 2>/dev/null
    sc_fact processes "$(ls "$C"/proc/*/cmdline | wc -l)"
    sc_fact environs "$(ls "$C"/proc/*/environ | wc -l)"
fi
sc_client_stop
kill -TERM "$SQUID" 2>/dev/null
sc_server_stop
sc_collect
dmesg >"$C/dmesg.txt" 2>&1
[ -d /var/log ] && cp -r /var/log "$C/var-log" 2>/dev/null
for p in $(pgrep -x squid); do kill -KILL "$p" 2>/dev/null; done
cp "$sq/cache.log" "$SC_OUT/squid-cache.log"
exit 0
"#,
        so = testbed::shell_quote(&so.to_string_lossy()),
        proxy_pw = testbed::shell_quote(PROXY_PASSWORD),
        proxy_user = PROXY_USER,
    )
}

/// The regular files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Each secret as raw bytes and as lower- and upper-case hex.
fn needles(secrets: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for (name, raw) in secrets {
        v.push((format!("{name} (raw)"), raw.clone()));
        v.push((format!("{name} (hex)"), hex(raw).into_bytes()));
        v.push((
            format!("{name} (HEX)"),
            hex(raw).to_uppercase().into_bytes(),
        ));
    }
    v
}

/// The names of the needles that occur in `data`.
fn found<'a>(data: &[u8], needles: &'a [(String, Vec<u8>)]) -> Vec<&'a str> {
    needles
        .iter()
        .filter(|(_, n)| data.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|(name, _)| name.as_str())
        .collect()
}

#[test]
fn no_secret_in_logs_argv_or_environment() {
    if testbed::skip_testbed(&["/usr/sbin/squid", "/usr/lib/squid/basic_ncsa_auth"]) {
        return;
    }
    let so = plugin::build_plugin(Pppd::V249, true, "sstp-rs-secrets.so").expect("build plugin");
    let t0 = Instant::now();
    let Some(run) = scenario::run_script(&script(&so), Duration::from_secs(120)) else {
        return;
    };
    let wall = t0.elapsed();
    let facts = parse_facts(&run.output);
    let fact = |k: &str| facts.get(k).cloned().unwrap_or_default();
    let get = |n: &str| run.read(n).unwrap_or_default();
    let log = get("collect/pppd.log");
    let diag = format!(
        "{}\n--- facts ---\n{facts:?}\n--- pppd.log ---\n{log}\n--- sstpd.log ---\n{}\n\
         --- squid-cache.log ---\n{}",
        run.diagnostics(),
        get("sstpd.log"),
        get("squid-cache.log")
    );

    // The session really was up, through the proxy, with a verified crypto binding.
    assert!(run.success(), "{diag}");
    assert_eq!(fact("ppp_up"), "1", "{diag}");
    assert!(fact("ppp_local").starts_with("198.51.100."), "{diag}");
    assert_eq!(fact("ping_received"), "3", "{diag}");
    assert_eq!(fact("crypto_binding_valid"), "1", "{diag}");
    assert!(log.contains("via proxy 192.0.2.2:3128"), "{diag}");
    assert!(
        log.contains("MS-CHAPv2, MPPE keys 16+16 bytes -> HLAK: MasterSendKey[0..16] || MasterReceiveKey[0..16]"),
        "{diag}"
    );
    assert!(log.contains("sstp-proxy-auth-file"), "dump ran: {diag}");

    // The keys of this session, from sstpd's log (server side): HLAK = send ‖ recv (client's).
    let hlak = get("sstpd.log")
        .lines()
        .find_map(|l| {
            l.split("Configured HLAK as ")
                .nth(1)
                .map(str::trim)
                .map(str::to_owned)
        })
        .and_then(|h| unhex(&h))
        .filter(|h| h.len() == 32 && h.iter().any(|&b| b != 0))
        .unwrap_or_else(|| panic!("no HLAK in sstpd.log\n{diag}"));
    let key = Hlak::from_bytes(hlak.clone().try_into().expect("32 bytes"));
    let basic = sstp_proxy_auth::basic::basic_authorization(PROXY_USER, PROXY_PASSWORD);
    let secrets = [
        ("PPP password", scenario::PASSWORD.as_bytes().to_vec()),
        ("proxy password", PROXY_PASSWORD.as_bytes().to_vec()),
        (
            "Basic credentials",
            basic.as_bytes()["Basic ".len()..].to_vec(),
        ),
        ("HLAK", hlak.clone()),
        ("MPPE send key", hlak[..16].to_vec()),
        ("MPPE receive key", hlak[16..].to_vec()),
        (
            "CMK SHA1",
            cmk(HashProtocol::Sha1, &key).as_bytes().to_vec(),
        ),
        (
            "CMK SHA256",
            cmk(HashProtocol::Sha256, &key).as_bytes().to_vec(),
        ),
    ];
    let needles = needles(&secrets);

    let files = files_under(&run.scratch.join("collect"));
    let procs = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "cmdline"))
        .count();
    let environs = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "environ"))
        .count();
    let mut bytes = 0;
    let mut hits = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap_or_default();
        bytes += data.len();
        for name in found(&data, &needles) {
            hits.push(format!("{name} in {}", f.display()));
        }
    }
    // The search works: sstpd's debug log (server side, not searched above) has the HLAK.
    let server_log = std::fs::read(run.scratch.join("sstpd.log")).unwrap_or_default();
    assert!(
        found(&server_log, &needles).contains(&"HLAK (hex)"),
        "{diag}"
    );
    // The collection is real: pppd's own argv is among the snapshots.
    let pppd_argv = files
        .iter()
        .any(|f| std::fs::read(f).is_ok_and(|d| d.starts_with(b"/usr/sbin/pppd\0plugin\0")));
    assert!(pppd_argv, "no pppd cmdline collected\n{diag}");
    assert!(
        procs >= 10 && procs.to_string() == fact("processes"),
        "{diag}"
    );
    assert!(
        environs + 2 >= procs,
        "environ unreadable: {environs} of {procs}\n{diag}"
    );
    assert!(
        hits.is_empty(),
        "secrets found:\n{}\n{diag}",
        hits.join("\n")
    );
    eprintln!(
        "secrets: {} needles ({} secrets) searched in {} files ({} processes' cmdline+environ, \
         logs), {} bytes: none found; guest command {:?}, UML wall {:.1} s, test wall {:.1} s",
        needles.len(),
        secrets.len(),
        files.len(),
        procs,
        bytes,
        run.command_time,
        run.wall_time.as_secs_f64(),
        wall.as_secs_f64()
    );
}
