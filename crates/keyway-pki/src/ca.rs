//! keyway's own CA: a root (and optionally an intermediate that does the signing), their
//! keys sealed with the master key, and the record of everything issued, from which CRLs
//! are made.
//!
//! The CA itself is [`CaMaterial`] (certificates and sealed keys) and a [`Signer`] (the
//! issuing key, unsealed); neither touches a disk, so the caller decides where the
//! material and the records live — keyway-store keeps them in its database. [`Ca`] is the
//! same CA kept in a directory, as keyway did before the store (`keyway init` imports it):
//!
//! ```text
//! DATA/master.key                 the master key (0600), unless KEYWAY_MASTER_KEY is set
//! DATA/ca/root.pem                the root certificate
//! DATA/ca/root.key.sealed         its key, sealed
//! DATA/ca/intermediate.pem        the issuing intermediate (with --with-intermediate)
//! DATA/ca/intermediate.key.sealed
//! DATA/ca/issued/SERIAL.json      one record per certificate: subject, owner, validity, status
//! DATA/ca/crl.json                the next CRL number
//! ```
//! Changes take an exclusive lock on `DATA/ca/lock` and replace files atomically (fsync'd
//! before a certificate is handed out), so issuing costs the same with ten records or ten
//! thousand. [`Ca::unlock`] opens the signing key once for a run of issuances.

use std::fs::File;
use std::path::{Path, PathBuf};

use keyway_keystore::{Certificate, PrivateKey, file};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

use crate::PkiError;
use crate::csr::Csr;
use crate::key::{self, KeyType};
use crate::name::San;
use crate::seal::MasterKey;

/// Default validity of issued certificates, in days.
pub const DEFAULT_DAYS: u32 = 365;
const ROOT_YEARS: i64 = 10;
const INTERMEDIATE_YEARS: i64 = 5;
/// Issued certificates start a little in the past, for clients whose clocks lag.
const BACKDATE: Duration = Duration::minutes(5);

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueProfile {
    /// Two-way TLS client: EKU clientAuth, key usage digitalSignature.
    Client,
    /// TLS server: EKU serverAuth, digitalSignature (and keyEncipherment for RSA); at
    /// least one SAN required.
    Server,
}

impl std::str::FromStr for IssueProfile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "client" => Ok(IssueProfile::Client),
            "server" => Ok(IssueProfile::Server),
            _ => Err(format!("unknown profile \"{s}\"; use client or server")),
        }
    }
}

impl std::fmt::Display for IssueProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IssueProfile::Client => "client",
            IssueProfile::Server => "server",
        })
    }
}

/// Why a certificate was revoked (RFC 5280 §5.3.1), as the CLI names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// No reason given.
    Unspecified,
    /// The private key leaked.
    KeyCompromise,
    /// The CA's key leaked.
    CaCompromise,
    /// The subject's name or affiliation changed.
    AffiliationChanged,
    /// A new certificate replaces it.
    Superseded,
    /// It is no longer needed.
    CessationOfOperation,
    /// The subject lost the privilege it certified.
    PrivilegeWithdrawn,
}

impl Reason {
    const ALL: [(Reason, &'static str); 7] = [
        (Reason::Unspecified, "unspecified"),
        (Reason::KeyCompromise, "keyCompromise"),
        (Reason::CaCompromise, "cACompromise"),
        (Reason::AffiliationChanged, "affiliationChanged"),
        (Reason::Superseded, "superseded"),
        (Reason::CessationOfOperation, "cessationOfOperation"),
        (Reason::PrivilegeWithdrawn, "privilegeWithdrawn"),
    ];

    fn rcgen(self) -> RevocationReason {
        match self {
            Reason::Unspecified => RevocationReason::Unspecified,
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::CaCompromise => RevocationReason::CaCompromise,
            Reason::AffiliationChanged => RevocationReason::AffiliationChanged,
            Reason::Superseded => RevocationReason::Superseded,
            Reason::CessationOfOperation => RevocationReason::CessationOfOperation,
            Reason::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
        }
    }
}

impl std::str::FromStr for Reason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(s))
            .map(|(r, _)| *r)
            .ok_or_else(|| {
                let names: Vec<&str> = Reason::ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown reason \"{s}\"; use one of {}", names.join(", "))
            })
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = Reason::ALL
            .iter()
            .find(|(r, _)| r == self)
            .map(|(_, n)| *n)
            .unwrap_or("unspecified");
        f.write_str(name)
    }
}

/// Where an issued certificate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    /// Not revoked (it may still have expired).
    Valid,
    /// Revoked.
    Revoked {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// Why.
        reason: Reason,
    },
}

/// What the CA remembers of a certificate it issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedRecord {
    /// Serial number, lower-case hex without separators.
    pub serial: String,
    /// Subject.
    pub subject: String,
    /// The user or system it was issued to, if given.
    pub owner: Option<String>,
    /// Client or server.
    pub profile: IssueProfile,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// SHA-256 fingerprint.
    pub sha256: String,
    /// Valid or revoked.
    #[serde(flatten)]
    pub status: Status,
    /// The certificate, PEM, so it can be handed out again.
    pub certificate: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CrlState {
    next_crl_number: u64,
}

/// How `ca init` makes the CA.
#[derive(Debug, Clone)]
pub struct CaInit {
    /// The root's subject.
    pub subject: DistinguishedName,
    /// The CA keys' type.
    pub key_type: KeyType,
    /// Whether an intermediate does the signing (the root's key then stays sealed).
    pub with_intermediate: bool,
}

/// A certificate the CA just issued, with the chain above it (issuing CA first, root last).
#[derive(Debug, Clone)]
pub struct Issued {
    /// The new certificate.
    pub certificate: Certificate,
    /// The issuing CA up to the root.
    pub chain: Vec<Certificate>,
    /// What was recorded.
    pub record: IssuedRecord,
}

impl Issued {
    /// The new certificate followed by the CAs above it: what an identity file holds.
    pub fn full_chain(&self) -> Vec<Certificate> {
        std::iter::once(&self.certificate)
            .chain(&self.chain)
            .cloned()
            .collect()
    }
}

/// A request to issue: profile, validity, owner.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// Client or server.
    pub profile: IssueProfile,
    /// Validity in days from now.
    pub days: u32,
    /// Who it is for, for the record.
    pub owner: Option<String>,
}

/// keyway's CA in a data directory.
#[derive(Debug)]
pub struct Ca {
    dir: PathBuf,
    root: Certificate,
    intermediate: Option<Certificate>,
}

impl Ca {
    fn ca_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("ca")
    }

    /// Creates the CA in `data_dir` (which is created if missing). Refuses a directory
    /// that already holds one.
    pub fn init(data_dir: &Path, init: &CaInit, master_env: Option<&str>) -> Result<Ca, PkiError> {
        let dir = Self::ca_dir(data_dir);
        if let Ok(existing) = Self::open(data_dir) {
            return Err(PkiError::CaExists {
                dir: data_dir.into(),
                subject: existing.root.info().subject.clone(),
            });
        }
        // The lock file alone is what a failed earlier attempt (a bad master key) leaves.
        let leftovers = std::fs::read_dir(&dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name() != std::ffi::OsStr::new("lock"))
        });
        if leftovers {
            return Err(PkiError::CaFile {
                path: dir.clone(),
                problem: "holds files but no root.pem: an interrupted `ca init`? Move the directory away and run it again".into(),
            });
        }
        create_dir(&dir)?;
        let _lock = lock(&dir)?;
        let master = MasterKey::load_or_create(data_dir, master_env)?;
        let material = CaMaterial::generate(init, &master)?;
        // Keys first, certificates last: a CA is there once root.pem is.
        write_new(&dir.join(ROOT_KEY_FILE), material.root_key.as_bytes())?;
        if let (Some(cert), Some(key)) = (&material.intermediate, &material.intermediate_key) {
            write_new(&dir.join(INTERMEDIATE_KEY_FILE), key.as_bytes())?;
            write_new(&dir.join("intermediate.pem"), cert.to_pem().as_bytes())?;
        }
        create_dir(&dir.join(ISSUED))?;
        save_crl_state(&dir, &CrlState { next_crl_number: 1 })?;
        write_new(&dir.join("root.pem"), material.root.to_pem().as_bytes())?;
        Ok(Ca {
            dir,
            root: material.root,
            intermediate: material.intermediate,
        })
    }

    /// Opens the CA in `data_dir`; keys stay sealed until something is signed.
    pub fn open(data_dir: &Path) -> Result<Ca, PkiError> {
        let dir = Self::ca_dir(data_dir);
        let root_path = dir.join("root.pem");
        if !root_path.exists() {
            return Err(PkiError::NoCa {
                dir: data_dir.into(),
            });
        }
        let root = read_cert(&root_path)?;
        let int_path = dir.join("intermediate.pem");
        let intermediate = if int_path.exists() {
            Some(read_cert(&int_path)?)
        } else {
            None
        };
        Ok(Ca {
            dir,
            root,
            intermediate,
        })
    }

    /// The root certificate.
    pub fn root(&self) -> &Certificate {
        &self.root
    }

    /// The directory the CA is kept in (`DATA/ca`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA that signs: the intermediate if there is one, else the root.
    pub fn issuing(&self) -> &Certificate {
        self.intermediate.as_ref().unwrap_or(&self.root)
    }

    /// The issuing CA up to the root.
    pub fn chain(&self) -> Vec<Certificate> {
        let mut chain: Vec<Certificate> = self.intermediate.iter().cloned().collect();
        chain.push(self.root.clone());
        chain
    }

    /// Everything issued, oldest first.
    pub fn list(&self) -> Result<Vec<IssuedRecord>, PkiError> {
        load_records(&self.dir)
    }

    /// The file of the key that signs, as errors name it.
    fn issuing_key_file(&self) -> PathBuf {
        self.dir.join(match self.intermediate {
            Some(_) => INTERMEDIATE_KEY_FILE,
            None => ROOT_KEY_FILE,
        })
    }

    /// The number the next CRL gets.
    pub fn next_crl_number(&self) -> Result<u64, PkiError> {
        Ok(load_crl_state(&self.dir)?.next_crl_number.max(1))
    }

    /// The CA's certificates and sealed keys, as read from the directory (still sealed).
    pub fn material(&self) -> Result<CaMaterial, PkiError> {
        let read = |file: &str| {
            let path = self.dir.join(file);
            std::fs::read_to_string(&path).map_err(|e| PkiError::CaFile {
                path,
                problem: e.to_string(),
            })
        };
        Ok(CaMaterial {
            root: self.root.clone(),
            intermediate: self.intermediate.clone(),
            root_key: read(ROOT_KEY_FILE)?,
            intermediate_key: match self.intermediate {
                Some(_) => Some(read(INTERMEDIATE_KEY_FILE)?),
                None => None,
            },
        })
    }

    /// Unseals the issuing key for a run of issuances; it is dropped with the [`Signer`],
    /// which records each certificate in the directory before returning it.
    pub fn unlock(&self, master: &MasterKey) -> Result<Signer, PkiError> {
        let mut signer = self.material()?.unlock(master, &self.issuing_key_file())?;
        signer.records = Some(self.dir.clone());
        Ok(signer)
    }

    /// Signs a CSR (made by keyway, `openssl req` or keytool) under `request`'s profile;
    /// see [`Signer::sign_csr`].
    pub fn sign_csr(
        &self,
        csr: &Csr,
        request: &IssueRequest,
        master: &MasterKey,
    ) -> Result<Issued, PkiError> {
        self.unlock(master)?.sign_csr(csr, request)
    }

    /// Generates a key of `key_type` and issues a certificate for it in one step; see
    /// [`Signer::issue`].
    pub fn issue(
        &self,
        key_type: KeyType,
        subject: DistinguishedName,
        sans: &[San],
        request: &IssueRequest,
        master: &MasterKey,
    ) -> Result<(PrivateKey, Issued), PkiError> {
        self.unlock(master)?.issue(key_type, subject, sans, request)
    }

    /// Marks `serial` (hex, with or without colons) revoked. The next CRL lists it.
    pub fn revoke(&self, serial: &str, reason: Reason) -> Result<IssuedRecord, PkiError> {
        let wanted = normalize_serial(serial);
        let _lock = lock(&self.dir)?;
        let mut record =
            load_record(&self.dir, &wanted)?.ok_or_else(|| PkiError::UnknownSerial {
                serial: serial.to_string(),
            })?;
        if let Status::Revoked { at, .. } = &record.status {
            return Err(PkiError::AlreadyRevoked {
                serial: record.serial.clone(),
                at: at.to_string(),
            });
        }
        record.status = Status::Revoked {
            at: OffsetDateTime::now_utc(),
            reason,
        };
        save_record(&self.dir, &record)?;
        Ok(record)
    }

    /// A CRL signed by the issuing CA, listing every revoked certificate, valid for
    /// `days`. Each CRL gets the next CRL number.
    pub fn crl(&self, days: u32, master: &MasterKey) -> Result<Crl, PkiError> {
        let _lock = lock(&self.dir)?;
        let records = load_records(&self.dir)?;
        let mut state = load_crl_state(&self.dir)?;
        let number = state.next_crl_number.max(1);
        let crl = self
            .material()?
            .unlock(master, &self.issuing_key_file())?
            .crl(&records, number, days)?;
        state.next_crl_number = number + 1;
        save_crl_state(&self.dir, &state)?;
        Ok(crl)
    }
}

/// The sealed root key's file in a CA directory.
const ROOT_KEY_FILE: &str = "root.key.sealed";
/// The sealed intermediate key's file in a CA directory.
const INTERMEDIATE_KEY_FILE: &str = "intermediate.key.sealed";
/// What the root's key is sealed for (the AEAD's associated data), wherever it is kept.
pub const ROOT_KEY_PURPOSE: &str = "ca root key";
/// What the intermediate's key is sealed for.
pub const INTERMEDIATE_KEY_PURPOSE: &str = "ca intermediate key";

/// keyway's CA as data: its certificates and its keys sealed with the master key.
/// Nothing here reads or writes a disk; whoever keeps the CA stores these four fields.
#[derive(Clone)]
pub struct CaMaterial {
    /// The root certificate.
    pub root: Certificate,
    /// The issuing intermediate, if the root does not sign itself.
    pub intermediate: Option<Certificate>,
    /// The root's PKCS#8 key sealed for [`ROOT_KEY_PURPOSE`].
    pub root_key: String,
    /// The intermediate's key sealed for [`INTERMEDIATE_KEY_PURPOSE`].
    pub intermediate_key: Option<String>,
}

impl std::fmt::Debug for CaMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaMaterial")
            .field("root", &self.root.info().subject)
            .field(
                "intermediate",
                &self.intermediate.as_ref().map(|c| &c.info().subject),
            )
            .finish_non_exhaustive()
    }
}

impl CaMaterial {
    /// Makes a new CA: a self-signed root (10 years) and, if asked, an intermediate
    /// (5 years) that does the signing; keys sealed with `master`.
    pub fn generate(init: &CaInit, master: &MasterKey) -> Result<CaMaterial, PkiError> {
        let now = OffsetDateTime::now_utc();
        let root_key = key::generate(init.key_type)?;
        let mut params = ca_params(
            init.subject.clone(),
            now,
            now + Duration::days(365 * ROOT_YEARS),
        );
        params.is_ca = IsCa::Ca(if init.with_intermediate {
            BasicConstraints::Constrained(1)
        } else {
            BasicConstraints::Constrained(0)
        });
        let root_pair = key::signing_key(&root_key)?;
        let root_cert = params
            .self_signed(&root_pair)
            .map_err(|e| PkiError::crypto("signing the root certificate", e))?;
        let root = Certificate::from_der(root_cert.der().to_vec(), "new root")?;

        let intermediate = if init.with_intermediate {
            let int_key = key::generate(init.key_type)?;
            let mut params = ca_params(
                issuing_subject(&init.subject),
                now,
                now + Duration::days(365 * INTERMEDIATE_YEARS),
            );
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.use_authority_key_identifier_extension = true;
            let issuer = Issuer::from_ca_cert_der(&root.der().to_vec().into(), &root_pair)
                .map_err(|e| PkiError::crypto("loading the root as issuer", e))?;
            let cert = params
                .signed_by(&key::signing_key(&int_key)?, &issuer)
                .map_err(|e| PkiError::crypto("signing the intermediate", e))?;
            Some((
                Certificate::from_der(cert.der().to_vec(), "new intermediate")?,
                master.seal(int_key.pkcs8_der(), INTERMEDIATE_KEY_PURPOSE)?,
            ))
        } else {
            None
        };
        let (intermediate, intermediate_key) = intermediate.unzip();
        Ok(CaMaterial {
            root,
            intermediate,
            root_key: master.seal(root_key.pkcs8_der(), ROOT_KEY_PURPOSE)?,
            intermediate_key,
        })
    }

    /// The CA that signs: the intermediate if there is one, else the root.
    pub fn issuing(&self) -> &Certificate {
        self.intermediate.as_ref().unwrap_or(&self.root)
    }

    /// The issuing CA up to the root.
    pub fn chain(&self) -> Vec<Certificate> {
        let mut chain: Vec<Certificate> = self.intermediate.iter().cloned().collect();
        chain.push(self.root.clone());
        chain
    }

    /// Checks that `master` opens every sealed key (and that each is the key of its
    /// certificate), without keeping any: what an import does before trusting material.
    pub fn check(&self, master: &MasterKey, source: &Path) -> Result<(), PkiError> {
        let pairs = std::iter::once((&self.root, Some(&self.root_key), ROOT_KEY_PURPOSE)).chain(
            self.intermediate
                .iter()
                .map(|c| (c, self.intermediate_key.as_ref(), INTERMEDIATE_KEY_PURPOSE)),
        );
        for (cert, sealed, purpose) in pairs {
            let sealed = sealed.ok_or_else(|| PkiError::CaFile {
                path: source.into(),
                problem: format!("no key for {}", cert.info().subject),
            })?;
            let key = open_key(master, sealed, purpose, source)?;
            if key.public_key_bits() != Some(cert.public_key_bits()) {
                return Err(PkiError::CaFile {
                    path: source.into(),
                    problem: format!(
                        "the sealed {purpose} is not the key of {}",
                        cert.info().subject
                    ),
                });
            }
        }
        Ok(())
    }

    /// Unseals the issuing key for a run of issuances (`source` names where the material
    /// came from, in errors). The [`Signer`] records nothing: storing what it issued is
    /// the caller's.
    pub fn unlock(&self, master: &MasterKey, source: &Path) -> Result<Signer, PkiError> {
        let (sealed, purpose) = match (&self.intermediate, &self.intermediate_key) {
            (Some(_), Some(sealed)) => (sealed, INTERMEDIATE_KEY_PURPOSE),
            (Some(_), None) => {
                return Err(PkiError::CaFile {
                    path: source.into(),
                    problem: "the intermediate's key is missing".into(),
                });
            }
            (None, _) => (&self.root_key, ROOT_KEY_PURPOSE),
        };
        let key = key::signing_key(&open_key(master, sealed, purpose, source)?)?;
        let issuing = self.issuing().clone();
        let issuer = Issuer::from_ca_cert_der(&issuing.der().to_vec().into(), key)
            .map_err(|e| PkiError::crypto("loading the issuing CA", e))?;
        Ok(Signer {
            issuing,
            chain: self.chain(),
            issuer,
            records: None,
        })
    }
}

fn open_key(
    master: &MasterKey,
    sealed: &str,
    purpose: &str,
    source: &Path,
) -> Result<PrivateKey, PkiError> {
    let der = master.open(sealed.as_bytes(), purpose, source)?;
    Ok(PrivateKey::from_pkcs8_der(&der, purpose)?)
}

/// The intermediate's subject: the root's, with " Issuing CA" after its CN.
fn issuing_subject(root: &DistinguishedName) -> DistinguishedName {
    let mut subject = DistinguishedName::new();
    for (ty, value) in root.iter() {
        let value = match (ty, value) {
            (rcgen::DnType::CommonName, rcgen::DnValue::PrintableString(s)) => {
                format!("{} Issuing CA", s.as_str()).into()
            }
            (rcgen::DnType::CommonName, rcgen::DnValue::Utf8String(s)) => {
                format!("{s} Issuing CA").into()
            }
            _ => value.clone(),
        };
        subject.push(ty.clone(), value);
    }
    subject
}

/// keyway's CA with its issuing key unsealed ([`CaMaterial::unlock`], [`Ca::unlock`]).
/// From a [`Ca`] directory each certificate is recorded there (and the record fsync'd)
/// before it is returned; otherwise the caller records [`Issued::record`].
pub struct Signer {
    issuing: Certificate,
    chain: Vec<Certificate>,
    issuer: Issuer<'static, KeyPair>,
    records: Option<PathBuf>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("issuing", &self.issuing.info().subject)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Signs a CSR (made by keyway, `openssl req` or keytool) under `request`'s profile.
    /// Only the CSR's subject, key and (server profile) SANs are taken; every extension
    /// is set by the profile.
    pub fn sign_csr(&self, csr: &Csr, request: &IssueRequest) -> Result<Issued, PkiError> {
        let (_, parsed) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&csr.der)
                .map_err(|e| PkiError::MalformedCsr {
                    source_name: "the CSR".into(),
                    problem: e.to_string(),
                })?;
        let subject = crate::name::copy_name(&parsed.certification_request_info.subject).map_err(
            |problem| PkiError::BadSubject {
                given: csr.subject.clone(),
                problem,
            },
        )?;
        let sans = csr
            .sans
            .iter()
            .map(|s| San::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let public = rcgen::SubjectPublicKeyInfo::from_der(&csr.spki_der)
            .map_err(|e| PkiError::crypto("reading the CSR's public key", e))?;
        self.issue_for(&public, subject, &sans, is_rsa(&csr.key), request)
    }

    /// Generates a key of `key_type` and issues a certificate for it in one step.
    pub fn issue(
        &self,
        key_type: KeyType,
        subject: DistinguishedName,
        sans: &[San],
        request: &IssueRequest,
    ) -> Result<(PrivateKey, Issued), PkiError> {
        let key = key::generate(key_type)?;
        let pair = key::signing_key(&key)?;
        let issued = self.issue_for(&pair, subject, sans, is_rsa(&key.description()), request)?;
        Ok((key, issued))
    }

    fn issue_for(
        &self,
        public: &impl rcgen::PublicKeyData,
        subject: DistinguishedName,
        sans: &[San],
        rsa: bool,
        request: &IssueRequest,
    ) -> Result<Issued, PkiError> {
        if request.profile == IssueProfile::Server && sans.is_empty() {
            return Err(PkiError::Request(
                "a server certificate needs at least one subject alternative name (--san dns:NAME or ip:ADDRESS): TLS clients check the SAN, not the CN".into(),
            ));
        }
        if request.days == 0 {
            return Err(PkiError::Request("--days must be at least 1".into()));
        }
        let now = OffsetDateTime::now_utc();
        let not_after = now + Duration::days(i64::from(request.days));
        let ca_end = self.issuing.info().not_after;
        if not_after > ca_end {
            return Err(PkiError::Request(format!(
                "{} days would end after the issuing CA itself ({}); at most {} days are possible",
                request.days,
                ca_end.date(),
                (ca_end - now).whole_days().max(0)
            )));
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = subject;
        params.subject_alt_names = sans.iter().map(San::to_rcgen).collect::<Result<_, _>>()?;
        params.not_before = now - BACKDATE;
        params.not_after = not_after;
        let serial = random_serial()?;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        match request.profile {
            IssueProfile::Client => {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
            IssueProfile::Server => {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                if rsa {
                    params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
                }
            }
        }
        let cert = params
            .signed_by(public, &self.issuer)
            .map_err(|e| PkiError::crypto("signing the certificate", e))?;
        let certificate = Certificate::from_der(cert.der().to_vec(), "issued certificate")?;
        let info = certificate.info();
        let record = IssuedRecord {
            serial: normalize_serial(&crate::seal::hex(&serial)),
            subject: info.subject.clone(),
            owner: request.owner.clone(),
            profile: request.profile,
            not_before: info.not_before,
            not_after: info.not_after,
            sha256: info.sha256.clone(),
            status: Status::Valid,
            certificate: certificate.to_pem(),
        };
        if let Some(dir) = &self.records {
            let _lock = lock(dir)?;
            save_record(dir, &record)?;
        }
        Ok(Issued {
            certificate,
            chain: self.chain.clone(),
            record,
        })
    }

    /// A CRL numbered `number`, valid for `days`, listing every revoked certificate among
    /// `records`. Keeping the CRL number is the caller's.
    pub fn crl(&self, records: &[IssuedRecord], number: u64, days: u32) -> Result<Crl, PkiError> {
        if days == 0 {
            return Err(PkiError::Request("--days must be at least 1".into()));
        }
        let now = OffsetDateTime::now_utc();
        let revoked_certs = records
            .iter()
            .filter_map(|r| match r.status {
                Status::Revoked { at, reason } => Some((r, at, reason)),
                Status::Valid => None,
            })
            .map(|(r, at, reason)| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&unhex(&r.serial).ok_or_else(
                        || {
                            PkiError::Request(format!(
                                "the record of {} has serial \"{}\", which is not hex",
                                r.subject, r.serial
                            ))
                        },
                    )?),
                    revocation_time: at,
                    reason_code: Some(reason.rcgen()),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, PkiError>>()?;
        let count = revoked_certs.len();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + Duration::days(i64::from(days)),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.issuer)
            .map_err(|e| PkiError::crypto("signing the CRL", e))?;
        Ok(Crl {
            der: crl.der().to_vec(),
            pem: crl
                .pem()
                .map_err(|e| PkiError::crypto("encoding the CRL", e))?,
            number,
            revoked: count,
            next_update: params.next_update,
        })
    }
}

/// A CRL the CA signed.
#[derive(Debug, Clone)]
pub struct Crl {
    /// DER.
    pub der: Vec<u8>,
    /// PEM (`X509 CRL`).
    pub pem: String,
    /// Its CRL number.
    pub number: u64,
    /// How many certificates it lists.
    pub revoked: usize,
    /// When the next one is due.
    pub next_update: OffsetDateTime,
}

fn ca_params(
    subject: DistinguishedName,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.not_before = from - BACKDATE;
    params.not_after = to;
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = random_serial().ok().map(|s| SerialNumber::from_slice(&s));
    params
}

fn is_rsa(key: &keyway_keystore::KeyDescription) -> bool {
    key.algorithm == "RSA"
}

/// 128 random bits, never zero; rcgen adds a leading zero octet when the top bit is set.
fn random_serial() -> Result<[u8; 16], PkiError> {
    loop {
        let mut serial = [0u8; 16];
        getrandom::fill(&mut serial).map_err(|e| PkiError::crypto("the random generator", e))?;
        if serial.iter().any(|b| *b != 0) {
            return Ok(serial);
        }
    }
}

/// Lower-case hex without separators or leading zero octets, as records keep serials.
pub fn normalize_serial(given: &str) -> String {
    let hex: String = given
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect::<String>()
        .to_ascii_lowercase();
    let mut trimmed = hex.as_str();
    while trimmed.len() > 2 && trimmed.starts_with("00") {
        trimmed = &trimmed[2..];
    }
    trimmed.to_string()
}

fn unhex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn read_cert(path: &Path) -> Result<Certificate, PkiError> {
    let bytes = file::read_bytes(path)?;
    let der =
        crate::csr::pem_body(&bytes, &["CERTIFICATE"]).map_err(|problem| PkiError::CaFile {
            path: path.into(),
            problem,
        })?;
    Certificate::from_der(der, &path.display().to_string()).map_err(|e| PkiError::CaFile {
        path: path.into(),
        problem: e.to_string(),
    })
}

const ISSUED: &str = "issued";
const CRL_STATE: &str = "crl.json";

/// Every record, oldest first.
fn load_records(dir: &Path) -> Result<Vec<IssuedRecord>, PkiError> {
    let issued = dir.join(ISSUED);
    let entries = std::fs::read_dir(&issued).map_err(|e| PkiError::CaFile {
        path: issued.clone(),
        problem: e.to_string(),
    })?;
    let mut records = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| PkiError::CaFile {
                path: issued.clone(),
                problem: e.to_string(),
            })?
            .path();
        // Only SERIAL.json: an interrupted atomic write leaves a hidden temporary file.
        if path.extension().is_some_and(|e| e == "json")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            records.push(read_json::<IssuedRecord>(&path)?);
        }
    }
    records.sort_by(|a, b| (a.not_before, &a.serial).cmp(&(b.not_before, &b.serial)));
    Ok(records)
}

fn load_record(dir: &Path, serial: &str) -> Result<Option<IssuedRecord>, PkiError> {
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let path = dir.join(ISSUED).join(format!("{serial}.json"));
    if !path.exists() {
        return Ok(None);
    }
    read_json(&path).map(Some)
}

fn save_record(dir: &Path, record: &IssuedRecord) -> Result<(), PkiError> {
    let path = dir.join(ISSUED).join(format!("{}.json", record.serial));
    write_json(&path, record)
}

fn load_crl_state(dir: &Path) -> Result<CrlState, PkiError> {
    read_json(&dir.join(CRL_STATE))
}

fn save_crl_state(dir: &Path, state: &CrlState) -> Result<(), PkiError> {
    write_json(&dir.join(CRL_STATE), state)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, PkiError> {
    let bytes = file::read_bytes(path)?;
    serde_json::from_slice(&bytes).map_err(|e| PkiError::CaFile {
        path: path.into(),
        problem: format!("not a keyway CA record: {e}"),
    })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), PkiError> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| PkiError::CaFile {
        path: path.into(),
        problem: e.to_string(),
    })?;
    Ok(file::write_atomic(path, &json)?)
}

fn create_dir(path: &Path) -> Result<(), PkiError> {
    std::fs::create_dir_all(path).map_err(|e| PkiError::CaFile {
        path: path.into(),
        problem: format!("cannot create it: {e}"),
    })
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    crate::seal::write_private(path, bytes)
}

/// An exclusive lock on the CA directory, released when dropped.
fn lock(dir: &Path) -> Result<File, PkiError> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| PkiError::CaFile {
            path: path.clone(),
            problem: e.to_string(),
        })?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| {
        PkiError::CaFile {
            path,
            problem: format!("cannot lock: {e}"),
        }
    })?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_normalized_for_lookup() {
        assert_eq!(normalize_serial("00:AB:cd"), "abcd");
        assert_eq!(normalize_serial("0a1b"), "0a1b");
        assert_eq!(unhex("0a1b"), Some(vec![0x0a, 0x1b]));
        assert_eq!(unhex("abc"), None);
    }
}
