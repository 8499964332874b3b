//! Codec micro-benchmarks: the per-frame CPU cost of the pty (async HDLC) path and of SSTP
//! data-packet framing, on one 1500-byte PPP frame (IPv4 protocol field + 1498 bytes of
//! pseudo-random payload, so escaping hits about 2/256 of the bytes as on real traffic with
//! ACCM 0). `cargo bench -p sstp-proto --bench codec` (or `cargo xtask bench --codec`);
//! figures in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sstp_proto::hdlc::{self, Decoder, Encoder, FCS_INIT};
use sstp_proto::wire::{self, Deframer, Packet};

const FRAME_LEN: usize = 1500;

/// A PPP frame (address/control compressed away: protocol 0x0021 + payload), deterministic.
fn frame() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    let mut f = vec![0x00, 0x21];
    while f.len() < FRAME_LEN {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f.push(x as u8);
    }
    f
}

fn hdlc_benches(c: &mut Criterion) {
    let f = frame();
    let mut g = c.benchmark_group("hdlc");
    g.throughput(Throughput::Bytes(FRAME_LEN as u64));
    g.bench_function("fcs16_1500", |b| {
        b.iter(|| hdlc::fcs16(FCS_INIT, black_box(&f)))
    });
    let enc = Encoder::new(0);
    let mut out = Vec::with_capacity(2 * FRAME_LEN + 8);
    g.bench_function("encode_1500_accm0", |b| {
        b.iter(|| {
            out.clear();
            enc.encode(black_box(&f), &mut out);
            out.len()
        })
    });
    let enc_full = Encoder::new(0xFFFF_FFFF);
    g.bench_function("encode_1500_accm_all", |b| {
        b.iter(|| {
            out.clear();
            enc_full.encode(black_box(&f), &mut out);
            out.len()
        })
    });
    let mut encoded = Vec::new();
    enc.encode(&f, &mut encoded);
    let mut dec = Decoder::new(hdlc::DEFAULT_MAX_FRAME);
    g.bench_function("decode_1500", |b| {
        b.iter(|| {
            let mut n = 0;
            dec.push(black_box(&encoded), |fr| n += fr.len());
            assert_eq!(n, FRAME_LEN);
            n
        })
    });
    g.bench_function("encode_decode_1500", |b| {
        b.iter(|| {
            out.clear();
            enc.encode(black_box(&f), &mut out);
            let mut n = 0;
            dec.push(&out, |fr| n += fr.len());
            n
        })
    });
    g.finish();
}

fn sstp_benches(c: &mut Criterion) {
    let f = frame();
    let mut g = c.benchmark_group("sstp");
    g.throughput(Throughput::Bytes(FRAME_LEN as u64));
    let mut out = Vec::with_capacity(FRAME_LEN + 8);
    g.bench_function("data_encode_1500", |b| {
        b.iter(|| {
            out.clear();
            wire::encode_data_packet(black_box(&f), &mut out).unwrap();
            out.len()
        })
    });
    let mut packet = Vec::new();
    wire::encode_data_packet(&f, &mut packet).unwrap();
    g.bench_function("data_decode_1500", |b| {
        b.iter(|| match Packet::decode(black_box(&packet)) {
            Ok(Packet::Data(d)) => d.len(),
            _ => unreachable!(),
        })
    });
    let mut deframer = Deframer::new();
    g.bench_function("deframe_decode_1500", |b| {
        b.iter(|| {
            let mut n = 0;
            deframer
                .feed(black_box(&packet), |p| {
                    if let Ok(Packet::Data(d)) = Packet::decode(p) {
                        n += d.len();
                    }
                    true
                })
                .unwrap();
            n
        })
    });
    g.finish();
}

criterion_group!(benches, hdlc_benches, sstp_benches);
criterion_main!(benches);
