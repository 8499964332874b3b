//! Server side of the SSTP HTTPS handshake: parse and validate the SSTP_DUPLEX_POST request
//! ([MS-SSTP] §3.2.4.1, §4.1) and build the responses (the correct one and the faulty ones).
//!
//! `sstp_proto::http` only has the client side, so the request parser lives here.

use std::fmt;

use sstp_proto::http::{SSTP_CONTENT_LENGTH, SSTP_METHOD, SSTP_URI};

/// Upper bound of a request head.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method token.
    pub method: String,
    /// Request target.
    pub uri: String,
    /// Version token.
    pub version: String,
    /// Header fields in received order (value trimmed).
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request was refused, with the HTTP status the server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Not `METHOD URI VERSION`, bad header line, or not text.
    Malformed(String),
    /// The head did not end within [`MAX_REQUEST_HEAD`] bytes.
    TooLarge,
    /// The connection closed before the head ended.
    Truncated {
        /// Bytes received.
        received: usize,
    },
    /// Method other than SSTP_DUPLEX_POST.
    Method(String),
    /// Version other than HTTP/1.1.
    Version(String),
    /// URI other than the SSTP resource.
    Uri(String),
}

impl RequestError {
    /// The status the server answers with (`None`: just close).
    pub fn status(&self) -> Option<(u16, &'static str)> {
        match self {
            RequestError::Malformed(_) => Some((400, "Bad Request")),
            RequestError::TooLarge => Some((431, "Request Header Fields Too Large")),
            RequestError::Truncated { .. } => None,
            RequestError::Method(_) => Some((501, "Not Implemented")),
            RequestError::Version(_) => Some((505, "HTTP Version Not Supported")),
            RequestError::Uri(_) => Some((404, "Not Found")),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Malformed(s) => write!(f, "malformed request: {s}"),
            RequestError::TooLarge => {
                write!(f, "request head exceeds {MAX_REQUEST_HEAD} bytes")
            }
            RequestError::Truncated { received } => {
                write!(
                    f,
                    "connection closed after {received} bytes of request head"
                )
            }
            RequestError::Method(m) => write!(f, "method {m:?} is not {SSTP_METHOD}"),
            RequestError::Version(v) => write!(f, "version {v:?} is not HTTP/1.1"),
            RequestError::Uri(u) => write!(f, "URI {u:?} is not the SSTP resource {SSTP_URI}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Position just after the end of the head (`\r\n\r\n` or `\n\n`) in `buf`, if complete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Parses a complete head (as delimited by [`head_end`]).
pub fn parse(head: &[u8]) -> Result<Request, RequestError> {
    let text = std::str::from_utf8(head)
        .map_err(|_| RequestError::Malformed("request head is not UTF-8 text".into()))?;
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t'))
    {
        return Err(RequestError::Malformed(format!(
            "control character {:#04x} in the request head",
            c as u32
        )));
    }
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.find(|l| !l.is_empty()).unwrap_or_default();
    let mut parts = first.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed(format!(
            "request line {:?} is not METHOD URI VERSION",
            excerpt(first)
        )));
    };
    if method.is_empty() || uri.is_empty() || version.is_empty() {
        return Err(RequestError::Malformed(format!(
            "request line {:?} is not METHOD URI VERSION",
            excerpt(first)
        )));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((n, v)) = line.split_once(':') else {
            return Err(RequestError::Malformed(format!(
                "header line {:?} has no colon",
                excerpt(line)
            )));
        };
        if n.is_empty() || n.contains(|c: char| c.is_whitespace()) {
            return Err(RequestError::Malformed(format!(
                "invalid header name {:?}",
                excerpt(n)
            )));
        }
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        uri: uri.to_owned(),
        version: version.to_owned(),
        headers,
    })
}

/// The checks of [MS-SSTP] §4.1: method SSTP_DUPLEX_POST (exact case), version HTTP/1.1, URI the
/// SSTP resource (case-insensitive; a query such as `?tenantid=` is ignored).
pub fn validate(req: &Request) -> Result<(), RequestError> {
    if req.method != SSTP_METHOD {
        return Err(RequestError::Method(excerpt(&req.method)));
    }
    if req.version != "HTTP/1.1" {
        return Err(RequestError::Version(excerpt(&req.version)));
    }
    let path = req.uri.split('?').next().unwrap_or_default();
    if !path.eq_ignore_ascii_case(SSTP_URI) {
        return Err(RequestError::Uri(excerpt(&req.uri)));
    }
    Ok(())
}

/// Non-fatal oddities of an accepted request (logged).
pub fn warnings(req: &Request) -> Vec<String> {
    let mut w = Vec::new();
    match req.header("Content-Length") {
        None => w.push("no Content-Length header".to_owned()),
        Some(v) if v != SSTP_CONTENT_LENGTH => {
            w.push(format!("Content-Length {v:?} is not {SSTP_CONTENT_LENGTH}"))
        }
        _ => {}
    }
    if req.header("Host").is_none() {
        w.push("no Host header".to_owned());
    }
    if req.header("SSTPCORRELATIONID").is_none() {
        w.push("no SSTPCORRELATIONID header".to_owned());
    }
    w
}

/// The correct answer, as Windows RRAS sends it (no reason phrase).
pub fn ok_response() -> Vec<u8> {
    format!(
        "HTTP/1.1 200\r\nContent-Length: {SSTP_CONTENT_LENGTH}\r\nServer: sstp-test-server\r\n\r\n"
    )
    .into_bytes()
}

/// `HTTP/1.1 <status> <reason>` with `Content-Length: 0`.
pub fn status_response(version: &str, status: u16, reason: &str) -> Vec<u8> {
    format!(
        "{version} {status} {reason}\r\nContent-Length: 0\r\nServer: sstp-test-server\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Reason phrase for a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

fn excerpt(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Result<Request, RequestError> {
        let b = s.as_bytes();
        let end = head_end(b).expect("complete head");
        let r = parse(&b[..end])?;
        validate(&r)?;
        Ok(r)
    }

    #[test]
    fn accepts_the_sstp_request() {
        let r = req(
            "SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n\
                     Host: vpn\r\nContent-Length: 18446744073709551615\r\n\
                     SSTPCORRELATIONID: {X}\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.header("host"), Some("vpn"));
        assert!(warnings(&r).is_empty());
        // Case-insensitive URI, query ignored, bare LF.
        let r = req(
            "SSTP_DUPLEX_POST /SRA_{ba195980-cd49-458B-9e23-c84ee0adcd75}/?tenantid=x \
                     HTTP/1.1\nHost: a\n\n",
        )
        .unwrap();
        assert_eq!(
            warnings(&r),
            vec!["no Content-Length header", "no SSTPCORRELATIONID header"]
        );
    }

    #[test]
    fn refusals_name_the_status() {
        let cases: &[(&str, u16)] = &[
            ("GET / HTTP/1.1\r\n\r\n", 501),
            (
                "sstp_duplex_post /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n\r\n",
                501,
            ),
            (
                "SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.0\r\n\r\n",
                505,
            ),
            ("SSTP_DUPLEX_POST /other/ HTTP/1.1\r\n\r\n", 404),
            ("SSTP_DUPLEX_POST  HTTP/1.1\r\n\r\n", 400),
            ("SSTP_DUPLEX_POST /x HTTP/1.1 extra\r\n\r\n", 400),
            ("SSTP_DUPLEX_POST /x HTTP/1.1\r\nno colon\r\n\r\n", 400),
            ("SSTP_DUPLEX_POST /x HTTP/1.1\r\nA\x01: b\r\n\r\n", 400),
        ];
        for (text, status) in cases {
            let e = req(text).unwrap_err();
            assert_eq!(e.status().map(|s| s.0), Some(*status), "{text:?}: {e}");
        }
        assert_eq!(
            parse(&[0xFF, 0xFE, b'\n', b'\n'])
                .unwrap_err()
                .status()
                .unwrap()
                .0,
            400
        );
    }

    #[test]
    fn hostile_heads_never_panic() {
        let base = b"SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n\
                     Host: a\r\nContent-Length: 18446744073709551615\r\n\r\n";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut b = base.to_vec();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % b.len();
                b[i] = (x >> 32) as u8;
            }
            x ^= x << 13;
            b.truncate((x as usize) % (b.len() + 1));
            if let Some(end) = head_end(&b) {
                if let Ok(r) = parse(&b[..end]) {
                    let _ = validate(&r);
                    let _ = warnings(&r);
                }
            }
        }
    }

    #[test]
    fn head_end_forms() {
        assert_eq!(head_end(b"a\r\n\r\nrest"), Some(5));
        assert_eq!(head_end(b"a\n\nrest"), Some(3));
        assert_eq!(head_end(b"a\r\nb: c\r\n"), None);
        assert_eq!(head_end(b""), None);
    }

    #[test]
    fn responses() {
        let ok = String::from_utf8(ok_response()).unwrap();
        assert!(ok.starts_with("HTTP/1.1 200\r\nContent-Length: 18446744073709551615\r\n"));
        assert!(ok.ends_with("\r\n\r\n"));
        let r = String::from_utf8(status_response("HTTP/1.1", 403, "Forbidden")).unwrap();
        assert!(r.starts_with("HTTP/1.1 403 Forbidden\r\n"));
    }
}
