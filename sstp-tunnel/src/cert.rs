//! Human-readable facts about the server's certificate, for logs, errors and pinning.
//!
//! Every text field comes from the peer's certificate and is passed through
//! [`sstp_proto::http::sanitize`] when it is read, so no consumer can print it raw.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509ExtendedKeyUsage, X509NameRef, X509Ref, X509};
use sstp_proto::http::sanitize;

use crate::config::{hex, CertPin};

/// Extended key usage of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eku {
    /// No EKU extension: valid for every purpose.
    Absent,
    /// The purposes listed (OpenSSL's known set; unknown OIDs show as `other`).
    Listed(Vec<String>),
}

impl Eku {
    /// Whether Windows would accept it for an SSTP server: Server Authentication or Any Purpose
    /// (or no EKU at all).
    pub fn allows_server_auth(&self) -> bool {
        match self {
            Eku::Absent => true,
            Eku::Listed(l) => l.iter().any(|p| p == EKU_SERVER_AUTH || p == EKU_ANY),
        }
    }
}

impl fmt::Display for Eku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Eku::Absent => f.write_str("(no EKU extension: any purpose)"),
            Eku::Listed(l) if l.is_empty() => f.write_str("(only purposes unknown to OpenSSL)"),
            Eku::Listed(l) => f.write_str(&l.join(", ")),
        }
    }
}

const EKU_SERVER_AUTH: &str = "Server Authentication";
const EKU_ANY: &str = "Any Purpose";

/// Facts about a certificate (normally the server's leaf).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject DN, e.g. `CN=vpn.example.com, O=Example`.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Start of validity (OpenSSL's text form, GMT).
    pub not_before: String,
    /// End of validity.
    pub not_after: String,
    /// Serial number (hex).
    pub serial: String,
    /// DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension.
    pub ip_addresses: Vec<IpAddr>,
    /// Extended key usage.
    pub eku: Eku,
    /// SHA-256 of the DER encoding (the value to pin; also the SSTP crypto-binding hash).
    pub sha256: [u8; 32],
    /// SHA-1 of the DER encoding (legacy crypto binding).
    pub sha1: [u8; 20],
    /// Subject equals issuer.
    pub self_signed: bool,
}

impl CertificateInfo {
    /// Reads the facts of `cert`. Never fails: unknown pieces are shown as `?`.
    pub fn from_x509(cert: &X509Ref) -> Self {
        let mut sha256 = [0u8; 32];
        if let Ok(d) = cert.digest(MessageDigest::sha256()) {
            if d.len() == 32 {
                sha256.copy_from_slice(&d);
            }
        }
        let mut sha1 = [0u8; 20];
        if let Ok(d) = cert.digest(MessageDigest::sha1()) {
            if d.len() == 20 {
                sha1.copy_from_slice(&d);
            }
        }
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        if let Some(sans) = cert.subject_alt_names() {
            for gn in &sans {
                if let Some(d) = gn.dnsname() {
                    dns_names.push(sanitize(d));
                } else if let Some(ip) = gn.ipaddress() {
                    if let Ok(b) = <[u8; 4]>::try_from(ip) {
                        ip_addresses.push(IpAddr::V4(Ipv4Addr::from(b)));
                    } else if let Ok(b) = <[u8; 16]>::try_from(ip) {
                        ip_addresses.push(IpAddr::V6(Ipv6Addr::from(b)));
                    }
                }
            }
        }
        let eku = match cert.extended_key_usage() {
            None => Eku::Absent,
            Some(bits) => {
                let names = [
                    (X509ExtendedKeyUsage::SSL_SERVER, EKU_SERVER_AUTH),
                    (X509ExtendedKeyUsage::SSL_CLIENT, "Client Authentication"),
                    (X509ExtendedKeyUsage::ANYEKU, EKU_ANY),
                    (X509ExtendedKeyUsage::CODE_SIGN, "Code Signing"),
                    (X509ExtendedKeyUsage::SMIME, "Secure Email"),
                    (X509ExtendedKeyUsage::TIMESTAMP, "Time Stamping"),
                    (X509ExtendedKeyUsage::OCSP_SIGN, "OCSP Signing"),
                    (X509ExtendedKeyUsage::SGC, "Server Gated Crypto"),
                    (X509ExtendedKeyUsage::DVCS, "DVCS"),
                ];
                Eku::Listed(
                    names
                        .iter()
                        .filter(|(b, _)| bits.contains(*b))
                        .map(|(_, n)| (*n).to_owned())
                        .collect(),
                )
            }
        };
        let subject = name_to_string(cert.subject_name());
        let issuer = name_to_string(cert.issuer_name());
        let self_signed = subject == issuer;
        let (subject, issuer) = (sanitize(&subject), sanitize(&issuer));
        let serial = cert
            .serial_number()
            .to_bn()
            .ok()
            .and_then(|bn| bn.to_hex_str().ok().map(|s| s.to_string()))
            .unwrap_or_else(|| "?".into());
        CertificateInfo {
            self_signed,
            subject,
            issuer,
            not_before: sanitize(&cert.not_before().to_string()),
            not_after: sanitize(&cert.not_after().to_string()),
            serial: sanitize(&serial),
            dns_names,
            ip_addresses,
            eku,
            sha256,
            sha1,
        }
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        X509::from_der(der).ok().map(|c| Self::from_x509(&c))
    }

    /// Lowercase hex SHA-256.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }

    /// Lowercase hex SHA-1.
    pub fn sha1_hex(&self) -> String {
        hex(&self.sha1)
    }

    /// SHA-256 as the server's administrator sees it: uppercase hex without separators, the
    /// form Windows shows (certificate thumbprint, `Get-RemoteAccess` `SslCertificate`, the
    /// RRAS `SHA256CertificateHash`).
    pub fn sha256_admin(&self) -> String {
        self.sha256_hex().to_ascii_uppercase()
    }

    /// SHA-1 as the server's administrator sees it (uppercase hex, no separators).
    pub fn sha1_admin(&self) -> String {
        self.sha1_hex().to_ascii_uppercase()
    }

    /// The lines to relay to the server's administrator: which address showed this
    /// certificate and its two hashes in the administrator's form. `via_proxy`: `peer` is an
    /// HTTP proxy, not the server.
    pub fn admin_lines(&self, peer: SocketAddr, via_proxy: bool) -> String {
        format!(
            "certificate seen from {} {}{}\n  SHA-256: {}\n  SHA-1:   {}",
            family_name(peer.ip()),
            peer,
            if via_proxy {
                " (the HTTP proxy; the server's own address is not known here)"
            } else {
                ""
            },
            self.sha256_admin(),
            self.sha1_admin()
        )
    }

    /// The pin of this certificate.
    pub fn pin(&self) -> CertPin {
        CertPin(self.sha256)
    }

    /// The pppd option line that pins this certificate: `sstp-cert-pin sha256:<hex>`.
    pub fn pin_option_line(&self) -> String {
        format!("sstp-cert-pin {}", self.pin().to_option_value())
    }

    /// The subjectAltName entries as text.
    pub fn san_text(&self) -> String {
        let mut v: Vec<String> = self.dns_names.iter().map(|d| format!("DNS:{d}")).collect();
        v.extend(self.ip_addresses.iter().map(|ip| format!("IP:{ip}")));
        if v.is_empty() {
            "(none)".into()
        } else {
            v.join(", ")
        }
    }
}

impl fmt::Display for CertificateInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  subject:  {}", self.subject)?;
        writeln!(
            f,
            "  issuer:   {}{}",
            self.issuer,
            if self.self_signed {
                " (self-signed)"
            } else {
                ""
            }
        )?;
        writeln!(f, "  validity: {} .. {}", self.not_before, self.not_after)?;
        writeln!(f, "  SAN:      {}", self.san_text())?;
        writeln!(f, "  EKU:      {}", self.eku)?;
        writeln!(f, "  SHA-256:  {}", self.sha256_hex())?;
        write!(f, "  SHA-1:    {}", self.sha1_hex())
    }
}

/// `IPv4` or `IPv6` (an IPv4-mapped IPv6 address counts as IPv4).
pub fn family_name(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

fn name_to_string(name: &X509NameRef) -> String {
    let mut parts = Vec::new();
    for e in name.entries() {
        let key = match e.object().nid() {
            Nid::COMMONNAME => "CN".to_owned(),
            Nid::ORGANIZATIONNAME => "O".to_owned(),
            Nid::ORGANIZATIONALUNITNAME => "OU".to_owned(),
            Nid::COUNTRYNAME => "C".to_owned(),
            Nid::STATEORPROVINCENAME => "ST".to_owned(),
            Nid::LOCALITYNAME => "L".to_owned(),
            nid => nid
                .short_name()
                .map(|s| s.to_owned())
                .unwrap_or_else(|_| e.object().to_string()),
        };
        let value = e.data().to_string().unwrap_or_else(|_| "?".into());
        parts.push(format!("{}={}", sanitize(&key), sanitize(&value)));
    }
    if parts.is_empty() {
        "(empty)".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A certificate's facts with the given hashes (the text fields are placeholders).
    pub(crate) fn info(sha256: [u8; 32], sha1: [u8; 20]) -> CertificateInfo {
        CertificateInfo {
            subject: "CN=vpn.example.com".into(),
            issuer: "CN=CA".into(),
            not_before: "?".into(),
            not_after: "?".into(),
            serial: "01".into(),
            dns_names: vec![],
            ip_addresses: vec![],
            eku: Eku::Absent,
            sha256,
            sha1,
            self_signed: false,
        }
    }

    #[test]
    fn admin_form_is_uppercase_hex_with_family_and_address() {
        let mut sha256 = [0u8; 32];
        sha256[0] = 0xab;
        sha256[31] = 0x0f;
        let c = info(sha256, [0xcd; 20]);
        assert_eq!(c.sha256_hex(), format!("ab{}0f", "00".repeat(30)));
        assert_eq!(c.sha256_admin(), format!("AB{}0F", "00".repeat(30)));
        assert_eq!(c.sha1_admin(), "CD".repeat(20));
        let v4: SocketAddr = "192.0.2.2:443".parse().unwrap();
        assert_eq!(
            c.admin_lines(v4, false),
            format!(
                "certificate seen from IPv4 192.0.2.2:443\n  SHA-256: {}\n  SHA-1:   {}",
                c.sha256_admin(),
                c.sha1_admin()
            )
        );
        let v6: SocketAddr = "[2001:db8::2]:443".parse().unwrap();
        assert!(c
            .admin_lines(v6, true)
            .starts_with("certificate seen from IPv6 [2001:db8::2]:443 (the HTTP proxy;"));
        assert_eq!(family_name("::ffff:192.0.2.2".parse().unwrap()), "IPv4");
    }
}
