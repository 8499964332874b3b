//! The client state machine driven by arbitrary server bytes, timeouts and local calls:
//! no panic, and everything it transmits is valid SSTP.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sstp_proto::{Client, ClientConfig, Deframer, Hlak, Packet};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let mut c = Client::new(ClientConfig::default(), now);
    let mut out = Vec::new();
    let mut frame = Vec::new();
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 8 {
            0..=2 => {
                // Server bytes: the next (op / 8) bytes.
                let n = usize::from(op / 8).min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                rest = tail;
                c.handle_input(now, chunk);
            }
            3 => {
                now += Duration::from_millis(u64::from(op) * 500);
                c.handle_timeout(now);
            }
            4 => {
                let _ = c.authenticated(now, &Hlak::from_msk(&[op; 32]), b"certificate");
            }
            5 => {
                let len = usize::from(op) * 17;
                frame.clear();
                frame.extend_from_slice(&[0xFF, 0x03, 0xC0 & op, 0x21]);
                frame.resize(len.max(4), op);
                let _ = c.send_ppp_frame(&frame);
            }
            6 => c.disconnect(now),
            _ => c.abort(now, None),
        }
        if let Some(t) = c.poll_timeout() {
            assert!(t >= t0);
        }
        frame.clear();
        while c.poll_ppp_frame(&mut frame) {
            frame.clear();
        }
        while let Some(e) = c.poll_event() {
            let _ = format!("{e:?}");
        }
        if op & 0x40 != 0 {
            // A partial write, as a non-blocking TLS socket would do.
            let pending = c.pending_transmit();
            let n = pending.len() / 2;
            out.extend_from_slice(&pending[..n]);
            c.consume_transmit(n);
        } else {
            c.poll_transmit(&mut out);
        }
    }
    c.poll_transmit(&mut out);
    if let Some(r) = c.close_reason() {
        let _ = r.to_string();
    }
    let mut d = Deframer::new();
    d.feed(&out, |p| {
        Packet::decode(p).expect("client transmits valid SSTP");
        true
    })
    .expect("client transmits valid SSTP framing");
    assert_eq!(d.buffered(), 0);
});
