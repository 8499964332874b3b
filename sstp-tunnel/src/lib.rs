//! I/O driver around `sstp-proto`: TCP, TLS, HTTP proxy and the SSTP handshake.
//!
//! [`connect()`] runs the blocking connect phase (each step bounded by a timeout) and returns an
//! [`Established`] HTTPS connection; errors are [`TunnelError`]s whose `Display` says what
//! happened and what to check, and whose [`TunnelError::category`] the plugin maps to exit codes.
#![deny(missing_docs)]

pub mod bridge;
pub mod cancel;
pub mod cert;
pub mod config;
pub mod connect;
pub mod error;
pub mod ipc;
pub mod l2tp;
pub mod proxy_auth;
pub mod route;
mod sys;
mod tls;

pub use bridge::{
    control_channel, negotiate, negotiate_cancellable, BridgeEnd, BridgeEvent, BridgeOptions,
    BridgeReport, Clock, Command, ControlReceiver, ControlSender, Counters, EventSink, L2tpLine,
    Level, Line, SystemClock,
};
pub use cancel::Cancel;
pub use cert::{CertificateInfo, Eku};
pub use config::{
    parse_host_port, CertPin, IpFamily, ParseError, ProxyConfig, ProxyCredentials, TlsVersion,
    TunnelConfig,
};
pub use connect::{
    connect, connect_cancellable, connect_with, Established, NoProxyAuth, PhaseTimings,
    ProxyAuthStep, ProxyAuthenticator,
};
pub use error::{
    binding_rejected_message, ConnectAttempt, ConnectFailure, FailureCategory, TlsHint, TrustError,
    TrustFailureKind, TunnelError,
};
pub use proxy_auth::StandardProxyAuth;
pub use sys::set_notsent_lowat;
