//! The plugin's `sstp-ipc-fd` records (decoded into `sstp_cli::link::LinkInfo`, the same
//! decoder `sstp connect` uses) → the dictionaries NetworkManager expects in `SetConfig`,
//! `SetIp4Config` and `SetIp6Config` (the `NM_VPN_PLUGIN_*` key names and D-Bus types of
//! libnm's `nm-vpn-dbus-interface.h`). Pure: the service turns [`Value`]s into D-Bus variants.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use sstp_cli::link::{Change, LinkInfo};

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

/// `Config`: `tundev`, the external `gateway` ([`gateway`]: the address the tunnel's TLS
/// connection goes to, so that NetworkManager keeps a host route to it), `mtu` when known, the
/// `banner` of an accepted untrusted certificate ([`untrusted_banner`]), `has-ip4`, `has-ip6`.
pub fn generic(l: &LinkInfo, id: &str) -> Dict {
    let mut d = Dict::new();
    if let Some(i) = &l.ifname {
        d.push(("tundev", Value::Str(i.clone())));
    }
    match gateway(l) {
        Some(IpAddr::V4(a)) => d.push(("gateway", Value::U32(ip4_u32(a)))),
        Some(IpAddr::V6(a)) => d.push(("gateway", Value::Bytes(a.octets().to_vec()))),
        None => {}
    }
    if let Some(m) = l.mtu {
        d.push(("mtu", Value::U32(m)));
    }
    if let Some(b) = untrusted_banner(l, id) {
        d.push(("banner", Value::Str(b)));
    }
    d.push(("has-ip4", Value::Bool(ip4(l).is_some())));
    d.push(("has-ip6", Value::Bool(ip6(l).is_some())));
    d
}

/// The login banner (NetworkManager shows it: `nmcli -g VPN.BANNER`, GNOME's "VPN Login
/// Message") when the server certificate was accepted only because of `ignore-cert-warn=yes`:
/// what failed, its SHA-256 and the command that pins it for connection `id`.
pub fn untrusted_banner(l: &LinkInfo, id: &str) -> Option<String> {
    let why = l.cert_untrusted.as_deref()?;
    let sha = l.cert_hashes.as_ref().map(|(s, _)| s.to_ascii_lowercase());
    let pin = sha.map_or_else(String::new, |h| {
        format!(
            " Its SHA-256 is {h}. After checking it with the server's administrator, trust \
             exactly this certificate: {} (and remove ignore-cert-warn).",
            crate::failure::pin_command(id, &format!("sha256:{h}"))
        )
    });
    Some(format!(
        "WARNING: the server certificate is not trusted ({why}); it was accepted only because \
         of ignore-cert-warn=yes.{pin}"
    ))
}

/// The external gateway NetworkManager keeps a host route to: the address the plugin's TCP
/// connection went to (the server, or the proxy), else the configured server when it is an
/// address literal (`host:port`, `[v6]:port`).
pub fn gateway(l: &LinkInfo) -> Option<IpAddr> {
    l.peer_addr.map(|a| a.ip()).or_else(|| {
        let (h, _) = sstp_tunnel::parse_host_port(l.server.as_deref()?, 443).ok()?;
        h.parse().ok()
    })
}

/// `Ip4Config`: `address`, `prefix` 32, `ptp` and the internal `gateway` (both the peer), `dns`
/// — or `None` before IPCP.
pub fn ip4(l: &LinkInfo) -> Option<Dict> {
    let local: Ipv4Addr = l.ip4_local.as_deref()?.parse().ok()?;
    let mut d = vec![
        ("address", Value::U32(ip4_u32(local))),
        ("prefix", Value::U32(32)),
    ];
    if let Some(peer) = l.ip4_peer.as_deref().and_then(|p| p.parse().ok()) {
        d.push(("ptp", Value::U32(ip4_u32(peer))));
        d.push(("gateway", Value::U32(ip4_u32(peer))));
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

/// How long the service waits for the second address family once the first is up (IPCP and
/// IPV6CP run side by side and normally end within a round trip of each other) before it
/// reports the configuration without it.
pub const OTHER_FAMILY_GRACE: Duration = Duration::from_secs(3);

/// One signal for NetworkManager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// `Config`.
    Config(Dict),
    /// `Ip4Config`.
    Ip4(Dict),
    /// `Ip6Config`.
    Ip6(Dict),
}

/// Orders the reports as NetworkManager insists: one `Config` first (its `has-ip4`/`has-ip6`
/// say which of `Ip4Config`/`Ip6Config` follow), then those. `Config` waits until every
/// family the connection enables is up, or [`OTHER_FAMILY_GRACE`] after the first one is.
/// Pure: the caller passes the time and calls [`Reporter::poll`] again at
/// [`Reporter::deadline`].
#[derive(Clone, Debug)]
pub struct Reporter {
    id: String,
    expect4: bool,
    expect6: bool,
    first_up: Option<Instant>,
    /// `(has-ip4, has-ip6)` once `Config` went out.
    announced: Option<(bool, bool)>,
}

impl Reporter {
    /// For connection `id` with IPv4 and/or IPv6 enabled.
    pub fn new(id: &str, expect4: bool, expect6: bool) -> Reporter {
        Reporter {
            id: id.to_owned(),
            expect4,
            expect6,
            first_up: None,
            announced: None,
        }
    }

    /// The reports due after `change` (or after a timeout: [`Change::None`]) at `now`.
    pub fn poll(&mut self, l: &LinkInfo, change: Change, now: Instant) -> Vec<Report> {
        let (up4, up6) = (ip4(l), ip6(l));
        if let Some((has4, has6)) = self.announced {
            return match change {
                Change::Ip4Up if has4 => up4.map(Report::Ip4).into_iter().collect(),
                Change::Ip6Up if has6 => up6.map(Report::Ip6).into_iter().collect(),
                _ => Vec::new(),
            };
        }
        if up4.is_none() && up6.is_none() {
            return Vec::new();
        }
        let first = *self.first_up.get_or_insert(now);
        let complete = (up4.is_some() || !self.expect4) && (up6.is_some() || !self.expect6);
        if !complete && now < first + OTHER_FAMILY_GRACE {
            return Vec::new();
        }
        self.announced = Some((up4.is_some(), up6.is_some()));
        let mut out = vec![Report::Config(generic(l, &self.id))];
        out.extend(up4.map(Report::Ip4));
        out.extend(up6.map(Report::Ip6));
        out
    }

    /// When [`Reporter::poll`] is due even if nothing arrives.
    pub fn deadline(&self) -> Option<Instant> {
        match self.announced {
            None => self.first_up.map(|t| t + OTHER_FAMILY_GRACE),
            Some(_) => None,
        }
    }
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
            ("mtu", "1400"),
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
        let gw = gateway(&l);
        assert_eq!(gw, Some(IpAddr::V4([192, 0, 2, 10].into())));
        let g = generic(&l, "Work");
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
                ("gateway", Value::U32(u32::from_ne_bytes([10, 0, 0, 1]))),
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
        let g = generic(&l, "Work");
        assert_eq!(
            g,
            vec![
                ("has-ip4", Value::Bool(false)),
                ("has-ip6", Value::Bool(false))
            ]
        );
        let named = LinkInfo {
            server: Some("vpn.example.com:443".into()),
            ..LinkInfo::default()
        };
        assert_eq!(gateway(&named), None);
        let literal = LinkInfo {
            server: Some("[2001:db8::1]:443".into()),
            ..LinkInfo::default()
        };
        assert_eq!(gateway(&literal), Some("2001:db8::1".parse().unwrap()));
        let v6 = generic(&literal, "Work");
        let want: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(v6[0], ("gateway", Value::Bytes(want.octets().to_vec())));
        assert_eq!(link_local("1:2:3"), None);
        assert_eq!(link_local("zz:0:0:1"), None);
    }

    /// The TCP peer the plugin reports wins over the configured name (a proxy's address,
    /// too: that is where the TLS connection goes).
    #[test]
    fn gateway_is_the_address_connected_to() {
        let mut l = link();
        l.apply_ipc(&[("peer.address".into(), "192.0.2.77:3128".into())]);
        assert_eq!(gateway(&l), Some(IpAddr::V4([192, 0, 2, 77].into())));
    }

    fn ip6_up(l: &mut LinkInfo) -> Change {
        l.apply_ipc(&[
            ("event".into(), "ipv6-up".into()),
            ("ip6.local-id".into(), "0211:22ff:fe33:4455".into()),
            ("ip6.peer-id".into(), "0000:0000:0000:0001".into()),
        ])
    }

    fn ip4_up(l: &mut LinkInfo) -> Change {
        l.apply_ipc(&[
            ("event".into(), "ip-up".into()),
            ("ifname".into(), "ppp0".into()),
            ("peer.address".into(), "192.0.2.2:443".into()),
            ("ip4.local".into(), "10.0.0.2".into()),
            ("ip4.peer".into(), "10.0.0.1".into()),
        ])
    }

    fn kinds(r: &[Report]) -> Vec<&'static str> {
        r.iter()
            .map(|r| match r {
                Report::Config(_) => "config",
                Report::Ip4(_) => "ip4",
                Report::Ip6(_) => "ip6",
            })
            .collect()
    }

    /// IPV6CP done before IPCP (seen with a real server): nothing until IPv4 is up too, then
    /// Config first, announcing both.
    #[test]
    fn config_goes_first_and_waits_for_both_families() {
        let t0 = Instant::now();
        let (mut r, mut l) = (Reporter::new("Work", true, true), LinkInfo::default());
        let c = ip6_up(&mut l);
        assert!(r.poll(&l, c, t0).is_empty());
        assert_eq!(r.deadline(), Some(t0 + OTHER_FAMILY_GRACE));
        let c = ip4_up(&mut l);
        let out = r.poll(&l, c, t0 + Duration::from_millis(40));
        assert_eq!(kinds(&out), ["config", "ip4", "ip6"]);
        let Report::Config(cfg) = &out[0] else {
            unreachable!()
        };
        assert!(cfg.contains(&("has-ip4", Value::Bool(true))));
        assert!(cfg.contains(&("has-ip6", Value::Bool(true))));
        assert!(cfg.contains(&("gateway", Value::U32(u32::from_ne_bytes([192, 0, 2, 2])))));
        assert_eq!(r.deadline(), None);
        // A renegotiated IPCP reports Ip4Config again, nothing else.
        let c = ip4_up(&mut l);
        assert_eq!(kinds(&r.poll(&l, c, t0 + Duration::from_secs(60))), ["ip4"]);
    }

    /// The server refuses IPV6CP: Config without IPv6 once the grace is over, and a late
    /// IPv6 is not reported (NetworkManager was told not to expect it).
    #[test]
    fn a_missing_family_is_given_up_after_the_grace() {
        let t0 = Instant::now();
        let (mut r, mut l) = (Reporter::new("Work", true, true), LinkInfo::default());
        let c = ip4_up(&mut l);
        assert!(r.poll(&l, c, t0).is_empty());
        let almost = t0 + OTHER_FAMILY_GRACE - Duration::from_millis(1);
        assert!(r.poll(&l, Change::None, almost).is_empty());
        let out = r.poll(&l, Change::None, t0 + OTHER_FAMILY_GRACE);
        assert_eq!(kinds(&out), ["config", "ip4"]);
        assert!(
            matches!(&out[0], Report::Config(c) if c.contains(&("has-ip6", Value::Bool(false))))
        );
        let c = ip6_up(&mut l);
        assert!(r.poll(&l, c, t0 + Duration::from_secs(9)).is_empty());
    }

    /// IPv6 disabled in the profile: Config as soon as IPv4 is up.
    #[test]
    fn only_the_enabled_families_are_awaited() {
        let (mut r, mut l) = (Reporter::new("Work", true, false), LinkInfo::default());
        let c = ip4_up(&mut l);
        assert_eq!(kinds(&r.poll(&l, c, Instant::now())), ["config", "ip4"]);
    }

    /// ignore-cert-warn: the accepted certificate is named in the banner with its pin command.
    #[test]
    fn an_accepted_untrusted_certificate_is_in_the_banner() {
        let mut l = link();
        assert_eq!(untrusted_banner(&l, "Work"), None);
        l.apply_ipc(&[
            (
                "cert.untrusted".into(),
                "its chain does not lead to a trusted CA".into(),
            ),
            ("cert.sha256".into(), "AB12".into()),
            ("cert.sha1".into(), "CD34".into()),
        ]);
        let b = untrusted_banner(&l, "Old VPN").unwrap();
        assert!(
            b.contains("not trusted (its chain does not lead to a trusted CA)"),
            "{b}"
        );
        assert!(
            b.contains("nmcli connection modify 'Old VPN' +vpn.data sstp-cert-pin=sha256:ab12"),
            "{b}"
        );
        let g = generic(&l, "Old VPN");
        assert!(g
            .iter()
            .any(|(k, v)| *k == "banner" && *v == Value::Str(b.clone())));
    }
}
