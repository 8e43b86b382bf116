//! The store's behaviour, each test run on the embedded SQLite database and on a real
//! PostgreSQL server (keyway-testkit starts one).

use keyway_store::{
    AuditOutcome, AuditQuery, Backend, Context, Location, NewUser, Permission, Store, StoreError,
};
use zeroize::Zeroizing;

mod common;
use common::{Fixture, KEY, raw_pool};

on_both!(
    gateway_decisions_are_written_in_one_batch_each_with_its_own_values,
    users_round_trip_with_permissions_and_audit,
    personal_setup_reaches_only_ones_own_account_and_refusals_are_audited,
    stale_versions_conflict_instead_of_overwriting,
    concurrent_writers_lose_nothing,
    passwords_are_hashed_checked_and_never_stored,
    a_wrong_master_key_is_refused,
    a_newer_schema_is_refused,
    the_audit_log_is_append_only,
    the_audit_log_is_pruned_only_before_its_horizon_and_says_so,
    repeated_refusals_count_up_on_one_row,
    bad_input_is_named_and_changes_nothing,
    the_audit_log_is_read_by_actor_action_and_outcome_a_page_at_a_time,
);

fn password(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.to_string())
}

async fn users_round_trip_with_permissions_and_audit(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    assert_eq!(store.backend(), backend);
    let admin = Context::local_admin();
    let added = store
        .add_user(
            &admin,
            NewUser::new("alice")
                .display_name("Alice Example")
                .permission(Permission::Invoke("orders".into()))
                .permission(Permission::ManagePersonalSetup),
        )
        .await
        .unwrap();
    assert_eq!(added.display_name, "Alice Example");
    assert!(added.enabled && !added.has_password);
    assert_eq!(
        added.permissions,
        [
            Permission::ManagePersonalSetup,
            Permission::Invoke("orders".into())
        ]
    );
    store.add_user(&admin, NewUser::new("bob")).await.unwrap();

    let granted = store
        .grant(&admin, "bob", Permission::ManageConnectors, None)
        .await
        .unwrap();
    assert_eq!(granted.permissions, [Permission::ManageConnectors]);
    assert_eq!(granted.version, 2);
    let disabled = store
        .set_enabled(&admin, "bob", false, Some(2))
        .await
        .unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.version, 3);
    let revoked = store
        .revoke_permission(&admin, "bob", Permission::ManageConnectors, None)
        .await
        .unwrap();
    assert!(revoked.permissions.is_empty());

    // A second handle (another process, another node) sees the same.
    store.close().await;
    let again = fixture.open().await;
    let users = again.users(&admin).await.unwrap();
    let names: Vec<_> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(!users[1].enabled);
    assert_eq!(users[1].version, 4);

    let log = again
        .audit_log(&admin, &AuditQuery::default())
        .await
        .unwrap();
    let actions: Vec<_> = log
        .iter()
        .map(|e| (e.action.as_str(), e.object.as_str(), e.outcome))
        .collect();
    assert_eq!(
        actions,
        [
            ("user.add", "user alice", AuditOutcome::Ok),
            ("user.add", "user bob", AuditOutcome::Ok),
            ("user.grant", "user bob", AuditOutcome::Ok),
            ("user.disable", "user bob", AuditOutcome::Ok),
            ("user.revoke_permission", "user bob", AuditOutcome::Ok),
        ]
    );
    assert!(
        log.iter()
            .all(|e| e.actor == "local-admin" && e.origin == "cli")
    );
    assert_eq!(
        log[0].detail,
        "permissions: manage_personal_setup, invoke:orders"
    );
}

async fn personal_setup_reaches_only_ones_own_account_and_refusals_are_audited(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    for (name, permission) in [
        ("alice", Permission::ManagePersonalSetup),
        ("carol", Permission::UserManagement),
    ] {
        store
            .add_user(&admin, NewUser::new(name).permission(permission))
            .await
            .unwrap();
    }
    store.add_user(&admin, NewUser::new("bob")).await.unwrap();
    let alice = Context::user("alice", "api 10.0.0.7");
    let carol = Context::user("carol", "api 10.0.0.8");

    // Her own password: yes. Bob's: no, and nothing changes.
    store
        .set_password(&alice, "alice", &password("correct horse battery"), None)
        .await
        .unwrap();
    let refused = store
        .set_password(&alice, "bob", &password("correct horse battery"), None)
        .await
        .unwrap_err();
    match &refused {
        StoreError::Forbidden { actor, reason, .. } => {
            assert_eq!(actor, "user alice");
            assert!(reason.contains("user_management"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!store.user(&admin, "bob").await.unwrap().has_password);
    // Neither may she grant herself more, list users or read the log.
    assert!(matches!(
        store
            .grant(&alice, "alice", Permission::UserManagement, None)
            .await,
        Err(StoreError::Forbidden { .. })
    ));
    assert!(matches!(
        store.users(&alice).await,
        Err(StoreError::Forbidden { .. })
    ));
    assert!(store.user(&alice, "alice").await.is_ok());
    assert!(matches!(
        store.user(&alice, "bob").await,
        Err(StoreError::Forbidden { .. })
    ));
    // user_management reaches everyone.
    store
        .set_password(&carol, "bob", &password("another long password"), None)
        .await
        .unwrap();
    store
        .set_enabled(&carol, "alice", false, None)
        .await
        .unwrap();
    // A disabled user may do nothing, not even her own setup.
    assert!(matches!(
        store
            .set_password(&alice, "alice", &password("yet another password"), None)
            .await,
        Err(StoreError::Forbidden { reason, .. }) if reason.contains("disabled")
    ));
    // Someone unknown neither.
    assert!(matches!(
        store.users(&Context::user("mallory", "api 10.9.9.9")).await,
        Err(StoreError::Forbidden { reason, .. }) if reason.contains("no such user")
    ));

    let log = store
        .audit_log(&admin, &AuditQuery::default())
        .await
        .unwrap();
    let refusals: Vec<_> = log
        .iter()
        .filter(|e| e.outcome == AuditOutcome::Refused)
        .map(|e| {
            (
                e.actor.as_str(),
                e.action.as_str(),
                e.object.as_str(),
                e.origin.as_str(),
            )
        })
        .collect();
    assert_eq!(
        refusals,
        [
            ("alice", "user.passwd", "user bob", "api 10.0.0.7"),
            ("alice", "user.grant", "user alice", "api 10.0.0.7"),
            ("alice", "user.list", "users", "api 10.0.0.7"),
            ("alice", "user.show", "user bob", "api 10.0.0.7"),
            ("alice", "user.passwd", "user alice", "api 10.0.0.7"),
            ("mallory", "user.list", "users", "api 10.9.9.9"),
        ]
    );
    assert!(log.iter().any(|e| e.actor == "carol"
        && e.action == "user.disable"
        && e.object == "user alice"
        && e.outcome == AuditOutcome::Ok));
}

async fn stale_versions_conflict_instead_of_overwriting(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let other = fixture.open().await;
    let admin = Context::local_admin();
    store.add_user(&admin, NewUser::new("dave")).await.unwrap();
    // Two administrators read version 1; both change it.
    let read_by_first = store.user(&admin, "dave").await.unwrap().version;
    let read_by_second = other.user(&admin, "dave").await.unwrap().version;
    store
        .grant(&admin, "dave", Permission::ManageTrust, Some(read_by_first))
        .await
        .unwrap();
    let lost = other
        .set_enabled(&admin, "dave", false, Some(read_by_second))
        .await
        .unwrap_err();
    match &lost {
        StoreError::Conflict {
            kind,
            name,
            expected,
            found,
        } => {
            assert_eq!(
                (*kind, name.as_str(), *expected, *found),
                ("user", "dave", 1, 2)
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        lost.to_string()
            .contains("user \"dave\" is at version 2, not 1: someone changed it")
    );
    let dave = store.user(&admin, "dave").await.unwrap();
    assert!(dave.enabled, "the losing change must not have been written");
    assert_eq!(dave.permissions, [Permission::ManageTrust]);
    let log = store
        .audit_log(&admin, &AuditQuery::default())
        .await
        .unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.outcome),
        ("user.disable", AuditOutcome::Failed)
    );
}

async fn concurrent_writers_lose_nothing(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = std::sync::Arc::new(fixture.open().await);
    let admin = Context::local_admin();
    store.add_user(&admin, NewUser::new("erin")).await.unwrap();
    // Eight writers grant eight different permissions at once, without an expected
    // version: the database serialises them, so each lands and none is lost.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .grant(
                    &Context::local_admin(),
                    "erin",
                    Permission::Invoke(format!("integration-{i}")),
                    None,
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let erin = store.user(&admin, "erin").await.unwrap();
    assert_eq!(erin.permissions.len(), 8);
    assert_eq!(erin.version, 9);
}

async fn passwords_are_hashed_checked_and_never_stored(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    let secret = "Tr0ub4dor&3-but-longer";
    store
        .add_user(&admin, NewUser::new("frank").password(password(secret)))
        .await
        .unwrap();
    assert!(
        store
            .check_password("frank", &password(secret))
            .await
            .unwrap()
    );
    assert!(
        !store
            .check_password("frank", &password("Tr0ub4dor&3-but-longeR"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .check_password("nobody", &password(secret))
            .await
            .unwrap()
    );
    store
        .set_enabled(&admin, "frank", false, None)
        .await
        .unwrap();
    assert!(
        !store
            .check_password("frank", &password(secret))
            .await
            .unwrap(),
        "disabled"
    );

    let short = store
        .add_user(&admin, NewUser::new("gina").password(password("short")))
        .await
        .unwrap_err();
    assert!(short.to_string().contains("at least 12"), "{short}");
    assert!(!short.to_string().contains("short\""));
    assert!(matches!(
        store.user(&admin, "gina").await,
        Err(StoreError::NotFound { .. })
    ));

    if backend == Backend::Sqlite {
        store.close().await;
        let bytes = std::fs::read(fixture.location.data_dir.join("keyway.db")).unwrap();
        let wal =
            std::fs::read(fixture.location.data_dir.join("keyway.db-wal")).unwrap_or_default();
        for haystack in [&bytes, &wal] {
            assert!(
                !haystack
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "the password is in the database file"
            );
        }
        assert!(
            bytes.windows(9).any(|w| w == b"$argon2id")
                || wal.windows(9).any(|w| w == b"$argon2id")
        );
    }
}

async fn a_wrong_master_key_is_refused(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    store
        .add_user(&Context::local_admin(), NewUser::new("hank"))
        .await
        .unwrap();
    store.close().await;
    let wrong = "ff".repeat(32);
    let e = Store::open(&fixture.location, Some(&wrong))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, StoreError::MasterKey(_)), "{e:?}");
    assert!(text.contains("KEYWAY_MASTER_KEY"), "{text}");
    assert!(!text.contains(&wrong) && !text.contains(KEY), "{text}");
    // Its master.key lost: no new key is left behind in its place.
    if backend == Backend::Sqlite {
        let key_file = fixture.location.data_dir.join("master.key");
        let _ = std::fs::remove_file(&key_file);
        let e = Store::open(&fixture.location, None).await.unwrap_err();
        assert!(matches!(e, StoreError::MasterKey(_)), "{e:?}");
        assert!(!key_file.exists(), "a wrong master.key was left behind");
    }
    // The right key still opens it, with its data.
    let store = fixture.open().await;
    assert!(store.user(&Context::local_admin(), "hank").await.is_ok());
}

async fn a_newer_schema_is_refused(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    store.close().await;
    // What a future keyway would leave behind.
    let raw = raw_pool(&fixture.location).await;
    sqlx::query("INSERT INTO keyway_schema (version, applied_at) VALUES (999, 0)")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    let e = Store::open(&fixture.location, Some(KEY)).await.unwrap_err();
    match &e {
        StoreError::SchemaTooNew {
            found, supported, ..
        } => {
            assert_eq!(*found, 999);
            assert!(*supported >= 1 && *supported < 999);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(e.to_string().contains("newer than this keyway understands"));
}

async fn the_audit_log_is_append_only(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    store
        .add_user(&Context::local_admin(), NewUser::new("ivan"))
        .await
        .unwrap();
    let raw = raw_pool(&fixture.location).await;
    for statement in [
        "UPDATE audit_log SET actor = 'nobody'",
        "UPDATE audit_log SET count = 0",
        "UPDATE audit_log SET detail = 'rewritten', count = count + 1",
        "DELETE FROM audit_log",
    ] {
        let e = sqlx::query(statement).execute(&raw).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{statement}: {e}");
    }
    raw.close().await;
    let log = store
        .audit_log(&Context::local_admin(), &AuditQuery::default())
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor, "local-admin");
}

async fn bad_input_is_named_and_changes_nothing(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    store.add_user(&admin, NewUser::new("judy")).await.unwrap();
    let cases = [
        (
            store
                .add_user(&admin, NewUser::new("judy"))
                .await
                .unwrap_err(),
            "user \"judy\" exists already",
        ),
        (
            store
                .add_user(&admin, NewUser::new("a b"))
                .await
                .unwrap_err(),
            "user name \"a b\": contains ' '",
        ),
        (
            store
                .add_user(&admin, NewUser::new("kim").display_name("\u{7}"))
                .await
                .unwrap_err(),
            "display name",
        ),
        (
            store
                .set_enabled(&admin, "nobody", false, None)
                .await
                .unwrap_err(),
            "no user \"nobody\": `keyway user list` shows the users",
        ),
        (
            store
                .revoke_permission(&admin, "judy", Permission::ManageTrust, None)
                .await
                .unwrap_err(),
            "user judy does not hold it",
        ),
    ];
    for (error, expected) in &cases {
        assert!(error.to_string().contains(expected), "{error} / {expected}");
    }
    let users = store.users(&admin).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].version, 1);
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_at_once_without_its_password() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut location = Location::data_dir(dir.path().join("data"));
    location.database_url = Some(format!(
        "postgres://keyway:s3cret-pw@127.0.0.1:{port}/keyway"
    ));
    let e = Store::open(&location, None).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{text}");
    assert!(
        text.contains("refused"),
        "the cause, not a pool timeout: {text}"
    );
    assert!(text.contains("check that PostgreSQL runs there"), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    // The master key made for it is not left behind looking like the right one.
    assert!(!location.data_dir.join("master.key").exists());
}

async fn gateway_decisions_are_written_in_one_batch_each_with_its_own_values(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    // More rows than one statement takes, so the batch spans statements of every size
    // (1207 = 2 × 512 + 2 × 64 + 3 × 16 + 4 + 3 × 1).
    let records: Vec<keyway_store::GatewayRecord> = (0..1207)
        .map(|i| keyway_store::GatewayRecord {
            user: (i % 2 == 0).then(|| format!("user{i}")),
            origin: format!("gateway 10.0.0.{}", i % 250),
            action: "gateway.invoke".into(),
            object: format!("integration n{i}"),
            outcome: if i % 3 == 0 {
                AuditOutcome::Refused
            } else {
                AuditOutcome::Ok
            },
            detail: format!("detail {i}"),
            repeat_key: None,
        })
        .collect();
    store.record_gateway(&records).await.unwrap();
    let everything = AuditQuery {
        limit: Some(10_000),
        ..AuditQuery::default()
    };
    let logged: Vec<_> = store
        .audit_log(&Context::local_admin(), &everything)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "gateway.invoke")
        .collect();
    assert_eq!(logged.len(), records.len());
    let by_object: std::collections::HashMap<&str, _> =
        logged.iter().map(|e| (e.object.as_str(), e)).collect();
    for i in 0..records.len() {
        let entry = by_object
            .get(format!("integration n{i}").as_str())
            .unwrap_or_else(|| panic!("record {i} missing"));
        assert_eq!(entry.detail, format!("detail {i}"));
        let actor = if i % 2 == 0 {
            format!("user{i}")
        } else {
            "(unknown)".into()
        };
        assert_eq!(entry.actor, actor, "record {i}");
        let outcome = if i % 3 == 0 {
            AuditOutcome::Refused
        } else {
            AuditOutcome::Ok
        };
        assert_eq!(entry.outcome, outcome, "record {i}");
    }
}

async fn the_audit_log_is_pruned_only_before_its_horizon_and_says_so(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    store.add_user(&admin, NewUser::new("old")).await.unwrap();
    // An entry from ten days ago, written as the database allows: an insert.
    let raw = raw_pool(&fixture.location).await;
    let ten_days_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 10 * 86_400;
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, object, origin, outcome, detail)
         VALUES ($1, 'local-admin', 'user.add', 'user ancient', 'cli', 'ok', '')",
    )
    .bind(ten_days_ago)
    .execute(&raw)
    .await
    .unwrap();
    // Only user_management may prune, and a date in the future is refused.
    store
        .add_user(
            &admin,
            NewUser::new("mallory").permission(Permission::ManagePersonalSetup),
        )
        .await
        .unwrap();
    let mallory = Context::user("mallory", "cli");
    assert!(matches!(
        store.prune_audit(&mallory, ten_days_ago + 1).await,
        Err(StoreError::Forbidden { .. })
    ));
    let future = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let e = store.prune_audit(&admin, future).await.unwrap_err();
    assert!(e.to_string().contains("future"), "{e}");

    let removed = store.prune_audit(&admin, ten_days_ago + 1).await.unwrap();
    assert_eq!(removed, 1);
    let log = store
        .audit_log(&admin, &AuditQuery::default())
        .await
        .unwrap();
    assert!(!log.iter().any(|e| e.object == "user ancient"));
    let prune = log
        .iter()
        .find(|e| e.action == "audit.prune" && e.outcome == AuditOutcome::Ok)
        .unwrap();
    assert!(
        prune.detail.starts_with("1 entry written before"),
        "{}",
        prune.detail
    );
    // Entries after the horizon still cannot be removed, and the horizon never goes back.
    let e = sqlx::query("DELETE FROM audit_log")
        .execute(&raw)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = sqlx::query("UPDATE audit_horizon SET before = 0")
        .execute(&raw)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("only moves forward"), "{e}");
    // The retention rules: by age, then by count.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (object, at) in [("three days", now - 3 * 86_400), ("one day", now - 86_400)] {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, object, origin, outcome, detail)
             VALUES ($1, 'local-admin', 'user.add', $2, 'cli', 'ok', '')",
        )
        .bind(at)
        .bind(object)
        .execute(&raw)
        .await
        .unwrap();
    }
    raw.close().await;
    let objects = || async {
        store
            .audit_log(&admin, &AuditQuery::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.object)
            .collect::<Vec<_>>()
    };
    let keep = |keep_days, max_rows| keyway_store::Retention {
        keep_days,
        max_rows,
    };
    assert_eq!(
        store
            .apply_retention(&admin, keep(Some(5), None))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .apply_retention(&admin, keep(Some(2), None))
            .await
            .unwrap(),
        1
    );
    assert!(!objects().await.contains(&"three days".to_string()));
    let count = objects().await.len() as u64;
    // One fewer than there are: the oldest goes ("one day"); the pruning adds its entry.
    assert_eq!(
        store
            .apply_retention(&admin, keep(None, Some(count - 1)))
            .await
            .unwrap(),
        1
    );
    let left = objects().await;
    assert!(!left.contains(&"one day".to_string()), "{left:?}");
    assert!(left.contains(&"user old".to_string()), "{left:?}");
}

async fn repeated_refusals_count_up_on_one_row(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let refusal = |key: &str, detail: &str| keyway_store::GatewayRecord {
        user: None,
        origin: "gateway 10.0.0.9".into(),
        action: "gateway.invoke".into(),
        object: "integration (unknown)".into(),
        outcome: AuditOutcome::Refused,
        detail: detail.into(),
        repeat_key: Some(key.into()),
    };
    store
        .record_gateway(&[refusal("AB 404", "first"), refusal("AB 404", "second")])
        .await
        .unwrap();
    for _ in 0..3 {
        store
            .record_gateway(&[refusal("AB 404", "again"), refusal("CD 403", "other cert")])
            .await
            .unwrap();
    }
    let log = store
        .audit_log(&Context::local_admin(), &AuditQuery::default())
        .await
        .unwrap();
    let rows: Vec<(&str, i64)> = log
        .iter()
        .filter(|e| e.action == "gateway.invoke")
        .map(|e| (e.detail.as_str(), e.count))
        .collect();
    assert_eq!(rows, [("first", 5), ("other cert", 3)]);
    assert!(log.iter().all(|e| e.count == 1 || e.last_at.is_some()));
}

async fn the_audit_log_is_read_by_actor_action_and_outcome_a_page_at_a_time(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    let admin = Context::local_admin();
    store
        .add_user(
            &admin,
            NewUser::new("alice").permission(Permission::ManagePersonalSetup),
        )
        .await
        .unwrap();
    for name in ["u1", "u2", "u3"] {
        store.add_user(&admin, NewUser::new(name)).await.unwrap();
    }
    // Alice is refused twice; the percent sign in a prefix is no wildcard.
    let alice = Context::user("alice", "api 10.0.0.7");
    assert!(store.users(&alice).await.is_err());
    assert!(store.set_enabled(&alice, "u1", false, None).await.is_err());
    let read = |query: AuditQuery| {
        let store = &store;
        let admin = &admin;
        async move { store.audit_log(admin, &query).await.unwrap() }
    };
    let refused = read(AuditQuery {
        actor: Some("alice".into()),
        outcome: Some(AuditOutcome::Refused),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|e| e.origin == "api 10.0.0.7"));
    let adds = read(AuditQuery {
        action: Some("user.add".into()),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(adds.len(), 4);
    let user_actions = read(AuditQuery {
        action: Some("user.".into()),
        ..AuditQuery::default()
    })
    .await;
    assert!(user_actions.len() >= 5, "{user_actions:?}");
    assert!(user_actions.iter().all(|e| e.action.starts_with("user.")));
    let none = read(AuditQuery {
        action: Some("%.".into()),
        ..AuditQuery::default()
    })
    .await;
    assert!(none.is_empty(), "{none:?}");
    // Pages of two, oldest first within a page, going back by id until nothing is left.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = read(AuditQuery {
            action: Some("user.add".into()),
            limit: Some(2),
            before_id: before,
            ..AuditQuery::default()
        })
        .await;
        let Some(oldest) = page.first() else { break };
        before = Some(oldest.id);
        assert!(page.windows(2).all(|w| w[0].id < w[1].id));
        pages.push(page.iter().map(|e| e.object.clone()).collect::<Vec<_>>());
    }
    assert_eq!(
        pages,
        vec![vec!["user u2", "user u3"], vec!["user alice", "user u1"]]
    );
}
