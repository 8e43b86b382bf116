//! SOAP 1.1 and 1.2 calls through a connector against an in-process HTTPS server: the
//! envelope and action as the server sees them, the answer's Body, Faults as typed
//! faults, a 500 that is not a fault.

use http::StatusCode;
use keyway_connect::{Config, Connector, SoapBody, SoapError, SoapVersion};
use keyway_testkit::{HttpsOptions, HttpsServer, KeyKind, TestChain};

fn soap_connector(dir: &std::path::Path, chain: &TestChain, url: &str, version: &str) -> Connector {
    std::fs::write(dir.join("trust.pem"), &chain.root_pem).unwrap();
    let path = dir.join("keyway.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[truststores.partners]
path = "trust.pem"

[profiles.partner]
truststores = ["partners"]
server_name = "billing.test"

[connectors.billing]
kind = "soap"
url = "{url}"
profile = "partner"
soap_version = "{version}"
"#
        ),
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    Connector::new(&config, config.connector("billing").unwrap()).unwrap()
}

#[tokio::test]
async fn soap_1_1_and_1_2_requests_and_faults() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new("billing", KeyKind::EcP256);
    let server = HttpsServer::start(&chain, HttpsOptions::default());
    let order =
        SoapBody::from_text(r#"<o:GetOrder xmlns:o="urn:orders"><o:Id>7</o:Id></o:GetOrder>"#)
            .unwrap();
    assert!(matches!(order, SoapBody::Element(_)));

    for (version, text) in [("1.1", SoapVersion::V11), ("1.2", SoapVersion::V12)] {
        let billing = soap_connector(dir.path(), &chain, &server.url(), version);
        let r = billing
            .soap("/soap", Some("urn:GetOrder"), None, &order)
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.version, r.fault.clone()),
            (StatusCode::OK, text, None),
            "{version}"
        );
        // The server saw the action the version's way and the whole envelope.
        assert!(
            r.body.contains("<o:Action>urn:GetOrder</o:Action>"),
            "{version}: {}",
            r.body
        );

        let fail = SoapBody::from_text(r#"<o:Fail xmlns:o="urn:orders"/>"#).unwrap();
        let r = billing
            .soap("/soap", Some("urn:Fail"), None, &fail)
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        let fault = r.fault.expect("a typed fault");
        assert_eq!(fault.reason, "Order 42 does not exist", "{version}");
        assert_eq!(
            fault.code,
            if version == "1.1" {
                "soap:Client"
            } else {
                "env:Sender"
            }
        );
        assert!(fault.detail.unwrap().contains("unknown order 42"));
    }

    // A full envelope is sent as given (here a 1.2 envelope, forced to 1.2 on a 1.1 connector).
    let billing = soap_connector(dir.path(), &chain, &server.url(), "1.1");
    let whole = SoapBody::from_text(&keyway_connect::envelope(
        SoapVersion::V12,
        "<x:Ping xmlns:x=\"urn:x\"/>",
    ))
    .unwrap();
    assert!(matches!(whole, SoapBody::Envelope(_)));
    let r = billing
        .soap("/soap", Some("urn:Ping"), Some(SoapVersion::V12), &whole)
        .await
        .unwrap();
    assert_eq!((r.status, r.version), (StatusCode::OK, SoapVersion::V12));

    // A 500 that is an HTML page is not a fault: the error says what came back.
    let e = billing
        .soap("/status/500", Some("urn:GetOrder"), None, &order)
        .await
        .unwrap_err();
    match &e {
        SoapError::NotSoap {
            status, excerpt, ..
        } => {
            assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(excerpt.contains("order-service says no"), "{excerpt}");
        }
        other => panic!("{other}"),
    }

    // A request that is not XML is refused before anything is sent.
    assert!(SoapBody::from_text("<unclosed>").is_err());
    assert!(
        SoapBody::from_text("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>")
            .is_err()
    );
}
