//! Keystores and truststores for keyway: JKS, JCEKS, PKCS#12 and PEM, read, changed and
//! written without a JVM, with errors that say which password, alias or byte is wrong.
//!
//! What it does:
//! - reads JKS, JCEKS (private keys and trusted certificates; secret keys are listed, not
//!   decrypted), PKCS#12 (modern PBES2/AES and legacy RC2/3DES), PEM (bundles, PKCS#8
//!   plain and encrypted, PKCS#1, SEC1) and DER certificates, detecting the format from
//!   the bytes;
//! - checks integrity (the JKS/JCEKS keyed digest, the PKCS#12 MAC) and tells a wrong
//!   store password ([`Error::WrongStorePassword`]) from a wrong key password
//!   ([`Error::WrongKeyPassword`], naming the alias);
//! - writes JKS, PKCS#12 (AES by default, 3DES on request) and PEM that keytool and
//!   openssl read;
//! - lists, adds, deletes and renames entries, changes passwords, converts formats.
//!
//! What it does not do: talk to the network, decide what to trust (that is `keyway-tls`),
//! or write JCEKS. It works on bytes; the [`mod@file`] module is the one place that touches
//! the disk, to name the file in errors and to replace files atomically.
//!
//! ```no_run
//! use keyway_keystore::{Keystore, file};
//!
//! let store = file::load("partners.jks".as_ref(), None, Some("changeit"))?;
//! for entry in store.entries() {
//!     println!("{} {}", entry.alias, entry.entry_type());
//! }
//! # Ok::<(), keyway_keystore::FileError>(())
//! ```

mod alias;
mod cert;
mod chain;
mod error;
pub mod file;
mod javaser;
mod jks;
mod key;
mod pem;
mod pkcs12;
mod reader;

use serde::Serialize;
use time::OffsetDateTime;

pub use cert::{
    CertInfo, Certificate, KeyDescription, colon_hex, distinguished_name, fingerprint_sha256,
    hex_colon, serialize_colon_hex,
};
pub use error::{Error, FileError};
pub use key::PrivateKey;

/// A keystore encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Java KeyStore (Sun, `0xFEEDFEED`).
    Jks,
    /// Java Cryptography Extension KeyStore (`0xCECECECE`); read only.
    Jceks,
    /// PKCS#12 / PFX.
    Pkcs12,
    /// PEM text: certificates and keys in `-----BEGIN …-----` blocks.
    Pem,
    /// One DER-encoded certificate or PKCS#8 key.
    Der,
}

impl Format {
    /// The names accepted on the command line.
    pub const NAMES: &'static str = "jks, jceks, pkcs12 (p12, pfx), pem, der";

    /// Whether opening a store of this format needs a store password.
    pub fn has_store_password(self) -> bool {
        matches!(self, Format::Jks | Format::Jceks | Format::Pkcs12)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Jks => "JKS",
            Format::Jceks => "JCEKS",
            Format::Pkcs12 => "PKCS#12",
            Format::Pem => "PEM",
            Format::Der => "DER",
        })
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "jks" => Ok(Format::Jks),
            "jceks" => Ok(Format::Jceks),
            "pkcs12" | "p12" | "pfx" => Ok(Format::Pkcs12),
            "pem" => Ok(Format::Pem),
            "der" | "cer" | "crt" => Ok(Format::Der),
            other => Err(format!(
                "unknown store type \"{other}\" (expected one of: {})",
                Format::NAMES
            )),
        }
    }
}

/// A private key as it sits in a store: decrypted, or still protected by its format.
#[derive(Clone)]
#[non_exhaustive]
pub enum SealedKey {
    /// Decrypted (PKCS#12 after the store password, plain PEM).
    Plain(PrivateKey),
    /// JKS key protection; opened with the key password.
    Jks(Vec<u8>),
    /// JCEKS key protection (PBEWithMD5AndTripleDES).
    Jceks(Vec<u8>),
    /// Encrypted PKCS#8 (PEM `ENCRYPTED PRIVATE KEY`).
    Pkcs8Encrypted(Vec<u8>),
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.protection())
    }
}

impl SealedKey {
    /// How the key is protected, in words.
    pub fn protection(&self) -> &'static str {
        match self {
            SealedKey::Plain(_) => "none (decrypted)",
            SealedKey::Jks(_) => "JKS key password",
            SealedKey::Jceks(_) => "JCEKS key password (PBEWithMD5AndTripleDES)",
            SealedKey::Pkcs8Encrypted(_) => "encrypted PKCS#8",
        }
    }

    fn open(&self, password: Option<&str>, alias: &str) -> Result<PrivateKey, Error> {
        let need = || Error::KeyPasswordRequired {
            alias: alias.to_string(),
        };
        match self {
            SealedKey::Plain(key) => Ok(key.clone()),
            SealedKey::Jks(blob) => jks::unseal_jks(blob, password.ok_or_else(need)?, alias),
            SealedKey::Jceks(blob) => jks::unseal_jceks(blob, password.ok_or_else(need)?, alias),
            SealedKey::Pkcs8Encrypted(der) => {
                key::decrypt_pkcs8(der, password.ok_or_else(need)?, alias)
            }
        }
    }
}

/// A JCEKS secret key, kept sealed: keyway lists it and never decrypts it.
#[derive(Debug, Clone)]
pub struct SecretKey {
    /// The Java class of the sealed object (normally `…SealedObjectForKeyProtector`).
    pub sealed_class: String,
}

/// What an entry holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EntryContent {
    /// A private key with its certificate chain, leaf first.
    PrivateKey {
        /// The key, possibly still encrypted.
        key: SealedKey,
        /// The chain, leaf first (may be empty for a lone PEM key).
        chain: Vec<Certificate>,
    },
    /// A certificate trusted as an anchor.
    TrustedCert(Certificate),
    /// A JCEKS secret key.
    SecretKey(SecretKey),
}

/// The kind of an entry, named as keytool names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    /// `PrivateKeyEntry`.
    PrivateKey,
    /// `trustedCertEntry`.
    TrustedCertificate,
    /// `SecretKeyEntry`.
    SecretKey,
}

impl std::fmt::Display for EntryType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryType::PrivateKey => "PrivateKeyEntry",
            EntryType::TrustedCertificate => "trustedCertEntry",
            EntryType::SecretKey => "SecretKeyEntry",
        })
    }
}

/// One aliased entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The alias.
    pub alias: String,
    /// Creation date, where the format records one (JKS, JCEKS).
    pub created: Option<OffsetDateTime>,
    /// What it holds.
    pub content: EntryContent,
}

/// The facts about one entry that `list` shows, serializable as the JSON contract.
#[derive(Debug, Clone, Serialize)]
pub struct EntrySummary {
    /// The alias.
    pub alias: String,
    /// The entry type.
    pub entry_type: EntryType,
    /// Creation date, when recorded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    /// The entry's certificate (the leaf, for a private key).
    pub certificate: Option<CertInfo>,
    /// Number of certificates in the chain (1 for a trusted certificate).
    pub chain_length: usize,
    /// Every certificate of the chain, its own first.
    pub chain: Vec<CertInfo>,
    /// The key protection, for private keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_protection: Option<&'static str>,
}

impl Entry {
    /// The entry type.
    pub fn entry_type(&self) -> EntryType {
        match self.content {
            EntryContent::PrivateKey { .. } => EntryType::PrivateKey,
            EntryContent::TrustedCert(_) => EntryType::TrustedCertificate,
            EntryContent::SecretKey(_) => EntryType::SecretKey,
        }
    }

    /// The certificates: the chain for a key, the one certificate for a trusted entry.
    pub fn chain(&self) -> &[Certificate] {
        match &self.content {
            EntryContent::PrivateKey { chain, .. } => chain,
            EntryContent::TrustedCert(cert) => std::slice::from_ref(cert),
            EntryContent::SecretKey(_) => &[],
        }
    }

    /// The entry's own certificate (leaf of a key's chain).
    pub fn certificate(&self) -> Option<&Certificate> {
        self.chain().first()
    }

    /// Decrypts the private key with `password` (JKS/JCEKS key password; ignored for
    /// keys already decrypted).
    pub fn private_key(&self, password: Option<&str>) -> Result<PrivateKey, Error> {
        match &self.content {
            EntryContent::PrivateKey { key, .. } => key.open(password, &self.alias),
            _ => Err(self.wrong_type("PrivateKeyEntry")),
        }
    }

    /// The listing facts.
    pub fn summary(&self) -> EntrySummary {
        EntrySummary {
            alias: self.alias.clone(),
            entry_type: self.entry_type(),
            created: self.created,
            certificate: self.certificate().map(|c| c.info().clone()),
            chain_length: self.chain().len(),
            chain: self.chain().iter().map(|c| c.info().clone()).collect(),
            key_protection: match &self.content {
                EntryContent::PrivateKey { key, .. } => Some(key.protection()),
                _ => None,
            },
        }
    }

    fn wrong_type(&self, expected: &'static str) -> Error {
        let found = match self.entry_type() {
            EntryType::PrivateKey => "PrivateKeyEntry",
            EntryType::TrustedCertificate => "trustedCertEntry",
            EntryType::SecretKey => "SecretKeyEntry",
        };
        Error::WrongEntryType {
            alias: self.alias.clone(),
            expected,
            found,
        }
    }
}

/// How to write a store.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Store password (JKS, PKCS#12). Required for those formats.
    pub store_password: Option<String>,
    /// Password for keys held decrypted that the format encrypts one by one: JKS keys
    /// (default: the store password) and PEM keys (default: written unencrypted). Keys
    /// still sealed in the store's own format are copied as they are, keeping their
    /// passwords; use [`Keystore::unseal_keys`] first to re-encrypt everything.
    pub key_password: Option<String>,
    /// PKCS#12 only: 3DES and a SHA-1 MAC, for consumers older than Java 8u301 / OpenSSL 1.1.
    pub pkcs12_legacy: bool,
}

/// A keystore or truststore in memory.
#[derive(Debug, Clone)]
pub struct Keystore {
    format: Format,
    entries: Vec<Entry>,
    integrity_verified: bool,
    pkcs12_legacy: bool,
}

/// Detects the format from the leading bytes.
pub fn detect_format(data: &[u8]) -> Result<Format, Error> {
    let trimmed = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    if trimmed.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Empty);
    }
    match trimmed.get(..4) {
        Some([0xFE, 0xED, 0xFE, 0xED]) => return Ok(Format::Jks),
        Some([0xCE, 0xCE, 0xCE, 0xCE]) => return Ok(Format::Jceks),
        _ => {}
    }
    if pem::is_pem(trimmed) {
        return Ok(Format::Pem);
    }
    if trimmed[0] == 0x30 {
        // PFX is SEQUENCE { INTEGER 3, … }; a certificate or key is SEQUENCE { SEQUENCE | INTEGER 0 … }.
        let body = der_body_start(trimmed).unwrap_or(trimmed.len());
        return match trimmed.get(body..body + 3) {
            Some([0x02, 0x01, 0x03]) => Ok(Format::Pkcs12),
            Some([0x30, ..]) | Some([0x02, 0x01, 0x00]) => Ok(Format::Der),
            _ => Err(Error::UnrecognizedFormat {
                detail: "DER data that is neither PKCS#12, a certificate nor a key".into(),
            }),
        };
    }
    Err(Error::UnrecognizedFormat {
        detail: describe_unknown(trimmed),
    })
}

fn der_body_start(der: &[u8]) -> Option<usize> {
    let len = *der.get(1)?;
    if len < 0x80 {
        Some(2)
    } else {
        Some(2 + usize::from(len & 0x7F))
    }
}

fn describe_unknown(data: &[u8]) -> String {
    let hint = match data {
        [b'P', b'K', 3, 4, ..] => "a ZIP archive (a .jar?), not a keystore",
        [0xAC, 0xED, ..] => "a Java serialized object, not a keystore",
        [0x7F, b'E', b'L', b'F', ..] => "an executable, not a keystore",
        _ if std::str::from_utf8(data).is_ok() => "text without any -----BEGIN …----- block",
        _ => "unknown binary data",
    };
    let head: Vec<String> = data.iter().take(8).map(|b| format!("{b:02X}")).collect();
    format!(
        "{hint} (first bytes: {}); expected JKS (FE ED FE ED), JCEKS (CE CE CE CE), PKCS#12 or certificate DER (30 …), or PEM",
        head.join(" ")
    )
}

impl Keystore {
    /// An empty store that will be written as `format`.
    pub fn new(format: Format) -> Self {
        Keystore {
            format,
            entries: Vec::new(),
            integrity_verified: true,
            pkcs12_legacy: false,
        }
    }

    /// Reads a store. `expected` (from `--storetype`) must agree with the detected format.
    /// `password` opens JKS/JCEKS/PKCS#12; a JKS/JCEKS read without one is listed but its
    /// integrity is not verified (see [`Keystore::integrity_verified`]).
    pub fn from_bytes(
        data: &[u8],
        expected: Option<Format>,
        password: Option<&str>,
    ) -> Result<Self, Error> {
        let format = detect_format(data)?;
        if let Some(expected) = expected {
            let compatible =
                expected == format || (expected == Format::Pem && format == Format::Der);
            if !compatible {
                return Err(Error::UnrecognizedFormat {
                    detail: format!(
                        "the data is {format}, not {expected} as the store type says (leave the type out to detect it)"
                    ),
                });
            }
        }
        let (format, entries) = match format {
            Format::Jks | Format::Jceks => jks::read(data, password)?,
            Format::Pkcs12 => {
                let password = password.ok_or(Error::StorePasswordRequired { format })?;
                (format, pkcs12::read(data, password)?)
            }
            Format::Pem => (format, pem::read(data)?),
            Format::Der => (format, read_der(data)?),
        };
        let integrity_verified = password.is_some() || !format.has_store_password();
        let pkcs12_legacy = format == Format::Pkcs12 && pkcs12::is_legacy(data);
        Ok(Keystore {
            format,
            entries,
            integrity_verified,
            pkcs12_legacy,
        })
    }

    /// The format it was read as (or created for).
    pub fn format(&self) -> Format {
        self.format
    }

    /// False when a JKS/JCEKS store was read without a password.
    pub fn integrity_verified(&self) -> bool {
        self.integrity_verified
    }

    /// True for a PKCS#12 file read with legacy (3DES/RC2) encryption only; write it back
    /// with [`WriteOptions::pkcs12_legacy`] to keep it readable by its old consumers.
    pub fn pkcs12_legacy(&self) -> bool {
        self.pkcs12_legacy
    }

    /// The entries, in store order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Finds an entry by alias, case-insensitively as Java does.
    pub fn entry(&self, alias: &str) -> Result<&Entry, Error> {
        self.position(alias).map(|i| &self.entries[i])
    }

    fn position(&self, alias: &str) -> Result<usize, Error> {
        self.entries
            .iter()
            .position(|e| e.alias.to_lowercase() == alias.to_lowercase())
            .ok_or_else(|| Error::AliasNotFound {
                alias: alias.to_string(),
                available: self.entries.iter().map(|e| e.alias.clone()).collect(),
            })
    }

    fn check_new_alias(&self, alias: &str) -> Result<(), Error> {
        let reason = if alias.trim().is_empty() {
            Some("it is empty")
        } else if alias.chars().any(char::is_control) {
            Some("it contains control characters")
        } else if alias.len() > 1024 {
            Some("it is longer than 1024 bytes")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Error::InvalidAlias {
                alias: alias.chars().take(64).collect(),
                reason,
            });
        }
        if self.position(alias).is_ok() {
            return Err(Error::AliasExists {
                alias: alias.to_string(),
            });
        }
        Ok(())
    }

    /// Adds a trusted certificate under a new alias.
    pub fn add_trusted_cert(&mut self, alias: &str, cert: Certificate) -> Result<(), Error> {
        self.check_new_alias(alias)?;
        self.entries.push(Entry {
            alias: alias.to_string(),
            created: Some(OffsetDateTime::now_utc()),
            content: EntryContent::TrustedCert(cert),
        });
        Ok(())
    }

    /// Adds a private key with its certificates under a new alias. The certificates may
    /// come in any order; they are ordered leaf first, and the leaf must carry the key's
    /// public key. Certificates that are not part of the chain are refused.
    pub fn add_private_key(
        &mut self,
        alias: &str,
        key: PrivateKey,
        certs: Vec<Certificate>,
    ) -> Result<(), Error> {
        self.check_new_alias(alias)?;
        if certs.is_empty() {
            return Err(Error::Unsupported {
                what: format!(
                    "a private key entry needs its certificate; none was given for \"{alias}\""
                ),
            });
        }
        let leaf = match certs.iter().position(|c| key.matches(c) == Some(true)) {
            Some(leaf) => leaf,
            // A key type keyway cannot check: trust the order given.
            None if certs.iter().any(|c| key.matches(c).is_none()) => 0,
            None => {
                return Err(Error::KeyCertificateMismatch {
                    subject: certs[0].info().subject.clone(),
                });
            }
        };
        let (chain, rest) = chain::order_for_key(&certs, leaf);
        if let Some(stray) = rest.first() {
            return Err(Error::Unsupported {
                what: format!(
                    "certificate {} is not part of the chain of {} (its issuer link is missing): give only the leaf and its issuers",
                    stray.info().subject,
                    chain[0].info().subject
                ),
            });
        }
        self.entries.push(Entry {
            alias: alias.to_string(),
            created: Some(OffsetDateTime::now_utc()),
            content: EntryContent::PrivateKey {
                key: SealedKey::Plain(key),
                chain,
            },
        });
        Ok(())
    }

    /// Removes an entry.
    pub fn delete(&mut self, alias: &str) -> Result<Entry, Error> {
        let index = self.position(alias)?;
        Ok(self.entries.remove(index))
    }

    /// Renames an entry.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), Error> {
        let index = self.position(from)?;
        if !self.entries[index].alias.eq_ignore_ascii_case(to) {
            self.check_new_alias(to)?;
        }
        self.entries[index].alias = to.to_string();
        Ok(())
    }

    /// Decrypts every private key with the password `password_for(alias)` gives,
    /// so the store can be written in another format or with other passwords.
    pub fn unseal_keys(
        &mut self,
        password_for: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), Error> {
        for entry in &mut self.entries {
            if let EntryContent::PrivateKey { key, .. } = &mut entry.content
                && !matches!(key, SealedKey::Plain(_))
            {
                let password = password_for(&entry.alias);
                *key = SealedKey::Plain(key.open(password.as_deref(), &entry.alias)?);
            }
        }
        Ok(())
    }

    /// Changes one key's password (JKS: each key has its own). The key is decrypted with
    /// `old` and re-sealed with `new`.
    pub fn change_key_password(
        &mut self,
        alias: &str,
        old: Option<&str>,
        new: &str,
    ) -> Result<(), Error> {
        let index = self.position(alias)?;
        let entry = &mut self.entries[index];
        let plain = entry.private_key(old)?;
        let EntryContent::PrivateKey { key, .. } = &mut entry.content else {
            return Err(entry.wrong_type("PrivateKeyEntry"));
        };
        *key = match self.format {
            Format::Jks => SealedKey::Jks(jks::seal_jks(&plain, new)?),
            Format::Pem | Format::Der => SealedKey::Pkcs8Encrypted(plain.encrypt_pkcs8(new)?),
            Format::Pkcs12 => {
                return Err(Error::Unsupported {
                    what: "separate key passwords in PKCS#12: its keys use the store password; change that instead".into(),
                });
            }
            Format::Jceks => {
                return Err(Error::Unsupported {
                    what: "writing JCEKS: convert the store to JKS or PKCS#12 first".into(),
                });
            }
        };
        Ok(())
    }

    /// Encodes the store as `format`.
    pub fn to_bytes(&self, format: Format, options: &WriteOptions) -> Result<Vec<u8>, Error> {
        let store_password = || {
            options
                .store_password
                .as_deref()
                .ok_or(Error::StorePasswordRequired { format })
        };
        match format {
            Format::Jks => {
                let password = store_password()?;
                let key_password = options.key_password.as_deref().unwrap_or(password);
                let mut sealed = Vec::new();
                for entry in &self.entries {
                    let blob = match &entry.content {
                        EntryContent::PrivateKey { chain, .. } if chain.is_empty() => {
                            return Err(no_chain(&entry.alias, format));
                        }
                        // Already JKS-sealed keys keep their own passwords, as keytool keeps them.
                        EntryContent::PrivateKey {
                            key: SealedKey::Jks(blob),
                            ..
                        } => blob.clone(),
                        EntryContent::PrivateKey { key, .. } => {
                            jks::seal_jks(&plain(key, &entry.alias)?, key_password)?
                        }
                        _ => Vec::new(),
                    };
                    sealed.push((entry, blob));
                }
                jks::write(&sealed, password)
            }
            Format::Pkcs12 => {
                let password = store_password()?;
                let mut keys = Vec::new();
                let mut trusted = Vec::new();
                for entry in &self.entries {
                    match &entry.content {
                        EntryContent::PrivateKey { chain, .. } if chain.is_empty() => {
                            return Err(no_chain(&entry.alias, format));
                        }
                        EntryContent::PrivateKey { key, .. } => {
                            keys.push((entry, plain(key, &entry.alias)?))
                        }
                        EntryContent::TrustedCert(_) => trusted.push(entry),
                        EntryContent::SecretKey(_) => {
                            return Err(secret_unsupported(&entry.alias, format));
                        }
                    }
                }
                pkcs12::write(&keys, &trusted, password, options.pkcs12_legacy)
            }
            Format::Pem => {
                let mut items = Vec::new();
                for entry in &self.entries {
                    let key_pem = match &entry.content {
                        EntryContent::PrivateKey {
                            key: SealedKey::Pkcs8Encrypted(der),
                            ..
                        } => Some(cert::pem_block("ENCRYPTED PRIVATE KEY", der)),
                        EntryContent::PrivateKey { key, .. } => Some(
                            plain(key, &entry.alias)?.to_pem(options.key_password.as_deref())?,
                        ),
                        EntryContent::SecretKey(_) => {
                            return Err(secret_unsupported(&entry.alias, format));
                        }
                        EntryContent::TrustedCert(_) => None,
                    };
                    items.push((entry, key_pem));
                }
                Ok(pem::write(&items).into_bytes())
            }
            Format::Der => match self.entries.as_slice() {
                [entry]
                    if entry.certificate().is_some()
                        && entry.entry_type() == EntryType::TrustedCertificate =>
                {
                    Ok(entry.chain()[0].der().to_vec())
                }
                _ => Err(Error::Unsupported {
                    what: format!(
                        "DER holds exactly one certificate and this store has {} entries: export one alias with `keyway keystore export`, or convert to PEM",
                        self.entries.len()
                    ),
                }),
            },
            Format::Jceks => Err(Error::Unsupported {
                what: "writing JCEKS (deprecated by Java itself): write JKS or PKCS#12 instead"
                    .into(),
            }),
        }
    }
}

fn plain(key: &SealedKey, alias: &str) -> Result<PrivateKey, Error> {
    match key {
        SealedKey::Plain(key) => Ok(key.clone()),
        _ => Err(Error::Unsupported {
            what: format!(
                "alias \"{alias}\": its key is still encrypted; give its key password (--keypass) so keyway can re-encrypt it"
            ),
        }),
    }
}

fn no_chain(alias: &str, format: Format) -> Error {
    Error::Unsupported {
        what: format!(
            "alias \"{alias}\" is a private key without a certificate, which {format} cannot hold: import it with its certificate"
        ),
    }
}

fn secret_unsupported(alias: &str, format: Format) -> Error {
    Error::Unsupported {
        what: format!(
            "alias \"{alias}\" is a JCEKS secret key, which keyway cannot write to {format}: delete it first or keep the JCEKS file"
        ),
    }
}

fn read_der(data: &[u8]) -> Result<Vec<Entry>, Error> {
    let body = der_body_start(data).unwrap_or(0);
    let content = if data.get(body) == Some(&0x02) {
        let key = PrivateKey::from_pkcs8_der(data, "DER private key")?;
        EntryContent::PrivateKey {
            key: SealedKey::Plain(key),
            chain: Vec::new(),
        }
    } else {
        EntryContent::TrustedCert(Certificate::from_der(data.to_vec(), "DER certificate")?)
    };
    let alias = match &content {
        EntryContent::TrustedCert(cert) => alias::from_certificate(cert),
        _ => "key".to_string(),
    };
    Ok(vec![Entry {
        alias,
        created: None,
        content,
    }])
}
