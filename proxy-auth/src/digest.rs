//! Digest authentication (RFC 7616): MD5, MD5-sess, SHA-256, SHA-256-sess; `qop=auth`, or no
//! qop for RFC 2069 servers. `auth-int` and `userhash` are not used.

use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::challenge::{Challenge, Scheme};
use crate::credentials::wipe_string;

/// Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DigestAlgorithm {
    /// `MD5` (also the default when `algorithm` is absent).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl DigestAlgorithm {
    /// Parse an `algorithm` value (case-insensitive). `None` for unsupported ones
    /// (e.g. `SHA-512-256`).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Md5, Self::Md5Sess, Self::Sha256, Self::Sha256Sess]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    /// The RFC 7616 spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    /// True for SHA-256 and SHA-256-sess.
    pub fn is_sha256(self) -> bool {
        matches!(self, Self::Sha256 | Self::Sha256Sess)
    }

    /// True for the `-sess` variants.
    pub fn is_sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    fn hash_hex(self, data: &[u8]) -> String {
        if self.is_sha256() {
            hex(&Sha256::digest(data))
        } else {
            hex(&Md5::digest(data))
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(H[usize::from(b >> 4)]));
        s.push(char::from(H[usize::from(b & 15)]));
    }
    s
}

/// A Digest challenge this crate can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm` ("" if the server omitted it).
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed back unchanged.
    pub opaque: Option<String>,
    /// Hash algorithm.
    pub algorithm: DigestAlgorithm,
    /// The `algorithm` token as the server sent it (echoed back), if it sent one.
    pub algorithm_token: Option<String>,
    /// The server offered `qop=auth` (false: RFC 2069 mode without qop).
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired, the credentials were fine.
    pub stale: bool,
}

impl DigestChallenge {
    /// Extract a supported Digest challenge. `None` if it is not Digest, has no nonce, uses an
    /// unsupported algorithm, or lists qop values without `auth`.
    pub fn from_challenge(c: &Challenge) -> Option<Self> {
        if c.scheme != Scheme::Digest {
            return None;
        }
        let nonce = c.param("nonce")?.to_owned();
        let (algorithm, algorithm_token) = match c.param("algorithm") {
            None => (DigestAlgorithm::Md5, None),
            Some(t) => (DigestAlgorithm::parse(t)?, Some(t.to_owned())),
        };
        let qop_auth = match c.param("qop") {
            None => false,
            Some(q) => {
                if q.split(',').any(|v| v.trim().eq_ignore_ascii_case("auth")) {
                    true
                } else {
                    return None;
                }
            }
        };
        Some(DigestChallenge {
            realm: c.param("realm").unwrap_or("").to_owned(),
            nonce,
            opaque: c.param("opaque").map(str::to_owned),
            algorithm,
            algorithm_token,
            qop_auth,
            stale: c
                .param("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }
}

/// The request-dependent inputs of one Digest response.
#[derive(Debug, Clone, Copy)]
pub struct DigestRequest<'a> {
    /// Request method (`CONNECT` for a proxy tunnel).
    pub method: &'a str,
    /// `digest-uri`: the request-target (`host:port` for CONNECT).
    pub uri: &'a str,
    /// Client nonce (caller's randomness).
    pub cnonce: &'a str,
    /// Nonce count, starting at 1 for each nonce.
    pub nc: u32,
}

/// The `response` value (lower-case hex) of RFC 7616 §3.4.1.
pub fn digest_response(
    ch: &DigestChallenge,
    username: &str,
    password: &str,
    req: &DigestRequest<'_>,
) -> String {
    let alg = ch.algorithm;
    let mut a1 = format!("{username}:{}:{password}", ch.realm);
    let mut ha1 = alg.hash_hex(a1.as_bytes());
    wipe_string(&mut a1);
    if alg.is_sess() {
        let mut s = format!("{ha1}:{}:{}", ch.nonce, req.cnonce);
        wipe_string(&mut ha1);
        ha1 = alg.hash_hex(s.as_bytes());
        wipe_string(&mut s);
    }
    let ha2 = alg.hash_hex(format!("{}:{}", req.method, req.uri).as_bytes());
    let mut kd = if ch.qop_auth {
        format!(
            "{ha1}:{}:{:08x}:{}:auth:{ha2}",
            ch.nonce, req.nc, req.cnonce
        )
    } else {
        format!("{ha1}:{}:{ha2}", ch.nonce)
    };
    let out = alg.hash_hex(kd.as_bytes());
    wipe_string(&mut ha1);
    wipe_string(&mut kd);
    out
}

/// Quote as an RFC 7230 quoted-string (escaping `"` and `\`). Control characters (HTAB, which
/// a challenge may carry, included) are dropped: the CONNECT request refuses them, and a
/// proxy's odd realm or nonce must not turn the credential header into an error.
pub(crate) fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// RFC 8187 `ext-value` (`UTF-8''percent-encoded`).
fn ext_value(s: &str) -> String {
    let mut out = String::from("UTF-8''");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The full `Proxy-Authorization` value: `Digest username="…", realm="…", …`.
///
/// A user name with control characters (which a quoted-string cannot carry) is sent as
/// `username*` (RFC 7616 §3.4.4).
pub fn digest_authorization(
    ch: &DigestChallenge,
    username: &str,
    password: &str,
    req: &DigestRequest<'_>,
) -> String {
    let response = digest_response(ch, username, password, req);
    let mut h = String::from("Digest ");
    if username.chars().any(char::is_control) {
        h.push_str(&format!("username*={}", ext_value(username)));
    } else {
        h.push_str(&format!("username={}", quote(username)));
    }
    h.push_str(&format!(", realm={}", quote(&ch.realm)));
    h.push_str(&format!(", uri={}", quote(req.uri)));
    if let Some(a) = &ch.algorithm_token {
        h.push_str(&format!(", algorithm={a}"));
    }
    h.push_str(&format!(", nonce={}", quote(&ch.nonce)));
    if ch.qop_auth {
        h.push_str(&format!(
            ", nc={:08x}, cnonce={}, qop=auth",
            req.nc,
            quote(req.cnonce)
        ));
    }
    h.push_str(&format!(", response=\"{response}\""));
    if let Some(o) = &ch.opaque {
        h.push_str(&format!(", opaque={}", quote(o)));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::parse_challenges;

    fn challenge(s: &str) -> DigestChallenge {
        let c = parse_challenges(s).unwrap();
        DigestChallenge::from_challenge(&c[0]).unwrap()
    }

    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616(alg: &str) -> DigestChallenge {
        challenge(&format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, \
             nonce=\"{RFC7616_NONCE}\", opaque=\"{RFC7616_OPAQUE}\""
        ))
    }

    const RFC_REQ: DigestRequest<'static> = DigestRequest {
        method: "GET",
        uri: "/dir/index.html",
        cnonce: RFC7616_CNONCE,
        nc: 1,
    };

    #[test]
    fn htab_and_controls_in_a_challenge_never_reach_the_header() {
        let ch = challenge(
            "Digest realm=\"r\teal\\\tm\", qop=\"auth\", nonce=\"n\to\u{85}nce\", \
             opaque=\"o\tp\"",
        );
        assert!(
            ch.realm.contains('\t'),
            "the parser keeps HTAB: {:?}",
            ch.realm
        );
        let h = digest_authorization(&ch, "alice", "pw", &RFC_REQ);
        assert!(!h.chars().any(char::is_control), "{h:?}");
        assert!(
            h.contains("realm=\"realm\"") && h.contains("opaque=\"op\""),
            "{h}"
        );
    }

    #[test]
    fn rfc7616_3_9_1_md5() {
        let ch = rfc7616("MD5");
        assert_eq!(ch.algorithm, DigestAlgorithm::Md5);
        assert!(ch.qop_auth);
        assert_eq!(
            digest_response(&ch, "Mufasa", "Circle of Life", &RFC_REQ),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc7616_3_9_1_sha256() {
        let ch = rfc7616("SHA-256");
        assert_eq!(ch.algorithm, DigestAlgorithm::Sha256);
        let h = digest_authorization(&ch, "Mufasa", "Circle of Life", &RFC_REQ);
        assert_eq!(
            h,
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
             uri=\"/dir/index.html\", algorithm=SHA-256, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
             cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
             response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        );
        // The header we produce parses back with our own challenge parser.
        let back = parse_challenges(&h).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].param("cnonce"), Some(RFC7616_CNONCE));
    }

    #[test]
    fn rfc2617_3_5_md5_qop_auth() {
        // RFC 2617 §3.5 example (note "Circle Of Life" with a capital O there).
        let ch = challenge(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        );
        let req = DigestRequest {
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "0a4f113b",
            nc: 1,
        };
        assert_eq!(
            digest_response(&ch, "Mufasa", "Circle Of Life", &req),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn sess_variants_and_legacy_follow_the_formulas() {
        // Independent recomputation of RFC 7616 §3.4.2 (-sess) and RFC 2069 (no qop).
        let md5 = |s: String| hex(&Md5::digest(s.as_bytes()));
        let sha = |s: String| hex(&Sha256::digest(s.as_bytes()));
        let req = DigestRequest {
            method: "CONNECT",
            uri: "vpn.example.com:443",
            cnonce: "abcdef",
            nc: 7,
        };
        let ch = challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=MD5-sess");
        let ha1 = md5(format!("{}:n:abcdef", md5("u:r:p".into())));
        let ha2 = md5("CONNECT:vpn.example.com:443".into());
        assert_eq!(
            digest_response(&ch, "u", "p", &req),
            md5(format!("{ha1}:n:00000007:abcdef:auth:{ha2}"))
        );
        let ch = challenge("Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=sha-256-SESS");
        assert_eq!(ch.algorithm, DigestAlgorithm::Sha256Sess);
        let ha1 = sha(format!("{}:n:abcdef", sha("u:r:p".into())));
        let ha2 = sha("CONNECT:vpn.example.com:443".into());
        assert_eq!(
            digest_response(&ch, "u", "p", &req),
            sha(format!("{ha1}:n:00000007:abcdef:auth:{ha2}"))
        );
        let ch = challenge("Digest realm=\"r\", nonce=\"n\"");
        assert!(!ch.qop_auth);
        let expect = md5(format!("{}:n:{}", md5("u:r:p".into()), ha2_md5()));
        assert_eq!(digest_response(&ch, "u", "p", &req), expect);
        let h = digest_authorization(&ch, "u", "p", &req);
        assert!(
            !h.contains("qop") && !h.contains("nc=") && !h.contains("cnonce"),
            "{h}"
        );
        assert!(!h.contains("algorithm"), "{h}");
    }

    fn ha2_md5() -> String {
        hex(&Md5::digest(b"CONNECT:vpn.example.com:443"))
    }

    #[test]
    fn unsupported_variants_are_refused() {
        for s in [
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
            "Digest realm=\"r\"",
            "Basic realm=\"r\"",
        ] {
            let c = parse_challenges(s).unwrap();
            assert_eq!(DigestChallenge::from_challenge(&c[0]), None, "{s}");
        }
    }

    #[test]
    fn quoting_of_odd_user_names() {
        let ch = challenge("Digest realm=\"a\\\"b\", nonce=\"n\", stale=TRUE");
        assert!(ch.stale);
        assert_eq!(ch.realm, "a\"b");
        let req = DigestRequest {
            method: "CONNECT",
            uri: "h:443",
            cnonce: "c",
            nc: 1,
        };
        let h = digest_authorization(&ch, "DOM\\us\"er", "p", &req);
        assert!(h.contains(r#"username="DOM\\us\"er""#), "{h}");
        assert!(h.contains(r#"realm="a\"b""#), "{h}");
        let parsed = parse_challenges(&h).unwrap();
        assert_eq!(parsed[0].param("username"), Some("DOM\\us\"er"));
        let h = digest_authorization(&ch, "a\u{7}é", "p", &req);
        assert!(h.starts_with("Digest username*=UTF-8''a%07%C3%A9, "), "{h}");
    }
}
