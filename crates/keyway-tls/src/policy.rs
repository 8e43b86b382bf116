//! A connector's TLS policy: which protocol versions (and optionally which cipher suites)
//! it accepts, from the "lowest allowable version" users know, from version flags
//! (`ssl3`, `tls`, `tls11`, `tls12`, `tls13`), or from JSSE names (`TLSv1.2`).

use std::fmt;

use serde::{Serialize, Serializer};

/// A protocol version, ordered from oldest to newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// SSL 3.0: accepted in configurations, never negotiated (RFC 7568).
    Ssl3,
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// Every version, oldest first.
    pub const ALL: [TlsVersion; 5] = [
        TlsVersion::Ssl3,
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];

    /// The version's code on the wire (0x0300 … 0x0304).
    pub fn wire(self) -> u16 {
        0x0300 + self as u16
    }

    /// The version for a wire code.
    pub fn from_wire(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.wire() == code)
    }

    /// Its name as keyway prints it everywhere: "SSL 3.0", "TLS 1.0" … "TLS 1.3".
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "SSL 3.0",
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        }
    }

    /// Its short form, as `--min-tls` takes it: `ssl3`, `1.0` … `1.3`.
    pub fn short(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "ssl3",
            TlsVersion::Tls10 => "1.0",
            TlsVersion::Tls11 => "1.1",
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }

    /// Reads the names people and configurations use: `1.2`, `tls1.2`, `TLSv1.2`, `tls12`,
    /// `tls` (TLS 1.0, as in PMG-style flags), `TLSv1`, `ssl3`, `SSLv3`, `SSL 3.0`.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let key: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect();
        let v = match key.as_str() {
            "ssl3" | "sslv3" | "ssl3.0" | "sslv3.0" | "3.0" => TlsVersion::Ssl3,
            "tls" | "tls1" | "tlsv1" | "tls1.0" | "tlsv1.0" | "tls10" | "1.0" | "1" => {
                TlsVersion::Tls10
            }
            "tls1.1" | "tlsv1.1" | "tls11" | "1.1" => TlsVersion::Tls11,
            "tls1.2" | "tlsv1.2" | "tls12" | "1.2" => TlsVersion::Tls12,
            "tls1.3" | "tlsv1.3" | "tls13" | "1.3" => TlsVersion::Tls13,
            _ => {
                return Err(PolicyError::UnknownVersion {
                    given: s.trim().to_string(),
                });
            }
        };
        Ok(v)
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A set of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct VersionSet(u8);

impl VersionSet {
    /// The empty set.
    pub const EMPTY: VersionSet = VersionSet(0);

    /// All versions from `low` to `high` inclusive.
    pub fn range(low: TlsVersion, high: TlsVersion) -> Self {
        TlsVersion::ALL
            .into_iter()
            .filter(|v| *v >= low && *v <= high)
            .collect()
    }

    /// Whether `v` is in the set.
    pub fn contains(self, v: TlsVersion) -> bool {
        self.0 & (1 << v as u8) != 0
    }

    /// Adds `v`.
    pub fn insert(&mut self, v: TlsVersion) {
        self.0 |= 1 << v as u8;
    }

    /// Removes `v`.
    pub fn remove(&mut self, v: TlsVersion) {
        self.0 &= !(1 << v as u8);
    }

    /// The versions, oldest first.
    pub fn iter(self) -> impl Iterator<Item = TlsVersion> {
        TlsVersion::ALL
            .into_iter()
            .filter(move |v| self.contains(*v))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The oldest version in the set.
    pub fn lowest(self) -> Option<TlsVersion> {
        self.iter().next()
    }

    /// The newest version in the set.
    pub fn highest(self) -> Option<TlsVersion> {
        self.iter().last()
    }

    /// Versions in both sets.
    pub fn intersection(self, other: VersionSet) -> VersionSet {
        VersionSet(self.0 & other.0)
    }

    /// The versions between the lowest and highest that are missing.
    pub fn holes(self) -> VersionSet {
        match (self.lowest(), self.highest()) {
            (Some(low), Some(high)) => VersionSet(VersionSet::range(low, high).0 & !self.0),
            _ => VersionSet::EMPTY,
        }
    }
}

impl FromIterator<TlsVersion> for VersionSet {
    fn from_iter<I: IntoIterator<Item = TlsVersion>>(iter: I) -> Self {
        let mut set = VersionSet::EMPTY;
        for v in iter {
            set.insert(v);
        }
        set
    }
}

/// "TLS 1.2–1.3", "TLS 1.3", "TLS 1.0, TLS 1.2" or "none".
impl fmt::Display for VersionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Some(low), Some(high)) = (self.lowest(), self.highest()) else {
            return f.write_str("none");
        };
        if low == high {
            return f.write_str(low.name());
        }
        if self.holes().is_empty() && low != TlsVersion::Ssl3 {
            return write!(f, "{}–{}", low.name(), &high.name()[4..]);
        }
        let names: Vec<&str> = self.iter().map(TlsVersion::name).collect();
        f.write_str(&names.join(", "))
    }
}

impl Serialize for VersionSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Something in a policy the user should know, though it is not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyWarning {
    /// SSLv3 was allowed: keyway never negotiates it. As a lowest allowable version it
    /// behaves as TLS 1.0; in an explicit set it is dropped.
    Ssl3NeverNegotiated {
        /// What the policy accepts instead.
        accepted: VersionSet,
    },
    /// The policy allows TLS 1.0 or 1.1, deprecated by RFC 8996.
    DeprecatedVersions {
        /// The deprecated versions allowed.
        versions: VersionSet,
    },
}

impl fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyWarning::Ssl3NeverNegotiated { accepted } => write!(
                f,
                "SSLv3 is accepted in the configuration but never negotiated (RFC 7568, POODLE): the connector accepts {accepted}"
            ),
            PolicyWarning::DeprecatedVersions { versions } => write!(
                f,
                "{versions} {} deprecated (RFC 8996); allow {} only for partners that cannot move",
                if versions.iter().count() == 1 {
                    "is"
                } else {
                    "are"
                },
                if versions.iter().count() == 1 {
                    "it"
                } else {
                    "them"
                }
            ),
        }
    }
}

/// Why a policy cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A version name keyway does not know.
    #[error(
        "unknown TLS version \"{given}\" (use ssl3, 1.0, 1.1, 1.2, 1.3, or TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)"
    )]
    UnknownVersion {
        /// What was given.
        given: String,
    },
    /// No version is allowed.
    #[error("no TLS version is allowed: enable at least one of tls, tls11, tls12, tls13")]
    NoVersion,
    /// Only SSLv3 is allowed, which keyway never negotiates.
    #[error(
        "only SSLv3 is allowed, and keyway never negotiates SSLv3 (RFC 7568): allow TLS 1.0 or newer; if the partner speaks only SSLv3, it must upgrade"
    )]
    OnlySsl3,
    /// The versions have a gap, which a TLS client cannot offer.
    #[error(
        "{allowed} leaves out {missing}: a TLS client offers a range of versions, so a gap cannot be honoured exactly; allow {missing} too, or drop the versions on one side of it"
    )]
    Hole {
        /// The versions asked for.
        allowed: VersionSet,
        /// The versions missing in between.
        missing: VersionSet,
    },
    /// The maximum is below the minimum.
    #[error("the maximum version {max} is below the lowest allowable version {min}")]
    MaxBelowMin {
        /// The lowest allowable.
        min: TlsVersion,
        /// The maximum.
        max: TlsVersion,
    },
    /// A cipher suite name is not an IANA name keyway knows.
    #[error(
        "unknown cipher suite \"{name}\": use IANA names such as TLS_AES_128_GCM_SHA256 or TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    )]
    UnknownCipherSuite {
        /// The name given.
        name: String,
    },
}

/// Version flags as legacy connector configurations write them; each is true or false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionFlags {
    /// `ssl3`
    pub ssl3: bool,
    /// `tls` (TLS 1.0)
    pub tls: bool,
    /// `tls11`
    pub tls11: bool,
    /// `tls12`
    pub tls12: bool,
    /// `tls13`
    pub tls13: bool,
}

/// The versions a connector accepts, and optionally its cipher suites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsPolicy {
    accepted: VersionSet,
    /// IANA names, in preference order; `None` means the backend's defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher_suites: Option<Vec<String>>,
    warnings: Vec<PolicyWarning>,
}

impl Default for TlsPolicy {
    /// Lowest allowable version TLS 1.2: accepts TLS 1.2 and 1.3.
    fn default() -> Self {
        Self::lowest_allowable(TlsVersion::Tls12)
    }
}

impl TlsPolicy {
    /// The ladder users know: SSLv3 → TLS 1.0–1.3 with a warning; TLS 1.0 → 1.0–1.3;
    /// TLS 1.1 → 1.1–1.3; TLS 1.2 → 1.2–1.3; TLS 1.3 → 1.3.
    pub fn lowest_allowable(lowest: TlsVersion) -> Self {
        let mut warnings = Vec::new();
        let low = if lowest == TlsVersion::Ssl3 {
            warnings.push(PolicyWarning::Ssl3NeverNegotiated {
                accepted: VersionSet::range(TlsVersion::Tls10, TlsVersion::Tls13),
            });
            TlsVersion::Tls10
        } else {
            lowest
        };
        Self::with_warnings(VersionSet::range(low, TlsVersion::Tls13), warnings)
    }

    fn with_warnings(accepted: VersionSet, mut warnings: Vec<PolicyWarning>) -> Self {
        let deprecated =
            accepted.intersection(VersionSet::range(TlsVersion::Tls10, TlsVersion::Tls11));
        if !deprecated.is_empty() {
            warnings.push(PolicyWarning::DeprecatedVersions {
                versions: deprecated,
            });
        }
        TlsPolicy {
            accepted,
            cipher_suites: None,
            warnings,
        }
    }

    /// An explicit set. SSLv3 in it is accepted and dropped with a warning; a set with a gap
    /// (e.g. 1.1 and 1.3 without 1.2) is refused, never widened.
    pub fn explicit(versions: VersionSet) -> Result<Self, PolicyError> {
        let mut accepted = versions;
        let mut warnings = Vec::new();
        if accepted.contains(TlsVersion::Ssl3) {
            accepted.remove(TlsVersion::Ssl3);
            if accepted.is_empty() {
                return Err(PolicyError::OnlySsl3);
            }
            warnings.push(PolicyWarning::Ssl3NeverNegotiated { accepted });
        }
        if accepted.is_empty() {
            return Err(PolicyError::NoVersion);
        }
        let holes = accepted.holes();
        if !holes.is_empty() {
            return Err(PolicyError::Hole {
                allowed: accepted,
                missing: holes,
            });
        }
        Ok(Self::with_warnings(accepted, warnings))
    }

    /// From `ssl3`/`tls`/`tls11`/`tls12`/`tls13` flags.
    pub fn from_flags(flags: VersionFlags) -> Result<Self, PolicyError> {
        let pairs = [
            (flags.ssl3, TlsVersion::Ssl3),
            (flags.tls, TlsVersion::Tls10),
            (flags.tls11, TlsVersion::Tls11),
            (flags.tls12, TlsVersion::Tls12),
            (flags.tls13, TlsVersion::Tls13),
        ];
        Self::explicit(
            pairs
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, v)| v)
                .collect(),
        )
    }

    /// From a comma-separated list of version names: `tls11,tls12`, `TLSv1.2,TLSv1.3`.
    pub fn from_list(list: &str) -> Result<Self, PolicyError> {
        let versions = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(TlsVersion::parse)
            .collect::<Result<VersionSet, _>>()?;
        Self::explicit(versions)
    }

    /// Caps the newest version accepted.
    pub fn with_max(mut self, max: TlsVersion) -> Result<Self, PolicyError> {
        let Some(low) = self.accepted.lowest() else {
            return Err(PolicyError::NoVersion);
        };
        if max < low {
            return Err(PolicyError::MaxBelowMin { min: low, max });
        }
        let capped = self
            .accepted
            .intersection(VersionSet::range(TlsVersion::Ssl3, max));
        self.accepted = capped;
        Ok(self)
    }

    /// Restricts the cipher suites to these IANA names, in preference order.
    pub fn with_cipher_suites<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, PolicyError> {
        let mut suites = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            if tls_parser::TlsCipherSuite::from_name(name).is_none() {
                return Err(PolicyError::UnknownCipherSuite {
                    name: name.to_string(),
                });
            }
            suites.push(name.to_string());
        }
        self.cipher_suites = Some(suites);
        Ok(self)
    }

    /// The versions accepted (never SSLv3).
    pub fn accepted(&self) -> VersionSet {
        self.accepted
    }

    /// The cipher suites, when restricted.
    pub fn cipher_suites(&self) -> Option<&[String]> {
        self.cipher_suites.as_deref()
    }

    /// Warnings to show wherever the policy is used.
    pub fn warnings(&self) -> &[PolicyWarning] {
        &self.warnings
    }

    /// Whether connections need the legacy backend: the policy allows TLS 1.0 or 1.1,
    /// which rustls does not implement.
    pub fn needs_legacy_backend(&self) -> bool {
        self.accepted.contains(TlsVersion::Tls10) || self.accepted.contains(TlsVersion::Tls11)
    }
}

impl fmt::Display for TlsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "accepts {}", self.accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::TlsVersion::*;
    use super::*;

    #[test]
    fn the_lowest_allowable_ladder_as_users_know_it() {
        let cases = [
            (Ssl3, "TLS 1.0–1.3"),
            (Tls10, "TLS 1.0–1.3"),
            (Tls11, "TLS 1.1–1.3"),
            (Tls12, "TLS 1.2–1.3"),
            (Tls13, "TLS 1.3"),
        ];
        for (lowest, accepted) in cases {
            assert_eq!(
                TlsPolicy::lowest_allowable(lowest).accepted().to_string(),
                accepted,
                "{lowest}"
            );
        }
        assert_eq!(
            TlsPolicy::default().accepted(),
            VersionSet::range(Tls12, Tls13)
        );
        assert!(
            TlsPolicy::lowest_allowable(Ssl3)
                .warnings()
                .iter()
                .any(|w| matches!(w, PolicyWarning::Ssl3NeverNegotiated { .. }))
        );
        assert!(
            !TlsPolicy::lowest_allowable(Ssl3).accepted().contains(Ssl3),
            "SSLv3 is never negotiated"
        );
        assert!(TlsPolicy::default().warnings().is_empty());
    }

    #[test]
    fn flags_and_jsse_names_parse_into_the_same_set() {
        let from_flags = TlsPolicy::from_flags(VersionFlags {
            tls11: true,
            tls12: true,
            ..Default::default()
        })
        .unwrap();
        let from_names = TlsPolicy::from_list("TLSv1.1, TLSv1.2").unwrap();
        let from_short = TlsPolicy::from_list("tls11,tls12").unwrap();
        assert_eq!(from_flags.accepted(), VersionSet::range(Tls11, Tls12));
        assert_eq!(from_flags.accepted(), from_names.accepted());
        assert_eq!(from_names.accepted(), from_short.accepted());
        assert_eq!(
            TlsPolicy::from_list("tls").unwrap().accepted().to_string(),
            "TLS 1.0",
            "`tls` is TLS 1.0"
        );
        assert_eq!(
            TlsPolicy::from_list("TLSv1")
                .unwrap()
                .accepted()
                .to_string(),
            "TLS 1.0"
        );
    }

    #[test]
    fn a_set_with_a_hole_is_refused_never_widened() {
        let err = TlsPolicy::from_list("tls11,tls13").unwrap_err();
        assert_eq!(
            err,
            PolicyError::Hole {
                allowed: [Tls11, Tls13].into_iter().collect(),
                missing: [Tls12].into_iter().collect()
            }
        );
        assert!(
            err.to_string()
                .contains("TLS 1.1, TLS 1.3 leaves out TLS 1.2"),
            "{err}"
        );
    }

    #[test]
    fn ssl3_alone_and_nothing_at_all_are_refused_ssl3_with_others_warns() {
        assert_eq!(
            TlsPolicy::from_flags(VersionFlags {
                ssl3: true,
                ..Default::default()
            }),
            Err(PolicyError::OnlySsl3)
        );
        assert_eq!(
            TlsPolicy::from_flags(VersionFlags::default()),
            Err(PolicyError::NoVersion)
        );
        let p = TlsPolicy::from_flags(VersionFlags {
            ssl3: true,
            tls: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.accepted().to_string(), "TLS 1.0");
        assert!(p.warnings().iter().any(|w| {
            w.to_string()
                .ends_with(&format!("accepts {}", p.accepted()))
        }));
        assert!(p.needs_legacy_backend());
    }

    #[test]
    fn max_version_caps_and_cannot_go_below_the_minimum() {
        let p = TlsPolicy::lowest_allowable(Tls11).with_max(Tls12).unwrap();
        assert_eq!(p.accepted().to_string(), "TLS 1.1–1.2");
        assert_eq!(
            TlsPolicy::default().with_max(Tls11),
            Err(PolicyError::MaxBelowMin {
                min: Tls12,
                max: Tls11
            })
        );
    }

    #[test]
    fn cipher_suites_are_iana_names() {
        let p = TlsPolicy::default()
            .with_cipher_suites(&[
                "TLS_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            ])
            .unwrap();
        assert_eq!(p.cipher_suites().unwrap().len(), 2);
        let err = TlsPolicy::default()
            .with_cipher_suites(&["ECDHE-RSA-AES128-GCM-SHA256"])
            .unwrap_err();
        assert!(
            matches!(err, PolicyError::UnknownCipherSuite { .. }),
            "OpenSSL names are not IANA names"
        );
    }

    #[test]
    fn unknown_version_names_say_what_is_accepted() {
        let err = TlsVersion::parse("tls2").unwrap_err();
        assert!(err.to_string().contains("TLSv1.2"), "{err}");
        for (name, v) in [
            ("SSLv3", Ssl3),
            ("1.0", Tls10),
            ("TLS 1.1", Tls11),
            ("tlsv1.2", Tls12),
            ("TLSv1.3", Tls13),
        ] {
            assert_eq!(TlsVersion::parse(name).unwrap(), v, "{name}");
        }
    }

    #[test]
    fn versions_serialize_as_their_names() {
        assert_eq!(serde_json::to_string(&Tls12).unwrap(), "\"TLS 1.2\"");
        assert_eq!(
            serde_json::to_string(&VersionSet::range(Tls12, Tls13)).unwrap(),
            "[\"TLS 1.2\",\"TLS 1.3\"]"
        );
    }
}
