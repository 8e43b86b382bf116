//! XML as connectors need it: small trees from partner responses, read defensively. No
//! DOCTYPE (so no entity definitions, no external entities, no "billion laughs"), only the
//! five predefined entities and character references, bounded depth and size.

use std::ops::Range;

use quick_xml::XmlVersion;
use quick_xml::escape::EscapeError;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// The largest document accepted, in bytes.
pub const MAX_SIZE: usize = 16 * 1024 * 1024;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed.
    #[error("not well-formed XML at byte {position}: {detail}")]
    Malformed {
        /// Where.
        position: u64,
        /// What.
        detail: String,
    },
    /// A DOCTYPE declaration (refused: it is how entity attacks start).
    #[error("the document has a DOCTYPE declaration, which keyway refuses (entity expansion)")]
    Doctype,
    /// An entity other than the five XML predefines.
    #[error(
        "the entity &{0}; is not allowed: only &lt; &gt; &amp; &apos; &quot; and character references"
    )]
    Entity(String),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("elements nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Larger than [`MAX_SIZE`].
    #[error("the document is larger than {MAX_SIZE} bytes")]
    TooLarge,
    /// Not UTF-8.
    #[error("the document is not UTF-8")]
    NotUtf8,
}

/// An element: namespace, local name, children, text, and where its content lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The namespace URI, if bound.
    pub namespace: Option<String>,
    /// The local name.
    pub name: String,
    /// Attributes as written (qualified names, values with entities resolved and
    /// whitespace normalized), in document order; namespace declarations left out.
    pub attributes: Vec<(String, String)>,
    /// Child elements.
    pub children: Vec<Element>,
    /// The text directly inside it (entities resolved), concatenated.
    pub text: String,
    /// Byte range of its content (between the start and the end tag) in the document.
    pub content: Range<usize>,
}

impl Element {
    /// The first child with this local name (and namespace, when given).
    pub fn child(&self, namespace: Option<&str>, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| {
            c.name == name && namespace.is_none_or(|ns| c.namespace.as_deref() == Some(ns))
        })
    }

    /// The value of the attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All text inside it, descendants included, trimmed.
    pub fn deep_text(&self) -> String {
        let mut out = self.text.clone();
        for c in &self.children {
            out.push_str(&c.deep_text());
        }
        out.trim().to_string()
    }
}

/// Parses `bytes` into its root element.
pub fn parse(bytes: &[u8]) -> Result<(Element, &str), XmlError> {
    if bytes.len() > MAX_SIZE {
        return Err(XmlError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    let text_trimmed = text.strip_prefix('\u{feff}').unwrap_or(text);
    let offset = text.len() - text_trimmed.len();
    let mut reader = NsReader::from_str(text_trimmed);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let before = reader.buffer_position();
        let malformed = |e: quick_xml::Error, position: u64| XmlError::Malformed {
            position,
            detail: e.to_string(),
        };
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(e, before))?;
        let namespace = match ns {
            ResolveResult::Bound(n) => Some(n.0.to_string()),
            _ => None,
        };
        let after = reader.buffer_position() as usize + offset;
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(XmlError::Malformed {
                    position: before,
                    detail: "a second root element".into(),
                });
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(Element {
                    namespace,
                    name: e.local_name().as_ref().to_string(),
                    attributes: attributes(&e, before)?,
                    children: Vec::new(),
                    text: String::new(),
                    content: after..after,
                });
            }
            Event::Empty(e) => {
                let element = Element {
                    namespace,
                    name: e.local_name().as_ref().to_string(),
                    attributes: attributes(&e, before)?,
                    children: Vec::new(),
                    text: String::new(),
                    content: after..after,
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let Some(mut element) = stack.pop() else {
                    return Err(XmlError::Malformed {
                        position: before,
                        detail: "an end tag without a start".into(),
                    });
                };
                element.content.end = before as usize + offset;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten()
                } else {
                    match r.xml10_content().as_ref() {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "apos" => Some('\''),
                        "quot" => Some('"'),
                        _ => None,
                    }
                };
                match (resolved, stack.last_mut()) {
                    (Some(c), Some(top)) => top.text.push(c),
                    (Some(_), None) => {}
                    (None, _) => return Err(XmlError::Entity(r.xml10_content().into_owned())),
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed {
            position: reader.buffer_position(),
            detail: format!("<{}> is never closed", stack[stack.len() - 1].name),
        });
    }
    root.map(|r| (r, text)).ok_or(XmlError::Malformed {
        position: 0,
        detail: "no element".into(),
    })
}

/// A start tag's attributes; an entity other than the predefined five is refused.
fn attributes(
    tag: &quick_xml::events::BytesStart<'_>,
    position: u64,
) -> Result<Vec<(String, String)>, XmlError> {
    let mut out = Vec::new();
    for attribute in tag.attributes() {
        let attribute = attribute.map_err(|e| XmlError::Malformed {
            position,
            detail: e.to_string(),
        })?;
        let name = attribute.key.as_ref();
        if name == "xmlns" || name.starts_with("xmlns:") {
            continue;
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| match e {
                quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, entity)) => {
                    XmlError::Entity(entity)
                }
                other => XmlError::Malformed {
                    position,
                    detail: other.to_string(),
                },
            })?;
        out.push((name.to_string(), value.into_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespaces_text_entities_and_content_ranges() {
        let doc = br#"<?xml version="1.0"?><a:root xmlns:a="urn:a"><b>x &amp; y &#65;</b><c/><![CDATA[<raw>]]></a:root>"#;
        let (root, text) = parse(doc).unwrap();
        assert_eq!(
            (root.namespace.as_deref(), root.name.as_str()),
            (Some("urn:a"), "root")
        );
        assert_eq!(root.child(None, "b").unwrap().text, "x & y A");
        assert_eq!(root.attributes, Vec::<(String, String)>::new());
        assert_eq!(root.text, "<raw>");
        assert_eq!(
            &text[root.content.clone()],
            "<b>x &amp; y &#65;</b><c/><![CDATA[<raw>]]>"
        );
    }

    #[test]
    fn reads_attributes_resolving_predefined_entities_only() {
        let (root, _) =
            parse(br#"<s xmlns="urn:x" name="a &amp; b" note='say &quot;hi&quot;&#33;' t="1"/>"#)
                .unwrap();
        assert_eq!(
            root.attributes,
            vec![
                ("name".to_string(), "a & b".to_string()),
                ("note".to_string(), "say \"hi\"!".to_string()),
                ("t".to_string(), "1".to_string()),
            ]
        );
        assert_eq!(root.attribute("t"), Some("1"));
        assert_eq!(root.attribute("xmlns"), None);
        assert_eq!(
            parse(br#"<s a="&xxe;"/>"#).unwrap_err(),
            XmlError::Entity("xxe".into())
        );
        assert!(matches!(
            parse(br#"<s a="1" a="2"/>"#).unwrap_err(),
            XmlError::Malformed { .. }
        ));
    }

    #[test]
    fn refuses_doctypes_custom_entities_depth_and_garbage() {
        let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert_eq!(parse(laughs).unwrap_err(), XmlError::Doctype);
        assert_eq!(
            parse(b"<a>&xxe;</a>").unwrap_err(),
            XmlError::Entity("xxe".into())
        );
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()).unwrap_err(), XmlError::TooDeep);
        assert!(matches!(
            parse(b"<a><b></a>").unwrap_err(),
            XmlError::Malformed { .. }
        ));
        assert!(matches!(
            parse(b"<a>").unwrap_err(),
            XmlError::Malformed { .. }
        ));
        assert!(matches!(
            parse(b"not xml").unwrap_err(),
            XmlError::Malformed { .. }
        ));
        assert_eq!(parse(&[0xff, 0xfe]).unwrap_err(), XmlError::NotUtf8);
    }
}
