//! PKCS#12 through the `p12-keystore` crate, with keyway's own linking of keys to chains.
//!
//! keyway reads the raw bags rather than the crate's keystore view so that certificates
//! openssl writes without Java's "trusted" attribute still show up as trusted entries
//! (Java's keytool hides them, a classic cause of "my truststore is empty").

use p12_keystore::error::Error as P12Error;
use p12_keystore::{
    EncryptionAlgorithm, KeyStore as P12Store, KeyStoreEntry, MacAlgorithm, Pkcs12Archive,
    PrivateKeyChain,
};
use sha1::{Digest, Sha1};

use crate::alias::AliasAllocator;
use crate::{Certificate, Entry, EntryContent, Error, Format, PrivateKey, SealedKey};

/// PBKDF iterations for PKCS#12 files keyway writes (Java 17's default).
const ITERATIONS: u32 = 10_000;
/// Iterations for legacy (3DES, SHA-1 MAC) files: what OpenSSL 1.x used.
const LEGACY_ITERATIONS: u32 = 2048;

/// DER of the PBES2 OID (1.2.840.113549.1.5.13): a file without it uses only legacy PBE.
const PBES2_OID_DER: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D,
];

/// Whether a PKCS#12 file uses only the legacy (pre-PBES2) encryption, so that a rewrite
/// keeps it readable by the old consumer it was made for.
pub(crate) fn is_legacy(data: &[u8]) -> bool {
    !data
        .windows(PBES2_OID_DER.len())
        .any(|w| w == PBES2_OID_DER)
}

pub(crate) fn read(data: &[u8], password: &str) -> Result<Vec<Entry>, Error> {
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(map_error)?;
    let mut certs = Vec::new();
    for (n, bag) in archive.certs.iter().enumerate() {
        let context = match &bag.friendly_name {
            Some(name) => format!("certificate \"{name}\""),
            None => format!("certificate bag {}", n + 1),
        };
        certs.push(Certificate::from_der(bag.cert.as_der().to_vec(), &context)?);
    }
    let mut used = vec![false; certs.len()];
    let mut aliases = AliasAllocator::default();
    let mut entries = Vec::new();

    for (n, bag) in archive.keys.iter().enumerate() {
        let fallback = format!("key bag {}", n + 1);
        let context = bag
            .friendly_name
            .clone()
            .unwrap_or_else(|| fallback.clone());
        let key = PrivateKey::from_pkcs8_der(bag.key.as_der(), &context)?;
        let by_local_id = bag.local_key_id.as_ref().and_then(|id| {
            archive
                .certs
                .iter()
                .position(|c| c.local_key_id.as_deref() == Some(id.as_ref()))
        });
        let leaf = by_local_id.or_else(|| certs.iter().position(|c| key.matches(c) == Some(true)));
        let chain = match leaf {
            Some(leaf) => crate::chain::build_chain(leaf, &certs, &mut used),
            None => Vec::new(),
        };
        let alias = aliases.take(
            bag.friendly_name
                .clone()
                .or_else(|| chain.first().map(crate::alias::from_certificate))
                .unwrap_or(fallback),
        );
        entries.push(Entry {
            alias,
            created: None,
            content: EntryContent::PrivateKey {
                key: SealedKey::Plain(key),
                chain,
            },
        });
    }

    for (index, cert) in certs.into_iter().enumerate() {
        let bag = &archive.certs[index];
        // A trusted bag is a trust anchor even when it also serves in a chain.
        if used[index] && !bag.trusted {
            continue;
        }
        let alias = aliases.take(
            bag.friendly_name
                .clone()
                .unwrap_or_else(|| crate::alias::from_certificate(&cert)),
        );
        entries.push(Entry {
            alias,
            created: None,
            content: EntryContent::TrustedCert(cert),
        });
    }
    if !archive.secrets.is_empty() {
        return Err(Error::Unsupported {
            what: format!(
                "{} secret key bag(s) in this PKCS#12 file: keyway reads certificates and private keys only",
                archive.secrets.len()
            ),
        });
    }
    Ok(entries)
}

pub(crate) fn write(
    entries: &[(&Entry, PrivateKey)],
    trusted: &[&Entry],
    password: &str,
    legacy: bool,
) -> Result<Vec<u8>, Error> {
    let mut store = P12Store::new();
    for (entry, key) in entries {
        let EntryContent::PrivateKey { chain, .. } = &entry.content else {
            continue;
        };
        let certs = chain
            .iter()
            .map(|c| p12_keystore::Certificate::from_der(c.der()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_error)?;
        let local_key_id =
            Sha1::digest(chain.first().map(Certificate::der).unwrap_or_default()).to_vec();
        let p12_key = p12_keystore::PrivateKey::from_der(key.pkcs8_der()).map_err(map_error)?;
        store.add_entry(
            &entry.alias,
            KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, p12_key, certs)),
        );
    }
    for entry in trusted {
        let EntryContent::TrustedCert(cert) = &entry.content else {
            continue;
        };
        let cert = p12_keystore::Certificate::from_der(cert.der()).map_err(map_error)?;
        store.add_entry(&entry.alias, KeyStoreEntry::Certificate(cert));
    }
    let writer = store.writer(password);
    let writer = if legacy {
        writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .encryption_iterations(LEGACY_ITERATIONS)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .mac_iterations(LEGACY_ITERATIONS)
    } else {
        writer
            .encryption_iterations(ITERATIONS)
            .mac_iterations(ITERATIONS)
    };
    writer.write().map_err(map_error)
}

fn map_error(e: P12Error) -> Error {
    let format = Format::Pkcs12;
    match e {
        // The MAC is keyed by the password; without a MAC, decryption padding fails instead.
        P12Error::MacError(_) | P12Error::UnpadError => Error::WrongStorePassword { format },
        P12Error::Pkcs5Error(detail) if detail.to_lowercase().contains("decrypt") => {
            Error::WrongStorePassword { format }
        }
        P12Error::UnsupportedEncryptionScheme => Error::Unsupported {
            what: "a PKCS#12 encryption scheme other than PBES2/AES, 3DES or RC2 (re-export it with `openssl pkcs12 -export`)".into(),
        },
        P12Error::UnsupportedMacAlgorithm => Error::Unsupported {
            what: "the PKCS#12 MAC algorithm (keyway reads HMAC-SHA1 and HMAC-SHA2 MACs)".into(),
        },
        P12Error::InvalidVersion => Error::Malformed { format, detail: "PFX version is not 3".into() },
        P12Error::X509Error(e) => Error::InvalidCertificate { context: "PKCS#12 certificate bag".into(), detail: e.to_string() },
        other => Error::Malformed { format, detail: other.to_string() },
    }
}
