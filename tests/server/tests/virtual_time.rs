//! The bridge's pump (sstp_tunnel) against the test server's sans-IO session, in memory and on
//! virtual time: the TLS byte stream is a pair of queues, the clock is a plain `Instant` the
//! test advances to the next timer. The PPP side is real: a socket pair standing in for pppd's
//! pty, or a datagram pair standing in for the kernel's PPPoL2TP socket.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::UdpSocket;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{ip_frame, lcp, HdlcPort};
use sstp_proto::client::{Client, ClientConfig, CloseReason, Event};
use sstp_proto::crypto_binding::Hlak;
use sstp_proto::wire::NONCE_LEN;
use sstp_proto::{hdlc, l2tp};
use sstp_test_server::session::{Session, SessionConfig};
use sstp_tunnel::bridge::{Pump, TlsRead, TlsWrite, Transport, CLOSE_FLUSH_LIMIT};
use sstp_tunnel::{
    control_channel, BridgeEnd, BridgeEvent, BridgeOptions, Command, ControlSender, EventSink,
    L2tpLine, Line, TunnelError,
};

/// The "certificate" both sides hash for the crypto binding.
const CERT: &[u8] = b"virtual server certificate";
const SECOND: Duration = Duration::from_secs(1);

/// The TCP/TLS stream in memory, both directions.
struct Wire {
    /// Client → server, not read by the server yet.
    up: Vec<u8>,
    /// Server → client.
    down: VecDeque<u8>,
    /// Bytes the server has read (TCP_INFO's bytes_acked).
    acked: u64,
    /// Room for `up`: a write beyond it would block.
    up_room: usize,
    /// The server closed the connection (after `down` is read).
    server_closed: bool,
}

/// The client's end of [`Wire`].
struct MemTls(Rc<RefCell<Wire>>);

impl Transport for MemTls {
    fn read(&mut self, buf: &mut [u8]) -> Result<TlsRead, TunnelError> {
        let mut w = self.0.borrow_mut();
        if w.down.is_empty() {
            return Ok(if w.server_closed {
                TlsRead::Eof
            } else {
                TlsRead::WantRead
            });
        }
        let n = buf.len().min(w.down.len());
        for (b, x) in buf.iter_mut().zip(w.down.drain(..n)) {
            *b = x;
        }
        Ok(TlsRead::Data(n))
    }

    fn write(&mut self, buf: &[u8]) -> Result<TlsWrite, io::Error> {
        let mut w = self.0.borrow_mut();
        if w.server_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(w.up_room.saturating_sub(w.up.len()));
        if n == 0 {
            return Ok(TlsWrite::WantWrite);
        }
        w.up.extend_from_slice(&buf[..n]);
        Ok(TlsWrite::Wrote(n))
    }

    fn buffered(&self) -> bool {
        false
    }

    fn delivery(&self) -> Option<(u64, bool)> {
        let w = self.0.borrow();
        Some((w.acked, !w.up.is_empty()))
    }
}

/// Records the bridge's events for the test.
struct Recorder(Rc<RefCell<Vec<BridgeEvent>>>);

impl EventSink for Recorder {
    fn event(&mut self, event: BridgeEvent) {
        self.0.borrow_mut().push(event);
    }
}

/// The bridge's pump and the server session joined by a [`Wire`], on virtual time.
struct Pair {
    pump: Pump<'static, MemTls>,
    wire: Rc<RefCell<Wire>>,
    server: Session,
    ctl: ControlSender,
    events: Rc<RefCell<Vec<BridgeEvent>>>,
    now: Instant,
    /// PPP frames the server received.
    server_frames: Vec<Vec<u8>>,
    /// The server reads the wire but its answers are lost (a silent server).
    server_mute: bool,
    /// When the client reported its call closed (virtual time).
    closed_at: Option<Instant>,
    /// A link of this many bytes per virtual millisecond between the wire and the server
    /// (`None`: infinitely fast), and the time it last carried bytes up to.
    link: Option<(usize, Instant)>,
    end: Option<(BridgeEnd, Instant)>,
}

impl Pair {
    /// A pair over `line`, negotiated (CALL_CONNECT_REQUEST/ACK) and authenticated
    /// (CALL_CONNECTED with the zero HLAK, checked by the server).
    fn connected(line: Line, ccfg: ClientConfig, scfg: SessionConfig) -> Pair {
        Pair::connected_with(line, ccfg, scfg, &BridgeOptions::default())
    }

    /// [`Pair::connected`] with bridge options.
    fn connected_with(
        line: Line,
        ccfg: ClientConfig,
        scfg: SessionConfig,
        opts: &BridgeOptions,
    ) -> Pair {
        let now = Instant::now();
        let wire = Rc::new(RefCell::new(Wire {
            up: Vec::new(),
            down: VecDeque::new(),
            acked: 0,
            up_room: 1 << 20,
            server_closed: false,
        }));
        let events = Rc::new(RefCell::new(Vec::new()));
        // The pump borrows its sink for its whole life: one small leak per test.
        let sink: &'static mut Recorder = Box::leak(Box::new(Recorder(Rc::clone(&events))));
        let (ctl, rx) = control_channel().unwrap();
        let client = Client::new(ccfg, now);
        let tls = MemTls(Rc::clone(&wire));
        let Ok(pump) = Pump::new(tls, client, line, rx, CERT.to_vec(), sink, opts) else {
            panic!("the line cannot be used");
        };
        let scfg = SessionConfig {
            binding_cert_der: CERT.to_vec(),
            verify_mac: Some(Hlak::zero()),
            ..scfg
        };
        let mut pair = Pair {
            pump,
            wire,
            server: Session::new(scfg, [7; NONCE_LEN], now),
            ctl,
            events,
            now,
            server_frames: Vec::new(),
            server_mute: false,
            closed_at: None,
            link: None,
            end: None,
        };
        pair.settle();
        assert!(pair.server.ppp_open(), "CALL_CONNECT_ACK sent");
        pair.command(Command::Authenticated { hlak: Hlak::zero() });
        assert!(
            pair.server.binding().is_some_and(|b| b.ok()),
            "binding checked"
        );
        pair
    }

    fn command(&mut self, cmd: Command) {
        self.ctl.send(cmd).unwrap();
        self.settle();
    }

    /// Runs both sides without advancing time until nothing moves; true once the bridge ended.
    fn settle(&mut self) -> bool {
        for _ in 0..100_000 {
            if self.end.is_some() {
                return true;
            }
            let before = self.pump.counters();
            if let Some(end) = self.pump.step(self.now) {
                self.end = Some((end, self.now));
            }
            self.note_close();
            if !self.shuttle() && self.pump.counters() == before && self.end.is_none() {
                return false;
            }
        }
        panic!("the pair does not settle");
    }

    fn note_close(&mut self) {
        let closed = self
            .events
            .borrow()
            .iter()
            .any(|e| matches!(e, BridgeEvent::Session(Event::Closed(_))));
        if closed && self.closed_at.is_none() {
            self.closed_at = Some(self.now);
        }
    }

    /// Moves bytes between the wire and the server; whether anything moved.
    fn shuttle(&mut self) -> bool {
        let mut moved = false;
        let mut w = self.wire.borrow_mut();
        let n = match &mut self.link {
            None => w.up.len(),
            Some((per_ms, last)) => {
                let ms = (self.now - *last).as_millis() as usize;
                *last += Duration::from_millis(ms as u64);
                w.up.len().min(ms * *per_ms)
            }
        };
        if n > 0 {
            let bytes: Vec<u8> = w.up.drain(..n).collect();
            w.acked += bytes.len() as u64;
            let frames = &mut self.server_frames;
            self.server
                .handle_input(self.now, &bytes, &mut |f| frames.push(f.to_vec()));
            moved = true;
        }
        let n = self.server.pending_transmit().len();
        if n > 0 {
            if !self.server_mute && !w.server_closed {
                w.down.extend(self.server.pending_transmit());
            }
            self.server.consume_transmit(n);
            moved = true;
        }
        if self.server.is_closed() && !self.server_mute && !w.server_closed {
            w.server_closed = true;
            moved = true;
        }
        while self.server.poll_event().is_some() {}
        moved
    }

    /// Jumps to the next timer of either side, up to `until`; false if there is none before.
    fn advance(&mut self, until: Instant) -> bool {
        let link = self.link.is_some() && !self.wire.borrow().up.is_empty();
        let link = link.then(|| self.now + Duration::from_millis(1));
        let next = [self.pump.deadline(), self.server.poll_timeout(), link]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= until => self.now = self.now.max(t),
            _ => {
                self.now = until;
                return false;
            }
        }
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
        true
    }

    /// Lets `d` of virtual time pass (timers fire on time); true if the bridge ended.
    fn run_for(&mut self, d: Duration) -> bool {
        let until = self.now + d;
        for _ in 0..100_000 {
            if self.settle() {
                return true;
            }
            if !self.advance(until) {
                return self.settle();
            }
        }
        panic!("a timer fires without end");
    }

    /// Runs until the bridge ends (at most `limit` of virtual time): how and when.
    fn run_to_end(&mut self, limit: Duration) -> (BridgeEnd, Instant) {
        assert!(self.run_for(limit), "the bridge ends within {limit:?}");
        self.end.take().unwrap()
    }

    fn logged(&self, text: &str) -> bool {
        self.events
            .borrow()
            .iter()
            .any(|e| matches!(e, BridgeEvent::Log { message, .. } if message.contains(text)))
    }
}

fn pty_pair() -> (Line, HdlcPort) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    (Line::Pty(OwnedFd::from(theirs)), HdlcPort::new(ours))
}

const TUNNEL: u16 = 0x1234;
const SESSION: u16 = 0xBEEF;

fn l2tp_line(sock: OwnedFd) -> Line {
    Line::L2tp(L2tpLine {
        sock,
        tunnel_id: TUNNEL,
        session_id: SESSION,
    })
}

/// A datagram as the kernel sends it (its peer's ids; here arbitrary).
fn from_kernel(frame: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    l2tp::encode_data(7, 9, frame, &mut d);
    d
}

fn local_disconnect(acknowledged: bool) -> CloseReason {
    CloseReason::LocalDisconnect { acknowledged }
}

fn assert_call_end(end: &BridgeEnd, want: &CloseReason) {
    assert!(
        matches!(end, BridgeEnd::Call(r) if r == want),
        "{end:?}, expected {want:?}"
    );
}

#[test]
fn pty_line_frames_both_ways_then_pppd_hangs_up() {
    let (line, mut pppd) = pty_pair();
    let mut p = Pair::connected(line, ClientConfig::default(), SessionConfig::default());
    for (i, len) in [1usize, 100, 1400, 4000].into_iter().enumerate() {
        let f = ip_frame(len, i as u8);
        pppd.send(&f);
        p.settle();
        assert_eq!(p.server_frames.pop().as_deref(), Some(&f[..]));
        let g = ip_frame(len, 100 + i as u8);
        p.server.send_ppp_frame(&g);
        p.settle();
        assert_eq!(pppd.recv(), g);
    }
    drop(pppd);
    let (end, _) = p.run_to_end(10 * SECOND);
    assert!(p.logged("pppd closed the line; disconnecting the SSTP call"));
    assert_call_end(&end, &local_disconnect(true));
    assert_eq!(p.pump.counters().frames_to_server, 4);
    assert_eq!(p.pump.counters().frames_from_server, 4);
}

#[test]
fn l2tp_line_frames_both_ways_malformed_dropped_then_kernel_gone() {
    let (kernel, ours) = UnixDatagram::pair().unwrap();
    let mut p = Pair::connected(
        l2tp_line(OwnedFd::from(ours)),
        ClientConfig::default(),
        SessionConfig::default(),
    );
    // Kernel → server: FF 03 stays on the frame; optional header fields are skipped.
    let f = ip_frame(1400, 1);
    kernel.send(&from_kernel(&f)).unwrap();
    let mut with_options = vec![0x4A, 0x02, 0, 0, 0, 7, 0, 9, 0, 1, 0, 2, 0, 1, 0xEE];
    with_options.extend_from_slice(&lcp(5));
    with_options[3] = with_options.len() as u8;
    kernel.send(&with_options).unwrap();
    p.settle();
    assert_eq!(p.server_frames, vec![f, lcp(5)]);

    // Server → kernel: one datagram per frame behind the kernel's local ids.
    for len in [1usize, 1400] {
        let g = ip_frame(len, 9);
        p.server.send_ppp_frame(&g);
        p.settle();
        let mut buf = [0u8; 2048];
        let n = kernel.recv(&mut buf).unwrap();
        assert_eq!(buf[..6], l2tp::encode_header(TUNNEL, SESSION));
        assert_eq!(buf[6..n], g[..]);
    }

    // Hostile or foreign datagrams are counted and dropped; the call goes on.
    for bad in [
        &[0x00, 0x03, 0, 1, 0, 2][..],
        &[0xC8, 0x02, 0, 12],
        &[0x00, 0x02, 0],
    ] {
        kernel.send(bad).unwrap();
    }
    kernel.send(&from_kernel(&lcp(6))).unwrap();
    p.settle();
    assert_eq!(p.pump.counters().l2tp_malformed, 3);
    assert_eq!(p.server_frames.last(), Some(&lcp(6)));
    assert!(p.end.is_none());

    // A datagram socket pair notices its closed peer when it sends (ECONNREFUSED).
    drop(kernel);
    p.server.send_ppp_frame(&lcp(7));
    let (end, _) = p.run_to_end(10 * SECOND);
    assert!(p.logged("pppd's side of the line is gone"));
    assert_call_end(&end, &local_disconnect(true));
    assert_eq!(p.pump.counters().frames_to_server, 3);
}

/// A connected UDP socket whose kernel peer is gone reports ECONNREFUSED: pppd hung up.
#[test]
fn l2tp_over_udp_refused_peer_is_a_hang_up() {
    let kernel = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ours = UdpSocket::bind("127.0.0.1:0").unwrap();
    ours.connect(kernel.local_addr().unwrap()).unwrap();
    kernel.connect(ours.local_addr().unwrap()).unwrap();
    let mut p = Pair::connected(
        l2tp_line(OwnedFd::from(ours)),
        ClientConfig::default(),
        SessionConfig::default(),
    );
    kernel.send(&from_kernel(&lcp(1))).unwrap();
    p.settle();
    assert_eq!(p.server_frames, vec![lcp(1)]);

    drop(kernel);
    // Our next datagram draws an ICMP port unreachable: the socket reports ECONNREFUSED.
    for i in 0..100 {
        p.server.send_ppp_frame(&lcp(i));
        if p.settle() || p.logged("pppd") {
            break;
        }
        std::thread::yield_now();
    }
    let (end, _) = p.run_to_end(10 * SECOND);
    assert!(
        p.logged("pppd closed the line") || p.logged("pppd's side of the line is gone"),
        "{:?}",
        p.events.borrow()
    );
    assert_call_end(&end, &local_disconnect(true));
}

/// Echoes keep an idle call alive for many hello intervals; a silent server is given up on
/// after the hello interval × (echo failures + 1), without CALL_ABORT.
#[test]
fn hello_echo_keeps_alive_and_silence_times_out() {
    let (line, _pppd) = pty_pair();
    let ccfg = ClientConfig::default();
    // The server's own echoes would reset the client's idle timer.
    let scfg = SessionConfig {
        hello_interval: 1000 * ccfg.hello_interval,
        ..Default::default()
    };
    let mut p = Pair::connected(line, ccfg.clone(), scfg);
    assert!(!p.run_for(10 * ccfg.hello_interval), "answered echoes");
    let sent = p.server.stats().echo_requests_received;
    assert!(sent >= 9, "{sent} echo requests in 10 hello intervals");

    p.server_mute = true;
    let silent_from = p.now;
    let (end, at) = p.run_to_end(100 * ccfg.hello_interval);
    let unanswered = ccfg.echo_failures;
    assert_call_end(&end, &CloseReason::EchoTimeout { unanswered });
    let waited = at - silent_from;
    let expected = ccfg.hello_interval * (ccfg.echo_failures + 1);
    assert!(
        waited >= expected && waited <= expected + ccfg.hello_interval,
        "gave up after {waited:?}, expected about {expected:?}"
    );
    assert_eq!(
        p.server.stats().echo_requests_received,
        sent + u64::from(ccfg.echo_failures)
    );
}

/// CALL_DISCONNECT without an acknowledgement: the call ends when the disconnect timer
/// expires, on virtual time.
#[test]
fn unacknowledged_disconnect_times_out() {
    let (line, _pppd) = pty_pair();
    let ccfg = ClientConfig::default();
    let mut p = Pair::connected(line, ccfg.clone(), SessionConfig::default());
    p.server_mute = true;
    let asked = p.now;
    p.command(Command::Disconnect);
    let (end, at) = p.run_to_end(60 * SECOND);
    assert_call_end(&end, &local_disconnect(false));
    assert_eq!(at - asked, ccfg.disconnect_timeout);
    assert!(p.logged("disconnect requested"));
}

/// Once the call is closed, packets that cannot leave (the server does not read, its window
/// is shut) get CLOSE_FLUSH_LIMIT, then the bridge ends anyway.
#[test]
fn close_flush_limit_bounds_the_last_packets() {
    let (line, _pppd) = pty_pair();
    let ccfg = ClientConfig::default();
    let mut p = Pair::connected(line, ccfg.clone(), SessionConfig::default());
    p.wire.borrow_mut().up_room = 0;
    let asked = p.now;
    p.command(Command::Disconnect);
    let (end, at) = p.run_to_end(60 * SECOND);
    assert_call_end(&end, &local_disconnect(false));
    let closed = p.closed_at.expect("the call closed");
    assert_eq!(closed - asked, ccfg.disconnect_timeout);
    assert_eq!(at - closed, CLOSE_FLUSH_LIMIT);
}

/// Back-pressure: while pppd does not read its pty, the bridge stops reading the server, so
/// the bulk waits on the wire (TCP) instead of in the bridge; then everything arrives intact.
#[test]
fn stalled_pppd_holds_the_server_back() {
    let (line, mut pppd) = pty_pair();
    let mut p = Pair::connected(line, ClientConfig::default(), SessionConfig::default());
    let frame = ip_frame(1400, 77);
    let frames = 12_000; // about 17 MB
    for _ in 0..frames {
        p.server.send_ppp_frame(&frame);
    }
    p.settle();
    let held = p.wire.borrow().down.len();
    assert!(held > 8 << 20, "only {held} bytes held back on the wire");
    pppd.stream.set_nonblocking(true).unwrap();
    let mut dec = hdlc::Decoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < frames {
        let n = match pppd.stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(!p.settle(), "the bridge ended");
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        assert!(n > 0, "the bridge closed the pty");
        let mut input = &buf[..n];
        while let Some(f) = dec.next_frame(&mut input) {
            assert_eq!(f, &frame[..]);
            got += 1;
        }
    }
    assert_eq!(p.pump.counters().frames_from_server, frames as u64);
    assert!(p.wire.borrow().down.is_empty());
}

/// Latency under load: pppd sends bulk as fast as the bridge takes it over a slow link (8 Mbit/s
/// into a socket with 32 KiB of room, as TCP_NOTSENT_LOWAT leaves it), then one interactive
/// frame. Returns how long that frame takes to reach the server (virtual time).
fn interactive_delay_behind_bulk(opts: &BridgeOptions) -> Duration {
    let (line, mut pppd) = pty_pair();
    let scfg = SessionConfig::default();
    let mut p = Pair::connected_with(line, ClientConfig::default(), scfg, opts);
    p.wire.borrow_mut().up_room = 32 * 1024;
    p.link = Some((1000, p.now));
    let bulk = ip_frame(1400, 1);
    let mark = lcp(99);
    // pppd's side holds at most this much unread (a tty buffer), so the queue measured is ours.
    let pty_buffer = 8 * 1024u64;
    let mut encoded = Vec::new();
    hdlc::Encoder::default().encode(&bulk, &mut encoded);
    // A full socket fails the test instead of hanging it.
    pppd.stream.set_nonblocking(true).unwrap();
    let mut written = 0u64;
    let mut feed = |p: &mut Pair, pppd: &mut HdlcPort| {
        while written < p.pump.counters().pty_bytes_in + pty_buffer {
            pppd.send(&bulk);
            written += encoded.len() as u64;
        }
    };
    let start = p.now;
    let acked = p.wire.borrow().acked;
    while p.now - start < 2 * SECOND {
        feed(&mut p, &mut pppd);
        assert!(!p.run_for(Duration::from_millis(1)));
    }
    // Pacing costs no throughput: the link stayed busy.
    let carried = p.wire.borrow().acked - acked;
    assert!(
        carried >= 1_950_000,
        "{carried} bytes in 2 s at 1000 bytes/ms"
    );
    pppd.send(&mark);
    let sent = p.now;
    while !p.server_frames.contains(&mark) {
        feed(&mut p, &mut pppd);
        assert!(!p.run_for(Duration::from_millis(1)));
        assert!(
            p.now - sent < 10 * SECOND,
            "the interactive frame never arrives"
        );
        p.server_frames.retain(|f| *f == mark);
    }
    p.now - sent
}

#[test]
fn pacing_keeps_an_interactive_frame_ahead_of_a_bulk_backlog() {
    let paced = interactive_delay_behind_bulk(&BridgeOptions::default());
    let unpaced = interactive_delay_behind_bulk(&BridgeOptions {
        pacing_floor: 256 * 1024,
        ..BridgeOptions::default()
    });
    eprintln!(
        "interactive frame behind bulk at 8 Mbit/s: paced {paced:?}, byte-bounded {unpaced:?}"
    );
    // Ours (16 KiB floor) + the socket's 32 KiB + the pty's 8 KiB, at 1000 bytes/ms.
    assert!(paced <= Duration::from_millis(120), "{paced:?}");
    assert!(unpaced >= Duration::from_millis(250), "{unpaced:?}");
}
