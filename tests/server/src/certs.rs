//! Test PKI with OpenSSL: a CA and leaf certificates with a chosen EKU, SANs and validity, so
//! that "clientAuth-only", "wrong name", "expired" and "self-signed" servers are just different
//! certificate files given to the server.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509};

static SERIAL: AtomicU32 = AtomicU32::new(1);

/// Extended Key Usage of a leaf certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eku {
    /// Server Authentication (what an SSTP server needs).
    ServerAuth,
    /// Client Authentication only (Windows and sstp-rs refuse it for a server).
    ClientAuthOnly,
    /// Server and Client Authentication.
    ServerAndClientAuth,
    /// anyExtendedKeyUsage.
    Any,
    /// No EKU extension at all (any purpose).
    None,
}

impl std::str::FromStr for Eku {
    type Err = String;
    fn from_str(s: &str) -> Result<Eku, String> {
        match s {
            "server" | "serverAuth" => Ok(Eku::ServerAuth),
            "client" | "clientAuth" => Ok(Eku::ClientAuthOnly),
            "both" => Ok(Eku::ServerAndClientAuth),
            "any" => Ok(Eku::Any),
            "none" => Ok(Eku::None),
            other => Err(format!(
                "unknown EKU {other:?}: expected server, client, both, any or none"
            )),
        }
    }
}

/// What a leaf certificate looks like.
#[derive(Clone, Debug)]
pub struct CertSpec {
    /// Subject common name.
    pub cn: String,
    /// DNS subject alternative names.
    pub dns: Vec<String>,
    /// IP subject alternative names.
    pub ips: Vec<IpAddr>,
    /// Extended Key Usage.
    pub eku: Eku,
    /// Start of validity, in days relative to now (negative: in the past).
    pub not_before_days: i64,
    /// End of validity, in days relative to now (negative: already expired).
    pub not_after_days: i64,
}

impl CertSpec {
    /// A valid server certificate for `cn` (also its DNS SAN), valid from yesterday for 30 days.
    pub fn server(cn: &str) -> CertSpec {
        CertSpec {
            cn: cn.to_owned(),
            dns: vec![cn.to_owned()],
            ips: Vec::new(),
            eku: Eku::ServerAuth,
            not_before_days: -1,
            not_after_days: 30,
        }
    }

    /// `localhost` with the IP SANs 127.0.0.1 and ::1: what loopback tests connect to.
    pub fn localhost() -> CertSpec {
        let mut s = CertSpec::server("localhost");
        s.ips = vec![
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        ];
        s
    }

    /// The same with another EKU.
    pub fn with_eku(mut self, eku: Eku) -> CertSpec {
        self.eku = eku;
        self
    }

    /// The same, expired: valid from 60 days ago until 30 days ago.
    pub fn expired(mut self) -> CertSpec {
        self.not_before_days = -60;
        self.not_after_days = -30;
        self
    }
}

/// A certificate with its private key.
#[derive(Clone)]
pub struct CertKey {
    /// The certificate.
    pub cert: X509,
    /// Its key (EC P-256).
    pub key: PKey<Private>,
}

impl std::fmt::Debug for CertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertKey")
            .field("subject", &self.cert.subject_name())
            .finish_non_exhaustive()
    }
}

impl CertKey {
    /// DER of the certificate.
    pub fn der(&self) -> Result<Vec<u8>, ErrorStack> {
        self.cert.to_der()
    }

    /// Writes `<dir>/<stem>.pem` (certificate) and `<dir>/<stem>.key` (PKCS#8 key);
    /// returns both paths.
    pub fn write(&self, dir: &Path, stem: &str) -> io::Result<(PathBuf, PathBuf)> {
        fs::create_dir_all(dir)?;
        let c = dir.join(format!("{stem}.pem"));
        let k = dir.join(format!("{stem}.key"));
        fs::write(&c, self.cert.to_pem().map_err(io::Error::other)?)?;
        fs::write(
            &k,
            self.key
                .private_key_to_pem_pkcs8()
                .map_err(io::Error::other)?,
        )?;
        Ok((c, k))
    }
}

/// A certificate authority that issues leaf certificates.
#[derive(Clone, Debug)]
pub struct Ca(pub CertKey);

impl Ca {
    /// A self-signed CA valid for 365 days.
    pub fn new(cn: &str) -> Result<Ca, ErrorStack> {
        let key = new_key()?;
        let mut b = X509::builder()?;
        b.set_version(2)?;
        let sn = serial()?;
        b.set_serial_number(&sn)?;
        let n = name(cn)?;
        b.set_subject_name(&n)?;
        b.set_issuer_name(&n)?;
        b.set_pubkey(&key)?;
        let nb = time(-1)?;
        b.set_not_before(&nb)?;
        let na = time(365)?;
        b.set_not_after(&na)?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok(Ca(CertKey {
            cert: b.build(),
            key,
        }))
    }

    /// The CA certificate.
    pub fn cert(&self) -> &X509 {
        &self.0.cert
    }

    /// Issues a leaf certificate.
    pub fn issue(&self, spec: &CertSpec) -> Result<CertKey, ErrorStack> {
        leaf(spec, Some(&self.0))
    }
}

/// A self-signed leaf certificate (untrusted by any CA).
pub fn self_signed(spec: &CertSpec) -> Result<CertKey, ErrorStack> {
    leaf(spec, None)
}

fn new_key() -> Result<PKey<Private>, ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

fn name(cn: &str) -> Result<X509Name, ErrorStack> {
    let mut n = X509Name::builder()?;
    n.append_entry_by_text("O", "sstp-rs test server")?;
    n.append_entry_by_text("CN", cn)?;
    Ok(n.build())
}

fn serial() -> Result<Asn1Integer, ErrorStack> {
    // Unique within the process, and across processes via the clock.
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let v = ((t & 0xFFFF_FFFF) << 20) | u64::from(n & 0xF_FFFF);
    BigNum::from_dec_str(&v.to_string())?.to_asn1_integer()
}

fn time(days_from_now: i64) -> Result<Asn1Time, ErrorStack> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Asn1Time::from_unix(now + days_from_now * 86_400)
}

fn leaf(spec: &CertSpec, issuer: Option<&CertKey>) -> Result<CertKey, ErrorStack> {
    let key = new_key()?;
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let sn = serial()?;
    b.set_serial_number(&sn)?;
    let subject = name(&spec.cn)?;
    b.set_subject_name(&subject)?;
    match issuer {
        Some(ca) => b.set_issuer_name(ca.cert.subject_name())?,
        None => b.set_issuer_name(&subject)?,
    }
    b.set_pubkey(&key)?;
    let nb = time(spec.not_before_days)?;
    b.set_not_before(&nb)?;
    let na = time(spec.not_after_days)?;
    b.set_not_after(&na)?;
    b.append_extension(BasicConstraints::new().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_agreement()
            .build()?,
    )?;
    let mut eku = ExtendedKeyUsage::new();
    let has_eku = match spec.eku {
        Eku::ServerAuth => {
            eku.server_auth();
            true
        }
        Eku::ClientAuthOnly => {
            eku.client_auth();
            true
        }
        Eku::ServerAndClientAuth => {
            eku.server_auth().client_auth();
            true
        }
        Eku::Any => {
            eku.other("anyExtendedKeyUsage");
            true
        }
        Eku::None => false,
    };
    if has_eku {
        b.append_extension(eku.build()?)?;
    }
    if !spec.dns.is_empty() || !spec.ips.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for d in &spec.dns {
            san.dns(d);
        }
        for ip in &spec.ips {
            san.ip(&ip.to_string());
        }
        let ext = {
            let ctx = match issuer {
                Some(ca) => b.x509v3_context(Some(&ca.cert), None),
                None => b.x509v3_context(None, None),
            };
            san.build(&ctx)?
        };
        b.append_extension(ext)?;
    }
    match issuer {
        Some(ca) => b.sign(&ca.key, MessageDigest::sha256())?,
        None => b.sign(&key, MessageDigest::sha256())?,
    }
    Ok(CertKey {
        cert: b.build(),
        key,
    })
}

/// The standard set written by `sstp-test-certs`: file stems and what they are.
pub const STANDARD_SET: &[(&str, &str)] = &[
    ("ca", "the test CA (give it to the client as ca-file)"),
    ("server", "valid server certificate for the given names"),
    ("client-auth-only", "EKU clientAuth only"),
    ("wrong-name", "valid, but for the name wrong.invalid"),
    ("expired", "expired 30 days ago"),
    ("self-signed", "self-signed, for the given names"),
    (
        "other",
        "another valid server certificate (cert-hash-mismatch binding cert)",
    ),
];

/// Writes the standard set into `dir` for the names `dns` (first one is the CN) and `ips`:
/// `ca.pem/.key`, `server`, `client-auth-only`, `wrong-name`, `expired`, `self-signed`,
/// `other` (each `.pem` + `.key`). Returns the CA.
pub fn write_standard_set(dir: &Path, dns: &[String], ips: &[IpAddr]) -> io::Result<Ca> {
    let e = io::Error::other;
    let cn = dns
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".to_owned());
    let mut base = CertSpec::server(&cn);
    base.dns = dns.to_vec();
    base.ips = ips.to_vec();
    let ca = Ca::new("sstp-rs test CA").map_err(e)?;
    ca.0.write(dir, "ca")?;
    ca.issue(&base).map_err(e)?.write(dir, "server")?;
    ca.issue(&base.clone().with_eku(Eku::ClientAuthOnly))
        .map_err(e)?
        .write(dir, "client-auth-only")?;
    ca.issue(&CertSpec::server("wrong.invalid"))
        .map_err(e)?
        .write(dir, "wrong-name")?;
    ca.issue(&base.clone().expired())
        .map_err(e)?
        .write(dir, "expired")?;
    self_signed(&base).map_err(e)?.write(dir, "self-signed")?;
    ca.issue(&base).map_err(e)?.write(dir, "other")?;
    Ok(ca)
}
