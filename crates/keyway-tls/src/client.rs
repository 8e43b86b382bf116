//! TLS connections for connectors: a [`TlsClient`] built once from a [`Profile`] opens
//! [`TlsStream`]s (tokio) to any host, over rustls or the legacy OpenSSL backend behind
//! one type, with the same backend rule, verifier and keyway checks as [`crate::test()`].
//!
//! rustls sessions are resumed: the client keeps one `ClientConfig` and its session
//! cache for its whole life, so a second connection to the same server skips the full
//! handshake. Legacy (TLS 1.0/1.1) connections are not resumed: OpenSSL's client-side
//! resumption needs an unsafe call this workspace forbids; keep-alive reuse still applies.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use openssl::ssl::SslContext;
use rustls::ClientConfig;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::{Captured, client_config, is_placeholder_name, provider, verifier};
use crate::diagnosis::TlsBackend;
use crate::policy::{TlsVersion, VersionSet};
use crate::probe::{ProbeTarget, probe};
use crate::profile::Profile;

/// Why a connection could not be opened. For the full diagnosis of a TLS failure, run
/// [`crate::test()`] with the same profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {error}")]
    Dns {
        /// The name.
        host: String,
        /// Why.
        error: String,
    },
    /// The TCP connection was refused or failed.
    #[error("TCP connection to {address} failed: {error}")]
    Tcp {
        /// The address tried.
        address: SocketAddr,
        /// Why.
        error: io::Error,
    },
    /// No TCP connection within the connect timeout.
    #[error("no TCP connection to {address} within {} ms", timeout.as_millis())]
    ConnectTimeout {
        /// The address tried.
        address: SocketAddr,
        /// The connect timeout.
        timeout: Duration,
    },
    /// The TLS handshake did not finish within the handshake timeout.
    #[error("the TLS handshake with {address} did not finish within {} ms", timeout.as_millis())]
    HandshakeTimeout {
        /// The address.
        address: SocketAddr,
        /// The handshake timeout.
        timeout: Duration,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {address} failed ({backend}): {detail}")]
    Handshake {
        /// The address.
        address: SocketAddr,
        /// Which implementation tried.
        backend: TlsBackend,
        /// What it reported.
        detail: String,
    },
    /// The proxy did not open a tunnel (unreachable, 407, refused, closed).
    #[error("{problem}")]
    Proxy {
        /// The proxy, `http://[user@]host:port`.
        proxy: String,
        /// What went wrong, in words (no password).
        problem: String,
    },
    /// The profile cannot make a client configuration.
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

/// What an established connection negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The address connected to.
    pub address: SocketAddr,
    /// The protocol version.
    pub version: TlsVersion,
    /// The cipher suite (IANA name).
    pub cipher: String,
    /// The ALPN protocol, if any.
    pub alpn: Option<String>,
    /// Which implementation carries it.
    pub backend: TlsBackend,
    /// Whether an earlier session was resumed (no full handshake).
    pub resumed: bool,
}

/// A TLS connection over either backend.
#[derive(Debug)]
pub enum TlsStream {
    /// rustls (TLS 1.2/1.3).
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// OpenSSL (TLS 1.0/1.1).
    Legacy(Box<tokio_openssl::SslStream<TcpStream>>),
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            TlsStream::Legacy(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            TlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            TlsStream::Legacy(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            TlsStream::Legacy(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            TlsStream::Legacy(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            TlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            TlsStream::Legacy(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            TlsStream::Rustls(s) => s.is_write_vectored(),
            TlsStream::Legacy(s) => s.is_write_vectored(),
        }
    }
}

/// How a connection reaches its server.
enum Route {
    /// Straight, to the first of these addresses that answers.
    Direct(Vec<SocketAddr>),
    /// Through a CONNECT tunnel this proxy opens.
    Proxy(crate::proxy::Proxy),
}

/// Opens TLS connections with one profile; cheap to share (`Arc`) between tasks.
pub struct TlsClient {
    profile: Profile,
    /// `None` when the policy allows nothing newer than TLS 1.1.
    rustls: Option<tokio_rustls::TlsConnector>,
    /// `Some` when the policy allows TLS 1.0 or 1.1.
    legacy: Option<SslContext>,
    verifier: Arc<dyn ServerCertVerifier>,
    /// Servers found (by the probe) to share only TLS 1.0/1.1 with the policy.
    legacy_servers: Mutex<HashSet<(String, u16)>>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("policy", &self.profile.policy)
            .field("rustls", &self.rustls.is_some())
            .field("legacy", &self.legacy.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// A client for `profile`, offering `alpn` (e.g. `http/1.1`) on both backends.
    pub fn new(profile: Profile, alpn: &[&str]) -> Result<TlsClient, ConnectError> {
        let captured = Arc::new(Captured::default());
        let modern = profile
            .policy
            .accepted()
            .intersection(VersionSet::range(TlsVersion::Tls12, TlsVersion::Tls13));
        let rustls = if modern.is_empty() {
            None
        } else {
            let mut config: ClientConfig = client_config(&profile, &captured, false)
                .map_err(|e| ConnectError::Config(e.to_string()))?;
            config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        };
        let legacy = if profile.policy.needs_legacy_backend() {
            let mut wire = Vec::new();
            for p in alpn {
                wire.push(p.len() as u8);
                wire.extend_from_slice(p.as_bytes());
            }
            Some(
                crate::legacy::context(&profile, profile.policy.accepted(), &wire).map_err(
                    |e| ConnectError::Config(format!("legacy backend: {}", e.describe())),
                )?,
            )
        } else {
            None
        };
        let verifier = verifier(&profile, &captured, &Arc::new(provider()))
            .map_err(|e| ConnectError::Config(e.to_string()))?;
        Ok(TlsClient {
            profile,
            rustls,
            legacy,
            verifier,
            legacy_servers: Mutex::default(),
        })
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Connects to `host:port` and shakes hands. The certificate is checked against
    /// the profile's server name if it has one, else `host`. rustls goes first when the
    /// policy allows TLS 1.2/1.3; the legacy backend is used when it allows nothing newer
    /// than TLS 1.1, or when the version probe shows the server shares only TLS 1.0/1.1
    /// with the policy (remembered for this client's life).
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> Result<(TlsStream, ConnectionInfo), ConnectError> {
        let name = self
            .profile
            .server_name
            .clone()
            .unwrap_or_else(|| host.to_string());
        let route = match self.profile.proxy_for(host) {
            // A placeholder name fails at once, proxy or not.
            Some(proxy) if !is_placeholder_name(host) => Route::Proxy(proxy.clone()),
            _ => Route::Direct(self.resolve(host, port).await?),
        };
        let known_legacy = self
            .legacy_servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&(host.to_string(), port));
        let Some(rustls) = self.rustls.as_ref().filter(|_| !known_legacy) else {
            return self.connect_legacy(&route, host, port, &name).await;
        };
        let (tcp, address) = self.open(&route, host, port).await?;
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| ConnectError::Config(format!("\"{name}\" is not a valid server name")))?;
        let handshake = tokio::time::timeout(
            self.profile.handshake_timeout,
            rustls.connect(server_name, tcp),
        )
        .await;
        let error = match handshake {
            Ok(Ok(stream)) => {
                let (_, conn) = stream.get_ref();
                let info = ConnectionInfo {
                    address,
                    version: if conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
                        TlsVersion::Tls13
                    } else {
                        TlsVersion::Tls12
                    },
                    cipher: conn
                        .negotiated_cipher_suite()
                        .and_then(|s| tls_parser::TlsCipherSuite::from_id(u16::from(s.suite())))
                        .map(|c| c.name.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    alpn: conn
                        .alpn_protocol()
                        .map(|p| String::from_utf8_lossy(p).into_owned()),
                    backend: TlsBackend::Rustls,
                    resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
                };
                return Ok((TlsStream::Rustls(Box::new(stream)), info));
            }
            Ok(Err(e)) => e,
            Err(_) => {
                return Err(ConnectError::HandshakeTimeout {
                    address,
                    timeout: self.profile.handshake_timeout,
                });
            }
        };
        if self.legacy.is_some() && self.shares_only_legacy(host, port).await {
            self.legacy_servers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((host.to_string(), port));
            return self.connect_legacy(&route, host, port, &name).await;
        }
        Err(ConnectError::Handshake {
            address,
            backend: TlsBackend::Rustls,
            detail: handshake_words(&error),
        })
    }

    /// Every address of `host`, in the resolver's order.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
        let dns = |error: String| ConnectError::Dns {
            host: host.to_string(),
            error,
        };
        if is_placeholder_name(host) {
            return Err(dns(crate::config::PLACEHOLDER_NAME.into()));
        }
        match tokio::net::lookup_host((host, port)).await {
            Ok(addresses) => {
                let addresses: Vec<SocketAddr> = addresses.collect();
                if addresses.is_empty() {
                    Err(dns("no address".into()))
                } else {
                    Ok(addresses)
                }
            }
            Err(e) => Err(dns(e.to_string())),
        }
    }

    /// A TCP connection to the server: straight, or a tunnel through the proxy (the
    /// address is then the proxy's).
    async fn open(
        &self,
        route: &Route,
        host: &str,
        port: u16,
    ) -> Result<(TcpStream, SocketAddr), ConnectError> {
        match route {
            Route::Direct(addresses) => self.tcp(addresses).await,
            Route::Proxy(proxy) => crate::proxy::tunnel_async(
                proxy,
                host,
                port,
                self.profile.connect_timeout,
                self.profile.handshake_timeout,
            )
            .await
            .map_err(|failure| ConnectError::Proxy {
                proxy: proxy.to_string(),
                problem: failure.describe(proxy, host, port),
            }),
        }
    }

    /// A TCP connection to the first address that accepts one; the error is the last
    /// address's.
    async fn tcp(&self, addresses: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), ConnectError> {
        let timeout = self.profile.connect_timeout;
        let mut last = None;
        for &address in addresses {
            match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok((tcp, address));
                }
                Ok(Err(error)) => last = Some(ConnectError::Tcp { address, error }),
                Err(_) => last = Some(ConnectError::ConnectTimeout { address, timeout }),
            }
        }
        Err(last.unwrap_or_else(|| ConnectError::Config("no address to connect to".into())))
    }

    /// Whether the best version the server and the policy share is TLS 1.0 or 1.1.
    async fn shares_only_legacy(&self, host: &str, port: u16) -> bool {
        let target = ProbeTarget {
            host: host.to_string(),
            port,
            server_name: self.profile.server_name.clone(),
            timeout: self.profile.handshake_timeout.min(Duration::from_secs(5)),
            proxy: self.profile.proxy_for(host).cloned(),
        };
        let allowed = self.profile.policy.accepted();
        tokio::task::spawn_blocking(move || probe(&target))
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|report| report.supported.intersection(allowed).highest())
            .is_some_and(|best| best < TlsVersion::Tls12)
    }

    async fn connect_legacy(
        &self,
        route: &Route,
        host: &str,
        port: u16,
        name: &str,
    ) -> Result<(TlsStream, ConnectionInfo), ConnectError> {
        let (tcp, address) = self.open(route, host, port).await?;
        let failed = |detail: String| ConnectError::Handshake {
            address,
            backend: TlsBackend::OpensslLegacy,
            detail,
        };
        let ctx = self
            .legacy
            .as_ref()
            .ok_or_else(|| failed("the policy does not allow TLS 1.0 or 1.1".into()))?;
        let (ssl, rejected) = crate::legacy::client(ctx, name, self.verifier.clone())
            .map_err(|e| failed(e.describe()))?;
        let mut stream =
            tokio_openssl::SslStream::new(ssl, tcp).map_err(|e| failed(e.to_string()))?;
        match tokio::time::timeout(
            self.profile.handshake_timeout,
            Pin::new(&mut stream).connect(),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(failed(crate::legacy::failure(&e, &rejected).describe()));
            }
            Err(_) => {
                return Err(ConnectError::HandshakeTimeout {
                    address,
                    timeout: self.profile.handshake_timeout,
                });
            }
        }
        let (version, cipher, alpn) = crate::legacy::negotiated(stream.ssl());
        let info = ConnectionInfo {
            address,
            version,
            cipher,
            alpn,
            backend: TlsBackend::OpensslLegacy,
            resumed: stream.ssl().session_reused(),
        };
        Ok((TlsStream::Legacy(Box::new(stream)), info))
    }
}

/// A failed rustls handshake in words: the rustls error when there is one (its own
/// Display shows Debug renderings), the I/O error otherwise.
fn handshake_words(error: &io::Error) -> String {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(e) => crate::explain::rustls_error(e),
        None => error.to_string(),
    }
}
