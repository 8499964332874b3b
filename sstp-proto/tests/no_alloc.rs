//! The steady-state data path does not touch the heap: a counting global allocator watches
//! the client (both directions) and the HDLC codec for thousands of frames.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use sstp_proto::hdlc::{Decoder, Encoder};
use sstp_proto::wire::encode_data_packet;
use sstp_proto::{Client, ClientConfig, ControlMessage, HashProtocols, Hlak};

thread_local! {
    /// Allocations made by this thread (const-initialised: no allocation to access it).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: forwards every call unchanged to the system allocator; the counter is a plain
// thread-local Cell that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn steady_state_data_path_does_not_allocate() {
    let t0 = Instant::now();
    let mut client = Client::new(ClientConfig::default(), t0);
    let ack = ControlMessage::call_connect_ack(HashProtocols::BOTH, [3; 32])
        .to_bytes()
        .unwrap();
    client.handle_input(t0, &ack);
    client.authenticated(t0, &Hlak::zero(), b"cert").unwrap();
    while client.poll_event().is_some() {}

    let frames: Vec<Vec<u8>> = (0..16u8)
        .map(|i| {
            let mut f = vec![0xFF, 0x03, 0x00, 0x21];
            f.extend((0..(200 + usize::from(i) * 80)).map(|j| (j as u8) ^ i));
            f
        })
        .collect();
    let mut server_stream = Vec::new();
    for f in &frames {
        encode_data_packet(f, &mut server_stream).unwrap();
    }
    let encoder = Encoder::new(0);
    let mut pty_stream = Vec::new();
    for f in &frames {
        encoder.encode(f, &mut pty_stream);
    }
    let mut decoder = Decoder::default();
    let mut to_server = Vec::with_capacity(1 << 16);
    let mut to_pty = Vec::with_capacity(1 << 16);

    let mut round = |client: &mut Client, now: Instant| {
        // pty -> SSTP
        for chunk in pty_stream.chunks(1000) {
            decoder.push(chunk, |f| client.send_ppp_frame(f).unwrap());
        }
        to_server.clear();
        client.poll_transmit(&mut to_server);
        // partial writes too
        let n = client.pending_transmit().len();
        client.consume_transmit(n);
        // SSTP -> pty
        for chunk in server_stream.chunks(1500) {
            client.handle_input(now, chunk);
            to_pty.clear();
            while let Some(f) = client.next_ppp_frame() {
                encoder.encode(f, &mut to_pty);
            }
        }
        client.handle_timeout(now);
    };

    // Warm-up: buffers reach their steady sizes.
    for i in 0..50 {
        round(&mut client, t0 + Duration::from_millis(i));
    }
    // The counter works.
    let probe = allocations();
    drop(std::hint::black_box(vec![1u8; 10]));
    assert_eq!(allocations(), probe + 1);

    let before = allocations();
    for i in 0..2000 {
        round(&mut client, t0 + Duration::from_millis(50 + i));
    }
    let made = allocations() - before;
    assert_eq!(
        made, 0,
        "{made} heap allocations in the steady-state data path"
    );
    let s = client.stats();
    assert_eq!(s.frames_sent, 2050 * 16);
    assert_eq!(s.frames_received, 2050 * 16);
    assert_eq!(decoder.stats().frames, 2050 * 16);
}
