//! Against a real Squid on 127.0.0.1: Basic (basic_ncsa_auth), Digest (digest_file_auth) and
//! the NTLM message flow (ntlm_fake_auth, which parses our messages but checks no password).
//! A CONNECT through the proxy reaches a local listener that answers "hello".
//!
//! Skipped (with a message) when /usr/sbin/squid or openssl is missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sstp_proxy_auth::{AuthError, AuthScheme, Credentials, Entropy, ProxyAuthenticator};

const SQUID: &str = "/usr/sbin/squid";

struct Squid {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("KEEP_SQUID_DIR").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tools_present() -> bool {
    let openssl = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !Path::new(SQUID).exists() || !openssl {
        // Under CI the setup installs squid: a missing one is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "squid or openssl is missing under CI"
        );
        eprintln!("SKIPPED: squid or openssl not installed");
        return false;
    }
    true
}

/// Start Squid with `auth_lines` (auth_param ...) in a private directory.
fn start_squid(name: &str, auth_lines: &str, files: &[(&str, String)]) -> Squid {
    let dir = std::env::temp_dir().join(format!("proxy-auth-squid-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, content) in files {
        std::fs::write(dir.join(f), content).unwrap();
    }
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "http_port 127.0.0.1:{port}\n\
         pid_filename {d}/squid.pid\n\
         cache_log {d}/cache.log\n\
         logformat who %un %rm %ru %>Hs\n\
         access_log stdio:{d}/access.log who\n\
         coredump_dir {d}\n\
         cache deny all\n\
         cache_effective_user proxy\n\
         shutdown_lifetime 0 seconds\n\
         {auth_lines}\n\
         acl authed proxy_auth REQUIRED\n\
         http_access allow authed\n\
         http_access deny all\n"
    );
    std::fs::write(dir.join("squid.conf"), conf).unwrap();
    // Squid drops to the proxy user: it must be able to write logs and read the password files.
    Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(&dir)
        .status()
        .unwrap();
    let child = Command::new(SQUID)
        .args(["-N", "-f"])
        .arg(dir.join("squid.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let squid = Squid { child, dir, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "squid did not start; cache.log:\n{}",
            std::fs::read_to_string(squid.dir.join("cache.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    squid
}

/// A listener that writes "hello" to whoever connects.
fn hello_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let _ = s.write_all(b"hello");
        }
    });
    addr
}

struct Response {
    status: u16,
    challenges: Vec<String>,
    close: bool,
}

fn read_response(r: &mut BufReader<TcpStream>) -> Response {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut challenges = Vec::new();
    let mut len = 0usize;
    let mut close = false;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "proxy-authenticate" => challenges.push(value.to_owned()),
            "content-length" => len = value.parse().unwrap(),
            "connection" | "proxy-connection" if value.eq_ignore_ascii_case("close") => {
                close = true
            }
            _ => {}
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    Response {
        status,
        challenges,
        close,
    }
}

/// The CONNECT loop sstp-tunnel runs: returns the tunnel stream or the auth error. The reader
/// is returned as is: bytes after the 200 head may already sit in its buffer.
fn connect(
    proxy: u16,
    target: &str,
    auth: &mut ProxyAuthenticator,
) -> Result<BufReader<TcpStream>, AuthError> {
    let mut seed = 0u8;
    let mut header = auth.initial_header();
    let mut stream: Option<BufReader<TcpStream>> = None;
    for _ in 0..6 {
        let r = stream.get_or_insert_with(|| {
            BufReader::new(TcpStream::connect(("127.0.0.1", proxy)).unwrap())
        });
        let mut req =
            format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nSSTPVERSION: 1.0\r\n");
        if let Some(h) = &header {
            req.push_str(&format!("Proxy-Authorization: {h}\r\n"));
        }
        req.push_str("\r\n");
        r.get_mut().write_all(req.as_bytes()).unwrap();
        let resp = read_response(r);
        match resp.status {
            200 => {
                auth.on_success();
                return Ok(stream.take().unwrap());
            }
            407 => {
                seed += 1;
                let entropy = Entropy {
                    random: [seed; 32],
                    unix_time: Duration::from_secs(1_750_000_000),
                };
                let step = auth.respond(&resp.challenges, 407, &entropy)?;
                if resp.close {
                    assert!(!step.needs_same_connection, "proxy closed mid-NTLM");
                    stream = None;
                }
                header = Some(step.header_value.clone());
            }
            s => panic!("unexpected status {s}"),
        }
    }
    panic!("too many rounds");
}

fn read_hello(mut s: BufReader<TcpStream>) {
    s.get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
}

fn access_log(squid: &Squid) -> String {
    // Squid writes the log line after the transaction; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = std::fs::read_to_string(squid.dir.join("access.log")).unwrap_or_default();
        if log.contains(" 200") || Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn squid_basic_digest_and_ntlm() {
    if !tools_present() {
        return;
    }
    let target = hello_server().to_string();

    // Basic, checked against an htpasswd (MD5-crypt) file.
    let hash = Command::new("openssl")
        .args(["passwd", "-apr1", "open sesame"])
        .output()
        .unwrap();
    let line = format!("Aladdin:{}", String::from_utf8(hash.stdout).unwrap());
    let squid = start_squid(
        "basic",
        &format!(
            "auth_param basic program /usr/lib/squid/basic_ncsa_auth {}/passwd\n\
             auth_param basic realm sstp-test\n\
             auth_param basic casesensitive on",
            std::env::temp_dir()
                .join(format!("proxy-auth-squid-basic-{}", std::process::id()))
                .display()
        ),
        &[("passwd", line)],
    );
    let mut a = ProxyAuthenticator::new(Credentials::new("Aladdin", "open sesame"), &target);
    read_hello(connect(squid.port, &target, &mut a).unwrap());
    // Basic worked, so the next attempt sends it preemptively and needs no 407.
    assert!(a.initial_header().is_some());
    let mut a = ProxyAuthenticator::new(Credentials::new("Aladdin", "wrong"), &target);
    assert_eq!(
        connect(squid.port, &target, &mut a).unwrap_err(),
        AuthError::CredentialsRejected {
            scheme: AuthScheme::Basic
        }
    );
    assert!(
        access_log(&squid).contains("Aladdin CONNECT"),
        "{}",
        access_log(&squid)
    );
    drop(squid);

    // Digest (Squid offers MD5 with qop=auth), checked against a plain-text user file.
    let dir = std::env::temp_dir().join(format!("proxy-auth-squid-digest-{}", std::process::id()));
    let squid = start_squid(
        "digest",
        &format!(
            "auth_param digest program /usr/lib/squid/digest_file_auth {}/digestpw\n\
             auth_param digest realm sstp-digest",
            dir.display()
        ),
        &[("digestpw", "Mufasa:Circle of Life\n".to_owned())],
    );
    let mut a = ProxyAuthenticator::new(Credentials::new("Mufasa", "Circle of Life"), &target);
    read_hello(connect(squid.port, &target, &mut a).unwrap());
    // Preemptive Digest with nc=2 on a new connection is accepted without a 407.
    let h = a.initial_header().expect("preemptive digest");
    assert!(h.contains("nc=00000002"), "{h}");
    let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", squid.port)).unwrap());
    write!(
        s.get_mut(),
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {h}\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_response(&mut s).status, 200);
    read_hello(s);
    let mut a = ProxyAuthenticator::new(Credentials::new("Mufasa", "wrong"), &target);
    assert_eq!(
        connect(squid.port, &target, &mut a).unwrap_err(),
        AuthError::CredentialsRejected {
            scheme: AuthScheme::Digest
        }
    );
    assert!(access_log(&squid).contains("Mufasa CONNECT"));
    drop(squid);

    // NTLM message flow: ntlm_fake_auth accepts any password but Squid parses our NEGOTIATE and
    // AUTHENTICATE and logs the domain\user it found, over one kept-alive connection.
    let squid = start_squid(
        "ntlm",
        "auth_param ntlm program /usr/lib/squid/ntlm_fake_auth\n\
         auth_param ntlm children 1\n\
         auth_param basic program /usr/lib/squid/basic_fake_auth\n\
         auth_param basic realm fallback",
        &[],
    );
    let creds = Credentials::new("CORP\\alice", "anything");
    let mut a = ProxyAuthenticator::new(creds, &target);
    read_hello(connect(squid.port, &target, &mut a).unwrap());
    let log = access_log(&squid);
    assert!(
        log.to_ascii_lowercase().contains("corp\\alice connect"),
        "{log}"
    );
}
