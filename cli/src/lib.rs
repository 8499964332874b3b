//! The `sstp` command: `sstp probe` (TLS + HTTP + SSTP handshake without PPP, with a report of
//! every phase) and `sstp connect` (pppd with the sstp-rs plugin, openfortivpn-style).
//!
//! The binary (`src/main.rs`) only parses arguments; everything else lives here so that it is
//! unit-tested: [`child`] (children with the default signal mask), [`exit`] (documented exit
//! codes), [`options`] (shared options → `TunnelConfig`), [`probe`], [`pppd`] (pppd command line), [`password`], [`link`] (IP
//! configuration from the plugin's `sstp-ipc-fd` records or pppd's log), [`proxyfile`] (proxy
//! credentials pipe for `sstp-proxy-auth-fd`), [`dns`] (`--peer-dns`) and [`connect`].
#![deny(missing_docs)]

pub mod child;
pub mod cli;
pub mod connect;
pub mod dns;
pub mod exit;
pub mod link;
pub mod options;
pub mod password;
pub mod pppd;
pub mod probe;
pub mod proxyfile;
