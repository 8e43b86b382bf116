//! The legacy backend: TLS 1.0 and 1.1 through OpenSSL (built from source, vendored), for
//! partners whose servers speak nothing newer.
//!
//! OpenSSL 3 refuses these versions at its default security level, so this backend, and
//! only this backend, lowers it to 0 (`DEFAULT@SECLEVEL=0`) and pins the protocol range to
//! the legacy versions the policy and the server share. It never offers SSL 3.0 (OpenSSL
//! is not built with it) nor TLS 1.2 or newer (rustls does those).
//!
//! The server's certificate is checked by the same rustls/webpki verifier as on the
//! modern path, called from OpenSSL's verify callback with the chain the server sent: one
//! set of trust rules and one diagnosis for both backends.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use openssl::pkey::PKey;
use openssl::ssl::{
    ErrorCode, HandshakeError, Ssl, SslContext, SslMethod, SslRef, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::{X509, X509StoreContext};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::policy::{TlsVersion, VersionSet};
use crate::profile::Profile;
use crate::tap::Tap;

/// OpenSSL reports a received alert as reason `1000 + alert number`.
const ALERT_REASON_OFFSET: i32 = 1000;

/// Why a legacy handshake failed, as evidence for the diagnosis.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server's certificate failed verification.
    Certificate(rustls::Error),
    /// The server sent this alert.
    Alert(u8),
    /// No answer within the handshake timeout.
    Timeout,
    /// The server closed or reset the connection without an alert.
    Closed(String),
    /// None of the policy's cipher suites exists for TLS 1.0/1.1.
    NoUsableCipher,
    /// Anything else OpenSSL reported.
    Other(String),
}

impl Failure {
    /// In words, for errors outside the diagnosis.
    pub(crate) fn describe(&self) -> String {
        match self {
            Failure::Certificate(e) => format!(
                "the server certificate was refused: {}",
                crate::explain::rustls_error(e)
            ),
            Failure::Alert(a) => format!("the server sent alert {}", crate::alert::alert_name(*a)),
            Failure::Timeout => "no answer within the handshake timeout".into(),
            Failure::Closed(detail) => detail.clone(),
            Failure::NoUsableCipher => {
                "none of the policy's cipher suites exists for TLS 1.0/1.1".into()
            }
            Failure::Other(detail) => detail.clone(),
        }
    }
}

/// The bytes the server sent that are kept for evidence: enough for its clear-text
/// handshake flight.
const TAP_LIMIT: usize = 64 * 1024;

/// What one legacy handshake attempt gave: the session or why not, and whether the
/// server asked for a client certificate (the CA names it accepts).
pub(crate) struct Attempt {
    /// The session, or the failure.
    pub result: Result<Session, Failure>,
    /// The CertificateRequest's CA names, when the server sent one.
    pub requested: Option<Vec<String>>,
}

/// An established legacy connection.
pub(crate) struct Session {
    /// The stream, for the HTTP request.
    pub stream: SslStream<Tap>,
    /// The version negotiated.
    pub version: TlsVersion,
    /// The cipher suite, IANA name.
    pub cipher: String,
    /// The ALPN protocol, if any.
    pub alpn: Option<String>,
}

/// Shakes hands over `tcp` with TLS 1.0/1.1 from `versions`, checking the server with
/// `verifier` against `name`.
pub(crate) fn connect(
    tcp: TcpStream,
    profile: &Profile,
    name: &str,
    versions: VersionSet,
    verifier: Arc<dyn ServerCertVerifier>,
    http: bool,
) -> Attempt {
    // OpenSSL's safe API does not hand over the CertificateRequest: read it from the
    // clear-text flight.
    let tap = Tap::new(tcp, TAP_LIMIT);
    let recorded = tap.recorded();
    let result = handshake(tap, profile, name, versions, verifier, http);
    Attempt {
        result,
        requested: crate::probe::certificate_request(&recorded.bytes()),
    }
}

fn handshake(
    tcp: Tap,
    profile: &Profile,
    name: &str,
    versions: VersionSet,
    verifier: Arc<dyn ServerCertVerifier>,
    http: bool,
) -> Result<Session, Failure> {
    let alpn: &[u8] = if http { b"\x08http/1.1" } else { b"" };
    let ctx = context(profile, versions, alpn)?;
    let (ssl, rejected) = client(&ctx, name, verifier)?;
    match ssl.connect(tcp) {
        Ok(stream) => {
            let (version, cipher, alpn) = negotiated(stream.ssl());
            Ok(Session {
                stream,
                version,
                cipher,
                alpn,
            })
        }
        Err(HandshakeError::SetupFailure(e)) => Err(Failure::Other(e.to_string())),
        Err(HandshakeError::WouldBlock(_)) => Err(Failure::Timeout),
        Err(HandshakeError::Failure(mid)) => Err(failure(mid.error(), &rejected)),
    }
}

/// The verdict of keyway's verifier on one connection, kept when it refused the chain.
pub(crate) type Rejected = Arc<Mutex<Option<rustls::Error>>>;

/// An OpenSSL client context for `versions` (TLS 1.0/1.1 only) with the profile's
/// cipher suites and client identity. Certificates are checked per connection
/// ([`client`]), so one context serves many connections.
pub(crate) fn context(
    profile: &Profile,
    versions: VersionSet,
    alpn_wire: &[u8],
) -> Result<SslContext, Failure> {
    let legacy = versions.intersection(VersionSet::range(TlsVersion::Tls10, TlsVersion::Tls11));
    let (Some(low), Some(high)) = (legacy.lowest(), legacy.highest()) else {
        return Err(Failure::Other(
            "the legacy backend serves only TLS 1.0 and 1.1".into(),
        ));
    };
    let other = |e: openssl::error::ErrorStack| Failure::Other(e.to_string());
    let mut ctx = SslContext::builder(SslMethod::tls_client()).map_err(other)?;
    ctx.set_min_proto_version(Some(openssl_version(low)))
        .map_err(other)?;
    ctx.set_max_proto_version(Some(openssl_version(high)))
        .map_err(other)?;
    // OpenSSL accepts IANA names in cipher strings; @SECLEVEL=0 lets SHA-1 signatures
    // and the old suites these versions need through.
    let ciphers = match profile.policy.cipher_suites() {
        Some(names) => format!("{}:@SECLEVEL=0", names.join(":")),
        None => "DEFAULT@SECLEVEL=0".to_string(),
    };
    ctx.set_cipher_list(&ciphers)
        .map_err(|_| Failure::NoUsableCipher)?;
    if !alpn_wire.is_empty() {
        ctx.set_alpn_protos(alpn_wire).map_err(other)?;
    }
    if let Some(identity) = &profile.identity {
        let (leaf, rest) = identity
            .chain
            .split_first()
            .ok_or_else(|| Failure::Other("the client identity has no certificate".into()))?;
        let leaf = X509::from_der(leaf.der()).map_err(other)?;
        ctx.set_certificate(&leaf).map_err(other)?;
        for cert in rest {
            ctx.add_extra_chain_cert(X509::from_der(cert.der()).map_err(other)?)
                .map_err(other)?;
        }
        let key = PKey::private_key_from_der(identity.key.pkcs8_der()).map_err(other)?;
        ctx.set_private_key(&key).map_err(other)?;
    }
    Ok(ctx.build())
}

/// One client connection's `Ssl` for `name`: SNI set, and the server's chain checked by
/// `verifier` (keyway's rules, as on the rustls path) instead of OpenSSL's.
pub(crate) fn client(
    ctx: &SslContext,
    name: &str,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<(Ssl, Rejected), Failure> {
    let other = |e: openssl::error::ErrorStack| Failure::Other(e.to_string());
    let rejected: Rejected = Arc::default();
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| Failure::Other(format!("\"{name}\" is not a valid server name")))?;
    let mut ssl = Ssl::new(ctx).map_err(other)?;
    {
        let rejected = rejected.clone();
        let verdict: Mutex<Option<bool>> = Mutex::new(None);
        // Called once per certificate depth; the first call decides for the whole chain.
        ssl.set_verify_callback(SslVerifyMode::PEER, move |_openssl_ok, store| {
            let mut verdict = verdict.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(v) = *verdict {
                return v;
            }
            let chain: Vec<CertificateDer<'static>> = X509StoreContext::ssl_idx()
                .ok()
                .and_then(|idx| store.ex_data(idx))
                .and_then(|ssl| ssl.peer_cert_chain())
                .map(|certs| {
                    certs
                        .iter()
                        .filter_map(|c| c.to_der().ok())
                        .map(CertificateDer::from)
                        .collect()
                })
                .unwrap_or_default();
            let ok = match chain.split_first() {
                Some((leaf, intermediates)) => match verifier.verify_server_cert(
                    leaf,
                    intermediates,
                    &server_name,
                    &[],
                    UnixTime::now(),
                ) {
                    Ok(_) => true,
                    Err(e) => {
                        *rejected.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                        false
                    }
                },
                None => false,
            };
            *verdict = Some(ok);
            ok
        });
    }
    if name.parse::<std::net::IpAddr>().is_err() {
        ssl.set_hostname(name).map_err(other)?;
    }
    Ok((ssl, rejected))
}

/// Version, cipher suite (IANA name) and ALPN protocol of an established connection.
pub(crate) fn negotiated(ssl: &SslRef) -> (TlsVersion, String, Option<String>) {
    let version = match ssl.version2() {
        Some(v) if v == SslVersion::TLS1 => TlsVersion::Tls10,
        _ => TlsVersion::Tls11,
    };
    let cipher = ssl
        .current_cipher()
        .map(|c| c.standard_name().unwrap_or(c.name()).to_string())
        .unwrap_or_else(|| "unknown".into());
    let alpn = ssl
        .selected_alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    (version, cipher, alpn)
}

/// Why a handshake failed: keyway's verifier's refusal, an alert, a timeout or a close.
pub(crate) fn failure(error: &openssl::ssl::Error, rejected: &Rejected) -> Failure {
    if let Some(e) = rejected.lock().unwrap_or_else(|e| e.into_inner()).take() {
        return Failure::Certificate(e);
    }
    if let Some(alert) = error.ssl_error().and_then(|stack| {
        stack.errors().iter().find_map(|e| {
            let reason = e.reason_code() - ALERT_REASON_OFFSET;
            u8::try_from(reason).ok().filter(|_| reason > 0)
        })
    }) {
        return Failure::Alert(alert);
    }
    match error.io_error() {
        Some(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Failure::Timeout
        }
        Some(io) => Failure::Closed(io.to_string()),
        None if error.code() == ErrorCode::SYSCALL || error.code() == ErrorCode::ZERO_RETURN => {
            Failure::Closed("the server closed the connection".into())
        }
        None => Failure::Other(error.to_string()),
    }
}

fn openssl_version(v: TlsVersion) -> SslVersion {
    match v {
        TlsVersion::Ssl3 | TlsVersion::Tls10 => SslVersion::TLS1,
        TlsVersion::Tls11 => SslVersion::TLS1_1,
        TlsVersion::Tls12 => SslVersion::TLS1_2,
        TlsVersion::Tls13 => SslVersion::TLS1_3,
    }
}
