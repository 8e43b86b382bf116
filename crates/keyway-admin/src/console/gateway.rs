//! What the gateway runs and trusts: integrations (which connector, who may invoke them;
//! add, remove) for `manage_connectors`, and keyway's CA (its certificate as a file for
//! clients to trust, a new CRL, what it issued, revocation) for `manage_trust`.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use keyway_pki::{Reason, Status};
use keyway_store::{NewIntegration, Permission, Save, StoreError};
use maud::html;
use serde::Deserialize;

use super::{Note, Oops, PageResult, Viewer, back, check_csrf, days_badge, page};
use crate::AdminState;

pub(super) async fn integrations(
    State(state): State<AdminState>,
    viewer: Viewer,
    Query(note): Query<Note>,
) -> PageResult {
    let store = &state.inner.store;
    let list = store.integrations(&viewer.ctx).await?;
    let connectors = store.connectors(&viewer.ctx).await?;
    // Who may invoke each: readable with user_management only.
    let users = if viewer.may(Permission::UserManagement) {
        Some(store.users_page(&viewer.ctx, None, 1000).await?)
    } else {
        None
    };
    let body = html! {
        h1 { "Integrations" }
        @if let Some(note) = &note.note { p role="status" { (note) } }
        p { "What partners call on the gateway: " code { "/integrations/NAME/…" } ", run through a connector." }
        table {
            thead { tr { th { "Integration" } th { "Connector" } th { "Password too" } th { "May invoke" } th { "Remove" } } }
            tbody { @for i in &list {
                tr {
                    td { strong { (i.name) } @if !i.description.is_empty() { br; (i.description) } }
                    td { a href=(format!("/connectors/{}", i.connector)) { (i.connector) } }
                    td { @if i.require_password { "yes" } @else { "no (certificate only)" } }
                    td { @match &users {
                        Some(users) => {
                            @let who: Vec<&str> = users.iter()
                                .filter(|u| u.permissions.contains(&Permission::Invoke(i.name.clone())))
                                .map(|u| u.name.as_str()).collect();
                            @if who.is_empty() { "nobody yet (grant invoke:" (i.name) ")" } @else { (who.join(", ")) }
                        },
                        None => "-",
                    } }
                    td {
                        form method="post" action="/integrations/remove" {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            input type="hidden" name="name" value=(i.name);
                            input id=(format!("confirm-{}", i.name)) type="checkbox" name="confirm" value="yes";
                            " " label for=(format!("confirm-{}", i.name)) style="display:inline" { "Yes" }
                            " " button type="submit" { "Remove " (i.name) }
                        }
                    }
                }
            } }
        }
        h2 { "Add an integration" }
        form method="post" action="/integrations" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="int-name" { "Name" }
            input id="int-name" name="name" type="text" required;
            label for="int-connector" { "Connector" }
            select id="int-connector" name="connector" {
                @for c in &connectors { option value=(c.name) { (c.name) } }
            }
            label for="int-description" { "Description" }
            input id="int-description" name="description" type="text";
            p {
                input id="int-password" type="checkbox" name="require_password" value="yes";
                " " label for="int-password" style="display:inline" { "Callers send their password as well as their certificate" }
            }
            p { button type="submit" { "Add integration" } }
        }
    };
    Ok(page(&viewer, "Integrations", body))
}

#[derive(Deserialize)]
pub(super) struct AddIntegration {
    #[serde(default)]
    csrf: String,
    name: String,
    connector: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    require_password: Option<String>,
}

pub(super) async fn add_integration(
    State(state): State<AdminState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<AddIntegration>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let new = NewIntegration {
        connector: form.connector.clone(),
        description: form.description.trim().to_string(),
        require_password: form.require_password.is_some(),
    };
    let note = match state
        .inner
        .store
        .save_integration(&viewer.ctx, form.name.trim(), new, Save::Add)
        .await
    {
        Ok(i) => format!(
            "Added integration {} through connector {}.",
            i.name, i.connector
        ),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not added: {e}"),
    };
    Ok(back("/integrations", &note))
}

#[derive(Deserialize)]
pub(super) struct RemoveIntegration {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub(super) async fn remove_integration(
    State(state): State<AdminState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<RemoveIntegration>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    if form.confirm.is_none() {
        return Ok(back(
            "/integrations",
            "Tick Yes to confirm: nothing removed.",
        ));
    }
    let note = match state
        .inner
        .store
        .remove_definition(&viewer.ctx, "integration", &form.name, None)
        .await
    {
        Ok(()) => format!("Removed integration {}.", form.name),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not removed: {e}"),
    };
    Ok(back("/integrations", &note))
}

pub(super) async fn ca(
    State(state): State<AdminState>,
    viewer: Viewer,
    Query(note): Query<Note>,
) -> PageResult {
    let store = &state.inner.store;
    let issued = store.ca_issued(&viewer.ctx).await?;
    let ca = store.ca().await?.ok_or(Oops::NotFound)?;
    let now = time::OffsetDateTime::now_utc();
    let mut chain = vec![("root", ca.root.info())];
    if let Some(intermediate) = &ca.intermediate {
        chain.push(("intermediate", intermediate.info()));
    }
    let body = html! {
        h1 { "keyway's CA" }
        @if let Some(note) = &note.note { p role="status" { (note) } }
        table {
            thead { tr { th { "" } th { "Subject" } th { "Ends" } th { "SHA-256" } } }
            tbody { @for (role, c) in &chain {
                tr { td { (role) } td { (c.subject) }
                     td { (c.not_after.date().to_string()) " " (days_badge((c.not_after - now).whole_days())) }
                     td { code { (c.sha256) } } }
            } }
        }
        p { a href="/ca/root.pem" download="keyway-ca.pem" { "Download the root certificate (PEM)" }
            ": what clients of the gateway trust." }
        form method="post" action="/ca/crl" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            button type="submit" { "Make a new CRL (valid 7 days)" }
        }
        h2 { "Issued" }
        table {
            thead { tr { th { "Serial" } th { "Subject" } th { "Owner" } th { "Ends" } th { "State" } } }
            tbody { @for r in &issued {
                tr {
                    td { code { (keyway_keystore::colon_hex(&r.serial)) } }
                    td { (r.subject) }
                    td { (r.owner.as_deref().unwrap_or("-")) }
                    td { (r.not_after.date().to_string()) }
                    td { @match &r.status {
                        Status::Revoked { reason, .. } => { span.bad { "revoked" } " (" (reason.to_string()) ")" },
                        _ => {
                            form method="post" action="/ca/revoke" {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                input type="hidden" name="serial" value=(r.serial);
                                input id=(format!("revoke-{}", r.serial)) type="checkbox" name="confirm" value="yes";
                                " " label for=(format!("revoke-{}", r.serial)) style="display:inline" { "Yes" }
                                " " button type="submit" { "Revoke" }
                            }
                        },
                    } }
                }
            } }
        }
    };
    Ok(page(&viewer, "keyway's CA", body))
}

/// `/ca/root.pem`: public, as the CA file `keyway serve` writes.
pub(super) async fn root_pem(State(state): State<AdminState>, _viewer: Viewer) -> PageResult {
    let ca = state.inner.store.ca().await?.ok_or(Oops::NotFound)?;
    Ok(pem(ca.root.to_pem(), "keyway-ca.pem"))
}

fn pem(text: String, name: &str) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[derive(Deserialize)]
pub(super) struct Csrf {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn crl(
    State(state): State<AdminState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<Csrf>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let crl = state.inner.store.ca_crl(&viewer.ctx, 7).await?;
    Ok(pem(crl.pem, "keyway-ca.crl.pem"))
}

#[derive(Deserialize)]
pub(super) struct Revoke {
    #[serde(default)]
    csrf: String,
    serial: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub(super) async fn revoke(
    State(state): State<AdminState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<Revoke>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    if form.confirm.is_none() {
        return Ok(back("/ca", "Tick Yes to confirm: nothing revoked."));
    }
    let note = match state
        .inner
        .store
        .ca_revoke(&viewer.ctx, &form.serial, Reason::Unspecified)
        .await
    {
        Ok(r) => format!(
            "Revoked {} (serial {}).",
            r.subject,
            keyway_keystore::colon_hex(&r.serial)
        ),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not revoked: {e}"),
    };
    Ok(back("/ca", &note))
}

/// `/crls`: the outside CAs' CRLs the gateway checks client certificates against.
pub(super) async fn crls(
    State(state): State<AdminState>,
    viewer: Viewer,
    Query(note): Query<Note>,
) -> PageResult {
    let list = state.inner.store.crls(&viewer.ctx).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = html! {
        h1 { "CRLs of outside CAs" }
        @if let Some(note) = &note.note { p role="status" { (note) } }
        p { "The gateway refuses client certificates these lists revoke (keyway's own CA keeps its revocations itself)." }
        table {
            thead { tr { th { "Issuer" } th { "Number" } th { "Revoked" } th { "Next update" } th { "From" } th { "Remove" } } }
            tbody { @for c in &list {
                tr {
                    td { (c.issuer) }
                    td { (c.number) }
                    td { (c.revoked) }
                    td { @match c.next_update {
                        Some(next) => { (super::date(next)) " " (days_badge((next - now).div_euclid(86_400))) },
                        None => "-",
                    } }
                    td { (c.source) }
                    td {
                        form method="post" action="/crls/remove" {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            input type="hidden" name="issuer" value=(c.issuer);
                            button type="submit" { "Remove" }
                        }
                    }
                }
            } }
        }
        @if list.is_empty() { p { "None yet." } }
        h2 { "Import a CRL" }
        form method="post" action="/crls" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="crl-file" { "CRL file (PEM or DER)" }
            input id="crl-file" name="file" type="file" required;
            p { button type="submit" { "Import" } }
        }
    };
    Ok(page(&viewer, "CRLs", body))
}

pub(super) async fn import_crl(
    State(state): State<AdminState>,
    viewer: Viewer,
    mut multipart: axum::extract::Multipart,
) -> PageResult {
    let (mut csrf, mut bytes, mut source) = (String::new(), Vec::new(), String::from("upload"));
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| Oops::Failed(axum::http::StatusCode::BAD_REQUEST, e.body_text()))?
    {
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.unwrap_or_default(),
            "file" => {
                source = field.file_name().unwrap_or("upload").to_string();
                bytes = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            }
            _ => {}
        }
    }
    check_csrf(&viewer, &csrf)?;
    let note = match state
        .inner
        .store
        .import_crl(&viewer.ctx, &bytes, &source)
        .await
    {
        Ok((crl, _)) => format!(
            "Imported the CRL of {} (number {}, {} revoked).",
            crl.issuer, crl.number, crl.revoked
        ),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not imported: {e}"),
    };
    Ok(back("/crls", &note))
}

#[derive(Deserialize)]
pub(super) struct RemoveCrl {
    #[serde(default)]
    csrf: String,
    issuer: String,
}

pub(super) async fn remove_crl(
    State(state): State<AdminState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<RemoveCrl>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let note = match state
        .inner
        .store
        .remove_crl(&viewer.ctx, &form.issuer)
        .await
    {
        Ok(()) => format!("Removed the CRL of {}.", form.issuer),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not removed: {e}"),
    };
    Ok(back("/crls", &note))
}
