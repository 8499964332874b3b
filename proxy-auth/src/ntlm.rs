//! NTLMv2 client ([MS-NLMP]): NEGOTIATE, CHALLENGE parsing, AUTHENTICATE with the NTLMv2
//! response, and the MIC when the server sends a timestamp.
//!
//! Only authentication is done: no signing or sealing keys are derived, so the client neither
//! asks for nor accepts key exchange in the high-level [`authenticate_for_challenge`]. The
//! low-level builders can still produce the [MS-NLMP] §4.2.4 example byte for byte.

use hmac::{Hmac, Mac};
use md4::{Digest as _, Md4};
use md5::Md5;

use crate::credentials::{wipe_array, wipe_vec};
use crate::error::NtlmError;

type HmacMd5 = Hmac<Md5>;

/// `NTLMSSP\0`.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// Offset of the MIC in an AUTHENTICATE message that carries one.
pub const MIC_OFFSET: usize = 72;

/// NegotiateFlags bits ([MS-NLMP] §2.2.2.5).
pub mod flags {
    /// Unicode strings.
    pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
    /// OEM strings.
    pub const NEGOTIATE_OEM: u32 = 0x0000_0002;
    /// Ask for the target name.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// Signing.
    pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
    /// Sealing.
    pub const NEGOTIATE_SEAL: u32 = 0x0000_0020;
    /// NTLM v1 session security.
    pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
    /// Always sign.
    pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
    /// Target is a domain.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// Target is a server.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// Extended session security.
    pub const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// TargetInfo present.
    pub const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
    /// Version field meaningful.
    pub const NEGOTIATE_VERSION: u32 = 0x0200_0000;
    /// 128-bit keys.
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// Key exchange.
    pub const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;
    /// 56-bit keys.
    pub const NEGOTIATE_56: u32 = 0x8000_0000;
}

/// AV pair ids ([MS-NLMP] §2.2.2.1).
pub mod av_id {
    /// End of list.
    pub const EOL: u16 = 0;
    /// NetBIOS computer name.
    pub const NB_COMPUTER_NAME: u16 = 1;
    /// NetBIOS domain name.
    pub const NB_DOMAIN_NAME: u16 = 2;
    /// DNS computer name.
    pub const DNS_COMPUTER_NAME: u16 = 3;
    /// DNS domain name.
    pub const DNS_DOMAIN_NAME: u16 = 4;
    /// DNS tree name.
    pub const DNS_TREE_NAME: u16 = 5;
    /// Flags (bit 0x2: the AUTHENTICATE message carries a MIC).
    pub const FLAGS: u16 = 6;
    /// Server FILETIME.
    pub const TIMESTAMP: u16 = 7;
}

/// Flags the high-level client asks for in NEGOTIATE.
pub const CLIENT_NEGOTIATE_FLAGS: u32 = flags::NEGOTIATE_UNICODE
    | flags::NEGOTIATE_OEM
    | flags::REQUEST_TARGET
    | flags::NEGOTIATE_NTLM
    | flags::NEGOTIATE_ALWAYS_SIGN
    | flags::NEGOTIATE_EXTENDED_SESSIONSECURITY
    | flags::NEGOTIATE_128
    | flags::NEGOTIATE_56;

/// One AV pair of a target-info list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvPair {
    /// Attribute id ([`av_id`]).
    pub id: u16,
    /// Raw value.
    pub value: Vec<u8>,
}

/// Parse an AV pair list up to `MsvAvEOL` (not included in the result). A list that ends
/// exactly at the end of the buffer without EOL is accepted; a truncated pair is an error.
pub fn parse_av_pairs(mut b: &[u8]) -> Result<Vec<AvPair>, NtlmError> {
    let mut out = Vec::new();
    loop {
        if b.is_empty() {
            return Ok(out);
        }
        let (Some(id), Some(len)) = (le16(b, 0), le16(b, 2)) else {
            return Err(NtlmError::BadTargetInfo("truncated AV pair header"));
        };
        if id == av_id::EOL {
            return Ok(out);
        }
        let end = 4 + usize::from(len);
        let value = b
            .get(4..end)
            .ok_or(NtlmError::BadTargetInfo("AV pair value past the end"))?;
        out.push(AvPair {
            id,
            value: value.to_vec(),
        });
        b = b.get(end..).unwrap_or(&[]);
    }
}

/// Serialize an AV pair list and terminate it with `MsvAvEOL`.
pub fn encode_av_pairs(pairs: &[AvPair]) -> Result<Vec<u8>, NtlmError> {
    let mut out = Vec::new();
    for p in pairs {
        let len = u16::try_from(p.value.len()).map_err(|_| NtlmError::TooLong("AV pair"))?;
        out.extend_from_slice(&p.id.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&p.value);
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    Ok(out)
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The payload slice a (Len, MaxLen, Offset) field at `at` points to.
fn field<'a>(b: &'a [u8], at: usize, name: &'static str) -> Result<&'a [u8], NtlmError> {
    let oob = NtlmError::FieldOutOfBounds { field: name };
    let len = usize::from(le16(b, at).ok_or(oob.clone())?);
    if len == 0 {
        return Ok(&[]);
    }
    let off = usize::try_from(le32(b, at + 4).ok_or(oob.clone())?).map_err(|_| oob.clone())?;
    b.get(off..off.checked_add(len).ok_or(oob.clone())?)
        .ok_or(oob)
}

/// A parsed CHALLENGE_MESSAGE ([MS-NLMP] §2.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeMessage {
    /// NegotiateFlags chosen by the server.
    pub flags: u32,
    /// The 8-byte server challenge.
    pub server_challenge: [u8; 8],
    /// TargetName, raw (UTF-16LE when the Unicode flag is set).
    pub target_name: Vec<u8>,
    /// TargetInfo AV pairs (without EOL).
    pub target_info: Vec<AvPair>,
    /// Version, when present.
    pub version: Option<[u8; 8]>,
}

impl ChallengeMessage {
    /// Parse and bounds-check a CHALLENGE message.
    pub fn parse(b: &[u8]) -> Result<Self, NtlmError> {
        if b.len() < 32 {
            return Err(NtlmError::Truncated {
                len: b.len(),
                need: 32,
            });
        }
        if b.get(..8) != Some(&SIGNATURE[..]) {
            return Err(NtlmError::BadSignature);
        }
        let ty = le32(b, 8).unwrap_or(0);
        if ty != 2 {
            return Err(NtlmError::WrongType {
                got: ty,
                expected: 2,
            });
        }
        // TargetName is informational only (NTLMv2 does not use it): a bad one (Squid's
        // ntlm_fake_auth sends an uninitialised offset) is read as empty rather than refused.
        let target_name = field(b, 12, "TargetName")
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let flags = le32(b, 20).unwrap_or(0);
        let mut server_challenge = [0u8; 8];
        server_challenge.copy_from_slice(&b[24..32]);
        // TargetInfoFields (40..48) and Version (48..56) exist only in post-NT4 messages, and
        // TargetInfo is meaningful only with NEGOTIATE_TARGET_INFO.
        let target_info = if b.len() >= 48 && flags & flags::NEGOTIATE_TARGET_INFO != 0 {
            parse_av_pairs(field(b, 40, "TargetInfo")?)?
        } else {
            Vec::new()
        };
        let version = if flags & flags::NEGOTIATE_VERSION != 0 {
            b.get(48..56).map(|v| {
                let mut a = [0u8; 8];
                a.copy_from_slice(v);
                a
            })
        } else {
            None
        };
        Ok(ChallengeMessage {
            flags,
            server_challenge,
            target_name,
            target_info,
            version,
        })
    }

    /// The `MsvAvTimestamp` FILETIME, if the server sent one.
    pub fn timestamp(&self) -> Option<u64> {
        self.target_info
            .iter()
            .find(|p| p.id == av_id::TIMESTAMP)
            .and_then(|p| <[u8; 8]>::try_from(p.value.as_slice()).ok())
            .map(u64::from_le_bytes)
    }
}

/// A NEGOTIATE_MESSAGE with no domain or workstation (32 bytes). The VERSION flag is cleared
/// since no version is sent.
pub fn negotiate_message(flags: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&(flags & !flags::NEGOTIATE_VERSION).to_le_bytes());
    // DomainNameFields and WorkstationFields: empty, offset = end of header.
    for _ in 0..2 {
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&32u32.to_le_bytes());
    }
    m
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// NTOWFv1: MD4(UTF-16LE(password)).
pub fn nt_hash(password: &str) -> [u8; 16] {
    let mut p = utf16le(password);
    let out: [u8; 16] = Md4::digest(&p).into();
    wipe_vec(&mut p);
    out
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length; the error branch cannot happen.
    let mut mac = match HmacMd5::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 16],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Upper-case one character at a time, keeping characters whose upper case is not a single
/// character (`ß` stays `ß`), as Windows' `RtlUpcaseUnicodeString` does.
fn upcase_like_windows(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// NTOWFv2 = HMAC_MD5(MD4(UNICODE(password)), UNICODE(Uppercase(user) || domain)).
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let mut h = nt_hash(password);
    let mut ud = utf16le(&upcase_like_windows(user));
    ud.extend(utf16le(domain));
    let out = hmac_md5(&h, &[&ud]);
    wipe_array(&mut h);
    out
}

/// LMv2 response: HMAC_MD5(key, server || client) || client (24 bytes).
pub fn lmv2_response(key: &[u8; 16], server: &[u8; 8], client: &[u8; 8]) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..16].copy_from_slice(&hmac_md5(key, &[server, client]));
    out[16..].copy_from_slice(client);
    out
}

/// The NTLMv2 client challenge blob (`temp` of [MS-NLMP] §3.3.2):
/// `01 01 Z(6) Time ClientChallenge Z(4) ServerName Z(4)`, where `server_name` is the encoded
/// AV pair list (EOL included).
pub fn ntlmv2_blob(time: u64, client: &[u8; 8], server_name: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(32 + server_name.len());
    t.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    t.extend_from_slice(&time.to_le_bytes());
    t.extend_from_slice(client);
    t.extend_from_slice(&[0; 4]);
    t.extend_from_slice(server_name);
    t.extend_from_slice(&[0; 4]);
    t
}

/// NTProofStr = HMAC_MD5(key, server || blob); returns (NTProofStr || blob, NTProofStr).
pub fn ntlmv2_response(key: &[u8; 16], server: &[u8; 8], blob: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let proof = hmac_md5(key, &[server, blob]);
    let mut r = proof.to_vec();
    r.extend_from_slice(blob);
    (r, proof)
}

/// SessionBaseKey = HMAC_MD5(key, NTProofStr) (also the KeyExchangeKey for NTLMv2).
pub fn session_base_key(key: &[u8; 16], nt_proof: &[u8; 16]) -> [u8; 16] {
    hmac_md5(key, &[nt_proof])
}

/// RC4 (used only for the EncryptedRandomSessionKey of key exchange).
pub fn rc4(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut s: [u8; 256] = std::array::from_fn(|i| i as u8);
    if key.is_empty() {
        return data.to_vec();
    }
    let mut j: u8 = 0;
    for i in 0..256 {
        j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
        s.swap(i, usize::from(j));
    }
    let (mut i, mut j) = (0u8, 0u8);
    let out = data
        .iter()
        .map(|b| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s[usize::from(i)]);
            s.swap(usize::from(i), usize::from(j));
            let k = s[usize::from(s[usize::from(i)].wrapping_add(s[usize::from(j)]))];
            b ^ k
        })
        .collect();
    s.fill(0);
    out
}

/// The fields of an AUTHENTICATE_MESSAGE ([MS-NLMP] §2.2.1.3).
#[derive(Debug, Clone, Copy)]
pub struct AuthenticateFields<'a> {
    /// NegotiateFlags; the Unicode flag selects UTF-16LE strings, else OEM (ASCII, `?` for
    /// anything else).
    pub flags: u32,
    /// LmChallengeResponse.
    pub lm_response: &'a [u8],
    /// NtChallengeResponse.
    pub nt_response: &'a [u8],
    /// Domain.
    pub domain: &'a str,
    /// User.
    pub user: &'a str,
    /// Workstation.
    pub workstation: &'a str,
    /// EncryptedRandomSessionKey (empty without key exchange).
    pub encrypted_random_session_key: &'a [u8],
    /// Version field; written when `Some` or when a MIC is present (zeros then).
    pub version: Option<[u8; 8]>,
    /// Reserve a zeroed 16-byte MIC at [`MIC_OFFSET`].
    pub mic: bool,
}

fn encode_str(s: &str, unicode: bool) -> Vec<u8> {
    if unicode {
        utf16le(s)
    } else {
        s.chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect()
    }
}

/// Build an AUTHENTICATE message. Payload order: domain, user, workstation, LM, NT, key (the
/// order of the [MS-NLMP] §4.2.4.3 example).
pub fn authenticate_message(f: &AuthenticateFields<'_>) -> Result<Vec<u8>, NtlmError> {
    let unicode = f.flags & flags::NEGOTIATE_UNICODE != 0;
    let domain = encode_str(f.domain, unicode);
    let user = encode_str(f.user, unicode);
    let ws = encode_str(f.workstation, unicode);
    let mut header_len = 64;
    if f.version.is_some() || f.mic {
        header_len += 8;
    }
    if f.mic {
        header_len += 16;
    }
    // (field offset in the header, payload, name)
    let parts: [(usize, &[u8], &'static str); 6] = [
        (28, &domain, "DomainName"),
        (36, &user, "UserName"),
        (44, &ws, "Workstation"),
        (12, f.lm_response, "LmChallengeResponse"),
        (20, f.nt_response, "NtChallengeResponse"),
        (
            52,
            f.encrypted_random_session_key,
            "EncryptedRandomSessionKey",
        ),
    ];
    let mut m = vec![0u8; header_len];
    m[..8].copy_from_slice(SIGNATURE);
    m[8..12].copy_from_slice(&3u32.to_le_bytes());
    for (at, data, name) in parts {
        let len = u16::try_from(data.len()).map_err(|_| NtlmError::TooLong(name))?;
        let off = u32::try_from(m.len()).map_err(|_| NtlmError::TooLong("message"))?;
        m[at..at + 2].copy_from_slice(&len.to_le_bytes());
        m[at + 2..at + 4].copy_from_slice(&len.to_le_bytes());
        m[at + 4..at + 8].copy_from_slice(&off.to_le_bytes());
        m.extend_from_slice(data);
    }
    m[60..64].copy_from_slice(&f.flags.to_le_bytes());
    if let Some(v) = f.version {
        m[64..72].copy_from_slice(&v);
    }
    Ok(m)
}

/// Everything the client side needs to answer one CHALLENGE.
#[derive(Clone, Copy)]
pub struct NtlmClientInput<'a> {
    /// User (without domain).
    pub user: &'a str,
    /// Domain ("" lets the server use its own).
    pub domain: &'a str,
    /// Password.
    pub password: &'a str,
    /// Workstation name ("" is fine).
    pub workstation: &'a str,
    /// The NEGOTIATE message this client sent (for the MIC).
    pub negotiate: &'a [u8],
    /// The raw CHALLENGE message (for the MIC).
    pub challenge: &'a [u8],
    /// 8 random bytes from the caller.
    pub client_challenge: [u8; 8],
    /// Current time as a FILETIME, used when the server sends no `MsvAvTimestamp`.
    pub now_filetime: u64,
}

/// Build the AUTHENTICATE message for a CHALLENGE.
///
/// NTLMv2 only. If the server sent `MsvAvTimestamp`, its time is used, the LM response is
/// Z(24), `MsvAvFlags` gets bit 0x2 and a MIC (keyed with the session base key, since no key
/// exchange is negotiated) covers the three messages. Otherwise the LMv2 response is sent and
/// there is no MIC.
pub fn authenticate_for_challenge(input: &NtlmClientInput<'_>) -> Result<Vec<u8>, NtlmError> {
    let ch = ChallengeMessage::parse(input.challenge)?;
    let mut neg = ch.flags
        & (CLIENT_NEGOTIATE_FLAGS | flags::NEGOTIATE_TARGET_INFO)
        & !flags::NEGOTIATE_VERSION;
    if neg & flags::NEGOTIATE_UNICODE != 0 {
        neg &= !flags::NEGOTIATE_OEM;
    } else if neg & flags::NEGOTIATE_OEM == 0 {
        neg |= flags::NEGOTIATE_UNICODE;
    }
    let timestamp = ch.timestamp();
    let time = timestamp.unwrap_or(input.now_filetime);
    let mut pairs = ch.target_info.clone();
    if timestamp.is_some() {
        match pairs.iter_mut().find(|p| p.id == av_id::FLAGS) {
            Some(p) => {
                let old = <[u8; 4]>::try_from(p.value.as_slice())
                    .map(u32::from_le_bytes)
                    .unwrap_or(0);
                p.value = (old | 2).to_le_bytes().to_vec();
            }
            None => pairs.push(AvPair {
                id: av_id::FLAGS,
                value: 2u32.to_le_bytes().to_vec(),
            }),
        }
    }
    let server_name = encode_av_pairs(&pairs)?;
    let mut key = ntowf_v2(input.password, input.user, input.domain);
    let blob = ntlmv2_blob(time, &input.client_challenge, &server_name);
    let (nt, proof) = ntlmv2_response(&key, &ch.server_challenge, &blob);
    let lm = if timestamp.is_some() {
        [0u8; 24]
    } else {
        lmv2_response(&key, &ch.server_challenge, &input.client_challenge)
    };
    let mut sbk = session_base_key(&key, &proof);
    wipe_array(&mut key);
    let fields = AuthenticateFields {
        flags: neg,
        lm_response: &lm,
        nt_response: &nt,
        domain: input.domain,
        user: input.user,
        workstation: input.workstation,
        encrypted_random_session_key: &[],
        version: None,
        mic: timestamp.is_some(),
    };
    let mut msg = authenticate_message(&fields);
    if let (Ok(m), true) = (&mut msg, timestamp.is_some()) {
        let mic = hmac_md5(&sbk, &[input.negotiate, input.challenge, m]);
        m[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&mic);
    }
    wipe_array(&mut sbk);
    msg
}

/// Unix time (seconds) to a Windows FILETIME (100 ns since 1601-01-01).
pub fn unix_to_filetime(secs: u64, nanos: u32) -> u64 {
    (secs.saturating_add(11_644_473_600))
        .saturating_mul(10_000_000)
        .saturating_add(u64::from(nanos / 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // [MS-NLMP] §4.2.4 inputs.
    const USER: &str = "User";
    const DOMAIN: &str = "Domain";
    const PASSWORD: &str = "Password";
    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];

    /// §4.2.4.3 CHALLENGE_MESSAGE.
    const SPEC_CHALLENGE: &str = "4e544c4d53535000020000000c000c003800000033828ae2\
        0123456789abcdef00000000000000002400240044000000060070170000000f\
        53006500720076006500720002000c0044006f006d00610069006e00\
        01000c0053006500720076006500720000000000";

    /// §4.2.4.3 AUTHENTICATE_MESSAGE.
    const SPEC_AUTHENTICATE: &str = "
        4e544c4d535350000300000018001800 6c00000054005400840000000c000c00
        48000000080008005400000010001000 5c00000010001000d8000000358288e2
        0501280a0000000f44006f006d006100 69006e00550073006500720043004f00
        4d005000550054004500520086c35097 ac9cec102554764a57cccc19aaaaaaaa
        aaaaaaaa68cd0ab851e51c96aabc927b ebef6a1c010100000000000000000000
        00000000aaaaaaaaaaaaaaaa00000000 02000c0044006f006d00610069006e00
        01000c00530065007200760065007200 0000000000000000c5dad2544fc97990
        94ce1ce90bc9d03e";

    #[test]
    fn ms_nlmp_4_2_4_1_1_ntowf() {
        assert_eq!(
            nt_hash(PASSWORD).to_vec(),
            unhex("a4f49c406510bdcab6824ee7c30fd852")
        );
        assert_eq!(
            ntowf_v2(PASSWORD, USER, DOMAIN).to_vec(),
            unhex("0c868a403bfd7a93a3001ef22ef02e3f")
        );
        // The user name is upper-cased, the domain is not.
        assert_eq!(
            ntowf_v2(PASSWORD, "uSeR", DOMAIN),
            ntowf_v2(PASSWORD, USER, DOMAIN)
        );
        assert_ne!(
            ntowf_v2(PASSWORD, USER, "DOMAIN"),
            ntowf_v2(PASSWORD, USER, DOMAIN)
        );
        assert_eq!(upcase_like_windows("jörg straße ǆ"), "JÖRG STRAßE Ǆ");
    }

    #[test]
    fn ms_nlmp_4_2_4_2_responses_and_keys() {
        let key = ntowf_v2(PASSWORD, USER, DOMAIN);
        // §4.2.4.2.1 LMv2 response.
        assert_eq!(
            lmv2_response(&key, &SERVER_CHALLENGE, &CLIENT_CHALLENGE).to_vec(),
            unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
        );
        // §4.2.4.2.2 NTLMv2 response, time zero, the §4.2.4 target info.
        let ti = encode_av_pairs(&[
            AvPair {
                id: av_id::NB_DOMAIN_NAME,
                value: utf16le("Domain"),
            },
            AvPair {
                id: av_id::NB_COMPUTER_NAME,
                value: utf16le("Server"),
            },
        ])
        .unwrap();
        let blob = ntlmv2_blob(0, &CLIENT_CHALLENGE, &ti);
        let (nt, proof) = ntlmv2_response(&key, &SERVER_CHALLENGE, &blob);
        assert_eq!(proof.to_vec(), unhex("68cd0ab851e51c96aabc927bebef6a1c"));
        assert_eq!(
            nt,
            unhex(
                "68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000
                 aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e0001000c00
                 53006500720076006500720000000000 00000000"
            )
        );
        // §4.2.4.1.2 session base key.
        let sbk = session_base_key(&key, &proof);
        assert_eq!(sbk.to_vec(), unhex("8de40ccadbc14a82f15cb0ad0de95ca3"));
        // §4.2.4.2.3 encrypted session key: RC4(KeyExchangeKey = SessionBaseKey, 0x55 * 16).
        assert_eq!(
            rc4(&sbk, &[0x55; 16]),
            unhex("c5dad2544fc9799094ce1ce90bc9d03e")
        );
    }

    #[test]
    fn ms_nlmp_4_2_4_3_challenge_message_parses() {
        let ch = ChallengeMessage::parse(&unhex(SPEC_CHALLENGE)).unwrap();
        assert_eq!(ch.flags, 0xe28a_8233);
        assert_eq!(ch.server_challenge, SERVER_CHALLENGE);
        assert_eq!(ch.target_name, utf16le("Server"));
        assert_eq!(
            ch.target_info,
            vec![
                AvPair {
                    id: av_id::NB_DOMAIN_NAME,
                    value: utf16le("Domain")
                },
                AvPair {
                    id: av_id::NB_COMPUTER_NAME,
                    value: utf16le("Server")
                },
            ]
        );
        assert_eq!(ch.version, Some([0x06, 0x00, 0x70, 0x17, 0, 0, 0, 0x0f]));
        assert_eq!(ch.timestamp(), None);
    }

    #[test]
    fn ms_nlmp_4_2_4_3_authenticate_message_byte_for_byte() {
        let ch = ChallengeMessage::parse(&unhex(SPEC_CHALLENGE)).unwrap();
        let key = ntowf_v2(PASSWORD, USER, DOMAIN);
        let blob = ntlmv2_blob(
            0,
            &CLIENT_CHALLENGE,
            &encode_av_pairs(&ch.target_info).unwrap(),
        );
        let (nt, proof) = ntlmv2_response(&key, &ch.server_challenge, &blob);
        let lm = lmv2_response(&key, &ch.server_challenge, &CLIENT_CHALLENGE);
        let ersk = rc4(&session_base_key(&key, &proof), &[0x55; 16]);
        let msg = authenticate_message(&AuthenticateFields {
            flags: 0xe288_8235,
            lm_response: &lm,
            nt_response: &nt,
            domain: DOMAIN,
            user: USER,
            workstation: "COMPUTER",
            encrypted_random_session_key: &ersk,
            version: Some([0x05, 0x01, 0x28, 0x0a, 0, 0, 0, 0x0f]),
            mic: false,
        })
        .unwrap();
        assert_eq!(msg, unhex(SPEC_AUTHENTICATE));
    }

    #[test]
    fn rc4_known_answers() {
        assert_eq!(rc4(b"Key", b"Plaintext"), unhex("bbf316e8d940af0ad3"));
        assert_eq!(rc4(b"Wiki", b"pedia"), unhex("1021bf0420"));
        assert_eq!(
            rc4(b"Secret", b"Attack at dawn"),
            unhex("45a01f645fc35b383552544b9bf5")
        );
    }

    #[test]
    fn negotiate_message_layout() {
        let m = negotiate_message(CLIENT_NEGOTIATE_FLAGS | flags::NEGOTIATE_VERSION);
        assert_eq!(m.len(), 32);
        assert_eq!(&m[..8], SIGNATURE);
        assert_eq!(le32(&m, 8), Some(1));
        assert_eq!(le32(&m, 12), Some(CLIENT_NEGOTIATE_FLAGS));
        assert_eq!(CLIENT_NEGOTIATE_FLAGS, 0xa008_8207);
        assert_eq!(le32(&m, 20), Some(32));
    }

    /// A CHALLENGE as Windows sends it today: with MsvAvTimestamp.
    fn challenge_with_timestamp(ts: u64, extra_flags_av: Option<u32>) -> Vec<u8> {
        let mut pairs = vec![
            AvPair {
                id: av_id::NB_DOMAIN_NAME,
                value: utf16le("CORP"),
            },
            AvPair {
                id: av_id::NB_COMPUTER_NAME,
                value: utf16le("PROXY"),
            },
            AvPair {
                id: av_id::TIMESTAMP,
                value: ts.to_le_bytes().to_vec(),
            },
        ];
        if let Some(f) = extra_flags_av {
            pairs.push(AvPair {
                id: av_id::FLAGS,
                value: f.to_le_bytes().to_vec(),
            });
        }
        let ti = encode_av_pairs(&pairs).unwrap();
        let name = utf16le("CORP");
        let mut m = Vec::new();
        m.extend_from_slice(SIGNATURE);
        m.extend_from_slice(&2u32.to_le_bytes());
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&56u32.to_le_bytes());
        m.extend_from_slice(&0xe28a_8215u32.to_le_bytes());
        m.extend_from_slice(&SERVER_CHALLENGE);
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&(ti.len() as u16).to_le_bytes());
        m.extend_from_slice(&(ti.len() as u16).to_le_bytes());
        m.extend_from_slice(&((56 + name.len()) as u32).to_le_bytes());
        m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 0x0f]);
        m.extend_from_slice(&name);
        m.extend_from_slice(&ti);
        m
    }

    fn payload(m: &[u8], at: usize) -> &[u8] {
        field(m, at, "test").unwrap()
    }

    #[test]
    fn authenticate_with_server_timestamp_has_mic_and_no_lm() {
        let ts = 0x01d9_0000_1234_5678u64;
        for extra in [None, Some(0x1u32)] {
            let neg = negotiate_message(CLIENT_NEGOTIATE_FLAGS);
            let chal = challenge_with_timestamp(ts, extra);
            let input = NtlmClientInput {
                user: "alice",
                domain: "CORP",
                password: "Pa55w0rd",
                workstation: "WS1",
                negotiate: &neg,
                challenge: &chal,
                client_challenge: [1, 2, 3, 4, 5, 6, 7, 8],
                now_filetime: 42,
            };
            let m = authenticate_for_challenge(&input).unwrap();
            assert_eq!(&m[..8], SIGNATURE);
            assert_eq!(le32(&m, 8), Some(3));
            // Negotiated flags: the server's, limited to what the client asked for, no KEY_EXCH,
            // SIGN, SEAL or VERSION, Unicode strings.
            let f = le32(&m, 60).unwrap();
            assert_eq!(
                f,
                0xe28a_8215 & (CLIENT_NEGOTIATE_FLAGS | flags::NEGOTIATE_TARGET_INFO)
            );
            assert_eq!(f & (flags::NEGOTIATE_KEY_EXCH | flags::NEGOTIATE_SIGN), 0);
            assert_eq!(payload(&m, 12), &[0u8; 24][..], "LM response is Z(24)");
            assert_eq!(payload(&m, 28), &utf16le("CORP")[..]);
            assert_eq!(payload(&m, 36), &utf16le("alice")[..]);
            assert_eq!(payload(&m, 44), &utf16le("WS1")[..]);
            assert_eq!(le32(&m, 32), Some(88), "payload starts after the MIC");
            // The NT response uses the server's time and echoes its AV pairs plus MsvAvFlags=2.
            let nt = payload(&m, 20);
            let blob = &nt[16..];
            assert_eq!(&blob[8..16], &ts.to_le_bytes());
            assert_eq!(&blob[16..24], &[1, 2, 3, 4, 5, 6, 7, 8]);
            let pairs = parse_av_pairs(&blob[28..]).unwrap();
            let fl = pairs.iter().find(|p| p.id == av_id::FLAGS).unwrap();
            assert_eq!(fl.value, (extra.unwrap_or(0) | 2).to_le_bytes().to_vec());
            // The proof is the NTLMv2 one, recomputed independently.
            let key = ntowf_v2("Pa55w0rd", "alice", "CORP");
            let proof = hmac_md5(&key, &[&SERVER_CHALLENGE, blob]);
            assert_eq!(&nt[..16], &proof);
            // MIC = HMAC_MD5(SessionBaseKey, NEGOTIATE || CHALLENGE || AUTHENTICATE(MIC=0)).
            let sbk = hmac_md5(&key, &[&proof]);
            let mut zeroed = m.clone();
            zeroed[MIC_OFFSET..MIC_OFFSET + 16].fill(0);
            assert_eq!(
                &m[MIC_OFFSET..MIC_OFFSET + 16],
                &hmac_md5(&sbk, &[&neg, &chal, &zeroed])
            );
        }
    }

    #[test]
    fn authenticate_without_timestamp_uses_caller_time_and_lmv2() {
        let neg = negotiate_message(CLIENT_NEGOTIATE_FLAGS);
        let chal = unhex(SPEC_CHALLENGE);
        let input = NtlmClientInput {
            user: USER,
            domain: DOMAIN,
            password: PASSWORD,
            workstation: "",
            negotiate: &neg,
            challenge: &chal,
            client_challenge: CLIENT_CHALLENGE,
            now_filetime: 0,
        };
        let m = authenticate_for_challenge(&input).unwrap();
        assert_eq!(le32(&m, 32), Some(64), "no MIC, no version");
        assert_eq!(
            payload(&m, 12),
            &unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")[..]
        );
        // Time zero and the spec's target info give the spec's NTProofStr.
        assert_eq!(
            &payload(&m, 20)[..16],
            &unhex("68cd0ab851e51c96aabc927bebef6a1c")[..]
        );
        let t = unix_to_filetime(1_700_000_000, 0);
        assert_eq!(t, 133_444_736_000_000_000);
        let m = authenticate_for_challenge(&NtlmClientInput {
            now_filetime: t,
            ..input
        })
        .unwrap();
        assert_eq!(&payload(&m, 20)[24..32], &t.to_le_bytes());
    }

    #[test]
    fn oem_strings_when_the_server_refuses_unicode() {
        let mut chal = unhex(SPEC_CHALLENGE);
        chal[20] &= !1; // clear NEGOTIATE_UNICODE, keep OEM
        let neg = negotiate_message(CLIENT_NEGOTIATE_FLAGS);
        let m = authenticate_for_challenge(&NtlmClientInput {
            user: "j\u{f6}rg",
            domain: "D",
            password: "p",
            workstation: "",
            negotiate: &neg,
            challenge: &chal,
            client_challenge: [0; 8],
            now_filetime: 0,
        })
        .unwrap();
        assert_eq!(payload(&m, 36), b"j?rg");
        assert_eq!(le32(&m, 60).unwrap() & 3, flags::NEGOTIATE_OEM);
    }

    #[test]
    fn squid_ntlm_fake_auth_challenge_is_accepted() {
        // Captured from Squid 5.7's ntlm_fake_auth: TargetName offset 0xaaaaaaae (garbage), no
        // NEGOTIATE_TARGET_INFO, the 8 bytes where TargetInfoFields would be are "WORKGROU".
        let b = unhex(
            "4e544c4d535350000200000009000900aeaaaaaa078208a02d359ec8144df3da\
             0000000000003a00574f524b47524f5550",
        );
        let ch = ChallengeMessage::parse(&b).unwrap();
        assert_eq!(ch.flags, 0xa008_8207);
        assert_eq!(
            ch.server_challenge,
            [0x2d, 0x35, 0x9e, 0xc8, 0x14, 0x4d, 0xf3, 0xda]
        );
        assert!(ch.target_name.is_empty());
        assert!(ch.target_info.is_empty());
        let neg = negotiate_message(CLIENT_NEGOTIATE_FLAGS);
        let m = authenticate_for_challenge(&NtlmClientInput {
            user: "u",
            domain: "d",
            password: "p",
            workstation: "",
            negotiate: &neg,
            challenge: &b,
            client_challenge: [9; 8],
            now_filetime: 5,
        })
        .unwrap();
        // NTLMv2 blob with an empty AV list: 16 + 28 + 4 (EOL) + 4 bytes.
        assert_eq!(payload(&m, 20).len(), 52);
    }

    #[test]
    fn hostile_challenges_are_errors() {
        let good = unhex(SPEC_CHALLENGE);
        assert!(matches!(
            ChallengeMessage::parse(&good[..31]),
            Err(NtlmError::Truncated { .. })
        ));
        let mut b = good.clone();
        b[0] = b'X';
        assert_eq!(ChallengeMessage::parse(&b), Err(NtlmError::BadSignature));
        let mut b = good.clone();
        b[8] = 3;
        assert!(matches!(
            ChallengeMessage::parse(&b),
            Err(NtlmError::WrongType { .. })
        ));
        // TargetInfo offset past the end.
        let mut b = good.clone();
        b[44] = 0xff;
        assert!(matches!(
            ChallengeMessage::parse(&b),
            Err(NtlmError::FieldOutOfBounds { .. })
        ));
        // Offset near u32::MAX must not overflow.
        let mut b = good.clone();
        b[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ChallengeMessage::parse(&b).is_err());
        // An AV pair claiming more bytes than the list has.
        assert!(parse_av_pairs(&[2, 0, 0xff, 0, 1, 2]).is_err());
        assert!(parse_av_pairs(&[2, 0]).is_err());
        // Truncated target info inside an otherwise fine message.
        let mut b = good.clone();
        b[40] = 0x12;
        b[41] = 0;
        let r = ChallengeMessage::parse(&b);
        assert!(r.is_err(), "{r:?}");
        // A timestamp AV pair of the wrong size is ignored, not trusted.
        let ch = ChallengeMessage {
            flags: 0,
            server_challenge: [0; 8],
            target_name: vec![],
            target_info: vec![AvPair {
                id: av_id::TIMESTAMP,
                value: vec![1, 2, 3],
            }],
            version: None,
        };
        assert_eq!(ch.timestamp(), None);
    }
}
