//! `Store::known_certificates`: keyway's CA, identities, truststores and users'
//! certificates in one list, soonest end first, with days and lifetime left; a window
//! keeps the ones ending within it (expired included); each names what depends on it.
//! On SQLite and PostgreSQL.

use keyway_store::{Backend, Context, NewKeystore, NewUser, Permission, StoreError};
use keyway_testkit::{KeyKind, TestChain};
use zeroize::Zeroizing;

mod common;
use common::Fixture;

on_both!(every_certificate_keyway_knows_is_listed_soonest_end_first,);

async fn every_certificate_keyway_knows_is_listed_soonest_end_first(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let init = keyway_pki::CaInit {
        subject: keyway_pki::parse_subject("CN=keyway test CA").unwrap(),
        key_type: keyway_pki::KeyType::EcP256,
        with_intermediate: true,
    };
    store.create_ca(&admin, &init).await.unwrap();
    let partner = TestChain::new("partner", KeyKind::EcP256);
    let roots = keyway_pki::read_certificates(partner.root_pem.as_bytes(), None, "p.pem").unwrap();
    store
        .add_truststore(&admin, "partners", roots, "p.pem")
        .await
        .unwrap();
    // An identity whose certificate ended yesterday.
    let old = TestChain::with_leaf_validity("old", KeyKind::EcP256, -30, -1);
    let dir = tempfile::tempdir().unwrap();
    let p12 = keyway_testkit::client_p12(&old, dir.path());
    let keystore = NewKeystore {
        content: std::fs::read(&p12).unwrap(),
        format: None,
        password: Zeroizing::new("changeit".into()),
        key_password: None,
        alias: None,
        source: "old.p12".into(),
    };
    store
        .add_keystore(&admin, "old-client", keystore)
        .await
        .unwrap();
    for (user, days) in [("alice", 20), ("bob", 400)] {
        store.add_user(&admin, NewUser::new(user)).await.unwrap();
        let subject = keyway_pki::parse_subject(&format!("CN={user}")).unwrap();
        store
            .issue_certificate(&admin, user, subject, keyway_pki::KeyType::EcP256, days)
            .await
            .unwrap();
    }
    // A connector over both, and an integration through it: what breaks when they end.
    let profile = keyway_connect::ProfileEntry {
        truststores: vec!["partners".into()],
        keystore: Some("old-client".into()),
        ..keyway_connect::ProfileEntry::default()
    };
    store
        .save_profile(&admin, "partner-tls", profile, keyway_store::Save::Add)
        .await
        .unwrap();
    let definition = keyway_connect::ConnectorEntry {
        kind: "rest".into(),
        url: "https://partner.example/api".into(),
        profile: Some("partner-tls".into()),
        ..keyway_connect::ConnectorEntry::default()
    };
    store
        .save_connector(
            &admin,
            "orders",
            keyway_store::NewConnector {
                definition,
                auth: None,
            },
            keyway_store::Save::Add,
        )
        .await
        .unwrap();
    store
        .save_integration(
            &admin,
            "orders-in",
            keyway_store::NewIntegration {
                connector: "orders".into(),
                description: String::new(),
                require_password: false,
            },
            keyway_store::Save::Add,
        )
        .await
        .unwrap();
    let all = store.known_certificates(&admin, None).await.unwrap();
    let used = |holder: &str| {
        all.iter()
            .find(|c| c.holder == holder)
            .map(|c| c.used_by.clone())
            .unwrap()
    };
    assert_eq!(
        used("partners"),
        ["connector orders", "integration orders-in"]
    );
    assert_eq!(
        used("old-client"),
        ["connector orders", "integration orders-in"]
    );
    assert_eq!(used("alice"), ["user alice"]);
    assert_eq!(used("root"), ["gateway"]);
    let kinds: Vec<(&str, &str)> = all.iter().map(|c| (c.kind, c.holder.as_str())).collect();
    for wanted in [
        ("ca", "root"),
        ("ca", "intermediate"),
        ("truststore", "partners"),
        ("identity", "old-client"),
        ("user", "alice"),
        ("user", "bob"),
    ] {
        assert!(kinds.contains(&wanted), "{wanted:?} missing from {kinds:?}");
    }
    assert!(
        all.windows(2).all(|w| w[0].not_after <= w[1].not_after),
        "{kinds:?}"
    );
    // The ended identity comes first, with nothing left.
    assert_eq!(
        (all[0].kind, all[0].holder.as_str()),
        ("identity", "old-client")
    );
    assert!(all[0].days_left < 0, "{:?}", all[0]);
    assert_eq!(all[0].lifetime_left, 0.0);
    let alice = all.iter().find(|c| c.holder == "alice").unwrap();
    assert!((19..=20).contains(&alice.days_left), "{alice:?}");
    assert!(alice.lifetime_left > 0.9, "{alice:?}");
    assert!(alice.sha256.contains(':') && alice.sha256 == alice.sha256.to_uppercase());
    // Within 30 days: the ended identity and alice's, not bob's or the CA's.
    let soon = store
        .known_certificates(&admin, Some(30 * 86_400))
        .await
        .unwrap();
    let holders: Vec<&str> = soon.iter().map(|c| c.holder.as_str()).collect();
    assert_eq!(holders, ["old-client", "alice"]);
    // It needs manage_trust.
    store
        .add_user(
            &admin,
            NewUser::new("ops").permission(Permission::ManageConnectors),
        )
        .await
        .unwrap();
    let refused = store
        .known_certificates(&Context::user("ops", "cli"), None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Forbidden { .. })),
        "{refused:?}"
    );
}
