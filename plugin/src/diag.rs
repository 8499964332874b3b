//! Failure diagnostics: which pppd exit status each failure maps to. The text comes from
//! sstp-tunnel's `TunnelError` and sstp-proto's `CloseReason` `Display` implementations, which
//! name the seed condition (unreachable server, TLS/trust failure with certificate subject and
//! SHA-256, HTTP version, refused with status N, negotiation failure, crypto binding rejected).

use std::time::Duration;

use sstp_proto::client::CloseReason;
use sstp_proto::StatusCode;
use sstp_tunnel::FailureCategory;

use crate::host::ExitStatus;

/// Exit status for a connect-phase failure.
pub fn exit_for_category(c: FailureCategory) -> ExitStatus {
    match c {
        FailureCategory::Config => ExitStatus::OptionError,
        // The server failed to prove its identity: "peer failed to authenticate itself".
        FailureCategory::Trust => ExitStatus::PeerAuthFailed,
        FailureCategory::Negotiation => ExitStatus::NegotiationFailed,
        // Our side was refused: the server rejected the binding or the authentication.
        FailureCategory::Auth | FailureCategory::CryptoBinding => ExitStatus::AuthTopeerFailed,
        FailureCategory::Io => ExitStatus::Hangup,
        // SIGTERM/SIGINT/SIGHUP during the connect: pppd's own status for them.
        FailureCategory::Cancelled => ExitStatus::UserRequest,
        // The host route to the server (events 14/15): the connect cannot go on safely.
        FailureCategory::Route => ExitStatus::ConnectFailed,
        // Resolve, Connect, Tls, Http, Proxy and anything added later.
        _ => ExitStatus::ConnectFailed,
    }
}

/// Exit status when no correct HLAK can be derived (an EAP method whose keys this pppd does
/// not hand over): authenticating to the peer cannot be completed.
pub fn exit_for_hlak_error(_e: &sstp_proto::HlakError) -> ExitStatus {
    ExitStatus::AuthTopeerFailed
}

/// A CALL_ABORT this soon after CALL_CONNECTED is read as "crypto binding rejected".
pub const BINDING_REJECT_WINDOW: Duration = Duration::from_secs(10);

/// Exit status for the end of an established call, or `None` when pppd's own status should
/// stand (local disconnect or abort: pppd knows why it hung up).
/// `since_call_connected`: time since CALL_CONNECTED was sent, if it was.
pub fn exit_for_close(
    r: &CloseReason,
    since_call_connected: Option<Duration>,
) -> Option<ExitStatus> {
    Some(match r {
        CloseReason::LocalDisconnect { .. } | CloseReason::LocalAbort => return None,
        r if looks_like_binding_reject(r, since_call_connected) => ExitStatus::AuthTopeerFailed,
        CloseReason::PeerAbort { .. } => ExitStatus::Hangup,
        CloseReason::PeerDisconnect(_) => ExitStatus::Hangup,
        CloseReason::EchoTimeout { .. } | CloseReason::ServerNotReading { .. } => {
            ExitStatus::PeerDead
        }
        _ => ExitStatus::NegotiationFailed,
    })
}

/// Whether a close reason suggests the crypto binding was rejected (adds a hint to the log):
/// a CALL_ABORT soon after CALL_CONNECTED, unless its status says NO_ERROR (a server ending a
/// running call on purpose, not a failed check).
pub fn looks_like_binding_reject(r: &CloseReason, since_call_connected: Option<Duration>) -> bool {
    match r {
        CloseReason::PeerAbort {
            after_call_connected: true,
            status,
        } => {
            since_call_connected.is_some_and(|d| d <= BINDING_REJECT_WINDOW)
                && status
                    .as_ref()
                    .is_none_or(|s| s.status != StatusCode::NoError)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sstp_proto::client::NegotiationPhase;
    use sstp_proto::{AttributeId, StatusInfo};

    #[test]
    fn categories() {
        for (category, status) in [
            (FailureCategory::Connect, ExitStatus::ConnectFailed),
            (FailureCategory::Resolve, ExitStatus::ConnectFailed),
            (FailureCategory::Tls, ExitStatus::ConnectFailed),
            (FailureCategory::Http, ExitStatus::ConnectFailed),
            (FailureCategory::Trust, ExitStatus::PeerAuthFailed),
            (FailureCategory::Negotiation, ExitStatus::NegotiationFailed),
            (FailureCategory::CryptoBinding, ExitStatus::AuthTopeerFailed),
            (FailureCategory::Config, ExitStatus::OptionError),
            (FailureCategory::Route, ExitStatus::ConnectFailed),
        ] {
            assert_eq!(exit_for_category(category), status, "{category:?}");
        }
        assert_eq!(ExitStatus::ConnectFailed as i32, 8);
        assert_eq!(ExitStatus::AuthTopeerFailed as i32, 19);
    }

    #[test]
    fn close_reasons() {
        let abort = CloseReason::PeerAbort {
            status: None,
            after_call_connected: true,
        };
        let soon = Some(Duration::from_millis(300));
        let late = Some(Duration::from_secs(3600));
        assert_eq!(
            exit_for_close(&abort, soon),
            Some(ExitStatus::AuthTopeerFailed)
        );
        assert!(looks_like_binding_reject(&abort, soon));
        assert_eq!(exit_for_close(&abort, late), Some(ExitStatus::Hangup));
        assert!(!looks_like_binding_reject(&abort, late));
        // The binding rejection Windows and the test server send, and an abort on purpose.
        let rejected = CloseReason::PeerAbort {
            status: Some(StatusInfo::new(
                AttributeId::CryptoBinding,
                StatusCode::ValueNotSupported,
            )),
            after_call_connected: true,
        };
        assert_eq!(
            exit_for_close(&rejected, soon),
            Some(ExitStatus::AuthTopeerFailed)
        );
        let on_purpose = CloseReason::PeerAbort {
            status: Some(StatusInfo::new(AttributeId::NoError, StatusCode::NoError)),
            after_call_connected: true,
        };
        assert!(!looks_like_binding_reject(&on_purpose, soon));
        assert_eq!(exit_for_close(&on_purpose, soon), Some(ExitStatus::Hangup));
        // Before CALL_CONNECTED (e.g. PPP authentication still running): never the binding.
        let early = CloseReason::PeerAbort {
            status: None,
            after_call_connected: false,
        };
        assert!(!looks_like_binding_reject(&early, None));
        assert_eq!(exit_for_close(&early, None), Some(ExitStatus::Hangup));
        assert_eq!(
            exit_for_close(&CloseReason::PeerDisconnect(None), late),
            Some(ExitStatus::Hangup)
        );
        assert_eq!(
            exit_for_close(&CloseReason::EchoTimeout { unanswered: 3 }, late),
            Some(ExitStatus::PeerDead)
        );
        assert_eq!(
            exit_for_close(
                &CloseReason::NegotiationTimeout {
                    phase: NegotiationPhase::Authentication
                },
                None
            ),
            Some(ExitStatus::NegotiationFailed)
        );
        assert_eq!(exit_for_close(&CloseReason::LocalAbort, None), None);
        assert_eq!(
            exit_for_close(&CloseReason::LocalDisconnect { acknowledged: true }, late),
            None
        );
    }
}
