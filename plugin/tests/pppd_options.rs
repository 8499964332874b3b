//! The plugin inside a REAL pppd on the host: pppd loads it (pppd_version accepted, pppd's
//! symbols resolved), its options are registered, and invalid values are refused by pppd's option
//! parser with a clear message and exit status 2 (EXIT_OPTION_ERROR). The host kernel has no PPP,
//! so with valid options pppd stops later with exit status 4 (EXIT_NO_KERNEL_SUPPORT): that
//! proves every option was accepted. Runs the pppd matching this build (2.4.9: /usr/sbin/pppd;
//! 2.5.2: target/pppd-2.5.2/install/sbin/pppd); skipped when that pppd is absent or we are not
//! root (pppd refuses to run otherwise).

use std::path::PathBuf;
use std::process::{Command, Output};

fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps").to_path_buf();
    for c in [
        deps.join("libsstp_rs.so"),
        deps.parent().unwrap().join("libsstp_rs.so"),
    ] {
        if c.is_file() {
            return c;
        }
    }
    panic!("libsstp_rs.so not found");
}

/// Skips (returns `None`) when this machine cannot run the check; under CI (`CI` set) that is a
/// failure instead, so a missing pppd never passes as a green test.
fn unavailable(why: String) -> Option<PathBuf> {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why} under CI (tests/setup/setup.sh and cargo xtask test provide it)"
    );
    eprintln!("{why}: skipped");
    None
}

fn pppd_binary() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        return unavailable("not root (pppd refuses to run)".into());
    }
    let p = match pppd_sys::PPPD_VERSION {
        "2.4.9" => PathBuf::from("/usr/sbin/pppd"),
        "2.5.2" => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pppd-2.5.2/install/sbin/pppd")
        }
        v => return unavailable(format!("no pppd {v} to test against")),
    };
    if p.is_file() {
        Some(p)
    } else {
        unavailable(format!("{} absent", p.display()))
    }
}

fn pppd(args: &[&str]) -> Option<Output> {
    pppd_env(args, &[])
}

fn pppd_env(args: &[&str], env: &[(&str, &str)]) -> Option<Output> {
    let bin = pppd_binary()?;
    let so = plugin_path();
    let out = Command::new(bin)
        .arg("nodetach")
        .arg("plugin")
        .arg(&so)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run pppd");
    Some(out)
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn pppd_loads_the_plugin_and_accepts_valid_options() {
    let Some(o) = pppd(&[
        "sstp-server",
        "[::1]:4443",
        "sstp-cert-pin",
        &format!("sha256:{}", "ab".repeat(32)),
        "sstp-sni",
        "vpn.example.test",
        "sstp-tls-min",
        "1.2",
        "sstp-tls-max",
        "1.3",
        "sstp-log-level",
        "4",
        "sstp-proxy",
        "http://127.0.0.1:3128",
        "sstp-ip-family",
        "ipv6",
        "sstp-connect-timeout",
        "5",
        "sstp-no-eku-check",
        "sstp-ca-dir",
        "/etc/ssl/certs",
    ]) else {
        return;
    };
    let t = text(&o);
    assert!(
        t.contains(&format!("(pppd {})", pppd_sys::PPPD_VERSION)),
        "{t}"
    );
    assert!(!t.contains("sstp-rs: sstp-"), "an option was refused: {t}");
    // Past option parsing; this kernel has no PPP.
    assert_eq!(o.status.code(), Some(4), "{t}");
}

#[test]
fn invalid_values_are_refused_by_pppds_parser() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["sstp-server", "host:0"],
            "sstp-rs: sstp-server: cannot parse \"host:0\"",
        ),
        (
            &["sstp-log-level", "9"],
            "sstp-rs: sstp-log-level: cannot parse \"9\": expected a log level 0..4",
        ),
        (&["sstp-tls-min", "1.4"], "sstp-rs: sstp-tls-min:"),
        (&["sstp-tls-max", "1.0"], "sstp-rs: sstp-tls-max:"),
        (&["sstp-cert-pin", "md5:00"], "sstp-rs: sstp-cert-pin:"),
        (
            &["sstp-ca-file", "/nonexistent/ca.pem"],
            "sstp-rs: sstp-ca-file: /nonexistent/ca.pem:",
        ),
        (&["sstp-proxy", "socks5://h:1"], "only http:// proxies"),
        (&["sstp-ipc-fd", "2"], "sstp-rs: sstp-ipc-fd:"),
        // A value with printf directives is data, never a format.
        (
            &["sstp-sni", "%s%n%x"],
            "sstp-rs: sstp-sni: cannot parse \"%s%n%x\"",
        ),
    ];
    for (args, want) in cases {
        let Some(o) = pppd(args) else {
            return;
        };
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(want), "{args:?}: want {want:?} in {t}");
    }
}

/// Serial-line options after `plugin` (as in peers files written for sstpc) are accepted with
/// one log line each; options that name a device or run a program for one are still refused.
#[test]
fn serial_line_options_are_ignored_with_a_log_line() {
    let tty = [
        "lock", "crtscts", "modem", "local", "-crtscts", "xonxoff", "115200",
    ];
    let mut args = vec!["sstp-server", "vpn.example.test"];
    args.extend(tty);
    let Some(o) = pppd(&args) else {
        return;
    };
    let t = text(&o);
    for opt in tty {
        let line = format!("sstp-rs: option {opt} ignored: SSTP has no serial line");
        assert_eq!(t.matches(&line).count(), 1, "{line}: {t}");
    }
    // Past option parsing; this kernel has no PPP.
    assert_eq!(o.status.code(), Some(4), "{t}");
    for refused in [&["pty", "true"][..], &["/dev/ttyS0"], &["connect", "true"]] {
        let mut args = vec!["sstp-server", "vpn.example.test"];
        args.extend(refused);
        let Some(o) = pppd(&args) else {
            return;
        };
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{refused:?}: {t}");
        assert!(
            t.contains(&format!("unrecognized option '{}'", refused[0])),
            "{t}"
        );
        assert!(!t.contains("ignored: SSTP"), "{t}");
    }
}

#[test]
fn missing_argument_is_an_option_error() {
    let Some(o) = pppd(&["sstp-server"]) else {
        return;
    };
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// A panic inside an option handler (injected; debug builds only) is caught by the guard: pppd
/// logs the internal error with its location and exits with status 1 instead of aborting.
#[test]
#[cfg(debug_assertions)] // fault injection exists in debug builds only
fn panic_in_option_handler_fails_closed() {
    let Some(o) = pppd_env(&["sstp-log-level", "2"], &[("SSTP_RS_FAULT", "option")]) else {
        return;
    };
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains(
            "sstp-rs: internal error in option handler: fault injected at option at plugin/src/"
        ),
        "{t}"
    );
    assert!(t.contains("closing the connection"), "{t}");
}
