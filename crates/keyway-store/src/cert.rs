//! Users' client certificates: key pairs and CSRs waiting for an outside CA, the
//! certificates uploaded for them or issued by keyway's CA, their export as an identity,
//! revocation, and the lookup by fingerprint the gateway makes per handshake.
//!
//! Private keys are sealed with the master key; a certificate whose key is kept
//! elsewhere is stored without one (it can identify its user, not be exported).

use keyway_keystore::{Certificate, PrivateKey, fingerprint_sha256};
use keyway_pki::{
    DistinguishedName, IssueProfile, IssueRequest, KeyType, Pending, PkiError, Reason,
};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::access::Need;
use crate::audit::Event;
use crate::{AuditOutcome, Context, Store, StoreError};

/// What a sealed client key is sealed for (the AEAD's associated data).
const KEY_PURPOSE: &str = "keyway client key";

/// Where a client certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertOrigin {
    /// Signed by an outside CA and uploaded.
    Uploaded,
    /// Issued by keyway's CA.
    Issued,
}

impl CertOrigin {
    fn as_str(self) -> &'static str {
        match self {
            CertOrigin::Uploaded => "uploaded",
            CertOrigin::Issued => "issued",
        }
    }
}

/// When and why a certificate was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// Seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub at: i64,
    /// The RFC 5280 reason, as the CLI names it.
    pub reason: String,
}

/// When a certificate was last presented at the gateway, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastUse {
    /// Seconds since the Unix epoch (to the gateway's batching, a few seconds).
    #[serde(serialize_with = "crate::rfc3339")]
    pub at: i64,
    /// The gateway node that saw it (`keyway serve --node`, default the host name).
    pub node: String,
}

/// A user's client certificate as stored (never the private key).
#[derive(Debug, Clone, Serialize)]
pub struct ClientCertificate {
    /// Whose it is.
    pub user: String,
    /// SHA-256 of the certificate, upper-case hex pairs joined by colons.
    #[serde(serialize_with = "keyway_keystore::serialize_colon_hex")]
    pub sha256: String,
    /// Uploaded or issued by keyway's CA.
    pub origin: CertOrigin,
    /// Subject.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Serial number, hex.
    #[serde(serialize_with = "keyway_keystore::serialize_colon_hex")]
    pub serial: String,
    /// Start of validity, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub not_after: i64,
    /// The key's algorithm and size.
    pub key_type: String,
    /// Whether keyway holds the private key (it can then be downloaded as an identity).
    pub has_private_key: bool,
    /// Set once revoked.
    pub revoked: Option<Revocation>,
    /// Stored at, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
    /// Increases with every change.
    pub version: i64,
    /// When the gateway last saw it; `None`: never (since keyway records it).
    pub last_used: Option<LastUse>,
    /// The certificate.
    #[serde(skip)]
    pub certificate: Certificate,
    /// The CAs above it, issuer first.
    #[serde(skip)]
    pub chain: Vec<Certificate>,
}

impl ClientCertificate {
    /// `valid`, `revoked`, `expired` or `not yet valid` at `now` (Unix seconds).
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked.is_some() {
            "revoked"
        } else if now > self.not_after {
            "expired"
        } else if now < self.not_before {
            "not yet valid"
        } else {
            "valid"
        }
    }
}

/// A key pair waiting for the certificate an outside CA signs for its CSR.
#[derive(Debug, Clone, Serialize)]
pub struct PendingKey {
    /// Whose it is.
    pub user: String,
    /// The subject the CSR asks for.
    pub subject: String,
    /// The key's type.
    pub key_type: String,
    /// The CSR, PEM: what goes to the CA.
    pub csr: String,
    /// Made at, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub created_at: i64,
}

/// A private key and its chain (leaf first), ready to write as PKCS#12, JKS or PEM.
#[derive(Debug)]
pub struct KeyAndChain {
    /// The private key.
    pub key: PrivateKey,
    /// Leaf first, then the CAs above it.
    pub chain: Vec<Certificate>,
}

impl KeyAndChain {
    /// The key and chain as a PKCS#12, JKS or PEM file under entry `alias`, protected by
    /// `password` (required for PKCS#12 and JKS; a PEM without one holds the key
    /// unencrypted): what a download writes, on the command line and over the API.
    pub fn to_bytes(
        &self,
        format: keyway_keystore::Format,
        alias: &str,
        password: Option<&str>,
    ) -> Result<Vec<u8>, StoreError> {
        use keyway_keystore::{Format, Keystore, WriteOptions};
        if password.is_none() && format != Format::Pem {
            return Err(StoreError::Invalid {
                field: "password",
                given: "(none)".into(),
                problem: format!(
                    "a {format} file needs a password (only PEM may hold the key unencrypted)"
                ),
            });
        }
        let mut store = Keystore::new(format);
        store
            .add_private_key(alias, self.key.clone(), self.chain.clone())
            .map_err(|e| StoreError::Invalid {
                field: "alias",
                given: alias.to_string(),
                problem: e.to_string(),
            })?;
        let options = WriteOptions {
            store_password: password
                .filter(|_| format != Format::Pem)
                .map(str::to_string),
            key_password: password.map(str::to_string),
            pkcs12_legacy: false,
        };
        store
            .to_bytes(format, &options)
            .map_err(|e| StoreError::Invalid {
                field: "format",
                given: format.to_string(),
                problem: format!("the key and chain cannot be written so: {e}"),
            })
    }
}

/// A certificate signed by an outside CA, to store for a user.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The certificate.
    pub certificate: Certificate,
    /// Intermediates the CA sent with it (any order; may be empty).
    pub chain: Vec<Certificate>,
    /// The named truststore holding the CA it must chain to.
    pub truststore: String,
    /// Its private key is kept elsewhere: store the certificate alone (to recognise the
    /// user at the gateway) instead of matching it to a pending key pair.
    pub key_elsewhere: bool,
}

/// Who a certificate belongs to and whether it may be used, as the gateway asks per
/// handshake (the certificate itself is the one the client just presented).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateOwner {
    /// The user.
    pub user: String,
    /// Whether the user is enabled.
    pub user_enabled: bool,
    /// Set once the certificate was revoked.
    pub revoked: Option<Revocation>,
    /// Start of validity, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    #[serde(serialize_with = "crate::rfc3339")]
    pub not_after: i64,
}

/// A query for certificates with their user's name: `select_certificates!("WHERE …")`.
macro_rules! select_certificates {
    ($rest:literal) => {
        concat!(
            "SELECT u.name AS user_name, u.enabled, c.id, c.sha256, c.origin, c.subject, c.issuer,
                c.serial, c.not_before, c.not_after, c.key_type, c.certificate, c.chain,
                CAST(CASE WHEN c.sealed_key IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_key,
                c.revoked_at, c.revoke_reason, c.created_at, c.version, c.last_used_at,
                c.last_used_node
             FROM client_certificates c JOIN users u ON u.id = c.user_id ",
            $rest
        )
    };
}

impl Store {
    /// Generates a key pair for `user` and a CSR for `subject` (`CN=…,O=…`) to send to an
    /// outside CA; the key stays sealed in the store until the signed certificate is
    /// uploaded. Needs `user_management`, or `manage_personal_setup` for oneself.
    pub async fn request_certificate(
        &self,
        ctx: &Context,
        user: &str,
        subject: &str,
        sans: &[keyway_pki::San],
        key_type: KeyType,
    ) -> Result<PendingKey, StoreError> {
        let object = format!("user {user}");
        self.authorize(ctx, Need::ManageOwn, Some(user), "cert.csr", object.clone())
            .await?;
        let user_id = self.user_id(user).await?;
        let dn = keyway_pki::parse_subject(subject)?;
        let key = tokio::task::spawn_blocking(move || keyway_pki::generate(key_type))
            .await
            .map_err(|e| StoreError::Pki(PkiError::Request(format!("key generation: {e}"))))??;
        let csr = keyway_pki::create_csr(&key, dn, sans)?;
        let sealed = self.seal_key(&key)?;
        let now = crate::now();
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO pending_keys (user_id, subject, key_type, public_key_sha256, sealed_key, csr, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user_id)
        .bind(subject)
        .bind(key_type.name())
        .bind(key_id(&key)?)
        .bind(sealed)
        .bind(&csr)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db_error("storing a key pair", e))?;
        let detail = format!("{key_type} key pair and CSR for {subject}");
        self.audit_in(&mut tx, ctx, Event::ok("cert.csr", object, detail))
            .await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("storing a key pair", e))?;
        Ok(PendingKey {
            user: user.to_string(),
            subject: subject.to_string(),
            key_type: key_type.name().to_string(),
            csr,
            created_at: now,
        })
    }

    /// `user`'s key pairs waiting for a signed certificate, oldest first. Needs
    /// `user_management`, or being that user.
    pub async fn pending_keys(
        &self,
        ctx: &Context,
        user: &str,
    ) -> Result<Vec<PendingKey>, StoreError> {
        self.authorize(
            ctx,
            Need::ReadOwn,
            Some(user),
            "cert.list",
            format!("user {user}"),
        )
        .await?;
        let user_id = self.user_id(user).await?;
        let rows = sqlx::query(
            "SELECT subject, key_type, csr, created_at FROM pending_keys WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("listing pending key pairs", e))?;
        rows.iter()
            .map(|row| {
                Ok(PendingKey {
                    user: user.to_string(),
                    subject: row.try_get("subject")?,
                    key_type: row.try_get("key_type")?,
                    csr: row.try_get("csr")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.db_error("listing pending key pairs", e))
    }

    /// Stores the certificate an outside CA signed for `user`. It must be for one of the
    /// user's pending key pairs (which it then completes) unless `key_elsewhere`; chain to
    /// a CA in the named truststore; be valid now; be an end-entity certificate allowing
    /// clientAuth. Every failed check is reported and audited; nothing is stored then.
    /// Needs `user_management`, or `manage_personal_setup` for oneself.
    pub async fn upload_certificate(
        &self,
        ctx: &Context,
        user: &str,
        upload: Upload,
    ) -> Result<ClientCertificate, StoreError> {
        let object = format!("user {user}");
        self.authorize(
            ctx,
            Need::ManageOwn,
            Some(user),
            "cert.upload",
            object.clone(),
        )
        .await?;
        let result = self.upload_checked(ctx, user, upload, &object).await;
        self.audit_if_failed(ctx, "cert.upload", &object, result)
            .await
    }

    async fn upload_checked(
        &self,
        ctx: &Context,
        user: &str,
        upload: Upload,
        object: &str,
    ) -> Result<ClientCertificate, StoreError> {
        let user_id = self.user_id(user).await?;
        let trusted = self.find_truststore(&upload.truststore).await?.certificates;
        let leaf = &upload.certificate;
        let sha256 = normalize(&leaf.info().sha256);
        self.refuse_known(&sha256).await?;
        let pending = sqlx::query(
            "SELECT p.id, p.sealed_key, p.subject, p.created_at, u.name AS user_name
             FROM pending_keys p JOIN users u ON u.id = p.user_id WHERE p.public_key_sha256 = $1",
        )
        .bind(hex_sha256(&leaf.public_key_bits()))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading pending key pairs", e))?;
        let invalid = |problem: String| StoreError::Invalid {
            field: "certificate",
            given: leaf.info().subject.clone(),
            problem,
        };
        let (pending_id, sealed, key) = match pending {
            Some(row) => {
                let read = |e| self.db_error("reading pending key pairs", e);
                let owner: String = row.try_get("user_name").map_err(read)?;
                if owner != user {
                    let subject: String = row.try_get("subject").map_err(read)?;
                    return Err(invalid(format!(
                        "is for the key pair made for user {owner} (CSR for {subject}), not for {user}: upload it for {owner}"
                    )));
                }
                let sealed: String = row.try_get("sealed_key").map_err(read)?;
                let key = self.open_key(&sealed)?;
                (
                    Some(row.try_get::<i64, _>("id").map_err(read)?),
                    Some(sealed),
                    Some(key),
                )
            }
            None if upload.key_elsewhere => (None, None, None),
            None => {
                return Err(invalid(format!(
                    "is for none of {user}'s pending key pairs (`keyway user cert list {user}` shows them): \
                     upload the certificate the CA signed for a CSR made with `keyway user cert csr`, \
                     or, if its private key is kept elsewhere, upload it with --key-elsewhere"
                )));
            }
        };
        let mut cas = upload.chain.clone();
        cas.extend(trusted.iter().cloned());
        let checked = keyway_pki::check_upload(
            leaf,
            key.as_ref().map(Pending::Key),
            &cas,
            IssueProfile::Client,
            time::OffsetDateTime::now_utc(),
        )?;
        // Chained to a CA of the truststore, or pinned: the certificate itself is in it.
        let pinned = checked.chain.len() == 1 && trusted.iter().any(|t| t.der() == leaf.der());
        if !pinned
            && !checked.chain[1..]
                .iter()
                .any(|ca| trusted.iter().any(|t| t.der() == ca.der()))
        {
            let top = checked.chain.last().unwrap_or(leaf);
            return Err(invalid(format!(
                "chains up to {} only, which is not in truststore {}: add the CA that issued it to that truststore, or name the truststore that holds it",
                top.info().subject,
                upload.truststore
            )));
        }
        let mut tx = self.write().await?;
        if let Some(id) = pending_id {
            sqlx::query("DELETE FROM pending_keys WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db_error("completing a pending key pair", e))?;
        }
        self.insert_certificate(
            &mut tx,
            user_id,
            CertOrigin::Uploaded,
            &checked.chain,
            sealed,
        )
        .await?;
        let detail = format!(
            "uploaded {} (SHA-256 {}) issued by {}, private key {}",
            leaf.info().subject,
            leaf.info().sha256,
            leaf.info().issuer,
            if key.is_some() {
                "held by keyway"
            } else {
                "kept elsewhere"
            }
        );
        let event = Event::ok("cert.upload", object.to_string(), detail);
        self.commit_certificate(tx, ctx, event, user_id, &sha256)
            .await
    }

    /// Has keyway's CA issue a key and client certificate for `user` (subject, key type,
    /// days), and stores both, with the CA's record of it, in one transaction. Returns the
    /// stored certificate and the identity (key and chain, leaf first) to hand over.
    /// Needs `user_management`, or `manage_personal_setup` for oneself.
    pub async fn issue_certificate(
        &self,
        ctx: &Context,
        user: &str,
        subject: DistinguishedName,
        key_type: KeyType,
        days: u32,
    ) -> Result<(ClientCertificate, KeyAndChain), StoreError> {
        let object = format!("user {user}");
        self.authorize(
            ctx,
            Need::ManageOwn,
            Some(user),
            "cert.issue",
            object.clone(),
        )
        .await?;
        let result = async {
            let user_id = self.user_id(user).await?;
            let request = IssueRequest {
                profile: IssueProfile::Client,
                days,
                owner: Some(user.to_string()),
            };
            let (key, issued) = self
                .signer()
                .await?
                .issue(key_type, subject, &[], &request)?;
            let chain = issued.full_chain();
            let sha256 = normalize(&issued.record.sha256);
            let sealed = self.seal_key(&key)?;
            let mut tx = self.write().await?;
            self.insert_certificate(&mut tx, user_id, CertOrigin::Issued, &chain, Some(sealed))
                .await?;
            self.insert_record(&mut tx, &issued.record).await?;
            let event = Event::ok(
                "cert.issue",
                object.clone(),
                crate::ca::issued_detail(&issued.record),
            );
            let cert = self
                .commit_certificate(tx, ctx, event, user_id, &sha256)
                .await?;
            Ok((cert, KeyAndChain { key, chain }))
        }
        .await;
        self.audit_if_failed(ctx, "cert.issue", &object, result)
            .await
    }

    /// `user`'s certificates, oldest first. Needs `user_management`, or being that user.
    pub async fn certificates(
        &self,
        ctx: &Context,
        user: &str,
    ) -> Result<Vec<ClientCertificate>, StoreError> {
        self.authorize(
            ctx,
            Need::ReadOwn,
            Some(user),
            "cert.list",
            format!("user {user}"),
        )
        .await?;
        let user_id = self.user_id(user).await?;
        let rows = sqlx::query(select_certificates!("WHERE c.user_id = $1 ORDER BY c.id"))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_error("listing certificates", e))?;
        rows.iter().map(|row| self.certificate_of(row)).collect()
    }

    /// One of `user`'s certificates by fingerprint: SHA-256 hex, with or without colons,
    /// any case; at least 8 leading digits if they name one certificate. Needs
    /// `user_management`, or being that user.
    pub async fn certificate(
        &self,
        ctx: &Context,
        user: &str,
        fingerprint: &str,
    ) -> Result<ClientCertificate, StoreError> {
        self.authorize(
            ctx,
            Need::ReadOwn,
            Some(user),
            "cert.show",
            format!("user {user}"),
        )
        .await?;
        let user_id = self.user_id(user).await?;
        self.resolve_certificate(user_id, user, fingerprint).await
    }

    /// The private key and chain of one of `user`'s certificates, to write as a PKCS#12,
    /// JKS or PEM identity. An audited export. Needs `user_management`, or
    /// `manage_personal_setup` for oneself.
    pub async fn export_identity(
        &self,
        ctx: &Context,
        user: &str,
        fingerprint: &str,
    ) -> Result<(ClientCertificate, KeyAndChain), StoreError> {
        let object = format!("user {user}");
        self.authorize(
            ctx,
            Need::ManageOwn,
            Some(user),
            "cert.download",
            object.clone(),
        )
        .await?;
        let result = self.export_checked(user, fingerprint).await;
        let (cert, identity) = self
            .audit_if_failed(ctx, "cert.download", &object, result)
            .await?;
        let detail = format!(
            "private key of {} (SHA-256 {}) exported",
            cert.subject, cert.sha256
        );
        self.audit(ctx, Event::ok("cert.download", object, detail))
            .await?;
        Ok((cert, identity))
    }

    async fn export_checked(
        &self,
        user: &str,
        fingerprint: &str,
    ) -> Result<(ClientCertificate, KeyAndChain), StoreError> {
        let user_id = self.user_id(user).await?;
        let cert = self.resolve_certificate(user_id, user, fingerprint).await?;
        let invalid = |problem: String| StoreError::Invalid {
            field: "certificate",
            given: cert.sha256.clone(),
            problem,
        };
        if let Some(revoked) = &cert.revoked {
            return Err(invalid(format!(
                "was revoked ({}): it cannot be used any more; issue or request a new one",
                revoked.reason
            )));
        }
        let sealed: Option<String> =
            sqlx::query_scalar("SELECT sealed_key FROM client_certificates WHERE sha256 = $1")
                .bind(normalize(&cert.sha256))
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.db_error("reading a certificate's key", e))?;
        let Some(sealed) = sealed else {
            return Err(invalid(
                "was uploaded without its private key (--key-elsewhere): keyway cannot export an identity for it; use the key where it is kept".into(),
            ));
        };
        let key = self.open_key(&sealed)?;
        let mut chain = vec![cert.certificate.clone()];
        chain.extend(cert.chain.iter().cloned());
        Ok((cert, KeyAndChain { key, chain }))
    }

    /// Revokes one of `user`'s certificates: the gateway refuses it from then on, and if
    /// keyway's CA issued it, the CA's next CRL lists it. Needs `user_management`, or
    /// `manage_personal_setup` for oneself.
    pub async fn revoke_certificate(
        &self,
        ctx: &Context,
        user: &str,
        fingerprint: &str,
        reason: Reason,
        expected: Option<i64>,
    ) -> Result<ClientCertificate, StoreError> {
        let object = format!("user {user}");
        self.authorize(
            ctx,
            Need::ManageOwn,
            Some(user),
            "cert.revoke",
            object.clone(),
        )
        .await?;
        let result = self
            .revoke_checked(ctx, user, fingerprint, reason, expected, &object)
            .await;
        self.audit_if_failed(ctx, "cert.revoke", &object, result)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn revoke_checked(
        &self,
        ctx: &Context,
        user: &str,
        fingerprint: &str,
        reason: Reason,
        expected: Option<i64>,
        object: &str,
    ) -> Result<ClientCertificate, StoreError> {
        let user_id = self.user_id(user).await?;
        let cert = self.resolve_certificate(user_id, user, fingerprint).await?;
        let conflict = |found: i64, expected: i64| StoreError::Conflict {
            kind: "certificate",
            name: cert.sha256.clone(),
            expected,
            found,
        };
        if let Some(expected) = expected.filter(|&e| e != cert.version) {
            return Err(conflict(cert.version, expected));
        }
        if let Some(revoked) = &cert.revoked {
            return Err(StoreError::Invalid {
                field: "certificate",
                given: cert.sha256.clone(),
                problem: format!("is already revoked ({})", revoked.reason),
            });
        }
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE client_certificates SET revoked_at = $1, revoke_reason = $2, version = version + 1
             WHERE sha256 = $3 AND version = $4 AND revoked_at IS NULL",
        )
        .bind(crate::now())
        .bind(reason.to_string())
        .bind(normalize(&cert.sha256))
        .bind(cert.version)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db_error("revoking a certificate", e))?;
        if changed.rows_affected() == 0 {
            drop(tx);
            let now = self
                .resolve_certificate(user_id, user, &cert.sha256)
                .await?;
            return Err(conflict(now.version, cert.version));
        }
        // keyway's CA, if it issued the certificate, lists it on its next CRL.
        self.revoke_issued(&mut tx, &normalize(&cert.sha256), reason)
            .await?;
        let detail = format!(
            "revoked {} (SHA-256 {}): {reason}",
            cert.subject, cert.sha256
        );
        self.audit_in(
            &mut tx,
            ctx,
            Event::ok("cert.revoke", object.to_string(), detail),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("revoking a certificate", e))?;
        self.certificate_by_sha256(user_id, &normalize(&cert.sha256))
            .await
    }

    /// Who holds the certificate with this SHA-256 fingerprint (any notation), if anyone:
    /// the gateway's lookup per client handshake. Not audited; needs no actor.
    pub async fn find_certificate(
        &self,
        fingerprint: &str,
    ) -> Result<Option<CertificateOwner>, StoreError> {
        let Some(sha256) = full_fingerprint(fingerprint) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT u.name, u.enabled, c.revoked_at, c.revoke_reason, c.not_before, c.not_after
             FROM client_certificates c JOIN users u ON u.id = c.user_id WHERE c.sha256 = $1",
        )
        .bind(&sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("looking up a certificate", e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let owner = (|| {
            let revoked = match row.try_get::<Option<i64>, _>("revoked_at")? {
                Some(at) => Some(Revocation {
                    at,
                    reason: row
                        .try_get::<Option<String>, _>("revoke_reason")?
                        .unwrap_or_default(),
                }),
                None => None,
            };
            Ok::<_, sqlx::Error>(CertificateOwner {
                user: row.try_get("name")?,
                user_enabled: row.try_get::<i64, _>("enabled")? == 1,
                revoked,
                not_before: row.try_get("not_before")?,
                not_after: row.try_get("not_after")?,
            })
        })();
        owner
            .map(Some)
            .map_err(|e| self.db_error("looking up a certificate", e))
    }

    pub(crate) async fn insert_certificate(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: i64,
        origin: CertOrigin,
        chain: &[Certificate],
        sealed_key: Option<String>,
    ) -> Result<(), StoreError> {
        let leaf = &chain[0];
        let info = leaf.info();
        let above: String = chain[1..].iter().map(Certificate::to_pem).collect();
        let inserted = sqlx::query(
            "INSERT INTO client_certificates (user_id, sha256, origin, subject, issuer, serial, not_before,
                 not_after, key_type, certificate, chain, sealed_key, created_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1)",
        )
        .bind(user_id)
        .bind(normalize(&info.sha256))
        .bind(origin.as_str())
        .bind(&info.subject)
        .bind(&info.issuer)
        .bind(&info.serial)
        .bind(info.not_before.unix_timestamp())
        .bind(info.not_after.unix_timestamp())
        .bind(info.key.to_string())
        .bind(leaf.to_pem())
        .bind(above)
        .bind(sealed_key)
        .bind(crate::now())
        .execute(&mut **tx)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if crate::error::is_unique_violation(&e) => Err(StoreError::Duplicate {
                kind: "certificate",
                name: info.sha256.clone(),
            }),
            Err(e) => Err(self.db_error("storing a certificate", e)),
        }
    }

    /// Audits a stored certificate, commits, and reads it back as listed.
    async fn commit_certificate(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        ctx: &Context,
        event: Event<'_>,
        user_id: i64,
        sha256: &str,
    ) -> Result<ClientCertificate, StoreError> {
        self.audit_in(&mut tx, ctx, event).await?;
        tx.commit()
            .await
            .map_err(|e| self.db_error("storing a certificate", e))?;
        self.certificate_by_sha256(user_id, sha256).await
    }

    /// Refuses a certificate that is stored already (for anyone).
    async fn refuse_known(&self, sha256: &str) -> Result<(), StoreError> {
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT u.name FROM client_certificates c JOIN users u ON u.id = c.user_id WHERE c.sha256 = $1",
        )
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_error("reading certificates", e))?;
        match holder {
            Some(holder) => Err(StoreError::Duplicate {
                kind: "certificate",
                name: format!("{} (of user {holder})", colon(sha256)),
            }),
            None => Ok(()),
        }
    }

    async fn resolve_certificate(
        &self,
        user_id: i64,
        user: &str,
        fingerprint: &str,
    ) -> Result<ClientCertificate, StoreError> {
        let digits = hex_digits(fingerprint).ok_or_else(|| StoreError::Invalid {
            field: "fingerprint",
            given: fingerprint.chars().take(100).collect(),
            problem: "is not SHA-256 hex: give the 64 hex digits `keyway user cert list` shows (colons and case do not matter), or at least the first 8".into(),
        })?;
        let rows = sqlx::query(select_certificates!(
            "WHERE c.user_id = $1 AND c.sha256 LIKE $2 ORDER BY c.id"
        ))
        .bind(user_id)
        .bind(format!("{digits}%"))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a certificate", e))?;
        match rows.as_slice() {
            [row] => self.certificate_of(row),
            [] => Err(StoreError::NotFound {
                kind: "certificate",
                name: fingerprint.to_string(),
                hint: format!(" of user {user}: `keyway user cert list {user}` shows theirs"),
            }),
            more => Err(StoreError::Invalid {
                field: "fingerprint",
                given: fingerprint.to_string(),
                problem: format!(
                    "matches {} of {user}'s certificates: give more digits",
                    more.len()
                ),
            }),
        }
    }

    async fn certificate_by_sha256(
        &self,
        user_id: i64,
        sha256: &str,
    ) -> Result<ClientCertificate, StoreError> {
        let row = sqlx::query(select_certificates!(
            "WHERE c.user_id = $1 AND c.sha256 = $2"
        ))
        .bind(user_id)
        .bind(sha256)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db_error("reading a certificate", e))?;
        self.certificate_of(&row)
    }

    fn certificate_of(&self, row: &AnyRow) -> Result<ClientCertificate, StoreError> {
        let fail = |e| self.db_error("reading a certificate", e);
        let sha256: String = row.try_get("sha256").map_err(fail)?;
        let corrupt = |problem: String| StoreError::Database {
            database: self.name.clone(),
            action: format!("reading certificate {}", colon(&sha256)),
            problem,
        };
        let pem: String = row.try_get("certificate").map_err(fail)?;
        let chain_pem: String = row.try_get("chain").map_err(fail)?;
        let certificate = read_pem(&pem)
            .map_err(corrupt)?
            .into_iter()
            .next()
            .ok_or_else(|| corrupt("no certificate stored".into()))?;
        let chain = read_pem(&chain_pem).map_err(corrupt)?;
        let origin = match row.try_get::<&str, _>("origin").map_err(fail)? {
            "issued" => CertOrigin::Issued,
            _ => CertOrigin::Uploaded,
        };
        let revoked = match row.try_get::<Option<i64>, _>("revoked_at").map_err(fail)? {
            Some(at) => Some(Revocation {
                at,
                reason: row
                    .try_get::<Option<String>, _>("revoke_reason")
                    .map_err(fail)?
                    .unwrap_or_default(),
            }),
            None => None,
        };
        Ok(ClientCertificate {
            user: row.try_get("user_name").map_err(fail)?,
            sha256: colon(&sha256),
            origin,
            subject: row.try_get("subject").map_err(fail)?,
            issuer: row.try_get("issuer").map_err(fail)?,
            serial: row.try_get("serial").map_err(fail)?,
            not_before: row.try_get("not_before").map_err(fail)?,
            not_after: row.try_get("not_after").map_err(fail)?,
            key_type: row.try_get("key_type").map_err(fail)?,
            has_private_key: row.try_get::<i64, _>("has_key").map_err(fail)? == 1,
            revoked,
            created_at: row.try_get("created_at").map_err(fail)?,
            version: row.try_get("version").map_err(fail)?,
            last_used: match row
                .try_get::<Option<i64>, _>("last_used_at")
                .map_err(fail)?
            {
                Some(at) => Some(LastUse {
                    at,
                    node: row
                        .try_get::<Option<String>, _>("last_used_node")
                        .map_err(fail)?
                        .unwrap_or_default(),
                }),
                None => None,
            },
            certificate,
            chain,
        })
    }

    /// Records when certificates were last presented at the gateway (`uses`: SHA-256
    /// fingerprints, lower-case hex without colons, and seconds since the Unix epoch), by
    /// gateway `node`, in one transaction. Not a change: no version, no audit entry. A
    /// time older than the one recorded (another node saw it later) is left alone.
    pub async fn record_certificate_use(
        &self,
        uses: &[(String, i64)],
        node: &str,
    ) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for (sha256, at) in uses {
            sqlx::query(
                "UPDATE client_certificates SET last_used_at = $1, last_used_node = $2
                 WHERE sha256 = $3 AND (last_used_at IS NULL OR last_used_at <= $1)",
            )
            .bind(*at)
            .bind(node)
            .bind(sha256.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_error("recording certificate use", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| self.db_error("recording certificate use", e))
    }

    /// The id of user `name`.
    pub(crate) async fn user_id(&self, name: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT id FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_error("reading a user", e))?
            .ok_or_else(|| crate::user::not_found_user(name))
    }

    pub(crate) fn seal_key(&self, key: &PrivateKey) -> Result<String, StoreError> {
        self.master
            .seal(key.pkcs8_der(), KEY_PURPOSE)
            .map_err(|e| StoreError::MasterKey(e.to_string()))
    }

    fn open_key(&self, sealed: &str) -> Result<PrivateKey, StoreError> {
        let der = self
            .master
            .open(
                sealed.as_bytes(),
                KEY_PURPOSE,
                std::path::Path::new(&self.name),
            )
            .map_err(|e| StoreError::MasterKey(e.to_string()))?;
        PrivateKey::from_pkcs8_der(&der, "a stored private key").map_err(|e| StoreError::Database {
            database: self.name.clone(),
            action: "reading a private key".into(),
            problem: e.to_string(),
        })
    }

    /// Audits `result` as failed when it is an error about the request (not a refusal,
    /// which is audited where it happens, nor a database failure, which cannot be).
    pub(crate) async fn audit_if_failed<T>(
        &self,
        ctx: &Context,
        action: &str,
        object: &str,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match result {
            Err(
                e @ (StoreError::Invalid { .. }
                | StoreError::Pki(_)
                | StoreError::Duplicate { .. }
                | StoreError::Conflict { .. }
                | StoreError::Config(_)
                | StoreError::InUse { .. }
                | StoreError::WouldBreak { .. }
                | StoreError::NotFound { .. }),
            ) => {
                self.audit(
                    ctx,
                    Event {
                        action,
                        object: object.to_string(),
                        outcome: AuditOutcome::Failed,
                        detail: e.to_string(),
                    },
                )
                .await?;
                Err(e)
            }
            other => other,
        }
    }
}

/// Identifies a key pair: SHA-256 of its public key bits, hex.
fn key_id(key: &PrivateKey) -> Result<String, StoreError> {
    key.public_key_bits()
        .map(|bits| hex_sha256(&bits))
        .ok_or_else(|| {
            StoreError::Pki(PkiError::Request(
                "keyway cannot derive the public key of this key type".into(),
            ))
        })
}

fn hex_sha256(bytes: &[u8]) -> String {
    normalize(&fingerprint_sha256(bytes))
}

/// Lower-case hex without colons, as the database keeps fingerprints.
pub(crate) fn normalize(colon_hex: &str) -> String {
    colon_hex.replace(':', "").to_ascii_lowercase()
}

/// Upper-case hex pairs joined by colons, as keyway shows fingerprints.
pub(crate) fn colon(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// The hex digits of a fingerprint as people write it (colons, spaces, any case): at
/// least 8 and at most 64.
fn hex_digits(given: &str) -> Option<String> {
    let digits: String = given
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    let ok = (8..=64).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(digits)
}

/// A whole fingerprint (64 digits) in the database's notation.
fn full_fingerprint(given: &str) -> Option<String> {
    hex_digits(given).filter(|d| d.len() == 64)
}

pub(crate) fn read_pem(pem: &str) -> Result<Vec<Certificate>, String> {
    if pem.trim().is_empty() {
        return Ok(Vec::new());
    }
    keyway_pki::read_certificates(pem.as_bytes(), None, "stored certificate")
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_in_any_notation() {
        let colons = "AB:CD:EF:01:23:45:67:89";
        assert_eq!(hex_digits(colons).as_deref(), Some("abcdef0123456789"));
        assert_eq!(
            hex_digits("abcdef0123456789").as_deref(),
            Some("abcdef0123456789")
        );
        assert_eq!(hex_digits("abc"), None);
        assert_eq!(hex_digits("zzzzzzzzzz"), None);
        assert_eq!(hex_digits(&"a".repeat(65)), None);
        assert_eq!(full_fingerprint("ab:cd:ef:01:23:45:67:89"), None);
        assert_eq!(colon("abcd01"), "AB:CD:01");
        assert_eq!(normalize("AB:CD:01"), "abcd01");
    }
}
