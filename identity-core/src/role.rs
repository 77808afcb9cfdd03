//! Roles: named bundles of scopes at three levels, each scope granting CRUD operations (Unikorn's model).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, require_text};
use crate::id::RoleId;
use crate::json::Validate;
use crate::name::{DnsLabel, ScopeName};
use crate::permission::Permission;

/// Where a scope applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeLevel {
    /// Everywhere on the platform.
    Global,
    /// Within the organization whose group grants the role.
    Organization,
    /// Within each project shared with the group that grants the role.
    Project,
}

/// One scope and the operations it allows; an entry of Unikorn's `{name, operations}` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// The scope's name, such as `identity:projects`.
    pub name: ScopeName,
    /// The operations allowed on it.
    pub operations: Permission,
}

/// Scopes by name, each with its operations. Serialises as a list of [`Scope`]s sorted by name; entries with
/// the same name merge by union, so a set never holds a name twice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet(BTreeMap<ScopeName, Permission>);

impl ScopeSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `operations` on `name` to whatever the set already allows there.
    pub fn grant(&mut self, name: ScopeName, operations: Permission) {
        *self.0.entry(name).or_default() |= operations;
    }

    /// Adds everything `other` allows.
    pub fn merge(&mut self, other: &ScopeSet) {
        for (name, operations) in &other.0 {
            self.grant(name.clone(), *operations);
        }
    }

    /// The operations allowed on `name` (none if absent).
    pub fn get(&self, name: &str) -> Permission {
        self.0.get(name).copied().unwrap_or_default()
    }

    /// The scopes, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&ScopeName, Permission)> {
        self.0.iter().map(|(name, operations)| (name, *operations))
    }

    /// Whether the set holds no scope.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every operation `other` allows, this set allows too.
    pub fn covers(&self, other: &ScopeSet) -> bool {
        other.0.iter().all(|(name, operations)| self.0.get(name).is_some_and(|mine| mine.contains(*operations)))
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::new();
        for scope in iter {
            set.grant(scope.name, scope.operations);
        }
        set
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Entry<'a> {
            name: &'a ScopeName,
            operations: Permission,
        }
        serializer.collect_seq(self.0.iter().map(|(name, operations)| Entry { name, operations: *operations }))
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<Scope>::deserialize(deserializer)?.into_iter().collect())
    }
}

/// A role's scopes at each level. Empty levels are left out of the JSON, as Unikorn does.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoleScopes {
    /// Platform-wide scopes.
    #[serde(default, skip_serializing_if = "ScopeSet::is_empty")]
    pub global: ScopeSet,
    /// Organization-wide scopes.
    #[serde(default, skip_serializing_if = "ScopeSet::is_empty")]
    pub organization: ScopeSet,
    /// Per-project scopes.
    #[serde(default, skip_serializing_if = "ScopeSet::is_empty")]
    pub project: ScopeSet,
}

impl RoleScopes {
    /// The scopes at `level`.
    pub fn at(&self, level: ScopeLevel) -> &ScopeSet {
        match level {
            ScopeLevel::Global => &self.global,
            ScopeLevel::Organization => &self.organization,
            ScopeLevel::Project => &self.project,
        }
    }

    /// The scopes at `level`, to change them.
    pub fn at_mut(&mut self, level: ScopeLevel) -> &mut ScopeSet {
        match level {
            ScopeLevel::Global => &mut self.global,
            ScopeLevel::Organization => &mut self.organization,
            ScopeLevel::Project => &mut self.project,
        }
    }
}

/// A role: what the members of a group holding it may do. Roles are additive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// The role's id.
    pub id: RoleId,
    /// Its unique name, a DNS label (`administrator`).
    pub name: DnsLabel,
    /// What it is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What it grants.
    pub scopes: RoleScopes,
}

impl Role {
    /// A new role granting `scopes`.
    pub fn new(name: &str, scopes: RoleScopes) -> Result<Self, Error> {
        let role =
            Self { id: RoleId::new(), name: DnsLabel::new(name).map_err(|p| p.at("name"))?, description: None, scopes };
        role.validate()?;
        Ok(role)
    }
}

impl Validate for Role {
    fn validate(&self) -> Result<(), Error> {
        if let Some(description) = &self.description {
            require_text("description", description)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Problem;
    use crate::json::from_json;
    use serde_json::json;

    fn scope(name: &str) -> ScopeName {
        ScopeName::new(name).unwrap()
    }

    #[test]
    fn same_name_scopes_merge_by_union() {
        let set: ScopeSet = serde_json::from_value(json!([
            {"name": "identity:projects", "operations": ["read"]},
            {"name": "identity:groups", "operations": ["create"]},
            {"name": "identity:projects", "operations": ["update", "read"]},
        ]))
        .unwrap();
        assert_eq!(set.get("identity:projects"), Permission::READ | Permission::UPDATE);
        assert_eq!(
            serde_json::to_value(&set).unwrap(),
            json!([
                {"name": "identity:groups", "operations": ["create"]},
                {"name": "identity:projects", "operations": ["read", "update"]},
            ])
        );
    }

    #[test]
    fn covers_compares_every_operation() {
        let mut holder = ScopeSet::new();
        holder.grant(scope("a"), Permission::READ | Permission::UPDATE);
        let mut wanted = ScopeSet::new();
        wanted.grant(scope("a"), Permission::READ);
        assert!(holder.covers(&wanted));
        wanted.grant(scope("a"), Permission::DELETE);
        assert!(!holder.covers(&wanted));
        let mut other = ScopeSet::new();
        other.grant(scope("b"), Permission::READ);
        assert!(!holder.covers(&other));
        assert!(holder.covers(&ScopeSet::new()));
    }

    #[test]
    fn roles_serialise_as_unikorn_does() {
        let mut scopes = RoleScopes::default();
        scopes.at_mut(ScopeLevel::Organization).grant(scope("identity:groups"), Permission::ALL);
        let role = Role::new("administrator", scopes).unwrap();
        let json = serde_json::to_value(&role).unwrap();
        assert_eq!(
            json["scopes"],
            json!({"organization": [{"name": "identity:groups", "operations": ["create", "read", "update", "delete"]}]})
        );
        assert_eq!(from_json::<Role>(&json.to_string()).unwrap(), role);
    }

    #[test]
    fn empty_scope_names_and_bad_operations_name_their_path() {
        let role = json!({"id": RoleId::new(), "name": "reader",
            "scopes": {"organization": [{"name": "", "operations": ["read"]}]}});
        let err = from_json::<Role>(&role.to_string()).unwrap_err();
        assert!(
            matches!(err, Error::Json { ref path, ref message }
            if path == "scopes.organization[0].name" && message.contains("empty")),
            "{err}"
        );
        let role = json!({"id": RoleId::new(), "name": "reader",
            "scopes": {"project": [{"name": "x", "operations": ["write"]}]}});
        let err = from_json::<Role>(&role.to_string()).unwrap_err();
        assert!(
            matches!(err, Error::Json { ref path, .. } if path.starts_with("scopes.project[0].operations")),
            "{err}"
        );
        assert_eq!(
            Role::new("Admins", RoleScopes::default()).unwrap_err(),
            Problem::ForbiddenCharacter('A').at("name")
        );
    }
}
