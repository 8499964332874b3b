//! The plugin's `sstp-ipc-fd` records (decoded into `sstp_cli::link::LinkInfo`, the same
//! decoder `sstp connect` uses) → the dictionaries NetworkManager expects in `SetConfig`,
//! `SetIp4Config` and `SetIp6Config` (the `NM_VPN_PLUGIN_*` key names and D-Bus types of
//! libnm's `nm-vpn-dbus-interface.h`). Pure: the service turns [`Value`]s into D-Bus variants.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sstp_cli::link::LinkInfo;

/// A D-Bus value of the few types these dictionaries use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `s`.
    Str(String),
    /// `u` (IPv4 addresses: network byte order, as libnm stores them).
    U32(u32),
    /// `b`.
    Bool(bool),
    /// `au` (IPv4 address lists).
    U32s(Vec<u32>),
    /// `ay` (an IPv6 address).
    Bytes(Vec<u8>),
}

/// One dictionary, in insertion order.
pub type Dict = Vec<(&'static str, Value)>;

/// An IPv4 address as libnm's `u` (the in-memory network-order bytes read as a native u32).
pub fn ip4_u32(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

/// `Config`: `tundev`, the external `gateway` (the address the tunnel's TLS connection goes
/// to, so that NetworkManager keeps a host route to it), `mtu` when known, `has-ip4`,
/// `has-ip6`.
pub fn generic(l: &LinkInfo, gateway: Option<IpAddr>, mtu: Option<u32>) -> Dict {
    let mut d = Dict::new();
    if let Some(i) = &l.ifname {
        d.push(("tundev", Value::Str(i.clone())));
    }
    match gateway {
        Some(IpAddr::V4(a)) => d.push(("gateway", Value::U32(ip4_u32(a)))),
        Some(IpAddr::V6(a)) => d.push(("gateway", Value::Bytes(a.octets().to_vec()))),
        None => {}
    }
    if let Some(m) = mtu {
        d.push(("mtu", Value::U32(m)));
    }
    d.push(("has-ip4", Value::Bool(ip4(l).is_some())));
    d.push(("has-ip6", Value::Bool(ip6(l).is_some())));
    d
}

/// The server's address when the configured server is an address literal (`host:port`,
/// `[v6]:port`); `None` for a name (the plugin does not report the address it connected to).
pub fn gateway_from_server(server: &str) -> Option<IpAddr> {
    sstp_tunnel::parse_host_port(server, 443)
        .ok()
        .and_then(|(h, _)| h.parse().ok())
}

/// `Ip4Config`: `address`, `prefix` 32, `ptp` (the peer), `dns` — or `None` before IPCP.
pub fn ip4(l: &LinkInfo) -> Option<Dict> {
    let local: Ipv4Addr = l.ip4_local.as_deref()?.parse().ok()?;
    let mut d = vec![
        ("address", Value::U32(ip4_u32(local))),
        ("prefix", Value::U32(32)),
    ];
    if let Some(peer) = l.ip4_peer.as_deref().and_then(|p| p.parse().ok()) {
        d.push(("ptp", Value::U32(ip4_u32(peer))));
    }
    let dns: Vec<u32> = l
        .dns
        .iter()
        .filter_map(|s| s.parse().ok())
        .map(ip4_u32)
        .collect();
    if !dns.is_empty() {
        d.push(("dns", Value::U32s(dns)));
    }
    Some(d)
}

/// `fe80::ID` from an IPV6CP interface identifier `xxxx:xxxx:xxxx:xxxx`.
pub fn link_local(id: &str) -> Option<Ipv6Addr> {
    let groups: Vec<u16> = id
        .split(':')
        .map(|g| u16::from_str_radix(g, 16).ok())
        .collect::<Option<_>>()?;
    let [a, b, c, d] = groups[..] else {
        return None;
    };
    Some(Ipv6Addr::new(0xfe80, 0, 0, 0, a, b, c, d))
}

/// `Ip6Config`: link-local `address` and `ptp` from the interface identifiers, `prefix` 64 —
/// or `None` before IPV6CP.
pub fn ip6(l: &LinkInfo) -> Option<Dict> {
    let local = link_local(l.ip6_local_id.as_deref()?)?;
    let mut d = vec![
        ("address", Value::Bytes(local.octets().to_vec())),
        ("prefix", Value::U32(64)),
    ];
    if let Some(peer) = l.ip6_peer_id.as_deref().and_then(link_local) {
        d.push(("ptp", Value::Bytes(peer.octets().to_vec())));
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> LinkInfo {
        let mut l = LinkInfo::default();
        let recs: Vec<(String, String)> = [
            ("event", "ip-up"),
            ("ifname", "ppp3"),
            ("server", "192.0.2.10:443"),
            ("ip4.local", "10.0.0.2"),
            ("ip4.peer", "10.0.0.1"),
            ("ip4.dns", "10.0.0.53"),
            ("ip4.dns", "bogus"),
            ("ip6.local-id", "0211:22ff:fe33:4455"),
            ("ip6.peer-id", "0000:0000:0000:0001"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        l.apply_ipc(&recs);
        l
    }

    #[test]
    fn config_from_the_plugin_records() {
        let l = link();
        let gw = gateway_from_server(l.server.as_deref().unwrap());
        assert_eq!(gw, Some(IpAddr::V4([192, 0, 2, 10].into())));
        let g = generic(&l, gw, Some(1400));
        assert_eq!(
            g,
            vec![
                ("tundev", Value::Str("ppp3".into())),
                ("gateway", Value::U32(u32::from_ne_bytes([192, 0, 2, 10]))),
                ("mtu", Value::U32(1400)),
                ("has-ip4", Value::Bool(true)),
                ("has-ip6", Value::Bool(true)),
            ]
        );
        assert_eq!(
            ip4(&l).unwrap(),
            vec![
                ("address", Value::U32(u32::from_ne_bytes([10, 0, 0, 2]))),
                ("prefix", Value::U32(32)),
                ("ptp", Value::U32(u32::from_ne_bytes([10, 0, 0, 1]))),
                ("dns", Value::U32s(vec![u32::from_ne_bytes([10, 0, 0, 53])])),
            ]
        );
        let v6 = ip6(&l).unwrap();
        let want: Ipv6Addr = "fe80::211:22ff:fe33:4455".parse().unwrap();
        assert_eq!(v6[0], ("address", Value::Bytes(want.octets().to_vec())));
        let peer: Ipv6Addr = "fe80::1".parse().unwrap();
        assert_eq!(v6[2], ("ptp", Value::Bytes(peer.octets().to_vec())));
    }

    #[test]
    fn partial_and_bad_records() {
        let l = LinkInfo::default();
        assert!(ip4(&l).is_none() && ip6(&l).is_none());
        let g = generic(&l, None, None);
        assert_eq!(
            g,
            vec![
                ("has-ip4", Value::Bool(false)),
                ("has-ip6", Value::Bool(false))
            ]
        );
        assert_eq!(gateway_from_server("vpn.example.com:443"), None);
        assert_eq!(
            gateway_from_server("[2001:db8::1]:443"),
            Some("2001:db8::1".parse().unwrap())
        );
        let v6 = generic(&l, gateway_from_server("[2001:db8::1]:443"), None);
        let want: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(v6[0], ("gateway", Value::Bytes(want.octets().to_vec())));
        assert_eq!(link_local("1:2:3"), None);
        assert_eq!(link_local("zz:0:0:1"), None);
    }
}
