//! The result of a connectivity test: what was negotiated, or the one cause that blocked
//! the connection, with its evidence and the fix. Codes are a contract; texts may improve.

use keyway_keystore::CertInfo;
use serde::Serialize;

use crate::policy::{TlsVersion, VersionSet};
use crate::probe::ProbeReport;

/// Whose side a failure is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blame {
    /// Our configuration: truststore, client identity, policy.
    LocalConfig,
    /// The partner's server or its configuration.
    Partner,
    /// Between us: name resolution, routing, firewalls.
    Network,
}

impl std::fmt::Display for Blame {
    /// Whose side the fix is on, in words: "our configuration", "the partner's side",
    /// "the network".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Blame::LocalConfig => "our configuration",
            Blame::Partner => "the partner's side",
            Blame::Network => "the network",
        })
    }
}

/// Why a connection failed.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cause {
    /// The host name does not resolve.
    DnsFailure {
        /// The host.
        host: String,
        /// The resolver's answer.
        error: String,
    },
    /// Nothing listens on the port (TCP reset on connect).
    ConnectionRefused {
        /// The address.
        address: String,
    },
    /// The TCP connection was not accepted in time (filtered, or the host is down).
    ConnectTimeout {
        /// The address.
        address: String,
        /// The timeout, in milliseconds.
        timeout_ms: u64,
    },
    /// TCP was accepted but the TLS handshake got no answer in time.
    HandshakeTimeout {
        /// The timeout, in milliseconds.
        timeout_ms: u64,
    },
    /// The server closed the connection right after our ClientHello, and the probe does not explain why.
    ClosedAfterHello,
    /// The server does not speak TLS on this port.
    NotTls {
        /// What it sent instead.
        first_bytes: String,
    },
    /// The server speaks no version the policy allows.
    VersionMismatch {
        /// What the policy allows.
        allowed: VersionSet,
        /// What the server speaks.
        server: VersionSet,
    },
    /// The server speaks only SSL 3.0, which keyway never negotiates.
    Ssl3Only,
    /// Versions agree but no cipher suite does.
    NoSharedCipher {
        /// The suites the policy allows, if restricted.
        allowed: Option<Vec<String>>,
    },
    /// The chain leads to a root CA that no truststore holds.
    UntrustedRoot {
        /// The root's name.
        root_subject: String,
        /// The root itself, when the server sent it (most servers do not).
        root: Option<CertInfo>,
        /// The truststores consulted.
        truststores: Vec<String>,
    },
    /// The server did not send an intermediate needed to reach a trusted root.
    IncompleteChain {
        /// The last certificate sent.
        last: CertInfo,
        /// The issuer it names, which was not sent and is not trusted.
        missing_issuer: String,
    },
    /// The server presents a self-signed certificate that is not trusted.
    SelfSigned {
        /// The certificate.
        cert: CertInfo,
        /// The truststores consulted.
        truststores: Vec<String>,
    },
    /// The server presents a CA certificate as its own (end-entity) certificate.
    CaAsServerCertificate {
        /// The certificate.
        cert: CertInfo,
    },
    /// A certificate in the server's chain has expired.
    CertificateExpired {
        /// The certificate.
        cert: CertInfo,
    },
    /// A certificate in the server's chain is not valid yet.
    CertificateNotYetValid {
        /// The certificate.
        cert: CertInfo,
    },
    /// The server's certificate has a key too weak for TLS today (RSA under 2048 bits,
    /// EC under 256, DSA).
    WeakServerKey {
        /// The certificate.
        cert: CertInfo,
        /// What is weak about the key.
        detail: String,
    },
    /// A certificate in the server's chain breaks RFC 5280 in a way keyway refuses
    /// (serial number 0 or longer than 20 octets, a leaf that may sign certificates).
    MalformedCertificate {
        /// The certificate's subject.
        subject: String,
        /// What is wrong.
        detail: String,
    },
    /// The trust anchor the chain leads to cannot be relied on: it expired, is not a CA,
    /// or has a malformed key.
    TrustAnchorUnusable {
        /// The anchor.
        anchor: CertInfo,
        /// The truststore it came from.
        store: String,
        /// Its alias there, when the truststore is a file with aliases.
        alias: Option<String>,
        /// What is wrong with it.
        detail: String,
    },
    /// The certificate is not valid for the name requested.
    HostnameMismatch {
        /// The name keyway checked.
        requested: String,
        /// The names the certificate is valid for.
        presented: Vec<String>,
    },
    /// The server requires a client certificate and the profile has none.
    ClientCertRequired {
        /// The CA names the server accepts.
        acceptable_cas: Vec<String>,
    },
    /// The server rejected the client certificate keyway sent.
    ClientCertRejected {
        /// What was sent.
        sent: CertInfo,
        /// The CA names the server accepts.
        acceptable_cas: Vec<String>,
        /// The server's alert.
        alert: String,
    },
    /// A certificate of the server's chain is signed with an algorithm keyway refuses
    /// (SHA-1, MD5) or does not support, or with one its issuer's key cannot verify.
    UnsupportedSignatureAlgorithm {
        /// The certificate whose signature is refused.
        cert: CertInfo,
        /// The algorithm, by name and OID (e.g. `sha1WithRSAEncryption (1.2.840.113549.1.1.5)`).
        algorithm: String,
        /// Why keyway refuses it.
        reason: String,
    },
    /// The server's certificate is not issued for server authentication (its extended
    /// key usage lacks serverAuth).
    WrongCertificatePurpose {
        /// The certificate.
        cert: CertInfo,
        /// The purpose needed: `serverAuth`.
        required: String,
        /// The purposes it has.
        presented: Vec<String>,
    },
    /// The server refused the name keyway sent in SNI (a fatal `unrecognized_name` alert).
    UnrecognizedName {
        /// The name sent.
        sent: String,
        /// The names the server's default certificate is valid for, from a handshake
        /// without SNI (empty when that did not show them).
        served: Vec<String>,
    },
    /// The client certificate the connector presents has expired; the server asked for
    /// it and refused it (or would have).
    ClientCertExpired {
        /// The certificate.
        cert: CertInfo,
        /// Its alias.
        alias: String,
        /// The keystore it comes from.
        keystore: String,
        /// The server's alert, if it sent one.
        alert: Option<String>,
    },
    /// The client certificate the connector presents is not valid yet.
    ClientCertNotYetValid {
        /// The certificate.
        cert: CertInfo,
        /// Its alias.
        alias: String,
        /// The keystore it comes from.
        keystore: String,
        /// The server's alert, if it sent one.
        alert: Option<String>,
    },
    /// The handshake failed for a reason keyway cannot narrow down further.
    HandshakeFailed {
        /// What was observed, in words.
        detail: String,
        /// When it happened: `connecting`, `handshake` or `after_handshake`.
        stage: Stage,
        /// The alert the server sent, if any.
        alert: Option<String>,
    },
    /// TLS works; the server wants credentials for this URL (HTTP 401).
    HttpUnauthorized {
        /// The URL path requested.
        path: String,
        /// The `WWW-Authenticate` challenge, e.g. `Basic realm="partner-api"`.
        challenge: Option<String>,
    },
    /// The outbound proxy cannot be reached, or does not answer CONNECT like an HTTP
    /// proxy.
    ProxyUnreachable {
        /// The proxy, `http://[user@]host:port`.
        proxy: String,
        /// Where it is set.
        source: String,
        /// Its address, when it resolved.
        address: Option<String>,
        /// What happened.
        detail: String,
        /// The timeout that ran out, in milliseconds.
        timeout_ms: Option<u64>,
    },
    /// The proxy asks for authentication (407): none is configured, or it refused ours.
    ProxyAuthRequired {
        /// The proxy.
        proxy: String,
        /// Where it is set.
        source: String,
        /// What the proxy asks for (`Proxy-Authenticate`), e.g. `Basic realm="corp"`.
        scheme: Option<String>,
        /// Whether credentials were sent.
        credentials_sent: bool,
    },
    /// The proxy refused to open a tunnel to the destination (403, 5xx, …).
    ProxyRefused {
        /// The proxy.
        proxy: String,
        /// `host:port` asked for.
        destination: String,
        /// The proxy's status.
        status: u16,
        /// Its reason phrase.
        reason: String,
        /// The start of its answer's text.
        excerpt: String,
    },
    /// The proxy closed the connection: before answering CONNECT, or (tunnel
    /// established) right after our ClientHello with nothing from the partner.
    ProxyClosed {
        /// The proxy.
        proxy: String,
        /// `host:port` asked for.
        destination: String,
        /// Whether the proxy had opened the tunnel.
        tunnel_established: bool,
    },
    /// Through a proxy, the chain presented for the partner ends in a CA no truststore
    /// holds: the proxy may be inspecting TLS, answering with its own certificate.
    ProxyInterception {
        /// The proxy.
        proxy: String,
        /// `host:port` asked for.
        destination: String,
        /// The CA the presented chain ends in (the top certificate's issuer).
        issuer: String,
        /// That CA's certificate, when it was presented.
        issuer_cert: Option<CertInfo>,
        /// The truststores consulted.
        truststores: Vec<String>,
    },
    /// TLS works; the server answered the test request with an HTTP error.
    HttpError {
        /// The URL path requested.
        path: String,
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
        /// The start of the response body, printable characters only.
        excerpt: String,
    },
}

impl Cause {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Cause::DnsFailure { .. } => "dns_failure",
            Cause::ConnectionRefused { .. } => "connection_refused",
            Cause::ConnectTimeout { .. } => "connect_timeout",
            Cause::HandshakeTimeout { .. } => "handshake_timeout",
            Cause::ClosedAfterHello => "closed_after_hello",
            Cause::NotTls { .. } => "not_tls",
            Cause::VersionMismatch { .. } => "version_mismatch",
            Cause::Ssl3Only => "ssl3_only",
            Cause::NoSharedCipher { .. } => "no_shared_cipher",
            Cause::UntrustedRoot { .. } => "untrusted_root",
            Cause::IncompleteChain { .. } => "incomplete_chain",
            Cause::SelfSigned { .. } => "self_signed",
            Cause::CaAsServerCertificate { .. } => "ca_as_server_certificate",
            Cause::CertificateExpired { .. } => "certificate_expired",
            Cause::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            Cause::WeakServerKey { .. } => "weak_server_key",
            Cause::MalformedCertificate { .. } => "malformed_certificate",
            Cause::TrustAnchorUnusable { .. } => "trust_anchor_unusable",
            Cause::HostnameMismatch { .. } => "hostname_mismatch",
            Cause::ClientCertRequired { .. } => "client_cert_required",
            Cause::ClientCertRejected { .. } => "client_cert_rejected",
            Cause::UnsupportedSignatureAlgorithm { .. } => "unsupported_signature_algorithm",
            Cause::WrongCertificatePurpose { .. } => "wrong_certificate_purpose",
            Cause::UnrecognizedName { .. } => "unrecognized_name",
            Cause::ClientCertExpired { .. } => "client_cert_expired",
            Cause::ClientCertNotYetValid { .. } => "client_cert_not_yet_valid",
            Cause::HandshakeFailed { .. } => "handshake_failed",
            Cause::HttpUnauthorized { .. } => "http_unauthorized",
            Cause::HttpError { .. } => "http_error",
            Cause::ProxyUnreachable { .. } => "proxy_unreachable",
            Cause::ProxyAuthRequired { .. } => "proxy_auth_required",
            Cause::ProxyRefused { .. } => "proxy_refused",
            Cause::ProxyClosed { .. } => "proxy_closed",
            Cause::ProxyInterception { .. } => "proxy_interception",
        }
    }

    /// Whose side it is on.
    pub fn blame(&self) -> Blame {
        match self {
            Cause::DnsFailure { .. }
            | Cause::ConnectTimeout { .. }
            | Cause::HandshakeTimeout { .. }
            | Cause::ProxyUnreachable { .. }
            | Cause::ProxyRefused { .. }
            | Cause::ProxyClosed { .. }
            | Cause::ProxyInterception { .. } => Blame::Network,
            Cause::ConnectionRefused { .. }
            | Cause::ClosedAfterHello
            | Cause::NotTls { .. }
            | Cause::Ssl3Only
            | Cause::IncompleteChain { .. }
            | Cause::CaAsServerCertificate { .. }
            | Cause::CertificateExpired { .. }
            | Cause::CertificateNotYetValid { .. }
            | Cause::HostnameMismatch { .. }
            | Cause::WeakServerKey { .. }
            | Cause::MalformedCertificate { .. }
            | Cause::UnsupportedSignatureAlgorithm { .. }
            | Cause::WrongCertificatePurpose { .. }
            | Cause::HandshakeFailed { .. } => Blame::Partner,
            Cause::VersionMismatch { .. }
            | Cause::TrustAnchorUnusable { .. }
            | Cause::NoSharedCipher { .. }
            | Cause::UntrustedRoot { .. }
            | Cause::SelfSigned { .. }
            | Cause::ClientCertRequired { .. }
            | Cause::ClientCertRejected { .. }
            | Cause::ClientCertExpired { .. }
            | Cause::ClientCertNotYetValid { .. }
            | Cause::UnrecognizedName { .. }
            | Cause::HttpUnauthorized { .. }
            | Cause::ProxyAuthRequired { .. } => Blame::LocalConfig,
            Cause::HttpError { status, .. } if *status < 500 => Blame::LocalConfig,
            Cause::HttpError { .. } => Blame::Partner,
        }
    }

    /// One line saying what happened.
    pub fn summary(&self) -> String {
        match self {
            Cause::DnsFailure { host, error } => {
                format!("the host name {host} does not resolve ({error})")
            }
            Cause::ConnectionRefused { address } => {
                format!("nothing accepts connections on {address} (connection refused)")
            }
            Cause::ConnectTimeout {
                address,
                timeout_ms,
            } => {
                format!(
                    "no TCP connection to {address} within {timeout_ms} ms (filtered by a firewall, or the host is down)"
                )
            }
            Cause::HandshakeTimeout { timeout_ms } => {
                format!(
                    "the server accepted the TCP connection but did not answer the TLS handshake within {timeout_ms} ms"
                )
            }
            Cause::ClosedAfterHello => {
                "the server closed the connection right after our ClientHello".to_string()
            }
            Cause::NotTls { first_bytes } => {
                format!("the server does not speak TLS on this port: it sent {first_bytes}")
            }
            Cause::VersionMismatch { allowed, server } => {
                format!(
                    "version mismatch: the server speaks {server}, the connector's policy allows {allowed}"
                )
            }
            Cause::Ssl3Only => {
                "the server speaks only SSL 3.0, which is broken (RFC 7568) and never negotiated"
                    .to_string()
            }
            Cause::NoSharedCipher { .. } => {
                "the server and the connector share a TLS version but no cipher suite".to_string()
            }
            Cause::UntrustedRoot { root_subject, .. } => {
                format!(
                    "the server's chain leads to the root CA {root_subject}, which no truststore of this connector trusts"
                )
            }
            Cause::IncompleteChain {
                last,
                missing_issuer,
            } => format!(
                "the server's chain is incomplete: it ends at {} and does not send its issuer {missing_issuer}",
                last.subject
            ),
            Cause::SelfSigned { cert, .. } => format!(
                "the server presents a self-signed certificate, {}, that is not trusted",
                cert.subject
            ),
            Cause::CaAsServerCertificate { cert } => format!(
                "the server presents {}, a CA certificate (basic constraints CA:TRUE), as its own certificate",
                cert.subject
            ),
            Cause::CertificateExpired { cert } => {
                format!(
                    "the server's certificate {} expired on {}",
                    cert.subject,
                    cert.not_after.date()
                )
            }
            Cause::CertificateNotYetValid { cert } => {
                format!(
                    "the server's certificate {} is not valid until {}",
                    cert.subject,
                    cert.not_before.date()
                )
            }
            Cause::WeakServerKey { cert, detail } => format!(
                "the server's certificate {} has {detail}, which keyway refuses",
                cert.subject
            ),
            Cause::MalformedCertificate { subject, detail } => {
                format!("the server's chain is malformed: {subject} {detail}")
            }
            Cause::TrustAnchorUnusable {
                anchor,
                store,
                detail,
                ..
            } => format!(
                "the chain leads to the trust anchor {} from {store}, which {detail}",
                anchor.subject
            ),
            Cause::HostnameMismatch {
                requested,
                presented,
            } => format!(
                "the certificate is not valid for {requested}; it is valid for {}",
                if presented.is_empty() {
                    "no names".to_string()
                } else {
                    presented.join(", ")
                }
            ),
            Cause::ClientCertRequired { .. } => {
                "the server requires a client certificate (two-way TLS) and the connector has none"
                    .to_string()
            }
            Cause::ClientCertRejected { sent, alert, .. } => {
                format!(
                    "the server rejected our client certificate {} ({alert})",
                    sent.subject
                )
            }
            Cause::UnsupportedSignatureAlgorithm {
                cert, algorithm, ..
            } => format!(
                "the server's certificate {} is signed with {algorithm}, which keyway refuses",
                cert.subject
            ),
            Cause::WrongCertificatePurpose {
                cert,
                required,
                presented,
            } => format!(
                "the server's certificate {} is not issued for {required} (its extended key usage allows {})",
                cert.subject,
                if presented.is_empty() {
                    "nothing".to_string()
                } else {
                    presented.join(", ")
                }
            ),
            Cause::UnrecognizedName { sent, served } => format!(
                "the server does not serve the name {sent} that keyway sent (SNI) and refused the handshake (unrecognized_name){}",
                if served.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; without SNI it presents a certificate for {}",
                        served.join(", ")
                    )
                }
            ),
            Cause::ClientCertExpired {
                cert,
                alias,
                keystore,
                alert,
            } => format!(
                "our client certificate {} (alias \"{alias}\" in {keystore}) expired on {}{}",
                cert.subject,
                cert.not_after.date(),
                refused_with(alert)
            ),
            Cause::ClientCertNotYetValid {
                cert,
                alias,
                keystore,
                alert,
            } => format!(
                "our client certificate {} (alias \"{alias}\" in {keystore}) is not valid until {}{}",
                cert.subject,
                cert.not_before.date(),
                refused_with(alert)
            ),
            Cause::HandshakeFailed { detail, stage, .. } => {
                format!("the TLS connection failed {}: {detail}", stage.words())
            }
            Cause::HttpUnauthorized { path, challenge } => format!(
                "TLS works, but the server answered GET {path} with 401 Unauthorized{}",
                challenge
                    .as_ref()
                    .map(|c| format!(" and asks for {c}"))
                    .unwrap_or_default()
            ),
            Cause::ProxyUnreachable { proxy, detail, .. } => {
                format!("the proxy {proxy} cannot be reached: {detail}")
            }
            Cause::ProxyAuthRequired {
                proxy,
                scheme,
                credentials_sent,
                ..
            } => {
                let asks = scheme
                    .as_deref()
                    .map(|s| format!("; it asks for {s}"))
                    .unwrap_or_default();
                if *credentials_sent {
                    format!(
                        "the proxy {proxy} refused our credentials (407 Proxy Authentication Required{asks})"
                    )
                } else {
                    format!(
                        "the proxy {proxy} requires authentication (407 Proxy Authentication Required{asks}) and none is configured"
                    )
                }
            }
            Cause::ProxyRefused {
                proxy,
                destination,
                status,
                reason,
                ..
            } => format!(
                "the proxy {proxy} refused to open a tunnel to {destination}: HTTP {status} {reason}"
            ),
            Cause::ProxyClosed {
                proxy,
                destination,
                tunnel_established: false,
            } => format!(
                "the proxy {proxy} closed the connection without answering CONNECT {destination}"
            ),
            Cause::ProxyClosed {
                proxy, destination, ..
            } => format!(
                "the proxy {proxy} opened the tunnel to {destination}, then the connection was closed right after our ClientHello with nothing from the partner"
            ),
            Cause::ProxyInterception {
                proxy,
                destination,
                issuer,
                ..
            } => format!(
                "the certificate presented for {destination} through the proxy {proxy} is issued by {issuer}, which no truststore of this connector trusts: the proxy may be inspecting TLS (answering with its own certificate)"
            ),
            Cause::HttpError {
                path,
                status,
                reason,
                ..
            } => {
                format!("TLS works, but the server answered GET {path} with HTTP {status} {reason}")
            }
        }
    }

    /// Concrete steps, naming the store, subject and fingerprint involved.
    pub fn remediation(&self) -> Vec<String> {
        let import = |cert: &CertInfo, stores: &[String]| {
            format!(
                "import {} (SHA-256 {}) into the truststore {} after checking that fingerprint with the partner: keyway keystore import-cert STORE --alias ALIAS --cert FILE",
                cert.subject,
                cert.sha256,
                stores
                    .first()
                    .map(String::as_str)
                    .unwrap_or("of this connector")
            )
        };
        match self {
            Cause::DnsFailure { host, .. } => vec![
                format!("check the spelling of {host} and that this machine's DNS can resolve it (nslookup {host})"),
                "if the partner gave an IP address, use it with --servername set to the certificate's name".into(),
            ],
            Cause::ConnectionRefused { address } => vec![
                format!("check the port: is the partner's service listening on {address}?"),
                "ask the partner whether the endpoint moved or is down".into(),
            ],
            Cause::ConnectTimeout { .. } => vec![
                "ask your network team to open the firewall from this host to the partner's address and port".into(),
                "ask the partner whether your outgoing IP address must be allow-listed".into(),
            ],
            Cause::HandshakeTimeout { .. } => vec![
                "a proxy or load balancer may be holding the connection: check with the partner".into(),
                "try `keyway probe HOST:PORT` to see whether any TLS version gets an answer".into(),
            ],
            Cause::ClosedAfterHello => vec![
                "the server or a middlebox rejects our ClientHello without saying why: run `keyway probe HOST:PORT` and send the partner its output".into(),
            ],
            Cause::NotTls { .. } => vec![
                "check the URL: this port may serve plain HTTP (use http://) or another protocol".into(),
            ],
            Cause::VersionMismatch { allowed, server } => {
                let mut steps = vec![format!("ask the partner to enable {allowed} on the server (it offers only {server})")];
                if let Some(best) = server.highest().filter(|v| *v >= TlsVersion::Tls10) {
                    steps.push(format!(
                        "or, only if the partner cannot move, set the connector's lowest allowable version to {} (deprecated: RFC 8996)",
                        best
                    ));
                }
                steps
            }
            Cause::Ssl3Only => vec!["the partner must enable TLS 1.2 or newer; SSL 3.0 cannot be made safe".into()],
            Cause::NoSharedCipher { allowed } => match allowed {
                Some(_) => vec!["widen the connector's cipher-suite list, or remove it to use the defaults".into()],
                None => vec!["ask the partner which cipher suites the server accepts; it refuses every modern suite keyway offers".into()],
            },
            Cause::UntrustedRoot { root: Some(root), truststores, .. } => vec![import(root, truststores)],
            Cause::UntrustedRoot { root_subject, root: None, truststores } => vec![format!(
                "obtain the root CA certificate {root_subject} from the partner, check its SHA-256 fingerprint with them, and import it into the truststore {}: keyway keystore import-cert STORE --alias ALIAS --cert FILE",
                truststores.first().map(String::as_str).unwrap_or("of this connector")
            )],
            Cause::IncompleteChain { missing_issuer, .. } => vec![
                format!("ask the partner to configure the server to send its intermediate certificate ({missing_issuer})"),
                "meanwhile, importing that intermediate into the truststore also works".into(),
            ],
            Cause::SelfSigned { cert, truststores } => vec![
                import(cert, truststores),
                "or ask the partner for a certificate from a CA you already trust".into(),
            ],
            Cause::CaAsServerCertificate { cert } => vec![format!(
                "ask the partner to install a server certificate (CA:FALSE, extended key usage serverAuth) instead of {} (SHA-256 {})",
                cert.subject, cert.sha256
            )],
            Cause::CertificateExpired { cert } => {
                vec![format!("ask the partner to renew {} (SHA-256 {})", cert.subject, cert.sha256)]
            }
            Cause::CertificateNotYetValid { cert } => vec![
                format!("check this machine's clock; if it is right, the partner installed {} too early", cert.subject),
            ],
            Cause::WeakServerKey { cert, .. } => vec![
                format!(
                    "ask the partner to replace {} (SHA-256 {}) with a certificate for an RSA key of 2048 bits or more, or an ECDSA P-256 key",
                    cert.subject, cert.sha256
                ),
                "--insecure connects anyway for a one-off test; do not use it in production".into(),
            ],
            Cause::MalformedCertificate { subject, .. } => vec![format!(
                "ask the partner to have {subject} reissued by its CA: RFC 5280 forbids what this certificate does"
            )],
            Cause::TrustAnchorUnusable {
                anchor,
                store,
                alias: Some(alias),
                ..
            } => vec![
                format!(
                    "get the CA's current root certificate for {} from the partner and check its SHA-256 with them",
                    anchor.subject
                ),
                format!(
                    "replace the old one (SHA-256 {}) in {store}: `keyway keystore delete {store} --alias {alias}`, then `keyway keystore import-cert {store} --alias {alias} --cert new-root.pem` (a JKS or PKCS#12 truststore: add --storepass)",
                    anchor.sha256
                ),
            ],
            Cause::TrustAnchorUnusable { anchor, store, .. } => vec![format!(
                "replace {} (SHA-256 {}) in {store} with the CA's current root certificate, checking its fingerprint with the partner",
                anchor.subject, anchor.sha256
            )],
            Cause::HostnameMismatch { presented, .. } => {
                let mut steps = vec!["use the host name the certificate is issued for in the connector's URL".to_string()];
                if let Some(name) = presented.first() {
                    steps.push(format!("or set --servername {name} if you connect by IP address or an alias"));
                }
                steps
            }
            Cause::ClientCertRequired { acceptable_cas } => vec![format!(
                "configure a client certificate (--keystore, --alias) issued by {}",
                if acceptable_cas.is_empty() { "a CA the partner accepts".to_string() } else { acceptable_cas.join(" or ") }
            )],
            Cause::ClientCertRejected { sent, acceptable_cas, .. } => vec![format!(
                "the partner must trust {} (issued by {}); it accepts certificates from {}",
                sent.subject,
                sent.issuer,
                if acceptable_cas.is_empty() { "CAs it did not name".to_string() } else { acceptable_cas.join(", ") }
            )],
            Cause::UnsupportedSignatureAlgorithm { cert, algorithm, reason } => vec![
                format!(
                    "ask the partner to have {} (SHA-256 {}) reissued with a SHA-256 signature (sha256WithRSAEncryption or ecdsa-with-SHA256) instead of {algorithm}: {reason}",
                    cert.subject, cert.sha256
                ),
                "--insecure connects anyway for a one-off test; do not use it in production".into(),
            ],
            Cause::WrongCertificatePurpose { cert, required, .. } => vec![format!(
                "ask the partner to install a server certificate whose extended key usage includes {required} instead of {} (SHA-256 {})",
                cert.subject, cert.sha256
            )],
            Cause::UnrecognizedName { sent, served } => match served.first() {
                Some(name) => vec![
                    format!(
                        "connect with the name the server serves: `keyway test … --servername {name}`; for a connector, use https://{name}/… as its URL or set server_name = \"{name}\" in its TLS profile (keyway.toml)"
                    ),
                    format!("or ask the partner to serve {sent} (a virtual host or certificate for that name)"),
                ],
                None => vec![
                    format!(
                        "ask the partner which host name the server expects in SNI and use it: `keyway test … --servername NAME`, or the connector's URL host / its TLS profile's server_name"
                    ),
                    format!("or ask the partner to serve {sent} (a virtual host or certificate for that name)"),
                ],
            },
            Cause::ClientCertExpired { cert, alias, keystore, .. } => vec![
                format!(
                    "renew the client certificate {} (issued by {}) and replace alias \"{alias}\" in {keystore} with the new one",
                    cert.subject, cert.issuer
                ),
                "if keyway's CA issued it: `keyway user cert issue USER` (or `keyway ca issue --profile client --subject \"SUBJECT\"`); if an outside CA did: `keyway csr create --key KEY --subject \"SUBJECT\" --out renew.csr`, send it to that CA, then `keyway keystore import-key KEYSTORE --alias ALIAS --key KEY --cert signed.pem` (a keystore kept in keyway's store: `keyway identity add NAME new.p12 --replace`)".into(),
                "then send the partner the new certificate if they pin it".into(),
            ],
            Cause::ClientCertNotYetValid { cert, alias, keystore, .. } => vec![
                format!(
                    "check this machine's clock; if it is right, alias \"{alias}\" in {keystore} holds a certificate that starts on {}: keep the previous certificate until then",
                    cert.not_before.date()
                ),
            ],
            Cause::HandshakeFailed { stage, alert, .. } => {
                let mut steps = Vec::new();
                if let Some(alert) = alert {
                    steps.push(format!(
                        "the server refused with {alert}: ask the partner what its server log says about this connection (time and our address) — the log names the reason the alert leaves out"
                    ));
                }
                match stage {
                    Stage::Connecting => steps.push("check the route and firewall between this host and the partner".into()),
                    Stage::Handshake => steps.push("run `keyway probe HOST:PORT` to see which versions and cipher suites the server accepts, and send its output to the partner".into()),
                    Stage::AfterHandshake => steps.push("TLS itself worked: the server closed the connection after it, often because of what it expects over it (a client certificate it checks late, a request format); ask the partner".into()),
                }
                steps
            }
            Cause::HttpUnauthorized { challenge, .. } => {
                let scheme = challenge
                    .as_deref()
                    .and_then(|c| c.split_whitespace().next())
                    .unwrap_or("the scheme the partner names");
                vec![
                    format!("configure the connector's credentials ({scheme} authentication) as agreed with the partner; the TLS settings need no change"),
                    "if credentials are configured, check the user name and that the password has not expired or been rotated".into(),
                ]
            }
            Cause::ProxyUnreachable { proxy, source, .. } => vec![
                format!("check the proxy's address and port ({proxy}, set by {source}) with your network team"),
                "if this host reaches the partner without a proxy, go direct: `--no-proxy`, the host in NO_PROXY, or `url = \"none\"` in the profile's [profiles.NAME.proxy]".into(),
            ],
            Cause::ProxyAuthRequired { scheme, credentials_sent, source, .. } => {
                let basic = scheme.as_deref().is_none_or(|s| s.to_ascii_lowercase().starts_with("basic"));
                let mut steps = Vec::new();
                if !basic {
                    steps.push(format!(
                        "the proxy asks for {} and keyway speaks Basic proxy authentication only: ask the proxy team for an account allowed Basic, or to allow this host's address without authentication",
                        scheme.as_deref().unwrap_or("another scheme")
                    ));
                }
                steps.push(if *credentials_sent {
                    format!("check the proxy user name and password ({source}): expired, locked or mistyped; the proxy's log names the user it refused")
                } else {
                    "give the proxy's user and password: `--proxy http://USER@HOST:PORT --proxy-password env:VAR`, or username and password in the profile's [profiles.NAME.proxy]".into()
                });
                steps
            }
            Cause::ProxyRefused { destination, status, excerpt, .. } => {
                let mut steps = vec![match status {
                    403 | 405 => format!("the proxy's policy does not allow {destination}: ask the proxy team to allow CONNECT to it (many proxies allow port 443 only)"),
                    500 | 502..=504 => format!("the proxy could not reach {destination} itself (its DNS, its firewall, or the partner is down): ask the network team, with the time of this test"),
                    _ => format!("ask the proxy team why it refuses CONNECT to {destination}"),
                }];
                if !excerpt.is_empty() {
                    steps.push(format!("the proxy said: {excerpt}"));
                }
                steps
            }
            Cause::ProxyClosed { destination, tunnel_established, .. } => {
                let mut steps = vec![format!(
                    "ask the proxy team whether a policy blocks {destination}{}: their log shows why the connection was dropped",
                    if *tunnel_established { ", its SNI name or our TLS version" } else { "" }
                )];
                steps.push("from a host that reaches the partner directly, `keyway probe HOST:PORT --no-proxy` shows whether the partner itself answers".into());
                steps
            }
            Cause::ProxyInterception { issuer, destination, issuer_cert, .. } => vec![
                format!(
                    "ask your security team whether {issuer} is the company's TLS inspection CA{}",
                    issuer_cert.as_ref().map(|c| format!(" (SHA-256 {})", c.sha256)).unwrap_or_default()
                ),
                "only if they confirm it: import that CA into this connector's truststore (`keyway keystore import-cert STORE --alias inspection-ca --cert FILE`; --save-chain writes it out)".into(),
                format!("or have {destination} excluded from TLS inspection — needed anyway when the partner asks for a client certificate, which an inspecting proxy cannot pass on"),
            ],
            Cause::HttpError { status, excerpt, .. } => {
                let mut steps = vec![match status {
                    404 | 410 => "check the URL path: TLS works, but nothing is served at this path".to_string(),
                    403 => "TLS works, but the server forbids this request: ask the partner to grant access to the user or client certificate used".to_string(),
                    s if *s >= 500 => "TLS works; the partner's application failed: send them the status, the time and the excerpt below".to_string(),
                    _ => "TLS works; check the URL and the request the partner expects".to_string(),
                }];
                if !excerpt.is_empty() {
                    steps.push(format!("the server said: {excerpt}"));
                }
                steps
            }
        }
    }
}

/// When in the connection a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Opening the TCP connection.
    Connecting,
    /// During the TLS handshake.
    Handshake,
    /// After the handshake, on the first exchange.
    AfterHandshake,
}

impl Stage {
    fn words(self) -> &'static str {
        match self {
            Stage::Connecting => "while connecting",
            Stage::Handshake => "during the TLS handshake",
            Stage::AfterHandshake => "after the TLS handshake",
        }
    }
}

fn refused_with(alert: &Option<String>) -> String {
    match alert {
        Some(alert) => format!("; the server refused it ({alert})"),
        None => String::new(),
    }
}

/// The evidence a test gathered, whatever its outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// The address connected to.
    pub address: Option<String>,
    /// The versions the policy allows.
    pub allowed_versions: VersionSet,
    /// The chain the server presented (captured before verification).
    pub server_chain: Vec<CertInfo>,
    /// The same chain as DER, for saving it (`keyway test --save-chain`); not in JSON.
    #[serde(skip)]
    pub server_chain_der: Vec<Vec<u8>>,
    /// Whether the server's certificate is itself in a truststore, and was trusted as
    /// pinned (as JSSE and .NET trust it) rather than through a chain to a CA.
    pub pinned: bool,
    /// Alerts received.
    pub alerts: Vec<String>,
    /// The authority key identifier of the last certificate sent (hex with colons):
    /// which root to ask the partner for, when the server leaves its root out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_key_identifier: Option<String>,
    /// Whether the server asked for a client certificate.
    pub client_cert_requested: bool,
    /// The CA names the server accepts for client certificates.
    pub acceptable_cas: Vec<String>,
    /// The client certificate sent, if any.
    pub client_cert_sent: Option<CertInfo>,
    /// The version probe, when one was run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeReport>,
    /// The proxy the connection went through, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<crate::proxy::ProxyEvidence>,
}

/// Where the settings a fix changes are made, so that each step names the flag of
/// `keyway test`, the setting in keyway.toml or the command for a stored connector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Settings {
    /// The options of `keyway test` (the default).
    #[default]
    TestCommand,
    /// A connector defined in a keyway.toml file.
    ConfigFile {
        /// The connector.
        connector: String,
        /// Its TLS profile, if it has one.
        profile: Option<String>,
        /// The file.
        file: std::path::PathBuf,
    },
    /// A connector kept in keyway's store (`keyway connector add`).
    Store {
        /// The connector.
        connector: String,
    },
}

/// A failure with its cause and evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// The cause.
    pub cause: Cause,
    /// Where the settings the fix changes are made.
    pub settings: Settings,
    /// Everything observed.
    pub evidence: Evidence,
    /// Lesser problems found on the way.
    pub warnings: Vec<String>,
    /// What the handshake negotiated, when the failure came after it (HTTP errors).
    pub negotiated: Option<Negotiated>,
}

/// What a successful connection negotiated.
#[derive(Debug, Clone, Serialize)]
pub struct Negotiated {
    /// The protocol version.
    pub version: TlsVersion,
    /// The cipher suite (IANA name).
    pub cipher: String,
    /// The ALPN protocol, if any.
    pub alpn: Option<String>,
    /// The HTTP status of the test request, for http(s) URLs.
    pub http_status: Option<u16>,
    /// Which TLS implementation carried the connection.
    pub backend: TlsBackend,
}

/// The TLS implementation behind a connection.
///
/// rustls goes first whenever the policy allows TLS 1.2 or 1.3; the legacy backend is
/// used when the policy allows nothing newer than TLS 1.1, or when the probe shows the
/// best version server and policy share is TLS 1.0 or 1.1. SSL 3.0 is never negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsBackend {
    /// rustls: TLS 1.2 and 1.3.
    Rustls,
    /// OpenSSL with its security level lowered: TLS 1.0 and 1.1 only.
    OpensslLegacy,
}

impl std::fmt::Display for TlsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsBackend::Rustls => "rustls",
            TlsBackend::OpensslLegacy => "OpenSSL legacy backend",
        })
    }
}

/// The result of a connectivity test that ran.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per test run, matched on at once; both variants are large"
)]
pub enum TestOutcome {
    /// Connected.
    Connected {
        /// What was negotiated.
        negotiated: Negotiated,
        /// The evidence.
        evidence: Evidence,
        /// Things to act on before they break (expiring certificates, deprecated versions).
        warnings: Vec<String>,
    },
    /// Failed, with the cause.
    Failed(Diagnosis),
}

/// The one JSON shape of a test result, used by `--json` and the API.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    ok: bool,
    code: Option<&'static str>,
    summary: String,
    blame: Option<Blame>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a Cause>,
    evidence: &'a Evidence,
    remediation: Vec<String>,
    negotiated: Option<&'a Negotiated>,
    warnings: &'a [String],
    insecure: bool,
}

impl TestOutcome {
    /// The JSON report.
    pub fn report(&self, insecure: bool) -> Report<'_> {
        match self {
            TestOutcome::Connected {
                negotiated,
                evidence,
                warnings,
            } => Report {
                ok: true,
                code: None,
                summary: format!(
                    "connected with {}, {}",
                    negotiated.version, negotiated.cipher
                ),
                blame: None,
                cause: None,
                evidence,
                remediation: Vec::new(),
                negotiated: Some(negotiated),
                warnings,
                insecure,
            },
            TestOutcome::Failed(d) => Report {
                ok: false,
                code: Some(d.cause.code()),
                summary: d.cause.summary(),
                blame: Some(d.cause.blame()),
                cause: Some(&d.cause),
                evidence: &d.evidence,
                remediation: d.remediation(),
                negotiated: d.negotiated.as_ref(),
                warnings: &d.warnings,
                insecure,
            },
        }
    }
}

/// The file name `keyway test --save-chain DIR` gives the `index`th certificate (from 0)
/// of the chain a server sent: `1-partner.example.pem`, `2-partner-issuing-ca.pem`…
pub fn chain_file_name(index: usize, cert: &CertInfo) -> String {
    format!("{}-{}.pem", index + 1, slug(cert))
}

/// An alias for a certificate, from its common name: `partner-root-ca`.
pub fn slug(cert: &CertInfo) -> String {
    let name = cert
        .subject
        .split(", ")
        .find_map(|part| part.strip_prefix("CN="))
        .unwrap_or(&cert.subject);
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug
        .trim_end_matches('-')
        .chars()
        .take(48)
        .collect::<String>();
    if slug.is_empty() {
        "certificate".into()
    } else {
        slug
    }
}

impl Diagnosis {
    /// Concrete steps, naming the flag, setting or command of where the connector's
    /// settings are made ([`Settings`]), the store, subject and fingerprint involved.
    pub fn remediation(&self) -> Vec<String> {
        let target = self.evidence.address.as_deref().unwrap_or("HOST:PORT");
        match (&self.cause, &self.settings) {
            (Cause::UntrustedRoot { root: Some(root), .. }, settings) => {
                let position = self
                    .evidence
                    .server_chain
                    .iter()
                    .position(|c| c.sha256 == root.sha256)
                    .unwrap_or(self.evidence.server_chain.len().saturating_sub(1));
                trust_steps(root, Some(position), None, settings, target)
            }
            (Cause::SelfSigned { cert, .. }, settings) => {
                let mut steps = trust_steps(cert, Some(0), None, settings, target);
                steps.push("or ask the partner for a certificate from a CA you already trust".into());
                steps
            }
            (
                Cause::UntrustedRoot {
                    root: None,
                    root_subject,
                    ..
                },
                settings,
            ) => {
                let asked = CertInfo {
                    subject: root_subject.clone(),
                    ..placeholder()
                };
                let key_id = self.evidence.root_key_identifier.as_deref();
                trust_steps(&asked, None, key_id, settings, target)
            }
            (Cause::VersionMismatch { allowed, server }, settings) => {
                let mut steps = vec![format!(
                    "ask the partner to enable {allowed} on the server (it offers only {server})"
                )];
                if let Some(best) = server.highest().filter(|v| *v >= TlsVersion::Tls10) {
                    let knob = match settings {
                        Settings::TestCommand => format!("run the test with `--min-tls {}`", best.short()),
                        Settings::ConfigFile { profile: Some(p), file, .. } => format!(
                            "set lowest_version = \"{best}\" in [profiles.{p}] of {}",
                            file.display()
                        ),
                        Settings::ConfigFile { connector, file, .. } => format!(
                            "give connector {connector} a profile with lowest_version = \"{best}\" in {}",
                            file.display()
                        ),
                        Settings::Store { connector } => format!(
                            "store connector {connector} again with `--min-tls {}` (`keyway connector add {connector} --replace --min-tls {} …` with its other options as `keyway connector show {connector}` lists them)",
                            best.short(), best.short()
                        ),
                    };
                    steps.push(format!(
                        "or, only if the partner cannot move: {knob}. {best} is deprecated (RFC 8996) and is spoken through keyway's legacy backend"
                    ));
                }
                steps
            }
            (Cause::ClientCertRequired { acceptable_cas }, settings) => {
                let issued_by = if acceptable_cas.is_empty() {
                    "a CA the partner accepts".to_string()
                } else {
                    acceptable_cas.join(" or ")
                };
                vec![match settings {
                    Settings::TestCommand => format!(
                        "present a client certificate issued by {issued_by}: add `--keystore client.p12 --keystore-password …` (and `--alias` when it holds several keys)"
                    ),
                    Settings::ConfigFile { profile, file, .. } => format!(
                        "give the connector's profile {} in {} a keystore = \"NAME\" whose key entry holds a client certificate issued by {issued_by}, with [keystores.NAME] path and password",
                        profile.as_deref().unwrap_or("(none yet)"),
                        file.display()
                    ),
                    Settings::Store { connector } => format!(
                        "store the client certificate issued by {issued_by} (`keyway identity add NAME client.p12 --storepass …`) and store connector {connector} again with `--keystore NAME` (`keyway connector add {connector} --replace …`)"
                    ),
                }]
            }
            (
                Cause::ClientCertRejected {
                    sent,
                    acceptable_cas,
                    ..
                },
                settings,
            ) if !acceptable_cas.is_empty() && !acceptable_cas.contains(&sent.issuer) => {
                let cas = acceptable_cas.join(" or ");
                let mut steps = self.cause.remediation();
                steps.push(match settings {
                    Settings::TestCommand => format!(
                        "or present a client certificate issued by {cas}: `--keystore client.p12 --keystore-password …` (and `--alias` when it holds several keys)"
                    ),
                    Settings::ConfigFile { file, .. } => format!(
                        "or give the connector's profile in {} a keystore whose certificate is issued by {cas}",
                        file.display()
                    ),
                    Settings::Store { connector } => format!(
                        "or store a client certificate issued by {cas} (`keyway identity add NAME client.p12 --storepass …`) and store connector {connector} again with `--keystore NAME`"
                    ),
                });
                steps
            }
            (Cause::HostnameMismatch { presented, .. }, settings) if !presented.is_empty() => {
                let name = &presented[0];
                vec![
                    "use the host name the certificate is issued for in the URL".to_string(),
                    format!("or, when you connect by IP address or an alias: {}", server_name_knob(settings, name)),
                ]
            }
            (Cause::UnrecognizedName { sent, served }, settings) if !served.is_empty() => vec![
                format!(
                    "connect with the name the server serves: {}",
                    server_name_knob(settings, &served[0])
                ),
                format!("or ask the partner to serve {sent} (a virtual host or certificate for that name)"),
            ],
            (Cause::HttpUnauthorized { challenge, .. }, Settings::TestCommand) => {
                let scheme = challenge
                    .as_deref()
                    .and_then(|c| c.split_whitespace().next())
                    .unwrap_or("the scheme the partner names");
                vec![
                    "TLS works, and the server wants credentials: `keyway test` sends none, so this is as far as it goes".into(),
                    format!(
                        "give the connector the credentials agreed with the partner ({scheme}): `auth = {{ username = \"…\", password = {{ env = \"…\" }} }}` in its keyway.toml entry, or `keyway connector add NAME --replace … --username … --password-stdin`; then `keyway connector test NAME` checks them"
                    ),
                ]
            }
            (Cause::NoSharedCipher { allowed: Some(_) }, Settings::TestCommand) => vec![
                "remove `--ciphers` to offer keyway's default suites, or add suites the server accepts".into(),
            ],
            (Cause::NoSharedCipher { allowed: Some(_) }, Settings::ConfigFile { profile: Some(p), file, .. }) => vec![format!(
                "remove cipher_suites from [profiles.{p}] of {} to offer keyway's default suites, or add suites the server accepts",
                file.display()
            )],
            _ => self.cause.remediation(),
        }
    }
}

/// The certificate fields a step about a certificate nobody has yet can leave empty.
fn placeholder() -> CertInfo {
    CertInfo {
        subject: String::new(),
        issuer: String::new(),
        serial: String::new(),
        not_before: time::OffsetDateTime::UNIX_EPOCH,
        not_after: time::OffsetDateTime::UNIX_EPOCH,
        sha256: String::new(),
        key: keyway_keystore::KeyDescription {
            algorithm: String::new(),
            bits: None,
            curve: None,
        },
        is_ca: true,
        self_issued: true,
    }
}

/// How to name a server name for SNI and the certificate check in `settings`.
fn server_name_knob(settings: &Settings, name: &str) -> String {
    match settings {
        Settings::TestCommand => format!("add `--servername {name}`"),
        Settings::ConfigFile {
            profile: Some(p),
            file,
            ..
        } => format!(
            "set server_name = \"{name}\" in [profiles.{p}] of {}",
            file.display()
        ),
        Settings::ConfigFile {
            connector, file, ..
        } => format!(
            "give connector {connector} a profile with server_name = \"{name}\" in {}",
            file.display()
        ),
        Settings::Store { connector } => format!(
            "store connector {connector} again with `--server-name {name}` (`keyway connector add {connector} --replace …` with its other options)"
        ),
    }
}

/// How to get `cert` (the `position`th of the chain sent, or asked of the partner) and
/// trust it where `settings` say trust is configured.
fn trust_steps(
    cert: &CertInfo,
    position: Option<usize>,
    key_id: Option<&str>,
    settings: &Settings,
    target: &str,
) -> Vec<String> {
    let alias = slug(cert);
    let (get, file) = match position {
        Some(n) => {
            let file = chain_file_name(n, cert);
            (
                format!(
                    "save the certificates the server sent: `keyway test {target} --save-chain DIR` writes {} (with the others) as DIR/{file}; check its SHA-256 {} with the partner",
                    cert.subject, cert.sha256
                ),
                format!("DIR/{file}"),
            )
        }
        None => (
            format!(
                "ask the partner for its root CA certificate {}{} and check its SHA-256 fingerprint with them",
                cert.subject,
                key_id
                    .map(|k| format!(" (key identifier {k})"))
                    .unwrap_or_default()
            ),
            format!("{alias}.pem"),
        ),
    };
    let trust = match settings {
        Settings::TestCommand => format!(
            "then trust it: add `--truststore {file}` to the test (PEM needs no password), or import it into a truststore: `keyway keystore import-cert truststore.jks --alias {alias} --cert {file} --storepass …`"
        ),
        Settings::ConfigFile {
            profile: Some(p),
            file: config,
            ..
        } => format!(
            "then trust it: import it into a truststore file of profile {p} (`keyway keystore import-cert FILE --alias {alias} --cert {file}`), or add [truststores.{alias}] path = \"{file}\" to {} and \"{alias}\" to the truststores of [profiles.{p}]",
            config.display()
        ),
        Settings::ConfigFile {
            connector,
            file: config,
            ..
        } => format!(
            "then trust it: add [truststores.{alias}] path = \"{file}\" and a profile with truststores = [\"{alias}\"] for connector {connector} in {}",
            config.display()
        ),
        Settings::Store { connector } => format!(
            "then trust it: `keyway truststore add {alias} {file}`, and store connector {connector} again with `--truststore {alias}` besides its other truststores (`keyway connector add {connector} --replace …`, its options as `keyway connector show {connector}` lists them)"
        ),
    };
    vec![get, trust]
}
