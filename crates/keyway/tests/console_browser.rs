//! The web console in a real browser: Debian's chromium, headless, driven through
//! chromedriver (fantoccini), against a real `keyway serve` on 127.0.0.1 and a real
//! partner (an in-process rustls server whose root no truststore holds).
//!
//! Sign in (a wrong password first) → Connectors → Test connectivity on the untrusted
//! partner shows `untrusted_root` with the chain and what to do, on the sample connector
//! CONNECTED; a form without its CSRF token is refused; a user who only manages their own
//! certificates sees no Connectors link and gets 404 there; after sign-out the pages lead
//! back to Sign in. Each flow's last page is saved as a screenshot under
//! `target/console-screenshots/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use keyway_testkit::{KeyKind, RustlsServer, ServerOptions, TestChain, WebDriver};
use serde_json::Value;

const KEY: &str = "6f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";

struct Serve {
    child: Child,
    admin: String,
    password: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keyway(data: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("keyway"));
    command
        .env_remove("KEYWAY_DATABASE_URL")
        .env("KEYWAY_MASTER_KEY", KEY)
        .env("KEYWAY_DATA_DIR", data);
    command
}

fn serve(data: &Path) -> Serve {
    let mut child = keyway(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(["--json", "--audit-every", "off"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Value = serde_json::from_str(&line).unwrap();
    Serve {
        child,
        admin: format!("http://{}", started["admin"].as_str().unwrap()),
        password: started["admin_password"].as_str().unwrap().to_string(),
    }
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn browser(driver: &WebDriver) -> Client {
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(WebDriver::chromium_capabilities())
        .connect(&driver.url)
        .await
        .expect("a chromium session")
}

async fn text(client: &Client, css: &str) -> String {
    let found = client.wait().for_element(Locator::Css(css)).await;
    let source = match &found {
        Ok(_) => String::new(),
        Err(_) => client.source().await.unwrap_or_default(),
    };
    found
        .unwrap_or_else(|e| panic!("{css}: {e}\n{source}"))
        .text()
        .await
        .unwrap()
}

async fn sign_in(client: &Client, admin: &str, user: &str, password: &str) {
    client.goto(&format!("{admin}/sign-in")).await.unwrap();
    let form = client.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("user", user).await.unwrap();
    form.set_by_name("password", password).await.unwrap();
    form.submit_with(Locator::XPath("//button[text()='Sign in']"))
        .await
        .unwrap();
}

async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// A raw POST with the session cookie and no CSRF token: the status line.
fn post_without_token(admin: &str, path: &str, session: &str) -> String {
    let address = admin.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(address).unwrap();
    let body = "csrf=";
    write!(
        tcp,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nCookie: keyway_session={session}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_test_connectivity_csrf_permissions_and_sign_out_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let gateway = serve(&data);
    let admin = gateway.admin.clone();

    // A partner whose root no truststore holds, and a user who only manages their own
    // certificates.
    let partner_chain = TestChain::new("partner", KeyKind::EcP256);
    let partner = RustlsServer::start(&partner_chain, ServerOptions::default());
    run(keyway(&data).args([
        "connector",
        "add",
        "partner",
        "--url",
        &format!("https://127.0.0.1:{}/api", partner.port),
        "--server-name",
        "partner.test",
    ]));
    let mut add = keyway(&data)
        .args(["user", "add", "bob", "--password-stdin"])
        .args(["--grant", "manage_personal_setup"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"bobs long password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());

    let driver = WebDriver::start();
    let client = browser(&driver).await;

    // Not signed in: any page leads to Sign in; a wrong password says so.
    client.goto(&format!("{admin}/connectors")).await.unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in")
    );
    assert_eq!(
        text(&client, "label[for=user]").await,
        "User",
        "the field is labelled"
    );
    sign_in(&client, &admin, "admin", "not the password").await;
    assert_eq!(
        text(&client, "[role=alert]").await,
        "Wrong user or password."
    );

    sign_in(&client, &admin, "admin", &gateway.password).await;
    assert_eq!(text(&client, "h1").await, "Dashboard");
    assert!(
        text(&client, "#expiring").await.contains("within 30 days"),
        "the expiry section is there"
    );

    // Connectors → the untrusted partner → Test connectivity.
    client
        .find(Locator::LinkText("Connectors"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let list = text(&client, "table").await;
    assert!(
        list.contains("partner") && list.contains("sample"),
        "{list}"
    );
    client
        .find(Locator::LinkText("partner"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::XPath("//button[text()='Test connectivity']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let result = text(&client, "#result").await;
    assert!(result.contains("FAILED untrusted_root"), "{result}");
    assert!(result.contains("What to do"), "{result}");
    assert!(
        result.contains("partner Root CA") || result.contains("partner Issuing CA"),
        "the missing root is named: {result}"
    );
    assert!(
        result.contains("CN=partner"),
        "the chain table lists the partner's certificate: {result}"
    );
    screenshot(&client, "connector-test-untrusted-root").await;

    // The sample connector (to the gateway's own /echo) connects.
    client
        .goto(&format!("{admin}/connectors/sample"))
        .await
        .unwrap();
    client
        .find(Locator::XPath("//button[text()='Test connectivity']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let result = text(&client, "#result").await;
    assert!(result.contains("CONNECTED with TLS 1.3"), "{result}");
    screenshot(&client, "connector-test-connected").await;

    // The session cookie alone does not make a change.
    let session = client
        .get_named_cookie("keyway_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let status = post_without_token(&admin, "/connectors/partner/test", &session);
    assert!(status.contains(" 403 "), "{status}");

    // Sign out: the pages lead back to Sign in.
    client
        .find(Locator::XPath("//button[text()='Sign out']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in")
    );
    client.goto(&format!("{admin}/connectors")).await.unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in")
    );
    let status = post_without_token(&admin, "/connectors/partner/test", &session);
    assert!(status.contains(" 303 "), "the ended session: {status}");

    // bob manages his own certificates only: no Connectors link, and 404 there.
    sign_in(&client, &admin, "bob", "bobs long password").await;
    assert_eq!(text(&client, "h1").await, "Dashboard");
    let nav = text(&client, "nav").await;
    assert!(!nav.contains("Connectors"), "{nav}");
    client.goto(&format!("{admin}/connectors")).await.unwrap();
    assert_eq!(text(&client, "h1").await, "Not found");
    client
        .goto(&format!("{admin}/connectors/partner"))
        .await
        .unwrap();
    assert_eq!(text(&client, "h1").await, "Not found");
    screenshot(&client, "not-found-for-bob").await;

    client.close().await.unwrap();
    drop(partner);
}
