//! The command line's top: the global `--json` and the nouns, each run by its module
//! under `commands/`.

use clap::{Parser, Subcommand};

use crate::{commands, exit};

/// keyway: TLS connectivity for integration connectors.
#[derive(Debug, Parser)]
#[command(name = "keyway", version, about, after_help = exit::HELP)]
pub struct Cli {
    /// Print JSON instead of text (an error too, as `{"error": …}`).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage keystores and truststores: JKS, JCEKS (read), PKCS#12, PEM.
    #[command(subcommand)]
    Keystore(commands::keystore::KeystoreCommand),
    /// Connect with a connector's exact TLS settings: what was negotiated, or the cause of the failure and the fix.
    #[command(after_help = concat!("Examples:
  keyway test https://partner.example.com/api --truststore partners.jks --truststore-storepass changeit
  keyway test partner.example.com:8443 --truststore partner-root.pem \\
      --keystore client.p12 --storepass env:P12_PASS --alias acme-client
  keyway test https://legacy.bank.example/ --min-tls 1.1 --json
  keyway test https://10.1.2.3/ --servername api.partner.example --system-roots --truststore extra.pem
  keyway test partner.example.com:443 --truststore partners.jks --save-chain presented/

An https:// URL gets one GET request after the handshake; a 401 or other HTTP error is diagnosed;
HOST:PORT tests TLS only. Without --truststore, the system roots are trusted.
--insecure skips certificate verification and is flagged in every output.

Exit codes: 0 connected, 1 the connection failed and the cause is diagnosed, 2 the test
could not run (usage error, unreadable store, wrong store password, a key that does not
match its certificate).", passwords!()))]
    Test(commands::test::TestArgs),
    /// Find which TLS versions a server speaks, its chain, and whether it wants a client certificate.
    #[command(
        after_help = "Sends one ClientHello per version (SSL 3.0 … TLS 1.3) at the same time and reads
the answer; no handshake is completed and SSL 3.0 is only ever offered, never used.
The chain and the client-certificate request are read from the TLS 1.2 (or older)
answer, which is not encrypted; a TLS 1.3-only server shows neither.

Examples:
  keyway probe partner.example.com:443
  keyway probe 10.1.2.3:8443 --servername api.partner.example --json
  keyway probe legacy.bank.example:443 --timeout 10s

Exit codes: 0 the server speaks at least one TLS version, 1 it accepted none (refused,
closed, silent, or not TLS: see the per-version results), 2 usage error or the host
does not resolve."
    )]
    Probe(commands::probe::ProbeArgs),
    /// Generate key pairs.
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    /// Create and show certificate signing requests for an outside CA.
    #[command(subcommand)]
    Csr(commands::csr::CsrCommand),
    /// keyway's own CA: init, sign CSRs, issue, revoke, CRLs, list.
    #[command(subcommand)]
    Ca(commands::ca::CaCommand),
    /// Inspect, verify, fingerprint and bundle certificates.
    #[command(subcommand)]
    Cert(commands::cert::CertCommand),
    /// Call, test and list the REST and SOAP connectors a keyway.toml defines.
    #[command(subcommand)]
    Connector(commands::connector::ConnectorCommand),
    /// Import connectors from another tool's files.
    #[command(subcommand)]
    Import(commands::import::ImportCommand),
    /// Export connectors to another tool's files.
    #[command(subcommand)]
    Export(commands::import::ExportCommand),
    /// Set up the data directory: master key, database, keyway's CA and the first administrator.
    #[command(after_help = "Examples:
  keyway init                                   # ./keyway-data, SQLite
  keyway init --data-dir /var/lib/keyway --admin ops
  KEYWAY_DATABASE_URL=postgres://keyway@db/keyway KEYWAY_MASTER_KEY=… keyway init

Safe to run again: what exists is kept, and the administrator's password is only
printed when the administrator is created.
Exit codes: 0 ready, 2 it could not be set up (unreachable database, wrong master key).")]
    Init(commands::init::InitArgs),
    /// Users and their permissions.
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// The audit log: who changed what, when, from where, and refusals.
    #[command(after_help = "Examples:
  keyway audit-log --since 24h
  keyway audit-log --since 2026-11-01 --json
  keyway audit-log --actor alice --action user. --outcome refused

Needs user_management when run --as a user.")]
    AuditLog(commands::audit_log::AuditLogArgs),
    /// Check every connector at once: TLS with its own profile, the versions the partner
    /// speaks, the chains and when they end, and what would break under a stricter policy.
    #[command(
        after_help = "Each connector (of --config, ./keyway.toml, or keyway's store) gets the connector
test, the version probe, the chain its partner presents with each certificate's end, and
whether the partner asks for a client certificate (and from which CAs). With
--require-min-tls or --policy, each is also tried under that policy, without changing
anything: the table says which would break and why (version_mismatch names the versions
the partner speaks). Rows come worst first: FAIL, BREAKS, EXPIRING, ok.

Examples:
  keyway audit
  keyway audit --require-min-tls 1.2
  keyway audit --tag payments --policy tls13-only.toml --json
  keyway audit --html audit.html --concurrency 32 --per-host 4

A progress bar shows on a terminal (stderr), never in a pipe.
Exit codes: 0 every connector passes (and would under the policy), 1 one fails or would
break, 2 usage or configuration error."
    )]
    Audit(commands::audit::AuditArgs),
    /// Every certificate keyway knows (its CA, identities, truststores, users'
    /// certificates) with the time it has left, soonest end first.
    #[command(after_help = "Examples:
  keyway expiry
  keyway expiry --within 30d --json

Needs manage_trust when run --as a user.
Exit codes: 0 none of those listed has ended, 1 one has (revoked ones aside), 2 refused.")]
    Expiry(commands::expiry::ExpiryArgs),
    /// Named truststores in the store: the CAs connectors and certificate uploads trust.
    #[command(subcommand)]
    Truststore(commands::truststore::TruststoreCommand),
    /// CRLs of outside CAs whose client certificates the gateway accepts.
    #[command(subcommand)]
    Crl(commands::crl::CrlCommand),
    /// Named keystores in the store: the key and chain a connector presents for two-way
    /// TLS (`keyway keystore` works on files).
    #[command(subcommand)]
    Identity(commands::identity::IdentityCommand),
    /// Move a keyway.toml into the store and back: truststores, keystores, profiles,
    /// connectors and integrations.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Integrations in the store: what partners call on the gateway, run through a
    /// connector.
    #[command(subcommand)]
    Integration(commands::integration::IntegrationCommand),
    /// API tokens for automation on the admin API (`Authorization: Bearer …`).
    #[command(subcommand)]
    Token(commands::token::TokenCommand),
    /// Run the inbound gateway: partners call integrations over two-way TLS.
    #[command(after_help = "Examples:
  keyway serve
  keyway serve --listen 0.0.0.0:8443 --admin 127.0.0.1:9090 --host gw.acme.example
  keyway serve --database postgres://keyway@db/keyway --client-truststore partner-clients

On a fresh data directory it first does what `keyway init` does (printing the
administrator's password once), makes a demo user with a client certificate, and prints a
curl command that calls the gateway with it. The server certificate is issued by
keyway's CA for the --host names and kept in the store (keystore `gateway`).

Client certificates are accepted from keyway's CA, from the CAs of each
--client-truststore, or when registered to a user exactly (pinned). Changes in the store
(revocations, new certificates, connectors) apply within a second, without a restart.
SIGTERM or Ctrl-C: stop accepting, finish requests in flight (up to 10 s), exit 0.

Exit codes: 0 stopped on a signal, 2 cannot start (port in use, store unreadable).")]
    Serve(Box<commands::serve::ServeArgs>),
}
