//! The fleet audit (`keyway audit`): every connector of a configuration checked at once,
//! each with its own profile — the connector check, the version probe, the chain the
//! partner presents and what is left of each certificate, whether the partner asks for a
//! client certificate and from which CAs — and, when a policy is required, whether each
//! connector would still connect under it ("what breaks if we require TLS 1.2"), without
//! changing anything.
//!
//! Connectors run concurrently within two bounds: connectors at once overall, and at once
//! against one host and port (a partner with ten connectors is not hit ten times at
//! once). An endpoint that cannot be reached (no address, refused, silent) costs its
//! timeout once: the probe and the what-if are skipped for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyway_keystore::CertInfo;
use keyway_tls::{
    Cause, ProbeReport, ProbeTarget, Profile, TestOutcome, TestTarget, TlsPolicy, TlsVersion,
    VersionSet,
};
use serde::Serialize;
use serde::ser::SerializeStruct;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::check::{ConnectorCheck, HttpProblem, check};
use crate::{Config, Connector, ConnectorDef};

/// How an audit runs.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Connectors checked at once, overall.
    pub concurrency: usize,
    /// Connectors checked at once against one host and port.
    pub per_host: usize,
    /// The what-if: a policy each connector is tried under in place of its own versions
    /// (its own cipher suites are kept unless this policy names some).
    pub require: Option<TlsPolicy>,
    /// A passing connector whose certificates (the partner's chain, its own client
    /// certificate) end within this time is `expiring`.
    pub expiry_warning: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            concurrency: 16,
            per_host: 2,
            require: None,
            expiry_warning: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Where a connector stands, worst first (the order of the audit's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Its check fails today (TLS or the HTTP request), or it could not be built.
    Failing,
    /// It passes today and would fail under the required policy.
    WouldBreak,
    /// It passes, and a certificate it depends on ends soon.
    Expiring,
    /// It passes.
    Passing,
}

impl Standing {
    /// The word the table shows.
    pub fn word(self) -> &'static str {
        match self {
            Standing::Failing => "FAIL",
            Standing::WouldBreak => "BREAKS",
            Standing::Expiring => "EXPIRING",
            Standing::Passing => "ok",
        }
    }
}

/// A certificate a connector depends on.
#[derive(Debug, Clone, Serialize)]
pub struct Dependency {
    /// `server` (the partner's own certificate), `chain` (an issuer the partner sent) or
    /// `client` (the certificate the connector presents).
    pub role: &'static str,
    /// The certificate.
    #[serde(flatten)]
    pub certificate: CertInfo,
    /// Whole days until it ends (negative: ended).
    pub days_left: i64,
}

/// Whether a connector would connect under the required policy.
#[derive(Debug, Clone, Serialize)]
pub struct WhatIf {
    /// Whether it connects.
    pub connects: bool,
    /// The version it would use, when it connects.
    pub version: Option<TlsVersion>,
    /// Why not, when it does not: a diagnosis code (`version_mismatch`, …).
    pub code: Option<&'static str>,
    /// In words.
    pub summary: String,
    /// Whether a handshake was made under the policy; `false` when the connector's own
    /// handshake already used a version the policy allows.
    pub tested: bool,
}

/// What the audit found for one connector.
#[derive(Debug)]
pub struct ConnectorAudit {
    /// The connector's name.
    pub connector: String,
    /// Its URL.
    pub url: String,
    /// `host:port`.
    pub endpoint: String,
    /// The proxy it was reached through, `http://[user@]host:port`, if any.
    pub proxy: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Where it stands.
    pub standing: Standing,
    /// The connector check; `Err`: it could not run (the connector could not be built
    /// from its configuration, or the test could not start), with why.
    pub check: Result<ConnectorCheck, String>,
    /// The version probe; `None` when the endpoint could not be reached.
    pub probe: Option<ProbeReport>,
    /// The certificates it depends on: the chain the partner sent, its client certificate.
    pub certificates: Vec<Dependency>,
    /// The CA names the partner accepts for client certificates, when it asks for one
    /// (empty: any).
    pub client_certificate_request: Option<Vec<String>>,
    /// Under the required policy, when one was given and the endpoint was reached.
    pub what_if: Option<WhatIf>,
    /// When the partner presents another certificate than at the last check kept (the
    /// watch's): that check's certificate. Set by whoever keeps checks
    /// ([`FleetAudit::compare`]).
    pub changed: Option<CertificateChange>,
    /// How long its checks took.
    pub elapsed: Duration,
}

/// The partner's certificate at the last check kept, when it differs from today's.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateChange {
    /// SHA-256 then.
    pub sha256: String,
    /// Its issuer then.
    pub issuer: Option<String>,
    /// Whether the issuer changed too (a new CA, not only a renewal).
    pub new_issuer: bool,
}

impl ConnectorAudit {
    /// The diagnosis code of a failure today (`untrusted_root`, …; `http` for a failed
    /// request, `configuration` when the connector could not be built).
    pub fn code(&self) -> Option<&'static str> {
        match &self.check {
            Err(_) => Some("configuration"),
            Ok(c) => match &c.tls {
                TestOutcome::Failed(d) => Some(d.cause.code()),
                TestOutcome::Connected { .. } => c
                    .http
                    .as_ref()
                    .and_then(|h| h.problem.as_ref())
                    .map(|p| match p {
                        HttpProblem::Unauthorized { .. } => "http_unauthorized",
                        _ => "http_error",
                    }),
            },
        }
    }

    /// The TLS version the connector negotiated today.
    pub fn negotiated(&self) -> Option<TlsVersion> {
        match &self.check {
            Ok(ConnectorCheck {
                tls: TestOutcome::Connected { negotiated, .. },
                ..
            }) => Some(negotiated.version),
            _ => None,
        }
    }

    /// The versions the partner speaks, from the probe.
    pub fn partner_versions(&self) -> Option<VersionSet> {
        self.probe.as_ref().map(|p| p.supported)
    }

    /// The certificate that ends first.
    pub fn earliest(&self) -> Option<&Dependency> {
        self.certificates.iter().min_by_key(|d| d.days_left)
    }

    /// One line: why it stands where it stands.
    pub fn summary(&self) -> String {
        let today = match &self.check {
            Err(why) => return why.clone(),
            Ok(c) => match &c.tls {
                TestOutcome::Failed(d) => return d.cause.summary(),
                TestOutcome::Connected { negotiated, .. } => match &c.http {
                    Some(h) => match &h.problem {
                        Some(problem) => return format!("HTTP check failed: {problem}"),
                        None => format!(
                            "{} {}, HTTP {}",
                            negotiated.version,
                            negotiated.cipher,
                            h.status.map(|s| s.to_string()).unwrap_or_default()
                        ),
                    },
                    None => format!("{} {}", negotiated.version, negotiated.cipher),
                },
            },
        };
        match (self.standing, &self.what_if, self.earliest()) {
            (Standing::WouldBreak, Some(w), _) => {
                format!("would fail under the required policy: {}", w.summary)
            }
            (Standing::Expiring, _, Some(d)) => format!(
                "{} certificate {} ends in {} days",
                d.role, d.certificate.subject, d.days_left
            ),
            _ => today,
        }
    }
}

impl Serialize for ConnectorAudit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ConnectorAudit", 17)?;
        s.serialize_field("connector", &self.connector)?;
        s.serialize_field("url", &self.url)?;
        s.serialize_field("endpoint", &self.endpoint)?;
        s.serialize_field("proxy", &self.proxy)?;
        s.serialize_field("tags", &self.tags)?;
        s.serialize_field("standing", &self.standing)?;
        s.serialize_field("code", &self.code())?;
        s.serialize_field("summary", &self.summary())?;
        s.serialize_field("negotiated_version", &self.negotiated())?;
        s.serialize_field("partner_versions", &self.partner_versions())?;
        match &self.check {
            Ok(check) => s.serialize_field("check", check)?,
            Err(_) => s.serialize_field("check", &None::<()>)?,
        }
        s.serialize_field("probe", &self.probe)?;
        s.serialize_field("certificates", &self.certificates)?;
        s.serialize_field(
            "client_certificate_request",
            &self
                .client_certificate_request
                .as_ref()
                .map(|cas| serde_json::json!({ "acceptable_cas": cas })),
        )?;
        s.serialize_field("what_if", &self.what_if)?;
        s.serialize_field("changed", &self.changed)?;
        s.serialize_field("elapsed_ms", &(self.elapsed.as_millis() as u64))?;
        s.end()
    }
}

/// The whole audit.
#[derive(Debug, Serialize)]
pub struct FleetAudit {
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
    /// The what-if policy, when one was required.
    pub require: Option<TlsPolicy>,
    /// How many stand where.
    pub counts: Counts,
    /// Every connector, worst first, then by name.
    pub connectors: Vec<ConnectorAudit>,
}

/// How many connectors stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Connectors audited.
    pub total: usize,
    /// Passing (expiring ones included).
    pub passing: usize,
    /// Passing with a certificate ending soon.
    pub expiring: usize,
    /// Failing today.
    pub failing: usize,
    /// Passing today, failing under the required policy.
    pub would_break: usize,
}

impl FleetAudit {
    /// Marks the connectors whose partner presents another certificate than `last` says
    /// it did: `last` gives, per connector, the SHA-256 and issuer of the partner's
    /// certificate at the last check kept.
    pub fn compare(&mut self, last: impl Fn(&str) -> Option<(String, Option<String>)>) {
        for row in &mut self.connectors {
            let Some(now) = row.certificates.iter().find(|d| d.role == "server") else {
                continue;
            };
            if let Some((sha256, issuer)) = last(&row.connector)
                && sha256 != now.certificate.sha256
            {
                row.changed = Some(CertificateChange {
                    new_issuer: issuer.as_deref() != Some(now.certificate.issuer.as_str()),
                    sha256,
                    issuer,
                });
            }
        }
    }

    /// Whether every connector passes and none would break.
    pub fn ok(&self) -> bool {
        self.counts.failing == 0 && self.counts.would_break == 0
    }

    /// The summary line: "12 connectors: 9 pass (1 with a certificate ending soon),
    /// 2 fail, 1 would break under TLS 1.2–1.3".
    pub fn summary(&self) -> String {
        let c = self.counts;
        let noun = if c.total == 1 {
            "connector"
        } else {
            "connectors"
        };
        let mut line = format!("{} {noun}: {} pass", c.total, c.passing);
        if c.expiring > 0 {
            line.push_str(&format!(" ({} with a certificate ending soon)", c.expiring));
        }
        line.push_str(&format!(", {} fail", c.failing));
        if let Some(policy) = &self.require {
            line.push_str(&format!(
                ", {} would break under a policy that {policy}",
                c.would_break
            ));
        }
        line
    }
}

/// Audits the connectors of `config` named in `names` (all of them when empty), calling
/// `done` as each finishes (for a progress bar). Never fails: a connector that cannot be
/// built or tested is a failing row saying why.
pub async fn audit(
    config: &Config,
    names: &[String],
    options: &AuditOptions,
    mut done: impl FnMut(&ConnectorAudit),
) -> FleetAudit {
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let defs: Vec<&ConnectorDef> = if names.is_empty() {
        config.connectors().collect()
    } else {
        config
            .connectors()
            .filter(|d| names.contains(&d.name))
            .collect()
    };
    let overall = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks = JoinSet::new();
    for def in defs {
        let endpoint = endpoint(def);
        let host = hosts
            .entry(endpoint.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(options.per_host.max(1))))
            .clone();
        let overall = overall.clone();
        let built = Connector::new(config, def).map_err(|e| e.to_string());
        let def = def.clone();
        let options = options.clone();
        tasks.spawn(async move {
            // The host's turn first, then a slot overall: a connector waiting for its
            // host holds no slot another host could use.
            let _host = host.acquire_owned().await;
            let _slot = overall.acquire_owned().await;
            audit_one(def, endpoint, built, &options).await
        });
    }
    let mut connectors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let one = match joined {
            Ok(one) => one,
            Err(stopped) => std::panic::resume_unwind(stopped.into_panic()),
        };
        done(&one);
        connectors.push(one);
    }
    connectors.sort_by(|a, b| (a.standing, &a.connector).cmp(&(b.standing, &b.connector)));
    let mut counts = Counts {
        total: connectors.len(),
        ..Counts::default()
    };
    for c in &connectors {
        match c.standing {
            Standing::Failing => counts.failing += 1,
            Standing::WouldBreak => counts.would_break += 1,
            Standing::Expiring => {
                counts.expiring += 1;
                counts.passing += 1;
            }
            Standing::Passing => counts.passing += 1,
        }
    }
    FleetAudit {
        started,
        elapsed_ms: clock.elapsed().as_millis() as u64,
        require: options.require.clone(),
        counts,
        connectors,
    }
}

/// `host:port` of a connector's URL.
fn endpoint(def: &ConnectorDef) -> String {
    let host = def.url.host().unwrap_or("");
    format!("{host}:{}", def.url.port_u16().unwrap_or(443))
}

async fn audit_one(
    def: ConnectorDef,
    endpoint: String,
    built: Result<Connector, String>,
    options: &AuditOptions,
) -> ConnectorAudit {
    let clock = Instant::now();
    let mut row = ConnectorAudit {
        connector: def.name.clone(),
        url: def.url_text.trim().to_string(),
        endpoint,
        proxy: None,
        tags: def.tags.clone(),
        standing: Standing::Failing,
        check: Err(String::new()),
        probe: None,
        certificates: Vec::new(),
        client_certificate_request: None,
        what_if: None,
        changed: None,
        elapsed: Duration::ZERO,
    };
    let connector = match built {
        Ok(c) => c,
        Err(why) => {
            row.check = Err(why);
            row.elapsed = clock.elapsed();
            return row;
        }
    };
    let checked = match check(&connector).await {
        Ok(c) => c,
        Err(e) => {
            row.check = Err(e.to_string());
            row.elapsed = clock.elapsed();
            return row;
        }
    };
    let evidence = match &checked.tls {
        TestOutcome::Connected { evidence, .. } => evidence,
        TestOutcome::Failed(d) => &d.evidence,
    };
    let reached = !matches!(
        &checked.tls,
        TestOutcome::Failed(d) if matches!(
            d.cause,
            Cause::DnsFailure { .. }
                | Cause::ConnectionRefused { .. }
                | Cause::ConnectTimeout { .. }
                | Cause::HandshakeTimeout { .. }
                | Cause::ProxyUnreachable { .. }
                | Cause::ProxyAuthRequired { .. }
                | Cause::ProxyRefused { .. }
                | Cause::ProxyClosed {
                    tunnel_established: false,
                    ..
                }
        )
    );
    row.proxy = evidence.proxy.as_ref().map(|p| p.proxy.clone());
    let profile = connector.profile();
    if reached {
        row.probe = match &evidence.probe {
            Some(report) => Some(report.clone()),
            None => probe(&connector).await,
        };
    }
    // The chain as the connector's own handshake saw it; a probe's (TLS 1.2 or older)
    // when that handshake ended before the certificates.
    let chain = if evidence.server_chain.is_empty() {
        row.probe
            .as_ref()
            .map(|p| p.chain.clone())
            .unwrap_or_default()
    } else {
        evidence.server_chain.clone()
    };
    let now = OffsetDateTime::now_utc();
    let days_left = |c: &CertInfo| (c.not_after - now).whole_days();
    for (i, cert) in chain.into_iter().enumerate() {
        row.certificates.push(Dependency {
            role: if i == 0 { "server" } else { "chain" },
            days_left: days_left(&cert),
            certificate: cert,
        });
    }
    if let Some(identity) = &profile.identity
        && let Some(leaf) = identity.chain.first()
    {
        row.certificates.push(Dependency {
            role: "client",
            days_left: days_left(leaf.info()),
            certificate: leaf.info().clone(),
        });
    }
    row.client_certificate_request = if evidence.client_cert_requested {
        Some(evidence.acceptable_cas.clone())
    } else {
        row.probe
            .as_ref()
            .and_then(|p| p.client_certificate.as_ref())
            .map(|r| r.acceptable_cas.clone())
    };
    if reached && let Some(required) = &options.require {
        row.what_if = Some(what_if(&connector, &checked.tls, required).await);
    }
    let warning_days = (options.expiry_warning.as_secs() / 86_400) as i64;
    row.standing = if !checked.ok() {
        Standing::Failing
    } else if row.what_if.as_ref().is_some_and(|w| !w.connects) {
        Standing::WouldBreak
    } else if row.certificates.iter().any(|d| d.days_left < warning_days) {
        Standing::Expiring
    } else {
        Standing::Passing
    };
    row.check = Ok(checked);
    row.elapsed = clock.elapsed();
    row
}

/// The version probe of a connector's endpoint, with its SNI; `None` when it could not run.
async fn probe(connector: &Connector) -> Option<ProbeReport> {
    let target = test_target(connector);
    let profile = connector.profile();
    let target = ProbeTarget {
        proxy: profile.proxy_for(&target.host).cloned(),
        host: target.host,
        port: target.port,
        server_name: profile.server_name.clone(),
        timeout: profile.handshake_timeout.min(Duration::from_secs(5)),
    };
    // The probe blocks (a thread per version).
    tokio::task::spawn_blocking(move || keyway_tls::probe(&target).ok())
        .await
        .ok()
        .flatten()
}

/// Whether `connector` would connect with `required` in place of its own versions.
async fn what_if(connector: &Connector, today: &TestOutcome, required: &TlsPolicy) -> WhatIf {
    let mut policy = required.clone();
    if policy.cipher_suites().is_none()
        && let Some(own) = connector.profile().policy.cipher_suites()
        && let Ok(kept) = policy.clone().with_cipher_suites(own)
    {
        policy = kept;
    }
    if let TestOutcome::Connected { negotiated, .. } = today
        && policy.accepted().contains(negotiated.version)
        && policy.cipher_suites() == connector.profile().policy.cipher_suites()
    {
        return WhatIf {
            connects: true,
            version: Some(negotiated.version),
            code: None,
            summary: format!("connects with {} already", negotiated.version),
            tested: false,
        };
    }
    let mut profile: Profile = connector.profile().clone();
    profile.policy = policy;
    let target = test_target(connector);
    let outcome =
        match tokio::task::spawn_blocking(move || keyway_tls::test(&target, &profile)).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => {
                return WhatIf {
                    connects: false,
                    version: None,
                    code: None,
                    summary: format!("could not be tested: {e}"),
                    tested: false,
                };
            }
            Err(stopped) => std::panic::resume_unwind(stopped.into_panic()),
        };
    match outcome {
        TestOutcome::Connected { negotiated, .. } => WhatIf {
            connects: true,
            version: Some(negotiated.version),
            code: None,
            summary: format!("connects with {}", negotiated.version),
            tested: true,
        },
        TestOutcome::Failed(d) => WhatIf {
            connects: false,
            version: None,
            code: Some(d.cause.code()),
            summary: d.cause.summary(),
            tested: true,
        },
    }
}

/// The host and port a connector's TLS test goes to.
pub(crate) fn test_target(connector: &Connector) -> TestTarget {
    let url = &connector.def().url;
    TestTarget {
        host: url
            .host()
            .unwrap_or("")
            .trim_matches(['[', ']'])
            .to_string(),
        port: url.port_u16().unwrap_or(443),
        http_path: None,
    }
}

/// The connectors `names` and `tags` choose from `config`, for [`audit`]: every named one
/// (an unknown name is an error listing the known ones), narrowed to those carrying any
/// of `tags` when some are given. Empty when both are empty: every connector.
pub fn choose(config: &Config, names: &[String], tags: &[String]) -> Result<Vec<String>, String> {
    for name in names {
        config.connector(name)?;
    }
    for tag in tags {
        if !crate::is_tag(tag) {
            return Err(format!(
                "\"{tag}\" is not a tag: letters, digits, '-', '_' and '.'"
            ));
        }
    }
    if tags.is_empty() {
        return Ok(names.to_vec());
    }
    let chosen: Vec<String> = config
        .connectors()
        .filter(|d| names.is_empty() || names.contains(&d.name))
        .filter(|d| d.tags.iter().any(|t| tags.contains(t)))
        .map(|d| d.name.clone())
        .collect();
    if chosen.is_empty() {
        return Err(format!("no connector has the tag {}", tags.join(" or ")));
    }
    Ok(chosen)
}
