//! The connector form (Pega's Connect-REST rule form, done better): name, URL, kind,
//! truststores, keystore, the TLS versions as a lowest allowable version or explicit
//! versions, SNI name, basic auth; **Save** and **Test connectivity**. The test runs on
//! what the form holds, saved or not (`Store::draft_config`, nothing stored), and says
//! when the saved settings would give another answer. Where the fix is keyway's to make,
//! a button makes it: import the root the partner sent into a truststore (after the
//! fingerprint is confirmed), lower the lowest allowable version to one the partner
//! speaks, or present a stored identity from a CA the server accepts; the test then
//! runs again by itself. Saving writes the connector with a profile
//! of its own (named after it), as `keyway connector add` does.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use keyway_connect::{ConnectorCheck, ConnectorEntry, ProfileEntry, ProxyEntry, SecretRef};
use keyway_store::{Draft, NewConnector, Save, StoreError};
use keyway_tls::{Cause, TestOutcome, TlsVersion};
use maud::{Markup, html};
use zeroize::Zeroizing;

use super::{Oops, PageResult, Viewer, check_csrf, check_result, page};
use crate::AdminState;

/// The lowest allowable versions the form offers, with what each accepts (the seed's table).
pub(super) const LADDER: [(&str, &str); 5] = [
    (
        "SSLv3",
        "TLS 1.0, 1.1, 1.2, 1.3 (SSL 3.0 is never negotiated)",
    ),
    (
        "TLS 1.0",
        "TLS 1.0, 1.1, 1.2, 1.3 (1.0 and 1.1 are deprecated)",
    ),
    ("TLS 1.1", "TLS 1.1, 1.2, 1.3 (1.1 is deprecated)"),
    ("TLS 1.2", "TLS 1.2, 1.3"),
    ("TLS 1.3", "TLS 1.3"),
];
const VERSIONS: [&str; 5] = ["SSLv3", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"];

/// What the form holds.
#[derive(Debug, Clone, Default)]
pub(super) struct ConnectorForm {
    /// Set when editing a stored connector (its name cannot change here).
    existing: bool,
    name: String,
    url: String,
    kind: String,
    truststores: Vec<String>,
    keystore: String,
    /// "lowest" or "explicit".
    mode: String,
    lowest: String,
    versions: Vec<String>,
    server_name: String,
    /// The profile's proxy: empty for the environment's, `none` for direct.
    proxy_url: String,
    proxy_username: String,
    proxy_password: String,
    /// Comma-separated.
    no_proxy: String,
    username: String,
    password: String,
    action: String,
    csrf: String,
    fix_pem: String,
    fix_sha256: String,
    fix_truststore: String,
    fix_confirm: bool,
    fix_version: String,
    fix_keystore: String,
}

impl ConnectorForm {
    fn parse(body: &[u8]) -> ConnectorForm {
        let mut form = ConnectorForm::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "existing" => form.existing = value == "1",
                "name" => form.name = value.trim().to_string(),
                "url" => form.url = value.trim().to_string(),
                "kind" => form.kind = value,
                "truststore" => form.truststores.push(value),
                "keystore" => form.keystore = value,
                "mode" => form.mode = value,
                "lowest" => form.lowest = value,
                "version" => form.versions.push(value),
                "server_name" => form.server_name = value.trim().to_string(),
                "proxy_url" => form.proxy_url = value.trim().to_string(),
                "proxy_username" => form.proxy_username = value.trim().to_string(),
                "proxy_password" => form.proxy_password = value,
                "no_proxy" => form.no_proxy = value.trim().to_string(),
                "username" => form.username = value.trim().to_string(),
                "password" => form.password = value,
                "action" => form.action = value,
                "csrf" => form.csrf = value,
                "fix_pem" => form.fix_pem = value,
                "fix_sha256" => form.fix_sha256 = value,
                "fix_truststore" => form.fix_truststore = value.trim().to_string(),
                "fix_confirm" => form.fix_confirm = value == "yes",
                "fix_version" => form.fix_version = value,
                "fix_keystore" => {
                    form.action = "fix-identity".into();
                    form.fix_keystore = value;
                }
                _ => {}
            }
        }
        form
    }

    fn new_connector() -> ConnectorForm {
        ConnectorForm {
            kind: "rest".into(),
            mode: "lowest".into(),
            lowest: "TLS 1.2".into(),
            ..ConnectorForm::default()
        }
    }

    fn from_stored(
        connector: &keyway_store::StoredConnector,
        profile: Option<&ProfileEntry>,
    ) -> ConnectorForm {
        let mut form = ConnectorForm {
            existing: true,
            name: connector.name.clone(),
            url: connector.definition.url.clone(),
            kind: connector.definition.kind.clone(),
            username: connector.username.clone().unwrap_or_default(),
            ..ConnectorForm::new_connector()
        };
        if let Some(profile) = profile {
            form.truststores = profile.truststores.clone();
            form.keystore = profile.keystore.clone().unwrap_or_default();
            form.server_name = profile.server_name.clone().unwrap_or_default();
            if let Some(proxy) = &profile.proxy {
                form.proxy_url = proxy.url.clone();
                form.proxy_username = proxy.username.clone().unwrap_or_default();
                form.no_proxy = proxy.no_proxy.join(", ");
            }
            match (&profile.lowest_version, &profile.versions) {
                (_, Some(versions)) => {
                    form.mode = "explicit".into();
                    form.versions = versions.clone();
                }
                (Some(lowest), None) => form.lowest = lowest.clone(),
                (None, None) => {}
            }
        }
        form
    }

    /// The profile the form describes, over `base` (the stored profile's other settings
    /// are kept: timeouts, cipher suites, …).
    fn profile(&self, base: Option<&ProfileEntry>) -> ProfileEntry {
        let mut profile = base.cloned().unwrap_or_default();
        profile.truststores = self.truststores.clone();
        profile.keystore = (!self.keystore.is_empty()).then(|| self.keystore.clone());
        profile.server_name = (!self.server_name.is_empty()).then(|| self.server_name.clone());
        // A password left empty keeps the stored one, as long as the proxy and its user
        // are the same (the store decides).
        profile.proxy = (!self.proxy_url.is_empty()).then(|| ProxyEntry {
            url: self.proxy_url.clone(),
            username: (!self.proxy_username.is_empty()).then(|| self.proxy_username.clone()),
            password: (!self.proxy_password.is_empty())
                .then(|| SecretRef::Inline(self.proxy_password.clone())),
            no_proxy: keyway_tls::NoProxy::entries(&self.no_proxy)
                .map(str::to_string)
                .collect(),
        });
        if self.mode == "explicit" {
            profile.lowest_version = None;
            profile.versions = Some(self.versions.clone());
        } else {
            profile.lowest_version = Some(self.lowest.clone());
            profile.versions = None;
        }
        profile
    }

    /// The connector the form describes, over `base` (headers, timeouts, test path and
    /// tags of the stored one are kept).
    fn definition(&self, base: Option<&ConnectorEntry>) -> ConnectorEntry {
        let mut entry = base.cloned().unwrap_or_default();
        entry.kind = self.kind.clone();
        entry.url = self.url.clone();
        entry.profile = Some(self.name.clone());
        entry.auth = None;
        entry
    }

    fn auth(&self) -> Option<(String, Option<Zeroizing<String>>)> {
        (!self.username.is_empty()).then(|| {
            (
                self.username.clone(),
                (!self.password.is_empty()).then(|| Zeroizing::new(self.password.clone())),
            )
        })
    }
}

/// The stored connector of that name and its profile, if any.
async fn stored(
    state: &AdminState,
    viewer: &Viewer,
    name: &str,
) -> Result<Option<(keyway_store::StoredConnector, Option<ProfileEntry>)>, Oops> {
    let store = &state.inner.store;
    let Some(connector) = store
        .connectors(&viewer.ctx)
        .await?
        .into_iter()
        .find(|c| c.name == name)
    else {
        return Ok(None);
    };
    let profile = match &connector.definition.profile {
        Some(profile) => store
            .profiles(&viewer.ctx)
            .await?
            .into_iter()
            .find(|p| &p.name == profile)
            .map(|p| p.definition),
        None => None,
    };
    Ok(Some((connector, profile)))
}

pub(super) async fn new_form(State(state): State<AdminState>, viewer: Viewer) -> PageResult {
    // Only for who may manage connectors: the store says.
    state.inner.store.connectors(&viewer.ctx).await?;
    render(
        &state,
        &viewer,
        &ConnectorForm::new_connector(),
        Notes::default(),
    )
    .await
}

pub(super) async fn edit_form(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> PageResult {
    let (connector, profile) = stored(&state, &viewer, &name)
        .await?
        .ok_or(Oops::NotFound)?;
    let form = ConnectorForm::from_stored(&connector, profile.as_ref());
    render(&state, &viewer, &form, Notes::default()).await
}

/// What to show above and below the form after a POST.
#[derive(Default)]
struct Notes {
    done: Option<String>,
    error: Option<String>,
    result: Option<Markup>,
}

pub(super) async fn submit(
    State(state): State<AdminState>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> PageResult {
    let mut form = ConnectorForm::parse(&body);
    check_csrf(&viewer, &form.csrf)?;
    let mut notes = Notes::default();
    match form.action.as_str() {
        "save" => match save(&state, &viewer, &form).await {
            Ok(()) => {
                return Ok(Redirect::to(&format!("/connectors/{}", form.name)).into_response());
            }
            Err(e) => notes.error = Some(e),
        },
        "fix-import" => {
            match import_root(&state, &viewer, &mut form).await {
                Ok(done) => notes.done = Some(done),
                Err(e) => notes.error = Some(e),
            }
            // Again, with the fix or (when it was refused) with the fix still offered.
            notes.result = Some(test(&state, &viewer, &form).await);
        }
        "fix-version" => {
            let version = TlsVersion::parse(&form.fix_version)
                .map(|v| v.name().to_string())
                .unwrap_or_default();
            if version.is_empty() {
                notes.error = Some("no version to lower to".into());
            } else {
                form.mode = "lowest".into();
                form.lowest = version.clone();
                notes.done = Some(format!(
                    "The lowest allowable version is now {version} in the form below (not saved yet: Save keeps it)."
                ));
                notes.result = Some(test(&state, &viewer, &form).await);
            }
        }
        "fix-identity" => {
            form.keystore = form.fix_keystore.clone();
            notes.done = Some(format!(
                "The form below now presents keystore {} (not saved yet: Save keeps it).",
                form.keystore
            ));
            notes.result = Some(test(&state, &viewer, &form).await);
        }
        _ => notes.result = Some(test(&state, &viewer, &form).await),
    }
    render(&state, &viewer, &form, notes).await
}

/// Saves the form: the connector's own profile, then the connector.
async fn save(state: &AdminState, viewer: &Viewer, form: &ConnectorForm) -> Result<(), String> {
    let store = &state.inner.store;
    let existing = stored(state, viewer, &form.name)
        .await
        .map_err(|_| "the connector cannot be read".to_string())?;
    let (base_entry, base_profile) = match &existing {
        Some((c, p)) => (Some(c.definition.clone()), p.clone()),
        None => (None, None),
    };
    if existing.is_some() != form.existing {
        return Err(if form.existing {
            format!("connector {} was removed meanwhile", form.name)
        } else {
            format!(
                "a connector named {} exists already: choose another name",
                form.name
            )
        });
    }
    let profile_exists = store
        .profiles(&viewer.ctx)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .any(|p| p.name == form.name);
    // The connector's own profile is named after it: one another connector shares (a
    // keyway.toml import's) is not rewritten under it.
    let sharing: Vec<String> = store
        .connectors(&viewer.ctx)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|c| c.name != form.name && c.definition.profile.as_deref() == Some(&form.name))
        .map(|c| c.name)
        .collect();
    if !sharing.is_empty() {
        return Err(format!(
            "profile {} is used by connector {} too: save this connector under another name, or change that profile with `keyway config import`",
            form.name,
            sharing.join(", connector ")
        ));
    }
    let profile_save = if profile_exists {
        Save::Replace(None)
    } else {
        Save::Add
    };
    // A stored password is kept when the form leaves it empty.
    let password = match (form.auth(), &existing) {
        (Some((_, Some(p))), _) => Some(p),
        (Some(_), Some(_)) => None,
        (Some(_), None) => {
            return Err("basic auth needs a password (Password field)".into());
        }
        (None, _) => None,
    };
    if form.auth().is_some() && password.is_none() {
        return Err(
            "to keep basic auth, type the password again (keyway never shows a stored one)".into(),
        );
    }
    store
        .save_profile(
            &viewer.ctx,
            &form.name,
            form.profile(base_profile.as_ref()),
            profile_save,
        )
        .await
        .map_err(|e| e.to_string())?;
    let connector = NewConnector {
        definition: form.definition(base_entry.as_ref()),
        auth: form
            .auth()
            .and_then(|(user, _)| password.map(|p| (user, p))),
    };
    let save = if form.existing {
        Save::Replace(None)
    } else {
        Save::Add
    };
    store
        .save_connector(&viewer.ctx, &form.name, connector, save)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Imports the certificate the partner sent into a truststore (the one named, made when
/// new), after the fingerprint shown was confirmed, and adds that truststore to the form.
async fn import_root(
    state: &AdminState,
    viewer: &Viewer,
    form: &mut ConnectorForm,
) -> Result<String, String> {
    if !form.fix_confirm {
        return Err("confirm that you checked the fingerprint with the partner first".into());
    }
    let target = form.fix_truststore.clone();
    if target.is_empty() {
        return Err("name the truststore to import into".into());
    }
    let certs = keyway_pki::read_certificates(form.fix_pem.as_bytes(), None, "the partner's root")
        .map_err(|e| e.to_string())?;
    let [cert] = certs.as_slice() else {
        return Err("one certificate at a time".into());
    };
    if cert.info().sha256 != form.fix_sha256 {
        return Err("the certificate is not the one whose fingerprint was shown".into());
    }
    let store = &state.inner.store;
    let existing = store.truststore(&viewer.ctx, &target).await;
    let done = match existing {
        Ok(ts) => {
            let mut all = ts.certificates.clone();
            if !all.iter().any(|c| c.info().sha256 == cert.info().sha256) {
                all.push(cert.clone());
            }
            store
                .replace_truststore(
                    &viewer.ctx,
                    &target,
                    all,
                    "console import",
                    Some(ts.version),
                    false,
                )
                .await
                .map_err(|e| e.to_string())?;
            format!("Imported {} into truststore {target}.", cert.info().subject)
        }
        Err(StoreError::NotFound { .. }) => {
            store
                .add_truststore(&viewer.ctx, &target, vec![cert.clone()], "console import")
                .await
                .map_err(|e| e.to_string())?;
            format!("Made truststore {target} with {}.", cert.info().subject)
        }
        Err(e) => return Err(e.to_string()),
    };
    if !form.truststores.contains(&target) {
        form.truststores.push(target.clone());
    }
    Ok(format!(
        "{done} The form below now trusts it (not saved yet: Save keeps it); the test ran again."
    ))
}

/// Tests what the form holds, and says when the saved settings answer otherwise.
async fn test(state: &AdminState, viewer: &Viewer, form: &ConnectorForm) -> Markup {
    let store = &state.inner.store;
    let base = stored(state, viewer, &form.name).await.ok().flatten();
    let (base_entry, base_profile) = match &base {
        Some((c, p)) => (Some(c.definition.clone()), p.clone()),
        None => (None, None),
    };
    let draft = Draft {
        connector: form.name.clone(),
        definition: form.definition(base_entry.as_ref()),
        auth: form.auth(),
        profile: Some((form.name.clone(), form.profile(base_profile.as_ref()))),
    };
    let checked = match store.draft_config(&viewer.ctx, &draft).await {
        Ok(config) => run_check(&config, &form.name).await,
        Err(e) => Err(e.to_string()),
    };
    let checked = match checked {
        Ok(c) => c,
        Err(why) => {
            return html! { div.result.failed { p.bad { "The test could not run" } p { (why) } } };
        }
    };
    // The saved settings, when they differ from the form's.
    let mut comparison = None;
    if let Some((saved, saved_profile)) = &base {
        let same = saved.definition.url == form.url
            && saved_profile.as_ref() == Some(&form.profile(base_profile.as_ref()));
        if !same
            && let Ok(config) = store.connector_config(&viewer.ctx).await
            && let Ok(saved_check) = run_check(&config, &saved.name).await
        {
            comparison = compare(&checked, &saved_check);
        }
    }
    // The stored identities, for the fix that picks the one a server accepts.
    let identities: Vec<Identity> = store
        .keystores(&viewer.ctx)
        .await
        .map(|list| {
            list.into_iter()
                .filter_map(|k| {
                    let entry = k.key_entry()?;
                    let leaf = entry.chain.first()?.info().clone();
                    let names = entry
                        .chain
                        .iter()
                        .flat_map(|c| [c.info().subject.clone(), c.info().issuer.clone()])
                        .collect();
                    Some(Identity {
                        name: k.name.clone(),
                        leaf,
                        names,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    html! {
        @if let Some(line) = comparison { p.warn { (line) } }
        (check_result(&checked))
        (fixes(form, &checked, &identities))
    }
}

/// A stored identity, as the fix that picks one sees it.
struct Identity {
    name: String,
    leaf: keyway_keystore::CertInfo,
    /// The subjects and issuers along its chain.
    names: Vec<String>,
}

async fn run_check(config: &keyway_connect::Config, name: &str) -> Result<ConnectorCheck, String> {
    let def = config.connector(name)?.clone();
    let connector = keyway_connect::Connector::new(config, &def).map_err(|e| e.to_string())?;
    keyway_connect::check(&connector)
        .await
        .map_err(|e| e.to_string())
}

fn outcome_words(check: &ConnectorCheck) -> String {
    match &check.tls {
        TestOutcome::Failed(d) => format!("fail with {}", d.cause.code()),
        TestOutcome::Connected { .. } if check.ok() => "pass".into(),
        TestOutcome::Connected { .. } => "connect but fail the HTTP check".into(),
    }
}

fn compare(draft: &ConnectorCheck, saved: &ConnectorCheck) -> Option<String> {
    let (now, then) = (outcome_words(draft), outcome_words(saved));
    (now != then).then(|| format!("These settings {now}; the saved ones {then}."))
}

/// The one-click fixes the result allows.
fn fixes(form: &ConnectorForm, checked: &ConnectorCheck, identities: &[Identity]) -> Markup {
    let TestOutcome::Failed(d) = &checked.tls else {
        return html! {};
    };
    match &d.cause {
        Cause::UntrustedRoot {
            root: Some(root), ..
        }
        | Cause::SelfSigned { cert: root, .. } => {
            let der = d
                .evidence
                .server_chain_der
                .iter()
                .find(|der| keyway_keystore::fingerprint_sha256(der) == root.sha256);
            let Some(der) = der else {
                return html! {};
            };
            let Ok(cert) =
                keyway_keystore::Certificate::from_der(der.clone(), "the partner's root")
            else {
                return html! {};
            };
            let suggested = form
                .truststores
                .first()
                .cloned()
                .unwrap_or_else(|| format!("{}-root", form.name));
            html! {
                section.fix aria-labelledby="fix-import" {
                    h3 id="fix-import" { "Fix: trust this certificate" }
                    p { "The partner sent " strong { (root.subject) } ", SHA-256 " code { (root.sha256) }
                        ". Import it only after checking this fingerprint with the partner (by phone or a signed letter, not by the same connection)." }
                    input type="hidden" name="fix_pem" value=(cert.to_pem());
                    input type="hidden" name="fix_sha256" value=(root.sha256);
                    label for="fix_truststore" { "Into truststore (a new name makes one)" }
                    input id="fix_truststore" name="fix_truststore" type="text" value=(suggested);
                    p {
                        input id="fix_confirm" name="fix_confirm" type="checkbox" value="yes";
                        " " label for="fix_confirm" style="display:inline" { "I checked SHA-256 " code { (root.sha256) } " with the partner" }
                    }
                    button type="submit" name="action" value="fix-import" formaction="/connectors/form" { "Import and test again" }
                }
            }
        }
        Cause::VersionMismatch { allowed, server } => {
            let lowest_allowed = allowed.lowest();
            let best_below = server
                .iter()
                .filter(|v| Some(*v) < lowest_allowed && *v >= TlsVersion::Tls10)
                .max();
            let Some(version) = best_below else {
                return html! {};
            };
            html! {
                section.fix aria-labelledby="fix-version" {
                    h3 id="fix-version" { "Fix: lower the lowest allowable version to " (version.name()) }
                    p { "The partner speaks " (server.to_string()) "; this connector allows " (allowed.to_string()) "." }
                    @if version < TlsVersion::Tls12 {
                        p.warn { "Warning: " (version.name()) " is deprecated (RFC 8996). Ask the partner for TLS 1.2; lower the version only for as long as they need." }
                    }
                    input type="hidden" name="fix_version" value=(version.name());
                    button type="submit" name="action" value="fix-version" formaction="/connectors/form" { "Lower to " (version.name()) " and test again" }
                }
            }
        }
        Cause::ClientCertRequired { acceptable_cas }
        | Cause::ClientCertRejected { acceptable_cas, .. } => {
            // The identities whose chain names a CA the server accepts (any, when it
            // names none), other than the one the form already presents.
            let fitting: Vec<&Identity> = identities
                .iter()
                .filter(|i| i.name != form.keystore)
                .filter(|i| {
                    acceptable_cas.is_empty() || i.names.iter().any(|n| acceptable_cas.contains(n))
                })
                .collect();
            if fitting.is_empty() {
                return html! {
                    p { "No stored keystore holds a certificate from "
                        @if acceptable_cas.is_empty() { "any CA" } @else { (acceptable_cas.join("; ")) }
                        ": get one issued (a key pair and CSR on the Client certificates page, or `keyway csr create`) and store it (Keystores)." }
                };
            }
            html! {
                section.fix aria-labelledby="fix-identity" {
                    h3 id="fix-identity" { "Fix: present a certificate the server accepts" }
                    p { "The server accepts client certificates from "
                        @if acceptable_cas.is_empty() { "any CA" } @else { (acceptable_cas.join("; ")) } "." }
                    @for i in fitting {
                        p {
                            button type="submit" name="fix_keystore" value=(i.name) formaction="/connectors/form" {
                                "Use keystore " (i.name)
                            }
                            " — " (i.leaf.subject) ", issued by " (i.leaf.issuer)
                        }
                    }
                }
            }
        }
        _ => html! {},
    }
}

async fn render(
    state: &AdminState,
    viewer: &Viewer,
    form: &ConnectorForm,
    notes: Notes,
) -> PageResult {
    let store = &state.inner.store;
    let truststores: Vec<String> = store
        .truststores(&viewer.ctx)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let keystores: Vec<String> = match store.keystores(&viewer.ctx).await {
        Ok(list) => list.into_iter().map(|k| k.name).collect(),
        Err(StoreError::Forbidden { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let title = if form.existing {
        format!("Connector {}", form.name)
    } else {
        "New connector".to_string()
    };
    let body = html! {
        p { a href="/connectors" { "← Connectors" } }
        h1 { (title) }
        @if let Some(done) = &notes.done { p.good role="status" { (done) } }
        @if let Some(error) = &notes.error { p.error role="alert" { (error) } }
        form method="post" action="/connectors/form" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            input type="hidden" name="existing" value=(if form.existing { "1" } else { "0" });
            label for="name" { "Name" }
            @if form.existing {
                input id="name" name="name" type="text" value=(form.name) readonly;
            } @else {
                input id="name" name="name" type="text" value=(form.name) required pattern="[A-Za-z0-9._-]+";
            }
            label for="url" { "URL" }
            input id="url" name="url" type="text" value=(form.url) required placeholder="https://partner.example/api" style="width:36em";
            label for="kind" { "Kind" }
            select id="kind" name="kind" {
                option value="rest" selected[form.kind == "rest"] { "REST" }
                option value="soap" selected[form.kind == "soap"] { "SOAP" }
            }
            fieldset {
                legend { "Truststore (one or more; none: the system roots)" }
                @if truststores.is_empty() { p { "No truststores in the store yet." } }
                @for t in &truststores {
                    label style="display:inline;font-weight:400;margin-right:1em" {
                        input type="checkbox" name="truststore" value=(t) checked[form.truststores.contains(t)];
                        " " (t)
                    }
                }
            }
            label for="keystore" { "Keystore (two-way TLS)" }
            select id="keystore" name="keystore" {
                option value="" selected[form.keystore.is_empty()] { "none" }
                @for k in &keystores { option value=(k) selected[&form.keystore == k] { (k) } }
            }
            fieldset {
                legend { "TLS versions" }
                p {
                    input id="mode-lowest" type="radio" name="mode" value="lowest" checked[form.mode != "explicit"];
                    " " label for="mode-lowest" style="display:inline" { "Lowest allowable version" } " "
                    select id="lowest" name="lowest" aria-label="Lowest allowable version" {
                        @for (v, _) in LADDER { option value=(v) selected[form.lowest == v] { (v) } }
                    }
                    " "
                    // Said by the server; kept current as the choice changes by console.js.
                    output id="accepts" for="lowest" aria-live="polite" {
                        "accepts " (LADDER.iter().find(|(v, _)| *v == form.lowest).map_or("TLS 1.2, 1.3", |(_, a)| *a))
                    }
                }
                table {
                    thead { tr { th { "Lowest allowable version" } th { "Accepts" } } }
                    tbody { @for (v, accepts) in LADDER {
                        tr { td { @if form.mode != "explicit" && form.lowest == v { strong { (v) " (chosen)" } } @else { (v) } } td { (accepts) } }
                    } }
                }
                p {
                    input id="mode-explicit" type="radio" name="mode" value="explicit" checked[form.mode == "explicit"];
                    " " label for="mode-explicit" style="display:inline" { "Explicit versions" } " "
                    @for v in VERSIONS {
                        label style="display:inline;font-weight:400;margin-right:.8em" {
                            input type="checkbox" name="version" value=(v) checked[form.versions.iter().any(|x| x == v)];
                            " " (v)
                        }
                    }
                }
            }
            label for="server_name" { "Server name (SNI and certificate check; default: the URL's host)" }
            input id="server_name" name="server_name" type="text" value=(form.server_name);
            fieldset {
                legend { "Outbound proxy" }
                label for="proxy_url" { "Proxy URL (http://HOST:PORT; empty: the server's HTTPS_PROXY; none: direct)" }
                input id="proxy_url" name="proxy_url" type="text" value=(form.proxy_url);
                label for="proxy_username" { "Proxy user (Basic)" }
                input id="proxy_username" name="proxy_username" type="text" value=(form.proxy_username) autocomplete="off";
                label for="proxy_password" { "Proxy password" }
                input id="proxy_password" name="proxy_password" type="password" autocomplete="new-password"
                    placeholder=(if form.existing { "unchanged unless typed" } else { "" });
                label for="no_proxy" { "Hosts reached without the proxy (comma-separated, as NO_PROXY)" }
                input id="no_proxy" name="no_proxy" type="text" value=(form.no_proxy);
            }
            label for="username" { "Basic-auth user" }
            input id="username" name="username" type="text" value=(form.username) autocomplete="off";
            label for="password" { "Basic-auth password" }
            input id="password" name="password" type="password" autocomplete="new-password"
                placeholder=(if form.existing { "unchanged for a test; type it to save" } else { "" });
            p {
                button type="submit" name="action" value="save" { "Save" } " "
                button type="submit" name="action" value="test" { "Test connectivity" }
            }
            div id="result" role="status" aria-live="polite" {
                @if let Some(result) = &notes.result { (result) }
            }
        }
    };
    Ok(page(viewer, &title, body))
}

/// The "Edit" link of a stored connector's page.
pub(super) fn edit_link(name: &str) -> Markup {
    html! { p { a href=(format!("/connectors/{name}/edit")) { "Edit settings" } " · " a href="/connectors/new" { "New connector" } } }
}
