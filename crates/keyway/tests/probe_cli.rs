//! `keyway probe` end to end against real servers on 127.0.0.1.

use std::time::Duration;

use assert_cmd::Command;
use keyway_testkit::{KeyKind, OpensslServer, TestChain};
use serde_json::Value;

fn keyway() -> Command {
    let mut cmd = Command::cargo_bin("keyway").unwrap();
    cmd.timeout(Duration::from_secs(60));
    cmd
}

#[test]
fn probe_reports_versions_chain_and_client_certificate_request() {
    let chain = TestChain::new("probe-partner", KeyKind::EcP256);
    let server = OpensslServer::start(&chain, &["-Verify", "1", "-CAfile", "{root}"]);
    let out = keyway()
        .args(["probe", &server.address(), "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["supported"], serde_json::json!(["TLS 1.2", "TLS 1.3"]));
    assert_eq!(json["versions"][3]["version"], "TLS 1.2");
    assert_eq!(json["versions"][3]["result"], "accepted");
    assert!(
        json["chain"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("probe-partner"),
        "{json}"
    );
    assert_eq!(
        json["client_certificate"]["acceptable_cas"][0],
        "CN=probe-partner Root CA, O=keyway tests"
    );

    let out = keyway()
        .args(["probe", &server.address()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Speaks: TLS 1.2–1.3"), "{text}");
    assert!(
        text.contains("Client certificate: requested; acceptable CAs:"),
        "{text}"
    );
}

#[test]
fn probe_of_a_port_that_speaks_no_tls_exits_1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
        }
    });
    let out = keyway()
        .args(["probe", &address, "--timeout", "2s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not TLS: the server sent SSH-2.0-OpenSSH"),
        "{text}"
    );
    assert!(text.contains("Speaks: none"), "{text}");
}

#[test]
fn probe_usage_errors_exit_2() {
    keyway()
        .args(["probe", "no-port-here"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is not HOST:PORT"));
    keyway()
        .args(["probe", "127.0.0.1:1", "--timeout", "soon"])
        .assert()
        .code(2);
}
