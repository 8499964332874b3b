//! [`negotiate`]: the blocking CALL_CONNECT_REQUEST/ACK step before the data pump.

use std::io;
use std::time::{Duration, Instant};

use sstp_proto::client::{Client, ClientConfig, CloseReason, Event};

use crate::cancel::{self, Cancel, WaitError};
use crate::connect::{phase, wait_err, Established};
use crate::error::TunnelError;

/// Sends CALL_CONNECT_REQUEST on an established connection and waits (bounded by the
/// client's negotiation timer) for CALL_CONNECT_ACK. NAKs are retried by the client as configured.
/// On success the returned client is in Connect-Ack-Received: PPP may start.
pub fn negotiate(est: &mut Established, cfg: &ClientConfig) -> Result<Client, TunnelError> {
    negotiate_cancellable(est, cfg, &Cancel::never())
}

/// [`negotiate`] that stops as soon as `cancel` says so. The stream stays in blocking mode
/// afterwards, as [`crate::connect()`] returned it.
pub fn negotiate_cancellable(
    est: &mut Established,
    cfg: &ClientConfig,
    cancel: &Cancel<'_>,
) -> Result<Client, TunnelError> {
    let sock = est.stream.get_ref();
    sock.set_nonblocking(true)
        .map_err(|e| TunnelError::io("setting the socket to non-blocking mode", e))?;
    let result = negotiate_loop(est, cfg, cancel);
    let _ = est.stream.get_ref().set_nonblocking(false);
    result
}

/// Time allowed to send one batch of control packets.
const CONTROL_WRITE_LIMIT: Duration = Duration::from_secs(10);

fn negotiate_loop(
    est: &mut Established,
    cfg: &ClientConfig,
    cancel: &Cancel<'_>,
) -> Result<Client, TunnelError> {
    const SENDING: &str = "sending SSTP control packets";
    const WAITING: &str = "waiting for CALL_CONNECT_ACK";
    let cancelled = |e: WaitError, during| {
        wait_err(e, phase::NEGOTIATION, during, || {
            TunnelError::io(during, io::ErrorKind::TimedOut.into())
        })
    };
    let mut client = Client::new(cfg.clone(), Instant::now());
    let leftover = std::mem::take(&mut est.leftover);
    if !leftover.is_empty() {
        client.handle_input(Instant::now(), &leftover);
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        out.clear();
        client.poll_transmit(&mut out);
        let write_by = Instant::now() + CONTROL_WRITE_LIMIT;
        cancel::write_all(&mut est.stream, &out, write_by, cancel)
            .map_err(|e| cancelled(e, SENDING))?;
        let mut acknowledged = false;
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::ConnectAcknowledged { .. } => acknowledged = true,
                Event::Closing(r) | Event::Closed(r) => {
                    out.clear();
                    client.poll_transmit(&mut out);
                    let by = Instant::now() + Duration::from_secs(2);
                    let _ = cancel::write_all(&mut est.stream, &out, by, cancel);
                    return Err(TunnelError::Call(r));
                }
                _ => {}
            }
        }
        if acknowledged {
            return Ok(client);
        }
        if client.is_closed() {
            let r = client
                .close_reason()
                .cloned()
                .unwrap_or(CloseReason::LocalAbort);
            return Err(TunnelError::Call(r));
        }
        let now = Instant::now();
        let until = match client.poll_timeout() {
            Some(d) if d <= now => {
                client.handle_timeout(now);
                continue;
            }
            Some(d) => d,
            None => now + cfg.negotiation_timeout,
        };
        match cancel::read_some(&mut est.stream, &mut buf, until, cancel) {
            Ok(0) => {
                return Err(TunnelError::Negotiation(
                    "the server closed the connection before answering CALL_CONNECT_REQUEST".into(),
                ))
            }
            Ok(n) => client.handle_input(Instant::now(), &buf[..n]),
            // The client's timer is due: handled at the top of the loop.
            Err(WaitError::Timeout) => {}
            Err(e) => return Err(cancelled(e, WAITING)),
        }
    }
}
