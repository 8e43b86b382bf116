//! Outbound connectors for keyway: named REST and SOAP endpoints called through a
//! connector's TLS profile.
//!
//! What it does:
//! - [`Config`]: `keyway.toml` (or a directory of them) describing truststores,
//!   keystores, TLS profiles, connectors and integrations by name, checked completely,
//!   every problem named with its file, item and field; passwords inline or from the
//!   environment or a file, resolved only when used; [`Config::with_stored`] checks and
//!   runs the same definitions over truststores and keystores handed over already read
//!   ([`Stored`]: keyway-store's);
//! - [`Connector`]: REST calls (any method, headers, body) over a pooled, keep-alive
//!   HTTP/1.1 client whose connections come from [`keyway_tls::TlsClient`] (rustls, or
//!   the legacy backend for TLS 1.0/1.1 partners; sessions resumed), basic auth, default
//!   headers, a response timeout watched by each connection (one timer per connection,
//!   not one per call), retries of idempotent requests, a request sent again on a new
//!   connection when a kept one closes under it before any answer, redirects within the
//!   origin, the negotiated TLS details on the responses of requests that ask for them;
//! - SOAP 1.1 and 1.2 ([`Connector::soap`]): envelopes built or sent whole, responses
//!   parsed defensively ([`XmlError`]: no DOCTYPE, no custom entities, bounded depth and
//!   size), a Fault returned as a typed [`Fault`];
//! - [`check`]: the connector check (*Test connectivity*): the TLS test with the
//!   connector's exact profile, then one request, as a typed [`ConnectorCheck`] whose
//!   [`HttpProblem`] names a refused login, an HTTP error or a SOAP endpoint that does not
//!   answer SOAP;
//! - [`audit`]: the fleet audit — every connector checked at once within bounds per host
//!   and overall, with the version probe, the chains and their expiry, and a what-if
//!   under a required policy ("what breaks if we require TLS 1.2");
//! - [`pmg`]: import of PMG-style `<scenario …/>` files as connectors (TLS version
//!   flags become explicit version sets, unmapped attributes are kept) and export back to
//!   the same shape.
//!
//! What it leaves to others: TLS itself and the diagnosis of TLS failures (keyway-tls),
//! keystore formats (keyway-keystore), keeping definitions and secrets in a database
//! (keyway-store).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use keyway_connect::{CallRequest, Config, Connector};
//!
//! let config = Config::load("keyway.toml".as_ref())?;
//! let orders = Connector::new(&config, config.connector("orders")?)?;
//! let response = orders.call(CallRequest::get("/orders?status=open")).await?;
//! println!("{} {}", response.status, String::from_utf8_lossy(&response.body));
//! # Ok(()) }
//! ```

pub mod audit;
mod check;
mod config;
mod connector;
pub mod pmg;
mod pool;
mod secret;
mod soap;
mod xml;

pub use check::{CheckRequest, ConnectorCheck, HttpCheck, HttpProblem, check, diagnose};
pub use config::{
    AuthEntry, Config, ConfigError, ConfigErrors, ConfigFile, ConnectorDef, ConnectorEntry,
    DEFAULT_TIMEOUT, IntegrationEntry, KeystoreEntry, Kind, OpenedKeystore, PolicyEntry,
    ProfileEntry, ProxyEntry, Redirects, SoapVersion, SourceFile, StoreEntry, Stored, is_tag,
    name_problem, shown_name, store_label, versions_from_flags,
};
pub use connector::{
    BodyError, CallBody, CallError, CallRequest, CallResponse, Connector, MAX_BODY,
    StreamedResponse,
};
pub use pool::ResponseBody;
pub use secret::SecretRef;
pub use soap::{
    Fault, SOAP11_NS, SOAP12_NS, SoapBody, SoapError, SoapResponse, envelope, excerpt, http_request,
};
pub use xml::{Element, MAX_DEPTH, MAX_SIZE, XmlError};
