//! NetworkManager's secret flags (`NMSettingSecretFlags`) as stored in `<secret>-flags` keys.

/// The secret is saved by NetworkManager (system-wide).
pub const NONE: u32 = 0;
/// A user's secret agent (GNOME Shell, KDE, nm-applet, `nmcli --ask`) owns the secret.
pub const AGENT_OWNED: u32 = 0x1;
/// Never saved: asked for at every connect.
pub const NOT_SAVED: u32 = 0x2;
/// Not needed to connect.
pub const NOT_REQUIRED: u32 = 0x4;
/// Every defined flag (`NM_SETTING_SECRET_FLAGS_ALL`).
pub const ALL: u32 = AGENT_OWNED | NOT_SAVED | NOT_REQUIRED;

/// Secret flags of one secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecretFlags(pub u32);

impl SecretFlags {
    /// Reads `<secret>-flags` as libnm's `nm_vpn_service_plugin_get_secret_flags` does:
    /// `strtoul(value, NULL, 10)` (leading blanks, digits, anything after ignored) accepted
    /// when it is at most [`ALL`]; `None` when the value is absent or out of range (the
    /// caller then treats the secret as flagged [`NONE`]).
    pub fn parse(value: Option<&str>) -> Option<SecretFlags> {
        let t = value?.trim_start();
        let t = t.strip_prefix('+').unwrap_or(t);
        let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Some(SecretFlags(NONE));
        }
        let v: u64 = digits.parse().ok()?;
        (v <= u64::from(ALL)).then_some(SecretFlags(v as u32))
    }

    /// The flags, or [`NONE`] when the key is absent or invalid.
    pub fn from_data(value: Option<&str>) -> SecretFlags {
        Self::parse(value).unwrap_or_default()
    }

    /// The secret is not needed to connect.
    pub fn not_required(self) -> bool {
        self.0 & NOT_REQUIRED != 0
    }

    /// The secret is never saved (asked every time).
    pub fn not_saved(self) -> bool {
        self.0 & NOT_SAVED != 0
    }

    /// A secret agent owns the secret.
    pub fn agent_owned(self) -> bool {
        self.0 & AGENT_OWNED != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_strtoul_with_range_check() {
        assert_eq!(SecretFlags::parse(None), None);
        assert_eq!(SecretFlags::parse(Some("0")), Some(SecretFlags(0)));
        assert_eq!(
            SecretFlags::parse(Some("1")),
            Some(SecretFlags(AGENT_OWNED))
        );
        assert_eq!(SecretFlags::parse(Some(" 2")), Some(SecretFlags(NOT_SAVED)));
        assert_eq!(
            SecretFlags::parse(Some("4x")),
            Some(SecretFlags(NOT_REQUIRED))
        );
        assert_eq!(SecretFlags::parse(Some("7")), Some(SecretFlags(ALL)));
        assert_eq!(SecretFlags::parse(Some("")), Some(SecretFlags(NONE)));
        assert_eq!(SecretFlags::parse(Some("8")), None);
        assert_eq!(SecretFlags::parse(Some("99999999999999999999999")), None);
        assert_eq!(SecretFlags::from_data(Some("8")), SecretFlags(NONE));
        let f = SecretFlags(AGENT_OWNED | NOT_REQUIRED);
        assert!(f.agent_owned() && f.not_required() && !f.not_saved());
    }
}
