//! How the gateway runs: addresses, limits, timeouts, trust, retention; [`Default`] gives
//! the documented defaults.

use std::net::SocketAddr;
use std::time::Duration;

use keyway_store::Retention;

use crate::admin::AdminApi;
use crate::password::PasswordLimits;

/// How the gateway runs; [`Default`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Where partners connect (default `0.0.0.0:8443`).
    pub listen: SocketAddr,
    /// Health, metrics and the admin API (default `127.0.0.1:9090`): plain HTTP on a
    /// loopback address, HTTPS with the gateway's certificate on any other; `None`: off.
    pub admin: Option<SocketAddr>,
    /// The admin API served on the admin listener beside health and metrics.
    pub admin_api: Option<AdminApi>,
    /// HTTPS on the admin listener even on a loopback address.
    pub admin_https: bool,
    /// A keystore in the store whose key entry the admin listener serves over HTTPS
    /// (read at start); `None`: the gateway's server certificate.
    pub admin_keystore: Option<String>,
    /// The names the server certificate is for (default: localhost, 127.0.0.1 and
    /// this machine's host name).
    pub hosts: Vec<String>,
    /// A keystore in the store whose key entry is the server's identity (a certificate
    /// from a public or corporate CA); `None`: issued by keyway's CA for [`Self::hosts`]
    /// and renewed by the gateway. A named keystore is replaced by its owner (`keyway
    /// identity add NAME FILE --replace`) and served from the next handshake on.
    pub server_keystore: Option<String>,
    /// Truststores in the store whose CAs may issue client certificates, besides
    /// keyway's CA.
    pub client_truststores: Vec<String>,
    /// Time for a client to finish its TLS handshake.
    pub handshake_timeout: Duration,
    /// Time for a client to send a request's headers.
    pub header_timeout: Duration,
    /// How long a connection may stay open between requests.
    pub idle_timeout: Duration,
    /// Largest request body forwarded.
    pub max_body: usize,
    /// Largest request head (request line and headers), in bytes; at least 8 KiB. A
    /// larger one gets 431.
    pub max_header: usize,
    /// Most connections past their handshake at once. When all are taken, the oldest
    /// idle one (parked between requests) is closed for a new one.
    pub max_connections: usize,
    /// Most connections of one client certificate; over it, that certificate's oldest
    /// idle connection is closed for its new one.
    pub max_connections_per_client: usize,
    /// Most connections from one address (0: no limit, for a gateway behind a proxy that
    /// hides the callers' addresses).
    pub max_connections_per_address: usize,
    /// Most connections still in their TLS handshake; over it, the oldest is closed.
    pub max_handshakes: usize,
    /// How many Basic-auth password checks (argon2id, 19 MiB each) run and wait at once.
    pub password_checks: PasswordLimits,
    /// How much of the audit log to keep; applied at start and hourly (each pruning is
    /// itself audited). Default: 400 days and 5 million entries.
    pub audit_retention: Retention,
    /// How often the store is polled for changes (certificates, trust, connectors).
    pub reload_every: Duration,
    /// This node's name, recorded with each client certificate's last use (default: the
    /// host name).
    pub node: String,
    /// The watch: every connector audited and every certificate's end checked on a
    /// schedule, with alerts; `None`: off.
    pub watch: Option<crate::watch::WatchOptions>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let host_name = std::fs::read_to_string("/etc/hostname")
            .map(|n| n.trim().to_string())
            .unwrap_or_default();
        if !host_name.is_empty() && !hosts.contains(&host_name) {
            hosts.push(host_name.clone());
        }
        let node = if host_name.is_empty() {
            "keyway".to_string()
        } else {
            host_name
        };
        GatewayOptions {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            admin: Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
            admin_api: None,
            admin_https: false,
            admin_keystore: None,
            hosts,
            server_keystore: None,
            client_truststores: Vec::new(),
            handshake_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_body: 10 * 1024 * 1024,
            max_header: 64 * 1024,
            max_connections: 1024,
            max_connections_per_client: 64,
            max_connections_per_address: 256,
            max_handshakes: 128,
            password_checks: PasswordLimits::default(),
            audit_retention: Retention {
                keep_days: Some(400),
                max_rows: Some(5_000_000),
            },
            reload_every: Duration::from_secs(1),
            node,
            watch: None,
        }
    }
}
