//! Usage errors and exit codes of the built `sstp` binary, and `sstp connect --dry-run` (the
//! pppd command line it would run; real pppd runs need the UML test bed).

mod common;

use common::{sstp, texts};

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["probe"][..],
        &["probe", "host:0"][..],
        &["probe", "host", "--tls-min", "2.0"][..],
        &["probe", "host", "--pin", "sha256:1234"][..],
        &["probe", "host", "--proxy", "socks5://p:1080"][..],
        &["probe", "host", "--timeout", "-1"][..],
        &["connect", "host"][..],
        &["connect", "host", "-u", "alice", "--log-level", "7"][..],
    ] {
        let out = sstp(args);
        let (stdout, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout} {stderr}");
        assert!(!stderr.is_empty(), "{args:?}: no message");
    }
}

#[test]
fn invalid_combinations_exit_2_with_a_reason() {
    let out = sstp(&["probe", "h", "--tls-min", "1.3", "--tls-max", "1.2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("below --tls-min"));
    let out = sstp(&["probe", "h", "--ca-file", "/nonexistent/ca.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("/nonexistent/ca.pem"));
    let out = sstp(&["connect", "h", "-u", "a", "--dry-run", "--", "updetach"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("updetach"));
}

#[test]
fn help_and_version_exit_0_and_document_exit_codes() {
    let out = sstp(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let (stdout, _) = texts(&out);
    assert!(stdout.contains("probe"));
    assert!(stdout.contains("connect"));
    assert!(
        stdout.contains("6  server certificate not trusted"),
        "{stdout}"
    );
    let out = sstp(&["probe", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(texts(&out).0.contains("--ca-file"));
    let out = sstp(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(texts(&out).0.starts_with("sstp "));
}

#[test]
fn connect_dry_run_prints_the_pppd_command_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "correct horse battery staple\n").unwrap();
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"not really a plugin").unwrap();
    let pin = format!("sha256:{}", "ab".repeat(32));
    let out = sstp(&[
        "connect",
        "[2001:db8::5]:8443",
        "-u",
        "CORP\\alice",
        "--password-file",
        pw.to_str().unwrap(),
        "--plugin",
        plugin.to_str().unwrap(),
        "--pppd",
        "/usr/sbin/pppd",
        "--pin",
        &pin,
        "--sni",
        "vpn.example.com",
        "--default-route",
        "--dry-run",
        "--",
        "mtu",
        "1400",
    ]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let line = stdout.trim();
    assert!(line.starts_with("/usr/sbin/pppd plugin "), "{line}");
    for want in [
        format!("plugin {}", plugin.display()),
        "sstp-server '[2001:db8::5]:8443'".to_string(),
        format!("sstp-cert-pin {pin}"),
        "sstp-sni vpn.example.com".into(),
        "user 'CORP\\alice'".into(),
        "plugin passwordfd.so passwordfd 3".into(),
        "nodetach noauth noipdefault".into(),
        "refuse-pap refuse-chap refuse-mschap refuse-eap".into(),
        "defaultroute".into(),
    ] {
        assert!(line.contains(&want), "missing {want:?} in {line}");
    }
    assert!(line.ends_with("mtu 1400"), "{line}");
    assert!(!stdout.contains("horse") && !stderr.contains("horse"));
    assert!(!stderr.contains("--allow-weak-auth"), "{stderr}");
}

#[test]
fn allow_weak_auth_drops_the_refusals_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    let out = sstp(&[
        "connect",
        "vpn.example.com",
        "-u",
        "alice",
        "--plugin",
        plugin.to_str().unwrap(),
        "--pppd",
        "/usr/sbin/pppd",
        "--allow-weak-auth",
        "--dry-run",
    ]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("refuse-"), "{stdout}");
    assert!(stdout.contains(" noauth "), "{stdout}");
    for want in [
        "warning: --allow-weak-auth",
        "clear text",
        "all-zero key",
        "MS-CHAPv2",
    ] {
        assert!(stderr.contains(want), "missing {want:?}: {stderr}");
    }
}

#[test]
fn connect_with_bad_password_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    for (file, want) in [
        (empty.to_str().unwrap().to_owned(), "empty"),
        (
            dir.path().join("missing").to_str().unwrap().to_owned(),
            "missing",
        ),
    ] {
        let out = sstp(&[
            "connect",
            "h",
            "-u",
            "a",
            "--password-file",
            &file,
            "--plugin",
            plugin.to_str().unwrap(),
            "--pppd",
            "/bin/false",
        ]);
        let (_, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
    }
}

#[test]
fn connect_maps_pppd_exit_status() {
    // A stand-in pppd that checks it got the password on the passwordfd pipe (and not on argv)
    // and exits with a chosen pppd status.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("pppd");
    std::fs::write(
        &fake,
        r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "pppd version 2.4.9"; exit 0; fi
fd=""; prev=""
for a in "$@"; do
  [ "$prev" = passwordfd ] && fd="$a"
  case "$a" in *s3cr3t*) echo "password on argv" >&2; exit 1;; esac
  prev="$a"
done
pw=$(eval "cat <&$fd")
[ "$pw" = "s3cr3t" ] || { echo "bad password pipe: '$pw'" >&2; exit 1; }
echo "Using interface ppp7"
echo "local  IP address 10.9.0.2" >&2
echo "remote IP address 10.9.0.1" >&2
echo "primary   DNS address 10.9.0.53" >&2
[ "$FAKE_STATUS" = 0 ] && sleep 1
exit "$FAKE_STATUS"
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cr3t\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    for (status, want) in [(0, 0), (8, 15), (11, 6), (19, 10), (16, 12), (2, 2)] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sstp"))
            .args([
                "connect",
                "127.0.0.1",
                "-u",
                "alice",
                "--password-file",
                pw.to_str().unwrap(),
                "--plugin",
                plugin.to_str().unwrap(),
                "--pppd",
                fake.to_str().unwrap(),
                "--no-ipc",
            ])
            .env("FAKE_STATUS", status.to_string())
            .output()
            .unwrap();
        let (_, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(want), "pppd {status}: {stderr}");
        assert!(!stderr.contains("bad password pipe"), "{stderr}");
        assert!(!stderr.contains("password on argv"), "{stderr}");
        assert!(
            stderr.contains(&format!("pppd exited with status {status}")),
            "{stderr}"
        );
        if status == 0 {
            assert!(stderr.contains("tunnel is up on ppp7"), "{stderr}");
            assert!(stderr.contains("local address: 10.9.0.2"), "{stderr}");
            assert!(stderr.contains("DNS:           10.9.0.53"), "{stderr}");
        }
    }
}

#[test]
fn ctrl_c_sends_sigterm_to_pppd_and_waits() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("pppd");
    let marker = dir.path().join("terminated");
    std::fs::write(
        &fake,
        format!(
            r#"#!/bin/sh
trap 'echo "Terminating on signal 15"; sleep 0.3; touch {}; exit 5' TERM
echo "Connect: ppp0 <--> sstp"
while :; do sleep 0.1; done
"#,
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sstp"))
        .args([
            "connect",
            "127.0.0.1",
            "-u",
            "alice",
            "--password-file",
            pw.to_str().unwrap(),
            "--plugin",
            plugin.to_str().unwrap(),
            "--pppd",
            fake.to_str().unwrap(),
            "--no-ipc",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    common::interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("disconnecting"), "{stderr}");
    assert!(stderr.contains("Terminating on signal 15"), "{stderr}");
    assert!(marker.exists(), "sstp did not wait for pppd to finish");
}

#[test]
fn connect_prints_the_link_from_the_plugins_ipc_records() {
    // The plugin's sstp-ipc-fd option is privileged: `sstp connect` uses it only as root.
    if !nix::unistd::geteuid().is_root() {
        integration_tests::testbed::skip_unavailable(
            "needs root (sstp-ipc-fd is a privileged pppd option)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("pppd");
    // Writes one ip-up message in the plugin's format: u32 BE length + "key=value", 0 ends it.
    std::fs::write(
        &fake,
        r#"#!/bin/sh
fd=""; prev=""
for a in "$@"; do [ "$prev" = sstp-ipc-fd ] && fd="$a"; prev="$a"; done
[ -n "$fd" ] || { echo "no sstp-ipc-fd" >&2; exit 1; }
eval "printf '\000\000\000\013event=ip-up\000\000\000\013ifname=ppp9\000\000\000\022ip4.local=10.1.0.2\000\000\000\021ip4.peer=10.1.0.1\000\000\000\021ip4.dns=10.1.0.53\000\000\000\000' >&$fd"
sleep 0.5
exit 0
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    let out = sstp(&[
        "connect",
        "127.0.0.1",
        "-u",
        "alice",
        "--password-file",
        pw.to_str().unwrap(),
        "--plugin",
        plugin.to_str().unwrap(),
        "--pppd",
        fake.to_str().unwrap(),
    ]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("tunnel is up on ppp9"), "{stderr}");
    assert!(stderr.contains("local address: 10.1.0.2"), "{stderr}");
    assert!(stderr.contains("peer address:  10.1.0.1"), "{stderr}");
    assert!(stderr.contains("DNS:           10.1.0.53"), "{stderr}");
}

#[test]
fn a_lingering_child_of_pppd_does_not_keep_sstp_waiting() {
    // An ip-up script may start a daemon that inherits pppd's output pipe; sstp must still
    // return once pppd itself has exited.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("pppd");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'Using interface ppp0'\n(sleep 30 &)\nexit 0\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    let t0 = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sstp"))
        .args([
            "connect",
            "127.0.0.1",
            "-u",
            "alice",
            "--password-file",
            pw.to_str().unwrap(),
            "--plugin",
            plugin.to_str().unwrap(),
            "--pppd",
            fake.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // read stderr until sstp closes its end (not the lingering sleep, which inherited
    // only pppd's pipe)
    let out = out.wait_with_output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Using interface ppp0"), "{stderr}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(10),
        "sstp waited for pppd's child: {:?}",
        t0.elapsed()
    );
}

/// A stand-in pppd that records what it got for `sstp-proxy-auth-fd` in `report`: the fd, its
/// type and the content up to end of file (it fails when the proxy password is on its argv).
/// With `FAKE_WAIT` set it waits for SIGTERM.
fn proxy_recording_pppd(dir: &std::path::Path, report: &std::path::Path) -> std::path::PathBuf {
    let fake = dir.join("pppd");
    std::fs::write(
        &fake,
        format!(
            r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "pppd version 2.4.9"; exit 0; fi
fd=""; prev=""
for a in "$@"; do
  case "$a" in *pr0xy*) echo "proxy password on argv" >&2; exit 1;; esac
  [ "$prev" = sstp-proxy-auth-fd ] && fd="$a"
  [ "$prev" = sstp-proxy-auth-file ] && echo "auth-file on argv" >&2
  [ "$prev" = sstp-proxy ] && echo "url=$a" > {report}.url
  prev="$a"
done
[ -n "$fd" ] || {{ echo "no sstp-proxy-auth-fd" >&2; exit 1; }}
{{
  echo "fd=$fd"
  echo "type=$(stat -L -c '%F' /proc/self/fd/$fd)"
  eval "cat <&$fd"
}} > {report}
echo "Using interface ppp3"
if [ -n "$FAKE_WAIT" ]; then
  trap 'echo "Terminating on signal 15"; exit 5' TERM
  while :; do sleep 0.1; done
fi
exit "$FAKE_STATUS"
"#,
            report = report.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    fake
}

#[test]
fn connect_hands_the_proxy_password_over_in_a_pipe_never_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let fake = proxy_recording_pppd(dir.path(), &report);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw\n").unwrap();
    let ppw = dir.path().join("proxy-pw");
    std::fs::write(&ppw, "pr0xy p:w\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    for f in [&pw, &ppw] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    let args = |user: &'static str| {
        vec![
            "connect".to_string(),
            "127.0.0.1".into(),
            "-u".into(),
            "alice".into(),
            "--password-file".into(),
            pw.to_str().unwrap().into(),
            "--plugin".into(),
            plugin.to_str().unwrap().into(),
            "--pppd".into(),
            fake.to_str().unwrap().into(),
            "--no-ipc".into(),
            "--proxy".into(),
            // the user in the URL is replaced by --proxy-user when given
            "http://urluser@127.0.0.1:3128".into(),
            "--proxy-password-file".into(),
            ppw.to_str().unwrap().into(),
        ]
        .into_iter()
        .chain(
            (!user.is_empty())
                .then(|| ["--proxy-user".into(), user.into()])
                .into_iter()
                .flatten(),
        )
        .collect::<Vec<String>>()
    };
    let check_report = |want_user: &str| {
        let r = std::fs::read_to_string(&report).unwrap();
        let fd: i32 = r
            .lines()
            .next()
            .unwrap()
            .strip_prefix("fd=")
            .unwrap()
            .parse()
            .unwrap();
        assert!(fd > 2, "{r}");
        assert!(r.contains("\ntype=fifo\n"), "not a pipe: {r}");
        // exactly the two lines, then end of file
        assert!(
            r.ends_with(&format!("type=fifo\n{want_user}\npr0xy p:w\n")),
            "{r}"
        );
        // the URL lost its user: the credentials come from the pipe only
        let url = std::fs::read_to_string(report.with_extension("url")).unwrap();
        assert_eq!(url.trim(), "url=http://127.0.0.1:3128");
        std::fs::remove_file(&report).unwrap();
    };
    let leftovers = || std::fs::read_dir(&tmp).unwrap().count();

    for (status, want, user) in [(0, 0, "bob"), (2, 2, ""), (8, 15, "CORP\\bob")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sstp"))
            .args(args(user))
            .env("TMPDIR", &tmp)
            .env("FAKE_STATUS", status.to_string())
            .output()
            .unwrap();
        let (stdout, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(want), "pppd {status}: {stderr}");
        assert!(!stderr.contains("on argv"), "{stderr}");
        assert!(
            !stdout.contains("pr0xy") && !stderr.contains("pr0xy"),
            "{stderr}"
        );
        assert!(stderr.contains("sstp-proxy-auth-fd"), "{stderr}");
        check_report(if user.is_empty() { "urluser" } else { user });
        assert_eq!(leftovers(), 0, "a file in TMPDIR (pppd {status})");
    }

    // While pppd runs, nothing is on disk either; Ctrl-C still ends it cleanly.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sstp"))
        .args(args("bob"))
        .env("TMPDIR", &tmp)
        .env("FAKE_WAIT", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !report.exists() && t0.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(leftovers(), 0, "a file in TMPDIR while pppd runs");
    common::interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Terminating on signal 15"), "{stderr}");
    check_report("bob");
}

#[test]
fn connect_passes_a_proxy_auth_file_through() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("sstp-rs.so");
    std::fs::write(&plugin, b"x").unwrap();
    let auth = dir.path().join("proxy auth");
    std::fs::write(&auth, "bob:pr0xy\n").unwrap();
    let base = |proxy: &str, extra: &[&str]| {
        let mut v = vec![
            "connect",
            "127.0.0.1",
            "-u",
            "alice",
            "--plugin",
            plugin.to_str().unwrap(),
            "--pppd",
            "/usr/sbin/pppd",
            "--dry-run",
            "--proxy",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        v.push(proxy.into());
        v.extend(extra.iter().map(|s| s.to_string()));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sstp"))
            .args(&v)
            .current_dir(dir.path())
            .output()
            .unwrap();
        out
    };
    // A relative path is made absolute (pppd may change directory).
    let out = base(
        "http://127.0.0.1:3128",
        &["--proxy-auth-file", "proxy auth"],
    );
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("sstp-proxy-auth-file '{}'", auth.display())),
        "{stdout}"
    );
    assert!(!stderr.contains("warning: the proxy"), "{stderr}");
    // Credentials in the URL: not passed to pppd when a file is given, and a warning.
    let out = base(
        "http://bob:pr0xy@127.0.0.1:3128",
        &["--proxy-auth-file", auth.to_str().unwrap()],
    );
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("sstp-proxy http://127.0.0.1:3128 "),
        "{stdout}"
    );
    assert!(!stdout.contains("pr0xy"), "{stdout}");
    assert!(stderr.contains("--proxy URL is not used"), "{stderr}");
    // Without a file the URL's password goes to pppd, with the existing warning.
    let out = base("http://bob:pr0xy@127.0.0.1:3128", &[]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("sstp-proxy 'http://bob:***@127.0.0.1:3128'"),
        "{stdout}"
    );
    assert!(!stdout.contains("sstp-proxy-auth-file"), "{stdout}");
    assert!(stderr.contains("warning: the proxy password goes on pppd's command line"));
    // Dry run with --proxy-password-file: a placeholder fd, the password nowhere.
    let ppw = dir.path().join("ppw");
    std::fs::write(&ppw, "pr0xy\n").unwrap();
    let out = base(
        "http://127.0.0.1:3128",
        &[
            "--proxy-user",
            "bob",
            "--proxy-password-file",
            ppw.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("sstp-proxy-auth-fd 5"), "{stdout}");
    assert!(!stdout.contains("sstp-proxy-auth-file"), "{stdout}");
    assert!(!stdout.contains("pr0xy") && !stderr.contains("pr0xy"));
}

#[test]
fn proxy_credential_option_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, "x\n").unwrap();
    let f = f.to_str().unwrap();
    let missing = dir.path().join("missing");
    for (args, want) in [
        // needs --proxy
        (vec!["--proxy-password-file", f], "--proxy"),
        (vec!["--proxy-auth-file", f], "--proxy"),
        (vec!["--proxy-user", "bob"], "--proxy"),
        // one source at a time
        (
            vec![
                "--proxy",
                "http://p:1",
                "--proxy-auth-file",
                f,
                "--proxy-user",
                "b",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "--proxy",
                "http://p:1",
                "--proxy-auth-file",
                f,
                "--proxy-password-file",
                f,
            ],
            "cannot be used with",
        ),
        // a password without a user
        (
            vec!["--proxy", "http://p:1", "--proxy-password-file", f],
            "needs a user",
        ),
        (
            vec![
                "--proxy",
                "http://p:1",
                "--proxy-auth-file",
                missing.to_str().unwrap(),
            ],
            "--proxy-auth-file",
        ),
        (
            vec![
                "--proxy",
                "http://u@p:1",
                "--proxy-password-file",
                "-",
                "--password-file",
                "-",
            ],
            "standard input",
        ),
    ] {
        let mut a = vec!["connect", "h", "-u", "alice", "--dry-run"];
        a.extend(args.iter().copied());
        let out = sstp(&a);
        let (_, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
