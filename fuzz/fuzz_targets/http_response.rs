//! The HTTP response parser (sstp_proto::http) on arbitrary bytes split at a fuzzer-chosen
//! step: no panic, same outcome for any split, never consumes bytes past the head.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sstp_proto::http::{validate_proxy_response, validate_sstp_response, Progress, ResponseParser};

fn run(stream: &[u8], step: usize) -> String {
    let mut p = ResponseParser::with_limit(2048);
    let mut pos = 0;
    for c in stream.chunks(step) {
        match p.push(c) {
            Ok(Progress::Complete { response, consumed }) => {
                assert!(consumed <= c.len());
                let total = pos + consumed;
                assert!(total <= stream.len());
                let a = validate_sstp_response(response.clone()).map(|_| ()).map_err(|e| e.to_string());
                let b = validate_proxy_response(response.clone()).map(|_| ()).map_err(|e| e.to_string());
                return format!("complete {total} {response:?} {a:?} {b:?}");
            }
            Ok(Progress::Partial) => pos += c.len(),
            Err(e) => return format!("error {e}"),
        }
    }
    format!("eof {:?}", p.eof().map(|e| e.to_string()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else { return };
    assert_eq!(run(stream, stream.len().max(1)), run(stream, usize::from(step).max(1)));
});
