//! Property tests: codec round trips, arbitrary splits, no panics on arbitrary input.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sstp_proto::hdlc::{AccmTracker, Decoder, Encoder};
use sstp_proto::wire::{
    encode_data_packet, CryptoBinding, CryptoBindingRequest, Header, MAX_DATA_LEN, MAX_PACKET_LEN,
};
use sstp_proto::{
    Attribute, AttributeId, Client, ClientConfig, ControlMessage, Deframer, HashProtocol,
    HashProtocols, Hlak, MessageType, Packet, StatusCode, StatusInfo,
};

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        any::<u16>().prop_map(Attribute::EncapsulatedProtocolId),
        (
            any::<u8>(),
            any::<u32>(),
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(a, s, value)| Attribute::StatusInfo(StatusInfo {
                attrib_id: AttributeId::from_raw(a),
                status: StatusCode::from_raw(s),
                value,
            })),
        (
            any::<bool>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>()
        )
            .prop_map(
                |(sha1, nonce, cert_hash, compound_mac)| Attribute::CryptoBinding(CryptoBinding {
                    hash_protocol: if sha1 {
                        HashProtocol::Sha1
                    } else {
                        HashProtocol::Sha256
                    },
                    nonce,
                    cert_hash,
                    compound_mac,
                })
            ),
        (any::<u8>(), any::<[u8; 32]>()).prop_map(|(bits, nonce)| {
            Attribute::CryptoBindingRequest(CryptoBindingRequest {
                hash_protocols: HashProtocols::from_bits(bits),
                nonce,
            })
        }),
        (
            any::<u8>().prop_filter("unknown id", |id| !(1..=4).contains(id)),
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(id, value)| Attribute::Unknown { id, value }),
    ]
}

fn message_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        (1u16..=9).prop_map(MessageType::from_raw),
        any::<u16>().prop_map(MessageType::from_raw)
    ]
}

fn control_message() -> impl Strategy<Value = ControlMessage> {
    (message_type(), prop::collection::vec(attribute(), 0..8)).prop_map(
        |(message_type, attributes)| ControlMessage {
            message_type,
            attributes,
        },
    )
}

fn packet_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        control_message().prop_map(|m| m.to_bytes().unwrap()),
        prop::collection::vec(any::<u8>(), 0..600).prop_map(|f| {
            let mut v = Vec::new();
            encode_data_packet(&f, &mut v).unwrap();
            v
        }),
    ]
}

/// Splits `data` at the given (unsorted, arbitrary) cut points.
fn split<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.push(data.len());
    let mut out = Vec::new();
    let mut pos = 0;
    for p in points {
        out.push(&data[pos..p]);
        pos = p;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn control_roundtrip(m in control_message()) {
        let bytes = m.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), m.encoded_len());
        prop_assert!(bytes.len() <= MAX_PACKET_LEN);
        prop_assert_eq!(Packet::decode(&bytes).unwrap(), Packet::Control(m));
    }

    #[test]
    fn data_roundtrip(frame in prop::collection::vec(any::<u8>(), 0..=MAX_DATA_LEN)) {
        let mut v = Vec::new();
        encode_data_packet(&frame, &mut v).unwrap();
        prop_assert_eq!(Header::decode(&v).unwrap(), Header { control: false, length: v.len() as u16 });
        prop_assert_eq!(Packet::decode(&v).unwrap(), Packet::Data(&frame[..]));
    }

    #[test]
    fn deframer_any_split(packets in prop::collection::vec(packet_bytes(), 0..12), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let stream = packets.concat();
        let mut d = Deframer::new();
        let mut got = Vec::new();
        for chunk in split(&stream, &cuts) {
            d.feed(chunk, |p| { got.push(p.to_vec()); true }).unwrap();
        }
        prop_assert_eq!(got, packets);
        prop_assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(p) = Packet::decode(&bytes) {
            // Whatever decodes re-encodes to something that decodes to the same value.
            let mut v = Vec::new();
            p.encode(&mut v).unwrap();
            prop_assert_eq!(Packet::decode(&v).unwrap(), p);
        }
        let mut d = Deframer::new();
        let _ = d.feed(&bytes, |p| { let _ = Packet::decode(p); true });
        prop_assert!(d.buffered() <= MAX_PACKET_LEN);
    }

    #[test]
    fn decode_never_panics_on_sstp_looking_bytes(mut bytes in prop::collection::vec(any::<u8>(), 8..300), nattr in 0u16..6, ty in 0u16..12) {
        let len = bytes.len() as u16;
        bytes[0] = 0x10;
        bytes[1] = 1;
        bytes[2..4].copy_from_slice(&len.to_be_bytes());
        bytes[4..6].copy_from_slice(&ty.to_be_bytes());
        bytes[6..8].copy_from_slice(&nattr.to_be_bytes());
        let _ = Packet::decode(&bytes).map_err(|e| e.to_string());
    }

    #[test]
    fn hdlc_roundtrip_any_split(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 2..400), 0..10),
        accm in any::<u32>(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let e = Encoder::new(accm);
        let mut stream = Vec::new();
        for f in &frames {
            e.encode(f, &mut stream);
        }
        // Escaped stream: no control character in the ACCM and no stray flag inside frames.
        for &b in &stream {
            prop_assert!(!(b < 32 && accm & (1 << b) != 0));
        }
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for chunk in split(&stream, &cuts) {
            d.push(chunk, |f| got.push(f.to_vec()));
        }
        prop_assert_eq!(&got, &frames);
        prop_assert_eq!(d.stats().dropped(), 0);
        prop_assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn hdlc_decoder_split_independent(
        parts in prop::collection::vec(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            Just(vec![0x7E]),
            Just(vec![0x7D]),
            Just(vec![0x7D, 0x7E]),
            prop::collection::vec(any::<u8>(), 1..20).prop_map(|f| { let mut v = Vec::new(); Encoder::new(0).encode(&f, &mut v); v }),
        ], 0..30),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
        max in 4usize..80,
    ) {
        let stream = parts.concat();
        let mut whole = Decoder::new(max);
        let mut a = Vec::new();
        whole.push(&stream, |f| a.push(f.to_vec()));
        let mut split_dec = Decoder::new(max);
        let mut b = Vec::new();
        for chunk in split(&stream, &cuts) {
            split_dec.push(chunk, |f| b.push(f.to_vec()));
        }
        prop_assert_eq!(a, b);
        prop_assert_eq!(whole.stats(), split_dec.stats());
        prop_assert_eq!(whole.buffered(), split_dec.buffered());
    }

    #[test]
    fn hdlc_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000), max in 0usize..600) {
        let mut d = Decoder::new(max);
        let mut n = 0u64;
        d.push(&bytes, |f| { assert!(f.len() + 2 <= max.max(4)); n += 1; });
        prop_assert_eq!(d.stats().frames, n);
        prop_assert!(d.buffered() <= max.max(4));
    }

    #[test]
    fn accm_tracker_never_panics(frames in prop::collection::vec((any::<bool>(), prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(|mut v| { v.splice(0..0, [0xFF, 0x03, 0xC0, 0x21]); v }),
    ]), 0..30)) {
        let mut t = AccmTracker::new();
        for (from_pppd, f) in &frames {
            let changed = if *from_pppd { t.from_pppd(f) } else { t.to_pppd(f) };
            if let Some(a) = changed {
                prop_assert_eq!(a, t.accm());
            }
        }
    }

    #[test]
    fn client_never_panics(
        chunks in prop::collection::vec(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            packet_bytes(),
        ], 0..12),
        steps in prop::collection::vec((0u64..100_000, 0u8..6), 0..12),
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut c = Client::new(ClientConfig::default(), now);
        let mut out = Vec::new();
        let mut frame = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            c.handle_input(now, chunk);
            if let Some(&(ms, action)) = steps.get(i) {
                now += Duration::from_millis(ms);
                match action {
                    0 => c.handle_timeout(now),
                    1 => { let _ = c.authenticated(now, &Hlak::zero(), b"cert"); }
                    2 => { let _ = c.send_ppp_frame(&[0xFF, 3, 0xC0, 0x21, 1]); }
                    3 => c.disconnect(now),
                    4 => c.abort(now, None),
                    _ => { if let Some(t) = c.poll_timeout() { if t <= now { c.handle_timeout(now) } } }
                }
            }
            while c.poll_ppp_frame(&mut frame) { frame.clear(); }
            while c.poll_event().is_some() {}
            c.poll_transmit(&mut out);
        }
        // Everything the client sent is valid SSTP.
        let mut d = Deframer::new();
        d.feed(&out, |p| { assert!(Packet::decode(p).is_ok()); true }).unwrap();
        prop_assert_eq!(d.buffered(), 0);
    }
}
