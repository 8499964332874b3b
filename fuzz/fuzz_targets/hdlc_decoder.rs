//! Async-HDLC decoding of arbitrary pty bytes: no panic, bounded buffer, split-independent
//! results, and every good frame re-encodes and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sstp_proto::hdlc::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else { return };
    let max = 64 + usize::from(step) * 8;
    let mut whole = Vec::new();
    let mut d = Decoder::new(max);
    d.push(stream, |f| whole.push(f.to_vec()));
    assert!(d.buffered() <= max);

    let mut split = Vec::new();
    let mut d2 = Decoder::new(max);
    for c in stream.chunks(usize::from(step).max(1)) {
        d2.push(c, |f| split.push(f.to_vec()));
    }
    assert_eq!(whole, split);
    assert_eq!(d.stats(), d2.stats());

    let e = Encoder::new(u32::from(step) * 0x0101_0101);
    let mut enc = Vec::new();
    for f in &whole {
        e.encode(f, &mut enc);
    }
    let mut again = Vec::new();
    Decoder::new(max).push(&enc, |f| again.push(f.to_vec()));
    assert_eq!(again, whole);
});
