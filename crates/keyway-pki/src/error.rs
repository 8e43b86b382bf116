//! Errors of keyway-pki: each names the input, field or file concerned and how to fix it.

use std::path::PathBuf;

/// What went wrong in a PKI operation. Nothing is written when one of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    // --- what the user gave ---
    /// A subject such as `CN=partner-a,O=Acme` that cannot be used.
    #[error("subject \"{given}\": {problem}")]
    BadSubject {
        /// The subject as given.
        given: String,
        /// What is wrong, and what is accepted.
        problem: String,
    },
    /// A subject alternative name such as `dns:partner.example` that cannot be used.
    #[error("subject alternative name \"{given}\": {problem}")]
    BadSan {
        /// The SAN as given.
        given: String,
        /// What is wrong.
        problem: String,
    },
    /// A CSR that cannot be parsed.
    #[error("{source_name}: not a certificate signing request: {problem}")]
    MalformedCsr {
        /// Where it came from (a file name, or "the CSR").
        source_name: String,
        /// What the parser said.
        problem: String,
    },
    /// A CSR whose self-signature does not verify: it was altered, or not made with the
    /// key it carries.
    #[error(
        "{source_name}: the CSR's signature does not verify ({problem}); it was altered after signing or was not signed by the key it contains: create it again"
    )]
    CsrSignature {
        /// Where it came from.
        source_name: String,
        /// What the verifier said.
        problem: String,
    },
    /// A keystore whose certificates cannot be read as given (wrong or missing password).
    #[error("{source_name}: {problem}")]
    LockedStore {
        /// Where it came from.
        source_name: String,
        /// What the keystore reader said, with the fix.
        problem: String,
    },
    /// A certificate that cannot be parsed.
    #[error("{source_name}: not an X.509 certificate: {problem}")]
    MalformedCertificate {
        /// Where it came from.
        source_name: String,
        /// What the parser said.
        problem: String,
    },
    /// A CRL that cannot be parsed.
    #[error("{source_name}: not a certificate revocation list: {problem}")]
    MalformedCrl {
        /// Where it came from.
        source_name: String,
        /// What is wrong.
        problem: String,
    },
    /// A certificate returned by a CA that cannot be used as the identity it is meant for.
    #[error("the certificate {subject} cannot be used: {}", problems.join("; "))]
    Upload {
        /// Its subject.
        subject: String,
        /// Every check that failed, each with its fix.
        problems: Vec<String>,
    },
    /// A request that contradicts itself or the CA (validity, profile, SANs).
    #[error("{0}")]
    Request(String),
    /// A key or store problem reported by keyway-keystore (wrong passphrase, bad PEM).
    #[error(transparent)]
    Keystore(#[from] keyway_keystore::Error),
    /// A file problem reported by keyway-keystore (unreadable, too large).
    #[error(transparent)]
    File(#[from] keyway_keystore::FileError),

    // --- the CA's data directory ---
    /// No CA has been created in the data directory.
    #[error(
        "no CA in {}: create one with `keyway ca init --data-dir {}`",
        dir.display(),
        dir.display()
    )]
    NoCa {
        /// The data directory.
        dir: PathBuf,
    },
    /// `ca init` on a directory that already holds a CA.
    #[error(
        "{} already holds a CA ({}); keyway never overwrites a CA: choose another --data-dir",
        dir.display(),
        subject
    )]
    CaExists {
        /// The data directory.
        dir: PathBuf,
        /// The existing CA's subject.
        subject: String,
    },
    /// The master key is missing, malformed, or not the one that sealed the CA keys.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A file of the CA directory cannot be read, written or understood.
    #[error("{}: {problem}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// No certificate with this serial was issued by the CA.
    #[error(
        "the CA issued no certificate with serial {serial}; `keyway ca list` shows the serials"
    )]
    UnknownSerial {
        /// The serial as given.
        serial: String,
    },
    /// The certificate is already revoked.
    #[error("serial {serial} was already revoked on {at}")]
    AlreadyRevoked {
        /// The serial.
        serial: String,
        /// When.
        at: String,
    },

    // --- failures of the crypto library ---
    /// Key generation or signing failed in the crypto library.
    #[error("{what} failed: {detail}")]
    Crypto {
        /// The operation.
        what: String,
        /// The library's message.
        detail: String,
    },
}

impl PkiError {
    pub(crate) fn crypto(what: &str, detail: impl std::fmt::Display) -> Self {
        PkiError::Crypto {
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }
}
