//! `keyway serve` on the real binary: a fresh data directory is initialised, the printed
//! curl command really calls the sample integration with the demo client certificate
//! (curl over two-way TLS on 127.0.0.1, then the sample connector's own two-way TLS to
//! the gateway's /echo), health and metrics answer, SIGTERM stops it with exit 0, and a
//! second start reuses everything.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const KEY: &str = "5f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";

/// Starts the gateway on free ports and returns it with its first line of JSON.
fn start(data: &std::path::Path) -> (Child, Value) {
    start_with(data, &[])
}

fn start_with(data: &std::path::Path, extra: &[&str]) -> (Child, Value) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("keyway"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--json",
        ])
        .args(extra)
        .env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let _ = child.kill();
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        panic!("no start line ({e}): {line:?} {err}")
    });
    keyway_testkit::assert_json_kind("serve", &started);
    (child, started)
}

fn stop(mut child: Child) -> i32 {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap().code().unwrap_or(-1)
}

fn sh(command: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(command)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_printed_curl_command_reaches_the_gateway_as_the_demo_user() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, started) = start_with(&data, &["--node", "node-a"]);
    assert_eq!(started["admin_created"], true);
    assert_eq!(started["admin_password"].as_str().unwrap().len(), 24);
    let curl = started["curl"].as_str().unwrap().to_string();
    assert!(
        curl.contains("--cert") && curl.contains("/integrations/sample/hello"),
        "{curl}"
    );

    // The sample integration: through connector "sample" (two-way TLS, the demo
    // certificate) to the gateway's own /echo, which shows what a partner receives.
    let answer: Value =
        serde_json::from_str(&sh(&format!("{curl} --silent --show-error"))).unwrap();
    assert_eq!(answer["echo"], "keyway", "{answer}");
    assert_eq!(answer["user"], "demo");
    assert_eq!(answer["path"], "/echo/hello");
    assert_eq!(answer["query"], "from=curl");
    assert_eq!(answer["headers"]["x-keyway-user"], "demo");
    assert_eq!(answer["headers"]["x-forwarded-for"], "127.0.0.1");
    let whoami = curl.replace("integrations/sample/hello?from=curl", "whoami");
    let answer: Value =
        serde_json::from_str(&sh(&format!("{whoami} --silent --show-error"))).unwrap();
    assert_eq!(answer["user"], "demo");
    keyway_testkit::assert_json_kind("whoami", &answer);
    assert_eq!(answer["may_invoke"], serde_json::json!(["sample"]));
    // The one notation of fingerprints: upper-case hex pairs joined by colons.
    assert_eq!(answer["certificate_sha256"].as_str().unwrap().len(), 95);

    // Without a client certificate curl gets no answer.
    let port = started["listen"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let refused = Command::new("curl")
        .args(["--silent", "--cacert"])
        .arg(data.join("ca.pem"))
        .arg(format!("https://localhost:{port}/whoami"))
        .output()
        .unwrap();
    assert!(!refused.status.success());

    let admin = started["admin"].as_str().unwrap();
    assert_eq!(
        sh(&format!("curl --silent http://{admin}/healthz")).trim(),
        "ok"
    );
    let metrics = sh(&format!("curl --silent http://{admin}/metrics"));
    assert!(
        metrics.contains("keyway_requests_total{integration=\"sample\",status=\"200\"} 1"),
        "{metrics}"
    );
    // The watch checks the stored connectors a few seconds after the start: the sample
    // connector's check shows in `connector history` (waited for, within bounds).
    let mut history = Value::Null;
    for _ in 0..300 {
        let out = Command::new(assert_cmd::cargo::cargo_bin("keyway"))
            .args(["connector", "history", "sample", "--json"])
            .env_remove("KEYWAY_DATABASE_URL")
            .env("KEYWAY_MASTER_KEY", KEY)
            .env("KEYWAY_DATA_DIR", &data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        history = serde_json::from_slice(&out.stdout).unwrap();
        if history.as_array().is_some_and(|h| !h.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    keyway_testkit::assert_json_kind("connector-history", &history);
    // It connects; the demo client certificate it presents is a 30-day one: expiring.
    assert_eq!(history[0]["standing"], "expiring", "{history}");
    assert_eq!(history[0]["report"]["negotiated_version"], "TLS 1.3");
    assert!(
        history[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("client certificate CN=demo ends in"),
        "{history}"
    );
    assert_eq!(history[0]["connector"], "sample");
    assert_eq!(stop(child), 0, "SIGTERM stops it cleanly");

    // The demo certificate's last use, written at the latest when the gateway stops.
    let out = Command::new(assert_cmd::cargo::cargo_bin("keyway"))
        .args(["user", "cert", "list", "demo", "--json"])
        .env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", &data)
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    keyway_testkit::assert_json_kind("user-cert-list", &listed);
    let last = &listed["certificates"][0]["last_used"];
    assert_eq!(last["node"], "node-a", "{listed}");
    let at = time::OffsetDateTime::parse(
        last["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        (time::OffsetDateTime::now_utc() - at).whole_seconds() < 120,
        "{last}"
    );
    let out = Command::new(assert_cmd::cargo::cargo_bin("keyway"))
        .args(["user", "cert", "list", "demo"])
        .env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", &data)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("LAST USED"), "{table}");
    assert!(table.contains("(node-a)"), "{table}");

    // A second start on another port: the same CA and demo certificate, no new
    // password, and the sample connector follows the gateway.
    let (child, again) = start(&data);
    assert_eq!(again["admin_created"], false);
    assert!(again["admin_password"].is_null());
    let curl = again["curl"].as_str().unwrap();
    let answer: Value =
        serde_json::from_str(&sh(&format!("{curl} --silent --show-error"))).unwrap();
    assert_eq!(answer["user"], "demo");
    assert_eq!(answer["path"], "/echo/hello");
    assert_eq!(stop(child), 0);
}

#[test]
fn timeouts_out_of_range_are_refused_naming_the_flag() {
    let data = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--idle-timeout", "0"),
        ("--header-timeout", "99999999999999"),
        ("--handshake-timeout", "86401"),
    ] {
        let out = Command::new(assert_cmd::cargo::cargo_bin("keyway"))
            .args(["serve", "--data-dir"])
            .arg(data.path())
            .args([flag, value])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(flag) && err.contains("1..=86400"), "{err}");
    }
    // Nothing was set up for a refused command.
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
}

#[test]
fn refusals_are_in_the_audit_log_before_they_are_answered_even_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, started) = start(&data);
    let curl = started["curl"].as_str().unwrap();
    let (command, url) = curl.rsplit_once(' ').unwrap();
    let base = url.split("/integrations/").next().unwrap();
    // Forty refusals on one kept-alive connection (integrations that do not exist), then
    // kill -9 the moment the last answer is in.
    let urls: Vec<String> = (0..40)
        .map(|i| format!("{base}/integrations/no-such-{i}/x"))
        .collect();
    let codes = sh(&format!(
        "{command} --silent --output /dev/null --write-out '%{{http_code}}\\n' {}",
        urls.join(" ")
    ));
    assert_eq!(codes.lines().filter(|c| *c == "404").count(), 40, "{codes}");
    child.kill().unwrap();
    child.wait().unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("keyway"))
        .args(["audit-log", "--json", "--limit", "1000"])
        .env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Repeats of one certificate's refusal count up on one row.
    let refused: i64 = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "gateway.invoke" && e["outcome"] == "refused")
        .map(|e| e["count"].as_i64().unwrap())
        .sum();
    assert_eq!(refused, 40, "refusals lost to kill -9: {log}");
}

#[test]
fn a_store_keyway_init_made_gets_no_demo_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keyway = |args: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("keyway"))
            .args(args)
            .env_remove("KEYWAY_DATABASE_URL")
            .env("KEYWAY_MASTER_KEY", KEY)
            .env("KEYWAY_DATA_DIR", &data)
            .output()
            .unwrap()
    };
    assert!(keyway(&["init"]).status.success());
    let (child, started) = start(&data);
    assert!(started["curl"].is_null(), "{started}");
    assert_eq!(stop(child), 0);
    assert!(!data.join("demo").exists());
    let users = String::from_utf8(keyway(&["user", "list", "--json"]).stdout).unwrap();
    assert!(!users.contains("\"demo\""), "{users}");
    let integrations = keyway(&["integration", "list", "--json"]);
    assert!(
        !String::from_utf8_lossy(&integrations.stdout).contains("sample"),
        "no sample integration"
    );
    // --demo asks for it.
    let (child, started) = start_with(&data, &["--demo"]);
    assert!(
        started["curl"].as_str().unwrap().contains("--cert"),
        "{started}"
    );
    assert_eq!(stop(child), 0);
    assert!(data.join("demo").join("client.pem").exists());
    // --no-demo on a fresh store: none.
    let fresh = dir.path().join("fresh");
    let (child, started) = start_with(&fresh, &["--no-demo"]);
    assert!(started["curl"].is_null(), "{started}");
    assert_eq!(started["admin_created"], true);
    assert_eq!(stop(child), 0);
    assert!(!fresh.join("demo").exists());
}

#[test]
fn serve_logs_refusals_server_errors_and_its_start_and_stop_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, started) = start(&data);
    let curl = started["curl"].as_str().unwrap().to_string();
    let (command, url) = curl.rsplit_once(' ').unwrap();
    let base = url.split("/integrations/").next().unwrap().to_string();
    let keyway = |args: &[&str]| {
        let out = Command::new(assert_cmd::cargo::cargo_bin("keyway"))
            .args(args)
            .env_remove("KEYWAY_DATABASE_URL")
            .env("KEYWAY_MASTER_KEY", KEY)
            .env("KEYWAY_DATA_DIR", &data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // An integration whose partner is down: 502 with a correlation id.
    keyway(&[
        "connector",
        "add",
        "down",
        "--url",
        "https://127.0.0.1:1/api",
    ]);
    keyway(&["integration", "add", "down", "--connector", "down"]);
    keyway(&["user", "grant", "demo", "invoke:down"]);
    let mut id = String::new();
    for _ in 0..50 {
        let head = sh(&format!(
            "{command} --silent --output /dev/null --dump-header - {base}/integrations/down/x"
        ));
        if let Some(line) = head.lines().find(|l| {
            l.to_ascii_lowercase()
                .starts_with("x-keyway-correlation-id:")
        }) {
            id = line.split_once(':').unwrap().1.trim().to_string();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!id.is_empty(), "no 502 with a correlation id");
    // No client certificate; an untrusted one.
    let port = base.rsplit(':').next().unwrap();
    let no_cert = Command::new("curl")
        .args(["--silent", "--cacert"])
        .arg(data.join("ca.pem"))
        .arg(format!("https://localhost:{port}/whoami"))
        .output()
        .unwrap();
    assert!(!no_cert.status.success());
    let stranger = dir.path().join("stranger");
    keyway_testkit::openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &format!("{}.key", stranger.display()),
        "-out",
        &format!("{}.pem", stranger.display()),
        "-days",
        "2",
        "-subj",
        "/CN=stranger",
    ]);
    let refused = Command::new("curl")
        .args(["--silent", "--cacert"])
        .arg(data.join("ca.pem"))
        .arg("--cert")
        .arg(format!("{}.pem", stranger.display()))
        .arg("--key")
        .arg(format!("{}.key", stranger.display()))
        .arg(format!("https://localhost:{port}/whoami"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr_pipe = child.stderr.take().unwrap();
    assert_eq!(stop(child), 0);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr_pipe), &mut log).unwrap();
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{log}"))
            .to_string()
    };
    assert!(line("gateway started on").contains("INFO"));
    assert!(line("answered 502").contains(&id), "{log}");
    line("the client presented no certificate");
    assert!(
        line("refused a client certificate").contains("certificate="),
        "{log}"
    );
    line("stopped");
    assert!(log.lines().all(|l| !l.trim().is_empty() || l.is_empty()));
}

#[test]
fn the_admin_api_signs_in_the_first_administrator_over_a_real_socket() {
    let data = tempfile::tempdir().unwrap();
    let (child, started) = start(data.path());
    let admin = started["admin"].as_str().unwrap().to_string();
    let password = started["admin_password"].as_str().unwrap().to_string();
    let api = format!("http://{admin}/api/v1");
    let jar = data.path().join("cookies");
    let jar = jar.display();
    // Sign in as the administrator `keyway serve` made: a cookie and a CSRF token.
    let session: Value = serde_json::from_str(&sh(&format!(
        "curl -sf -c {jar} -H 'Content-Type: application/json' \
         -d '{{\"user\": \"admin\", \"password\": \"{password}\"}}' {api}/login"
    )))
    .unwrap();
    assert_eq!(session["user"], "admin");
    let csrf = session["csrf_token"].as_str().unwrap();
    let me: Value = serde_json::from_str(&sh(&format!("curl -sf -b {jar} {api}/me"))).unwrap();
    assert_eq!(me["name"], "admin");
    // A change without the CSRF token is refused; with it, it is made and audited as
    // coming from the API and the caller's address.
    let refused = sh(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' -b {jar} -H 'Content-Type: application/json' \
         -d '{{\"name\": \"ci\", \"permissions\": [\"manage_connectors\"]}}' {api}/users"
    ));
    assert_eq!(refused, "403");
    let added: Value = serde_json::from_str(&sh(&format!(
        "curl -sf -b {jar} -H 'X-CSRF-Token: {csrf}' -H 'Content-Type: application/json' \
         -d '{{\"name\": \"ci\", \"permissions\": [\"manage_connectors\"]}}' {api}/users"
    )))
    .unwrap();
    assert_eq!(added["name"], "ci");
    // A token for ci, used as a bearer: ci's permissions, not the administrator's.
    let made: Value = serde_json::from_str(&sh(&format!(
        "curl -sf -b {jar} -H 'X-CSRF-Token: {csrf}' -H 'Content-Type: application/json' \
         -d '{{\"name\": \"deploy\", \"expires_in_days\": 30}}' {api}/users/ci/tokens"
    )))
    .unwrap();
    let token = made["secret"].as_str().unwrap();
    let connectors = sh(&format!(
        "curl -s -w ' %{{http_code}}' -H 'Authorization: Bearer {token}' {api}/connectors"
    ));
    assert!(connectors.ends_with(" 200"), "{connectors}");
    let users = sh(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' -H 'Authorization: Bearer {token}' {api}/users"
    ));
    assert_eq!(users, "403");
    // Health and metrics answer beside the API as before.
    assert_eq!(sh(&format!("curl -sf http://{admin}/healthz")), "ok\n");
    assert_eq!(stop(child), 0);
    let log = sh(&format!(
        "KEYWAY_MASTER_KEY={KEY} {} audit-log --data-dir {} --json",
        assert_cmd::cargo::cargo_bin("keyway").display(),
        data.path().display()
    ));
    let log: Value = serde_json::from_str(&log).unwrap();
    let entries = log.as_array().unwrap();
    let added = entries
        .iter()
        .find(|e| e["action"] == "user.add" && e["object"] == "user ci")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(added["actor"], "admin");
    assert_eq!(added["origin"], "api 127.0.0.1");
}

#[test]
fn the_admin_listener_speaks_https_with_the_gateways_certificate_when_asked() {
    let data = tempfile::tempdir().unwrap();
    let (child, started) = start_with(data.path(), &["--admin-https"]);
    let admin = started["admin"].as_str().unwrap().to_string();
    let password = started["admin_password"].as_str().unwrap().to_string();
    let ca = data.path().join("ca.pem");
    assert!(
        ca.exists(),
        "clients trust keyway's CA from {}",
        ca.display()
    );
    // Over HTTPS, trusting keyway's CA: the session cookie is Secure.
    let head = sh(&format!(
        "curl -sf -D - -o /dev/null --cacert {} -H 'Content-Type: application/json' \
         -d '{{\"user\": \"admin\", \"password\": \"{password}\"}}' https://{admin}/api/v1/login",
        ca.display()
    ));
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("{head}"));
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    // Health answers over HTTPS too; plain HTTP gets no answer.
    assert_eq!(
        sh(&format!(
            "curl -sf --cacert {} https://{admin}/healthz",
            ca.display()
        )),
        "ok\n"
    );
    let plain = Command::new("curl")
        .args(["-s", "-m", "5", &format!("http://{admin}/healthz")])
        .output()
        .unwrap();
    assert!(!plain.status.success(), "plain HTTP must not be served");
    // The demo user's client certificate (the one the printed curl command uses) signs
    // in on its own: read-only as it is, a session (with its CSRF token) for changes.
    let curl = started["curl"].as_str().unwrap();
    let gateway_url = curl
        .split_whitespace()
        .find(|w| w.trim_matches('\'').starts_with("https://"))
        .unwrap()
        .to_string();
    let with_cert = |path: &str, extra: &str| {
        let command = curl.replace(&gateway_url, &format!("https://{admin}/api/v1/{path}"));
        format!("{command} -s {extra}")
    };
    let me: Value = serde_json::from_str(&sh(&with_cert("me", ""))).unwrap();
    assert_eq!(me["name"], "demo", "{me}");
    let refused = sh(&with_cert(
        "users/demo/tokens",
        "-o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{\"name\": \"t\"}'",
    ));
    assert_eq!(refused, "403", "a change with the certificate alone");
    let session: Value =
        serde_json::from_str(&sh(&with_cert("login/certificate", "-X POST"))).unwrap();
    assert_eq!(session["user"], "demo", "{session}");
    assert!(session["csrf_token"].is_string());
    assert_eq!(stop(child), 0);
}

#[test]
fn the_admin_listener_serves_a_named_keystore_when_given_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keyway = |args: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("keyway"))
            .args(args)
            .env_remove("KEYWAY_DATABASE_URL")
            .env("KEYWAY_MASTER_KEY", KEY)
            .env("KEYWAY_DATA_DIR", &data)
            .output()
            .unwrap()
    };
    assert!(keyway(&["init"]).status.success());
    // A certificate from a "corporate CA" for admin.test, as a PKCS#12 openssl made.
    let chain = keyway_testkit::TestChain::new("admin", keyway_testkit::KeyKind::EcP256);
    let p12 = keyway_testkit::client_p12(&chain, dir.path());
    let added = keyway(&[
        "identity",
        "add",
        "admin-https",
        p12.to_str().unwrap(),
        "--storepass",
        "changeit",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    // A name that is not in the store stops the start with the fix.
    let mut missing = Command::new(assert_cmd::cargo::cargo_bin("keyway"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--admin-https",
        ])
        .args(["--admin-keystore", "nowhere"])
        .env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", &data)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let said = String::from_utf8_lossy(&std::mem::take(&mut missing.stderr)).to_string();
    assert!(said.contains("nowhere"), "{said}");
    let (child, started) = start_with(&data, &["--admin-https", "--admin-keystore", "admin-https"]);
    let admin = started["admin"].as_str().unwrap().to_string();
    let port = admin.rsplit(':').next().unwrap();
    std::fs::write(dir.path().join("corporate.pem"), &chain.root_pem).unwrap();
    let health = sh(&format!(
        "curl -sf --cacert {} --resolve admin.test:{port}:127.0.0.1 https://admin.test:{port}/healthz",
        dir.path().join("corporate.pem").display()
    ));
    assert_eq!(health, "ok\n");
    assert_eq!(stop(child), 0);
}
