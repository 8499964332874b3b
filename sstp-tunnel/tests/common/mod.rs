//! Test PKI (generated at test time) and tiny loopback TLS / proxy servers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut n = X509Name::builder().unwrap();
    n.append_entry_by_text("O", "sstp-rs test").unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

fn serial() -> Asn1Integer {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst) as u32 + 1000;
    BigNum::from_u32(n).unwrap().to_asn1_integer().unwrap()
}

pub struct Ca {
    pub cert: X509,
    pub key: PKey<Private>,
    pub file: PathBuf,
}

impl Drop for Ca {
    fn drop(&mut self) {
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = key();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&serial()).unwrap();
        b.set_subject_name(&name(cn)).unwrap();
        b.set_issuer_name(&name(cn)).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let dir = std::env::temp_dir().join(format!(
            "sstp-tunnel-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ca.pem");
        std::fs::write(&file, cert.to_pem().unwrap()).unwrap();
        Ca { cert, key, file }
    }

    pub fn issue(&self, spec: &LeafSpec) -> (X509, PKey<Private>) {
        make_leaf(spec, Some((&self.cert, &self.key)))
    }
}

#[derive(Clone, Debug)]
pub struct LeafSpec {
    pub cn: String,
    pub dns: Vec<String>,
    pub ips: Vec<String>,
    /// "serverAuth", "clientAuth", "anyExtendedKeyUsage" or empty for no EKU extension.
    pub eku: Vec<&'static str>,
    pub expired: bool,
    /// KeyUsage without any TLS server bit (only nonRepudiation).
    pub ku_bad: bool,
    /// Signed with SHA-1 (below OpenSSL's security level 1).
    pub sha1: bool,
}

impl LeafSpec {
    pub fn server(cn: &str) -> LeafSpec {
        LeafSpec {
            cn: cn.into(),
            dns: vec![cn.into()],
            ips: vec![],
            eku: vec!["serverAuth"],
            expired: false,
            ku_bad: false,
            sha1: false,
        }
    }
}

pub fn self_signed(spec: &LeafSpec) -> (X509, PKey<Private>) {
    make_leaf(spec, None)
}

fn make_leaf(spec: &LeafSpec, issuer: Option<(&X509, &PKey<Private>)>) -> (X509, PKey<Private>) {
    let key = key();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name(&spec.cn)).unwrap();
    match issuer {
        Some((c, _)) => b.set_issuer_name(c.subject_name()).unwrap(),
        None => b.set_issuer_name(&name(&spec.cn)).unwrap(),
    }
    b.set_pubkey(&key).unwrap();
    if spec.expired {
        b.set_not_before(&Asn1Time::from_unix(1_500_000_000).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(1_600_000_000).unwrap())
            .unwrap();
    } else {
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(10).unwrap())
            .unwrap();
    }
    b.append_extension(BasicConstraints::new().build().unwrap())
        .unwrap();
    let ku = if spec.ku_bad {
        KeyUsage::new().critical().non_repudiation().build()
    } else {
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_agreement()
            .build()
    };
    b.append_extension(ku.unwrap()).unwrap();
    if !spec.eku.is_empty() {
        let mut e = ExtendedKeyUsage::new();
        for u in &spec.eku {
            match *u {
                "serverAuth" => e.server_auth(),
                "clientAuth" => e.client_auth(),
                other => e.other(other),
            };
        }
        b.append_extension(e.build().unwrap()).unwrap();
    }
    if !spec.dns.is_empty() || !spec.ips.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for d in &spec.dns {
            san.dns(d);
        }
        for ip in &spec.ips {
            san.ip(ip);
        }
        let ctx = b.x509v3_context(issuer.map(|(c, _)| &**c), None);
        let ext = san.build(&ctx).unwrap();
        b.append_extension(ext).unwrap();
    }
    let sign_key = issuer.map(|(_, k)| k).unwrap_or(&key);
    let digest = if spec.sha1 {
        MessageDigest::sha1()
    } else {
        MessageDigest::sha256()
    };
    b.sign(sign_key, digest).unwrap();
    (b.build(), key)
}

/// What the test server answers after reading the request head.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Send these bytes, then wait for the client to close.
    Bytes(Vec<u8>),
    /// Send nothing for this long.
    Silent(Duration),
    /// Close the connection (TLS close_notify) without answering.
    Close,
}

pub const RRAS_OK: &[u8] = b"HTTP/1.1 200\r\nContent-Length: 18446744073709551615\r\nServer: Microsoft-HTTPAPI/2.0\r\nDate: Thu, 09 Nov 2023 10:00:00 GMT\r\n\r\n";

#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub request: Vec<u8>,
    pub sni: Option<String>,
    pub version: String,
}

pub struct TlsServer {
    pub addr: SocketAddr,
    pub handle: JoinHandle<Result<Seen, String>>,
}

impl TlsServer {
    pub fn join(self) -> Result<Seen, String> {
        self.handle
            .join()
            .unwrap_or_else(|_| Err("server thread panicked".into()))
    }
}

pub struct ServerOpts {
    pub bind: &'static str,
    pub cert: X509,
    pub key: PKey<Private>,
    pub chain: Vec<X509>,
    pub reply: Reply,
    pub max_tls: Option<SslVersion>,
    /// Allow TLS 1.0/1.1 (security level 0), like an old Windows server.
    pub legacy: bool,
}

impl ServerOpts {
    pub fn new(cert: X509, key: PKey<Private>, reply: Reply) -> Self {
        ServerOpts {
            bind: "127.0.0.1:0",
            cert,
            key,
            chain: vec![],
            reply,
            max_tls: None,
            legacy: false,
        }
    }
}

/// A one-connection TLS server on loopback.
pub fn tls_server(o: ServerOpts) -> TlsServer {
    let listener = TcpListener::bind(o.bind).unwrap();
    let addr = listener.local_addr().unwrap();
    let sni = Arc::new(Mutex::new(None));
    let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    if o.legacy {
        // Before the certificate: a legacy server may serve a SHA-1-signed one.
        acc.set_security_level(0);
    }
    acc.set_private_key(&o.key).unwrap();
    acc.set_certificate(&o.cert).unwrap();
    for c in &o.chain {
        acc.add_extra_chain_cert(c.clone()).unwrap();
    }
    acc.set_max_proto_version(o.max_tls).unwrap();
    if o.legacy {
        acc.clear_options(
            openssl::ssl::SslOptions::NO_TLSV1 | openssl::ssl::SslOptions::NO_TLSV1_1,
        );
        acc.set_security_level(0);
        acc.set_min_proto_version(Some(SslVersion::TLS1)).unwrap();
        acc.set_cipher_list("DEFAULT:@SECLEVEL=0").unwrap();
    }
    let sni2 = Arc::clone(&sni);
    acc.set_servername_callback(move |ssl, _| {
        if let Ok(mut g) = sni2.lock() {
            *g = ssl
                .servername(openssl::ssl::NameType::HOST_NAME)
                .map(str::to_owned);
        }
        Ok(())
    });
    let acc = acc.build();
    let reply = o.reply;
    let handle = thread::spawn(move || -> Result<Seen, String> {
        let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut s = acc.accept(tcp).map_err(|e| format!("accept: {e}"))?;
        let mut request = Vec::new();
        let mut b = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            match s.read(&mut b) {
                Ok(1) => request.push(b[0]),
                _ => return Err("request incomplete".into()),
            }
        }
        match &reply {
            Reply::Bytes(bytes) => s.write_all(bytes).map_err(|e| e.to_string())?,
            Reply::Silent(d) => thread::sleep(*d),
            Reply::Close => {
                let _ = s.shutdown();
                let version = s.ssl().version_str().to_owned();
                return Ok(Seen {
                    request,
                    sni: None,
                    version,
                });
            }
        }
        // Wait for the client to finish (EOF or error) so it never sees a reset.
        let mut sink = [0u8; 256];
        while let Ok(n) = s.read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        let version = s.ssl().version_str().to_owned();
        let sni = sni.lock().ok().and_then(|g| g.clone());
        Ok(Seen {
            request,
            sni,
            version,
        })
    });
    TlsServer { addr, handle }
}

/// A fake HTTP proxy: answers each CONNECT with the next of `answers`; when an answer is a 2xx,
/// it connects to the requested target (which must be loopback) and relays both ways.
pub struct FakeProxy {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<String>>>,
}

pub fn fake_proxy(answers: Vec<&'static str>) -> FakeProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let req2 = Arc::clone(&requests);
    thread::spawn(move || {
        let Ok((mut c, _)) = listener.accept() else {
            return;
        };
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        for answer in answers {
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match c.read(&mut b) {
                    Ok(1) => head.push(b[0]),
                    _ => return,
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            req2.lock().unwrap().push(text.clone());
            if c.write_all(answer.as_bytes()).is_err() {
                return;
            }
            if answer.starts_with("HTTP/1.1 2") || answer.starts_with("HTTP/1.0 2") {
                let target = text.split(' ').nth(1).unwrap_or("").to_owned();
                let t: SocketAddr = target.parse().unwrap();
                assert!(t.ip().is_loopback());
                let up = TcpStream::connect(t).unwrap();
                let (mut c2, mut up2) = (c.try_clone().unwrap(), up.try_clone().unwrap());
                let mut up = up;
                c.set_read_timeout(None).unwrap();
                let h = thread::spawn(move || {
                    let _ = std::io::copy(&mut up2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut c, &mut up);
                let _ = up.shutdown(std::net::Shutdown::Write);
                let _ = h.join();
                return;
            }
        }
    });
    FakeProxy { addr, requests }
}

pub fn sha256_hex(cert: &X509) -> String {
    cert.digest(MessageDigest::sha256())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
