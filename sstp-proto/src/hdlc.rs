//! Asynchronous HDLC-like framing (RFC 1662) for the pppd pty side: `0x7E` flags, `0x7D`
//! escapes, an async control character map (ACCM) and the 16-bit FCS.
//!
//! [`Decoder`] turns the byte stream read from the pty master into PPP frames (FCS checked and
//! stripped); [`Encoder`] does the reverse. Both work on runs of bytes (lookup tables,
//! `extend_from_slice`) and never allocate per byte; the decoder's buffer is bounded.

/// Flag sequence.
pub const FLAG: u8 = 0x7E;
/// Control escape.
pub const ESCAPE: u8 = 0x7D;
/// Initial FCS-16 value.
pub const FCS_INIT: u16 = 0xFFFF;
/// FCS-16 residue of a frame with a correct FCS.
pub const FCS_GOOD: u16 = 0xF0B8;
/// Default bound on a decoded frame including its 2 FCS bytes: the largest PPP frame an SSTP
/// data packet can carry (4091) plus the FCS.
pub const DEFAULT_MAX_FRAME: usize = crate::wire::MAX_DATA_LEN + 2;

const fn make_fcs_tables() -> [[u16; 256]; 8] {
    let mut t = [[0u16; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut v = i as u16;
        let mut bit = 0;
        while bit < 8 {
            v = if v & 1 != 0 {
                (v >> 1) ^ 0x8408
            } else {
                v >> 1
            };
            bit += 1;
        }
        t[0][i] = v;
        i += 1;
    }
    // t[k][i]: FCS contribution of byte i followed by k zero bytes (slicing-by-8).
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

/// RFC 1662 FCS-16 lookup tables (reflected polynomial 0x8408), sliced by 8.
static FCS_TABLES: [[u16; 256]; 8] = make_fcs_tables();

/// Shortest input worth the carry-less multiplication's set-up.
#[cfg(target_arch = "x86_64")]
const CLMUL_MIN_LEN: usize = 64;

/// Updates an FCS-16 over `data` (start with [`FCS_INIT`]): with carry-less multiplication
/// where the CPU has it (x86-64 PCLMULQDQ), else with tables sliced by 8.
#[inline]
pub fn fcs16(fcs: u16, data: &[u8]) -> u16 {
    #[cfg(target_arch = "x86_64")]
    if data.len() >= CLMUL_MIN_LEN && crate::fcs_clmul::available() {
        return crate::fcs_clmul::fcs16(fcs, data);
    }
    fcs16_sliced(fcs, data)
}

/// [`fcs16`] with tables only, 8 bytes per step.
pub fn fcs16_sliced(mut fcs: u16, data: &[u8]) -> u16 {
    let t = &FCS_TABLES;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let x = fcs ^ u16::from_le_bytes([c[0], c[1]]);
        fcs = t[7][(x & 0xFF) as usize]
            ^ t[6][(x >> 8) as usize]
            ^ t[5][c[2] as usize]
            ^ t[4][c[3] as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        fcs = (fcs >> 8) ^ t[0][((fcs ^ u16::from(b)) & 0xFF) as usize];
    }
    fcs
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of the result whose byte in `x` is zero. Exact for the lowest zero
/// byte (higher ones may be false positives), which is all [`find_special`] uses.
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// Index of the first byte that is 0x7E or 0x7D, or (if `controls`) below 0x20.
#[inline]
fn find_special(data: &[u8], controls: bool) -> Option<usize> {
    if controls {
        find_special_or_control(data)
    } else {
        // SIMD where the CPU has it: most frames hold only a few bytes to escape.
        memchr::memchr2(FLAG, ESCAPE, data)
    }
}

/// [`find_special`] with controls, 8 bytes per step.
fn find_special_or_control(data: &[u8]) -> Option<usize> {
    let mut chunks = data.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let m =
            zero_bytes(x ^ (LO * 0x7E)) | zero_bytes(x ^ (LO * 0x7D)) | zero_bytes(x & (LO * 0xE0));
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == FLAG || b == ESCAPE || b < 0x20)
        .map(|i| base + i)
}

/// The two FCS bytes to append to `frame` (already complemented, least significant first).
pub fn fcs_bytes(frame: &[u8]) -> [u8; 2] {
    (!fcs16(FCS_INIT, frame)).to_le_bytes()
}

/// Counters of a [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderStats {
    /// Good frames produced.
    pub frames: u64,
    /// Frames dropped for a bad FCS.
    pub bad_fcs: u64,
    /// Frames dropped for exceeding the size bound.
    pub too_long: u64,
    /// Frames aborted by `7D 7E`.
    pub aborted: u64,
    /// Frames shorter than 4 bytes (FCS included) dropped.
    pub runts: u64,
}

impl DecoderStats {
    /// All dropped frames.
    pub fn dropped(&self) -> u64 {
        self.bad_fcs + self.too_long + self.aborted + self.runts
    }
}

/// Async-HDLC stream decoder.
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Vec<u8>,
    max_frame: usize,
    escaped: bool,
    /// The current frame exceeded `max_frame`; skip to the next flag.
    discarding: bool,
    /// Length of the last good frame left in `buf`, cleared on the next call.
    ready: Option<usize>,
    stats: DecoderStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_FRAME)
    }
}

impl Decoder {
    /// A decoder that drops frames longer than `max_frame` bytes (FCS included).
    pub fn new(max_frame: usize) -> Decoder {
        let max_frame = max_frame.max(4);
        Decoder {
            buf: Vec::with_capacity(max_frame),
            max_frame,
            escaped: false,
            discarding: false,
            ready: None,
            stats: DecoderStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Bytes of an incomplete frame held.
    pub fn buffered(&self) -> usize {
        if self.ready.is_some() {
            0
        } else {
            self.buf.len()
        }
    }

    /// Consumes bytes from `input` (advancing it) until a complete good frame is found, and
    /// returns it without its FCS; `None` when `input` is used up. Any split of the stream is
    /// fine: incomplete frames are kept for the next call.
    pub fn next_frame<'s>(&'s mut self, input: &mut &[u8]) -> Option<&'s [u8]> {
        if self.ready.take().is_some() {
            self.buf.clear();
        }
        while !input.is_empty() {
            if self.discarding {
                match input.iter().position(|&b| b == FLAG) {
                    Some(i) => {
                        *input = &input[i + 1..];
                        self.discarding = false;
                        self.escaped = false;
                        self.buf.clear();
                    }
                    None => {
                        // The last byte may be an escape; irrelevant since we skip to a flag.
                        *input = &[];
                    }
                }
                continue;
            }
            if self.escaped {
                let b = input[0];
                *input = &input[1..];
                self.escaped = false;
                if b == FLAG {
                    // 7D 7E: abort sequence.
                    self.stats.aborted += 1;
                    self.buf.clear();
                    continue;
                }
                self.push_byte(b ^ 0x20);
                continue;
            }
            // Fast path over the chunk: copy runs of ordinary bytes, unescape escape pairs in
            // place, stop at a flag (or at the end of the chunk).
            let (i, at_flag) = self.scan(input);
            *input = &input[i..];
            if !at_flag {
                continue;
            }
            // Flag: end of frame (or inter-frame fill).
            if self.buf.is_empty() {
                continue;
            }
            if self.buf.len() < 4 {
                self.stats.runts += 1;
                self.buf.clear();
                continue;
            }
            if fcs16(FCS_INIT, &self.buf) != FCS_GOOD {
                self.stats.bad_fcs += 1;
                self.buf.clear();
                continue;
            }
            self.stats.frames += 1;
            let len = self.buf.len() - 2;
            self.ready = Some(len);
            return Some(&self.buf[..len]);
        }
        None
    }

    /// Decodes all of `input`, calling `on_frame` with each good frame (FCS stripped).
    pub fn push<F: FnMut(&[u8])>(&mut self, mut input: &[u8], mut on_frame: F) {
        while let Some(frame) = self.next_frame(&mut input) {
            on_frame(frame);
        }
    }

    fn push_byte(&mut self, b: u8) {
        if self.buf.len() >= self.max_frame {
            self.overflow();
        } else {
            self.buf.push(b);
        }
    }

    /// Takes the ordinary bytes and escape pairs of `data` up to and including the first flag:
    /// returns how many bytes were used and whether a flag ended them. Stops early (the
    /// decoder discarding) when the frame outgrows the bound.
    fn scan(&mut self, data: &[u8]) -> (usize, bool) {
        let mut i = 0;
        for pos in memchr::memchr2_iter(FLAG, ESCAPE, data) {
            if pos < i {
                // The byte after an escape, taken already.
                continue;
            }
            if !self.take_run(&data[i..pos]) {
                return (pos, false);
            }
            if data[pos] == FLAG {
                return (pos + 1, true);
            }
            match data.get(pos + 1) {
                None => {
                    self.escaped = true;
                    return (pos + 1, false);
                }
                Some(&FLAG) => {
                    // 7D 7E: abort sequence; the flag starts the next frame.
                    self.stats.aborted += 1;
                    self.buf.clear();
                }
                Some(&b) => {
                    if self.buf.len() >= self.max_frame {
                        self.overflow();
                        return (pos + 2, false);
                    }
                    self.buf.push(b ^ 0x20);
                }
            }
            i = pos + 2;
        }
        self.take_run(&data[i..]);
        (data.len(), false)
    }

    /// Appends a run of ordinary bytes; false (and discarding) if the frame outgrows the bound.
    fn take_run(&mut self, run: &[u8]) -> bool {
        if run.len() > self.max_frame - self.buf.len() {
            self.overflow();
            return false;
        }
        self.buf.extend_from_slice(run);
        true
    }

    fn overflow(&mut self) {
        self.stats.too_long += 1;
        self.buf.clear();
        self.escaped = false;
        self.discarding = true;
    }
}

/// Async-HDLC frame encoder.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// Per byte: must it be escaped?
    escape: [bool; 256],
    accm: u32,
}

/// Escape table of ACCM 0xFFFFFFFF.
static ESCAPE_ALL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 32 {
        t[i] = true;
        i += 1;
    }
    t[FLAG as usize] = true;
    t[ESCAPE as usize] = true;
    t
};

/// The LCP packet inside a PPP frame (`FF 03` optional, 2-byte protocol), if it is one.
fn lcp_packet(frame: &[u8]) -> Option<&[u8]> {
    let rest = match frame {
        [0xFF, 0x03, rest @ ..] => rest,
        _ => frame,
    };
    match rest {
        [0xC0, 0x21, packet @ ..] => Some(packet),
        _ => None,
    }
}

/// Whether `frame` is an LCP packet with code 1..=7 (Configure-* and Terminate-*, Code-Reject),
/// which is always sent with every control character escaped (as Linux's ppp_async does), so
/// that it survives whatever ACCM the receiver currently applies.
fn needs_default_accm(frame: &[u8]) -> bool {
    lcp_packet(frame).is_some_and(|p| matches!(p.first(), Some(1..=7)))
}

impl Default for Encoder {
    /// ACCM 0xFFFFFFFF: all control characters escaped (RFC 1662 default before LCP).
    fn default() -> Self {
        Encoder::new(0xFFFF_FFFF)
    }
}

impl Encoder {
    /// An encoder escaping the control characters set in `accm` (bit n = byte n) plus 0x7D, 0x7E.
    pub fn new(accm: u32) -> Encoder {
        let mut e = Encoder {
            escape: [false; 256],
            accm,
        };
        e.set_accm(accm);
        e
    }

    /// Changes the ACCM.
    pub fn set_accm(&mut self, accm: u32) {
        self.accm = accm;
        for (i, slot) in self.escape.iter_mut().enumerate() {
            *slot = (i < 32 && accm & (1 << i) != 0) || i == FLAG as usize || i == ESCAPE as usize;
        }
    }

    /// The ACCM.
    pub fn accm(&self) -> u32 {
        self.accm
    }

    /// Appends `frame` as flag, escaped frame, escaped FCS, flag. The opening flag is left out when
    /// `out` already ends with one (frames written back to back share it). LCP Configure-*,
    /// Terminate-* and Code-Reject packets are escaped as with ACCM 0xFFFFFFFF whatever the
    /// configured ACCM (RFC 1662 §7.1; Linux's ppp_async does the same).
    pub fn encode(&self, frame: &[u8], out: &mut Vec<u8>) {
        out.reserve(frame.len() + frame.len() / 8 + 8);
        if out.last() != Some(&FLAG) {
            out.push(FLAG);
        }
        let (table, controls) = if self.accm != 0xFFFF_FFFF && needs_default_accm(frame) {
            (&ESCAPE_ALL, true)
        } else {
            (&self.escape, self.accm != 0)
        };
        escape_into(table, controls, frame, out);
        escape_into(table, controls, &fcs_bytes(frame), out);
        out.push(FLAG);
    }
}

/// Appends `data` escaped per `table`; `controls`: whether any byte below 0x20 is in the table.
fn escape_into(table: &[bool; 256], controls: bool, mut data: &[u8], out: &mut Vec<u8>) {
    if !controls {
        // Only the flag and the escape itself: one SIMD scan over the whole frame.
        let mut start = 0;
        for pos in memchr::memchr2_iter(FLAG, ESCAPE, data) {
            out.extend_from_slice(&data[start..pos]);
            out.extend_from_slice(&[ESCAPE, data[pos] ^ 0x20]);
            start = pos + 1;
        }
        out.extend_from_slice(&data[start..]);
        return;
    }
    let mut scanned = 0;
    while scanned < data.len() {
        let Some(i) = find_special(&data[scanned..], controls).map(|i| scanned + i) else {
            break;
        };
        let b = data[i];
        if !table[b as usize] {
            // A control character the ACCM lets through.
            scanned = i + 1;
            continue;
        }
        out.extend_from_slice(&data[..i]);
        out.push(ESCAPE);
        out.push(b ^ 0x20);
        data = &data[i + 1..];
        scanned = 0;
    }
    out.extend_from_slice(data);
}

/// Follows pppd's LCP negotiation on the pty to learn which ACCM pppd's kernel side (ppp_async)
/// applies to what it receives, so that [`Encoder`] escapes no more than needed.
///
/// pppd receives with ACCM 0xFFFFFFFF until LCP is up; then with the ACCM of its own
/// Configure-Request that the server acknowledged (0xFFFFFFFF if it did not ask for one). The
/// tracker switches only when pppd sends a non-LCP frame after that acknowledgement (proof that
/// its LCP is up and the new map installed), and falls back to 0xFFFFFFFF on any LCP
/// Configure-Request or Terminate-Request/Ack in either direction (renegotiation, shutdown).
///
/// Feed it every frame: [`AccmTracker::from_pppd`] for frames decoded from the pty,
/// [`AccmTracker::to_pppd`] for frames about to be encoded to it; both return the new ACCM when it
/// changes, for [`Encoder::set_accm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccmTracker {
    current: u32,
    /// pppd's last Configure-Request: (identifier, ACCM it asks for).
    requested: Option<(u8, u32)>,
    /// ACCM acknowledged by the server, waiting for pppd's LCP to come up.
    acked: Option<u32>,
}

impl Default for AccmTracker {
    fn default() -> Self {
        AccmTracker::new()
    }
}

/// LCP codes.
const LCP_CONFIGURE_REQUEST: u8 = 1;
const LCP_CONFIGURE_ACK: u8 = 2;
const LCP_TERMINATE_REQUEST: u8 = 5;
const LCP_TERMINATE_ACK: u8 = 6;
/// LCP option type of the ACCM.
const LCP_OPT_ACCM: u8 = 2;

/// The ACCM option of an LCP Configure-Request/Ack (`packet` starts at the LCP code), or
/// 0xFFFFFFFF when absent. `None` if the packet is malformed.
fn lcp_accm_option(packet: &[u8]) -> Option<u32> {
    let len = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    let mut opts = packet.get(4..len)?;
    let mut accm = 0xFFFF_FFFF;
    while !opts.is_empty() {
        let ty = opts[0];
        let olen = usize::from(*opts.get(1)?);
        if olen < 2 || olen > opts.len() {
            return None;
        }
        if ty == LCP_OPT_ACCM {
            if olen != 6 {
                return None;
            }
            accm = u32::from_be_bytes([opts[2], opts[3], opts[4], opts[5]]);
        }
        opts = &opts[olen..];
    }
    Some(accm)
}

impl AccmTracker {
    /// Starts with ACCM 0xFFFFFFFF (before LCP).
    pub fn new() -> AccmTracker {
        AccmTracker {
            current: 0xFFFF_FFFF,
            requested: None,
            acked: None,
        }
    }

    /// The ACCM to encode frames for pppd with.
    pub fn accm(&self) -> u32 {
        self.current
    }

    fn reset(&mut self) -> Option<u32> {
        self.acked = None;
        self.set(0xFFFF_FFFF)
    }

    fn set(&mut self, accm: u32) -> Option<u32> {
        if self.current == accm {
            None
        } else {
            self.current = accm;
            Some(accm)
        }
    }

    /// A frame pppd sent (decoded from the pty, FCS stripped).
    pub fn from_pppd(&mut self, frame: &[u8]) -> Option<u32> {
        match lcp_packet(frame) {
            Some(p) => match p.first() {
                Some(&LCP_CONFIGURE_REQUEST) => {
                    self.requested = match (p.get(1), lcp_accm_option(p)) {
                        (Some(&id), Some(accm)) => Some((id, accm)),
                        _ => None,
                    };
                    self.reset()
                }
                Some(&LCP_TERMINATE_REQUEST | &LCP_TERMINATE_ACK) => {
                    self.requested = None;
                    self.reset()
                }
                _ => None,
            },
            None => match self.acked.take() {
                // pppd's LCP is up: its receive ACCM is installed.
                Some(accm) => self.set(accm),
                None => None,
            },
        }
    }

    /// A frame about to be sent to pppd.
    pub fn to_pppd(&mut self, frame: &[u8]) -> Option<u32> {
        let p = lcp_packet(frame)?;
        match p.first() {
            Some(&LCP_CONFIGURE_ACK) => {
                if let Some((id, accm)) = self.requested {
                    // The Ack must echo our request's identifier and options.
                    if p.get(1) == Some(&id) && lcp_accm_option(p) == Some(accm) {
                        self.acked = Some(accm);
                    }
                }
                None
            }
            Some(&LCP_CONFIGURE_REQUEST | &LCP_TERMINATE_REQUEST | &LCP_TERMINATE_ACK) => {
                self.reset()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1662 FCS computed bit by bit, for cross-checking the table.
    fn fcs_bitwise(data: &[u8]) -> u16 {
        let mut fcs = 0xFFFFu16;
        for &b in data {
            fcs ^= u16::from(b);
            for _ in 0..8 {
                fcs = if fcs & 1 != 0 {
                    (fcs >> 1) ^ 0x8408
                } else {
                    fcs >> 1
                };
            }
        }
        fcs
    }

    #[test]
    fn fcs_table_matches_bitwise_and_residue() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(fcs16(FCS_INIT, &data), fcs_bitwise(&data));
        let mut framed = data.clone();
        framed.extend_from_slice(&fcs_bytes(&data));
        assert_eq!(fcs16(FCS_INIT, &framed), FCS_GOOD);
        // Well-known check value: CRC-16/X-25 of "123456789" is 0x906E.
        assert_eq!(!fcs16(FCS_INIT, b"123456789"), 0x906E);
    }

    #[test]
    fn fcs_sliced_matches_bitwise_for_all_lengths() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + i / 3) as u8).collect();
        for len in 0..data.len() {
            for start in 0..3.min(len + 1) {
                assert_eq!(
                    fcs16(FCS_INIT, &data[start..len]),
                    fcs_bitwise(&data[start..len])
                );
            }
        }
    }

    #[test]
    fn find_special_matches_naive() {
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for start in 0..data.len() {
            for controls in [false, true] {
                let naive = data[start..]
                    .iter()
                    .position(|&b| b == FLAG || b == ESCAPE || (controls && b < 0x20));
                assert_eq!(
                    find_special(&data[start..], controls),
                    naive,
                    "{start} {controls}"
                );
            }
        }
        assert_eq!(find_special(&[0x41; 20], true), None);
        assert_eq!(find_special(&[0x7E, 0x7E], false), Some(0));
    }

    #[test]
    fn encode_known_lcp_frame() {
        // LCP Configure-Request id 1, empty options, default ACCM.
        let frame = [0xFF, 0x03, 0xC0, 0x21, 0x01, 0x01, 0x00, 0x04];
        let mut out = Vec::new();
        Encoder::default().encode(&frame, &mut out);
        let fcs = fcs_bytes(&frame);
        let mut expected = vec![
            0x7E, 0xFF, 0x7D, 0x23, 0xC0, 0x21, 0x7D, 0x21, 0x7D, 0x21, 0x7D, 0x20, 0x7D, 0x24,
        ];
        for b in fcs {
            if b < 0x20 || b == 0x7D || b == 0x7E {
                expected.extend_from_slice(&[0x7D, b ^ 0x20]);
            } else {
                expected.push(b);
            }
        }
        expected.push(0x7E);
        assert_eq!(out, expected);
        let mut input = &out[..];
        let mut d = Decoder::default();
        assert_eq!(d.next_frame(&mut input), Some(&frame[..]));
        assert!(input.is_empty());
    }

    #[test]
    fn accm_zero_escapes_only_flag_and_escape() {
        let frame = [0x00, 0x11, 0x7E, 0x7D, 0x13, 0x20];
        let mut out = Vec::new();
        Encoder::new(0).encode(&frame, &mut out);
        assert_eq!(
            &out[..9],
            &[0x7E, 0x00, 0x11, 0x7D, 0x5E, 0x7D, 0x5D, 0x13, 0x20]
        );
        let e = Encoder::new(1 << 0x11 | 1 << 0x13);
        out.clear();
        e.encode(&frame, &mut out);
        assert_eq!(
            &out[..11],
            &[0x7E, 0x00, 0x7D, 0x31, 0x7D, 0x5E, 0x7D, 0x5D, 0x7D, 0x33, 0x20]
        );
        assert_eq!(e.accm(), 0x000A_0000);
    }

    #[test]
    fn lcp_frames_always_fully_escaped() {
        // LCP Configure-Request with a control byte inside: escaped even with ACCM 0.
        let lcp = [0xFF, 0x03, 0xC0, 0x21, 0x01, 0x05, 0x00, 0x04];
        let mut out = Vec::new();
        Encoder::new(0).encode(&lcp, &mut out);
        let mut full = Vec::new();
        Encoder::default().encode(&lcp, &mut full);
        assert_eq!(out, full);
        assert!(out.iter().all(|&b| b >= 0x20));
        // LCP Echo-Request (code 9) and other protocols follow the ACCM.
        let echo = [0xFF, 0x03, 0xC0, 0x21, 0x09, 0x05, 0x00, 0x04];
        out.clear();
        Encoder::new(0).encode(&echo, &mut out);
        assert!(out.contains(&0x05));
    }

    fn lcp(code: u8, id: u8, opts: &[u8]) -> Vec<u8> {
        let mut f = vec![0xFF, 0x03, 0xC0, 0x21, code, id];
        f.extend_from_slice(&((opts.len() + 4) as u16).to_be_bytes());
        f.extend_from_slice(opts);
        f
    }

    #[test]
    fn accm_tracker_follows_negotiation() {
        let mut t = AccmTracker::new();
        let ip = [0xFF, 0x03, 0x00, 0x21, 0x45];
        let chap = [0xFF, 0x03, 0xC2, 0x23, 0x02];
        let opts = [0x01, 0x04, 0x05, 0x78, 0x02, 0x06, 0x00, 0x00, 0x00, 0x00];
        assert_eq!(t.to_pppd(&lcp(1, 7, &[0x03, 0x04, 0xC2, 0x23])), None);
        assert_eq!(t.from_pppd(&lcp(1, 1, &opts)), None);
        assert_eq!(t.from_pppd(&lcp(2, 7, &[0x03, 0x04, 0xC2, 0x23])), None);
        // Ack with a different identifier: ignored.
        assert_eq!(t.to_pppd(&lcp(2, 9, &opts)), None);
        assert_eq!(t.from_pppd(&chap), None);
        assert_eq!(t.accm(), 0xFFFF_FFFF);
        // The matching Ack, then pppd speaks a non-LCP protocol: switch.
        assert_eq!(t.from_pppd(&lcp(1, 2, &opts)), None);
        assert_eq!(t.to_pppd(&lcp(2, 2, &opts)), None);
        assert_eq!(t.to_pppd(&chap), None);
        assert_eq!(t.accm(), 0xFFFF_FFFF);
        assert_eq!(t.from_pppd(&chap), Some(0));
        assert_eq!(t.from_pppd(&ip), None);
        assert_eq!(t.accm(), 0);
        // Renegotiation by the server: back to all ones.
        assert_eq!(t.to_pppd(&lcp(1, 8, &[])), Some(0xFFFF_FFFF));
        // A request without an ACCM option leaves all ones.
        assert_eq!(t.from_pppd(&lcp(1, 3, &[0x01, 0x04, 0x05, 0x78])), None);
        assert_eq!(t.to_pppd(&lcp(2, 3, &[0x01, 0x04, 0x05, 0x78])), None);
        assert_eq!(t.from_pppd(&ip), None);
        assert_eq!(t.accm(), 0xFFFF_FFFF);
        // Again with ACCM 0x000A0000, then pppd terminates.
        let opts2 = [0x02, 0x06, 0x00, 0x0A, 0x00, 0x00];
        t.from_pppd(&lcp(1, 4, &opts2));
        t.to_pppd(&lcp(2, 4, &opts2));
        assert_eq!(t.from_pppd(&ip), Some(0x000A_0000));
        assert_eq!(t.from_pppd(&lcp(5, 5, &[])), Some(0xFFFF_FFFF));
        // Malformed LCP packets never panic and change nothing.
        for bad in [
            &[0xC0, 0x21][..],
            &[0xC0, 0x21, 1],
            &[0xC0, 0x21, 1, 1, 0, 40, 2, 6, 0],
        ] {
            t.from_pppd(bad);
            t.to_pppd(bad);
        }
        assert_eq!(lcp_accm_option(&[1, 1, 0, 10, 2, 5, 0, 0, 0, 0]), None);
        assert_eq!(lcp_accm_option(&[1, 1, 0, 6, 3, 1]), None);
    }

    #[test]
    fn back_to_back_frames_share_flags() {
        let e = Encoder::new(0);
        let mut out = Vec::new();
        e.encode(&[1, 2, 3, 4], &mut out);
        let first = out.len();
        e.encode(&[5, 6, 7, 8], &mut out);
        assert_eq!(out.iter().filter(|&&b| b == FLAG).count(), 3);
        assert_eq!(out[first - 1], FLAG);
        let mut frames = Vec::new();
        Decoder::default().push(&out, |f| frames.push(f.to_vec()));
        assert_eq!(frames, vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]);
    }

    #[test]
    fn decoder_drops_and_counts() {
        let e = Encoder::new(0);
        let mut good = Vec::new();
        e.encode(&[0xFF, 0x03, 0x00, 0x21, 9, 9], &mut good);
        let mut stream = Vec::new();
        // Bad FCS.
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 2] ^= 0x01;
        stream.extend_from_slice(&bad);
        // Runt.
        stream.extend_from_slice(&[0x7E, 0x01, 0x02, 0x7E]);
        // Aborted frame.
        stream.extend_from_slice(&[0x7E, 0x01, 0x02, 0x03, 0x7D, 0x7E]);
        // Too long (limit 16).
        stream.push(0x7E);
        stream.extend_from_slice(&[0x55; 40]);
        stream.push(0x7E);
        // Too long through escapes.
        stream.extend_from_slice(&[0x7D, 0x5E].repeat(20));
        stream.push(0x7E);
        stream.extend_from_slice(&good);
        let mut d = Decoder::new(16);
        let mut frames = Vec::new();
        d.push(&stream, |f| frames.push(f.to_vec()));
        assert_eq!(frames, vec![vec![0xFF, 0x03, 0x00, 0x21, 9, 9]]);
        let s = d.stats();
        assert_eq!(
            s,
            DecoderStats {
                frames: 1,
                bad_fcs: 1,
                too_long: 2,
                aborted: 1,
                runts: 1
            }
        );
        assert_eq!(s.dropped(), 5);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn decoder_any_split() {
        let e = Encoder::default();
        let frames: Vec<Vec<u8>> = (0..20u8)
            .map(|i| {
                (0..(i as usize * 37 % 300 + 1))
                    .map(|j| (j as u8).wrapping_mul(i))
                    .collect()
            })
            .collect();
        let mut stream = Vec::new();
        for f in &frames {
            e.encode(f, &mut stream);
        }
        for chunk in [1, 2, 3, 7, 64, 1000] {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                d.push(c, |f| got.push(f.to_vec()));
            }
            assert_eq!(
                got,
                frames
                    .iter()
                    .filter(|f| f.len() >= 2)
                    .cloned()
                    .collect::<Vec<_>>(),
                "chunk {chunk}"
            );
        }
    }
}
