//! The host route to the VPN server (Windows events 14 and 15), in the UML test bed: pppd 2.4.9
//! and sstp-rs.so with `defaultroute replacedefaultroute` on a client that already has a default
//! route, against the project's test server (real server pppd behind it) whose address lies
//! beyond a gateway. Traffic to a third address in the server's namespace goes through ppp0
//! (interface counters on both ends of the tunnel), the TLS connection keeps its original way
//! (the pinned host route), and after disconnect both routing tables are exactly as before.
//! Also: `persist` re-dials pin and remove their own route each cycle; policy routing by port
//! (the route goes into the rule's table) and an `onlink` default gateway work; a default route
//! whose next hop cannot be pinned (IPv4 via an IPv6 gateway) fails the connect with the
//! event-15 message and exit status 8 instead of looping the TLS connection into its tunnel;
//! pppd 2.5.2; through Squid the route goes to the proxy; and `sstp connect --default-route
//! --peer-dns` sets the server's DNS in resolv.conf and restores it and the routes after SIGTERM.
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::plugin::{self, Pppd};
use integration_tests::scenario::{self, fact, num, parse_facts};
use integration_tests::testbed;

fn skip() -> bool {
    testbed::skip_testbed(&[])
}

fn build() -> (PathBuf, PathBuf) {
    let so = plugin::build_plugin(Pppd::V249, true, "sstp-rs-route.so").expect("build the plugin");
    let server = plugin::build_test_server().expect("build sstp-test-server");
    (so, server)
}

fn script(so: &Path, so25: &Path, server: &Path) -> String {
    format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
SO25={so25}
PPPD25={pppd25}
SERVER={server}
sc_net_up || exit 1
sc_pki || exit 1
sc_test_server_setup
sc_route_bed
sc_test_server 443 server.log server
sc_test_server 4410 server-reset.log server --fault reset-mid-session=4
SC_PORT=443 sc_wait 20 sc_server_listening || {{ echo "server not listening"; exit 1; }}
SC_PORT=4410 sc_wait 20 sc_server_listening || {{ echo "server 4410 not listening"; exit 1; }}
sc_fact server_started 1
route_args() {{ # tag port
    echo plugin "$SO" sstp-server "$SC_FAR_V4:$2" sstp-sni "$SC_SERVER_NAME" \
        sstp-ca-file "$SC_OUT/ca.pem" sstp-log-level 3 user "$SC_USER" password "$SC_PASSWORD" \
        noauth noccp nobsdcomp nodeflate refuse-eap noipdefault ${{ROUTE_OPTS:-defaultroute replacedefaultroute}} \
        lcp-echo-interval 0 debug nodetach logfile "$SC_OUT/route-$1.log"
}}
sc_route_snapshot >"$SC_OUT/routes-before.txt"
sc_fact third_dev_before "$(sc_route_dev $SC_THIRD_V4)"

echo "== main: default route into the tunnel, pings to $SC_THIRD_V4"
/usr/sbin/pppd $(route_args main 443) >"$SC_OUT/route-main.out" 2>&1 &
PID=$!
if sc_wait 30 sc_ppp_up; then sc_fact main_up 1; else sc_fact main_up 0; fi
PPP=$(sc_ppp_if); SPPP=$(sc_srv_ppp_if)
sc_fact pinned "$(ip route show proto 83 | head -n 1)"
sc_fact server_dev "$(sc_route_dev $SC_FAR_V4)"
sc_fact third_dev "$(sc_route_dev $SC_THIRD_V4)"
tx0=$(sc_if_stat - "$PPP" tx_packets); srx0=$(sc_if_stat srv "$SPPP" rx_packets)
vtx0=$(sc_if_stat - veth-c tx_bytes); ptx0=$(sc_if_stat - "$PPP" tx_bytes)
ping -n -c 20 -i 0.2 -W 3 -s 500 "$SC_THIRD_V4" >"$SC_OUT/ping-third.txt" 2>&1
sc_fact third_received "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/ping-third.txt")"
sc_fact ppp_tx "$(( $(sc_if_stat - "$PPP" tx_packets) - tx0 ))"
sc_fact srv_ppp_rx "$(( $(sc_if_stat srv "$SPPP" rx_packets) - srx0 ))"
sc_fact ppp_tx_bytes "$(( $(sc_if_stat - "$PPP" tx_bytes) - ptx0 ))"
sc_fact veth_tx_bytes "$(( $(sc_if_stat - veth-c tx_bytes) - vtx0 ))"
sc_fact tls_on_veth "$(ss -Htn state established dst "$SC_FAR_V4" | wc -l)"
kill -TERM $PID
if sc_wait 20 sc_not_running $PID; then :; else kill -KILL $PID; fi
wait $PID; sc_fact main_exit $?
sc_route_snapshot >"$SC_OUT/routes-after-main.txt"
cmp -s "$SC_OUT/routes-before.txt" "$SC_OUT/routes-after-main.txt" && sc_fact main_restored 1 || sc_fact main_restored 0
sc_wait 10 sc_server_pppd_gone

echo "== persist: the server resets every call after 4 s"
printf '#!/bin/sh\necho "$0 $1 $(/bin/ip route show proto 83 | wc -l)" >>%s/pinned-per-cycle.txt\n' "$SC_OUT" >/etc/ppp/ip-up
chmod 755 /etc/ppp/ip-up
/usr/sbin/pppd $(route_args persist 4410) persist holdoff 1 maxfail 0 >"$SC_OUT/route-persist.out" 2>&1 &
PID=$!
cycles() {{ grep -c 'route to the VPN server pinned' "$SC_OUT/route-persist.log" 2>/dev/null; }}
three() {{ [ "$(cycles)" -ge 3 ] && sc_ppp_up; }}
sc_wait 60 three
kill -TERM $PID
if sc_wait 20 sc_not_running $PID; then :; else kill -KILL $PID; fi
wait $PID; sc_fact persist_exit $?
rm -f /etc/ppp/ip-up
sc_fact persist_pinned "$(grep -c 'route to the VPN server pinned' "$SC_OUT/route-persist.log")"
sc_fact persist_removed "$(grep -c "sstp-rs: route $SC_FAR_V4/32 via $SC_SERVER_V4 dev veth-c removed" "$SC_OUT/route-persist.log")"
sc_fact persist_leftover "$(ip route show proto 83 | wc -l)"
sc_route_snapshot >"$SC_OUT/routes-after-persist.txt"
cmp -s "$SC_OUT/routes-before.txt" "$SC_OUT/routes-after-persist.txt" && sc_fact persist_restored 1 || sc_fact persist_restored 0
sc_wait 10 sc_server_pppd_gone

# session <tag>: pppd with the default route into the tunnel; facts <tag>_up, <tag>_pinned (our
# routes while up), <tag>_exit, <tag>_seconds, <tag>_restored (tables as before the session).
session() {{
    sc_route_snapshot >"$SC_OUT/routes-before-$1.txt"
    t0=$(sc_now)
    "${{PPPD:-/usr/sbin/pppd}}" $(route_args "$1" 443) >"$SC_OUT/route-$1.out" 2>&1 &
    PID=$!
    if sc_wait 30 sc_ppp_up_or_gone; then :; fi
    sc_ppp_up && sc_fact "$1_up" 1 || sc_fact "$1_up" 0
    sc_fact "$1_pinned" "$(ip route show table all proto 83 | head -n 1)"
    sc_fact "$1_pinned_table100" "$(ip route show table 100 proto 83 | wc -l)"
    sc_fact "$1_third_dev" "$(sc_route_dev $SC_THIRD_V4)"
    kill -TERM $PID 2>/dev/null
    if sc_wait 20 sc_not_running $PID; then :; else kill -KILL $PID; fi
    wait $PID; sc_fact "$1_exit" $?
    sc_fact "$1_seconds" "$(sc_elapsed "$t0" "$(sc_now)")"
    sc_route_snapshot >"$SC_OUT/routes-after-$1.txt"
    cmp -s "$SC_OUT/routes-before-$1.txt" "$SC_OUT/routes-after-$1.txt" && sc_fact "$1_restored" 1 ||
        sc_fact "$1_restored" 0
    sc_wait 10 sc_server_pppd_gone
}}
sc_ppp_up_or_gone() {{ sc_ppp_up || sc_not_running $PID; }}

echo "== policy: only a rule (TCP to port 443 -> table 100) routes the server"
ip route del default via "$SC_SERVER_V4" dev veth-c
ip route add default via "$SC_SERVER_V4" dev veth-c table 100
ip rule add ipproto tcp dport 443 lookup 100 pref 100
session policy
ip rule del pref 100
ip route del default table 100

echo "== via: the default route's next hop is IPv6 (RFC 5549): the route cannot be pinned"
ip -4 route add default via inet6 "$SC_SERVER_V6" dev veth-c
sc_fact via_default "$(ip -4 route show default)"
session via
ip -4 route del default

echo "== onlink: a /32 client address and an onlink default gateway (pppd's defaultroute only:
# its replacedefaultroute restores an onlink default without onlink, which the kernel refuses)"
ip addr del "$SC_CLIENT_V4/24" dev veth-c
ip addr add "$SC_CLIENT_V4/32" dev veth-c
ip route add default via "$SC_SERVER_V4" dev veth-c onlink
ROUTE_OPTS=defaultroute
session onlink
unset ROUTE_OPTS
ip route del default
ip addr del "$SC_CLIENT_V4/32" dev veth-c
ip addr add "$SC_CLIENT_V4/24" dev veth-c
ip route add default via "$SC_SERVER_V4" dev veth-c

echo "== v25: pppd 2.5.2 (replacedefaultroute upstream)"
SO=$SO25
PPPD=$PPPD25
session v25

for p in $(pgrep -f sstp-test-server); do kill -TERM "$p" 2>/dev/null; done
sc_wait 10 sc_server_pppd_gone
wait
sc_leftovers
exit 0
"#,
        so = testbed::shell_quote(&so.to_string_lossy()),
        so25 = testbed::shell_quote(&so25.to_string_lossy()),
        pppd25 = testbed::shell_quote(&Pppd::V252.binary().to_string_lossy()),
        server = testbed::shell_quote(&server.to_string_lossy()),
    )
}

#[test]
fn default_route_through_the_tunnel_keeps_the_server_route() {
    if skip() {
        return;
    }
    let (so, server) = build();
    let so25 =
        plugin::build_plugin(Pppd::V252, true, "sstp-rs-route.so").expect("build the 2.5.2 plugin");
    let Some(run) = scenario::run_script(&script(&so, &so25, &server), Duration::from_secs(360))
    else {
        return;
    };
    let facts = parse_facts(&run.output);
    let get = |n: &str| run.read(n).unwrap_or_default();
    let mut diag = format!("{}\n--- facts ---\n{facts:?}\n", run.diagnostics());
    for f in [
        "route-main.log",
        "route-persist.log",
        "route-policy.log",
        "route-via.log",
        "route-onlink.log",
        "route-v25.log",
        "route-v25.out",
        "routes-before-onlink.txt",
        "routes-after-onlink.txt",
        "routes-before.txt",
        "routes-after-main.txt",
        "routes-after-persist.txt",
        "pinned-per-cycle.txt",
    ] {
        diag.push_str(&format!("--- {f} ---\n{}\n", get(f)));
    }
    assert!(run.success(), "{diag}");
    assert_eq!(fact(&facts, "server_started"), "1", "{diag}");
    for (k, v) in &facts {
        println!("{k} = {v}");
    }

    // Before: the third address and the server go out through the default route (veth-c).
    assert_eq!(fact(&facts, "third_dev_before"), "veth-c", "{diag}");
    // The session: the host route is ours (proto 83), the server stays on veth-c, the rest of
    // the world goes into the tunnel.
    assert_eq!(fact(&facts, "main_up"), "1", "{diag}");
    assert_eq!(
        fact(&facts, "pinned"),
        "203.0.113.1 via 192.0.2.2 dev veth-c",
        "{diag}"
    );
    assert_eq!(fact(&facts, "server_dev"), "veth-c", "{diag}");
    assert!(fact(&facts, "third_dev").starts_with("ppp"), "{diag}");
    // 20 pings of 500 bytes to the third address: all answered, each one left through ppp0 and
    // arrived on the server pppd's interface; their TLS records left through veth-c (whose
    // byte count covers the tunnel's), over the one established TCP connection.
    assert_eq!(fact(&facts, "third_received"), "20", "{diag}");
    assert!(num(&facts, "ppp_tx") >= 20.0, "{diag}");
    assert!(num(&facts, "srv_ppp_rx") >= 20.0, "{diag}");
    assert!(num(&facts, "ppp_tx_bytes") >= 20.0 * 528.0, "{diag}");
    assert!(
        num(&facts, "veth_tx_bytes") > num(&facts, "ppp_tx_bytes"),
        "{diag}"
    );
    assert_eq!(fact(&facts, "tls_on_veth"), "1", "{diag}");
    assert_eq!(fact(&facts, "main_exit"), "5", "{diag}");
    let main = get("route-main.log");
    assert!(
        main.contains(
            "sstp-rs: route to the VPN server pinned: 203.0.113.1/32 via 192.0.2.2 dev veth-c"
        ),
        "{main}"
    );
    assert!(
        main.contains("sstp-rs: route 203.0.113.1/32 via 192.0.2.2 dev veth-c removed"),
        "{main}"
    );
    assert_eq!(fact(&facts, "main_restored"), "1", "{diag}");

    // persist: every cycle pinned exactly one route of ours and removed it; nothing left.
    let pinned = num(&facts, "persist_pinned");
    assert!(pinned >= 3.0, "{diag}");
    assert_eq!(num(&facts, "persist_removed"), pinned, "{diag}");
    // Each cycle removed its route before the next one pinned its own.
    let persist = get("route-persist.log");
    let events: Vec<&str> = persist
        .lines()
        .filter_map(|l| {
            if l.contains("sstp-rs: route to the VPN server pinned: 203.0.113.1/32") {
                Some("pin")
            } else if l.contains("sstp-rs: route 203.0.113.1/32 via 192.0.2.2 dev veth-c removed") {
                Some("remove")
            } else {
                None
            }
        })
        .collect();
    assert!(
        events.chunks(2).all(|c| c == ["pin", "remove"]),
        "{events:?}\n{diag}"
    );
    // ip-up saw our route (the server's pppd runs the same /etc/ppp/ip-up in netns srv, where
    // it counts 0; a client ip-up that a busy guest delays past the server's reset may too).
    let per_cycle = get("pinned-per-cycle.txt");
    assert!(
        per_cycle.lines().any(|l| l == "/etc/ppp/ip-up ppp0 1"),
        "{diag}"
    );
    assert_eq!(fact(&facts, "persist_leftover"), "0", "{diag}");
    assert_eq!(fact(&facts, "persist_restored"), "1", "{diag}");

    // Policy routing: the lookup follows the connection (TCP, ports), the route goes into the
    // rule's table.
    assert_eq!(fact(&facts, "policy_up"), "1", "{diag}");
    assert!(
        fact(&facts, "policy_pinned").starts_with("203.0.113.1 via 192.0.2.2 dev veth-c table 100"),
        "{diag}"
    );
    assert_eq!(fact(&facts, "policy_pinned_table100"), "1", "{diag}");
    assert_eq!(fact(&facts, "policy_third_dev"), "ppp0", "{diag}");
    assert_eq!(fact(&facts, "policy_restored"), "1", "{diag}");
    // An onlink gateway (hosting providers' `default via GW dev eth0 onlink`).
    assert_eq!(fact(&facts, "onlink_up"), "1", "{diag}");
    assert_eq!(
        fact(&facts, "onlink_pinned"),
        "203.0.113.1 via 192.0.2.2 dev veth-c onlink",
        "{diag}"
    );
    assert_eq!(fact(&facts, "onlink_restored"), "1", "{diag}");
    // pppd 2.5.2: the same pinned route, the default route into the tunnel, tables restored.
    assert_eq!(fact(&facts, "v25_up"), "1", "{diag}");
    assert_eq!(
        fact(&facts, "v25_pinned"),
        "203.0.113.1 via 192.0.2.2 dev veth-c",
        "{diag}"
    );
    assert!(fact(&facts, "v25_third_dev").starts_with("ppp"), "{diag}");
    assert_eq!(fact(&facts, "v25_exit"), "5", "{diag}");
    assert_eq!(fact(&facts, "v25_restored"), "1", "{diag}");
    // The kernel's route is unusable for a host route (an IPv6 next hop for IPv4): the event-15
    // message, exit 8 (connect failed) within seconds, no interface, tables untouched.
    let via = get("route-via.log");
    assert!(
        via.contains(
            "sstp-rs: the route to the VPN server 203.0.113.1 could not be set: the kernel's \
             route for it is unknown or unusable"
        ),
        "{diag}"
    );
    assert!(via.contains("RTA_VIA"), "{diag}");
    assert!(via.contains("check `ip route get 203.0.113.1`"), "{diag}");
    assert_eq!(fact(&facts, "via_up"), "0", "{diag}");
    assert_eq!(fact(&facts, "via_exit"), "8", "{diag}");
    assert!(num(&facts, "via_seconds") < 15.0, "{diag}");
    assert_eq!(fact(&facts, "via_pinned"), "", "{diag}");
    assert_eq!(fact(&facts, "via_restored"), "1", "{diag}");
    assert_eq!(fact(&facts, "leftovers"), "", "{diag}");
}

/// Builds `sstp` (release, in pppd 2.4.9's target directory, like the plugin).
fn build_cli() -> PathBuf {
    let dir = Pppd::V249.dir().join("cargo");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = std::process::Command::new(cargo)
        .current_dir(testbed::workspace_root())
        .args(["build", "--release", "-p", "sstp-cli", "--bin", "sstp"])
        .env("CARGO_TARGET_DIR", &dir)
        .env("PPPD_INCLUDE_DIR", "/usr/include")
        .env_remove("PPPD_VERSION")
        .status()
        .expect("cargo build");
    assert!(st.success(), "building sstp failed");
    dir.join("release/sstp")
}

fn connect_script(so: &Path, server: &Path, sstp: &Path) -> String {
    format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
SERVER={server}
SSTP={sstp}
sc_net_up || exit 1
sc_pki || exit 1
sc_test_server_setup
echo "ms-dns 192.0.2.53" >>/etc/ppp/options.mschap
sc_route_bed
sc_test_server 443 server.log server
SC_PORT=443 sc_wait 20 sc_server_listening || {{ echo "server not listening"; exit 1; }}
sc_fact server_started 1
# The guest's / is the host's, read-only: a resolv.conf of its own over the host's.
printf 'nameserver 10.0.0.1\nsearch example.lan\noptions edns0\n' >"$SC_WORK/resolv.conf"
mount --bind "$SC_WORK/resolv.conf" /etc/resolv.conf
cp /etc/resolv.conf "$SC_OUT/resolv-before.txt"
sc_route_snapshot >"$SC_OUT/routes-before.txt"
printf '%s\n' "$SC_PASSWORD" >"$SC_WORK/pw"; chmod 600 "$SC_WORK/pw"
"$SSTP" connect "$SC_FAR_V4:443" --sni "$SC_SERVER_NAME" --ca-file "$SC_OUT/ca.pem" -u "$SC_USER" \
    --password-file "$SC_WORK/pw" --plugin "$SO" --pppd /usr/sbin/pppd --default-route --peer-dns \
    -- noccp lcp-echo-interval 0 >"$SC_OUT/connect.out" 2>&1 &
PID=$!
sc_ppp_up_or_gone() {{ sc_ppp_up || sc_not_running $PID; }}
sc_wait 30 sc_ppp_up_or_gone
sc_ppp_up && sc_fact up 1 || sc_fact up 0
# the DNS lines follow the IPCP up
sc_wait 5 grep -q '^nameserver 192.0.2.53' /etc/resolv.conf
cp /etc/resolv.conf "$SC_OUT/resolv-during.txt"
sc_fact pinned "$(ip route show table all proto 83 | head -n 1)"
sc_fact server_dev "$(sc_route_dev $SC_FAR_V4)"
sc_fact third_dev "$(sc_route_dev $SC_THIRD_V4)"
PPP=$(sc_ppp_if)
tx0=$(sc_if_stat - "$PPP" tx_packets)
ping -n -c 10 -i 0.2 -W 3 "$SC_THIRD_V4" >"$SC_OUT/ping-third.txt" 2>&1
sc_fact third_received "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/ping-third.txt")"
sc_fact ppp_tx "$(( $(sc_if_stat - "$PPP" tx_packets) - tx0 ))"
echo "== SIGTERM to sstp (as systemd or Ctrl-C would)"
kill -TERM $PID
if sc_wait 30 sc_not_running $PID; then :; else kill -KILL $PID; fi
wait $PID; sc_fact exit $?
cmp -s "$SC_OUT/resolv-before.txt" /etc/resolv.conf && sc_fact resolv_restored 1 || sc_fact resolv_restored 0
cp /etc/resolv.conf "$SC_OUT/resolv-after.txt"
sc_route_snapshot >"$SC_OUT/routes-after.txt"
cmp -s "$SC_OUT/routes-before.txt" "$SC_OUT/routes-after.txt" && sc_fact routes_restored 1 || sc_fact routes_restored 0
umount /etc/resolv.conf
for p in $(pgrep -f sstp-test-server); do kill -TERM "$p" 2>/dev/null; done
sc_wait 10 sc_server_pppd_gone
wait
sc_leftovers
exit 0
"#,
        so = testbed::shell_quote(&so.to_string_lossy()),
        server = testbed::shell_quote(&server.to_string_lossy()),
        sstp = testbed::shell_quote(&sstp.to_string_lossy()),
    )
}

/// `sstp connect --default-route --peer-dns`: all traffic through the tunnel, the server's DNS
/// in resolv.conf while up, and after a SIGTERM both resolv.conf and the routes as before.
#[test]
fn sstp_connect_default_route_and_peer_dns() {
    if skip() {
        return;
    }
    let (so, server) = build();
    let sstp = build_cli();
    let Some(run) = scenario::run_script(
        &connect_script(&so, &server, &sstp),
        Duration::from_secs(180),
    ) else {
        return;
    };
    let facts = parse_facts(&run.output);
    let get = |n: &str| run.read(n).unwrap_or_default();
    let mut diag = format!("{}\n--- facts ---\n{facts:?}\n", run.diagnostics());
    for f in [
        "connect.out",
        "resolv-during.txt",
        "resolv-after.txt",
        "routes-before.txt",
        "routes-after.txt",
    ] {
        diag.push_str(&format!("--- {f} ---\n{}\n", get(f)));
    }
    assert!(run.success(), "{diag}");
    assert_eq!(fact(&facts, "server_started"), "1", "{diag}");
    for (k, v) in &facts {
        println!("{k} = {v}");
    }
    assert_eq!(fact(&facts, "up"), "1", "{diag}");
    let out = get("connect.out");
    assert!(out.contains(" defaultroute replacedefaultroute "), "{diag}");
    assert!(out.contains(" usepeerdns"), "{diag}");
    assert_eq!(
        fact(&facts, "pinned"),
        "203.0.113.1 via 192.0.2.2 dev veth-c",
        "{diag}"
    );
    assert_eq!(fact(&facts, "server_dev"), "veth-c", "{diag}");
    assert!(fact(&facts, "third_dev").starts_with("ppp"), "{diag}");
    assert_eq!(fact(&facts, "third_received"), "10", "{diag}");
    assert!(num(&facts, "ppp_tx") >= 10.0, "{diag}");
    // The server's DNS server first, the rest of the file kept, under the marker.
    let during = get("resolv-during.txt");
    assert!(
        during.starts_with(
            "# sstp connect --peer-dns: DNS servers of the SSTP server (restored on exit)\n\
             nameserver 192.0.2.53\nsearch example.lan\noptions edns0\n"
        ),
        "{diag}"
    );
    assert!(!during.contains("10.0.0.1"), "{diag}");
    assert!(out.contains("sstp: DNS settings restored"), "{diag}");
    // SIGTERM is a disconnect the user asked for: exit 0, everything restored.
    assert_eq!(fact(&facts, "exit"), "0", "{diag}");
    assert_eq!(fact(&facts, "resolv_restored"), "1", "{diag}");
    assert_eq!(fact(&facts, "routes_restored"), "1", "{diag}");
    assert_eq!(fact(&facts, "leftovers"), "", "{diag}");
}

fn proxy_script(so: &Path, server: &Path) -> String {
    format!(
        r#"
. /run/bed/sstp-scenario.sh
SO={so}
SERVER={server}
sc_net_up || exit 1
sc_pki || exit 1
sc_test_server_setup
sc_route_bed
sc_test_server 443 server.log server
mkdir -p "$SC_WORK/squid"
printf 'alice:%s\n' "$(openssl passwd -apr1 Basic-Pa55)" >"$SC_WORK/squid/passwd"
sc_squid_start basic 3128 "auth_param basic program /usr/lib/squid/basic_ncsa_auth $SC_WORK/squid/passwd
auth_param basic realm sstp-basic
auth_param basic children 2 startup=1"
for p in 443 3128; do
    SC_PORT=$p sc_wait 30 sc_server_listening || {{ echo "server on $p not listening"; exit 1; }}
done
sc_fact server_started 1
umask 077; printf 'alice\nBasic-Pa55\n' >"$SC_WORK/basic.cred"; umask 022
sc_route_snapshot >"$SC_OUT/routes-before.txt"
/usr/sbin/pppd plugin "$SO" sstp-server "$SC_FAR_V4:443" sstp-sni "$SC_SERVER_NAME" \
    sstp-ca-file "$SC_OUT/ca.pem" sstp-proxy "http://$SC_SERVER_V4:3128" \
    sstp-proxy-auth-file "$SC_WORK/basic.cred" sstp-log-level 3 user "$SC_USER" \
    password "$SC_PASSWORD" noauth noccp nobsdcomp nodeflate refuse-eap noipdefault defaultroute \
    replacedefaultroute lcp-echo-interval 0 debug nodetach logfile "$SC_OUT/route-proxy.log" \
    >"$SC_OUT/route-proxy.out" 2>&1 &
PID=$!
sc_ppp_up_or_gone() {{ sc_ppp_up || sc_not_running $PID; }}
sc_wait 30 sc_ppp_up_or_gone
sc_ppp_up && sc_fact up 1 || sc_fact up 0
sc_fact pinned "$(ip route show table all proto 83 | head -n 1)"
sc_fact pinned_count "$(ip route show table all proto 83 | wc -l)"
sc_fact third_dev "$(sc_route_dev $SC_THIRD_V4)"
ping -n -c 5 -i 0.2 -W 3 "$SC_THIRD_V4" >"$SC_OUT/ping-third.txt" 2>&1
sc_fact third_received "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/ping-third.txt")"
kill -TERM $PID
if sc_wait 20 sc_not_running $PID; then :; else kill -KILL $PID; fi
wait $PID; sc_fact exit $?
sc_route_snapshot >"$SC_OUT/routes-after.txt"
cmp -s "$SC_OUT/routes-before.txt" "$SC_OUT/routes-after.txt" && sc_fact restored 1 || sc_fact restored 0
for p in $(cat "$SC_WORK/servers"); do kill -TERM "$p" 2>/dev/null; done
sc_wait 10 sc_server_pppd_gone
wait
exit 0
"#,
        so = testbed::shell_quote(&so.to_string_lossy()),
        server = testbed::shell_quote(&server.to_string_lossy()),
    )
}

/// Through an HTTP proxy (Squid, Basic auth) the host route goes to the proxy, the TCP peer:
/// the server behind it gets none.
#[test]
fn through_a_proxy_the_route_goes_to_the_proxy() {
    if testbed::skip_testbed(&["/usr/sbin/squid", "/usr/lib/squid/basic_ncsa_auth"]) {
        return;
    }
    let (so, server) = build();
    let Some(run) = scenario::run_script(&proxy_script(&so, &server), Duration::from_secs(180))
    else {
        return;
    };
    let facts = parse_facts(&run.output);
    let get = |n: &str| run.read(n).unwrap_or_default();
    let diag = format!(
        "{}\n--- facts ---\n{facts:?}\n--- route-proxy.log ---\n{}\n--- route-proxy.out ---\n{}\n",
        run.diagnostics(),
        get("route-proxy.log"),
        get("route-proxy.out")
    );
    assert!(run.success(), "{diag}");
    assert_eq!(fact(&facts, "server_started"), "1", "{diag}");
    for (k, v) in &facts {
        println!("{k} = {v}");
    }
    assert_eq!(fact(&facts, "up"), "1", "{diag}");
    // 192.0.2.2 is on the client's own network: an on-link host route.
    assert_eq!(
        fact(&facts, "pinned"),
        "192.0.2.2 dev veth-c scope link",
        "{diag}"
    );
    assert_eq!(fact(&facts, "pinned_count"), "1", "{diag}");
    let log = get("route-proxy.log");
    assert!(
        log.contains("sstp-rs: route to the proxy pinned: 192.0.2.2/32 dev veth-c (proto 83)"),
        "{diag}"
    );
    assert!(
        log.contains("sstp-rs: route 192.0.2.2/32 dev veth-c removed"),
        "{diag}"
    );
    assert!(fact(&facts, "third_dev").starts_with("ppp"), "{diag}");
    assert_eq!(fact(&facts, "third_received"), "5", "{diag}");
    assert_eq!(fact(&facts, "exit"), "5", "{diag}");
    assert_eq!(fact(&facts, "restored"), "1", "{diag}");
}
