//! The connector's keep-alive connections. Each is a TLS connection from the
//! connector's [`TlsClient`] with hyper's HTTP/1.1 client on it, driven by a task of its
//! own and watched for the connector's response timeout ([`Watchdog`]). A connection is
//! lent to one request at a time and comes back to the pool when the answer has been
//! read to its end; one whose answer was dropped half-read is closed.
//!
//! Written here rather than using hyper-util's pooled client: that client's pool (keys
//! hashed per call, a checkout future, the connection's details copied into every
//! response) cost a third more instructions per call than the connection itself
//! (`bench/connect-rate.sh`); a connector talks to one origin, and a stack of idle
//! connections under a mutex is all it needs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HOST, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use keyway_tls::{ConnectError, ConnectionInfo, TlsClient, TlsStream};
use tokio::time::{Instant, Sleep};

use crate::connector::OutBody;

/// The most idle connections a connector keeps.
pub(crate) const MAX_IDLE: usize = 64;

/// A connector's connections, to its partner and to the origins redirects lead to.
pub(crate) struct Pool {
    tls: Arc<TlsClient>,
    timeout: Duration,
    idle: Arc<Mutex<Vec<Idle>>>,
}

/// A connection between requests (or lent to one).
struct Idle {
    origin: Authority,
    sender: SendRequest<OutBody>,
    /// What its TLS handshake negotiated.
    info: Arc<ConnectionInfo>,
}

/// Why a request got no answer.
pub(crate) enum SendError {
    /// No connection could be made.
    Connect(ConnectError),
    /// The connection failed before the answer's head came.
    Http(hyper::Error),
    /// A kept connection broke under the request before any of the answer came: the
    /// partner had closed it (many close a connection after an answer without saying
    /// so, or when it was idle). The request can go again on a new connection, as
    /// browsers and curl do, if its body can be sent again.
    Stale(hyper::Error),
    /// The URL cannot be called (it has no host).
    Url(String),
}

impl Pool {
    pub(crate) fn new(tls: Arc<TlsClient>, timeout: Duration) -> Pool {
        Pool {
            tls,
            timeout,
            idle: Arc::default(),
        }
    }

    /// Sends `request` (its URI absolute, https) on an idle connection to its origin, or
    /// on a new one. A request an idle connection could not take (the partner closed
    /// it meanwhile) goes on a new connection; hyper hands it back unsent.
    pub(crate) async fn send(
        &self,
        mut request: Request<OutBody>,
    ) -> Result<(Response<ResponseBody>, Arc<ConnectionInfo>), SendError> {
        let uri = std::mem::take(request.uri_mut());
        let (origin, host, port, path) = parts(&uri)?;
        // HTTP/1.1 wants the path in the request line and the origin in Host.
        *request.uri_mut() = Uri::from(path);
        if !request.headers().contains_key(HOST) {
            // host[:port], without any user info the URL has.
            let value = match port {
                443 => HeaderValue::from_str(host),
                _ => HeaderValue::from_str(origin.as_str().rsplit('@').next().unwrap_or(host)),
            };
            if let Ok(value) = value {
                request.headers_mut().insert(HOST, value);
            }
        }
        loop {
            let (mut lent, reused) = match self.take(&origin) {
                Some(idle) => (idle, true),
                None => (self.connect(origin.clone(), host, port).await?, false),
            };
            if let Err(e) = lent.sender.ready().await {
                if reused {
                    continue;
                }
                return Err(SendError::Http(e));
            }
            match lent.sender.try_send_request(request).await {
                Ok(response) => {
                    let info = lent.info.clone();
                    let (head, incoming) = response.into_parts();
                    let body = if incoming.is_end_stream() {
                        self.give_back(lent);
                        ResponseBody {
                            incoming,
                            back: None,
                        }
                    } else {
                        ResponseBody {
                            incoming,
                            back: Some((self.idle.clone(), lent)),
                        }
                    };
                    return Ok((Response::from_parts(head, body), info));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => {
                        let e = e.into_error();
                        return Err(match reused && closed_under(&e) {
                            true => SendError::Stale(e),
                            false => SendError::Http(e),
                        });
                    }
                },
            }
        }
    }

    /// The connection to `origin` that came back last and is ready for a request.
    /// One still busy (it came back with an upload unfinished: the partner answered
    /// before reading it all) stays for later; closed ones go.
    fn take(&self, origin: &Authority) -> Option<Idle> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        for at in (0..idle.len()).rev() {
            let candidate = &idle[at].sender;
            if candidate.is_closed() {
                idle.remove(at);
            } else if idle[at].origin == *origin && candidate.is_ready() {
                return Some(idle.remove(at));
            }
        }
        None
    }

    fn give_back(&self, lent: Idle) {
        give_back(&self.idle, lent);
    }

    /// A new connection to `host`:`port`, its HTTP/1.1 side driven by a task of its own.
    async fn connect(&self, origin: Authority, host: &str, port: u16) -> Result<Idle, SendError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let (stream, info) = self
            .tls
            .connect(host, port)
            .await
            .map_err(SendError::Connect)?;
        let conn = Conn {
            io: TokioIo::new(stream),
            watchdog: Watchdog::new(self.timeout),
        };
        let (sender, connection) = http1::handshake(conn).await.map_err(SendError::Http)?;
        // Its end (closed, broken, timed out) shows in the sender: nothing to report here.
        tokio::spawn(connection);
        Ok(Idle {
            origin,
            sender,
            info: Arc::new(info),
        })
    }
}

/// Whether `e` is the connection closing (or reset) rather than the partner being slow
/// or answering something hyper could not read.
fn closed_under(e: &hyper::Error) -> bool {
    use std::io::ErrorKind;
    if is_response_timeout(e) {
        return false;
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::NotConnected
            );
        }
        source = s.source();
    }
    false
}

/// Back to the idle ones, when still open and there is room.
fn give_back(idle: &Mutex<Vec<Idle>>, lent: Idle) {
    if lent.sender.is_closed() {
        return;
    }
    let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() >= MAX_IDLE {
        // Full: make room of the ones closed meanwhile (a partner's idle timeout).
        idle.retain(|i| !i.sender.is_closed());
    }
    if idle.len() < MAX_IDLE {
        idle.push(lent);
    }
}

/// Origin, host, port and path of an https URL.
fn parts(uri: &Uri) -> Result<(Authority, &str, u16, PathAndQuery), SendError> {
    let (Some(authority), Some(host)) = (uri.authority(), uri.host()) else {
        return Err(SendError::Url(format!("{uri} has no host")));
    };
    let port = uri.port_u16().unwrap_or(443);
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    Ok((authority.clone(), host, port, path))
}

/// An answer's body as it arrives. Read to its end, it gives its connection back to
/// the pool; dropped before, it closes it.
pub struct ResponseBody {
    incoming: Incoming,
    back: Option<(Arc<Mutex<Vec<Idle>>>, Idle)>,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("incoming", &self.incoming)
            .finish_non_exhaustive()
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(Pin::new(&mut this.incoming).poll_frame(cx));
        let ended = match &frame {
            None => true,
            Some(Ok(_)) => this.incoming.is_end_stream(),
            // Broken: the connection goes with it.
            Some(Err(_)) => {
                this.back = None;
                false
            }
        };
        if ended && let Some((idle, lent)) = this.back.take() {
            give_back(&idle, lent);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// A connection's stream, watched for the response timeout.
struct Conn {
    io: TokioIo<TlsStream>,
    watchdog: Watchdog,
}

/// A connection's response timeout. A request written must get the first byte of its
/// answer within the timeout; after that, the answer must keep coming: a partner
/// silent for one to two timeouts in the middle of it is cut off (and so is an idle
/// pooled connection, closed after one to two timeouts).
///
/// Cheap per call: a clock read when a request starts, a flag when bytes come. The
/// connection's one timer is set for the first request that waits, and moved on only
/// when it fires: to a later request's deadline, or one timeout on when bytes came
/// since. It is polled after every write and flush too, not only on a read that has to
/// wait: hyper polls the read side before it writes a request and then not again until
/// woken, and an upload the partner stopped reading must run into the timeout as well.
struct Watchdog {
    timeout: Duration,
    state: Watch,
    /// Bytes came since the deadline was set (while the answer is coming).
    progressed: bool,
    timer: Option<Pin<Box<Sleep>>>,
    /// The timer holds this connection's waker and a deadline no later than the
    /// current one: until it fires, there is nothing to check (one task drives a
    /// connection, so the waker stays the right one).
    armed: bool,
}

/// What the watchdog is waiting for.
#[derive(Clone, Copy)]
enum Watch {
    /// Nothing yet: no request since the connection opened.
    Nothing,
    /// The first byte of the answer to a request written, by the deadline.
    FirstByte(Instant),
    /// More of the answer (or the next request), with bytes by the deadline or since
    /// it was set.
    More(Instant),
}

/// The error a connection gives hyper when the partner's answer is late.
#[derive(Debug, thiserror::Error)]
#[error("the partner sent nothing within the connector's timeout")]
struct ResponseTimedOut;

impl Watchdog {
    fn new(timeout: Duration) -> Self {
        Watchdog {
            timeout,
            state: Watch::Nothing,
            progressed: false,
            timer: None,
            armed: false,
        }
    }

    /// A request is being written: its time starts (if it has not).
    fn writing(&mut self) {
        if !matches!(self.state, Watch::FirstByte(_)) {
            self.state = Watch::FirstByte(from_now(self.timeout));
            self.armed = false;
        }
    }

    /// Bytes of the answer came (or the connection ended).
    fn answered(&mut self) {
        match self.state {
            Watch::FirstByte(deadline) => self.state = Watch::More(deadline),
            Watch::More(_) => {}
            Watch::Nothing => return,
        }
        self.progressed = true;
    }

    /// After a write or flush: its result, unless the partner is out of time (the
    /// timer is set to wake the connection in time either way).
    fn check<T>(
        &mut self,
        cx: &mut Context<'_>,
        done: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match self.poll_late(cx) {
            Poll::Ready(late) => Poll::Ready(Err(late)),
            Poll::Pending => done,
        }
    }

    /// The connection has to wait: an error when the partner is out of time, else
    /// pending with the timer set to wake the connection in time.
    fn poll_late(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        if self.armed && self.timer.as_ref().is_some_and(|timer| !timer.is_elapsed()) {
            return Poll::Pending;
        }
        let mut deadline = match self.state {
            Watch::Nothing => return Poll::Pending,
            Watch::FirstByte(deadline) | Watch::More(deadline) => deadline,
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            match timer.as_mut().poll(cx) {
                Poll::Pending => {
                    self.armed = true;
                    return Poll::Pending;
                }
                // Set for an earlier deadline: on to this one.
                Poll::Ready(()) if timer.deadline() < deadline => timer.as_mut().reset(deadline),
                // The deadline passed, but bytes came: one timeout more from now.
                Poll::Ready(()) if self.progressed && matches!(self.state, Watch::More(_)) => {
                    self.progressed = false;
                    deadline = from_now(self.timeout);
                    self.state = Watch::More(deadline);
                    timer.as_mut().reset(deadline);
                }
                Poll::Ready(()) => {
                    return Poll::Ready(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        ResponseTimedOut,
                    ));
                }
            }
        }
    }
}

/// `timeout` from now; one too long to add (a config may say "500000000000y") is as
/// good as never.
fn from_now(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Whether a hyper or hyper-util error is (caused by) a connection's
/// [`ResponseTimedOut`].
pub(crate) fn is_response_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        // An io::Error's source() skips the error it wraps: look inside.
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<ResponseTimedOut>())
        {
            return true;
        }
        source = s.source();
    }
    false
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Ready(Ok) is bytes or the end of the stream: either way, an answer.
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Pending => self.watchdog.poll_late(cx).map(Err),
            done => {
                if matches!(done, Poll::Ready(Ok(()))) {
                    self.watchdog.answered();
                }
                done
            }
        }
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.watchdog.writing();
        let done = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watchdog.check(cx, done)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let done = Pin::new(&mut self.io).poll_flush(cx);
        self.watchdog.check(cx, done)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.watchdog.writing();
        let done = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watchdog.check(cx, done)
    }
}
