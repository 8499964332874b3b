//! `Proxy-Authenticate` / `WWW-Authenticate` challenge parser (RFC 7235 §2.1, §4.1).
//!
//! ```text
//! Proxy-Authenticate = 1#challenge
//! challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! Commas separate both challenges and the parameters of one challenge; an element that is
//! `token BWS "="` followed by a value continues the current challenge, anything else starts a
//! new one. Empty list elements (`,,`) are allowed, as the `#rule` says.

use crate::error::ParseError;

/// An authentication scheme name, classified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Basic` (RFC 7617).
    Basic,
    /// `Digest` (RFC 7616).
    Digest,
    /// `NTLM` ([MS-NLMP] over HTTP).
    Ntlm,
    /// `Negotiate` (RFC 4559): recognized, not supported.
    Negotiate,
    /// Any other scheme, as spelled by the server.
    Other(String),
}

impl Scheme {
    fn from_token(t: &str) -> Scheme {
        if t.eq_ignore_ascii_case("basic") {
            Scheme::Basic
        } else if t.eq_ignore_ascii_case("digest") {
            Scheme::Digest
        } else if t.eq_ignore_ascii_case("ntlm") {
            Scheme::Ntlm
        } else if t.eq_ignore_ascii_case("negotiate") {
            Scheme::Negotiate
        } else {
            Scheme::Other(t.to_owned())
        }
    }

    /// Canonical spelling (`Basic`, `Digest`, `NTLM`, `Negotiate`, or the server's).
    pub fn name(&self) -> &str {
        match self {
            Scheme::Basic => "Basic",
            Scheme::Digest => "Digest",
            Scheme::Ntlm => "NTLM",
            Scheme::Negotiate => "Negotiate",
            Scheme::Other(s) => s,
        }
    }
}

/// One parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme.
    pub scheme: Scheme,
    /// The token68 form (e.g. the base64 NTLM CHALLENGE message), if used.
    pub token68: Option<String>,
    /// `name=value` parameters in order; names lower-cased, quoted values unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Value of the first parameter called `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse one `Proxy-Authenticate` header value into its challenges.
pub fn parse_challenges(value: &str) -> Result<Vec<Challenge>, ParseError> {
    let mut p = Parser {
        s: value,
        b: value.as_bytes(),
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_ows_and_commas();
        if p.eof() {
            break;
        }
        let scheme = p
            .token()
            .ok_or_else(|| p.err("expected an auth-scheme token"))?;
        let mut ch = Challenge {
            scheme: Scheme::from_token(scheme),
            token68: None,
            params: Vec::new(),
        };
        let had_space = p.skip_ws();
        if !p.eof() && p.peek() != Some(b',') {
            if !had_space {
                return Err(p.err("expected a space after the auth-scheme"));
            }
            if let Some(t) = p.try_token68() {
                ch.token68 = Some(t.to_owned());
            } else {
                p.params(&mut ch.params)?;
            }
        }
        out.push(ch);
        p.skip_ws();
        if p.eof() {
            break;
        }
        if p.peek() != Some(b',') {
            return Err(p.err("expected ',' between challenges"));
        }
        p.pos += 1;
    }
    Ok(out)
}

/// Parse several header values (a response may repeat `Proxy-Authenticate`). Values that do not
/// parse are skipped; the errors are returned next to the challenges that did.
pub fn parse_all<S: AsRef<str>>(values: &[S]) -> (Vec<Challenge>, Vec<ParseError>) {
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for v in values {
        match parse_challenges(v.as_ref()) {
            Ok(mut c) => ok.append(&mut c),
            Err(e) => errs.push(e),
        }
    }
    (ok, errs)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
}

impl<'a> Parser<'a> {
    fn err(&self, reason: &'static str) -> ParseError {
        ParseError {
            position: self.pos,
            reason,
        }
    }

    fn eof(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// Skip SP / HTAB; true if anything was skipped.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn skip_ows_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    /// A non-empty token. Token bytes are ASCII, so the slice is on char boundaries.
    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if self.pos == start {
            None
        } else {
            self.s.get(start..self.pos)
        }
    }

    /// token68 followed by OWS and then the end or a comma; otherwise rewinds and returns None.
    fn try_token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_token68_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        while self.peek() == Some(b'=') {
            self.pos += 1;
        }
        let end = self.pos;
        self.skip_ws();
        if self.eof() || self.peek() == Some(b',') {
            self.pos = end;
            self.s.get(start..end)
        } else {
            self.pos = start;
            None
        }
    }

    /// `token BWS "="` ahead (without consuming)?
    fn param_ahead(&mut self) -> bool {
        let save = self.pos;
        let ok = self.token().is_some() && {
            self.skip_ws();
            self.peek() == Some(b'=')
        };
        self.pos = save;
        ok
    }

    fn params(&mut self, out: &mut Vec<(String, String)>) -> Result<(), ParseError> {
        loop {
            let name = self
                .token()
                .ok_or_else(|| self.err("expected a parameter name"))?
                .to_ascii_lowercase();
            self.skip_ws();
            if self.peek() != Some(b'=') {
                return Err(self.err("expected '=' after a parameter name"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = if self.peek() == Some(b'"') {
                self.quoted_string()?
            } else {
                self.token()
                    .ok_or_else(|| self.err("expected a token or quoted-string value"))?
                    .to_owned()
            };
            out.push((name, value));
            // After a parameter: end, or a comma then either another parameter or a new
            // challenge (left for the caller).
            let before = self.pos;
            self.skip_ws();
            if self.eof() {
                return Ok(());
            }
            if self.peek() != Some(b',') {
                return Err(self.err("expected ',' after a parameter"));
            }
            self.skip_ows_and_commas();
            if self.eof() {
                return Ok(());
            }
            if !self.param_ahead() {
                self.pos = before;
                return Ok(());
            }
        }
    }

    fn quoted_string(&mut self) -> Result<String, ParseError> {
        // Opening quote already peeked.
        self.pos += 1;
        let mut v: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated quoted-string"));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(q) if q == b'\t' || q >= 0x20 && q != 0x7f => {
                            v.push(q);
                            self.pos += 1;
                        }
                        _ => return Err(self.err("bad quoted-pair")),
                    }
                }
                b'\t' => {
                    v.push(c);
                    self.pos += 1;
                }
                c if c < 0x20 || c == 0x7f => {
                    return Err(self.err("control character in quoted-string"));
                }
                _ => {
                    v.push(c);
                    self.pos += 1;
                }
            }
        }
        // Only ASCII backslashes were removed, so multi-byte characters are intact.
        String::from_utf8(v).map_err(|_| self.err("invalid UTF-8 in quoted-string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<Challenge> {
        parse_challenges(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn basic_realm() {
        let c = p(r#"Basic realm="Squid proxy-caching web server""#);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, Scheme::Basic);
        assert_eq!(c[0].param("REALM"), Some("Squid proxy-caching web server"));
    }

    #[test]
    fn rfc7235_example_several_challenges_in_one_header() {
        // RFC 7235 §4.1 example.
        let c =
            p(r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, Scheme::Other("Newauth".into()));
        assert_eq!(
            c[0].params,
            vec![
                ("realm".into(), "apps".into()),
                ("type".into(), "1".into()),
                ("title".into(), "Login to \"apps\"".into()),
            ]
        );
        assert_eq!(c[1].scheme, Scheme::Basic);
        assert_eq!(c[1].param("realm"), Some("simple"));
    }

    #[test]
    fn bare_schemes_and_token68() {
        let c = p("NTLM, Negotiate,Basic realm=\"x\"");
        assert_eq!(
            c.iter().map(|c| c.scheme.clone()).collect::<Vec<_>>(),
            vec![Scheme::Ntlm, Scheme::Negotiate, Scheme::Basic]
        );
        assert!(c[0].token68.is_none() && c[0].params.is_empty());
        let c = p("NTLM TlRMTVNTUAACAAAADAAMADgAAAAzgoriASNFZ4mrze8AAAA==");
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].token68.as_deref(),
            Some("TlRMTVNTUAACAAAADAAMADgAAAAzgoriASNFZ4mrze8AAAA==")
        );
        // token68 followed by another challenge.
        let c = p("Negotiate abc=, NTLM");
        assert_eq!(c[0].token68.as_deref(), Some("abc="));
        assert_eq!(c[1].scheme, Scheme::Ntlm);
    }

    #[test]
    fn digest_with_bws_empty_elements_and_case() {
        let c = p(concat!(
            "dIgEsT  realm = \"r\" ,, qop=\"auth,auth-int\", NONCE=abc, ",
            "algorithm=SHA-256 , , stale=TRUE"
        ));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, Scheme::Digest);
        assert_eq!(c[0].param("realm"), Some("r"));
        assert_eq!(c[0].param("qop"), Some("auth,auth-int"));
        assert_eq!(c[0].param("nonce"), Some("abc"));
        assert_eq!(c[0].param("algorithm"), Some("SHA-256"));
        assert_eq!(c[0].param("stale"), Some("TRUE"));
    }

    #[test]
    fn quoted_string_escapes_and_utf8() {
        let c = p(r#"Basic realm="a\\b\"c é", charset="UTF-8""#);
        assert_eq!(c[0].param("realm"), Some("a\\b\"c é"));
        assert_eq!(c[0].param("charset"), Some("UTF-8"));
    }

    #[test]
    fn several_header_values() {
        let (c, e) = parse_all(&[
            "Negotiate",
            "NTLM",
            "Basic realm=\"x\"",
            "Digest realm=\"unterminated",
        ]);
        assert_eq!(c.len(), 3);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].reason, "unterminated quoted-string");
    }

    #[test]
    fn malformed_inputs_are_errors() {
        // "Basic realm=" is valid: the token68 "realm=".
        assert_eq!(p("Basic realm=")[0].token68.as_deref(), Some("realm="));
        for bad in [
            "Basic realm=,x=",
            "Basic realm=\"x",
            "Basic realm=\"x\" junk",
            "=foo",
            "Basic realm=\"a\u{1}b\"",
            "Basic realm=\"a\\",
            "Basic\"x\"",
            "Basic realm=\"x\" ;",
        ] {
            assert!(parse_challenges(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn empty_is_no_challenge() {
        assert_eq!(p(""), vec![]);
        assert_eq!(p(" , ,"), vec![]);
    }
}
