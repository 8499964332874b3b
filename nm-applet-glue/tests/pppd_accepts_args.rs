//! The real pppd (2.4.9, and 2.5.2 when built) with the sstp-rs plugin parses every option the
//! translation produces, for a profile that sets every key, reads the secrets from the pipes,
//! and never shows them. `dryrun` stops pppd before any link; pppd's exit status 2 would mean
//! an option it refused.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Command, Stdio};

use integration_tests::plugin::{build_plugin, Pppd};
use integration_tests::testbed::skip_unavailable;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use sstp_nm::pppd_args::{build, secret_payloads, Fds, Ip4Method, Ip6Method, Launch};
use sstp_nm::settings::{Dict, NmSettings};

const PW: &str = "Pw-s3cr3t-9";
const PROXY_PW: &str = "Pr0xy-s3cr3t-9";

fn dict(pairs: &[(&str, &str)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every key that reaches pppd, in password mode.
fn password_profile() -> Dict {
    let pin = format!("sha256:{}", "ab".repeat(32));
    let mut d = dict(&[
        ("gateway", "vpn.example.com:4433"),
        ("user", "alice"),
        ("domain", "CORP"),
        ("password-flags", "0"),
        ("ca-cert", "/etc/ssl/certs/ca-certificates.crt"),
        ("ignore-cert-warn", "yes"),
        ("tls-ext", "yes"),
        ("mtu", "1350"),
        ("lcp-echo-failure", "4"),
        ("lcp-echo-interval", "30"),
        ("unit", "9"),
        ("proxy-server", "proxy.lan"),
        ("proxy-port", "3128"),
        ("proxy-user", "bob"),
        ("uuid", "0b5e7c9a-0000-4000-8000-000000000001"),
        ("sstp-sni", "vpn.corp.example"),
        ("sstp-proxy-no-basic", "yes"),
        ("sstp-tls-min", "1.2"),
        ("sstp-tls-max", "1.3"),
        ("sstp-ip-family", "prefer-ipv4"),
        ("sstp-no-eku-check", "yes"),
        ("sstp-connect-timeout", "20"),
        ("sstp-log-level", "3"),
    ]);
    d.insert("sstp-cert-pin".into(), pin);
    for (k, _) in sstp_nm::keys::PPP_SWITCHES {
        d.insert(k.into(), "yes".into());
    }
    d
}

/// EAP-TLS keys (files need not exist for option parsing).
fn tls_profile() -> Dict {
    let mut d = dict(&[
        ("gateway", "vpn.example.com"),
        ("connection-type", "tls"),
        ("tls-identity", "alice@corp"),
        ("tls-user-cert", "/etc/sstp/u.crt"),
        ("tls-user-key", "/etc/sstp/u.key"),
        ("tls-ca-cert", "/etc/sstp/ca.pem"),
        ("crl-file", "/etc/sstp/crl.pem"),
        ("tls-max-version", "1.2"),
        ("tls-verify-key-usage", "yes"),
        ("tls-verify-method", "name"),
        ("tls-remotename", "vpn.example.com"),
    ]);
    d.insert("refuse-pap".into(), "yes".into());
    d
}

fn launch(plugin: std::path::PathBuf, pppd: Pppd) -> Launch {
    Launch {
        plugin,
        pid: std::process::id(),
        user_name_fallback: None,
        ip4: Ip4Method::Manual {
            address: [10, 9, 0, 2].into(),
            prefix: 24,
            peer: [10, 9, 0, 1].into(),
        },
        ignore_auto_dns: false,
        ip6: Ip6Method::Auto,
        debug: true,
        user_cert_is_pkcs12: false,
        pppd_ext_tls: pppd == Pppd::V252,
    }
}

fn inheritable(fd: &impl AsFd) {
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
}

/// Runs pppd with the translated profile and `dryrun`; its exit status and output.
fn dryrun(pppd: Pppd, plugin: &std::path::Path, data: &Dict, secrets: &Dict) -> (i32, String) {
    let s = NmSettings::parse(data, secrets).unwrap();
    let pay = secret_payloads(&s, secrets);
    let pw: Option<OwnedFd> = pay.password.as_ref().map(|p| {
        let p = sstp_cli::password::Password::new(p.as_bytes().to_vec()).unwrap();
        sstp_cli::password::password_pipe(&p).unwrap()
    });
    let proxy: Option<OwnedFd> = pay
        .proxy
        .as_ref()
        .map(|(u, p)| sstp_cli::proxyfile::auth_pipe(u, p.as_bytes()).unwrap());
    let (ipc, _ipc_peer) = std::os::unix::net::UnixStream::pair().unwrap();
    for fd in pw.iter().chain(proxy.iter()) {
        inheritable(fd);
    }
    inheritable(&ipc);
    let fds = Fds {
        password: pw.as_ref().map(AsRawFd::as_raw_fd),
        proxy_auth: proxy.as_ref().map(AsRawFd::as_raw_fd),
        ipc: Some(ipc.as_raw_fd()),
    };
    let out = build(&s, &launch(plugin.to_path_buf(), pppd), fds).unwrap();
    let line = out.args.join(" ");
    assert!(!line.contains(PW) && !line.contains(PROXY_PW), "{line}");
    let res = Command::new(pppd.binary())
        .args(&out.args)
        .arg("dryrun")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&res.stdout).to_string() + &String::from_utf8_lossy(&res.stderr);
    (
        res.status.code().unwrap_or(-1),
        format!("argv: {line}\n{text}"),
    )
}

fn check(pppd: Pppd, plugin: &std::path::Path) {
    let secrets: Dict = dict(&[("password", PW), ("proxy-password", PROXY_PW)]);
    for data in [password_profile(), tls_profile()] {
        let (code, text) = dryrun(pppd, plugin, &data, &secrets);
        eprintln!("pppd {} exit {code}:\n{text}", pppd.version());
        // 0: dryrun done; 4 (no kernel support): options were all accepted, /dev/ppp missing.
        assert!(
            code == 0 || code == 4,
            "pppd {} exit {code}:\n{text}",
            pppd.version()
        );
        for bad in [
            "unrecognized option",
            "sstp-rs: sstp-",
            "requires root",
            PW,
            PROXY_PW,
        ] {
            assert!(
                !text.contains(bad),
                "{bad:?} in pppd {}:\n{text}",
                pppd.version()
            );
        }
    }
    // Control: an option pppd does not know gives status 2, so the check above can fail.
    let mut d = BTreeMap::new();
    d.insert("gateway".to_string(), "vpn.example.com".to_string());
    let s = NmSettings::parse(&d, &BTreeMap::new()).unwrap();
    let mut args = build(&s, &launch(plugin.to_path_buf(), pppd), Fds::default())
        .unwrap()
        .args;
    args.extend(["no-such-option".to_string(), "dryrun".to_string()]);
    let st = Command::new(pppd.binary())
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
}

#[test]
fn pppd_2_4_9_accepts_the_translation() {
    if !nix::unistd::Uid::effective().is_root() || !Pppd::V249.binary().is_file() {
        skip_unavailable("needs root and /usr/sbin/pppd (2.4.9)");
        return;
    }
    let so = build_plugin(Pppd::V249, false, "sstp-rs-nm.so").unwrap();
    check(Pppd::V249, &so);
}

#[test]
fn pppd_2_5_2_accepts_the_translation() {
    if !nix::unistd::Uid::effective().is_root() || !Pppd::V252.binary().is_file() {
        skip_unavailable("needs root and pppd 2.5.2 (cargo xtask pppd25)");
        return;
    }
    let so = build_plugin(Pppd::V252, false, "sstp-rs-nm.so").unwrap();
    check(Pppd::V252, &so);
}
