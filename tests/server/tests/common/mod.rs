//! Shared helpers: a PKI per test, a server on loopback, the real client pieces
//! (`sstp_tunnel::connect`, `negotiate`, `bridge::run`) with a socketpair as the client's pty.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use sstp_proto::client::ClientConfig;
use sstp_proto::hdlc;
use sstp_test_server::certs::{Ca, CertKey, CertSpec};
use sstp_test_server::{spawn, PppBackend, ServerConfig, ServerHandle, SessionReport};
use sstp_tunnel::{
    bridge, connect, control_channel, negotiate, BridgeEvent, BridgeOptions, BridgeReport,
    ControlSender, Established, TunnelConfig, TunnelError,
};

static N: AtomicUsize = AtomicUsize::new(0);

pub struct Pki {
    pub ca: Ca,
    pub leaf: CertKey,
    pub dir: PathBuf,
    pub ca_file: PathBuf,
}

pub fn pki() -> Pki {
    let dir = std::env::temp_dir().join(format!(
        "sstp-test-server-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let ca = Ca::new("test CA").unwrap();
    let leaf = ca.issue(&CertSpec::localhost()).unwrap();
    let (ca_file, _) = ca.0.write(&dir, "ca").unwrap();
    Pki {
        ca,
        leaf,
        dir,
        ca_file,
    }
}

/// A server on 127.0.0.1 with `leaf`, configured by `f` (quiet unless SSTP_TEST_VERBOSE).
pub fn server_with(leaf: &CertKey, f: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    server_on("127.0.0.1:0", leaf, f)
}

pub fn server_on(bind: &str, leaf: &CertKey, f: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    let mut cfg = ServerConfig::new(leaf.cert.clone(), leaf.key.clone());
    cfg.verbose = std::env::var_os("SSTP_TEST_VERBOSE").is_some();
    f(&mut cfg);
    spawn(TcpListener::bind(bind).unwrap(), cfg).unwrap()
}

pub fn client_cfg(pki: &Pki, addr: SocketAddr) -> TunnelConfig {
    let mut c = TunnelConfig::new(addr.ip().to_string());
    c.port = addr.port();
    c.ca_file = Some(pki.ca_file.clone());
    c.handshake_timeout = Duration::from_secs(10);
    c.tls_timeout = Duration::from_secs(10);
    c
}

pub fn report(h: &ServerHandle) -> SessionReport {
    h.next_report(Duration::from_secs(20))
        .expect("server report within 20 s")
}

/// The server side of an in-process PPP peer: the test gets each connection's stream.
pub fn custom_peer() -> (PppBackend, mpsc::Receiver<UnixStream>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let backend = PppBackend::Custom(Arc::new(move |_id| {
        let (ours, theirs) = UnixStream::pair()?;
        if let Ok(t) = tx.lock() {
            let _ = t.send(theirs);
        }
        Ok(OwnedFd::from(ours))
    }));
    (backend, rx)
}

/// A byte stream carrying async HDLC, with frame-level send/recv.
pub struct HdlcPort {
    pub stream: UnixStream,
    dec: hdlc::Decoder,
    enc: hdlc::Encoder,
}

impl HdlcPort {
    pub fn new(stream: UnixStream) -> HdlcPort {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        HdlcPort {
            stream,
            dec: hdlc::Decoder::default(),
            enc: hdlc::Encoder::default(),
        }
    }

    pub fn send(&mut self, frame: &[u8]) {
        let mut out = Vec::new();
        self.enc.encode(frame, &mut out);
        self.stream.write_all(&out).unwrap();
    }

    pub fn recv(&mut self) -> Vec<u8> {
        let mut buf = [0u8; 8192];
        loop {
            let mut empty: &[u8] = &[];
            if let Some(f) = self.dec.next_frame(&mut empty) {
                return f.to_vec();
            }
            let n = self.stream.read(&mut buf).expect("a frame within 10 s");
            assert!(n > 0, "stream closed while waiting for a frame");
            let mut input = &buf[..n];
            if let Some(f) = self.dec.next_frame(&mut input) {
                let f = f.to_vec();
                assert!(input.is_empty(), "one frame at a time");
                return f;
            }
        }
    }
}

/// A running client: TLS + HTTP + CALL_CONNECT_REQUEST/ACK done, bridge running.
pub struct RunningClient {
    pub pty: HdlcPort,
    pub ctl: ControlSender,
    pub events: Arc<Mutex<Vec<BridgeEvent>>>,
    pub handle: JoinHandle<BridgeReport>,
    pub cert_der: Vec<u8>,
}

pub fn connect_negotiate(
    cfg: &TunnelConfig,
    ccfg: &ClientConfig,
) -> Result<(Established, sstp_proto::Client), TunnelError> {
    let mut est = connect(cfg)?;
    let client = negotiate(&mut est, ccfg)?;
    Ok((est, client))
}

pub fn run_bridge(est: Established, client: sstp_proto::Client) -> RunningClient {
    let cert_der = est.peer_cert_der.clone();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (ctl, rx) = control_channel().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev2 = Arc::clone(&events);
    let handle = thread::spawn(move || {
        let mut sink = |e: BridgeEvent| ev2.lock().unwrap().push(e);
        bridge::run(
            est,
            client,
            bridge::Line::Pty(OwnedFd::from(theirs)),
            rx,
            &mut sink,
            &BridgeOptions::default(),
        )
    });
    RunningClient {
        pty: HdlcPort::new(ours),
        ctl,
        events,
        handle,
        cert_der,
    }
}

pub fn lcp(id: u8) -> Vec<u8> {
    vec![0xFF, 0x03, 0xC0, 0x21, 0x09, id, 0x00, 0x08, 1, 2, 3, 4]
}

pub fn ip_frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0xFF, 0x03, 0x00, 0x21];
    f.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    f
}
