//! A TCP stream that keeps a copy of the first bytes the server sent, as evidence: what a
//! non-TLS port answered, and the clear-text handshake flight under OpenSSL, whose API
//! does not hand over the CertificateRequest.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

/// The bytes a [`Tap`] kept, readable after the stream has been handed away.
#[derive(Clone, Default)]
pub(crate) struct Recorded(Arc<Mutex<Vec<u8>>>);

impl Recorded {
    /// A copy of what was kept so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The TCP stream under a TLS implementation, keeping up to `limit` bytes read.
pub(crate) struct Tap {
    inner: TcpStream,
    recorded: Recorded,
    limit: usize,
}

impl Tap {
    /// Wraps `inner`, keeping the first `limit` bytes the server sends.
    pub fn new(inner: TcpStream, limit: usize) -> Self {
        Tap {
            inner,
            recorded: Recorded::default(),
            limit,
        }
    }

    /// A handle on the kept bytes.
    pub fn recorded(&self) -> Recorded {
        self.recorded.clone()
    }

    /// The TCP stream, for socket options.
    pub fn tcp(&self) -> &TcpStream {
        &self.inner
    }

    /// Closes the connection and returns the kept bytes.
    pub fn hang_up(self) -> Vec<u8> {
        let _ = self.inner.shutdown(std::net::Shutdown::Both);
        self.recorded.bytes()
    }
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut kept = self.recorded.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.limit.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        Ok(n)
    }
}

impl Write for Tap {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
