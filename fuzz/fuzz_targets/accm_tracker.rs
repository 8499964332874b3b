//! `AccmTracker` fed arbitrary LCP (and other) frames in both directions: the server's frames
//! towards pppd (`to_pppd`, hostile input) and pppd's (`from_pppd`). No panic; a returned ACCM is
//! the new current one and differs from the previous; a Configure-Request or Terminate in
//! either direction falls back to 0xFFFFFFFF; and every frame encoded with the tracked ACCM
//! decodes back to itself.
//!
//! Input: records `[op][frame...]`, `op & 1` = direction (1: to pppd), `op >> 1` = frame length
//! (cut to what remains).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sstp_proto::hdlc::{AccmTracker, Decoder, Encoder, DEFAULT_MAX_FRAME};

fn lcp_code(frame: &[u8]) -> Option<u8> {
    let rest = frame.strip_prefix(&[0xFF, 0x03]).unwrap_or(frame);
    match rest {
        [0xC0, 0x21, code, ..] => Some(*code),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut t = AccmTracker::new();
    let mut enc = Encoder::new(t.accm());
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let n = usize::from(op >> 1).min(tail.len());
        let (frame, next) = tail.split_at(n);
        rest = next;
        let before = t.accm();
        let changed = if op & 1 == 1 {
            t.to_pppd(frame)
        } else {
            t.from_pppd(frame)
        };
        match changed {
            Some(accm) => {
                assert_ne!(accm, before, "a change must change the ACCM");
                assert_eq!(accm, t.accm());
                enc.set_accm(accm);
            }
            None => assert_eq!(before, t.accm(), "silent ACCM change"),
        }
        if matches!(lcp_code(frame), Some(1 | 5 | 6)) {
            assert_eq!(
                t.accm(),
                0xFFFF_FFFF,
                "LCP Configure-Request/Terminate must reset"
            );
        }
        // Frames under 2 bytes are runts to the decoder (a PPP frame has at least a protocol).
        if op & 1 == 1 && frame.len() >= 2 {
            let mut out = Vec::new();
            enc.encode(frame, &mut out);
            let mut got = Vec::new();
            Decoder::new(DEFAULT_MAX_FRAME).push(&out, |f| got.push(f.to_vec()));
            assert_eq!(
                got,
                vec![frame.to_vec()],
                "frame must survive the tracked ACCM"
            );
        }
    }
});
