//! Sans-IO core of the Secure Socket Tunneling Protocol ([MS-SSTP]) client.
//!
//! No sockets, no clock, no pppd, no TLS library: bytes and timestamps in, bytes and events out.
//!
//! - [`client`]: the client state machine (caller's clock).
//! - [`wire`]: packet codec and stream deframer.
//! - [`crypto_binding`]: HLAK, CMK, Compound MAC, the CALL_CONNECTED packet.
//! - [`hdlc`]: async-HDLC codec for the pppd pty side.
//! - [`http`]: the HTTPS handshake request/response.
//! - [`l2tp`]: L2TPv2 data message framing for the kernel PPPoL2TP line.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod crypto_binding;
pub mod hdlc;
pub mod http;
pub mod l2tp;
pub mod wire;

pub use client::{
    AuthError, Client, ClientConfig, CloseReason, Event, NegotiationPhase, SendError, State, Stats,
};
pub use crypto_binding::{AuthMethod, HashProtocol, HashProtocols, Hlak, HlakError};
pub use wire::{
    Attribute, AttributeId, ControlMessage, Deframer, MessageType, Packet, StatusCode, StatusInfo,
    WireError,
};
