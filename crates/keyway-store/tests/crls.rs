//! CRLs of outside CAs in the store: checked against the truststore CA that signed
//! them, one per issuer (the newest), refused when forged, unknown, older or not a CRL,
//! and handed to the gateway. Each scenario runs on SQLite and PostgreSQL.

use keyway_store::{AuditOutcome, AuditQuery, Context, CrlImport, NewUser, Permission, StoreError};
use keyway_testkit::TestCa;

mod common;
use common::{Fixture, raw_pool};

on_both!(crls_are_checked_kept_newest_and_removed);

fn certs(pem: &str) -> Vec<keyway_keystore::Certificate> {
    keyway_pki::read_certificates(pem.as_bytes(), None, "test").unwrap()
}

fn der(pem: &str) -> Vec<u8> {
    use base64ct::Encoding;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64ct::Base64::decode_vec(&body).unwrap()
}

async fn crls_are_checked_kept_newest_and_removed(backend: keyway_store::Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let partner = TestCa::new("Partner");
    store
        .add_truststore(
            &admin,
            "partner-clients",
            certs(&partner.pem()),
            "partner.pem",
        )
        .await
        .unwrap();
    let (_, _, serial) = partner.client("orders-client");

    // Not a CRL at all: the file is named.
    let e = store
        .import_crl(&admin, b"hello", "junk.crl")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("junk.crl"), "{e}");
    assert!(
        e.to_string().contains("not a certificate revocation list"),
        "{e}"
    );
    // From a CA no truststore holds.
    let stranger = TestCa::new("Stranger");
    let e = store
        .import_crl(
            &admin,
            stranger.crl(1, &[], 0, 7).as_bytes(),
            "stranger.crl",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a CA in any truststore"), "{e}");
    // Same name as the partner's CA, another key: forged.
    let impostor = TestCa::new("Partner");
    let e = store
        .import_crl(&admin, impostor.crl(9, &[], 0, 7).as_bytes(), "forged.crl")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    assert!(store.crls(&admin).await.unwrap().is_empty());

    // The real one: added, then the same again changes nothing.
    let second = partner.crl(2, &[&serial], 1, 7);
    let (crl, outcome) = store
        .import_crl(&admin, second.as_bytes(), "partner-2.crl")
        .await
        .unwrap();
    assert_eq!(outcome, CrlImport::Added);
    assert_eq!(
        (crl.number.as_str(), crl.revoked, crl.signed_by.as_str()),
        ("2", 1, "truststore partner-clients")
    );
    assert!(crl.issuer.contains("Partner Root CA"), "{}", crl.issuer);
    let (_, outcome) = store
        .import_crl(&admin, second.as_bytes(), "partner-2.crl")
        .await
        .unwrap();
    assert_eq!(outcome, CrlImport::Unchanged);

    // An older one is refused and the stored one stays.
    let e = store
        .import_crl(
            &admin,
            partner.crl(1, &[], 2, 7).as_bytes(),
            "partner-1.crl",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not newer"), "{e}");
    assert_eq!(store.crls(&admin).await.unwrap()[0].number, "2");

    // A newer one, as DER, replaces it; the gateway gets exactly that one.
    let third = partner.crl(3, &[], 0, 7);
    let (crl, outcome) = store
        .import_crl(&admin, &der(&third), "partner-3.der")
        .await
        .unwrap();
    assert_eq!(
        outcome,
        CrlImport::Replaced {
            previous: "2".into()
        }
    );
    assert_eq!((crl.number.as_str(), crl.revoked), ("3", 0));
    let trust = store.gateway_trust(&[]).await.unwrap();
    assert_eq!(trust.crls, vec![der(&third)]);

    // Only trust managers import or remove.
    store
        .add_user(
            &admin,
            NewUser::new("ops").permission(Permission::ManageConnectors),
        )
        .await
        .unwrap();
    let ops = Context::user("ops", "test");
    let e = store
        .import_crl(&ops, second.as_bytes(), "partner-2.crl")
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");
    assert_eq!(store.crls(&ops).await.unwrap().len(), 1, "ops may look");

    store.remove_crl(&admin, &crl.issuer).await.unwrap();
    assert!(store.crls(&admin).await.unwrap().is_empty());
    let e = store.remove_crl(&admin, &crl.issuer).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");

    let audit = store
        .audit_log(&admin, &AuditQuery::default())
        .await
        .unwrap();
    let imports: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "crl.import")
        .map(|e| e.outcome)
        .collect();
    assert!(
        imports.contains(&AuditOutcome::Ok) && imports.contains(&AuditOutcome::Failed),
        "{imports:?}"
    );
    assert!(audit.iter().any(|e| e.action == "crl.remove"));
}

/// Two nodes import the first CRL of an issuer at the same moment: both read "none
/// stored", and the one that writes second must get a conflict (read again, redo), not a
/// database error from the UNIQUE issuer. Made deterministic on PostgreSQL: the other
/// node's insert is held open until this import waits on it.
#[tokio::test]
async fn first_imports_at_once_conflict() {
    let fixture = Fixture::new(keyway_store::Backend::Postgres);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let partner = TestCa::new("Partner");
    store
        .add_truststore(&admin, "partner", certs(&partner.pem()), "partner.pem")
        .await
        .unwrap();
    let issuer = "CN=Partner Root CA, O=keyway tests";

    let other_node = raw_pool(&fixture.location).await;
    let mut held = other_node.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO crls (issuer, der, number, this_update, next_update, revoked, signed_by, source, created_at, updated_at, version)
         VALUES ($1, 'AA==', '4', 0, NULL, 0, 'truststore partner', 'other node', 0, 0, 1)",
    )
    .bind(issuer)
    .execute(&mut *held)
    .await
    .unwrap();

    let crl = partner.crl(5, &[], 0, 7);
    let import = {
        let (store, admin) = (fixture.open().await, admin.clone());
        tokio::spawn(async move {
            store
                .import_crl(&admin, crl.as_bytes(), "partner-5.crl")
                .await
        })
    };
    // Wait until the import is blocked behind the held insert.
    let watcher = raw_pool(&fixture.location).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE NOT granted")
            .fetch_one(&watcher)
            .await
            .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            !import.is_finished(),
            "the import did not wait for the other node"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the import never blocked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    held.commit().await.unwrap();

    let e = import.await.unwrap().unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
    assert!(e.to_string().contains("read it again"), "{e}");
    let stored = store.crls(&admin).await.unwrap();
    assert_eq!((stored.len(), stored[0].source.as_str()), (1, "other node"));
}
