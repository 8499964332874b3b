//! NetworkManager glue for sstp-rs: a drop-in for network-manager-sstp's settings and secrets.
//!
//! - [`keys`]: the `vpn.data` / `vpn.secrets` key names (network-manager-sstp's, KDE's older
//!   set, ours); [`flags`]: secret flags; [`utf8safe`]: NetworkManager's path escaping;
//! - [`settings`]: `vpn.data` → [`settings::NmSettings`] (every key optional but `gateway`,
//!   unknown keys are warnings);
//! - [`pppd_args`]: the one translation into pppd's argument list (no secret on it);
//! - [`auth_dialog`]: the auth-dialog protocol (`nm-sstp-auth-dialog`);
//! - [`install`]: the `.name` file and the D-Bus policy, with configurable paths;
//! - [`keyfile_kind`]: PKCS#12 or not, passphrase needed or not (first bytes of a file);
//! - [`import`] with [`plain_format`] and [`pbk`]: import and export of profiles (our
//!   format, Windows phonebooks) for the libnm editor plugin (`editor-plugin/`);
//! - for the service (next): [`failure`] (pppd's exit status → NetworkManager's failure
//!   reason or a new-secrets request) and [`nm_config`] (the plugin's `sstp-ipc-fd` records →
//!   `Config` / `Ip4Config` / `Ip6Config`).
#![deny(missing_docs)]

pub mod auth_dialog;
pub mod failure;
pub mod flags;
pub mod import;
pub mod install;
pub mod keyfile_kind;
pub mod keys;
pub mod nm_config;
pub mod nm_connection;
pub mod pbk;
pub mod plain_format;
pub mod pppd_args;
#[allow(missing_docs)] // zbus::interface generates undocumented methods
pub mod service;
pub mod settings;
pub mod utf8safe;

#[cfg(test)]
mod pppd_args_tests;
