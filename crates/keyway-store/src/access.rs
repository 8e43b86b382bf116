//! Who is acting, and what they may do. Every change the store makes takes a [`Context`];
//! the check happens here, not in the CLI, API or web UI.

use std::fmt;
use std::str::FromStr;

use crate::{GatewayDirectory, StoreError};

/// What a user may do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// Manage any user, their permissions, passwords and certificates.
    UserManagement,
    /// Manage one's own certificates and password, nobody else's.
    ManagePersonalSetup,
    /// Create, change and remove connectors, profiles and integrations.
    ManageConnectors,
    /// Manage truststores, keystores and keyway's CA.
    ManageTrust,
    /// Run the named integration through the gateway.
    Invoke(String),
}

impl Permission {
    /// Every permission but `invoke:…`, in the order help texts list them.
    pub const FIXED: [Permission; 4] = [
        Permission::UserManagement,
        Permission::ManagePersonalSetup,
        Permission::ManageConnectors,
        Permission::ManageTrust,
    ];
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::UserManagement => f.write_str("user_management"),
            Permission::ManagePersonalSetup => f.write_str("manage_personal_setup"),
            Permission::ManageConnectors => f.write_str("manage_connectors"),
            Permission::ManageTrust => f.write_str("manage_trust"),
            Permission::Invoke(integration) => write!(f, "invoke:{integration}"),
        }
    }
}

impl FromStr for Permission {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let invalid = |problem: String| StoreError::Invalid {
            field: "permission",
            given: s.to_string(),
            problem,
        };
        match s {
            "user_management" => Ok(Permission::UserManagement),
            "manage_personal_setup" => Ok(Permission::ManagePersonalSetup),
            "manage_connectors" => Ok(Permission::ManageConnectors),
            "manage_trust" => Ok(Permission::ManageTrust),
            _ => match s.strip_prefix("invoke:") {
                Some(integration) => {
                    crate::check_name("integration name", integration).map_err(|e| match e {
                        StoreError::Invalid { problem, .. } => invalid(problem),
                        other => other,
                    })?;
                    Ok(Permission::Invoke(integration.to_string()))
                }
                None => Err(invalid(
                    "is not a permission: use user_management, manage_personal_setup, \
                     manage_connectors, manage_trust or invoke:<integration>"
                        .into(),
                )),
            },
        }
    }
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The administrator at the machine: the CLI run on the data directory (or with the
    /// database URL and master key) without `--as`. May do everything.
    LocalAdmin,
    /// A keyway user, with the permissions stored for them at the time of the action.
    User(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::LocalAdmin => f.write_str("local administrator"),
            Actor::User(name) => write!(f, "user {name}"),
        }
    }
}

impl Actor {
    /// How the audit log names the actor.
    pub(crate) fn audit_name(&self) -> String {
        match self {
            Actor::LocalAdmin => "local-admin".into(),
            Actor::User(name) => name.clone(),
        }
    }
}

/// An actor and where the request came from ("cli", "api 10.0.0.7", …), for the checks
/// and the audit log.
#[derive(Debug, Clone)]
pub struct Context {
    /// Who.
    pub actor: Actor,
    /// From where.
    pub origin: String,
}

impl Context {
    /// The local administrator on the command line.
    pub fn local_admin() -> Self {
        Context {
            actor: Actor::LocalAdmin,
            origin: "cli".into(),
        }
    }

    /// `user` acting from `origin`.
    pub fn user(user: &str, origin: &str) -> Self {
        Context {
            actor: Actor::User(user.to_string()),
            origin: origin.to_string(),
        }
    }
}

/// What an action needs of the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// `user_management`.
    ManageAnyone,
    /// `user_management`, or `manage_personal_setup` when the target is the actor.
    ManageOwn,
    /// `user_management`, or being the target (reading one's own account).
    ReadOwn,
    /// `user_management`, or being the target, whatever else one holds (one's own API
    /// tokens: a token carries its user's permissions, never more).
    OwnOrAnyone,
    /// `manage_trust`: changing truststores, keystores, the CA.
    ManageTrust,
    /// `manage_trust` or `manage_connectors` (which point connectors at truststores).
    SeeTrust,
    /// `manage_connectors`: TLS profiles, connectors and integrations.
    ManageConnectors,
}

/// Whether an actor holding `held` may do something that needs `need` (to `target`'s
/// account, for the account needs). `Err` holds the reason for the refusal.
pub(crate) fn allows(
    actor: &Actor,
    held: &[Permission],
    need: Need,
    target: Option<&str>,
) -> Result<(), String> {
    let Actor::User(name) = actor else {
        return Ok(());
    };
    let holds = |p: Permission| held.contains(&p);
    let own = target == Some(name.as_str());
    let (allowed, reason) = match need {
        Need::ManageTrust => (
            holds(Permission::ManageTrust),
            "it needs the manage_trust permission",
        ),
        Need::SeeTrust => (
            holds(Permission::ManageTrust) || holds(Permission::ManageConnectors),
            "it needs manage_trust or manage_connectors",
        ),
        Need::ManageConnectors => (
            holds(Permission::ManageConnectors),
            "it needs the manage_connectors permission",
        ),
        Need::ManageAnyone => (
            holds(Permission::UserManagement),
            "it needs the user_management permission",
        ),
        Need::ManageOwn if own => (
            holds(Permission::UserManagement) || holds(Permission::ManagePersonalSetup),
            "it needs manage_personal_setup (for one's own account) or user_management",
        ),
        Need::ManageOwn => (
            holds(Permission::UserManagement),
            "manage_personal_setup covers one's own account only; another user's needs user_management",
        ),
        Need::OwnOrAnyone => (
            own || holds(Permission::UserManagement),
            "another user's needs user_management",
        ),
        Need::ReadOwn => (
            own || holds(Permission::UserManagement),
            "only user_management may see other users' accounts",
        ),
    };
    if allowed { Ok(()) } else { Err(reason.into()) }
}

/// Why the gateway refuses a caller an integration ([`GatewayDirectory::may_invoke`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvokeDenied {
    /// The user is disabled: they may run nothing.
    UserDisabled,
    /// The user does not hold `invoke:INTEGRATION` (or no longer exists).
    Lacks(Permission),
}

impl fmt::Display for InvokeDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeDenied::UserDisabled => f.write_str("the user is disabled"),
            InvokeDenied::Lacks(permission) => write!(f, "the user lacks {permission}"),
        }
    }
}

impl GatewayDirectory {
    /// Whether `user` may run `integration` through the gateway: enabled, and holding
    /// `invoke:INTEGRATION`. The gateway's permission check, here with all the others.
    pub fn may_invoke(&self, user: &str, integration: &str) -> Result<(), InvokeDenied> {
        let lacks = || InvokeDenied::Lacks(Permission::Invoke(integration.to_string()));
        let user = self.users.get(user).ok_or_else(lacks)?;
        if !user.enabled {
            return Err(InvokeDenied::UserDisabled);
        }
        let holds = user
            .permissions
            .iter()
            .any(|p| matches!(p, Permission::Invoke(name) if name == integration));
        if holds { Ok(()) } else { Err(lacks()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_back_as_written() {
        for text in [
            "user_management",
            "manage_personal_setup",
            "manage_connectors",
            "manage_trust",
            "invoke:orders-to-sap",
        ] {
            let permission: Permission = text.parse().unwrap();
            assert_eq!(permission.to_string(), text);
        }
        let e = "invoke:".parse::<Permission>().unwrap_err().to_string();
        assert!(e.contains("permission \"invoke:\""), "{e}");
        let e = "admin".parse::<Permission>().unwrap_err().to_string();
        assert!(e.contains("invoke:<integration>"), "{e}");
    }

    #[test]
    fn personal_setup_covers_only_ones_own_account() {
        let alice = Actor::User("alice".into());
        let personal = [Permission::ManagePersonalSetup];
        let need = Need::ManageOwn;
        assert!(allows(&alice, &personal, need, Some("alice")).is_ok());
        let refused = allows(&alice, &personal, need, Some("bob")).unwrap_err();
        assert!(refused.contains("user_management"), "{refused}");
        assert!(allows(&alice, &[], need, Some("alice")).is_err());
        assert!(allows(&alice, &[Permission::UserManagement], need, Some("bob")).is_ok());
        assert!(allows(&Actor::LocalAdmin, &[], Need::ManageAnyone, Some("bob")).is_ok());
        assert!(allows(&alice, &personal, Need::ManageAnyone, Some("alice")).is_err());
    }

    #[test]
    fn user_management_does_not_cover_trust() {
        let alice = Actor::User("alice".into());
        let admin = [Permission::UserManagement];
        assert!(allows(&alice, &admin, Need::ManageTrust, None).is_err());
        assert!(allows(&alice, &admin, Need::SeeTrust, None).is_err());
        let connectors = [Permission::ManageConnectors];
        assert!(allows(&alice, &connectors, Need::SeeTrust, None).is_ok());
        assert!(allows(&alice, &connectors, Need::ManageTrust, None).is_err());
        assert!(allows(&alice, &[Permission::ManageTrust], Need::ManageTrust, None).is_ok());
        assert!(allows(&Actor::LocalAdmin, &[], Need::ManageTrust, None).is_ok());
    }

    fn user(name: &str, enabled: bool, permissions: &[&str]) -> crate::User {
        crate::User {
            name: name.into(),
            display_name: name.into(),
            enabled,
            has_password: false,
            permissions: permissions.iter().map(|p| p.parse().unwrap()).collect(),
            created_at: 0,
            updated_at: 0,
            version: 1,
        }
    }

    #[test]
    fn invoking_needs_an_enabled_user_holding_that_integration() {
        let mut directory = GatewayDirectory::default();
        for u in [
            user("alice", true, &["invoke:orders"]),
            user("bob", false, &["invoke:orders"]),
            user("carol", true, &["invoke:orders-v2", "manage_connectors"]),
        ] {
            directory.users.insert(u.name.clone(), u);
        }
        assert_eq!(directory.may_invoke("alice", "orders"), Ok(()));
        assert_eq!(
            directory.may_invoke("bob", "orders"),
            Err(InvokeDenied::UserDisabled)
        );
        let lacks = directory.may_invoke("carol", "orders").unwrap_err();
        assert_eq!(lacks.to_string(), "the user lacks invoke:orders");
        assert!(directory.may_invoke("alice", "invoices").is_err());
        assert!(directory.may_invoke("nobody", "orders").is_err());
    }
}
