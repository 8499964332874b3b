//! Data-path micro-benchmark of the sans-IO core (no I/O, no TLS):
//! `cargo run --release -p sstp-proto --example throughput [MBYTES]`.
//!
//! Measures, for 1400-byte IP frames: FCS-16, HDLC encode/decode (ACCM 0 and 0xFFFFFFFF),
//! the client's send path (send_ppp_frame + poll_transmit) and receive path (handle_input in
//! 16 KiB chunks + next_ppp_frame), and the full pty->SSTP and SSTP->pty pipelines.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sstp_proto::hdlc::{self, Decoder, Encoder};
use sstp_proto::wire::encode_data_packet;
use sstp_proto::{Client, ClientConfig, ControlMessage, HashProtocols, Hlak};

const FRAME: usize = 1400;

fn frame(seed: u8) -> Vec<u8> {
    let mut f = vec![0xFF, 0x03, 0x00, 0x21];
    // Pseudo-random payload: realistic share of bytes < 0x20 and of 0x7D/0x7E.
    let mut x = u32::from(seed) | 1;
    while f.len() < FRAME {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f.push(x as u8);
    }
    f
}

fn report(name: &str, bytes: usize, d: Duration) {
    let mbps = bytes as f64 / d.as_secs_f64() / 1e6;
    let fps = (bytes / FRAME) as f64 / d.as_secs_f64();
    println!("{name:<44} {mbps:>9.0} MB/s  {:>6.2} Mframes/s", fps / 1e6);
}

fn connected_client() -> Client {
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::default(), now);
    let ack = ControlMessage::call_connect_ack(HashProtocols::BOTH, [7; 32])
        .to_bytes()
        .unwrap();
    c.handle_input(now, &ack);
    c.authenticated(now, &Hlak::zero(), b"cert").unwrap();
    let mut sink = Vec::new();
    c.poll_transmit(&mut sink);
    while c.poll_event().is_some() {}
    c
}

fn main() {
    let mbytes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let total = mbytes * 1_000_000;
    let n = total / FRAME;
    let frames: Vec<Vec<u8>> = (0..64u8).map(frame).collect();
    println!("{n} frames of {FRAME} bytes ({mbytes} MB) per measurement");

    // FCS-16.
    let t = Instant::now();
    let mut acc = 0u16;
    for i in 0..n {
        acc ^= hdlc::fcs16(hdlc::FCS_INIT, &frames[i % 64]);
    }
    black_box(acc);
    report("fcs16", n * FRAME, t.elapsed());

    for accm in [0u32, 0xFFFF_FFFF] {
        let e = Encoder::new(accm);
        let mut encoded = Vec::new();
        for f in &frames {
            e.encode(f, &mut encoded);
        }
        let mut out = Vec::with_capacity(64 * 1024);
        let t = Instant::now();
        for i in 0..n {
            if out.len() > 60_000 {
                out.clear();
            }
            e.encode(&frames[i % 64], &mut out);
        }
        black_box(&out);
        report(
            &format!("hdlc encode (accm {accm:#010x})"),
            n * FRAME,
            t.elapsed(),
        );

        let mut d = Decoder::default();
        let t = Instant::now();
        let mut got = 0usize;
        let rounds = n / 64;
        for _ in 0..rounds {
            for chunk in encoded.chunks(4096) {
                d.push(chunk, |f| got += f.len());
            }
        }
        black_box(got);
        assert_eq!(d.stats().dropped(), 0);
        report(
            &format!("hdlc decode (accm {accm:#010x})"),
            rounds * 64 * FRAME,
            t.elapsed(),
        );
    }

    // Client send path.
    let mut c = connected_client();
    let mut out = Vec::with_capacity(64 * 1024);
    let t = Instant::now();
    for i in 0..n {
        c.send_ppp_frame(&frames[i % 64]).unwrap();
        if i % 16 == 15 {
            out.clear();
            c.poll_transmit(&mut out);
        }
    }
    black_box(&out);
    report(
        "client send_ppp_frame + poll_transmit",
        n * FRAME,
        t.elapsed(),
    );

    // Client receive path.
    let mut stream = Vec::new();
    for f in &frames {
        encode_data_packet(f, &mut stream).unwrap();
    }
    let mut c = connected_client();
    let now = Instant::now();
    let t = Instant::now();
    let mut got = 0usize;
    for _ in 0..n / 64 {
        for chunk in stream.chunks(16 * 1024) {
            c.handle_input(now, chunk);
            while let Some(f) = c.next_ppp_frame() {
                got += f.len();
            }
        }
    }
    black_box(got);
    report(
        "client handle_input + next_ppp_frame",
        (n / 64) * 64 * FRAME,
        t.elapsed(),
    );

    // Full pipelines with ACCM 0 (as negotiated with `asyncmap 0`).
    let e = Encoder::new(0);
    let mut pty_stream = Vec::new();
    for f in &frames {
        e.encode(f, &mut pty_stream);
    }
    let mut c = connected_client();
    let mut d = Decoder::default();
    let mut out = Vec::with_capacity(64 * 1024);
    let t = Instant::now();
    for _ in 0..n / 64 {
        for chunk in pty_stream.chunks(4096) {
            d.push(chunk, |f| c.send_ppp_frame(f).unwrap());
            out.clear();
            c.poll_transmit(&mut out);
        }
    }
    black_box(&out);
    report(
        "pipeline pty->SSTP (hdlc decode + client)",
        (n / 64) * 64 * FRAME,
        t.elapsed(),
    );

    let mut c = connected_client();
    let mut pty_out = Vec::with_capacity(64 * 1024);
    let t = Instant::now();
    for _ in 0..n / 64 {
        for chunk in stream.chunks(16 * 1024) {
            c.handle_input(now, chunk);
            pty_out.clear();
            while let Some(f) = c.next_ppp_frame() {
                e.encode(f, &mut pty_out);
            }
        }
    }
    black_box(&pty_out);
    report(
        "pipeline SSTP->pty (client + hdlc encode)",
        (n / 64) * 64 * FRAME,
        t.elapsed(),
    );
}
