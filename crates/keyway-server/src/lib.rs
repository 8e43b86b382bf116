//! keyway's inbound gateway: partners call keyway's integrations over HTTPS and must
//! present a client certificate. The certificate says who they are (a user, by its
//! registered fingerprint), the user's permissions say whether they may run the
//! integration (`invoke:NAME`), and the integration's connector calls the partner system
//! behind it with its own outbound TLS.
//!
//! - Handshakes: a client certificate is required; it is accepted when it chains to
//!   keyway's CA or a CA of a truststore named in [`GatewayOptions::client_truststores`],
//!   or when it is exactly a registered certificate (pinned); revoked, expired and
//!   untrusted certificates are refused in the handshake. Changes in the store (a
//!   revocation, a new certificate, trust, connectors, the server certificate) apply to
//!   the next handshake within [`GatewayOptions::reload_every`], without a restart; on
//!   PostgreSQL another node's change arrives at once by LISTEN/NOTIFY
//!   ([`Gateway::reload`] forces a re-read, e.g. on SIGHUP).
//! - Requests to `/integrations/NAME/…` are decided by a pure function of the request
//!   and the directory read from the store (`decide.rs`, typed refusals): an
//!   unregistered certificate, a disabled user or a revoked certificate gets a generic
//!   403; a path with dot-segments that leave the connector's base path is a 400
//!   (`path.rs`); a basic-auth header must name the certificate's user (401), and is
//!   required when the integration says so; without `invoke:NAME` (the store's rule,
//!   `GatewayDirectory::may_invoke`), 403. Only then is a password checked (bounded,
//!   locked out after repeated failures, see `password.rs`). The
//!   request goes to the connector minus hop-by-hop headers and the caller's credentials,
//!   plus `X-Forwarded-For` and `X-Keyway-User`; the body is streamed to the partner
//!   (at most [`GatewayOptions::max_body`]) and the partner's answer comes back
//!   streamed. A connector failure is a 502 with a correlation id; the reason goes to
//!   the audit log, where every decision is written (in batches) with the certificate's
//!   fingerprint.
//! - [`watch`]: on a schedule, the fleet audit of every stored connector and the expiry
//!   of every certificate, results kept in the store, alerts (a connector failing or
//!   recovering, a partner's new certificate, expiry thresholds) sent once by a signed,
//!   retried, queued webhook; `keyway_connector_up` and per-certificate gauges.
//! - The server certificate is issued by keyway's CA for [`GatewayOptions::hosts`] and
//!   kept in the store as keystore `gateway`, renewed when 30 days are left; or it is
//!   the key entry of the keystore named by [`GatewayOptions::server_keystore`]; `/healthz`,
//!   `/readyz` and Prometheus `/metrics` are served on the admin address;
//!   [`Gateway::shutdown`] lets requests in flight finish.
//! - No client holds every connection: handshakes have their own budget, each client
//!   certificate and address a share, and an idle connection makes room for a new one
//!   (`limits.rs`).
//! - Between requests a kept-alive connection is parked: only its TLS stream is kept,
//!   hyper's buffers are dropped and made again for the next request (so idle partners
//!   cost little memory); it is closed after [`GatewayOptions::idle_timeout`].
//!
//! What it leaves to others: users, certificates and connectors (keyway-store),
//! outbound calls (keyway-connect).

mod admin;
mod connection;
mod decide;
mod forward;
mod gateway;
mod identity;
mod limits;
mod metrics;
mod options;
mod park;
mod password;
mod path;
mod record;
mod reload;
mod request;
mod respond;
mod state;
mod uses;
mod verifier;
pub mod watch;

pub use admin::{AdminApi, AdminBody, AdminBodyError, AdminCaller, AdminFuture};
pub use gateway::Gateway;
pub use identity::KEYSTORE as SERVER_KEYSTORE;
pub use options::GatewayOptions;
pub use password::PasswordLimits;

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] keyway_store::StoreError),
    /// A socket could not be opened.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The TLS configuration could not be built.
    #[error("the gateway's TLS configuration: {0}")]
    Tls(String),
    /// Something else needed to start is missing.
    #[error("{0}")]
    Setup(String),
}
