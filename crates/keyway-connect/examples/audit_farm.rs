//! A farm of local TLS endpoints for `bench/audit-vs-sslyze.sh`: N endpoints on 127.0.0.1
//! of six kinds — TLS 1.2+1.3, TLS 1.3 only, TLS 1.2 only, an expired certificate, a
//! client certificate required, silent (accepts, never answers) — with a keyway.toml that
//! has one connector per endpoint, a target list for sslyze, and what each endpoint is
//! (expected.json) for checking the audit's every field.
//!
//! `cargo run --release -p keyway-connect --example audit_farm -- N DIR`; prints `ready`
//! once everything listens, and serves until its standard input closes.

use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use keyway_testkit::{KeyKind, RustlsServer, ServerOptions, TestChain};

/// What an endpoint is.
#[derive(Clone, Copy)]
enum Kind {
    Modern,
    Tls13Only,
    Tls12Only,
    Expired,
    ClientCert,
    Silent,
}

impl Kind {
    /// Mostly healthy endpoints, as a fleet is; one in fifty silent.
    fn of(i: usize) -> Kind {
        if i % 50 == 49 {
            return Kind::Silent;
        }
        match i % 10 {
            4 => Kind::Tls13Only,
            5 => Kind::Tls12Only,
            6 => Kind::Expired,
            7 => Kind::ClientCert,
            _ => Kind::Modern,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Modern => "modern",
            Kind::Tls13Only => "tls13",
            Kind::Tls12Only => "tls12",
            Kind::Expired => "expired",
            Kind::ClientCert => "clientcert",
            Kind::Silent => "silent",
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: audit_farm N DIR");
    let dir = PathBuf::from(args.next().expect("usage: audit_farm N DIR"));
    std::fs::create_dir_all(&dir).expect("create DIR");

    let chains = [
        ("modern", TestChain::new("modern", KeyKind::EcP256)),
        ("tls13", TestChain::new("tls13", KeyKind::EcP256)),
        ("tls12", TestChain::new("tls12", KeyKind::EcP256)),
        (
            "expired",
            TestChain::with_leaf_validity("expired", KeyKind::EcP256, -400, -10),
        ),
        ("clientcert", TestChain::new("clientcert", KeyKind::EcP256)),
        ("silent", TestChain::new("silent", KeyKind::EcP256)),
    ];
    let chain = |kind: Kind| {
        &chains
            .iter()
            .find(|(name, _)| *name == kind.name())
            .expect("a chain per kind")
            .1
    };
    let client_ca = TestChain::new("partner-clients", KeyKind::EcP256);
    let roots: String = chains.iter().map(|(_, c)| c.root_pem.clone()).collect();
    std::fs::write(dir.join("roots.pem"), roots).expect("write roots");

    let mut toml = String::from("[truststores.farm]\npath = \"roots.pem\"\n\n");
    for (name, _) in &chains {
        toml.push_str(&format!(
            "[profiles.{name}]\ntruststores = [\"farm\"]\nserver_name = \"{name}.test\"\nconnect_timeout = \"5s\"\nhandshake_timeout = \"5s\"\n\n"
        ));
    }
    let mut servers = Vec::new();
    let mut silent = Vec::new();
    let mut targets = String::new();
    let mut expected = Vec::new();
    for i in 0..count {
        let kind = Kind::of(i);
        let port = match kind {
            Kind::Silent => {
                let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
                let port = listener.local_addr().expect("address").port();
                silent.push(listener);
                port
            }
            _ => {
                let versions = match kind {
                    Kind::Tls13Only => vec![&rustls::version::TLS13],
                    Kind::Tls12Only => vec![&rustls::version::TLS12],
                    _ => vec![&rustls::version::TLS13, &rustls::version::TLS12],
                };
                let server = RustlsServer::start(
                    chain(kind),
                    ServerOptions {
                        versions,
                        client_ca_pem: matches!(kind, Kind::ClientCert)
                            .then(|| client_ca.root_pem.clone()),
                        ..ServerOptions::default()
                    },
                );
                let port = server.port;
                servers.push(server);
                port
            }
        };
        let name = format!("e{i:04}-{}", kind.name());
        toml.push_str(&format!(
            "[connectors.{name}]\nkind = \"rest\"\nurl = \"https://127.0.0.1:{port}\"\nprofile = \"{}\"\n\n",
            kind.name()
        ));
        targets.push_str(&format!("127.0.0.1:{port}\n"));
        expected.push(serde_json::json!({
            "connector": name,
            "kind": kind.name(),
            "port": port,
        }));
    }
    std::fs::write(dir.join("keyway.toml"), toml).expect("write keyway.toml");
    std::fs::write(dir.join("targets.txt"), targets).expect("write targets");
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&expected).expect("json"),
    )
    .expect("write expected.json");
    // Silent endpoints: accept and hold every connection until the client hangs up.
    for listener in silent {
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut stream, &mut std::io::sink());
                });
            }
        });
    }
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    // Serve until whoever started us closes our standard input.
    for _ in std::io::stdin().lock().lines() {}
    drop(servers);
}
