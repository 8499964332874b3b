//! [MS-SSTP] §2.2 wire format: the 4-byte packet header, control messages with their attributes,
//! data packets, and a stream [`Deframer`].
//!
//! Decoding is strict: every malformed input yields a [`WireError`] naming what is wrong; no
//! function here panics on any input. Unknown message types and attribute IDs are kept
//! ([`MessageType::Unknown`], [`Attribute::Unknown`]) so that they round-trip.

use std::fmt;

use crate::crypto_binding::{HashProtocol, HashProtocols};

/// Version byte of every SSTP packet (major 1, minor 0).
pub const VERSION: u8 = 0x10;
/// Length of the common packet header.
pub const HEADER_LEN: usize = 4;
/// Largest packet the 12-bit length field can describe (header included).
pub const MAX_PACKET_LEN: usize = 0x0FFF;
/// Largest PPP frame a data packet can carry (`MAX_PACKET_LEN - HEADER_LEN`).
pub const MAX_DATA_LEN: usize = MAX_PACKET_LEN - HEADER_LEN;
/// Length of a control packet without attributes (header, message type, attribute count).
pub const CONTROL_HEADER_LEN: usize = 8;
/// Length of an attribute header.
pub const ATTRIBUTE_HEADER_LEN: usize = 4;
/// Length of a nonce in the crypto binding attributes.
pub const NONCE_LEN: usize = 32;
/// Encapsulated protocol ID of PPP, the only one defined.
pub const ENCAPSULATED_PROTOCOL_PPP: u16 = 1;

/// Value length of a Crypto Binding Request attribute (without its 4-byte header).
const CRYPTO_BINDING_REQ_VALUE_LEN: usize = 36;
/// Value length of a Crypto Binding attribute (without its 4-byte header).
const CRYPTO_BINDING_VALUE_LEN: usize = 100;
/// Minimum value length of a Status Info attribute (without its 4-byte header).
const STATUS_INFO_MIN_VALUE_LEN: usize = 8;

/// A malformed SSTP packet, or one that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer bytes than the structure needs.
    #[error("truncated SSTP packet: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The version byte is not 0x10.
    #[error("bad SSTP version byte {0:#04x} (expected 0x10): not an SSTP stream")]
    BadVersion(u8),
    /// The header's length field is below the 4-byte header size.
    #[error("SSTP packet length field {0} is smaller than the 4-byte header")]
    LengthTooSmall(u16),
    /// The buffer handed to a packet decoder is not exactly one packet long.
    #[error("SSTP packet length field says {declared} bytes but {actual} were given")]
    LengthMismatch {
        /// Length from the header.
        declared: usize,
        /// Length of the buffer.
        actual: usize,
    },
    /// A control packet shorter than its fixed 8-byte part.
    #[error("SSTP control packet of {0} bytes is shorter than the 8-byte control header")]
    ControlTooShort(usize),
    /// An attribute's length field is below the 4-byte attribute header size.
    #[error("attribute #{index} has length {length}, smaller than its 4-byte header")]
    AttributeTooShort {
        /// Position of the attribute in the message (0-based).
        index: usize,
        /// Its length field.
        length: usize,
    },
    /// An attribute's length field runs past the end of the packet.
    #[error(
        "attribute #{index} claims {declared} bytes but only {remaining} remain in the packet"
    )]
    AttributeOverrun {
        /// Position of the attribute in the message (0-based).
        index: usize,
        /// Its length field.
        declared: usize,
        /// Bytes left in the packet.
        remaining: usize,
    },
    /// The packet ended before the declared number of attributes was read.
    #[error("control message declares {declared} attributes but contains only {found}")]
    MissingAttributes {
        /// Num Attributes field.
        declared: u16,
        /// Attributes actually present.
        found: u16,
    },
    /// Bytes remain after the declared attributes.
    #[error("{0} unexpected bytes after the last attribute of a control message")]
    TrailingBytes(usize),
    /// A known attribute has a value of the wrong size.
    #[error("attribute {attribute} has value length {actual}, expected {expected}")]
    InvalidAttributeLength {
        /// The attribute.
        attribute: AttributeId,
        /// The length its definition requires (minimum for Status Info).
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// A Crypto Binding attribute names no or several hash protocols.
    #[error("crypto binding names hash protocol {0:#04x}; exactly one of SHA1 (1) or SHA256 (2) is required")]
    InvalidHashProtocol(u8),
    /// A packet to encode exceeds 4095 bytes.
    #[error("SSTP packet of {0} bytes exceeds the 4095-byte maximum")]
    PacketTooLong(usize),
    /// A message to encode has more than 65535 attributes.
    #[error("control message has {0} attributes, more than 65535")]
    TooManyAttributes(usize),
}

/// The 4-byte header common to all packets (§2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// C bit: control (true) or data (false).
    pub control: bool,
    /// Total packet length including the header (4..=4095).
    pub length: u16,
}

impl Header {
    /// Decodes a header from the first 4 bytes of `buf` (the reserved bits are ignored).
    pub fn decode(buf: &[u8]) -> Result<Header, WireError> {
        let Some(&[version, flags, hi, lo]) = buf
            .get(..HEADER_LEN)
            .and_then(|h| <&[u8; 4]>::try_from(h).ok())
        else {
            return Err(WireError::Truncated {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        };
        if version != VERSION {
            return Err(WireError::BadVersion(version));
        }
        let length = u16::from_be_bytes([hi, lo]) & 0x0FFF;
        if (length as usize) < HEADER_LEN {
            return Err(WireError::LengthTooSmall(length));
        }
        Ok(Header {
            control: flags & 1 == 1,
            length,
        })
    }

    /// The 4 header bytes.
    pub fn encode(&self) -> [u8; 4] {
        let len = (self.length & 0x0FFF).to_be_bytes();
        [VERSION, u8::from(self.control), len[0], len[1]]
    }
}

/// Defines a u16/u8/u32-backed enum with an `Unknown` variant, conversions and names.
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        $name:ident: $repr:ty, unknown = $unk_doc:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            #[doc = $unk_doc]
            Unknown($repr),
        }

        impl $name {
            /// The numeric value on the wire.
            pub const fn to_raw(self) -> $repr {
                match self {
                    $( $name::$variant => $value, )*
                    $name::Unknown(v) => v,
                }
            }

            /// Maps a wire value (unknown values are kept).
            pub const fn from_raw(v: $repr) -> Self {
                match v {
                    $( $value => $name::$variant, )*
                    other => $name::Unknown(other),
                }
            }

            /// The name from [MS-SSTP] without its prefix, or `None` for unknown values.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($text), )*
                    $name::Unknown(_) => None,
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                Self::from_raw(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> Self {
                v.to_raw()
            }
        }
    };
}

coded_enum! {
    /// Control message type (§2.2.9).
    MessageType: u16, unknown = "A message type [MS-SSTP] does not define." {
        /// SSTP_MSG_CALL_CONNECT_REQUEST.
        CallConnectRequest = 0x0001 => "CALL_CONNECT_REQUEST",
        /// SSTP_MSG_CALL_CONNECT_ACK.
        CallConnectAck = 0x0002 => "CALL_CONNECT_ACK",
        /// SSTP_MSG_CALL_CONNECT_NAK.
        CallConnectNak = 0x0003 => "CALL_CONNECT_NAK",
        /// SSTP_MSG_CALL_CONNECTED.
        CallConnected = 0x0004 => "CALL_CONNECTED",
        /// SSTP_MSG_CALL_ABORT.
        CallAbort = 0x0005 => "CALL_ABORT",
        /// SSTP_MSG_CALL_DISCONNECT.
        CallDisconnect = 0x0006 => "CALL_DISCONNECT",
        /// SSTP_MSG_CALL_DISCONNECT_ACK.
        CallDisconnectAck = 0x0007 => "CALL_DISCONNECT_ACK",
        /// SSTP_MSG_ECHO_REQUEST.
        EchoRequest = 0x0008 => "ECHO_REQUEST",
        /// SSTP_MSG_ECHO_RESPONSE.
        EchoResponse = 0x0009 => "ECHO_RESPONSE",
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "unknown message type {:#06x}", self.to_raw()),
        }
    }
}

coded_enum! {
    /// Attribute ID (§2.2.4). 0 (SSTP_ATTRIB_NO_ERROR) only appears inside Status Info.
    AttributeId: u8, unknown = "An attribute ID [MS-SSTP] does not define." {
        /// SSTP_ATTRIB_NO_ERROR.
        NoError = 0x00 => "NO_ERROR",
        /// SSTP_ATTRIB_ENCAPSULATED_PROTOCOL_ID.
        EncapsulatedProtocolId = 0x01 => "ENCAPSULATED_PROTOCOL_ID",
        /// SSTP_ATTRIB_STATUS_INFO.
        StatusInfo = 0x02 => "STATUS_INFO",
        /// SSTP_ATTRIB_CRYPTO_BINDING.
        CryptoBinding = 0x03 => "CRYPTO_BINDING",
        /// SSTP_ATTRIB_CRYPTO_BINDING_REQ.
        CryptoBindingRequest = 0x04 => "CRYPTO_BINDING_REQ",
    }
}

impl fmt::Display for AttributeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "unknown attribute {:#04x}", self.to_raw()),
        }
    }
}

coded_enum! {
    /// Status value of a Status Info attribute (§2.2.8).
    StatusCode: u32, unknown = "A status value [MS-SSTP] does not define." {
        /// ATTRIB_STATUS_NO_ERROR.
        NoError = 0x00 => "NO_ERROR",
        /// ATTRIB_STATUS_DUPLICATE_ATTRIBUTE.
        DuplicateAttribute = 0x01 => "DUPLICATE_ATTRIBUTE",
        /// ATTRIB_STATUS_UNRECOGNIZED_ATTRIBUTE.
        UnrecognizedAttribute = 0x02 => "UNRECOGNIZED_ATTRIBUTE",
        /// ATTRIB_STATUS_INVALID_ATTRIB_VALUE_LENGTH.
        InvalidAttribValueLength = 0x03 => "INVALID_ATTRIB_VALUE_LENGTH",
        /// ATTRIB_STATUS_VALUE_NOT_SUPPORTED.
        ValueNotSupported = 0x04 => "VALUE_NOT_SUPPORTED",
        /// ATTRIB_STATUS_UNACCEPTED_FRAME_RECEIVED.
        UnacceptedFrameReceived = 0x05 => "UNACCEPTED_FRAME_RECEIVED",
        /// ATTRIB_STATUS_RETRY_COUNT_EXCEEDED.
        RetryCountExceeded = 0x06 => "RETRY_COUNT_EXCEEDED",
        /// ATTRIB_STATUS_INVALID_FRAME_RECEIVED.
        InvalidFrameReceived = 0x07 => "INVALID_FRAME_RECEIVED",
        /// ATTRIB_STATUS_NEGOTIATION_TIMEOUT.
        NegotiationTimeout = 0x08 => "NEGOTIATION_TIMEOUT",
        /// ATTRIB_STATUS_ATTRIB_NOT_SUPPORTED_IN_MSG.
        AttribNotSupportedInMsg = 0x09 => "ATTRIB_NOT_SUPPORTED_IN_MSG",
        /// ATTRIB_STATUS_REQUIRED_ATTRIBUTE_MISSING.
        RequiredAttributeMissing = 0x0A => "REQUIRED_ATTRIBUTE_MISSING",
        /// ATTRIB_STATUS_STATUS_INFO_NOT_SUPPORTED_IN_MSG.
        StatusInfoNotSupportedInMsg = 0x0B => "STATUS_INFO_NOT_SUPPORTED_IN_MSG",
    }
}

impl fmt::Display for StatusCode {
    /// `VALUE_NOT_SUPPORTED (4)`, or `0x0000002a (unknown)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.to_raw()),
            None => write!(f, "{:#010x} (unknown)", self.to_raw()),
        }
    }
}

/// Status Info attribute value (§2.2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInfo {
    /// The attribute the status refers to.
    pub attrib_id: AttributeId,
    /// The status.
    pub status: StatusCode,
    /// The value originally proposed (may be empty).
    pub value: Vec<u8>,
}

impl StatusInfo {
    /// A Status Info without an attribute value.
    pub fn new(attrib_id: AttributeId, status: StatusCode) -> StatusInfo {
        StatusInfo {
            attrib_id,
            status,
            value: Vec::new(),
        }
    }
}

impl fmt::Display for StatusInfo {
    /// `status VALUE_NOT_SUPPORTED (4) for attribute ENCAPSULATED_PROTOCOL_ID`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status {} for attribute {}", self.status, self.attrib_id)?;
        if !self.value.is_empty() {
            f.write_str(" (proposed value ")?;
            for b in self.value.iter().take(16) {
                write!(f, "{b:02x}")?;
            }
            if self.value.len() > 16 {
                f.write_str("…")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Crypto Binding Request attribute value (§2.2.6), sent by the server in CALL_CONNECT_ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoBindingRequest {
    /// Hash protocols the server accepts (raw bitmask; unknown bits kept).
    pub hash_protocols: HashProtocols,
    /// Server nonce.
    pub nonce: [u8; NONCE_LEN],
}

/// Crypto Binding attribute value (§2.2.7), sent by the client in CALL_CONNECTED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoBinding {
    /// The one chosen hash protocol.
    pub hash_protocol: HashProtocol,
    /// The server's nonce, echoed.
    pub nonce: [u8; NONCE_LEN],
    /// Certificate hash, SHA-1 results left-aligned and zero-padded.
    pub cert_hash: [u8; 32],
    /// Compound MAC, SHA-1 results left-aligned and zero-padded.
    pub compound_mac: [u8; 32],
}

/// One attribute of a control message (§2.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// SSTP_ATTRIB_ENCAPSULATED_PROTOCOL_ID: the protocol ID (1 = PPP).
    EncapsulatedProtocolId(u16),
    /// SSTP_ATTRIB_STATUS_INFO.
    StatusInfo(StatusInfo),
    /// SSTP_ATTRIB_CRYPTO_BINDING.
    CryptoBinding(CryptoBinding),
    /// SSTP_ATTRIB_CRYPTO_BINDING_REQ.
    CryptoBindingRequest(CryptoBindingRequest),
    /// Any other attribute, kept raw.
    Unknown {
        /// Attribute ID byte.
        id: u8,
        /// Value bytes (after the 4-byte attribute header).
        value: Vec<u8>,
    },
}

impl Attribute {
    /// The attribute's ID.
    pub fn id(&self) -> AttributeId {
        match self {
            Attribute::EncapsulatedProtocolId(_) => AttributeId::EncapsulatedProtocolId,
            Attribute::StatusInfo(_) => AttributeId::StatusInfo,
            Attribute::CryptoBinding(_) => AttributeId::CryptoBinding,
            Attribute::CryptoBindingRequest(_) => AttributeId::CryptoBindingRequest,
            Attribute::Unknown { id, .. } => AttributeId::from_raw(*id),
        }
    }

    /// Encoded length including the 4-byte attribute header.
    pub fn encoded_len(&self) -> usize {
        ATTRIBUTE_HEADER_LEN
            + match self {
                Attribute::EncapsulatedProtocolId(_) => 2,
                Attribute::StatusInfo(s) => STATUS_INFO_MIN_VALUE_LEN + s.value.len(),
                Attribute::CryptoBinding(_) => CRYPTO_BINDING_VALUE_LEN,
                Attribute::CryptoBindingRequest(_) => CRYPTO_BINDING_REQ_VALUE_LEN,
                Attribute::Unknown { value, .. } => value.len(),
            }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let len = (self.encoded_len() as u16) & 0x0FFF;
        out.push(0);
        out.push(self.id().to_raw());
        out.extend_from_slice(&len.to_be_bytes());
        match self {
            Attribute::EncapsulatedProtocolId(p) => out.extend_from_slice(&p.to_be_bytes()),
            Attribute::StatusInfo(s) => {
                out.extend_from_slice(&[0, 0, 0, s.attrib_id.to_raw()]);
                out.extend_from_slice(&s.status.to_raw().to_be_bytes());
                out.extend_from_slice(&s.value);
            }
            Attribute::CryptoBinding(b) => {
                out.extend_from_slice(&[0, 0, 0, b.hash_protocol.to_raw()]);
                out.extend_from_slice(&b.nonce);
                out.extend_from_slice(&b.cert_hash);
                out.extend_from_slice(&b.compound_mac);
            }
            Attribute::CryptoBindingRequest(r) => {
                out.extend_from_slice(&[0, 0, 0, r.hash_protocols.bits()]);
                out.extend_from_slice(&r.nonce);
            }
            Attribute::Unknown { value, .. } => out.extend_from_slice(value),
        }
    }

    /// Decodes one attribute value given its ID byte and value bytes.
    fn decode_value(id: u8, value: &[u8]) -> Result<Attribute, WireError> {
        let attribute = AttributeId::from_raw(id);
        let exact = |expected: usize| {
            if value.len() == expected {
                Ok(())
            } else {
                Err(WireError::InvalidAttributeLength {
                    attribute,
                    expected,
                    actual: value.len(),
                })
            }
        };
        Ok(match attribute {
            AttributeId::EncapsulatedProtocolId => {
                exact(2)?;
                Attribute::EncapsulatedProtocolId(u16::from_be_bytes([value[0], value[1]]))
            }
            AttributeId::StatusInfo => {
                if value.len() < STATUS_INFO_MIN_VALUE_LEN {
                    return Err(WireError::InvalidAttributeLength {
                        attribute,
                        expected: STATUS_INFO_MIN_VALUE_LEN,
                        actual: value.len(),
                    });
                }
                Attribute::StatusInfo(StatusInfo {
                    attrib_id: AttributeId::from_raw(value[3]),
                    status: StatusCode::from_raw(u32::from_be_bytes([
                        value[4], value[5], value[6], value[7],
                    ])),
                    value: value[STATUS_INFO_MIN_VALUE_LEN..].to_vec(),
                })
            }
            AttributeId::CryptoBinding => {
                exact(CRYPTO_BINDING_VALUE_LEN)?;
                let hash_protocol = HashProtocol::from_raw(value[3])
                    .ok_or(WireError::InvalidHashProtocol(value[3]))?;
                Attribute::CryptoBinding(CryptoBinding {
                    hash_protocol,
                    nonce: array32(&value[4..36]),
                    cert_hash: array32(&value[36..68]),
                    compound_mac: array32(&value[68..100]),
                })
            }
            AttributeId::CryptoBindingRequest => {
                exact(CRYPTO_BINDING_REQ_VALUE_LEN)?;
                Attribute::CryptoBindingRequest(CryptoBindingRequest {
                    hash_protocols: HashProtocols::from_bits(value[3]),
                    nonce: array32(&value[4..36]),
                })
            }
            AttributeId::NoError | AttributeId::Unknown(_) => Attribute::Unknown {
                id,
                value: value.to_vec(),
            },
        })
    }
}

/// Copies a 32-byte slice (callers pass exactly 32 bytes).
fn array32(s: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    let n = s.len().min(32);
    a[..n].copy_from_slice(&s[..n]);
    a
}

/// A control message (§2.2.2): message type plus attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMessage {
    /// Message type.
    pub message_type: MessageType,
    /// Attributes in wire order.
    pub attributes: Vec<Attribute>,
}

impl ControlMessage {
    /// A message without attributes.
    pub fn new(message_type: MessageType) -> ControlMessage {
        ControlMessage {
            message_type,
            attributes: Vec::new(),
        }
    }

    /// CALL_CONNECT_REQUEST with Encapsulated Protocol ID = PPP (14 bytes).
    pub fn call_connect_request() -> ControlMessage {
        ControlMessage {
            message_type: MessageType::CallConnectRequest,
            attributes: vec![Attribute::EncapsulatedProtocolId(ENCAPSULATED_PROTOCOL_PPP)],
        }
    }

    /// CALL_CONNECT_ACK with a Crypto Binding Request (48 bytes).
    pub fn call_connect_ack(
        hash_protocols: HashProtocols,
        nonce: [u8; NONCE_LEN],
    ) -> ControlMessage {
        ControlMessage {
            message_type: MessageType::CallConnectAck,
            attributes: vec![Attribute::CryptoBindingRequest(CryptoBindingRequest {
                hash_protocols,
                nonce,
            })],
        }
    }

    /// CALL_CONNECT_NAK with the given Status Info attributes.
    pub fn call_connect_nak(statuses: Vec<StatusInfo>) -> ControlMessage {
        ControlMessage {
            message_type: MessageType::CallConnectNak,
            attributes: statuses.into_iter().map(Attribute::StatusInfo).collect(),
        }
    }

    /// CALL_CONNECTED with a Crypto Binding attribute (112 bytes).
    pub fn call_connected(binding: CryptoBinding) -> ControlMessage {
        ControlMessage {
            message_type: MessageType::CallConnected,
            attributes: vec![Attribute::CryptoBinding(binding)],
        }
    }

    /// CALL_ABORT with an optional Status Info.
    pub fn call_abort(status: Option<StatusInfo>) -> ControlMessage {
        ControlMessage {
            message_type: MessageType::CallAbort,
            attributes: status.into_iter().map(Attribute::StatusInfo).collect(),
        }
    }

    /// CALL_DISCONNECT with an optional Status Info.
    pub fn call_disconnect(status: Option<StatusInfo>) -> ControlMessage {
        ControlMessage {
            message_type: MessageType::CallDisconnect,
            attributes: status.into_iter().map(Attribute::StatusInfo).collect(),
        }
    }

    /// The Status Info attributes, in order.
    pub fn status_infos(&self) -> impl Iterator<Item = &StatusInfo> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::StatusInfo(s) => Some(s),
            _ => None,
        })
    }

    /// The first Crypto Binding Request attribute, if any.
    pub fn crypto_binding_request(&self) -> Option<&CryptoBindingRequest> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::CryptoBindingRequest(r) => Some(r),
            _ => None,
        })
    }

    /// The first Crypto Binding attribute, if any.
    pub fn crypto_binding(&self) -> Option<&CryptoBinding> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::CryptoBinding(b) => Some(b),
            _ => None,
        })
    }

    /// Encoded length of the whole packet, header included.
    pub fn encoded_len(&self) -> usize {
        CONTROL_HEADER_LEN
            + self
                .attributes
                .iter()
                .map(Attribute::encoded_len)
                .sum::<usize>()
    }

    /// Appends the encoded packet to `out`. Fails (appending nothing) if it exceeds 4095 bytes
    /// or has more than 65535 attributes.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let len = self.encoded_len();
        if len > MAX_PACKET_LEN {
            return Err(WireError::PacketTooLong(len));
        }
        let count = u16::try_from(self.attributes.len())
            .map_err(|_| WireError::TooManyAttributes(self.attributes.len()))?;
        out.reserve(len);
        out.extend_from_slice(
            &Header {
                control: true,
                length: len as u16,
            }
            .encode(),
        );
        out.extend_from_slice(&self.message_type.to_raw().to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        for a in &self.attributes {
            a.encode(out);
        }
        Ok(())
    }

    /// The encoded packet as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v)?;
        Ok(v)
    }

    /// Decodes the body of a control packet: `packet` is the whole packet (header included), whose
    /// header has already been checked to say "control" and the packet's exact length.
    fn decode_body(packet: &[u8]) -> Result<ControlMessage, WireError> {
        if packet.len() < CONTROL_HEADER_LEN {
            return Err(WireError::ControlTooShort(packet.len()));
        }
        let message_type = MessageType::from_raw(u16::from_be_bytes([packet[4], packet[5]]));
        let declared = u16::from_be_bytes([packet[6], packet[7]]);
        let mut rest = &packet[CONTROL_HEADER_LEN..];
        // Each attribute takes at least 4 bytes: bound the allocation by the packet size.
        let mut attributes =
            Vec::with_capacity((declared as usize).min(rest.len() / ATTRIBUTE_HEADER_LEN));
        for index in 0..declared as usize {
            if rest.is_empty() {
                return Err(WireError::MissingAttributes {
                    declared,
                    found: index as u16,
                });
            }
            if rest.len() < ATTRIBUTE_HEADER_LEN {
                return Err(WireError::AttributeOverrun {
                    index,
                    declared: ATTRIBUTE_HEADER_LEN,
                    remaining: rest.len(),
                });
            }
            let id = rest[1];
            let length = (u16::from_be_bytes([rest[2], rest[3]]) & 0x0FFF) as usize;
            if length < ATTRIBUTE_HEADER_LEN {
                return Err(WireError::AttributeTooShort { index, length });
            }
            if length > rest.len() {
                return Err(WireError::AttributeOverrun {
                    index,
                    declared: length,
                    remaining: rest.len(),
                });
            }
            attributes.push(Attribute::decode_value(
                id,
                &rest[ATTRIBUTE_HEADER_LEN..length],
            )?);
            rest = &rest[length..];
        }
        if !rest.is_empty() {
            return Err(WireError::TrailingBytes(rest.len()));
        }
        Ok(ControlMessage {
            message_type,
            attributes,
        })
    }
}

impl fmt::Display for ControlMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message_type)?;
        let mut first = true;
        for s in self.status_infos() {
            f.write_str(if first { ", " } else { "; " })?;
            first = false;
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// A decoded packet. Data packets borrow the PPP frame from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A data packet carrying one PPP frame.
    Data(&'a [u8]),
    /// A control packet.
    Control(ControlMessage),
}

impl<'a> Packet<'a> {
    /// Decodes exactly one packet: `buf.len()` must equal the header's length field.
    pub fn decode(buf: &'a [u8]) -> Result<Packet<'a>, WireError> {
        let header = Header::decode(buf)?;
        if header.length as usize != buf.len() {
            return Err(WireError::LengthMismatch {
                declared: header.length as usize,
                actual: buf.len(),
            });
        }
        if header.control {
            ControlMessage::decode_body(buf).map(Packet::Control)
        } else {
            Ok(Packet::Data(&buf[HEADER_LEN..]))
        }
    }

    /// Appends the encoded packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        match self {
            Packet::Data(frame) => encode_data_packet(frame, out),
            Packet::Control(c) => c.encode(out),
        }
    }
}

/// Decodes one whole packet and returns its control message, or `Ok(None)` for a data packet.
pub fn decode_control(buf: &[u8]) -> Result<Option<ControlMessage>, WireError> {
    match Packet::decode(buf)? {
        Packet::Control(c) => Ok(Some(c)),
        Packet::Data(_) => Ok(None),
    }
}

/// Appends a data packet carrying `frame` to `out`. Fails (appending nothing) if the frame exceeds
/// 4091 bytes.
pub fn encode_data_packet(frame: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
    let len = frame.len() + HEADER_LEN;
    if len > MAX_PACKET_LEN {
        return Err(WireError::PacketTooLong(len));
    }
    out.reserve(len);
    out.extend_from_slice(
        &Header {
            control: false,
            length: len as u16,
        }
        .encode(),
    );
    out.extend_from_slice(frame);
    Ok(())
}

/// Splits a byte stream into SSTP packets, whatever the chunking of the input.
///
/// Complete packets inside an input chunk are handed out without copying; only a packet split
/// across chunks is buffered (at most 4095 bytes). After an error the deframer stays failed: the
/// stream cannot be resynchronised.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    error: Option<WireError>,
}

impl Deframer {
    /// A deframer at the start of a stream.
    pub fn new() -> Deframer {
        Deframer {
            buf: Vec::with_capacity(MAX_PACKET_LEN),
            error: None,
        }
    }

    /// Bytes buffered of an incomplete packet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The error that stopped the stream, if any.
    pub fn error(&self) -> Option<&WireError> {
        self.error.as_ref()
    }

    /// Feeds `input`; calls `on_packet` with every complete packet (header included, length
    /// checked, body not yet decoded) in stream order. `on_packet` returns `false` to stop: the
    /// remaining input is then discarded and the call returns `Ok(())`.
    ///
    /// A bad header (version or length) returns the error; every later call returns it too.
    pub fn feed<F>(&mut self, mut input: &[u8], mut on_packet: F) -> Result<(), WireError>
    where
        F: FnMut(&[u8]) -> bool,
    {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        // Finish a packet started in an earlier call.
        while !self.buf.is_empty() {
            if self.buf.len() < HEADER_LEN {
                let take = (HEADER_LEN - self.buf.len()).min(input.len());
                self.buf.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.buf.len() < HEADER_LEN {
                    return Ok(());
                }
            }
            let need = match Header::decode(&self.buf) {
                Ok(h) => h.length as usize,
                Err(e) => return Err(self.fail(e)),
            };
            if self.buf.len() < need {
                let take = (need - self.buf.len()).min(input.len());
                self.buf.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.buf.len() < need {
                    return Ok(());
                }
            }
            let go_on = on_packet(&self.buf);
            self.buf.clear();
            if !go_on {
                return Ok(());
            }
        }
        // Zero-copy path over whole packets in the input.
        while !input.is_empty() {
            if input.len() < HEADER_LEN {
                self.buf.extend_from_slice(input);
                return Ok(());
            }
            let len = match Header::decode(input) {
                Ok(h) => h.length as usize,
                Err(e) => return Err(self.fail(e)),
            };
            if input.len() < len {
                self.buf.extend_from_slice(input);
                return Ok(());
            }
            let (packet, rest) = input.split_at(len);
            input = rest;
            if !on_packet(packet) {
                return Ok(());
            }
        }
        Ok(())
    }

    fn fail(&mut self, e: WireError) -> WireError {
        self.buf.clear();
        self.error = Some(e.clone());
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn header_roundtrip_and_reserved_bits() {
        let h = Header::decode(&[0x10, 0x01, 0x00, 0x0E]).unwrap();
        assert_eq!(
            h,
            Header {
                control: true,
                length: 14
            }
        );
        assert_eq!(h.encode(), [0x10, 0x01, 0x00, 0x0E]);
        // Reserved bits of byte 1 and of the length are ignored.
        let h = Header::decode(&[0x10, 0xFE, 0xF0, 0x10]).unwrap();
        assert_eq!(
            h,
            Header {
                control: false,
                length: 16
            }
        );
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            Header::decode(&[0x10, 1]),
            Err(WireError::Truncated {
                needed: 4,
                available: 2
            })
        );
        assert_eq!(
            Header::decode(&[0x11, 1, 0, 8]),
            Err(WireError::BadVersion(0x11))
        );
        assert_eq!(
            Header::decode(&[0x10, 1, 0xF0, 3]),
            Err(WireError::LengthTooSmall(3))
        );
    }

    #[test]
    fn call_connect_request_bytes() {
        let b = ControlMessage::call_connect_request().to_bytes().unwrap();
        assert_eq!(b, hex("10 01 00 0E 00 01 00 01 00 01 00 06 00 01"));
        assert_eq!(
            Packet::decode(&b).unwrap(),
            Packet::Control(ControlMessage::call_connect_request())
        );
    }

    #[test]
    fn call_connect_ack_bytes() {
        let nonce = [0xAB; 32];
        let m = ControlMessage::call_connect_ack(HashProtocols::SHA256, nonce);
        let b = m.to_bytes().unwrap();
        assert_eq!(b.len(), 48);
        assert_eq!(
            &b[..16],
            &hex("10 01 00 30 00 02 00 01 00 04 00 28 00 00 00 02")[..]
        );
        assert_eq!(&b[16..], &nonce[..]);
        let Packet::Control(d) = Packet::decode(&b).unwrap() else {
            panic!("data")
        };
        assert_eq!(d, m);
        assert_eq!(
            d.crypto_binding_request().unwrap().hash_protocols,
            HashProtocols::SHA256
        );
    }

    #[test]
    fn fixed_size_messages() {
        for (t, raw) in [
            (MessageType::CallDisconnectAck, 7u8),
            (MessageType::EchoRequest, 8),
            (MessageType::EchoResponse, 9),
            (MessageType::CallAbort, 5),
            (MessageType::CallDisconnect, 6),
        ] {
            let b = ControlMessage::new(t).to_bytes().unwrap();
            assert_eq!(b, vec![0x10, 1, 0, 8, 0, raw, 0, 0]);
            assert_eq!(decode_control(&b).unwrap().unwrap().message_type, t);
        }
    }

    #[test]
    fn nak_with_status_info() {
        let s = StatusInfo {
            attrib_id: AttributeId::EncapsulatedProtocolId,
            status: StatusCode::ValueNotSupported,
            value: vec![0, 1],
        };
        let m = ControlMessage::call_connect_nak(vec![
            s.clone(),
            StatusInfo::new(AttributeId::Unknown(9), StatusCode::Unknown(77)),
        ]);
        let b = m.to_bytes().unwrap();
        assert_eq!(&b[..8], &[0x10, 1, 0, 8 + 14 + 12, 0, 3, 0, 2]);
        assert_eq!(
            &b[8..22],
            &hex("00 02 00 0E 00 00 00 01 00 00 00 04 00 01")[..]
        );
        let d = decode_control(&b).unwrap().unwrap();
        assert_eq!(d, m);
        assert_eq!(d.status_infos().count(), 2);
        assert_eq!(
            d.to_string(),
            "CALL_CONNECT_NAK, status VALUE_NOT_SUPPORTED (4) for attribute ENCAPSULATED_PROTOCOL_ID \
             (proposed value 0001); status 0x0000004d (unknown) for attribute unknown attribute 0x09"
        );
    }

    #[test]
    fn displays() {
        assert_eq!(MessageType::CallConnectNak.to_string(), "CALL_CONNECT_NAK");
        assert_eq!(
            MessageType::Unknown(0x42).to_string(),
            "unknown message type 0x0042"
        );
        assert_eq!(
            StatusCode::ValueNotSupported.to_string(),
            "VALUE_NOT_SUPPORTED (4)"
        );
        assert_eq!(
            StatusCode::from_raw(11),
            StatusCode::StatusInfoNotSupportedInMsg
        );
        assert_eq!(AttributeId::from_raw(4).to_string(), "CRYPTO_BINDING_REQ");
        let s = StatusInfo::new(
            AttributeId::EncapsulatedProtocolId,
            StatusCode::ValueNotSupported,
        );
        assert_eq!(
            s.to_string(),
            "status VALUE_NOT_SUPPORTED (4) for attribute ENCAPSULATED_PROTOCOL_ID"
        );
        for v in 0..=12u32 {
            assert_eq!(StatusCode::from_raw(v).to_raw(), v);
        }
        for v in 0..=10u16 {
            assert_eq!(MessageType::from_raw(v).to_raw(), v);
        }
    }

    #[test]
    fn crypto_binding_roundtrip() {
        let cb = CryptoBinding {
            hash_protocol: HashProtocol::Sha1,
            nonce: [1; 32],
            cert_hash: [2; 32],
            compound_mac: [3; 32],
        };
        let b = ControlMessage::call_connected(cb).to_bytes().unwrap();
        assert_eq!(b.len(), 112);
        assert_eq!(
            &b[..16],
            &hex("10 01 00 70 00 04 00 01 00 03 00 68 00 00 00 01")[..]
        );
        assert_eq!(
            decode_control(&b).unwrap().unwrap().crypto_binding(),
            Some(&cb)
        );
        let mut bad = b.clone();
        bad[15] = 3;
        assert_eq!(decode_control(&bad), Err(WireError::InvalidHashProtocol(3)));
    }

    #[test]
    fn unknown_attribute_and_type_kept() {
        let m = ControlMessage {
            message_type: MessageType::Unknown(0x77),
            attributes: vec![
                Attribute::Unknown {
                    id: 0x99,
                    value: vec![1, 2, 3],
                },
                Attribute::Unknown {
                    id: 0,
                    value: vec![],
                },
            ],
        };
        let b = m.to_bytes().unwrap();
        assert_eq!(decode_control(&b).unwrap().unwrap(), m);
    }

    #[test]
    fn data_packet() {
        let mut out = Vec::new();
        encode_data_packet(&[0xFF, 0x03, 0xC0, 0x21], &mut out).unwrap();
        assert_eq!(out, [0x10, 0, 0, 8, 0xFF, 0x03, 0xC0, 0x21]);
        assert_eq!(
            Packet::decode(&out).unwrap(),
            Packet::Data(&[0xFF, 0x03, 0xC0, 0x21])
        );
        assert_eq!(decode_control(&out), Ok(None));
        let big = vec![0u8; MAX_DATA_LEN + 1];
        assert_eq!(
            encode_data_packet(&big, &mut out),
            Err(WireError::PacketTooLong(4096))
        );
        assert_eq!(out.len(), 8);
        let max = vec![7u8; MAX_DATA_LEN];
        let mut out = Vec::new();
        encode_data_packet(&max, &mut out).unwrap();
        assert_eq!(out.len(), MAX_PACKET_LEN);
        assert_eq!(Packet::decode(&out).unwrap(), Packet::Data(&max[..]));
    }

    #[test]
    fn decode_errors() {
        // Length mismatch.
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 9, 0, 8, 0, 0]),
            Err(WireError::LengthMismatch {
                declared: 9,
                actual: 8
            })
        );
        // Control too short.
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 6, 0, 8]),
            Err(WireError::ControlTooShort(6))
        );
        // Missing attributes.
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 8, 0, 1, 0, 1]),
            Err(WireError::MissingAttributes {
                declared: 1,
                found: 0
            })
        );
        // Attribute header cut.
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 10, 0, 1, 0, 1, 0, 1]),
            Err(WireError::AttributeOverrun {
                index: 0,
                declared: 4,
                remaining: 2
            })
        );
        // Attribute too short.
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 12, 0, 1, 0, 1, 0, 1, 0, 3]),
            Err(WireError::AttributeTooShort {
                index: 0,
                length: 3
            })
        );
        // Attribute overrun.
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 12, 0, 1, 0, 1, 0, 1, 0, 6]),
            Err(WireError::AttributeOverrun {
                index: 0,
                declared: 6,
                remaining: 4
            })
        );
        // Wrong length for a fixed attribute.
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 15, 0, 1, 0, 1, 0, 1, 0, 7, 0, 1, 2]),
            Err(WireError::InvalidAttributeLength {
                attribute: AttributeId::EncapsulatedProtocolId,
                expected: 2,
                actual: 3
            })
        );
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 12, 0, 3, 0, 1, 0, 2, 0, 4]),
            Err(WireError::InvalidAttributeLength {
                attribute: AttributeId::StatusInfo,
                expected: 8,
                actual: 0
            })
        );
        let mut ack = ControlMessage::call_connect_ack(HashProtocols::SHA1, [0; 32])
            .to_bytes()
            .unwrap();
        ack.pop();
        ack[3] -= 1;
        ack[11] -= 1;
        assert_eq!(
            Packet::decode(&ack),
            Err(WireError::InvalidAttributeLength {
                attribute: AttributeId::CryptoBindingRequest,
                expected: 36,
                actual: 35
            })
        );
        // Trailing bytes.
        assert_eq!(
            Packet::decode(&[0x10, 1, 0, 9, 0, 8, 0, 0, 0]),
            Err(WireError::TrailingBytes(1))
        );
        // Encoding too long.
        let m = ControlMessage::call_abort(Some(StatusInfo {
            attrib_id: AttributeId::NoError,
            status: StatusCode::NoError,
            value: vec![0; 4096],
        }));
        assert!(matches!(m.to_bytes(), Err(WireError::PacketTooLong(_))));
    }

    #[test]
    fn deframer_splits() {
        let mut stream = Vec::new();
        ControlMessage::call_connect_request()
            .encode(&mut stream)
            .unwrap();
        encode_data_packet(&[1, 2, 3], &mut stream).unwrap();
        ControlMessage::new(MessageType::EchoRequest)
            .encode(&mut stream)
            .unwrap();
        encode_data_packet(&[9; 4091], &mut stream).unwrap();
        let mut expected = Vec::new();
        Deframer::new()
            .feed(&stream, |p| {
                expected.push(p.to_vec());
                true
            })
            .unwrap();
        assert_eq!(expected.len(), 4);
        for chunk in [1, 2, 3, 5, 7, 100, 4095] {
            let mut d = Deframer::new();
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                d.feed(c, |p| {
                    got.push(p.to_vec());
                    true
                })
                .unwrap();
            }
            assert_eq!(got, expected, "chunk {chunk}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn deframer_error_is_sticky() {
        let mut d = Deframer::new();
        d.feed(&[0x10], |_| true).unwrap();
        assert_eq!(
            d.feed(&[0x00, 0x00, 0x02, 1, 2], |_| true),
            Err(WireError::LengthTooSmall(2))
        );
        assert_eq!(
            d.feed(&[0x10, 0, 0, 4], |_| true),
            Err(WireError::LengthTooSmall(2))
        );
        let mut d = Deframer::new();
        assert_eq!(
            d.feed(&[0x20, 0, 0, 4], |_| true),
            Err(WireError::BadVersion(0x20))
        );
        assert!(d.error().is_some());
    }

    #[test]
    fn deframer_empty_data_packet_split() {
        let mut d = Deframer::new();
        let mut n = 0;
        d.feed(&[0x10, 0x00], |_| true).unwrap();
        d.feed(&[0x00, 0x04], |p| {
            assert_eq!(p, [0x10, 0, 0, 4]);
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn deframer_stop() {
        let mut stream = Vec::new();
        encode_data_packet(&[1], &mut stream).unwrap();
        encode_data_packet(&[2], &mut stream).unwrap();
        let mut n = 0;
        Deframer::new()
            .feed(&stream, |_| {
                n += 1;
                false
            })
            .unwrap();
        assert_eq!(n, 1);
    }
}
