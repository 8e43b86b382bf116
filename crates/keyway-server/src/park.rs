//! Parking idle connections: between requests a keep-alive connection holds only its
//! TLS stream. hyper's per-connection buffers (8 KiB to read, 8 KiB to write) and the
//! slot for a request in flight are dropped when the connection goes idle and made
//! again when the client sends its next bytes, so a thousand idle partners cost what
//! their TLS state costs, not what an HTTP exchange needs.
//!
//! A connection is parked once it has been idle for a few milliseconds. Idle means: no
//! exchange in flight (a request being handled or an answer being sent,
//! counted by [`InFlight`] guards that live until the answer's body is done), nothing
//! left unflushed, and hyper waiting to read. Bytes hyper read but had not used (the
//! start of the next request) are handed back by `into_parts` and replayed first.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one connection is doing, shared by its IO wrapper, its service and the loop
/// that decides when to park it.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    read_waiting: AtomicBool,
    unflushed: AtomicBool,
}

impl Activity {
    /// Whether hyper can be set aside: nothing in flight or unflushed, and it waits for
    /// the client's next bytes.
    pub(crate) fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && !self.unflushed.load(Ordering::Acquire)
            && self.read_waiting.load(Ordering::Acquire)
    }

    /// Counts an exchange until the guard (moved into the answer's body) is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }
}

/// One exchange in flight; see [`Activity::enter`].
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The connection's stream as hyper sees it: `prefix` (bytes read before hyper was
/// made) first, then the stream; reads that wait and writes not yet flushed are noted
/// in [`Activity`].
pub(crate) struct Tracked<'a, S> {
    pub(crate) stream: &'a mut S,
    pub(crate) prefix: Bytes,
    pub(crate) activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            this.activity.read_waiting.store(false, Ordering::Release);
            return Poll::Ready(Ok(()));
        }
        let polled = Pin::new(&mut *this.stream).poll_read(cx, buf);
        this.activity
            .read_waiting
            .store(polled.is_pending(), Ordering::Release);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.activity.unflushed.store(true, Ordering::Release);
        Pin::new(&mut *this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.activity.unflushed.store(true, Ordering::Release);
        Pin::new(&mut *this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut *this.stream).poll_flush(cx);
        if let Poll::Ready(Ok(())) = polled {
            this.activity.unflushed.store(false, Ordering::Release);
        }
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().stream).poll_shutdown(cx)
    }
}

/// An answer's body that holds its exchange's [`InFlight`] guard until it is done.
pub(crate) struct Guarded<B> {
    pub(crate) body: B,
    pub(crate) _guard: InFlight,
}

impl<B: Body + Unpin> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
