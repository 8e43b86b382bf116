//! Truststores and keystores (identities) in the store: each with its entries — subject,
//! issuer, the days left, SHA-256 — and what uses it; upload a JKS, PKCS#12 or PEM file
//! (a new store, or one replacing the store of that name), remove an entry from a
//! truststore (refused while it is where a working connector's partner chain ends,
//! unless forced), remove a store (refused while a profile uses it). For `manage_trust`
//! (reading: `manage_connectors` too); the store decides.

use axum::extract::{Multipart, Path, Query, State};
use keyway_keystore::{CertInfo, Certificate};
use keyway_store::{NewKeystore, StoreError};
use maud::{Markup, html};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Note, Oops, PageResult, Viewer, back, check_csrf, days_badge, page};
use crate::AdminState;

fn entries(certs: &[&CertInfo]) -> Markup {
    let now = time::OffsetDateTime::now_utc();
    html! {
        table {
            thead { tr { th { "Subject" } th { "Issuer" } th { "Ends" } th { "SHA-256" } } }
            tbody { @for c in certs {
                tr {
                    td { (c.subject) }
                    td { (c.issuer) }
                    td { (c.not_after.date().to_string()) " " (days_badge((c.not_after - now).whole_days())) }
                    td { code { (c.sha256) } }
                }
            } }
        }
    }
}

/// What uses the store `name` of `kind`, in words.
fn used_by(uses: &keyway_store::Uses, kind: &str, name: &str) -> String {
    let users = uses.of(kind, name);
    if users.is_empty() {
        "nothing".into()
    } else {
        users.join(", ")
    }
}

fn upload_form(viewer: &Viewer, action: &str, what: &str, keystore: bool) -> Markup {
    html! {
        h2 { "Upload a " (what) }
        form method="post" action=(action) enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="up-name" { "Name" }
            input id="up-name" name="name" type="text" required;
            label for="up-file" { "File (JKS, PKCS#12 or PEM)" }
            input id="up-file" name="file" type="file" required;
            label for="up-password" { "The file's password (JKS, PKCS#12)" }
            input id="up-password" name="password" type="password" autocomplete="off";
            @if keystore {
                label for="up-alias" { "Alias of the key entry (when the file holds several)" }
                input id="up-alias" name="alias" type="text";
            }
            p {
                input id="up-replace" type="checkbox" name="replace" value="yes";
                " " label for="up-replace" style="display:inline" { "Replace the " (what) " of that name" }
            }
            p { button type="submit" { "Upload" } }
        }
    }
}

pub(super) async fn truststores(
    State(state): State<AdminState>,
    viewer: Viewer,
    Query(note): Query<Note>,
) -> PageResult {
    let store = &state.inner.store;
    let list = store.truststores(&viewer.ctx).await?;
    let uses = store.certificate_uses(&viewer.ctx).await?;
    let used_by = |name: &str| used_by(&uses, "truststore", name);
    let body = html! {
        h1 { "Truststores" }
        @if let Some(note) = &note.note { p role="status" { (note) } }
        @for t in &list {
            section aria-labelledby=(format!("ts-{}", t.name)) {
                h2 id=(format!("ts-{}", t.name)) { (t.name) }
                p { "From " (t.source) ", version " (t.version) "; used by " (used_by(&t.name)) "." }
                @let infos: Vec<&CertInfo> = t.certificates.iter().map(Certificate::info).collect();
                (entries(&infos))
                @if t.certificates.len() > 1 {
                    form method="post" action=(format!("/truststores/{}/remove-entry", t.name)) {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        label for=(format!("entry-{}", t.name)) { "Remove the entry" }
                        select id=(format!("entry-{}", t.name)) name="sha256" {
                            @for c in &infos { option value=(c.sha256) { (c.subject) } }
                        }
                        " "
                        input id=(format!("force-{}", t.name)) type="checkbox" name="force" value="yes";
                        " " label for=(format!("force-{}", t.name)) style="display:inline" { "even if working connectors lose their trust" }
                        " " button type="submit" { "Remove entry" }
                    }
                }
                form method="post" action=(format!("/truststores/{}/remove", t.name)) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input id=(format!("confirm-{}", t.name)) type="checkbox" name="confirm" value="yes";
                    " " label for=(format!("confirm-{}", t.name)) style="display:inline" { "Yes, remove truststore " (t.name) }
                    " " button type="submit" { "Remove truststore" }
                }
            }
        }
        @if list.is_empty() { p { "No truststores yet." } }
        (upload_form(&viewer, "/truststores", "truststore", false))
    };
    Ok(page(&viewer, "Truststores", body))
}

pub(super) async fn keystores(
    State(state): State<AdminState>,
    viewer: Viewer,
    Query(note): Query<Note>,
) -> PageResult {
    let store = &state.inner.store;
    let list = store.keystores(&viewer.ctx).await?;
    let uses = store.certificate_uses(&viewer.ctx).await?;
    let used_by = |name: &str| used_by(&uses, "identity", name);
    let body = html! {
        h1 { "Keystores" }
        @if let Some(note) = &note.note { p role="status" { (note) } }
        @for k in &list {
            section aria-labelledby=(format!("ks-{}", k.name)) {
                h2 id=(format!("ks-{}", k.name)) { (k.name) }
                p { (k.format) " from " (k.source) "; presents alias " code { (k.alias) } "; used by " (used_by(&k.name)) "." }
                @if let Some(entry) = k.key_entry() {
                    @let infos: Vec<&CertInfo> = entry.chain.iter().map(Certificate::info).collect();
                    (entries(&infos))
                }
                form method="post" action=(format!("/keystores/{}/remove", k.name)) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input id=(format!("confirm-{}", k.name)) type="checkbox" name="confirm" value="yes";
                    " " label for=(format!("confirm-{}", k.name)) style="display:inline" { "Yes, remove keystore " (k.name) }
                    " " button type="submit" { "Remove keystore" }
                }
            }
        }
        @if list.is_empty() { p { "No keystores yet." } }
        (upload_form(&viewer, "/keystores", "keystore", true))
    };
    Ok(page(&viewer, "Keystores", body))
}

/// A multipart upload's fields.
#[derive(Default)]
struct UploadFields {
    csrf: String,
    name: String,
    file: Vec<u8>,
    file_name: String,
    password: Zeroizing<String>,
    alias: String,
    replace: bool,
}

async fn read_upload(mut multipart: Multipart) -> Result<UploadFields, String> {
    let mut fields = UploadFields::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            fields.file_name = field.file_name().unwrap_or("upload").to_string();
            fields.file = field.bytes().await.map_err(|e| e.body_text())?.to_vec();
            continue;
        }
        let value = field.text().await.map_err(|e| e.body_text())?;
        match name.as_str() {
            "csrf" => fields.csrf = value,
            "name" => fields.name = value.trim().to_string(),
            "password" => fields.password = Zeroizing::new(value),
            "alias" => fields.alias = value.trim().to_string(),
            "replace" => fields.replace = value == "yes",
            _ => {}
        }
    }
    Ok(fields)
}

pub(super) async fn upload_truststore(
    State(state): State<AdminState>,
    viewer: Viewer,
    multipart: Multipart,
) -> PageResult {
    let fields = read_upload(multipart)
        .await
        .map_err(|e| Oops::Failed(axum::http::StatusCode::BAD_REQUEST, e))?;
    check_csrf(&viewer, &fields.csrf)?;
    let password = (!fields.password.is_empty()).then_some(fields.password.as_str());
    let note = match keyway_pki::read_certificates(&fields.file, password, &fields.file_name) {
        Err(e) => format!("Not stored: {}: {e}", fields.file_name),
        Ok(certs) => {
            let store = &state.inner.store;
            let stored = if fields.replace {
                store
                    .replace_truststore(
                        &viewer.ctx,
                        &fields.name,
                        certs,
                        &fields.file_name,
                        None,
                        false,
                    )
                    .await
            } else {
                store
                    .add_truststore(&viewer.ctx, &fields.name, certs, &fields.file_name)
                    .await
            };
            match stored {
                Ok(t) => format!(
                    "Stored truststore {} ({} certificates from {}).",
                    t.name,
                    t.certificates.len(),
                    t.source
                ),
                Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
                Err(e) => format!("Not stored: {e}"),
            }
        }
    };
    Ok(back("/truststores", &note))
}

pub(super) async fn upload_keystore(
    State(state): State<AdminState>,
    viewer: Viewer,
    multipart: Multipart,
) -> PageResult {
    let fields = read_upload(multipart)
        .await
        .map_err(|e| Oops::Failed(axum::http::StatusCode::BAD_REQUEST, e))?;
    check_csrf(&viewer, &fields.csrf)?;
    let keystore = NewKeystore {
        content: fields.file.clone(),
        format: None,
        password: fields.password.clone(),
        key_password: None,
        alias: (!fields.alias.is_empty()).then(|| fields.alias.clone()),
        source: fields.file_name.clone(),
    };
    let store = &state.inner.store;
    let stored = if fields.replace {
        store
            .replace_keystore(&viewer.ctx, &fields.name, keystore, None)
            .await
    } else {
        store
            .add_keystore(&viewer.ctx, &fields.name, keystore)
            .await
    };
    let note = match stored {
        Ok(k) => format!(
            "Stored keystore {} (alias {}, from {}).",
            k.name, k.alias, k.source
        ),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not stored: {e}"),
    };
    Ok(back("/keystores", &note))
}

#[derive(Deserialize)]
pub(super) struct RemoveEntry {
    #[serde(default)]
    csrf: String,
    sha256: String,
    #[serde(default)]
    force: Option<String>,
}

pub(super) async fn remove_entry(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<RemoveEntry>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let store = &state.inner.store;
    let current = store.truststore(&viewer.ctx, &name).await?;
    let kept: Vec<Certificate> = current
        .certificates
        .iter()
        .filter(|c| c.info().sha256 != form.sha256)
        .cloned()
        .collect();
    if kept.len() == current.certificates.len() {
        return Ok(back("/truststores", "No such entry: nothing removed."));
    }
    let note = match store
        .replace_truststore(
            &viewer.ctx,
            &name,
            kept,
            &current.source,
            Some(current.version),
            form.force.is_some(),
        )
        .await
    {
        Ok(_) => format!("Removed {} from truststore {name}.", form.sha256),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not removed: {e}"),
    };
    Ok(back("/truststores", &note))
}

#[derive(Deserialize)]
pub(super) struct Confirm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub(super) async fn remove_truststore(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<Confirm>,
) -> PageResult {
    let store = state.inner.store.clone();
    let removed = remove(&viewer, &form, "truststore", &name, async {
        store.remove_truststore(&viewer.ctx, &name, None).await
    });
    removed.await
}

pub(super) async fn remove_keystore(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<Confirm>,
) -> PageResult {
    let store = state.inner.store.clone();
    let removed = remove(&viewer, &form, "keystore", &name, async {
        store.remove_keystore(&viewer.ctx, &name, None).await
    });
    removed.await
}

/// A confirmed removal of a `kind` store: back to its page, saying what came of it.
async fn remove(
    viewer: &Viewer,
    form: &Confirm,
    kind: &str,
    name: &str,
    removal: impl std::future::Future<Output = Result<(), StoreError>>,
) -> PageResult {
    check_csrf(viewer, &form.csrf)?;
    let page = format!("/{kind}s");
    if form.confirm.is_none() {
        return Ok(back(&page, "Tick the box to confirm: nothing removed."));
    }
    let note = match removal.await {
        Ok(()) => format!("Removed {kind} {name}."),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not removed: {e}"),
    };
    Ok(back(&page, &note))
}
