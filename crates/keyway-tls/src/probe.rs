//! The version probe: one raw ClientHello per protocol version, sent concurrently, and
//! the server's answer read without completing any handshake. SSLv3 is only ever
//! *offered* here, to name SSLv3-only servers; no traffic is sent over it.
//!
//! From the TLS 1.2 (or older) answer, which travels in clear text, the probe also reads
//! the server's certificate chain and its CertificateRequest: whether it wants a client
//! certificate, and which CA names it accepts.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use keyway_keystore::{CertInfo, Certificate};
use serde::Serialize;
use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake};

use crate::alert::alert_name;
use crate::policy::{TlsVersion, VersionSet};
use crate::proxy::Proxy;

/// Largest TLS record (2^14 plus expansion allowance); anything bigger is not TLS.
const MAX_RECORD: usize = 16_384 + 2_048;
/// Largest handshake flight the probe reads before giving up (chains are a few KiB).
const MAX_FLIGHT: usize = 256 * 1024;

/// Where to probe and how long to wait.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// SNI to send; by default the host, when it is a name (SNI never carries an IP).
    pub server_name: Option<String>,
    /// Connect and read timeout, per version.
    pub timeout: Duration,
    /// The proxy to probe through (a CONNECT tunnel per version), if any.
    pub proxy: Option<Proxy>,
}

impl ProbeTarget {
    /// Parses `HOST:PORT` (or `[IPv6]:PORT`).
    pub fn parse(target: &str, timeout: Duration) -> Result<Self, ProbeError> {
        let bad = || ProbeError::BadTarget {
            given: target.to_string(),
        };
        let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad());
        }
        let port = port.parse().map_err(|_| bad())?;
        Ok(ProbeTarget {
            host: host.to_string(),
            port,
            server_name: None,
            timeout,
            proxy: None,
        })
    }

    fn sni(&self) -> Option<String> {
        let name = self
            .server_name
            .clone()
            .unwrap_or_else(|| self.host.clone());
        (name.parse::<IpAddr>().is_err()).then_some(name)
    }
}

/// Why the probe could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The target is not `HOST:PORT`.
    #[error("\"{given}\" is not HOST:PORT (e.g. partner.example.com:443 or [2001:db8::1]:8443)")]
    BadTarget {
        /// What was given.
        given: String,
    },
    /// The host name does not resolve.
    #[error("cannot resolve {host}: {error}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's answer.
        error: String,
    },
}

/// What the server answered to a ClientHello offering one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProbeOutcome {
    /// The server chose this version.
    Accepted {
        /// The cipher suite it chose (IANA name).
        cipher: String,
    },
    /// The server answered with an older version than offered: it does not speak this one.
    Downgraded {
        /// The version it chose instead.
        server_chose: TlsVersion,
    },
    /// The server refused with an alert.
    Refused {
        /// The alert, e.g. "protocol_version (70)".
        alert: String,
    },
    /// The server closed or reset the connection without a word.
    Closed,
    /// The bytes that came back are not TLS.
    NotTls {
        /// The first bytes, printable.
        first_bytes: String,
    },
    /// No answer within the timeout.
    Timeout,
    /// The TCP connection failed.
    ConnectFailed {
        /// The operating system's reason.
        error: String,
    },
}

/// One version's probe.
#[derive(Debug, Clone, Serialize)]
pub struct VersionProbe {
    /// The version offered.
    pub version: TlsVersion,
    /// What came back.
    #[serde(flatten)]
    pub outcome: ProbeOutcome,
}

/// The server's request for a client certificate.
#[derive(Debug, Clone, Serialize)]
pub struct ClientCertRequest {
    /// The version whose handshake showed it.
    pub seen_in: TlsVersion,
    /// The CA names it accepts (empty: any).
    pub acceptable_cas: Vec<String>,
}

/// Everything the probe learned.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The host as given.
    pub host: String,
    /// The port probed.
    pub port: u16,
    /// The address probed (the proxy's, when probed through one).
    pub address: SocketAddr,
    /// The proxy probed through, `http://[user@]host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The SNI sent, if any.
    pub server_name: Option<String>,
    /// One result per version, oldest first.
    pub versions: Vec<VersionProbe>,
    /// The versions the server accepted.
    pub supported: VersionSet,
    /// The certificate chain the server sent (from a TLS 1.2-or-older answer; TLS 1.3
    /// encrypts it, so a 1.3-only server shows none here).
    pub chain: Vec<CertInfo>,
    /// The client-certificate request, if the server sent one (seen in TLS 1.2 or older).
    pub client_certificate: Option<ClientCertRequest>,
}

impl ProbeReport {
    /// Whether any version was accepted.
    pub fn speaks_tls(&self) -> bool {
        !self.supported.is_empty()
    }
}

/// Probes every version concurrently. Fails only when the host does not resolve; every
/// other failure is part of the report.
pub fn probe(target: &ProbeTarget) -> Result<ProbeReport, ProbeError> {
    // Through a proxy, the proxy resolves the partner's name: only its own must resolve.
    let (host, port) = match &target.proxy {
        Some(proxy) => (proxy.host.as_str(), proxy.port),
        None => (target.host.as_str(), target.port),
    };
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|e| ProbeError::Resolve {
            host: host.to_string(),
            error: e.to_string(),
        })?
        .next()
        .ok_or_else(|| ProbeError::Resolve {
            host: host.to_string(),
            error: "no address".into(),
        })?;
    let sni = target.sni();
    let results: Vec<(VersionProbe, Flight)> = std::thread::scope(|scope| {
        let handles: Vec<_> = TlsVersion::ALL
            .into_iter()
            .map(|version| {
                let sni = sni.clone();
                scope.spawn(move || probe_version(target, address, sni.as_deref(), version))
            })
            .collect();
        handles
            .into_iter()
            .zip(TlsVersion::ALL)
            .map(|(h, version)| {
                h.join()
                    .unwrap_or_else(|_| {
                        (
                            ProbeOutcome::ConnectFailed {
                                error: "probe thread failed".into(),
                            },
                            Flight::default(),
                        )
                    })
                    .with_version(version)
            })
            .collect()
    });
    let supported = results
        .iter()
        .filter(|(p, _)| matches!(p.outcome, ProbeOutcome::Accepted { .. }))
        .map(|(p, _)| p.version)
        .collect();
    // The newest clear-text handshake tells the most about today's configuration.
    let clear = results
        .iter()
        .rev()
        .filter(|(p, _)| p.version < TlsVersion::Tls13);
    let chain = clear
        .clone()
        .find(|(_, f)| !f.chain.is_empty())
        .map(|(_, f)| f.chain.iter().map(|c| c.info().clone()).collect())
        .unwrap_or_default();
    let client_certificate = clear.clone().find_map(|(p, f)| {
        f.acceptable_cas.clone().map(|cas| ClientCertRequest {
            seen_in: p.version,
            acceptable_cas: cas,
        })
    });
    Ok(ProbeReport {
        host: target.host.clone(),
        port: target.port,
        address,
        proxy: target.proxy.as_ref().map(ToString::to_string),
        server_name: sni,
        versions: results.into_iter().map(|(p, _)| p).collect(),
        supported,
        chain,
        client_certificate,
    })
}

/// What a clear-text server flight showed besides the ServerHello.
#[derive(Debug, Default)]
struct Flight {
    chain: Vec<Certificate>,
    acceptable_cas: Option<Vec<String>>,
}

trait WithVersion {
    fn with_version(self, version: TlsVersion) -> (VersionProbe, Flight);
}

impl WithVersion for (ProbeOutcome, Flight) {
    fn with_version(self, version: TlsVersion) -> (VersionProbe, Flight) {
        (
            VersionProbe {
                version,
                outcome: self.0,
            },
            self.1,
        )
    }
}

fn probe_version(
    target: &ProbeTarget,
    address: SocketAddr,
    sni: Option<&str>,
    version: TlsVersion,
) -> (ProbeOutcome, Flight) {
    let timeout = target.timeout;
    let opened = match &target.proxy {
        None => TcpStream::connect_timeout(&address, timeout),
        Some(proxy) => {
            match crate::proxy::tunnel(proxy, &target.host, target.port, timeout, timeout) {
                Ok((stream, _, _)) => Ok(stream),
                Err(failure) => {
                    let error = failure.describe(proxy, &target.host, target.port);
                    return (ProbeOutcome::ConnectFailed { error }, Flight::default());
                }
            }
        }
    };
    let mut stream = match opened {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::TimedOut => {
            return (ProbeOutcome::Timeout, Flight::default());
        }
        Err(e) => {
            return (
                ProbeOutcome::ConnectFailed {
                    error: e.to_string(),
                },
                Flight::default(),
            );
        }
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let _ = stream.set_nodelay(true);
    let hello = match client_hello(version, sni) {
        Ok(h) => h,
        Err(e) => return (ProbeOutcome::ConnectFailed { error: e }, Flight::default()),
    };
    if let Err(e) = stream.write_all(&hello) {
        return (closed_or(e), Flight::default());
    }
    read_answer(&mut stream, version)
}

fn closed_or(e: std::io::Error) -> ProbeOutcome {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => ProbeOutcome::Timeout,
        _ => ProbeOutcome::Closed,
    }
}

/// The CA names of the CertificateRequest in a recorded clear-text server flight (TLS 1.2
/// or older), `None` when the server did not ask for a client certificate.
pub(crate) fn certificate_request(server_bytes: &[u8]) -> Option<Vec<String>> {
    // The reader stops at a ServerHello of another version than offered: offer each.
    [TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12]
        .into_iter()
        .find_map(|offered| {
            let mut reader = server_bytes;
            read_answer(&mut reader, offered).1.acceptable_cas
        })
}

fn read_answer(stream: &mut impl Read, offered: TlsVersion) -> (ProbeOutcome, Flight) {
    let mut flight = Flight::default();
    let mut handshake = Vec::new();
    let mut outcome: Option<ProbeOutcome> = None;
    let mut first = true;
    loop {
        let mut header = [0u8; 5];
        if let Err(e) = stream.read_exact(&mut header) {
            // After a ServerHello, a quiet server has simply sent its whole flight.
            return (outcome.unwrap_or_else(|| closed_or(e)), flight);
        }
        let (kind, length) = (
            header[0],
            usize::from(u16::from_be_bytes([header[3], header[4]])),
        );
        if first && (!matches!(kind, 0x15 | 0x16) || header[1] != 3 || length > MAX_RECORD) {
            let mut more = [0u8; 27];
            let n = stream.read(&mut more).unwrap_or(0);
            let bytes = [&header[..], &more[..n]].concat();
            return (
                ProbeOutcome::NotTls {
                    first_bytes: printable(&bytes),
                },
                flight,
            );
        }
        first = false;
        let mut body = vec![0u8; length.min(MAX_RECORD)];
        if let Err(e) = stream.read_exact(&mut body) {
            return (outcome.unwrap_or_else(|| closed_or(e)), flight);
        }
        match kind {
            0x15 => {
                let alert = body
                    .get(1)
                    .map(|d| alert_name(*d))
                    .unwrap_or_else(|| "empty alert".into());
                return (outcome.unwrap_or(ProbeOutcome::Refused { alert }), flight);
            }
            0x16 => handshake.extend_from_slice(&body),
            // ChangeCipherSpec and the rest: nothing readable follows in clear text.
            _ => return (outcome.unwrap_or(ProbeOutcome::Closed), flight),
        }
        if handshake.len() > MAX_FLIGHT {
            return (outcome.unwrap_or(ProbeOutcome::Closed), flight);
        }
        // Parse every complete handshake message buffered so far.
        while handshake.len() >= 4 {
            let len = usize::from(handshake[1]) << 16
                | usize::from(handshake[2]) << 8
                | usize::from(handshake[3]);
            if handshake.len() < 4 + len {
                break;
            }
            let message: Vec<u8> = handshake.drain(..4 + len).collect();
            match handle_message(&message, offered, &mut flight) {
                Step::Continue(o) => {
                    if o.is_some() {
                        outcome = o;
                    }
                }
                Step::Done(o) => return (o.or(outcome).unwrap_or(ProbeOutcome::Closed), flight),
            }
        }
    }
}

enum Step {
    Continue(Option<ProbeOutcome>),
    Done(Option<ProbeOutcome>),
}

fn handle_message(message: &[u8], offered: TlsVersion, flight: &mut Flight) -> Step {
    let Ok((_, TlsMessage::Handshake(msg))) = tls_parser::parse_tls_message_handshake(message)
    else {
        return Step::Done(None);
    };
    match msg {
        TlsMessageHandshake::ServerHello(hello) => {
            let mut chosen = hello.version.0;
            if let Some(ext) = hello.ext
                && let Ok((_, extensions)) = tls_parser::parse_tls_server_hello_extensions(ext)
            {
                for e in extensions {
                    if let TlsExtension::SupportedVersions(v) = e
                        && let Some(first) = v.first()
                    {
                        chosen = first.0;
                    }
                }
            }
            let cipher = hello
                .get_cipher()
                .map(|c| c.name.to_string())
                .unwrap_or_else(|| format!("0x{:04X}", hello.cipher.0));
            match TlsVersion::from_wire(chosen) {
                Some(v) if v == offered && v == TlsVersion::Tls13 => {
                    Step::Done(Some(ProbeOutcome::Accepted { cipher }))
                }
                Some(v) if v == offered => Step::Continue(Some(ProbeOutcome::Accepted { cipher })),
                Some(v) => Step::Done(Some(ProbeOutcome::Downgraded { server_chose: v })),
                None => Step::Done(Some(ProbeOutcome::NotTls {
                    first_bytes: format!("ServerHello version 0x{chosen:04X}"),
                })),
            }
        }
        TlsMessageHandshake::Certificate(contents) => {
            flight.chain = contents
                .cert_chain
                .iter()
                .enumerate()
                .filter_map(|(n, raw)| {
                    Certificate::from_der(
                        raw.data.to_vec(),
                        &format!("server certificate {}", n + 1),
                    )
                    .ok()
                })
                .collect();
            Step::Continue(None)
        }
        TlsMessageHandshake::CertificateRequest(request) => {
            flight.acceptable_cas = Some(
                request
                    .unparsed_ca
                    .iter()
                    .map(|dn| distinguished_name(dn))
                    .collect(),
            );
            Step::Continue(None)
        }
        TlsMessageHandshake::ServerDone(_) => Step::Done(None),
        _ => Step::Continue(None),
    }
}

pub(crate) fn distinguished_name(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer;
    match x509_parser::x509::X509Name::from_der(der) {
        Ok((_, name)) => keyway_keystore::distinguished_name(&name),
        Err(_) => format!("(unparsable name, {} bytes)", der.len()),
    }
}

fn printable(bytes: &[u8]) -> String {
    let text: String = bytes
        .iter()
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '.'
            }
        })
        .collect();
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02X}")).collect();
    format!("{} ({})", text.trim_end_matches('.'), hex.join(" "))
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A vector with a 16-bit length prefix.
fn vec16(out: &mut Vec<u8>, body: &[u8]) {
    push_u16(out, body.len() as u16);
    out.extend_from_slice(body);
}

fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    push_u16(out, kind);
    vec16(out, body);
}

fn suites(ids: &[u16]) -> Vec<u8> {
    ids.iter().flat_map(|id| id.to_be_bytes()).collect()
}

/// Cipher suites offered per version: broad, so that a refusal means the version, not
/// the ciphers (RC4 and export suites are left out; no server needs only those).
fn offered_suites(version: TlsVersion) -> Vec<u16> {
    match version {
        TlsVersion::Ssl3 => vec![0x000A, 0x002F, 0x0035, 0x0005, 0x0004, 0x00FF],
        TlsVersion::Tls10 | TlsVersion::Tls11 => {
            vec![
                0xC013, 0xC014, 0xC009, 0xC00A, 0x0033, 0x0039, 0x002F, 0x0035, 0x000A, 0x00FF,
            ]
        }
        TlsVersion::Tls12 => vec![
            0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0x009E, 0x009F, 0xC023, 0xC027, 0xC009,
            0xC013, 0xC00A, 0xC014, 0x009C, 0x009D, 0x003C, 0x002F, 0x0035, 0x000A, 0x00FF,
        ],
        TlsVersion::Tls13 => vec![0x1301, 0x1302, 0x1303],
    }
}

/// A ClientHello that offers exactly `version` (TLS 1.3 through `supported_versions`).
pub(crate) fn client_hello(version: TlsVersion, sni: Option<&str>) -> Result<Vec<u8>, String> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| format!("random number generator: {e}"))?;
    let mut body = Vec::new();
    push_u16(&mut body, version.min(TlsVersion::Tls12).wire());
    body.extend_from_slice(&random);
    if version == TlsVersion::Tls13 {
        // A legacy session id keeps middleboxes that expect one quiet (RFC 8446 D.4).
        body.push(32);
        body.extend_from_slice(&random);
    } else {
        body.push(0);
    }
    vec16(&mut body, &suites(&offered_suites(version)));
    body.extend_from_slice(&[1, 0]); // compression: null only
    if version > TlsVersion::Ssl3 {
        let mut ext = Vec::new();
        if let Some(name) = sni {
            let mut entry = vec![0u8];
            vec16(&mut entry, name.as_bytes());
            let mut list = Vec::new();
            vec16(&mut list, &entry);
            extension(&mut ext, 0x0000, &list);
        }
        let mut groups = Vec::new();
        vec16(&mut groups, &suites(&[0x001D, 0x0017, 0x0018, 0x0019]));
        extension(&mut ext, 0x000A, &groups);
        extension(&mut ext, 0x000B, &[1, 0]); // ec_point_formats: uncompressed
        extension(&mut ext, 0xFF01, &[0]); // renegotiation_info: empty
        if version >= TlsVersion::Tls12 {
            let algorithms = [
                0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807,
                0x0203, 0x0201,
            ];
            let mut list = Vec::new();
            vec16(&mut list, &suites(&algorithms));
            extension(&mut ext, 0x000D, &list);
        }
        if version == TlsVersion::Tls13 {
            extension(&mut ext, 0x002B, &[2, 0x03, 0x04]); // supported_versions: TLS 1.3 only
            let mut share = Vec::new();
            push_u16(&mut share, 0x001D); // x25519; any 32 bytes are a valid public key
            vec16(&mut share, &random);
            let mut shares = Vec::new();
            vec16(&mut shares, &share);
            extension(&mut ext, 0x0033, &shares);
            extension(&mut ext, 0x002D, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
        }
        vec16(&mut body, &ext);
    }
    let mut handshake = vec![1u8];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let record_version = if version == TlsVersion::Ssl3 {
        0x0300
    } else {
        0x0301
    };
    let mut record = vec![0x16];
    push_u16(&mut record, record_version);
    vec16(&mut record, &handshake);
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hellos_parse_back_with_the_version_offered() {
        for version in TlsVersion::ALL {
            let hello = client_hello(version, Some("partner.example")).unwrap();
            let (_, record) = tls_parser::parse_tls_plaintext(&hello).unwrap();
            let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = &record.msg[0] else {
                panic!("{version}: not a ClientHello");
            };
            assert_eq!(
                ch.version.0,
                version.min(TlsVersion::Tls12).wire(),
                "{version}"
            );
            let extensions = ch
                .ext
                .map(|e| tls_parser::parse_tls_client_hello_extensions(e).unwrap().1)
                .unwrap_or_default();
            let offers_13 = extensions.iter().any(|e| matches!(e, TlsExtension::SupportedVersions(v) if v.iter().any(|v| v.0 == 0x0304)));
            assert_eq!(offers_13, version == TlsVersion::Tls13, "{version}");
            let has_sni = extensions.iter().any(|e| matches!(e, TlsExtension::SNI(_)));
            assert_eq!(
                has_sni,
                version != TlsVersion::Ssl3,
                "{version}: SSLv3 hellos carry no extensions"
            );
        }
    }

    #[test]
    fn targets_parse_with_ipv6_and_refuse_garbage() {
        let t = ProbeTarget::parse("[::1]:8443", Duration::from_secs(1)).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8443));
        assert_eq!(t.sni(), None, "no SNI for an IP address");
        let t = ProbeTarget::parse("partner.example:443", Duration::from_secs(1)).unwrap();
        assert_eq!(t.sni().as_deref(), Some("partner.example"));
        assert!(ProbeTarget::parse("no-port", Duration::from_secs(1)).is_err());
        assert!(ProbeTarget::parse("host:99999", Duration::from_secs(1)).is_err());
    }
}
