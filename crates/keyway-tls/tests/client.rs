//! `TlsClient` against real servers on 127.0.0.1: rustls sessions resumed on the second
//! connection, the legacy backend chosen for a TLS 1.1-only server, the server certificate
//! checked by the same rules as `test`.

use std::path::Path;
use std::time::Duration;

use keyway_testkit::{KeyKind, OpensslServer, RustlsServer, ServerOptions, TestChain};
use keyway_tls::{
    ConnectError, Profile, ProfileSpec, TlsBackend, TlsClient, TlsPolicy, TlsVersion, TrustSource,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn spec(dir: &Path, root_pem: &str, name: &str) -> ProfileSpec {
    let path = dir.join("trust.pem");
    std::fs::write(&path, root_pem).unwrap();
    ProfileSpec {
        trust: vec![TrustSource::File {
            path,
            format: None,
            password: None,
        }],
        server_name: Some(name.to_string()),
        handshake_timeout: Duration::from_secs(5),
        ..ProfileSpec::default()
    }
}

/// One HTTP/1.1 request over `stream`, read to the server's close; returns the status line.
async fn get(stream: &mut keyway_tls::TlsStream) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_second_connection_resumes_the_first_session() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("partner", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let profile = Profile::load(&spec(dir.path(), &chain.root_pem, "partner.test")).unwrap();
    let client = TlsClient::new(profile, &["http/1.1"]).unwrap();

    let (mut first, info) = client.connect("127.0.0.1", server.port).await.unwrap();
    assert_eq!(
        (info.backend, info.version, info.resumed),
        (TlsBackend::Rustls, TlsVersion::Tls13, false)
    );
    // Reading the response also takes in the TLS 1.3 session tickets sent after the handshake.
    assert_eq!(get(&mut first).await, "HTTP/1.1 200 OK");
    let (mut second, info) = client.connect("127.0.0.1", server.port).await.unwrap();
    assert!(info.resumed, "{info:?}");
    assert_eq!(get(&mut second).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn an_untrusted_server_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("partner", KeyKind::EcP256);
    let other = TestChain::new("someone-else", KeyKind::EcP256);
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let profile = Profile::load(&spec(dir.path(), &other.root_pem, "partner.test")).unwrap();
    let client = TlsClient::new(profile, &[]).unwrap();
    let e = client.connect("127.0.0.1", server.port).await.unwrap_err();
    assert!(
        matches!(&e, ConnectError::Handshake { backend: TlsBackend::Rustls, detail, .. } if detail.contains("issuer is not trusted")),
        "{e}"
    );
    assert_eq!(keyway_testkit::debug_shape(&e.to_string()), None, "{e}");
    let e = client.connect("partner.invalid", 443).await.unwrap_err();
    assert!(matches!(e, ConnectError::Dns { .. }), "{e}");
}

#[tokio::test]
async fn a_tls_1_1_only_server_is_reached_through_the_legacy_backend() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("old-bank", KeyKind::EcP256);
    let server = OpensslServer::start(
        &chain,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"],
    );
    // A policy that allows TLS 1.0 to 1.3: rustls first, then the probe finds TLS 1.1.
    let profile = Profile::load(&ProfileSpec {
        policy: TlsPolicy::lowest_allowable(TlsVersion::Tls10),
        ..spec(dir.path(), &chain.root_pem, "old-bank.test")
    })
    .unwrap();
    let client = TlsClient::new(profile, &["http/1.1"]).unwrap();
    for _ in 0..2 {
        let (mut stream, info) = client.connect("127.0.0.1", server.port).await.unwrap();
        assert_eq!(
            (info.backend, info.version),
            (TlsBackend::OpensslLegacy, TlsVersion::Tls11)
        );
        assert!(get(&mut stream).await.starts_with("HTTP/1.0 200"));
    }

    // The default policy (TLS 1.2 and newer) does not fall back.
    let strict = Profile::load(&spec(dir.path(), &chain.root_pem, "old-bank.test")).unwrap();
    let e = TlsClient::new(strict, &[])
        .unwrap()
        .connect("127.0.0.1", server.port)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConnectError::Handshake {
                backend: TlsBackend::Rustls,
                ..
            }
        ),
        "{e}"
    );
}
