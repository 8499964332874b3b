//! The documented exit codes of `sstp` (see cli/README.md), and the mappings to them from
//! [`FailureCategory`] (`sstp probe`) and from pppd's exit status (`sstp connect`).

use sstp_tunnel::FailureCategory;

/// An exit code of the `sstp` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exit {
    /// Probe: the server speaks SSTP. Connect: the tunnel ended on request.
    Ok = 0,
    /// Internal or unexpected error (I/O error of this program, pppd killed by a signal).
    Internal = 1,
    /// Usage or configuration error (bad option, unreadable file, pppd option error).
    Usage = 2,
    /// The server (or proxy host) name could not be resolved.
    Resolve = 3,
    /// No TCP connection to the server.
    Connect = 4,
    /// The TLS handshake failed (version, cipher, not TLS, closed).
    Tls = 5,
    /// The server certificate is not trusted (chain, name, validity, EKU, pin).
    Trust = 6,
    /// The SSTP HTTP handshake failed (HTTP version, status, malformed, timeout).
    Http = 7,
    /// The HTTP proxy failed (resolve, connect, refused, authentication).
    Proxy = 8,
    /// SSTP call negotiation failed (NAK, abort, timeout, protocol violation).
    Negotiation = 9,
    /// PPP authentication failed (connect: also a rejected crypto binding; pppd cannot tell).
    Auth = 10,
    /// The server rejected the crypto binding.
    CryptoBinding = 11,
    /// The connection was lost (I/O error, peer dead, hang-up).
    ConnectionLost = 12,
    /// Negotiation failed inside pppd: the SSTP call (the plugin's diagnosis says which) or
    /// PPP LCP/IPCP.
    PppNegotiation = 13,
    /// pppd could not run: not found, not root, no kernel PPP, plugin not loadable, lock/open.
    PppdEnvironment = 14,
    /// pppd's connect phase failed (the diagnosis printed above names the cause; run
    /// `sstp probe` for the precise category).
    ConnectPhase = 15,
    /// The link ended on a pppd limit (idle time, connect time, traffic limit, callback).
    PppdLimit = 16,
    /// Probe: the server speaks SSTP, but its addresses (IPv4 and IPv6 listeners) present
    /// different certificates (Windows event 24).
    ListenerMismatch = 17,
    /// Interrupted (Ctrl-C) before anything started, e.g. at the password prompt.
    Interrupted = 130,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// One-line meaning, for messages and the README table.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Internal => "internal error",
            Exit::Usage => "usage or configuration error",
            Exit::Resolve => "name resolution failed",
            Exit::Connect => "TCP connection failed",
            Exit::Tls => "TLS handshake failed",
            Exit::Trust => "server certificate not trusted",
            Exit::Http => "SSTP HTTP handshake failed",
            Exit::Proxy => "HTTP proxy failed",
            Exit::Negotiation => "SSTP negotiation failed",
            Exit::Auth => "authentication failed",
            Exit::CryptoBinding => "crypto binding rejected",
            Exit::ConnectionLost => "connection lost",
            Exit::PppNegotiation => "negotiation failed in pppd (SSTP call or PPP LCP/IPCP)",
            Exit::PppdEnvironment => "pppd could not run",
            Exit::ConnectPhase => "connect phase failed in pppd",
            Exit::PppdLimit => "link ended on a pppd limit",
            Exit::ListenerMismatch => "the server's addresses present different certificates",
            Exit::Interrupted => "interrupted",
        }
    }

    /// Every code, in table order.
    pub const ALL: [Exit; 19] = [
        Exit::Ok,
        Exit::Internal,
        Exit::Usage,
        Exit::Resolve,
        Exit::Connect,
        Exit::Tls,
        Exit::Trust,
        Exit::Http,
        Exit::Proxy,
        Exit::Negotiation,
        Exit::Auth,
        Exit::CryptoBinding,
        Exit::ConnectionLost,
        Exit::PppNegotiation,
        Exit::PppdEnvironment,
        Exit::ConnectPhase,
        Exit::PppdLimit,
        Exit::ListenerMismatch,
        Exit::Interrupted,
    ];
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// Exit code of a connect-phase failure category.
pub fn for_category(c: FailureCategory) -> Exit {
    match c {
        FailureCategory::Config => Exit::Usage,
        FailureCategory::Resolve => Exit::Resolve,
        FailureCategory::Connect => Exit::Connect,
        FailureCategory::Tls => Exit::Tls,
        FailureCategory::Trust => Exit::Trust,
        FailureCategory::Http => Exit::Http,
        FailureCategory::Proxy => Exit::Proxy,
        FailureCategory::Negotiation => Exit::Negotiation,
        FailureCategory::Auth => Exit::Auth,
        FailureCategory::CryptoBinding => Exit::CryptoBinding,
        FailureCategory::Io => Exit::ConnectionLost,
        // The host route to the server (pppd's exit 8 too): a connect-phase failure.
        FailureCategory::Route => Exit::Connect,
        // FailureCategory is non-exhaustive: a category added later is still a failure.
        _ => Exit::Internal,
    }
}

/// Short lowercase name of a category (JSON output).
pub fn category_name(c: FailureCategory) -> &'static str {
    match c {
        FailureCategory::Config => "config",
        FailureCategory::Resolve => "resolve",
        FailureCategory::Connect => "connect",
        FailureCategory::Tls => "tls",
        FailureCategory::Trust => "trust",
        FailureCategory::Http => "http",
        FailureCategory::Proxy => "proxy",
        FailureCategory::Negotiation => "negotiation",
        FailureCategory::Auth => "auth",
        FailureCategory::CryptoBinding => "crypto-binding",
        FailureCategory::Io => "io",
        FailureCategory::Route => "route",
        _ => "other",
    }
}

/// Exit code for pppd's exit status (pppd(8) "EXIT STATUS"). `interrupted`: this program
/// forwarded SIGINT/SIGTERM/SIGHUP to pppd.
pub fn for_pppd_status(status: i32, interrupted: bool) -> Exit {
    match status {
        0 => Exit::Ok,
        // EXIT_USER_REQUEST: pppd got SIGINT/SIGTERM, from us or from someone else.
        5 => Exit::Ok,
        1 => Exit::Internal,
        2 => Exit::Usage,
        // not root, no kernel support, lock failed, open failed, pty command, init failed
        3 | 4 | 6 | 7 | 9 | 18 => Exit::PppdEnvironment,
        8 => Exit::ConnectPhase,
        10 | 17 => Exit::PppNegotiation,
        // EXIT_PEER_AUTH_FAILED: the plugin reports an untrusted server certificate with it
        // (with `noauth` pppd does not authenticate the peer itself).
        11 => Exit::Trust,
        12 | 13 | 14 | 20 => Exit::PppdLimit,
        15 | 16 => {
            if interrupted {
                Exit::Ok
            } else {
                Exit::ConnectionLost
            }
        }
        // EXIT_AUTH_TOPEER_FAILED, EXIT_CNID_AUTH_FAILED
        19 | 21 => Exit::Auth,
        _ => Exit::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_stable() {
        let mut seen = std::collections::HashSet::new();
        for e in Exit::ALL {
            assert!(seen.insert(e.code()), "{e:?} duplicates a code");
            assert!(!e.meaning().is_empty());
        }
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Resolve.code(), 3);
        assert_eq!(Exit::Connect.code(), 4);
        assert_eq!(Exit::Tls.code(), 5);
        assert_eq!(Exit::Trust.code(), 6);
        assert_eq!(Exit::Http.code(), 7);
        assert_eq!(Exit::Proxy.code(), 8);
        assert_eq!(Exit::Negotiation.code(), 9);
        assert_eq!(Exit::ListenerMismatch.code(), 17);
    }

    #[test]
    fn categories_map() {
        assert_eq!(for_category(FailureCategory::Resolve), Exit::Resolve);
        assert_eq!(for_category(FailureCategory::Connect), Exit::Connect);
        assert_eq!(for_category(FailureCategory::Tls), Exit::Tls);
        assert_eq!(for_category(FailureCategory::Trust), Exit::Trust);
        assert_eq!(for_category(FailureCategory::Http), Exit::Http);
        assert_eq!(for_category(FailureCategory::Proxy), Exit::Proxy);
        assert_eq!(
            for_category(FailureCategory::Negotiation),
            Exit::Negotiation
        );
        assert_eq!(for_category(FailureCategory::Config), Exit::Usage);
        assert_eq!(for_category(FailureCategory::Io), Exit::ConnectionLost);
        assert_eq!(category_name(FailureCategory::Trust), "trust");
    }

    #[test]
    fn pppd_statuses_map() {
        assert_eq!(for_pppd_status(0, false), Exit::Ok);
        assert_eq!(for_pppd_status(5, true), Exit::Ok);
        assert_eq!(for_pppd_status(2, false), Exit::Usage);
        assert_eq!(for_pppd_status(3, false), Exit::PppdEnvironment);
        assert_eq!(for_pppd_status(4, false), Exit::PppdEnvironment);
        assert_eq!(for_pppd_status(8, false), Exit::ConnectPhase);
        assert_eq!(for_pppd_status(10, false), Exit::PppNegotiation);
        assert_eq!(for_pppd_status(11, false), Exit::Trust);
        assert_eq!(for_pppd_status(15, false), Exit::ConnectionLost);
        assert_eq!(for_pppd_status(16, true), Exit::Ok);
        assert_eq!(for_pppd_status(19, false), Exit::Auth);
        assert_eq!(for_pppd_status(99, false), Exit::Internal);
        assert_eq!(for_pppd_status(-1, false), Exit::Internal);
    }
}
