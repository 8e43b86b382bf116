//! Arguments of `keyway init`, `keyway user …` and `keyway audit-log`; `store_cmd` runs them.

use clap::{Args, Subcommand};

use super::pki::{DataDirArgs, IdentityOutArgs};

/// Where keyway's state lives, and who is acting on it.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// A shared PostgreSQL database instead of the embedded one (`postgres://USER:PASSWORD@HOST/DB`).
    #[arg(
        long,
        env = "KEYWAY_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
    /// Act as this keyway user, with their permissions (default: the local administrator).
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
}

/// `keyway init`
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The first administrator's user name.
    #[arg(long, default_value = "admin", value_name = "NAME")]
    pub admin: String,
    /// The subject of keyway's CA, if it is created now.
    #[arg(long, default_value = "CN=keyway CA", value_name = "DN")]
    pub ca_subject: String,
    /// Make keyway's CA a root and an issuing intermediate (the root key then stays
    /// sealed), if it is created now.
    #[arg(long)]
    pub ca_with_intermediate: bool,
}

/// `keyway serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where partners connect.
    #[arg(long, default_value = "0.0.0.0:8443", value_name = "ADDRESS")]
    pub listen: std::net::SocketAddr,
    /// Health and Prometheus metrics over plain HTTP.
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDRESS")]
    pub admin: std::net::SocketAddr,
    /// No health and metrics listener.
    #[arg(long)]
    pub no_admin: bool,
    /// A name the server certificate is for; repeat for several (default: localhost,
    /// 127.0.0.1 and this machine's host name).
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Serve the key entry of this keystore in the store (`keyway identity add`), e.g. a
    /// certificate from a public or corporate CA, instead of one issued by keyway's CA.
    #[arg(long, value_name = "NAME", conflicts_with = "hosts")]
    pub server_keystore: Option<String>,
    /// A truststore in the store whose CAs may issue client certificates (besides
    /// keyway's CA); repeat for several.
    #[arg(long = "client-truststore", value_name = "NAME")]
    pub client_truststores: Vec<String>,
    /// Time for a client to finish its TLS handshake, in seconds (1 to 86400).
    #[arg(long, default_value_t = 5, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub handshake_timeout: u64,
    /// Time for a client to send a request's headers, in seconds (1 to 86400).
    #[arg(long, default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub header_timeout: u64,
    /// How long a connection may stay open between requests, in seconds (1 to 86400).
    #[arg(long, default_value_t = 75, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,
    /// Largest request body forwarded, in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    pub max_body: usize,
    /// Largest request head (request line and headers), in bytes; at least 8192.
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(8192..))]
    pub max_header: u32,
    /// Set up the demo client certificate (DATA/demo) and the sample integration even on
    /// a store `keyway init` made; by default only a store this start makes gets them.
    #[arg(long, conflicts_with = "no_demo")]
    pub demo: bool,
    /// Never set up the demo client or the sample integration.
    #[arg(long)]
    pub no_demo: bool,
    /// Most connections past their handshake at once; when all are taken, the oldest
    /// idle one is closed for a new one.
    #[arg(long, default_value_t = 1024, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Most connections of one client certificate; over it, its oldest idle one is
    /// closed for its new one.
    #[arg(long, default_value_t = 64, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections_per_client: u64,
    /// Most connections from one address; 0: no limit (behind a proxy that hides the
    /// callers' addresses).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections_per_address: usize,
    /// Remove audit entries older than this many days (hourly; each pruning is audited).
    #[arg(long, default_value_t = 400, value_name = "DAYS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_keep_days: u64,
    /// Keep at most this many audit entries (the oldest go).
    #[arg(long, default_value_t = 5_000_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1000..))]
    pub audit_max_rows: u64,
    /// Most connections still in their TLS handshake; over it, the oldest is closed.
    #[arg(long, default_value_t = 128, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_handshakes: u64,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    #[command(after_help = "Examples:
  keyway user add partner-a --display-name \"Partner A (orders)\" --grant invoke:orders
  printf '%s\\n' \"$PASSWORD\" | keyway user add alice --password-stdin --grant manage_personal_setup

Permissions: user_management (any user and their certificates), manage_personal_setup
(one's own certificates and password), manage_connectors, manage_trust (truststores,
keystores, CA), invoke:<integration>.
Exit codes: 0 added, 2 refused (duplicate name, weak password, missing permission).")]
    Add(UserAddArgs),
    /// List users with their permissions.
    #[command(after_help = "Example:\n  keyway user list --json")]
    List(UserListArgs),
    /// Show one user.
    #[command(after_help = "Example:\n  keyway user show alice")]
    Show(UserNameArgs),
    /// Disable a user: their certificates and password stop working.
    #[command(after_help = "Example:\n  keyway user disable alice")]
    Disable(UserNameArgs),
    /// Enable a disabled user again.
    #[command(after_help = "Example:\n  keyway user enable alice")]
    Enable(UserNameArgs),
    /// Set a user's password (asked twice on a terminal, or one line on stdin).
    #[command(after_help = "Examples:
  keyway user passwd alice
  printf '%s\\n' \"$PASSWORD\" | keyway user passwd alice --password-stdin
  keyway user passwd alice --as alice          # needs manage_personal_setup")]
    Passwd(UserPasswdArgs),
    /// Give a user a permission.
    #[command(after_help = "Examples:
  keyway user grant partner-a invoke:orders
  keyway user grant bob user_management")]
    Grant(UserPermissionArgs),
    /// Take a permission from a user.
    #[command(after_help = "Example:\n  keyway user revoke-permission partner-a invoke:orders")]
    RevokePermission(UserPermissionArgs),
    /// A user's client certificates: CSR for an outside CA, upload, issue, download, revoke.
    #[command(subcommand)]
    Cert(UserCertCommand),
}

/// `keyway user cert …`
#[derive(Debug, Subcommand)]
pub enum UserCertCommand {
    /// Generate a key pair for the user and a CSR to send to a CA; the key stays sealed in
    /// the store until the signed certificate is uploaded.
    #[command(after_help = "Examples:
  keyway user cert csr alice --subject \"CN=alice,O=Acme\" --out alice.csr
  keyway user cert csr alice --key-type rsa-3072 --as alice     # needs manage_personal_setup

Key types: ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519.
Exit codes: 0 made, 2 refused (no such user, bad subject, missing permission).")]
    Csr(CertCsrArgs),
    /// Store the certificate a CA signed for the user's CSR (or, with --key-elsewhere, a
    /// certificate whose key the user keeps elsewhere).
    #[command(after_help = "Examples:
  keyway user cert upload alice --cert alice-signed.pem --truststore partner-cas
  keyway user cert upload alice --cert alice.pem --chain issuing-ca.pem --truststore partner-cas
  keyway user cert upload alice --cert laptop.pem --truststore partner-cas --key-elsewhere

The certificate must be for one of the user's pending key pairs (`keyway user cert list`),
chain to a CA in the named truststore (`keyway truststore add`), be valid now, be an
end-entity certificate and allow clientAuth; every failed check is listed.
Exit codes: 0 stored, 2 refused (a failed check, another user's key, a duplicate).")]
    Upload(CertUploadArgs),
    /// Have keyway's CA issue a key and client certificate for the user, written as
    /// PKCS#12, JKS or PEM.
    #[command(after_help = "Examples:
  keyway user cert issue alice --out alice.p12 --password env:P12_PASS
  keyway user cert issue alice --subject \"CN=alice,O=Acme\" --days 90 --out alice.jks --password changeit

The key is also kept, sealed, in the store (`keyway user cert download` writes it again).
The CA is the one `keyway init` made in the data directory.
Exit codes: 0 issued, 2 refused.")]
    Issue(CertIssueArgs),
    /// List the user's certificates and the key pairs waiting for a signed certificate.
    #[command(after_help = "Example:\n  keyway user cert list alice --json")]
    List(CertListArgs),
    /// Show one certificate (by SHA-256 fingerprint: colons and case do not matter, the
    /// first 8 digits are enough when unique).
    #[command(after_help = "Examples:
  keyway user cert show alice 3F:2A:9C:0D:…
  keyway user cert show alice 3f2a9c0d --pem > alice.pem")]
    Show(CertShowArgs),
    /// Write the user's key and certificate chain as PKCS#12, JKS or PEM (an audited export).
    #[command(after_help = "Examples:
  keyway user cert download alice 3f2a9c0d --out alice.p12 --password env:P12_PASS
  keyway user cert download alice 3f2a9c0d --out alice.pem --no-passphrase

Exit codes: 0 written, 2 refused (revoked, key kept elsewhere, missing permission).")]
    Download(CertDownloadArgs),
    /// Revoke one of the user's certificates: the gateway refuses it from then on, and a
    /// certificate keyway's CA issued is on its next CRL.
    #[command(after_help = "Examples:
  keyway user cert revoke alice 3f2a9c0d --reason keyCompromise
  keyway user cert revoke alice 3F:2A:9C:0D:… --reason superseded

Reasons: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,
cessationOfOperation, privilegeWithdrawn.
Exit codes: 0 revoked, 2 refused (already revoked, unknown fingerprint).")]
    Revoke(CertRevokeArgs),
}

impl UserCertCommand {
    /// Where it acts, and as whom.
    pub fn store(&self) -> &StoreArgs {
        match self {
            UserCertCommand::Csr(a) => &a.store,
            UserCertCommand::Upload(a) => &a.store,
            UserCertCommand::Issue(a) => &a.store,
            UserCertCommand::List(a) => &a.store,
            UserCertCommand::Show(a) => &a.store,
            UserCertCommand::Download(a) => &a.store,
            UserCertCommand::Revoke(a) => &a.store,
        }
    }
}

/// `keyway user cert csr`
#[derive(Debug, Args)]
pub struct CertCsrArgs {
    /// The user.
    pub name: String,
    /// The subject to ask for (default `CN=NAME`).
    #[arg(long, value_name = "DN")]
    pub subject: Option<String>,
    /// The key type.
    #[arg(long, default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    /// Write the CSR here (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert upload`
#[derive(Debug, Args)]
pub struct CertUploadArgs {
    /// The user.
    pub name: String,
    /// The signed certificate (PEM or DER); further certificates in the file are taken
    /// as its chain.
    #[arg(long, value_name = "FILE")]
    pub cert: std::path::PathBuf,
    /// Intermediate CA certificates the CA sent with it.
    #[arg(long, value_name = "FILE")]
    pub chain: Option<std::path::PathBuf>,
    /// The truststore holding the CA it must chain to.
    #[arg(long, value_name = "NAME")]
    pub truststore: String,
    /// The certificate's private key is kept elsewhere: store the certificate alone.
    #[arg(long)]
    pub key_elsewhere: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert issue`
#[derive(Debug, Args)]
pub struct CertIssueArgs {
    /// The user.
    pub name: String,
    /// The subject (default `CN=NAME`).
    #[arg(long, value_name = "DN")]
    pub subject: Option<String>,
    /// Validity in days (bounded by the CA's own).
    #[arg(long, default_value_t = keyway_pki::DEFAULT_DAYS)]
    pub days: u32,
    /// The key type.
    #[arg(long, default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    #[command(flatten)]
    pub out: IdentityOutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert list`
#[derive(Debug, Args)]
pub struct CertListArgs {
    /// The user.
    pub name: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert show`
#[derive(Debug, Args)]
pub struct CertShowArgs {
    /// The user.
    pub name: String,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// Print the certificate and its chain as PEM instead.
    #[arg(long)]
    pub pem: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert download`
#[derive(Debug, Args)]
pub struct CertDownloadArgs {
    /// The user.
    pub name: String,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    #[command(flatten)]
    pub out: IdentityOutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user cert revoke`
#[derive(Debug, Args)]
pub struct CertRevokeArgs {
    /// The user.
    pub name: String,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// Why (RFC 5280 reason).
    #[arg(long, default_value = "unspecified")]
    pub reason: String,
    /// Revoke only if the certificate is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway truststore …`
#[derive(Debug, Subcommand)]
pub enum TruststoreCommand {
    /// Store the certificates of a file (PEM, DER, JKS, PKCS#12) as a named truststore.
    #[command(after_help = "Examples:
  keyway truststore add partner-cas partner-root.pem
  keyway truststore add partners partners.jks --storepass env:JKS_PASS
  keyway truststore add partners partners-2027.pem --replace --if-version 3

Exit codes: 0 stored, 2 refused (name taken without --replace, no certificate, wrong password).")]
    Add(TruststoreAddArgs),
    /// List the truststores.
    #[command(after_help = "Example:\n  keyway truststore list --json")]
    List(TruststoreListArgs),
    /// Show a truststore's certificates.
    #[command(after_help = "Example:\n  keyway truststore show partners")]
    Show(TruststoreNameArgs),
    /// Remove a truststore.
    #[command(after_help = "Example:\n  keyway truststore remove partners --if-version 2")]
    Remove(TruststoreNameArgs),
    /// Write a truststore's certificates to a PEM, JKS or PKCS#12 file.
    #[command(after_help = "Examples:
  keyway truststore export partners --out partners.pem
  keyway truststore export partners --out partners.jks --storepass changeit")]
    Export(TruststoreExportArgs),
}

impl TruststoreCommand {
    /// Where it acts, and as whom.
    pub fn store(&self) -> &StoreArgs {
        match self {
            TruststoreCommand::Add(a) => &a.store,
            TruststoreCommand::List(a) => &a.store,
            TruststoreCommand::Show(a) | TruststoreCommand::Remove(a) => &a.store,
            TruststoreCommand::Export(a) => &a.store,
        }
    }
}

/// `keyway truststore add`
#[derive(Debug, Args)]
pub struct TruststoreAddArgs {
    /// The truststore's name.
    pub name: String,
    /// The file to read.
    pub file: std::path::PathBuf,
    /// The file's password (JKS, PKCS#12): a value, env:VAR or file:PATH.
    #[arg(long, value_name = "PASSWORD")]
    pub storepass: Option<String>,
    /// Replace the certificates of an existing truststore of that name.
    #[arg(long)]
    pub replace: bool,
    /// With --replace: only if the truststore is still at this version.
    #[arg(long, value_name = "N", requires = "replace")]
    pub if_version: Option<i64>,
    /// Trust the certificate chains of the file's private key entries too (a keystore's
    /// own identity); without it such a file is refused.
    #[arg(long)]
    pub include_key_entries: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway truststore list`
#[derive(Debug, Args)]
pub struct TruststoreListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway truststore show|remove NAME`
#[derive(Debug, Args)]
pub struct TruststoreNameArgs {
    /// The truststore.
    pub name: String,
    /// Remove only if the truststore is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway truststore export`
#[derive(Debug, Args)]
pub struct TruststoreExportArgs {
    /// The truststore.
    pub name: String,
    /// Where to write (.pem, .jks, .p12/.pfx). An existing file is refused unless --force.
    #[arg(long, value_name = "FILE")]
    pub out: std::path::PathBuf,
    /// The new file's password (JKS, PKCS#12).
    #[arg(long, value_name = "PASSWORD")]
    pub storepass: Option<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway crl`
#[derive(Debug, Subcommand)]
pub enum CrlCommand {
    /// Import an outside CA's CRL (PEM or DER); the gateway refuses the certificates it
    /// lists from the next handshake on.
    #[command(after_help = "Examples:
  keyway crl import partner-ca.crl
  curl -sf http://pki.partner.example/client-ca.crl -o p.crl && keyway crl import p.crl

The CRL must be signed by a CA in a truststore (the one given to `keyway serve
--client-truststore`) whose subject is the CRL's issuer. One CRL per issuer is kept: a
newer one (higher CRL number) replaces it, an older one is refused, the same one again
changes nothing. keyway's own CA needs no import: its revocations apply at once. Needs
manage_trust.

Exit codes: 0 imported or unchanged, 2 refused (not a CRL, unknown or wrong signer, older).")]
    Import(CrlImportArgs),
    /// List the imported CRLs: issuer, number, dates, how many certificates each revokes.
    #[command(after_help = "Example:\n  keyway crl list --json")]
    List(TruststoreListArgs),
    /// Remove an issuer's CRL: its certificates are no longer checked against it.
    #[command(after_help = "Example:\n  keyway crl remove 'CN=Partner Client CA, O=Acme'")]
    Remove(CrlRemoveArgs),
}

impl CrlCommand {
    /// Where it acts, and as whom.
    pub fn store(&self) -> &StoreArgs {
        match self {
            CrlCommand::Import(a) => &a.store,
            CrlCommand::List(a) => &a.store,
            CrlCommand::Remove(a) => &a.store,
        }
    }
}

/// `keyway crl import FILE`
#[derive(Debug, Args)]
pub struct CrlImportArgs {
    /// The CRL file (PEM `X509 CRL` or DER).
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway crl remove ISSUER`
#[derive(Debug, Args)]
pub struct CrlRemoveArgs {
    /// The issuer, as `keyway crl list` prints it.
    pub issuer: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway identity`
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Store a keystore file (PKCS#12, JKS, JCEKS, PEM) with its passwords, sealed.
    #[command(after_help = "Examples:
  keyway identity add acme acme-client.p12 --storepass env:P12_PASS
  keyway identity add legacy partner.jks --storepass file:jks.pass --keypass env:KEY_PASS --alias orders
  keyway identity add acme acme-client-2027.p12 --storepass env:P12_PASS --replace --if-version 1

The file must open with its password and hold a private key entry; the one connectors
present is --alias, or the only key. Its key must open with --keypass (default: the store
password). The file and passwords are sealed with the master key; the certificates are
kept in plain for listings and expiry warnings. Needs manage_trust.

Exit codes: 0 stored, 2 refused (wrong password, no key, several keys and no --alias, name taken without --replace).")]
    Add(IdentityAddArgs),
    /// List the stored keystores: name, type, the alias presented, its subject and expiry.
    #[command(after_help = "Example:\n  keyway identity list --json")]
    List(TruststoreListArgs),
    /// Show a stored keystore's entries and their certificates.
    #[command(after_help = "Example:\n  keyway identity show acme")]
    Show(IdentityNameArgs),
    /// Remove a stored keystore.
    #[command(after_help = "Example:\n  keyway identity remove acme --if-version 2")]
    Remove(IdentityNameArgs),
    /// Write a stored keystore out: the file as it was stored, or the presented key and
    /// chain as a new PKCS#12, JKS or PEM file.
    #[command(after_help = "Examples:
  keyway identity export acme --out acme.p12                         # as stored, same password
  keyway identity export acme --out acme.jks --password changeit     # the key entry, as a new JKS

An audited export; needs manage_trust.")]
    Export(IdentityExportArgs),
}

impl IdentityCommand {
    /// Where it acts, and as whom.
    pub fn store(&self) -> &StoreArgs {
        match self {
            IdentityCommand::Add(a) => &a.store,
            IdentityCommand::List(a) => &a.store,
            IdentityCommand::Show(a) | IdentityCommand::Remove(a) => &a.store,
            IdentityCommand::Export(a) => &a.store,
        }
    }
}

/// `keyway identity add`
#[derive(Debug, Args)]
pub struct IdentityAddArgs {
    /// The keystore's name, as connectors refer to it.
    pub name: String,
    /// The keystore file.
    pub file: std::path::PathBuf,
    /// The store password: a value, env:VAR or file:PATH; prompted for when left out.
    #[arg(long, value_name = "PASSWORD")]
    pub storepass: Option<String>,
    /// The key password, when it differs from the store password (JKS).
    #[arg(long, value_name = "PASSWORD")]
    pub keypass: Option<String>,
    /// The key entry to present; may be left out when the file holds one key.
    #[arg(long)]
    pub alias: Option<String>,
    /// The file's type (jks, jceks, pkcs12, pem); detected when left out.
    #[arg(long = "type", value_name = "TYPE")]
    pub store_type: Option<String>,
    /// Replace an existing keystore of that name (a renewed certificate).
    #[arg(long)]
    pub replace: bool,
    /// With --replace: only if the keystore is still at this version.
    #[arg(long, value_name = "N", requires = "replace")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway identity show|remove NAME`
#[derive(Debug, Args)]
pub struct IdentityNameArgs {
    /// The keystore.
    pub name: String,
    /// Remove only if the keystore is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway identity export`
#[derive(Debug, Args)]
pub struct IdentityExportArgs {
    /// The keystore.
    pub name: String,
    #[command(flatten)]
    pub out: crate::cli::pki::IdentityOutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user add`
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The login name: letters, digits and . _ @ -, up to 64 characters.
    pub name: String,
    /// The name people read (default: the login name).
    #[arg(long, value_name = "TEXT")]
    pub display_name: Option<String>,
    /// Read the password from the first line of standard input (none otherwise:
    /// a certificate-only user).
    #[arg(long)]
    pub password_stdin: bool,
    /// A permission to give; repeat for several.
    #[arg(long = "grant", value_name = "PERMISSION")]
    pub grants: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user list`
#[derive(Debug, Args)]
pub struct UserListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user show|disable|enable NAME`
#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// The user.
    pub name: String,
    /// Change only if the user is still at this version (see `user show`); otherwise a
    /// conflict error and nothing changes.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user passwd NAME`
#[derive(Debug, Args)]
pub struct UserPasswdArgs {
    /// The user.
    pub name: String,
    /// Read the new password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Change only if the user is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway user grant|revoke-permission NAME PERMISSION`
#[derive(Debug, Args)]
pub struct UserPermissionArgs {
    /// The user.
    pub name: String,
    /// user_management, manage_personal_setup, manage_connectors, manage_trust or invoke:INTEGRATION.
    pub permission: String,
    /// Change only if the user is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway audit-log prune`
#[derive(Debug, Subcommand)]
pub enum AuditLogCommand {
    /// Remove the entries written before a date (needs user_management; the pruning is
    /// itself an audit entry, and entries after the date can never be removed).
    #[command(after_help = "Examples:
  keyway audit-log prune --before 2026-01-01
  keyway audit-log prune --before 400d

Exit codes: 0 pruned (or nothing to prune), 2 refused (a date in the future, a missing
permission, an unreachable store).")]
    Prune(AuditPruneArgs),
}

/// `keyway audit-log prune`
#[derive(Debug, Args)]
pub struct AuditPruneArgs {
    /// Remove what was written before then: an RFC 3339 time, a date (2026-01-01) or a
    /// duration ago (400d).
    #[arg(long, value_name = "WHEN")]
    pub before: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway audit-log`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditLogArgs {
    #[command(subcommand)]
    pub command: Option<AuditLogCommand>,
    /// Only entries since then: an RFC 3339 time (2026-11-01T00:00:00Z), a date
    /// (2026-11-01) or a duration ago (24h, 7d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most this many entries, the newest.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: i64,
    #[command(flatten)]
    pub store: StoreArgs,
}
