//! Private keys: PKCS#8 inside, PKCS#1 and SEC1 accepted on the way in, matched against certificates.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode};
use pkcs8::{AlgorithmIdentifierRef, PrivateKeyInfoRef};
use zeroize::Zeroizing;

use crate::Error;
use crate::cert::{Certificate, KeyDescription, curve_name, pem_block};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// PBKDF2 rounds for PEM keys keyway encrypts (OpenSSL 3 uses 2048; Java 17 uses 10000).
const PEM_PBKDF2_ROUNDS: u32 = 10_000;

/// A decrypted private key, held as PKCS#8 DER and wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.description())
    }
}

impl PrivateKey {
    /// Accepts an unencrypted PKCS#8 `PrivateKeyInfo`.
    pub fn from_pkcs8_der(der: &[u8], context: &str) -> Result<Self, Error> {
        PrivateKeyInfoRef::from_der(der).map_err(|e| invalid(context, format!("PKCS#8: {e}")))?;
        Ok(PrivateKey {
            pkcs8: Zeroizing::new(der.to_vec()),
        })
    }

    /// Accepts a PKCS#1 `RSAPrivateKey` (PEM label `RSA PRIVATE KEY`) and wraps it in PKCS#8.
    pub fn from_pkcs1_der(der: &[u8], context: &str) -> Result<Self, Error> {
        pkcs1::RsaPrivateKeyRef::from_der(der)
            .map_err(|e| invalid(context, format!("PKCS#1 RSA key: {e}")))?;
        let null = der::asn1::Null;
        let algorithm = AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(AnyRef::from(null)),
        };
        Self::wrap(algorithm, der, context)
    }

    /// Accepts a SEC1 `ECPrivateKey` (PEM label `EC PRIVATE KEY`) and wraps it in PKCS#8.
    pub fn from_sec1_der(der: &[u8], context: &str) -> Result<Self, Error> {
        let key = sec1::EcPrivateKey::from_der(der)
            .map_err(|e| invalid(context, format!("SEC1 EC key: {e}")))?;
        let curve = key
            .parameters
            .and_then(|p| p.named_curve())
            .ok_or_else(|| invalid(context, "SEC1 EC key names no curve".to_string()))?;
        let curve_der = curve
            .to_der()
            .map_err(|e| invalid(context, e.to_string()))?;
        let parameters =
            AnyRef::from_der(&curve_der).map_err(|e| invalid(context, e.to_string()))?;
        let algorithm = AlgorithmIdentifierRef {
            oid: EC_PUBLIC_KEY,
            parameters: Some(parameters),
        };
        Self::wrap(algorithm, der, context)
    }

    fn wrap(
        algorithm: AlgorithmIdentifierRef<'_>,
        inner: &[u8],
        context: &str,
    ) -> Result<Self, Error> {
        let octets = OctetStringRef::new(inner).map_err(|e| invalid(context, e.to_string()))?;
        let info = PrivateKeyInfoRef::new(algorithm, octets);
        let der = info.to_der().map_err(|e| invalid(context, e.to_string()))?;
        Ok(PrivateKey {
            pkcs8: Zeroizing::new(der),
        })
    }

    /// The PKCS#8 `PrivateKeyInfo` DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    fn info(&self) -> Option<PrivateKeyInfoRef<'_>> {
        PrivateKeyInfoRef::from_der(&self.pkcs8).ok()
    }

    /// Algorithm and size, read from the key itself.
    pub fn description(&self) -> KeyDescription {
        let Some(info) = self.info() else {
            return unknown_key();
        };
        let oid = info.algorithm.oid;
        if oid == RSA_ENCRYPTION {
            let bits = pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes())
                .ok()
                .map(|k| rsa_bits(k.modulus.as_bytes()));
            KeyDescription {
                algorithm: "RSA".into(),
                bits,
                curve: None,
            }
        } else if oid == EC_PUBLIC_KEY {
            let curve = self.ec_curve();
            let bits = curve.map(|c| match c {
                c if c == P256 => 256,
                c if c == P384 => 384,
                c if c == P521 => 521,
                _ => 0,
            });
            KeyDescription {
                algorithm: "EC".into(),
                bits: bits.filter(|b| *b > 0),
                curve: curve.map(|c| curve_name(&c.to_string())),
            }
        } else if oid == ED25519 {
            KeyDescription {
                algorithm: "Ed25519".into(),
                bits: Some(256),
                curve: None,
            }
        } else {
            KeyDescription {
                algorithm: oid.to_string(),
                bits: None,
                curve: None,
            }
        }
    }

    fn ec_curve(&self) -> Option<ObjectIdentifier> {
        let info = self.info()?;
        info.algorithm
            .parameters
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
    }

    /// The public key bits as a certificate's SubjectPublicKeyInfo carries them,
    /// or `None` for algorithms keyway cannot derive a public key for. Equal to
    /// [`Certificate::public_key_bits`] of this key's certificates.
    pub fn public_key_bits(&self) -> Option<Vec<u8>> {
        let info = self.info()?;
        let oid = info.algorithm.oid;
        if oid == RSA_ENCRYPTION {
            let key = pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes()).ok()?;
            return key.public_key().to_der().ok();
        }
        if oid == EC_PUBLIC_KEY {
            use aws_lc_rs::signature::{self, KeyPair};
            let curve = self.ec_curve()?;
            let alg = match curve {
                c if c == P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                c if c == P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                c if c == P521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                _ => return None,
            };
            let pair = signature::EcdsaKeyPair::from_pkcs8(alg, &self.pkcs8).ok()?;
            return Some(pair.public_key().as_ref().to_vec());
        }
        if oid == ED25519 {
            use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&self.pkcs8).ok()?;
            return Some(pair.public_key().as_ref().to_vec());
        }
        None
    }

    /// Whether this key belongs to `cert`: `Some(true)` or `Some(false)` when it can tell,
    /// `None` for key types it cannot derive a public key from.
    pub fn matches(&self, cert: &Certificate) -> Option<bool> {
        let ours = self.public_key_bits()?;
        Some(ours == cert.public_key_bits())
    }

    /// PEM: `PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` (PBES2, PBKDF2-SHA256, AES-256-CBC,
    /// which OpenSSL, Java and .NET all read) when a passphrase is given.
    pub fn to_pem(&self, passphrase: Option<&str>) -> Result<String, Error> {
        match passphrase {
            None => Ok(pem_block("PRIVATE KEY", &self.pkcs8)),
            Some(pass) => Ok(pem_block(
                "ENCRYPTED PRIVATE KEY",
                &self.encrypt_pkcs8(pass)?,
            )),
        }
    }

    /// Encrypted PKCS#8 DER (PBES2 with PBKDF2-SHA256 and AES-256-CBC).
    pub fn encrypt_pkcs8(&self, passphrase: &str) -> Result<Vec<u8>, Error> {
        let info = self
            .info()
            .ok_or_else(|| invalid("private key", "not PKCS#8".into()))?;
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        random(&mut salt)?;
        random(&mut iv)?;
        let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
            PEM_PBKDF2_ROUNDS,
            &salt,
            iv,
        )
        .map_err(|e| invalid("private key", e.to_string()))?;
        let doc = info
            .encrypt_with_params(params, passphrase)
            .map_err(|e| invalid("private key", format!("encryption failed: {e}")))?;
        Ok(doc.as_bytes().to_vec())
    }
}

/// Decrypts an encrypted PKCS#8 key (PBES2 or PBES1). A failure to decrypt is a wrong password.
pub(crate) fn decrypt_pkcs8(der: &[u8], password: &str, alias: &str) -> Result<PrivateKey, Error> {
    let epki = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der).map_err(|e| {
        invalid(
            &format!("alias \"{alias}\""),
            format!("encrypted PKCS#8: {e}"),
        )
    })?;
    let doc = epki.decrypt(password).map_err(|e| match e {
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed) => {
            Error::WrongKeyPassword {
                alias: alias.to_string(),
            }
        }
        // A wrong password usually fails padding; when it happens not to, the
        // result does not parse as a key.
        pkcs8::Error::Asn1(_) | pkcs8::Error::KeyMalformed(_) => Error::WrongKeyPassword {
            alias: alias.to_string(),
        },
        other => Error::Unsupported {
            what: format!("encrypted private key for alias \"{alias}\": {other}"),
        },
    })?;
    PrivateKey::from_pkcs8_der(doc.as_bytes(), &format!("alias \"{alias}\"")).map_err(|_| {
        Error::WrongKeyPassword {
            alias: alias.to_string(),
        }
    })
}

pub(crate) fn random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|e| Error::Unsupported {
        what: format!("the operating system's random number generator failed: {e}"),
    })
}

fn rsa_bits(modulus: &[u8]) -> usize {
    let trimmed: &[u8] = {
        let start = modulus
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(modulus.len());
        &modulus[start..]
    };
    match trimmed.first() {
        None => 0,
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
    }
}

fn unknown_key() -> KeyDescription {
    KeyDescription {
        algorithm: "unknown".into(),
        bits: None,
        curve: None,
    }
}

fn invalid(context: &str, detail: String) -> Error {
    Error::InvalidKey {
        context: context.to_string(),
        detail,
    }
}
