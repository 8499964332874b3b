//! The host route to the server (Windows events 14 and 15), over rtnetlink.
//!
//! When the tunnel takes the default route, the TLS connection must keep its way out: before
//! the tunnel comes up the caller asks the kernel how it reaches the TCP peer now
//! ([`lookup`], RTM_GETROUTE: gateway, device, table) and pins that as a host route (/32 or
//! /128, [`add`]); at the end it deletes exactly that route ([`InstalledRoute::remove`]).
//!
//! Routes we add carry the protocol [`RTPROT_SSTP_RS`] (`ip route show proto 83`), so a route
//! left behind by a killed pppd is recognisable, and a delete can only ever match a route we
//! added (the kernel compares a non-zero protocol on RTM_DELROUTE). A route that already
//! exists (EEXIST) is left alone and not deleted later.
//!
//! Messages are encoded by hand ([`encode_get`], [`encode_route`]) and parsed by
//! [`parse_reply`]; the socket goes through `nix` in `sys.rs`. Nothing here knows pppd.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// `rtm_protocol` of the routes sstp-rs adds (`ip route show proto 83`).
pub const RTPROT_SSTP_RS: u8 = 83;

const NLMSG_HDR: usize = 16;
const RTMSG: usize = 12;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const RTA_VIA: u16 = 18;
const RTA_SRC: u16 = 2;
const RTA_IP_PROTO: u16 = 27;
const RTA_SPORT: u16 = 28;
const RTA_DPORT: u16 = 29;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const RTN_LOCAL: u8 = 2;
const RT_TABLE_MAIN: u32 = 254;
const RTNH_F_ONLINK: u32 = 4;
const RTM_F_LOOKUP_TABLE: u32 = 0x1000;
/// Bound on each netlink exchange.
pub const NETLINK_TIMEOUT: Duration = Duration::from_secs(2);

/// How the kernel reaches an address now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The next hop, if the address is not on a directly connected network.
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: u32,
    /// Routing table the route came from.
    pub table: u32,
    /// `rtm_type` (1 unicast, 2 local, ...).
    pub kind: u8,
}

/// A host route: destination (/32 or /128) via `gateway` on `oif` in `table`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRoute {
    /// The TCP peer (server or proxy).
    pub dst: IpAddr,
    /// Next hop (none: on-link).
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: u32,
    /// Routing table.
    pub table: u32,
    /// The gateway is on the device without a connected network (`onlink`, as in the
    /// `default via GW dev DEV onlink` of some hosting providers).
    pub onlink: bool,
}

impl fmt::Display for HostRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = if self.dst.is_ipv4() { 32 } else { 128 };
        write!(f, "{}/{len}", self.dst)?;
        if let Some(g) = self.gateway {
            write!(f, " via {g}")?;
        }
        write!(f, " dev {}", crate::sys::if_name(self.oif))?;
        if self.table != RT_TABLE_MAIN {
            write!(f, " table {}", self.table)?;
        }
        if self.onlink {
            f.write_str(" onlink")?;
        }
        Ok(())
    }
}

/// What [`add`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pinned {
    /// We added the route; remove it at the end.
    Added(InstalledRoute),
    /// A route for this destination existed already: left alone, not ours to remove.
    Existed(HostRoute),
    /// The peer is a local address: no host route needed.
    Local,
}

/// A route this process added (deleted by [`InstalledRoute::remove`]).
#[derive(Debug, PartialEq, Eq)]
pub struct InstalledRoute(pub HostRoute);

impl InstalledRoute {
    /// Deletes exactly this route (destination, gateway, device, table, our protocol).
    pub fn remove(self) -> io::Result<HostRoute> {
        let msg = encode_route(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, 2, &self.0);
        let reply = crate::sys::netlink_route_exchange(&msg, NETLINK_TIMEOUT)?;
        match parse_reply(&reply, 2)? {
            Reply::Ack => Ok(self.0),
            Reply::Route(_) => Err(io::Error::other("unexpected route reply to RTM_DELROUTE")),
        }
    }
}

/// Why the host route could not be pinned.
#[derive(Debug)]
pub enum RouteFailure {
    /// The kernel's route lookup for the peer failed or gave nothing usable (event 15).
    Lookup(io::Error),
    /// The kernel refused the host route (event 14).
    Add(HostRoute, io::Error),
}

impl RouteFailure {
    /// The [`crate::TunnelError`] for this failure; `proxy`: the peer is the HTTP proxy.
    pub fn into_error(self, peer: IpAddr, proxy: bool) -> crate::TunnelError {
        let (route, e) = match self {
            RouteFailure::Lookup(e) => (None, e),
            RouteFailure::Add(r, e) => (Some(r.to_string()), e),
        };
        crate::TunnelError::Route {
            peer: peer.to_canonical(),
            proxy,
            route,
            detail: e.to_string(),
        }
    }
}

/// The TCP connection a route is looked up for: its local and peer socket addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Our end (source address and port).
    pub local: SocketAddr,
    /// The peer (server or proxy).
    pub peer: SocketAddr,
}

impl Flow {
    /// The connection `sock` is: its own ends (getsockname, getpeername). Through a proxy the
    /// peer is the proxy, so that is where the host route goes.
    pub fn of(sock: &std::net::TcpStream) -> io::Result<Flow> {
        Ok(Flow {
            local: sock.local_addr()?,
            peer: sock.peer_addr()?,
        })
    }
}

/// Asks the kernel how it routes `flow` now (RTM_GETROUTE with the destination, source, TCP
/// and both ports, so policy rules that select by them are followed, as for the connection).
pub fn lookup(flow: Flow) -> io::Result<Lookup> {
    let msg = encode_get(1, flow);
    let reply = crate::sys::netlink_route_exchange(&msg, NETLINK_TIMEOUT)?;
    match parse_reply(&reply, 1)? {
        Reply::Route(l) => Ok(l),
        Reply::Ack => Err(io::Error::other("the kernel answered without a route")),
    }
}

/// Pins a host route to `flow.peer` via the route the kernel uses for the connection now.
pub fn pin(flow: Flow) -> Result<Pinned, RouteFailure> {
    let dst = flow.peer.ip().to_canonical();
    let l = lookup(flow).map_err(RouteFailure::Lookup)?;
    if l.kind == RTN_LOCAL || dst.is_loopback() {
        return Ok(Pinned::Local);
    }
    let route = host_route(dst, &l).map_err(RouteFailure::Lookup)?;
    add(route)
}

/// The host route a lookup result gives, or why it cannot be used.
pub fn host_route(dst: IpAddr, l: &Lookup) -> io::Result<HostRoute> {
    if l.kind != RTN_UNICAST {
        return Err(io::Error::other(format!(
            "the kernel's route to it is not a unicast route (type {})",
            l.kind
        )));
    }
    if l.oif == 0 {
        return Err(io::Error::other("the kernel's route to it names no device"));
    }
    if l.gateway.is_some_and(|g| g.is_ipv4() != dst.is_ipv4()) {
        return Err(io::Error::other(
            "the kernel's route to it uses a gateway of the other address family",
        ));
    }
    Ok(HostRoute {
        dst,
        gateway: l.gateway,
        oif: l.oif,
        table: l.table,
        onlink: false,
    })
}

/// Adds `route` (create, exclusive). EEXIST: an identical or other host route for the
/// destination is there already; it is left alone. ENETUNREACH for a gateway the kernel itself
/// routes through on that device: the gateway is `onlink` there, and the route is added so.
pub fn add(route: HostRoute) -> Result<Pinned, RouteFailure> {
    match add_once(route) {
        Err(RouteFailure::Add(r, e))
            if matches!(e.raw_os_error(), Some(libc::ENETUNREACH | libc::EINVAL))
                && r.gateway.is_some()
                && !r.onlink =>
        {
            // Report the kernel's answer to the plain route if `onlink` does not help either.
            add_once(HostRoute {
                onlink: true,
                ..r.clone()
            })
            .map_err(|_| RouteFailure::Add(r, e))
        }
        other => other,
    }
}

fn add_once(route: HostRoute) -> Result<Pinned, RouteFailure> {
    let msg = encode_route(
        RTM_NEWROUTE,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        3,
        &route,
    );
    let r =
        crate::sys::netlink_route_exchange(&msg, NETLINK_TIMEOUT).and_then(|b| parse_reply(&b, 3));
    match r {
        Ok(_) => Ok(Pinned::Added(InstalledRoute(route))),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(Pinned::Existed(route)),
        Err(e) => Err(RouteFailure::Add(route, e)),
    }
}

fn push_nlmsghdr(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) {
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched by finish()
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
}

/// rtmsg from `[family, dst_len, table, protocol, scope, type]` and `rtm_flags`.
fn push_rtmsg(buf: &mut Vec<u8>, f: [u8; 6], flags: u32) {
    buf.extend_from_slice(&[f[0], f[1], 0, 0, f[2], f[3], f[4], f[5]]);
    buf.extend_from_slice(&flags.to_ne_bytes());
}

fn push_attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

fn finish(mut buf: Vec<u8>) -> Vec<u8> {
    let len = buf.len() as u32;
    buf[0..4].copy_from_slice(&len.to_ne_bytes());
    buf
}

fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

fn family(a: IpAddr) -> (u8, u8) {
    match a {
        IpAddr::V4(_) => (libc::AF_INET as u8, 32),
        IpAddr::V6(_) => (libc::AF_INET6 as u8, 128),
    }
}

/// RTM_GETROUTE for a TCP flow (what `ip route get DST from SRC ipproto tcp sport S dport D`
/// sends). An IPv4-mapped IPv6 socket address is looked up as IPv4.
pub fn encode_get(seq: u32, flow: Flow) -> Vec<u8> {
    let dst = flow.peer.ip().to_canonical();
    let src = flow.local.ip().to_canonical();
    let (fam, len) = family(dst);
    let mut b = Vec::with_capacity(96);
    push_nlmsghdr(&mut b, RTM_GETROUTE, NLM_F_REQUEST, seq);
    // RTM_F_LOOKUP_TABLE: report the table the route came from (else IPv4 says "main").
    push_rtmsg(&mut b, [fam, len, 0, 0, 0, 0], RTM_F_LOOKUP_TABLE);
    push_attr(&mut b, RTA_DST, &addr_bytes(dst));
    if src.is_ipv4() == dst.is_ipv4() && !src.is_unspecified() {
        push_attr(&mut b, RTA_SRC, &addr_bytes(src));
    }
    push_attr(&mut b, RTA_IP_PROTO, &[libc::IPPROTO_TCP as u8]);
    push_attr(&mut b, RTA_SPORT, &flow.local.port().to_be_bytes());
    push_attr(&mut b, RTA_DPORT, &flow.peer.port().to_be_bytes());
    finish(b)
}

/// RTM_NEWROUTE / RTM_DELROUTE for a host route with our protocol.
pub fn encode_route(kind: u16, flags: u16, seq: u32, r: &HostRoute) -> Vec<u8> {
    let (fam, len) = family(r.dst);
    let scope = if r.gateway.is_some() {
        RT_SCOPE_UNIVERSE
    } else {
        RT_SCOPE_LINK
    };
    let table8 = if r.table < 256 { r.table as u8 } else { 252 }; // RT_TABLE_COMPAT
    let mut b = Vec::with_capacity(96);
    push_nlmsghdr(&mut b, kind, flags, seq);
    let flags = if r.onlink { RTNH_F_ONLINK } else { 0 };
    push_rtmsg(
        &mut b,
        [fam, len, table8, RTPROT_SSTP_RS, scope, RTN_UNICAST],
        flags,
    );
    push_attr(&mut b, RTA_DST, &addr_bytes(r.dst));
    if let Some(g) = r.gateway {
        push_attr(&mut b, RTA_GATEWAY, &addr_bytes(g));
    }
    push_attr(&mut b, RTA_OIF, &r.oif.to_ne_bytes());
    push_attr(&mut b, RTA_TABLE, &r.table.to_ne_bytes());
    finish(b)
}

/// A parsed kernel answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// NLMSG_ERROR with error 0 (or NLMSG_DONE).
    Ack,
    /// RTM_NEWROUTE (the answer to RTM_GETROUTE).
    Route(Lookup),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed netlink reply: {what}"),
    )
}

/// Parses the kernel's answer to request `seq`: an acknowledgement, a route, or the kernel's
/// error as an `io::Error` with its errno (so its text is the kernel's).
pub fn parse_reply(buf: &[u8], seq: u32) -> io::Result<Reply> {
    let mut at = 0;
    while at + NLMSG_HDR <= buf.len() {
        let len = u32_at(buf, at).ok_or_else(|| bad("header"))? as usize;
        let kind = u16_at(buf, at + 4).ok_or_else(|| bad("header"))?;
        let mseq = u32_at(buf, at + 8).ok_or_else(|| bad("header"))?;
        if len < NLMSG_HDR || at + len > buf.len() {
            return Err(bad("length"));
        }
        let body = &buf[at + NLMSG_HDR..at + len];
        at += len.next_multiple_of(4);
        if mseq != seq {
            continue;
        }
        match kind {
            NLMSG_ERROR => {
                let code = u32_at(body, 0).ok_or_else(|| bad("error"))? as i32;
                return if code == 0 {
                    Ok(Reply::Ack)
                } else {
                    Err(io::Error::from_raw_os_error(-code))
                };
            }
            NLMSG_DONE => return Ok(Reply::Ack),
            RTM_NEWROUTE => return parse_route(body).map(Reply::Route),
            _ => continue,
        }
    }
    Err(bad("no answer to the request"))
}

fn parse_route(body: &[u8]) -> io::Result<Lookup> {
    if body.len() < RTMSG {
        return Err(bad("rtmsg"));
    }
    let fam = body[0];
    let mut l = Lookup {
        gateway: None,
        oif: 0,
        table: u32::from(body[4]),
        kind: body[7],
    };
    let mut at = RTMSG;
    while at + 4 <= body.len() {
        let len = u16_at(body, at).ok_or_else(|| bad("attribute"))? as usize;
        let kind = u16_at(body, at + 2).ok_or_else(|| bad("attribute"))? & 0x3fff;
        if len < 4 || at + len > body.len() {
            return Err(bad("attribute length"));
        }
        let data = &body[at + 4..at + len];
        match kind {
            RTA_OIF => l.oif = u32_at(data, 0).ok_or_else(|| bad("RTA_OIF"))?,
            RTA_TABLE => l.table = u32_at(data, 0).ok_or_else(|| bad("RTA_TABLE"))?,
            RTA_GATEWAY => l.gateway = Some(ip_from(fam, data).ok_or_else(|| bad("RTA_GATEWAY"))?),
            RTA_VIA => return Err(io::Error::other(
                "the kernel's route to it goes via a gateway of another address family (RTA_VIA)",
            )),
            _ => {}
        }
        at += len.next_multiple_of(4);
    }
    Ok(l)
}

fn ip_from(fam: u8, d: &[u8]) -> Option<IpAddr> {
    if i32::from(fam) == libc::AF_INET {
        let o: [u8; 4] = d.get(..4)?.try_into().ok()?;
        Some(IpAddr::from(o))
    } else {
        let o: [u8; 16] = d.get(..16)?.try_into().ok()?;
        Some(IpAddr::from(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::from(a)
    }

    #[test]
    fn get_request_layout() {
        let flow = Flow {
            local: "192.0.2.1:40000".parse().unwrap(),
            peer: "[::ffff:203.0.113.1]:443".parse().unwrap(),
        };
        let m = encode_get(7, flow);
        let mut want = Vec::new();
        want.extend_from_slice(&68u32.to_ne_bytes());
        want.extend_from_slice(&26u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(&7u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[2, 32, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&0x1000u32.to_ne_bytes());
        for (kind, data) in [
            (RTA_DST, &[203u8, 0, 113, 1][..]),
            (RTA_SRC, &[192, 0, 2, 1]),
            (RTA_IP_PROTO, &[6]),
            (RTA_SPORT, &[0x9c, 0x40]),
            (RTA_DPORT, &[0x01, 0xbb]),
        ] {
            want.extend_from_slice(&(4 + data.len() as u16).to_ne_bytes());
            want.extend_from_slice(&kind.to_ne_bytes());
            want.extend_from_slice(data);
            want.resize(want.len().next_multiple_of(4), 0);
        }
        assert_eq!(m, want);
    }

    #[test]
    fn get_request_v6_without_source() {
        let flow = Flow {
            local: "[::]:1".parse().unwrap(),
            peer: "[2001:db8::5]:443".parse().unwrap(),
        };
        let m = encode_get(1, flow);
        assert_eq!(&m[16..18], &[10, 128]);
        assert_eq!(u16_at(&m, 28), Some(20));
        assert_eq!(u16_at(&m, 30), Some(RTA_DST));
        assert_eq!(u16_at(&m, 50), Some(RTA_IP_PROTO));
        assert_eq!(m.len(), 16 + 12 + 20 + 8 + 8 + 8);
    }

    #[test]
    fn new_route_layout_v4() {
        let r = HostRoute {
            dst: v4([203, 0, 113, 5]),
            gateway: Some(v4([192, 0, 2, 2])),
            oif: 3,
            table: 254,
            onlink: false,
        };
        let m = encode_route(RTM_NEWROUTE, 0x605, 9, &r);
        let on = encode_route(
            RTM_NEWROUTE,
            0x605,
            9,
            &HostRoute {
                onlink: true,
                ..r.clone()
            },
        );
        assert_eq!(u32_at(&on, 24), Some(RTNH_F_ONLINK));
        assert_eq!(u32_at(&m, 24), Some(0));
        assert_eq!(m.len(), 16 + 12 + 8 + 8 + 8 + 8);
        assert_eq!(u32_at(&m, 0), Some(m.len() as u32));
        assert_eq!(u16_at(&m, 4), Some(24));
        assert_eq!(u16_at(&m, 6), Some(0x605));
        // rtmsg: AF_INET, /32, table main, proto 83, scope universe, unicast
        assert_eq!(&m[16..24], &[2, 32, 0, 0, 254, 83, 0, 1]);
        assert_eq!(&m[32..36], &[203, 0, 113, 5]);
        assert_eq!(u16_at(&m, 28), Some(8));
        assert_eq!(u16_at(&m, 30), Some(RTA_DST));
        assert_eq!(u16_at(&m, 38), Some(RTA_GATEWAY));
        assert_eq!(&m[40..44], &[192, 0, 2, 2]);
        assert_eq!(u16_at(&m, 46), Some(RTA_OIF));
        assert_eq!(u32_at(&m, 48), Some(3));
        assert_eq!(u16_at(&m, 54), Some(RTA_TABLE));
        assert_eq!(u32_at(&m, 56), Some(254));
    }

    #[test]
    fn on_link_v6_route_has_link_scope_and_no_gateway() {
        let r = HostRoute {
            dst: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            gateway: None,
            oif: 2,
            table: 1000,
            onlink: false,
        };
        let m = encode_route(RTM_DELROUTE, 5, 1, &r);
        assert_eq!(&m[16..24], &[10, 128, 0, 0, 252, 83, 253, 1]);
        assert_eq!(u16_at(&m, 28), Some(20));
        assert_eq!(m.len(), 16 + 12 + 20 + 8 + 8);
        assert_eq!(u32_at(&m, m.len() - 4), Some(1000));
    }

    fn reply(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        push_nlmsghdr(&mut b, kind, 0, seq);
        b.extend_from_slice(body);
        finish(b)
    }

    #[test]
    fn parses_route_answer() {
        let mut body = Vec::new();
        push_rtmsg(&mut body, [2, 32, 254, 0, 0, RTN_UNICAST], 0);
        push_attr(&mut body, RTA_TABLE, &254u32.to_ne_bytes());
        push_attr(&mut body, RTA_DST, &[10, 1, 2, 3]);
        push_attr(&mut body, RTA_OIF, &4u32.to_ne_bytes());
        push_attr(&mut body, RTA_GATEWAY, &[10, 0, 0, 1]);
        push_attr(&mut body, 0x8000 | 25, &[0; 5]); // unknown nested attr, padded
        let r = parse_reply(&reply(RTM_NEWROUTE, 1, &body), 1).unwrap();
        assert_eq!(
            r,
            Reply::Route(Lookup {
                gateway: Some(v4([10, 0, 0, 1])),
                oif: 4,
                table: 254,
                kind: RTN_UNICAST
            })
        );
    }

    #[test]
    fn parses_error_and_ack_and_skips_other_sequences() {
        let mut e = (-libc::ENETUNREACH).to_ne_bytes().to_vec();
        e.extend_from_slice(&[0; 16]);
        let mut buf = reply(NLMSG_ERROR, 99, &0i32.to_ne_bytes());
        buf.extend(reply(NLMSG_ERROR, 4, &e));
        let err = parse_reply(&buf, 4).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENETUNREACH));
        assert_eq!(parse_reply(&buf, 99).unwrap(), Reply::Ack);
        assert!(parse_reply(&buf, 5).is_err());
    }

    #[test]
    fn rejects_truncated_and_via_answers() {
        let mut b = reply(NLMSG_ERROR, 1, &0i32.to_ne_bytes());
        b[0] = 200;
        assert_eq!(
            parse_reply(&b, 1).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut body = Vec::new();
        push_rtmsg(&mut body, [2, 32, 254, 0, 0, RTN_UNICAST], 0);
        push_attr(
            &mut body,
            RTA_VIA,
            &[10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        let e = parse_reply(&reply(RTM_NEWROUTE, 1, &body), 1).unwrap_err();
        assert!(e.to_string().contains("RTA_VIA"), "{e}");
    }

    #[test]
    fn unusable_lookups_are_refused() {
        let dst = v4([198, 51, 100, 7]);
        let ok = Lookup {
            gateway: Some(v4([192, 0, 2, 2])),
            oif: 2,
            table: 254,
            kind: RTN_UNICAST,
        };
        assert_eq!(host_route(dst, &ok).unwrap().oif, 2);
        let blackhole = Lookup {
            kind: 6,
            ..ok.clone()
        };
        assert!(host_route(dst, &blackhole).is_err());
        let nodev = Lookup {
            oif: 0,
            ..ok.clone()
        };
        assert!(host_route(dst, &nodev).is_err());
        let v6gw = Lookup {
            gateway: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ..ok
        };
        assert!(host_route(dst, &v6gw).is_err());
    }

    #[test]
    fn failure_messages_say_what_failed_and_what_to_check() {
        let peer: IpAddr = "::ffff:203.0.113.1".parse().unwrap();
        let e = RouteFailure::Lookup(io::Error::from_raw_os_error(libc::ENETUNREACH))
            .into_error(peer, false);
        assert_eq!(e.category(), crate::FailureCategory::Route);
        let s = e.to_string();
        for want in [
            "the route to the VPN server 203.0.113.1 could not be set",
            "Network is unreachable",
            "routed into its own tunnel",
            "check `ip route get 203.0.113.1`",
        ] {
            assert!(s.contains(want), "{want:?} not in {s}");
        }
        let r = HostRoute {
            dst: "203.0.113.1".parse().unwrap(),
            gateway: Some(v4([192, 0, 2, 2])),
            oif: 1,
            table: 254,
            onlink: false,
        };
        let e =
            RouteFailure::Add(r, io::Error::from_raw_os_error(libc::EPERM)).into_error(peer, true);
        let s = e.to_string();
        for want in [
            "the route to the proxy 203.0.113.1 could not be added (203.0.113.1/32 via 192.0.2.2 dev ",
            "Operation not permitted",
            "CAP_NET_ADMIN",
        ] {
            assert!(s.contains(want), "{want:?} not in {s}");
        }
    }

    /// The real kernel answers the lookup for a loopback connection: a local route on `lo`.
    #[test]
    fn kernel_lookup_of_a_loopback_flow() {
        let flow = Flow {
            local: "127.0.0.1:40000".parse().unwrap(),
            peer: "127.0.0.1:443".parse().unwrap(),
        };
        let l = lookup(flow).expect("RTM_GETROUTE on this machine");
        assert_eq!(l.kind, RTN_LOCAL, "{l:?}");
        assert_eq!(crate::sys::if_name(l.oif), "lo");
        assert_eq!(pin(flow).unwrap(), Pinned::Local);
    }
}
