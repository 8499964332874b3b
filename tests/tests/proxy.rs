//! pppd 2.4.9 + sstp-rs.so through Squid (Debian's, started inside the test bed guest with its
//! configuration, cache and logs in tmpfs) in front of the project's SSTP test server:
//! Basic auth (basic_ncsa_auth, apr1 htpasswd) and Digest auth (digest_file_auth), each a full
//! tunnel with MS-CHAPv2 + crypto binding and pings through it, credentials from
//! `sstp-proxy-auth-file`; a wrong proxy password; a credentials file others can read. The
//! passwords never reach pppd's log, not even with `dump`. Set SSTP_RS_SKIP_TESTBED=1 to skip.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use integration_tests::plugin::{self, Pppd};
use integration_tests::scenario::{self, parse_facts};
use integration_tests::testbed;

fn skip() -> bool {
    integration_tests::testbed::skip_testbed(&[
        "/usr/sbin/squid",
        "/usr/lib/squid/basic_ncsa_auth",
        "/usr/lib/squid/digest_file_auth",
    ])
}

/// Builds the plugin for pppd 2.4.9 (release) and the test server, in target/pppd-2.4.9/cargo.
fn build() -> (PathBuf, PathBuf) {
    let so = plugin::build_plugin(Pppd::V249, true, "sstp-rs-proxy.so").expect("build the plugin");
    let server = plugin::build_test_server().expect("build sstp-test-server");
    (so, server)
}

const BASIC_PASSWORD: &str = "Basic-Pa55 w0rd";
const DIGEST_PASSWORD: &str = "Digest-Pa55";
const WRONG_PASSWORD: &str = "not-the-Pa55";
const URL_PASSWORD: &str = "url-Pa55-wrong";

fn script(so: &Path, server: &Path) -> String {
    format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
SERVER={server}
BASIC_PW={basic}
DIGEST_PW={digest}
WRONG_PW={wrong}
URL_PW={url}
sc_net_up || exit 1
sc_pki || exit 1
pki=$SC_WORK/pki
sc_test_server_setup
sc_test_server 443 server.log server

# Two Squids in netns srv (all files in tmpfs): Basic on 3128, Digest on 3129.
# The guest has no DNS server: give Squid the server name's IPv6 address too (the guest's
# /etc/hosts is a tmpfs copy), or its AAAA lookup waits for DNS timeouts before each CONNECT.
printf '%s %s\n' "$SC_SERVER_V6" "$SC_SERVER_NAME" >>/etc/hosts
sq=$SC_WORK/squid
mkdir -p "$sq"
printf 'alice:%s\n' "$(openssl passwd -apr1 "$BASIC_PW")" >"$sq/passwd"
printf 'bob:%s\n' "$DIGEST_PW" >"$sq/digestpw"
sc_squid_start basic 3128 "auth_param basic program /usr/lib/squid/basic_ncsa_auth $sq/passwd
auth_param basic realm sstp-basic
auth_param basic children 2 startup=1"
sc_squid_start digest 3129 "auth_param digest program /usr/lib/squid/digest_file_auth $sq/digestpw
auth_param digest realm sstp-digest
auth_param digest children 2 startup=1"
for p in 443 3128 3129; do
    SC_PORT=$p sc_wait 30 sc_server_listening || {{ echo "server on $p not listening"; exit 1; }}
done
# Squid starts its auth helpers at start-up (startup=1): wait for them, so that the connect
# times below are the client's and not a helper fork inside the guest.
sc_wait 20 sh -c 'pgrep -f basic_ncsa_auth && pgrep -f digest_file_auth' || echo "squid helpers not seen"
sc_fact servers_started 1

# Credentials files: root-owned, 0600 (one 0644 to be refused).
umask 077
printf 'alice\n%s\n' "$BASIC_PW" >"$SC_WORK/basic.cred"
printf 'bob:%s\n' "$DIGEST_PW" >"$SC_WORK/digest.cred"
printf 'alice:%s\n' "$WRONG_PW" >"$SC_WORK/wrong.cred"
printf 'alice:%s\n' "$BASIC_PW" >"$SC_WORK/open.cred"
chmod 644 "$SC_WORK/open.cred"
umask 022

client() {{ # tag [extra pppd options]
    tag=$1; shift
    echo "== $tag: $*"
    T0=$(sc_now)
    /usr/sbin/pppd plugin "$SO" sstp-server "$SC_SERVER_NAME:443" sstp-ca-file "$SC_OUT/ca.pem" \
        user "$SC_USER" password "$SC_PASSWORD" noauth noccp nobsdcomp nodeflate refuse-eap \
        nodefaultroute noipdefault lcp-echo-interval 0 debug nodetach dump \
        logfile "$SC_OUT/p-$tag.log" "$@" >"$SC_OUT/p-$tag.out" 2>&1 &
    PID=$!
}}
ended() {{ # tag limit
    if sc_wait "$2" sc_not_running $PID; then sc_fact "ended_$1" 1; else sc_fact "ended_$1" 0; kill -KILL $PID; fi
    wait $PID
    sc_fact "exit_$1" $?
    sc_fact "secs_$1" "$(sc_elapsed "$T0" "$(sc_now)")"
}}
session() {{ # tag [extra pppd options]
    tag=$1
    client "$@"
    if sc_wait 30 sc_ppp_up; then
        sc_fact "up_$tag" 1
        sc_fact "connect_secs_$tag" "$(sc_elapsed "$T0" "$(sc_now)")"
        SC_PPP_IF=$(sc_ppp_if)
        ping -n -c 5 -i 0.2 -W 3 -I "$SC_PPP_IF" "$SC_PPP_SERVER" >"$SC_WORK/ping-$tag.txt" 2>&1
        cat "$SC_WORK/ping-$tag.txt"
        sc_fact "pings_$tag" "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_WORK/ping-$tag.txt")"
        sc_fact "rtt_$tag" "$(sed -n 's/^rtt [^=]*= *\([^ ]*\) ms.*/\1/p' "$SC_WORK/ping-$tag.txt")"
    else
        sc_fact "up_$tag" 0
    fi
    kill -TERM $PID
    ended "$tag" 20
    sc_wait 15 sc_server_pppd_gone
}}

session basic sstp-proxy http://192.0.2.2:3128 sstp-proxy-auth-file "$SC_WORK/basic.cred"
# The URL carries wrong credentials: the file's must win.
session digest sstp-proxy "http://bob:$URL_PW@192.0.2.2:3129" sstp-proxy-auth-file "$SC_WORK/digest.cred"
client wrong sstp-proxy http://192.0.2.2:3128 sstp-proxy-auth-file "$SC_WORK/wrong.cred"
ended wrong 30
client open sstp-proxy http://192.0.2.2:3128 sstp-proxy-auth-file "$SC_WORK/open.cred"
ended open 30
sc_fact left "$(sc_client_pppds | wc -l)"

for s in $(cat "$SC_WORK/servers"); do kill -TERM "$s" 2>/dev/null; done
sleep 1
for n in basic digest; do
    cp "$sq/$n/access.log" "$SC_OUT/squid-$n-access.log" 2>/dev/null
    cp "$sq/$n/cache.log" "$SC_OUT/squid-$n-cache.log" 2>/dev/null
done
for p in $(pgrep -x squid); do kill -KILL "$p" 2>/dev/null; done
for p in $(pgrep -x pppd); do kill -TERM "$p" 2>/dev/null; done
sleep 0.5
sc_leftovers
exit 0
"#,
        so = testbed::shell_quote(&so.to_string_lossy()),
        server = testbed::shell_quote(&server.to_string_lossy()),
        basic = testbed::shell_quote(BASIC_PASSWORD),
        digest = testbed::shell_quote(DIGEST_PASSWORD),
        wrong = testbed::shell_quote(WRONG_PASSWORD),
        url = testbed::shell_quote(URL_PASSWORD),
    )
}

#[test]
fn plugin_through_squid_with_basic_and_digest() {
    if skip() {
        return;
    }
    let (so, server) = build();
    let t0 = Instant::now();
    let Some(run) = scenario::run_script(&script(&so, &server), Duration::from_secs(300)) else {
        return;
    };
    let wall = t0.elapsed();
    let facts = parse_facts(&run.output);
    let fact = |k: &str| facts.get(k).cloned().unwrap_or_default();
    let get = |n: &str| run.read(n).unwrap_or_default();
    let log = |tag: &str| {
        format!(
            "{}\n{}",
            get(&format!("p-{tag}.log")),
            get(&format!("p-{tag}.out"))
        )
    };
    let mut diag = format!("{}\n--- facts ---\n{facts:?}\n", run.diagnostics());
    for n in [
        "p-basic.log",
        "p-digest.log",
        "p-wrong.log",
        "p-open.out",
        "server.log",
        "squid-basic-access.log",
        "squid-digest-access.log",
        "squid-basic-cache.log",
    ] {
        diag.push_str(&format!("--- {n} ---\n{}\n", get(n)));
    }
    assert!(run.success(), "{diag}");
    assert_eq!(fact("servers_started"), "1", "{diag}");

    // Basic and Digest: the tunnel comes up through Squid, 5 of 5 pings, clean SIGTERM exit (5).
    for (tag, port, user) in [("basic", 3128, "alice"), ("digest", 3129, "bob")] {
        let l = log(tag);
        assert_eq!(fact(&format!("up_{tag}")), "1", "{tag}\n{diag}");
        assert_eq!(fact(&format!("pings_{tag}")), "5", "{tag}\n{diag}");
        assert_eq!(fact(&format!("ended_{tag}")), "1", "{tag}\n{diag}");
        assert_eq!(fact(&format!("exit_{tag}")), "5", "{tag}\n{diag}");
        assert!(
            l.contains(&format!(
                "sstp-rs: connecting to sstp-server.test:443 via proxy 192.0.2.2:{port}"
            )),
            "{tag}\n{l}"
        );
        assert!(l.contains("sstp-rs: SSTP call connected"), "{tag}\n{l}");
        // pppd's dump shows the file's path, and the proxy URL masked.
        assert!(
            l.contains("sstp-proxy-auth-file /tmp/sstp-scenario/"),
            "{tag}\n{l}"
        );
        assert!(l.contains("sstp-proxy ??????"), "{tag}\n{l}");
        // Squid logged the CONNECT for the authenticated user.
        let access = get(&format!("squid-{tag}-access.log"));
        assert!(
            access
                .lines()
                .any(|a| a.contains("CONNECT sstp-server.test:443") && a.contains(user)),
            "{tag}: {access}\n{diag}"
        );
        // "sstp-rs: SSTP call acknowledged by ADDR in N ms": TCP + CONNECT + TLS + HTTP + SSTP.
        let ack_ms = l
            .lines()
            .find_map(|x| x.strip_prefix("sstp-rs: SSTP call acknowledged by "))
            .and_then(|x| x.split(" in ").nth(1))
            .and_then(|x| x.split(' ').next())
            .unwrap_or("?")
            .to_string();
        eprintln!(
            "proxy {tag}: SSTP call acknowledged {ack_ms} ms after the start of connect, ppp up \
             in {} s, rtt min/avg/max/mdev {} ms",
            fact(&format!("connect_secs_{tag}")),
            fact(&format!("rtt_{tag}"))
        );
    }
    // The server verified the crypto binding of both sessions (through the proxy).
    assert!(
        get("server.log").matches("certificate hash ok").count() >= 2,
        "{diag}"
    );

    // Wrong proxy password: Squid's second 407 -> "proxy rejected the credentials", exit 8.
    let wrong = log("wrong");
    assert_eq!(fact("ended_wrong"), "1", "{diag}");
    assert_eq!(fact("exit_wrong"), "8", "{wrong}");
    assert!(
        wrong.contains(
            "sstp-rs: the HTTP proxy 192.0.2.2:3128 demands authentication (407); offered: \
             Basic realm=\"sstp-basic\": proxy rejected the Basic credentials; check the proxy \
             user name and password"
        ),
        "{wrong}"
    );

    // A credentials file other users can read: refused before anything starts, exit 2.
    let open = log("open");
    assert_eq!(fact("ended_open"), "1", "{diag}");
    assert_eq!(fact("exit_open"), "2", "{open}");
    assert!(
        open.contains(
            "sstp-proxy-auth-file: /tmp/sstp-scenario/open.cred: refused: the file holds a \
             password and must not be accessible by other users (mode 0644); run: chmod 600 \
             /tmp/sstp-scenario/open.cred"
        ),
        "{open}"
    );

    // No proxy password, wherever it came from, in any client log or output.
    for tag in ["basic", "digest", "wrong", "open"] {
        let l = log(tag);
        for secret in [
            BASIC_PASSWORD,
            DIGEST_PASSWORD,
            WRONG_PASSWORD,
            URL_PASSWORD,
        ] {
            assert!(!l.contains(secret), "{tag} shows a password:\n{l}");
        }
    }
    assert_eq!(fact("left"), "0", "{diag}");
    assert_eq!(fact("leftovers"), "", "{diag}");
    eprintln!(
        "proxy suite: guest command {:?}, UML wall {:.1} s, test wall {:.1} s",
        run.command_time,
        run.wall_time.as_secs_f64(),
        wall.as_secs_f64()
    );
}
