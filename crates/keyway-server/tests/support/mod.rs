//! What the gateway tests share: a store with keyway's CA, users alice and bob with
//! certificates, a partner CA, connectors to an upstream HTTPS server and to nothing,
//! and a running gateway; TLS clients and HTTP helpers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyway_connect::{ConnectorEntry, ProfileEntry};
use keyway_keystore::{Certificate, PrivateKey};
use keyway_pki::{CaInit, KeyType, parse_subject};
use keyway_server::{Gateway, GatewayOptions};
use keyway_store::{
    Context, Location, NewConnector, NewIntegration, NewUser, Permission, Save, Store,
};
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, TestChain};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

pub const KEY: &str = "4f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";

pub type Identity = (PrivateKey, Vec<Certificate>);

pub fn pem(text: &str) -> Certificate {
    keyway_pki::read_certificates(text.as_bytes(), None, "test")
        .unwrap()
        .remove(0)
}

/// A client certificate made with rcgen: signed by `issuer` (or self-signed), valid
/// from/to the given days from now, EKU clientAuth.
pub fn client_cert(cn: &str, issuer: Option<&Issuer<'_, KeyPair>>, days: (i64, i64)) -> Identity {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(days.0);
    params.not_after = now + time::Duration::days(days.1);
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key, issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (
        PrivateKey::from_pkcs8_der(&key.serialize_der(), "test key").unwrap(),
        vec![Certificate::from_der(cert.der().to_vec(), "test cert").unwrap()],
    )
}

pub struct Setup {
    pub store: Arc<Store>,
    pub gateway: Gateway,
    pub ca_root: Certificate,
    pub alice: Identity,
    pub bob: Identity,
    pub partner_ca: Issuer<'static, KeyPair>,
    pub upstream: HttpsServer,
    pub _dir: tempfile::TempDir,
}

pub fn options() -> GatewayOptions {
    GatewayOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        admin: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        hosts: vec!["localhost".into(), "127.0.0.1".into()],
        client_truststores: vec!["partner-clients".into()],
        reload_every: Duration::from_millis(100),
        ..GatewayOptions::default()
    }
}

pub async fn setup() -> Setup {
    setup_on(None).await
}

pub async fn setup_on(database_url: Option<String>) -> Setup {
    setup_with(database_url, options()).await
}

/// [`setup_on`] with the gateway started with `options`.
pub async fn setup_with(database_url: Option<String>, options: GatewayOptions) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut location = Location::data_dir(dir.path().join("data"));
    location.database_url = database_url;
    let store = Arc::new(Store::open(&location, Some(KEY)).await.unwrap());
    let admin = Context::local_admin();
    let init = CaInit {
        subject: parse_subject("CN=keyway test CA").unwrap(),
        key_type: KeyType::EcP256,
        with_intermediate: false,
    };
    let ca = store.create_ca(&admin, &init).await.unwrap();

    // The partner system behind the integration, and a connector to it.
    let upstream_chain = TestChain::new("orders", KeyKind::EcP256);
    let upstream = HttpsServer::start(&upstream_chain, HttpsOptions::default());
    store
        .add_truststore(
            &admin,
            "upstream",
            vec![pem(&upstream_chain.root_pem)],
            "root.pem",
        )
        .await
        .unwrap();
    let profile = ProfileEntry {
        truststores: vec!["upstream".into()],
        server_name: Some("orders.test".into()),
        ..ProfileEntry::default()
    };
    store
        .save_profile(&admin, "upstream", profile, Save::Add)
        .await
        .unwrap();
    for (name, url) in [
        ("orders", format!("{}/api", upstream.url())),
        // Nothing listens on port 1.
        ("down", "https://127.0.0.1:1/api".to_string()),
    ] {
        let definition = ConnectorEntry {
            kind: "rest".into(),
            url,
            profile: Some("upstream".into()),
            timeout: Some("5s".into()),
            ..ConnectorEntry::default()
        };
        store
            .save_connector(
                &admin,
                name,
                NewConnector {
                    definition,
                    auth: None,
                },
                Save::Add,
            )
            .await
            .unwrap();
        store
            .save_integration(
                &admin,
                name,
                NewIntegration {
                    connector: name.into(),
                    description: String::new(),
                    require_password: false,
                },
                Save::Add,
            )
            .await
            .unwrap();
    }

    // alice may invoke both and has a password; bob may invoke nothing.
    store
        .add_user(
            &admin,
            NewUser::new("alice")
                .password(Zeroizing::new("alice-password-1".into()))
                .permission(Permission::Invoke("orders".into()))
                .permission(Permission::Invoke("down".into())),
        )
        .await
        .unwrap();
    store.add_user(&admin, NewUser::new("bob")).await.unwrap();
    let mut issued = Vec::new();
    for user in ["alice", "bob"] {
        let (_, identity) = store
            .issue_certificate(
                &admin,
                user,
                parse_subject(&format!("CN={user}")).unwrap(),
                KeyType::EcP256,
                30,
            )
            .await
            .unwrap();
        issued.push((identity.key, identity.chain));
    }
    let bob = issued.pop().unwrap();
    let alice = issued.pop().unwrap();

    // A partner CA the administrator trusts for client certificates.
    let partner_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Partner Client CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let partner_cert = params.self_signed(&partner_key).unwrap();
    store
        .add_truststore(
            &admin,
            "partner-clients",
            vec![Certificate::from_der(partner_cert.der().to_vec(), "partner CA").unwrap()],
            "partner-ca.pem",
        )
        .await
        .unwrap();
    let partner_ca = Issuer::new(params, partner_key);

    let gateway = Gateway::start(store.clone(), options).await.unwrap();
    Setup {
        store,
        gateway,
        ca_root: ca.root.clone(),
        alice,
        bob,
        partner_ca,
        upstream,
        _dir: dir,
    }
}

/// A TLS connection to `address`, trusting `root`, presenting `identity`.
pub async fn connect(
    address: SocketAddr,
    root: &Certificate,
    identity: Option<&Identity>,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(root.der().to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((key, chain)) => builder
            .with_client_auth_cert(
                chain
                    .iter()
                    .map(|c| CertificateDer::from(c.der().to_vec()))
                    .collect(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec())),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())
}

/// One HTTP/1.1 request over TLS to `address`, trusting `root`, presenting `identity`.
/// `Ok((status, headers and body))`, or the TLS or I/O error as text.
pub async fn call(
    address: SocketAddr,
    root: &Certificate,
    identity: Option<&Identity>,
    request: &str,
) -> Result<(u16, String), String> {
    let mut tls = connect(address, root, identity).await?;
    let request = request.replace('\n', "\r\n");
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    read_answer(tls).await
}

/// The rest of what the server sends, as `(status, headers and body)`.
pub async fn read_answer(
    mut tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> Result<(u16, String), String> {
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP answer: {answer:?}"))?;
    Ok((status, answer))
}

pub fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\nHost: localhost\nConnection: close\n{extra}\n")
}

/// Reads one answer from a kept-alive connection: (status, body), by Content-Length.
pub async fn read_one(
    tls: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> (u16, String) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tls.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "closed before the answer's head ended: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    let mut body = vec![0u8; length];
    tls.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

pub fn admin_ctx() -> Context {
    Context::local_admin()
}

pub async fn wait_for<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Calls until the answer is `want` (the gateway picks up store changes within its
/// reload period), at most 10 s.
pub async fn wait_for_status(
    at: SocketAddr,
    root: &Certificate,
    identity: &Identity,
    request: &str,
    want: u16,
) -> (u16, String) {
    let started = Instant::now();
    loop {
        let result = call(at, root, Some(identity), request).await;
        match result {
            Ok((status, answer))
                if status == want || started.elapsed() > Duration::from_secs(10) =>
            {
                return (status, answer);
            }
            Err(e) if started.elapsed() > Duration::from_secs(10) => return (0, e),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

pub async fn admin_get(at: SocketAddr, path: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(at).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer
}
