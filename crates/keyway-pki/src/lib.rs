//! Client certificates for keyway: key pairs, certificate signing requests, keyway's own
//! CA (issue, sign, revoke, CRL) and certificate inspection.
//!
//! What it does:
//! - [`generate`] keys (ECDSA P-256 by default; P-384, RSA 2048/3072/4096, Ed25519);
//!   [`key_pem`] writes them as PKCS#8 PEM, encrypted unless asked otherwise;
//! - [`parse_subject`] and [`San::parse`] read subjects and SANs as users write them;
//!   [`create_csr`] makes a CSR; [`read_csr`] reads one from anywhere (`openssl req`,
//!   keytool `-certreq`) and refuses it unless its signature verifies;
//! - [`Ca`]: keyway's CA in the data directory (a root, optionally an intermediate that
//!   signs), keys sealed at rest with the [`MasterKey`]; client and server profiles,
//!   random 128-bit serials, validity bounded by the CA's; revocation, CRLs and the
//!   record of everything issued;
//! - [`CertDetails`]: subject, issuer, SANs, key usage, EKU, key, fingerprints;
//!   [`check_upload`] checks a certificate an outside CA returned before it is used.
//!
//! What it leaves to others: keystore formats (keyway-keystore, used here for keys and
//! bundles), TLS and path validation against truststores (keyway-tls), where records
//! live in a shared deployment (keyway-store, later).
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
mod csr;
mod error;
mod inspect;
mod key;
mod name;
mod seal;
mod upload;

pub use ca::{
    Ca, CaInit, Crl, DEFAULT_DAYS, IssueProfile, IssueRequest, Issued, IssuedRecord, Reason,
    Signer, Status,
};
pub use csr::{Csr, create_csr, read_csr};
pub use error::PkiError;
pub use inspect::{CertDetails, read_certificates};
pub use key::{KeyType, generate, key_pem, read_private_key};
pub use name::{San, parse_subject};
pub use seal::{MASTER_KEY_FILE, MasterKey};
pub use upload::{Pending, UploadCheck, check_upload};
