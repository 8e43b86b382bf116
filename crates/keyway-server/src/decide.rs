//! What the gateway decides about a request before anything costs: who is calling (the
//! certificate's owner), whether the integration exists, whether the path stays inside
//! the connector's base path, what the `Authorization` header says, and whether the user
//! may invoke the integration (the store's rule: [`GatewayDirectory::may_invoke`]).
//!
//! [`decide`] is a pure function of the request's facts and the directory read from the
//! store, tested here without sockets, one test per refusal. What needs the world stays
//! outside: the password check (argon2, rate-limited: `password.rs`) and the partner
//! (`forward.rs`); their refusals are [`Reason`]s too, so every refusal has one type,
//! one status and one wording.

use std::fmt;

use http::{HeaderMap, StatusCode, header};
use keyway_store::{CertificateOwner, GatewayDirectory, Integration, InvokeDenied};
use zeroize::Zeroizing;

use crate::path::{PathRefusal, normalize_tail};

/// What the gateway knows of a request for `/integrations/NAME…` before it acts on it.
pub(crate) struct Facts<'a> {
    /// SHA-256 of the client certificate (lower-case hex).
    pub fingerprint: &'a str,
    /// The integration's name, as the caller wrote it.
    pub integration: &'a str,
    /// The rest of the path from its slash on (empty when there is none).
    pub tail: &'a str,
    pub headers: &'a HeaderMap,
}

/// Where an allowed request goes.
pub(crate) struct Route<'d> {
    /// The certificate's user.
    pub user: String,
    pub integration: &'d Integration,
    /// The path to append to the connector's base, dot-segments resolved.
    pub tail: String,
    /// The password the caller sent: to check before the request goes on.
    pub password: Option<Zeroizing<String>>,
}

/// A refused or failed request: who asked (when the certificate maps to a user) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub user: Option<String>,
    pub reason: Reason,
}

/// Why a request was refused or failed; each maps to one status ([`Reason::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The certificate chains to a trusted CA but is registered to no user.
    Unregistered,
    UserDisabled,
    Revoked,
    /// No integration of that name (the name as shown in the audit log).
    NoIntegration(String),
    /// The path climbs out of the connector's base path or hides a separator.
    Path(PathRefusal),
    /// An `Authorization` header keyway cannot read: why.
    MalformedAuthorization(&'static str),
    /// Basic credentials for another user than the certificate's (the name given).
    OtherUser(String),
    /// The integration requires the user's password and none was sent.
    PasswordRequired,
    /// The store's access rules refuse the user this integration.
    Denied(InvokeDenied),
    WrongPassword,
    /// Too many wrong passwords: locked out for this many seconds.
    LockedOut(u64),
    /// Too many password checks at once.
    Busy,
    /// The password could not be checked (the store did not answer): why.
    Unavailable(String),
    /// The body is over this many bytes.
    BodyTooLarge(usize),
    /// The caller broke off or garbled the body.
    BodyUnreadable,
    /// The connector could not be built or the partner not reached: `correlation_id` is
    /// all the caller is told, `why` goes to the audit log and the server's log.
    PartnerUnreachable {
        correlation_id: String,
        why: String,
    },
}

impl Reason {
    /// The status the caller gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Reason::Unregistered | Reason::UserDisabled | Reason::Revoked | Reason::Denied(_) => {
                StatusCode::FORBIDDEN
            }
            Reason::NoIntegration(_) => StatusCode::NOT_FOUND,
            Reason::Path(_) | Reason::MalformedAuthorization(_) | Reason::BodyUnreadable => {
                StatusCode::BAD_REQUEST
            }
            Reason::OtherUser(_) | Reason::PasswordRequired | Reason::WrongPassword => {
                StatusCode::UNAUTHORIZED
            }
            Reason::LockedOut(_) => StatusCode::TOO_MANY_REQUESTS,
            Reason::Busy | Reason::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Reason::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::PartnerUnreachable { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// Seconds a 429 or 503 asks the caller to wait.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Reason::LockedOut(seconds) => Some(*seconds),
            Reason::Busy => Some(1),
            _ => None,
        }
    }

    /// A fresh correlation id for a failure to reach the partner.
    pub fn partner_unreachable(why: String) -> Reason {
        let mut id = [0u8; 8];
        let _ = getrandom::fill(&mut id);
        Reason::PartnerUnreachable {
            correlation_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            why,
        }
    }
}

impl Refusal {
    pub fn new(user: Option<&str>, reason: Reason) -> Refusal {
        Refusal {
            user: user.map(str::to_string),
            reason,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.reason.status()
    }

    /// The correlation id the caller was given, for a 502.
    pub fn correlation_id(&self) -> Option<&str> {
        match &self.reason {
            Reason::PartnerUnreachable { correlation_id, .. } => Some(correlation_id),
            _ => None,
        }
    }
}

/// For the audit log and the server's log: what was decided, in words (never a secret).
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.user.as_deref().unwrap_or("(none)");
        match &self.reason {
            Reason::Unregistered => f.write_str("the certificate is not registered to any user"),
            Reason::UserDisabled => write!(f, "user {user} is disabled"),
            Reason::Revoked => f.write_str("the certificate is revoked"),
            Reason::NoIntegration(name) => write!(f, "no integration {name}"),
            Reason::Path(why) => f.write_str(why.reason()),
            Reason::MalformedAuthorization(why) => f.write_str(why),
            Reason::OtherUser(given) => write!(
                f,
                "basic auth as \"{given}\" does not match the certificate's user"
            ),
            Reason::PasswordRequired => {
                f.write_str("the integration requires the user's password too")
            }
            Reason::Denied(InvokeDenied::Lacks(permission)) => {
                write!(f, "user {user} lacks {permission}")
            }
            Reason::Denied(denied) => write!(f, "user {user}: {denied}"),
            Reason::WrongPassword => write!(f, "wrong password for {user}"),
            Reason::LockedOut(seconds) => write!(
                f,
                "too many wrong passwords for {user} or this certificate: locked out for {seconds} s"
            ),
            Reason::Busy => f.write_str("too many password checks at once"),
            Reason::Unavailable(why) => f.write_str(why),
            Reason::BodyTooLarge(limit) => write!(f, "the body is over {limit} bytes"),
            Reason::BodyUnreadable => f.write_str("the request body could not be read"),
            Reason::PartnerUnreachable {
                correlation_id,
                why,
            } => write!(f, "{correlation_id}: {why}"),
        }
    }
}

/// The owner of the certificate, when it is registered, not revoked and the user enabled.
pub(crate) fn caller<'d>(
    directory: &'d GatewayDirectory,
    fingerprint: &str,
) -> Result<&'d CertificateOwner, Refusal> {
    let owner = directory
        .owner(fingerprint)
        .ok_or(Refusal::new(None, Reason::Unregistered))?;
    let refuse = |reason| Refusal::new(Some(&owner.user), reason);
    if !owner.user_enabled {
        return Err(refuse(Reason::UserDisabled));
    }
    if owner.revoked.is_some() {
        return Err(refuse(Reason::Revoked));
    }
    Ok(owner)
}

/// The password in the `Authorization` header, when there is one: absent is fine, Basic
/// must name `user` (the certificate's), anything else is a bad request.
pub(crate) fn password(
    headers: &HeaderMap,
    user: &str,
) -> Result<Option<Zeroizing<String>>, Refusal> {
    let refuse = |reason| Refusal::new(Some(user), reason);
    match basic_auth(headers) {
        BasicAuth::Absent => Ok(None),
        BasicAuth::Malformed(why) => Err(refuse(Reason::MalformedAuthorization(why))),
        BasicAuth::Given(given, _) if given != user => {
            Err(refuse(Reason::OtherUser(shown(&given))))
        }
        BasicAuth::Given(_, password) => Ok(Some(password)),
    }
}

/// Who is calling, whether they may, and where the request goes.
pub(crate) fn decide<'d>(
    facts: &Facts<'_>,
    directory: &'d GatewayDirectory,
) -> Result<Route<'d>, Refusal> {
    let owner = caller(directory, facts.fingerprint)?;
    let user = owner.user.as_str();
    let refuse = |reason| Refusal::new(Some(user), reason);
    let integration = directory
        .integration(facts.integration)
        .ok_or_else(|| refuse(Reason::NoIntegration(shown(facts.integration))))?;
    // A path that climbs out of the connector's base path, plain or encoded, never
    // reaches a connector.
    let tail = normalize_tail(facts.tail).map_err(|why| refuse(Reason::Path(why)))?;
    let password = password(facts.headers, user)?;
    if password.is_none() && integration.require_password {
        return Err(refuse(Reason::PasswordRequired));
    }
    directory
        .may_invoke(user, &integration.name)
        .map_err(|denied| refuse(Reason::Denied(denied)))?;
    Ok(Route {
        user: user.to_string(),
        integration,
        tail,
        password,
    })
}

/// A name a caller chose, fit for the audit log: control characters escaped, at most
/// 100 characters.
pub(crate) fn shown(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(100)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if name.chars().nth(100).is_some() {
        out.push('…');
    }
    out
}

/// What an `Authorization` header holds.
enum BasicAuth {
    Absent,
    /// Not Basic credentials keyway can read: why.
    Malformed(&'static str),
    Given(String, Zeroizing<String>),
}

fn basic_auth(headers: &HeaderMap) -> BasicAuth {
    use base64ct::Encoding;
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return BasicAuth::Absent;
    };
    if values.next().is_some() {
        return BasicAuth::Malformed("more than one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return BasicAuth::Malformed("an Authorization header that is not text");
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return BasicAuth::Malformed("an Authorization header without credentials");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return BasicAuth::Malformed("an Authorization scheme other than Basic");
    }
    let Ok(decoded) = base64ct::Base64::decode_vec(encoded.trim()) else {
        return BasicAuth::Malformed("Basic credentials that are not base64");
    };
    let decoded = Zeroizing::new(decoded);
    let Ok(text) = std::str::from_utf8(&decoded) else {
        return BasicAuth::Malformed("Basic credentials that are not UTF-8");
    };
    let Some((user, password)) = text.split_once(':') else {
        return BasicAuth::Malformed("Basic credentials without a colon");
    };
    BasicAuth::Given(user.to_string(), Zeroizing::new(password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::Encoding;
    use http::HeaderValue;
    use keyway_store::{Permission, Revocation, User};

    /// alice (enabled, invoke:orders and invoke:secure), bob (disabled, invoke:orders),
    /// carol (enabled, nothing); a certificate for each, and a revoked one of alice's.
    fn directory() -> GatewayDirectory {
        let mut directory = GatewayDirectory::default();
        let user = |name: &str, enabled: bool, permissions: &[&str]| User {
            name: name.into(),
            display_name: name.into(),
            enabled,
            has_password: true,
            permissions: permissions.iter().map(|p| p.parse().unwrap()).collect(),
            created_at: 0,
            updated_at: 0,
            version: 1,
        };
        for u in [
            user("alice", true, &["invoke:orders", "invoke:secure"]),
            user("bob", false, &["invoke:orders"]),
            user("carol", true, &[]),
        ] {
            directory.users.insert(u.name.clone(), u);
        }
        let owner = |user: &str, enabled: bool, revoked: bool| CertificateOwner {
            user: user.into(),
            user_enabled: enabled,
            revoked: revoked.then(|| Revocation {
                at: 0,
                reason: "keyCompromise".into(),
            }),
            not_before: 0,
            not_after: i64::MAX,
        };
        for (fingerprint, owner) in [
            ("aa", owner("alice", true, false)),
            ("a0", owner("alice", true, true)),
            ("bb", owner("bob", false, false)),
            ("cc", owner("carol", true, false)),
        ] {
            directory.certificates.insert(fingerprint.into(), owner);
        }
        let integration = |name: &str, require_password: bool| Integration {
            name: name.into(),
            connector: format!("{name}-connector"),
            description: String::new(),
            require_password,
            created_at: 0,
            updated_at: 0,
            version: 1,
        };
        for i in [integration("orders", false), integration("secure", true)] {
            directory.integrations.insert(i.name.clone(), i);
        }
        directory
    }

    fn basic(credentials: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!(
            "Basic {}",
            base64ct::Base64::encode_string(credentials.as_bytes())
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::try_from(value).unwrap());
        headers
    }

    fn facts<'a>(fingerprint: &'a str, path: &'a str, headers: &'a HeaderMap) -> Facts<'a> {
        let (integration, tail) = path.split_at(path.find('/').unwrap_or(path.len()));
        Facts {
            fingerprint,
            integration,
            tail,
            headers,
        }
    }

    /// The refusal for `fingerprint` asking for `path` (under /integrations/).
    fn refused(fingerprint: &str, path: &str, headers: &HeaderMap) -> Refusal {
        match decide(&facts(fingerprint, path, headers), &directory()) {
            Ok(route) => panic!("{path} was allowed for {}", route.user),
            Err(refusal) => refusal,
        }
    }

    #[test]
    fn an_allowed_request_goes_to_its_integration_with_the_path_resolved() {
        let directory = directory();
        let none = HeaderMap::new();
        let route = decide(&facts("aa", "orders/a/./b/../c", &none), &directory).unwrap();
        assert_eq!(route.user, "alice");
        assert_eq!(route.integration.connector, "orders-connector");
        assert_eq!(route.tail, "/a/c");
        assert!(route.password.is_none());
        let headers = basic("alice:s3cret:with:colons");
        let route = decide(&facts("aa", "secure", &headers), &directory).unwrap();
        assert_eq!(
            route.password.as_deref().map(String::as_str),
            Some("s3cret:with:colons")
        );
    }

    #[test]
    fn an_unregistered_certificate_is_refused_without_a_user() {
        let refusal = refused("ff", "orders", &HeaderMap::new());
        assert_eq!(refusal.reason, Reason::Unregistered);
        assert_eq!(refusal.user, None);
        assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_disabled_user_and_a_revoked_certificate_are_forbidden() {
        let refusal = refused("bb", "orders", &HeaderMap::new());
        assert_eq!(refusal.reason, Reason::UserDisabled);
        assert_eq!(refusal.to_string(), "user bob is disabled");
        assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
        let refusal = refused("a0", "orders", &HeaderMap::new());
        assert_eq!(refusal.reason, Reason::Revoked);
        assert_eq!(refusal.user.as_deref(), Some("alice"));
        assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn an_unknown_integration_is_not_found_and_its_name_is_shown_safely() {
        let refusal = refused("aa", "nope\u{1b}[31m", &HeaderMap::new());
        assert_eq!(refusal.status(), StatusCode::NOT_FOUND);
        assert_eq!(refusal.to_string(), "no integration nope\\u{1b}[31m");
        let long = "x".repeat(300);
        let refusal = refused("aa", &long, &HeaderMap::new());
        assert_eq!(
            refusal.to_string().chars().count(),
            "no integration ".len() + 101
        );
    }

    #[test]
    fn a_path_leaving_the_base_is_a_bad_request_before_any_credentials() {
        // Even with credentials of another user: the path is refused first.
        let headers = basic("mallory:x");
        let refusal = refused("aa", "orders/../../admin", &headers);
        assert_eq!(refusal.reason, Reason::Path(PathRefusal::LeavesBase));
        assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
        let refusal = refused("aa", "orders/a%2F..%2F..", &HeaderMap::new());
        assert_eq!(refusal.reason, Reason::Path(PathRefusal::HiddenSeparator));
    }

    #[test]
    fn an_unreadable_authorization_header_is_a_bad_request() {
        for (value, why) in [
            ("Bearer abc", "an Authorization scheme other than Basic"),
            ("Basic", "an Authorization header without credentials"),
            ("Basic !!!", "Basic credentials that are not base64"),
            ("Basic YWxpY2U=", "Basic credentials without a colon"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            let refusal = refused("aa", "orders", &headers);
            assert_eq!(
                refusal.reason,
                Reason::MalformedAuthorization(why),
                "{value}"
            );
            assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
        }
        let mut headers = basic("alice:x");
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic eDp5"),
        );
        let refusal = refused("aa", "orders", &headers);
        assert_eq!(
            refusal.reason,
            Reason::MalformedAuthorization("more than one Authorization header")
        );
    }

    #[test]
    fn credentials_of_another_user_are_unauthorized() {
        let refusal = refused("aa", "orders", &basic("bob:bobs-password"));
        assert_eq!(refusal.reason, Reason::OtherUser("bob".into()));
        assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
        assert!(!refusal.to_string().contains("bobs-password"), "{refusal}");
    }

    #[test]
    fn an_integration_requiring_the_password_refuses_a_certificate_alone() {
        let refusal = refused("aa", "secure", &HeaderMap::new());
        assert_eq!(refusal.reason, Reason::PasswordRequired);
        assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_user_without_invoke_is_forbidden_by_the_stores_rule() {
        let refusal = refused("cc", "orders", &HeaderMap::new());
        assert_eq!(
            refusal.reason,
            Reason::Denied(InvokeDenied::Lacks(Permission::Invoke("orders".into())))
        );
        assert_eq!(refusal.to_string(), "user carol lacks invoke:orders");
        assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn refusals_found_later_have_their_status_wait_and_correlation_id() {
        let later = |reason: Reason| Refusal::new(Some("alice"), reason);
        let locked = later(Reason::LockedOut(8));
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(locked.reason.retry_after(), Some(8));
        assert!(
            locked.to_string().contains("locked out for 8 s"),
            "{locked}"
        );
        assert_eq!(
            later(Reason::WrongPassword).status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(later(Reason::Busy).reason.retry_after(), Some(1));
        assert_eq!(
            later(Reason::Unavailable("the store did not answer".into())).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            later(Reason::BodyTooLarge(10)).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            later(Reason::BodyUnreadable).status(),
            StatusCode::BAD_REQUEST
        );
        let failed = later(Reason::partner_unreachable("connection refused".into()));
        assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
        let id = failed.correlation_id().unwrap().to_string();
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert_eq!(failed.to_string(), format!("{id}: connection refused"));
        let other = later(Reason::partner_unreachable("x".into()));
        assert_ne!(other.correlation_id(), Some(id.as_str()));
        assert_eq!(later(Reason::WrongPassword).correlation_id(), None);
    }
}
