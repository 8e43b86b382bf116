//! TLS for keyway connectors: the policy that says which protocol versions a connector
//! accepts, profiles, the version probe, handshakes and the diagnosis of failures.
//!
//! What it does now:
//! - [`TlsPolicy`]: the "lowest allowable version" ladder (SSLv3 is accepted in
//!   configurations, never negotiated, and warned about), explicit version flags and
//!   JSSE names parsed into one canonical [`VersionSet`], sets with a gap refused rather
//!   than widened, an optional maximum and IANA cipher-suite list;
//! - [`Profile`]: truststores of any format (or the system roots), a client identity, the
//!   policy and timeouts, checked before any traffic (wrong passwords, missing alias, a
//!   key that does not match); a client certificate outside its dates is diagnosed, not
//!   refused;
//! - [`test()`]: TCP connect, handshake — rustls for TLS 1.2/1.3, the legacy OpenSSL
//!   backend for servers that share only TLS 1.0/1.1 with the policy (the rule is in
//!   [`TlsBackend`]'s docs and the README) — one HTTP request for https URLs, and on failure a [`Diagnosis`] whose [`Cause`] is found from evidence: the
//!   chain captured before verification, the CertificateRequest, the alert, the first
//!   bytes received and the version probe;
//! - [`probe`]: one raw ClientHello per version (SSL 3.0 … TLS 1.3), concurrently, reading
//!   the ServerHello or alert, plus the clear-text chain and CertificateRequest of TLS 1.2
//!   and older;
//! - [`TlsClient`]: TLS connections for connectors (tokio): one [`TlsStream`] type over
//!   rustls and the legacy backend, the same backend rule, verifier and checks as
//!   [`test()`], rustls sessions resumed across connections;
//! - [`explain`]: plain words for every rustls, rustls-webpki and OpenSSL error that can
//!   reach a user; no output shows a library's `Debug` rendering;
//! - [`ProxySetting`]: outbound HTTP proxies — a CONNECT tunnel under the test, the probe
//!   and [`TlsClient`] alike, Basic proxy authentication, the environment's
//!   `HTTPS_PROXY`/`NO_PROXY` read as curl reads them, and the proxy's own failures
//!   diagnosed (`proxy_unreachable`, `proxy_auth_required`, `proxy_refused`,
//!   `proxy_closed`, `proxy_interception`);
//! - [`verify_chain`]: path validation (webpki plus keyway's checks on CRLs, trust
//!   anchors, key strength, serials), run against the x509-limbo vectors; [`test()`] runs
//!   the same [`keyway_checks`] after webpki on both backends.
//!
//! Inside: `config` builds the TLS configuration both paths share (verifier, resolver,
//! versions); `client` is the everyday connection path and depends on `config` only;
//! `connect` runs the connectivity test; `cause` finds the cause of a refused chain from
//! the chain itself, beside `diagnosis`, which holds the causes and their fixes; `explain`
//! puts library errors into words.
//!
//! What it does not do (yet): revocation checks during `test()`, the server side. It
//! never knows about the store or HTTP servers.
//!
//! ```no_run
//! use std::time::Duration;
//! use keyway_tls::{ProbeTarget, TlsPolicy, TlsVersion, probe};
//!
//! let policy = TlsPolicy::lowest_allowable(TlsVersion::Tls12);
//! let report = probe(&ProbeTarget::parse("partner.example.com:443", Duration::from_secs(5))?)?;
//! let usable = report.supported.intersection(policy.accepted());
//! println!("server speaks {}, policy accepts {}, common: {usable}", report.supported, policy.accepted());
//! # Ok::<(), keyway_tls::ProbeError>(())
//! ```

mod alert;
mod cause;
mod client;
mod config;
mod connect;
mod diagnosis;
pub mod explain;
mod legacy;
mod policy;
mod probe;
mod profile;
mod proxy;
mod tap;
mod verify;

pub use alert::alert_name;
pub use cause::chain_cause;
pub use client::{ConnectError, ConnectionInfo, TlsClient, TlsStream};
pub use connect::{TestError, TestTarget, test};
pub use diagnosis::{
    Blame, Cause, Diagnosis, Evidence, Negotiated, Report, Settings, Stage, TestOutcome,
    TlsBackend, chain_file_name, slug,
};
pub use policy::{PolicyError, PolicyWarning, TlsPolicy, TlsVersion, VersionFlags, VersionSet};
pub use probe::{
    ClientCertRequest, ProbeError, ProbeOutcome, ProbeReport, ProbeTarget, VersionProbe, probe,
};
pub use profile::{
    Identity, IdentitySpec, Profile, ProfileError, ProfileSpec, TrustAnchor, TrustSource,
};
pub use proxy::{DEFAULT_PROXY_PORT, NoProxy, Proxy, ProxyError, ProxyEvidence, ProxySetting};
pub use verify::{ChainCheck, Purpose, Refusal, VerifyError, keyway_checks, verify_chain};
