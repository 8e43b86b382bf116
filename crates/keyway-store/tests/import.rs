//! A keyway.toml into the store in one transaction (`Store::import_config`): all of it or
//! nothing — a failure part way, a name taken without replace, or a missing permission
//! leaves the store as it was. On SQLite and PostgreSQL.

use keyway_keystore::Certificate;
use keyway_store::{Backend, ConfigImport, Context, NewKeystore, NewUser, Permission, StoreError};
use keyway_testkit::{KeyKind, TestChain};

mod common;
use common::Fixture;

on_both!(
    an_import_lands_whole_or_not_at_all,
    taken_names_need_replace_and_are_reported,
    a_missing_permission_stops_the_import_before_anything_is_written,
);

fn root(name: &str) -> Vec<Certificate> {
    let chain = TestChain::new(name, KeyKind::EcP256);
    keyway_pki::read_certificates(chain.root_pem.as_bytes(), None, "root.pem").unwrap()
}

fn truststores(names: &[&str]) -> ConfigImport {
    ConfigImport {
        truststores: names
            .iter()
            .map(|n| (n.to_string(), root(n), format!("{n}.pem")))
            .collect(),
        ..ConfigImport::default()
    }
}

async fn truststore_names(store: &keyway_store::Store) -> Vec<String> {
    let ctx = Context::local_admin();
    store
        .truststores(&ctx)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect()
}

async fn an_import_lands_whole_or_not_at_all(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let ctx = Context::local_admin();
    // Two truststores are written, then a keystore fails: none of it stays.
    let mut import = truststores(&["partners", "banks"]);
    import.keystores.push((
        "not a name".into(),
        NewKeystore {
            content: Vec::new(),
            format: None,
            password: Default::default(),
            key_password: None,
            alias: None,
            source: "client.p12".into(),
        },
    ));
    let e = store.import_config(&ctx, &import, false).await.unwrap_err();
    assert!(e.to_string().contains("not a name"), "{e}");
    assert!(truststore_names(&store).await.is_empty(), "rolled back");
    // The same without the bad keystore: both land.
    let done = store
        .import_config(&ctx, &truststores(&["partners", "banks"]), false)
        .await
        .unwrap();
    assert_eq!(done.truststores, 2);
    assert!(done.replaced.is_empty());
    assert_eq!(truststore_names(&store).await, ["banks", "partners"]);
}

async fn taken_names_need_replace_and_are_reported(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let ctx = Context::local_admin();
    store
        .import_config(&ctx, &truststores(&["partners"]), false)
        .await
        .unwrap();
    let before = store.truststores(&ctx).await.unwrap()[0].clone();
    let again = truststores(&["partners", "banks"]);
    let e = store.import_config(&ctx, &again, false).await.unwrap_err();
    assert!(matches!(&e, StoreError::Exist { objects } if objects == "truststore partners"));
    assert!(e.to_string().contains("--replace"), "{e}");
    assert_eq!(
        truststore_names(&store).await,
        ["partners"],
        "banks not added"
    );
    let done = store.import_config(&ctx, &again, true).await.unwrap();
    assert_eq!(done.replaced, ["truststore partners"]);
    let after = store.truststores(&ctx).await.unwrap();
    let partners = after.iter().find(|t| t.name == "partners").unwrap();
    assert_eq!(partners.version, before.version + 1);
    assert_ne!(
        partners.certificates[0].info().sha256,
        before.certificates[0].info().sha256,
        "the new root replaced the old one"
    );
}

async fn a_missing_permission_stops_the_import_before_anything_is_written(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    store
        .add_user(
            &admin,
            NewUser::new("carol").permission(Permission::ManageConnectors),
        )
        .await
        .unwrap();
    let carol = Context::user("carol", "cli");
    let e = store
        .import_config(&carol, &truststores(&["partners"]), false)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");
    assert!(e.to_string().contains("manage_trust"), "{e}");
    assert!(truststore_names(&store).await.is_empty());
}
