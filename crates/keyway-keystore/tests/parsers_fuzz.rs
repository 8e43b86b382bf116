//! Bounded property tests over every parser: random bytes and mutated real stores
//! (truncated, bit-flipped, length fields blown up) must give an error or a store,
//! never a panic; and what keyway writes, it reads back unchanged.
//!
//! The case count is bounded for the test command; raise it with PROPTEST_CASES for a
//! longer run (e.g. `PROPTEST_CASES=100000 cargo test --release --test parsers_fuzz`).

use std::path::Path;

use keyway_keystore::{Certificate, Format, Keystore, WriteOptions};
use proptest::prelude::*;

/// The case count: PROPTEST_CASES when set (for long runs), else the bounded default.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sample")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn seeds() -> Vec<Vec<u8>> {
    [
        "partners.jks",
        "legacy.jceks",
        "client.p12",
        "acme-ca.pem",
        "partner-root.pem",
    ]
    .map(sample)
    .to_vec()
}

/// Everything a caller might do with a parsed store; none of it may panic.
fn exercise(data: &[u8]) {
    for password in [Some("changeit"), None] {
        if let Ok(store) = Keystore::from_bytes(data, None, password) {
            for entry in store.entries() {
                let _ = entry.summary();
                let _ = entry.private_key(Some("changeit"));
            }
            let options = WriteOptions {
                store_password: Some("x".into()),
                ..Default::default()
            };
            for format in [Format::Jks, Format::Pkcs12, Format::Pem, Format::Der] {
                let _ = store.to_bytes(format, &options);
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(Vec<(usize, u8)>),
    HugeLength(usize),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        prop::collection::vec((any::<usize>(), 1u8..=255), 1..8).prop_map(Mutation::Flip),
        any::<usize>().prop_map(Mutation::HugeLength),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
    ]
}

fn apply(mut data: Vec<u8>, m: &Mutation) -> Vec<u8> {
    if data.is_empty() {
        return data;
    }
    match m {
        Mutation::Truncate(at) => data.truncate(at % data.len()),
        Mutation::Flip(flips) => {
            for (at, mask) in flips {
                let i = at % data.len();
                data[i] ^= mask;
            }
        }
        Mutation::HugeLength(at) => {
            let i = at % data.len();
            for (k, b) in [0xFF, 0xFF, 0xFF, 0xF0].into_iter().enumerate() {
                if let Some(slot) = data.get_mut(i + k) {
                    *slot = b;
                }
            }
        }
        Mutation::Insert(at, bytes) => {
            let i = at % data.len();
            data.splice(i..i, bytes.iter().copied());
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1500), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&data);
    }

    #[test]
    fn random_bytes_behind_a_real_magic_never_panic(
        magic in prop::sample::select(vec![
            vec![0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2],
            vec![0xCE, 0xCE, 0xCE, 0xCE, 0, 0, 0, 2],
            b"-----BEGIN CERTIFICATE-----\n".to_vec(),
            vec![0x30, 0x82],
        ]),
        tail in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        let mut data = magic;
        data.extend(tail);
        exercise(&data);
    }

    #[test]
    fn mutated_real_stores_never_panic(seed in 0usize..5, mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut data = seeds()[seed].clone();
        for m in &mutations {
            data = apply(data, m);
        }
        exercise(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Aliases of any Unicode (Java's modified UTF-8, supplementary characters, NUL) and any
    /// store password survive a JKS write and read; JKS lower-cases aliases as keytool does.
    #[test]
    fn jks_round_trips_any_alias_and_password(
        aliases in prop::collection::btree_set("[a-z0-9 ._\\-\u{e9}\u{4e2d}\u{1f511}]{1,24}", 1..6),
        password in "\\PC{0,20}",
    ) {
        let cert_pem = sample("partner-root.pem");
        let cert: Certificate = Keystore::from_bytes(&cert_pem, None, None).unwrap().entries()[0].chain()[0].clone();
        let mut store = Keystore::new(Format::Jks);
        let mut added = Vec::new();
        for alias in &aliases {
            if store.add_trusted_cert(alias, cert.clone()).is_ok() {
                added.push(alias.to_lowercase());
            }
        }
        let options = WriteOptions { store_password: Some(password.clone()), ..Default::default() };
        let bytes = store.to_bytes(Format::Jks, &options).unwrap();
        let back = Keystore::from_bytes(&bytes, Some(Format::Jks), Some(&password)).unwrap();
        let read: Vec<String> = back.entries().iter().map(|e| e.alias.clone()).collect();
        prop_assert_eq!(read, added);
        prop_assert!(back.entries().iter().all(|e| e.chain()[0].der() == cert.der()));
    }
}
