//! Client certificates for keyway: key pairs, certificate signing requests, keyway's own
//! CA (issue, sign, revoke, CRL) and certificate inspection.
//!
//! What it does:
//! - [`generate`] keys (ECDSA P-256 by default; P-384, RSA 2048/3072/4096, Ed25519);
//!   [`key_pem`] writes them as PKCS#8 PEM, encrypted unless asked otherwise;
//! - [`parse_subject`] and [`San::parse`] read subjects and SANs as users write them;
//!   [`create_csr`] makes a CSR; [`read_csr`] reads one from anywhere (`openssl req`,
//!   keytool `-certreq`) and refuses it unless its signature verifies;
//! - keyway's CA: [`CaMaterial`] (a root, optionally an intermediate that signs, keys
//!   sealed at rest with the [`MasterKey`]) and its [`Signer`]: client and server
//!   profiles, random 128-bit serials, validity bounded by the CA's, CRLs; where the
//!   material and the records of what was issued are kept is the caller's (keyway-store).
//!   [`Ca`] keeps the same CA in a directory, as keyway did before the store;
//! - [`read_crl`] reads an outside CA's CRL and [`CrlFile::check_issued_by`] checks its
//!   signature against that CA;
//! - [`CertDetails`]: subject, issuer, SANs, key usage, EKU, key, fingerprints;
//!   [`check_upload`] checks a certificate an outside CA returned before it is used.
//!
//! What it leaves to others: keystore formats (keyway-keystore, used here for keys and
//! bundles), TLS and path validation against truststores (keyway-tls), where the CA and
//! its records live in a deployment (keyway-store).
//!
//! ```no_run
//! use keyway_pki::{KeyType, create_csr, generate, key_pem, parse_subject};
//!
//! let key = generate(KeyType::EcP256)?;
//! let csr = create_csr(&key, parse_subject("CN=partner-a,O=Acme")?, &[])?;
//! std::fs::write("key.pem", key_pem(&key, Some("a passphrase"))?)?;
//! std::fs::write("req.csr", csr)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ca;
mod crl;
mod csr;
mod error;
mod inspect;
mod key;
mod name;
mod seal;
mod upload;

pub use ca::{
    Ca, CaInit, CaMaterial, Crl, DEFAULT_DAYS, INTERMEDIATE_KEY_PURPOSE, IssueProfile,
    IssueRequest, Issued, IssuedRecord, ROOT_KEY_PURPOSE, Reason, Signer, Status, normalize_serial,
};
pub use crl::{CrlFile, read_crl};
pub use csr::{Csr, create_csr, read_csr};
pub use error::PkiError;
pub use inspect::{CertDetails, read_certificates};
pub use key::{KeyType, generate, key_pem, read_private_key};
pub use name::{San, parse_subject};
pub use seal::{MASTER_KEY_FILE, MasterKey};
pub use upload::{Pending, UploadCheck, check_upload};

/// A subject or issuer name, as [`parse_subject`] makes it (rcgen's).
pub use rcgen::DistinguishedName;
