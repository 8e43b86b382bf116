//! `keyway.toml`: truststores, keystores, TLS profiles and connectors by name.
//!
//! ```toml
//! [truststores.partners]
//! path = "stores/partners.jks"          # relative to this file
//! password = { env = "PARTNERS_PASS" }  # or "inline", or { file = "secret.txt" }
//!
//! [keystores.acme]
//! path = "stores/acme-client.p12"
//! password = { file = "acme.pass" }
//! alias = "acme"                        # optional when the store holds one key
//!
//! [profiles.partner-tls]
//! truststores = ["partners"]            # none: the system roots
//! keystore = "acme"                     # two-way TLS
//! lowest_version = "TLS 1.2"            # or versions = ["TLS 1.1", "TLS 1.2"]
//! # through the company's proxy (default: HTTPS_PROXY / NO_PROXY; url = "none": direct)
//! proxy = { url = "http://proxy.corp:3128", username = "svc", password = { env = "PROXY_PASS" } }
//!
//! [connectors.orders]
//! kind = "rest"                         # or "soap"
//! url = "https://orders.partner.example/api"
//! profile = "partner-tls"               # none: system roots, TLS 1.2 and newer
//! auth = { username = "svc-orders", password = { env = "ORDERS_PASS" } }
//! headers = { "X-Tenant" = "acme" }
//! timeout = "30s"
//! retries = 2                           # idempotent requests only
//! ```
//!
//! Loading checks the files completely (syntax, unknown fields, values, references
//! between sections) and reports every problem with its file, item and field. Passwords
//! are resolved only when a connector is used.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};
use indexmap::IndexMap;
use keyway_keystore::{Certificate, Format};
use keyway_tls::{
    IdentitySpec, NoProxy, ProfileSpec, Proxy, ProxySetting, TlsPolicy, TlsVersion, TrustSource,
    VersionFlags,
};
use serde::{Deserialize, Serialize};

use crate::secret::SecretRef;

/// One configuration file as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Truststores by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub truststores: IndexMap<String, StoreEntry>,
    /// Keystores by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub keystores: IndexMap<String, KeystoreEntry>,
    /// TLS profiles by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub profiles: IndexMap<String, ProfileEntry>,
    /// Connectors by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub connectors: IndexMap<String, ConnectorEntry>,
    /// Integrations by name: what partners call on keyway's gateway.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub integrations: IndexMap<String, IntegrationEntry>,
}

/// `[integrations.NAME]`: `/integrations/NAME/…` on the gateway runs through a connector;
/// callers need the `invoke:NAME` permission.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationEntry {
    /// The connector it calls.
    pub connector: String,
    /// For people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Callers must send their password (basic auth) on top of their certificate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_password: bool,
}

/// `[truststores.NAME]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreEntry {
    /// The file, relative to the config file.
    pub path: PathBuf,
    /// jks, jceks, pkcs12, pem or der; detected when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Its password, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
}

/// `[keystores.NAME]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreEntry {
    /// The file, relative to the config file.
    pub path: PathBuf,
    /// jks, jceks, pkcs12 or pem; detected when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The store password.
    pub password: SecretRef,
    /// The key entry; may be left out when the store holds one key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The key password, when it differs from the store password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_password: Option<SecretRef>,
}

/// `[profiles.NAME]`: a connector's TLS.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    /// Truststore names; none means the system roots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truststores: Vec<String>,
    /// Trust the system roots as well as the truststores.
    #[serde(default, skip_serializing_if = "is_false")]
    pub system_roots: bool,
    /// The keystore whose key and certificate are presented (two-way TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore: Option<String>,
    /// Lowest allowable version: SSLv3, TLS 1.0, TLS 1.1, TLS 1.2 (default) or TLS 1.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowest_version: Option<String>,
    /// An explicit set of versions instead of a lowest one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<String>>,
    /// The highest version to offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    /// IANA cipher-suite names, in preference order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suites: Option<Vec<String>>,
    /// Name for SNI and certificate checks instead of the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Accept any server certificate (dangerous; every output says so).
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// TCP connect timeout, e.g. "5s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<String>,
    /// TLS handshake timeout, e.g. "10s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_timeout: Option<String>,
    /// The outbound HTTP proxy (`[profiles.NAME.proxy]`); absent: the environment's
    /// `HTTPS_PROXY`/`NO_PROXY`, as curl reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyEntry>,
}

/// `[profiles.NAME.proxy]`: the HTTP proxy a profile's connections go through (a CONNECT
/// tunnel; TLS to the partner inside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyEntry {
    /// `http://HOST:PORT` (or `http://USER@HOST:PORT`); `"none"` goes straight to the
    /// partner whatever the environment says.
    pub url: String,
    /// User for Basic proxy authentication (instead of one in the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Its password: "inline", `{ env = "…" }` or `{ file = "…" }` (never in the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    /// Hosts reached without the proxy, by curl's `NO_PROXY` rules (`*`, names that match
    /// their subdomains too, IP addresses, CIDR ranges).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_proxy: Vec<String>,
}

impl ProxyEntry {
    /// Whether it says to go direct.
    pub fn is_direct(&self) -> bool {
        matches!(
            self.url.trim().to_ascii_lowercase().as_str(),
            "none" | "direct"
        )
    }

    /// Whether `other` names the same proxy and user: a stored password may then be kept
    /// for it (and for nothing else).
    pub fn same_proxy(&self, other: &ProxyEntry) -> bool {
        self.url == other.url && self.username == other.username
    }

    /// The proxy without its password resolved, checked: the field at fault and why.
    fn proxy(&self, source: &str) -> Result<Option<Proxy>, (&'static str, String)> {
        if self.is_direct() {
            return Ok(None);
        }
        let mut proxy = Proxy::parse(&self.url, source).map_err(|e| ("url", e.why))?;
        if proxy.has_password() {
            return Err((
                "url",
                "holds a password: give it as password = { env = \"…\" } (or { file = \"…\" }) so that the URL can be shown".into(),
            ));
        }
        if let Some(user) = &self.username {
            proxy.username = Some(user.clone());
        }
        if self.password.is_some() && proxy.username.is_none() {
            return Err((
                "password",
                "a proxy password needs a username (or http://USER@HOST:PORT as url)".into(),
            ));
        }
        Ok(Some(proxy))
    }

    /// The TLS layer's setting, the password resolved relative to `base`.
    pub fn setting(
        &self,
        source: &str,
        base: &Path,
    ) -> Result<ProxySetting, (&'static str, String)> {
        let Some(proxy) = self.proxy(source)? else {
            return Ok(ProxySetting::Direct);
        };
        let password = match &self.password {
            Some(p) => Some(p.resolve(base).map_err(|e| ("password", e))?.to_string()),
            None => None,
        };
        Ok(ProxySetting::Use {
            proxy: proxy.with_password(password),
            no_proxy: NoProxy::from_entries(&self.no_proxy),
        })
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `[connectors.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorEntry {
    /// "rest" or "soap".
    pub kind: String,
    /// The base URL, `https://host[:port][/path]`.
    pub url: String,
    /// The TLS profile; none means the system roots and TLS 1.2 or newer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// HTTP basic authentication, on top of a client certificate or alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthEntry>,
    /// Headers sent with every request.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// Time from a request's first byte sent to its answer's first byte, e.g. "30s";
    /// after that, a partner silent for one to two of it in the middle of its answer is
    /// cut off (getting a connection has the profile's connect and handshake timeouts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Retries of idempotent requests after a connection failure or a 502/503/504.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Redirects followed: "same-origin" (default), "none" or "any" (https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirects: Option<String>,
    /// Path (and query) `connector test` requests; default the base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<String>,
    /// SOAP: "1.1" (default) or "1.2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soap_version: Option<String>,
    /// SOAP: the operation `connector test` calls instead of fetching the WSDL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_action: Option<String>,
    /// Labels for choosing connectors together (`keyway audit --tag payments`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Attributes an import could not map, kept so nothing is lost (reported by `show`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub extra: IndexMap<String, String>,
}

/// `auth = { username = "…", password = … }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthEntry {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: SecretRef,
}

/// A problem in a configuration file: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The item, e.g. `connector "orders"`; empty for the file as a whole.
    pub item: String,
    /// The field, e.g. `auth.password`; empty when the item as a whole is wrong.
    pub field: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if !self.item.is_empty() {
            write!(f, ": {}", self.item)?;
        }
        if !self.field.is_empty() {
            write!(f, ", field {}", self.field)?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            all => {
                write!(f, "{} problems in the configuration:", all.len())?;
                for e in all {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

/// REST or SOAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Any method, path and body.
    Rest,
    /// SOAP 1.1 or 1.2 envelopes.
    Soap,
}

/// SOAP 1.1 or 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SoapVersion {
    /// `text/xml` and a `SOAPAction` header.
    #[serde(rename = "1.1")]
    V11,
    /// `application/soap+xml; action=…`.
    #[serde(rename = "1.2")]
    V12,
}

impl SoapVersion {
    /// Parses "1.1" or "1.2".
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "1.1" => Ok(SoapVersion::V11),
            "1.2" => Ok(SoapVersion::V12),
            other => Err(format!(
                "\"{other}\" is not a SOAP version; use \"1.1\" or \"1.2\""
            )),
        }
    }
}

/// Which redirects a connector follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Redirects {
    /// None: a 3xx is the answer.
    None,
    /// Only to the same scheme, host and port (the default).
    SameOrigin,
    /// To any https URL (credentials are not sent to another host).
    Any,
}

/// A checked connector definition (passwords still unresolved).
#[derive(Debug, Clone)]
pub struct ConnectorDef {
    /// Its name.
    pub name: String,
    /// The file it is defined in.
    pub file: PathBuf,
    /// REST or SOAP.
    pub kind: Kind,
    /// The base URL.
    pub url: Uri,
    /// The base URL exactly as written (an export writes it back unchanged).
    pub url_text: String,
    /// The profile's name, if any.
    pub profile: Option<String>,
    /// Basic auth user name and password source.
    pub auth: Option<(String, SecretRef)>,
    /// Default headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Time from a request's first byte sent to its answer's first byte, and the most
    /// silence (once to twice it) in the middle of the answer.
    pub timeout: Duration,
    /// Retries for idempotent requests.
    pub retries: u32,
    /// Redirect policy.
    pub redirects: Redirects,
    /// Path `connector test` asks for.
    pub test_path: Option<String>,
    /// SOAP version.
    pub soap_version: SoapVersion,
    /// SOAP operation for `connector test`.
    pub test_action: Option<String>,
    /// Labels for choosing connectors together.
    pub tags: Vec<String>,
    /// Unmapped attributes from an import.
    pub extra: IndexMap<String, String>,
}

/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A loaded configuration: one file or a directory of them, checked.
#[derive(Debug, Clone, Default)]
pub struct Config {
    files: Vec<PathBuf>,
    truststores: BTreeMap<String, (PathBuf, StoreEntry)>,
    keystores: BTreeMap<String, (PathBuf, KeystoreEntry)>,
    profiles: BTreeMap<String, (PathBuf, ProfileEntry, TlsPolicy)>,
    connectors: IndexMap<String, ConnectorDef>,
    entries: IndexMap<String, ConnectorEntry>,
    integrations: IndexMap<String, IntegrationEntry>,
    stored: Stored,
}

/// A truststore or keystore file a configuration names, with its path made absolute
/// (relative to its configuration file) and its passwords read: what an import of the
/// configuration into keyway's store reads.
#[derive(Clone)]
pub struct SourceFile {
    /// Its name in the configuration.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its format, when the configuration says.
    pub format: Option<Format>,
    /// The store password.
    pub password: Option<zeroize::Zeroizing<String>>,
    /// The key password (keystores), when it differs.
    pub key_password: Option<zeroize::Zeroizing<String>>,
    /// The key entry to present (keystores).
    pub alias: Option<String>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Truststores and keystores that are not files: kept in keyway's store and handed over
/// already read. Profiles refer to them by name like to the files' ones.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Truststores: their certificates.
    pub truststores: BTreeMap<String, Vec<Certificate>>,
    /// Keystores: their bytes and how to open them; `None` for one that is only to be
    /// known by name (checking a configuration needs no secret; using its connectors
    /// does).
    pub keystores: BTreeMap<String, Option<OpenedKeystore>>,
}

/// A keystore kept in keyway's store, opened (see [`Stored`]).
#[derive(Clone)]
pub struct OpenedKeystore {
    /// The keystore file's bytes.
    pub content: Vec<u8>,
    /// Its format.
    pub format: Format,
    /// The store password.
    pub password: zeroize::Zeroizing<String>,
    /// The key password.
    pub key_password: zeroize::Zeroizing<String>,
    /// The key entry to present.
    pub alias: String,
}

impl fmt::Debug for OpenedKeystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedKeystore")
            .field("format", &self.format)
            .field("alias", &self.alias)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Loads `path`: a TOML file, or a directory whose `*.toml` files are read together
    /// (names must be unique across them).
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let files = if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| one(path, "", "", e.to_string()))?;
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(one(
                    path,
                    "",
                    "",
                    "the directory holds no *.toml file".into(),
                ));
            }
            files
        } else {
            vec![path.to_path_buf()]
        };
        let mut parsed = Vec::new();
        let mut errors = Vec::new();
        for file in &files {
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(ConfigError {
                        file: file.clone(),
                        item: String::new(),
                        field: String::new(),
                        problem: format!("cannot read it: {e}"),
                    });
                    continue;
                }
            };
            match toml::from_str::<ConfigFile>(&text) {
                Ok(f) => parsed.push((file.clone(), f)),
                Err(e) => errors.push(ConfigError {
                    file: file.clone(),
                    item: String::new(),
                    field: String::new(),
                    problem: e.to_string().trim_end().to_string(),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Config::from_files(parsed)
    }

    /// Checks parsed files together.
    pub fn from_files(files: Vec<(PathBuf, ConfigFile)>) -> Result<Config, ConfigErrors> {
        Self::with_stored(files, Stored::default())
    }

    /// Checks `files` whose profiles may also name `stored` truststores and keystores
    /// (a name must not be both).
    pub fn with_stored(
        files: Vec<(PathBuf, ConfigFile)>,
        stored: Stored,
    ) -> Result<Config, ConfigErrors> {
        let mut config = Config {
            files: files.iter().map(|(p, _)| p.clone()).collect(),
            stored,
            ..Config::default()
        };
        let mut errors = Vec::new();
        let mut raw_connectors = Vec::new();
        let mut raw_integrations = Vec::new();
        for (file, content) in files {
            for (name, entry) in content.truststores {
                if let Some(e) = bad_name(&file, "truststore", &name) {
                    errors.push(e);
                    continue;
                }
                if let Some((other, _)) = config.truststores.get(&name) {
                    errors.push(duplicate(&file, "truststore", &name, other));
                    continue;
                }
                if config.stored.truststores.contains_key(&name) {
                    errors.push(stored_twice(&file, "truststore", &name));
                    continue;
                }
                if let Some(f) = &entry.format
                    && let Err(e) = f.parse::<Format>()
                {
                    errors.push(err(&file, &item("truststore", &name), "format", e));
                }
                config.truststores.insert(name, (file.clone(), entry));
            }
            for (name, entry) in content.keystores {
                if let Some(e) = bad_name(&file, "keystore", &name) {
                    errors.push(e);
                    continue;
                }
                if let Some((other, _)) = config.keystores.get(&name) {
                    errors.push(duplicate(&file, "keystore", &name, other));
                    continue;
                }
                if config.stored.keystores.contains_key(&name) {
                    errors.push(stored_twice(&file, "keystore", &name));
                    continue;
                }
                if let Some(f) = &entry.format
                    && let Err(e) = f.parse::<Format>()
                {
                    errors.push(err(&file, &item("keystore", &name), "format", e));
                }
                config.keystores.insert(name, (file.clone(), entry));
            }
            for (name, entry) in content.profiles {
                if let Some(e) = bad_name(&file, "profile", &name) {
                    errors.push(e);
                    continue;
                }
                if let Some((other, _, _)) = config.profiles.get(&name) {
                    errors.push(duplicate(&file, "profile", &name, other));
                    continue;
                }
                let at = item("profile", &name);
                let policy = match policy(&entry) {
                    Ok(p) => p,
                    Err((field, problem)) => {
                        errors.push(err(&file, &at, field, problem));
                        TlsPolicy::default()
                    }
                };
                for (field, value) in [
                    ("connect_timeout", &entry.connect_timeout),
                    ("handshake_timeout", &entry.handshake_timeout),
                ] {
                    if let Some(v) = value
                        && let Err(e) = duration(v)
                    {
                        errors.push(err(&file, &at, field, e));
                    }
                }
                if let Some(proxy) = &entry.proxy
                    && let Err((field, problem)) = proxy.proxy(&format!("profile {name}"))
                {
                    errors.push(err(&file, &at, &format!("proxy.{field}"), problem));
                }
                config.profiles.insert(name, (file.clone(), entry, policy));
            }
            for (name, entry) in content.connectors {
                raw_connectors.push((file.clone(), name, entry));
            }
            for (name, entry) in content.integrations {
                raw_integrations.push((file.clone(), name, entry));
            }
        }
        // References, once every name is known.
        for (name, (file, profile, _)) in &config.profiles {
            let at = item("profile", name);
            for store in &profile.truststores {
                if !config.truststores.contains_key(store)
                    && !config.stored.truststores.contains_key(store)
                {
                    let known = config
                        .truststores
                        .keys()
                        .chain(config.stored.truststores.keys());
                    errors.push(err(
                        file,
                        &at,
                        "truststores",
                        unknown("truststore", store, known),
                    ));
                }
            }
            if let Some(store) = &profile.keystore
                && !config.keystores.contains_key(store)
                && !config.stored.keystores.contains_key(store)
            {
                let known = config
                    .keystores
                    .keys()
                    .chain(config.stored.keystores.keys());
                errors.push(err(
                    file,
                    &at,
                    "keystore",
                    unknown("keystore", store, known),
                ));
            }
        }
        for (file, name, entry) in raw_connectors {
            if let Some(e) = bad_name(&file, "connector", &name) {
                errors.push(e);
                continue;
            }
            if let Some(other) = config.connectors.get(&name) {
                errors.push(duplicate(&file, "connector", &name, &other.file));
                continue;
            }
            match connector(&file, &name, entry.clone(), &config) {
                Ok(def) => {
                    config.connectors.insert(name.clone(), def);
                    config.entries.insert(name, entry);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        for (file, name, entry) in raw_integrations {
            if let Some(e) = bad_name(&file, "integration", &name) {
                errors.push(e);
                continue;
            }
            let at = item("integration", &name);
            if config.integrations.contains_key(&name) {
                errors.push(err(&file, &at, "", "is defined twice".to_string()));
                continue;
            }
            if !config.connectors.contains_key(&entry.connector) {
                let known = config.connectors.keys();
                errors.push(err(
                    &file,
                    &at,
                    "connector",
                    unknown("connector", &entry.connector, known),
                ));
            }
            config.integrations.insert(name, entry);
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The files read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Every connector, by name.
    pub fn connectors(&self) -> impl Iterator<Item = &ConnectorDef> {
        self.connectors.values()
    }

    /// One connector; the error lists the names there are.
    pub fn connector(&self, name: &str) -> Result<&ConnectorDef, String> {
        self.connectors.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.connectors.keys().map(String::as_str).collect();
            if known.is_empty() {
                format!("no connector \"{name}\": the configuration defines none")
            } else {
                format!("no connector \"{name}\"; defined: {}", known.join(", "))
            }
        })
    }

    /// The connector's TLS profile, passwords resolved. Errors name the file, the item
    /// and the field.
    pub fn profile_spec(&self, connector: &ConnectorDef) -> Result<ProfileSpec, ConfigErrors> {
        let settings = settings_of(connector);
        let Some(name) = &connector.profile else {
            return Ok(ProfileSpec {
                settings,
                ..ProfileSpec::default()
            });
        };
        let (_, entry, policy) = &self.profiles[name];
        let mut errors = Vec::new();
        let mut trust = Vec::new();
        for store in &entry.truststores {
            if let Some(certificates) = self.stored.truststores.get(store) {
                trust.push(TrustSource::Certificates {
                    name: format!("truststore {store}"),
                    certificates: certificates.clone(),
                });
                continue;
            }
            let (store_file, s) = &self.truststores[store];
            let base = base_dir(store_file);
            let password = match &s.password {
                Some(p) => match p.resolve(&base) {
                    Ok(p) => Some(p.to_string()),
                    Err(e) => {
                        errors.push(err(store_file, &item("truststore", store), "password", e));
                        None
                    }
                },
                None => None,
            };
            trust.push(TrustSource::File {
                path: base.join(&s.path),
                format: s.format.as_deref().and_then(|f| f.parse().ok()),
                password,
            });
        }
        if entry.system_roots && !trust.is_empty() {
            trust.push(TrustSource::System);
        }
        let identity = match &entry.keystore {
            Some(store) if self.stored.keystores.contains_key(store) => {
                let Some(k) = &self.stored.keystores[store] else {
                    return Err(ConfigErrors(vec![err(
                        &connector.file,
                        &item("keystore", store),
                        "",
                        "was not opened for this use of the configuration".to_string(),
                    )]));
                };
                Some(IdentitySpec {
                    path: PathBuf::from(format!("keystore {store}")),
                    content: Some(k.content.clone()),
                    format: Some(k.format),
                    store_password: Some(k.password.to_string()),
                    alias: Some(k.alias.clone()),
                    key_password: Some(k.key_password.to_string()),
                })
            }
            Some(store) => {
                let (store_file, k) = &self.keystores[store];
                let base = base_dir(store_file);
                let at = item("keystore", store);
                let store_password = k.password.resolve(&base).map_err(|e| {
                    errors.push(err(store_file, &at, "password", e));
                });
                let key_password = match &k.key_password {
                    Some(p) => p.resolve(&base).map(Some).map_err(|e| {
                        errors.push(err(store_file, &at, "key_password", e));
                    }),
                    None => Ok(None),
                };
                match (store_password, key_password) {
                    (Ok(store_password), Ok(key_password)) => Some(IdentitySpec {
                        path: base.join(&k.path),
                        content: None,
                        format: k.format.as_deref().and_then(|f| f.parse().ok()),
                        store_password: Some(store_password.to_string()),
                        alias: k.alias.clone(),
                        key_password: key_password.map(|p| p.to_string()),
                    }),
                    _ => None,
                }
            }
            None => None,
        };
        let proxy = match &entry.proxy {
            None => ProxySetting::Environment,
            Some(proxy) => {
                let (file, _, _) = &self.profiles[name];
                proxy
                    .setting(&format!("profile {name}"), &base_dir(file))
                    .unwrap_or_else(|(field, problem)| {
                        errors.push(err(
                            file,
                            &item("profile", name),
                            &format!("proxy.{field}"),
                            problem,
                        ));
                        ProxySetting::Direct
                    })
            }
        };
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let defaults = ProfileSpec::default();
        let timeout = |value: &Option<String>, default: Duration| {
            value
                .as_deref()
                .and_then(|v| duration(v).ok())
                .unwrap_or(default)
        };
        Ok(ProfileSpec {
            trust,
            identity,
            policy: policy.clone(),
            server_name: entry.server_name.clone(),
            insecure: entry.insecure,
            connect_timeout: timeout(&entry.connect_timeout, defaults.connect_timeout),
            handshake_timeout: timeout(&entry.handshake_timeout, defaults.handshake_timeout),
            settings,
            proxy,
        })
    }

    /// The connector's basic-auth password, resolved.
    pub fn auth(
        &self,
        connector: &ConnectorDef,
    ) -> Result<Option<(String, zeroize::Zeroizing<String>)>, ConfigErrors> {
        match &connector.auth {
            Some((user, password)) => password
                .resolve(&base_dir(&connector.file))
                .map(|p| Some((user.clone(), p)))
                .map_err(|e| {
                    ConfigErrors(vec![err(
                        &connector.file,
                        &item("connector", &connector.name),
                        "auth.password",
                        e,
                    )])
                }),
            None => Ok(None),
        }
    }

    /// Every integration as written, by name.
    pub fn integrations(&self) -> impl Iterator<Item = (&str, &IntegrationEntry)> {
        self.integrations.iter().map(|(n, e)| (n.as_str(), e))
    }

    /// A connector as written (its password still a reference).
    pub fn connector_entry(&self, name: &str) -> Option<&ConnectorEntry> {
        self.entries.get(name)
    }

    /// Every profile as written, by name.
    pub fn profiles(&self) -> impl Iterator<Item = (&str, &ProfileEntry)> {
        self.profiles.iter().map(|(n, (_, e, _))| (n.as_str(), e))
    }

    /// Every truststore file, its password read. Errors name the file, item and field.
    pub fn truststore_files(&self) -> Result<Vec<SourceFile>, ConfigErrors> {
        let mut errors = Vec::new();
        let mut out = Vec::new();
        for (name, (file, entry)) in &self.truststores {
            let base = base_dir(file);
            let password = match &entry.password {
                Some(p) => p.resolve(&base).map(Some).unwrap_or_else(|e| {
                    errors.push(err(file, &item("truststore", name), "password", e));
                    None
                }),
                None => None,
            };
            out.push(SourceFile {
                name: name.clone(),
                path: base.join(&entry.path),
                format: entry.format.as_deref().and_then(|f| f.parse().ok()),
                password,
                key_password: None,
                alias: None,
            });
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Every keystore file, its passwords read. Errors name the file, item and field.
    pub fn keystore_files(&self) -> Result<Vec<SourceFile>, ConfigErrors> {
        let mut errors = Vec::new();
        let mut out = Vec::new();
        for (name, (file, entry)) in &self.keystores {
            let base = base_dir(file);
            let at = item("keystore", name);
            let password = entry.password.resolve(&base).map(Some).unwrap_or_else(|e| {
                errors.push(err(file, &at, "password", e));
                None
            });
            let key_password = match &entry.key_password {
                Some(p) => p.resolve(&base).map(Some).unwrap_or_else(|e| {
                    errors.push(err(file, &at, "key_password", e));
                    None
                }),
                None => None,
            };
            out.push(SourceFile {
                name: name.clone(),
                path: base.join(&entry.path),
                format: entry.format.as_deref().and_then(|f| f.parse().ok()),
                password,
                key_password,
                alias: entry.alias.clone(),
            });
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The profile entry a connector uses, as written, with its checked policy.
    pub fn profile_entry(&self, name: &str) -> Option<(&ProfileEntry, &TlsPolicy)> {
        self.profiles.get(name).map(|(_, e, p)| (e, p))
    }

    /// Profile `name`'s proxy password, resolved (relative to its file).
    pub fn proxy_password(
        &self,
        name: &str,
    ) -> Result<Option<zeroize::Zeroizing<String>>, ConfigErrors> {
        let Some((file, entry, _)) = self.profiles.get(name) else {
            return Ok(None);
        };
        match entry.proxy.as_ref().and_then(|p| p.password.as_ref()) {
            None => Ok(None),
            Some(password) => password.resolve(&base_dir(file)).map(Some).map_err(|e| {
                ConfigErrors(vec![err(file, &item("profile", name), "proxy.password", e)])
            }),
        }
    }
}

fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// What errors about definitions kept in keyway's store name as their file.
pub fn store_label(database: &str) -> PathBuf {
    PathBuf::from(format!("{STORE_LABEL}{database}"))
}

const STORE_LABEL: &str = "keyway store ";

/// Where a connector's settings are made, for the fixes a diagnosis names.
fn settings_of(connector: &ConnectorDef) -> keyway_tls::Settings {
    if connector.file.to_string_lossy().starts_with(STORE_LABEL) {
        keyway_tls::Settings::Store {
            connector: connector.name.clone(),
        }
    } else {
        keyway_tls::Settings::ConfigFile {
            connector: connector.name.clone(),
            profile: connector.profile.clone(),
            file: connector.file.clone(),
        }
    }
}

fn item(kind: &str, name: &str) -> String {
    format!("{kind} \"{}\"", shown_name(name))
}

/// The one rule for the names people give things in keyway — connectors, profiles,
/// truststores, keystores and integrations here, users and the same things in the
/// store: 1 to 64 characters, ASCII letters, digits and `. _ @ -`, starting with a
/// letter or digit. Names end up in paths (`/integrations/NAME/`), file names, metric
/// labels and terminals; the rule keeps them safe in each. `None` when `name` follows it.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("is empty".to_string())
    } else if name.chars().count() > 64 {
        Some("is longer than 64 characters".to_string())
    } else if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        Some("must start with a letter or digit".to_string())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-')))
            .map(|c| {
                format!(
                    "contains '{}': use letters, digits and . _ @ - only",
                    c.escape_default()
                )
            })
    }
}

/// A name as a message shows it: control characters escaped, at most 64 characters.
pub fn shown_name(name: &str) -> String {
    let mut shown: String = name
        .chars()
        .take(64)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if name.chars().nth(64).is_some() {
        shown.push('…');
    }
    shown
}

/// Refuses a badly formed name, naming where it was.
fn bad_name(file: &Path, kind: &str, name: &str) -> Option<ConfigError> {
    name_problem(name).map(|problem| err(file, &item(kind, name), "name", problem))
}

fn err(file: &Path, item: &str, field: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_path_buf(),
        item: item.to_string(),
        field: field.to_string(),
        problem: problem.into(),
    }
}

fn one(file: &Path, item: &str, field: &str, problem: String) -> ConfigErrors {
    ConfigErrors(vec![err(file, item, field, problem)])
}

fn duplicate(file: &Path, kind: &str, name: &str, other: &Path) -> ConfigError {
    err(
        file,
        &item(kind, name),
        "",
        format!(
            "defined again; it is already defined in {}",
            other.display()
        ),
    )
}

fn unknown<'a>(kind: &str, name: &str, known: impl Iterator<Item = &'a String>) -> String {
    let known: Vec<&str> = known.map(String::as_str).collect();
    if known.is_empty() {
        format!("no {kind} \"{name}\" is defined ([{kind}s.{name}] is missing)")
    } else {
        format!(
            "no {kind} \"{name}\" is defined; defined: {}",
            known.join(", ")
        )
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("\"{s}\" is not a duration ({e}); write e.g. \"10s\" or \"500ms\""))?;
    if d.is_zero() {
        return Err(format!("\"{s}\": a timeout must be longer than zero"));
    }
    Ok(d)
}

fn policy(entry: &ProfileEntry) -> Result<TlsPolicy, (&'static str, String)> {
    let mut policy = match (&entry.lowest_version, &entry.versions) {
        (Some(_), Some(_)) => {
            return Err((
                "versions",
                "give lowest_version or versions, not both".into(),
            ));
        }
        (Some(low), None) => TlsPolicy::lowest_allowable(
            TlsVersion::parse(low).map_err(|e| ("lowest_version", e.to_string()))?,
        ),
        (None, Some(list)) => {
            TlsPolicy::from_list(&list.join(",")).map_err(|e| ("versions", e.to_string()))?
        }
        (None, None) => TlsPolicy::default(),
    };
    if let Some(max) = &entry.max_version {
        let max = TlsVersion::parse(max).map_err(|e| ("max_version", e.to_string()))?;
        policy = policy
            .with_max(max)
            .map_err(|e| ("max_version", e.to_string()))?;
    }
    if let Some(suites) = &entry.cipher_suites {
        policy = policy
            .with_cipher_suites(suites)
            .map_err(|e| ("cipher_suites", e.to_string()))?;
    }
    Ok(policy)
}

/// A TLS policy on its own, as `keyway audit --policy FILE` reads it: the version and
/// cipher-suite keys of a profile, at the top level of a TOML file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEntry {
    /// Lowest allowable version.
    #[serde(default)]
    pub lowest_version: Option<String>,
    /// An explicit set of versions instead of a lowest one.
    #[serde(default)]
    pub versions: Option<Vec<String>>,
    /// The highest version to offer.
    #[serde(default)]
    pub max_version: Option<String>,
    /// IANA cipher-suite names, in preference order.
    #[serde(default)]
    pub cipher_suites: Option<Vec<String>>,
}

impl PolicyEntry {
    /// Reads and checks a policy file; the error names the file and the field.
    pub fn load(path: &Path) -> Result<TlsPolicy, ConfigError> {
        let error = |field: &str, problem: String| ConfigError {
            file: path.to_path_buf(),
            item: String::new(),
            field: field.to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error("", e.to_string()))?;
        let entry: PolicyEntry = toml::from_str(&text).map_err(|e| {
            error(
                "",
                format!(
                    "{} (a policy file holds lowest_version, versions, max_version and cipher_suites, as a profile does)",
                    e.message()
                ),
            )
        })?;
        policy(&ProfileEntry {
            lowest_version: entry.lowest_version,
            versions: entry.versions,
            max_version: entry.max_version,
            cipher_suites: entry.cipher_suites,
            ..ProfileEntry::default()
        })
        .map_err(|(field, problem)| error(field, problem))
    }
}

/// Version flags as a `versions` list (for imports of flag-style configurations).
pub fn versions_from_flags(flags: VersionFlags) -> Vec<String> {
    [
        (flags.ssl3, TlsVersion::Ssl3),
        (flags.tls, TlsVersion::Tls10),
        (flags.tls11, TlsVersion::Tls11),
        (flags.tls12, TlsVersion::Tls12),
        (flags.tls13, TlsVersion::Tls13),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, v)| v.name().to_string())
    .collect()
}

fn stored_twice(file: &Path, kind: &str, name: &str) -> ConfigError {
    err(
        file,
        &item(kind, name),
        "",
        format!("keyway's store has a {kind} \"{name}\" too; give this one another name"),
    )
}

fn connector(
    file: &Path,
    name: &str,
    entry: ConnectorEntry,
    config: &Config,
) -> Result<ConnectorDef, Vec<ConfigError>> {
    let at = item("connector", name);
    let mut errors = Vec::new();
    let mut fail = |field: &str, problem: String| errors.push(err(file, &at, field, problem));
    let kind = match entry.kind.trim().to_ascii_lowercase().as_str() {
        "rest" => Kind::Rest,
        "soap" => Kind::Soap,
        other => {
            fail(
                "kind",
                format!("\"{other}\" is not a connector kind; use \"rest\" or \"soap\""),
            );
            Kind::Rest
        }
    };
    let url = match base_url(&entry.url) {
        Ok(u) => u,
        Err(e) => {
            fail("url", e);
            Uri::from_static("https://invalid.invalid/")
        }
    };
    if let Some(p) = &entry.profile
        && !config.profiles.contains_key(p)
    {
        fail("profile", unknown("profile", p, config.profiles.keys()));
    }
    let mut headers = Vec::new();
    for (k, v) in &entry.headers {
        match (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            (Ok(n), Ok(v)) => headers.push((n, v)),
            (Err(_), _) => fail("headers", format!("\"{k}\" is not a valid header name")),
            (_, Err(_)) => fail(
                "headers",
                format!("the value of \"{k}\" has characters a header cannot carry"),
            ),
        }
    }
    let timeout = match &entry.timeout {
        Some(t) => duration(t).unwrap_or_else(|e| {
            fail("timeout", e);
            DEFAULT_TIMEOUT
        }),
        None => DEFAULT_TIMEOUT,
    };
    let redirects = match entry.redirects.as_deref().map(str::trim) {
        None | Some("same-origin") => Redirects::SameOrigin,
        Some("none") => Redirects::None,
        Some("any") => Redirects::Any,
        Some(other) => {
            fail(
                "redirects",
                format!("\"{other}\": use \"same-origin\", \"none\" or \"any\""),
            );
            Redirects::SameOrigin
        }
    };
    if let Some(p) = &entry.test_path
        && !p.starts_with('/')
    {
        fail("test_path", format!("\"{p}\" must start with /"));
    }
    let soap_version = match &entry.soap_version {
        Some(v) => SoapVersion::parse(v).unwrap_or_else(|e| {
            fail("soap_version", e);
            SoapVersion::V11
        }),
        None => SoapVersion::V11,
    };
    if kind == Kind::Rest && (entry.soap_version.is_some() || entry.test_action.is_some()) {
        fail(
            "kind",
            "soap_version and test_action are for SOAP connectors; set kind = \"soap\"".into(),
        );
    }
    for tag in &entry.tags {
        if !is_tag(tag) {
            fail(
                "tags",
                format!(
                    "\"{tag}\" is not a tag: use letters, digits, '-', '_' and '.' (e.g. \"payments\", \"eu-west\")"
                ),
            );
        }
    }
    if let Some(auth) = &entry.auth
        && (auth.username.is_empty() || auth.username.contains(':'))
    {
        fail(
            "auth.username",
            "a basic-auth user name must be non-empty and without ':'".into(),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ConnectorDef {
        name: name.to_string(),
        file: file.to_path_buf(),
        kind,
        url,
        url_text: entry.url,
        profile: entry.profile,
        auth: entry.auth.map(|a| (a.username, a.password)),
        headers,
        timeout,
        retries: entry.retries.unwrap_or(0),
        redirects,
        test_path: entry.test_path,
        soap_version,
        test_action: entry.test_action,
        tags: entry.tags,
        extra: entry.extra,
    })
}

/// Whether `tag` may label a connector: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn is_tag(tag: &str) -> bool {
    (1..=64).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks a base URL: https, a host, no credentials, no query or fragment.
fn base_url(given: &str) -> Result<Uri, String> {
    let uri: Uri = given
        .trim()
        .parse()
        .map_err(|e| format!("\"{given}\" is not a URL ({e})"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => {}
        Some(s) if s.eq_ignore_ascii_case("http") => {
            return Err(format!(
                "\"{given}\" is plain http; keyway connectors speak TLS: use https://"
            ));
        }
        _ => return Err(format!("\"{given}\": the URL must start with https://")),
    }
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "\"{}\": credentials do not belong in the URL; use auth = {{ username = …, password = … }}",
            uri.host().unwrap_or("")
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("\"{given}\" has no host"));
    }
    if uri.query().is_some() {
        return Err(format!(
            "\"{given}\": the base URL takes no query; give it per call (--path '/x?a=b')"
        ));
    }
    Ok(uri)
}
