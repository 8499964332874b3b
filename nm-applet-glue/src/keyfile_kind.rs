//! What kind of file a certificate or key path holds, from its first bytes: the service needs
//! to know whether `tls-user-cert` is PKCS#12 (pppd `pkcs12` instead of `cert`/`key`), the auth
//! dialog whether `tls-user-key` needs a passphrase. Pure (the caller reads at most
//! [`SNIFF_MAX`] bytes).

/// Bytes the callers read from the file.
pub const SNIFF_MAX: usize = 64 * 1024;

/// DER length at `b[1..]`: (length, bytes used by the length).
fn der_len(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.get(1)?;
    if first < 0x80 {
        return Some((usize::from(first), 1));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let bytes = b.get(2..2 + n)?;
    Some((
        bytes.iter().fold(0usize, |a, x| a << 8 | usize::from(*x)),
        1 + n,
    ))
}

/// A DER PKCS#12 file: `SEQUENCE { INTEGER 3, ... }` (the PFX version), as opposed to a DER
/// certificate (`SEQUENCE { SEQUENCE ... }`) or PEM text.
pub fn is_pkcs12(b: &[u8]) -> bool {
    if b.first() != Some(&0x30) {
        return false;
    }
    let Some((_, used)) = der_len(b) else {
        return false;
    };
    b.get(1 + used..4 + used) == Some(&[0x02, 0x01, 0x03][..])
}

/// Whether a private key file needs a passphrase: an encrypted PEM key, or PKCS#12 (whose
/// contents are protected by a password, possibly empty). Unencrypted PEM or DER: no.
pub fn key_needs_passphrase(b: &[u8]) -> bool {
    if is_pkcs12(b) {
        return true;
    }
    let text = String::from_utf8_lossy(b);
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkcs12::Pkcs12;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::symm::Cipher;

    fn key() -> PKey<openssl::pkey::Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    fn cert(k: &PKey<openssl::pkey::Private>) -> openssl::x509::X509 {
        let mut b = openssl::x509::X509Builder::new().unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "alice").unwrap();
        let name = name.build();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(k).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(k, openssl::hash::MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn kinds_of_files() {
        let k = key();
        let c = cert(&k);
        let p12 = Pkcs12::builder()
            .name("alice")
            .pkey(&k)
            .cert(&c)
            .build2("pw")
            .unwrap()
            .to_der()
            .unwrap();
        assert!(is_pkcs12(&p12));
        assert!(key_needs_passphrase(&p12));
        let der = c.to_der().unwrap();
        assert!(!is_pkcs12(&der));
        assert!(!is_pkcs12(&c.to_pem().unwrap()));
        let plain = k.private_key_to_pem_pkcs8().unwrap();
        assert!(!key_needs_passphrase(&plain));
        assert!(!key_needs_passphrase(&k.private_key_to_der().unwrap()));
        let enc = k
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"pw")
            .unwrap();
        assert!(key_needs_passphrase(&enc));
        let legacy = k
            .rsa()
            .unwrap()
            .private_key_to_pem_passphrase(Cipher::aes_256_cbc(), b"pw")
            .unwrap();
        assert!(key_needs_passphrase(&legacy));
        assert!(!is_pkcs12(b"") && !is_pkcs12(&[0x30]) && !is_pkcs12(&[0x30, 0x85, 1]));
    }
}
