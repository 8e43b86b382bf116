//! keyway's CA in the store: its certificates, its keys sealed with the master key, the
//! record of everything it issued, its revocations and its CRL number — one place for
//! every node of a shared deployment.
//!
//! The signing itself is keyway-pki's ([`CaMaterial`], [`Signer`]); this module decides
//! who may use it, and writes each issued certificate's record in the same transaction
//! as its audit entry (and, for a user's certificate, the user's certificate row).

use std::path::Path;

use keyway_keystore::{Certificate, PrivateKey};
use keyway_pki::{
    Ca, CaInit, CaMaterial, Crl, Csr, DistinguishedName, IssueProfile, IssueRequest, Issued,
    IssuedRecord, KeyType, PkiError, Reason, San, Signer, Status, normalize_serial,
};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use crate::access::Need;
use crate::audit::Event;
use crate::cert::{colon, normalize, read_pem};
use crate::{Context, Store, StoreError};

/// A query for the CA's records, as [`Store::record_of`] reads them:
/// `select_issued!("WHERE …")`.
macro_rules! select_issued {
    ($rest:literal) => {
        concat!(
            "SELECT serial, sha256, subject, owner, profile, not_before, not_after, certificate,
                revoked_at, revoke_reason FROM ca_issued ",
            $rest
        )
    };
}

/// What audit entries about the CA name as their object.
const OBJECT: &str = "keyway CA";

/// keyway's CA as the store keeps it; its keys stay sealed in the database.
#[derive(Debug, Clone, Serialize)]
pub struct StoredCa {
    /// The root certificate (JSON: its details).
    #[serde(serialize_with = "details")]
    pub root: Certificate,
    /// The intermediate that signs, if any.
    #[serde(serialize_with = "maybe_details")]
    pub intermediate: Option<Certificate>,
    /// `created` or `imported from DIR`.
    pub origin: String,
    /// Stored at, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// The number the next CRL gets.
    pub next_crl_number: i64,
}

fn details<S: serde::Serializer>(cert: &Certificate, s: S) -> Result<S::Ok, S::Error> {
    cert.info().serialize(s)
}

fn maybe_details<S: serde::Serializer>(
    cert: &Option<Certificate>,
    s: S,
) -> Result<S::Ok, S::Error> {
    cert.as_ref().map(Certificate::info).serialize(s)
}

impl StoredCa {
    /// The CA that signs: the intermediate if there is one, else the root.
    pub fn issuing(&self) -> &Certificate {
        self.intermediate.as_ref().unwrap_or(&self.root)
    }

    /// The issuing CA up to the root: what a truststore needs to trust keyway's
    /// certificates.
    pub fn chain(&self) -> Vec<Certificate> {
        let mut chain: Vec<Certificate> = self.intermediate.iter().cloned().collect();
        chain.push(self.root.clone());
        chain
    }
}

/// What [`Store::import_ca`] did.
#[derive(Debug, Clone, Serialize)]
pub struct CaImport {
    /// The CA now in the store.
    pub ca: StoredCa,
    /// How many issuance records were copied.
    pub records: usize,
    /// The same CA was imported before; nothing was changed.
    pub already: bool,
}

/// What keyway's CA is asked to certify.
#[derive(Debug, Clone)]
pub enum CaRequest {
    /// A CSR made elsewhere (`openssl req`, keytool `-certreq`, `keyway csr create`).
    Csr(Csr),
    /// A key keyway generates, for this subject and these SANs.
    NewKey {
        /// The key's type.
        key_type: KeyType,
        /// The subject.
        subject: DistinguishedName,
        /// Subject alternative names (required for the server profile).
        sans: Vec<San>,
    },
}

/// A record of what keyway's CA issued in the JSON contract's form (`ca list --json`, the
/// API's `/ca/issued`): serials and fingerprints in colon notation, without the
/// certificate's PEM.
pub fn issued_json(record: &keyway_pki::IssuedRecord) -> serde_json::Value {
    let mut json = serde_json::to_value(record).unwrap_or_default();
    if let Some(o) = json.as_object_mut() {
        o.remove("certificate");
        o.insert(
            "serial".into(),
            keyway_keystore::colon_hex(&record.serial).into(),
        );
        o.insert(
            "sha256".into(),
            keyway_keystore::colon_hex(&record.sha256).into(),
        );
    }
    json
}

impl Store {
    /// keyway's CA, if there is one. Its certificates are public: no actor needed.
    pub async fn ca(&self) -> Result<Option<StoredCa>, StoreError> {
        Ok(self.ca_row().await?.map(|(ca, _)| ca))
    }

    /// Creates keyway's CA. Refused if the store has one. Needs `manage_trust`.
    pub async fn create_ca(&self, ctx: &Context, init: &CaInit) -> Result<StoredCa, StoreError> {
        self.authorize(ctx, Need::ManageTrust, None, "ca.create", OBJECT.into())
            .await?;
        let result = async {
            self.refuse_second_ca().await?;
            let material = CaMaterial::generate(init, &self.master)?;
            let mut tx = self.write().await?;
            self.insert_ca(&mut tx, &material, "created", 1).await?;
            let detail = format!(
                "created {} (SHA-256 {})",
                material.root.info().subject,
                material.root.info().sha256
            );
            self.audit_in(&mut tx, ctx, Event::ok("ca.create", OBJECT.into(), detail))
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("storing keyway's CA", e))?;
            self.existing_ca().await
        }
        .await;
        self.audit_if_failed(ctx, "ca.create", OBJECT, result).await
    }

    /// Imports the CA kept in a directory by keyway before the store (`DATA/ca`): its
    /// certificates, sealed keys (which must open with this store's master key), every
    /// issuance record and the CRL number. Importing the same CA again changes nothing;
    /// another CA is refused. Needs `manage_trust`.
    pub async fn import_ca(&self, ctx: &Context, ca: &Ca) -> Result<CaImport, StoreError> {
        self.authorize(ctx, Need::ManageTrust, None, "ca.import", OBJECT.into())
            .await?;
        let result = async {
            let material = ca.material()?;
            let source = ca.dir();
            if let Some(existing) = self.ca().await? {
                if existing.root.der() == material.root.der() {
                    return Ok(CaImport {
                        ca: existing,
                        records: 0,
                        already: true,
                    });
                }
                return Err(second_ca(&existing));
            }
            material.check(&self.master, source)?;
            let records = ca.list()?;
            let next_crl = i64::try_from(ca.next_crl_number()?).unwrap_or(i64::MAX);
            let mut tx = self.write().await?;
            let origin = format!("imported from {}", source.display());
            self.insert_ca(&mut tx, &material, &origin, next_crl)
                .await?;
            for record in &records {
                self.insert_record(&mut tx, record).await?;
            }
            let detail = format!(
                "imported {} (SHA-256 {}) and {} issuance record(s) from {}",
                material.root.info().subject,
                material.root.info().sha256,
                records.len(),
                source.display()
            );
            self.audit_in(&mut tx, ctx, Event::ok("ca.import", OBJECT.into(), detail))
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("importing keyway's CA", e))?;
            Ok(CaImport {
                ca: self.existing_ca().await?,
                records: records.len(),
                already: false,
            })
        }
        .await;
        self.audit_if_failed(ctx, "ca.import", OBJECT, result).await
    }

    /// Has keyway's CA certify `what` under `request` (client or server profile, days,
    /// owner), recording it before returning it; the key, when keyway made one, comes
    /// back with it. Needs `manage_trust`. An owner must be an existing user, the
    /// certificate a client one, and the actor allowed to manage that user's
    /// certificates: it is then that user's certificate (`keyway user cert list`, the
    /// gateway maps it to them), its key kept sealed when keyway made it.
    pub async fn ca_issue(
        &self,
        ctx: &Context,
        what: CaRequest,
        request: &IssueRequest,
    ) -> Result<(Option<PrivateKey>, Issued), StoreError> {
        self.authorize(ctx, Need::ManageTrust, None, "ca.issue", OBJECT.into())
            .await?;
        if let Some(owner) = &request.owner {
            self.authorize(
                ctx,
                Need::ManageOwn,
                Some(owner),
                "cert.issue",
                format!("user {owner}"),
            )
            .await?;
        }
        let result = async {
            let owner_id = match &request.owner {
                Some(owner) if request.profile != IssueProfile::Client => {
                    return Err(StoreError::Invalid {
                        field: "owner",
                        given: owner.clone(),
                        problem: "only a client certificate belongs to a user; give --owner with --profile client".into(),
                    });
                }
                Some(owner) => Some(self.user_id(owner).await?),
                None => None,
            };
            let signer = self.signer().await?;
            let (key, issued) = match what {
                CaRequest::Csr(csr) => (None, signer.sign_csr(&csr, request)?),
                CaRequest::NewKey {
                    key_type,
                    subject,
                    sans,
                } => {
                    let (key, issued) = signer.issue(key_type, subject, &sans, request)?;
                    (Some(key), issued)
                }
            };
            let mut tx = self.write().await?;
            self.insert_record(&mut tx, &issued.record).await?;
            if let Some(user_id) = owner_id {
                let sealed = key.as_ref().map(|k| self.seal_key(k)).transpose()?;
                self.insert_certificate(
                    &mut tx,
                    user_id,
                    crate::cert::CertOrigin::Issued,
                    &issued.full_chain(),
                    sealed,
                )
                .await?;
            }
            let detail = issued_detail(&issued.record);
            self.audit_in(&mut tx, ctx, Event::ok("ca.issue", OBJECT.into(), detail))
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("recording an issued certificate", e))?;
            Ok((key, issued))
        }
        .await;
        self.audit_if_failed(ctx, "ca.issue", OBJECT, result).await
    }

    /// Everything keyway's CA issued, oldest first. Needs `manage_trust` or
    /// `manage_connectors`.
    pub async fn ca_issued(&self, ctx: &Context) -> Result<Vec<IssuedRecord>, StoreError> {
        self.authorize(ctx, Need::SeeTrust, None, "ca.list", OBJECT.into())
            .await?;
        self.existing_ca().await?;
        let rows = sqlx::query(select_issued!("ORDER BY not_before, serial"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("listing issued certificates", e))?;
        rows.iter().map(|row| self.record_of(row)).collect()
    }

    /// Revokes the certificate keyway's CA issued with `serial` (hex, colons allowed):
    /// the next CRL lists it and, if it is a user's client certificate, the gateway
    /// refuses it from then on. Needs `manage_trust`.
    pub async fn ca_revoke(
        &self,
        ctx: &Context,
        serial: &str,
        reason: Reason,
    ) -> Result<IssuedRecord, StoreError> {
        let wanted = normalize_serial(serial);
        let object = format!("serial {wanted}");
        self.authorize(ctx, Need::ManageTrust, None, "ca.revoke", object.clone())
            .await?;
        let result = async {
            let record = self.resolve_record(serial).await?;
            let wanted = normalize_serial(&record.serial);
            if let Status::Revoked { at, .. } = record.status {
                return Err(StoreError::Pki(PkiError::AlreadyRevoked {
                    serial: record.serial,
                    at: at.to_string(),
                }));
            }
            let mut tx = self.write().await?;
            let changed = self
                .revoke_issued(&mut tx, &normalize(&record.sha256), reason)
                .await?;
            if !changed {
                // Someone revoked it between the read and the write.
                drop(tx);
                let at = match self.record(&wanted).await?.map(|r| r.status) {
                    Some(Status::Revoked { at, .. }) => at.to_string(),
                    _ => "just now".into(),
                };
                return Err(StoreError::Pki(PkiError::AlreadyRevoked {
                    serial: wanted.clone(),
                    at,
                }));
            }
            sqlx::query(
                "UPDATE client_certificates SET revoked_at = $1, revoke_reason = $2, version = version + 1
                 WHERE sha256 = $3 AND revoked_at IS NULL",
            )
            .bind(crate::now())
            .bind(reason.to_string())
            .bind(normalize(&record.sha256))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_error("revoking a certificate", e))?;
            let detail = format!("revoked {} ({reason})", record.subject);
            self.audit_in(&mut tx, ctx, Event::ok("ca.revoke", object.clone(), detail))
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("revoking a certificate", e))?;
            self.record(&wanted)
                .await?
                .ok_or_else(|| StoreError::Database {
                    database: self.name.clone(),
                    action: "revoking a certificate".into(),
                    problem: "the record disappeared".into(),
                })
        }
        .await;
        self.audit_if_failed(ctx, "ca.revoke", &object, result)
            .await
    }

    /// A CRL signed by keyway's CA listing every certificate it revoked, valid for
    /// `days`; each CRL gets the next number. Needs `manage_trust`.
    pub async fn ca_crl(&self, ctx: &Context, days: u32) -> Result<Crl, StoreError> {
        self.authorize(ctx, Need::ManageTrust, None, "ca.crl", OBJECT.into())
            .await?;
        let result = async {
            let signer = self.signer().await?;
            let mut tx = self.write().await?;
            // The row lock (PostgreSQL) or the write transaction (SQLite) makes two CRLs
            // made at once get different numbers.
            let next: i64 = sqlx::query_scalar(
                "UPDATE ca SET next_crl_number = next_crl_number + 1 WHERE id = 1
                 RETURNING next_crl_number",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.db_error("numbering a CRL", e))?;
            let rows = sqlx::query(select_issued!(
                "WHERE revoked_at IS NOT NULL ORDER BY serial"
            ))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db_error("reading revocations", e))?;
            let revoked = rows
                .iter()
                .map(|row| self.record_of(row))
                .collect::<Result<Vec<_>, _>>()?;
            let number = u64::try_from(next - 1).unwrap_or(1).max(1);
            let crl = signer.crl(&revoked, number, days)?;
            let detail = format!(
                "CRL number {number} listing {} certificate(s), next update {}",
                crl.revoked,
                crl.next_update.date()
            );
            self.audit_in(&mut tx, ctx, Event::ok("ca.crl", OBJECT.into(), detail))
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("numbering a CRL", e))?;
            Ok(crl)
        }
        .await;
        self.audit_if_failed(ctx, "ca.crl", OBJECT, result).await
    }

    /// The CA's issuing key, unsealed for one run of issuances.
    pub(crate) async fn signer(&self) -> Result<Signer, StoreError> {
        let (_, material) = self.ca_row().await?.ok_or_else(|| self.no_ca())?;
        Ok(material.unlock(&self.master, Path::new(&self.name))?)
    }

    /// Records what keyway's CA issued, inside `tx`.
    pub(crate) async fn insert_record(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        record: &IssuedRecord,
    ) -> Result<(), StoreError> {
        let (revoked_at, reason) = match &record.status {
            Status::Valid => (None, None),
            Status::Revoked { at, reason } => (Some(at.unix_timestamp()), Some(reason.to_string())),
        };
        let inserted = sqlx::query(
            "INSERT INTO ca_issued (serial, sha256, subject, owner, profile, not_before, not_after,
                 certificate, revoked_at, revoke_reason, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(normalize_serial(&record.serial))
        .bind(normalize(&record.sha256))
        .bind(&record.subject)
        .bind(&record.owner)
        .bind(record.profile.to_string())
        .bind(record.not_before.unix_timestamp())
        .bind(record.not_after.unix_timestamp())
        .bind(&record.certificate)
        .bind(revoked_at)
        .bind(reason)
        .bind(crate::now())
        .execute(&mut **tx)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if crate::error::is_unique_violation(&e) => Err(StoreError::Duplicate {
                kind: "issued certificate",
                name: record.serial.clone(),
            }),
            Err(e) => Err(self.db_error("recording an issued certificate", e)),
        }
    }

    /// Marks the CA's record of the certificate with `sha256` (database notation) revoked,
    /// inside `tx`; false when there is no unrevoked record of it.
    pub(crate) async fn revoke_issued(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        sha256: &str,
        reason: Reason,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE ca_issued SET revoked_at = $1, revoke_reason = $2
             WHERE sha256 = $3 AND revoked_at IS NULL",
        )
        .bind(crate::now())
        .bind(reason.to_string())
        .bind(sha256)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.db_error("revoking an issued certificate", e))?;
        Ok(changed.rows_affected() > 0)
    }

    async fn insert_ca(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        material: &CaMaterial,
        origin: &str,
        next_crl_number: i64,
    ) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO ca (id, root, intermediate, root_key, intermediate_key, next_crl_number,
                 origin, created_at)
             VALUES (1, $1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(material.root.to_pem())
        .bind(material.intermediate.as_ref().map(Certificate::to_pem))
        .bind(&material.root_key)
        .bind(&material.intermediate_key)
        .bind(next_crl_number.max(1))
        .bind(origin)
        .bind(crate::now())
        .execute(&mut **tx)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            // Another node created one between the check and the insert.
            Err(e) if crate::error::is_unique_violation(&e) => match self.ca().await? {
                Some(existing) => Err(second_ca(&existing)),
                None => Err(self.db_error("storing keyway's CA", e)),
            },
            Err(e) => Err(self.db_error("storing keyway's CA", e)),
        }
    }

    async fn refuse_second_ca(&self) -> Result<(), StoreError> {
        match self.ca().await? {
            Some(existing) => Err(second_ca(&existing)),
            None => Ok(()),
        }
    }

    async fn existing_ca(&self) -> Result<StoredCa, StoreError> {
        self.ca().await?.ok_or_else(|| self.no_ca())
    }

    async fn ca_row(&self) -> Result<Option<(StoredCa, CaMaterial)>, StoreError> {
        let row = sqlx::query(
            "SELECT root, intermediate, root_key, intermediate_key, next_crl_number, origin, created_at
             FROM ca WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading keyway's CA", e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let read = || -> Result<(StoredCa, CaMaterial), String> {
            let cert = |pem: &str| -> Result<Certificate, String> {
                read_pem(pem)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| "a CA certificate is missing".to_string())
            };
            let root = cert(
                &row.try_get::<String, _>("root")
                    .map_err(|e| e.to_string())?,
            )?;
            let intermediate = match row
                .try_get::<Option<String>, _>("intermediate")
                .map_err(|e| e.to_string())?
            {
                Some(pem) => Some(cert(&pem)?),
                None => None,
            };
            let material = CaMaterial {
                root: root.clone(),
                intermediate: intermediate.clone(),
                root_key: row.try_get("root_key").map_err(|e| e.to_string())?,
                intermediate_key: row.try_get("intermediate_key").map_err(|e| e.to_string())?,
            };
            let ca = StoredCa {
                root,
                intermediate,
                origin: row.try_get("origin").map_err(|e| e.to_string())?,
                created_at: row.try_get("created_at").map_err(|e| e.to_string())?,
                next_crl_number: row.try_get("next_crl_number").map_err(|e| e.to_string())?,
            };
            Ok((ca, material))
        };
        read().map(Some).map_err(|problem| StoreError::Database {
            database: self.name.clone(),
            action: "reading keyway's CA".into(),
            problem,
        })
    }

    /// The issued certificate a serial or SHA-256 names: whole, or a unique prefix of at
    /// least 8 hex digits (colons and case do not matter), as `user cert` takes them.
    async fn resolve_record(&self, given: &str) -> Result<IssuedRecord, StoreError> {
        let digits: String = given
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .collect::<String>()
            .to_ascii_lowercase();
        if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid {
                field: "serial",
                given: given.chars().take(100).collect(),
                problem: "give the serial or SHA-256 `keyway ca list` shows (colons and case do not matter), or at least its first 8 hex digits".into(),
            });
        }
        let serial = normalize_serial(&digits);
        let rows = sqlx::query(select_issued!(
            "WHERE serial LIKE $1 OR sha256 LIKE $2 ORDER BY serial"
        ))
        .bind(format!("{serial}%"))
        .bind(format!("{digits}%"))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading an issued certificate", e))?;
        match rows.as_slice() {
            [row] => self.record_of(row),
            [] => Err(StoreError::Pki(PkiError::UnknownSerial {
                serial: given.to_string(),
            })),
            more => Err(StoreError::Invalid {
                field: "serial",
                given: given.to_string(),
                problem: format!(
                    "matches {} certificates keyway's CA issued: give more digits",
                    more.len()
                ),
            }),
        }
    }

    async fn record(&self, serial: &str) -> Result<Option<IssuedRecord>, StoreError> {
        let row = sqlx::query(select_issued!("WHERE serial = $1"))
            .bind(serial)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading an issued certificate", e))?;
        row.map(|row| self.record_of(&row)).transpose()
    }

    fn record_of(&self, row: &AnyRow) -> Result<IssuedRecord, StoreError> {
        let read = || -> Result<IssuedRecord, String> {
            let get_time = |column: &str| -> Result<OffsetDateTime, String> {
                let seconds: i64 = row.try_get(column).map_err(|e| e.to_string())?;
                OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| e.to_string())
            };
            let status = match row
                .try_get::<Option<i64>, _>("revoked_at")
                .map_err(|e| e.to_string())?
            {
                None => Status::Valid,
                Some(at) => Status::Revoked {
                    at: OffsetDateTime::from_unix_timestamp(at).map_err(|e| e.to_string())?,
                    reason: row
                        .try_get::<Option<String>, _>("revoke_reason")
                        .map_err(|e| e.to_string())?
                        .unwrap_or_default()
                        .parse()
                        .unwrap_or(Reason::Unspecified),
                },
            };
            let profile: String = row.try_get("profile").map_err(|e| e.to_string())?;
            Ok(IssuedRecord {
                serial: row.try_get("serial").map_err(|e| e.to_string())?,
                subject: row.try_get("subject").map_err(|e| e.to_string())?,
                owner: row.try_get("owner").map_err(|e| e.to_string())?,
                profile: profile.parse::<IssueProfile>()?,
                not_before: get_time("not_before")?,
                not_after: get_time("not_after")?,
                sha256: colon(
                    &row.try_get::<String, _>("sha256")
                        .map_err(|e| e.to_string())?,
                ),
                status,
                certificate: row.try_get("certificate").map_err(|e| e.to_string())?,
            })
        };
        read().map_err(|problem| StoreError::Database {
            database: self.name.clone(),
            action: "reading an issued certificate".into(),
            problem,
        })
    }
}

/// The audit detail of an issued certificate.
pub(crate) fn issued_detail(record: &IssuedRecord) -> String {
    format!(
        "issued {} certificate {} (serial {}, SHA-256 {}) until {}{}",
        record.profile,
        record.subject,
        record.serial,
        record.sha256,
        record.not_after.date(),
        record
            .owner
            .as_deref()
            .map(|o| format!(" for {o}"))
            .unwrap_or_default()
    )
}

impl Store {
    fn no_ca(&self) -> StoreError {
        StoreError::NotFound {
            kind: "CA",
            name: "keyway CA".into(),
            hint: format!(
                " in {}: run `keyway init` (or `keyway ca init`) to create it",
                self.name
            ),
        }
    }
}

fn second_ca(existing: &StoredCa) -> StoreError {
    StoreError::Invalid {
        field: "CA",
        given: existing.root.info().subject.clone(),
        problem: format!(
            "is keyway's CA already (SHA-256 {}, {}); a store holds one CA — certificates of other CAs are trusted through truststores",
            existing.root.info().sha256,
            existing.origin
        ),
    }
}
