//! Crypto binding ([MS-SSTP] §3.2.5.2): HLAK, CMK, Compound MAC, certificate hash and the
//! 112-byte CALL_CONNECTED packet.
//!
//! Secret material ([`Hlak`], the CMK) is wiped on drop and never printed.

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::wire::{ControlMessage, CryptoBinding, NONCE_LEN};

/// Length of the CALL_CONNECTED packet.
pub const CALL_CONNECTED_LEN: usize = 112;
/// Offset of the Compound MAC field inside the CALL_CONNECTED packet.
pub const COMPOUND_MAC_OFFSET: usize = 80;
/// Offset of the certificate hash field inside the CALL_CONNECTED packet.
pub const CERT_HASH_OFFSET: usize = 48;
/// PRF+ seed for the CMK.
const CMK_SEED: &[u8] = b"SSTP inner method derived CMK";

/// One certificate hash protocol (CERT_HASH_PROTOCOL_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashProtocol {
    /// CERT_HASH_PROTOCOL_SHA1 (0x01): HMAC-SHA1-160.
    Sha1,
    /// CERT_HASH_PROTOCOL_SHA256 (0x02): HMAC-SHA256-256.
    Sha256,
}

impl HashProtocol {
    /// The wire bit.
    pub const fn to_raw(self) -> u8 {
        match self {
            HashProtocol::Sha1 => 0x01,
            HashProtocol::Sha256 => 0x02,
        }
    }

    /// Parses a value that must name exactly one protocol.
    pub const fn from_raw(v: u8) -> Option<HashProtocol> {
        match v {
            0x01 => Some(HashProtocol::Sha1),
            0x02 => Some(HashProtocol::Sha256),
            _ => None,
        }
    }

    /// Digest (and CMK, MAC) length: 20 for SHA-1, 32 for SHA-256.
    pub const fn digest_len(self) -> usize {
        match self {
            HashProtocol::Sha1 => 20,
            HashProtocol::Sha256 => 32,
        }
    }
}

impl fmt::Display for HashProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashProtocol::Sha1 => "SHA1",
            HashProtocol::Sha256 => "SHA256",
        })
    }
}

/// A hash protocol bitmask as offered in a Crypto Binding Request (unknown bits are kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HashProtocols(u8);

impl HashProtocols {
    /// Nothing offered.
    pub const NONE: HashProtocols = HashProtocols(0);
    /// SHA-1 only.
    pub const SHA1: HashProtocols = HashProtocols(0x01);
    /// SHA-256 only.
    pub const SHA256: HashProtocols = HashProtocols(0x02);
    /// Both.
    pub const BOTH: HashProtocols = HashProtocols(0x03);

    /// From the raw bitmask byte.
    pub const fn from_bits(bits: u8) -> HashProtocols {
        HashProtocols(bits)
    }

    /// The raw bitmask byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether `p` is offered.
    pub const fn contains(self, p: HashProtocol) -> bool {
        self.0 & p.to_raw() != 0
    }

    /// The client's choice: SHA-256 if offered, else SHA-1 if offered, else `None`.
    pub const fn preferred(self) -> Option<HashProtocol> {
        if self.contains(HashProtocol::Sha256) {
            Some(HashProtocol::Sha256)
        } else if self.contains(HashProtocol::Sha1) {
            Some(HashProtocol::Sha1)
        } else {
            None
        }
    }
}

impl From<HashProtocol> for HashProtocols {
    fn from(p: HashProtocol) -> Self {
        HashProtocols(p.to_raw())
    }
}

impl fmt::Display for HashProtocols {
    /// `SHA1|SHA256`, `none`, or with unknown bits `SHA256|0xf0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut sep = "";
        for p in [HashProtocol::Sha1, HashProtocol::Sha256] {
            if self.contains(p) {
                write!(f, "{sep}{p}")?;
                sep = "|";
            }
        }
        let rest = self.0 & !0x03;
        if rest != 0 {
            write!(f, "{sep}{rest:#04x}")?;
        }
        Ok(())
    }
}

/// Higher-Layer Authentication Key: 32 bytes from the PPP authentication (§3.2.5.2).
///
/// Zeroed on drop; `Debug` shows only whether it is the all-zero key. The bytes live on the
/// heap, so moving an `Hlak` (through a queue, into a thread) copies a pointer, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Hlak(Box<[u8; 32]>);

impl Hlak {
    /// The all-zero HLAK (PAP, CHAP-MD5, no authentication, or no MPPE keys).
    pub fn zero() -> Hlak {
        Hlak(Box::new([0; 32]))
    }

    /// From 32 raw bytes (the caller wipes its own copy).
    pub fn from_bytes(bytes: [u8; 32]) -> Hlak {
        Hlak(Box::new(bytes))
    }

    /// From pppd's MPPE keys as seen by the client (sstp-protocol.md §4.2/§4.7):
    /// - empty send key: zero HLAK;
    /// - send key of 32 bytes or more (EAP-TLS): `send[..32]`;
    /// - shorter (MS-CHAPv2: 16 bytes with pppd 2.4.9, 20 with 2.5): `send[..16] ‖ recv[..16]`,
    ///   zero-padded if a key is shorter than 16.
    pub fn from_mppe_keys(send: &[u8], recv: &[u8]) -> Hlak {
        // Built in place: no key bytes are left in a moved-from local.
        let mut h = Hlak::zero();
        if send.len() >= 32 {
            h.0.copy_from_slice(&send[..32]);
        } else if !send.is_empty() {
            let s = send.len().min(16);
            h.0[..s].copy_from_slice(&send[..s]);
            let r = recv.len().min(16);
            h.0[16..16 + r].copy_from_slice(&recv[..r]);
        }
        h
    }

    /// From an EAP MSK: its first 32 bytes, right-padded with zeros if shorter.
    pub fn from_msk(msk: &[u8]) -> Hlak {
        let mut h = Hlak::zero();
        let n = msk.len().min(32);
        h.0[..n].copy_from_slice(&msk[..n]);
        h
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether this is the all-zero key.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl Default for Hlak {
    fn default() -> Self {
        Hlak::zero()
    }
}

impl Drop for Hlak {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Hlak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            f.write_str("Hlak(zero)")
        } else {
            f.write_str("Hlak(<secret>)")
        }
    }
}

/// The PPP authentication this side performed towards the server, as pppd negotiated it.
/// Selects the HLAK rule ([MS-SSTP] §3.2.5.2.2/§3.2.5.2.4, sstp-protocol.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// No authentication towards the server.
    None,
    /// PAP.
    Pap,
    /// CHAP with MD5.
    ChapMd5,
    /// MS-CHAP (v1): no [MS-SSTP] rule; the MS-CHAP key rule is applied.
    MsChap,
    /// MS-CHAPv2.
    MsChapV2,
    /// EAP-TLS.
    EapTls,
    /// PEAP (pppd 2.5).
    Peap,
    /// EAP-MSCHAPv2 (EAP that set MS-CHAPv2 MPPE keys).
    EapMsChapV2,
    /// Another EAP method without keys (EAP-MD5).
    EapOther,
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMethod::None => "no authentication",
            AuthMethod::Pap => "PAP",
            AuthMethod::ChapMd5 => "CHAP-MD5",
            AuthMethod::MsChap => "MS-CHAP",
            AuthMethod::MsChapV2 => "MS-CHAPv2",
            AuthMethod::EapTls => "EAP-TLS",
            AuthMethod::Peap => "PEAP",
            AuthMethod::EapMsChapV2 => "EAP-MSCHAPv2",
            AuthMethod::EapOther => "EAP (MD5 or another method without keys)",
        })
    }
}

/// Why no correct HLAK can be derived from what pppd handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HlakError {
    /// EAP-TLS/PEAP: the HLAK is the first 32 bytes of the MSK, but pppd gave `got` bytes
    /// (stock pppd 2.4.9 keeps only 16 bytes of each EAP-TLS key).
    ShortMsk {
        /// The method.
        method: AuthMethod,
        /// Key bytes pppd handed over.
        got: usize,
        /// The pppd version the plugin was built for.
        pppd: String,
    },
}

impl fmt::Display for HlakError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HlakError::ShortMsk { method, got, pppd } => write!(
                f,
                "EAP method unusable on this pppd: {method} succeeded, but pppd {pppd} handed \
                 over only {got} bytes of its key (the crypto binding needs the first 32 bytes \
                 of the MSK), so the server would reject the binding; not connecting - use pppd \
                 2.5 or later for {method}, or another method the server accepts (MS-CHAPv2: \
                 refuse-eap)"
            ),
        }
    }
}

impl std::error::Error for HlakError {}

impl Hlak {
    /// The client HLAK for `method` from pppd's MPPE keys (`send`/`recv` as pppd holds them on
    /// the client), with a short description of the rule for the log. The one place that
    /// decides the HLAK:
    /// - PAP, CHAP-MD5, no auth, EAP without keys: zero ([MS-SSTP]: no keys => 32 zero bytes);
    /// - MS-CHAPv2 (and MS-CHAP): `send[..16] ‖ recv[..16]` (zero when pppd has no keys);
    /// - EAP-TLS, PEAP: the first 32 bytes of the MSK = pppd's 32-byte send key; fewer than 32
    ///   bytes (pppd 2.4.9's truncation, or no keys) is an error, never a wrong binding;
    /// - EAP-MSCHAPv2: zero, as Windows clients send (sorz/sstp-server #43).
    pub fn for_auth(
        method: AuthMethod,
        send: &[u8],
        recv: &[u8],
        pppd: &str,
    ) -> Result<(Hlak, &'static str), HlakError> {
        Ok(match method {
            AuthMethod::None | AuthMethod::Pap | AuthMethod::ChapMd5 | AuthMethod::EapOther => {
                (Hlak::zero(), "zero HLAK (the method gives no keys)")
            }
            AuthMethod::MsChap | AuthMethod::MsChapV2 if send.is_empty() => {
                (Hlak::zero(), "zero HLAK (pppd set no MPPE keys)")
            }
            AuthMethod::MsChap | AuthMethod::MsChapV2 => (
                Hlak::from_mppe_keys(&send[..send.len().min(16)], recv),
                "MasterSendKey[0..16] || MasterReceiveKey[0..16]",
            ),
            AuthMethod::EapTls | AuthMethod::Peap if send.len() < 32 => {
                return Err(HlakError::ShortMsk {
                    method,
                    got: send.len(),
                    pppd: pppd.to_string(),
                })
            }
            AuthMethod::EapTls | AuthMethod::Peap => {
                (Hlak::from_msk(send), "the first 32 bytes of the MSK")
            }
            AuthMethod::EapMsChapV2 => (
                Hlak::zero(),
                "zero HLAK (EAP-MSCHAPv2, as Windows clients do)",
            ),
        })
    }
}

/// Compound MAC Key (CMK): 20 bytes (SHA-1) or 32 bytes (SHA-256). Zeroed on drop.
pub struct Cmk {
    bytes: [u8; 32],
    len: usize,
}

impl Cmk {
    /// The key bytes (20 or 32).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Drop for Cmk {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for Cmk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cmk(<{} secret bytes>)", self.len)
    }
}

/// HMAC-H(key, concat(parts)), left-aligned into 32 bytes (SHA-1 output zero-padded).
fn hmac(proto: HashProtocol, key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hmac_into(proto, key, parts, &mut out);
    out
}

/// [`hmac`] written into `out` (so a key can be derived in place, without a stack copy).
fn hmac_into(proto: HashProtocol, key: &[u8], parts: &[&[u8]], out: &mut [u8; 32]) {
    match proto {
        HashProtocol::Sha1 => {
            // HMAC takes keys of any length: new_from_slice cannot fail.
            let Ok(mut m) = <Hmac<Sha1> as Mac>::new_from_slice(key) else {
                return;
            };
            for p in parts {
                m.update(p);
            }
            out[..20].copy_from_slice(&m.finalize().into_bytes());
        }
        HashProtocol::Sha256 => {
            let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
                return;
            };
            for p in parts {
                m.update(p);
            }
            out.copy_from_slice(&m.finalize().into_bytes());
        }
    }
}

/// CMK = first PRF+ block = HMAC-H(HLAK, "SSTP inner method derived CMK" ‖ LEN (u16 LE) ‖ 0x01).
pub fn cmk(proto: HashProtocol, hlak: &Hlak) -> Cmk {
    let len = proto.digest_len();
    let len_le = (len as u16).to_le_bytes();
    let mut key = Cmk {
        bytes: [0; 32],
        len,
    };
    hmac_into(
        proto,
        hlak.as_bytes(),
        &[CMK_SEED, &len_le, &[0x01]],
        &mut key.bytes,
    );
    key
}

/// Hash of the server's leaf certificate (DER) with the chosen protocol, zero-padded to 32.
pub fn cert_hash(proto: HashProtocol, cert_der: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    match proto {
        HashProtocol::Sha1 => out[..20].copy_from_slice(&Sha1::digest(cert_der)),
        HashProtocol::Sha256 => out.copy_from_slice(&Sha256::digest(cert_der)),
    }
    out
}

/// Compound MAC = HMAC-H(CMK, the 112-byte CALL_CONNECTED with the MAC field zeroed); the MAC
/// field of `packet` is ignored (treated as zero). Result zero-padded to 32.
pub fn compound_mac(
    proto: HashProtocol,
    hlak: &Hlak,
    packet: &[u8; CALL_CONNECTED_LEN],
) -> [u8; 32] {
    let key = cmk(proto, hlak);
    hmac(
        proto,
        key.as_bytes(),
        &[
            &packet[..COMPOUND_MAC_OFFSET],
            &[0u8; CALL_CONNECTED_LEN - COMPOUND_MAC_OFFSET],
        ],
    )
}

/// The CALL_CONNECTED packet for a given certificate hash (already zero-padded to 32 bytes).
pub fn call_connected_with_cert_hash(
    proto: HashProtocol,
    nonce: &[u8; NONCE_LEN],
    cert_hash: &[u8; 32],
    hlak: &Hlak,
) -> [u8; CALL_CONNECTED_LEN] {
    let msg = ControlMessage::call_connected(CryptoBinding {
        hash_protocol: proto,
        nonce: *nonce,
        cert_hash: *cert_hash,
        compound_mac: [0; 32],
    });
    let mut packet = [0u8; CALL_CONNECTED_LEN];
    let mut v = Vec::with_capacity(CALL_CONNECTED_LEN);
    // A Crypto Binding message always encodes to exactly 112 bytes.
    if msg.encode(&mut v).is_ok() && v.len() == CALL_CONNECTED_LEN {
        packet.copy_from_slice(&v);
    }
    let mac = compound_mac(proto, hlak, &packet);
    packet[COMPOUND_MAC_OFFSET..].copy_from_slice(&mac);
    packet
}

/// The complete CALL_CONNECTED packet: crypto binding over the server's leaf certificate DER.
pub fn call_connected(
    proto: HashProtocol,
    nonce: &[u8; NONCE_LEN],
    cert_der: &[u8],
    hlak: &Hlak,
) -> [u8; CALL_CONNECTED_LEN] {
    call_connected_with_cert_hash(proto, nonce, &cert_hash(proto, cert_der), hlak)
}

/// Server-side check of a received CALL_CONNECTED (used by tests and test servers): recomputes
/// the Compound MAC over `packet` with `hlak` and compares it with the packet's MAC field.
pub fn verify_call_connected(packet: &[u8; CALL_CONNECTED_LEN], hlak: &Hlak) -> bool {
    let Some(proto) = HashProtocol::from_raw(packet[15]) else {
        return false;
    };
    let mac = compound_mac(proto, hlak, packet);
    // Constant-time compare.
    mac.iter()
        .zip(&packet[COMPOUND_MAC_OFFSET..])
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
    fn h32(s: &str) -> [u8; 32] {
        let mut a = [0u8; 32];
        let v = hex(s);
        a[..v.len()].copy_from_slice(&v);
        a
    }

    /// [MS-SSTP] §4.7, second example (SHA-1, MS-CHAPv2).
    #[test]
    fn vector1_sha1() {
        let nonce = h32("0F1A2D58D4A3E3000FAD3CE4906E07B707AA9E441CCEAC5CBD7B2CC1C9D86CDF");
        let cert = h32("5826B629BDA59B8E6FD8DCD2622FD34C534805A5");
        let hlak = Hlak::from_mppe_keys(
            &hex("4B3128F43925D9006EEFB1C4E86515A1"),
            &hex("D88E56BAB3CA2BDF0373B7F5A8A13B19"),
        );
        assert_eq!(
            hlak.as_bytes(),
            &h32("4B3128F43925D9006EEFB1C4E86515A1D88E56BAB3CA2BDF0373B7F5A8A13B19")
        );
        let p = call_connected_with_cert_hash(HashProtocol::Sha1, &nonce, &cert, &hlak);
        assert_eq!(&p[..16], &hex("10010070000400010003006800000001")[..]);
        assert_eq!(&p[16..48], &nonce);
        assert_eq!(&p[48..80], &cert);
        assert_eq!(&p[80..], &h32("69915DD583D8062FEF16F61DB2F03290EC27CB6C"));
        assert!(verify_call_connected(&p, &hlak));
        assert!(!verify_call_connected(&p, &Hlak::zero()));
    }

    /// [MS-SSTP] §4.7, first example (SHA-256, MS-CHAPv2), with pppd 2.5's 20-byte keys.
    #[test]
    fn vector2_sha256() {
        let nonce = h32("412B489AEBD7ECC7D08966F26BE7CD72B231A0E9210D7C91B308862B0344C435");
        let cert = h32("7993EF314C493DACE9F02D60E7E61C84B6690AAFE9D7AEEA92CBBE8AD599422D");
        let mut send = hex("2A1BB40D55AB0F5EF32F06F2B3CC73C4");
        let mut recv = hex("8FD3FAC41D7A1315A19228D9024CA164");
        send.extend_from_slice(&[0xEE; 4]);
        recv.extend_from_slice(&[0xDD; 4]);
        let hlak = Hlak::from_mppe_keys(&send, &recv);
        let p = call_connected_with_cert_hash(HashProtocol::Sha256, &nonce, &cert, &hlak);
        assert_eq!(&p[..16], &hex("10010070000400010003006800000002")[..]);
        assert_eq!(
            &p[80..],
            &h32("52A68EFD8CFFBF52770B8F0FE8EC73716583AF6D611EB6D179B3B20840985449")
        );
        assert!(verify_call_connected(&p, &hlak));
    }

    /// sstp-client's EAP-TLS vector (SHA-256, 32-byte send key).
    #[test]
    fn vector3_eap_tls() {
        let nonce = h32("388A1ECBF302BA02F9F372CE37488EC36B71A28B5E1B19FBE44D5465A631C463");
        let cert = h32("7FF150176FA8E38A1F402D11FF89FF11B66505AD7F9AE81205277BA4A6B9EF9D");
        let send = hex("BB2C17EDBAA643B3D511EB9848792B7CAB5F5D709FE9BDF89B5DEAF5A8C17DB7");
        let hlak = Hlak::from_mppe_keys(&send, &[0x55; 32]);
        assert_eq!(hlak.as_bytes()[..], send[..]);
        let p = call_connected_with_cert_hash(HashProtocol::Sha256, &nonce, &cert, &hlak);
        assert_eq!(
            &p[80..],
            &h32("FE6473C7D183914E483FEA1B12A6E760A4DA16B62FAB12A0A1E54E0EC325B24E")
        );
    }

    #[test]
    fn hlak_rules() {
        assert!(Hlak::from_mppe_keys(&[], &[1; 16]).is_zero());
        assert!(Hlak::zero().is_zero());
        let h = Hlak::from_msk(&[7; 64]);
        assert_eq!(h.as_bytes(), &[7; 32]);
        let h = Hlak::from_msk(&[7; 8]);
        assert_eq!(&h.as_bytes()[..8], &[7; 8]);
        assert_eq!(&h.as_bytes()[8..], &[0; 24]);
        assert_eq!(
            format!("{:?}", Hlak::from_msk(&[0xAB; 32])),
            "Hlak(<secret>)"
        );
        assert_eq!(format!("{:?}", Hlak::zero()), "Hlak(zero)");
    }

    #[test]
    fn hlak_per_auth_method() {
        let send: Vec<u8> = (1..=32).collect();
        let recv: Vec<u8> = (101..=132).collect();
        for m in [
            AuthMethod::None,
            AuthMethod::Pap,
            AuthMethod::ChapMd5,
            AuthMethod::EapOther,
        ] {
            assert!(
                Hlak::for_auth(m, &send, &recv, "2.5.2")
                    .unwrap()
                    .0
                    .is_zero(),
                "{m}"
            );
        }
        // MS-CHAPv2, pppd 2.4.9 (16 bytes) and 2.5 (20 bytes): send[..16] || recv[..16].
        for n in [16, 20] {
            let (h, _) = Hlak::for_auth(AuthMethod::MsChapV2, &send[..n], &recv[..n], "x").unwrap();
            assert_eq!(&h.as_bytes()[..16], &send[..16]);
            assert_eq!(&h.as_bytes()[16..], &recv[..16]);
        }
        assert!(Hlak::for_auth(AuthMethod::MsChapV2, &[], &[], "x")
            .unwrap()
            .0
            .is_zero());
        // EAP-TLS / PEAP with pppd 2.5's 32-byte keys: the MSK's first 32 bytes = send key.
        for m in [AuthMethod::EapTls, AuthMethod::Peap] {
            let (h, rule) = Hlak::for_auth(m, &send, &recv, "2.5.2").unwrap();
            assert_eq!(&h.as_bytes()[..], &send[..]);
            assert!(rule.contains("MSK"));
        }
        // EAP-MSCHAPv2: zero even though pppd set MS-CHAPv2 keys.
        let (h, rule) =
            Hlak::for_auth(AuthMethod::EapMsChapV2, &send[..16], &recv[..16], "x").unwrap();
        assert!(h.is_zero() && rule.contains("Windows"));
    }

    #[test]
    fn truncated_eap_tls_keys_are_refused() {
        // pppd 2.4.9 copies only 16 bytes of each EAP-TLS key; no keys at all is refused too.
        for n in [0, 16, 31] {
            let e =
                Hlak::for_auth(AuthMethod::EapTls, &[9; 32][..n], &[8; 16], "2.4.9").unwrap_err();
            assert_eq!(
                e,
                HlakError::ShortMsk {
                    method: AuthMethod::EapTls,
                    got: n,
                    pppd: "2.4.9".into()
                }
            );
            let msg = e.to_string();
            assert!(
                msg.starts_with("EAP method unusable on this pppd: EAP-TLS"),
                "{msg}"
            );
            assert!(
                msg.contains(&format!("pppd 2.4.9 handed over only {n} bytes")),
                "{msg}"
            );
            assert!(msg.contains("use pppd 2.5"), "{msg}");
        }
    }

    #[test]
    fn cmk_lengths_and_cert_hash() {
        assert_eq!(cmk(HashProtocol::Sha1, &Hlak::zero()).as_bytes().len(), 20);
        assert_eq!(
            cmk(HashProtocol::Sha256, &Hlak::zero()).as_bytes().len(),
            32
        );
        let h = cert_hash(HashProtocol::Sha1, b"abc");
        assert_eq!(
            &h[..20],
            &hex("a9993e364706816aba3e25717850c26c9cd0d89d")[..]
        );
        assert_eq!(&h[20..], &[0; 12]);
        let h = cert_hash(HashProtocol::Sha256, b"abc");
        assert_eq!(
            h,
            h32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let p = call_connected(HashProtocol::Sha256, &[1; 32], b"abc", &Hlak::zero());
        assert_eq!(&p[48..80], &h);
    }

    #[test]
    fn hash_protocols() {
        assert_eq!(HashProtocols::BOTH.preferred(), Some(HashProtocol::Sha256));
        assert_eq!(HashProtocols::SHA1.preferred(), Some(HashProtocol::Sha1));
        assert_eq!(HashProtocols::from_bits(0xF0).preferred(), None);
        assert_eq!(HashProtocols::BOTH.to_string(), "SHA1|SHA256");
        assert_eq!(HashProtocols::from_bits(0xF2).to_string(), "SHA256|0xf0");
        assert_eq!(HashProtocols::NONE.to_string(), "none");
        assert_eq!(HashProtocol::from_raw(3), None);
    }
}
