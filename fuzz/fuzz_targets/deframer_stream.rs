//! A byte stream split at fuzzer-chosen points: the deframer yields the same packets as for
//! the unsplit stream, never buffers more than one packet, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sstp_proto::wire::MAX_PACKET_LEN;
use sstp_proto::{Deframer, Packet};

fn run(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut d = Deframer::new();
    let mut got = Vec::new();
    let mut failed = false;
    for c in chunks {
        if d.feed(c, |p| {
            let _ = Packet::decode(p);
            got.push(p.to_vec());
            true
        })
        .is_err()
        {
            failed = true;
            break;
        }
        assert!(d.buffered() < MAX_PACKET_LEN);
    }
    (got, failed)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else { return };
    let step = usize::from(step).max(1);
    let whole = run(&[stream]);
    let pieces: Vec<&[u8]> = stream.chunks(step).collect();
    let split = run(&pieces);
    assert_eq!(whole, split);
});
