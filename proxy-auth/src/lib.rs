//! HTTP proxy authentication (sans-IO) for the `CONNECT` an SSTP client sends to a web proxy.
//!
//! * [`challenge`]: RFC 7235 `Proxy-Authenticate` parser (several challenges per header and
//!   several headers, quoted strings with escapes, token68).
//! * [`basic`] (RFC 7617), [`digest`] (RFC 7616: MD5, MD5-sess, SHA-256, SHA-256-sess,
//!   `qop=auth`), [`ntlm`] (NTLMv2, [MS-NLMP]).
//! * [`ProxyAuthenticator`]: the state machine that picks the strongest offered scheme
//!   (NTLM > Digest SHA-256 > Digest MD5 > Basic; Negotiate is recognized, not supported) and
//!   produces `Proxy-Authorization` values.
//! * [`Credentials`]: password kept out of `Debug` and wiped on drop; loaded from a file or an
//!   fd, never from the command line.
//!
//! No sockets, no clock, no randomness of its own: the caller passes [`Entropy`].
//!
//! ```
//! use sstp_proxy_auth::{AuthScheme, Credentials, Entropy, ProxyAuthenticator};
//! use std::time::Duration;
//!
//! let creds = Credentials::new("Aladdin", "open sesame");
//! let mut auth = ProxyAuthenticator::new(creds, "vpn.example.com:443");
//! assert_eq!(auth.initial_header(), None); // no preemptive auth by default
//! // The proxy answered 407 with these Proxy-Authenticate headers:
//! let offered = ["Negotiate".to_string(), "Basic realm=\"proxy\"".to_string()];
//! let entropy = Entropy { random: [7; 32], unix_time: Duration::from_secs(1_700_000_000) };
//! let step = auth.respond(&offered, 407, &entropy).unwrap();
//! assert_eq!(step.scheme, AuthScheme::Basic);
//! assert_eq!(step.header_value, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
//! assert!(!step.needs_same_connection);
//! // A second 407 after that: the proxy refused the credentials.
//! assert!(auth.respond(&offered, 407, &entropy).is_err());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authenticator;
pub mod basic;
pub mod challenge;
pub mod credentials;
pub mod digest;
pub mod error;
pub mod ntlm;

pub use authenticator::{AuthScheme, Entropy, ProxyAuthenticator, Step, MAX_STALE_RETRIES};
pub use challenge::{parse_all, parse_challenges, Challenge, Scheme};
pub use credentials::{Credentials, MAX_CREDENTIALS_LEN};
pub use digest::{DigestAlgorithm, DigestChallenge};
pub use error::{AuthError, CredentialsError, NtlmError, ParseError};
