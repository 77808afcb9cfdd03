//! The scopes of the identity service and the four built-in roles, installed through the store by [`seed`].

use identity_core::{DnsLabel, Permission, Role, RoleId, RoleScopes, ScopeLevel, ScopeName};
use identity_store::RbacStore;

use crate::error::Error;

/// The names of the identity service's own scopes (Unikorn's naming: `service:resources`).
pub mod scopes {
    /// Organizations: read to discover one, update to rename it or change its email domains.
    pub const ORGANIZATIONS: &str = "identity:organizations";
    /// Groups of an organization, and the roles they carry.
    pub const GROUPS: &str = "identity:groups";
    /// Roles.
    pub const ROLES: &str = "identity:roles";
    /// Projects of an organization.
    pub const PROJECTS: &str = "identity:projects";
    /// Members (users) of an organization's groups.
    pub const MEMBERS: &str = "identity:members";
    /// Service identities of an organization.
    pub const SERVICE_IDENTITIES: &str = "identity:serviceidentities";
    /// Upstream identity providers of an organization.
    pub const PROVIDERS: &str = "identity:providers";

    /// Every scope above.
    pub const ALL: [&str; 7] = [ORGANIZATIONS, GROUPS, ROLES, PROJECTS, MEMBERS, SERVICE_IDENTITIES, PROVIDERS];
}

/// The roles every installation has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinRole {
    /// Global: every operation on every scope of the identity service. Only effective for the platform
    /// administrators named in the configuration ([`PlatformAdministrators`](crate::PlatformAdministrators)).
    PlatformAdministrator,
    /// Organization: read and update the organization; create, read, update and delete its groups, roles,
    /// projects, members, service identities and providers.
    Administrator,
    /// Organization: discover it (read). Project: read each project shared with the user's group.
    User,
    /// Organization: read everything, change nothing.
    Reader,
}

impl BuiltinRole {
    /// The four roles, in the order above.
    pub const ALL: [BuiltinRole; 4] =
        [BuiltinRole::PlatformAdministrator, BuiltinRole::Administrator, BuiltinRole::User, BuiltinRole::Reader];

    /// The role's name: `platform-administrator`, `administrator`, `user` or `reader`.
    pub const fn name(self) -> &'static str {
        match self {
            BuiltinRole::PlatformAdministrator => "platform-administrator",
            BuiltinRole::Administrator => "administrator",
            BuiltinRole::User => "user",
            BuiltinRole::Reader => "reader",
        }
    }

    /// What the role is for, for people.
    pub const fn description(self) -> &'static str {
        match self {
            BuiltinRole::PlatformAdministrator => {
                "Everything, everywhere. Conferred only by the deployment's configuration."
            }
            BuiltinRole::Administrator => {
                "Manages an organization: its groups, roles, projects, members and providers."
            }
            BuiltinRole::User => "Discovers the organization and reads the projects shared with its groups.",
            BuiltinRole::Reader => "Reads everything in the organization and changes nothing.",
        }
    }

    /// The scopes the role grants.
    pub fn scopes(self) -> Result<RoleScopes, Error> {
        let crud = Permission::ALL;
        let read = Permission::READ;
        let grants: Vec<(ScopeLevel, &str, Permission)> = match self {
            BuiltinRole::PlatformAdministrator => {
                scopes::ALL.iter().map(|name| (ScopeLevel::Global, *name, crud)).collect()
            }
            BuiltinRole::Administrator => scopes::ALL
                .iter()
                .map(|name| match *name {
                    scopes::ORGANIZATIONS => (ScopeLevel::Organization, *name, read | Permission::UPDATE),
                    _ => (ScopeLevel::Organization, *name, crud),
                })
                .collect(),
            BuiltinRole::User => vec![
                (ScopeLevel::Organization, scopes::ORGANIZATIONS, read),
                (ScopeLevel::Project, scopes::PROJECTS, read),
            ],
            BuiltinRole::Reader => scopes::ALL.iter().map(|name| (ScopeLevel::Organization, *name, read)).collect(),
        };
        let mut role_scopes = RoleScopes::default();
        for (level, name, operations) in grants {
            let name = ScopeName::new(name).map_err(|problem| problem.at("scopes"))?;
            role_scopes.at_mut(level).grant(name, operations);
        }
        Ok(role_scopes)
    }

    /// A new role object (with a fresh id) holding this built-in's name, description and scopes.
    pub fn role(self) -> Result<Role, Error> {
        let mut role = Role::new(self.name(), self.scopes()?)?;
        role.description = Some(self.description().to_owned());
        Ok(role)
    }
}

/// The ids of the built-in roles in one store, as [`seed`] found or made them. Put `platform_administrator` in
/// [`PlatformAdministrators::role_ids`](crate::PlatformAdministrators::role_ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRoles {
    /// `platform-administrator`.
    pub platform_administrator: RoleId,
    /// `administrator`.
    pub administrator: RoleId,
    /// `user`.
    pub user: RoleId,
    /// `reader`.
    pub reader: RoleId,
}

impl BuiltinRoles {
    /// The id of `role`.
    pub fn id(&self, role: BuiltinRole) -> RoleId {
        match role {
            BuiltinRole::PlatformAdministrator => self.platform_administrator,
            BuiltinRole::Administrator => self.administrator,
            BuiltinRole::User => self.user,
            BuiltinRole::Reader => self.reader,
        }
    }
}

/// Installs the built-in roles that the store does not hold yet (found by name), and returns the ids of all four.
///
/// Idempotent, and safe when several servers seed one store at once: a role another seeder created in between is
/// looked up instead. A built-in role that already exists is left as it is, so an operator's changes to it (for
/// example another service's scopes added to `platform-administrator`) survive restarts.
pub async fn seed(store: &dyn RbacStore) -> Result<BuiltinRoles, Error> {
    let mut ids = [RoleId::new(); 4];
    for (slot, builtin) in ids.iter_mut().zip(BuiltinRole::ALL) {
        *slot = ensure(store, builtin).await?;
    }
    let [platform_administrator, administrator, user, reader] = ids;
    Ok(BuiltinRoles { platform_administrator, administrator, user, reader })
}

async fn ensure(store: &dyn RbacStore, builtin: BuiltinRole) -> Result<RoleId, Error> {
    let name = DnsLabel::new(builtin.name()).map_err(|problem| problem.at("name"))?;
    if let Some(existing) = store.find_role_by_name(&name).await? {
        return Ok(existing.id);
    }
    let role = builtin.role()?;
    match store.create_role(&role).await {
        Ok(()) => Ok(role.id),
        Err(identity_store::Error::Conflict { .. }) => match store.find_role_by_name(&name).await? {
            Some(existing) => Ok(existing.id),
            None => Err(identity_store::Error::NotFound { what: "role", id: name.to_string() }.into()),
        },
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use identity_core::Operation;

    #[test]
    fn every_scope_name_is_valid() {
        for name in scopes::ALL {
            assert!(ScopeName::new(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn builtin_roles_grant_what_their_documentation_says() {
        let platform = BuiltinRole::PlatformAdministrator.scopes().unwrap();
        assert!(platform.organization.is_empty() && platform.project.is_empty());
        for name in scopes::ALL {
            assert_eq!(platform.global.get(name), Permission::ALL, "{name}");
        }

        let admin = BuiltinRole::Administrator.scopes().unwrap();
        assert!(admin.global.is_empty());
        assert_eq!(admin.organization.get(scopes::ORGANIZATIONS), Permission::READ | Permission::UPDATE);
        for name in [scopes::GROUPS, scopes::ROLES, scopes::PROJECTS, scopes::MEMBERS, scopes::PROVIDERS] {
            assert_eq!(admin.organization.get(name), Permission::ALL, "{name}");
        }
        assert_eq!(admin.organization.get(scopes::SERVICE_IDENTITIES), Permission::ALL);

        let user = BuiltinRole::User.scopes().unwrap();
        assert_eq!(user.organization.get(scopes::ORGANIZATIONS), Permission::READ);
        assert_eq!(user.organization.get(scopes::PROJECTS), Permission::NONE);
        assert_eq!(user.project.get(scopes::PROJECTS), Permission::READ);

        let reader = BuiltinRole::Reader.scopes().unwrap();
        for name in scopes::ALL {
            let granted = reader.organization.get(name);
            assert!(granted.allows(Operation::Read) && !granted.allows(Operation::Update), "{name}");
        }
    }
}
