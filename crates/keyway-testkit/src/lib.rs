//! Test support for keyway (dev-only): certificate chains generated with rcgen, and
//! launchers for the outside tools keyway is checked against (`keytool`, `openssl`), and
//! a throwaway PostgreSQL server ([`postgres_database`]), and a local SMTP receiver with
//! STARTTLS ([`SmtpReceiver`]), and a CONNECT proxy ([`ConnectProxy`]).
//!
//! A test that needs a tool calls [`tool`], which fails the test when the tool is
//! missing instead of letting it pass silently. The README's test command installs
//! the tools on a fresh machine.
//!
//! ```no_run
//! let chain = keyway_testkit::TestChain::new("partner-a", keyway_testkit::KeyKind::EcP256);
//! let dir = tempfile::tempdir().unwrap();
//! chain.write_pem(dir.path());
//! ```

mod browser;
mod https;
mod postgres;
mod proxy;
mod smtp;
pub use browser::WebDriver;
pub use https::{Counters, HttpsOptions, HttpsServer};
pub use postgres::postgres_database;
pub use proxy::{ConnectProxy, ProxyOptions, Request as ProxyRequest, Tinyproxy};
pub use rcgen::ExtendedKeyUsagePurpose;
pub use smtp::SmtpReceiver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SignatureAlgorithm,
};
use time::{Duration, OffsetDateTime};

/// Finds an outside tool on PATH, failing the test with the way to install it.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` is not installed, and this test checks keyway against it. \
         Run the README's test command (scripts/test.sh), which installs it \
         (keytool: Debian package default-jdk-headless; openssl: package openssl)."
    );
}

/// Every file under `dir` (relative path and content), sorted: compare two snapshots to
/// prove a refused command wrote nothing.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let content = std::fs::read(&path).unwrap();
                out.push((path.strip_prefix(root).unwrap().into(), content));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

/// Runs a command, failing the test with its output when it exits non-zero.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// `keytool` with the given arguments, run to success; returns stdout.
pub fn keytool(args: &[&str]) -> String {
    let out = run(Command::new(tool("keytool")).args(args).env("LC_ALL", "C"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `keytool` expected to fail; returns stdout and stderr together.
pub fn keytool_fails(args: &[&str]) -> String {
    let out = Command::new(tool("keytool"))
        .args(args)
        .output()
        .expect("start keytool");
    assert!(
        !out.status.success(),
        "keytool {args:?} was expected to fail"
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `openssl` with the given arguments, run to success; returns stdout.
pub fn openssl(args: &[&str]) -> String {
    let out = run(Command::new(tool("openssl")).args(args));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Key types for generated chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA P-256.
    EcP256,
    /// ECDSA P-384.
    EcP384,
    /// RSA 2048.
    Rsa2048,
    /// Ed25519.
    Ed25519,
}

impl KeyKind {
    fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyKind::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyKind::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
            KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }
}

/// A root CA, an intermediate and a leaf with its private key.
pub struct TestChain {
    /// Root CA certificate, PEM.
    pub root_pem: String,
    /// Intermediate CA certificate, PEM.
    pub intermediate_pem: String,
    /// Leaf certificate, PEM.
    pub leaf_pem: String,
    /// Leaf private key, PKCS#8 PEM.
    pub leaf_key_pem: String,
    /// Leaf certificate, DER.
    pub leaf_der: Vec<u8>,
    /// Root certificate, DER.
    pub root_der: Vec<u8>,
    /// The root again with the same key and subject and a validity from yesterday for
    /// ten years, as a CA renews its root (PEM).
    pub renewed_root_pem: String,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no SANs");
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "keyway tests");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    // As real CAs issue them: the issuer's key identifier in each certificate it signs.
    params.use_authority_key_identifier_extension = true;
    params
}

/// How [`TestChain::build`] makes a chain; the default is a good one.
#[derive(Debug, Clone)]
pub struct ChainOptions {
    /// The leaf's key type.
    pub kind: KeyKind,
    /// The leaf's validity, in days relative to now.
    pub leaf_days: (i64, i64),
    /// The root's validity, in days relative to now.
    pub root_days: (i64, i64),
    /// The leaf's serial number (big-endian bytes); random when `None`.
    pub leaf_serial: Option<Vec<u8>>,
    /// A leaf key made elsewhere (PKCS#8 or traditional PEM), e.g. a 1024-bit RSA key
    /// from `openssl genpkey`, which rcgen cannot make.
    pub leaf_key_pem: Option<String>,
    /// Names the leaf carries besides `{name}.test`, e.g. `localhost` for a test that
    /// cannot set the server name (IP addresses become IP SANs).
    pub extra_names: Vec<String>,
    /// The leaf's extended key usages; empty: no extension (any purpose).
    pub leaf_purposes: Vec<rcgen::ExtendedKeyUsagePurpose>,
    /// Make the leaf a CA (basic constraints CA:TRUE), as a misconfigured server's is.
    pub leaf_is_ca: bool,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions {
            kind: KeyKind::EcP256,
            leaf_days: (-1, 365),
            root_days: (-1, 3650),
            leaf_serial: None,
            leaf_key_pem: None,
            extra_names: Vec::new(),
            leaf_purposes: Vec::new(),
            leaf_is_ca: false,
        }
    }
}

impl TestChain {
    /// A fresh chain; the leaf is valid for 365 days from yesterday.
    pub fn new(name: &str, kind: KeyKind) -> Self {
        Self::build(
            name,
            &ChainOptions {
                kind,
                ..ChainOptions::default()
            },
        )
    }

    /// A fresh chain whose leaf is valid from `from_days` to `to_days` relative to now
    /// (negative `to_days` makes an expired leaf).
    pub fn with_leaf_validity(name: &str, kind: KeyKind, from_days: i64, to_days: i64) -> Self {
        Self::build(
            name,
            &ChainOptions {
                kind,
                leaf_days: (from_days, to_days),
                ..ChainOptions::default()
            },
        )
    }

    /// A root, an intermediate and a leaf for `{name}.test`, made as `options` say.
    pub fn build(name: &str, options: &ChainOptions) -> Self {
        let now = OffsetDateTime::now_utc();
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("root key");
        let renewed_root_pem = ca_params(&format!("{name} Root CA"))
            .self_signed(&root_key)
            .expect("renewed root")
            .pem();
        let mut root_params = ca_params(&format!("{name} Root CA"));
        root_params.not_before = now + Duration::days(options.root_days.0);
        root_params.not_after = now + Duration::days(options.root_days.1);
        let root = CertifiedIssuer::self_signed(root_params, root_key).expect("root");
        let int_key =
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("intermediate key");
        let intermediate =
            CertifiedIssuer::signed_by(ca_params(&format!("{name} Issuing CA")), int_key, &root)
                .expect("intermediate");
        let mut names = vec![format!("{name}.test")];
        names.extend(options.extra_names.iter().cloned());
        let mut params = CertificateParams::new(names).expect("SAN");
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "keyway tests");
        params.not_before = now + Duration::days(options.leaf_days.0);
        params.not_after = now + Duration::days(options.leaf_days.1);
        params.serial_number = options.leaf_serial.clone().map(rcgen::SerialNumber::from);
        params.extended_key_usages = options.leaf_purposes.clone();
        params.use_authority_key_identifier_extension = true;
        if options.leaf_is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let (leaf, leaf_key_pem) = match &options.leaf_key_pem {
            Some(pem) => {
                let spki = openssl_public_key(pem);
                let leaf = params.signed_by(&spki, &intermediate).expect("leaf");
                (leaf, pem.clone())
            }
            None => {
                let key = KeyPair::generate_for(options.kind.algorithm()).expect("leaf key");
                let leaf = params.signed_by(&key, &intermediate).expect("leaf");
                (leaf, key.serialize_pem())
            }
        };
        TestChain {
            root_pem: root.pem(),
            intermediate_pem: intermediate.pem(),
            leaf_pem: leaf.pem(),
            leaf_key_pem,
            leaf_der: leaf.der().to_vec(),
            root_der: root.der().to_vec(),
            renewed_root_pem,
        }
    }

    /// Leaf, intermediate and root PEM, in that order.
    pub fn chain_pem(&self) -> String {
        format!(
            "{}{}{}",
            self.leaf_pem, self.intermediate_pem, self.root_pem
        )
    }

    /// Writes `key.pem`, `leaf.pem`, `chain.pem` (leaf first), `root.pem` into `dir`.
    pub fn write_pem(&self, dir: &Path) {
        std::fs::write(dir.join("key.pem"), &self.leaf_key_pem).expect("write key");
        std::fs::write(dir.join("leaf.pem"), &self.leaf_pem).expect("write leaf");
        std::fs::write(dir.join("chain.pem"), self.chain_pem()).expect("write chain");
        std::fs::write(dir.join("root.pem"), &self.root_pem).expect("write root");
    }
}

/// The public key of a private key PEM, as `openssl pkey -pubout` writes it.
fn openssl_public_key(key_pem: &str) -> rcgen::SubjectPublicKeyInfo {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    std::fs::write(&key, key_pem).expect("write key");
    let public = openssl(&["pkey", "-in", key.to_str().expect("utf-8"), "-pubout"]);
    rcgen::SubjectPublicKeyInfo::from_pem(&public).expect("public key PEM")
}

/// A private key made by `openssl genpkey` (PKCS#8 PEM), e.g. `&["-algorithm", "RSA",
/// "-pkeyopt", "rsa_keygen_bits:1024"]` for a key too weak for rcgen to make.
pub fn openssl_key(genpkey_args: &[&str]) -> String {
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey_args);
    openssl(&args)
}

/// A self-signed certificate (PEM) with the given common name, for truststore entries.
pub fn self_signed_pem(cn: &str) -> String {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    ca_params(cn).self_signed(&key).expect("self-signed").pem()
}

/// An outside CA, as a partner runs one: a self-signed root that signs the CSRs it is
/// sent, the way it chooses (validity, extended key usage).
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// How a [`TestCa`] signs a CSR; the default is a good client certificate.
#[derive(Debug, Clone)]
pub struct Signing {
    /// Validity in days relative to now (negative end: already expired).
    pub days: (i64, i64),
    /// The extended key usage: clientAuth when false, serverAuth only when true.
    pub server_only: bool,
}

impl Default for Signing {
    fn default() -> Self {
        Signing {
            days: (-1, 365),
            server_only: false,
        }
    }
}

impl TestCa {
    /// A root called `{name} Root CA`.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
        let issuer = CertifiedIssuer::self_signed(ca_params(&format!("{name} Root CA")), key)
            .expect("CA certificate");
        TestCa { issuer }
    }

    /// The root certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Signs a PEM CSR, keeping its subject and key; returns the certificate, PEM.
    pub fn sign(&self, csr_pem: &str, signing: &Signing) -> String {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem).expect("CSR");
        let now = OffsetDateTime::now_utc();
        csr.params.not_before = now + Duration::days(signing.days.0);
        csr.params.not_after = now + Duration::days(signing.days.1);
        csr.params.is_ca = IsCa::ExplicitNoCa;
        csr.params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        csr.params.extended_key_usages = vec![if signing.server_only {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        }];
        csr.signed_by(&self.issuer)
            .expect("signed certificate")
            .pem()
    }

    /// A new client certificate `CN={cn}` (clientAuth, a year): (key PKCS#8 PEM,
    /// certificate PEM, serial in lower-case hex).
    pub fn client(&self, cn: &str) -> (String, String, String) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("client key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no SANs");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(365);
        let mut serial = [0u8; 16];
        getrandom::fill(&mut serial).expect("random serial");
        serial[0] = 0x41; // positive, no leading zero
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let cert = params.signed_by(&key, &self.issuer).expect("client cert");
        let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
        (key.serialize_pem(), cert.pem(), hex)
    }

    /// A CRL numbered `number`, issued `age_days` ago and due `next_days` from now,
    /// revoking the certificates with these serials (hex); PEM.
    pub fn crl(&self, number: u64, revoked: &[&str], age_days: i64, next_days: i64) -> String {
        let now = OffsetDateTime::now_utc();
        let revoked_certs = revoked
            .iter()
            .map(|hex| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(&unhex(hex)),
                revocation_time: now - Duration::days(age_days) - Duration::hours(1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect();
        rcgen::CertificateRevocationListParams {
            this_update: now - Duration::days(age_days),
            next_update: now + Duration::days(next_days),
            crl_number: rcgen::SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .expect("CRL")
        .pem()
        .expect("CRL PEM")
    }
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex serial"))
        .collect()
}

/// An `openssl s_server` on 127.0.0.1 and a port the system picked; killed when dropped.
pub struct OpensslServer {
    child: std::process::Child,
    /// The port it listens on.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl OpensslServer {
    /// Starts `openssl s_server` with `chain`'s leaf, key and intermediate, plus `args`
    /// (e.g. `["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]`). In `args`, `{root}`, `{leaf}`
    /// and `{key}` stand for the files of the chain's root, leaf and leaf key.
    pub fn start(chain: &TestChain, args: &[&str]) -> Self {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("tempdir");
        chain.write_pem(dir.path());
        let intermediate = dir.path().join("intermediate.pem");
        std::fs::write(&intermediate, &chain.intermediate_pem).expect("write intermediate");
        let root = dir.path().join("root.pem");
        let root_arg = root.to_str().expect("utf-8 path").to_string();
        let file = |name: &str| {
            dir.path()
                .join(name)
                .to_str()
                .expect("utf-8 path")
                .to_string()
        };
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("{root}", &root_arg)
                    .replace("{leaf}", &file("leaf.pem"))
                    .replace("{key}", &file("key.pem"))
            })
            .collect();
        let mut child = Command::new(tool("openssl"))
            .arg("s_server")
            .args(["-accept", "127.0.0.1:0", "-cert"])
            .arg(dir.path().join("leaf.pem"))
            .arg("-key")
            .arg(dir.path().join("key.pem"))
            .arg("-cert_chain")
            .arg(&intermediate)
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout);
        let mut port = None;
        let mut line = String::new();
        while lines.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(addr) = line.trim().strip_prefix("ACCEPT ") {
                port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
                break;
            }
            line.clear();
        }
        let Some(port) = port else {
            let _ = child.kill();
            panic!("openssl s_server {args:?} did not start (no ACCEPT line)");
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        OpensslServer {
            child,
            port,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How an in-process rustls test server behaves.
#[derive(Clone)]
pub struct ServerOptions {
    /// Protocol versions it speaks.
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
    /// Whether it sends the intermediate after the leaf (a misconfigured server does not).
    pub send_intermediate: bool,
    /// Require client certificates issued by this root (PEM).
    pub client_ca_pem: Option<String>,
    /// Send exactly these certificates (PEM, in this order) instead of the leaf and
    /// intermediate: a chain out of order, or with a stray certificate.
    pub chain_pem: Option<Vec<String>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            send_intermediate: true,
            client_ca_pem: None,
            chain_pem: None,
        }
    }
}

/// A rustls server on 127.0.0.1 and a port the system picked, answering every request
/// with `HTTP/1.1 200 OK`, except `/status/NNN`, answered with status NNN (401 with a
/// `WWW-Authenticate: Basic realm="partner-api"` challenge, errors with a small HTML
/// body); `/stall`, whose answer stops after its head and 4 of its 100 bytes (the
/// connection closed 5 s later); `/trickle`, whose 25 body bytes come one every
/// 100 ms; and `/once`, a 200 `ok` on a connection that closes, unanswered, when the
/// next request on it comes. It stops when dropped.
pub struct RustlsServer {
    /// The port.
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RustlsServer {
    /// Starts a server presenting `chain`'s leaf (and intermediate, unless told not to).
    pub fn start(chain: &TestChain, options: ServerOptions) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        let config = Arc::new(server_config(chain, &options));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let config = config.clone();
                std::thread::spawn(move || serve_one(config, stream));
            }
        });
        RustlsServer { port, stop }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The rustls server configuration the test servers use.
pub(crate) fn server_config(chain: &TestChain, options: &ServerOptions) -> rustls::ServerConfig {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use std::sync::Arc;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut certs =
        vec![CertificateDer::from_pem_slice(chain.leaf_pem.as_bytes()).expect("leaf PEM")];
    if let Some(chain) = &options.chain_pem {
        certs = chain
            .iter()
            .map(|pem| CertificateDer::from_pem_slice(pem.as_bytes()).expect("chain PEM"))
            .collect();
    } else if options.send_intermediate {
        certs.push(
            CertificateDer::from_pem_slice(chain.intermediate_pem.as_bytes())
                .expect("intermediate PEM"),
        );
    }
    let key = PrivateKeyDer::from_pem_slice(chain.leaf_key_pem.as_bytes()).expect("key PEM");
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&options.versions)
        .expect("versions");
    let builder = match &options.client_ca_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(pem.as_bytes()).expect("CA PEM"))
                .expect("add CA");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(certs, key)
        .expect("server certificate")
}

fn serve_one(config: std::sync::Arc<rustls::ServerConfig>, stream: std::net::TcpStream) {
    use std::io::{Read, Write};
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    if path == "/once" {
        // Keep-alive in name only: the next request on the connection gets no answer,
        // the connection is closed as it arrives (a partner's idle timeout striking just
        // then, or a server that takes one request per connection without saying so).
        if tls
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .and_then(|_| tls.flush())
            .is_ok()
        {
            let _ = tls.read(&mut buf);
        }
        return;
    }
    if path == "/stall" || path == "/trickle" {
        let length = if path == "/stall" { 100 } else { 25 };
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n");
        if tls
            .write_all(head.as_bytes())
            .and_then(|_| tls.flush())
            .is_err()
        {
            return;
        }
        if path == "/stall" {
            let _ = tls.write_all(b"part").and_then(|_| tls.flush());
            std::thread::sleep(std::time::Duration::from_secs(5));
            return;
        }
        for _ in 0..length {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if tls.write_all(b".").and_then(|_| tls.flush()).is_err() {
                return;
            }
        }
        return;
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|path| path.strip_prefix("/status/"))
        .and_then(|code| code.parse().ok())
        .unwrap_or(200);
    let response = match status {
        200 => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
        401 => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"partner-api\"\r\nContent-Length: 0\r\n\r\n".to_string(),
        code => {
            let body = format!(
                "<html><body><h1>Error {code}</h1>\n<p>order-service: no route for this path</p></body></html>"
            );
            format!(
                "HTTP/1.1 {code} Test Error\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        }
    };
    let _ = tls.write_all(response.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

impl Drop for RustlsServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A PKCS#12 client identity (password `changeit`, alias `client`) for `chain`'s leaf.
pub fn client_p12(chain: &TestChain, dir: &Path) -> PathBuf {
    let path = dir.join("client.p12");
    let key = dir.join("client-key.pem");
    let certs = dir.join("client-chain.pem");
    std::fs::write(&key, &chain.leaf_key_pem).expect("write key");
    std::fs::write(&certs, chain.chain_pem()).expect("write chain");
    openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        key.to_str().expect("utf-8"),
        "-in",
        certs.to_str().expect("utf-8"),
        "-name",
        "client",
        "-passout",
        "pass:changeit",
        "-out",
        path.to_str().expect("utf-8"),
    ]);
    path
}

impl TestChain {
    /// A root (RSA, SHA-256) and a leaf for `{name}.test` (RSA, serverAuth) that the root
    /// signs with `digest` (`sha1`, `md5`…): made by `openssl`, since rcgen refuses weak
    /// digests. There is no intermediate: the intermediate fields hold the root.
    pub fn signed_with_digest(name: &str, digest: &str) -> Self {
        Self::openssl_made(name, &["-newkey", "rsa:2048"], digest)
    }

    /// Like [`TestChain::signed_with_digest`], with the root's key made as `newkey` says to
    /// `openssl req` (e.g. `["-newkey", "ec", "-pkeyopt",
    /// "ec_paramgen_curve:brainpoolP256r1"]`), and the leaf signed with SHA-256.
    pub fn signed_by_root_key(name: &str, newkey: &[&str]) -> Self {
        Self::openssl_made(name, newkey, "sha256")
    }

    fn openssl_made(name: &str, newkey: &[&str], digest: &str) -> Self {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |f: &str| dir.path().join(f).to_str().expect("utf-8").to_string();
        let mut root_args = vec!["req", "-x509"];
        root_args.extend_from_slice(newkey);
        let subject = format!("/CN={name} Root CA/O=keyway tests");
        let (key, pem) = (file("ca.key"), file("ca.pem"));
        root_args.extend_from_slice(&[
            "-nodes",
            "-sha256",
            "-days",
            "30",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&root_args);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &file("leaf.key"),
            "-out",
            &file("leaf.csr"),
            "-subj",
            &format!("/CN={name}.test"),
        ]);
        std::fs::write(
            dir.path().join("ext"),
            format!(
                "subjectAltName=DNS:{name}.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .expect("write ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            &file("leaf.csr"),
            "-CA",
            &file("ca.pem"),
            "-CAkey",
            &file("ca.key"),
            "-CAcreateserial",
            "-days",
            "30",
            &format!("-{digest}"),
            "-extfile",
            &file("ext"),
            "-out",
            &file("leaf.pem"),
        ]);
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).expect("read");
        let der = |pem: &str| {
            CertificateDer::from_pem_slice(pem.as_bytes())
                .expect("PEM")
                .to_vec()
        };
        TestChain {
            root_pem: read("ca.pem"),
            intermediate_pem: read("ca.pem"),
            leaf_pem: read("leaf.pem"),
            leaf_key_pem: read("leaf.key"),
            leaf_der: der(&read("leaf.pem")),
            root_der: der(&read("ca.pem")),
            renewed_root_pem: read("ca.pem"),
        }
    }

    /// A "chain" whose leaf is a self-signed certificate for `dns_name` (issuer = subject);
    /// intermediate and root are that same certificate.
    pub fn self_signed_leaf(dns_name: &str) -> Self {
        Self::self_signed(dns_name, false)
    }

    /// Like [`TestChain::self_signed_leaf`], but the certificate is a CA (basic
    /// constraints CA:TRUE), as `openssl req -x509` makes by default.
    pub fn self_signed_ca_leaf(dns_name: &str) -> Self {
        Self::self_signed(dns_name, true)
    }

    fn self_signed(dns_name: &str, ca: bool) -> Self {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = CertificateParams::new(vec![dns_name.to_string()]).expect("SAN");
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params.distinguished_name.push(DnType::CommonName, dns_name);
        params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(365);
        let cert = params.self_signed(&key).expect("self-signed");
        TestChain {
            root_pem: cert.pem(),
            intermediate_pem: cert.pem(),
            leaf_pem: cert.pem(),
            leaf_key_pem: key.serialize_pem(),
            leaf_der: cert.der().to_vec(),
            root_der: cert.der().to_vec(),
            renewed_root_pem: cert.pem(),
        }
    }
}

/// The first shape of a library type's `Debug` rendering found in `text` (`Context {`,
/// `Some(`, a byte array…), or `None` when the text is plain words. keyway never shows
/// such a rendering to a user; tests run every diagnosis through this.
pub fn debug_shape(text: &str) -> Option<String> {
    const SHAPES: [&str; 12] = [
        "Context {",
        "Some(",
        "(None",
        "None)",
        "Error(",
        "Kind(",
        "AlertReceived",
        "InvalidCertificate(",
        "InvalidMessage(",
        "PeerMisbehaved",
        "PeerIncompatible",
        "OtherError",
    ];
    if let Some(shape) = SHAPES.iter().find(|s| text.contains(**s)) {
        return Some(shape.to_string());
    }
    // `Name { field: …` — a struct rendered by Debug.
    let words: Vec<&str> = text.split(' ').collect();
    for w in words.windows(3) {
        if w[0].chars().next().is_some_and(char::is_uppercase) && w[1] == "{" && w[2].ends_with(':')
        {
            return Some(w.join(" "));
        }
    }
    // A byte array: `[6, 9, 42` or `[0x06`.
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('[') {
        let rest = &bytes[i + 1..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if rest.starts_with(b"0x") || (digits > 0 && rest[digits..].starts_with(b", ")) {
            return Some(text[i..(i + 12).min(text.len())].to_string());
        }
    }
    None
}

/// Fails the test when any string in `json` has a `Debug` shape ([`debug_shape`]).
pub fn assert_plain_words(json: &serde_json::Value) {
    fn walk(value: &serde_json::Value, path: &str) {
        match value {
            serde_json::Value::String(s) => {
                if let Some(shape) = debug_shape(s) {
                    panic!("{path} shows a Debug rendering ({shape}): {s}");
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"));
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    walk(item, &format!("{path}.{key}"));
                }
            }
            _ => {}
        }
    }
    walk(json, "$");
}

/// Fails the test unless `value` is valid against `docs/json/{kind}.schema.json`, the
/// JSON contract of keyway's `--json` outputs (`docs/json.md`), listing every error.
pub fn assert_json_kind(kind: &str, value: &serde_json::Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json");
    let mut registry = jsonschema::Registry::new();
    for entry in std::fs::read_dir(&dir).expect("docs/json") {
        let path = entry.expect("docs/json entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".schema.json") {
            continue;
        }
        let schema: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read schema"))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        registry = registry
            .add(format!("https://keyway.invalid/json/{name}"), schema)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let registry = registry.prepare().expect("schemas fit together");
    let wanted =
        serde_json::json!({"$ref": format!("https://keyway.invalid/json/{kind}.schema.json")});
    let validator = jsonschema::options()
        .with_registry(&registry)
        .build(&wanted)
        .unwrap_or_else(|e| panic!("docs/json/{kind}.schema.json: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{kind}: the output breaks its schema:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

#[cfg(test)]
mod debug_shape_tests {
    use super::debug_shape;

    #[test]
    fn finds_what_a_debug_dump_leaves_and_passes_sentences() {
        for dump in [
            "UnsupportedSignatureAlgorithmContext { signature_algorithm_id: [6, 9, 42] }",
            "received fatal alert: Some(UnknownCA)",
            "bytes [0x06, 0x08]",
            "Foo { bar: 1 }",
        ] {
            assert!(debug_shape(dump).is_some(), "{dump}");
        }
        for words in [
            "the server sent the alert unrecognized_name (112)",
            "the chain [leaf, root] is out of order",
            "None of the suites exists",
        ] {
            assert_eq!(debug_shape(words), None, "{words}");
        }
    }
}
