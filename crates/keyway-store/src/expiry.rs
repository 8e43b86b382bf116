//! Every certificate keyway knows, with the time it has left: keyway's CA (root and
//! intermediate), the stored identities (the gateway's own server certificate, keystore
//! `gateway`, among them), the truststores' CAs, the users' client certificates and the
//! chains partners presented at the watch's last audit of each connector. One
//! list, soonest end first: what `keyway expiry` prints and the console's dashboard shows.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sqlx::Row;

use crate::access::Need;
use crate::{Context, Store, StoreError, now};

/// A certificate and how long it has left.
#[derive(Debug, Clone, Serialize)]
pub struct KnownCertificate {
    /// `ca`, `identity`, `truststore`, `user`, or `partner` (a chain a partner presented
    /// at the watch's last audit).
    pub kind: &'static str,
    /// Where keyway keeps it: `root`, `intermediate`, the identity's or truststore's
    /// name, the user's name.
    pub holder: String,
    /// Its subject.
    pub subject: String,
    /// SHA-256, upper-case hex pairs joined by colons.
    pub sha256: String,
    /// Valid from.
    #[serde(serialize_with = "crate::rfc3339")]
    pub not_before: i64,
    /// Valid until.
    #[serde(serialize_with = "crate::rfc3339")]
    pub not_after: i64,
    /// Whole days left (negative: expired that many days ago).
    pub days_left: i64,
    /// The share of its lifetime left, from 0 (expired) to 1 (just issued).
    pub lifetime_left: f64,
    /// Revoked (a user's certificate): it ends whatever its date says.
    pub revoked: bool,
    /// What depends on it: `connector orders`, `integration orders`, `gateway`, `user
    /// alice`… — what breaks when it ends.
    pub used_by: Vec<String>,
}

impl KnownCertificate {
    fn new(
        kind: &'static str,
        holder: String,
        info: &keyway_keystore::CertInfo,
        at: i64,
    ) -> KnownCertificate {
        Self::from_parts(
            kind,
            holder,
            info.subject.clone(),
            info.sha256.clone(),
            (
                info.not_before.unix_timestamp(),
                info.not_after.unix_timestamp(),
            ),
            false,
            at,
        )
    }

    fn from_parts(
        kind: &'static str,
        holder: String,
        subject: String,
        sha256: String,
        (not_before, not_after): (i64, i64),
        revoked: bool,
        at: i64,
    ) -> KnownCertificate {
        let lifetime = (not_after - not_before).max(1) as f64;
        let left = (not_after - at) as f64;
        KnownCertificate {
            kind,
            holder,
            subject,
            sha256,
            not_before,
            not_after,
            days_left: (not_after - at).div_euclid(86_400),
            lifetime_left: (left / lifetime).clamp(0.0, 1.0),
            revoked,
            used_by: Vec::new(),
        }
    }
}

/// Which connectors use which truststore and keystore, and which integrations each
/// connector serves: what breaks when a certificate kept there ends or goes.
#[derive(Debug, Default)]
pub struct Uses {
    truststore: BTreeMap<String, BTreeSet<String>>,
    keystore: BTreeMap<String, BTreeSet<String>>,
    integrations: BTreeMap<String, BTreeSet<String>>,
}

impl Uses {
    /// What depends on the certificate of `kind` (`ca`, `identity`, `truststore`,
    /// `user`, `partner`) kept by `holder`: `connector orders`, `integration orders`,
    /// `gateway`, `user alice`…
    pub fn of(&self, kind: &str, holder: &str) -> Vec<String> {
        let connectors = |names: Option<&BTreeSet<String>>| -> Vec<String> {
            let mut used = Vec::new();
            for connector in names.into_iter().flatten() {
                used.push(format!("connector {connector}"));
                for integration in self.integrations.get(connector).into_iter().flatten() {
                    used.push(format!("integration {integration}"));
                }
            }
            used
        };
        match kind {
            "ca" => vec!["gateway".into()],
            "identity" if holder == crate::GATEWAY_KEYSTORE => vec!["gateway".into()],
            "identity" => connectors(self.keystore.get(holder)),
            "truststore" => connectors(self.truststore.get(holder)),
            "user" => vec![format!("user {holder}")],
            "partner" => {
                // "connector NAME (role)"
                let name = holder
                    .strip_prefix("connector ")
                    .and_then(|rest| rest.split(" (").next())
                    .unwrap_or(holder)
                    .to_string();
                connectors(Some(&BTreeSet::from([name])))
            }
            _ => Vec::new(),
        }
    }
}

impl Store {
    /// What uses each truststore and keystore. Needs `manage_trust` or
    /// `manage_connectors`.
    pub async fn certificate_uses(&self, ctx: &Context) -> Result<Uses, StoreError> {
        self.authorize(ctx, Need::SeeTrust, None, "expiry.list", "uses".into())
            .await?;
        self.uses().await
    }

    async fn uses(&self) -> Result<Uses, StoreError> {
        let failed = |e| self.db_error("reading what uses each certificate", e);
        let pairs = |sql: &'static str| async move {
            sqlx::query(sql)
                .fetch_all(&self.pool)
                .await
                .and_then(|rows| {
                    rows.iter()
                        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                        .collect::<Result<Vec<(String, String)>, sqlx::Error>>()
                })
        };
        let mut uses = Uses::default();
        for (store, connector) in pairs(
            "SELECT pt.truststore, c.name FROM profile_truststores pt
             JOIN profiles p ON p.id = pt.profile_id JOIN connectors c ON c.profile = p.name",
        )
        .await
        .map_err(failed)?
        {
            uses.truststore.entry(store).or_default().insert(connector);
        }
        for (store, connector) in pairs(
            "SELECT p.keystore, c.name FROM profiles p JOIN connectors c ON c.profile = p.name
             WHERE p.keystore IS NOT NULL",
        )
        .await
        .map_err(failed)?
        {
            uses.keystore.entry(store).or_default().insert(connector);
        }
        for (connector, integration) in pairs("SELECT connector, name FROM integrations")
            .await
            .map_err(failed)?
        {
            uses.integrations
                .entry(connector)
                .or_default()
                .insert(integration);
        }
        Ok(uses)
    }

    /// Every certificate keyway knows, soonest end first; with `within` (seconds), only
    /// those ending within that time from now (the expired ones included). Needs
    /// `manage_trust`.
    pub async fn known_certificates(
        &self,
        ctx: &Context,
        within: Option<i64>,
    ) -> Result<Vec<KnownCertificate>, StoreError> {
        self.authorize(
            ctx,
            Need::ManageTrust,
            None,
            "expiry.list",
            "certificates".into(),
        )
        .await?;
        let at = now();
        let mut known = Vec::new();
        if let Some(ca) = self.ca().await? {
            known.push(KnownCertificate::new(
                "ca",
                "root".into(),
                ca.root.info(),
                at,
            ));
            if let Some(intermediate) = &ca.intermediate {
                known.push(KnownCertificate::new(
                    "ca",
                    "intermediate".into(),
                    intermediate.info(),
                    at,
                ));
            }
        }
        for keystore in self.keystores(ctx).await? {
            if let Some(entry) = keystore.key_entry()
                && let Some(leaf) = entry.chain.first()
            {
                known.push(KnownCertificate::new(
                    "identity",
                    keystore.name.clone(),
                    leaf.info(),
                    at,
                ));
            }
        }
        for truststore in self.truststores(ctx).await? {
            for cert in &truststore.certificates {
                known.push(KnownCertificate::new(
                    "truststore",
                    truststore.name.clone(),
                    cert.info(),
                    at,
                ));
            }
        }
        let rows = sqlx::query(
            "SELECT u.name, c.subject, c.sha256, c.not_before, c.not_after, c.revoked_at
             FROM client_certificates c JOIN users u ON u.id = c.user_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading client certificates", e))?;
        for row in &rows {
            let read = |e| self.db_error("reading client certificates", e);
            let sha256: String = row.try_get("sha256").map_err(read)?;
            let revoked: Option<i64> = row.try_get("revoked_at").map_err(read)?;
            known.push(KnownCertificate::from_parts(
                "user",
                row.try_get("name").map_err(read)?,
                row.try_get("subject").map_err(read)?,
                keyway_keystore::colon_hex(&sha256),
                (
                    row.try_get("not_before").map_err(read)?,
                    row.try_get("not_after").map_err(read)?,
                ),
                revoked.is_some(),
                at,
            ));
        }
        // Partners' chains, as the watch's last audit of each connector saw them.
        for check in self.latest_checks().await? {
            let certificates = check.report["certificates"].as_array().cloned();
            for cert in certificates.into_iter().flatten() {
                let role = cert["role"].as_str().unwrap_or("");
                if role == "client" {
                    continue; // the connector's own identity, listed as an identity
                }
                let date = |field: &str| {
                    cert[field].as_str().and_then(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    })
                };
                let (Some(not_before), Some(not_after)) = (date("not_before"), date("not_after"))
                else {
                    continue;
                };
                known.push(KnownCertificate::from_parts(
                    "partner",
                    format!("connector {} ({role})", check.connector),
                    cert["subject"].as_str().unwrap_or("").to_string(),
                    cert["sha256"].as_str().unwrap_or("").to_string(),
                    (not_before.unix_timestamp(), not_after.unix_timestamp()),
                    false,
                    at,
                ));
            }
        }
        let uses = self.uses().await?;
        for cert in &mut known {
            cert.used_by = uses.of(cert.kind, &cert.holder);
        }
        if let Some(within) = within {
            known.retain(|c| c.not_after <= at + within);
        }
        known.sort_by(|a, b| {
            (a.not_after, a.kind, &a.holder).cmp(&(b.not_after, b.kind, &b.holder))
        });
        Ok(known)
    }
}
