//! SOAP 1.1 and 1.2 over a connector: the envelope built around a body element (or a
//! full envelope sent as given), the response envelope parsed, a Fault returned as a
//! typed [`Fault`] rather than as a transport error.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use keyway_tls::ConnectionInfo;
use serde::Serialize;

use crate::config::SoapVersion;
use crate::connector::{CallError, CallRequest, Connector};
use crate::xml::{self, Element, XmlError};

/// The SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapBody {
    /// The content of `<Body>`; keyway wraps it in an envelope.
    Element(String),
    /// A complete envelope, sent as given.
    Envelope(String),
}

impl SoapBody {
    /// A complete envelope when `text`'s root is a SOAP `Envelope`, else a body element.
    /// The text must be well-formed XML (checked as partner responses are).
    pub fn from_text(text: &str) -> Result<SoapBody, XmlError> {
        let (root, _) = xml::parse(text.as_bytes())?;
        let is_envelope = root.name == "Envelope"
            && matches!(root.namespace.as_deref(), Some(SOAP11_NS | SOAP12_NS));
        Ok(if is_envelope {
            SoapBody::Envelope(text.to_string())
        } else {
            SoapBody::Element(text.trim_start_matches(|c| c != '<').to_string())
        })
    }
}

/// A SOAP Fault, in SOAP 1.2 terms (1.1's faultcode, faultstring and faultactor map to
/// code, reason and node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// `soap:Client`, `env:Sender`, … as written.
    pub code: String,
    /// SOAP 1.2 subcode, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subcode: Option<String>,
    /// The human-readable reason.
    pub reason: String,
    /// Who raised it (1.1 faultactor, 1.2 Node), if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The detail element's content, as XML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A SOAP answer: the Body's content, or a Fault.
#[derive(Debug, Clone)]
pub struct SoapResponse {
    /// The HTTP status (500 with a Fault is normal).
    pub status: StatusCode,
    /// The envelope's version, as the server sent it.
    pub version: SoapVersion,
    /// The Body's content, as XML.
    pub body: String,
    /// The Fault, when the Body holds one.
    pub fault: Option<Fault>,
    /// What the TLS connection negotiated.
    pub tls: Option<std::sync::Arc<ConnectionInfo>>,
    /// The response headers.
    pub headers: http::HeaderMap,
}

/// Why a SOAP call has no SOAP answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SoapError {
    /// No HTTP answer.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The request body is not well-formed XML.
    #[error("the request body: {0}")]
    Request(XmlError),
    /// An HTTP answer that is not a SOAP envelope (an HTML error page, a proxy's message…).
    #[error(
        "HTTP {status} without a SOAP envelope ({why}); content-type {content_type:?}, body begins: {excerpt}"
    )]
    NotSoap {
        /// The status.
        status: StatusCode,
        /// Its Content-Type.
        content_type: String,
        /// Why it is not SOAP.
        why: String,
        /// The start of the body.
        excerpt: String,
    },
}

/// The envelope around `body` for `version`.
pub fn envelope(version: SoapVersion, body: &str) -> String {
    let ns = match version {
        SoapVersion::V11 => SOAP11_NS,
        SoapVersion::V12 => SOAP12_NS,
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}"><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

/// The HTTP request for a SOAP call: POST, the version's content type and action.
pub fn http_request(
    version: SoapVersion,
    path: &str,
    action: Option<&str>,
    body: &SoapBody,
) -> Result<CallRequest, SoapError> {
    let xml = match body {
        SoapBody::Element(inner) => envelope(version, inner),
        SoapBody::Envelope(whole) => whole.clone(),
    };
    let bad = |what: &str| {
        SoapError::Call(CallError::Request(format!(
            "the SOAP action {action:?} cannot be sent in {what}"
        )))
    };
    // A SOAP response carries the TLS details (SoapResponse::tls).
    let mut request = CallRequest::new(Method::POST, path.to_string()).with_tls_details();
    request.body = Bytes::from(xml).into();
    match version {
        SoapVersion::V11 => {
            request.headers.push((
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            ));
            let quoted = format!("\"{}\"", action.unwrap_or(""));
            request.headers.push((
                HeaderName::from_static("soapaction"),
                HeaderValue::from_str(&quoted).map_err(|_| bad("a SOAPAction header"))?,
            ));
        }
        SoapVersion::V12 => {
            let value = match action {
                Some(a) => format!("application/soap+xml; charset=utf-8; action=\"{a}\""),
                None => "application/soap+xml; charset=utf-8".to_string(),
            };
            request.headers.push((
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(&value).map_err(|_| bad("the Content-Type"))?,
            ));
        }
    }
    Ok(request)
}

impl Connector {
    /// Calls a SOAP operation at `path` with `action`, in the connector's SOAP version
    /// unless `version` is given.
    pub async fn soap(
        &self,
        path: &str,
        action: Option<&str>,
        version: Option<SoapVersion>,
        body: &SoapBody,
    ) -> Result<SoapResponse, SoapError> {
        let version = version.unwrap_or(self.def().soap_version);
        let request = http_request(version, path, action, body)?;
        let response = self.call(request).await?;
        let content_type = response
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let not_soap = |why: String| SoapError::NotSoap {
            status: response.status,
            content_type: content_type.clone(),
            why,
            excerpt: excerpt(&response.body, 300),
        };
        let (root, text) = xml::parse(&response.body).map_err(|e| not_soap(e.to_string()))?;
        let (version, ns) = match (root.name.as_str(), root.namespace.as_deref()) {
            ("Envelope", Some(SOAP11_NS)) => (SoapVersion::V11, SOAP11_NS),
            ("Envelope", Some(SOAP12_NS)) => (SoapVersion::V12, SOAP12_NS),
            (name, ns) => {
                return Err(not_soap(format!(
                    "the root element is {name} in namespace {}",
                    ns.unwrap_or("(none)")
                )));
            }
        };
        let body_element = root
            .child(Some(ns), "Body")
            .ok_or_else(|| not_soap("the envelope has no Body".into()))?;
        let fault = body_element
            .child(Some(ns), "Fault")
            .map(|f| fault(f, version, text));
        Ok(SoapResponse {
            status: response.status,
            version,
            body: text[body_element.content.clone()].to_string(),
            fault,
            tls: response.tls,
            headers: response.headers,
        })
    }
}

fn fault(f: &Element, version: SoapVersion, text: &str) -> Fault {
    let text_of = |e: Option<&Element>| e.map(Element::deep_text).filter(|t| !t.is_empty());
    let inner = |e: Option<&Element>| {
        e.map(|e| text[e.content.clone()].trim().to_string())
            .filter(|t| !t.is_empty())
    };
    match version {
        // SOAP 1.1: unqualified faultcode, faultstring, faultactor, detail.
        SoapVersion::V11 => Fault {
            code: text_of(f.child(None, "faultcode")).unwrap_or_default(),
            subcode: None,
            reason: text_of(f.child(None, "faultstring")).unwrap_or_default(),
            node: text_of(f.child(None, "faultactor")),
            detail: inner(f.child(None, "detail")),
        },
        SoapVersion::V12 => {
            let code = f.child(Some(SOAP12_NS), "Code");
            Fault {
                code: text_of(code.and_then(|c| c.child(Some(SOAP12_NS), "Value")))
                    .unwrap_or_default(),
                subcode: text_of(
                    code.and_then(|c| c.child(Some(SOAP12_NS), "Subcode"))
                        .and_then(|s| s.child(Some(SOAP12_NS), "Value")),
                ),
                reason: text_of(
                    f.child(Some(SOAP12_NS), "Reason")
                        .and_then(|r| r.child(Some(SOAP12_NS), "Text")),
                )
                .unwrap_or_default(),
                node: text_of(f.child(Some(SOAP12_NS), "Node")),
                detail: inner(f.child(Some(SOAP12_NS), "Detail")),
            }
        }
    }
}

/// The first `chars` characters of a body, on one line: what error messages quote of
/// an unexpected answer.
pub fn excerpt(body: &[u8], chars: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(chars) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}
