//! Error types.

use thiserror::Error;

/// Why a `Proxy-Authenticate` header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed challenge at byte {position}: {reason}")]
pub struct ParseError {
    /// Byte offset in the header value where parsing stopped.
    pub position: usize,
    /// What was expected there.
    pub reason: &'static str,
}

/// Errors of the NTLM message codec.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NtlmError {
    /// The token is not valid base64.
    #[error("NTLM token is not valid base64")]
    Base64,
    /// The message is shorter than its fixed header.
    #[error("NTLM message truncated ({len} bytes, need {need})")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// The signature is not `NTLMSSP\0`.
    #[error("not an NTLMSSP message")]
    BadSignature,
    /// The message type is not the one expected.
    #[error("NTLM message type {got}, expected {expected}")]
    WrongType {
        /// Type found.
        got: u32,
        /// Type expected.
        expected: u32,
    },
    /// A (length, offset) field points outside the message.
    #[error("NTLM {field} field points outside the message")]
    FieldOutOfBounds {
        /// Which field.
        field: &'static str,
    },
    /// The target-info AV pair list is malformed.
    #[error("NTLM target info is malformed: {0}")]
    BadTargetInfo(&'static str),
    /// A field grew past what its 16-bit length can hold.
    #[error("NTLM {0} too long")]
    TooLong(&'static str),
}

/// Errors of [`crate::ProxyAuthenticator::respond`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The proxy offered no scheme this crate supports (or only Basic while Basic is disabled).
    /// `offered` holds the scheme names as the proxy spelled them, for diagnostics.
    #[error("proxy offers no supported authentication scheme (offered: {})", offered.join(", "))]
    NoSupportedScheme {
        /// Scheme names the proxy offered.
        offered: Vec<String>,
    },
    /// A second 407 after a complete exchange: the proxy refused the credentials.
    #[error("proxy rejected the {scheme} credentials")]
    CredentialsRejected {
        /// Scheme whose exchange was refused.
        scheme: crate::AuthScheme,
    },
    /// The challenge could not be understood.
    #[error("malformed proxy challenge: {0}")]
    Malformed(String),
    /// `respond` was called for a status other than 407.
    #[error("unexpected HTTP status {0} (proxy authentication answers 407 only)")]
    UnexpectedStatus(u16),
}

impl From<ParseError> for AuthError {
    fn from(e: ParseError) -> Self {
        AuthError::Malformed(e.to_string())
    }
}

impl From<NtlmError> for AuthError {
    fn from(e: NtlmError) -> Self {
        AuthError::Malformed(e.to_string())
    }
}

/// Errors loading [`crate::Credentials`].
#[derive(Debug, Error)]
pub enum CredentialsError {
    /// Reading the file or fd failed.
    #[error("cannot read credentials: {0}")]
    Io(#[from] std::io::Error),
    /// The content is not UTF-8.
    #[error("credentials are not valid UTF-8")]
    NotUtf8,
    /// The content is larger than the accepted maximum.
    #[error("credentials source is larger than {max} bytes")]
    TooLarge {
        /// Maximum accepted size.
        max: usize,
    },
    /// No user name could be found.
    #[error("credentials have an empty user name")]
    EmptyUser,
    /// Neither `user\npassword` nor `user:password`.
    #[error("credentials must be `user` and `password` on two lines, or `user:password`")]
    BadFormat,
    /// A user name or password contains a control character (NUL, CR, LF...).
    #[error("credentials contain a control character")]
    ControlCharacter,
}
