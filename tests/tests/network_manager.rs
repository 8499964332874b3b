//! sstp-rs under a real NetworkManager (Debian's `network-manager`, with its own system D-Bus
//! and udevd) in the UML test bed, against sstpd (which verifies the crypto binding). The
//! `.name` file and the D-Bus policy are rendered by `sstp_nm::install` for NetworkManager's and
//! D-Bus's own directories, the pppd plugin goes where pppd's plugins live, and NetworkManager
//! starts `nm-sstp-service` itself. Proven here:
//! - `nmcli connection add type vpn vpn-type sstp` + `nmcli connection up` with the password as a
//!   secret: address and DNS in `nmcli`, the default route through the tunnel, the VPN gateway
//!   (the server's address) handed to NetworkManager, sstp-rs's status interface readable with
//!   `busctl` while connected, pings through ppp0 (counters on both ends),
//!   `nmcli connection down` ends pppd and the server's session; two connections up at once;
//! - `nmcli --ask`: the auth dialog (external UI mode) asks for the password at nmcli's prompt; a
//!   wrong one is asked again with sstp-rs's sentence, and the right one connects;
//! - keyfiles as network-manager-sstp's GNOME editor and KDE's older editor write them connect;
//!   `ignore-cert-warn=yes` without a CA connects, with the certificate and the pin to set in
//!   the log and in the banner NetworkManager shows;
//! - a wrong password is a login failure, an untrusted certificate a connect failure, each with
//!   sstp-rs's sentence in NetworkManager's log (and the pin as a `vpn.data` key);
//! - `nmcli connection import type sstp file X.pbk` makes a working profile; export then import
//!   gives the same settings.
//!
//! Set SSTP_RS_SKIP_TESTBED=1 to skip on a machine without the test bed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use integration_tests::plugin::{self, Pppd};
use integration_tests::scenario::{self, fact, num, parse_facts};
use integration_tests::testbed::{self, shell_quote};
use sstp_nm::install::{self, InstallPaths};

/// Where NetworkManager 1.42 (Debian 12) reads `.name` files and dbus-daemon its vendor policy:
/// the upstream defaults a package installs to.
fn install_paths(libexec: &Path) -> InstallPaths {
    InstallPaths {
        libexecdir: libexec.to_path_buf(),
        plugindir: "/run/stage/nm-lib".into(),
        ..InstallPaths::default()
    }
}

/// The guest's files: the rendered `.name` file and D-Bus policy.
fn install_files(paths: &InstallPaths) -> Vec<(String, Vec<u8>)> {
    install::files(paths)
        .expect("render the install files")
        .into_iter()
        .map(|(dest, text)| {
            let name = dest.file_name().unwrap().to_string_lossy().into_owned();
            (name, text.into_bytes())
        })
        .collect()
}

/// A profile as network-manager-sstp's GNOME editor saves it, and one from KDE's older editor
/// (pre-1.3 keys only, plain path, no connection-type), both with the password saved.
fn keyfiles() -> String {
    r#"
kf() { # name uuid [vpn] lines
    f=/etc/NetworkManager/system-connections/$1.nmconnection
    printf '[connection]\nid=%s\nuuid=%s\ntype=vpn\nautoconnect=false\n\n[vpn]\n%s\nservice-type=org.freedesktop.NetworkManager.sstp\n\n[vpn-secrets]\npassword=%s\n\n[ipv4]\nmethod=auto\n\n[ipv6]\naddr-gen-mode=default\nmethod=auto\n' \
        "$1" "$2" "$3" "$SC_PASSWORD" >"$f"
    chmod 600 "$f"
}
kf gnome 6a0f7a52-5b1e-4c38-9d8e-1f0a3e1c0001 "ca-cert=$SC_OUT/ca.pem
connection-type=password
gateway=$SC_SERVER_NAME
ignore-cert-warn=no
password-flags=0
refuse-chap=yes
refuse-eap=yes
refuse-mschap=yes
refuse-pap=yes
tls-ext=yes
user=$SC_USER"
kf kde 6a0f7a52-5b1e-4c38-9d8e-1f0a3e1c0002 "ca-cert=$SC_OUT/ca.pem
domain=
gateway=$SC_SERVER_NAME
lcp-echo-failure=5
lcp-echo-interval=30
password-flags=0
refuse-eap=yes
refuse-pap=yes
user=$SC_USER"
nmcli con load /etc/NetworkManager/system-connections/gnome.nmconnection \
    /etc/NetworkManager/system-connections/kde.nmconnection
"#
    .to_string()
}

fn script(so: &Path, nm: &plugin::NmParts, paths: &InstallPaths) -> String {
    format!(
        r#"
. /run/bed/sstp-scenario.sh
sc_net_up || exit 1
sc_pki || exit 1
sc_server_start || exit 1
sc_nm_install {editor} {so} {vpn_dir} {dbus_dir} || {{ echo "install failed"; exit 1; }}
sc_nm_start || exit 1
CA=$SC_OUT/ca.pem
DATA="gateway=$SC_SERVER_NAME, user=$SC_USER, ca-cert=$CA"
sc_ppp_count() {{ ip -o -4 addr show | grep -c ' ppp'; }}

echo "== one connection, the password as a secret"
sc_nm_vpn work "$DATA, password-flags=0" vpn.secrets "password=$SC_PASSWORD"
sc_nm_up work
sc_nm_show work
PPP=$(sc_ppp_if); SPPP=$(sc_srv_ppp_if)
tx0=$(sc_if_stat - "$PPP" tx_packets); srx0=$(sc_if_stat srv "$SPPP" rx_packets)
ping -n -c 5 -i 0.2 -W 3 "$SC_PPP_SERVER" >"$SC_OUT/ping-work.txt" 2>&1
sc_fact work_ping_rx "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SC_OUT/ping-work.txt")"
sc_fact work_ppp_tx "$(( $(sc_if_stat - "$PPP" tx_packets) - tx0 ))"
sc_fact work_srv_ppp_rx "$(( $(sc_if_stat srv "$SPPP" rx_packets) - srx0 ))"

# sstp-rs's status interface on the service NetworkManager started, read with busctl.
SVC=$(busctl --system list --no-legend | awk '$1 ~ /^org[.]freedesktop[.]NetworkManager[.]sstp/ {{ print $1; exit }}')
busctl --system call "$SVC" /org/freedesktop/NetworkManager/VPN/Plugin \
    org.freedesktop.NetworkManager.sstp.Status GetStatus >"$SC_OUT/status.txt" 2>&1
sc_fact work_status "$(cat "$SC_OUT/status.txt")"

echo "== a second connection at the same time"
sc_nm_vpn second "$DATA, password-flags=0" vpn.secrets "password=$SC_PASSWORD"
sc_nm_up second
sc_fact both_active "$(sc_nm_active | grep -cE '^(work|second):activated$')"
sc_fact both_ppp "$(sc_ppp_count)"
sc_fact both_pppd "$(sc_client_pppds | wc -w)"
sc_nm_down second
sc_nm_down work
sc_wait 15 sc_no_client_pppd
sc_fact down_pppd "$(sc_client_pppds | wc -w)"
sc_fact down_ppp "$(sc_ppp_count)"
sc_wait 15 sc_server_pppd_gone && sc_fact down_server_pppd_gone 1 || sc_fact down_server_pppd_gone 0

echo "== nmcli --ask: a wrong password, asked again, then the right one"
sc_nm_vpn ask "$DATA, password-flags=2"
printf 'wrong-password\n%s\n' "$SC_PASSWORD" | sc_nm_up ask --ask
sc_nm_show ask
sc_nm_down ask
sc_wait 15 sc_no_client_pppd

echo "== keyfiles from network-manager-sstp's GNOME editor and KDE's older editor"
{keyfiles}
for p in gnome kde; do
    sc_nm_up $p
    sc_nm_show $p
    sc_nm_down $p
    sc_wait 15 sc_no_client_pppd
done

echo "== a wrong password, no agent"
sc_nm_vpn wrong "$DATA, password-flags=0" vpn.secrets "password=wrong-password"
sc_nm_up wrong
echo "== an untrusted certificate"
sc_nm_vpn untrusted "gateway=$SC_SERVER_NAME, user=$SC_USER, password-flags=0" \
    vpn.secrets "password=$SC_PASSWORD"
sc_nm_up untrusted

echo "== ignore-cert-warn=yes without a CA: connects, never silently"
sc_nm_vpn legacy "gateway=$SC_SERVER_NAME, user=$SC_USER, ignore-cert-warn=yes, password-flags=0" \
    vpn.secrets "password=$SC_PASSWORD"
sc_nm_up legacy
sc_nm_show legacy
nmcli -t con show legacy >"$SC_OUT/legacy-show.txt" 2>&1
sc_fact legacy_banner "$(sed -n 's/^VPN.BANNER://p' "$SC_OUT/legacy-show.txt")"
sc_nm_down legacy
sc_wait 15 sc_no_client_pppd

echo "== import a Windows phonebook, connect, export, import again"
printf '[Corp]\r\nEncoding=1\r\nType=2\r\nVpnStrategy=5\r\nDEVICE=vpn\r\nPhoneNumber=%s\r\n' \
    "$SC_SERVER_NAME" >"$SC_WORK/rasphone.pbk"
nmcli connection import type sstp file "$SC_WORK/rasphone.pbk" >"$SC_OUT/import.txt" 2>&1
sc_fact import "$?"
nmcli con modify Corp +vpn.data "user=$SC_USER" +vpn.data "ca-cert=$CA" \
    +vpn.data password-flags=0 vpn.secrets "password=$SC_PASSWORD"
sc_nm_up Corp
sc_nm_show Corp
sc_nm_down Corp
sc_wait 15 sc_no_client_pppd
nmcli connection export Corp "$SC_WORK/corp.txt" >"$SC_OUT/export.txt" 2>&1
sc_fact export "$?"
cp "$SC_WORK/corp.txt" "$SC_OUT/corp-export.txt"
u1=$(nmcli -g connection.uuid con show Corp)
nmcli con modify "$u1" connection.id Corp-first
nmcli connection import type sstp file "$SC_WORK/corp.txt" >"$SC_OUT/reimport.txt" 2>&1
sc_fact reimport "$?"
sc_fact first_data "$(nmcli -g vpn.data con show Corp-first)"
sc_fact second_data "$(nmcli -g vpn.data con show Corp)"

sc_wait 15 sc_no_client_pppd
sc_fact end_pppd "$(sc_client_pppds | wc -w)"
sc_collect
sc_fact bindings_valid "$(grep -c 'Crypto Binding is valid' "$SC_OUT/sstpd.log")"
"#,
        editor = shell_quote(&nm.editor.to_string_lossy()),
        so = shell_quote(&so.to_string_lossy()),
        vpn_dir = shell_quote(&paths.nm_vpn_dir.to_string_lossy()),
        dbus_dir = shell_quote(&paths.dbus_system_d.to_string_lossy()),
        keyfiles = keyfiles(),
    )
}

/// Facts that must hold for one connection brought up with nmcli.
fn connected(f: &BTreeMap<String, String>, name: &str, errs: &mut Vec<String>) {
    let mut check = |ok: bool, what: String| {
        if !ok {
            errs.push(what);
        }
    };
    check(
        fact(f, &format!("{name}_up")) == "0",
        format!("{name}: nmcli connection up failed"),
    );
    let addr = fact(f, &format!("{name}_ip4_address"));
    check(
        addr.starts_with("198.51.100.") && addr.ends_with("/32"),
        format!("{name}: IP4.ADDRESS {addr:?}"),
    );
    check(
        fact(f, &format!("{name}_ip4_dns")) == "192.0.2.53",
        format!("{name}: IP4.DNS {:?}", fact(f, &format!("{name}_ip4_dns"))),
    );
    let dev = fact(f, &format!("{name}_route_dev"));
    check(
        dev.starts_with("ppp"),
        format!("{name}: default route via {dev:?}"),
    );

    check(
        fact(f, &format!("{name}_down")) == "0",
        format!("{name}: nmcli connection down failed"),
    );
}

#[test]
fn network_manager_drives_sstp_rs() {
    if testbed::skip_testbed(&["/usr/sbin/NetworkManager", "/usr/bin/nmcli"]) {
        return;
    }
    let so = plugin::build_plugin(Pppd::V249, true, "sstp-rs-nm.so").expect("build the plugin");
    let nm = plugin::build_nm_parts().expect("build the NetworkManager parts");
    let paths = install_paths(&nm.libexec);
    let Some(run) = scenario::run_script_with_files(
        &script(&so, &nm, &paths),
        Duration::from_secs(420),
        install_files(&paths),
    ) else {
        return;
    };
    let f = parse_facts(&run.output);
    let get = |n: &str| run.read(n).unwrap_or_default();
    let nm_log = get("nm.log");
    let mut diag = format!("{}\n--- facts ---\n{f:?}\n", run.diagnostics());
    for n in [
        "nm-up-ask.txt",
        "nm-up-wrong.txt",
        "nm-up-untrusted.txt",
        "import.txt",
    ] {
        diag.push_str(&format!("--- {n} ---\n{}\n", get(n)));
    }
    diag.push_str(&format!("--- nm.log (end) ---\n{}\n", tail(&nm_log, 150)));
    let mut errs = Vec::new();
    if fact(&f, "nm_started") != "1" {
        panic!("NetworkManager did not start\n{diag}");
    }
    for name in ["work", "ask", "gnome", "kde", "legacy", "Corp"] {
        connected(&f, name, &mut errs);
    }
    let mut check = |ok: bool, what: &str| {
        if !ok {
            errs.push(what.to_string());
        }
    };
    // The status interface while connected.
    let status = fact(&f, "work_status");
    for want in [
        "\"State\" s \"started\"",
        "\"Peer\" s \"IPv4 192.0.2.2:443\"",
        "\"sstp-server\" \"sstp-server.test:443\"",
    ] {
        check(
            status.contains(want),
            &format!("status: {want} in {status:?}"),
        );
    }
    // Traffic through the tunnel; two at once; a clean end.
    check(num(&f, "work_ping_rx") == 5.0, "5 pings through work");
    check(num(&f, "work_ppp_tx") >= 5.0, "ppp0 tx counter");
    check(num(&f, "work_srv_ppp_rx") >= 5.0, "server ppp rx counter");
    check(fact(&f, "second_up") == "0", "second connection up");
    check(
        fact(&f, "both_active") == "2",
        "two SSTP connections active",
    );
    check(fact(&f, "both_ppp") == "2", "two ppp interfaces");
    check(fact(&f, "down_pppd") == "0", "no pppd after nmcli down");
    check(
        fact(&f, "down_ppp") == "0",
        "no ppp interface after nmcli down",
    );
    check(
        fact(&f, "down_server_pppd_gone") == "1",
        "server sessions ended",
    );
    check(fact(&f, "end_pppd") == "0", "no pppd left at the end");
    // The external gateway reached NetworkManager (without it NetworkManager refuses the
    // configuration: "no VPN gateway address received").
    check(
        !nm_log.contains("no VPN gateway address received") && nm_log.contains("config4: reply"),
        "the VPN gateway in Config",
    );
    // Every connect verified by the server: work, second, ask, gnome, kde, legacy, Corp.
    check(num(&f, "bindings_valid") >= 7.0, "7 crypto bindings valid");
    // --ask: prompted, re-asked with the plugin's sentence after the wrong password.
    let ask = get("nm-up-ask.txt");
    check(ask.matches("Password").count() >= 2, "nmcli asked twice");
    check(
        ask.contains("PPP authentication failed"),
        "the re-ask shows sstp-rs's sentence",
    );
    // Failures: reason and sentence in NetworkManager's log.
    check(fact(&f, "wrong_up") != "0", "wrong password fails");
    check(
        nm_log.contains("failure: login-failed")
            && nm_log.contains("nm-sstp-service: login-failed: sstp-rs: PPP authentication failed"),
        "wrong password: login-failed with sstp-rs's sentence in NetworkManager's log",
    );
    check(
        get("nm-up-wrong.txt").contains("PPP authentication failed"),
        "wrong password: nmcli shows sstp-rs's sentence",
    );
    check(
        fact(&f, "untrusted_up") != "0",
        "untrusted certificate fails",
    );
    let pin = format!("sha256:{}", fact(&f, "server_cert_sha256"));
    check(
        nm_log.contains("failure: connect-failed")
            && nm_log.contains("nm-sstp-service: connect-failed: sstp-rs: the server certificate")
            && nm_log.contains("subject:  CN=sstp-server.test")
            && nm_log.contains(&format!(
                "nmcli connection modify untrusted +vpn.data sstp-cert-pin={pin}"
            )),
        "untrusted: connect-failed, the certificate and the pin key in NetworkManager's log",
    );
    // ignore-cert-warn=yes: connected, and the certificate and its pin are in the log and the
    // banner NetworkManager shows.
    let banner = fact(&f, "legacy_banner").replace("\\:", ":");
    check(
        banner.contains("not trusted (")
            && banner.contains(&format!(
                "nmcli connection modify legacy +vpn.data sstp-cert-pin={pin}"
            )),
        "ignore-cert-warn: the banner names the certificate and the pin",
    );
    check(
        nm_log.contains("WARNING: accepted only because of sstp-cert-accept-untrusted"),
        "ignore-cert-warn: the plugin's warning in NetworkManager's log",
    );
    // Import and export.
    check(fact(&f, "import") == "0", "pbk import");
    check(fact(&f, "export") == "0", "export");
    check(fact(&f, "reimport") == "0", "import of the export");
    let first = fact(&f, "first_data");
    check(
        first.contains("gateway = sstp-server.test") && first == fact(&f, "second_data"),
        "export then import gives the same vpn.data",
    );
    assert!(errs.is_empty(), "{errs:#?}\n{diag}");
    eprintln!(
        "network_manager: connect {}s (work), {}s (ask, two prompts)",
        fact(&f, "work_up_seconds"),
        fact(&f, "ask_up_seconds")
    );
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}
