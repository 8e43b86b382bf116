//! The web console in a real browser: Debian's chromium, headless, driven through
//! chromedriver (fantoccini), against a real `keyway serve` on 127.0.0.1 and a real
//! partner (an in-process rustls server whose root no truststore holds).
//!
//! Sign in (a wrong password first) → Connectors → Test connectivity on the untrusted
//! partner shows `untrusted_root` with the chain and what to do, on the sample connector
//! CONNECTED; a form without its CSRF token is refused; a user who only manages their own
//! certificates sees no Connectors link and gets 404 there; after sign-out the pages lead
//! back to Sign in. The connector form tests unsaved settings and its fixes (import the
//! root the partner sent; lower the lowest version for a TLS 1.1 partner, `openssl
//! s_server`) make them pass. A user makes a key pair and CSR in the page, an outside CA
//! made by openssl signs it, the upload is checked, the PKCS#12 download is read by
//! keytool and accepted by the gateway as that user's. Each flow's last page is saved
//! as a screenshot under `target/console-screenshots/`.

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
    /// The gateway, `127.0.0.1:PORT`, and the CA file its clients trust.
    listen: String,
    ca: String,
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
        listen: started["listen"].as_str().unwrap().to_string(),
        ca: started["ca_certificate"].as_str().unwrap().to_string(),
    }
}

/// User bob, who manages his own certificates only (password "bobs long password").
fn add_bob(data: &Path) {
    let mut add = keyway(data)
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
    browser_downloading_to(driver, None).await
}

/// A browser that saves downloads in `downloads`.
async fn browser_downloading_to(driver: &WebDriver, downloads: Option<&Path>) -> Client {
    let mut caps = WebDriver::chromium_capabilities();
    if let Some(dir) = downloads {
        caps["goog:chromeOptions"]["prefs"] = serde_json::json!({
            "download.default_directory": dir,
            "download.prompt_for_download": false,
        });
    }
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
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

/// Clicks `element` and waits until the page it was on has been replaced by the next.
async fn click_and_wait(client: &Client, element: fantoccini::elements::Element) {
    let page = client.find(Locator::Css("html")).await.unwrap();
    element.click().await.unwrap();
    for _ in 0..500 {
        if page.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the page did not change after the click");
}

async fn sign_in(client: &Client, admin: &str, user: &str, password: &str) {
    client.goto(&format!("{admin}/sign-in")).await.unwrap();
    let form = client.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("user", user).await.unwrap();
    form.set_by_name("password", password).await.unwrap();
    let button = client
        .find(Locator::XPath("//button[text()='Sign in']"))
        .await
        .unwrap();
    click_and_wait(client, button).await;
}

async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn session_of(client: &Client) -> String {
    client
        .get_named_cookie("keyway_session")
        .await
        .unwrap()
        .value()
        .to_string()
}

/// A raw GET with the session cookie: the whole answer.
fn get_with_session(admin: &str, path: &str, session: &str) -> String {
    let address = admin.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(address).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: keyway_session={session}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    answer
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
    add_bob(&data);

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

    // A client without a certificate is refused at the gateway: the dashboard shows it.
    let _ = Command::new(keyway_testkit::tool("curl"))
        .args(["--silent", "--cacert", &gateway.ca])
        .arg(format!("https://{}/whoami", gateway.listen))
        .output()
        .unwrap();
    sign_in(&client, &admin, "admin", &gateway.password).await;
    assert_eq!(text(&client, "h1").await, "Dashboard");
    assert!(
        text(&client, "#expiring").await.contains("within 30 days"),
        "the expiry section is there"
    );
    let mut refused = String::new();
    for _ in 0..100 {
        refused = text(&client, "section[aria-labelledby=refused]").await;
        if refused.contains("presented no certificate") {
            break;
        }
        // The gateway writes its audit records in batches: look again.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        client.refresh().await.unwrap();
    }
    assert!(refused.contains("presented no certificate"), "{refused}");
    // Each expiring certificate's row links to where it is kept: the demo user's page.
    let link = client
        .find(Locator::Css(
            "#expiring + table a[href='/users/demo/certificates']",
        ))
        .await;
    assert!(
        link.is_ok(),
        "the demo user's certificate links to its page"
    );

    // Connectors → the untrusted partner → Test connectivity.
    let link = client.find(Locator::LinkText("Connectors")).await.unwrap();
    click_and_wait(&client, link).await;
    let list = text(&client, "table").await;
    assert!(
        list.contains("partner") && list.contains("sample"),
        "{list}"
    );
    let link = client.find(Locator::LinkText("partner")).await.unwrap();
    click_and_wait(&client, link).await;
    click_button(&client, "Test connectivity").await;
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
    click_button(&client, "Test connectivity").await;
    let result = text(&client, "#result").await;
    assert!(result.contains("CONNECTED with TLS 1.3"), "{result}");
    screenshot(&client, "connector-test-connected").await;

    // The session cookie alone does not make a change.
    let session = session_of(&client).await;
    let status = post_without_token(&admin, "/connectors/partner/test", &session);
    assert!(status.contains(" 403 "), "{status}");

    // Users: add one with a permission, then disable them; the audit log shows both.
    client.goto(&format!("{admin}/users")).await.unwrap();
    fill(&client, "new-name", "carol").await;
    fill(&client, "new-password", "carols long password").await;
    client
        .find(Locator::Css(
            "input[name=permission][value=manage_connectors]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_button(&client, "Add user").await;
    assert_eq!(text(&client, "[role=status]").await, "Added carol.");
    click_button(&client, "Disable carol").await;
    assert!(
        text(&client, "[role=status]")
            .await
            .starts_with("carol is disabled"),
    );
    client
        .goto(&format!("{admin}/audit-log?action=user.&outcome=ok"))
        .await
        .unwrap();
    let log = text(&client, "table").await;
    assert!(log.contains("user.add") && log.contains("carol"), "{log}");
    assert!(log.contains("user.disable"), "{log}");
    client
        .goto(&format!("{admin}/audit-log?since_hours=soon"))
        .await
        .unwrap();
    assert!(text(&client, "[role=alert]").await.contains("hours"));

    // Integrations: the sample one and who may invoke it; a new one through partner.
    client.goto(&format!("{admin}/integrations")).await.unwrap();
    let table = text(&client, "table").await;
    assert!(
        table.contains("sample") && table.contains("demo"),
        "{table}"
    );
    fill(&client, "int-name", "partner-in").await;
    click_button(&client, "Add integration").await;
    assert!(
        text(&client, "[role=status]")
            .await
            .starts_with("Added integration partner-in through connector"),
    );
    // keyway's CA: its root as a file, what it issued, a revocation.
    client.goto(&format!("{admin}/ca")).await.unwrap();
    let issued = text(&client, "main").await;
    assert!(issued.contains("CN=demo"), "{issued}");
    let root = get_with_session(&admin, "/ca/root.pem", &session_of(&client).await);
    assert!(root.contains("-----BEGIN CERTIFICATE-----"), "{root}");
    let row = "//tr[td[2][contains(., 'CN=demo')]]";
    client
        .find(Locator::XPath(&format!("{row}//input[@type='checkbox']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let revoke = client
        .find(Locator::XPath(&format!(
            "{row}//button[normalize-space()='Revoke']"
        )))
        .await
        .unwrap();
    click_and_wait(&client, revoke).await;
    assert!(
        text(&client, "[role=status]")
            .await
            .starts_with("Revoked CN=demo"),
        "the revocation is said"
    );

    // Sign out: the pages lead back to Sign in.
    click_button(&client, "Sign out").await;
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
    assert!(
        !nav.contains("Connectors") && !nav.contains("Users"),
        "{nav}"
    );
    client.goto(&format!("{admin}/users")).await.unwrap();
    assert_eq!(text(&client, "h1").await, "Not found");
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

async fn click_button(client: &Client, label: &str) {
    let button = client
        .find(Locator::XPath(&format!(
            "//button[normalize-space()='{label}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("button {label}: {e}"));
    click_and_wait(client, button).await;
}

/// Ticks the checkbox (or clicks the element) `css` names, without leaving the page.
async fn tick(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Chooses `path` in the file field `id`.
async fn attach(client: &Client, id: &str, path: &Path) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
}

async fn fill(client: &Client, id: &str, value: &str) {
    let field = client.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connector_form_tests_unsaved_settings_and_its_fixes_make_them_pass() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let gateway = serve(&data);
    let admin = gateway.admin.clone();

    // A partner that sends its root along (untrusted here), and a TLS 1.1-only partner
    // whose root is in truststore bank-roots.
    let partner_chain = TestChain::new("partner2", KeyKind::EcP256);
    let partner = RustlsServer::start(
        &partner_chain,
        ServerOptions {
            chain_pem: Some(vec![
                partner_chain.leaf_pem.clone(),
                partner_chain.intermediate_pem.clone(),
                partner_chain.root_pem.clone(),
            ]),
            ..ServerOptions::default()
        },
    );
    let bank_chain = TestChain::new("old-bank", KeyKind::EcP256);
    let bank = keyway_testkit::OpensslServer::start(
        &bank_chain,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"],
    );
    let bank_root = dir.path().join("bank-root.pem");
    std::fs::write(&bank_root, &bank_chain.root_pem).unwrap();
    run(keyway(&data)
        .args(["truststore", "add", "bank-roots"])
        .arg(&bank_root));

    let driver = WebDriver::start();
    let client = browser(&driver).await;
    sign_in(&client, &admin, "admin", &gateway.password).await;
    assert_eq!(text(&client, "h1").await, "Dashboard");

    // 1. A new connector to a partner whose root is not trusted: tested before saving.
    client
        .goto(&format!("{admin}/connectors/new"))
        .await
        .unwrap();
    fill(&client, "name", "partner2").await;
    fill(
        &client,
        "url",
        &format!("https://127.0.0.1:{}/api", partner.port),
    )
    .await;
    fill(&client, "server_name", "partner2.test").await;
    click_button(&client, "Test connectivity").await;
    let result = text(&client, "#result").await;
    assert!(result.contains("FAILED untrusted_root"), "{result}");
    let fix = text(&client, "#fix-import").await;
    assert_eq!(fix, "Fix: trust this certificate");
    // Without confirming the fingerprint, nothing is imported.
    fill(&client, "fix_truststore", "partner2-roots").await;
    click_button(&client, "Import and test again").await;
    assert!(
        text(&client, "[role=alert]").await.contains("confirm"),
        "the fingerprint must be confirmed"
    );
    fill(&client, "fix_truststore", "partner2-roots").await;
    tick(&client, "#fix_confirm").await;
    click_button(&client, "Import and test again").await;
    let done = text(&client, "p.good[role=status]").await;
    assert!(done.contains("Made truststore partner2-roots"), "{done}");
    let result = text(&client, "#result").await;
    assert!(result.contains("CONNECTED"), "the test ran again: {result}");
    screenshot(&client, "form-import-root-connected").await;
    // Nothing was saved until Save.
    let listed = String::from_utf8(
        keyway(&data)
            .args(["connector", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(!listed.contains("partner2"), "{listed}");
    click_button(&client, "Save").await;
    assert_eq!(text(&client, "h1").await, "Connector partner2");
    let listed = String::from_utf8(
        keyway(&data)
            .args(["connector", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(listed.contains("partner2"), "{listed}");
    // Editing it: a draft without the truststore says how it differs from the saved one.
    client
        .goto(&format!("{admin}/connectors/partner2/edit"))
        .await
        .unwrap();
    tick(&client, "input[name=truststore][value=partner2-roots]").await;
    click_button(&client, "Test connectivity").await;
    let result = text(&client, "#result").await;
    assert!(
        result.contains("These settings fail with untrusted_root; the saved ones pass."),
        "{result}"
    );

    // Through an outbound proxy that wants Basic authentication: the password is sent,
    // saved sealed, kept when left empty, and never shown.
    let proxy = keyway_testkit::ConnectProxy::start(keyway_testkit::ProxyOptions {
        credentials: Some(("svc-proxy".into(), "Console-pr0xy".into())),
        ..keyway_testkit::ProxyOptions::default()
    });
    client
        .goto(&format!("{admin}/connectors/partner2/edit"))
        .await
        .unwrap();
    fill(&client, "proxy_url", &proxy.url()).await;
    fill(&client, "proxy_username", "svc-proxy").await;
    click_button(&client, "Test connectivity").await;
    let result = text(&client, "#result").await;
    assert!(result.contains("FAILED proxy_auth_required"), "{result}");
    fill(&client, "proxy_password", "Console-pr0xy").await;
    click_button(&client, "Test connectivity").await;
    let result = text(&client, "#result").await;
    assert!(result.contains("CONNECTED"), "{result}");
    assert!(
        result.contains(&format!(
            "Through the proxy http://svc-proxy@127.0.0.1:{}",
            proxy.port
        )),
        "{result}"
    );
    fill(&client, "proxy_password", "Console-pr0xy").await;
    click_button(&client, "Save").await;
    assert_eq!(text(&client, "h1").await, "Connector partner2");
    client
        .goto(&format!("{admin}/connectors/partner2/edit"))
        .await
        .unwrap();
    assert!(!client.source().await.unwrap().contains("Console-pr0xy"));
    click_button(&client, "Test connectivity").await;
    let result = text(&client, "#result").await;
    assert!(
        result.contains("CONNECTED"),
        "the stored password is kept: {result}"
    );
    screenshot(&client, "form-through-proxy").await;
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.authorization.as_deref() == Some("Basic c3ZjLXByb3h5OkNvbnNvbGUtcHIweHk=")),
        "{:?}",
        proxy.requests()
    );

    // 2. A TLS 1.1-only partner with "Lowest allowable version" TLS 1.2.
    client
        .goto(&format!("{admin}/connectors/new"))
        .await
        .unwrap();
    fill(&client, "name", "bank").await;
    fill(&client, "url", &format!("https://127.0.0.1:{}/", bank.port)).await;
    fill(&client, "server_name", "old-bank.test").await;
    tick(&client, "input[name=truststore][value=bank-roots]").await;
    click_button(&client, "Test connectivity").await;
    let result = text(&client, "#result").await;
    assert!(result.contains("FAILED version_mismatch"), "{result}");
    assert!(result.contains("TLS 1.1"), "both sides named: {result}");
    let fix = text(&client, "#fix-version").await;
    assert!(fix.contains("TLS 1.1"), "{fix}");
    assert!(
        text(&client, "section.fix").await.contains("deprecated"),
        "the warning is shown"
    );
    // The "accepts" line follows the choice (console.js), before anything is sent.
    client
        .find(Locator::Id("lowest"))
        .await
        .unwrap()
        .select_by_value("TLS 1.0")
        .await
        .unwrap();
    assert_eq!(
        text(&client, "#accepts").await,
        "accepts TLS 1.0, 1.1, 1.2, 1.3 (1.0 and 1.1 are deprecated)"
    );
    client
        .find(Locator::Id("lowest"))
        .await
        .unwrap()
        .select_by_value("TLS 1.2")
        .await
        .unwrap();
    assert_eq!(text(&client, "#accepts").await, "accepts TLS 1.2, 1.3");
    click_button(&client, "Lower to TLS 1.1 and test again").await;
    let result = text(&client, "#result").await;
    assert!(result.contains("CONNECTED with TLS 1.1"), "{result}");
    assert!(result.contains("OpenSSL legacy backend"), "{result}");
    screenshot(&client, "form-lower-version-connected").await;
    click_button(&client, "Save").await;
    assert_eq!(text(&client, "h1").await, "Connector bank");
    let shown = String::from_utf8(
        keyway(&data)
            .args(["connector", "show", "bank", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        shown["tls_versions"],
        serde_json::json!(["TLS 1.1", "TLS 1.2", "TLS 1.3"])
    );

    // Stores: a keytool-made JKS truststore and a PKCS#12 identity uploaded as files; a
    // truststore a connector uses is not removed.
    let jks = dir.path().join("partners.jks");
    keyway_testkit::keytool(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "partner-root",
        "-file",
        bank_root.to_str().unwrap(),
        "-keystore",
        jks.to_str().unwrap(),
        "-storetype",
        "JKS",
        "-storepass",
        "changeit",
    ]);
    client.goto(&format!("{admin}/truststores")).await.unwrap();
    fill(&client, "up-name", "partners-jks").await;
    attach(&client, "up-file", &jks).await;
    fill(&client, "up-password", "changeit").await;
    click_button(&client, "Upload").await;
    let note = text(&client, "[role=status]").await;
    assert!(
        note.starts_with("Stored truststore partners-jks (1 certificates"),
        "{note}"
    );
    assert!(text(&client, "#ts-partners-jks").await == "partners-jks");
    tick(&client, "#confirm-bank-roots").await;
    let remove = client
        .find(Locator::XPath(
            "//section[h2='bank-roots']//button[normalize-space()='Remove truststore']",
        ))
        .await
        .unwrap();
    click_and_wait(&client, remove).await;
    let note = text(&client, "[role=status]").await;
    assert!(
        note.contains("Not removed") && note.contains("used by profile bank"),
        "{note}"
    );
    let p12 = keyway_testkit::client_p12(&partner_chain, dir.path());
    client.goto(&format!("{admin}/keystores")).await.unwrap();
    fill(&client, "up-name", "acme").await;
    attach(&client, "up-file", &p12).await;
    fill(&client, "up-password", "changeit").await;
    click_button(&client, "Upload").await;
    let note = text(&client, "[role=status]").await;
    assert!(
        note.starts_with("Stored keystore acme (alias client"),
        "{note}"
    );
    assert!(text(&client, "#ks-acme").await == "acme");

    // A partner that wants a client certificate from partner2's CA: the fix picks the
    // stored identity that CA issued.
    let mtls = RustlsServer::start(
        &partner_chain,
        ServerOptions {
            client_ca_pem: Some(partner_chain.root_pem.clone()),
            ..ServerOptions::default()
        },
    );
    client
        .goto(&format!("{admin}/connectors/new"))
        .await
        .unwrap();
    fill(&client, "name", "mtls").await;
    fill(&client, "url", &format!("https://127.0.0.1:{}/", mtls.port)).await;
    fill(&client, "server_name", "partner2.test").await;
    tick(&client, "input[name=truststore][value=partner2-roots]").await;
    click_button(&client, "Test connectivity").await;
    let result = text(&client, "#result").await;
    assert!(result.contains("FAILED client_cert_required"), "{result}");
    let fix = text(&client, "#fix-identity").await;
    assert_eq!(fix, "Fix: present a certificate the server accepts");
    click_button(&client, "Use keystore acme").await;
    let result = text(&client, "#result").await;
    assert!(result.contains("CONNECTED"), "{result}");
    screenshot(&client, "form-pick-identity-connected").await;

    // An outside CA's CRL, imported as a file.
    let outside = keyway_testkit::TestCa::new("Outside");
    let outside_pem = dir.path().join("outside-ca.pem");
    std::fs::write(&outside_pem, outside.pem()).unwrap();
    run(keyway(&data)
        .args(["truststore", "add", "outside-clients"])
        .arg(&outside_pem));
    let crl = dir.path().join("outside.crl.pem");
    std::fs::write(&crl, outside.crl(3, &[], 1, 7)).unwrap();
    client.goto(&format!("{admin}/crls")).await.unwrap();
    attach(&client, "crl-file", &crl).await;
    click_button(&client, "Import").await;
    let note = text(&client, "[role=status]").await;
    assert!(
        note.starts_with("Imported the CRL of CN=Outside Root CA"),
        "{note}"
    );
    assert!(text(&client, "table").await.contains("Outside Root CA"));
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_makes_a_csr_uploads_what_an_outside_ca_signed_and_downloads_it_for_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let gateway = serve(&data);
    let admin = gateway.admin.clone();

    // An outside CA made by openssl, trusted for uploads; user bob.
    let ca_key = dir.path().join("outside.key");
    let ca_pem = dir.path().join("outside.pem");
    keyway_testkit::openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        ca_key.to_str().unwrap(),
        "-out",
        ca_pem.to_str().unwrap(),
        "-subj",
        "/CN=Outside Root CA",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(keyway(&data)
        .args(["truststore", "add", "outside-ca"])
        .arg(&ca_pem));
    add_bob(&data);

    let downloads = dir.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let driver = WebDriver::start();
    let client = browser_downloading_to(&driver, Some(&downloads)).await;
    sign_in(&client, &admin, "bob", "bobs long password").await;
    let link = client
        .find(Locator::LinkText("Client certificates"))
        .await
        .unwrap();
    click_and_wait(&client, link).await;
    assert_eq!(text(&client, "h1").await, "Client certificates of bob");

    // Key pair and CSR in the page; the CA signs it; the upload is checked and stored.
    fill(&client, "csr-sans", "email:bob@acme.example").await;
    click_button(&client, "Generate key pair and CSR").await;
    let csr = text(&client, "pre#csr").await;
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    let csr_file = dir.path().join("bob.csr");
    std::fs::write(&csr_file, format!("{csr}\n")).unwrap();
    let asked =
        keyway_testkit::openssl(&["req", "-in", csr_file.to_str().unwrap(), "-noout", "-text"]);
    assert!(
        asked.contains("email:bob@acme.example"),
        "the SAN is asked for: {asked}"
    );
    let ext = dir.path().join("client.ext");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let signed = dir.path().join("bob.pem");
    keyway_testkit::openssl(&[
        "x509",
        "-req",
        "-in",
        csr_file.to_str().unwrap(),
        "-CA",
        ca_pem.to_str().unwrap(),
        "-CAkey",
        ca_key.to_str().unwrap(),
        "-CAcreateserial",
        "-days",
        "20",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        signed.to_str().unwrap(),
    ]);
    // A certificate the CA did not sign for this key is refused, the reason beside it.
    fill(
        &client,
        "upload-certificate",
        &TestChain::new("stray", KeyKind::EcP256).leaf_pem,
    )
    .await;
    fill(&client, "upload-truststore", "outside-ca").await;
    click_button(&client, "Upload certificate").await;
    let refused = text(&client, "[role=alert]").await;
    assert!(refused.contains("key"), "{refused}");
    fill(
        &client,
        "upload-certificate",
        &std::fs::read_to_string(&signed).unwrap(),
    )
    .await;
    fill(&client, "upload-truststore", "outside-ca").await;
    click_button(&client, "Upload certificate").await;
    let done = text(&client, "p.good[role=status]").await;
    assert!(done.starts_with("Stored CN=bob"), "{done}");
    let table = text(&client, "table").await;
    assert!(table.contains("issued by CN=Outside Root CA"), "{table}");
    assert!(
        table.contains("19 days left") || table.contains("20 days left"),
        "{table}"
    );

    // Download as PKCS#12 with a password typed in the page; keytool reads it.
    let password = client
        .find(Locator::Css("input[name=password][type=password]"))
        .await
        .unwrap();
    password.send_keys("changeit").await.unwrap();
    client
        .find(Locator::XPath("//button[normalize-space()='Download']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut p12 = None;
    for _ in 0..500 {
        p12 = std::fs::read_dir(&downloads)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "p12"));
        if p12.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let p12 = p12.expect("the PKCS#12 file was downloaded");
    let listed = keyway_testkit::keytool(&[
        "-list",
        "-v",
        "-storetype",
        "PKCS12",
        "-keystore",
        p12.to_str().unwrap(),
        "-storepass",
        "changeit",
    ]);
    assert!(
        listed.contains("PrivateKeyEntry") && listed.contains("CN=bob"),
        "{listed}"
    );

    // The gateway accepts it as bob's.
    let out = Command::new(keyway_testkit::tool("curl"))
        .args(["--silent", "--show-error", "--cert-type", "P12", "--cert"])
        .arg(format!("{}:changeit", p12.display()))
        .args(["--cacert", &gateway.ca])
        .arg(format!("https://{}/whoami", gateway.listen))
        .output()
        .unwrap();
    let whoami: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(whoami["user"], "bob", "{whoami}");
    screenshot(&client, "client-certificate-uploaded").await;

    // bob sees no one else's: 404 for the administrator's page.
    client
        .goto(&format!("{admin}/users/admin/certificates"))
        .await
        .unwrap();
    assert_eq!(text(&client, "h1").await, "Not found");
    client.close().await.unwrap();
}
