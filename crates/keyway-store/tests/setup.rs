//! The first run (`Store::initialize`, what `keyway init` and a first `keyway serve` do):
//! keyway's CA and `DATA/ca.pem`, the first administrator with every permission and a
//! password shown once; run again, nothing is made twice. On SQLite and PostgreSQL.

use keyway_pki::parse_subject;
use keyway_store::{Backend, CA_FILE, CaState, Context, Permission, Setup};

mod common;
use common::Fixture;

on_both!(the_first_run_makes_the_ca_and_the_administrator_once);

async fn the_first_run_makes_the_ca_and_the_administrator_once(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let ctx = Context::local_admin();
    let setup = Setup {
        data_dir: fixture.location.data_dir.clone(),
        admin: "ops".into(),
        ca_subject: parse_subject("CN=acme keyway CA").unwrap(),
        ca_with_intermediate: true,
    };
    let first = store.initialize(&ctx, &setup).await.unwrap();
    assert_eq!(first.ca_state, CaState::Created);
    assert_eq!(first.ca.root.info().subject, "CN=acme keyway CA");
    assert!(first.ca.intermediate.is_some(), "asked for an intermediate");
    assert_eq!(first.ca_file, setup.data_dir.join(CA_FILE));
    let pem = std::fs::read_to_string(&first.ca_file).unwrap();
    assert_eq!(
        pem.matches("BEGIN CERTIFICATE").count(),
        2,
        "issuing CA, then root"
    );
    let password = first
        .admin_password
        .clone()
        .expect("a new administrator's password");
    assert!(password.len() >= 20);
    let ops = store.user(&ctx, "ops").await.unwrap();
    for permission in Permission::FIXED {
        assert!(ops.permissions.contains(&permission), "{permission}");
    }
    assert!(ops.has_password);

    // Again: the CA and the administrator are kept; no password is shown again.
    std::fs::remove_file(&first.ca_file).unwrap();
    let again = store.initialize(&ctx, &setup).await.unwrap();
    assert_eq!(again.ca_state, CaState::AlreadyThere);
    assert_eq!(again.ca.root.info().sha256, first.ca.root.info().sha256);
    assert!(again.admin_password.is_none());
    assert!(
        again.ca_file.exists(),
        "ca.pem is written again when missing"
    );
}
