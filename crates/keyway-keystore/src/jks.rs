//! JKS (read and write) and JCEKS (read), written here because no maintained crate
//! tells a wrong store password from a wrong key password or reads JCEKS.
//!
//! Layout (both): magic, version 2, entry count, entries, then a SHA-1 keyed digest
//! `SHA1(password as UTF-16BE ‖ "Mighty Aphrodite" ‖ everything before it)`.
//! Entry tags: 1 private key (encrypted PKCS#8 + chain), 2 trusted certificate,
//! 3 secret key (JCEKS only: a Java-serialized `SealedObject`).

use der::asn1::{Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Sequence};
use md5::Md5;
use sha1::{Digest, Sha1};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::key::{PrivateKey, random};
use crate::reader::{Reader, encode_modified_utf8};
use crate::{Certificate, Entry, EntryContent, Error, Format, SealedKey, SecretKey, javaser};

pub(crate) const JKS_MAGIC: u32 = 0xFEED_FEED;
const TAG_PRIVATE_KEY: u32 = 1;
const TAG_TRUSTED_CERT: u32 = 2;
const TAG_SECRET_KEY: u32 = 3;
const DIGEST_WHITENER: &[u8] = b"Mighty Aphrodite";
/// Sun's proprietary JKS key protection ("KeyProtector").
const JKS_KEY_PROTECTOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.42.2.17.1.1");
/// PBEWithMD5AndTripleDES, JCEKS's key protection.
const JCEKS_KEY_PROTECTOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.42.2.19.1");

/// `EncryptedPrivateKeyInfo` with the algorithm parameters left as raw DER.
#[derive(Sequence)]
struct ProtectedKeyInfo {
    algorithm: der::asn1::Any,
    encrypted: OctetString,
}

#[derive(Sequence)]
struct AlgorithmId {
    oid: ObjectIdentifier,
    parameters: Option<der::asn1::Any>,
}

#[derive(Sequence)]
struct PbeParameters {
    salt: OctetString,
    iterations: u32,
}

/// Reads a JKS or JCEKS store. Without a password the entries are read but the
/// integrity digest is not checked (as `keytool -list` does when no password is given).
pub(crate) fn read(data: &[u8], password: Option<&str>) -> Result<(Format, Vec<Entry>), Error> {
    let magic = u32::from_be_bytes(
        data.get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Empty)?,
    );
    let format = if magic == JKS_MAGIC {
        Format::Jks
    } else {
        Format::Jceks
    };
    let mut r = Reader::new(data, format);
    r.u32(&|| "magic".into())?;
    let version = r.u32(&|| "version".into())?;
    if version != 1 && version != 2 {
        return Err(Error::Malformed {
            format,
            detail: format!("unknown version {version} (expected 2)"),
        });
    }
    let count = r.u32(&|| "entry count".into())?;
    let mut entries = Vec::new();
    for index in 1..=count {
        entries.push(read_entry(&mut r, format, version, index, count)?);
    }
    let signed = r.consumed();
    let digest = r.bytes(20, &|| {
        "the integrity digest at the end of the store".into()
    })?;
    if r.remaining() != 0 {
        return Err(Error::Malformed {
            format,
            detail: format!(
                "{} unexpected bytes after the integrity digest",
                r.remaining()
            ),
        });
    }
    if let Some(password) = password
        && integrity_digest(password, signed).as_slice() != digest
    {
        return Err(Error::WrongStorePassword { format });
    }
    Ok((format, entries))
}

fn read_entry(
    r: &mut Reader<'_>,
    format: Format,
    version: u32,
    index: u32,
    count: u32,
) -> Result<Entry, Error> {
    let at = |what: &'static str| move || format!("entry {index} of {count}: {what}");
    let tag = r.u32(&at("entry tag"))?;
    let alias = r.java_utf(&at("alias"))?;
    let named = |what: &'static str| {
        let alias = alias.clone();
        move || format!("entry {index} (alias \"{alias}\"): {what}")
    };
    let millis = r.u64(&named("creation date"))?;
    let created =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis as i64) * 1_000_000).ok();
    let content = match tag {
        TAG_PRIVATE_KEY => {
            let protected = r.sized(&named("encrypted private key"))?.to_vec();
            let chain_len = r.u32(&named("certificate chain length"))?;
            let mut chain = Vec::new();
            for n in 1..=chain_len {
                let context = format!("alias \"{alias}\", certificate {n} of {chain_len}");
                chain.push(read_cert(r, version, &context)?);
            }
            let key = if format == Format::Jks {
                SealedKey::Jks(protected)
            } else {
                SealedKey::Jceks(protected)
            };
            EntryContent::PrivateKey { key, chain }
        }
        TAG_TRUSTED_CERT => {
            let context = format!("alias \"{alias}\"");
            EntryContent::TrustedCert(read_cert(r, version, &context)?)
        }
        TAG_SECRET_KEY if format == Format::Jceks => {
            let class = javaser::skip_object(r).map_err(|detail| Error::Malformed {
                format,
                detail: format!("entry {index} (alias \"{alias}\"): sealed secret key: {detail}"),
            })?;
            EntryContent::SecretKey(SecretKey {
                sealed_class: class,
            })
        }
        other => {
            return Err(Error::Malformed {
                format,
                detail: format!("entry {index} (alias \"{alias}\") has unknown tag {other}"),
            });
        }
    };
    Ok(Entry {
        alias,
        created,
        content,
    })
}

fn read_cert(r: &mut Reader<'_>, version: u32, context: &str) -> Result<Certificate, Error> {
    if version == 2 {
        let kind = r.java_utf(&|| format!("{context}: certificate type"))?;
        if kind != "X.509" {
            return Err(Error::Unsupported {
                what: format!("{context}: certificate type {kind} (only X.509)"),
            });
        }
    }
    let der = r.sized(&|| format!("{context}: certificate"))?;
    Certificate::from_der(der.to_vec(), context)
}

fn password_utf16(password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(password.encode_utf16().flat_map(u16::to_be_bytes).collect())
}

fn integrity_digest(password: &str, data: &[u8]) -> [u8; 20] {
    let mut md = Sha1::new();
    md.update(password_utf16(password).as_slice());
    md.update(DIGEST_WHITENER);
    md.update(data);
    md.finalize().into()
}

/// Decrypts a JKS-protected key (SHA-1 keystream, SHA-1 check of the plaintext).
pub(crate) fn unseal_jks(
    protected: &[u8],
    password: &str,
    alias: &str,
) -> Result<PrivateKey, Error> {
    let context = format!("alias \"{alias}\"");
    let encrypted = protected_payload(protected, JKS_KEY_PROTECTOR, Format::Jks, &context)?.0;
    if encrypted.len() < 40 {
        return Err(Error::Malformed {
            format: Format::Jks,
            detail: format!("{context}: protected key is too short"),
        });
    }
    let (salt, rest) = encrypted.split_at(20);
    let (body, check) = rest.split_at(rest.len() - 20);
    let pw = password_utf16(password);
    let mut plain = Zeroizing::new(body.to_vec());
    xor_keystream(&pw, salt, &mut plain);
    let mut md = Sha1::new();
    md.update(pw.as_slice());
    md.update(plain.as_slice());
    if md.finalize().as_slice() != check {
        return Err(Error::WrongKeyPassword {
            alias: alias.to_string(),
        });
    }
    PrivateKey::from_pkcs8_der(&plain, &context)
}

/// Encrypts a key the way JKS does, returning the `EncryptedPrivateKeyInfo` DER.
pub(crate) fn seal_jks(key: &PrivateKey, password: &str) -> Result<Vec<u8>, Error> {
    let pw = password_utf16(password);
    let mut salt = [0u8; 20];
    random(&mut salt)?;
    let plain = key.pkcs8_der();
    let mut body = plain.to_vec();
    xor_keystream(&pw, &salt, &mut body);
    let mut md = Sha1::new();
    md.update(pw.as_slice());
    md.update(plain);
    let mut payload = Vec::with_capacity(40 + body.len());
    payload.extend_from_slice(&salt);
    payload.extend_from_slice(&body);
    payload.extend_from_slice(&md.finalize());
    let algorithm = AlgorithmId {
        oid: JKS_KEY_PROTECTOR,
        parameters: Some(der::asn1::Any::from(Null)),
    };
    let info = ProtectedKeyInfo {
        algorithm: der::asn1::Any::encode_from(&algorithm).map_err(der_err)?,
        encrypted: OctetString::new(payload).map_err(der_err)?,
    };
    info.to_der().map_err(der_err)
}

fn xor_keystream(password: &[u8], salt: &[u8], data: &mut [u8]) {
    let mut digest: Vec<u8> = salt.to_vec();
    for chunk in data.chunks_mut(20) {
        let mut md = Sha1::new();
        md.update(password);
        md.update(&digest);
        digest = md.finalize().to_vec();
        for (b, k) in chunk.iter_mut().zip(&digest) {
            *b ^= k;
        }
    }
}

/// Decrypts a JCEKS-protected key (PBEWithMD5AndTripleDES).
pub(crate) fn unseal_jceks(
    protected: &[u8],
    password: &str,
    alias: &str,
) -> Result<PrivateKey, Error> {
    use cbc::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
    let context = format!("alias \"{alias}\"");
    let (encrypted, params) =
        protected_payload(protected, JCEKS_KEY_PROTECTOR, Format::Jceks, &context)?;
    let params = params
        .and_then(|p| p.decode_as::<PbeParameters>().ok())
        .ok_or_else(|| Error::Malformed {
            format: Format::Jceks,
            detail: format!("{context}: PBE parameters missing"),
        })?;
    let salt = params.salt.as_bytes();
    if salt.len() != 8 || params.iterations == 0 || params.iterations > 10_000_000 {
        return Err(Error::Malformed {
            format: Format::Jceks,
            detail: format!(
                "{context}: unusable PBE parameters (salt {} bytes, {} iterations)",
                salt.len(),
                params.iterations
            ),
        });
    }
    let derived = derive_md5_3des(password, salt, params.iterations);
    let decryptor =
        cbc::Decryptor::<des::TdesEde3>::new_from_slices(&derived[..24], &derived[24..]).map_err(
            |_| Error::Malformed {
                format: Format::Jceks,
                detail: format!("{context}: bad key length"),
            },
        )?;
    let plain = decryptor
        .decrypt_padded_vec::<Pkcs7>(&encrypted)
        .map(Zeroizing::new)
        .map_err(|_| Error::WrongKeyPassword {
            alias: alias.to_string(),
        })?;
    PrivateKey::from_pkcs8_der(&plain, &context).map_err(|_| Error::WrongKeyPassword {
        alias: alias.to_string(),
    })
}

/// Sun's key derivation for PBEWithMD5AndTripleDES: each salt half is hashed with the
/// password `iterations` times; 32 bytes result, 24 of key and 8 of IV.
fn derive_md5_3des(password: &str, salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut salt: [u8; 8] = salt.try_into().unwrap_or([0; 8]);
    if salt[..4] == salt[4..] {
        salt.swap(0, 3);
        salt.swap(1, 2);
    }
    let pw: Zeroizing<Vec<u8>> =
        Zeroizing::new(password.chars().map(|c| (c as u32 & 0x7F) as u8).collect());
    let mut out = Zeroizing::new([0u8; 32]);
    for half in 0..2 {
        let mut block = salt[half * 4..half * 4 + 4].to_vec();
        for _ in 0..iterations {
            let mut md = Md5::new();
            md.update(&block);
            md.update(pw.as_slice());
            block = md.finalize().to_vec();
        }
        out[half * 16..half * 16 + 16].copy_from_slice(&block);
    }
    out
}

fn protected_payload(
    der: &[u8],
    expected: ObjectIdentifier,
    format: Format,
    context: &str,
) -> Result<(Vec<u8>, Option<der::asn1::Any>), Error> {
    let malformed = |detail: String| Error::Malformed {
        format,
        detail: format!("{context}: protected key: {detail}"),
    };
    let info = ProtectedKeyInfo::from_der(der).map_err(|e| malformed(e.to_string()))?;
    let algorithm: AlgorithmId = info
        .algorithm
        .decode_as()
        .map_err(|e: der::Error| malformed(e.to_string()))?;
    if algorithm.oid != expected {
        return Err(Error::Unsupported {
            what: format!(
                "{context}: key protection algorithm {} in a {format} store",
                algorithm.oid
            ),
        });
    }
    Ok((info.encrypted.as_bytes().to_vec(), algorithm.parameters))
}

/// Writes a JKS store. Keys must be sealed for JKS already (see `Keystore::to_bytes`).
pub(crate) fn write(entries: &[(&Entry, Vec<u8>)], password: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    out.extend_from_slice(&JKS_MAGIC.to_be_bytes());
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    let now = OffsetDateTime::now_utc();
    for (entry, sealed_key) in entries {
        let tag = match entry.content {
            EntryContent::PrivateKey { .. } => TAG_PRIVATE_KEY,
            EntryContent::TrustedCert(_) => TAG_TRUSTED_CERT,
            EntryContent::SecretKey(_) => {
                return Err(Error::Unsupported {
                    what: format!(
                        "alias \"{}\" is a JCEKS secret key, which JKS cannot hold: delete it or keep the store as JCEKS",
                        entry.alias
                    ),
                });
            }
        };
        out.extend_from_slice(&tag.to_be_bytes());
        // JKS aliases are case-insensitive; keytool stores them lower-cased.
        write_utf(&mut out, &entry.alias.to_lowercase())?;
        let millis = (entry.created.unwrap_or(now).unix_timestamp_nanos() / 1_000_000) as u64;
        out.extend_from_slice(&millis.to_be_bytes());
        match &entry.content {
            EntryContent::PrivateKey { chain, .. } => {
                write_sized(&mut out, sealed_key)?;
                out.extend_from_slice(&(chain.len() as u32).to_be_bytes());
                for cert in chain {
                    write_cert(&mut out, cert)?;
                }
            }
            EntryContent::TrustedCert(cert) => write_cert(&mut out, cert)?,
            // Refused above, before anything of the entry was written.
            EntryContent::SecretKey(_) => {}
        }
    }
    let digest = integrity_digest(password, &out);
    out.extend_from_slice(&digest);
    Ok(out)
}

fn write_utf(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    let bytes = encode_modified_utf8(s);
    let len = u16::try_from(bytes.len()).map_err(|_| Error::InvalidAlias {
        alias: s.chars().take(40).collect(),
        reason: "longer than 65535 bytes",
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes);
    Ok(())
}

fn write_sized(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Error> {
    let len = u32::try_from(bytes.len()).map_err(|_| Error::Unsupported {
        what: "an entry larger than 4 GiB".into(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn write_cert(out: &mut Vec<u8>, cert: &Certificate) -> Result<(), Error> {
    write_utf(out, "X.509")?;
    write_sized(out, cert.der())
}

fn der_err(e: der::Error) -> Error {
    Error::Malformed {
        format: Format::Jks,
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_3des_derivation_swaps_a_salt_whose_halves_are_equal() {
        // Equal halves would give equal key halves; Sun's provider reverses the first half.
        let same = derive_md5_3des("pw", &[1, 2, 3, 4, 1, 2, 3, 4], 1);
        let swapped = derive_md5_3des("pw", &[4, 3, 2, 1, 1, 2, 3, 4], 1);
        assert_eq!(*same, *swapped);
        assert_ne!(same[..16], same[16..]);
    }

    #[test]
    fn jks_key_protection_round_trips_and_detects_a_wrong_password() {
        let key = PrivateKey::from_pkcs8_der(&test_pkcs8(), "test").unwrap();
        let sealed = seal_jks(&key, "key-secret").unwrap();
        let back = unseal_jks(&sealed, "key-secret", "a").unwrap();
        assert_eq!(back.pkcs8_der(), key.pkcs8_der());
        let err = unseal_jks(&sealed, "wrong", "a").unwrap_err();
        assert!(
            matches!(err, Error::WrongKeyPassword { ref alias } if alias == "a"),
            "{err}"
        );
    }

    fn test_pkcs8() -> Vec<u8> {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
            .unwrap()
            .as_ref()
            .to_vec()
    }
}
