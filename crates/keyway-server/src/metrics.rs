//! The gateway's figures for Prometheus (`/metrics` on the admin address): handshakes,
//! requests and their latency by integration, connections, password checks, and the
//! days left of the certificates it depends on.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http::StatusCode;

use crate::limits::LimitCounts;
use crate::password::CheckCounts;
use crate::verifier::HandshakeCounts;

/// Requests by integration and status, and handshakes, for `/metrics`.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Counts by integration, then status.
    requests: std::sync::Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    latency: std::sync::Mutex<BTreeMap<String, Histogram>>,
    /// Handshakes that failed or timed out (no certificate, refused, a client gone).
    pub handshake_failures: std::sync::atomic::AtomicU64,
    /// Connections past their handshake, and how many of them are parked (idle).
    pub open: std::sync::atomic::AtomicI64,
    pub parked: std::sync::atomic::AtomicI64,
    /// Days left of the earliest certificates, by kind (server, CA, client).
    expiry_days: std::sync::Mutex<BTreeMap<&'static str, i64>>,
    /// What the watch's last run found.
    watch: std::sync::Mutex<WatchFigures>,
    /// Audit records waiting to be written (the store away keeps them here).
    pub audit_queued: std::sync::atomic::AtomicI64,
    /// Audit records given up: over the bound kept while the store was away, or still
    /// unwritten when the gateway stopped.
    pub audit_dropped: std::sync::atomic::AtomicU64,
}

/// The watch's figures: each connector up or not, each certificate's days left, alerts.
#[derive(Default)]
pub(crate) struct WatchFigures {
    /// Connector → whether its last check passed.
    pub connectors_up: BTreeMap<String, bool>,
    /// (kind, holder, sha256) → days left.
    pub certificates: BTreeMap<(String, String, String), i64>,
    /// Alerts delivered and given up on, since start.
    pub alerts_sent: u64,
    pub alerts_undelivered: u64,
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A Prometheus histogram: counts per bucket (cumulative when printed), sum, count.
#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

impl Metrics {
    /// One answered request for `integration` (a known name or `(unknown)`).
    pub(crate) fn count(&self, integration: &str, status: StatusCode, took: Duration) {
        // The names are copied only the first time they are seen.
        if let Ok(mut requests) = self.requests.lock() {
            let by_status = match requests.get_mut(integration) {
                Some(by_status) => by_status,
                None => requests.entry(integration.to_string()).or_default(),
            };
            *by_status.entry(status.as_u16()).or_default() += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            match latency.get_mut(integration) {
                Some(histogram) => histogram.observe(took.as_secs_f64()),
                None => {
                    let mut histogram = Histogram::default();
                    histogram.observe(took.as_secs_f64());
                    latency.insert(integration.to_string(), histogram);
                }
            }
        }
    }

    /// The Prometheus exposition of these figures and the counts kept elsewhere: the
    /// verifier's handshakes, the connection budget's, the password gate's.
    pub(crate) fn text(
        &self,
        counts: &HandshakeCounts,
        handshaking: usize,
        limits: &LimitCounts,
        checks: &CheckCounts,
    ) -> String {
        let mut out = String::from(
            "# HELP keyway_handshakes_total Client handshakes by outcome.\n# TYPE keyway_handshakes_total counter\n",
        );
        for (outcome, value) in [
            ("accepted", &counts.accepted),
            ("revoked", &counts.revoked),
            ("expired", &counts.expired),
            ("untrusted", &counts.untrusted),
        ] {
            out.push_str(&format!(
                "keyway_handshakes_total{{outcome=\"{outcome}\"}} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP keyway_requests_total Requests by integration and status.\n# TYPE keyway_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            let counts = requests.iter().flat_map(|(integration, by_status)| {
                by_status
                    .iter()
                    .map(move |(status, count)| (integration, status, count))
            });
            for (integration, status, count) in counts {
                out.push_str(&format!(
                    "keyway_requests_total{{integration=\"{integration}\",status=\"{status}\"}} {count}\n"
                ));
            }
        }
        out.push_str("# HELP keyway_request_seconds Time to answer, by integration.\n# TYPE keyway_request_seconds histogram\n");
        if let Ok(latency) = self.latency.lock() {
            for (integration, histogram) in latency.iter() {
                let mut cumulative = 0;
                for (le, count) in BUCKETS.iter().zip(histogram.buckets) {
                    cumulative += count;
                    out.push_str(&format!(
                        "keyway_request_seconds_bucket{{integration=\"{integration}\",le=\"{le}\"}} {cumulative}\n"
                    ));
                }
                out.push_str(&format!(
                    "keyway_request_seconds_bucket{{integration=\"{integration}\",le=\"+Inf\"}} {0}\nkeyway_request_seconds_count{{integration=\"{integration}\"}} {0}\nkeyway_request_seconds_sum{{integration=\"{integration}\"}} {1}\n",
                    histogram.count, histogram.sum
                ));
            }
        }
        out.push_str(&format!(
            "# HELP keyway_audit_records_queued Gateway audit records waiting to be written (they wait while the store cannot be written).\n# TYPE keyway_audit_records_queued gauge\nkeyway_audit_records_queued {}\n# HELP keyway_audit_records_dropped_total Gateway audit records given up: beyond the bound kept while the store was away, or unwritten at shutdown.\n# TYPE keyway_audit_records_dropped_total counter\nkeyway_audit_records_dropped_total {}\n",
            self.audit_queued.load(Ordering::Relaxed),
            self.audit_dropped.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP keyway_handshake_failures_total Handshakes that failed or timed out.\n# TYPE keyway_handshake_failures_total counter\nkeyway_handshake_failures_total {}\n",
            self.handshake_failures.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP keyway_connections Client connections: in their handshake, past it (open), and parked between requests.\n# TYPE keyway_connections gauge\nkeyway_connections{{state=\"handshake\"}} {handshaking}\nkeyway_connections{{state=\"open\"}} {}\nkeyway_connections{{state=\"parked\"}} {}\n",
            self.open.load(Ordering::Relaxed),
            self.parked.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP keyway_connections_closed_total Connections closed to make room: the oldest handshake, an idle connection of a client over its share, an idle connection when all were taken; refused: nothing idle could make room.\n# TYPE keyway_connections_closed_total counter\n");
        for (reason, value) in [
            ("handshake_budget", &limits.handshake_evicted),
            ("client_share", &limits.share_evicted),
            ("full", &limits.full_evicted),
            ("refused", &limits.refused),
        ] {
            out.push_str(&format!(
                "keyway_connections_closed_total{{reason=\"{reason}\"}} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP keyway_password_checks_total Basic-auth password checks by outcome (remembered: verified earlier, no hashing; locked_out and busy: refused without hashing).\n# TYPE keyway_password_checks_total counter\n");
        for (outcome, value) in [
            ("verified", &checks.verified),
            ("remembered", &checks.remembered),
            ("wrong", &checks.wrong),
            ("locked_out", &checks.locked_out),
            ("busy", &checks.busy),
        ] {
            out.push_str(&format!(
                "keyway_password_checks_total{{outcome=\"{outcome}\"}} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP keyway_certificate_expiry_days Days until the earliest certificate of each kind ends.\n# TYPE keyway_certificate_expiry_days gauge\n");
        if let Ok(days) = self.expiry_days.lock() {
            for (kind, days) in days.iter() {
                out.push_str(&format!(
                    "keyway_certificate_expiry_days{{kind=\"{kind}\"}} {days}\n"
                ));
            }
        }
        if let Ok(watch) = self.watch.lock() {
            for ((kind, holder, sha256), days) in &watch.certificates {
                out.push_str(&format!(
                    "keyway_certificate_expiry_days{{kind=\"{}\",holder=\"{}\",sha256=\"{}\"}} {days}\n",
                    label(kind),
                    label(holder),
                    label(sha256)
                ));
            }
            out.push_str("# HELP keyway_connector_up Whether the connector passed its last check by the watch (1) or failed (0).\n# TYPE keyway_connector_up gauge\n");
            for (connector, up) in &watch.connectors_up {
                out.push_str(&format!(
                    "keyway_connector_up{{connector=\"{}\"}} {}\n",
                    label(connector),
                    u8::from(*up)
                ));
            }
            out.push_str(&format!(
                "# HELP keyway_watch_alerts_total Alerts the watch delivered, and gave up on (tried again at its next run).\n# TYPE keyway_watch_alerts_total counter\nkeyway_watch_alerts_total{{result=\"sent\"}} {}\nkeyway_watch_alerts_total{{result=\"undelivered\"}} {}\n",
                watch.alerts_sent, watch.alerts_undelivered
            ));
        }
        out
    }

    /// Applies what a run of the watch found.
    pub(crate) fn update_watch(&self, update: impl FnOnce(&mut WatchFigures)) {
        if let Ok(mut watch) = self.watch.lock() {
            update(&mut watch);
        }
    }

    /// Sets the days left of the earliest certificate of each kind.
    pub(crate) fn set_expiry_days(&self, found: BTreeMap<&'static str, i64>) {
        if let Ok(mut current) = self.expiry_days.lock() {
            *current = found;
        }
    }
}
