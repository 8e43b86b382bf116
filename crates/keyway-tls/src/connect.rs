//! The connectivity test: TCP connect, TLS handshake with the profile, one HTTP request
//! for https URLs, and on failure the cause found from evidence — the chain captured
//! before verification, the server's CertificateRequest, the alert, the first bytes
//! received, and the version probe — never from error strings.
//!
//! TlsBackend rule: rustls does TLS 1.2 and 1.3 and goes first whenever the policy allows
//! either. The legacy OpenSSL backend ([`crate::legacy`]) does TLS 1.0 and 1.1 and is
//! used (a) straight away when the policy allows nothing newer than TLS 1.1, or (b) when
//! rustls failed at the version stage and the probe shows that the best version the
//! server and the policy share is TLS 1.0 or 1.1. A server that speaks TLS 1.2 is never
//! talked to with an older version, and SSL 3.0 is never negotiated.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use keyway_keystore::Certificate;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, ClientConfig, ClientConnection};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::cause::{ChainFacts, cert_names, certificate_cause, chain_warnings};
use crate::config::{
    Captured, PLACEHOLDER_NAME, client_config, is_placeholder_name, provider, verifier,
};
use crate::diagnosis::{Cause, Diagnosis, Evidence, Negotiated, Stage, TestOutcome, TlsBackend};
use crate::explain;
use crate::policy::{TlsVersion, VersionSet};
use crate::probe::{ProbeOutcome, ProbeReport, ProbeTarget, probe};
use crate::profile::{Profile, Validity};
use crate::proxy::{Proxy, ProxyEvidence};
use crate::tap::Tap;

/// Certificates expiring within this many days are warned about.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// What to connect to: `https://host[:port][/path]` (one HTTP request after the
/// handshake) or `host:port` (TLS only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestTarget {
    /// Host name or IP address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The request path for https URLs; `None` tests TLS only.
    pub http_path: Option<String>,
}

/// Why a test could not run at all (as opposed to a diagnosed failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// The target is not an https URL or HOST:PORT.
    #[error("\"{given}\": {why}")]
    BadTarget {
        /// What was given.
        given: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The TLS configuration could not be built from the profile.
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

impl TestTarget {
    /// Parses `https://host[:port][/path]`, `host:port` or `[v6]:port`.
    pub fn parse(given: &str) -> Result<Self, TestError> {
        let bad = |why| TestError::BadTarget {
            given: given.to_string(),
            why,
        };
        let (rest, http) = match given.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (rest, true),
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("http") => {
                return Err(bad(
                    "plain http has no TLS to test; use https:// or HOST:PORT",
                ));
            }
            Some(_) => return Err(bad("only https:// URLs and HOST:PORT can be tested")),
            None => (given, false),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = authority
            .rsplit_once('@')
            .map(|(_, a)| a)
            .unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in an IPv6 address"))?;
            (h.to_string(), after.strip_prefix(':').map(str::to_string))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.to_string())),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p
                .parse()
                .map_err(|_| bad("the port is not a number from 1 to 65535"))?,
            None if http => 443,
            None => return Err(bad("give a port (HOST:PORT) or an https:// URL")),
        };
        Ok(TestTarget {
            host,
            port,
            http_path: http.then(|| path.to_string()),
        })
    }
}

/// How many of the server's first bytes are kept for `not_tls`.
const FIRST_BYTES: usize = 64;

/// What the evidence says about a failed rustls attempt.
#[expect(
    clippy::large_enum_variant,
    reason = "made once per test and consumed at once; boxing buys nothing"
)]
enum Finding {
    /// The one cause that blocks the connection.
    Cause(Cause),
    /// Nothing is wrong but the version: the server and the policy share only these
    /// legacy versions, which the legacy backend speaks.
    Legacy(VersionSet),
}

impl From<Cause> for Finding {
    fn from(cause: Cause) -> Self {
        Finding::Cause(cause)
    }
}

/// How a test reaches the server.
#[derive(Clone)]
enum Route {
    /// Straight to this address.
    Direct(SocketAddr),
    /// Through a tunnel this proxy opens.
    Proxy(Proxy),
}

/// Everything gathered while a test runs.
struct Run<'a> {
    target: &'a TestTarget,
    profile: &'a Profile,
    /// The name sent in SNI and checked against the certificate.
    name: String,
    /// How the server is reached, once known.
    route: Option<Route>,
    /// The server's chain as sent, DER.
    chain_der: Vec<Vec<u8>>,
    evidence: Evidence,
    warnings: Vec<String>,
}

impl Run<'_> {
    /// The success outcome, with warnings about certificates close to expiry.
    fn connected(mut self, negotiated: Negotiated) -> TestOutcome {
        self.warn_identity_dates(None);
        let now = OffsetDateTime::now_utc();
        for cert in &self.evidence.server_chain {
            let days = cert.days_until_expiry(now);
            if days < EXPIRY_WARNING_DAYS {
                self.warnings.push(format!(
                    "the server certificate {} expires in {days} days ({})",
                    cert.subject,
                    cert.not_after.date()
                ));
            }
        }
        TestOutcome::Connected {
            negotiated,
            evidence: self.evidence,
            warnings: self.warnings,
        }
    }

    fn fail(mut self, cause: Cause) -> TestOutcome {
        let cause = self.through_proxy(cause);
        self.warn_identity_dates(Some(&cause));
        TestOutcome::Failed(Diagnosis {
            cause,
            settings: self.profile.settings.clone(),
            evidence: self.evidence,
            warnings: self.warnings,
            negotiated: None,
        })
    }

    /// After a good handshake: connected, unless the HTTP answer is an error.
    fn conclude(mut self, negotiated: Negotiated, answer: Option<HttpAnswer>) -> TestOutcome {
        let path = self.target.http_path.clone().unwrap_or_default();
        let cause = match answer {
            Some(HttpAnswer {
                status: Some(401),
                challenge,
                ..
            }) => Some(Cause::HttpUnauthorized { path, challenge }),
            // The endpoint exists and wants another method (SOAP endpoints take POST only).
            Some(HttpAnswer {
                status: Some(405), ..
            }) => {
                self.warnings.push(format!(
                    "GET {path} got 405 Method Not Allowed: the endpoint exists but takes other methods (a SOAP endpoint accepts POST only)"
                ));
                None
            }
            Some(HttpAnswer {
                status: Some(status),
                reason,
                excerpt,
                ..
            }) if status >= 400 => Some(Cause::HttpError {
                path,
                status,
                reason,
                excerpt,
            }),
            _ => None,
        };
        match cause {
            None => self.connected(negotiated),
            Some(cause) => {
                let mut outcome = self.fail(cause);
                if let TestOutcome::Failed(d) = &mut outcome {
                    d.negotiated = Some(negotiated);
                }
                outcome
            }
        }
    }

    /// A TCP connection to the server: straight, or a tunnel through the proxy (the
    /// evidence records the proxy's answer). A failure is the cause.
    #[expect(
        clippy::result_large_err,
        reason = "the error is the test's final answer, built once"
    )]
    fn open(&mut self) -> Result<TcpStream, Cause> {
        let profile = self.profile;
        match self.route.clone() {
            Some(Route::Direct(address)) => tcp_connect(address, profile),
            Some(Route::Proxy(proxy)) => {
                let (host, port) = (&self.target.host, self.target.port);
                let opened = crate::proxy::tunnel(
                    &proxy,
                    host,
                    port,
                    profile.connect_timeout,
                    profile.handshake_timeout,
                );
                match opened {
                    Ok((stream, address, answer)) => {
                        if let Some(evidence) = &mut self.evidence.proxy {
                            evidence.address = Some(address.to_string());
                            evidence.tunnel_established = true;
                            evidence.answer = Some(answer);
                        }
                        let _ = stream.set_read_timeout(Some(profile.handshake_timeout));
                        let _ = stream.set_write_timeout(Some(profile.handshake_timeout));
                        Ok(stream)
                    }
                    Err(failure) => {
                        if let Some(evidence) = &mut self.evidence.proxy {
                            evidence.address = failure.address().map(str::to_string);
                            evidence.answer = failure.answer();
                        }
                        Err(failure.cause(&proxy, host, port))
                    }
                }
            }
            None => Err(Cause::HandshakeFailed {
                detail: "no route to the server was set up".into(),
                stage: Stage::Connecting,
                alert: None,
            }),
        }
    }

    /// Through a proxy, some causes mean something else: a hang-up right after our
    /// ClientHello with nothing from the partner is the proxy's as much as the
    /// partner's, and a chain ending in a CA nobody trusts may be the proxy's own
    /// (TLS inspection).
    fn through_proxy(&mut self, cause: Cause) -> Cause {
        let Some(Route::Proxy(proxy)) = &self.route else {
            return cause;
        };
        let destination = crate::proxy::host_port(&self.target.host, self.target.port);
        match cause {
            Cause::ClosedAfterHello => Cause::ProxyClosed {
                proxy: proxy.to_string(),
                destination,
                tunnel_established: true,
            },
            Cause::UntrustedRoot { .. } | Cause::IncompleteChain { .. } => {
                let Some(top) = self.evidence.server_chain.last() else {
                    return cause;
                };
                let issuer_cert = (top.subject == top.issuer).then(|| top.clone());
                let issuer = top.issuer.clone();
                self.warnings.push(format!(
                    "if the proxy does not inspect TLS, this is the partner's chain and the cause is: {}",
                    cause.summary()
                ));
                Cause::ProxyInterception {
                    proxy: proxy.to_string(),
                    destination,
                    issuer,
                    issuer_cert,
                    truststores: self.profile.truststore_names(),
                }
            }
            other => other,
        }
    }

    /// What a certificate refusal is diagnosed from.
    fn facts(&self) -> ChainFacts<'_> {
        ChainFacts {
            chain: &self.evidence.server_chain,
            chain_der: &self.chain_der,
            name: &self.name,
            truststores: self.profile.truststore_names(),
            anchors: &self.profile.anchors,
        }
    }

    /// A client certificate outside its dates that did not cause the failure (the server
    /// did not ask for it, or something else failed first) is still worth a warning.
    fn warn_identity_dates(&mut self, cause: Option<&Cause>) {
        if matches!(
            cause,
            Some(Cause::ClientCertExpired { .. } | Cause::ClientCertNotYetValid { .. })
        ) {
            return;
        }
        let Some(identity) = &self.profile.identity else {
            return;
        };
        let Some(leaf) = identity.chain.first().map(|c| c.info()) else {
            return;
        };
        let state = match identity.validity(OffsetDateTime::now_utc()) {
            Validity::Valid => return,
            Validity::Expired => format!("expired on {}", leaf.not_after.date()),
            Validity::NotYetValid => format!("is not valid until {}", leaf.not_before.date()),
        };
        let asked = if self.evidence.client_cert_requested {
            "the server accepted it this time"
        } else {
            "this server did not ask for it, but a server that does will refuse it"
        };
        self.warnings.push(format!(
            "our client certificate {} (alias \"{}\" in {}) {state}; {asked}: renew it",
            leaf.subject,
            identity.alias,
            identity.store.display()
        ));
    }

    /// The cause when the client certificate we sent is outside its dates: the server's
    /// objection to it is about that, whatever alert it chose.
    fn identity_dates_cause(&self, alert: Option<String>) -> Option<Cause> {
        self.evidence.client_cert_sent.as_ref()?;
        let identity = self.profile.identity.as_ref()?;
        let cert = identity.chain.first()?.info().clone();
        let alias = identity.alias.clone();
        let keystore = identity.store.display().to_string();
        match identity.validity(OffsetDateTime::now_utc()) {
            Validity::Valid => None,
            Validity::Expired => Some(Cause::ClientCertExpired {
                cert,
                alias,
                keystore,
                alert,
            }),
            Validity::NotYetValid => Some(Cause::ClientCertNotYetValid {
                cert,
                alias,
                keystore,
                alert,
            }),
        }
    }

    /// The names the server's default certificate is valid for, from a handshake without
    /// SNI. Its chain is captured, never trusted, and the connection dropped after it.
    /// TLS 1.2 and 1.3 only: a server that speaks nothing newer shows nothing here.
    fn served_names(&mut self) -> Vec<String> {
        if self.route.is_none() {
            return Vec::new();
        }
        let captured = Arc::new(Captured::default());
        let provider = Arc::new(provider());
        let Ok(verifier) = verifier(self.profile, &captured, &provider) else {
            return Vec::new();
        };
        let Ok(builder) = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        else {
            return Vec::new();
        };
        let mut config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.enable_sni = false;
        let (Ok(name), Ok(mut tcp)) = (ServerName::try_from(self.name.clone()), self.open()) else {
            return Vec::new();
        };
        let Ok(mut conn) = ClientConnection::new(Arc::new(config), name) else {
            return Vec::new();
        };
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                break;
            }
        }
        let chain = captured.chain.lock().unwrap_or_else(|e| e.into_inner());
        chain.first().map(|der| cert_names(der)).unwrap_or_default()
    }

    /// Runs the version probe once and keeps it as evidence.
    fn probe(&mut self) -> ProbeReport {
        if let Some(report) = &self.evidence.probe {
            return report.clone();
        }
        let target = ProbeTarget {
            host: self.target.host.clone(),
            port: self.target.port,
            server_name: self.profile.server_name.clone(),
            timeout: self.profile.handshake_timeout.min(Duration::from_secs(5)),
            proxy: self.profile.proxy_for(&self.target.host).cloned(),
        };
        let report = probe(&target).unwrap_or_else(|_| ProbeReport {
            host: self.target.host.clone(),
            port: self.target.port,
            address: SocketAddr::from(([0, 0, 0, 0], self.target.port)),
            server_name: None,
            versions: Vec::new(),
            supported: VersionSet::EMPTY,
            chain: Vec::new(),
            client_certificate: None,
            proxy: None,
        });
        self.evidence.probe = Some(report.clone());
        report
    }

    /// A version-level finding, from the probe, if there is one.
    fn version_finding(&mut self) -> Option<Finding> {
        let report = self.probe();
        let server = report.supported;
        if server.is_empty() {
            return report.versions.iter().find_map(|v| match &v.outcome {
                ProbeOutcome::NotTls { first_bytes } => Some(
                    Cause::NotTls {
                        first_bytes: first_bytes.clone(),
                    }
                    .into(),
                ),
                _ => None,
            });
        }
        if server == [TlsVersion::Ssl3].into_iter().collect() {
            return Some(Cause::Ssl3Only.into());
        }
        let allowed = self.profile.policy.accepted();
        let common = server.intersection(allowed);
        match common.highest() {
            None => Some(Cause::VersionMismatch { allowed, server }.into()),
            Some(best) if best < TlsVersion::Tls12 => Some(Finding::Legacy(common)),
            Some(_) => None,
        }
    }

    /// A version-level cause once the legacy backend has been tried: a server that
    /// shares a legacy version and still failed has some other problem.
    fn version_cause(&mut self) -> Option<Cause> {
        match self.version_finding()? {
            Finding::Cause(cause) => Some(cause),
            Finding::Legacy(_) => None,
        }
    }
}

/// Runs the connectivity test. `Err` only when the test cannot run; a failure to connect
/// is `Ok(TestOutcome::Failed(…))` with its diagnosis.
pub fn test(target: &TestTarget, profile: &Profile) -> Result<TestOutcome, TestError> {
    let name_to_check = profile
        .server_name
        .clone()
        .unwrap_or_else(|| target.host.clone());
    let mut run = Run {
        target,
        profile,
        name: name_to_check.clone(),
        route: None,
        chain_der: Vec::new(),
        evidence: Evidence {
            allowed_versions: profile.policy.accepted(),
            ..Evidence::default()
        },
        warnings: profile
            .policy
            .warnings()
            .iter()
            .map(ToString::to_string)
            .collect(),
    };
    if profile.insecure {
        run.warnings
            .push("INSECURE: the server's certificate was not verified (--insecure)".into());
    }
    if let Some(proxy) = profile
        .proxy_for(&target.host)
        .filter(|_| !is_placeholder_name(&target.host))
    {
        // The proxy resolves the partner's name; the evidence names the destination.
        // (A placeholder name fails at once below, proxy or not.)
        run.evidence.address = Some(crate::proxy::host_port(&target.host, target.port));
        run.evidence.proxy = Some(ProxyEvidence {
            proxy: proxy.to_string(),
            source: proxy.source.clone(),
            address: None,
            tunnel_established: false,
            answer: None,
        });
        run.route = Some(Route::Proxy(proxy.clone()));
    } else {
        let address = match resolve(&target.host, target.port) {
            Ok(address) => address,
            Err(cause) => return Ok(run.fail(cause)),
        };
        run.evidence.address = Some(address.to_string());
        run.route = Some(Route::Direct(address));
    }
    let rustls_versions = profile
        .policy
        .accepted()
        .intersection(VersionSet::range(TlsVersion::Tls12, TlsVersion::Tls13));
    let tcp = match run.open() {
        Ok(s) => s,
        Err(cause) => return Ok(run.fail(cause)),
    };
    if rustls_versions.is_empty() {
        // The policy allows nothing newer than TLS 1.1: the legacy backend only.
        let versions = profile.policy.accepted();
        return legacy_test(run, tcp, &name_to_check, versions);
    }
    let captured = Arc::new(Captured::default());
    let config =
        client_config(profile, &captured, target.http_path.is_some()).map_err(TestError::Config)?;
    let server_name =
        ServerName::try_from(name_to_check.clone()).map_err(|_| TestError::BadTarget {
            given: name_to_check.clone(),
            why: "not a valid server name",
        })?;
    let mut conn = ClientConnection::new(Arc::new(config), server_name)
        .map_err(|e| TestError::Config(explain::rustls_error(&e)))?;
    let mut sock = Tap::new(tcp, FIRST_BYTES);

    let mut handshake_error = None;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            handshake_error = Some(e);
            break;
        }
    }
    collect(&mut run, &captured, profile);
    if let Some(e) = handshake_error {
        // Hang up before diagnosing: a server that serves one connection at a time (or
        // waits for our close, as `openssl s_server` does) would otherwise hold the
        // probe's connections behind this dead one.
        let first = sock.hang_up();
        match diagnose(&mut run, &e, &first, false) {
            Finding::Cause(cause) => {
                warn_missing_identity(&mut run, &cause);
                return Ok(run.fail(cause));
            }
            Finding::Legacy(common) => {
                // What rustls saw was a refusal of TLS 1.2/1.3, not a failure: start over.
                run.evidence.alerts.clear();
                let tcp = match run.open() {
                    Ok(s) => s,
                    Err(cause) => return Ok(run.fail(cause)),
                };
                return legacy_test(run, tcp, &name_to_check, common);
            }
        }
    }

    // TLS 1.3 servers reject a missing or unacceptable client certificate only after the
    // handshake, on the first read: write, then read.
    // Only a TLS 1.3 server that asked for a client certificate can still refuse it after
    // the handshake; others need no wait when there is no HTTP request to make.
    let await_verdict = run.evidence.client_cert_requested
        && conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
    let answer = match exchange(&mut conn, &mut sock, target, &name_to_check, await_verdict) {
        Ok(answer) => answer,
        Err(e)
            if rustls_error(&e).is_none()
                && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            run.warnings.push(format!(
                "TLS works, but the server did not answer the HTTP request within {} ms",
                profile.handshake_timeout.as_millis()
            ));
            None
        }
        Err(e) => {
            collect(&mut run, &captured, profile);
            let first = sock.hang_up();
            let cause = match diagnose(&mut run, &e, &first, true) {
                Finding::Cause(cause) => cause,
                Finding::Legacy(_) => closed_after_handshake(&e),
            };
            warn_missing_identity(&mut run, &cause);
            return Ok(run.fail(cause));
        }
    };
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
        _ => TlsVersion::Tls12,
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| {
            tls_parser::TlsCipherSuite::from_id(u16::from(s.suite())).map(|c| c.name.to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let negotiated = Negotiated {
        version,
        cipher,
        alpn,
        http_status: answer.as_ref().and_then(|a| a.status),
        backend: TlsBackend::Rustls,
    };
    Ok(run.conclude(negotiated, answer))
}

/// The first address of `host`. Names under `.invalid` fail at once without a query, as
/// RFC 6761 §6.4 asks of resolver libraries: such a name is always a placeholder left in
/// a configuration.
#[expect(
    clippy::result_large_err,
    reason = "the error is the test's final answer, built once"
)]
fn resolve(host: &str, port: u16) -> Result<SocketAddr, Cause> {
    let dns_failure = |error: String| Cause::DnsFailure {
        host: host.to_string(),
        error,
    };
    if is_placeholder_name(host) {
        return Err(dns_failure(PLACEHOLDER_NAME.into()));
    }
    match (host, port).to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(address)) => Ok(address),
        Ok(None) => Err(dns_failure("no address".into())),
        Err(e) => Err(dns_failure(e.to_string())),
    }
}

/// Opens the TCP connection, with the handshake timeout set on it; a failure is the cause.
#[expect(
    clippy::result_large_err,
    reason = "the error is the test's final answer, built once"
)]
fn tcp_connect(address: SocketAddr, profile: &Profile) -> Result<TcpStream, Cause> {
    match TcpStream::connect_timeout(&address, profile.connect_timeout) {
        Ok(tcp) => {
            let _ = tcp.set_read_timeout(Some(profile.handshake_timeout));
            let _ = tcp.set_write_timeout(Some(profile.handshake_timeout));
            let _ = tcp.set_nodelay(true);
            Ok(tcp)
        }
        Err(e) => Err(match e.kind() {
            ErrorKind::ConnectionRefused => Cause::ConnectionRefused {
                address: address.to_string(),
            },
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Cause::ConnectTimeout {
                address: address.to_string(),
                timeout_ms: profile.connect_timeout.as_millis() as u64,
            },
            _ => Cause::HandshakeFailed {
                detail: format!("the TCP connection to {address} failed: {e}"),
                stage: Stage::Connecting,
                alert: None,
            },
        }),
    }
}

/// The test over the legacy backend, with `versions` (TLS 1.0/1.1) only.
fn legacy_test(
    mut run: Run<'_>,
    tcp: TcpStream,
    name: &str,
    versions: VersionSet,
) -> Result<TestOutcome, TestError> {
    let profile = run.profile;
    let target = run.target;
    let captured = Arc::new(Captured::default());
    let verifier =
        verifier(profile, &captured, &Arc::new(provider())).map_err(TestError::Config)?;
    let http = target.http_path.is_some();
    let attempt = crate::legacy::connect(tcp, profile, name, versions, verifier, http);
    // OpenSSL answers a CertificateRequest by itself, with our certificate when we have one.
    if let Some(cas) = attempt.requested {
        *captured.requested.lock().unwrap_or_else(|e| e.into_inner()) = Some(cas);
        *captured.sent.lock().unwrap_or_else(|e| e.into_inner()) = profile.identity.is_some();
    }
    collect(&mut run, &captured, profile);
    let mut session = match attempt.result {
        Ok(session) => session,
        Err(failure) => {
            let cause = legacy_cause(&mut run, failure);
            warn_missing_identity(&mut run, &cause);
            return Ok(run.fail(cause));
        }
    };
    let answer = match &target.http_path {
        Some(path) => match http_exchange(&mut session.stream, path, name) {
            Ok(answer) => Some(answer),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                run.warnings.push(format!(
                    "TLS works, but the server did not answer the HTTP request within {} ms",
                    profile.handshake_timeout.as_millis()
                ));
                None
            }
            Err(e) => {
                let cause = closed_after_handshake(&e);
                return Ok(run.fail(cause));
            }
        },
        None => None,
    };
    let _ = session.stream.shutdown();
    run.warnings.push(format!(
        "{} is deprecated (RFC 8996) and was negotiated through keyway's legacy backend; ask the partner to enable TLS 1.2",
        session.version
    ));
    let negotiated = Negotiated {
        version: session.version,
        cipher: session.cipher,
        alpn: session.alpn,
        http_status: answer.as_ref().and_then(|a| a.status),
        backend: TlsBackend::OpensslLegacy,
    };
    Ok(run.conclude(negotiated, answer))
}

/// The cause of a failed legacy handshake, from the same evidence as for rustls.
fn legacy_cause(run: &mut Run<'_>, failure: crate::legacy::Failure) -> Cause {
    use crate::legacy::Failure;
    match failure {
        Failure::Certificate(rustls::Error::InvalidCertificate(e)) => {
            certificate_cause(&run.facts(), &e)
        }
        Failure::Certificate(other) => Cause::HandshakeFailed {
            detail: format!(
                "the server certificate was refused: {}",
                explain::rustls_error(&other)
            ),
            stage: Stage::Handshake,
            alert: None,
        },
        Failure::Alert(alert) => alert_cause(run, AlertDescription::from(alert)),
        Failure::Timeout => Cause::HandshakeTimeout {
            timeout_ms: run.profile.handshake_timeout.as_millis() as u64,
        },
        Failure::Closed(detail) => hang_up_cause(run, &detail)
            .or_else(|| run.version_cause())
            .unwrap_or(Cause::ClosedAfterHello),
        Failure::NoUsableCipher => Cause::NoSharedCipher {
            allowed: run.profile.policy.cipher_suites().map(<[String]>::to_vec),
        },
        // OpenSSL refused something locally (e.g. the server chose a version outside the
        // range): the probe says whether versions are the problem.
        Failure::Other(detail) => run.version_cause().unwrap_or(Cause::HandshakeFailed {
            detail: format!("OpenSSL (legacy backend) reported: {detail}"),
            stage: Stage::Handshake,
            alert: None,
        }),
    }
}

/// Copies what the handshake captured into the evidence, with the warning about a client
/// certificate whose issuer the server did not name.
fn collect(run: &mut Run<'_>, captured: &Captured, profile: &Profile) {
    run.chain_der = captured
        .chain
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    run.evidence.server_chain_der = run.chain_der.clone();
    run.evidence.server_chain = run
        .chain_der
        .iter()
        .enumerate()
        .filter_map(|(n, der)| {
            Certificate::from_der(der.clone(), &format!("server certificate {}", n + 1)).ok()
        })
        .map(|c| c.info().clone())
        .collect();
    run.evidence.root_key_identifier = run.chain_der.last().and_then(|der| {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        cert.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => aki
                    .key_identifier
                    .as_ref()
                    .map(|k| keyway_keystore::hex_colon(k.0)),
                _ => None,
            })
    });
    run.evidence.pinned = !profile.insecure
        && run.chain_der.first().is_some_and(|leaf| {
            profile
                .anchor_der
                .iter()
                .any(|a| a.as_ref() == leaf.as_slice())
        });
    for warning in chain_warnings(&run.evidence.server_chain) {
        if !run.warnings.contains(&warning) {
            run.warnings.push(warning);
        }
    }
    let requested = captured
        .requested
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    run.evidence.client_cert_requested = requested.is_some();
    run.evidence.acceptable_cas = requested.clone().unwrap_or_default();
    if *captured.sent.lock().unwrap_or_else(|e| e.into_inner()) {
        run.evidence.client_cert_sent = profile
            .identity
            .as_ref()
            .and_then(|i| i.chain.first())
            .map(|c| c.info().clone());
    }
    if let (Some(cas), Some(sent)) = (&requested, &run.evidence.client_cert_sent) {
        let issuer_named = cas.is_empty() || cas.contains(&sent.issuer);
        let warning = format!(
            "our client certificate {} is issued by {}, which is not among the CAs the server accepts ({})",
            sent.subject,
            sent.issuer,
            cas.join("; ")
        );
        if !issuer_named && !run.warnings.contains(&warning) {
            run.warnings.push(warning);
        }
    }
}

/// When something else blocked first, a client-certificate request we cannot answer is
/// the next problem waiting: say so now rather than after the first fix.
fn warn_missing_identity(run: &mut Run<'_>, cause: &Cause) {
    let about_client_cert = matches!(
        cause,
        Cause::ClientCertRequired { .. } | Cause::ClientCertRejected { .. }
    );
    if run.evidence.client_cert_requested
        && run.evidence.client_cert_sent.is_none()
        && !about_client_cert
    {
        run.warnings.push(format!(
            "the server also asks for a client certificate (acceptable CAs: {}) and this connector has none",
            if run.evidence.acceptable_cas.is_empty() { "any".to_string() } else { run.evidence.acceptable_cas.join("; ") }
        ));
    }
}

/// Sends one GET request (https), or for TLS only waits briefly for a post-handshake
/// verdict on our client certificate when one can still come.
fn exchange(
    conn: &mut ClientConnection,
    sock: &mut Tap,
    target: &TestTarget,
    host: &str,
    await_verdict: bool,
) -> std::io::Result<Option<HttpAnswer>> {
    let mut stream = rustls::Stream::new(conn, sock);
    match &target.http_path {
        Some(path) => http_exchange(&mut stream, path, host).map(Some),
        None if !await_verdict => Ok(None),
        None => {
            stream
                .sock
                .tcp()
                .set_read_timeout(Some(Duration::from_millis(300)))?;
            let mut buf = [0u8; 1];
            match stream.read(&mut buf) {
                Ok(_) => Ok(None),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// What the server answered to the test request.
#[derive(Debug, Default)]
struct HttpAnswer {
    status: Option<u16>,
    reason: String,
    challenge: Option<String>,
    excerpt: String,
}

/// How much of the response head and body is read.
const MAX_HEAD: usize = 16 * 1024;
const EXCERPT_BYTES: usize = 512;

/// Sends `GET path` and reads the response head, plus the start of the body for errors.
fn http_exchange<S: Read + Write>(
    stream: &mut S,
    path: &str,
    host: &str,
) -> std::io::Result<HttpAnswer> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: keyway\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let (mut answer, head_len, content_length) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(&response) {
            Ok(httparse::Status::Complete(head_len)) => {
                let header = |name: &str| {
                    parsed
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
                };
                let answer = HttpAnswer {
                    status: parsed.code,
                    reason: parsed.reason.unwrap_or_default().to_string(),
                    challenge: header("www-authenticate"),
                    excerpt: String::new(),
                };
                let length = header("content-length").and_then(|l| l.parse::<usize>().ok());
                break (answer, head_len, length);
            }
            Ok(httparse::Status::Partial) if response.len() < MAX_HEAD => {}
            // Not HTTP, or a head too large to be a plain answer: the status line is
            // all that can be told.
            _ => {
                let line = String::from_utf8_lossy(&response);
                return Ok(HttpAnswer {
                    status: line.split_whitespace().nth(1).and_then(|s| s.parse().ok()),
                    ..HttpAnswer::default()
                });
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(HttpAnswer::default());
        }
        response.extend_from_slice(&buf[..n]);
    };
    if answer.status.is_some_and(|s| s >= 400) {
        let wanted = content_length.unwrap_or(EXCERPT_BYTES).min(EXCERPT_BYTES);
        let mut body = response.split_off(head_len);
        // Read on only while the server said more is coming (or said nothing and sent
        // nothing yet): a keep-alive server must not hold the test until the timeout.
        while body.len() < wanted && (content_length.is_some() || body.is_empty()) {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&buf[..n]),
            }
        }
        answer.excerpt = excerpt(&body[..body.len().min(wanted)]);
    }
    Ok(answer)
}

/// Readable text of a response body: tags dropped, whitespace collapsed, 200 characters.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if in_tag => {}
            c if c.is_control() || c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// Finds the cause of a failed handshake or first exchange from the evidence, or that the
/// server needs the legacy backend.
fn diagnose(run: &mut Run<'_>, e: &std::io::Error, first: &[u8], after_handshake: bool) -> Finding {
    let stage = if after_handshake {
        Stage::AfterHandshake
    } else {
        Stage::Handshake
    };
    let requested = run.evidence.client_cert_requested;
    let Some(error) = rustls_error(e) else {
        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            return Cause::HandshakeTimeout {
                timeout_ms: run.profile.handshake_timeout.as_millis() as u64,
            }
            .into();
        }
        if let Some(cause) = hang_up_cause(run, &e.to_string()) {
            return cause.into();
        }
        return if after_handshake {
            closed_after_handshake(e).into()
        } else {
            run.version_finding()
                .unwrap_or(Cause::ClosedAfterHello.into())
        };
    };
    match error {
        rustls::Error::InvalidMessage(_)
            if !first.is_empty() && !matches!(first[0], 0x14..=0x17) =>
        {
            Cause::NotTls {
                first_bytes: printable(first),
            }
            .into()
        }
        rustls::Error::AlertReceived(alert) => {
            let alert = *alert;
            let version_stage = !after_handshake
                && !requested
                && matches!(
                    alert,
                    AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure
                );
            if version_stage && let Some(Finding::Legacy(common)) = run.version_finding() {
                return Finding::Legacy(common);
            }
            alert_cause(run, alert).into()
        }
        rustls::Error::InvalidCertificate(cert_error) => {
            certificate_cause(&run.facts(), cert_error).into()
        }
        rustls::Error::PeerIncompatible(_) => run.version_finding().unwrap_or_else(|| {
            Cause::HandshakeFailed {
                detail: explain::rustls_error(error),
                stage,
                alert: None,
            }
            .into()
        }),
        other => Cause::HandshakeFailed {
            detail: explain::rustls_error(other),
            stage,
            alert: None,
        }
        .into(),
    }
}

/// A connection the server closed once the handshake was done, without an alert.
fn closed_after_handshake(e: &std::io::Error) -> Cause {
    let how = match e.kind() {
        ErrorKind::ConnectionReset => "reset the connection",
        ErrorKind::UnexpectedEof => "closed the connection without a TLS close_notify",
        ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => "closed the connection",
        _ => "ended the connection",
    };
    Cause::HandshakeFailed {
        detail: format!("the handshake succeeded, then the server {how} before answering"),
        stage: Stage::AfterHandshake,
        alert: None,
    }
}

/// A server that asked for a client certificate and then hung up without an alert (its
/// alert is often lost to the TCP reset) objected to the certificate: missing or sent.
fn hang_up_cause(run: &Run<'_>, detail: &str) -> Option<Cause> {
    if !run.evidence.client_cert_requested {
        return None;
    }
    let acceptable_cas = run.evidence.acceptable_cas.clone();
    let alert = format!("none; the server closed the connection ({detail})");
    if let Some(cause) = run.identity_dates_cause(Some(alert.clone())) {
        return Some(cause);
    }
    Some(match run.evidence.client_cert_sent.clone() {
        None => Cause::ClientCertRequired { acceptable_cas },
        Some(sent) => Cause::ClientCertRejected {
            sent,
            acceptable_cas,
            alert,
        },
    })
}

/// The cause behind an alert the server sent, from what else the handshake showed.
fn alert_cause(run: &mut Run<'_>, alert: AlertDescription) -> Cause {
    let requested = run.evidence.client_cert_requested;
    let sent = run.evidence.client_cert_sent.clone();
    let acceptable_cas = run.evidence.acceptable_cas.clone();
    let alert_text = crate::alert::alert_name(u8::from(alert));
    run.evidence.alerts.push(alert_text.clone());
    let about_client_cert = matches!(
        alert,
        AlertDescription::CertificateRequired
            | AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::AccessDenied
            | AlertDescription::DecryptError
    ) || (requested && alert == AlertDescription::HandshakeFailure);
    if about_client_cert
        && requested
        && let Some(cause) = run.identity_dates_cause(Some(alert_text.clone()))
    {
        return cause;
    }
    match (&sent, about_client_cert && requested) {
        (None, true) => Cause::ClientCertRequired { acceptable_cas },
        (Some(sent), true) => Cause::ClientCertRejected {
            sent: sent.clone(),
            acceptable_cas,
            alert: alert_text,
        },
        _ if alert == AlertDescription::CertificateRequired => {
            Cause::ClientCertRequired { acceptable_cas }
        }
        _ if alert == AlertDescription::UnrecognisedName => Cause::UnrecognizedName {
            sent: run.name.clone(),
            served: run.served_names(),
        },
        _ => match run.version_cause() {
            Some(cause) => cause,
            None if alert == AlertDescription::HandshakeFailure => Cause::NoSharedCipher {
                allowed: run.profile.policy.cipher_suites().map(<[String]>::to_vec),
            },
            None => Cause::HandshakeFailed {
                detail: format!(
                    "the server refused our ClientHello{} with the alert {}",
                    if run.evidence.client_cert_sent.is_some() {
                        " and client certificate"
                    } else {
                        ""
                    },
                    explain::alert_words(alert)
                ),
                stage: Stage::Handshake,
                alert: Some(alert_text),
            },
        },
    }
}

pub(crate) fn printable(bytes: &[u8]) -> String {
    let text: String = bytes
        .iter()
        .take(32)
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '.'
            }
        })
        .collect();
    text.trim_end_matches('.').to_string()
}
