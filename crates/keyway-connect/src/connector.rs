//! A connector at run time: its pool of keep-alive HTTP/1.1 connections (see
//! `pool.rs`), plus auth, default headers, retries and redirects.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64ct::Encoding;
use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, LOCATION};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, SizeHint};
use keyway_tls::{ConnectError, ConnectionInfo, Profile, TlsClient};

use crate::config::{Config, ConfigErrors, ConnectorDef, Redirects};
use crate::pool::{MAX_IDLE, Pool, ResponseBody, SendError, is_response_timeout};

/// The most redirects followed for one call.
const MAX_REDIRECTS: usize = 10;
/// The largest response body [`Connector::call`] collects.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// Why a call got no HTTP answer. An HTTP error status is an answer, not a `CallError`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The connector's configuration is incomplete (a password that cannot be resolved…).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The TLS profile cannot be used (a wrong keystore password, a missing alias…).
    #[error("profile of connector \"{connector}\": {problem}")]
    Profile {
        /// The connector.
        connector: String,
        /// What is wrong.
        problem: String,
    },
    /// The request is malformed.
    #[error("{0}")]
    Request(String),
    /// No connection: DNS, TCP or TLS. Run `connector test` for the diagnosis.
    #[error("{url}: {source}")]
    Connect {
        /// The URL called.
        url: String,
        /// What failed.
        #[source]
        source: Box<ConnectError>,
    },
    /// No response within the connector's timeout.
    #[error("{url}: no response within {} ms", timeout.as_millis())]
    Timeout {
        /// The URL called.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The answer began, then stopped coming: nothing more for one to two timeouts.
    #[error(
        "{url}: the answer stopped in the middle: nothing more for {} ms (the connector's timeout)",
        timeout.as_millis()
    )]
    Stalled {
        /// The URL called.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The connection broke or the server sent something that is not HTTP.
    #[error("{url}: {detail}")]
    Http {
        /// The URL called.
        url: String,
        /// What happened.
        detail: String,
    },
    /// A redirect the connector's policy does not follow.
    #[error("{url} redirects to {location}, which {why}")]
    Redirect {
        /// The URL that redirected.
        url: String,
        /// Where to.
        location: String,
        /// Why it was not followed.
        why: String,
    },
    /// The response body is larger than [`MAX_BODY`].
    #[error("{url}: the response body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The URL called.
        url: String,
        /// The limit.
        limit: usize,
    },
}

/// What the body of a request through a connector may fail with while it streams.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A request body: bytes in hand, or a stream sent as it arrives.
pub enum CallBody {
    /// Bytes in hand: sent again on a retry or a redirect that keeps the body.
    Full(Bytes),
    /// Sent once, as it arrives (a gateway passing a partner's upload on): an
    /// idempotent request with it is not retried, and a redirect that would send it
    /// again (307, 308) is returned to the caller instead of followed.
    Stream(UnsyncBoxBody<Bytes, BodyError>),
}

impl CallBody {
    /// A body streamed from `body`.
    pub fn stream<B>(body: B) -> CallBody
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BodyError>,
    {
        CallBody::Stream(body.map_err(Into::into).boxed_unsync())
    }
}

impl std::fmt::Debug for CallBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallBody::Full(bytes) => write!(f, "Full({} bytes)", bytes.len()),
            CallBody::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl Default for CallBody {
    fn default() -> Self {
        CallBody::Full(Bytes::new())
    }
}

impl<T: Into<Bytes>> From<T> for CallBody {
    fn from(bytes: T) -> Self {
        CallBody::Full(bytes.into())
    }
}

/// A request through a connector: method, path (and query) joined to the base URL,
/// headers, body.
#[derive(Debug)]
pub struct CallRequest {
    /// The method.
    pub method: Method,
    /// `/path?query`, joined to the connector's base URL; empty for the base URL itself.
    /// A `&'static str` path costs no allocation per call.
    pub path: Cow<'static, str>,
    /// Headers on top of the connector's defaults (same names replace them); a name
    /// may come several times.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: CallBody,
    /// Whether the response carries what the TLS connection negotiated
    /// ([`CallResponse::tls`]). Off by default: these requests go through a pool of
    /// their own, because hyper-util copies a connection's details into every response
    /// it carries, a cost a stream of calls (a gateway) should not pay.
    pub tls_details: bool,
}

impl CallRequest {
    /// A request with no body.
    pub fn new(method: Method, path: impl Into<Cow<'static, str>>) -> Self {
        CallRequest {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: CallBody::default(),
            tls_details: false,
        }
    }

    /// Asks for the TLS details in the response ([`CallRequest::tls_details`]).
    pub fn with_tls_details(mut self) -> Self {
        self.tls_details = true;
        self
    }

    /// `GET path`.
    pub fn get(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::GET, path)
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sets the body and its content type.
    pub fn body(mut self, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        self.headers.push((
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        ));
        self.body = CallBody::Full(body.into());
        self
    }
}

/// An answer whose body is still to be read.
#[derive(Debug)]
pub struct StreamedResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The URL that answered (after redirects).
    pub url: Uri,
    /// What the TLS connection negotiated, if the request asked
    /// ([`CallRequest::tls_details`]).
    pub tls: Option<Arc<ConnectionInfo>>,
    /// How many attempts it took (retries + 1).
    pub attempts: u32,
    /// The redirects followed, in order.
    pub redirects: Vec<String>,
    /// The body, as it arrives. Read it to the end (or drop it) soon: until then its
    /// connection is not lent to another call.
    pub body: ResponseBody,
}

/// An answer with its body read.
#[derive(Debug, Clone)]
pub struct CallResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The URL that answered (after redirects).
    pub url: Uri,
    /// What the TLS connection negotiated, if the request asked
    /// ([`CallRequest::tls_details`]).
    pub tls: Option<Arc<ConnectionInfo>>,
    /// How many attempts it took.
    pub attempts: u32,
    /// The redirects followed.
    pub redirects: Vec<String>,
    /// The body.
    pub body: Bytes,
}

/// A connector ready to call: its definition, TLS client and connection pool. Clone it
/// freely; clones share the pool.
#[derive(Clone)]
pub struct Connector {
    def: Arc<ConnectorDef>,
    tls: Arc<TlsClient>,
    pool: Arc<Pool>,
    authorization: Option<HeaderValue>,
    username: Option<String>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.def.name)
            .field("url", &self.def.url)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Builds the connector `def` of `config`: resolves its passwords, loads and checks
    /// its TLS profile. Needs a tokio runtime to call.
    pub fn new(config: &Config, def: &ConnectorDef) -> Result<Connector, CallError> {
        let spec = config.profile_spec(def)?;
        let profile = Profile::load(&spec).map_err(|e| CallError::Profile {
            connector: def.name.clone(),
            problem: e.to_string(),
        })?;
        let auth = config.auth(def)?;
        Self::with_profile(
            def,
            profile,
            auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        )
    }

    /// Builds a connector from a loaded profile and basic credentials.
    pub fn with_profile(
        def: &ConnectorDef,
        profile: Profile,
        auth: Option<(&str, &str)>,
    ) -> Result<Connector, CallError> {
        let tls =
            Arc::new(
                TlsClient::new(profile, &["http/1.1"]).map_err(|e| CallError::Profile {
                    connector: def.name.clone(),
                    problem: e.to_string(),
                })?,
            );
        let authorization = match auth {
            Some((user, password)) => {
                let token = zeroize::Zeroizing::new(format!("{user}:{password}"));
                let mut value = HeaderValue::from_str(&format!(
                    "Basic {}",
                    base64ct::Base64::encode_string(token.as_bytes())
                ))
                .map_err(|_| {
                    CallError::Request(
                        "the basic-auth credentials cannot be sent in a header".into(),
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Connector {
            def: Arc::new(def.clone()),
            pool: Arc::new(Pool::new(tls.clone(), def.timeout)),
            tls,
            authorization,
            username: auth.map(|(u, _)| u.to_string()),
        })
    }

    /// Its definition.
    pub fn def(&self) -> &ConnectorDef {
        &self.def
    }

    /// Its TLS profile.
    pub fn profile(&self) -> &Profile {
        self.tls.profile()
    }

    /// The basic-auth user name, if it sends one.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The full URL for `path`.
    pub fn url_for(&self, path: &str) -> Result<Uri, CallError> {
        join(&self.def.url, path.to_string().into())
    }

    /// Calls and reads the whole body (at most [`MAX_BODY`] bytes).
    pub async fn call(&self, request: CallRequest) -> Result<CallResponse, CallError> {
        let StreamedResponse {
            status,
            headers,
            url,
            tls,
            attempts,
            redirects,
            body,
        } = self.send(request).await?;
        let body = read_body(body, MAX_BODY).await.map_err(|e| match e {
            None => CallError::BodyTooLarge {
                url: url.to_string(),
                limit: MAX_BODY,
            },
            Some(e) if is_response_timeout(&e) => CallError::Stalled {
                url: url.to_string(),
                timeout: self.def.timeout,
            },
            Some(e) => CallError::Http {
                url: url.to_string(),
                detail: format!("reading the response body: {e}"),
            },
        })?;
        Ok(CallResponse {
            status,
            headers,
            url,
            tls,
            attempts,
            redirects,
            body,
        })
    }

    /// Calls and returns as soon as the response head is in; the body streams.
    /// Idempotent requests are retried after a connection failure or a 502/503/504, up
    /// to the connector's `retries`; redirects are followed as its policy allows. A
    /// [`CallBody::Stream`] is sent once: no retry, and a redirect that would send it
    /// again comes back as the answer.
    pub async fn send(&self, request: CallRequest) -> Result<StreamedResponse, CallError> {
        let CallRequest {
            mut method,
            path,
            mut headers,
            body,
            tls_details,
        } = request;
        let (mut body, mut stream) = match body {
            CallBody::Full(bytes) => (bytes, None),
            CallBody::Stream(stream) => (Bytes::new(), Some(stream)),
        };
        let mut url = join(&self.def.url, path)?;
        let mut redirects = Vec::new();
        let mut send_auth = true;
        loop {
            let streamed = stream.is_some();
            let outgoing = Outgoing {
                method: &method,
                url: &url,
                headers: &headers,
                send_auth,
            };
            let ((response, info), attempts) =
                self.with_retries(&outgoing, &body, stream.take()).await?;
            let status = response.status();
            let drops_body = status == StatusCode::SEE_OTHER
                || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                    && method != Method::GET
                    && method != Method::HEAD);
            let follow = status.is_redirection()
                && status != StatusCode::NOT_MODIFIED
                && self.def.redirects != Redirects::None
                // A streamed body is gone: it cannot be sent to the new location.
                && (!streamed || drops_body);
            let location = match follow {
                true => response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                false => None,
            };
            let Some(location) = location else {
                let tls = tls_details.then_some(info);
                let (parts, incoming) = response.into_parts();
                return Ok(StreamedResponse {
                    status,
                    headers: parts.headers,
                    url,
                    tls,
                    attempts,
                    redirects,
                    body: incoming,
                });
            };
            let refuse = |why: &str| CallError::Redirect {
                url: url.to_string(),
                location: location.clone(),
                why: why.to_string(),
            };
            if redirects.len() >= MAX_REDIRECTS {
                return Err(refuse(&format!(
                    "is one redirect more than the {MAX_REDIRECTS} followed"
                )));
            }
            let next = resolve_location(&url, &location).map_err(|e| refuse(&e))?;
            if next.scheme_str() != Some("https") {
                return Err(refuse("is not https; connectors only speak TLS"));
            }
            let same_origin = next.authority() == url.authority();
            if !same_origin {
                if self.def.redirects == Redirects::SameOrigin {
                    return Err(refuse(
                        "is another host; set redirects = \"any\" on the connector to follow it",
                    ));
                }
                // Credentials stay with the origin they were configured for.
                send_auth = false;
                headers.retain(|(n, _)| n != AUTHORIZATION);
            }
            if drops_body {
                method = Method::GET;
                body = Bytes::new();
                headers.retain(|(n, _)| n != http::header::CONTENT_TYPE);
            }
            redirects.push(next.to_string());
            url = next;
        }
    }

    async fn with_retries(
        &self,
        outgoing: &Outgoing<'_>,
        body: &Bytes,
        mut stream: Option<UnsyncBoxBody<Bytes, BodyError>>,
    ) -> Result<((http::Response<ResponseBody>, Arc<ConnectionInfo>), u32), CallError> {
        let retries = if is_idempotent(outgoing.method) && stream.is_none() {
            self.def.retries
        } else {
            0
        };
        let mut attempt = 0;
        let mut stale = 0;
        loop {
            attempt += 1;
            let resendable = stream.is_none();
            let body = match stream.take() {
                Some(stream) => OutBody(Some(Box::new(SomeBody::Stream(stream)))),
                None if body.is_empty() => OutBody(None),
                None => OutBody(Some(Box::new(SomeBody::Full(Full::new(body.clone()))))),
            };
            // The connection watches the time to the answer (see `Watchdog`).
            let sent = self.pool.send(self.request(outgoing, body)).await;
            // A kept connection the partner had closed: sent again on a new one, not
            // counted as an attempt (each try uses up a kept connection, so this ends).
            if matches!(sent, Err(SendError::Stale(_))) && resendable && stale < MAX_IDLE {
                stale += 1;
                attempt -= 1;
                continue;
            }
            let result = sent.map_err(|e| self.call_error(e, outgoing.url));
            let retry = attempt <= retries
                && match &result {
                    Ok((r, _)) => matches!(r.status().as_u16(), 502..=504),
                    Err(CallError::Connect { source, .. }) => is_transient(source),
                    Err(CallError::Timeout { .. } | CallError::Http { .. }) => true,
                    Err(_) => false,
                };
            if !retry {
                return result.map(|r| (r, attempt));
            }
            let backoff = Duration::from_millis(100u64 << (attempt - 1).min(4));
            tokio::time::sleep(backoff).await;
        }
    }

    /// The HTTP request of one attempt: the connector's default headers and
    /// credentials, then the call's own.
    fn request(&self, outgoing: &Outgoing<'_>, body: OutBody) -> Request<OutBody> {
        let mut request = Request::new(body);
        *request.method_mut() = outgoing.method.clone();
        *request.uri_mut() = outgoing.url.clone();
        let map = request.headers_mut();
        for (name, value) in &self.def.headers {
            map.insert(name.clone(), value.clone());
        }
        if outgoing.send_auth
            && let Some(auth) = &self.authorization
        {
            map.insert(AUTHORIZATION, auth.clone());
        }
        // The call's headers replace defaults of the same name; a name given several
        // times is sent several times (a proxied caller's repeated headers stay).
        if !map.is_empty() {
            for (name, _) in outgoing.headers {
                map.remove(name);
            }
        }
        for (name, value) in outgoing.headers {
            map.append(name.clone(), value.clone());
        }
        request
    }

    /// What went wrong with an attempt at `url`.
    fn call_error(&self, e: SendError, url: &Uri) -> CallError {
        match e {
            SendError::Connect(source) => CallError::Connect {
                url: url.to_string(),
                source: Box::new(source),
            },
            SendError::Http(e) if is_response_timeout(&e) => CallError::Timeout {
                url: url.to_string(),
                timeout: self.def.timeout,
            },
            SendError::Http(e) | SendError::Stale(e) => CallError::Http {
                url: url.to_string(),
                detail: describe(&e),
            },
            SendError::Url(problem) => CallError::Request(problem),
        }
    }
}

/// One attempt's request, but for its body.
#[derive(Clone, Copy)]
struct Outgoing<'a> {
    method: &'a Method,
    url: &'a Uri,
    headers: &'a [(HeaderName, HeaderValue)],
    send_auth: bool,
}

/// A whole response body, at most `limit` bytes (`Err(None)` past it). A body that
/// comes in one piece (most do) is returned as it came, without a copy.
async fn read_body<B>(mut body: B, limit: usize) -> Result<Bytes, Option<B::Error>>
where
    B: Body<Data = Bytes> + Unpin,
{
    if body.size_hint().lower() > limit as u64 {
        return Err(None);
    }
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    let mut length = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(Some)?.into_data() else {
            continue; // trailers
        };
        if data.is_empty() {
            continue;
        }
        length += data.len();
        if length > limit {
            return Err(None);
        }
        match &mut joined {
            Some(buffer) => buffer.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                // What is still announced (Content-Length), within the limit.
                let announced = body.size_hint().lower().min((limit - length) as u64) as usize;
                let mut buffer = BytesMut::with_capacity(length + announced);
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&data);
                joined = Some(buffer);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// Connection failures worth another try; a refused certificate is not one.
fn is_transient(e: &ConnectError) -> bool {
    matches!(
        e,
        ConnectError::Tcp { .. }
            | ConnectError::ConnectTimeout { .. }
            | ConnectError::HandshakeTimeout { .. }
    )
}

/// An error and its causes on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `base` + `path`: `https://h/api` + `/orders?x=1` → `https://h/api/orders?x=1`.
/// Runs for every call: only the path is parsed (scheme and host are the connector's,
/// already checked), and a path joined to a host-only URL is used as it is: a static
/// one without any allocation, an owned one without a copy.
fn join(base: &Uri, path: Cow<'static, str>) -> Result<Uri, CallError> {
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return Err(CallError::Request(format!(
            "the path \"{path}\" must start with / (it is joined to the connector's URL)"
        )));
    }
    let base_path = base.path().trim_end_matches('/');
    // The caller's path, kept for an error message unless it became the new path.
    let (joined, caller) = if path.is_empty() {
        (Bytes::copy_from_slice(base.path().as_bytes()), Some(path))
    } else if base_path.is_empty() && path.starts_with('/') {
        match path {
            Cow::Borrowed(s) => (Bytes::from_static(s.as_bytes()), Some(Cow::Borrowed(s))),
            Cow::Owned(s) => (Bytes::from(s), None),
        }
    } else {
        let mut joined = String::with_capacity(base_path.len() + path.len() + 1);
        if base_path.is_empty() {
            joined.push('/'); // before a bare ?query
        }
        joined.push_str(base_path);
        joined.push_str(&path);
        (Bytes::from(joined), Some(path))
    };
    let invalid = |e: &dyn std::fmt::Display| {
        let path = match &caller {
            Some(path) => path.to_string(),
            None => String::from_utf8_lossy(&joined).into_owned(),
        };
        CallError::Request(format!(
            "the path \"{path}\" does not make a valid URL: {e}"
        ))
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(base.scheme().cloned().unwrap_or(http::uri::Scheme::HTTPS));
    parts.authority = base.authority().cloned();
    parts.path_and_query =
        Some(http::uri::PathAndQuery::from_maybe_shared(joined.clone()).map_err(|e| invalid(&e))?);
    Uri::from_parts(parts).map_err(|e| invalid(&e))
}

/// A Location header against the URL that sent it.
fn resolve_location(base: &Uri, location: &str) -> Result<Uri, String> {
    if location.contains("://") {
        return location
            .parse()
            .map_err(|e| format!("is not a valid URL ({e})"));
    }
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{}://{rest}", base.scheme_str().unwrap_or("https"))
            .parse()
            .map_err(|e| format!("is not a valid URL ({e})"));
    }
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let dir = base.path().rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        format!("{dir}/{location}")
    };
    format!(
        "{}://{}{path}",
        base.scheme_str().unwrap_or("https"),
        base.authority().map(|a| a.as_str()).unwrap_or("")
    )
    .parse()
    .map_err(|e| format!("is not a valid URL ({e})"))
}

/// A request body as hyper sends it: one pointer, nothing for no body (most calls).
/// hyper moves a request between tasks several times per call; this keeps it within
/// memcpy's cheaper size class (a 16-byte body made each call ~400 instructions dearer).
pub(crate) struct OutBody(Option<Box<SomeBody>>);

/// A body there is.
enum SomeBody {
    Full(Full<Bytes>),
    Stream(UnsyncBoxBody<Bytes, BodyError>),
}

impl Body for OutBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut().0.as_deref_mut() {
            None => Poll::Ready(None),
            Some(SomeBody::Full(full)) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            Some(SomeBody::Stream(stream)) => Pin::new(stream).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self.0.as_deref() {
            None => true,
            Some(SomeBody::Full(full)) => full.is_end_stream(),
            Some(SomeBody::Stream(stream)) => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.0.as_deref() {
            None => SizeHint::with_exact(0),
            Some(SomeBody::Full(full)) => full.size_hint(),
            Some(SomeBody::Stream(stream)) => stream.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_to_the_base_url() {
        let base: Uri = "https://h.example:8443/api".parse().unwrap();
        assert_eq!(
            join(&base, "/orders?x=1".into()).unwrap(),
            "https://h.example:8443/api/orders?x=1"
        );
        assert_eq!(
            join(&base, "".into()).unwrap(),
            "https://h.example:8443/api"
        );
        assert_eq!(
            join(&base, "?wsdl".into()).unwrap(),
            "https://h.example:8443/api?wsdl"
        );
        let root: Uri = "https://h.example".parse().unwrap();
        assert_eq!(
            join(&root, "?wsdl".into()).unwrap(),
            "https://h.example/?wsdl"
        );
        assert!(join(&base, "orders".into()).is_err());
        assert_eq!(join(&root, "".into()).unwrap(), "https://h.example/");
        assert_eq!(join(&root, "/a/b".into()).unwrap(), "https://h.example/a/b");
        let e = join(&base, "/a b".into()).unwrap_err().to_string();
        assert!(e.contains("\"/a b\" does not make a valid URL"), "{e}");
        // An owned path used as it is still names itself when it is not valid.
        let owned = join(&root, String::from("/a/b?c=d").into()).unwrap();
        assert_eq!(owned, "https://h.example/a/b?c=d");
        let e = join(&root, String::from("/a b").into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"/a b\" does not make a valid URL"), "{e}");
    }

    /// A body in the given pieces, with the given announced length.
    struct Pieces(std::collections::VecDeque<&'static [u8]>, Option<u64>);

    impl Body for Pieces {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|piece| Ok(Frame::data(Bytes::from_static(piece)))),
            )
        }

        fn size_hint(&self) -> SizeHint {
            self.1.map(SizeHint::with_exact).unwrap_or_default()
        }
    }

    fn pieces(pieces: &[&'static [u8]], announced: Option<u64>) -> Pieces {
        Pieces(pieces.iter().copied().collect(), announced)
    }

    #[tokio::test]
    async fn bodies_are_read_whole_up_to_the_limit() {
        let one = read_body(pieces(&[b"hello"], Some(5)), 10).await.unwrap();
        assert_eq!(one, "hello");
        let several = read_body(pieces(&[b"", b"he", b"", b"llo", b" world"], None), 11)
            .await
            .unwrap();
        assert_eq!(several, "hello world");
        assert_eq!(read_body(pieces(&[], Some(0)), 10).await.unwrap(), "");
        // Past the limit, whether announced or only counted.
        assert!(matches!(
            read_body(pieces(&[b"hello"], Some(11)), 10).await,
            Err(None)
        ));
        assert!(matches!(
            read_body(pieces(&[b"hello", b" world"], None), 10).await,
            Err(None)
        ));
        assert!(matches!(
            read_body(pieces(&[b"hello world"], None), 10).await,
            Err(None)
        ));
    }

    #[test]
    fn locations_resolve_against_the_url_that_sent_them() {
        let base: Uri = "https://h.example/api/v1/orders".parse().unwrap();
        assert_eq!(
            resolve_location(&base, "/x").unwrap(),
            "https://h.example/x"
        );
        assert_eq!(
            resolve_location(&base, "items").unwrap(),
            "https://h.example/api/v1/items"
        );
        assert_eq!(
            resolve_location(&base, "https://other.example/y").unwrap(),
            "https://other.example/y"
        );
    }
}
