//! The watch: on a schedule, the fleet audit of every connector in the store and the
//! expiry of every certificate keyway knows. Results are kept in the store (each
//! connector's history), and alerts go out once — on a connector that starts failing or
//! recovers, on a partner's certificate that changed, and on each expiry threshold a
//! certificate crosses — by webhook: a JSON POST signed with an HMAC header, retried
//! with backoff, and queued in the store until delivered. Several nodes on one PostgreSQL store run each period's watch once (the
//! run is claimed in the store like the alerts).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use keyway_connect::audit::{AuditOptions, FleetAudit, audit};
use keyway_store::{Actor, Change, Context, KnownCertificate, Store, StoreError};
use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

/// When a certificate's end is worth an alert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// This many days or fewer left.
    Days(i64),
    /// This share of its lifetime or less left (0.1: the last tenth), for short-lived
    /// certificates.
    Share(f64),
}

impl Threshold {
    /// Reads `30`, `30d` (days) or `10%` (share of the lifetime).
    pub fn parse(given: &str) -> Result<Threshold, String> {
        let text = given.trim();
        if let Some(percent) = text.strip_suffix('%') {
            return match percent.trim().parse::<f64>() {
                Ok(p) if p > 0.0 && p < 100.0 => Ok(Threshold::Share(p / 100.0)),
                _ => Err(format!(
                    "\"{given}\": a share of the lifetime is between 0% and 100%, e.g. 10%"
                )),
            };
        }
        match text.trim_end_matches('d').parse::<i64>() {
            Ok(days) if days >= 0 => Ok(Threshold::Days(days)),
            _ => Err(format!(
                "\"{given}\": write days (30, 7d) or a share of the lifetime (10%)"
            )),
        }
    }

    fn crossed(self, cert: &KnownCertificate) -> bool {
        match self {
            Threshold::Days(days) => cert.days_left <= days,
            Threshold::Share(share) => cert.lifetime_left <= share,
        }
    }

    fn label(self) -> String {
        match self {
            Threshold::Days(days) => format!("{days}d"),
            Threshold::Share(share) => format!("{}%", (share * 100.0).round()),
        }
    }
}

/// Where alerts go.
#[derive(Clone)]
pub struct Webhook {
    /// The URL POSTed to (https, or http on a private network).
    pub url: String,
    /// The HMAC-SHA256 key of the `X-Keyway-Signature` header; `None`: unsigned.
    pub secret: Option<Arc<Zeroizing<String>>>,
    /// Tries per alert (at least 1).
    pub attempts: u32,
    /// Wait before the second try; doubled before each next one.
    pub backoff: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("signed", &self.secret.is_some())
            .finish()
    }
}

/// Alerts by e-mail, over SMTP with STARTTLS required.
#[derive(Clone)]
pub struct Mail {
    /// The relay's host name (checked against its certificate).
    pub host: String,
    /// Its port (587 usually; 25 between servers).
    pub port: u16,
    /// The sender.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// User and password for SMTP AUTH, sent only inside TLS.
    pub credentials: Option<(String, Arc<Zeroizing<String>>)>,
    /// CA certificates (PEM) trusted for the relay besides the system roots: a company
    /// relay with a private CA.
    pub ca_pem: Option<Vec<u8>>,
}

impl Mail {
    /// Checks the addresses and the CA file before the first alert needs them.
    pub fn check(&self) -> Result<(), String> {
        let address = |given: &str, what: &str| {
            given
                .parse::<lettre::message::Mailbox>()
                .map(|_| ())
                .map_err(|e| format!("{what} \"{given}\" is not an e-mail address: {e}"))
        };
        address(&self.from, "--alert-mail-from")?;
        for to in &self.to {
            address(to, "--alert-mail-to")?;
        }
        if let Some(pem) = &self.ca_pem {
            lettre::transport::smtp::client::Certificate::from_pem(pem)
                .map_err(|e| format!("--alert-smtp-ca: not a PEM certificate: {e}"))?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

/// How the watch runs.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// How often.
    pub every: Duration,
    /// Expiry thresholds (default 30, 14, 7 and 1 days); an ended certificate always
    /// alerts once.
    pub thresholds: Vec<Threshold>,
    /// Where alerts go by webhook.
    pub webhook: Option<Webhook>,
    /// Where alerts go by e-mail. With neither, alerts are written to the log.
    pub mail: Option<Mail>,
    /// The audit's bounds.
    pub audit: AuditOptions,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            every: Duration::from_secs(6 * 3600),
            thresholds: [30, 14, 7, 1].map(Threshold::Days).to_vec(),
            webhook: None,
            mail: None,
            audit: AuditOptions::default(),
        }
    }
}

/// An alert: what the webhook receives as its JSON body.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Alert {
    /// `connector_failing`, `connector_recovered`, `server_certificate_changed` or
    /// `certificate_expiring`.
    pub event: String,
    /// What it says, in one line.
    pub text: String,
    /// The alert's key: each is sent once.
    pub key: String,
    /// The details.
    pub details: serde_json::Value,
}

/// What one run of the watch did.
#[derive(Debug, Default)]
pub struct WatchRun {
    /// The audit, when this node ran it (another node may have run this period's).
    pub audit: Option<FleetAudit>,
    /// What changed since each connector's previous check.
    pub changes: Vec<Change>,
    /// Alerts delivered, with the channel (`webhook`, `mail`).
    pub sent: Vec<(String, Alert)>,
    /// Alerts that could not be delivered after every try, with the channel (they stay
    /// queued in the store: the next run tries them again).
    pub undelivered: Vec<(String, Alert)>,
    /// Certificates with their days left, for the gauges.
    pub certificates: Vec<KnownCertificate>,
}

fn context() -> Context {
    Context {
        actor: Actor::LocalAdmin,
        origin: "watch".into(),
    }
}

/// One run: the audit (unless another node ran this period's), its results kept, the
/// alerts for what changed and for expiry thresholds crossed, each sent once.
pub async fn run_once(store: &Store, options: &WatchOptions) -> Result<WatchRun, StoreError> {
    let mut run = WatchRun::default();
    // One run per period, whichever node comes first.
    let period = options.every.as_millis().max(1);
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let slot = now_ms.max(0) as u128 / period;
    if store
        .claim_once(&format!("watch-run:{period}:{slot}"))
        .await?
    {
        let config = store.runnable_config().await?;
        let report = audit(&config, &[], &options.audit, |_| {}).await;
        run.changes = store.record_checks(&report).await?;
        run.audit = Some(report);
    }
    let mut fresh: Vec<Alert> = run.changes.iter().map(change_alert).collect();
    run.certificates = store.known_certificates(&context(), None).await?;
    fresh.extend(expiry_alerts(&run.certificates, &options.thresholds));
    let channels: Vec<&str> = [
        options.webhook.as_ref().map(|_| "webhook"),
        options.mail.as_ref().map(|_| "mail"),
    ]
    .into_iter()
    .flatten()
    .collect();
    for alert in fresh {
        let payload = serde_json::to_string(&alert).unwrap_or_default();
        if channels.is_empty() {
            // Nowhere to send it: said in the log once, kept as sent.
            if store
                .queue_alert(&format!("log|{}", alert.key), &payload)
                .await?
            {
                tracing::warn!(alert = %alert.key, "{}", alert.text);
                store.alert_delivered(&format!("log|{}", alert.key)).await?;
            }
            continue;
        }
        for channel in &channels {
            store
                .queue_alert(&format!("{channel}|{}", alert.key), &payload)
                .await?;
        }
    }
    // Everything waiting, this run's and earlier runs' undelivered ones, oldest first;
    // one queue entry per alert and channel, so a receiver that is down delays only its own.
    for (key, payload) in store.pending_alerts().await? {
        let channel = key.split('|').next().unwrap_or("");
        let Ok(alert) = serde_json::from_str::<Alert>(&payload) else {
            // Unreadable (written by another version): not worth blocking the queue.
            store.alert_delivered(&key).await?;
            continue;
        };
        let delivered = match (channel, &options.webhook, &options.mail) {
            ("webhook", Some(hook), _) => deliver(hook, &alert).await,
            ("mail", _, Some(mail)) => send_mail(mail, &alert).await,
            _ => {
                // A channel no longer configured: its queue is dropped.
                store.alert_delivered(&key).await?;
                continue;
            }
        };
        match delivered {
            Ok(()) => {
                store.alert_delivered(&key).await?;
                run.sent.push((channel.to_string(), alert));
            }
            Err(why) => {
                tracing::warn!(alert = %key, "alert not delivered (tried again at the next run): {why}");
                run.undelivered.push((channel.to_string(), alert));
            }
        }
    }
    Ok(run)
}

fn keyway_store_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn change_alert(change: &Change) -> Alert {
    let details = serde_json::to_value(change).unwrap_or_default();
    match change {
        Change::ConnectorFailing {
            connector,
            code,
            summary,
            check_id,
        } => Alert {
            event: "connector_failing".into(),
            text: format!(
                "connector {connector} fails: {}{summary}",
                code.as_deref()
                    .map(|c| format!("{c}: "))
                    .unwrap_or_default()
            ),
            key: format!("failing:{connector}:{check_id}"),
            details,
        },
        Change::ConnectorRecovered {
            connector,
            check_id,
        } => Alert {
            event: "connector_recovered".into(),
            text: format!("connector {connector} passes again"),
            key: format!("recovered:{connector}:{check_id}"),
            details,
        },
        Change::ServerCertificateChanged {
            connector,
            before,
            after,
            issuer_before,
            issuer_after,
            check_id,
        } => {
            let issuer = if issuer_before != issuer_after {
                format!(
                    "; a new issuer: {} (was {})",
                    issuer_after.as_deref().unwrap_or("?"),
                    issuer_before.as_deref().unwrap_or("?")
                )
            } else {
                String::new()
            };
            Alert {
                event: "server_certificate_changed".into(),
                text: format!(
                    "connector {connector}: the partner presents another certificate (sha256 {after}, was {before}){issuer}"
                ),
                key: format!("changed:{connector}:{check_id}"),
                details,
            }
        }
    }
}

/// One alert per certificate (by fingerprint, naming every place it is used) for the
/// tightest threshold it has crossed, unless the same place already holds a certificate
/// of the same subject that ends later (renewed), or it is revoked.
pub fn expiry_alerts(known: &[KnownCertificate], thresholds: &[Threshold]) -> Vec<Alert> {
    let renewed = |c: &KnownCertificate| {
        known.iter().any(|other| {
            other.kind == c.kind
                && other.holder == c.holder
                && other.subject == c.subject
                && other.not_after > c.not_after
                && !other.revoked
        })
    };
    let mut by_certificate: BTreeMap<&str, Vec<&KnownCertificate>> = BTreeMap::new();
    for cert in known.iter().filter(|c| !c.revoked && !renewed(c)) {
        by_certificate.entry(&cert.sha256).or_default().push(cert);
    }
    let mut alerts = Vec::new();
    for (sha256, places) in by_certificate {
        let cert = places[0];
        let label = if cert.days_left < 0 {
            "ended".to_string()
        } else {
            // The tightest threshold crossed: the fewest days, the smallest share.
            let crossed = thresholds
                .iter()
                .filter(|t| t.crossed(cert))
                .min_by(|a, b| {
                    let rank = |t: &&Threshold| match t {
                        Threshold::Days(d) => *d as f64,
                        Threshold::Share(s) => s * 1000.0,
                    };
                    rank(a).total_cmp(&rank(b))
                });
            match crossed {
                Some(t) => t.label(),
                None => continue,
            }
        };
        let held: Vec<String> = places
            .iter()
            .map(|p| format!("{} {}", p.kind, p.holder))
            .collect();
        let mut used: Vec<String> = Vec::new();
        for name in places.iter().flat_map(|p| &p.used_by) {
            if !used.contains(name) && !held.contains(name) {
                used.push(name.clone());
            }
        }
        let when = if cert.days_left < 0 {
            format!("ended {} days ago", -cert.days_left)
        } else {
            format!("ends in {} days", cert.days_left)
        };
        alerts.push(Alert {
            event: "certificate_expiring".into(),
            text: format!(
                "{} {when}; held by {}{}",
                cert.subject,
                held.join(", "),
                if used.is_empty() {
                    String::new()
                } else {
                    format!("; used by {}", used.join(", "))
                }
            ),
            key: format!("expiry:{sha256}:{label}"),
            details: json!({
                "subject": cert.subject,
                "sha256": sha256,
                "days_left": cert.days_left,
                "lifetime_left": cert.lifetime_left,
                "threshold": label,
                "held_by": held,
                "used_by": used,
            }),
        });
    }
    alerts
}

/// POSTs `alert` as JSON, signed when a secret is set: `X-Keyway-Signature:
/// t=UNIX,sha256=HEX`, the HMAC-SHA256 of `UNIX.BODY` (the receiver recomputes it and
/// refuses old timestamps: no replays). A 2xx is delivered; anything else is tried again.
async fn deliver(hook: &Webhook, alert: &Alert) -> Result<(), String> {
    let body = serde_json::to_vec(alert).map_err(|e| e.to_string())?;
    let client = client()?;
    let mut wait = hook.backoff;
    let mut last = String::new();
    for attempt in 1..=hook.attempts.max(1) {
        let at = keyway_store_now();
        let mut request = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-keyway-event", &alert.event)
            .body(body.clone());
        if let Some(secret) = &hook.secret {
            request = request.header("x-keyway-signature", signature(secret, at, &body));
        }
        match request.send().await {
            Ok(answer) if answer.status().is_success() => return Ok(()),
            Ok(answer) => last = format!("{} answered {}", hook.url, answer.status()),
            Err(e) => last = format!("{}: {e}", hook.url),
        }
        if attempt < hook.attempts {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(last)
}

/// Sends `alert` as one message to every recipient, STARTTLS required (a relay that
/// does not offer it, or whose certificate does not check out, gets nothing).
async fn send_mail(mail: &Mail, alert: &Alert) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let mut message = Message::builder()
        .from(
            mail.from
                .parse()
                .map_err(|e| format!("sender {}: {e}", mail.from))?,
        )
        .subject(format!("[keyway] {}", subject_line(&alert.text)))
        .header(ContentType::TEXT_PLAIN);
    for to in &mail.to {
        message = message.to(to.parse().map_err(|e| format!("recipient {to}: {e}"))?);
    }
    let body = format!(
        "{}\n\nevent: {}\nalert: {}\n\n{}\n",
        alert.text,
        alert.event,
        alert.key,
        serde_json::to_string_pretty(&alert.details).unwrap_or_default()
    );
    let message = message.body(body).map_err(|e| e.to_string())?;
    let mut tls = TlsParameters::builder(mail.host.clone());
    if let Some(pem) = &mail.ca_pem {
        tls = tls.add_root_certificate(Certificate::from_pem(pem).map_err(|e| e.to_string())?);
    }
    let tls = tls.build_rustls().map_err(|e| e.to_string())?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(mail.host.clone())
        .port(mail.port)
        .tls(Tls::Required(tls))
        .timeout(Some(Duration::from_secs(20)));
    if let Some((user, password)) = &mail.credentials {
        transport = transport.credentials(Credentials::new(
            user.clone(),
            password.as_str().to_string(),
        ));
    }
    transport
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP {}:{}: {e}", mail.host, mail.port))
}

/// The first line of `text`, at most 150 characters.
fn subject_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= 150 {
        line.to_string()
    } else {
        line.chars().take(149).chain(['…']).collect()
    }
}

/// `t=UNIX,sha256=HEX`: HMAC-SHA256 over `UNIX.BODY` with `secret`.
pub fn signature(secret: &str, at: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{at}.").as_bytes());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={at},sha256={hex}")
}

fn client() -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
}

/// Runs the watch every [`WatchOptions::every`] (the first run a few seconds after start)
/// until the gateway stops, and puts what it finds in `/metrics`.
pub(crate) async fn watch_loop(
    state: Arc<crate::state::State>,
    options: WatchOptions,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut wait = options.every.min(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = options.every;
        let run = match run_once(&state.store, &options).await {
            Ok(run) => run,
            Err(e) => {
                tracing::warn!("the watch could not run: {e}");
                continue;
            }
        };
        if let Some(report) = &run.audit {
            tracing::info!("watch: {}", report.summary());
        }
        let latest = state.store.latest_checks().await.unwrap_or_default();
        state.metrics.update_watch(|figures| {
            figures.connectors_up = latest
                .iter()
                .map(|c| (c.connector.clone(), c.standing != "failing"))
                .collect();
            figures.certificates = run
                .certificates
                .iter()
                .map(|c| {
                    (
                        (c.kind.to_string(), c.holder.clone(), c.sha256.clone()),
                        c.days_left,
                    )
                })
                .collect();
            figures.alerts_sent += run.sent.len() as u64;
            figures.alerts_undelivered += run.undelivered.len() as u64;
        });
    }
}
