//! Through an outbound proxy, on the real binary: `keyway test` and `keyway probe` with
//! `--proxy`, the environment's HTTPS_PROXY/NO_PROXY and `--no-proxy`; a proxy password
//! never printed nor stored in clear; a stored connector and a keyway.toml profile with a
//! proxy (the connector test and the fleet audit go through it); and Debian's tinyproxy
//! end to end.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{
    ConnectProxy, KeyKind, ProxyOptions, RustlsServer, ServerOptions, TestChain, Tinyproxy,
};
use serde_json::Value;

const KEY: &str = "3f2e3d4c5b6a79887766554433221100ffeeddccbbaa99887766554433221100";
const PROXY_VARIABLES: [&str; 6] = [
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The binary with no proxy from this process's environment.
fn keyway() -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    for name in PROXY_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_CONFIG")
        .timeout(Duration::from_secs(60));
    cmd
}

/// Runs and returns (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report(stdout: &str) -> Value {
    let v: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    keyway_testkit::assert_json_kind("test-report", &v);
    v
}

struct Partner {
    dir: tempfile::TempDir,
    server: RustlsServer,
    root: std::path::PathBuf,
}

fn partner(name: &str) -> Partner {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new(name, KeyKind::EcP256);
    chain.write_pem(dir.path());
    let server = RustlsServer::start(&chain, ServerOptions::default());
    let root = dir.path().join("root.pem");
    Partner { dir, server, root }
}

impl Partner {
    fn test_args(&self, name: &str) -> Vec<String> {
        vec![
            "test".into(),
            format!("https://127.0.0.1:{}/health", self.server.port),
            "--truststore".into(),
            self.root.display().to_string(),
            "--servername".into(),
            format!("{name}.test"),
        ]
    }
}

#[test]
fn keyway_test_goes_through_the_proxy_from_the_flag_or_the_environment() {
    let p = partner("px-partner");
    let proxy = ConnectProxy::start(ProxyOptions::default());

    let (code, out, err) = run(keyway()
        .args(p.test_args("px-partner"))
        .args(["--proxy", &proxy.url()]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("through the proxy {}", proxy.url())),
        "{out}"
    );
    assert!(
        out.contains("tunnel: established (the proxy answered CONNECT with HTTP/1.1 200 Connection established)"),
        "{out}"
    );
    assert_eq!(proxy.requests().len(), 1);

    // HTTPS_PROXY, as curl reads it.
    let (code, out, _) = run(keyway()
        .args(p.test_args("px-partner"))
        .arg("--json")
        .env("HTTPS_PROXY", proxy.url()));
    assert_eq!(code, 0, "{out}");
    let v = report(&out);
    assert_eq!(
        v["evidence"]["proxy"]["source"],
        "environment variable HTTPS_PROXY"
    );
    assert_eq!(v["evidence"]["proxy"]["tunnel_established"], true);
    assert_eq!(proxy.requests().len(), 2);

    // NO_PROXY (a CIDR range here) and --no-proxy both go direct.
    for extra in [
        vec![("NO_PROXY", "localhost,127.0.0.0/8")],
        vec![("no_proxy", "127.0.0.1")],
    ] {
        let (code, out, _) = run(keyway()
            .args(p.test_args("px-partner"))
            .arg("--json")
            .env("HTTPS_PROXY", proxy.url())
            .envs(extra));
        assert_eq!(code, 0, "{out}");
        assert!(report(&out)["evidence"].get("proxy").is_none(), "{out}");
    }
    let (code, out, _) = run(keyway()
        .args(p.test_args("px-partner"))
        .args(["--json", "--no-proxy"])
        .env("https_proxy", proxy.url()));
    assert_eq!(code, 0, "{out}");
    assert!(report(&out)["evidence"].get("proxy").is_none(), "{out}");
    assert_eq!(proxy.requests().len(), 2, "no tunnel for the direct runs");

    // A proxy setting keyway cannot use is an error naming where it came from.
    let (code, out, err) = run(keyway()
        .args(p.test_args("px-partner"))
        .env("ALL_PROXY", "socks5://user:hunter2@127.0.0.1:1"));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("environment variable ALL_PROXY"), "{err}");
    assert!(err.contains("SOCKS proxies are not supported"), "{err}");
    assert!(!format!("{out}{err}").contains("hunter2"), "{err}");
}

#[test]
fn a_proxy_password_is_sent_but_never_printed() {
    let p = partner("px-auth");
    let proxy = ConnectProxy::start(ProxyOptions {
        credentials: Some(("svc-keyway".into(), "Pr0xy-s3cret".into())),
        ..ProxyOptions::default()
    });
    let user_url = format!("http://svc-keyway@127.0.0.1:{}", proxy.port);

    let (code, out, err) = run(keyway()
        .args(p.test_args("px-auth"))
        .args(["--json", "--proxy", &user_url])
        .args(["--proxy-password", "env:PX_PASS"])
        .env("PX_PASS", "not-Pr0xy-s3cret"));
    assert_eq!(code, 1, "{out}{err}");
    let v = report(&out);
    assert_eq!(v["code"], "proxy_auth_required");
    assert_eq!(v["cause"]["credentials_sent"], true);
    assert_eq!(v["evidence"]["proxy"]["proxy"], user_url);
    assert!(!format!("{out}{err}").contains("not-Pr0xy-s3cret"));

    let (code, out, err) = run(keyway()
        .args(p.test_args("px-auth"))
        .args(["--proxy", &proxy.url()]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAILED: proxy_auth_required"), "{out}");
    assert!(out.contains("none is configured"), "{out}");
    assert!(out.contains("--proxy-password"), "{out}");

    // In the URL (as curl takes it) it works too, and is still not shown.
    let (code, out, err) = run(keyway()
        .args(p.test_args("px-auth"))
        .args(["--proxy", &proxy.url_with("svc-keyway", "Pr0xy-s3cret")]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("through the proxy {user_url}")),
        "{out}"
    );
    assert!(!format!("{out}{err}").contains("Pr0xy-s3cret"), "{out}");
}

#[test]
fn tinyproxy_end_to_end() {
    let p = partner("px-tiny");
    let tiny = Tinyproxy::start(Some(("svc", "tiny-s3cret")));
    let with_user = format!("http://svc@127.0.0.1:{}", tiny.port);

    let (code, out, err) = run(keyway()
        .args(p.test_args("px-tiny"))
        .args(["--json", "--proxy", &with_user])
        .args(["--proxy-password", "env:TINY_PASS"])
        .env("TINY_PASS", "tiny-s3cret"));
    assert_eq!(code, 0, "{out}{err}");
    let v = report(&out);
    assert_eq!(v["negotiated"]["http_status"], 200);
    assert_eq!(v["evidence"]["proxy"]["tunnel_established"], true);

    // Without credentials: tinyproxy's 407 and the scheme it asks for.
    let (code, out, _) =
        run(keyway()
            .args(p.test_args("px-tiny"))
            .args(["--json", "--proxy", &tiny.url()]));
    assert_eq!(code, 1, "{out}");
    let v = report(&out);
    assert_eq!(v["code"], "proxy_auth_required");
    assert!(
        v["cause"]["scheme"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Basic"),
        "{v}"
    );

    // A destination tinyproxy cannot reach: its own refusal, with its words.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out, _) = run(keyway()
        .args([
            "test",
            &format!("127.0.0.1:{closed}"),
            "--json",
            "--proxy",
            &with_user,
        ])
        .args(["--proxy-password", "env:TINY_PASS"])
        .env("TINY_PASS", "tiny-s3cret"));
    assert_eq!(code, 1, "{out}");
    let v = report(&out);
    assert_eq!(v["code"], "proxy_refused", "{v}");
    assert_eq!(v["blame"], "network");
    assert!(
        v["remediation"][0]
            .as_str()
            .unwrap()
            .contains("could not reach"),
        "{v}"
    );

    // The version probe goes through the same proxy.
    let (code, out, err) = run(keyway()
        .args([
            "probe",
            &format!("127.0.0.1:{}", p.server.port),
            "--json",
            "--servername",
            "px-tiny.test",
            "--proxy",
            &with_user,
        ])
        .args(["--proxy-password", "env:TINY_PASS"])
        .env("TINY_PASS", "tiny-s3cret"));
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    keyway_testkit::assert_json_kind("probe-report", &v);
    assert_eq!(v["proxy"], with_user);
    assert_eq!(v["port"], p.server.port);
    assert!(
        v["supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "TLS 1.3"),
        "{v}"
    );
}

/// Every byte under `dir`, for looking for a secret stored in clear.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.extend(bytes);
        }
    }
    out
}

#[test]
fn a_stored_connector_keeps_its_proxy_and_seals_the_password() {
    let p = partner("px-stored");
    let proxy = ConnectProxy::start(ProxyOptions {
        credentials: Some(("svc".into(), "St0red-proxy-pw".into())),
        ..ProxyOptions::default()
    });
    let data = p.dir.path().join("data");
    let store = |cmd: &mut Command| {
        cmd.env("KEYWAY_MASTER_KEY", KEY)
            .env("KEYWAY_DATA_DIR", &data)
            .current_dir(p.dir.path());
    };
    let mut add_trust = keyway();
    store(&mut add_trust);
    let (code, out, err) = run(add_trust
        .args(["truststore", "add", "partners"])
        .arg(&p.root));
    assert_eq!(code, 0, "{out}{err}");
    let user_url = format!("http://svc@127.0.0.1:{}", proxy.port);
    let add = |password: Option<&str>| {
        let mut cmd = keyway();
        store(&mut cmd);
        cmd.args(["connector", "add", "orders", "--url"])
            .arg(format!("https://127.0.0.1:{}/", p.server.port))
            .args([
                "--truststore",
                "partners",
                "--server-name",
                "px-stored.test",
            ])
            .args(["--proxy", &user_url, "--noproxy", "internal.example"]);
        if let Some(password) = password {
            cmd.args(["--proxy-password", "env:PX_PASS"])
                .env("PX_PASS", password);
        }
        cmd
    };
    let (code, out, err) = run(&mut add(Some("St0red-proxy-pw")));
    assert_eq!(code, 0, "{out}{err}");

    let connector_test = || {
        let mut cmd = keyway();
        store(&mut cmd);
        let (code, out, err) = run(cmd.args(["connector", "test", "orders", "--json"]));
        (code, out, err)
    };
    let (code, out, err) = connector_test();
    assert_eq!(code, 0, "{out}{err}");
    let requests = proxy.requests();
    assert!(!requests.is_empty());
    assert_eq!(
        requests.last().unwrap().authorization.as_deref(),
        Some("Basic c3ZjOlN0MHJlZC1wcm94eS1wdw==")
    );

    let mut show = keyway();
    store(&mut show);
    let (code, out, _) = run(show.args(["connector", "show", "orders", "--json"]));
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    keyway_testkit::assert_json_kind("connector", &v);
    assert_eq!(v["proxy"], user_url);

    // Sealed: the database and everything else in the data directory lack it in clear.
    let bytes = all_bytes(&data);
    assert!(
        !bytes
            .windows("St0red-proxy-pw".len())
            .any(|w| w == b"St0red-proxy-pw"),
        "the proxy password is stored in clear"
    );

    // Replaced with the same proxy and user but no password: the stored one is kept.
    let mut replace = add(None);
    let (code, out, err) = run(replace.arg("--replace"));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = connector_test();
    assert_eq!(code, 0, "the sealed password was kept: {out}{err}");

    // Straight to the partner, whatever the environment says.
    let mut direct = keyway();
    store(&mut direct);
    let (code, out, err) = run(direct
        .args([
            "connector",
            "add",
            "orders",
            "--replace",
            "--no-proxy",
            "--url",
        ])
        .arg(format!("https://127.0.0.1:{}/", p.server.port))
        .args([
            "--truststore",
            "partners",
            "--server-name",
            "px-stored.test",
        ]));
    assert_eq!(code, 0, "{out}{err}");
    let before = proxy.requests().len();
    let mut cmd = keyway();
    store(&mut cmd);
    let (code, out, err) = run(cmd
        .args(["connector", "test", "orders", "--json"])
        .env("HTTPS_PROXY", proxy.url()));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(proxy.requests().len(), before);
}

#[test]
fn a_keyway_toml_profile_proxies_the_connector_test_and_the_audit() {
    let p = partner("px-toml");
    let proxy = ConnectProxy::start(ProxyOptions {
        credentials: Some(("svc".into(), "toml-pw".into())),
        ..ProxyOptions::default()
    });
    let config = p.dir.path().join("keyway.toml");
    let write = |proxy_line: &str| {
        std::fs::write(
            &config,
            format!(
                r#"
[truststores.partners]
path = "root.pem"

[profiles.corp]
truststores = ["partners"]
server_name = "px-toml.test"
{proxy_line}

[connectors.orders]
kind = "rest"
url = "https://127.0.0.1:{port}/"
profile = "corp"
"#,
                port = p.server.port
            ),
        )
        .unwrap();
    };
    write(&format!(
        r#"proxy = {{ url = "{}", username = "svc", password = {{ env = "PX_PASS" }} }}"#,
        proxy.url()
    ));
    let (code, out, err) = run(keyway()
        .args(["connector", "test", "orders", "--json"])
        .env("KEYWAY_CONFIG", &config)
        .env("PX_PASS", "toml-pw"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!proxy.requests().is_empty());

    // A call (the connectors' pooled client) tunnels too.
    let before = proxy.requests().len();
    let (code, out, err) = run(keyway()
        .args(["connector", "call", "orders", "--path", "/orders"])
        .env("KEYWAY_CONFIG", &config)
        .env("PX_PASS", "toml-pw"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.starts_with("HTTP 200"), "{err}");
    assert_eq!(proxy.requests().len(), before + 1);
    let after_test = proxy.requests().len();

    let (code, out, err) = run(keyway()
        .args(["audit", "--json"])
        .env("KEYWAY_CONFIG", &config)
        .env("PX_PASS", "toml-pw"));
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    keyway_testkit::assert_json_kind("audit", &v);
    assert_eq!(v["connectors"][0]["standing"], "passing", "{v}");
    assert_eq!(
        v["connectors"][0]["proxy"],
        format!("http://svc@127.0.0.1:{}", proxy.port)
    );
    assert_eq!(
        v["connectors"][0]["probe"]["proxy"],
        format!("http://svc@127.0.0.1:{}", proxy.port)
    );
    assert!(
        proxy.requests().len() > after_test + 1,
        "the audit's check and probe tunnel too"
    );

    // A password in the URL or a proxy keyway cannot speak to: errors naming the field.
    for (line, words) in [
        (
            r#"proxy = { url = "http://svc:toml-pw@127.0.0.1:1" }"#.to_string(),
            "holds a password",
        ),
        (
            r#"proxy = { url = "socks5://127.0.0.1:1" }"#.to_string(),
            "SOCKS proxies are not supported",
        ),
    ] {
        write(&line);
        let (code, out, err) = run(keyway()
            .args(["connector", "test", "orders"])
            .env("KEYWAY_CONFIG", &config));
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains("proxy.url"), "{err}");
        assert!(err.contains("profile \"corp\""), "{err}");
        assert!(err.contains(words), "{err}");
        assert!(!err.contains("toml-pw"), "{err}");
    }
}
