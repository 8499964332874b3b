//! The `sstp-ipc-fd` record decoder (read by `sstp connect` and the NetworkManager service):
//! no panic, and a decoded message re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sstp_tunnel::ipc::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok((records, used)) = decode(data) {
        assert!(used <= data.len());
        let refs: Vec<(&str, String)> = records.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        // Keys never contain '=' after a split at the first one, so the round trip is exact.
        assert_eq!(encode(&refs), &data[..used]);
    }
});
