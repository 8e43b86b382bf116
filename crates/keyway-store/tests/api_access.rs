//! Login sessions and API tokens (`Store::login`, `session`, `logout`, `create_token`,
//! `token_user`, …): secrets kept only as digests, sessions end when idle, past their end
//! or when the user is disabled, tokens carry their user's permissions and stop at
//! revocation or expiry; every login, refusal and token change is audited. On SQLite and
//! PostgreSQL.

use keyway_store::{
    AuditQuery, Backend, Context, NewUser, Permission, SessionPolicy, Store, StoreError,
    TOKEN_PREFIX,
};
use zeroize::Zeroizing;

mod common;
use common::{Fixture, raw_pool};

on_both!(
    a_login_opens_a_session_that_ends_at_logout,
    a_wrong_password_opens_nothing_and_is_audited,
    sessions_end_when_idle_and_when_the_user_is_disabled,
    tokens_act_as_their_user_until_revoked_or_expired,
    only_user_management_reaches_another_users_tokens,
    sessions_nobody_returns_to_are_removed_at_the_next_login,
);

fn pw(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_string())
}

async fn with_user(store: &Store, name: &str, permissions: &[Permission]) {
    let mut user = NewUser::new(name).password(pw("correct horse battery"));
    for p in permissions {
        user = user.permission(p.clone());
    }
    store.add_user(&Context::local_admin(), user).await.unwrap();
}

async fn a_login_opens_a_session_that_ends_at_logout(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    with_user(&store, "alice", &[Permission::ManagePersonalSetup]).await;
    let policy = SessionPolicy::default();
    let opened = store
        .login(
            "alice",
            &pw("correct horse battery"),
            "api 127.0.0.1",
            policy,
        )
        .await
        .unwrap()
        .expect("the right password opens a session");
    assert_eq!(opened.session.user, "alice");
    assert!(opened.secret.len() >= 64);
    assert_ne!(opened.secret.as_str(), opened.session.csrf_token);
    let found = store
        .session(&opened.secret, policy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, "alice");
    assert_eq!(found.csrf_token, opened.session.csrf_token);
    // Not the secret itself: a guess of another value finds nothing.
    assert!(
        store
            .session("0".repeat(64).as_str(), policy)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.logout(&opened.secret, "api 127.0.0.1").await.unwrap());
    assert!(
        store
            .session(&opened.secret, policy)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.logout(&opened.secret, "api 127.0.0.1").await.unwrap());
}

async fn a_wrong_password_opens_nothing_and_is_audited(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    with_user(&store, "alice", &[]).await;
    let policy = SessionPolicy::default();
    for (user, password) in [("alice", "wrong"), ("nobody", "correct horse battery")] {
        let opened = store
            .login(user, &pw(password), "api 10.0.0.7", policy)
            .await;
        assert!(opened.unwrap().is_none(), "{user}");
    }
    let log = store
        .audit_log(&Context::local_admin(), &AuditQuery::default())
        .await
        .unwrap();
    let refused: Vec<_> = log.iter().filter(|e| e.action == "api.login").collect();
    assert_eq!(refused.len(), 2, "{log:?}");
    assert!(refused.iter().all(|e| e.origin == "api 10.0.0.7"));
    // The password given is nowhere in the log.
    let text = format!("{log:?}");
    assert!(!text.contains("correct horse"), "{text}");
}

async fn sessions_end_when_idle_and_when_the_user_is_disabled(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    with_user(&store, "alice", &[]).await;
    // An idle limit already passed: the next request finds the session over.
    let short = SessionPolicy {
        idle: 0,
        absolute: 3600,
    };
    let opened = store
        .login("alice", &pw("correct horse battery"), "api", short)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .session(&opened.secret, short)
            .await
            .unwrap()
            .is_none()
    );
    // A disabled user loses the sessions they have at once.
    let policy = SessionPolicy::default();
    let opened = store
        .login("alice", &pw("correct horse battery"), "api", policy)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .session(&opened.secret, policy)
            .await
            .unwrap()
            .is_some()
    );
    let admin = Context::local_admin();
    store
        .set_enabled(&admin, "alice", false, None)
        .await
        .unwrap();
    assert!(
        store
            .session(&opened.secret, policy)
            .await
            .unwrap()
            .is_none()
    );
    store
        .set_enabled(&admin, "alice", true, None)
        .await
        .unwrap();
    assert!(
        store
            .session(&opened.secret, policy)
            .await
            .unwrap()
            .is_none(),
        "enabling the user again does not reopen the session"
    );
    // And a disabled user cannot log in.
    store
        .set_enabled(&admin, "alice", false, None)
        .await
        .unwrap();
    let refused = store
        .login("alice", &pw("correct horse battery"), "api", policy)
        .await
        .unwrap();
    assert!(refused.is_none());
}

async fn tokens_act_as_their_user_until_revoked_or_expired(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    with_user(&store, "ci", &[Permission::ManageConnectors]).await;
    let ci = Context::user("ci", "api");
    let made = store.create_token(&ci, "ci", "deploy", None).await.unwrap();
    assert!(made.secret.starts_with(TOKEN_PREFIX));
    assert_eq!(
        store
            .token_user(&made.secret, "api 10.0.0.9")
            .await
            .unwrap()
            .as_deref(),
        Some("ci")
    );
    let listed = store.tokens(&ci, "ci").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "deploy");
    assert_eq!(listed[0].last_origin.as_deref(), Some("api 10.0.0.9"));
    assert!(listed[0].last_used_at.is_some());
    // The listing never holds the secret.
    let json = serde_json::to_string(&listed).unwrap();
    assert!(!json.contains(made.secret.as_str()), "{json}");
    // A name is one token per user.
    let again = store.create_token(&ci, "ci", "deploy", None).await;
    assert!(
        matches!(again, Err(StoreError::Duplicate { .. })),
        "{again:?}"
    );
    // An expiry in the past is refused; an unknown token finds nobody.
    let past = store.create_token(&ci, "ci", "old", Some(1)).await;
    assert!(
        matches!(
            past,
            Err(StoreError::Invalid {
                field: "expires",
                ..
            })
        ),
        "{past:?}"
    );
    assert!(store.token_user("kwt_0000", "api").await.unwrap().is_none());
    assert!(
        store
            .token_user("not-a-token", "api")
            .await
            .unwrap()
            .is_none()
    );
    // A disabled user's tokens stop working, and work again when enabled.
    let admin = Context::local_admin();
    store.set_enabled(&admin, "ci", false, None).await.unwrap();
    assert!(
        store
            .token_user(&made.secret, "api")
            .await
            .unwrap()
            .is_none()
    );
    store.set_enabled(&admin, "ci", true, None).await.unwrap();
    assert!(
        store
            .token_user(&made.secret, "api")
            .await
            .unwrap()
            .is_some()
    );
    // Revoked: at once.
    store.revoke_token(&ci, "ci", "deploy").await.unwrap();
    assert!(
        store
            .token_user(&made.secret, "api")
            .await
            .unwrap()
            .is_none()
    );
    let gone = store.revoke_token(&ci, "ci", "deploy").await;
    assert!(
        matches!(gone, Err(StoreError::NotFound { kind: "token", .. })),
        "{gone:?}"
    );
    let actions: Vec<String> = store
        .audit_log(&admin, &AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"token.create".to_string()), "{actions:?}");
    assert!(actions.contains(&"token.revoke".to_string()), "{actions:?}");
}

async fn only_user_management_reaches_another_users_tokens(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    with_user(&store, "alice", &[Permission::ManagePersonalSetup]).await;
    with_user(&store, "bob", &[]).await;
    with_user(&store, "root", &[Permission::UserManagement]).await;
    let alice = Context::user("alice", "api");
    let made = store
        .create_token(&alice, "alice", "laptop", None)
        .await
        .unwrap();
    // Bob holds no permission at all and still manages his own tokens.
    let bob = Context::user("bob", "api");
    store
        .create_token(&bob, "bob", "script", None)
        .await
        .unwrap();
    for refused in [
        store.tokens(&bob, "alice").await.map(|_| ()),
        store.revoke_token(&bob, "alice", "laptop").await,
        store
            .create_token(&bob, "alice", "mine", None)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(refused, Err(StoreError::Forbidden { .. })),
            "{refused:?}"
        );
    }
    assert!(
        store
            .token_user(&made.secret, "api")
            .await
            .unwrap()
            .is_some()
    );
    // user_management reaches everyone's.
    let root = Context::user("root", "api");
    assert_eq!(store.tokens(&root, "alice").await.unwrap().len(), 1);
    store.revoke_token(&root, "alice", "laptop").await.unwrap();
    assert!(
        store
            .token_user(&made.secret, "api")
            .await
            .unwrap()
            .is_none()
    );
}

async fn sessions_nobody_returns_to_are_removed_at_the_next_login(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = fixture.open().await;
    with_user(&store, "alice", &[]).await;
    // Three sessions already idle for longer than allowed, never looked up again.
    let idle = SessionPolicy {
        idle: 0,
        absolute: 3600,
    };
    for _ in 0..3 {
        let opened = store
            .login(
                "alice",
                &pw("correct horse battery"),
                "api",
                SessionPolicy::default(),
            )
            .await
            .unwrap();
        assert!(opened.is_some());
    }
    let count = |pool: sqlx::AnyPool| async move {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        n
    };
    assert_eq!(count(raw_pool(&fixture.location).await).await, 3);
    // The next login under a policy they have outlived removes them.
    store
        .login("alice", &pw("correct horse battery"), "api", idle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count(raw_pool(&fixture.location).await).await, 1);
}
