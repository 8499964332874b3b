//! The configuration records the plugin hands to another process (`sstp-ipc-fd N`): written by
//! the plugin at ip-up/ip-down and for each error it logs, read by `sstp connect` and the
//! NetworkManager service.
//! One definition of the wire format for every side.
//!
//! A message is a sequence of records, each a `u32` big-endian length followed by that many
//! bytes of UTF-8 `key=value`; an empty record (length 0) ends the message. Keys: `event` (first
//! record: `ip-up`, `ip-down`, `ipv6-up`, `ipv6-down`, `error`), `ifname`, `server` (`host:port`
//! of the SSTP server), `ip4.local`, `ip4.peer`, `ip4.dns` (repeated), `ip6.local-id`,
//! `ip6.peer-id` (interface identifiers `xxxx:xxxx:xxxx:xxxx`), `message` (with `error`); the
//! full table is in plugin/OPTIONS.md.

/// Largest record: the writer truncates to it, the reader refuses longer ones.
pub const MAX_RECORD: usize = 4096;

/// Encodes one message.
pub fn encode(records: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let rec = format!("{k}={v}");
        let bytes = &rec.as_bytes()[..rec.len().min(MAX_RECORD)];
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(&0u32.to_be_bytes());
    out
}

/// Why [`decode`] could not return a message.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ends inside a record or before the end marker: more bytes are needed.
    Incomplete,
    /// A record longer than [`MAX_RECORD`].
    TooLong(usize),
    /// A record that is not UTF-8 `key=value`.
    Malformed,
}

/// Decodes one message from the front of `buf`: the records and the number of bytes used.
pub fn decode(buf: &[u8]) -> Result<(Vec<(String, String)>, usize), DecodeError> {
    let mut pos = 0usize;
    let mut out = Vec::new();
    loop {
        let len_bytes = buf.get(pos..pos + 4).ok_or(DecodeError::Incomplete)?;
        let len =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        pos += 4;
        if len == 0 {
            return Ok((out, pos));
        }
        if len > MAX_RECORD {
            return Err(DecodeError::TooLong(len));
        }
        let rec = buf.get(pos..pos + len).ok_or(DecodeError::Incomplete)?;
        pos += len;
        let s = std::str::from_utf8(rec).map_err(|_| DecodeError::Malformed)?;
        let (k, v) = s.split_once('=').ok_or(DecodeError::Malformed)?;
        out.push((k.to_owned(), v.to_owned()));
    }
}
