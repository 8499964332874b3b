//! Async HDLC framing (RFC 1662) between pppd's pty and SSTP data packets: 0x7E flags, 0x7D
//! escapes, FCS-16. The kernel's ppp_async does the other side of the pty.
//!
//! Encoding escapes 0x7E, 0x7D and every control character below 0x20 (pppd's receive ACCM is
//! all ones until LCP opens, and unescaped flagged characters would be dropped), so frames are
//! valid whatever ACCM is negotiated.

const FLAG: u8 = 0x7e;
const ESC: u8 = 0x7d;
const FCS_INIT: u16 = 0xffff;
const FCS_GOOD: u16 = 0xf0b8;

const fn fcs_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut v = i as u16;
        let mut b = 0;
        while b < 8 {
            v = if v & 1 != 0 {
                (v >> 1) ^ 0x8408
            } else {
                v >> 1
            };
            b += 1;
        }
        t[i] = v;
        i += 1;
    }
    t
}

static FCS_TABLE: [u16; 256] = fcs_table();

/// FCS-16 over `data` starting from `fcs`.
pub fn fcs16(mut fcs: u16, data: &[u8]) -> u16 {
    for &b in data {
        fcs = (fcs >> 8) ^ FCS_TABLE[((fcs ^ b as u16) & 0xff) as usize];
    }
    fcs
}

#[inline]
fn push_escaped(out: &mut Vec<u8>, b: u8) {
    if b < 0x20 || b == FLAG || b == ESC {
        out.push(ESC);
        out.push(b ^ 0x20);
    } else {
        out.push(b);
    }
}

/// Appends `frame` (address/control, protocol, payload; no FCS) as one HDLC frame to `out`.
pub fn encode(frame: &[u8], out: &mut Vec<u8>) {
    out.reserve(frame.len() + frame.len() / 8 + 8);
    out.push(FLAG);
    for &b in frame {
        push_escaped(out, b);
    }
    let fcs = !fcs16(FCS_INIT, frame);
    push_escaped(out, (fcs & 0xff) as u8);
    push_escaped(out, (fcs >> 8) as u8);
    out.push(FLAG);
}

/// Incremental decoder: feed any split of the byte stream, take whole frames.
pub struct Decoder {
    buf: Vec<u8>,
    escaped: bool,
    overflow: bool,
    max: usize,
    /// Frames dropped for a bad FCS, bad length or overflow.
    pub bad_frames: u64,
}

impl Decoder {
    /// A decoder that drops frames longer than `max` bytes (without FCS).
    pub fn new(max: usize) -> Decoder {
        Decoder {
            buf: Vec::with_capacity(max + 2),
            escaped: false,
            overflow: false,
            max,
            bad_frames: 0,
        }
    }

    /// Feeds `input`; calls `sink` with each complete, FCS-checked frame (FCS stripped).
    pub fn feed(&mut self, input: &[u8], mut sink: impl FnMut(&[u8])) {
        for &b in input {
            if b == FLAG {
                self.end_frame(&mut sink);
                continue;
            }
            let b = if self.escaped {
                self.escaped = false;
                b ^ 0x20
            } else if b == ESC {
                self.escaped = true;
                continue;
            } else {
                b
            };
            if self.buf.len() >= self.max + 2 {
                self.overflow = true;
            } else {
                self.buf.push(b);
            }
        }
    }

    fn end_frame(&mut self, sink: &mut impl FnMut(&[u8])) {
        let escaped = std::mem::replace(&mut self.escaped, false);
        let overflow = std::mem::replace(&mut self.overflow, false);
        if self.buf.is_empty() && !overflow {
            return; // back-to-back flags
        }
        let ok =
            !escaped && !overflow && self.buf.len() > 2 && fcs16(FCS_INIT, &self.buf) == FCS_GOOD;
        if ok {
            let n = self.buf.len() - 2;
            sink(&self.buf[..n]);
        } else {
            self.bad_frames += 1;
        }
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcs_check_value() {
        // RFC 1662 C.2: the FCS-16 of "123456789" is 0x906E (ones' complement of the register).
        assert_eq!(!fcs16(FCS_INIT, b"123456789"), 0x906e);
    }

    #[test]
    fn roundtrip_any_split() {
        let frames: Vec<Vec<u8>> = vec![
            vec![0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04],
            (0..=255u8).collect(),
            vec![0x7e, 0x7d, 0x00, 0x1f, 0x20],
        ];
        let mut wire = Vec::new();
        for f in &frames {
            encode(f, &mut wire);
        }
        assert!(!wire[1..wire.len() - 1].windows(1).all(|w| w[0] == FLAG));
        for chunk in [1usize, 2, 3, 7, 64, wire.len()] {
            let mut d = Decoder::new(4096);
            let mut got = Vec::new();
            for c in wire.chunks(chunk) {
                d.feed(c, |f| got.push(f.to_vec()));
            }
            assert_eq!(got, frames, "chunk {chunk}");
            assert_eq!(d.bad_frames, 0);
        }
    }

    #[test]
    fn corrupt_and_oversized_frames_are_dropped() {
        let mut wire = Vec::new();
        encode(&[0xff, 0x03, 0x00, 0x21, 1, 2, 3], &mut wire);
        wire[4] ^= 0x01; // flip a payload bit
        let mut d = Decoder::new(4096);
        let mut n = 0;
        d.feed(&wire, |_| n += 1);
        assert_eq!((n, d.bad_frames), (0, 1));

        let mut big = Vec::new();
        encode(&[0x41; 100], &mut big);
        let mut d = Decoder::new(50);
        d.feed(&big, |_| n += 1);
        assert_eq!((n, d.bad_frames), (0, 1));
        // Garbage without flags never yields a frame and never grows without bound.
        let mut d = Decoder::new(16);
        d.feed(&[0x55; 10_000], |_| n += 1);
        assert!(d.buf.len() <= 18);
        assert_eq!(n, 0);
    }
}
