//! Arguments of `keyway key`, `csr`, `ca` and `cert`; `pki_cmd` validates and runs them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::store::StoreArgs;

/// Where keyway keeps its CA, and the master key that opens its keys.
#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// The data directory: the embedded database, `master.key` and the CA.
    #[arg(
        long,
        env = "KEYWAY_DATA_DIR",
        default_value = "keyway-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// The master key (64 hex digits); default: DIR/master.key, created on first use.
    #[arg(
        long,
        env = "KEYWAY_MASTER_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub master_key: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// An output file: never replaced unless asked.
#[derive(Debug, Args)]
pub struct OutArgs {
    /// Where to write. An existing file is refused unless --force.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `keyway key`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair, written as PKCS#8 PEM (encrypted unless --no-passphrase).
    #[command(after_help = "Examples:
  keyway key generate --out partner-a.key --passphrase env:KEY_PASS
  keyway key generate --type rsa3072 --out legacy-client.key --passphrase file:key.pass
  keyway key generate --type ed25519 --out dev.key --no-passphrase

Types: ec-p256 (default), ec-p384, rsa2048, rsa3072, rsa4096, ed25519. The file is
created with mode 0600.

Exit codes: 0 written, 2 usage or input error (output exists, no passphrase given).")]
    Generate(KeyGenerateArgs),
}

/// `key generate`
#[derive(Debug, Args)]
pub struct KeyGenerateArgs {
    /// Key type.
    #[arg(long = "type", default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    #[command(flatten)]
    pub out: OutArgs,
    /// Passphrase to encrypt the key with (literal, env:VAR, file:PATH).
    #[arg(
        long = "keypass",
        alias = "passphrase",
        value_name = "PASSPHRASE",
        conflicts_with = "no_passphrase"
    )]
    pub passphrase: Option<String>,
    /// Write the key unencrypted.
    #[arg(long)]
    pub no_passphrase: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `keyway csr`
#[derive(Debug, Subcommand)]
pub enum CsrCommand {
    /// Create a certificate signing request to send to a CA.
    #[command(after_help = "Examples:
  keyway csr create --key partner-a.key --key-passphrase env:KEY_PASS \\
      --subject \"CN=partner-a,OU=Integration,O=Acme,C=DE\" --out partner-a.csr
  keyway csr create --key gw.key --no-passphrase --subject CN=gw.acme.example \\
      --san dns:gw.acme.example --san ip:192.0.2.10 --out gw.csr

Subjects are written most specific first (CN=…,O=…,C=…); escape commas in values as \\,.
Attributes: CN, O, OU, L, ST, C, emailAddress. SANs: dns:, ip:, email:, uri:.

Exit codes: 0 written, 2 usage or input error (bad subject or SAN, wrong passphrase).")]
    Create(CsrCreateArgs),
    /// Show a CSR and check its signature.
    #[command(after_help = "Examples:
  keyway csr show partner-a.csr
  keyway csr show request-from-keytool.csr --json

Exit codes: 0 the signature verifies, 2 the file is not a CSR or its signature does not verify.")]
    Show(CsrShowArgs),
}

/// `csr create`
#[derive(Debug, Args)]
pub struct CsrCreateArgs {
    /// The private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key's passphrase, when it is encrypted.
    #[arg(long = "keypass", alias = "key-passphrase", value_name = "PASSPHRASE")]
    pub key_passphrase: Option<String>,
    /// The key is not encrypted (no prompt for a passphrase).
    #[arg(long, conflicts_with = "key_passphrase")]
    pub no_passphrase: bool,
    /// Subject, e.g. "CN=partner-a,O=Acme".
    #[arg(long)]
    pub subject: String,
    /// Subject alternative name (dns:, ip:, email:, uri:); repeat for several.
    #[arg(long)]
    pub san: Vec<String>,
    #[command(flatten)]
    pub out: OutArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `csr show`
#[derive(Debug, Args)]
pub struct CsrShowArgs {
    /// The CSR (PEM or DER).
    pub file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `keyway ca`
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create keyway's CA in the store (`keyway init` does it with the defaults).
    #[command(after_help = "Examples:
  keyway ca init --subject \"CN=Acme keyway CA,O=Acme\" --with-intermediate
  keyway ca init --database postgres://keyway@db/keyway

The CA (root certificate, keys sealed with the master key, the record of everything it
issues) is kept in the store, so every node of a shared database signs with the same CA.
The master key is DIR/master.key (mode 0600, created on first use) unless KEYWAY_MASTER_KEY
is set: back it up apart from the database; without it the CA keys cannot be opened.
With --with-intermediate, an intermediate signs and the root key stays sealed.
DIR/ca.pem gets the CA certificates, to give to clients. Needs manage_trust.

Exit codes: 0 created, 2 refused (the store has a CA already, missing permission).")]
    Init(CaInitArgs),
    /// Sign a CSR made elsewhere (openssl req, keytool -certreq, keyway csr create).
    #[command(after_help = "Examples:
  keyway ca sign partner-a.csr --profile client --owner alice --out partner-a.pem
  keyway ca sign gw.csr --profile server --days 90 --out gw.pem

Only the CSR's subject, key and (server profile) SANs are used; key usage, extended key
usage and basic constraints come from the profile. --out gets the certificate followed by
the CA chain.

Exit codes: 0 signed, 2 usage or input error (bad CSR signature, validity beyond the CA).")]
    Sign(CaSignArgs),
    /// Generate a key and issue its certificate in one step, written as PKCS#12, JKS or PEM.
    #[command(after_help = "Examples:
  keyway ca issue --profile client --subject CN=partner-a --owner alice --out partner-a.p12 --password env:P12_PASS
  keyway ca issue --profile client --subject CN=java-client --out client.jks --password changeit
  keyway ca issue --profile server --subject CN=gw --san dns:gw.acme.example --out gw.pem --no-passphrase

The output type follows the extension (.p12/.pfx, .jks, .pem) or --out-type.

Exit codes: 0 issued, 2 usage or input error.")]
    Issue(CaIssueArgs),
    /// Revoke a certificate the CA issued; the next CRL lists it.
    #[command(after_help = "Examples:
  keyway ca revoke 3f2a9c0d1e… --reason keyCompromise
  keyway ca revoke 00:3F:2A:9C:… --reason superseded

Reasons: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,
cessationOfOperation, privilegeWithdrawn.

Exit codes: 0 revoked, 2 usage or input error (unknown serial, already revoked).")]
    Revoke(CaRevokeArgs),
    /// Write a CRL signed by the CA, listing every revoked certificate.
    #[command(after_help = "Examples:
  keyway ca crl --out ca.crl
  keyway ca crl --out ca.crl.der --der --days 1

Exit codes: 0 written, 2 usage or input error.")]
    Crl(CaCrlArgs),
    /// List the certificates the CA issued.
    #[command(after_help = "Examples:
  keyway ca list
  keyway ca list --json

Exit codes: 0 listed, 2 usage or input error (no CA).")]
    List(CaListArgs),
    /// Write the CA's certificates (issuing CA, then root) for truststores.
    #[command(after_help = "Examples:
  keyway ca cert --out keyway-ca.pem

Exit codes: 0 written, 2 usage or input error.")]
    Cert(CaCertArgs),
}

/// `ca init`
#[derive(Debug, Args)]
pub struct CaInitArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The root's subject.
    #[arg(long, default_value = "CN=keyway Root CA")]
    pub subject: String,
    /// The CA keys' type.
    #[arg(long, default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    /// Let an intermediate do the signing.
    #[arg(long)]
    pub with_intermediate: bool,
}

/// What every issuing command takes.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// client (EKU clientAuth) or server (EKU serverAuth, SANs required).
    #[arg(long, default_value = "client")]
    pub profile: String,
    /// Validity in days (bounded by the CA's own).
    #[arg(long, default_value_t = keyway_pki::DEFAULT_DAYS)]
    pub days: u32,
    /// Who the certificate is for, for the record.
    #[arg(long)]
    pub owner: Option<String>,
}

/// `ca sign`
#[derive(Debug, Args)]
pub struct CaSignArgs {
    /// The CSR (PEM or DER).
    pub csr: PathBuf,
    #[command(flatten)]
    pub issue: IssueArgs,
    #[command(flatten)]
    pub out: OutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca issue`
#[derive(Debug, Args)]
pub struct CaIssueArgs {
    #[command(flatten)]
    pub issue: IssueArgs,
    /// Subject, e.g. "CN=partner-a,O=Acme".
    #[arg(long)]
    pub subject: String,
    /// Subject alternative name; repeat for several.
    #[arg(long)]
    pub san: Vec<String>,
    /// Key type.
    #[arg(long, default_value = "ec-p256", value_name = "TYPE")]
    pub key_type: String,
    #[command(flatten)]
    pub out: IdentityOutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// An identity (key + chain) written as a store.
#[derive(Debug, Args)]
pub struct IdentityOutArgs {
    /// Where to write (.p12/.pfx, .jks or .pem). An existing file is refused unless --force.
    #[arg(long, value_name = "FILE", alias = "out-p12")]
    pub out: PathBuf,
    /// The output type, when the extension does not say.
    #[arg(long, value_name = "TYPE", value_parser = ["pkcs12", "jks", "pem"])]
    pub out_type: Option<String>,
    /// Store password (PKCS#12, JKS) or key passphrase (PEM).
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// PEM only: write the key unencrypted.
    #[arg(long, conflicts_with = "password")]
    pub no_passphrase: bool,
    /// The alias of the key entry.
    #[arg(long, default_value = "client")]
    pub alias: String,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `ca revoke`
#[derive(Debug, Args)]
pub struct CaRevokeArgs {
    /// The serial (hex, colons allowed), as `keyway ca list` shows it.
    pub serial: String,
    /// Why.
    #[arg(long, default_value = "unspecified")]
    pub reason: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca crl`
#[derive(Debug, Args)]
pub struct CaCrlArgs {
    #[command(flatten)]
    pub out: OutArgs,
    /// Days until the next update.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Write DER instead of PEM.
    #[arg(long)]
    pub der: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca list`
#[derive(Debug, Args)]
pub struct CaListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `ca cert`
#[derive(Debug, Args)]
pub struct CaCertArgs {
    #[command(flatten)]
    pub out: OutArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `keyway cert`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Show everything a certificate says.
    #[command(after_help = "Examples:
  keyway cert inspect partner.pem
  keyway cert inspect client.p12 --password env:P12_PASS --json

Reads PEM (every certificate in it), DER, PKCS#12 and JKS.

Exit codes: 0 shown, 1 a certificate is expired or not yet valid, 2 usage or input error.")]
    Inspect(CertFileArgs),
    /// Check a certificate against a truststore, as a TLS peer would.
    #[command(after_help = "Examples:
  keyway cert verify partner-a.pem --truststore keyway-ca.pem
  keyway cert verify gw.pem --truststore partners.jks --truststore-password changeit --purpose server --name gw.acme.example
  keyway cert verify partner-a.pem --truststore keyway-ca.pem --crl ca.crl

The first certificate of FILE is checked; the others are used as intermediates.

Exit codes: 0 valid, 1 not valid (the reason is printed), 2 usage or input error.")]
    Verify(CertVerifyArgs),
    /// Print the SHA-256 (and SHA-1) fingerprints.
    #[command(after_help = "Examples:
  keyway cert fingerprint partner-root.pem

Exit codes: 0 printed, 2 usage or input error.")]
    Fingerprint(CertFileArgs),
    /// Put a key, its certificate and chain into a PKCS#12, JKS or PEM file, after checking
    /// that they belong together (the upload of a CA-signed certificate).
    #[command(after_help = "Examples:
  keyway cert bundle --key partner-a.key --key-passphrase env:KEY_PASS --cert partner-a.pem \\
      --ca issuing-ca.pem --ca root-ca.pem --out partner-a.p12 --password env:P12_PASS
  keyway cert bundle --key client.key --no-passphrase --cert signed.pem --chain chain.pem --out client.jks --password changeit

Checks before anything is written: the certificate is for this key, it chains to the CA
certificates given (--ca, --chain, or those in --cert), it is valid now, it is not a CA, and
(with --purpose client, the default) it allows clientAuth.

Exit codes: 0 written, 2 a check failed or usage or input error.")]
    Bundle(CertBundleArgs),
}

/// A certificate file.
#[derive(Debug, Args)]
pub struct CertFileArgs {
    /// PEM, DER, PKCS#12 or JKS.
    pub file: PathBuf,
    /// Password, for PKCS#12 and JKS.
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `cert verify`
#[derive(Debug, Args)]
pub struct CertVerifyArgs {
    #[command(flatten)]
    pub cert: CertFileArgs,
    /// The truststore (PEM, DER, PKCS#12, JKS).
    #[arg(long, value_name = "FILE")]
    pub truststore: PathBuf,
    /// The truststore's password.
    #[arg(
        long = "truststore-storepass",
        alias = "truststore-password",
        value_name = "PASSWORD"
    )]
    pub truststore_password: Option<String>,
    /// client or server.
    #[arg(long, default_value = "client")]
    pub purpose: String,
    /// The host name a server certificate must be valid for (server purpose).
    #[arg(long)]
    pub name: Option<String>,
    /// CRLs to check revocation against (PEM or DER); repeat for several.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
}

/// `cert bundle`
#[derive(Debug, Args)]
pub struct CertBundleArgs {
    /// The private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key's passphrase.
    #[arg(long = "keypass", alias = "key-passphrase", value_name = "PASSPHRASE")]
    pub key_passphrase: Option<String>,
    /// The key is not encrypted.
    #[arg(long = "no-key-passphrase", conflicts_with = "key_passphrase")]
    pub plain_key: bool,
    /// The certificate the CA returned (PEM or DER; a chain after it is used too).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Intermediate certificates.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// CA certificates the certificate must chain to.
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,
    /// client (requires clientAuth) or server.
    #[arg(long, default_value = "client")]
    pub purpose: String,
    #[command(flatten)]
    pub out: IdentityOutArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
