//! What `sstp connect` learns about the link: from the plugin's `sstp-ipc-fd` records and, as a
//! fallback, from pppd's log lines.
//!
//! `sstp-ipc-fd` wire format (sstp_tunnel::ipc): a message is a sequence of records, each a
//! `u32` big-endian length and that many bytes of UTF-8 `key=value`; an empty record ends the
//! message.

use std::fmt::Write as _;

pub use sstp_tunnel::ipc::{decode, DecodeError, MAX_RECORD};

/// The link's configuration as far as known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkInfo {
    /// PPP interface, e.g. `ppp0`.
    pub ifname: Option<String>,
    /// SSTP server `host:port`.
    pub server: Option<String>,
    /// Local IPv4 address.
    pub ip4_local: Option<String>,
    /// Peer IPv4 address.
    pub ip4_peer: Option<String>,
    /// DNS servers offered.
    pub dns: Vec<String>,
    /// Local IPv6 interface identifier.
    pub ip6_local_id: Option<String>,
    /// Peer IPv6 interface identifier.
    pub ip6_peer_id: Option<String>,
    /// The TCP peer connected to, with its family (`IPv4 192.0.2.2:443`).
    pub peer: Option<String>,
    /// The TCP peer's socket address (the server, or the proxy when [`Self::via_proxy`]).
    pub peer_addr: Option<std::net::SocketAddr>,
    /// Why the server certificate was not trusted, when it was accepted anyway
    /// (`sstp-cert-accept-untrusted`).
    pub cert_untrusted: Option<String>,
    /// The interface's MTU (`mtu`, at ip-up).
    pub mtu: Option<u32>,
    /// The plugin's error sentences (`event=error`), the last [`MAX_ERRORS`].
    pub errors: Vec<String>,
    /// The TCP peer is an HTTP proxy.
    pub via_proxy: bool,
    /// The server certificate's SHA-256 and SHA-1 (uppercase hex, as the administrator sees it).
    pub cert_hashes: Option<(String, String)>,
}

/// How many of the plugin's error sentences [`LinkInfo::errors`] keeps.
pub const MAX_ERRORS: usize = 16;

/// What a message or log line meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing relevant.
    None,
    /// Some detail was recorded.
    Detail,
    /// IPv4 is up (the summary can be printed).
    Ip4Up,
    /// IPv6 is up.
    Ip6Up,
    /// IPv4 went down.
    Ip4Down,
    /// IPv6 went down.
    Ip6Down,
}

fn clean(v: &str) -> String {
    v.chars()
        .filter(|c| !c.is_control())
        .take(256)
        .collect::<String>()
}

impl LinkInfo {
    /// Applies one decoded `sstp-ipc-fd` message.
    pub fn apply_ipc(&mut self, records: &[(String, String)]) -> Change {
        let event = records
            .iter()
            .find(|(k, _)| k == "event")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let mut dns = Vec::new();
        let (mut addr, mut family, mut sha256, mut sha1) = (None, None, None, None);
        for (k, v) in records {
            let v = clean(v);
            match k.as_str() {
                "ifname" => self.ifname = Some(v),
                "server" => self.server = Some(v),
                "ip4.local" => self.ip4_local = Some(v),
                "ip4.peer" => self.ip4_peer = Some(v),
                "ip4.dns" => dns.push(v),
                "ip6.local-id" => self.ip6_local_id = Some(v),
                "ip6.peer-id" => self.ip6_peer_id = Some(v),
                "peer.address" => addr = Some(v),
                "peer.family" => family = Some(v),
                "peer.proxy" => self.via_proxy = v == "1",
                "cert.sha256" => sha256 = Some(v),
                "cert.sha1" => sha1 = Some(v),
                "cert.untrusted" => self.cert_untrusted = Some(v),
                "mtu" => self.mtu = v.parse().ok(),
                _ => {}
            }
        }
        if let Some(a) = addr {
            self.peer_addr = a.parse().ok();
            self.peer = Some(
                format!("{} {a}", family.unwrap_or_default())
                    .trim()
                    .to_owned(),
            );
        }
        if let (Some(a), Some(b)) = (sha256, sha1) {
            self.cert_hashes = Some((a, b));
        }
        match event {
            "ip-up" => {
                self.dns = dns;
                Change::Ip4Up
            }
            "ipv6-up" => Change::Ip6Up,
            "ip-down" => Change::Ip4Down,
            "ipv6-down" => Change::Ip6Down,
            "error" => {
                // One entry per line (a certificate failure is one message of many lines).
                let msgs = records.iter().filter(|(k, _)| k == "message");
                let lines = msgs.flat_map(|(_, m)| m.lines().map(clean).collect::<Vec<_>>());
                self.errors.extend(lines.filter(|l| !l.trim().is_empty()));
                let extra = self.errors.len().saturating_sub(MAX_ERRORS);
                self.errors.drain(..extra);
                Change::Detail
            }
            _ => Change::Detail,
        }
    }

    /// Learns from one pppd log line (fallback when the plugin's records are not available).
    pub fn apply_log_line(&mut self, line: &str) -> Change {
        let l = line.trim();
        let word_after = |prefix: &str| -> Option<String> {
            l.strip_prefix(prefix)
                .and_then(|r| r.split_whitespace().next())
                .map(clean)
        };
        if let Some(i) = word_after("Using interface") {
            self.ifname = Some(i);
            return Change::Detail;
        }
        if let Some(a) = word_after("local  IP address") {
            self.ip4_local = Some(a);
            return Change::Detail;
        }
        if let Some(a) = word_after("remote IP address") {
            self.ip4_peer = Some(a);
            return Change::Ip4Up;
        }
        for p in ["primary   DNS address", "secondary DNS address"] {
            if let Some(a) = word_after(p) {
                if !self.dns.contains(&a) {
                    self.dns.push(a);
                }
                return Change::Detail;
            }
        }
        if let Some(a) = word_after("local  LL address") {
            self.ip6_local_id = Some(a);
            return Change::Detail;
        }
        if let Some(a) = word_after("remote LL address") {
            self.ip6_peer_id = Some(a);
            return Change::Ip6Up;
        }
        Change::None
    }

    /// The "tunnel is up" summary; `routes` are lines of `ip route show dev IFNAME`.
    pub fn summary(&self, routes: &[String]) -> String {
        let mut s = String::new();
        let q = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
        let _ = writeln!(s, "sstp: tunnel is up on {}", q(&self.ifname));
        if let Some(sv) = &self.server {
            let _ = writeln!(s, "  server:        {sv}");
        }
        if let Some(p) = &self.peer {
            let proxy = if self.via_proxy { " (HTTP proxy)" } else { "" };
            let _ = writeln!(s, "  connected to:  {p}{proxy}");
        }
        if let Some((sha256, sha1)) = &self.cert_hashes {
            let _ = writeln!(s, "  certificate:   SHA-256 {sha256}");
            let _ = writeln!(s, "                 SHA-1   {sha1}");
        }
        let _ = writeln!(s, "  local address: {}", q(&self.ip4_local));
        let _ = writeln!(s, "  peer address:  {}", q(&self.ip4_peer));
        if self.ip6_local_id.is_some() {
            let _ = writeln!(
                s,
                "  IPv6:          local fe80::{}, peer fe80::{}",
                q(&self.ip6_local_id),
                q(&self.ip6_peer_id)
            );
        }
        let _ = writeln!(
            s,
            "  DNS:           {}",
            if self.dns.is_empty() {
                "(none offered)".to_owned()
            } else {
                self.dns.join(", ")
            }
        );
        if routes.is_empty() {
            let _ = writeln!(s, "  routes:        (none through the tunnel)");
        } else {
            let _ = writeln!(s, "  routes:");
            for r in routes {
                let _ = writeln!(s, "    {}", clean(r));
            }
        }
        s.push_str("  press Ctrl-C to disconnect\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(records: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in records {
            let r = format!("{k}={v}");
            out.extend_from_slice(&(r.len() as u32).to_be_bytes());
            out.extend_from_slice(r.as_bytes());
        }
        out.extend_from_slice(&0u32.to_be_bytes());
        out
    }

    #[test]
    fn decodes_plugin_messages() {
        let msg = encode(&[
            ("event", "ip-up"),
            ("ifname", "ppp0"),
            ("server", "vpn.example.com:443"),
            ("ip4.local", "10.0.0.2"),
            ("ip4.peer", "10.0.0.1"),
            ("ip4.dns", "10.0.0.53"),
            ("ip4.dns", "10.0.0.54"),
            ("peer.address", "[2001:db8::1]:443"),
            ("peer.family", "IPv6"),
            ("peer.proxy", "0"),
            ("cert.sha256", &"AB".repeat(32)),
            ("cert.sha1", &"CD".repeat(20)),
        ]);
        let mut two = msg.clone();
        two.extend(encode(&[("event", "ip-down")]));
        let (recs, used) = decode(&two).unwrap();
        assert_eq!(used, msg.len());
        let mut li = LinkInfo::default();
        assert_eq!(li.apply_ipc(&recs), Change::Ip4Up);
        assert_eq!(li.ifname.as_deref(), Some("ppp0"));
        assert_eq!(li.dns, ["10.0.0.53", "10.0.0.54"]);
        assert_eq!(li.peer_addr, Some("[2001:db8::1]:443".parse().unwrap()));
        li.apply_ipc(&[("mtu".into(), "1400".into())]);
        assert_eq!(li.mtu, Some(1400));
        for i in 0..20 {
            let m = format!("sstp-rs: failure {i}\x1b[2J");
            li.apply_ipc(&[("event".into(), "error".into()), ("message".into(), m)]);
        }
        assert_eq!(li.errors.len(), MAX_ERRORS);
        assert_eq!(li.errors.last().unwrap(), "sstp-rs: failure 19[2J");
        let multi = "sstp-rs: not trusted\n  subject: CN=x\n\n  pin: sstp-cert-pin sha256:ab";
        li.errors.clear();
        li.apply_ipc(&[
            ("event".into(), "error".into()),
            ("message".into(), multi.into()),
        ]);
        assert_eq!(
            li.errors,
            [
                "sstp-rs: not trusted",
                "  subject: CN=x",
                "  pin: sstp-cert-pin sha256:ab"
            ]
        );
        let (recs, _) = decode(&two[used..]).unwrap();
        assert_eq!(li.apply_ipc(&recs), Change::Ip4Down);
        let v6down = encode(&[("event", "ipv6-down")]);
        assert_eq!(li.apply_ipc(&decode(&v6down).unwrap().0), Change::Ip6Down);
        let s = li.summary(&["10.0.0.1 proto kernel scope link src 10.0.0.2".into()]);
        assert!(s.contains("tunnel is up on ppp0"), "{s}");
        assert!(s.contains("local address: 10.0.0.2"), "{s}");
        assert!(s.contains("DNS:           10.0.0.53, 10.0.0.54"), "{s}");
        assert!(s.contains("scope link src 10.0.0.2"), "{s}");
        assert!(s.contains("connected to:  IPv6 [2001:db8::1]:443\n"), "{s}");
        let sha256 = "AB".repeat(32);
        let sha1 = "CD".repeat(20);
        assert!(
            s.contains(&format!("certificate:   SHA-256 {sha256}\n")),
            "{s}"
        );
        assert!(
            s.contains(&format!("                 SHA-1   {sha1}\n")),
            "{s}"
        );
    }

    #[test]
    fn hostile_ipc_bytes_are_typed_errors() {
        let msg = encode(&[("event", "ip-up"), ("ifname", "ppp0")]);
        for cut in 0..msg.len() {
            assert_eq!(decode(&msg[..cut]).unwrap_err(), DecodeError::Incomplete);
        }
        let mut big = Vec::new();
        big.extend_from_slice(&(MAX_RECORD as u32 + 1).to_be_bytes());
        assert_eq!(
            decode(&big).unwrap_err(),
            DecodeError::TooLong(MAX_RECORD + 1)
        );
        let mut bad = Vec::new();
        bad.extend_from_slice(&3u32.to_be_bytes());
        bad.extend_from_slice(b"abc");
        bad.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(decode(&bad).unwrap_err(), DecodeError::Malformed);
        let mut nonutf = Vec::new();
        nonutf.extend_from_slice(&3u32.to_be_bytes());
        nonutf.extend_from_slice(b"a=\xff");
        assert_eq!(decode(&nonutf).unwrap_err(), DecodeError::Malformed);
        let mut li = LinkInfo::default();
        li.apply_ipc(&[("ifname".into(), "ppp0\x1b[2J".into())]);
        assert_eq!(li.ifname.as_deref(), Some("ppp0[2J"));
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift: deterministic pseudo-random inputs, some with plausible length prefixes
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len > 4 && next() % 2 == 0 {
                let l = (next() % 24) as u32;
                buf[..4].copy_from_slice(&l.to_be_bytes());
            }
            if let Ok((recs, used)) = decode(&buf) {
                assert!(used <= buf.len());
                LinkInfo::default().apply_ipc(&recs);
            }
            LinkInfo::default().apply_log_line(&String::from_utf8_lossy(&buf));
        }
    }

    #[test]
    fn learns_from_pppd_log_lines() {
        let mut li = LinkInfo::default();
        let lines = [
            ("Using interface ppp3", Change::Detail),
            ("Connect: ppp3 <--> /dev/pts/4", Change::None),
            ("local  IP address 192.168.20.5", Change::Detail),
            ("remote IP address 192.168.20.1", Change::Ip4Up),
            ("primary   DNS address 192.168.20.1", Change::Detail),
            ("secondary DNS address 8.8.8.8", Change::Detail),
            (
                "local  LL address fe80::0011:2233:4455:6677",
                Change::Detail,
            ),
            ("remote LL address fe80::8899:aabb:ccdd:eeff", Change::Ip6Up),
        ];
        for (l, want) in lines {
            assert_eq!(li.apply_log_line(l), want, "{l}");
        }
        assert_eq!(li.ifname.as_deref(), Some("ppp3"));
        assert_eq!(li.ip4_local.as_deref(), Some("192.168.20.5"));
        assert_eq!(li.ip4_peer.as_deref(), Some("192.168.20.1"));
        assert_eq!(li.dns, ["192.168.20.1", "8.8.8.8"]);
        let s = li.summary(&[]);
        assert!(s.contains("(none through the tunnel)"));
    }
}
