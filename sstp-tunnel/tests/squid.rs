//! connect() through a real Squid on 127.0.0.1 with proxy authentication (Basic via
//! basic_ncsa_auth, Digest via digest_file_auth, the NTLM message flow via ntlm_fake_auth),
//! ending in the SSTP HTTP handshake with a loopback TLS server. Skipped when Squid is missing.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sstp_tunnel::*;

const SQUID: &str = "/usr/sbin/squid";
const HELPERS: &str = "/usr/lib/squid";

struct Squid {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn available() -> bool {
    let ok = Path::new(SQUID).exists() && Path::new(HELPERS).join("basic_ncsa_auth").exists();
    if !ok {
        // Under CI the setup installs squid: a missing one is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "squid is missing under CI"
        );
        eprintln!("SKIPPED: squid or its auth helpers are not installed");
    }
    ok
}

fn squid(tag: &str, auth: &str, files: &[(&str, String)]) -> Squid {
    let dir = std::env::temp_dir().join(format!("sstp-tunnel-squid-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.display();
    std::fs::write(
        dir.join("squid.conf"),
        format!(
            "http_port 127.0.0.1:{port}\npid_filename {d}/squid.pid\ncache_log {d}/cache.log\n\
             access_log stdio:{d}/access.log\ncoredump_dir {d}\ncache deny all\n\
             cache_effective_user proxy\nshutdown_lifetime 0 seconds\n{auth}\n\
             acl authed proxy_auth REQUIRED\nhttp_access allow authed\nhttp_access deny all\n"
        ),
    )
    .unwrap();
    // Squid runs as "proxy": it must write its logs and read the password files.
    Command::new("chmod")
        .arg("-R")
        .arg("a+rwX")
        .arg(&dir)
        .status()
        .unwrap();
    let child = Command::new(SQUID)
        .arg("-N")
        .arg("-f")
        .arg(dir.join("squid.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Squid { child, dir, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "squid did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

/// Connects through `proxy` with `user`/`password` to a fresh loopback TLS server.
fn through(proxy: &Squid, user: &str, password: &str) -> Result<Established, TunnelError> {
    through_refusing(proxy, user, password, false)
}

/// [`through`], refusing Basic when `refuse_basic` (`sstp-proxy-no-basic`).
fn through_refusing(
    proxy: &Squid,
    user: &str,
    password: &str,
    refuse_basic: bool,
) -> Result<Established, TunnelError> {
    let ca = Ca::new("CA");
    let (cert, key) = ca.issue(&LeafSpec::server("localhost"));
    let srv = tls_server(ServerOpts::new(cert, key, Reply::Bytes(RRAS_OK.to_vec())));
    let mut cfg = TunnelConfig::new("127.0.0.1");
    cfg.port = srv.addr.port();
    cfg.sni = Some("localhost".into());
    cfg.ca_file = Some(ca.file.clone());
    cfg.proxy = Some(ProxyConfig {
        refuse_basic,
        host: "127.0.0.1".into(),
        port: proxy.port,
        credentials: Some(ProxyCredentials {
            user: user.into(),
            password: password.into(),
        }),
    });
    let r = connect(&cfg);
    if r.is_err() {
        // Unblock the server thread (it waits for a TLS client).
        let _ = TcpStream::connect(srv.addr);
    }
    drop(srv);
    r
}

#[test]
fn basic_digest_and_ntlm_through_squid() {
    if !available() {
        return;
    }
    let hash = Command::new("openssl")
        .args(["passwd", "-apr1", "s3cret pass"])
        .output()
        .unwrap();
    let line = format!("alice:{}", String::from_utf8(hash.stdout).unwrap().trim());
    let basic = squid(
        "basic",
        &format!(
            "auth_param basic program {HELPERS}/basic_ncsa_auth {}/passwd\nauth_param basic realm sstp",
            std::env::temp_dir()
                .join(format!("sstp-tunnel-squid-basic-{}", std::process::id()))
                .display()
        ),
        &[("passwd", line + "\n")],
    );
    let e = through_refusing(&basic, "alice", "s3cret pass", true).unwrap_err();
    assert_eq!(e.category(), FailureCategory::Proxy);
    assert!(matches!(&e, TunnelError::ProxyBasicRefused { .. }), "{e:?}");
    assert!(
        e.to_string().contains("offers only Basic authentication"),
        "{e}"
    );
    let est = through(&basic, "alice", "s3cret pass").expect("Basic through Squid");
    assert!(est.via_proxy);
    assert_eq!(est.http.response.status, 200);
    drop(est);
    let e = through(&basic, "alice", "wrong").unwrap_err();
    assert_eq!(e.category(), FailureCategory::Proxy);
    match &e {
        TunnelError::ProxyAuthRequired {
            had_credentials: true,
            detail: Some(d),
            schemes,
            ..
        } => {
            assert!(d.contains("rejected"), "{d}");
            assert!(
                schemes.iter().any(|s| s.starts_with("Basic")),
                "{schemes:?}"
            );
        }
        other => panic!("{other}"),
    }
    drop(basic);

    let digest_dir =
        std::env::temp_dir().join(format!("sstp-tunnel-squid-digest-{}", std::process::id()));
    let digest = squid(
        "digest",
        &format!(
            "auth_param digest program {HELPERS}/digest_file_auth {}/digestpw\n\
             auth_param digest realm sstp-digest",
            digest_dir.display()
        ),
        &[("digestpw", "bob:digest pass\n".into())],
    );
    through(&digest, "bob", "digest pass").expect("Digest through Squid");
    drop(digest);

    if Path::new(HELPERS).join("ntlm_fake_auth").exists() {
        let ntlm = squid(
            "ntlm",
            &format!(
                "auth_param ntlm program {HELPERS}/ntlm_fake_auth\nauth_param ntlm children 1\n\
                 auth_param basic program {HELPERS}/basic_fake_auth\nauth_param basic realm fb"
            ),
            &[],
        );
        // ntlm_fake_auth checks the message flow (same connection, NEGOTIATE/CHALLENGE/
        // AUTHENTICATE), not the password.
        through(&ntlm, "DOMAIN\\carol", "x").expect("NTLM flow through Squid");
        // NTLM is chosen over the Basic the proxy also offers: refusing Basic changes nothing.
        through_refusing(&ntlm, "DOMAIN\\carol", "x", true).expect("NTLM with Basic refused");
    }
}
