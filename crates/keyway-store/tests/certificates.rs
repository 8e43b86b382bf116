//! Users' client certificates and truststores in the store: a CSR signed by an outside
//! CA (rcgen, as a partner's CA would), uploads that fail each check, revocation, who
//! may do what (keyway's own CA is in `ca.rs`). Each scenario runs on SQLite and PostgreSQL.

use keyway_keystore::Certificate;
use keyway_pki::{KeyType, Reason};
use keyway_store::{
    AuditOutcome, AuditQuery, Backend, CertOrigin, Context, NewUser, Permission, Store, StoreError,
    Upload,
};
use keyway_testkit::{Signing, TestCa};

mod common;
use common::{Fixture, raw_pool};

on_both!(
    a_csr_signed_by_an_outside_ca_becomes_the_users_identity,
    uploads_failing_a_check_are_named_audited_and_change_nothing,
    personal_setup_covers_only_ones_own_certificates,
    truststores_round_trip_with_versions,
);

fn pem(text: &str) -> Certificate {
    let mut certs = keyway_pki::read_certificates(text.as_bytes(), None, "test").unwrap();
    assert_eq!(certs.len(), 1);
    certs.remove(0)
}

/// A store with truststore `partners` (holding `ca`) and users: alice and bob with
/// manage_personal_setup.
async fn setup(fixture: &Fixture, ca: &TestCa) -> Store {
    let store = fixture.open().await;
    let admin = Context::local_admin();
    store
        .add_truststore(&admin, "partners", vec![pem(&ca.pem())], "partner-ca.pem")
        .await
        .unwrap();
    for name in ["alice", "bob"] {
        store
            .add_user(
                &admin,
                NewUser::new(name).permission(Permission::ManagePersonalSetup),
            )
            .await
            .unwrap();
    }
    store
}

fn upload(cert_pem: &str, key_elsewhere: bool) -> Upload {
    Upload {
        certificate: pem(cert_pem),
        chain: Vec::new(),
        truststore: "partners".into(),
        key_elsewhere,
    }
}

async fn audit_outcomes(store: &Store, action: &str) -> Vec<AuditOutcome> {
    store
        .audit_log(&Context::local_admin(), &AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.outcome)
        .collect()
}

async fn a_csr_signed_by_an_outside_ca_becomes_the_users_identity(backend: Backend) {
    let fixture = Fixture::new(backend);
    let ca = TestCa::new("Partner");
    let store = setup(&fixture, &ca).await;
    let alice = Context::user("alice", "test");

    let pending = store
        .request_certificate(&alice, "alice", "CN=alice,O=Acme", &[], KeyType::EcP256)
        .await
        .unwrap();
    assert!(
        pending
            .csr
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
    assert_eq!(store.pending_keys(&alice, "alice").await.unwrap().len(), 1);

    let signed = ca.sign(&pending.csr, &Signing::default());
    let cert = store
        .upload_certificate(&alice, "alice", upload(&signed, false))
        .await
        .unwrap();
    assert_eq!(cert.user, "alice");
    assert_eq!(cert.origin, CertOrigin::Uploaded);
    assert!(cert.has_private_key, "the pending key completes the upload");
    assert!(cert.subject.contains("CN=alice"), "{}", cert.subject);
    assert_eq!(
        cert.state(time::OffsetDateTime::now_utc().unix_timestamp()),
        "valid"
    );
    assert_eq!(cert.chain.len(), 1, "the partner's root");
    assert!(
        store
            .pending_keys(&alice, "alice")
            .await
            .unwrap()
            .is_empty()
    );

    // Fingerprints in any notation: colons or not, any case, a unique prefix.
    let bare = cert.sha256.replace(':', "").to_ascii_lowercase();
    let (exported, identity) = store.export_identity(&alice, "alice", &bare).await.unwrap();
    assert_eq!(exported.sha256, cert.sha256);
    assert_eq!(identity.key.matches(&identity.chain[0]), Some(true));
    assert_eq!(identity.chain[0].der(), cert.certificate.der());
    assert_eq!(identity.chain.len(), 2);
    let shown = store
        .certificate(&alice, "alice", &bare[..8])
        .await
        .unwrap();
    assert_eq!(shown.sha256, cert.sha256);
    let owner = store.find_certificate(&cert.sha256).await.unwrap().unwrap();
    assert_eq!(owner.user, "alice");
    assert!(owner.user_enabled && owner.revoked.is_none());
    assert_eq!(owner.not_after, cert.not_after);
    assert!(
        store
            .find_certificate(&"0".repeat(64))
            .await
            .unwrap()
            .is_none()
    );

    // The key is sealed at rest: its PKCS#8 is nowhere in the database.
    let pool = raw_pool(&fixture.location).await;
    let sealed: String = sqlx::query_scalar("SELECT sealed_key FROM client_certificates")
        .fetch_one(&pool)
        .await
        .unwrap();
    let plain = keyway_keystore::PrivateKey::to_pem(&identity.key, None).unwrap();
    let body: String = plain.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!sealed.contains(&body[..40]) && !sealed.contains("PRIVATE KEY"));

    // The gateway's record of its last use: the newest time wins whichever node writes
    // last, and it is no change (the revocation below still finds version 1).
    assert!(cert.last_used.is_none());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    store
        .record_certificate_use(&[(bare.clone(), now)], "node-a")
        .await
        .unwrap();
    store
        .record_certificate_use(
            &[(bare.clone(), now - 100), ("f".repeat(64), now)],
            "node-b",
        )
        .await
        .unwrap();
    let seen = store.certificate(&alice, "alice", &bare).await.unwrap();
    assert_eq!(
        seen.last_used,
        Some(keyway_store::LastUse {
            at: now,
            node: "node-a".into()
        })
    );
    assert_eq!(seen.version, 1);

    let revoked = store
        .revoke_certificate(
            &alice,
            "alice",
            &cert.sha256,
            Reason::KeyCompromise,
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(revoked.revoked.as_ref().unwrap().reason, "keyCompromise");
    assert_eq!(revoked.version, 2);
    let owner = store.find_certificate(&bare).await.unwrap().unwrap();
    assert_eq!(owner.revoked.unwrap().reason, "keyCompromise");
    let e = store
        .export_identity(&alice, "alice", &bare)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("was revoked"), "{e}");
    let e = store
        .revoke_certificate(&alice, "alice", &bare, Reason::Superseded, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already revoked"), "{e}");

    assert_eq!(audit_outcomes(&store, "cert.csr").await, [AuditOutcome::Ok]);
    assert_eq!(
        audit_outcomes(&store, "cert.upload").await,
        [AuditOutcome::Ok]
    );
    assert_eq!(
        audit_outcomes(&store, "cert.download").await,
        [AuditOutcome::Ok, AuditOutcome::Failed]
    );
    assert_eq!(
        audit_outcomes(&store, "cert.revoke").await,
        [AuditOutcome::Ok, AuditOutcome::Failed]
    );
}

async fn uploads_failing_a_check_are_named_audited_and_change_nothing(backend: Backend) {
    let fixture = Fixture::new(backend);
    let ca = TestCa::new("Partner");
    let store = setup(&fixture, &ca).await;
    let admin = Context::local_admin();
    let csr = store
        .request_certificate(&admin, "alice", "CN=alice", &[], KeyType::EcP256)
        .await
        .unwrap()
        .csr;
    let bobs_csr = store
        .request_certificate(&admin, "bob", "CN=bob", &[], KeyType::EcP256)
        .await
        .unwrap()
        .csr;
    let elsewhere_key = keyway_pki::generate(KeyType::EcP256).unwrap();
    let elsewhere_csr = keyway_pki::create_csr(
        &elsewhere_key,
        keyway_pki::parse_subject("CN=alice-laptop").unwrap(),
        &[],
    )
    .unwrap();
    let other_ca = TestCa::new("Stranger");

    let refused = |cert: String, expected: &'static str| (upload(&cert, false), expected);
    let cases = [
        refused(
            ca.sign(&elsewhere_csr, &Signing::default()),
            "none of alice's pending key pairs",
        ),
        refused(ca.sign(&bobs_csr, &Signing::default()), "made for user bob"),
        refused(
            ca.sign(
                &csr,
                &Signing {
                    days: (-30, -1),
                    ..Signing::default()
                },
            ),
            "expired",
        ),
        refused(
            ca.sign(
                &csr,
                &Signing {
                    server_only: true,
                    ..Signing::default()
                },
            ),
            "clientAuth",
        ),
        refused(other_ca.sign(&csr, &Signing::default()), "Stranger Root CA"),
    ];
    for (attempt, expected) in cases {
        let e = store
            .upload_certificate(&admin, "alice", attempt)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(expected), "{e} / {expected}");
    }
    let mut unknown_store = upload(&ca.sign(&csr, &Signing::default()), false);
    unknown_store.truststore = "nope".into();
    let e = store
        .upload_certificate(&admin, "alice", unknown_store)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::NotFound {
                kind: "truststore",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("keyway truststore list"), "{e}");

    // Nothing was stored; the pending key pairs wait on.
    assert!(
        store
            .certificates(&admin, "alice")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.pending_keys(&admin, "alice").await.unwrap().len(), 1);
    assert_eq!(store.pending_keys(&admin, "bob").await.unwrap().len(), 1);
    assert_eq!(
        audit_outcomes(&store, "cert.upload").await,
        [AuditOutcome::Failed; 6]
    );

    // A certificate whose key is kept elsewhere is stored alone, on request.
    let alone = ca.sign(&elsewhere_csr, &Signing::default());
    let cert = store
        .upload_certificate(&admin, "alice", upload(&alone, true))
        .await
        .unwrap();
    assert!(!cert.has_private_key);
    let e = store
        .export_identity(&admin, "alice", &cert.sha256)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("without its private key"), "{e}");
    let e = store
        .upload_certificate(&admin, "bob", upload(&alone, true))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Duplicate { .. }) && e.to_string().contains("of user alice"),
        "{e}"
    );
    let e = store
        .certificate(&admin, "alice", "not-hex")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("64 hex digits"), "{e}");
}

async fn personal_setup_covers_only_ones_own_certificates(backend: Backend) {
    let fixture = Fixture::new(backend);
    let ca = TestCa::new("Partner");
    let store = setup(&fixture, &ca).await;
    let admin = Context::local_admin();
    for (name, permission) in [("carol", Some(Permission::UserManagement)), ("dave", None)] {
        let mut user = NewUser::new(name);
        if let Some(p) = permission {
            user = user.permission(p);
        }
        store.add_user(&admin, user).await.unwrap();
    }
    let (alice, carol, dave) = (
        Context::user("alice", "test"),
        Context::user("carol", "test"),
        Context::user("dave", "test"),
    );
    let bobs = store
        .request_certificate(&carol, "bob", "CN=bob", &[], KeyType::EcP256)
        .await
        .unwrap();
    let signed = ca.sign(&bobs.csr, &Signing::default());
    let cert = store
        .upload_certificate(&carol, "bob", upload(&signed, false))
        .await
        .unwrap();

    let refusals: Vec<StoreError> = vec![
        store
            .request_certificate(&alice, "bob", "CN=bob", &[], KeyType::EcP256)
            .await
            .unwrap_err(),
        store.certificates(&alice, "bob").await.unwrap_err(),
        store
            .export_identity(&alice, "bob", &cert.sha256)
            .await
            .unwrap_err(),
        store
            .revoke_certificate(&alice, "bob", &cert.sha256, Reason::Unspecified, None)
            .await
            .unwrap_err(),
        store
            .request_certificate(&dave, "dave", "CN=dave", &[], KeyType::EcP256)
            .await
            .unwrap_err(),
        // user_management is about people, not trust.
        store
            .add_truststore(&carol, "mine", vec![pem(&ca.pem())], "x.pem")
            .await
            .unwrap_err(),
        store.truststores(&alice).await.unwrap_err(),
    ];
    for e in &refusals {
        assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");
    }
    assert!(refusals[4].to_string().contains("manage_personal_setup"));
    assert!(refusals[5].to_string().contains("manage_trust"));
    let log = store
        .audit_log(&admin, &AuditQuery::default())
        .await
        .unwrap();
    let refused = log
        .iter()
        .filter(|e| e.outcome == AuditOutcome::Refused)
        .count();
    assert_eq!(refused, refusals.len());
    // Bob's certificate is untouched; alice may still manage her own.
    let bob_now = store
        .certificate(&admin, "bob", &cert.sha256)
        .await
        .unwrap();
    assert!(bob_now.revoked.is_none() && bob_now.version == 1);
    store
        .request_certificate(&alice, "alice", "CN=alice", &[], KeyType::EcP256)
        .await
        .unwrap();
    assert_eq!(store.certificates(&alice, "alice").await.unwrap().len(), 0);
}

async fn truststores_round_trip_with_versions(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let (a, b) = (TestCa::new("A"), TestCa::new("B"));
    let added = store
        .add_truststore(
            &admin,
            "partners",
            vec![pem(&a.pem()), pem(&a.pem()), pem(&b.pem())],
            "partners.jks",
        )
        .await
        .unwrap();
    assert_eq!(added.certificates.len(), 2, "duplicates dropped");
    assert_eq!((added.source.as_str(), added.version), ("partners.jks", 1));
    let e = store
        .add_truststore(&admin, "partners", vec![pem(&a.pem())], "again.pem")
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate { .. }), "{e}");
    let e = store
        .add_truststore(&admin, "bad name", vec![pem(&a.pem())], "x.pem")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("truststore name"), "{e}");
    let e = store
        .add_truststore(&admin, "empty", Vec::new(), "x.pem")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");

    let replaced = store
        .replace_truststore(
            &admin,
            "partners",
            vec![pem(&b.pem())],
            "b.pem",
            Some(1),
            false,
        )
        .await
        .unwrap();
    assert_eq!((replaced.certificates.len(), replaced.version), (1, 2));
    let e = store
        .replace_truststore(
            &admin,
            "partners",
            vec![pem(&a.pem())],
            "a.pem",
            Some(1),
            false,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is at version 2, not 1"), "{e}");
    let e = store
        .remove_truststore(&admin, "partners", Some(1))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
    assert_eq!(store.truststores(&admin).await.unwrap().len(), 1);
    store
        .remove_truststore(&admin, "partners", Some(2))
        .await
        .unwrap();
    assert!(store.truststores(&admin).await.unwrap().is_empty());
    let e = store.truststore(&admin, "partners").await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
}
