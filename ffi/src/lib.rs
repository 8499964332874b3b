//! pppd-sys: raw bindings to the sstp-rs pppd shim, one stable C API over pppd 2.4.9 and 2.5.x.
//!
//! bindgen runs against the selected pppd headers (see `build.rs`: `PPPD_INCLUDE_DIR`, pkg-config
//! `pppd`, `/usr/include`) but only the shim (`shim/pppd_shim.h`) is allow-listed, so this crate's
//! Rust surface is the same for every pppd version. Safe wrappers live in the plugin crate.
//!
//! Every function here calls into pppd, which is single-threaded and takes no locks: call them
//! from pppd's main thread only. The symbols of pppd itself resolve against the pppd executable
//! when pppd `dlopen`s the plugin, so programs other than pppd must not call them.
#![no_std]
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]
#![allow(
    missing_docs,
    clippy::missing_safety_doc,
    clippy::undocumented_unsafe_blocks
)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// The pppd version these bindings were built for, exactly as pppd spells it ("2.4.9", "2.5.2").
pub const PPPD_VERSION: &str = env!("PPPD_SYS_VERSION");

/// Whether the 2.5.x API (pppdconf.h present) was selected.
pub const PPPD_API_25: bool = cfg!(pppd_api_25);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_plausible() {
        assert!(PPPD_VERSION.starts_with("2."), "{PPPD_VERSION}");
        assert_eq!(PPPD_API_25, PPPD_VERSION >= "2.5");
    }

    #[test]
    fn shim_constants_match_pppd_numbers() {
        // The C shim static-asserts these against pppd's own headers; check the Rust side.
        assert_eq!(SSTP_SHIM_EXIT_CONNECT_FAILED, 8);
        assert_eq!(SSTP_SHIM_EXIT_PEER_AUTH_FAILED, 11);
        assert_eq!(SSTP_SHIM_PHASE_NETWORK, 7);
        assert_eq!(SSTP_SHIM_MAX_OPTIONS, 32);
        assert_eq!(SSTP_SHIM_OPT_NOARG, 1);
    }
}
