//! The command tree. Raw arguments only; `keystore_cmd` validates and runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod config;
pub mod connector;
pub mod pki;
pub mod store;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the command ran and found a problem (e.g. `inspect --check` on an expired certificate)
  2  usage or input error (bad arguments, unreadable file, wrong password)";

/// The password paragraph every keystore command's help ends with.
macro_rules! passwords {
    () => {
        "\n\nPasswords: a value is taken literally; `env:VAR` reads the environment variable VAR,
`file:PATH` reads the first line of PATH, `pass:VALUE` is VALUE literally (for passwords
that start with env: or file:). Without one, keyway prompts when it has a terminal and
fails (exit 2) when it does not. KEYWAY_STOREPASS and KEYWAY_KEYPASS are read too."
    };
}

/// keyway: TLS connectivity for integration connectors.
#[derive(Debug, Parser)]
#[command(name = "keyway", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage keystores and truststores: JKS, JCEKS (read), PKCS#12, PEM.
    #[command(subcommand)]
    Keystore(KeystoreCommand),
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
    Test(TestArgs),
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
    Probe(ProbeArgs),
    /// Generate key pairs.
    #[command(subcommand)]
    Key(pki::KeyCommand),
    /// Create and show certificate signing requests for an outside CA.
    #[command(subcommand)]
    Csr(pki::CsrCommand),
    /// keyway's own CA: init, sign CSRs, issue, revoke, CRLs, list.
    #[command(subcommand)]
    Ca(pki::CaCommand),
    /// Inspect, verify, fingerprint and bundle certificates.
    #[command(subcommand)]
    Cert(pki::CertCommand),
    /// Call, test and list the REST and SOAP connectors a keyway.toml defines.
    #[command(subcommand)]
    Connector(connector::ConnectorCommand),
    /// Import connectors from another tool's files.
    #[command(subcommand)]
    Import(connector::ImportCommand),
    /// Export connectors to another tool's files.
    #[command(subcommand)]
    Export(connector::ExportCommand),
    /// Set up the data directory: master key, database, keyway's CA and the first administrator.
    #[command(after_help = "Examples:
  keyway init                                   # ./keyway-data, SQLite
  keyway init --data-dir /var/lib/keyway --admin ops
  KEYWAY_DATABASE_URL=postgres://keyway@db/keyway KEYWAY_MASTER_KEY=… keyway init

Safe to run again: what exists is kept, and the administrator's password is only
printed when the administrator is created.
Exit codes: 0 ready, 2 it could not be set up (unreachable database, wrong master key).")]
    Init(store::InitArgs),
    /// Users and their permissions.
    #[command(subcommand)]
    User(store::UserCommand),
    /// The audit log: who changed what, when, from where, and refusals.
    #[command(after_help = "Examples:
  keyway audit-log --since 24h
  keyway audit-log --since 2026-11-01 --json

Needs user_management when run --as a user.")]
    AuditLog(store::AuditLogArgs),
    /// Named truststores in the store: the CAs connectors and certificate uploads trust.
    #[command(subcommand)]
    Truststore(store::TruststoreCommand),
    /// CRLs of outside CAs whose client certificates the gateway accepts.
    #[command(subcommand)]
    Crl(store::CrlCommand),
    /// Named keystores in the store: the key and chain a connector presents for two-way
    /// TLS (`keyway keystore` works on files).
    #[command(subcommand)]
    Identity(store::IdentityCommand),
    /// Move a keyway.toml into the store and back: truststores, keystores, profiles,
    /// connectors and integrations.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Integrations in the store: what partners call on the gateway, run through a
    /// connector.
    #[command(subcommand)]
    Integration(config::IntegrationCommand),
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
    Serve(store::ServeArgs),
}

/// `keyway test`
#[derive(Debug, Args)]
pub struct TestArgs {
    /// `https://HOST[:PORT][/PATH]` or `HOST:PORT`.
    pub url: String,
    /// A truststore (JKS, JCEKS, PKCS#12, PEM); repeat for several.
    #[arg(long, value_name = "FILE")]
    pub truststore: Vec<PathBuf>,
    /// Expected truststore type (detected from the bytes otherwise).
    #[arg(long, value_name = "TYPE", value_parser = parse_format)]
    pub truststore_type: Option<keyway_keystore::Format>,
    /// Truststore password (literal, env:VAR, file:PATH); a JKS is read without one.
    #[arg(
        long = "truststore-storepass",
        alias = "truststore-password",
        value_name = "PASSWORD"
    )]
    pub truststore_password: Option<String>,
    /// Trust the system roots too (the default when no --truststore is given).
    #[arg(long)]
    pub system_roots: bool,
    /// Keystore with the client certificate to present (two-way TLS).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// Expected keystore type.
    #[arg(long, value_name = "TYPE", value_parser = parse_format, requires = "keystore")]
    pub keystore_type: Option<keyway_keystore::Format>,
    /// Keystore password (literal, env:VAR, file:PATH); a PEM or DER identity whose key
    /// is not encrypted needs none.
    #[arg(
        long = "storepass",
        alias = "keystore-password",
        value_name = "PASSWORD",
        requires = "keystore"
    )]
    pub keystore_password: Option<String>,
    /// Key password (default: the keystore password).
    #[arg(
        long = "keypass",
        alias = "key-password",
        value_name = "PASSWORD",
        requires = "keystore"
    )]
    pub key_password: Option<String>,
    /// Alias of the client key (needed when the keystore holds several).
    #[arg(long, requires = "keystore")]
    pub alias: Option<String>,
    /// Lowest allowable version: ssl3, 1.0, 1.1, 1.2 (default), 1.3.
    #[arg(long, value_name = "VERSION", conflicts_with = "tls_versions")]
    pub min_tls: Option<String>,
    /// Explicit versions instead: e.g. tls11,tls12 or TLSv1.2,TLSv1.3.
    #[arg(long, value_name = "LIST")]
    pub tls_versions: Option<String>,
    /// Highest version to accept.
    #[arg(long, value_name = "VERSION")]
    pub max_tls: Option<String>,
    /// Cipher suites (IANA names, comma-separated), in preference order.
    #[arg(long, value_name = "LIST")]
    pub ciphers: Option<String>,
    /// Name for SNI and certificate verification instead of the URL's host.
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// TCP connect timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: std::time::Duration,
    /// Timeout for the handshake and the first response.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: std::time::Duration,
    /// DANGER: do not verify the server's certificate. Flagged in every output.
    #[arg(long)]
    pub insecure: bool,
    /// Write the certificates the server sent, as PEM, into DIR (1-NAME.pem is its own,
    /// then its issuers): to check their fingerprints and trust the one that belongs.
    #[arg(long, value_name = "DIR")]
    pub save_chain: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `keyway probe`
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The server, as `HOST:PORT` or `[IPv6]:PORT`.
    pub target: String,
    /// SNI to send (default: the host, when it is a name).
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// Connect and answer timeout per version, e.g. 5s, 500ms.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 5s, 500ms, 1m)"))
}

/// `keyway keystore …`
#[derive(Debug, Subcommand)]
pub enum KeystoreCommand {
    /// List every entry: alias, type, key, chain length, expiry, subject.
    #[command(after_help = concat!("Examples:
  keyway keystore list partners.jks --storepass changeit
  keyway keystore list client.p12 --storepass env:CLIENT_P12_PASS --json
  keyway keystore list ca-bundle.pem -v

", "Exit codes: 0 listed, 2 usage or input error (wrong password, unreadable file).", passwords!()))]
    List(ListArgs),
    /// Show one entry in full; with --check, verify dates, chain and key.
    #[command(after_help = concat!("Examples:
  keyway keystore inspect partners.jks --alias partner-root --storepass changeit
  keyway keystore inspect client.jks --alias client --storepass changeit --keypass env:KEYPASS --check

Exit codes: 0 ok (and all checks passed), 1 a check failed (expired or not yet valid
certificate, broken chain, key that does not match its certificate), 2 usage or input error.", passwords!()))]
    Inspect(InspectArgs),
    /// Add a trusted certificate (creates the store if the file does not exist).
    #[command(name = "import-cert", after_help = concat!("Examples:
  keyway keystore import-cert truststore.jks --alias partner-root --cert partner-root.pem --storepass changeit
  keyway keystore import-cert trust.p12 --alias partner --cert bundle.pem --all --storepass changeit

Exit codes: 0 imported, 2 usage or input error (alias exists, not a certificate, wrong password).", passwords!()))]
    ImportCert(ImportCertArgs),
    /// Add a private key with its certificate chain (creates the store if missing).
    #[command(name = "import-key", after_help = concat!("Examples:
  keyway keystore import-key client.p12 --alias client --key client.key --cert client-chain.pem --storepass changeit
  keyway keystore import-key client.jks --alias client --key enc.key --key-passphrase file:key.pass \\
      --cert chain.pem --storepass changeit --keypass env:CLIENT_KEYPASS

Exit codes: 0 imported, 2 usage or input error (key does not match the certificate, wrong password).", passwords!()))]
    ImportKey(ImportKeyArgs),
    /// Remove an entry.
    #[command(after_help = concat!("Examples:
  keyway keystore delete truststore.jks --alias old-partner --storepass changeit

Exit codes: 0 deleted, 2 usage or input error (no such alias, wrong password).", passwords!()))]
    Delete(DeleteArgs),
    /// Rename an entry.
    #[command(after_help = concat!("Examples:
  keyway keystore rename truststore.jks --alias mykey --to partner-a-client --storepass changeit

Exit codes: 0 renamed, 2 usage or input error.", passwords!()))]
    Rename(RenameArgs),
    /// Change the store password, or one key's password.
    #[command(after_help = concat!("Examples:
  keyway keystore passwd client.jks --storepass changeit --new-storepass env:NEW_PASS
  keyway keystore passwd client.jks --storepass changeit --alias client --keypass old --new-keypass new

The store password and key passwords are separate in JKS: changing one leaves the other.
PKCS#12 keys always use the store password.

Exit codes: 0 changed, 2 usage or input error.", passwords!()))]
    Passwd(PasswdArgs),
    /// Export a certificate (PEM or DER), a chain, or a whole identity (key + chain).
    #[command(after_help = concat!("Examples:
  keyway keystore export partners.jks --alias partner-root --out partner-root.pem --storepass changeit
  keyway keystore export partners.jks --alias partner-root --out partner-root.cer --format der --storepass changeit
  keyway keystore export client.jks --alias client --identity --out client.p12 --out-type pkcs12 \\
      --storepass changeit --out-storepass env:P12_PASS

Exit codes: 0 exported, 2 usage or input error.", passwords!()))]
    Export(ExportArgs),
    /// Convert a whole store to another format.
    #[command(after_help = concat!("Examples:
  keyway keystore convert client.jks --storepass changeit --out client.p12 --out-type pkcs12
  keyway keystore convert client.p12 --storepass changeit --out client.pem --out-type pem --out-keypass env:PEM_PASS
  keyway keystore convert new.p12 --storepass changeit --out old-consumer.p12 --out-type pkcs12 --legacy

Exit codes: 0 converted, 2 usage or input error.", passwords!()))]
    Convert(ConvertArgs),
    /// Keep a keystore in keyway's store, with its passwords, sealed (= `keyway identity
    /// add`; see there).
    #[command(after_help = "Examples:
  keyway keystore add acme acme-client.p12 --storepass env:P12_PASS
  keyway keystore add legacy partner.jks --storepass file:jks.pass --keypass env:KEY_PASS --alias orders

`keyway identity list|show|export|remove` manage the keystores kept in the store.")]
    Add(store::IdentityAddArgs),
    /// Show a keystore kept in keyway's store (= `keyway identity show`).
    Show(store::IdentityNameArgs),
    /// Remove a keystore kept in keyway's store (= `keyway identity remove`).
    Remove(store::IdentityNameArgs),
}

/// The store file and how to open it.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The keystore or truststore file. Its format is detected from its bytes.
    pub file: PathBuf,
    /// Expected store type; an error if the file is another format.
    #[arg(long, value_name = "TYPE", value_parser = parse_format)]
    pub storetype: Option<keyway_keystore::Format>,
    /// Store password (literal, env:VAR, file:PATH). Also KEYWAY_STOREPASS.
    #[arg(
        long,
        env = "KEYWAY_STOREPASS",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub storepass: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A key password option.
#[derive(Debug, Args)]
pub struct KeyPassArgs {
    /// Key password (JKS/JCEKS keys may have their own; default: the store password).
    /// Literal, env:VAR or file:PATH. Also KEYWAY_KEYPASS.
    #[arg(
        long,
        env = "KEYWAY_KEYPASS",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub keypass: Option<String>,
}

/// `list`
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Show every entry's details, as `inspect` does.
    #[arg(short, long)]
    pub verbose: bool,
}

/// `inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    /// The entry's alias.
    #[arg(long)]
    pub alias: String,
    /// Check validity dates, chain signatures and that the key matches its certificate;
    /// exit 1 if any check fails.
    #[arg(long)]
    pub check: bool,
    /// Warn about certificates that expire within this many days (with --check).
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub warn_days: i64,
}

/// `import-cert`
#[derive(Debug, Args)]
pub struct ImportCertArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Alias for the new entry.
    #[arg(long)]
    pub alias: String,
    /// The certificate: PEM or DER.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Import every certificate of a bundle, as ALIAS-1, ALIAS-2, …
    #[arg(long)]
    pub all: bool,
}

/// `import-key`
#[derive(Debug, Args)]
pub struct ImportKeyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    /// Alias for the new entry.
    #[arg(long)]
    pub alias: String,
    /// The private key: PEM (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1) or DER PKCS#8.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Passphrase of an encrypted key file (literal, env:VAR, file:PATH).
    #[arg(long, value_name = "PASSWORD")]
    pub key_passphrase: Option<String>,
    /// The certificate and its issuers, in any order (PEM bundle or DER).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
}

/// `delete`
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The entry to remove.
    #[arg(long)]
    pub alias: String,
}

/// `rename`
#[derive(Debug, Args)]
pub struct RenameArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The entry's current alias.
    #[arg(long)]
    pub alias: String,
    /// The new alias.
    #[arg(long)]
    pub to: String,
}

/// `passwd`
#[derive(Debug, Args)]
pub struct PasswdArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    /// New store password.
    #[arg(long, value_name = "PASSWORD", required_unless_present = "new_keypass")]
    pub new_storepass: Option<String>,
    /// Change this key entry's password instead of the store's.
    #[arg(long, requires = "new_keypass")]
    pub alias: Option<String>,
    /// New key password for --alias.
    #[arg(long, value_name = "PASSWORD", requires = "alias")]
    pub new_keypass: Option<String>,
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertEncoding {
    /// PEM text.
    Pem,
    /// Binary DER (one certificate).
    Der,
}

/// Options for writing another store.
#[derive(Debug, Args)]
pub struct OutStoreArgs {
    /// Where to write. An existing file is refused unless --force.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Password of the written store (default: the source store password).
    #[arg(long, value_name = "PASSWORD")]
    pub out_storepass: Option<String>,
    /// Password to encrypt keys with: JKS key password, or the passphrase of PEM keys.
    #[arg(long, value_name = "PASSWORD")]
    pub out_keypass: Option<String>,
    /// Write PEM private keys without encryption (needed to write PEM keys without --out-keypass).
    #[arg(long)]
    pub unencrypted_key: bool,
    /// PKCS#12: 3DES with a SHA-1 MAC, for consumers older than Java 8u301 or OpenSSL 1.1.
    #[arg(long)]
    pub legacy: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    /// The entry to export.
    #[arg(long)]
    pub alias: String,
    #[command(flatten)]
    pub out: OutStoreArgs,
    /// Certificate encoding (without --identity).
    #[arg(long, value_enum, default_value = "pem")]
    pub format: CertEncoding,
    /// Export the whole chain (PEM), not just the entry's certificate.
    #[arg(long, conflicts_with = "identity")]
    pub chain: bool,
    /// Export the private key with its chain as a store of --out-type.
    #[arg(long)]
    pub identity: bool,
    /// Store type for --identity.
    #[arg(long, value_name = "TYPE", value_parser = parse_format, requires = "identity")]
    pub out_type: Option<keyway_keystore::Format>,
}

/// `convert`
#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub keypass: KeyPassArgs,
    #[command(flatten)]
    pub out: OutStoreArgs,
    /// Format to write.
    #[arg(long, value_name = "TYPE", value_parser = parse_format)]
    pub out_type: keyway_keystore::Format,
}

fn parse_format(s: &str) -> Result<keyway_keystore::Format, String> {
    s.parse()
}

impl Cli {
    /// Whether the command asked for JSON output (errors are then printed as JSON too).
    pub fn json_requested(&self) -> bool {
        let command = match &self.command {
            Command::Keystore(command) => command,
            Command::Probe(args) => return args.json,
            Command::Test(args) => return args.json,
            Command::Key(pki::KeyCommand::Generate(a)) => return a.json,
            Command::Csr(pki::CsrCommand::Create(a)) => return a.json,
            Command::Csr(pki::CsrCommand::Show(a)) => return a.json,
            Command::Ca(command) => {
                use pki::CaCommand as C;
                return match command {
                    C::Init(a) => a.store.data.json,
                    C::Sign(a) => a.store.data.json,
                    C::Issue(a) => a.store.data.json,
                    C::Revoke(a) => a.store.data.json,
                    C::Crl(a) => a.store.data.json,
                    C::List(a) => a.store.data.json,
                    C::Cert(a) => a.store.data.json,
                };
            }
            Command::Cert(command) => {
                use pki::CertCommand as C;
                return match command {
                    C::Inspect(a) | C::Fingerprint(a) => a.json,
                    C::Verify(a) => a.cert.json,
                    C::Bundle(a) => a.json,
                };
            }
            Command::Connector(command) => {
                use connector::ConnectorCommand as C;
                return match command {
                    C::List(a) => a.json,
                    C::Show(a) | C::Test(a) => a.json,
                    C::Call(a) => a.json,
                    C::Soap(a) => a.json,
                    C::Add(a) => a.store.data.json,
                    C::Remove(a) => a.store.data.json,
                };
            }
            Command::Import(connector::ImportCommand::Pmg(a)) => return a.json,
            Command::Export(_) => return false,
            Command::Init(a) => return a.store.data.json,
            Command::AuditLog(a) => {
                return match &a.command {
                    Some(store::AuditLogCommand::Prune(p)) => p.store.data.json,
                    None => a.store.data.json,
                };
            }
            Command::User(command) => {
                use store::UserCommand as C;
                return match command {
                    C::Add(a) => a.store.data.json,
                    C::List(a) => a.store.data.json,
                    C::Show(a) | C::Disable(a) | C::Enable(a) => a.store.data.json,
                    C::Passwd(a) => a.store.data.json,
                    C::Grant(a) | C::RevokePermission(a) => a.store.data.json,
                    C::Cert(command) => command.store().data.json,
                };
            }
            Command::Truststore(command) => return command.store().data.json,
            Command::Identity(command) => return command.store().data.json,
            Command::Crl(command) => return command.store().data.json,
            Command::Config(command) => return command.store().data.json,
            Command::Integration(command) => return command.store().data.json,
            Command::Serve(args) => return args.store.data.json,
        };
        let store = match command {
            KeystoreCommand::List(a) => &a.store,
            KeystoreCommand::Inspect(a) => &a.store,
            KeystoreCommand::ImportCert(a) => &a.store,
            KeystoreCommand::ImportKey(a) => &a.store,
            KeystoreCommand::Delete(a) => &a.store,
            KeystoreCommand::Rename(a) => &a.store,
            KeystoreCommand::Passwd(a) => &a.store,
            KeystoreCommand::Export(a) => &a.store,
            KeystoreCommand::Convert(a) => &a.store,
            KeystoreCommand::Add(a) => return a.store.data.json,
            KeystoreCommand::Show(a) | KeystoreCommand::Remove(a) => return a.store.data.json,
        };
        store.json
    }
}
