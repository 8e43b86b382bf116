//! Key pairs: generation of the types keyway offers, and loading a key for signing.

use std::fmt;
use std::str::FromStr;

use keyway_keystore::{Keystore, PrivateKey};
use rcgen::KeyPair;
use serde::Serialize;

use crate::PkiError;

/// The key types keyway generates. ECDSA P-256 is the default: small, fast, accepted by
/// every TLS stack of the last decade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256.
    #[default]
    EcP256,
    /// ECDSA on P-384 with SHA-384.
    EcP384,
    /// RSA 2048 bits, PKCS#1 v1.5 signatures with SHA-256.
    Rsa2048,
    /// RSA 3072 bits.
    Rsa3072,
    /// RSA 4096 bits.
    Rsa4096,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// Every type, in the order the CLI lists them.
    pub const ALL: [KeyType; 6] = [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
        KeyType::Ed25519,
    ];

    /// The name the CLI and configuration use, e.g. `ec-p256`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Rsa4096 => "rsa4096",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        KeyType::ALL
            .into_iter()
            .find(|t| t.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = KeyType::ALL.iter().map(|t| t.name()).collect();
                format!(
                    "unknown key type \"{s}\"; choose one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Generates a fresh key pair.
pub fn generate(kind: KeyType) -> Result<PrivateKey, PkiError> {
    use rcgen::RsaKeySize;
    let pair = match kind {
        KeyType::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyType::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096),
    }
    .map_err(|e| PkiError::crypto(&format!("generating a {kind} key"), e))?;
    let der = pkcs8_v1(&pair.serialize_der())?;
    Ok(PrivateKey::from_pkcs8_der(&der, "generated key")?)
}

/// PKCS#8 version 1, without the optional public key: the Ed25519 keys aws-lc makes carry
/// it (version 2, RFC 5958), which OpenSSL 3.0 cannot read.
fn pkcs8_v1(der: &[u8]) -> Result<Vec<u8>, PkiError> {
    use pkcs8::der::{Decode, Encode};
    let mut info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| PkiError::crypto("re-encoding the new key", e))?;
    info.public_key = None;
    info.to_der()
        .map_err(|e| PkiError::crypto("re-encoding the new key", e))
}

/// The rcgen signing key for `key` (ECDSA P-256/P-384, Ed25519, RSA).
pub(crate) fn signing_key(key: &PrivateKey) -> Result<KeyPair, PkiError> {
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(key.pkcs8_der());
    KeyPair::try_from(&der).map_err(|e| {
        PkiError::Request(format!(
            "this key ({}) cannot sign: {e}; keyway signs with ECDSA P-256/P-384, Ed25519 and RSA keys",
            key.description()
        ))
    })
}

/// Reads a private key from PEM (PKCS#8 plain or encrypted, PKCS#1, SEC1) or any keystore
/// format holding exactly one key. `source_name` names it in errors.
pub fn read_private_key(
    bytes: &[u8],
    passphrase: Option<&str>,
    source_name: &str,
) -> Result<PrivateKey, PkiError> {
    let store = Keystore::from_bytes(bytes, None, passphrase)?;
    let keys: Vec<_> = store
        .entries()
        .iter()
        .filter(|e| e.entry_type() == keyway_keystore::EntryType::PrivateKey)
        .collect();
    match keys.as_slice() {
        [one] => one.private_key(passphrase).map_err(|e| match e {
            keyway_keystore::Error::WrongKeyPassword { .. } => PkiError::Request(format!(
                "{source_name}: wrong passphrase: the key could not be decrypted"
            )),
            keyway_keystore::Error::KeyPasswordRequired { .. } => {
                PkiError::Request(format!("{source_name} is encrypted: give its passphrase"))
            }
            other => other.into(),
        }),
        [] => Err(PkiError::Request(format!(
            "{source_name} holds no private key"
        ))),
        many => Err(PkiError::Request(format!(
            "{source_name} holds {} private keys; give a file with one",
            many.len()
        ))),
    }
}

/// Writes `key` as PKCS#8 PEM, encrypted when a passphrase is given.
pub fn key_pem(key: &PrivateKey, passphrase: Option<&str>) -> Result<String, PkiError> {
    if passphrase.is_some_and(str::is_empty) {
        return Err(PkiError::Request(
            "an empty passphrase protects nothing; give one, or ask for plain output explicitly"
                .into(),
        ));
    }
    Ok(key.to_pem(passphrase)?)
}
