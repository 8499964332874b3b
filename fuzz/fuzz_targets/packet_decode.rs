//! One SSTP packet: decoding never panics; whatever decodes re-encodes to an equal packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sstp_proto::Packet;

fuzz_target!(|data: &[u8]| {
    match Packet::decode(data) {
        Ok(p) => {
            let mut v = Vec::new();
            p.encode(&mut v).expect("a decoded packet re-encodes");
            assert_eq!(v.len(), data.len());
            assert_eq!(Packet::decode(&v).expect("re-encoded packet decodes"), p);
            if let Packet::Control(c) = &p {
                let _ = c.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
