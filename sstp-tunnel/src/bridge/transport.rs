//! The TLS side of the pump: non-blocking SSL reads and writes, WANT_READ / WANT_WRITE and the
//! ways a peer's close shows up, behind [`Transport`] so the pump also runs over memory.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsFd;

use openssl::ssl::{ErrorCode, SslStream};

use crate::error::TunnelError;
use crate::sys;

/// Outcome of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRead {
    /// Plaintext bytes.
    Data(usize),
    /// Nothing until the socket is readable (everything buffered was consumed).
    WantRead,
    /// A renegotiation/key update needs the socket writable first.
    WantWrite,
    /// The peer closed (close_notify, FIN, reset).
    Eof,
}

/// Outcome of one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsWrite {
    /// Bytes accepted.
    Wrote(usize),
    /// The socket is full.
    WantWrite,
    /// The write needs the socket readable first.
    WantRead,
}

/// The byte stream to the server as the pump sees it.
pub trait Transport {
    /// One non-blocking read.
    fn read(&mut self, buf: &mut [u8]) -> Result<TlsRead, TunnelError>;
    /// One non-blocking write.
    fn write(&mut self, buf: &[u8]) -> Result<TlsWrite, io::Error>;
    /// Plaintext decrypted and waiting in user space (SSL_pending).
    fn buffered(&self) -> bool;
    /// Bytes acknowledged by the peer and whether some are unacknowledged (TCP_INFO).
    fn delivery(&self) -> Option<(u64, bool)>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn read(&mut self, buf: &mut [u8]) -> Result<TlsRead, TunnelError> {
        (**self).read(buf)
    }

    fn write(&mut self, buf: &[u8]) -> Result<TlsWrite, io::Error> {
        (**self).write(buf)
    }

    fn buffered(&self) -> bool {
        (**self).buffered()
    }

    fn delivery(&self) -> Option<(u64, bool)> {
        (**self).delivery()
    }
}

impl Transport for SslStream<TcpStream> {
    fn read(&mut self, buf: &mut [u8]) -> Result<TlsRead, TunnelError> {
        match self.ssl_read(buf) {
            Ok(0) => Ok(TlsRead::Eof),
            Ok(n) => Ok(TlsRead::Data(n)),
            Err(e) => classify_read_error(e),
        }
    }

    fn write(&mut self, buf: &[u8]) -> Result<TlsWrite, io::Error> {
        match self.ssl_write(buf) {
            Ok(n) => Ok(TlsWrite::Wrote(n)),
            Err(e) if e.code() == ErrorCode::WANT_WRITE => Ok(TlsWrite::WantWrite),
            Err(e) if e.code() == ErrorCode::WANT_READ => Ok(TlsWrite::WantRead),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    fn buffered(&self) -> bool {
        self.ssl().pending() > 0
    }

    fn delivery(&self) -> Option<(u64, bool)> {
        sys::tcp_delivery(self.get_ref().as_fd())
    }
}

fn classify_read_error(e: openssl::ssl::Error) -> Result<TlsRead, TunnelError> {
    match e.code() {
        ErrorCode::WANT_READ => return Ok(TlsRead::WantRead),
        ErrorCode::WANT_WRITE => return Ok(TlsRead::WantWrite),
        ErrorCode::ZERO_RETURN => return Ok(TlsRead::Eof),
        ErrorCode::SYSCALL if e.io_error().is_none() => return Ok(TlsRead::Eof),
        _ => {}
    }
    if let Some(io) = e.io_error() {
        match io.kind() {
            io::ErrorKind::WouldBlock => return Ok(TlsRead::WantRead),
            io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => {
                return Ok(TlsRead::Eof)
            }
            _ => {}
        }
    }
    let text = e.to_string();
    if text.contains("unexpected eof") {
        return Ok(TlsRead::Eof);
    }
    Err(TunnelError::io(
        "reading from the server",
        io::Error::other(text),
    ))
}
