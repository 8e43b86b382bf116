//! Users (add, enable/disable, permissions, a link to each one's certificates) and the
//! audit log (filters by actor, action, outcome and time; paging), for `user_management`:
//! the store decides, and the pages answer 404 to whom it refuses.

use axum::extract::{Path, Query, State};
use keyway_store::{AuditOutcome, AuditQuery, NewUser, Permission, StoreError};
use maud::html;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{PageResult, Viewer, check_csrf, date, page};
use crate::AdminState;

/// `/users?after=NAME`: a page of users by name.
#[derive(Deserialize, Default)]
pub(super) struct UserPage {
    after: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

const PAGE: i64 = 50;

pub(super) async fn users(
    State(state): State<AdminState>,
    viewer: Viewer,
    Query(query): Query<UserPage>,
) -> PageResult {
    let users = state
        .inner
        .store
        .users_page(&viewer.ctx, query.after.as_deref(), PAGE)
        .await?;
    let next = (users.len() as i64 == PAGE)
        .then(|| users.last().map(|u| u.name.clone()))
        .flatten();
    let body = html! {
        h1 { "Users" }
        @if let Some(note) = &query.note { p.good role="status" { (note) } }
        table {
            thead { tr { th { "User" } th { "State" } th { "Permissions" } th { "Change" } } }
            tbody { @for u in &users {
                tr {
                    td { strong { (u.name) } @if !u.display_name.is_empty() { br; (u.display_name) } br;
                        a href=(format!("/users/{}/certificates", u.name)) { "Client certificates" } }
                    td { @if u.enabled { span.good { "enabled" } } @else { span.bad { "disabled" } }
                        @if !u.has_password { br; "no password" } }
                    td { @if u.permissions.is_empty() { "none" } @else {
                        ul { @for p in &u.permissions { li { code { (p.to_string()) } } } } } }
                    td {
                        form method="post" action=(format!("/users/{}/enabled", u.name)) {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            input type="hidden" name="enabled" value=(if u.enabled { "no" } else { "yes" });
                            button type="submit" { @if u.enabled { "Disable " (u.name) } @else { "Enable " (u.name) } }
                        }
                        form method="post" action=(format!("/users/{}/permissions", u.name)) {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            label for=(format!("perm-{}", u.name)) { "Permission" }
                            input id=(format!("perm-{}", u.name)) name="permission" type="text" list="permissions" placeholder="manage_connectors, invoke:orders";
                            button type="submit" name="change" value="grant" { "Grant" } " "
                            button type="submit" name="change" value="revoke" { "Revoke" }
                        }
                    }
                }
            } }
        }
        datalist id="permissions" {
            @for p in Permission::FIXED { option value=(p.to_string()) {} }
        }
        @if let Some(after) = &next {
            p { a href=(format!("/users?after={after}")) { "Next users →" } }
        }
        h2 { "Add a user" }
        form method="post" action="/users" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="new-name" { "Name" }
            input id="new-name" name="name" type="text" required;
            label for="new-display" { "Display name" }
            input id="new-display" name="display_name" type="text";
            label for="new-password" { "Password (12 characters or more; empty: none, e.g. a partner system)" }
            input id="new-password" name="password" type="password" autocomplete="new-password";
            fieldset {
                legend { "Permissions" }
                @for p in Permission::FIXED {
                    label style="display:inline;font-weight:400;margin-right:1em" {
                        input type="checkbox" name="permission" value=(p.to_string());
                        " " (p.to_string())
                    }
                }
            }
            p { button type="submit" { "Add user" } }
        }
    };
    Ok(page(&viewer, "Users", body))
}

fn back_to_users(note: &str) -> axum::response::Response {
    super::back("/users", note)
}

pub(super) async fn add(
    State(state): State<AdminState>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> PageResult {
    let (mut csrf, mut name, mut display, mut password, mut permissions) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        Vec::new(),
    );
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "name" => name = value.trim().to_string(),
            "display_name" => display = value.trim().to_string(),
            "password" => password = value.into_owned(),
            "permission" => permissions.push(value.into_owned()),
            _ => {}
        }
    }
    check_csrf(&viewer, &csrf)?;
    let mut new = NewUser::new(&name);
    if !display.is_empty() {
        new = new.display_name(&display);
    }
    if !password.is_empty() {
        new = new.password(Zeroizing::new(password));
    }
    for p in permissions {
        new = new.permission(p.parse()?);
    }
    let note = match state.inner.store.add_user(&viewer.ctx, new).await {
        Ok(user) => format!("Added {}.", user.name),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not added: {e}"),
    };
    Ok(back_to_users(&note))
}

#[derive(Deserialize)]
pub(super) struct Enabled {
    #[serde(default)]
    csrf: String,
    enabled: String,
}

pub(super) async fn enabled(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<Enabled>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let on = form.enabled == "yes";
    let note = match state
        .inner
        .store
        .set_enabled(&viewer.ctx, &name, on, None)
        .await
    {
        Ok(_) if on => format!("{name} is enabled."),
        Ok(_) => format!("{name} is disabled: their sessions and tokens ended."),
        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
        Err(e) => format!("Not changed: {e}"),
    };
    Ok(back_to_users(&note))
}

#[derive(Deserialize)]
pub(super) struct PermissionChange {
    #[serde(default)]
    csrf: String,
    permission: String,
    change: String,
}

pub(super) async fn permission(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<PermissionChange>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let note = match form.permission.trim().parse::<Permission>() {
        Err(e) => format!("Not changed: {e}"),
        Ok(permission) => {
            let store = &state.inner.store;
            let changed = if form.change == "revoke" {
                store
                    .revoke_permission(&viewer.ctx, &name, permission.clone(), None)
                    .await
            } else {
                store
                    .grant(&viewer.ctx, &name, permission.clone(), None)
                    .await
            };
            match changed {
                Ok(_) if form.change == "revoke" => format!("{name} no longer has {permission}."),
                Ok(_) => format!("{name} has {permission}."),
                Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
                Err(e) => format!("Not changed: {e}"),
            }
        }
    };
    Ok(back_to_users(&note))
}

/// `/audit-log?actor=&action=&outcome=&since_hours=&before=`.
#[derive(Deserialize, Default)]
pub(super) struct AuditFilter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    since_hours: String,
    before: Option<i64>,
}

pub(super) async fn audit_log(
    State(state): State<AdminState>,
    viewer: Viewer,
    Query(filter): Query<AuditFilter>,
) -> PageResult {
    let mut problem = None;
    let outcome = if filter.outcome.is_empty() {
        None
    } else {
        match filter.outcome.parse::<AuditOutcome>() {
            Ok(o) => Some(o),
            Err(e) => {
                problem = Some(e.to_string());
                None
            }
        }
    };
    let since = match filter.since_hours.trim() {
        "" => None,
        hours => match hours.parse::<i64>() {
            Ok(h) if h > 0 => Some(time::OffsetDateTime::now_utc().unix_timestamp() - h * 3600),
            _ => {
                problem = Some(format!("\"{hours}\" is not a number of hours"));
                None
            }
        },
    };
    let query = AuditQuery {
        since,
        limit: Some(PAGE),
        actor: (!filter.actor.trim().is_empty()).then(|| filter.actor.trim().to_string()),
        action: (!filter.action.trim().is_empty()).then(|| filter.action.trim().to_string()),
        outcome,
        before_id: filter.before,
    };
    let entries = state.inner.store.audit_log(&viewer.ctx, &query).await?;
    let next = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let keep = |before: i64| {
        let mut link = form_urlencoded::Serializer::new(String::new());
        link.append_pair("actor", &filter.actor)
            .append_pair("action", &filter.action)
            .append_pair("outcome", &filter.outcome)
            .append_pair("since_hours", &filter.since_hours)
            .append_pair("before", &before.to_string());
        format!("/audit-log?{}", link.finish())
    };
    let body = html! {
        h1 { "Audit log" }
        form method="get" action="/audit-log" {
            label for="f-actor" { "Actor" }
            input id="f-actor" name="actor" type="text" value=(filter.actor);
            label for="f-action" { "Action (ending in a dot: a prefix, e.g. user.)" }
            input id="f-action" name="action" type="text" value=(filter.action);
            label for="f-outcome" { "Outcome" }
            select id="f-outcome" name="outcome" {
                option value="" selected[filter.outcome.is_empty()] { "any" }
                @for o in ["ok", "refused", "failed"] { option value=(o) selected[filter.outcome == o] { (o) } }
            }
            label for="f-since" { "In the last hours" }
            input id="f-since" name="since_hours" type="text" inputmode="numeric" value=(filter.since_hours);
            p { button type="submit" { "Filter" } }
        }
        @if let Some(problem) = &problem { p.error role="alert" { (problem) } }
        table {
            thead { tr { th { "When" } th { "Actor" } th { "From" } th { "Action" } th { "Object" } th { "Outcome" } th { "Detail" } } }
            tbody { @for e in &entries {
                tr {
                    td { (date(e.at)) " " (time_of(e.at)) }
                    td { (e.actor) }
                    td { (e.origin) }
                    td { code { (e.action) } }
                    td { (e.object) }
                    td { @match e.outcome { AuditOutcome::Ok => "ok", AuditOutcome::Refused => span.bad { "refused" }, _ => span.warn { "failed" } }
                         @if e.count > 1 { " ×" (e.count) } }
                    td { (e.detail) }
                }
            } }
        }
        @if let Some(before) = next { p { a href=(keep(before)) { "Older entries →" } } }
    };
    Ok(page(&viewer, "Audit log", body))
}

fn time_of(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()))
        .unwrap_or_default()
}
