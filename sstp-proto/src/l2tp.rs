//! L2TPv2 data messages (RFC 2661 §3.1), the framing between the bridge and the kernel's
//! PPPoL2TP tunnel socket: one PPP frame per UDP datagram behind a small header.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//! |           Tunnel ID           |           Session ID          |
//! |             Ns (opt)          |             Nr (opt)          |
//! |      Offset Size (opt)        |    Offset pad... (opt)
//! ```
//!
//! Only data messages (T = 0) are accepted: the bridge never speaks the L2TP control protocol.

use core::fmt;

/// Length of the header [`encode_header`] writes (no optional field).
pub const DATA_HEADER_LEN: usize = 6;

const FLAG_TYPE: u16 = 0x8000;
const FLAG_LENGTH: u16 = 0x4000;
const FLAG_SEQUENCE: u16 = 0x0800;
const FLAG_OFFSET: u16 = 0x0200;
const VERSION_MASK: u16 = 0x000F;
const VERSION_2: u16 = 2;

/// A parsed L2TPv2 data message; `payload` borrows the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataMessage<'a> {
    /// Tunnel ID (the receiver's).
    pub tunnel_id: u16,
    /// Session ID (the receiver's).
    pub session_id: u16,
    /// (Ns, Nr) when the S bit is set.
    pub sequence: Option<(u16, u16)>,
    /// The PPP frame.
    pub payload: &'a [u8],
}

/// Why a datagram is not an L2TPv2 data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than the header its flags announce.
    Truncated,
    /// The version field is not 2.
    Version(u8),
    /// T = 1: a control message.
    Control,
    /// The Length field is smaller than the header or larger than the datagram.
    Length(u16),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated => f.write_str("truncated L2TP header"),
            ParseError::Version(v) => write!(f, "L2TP version {v}, expected 2"),
            ParseError::Control => f.write_str("an L2TP control message on the data channel"),
            ParseError::Length(l) => write!(f, "L2TP length field {l} out of range"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Reads big-endian u16 fields in order, failing on truncation.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Fields<'_> {
    fn u16(&mut self) -> Result<u16, ParseError> {
        let end = self.at.checked_add(2).ok_or(ParseError::Truncated)?;
        let b = self.bytes.get(self.at..end).ok_or(ParseError::Truncated)?;
        self.at = end;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Parses one datagram received from the kernel.
pub fn parse_data(datagram: &[u8]) -> Result<DataMessage<'_>, ParseError> {
    let mut r = Fields {
        bytes: datagram,
        at: 0,
    };
    let flags = r.u16()?;
    let version = flags & VERSION_MASK;
    if version != VERSION_2 {
        return Err(ParseError::Version(version as u8));
    }
    if flags & FLAG_TYPE != 0 {
        return Err(ParseError::Control);
    }
    let mut bytes = datagram;
    if flags & FLAG_LENGTH != 0 {
        let length = r.u16()?;
        if usize::from(length) > datagram.len() {
            return Err(ParseError::Length(length));
        }
        bytes = &datagram[..usize::from(length)];
        r.bytes = bytes;
    }
    let tunnel_id = r.u16()?;
    let session_id = r.u16()?;
    let sequence = if flags & FLAG_SEQUENCE != 0 {
        Some((r.u16()?, r.u16()?))
    } else {
        None
    };
    if flags & FLAG_OFFSET != 0 {
        let pad = usize::from(r.u16()?);
        r.at = r.at.checked_add(pad).ok_or(ParseError::Truncated)?;
    }
    let payload = bytes.get(r.at..).ok_or(ParseError::Truncated)?;
    Ok(DataMessage {
        tunnel_id,
        session_id,
        sequence,
        payload,
    })
}

/// The 6-byte data header: version 2, no optional field.
pub fn encode_header(tunnel_id: u16, session_id: u16) -> [u8; DATA_HEADER_LEN] {
    let t = tunnel_id.to_be_bytes();
    let s = session_id.to_be_bytes();
    [0x00, VERSION_2 as u8, t[0], t[1], s[0], s[1]]
}

/// Appends one datagram (header + `frame`) to `out`.
pub fn encode_data(tunnel_id: u16, session_id: u16, frame: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&encode_header(tunnel_id, session_id));
    out.extend_from_slice(frame);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn minimal_header() {
        let d = [0x00, 0x02, 0x12, 0x34, 0x56, 0x78, 0xFF, 0x03, 0xC0, 0x21];
        let m = parse_data(&d).unwrap();
        assert_eq!(m.tunnel_id, 0x1234);
        assert_eq!(m.session_id, 0x5678);
        assert_eq!(m.sequence, None);
        assert_eq!(m.payload, &[0xFF, 0x03, 0xC0, 0x21]);
    }

    #[test]
    fn all_optional_fields() {
        // L, S, O; length 18 of a 20-byte datagram (2 bytes trailing junk), 2 bytes of pad.
        let d = [
            0x4A, 0x02, 0x00, 18, 0, 1, 0, 2, 0, 7, 0, 9, 0, 2, 0xEE, 0xEE, 0xAB, 0xCD, 0x99, 0x99,
        ];
        let m = parse_data(&d[..18]).unwrap();
        assert_eq!((m.tunnel_id, m.session_id), (1, 2));
        assert_eq!(m.sequence, Some((7, 9)));
        assert_eq!(m.payload, &[0xAB, 0xCD]);
        assert_eq!(parse_data(&d).unwrap().payload, &[0xAB, 0xCD]);
    }

    #[test]
    fn malformed_datagrams() {
        assert_eq!(parse_data(&[]), Err(ParseError::Truncated));
        assert_eq!(parse_data(&[0x00]), Err(ParseError::Truncated));
        assert_eq!(
            parse_data(&[0x00, 0x03, 0, 1, 0, 2]),
            Err(ParseError::Version(3))
        );
        assert_eq!(parse_data(&[0xC8, 0x02, 0, 12]), Err(ParseError::Control));
        assert_eq!(
            parse_data(&[0x00, 0x02, 0, 1, 0]),
            Err(ParseError::Truncated)
        );
        assert_eq!(
            parse_data(&[0x40, 0x02, 0, 99, 0, 1, 0, 2]),
            Err(ParseError::Length(99))
        );
        // Length smaller than the header it announces.
        assert_eq!(
            parse_data(&[0x40, 0x02, 0, 4, 0, 1, 0, 2]),
            Err(ParseError::Truncated)
        );
        // Offset pad beyond the end.
        assert_eq!(
            parse_data(&[0x02, 0x02, 0, 1, 0, 2, 0xFF, 0xFF]),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn header_bytes() {
        assert_eq!(encode_header(0x0102, 0xA0B0), [0, 2, 1, 2, 0xA0, 0xB0]);
    }

    proptest! {
        #[test]
        fn round_trip(t: u16, s: u16, frame in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut d = Vec::new();
            encode_data(t, s, &frame, &mut d);
            let m = parse_data(&d).unwrap();
            prop_assert_eq!((m.tunnel_id, m.session_id, m.sequence), (t, s, None));
            prop_assert_eq!(m.payload, &frame[..]);
        }

        #[test]
        fn never_panics(d in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(m) = parse_data(&d) {
                prop_assert!(m.payload.len() <= d.len());
            }
        }
    }
}
