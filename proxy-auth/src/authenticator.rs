//! The per-proxy state machine that turns 407 challenges into `Proxy-Authorization` values.

use std::fmt;
use std::time::Duration;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use crate::basic::basic_authorization;
use crate::challenge::{parse_all, Challenge, Scheme};
use crate::credentials::{wipe_string, wipe_vec, Credentials};
use crate::digest::{digest_authorization, hex, DigestChallenge, DigestRequest};
use crate::error::{AuthError, NtlmError};
use crate::ntlm;

/// How many `stale=true` Digest challenges in a row are answered before giving up.
pub const MAX_STALE_RETRIES: u8 = 2;

/// The scheme of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthScheme {
    /// Basic.
    Basic,
    /// Digest (any supported algorithm).
    Digest,
    /// NTLMv2.
    Ntlm,
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthScheme::Basic => "Basic",
            AuthScheme::Digest => "Digest",
            AuthScheme::Ntlm => "NTLM",
        })
    }
}

/// Randomness and time from the caller (this crate does no I/O and reads no clock).
///
/// Pass fresh values to every [`ProxyAuthenticator::respond`] call.
#[derive(Clone, PartialEq, Eq)]
pub struct Entropy {
    /// 32 random bytes: `[0..16]` become the Digest cnonce (hex), `[16..24]` the NTLM client
    /// challenge.
    pub random: [u8; 32],
    /// Time since the Unix epoch, for the NTLMv2 timestamp when the proxy sends none.
    pub unix_time: Duration,
}

impl fmt::Debug for Entropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entropy")
            .field("random", &"<redacted>")
            .field("unix_time", &self.unix_time)
            .finish()
    }
}

/// What to send next: the `Proxy-Authorization` value for a repeated CONNECT.
///
/// `Debug` redacts the value (a Basic value is the password in base64); `Drop` wipes it.
pub struct Step {
    /// Value of the `Proxy-Authorization` header (without the header name).
    pub header_value: String,
    /// The request must go on the TCP connection that carried this 407 (NTLM AUTHENTICATE): if
    /// the proxy closed it, authentication fails. When false, a new connection may be used if
    /// the proxy closed the old one (after a NEGOTIATE, keep the connection for the CHALLENGE).
    pub needs_same_connection: bool,
    /// Scheme of this step.
    pub scheme: AuthScheme,
}

impl Step {
    /// `Proxy-Authorization: <value>\r\n`.
    pub fn header_line(&self) -> String {
        format!("Proxy-Authorization: {}\r\n", self.header_value)
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("header_value", &"<redacted>")
            .field("needs_same_connection", &self.needs_same_connection)
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        wipe_string(&mut self.header_value);
    }
}

enum State {
    /// Nothing sent, or a fresh attempt.
    Idle,
    /// Basic sent (preemptively, or after a challenge).
    Basic { preemptive: bool },
    /// Digest sent.
    Digest {
        ch: DigestChallenge,
        cnonce: String,
        nc: u32,
        preemptive: bool,
        established: bool,
    },
    /// NTLM NEGOTIATE sent; waiting for the CHALLENGE on this connection.
    NtlmNegotiate { negotiate: Vec<u8> },
    /// NTLM AUTHENTICATE sent.
    NtlmAuthenticate,
    /// A complete exchange was refused.
    Rejected(AuthScheme),
}

/// The choice among offered challenges.
enum Choice {
    Ntlm,
    Digest(DigestChallenge),
    Basic,
}

/// Choose the strongest supported scheme: NTLM > Digest SHA-256 > Digest MD5 > Basic.
fn select(challenges: &[Challenge], allow_basic: bool) -> Option<Choice> {
    if challenges.iter().any(|c| c.scheme == Scheme::Ntlm) {
        return Some(Choice::Ntlm);
    }
    let best_digest = challenges
        .iter()
        .filter_map(DigestChallenge::from_challenge)
        .fold(None::<DigestChallenge>, |best, d| match best {
            Some(b) if b.algorithm.is_sha256() || !d.algorithm.is_sha256() => Some(b),
            _ => Some(d),
        });
    if let Some(d) = best_digest {
        return Some(Choice::Digest(d));
    }
    if allow_basic && challenges.iter().any(|c| c.scheme == Scheme::Basic) {
        return Some(Choice::Basic);
    }
    None
}

fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Proxy authentication for one proxy and one CONNECT target.
///
/// ```text
/// let mut auth = ProxyAuthenticator::new(creds, "vpn.example.com:443");
/// send CONNECT (+ auth.initial_header() if Some)
/// loop while the status is 407:
///     drain the 407 body; step = auth.respond(&proxy_authenticate_values, 407, &fresh_entropy)?
///     if the proxy closed the connection: step.needs_same_connection ? fail : reconnect
///     send CONNECT + "Proxy-Authorization: {step.header_value}"
/// on 2xx: auth.on_success()
/// ```
pub struct ProxyAuthenticator {
    credentials: Credentials,
    target: String,
    allow_basic: bool,
    preemptive_basic: bool,
    basic_established: bool,
    state: State,
    stale_retries: u8,
}

impl fmt::Debug for ProxyAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Idle => "idle",
            State::Basic { .. } => "basic-sent",
            State::Digest { .. } => "digest-sent",
            State::NtlmNegotiate { .. } => "ntlm-negotiate-sent",
            State::NtlmAuthenticate => "ntlm-authenticate-sent",
            State::Rejected(_) => "rejected",
        };
        f.debug_struct("ProxyAuthenticator")
            .field("credentials", &self.credentials)
            .field("target", &self.target)
            .field("allow_basic", &self.allow_basic)
            .field("state", &state)
            .finish()
    }
}

impl ProxyAuthenticator {
    /// `target` is the CONNECT request-target exactly as sent (`host:port`, `[v6]:port`); it is
    /// the Digest `uri`.
    pub fn new(credentials: Credentials, target: impl Into<String>) -> Self {
        ProxyAuthenticator {
            credentials,
            target: target.into(),
            allow_basic: true,
            preemptive_basic: false,
            basic_established: false,
            state: State::Idle,
            stale_retries: 0,
        }
    }

    /// Allow or refuse Basic (which sends the password in clear to the proxy). Default: allowed.
    pub fn allow_basic(mut self, allow: bool) -> Self {
        self.allow_basic = allow;
        self
    }

    /// Send Basic with the first CONNECT, before any challenge (saves a round trip with proxies
    /// known to use Basic). Default: off.
    pub fn preemptive_basic(mut self, on: bool) -> Self {
        self.preemptive_basic = on;
        self
    }

    /// Header value for the first CONNECT of an attempt (a new TCP connection): Basic when
    /// preemptive Basic is on or Basic worked before, or Digest with the next nonce count
    /// when a Digest exchange worked before; otherwise `None`. Starts a new attempt.
    pub fn initial_header(&mut self) -> Option<String> {
        self.stale_retries = 0;
        if let State::Digest {
            ch,
            cnonce,
            nc,
            preemptive,
            established: true,
        } = &mut self.state
        {
            *nc = nc.wrapping_add(1).max(1);
            *preemptive = true;
            let req = DigestRequest {
                method: "CONNECT",
                uri: &self.target,
                cnonce,
                nc: *nc,
            };
            return Some(digest_authorization(
                ch,
                self.credentials.username(),
                self.credentials.expose_password(),
                &req,
            ));
        }
        if self.allow_basic && (self.preemptive_basic || self.basic_established) {
            self.state = State::Basic { preemptive: true };
            return Some(basic_authorization(
                self.credentials.username(),
                self.credentials.expose_password(),
            ));
        }
        self.state = State::Idle;
        None
    }

    /// Tell the authenticator that the proxy accepted the CONNECT (2xx), so that Basic or
    /// Digest can be sent preemptively by the next [`initial_header`](Self::initial_header).
    pub fn on_success(&mut self) {
        match &mut self.state {
            State::Digest { established, .. } => *established = true,
            State::Basic { .. } => self.basic_established = true,
            _ => self.state = State::Idle,
        }
        self.stale_retries = 0;
    }

    /// Answer a 407: `challenges` are the values of every `Proxy-Authenticate` header of the
    /// response, `status` its status code. Errors: [`AuthError::NoSupportedScheme`],
    /// [`AuthError::CredentialsRejected`] (a 407 after a complete exchange),
    /// [`AuthError::Malformed`], [`AuthError::UnexpectedStatus`] (status other than 407).
    pub fn respond<S: AsRef<str>>(
        &mut self,
        challenges: &[S],
        status: u16,
        entropy: &Entropy,
    ) -> Result<Step, AuthError> {
        if status != 407 {
            return Err(AuthError::UnexpectedStatus(status));
        }
        let (parsed, errors) = parse_all(challenges);
        if parsed.is_empty() {
            return Err(match errors.into_iter().next() {
                Some(e) => e.into(),
                None => AuthError::Malformed("407 without a Proxy-Authenticate challenge".into()),
            });
        }
        let previous = std::mem::replace(&mut self.state, State::Idle);
        let mut after_preemptive_basic = false;
        match previous {
            State::Idle => {}
            State::NtlmNegotiate { mut negotiate } => {
                let token = parsed
                    .iter()
                    .filter(|c| c.scheme == Scheme::Ntlm)
                    .find_map(|c| c.token68.as_deref());
                let out = match token {
                    Some(t) => self.ntlm_authenticate(&negotiate, t, entropy),
                    None => Err(AuthError::Malformed(
                        "no NTLM CHALLENGE after NEGOTIATE: the proxy restarted the handshake \
                         (was the connection kept open?)"
                            .into(),
                    )),
                };
                wipe_vec(&mut negotiate);
                return out;
            }
            State::NtlmAuthenticate => return self.reject(AuthScheme::Ntlm),
            State::Rejected(s) => return self.reject(s),
            State::Digest { preemptive, .. } => {
                let stale = parsed
                    .iter()
                    .filter_map(DigestChallenge::from_challenge)
                    .find(|d| d.stale);
                if let Some(d) = stale {
                    if self.stale_retries < MAX_STALE_RETRIES {
                        self.stale_retries += 1;
                        return Ok(self.digest_step(d, entropy));
                    }
                }
                if !preemptive {
                    return self.reject(AuthScheme::Digest);
                }
            }
            State::Basic { preemptive } => {
                if !preemptive {
                    return self.reject(AuthScheme::Basic);
                }
                after_preemptive_basic = true;
                self.basic_established = false;
            }
        }
        match select(&parsed, self.allow_basic) {
            None => Err(AuthError::NoSupportedScheme {
                offered: parsed.iter().map(|c| c.scheme.name().to_owned()).collect(),
            }),
            Some(Choice::Basic) if after_preemptive_basic => self.reject(AuthScheme::Basic),
            Some(Choice::Basic) => {
                self.state = State::Basic { preemptive: false };
                Ok(Step {
                    header_value: basic_authorization(
                        self.credentials.username(),
                        self.credentials.expose_password(),
                    ),
                    needs_same_connection: false,
                    scheme: AuthScheme::Basic,
                })
            }
            Some(Choice::Digest(d)) => {
                self.stale_retries = 0;
                Ok(self.digest_step(d, entropy))
            }
            Some(Choice::Ntlm) => {
                let negotiate = ntlm::negotiate_message(ntlm::CLIENT_NEGOTIATE_FLAGS);
                let header_value = format!("NTLM {}", STANDARD.encode(&negotiate));
                self.state = State::NtlmNegotiate { negotiate };
                Ok(Step {
                    header_value,
                    needs_same_connection: false,
                    scheme: AuthScheme::Ntlm,
                })
            }
        }
    }

    fn reject(&mut self, scheme: AuthScheme) -> Result<Step, AuthError> {
        self.state = State::Rejected(scheme);
        Err(AuthError::CredentialsRejected { scheme })
    }

    fn digest_step(&mut self, ch: DigestChallenge, entropy: &Entropy) -> Step {
        let cnonce = hex(&entropy.random[..16]);
        let req = DigestRequest {
            method: "CONNECT",
            uri: &self.target,
            cnonce: &cnonce,
            nc: 1,
        };
        let header_value = digest_authorization(
            &ch,
            self.credentials.username(),
            self.credentials.expose_password(),
            &req,
        );
        self.state = State::Digest {
            ch,
            cnonce,
            nc: 1,
            preemptive: false,
            established: false,
        };
        Step {
            header_value,
            needs_same_connection: false,
            scheme: AuthScheme::Digest,
        }
    }

    fn ntlm_authenticate(
        &mut self,
        negotiate: &[u8],
        token: &str,
        entropy: &Entropy,
    ) -> Result<Step, AuthError> {
        let challenge = lenient_base64()
            .decode(token)
            .map_err(|_| NtlmError::Base64)?;
        let (user, domain) = self.credentials.ntlm_user_and_domain();
        let mut client_challenge = [0u8; 8];
        client_challenge.copy_from_slice(&entropy.random[16..24]);
        let input = ntlm::NtlmClientInput {
            user,
            domain,
            password: self.credentials.expose_password(),
            workstation: self.credentials.workstation(),
            negotiate,
            challenge: &challenge,
            client_challenge,
            now_filetime: ntlm::unix_to_filetime(
                entropy.unix_time.as_secs(),
                entropy.unix_time.subsec_nanos(),
            ),
        };
        let msg = ntlm::authenticate_for_challenge(&input)?;
        self.state = State::NtlmAuthenticate;
        Ok(Step {
            header_value: format!("NTLM {}", STANDARD.encode(&msg)),
            needs_same_connection: true,
            scheme: AuthScheme::Ntlm,
        })
    }
}
