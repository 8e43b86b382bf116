//! Named truststores: the CA certificates a connector trusts for its endpoint, and that
//! an uploaded client certificate must chain to. Certificates are public, so they are
//! kept as a plain PEM bundle; what they were read from is kept for people.

use keyway_keystore::Certificate;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::access::Need;
use crate::audit::Event;
use crate::{Context, Save, Store, StoreError, Tx, check_name};

/// A named truststore.
#[derive(Debug, Clone, Serialize)]
pub struct Truststore {
    /// Its name; unique.
    pub name: String,
    /// What it was read from (`partners.jks`).
    pub source: String,
    /// The certificates, in the order they were read (JSON: their details).
    #[serde(serialize_with = "details")]
    pub certificates: Vec<Certificate>,
    /// Created, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// Last changed, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub updated_at: i64,
    /// Increases with every change.
    pub version: i64,
}

fn details<S: serde::Serializer>(certs: &[Certificate], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(certs.iter().map(Certificate::info))
}

impl Store {
    /// Stores `certificates` as truststore `name`; `source` says where they came from.
    /// Needs `manage_trust`.
    pub async fn add_truststore(
        &self,
        ctx: &Context,
        name: &str,
        certificates: Vec<Certificate>,
        source: &str,
    ) -> Result<Truststore, StoreError> {
        self.save_truststore(ctx, name, certificates, source, Save::Add)
            .await
    }

    /// Replaces the certificates of truststore `name`. `expected`: the version the change
    /// is based on. A CA left out that a working connector's partner chain ends in (as the
    /// watch last saw it), with no certificate of the same subject to take its place, is
    /// refused ([`StoreError::WouldBreak`], naming the connectors) unless `force`. Needs
    /// `manage_trust`.
    pub async fn replace_truststore(
        &self,
        ctx: &Context,
        name: &str,
        certificates: Vec<Certificate>,
        source: &str,
        expected: Option<i64>,
        force: bool,
    ) -> Result<Truststore, StoreError> {
        if !force {
            let action = truststore_action(Save::Replace(expected));
            let object = format!("truststore {name}");
            self.authorize(ctx, Need::ManageTrust, None, action, object.clone())
                .await?;
            let check = self.still_trusted(name, &certificates).await;
            self.audit_if_failed(ctx, action, &object, check).await?;
        }
        self.save_truststore(ctx, name, certificates, source, Save::Replace(expected))
            .await
    }

    /// Refuses to drop a CA that a working connector's partner chain ends in.
    async fn still_trusted(&self, name: &str, kept: &[Certificate]) -> Result<(), StoreError> {
        let Ok(current) = self.find_truststore(name).await else {
            return Ok(()); // no such truststore: the replace says so
        };
        let dropped: Vec<&Certificate> = current
            .certificates
            .iter()
            .filter(|old| {
                !kept.iter().any(|new| {
                    new.info().sha256 == old.info().sha256
                        || new.info().subject == old.info().subject
                })
            })
            .collect();
        if dropped.is_empty() {
            return Ok(());
        }
        let users = self.truststore_connectors(name).await?;
        let checks = self.latest_checks().await?;
        for old in dropped {
            let info = old.info();
            let broken: Vec<String> = checks
                .iter()
                .filter(|c| users.contains(&c.connector) && c.standing != "failing")
                .filter(|c| {
                    let chain: Vec<&serde_json::Value> = c.report["certificates"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|d| d["role"] != "client")
                        .collect();
                    chain.iter().any(|d| d["sha256"] == info.sha256.as_str())
                        || chain
                            .last()
                            .is_some_and(|top| top["issuer"] == info.subject.as_str())
                })
                .map(|c| format!("connector {}", c.connector))
                .collect();
            if !broken.is_empty() {
                return Err(StoreError::WouldBreak {
                    what: format!(
                        "removing {} (sha256 {}) from truststore {name}",
                        info.subject, info.sha256
                    ),
                    connectors: broken.join(", "),
                });
            }
        }
        Ok(())
    }

    /// The connectors whose profiles trust truststore `name`.
    async fn truststore_connectors(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.name FROM profile_truststores pt JOIN profiles p ON p.id = pt.profile_id
             JOIN connectors c ON c.profile = p.name WHERE pt.truststore = $1",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading who trusts a truststore", e))?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>(0)
                    .map_err(|e| self.db_error("reading who trusts a truststore", e))
            })
            .collect()
    }

    async fn save_truststore(
        &self,
        ctx: &Context,
        name: &str,
        certificates: Vec<Certificate>,
        source: &str,
        save: Save,
    ) -> Result<Truststore, StoreError> {
        let action = truststore_action(save);
        let object = format!("truststore {name}");
        self.authorize(ctx, Need::ManageTrust, None, action, object.clone())
            .await?;
        let result = async {
            let mut tx = self.write().await?;
            self.put_truststore(&mut tx, ctx, name, certificates, source, save)
                .await?;
            tx.commit()
                .await
                .map_err(|e| self.db_error("saving a truststore", e))?;
            self.find_truststore(name).await
        }
        .await;
        self.audit_if_failed(ctx, action, &object, result).await
    }

    /// Writes truststore `name` and its audit entry in `tx` (the caller commits; the
    /// permission is checked already).
    pub(crate) async fn put_truststore(
        &self,
        tx: &mut Tx,
        ctx: &Context,
        name: &str,
        certificates: Vec<Certificate>,
        source: &str,
        save: Save,
    ) -> Result<(), StoreError> {
        check_name("truststore name", name)?;
        let (bundle, count) = bundle(name, certificates)?;
        let now = crate::now();
        let detail = match save {
            Save::Add => {
                let inserted = sqlx::query(
                    "INSERT INTO truststores (name, certificates, source, created_at, updated_at, version)
                     VALUES ($1, $2, $3, $4, $4, 1)",
                )
                .bind(name)
                .bind(bundle)
                .bind(source)
                .bind(now)
                .execute(&mut **tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(e) if crate::error::is_unique_violation(&e) => {
                        return Err(StoreError::Duplicate {
                            kind: "truststore",
                            name: name.to_string(),
                        });
                    }
                    Err(e) => return Err(self.db_error("adding a truststore", e)),
                }
                format!("{count} certificate(s) from {source}")
            }
            Save::Replace(expected) => {
                let current = self.find_truststore(name).await?;
                let based_on = expected.unwrap_or(current.version);
                let changed = sqlx::query(
                    "UPDATE truststores SET certificates = $1, source = $2, updated_at = $3, version = version + 1
                     WHERE name = $4 AND version = $5",
                )
                .bind(bundle)
                .bind(source)
                .bind(now)
                .bind(name)
                .bind(based_on)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.db_error("replacing a truststore", e))?;
                if changed.rows_affected() == 0 {
                    return Err(self.conflict("truststore", name, based_on).await);
                }
                format!(
                    "{count} certificate(s) from {source} replace {} from {}",
                    current.certificates.len(),
                    current.source
                )
            }
        };
        let action = truststore_action(save);
        self.audit_in(
            tx,
            ctx,
            Event::ok(action, format!("truststore {name}"), detail),
        )
        .await
    }

    /// Every truststore, by name. Needs `manage_trust` or `manage_connectors`.
    pub async fn truststores(&self, ctx: &Context) -> Result<Vec<Truststore>, StoreError> {
        self.authorize(
            ctx,
            Need::SeeTrust,
            None,
            "truststore.list",
            "truststores".into(),
        )
        .await?;
        let rows = sqlx::query(
            "SELECT name, certificates, source, created_at, updated_at, version FROM truststores ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("listing truststores", e))?;
        rows.iter().map(|row| self.truststore_of(row)).collect()
    }

    /// Truststore `name`. Needs `manage_trust` or `manage_connectors`.
    pub async fn truststore(&self, ctx: &Context, name: &str) -> Result<Truststore, StoreError> {
        let object = format!("truststore {name}");
        self.authorize(ctx, Need::SeeTrust, None, "truststore.show", object)
            .await?;
        self.find_truststore(name).await
    }

    /// Removes truststore `name`. Needs `manage_trust`.
    pub async fn remove_truststore(
        &self,
        ctx: &Context,
        name: &str,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
        let object = format!("truststore {name}");
        self.authorize(
            ctx,
            Need::ManageTrust,
            None,
            "truststore.remove",
            object.clone(),
        )
        .await?;
        let result = async {
            let current = self.find_truststore(name).await?;
            let based_on = expected.unwrap_or(current.version);
            let detail = format!(
                "removed; it held {} certificate(s) from {}",
                current.certificates.len(),
                current.source
            );
            let event = Event::ok("truststore.remove", object.clone(), detail);
            let delete = "DELETE FROM truststores WHERE name = $1 AND version = $2";
            if !self
                .delete_versioned(ctx, "truststore", delete, name, based_on, event)
                .await?
            {
                return Err(self.conflict("truststore", name, based_on).await);
            }
            Ok(())
        }
        .await;
        self.audit_if_failed(ctx, "truststore.remove", &object, result)
            .await
    }

    /// Truststore `name`, without any check.
    pub(crate) async fn find_truststore(&self, name: &str) -> Result<Truststore, StoreError> {
        let row = sqlx::query(
            "SELECT name, certificates, source, created_at, updated_at, version FROM truststores WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a truststore", e))?
        .ok_or_else(|| StoreError::NotFound {
            kind: "truststore",
            name: name.to_string(),
            hint: ": `keyway truststore list` shows them; `keyway truststore add NAME FILE` makes one".into(),
        })?;
        self.truststore_of(&row)
    }

    fn truststore_of(&self, row: &AnyRow) -> Result<Truststore, StoreError> {
        let fail = |e| self.db_error("reading a truststore", e);
        let name: String = row.try_get("name").map_err(fail)?;
        let pem: String = row.try_get("certificates").map_err(fail)?;
        let certificates = keyway_pki::read_certificates(pem.as_bytes(), None, "stored truststore")
            .map_err(|e| StoreError::Database {
                database: self.name.clone(),
                action: format!("reading truststore {name}"),
                problem: e.to_string(),
            })?;
        Ok(Truststore {
            name,
            source: row.try_get("source").map_err(fail)?,
            certificates,
            created_at: row.try_get("created_at").map_err(fail)?,
            updated_at: row.try_get("updated_at").map_err(fail)?,
            version: row.try_get("version").map_err(fail)?,
        })
    }
}

/// The PEM bundle of `certificates` (duplicates dropped) and how many it holds.
fn bundle(name: &str, certificates: Vec<Certificate>) -> Result<(String, usize), StoreError> {
    let mut unique: Vec<Certificate> = Vec::with_capacity(certificates.len());
    for cert in certificates {
        if !unique.iter().any(|c| c.der() == cert.der()) {
            unique.push(cert);
        }
    }
    if unique.is_empty() {
        return Err(StoreError::Invalid {
            field: "truststore",
            given: name.to_string(),
            problem: "would hold no certificate: give a file with at least one CA certificate"
                .into(),
        });
    }
    Ok((
        unique.iter().map(Certificate::to_pem).collect(),
        unique.len(),
    ))
}

fn truststore_action(save: Save) -> &'static str {
    match save {
        Save::Add => "truststore.add",
        Save::Replace(_) => "truststore.replace",
    }
}
