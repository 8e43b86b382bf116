//! PMG-style scenario files: one `<scenario …/>` element per endpoint, with its address,
//! credentials and TLS version flags as attributes.
//!
//! ```xml
//! <scenarios>
//!   <scenario name="PMG_Test" adminport="48989" domain="TESTDOMAIN" password="…"
//!             username="user@example" baseurl="https://pmg.example:8443/api"
//!             locale="online" tls="false" tls11="false" tls12="true" ssl3="false"/>
//! </scenarios>
//! ```
//!
//! [`import`] turns each scenario into a connector: `baseurl` becomes its URL, `username`
//! and `password` its basic auth, and the flags (`ssl3`, `tls` = TLS 1.0, `tls11`,
//! `tls12`, `tls13`) an explicit version set in a shared profile `pmg-…`. Every other
//! attribute (`adminport`, `domain`, `locale`, anything else) is kept in the connector's
//! `extra` table and listed in the report, so nothing is dropped. [`export`] writes
//! connectors back in the same shape; an import followed by an export gives the file
//! back.

use std::collections::BTreeSet;
use std::path::Path;

use indexmap::IndexMap;
use keyway_tls::{TlsVersion, VersionFlags};

use crate::config::{
    AuthEntry, Config, ConfigError, ConfigErrors, ConfigFile, ConnectorEntry, ProfileEntry,
    Redirects, SoapVersion, versions_from_flags,
};
use crate::secret::SecretRef;
use crate::{DEFAULT_TIMEOUT, Kind, xml};

/// The root element [`export`] writes.
pub const PMG_ROOT: &str = "scenarios";

/// The version flags, in the order PMG files write them, with the version each enables.
const FLAGS: [(&str, TlsVersion); 5] = [
    ("tls", TlsVersion::Tls10),
    ("tls11", TlsVersion::Tls11),
    ("tls12", TlsVersion::Tls12),
    ("ssl3", TlsVersion::Ssl3),
    ("tls13", TlsVersion::Tls13),
];

/// The attributes keyway maps to connector fields.
const MAPPED: [&str; 9] = [
    "name", "baseurl", "username", "password", "tls", "tls11", "tls12", "ssl3", "tls13",
];

/// Where [`export`] puts each attribute it knows; others follow in the order kept.
const ORDER: [&str; 12] = [
    "name",
    "adminport",
    "domain",
    "password",
    "username",
    "baseurl",
    "locale",
    "tls",
    "tls11",
    "tls12",
    "ssl3",
    "tls13",
];

/// Where an import puts the passwords it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordStyle {
    /// In the written configuration file (which is then readable by its owner only).
    #[default]
    Inline,
    /// As `{ env = "KEYWAY_PMG_<NAME>_PASSWORD" }`; the values are not written anywhere.
    Env,
}

/// What an import cannot read from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// The kind of every imported connector (the format does not say).
    pub kind: Kind,
    /// Where passwords go.
    pub passwords: PasswordStyle,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            kind: Kind::Rest,
            passwords: PasswordStyle::Inline,
        }
    }
}

/// The result of an import: the configuration to write and what became of each scenario.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Profiles and connectors, in the file's order.
    pub config: ConfigFile,
    /// One entry per scenario, in the file's order.
    pub scenarios: Vec<ImportedScenario>,
    /// What the file holds besides scenarios, not imported (the wrapping elements'
    /// attributes, other elements), each with its path in the file.
    pub not_imported: Vec<String>,
}

/// What one scenario became. Holds no password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedScenario {
    /// The connector's name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// The profile made from the flags; `None` when the scenario has no flags (keyway's
    /// default, TLS 1.2 and newer, applies).
    pub profile: Option<String>,
    /// The versions the flags enable.
    pub versions: Vec<String>,
    /// The basic-auth user name.
    pub username: Option<String>,
    /// The environment variable to set, when passwords are imported as references.
    pub password_env: Option<String>,
    /// Attributes kept in `extra` because keyway does not use them.
    pub kept: Vec<String>,
}

/// Reads a scenario file (`path` is used in messages only). Every problem is reported,
/// each with the scenario and the attribute; no password appears in any of them.
pub fn import(path: &Path, bytes: &[u8], options: ImportOptions) -> Result<Imported, ConfigErrors> {
    let error = |item: String, field: &str, problem: String| ConfigError {
        file: path.to_path_buf(),
        item,
        field: field.to_string(),
        problem,
    };
    let (root, _) = xml::parse(bytes).map_err(|e| {
        ConfigErrors(vec![error(
            String::new(),
            "",
            format!("cannot read it as a scenario file: {e}"),
        )])
    })?;
    let mut errors = Vec::new();
    let mut file = ConfigFile::default();
    let mut scenarios = Vec::new();
    let mut env_names = BTreeSet::new();
    // Scenarios wherever they sit (real files wrap them, e.g.
    // <configuration><scenarios><scenario …/></scenarios></configuration>); everything
    // else is listed as not imported.
    let mut candidates = Vec::new();
    let mut not_imported = Vec::new();
    find_scenarios(&root, "", &mut candidates, &mut not_imported);
    for (index, element) in candidates.into_iter().enumerate() {
        let position = format!("scenario #{}", index + 1);
        if !element.children.is_empty() || !element.text.trim().is_empty() {
            errors.push(error(
                position.clone(),
                "",
                "a scenario is one empty element with attributes; its content would be lost".into(),
            ));
        }
        let Some(name) = element
            .attribute("name")
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            errors.push(error(
                position,
                "name",
                "missing: every scenario needs a name (it becomes the connector's name)".into(),
            ));
            continue;
        };
        let at = format!("scenario \"{}\"", crate::shown_name(name));
        if file.connectors.contains_key(name) {
            errors.push(error(at, "name", "a second scenario has this name".into()));
            continue;
        }
        let Some(url) = element.attribute("baseurl") else {
            errors.push(error(
                at,
                "baseurl",
                "missing: the endpoint's https:// URL is required".into(),
            ));
            continue;
        };

        let mut flags = VersionFlags::default();
        let mut any_flag = false;
        for (flag, version) in FLAGS {
            let Some(value) = element.attribute(flag) else {
                continue;
            };
            any_flag = true;
            let on = match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" | "" => false,
                other => {
                    errors.push(error(
                        at.clone(),
                        flag,
                        format!("\"{other}\" is not a flag value; write \"true\" or \"false\""),
                    ));
                    false
                }
            };
            match version {
                TlsVersion::Ssl3 => flags.ssl3 = on,
                TlsVersion::Tls10 => flags.tls = on,
                TlsVersion::Tls11 => flags.tls11 = on,
                TlsVersion::Tls12 => flags.tls12 = on,
                TlsVersion::Tls13 => flags.tls13 = on,
            }
        }
        let versions = versions_from_flags(flags);
        if any_flag && versions.is_empty() {
            errors.push(error(
                at.clone(),
                "tls12",
                "the flags enable no version; set at least one of tls, tls11, tls12 to \"true\""
                    .into(),
            ));
        }
        let profile = (!versions.is_empty()).then(|| profile_name(&versions));
        if let Some(profile) = &profile {
            file.profiles
                .entry(profile.clone())
                .or_insert_with(|| ProfileEntry {
                    versions: Some(versions.clone()),
                    ..ProfileEntry::default()
                });
        }

        let username = element.attribute("username").filter(|u| !u.is_empty());
        let password = element.attribute("password");
        let mut password_env = None;
        let auth = match (username, password) {
            (Some(user), password) => {
                let secret = match options.passwords {
                    PasswordStyle::Inline => SecretRef::Inline(password.unwrap_or("").into()),
                    PasswordStyle::Env => {
                        let var = env_name(name, &mut env_names);
                        password_env = Some(var.clone());
                        SecretRef::Env { env: var }
                    }
                };
                Some(AuthEntry {
                    username: user.to_string(),
                    password: secret,
                })
            }
            (None, Some(p)) if !p.is_empty() => {
                errors.push(error(
                    at.clone(),
                    "password",
                    "a password without a username; add username=\"…\" or remove the password"
                        .into(),
                ));
                None
            }
            (None, _) => None,
        };

        let extra: IndexMap<String, String> = element
            .attributes
            .iter()
            .filter(|(k, _)| !MAPPED.contains(&k.as_str()))
            .cloned()
            .collect();
        scenarios.push(ImportedScenario {
            name: name.to_string(),
            url: url.to_string(),
            profile: profile.clone(),
            versions,
            username: auth.as_ref().map(|a| a.username.clone()),
            password_env,
            kept: extra.keys().cloned().collect(),
        });
        file.connectors.insert(
            name.to_string(),
            ConnectorEntry {
                kind: match options.kind {
                    Kind::Rest => "rest",
                    Kind::Soap => "soap",
                }
                .to_string(),
                url: url.to_string(),
                profile,
                auth,
                headers: IndexMap::new(),
                timeout: None,
                retries: None,
                redirects: None,
                test_path: None,
                soap_version: None,
                test_action: None,
                tags: Vec::new(),
                extra,
            },
        );
    }
    if scenarios.is_empty() && errors.is_empty() {
        errors.push(error(
            String::new(),
            "",
            format!(
                "no <scenario> element in <{}>; is this a PMG scenario file?",
                root.name
            ),
        ));
    }
    // The checks a keyway.toml gets (https URLs, user names, versions), named in the
    // scenario file's terms.
    if let Err(ConfigErrors(found)) = Config::from_files(vec![(path.to_path_buf(), file.clone())]) {
        for e in found {
            let item = match e.item.strip_prefix("connector ") {
                Some(name) => format!("scenario {name}"),
                None => e.item,
            };
            let field = match e.field.as_str() {
                "url" => "baseurl",
                "auth.username" => "username",
                "auth.password" => "password",
                "versions" => "tls12",
                other => other,
            };
            errors.push(error(item, field, e.problem));
        }
    }
    if errors.is_empty() {
        Ok(Imported {
            config: file,
            scenarios,
            not_imported,
        })
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Collects the `<scenario>` elements under `element` at any depth, and describes every
/// other element (with its attributes and text) in `skipped`: `<configuration
/// version="2">`, at the path it sits at.
fn find_scenarios<'a>(
    element: &'a xml::Element,
    parent: &str,
    found: &mut Vec<&'a xml::Element>,
    skipped: &mut Vec<String>,
) {
    let path = format!("{parent}/{}", element.name);
    if element.name == "scenario" {
        found.push(element);
        return;
    }
    let mut what = Vec::new();
    if !element.attributes.is_empty() {
        let names: Vec<&str> = element.attributes.iter().map(|(k, _)| k.as_str()).collect();
        what.push(format!("attributes {}", names.join(", ")));
    }
    if !element.text.trim().is_empty() {
        what.push("text".to_string());
    }
    let holds_scenarios = contains_scenario(element);
    if !holds_scenarios {
        skipped.push(format!(
            "{path}: element{} (it holds no scenario)",
            if what.is_empty() {
                String::new()
            } else {
                format!(" and its {}", what.join(" and "))
            }
        ));
        return;
    }
    if !what.is_empty() {
        skipped.push(format!("{path}: its {}", what.join(" and ")));
    }
    for child in &element.children {
        find_scenarios(child, &path, found, skipped);
    }
}

fn contains_scenario(element: &xml::Element) -> bool {
    element.name == "scenario" || element.children.iter().any(contains_scenario)
}

/// `pmg-tls1.0-tls1.1` for TLS 1.0 and 1.1.
fn profile_name(versions: &[String]) -> String {
    let short: Vec<String> = versions
        .iter()
        .map(|v| v.to_ascii_lowercase().replace(' ', ""))
        .collect();
    format!("pmg-{}", short.join("-"))
}

/// `KEYWAY_PMG_<NAME>_PASSWORD`, unique within one import.
fn env_name(name: &str, taken: &mut BTreeSet<String>) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut candidate = format!("KEYWAY_PMG_{stem}_PASSWORD");
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("KEYWAY_PMG_{stem}_{n}_PASSWORD");
        n += 1;
    }
    candidate
}

/// A scenario file written from connectors, and what it could not carry.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The XML. It holds passwords: write it where only its owner can read it.
    pub xml: String,
    /// How many scenarios it holds.
    pub count: usize,
    /// Per connector, the settings the format has no place for (they are not exported).
    pub left_out: Vec<(String, Vec<String>)>,
}

/// Writes `names` (every connector when empty) as a scenario file. Passwords are
/// resolved (inline, environment or file); a password that cannot be resolved, or a
/// version set the flags cannot express, is an error naming the connector and field.
pub fn export(config: &Config, names: &[String]) -> Result<Exported, ConfigErrors> {
    let mut errors = Vec::new();
    let mut chosen = Vec::new();
    if names.is_empty() {
        chosen.extend(config.connectors());
    } else {
        for name in names {
            match config.connector(name) {
                Ok(def) => chosen.push(def),
                Err(problem) => errors.push(ConfigError {
                    file: config.files().first().cloned().unwrap_or_default(),
                    item: String::new(),
                    field: String::new(),
                    problem,
                }),
            }
        }
    }
    let mut xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{PMG_ROOT}>\n");
    let mut left_out = Vec::new();
    for def in &chosen {
        let at = format!("connector \"{}\"", def.name);
        let error = |field: &str, problem: String| ConfigError {
            file: def.file.clone(),
            item: at.clone(),
            field: field.to_string(),
            problem,
        };
        let mut attributes: IndexMap<&str, String> = IndexMap::new();
        let mut missing = Vec::new();
        attributes.insert("name", def.name.clone());
        attributes.insert("baseurl", def.url_text.clone());
        match config.auth(def) {
            Ok(Some((user, password))) => {
                attributes.insert("username", user);
                attributes.insert("password", password.to_string());
            }
            Ok(None) => {}
            Err(ConfigErrors(mut e)) => errors.append(&mut e),
        }
        let (policy, entry) = match &def.profile {
            Some(name) => match config.profile_entry(name) {
                Some((entry, policy)) => (policy.clone(), Some(entry)),
                None => (Default::default(), None),
            },
            None => (Default::default(), None),
        };
        // The versions as declared (an explicit list keeps its SSLv3, which the policy
        // drops since it is never negotiated), else what the policy accepts.
        let declared: keyway_tls::VersionSet = match entry.and_then(|e| e.versions.as_ref()) {
            Some(list) => list
                .iter()
                .filter_map(|v| TlsVersion::parse(v).ok())
                .collect(),
            None => policy.accepted(),
        };
        for (flag, version) in FLAGS {
            // tls13 only when enabled: the PMG format predates it.
            if version != TlsVersion::Tls13 || declared.contains(version) {
                attributes.insert(flag, declared.contains(version).to_string());
            }
        }
        if let Some(entry) = entry {
            for (set, what) in [
                (!entry.truststores.is_empty(), "truststores"),
                (entry.system_roots, "system_roots"),
                (entry.keystore.is_some(), "keystore (client certificate)"),
                (entry.cipher_suites.is_some(), "cipher_suites"),
                (entry.server_name.is_some(), "server_name"),
                (entry.insecure, "insecure"),
                (entry.connect_timeout.is_some(), "connect_timeout"),
                (entry.handshake_timeout.is_some(), "handshake_timeout"),
            ] {
                if set {
                    missing.push(format!("profile {what}"));
                }
            }
        }
        for (set, what) in [
            (def.kind == Kind::Soap, "kind = \"soap\""),
            (!def.headers.is_empty(), "headers"),
            (def.timeout != DEFAULT_TIMEOUT, "timeout"),
            (def.retries > 0, "retries"),
            (def.redirects != Redirects::SameOrigin, "redirects"),
            (def.test_path.is_some(), "test_path"),
            (def.soap_version != SoapVersion::V11, "soap_version"),
            (def.test_action.is_some(), "test_action"),
        ] {
            if set {
                missing.push(what.to_string());
            }
        }
        for (key, value) in &def.extra {
            if attributes.contains_key(key.as_str()) {
                errors.push(error(
                    "extra",
                    format!(
                        "\"{key}\" is also written from the connector's settings; remove it from extra"
                    ),
                ));
            } else if !is_xml_name(key) {
                errors.push(error(
                    "extra",
                    format!("\"{key}\" cannot be an XML attribute name"),
                ));
            } else {
                attributes.insert(key.as_str(), value.clone());
            }
        }
        xml.push_str("  <scenario");
        let ordered = ORDER
            .iter()
            .filter_map(|k| attributes.get_key_value(k))
            .chain(attributes.iter().filter(|(k, _)| !ORDER.contains(k)));
        for (key, value) in ordered {
            xml.push_str(&format!(" {key}=\"{}\"", quick_xml::escape::escape(value)));
        }
        xml.push_str("/>\n");
        if !missing.is_empty() {
            left_out.push((def.name.clone(), missing));
        }
    }
    xml.push_str(&format!("</{PMG_ROOT}>\n"));
    if errors.is_empty() {
        Ok(Exported {
            xml,
            count: chosen.len(),
            left_out,
        })
    } else {
        Err(ConfigErrors(errors))
    }
}

/// A plain XML name: a letter or `_`, then letters, digits, `_`, `-`, `.`.
fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<scenarios>
  <scenario name="PMG_Test" adminport="48989" domain="TESTDOMAIN" password="p&amp;ss&quot;1" username="user@example" baseurl="https://pmg.example:8443/api" locale="online" tls="false" tls11="false" tls12="true" ssl3="false"/>
  <scenario name="Legacy" password="old" username="svc" baseurl="https://old.example" tls="true" tls11="true" tls12="false" ssl3="false" region="eu"/>
  <scenario name="Anonymous" baseurl="https://open.example/x/" tls="false" tls11="false" tls12="true" ssl3="false"/>
</scenarios>
"#;

    fn load(file: &ConfigFile) -> Config {
        Config::from_files(vec![("keyway.toml".into(), file.clone())]).unwrap()
    }

    #[test]
    fn scenarios_become_connectors_in_order_with_flags_as_versions() {
        let imported = import(
            Path::new("s.xml"),
            FILE.as_bytes(),
            ImportOptions::default(),
        )
        .unwrap();
        let names: Vec<&str> = imported
            .config
            .connectors
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["PMG_Test", "Legacy", "Anonymous"]);
        let legacy = &imported.scenarios[1];
        assert_eq!(legacy.versions, ["TLS 1.0", "TLS 1.1"]);
        assert_eq!(legacy.profile.as_deref(), Some("pmg-tls1.0-tls1.1"));
        assert_eq!(legacy.kept, ["region"]);
        assert_eq!(
            imported.scenarios[0].kept,
            ["adminport", "domain", "locale"]
        );
        // One profile per version set, shared.
        assert_eq!(imported.config.profiles.len(), 2);
        let test = &imported.config.connectors["PMG_Test"];
        let auth = test.auth.as_ref().unwrap();
        assert_eq!(auth.username, "user@example");
        assert_eq!(auth.password, SecretRef::Inline("p&ss\"1".into()));
        assert!(imported.config.connectors["Anonymous"].auth.is_none());
        let config = load(&imported.config);
        let (_, policy) = config.profile_entry("pmg-tls1.0-tls1.1").unwrap();
        assert!(policy.needs_legacy_backend());
    }

    #[test]
    fn export_gives_the_imported_file_back() {
        let imported = import(
            Path::new("s.xml"),
            FILE.as_bytes(),
            ImportOptions::default(),
        )
        .unwrap();
        let exported = export(&load(&imported.config), &[]).unwrap();
        assert_eq!(exported.xml, FILE);
        assert_eq!(exported.count, 3);
        assert!(exported.left_out.is_empty(), "{:?}", exported.left_out);
        // And the TOML written in between reads back the same.
        let toml = toml::to_string(&imported.config).unwrap();
        let reread: ConfigFile = toml::from_str(&toml).unwrap();
        assert_eq!(reread, imported.config);
    }

    #[test]
    fn env_style_keeps_passwords_out_of_the_configuration() {
        let imported = import(
            Path::new("s.xml"),
            FILE.as_bytes(),
            ImportOptions {
                passwords: PasswordStyle::Env,
                ..ImportOptions::default()
            },
        )
        .unwrap();
        let toml = toml::to_string(&imported.config).unwrap();
        assert!(!toml.contains("p&ss"), "{toml}");
        assert!(!toml.contains("\"old\""), "{toml}");
        assert_eq!(
            imported.scenarios[0].password_env.as_deref(),
            Some("KEYWAY_PMG_PMG_TEST_PASSWORD")
        );
        let mut taken = BTreeSet::new();
        assert_eq!(env_name("a-b", &mut taken), "KEYWAY_PMG_A_B_PASSWORD");
        assert_eq!(env_name("a.b", &mut taken), "KEYWAY_PMG_A_B_2_PASSWORD");
    }

    #[test]
    fn every_problem_is_named_with_scenario_and_attribute_and_no_password() {
        let bad = r#"<scenarios>
  <scenario name="Plain" password="hunter2" username="u" baseurl="http://plain.example" tls12="true"/>
  <scenario name="NoVersion" baseurl="https://x.example" tls="false" tls12="false"/>
  <scenario name="Maybe" baseurl="https://x.example" tls12="perhaps"/>
  <scenario baseurl="https://x.example"/>
  <scenario name="Plain" baseurl="https://y.example"/>
  <scenario name="Orphan" password="hunter2" baseurl="https://z.example"/>
  <other/>
</scenarios>"#;
        let ConfigErrors(errors) =
            import(Path::new("s.xml"), bad.as_bytes(), ImportOptions::default()).unwrap_err();
        let found: Vec<(String, String)> = errors
            .iter()
            .map(|e| (e.item.clone(), e.field.clone()))
            .collect();
        for expected in [
            ("scenario \"NoVersion\"", "tls12"),
            ("scenario \"Maybe\"", "tls12"),
            ("scenario #4", "name"),
            ("scenario \"Plain\"", "name"),
            ("scenario \"Orphan\"", "password"),
            ("scenario \"Plain\"", "baseurl"),
        ] {
            assert!(
                found.contains(&(expected.0.to_string(), expected.1.to_string())),
                "{expected:?} not in {found:?}"
            );
        }
        let text = ConfigErrors(errors).to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("s.xml"), "{text}");

        let ConfigErrors(errors) = import(
            Path::new("s.xml"),
            b"<!DOCTYPE x><scenarios/>",
            ImportOptions::default(),
        )
        .unwrap_err();
        assert!(errors[0].problem.contains("DOCTYPE"), "{errors:?}");
        let ConfigErrors(errors) = import(
            Path::new("s.xml"),
            b"<scenarios/>",
            ImportOptions::default(),
        )
        .unwrap_err();
        assert!(errors[0].problem.contains("no <scenario>"), "{errors:?}");
    }

    #[test]
    fn export_names_what_the_format_cannot_carry() {
        let file: ConfigFile = toml::from_str(
            r#"
[truststores.t]
path = "t.pem"
[profiles.p]
truststores = ["t"]
lowest_version = "TLS 1.1"
[connectors.orders]
kind = "soap"
url = "https://orders.example"
profile = "p"
retries = 2
extra = { adminport = "1", "bad name" = "x" }
"#,
        )
        .unwrap();
        let config = load(&file);
        let ConfigErrors(errors) = export(&config, &[]).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].problem.contains("bad name"), "{errors:?}");

        let mut file = file;
        file.connectors["orders"].extra.shift_remove("bad name");
        let exported = export(&load(&file), &["orders".into()]).unwrap();
        assert!(
            exported.xml.contains(
                r#"<scenario name="orders" adminport="1" baseurl="https://orders.example" tls="false" tls11="true" tls12="true" ssl3="false" tls13="true"/>"#
            ),
            "{}",
            exported.xml
        );
        let (name, missing) = &exported.left_out[0];
        assert_eq!(name, "orders");
        assert_eq!(
            missing,
            &["profile truststores", "kind = \"soap\"", "retries"]
        );
        assert!(export(&load(&file), &["nope".into()]).is_err());
    }

    #[test]
    fn scenarios_are_found_wherever_they_sit_and_the_rest_is_listed() {
        let wrapped = r#"<configuration version="2"><meta owner="ops">x</meta>
            <scenarios region="eu"><scenario name="A" baseurl="https://a.example/" tls12="true"/></scenarios>
            <group><scenario name="B" baseurl="https://b.example/"/></group></configuration>"#;
        let imported = import(
            Path::new("w.xml"),
            wrapped.as_bytes(),
            ImportOptions::default(),
        )
        .unwrap();
        let names: Vec<&str> = imported.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(
            imported.not_imported,
            [
                "/configuration: its attributes version",
                "/configuration/meta: element and its attributes owner and text (it holds no scenario)",
                "/configuration/scenarios: its attributes region",
            ]
        );
    }

    #[test]
    fn every_flag_combination_comes_back_from_an_export_as_it_was_imported() {
        for bits in 0u8..32 {
            let flags: Vec<(&str, bool)> = FLAGS
                .iter()
                .enumerate()
                .map(|(i, (flag, _))| (*flag, bits & (1 << i) != 0))
                .collect();
            let attributes: String = flags
                .iter()
                .map(|(flag, on)| format!(" {flag}=\"{on}\""))
                .collect();
            let file = format!(
                r#"<scenarios><scenario name="S" baseurl="https://s.example/"{attributes}/></scenarios>"#
            );
            // Sets keyway refuses (none, only SSLv3, a gap) are refused at import.
            let Ok(imported) = import(
                Path::new("f.xml"),
                file.as_bytes(),
                ImportOptions::default(),
            ) else {
                continue;
            };
            let exported = export(&load(&imported.config), &[]).unwrap();
            let again = import(
                Path::new("back.xml"),
                exported.xml.as_bytes(),
                ImportOptions::default(),
            )
            .unwrap();
            assert_eq!(
                again.scenarios[0].versions, imported.scenarios[0].versions,
                "{file}\n{}",
                exported.xml
            );
            for (flag, on) in &flags {
                let written = format!("{flag}=\"{on}\"");
                // tls13="false" is left out: the format predates TLS 1.3.
                if *flag != "tls13" || *on {
                    assert!(
                        exported.xml.contains(&written),
                        "{written} in\n{}",
                        exported.xml
                    );
                }
            }
        }
    }
}
