//! Outbound HTTP proxies: where a connection goes through one, and the CONNECT tunnel.
//!
//! A [`ProxySetting`] says how a profile reaches its partners: straight, through one
//! proxy (except for the hosts its [`NoProxy`] list names), or as the environment says
//! (`https_proxy`/`HTTPS_PROXY`, then `all_proxy`/`ALL_PROXY`, with `no_proxy`/`NO_PROXY`,
//! read the way curl reads them). For an `https://` destination keyway asks the proxy for
//! a tunnel (`CONNECT host:port`) and speaks TLS to the partner inside it, so everything
//! checked about the partner still holds. Basic proxy authentication only.
//!
//! A proxy's password is never part of any output: [`Proxy`]'s `Display` and `Debug`
//! leave it out, and a URL that cannot be read is echoed with the password masked.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64ct::{Base64, Encoding};
use serde::Serialize;

/// The port curl assumes for a proxy URL without one.
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// An HTTP proxy that tunnels connections with CONNECT.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Host name or IP address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name for Basic proxy authentication.
    pub username: Option<String>,
    password: Option<String>,
    /// Where it was set, for messages: `--proxy`, `environment variable HTTPS_PROXY`,
    /// `profile corp`.
    pub source: String,
}

impl std::fmt::Display for Proxy {
    /// `http://[user@]host:port`, never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("http://")?;
        if let Some(user) = &self.username {
            write!(f, "{user}@")?;
        }
        write!(f, "{}", host_port(&self.host, self.port))
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &self.to_string())
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("source", &self.source)
            .finish()
    }
}

/// Why a proxy setting cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{source_name}: \"{given}\": {why}")]
pub struct ProxyError {
    /// Where the setting came from.
    pub source_name: String,
    /// What was given, its password masked.
    pub given: String,
    /// What is wrong and how to fix it.
    pub why: String,
}

impl Proxy {
    /// Reads `[http://][user[:password]@]host[:port]` (curl's form: the scheme and the
    /// port may be left out; the port is then 1080). User and password may be
    /// percent-encoded. Only `http://` proxies are spoken to: `https://` (TLS to the
    /// proxy) and SOCKS are refused with a clear error.
    pub fn parse(url: &str, source: &str) -> Result<Proxy, ProxyError> {
        let bad = |why: &str| ProxyError {
            source_name: source.to_string(),
            given: mask_password(url),
            why: why.to_string(),
        };
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(bad(
                    "keyway talks to proxies over plain HTTP (the tunnel inside is TLS to the partner); write the proxy as http://HOST:PORT",
                ));
            }
            Some((scheme, _)) if scheme.to_ascii_lowercase().starts_with("socks") => {
                return Err(bad(
                    "SOCKS proxies are not supported; give an HTTP proxy (http://HOST:PORT) that allows CONNECT",
                ));
            }
            Some(_) => return Err(bad("a proxy URL starts with http:// (or has no scheme)")),
            None => url,
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains(['/', '?', '#']) {
            return Err(bad(
                "a proxy URL has no path: give http://[USER[:PASSWORD]@]HOST[:PORT]",
            ));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .map(|s| s.into_owned())
                        .map_err(|_| bad("the user name or password is not UTF-8 once decoded"))
                };
                if user.is_empty() {
                    return Err(bad("the user name before @ is empty"));
                }
                (Some(decode(user)?), pass.map(decode).transpose()?)
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in an IPv6 address"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no proxy host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
            None => DEFAULT_PROXY_PORT,
        };
        Ok(Proxy {
            host,
            port,
            username,
            password,
            source: source.to_string(),
        })
    }

    /// The same proxy with this password (from a secret reference, not the URL).
    pub fn with_password(mut self, password: Option<String>) -> Proxy {
        if password.is_some() {
            self.password = password;
        }
        self
    }

    /// `host:port` (brackets around an IPv6 address).
    pub fn address(&self) -> String {
        host_port(&self.host, self.port)
    }

    /// The password, to be sealed or sent; never to be shown.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Whether a password is set (given in the URL or with [`Proxy::with_password`]).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Whether credentials are sent with CONNECT.
    pub fn has_credentials(&self) -> bool {
        self.username.is_some()
    }

    /// `Basic …` for `Proxy-Authorization`.
    fn authorization(&self) -> Option<String> {
        let user = self.username.as_deref()?;
        let pair = format!("{user}:{}", self.password.as_deref().unwrap_or(""));
        Some(format!("Basic {}", Base64::encode_string(pair.as_bytes())))
    }

    /// The CONNECT request for `host:port`.
    pub(crate) fn connect_request(&self, host: &str, port: u16) -> String {
        let destination = host_port(host, port);
        let mut request = format!(
            "CONNECT {destination} HTTP/1.1\r\nHost: {destination}\r\nUser-Agent: keyway\r\nProxy-Connection: Keep-Alive\r\n"
        );
        if let Some(authorization) = self.authorization() {
            request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
        }
        request.push_str("\r\n");
        request
    }
}

/// `host:port`, with brackets around an IPv6 address.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `user:secret@` becomes `user:***@` in a URL echoed back.
fn mask_password(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_string();
    };
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    if start > at {
        return url.to_string();
    }
    match url[start..at].find(':') {
        Some(colon) => format!("{}***{}", &url[..start + colon + 1], &url[at..]),
        None => url.to_string(),
    }
}

/// Hosts reached without the proxy, read with curl's rules: names separated by commas
/// (or spaces); `*` alone matches every host; a name matches itself and every name under
/// it (`example.com` and `.example.com` both match `www.example.com`); IP addresses match
/// exactly, and CIDR ranges (`10.0.0.0/8`) match the addresses in them. Case does not
/// matter; a port after a name is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    names: Vec<String>,
    nets: Vec<ipnet::IpNet>,
}

impl NoProxy {
    /// The entries of a `NO_PROXY` value (separated by commas or white space).
    pub fn entries(list: &str) -> impl Iterator<Item = &str> {
        list.split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }

    /// Reads a `NO_PROXY` value.
    pub fn parse(list: &str) -> NoProxy {
        let mut no_proxy = NoProxy::default();
        for entry in NoProxy::entries(list) {
            no_proxy.add(entry);
        }
        no_proxy
    }

    /// Reads a list of entries (a configuration file's `no_proxy = [...]`).
    pub fn from_entries<S: AsRef<str>>(entries: &[S]) -> NoProxy {
        NoProxy::parse(
            &entries
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    fn add(&mut self, entry: &str) {
        if entry == "*" {
            self.all = true;
            return;
        }
        let bare = entry.trim_start_matches('[');
        let bare = bare.split(']').next().unwrap_or(bare);
        if let Ok(net) = bare.parse::<ipnet::IpNet>() {
            self.nets.push(net.trunc());
            return;
        }
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.nets.push(ipnet::IpNet::from(ip));
            return;
        }
        let name = match entry.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => entry,
        };
        let name = name.trim_start_matches('.').trim_end_matches('.');
        if !name.is_empty() {
            self.names.push(name.to_ascii_lowercase());
        }
    }

    /// Whether `host` is reached without the proxy.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.nets.iter().any(|net| net.contains(&ip));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|name| {
            host == *name
                || (host.len() > name.len()
                    && host.ends_with(name.as_str())
                    && host.as_bytes()[host.len() - name.len() - 1] == b'.')
        })
    }

    /// Whether the list is empty (every host goes through the proxy).
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty() && self.nets.is_empty()
    }
}

/// How a profile reaches its partners.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// As the environment says (the default): `https_proxy`/`HTTPS_PROXY`, else
    /// `all_proxy`/`ALL_PROXY`, except for the hosts `no_proxy`/`NO_PROXY` names.
    #[default]
    Environment,
    /// Straight to the partner, whatever the environment says.
    Direct,
    /// Through this proxy, except for the hosts `no_proxy` names.
    Use {
        /// The proxy.
        proxy: Proxy,
        /// Hosts reached without it.
        no_proxy: NoProxy,
    },
}

impl ProxySetting {
    /// The setting the environment variables give, read through `var` (the process's
    /// environment: `|name| std::env::var(name).ok()`). Lower-case names win over
    /// upper-case ones, as in curl; empty values count as unset.
    pub fn from_variables(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<ProxySetting, ProxyError> {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|name| {
                var(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (*name, v))
            })
        };
        let Some((name, url)) = first(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])
        else {
            return Ok(ProxySetting::Direct);
        };
        let proxy = Proxy::parse(&url, &format!("environment variable {name}"))?;
        let no_proxy = first(&["no_proxy", "NO_PROXY"])
            .map(|(_, list)| NoProxy::parse(&list))
            .unwrap_or_default();
        Ok(ProxySetting::Use { proxy, no_proxy })
    }

    /// [`ProxySetting::Environment`] made concrete from this process's environment;
    /// other settings as they are.
    pub fn resolve(&self) -> Result<ProxySetting, ProxyError> {
        match self {
            ProxySetting::Environment => {
                ProxySetting::from_variables(|name| std::env::var(name).ok())
            }
            other => Ok(other.clone()),
        }
    }

    /// The proxy to reach `host` through, if any. An [`ProxySetting::Environment`]
    /// setting not yet resolved answers `None`.
    pub fn for_host(&self, host: &str) -> Option<&Proxy> {
        match self {
            ProxySetting::Use { proxy, no_proxy } if !no_proxy.matches(host) => Some(proxy),
            _ => None,
        }
    }
}

/// What a test through a proxy records about it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProxyEvidence {
    /// The proxy, `http://[user@]host:port` (never its password).
    pub proxy: String,
    /// Where it was set.
    pub source: String,
    /// The proxy's address, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Whether the proxy opened the tunnel (answered CONNECT with 2xx).
    pub tunnel_established: bool,
    /// The proxy's answer to CONNECT (`HTTP/1.1 200 Connection established`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// Why a tunnel could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TunnelFailure {
    /// The proxy's name does not resolve.
    Dns(String),
    /// No TCP connection to the proxy: refused, timed out, or failed otherwise.
    Unreachable {
        address: String,
        detail: String,
        timeout_ms: Option<u64>,
    },
    /// The proxy accepted TCP but did not answer CONNECT in time.
    NoAnswer { address: String, timeout_ms: u64 },
    /// The proxy closed the connection without answering CONNECT.
    Closed { address: String },
    /// 407: the proxy wants (other) credentials.
    AuthRequired {
        address: String,
        scheme: Option<String>,
    },
    /// Any other non-2xx answer.
    Refused {
        address: String,
        status: u16,
        reason: String,
        excerpt: String,
    },
    /// An answer that is not HTTP.
    NotHttp {
        address: String,
        first_bytes: String,
    },
}

/// The parsed head of the proxy's answer.
struct Answer {
    status: u16,
    reason: String,
    head_len: usize,
    authenticate: Option<String>,
    content_length: Option<usize>,
}

/// Largest answer head read from a proxy.
const MAX_HEAD: usize = 16 * 1024;
/// How much of a refusal's body is read for its excerpt.
const EXCERPT_BYTES: usize = 512;

/// Reads the head of the answer in `bytes`: `Ok(None)` while it is incomplete.
fn parse_answer(bytes: &[u8]) -> Result<Option<Answer>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(head_len)) => {
            let header = |name: &str| {
                parsed
                    .headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
                    .collect::<Vec<_>>()
            };
            // Several schemes may be offered: Basic is named first when it is one of them.
            let schemes = header("proxy-authenticate");
            let authenticate = schemes
                .iter()
                .find(|s| s.to_ascii_lowercase().starts_with("basic"))
                .or(schemes.first())
                .cloned();
            Ok(Some(Answer {
                status: parsed.code.unwrap_or(0),
                reason: parsed.reason.unwrap_or_default().to_string(),
                head_len,
                authenticate,
                content_length: header("content-length")
                    .first()
                    .and_then(|l| l.parse().ok()),
            }))
        }
        Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD => Ok(None),
        _ => Err(()),
    }
}

/// What a non-2xx answer to CONNECT means.
fn refusal(answer: &Answer, body: &[u8], address: &str) -> TunnelFailure {
    match answer.status {
        407 => TunnelFailure::AuthRequired {
            address: address.to_string(),
            scheme: answer.authenticate.clone(),
        },
        status => TunnelFailure::Refused {
            address: address.to_string(),
            status,
            reason: answer.reason.clone(),
            excerpt: crate::connect::excerpt(body),
        },
    }
}

/// The status line of an answer, for the evidence.
fn status_line(answer: &Answer) -> String {
    format!("HTTP/1.1 {} {}", answer.status, answer.reason)
        .trim_end()
        .to_string()
}

/// Opens a tunnel to `host:port` through `proxy`: the TCP connection to the proxy within
/// `connect_timeout`, its answer to CONNECT within `answer_timeout`. Returns the stream
/// (its timeouts set to `answer_timeout`), the proxy's address and its status line.
pub(crate) fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    connect_timeout: Duration,
    answer_timeout: Duration,
) -> Result<(TcpStream, SocketAddr, String), TunnelFailure> {
    let addresses: Vec<SocketAddr> = (proxy.host.as_str(), proxy.port)
        .to_socket_addrs()
        .map_err(|e| TunnelFailure::Dns(e.to_string()))?
        .collect();
    let mut last = TunnelFailure::Dns("no address".into());
    let mut connected = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, connect_timeout) {
            Ok(stream) => {
                connected = Some((stream, address));
                break;
            }
            Err(e) => last = unreachable(address, &e, connect_timeout),
        }
    }
    let (mut stream, address) = connected.ok_or(last)?;
    let _ = stream.set_read_timeout(Some(answer_timeout));
    let _ = stream.set_write_timeout(Some(answer_timeout));
    let _ = stream.set_nodelay(true);
    let at = address.to_string();
    let io_failure = |e: std::io::Error| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TunnelFailure::NoAnswer {
            address: at.clone(),
            timeout_ms: answer_timeout.as_millis() as u64,
        },
        _ => TunnelFailure::Closed {
            address: at.clone(),
        },
    };
    stream
        .write_all(proxy.connect_request(host, port).as_bytes())
        .map_err(io_failure)?;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 2048];
    let answer = loop {
        let n = stream.read(&mut buf).map_err(io_failure)?;
        if n == 0 {
            return Err(match bytes.is_empty() {
                true => TunnelFailure::Closed { address: at },
                false => not_http(&at, &bytes),
            });
        }
        bytes.extend_from_slice(&buf[..n]);
        match parse_answer(&bytes) {
            Ok(Some(answer)) => break answer,
            Ok(None) => {}
            Err(()) => return Err(not_http(&at, &bytes)),
        }
    };
    let mut body = bytes.split_off(answer.head_len);
    if (200..300).contains(&answer.status) {
        if !body.is_empty() {
            return Err(not_http(&at, &body));
        }
        return Ok((stream, address, status_line(&answer)));
    }
    let wanted = answer
        .content_length
        .unwrap_or(EXCERPT_BYTES)
        .min(EXCERPT_BYTES);
    while body.len() < wanted && answer.content_length.is_some() {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(wanted);
    Err(refusal(&answer, &body, &at))
}

/// The same tunnel, for tokio.
pub(crate) async fn tunnel_async(
    proxy: &Proxy,
    host: &str,
    port: u16,
    connect_timeout: Duration,
    answer_timeout: Duration,
) -> Result<(tokio::net::TcpStream, SocketAddr), TunnelFailure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| TunnelFailure::Dns(e.to_string()))?
        .collect();
    let mut last = TunnelFailure::Dns("no address".into());
    let mut connected = None;
    for address in addresses {
        match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                connected = Some((stream, address));
                break;
            }
            Ok(Err(e)) => last = unreachable(address, &e, connect_timeout),
            Err(_) => {
                last = unreachable(address, &ErrorKind::TimedOut.into(), connect_timeout);
            }
        }
    }
    let (mut stream, address) = connected.ok_or(last)?;
    let _ = stream.set_nodelay(true);
    let at = address.to_string();
    let exchange = async {
        stream
            .write_all(proxy.connect_request(host, port).as_bytes())
            .await
            .map_err(|_| TunnelFailure::Closed {
                address: at.clone(),
            })?;
        let mut bytes = Vec::new();
        let mut buf = [0u8; 2048];
        let answer = loop {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|_| TunnelFailure::Closed {
                    address: at.clone(),
                })?;
            if n == 0 {
                return Err(match bytes.is_empty() {
                    true => TunnelFailure::Closed {
                        address: at.clone(),
                    },
                    false => not_http(&at, &bytes),
                });
            }
            bytes.extend_from_slice(&buf[..n]);
            match parse_answer(&bytes) {
                Ok(Some(answer)) => break answer,
                Ok(None) => {}
                Err(()) => return Err(not_http(&at, &bytes)),
            }
        };
        let body = bytes.split_off(answer.head_len);
        match (200..300).contains(&answer.status) {
            true if body.is_empty() => Ok(()),
            true => Err(not_http(&at, &body)),
            false => Err(refusal(
                &answer,
                &body[..body.len().min(EXCERPT_BYTES)],
                &at,
            )),
        }
    };
    match tokio::time::timeout(answer_timeout, exchange).await {
        Ok(Ok(())) => Ok((stream, address)),
        Ok(Err(failure)) => Err(failure),
        Err(_) => Err(TunnelFailure::NoAnswer {
            address: at,
            timeout_ms: answer_timeout.as_millis() as u64,
        }),
    }
}

fn unreachable(address: SocketAddr, e: &std::io::Error, timeout: Duration) -> TunnelFailure {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => TunnelFailure::Unreachable {
            address: address.to_string(),
            detail: format!("no TCP connection within {} ms", timeout.as_millis()),
            timeout_ms: Some(timeout.as_millis() as u64),
        },
        ErrorKind::ConnectionRefused => TunnelFailure::Unreachable {
            address: address.to_string(),
            detail: "connection refused: nothing listens there".into(),
            timeout_ms: None,
        },
        _ => TunnelFailure::Unreachable {
            address: address.to_string(),
            detail: e.to_string(),
            timeout_ms: None,
        },
    }
}

fn not_http(address: &str, bytes: &[u8]) -> TunnelFailure {
    TunnelFailure::NotHttp {
        address: address.to_string(),
        first_bytes: crate::connect::printable(bytes),
    }
}

impl TunnelFailure {
    /// The proxy's address, when it was reached.
    pub(crate) fn address(&self) -> Option<&str> {
        match self {
            TunnelFailure::Dns(_) => None,
            TunnelFailure::Unreachable { address, .. }
            | TunnelFailure::NoAnswer { address, .. }
            | TunnelFailure::Closed { address }
            | TunnelFailure::AuthRequired { address, .. }
            | TunnelFailure::Refused { address, .. }
            | TunnelFailure::NotHttp { address, .. } => Some(address),
        }
    }

    /// The proxy's status line, when it answered.
    pub(crate) fn answer(&self) -> Option<String> {
        match self {
            TunnelFailure::AuthRequired { .. } => {
                Some("HTTP/1.1 407 Proxy Authentication Required".into())
            }
            TunnelFailure::Refused { status, reason, .. } => {
                Some(format!("HTTP/1.1 {status} {reason}").trim_end().to_string())
            }
            _ => None,
        }
    }

    /// The cause a test reports for this failure.
    pub(crate) fn cause(self, proxy: &Proxy, host: &str, port: u16) -> crate::Cause {
        use crate::Cause;
        let name = proxy.to_string();
        let destination = host_port(host, port);
        match self {
            TunnelFailure::Dns(error) => Cause::ProxyUnreachable {
                proxy: name,
                source: proxy.source.clone(),
                address: None,
                detail: format!("its name {} does not resolve ({error})", proxy.host),
                timeout_ms: None,
            },
            TunnelFailure::Unreachable {
                address,
                detail,
                timeout_ms,
            } => Cause::ProxyUnreachable {
                proxy: name,
                source: proxy.source.clone(),
                address: Some(address),
                detail,
                timeout_ms,
            },
            TunnelFailure::NoAnswer {
                address,
                timeout_ms,
            } => Cause::ProxyUnreachable {
                proxy: name,
                source: proxy.source.clone(),
                address: Some(address),
                detail: format!(
                    "it accepted the TCP connection but did not answer CONNECT {destination} within {timeout_ms} ms"
                ),
                timeout_ms: Some(timeout_ms),
            },
            TunnelFailure::NotHttp {
                address,
                first_bytes,
            } => Cause::ProxyUnreachable {
                proxy: name,
                source: proxy.source.clone(),
                address: Some(address),
                detail: format!(
                    "it does not answer like an HTTP proxy: it sent {first_bytes:?} to CONNECT {destination} (is this the proxy's port?)"
                ),
                timeout_ms: None,
            },
            TunnelFailure::Closed { .. } => Cause::ProxyClosed {
                proxy: name,
                destination,
                tunnel_established: false,
            },
            TunnelFailure::AuthRequired { scheme, .. } => Cause::ProxyAuthRequired {
                proxy: name,
                source: proxy.source.clone(),
                scheme,
                credentials_sent: proxy.has_credentials(),
            },
            TunnelFailure::Refused {
                status,
                reason,
                excerpt,
                ..
            } => Cause::ProxyRefused {
                proxy: name,
                destination,
                status,
                reason,
                excerpt,
            },
        }
    }

    /// In words, for connection errors outside the test.
    pub(crate) fn describe(self, proxy: &Proxy, host: &str, port: u16) -> String {
        self.cause(proxy, host, port).summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_read_like_curl_and_never_show_the_password() {
        let p = Proxy::parse("http://svc%40corp:p%3Ass@proxy.corp:3128/", "--proxy").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.username.as_deref()),
            ("proxy.corp", 3128, Some("svc@corp"))
        );
        assert_eq!(p.password.as_deref(), Some("p:ss"));
        assert_eq!(p.to_string(), "http://svc@corp@proxy.corp:3128");
        assert!(!format!("{p:?}").contains("p:ss"));
        let bare = Proxy::parse("proxy.corp", "HTTPS_PROXY").unwrap();
        assert_eq!(bare.port, DEFAULT_PROXY_PORT);
        assert_eq!(
            Proxy::parse("[::1]:8080", "x").unwrap().to_string(),
            "http://[::1]:8080"
        );
        let err = Proxy::parse("socks5://u:secret@h:1", "ALL_PROXY").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("u:***@h:1"), "{err}");
        assert!(Proxy::parse("https://h:1", "x").is_err());
        assert!(Proxy::parse("http://h:0", "x").is_err());
        assert!(Proxy::parse("http://h:1/path", "x").is_err());
    }

    #[test]
    fn connect_carries_basic_credentials_only_when_there_are_some() {
        let p = Proxy::parse("http://user:pw@p:1", "x").unwrap();
        let request = p.connect_request("partner.example", 443);
        assert!(request.starts_with("CONNECT partner.example:443 HTTP/1.1\r\n"));
        assert!(request.contains("Proxy-Authorization: Basic dXNlcjpwdw==\r\n"));
        let anonymous = Proxy::parse("p:1", "x").unwrap();
        assert!(
            !anonymous
                .connect_request("::1", 8443)
                .contains("Authorization")
        );
        assert!(
            anonymous
                .connect_request("::1", 8443)
                .starts_with("CONNECT [::1]:8443 ")
        );
    }

    #[test]
    fn no_proxy_follows_curls_rules() {
        let list = NoProxy::parse("example.com, .corp.local,10.0.0.0/8 ::1,host:8080");
        assert!(list.matches("example.com"));
        assert!(list.matches("www.EXAMPLE.com"));
        assert!(!list.matches("notanexample.com"));
        assert!(!list.matches("example.com.othertld"));
        assert!(list.matches("corp.local"));
        assert!(list.matches("a.b.corp.local"));
        assert!(list.matches("10.1.2.3"));
        assert!(!list.matches("11.1.2.3"));
        assert!(list.matches("[::1]"));
        assert!(list.matches("host"));
        assert!(!list.matches("127.0.0.1"));
        assert!(NoProxy::parse("*").matches("anything.at.all"));
        assert!(NoProxy::parse("").is_empty());
    }

    #[test]
    fn the_environment_is_read_lower_case_first() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let setting = ProxySetting::from_variables(env(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
            ("NO_PROXY", "partner.example"),
        ]))
        .unwrap();
        assert_eq!(setting.for_host("other.example").unwrap().host, "lower");
        assert_eq!(
            setting.for_host("other.example").unwrap().source,
            "environment variable https_proxy"
        );
        assert!(setting.for_host("api.partner.example").is_none());
        let all = ProxySetting::from_variables(env(&[("ALL_PROXY", "p:3")])).unwrap();
        assert_eq!(all.for_host("x").unwrap().port, 3);
        assert_eq!(
            ProxySetting::from_variables(env(&[("https_proxy", " ")])).unwrap(),
            ProxySetting::Direct
        );
        let bad = ProxySetting::from_variables(env(&[("HTTPS_PROXY", "socks5://p:1")]));
        assert!(
            bad.unwrap_err()
                .to_string()
                .starts_with("environment variable HTTPS_PROXY")
        );
    }

    #[test]
    fn answers_are_judged_by_status() {
        let a = parse_answer(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            refusal(&a, b"", "p"),
            TunnelFailure::AuthRequired {
                address: "p".into(),
                scheme: Some("Basic realm=\"corp\"".into())
            }
        );
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
        assert!(parse_answer(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
