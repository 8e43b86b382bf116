//! Subjects (`CN=partner-a,O=Acme`) and subject alternative names (`dns:partner.example`)
//! as users write them, turned into what goes into a CSR or certificate.

use std::net::IpAddr;

use rcgen::{DistinguishedName, DnType, DnValue, SanType};
use x509_parser::x509::X509Name;

use crate::PkiError;

const EMAIL_ADDRESS: [u64; 7] = [1, 2, 840, 113549, 1, 9, 1];

/// The attributes a subject may name, with their OIDs.
const ATTRIBUTES: &[(&[&str], &[u64])] = &[
    (&["CN"], &[2, 5, 4, 3]),
    (&["O"], &[2, 5, 4, 10]),
    (&["OU"], &[2, 5, 4, 11]),
    (&["L"], &[2, 5, 4, 7]),
    (&["ST", "S"], &[2, 5, 4, 8]),
    (&["C"], &[2, 5, 4, 6]),
    (&["EMAILADDRESS", "E"], &EMAIL_ADDRESS),
];

/// Parses a subject written as RFC 4514 does, most specific first: `CN=partner-a,
/// OU=Integration,O=Acme,C=DE`. Commas, plus signs and backslashes inside a value are
/// escaped with a backslash. Accepted attributes: CN, O, OU, L, ST, C, emailAddress.
/// The certificate encodes them in the opposite order (C first), as keytool and openssl do.
pub fn parse_subject(given: &str) -> Result<DistinguishedName, PkiError> {
    let bad = |problem: String| PkiError::BadSubject {
        given: given.to_string(),
        problem,
    };
    if given.trim().is_empty() {
        return Err(bad("no attributes; give at least CN=…".into()));
    }
    let parts = split_unescaped(given, ',').map_err(&bad)?;
    let mut attributes = Vec::new();
    for part in &parts {
        if part.trim().is_empty() {
            return Err(bad("an empty part between commas".into()));
        }
        if split_unescaped(part, '+').map_err(&bad)?.len() > 1 {
            return Err(bad(format!(
                "\"{}\" is a multi-valued RDN (+), which keyway does not write; escape a literal plus sign as \\+",
                part.trim()
            )));
        }
        let Some((key, value)) = part.split_once('=') else {
            return Err(bad(format!(
                "\"{}\" is not ATTRIBUTE=value (e.g. CN=partner-a)",
                part.trim()
            )));
        };
        let key = key.trim();
        let value = unescape(value.trim());
        let Some((_, oid)) = ATTRIBUTES
            .iter()
            .find(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(key)))
        else {
            return Err(bad(format!(
                "unknown attribute \"{key}\"; use CN, O, OU, L, ST, C or emailAddress"
            )));
        };
        if value.is_empty() {
            return Err(bad(format!("{key} has an empty value")));
        }
        let value = attribute_value(oid, &value).map_err(|p| bad(format!("{key}: {p}")))?;
        attributes.push((oid.to_vec(), value));
    }
    // RFC 4514 strings start with the most specific RDN; the encoding starts with the least.
    attributes.reverse();
    build(attributes).map_err(bad)
}

/// The value as it is encoded: C as a two-letter PrintableString, emailAddress as an
/// IA5String, the rest as UTF8String (PrintableString when the characters allow, which
/// older Java and .NET clients compare more reliably).
fn attribute_value(oid: &[u64], value: &str) -> Result<DnValue, String> {
    if oid == [2, 5, 4, 6] {
        if value.len() != 2 || !value.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "\"{value}\" is not a two-letter country code (ISO 3166, e.g. DE)"
            ));
        }
        return Ok(DnValue::PrintableString(
            value
                .to_ascii_uppercase()
                .as_str()
                .try_into()
                .map_err(|_| "not printable")?,
        ));
    }
    if oid == EMAIL_ADDRESS {
        if !value.contains('@') {
            return Err(format!("\"{value}\" is not an e-mail address"));
        }
        return value
            .try_into()
            .map(DnValue::Ia5String)
            .map_err(|_| format!("\"{value}\" is not ASCII"));
    }
    Ok(match value.try_into() {
        Ok(printable) => DnValue::PrintableString(printable),
        Err(_) => DnValue::Utf8String(value.to_string()),
    })
}

/// Builds a name in encoding order. rcgen keeps one value per attribute type; a second
/// value of the same type (two OUs) goes in under the type's OID spelled out, which
/// encodes identically. A third is refused rather than dropped.
fn build(attributes: Vec<(Vec<u64>, DnValue)>) -> Result<DistinguishedName, String> {
    let mut name = DistinguishedName::new();
    for (oid, value) in attributes {
        let named = DnType::from_oid(&oid);
        let spelled = DnType::CustomDnType(oid.clone());
        let ty = if name.get(&named).is_none() {
            named
        } else if named != spelled && name.get(&spelled).is_none() {
            spelled
        } else {
            let dotted: Vec<String> = oid.iter().map(u64::to_string).collect();
            return Err(format!(
                "attribute {} appears more than twice; keyway writes at most two values of one attribute",
                dotted.join(".")
            ));
        };
        name.push(ty, value);
    }
    Ok(name)
}

/// The name of a CSR or certificate, attribute by attribute in encoding order, for a
/// certificate keyway signs.
pub(crate) fn copy_name(name: &X509Name<'_>) -> Result<DistinguishedName, String> {
    use x509_parser::der_parser::asn1_rs::Tag;
    let mut attributes = Vec::new();
    for attribute in name.iter_attributes() {
        let oid: Vec<u64> = attribute
            .attr_type()
            .iter()
            .ok_or("an attribute type OID with an arc too large")?
            .collect();
        let any = attribute.attr_value();
        let text = attribute
            .as_str()
            .map_err(|_| "an attribute value keyway cannot read as text")?;
        let value = match any.tag() {
            Tag::PrintableString => DnValue::PrintableString(
                text.try_into()
                    .map_err(|_| "a PrintableString with characters it may not hold")?,
            ),
            Tag::Ia5String => DnValue::Ia5String(
                text.try_into()
                    .map_err(|_| "an IA5String that is not ASCII")?,
            ),
            _ => DnValue::Utf8String(text.to_string()),
        };
        attributes.push((oid, value));
    }
    build(attributes)
}

/// A subject alternative name as the CLI takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// `dns:partner.example` (a leading `*.` is a wildcard).
    Dns(String),
    /// `ip:192.0.2.10` or `ip:2001:db8::1`.
    Ip(IpAddr),
    /// `email:ops@partner.example`.
    Email(String),
    /// `uri:spiffe://partner/connector`.
    Uri(String),
}

impl San {
    /// Parses `dns:…`, `ip:…`, `email:…` or `uri:…`.
    pub fn parse(given: &str) -> Result<San, PkiError> {
        let bad = |problem: &str| PkiError::BadSan {
            given: given.to_string(),
            problem: problem.to_string(),
        };
        let Some((kind, value)) = given.split_once(':') else {
            return Err(bad(
                "write it as dns:NAME, ip:ADDRESS, email:ADDRESS or uri:URI",
            ));
        };
        let value = value.trim();
        match kind.trim().to_ascii_lowercase().as_str() {
            "dns" => {
                let plain = value.strip_prefix("*.").unwrap_or(value);
                let ok = !plain.is_empty()
                    && plain.len() <= 253
                    && plain.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                    });
                if ok {
                    Ok(San::Dns(value.to_ascii_lowercase()))
                } else {
                    Err(bad(
                        "not a DNS name (letters, digits and hyphens in dot-separated labels; a wildcard only as the first label)",
                    ))
                }
            }
            "ip" => value
                .parse()
                .map(San::Ip)
                .map_err(|_| bad("not an IPv4 or IPv6 address")),
            "email" if value.contains('@') && value.is_ascii() => Ok(San::Email(value.into())),
            "email" => Err(bad("not an ASCII e-mail address")),
            "uri" if value.contains(':') && value.is_ascii() => Ok(San::Uri(value.into())),
            "uri" => Err(bad("not an absolute URI (scheme:…)")),
            _ => Err(bad("unknown kind; use dns:, ip:, email: or uri:")),
        }
    }

    pub(crate) fn to_rcgen(&self) -> Result<SanType, PkiError> {
        let ia5 = |s: &str| {
            s.try_into().map_err(|_| PkiError::BadSan {
                given: s.to_string(),
                problem: "not ASCII".into(),
            })
        };
        Ok(match self {
            San::Dns(name) => SanType::DnsName(ia5(name)?),
            San::Ip(ip) => SanType::IpAddress(*ip),
            San::Email(address) => SanType::Rfc822Name(ia5(address)?),
            San::Uri(uri) => SanType::URI(ia5(uri)?),
        })
    }
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(v) => write!(f, "dns:{v}"),
            San::Ip(v) => write!(f, "ip:{v}"),
            San::Email(v) => write!(f, "email:{v}"),
            San::Uri(v) => write!(f, "uri:{v}"),
        }
    }
}

/// Splits on `sep` where it is not escaped by a backslash.
fn split_unescaped(s: &str, sep: char) -> Result<Vec<String>, String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars
                    .next()
                    .ok_or("a backslash at the end escapes nothing")?;
                let current = parts.last_mut().expect("never empty");
                current.push('\\');
                current.push(next);
            }
            c if c == sep => parts.push(String::new()),
            c => parts.last_mut().expect("never empty").push(c),
        }
    }
    Ok(parts)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(name: &DistinguishedName) -> Vec<(DnType, String)> {
        name.iter()
            .map(|(t, v)| {
                let text = match v {
                    DnValue::PrintableString(s) => s.as_str().to_string(),
                    DnValue::Utf8String(s) => s.clone(),
                    DnValue::Ia5String(s) => s.as_str().to_string(),
                    other => format!("{other:?}"),
                };
                (t.clone(), text)
            })
            .collect()
    }

    #[test]
    fn subject_is_encoded_least_specific_first() {
        let name = parse_subject("CN=partner-a, OU=Integration, O=Acme\\, Inc., C=de").unwrap();
        assert_eq!(
            encoded(&name),
            vec![
                (DnType::CountryName, "DE".into()),
                (DnType::OrganizationName, "Acme, Inc.".into()),
                (DnType::OrganizationalUnitName, "Integration".into()),
                (DnType::CommonName, "partner-a".into()),
            ]
        );
    }

    #[test]
    fn two_organizational_units_are_both_kept() {
        let name = parse_subject("CN=a,OU=one,OU=two").unwrap();
        assert_eq!(encoded(&name).len(), 3);
        assert!(parse_subject("CN=a,OU=1,OU=2,OU=3").is_err());
    }

    #[test]
    fn bad_subjects_say_what_is_wrong() {
        for (given, needle) in [
            ("", "no attributes"),
            ("CN", "not ATTRIBUTE=value"),
            ("XX=1", "unknown attribute \"XX\""),
            ("CN=a,C=Germany", "two-letter country code"),
            ("CN=a,,O=b", "empty part"),
            ("CN=a+OU=b", "multi-valued"),
            ("CN=", "empty value"),
            ("CN=a,emailAddress=nobody", "not an e-mail address"),
            ("CN=a\\", "backslash at the end"),
        ] {
            let e = parse_subject(given).unwrap_err().to_string();
            assert!(e.contains(needle), "{given:?}: {e}");
        }
    }

    #[test]
    fn sans_parse_and_refuse() {
        assert_eq!(
            San::parse("dns:Partner.Example").unwrap(),
            San::Dns("partner.example".into())
        );
        assert_eq!(
            San::parse("dns:*.partner.example").unwrap().to_string(),
            "dns:*.partner.example"
        );
        assert!(matches!(San::parse("ip:2001:db8::1").unwrap(), San::Ip(_)));
        assert!(matches!(
            San::parse("email:ops@partner.example").unwrap(),
            San::Email(_)
        ));
        assert!(matches!(
            San::parse("uri:spiffe://p/c").unwrap(),
            San::Uri(_)
        ));
        for bad in [
            "partner.example",
            "dns:bad_name",
            "dns:a..b",
            "ip:300.1.1.1",
            "email:x",
            "ftp:x",
            "dns:-a.b",
        ] {
            assert!(San::parse(bad).is_err(), "{bad}");
        }
    }
}
