//! PEM files as stores: certificate bundles, keys with their chains, and the
//! `Bag Attributes` text `openssl pkcs12 -nodes` puts between blocks (used for aliases
//! and for pairing a key with its certificate).

use base64ct::{Base64, Encoding};
use sha1::{Digest, Sha1};

use crate::alias::{AliasAllocator, from_certificate};
use crate::cert::hex_colon;
use crate::chain::build_chain;
use crate::{Certificate, Entry, EntryContent, Error, Format, PrivateKey, SealedKey};

/// Largest base64 body keyway decodes from one PEM block.
const MAX_BLOCK: usize = 16 * 1024 * 1024;

struct Block {
    label: String,
    der: Vec<u8>,
    line: usize,
    friendly_name: Option<String>,
    local_key_id: Option<String>,
    has_headers: bool,
}

pub(crate) fn is_pem(data: &[u8]) -> bool {
    data.windows(11).any(|w| w == b"-----BEGIN ")
}

fn parse_blocks(text: &str) -> Result<Vec<Block>, Error> {
    let malformed = |detail: String| Error::Malformed {
        format: Format::Pem,
        detail,
    };
    let mut blocks = Vec::new();
    let mut friendly_name = None;
    let mut local_key_id = None;
    let mut lines = text.lines().enumerate();
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim();
        if let Some(value) = line.strip_prefix("friendlyName:") {
            friendly_name = Some(value.trim().to_string());
            continue;
        }
        if let Some(value) = line.strip_prefix("localKeyID:") {
            local_key_id = Some(value.trim().to_uppercase());
            continue;
        }
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut has_headers = false;
        let mut closed = false;
        for (_, inner) in lines.by_ref() {
            let inner = inner.trim();
            if inner == end {
                closed = true;
                break;
            }
            if inner.starts_with("-----BEGIN ") {
                break;
            }
            if inner.contains(':') {
                has_headers = true;
            } else {
                body.push_str(inner);
            }
            if body.len() > MAX_BLOCK {
                return Err(malformed(format!(
                    "the {label} block at line {} is larger than 16 MiB",
                    n + 1
                )));
            }
        }
        if !closed {
            return Err(malformed(format!(
                "the {label} block at line {} has no \"{end}\" line",
                n + 1
            )));
        }
        let der = Base64::decode_vec(&body).map_err(|_| {
            malformed(format!(
                "the {label} block at line {} is not valid base64",
                n + 1
            ))
        })?;
        blocks.push(Block {
            label: label.to_string(),
            der,
            line: n + 1,
            friendly_name: friendly_name.take(),
            local_key_id: local_key_id.take(),
            has_headers,
        });
    }
    Ok(blocks)
}

struct Item<T> {
    value: T,
    friendly_name: Option<String>,
    local_key_id: Option<String>,
    line: usize,
}

pub(crate) fn read(data: &[u8]) -> Result<Vec<Entry>, Error> {
    let text = String::from_utf8_lossy(data);
    let blocks = parse_blocks(&text)?;
    let mut keys: Vec<Item<SealedKey>> = Vec::new();
    let mut certs: Vec<Item<Certificate>> = Vec::new();
    let mut ignored = Vec::new();
    for block in blocks {
        let context = format!("{} block at line {}", block.label, block.line);
        let sealed = match block.label.as_str() {
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                // OpenSSL's TRUSTED CERTIFICATE appends trust settings after the certificate.
                let der = first_der_element(&block.der).unwrap_or(&block.der).to_vec();
                certs.push(Item {
                    value: Certificate::from_der(der, &context)?,
                    friendly_name: block.friendly_name,
                    local_key_id: block.local_key_id,
                    line: block.line,
                });
                continue;
            }
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" if block.has_headers => {
                return Err(Error::Unsupported {
                    what: format!(
                        "{context}: legacy OpenSSL-encrypted key (Proc-Type/DEK-Info headers); convert it with `openssl pkcs8 -topk8 -in KEY -out key.pem` first"
                    ),
                });
            }
            "PRIVATE KEY" => SealedKey::Plain(PrivateKey::from_pkcs8_der(&block.der, &context)?),
            "RSA PRIVATE KEY" => {
                SealedKey::Plain(PrivateKey::from_pkcs1_der(&block.der, &context)?)
            }
            "EC PRIVATE KEY" => SealedKey::Plain(PrivateKey::from_sec1_der(&block.der, &context)?),
            "ENCRYPTED PRIVATE KEY" => {
                pkcs8::EncryptedPrivateKeyInfoRef::try_from(block.der.as_slice()).map_err(|e| {
                    Error::InvalidKey {
                        context: context.clone(),
                        detail: format!("encrypted PKCS#8: {e}"),
                    }
                })?;
                SealedKey::Pkcs8Encrypted(block.der)
            }
            // Curve parameters that `openssl ecparam -genkey` writes before the key.
            "EC PARAMETERS" => continue,
            other => {
                ignored.push(other.to_string());
                continue;
            }
        };
        keys.push(Item {
            value: sealed,
            friendly_name: block.friendly_name,
            local_key_id: block.local_key_id,
            line: block.line,
        });
    }
    if keys.is_empty() && certs.is_empty() {
        return Err(Error::UnrecognizedFormat {
            detail: if ignored.is_empty() {
                "PEM text with no blocks".into()
            } else {
                format!(
                    "PEM with no certificates or private keys (found: {})",
                    ignored.join(", ")
                )
            },
        });
    }
    Ok(assemble(keys, certs))
}

fn assemble(keys: Vec<Item<SealedKey>>, certs: Vec<Item<Certificate>>) -> Vec<Entry> {
    let all: Vec<Certificate> = certs.iter().map(|c| c.value.clone()).collect();
    let mut used = vec![false; all.len()];
    let mut aliases = AliasAllocator::default();
    let mut entries = Vec::new();
    for key in keys {
        let free = |i: &usize, used: &[bool]| !used[*i];
        let by_id = key.local_key_id.as_ref().and_then(|id| {
            (0..all.len()).find(|i| free(i, &used) && certs[*i].local_key_id.as_ref() == Some(id))
        });
        let by_match = || match &key.value {
            SealedKey::Plain(k) => {
                (0..all.len()).find(|i| free(i, &used) && k.matches(&all[*i]) == Some(true))
            }
            _ => None,
        };
        // An encrypted key cannot be matched yet: take the first certificate that issued no other.
        let by_shape = || {
            (0..all.len()).find(|i| {
                free(i, &used)
                    && !all.iter().enumerate().any(|(j, other)| {
                        j != *i
                            && !used[j]
                            && other.info().issuer == all[*i].info().subject
                            && !all[*i].info().self_issued
                    })
            })
        };
        let leaf = by_id.or_else(by_match).or_else(by_shape);
        let chain = leaf
            .map(|l| build_chain(l, &all, &mut used))
            .unwrap_or_default();
        let wanted = key
            .friendly_name
            .clone()
            .or_else(|| leaf.and_then(|l| certs[l].friendly_name.clone()))
            .or_else(|| chain.first().map(from_certificate))
            .unwrap_or_else(|| format!("key-line-{}", key.line));
        entries.push(Entry {
            alias: aliases.take(wanted),
            created: None,
            content: EntryContent::PrivateKey {
                key: key.value,
                chain,
            },
        });
    }
    for (i, cert) in certs.into_iter().enumerate() {
        if used[i] {
            continue;
        }
        let wanted = cert
            .friendly_name
            .unwrap_or_else(|| from_certificate(&cert.value));
        entries.push(Entry {
            alias: aliases.take(wanted),
            created: None,
            content: EntryContent::TrustedCert(cert.value),
        });
    }
    entries
}

/// The first DER TLV in `der` (definite lengths only).
fn first_der_element(der: &[u8]) -> Option<&[u8]> {
    let first_len = *der.get(1)?;
    let (header, len) = if first_len < 0x80 {
        (2, usize::from(first_len))
    } else {
        let n = usize::from(first_len & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let len = der
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (2 + n, len)
    };
    der.get(..header.checked_add(len)?)
}

/// Writes entries as PEM with `Bag Attributes` lines, as `openssl pkcs12 -nodes` does,
/// so aliases and key–certificate pairs survive a round trip.
/// Each entry comes with its key's PEM text, already made, when it is a private key.
pub(crate) fn write(entries: &[(&Entry, Option<String>)]) -> String {
    let mut out = String::new();
    for (entry, key_pem) in entries {
        match &entry.content {
            EntryContent::PrivateKey { chain, .. } => {
                let id = chain.first().map(|leaf| local_key_id(leaf.der()));
                bag_attributes(&mut out, &entry.alias, id.as_deref());
                if let Some(key_pem) = key_pem {
                    out.push_str(key_pem);
                }
                for (n, cert) in chain.iter().enumerate() {
                    if n == 0 {
                        bag_attributes(&mut out, &entry.alias, id.as_deref());
                    }
                    cert_block(&mut out, cert);
                }
            }
            EntryContent::TrustedCert(cert) => {
                bag_attributes(&mut out, &entry.alias, None);
                cert_block(&mut out, cert);
            }
            EntryContent::SecretKey(_) => {}
        }
    }
    out
}

fn bag_attributes(out: &mut String, alias: &str, local_key_id: Option<&str>) {
    out.push_str("Bag Attributes\n");
    out.push_str(&format!("    friendlyName: {alias}\n"));
    if let Some(id) = local_key_id {
        out.push_str(&format!("    localKeyID: {id}\n"));
    }
}

fn cert_block(out: &mut String, cert: &Certificate) {
    out.push_str(&format!(
        "subject={}\nissuer={}\n",
        cert.info().subject,
        cert.info().issuer
    ));
    out.push_str(&cert.to_pem());
}

/// OpenSSL's localKeyID: SHA-1 of the leaf certificate, as spaced hex pairs.
fn local_key_id(leaf_der: &[u8]) -> String {
    hex_colon(&Sha1::digest(leaf_der)).replace(':', " ")
}
