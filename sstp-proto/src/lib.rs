//! Sans-IO core of the Secure Socket Tunneling Protocol ([MS-SSTP]) client.
//!
//! No sockets, no clock, no pppd, no TLS library: bytes and timestamps in, bytes and events out.
#![forbid(unsafe_code)]
pub mod http;
