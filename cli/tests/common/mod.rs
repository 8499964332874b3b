//! A minimal loopback TLS + SSTP server for the `sstp probe` tests (one connection per
//! server), with a self-signed certificate generated at run time.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use sstp_proto::wire::{decode_control, ControlMessage, Deframer, MessageType};
use sstp_proto::HashProtocols;

/// What the server does after the TLS handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// HTTP/1.1 200, CALL_CONNECT_ACK offering these hash protocols, CALL_DISCONNECT_ACK.
    Sstp(HashProtocols),
    /// Answers the SSTP request with HTTP/1.0.
    Http10,
    /// Answers with HTTP/1.1 200 and then a CALL_CONNECT_NAK for every request.
    Nak,
    /// Accepts TCP and sends plain HTTP instead of TLS.
    NotTls,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The HTTP request head.
    pub request_head: String,
    /// Control messages received, in order.
    pub messages: Vec<MessageType>,
    /// The client closed TLS with close_notify.
    pub close_notify: bool,
}

/// A running one-shot server.
pub struct Server {
    /// Its port.
    pub port: u16,
    /// Its address.
    pub local: std::net::SocketAddr,
    /// The certificate (PEM) — usable as a CA file, it is self-signed.
    pub cert_pem: Vec<u8>,
    /// Lowercase hex SHA-256 of the certificate's DER.
    pub sha256_hex: String,
    handle: Option<JoinHandle<Result<Seen, String>>>,
}

/// A self-signed ECDSA certificate for CN=sstp-test, SAN localhost + 127.0.0.1 + ::1, EKU
/// Server Authentication.
pub fn self_signed() -> (X509, PKey<Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "sstp-test").unwrap();
    name.append_entry_by_text("O", "sstp-rs tests").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .ip("::1")
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Server {
    /// Starts a server for one connection on 127.0.0.1.
    pub fn start(mode: Mode) -> Server {
        Server::start_on("127.0.0.1:0", mode).unwrap()
    }

    /// Starts a server for one connection on `bind` (e.g. `[::1]:0`).
    pub fn start_on(bind: &str, mode: Mode) -> std::io::Result<Server> {
        let (cert, key) = self_signed();
        let listener = TcpListener::bind(bind)?;
        let local = listener.local_addr().unwrap();
        let port = local.port();
        let cert_pem = cert.to_pem().unwrap();
        let sha256_hex = hex(&cert.digest(MessageDigest::sha256()).unwrap());
        let handle = thread::spawn(move || serve(listener, cert, key, mode));
        Ok(Server {
            port,
            local,
            cert_pem,
            sha256_hex,
            handle: Some(handle),
        })
    }

    /// `127.0.0.1:PORT` or `[::1]:PORT`.
    pub fn addr(&self) -> String {
        self.local.to_string()
    }

    /// Writes the certificate to `dir/ca.pem` and returns the path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let p = dir.join("ca.pem");
        std::fs::write(&p, &self.cert_pem).unwrap();
        p
    }

    /// Waits for the connection to end and returns what the server saw.
    pub fn finish(mut self) -> Result<Seen, String> {
        self.handle
            .take()
            .unwrap()
            .join()
            .map_err(|_| "server thread panicked".to_string())?
    }
}

fn serve(
    listener: TcpListener,
    cert: X509,
    key: PKey<Private>,
    mode: Mode,
) -> Result<Seen, String> {
    let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.set_nodelay(true).unwrap();
    if mode == Mode::NotTls {
        return not_tls(tcp);
    }
    let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acc.set_private_key(&key).unwrap();
    acc.set_certificate(&cert).unwrap();
    let acc = acc.build();
    let mut tls = acc.accept(tcp).map_err(|e| format!("TLS accept: {e}"))?;
    let mut seen = Seen::default();

    // HTTP request head.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return Err("connection ended in the HTTP request".into()),
        }
        if head.len() > 8192 {
            return Err("HTTP request too long".into());
        }
    }
    seen.request_head = String::from_utf8_lossy(&head).into_owned();
    if mode == Mode::Http10 {
        tls.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let _ = tls.shutdown();
        return Ok(seen);
    }
    tls.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\
          Server: Microsoft-HTTPAPI/2.0\r\n\r\n",
    )
    .map_err(|e| e.to_string())?;

    let mut deframer = Deframer::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match tls.read(&mut buf) {
            Ok(0) => {
                seen.close_notify = true;
                return Ok(seen);
            }
            Ok(n) => n,
            Err(e) => {
                // An EOF without close_notify is an error for OpenSSL.
                if seen.messages.is_empty() {
                    return Err(format!("reading SSTP: {e}"));
                }
                return Ok(seen);
            }
        };
        let mut packets = Vec::new();
        deframer
            .feed(&buf[..n], |p| {
                packets.push(p.to_vec());
                true
            })
            .map_err(|e| format!("bad SSTP from the client: {e}"))?;
        for p in packets {
            let Some(msg) = decode_control(&p).map_err(|e| e.to_string())? else {
                return Err("unexpected data packet".into());
            };
            seen.messages.push(msg.message_type);
            let reply = match (msg.message_type, mode) {
                (MessageType::CallConnectRequest, Mode::Sstp(h)) => {
                    Some(ControlMessage::call_connect_ack(h, [0x5a; 32]))
                }
                (MessageType::CallConnectRequest, Mode::Nak) => {
                    Some(ControlMessage::call_connect_nak(Vec::new()))
                }
                (MessageType::CallDisconnect, _) => {
                    Some(ControlMessage::new(MessageType::CallDisconnectAck))
                }
                (MessageType::CallAbort, _) => Some(ControlMessage::call_abort(None)),
                _ => None,
            };
            if let Some(r) = reply {
                tls.write_all(&r.to_bytes().map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
}

fn not_tls(mut tcp: TcpStream) -> Result<Seen, String> {
    let mut buf = [0u8; 512];
    let _ = tcp.read(&mut buf);
    let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    Ok(Seen::default())
}

/// Runs the built `sstp` binary.
pub fn sstp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sstp"))
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("run sstp")
}

/// Sends SIGINT (Ctrl-C) to a spawned `sstp`.
pub fn interrupt(child: &std::process::Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
}

/// stdout and stderr as text.
pub fn texts(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A one-connection HTTP CONNECT proxy on 127.0.0.1.
pub struct Proxy {
    /// Its port.
    pub port: u16,
    handle: Option<JoinHandle<String>>,
}

/// What the proxy answers to CONNECT.
#[derive(Clone, Copy, Debug)]
pub enum ProxyMode {
    /// `200 Connection established`, then relay to the requested 127.0.0.1 port.
    Allow,
    /// This status (403, 407, ...).
    Refuse(u16),
    /// 407 with a Basic challenge until a CONNECT carries this `Proxy-Authorization` value
    /// (on the same connection), then like `Allow`.
    Basic(&'static str),
}

fn read_head(c: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match c.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn relay(mut c: TcpStream, head: &str) {
    // CONNECT 127.0.0.1:PORT HTTP/1.1
    let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let Some(port) = target
        .strip_prefix("127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok())
    else {
        let _ = c.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n");
        return;
    };
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    c.set_read_timeout(None).unwrap();
    let (mut c2, mut s2) = (c.try_clone().unwrap(), s.try_clone().unwrap());
    let t = thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(std::net::Shutdown::Write);
    });
    let (mut s3, mut c3) = (s, c);
    let _ = std::io::copy(&mut s3, &mut c3);
    let _ = c3.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

impl Proxy {
    /// Starts the proxy.
    pub fn start(mode: ProxyMode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let Ok((mut c, _)) = listener.accept() else {
                return String::new();
            };
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut head = read_head(&mut c);
            match mode {
                ProxyMode::Refuse(status) => {
                    let extra = if status == 407 {
                        "Proxy-Authenticate: Basic realm=\"test\"\r\n"
                    } else {
                        ""
                    };
                    let _ = c.write_all(
                        format!(
                            "HTTP/1.1 {status} Nope\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                }
                ProxyMode::Allow => relay(c, &head),
                ProxyMode::Basic(want) => {
                    let mut all = String::new();
                    for _ in 0..3 {
                        all.push_str(&head);
                        let ok = head.lines().any(|l| {
                            l.split_once(':').is_some_and(|(k, v)| {
                                k.eq_ignore_ascii_case("proxy-authorization") && v.trim() == want
                            })
                        });
                        if ok {
                            relay(c, &head);
                            return all;
                        }
                        let _ = c.write_all(
                            b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                              Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
                        );
                        head = read_head(&mut c);
                        if head.is_empty() {
                            break;
                        }
                    }
                    return all;
                }
            }
            head
        });
        Proxy {
            port,
            handle: Some(handle),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The CONNECT request head it received.
    pub fn finish(mut self) -> String {
        self.handle.take().unwrap().join().unwrap_or_default()
    }
}
