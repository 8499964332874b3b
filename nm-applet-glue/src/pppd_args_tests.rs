//! Key-by-key tests of the translation ([`crate::pppd_args::build`]).

use std::collections::BTreeMap;

use crate::keys;
use crate::pppd_args::{build, secret_payloads, Fds, Ip4Method, Ip6Method, Launch, PppdArgs};
use crate::settings::{needed_secrets, Dict, NmSettings, SettingsError};

const GW: &str = "vpn.example.com";

fn dict(pairs: &[(&str, &str)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn launch() -> Launch {
    Launch {
        plugin: "/usr/lib/pppd/2.4.9/sstp-rs.so".into(),
        pid: 4242,
        user_name_fallback: None,
        ip4: Ip4Method::Auto,
        ignore_auto_dns: false,
        ip6: Ip6Method::Ignore,
        debug: false,
        user_cert_is_pkcs12: false,
        pppd_ext_tls: true,
    }
}

fn parse(extra: &[(&str, &str)]) -> Result<NmSettings, SettingsError> {
    let mut d = dict(&[("gateway", GW)]);
    d.extend(dict(extra));
    NmSettings::parse(&d, &BTreeMap::new())
}

fn args_with(extra: &[(&str, &str)]) -> PppdArgs {
    build(&parse(extra).unwrap(), &launch(), Fds::default()).unwrap()
}

/// The words `extra` adds to (or removes from) the minimal profile's argv, as a line.
fn diff(extra: &[(&str, &str)]) -> (String, String) {
    let base = args_with(&[]).args;
    let new = args_with(extra).args;
    let added: Vec<&str> = seq_diff(&new, &base);
    let removed: Vec<&str> = seq_diff(&base, &new);
    (added.join(" "), removed.join(" "))
}

/// Elements of `a` that are not in a longest common subsequence of `a` and `b`.
fn seq_diff<'a>(a: &'a [String], b: &[String]) -> Vec<&'a str> {
    let (n, m) = (a.len(), b.len());
    let mut l = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if a[i] == b[j] {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n {
        if j < m && a[i] == b[j] {
            (i, j) = (i + 1, j + 1);
        } else if j < m && l[i][j + 1] >= l[i + 1][j] {
            j += 1;
        } else {
            out.push(a[i].as_str());
            i += 1;
        }
    }
    out
}

#[test]
fn minimal_profile_matches_network_manager_sstp_defaults() {
    let a = args_with(&[]).args.join(" ");
    assert_eq!(
        a,
        "plugin /usr/lib/pppd/2.4.9/sstp-rs.so sstp-server vpn.example.com:443 \
         ipparam nm-pptp-service-4242 nodetach usepeerdns noipdefault nodefaultroute \
         nodefaultroute6 noauth mtu 1400 lcp-echo-failure 0 lcp-echo-interval 0"
    );
}

/// Settings added to the minimal profile, the words they add, the words they remove.
type KeyCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

/// Every `vpn.data` key: what it adds to (and removes from) the minimal argv.
#[test]
fn every_data_key() {
    let table: &[KeyCase] = &[
        (
            &[("gateway", "10.0.0.1:4433")],
            "10.0.0.1:4433",
            "vpn.example.com:443",
        ),
        (
            &[("gateway", "[2001:db8::1]:8443")],
            "[2001:db8::1]:8443",
            "vpn.example.com:443",
        ),
        (
            &[("gateway", "2001:db8::1")],
            "[2001:db8::1]:443",
            "vpn.example.com:443",
        ),
        (
            &[("user", "alice")],
            "user alice remotename vpn.example.com",
            "",
        ),
        (
            &[("user", "alice"), ("domain", "CORP")],
            "user CORP\\alice remotename vpn.example.com",
            "",
        ),
        (&[("domain", "CORP")], "", ""),
        (&[("password-flags", "1")], "", ""),
        (&[("connection-type", "password")], "", ""),
        (&[("connection-type", "")], "", ""),
        (
            &[("ca-cert", "/etc/ssl/corp\\040ca.pem")],
            "sstp-ca-file /etc/ssl/corp ca.pem",
            "",
        ),
        (
            &[("ignore-cert-warn", "yes")],
            "sstp-cert-accept-untrusted",
            "",
        ),
        (&[("ignore-cert-warn", "no")], "", ""),
        (&[("tls-ext", "yes")], "", ""),
        (&[("mtu", "1300")], "1300", "1400"),
        (&[("refuse-eap", "yes")], "refuse-eap", ""),
        (&[("refuse-pap", "yes")], "refuse-pap", ""),
        (&[("refuse-chap", "yes")], "refuse-chap", ""),
        (&[("refuse-mschap", "yes")], "refuse-mschap", ""),
        (&[("refuse-mschapv2", "yes")], "refuse-mschap-v2", ""),
        (&[("refuse-pap", "no")], "", ""),
        (&[("require-mppe", "yes")], "require-mppe", ""),
        (&[("require-mppe-40", "yes")], "require-mppe-40", ""),
        (&[("require-mppe-128", "yes")], "require-mppe-128", ""),
        (&[("mppe-stateful", "yes")], "mppe-stateful", ""),
        (&[("nobsdcomp", "yes")], "nobsdcomp", ""),
        (&[("nodeflate", "yes")], "nodeflate", ""),
        (&[("no-vj-comp", "yes")], "novj", ""),
        (&[("lcp-echo-failure", "5")], "5", "0"),
        (&[("lcp-echo-interval", "30")], "30", "0"),
        (&[("unit", "7")], "unit 7", ""),
        (
            &[("proxy-server", "proxy.lan"), ("proxy-port", "3128")],
            "sstp-proxy http://proxy.lan:3128",
            "",
        ),
        (&[("proxy-server", "proxy.lan")], "", ""),
        (&[("proxy-port", "3128")], "", ""),
        (
            &[("proxy-server", "::1"), ("proxy-port", "3128")],
            "sstp-proxy http://[::1]:3128",
            "",
        ),
        (
            &[
                ("proxy-server", "p"),
                ("proxy-port", "3128"),
                ("proxy-user", "bob"),
            ],
            "sstp-proxy http://p:3128",
            "",
        ),
        (&[("proxy-password-flags", "2")], "", ""),
        (&[("uuid", "0b5e7c9a-1111-2222-3333-444455556666")], "", ""),
        (&[("no-secret", "true")], "", ""),
        (&[("name", "sstp")], "", ""),
        // sstp-rs keys
        (
            &[("sstp-cert-pin", &format!("sha256:{}", "AB".repeat(32)))],
            &format!("sstp-cert-pin sha256:{}", "ab".repeat(32)),
            "",
        ),
        (
            &[("sstp-sni", "vpn.corp.example")],
            "sstp-sni vpn.corp.example",
            "",
        ),
        (
            &[
                ("proxy-server", "p"),
                ("proxy-port", "8080"),
                ("sstp-proxy-no-basic", "yes"),
            ],
            "sstp-proxy http://p:8080 sstp-proxy-no-basic",
            "",
        ),
        (&[("sstp-proxy-no-basic", "yes")], "", ""),
        (&[("sstp-tls-min", "1.3")], "sstp-tls-min 1.3", ""),
        (&[("sstp-tls-max", "1.2")], "sstp-tls-max 1.2", ""),
        (
            &[("sstp-ip-family", "prefer-ipv6")],
            "sstp-ip-family prefer-ipv6",
            "",
        ),
        (&[("sstp-no-eku-check", "yes")], "sstp-no-eku-check", ""),
        (
            &[("sstp-connect-timeout", "20")],
            "sstp-connect-timeout 20",
            "",
        ),
        (&[("sstp-log-level", "4")], "sstp-log-level 4", ""),
    ];
    for (extra, added, removed) in table {
        let (a, r) = diff(extra);
        assert_eq!((a.as_str(), r.as_str()), (*added, *removed), "{extra:?}");
    }
    // Every data key of network-manager-sstp, KDE's and ours appears in the tables of this
    // file (this one, the TLS one, the errors).
    let src = include_str!("pppd_args_tests.rs");
    for k in keys::NM_SSTP_DATA_KEYS.iter().chain(keys::OUR_KEYS.iter()) {
        assert!(src.contains(&format!("(\"{k}\"")), "no test for {k}");
    }
}

#[test]
fn eap_tls_keys() {
    let tls = |extra: &[(&str, &str)]| {
        let mut v = vec![("connection-type", "tls")];
        v.extend_from_slice(extra);
        diff(&v).0
    };
    assert_eq!(tls(&[]), "capath /etc/ssl/certs need-peer-eap");
    assert_eq!(
        tls(&[("user", "alice")]),
        "capath /etc/ssl/certs need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-identity", "alice@corp")]),
        "name alice@corp capath /etc/ssl/certs need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-subject-name", "CN=alice")]),
        "name CN=alice capath /etc/ssl/certs need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-identity", "id"), ("tls-subject-name", "CN=x")]),
        "name id capath /etc/ssl/certs need-peer-eap"
    );
    assert_eq!(
        tls(&[
            ("tls-user-cert", "/k/u\\303\\251.crt"),
            ("tls-user-key", "/k/u.key")
        ]),
        "cert /k/ué.crt key /k/u.key capath /etc/ssl/certs need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-ca-cert", "/k/ca.pem")]),
        "ca /k/ca.pem need-peer-eap"
    );
    assert_eq!(
        tls(&[("crl-file", "/k/crl.pem")]),
        "capath /etc/ssl/certs crl /k/crl.pem need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-max-version", "1.2")]),
        "capath /etc/ssl/certs max-tls-version 1.2 need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-verify-key-usage", "yes")]),
        "capath /etc/ssl/certs tls-verify-key-usage need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-verify-method", "name")]),
        "capath /etc/ssl/certs need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-remotename", "srv")]),
        "capath /etc/ssl/certs need-peer-eap"
    );
    assert_eq!(
        tls(&[
            ("tls-verify-method", "suffix"),
            ("tls-remotename", "corp.example")
        ]),
        "capath /etc/ssl/certs tls-verify-method suffix remotename corp.example need-peer-eap"
    );
    assert_eq!(
        tls(&[("tls-user-key-secret-flags", "4")]),
        "capath /etc/ssl/certs need-peer-eap"
    );
    // pppd ≥ 2.5 with a PKCS#12 file: pkcs12, no key.
    let s = parse(&[
        ("connection-type", "tls"),
        ("tls-user-cert", "/k/u.p12"),
        ("tls-user-key", "/k/u.p12"),
    ])
    .unwrap();
    let mut l = launch();
    l.user_cert_is_pkcs12 = true;
    let a = build(&s, &l, Fds::default()).unwrap().args.join(" ");
    assert!(
        a.contains("pkcs12 /k/u.p12 capath") && !a.contains(" key "),
        "{a}"
    );
}

#[test]
fn bad_values_are_errors_naming_the_key() {
    let bad: &[(&str, &str, &str)] = &[
        ("refuse-eap", "true", "yes or no"),
        ("mtu", "big", "whole number"),
        ("unit", "-1", "whole number"),
        ("connection-type", "cert", "password or tls"),
        ("tls-verify-method", "any", "none, subject"),
        ("tls-max-version", "1.4", "1.0, 1.1"),
        ("proxy-port", "70000", "1..65535"),
        ("sstp-cert-pin", "sha256:abc", "sha256:"),
        ("sstp-sni", "bad name", "DNS name"),
        ("sstp-tls-min", "2.0", "1.0"),
        ("sstp-tls-max", "1.1", "1.2 or 1.3"),
        ("sstp-ip-family", "ipv5", "prefer-ipv4"),
        ("sstp-connect-timeout", "0", "1..300"),
        ("sstp-log-level", "9", "0..4"),
        ("gateway", "vpn example", "host name"),
        ("gateway", "vpn.example.com,evil", "host name"),
    ];
    for (k, v, want) in bad {
        let mut extra = vec![(*k, *v)];
        if *k == "proxy-port" {
            extra.push(("proxy-server", "p"));
        }
        let e = parse(&extra).unwrap_err();
        assert_eq!(e.key, *k);
        assert!(e.to_string().contains(want), "{k}={v}: {e}");
    }
    let e = NmSettings::parse(&dict(&[("user", "a")]), &BTreeMap::new()).unwrap_err();
    assert!(
        e.to_string().contains("gateway") && e.to_string().contains("required"),
        "{e}"
    );
    let e = parse(&[("sstp-tls-min", "1.3"), ("sstp-tls-max", "1.2")]).unwrap_err();
    assert!(e.to_string().contains("not below"), "{e}");
}

#[test]
fn unknown_keys_are_warnings_not_errors() {
    let secrets = dict(&[("password", "pw"), ("otp", "1")]);
    let mut d = dict(&[
        ("gateway", GW),
        ("frobnicate", "yes"),
        ("bad\u{1b}[2Jkey", "x"),
    ]);
    d.insert("user".into(), "alice".into());
    let s = NmSettings::parse(&d, &secrets).unwrap();
    let w = build(&s, &launch(), Fds::default()).unwrap().warnings;
    assert!(
        w.iter()
            .any(|x| x == "vpn.data frobnicate: unknown key, ignored"),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|x| x == "vpn.secrets otp: unknown key, ignored"),
        "{w:?}"
    );
    assert!(w.iter().all(|x| !x.contains('\u{1b}')), "{w:?}");
}

#[test]
fn kde_pre_1_3_profile() {
    // As plasma-nm's SSTP editor writes it: no connection-type, tls-ext, mtu; plain path.
    let d = dict(&[
        ("gateway", "vpn.example.com"),
        ("user", "alice"),
        ("password-flags", "1"),
        ("domain", "CORP"),
        ("ca-cert", "/home/alice/ca.pem"),
        ("refuse-pap", "yes"),
        ("refuse-eap", "yes"),
        ("lcp-echo-interval", "10"),
        ("lcp-echo-failure", "3"),
        ("proxy-server", "proxy"),
        ("proxy-port", "3128"),
        ("proxy-user", "bob"),
        ("proxy-password-flags", "0"),
    ]);
    let s = NmSettings::parse(&d, &BTreeMap::new()).unwrap();
    let a = build(&s, &launch(), Fds::default()).unwrap();
    let line = a.args.join(" ");
    for want in [
        "sstp-ca-file /home/alice/ca.pem",
        "user CORP\\alice remotename vpn.example.com",
        "mtu 1400 refuse-eap refuse-pap lcp-echo-failure 3 lcp-echo-interval 10",
        "sstp-proxy http://proxy:3128",
    ] {
        assert!(line.contains(want), "{want}: {line}");
    }
    assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings); // the proxy password is missing
}

#[test]
fn ip_settings_and_debug() {
    let s = parse(&[]).unwrap();
    let mut l = launch();
    l.ip4 = Ip4Method::Manual {
        address: [10, 1, 0, 2].into(),
        prefix: 24,
        peer: [10, 1, 0, 1].into(),
    };
    l.ip6 = Ip6Method::Auto;
    l.debug = true;
    let a = build(&s, &l, Fds::default()).unwrap().args.join(" ");
    assert!(a.contains("sstp-log-level 3 debug ipparam"), "{a}");
    assert!(a.contains("nodetach 10.1.0.2:10.1.0.1 netmask 255.255.255.0 ipcp-accept-local ipcp-accept-remote usepeerdns +ipv6 nodefault"), "{a}");
    assert!(!a.contains("noipdefault"), "{a}");
    l.ip4 = Ip4Method::Disabled;
    l.ip6 = Ip6Method::Manual("::1".into(), "::2".into());
    let a = build(&s, &l, Fds::default()).unwrap().args.join(" ");
    assert!(a.contains("noip noipdefault ipv6 ::1,::2"), "{a}");
    assert!(!a.contains("usepeerdns"), "{a}");
    l.ip4 = Ip4Method::Auto;
    l.ignore_auto_dns = true;
    l.ip6 = Ip6Method::Disabled;
    let a = build(&s, &l, Fds::default()).unwrap().args.join(" ");
    assert!(a.contains("nodetach noipdefault noipv6"), "{a}");
}

#[test]
fn user_name_falls_back_to_vpn_user_name() {
    let s = parse(&[("domain", "CORP")]).unwrap();
    let mut l = launch();
    l.user_name_fallback = Some("carol".into());
    let a = build(&s, &l, Fds::default()).unwrap().args.join(" ");
    assert!(a.contains("user CORP\\carol remotename"), "{a}");
}

#[test]
fn secrets_go_to_pipes_never_to_argv() {
    const PW: &str = "Pw-s3cr3t!";
    const PROXY_PW: &str = "Pr0xy-s3cr3t";
    const KEY_PW: &str = "K3y-s3cr3t";
    let secrets = dict(&[
        ("password", PW),
        ("proxy-password", PROXY_PW),
        ("tls-user-key-secret", KEY_PW),
    ]);
    let extra = [
        ("user", "alice"),
        ("proxy-server", "proxy.lan"),
        ("proxy-port", "3128"),
        ("proxy-user", "bob"),
    ];
    let mut d = dict(&[("gateway", GW)]);
    d.extend(dict(&extra));
    let s = NmSettings::parse(&d, &secrets).unwrap();
    let fds = Fds {
        password: Some(5),
        proxy_auth: Some(6),
        ipc: Some(7),
    };
    let out = build(&s, &launch(), fds).unwrap();
    let line = out.args.join(" ") + &out.warnings.join(" ");
    for secret in [PW, PROXY_PW, KEY_PW] {
        assert!(!line.contains(secret), "{secret} in {line}");
    }
    assert!(
        line.contains("sstp-proxy http://proxy.lan:3128 sstp-proxy-auth-fd 6"),
        "{line}"
    );
    assert!(line.contains("sstp-ipc-fd 7"), "{line}");
    assert!(line.contains("plugin passwordfd.so passwordfd 5"), "{line}");
    let p = secret_payloads(&s, &secrets);
    assert_eq!(p.password.as_deref().map(String::as_str), Some(PW));
    let (u, pw) = p.proxy.unwrap();
    assert_eq!((u.as_str(), pw.as_str()), ("bob", PROXY_PW));
    // TLS mode: the key passphrase goes through passwordfd.
    d.insert("connection-type".into(), "tls".into());
    let s = NmSettings::parse(&d, &secrets).unwrap();
    let p = secret_payloads(&s, &secrets);
    assert_eq!(p.password.as_deref().map(String::as_str), Some(KEY_PW));
    let line = build(&s, &launch(), fds).unwrap().args.join(" ");
    assert!(!line.contains(KEY_PW) && !line.contains(PW), "{line}");
}

#[test]
fn ignore_cert_warn_is_never_silent() {
    let out = args_with(&[("ignore-cert-warn", "yes")]);
    let w = out.warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("is accepted, with a warning")
            && w[0].contains("+vpn.data sstp-cert-pin=sha256:"),
        "{w:?}"
    );
    assert!(out.args.contains(&"sstp-cert-accept-untrusted".to_string()));
    // With a pin the pin is what is trusted: nothing loosened, nothing to warn about.
    let pin = format!("sha256:{}", "00".repeat(32));
    let out = args_with(&[("ignore-cert-warn", "yes"), ("sstp-cert-pin", &pin)]);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(out.args.join(" ").contains(&pin));
    assert!(!out.args.contains(&"sstp-cert-accept-untrusted".to_string()));
    let w = args_with(&[("tls-ext", "no")]).warnings;
    assert!(w[0].contains("SNI"), "{w:?}");
}

#[test]
fn need_secrets_as_network_manager_sstp() {
    let none = BTreeMap::new();
    let s = parse(&[]).unwrap();
    assert_eq!(needed_secrets(&s, &none, false), ["password"]);
    assert!(needed_secrets(&s, &dict(&[("password", "x")]), false).is_empty());
    let s = parse(&[("password-flags", "4")]).unwrap();
    assert!(needed_secrets(&s, &none, false).is_empty());
    let s = parse(&[("connection-type", "tls")]).unwrap();
    assert!(needed_secrets(&s, &none, false).is_empty());
    assert_eq!(needed_secrets(&s, &none, true), ["tls-user-key-secret"]);
    let s = parse(&[
        ("proxy-server", "p"),
        ("proxy-port", "1"),
        ("proxy-user", "u"),
    ])
    .unwrap();
    assert_eq!(
        needed_secrets(&s, &none, false),
        ["password", "proxy-password"]
    );
    let s = parse(&[
        ("proxy-server", "p"),
        ("proxy-port", "1"),
        ("proxy-user", "u"),
        ("proxy-password-flags", "4"),
        ("password-flags", "4"),
    ])
    .unwrap();
    assert!(needed_secrets(&s, &none, false).is_empty());
}

#[test]
fn pppd_2_4_9_gets_no_extended_tls_options() {
    let s = parse(&[
        ("connection-type", "tls"),
        ("tls-user-cert", "/k/u.p12"),
        ("tls-user-key", "/k/u.key"),
        ("tls-verify-key-usage", "yes"),
        ("tls-verify-method", "name"),
        ("tls-remotename", "srv"),
    ])
    .unwrap();
    let mut l = launch();
    l.user_cert_is_pkcs12 = true;
    l.pppd_ext_tls = false;
    let out = build(&s, &l, Fds::default()).unwrap();
    let a = out.args.join(" ");
    assert!(a.contains("cert /k/u.p12 key /k/u.key capath"), "{a}");
    for o in ["pkcs12", "tls-verify", "remotename"] {
        assert!(!a.contains(o), "{o}: {a}");
    }
    assert_eq!(out.warnings.len(), 3, "{:?}", out.warnings);
    assert!(out.warnings.iter().all(|w| w.contains("before 2.5")));
}
