//! The PPP side of the pump: one interface ([`PppLine`]), two lines — pppd's pty carrying async
//! HDLC ([`PtyLine`]) and the kernel's PPPoL2TP socket carrying one frame per datagram
//! ([`L2tpIo`]).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmmsg, sendmmsg, setsockopt, sockopt, ControlMessage, MsgFlags, MultiHeaders,
};
use sstp_proto::client::{Client, SendError};
use sstp_proto::{hdlc, l2tp};

use super::{BridgeOptions, Counters, L2tpLine};

/// The line to pppd is gone; the text says how (logged by the pump).
#[derive(Debug)]
pub(super) enum Hangup {
    /// Reading found the end (EOF, EIO, ECONNREFUSED).
    Read,
    /// Writing failed.
    Write(io::Error),
}

/// Frames from pppd the client refused during one read batch.
#[derive(Debug, Default)]
pub(super) struct Refusals {
    pub count: u64,
    pub first: Option<SendError>,
}

/// Hands one frame from pppd to the client, counting the outcome.
fn to_server(client: &mut Client, frame: &[u8], c: &mut Counters, r: &mut Refusals) {
    match client.send_ppp_frame(frame) {
        Ok(()) => c.frames_to_server += 1,
        Err(e) => {
            c.frames_refused += 1;
            r.count += 1;
            r.first.get_or_insert(e);
        }
    }
}

/// Read batch bound per wake-up, so the other side is served too.
const READ_BATCH: usize = 16;
/// Written bytes after which a partly sent output buffer is compacted.
const COMPACT_AT: usize = 64 * 1024;

/// The PPP channel to pppd (or the kernel).
pub(super) trait PppLine {
    /// The descriptor to poll.
    fn fd(&self) -> BorrowedFd<'_>;
    /// Bytes queued for the line, not written yet.
    fn backlog(&self) -> usize;
    /// Moves frames from the client into the line's queue while the backlog is under `limit`.
    fn fill(&mut self, client: &mut Client, limit: usize, c: &mut Counters);
    /// Writes the queue; `Ok(true)` when the line would block.
    fn flush(&mut self, c: &mut Counters) -> Result<bool, Hangup>;
    /// Drops the queue (after a hang-up).
    fn discard(&mut self);
    /// How much pppd's side may hold for us unread (bytes), where the line can bound it.
    fn bound_input(&mut self, _bytes: usize) {}
    /// Reads a bounded batch, handing complete frames to the client; stops once the client's
    /// transmit queue reaches `limit`.
    fn read(
        &mut self,
        client: &mut Client,
        limit: usize,
        buf: &mut [u8],
        c: &mut Counters,
        r: &mut Refusals,
    ) -> Result<(), Hangup>;
}

/// pppd's pty master with async HDLC, following pppd's ACCM if asked.
pub(super) struct PtyLine {
    file: File,
    decoder: hdlc::Decoder,
    encoder: hdlc::Encoder,
    tracker: Option<hdlc::AccmTracker>,
    out: Vec<u8>,
    off: usize,
}

impl PtyLine {
    pub(super) fn new(fd: OwnedFd, opts: &BridgeOptions) -> PtyLine {
        PtyLine {
            file: File::from(fd),
            decoder: hdlc::Decoder::new(opts.max_hdlc_frame),
            encoder: hdlc::Encoder::new(opts.accm),
            tracker: opts.track_accm.then(hdlc::AccmTracker::new),
            out: Vec::with_capacity(64 * 1024),
            off: 0,
        }
    }

    fn compact(&mut self) {
        if self.off == self.out.len() {
            self.out.clear();
            self.off = 0;
        } else if self.off > COMPACT_AT {
            self.out.drain(..self.off);
            self.off = 0;
        }
    }
}

impl PppLine for PtyLine {
    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    fn backlog(&self) -> usize {
        self.out.len() - self.off
    }

    fn fill(&mut self, client: &mut Client, limit: usize, c: &mut Counters) {
        while self.backlog() < limit {
            let Some(frame) = client.next_ppp_frame() else {
                break;
            };
            if let Some(accm) = self.tracker.as_mut().and_then(|t| t.to_pppd(frame)) {
                self.encoder.set_accm(accm);
            }
            self.encoder.encode(frame, &mut self.out);
            c.frames_from_server += 1;
        }
    }

    fn flush(&mut self, c: &mut Counters) -> Result<bool, Hangup> {
        let mut blocked = false;
        while self.off < self.out.len() {
            match self.file.write(&self.out[self.off..]) {
                Ok(0) => {
                    blocked = true;
                    break;
                }
                Ok(n) => {
                    self.off += n;
                    c.pty_bytes_out += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Hangup::Write(e)),
            }
        }
        self.compact();
        Ok(blocked)
    }

    fn discard(&mut self) {
        self.out.clear();
        self.off = 0;
    }

    fn read(
        &mut self,
        client: &mut Client,
        limit: usize,
        buf: &mut [u8],
        c: &mut Counters,
        r: &mut Refusals,
    ) -> Result<(), Hangup> {
        let result = (|| {
            for _ in 0..READ_BATCH {
                let n = match self.file.read(buf) {
                    Ok(0) => return Err(Hangup::Read),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // EIO: the pty slave was closed (pppd exited or hung up).
                    Err(_) => return Err(Hangup::Read),
                };
                c.pty_bytes_in += n as u64;
                let (tracker, encoder) = (&mut self.tracker, &mut self.encoder);
                self.decoder.push(&buf[..n], |frame| {
                    if let Some(accm) = tracker.as_mut().and_then(|t| t.from_pppd(frame)) {
                        encoder.set_accm(accm);
                    }
                    to_server(client, frame, c, r);
                });
                if client.pending_transmit().len() >= limit {
                    return Ok(());
                }
            }
            Ok(())
        })();
        c.hdlc = self.decoder.stats();
        result
    }
}

/// The kernel's PPPoL2TP tunnel behind a connected UDP socket: one PPP frame per datagram.
pub(super) struct L2tpIo {
    line: L2tpLine,
    /// The socket's receive buffer as last set (see [`PppLine::bound_input`]).
    rcvbuf: usize,
    /// Queued datagrams, back to back; `lens` holds their lengths in order.
    out: Vec<u8>,
    lens: VecDeque<usize>,
    off: usize,
    /// recvmmsg(2)'s message headers, allocated once.
    headers: MultiHeaders<()>,
    /// sendmmsg(2)'s.
    send_headers: MultiHeaders<()>,
}

/// Datagrams per recvmmsg(2) / sendmmsg(2) (received: at most as many as the read buffer has
/// room for).
const DATAGRAM_BATCH: usize = 16;
/// Room per datagram: the largest SSTP data packet's frame behind an L2TP header; a longer
/// datagram (truncated, `MSG_TRUNC`) is malformed.
const DATAGRAM_ROOM: usize = sstp_proto::wire::MAX_DATA_LEN + 64;

/// Receives up to `lens.len()` datagrams in one system call, datagram `i` into
/// `buf[i * DATAGRAM_ROOM..]`; their lengths (before truncation: longer than the room means
/// truncated) go to `lens`. Returns how many arrived.
fn recv_batch(
    fd: i32,
    headers: &mut MultiHeaders<()>,
    buf: &mut [u8],
    lens: &mut [usize],
) -> nix::Result<usize> {
    let mut room = buf.chunks_exact_mut(DATAGRAM_ROOM);
    let mut slices: [[IoSliceMut<'_>; 1]; DATAGRAM_BATCH] =
        std::array::from_fn(|_| [IoSliceMut::new(room.next().unwrap_or_default())]);
    let usable = buf_slots(&slices).min(lens.len());
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC;
    let got = recvmmsg(fd, headers, slices[..usable].iter_mut(), flags, None)?;
    let mut n = 0;
    for (len, msg) in lens.iter_mut().zip(got) {
        *len = msg.bytes;
        n += 1;
    }
    Ok(n)
}

/// Sends up to [`DATAGRAM_BATCH`] queued datagrams (`out` holds them back to back, `lens` their
/// lengths) in one system call. Returns how many left.
fn send_batch(
    fd: i32,
    headers: &mut MultiHeaders<()>,
    out: &[u8],
    lens: &VecDeque<usize>,
    flags: MsgFlags,
) -> nix::Result<usize> {
    let mut rest = out;
    let slices: [[IoSlice<'_>; 1]; DATAGRAM_BATCH] = std::array::from_fn(|i| match lens.get(i) {
        Some(&len) if len <= rest.len() => {
            let (dgram, tail) = rest.split_at(len);
            rest = tail;
            [IoSlice::new(dgram)]
        }
        _ => [IoSlice::new(&[])],
    });
    let n = lens.len().min(DATAGRAM_BATCH);
    let addrs = [None::<()>; DATAGRAM_BATCH];
    let none: [ControlMessage<'_>; 0] = [];
    let sent = sendmmsg(fd, headers, &slices[..n], &addrs[..n], none, flags)?;
    Ok(sent.count())
}

/// How many of the slots have room for a datagram.
fn buf_slots(slices: &[[IoSliceMut<'_>; 1]]) -> usize {
    slices.iter().take_while(|s| !s[0].is_empty()).count()
}

impl L2tpIo {
    pub(super) fn new(line: L2tpLine) -> L2tpIo {
        L2tpIo {
            line,
            rcvbuf: 0,
            out: Vec::with_capacity(64 * 1024),
            lens: VecDeque::new(),
            off: 0,
            headers: MultiHeaders::preallocate(DATAGRAM_BATCH, None),
            send_headers: MultiHeaders::preallocate(DATAGRAM_BATCH, None),
        }
    }

    fn raw(&self) -> i32 {
        self.line.sock.as_raw_fd()
    }
}

impl PppLine for L2tpIo {
    fn fd(&self) -> BorrowedFd<'_> {
        self.line.sock.as_fd()
    }

    fn backlog(&self) -> usize {
        self.out.len() - self.off
    }

    /// The kernel's L2TP path has no back-pressure: what pppd sends beyond this socket's
    /// receive buffer is dropped, as at a router's queue, and the default buffer (~200 KiB)
    /// would be 80 ms in front of a 20 Mbit/s link. The buffer follows the pacing limit
    /// instead (reset when it moves by a quarter), so the inner TCP meets its bottleneck queue
    /// here with a bounded delay. Twice the limit: once it was the limit alone, bursts of the
    /// inner TCP overflowed it and a 20 Mbit/s link carried 82 % of its rate instead of 94 %.
    fn bound_input(&mut self, bytes: usize) {
        let bytes = bytes.saturating_mul(2);
        let moved = bytes.abs_diff(self.rcvbuf) > self.rcvbuf / 4;
        if moved && setsockopt(&self.line.sock, sockopt::RcvBuf, &bytes).is_ok() {
            self.rcvbuf = bytes;
        }
    }

    fn fill(&mut self, client: &mut Client, limit: usize, c: &mut Counters) {
        while self.backlog() < limit {
            let Some(frame) = client.next_ppp_frame() else {
                break;
            };
            let start = self.out.len();
            l2tp::encode_data(
                self.line.tunnel_id,
                self.line.session_id,
                frame,
                &mut self.out,
            );
            self.lens.push_back(self.out.len() - start);
            c.frames_from_server += 1;
        }
    }

    fn flush(&mut self, c: &mut Counters) -> Result<bool, Hangup> {
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        let mut blocked = false;
        while !self.lens.is_empty() {
            let out = &self.out[self.off..];
            let sent = match send_batch(self.raw(), &mut self.send_headers, out, &self.lens, flags)
            {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN | Errno::ENOBUFS) => {
                    blocked = true;
                    break;
                }
                Err(e) => return Err(Hangup::Write(e.into())),
            };
            for len in self.lens.drain(..sent.min(self.lens.len())) {
                c.pty_bytes_out += len.saturating_sub(l2tp::DATA_HEADER_LEN) as u64;
                self.off += len;
            }
            if sent == 0 {
                blocked = true;
                break;
            }
        }
        if self.lens.is_empty() {
            self.out.clear();
            self.off = 0;
        } else if self.off > COMPACT_AT {
            self.out.drain(..self.off);
            self.off = 0;
        }
        Ok(blocked)
    }

    fn discard(&mut self) {
        self.out.clear();
        self.lens.clear();
        self.off = 0;
    }

    fn read(
        &mut self,
        client: &mut Client,
        limit: usize,
        buf: &mut [u8],
        c: &mut Counters,
        r: &mut Refusals,
    ) -> Result<(), Hangup> {
        for _ in 0..READ_BATCH {
            let mut lens = [0usize; DATAGRAM_BATCH];
            // No more than the pacing limit leaves room for (full-size frames), at least one.
            let room = limit.saturating_sub(client.pending_transmit().len());
            let want = (1 + room / 1500).min(DATAGRAM_BATCH);
            let got = match recv_batch(self.raw(), &mut self.headers, buf, &mut lens[..want]) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                // ECONNREFUSED: the kernel's tunnel socket is gone (pppd hung up).
                Err(_) => return Err(Hangup::Read),
            };
            for (i, &n) in lens[..got].iter().enumerate() {
                // The kernel never sends an empty data message; a datagram socket pair reads
                // 0 once its peer is closed.
                if n == 0 {
                    return Err(Hangup::Read);
                }
                let dgram = &buf[i * DATAGRAM_ROOM..][..n.min(DATAGRAM_ROOM)];
                match l2tp::parse_data(dgram) {
                    Ok(m) if n <= DATAGRAM_ROOM => {
                        c.pty_bytes_in += m.payload.len() as u64;
                        to_server(client, m.payload, c, r);
                    }
                    _ => c.l2tp_malformed += 1,
                }
            }
            if client.pending_transmit().len() >= limit || got < want {
                return Ok(());
            }
        }
        Ok(())
    }
}
