//! Request/response of the SSTP HTTPS handshake (SSTP_DUPLEX_POST) and proxy CONNECT.
//!
//! Sans-IO: the caller sends the bytes from [`DuplexPostRequest::to_bytes`] /
//! [`ConnectRequest::to_bytes`], pushes whatever it receives into a [`ResponseParser`] (any split
//! is fine) and validates the parsed head with [`validate_sstp_response`] or
//! [`validate_proxy_response`]. The parser stops byte-exactly after the empty line that ends the
//! header block and reports how many bytes of the last chunk it consumed, so bytes that follow
//! the header (SSTP packets, the TLS stream through a proxy) are left to the caller.
//!
//! Time is the caller's: [`ResponseTimer`] turns a send instant into the 60 s deadline of
//! [MS-SSTP] §4.1 and the [`HttpError::NoResponse`] error.

use std::fmt;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

/// The SSTP resource path ([MS-SSTP] §3.2.4.1), byte-exact including the case of the GUID.
pub const SSTP_URI: &str = "/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/";
/// The non-standard method of the SSTP request.
pub const SSTP_METHOD: &str = "SSTP_DUPLEX_POST";
/// `Content-Length` sent by clients and servers: ULONGLONG_MAX.
pub const SSTP_CONTENT_LENGTH: &str = "18446744073709551615";
/// Default TCP port of SSTP.
pub const DEFAULT_PORT: u16 = 443;
/// How long the client waits for the HTTP response ([MS-SSTP] §4.1).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default upper bound of a response head (status line + headers + empty line).
pub const MAX_HEAD_SIZE: usize = 16 * 1024;

/// Longest excerpt of peer-controlled text kept in an error.
const MAX_EXCERPT: usize = 160;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// `SSTPCORRELATIONID`: a random (version 4) UUID, shown as `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CorrelationId([u8; 16]);

impl CorrelationId {
    /// Builds a version-4 UUID from 16 random bytes supplied by the caller (this crate has no RNG).
    /// The version and variant bits are overwritten as RFC 4122 requires.
    pub fn from_random(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        CorrelationId(bytes)
    }

    /// The 16 bytes of the UUID (big-endian field order, as printed).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02X}")?;
        }
        f.write_str("}")
    }
}

/// A host name or address that cannot be put into a request line or header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidHost {
    /// The offending value (sanitised); empty when `header` is set.
    pub host: String,
    /// The credential header that could not be sent (its value is never kept).
    pub header: Option<&'static str>,
}

impl fmt::Display for InvalidHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = self.header {
            return write!(
                f,
                "the {h} header built for the proxy contains control characters (value \
                 withheld); the proxy's authentication challenge is malformed: check the proxy"
            );
        }
        write!(
            f,
            "invalid server name {:?}: it is empty or contains spaces, control characters or \
             characters not allowed in a host name; check the server address",
            self.host
        )
    }
}

impl std::error::Error for InvalidHost {}

fn check_host(host: &str) -> Result<(), InvalidHost> {
    let bad = host.is_empty()
        || host.len() > 255
        || host.chars().any(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@' | '\\')
        });
    if bad {
        Err(InvalidHost {
            host: sanitize(host),
            header: None,
        })
    } else {
        Ok(())
    }
}

/// `host` as it appears in an authority: IPv6 literals in brackets (a bracketed input is kept).
fn authority_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The value of the `Host` header for `host`/`port`: `:port` only when the port is not 443,
/// IPv6 literals in brackets.
pub fn host_header_value(host: &str, port: u16) -> Result<String, InvalidHost> {
    check_host(host)?;
    let h = authority_host(host);
    Ok(if port == DEFAULT_PORT {
        h
    } else {
        format!("{h}:{port}")
    })
}

/// The SSTP_DUPLEX_POST request ([MS-SSTP] §3.2.4.1): request line, `Host`, `Content-Length`,
/// `SSTPCORRELATIONID`, empty line; no body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplexPostRequest {
    /// Name the client connected to (the SNI / Host override if one is configured).
    pub host: String,
    /// TCP port of the server.
    pub port: u16,
    /// Fresh per connection attempt.
    pub correlation_id: CorrelationId,
}

impl DuplexPostRequest {
    /// A request for `host:port` with the given correlation id.
    pub fn new(host: impl Into<String>, port: u16, correlation_id: CorrelationId) -> Self {
        DuplexPostRequest {
            host: host.into(),
            port,
            correlation_id,
        }
    }

    /// The bytes to send inside TLS.
    pub fn to_bytes(&self) -> Result<Vec<u8>, InvalidHost> {
        let host = host_header_value(&self.host, self.port)?;
        Ok(format!(
            "{SSTP_METHOD} {SSTP_URI} HTTP/1.1\r\n\
             Host: {host}\r\n\
             Content-Length: {SSTP_CONTENT_LENGTH}\r\n\
             SSTPCORRELATIONID: {}\r\n\
             \r\n",
            self.correlation_id
        )
        .into_bytes())
    }
}

/// An HTTP proxy `CONNECT` request ([MS-SSTP] §4.5).
///
/// `Debug` withholds the `Proxy-Authorization` value; drop wipes it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Target host (the SSTP server).
    pub host: String,
    /// Target port.
    pub port: u16,
    /// Value of a `Proxy-Authorization` header (e.g. `Basic dXNlcjpwYXNz`), produced by a proxy
    /// authentication scheme; `None` for the first, unauthenticated attempt.
    pub proxy_authorization: Option<String>,
}

impl ConnectRequest {
    /// A CONNECT for `host:port` without credentials.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ConnectRequest {
            host: host.into(),
            port,
            proxy_authorization: None,
        }
    }

    /// The bytes to send to the proxy (in clear). Built in one allocation of the final size, so
    /// no copy of the credentials is left behind by a reallocation; the caller should wipe them.
    pub fn to_bytes(&self) -> Result<Vec<u8>, InvalidHost> {
        check_host(&self.host)?;
        let authority = format!("{}:{}", authority_host(&self.host), self.port);
        let head = format!(
            "CONNECT {authority} HTTP/1.1\r\n\
             Host: {authority}\r\n\
             SSTPVERSION: 1.0\r\n\
             Proxy-Connection: Keep-Alive\r\n"
        );
        let auth = self.proxy_authorization.as_deref();
        if auth.is_some_and(|a| a.chars().any(|c| c.is_control())) {
            // Never echo a credential header, not even an excerpt.
            return Err(InvalidHost {
                host: String::new(),
                header: Some("Proxy-Authorization"),
            });
        }
        const AUTH_NAME: &[u8] = b"Proxy-Authorization: ";
        let auth_len = auth.map_or(0, |a| AUTH_NAME.len() + a.len() + 2);
        let mut out = Vec::with_capacity(head.len() + auth_len + 2);
        out.extend_from_slice(head.as_bytes());
        if let Some(a) = auth {
            out.extend_from_slice(AUTH_NAME);
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }
}

impl fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = self.proxy_authorization.as_ref().map(|_| "<redacted>");
        f.debug_struct("ConnectRequest")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("proxy_authorization", &auth)
            .finish()
    }
}

impl Drop for ConnectRequest {
    fn drop(&mut self) {
        self.proxy_authorization.zeroize();
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// What exactly was malformed in a response head.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The status code is not three digits.
    BadStatusCode {
        /// The status line as received.
        status_line: String,
    },
    /// A header line without a colon or with an invalid name.
    BadHeaderLine {
        /// The line as received.
        line: String,
    },
    /// A NUL or other control byte where only text may appear (often: binary data, or TLS
    /// records arriving where a plain-text answer was expected).
    BinaryData {
        /// Offset of the byte in the response.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The connection was closed before the header block ended.
    Truncated {
        /// Bytes received before the close.
        received: usize,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::BadStatusCode { status_line } => {
                write!(
                    f,
                    "the status line {status_line:?} has no three-digit status code"
                )
            }
            Malformed::BadHeaderLine { line } => write!(f, "invalid header line {line:?}"),
            Malformed::BinaryData { offset, byte } => {
                write!(
                    f,
                    "binary byte 0x{byte:02x} at offset {offset} of the response head"
                )
            }
            Malformed::Truncated { received: 0 } => {
                f.write_str("the connection was closed without any answer")
            }
            Malformed::Truncated { received } => write!(
                f,
                "the connection was closed after {received} bytes, before the end of the headers"
            ),
        }
    }
}

/// Errors of the HTTP handshake (SSTP request or proxy CONNECT).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// No answer within the response timeout ([MS-SSTP] §4.1: 60 s).
    NoResponse {
        /// How long the client waited.
        waited: Duration,
    },
    /// The status line does not start with an HTTP version.
    NoVersion {
        /// The first line as received.
        status_line: String,
    },
    /// The server answered with a version other than HTTP/1.1.
    VersionNot11(String),
    /// The server answered with a status other than 200.
    Refused {
        /// HTTP status code.
        status: u16,
        /// Reason phrase (may be empty).
        reason: String,
        /// `Server` header, if any.
        server: Option<String>,
        /// `Location` header, if any (redirects).
        location: Option<String>,
    },
    /// The proxy demands authentication (407).
    ProxyAuthRequired {
        /// The `Proxy-Authenticate` header values, one per offered scheme.
        schemes: Vec<String>,
    },
    /// The proxy refused the CONNECT with a status other than 2xx / 407.
    ProxyRefused {
        /// HTTP status code.
        status: u16,
        /// Reason phrase (may be empty).
        reason: String,
        /// `Server` / `Via` header of the proxy, if any.
        server: Option<String>,
    },
    /// The response head is not valid HTTP.
    Malformed(Malformed),
    /// The response head exceeded the size bound without ending.
    TooLarge {
        /// The bound in bytes.
        limit: usize,
    },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::NoResponse { waited } => write!(
                f,
                "no HTTP response from the server within {:.1} s after the SSTP request: the \
                 server is overloaded, not an SSTP server, or something between drops the \
                 connection; check the server address and port and that the SSTP service is \
                 running",
                waited.as_secs_f64()
            ),
            HttpError::NoVersion { status_line } => write!(
                f,
                "the server's answer {status_line:?} has no HTTP version: this is not an SSTP \
                 (HTTPS) server, or a device in front of it rewrites the traffic; check the \
                 server address and port"
            ),
            HttpError::VersionNot11(v) => write!(
                f,
                "the server answered with {v} instead of HTTP/1.1: this is not an SSTP server, \
                 or a proxy/load balancer in front of it downgraded the request; check the \
                 server address and port"
            ),
            HttpError::Refused {
                status,
                reason,
                server,
                location,
            } => {
                write!(f, "the server refused the SSTP request with HTTP {status}")?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                if let Some(s) = server {
                    write!(f, " (Server: {s})")?;
                }
                if let Some(l) = location {
                    write!(f, " (Location: {l})")?;
                }
                let hint = match status {
                    301 | 302 | 303 | 307 | 308 => {
                        "the address answers with a redirect: it is a web server, not the SSTP \
                         endpoint; check the server address and port"
                    }
                    400 => "the server did not accept the request format; check that it is an SSTP server",
                    401 | 403 => {
                        "access to the SSTP endpoint is denied; check that SSTP is enabled for \
                         this listener and that the host name matches the server's configuration"
                    }
                    404 => {
                        "the SSTP resource does not exist there: the SSTP service is not running \
                         or the host name does not match the server's configuration; check the \
                         server address and the SNI/Host override"
                    }
                    407 => "an HTTP proxy demands authentication; configure proxy credentials",
                    500..=599 => {
                        "the server is failing or overloaded (or SSTP is disabled); check the \
                         server's logs and retry later"
                    }
                    _ => "check the server address and port and that the SSTP service is enabled",
                };
                write!(f, ": {hint}")
            }
            HttpError::ProxyAuthRequired { schemes } => {
                write!(f, "the HTTP proxy demands authentication (407)")?;
                if schemes.is_empty() {
                    write!(f, " without naming a scheme")?;
                } else {
                    write!(f, "; offered: {}", sanitized_list(schemes, ", "))?;
                }
                write!(
                    f,
                    "; configure proxy credentials for one of the offered schemes"
                )
            }
            HttpError::ProxyRefused {
                status,
                reason,
                server,
            } => {
                write!(f, "the HTTP proxy refused the CONNECT with HTTP {status}")?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                if let Some(s) = server {
                    write!(f, " ({s})")?;
                }
                write!(
                    f,
                    ": the proxy may forbid CONNECT to this host or port, or cannot reach it; \
                     check the proxy's policy and the server address"
                )
            }
            HttpError::Malformed(m) => write!(
                f,
                "the server's HTTP answer is malformed ({m}); check that the address and port \
                 belong to an SSTP server"
            ),
            HttpError::TooLarge { limit } => write!(
                f,
                "the server's HTTP answer has no end of headers within {limit} bytes: this is \
                 not an SSTP server; check the server address and port"
            ),
        }
    }
}

impl std::error::Error for HttpError {}

// ---------------------------------------------------------------------------------------------
// Timer
// ---------------------------------------------------------------------------------------------

/// Deadline for the HTTP response, started when the request was sent. Uses the caller's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseTimer {
    sent_at: Instant,
    timeout: Duration,
}

impl ResponseTimer {
    /// Timer with the [MS-SSTP] 60 s timeout.
    pub fn start(sent_at: Instant) -> Self {
        Self::with_timeout(sent_at, RESPONSE_TIMEOUT)
    }

    /// Timer with a custom timeout.
    pub fn with_timeout(sent_at: Instant, timeout: Duration) -> Self {
        ResponseTimer { sent_at, timeout }
    }

    /// When the wait ends.
    pub fn deadline(&self) -> Instant {
        self.sent_at + self.timeout
    }

    /// Time left at `now`, `None` once expired.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        let left = self.deadline().saturating_duration_since(now);
        if left.is_zero() {
            None
        } else {
            Some(left)
        }
    }

    /// `Err(NoResponse)` once `now` is at or past the deadline.
    pub fn check(&self, now: Instant) -> Result<(), HttpError> {
        match self.remaining(now) {
            Some(_) => Ok(()),
            None => Err(self.expired(now)),
        }
    }

    /// The error to report when the wait ended at `now`.
    pub fn expired(&self, now: Instant) -> HttpError {
        HttpError::NoResponse {
            waited: now.saturating_duration_since(self.sent_at),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Response parser
// ---------------------------------------------------------------------------------------------

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The version token, e.g. `HTTP/1.1`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase (empty if absent, as Windows RRAS sends it).
    pub reason: String,
    /// Header fields in received order (name as received, value trimmed).
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of a header, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status line as text (for logs).
    pub fn status_line(&self) -> String {
        if self.reason.is_empty() {
            format!("{} {}", self.version, self.status)
        } else {
            format!("{} {} {}", self.version, self.status, self.reason)
        }
    }
}

/// Result of feeding bytes to a [`ResponseParser`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The head is not complete yet; all input was consumed.
    Partial,
    /// The head ended inside the last input.
    Complete {
        /// The parsed head.
        response: Response,
        /// Bytes of the *last* input that belong to the head; the rest is the caller's.
        consumed: usize,
    },
}

#[derive(Clone, Debug)]
enum ParserState {
    Reading,
    Done(Response),
    Failed(HttpError),
}

/// Incremental, bounded parser of an HTTP/1.x response head.
///
/// Accepts CRLF and bare LF line ends, skips empty lines before the status line, joins obsolete
/// folded header lines. Never reads past the empty line that ends the head.
#[derive(Clone, Debug)]
pub struct ResponseParser {
    buf: Vec<u8>,
    limit: usize,
    line_start: usize,
    status: Option<(String, u16, String)>,
    headers: Vec<(String, String)>,
    state: ParserState,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    /// Parser with the default bound ([`MAX_HEAD_SIZE`]).
    pub fn new() -> Self {
        Self::with_limit(MAX_HEAD_SIZE)
    }

    /// Parser with a custom bound on the head size in bytes.
    pub fn with_limit(limit: usize) -> Self {
        ResponseParser {
            buf: Vec::new(),
            limit,
            line_start: 0,
            status: None,
            headers: Vec::new(),
            state: ParserState::Reading,
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.buf.len()
    }

    /// Feed received bytes. After `Complete`, further calls return the same response with
    /// `consumed: 0`; after an error, the same error.
    pub fn push(&mut self, input: &[u8]) -> Result<Progress, HttpError> {
        match &self.state {
            ParserState::Reading => {}
            ParserState::Done(r) => {
                return Ok(Progress::Complete {
                    response: r.clone(),
                    consumed: 0,
                })
            }
            ParserState::Failed(e) => return Err(e.clone()),
        }
        for (i, &b) in input.iter().enumerate() {
            match self.push_byte(b) {
                Ok(false) => {}
                Ok(true) => {
                    let response = self.finish_head();
                    self.state = ParserState::Done(response.clone());
                    return Ok(Progress::Complete {
                        response,
                        consumed: i + 1,
                    });
                }
                Err(e) => {
                    self.state = ParserState::Failed(e.clone());
                    return Err(e);
                }
            }
        }
        Ok(Progress::Partial)
    }

    /// The peer closed the stream: the error describing an incomplete head (or `None` when the
    /// head was already complete).
    pub fn eof(&mut self) -> Option<HttpError> {
        match &self.state {
            ParserState::Done(_) => None,
            ParserState::Failed(e) => Some(e.clone()),
            ParserState::Reading => {
                let e = HttpError::Malformed(Malformed::Truncated {
                    received: self.buf.len(),
                });
                self.state = ParserState::Failed(e.clone());
                Some(e)
            }
        }
    }

    /// Returns Ok(true) when the head is complete.
    fn push_byte(&mut self, b: u8) -> Result<bool, HttpError> {
        let offset = self.buf.len();
        if offset >= self.limit {
            return Err(HttpError::TooLarge { limit: self.limit });
        }
        // Text only: HTAB, CR, LF and printable/8-bit bytes.
        if b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n') || b == 0x7f {
            return Err(HttpError::Malformed(Malformed::BinaryData {
                offset,
                byte: b,
            }));
        }
        self.buf.push(b);
        if b != b'\n' {
            return Ok(false);
        }
        let mut line = &self.buf[self.line_start..offset];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if line.contains(&b'\r') {
            let l = excerpt(line);
            return Err(HttpError::Malformed(Malformed::BadHeaderLine { line: l }));
        }
        let line = line.to_vec();
        self.line_start = self.buf.len();
        if self.status.is_none() {
            if line.is_empty() {
                return Ok(false); // tolerated empty lines before the status line
            }
            self.status = Some(parse_status_line(&line)?);
            return Ok(false);
        }
        if line.is_empty() {
            return Ok(true);
        }
        if matches!(line[0], b' ' | b'\t') {
            // obs-fold: continuation of the previous header value
            match self.headers.last_mut() {
                Some((_, v)) => {
                    let more = String::from_utf8_lossy(&line);
                    if !v.is_empty() {
                        v.push(' ');
                    }
                    v.push_str(more.trim());
                    return Ok(false);
                }
                None => {
                    return Err(HttpError::Malformed(Malformed::BadHeaderLine {
                        line: excerpt(&line),
                    }))
                }
            }
        }
        let colon = line.iter().position(|&c| c == b':');
        let Some(colon) = colon else {
            return Err(HttpError::Malformed(Malformed::BadHeaderLine {
                line: excerpt(&line),
            }));
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&c| is_token_char(c)) {
            return Err(HttpError::Malformed(Malformed::BadHeaderLine {
                line: excerpt(&line),
            }));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_owned();
        self.headers.push((name, value));
        Ok(false)
    }

    fn finish_head(&mut self) -> Response {
        let (version, status, reason) = self.status.take().unwrap_or_default();
        Response {
            version,
            status,
            reason,
            headers: std::mem::take(&mut self.headers),
        }
    }
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn parse_status_line(line: &[u8]) -> Result<(String, u16, String), HttpError> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_start();
    let (first, rest) = match text.find([' ', '\t']) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    };
    let has_version = first.len() > 5
        && first
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("HTTP/"));
    if !has_version {
        return Err(HttpError::NoVersion {
            status_line: excerpt(line),
        });
    }
    let (code, reason) = match rest.find([' ', '\t']) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let status = match code.as_bytes() {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => {
            return Err(HttpError::Malformed(Malformed::BadStatusCode {
                status_line: excerpt(line),
            }))
        }
    };
    Ok((
        excerpt(first.as_bytes()),
        status,
        excerpt(reason.as_bytes()),
    ))
}

/// Peer-controlled bytes as bounded, printable text (see [`sanitize`]).
fn excerpt(bytes: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(bytes))
}

/// Each item [`sanitize`]d, joined with `sep`.
pub fn sanitized_list(items: &[String], sep: &str) -> String {
    let v: Vec<String> = items.iter().map(|s| sanitize(s)).collect();
    v.join(sep)
}

/// Whether `c` may not reach a log or terminal as is: C0/C1 controls, DEL, and the Unicode
/// format characters that reorder or hide text (bidi embeddings, overrides and isolates,
/// marks, zero-width characters, line/paragraph separators, BOM).
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// The one sanitiser for every string a peer (server, certificate, proxy) supplies before it
/// reaches a log, an error or a terminal: control characters (C0 incl. ESC, DEL, C1) and bidi
/// or invisible format characters are shown escaped (`\u{1b}`, `\u{202e}`), and the text is
/// cut after 160 characters with `…`.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_EXCERPT * 4));
    for (n, c) in text.chars().enumerate() {
        if n >= MAX_EXCERPT {
            out.push('…');
            break;
        }
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Non-fatal oddities of an accepted SSTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseWarning {
    /// `Content-Length` present but not ULONGLONG_MAX (sstp-client would refuse this).
    ContentLength(String),
}

impl fmt::Display for ResponseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseWarning::ContentLength(v) => write!(
                f,
                "the server's Content-Length is {v:?} instead of {SSTP_CONTENT_LENGTH}; continuing"
            ),
        }
    }
}

/// An accepted SSTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SstpResponse {
    /// The head as received.
    pub response: Response,
    /// Oddities that did not prevent the connection.
    pub warnings: Vec<ResponseWarning>,
}

/// Checks the server's answer to SSTP_DUPLEX_POST: HTTP/1.1 and status 200.
pub fn validate_sstp_response(response: Response) -> Result<SstpResponse, HttpError> {
    if !response.version.eq_ignore_ascii_case("HTTP/1.1") {
        return Err(HttpError::VersionNot11(response.version));
    }
    if response.status != 200 {
        return Err(HttpError::Refused {
            status: response.status,
            reason: response.reason.clone(),
            server: response.header("Server").map(|s| excerpt(s.as_bytes())),
            location: response.header("Location").map(|s| excerpt(s.as_bytes())),
        });
    }
    let mut warnings = Vec::new();
    for v in response.headers_named("Content-Length") {
        if v != SSTP_CONTENT_LENGTH {
            warnings.push(ResponseWarning::ContentLength(excerpt(v.as_bytes())));
        }
    }
    Ok(SstpResponse { response, warnings })
}

/// An accepted proxy answer: the tunnel to the server is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyResponse {
    /// The head as received.
    pub response: Response,
}

/// Checks a proxy's answer to CONNECT: any 2xx opens the tunnel; 407 asks for credentials.
/// Proxies may answer with HTTP/1.0.
pub fn validate_proxy_response(response: Response) -> Result<ProxyResponse, HttpError> {
    let v = &response.version;
    if !v.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("HTTP/1")) {
        return Err(HttpError::VersionNot11(response.version));
    }
    match response.status {
        200..=299 => Ok(ProxyResponse { response }),
        407 => Err(HttpError::ProxyAuthRequired {
            schemes: response
                .headers_named("Proxy-Authenticate")
                .map(|s| s.to_owned())
                .collect(),
        }),
        status => Err(HttpError::ProxyRefused {
            status,
            reason: response.reason.clone(),
            server: response
                .header("Server")
                .or_else(|| response.header("Via"))
                .map(|s| excerpt(s.as_bytes())),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Result<(Response, usize), HttpError> {
        let mut p = ResponseParser::new();
        match p.push(bytes)? {
            Progress::Complete { response, consumed } => Ok((response, consumed)),
            Progress::Partial => Err(p.eof().expect("incomplete")),
        }
    }

    fn sstp(bytes: &[u8]) -> Result<SstpResponse, HttpError> {
        parse_all(bytes).and_then(|(r, _)| validate_sstp_response(r))
    }

    #[test]
    fn request_is_byte_exact() {
        let id = CorrelationId::from_random([0xAB; 16]);
        let req = DuplexPostRequest::new("vpn.example.com", 443, id)
            .to_bytes()
            .unwrap();
        let text = String::from_utf8(req).unwrap();
        assert_eq!(
            text,
            "SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n\
             Host: vpn.example.com\r\n\
             Content-Length: 18446744073709551615\r\n\
             SSTPCORRELATIONID: {ABABABAB-ABAB-4BAB-ABAB-ABABABABABAB}\r\n\r\n"
        );
    }

    #[test]
    fn host_header_port_and_ipv6() {
        assert_eq!(host_header_value("h", 443).unwrap(), "h");
        assert_eq!(host_header_value("h", 8443).unwrap(), "h:8443");
        assert_eq!(host_header_value("::1", 443).unwrap(), "[::1]");
        assert_eq!(
            host_header_value("2001:db8::1", 4433).unwrap(),
            "[2001:db8::1]:4433"
        );
        assert_eq!(host_header_value("[::1]", 4433).unwrap(), "[::1]:4433");
        assert!(host_header_value("a\r\nX: y", 443).is_err());
        assert!(host_header_value("", 443).is_err());
        assert!(host_header_value("a b", 443).is_err());
    }

    #[test]
    fn correlation_id_is_v4_canonical() {
        let id = CorrelationId::from_random([0; 16]);
        assert_eq!(id.to_string(), "{00000000-0000-4000-8000-000000000000}");
        let id = CorrelationId::from_random([0xff; 16]);
        assert_eq!(id.to_string(), "{FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF}");
        assert_eq!(id.to_string().len(), 38);
    }

    #[test]
    fn connect_request() {
        let mut r = ConnectRequest::new("vpn.example.com", 443);
        let t = String::from_utf8(r.to_bytes().unwrap()).unwrap();
        assert!(
            t.starts_with("CONNECT vpn.example.com:443 HTTP/1.1\r\nHost: vpn.example.com:443\r\n")
        );
        assert!(t.contains("\r\nSSTPVERSION: 1.0\r\n"));
        assert!(t.ends_with("\r\n\r\n"));
        assert!(!t.contains("Proxy-Authorization"));
        r.proxy_authorization = Some("Basic dTpw".into());
        let t = String::from_utf8(r.to_bytes().unwrap()).unwrap();
        assert!(t.ends_with("Proxy-Authorization: Basic dTpw\r\n\r\n"));
        let r6 = ConnectRequest::new("::1", 4433);
        let t = String::from_utf8(r6.to_bytes().unwrap()).unwrap();
        assert!(t.starts_with("CONNECT [::1]:4433 HTTP/1.1\r\n"));
        r.proxy_authorization = Some("x\r\nEvil: 1".into());
        assert!(r.to_bytes().is_err());
    }

    #[test]
    fn rras_200_without_reason() {
        let raw = b"HTTP/1.1 200\r\nContent-Length: 18446744073709551615\r\nServer: Microsoft-HTTPAPI/2.0\r\nDate: Thu, 09 Nov 2023 10:00:00 GMT\r\n\r\n";
        let r = sstp(raw).unwrap();
        assert_eq!(r.response.status, 200);
        assert_eq!(r.response.reason, "");
        assert_eq!(r.response.header("server"), Some("Microsoft-HTTPAPI/2.0"));
        assert!(r.warnings.is_empty());
        assert_eq!(r.response.status_line(), "HTTP/1.1 200");
    }

    #[test]
    fn softether_accel_sorz_shapes() {
        let softether = b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: Microsoft-HTTPAPI/2.0\r\nDate: x\r\n\r\n";
        let accel = b"HTTP/1.1 200 OK\r\nDate: Thu, 09 Nov 2023 10:00:00 GMT\r\nContent-Length: 18446744073709551615\r\nConnection: keep-alive\r\n\r\n";
        let sorz = b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: SSTP-Server/0.6\r\n\r\n";
        for raw in [&softether[..], &accel[..], &sorz[..]] {
            let r = sstp(raw).unwrap();
            assert_eq!(r.response.status, 200);
            assert_eq!(r.response.reason, "OK");
            assert!(r.warnings.is_empty());
        }
        let r = sstp(accel).unwrap();
        assert_eq!(r.response.header("CONNECTION"), Some("keep-alive"));
    }

    #[test]
    fn missing_content_length_ok_and_mismatch_warns() {
        let r = sstp(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert!(r.warnings.is_empty());
        let r = sstp(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(r.warnings, vec![ResponseWarning::ContentLength("0".into())]);
        assert!(r.warnings[0].to_string().contains("\"0\""));
    }

    #[test]
    fn trailing_bytes_are_not_consumed() {
        let mut raw = b"HTTP/1.1 200\r\n\r\n".to_vec();
        raw.extend_from_slice(&[0x10, 0x01, 0x00, 0x30]);
        let (_, consumed) = parse_all(&raw).unwrap();
        assert_eq!(consumed, raw.len() - 4);
        // After completion, nothing more is consumed.
        let mut p = ResponseParser::new();
        assert!(matches!(
            p.push(&raw).unwrap(),
            Progress::Complete { consumed: 16, .. }
        ));
        assert!(matches!(
            p.push(b"more").unwrap(),
            Progress::Complete { consumed: 0, .. }
        ));
        assert_eq!(p.eof(), None);
    }

    #[test]
    fn lf_only_and_leading_blank_and_folding() {
        let r = sstp(b"\r\nHTTP/1.1 200 OK\nX-A: 1\n  continued\nServer:  s \n\n").unwrap();
        assert_eq!(r.response.header("x-a"), Some("1 continued"));
        assert_eq!(r.response.header("server"), Some("s"));
    }

    #[test]
    fn version_errors() {
        let e = sstp(b"HTTP/1.0 200 OK\r\n\r\n").unwrap_err();
        assert_eq!(e, HttpError::VersionNot11("HTTP/1.0".into()));
        assert!(e.to_string().contains("HTTP/1.0 instead of HTTP/1.1"));
        assert!(e.to_string().contains("check the server address and port"));
        assert_eq!(
            sstp(b"HTTP/2 200\r\n\r\n").unwrap_err(),
            HttpError::VersionNot11("HTTP/2".into())
        );
        let e = sstp(b"200 OK\r\n\r\n").unwrap_err();
        assert_eq!(
            e,
            HttpError::NoVersion {
                status_line: "200 OK".into()
            }
        );
        assert!(e.to_string().contains("no HTTP version"));
        // detected as soon as the first line is complete
        let mut p = ResponseParser::new();
        assert!(matches!(
            p.push(b"SSH-2.0-OpenSSH_9.2\r\n"),
            Err(HttpError::NoVersion { .. })
        ));
        assert!(matches!(p.push(b"\r\n"), Err(HttpError::NoVersion { .. })));
    }

    #[test]
    fn refused_statuses() {
        for (status, word) in [
            (403u16, "denied"),
            (404, "does not exist"),
            (503, "overloaded"),
        ] {
            let raw =
                format!("HTTP/1.1 {status} Whatever\r\nServer: Microsoft-HTTPAPI/2.0\r\n\r\n");
            let e = sstp(raw.as_bytes()).unwrap_err();
            match &e {
                HttpError::Refused {
                    status: s,
                    reason,
                    server,
                    location,
                } => {
                    assert_eq!(*s, status);
                    assert_eq!(reason, "Whatever");
                    assert_eq!(server.as_deref(), Some("Microsoft-HTTPAPI/2.0"));
                    assert_eq!(location, &None);
                }
                other => panic!("unexpected {other:?}"),
            }
            let text = e.to_string();
            assert!(text.contains(&format!("HTTP {status} Whatever")), "{text}");
            assert!(text.contains("Microsoft-HTTPAPI/2.0"));
            assert!(text.contains(word), "{text}");
        }
        let e = sstp(b"HTTP/1.1 302 Found\r\nLocation: https://x/\r\n\r\n").unwrap_err();
        assert!(e.to_string().contains("redirect"));
        assert!(e.to_string().contains("https://x/"));
    }

    #[test]
    fn malformed_and_too_large() {
        assert_eq!(
            sstp(b"HTTP/1.1 2x0 OK\r\n\r\n").unwrap_err(),
            HttpError::Malformed(Malformed::BadStatusCode {
                status_line: "HTTP/1.1 2x0 OK".into()
            })
        );
        assert_eq!(
            sstp(b"HTTP/1.1\r\n\r\n").unwrap_err(),
            HttpError::Malformed(Malformed::BadStatusCode {
                status_line: "HTTP/1.1".into()
            })
        );
        assert_eq!(
            sstp(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n").unwrap_err(),
            HttpError::Malformed(Malformed::BadHeaderLine {
                line: "no colon here".into()
            })
        );
        assert!(matches!(
            sstp(b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n").unwrap_err(),
            HttpError::Malformed(Malformed::BadHeaderLine { .. })
        ));
        // A TLS alert record arriving as "HTTP"
        assert_eq!(
            sstp(&[0x15, 0x03, 0x03, 0x00, 0x02]).unwrap_err(),
            HttpError::Malformed(Malformed::BinaryData {
                offset: 0,
                byte: 0x15
            })
        );
        let e = sstp(b"HTTP/1.1 200 OK\r\nA: b\r\n").unwrap_err();
        assert_eq!(
            e,
            HttpError::Malformed(Malformed::Truncated { received: 23 })
        );
        assert!(e.to_string().contains("closed after 23 bytes"));
        let e = sstp(b"").unwrap_err();
        assert!(e.to_string().contains("closed without any answer"));

        let mut p = ResponseParser::with_limit(64);
        let long = vec![b'a'; 100];
        assert_eq!(
            p.push(&long).unwrap_err(),
            HttpError::TooLarge { limit: 64 }
        );
        let mut p = ResponseParser::new();
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        while big.len() <= MAX_HEAD_SIZE {
            big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(
            p.push(&big).unwrap_err(),
            HttpError::TooLarge {
                limit: MAX_HEAD_SIZE
            }
        );
        // A head of exactly the limit is accepted.
        let mut exact = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        exact.resize(64 - 4, b'y');
        exact.extend_from_slice(b"\r\n\r\n");
        let mut p = ResponseParser::with_limit(64);
        assert!(matches!(
            p.push(&exact).unwrap(),
            Progress::Complete { consumed: 64, .. }
        ));
    }

    #[test]
    fn long_lines_are_excerpted_in_errors() {
        let mut raw = b"X".repeat(1000);
        raw.extend_from_slice(b"\r\n\r\n");
        match sstp(&raw).unwrap_err() {
            HttpError::NoVersion { status_line } => {
                assert!(status_line.chars().count() <= MAX_EXCERPT + 1)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timer() {
        let t0 = Instant::now();
        let t = ResponseTimer::start(t0);
        assert_eq!(t.deadline(), t0 + Duration::from_secs(60));
        assert!(t.check(t0 + Duration::from_secs(59)).is_ok());
        assert_eq!(
            t.remaining(t0 + Duration::from_secs(59)),
            Some(Duration::from_secs(1))
        );
        let e = t.check(t0 + Duration::from_secs(61)).unwrap_err();
        assert_eq!(
            e,
            HttpError::NoResponse {
                waited: Duration::from_secs(61)
            }
        );
        assert!(e.to_string().contains("within 61.0 s"));
        let short = ResponseTimer::with_timeout(t0, Duration::from_millis(100));
        assert_eq!(short.remaining(t0 + Duration::from_millis(100)), None);
    }

    fn proxy(bytes: &[u8]) -> Result<ProxyResponse, HttpError> {
        parse_all(bytes).and_then(|(r, _)| validate_proxy_response(r))
    }

    #[test]
    fn proxy_responses() {
        assert_eq!(
            proxy(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .unwrap()
                .response
                .status,
            200
        );
        assert_eq!(
            proxy(b"HTTP/1.0 200 Connection established\r\nProxy-Agent: x\r\n\r\n")
                .unwrap()
                .response
                .status,
            200
        );
        assert_eq!(proxy(b"HTTP/1.1 204\r\n\r\n").unwrap().response.status, 204);
        let e = proxy(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"r\"\r\n\
              Content-Length: 0\r\nproxy-authenticate: NTLM\r\nProxy-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth\"\r\n\r\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            HttpError::ProxyAuthRequired {
                schemes: vec![
                    "Basic realm=\"r\"".into(),
                    "NTLM".into(),
                    "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"".into()
                ]
            }
        );
        assert!(e.to_string().contains("offered: Basic"));
        let e = proxy(b"HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\n\r\n").unwrap_err();
        assert_eq!(
            e,
            HttpError::ProxyRefused {
                status: 403,
                reason: "Forbidden".into(),
                server: Some("squid/5.7".into())
            }
        );
        assert!(e.to_string().contains("403 Forbidden (squid/5.7)"));
        assert!(matches!(
            proxy(b"HTTP/2 200\r\n\r\n"),
            Err(HttpError::VersionNot11(_))
        ));
        assert!(matches!(
            proxy(b"OK\r\n\r\n"),
            Err(HttpError::NoVersion { .. })
        ));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn run_split(bytes: &[u8], cuts: &[usize]) -> Result<(Response, usize), HttpError> {
            let mut p = ResponseParser::with_limit(512);
            let mut pos = 0;
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            points.push(bytes.len());
            for end in points {
                if end < pos {
                    continue;
                }
                match p.push(&bytes[pos..end])? {
                    Progress::Complete { response, consumed } => {
                        return Ok((response, pos + consumed))
                    }
                    Progress::Partial => pos = end,
                }
            }
            Err(p.eof().expect("not complete"))
        }

        fn headish() -> impl Strategy<Value = Vec<u8>> {
            let parts = prop::collection::vec(
                prop_oneof![
                    Just(b"HTTP/1.1 ".to_vec()),
                    Just(b"HTTP/1.0 ".to_vec()),
                    Just(b"200".to_vec()),
                    Just(b" OK".to_vec()),
                    Just(b"404 Not Found".to_vec()),
                    Just(b"\r\n".to_vec()),
                    Just(b"\n".to_vec()),
                    Just(b"\r".to_vec()),
                    Just(b"Server: x".to_vec()),
                    Just(b"Content-Length: 18446744073709551615".to_vec()),
                    Just(b" folded".to_vec()),
                    Just(b":".to_vec()),
                    prop::collection::vec(any::<u8>(), 0..8),
                ],
                0..24,
            );
            parts.prop_map(|v| v.concat())
        }

        proptest! {
            #[test]
            fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
                let mut p = ResponseParser::with_limit(1024);
                if let Ok(Progress::Complete { response, consumed }) = p.push(&bytes) {
                    prop_assert!(consumed <= bytes.len());
                    let _ = validate_sstp_response(response.clone());
                    let _ = validate_proxy_response(response).map_err(|e| e.to_string());
                }
                let _ = p.eof().map(|e| e.to_string());
            }

            #[test]
            fn any_split_gives_same_result(
                bytes in headish(),
                cuts in prop::collection::vec(any::<usize>(), 0..6),
            ) {
                let whole = run_split(&bytes, &[]);
                let split = run_split(&bytes, &cuts);
                prop_assert_eq!(&whole, &split);
                if let Ok((_, consumed)) = whole {
                    prop_assert!(consumed <= bytes.len());
                    prop_assert!(bytes[..consumed].ends_with(b"\n"));
                }
            }

            #[test]
            fn valid_heads_round_trip(
                status in 100u16..600,
                reason in "[A-Za-z ]{0,20}",
                headers in prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,30}"), 0..6),
                tail in prop::collection::vec(any::<u8>(), 0..16),
            ) {
                let mut raw = format!("HTTP/1.1 {status} {reason}\r\n");
                for (n, v) in &headers {
                    raw.push_str(&format!("{n}: {v}\r\n"));
                }
                raw.push_str("\r\n");
                let head_len = raw.len();
                let mut bytes = raw.into_bytes();
                bytes.extend_from_slice(&tail);
                let (r, consumed) = run_split(&bytes, &[]).unwrap();
                prop_assert_eq!(consumed, head_len);
                prop_assert_eq!(r.status, status);
                prop_assert_eq!(r.reason.as_str(), reason.trim());
                prop_assert_eq!(r.headers.len(), headers.len());
                for ((n, v), (rn, rv)) in headers.iter().zip(&r.headers) {
                    prop_assert_eq!(n, rn);
                    prop_assert_eq!(v.trim(), rv.as_str());
                }
            }
        }
    }

    #[test]
    fn sanitize_escapes_esc_c1_and_bidi() {
        let hostile =
            "vpn\u{1b}[2J\u{1b}]0;pwned\u{7}.example\u{9b}31m\u{85}\u{202e}moc.live\u{2066}";
        let s = sanitize(hostile);
        assert!(
            !s.chars().any(|c| c.is_control() || is_unsafe_char(c)),
            "{s:?}"
        );
        assert_eq!(
            s,
            "vpn\\u{1b}[2J\\u{1b}]0;pwned\\u{7}.example\\u{9b}31m\\u{85}\\u{202e}moc.live\\u{2066}"
        );
        assert_eq!(sanitize("vpn.example.com"), "vpn.example.com");
        assert_eq!(sanitize("tab\there"), "tab\\there");
        let long = sanitize(&"é".repeat(1000));
        assert_eq!(long.chars().count(), MAX_EXCERPT + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn connect_request_never_shows_credentials() {
        let mut r = ConnectRequest::new("vpn.example.com", 443);
        r.proxy_authorization = Some("Basic YWxpY2U6UzNjcmV0".into());
        let d = format!("{r:?}");
        assert!(
            d.contains("vpn.example.com") && d.contains("<redacted>"),
            "{d}"
        );
        assert!(!d.contains("YWxp"), "{d}");
        // A Digest value carrying a hostile realm with HTAB: refused, value withheld.
        r.proxy_authorization =
            Some("Digest username=\"alice\", realm=\"\t\", response=\"0123abcd\"".into());
        let e = r.to_bytes().unwrap_err();
        assert_eq!(e.header, Some("Proxy-Authorization"));
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("alice") && !text.contains("0123abcd"),
            "{text}"
        );
        assert!(text.contains("Proxy-Authorization"), "{text}");
        // Exactly sized: no spare capacity where a reallocation would leave a copy.
        r.proxy_authorization = Some("Basic YWxpY2U6UzNjcmV0".into());
        let b = r.to_bytes().unwrap();
        assert_eq!(b.len(), b.capacity());
    }
}
