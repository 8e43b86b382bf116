//! The x509-limbo path-validation vectors (testdata/x509-limbo, Apache-2.0) through
//! keyway's certificate verification, [`keyway_tls::verify_chain`].
//!
//! The test fails when keyway accepts a must-fail case that is not on the reasoned list
//! in `testdata/x509-limbo/differences.tsv`, when it accepts any must-fail case of high
//! or critical importance, or when a listed difference no longer is one (so the list
//! stays true). It prints the table kept in `docs/x509-limbo.md`; set
//! `KEYWAY_WRITE_LIMBO_DOC=1` to rewrite that file from this run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use keyway_tls::{ChainCheck, Purpose, verify_chain};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Result {
    Passed,
    Failed,
    Skipped,
}

struct Row {
    id: String,
    importance: String,
    expected: String,
    got: String,
    result: Result,
    reason: String,
}

fn certs(v: &Value) -> Vec<CertificateDer<'static>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| CertificateDer::from_pem_slice(p.as_str().unwrap().as_bytes()).unwrap())
        .collect()
}

/// Why keyway does not take a case as the vector states it, if so.
fn unsupported(case: &Value) -> Option<String> {
    if !case["max_chain_depth"].is_null() {
        return Some("a caller-set maximum chain depth: keyway uses webpki's own limits".into());
    }
    if !case["signature_algorithms"].as_array().unwrap().is_empty() {
        return Some("a caller-set list of signature algorithms".into());
    }
    if !case["key_usage"].as_array().unwrap().is_empty() {
        return Some("a caller-required key usage: keyway requires the EKU of the purpose".into());
    }
    if case["validation_kind"] == "SERVER" && case["expected_peer_name"].is_null() {
        return Some(
            "a server certificate validated without a name: keyway always checks one".into(),
        );
    }
    None
}

fn run(case: &Value) -> std::result::Result<(), String> {
    let anchors = certs(&case["trusted_certs"]);
    let intermediates = certs(&case["untrusted_intermediates"]);
    let leaf =
        CertificateDer::from_pem_slice(case["peer_certificate"].as_str().unwrap().as_bytes())
            .map_err(|e| format!("peer certificate: {e:?}"))?;
    let crls: Vec<CertificateRevocationListDer<'static>> = case["crls"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|p| {
                    CertificateRevocationListDer::from_pem_slice(p.as_str().unwrap().as_bytes())
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default();
    let at = match case["validation_time"].as_str() {
        Some(t) => {
            let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .unwrap();
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.unix_timestamp() as u64)
        }
        None => SystemTime::now(),
    };
    let name = case["expected_peer_name"]["value"].as_str();
    let purpose = match case["validation_kind"].as_str() {
        Some("CLIENT") => Purpose::Client,
        _ => Purpose::Server,
    };
    verify_chain(&ChainCheck {
        anchors: &anchors,
        intermediates: &intermediates,
        leaf: &leaf,
        crls: &crls,
        name,
        purpose,
        at,
    })
    .map_err(|e| e.to_string())
}

#[test]
fn x509_limbo_vectors() {
    let text = std::fs::read_to_string(repo().join("testdata/x509-limbo/limbo.json")).unwrap();
    let limbo: Value = serde_json::from_str(&text).unwrap();
    let differences: BTreeMap<String, String> =
        std::fs::read_to_string(repo().join("testdata/x509-limbo/differences.tsv"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (id, why) = l.split_once('\t').expect("id<TAB>reason");
                assert!(
                    !why.trim().is_empty(),
                    "{id}: a difference needs its reason"
                );
                (id.to_string(), why.to_string())
            })
            .collect();

    let mut rows = Vec::new();
    for case in limbo["testcases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap().to_string();
        let expected = case["expected_result"].as_str().unwrap().to_string();
        let importance = case["importance"].as_str().unwrap().to_string();
        if let Some(why) = unsupported(case) {
            rows.push(Row {
                id,
                importance,
                expected,
                got: "-".into(),
                result: Result::Skipped,
                reason: format!("not expressible: {why}"),
            });
            continue;
        }
        let outcome = run(case);
        let got = if outcome.is_ok() {
            "SUCCESS"
        } else {
            "FAILURE"
        };
        let (result, reason) = if got == expected {
            (Result::Passed, String::new())
        } else {
            let why = differences
                .get(&id)
                .cloned()
                .unwrap_or_else(|| "UNLISTED".into());
            let detail = outcome
                .err()
                .map(|e| format!(" (keyway: {e})"))
                .unwrap_or_default();
            (Result::Failed, format!("{why}{detail}"))
        };
        rows.push(Row {
            id,
            importance,
            expected,
            got: got.into(),
            result,
            reason,
        });
    }

    let count = |r: Result| rows.iter().filter(|row| row.result == r).count();
    let accepted_must_fail: Vec<&Row> = rows
        .iter()
        .filter(|r| r.result == Result::Failed && r.expected == "FAILURE")
        .collect();
    let rejected_must_pass = rows
        .iter()
        .filter(|r| r.result == Result::Failed && r.expected == "SUCCESS")
        .count();
    let mut doc = format!(
        "# x509-limbo conformance\n\n\
         keyway's certificate verification (`keyway_tls::verify_chain`: rustls-webpki plus\n\
         keyway's checks on CRLs, trust anchors, key strength and serials) against the {} x509-limbo\n\
         vectors in `testdata/x509-limbo`.\n\
         Generated by `crates/keyway-tls/tests/x509_limbo.rs` (`KEYWAY_WRITE_LIMBO_DOC=1 cargo test\n\
         -p keyway-tls --test x509_limbo`); the test fails if an accepted must-fail case is\n\
         missing from `testdata/x509-limbo/differences.tsv`.\n\n\
         | passed | failed | skipped | must-fail accepted | must-pass rejected |\n|---|---|---|---|---|\n\
         | {} | {} | {} | {} | {} |\n\n\
         | case | importance | expected | keyway | result | reason |\n|---|---|---|---|---|---|\n",
        rows.len(),
        count(Result::Passed),
        count(Result::Failed),
        count(Result::Skipped),
        accepted_must_fail.len(),
        rejected_must_pass,
    );
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| (b.result, &a.id).cmp(&(a.result, &b.id)));
    for r in sorted {
        doc.push_str(&format!(
            "| `{}` | {} | {} | {} | {:?} | {} |\n",
            r.id,
            r.importance,
            r.expected,
            r.got,
            r.result,
            r.reason.replace('|', "\\|").replace('\n', " ")
        ));
    }
    println!("{doc}");
    if std::env::var_os("KEYWAY_WRITE_LIMBO_DOC").is_some() {
        std::fs::write(repo().join("docs/x509-limbo.md"), &doc).unwrap();
    }

    let unlisted: Vec<&str> = accepted_must_fail
        .iter()
        .filter(|r| !differences.contains_key(&r.id))
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        unlisted.is_empty(),
        "must-fail cases accepted without a reason in differences.tsv: {unlisted:?}"
    );
    let important: Vec<&str> = accepted_must_fail
        .iter()
        .filter(|r| r.importance == "high" || r.importance == "critical")
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        important.is_empty(),
        "high-importance must-fail cases accepted: {important:?}"
    );
    let stale: Vec<&String> = differences
        .keys()
        .filter(|id| {
            !rows
                .iter()
                .any(|r| &r.id == *id && r.result == Result::Failed)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "listed differences that keyway now gets right: {stale:?}"
    );
}
