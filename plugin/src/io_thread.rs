//! The I/O thread: runs sstp-tunnel's bridge (SSTP data packets <-> PPP frames as L2TP data
//! datagrams to the kernel's PPPoL2TP session, or async HDLC on the pty master) and turns its events into queued log lines and, when the call ends, the pppd exit
//! status. It never calls pppd: everything goes through [`Shared`].

use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sstp_proto::client::{Client, Event};
use sstp_tunnel::bridge::{self, BridgeEnd, BridgeEvent, BridgeOptions, ControlReceiver};
use sstp_tunnel::l2tp::KernelSide;
use sstp_tunnel::Established;

use crate::diag;
use crate::host::{ExitStatus, Level};
use crate::queue::Shared;
use crate::settings::LogLevel;

/// The I/O thread's end of the channel to pppd.
pub enum IoLine {
    /// pty master.
    Pty(OwnedFd),
    /// The plugin's UDP socket, and the kernel tunnel's sockets: dropped when the bridge ends,
    /// which deletes the tunnel and its PPP session, so pppd sees the hang-up as with a pty.
    L2tp(bridge::L2tpLine, KernelSide),
}

/// Everything the I/O thread owns. Dropping it closes the TLS connection and the line (pty
/// master, or the L2TP sockets).
pub struct IoThread {
    /// The HTTPS connection after the SSTP handshake.
    pub est: Established,
    /// The SSTP client, past CALL_CONNECT_ACK.
    pub client: Client,
    /// The channel to pppd.
    pub line: IoLine,
    /// Commands from pppd's main thread (HLAK, disconnect).
    pub control: ControlReceiver,
    /// Shared with the main thread.
    pub shared: Arc<Shared>,
    /// Plugin verbosity.
    pub log_level: LogLevel,
}

/// Which plugin log level a bridge log line needs, and pppd's level for it.
fn map_level(l: bridge::Level) -> (LogLevel, Level) {
    match l {
        bridge::Level::Error => (LogLevel::ERROR, Level::Error),
        bridge::Level::Warn => (LogLevel::WARN, Level::Warn),
        bridge::Level::Notice => (LogLevel::NOTICE, Level::Notice),
        bridge::Level::Info => (LogLevel::INFO, Level::Info),
        _ => (LogLevel::DEBUG, Level::Debug),
    }
}

impl IoThread {
    /// The thread body. A panic is caught: it is reported as a fatal error (pppd exits with
    /// status 1), and unwinding closes the pty master so pppd hangs up.
    pub fn run(self) {
        let shared = self.shared.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || self.pump()));
        if r.is_err() {
            let msg = format!(
                "sstp-rs: internal error in the I/O thread: {}",
                crate::guard::last_panic_message()
            );
            shared.log(Level::Error, msg.clone());
            shared.set_failure(ExitStatus::FatalError, msg);
        }
        // After the failure is recorded: the main thread waits for this before reading it.
        shared.finished.store(true, Ordering::SeqCst);
    }

    fn pump(self) {
        crate::guard::fault_point("io-thread");
        let IoThread {
            est,
            client,
            line,
            control,
            shared,
            log_level,
        } = self;
        let (line, kernel) = match line {
            IoLine::Pty(master) => (bridge::Line::Pty(master), None),
            IoLine::L2tp(l, k) => (bridge::Line::L2tp(l), Some(k)),
        };
        let mut connected_at: Option<Instant> = None;
        // What the client bound to, for the binding-rejected message (event 6).
        let seen = (est.cert.clone(), est.peer_addr, est.via_proxy);
        let report = {
            let mut sink = |ev: BridgeEvent| match ev {
                BridgeEvent::Log { level, message } => {
                    let (min, lvl) = map_level(level);
                    if log_level >= min {
                        shared.log(lvl, format!("sstp-rs: {message}"));
                    }
                }
                // Before the bridge closes the master and the socket: pppd's fork children
                // must not close those numbers once they may be reused.
                BridgeEvent::ClosingFds => crate::channel::forget_io_fds(),
                BridgeEvent::Session(Event::CallConnected { protocol }) => {
                    connected_at = Some(Instant::now());
                    if log_level >= LogLevel::NOTICE {
                        shared.log(
                            Level::Notice,
                            format!("sstp-rs: SSTP call connected (crypto binding {protocol})"),
                        );
                    }
                }
                _ => {}
            };
            bridge::run(
                est,
                client,
                line,
                control,
                &mut sink,
                &BridgeOptions::default(),
            )
        };
        // The kernel tunnel goes last: pppd's fork children must not close its numbers from
        // now on; deleting it unregisters pppd's PPP channel (pppd: "Modem hangup").
        if let Some(k) = kernel {
            crate::channel::forget_io_fds();
            drop(k);
        }
        let since: Option<Duration> = connected_at.map(|t| t.elapsed());
        match &report.end {
            BridgeEnd::Call(r) => {
                if let Some(status) = diag::exit_for_close(r, since) {
                    if diag::looks_like_binding_reject(r, since) {
                        let (cert, peer, via_proxy) = &seen;
                        shared.log(
                            Level::Error,
                            format!(
                                "sstp-rs: {}",
                                sstp_tunnel::binding_rejected_message(cert, *peer, *via_proxy)
                            ),
                        );
                    }
                    shared.set_failure(status, r.to_string());
                }
            }
            BridgeEnd::TransportClosed => shared.set_failure(
                ExitStatus::Hangup,
                "the server closed the connection without SSTP teardown".into(),
            ),
            BridgeEnd::Error(e) => shared.set_failure(ExitStatus::Hangup, e.to_string()),
            _ => shared.set_failure(ExitStatus::Hangup, "SSTP session ended".into()),
        }
        if log_level >= LogLevel::DEBUG {
            let c = &report.counters;
            shared.log(
                Level::Debug,
                format!(
                    "sstp-rs: session counters: TLS in {} out {} bytes, line in {} out {} bytes, \
                     frames to server {} from server {}, refused {}, polls {}",
                    c.tls_bytes_in,
                    c.tls_bytes_out,
                    c.pty_bytes_in,
                    c.pty_bytes_out,
                    c.frames_to_server,
                    c.frames_from_server,
                    c.frames_refused,
                    c.polls
                ),
            );
        }
    }
}
