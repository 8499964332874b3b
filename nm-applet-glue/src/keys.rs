//! The `vpn.data` and `vpn.secrets` key names: network-manager-sstp's (its `valid_properties`
//! and `valid_secrets` tables, names from `shared/nm-service-defines.h`), KDE plasma-nm's
//! older subset, and the keys sstp-rs adds.

/// NetworkManager's service name for SSTP; profiles carry it as `vpn.service-type`.
pub const SERVICE: &str = "org.freedesktop.NetworkManager.sstp";
/// `vpn-type` as typed with nmcli (`name` in the `.name` file).
pub const VPN_TYPE: &str = "sstp";

/// The only required key.
pub const GATEWAY: &str = "gateway";
#[allow(missing_docs)]
pub mod data {
    pub const USER: &str = "user";
    pub const DOMAIN: &str = "domain";
    pub const PASSWORD_FLAGS: &str = "password-flags";
    pub const CONNECTION_TYPE: &str = "connection-type";
    pub const CA_CERT: &str = "ca-cert";
    pub const IGNORE_CERT_WARN: &str = "ignore-cert-warn";
    pub const TLS_EXT: &str = "tls-ext";
    pub const MTU: &str = "mtu";
    pub const LCP_ECHO_FAILURE: &str = "lcp-echo-failure";
    pub const LCP_ECHO_INTERVAL: &str = "lcp-echo-interval";
    pub const UNIT: &str = "unit";
    pub const PROXY_SERVER: &str = "proxy-server";
    pub const PROXY_PORT: &str = "proxy-port";
    pub const PROXY_USER: &str = "proxy-user";
    pub const PROXY_PASSWORD_FLAGS: &str = "proxy-password-flags";
    pub const UUID: &str = "uuid";
    pub const NO_SECRET: &str = "no-secret";
    pub const CRL_FILE: &str = "crl-file";
    pub const TLS_CA_CERT: &str = "tls-ca-cert";
    pub const TLS_IDENTITY: &str = "tls-identity";
    pub const TLS_SUBJECT_NAME: &str = "tls-subject-name";
    pub const TLS_USER_CERT: &str = "tls-user-cert";
    pub const TLS_USER_KEY: &str = "tls-user-key";
    pub const TLS_USER_KEY_SECRET_FLAGS: &str = "tls-user-key-secret-flags";
    pub const TLS_VERIFY_KEY_USAGE: &str = "tls-verify-key-usage";
    pub const TLS_VERIFY_METHOD: &str = "tls-verify-method";
    pub const TLS_REMOTENAME: &str = "tls-remotename";
    pub const TLS_MAX_VERSION: &str = "tls-max-version";
}

/// Keys sstp-rs adds (documented in nm-applet-glue/README.md). Named after the plugin options
/// they become, so that the `sstp-` prefix never meets a future network-manager-sstp key.
#[allow(missing_docs)]
pub mod ours {
    pub const CERT_PIN: &str = "sstp-cert-pin";
    pub const SNI: &str = "sstp-sni";
    pub const PROXY_NO_BASIC: &str = "sstp-proxy-no-basic";
    pub const TLS_MIN: &str = "sstp-tls-min";
    pub const TLS_MAX: &str = "sstp-tls-max";
    pub const IP_FAMILY: &str = "sstp-ip-family";
    pub const NO_EKU_CHECK: &str = "sstp-no-eku-check";
    pub const CONNECT_TIMEOUT: &str = "sstp-connect-timeout";
    pub const LOG_LEVEL: &str = "sstp-log-level";
}

/// `vpn.secrets` keys.
#[allow(missing_docs)]
pub mod secret {
    pub const PASSWORD: &str = "password";
    pub const PROXY_PASSWORD: &str = "proxy-password";
    pub const TLS_USER_KEY_SECRET: &str = "tls-user-key-secret";
    pub const NO_SECRET: &str = "no-secret";
}

/// Boolean `yes`/`no` keys that are plain pppd switches: key, pppd option (table order is
/// network-manager-sstp's argv order).
pub const PPP_SWITCHES: [(&str, &str); 12] = [
    ("refuse-eap", "refuse-eap"),
    ("refuse-pap", "refuse-pap"),
    ("refuse-chap", "refuse-chap"),
    ("refuse-mschap", "refuse-mschap"),
    ("refuse-mschapv2", "refuse-mschap-v2"),
    ("require-mppe", "require-mppe"),
    ("require-mppe-40", "require-mppe-40"),
    ("require-mppe-128", "require-mppe-128"),
    ("mppe-stateful", "mppe-stateful"),
    ("nobsdcomp", "nobsdcomp"),
    ("nodeflate", "nodeflate"),
    ("no-vj-comp", "novj"),
];

/// KDE plasma-nm's SSTP editor (vpn/sstp/nm-sstp-service.h) writes only these keys: the set of
/// network-manager-sstp before 1.3 (no `connection-type`, `tls-ext`, `mtu`, TLS keys).
pub const KDE_KEYS: [&str; 27] = [
    "gateway",
    "uuid",
    "user",
    "password-flags",
    "domain",
    "ca-cert",
    "ignore-cert-warn",
    "refuse-eap",
    "refuse-pap",
    "refuse-chap",
    "refuse-mschap",
    "refuse-mschapv2",
    "require-mppe",
    "require-mppe-40",
    "require-mppe-128",
    "mppe-stateful",
    "nobsdcomp",
    "nodeflate",
    "no-vj-comp",
    "lcp-echo-failure",
    "lcp-echo-interval",
    "unit",
    "proxy-server",
    "proxy-port",
    "proxy-user",
    "proxy-password-flags",
    "no-secret",
];

/// Every `vpn.data` key network-manager-sstp accepts (its `valid_properties`).
pub const NM_SSTP_DATA_KEYS: [&str; 42] = [
    "gateway",
    "user",
    "password-flags",
    "domain",
    "connection-type",
    "ca-cert",
    "ignore-cert-warn",
    "tls-ext",
    "mtu",
    "refuse-eap",
    "refuse-pap",
    "refuse-chap",
    "refuse-mschap",
    "refuse-mschapv2",
    "require-mppe",
    "require-mppe-40",
    "require-mppe-128",
    "mppe-stateful",
    "nobsdcomp",
    "nodeflate",
    "no-vj-comp",
    "lcp-echo-failure",
    "lcp-echo-interval",
    "unit",
    "proxy-server",
    "proxy-port",
    "proxy-user",
    "proxy-password-flags",
    "uuid",
    "no-secret",
    "crl-file",
    "tls-ca-cert",
    "tls-identity",
    "tls-subject-name",
    "tls-user-cert",
    "tls-user-key",
    "tls-user-key-secret-flags",
    "tls-verify-key-usage",
    "tls-verify-method",
    "tls-remotename",
    "tls-max-version",
    // the setting's name: always allowed, unused (validate_one_property)
    "name",
];

/// The keys sstp-rs adds.
pub const OUR_KEYS: [&str; 9] = [
    ours::CERT_PIN,
    ours::SNI,
    ours::PROXY_NO_BASIC,
    ours::TLS_MIN,
    ours::TLS_MAX,
    ours::IP_FAMILY,
    ours::NO_EKU_CHECK,
    ours::CONNECT_TIMEOUT,
    ours::LOG_LEVEL,
];

/// Every `vpn.secrets` key network-manager-sstp accepts (its `valid_secrets`).
pub const SECRET_KEYS: [&str; 4] = [
    secret::PASSWORD,
    secret::PROXY_PASSWORD,
    secret::TLS_USER_KEY_SECRET,
    secret::NO_SECRET,
];

/// Whether `key` is a `vpn.data` key this crate understands.
pub fn is_known_data_key(key: &str) -> bool {
    NM_SSTP_DATA_KEYS.contains(&key) || OUR_KEYS.contains(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kde_keys_are_a_subset() {
        for k in KDE_KEYS {
            assert!(is_known_data_key(k), "{k}");
        }
        for (k, _) in PPP_SWITCHES {
            assert!(is_known_data_key(k), "{k}");
        }
        for k in OUR_KEYS {
            assert!(
                k.starts_with("sstp-") && !NM_SSTP_DATA_KEYS.contains(&k),
                "{k}"
            );
        }
    }
}
