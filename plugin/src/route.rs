//! pppd glue of the host route to the server (Windows events 14/15): when pppd will move the
//! default route into the tunnel (`defaultroute`, `replacedefaultroute`, `defaultroute6`), the
//! channel's connect pins a host route to the TCP peer (server, or proxy) via the route the
//! kernel uses for it now, before LCP/IPCP even start; disconnect/cleanup/exit remove exactly
//! that route. Each `persist` cycle pins and removes its own. The netlink work is
//! `sstp_tunnel::route`.

use std::net::{IpAddr, TcpStream};

use sstp_tunnel::route::Flow;
use std::sync::Mutex;

use sstp_tunnel::route::{self, InstalledRoute, Pinned};
use sstp_tunnel::TunnelError;

use crate::host::{self, DefaultRoutes, Level};

/// The route this process added and still has to remove.
static PINNED: Mutex<Option<InstalledRoute>> = Mutex::new(None);

/// Whether a default route through the tunnel would capture traffic to `peer`.
pub fn needed(d: DefaultRoutes, peer: IpAddr) -> bool {
    match peer.to_canonical() {
        IpAddr::V4(_) => d.v4 || d.replace_v4,
        IpAddr::V6(_) => d.v6,
    }
}

/// The connection the route is for: the socket's own ends (getsockname, getpeername); the
/// peer is the proxy when one carries the connection.
pub fn target(sock: &TcpStream) -> std::io::Result<Flow> {
    Flow::of(sock)
}

/// Pins the host route to `sock`'s peer if pppd will take the default route for its family.
pub fn pin(sock: &TcpStream, via_proxy: bool) -> Result<(), TunnelError> {
    remove();
    let d = host::default_routes();
    let flow = match target(sock) {
        Ok(f) => f,
        Err(e) => {
            if d.v4 || d.replace_v4 || d.v6 {
                return Err(TunnelError::Route {
                    peer: IpAddr::from([0, 0, 0, 0]),
                    proxy: via_proxy,
                    route: None,
                    detail: format!("the connected socket has no peer address: {e}"),
                });
            }
            return Ok(());
        }
    };
    let peer = flow.peer.ip().to_canonical();
    if !needed(d, peer) {
        return Ok(());
    }
    let what = if via_proxy { "proxy" } else { "VPN server" };
    match route::pin(flow) {
        Ok(Pinned::Added(r)) => {
            host::log(
                Level::Notice,
                &format!(
                    "sstp-rs: route to the {what} pinned: {} (proto {})",
                    r.0,
                    route::RTPROT_SSTP_RS
                ),
            );
            *PINNED.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            Ok(())
        }
        Ok(Pinned::Existed(r)) => {
            host::log(
                Level::Info,
                &format!("sstp-rs: a host route to the {what} {peer} exists already; left as it is (wanted {r})"),
            );
            Ok(())
        }
        Ok(Pinned::Local) => Ok(()),
        Err(f) => Err(f.into_error(peer, via_proxy)),
    }
}

/// Removes the route [`pin`] added, if any (idempotent).
pub fn remove() {
    let Some(r) = PINNED.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    let shown = r.0.to_string();
    match r.remove() {
        Ok(_) => host::log(Level::Info, &format!("sstp-rs: route {shown} removed")),
        Err(e) => host::log(
            Level::Warn,
            &format!(
                "sstp-rs: cannot remove the route {shown}: {e}; check `ip route show proto {}`",
                route::RTPROT_SSTP_RS
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn needed_per_family() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let none = DefaultRoutes::default();
        let dr = DefaultRoutes { v4: true, ..none };
        let rep = DefaultRoutes {
            replace_v4: true,
            ..none
        };
        let dr6 = DefaultRoutes { v6: true, ..none };
        assert!(!needed(none, v4));
        assert!(needed(dr, v4) && needed(rep, v4) && needed(rep, mapped));
        assert!(!needed(dr, v6) && !needed(dr6, v4));
        assert!(needed(dr6, v6));
    }

    /// The route goes to the socket's peer: the address the connection was made to (for a
    /// proxied session the proxy's, never the server name's).
    #[test]
    fn target_is_the_tcp_peer() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let flow = target(&s).unwrap();
        assert_eq!(flow.peer, l.local_addr().unwrap());
        assert_eq!(flow.local, s.local_addr().unwrap());
    }
}
