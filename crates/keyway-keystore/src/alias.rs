//! Aliases for entries whose format carries none (PEM blocks, unnamed PKCS#12 bags).

use std::collections::HashSet;

use crate::Certificate;

/// Hands out unique aliases; JKS and PKCS#12 treat aliases case-insensitively, so do we.
#[derive(Default)]
pub(crate) struct AliasAllocator {
    taken: HashSet<String>,
}

impl AliasAllocator {
    pub(crate) fn take(&mut self, wanted: String) -> String {
        let mut candidate = wanted.clone();
        let mut n = 2;
        while !self.taken.insert(candidate.to_lowercase()) {
            candidate = format!("{wanted}-{n}");
            n += 1;
        }
        candidate
    }
}

/// An alias from the certificate's subject CN ("Partner Root CA" → "partner-root-ca"),
/// or its first fingerprint bytes when it has no CN.
pub(crate) fn from_certificate(cert: &Certificate) -> String {
    let info = cert.info();
    let cn = info
        .subject
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("CN="));
    let slug: String = cn
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        format!("cert-{}", info.sha256.replace(':', "")[..8].to_lowercase())
    } else {
        slug
    }
}
