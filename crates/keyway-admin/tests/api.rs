//! The admin API through `app(state)` without a socket (axum's `oneshot`): sign-in,
//! sessions and CSRF, API tokens, the store's permissions seen through each endpoint
//! (allowed, refused), ETag / If-Match, RFC 9457 problems, Test connectivity against a
//! real HTTPS server on 127.0.0.1, and the committed OpenAPI document.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use keyway_admin::{AdminState, CSRF_HEADER, app};
use keyway_store::{ConfigImport, Context, Location, NewUser, Permission, Store};
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, TestChain};
use serde_json::{Value, json};
use tower::ServiceExt;
use zeroize::Zeroizing;

const PASSWORD: &str = "correct horse battery";

struct Api {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    state: AdminState,
}

impl Api {
    /// A fresh store with users `root` (user_management), `alice`
    /// (manage_personal_setup), `ops` (manage_connectors) and `nobody` (no permission).
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(&Location::data_dir(dir.path().join("data")), None)
                .await
                .unwrap(),
        );
        let admin = Context::local_admin();
        for (name, permission) in [
            ("root", Some(Permission::UserManagement)),
            ("alice", Some(Permission::ManagePersonalSetup)),
            ("ops", Some(Permission::ManageConnectors)),
            ("nobody", None),
        ] {
            let mut user = NewUser::new(name).password(Zeroizing::new(PASSWORD.into()));
            if let Some(p) = permission {
                user = user.permission(p);
            }
            store.add_user(&admin, user).await.unwrap();
        }
        let state = AdminState::new(store.clone(), false);
        Api {
            _dir: dir,
            store,
            state,
        }
    }

    async fn send(&self, request: Request<Body>) -> Response {
        app(self.state.clone()).oneshot(request).await.unwrap()
    }

    /// Signs `user` in: the cookie header value and the CSRF token.
    async fn login(&self, user: &str) -> (String, String) {
        let response = self
            .send(post_json(
                "/api/v1/login",
                json!({"user": user, "password": PASSWORD}),
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        let value = cookie.split(';').next().unwrap().to_string();
        let body = body(response).await;
        (value, body["csrf_token"].as_str().unwrap().to_string())
    }

    /// A token for `user`, made by the local administrator.
    async fn token(&self, user: &str) -> String {
        let made = self
            .store
            .create_token(&Context::local_admin(), user, "test", None)
            .await
            .unwrap();
        made.secret.to_string()
    }
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn with_bearer(method: Method, uri: &str, token: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    match body {
        Some(b) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}

async fn body(response: Response) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// Checks `response` is an RFC 9457 problem of `kind` with `status`; gives its body.
async fn problem(response: Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let body = body(response).await;
    assert_eq!(body["type"], format!("urn:keyway:problem:{kind}"), "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

#[tokio::test]
async fn a_session_reads_freely_but_changes_only_with_its_csrf_token() {
    let api = Api::new().await;
    let (cookie, csrf) = api.login("root").await;
    let get = |uri: &str| {
        Request::builder()
            .uri(uri)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap()
    };
    let me = api.send(get("/api/v1/me")).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert!(me.headers().contains_key(header::ETAG));
    let me = body(me).await;
    keyway_testkit::assert_json_kind("user", &me);
    assert_eq!(me["name"], "root");
    // A change with the cookie alone is refused: another site could have sent it.
    let add = |csrf: Option<&str>| {
        let mut request = post_json("/api/v1/users", json!({"name": "carol"}));
        request
            .headers_mut()
            .insert(header::COOKIE, cookie.parse().unwrap());
        if let Some(token) = csrf {
            request
                .headers_mut()
                .insert(CSRF_HEADER, token.parse().unwrap());
        }
        request
    };
    problem(api.send(add(None)).await, StatusCode::FORBIDDEN, "csrf").await;
    problem(
        api.send(add(Some("wrong"))).await,
        StatusCode::FORBIDDEN,
        "csrf",
    )
    .await;
    let added = api.send(add(Some(&csrf))).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    assert_eq!(added.headers()[header::LOCATION], "/api/v1/users/carol");
    // Signing out ends the session: the same cookie is refused afterwards.
    let mut logout = post_json("/api/v1/logout", json!({}));
    logout
        .headers_mut()
        .insert(header::COOKIE, cookie.parse().unwrap());
    logout
        .headers_mut()
        .insert(CSRF_HEADER, csrf.parse().unwrap());
    let out = api.send(logout).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    problem(
        api.send(get("/api/v1/me")).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn failed_sign_ins_are_refused_alike_then_slowed_down() {
    let api = Api::new().await;
    for (user, password) in [("root", "wrong"), ("ghost", PASSWORD), ("root", "")] {
        let response = api
            .send(post_json(
                "/api/v1/login",
                json!({"user": user, "password": password}),
            ))
            .await;
        assert!(!response.headers().contains_key(header::SET_COOKIE));
        let body = problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        assert!(!body.to_string().contains(PASSWORD));
    }
    // The third failure for root starts a wait; even the right password waits.
    let response = api
        .send(post_json(
            "/api/v1/login",
            json!({"user": "root", "password": PASSWORD}),
        ))
        .await;
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    problem(response, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    // Every attempt is in the audit log with its outcome.
    let log = api
        .store
        .audit_log(&Context::local_admin(), &Default::default())
        .await
        .unwrap();
    let logins = log.iter().filter(|e| e.action == "api.login").count();
    assert_eq!(logins, 3, "{log:?}");
}

#[tokio::test]
async fn a_token_acts_as_its_user_with_no_more_than_their_permissions() {
    let api = Api::new().await;
    let ops = api.token("ops").await;
    let listed = api
        .send(with_bearer(Method::GET, "/api/v1/connectors", &ops, None))
        .await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(body(listed).await, json!([]));
    // ops may not manage users: the store says so, the API passes it on.
    let refused = api
        .send(with_bearer(Method::GET, "/api/v1/users", &ops, None))
        .await;
    let body = problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(
        body["detail"].as_str().unwrap().contains("user_management"),
        "{body}"
    );
    // No cookie is needed, and no CSRF token: a bearer token is not sent by browsers.
    let made = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/users/ops/tokens",
            &ops,
            Some(json!({"name": "deploy", "expires_in_days": 90})),
        ))
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made = self::body(made).await;
    keyway_testkit::assert_json_kind("token-created", &made);
    let deploy = made["secret"].as_str().unwrap().to_string();
    assert!(deploy.starts_with("kwt_"));
    assert_eq!(made["token"]["name"], "deploy");
    // The list shows the tokens, never a secret.
    let list = api
        .send(with_bearer(
            Method::GET,
            "/api/v1/users/ops/tokens",
            &deploy,
            None,
        ))
        .await;
    let list = self::body(list).await;
    keyway_testkit::assert_json_kind("token-list", &list);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert!(!list.to_string().contains(&deploy));
    assert!(!list.to_string().contains(&ops));
    // Revoked: refused at once.
    let revoked = api
        .send(with_bearer(
            Method::DELETE,
            "/api/v1/users/ops/tokens/deploy",
            &ops,
            None,
        ))
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let after = api
        .send(with_bearer(
            Method::GET,
            "/api/v1/connectors",
            &deploy,
            None,
        ))
        .await;
    problem(after, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // A malformed Authorization header is not taken for a missing one.
    let request = Request::builder()
        .uri("/api/v1/me")
        .header(header::AUTHORIZATION, "Basic cm9vdDpwdw==")
        .body(Body::empty())
        .unwrap();
    let response = api.send(request).await;
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"keyway\""
    );
    problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn each_endpoint_is_allowed_or_refused_as_the_store_decides() {
    let api = Api::new().await;
    let tokens = [
        ("root", api.token("root").await),
        ("alice", api.token("alice").await),
        ("ops", api.token("ops").await),
        ("nobody", api.token("nobody").await),
    ];
    // (path, who may, what the others get): another user's account is invisible (404,
    // as for a user that does not exist, so names do not leak); the rest is 403.
    let hidden = StatusCode::NOT_FOUND;
    let refused = StatusCode::FORBIDDEN;
    let cases: &[(&str, &[&str], StatusCode)] = &[
        ("/api/v1/users", &["root"], refused),
        ("/api/v1/users/alice", &["root", "alice"], hidden),
        (
            "/api/v1/users/alice/certificates",
            &["root", "alice"],
            hidden,
        ),
        ("/api/v1/users/alice/tokens", &["root", "alice"], hidden),
        ("/api/v1/users/ghost/tokens", &[], hidden),
        ("/api/v1/truststores", &["ops"], refused),
        ("/api/v1/identities", &["ops"], refused),
        ("/api/v1/connectors", &["ops"], refused),
        ("/api/v1/audit-log", &["root"], refused),
    ];
    for (path, allowed, others) in cases {
        for (user, token) in &tokens {
            let response = api.send(with_bearer(Method::GET, path, token, None)).await;
            if allowed.contains(user) {
                assert_eq!(response.status(), StatusCode::OK, "{user} GET {path}");
            } else if *path == "/api/v1/users/ghost/tokens" && *user == "root" {
                problem(response, StatusCode::NOT_FOUND, "not-found").await;
            } else {
                let kind = if *others == hidden {
                    "not-found"
                } else {
                    "forbidden"
                };
                let body = problem(response, *others, kind).await;
                if *others == hidden {
                    assert!(
                        !body.to_string().contains("user_management"),
                        "{user} GET {path}: {body}"
                    );
                }
            }
        }
        // And nobody unauthenticated.
        let anonymous = Request::builder().uri(*path).body(Body::empty()).unwrap();
        problem(
            api.send(anonymous).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    // Every refusal is audited by the store, with the API as the origin.
    let log = api
        .store
        .audit_log(&Context::local_admin(), &Default::default())
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|e| e.outcome == keyway_store::AuditOutcome::Refused && e.origin == "api"),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_stale_if_match_changes_nothing_and_bad_requests_are_named() {
    let api = Api::new().await;
    let root = api.token("root").await;
    let show = api
        .send(with_bearer(
            Method::GET,
            "/api/v1/users/nobody",
            &root,
            None,
        ))
        .await;
    let etag = show.headers()[header::ETAG].to_str().unwrap().to_string();
    let mut disable = with_bearer(
        Method::PATCH,
        "/api/v1/users/nobody",
        &root,
        Some(json!({"enabled": false})),
    );
    disable
        .headers_mut()
        .insert(header::IF_MATCH, "\"99\"".parse().unwrap());
    problem(
        api.send(disable).await,
        StatusCode::PRECONDITION_FAILED,
        "changed",
    )
    .await;
    let still = api
        .store
        .user(&Context::local_admin(), "nobody")
        .await
        .unwrap();
    assert!(still.enabled, "a refused change changes nothing");
    let mut disable = with_bearer(
        Method::PATCH,
        "/api/v1/users/nobody",
        &root,
        Some(json!({"enabled": false})),
    );
    disable
        .headers_mut()
        .insert(header::IF_MATCH, etag.parse().unwrap());
    let changed = api.send(disable).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(body(changed).await["enabled"], false);
    // A bad permission names the field; an unknown path and a too-large body are problems.
    let grant = with_bearer(
        Method::PUT,
        "/api/v1/users/nobody/permissions/everything",
        &root,
        None,
    );
    let body = problem(
        api.send(grant).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    assert_eq!(body["field"], "permission");
    let weak = with_bearer(
        Method::POST,
        "/api/v1/users",
        &root,
        Some(json!({"name": "dave", "password": "short"})),
    );
    let body = problem(
        api.send(weak).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak-password",
    )
    .await;
    assert!(!body.to_string().contains("\"short\""), "{body}");
    problem(
        api.send(with_bearer(Method::GET, "/api/v1/nothing", &root, None))
            .await,
        StatusCode::NOT_FOUND,
        "no-route",
    )
    .await;
    let huge = "x".repeat(keyway_admin::MAX_BODY + 1);
    let big = with_bearer(
        Method::POST,
        "/api/v1/users",
        &root,
        Some(json!({"name": huge})),
    );
    problem(
        api.send(big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
    )
    .await;
    let audit = with_bearer(
        Method::GET,
        "/api/v1/audit-log?since=yesterday",
        &root,
        None,
    );
    let body = problem(
        api.send(audit).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    assert_eq!(body["field"], "since");
}

/// A partner on 127.0.0.1 and, imported into the store, connector `orders` (trusting it,
/// tagged `payments`) and connector `billing` (trusting another CA).
async fn partners(api: &Api) -> (HttpsServer, tempfile::TempDir) {
    let chain = TestChain::new("partner", KeyKind::EcP256);
    let other = TestChain::new("stranger", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, HttpsOptions::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("partner.pem"), &chain.root_pem).unwrap();
    std::fs::write(dir.path().join("stranger.pem"), &other.root_pem).unwrap();
    let toml = format!(
        r#"
[truststores.partner]
path = "partner.pem"
[truststores.stranger]
path = "stranger.pem"

[profiles.good]
truststores = ["partner"]
server_name = "partner.test"
[profiles.bad]
truststores = ["stranger"]
server_name = "partner.test"

[connectors.orders]
kind = "rest"
url = "{url}/api"
profile = "good"
tags = ["payments"]
[connectors.billing]
kind = "rest"
url = "{url}/api"
profile = "bad"
"#,
        url = server.url()
    );
    let path = dir.path().join("keyway.toml");
    std::fs::write(&path, toml).unwrap();
    let config = keyway_connect::Config::load(&path).unwrap();
    let import = ConfigImport::read(&config).unwrap();
    api.store
        .import_config(&Context::local_admin(), &import, false)
        .await
        .unwrap();
    (server, dir)
}

#[tokio::test]
async fn test_connectivity_gives_what_the_cli_prints_pass_or_diagnosis() {
    let api = Api::new().await;
    let (server, _dir) = partners(&api).await;
    let ops = api.token("ops").await;
    let passed = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/connectors/orders/test",
            &ops,
            None,
        ))
        .await;
    assert_eq!(passed.status(), StatusCode::OK);
    let passed = body(passed).await;
    assert_eq!(passed["ok"], true, "{passed}");
    keyway_testkit::assert_json_kind("connector-test", &passed);
    // A failed test is a result: 200 with the diagnosis, as `keyway connector test --json`.
    let failed = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/connectors/billing/test",
            &ops,
            None,
        ))
        .await;
    assert_eq!(failed.status(), StatusCode::OK);
    let failed = body(failed).await;
    assert_eq!(failed["ok"], false, "{failed}");
    assert!(failed.to_string().contains("untrusted"), "{failed}");
    keyway_testkit::assert_json_kind("connector-test", &failed);
    problem(
        api.send(with_bearer(
            Method::POST,
            "/api/v1/connectors/none/test",
            &ops,
            None,
        ))
        .await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // An endpoint that is no connector yet: `keyway test` and `keyway probe` over the API.
    let adhoc = json!({"url": server.url(), "profile": {"truststores": ["partner"], "server_name": "partner.test"}});
    let tested = api
        .send(with_bearer(Method::POST, "/api/v1/test", &ops, Some(adhoc)))
        .await;
    assert_eq!(tested.status(), StatusCode::OK);
    let tested = body(tested).await;
    keyway_testkit::assert_json_kind("test-report", &tested);
    assert_eq!(tested["ok"], true, "{tested}");
    assert_eq!(tested["negotiated"]["version"], "TLS 1.3", "{tested}");
    let untrusted = json!({"url": server.url(), "profile": {"truststores": ["stranger"], "server_name": "partner.test"}});
    let untrusted = body(
        api.send(with_bearer(
            Method::POST,
            "/api/v1/test",
            &ops,
            Some(untrusted),
        ))
        .await,
    )
    .await;
    keyway_testkit::assert_json_kind("test-report", &untrusted);
    assert_eq!(untrusted["ok"], false, "{untrusted}");
    assert!(
        untrusted["code"].as_str().unwrap().contains("untrusted"),
        "{untrusted}"
    );
    let address = server
        .url()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let probed = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/probe",
            &ops,
            Some(json!({"target": address})),
        ))
        .await;
    assert_eq!(probed.status(), StatusCode::OK);
    let probed = body(probed).await;
    keyway_testkit::assert_json_kind("probe-report", &probed);
    assert!(probed.to_string().contains("TLS 1.3"), "{probed}");
    let bad = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/probe",
            &ops,
            Some(json!({"target": "no-port"})),
        ))
        .await;
    assert_eq!(
        problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await["field"],
        "target"
    );
    // Who may not use connectors may not test them.
    let alice = api.token("alice").await;
    problem(
        api.send(with_bearer(
            Method::POST,
            "/api/v1/connectors/orders/test",
            &alice,
            None,
        ))
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn the_committed_openapi_document_is_the_generated_one() {
    let generated = keyway_admin::openapi_json();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("KEYWAY_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is not the document the code generates; run\n  KEYWAY_WRITE_OPENAPI=1 cargo test -p keyway-admin --test api the_committed_openapi\nand commit it"
    );
    let doc: Value = serde_json::from_str(&generated).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    // The document the server serves is the same.
    let api = Api::new().await;
    let served = api
        .send(
            Request::builder()
                .uri("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(body(served).await, doc);
    for path in [
        "/api/v1/login",
        "/api/v1/connectors/{name}/test",
        "/api/v1/users/{name}/tokens",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

#[tokio::test]
async fn a_user_manages_their_own_certificates_and_nobody_elses() {
    let api = Api::new().await;
    let admin = Context::local_admin();
    let init = keyway_pki::CaInit {
        subject: keyway_pki::parse_subject("CN=keyway test CA").unwrap(),
        key_type: keyway_pki::KeyType::EcP256,
        with_intermediate: false,
    };
    api.store.create_ca(&admin, &init).await.unwrap();
    let partner_ca = keyway_testkit::TestCa::new("Partner");
    let roots = keyway_pki::read_certificates(partner_ca.pem().as_bytes(), None, "ca.pem").unwrap();
    api.store
        .add_truststore(&admin, "partner-cas", roots, "ca.pem")
        .await
        .unwrap();
    let alice = api.token("alice").await;
    let base = "/api/v1/users/alice/certificates";
    // A key pair and CSR; the CA signs it; the upload is checked and stored.
    let csr = api
        .send(with_bearer(
            Method::POST,
            &format!("{base}/csr"),
            &alice,
            Some(json!({"subject": "CN=alice,O=Acme"})),
        ))
        .await;
    assert_eq!(csr.status(), StatusCode::CREATED);
    let csr = body(csr).await;
    let pem = csr["csr"].as_str().unwrap();
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    let signed = partner_ca.sign(pem, &keyway_testkit::Signing::default());
    let uploaded = api
        .send(with_bearer(
            Method::POST,
            base,
            &alice,
            Some(json!({"certificate": signed, "truststore": "partner-cas"})),
        ))
        .await;
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let uploaded = body(uploaded).await;
    keyway_testkit::assert_json_kind("client-certificate", &uploaded);
    // An upload that fails its checks lists why and stores nothing.
    let stranger = keyway_testkit::TestCa::new("Stranger");
    let other = stranger.client("alice").1;
    let refused = api
        .send(with_bearer(
            Method::POST,
            base,
            &alice,
            Some(json!({"certificate": other, "truststore": "partner-cas"})),
        ))
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let garbage = api
        .send(with_bearer(
            Method::POST,
            base,
            &alice,
            Some(json!({"certificate": "not PEM", "truststore": "partner-cas"})),
        ))
        .await;
    let garbage = problem(garbage, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(garbage["field"], "certificate");
    // One from keyway's CA, downloaded as PKCS#12 under the password alice gives.
    let issued = api
        .send(with_bearer(
            Method::POST,
            &format!("{base}/issue"),
            &alice,
            Some(json!({"days": 30})),
        ))
        .await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let issued = body(issued).await;
    keyway_testkit::assert_json_kind("client-certificate", &issued);
    let fingerprint = issued["sha256"].as_str().unwrap().to_string();
    let download = api
        .send(with_bearer(
            Method::POST,
            &format!("{base}/{fingerprint}/download"),
            &alice,
            Some(json!({"format": "pkcs12", "password": "download-pw"})),
        ))
        .await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()[header::CONTENT_TYPE],
        "application/x-pkcs12"
    );
    assert_eq!(download.headers()[header::CACHE_CONTROL], "no-store");
    let bytes = download.into_body().collect().await.unwrap().to_bytes();
    let p12 = keyway_keystore::Keystore::from_bytes(&bytes, None, Some("download-pw")).unwrap();
    let entry = &p12.entries()[0];
    assert!(entry.private_key(Some("download-pw")).is_ok());
    // Without a password, PKCS#12 is refused and nothing is exported.
    let no_password = api
        .send(with_bearer(
            Method::POST,
            &format!("{base}/{fingerprint}/download"),
            &alice,
            Some(json!({"format": "pkcs12"})),
        ))
        .await;
    let no_password = problem(no_password, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(no_password["field"], "password");
    // Revoke: a stale If-Match changes nothing; then revoked, and listed so.
    let mut stale = with_bearer(
        Method::POST,
        &format!("{base}/{fingerprint}/revoke"),
        &alice,
        Some(json!({"reason": "keyCompromise"})),
    );
    stale
        .headers_mut()
        .insert(header::IF_MATCH, "\"42\"".parse().unwrap());
    problem(
        api.send(stale).await,
        StatusCode::PRECONDITION_FAILED,
        "changed",
    )
    .await;
    let revoked = api
        .send(with_bearer(
            Method::POST,
            &format!("{base}/{fingerprint}/revoke"),
            &alice,
            Some(json!({"reason": "keyCompromise"})),
        ))
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let revoked = body(revoked).await;
    assert!(revoked["revoked"].is_object(), "{revoked}");
    assert!(
        revoked["note"].as_str().unwrap().contains("CRL"),
        "{revoked}"
    );
    let listed = body(api.send(with_bearer(Method::GET, base, &alice, None)).await).await;
    keyway_testkit::assert_json_kind("user-cert-list", &listed);
    assert_eq!(
        listed["certificates"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
    // Alice reaches no one else's certificates (they are as invisible as a user that
    // does not exist); root reaches hers.
    let others = "/api/v1/users/ops/certificates";
    for request in [
        with_bearer(Method::GET, others, &alice, None),
        with_bearer(
            Method::POST,
            &format!("{others}/issue"),
            &alice,
            Some(json!({})),
        ),
        with_bearer(
            Method::POST,
            &format!("{others}/csr"),
            &alice,
            Some(json!({})),
        ),
        with_bearer(
            Method::GET,
            "/api/v1/users/ghost/certificates",
            &alice,
            None,
        ),
    ] {
        problem(api.send(request).await, StatusCode::NOT_FOUND, "not-found").await;
    }
    let root = api.token("root").await;
    let shown = api
        .send(with_bearer(
            Method::GET,
            &format!("{base}/{}", &fingerprint[..11]),
            &root,
            None,
        ))
        .await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert!(shown.headers().contains_key(header::ETAG));
}

#[tokio::test]
async fn connectors_are_added_replaced_and_removed_with_their_versions() {
    let api = Api::new().await;
    let ops = api.token("ops").await;
    let connector = json!({
        "name": "orders",
        "definition": {"kind": "rest", "url": "https://orders.partner.test/api"},
        "auth": {"username": "svc", "password": "s3cret-pw"},
    });
    let added = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/connectors",
            &ops,
            Some(connector.clone()),
        ))
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    assert_eq!(
        added.headers()[header::LOCATION],
        "/api/v1/connectors/orders"
    );
    let added = body(added).await;
    assert_eq!(added["username"], "svc");
    assert!(!added.to_string().contains("s3cret-pw"), "{added}");
    problem(
        api.send(with_bearer(
            Method::POST,
            "/api/v1/connectors",
            &ops,
            Some(connector),
        ))
        .await,
        StatusCode::CONFLICT,
        "exists",
    )
    .await;
    // A draft may keep the stored password only where it was sent before: pointed
    // elsewhere, it must bring its own (nothing connects: the refusal comes first).
    let elsewhere = json!({"definition": {"kind": "rest", "url": "https://elsewhere.test/api"},
                           "auth": {"username": "svc"}});
    let elsewhere = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/connectors/orders/test",
            &ops,
            Some(elsewhere),
        ))
        .await;
    let elsewhere = problem(elsewhere, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(elsewhere["field"], "auth.password", "{elsewhere}");
    assert!(!elsewhere.to_string().contains("s3cret-pw"));
    // A definition that does not check out names the problem; nothing is stored.
    let bad = json!({"name": "bad", "definition": {"kind": "ftp", "url": "https://x.test/"}});
    let bad = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/connectors",
            &ops,
            Some(bad),
        ))
        .await;
    let bad = problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert!(bad["detail"].as_str().unwrap().contains("kind"), "{bad}");
    let unknown = json!({"name": "x", "definition": {"kind": "rest", "url": "https://x.test/", "colour": "red"}});
    let unknown = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/connectors",
            &ops,
            Some(unknown),
        ))
        .await;
    let unknown = problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(unknown["field"], "body");
    assert!(
        unknown["detail"].as_str().unwrap().contains("colour"),
        "{unknown}"
    );
    // Not JSON at all: named too.
    let mut text = with_bearer(Method::POST, "/api/v1/connectors", &ops, None);
    *text.body_mut() = Body::from("name=x");
    problem(
        api.send(text).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "media-type",
    )
    .await;
    // Replace at a stale version: 412; at the current one: done.
    let shown = api
        .send(with_bearer(
            Method::GET,
            "/api/v1/connectors/orders",
            &ops,
            None,
        ))
        .await;
    let etag = shown.headers()[header::ETAG].to_str().unwrap().to_string();
    let replacement =
        json!({"definition": {"kind": "rest", "url": "https://orders2.partner.test/api"}});
    let mut stale = with_bearer(
        Method::PUT,
        "/api/v1/connectors/orders",
        &ops,
        Some(replacement.clone()),
    );
    stale
        .headers_mut()
        .insert(header::IF_MATCH, "\"7\"".parse().unwrap());
    problem(
        api.send(stale).await,
        StatusCode::PRECONDITION_FAILED,
        "changed",
    )
    .await;
    let mut put = with_bearer(
        Method::PUT,
        "/api/v1/connectors/orders",
        &ops,
        Some(replacement),
    );
    put.headers_mut()
        .insert(header::IF_MATCH, etag.parse().unwrap());
    let replaced = api.send(put).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced = body(replaced).await;
    assert_eq!(
        replaced["definition"]["url"],
        "https://orders2.partner.test/api"
    );
    assert!(replaced["username"].is_null());
    // A profile, used by a connector, cannot go before the connector does.
    let profile = json!({"name": "partner", "definition": {"lowest_version": "TLS 1.1"}});
    let made = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/profiles",
            &ops,
            Some(profile),
        ))
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let uses = json!({"definition": {"kind": "soap", "url": "https://orders.partner.test/ws", "profile": "partner"}});
    let put = with_bearer(Method::PUT, "/api/v1/connectors/orders", &ops, Some(uses));
    assert_eq!(api.send(put).await.status(), StatusCode::OK);
    let in_use = api
        .send(with_bearer(
            Method::DELETE,
            "/api/v1/profiles/partner",
            &ops,
            None,
        ))
        .await;
    problem(in_use, StatusCode::CONFLICT, "in-use").await;
    let gone = api
        .send(with_bearer(
            Method::DELETE,
            "/api/v1/connectors/orders",
            &ops,
            None,
        ))
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let gone = api
        .send(with_bearer(
            Method::DELETE,
            "/api/v1/profiles/partner",
            &ops,
            None,
        ))
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let list = body(
        api.send(with_bearer(Method::GET, "/api/v1/connectors", &ops, None))
            .await,
    )
    .await;
    assert_eq!(list, json!([]));
    // Who may not manage connectors may not change them.
    let alice = api.token("alice").await;
    let refused = json!({"name": "x", "definition": {"kind": "rest", "url": "https://x.test/"}});
    problem(
        api.send(with_bearer(
            Method::POST,
            "/api/v1/connectors",
            &alice,
            Some(refused),
        ))
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

fn base64_of(path: &std::path::Path) -> String {
    use base64ct::{Base64, Encoding};
    Base64::encode_string(&std::fs::read(path).unwrap())
}

#[tokio::test]
async fn keytool_and_openssl_files_upload_as_truststores_and_identities_without_leaking_keys() {
    let api = Api::new().await;
    api.store
        .grant(
            &Context::local_admin(),
            "ops",
            Permission::ManageTrust,
            None,
        )
        .await
        .unwrap();
    let ops = api.token("ops").await;
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample");
    // The sample JKS keytool made: a wrong password is named and stores nothing.
    let wrong = json!({"name": "partners", "content_base64": base64_of(&sample.join("partners.jks")), "password": "nope"});
    let wrong = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/truststores",
            &ops,
            Some(wrong),
        ))
        .await;
    let wrong = problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(wrong["field"], "content_base64");
    assert!(!wrong.to_string().contains("nope"), "{wrong}");
    let upload = json!({"name": "partners", "content_base64": base64_of(&sample.join("partners.jks")), "password": "changeit", "source": "partners.jks"});
    let stored = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/truststores",
            &ops,
            Some(upload),
        ))
        .await;
    assert_eq!(stored.status(), StatusCode::CREATED);
    let stored = body(stored).await;
    keyway_testkit::assert_json_kind("truststore", &stored);
    assert!(!stored["certificates"].as_array().unwrap().is_empty());
    assert!(
        stored["certificates"][0]["not_after"].is_string(),
        "{stored}"
    );
    problem(
        api.send(with_bearer(
            Method::POST,
            "/api/v1/truststores",
            &ops,
            Some(json!({"name": "x", "content_base64": "%%%"})),
        ))
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    // Replaced by a PEM root, then removed.
    let pem = json!({"content_base64": base64_of(&sample.join("partner-root.pem"))});
    let replaced = api
        .send(with_bearer(
            Method::PUT,
            "/api/v1/truststores/partners",
            &ops,
            Some(pem),
        ))
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    assert_eq!(
        body(replaced).await["certificates"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An openssl-made PKCS#12 identity: stored, listed without its key or password.
    let chain = TestChain::new("client", KeyKind::EcP256);
    let dir = tempfile::tempdir().unwrap();
    let p12 = keyway_testkit::client_p12(&chain, dir.path());
    let identity = json!({"name": "acme", "content_base64": base64_of(&p12), "password": "changeit", "source": "client.p12"});
    let made = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/identities",
            &ops,
            Some(identity),
        ))
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made = body(made).await;
    keyway_testkit::assert_json_kind("identity", &made);
    let listed = body(
        api.send(with_bearer(Method::GET, "/api/v1/identities", &ops, None))
            .await,
    )
    .await;
    keyway_testkit::assert_json_kind("identity-list", &listed);
    let text = listed.to_string();
    assert!(
        !text.contains("changeit") && !text.contains("PRIVATE KEY"),
        "{text}"
    );
    let no_key =
        json!({"name": "nokey", "content_base64": base64_of(&sample.join("partner-root.pem"))});
    let no_key = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/identities",
            &ops,
            Some(no_key),
        ))
        .await;
    assert_eq!(no_key.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for path in ["/api/v1/identities/acme", "/api/v1/truststores/partners"] {
        let gone = api
            .send(with_bearer(Method::DELETE, path, &ops, None))
            .await;
        assert_eq!(gone.status(), StatusCode::NO_CONTENT, "{path}");
        let after = api.send(with_bearer(Method::GET, path, &ops, None)).await;
        problem(after, StatusCode::NOT_FOUND, "not-found").await;
    }
    // manage_connectors sees trust but may not change it.
    api.store
        .revoke_permission(
            &Context::local_admin(),
            "ops",
            Permission::ManageTrust,
            None,
        )
        .await
        .unwrap();
    let pem =
        json!({"name": "again", "content_base64": base64_of(&sample.join("partner-root.pem"))});
    problem(
        api.send(with_bearer(
            Method::POST,
            "/api/v1/truststores",
            &ops,
            Some(pem),
        ))
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn the_audit_log_filters_and_pages_by_its_next_link() {
    let api = Api::new().await;
    let root = api.token("root").await;
    let mut uri = "/api/v1/audit-log?action=user.add&limit=3&actor=local-admin".to_string();
    let mut seen = Vec::new();
    loop {
        let page = api.send(with_bearer(Method::GET, &uri, &root, None)).await;
        assert_eq!(page.status(), StatusCode::OK);
        let next = page
            .headers()
            .get(header::LINK)
            .map(|l| l.to_str().unwrap().to_string());
        let entries = body(page).await;
        keyway_testkit::assert_json_kind("audit-log", &entries);
        seen.extend(
            entries
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["object"].as_str().unwrap().to_string()),
        );
        let Some(link) = next else { break };
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        assert!(
            link.contains("actor=local-admin") && link.contains("action=user.add"),
            "{link}"
        );
        uri = link[1..link.find('>').unwrap()].to_string();
    }
    seen.sort();
    assert_eq!(seen, ["user alice", "user nobody", "user ops", "user root"]);
    // Users come a page at a time by name, the same way.
    let mut uri = "/api/v1/users?limit=3".to_string();
    let mut names = Vec::new();
    loop {
        let page = api.send(with_bearer(Method::GET, &uri, &root, None)).await;
        let next = page
            .headers()
            .get(header::LINK)
            .map(|l| l.to_str().unwrap().to_string());
        let users = body(page).await;
        keyway_testkit::assert_json_kind("user-list", &users);
        names.extend(
            users
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["name"].as_str().unwrap().to_string()),
        );
        let Some(link) = next else { break };
        uri = link[1..link.find('>').unwrap()].to_string();
    }
    assert_eq!(names, ["alice", "nobody", "ops", "root"]);
    let bad = api
        .send(with_bearer(
            Method::GET,
            "/api/v1/audit-log?outcome=maybe",
            &root,
            None,
        ))
        .await;
    let bad = problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(bad["field"], "outcome");
}

#[tokio::test]
async fn the_ca_crls_and_integrations_are_reached_as_the_cli_reaches_them() {
    let api = Api::new().await;
    let admin = Context::local_admin();
    for p in [Permission::ManageTrust, Permission::UserManagement] {
        api.store.grant(&admin, "ops", p, None).await.unwrap();
    }
    let ops = api.token("ops").await;
    let nobody = api.token("nobody").await;
    // No CA yet: said so.
    let none = api
        .send(with_bearer(Method::GET, "/api/v1/ca", &nobody, None))
        .await;
    problem(none, StatusCode::NOT_FOUND, "not-found").await;
    let init = keyway_pki::CaInit {
        subject: keyway_pki::parse_subject("CN=keyway test CA").unwrap(),
        key_type: keyway_pki::KeyType::EcP256,
        with_intermediate: true,
    };
    api.store.create_ca(&admin, &init).await.unwrap();
    // Its certificates are public to anyone signed in.
    let ca = body(
        api.send(with_bearer(Method::GET, "/api/v1/ca", &nobody, None))
            .await,
    )
    .await;
    assert!(
        ca["root_pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"),
        "{ca}"
    );
    assert!(ca["intermediate"].is_object(), "{ca}");
    // Issue for ops, revoke by serial through the CA, and the next CRL lists it.
    let issued = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/users/ops/certificates/issue",
            &ops,
            Some(json!({})),
        ))
        .await;
    let serial = body(issued).await["serial"].as_str().unwrap().to_string();
    let list = body(
        api.send(with_bearer(Method::GET, "/api/v1/ca/issued", &ops, None))
            .await,
    )
    .await;
    keyway_testkit::assert_json_kind("ca-list", &list);
    assert_eq!(list["certificates"].as_array().unwrap().len(), 1, "{list}");
    let revoked = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/ca/revoke",
            &ops,
            Some(json!({"serial": serial, "reason": "superseded"})),
        ))
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let again = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/ca/revoke",
            &ops,
            Some(json!({"serial": serial})),
        ))
        .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let crl = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/ca/crl?days=3",
            &ops,
            None,
        ))
        .await;
    assert_eq!(crl.status(), StatusCode::OK);
    let crl = crl.into_body().collect().await.unwrap().to_bytes();
    let crl = String::from_utf8(crl.to_vec()).unwrap();
    assert!(crl.starts_with("-----BEGIN X509 CRL-----"), "{crl}");
    let bad_days = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/ca/crl?days=0",
            &ops,
            None,
        ))
        .await;
    assert_eq!(
        problem(bad_days, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await["field"],
        "days"
    );
    // For a CSR made elsewhere: the certificate and chain as JSON, the key stays there.
    let pending = api
        .store
        .request_certificate(
            &admin,
            "alice",
            "CN=alice",
            &[],
            keyway_pki::KeyType::EcP256,
        )
        .await
        .unwrap();
    let for_csr = json!({"profile": "client", "csr": pending.csr, "days": 30});
    let signed = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/ca/issue",
            &ops,
            Some(for_csr),
        ))
        .await;
    assert_eq!(signed.status(), StatusCode::OK);
    let signed = body(signed).await;
    assert!(
        signed["certificate_pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"),
        "{signed}"
    );
    assert!(!signed.to_string().contains("PRIVATE KEY"));
    // With a key keyway makes: a server certificate needs its names; then the file.
    let nameless = json!({"profile": "server", "subject": "CN=api.test", "format": "pem"});
    let nameless = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/ca/issue",
            &ops,
            Some(nameless),
        ))
        .await;
    assert_eq!(nameless.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let server = json!({"profile": "server", "subject": "CN=api.test", "sans": ["dns:api.test"],
                        "format": "pkcs12", "password": "file-pw"});
    let server = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/ca/issue",
            &ops,
            Some(server),
        ))
        .await;
    assert_eq!(server.status(), StatusCode::OK);
    assert_eq!(
        server.headers()[header::CONTENT_TYPE],
        "application/x-pkcs12"
    );
    assert!(server.headers().contains_key("x-keyway-serial"));
    let p12 = server.into_body().collect().await.unwrap().to_bytes();
    let p12 = keyway_keystore::Keystore::from_bytes(&p12, None, Some("file-pw")).unwrap();
    assert!(p12.entries()[0].private_key(Some("file-pw")).is_ok());
    let refused = api
        .send(with_bearer(Method::GET, "/api/v1/ca/issued", &nobody, None))
        .await;
    problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    // Every certificate keyway knows, soonest end first, as `keyway expiry --json`.
    let expiry = api
        .send(with_bearer(
            Method::GET,
            "/api/v1/expiry?within_days=4000",
            &ops,
            None,
        ))
        .await;
    assert_eq!(expiry.status(), StatusCode::OK);
    let expiry = body(expiry).await;
    keyway_testkit::assert_json_kind("expiry", &expiry);
    let kinds: Vec<&str> = expiry
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"ca") && kinds.contains(&"user"), "{expiry}");
    let refused = api
        .send(with_bearer(Method::GET, "/api/v1/expiry", &nobody, None))
        .await;
    problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    // An outside CA's CRL: checked against the truststore that holds the CA.
    use base64ct::{Base64, Encoding};
    let partner = keyway_testkit::TestCa::new("Partner");
    let roots = keyway_pki::read_certificates(partner.pem().as_bytes(), None, "p.pem").unwrap();
    api.store
        .add_truststore(&admin, "partner-clients", roots, "p.pem")
        .await
        .unwrap();
    let upload = json!({"content_base64": Base64::encode_string(partner.crl(1, &[], 0, 7).as_bytes()), "source": "partner.crl"});
    let imported = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/crls",
            &ops,
            Some(upload.clone()),
        ))
        .await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    keyway_testkit::assert_json_kind("crl-import", &body(imported).await);
    let same = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/crls",
            &ops,
            Some(upload),
        ))
        .await;
    assert_eq!(same.status(), StatusCode::OK);
    let forged = keyway_testkit::TestCa::new("Partner");
    let forged =
        json!({"content_base64": Base64::encode_string(forged.crl(9, &[], 0, 7).as_bytes())});
    let forged = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/crls",
            &ops,
            Some(forged),
        ))
        .await;
    assert_eq!(forged.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let crls = body(
        api.send(with_bearer(Method::GET, "/api/v1/crls", &ops, None))
            .await,
    )
    .await;
    keyway_testkit::assert_json_kind("crl-list", &crls);
    let issuer = crls[0]["issuer"].as_str().unwrap().to_string();
    let path = format!(
        "/api/v1/crls/{}",
        issuer
            .replace(' ', "%20")
            .replace(',', "%2C")
            .replace('=', "%3D")
    );
    assert_eq!(
        api.send(with_bearer(Method::DELETE, &path, &ops, None))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // Integrations over a connector.
    let connector =
        json!({"name": "orders", "definition": {"kind": "rest", "url": "https://orders.test/"}});
    api.send(with_bearer(
        Method::POST,
        "/api/v1/connectors",
        &ops,
        Some(connector),
    ))
    .await;
    let integration = json!({"name": "orders", "connector": "orders", "description": "Orders in"});
    let added = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/integrations",
            &ops,
            Some(integration),
        ))
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    keyway_testkit::assert_json_kind("integration", &body(added).await);
    let dangling = json!({"name": "ghost", "connector": "nowhere"});
    let dangling = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/integrations",
            &ops,
            Some(dangling),
        ))
        .await;
    // The store names what is missing: the connector, not the endpoint.
    let dangling = problem(dangling, StatusCode::NOT_FOUND, "not-found").await;
    assert!(
        dangling["detail"].as_str().unwrap().contains("nowhere"),
        "{dangling}"
    );
    let all = body(
        api.send(with_bearer(Method::GET, "/api/v1/integrations", &ops, None))
            .await,
    )
    .await;
    keyway_testkit::assert_json_kind("integration-list", &all);
    let gone = api
        .send(with_bearer(
            Method::DELETE,
            "/api/v1/integrations/orders",
            &ops,
            None,
        ))
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_session_opened_on_one_node_is_honoured_and_ended_on_another() {
    // Two nodes of one PostgreSQL deployment: separate stores, separate API states.
    let dir = tempfile::tempdir().unwrap();
    let mut location = Location::data_dir(dir.path().join("data"));
    location.database_url = Some(keyway_testkit::postgres_database());
    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let node_a = Arc::new(Store::open(&location, Some(KEY)).await.unwrap());
    let node_b = Arc::new(Store::open(&location, Some(KEY)).await.unwrap());
    node_a
        .add_user(
            &Context::local_admin(),
            NewUser::new("root")
                .password(Zeroizing::new(PASSWORD.into()))
                .permission(Permission::UserManagement),
        )
        .await
        .unwrap();
    let a = app(AdminState::new(node_a, false));
    let b = app(AdminState::new(node_b.clone(), false));
    let login = a
        .clone()
        .oneshot(post_json(
            "/api/v1/login",
            json!({"user": "root", "password": PASSWORD}),
        ))
        .await
        .unwrap();
    let cookie = login.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let csrf = body(login).await["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = |router: axum::Router| {
        let cookie = cookie.clone();
        async move {
            router
                .oneshot(
                    Request::builder()
                        .uri("/api/v1/me")
                        .header(header::COOKIE, cookie)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        me(b.clone()).await,
        StatusCode::OK,
        "node B knows node A's session"
    );
    // A change made through node B lands in the shared store.
    let mut add = post_json("/api/v1/users", json!({"name": "carol"}));
    add.headers_mut()
        .insert(header::COOKIE, cookie.parse().unwrap());
    add.headers_mut().insert(CSRF_HEADER, csrf.parse().unwrap());
    assert_eq!(
        b.clone().oneshot(add).await.unwrap().status(),
        StatusCode::CREATED
    );
    // Signing out on B ends the session on A too.
    let mut logout = post_json("/api/v1/logout", json!({}));
    logout
        .headers_mut()
        .insert(header::COOKIE, cookie.parse().unwrap());
    logout
        .headers_mut()
        .insert(CSRF_HEADER, csrf.parse().unwrap());
    assert_eq!(
        b.oneshot(logout).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(a).await, StatusCode::UNAUTHORIZED);
    assert!(node_b.user(&Context::local_admin(), "carol").await.is_ok());
}

#[tokio::test]
async fn a_client_certificate_signs_its_owner_in_until_it_is_revoked() {
    let api = Api::new().await;
    let admin = Context::local_admin();
    let init = keyway_pki::CaInit {
        subject: keyway_pki::parse_subject("CN=keyway test CA").unwrap(),
        key_type: keyway_pki::KeyType::EcP256,
        with_intermediate: false,
    };
    api.store.create_ca(&admin, &init).await.unwrap();
    let subject = keyway_pki::parse_subject("CN=alice").unwrap();
    let (cert, _) = api
        .store
        .issue_certificate(&admin, "alice", subject, keyway_pki::KeyType::EcP256, 30)
        .await
        .unwrap();
    let sha256 = cert.sha256.replace(':', "").to_ascii_lowercase();
    // What keyway-server puts in each request after the handshake verified it.
    let with_cert = |method: Method, uri: &str| {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        request.extensions_mut().insert(keyway_admin::Peer {
            address: "127.0.0.1:50000".parse().unwrap(),
            certificate: Some(sha256.clone()),
        });
        request
    };
    let me = api.send(with_cert(Method::GET, "/api/v1/me")).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(body(me).await["name"], "alice");
    // A change with the certificate alone is refused; the certificate's session allows it.
    let change = api
        .send(with_cert(
            Method::POST,
            "/api/v1/users/alice/certificates/csr",
        ))
        .await;
    problem(change, StatusCode::FORBIDDEN, "csrf").await;
    let login = api
        .send(with_cert(Method::POST, "/api/v1/login/certificate"))
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.headers().contains_key(header::SET_COOKIE));
    // Revoked: it signs nobody in any more.
    api.store
        .revoke_certificate(
            &admin,
            "alice",
            &cert.sha256,
            keyway_pki::Reason::KeyCompromise,
            None,
        )
        .await
        .unwrap();
    let after = api.send(with_cert(Method::GET, "/api/v1/me")).await;
    problem(after, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let again = api
        .send(with_cert(Method::POST, "/api/v1/login/certificate"))
        .await;
    problem(again, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_configuration_uploads_whole_and_reads_nothing_from_the_servers_disk() {
    use base64ct::{Base64, Encoding};
    let api = Api::new().await;
    api.store
        .grant(
            &Context::local_admin(),
            "ops",
            Permission::ManageTrust,
            None,
        )
        .await
        .unwrap();
    let ops = api.token("ops").await;
    let root = TestChain::new("partner", KeyKind::EcP256).root_pem;
    let file = |path: &str, content: &str| json!({"path": path, "content_base64": Base64::encode_string(content.as_bytes())});
    let toml = |password: &str, trust_path: &str| {
        format!(
            "[truststores.partners]\npath = \"{trust_path}\"\n\n[profiles.partner]\ntruststores = [\"partners\"]\n\n\
             [connectors.orders]\nkind = \"rest\"\nurl = \"https://orders.partner.test/\"\nprofile = \"partner\"\n\
             auth = {{ username = \"svc\", password = {password} }}\n"
        )
    };
    let send = |files: Value| {
        with_bearer(
            Method::POST,
            "/api/v1/config/import",
            &ops,
            Some(json!({"files": files})),
        )
    };
    // Refused, each naming the file, and nothing stored: a password from the server's
    // environment, a path outside the upload, a file the keyway.toml names but the
    // upload lacks.
    let refusals = [
        json!([
            file(
                "keyway.toml",
                &toml("{ env = \"KEYWAY_MASTER_KEY\" }", "partners.pem")
            ),
            file("partners.pem", &root)
        ]),
        json!([file(
            "keyway.toml",
            &toml("\"pw\"", "/etc/ssl/certs/ca-certificates.crt")
        )]),
        json!([
            file("keyway.toml", &toml("\"pw\"", "partners.pem")),
            file("../partners.pem", &root)
        ]),
        json!([
            file(
                "keyway.toml",
                &toml("{ file = \"../../etc/passwd\" }", "partners.pem")
            ),
            file("partners.pem", &root)
        ]),
        json!([file("partners.pem", &root)]),
    ];
    for files in refusals {
        let refused = api.send(send(files.clone())).await;
        let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
        assert!(!body.to_string().contains("KEYWAY_MASTER_KEY="), "{body}");
    }
    let listed = body(
        api.send(with_bearer(Method::GET, "/api/v1/truststores", &ops, None))
            .await,
    )
    .await;
    assert_eq!(listed, json!([]), "a refused upload stores nothing");
    // The whole upload lands; again without replace, the taken names are reported.
    let good = json!([
        file(
            "keyway.toml",
            &toml(
                "{ file = \"secrets/orders.pass\" }",
                "truststores/partners.pem"
            )
        ),
        file("truststores/partners.pem", &root),
        file("secrets/orders.pass", "s3cret\n")
    ]);
    let imported = api.send(send(good.clone())).await;
    assert_eq!(imported.status(), StatusCode::OK);
    let imported = body(imported).await;
    assert_eq!(imported["truststores"], 1, "{imported}");
    assert_eq!(imported["connectors"], 1, "{imported}");
    let orders = body(
        api.send(with_bearer(
            Method::GET,
            "/api/v1/connectors/orders",
            &ops,
            None,
        ))
        .await,
    )
    .await;
    assert_eq!(orders["username"], "svc");
    problem(api.send(send(good)).await, StatusCode::CONFLICT, "exists").await;
}

/// A change to try as each user: method, path, body, who may, what they get, what the
/// others get.
type Change = (
    Method,
    &'static str,
    Value,
    &'static [&'static str],
    StatusCode,
    StatusCode,
);

#[tokio::test]
async fn each_change_is_allowed_refused_or_invisible_as_the_store_decides() {
    let api = Api::new().await;
    let users = ["root", "alice", "ops", "nobody"];
    let mut tokens = Vec::new();
    for user in users {
        tokens.push((user, api.token(user).await));
    }
    let forbidden = StatusCode::FORBIDDEN;
    let hidden = StatusCode::NOT_FOUND;
    // A valid body everywhere, so that a refusal is the permission's, not the input's.
    let root_pem = {
        use base64ct::{Base64, Encoding};
        Base64::encode_string(TestChain::new("p", KeyKind::EcP256).root_pem.as_bytes())
    };
    // (method, path, body, who may and what they get, what the others get); {u} is the
    // caller's name, so each allowed change is a new object.
    let cases: Vec<Change> = vec![
        (
            Method::POST,
            "/api/v1/users",
            json!({"name": "new-{u}"}),
            &["root"],
            StatusCode::CREATED,
            forbidden,
        ),
        (
            Method::PUT,
            "/api/v1/users/nobody/permissions/invoke:{u}",
            json!(null),
            &["root"],
            StatusCode::OK,
            forbidden,
        ),
        (
            Method::POST,
            "/api/v1/users/alice/certificates/csr",
            json!({"subject": "CN=alice-{u}"}),
            &["root", "alice"],
            StatusCode::CREATED,
            hidden,
        ),
        (
            Method::POST,
            "/api/v1/users/alice/tokens",
            json!({"name": "t-{u}"}),
            &["root", "alice"],
            StatusCode::CREATED,
            hidden,
        ),
        (
            Method::POST,
            "/api/v1/profiles",
            json!({"name": "p-{u}", "definition": {}}),
            &["ops"],
            StatusCode::CREATED,
            forbidden,
        ),
        (
            Method::POST,
            "/api/v1/connectors",
            json!({"name": "c-{u}", "definition": {"kind": "rest", "url": "https://x.test/"}}),
            &["ops"],
            StatusCode::CREATED,
            forbidden,
        ),
        (
            Method::POST,
            "/api/v1/truststores",
            json!({"name": "t-{u}", "content_base64": root_pem.clone()}),
            &[],
            StatusCode::CREATED,
            forbidden,
        ),
        (
            Method::POST,
            "/api/v1/ca/revoke",
            json!({"serial": "01"}),
            &[],
            StatusCode::OK,
            forbidden,
        ),
        (
            Method::POST,
            "/api/v1/probe",
            json!({"target": "127.0.0.1:1"}),
            &["ops"],
            StatusCode::OK,
            forbidden,
        ),
    ];
    for (method, path, body, allowed, ok, others) in &cases {
        for (user, token) in &tokens {
            let path = path.replace("{u}", user);
            let body = if body.is_null() {
                None
            } else {
                Some(serde_json::from_str(&body.to_string().replace("{u}", user)).unwrap())
            };
            let response = api
                .send(with_bearer(method.clone(), &path, token, body))
                .await;
            let want = if allowed.contains(user) { *ok } else { *others };
            assert_eq!(response.status(), want, "{user} {method} {path}");
        }
    }
    // Nothing refused was made: only root's user, only ops's connector.
    let admin = Context::local_admin();
    let made: Vec<String> = api
        .store
        .users(&admin)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .filter(|n| n.starts_with("new-"))
        .collect();
    assert_eq!(made, ["new-root"]);
    let connectors: Vec<String> = api
        .store
        .connectors(&admin)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(connectors, ["c-ops"]);
}

#[tokio::test]
async fn the_fleet_audit_and_the_watch_history_are_served_to_who_may_manage_connectors() {
    let api = Api::new().await;
    let (_server, _dir) = partners(&api).await;
    let ops = api.token("ops").await;
    let audit = |body: Value| with_bearer(Method::POST, "/api/v1/audit", &ops, Some(body));

    let answer = api.send(audit(json!({"require_min_tls": "1.3"}))).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let report = body(answer).await;
    keyway_testkit::assert_json_kind("audit", &report);
    assert_eq!(report["counts"]["total"], 2, "{report}");
    assert_eq!(report["connectors"][0]["connector"], "billing");
    assert_eq!(report["connectors"][0]["code"], "untrusted_root");
    assert_eq!(report["connectors"][1]["what_if"]["connects"], true);

    let answer = api.send(audit(json!({"tags": ["payments"]}))).await;
    let report = body(answer).await;
    assert_eq!(report["counts"]["total"], 1, "{report}");
    assert_eq!(report["connectors"][0]["connector"], "orders");

    let refused = api.send(audit(json!({"connectors": ["nope"]}))).await;
    let refused = problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(refused["field"], "connectors");
    let refused = api.send(audit(json!({"require_min_tls": "2.0"}))).await;
    let refused = problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert_eq!(refused["field"], "require_min_tls");
    let alice = api.token("alice").await;
    let refused = api
        .send(with_bearer(
            Method::POST,
            "/api/v1/audit",
            &alice,
            Some(json!({})),
        ))
        .await;
    problem(refused, StatusCode::FORBIDDEN, "forbidden").await;

    // Nothing kept by an API audit; the watch's runs are (recorded here as it records).
    let checks = body(
        api.send(with_bearer(Method::GET, "/api/v1/checks", &ops, None))
            .await,
    )
    .await;
    assert_eq!(checks, json!([]));
    let config = api
        .store
        .connector_config(&Context::local_admin())
        .await
        .unwrap();
    for _ in 0..2 {
        let fleet = keyway_connect::audit::audit(
            &config,
            &[],
            &keyway_connect::audit::AuditOptions::default(),
            |_| {},
        )
        .await;
        api.store.record_checks(&fleet).await.unwrap();
    }
    let checks = body(
        api.send(with_bearer(Method::GET, "/api/v1/checks", &ops, None))
            .await,
    )
    .await;
    let standings: Vec<(&str, &str)> = checks
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["connector"].as_str().unwrap(),
                c["standing"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(standings, [("billing", "failing"), ("orders", "passing")]);
    let history = api
        .send(with_bearer(
            Method::GET,
            "/api/v1/connectors/orders/checks?limit=1",
            &ops,
            None,
        ))
        .await;
    assert_eq!(history.status(), StatusCode::OK);
    let history = body(history).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["report"]["connector"], "orders");
    let refused = api
        .send(with_bearer(
            Method::GET,
            "/api/v1/connectors/orders/checks?limit=0",
            &ops,
            None,
        ))
        .await;
    problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    let refused = api
        .send(with_bearer(Method::GET, "/api/v1/checks", &alice, None))
        .await;
    problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
}
