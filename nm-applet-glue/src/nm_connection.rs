//! NetworkManager's connection dictionary (`a{sa{sv}}`, as `Connect`, `ConnectInteractive`,
//! `NeedSecrets` and `NewSecrets` receive it) → what the translation needs: `vpn.data`,
//! `vpn.secrets`, `vpn.user-name`, the connection's id and uuid, and the IP methods.

use std::collections::HashMap;

use zbus::zvariant::OwnedValue;
use zeroize::Zeroizing;

use crate::pppd_args::{Ip4Method, Ip6Method};
use crate::settings::Dict;

/// The D-Bus type of a connection.
pub type ConnectionDict = HashMap<String, HashMap<String, OwnedValue>>;

/// The parts of a connection the service uses.
#[derive(Default)]
pub struct Connection {
    /// `connection.id`.
    pub id: String,
    /// `connection.uuid`.
    pub uuid: String,
    /// `vpn.service-type`.
    pub service_type: String,
    /// `vpn.data`.
    pub data: Dict,
    /// `vpn.secrets` (wiped on drop).
    pub secrets: BTreeSecrets,
    /// `vpn.user-name`.
    pub user_name: Option<String>,
    /// `ipv4.method` and friends.
    pub ip4: Ip4Method,
    /// `ipv4.ignore-auto-dns`.
    pub ignore_auto_dns: bool,
    /// `ipv6.method`.
    pub ip6: Ip6Method,
}

/// `vpn.secrets` whose values are wiped on drop.
#[derive(Default)]
pub struct BTreeSecrets(pub std::collections::BTreeMap<String, Zeroizing<String>>);

impl BTreeSecrets {
    /// As a plain [`Dict`] for the translation (the copy is the caller's to drop soon).
    pub fn to_dict(&self) -> Dict {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    }
}

fn string(v: &OwnedValue) -> Option<String> {
    <&str>::try_from(v).ok().map(str::to_owned)
}

fn string_map(v: &OwnedValue) -> HashMap<String, String> {
    v.try_clone()
        .ok()
        .and_then(|o| HashMap::<String, String>::try_from(o).ok())
        .unwrap_or_default()
}

fn get<'a>(c: &'a ConnectionDict, setting: &str, key: &str) -> Option<&'a OwnedValue> {
    c.get(setting)?.get(key)
}

fn ip4_method(c: &ConnectionDict) -> Ip4Method {
    match get(c, "ipv4", "method").and_then(string).as_deref() {
        Some("disabled") => Ip4Method::Disabled,
        _ => Ip4Method::Auto,
    }
}

fn ip6_method(c: &ConnectionDict) -> Ip6Method {
    match get(c, "ipv6", "method").and_then(string).as_deref() {
        Some("auto") | Some("manual") => Ip6Method::Auto,
        Some("disabled") => Ip6Method::Disabled,
        _ => Ip6Method::Ignore,
    }
}

impl Connection {
    /// Reads the connection; absent parts are empty.
    pub fn from_dict(c: &ConnectionDict) -> Connection {
        let s = |setting: &str, key: &str| get(c, setting, key).and_then(string);
        let data = get(c, "vpn", "data").map(string_map).unwrap_or_default();
        let secrets = get(c, "vpn", "secrets").map(string_map).unwrap_or_default();
        Connection {
            id: s("connection", "id").unwrap_or_default(),
            uuid: s("connection", "uuid").unwrap_or_default(),
            service_type: s("vpn", "service-type").unwrap_or_default(),
            data: data.into_iter().collect(),
            secrets: BTreeSecrets(
                secrets
                    .into_iter()
                    .map(|(k, v)| (k, Zeroizing::new(v)))
                    .collect(),
            ),
            user_name: s("vpn", "user-name").filter(|u| !u.is_empty()),
            ip4: ip4_method(c),
            ignore_auto_dns: get(c, "ipv4", "ignore-auto-dns")
                .and_then(|v| bool::try_from(v).ok())
                .unwrap_or(false),
            ip6: ip6_method(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::Value;

    fn owned(v: Value<'_>) -> OwnedValue {
        v.try_to_owned().unwrap()
    }

    pub(crate) fn sample() -> ConnectionDict {
        let data: HashMap<&str, &str> = [("gateway", "vpn.example.com"), ("user", "alice")]
            .into_iter()
            .collect();
        let secrets: HashMap<&str, &str> = [("password", "pw")].into_iter().collect();
        let mut vpn = HashMap::new();
        vpn.insert("data".to_string(), owned(Value::from(data)));
        vpn.insert("secrets".to_string(), owned(Value::from(secrets)));
        vpn.insert(
            "service-type".to_string(),
            owned(Value::from(crate::keys::SERVICE)),
        );
        let mut conn = HashMap::new();
        conn.insert("id".to_string(), owned(Value::from("Work")));
        conn.insert("uuid".to_string(), owned(Value::from("u-1")));
        let mut ip4 = HashMap::new();
        ip4.insert("method".to_string(), owned(Value::from("auto")));
        ip4.insert("ignore-auto-dns".to_string(), owned(Value::from(true)));
        let mut ip6 = HashMap::new();
        ip6.insert("method".to_string(), owned(Value::from("disabled")));
        [
            ("vpn", vpn),
            ("connection", conn),
            ("ipv4", ip4),
            ("ipv6", ip6),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn reads_the_parts() {
        let c = Connection::from_dict(&sample());
        assert_eq!((c.id.as_str(), c.uuid.as_str()), ("Work", "u-1"));
        assert_eq!(c.service_type, crate::keys::SERVICE);
        assert_eq!(c.data.get("gateway").unwrap(), "vpn.example.com");
        assert_eq!(c.secrets.to_dict().get("password").unwrap(), "pw");
        assert!(c.ignore_auto_dns);
        assert_eq!(c.ip4, Ip4Method::Auto);
        assert_eq!(c.ip6, Ip6Method::Disabled);
        let empty = Connection::from_dict(&ConnectionDict::new());
        assert!(empty.data.is_empty() && empty.user_name.is_none());
    }
}
