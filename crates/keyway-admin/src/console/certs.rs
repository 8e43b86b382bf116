//! Client certificates (webMethods' page, per user): a user's own with
//! `manage_personal_setup`, anyone's with `user_management` — the store decides, and
//! another user's page answers 404 to whom may not see it. **Generate key pair and CSR**
//! (the CSR shows and downloads), **Upload certificate** (checked as the CLI checks it,
//! every problem beside the field), **Issue certificate** (keyway's CA), **Download**
//! (PKCS#12, JKS or PEM under a password typed in the page), **Revoke** (confirmed).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use keyway_keystore::Format;
use keyway_pki::{KeyType, Reason};
use keyway_store::{StoreError, Upload};
use maud::{Markup, html};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Oops, PageResult, Viewer, check_csrf, date, days_badge, minute, page};
use crate::AdminState;

/// `/certificates`: the viewer's own.
pub(super) async fn mine(viewer: Viewer) -> Response {
    Redirect::to(&format!("/users/{}/certificates", viewer.user)).into_response()
}

/// What the page says after a POST.
#[derive(Default)]
struct Notes {
    done: Option<String>,
    /// (field, problem)
    error: Option<(&'static str, String)>,
    csr: Option<String>,
}

pub(super) async fn list(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(user): Path<String>,
) -> PageResult {
    render(&state, &viewer, &user, Notes::default()).await
}

async fn render(state: &AdminState, viewer: &Viewer, user: &str, notes: Notes) -> PageResult {
    let store = &state.inner.store;
    let certificates = store.certificates(&viewer.ctx, user).await?;
    let pending = store.pending_keys(&viewer.ctx, user).await?;
    let truststores: Vec<String> = match store.truststores(&viewer.ctx).await {
        Ok(list) => list.into_iter().map(|t| t.name).collect(),
        Err(StoreError::Forbidden { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let error_for = |field: &str| {
        notes
            .error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, e)| e.clone())
    };
    let base = format!("/users/{user}/certificates");
    let body = html! {
        h1 { "Client certificates of " (user) }
        @if let Some(done) = &notes.done { p.good role="status" { (done) } }
        @if let Some((_, error)) = &notes.error { p.error role="alert" { (error) } }
        @if certificates.is_empty() {
            p { "No certificates yet." }
        } @else {
            table {
                thead { tr { th { "Certificate" } th { "Ends" } th { "Origin" } th { "Last used" } th { "Download" } th { "Revoke" } } }
                tbody { @for c in &certificates {
                    @let short = c.sha256.replace(':', "").to_ascii_lowercase();
                    tr {
                        td { (c.subject) br; "issued by " (c.issuer) br; code { (c.sha256) } }
                        td {
                            (date(c.not_after)) " "
                            @if let Some(r) = &c.revoked { span.bad { "REVOKED" } " (" (r.reason) ")" }
                            @else { (days_badge((c.not_after - now).div_euclid(86_400))) }
                        }
                        td { @match c.origin { keyway_store::CertOrigin::Uploaded => "uploaded (outside CA)", keyway_store::CertOrigin::Issued => "issued by keyway" } }
                        td { @match &c.last_used {
                            Some(last) => { (minute(last.at)) " (" (last.node) ")" },
                            None => "never",
                        } }
                        td {
                            @if c.has_private_key && c.revoked.is_none() {
                                form method="post" action=(format!("{base}/{short}/download")) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    label for=(format!("format-{short}")) { "Format" }
                                    select id=(format!("format-{short}")) name="format" {
                                        option value="pkcs12" { "PKCS#12" }
                                        option value="jks" { "JKS" }
                                        option value="pem" { "PEM" }
                                    }
                                    label for=(format!("password-{short}")) { "File password" }
                                    input id=(format!("password-{short}")) name="password" type="password" autocomplete="new-password";
                                    p { button type="submit" { "Download" } }
                                }
                            } @else if c.revoked.is_some() {
                                "-"
                            } @else {
                                "the key is kept elsewhere"
                            }
                        }
                        td {
                            @if c.revoked.is_none() {
                                form method="post" action=(format!("{base}/{short}/revoke")) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    label for=(format!("reason-{short}")) { "Reason" }
                                    select id=(format!("reason-{short}")) name="reason" {
                                        option value="unspecified" { "unspecified" }
                                        option value="keyCompromise" { "key compromise" }
                                        option value="superseded" { "superseded" }
                                        option value="cessationOfOperation" { "cessation of operation" }
                                    }
                                    p {
                                        input id=(format!("confirm-{short}")) type="checkbox" name="confirm" value="yes";
                                        " " label for=(format!("confirm-{short}")) style="display:inline" { "Yes, revoke it" }
                                    }
                                    p { button type="submit" { "Revoke" } }
                                }
                            }
                        }
                    }
                } }
            }
        }
        @if !pending.is_empty() || notes.csr.is_some() {
            h2 { "Key pairs waiting for their CA" }
            @if let Some(csr) = &notes.csr {
                p { "Send this certificate signing request to your CA (also "
                    a href=(format!("{base}/csr.pem")) { "as a file" } "), then upload what it signs." }
                pre id="csr" { (csr) }
            }
            ul { @for p in &pending { li { (p.subject) " (" (p.key_type) "), since " (date(p.created_at)) } } }
        }
        h2 { "Generate key pair and CSR" }
        form method="post" action=(format!("{base}/csr")) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="csr-subject" { "Subject" }
            input id="csr-subject" name="subject" type="text" value=(format!("CN={user}"));
            label for="csr-sans" { "Subject alternative names (comma-separated: email:…, dns:…, ip:…, uri:…; optional)" }
            input id="csr-sans" name="sans" type="text" placeholder="email:alice@acme.example";
            (key_type_select("csr-key-type"))
            @if let Some(e) = error_for("subject") { p.error { (e) } }
            p { button type="submit" { "Generate key pair and CSR" } }
        }
        h2 { "Upload certificate" }
        form method="post" action=(format!("{base}/upload")) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="upload-certificate" { "Certificate (PEM, as the CA sent it)" }
            textarea id="upload-certificate" name="certificate" rows="6" cols="70" {}
            @if let Some(e) = error_for("certificate") { p.error { (e) } }
            label for="upload-chain" { "Its CA chain (PEM, if the CA sent one)" }
            textarea id="upload-chain" name="chain" rows="3" cols="70" {}
            @if truststores.is_empty() {
                // Who may not list the truststores names the one their administrator gave.
                label for="upload-truststore" { "Truststore of the CA (its name, as your administrator gave it)" }
                input id="upload-truststore" name="truststore" type="text";
            } @else {
                label for="upload-truststore" { "Truststore of the CA" }
                select id="upload-truststore" name="truststore" {
                    @for t in &truststores { option value=(t) { (t) } }
                }
            }
            p {
                input id="upload-elsewhere" type="checkbox" name="key_elsewhere" value="yes";
                " " label for="upload-elsewhere" style="display:inline" { "The key is kept elsewhere (not one of these key pairs)" }
            }
            p { button type="submit" { "Upload certificate" } }
        }
        h2 { "Issue certificate" }
        form method="post" action=(format!("{base}/issue")) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="issue-subject" { "Subject" }
            input id="issue-subject" name="subject" type="text" value=(format!("CN={user}"));
            label for="issue-days" { "Days" }
            input id="issue-days" name="days" type="text" value="365" inputmode="numeric";
            (key_type_select("issue-key-type"))
            @if let Some(e) = error_for("issue") { p.error { (e) } }
            p { button type="submit" { "Issue certificate" } }
        }
    };
    Ok(page(
        viewer,
        &format!("Client certificates of {user}"),
        body,
    ))
}

fn key_type_select(id: &str) -> Markup {
    html! {
        label for=(id) { "Key type" }
        select id=(id) name="key_type" {
            option value="ec-p256" { "EC P-256" }
            option value="ec-p384" { "EC P-384" }
            option value="rsa-2048" { "RSA 2048" }
            option value="rsa-3072" { "RSA 3072" }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct CsrForm {
    #[serde(default)]
    csrf: String,
    subject: String,
    #[serde(default)]
    sans: String,
    key_type: String,
}

pub(super) async fn csr(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(user): Path<String>,
    axum::Form(form): axum::Form<CsrForm>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let mut notes = Notes::default();
    let sans = form
        .sans
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(keyway_pki::San::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string());
    match form
        .key_type
        .parse::<KeyType>()
        .and_then(|k| sans.map(|s| (k, s)))
    {
        Err(e) => notes.error = Some(("subject", e)),
        Ok((key_type, sans)) => match state
            .inner
            .store
            .request_certificate(&viewer.ctx, &user, form.subject.trim(), &sans, key_type)
            .await
        {
            Ok(pending) => {
                notes.done = Some(format!("A key pair for {} is waiting.", pending.subject));
                notes.csr = Some(pending.csr);
            }
            Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
            Err(e) => notes.error = Some(("subject", e.to_string())),
        },
    }
    render(&state, &viewer, &user, notes).await
}

/// `/users/NAME/certificates/csr.pem`: the newest waiting CSR as a file.
pub(super) async fn csr_file(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(user): Path<String>,
) -> PageResult {
    let pending = state.inner.store.pending_keys(&viewer.ctx, &user).await?;
    let newest = pending
        .into_iter()
        .max_by_key(|p| p.created_at)
        .ok_or(Oops::NotFound)?;
    Ok(file(
        newest.csr.into_bytes(),
        "application/pkcs10",
        &format!("{user}.csr"),
    ))
}

#[derive(Deserialize)]
pub(super) struct UploadForm {
    #[serde(default)]
    csrf: String,
    certificate: String,
    #[serde(default)]
    chain: String,
    #[serde(default)]
    truststore: String,
    #[serde(default)]
    key_elsewhere: Option<String>,
}

pub(super) async fn upload(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(user): Path<String>,
    axum::Form(form): axum::Form<UploadForm>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let mut notes = Notes::default();
    let read = |pem: &str, what: &str| keyway_pki::read_certificates(pem.as_bytes(), None, what);
    match read(&form.certificate, "the certificate") {
        Err(e) => notes.error = Some(("certificate", e.to_string())),
        Ok(certs) if certs.is_empty() => {
            notes.error = Some((
                "certificate",
                "holds no certificate: paste the PEM the CA sent".into(),
            ));
        }
        Ok(mut certs) => {
            let certificate = certs.remove(0);
            let chain = if form.chain.trim().is_empty() {
                Ok(certs)
            } else {
                read(&form.chain, "the chain").map(|mut more| {
                    certs.append(&mut more);
                    certs
                })
            };
            match chain {
                Err(e) => notes.error = Some(("certificate", e.to_string())),
                Ok(chain) => {
                    let upload = Upload {
                        certificate,
                        chain,
                        truststore: form.truststore.clone(),
                        key_elsewhere: form.key_elsewhere.is_some(),
                    };
                    match state
                        .inner
                        .store
                        .upload_certificate(&viewer.ctx, &user, upload)
                        .await
                    {
                        Ok(cert) => {
                            notes.done = Some(format!(
                                "Stored {} (SHA-256 {}).",
                                cert.subject, cert.sha256
                            ));
                        }
                        Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
                        Err(e) => notes.error = Some(("certificate", e.to_string())),
                    }
                }
            }
        }
    }
    render(&state, &viewer, &user, notes).await
}

#[derive(Deserialize)]
pub(super) struct IssueForm {
    #[serde(default)]
    csrf: String,
    subject: String,
    days: String,
    key_type: String,
}

pub(super) async fn issue(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path(user): Path<String>,
    axum::Form(form): axum::Form<IssueForm>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let mut notes = Notes::default();
    let parsed = (|| {
        let subject = keyway_pki::parse_subject(form.subject.trim()).map_err(|e| e.to_string())?;
        let days: u32 = form
            .days
            .trim()
            .parse()
            .map_err(|_| format!("\"{}\" is not a number of days", form.days))?;
        let key_type: KeyType = form.key_type.parse()?;
        Ok::<_, String>((subject, days, key_type))
    })();
    match parsed {
        Err(e) => notes.error = Some(("issue", e)),
        Ok((subject, days, key_type)) => match state
            .inner
            .store
            .issue_certificate(&viewer.ctx, &user, subject, key_type, days)
            .await
        {
            Ok((cert, _)) => {
                notes.done = Some(format!(
                    "Issued {} (SHA-256 {}); download it below.",
                    cert.subject, cert.sha256
                ));
            }
            Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
            Err(e) => notes.error = Some(("issue", e.to_string())),
        },
    }
    render(&state, &viewer, &user, notes).await
}

#[derive(Deserialize)]
pub(super) struct DownloadForm {
    #[serde(default)]
    csrf: String,
    format: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn download(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path((user, fingerprint)): Path<(String, String)>,
    axum::Form(form): axum::Form<DownloadForm>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let (format, media) = crate::certs::file_format(&form.format)
        .map_err(|p| Oops::Failed(axum::http::StatusCode::UNPROCESSABLE_ENTITY, p.detail))?;
    let password = Zeroizing::new(form.password);
    if password.is_empty() && format != Format::Pem {
        let notes = Notes {
            error: Some((
                "download",
                format!("a {format} file needs a password: type one beside Download"),
            )),
            ..Notes::default()
        };
        return render(&state, &viewer, &user, notes).await;
    }
    let (cert, identity) = state
        .inner
        .store
        .export_identity(&viewer.ctx, &user, &fingerprint)
        .await?;
    let password = (!password.is_empty()).then_some(password.as_str());
    let bytes = identity
        .to_bytes(format, &user, password)
        .map_err(|p| Oops::Failed(axum::http::StatusCode::UNPROCESSABLE_ENTITY, p.to_string()))?;
    let extension = match format {
        Format::Pkcs12 => "p12",
        Format::Jks => "jks",
        _ => "pem",
    };
    let short: String = cert.sha256.replace(':', "").to_ascii_lowercase()[..16].to_string();
    Ok(file(bytes, media, &format!("{user}-{short}.{extension}")))
}

fn file(bytes: Vec<u8>, media: &'static str, name: &str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    reason: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub(super) async fn revoke(
    State(state): State<AdminState>,
    viewer: Viewer,
    Path((user, fingerprint)): Path<(String, String)>,
    axum::Form(form): axum::Form<RevokeForm>,
) -> PageResult {
    check_csrf(&viewer, &form.csrf)?;
    let mut notes = Notes::default();
    if form.confirm.is_none() {
        notes.error = Some((
            "revoke",
            "tick \"Yes, revoke it\" to revoke: a revocation cannot be undone".into(),
        ));
        return render(&state, &viewer, &user, notes).await;
    }
    match form.reason.parse::<Reason>() {
        Err(e) => notes.error = Some(("revoke", e)),
        Ok(reason) => match state
            .inner
            .store
            .revoke_certificate(&viewer.ctx, &user, &fingerprint, reason, None)
            .await
        {
            Ok(cert) => notes.done = Some(format!("Revoked {} ({}).", cert.subject, cert.sha256)),
            Err(e @ StoreError::Forbidden { .. }) => return Err(e.into()),
            Err(e) => notes.error = Some(("revoke", e.to_string())),
        },
    }
    render(&state, &viewer, &user, notes).await
}
