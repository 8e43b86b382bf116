//! The version probe against real servers on 127.0.0.1: `openssl s_server` restricted to
//! one version or asking for client certificates, and plain TCP peers that answer HTTP,
//! stay silent, or hang up.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use keyway_testkit::{KeyKind, OpensslServer, TestChain};
use keyway_tls::{ProbeOutcome, ProbeReport, ProbeTarget, TlsVersion, VersionSet, probe};

const LEGACY: &[&str] = &["-cipher", "DEFAULT@SECLEVEL=0"];

fn run(address: &str, timeout: Duration) -> ProbeReport {
    probe(&ProbeTarget::parse(address, timeout).unwrap()).unwrap()
}

fn outcome(report: &ProbeReport, version: TlsVersion) -> &ProbeOutcome {
    &report
        .versions
        .iter()
        .find(|v| v.version == version)
        .unwrap()
        .outcome
}

fn set(versions: &[TlsVersion]) -> VersionSet {
    versions.iter().copied().collect()
}

#[test]
fn a_tls_1_1_only_server_is_found_with_its_chain() {
    let chain = TestChain::new("legacy-partner", KeyKind::EcP256);
    let server = OpensslServer::start(&chain, &[&["-tls1_1"], LEGACY].concat());
    let report = run(&server.address(), Duration::from_secs(5));
    assert_eq!(report.supported, set(&[TlsVersion::Tls11]), "{report:#?}");
    assert!(
        matches!(
            outcome(&report, TlsVersion::Tls12),
            ProbeOutcome::Downgraded {
                server_chose: TlsVersion::Tls11
            }
        ),
        "offered up to 1.2, the server picks 1.1: {report:#?}"
    );
    assert!(
        matches!(outcome(&report, TlsVersion::Tls13), ProbeOutcome::Refused { alert } if alert.contains("protocol_version")),
        "{report:#?}"
    );
    assert!(!matches!(
        outcome(&report, TlsVersion::Ssl3),
        ProbeOutcome::Accepted { .. }
    ));
    assert_eq!(
        report.chain.len(),
        2,
        "leaf and intermediate, in clear text: {report:#?}"
    );
    assert!(report.chain[0].subject.contains("legacy-partner"));
    assert!(report.client_certificate.is_none());
}

#[test]
fn a_tls_1_0_only_server() {
    let chain = TestChain::new("very-old-partner", KeyKind::Rsa2048);
    let server = OpensslServer::start(&chain, &[&["-tls1"], LEGACY].concat());
    let report = run(&server.address(), Duration::from_secs(5));
    assert_eq!(report.supported, set(&[TlsVersion::Tls10]), "{report:#?}");
    assert!(
        matches!(outcome(&report, TlsVersion::Tls10), ProbeOutcome::Accepted { cipher } if cipher.starts_with("TLS_"))
    );
}

#[test]
fn a_tls_1_3_only_server_shows_no_clear_text_chain() {
    let chain = TestChain::new("modern-partner", KeyKind::EcP256);
    let server = OpensslServer::start(&chain, &["-tls1_3"]);
    let report = run(&server.address(), Duration::from_secs(5));
    assert_eq!(report.supported, set(&[TlsVersion::Tls13]), "{report:#?}");
    assert!(
        matches!(outcome(&report, TlsVersion::Tls13), ProbeOutcome::Accepted { cipher } if cipher.starts_with("TLS_AES_") || cipher.starts_with("TLS_CHACHA20_"))
    );
    assert!(
        matches!(
            outcome(&report, TlsVersion::Tls12),
            ProbeOutcome::Refused { .. }
        ),
        "{report:#?}"
    );
    assert!(report.chain.is_empty(), "TLS 1.3 encrypts the certificate");
}

#[test]
fn a_server_that_requires_client_certificates_names_the_cas_it_accepts() {
    let chain = TestChain::new("mtls-partner", KeyKind::EcP256);
    let server = OpensslServer::start(&chain, &["-Verify", "1", "-CAfile", "{root}"]);
    let report = run(&server.address(), Duration::from_secs(5));
    assert!(
        report.supported.contains(TlsVersion::Tls12)
            && report.supported.contains(TlsVersion::Tls13),
        "{report:#?}"
    );
    let request = report
        .client_certificate
        .as_ref()
        .expect("CertificateRequest seen in TLS 1.2");
    assert_eq!(request.seen_in, TlsVersion::Tls12);
    assert_eq!(
        request.acceptable_cas,
        ["CN=mtls-partner Root CA, O=keyway tests"],
        "{report:#?}"
    );
}

/// A plain TCP peer on 127.0.0.1 that handles each connection with `reply`, forever
/// (the listener thread ends with the test process).
fn tcp_peer(reply: fn(std::net::TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || reply(stream));
        }
    });
    address
}

#[test]
fn a_plain_http_port_is_reported_as_not_tls_with_what_it_said() {
    let address = tcp_peer(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let report = run(&address, Duration::from_secs(5));
    assert!(report.supported.is_empty());
    for v in &report.versions {
        assert!(
            matches!(&v.outcome, ProbeOutcome::NotTls { first_bytes } if first_bytes.starts_with("HTTP/1.1 400")),
            "{v:?}"
        );
    }
}

#[test]
fn a_silent_peer_times_out_and_a_hang_up_is_closed() {
    let silent = tcp_peer(|mut s| {
        // Read and keep the connection open until the client gives up.
        let mut buf = [0u8; 1024];
        while s.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
    });
    let started = std::time::Instant::now();
    let report = run(&silent, Duration::from_millis(300));
    assert!(
        report
            .versions
            .iter()
            .all(|v| v.outcome == ProbeOutcome::Timeout),
        "{report:#?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the probes run concurrently and stop at the timeout"
    );

    let hang_up = tcp_peer(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
    });
    let report = run(&hang_up, Duration::from_secs(5));
    assert!(
        report
            .versions
            .iter()
            .all(|v| v.outcome == ProbeOutcome::Closed),
        "{report:#?}"
    );
}

#[test]
fn a_closed_port_is_connect_failed() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let report = run(&format!("127.0.0.1:{port}"), Duration::from_secs(2));
    assert!(
        report
            .versions
            .iter()
            .all(|v| matches!(v.outcome, ProbeOutcome::ConnectFailed { .. })),
        "{report:#?}"
    );
    // (Name resolution failures are not tested here: a lookup could leave this machine.)
}
