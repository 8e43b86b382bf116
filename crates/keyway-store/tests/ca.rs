//! keyway's CA in the store: created once, issuing users' certificates and anyone's
//! (CSR or new key) with a record of each, revocation from either side reaching both,
//! numbered CRLs that openssl reads, and the import of a CA kept in `DATA/ca` by keyway
//! before the store. Each scenario runs on SQLite and PostgreSQL.

use std::process::Command;

use keyway_pki::{
    Ca, CaInit, IssueProfile, IssueRequest, KeyType, MasterKey, Reason, San, Status, parse_subject,
};
use keyway_store::{
    AuditOutcome, AuditQuery, Backend, CaRequest, CertOrigin, Context, NewUser, Permission, Store,
    StoreError,
};

mod common;
use common::{Fixture, KEY, raw_pool};

on_both!(
    the_ca_is_created_once_and_only_by_trust_managers,
    users_certificates_are_issued_recorded_and_revoked_on_both_sides,
    anyone_certificates_by_csr_or_new_key_and_numbered_crls,
    a_ca_kept_in_a_directory_is_imported_once_with_its_records,
    an_owner_is_a_user_and_the_certificate_becomes_theirs,
);

fn init(with_intermediate: bool) -> CaInit {
    CaInit {
        subject: parse_subject("CN=keyway test CA,O=Acme").unwrap(),
        key_type: KeyType::EcP256,
        with_intermediate,
    }
}

/// A store with alice (manage_personal_setup) and trust (manage_trust).
async fn setup(fixture: &Fixture) -> Store {
    let store = fixture.open().await;
    let admin = Context::local_admin();
    for (name, permission) in [
        ("alice", Permission::ManagePersonalSetup),
        ("trust", Permission::ManageTrust),
    ] {
        store
            .add_user(&admin, NewUser::new(name).permission(permission))
            .await
            .unwrap();
    }
    store
}

async fn audit(store: &Store, action: &str) -> Vec<(AuditOutcome, String)> {
    store
        .audit_log(&Context::local_admin(), &AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| (e.outcome, e.detail))
        .collect()
}

fn client(days: u32, owner: &str) -> IssueRequest {
    IssueRequest {
        profile: IssueProfile::Client,
        days,
        owner: Some(owner.into()),
    }
}

/// A client certificate that belongs to no keyway user (a partner system's).
fn unowned(days: u32) -> IssueRequest {
    IssueRequest {
        profile: IssueProfile::Client,
        days,
        owner: None,
    }
}

async fn the_ca_is_created_once_and_only_by_trust_managers(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = setup(&fixture).await;
    assert!(store.ca().await.unwrap().is_none());

    let alice = Context::user("alice", "test");
    let e = store.create_ca(&alice, &init(false)).await.unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");
    assert!(store.ca().await.unwrap().is_none());

    let trust = Context::user("trust", "test");
    let ca = store.create_ca(&trust, &init(true)).await.unwrap();
    let root_subject = ca.root.info().subject.clone();
    assert!(root_subject.contains("CN=keyway test CA"), "{root_subject}");
    assert!(
        ca.issuing()
            .info()
            .subject
            .contains("CN=keyway test CA Issuing CA"),
        "{}",
        ca.issuing().info().subject
    );
    assert_eq!(ca.chain().len(), 2);
    assert_eq!(ca.origin, "created");
    assert_eq!(ca.next_crl_number, 1);

    // A second one is refused, naming the first; the first is unchanged.
    let e = store
        .create_ca(&Context::local_admin(), &init(false))
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains(&root_subject) && message.contains("one CA"),
        "{message}"
    );
    let now = store.ca().await.unwrap().unwrap();
    assert_eq!(now.root.der(), ca.root.der());

    // The keys are sealed: no PKCS#8 in the table, and the store opens them.
    let pool = raw_pool(&fixture.location).await;
    let (root_key, int_key): (String, String) =
        sqlx::query_as("SELECT root_key, intermediate_key FROM ca")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!root_key.contains("PRIVATE KEY") && !int_key.contains("PRIVATE KEY"));
    assert!(root_key.contains("BEGIN") && root_key != int_key);

    let outcomes: Vec<AuditOutcome> = audit(&store, "ca.create")
        .await
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(
        outcomes,
        [
            AuditOutcome::Refused,
            AuditOutcome::Ok,
            AuditOutcome::Failed
        ],
        "alice refused, created, second refused as invalid"
    );
}

async fn users_certificates_are_issued_recorded_and_revoked_on_both_sides(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = setup(&fixture).await;
    let alice = Context::user("alice", "test");
    let subject = || parse_subject("CN=alice").unwrap();

    // No CA yet: the error says how to make one, nothing is stored.
    let e = store
        .issue_certificate(&alice, "alice", subject(), KeyType::EcP256, 30)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("keyway init"), "{e}");
    assert!(
        store
            .certificates(&alice, "alice")
            .await
            .unwrap()
            .is_empty()
    );

    let admin = Context::local_admin();
    let ca = store.create_ca(&admin, &init(true)).await.unwrap();
    let (cert, identity) = store
        .issue_certificate(&alice, "alice", subject(), KeyType::EcP256, 30)
        .await
        .unwrap();
    assert_eq!(cert.origin, CertOrigin::Issued);
    assert!(cert.has_private_key);
    assert_eq!(cert.chain.len(), 2, "intermediate and root");
    assert_eq!(cert.issuer, ca.issuing().info().subject);
    assert_eq!(identity.chain.len(), 3);
    assert_eq!(
        identity.key.public_key_bits(),
        Some(identity.chain[0].public_key_bits())
    );
    let records = store.ca_issued(&admin).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].owner.as_deref(), Some("alice"));
    assert_eq!(records[0].sha256, cert.sha256);
    assert_eq!(records[0].status, Status::Valid);

    // Alice may not issue for bob, nor see the CA's records; both refusals are audited.
    let e = store
        .issue_certificate(&alice, "bob", subject(), KeyType::EcP256, 30)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");
    let e = store.ca_issued(&alice).await.unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");
    // Validity beyond the CA's own is refused and nothing is recorded.
    let e = store
        .issue_certificate(&alice, "alice", subject(), KeyType::EcP256, 20 * 365)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("after the issuing CA itself"), "{e}");
    assert_eq!(store.ca_issued(&admin).await.unwrap().len(), 1);
    assert_eq!(store.certificates(&alice, "alice").await.unwrap().len(), 1);

    // Revoked as the user's certificate: the CA's record follows, and its CRL lists it.
    store
        .revoke_certificate(&alice, "alice", &cert.sha256, Reason::Superseded, None)
        .await
        .unwrap();
    let records = store.ca_issued(&admin).await.unwrap();
    assert!(matches!(
        records[0].status,
        Status::Revoked {
            reason: Reason::Superseded,
            ..
        }
    ));
    let e = store
        .ca_revoke(&admin, &records[0].serial, Reason::KeyCompromise)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already revoked"), "{e}");

    // Revoked as the CA's serial: the gateway's lookup sees it at once.
    let (second, _) = store
        .issue_certificate(&admin, "alice", subject(), KeyType::EcP256, 30)
        .await
        .unwrap();
    let serial_with_colons = second.serial.clone();
    let record = store
        .ca_revoke(&admin, &serial_with_colons, Reason::KeyCompromise)
        .await
        .unwrap();
    assert_eq!(record.sha256, second.sha256);
    let owner = store
        .find_certificate(&second.sha256)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.revoked.unwrap().reason, "keyCompromise");
    let stored = store
        .certificate(&admin, "alice", &second.sha256)
        .await
        .unwrap();
    assert_eq!(stored.version, 2, "the revocation is a change of the row");

    let crl = store.ca_crl(&admin, 7).await.unwrap();
    assert_eq!((crl.number, crl.revoked), (1, 2));
    let text = openssl_crl(&crl.der);
    for r in store.ca_issued(&admin).await.unwrap() {
        assert!(
            text.to_ascii_lowercase()
                .replace(':', "")
                .contains(&r.serial),
            "{} not in\n{text}",
            r.serial
        );
    }
    assert!(
        text.contains("Key Compromise") && text.contains("Superseded"),
        "{text}"
    );
}

async fn anyone_certificates_by_csr_or_new_key_and_numbered_crls(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = setup(&fixture).await;
    let trust = Context::user("trust", "test");
    let alice = Context::user("alice", "test");
    store.create_ca(&trust, &init(false)).await.unwrap();

    // A CSR made elsewhere: only its subject and key are taken.
    let key = keyway_pki::generate(KeyType::EcP256).unwrap();
    let csr_pem =
        keyway_pki::create_csr(&key, parse_subject("CN=partner-a").unwrap(), &[]).unwrap();
    let csr = keyway_pki::read_csr(csr_pem.as_bytes(), "partner-a.csr").unwrap();
    let (none, issued) = store
        .ca_issue(&trust, CaRequest::Csr(csr.clone()), &unowned(30))
        .await
        .unwrap();
    assert!(none.is_none());
    assert_eq!(
        issued.certificate.public_key_bits(),
        key.public_key_bits().unwrap()
    );
    // A server certificate needs a SAN; with one it is issued with a new key.
    let server = IssueRequest {
        profile: IssueProfile::Server,
        days: 90,
        owner: None,
    };
    let e = store
        .ca_issue(
            &trust,
            CaRequest::NewKey {
                key_type: KeyType::EcP256,
                subject: parse_subject("CN=gw").unwrap(),
                sans: vec![],
            },
            &server,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("subject alternative name"), "{e}");
    let (key, gw) = store
        .ca_issue(
            &trust,
            CaRequest::NewKey {
                key_type: KeyType::EcP256,
                subject: parse_subject("CN=gw").unwrap(),
                sans: vec![San::parse("dns:gw.example").unwrap()],
            },
            &server,
        )
        .await
        .unwrap();
    assert!(key.is_some());
    assert_eq!(gw.record.profile, IssueProfile::Server);

    // alice holds no trust permission.
    let e = store
        .ca_issue(&alice, CaRequest::Csr(csr), &client(30, "x"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");
    let e = store.ca_crl(&alice, 7).await.unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");

    let records = store.ca_issued(&trust).await.unwrap();
    assert_eq!(records.len(), 2, "the refused ones left no record");
    let e = store
        .ca_revoke(&trust, "0123456789abcdef", Reason::Unspecified)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("0123456789abcdef"), "{e}");
    store
        .ca_revoke(&trust, &issued.record.serial, Reason::CessationOfOperation)
        .await
        .unwrap();

    // CRLs made at the same time get different numbers, in order.
    let (a, b, c) = tokio::join!(
        store.ca_crl(&trust, 7),
        store.ca_crl(&trust, 7),
        store.ca_crl(&trust, 7)
    );
    let mut numbers = vec![a.unwrap().number, b.unwrap().number, c.unwrap().number];
    numbers.sort();
    assert_eq!(numbers, [1, 2, 3]);
    let crl = store.ca_crl(&trust, 1).await.unwrap();
    assert_eq!((crl.number, crl.revoked), (4, 1));
    assert_eq!(store.ca().await.unwrap().unwrap().next_crl_number, 5);
    let e = store.ca_crl(&trust, 0).await.unwrap_err();
    assert!(e.to_string().contains("at least 1"), "{e}");
    assert_eq!(
        store.ca().await.unwrap().unwrap().next_crl_number,
        5,
        "a refused CRL uses no number"
    );
    let issued: Vec<String> = audit(&store, "ca.issue")
        .await
        .into_iter()
        .filter(|(o, _)| *o == AuditOutcome::Ok)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(issued.len(), 2);
    assert!(issued[0].contains("CN=partner-a") && !issued[0].contains(" for "));
}

async fn a_ca_kept_in_a_directory_is_imported_once_with_its_records(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = setup(&fixture).await;
    let admin = Context::local_admin();

    // keyway before the store: the CA in DATA/ca, two certificates, one revoked, a CRL.
    let old = tempfile::tempdir().unwrap();
    let file_ca = Ca::init(old.path(), &init(true), Some(KEY)).unwrap();
    let master = MasterKey::load(old.path(), Some(KEY)).unwrap();
    let subject = |cn: &str| parse_subject(&format!("CN={cn}")).unwrap();
    let (_, first) = file_ca
        .issue(
            KeyType::EcP256,
            subject("one"),
            &[],
            &client(30, "alice"),
            &master,
        )
        .unwrap();
    file_ca
        .issue(
            KeyType::EcP256,
            subject("two"),
            &[],
            &client(30, "bob"),
            &master,
        )
        .unwrap();
    file_ca
        .revoke(&first.record.serial, Reason::AffiliationChanged)
        .unwrap();
    assert_eq!(file_ca.crl(7, &master).unwrap().number, 1);

    // A user without manage_trust may not import it.
    let e = store
        .import_ca(&Context::user("alice", "test"), &file_ca)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Forbidden { .. }), "{e}");

    // Sealed with another master key: refused, nothing stored.
    let other = tempfile::tempdir().unwrap();
    let other_key = "ff".repeat(32);
    let foreign = Ca::init(other.path(), &init(false), Some(&other_key)).unwrap();
    let e = store.import_ca(&admin, &foreign).await.unwrap_err();
    assert!(e.to_string().contains("not the master key"), "{e}");
    assert!(store.ca().await.unwrap().is_none());

    let imported = store.import_ca(&admin, &file_ca).await.unwrap();
    assert!(!imported.already);
    assert_eq!(imported.records, 2);
    assert_eq!(imported.ca.root.der(), file_ca.root().der());
    assert_eq!(imported.ca.next_crl_number, 2);
    assert!(imported.ca.origin.starts_with("imported from"));
    let records = store.ca_issued(&admin).await.unwrap();
    let revoked: Vec<&str> = records
        .iter()
        .filter(|r| matches!(r.status, Status::Revoked { .. }))
        .map(|r| r.subject.as_str())
        .collect();
    assert_eq!(revoked, ["CN=one"]);

    // Again: nothing changes. Another CA: refused.
    let again = store.import_ca(&admin, &file_ca).await.unwrap();
    assert!(again.already && again.records == 0);
    assert_eq!(store.ca_issued(&admin).await.unwrap().len(), 2);
    let e = store.import_ca(&admin, &foreign).await.unwrap_err();
    assert!(e.to_string().contains("one CA"), "{e}");

    // The imported key signs: a new certificate chains to the old root, CRL number 2.
    let (_, issued) = store
        .ca_issue(
            &admin,
            CaRequest::NewKey {
                key_type: KeyType::EcP256,
                subject: subject("three"),
                sans: vec![],
            },
            &unowned(30),
        )
        .await
        .unwrap();
    assert_eq!(issued.chain.last().unwrap().der(), file_ca.root().der());
    let crl = store.ca_crl(&admin, 7).await.unwrap();
    assert_eq!((crl.number, crl.revoked), (2, 1));
}

/// `openssl crl -text` of a DER CRL.
fn openssl_crl(der: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.crl");
    std::fs::write(&path, der).unwrap();
    let out = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn an_owner_is_a_user_and_the_certificate_becomes_theirs(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = setup(&fixture).await;
    let admin = Context::local_admin();
    store.create_ca(&admin, &init(false)).await.unwrap();
    let new_key = || CaRequest::NewKey {
        key_type: KeyType::EcP256,
        subject: parse_subject("CN=alice-laptop").unwrap(),
        sans: vec![],
    };
    // Nobody called ghost: refused, and nothing issued.
    let e = store
        .ca_issue(&admin, new_key(), &client(30, "ghost"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no user \"ghost\""), "{e}");
    // A server certificate has no owner.
    let server = IssueRequest {
        profile: IssueProfile::Server,
        days: 30,
        owner: Some("alice".into()),
    };
    let e = store
        .ca_issue(
            &admin,
            CaRequest::NewKey {
                key_type: KeyType::EcP256,
                subject: parse_subject("CN=gw").unwrap(),
                sans: vec![San::parse("dns:gw.example").unwrap()],
            },
            &server,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--profile client"), "{e}");
    assert!(store.ca_issued(&admin).await.unwrap().is_empty());
    // alice's: listed as hers and mapped to her at the gateway.
    let (_, issued) = store
        .ca_issue(&admin, new_key(), &client(30, "alice"))
        .await
        .unwrap();
    let listed = store.certificates(&admin, "alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    let directory = store.gateway_directory().await.unwrap();
    let sha = issued.record.sha256.replace(':', "").to_lowercase();
    let owner = directory
        .certificates
        .iter()
        .find(|(fp, _)| fp.replace(':', "").to_lowercase() == sha)
        .map(|(_, o)| o.user.clone());
    assert_eq!(owner.as_deref(), Some("alice"));
}
