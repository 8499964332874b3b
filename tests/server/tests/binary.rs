//! The two binaries: `sstp-test-certs` writes the PKI, `sstp-test-server --once` serves one
//! client with a fault and prints the outcome.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sstp_proto::client::{ClientConfig, CloseReason};
use sstp_proto::http::HttpError;
use sstp_proto::wire::StatusCode;
use sstp_test_server::Fault;
use sstp_tunnel::{connect, TrustFailureKind, TunnelConfig, TunnelError};

const SERVER: &str = env!("CARGO_BIN_EXE_sstp-test-server");
const CERTS: &str = env!("CARGO_BIN_EXE_sstp-test-certs");

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sstp-test-bin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Running {
    child: std::process::Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that failed half-way must not leave the server behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts the server binary on 127.0.0.1:0 with `--once` and waits for its port file.
// The child is waited for in `finish` or in `Running`'s Drop.
#[allow(clippy::zombie_processes)]
fn start(dir: &std::path::Path, cert: &str, extra: &[&str]) -> Running {
    let port_file = dir.join(format!("port-{cert}-{}", extra.join("_").replace('/', "")));
    let _ = std::fs::remove_file(&port_file);
    let mut child = Command::new(SERVER)
        .args(["--listen", "127.0.0.1:0", "--once", "--quiet"])
        .arg("--cert")
        .arg(dir.join(format!("{cert}.pem")))
        .arg("--key")
        .arg(dir.join(format!("{cert}.key")))
        .arg("--port-file")
        .arg(&port_file)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(&port_file) {
            if let Ok(port) = s.trim().parse() {
                return Running { child, port };
            }
        }
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no port file");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(mut r: Running) -> String {
    let t0 = Instant::now();
    loop {
        if let Some(st) = r.child.try_wait().unwrap() {
            assert!(st.success(), "{st}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    r.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

fn cfg(dir: &std::path::Path, port: u16) -> TunnelConfig {
    let mut c = TunnelConfig::new("localhost");
    c.port = port;
    c.ca_file = Some(dir.join("ca.pem"));
    c
}

#[test]
fn certs_and_server_binaries() {
    let dir = tmpdir("set");
    let st = Command::new(CERTS)
        .arg("--out")
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    for (stem, _) in sstp_test_server::certs::STANDARD_SET {
        assert!(dir.join(format!("{stem}.pem")).exists(), "{stem}");
        assert!(dir.join(format!("{stem}.key")).exists(), "{stem}");
    }

    // Default: the probe gets through CALL_CONNECT_ACK; the server reports the end.
    let r = start(&dir, "server", &[]);
    let (mut est, client) =
        common::connect_negotiate(&cfg(&dir, r.port), &ClientConfig::default()).unwrap();
    assert_eq!(client.hash_protocol().unwrap().to_string(), "SHA256");
    let _ = est.stream.shutdown();
    drop(est);
    let out = finish(r);
    assert!(
        out.contains("outcome: session ended: connection closed without SSTP teardown"),
        "{out}"
    );

    // --fault http-status 404 (two-word form).
    let r = start(&dir, "server", &["--fault", "http-status", "404"]);
    match connect(&cfg(&dir, r.port)).unwrap_err() {
        TunnelError::Http {
            source: HttpError::Refused { status: 404, .. },
            ..
        } => {}
        other => panic!("{other}"),
    }
    assert!(finish(r).contains("outcome: fault http-status=404 done"));

    // --fault nak=2 and --hash-bitmask 1.
    let r = start(&dir, "server", &["--fault=nak=2", "--hash-bitmask", "1"]);
    match common::connect_negotiate(&cfg(&dir, r.port), &ClientConfig::default()).unwrap_err() {
        TunnelError::Call(CloseReason::ConnectNak { statuses, .. }) => {
            assert_eq!(statuses[0].status, StatusCode::UnrecognizedAttribute)
        }
        other => panic!("{other}"),
    }
    finish(r);
    let r = start(&dir, "server", &["--hash-bitmask", "1"]);
    let (_est, client) =
        common::connect_negotiate(&cfg(&dir, r.port), &ClientConfig::default()).unwrap();
    assert_eq!(client.hash_protocol().unwrap().to_string(), "SHA1");
    drop(_est);
    finish(r);

    // The generated bad certificates.
    for (stem, want) in [
        ("client-auth-only", "Eku"),
        ("wrong-name", "NameMismatch"),
        ("expired", "Validity"),
        ("self-signed", "UntrustedChain"),
    ] {
        let r = start(&dir, stem, &[]);
        match connect(&cfg(&dir, r.port)).unwrap_err() {
            TunnelError::Trust(t) => {
                let kind = match t.kind {
                    TrustFailureKind::Eku => "Eku",
                    TrustFailureKind::NameMismatch { .. } => "NameMismatch",
                    TrustFailureKind::Validity => "Validity",
                    TrustFailureKind::UntrustedChain => "UntrustedChain",
                    _ => "other",
                };
                assert_eq!(kind, want, "{stem}");
            }
            other => panic!("{stem}: {other}"),
        }
        assert!(finish(r).contains("outcome: TLS handshake failed"));
    }

    // One extra leaf from the helper with --leaf.
    let st = Command::new(CERTS)
        .arg("--out")
        .arg(&dir)
        .arg("--ca")
        .arg(dir.join("ca"))
        .args(["--leaf", "extra", "--name", "localhost", "--eku", "any"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let r = start(&dir, "extra", &[]);
    drop(connect(&cfg(&dir, r.port)).unwrap());
    finish(r);
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        vec!["--fault", "bogus"],
        vec!["--hash-bitmask", "256"],
        vec!["--cert", "/nonexistent", "--key", "/nonexistent"],
        vec!["--fault", "abort-mid-session"],
        vec!["--what"],
    ] {
        let out = Command::new(SERVER).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = Command::new(SERVER).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--fault"));
}

#[test]
fn fault_names_round_trip() {
    for f in [
        Fault::None,
        Fault::NoHttpResponse,
        Fault::HttpNoVersion,
        Fault::Http10,
        Fault::HttpStatus(503),
        Fault::Nak(StatusCode::ValueNotSupported),
        Fault::AbortAfterConnected,
        Fault::CertHashMismatch,
        Fault::AbortMidSession(Duration::from_millis(2500)),
        Fault::SilentAfterConnect,
        Fault::SilentAfterHttp,
        Fault::CloseAfterTls,
    ] {
        assert_eq!(f.to_string().parse::<Fault>(), Ok(f), "{f}");
    }
    assert_eq!("http-status 403".parse(), Ok(Fault::HttpStatus(403)));
    assert_eq!("nak".parse(), Ok(Fault::Nak(StatusCode::ValueNotSupported)));
    for bad in [
        "",
        "http-status",
        "http-status=abc",
        "nak=x",
        "close-after-tls=1",
    ] {
        assert!(bad.parse::<Fault>().is_err(), "{bad:?}");
    }
}
