//! CRLs of outside CAs: a partner CA that issues the client certificates the gateway
//! accepts publishes which of them it revoked. One CRL per issuer is kept, the newest
//! imported; it must be signed by a CA the store knows (a truststore's or keyway's).
//! keyway's own CA needs none: its revocations are in the store already.

use base64ct::Encoding;
use keyway_keystore::Certificate;
use keyway_pki::{CrlFile, read_crl};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::access::Need;
use crate::audit::Event;
use crate::{Context, Store, StoreError};

/// A stored CRL: what it says, without its bytes.
#[derive(Debug, Clone, Serialize)]
pub struct StoredCrl {
    /// The issuer's name (`CN=Partner Client CA, O=Acme`): what names it.
    pub issuer: String,
    /// CRL number in hex; `-` when it has none.
    pub number: String,
    /// When it was issued, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub this_update: i64,
    /// When the next one is due, if it says.
    #[serde(serialize_with = "crate::rfc3339_opt")]
    pub next_update: Option<i64>,
    /// How many certificates it revokes.
    pub revoked: i64,
    /// Whose key verified it: `truststore NAME` or `keyway's CA`.
    pub signed_by: String,
    /// What it was read from.
    pub source: String,
    /// When it was imported, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub updated_at: i64,
    /// Increases with every import for the issuer.
    pub version: i64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrlImport {
    /// The first CRL of its issuer.
    Added,
    /// It replaced an older one, whose number this is.
    Replaced {
        /// The number of the CRL it replaced.
        previous: String,
    },
    /// The same CRL was stored already.
    Unchanged,
}

impl Store {
    fn crl_from(&self, row: &AnyRow) -> Result<StoredCrl, StoreError> {
        let fail = |e| self.db_error("reading a CRL", e);
        Ok(StoredCrl {
            issuer: row.try_get("issuer").map_err(fail)?,
            number: row.try_get("number").map_err(fail)?,
            this_update: row.try_get("this_update").map_err(fail)?,
            next_update: row.try_get("next_update").map_err(fail)?,
            revoked: row.try_get("revoked").map_err(fail)?,
            signed_by: row.try_get("signed_by").map_err(fail)?,
            source: row.try_get("source").map_err(fail)?,
            updated_at: row.try_get("updated_at").map_err(fail)?,
            version: row.try_get("version").map_err(fail)?,
        })
    }

    fn crl_der(&self, encoded: &str) -> Result<Vec<u8>, StoreError> {
        base64ct::Base64::decode_vec(encoded).map_err(|e| StoreError::Database {
            database: self.name.clone(),
            action: "reading a CRL".into(),
            problem: e.to_string(),
        })
    }
}

impl Store {
    /// Imports the CRL in `bytes` (PEM or DER) read from `source`. It must be signed by
    /// the CA of a truststore (or keyway's CA) with the CRL's issuer as subject; it
    /// replaces a stored CRL of the same issuer only when newer (by CRL number, else by
    /// issue date), and an older one is refused. Needs `manage_trust`.
    pub async fn import_crl(
        &self,
        ctx: &Context,
        bytes: &[u8],
        source: &str,
    ) -> Result<(StoredCrl, CrlImport), StoreError> {
        let object = format!("CRL from {source}");
        self.authorize(ctx, Need::ManageTrust, None, "crl.import", object.clone())
            .await?;
        let result = self.import_checked(ctx, bytes, source).await;
        self.audit_if_failed(ctx, "crl.import", &object, result)
            .await
    }

    async fn import_checked(
        &self,
        ctx: &Context,
        bytes: &[u8],
        source: &str,
    ) -> Result<(StoredCrl, CrlImport), StoreError> {
        let crl = read_crl(bytes, source)?;
        let signed_by = self.crl_signer(&crl, source).await?;
        let object = format!("CRL of {}", crl.issuer);
        let current = self.crl_of(&crl.issuer).await?;
        let detail = format!(
            "number {}, {} revoked, signed by {signed_by}, from {source}",
            crl.number_text(),
            crl.revoked.len()
        );
        // Decide without the write lock: the same CRL again, or an older one, changes nothing.
        let (outcome, expected, detail) = match current {
            None => (CrlImport::Added, 0, detail),
            Some((stored, stored_der)) => {
                if stored_der == crl.der {
                    return Ok((stored, CrlImport::Unchanged));
                }
                let older = read_crl(&stored_der, "the stored CRL")?;
                if !crl.is_newer_than(&older) {
                    return Err(StoreError::Invalid {
                        field: "CRL",
                        given: source.to_string(),
                        problem: format!(
                            "it is not newer than the stored CRL of {} (number {} against {}, issued {} against {}); nothing was changed",
                            crl.issuer,
                            crl.number_text(),
                            stored.number,
                            crl.this_update.date(),
                            older.this_update.date()
                        ),
                    });
                }
                let detail = format!("{detail}; replaces number {}", stored.number);
                let previous = stored.number;
                (CrlImport::Replaced { previous }, stored.version, detail)
            }
        };
        // One statement for both cases: the row is written only if it is still the one
        // read above (none, or the same version), so a concurrent import is a conflict.
        let mut tx = self.write().await?;
        let written = sqlx::query(
            "INSERT INTO crls (issuer, der, number, this_update, next_update, revoked, signed_by, source, created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1)
             ON CONFLICT (issuer) DO UPDATE SET der = excluded.der, number = excluded.number,
                 this_update = excluded.this_update, next_update = excluded.next_update,
                 revoked = excluded.revoked, signed_by = excluded.signed_by, source = excluded.source,
                 updated_at = excluded.updated_at, version = crls.version + 1
             WHERE crls.version = $10",
        )
        .bind(&crl.issuer)
        .bind(base64ct::Base64::encode_string(&crl.der))
        .bind(crl.number_text())
        .bind(crl.this_update.unix_timestamp())
        .bind(crl.next_update.map(|t| t.unix_timestamp()))
        .bind(crl.revoked.len() as i64)
        .bind(&signed_by)
        .bind(source)
        .bind(crate::now())
        .bind(expected)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db_error("importing a CRL", e))?;
        if written.rows_affected() == 0 {
            return Err(StoreError::Conflict {
                kind: "CRL",
                name: crl.issuer.clone(),
                expected,
                found: expected + 1,
            });
        }
        self.audit_in(&mut tx, ctx, Event::ok("crl.import", object, detail))
            .await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("importing a CRL", e))?;
        let (stored, _) = self
            .crl_of(&crl.issuer)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "CRL",
                name: crl.issuer.clone(),
                hint: String::new(),
            })?;
        Ok((stored, outcome))
    }

    /// Which known CA signed `crl`: a truststore's certificate or keyway's CA whose
    /// subject is the CRL's issuer and whose key verifies it.
    async fn crl_signer(&self, crl: &CrlFile, source: &str) -> Result<String, StoreError> {
        let mut candidates: Vec<(String, Certificate)> = Vec::new();
        if let Some(ca) = self.ca().await? {
            candidates.extend(ca.chain().into_iter().map(|c| ("keyway's CA".into(), c)));
        }
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM truststores ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("reading truststores", e))?;
        for name in names {
            let store = self.find_truststore(&name).await?;
            candidates.extend(
                store
                    .certificates
                    .into_iter()
                    .map(|c| (format!("truststore {name}"), c)),
            );
        }
        let mut refusals = Vec::new();
        for (from, cert) in &candidates {
            if !crl.names_as_issuer(cert) {
                continue;
            }
            match crl.check_issued_by(cert) {
                Ok(()) => return Ok(from.clone()),
                Err(why) => refusals.push(format!("{from}: {why}")),
            }
        }
        let problem = if refusals.is_empty() {
            format!(
                "its issuer {} is not a CA in any truststore; add that CA first (keyway truststore add NAME ca.pem), so the CRL's signature can be checked",
                crl.issuer
            )
        } else {
            format!(
                "no CA named {} verifies it: {}; it is forged or from another CA of the same name",
                crl.issuer,
                refusals.join("; ")
            )
        };
        Err(StoreError::Invalid {
            field: "CRL",
            given: source.to_string(),
            problem,
        })
    }

    /// The stored CRL of `issuer` and its DER, if any.
    async fn crl_of(&self, issuer: &str) -> Result<Option<(StoredCrl, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT der, issuer, number, this_update, next_update, revoked, signed_by, source, updated_at, version
             FROM crls WHERE issuer = $1",
        )
            .bind(issuer)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading a CRL", e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let der: String = row
            .try_get("der")
            .map_err(|e| self.db_error("reading a CRL", e))?;
        Ok(Some((self.crl_from(&row)?, self.crl_der(&der)?)))
    }

    /// Every stored CRL, by issuer. Needs `manage_trust` or `manage_connectors`.
    pub async fn crls(&self, ctx: &Context) -> Result<Vec<StoredCrl>, StoreError> {
        self.authorize(ctx, Need::SeeTrust, None, "crl.list", "CRLs".into())
            .await?;
        let rows = sqlx::query(
            "SELECT issuer, number, this_update, next_update, revoked, signed_by, source, updated_at, version
             FROM crls ORDER BY issuer",
        )
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("listing CRLs", e))?;
        rows.iter().map(|row| self.crl_from(row)).collect()
    }

    /// Removes the CRL of `issuer` (as listed). Needs `manage_trust`.
    pub async fn remove_crl(&self, ctx: &Context, issuer: &str) -> Result<(), StoreError> {
        let object = format!("CRL of {issuer}");
        self.authorize(ctx, Need::ManageTrust, None, "crl.remove", object.clone())
            .await?;
        let result = async {
            let Some((current, _)) = self.crl_of(issuer).await? else {
                return Err(StoreError::NotFound {
                    kind: "CRL of",
                    name: issuer.to_string(),
                    hint: ": `keyway crl list` shows the issuers".into(),
                });
            };
            let detail = format!(
                "removed; it was number {} with {} revoked",
                current.number, current.revoked
            );
            let event = Event::ok("crl.remove", object.clone(), detail);
            let delete = "DELETE FROM crls WHERE issuer = $1 AND version = $2";
            if !self
                .delete_versioned(ctx, "crl", delete, issuer, current.version, event)
                .await?
            {
                return Err(StoreError::Conflict {
                    kind: "CRL",
                    name: issuer.to_string(),
                    expected: current.version,
                    found: current.version + 1,
                });
            }
            Ok(())
        }
        .await;
        self.audit_if_failed(ctx, "crl.remove", &object, result)
            .await
    }

    /// The DER of every stored CRL, for the gateway's handshakes.
    pub(crate) async fn crl_ders(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT der FROM crls")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("reading CRLs", e))?;
        rows.iter().map(|der| self.crl_der(der)).collect()
    }
}
