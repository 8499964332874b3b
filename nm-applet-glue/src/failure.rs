//! pppd's exit status (as the sstp-rs plugin sets it, plugin/OPTIONS.md "Exit statuses") →
//! what the service tells NetworkManager: a `Failure` reason, and whether to ask for new
//! secrets instead of failing flat (a wrong password). Pure; the service applies it.

/// `NMVpnPluginFailure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum NmFailure {
    /// `NM_VPN_PLUGIN_FAILURE_LOGIN_FAILED`.
    LoginFailed = 0,
    /// `NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED`.
    ConnectFailed = 1,
    /// `NM_VPN_PLUGIN_FAILURE_BAD_IP_CONFIG`.
    BadIpConfig = 2,
}

/// What the end of pppd means for NetworkManager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Emit `Failure(reason)`, then stop.
    Fail(NmFailure),
    /// Wrong credentials: with `ConnectInteractive`, emit `SecretsRequired` and wait for
    /// `NewSecrets`; otherwise `Failure(LoginFailed)`.
    Reauth,
    /// A plain disconnect (asked for, or a clean end): just stop.
    Stopped,
}

/// pppd's exit statuses (pppd.h).
#[allow(missing_docs)]
pub mod status {
    pub const OK: i32 = 0;
    pub const FATAL_ERROR: i32 = 1;
    pub const OPTION_ERROR: i32 = 2;
    pub const USER_REQUEST: i32 = 5;
    pub const CONNECT_FAILED: i32 = 8;
    pub const NEGOTIATION_FAILED: i32 = 10;
    pub const PEER_AUTH_FAILED: i32 = 11;
    pub const PEER_DEAD: i32 = 15;
    pub const HANGUP: i32 = 16;
    pub const AUTH_TOPEER_FAILED: i32 = 19;
}

/// Maps pppd's exit status (`None`: killed by a signal). 19 is a wrong user name or password,
/// or the crypto binding rejected by the server: new secrets may fix it. 11 is an untrusted
/// server certificate, 8 resolve/TCP/proxy/TLS/HTTP, 10 SSTP negotiation, 15/16 the server
/// gone, 2 a configuration the plugin refused: connect failures. 0 and 5 (SIGTERM from the
/// service's Disconnect) are plain stops.
pub fn outcome(exit: Option<i32>, disconnect_requested: bool) -> Outcome {
    match exit {
        _ if disconnect_requested => Outcome::Stopped,
        None => Outcome::Fail(NmFailure::ConnectFailed),
        Some(status::OK | status::USER_REQUEST) => Outcome::Stopped,
        Some(status::AUTH_TOPEER_FAILED) => Outcome::Reauth,
        Some(_) => Outcome::Fail(NmFailure::ConnectFailed),
    }
}

/// The name NetworkManager logs for a failure reason.
pub fn reason_name(f: NmFailure) -> &'static str {
    match f {
        NmFailure::LoginFailed => "login-failed",
        NmFailure::ConnectFailed => "connect-failed",
        NmFailure::BadIpConfig => "bad-ip-config",
    }
}

/// The plugin's own sentence for a failure: its first error line (later lines are details
/// such as the certificate's issuer and the pin), or `fallback`.
pub fn sentence<'a>(errors: &'a [String], fallback: &'a str) -> &'a str {
    errors.first().map_or(fallback, String::as_str)
}

/// The service's one log line for a failed connection, e.g.
/// `connect-failed: sstp-rs: the server certificate ... is not trusted: ...`.
pub fn log_line(f: NmFailure, errors: &[String]) -> String {
    let why = sentence(errors, "pppd ended without a message from sstp-rs");
    format!("{}: {why}", reason_name(f))
}

/// For an untrusted certificate the plugin names its pin option; under NetworkManager the same
/// pin is a `vpn.data` key. The command that sets it for connection `id`, if a pin was named.
pub fn pin_hint(errors: &[String], id: &str) -> Option<String> {
    let rest = errors
        .iter()
        .find_map(|l| l.split("sstp-cert-pin ").nth(1))?;
    let pin = rest.split_whitespace().next()?;
    Some(format!(
        "to trust exactly this certificate: {}",
        pin_command(id, pin)
    ))
}

/// `nmcli connection modify ID +vpn.data sstp-cert-pin=PIN`, the id without control
/// characters and quoted for a shell (as `sstp connect` quotes).
pub fn pin_command(id: &str, pin: &str) -> String {
    let id: String = id.chars().filter(|c| !c.is_control()).collect();
    let quoted = sstp_cli::pppd::shell_quote(&id);
    format!("nmcli connection modify {quoted} +vpn.data sstp-cert-pin={pin}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plugin_status() {
        use status::*;
        let table = [
            (Some(OK), Outcome::Stopped),
            (Some(USER_REQUEST), Outcome::Stopped),
            (Some(AUTH_TOPEER_FAILED), Outcome::Reauth),
            (
                Some(PEER_AUTH_FAILED),
                Outcome::Fail(NmFailure::ConnectFailed),
            ),
            (
                Some(CONNECT_FAILED),
                Outcome::Fail(NmFailure::ConnectFailed),
            ),
            (
                Some(NEGOTIATION_FAILED),
                Outcome::Fail(NmFailure::ConnectFailed),
            ),
            (Some(HANGUP), Outcome::Fail(NmFailure::ConnectFailed)),
            (Some(PEER_DEAD), Outcome::Fail(NmFailure::ConnectFailed)),
            (Some(OPTION_ERROR), Outcome::Fail(NmFailure::ConnectFailed)),
            (Some(FATAL_ERROR), Outcome::Fail(NmFailure::ConnectFailed)),
            (None, Outcome::Fail(NmFailure::ConnectFailed)),
        ];
        for (exit, want) in table {
            assert_eq!(outcome(exit, false), want, "{exit:?}");
        }
        // After Disconnect, whatever pppd says is a plain stop.
        assert_eq!(outcome(Some(HANGUP), true), Outcome::Stopped);
        assert_eq!(NmFailure::LoginFailed as u32, 0);
        assert_eq!(NmFailure::BadIpConfig as u32, 2);
    }

    #[test]
    fn the_plugins_first_sentence_is_the_message() {
        let errs = vec![
            "sstp-rs: the server certificate from 192.0.2.2:443 is not trusted".to_string(),
            "  issuer:   CN=test CA".to_string(),
        ];
        assert_eq!(
            log_line(NmFailure::ConnectFailed, &errs),
            "connect-failed: sstp-rs: the server certificate from 192.0.2.2:443 is not trusted"
        );
        assert_eq!(sentence(&[], "fallback"), "fallback");
        assert!(log_line(NmFailure::LoginFailed, &[]).starts_with("login-failed: pppd ended"));
    }

    #[test]
    fn the_pin_becomes_a_vpn_data_key() {
        let errs = vec![
            "sstp-rs: the server certificate is not trusted".to_string(),
            "  to trust exactly this certificate add the option: sstp-cert-pin sha256:ab12".into(),
        ];
        assert_eq!(
            pin_hint(&errs, "Work").unwrap(),
            "to trust exactly this certificate: nmcli connection modify Work +vpn.data \
             sstp-cert-pin=sha256:ab12"
        );
        assert!(pin_hint(&errs, "it's \x1b[1m")
            .unwrap()
            .contains(r"'it'\''s [1m'"));
        assert_eq!(pin_hint(&errs[..1], "Work"), None);
    }
}
