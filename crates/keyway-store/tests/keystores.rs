//! Named keystores in the store, from real files: a PKCS#12 `openssl pkcs12 -export`
//! made and a JKS keytool made with two keys and a key password of its own. Checked when
//! stored, sealed at rest, opened for a connector, exported as given, versioned, and
//! refused clearly when wrong. Each scenario runs on SQLite and PostgreSQL.

use keyway_keystore::Format;
use keyway_store::{
    AuditOutcome, AuditQuery, Backend, Context, NewKeystore, NewUser, Permission, Store, StoreError,
};
use keyway_testkit::{KeyKind, TestChain, client_p12, keytool};
use zeroize::Zeroizing;

mod common;
use common::{Fixture, raw_pool};

on_both!(
    a_pkcs12_is_checked_sealed_opened_and_exported_as_given,
    a_jks_with_two_keys_needs_its_alias_and_key_password,
    wrong_keystores_are_refused_and_changes_are_versioned,
);

fn new(content: Vec<u8>, password: &str, source: &str) -> NewKeystore {
    NewKeystore {
        content,
        format: None,
        password: Zeroizing::new(password.into()),
        key_password: None,
        alias: None,
        source: source.into(),
    }
}

async fn outcomes(store: &Store, action: &str) -> Vec<AuditOutcome> {
    store
        .audit_log(&Context::local_admin(), &AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.outcome)
        .collect()
}

async fn a_pkcs12_is_checked_sealed_opened_and_exported_as_given(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("partner-client", KeyKind::EcP256);
    let p12 = std::fs::read(client_p12(&chain, dir.path())).unwrap();

    let stored = store
        .add_keystore(&admin, "acme", new(p12.clone(), "changeit", "client.p12"))
        .await
        .unwrap();
    assert_eq!(stored.format, "pkcs12");
    assert_eq!(stored.alias, "client");
    assert!(!stored.has_key_password);
    assert_eq!(stored.version, 1);
    let entry = stored.key_entry().unwrap();
    assert_eq!(entry.kind, "key");
    assert_eq!(entry.chain.len(), 3, "leaf, intermediate, root");
    assert_eq!(entry.chain[0].der(), chain.leaf_der.as_slice());

    // Sealed at rest: neither the file nor its password is in the database.
    let pool = raw_pool(&fixture.location).await;
    let (content, password): (String, String) =
        sqlx::query_as("SELECT content, store_password FROM keystores")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!content.contains("changeit") && !password.contains("changeit"));
    use base64ct::Encoding as _;
    let plain = base64ct::Base64::encode_string(&p12[..48]);
    assert!(!content.contains(&plain[..40]));

    // Opened for a connector: the key that belongs to the leaf.
    let secrets = store.keystore_secrets("acme").await.unwrap();
    let (key, presented) = secrets.identity().unwrap();
    assert_eq!(key.public_key_bits(), Some(presented[0].public_key_bits()));
    assert_eq!(presented[0].der(), chain.leaf_der.as_slice());
    assert!(!format!("{secrets:?}").contains("changeit"));

    // Exported for a person: the file exactly as given, audited.
    let (_, exported) = store.export_keystore(&admin, "acme").await.unwrap();
    assert_eq!(exported.content.as_slice(), p12.as_slice());
    assert_eq!(exported.format, Format::Pkcs12);
    assert_eq!(exported.password.as_str(), "changeit");
    assert_eq!(
        outcomes(&store, "keystore.export").await,
        [AuditOutcome::Ok]
    );
}

async fn a_jks_with_two_keys_needs_its_alias_and_key_password(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let dir = tempfile::tempdir().unwrap();
    let jks = dir.path().join("two.jks");
    for alias in ["first", "second"] {
        keytool(&[
            "-genkeypair",
            "-alias",
            alias,
            "-keyalg",
            "EC",
            "-groupname",
            "secp256r1",
            "-dname",
            &format!("CN={alias}"),
            "-validity",
            "30",
            "-storetype",
            "JKS",
            "-keystore",
            jks.to_str().unwrap(),
            "-storepass",
            "store-pass",
            "-keypass",
            "key-pass",
        ]);
    }
    let bytes = std::fs::read(&jks).unwrap();

    let e = store
        .add_keystore(&admin, "two", new(bytes.clone(), "store-pass", "two.jks"))
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("2 key entries") && message.contains("first, second"),
        "{message}"
    );
    let mut with_alias = new(bytes.clone(), "store-pass", "two.jks");
    with_alias.alias = Some("second".into());
    let e = store
        .add_keystore(&admin, "two", with_alias.clone())
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("\"second\" does not open") && message.contains("key password"),
        "{message}"
    );
    assert!(!message.contains("store-pass") && !message.contains("key-pass"));
    let mut unknown = with_alias.clone();
    unknown.alias = Some("third".into());
    let e = store
        .add_keystore(&admin, "two", unknown)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no key entry \"third\""), "{e}");

    with_alias.key_password = Some(Zeroizing::new("key-pass".into()));
    let stored = store.add_keystore(&admin, "two", with_alias).await.unwrap();
    assert_eq!(
        (stored.format.as_str(), stored.alias.as_str()),
        ("jks", "second")
    );
    assert!(stored.has_key_password);
    assert_eq!(stored.entries.len(), 2);
    let secrets = store.keystore_secrets("two").await.unwrap();
    let (key, chain) = secrets.identity().unwrap();
    assert!(chain[0].info().subject.contains("CN=second"));
    assert_eq!(key.public_key_bits(), Some(chain[0].public_key_bits()));
    assert_eq!(
        outcomes(&store, "keystore.add").await,
        [
            AuditOutcome::Failed,
            AuditOutcome::Failed,
            AuditOutcome::Failed,
            AuditOutcome::Ok
        ]
    );
}

async fn wrong_keystores_are_refused_and_changes_are_versioned(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("client", KeyKind::EcP256);
    let p12 = std::fs::read(client_p12(&chain, dir.path())).unwrap();

    let e = store
        .add_keystore(&admin, "acme", new(p12.clone(), "wrong", "client.p12"))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("cannot be opened from client.p12"),
        "{e}"
    );
    let e = store
        .add_keystore(
            &admin,
            "acme",
            new(chain.root_pem.clone().into_bytes(), "x", "root.pem"),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no private key entry"), "{e}");
    let e = store
        .add_keystore(
            &admin,
            "acme",
            new(b"not a keystore".to_vec(), "x", "junk.bin"),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("junk.bin"), "{e}");
    assert!(store.keystores(&admin).await.unwrap().is_empty());

    store
        .add_keystore(&admin, "acme", new(p12.clone(), "changeit", "client.p12"))
        .await
        .unwrap();
    let e = store
        .add_keystore(&admin, "acme", new(p12.clone(), "changeit", "again.p12"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate { .. }), "{e}");

    // A renewed certificate replaces the file; a change based on an old version loses.
    let renewed = TestChain::new("client-2027", KeyKind::EcP256);
    let other = tempfile::tempdir().unwrap();
    let renewed_p12 = std::fs::read(client_p12(&renewed, other.path())).unwrap();
    let replaced = store
        .replace_keystore(
            &admin,
            "acme",
            new(renewed_p12.clone(), "changeit", "client-2027.p12"),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.source, "client-2027.p12");
    let e = store
        .replace_keystore(
            &admin,
            "acme",
            new(p12.clone(), "changeit", "client.p12"),
            Some(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { found: 2, .. }), "{e}");
    let (_, key_chain) = store
        .keystore_secrets("acme")
        .await
        .unwrap()
        .identity()
        .unwrap();
    assert_eq!(key_chain[0].der(), renewed.leaf_der.as_slice());

    // Who may: connectors managers see, only trust managers change or export.
    for (name, permission) in [
        ("conn", Permission::ManageConnectors),
        ("alice", Permission::ManagePersonalSetup),
    ] {
        store
            .add_user(&admin, NewUser::new(name).permission(permission))
            .await
            .unwrap();
    }
    let conn = Context::user("conn", "test");
    assert_eq!(store.keystores(&conn).await.unwrap().len(), 1);
    let e = store.export_keystore(&conn, "acme").await.unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");
    let alice = Context::user("alice", "test");
    let e = store.keystore(&alice, "acme").await.unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");

    let e = store
        .remove_keystore(&admin, "acme", Some(1))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
    store
        .remove_keystore(&admin, "acme", Some(2))
        .await
        .unwrap();
    let e = store.keystore_secrets("acme").await.unwrap_err();
    assert!(e.to_string().contains("keyway identity list"), "{e}");
}
