//! A connector at run time: a pooled, keep-alive HTTP/1.1 client whose connections come
//! from the connector's [`TlsClient`], plus auth, default headers, timeouts, retries and
//! redirects.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64ct::Encoding;
use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, LOCATION};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use keyway_tls::{ConnectError, ConnectionInfo, Profile, TlsClient, TlsStream};

use crate::config::{Config, ConfigErrors, ConnectorDef, Redirects};

/// The most redirects followed for one call.
const MAX_REDIRECTS: usize = 10;
/// The largest response body [`Connector::call`] collects.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// Why a call got no HTTP answer. An HTTP error status is an answer, not a `CallError`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The connector's configuration is incomplete (a password that cannot be resolved…).
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// The TLS profile cannot be used (a wrong keystore password, an expired client
    /// certificate…).
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
    pub path: String,
    /// Headers on top of the connector's defaults (same names replace them); a name
    /// may come several times.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: CallBody,
}

impl CallRequest {
    /// A request with no body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        CallRequest {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: CallBody::default(),
        }
    }

    /// `GET path`.
    pub fn get(path: &str) -> Self {
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
    /// What the TLS connection negotiated.
    pub tls: Option<Arc<ConnectionInfo>>,
    /// How many attempts it took (retries + 1).
    pub attempts: u32,
    /// The redirects followed, in order.
    pub redirects: Vec<String>,
    /// The body, as it arrives.
    pub body: Incoming,
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
    /// What the TLS connection negotiated.
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
    http: Client<TlsConnect, UnsyncBoxBody<Bytes, BodyError>>,
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
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .build(TlsConnect(tls.clone()));
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
            tls,
            http,
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
        join(&self.def.url, path)
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
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    CallError::BodyTooLarge {
                        url: url.to_string(),
                        limit: MAX_BODY,
                    }
                } else {
                    CallError::Http {
                        url: url.to_string(),
                        detail: format!("reading the response body: {e}"),
                    }
                }
            })?
            .to_bytes();
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
        } = request;
        let (mut body, mut stream) = match body {
            CallBody::Full(bytes) => (bytes, None),
            CallBody::Stream(stream) => (Bytes::new(), Some(stream)),
        };
        let mut url = join(&self.def.url, &path)?;
        let mut redirects = Vec::new();
        let mut send_auth = true;
        loop {
            let streamed = stream.is_some();
            let (response, attempts) = self
                .with_retries(&method, &url, &headers, &body, stream.take(), send_auth)
                .await?;
            let status = response.status();
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let drops_body = status == StatusCode::SEE_OTHER
                || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                    && method != Method::GET
                    && method != Method::HEAD);
            let follow = status.is_redirection()
                && status != StatusCode::NOT_MODIFIED
                && self.def.redirects != Redirects::None
                // A streamed body is gone: it cannot be sent to the new location.
                && (!streamed || drops_body);
            let Some(location) = location.filter(|_| follow) else {
                let tls = response.extensions().get::<Arc<ConnectionInfo>>().cloned();
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
        method: &Method,
        url: &Uri,
        headers: &[(HeaderName, HeaderValue)],
        body: &Bytes,
        mut stream: Option<UnsyncBoxBody<Bytes, BodyError>>,
        send_auth: bool,
    ) -> Result<(http::Response<Incoming>, u32), CallError> {
        let retries = if is_idempotent(method) && stream.is_none() {
            self.def.retries
        } else {
            0
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let body = match stream.take() {
                Some(stream) => stream,
                None => Full::new(body.clone())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            };
            let result = self.once(method, url, headers, body, send_auth).await;
            let retry = attempt <= retries
                && match &result {
                    Ok(r) => matches!(r.status().as_u16(), 502..=504),
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

    async fn once(
        &self,
        method: &Method,
        url: &Uri,
        headers: &[(HeaderName, HeaderValue)],
        body: UnsyncBoxBody<Bytes, BodyError>,
        send_auth: bool,
    ) -> Result<http::Response<Incoming>, CallError> {
        let mut request = Request::new(body);
        *request.method_mut() = method.clone();
        *request.uri_mut() = url.clone();
        let map = request.headers_mut();
        for (name, value) in &self.def.headers {
            map.insert(name.clone(), value.clone());
        }
        if send_auth && let Some(auth) = &self.authorization {
            map.insert(AUTHORIZATION, auth.clone());
        }
        // The call's headers replace defaults of the same name; a name given several
        // times is sent several times (a proxied caller's repeated headers stay).
        for (name, _) in headers {
            map.remove(name);
        }
        for (name, value) in headers {
            map.append(name.clone(), value.clone());
        }
        match tokio::time::timeout(self.def.timeout, self.http.request(request)).await {
            Err(_) => Err(CallError::Timeout {
                url: url.to_string(),
                timeout: self.def.timeout,
            }),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(match connect_error(&e) {
                Some(source) => CallError::Connect {
                    url: url.to_string(),
                    source: Box::new(source),
                },
                None => CallError::Http {
                    url: url.to_string(),
                    detail: describe(&e),
                },
            }),
        }
    }
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

/// The ConnectError inside a hyper-util error, taken out by value (re-described).
fn connect_error(e: &hyper_util::client::legacy::Error) -> Option<ConnectError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(c) = s.downcast_ref::<ConnectError>() {
            return Some(clone_connect_error(c));
        }
        source = s.source();
    }
    None
}

fn clone_connect_error(e: &ConnectError) -> ConnectError {
    match e {
        ConnectError::Dns { host, error } => ConnectError::Dns {
            host: host.clone(),
            error: error.clone(),
        },
        ConnectError::Tcp { address, error } => ConnectError::Tcp {
            address: *address,
            error: std::io::Error::new(error.kind(), error.to_string()),
        },
        ConnectError::ConnectTimeout { address, timeout } => ConnectError::ConnectTimeout {
            address: *address,
            timeout: *timeout,
        },
        ConnectError::HandshakeTimeout { address, timeout } => ConnectError::HandshakeTimeout {
            address: *address,
            timeout: *timeout,
        },
        ConnectError::Handshake {
            address,
            backend,
            detail,
        } => ConnectError::Handshake {
            address: *address,
            backend: *backend,
            detail: detail.clone(),
        },
        other => ConnectError::Config(other.to_string()),
    }
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
fn join(base: &Uri, path: &str) -> Result<Uri, CallError> {
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return Err(CallError::Request(format!(
            "the path \"{path}\" must start with / (it is joined to the connector's URL)"
        )));
    }
    let joined = match path {
        "" => base.path().to_string(),
        p => {
            let base_path = base.path().trim_end_matches('/');
            let mut joined = String::with_capacity(base_path.len() + p.len() + 1);
            if base_path.is_empty() && p.starts_with('?') {
                joined.push('/');
            }
            joined.push_str(base_path);
            joined.push_str(p);
            joined
        }
    };
    // Only the new path is parsed; scheme and host are the connector's, already checked
    // (this runs for every call).
    let invalid = |e: &dyn std::fmt::Display| {
        CallError::Request(format!(
            "the path \"{path}\" does not make a valid URL: {e}"
        ))
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(base.scheme().cloned().unwrap_or(http::uri::Scheme::HTTPS));
    parts.authority = base.authority().cloned();
    parts.path_and_query =
        Some(http::uri::PathAndQuery::try_from(joined).map_err(|e| invalid(&e))?);
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

/// The hyper-util connector: each new connection is a TLS connection from the
/// connector's [`TlsClient`].
#[derive(Clone)]
struct TlsConnect(Arc<TlsClient>);

impl tower_service::Service<Uri> for TlsConnect {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .unwrap_or("")
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            let (stream, info) = client.connect(&host, port).await?;
            Ok(Conn {
                io: TokioIo::new(stream),
                info: Arc::new(info),
            })
        })
    }
}

/// A pooled connection: the TLS stream and what it negotiated.
struct Conn {
    io: TokioIo<TlsStream>,
    /// Shared: hyper-util copies it into every response on the connection.
    info: Arc<ConnectionInfo>,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new().extra(self.info.clone())
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
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
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_to_the_base_url() {
        let base: Uri = "https://h.example:8443/api".parse().unwrap();
        assert_eq!(
            join(&base, "/orders?x=1").unwrap(),
            "https://h.example:8443/api/orders?x=1"
        );
        assert_eq!(join(&base, "").unwrap(), "https://h.example:8443/api");
        assert_eq!(
            join(&base, "?wsdl").unwrap(),
            "https://h.example:8443/api?wsdl"
        );
        let root: Uri = "https://h.example".parse().unwrap();
        assert_eq!(join(&root, "?wsdl").unwrap(), "https://h.example/?wsdl");
        assert!(join(&base, "orders").is_err());
        assert_eq!(join(&root, "").unwrap(), "https://h.example/");
        assert_eq!(join(&root, "/a/b").unwrap(), "https://h.example/a/b");
        let e = join(&base, "/a b").unwrap_err().to_string();
        assert!(e.contains("\"/a b\" does not make a valid URL"), "{e}");
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
