//! TLS profiles, connectors and integrations in the store: checked as a keyway.toml
//! would be, passwords sealed, nothing in use removable, and a stored connector that
//! really calls a partner over two-way TLS with basic auth (an in-process hyper server
//! on 127.0.0.1 that requires the client certificate and the password). Each scenario
//! runs on SQLite and PostgreSQL.

use keyway_connect::{CallRequest, Connector, ConnectorEntry, ProfileEntry};
use keyway_keystore::Certificate;
use keyway_store::{
    Backend, Context, NewConnector, NewIntegration, NewKeystore, NewUser, Permission, Save, Store,
    StoreError,
};
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, ServerOptions, TestChain, client_p12};
use zeroize::Zeroizing;

mod common;
use common::{Fixture, raw_pool};

on_both!(
    a_stored_connector_calls_its_partner_with_certificate_and_password,
    definitions_are_checked_and_nothing_in_use_can_be_removed,
);

fn pem(text: &str) -> Certificate {
    keyway_pki::read_certificates(text.as_bytes(), None, "test")
        .unwrap()
        .remove(0)
}

fn rest(url: &str, profile: Option<&str>) -> ConnectorEntry {
    ConnectorEntry {
        kind: "rest".into(),
        url: url.into(),
        profile: profile.map(str::to_string),
        timeout: Some("10s".into()),
        ..ConnectorEntry::default()
    }
}

/// Truststore `partners` (the server's root), keystore `acme` (a client identity the
/// server trusts), profile `partner-tls` using both.
async fn trust_setup(store: &Store, server: &TestChain, client: &TestChain) {
    let admin = Context::local_admin();
    store
        .add_truststore(
            &admin,
            "partners",
            vec![pem(&server.root_pem)],
            "partner-root.pem",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p12 = std::fs::read(client_p12(client, dir.path())).unwrap();
    store
        .add_keystore(
            &admin,
            "acme",
            NewKeystore {
                content: p12,
                format: None,
                password: Zeroizing::new("changeit".into()),
                key_password: None,
                alias: None,
                source: "client.p12".into(),
            },
        )
        .await
        .unwrap();
    let profile = ProfileEntry {
        truststores: vec!["partners".into()],
        keystore: Some("acme".into()),
        lowest_version: Some("TLS 1.2".into()),
        server_name: Some("orders.test".into()),
        ..ProfileEntry::default()
    };
    store
        .save_profile(&admin, "partner-tls", profile, Save::Add)
        .await
        .unwrap();
}

async fn a_stored_connector_calls_its_partner_with_certificate_and_password(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let server_chain = TestChain::new("orders", KeyKind::EcP256);
    let client_chain = TestChain::new("acme-client", KeyKind::EcP256);
    let server = HttpsServer::start(
        &server_chain,
        HttpsOptions {
            tls: ServerOptions {
                client_ca_pem: Some(client_chain.root_pem.clone()),
                ..ServerOptions::default()
            },
            basic_auth: Some(("svc-orders".into(), "s3cret-orders".into())),
        },
    );
    trust_setup(&store, &server_chain, &client_chain).await;
    let connector = NewConnector {
        definition: rest(&format!("{}/auth", server.url()), Some("partner-tls")),
        auth: Some(("svc-orders".into(), Zeroizing::new("s3cret-orders".into()))),
    };
    let saved = store
        .save_connector(&admin, "orders", connector, Save::Add)
        .await
        .unwrap();
    assert_eq!(saved.username.as_deref(), Some("svc-orders"));
    assert!(saved.definition.auth.is_none());
    assert!(!format!("{saved:?}").contains("s3cret"));

    // The password is sealed: not in the database in clear.
    let pool = raw_pool(&fixture.location).await;
    let row: (String, String) = sqlx::query_as("SELECT definition, auth_password FROM connectors")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!row.0.contains("s3cret") && !row.1.contains("s3cret"));

    // From the store to a real call: root trusted, client certificate and password sent.
    let config = store.connector_config(&admin).await.unwrap();
    let def = config.connector("orders").unwrap();
    let connector = Connector::new(&config, def).unwrap_or_else(|e| panic!("{e}"));
    let answer = connector
        .call(CallRequest::get("/ping").with_tls_details())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    // The server requires a client certificate from the client CA: a 200 means the
    // stored keystore's key was presented.
    let tls = answer.tls.expect("TLS details");
    assert!(tls.address.ip().is_loopback(), "{tls:?}");

    // A wrong password stored: the partner answers 401.
    let wrong = NewConnector {
        definition: rest(&format!("{}/auth", server.url()), Some("partner-tls")),
        auth: Some(("svc-orders".into(), Zeroizing::new("wrong".into()))),
    };
    let replaced = store
        .save_connector(&admin, "orders", wrong, Save::Replace(Some(1)))
        .await
        .unwrap();
    assert_eq!(replaced.version, 2);
    let config = store.connector_config(&admin).await.unwrap();
    let connector = Connector::new(&config, config.connector("orders").unwrap()).unwrap();
    let answer = connector.call(CallRequest::get("/ping")).await.unwrap();
    assert_eq!(answer.status, 401);

    // An integration over it; the gateway finds it without an actor.
    store
        .save_integration(
            &admin,
            "orders",
            NewIntegration {
                connector: "orders".into(),
                description: "Orders of partner A".into(),
                require_password: true,
            },
            Save::Add,
        )
        .await
        .unwrap();
    let found = store.find_integration("orders").await.unwrap();
    assert_eq!(found.connector, "orders");
    assert!(found.require_password);
}

async fn definitions_are_checked_and_nothing_in_use_can_be_removed(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let server_chain = TestChain::new("orders", KeyKind::EcP256);
    let client_chain = TestChain::new("acme-client", KeyKind::EcP256);
    trust_setup(&store, &server_chain, &client_chain).await;

    // Checked like a keyway.toml: every problem named with its item and field.
    let bad = ProfileEntry {
        truststores: vec!["nowhere".into()],
        lowest_version: Some("TLS 9".into()),
        ..ProfileEntry::default()
    };
    let e = store
        .save_profile(&admin, "bad", bad, Save::Add)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Config(_)), "{e}");
    let message = e.to_string();
    assert!(
        message.contains("profile \"bad\"")
            && message.contains("nowhere")
            && message.contains("partners")
            && message.contains("TLS 9"),
        "{message}"
    );
    let e = store
        .save_connector(
            &admin,
            "broken",
            NewConnector {
                definition: rest("ftp://partner", Some("missing")),
                auth: None,
            },
            Save::Add,
        )
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("field url") && message.contains("field profile"),
        "{message}"
    );
    store
        .save_connector(
            &admin,
            "orders",
            NewConnector {
                definition: rest("https://127.0.0.1:9/api", Some("partner-tls")),
                auth: None,
            },
            Save::Add,
        )
        .await
        .unwrap();
    let e = store
        .save_integration(
            &admin,
            "orders",
            NewIntegration {
                connector: "nothing".into(),
                description: String::new(),
                require_password: false,
            },
            Save::Add,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no connector \"nothing\""), "{e}");
    store
        .save_integration(
            &admin,
            "orders",
            NewIntegration {
                connector: "orders".into(),
                description: String::new(),
                require_password: false,
            },
            Save::Add,
        )
        .await
        .unwrap();

    // Nothing in use goes: each refusal names the users, and nothing changes.
    let e = store
        .remove_truststore(&admin, "partners", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::InUse { users, .. } if users == "profile partner-tls"),
        "{e}"
    );
    let e = store
        .remove_keystore(&admin, "acme", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("used by profile partner-tls"), "{e}");
    let e = store
        .remove_definition(&admin, "profile", "partner-tls", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("used by connector orders"), "{e}");
    let e = store
        .remove_definition(&admin, "connector", "orders", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("used by integration orders"), "{e}");
    assert_eq!(store.truststores(&admin).await.unwrap().len(), 1);

    // The database enforces it too, whatever keyway checks first.
    let pool = raw_pool(&fixture.location).await;
    if backend == Backend::Sqlite {
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&pool)
            .await
            .unwrap();
    }
    let raw = sqlx::query("DELETE FROM truststores WHERE name = 'partners'")
        .execute(&pool)
        .await;
    assert!(raw.is_err(), "a referenced truststore was deleted");

    // Top down, everything goes; a stale version is a conflict.
    store
        .remove_definition(&admin, "integration", "orders", None)
        .await
        .unwrap();
    let e = store
        .remove_definition(&admin, "connector", "orders", Some(7))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { found: 1, .. }), "{e}");
    store
        .remove_definition(&admin, "connector", "orders", Some(1))
        .await
        .unwrap();
    store
        .remove_definition(&admin, "profile", "partner-tls", None)
        .await
        .unwrap();
    store
        .remove_truststore(&admin, "partners", None)
        .await
        .unwrap();
    store.remove_keystore(&admin, "acme", None).await.unwrap();

    // Who may: manage_connectors, not manage_trust alone.
    store
        .add_user(
            &admin,
            NewUser::new("trusty").permission(Permission::ManageTrust),
        )
        .await
        .unwrap();
    let e = store
        .connectors(&Context::user("trusty", "test"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("manage_connectors"), "{e}");
}
