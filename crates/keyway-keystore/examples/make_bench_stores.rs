//! Writes the benchmark stores: `bench.jks` and `bench.p12` with N entries each
//! (default 1000: trusted certificates plus one private-key entry per 100).
//!
//!     cargo run --release -p keyway-keystore --example make_bench_stores -- OUT_DIR [N]

use keyway_keystore::{Format, Keystore, WriteOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: make_bench_stores OUT_DIR [N]"));
    let n: usize = args
        .next()
        .map(|s| s.parse().expect("N is a number"))
        .unwrap_or(1000);
    let keys = n / 100;
    let mut store = Keystore::new(Format::Jks);
    for i in 0..keys {
        let chain = keyway_testkit::TestChain::new(
            &format!("client-{i:04}"),
            keyway_testkit::KeyKind::EcP256,
        );
        let pem = format!("{}{}", chain.leaf_key_pem, chain.chain_pem());
        let parsed = Keystore::from_bytes(pem.as_bytes(), None, None).expect("generated PEM");
        let entry = &parsed.entries()[0];
        let key = entry.private_key(None).expect("plain key");
        store
            .add_private_key(&format!("client-{i:04}"), key, entry.chain().to_vec())
            .expect("add key");
    }
    for i in keys..n {
        let pem = keyway_testkit::self_signed_pem(&format!("Partner {i:04} Root CA"));
        let parsed = Keystore::from_bytes(pem.as_bytes(), None, None).expect("generated PEM");
        store
            .add_trusted_cert(
                &format!("partner-{i:04}"),
                parsed.entries()[0].chain()[0].clone(),
            )
            .expect("add cert");
    }
    let options = WriteOptions {
        store_password: Some("changeit".into()),
        ..Default::default()
    };
    for (name, format) in [("bench.jks", Format::Jks), ("bench.p12", Format::Pkcs12)] {
        let bytes = store.to_bytes(format, &options).expect("encode");
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    println!(
        "wrote {n} entries ({keys} private keys) to bench.jks and bench.p12 in {}",
        dir.display()
    );
}
