//! The `rbac` section of the configuration (who administers the platform; organizations with their groups and
//! projects to create at start) and applying its seed to the store.
//!
//! Seeding converges instead of copying: an organization, group or project the store lacks is created; one it
//! has (found by name) keeps its settings, and gets the roles, members and groups the seed lists that it lacks.
//! Nothing is removed or renamed, so changes made through the API survive restarts, except that a member or
//! role removed from a seeded group comes back while the seed still lists it. Several replicas may start at once
//! on one store: a name another replica created in between is looked up instead, and both write the same union.

use std::collections::{BTreeSet, HashMap, HashSet};

use identity_core::{
    CredentialType, DnsLabel, EmailDomain, Group, GroupId, IdentityId, Organization, OrganizationId, Project,
    ProviderId, RoleId,
};
use identity_store::{AddressKind, Store};
use serde::Deserialize;

use crate::config::ConfigError;
use crate::state::StartError;

/// The `rbac` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RbacConfig {
    /// The identities (by id) that administer the platform: they hold the `platform-administrator` role's
    /// global scopes. Only this list makes anyone a platform administrator; no API call can.
    pub platform_administrators: BTreeSet<IdentityId>,
    /// Objects to create at start.
    pub seed: SeedConfig,
}

/// `rbac.seed`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeedConfig {
    /// The organizations, each with its groups and projects.
    pub organizations: Vec<SeedOrganization>,
}

/// One organization of the seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrganization {
    /// Its unique name, a DNS label.
    pub name: DnsLabel,
    /// A name for people (default: the name).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Email domains whose logins go to its upstream provider; needs `provider_id`.
    #[serde(default)]
    pub email_domains: BTreeSet<EmailDomain>,
    /// The upstream provider its users sign in with.
    #[serde(default)]
    pub provider_id: Option<ProviderId>,
    /// Its groups.
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
    /// Its projects.
    #[serde(default)]
    pub projects: Vec<SeedProject>,
}

/// One group of a seeded organization.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGroup {
    /// Its name, unique within the organization.
    pub name: DnsLabel,
    /// The names of the roles its members hold (built-in or created before).
    #[serde(default)]
    pub roles: Vec<DnsLabel>,
    /// Its members, by identity id or email address. One that does not exist yet is skipped with a warning, and
    /// added at a later start once it does.
    #[serde(default)]
    pub members: Vec<Member>,
    /// Group names at the upstream provider whose members belong to it.
    #[serde(default)]
    pub upstream_groups: BTreeSet<String>,
}

/// One project of a seeded organization.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProject {
    /// Its name, unique within the organization.
    pub name: DnsLabel,
    /// The groups it is shared with: names of groups this seed gives the same organization.
    #[serde(default)]
    pub groups: Vec<DnsLabel>,
}

/// A group member as the configuration names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Member {
    /// An identity id.
    Id(IdentityId),
    /// The email address an identity signs in with or has verified (lower-cased).
    Email(String),
}

impl TryFrom<String> for Member {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if let Ok(id) = text.parse() {
            return Ok(Member::Id(id));
        }
        let email = text.trim().to_lowercase();
        match email.split_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => {
                Ok(Member::Email(email))
            }
            _ => Err(format!("`{text}` is neither an identity id nor an email address")),
        }
    }
}

impl RbacConfig {
    /// The platform administrators as identity-rbac takes them: the configured subjects, with the stored
    /// `platform-administrator` role (so scopes an operator added to it count too).
    pub fn platform_administrators(
        &self,
        roles: &identity_rbac::BuiltinRoles,
    ) -> identity_rbac::PlatformAdministrators {
        identity_rbac::PlatformAdministrators {
            subjects: self.platform_administrators.clone(),
            role_ids: BTreeSet::from([roles.platform_administrator]),
        }
    }

    /// Checks what types alone cannot: unique names, projects naming groups of their organization, email
    /// domains with a provider. The first problem is named by its path (`rbac.seed.organizations[0].name`).
    pub fn check(&self) -> Result<(), ConfigError> {
        let field = |path: String, message: String| ConfigError::Field { path, message };
        let mut organizations = HashSet::new();
        for (index, organization) in self.seed.organizations.iter().enumerate() {
            let path = format!("rbac.seed.organizations[{index}]");
            if !organizations.insert(&organization.name) {
                return Err(field(format!("{path}.name"), format!("`{}` is seeded twice", organization.name)));
            }
            if organization.display_name.as_ref().is_some_and(|name| name.trim().is_empty()) {
                return Err(field(format!("{path}.display_name"), "must not be empty".into()));
            }
            if !organization.email_domains.is_empty() && organization.provider_id.is_none() {
                return Err(field(
                    format!("{path}.email_domains"),
                    "email domains route logins to a provider; set `provider_id` too".into(),
                ));
            }
            let mut groups = HashSet::new();
            for (index, group) in organization.groups.iter().enumerate() {
                if !groups.insert(&group.name) {
                    let message = format!("`{}` is seeded twice in this organization", group.name);
                    return Err(field(format!("{path}.groups[{index}].name"), message));
                }
                if group.upstream_groups.iter().any(|name| name.trim().is_empty()) {
                    return Err(field(format!("{path}.groups[{index}].upstream_groups"), "must not be empty".into()));
                }
            }
            let mut projects = HashSet::new();
            for (index, project) in organization.projects.iter().enumerate() {
                let at = format!("{path}.projects[{index}]");
                if !projects.insert(&project.name) {
                    return Err(field(format!("{at}.name"), format!("`{}` is seeded twice", project.name)));
                }
                if let Some((position, unknown)) =
                    project.groups.iter().enumerate().find(|(_, name)| !groups.contains(name))
                {
                    let message = format!("`{unknown}` is not a group this seed gives the organization");
                    return Err(field(format!("{at}.groups[{position}]"), message));
                }
            }
        }
        Ok(())
    }
}

/// Applies `seed` to `store` (see the module's documentation). Fails naming the path of a role that does not
/// exist, or with the store's error.
pub async fn apply(store: &dyn Store, seed: &SeedConfig) -> Result<(), StartError> {
    for (index, wanted) in seed.organizations.iter().enumerate() {
        let path = format!("rbac.seed.organizations[{index}]");
        let organization = ensure_organization(store, wanted, &path).await?;
        let mut group_ids: HashMap<&DnsLabel, GroupId> = HashMap::new();
        for (index, group) in wanted.groups.iter().enumerate() {
            let path = format!("{path}.groups[{index}]");
            let roles = role_ids(store, &group.roles, &path).await?;
            let members = member_ids(store, &group.members, &path).await?;
            let id = ensure_group(store, organization, group, roles, members).await?;
            group_ids.insert(&group.name, id);
        }
        for project in &wanted.projects {
            // `check` made sure every name is a group of this organization's seed.
            let groups = project.groups.iter().filter_map(|name| group_ids.get(name).copied()).collect();
            ensure_project(store, organization, &project.name, groups).await?;
        }
    }
    Ok(())
}

async fn ensure_organization(
    store: &dyn Store,
    wanted: &SeedOrganization,
    path: &str,
) -> Result<OrganizationId, StartError> {
    if let Some(existing) = store.find_organization_by_name(&wanted.name).await? {
        return Ok(existing.id);
    }
    let display_name = wanted.display_name.clone().unwrap_or_else(|| wanted.name.to_string());
    let mut organization = Organization::new(wanted.name.as_str(), display_name).map_err(|e| domain(path, e))?;
    organization.email_domains = wanted.email_domains.clone();
    organization.provider_id = wanted.provider_id;
    identity_core::Validate::validate(&organization).map_err(|e| domain(path, e))?;
    match store.create_organization(&organization).await {
        Ok(()) => Ok(organization.id),
        Err(identity_store::Error::Conflict { field, value }) => {
            // Another replica seeded it in between; or an email domain is another organization's.
            match store.find_organization_by_name(&wanted.name).await? {
                Some(existing) => Ok(existing.id),
                None => Err(config(path, format!("{field} `{value}` is already taken"))),
            }
        }
        Err(error) => Err(error.into()),
    }
}

async fn ensure_group(
    store: &dyn Store,
    organization: OrganizationId,
    wanted: &SeedGroup,
    roles: BTreeSet<RoleId>,
    members: BTreeSet<IdentityId>,
) -> Result<GroupId, StartError> {
    let existing = match group_named(store, organization, &wanted.name).await? {
        Some(group) => group,
        None => {
            let mut group = Group::new(organization, wanted.name.as_str()).map_err(|e| domain("rbac.seed", e))?;
            group.role_ids = roles.clone();
            group.members = members.clone();
            group.upstream_groups = wanted.upstream_groups.clone();
            match store.create_group(&group).await {
                Ok(()) => return Ok(group.id),
                Err(identity_store::Error::Conflict { .. }) => group_named(store, organization, &wanted.name)
                    .await?
                    .ok_or_else(|| identity_store::Error::NotFound { what: "group", id: wanted.name.to_string() })?,
                Err(error) => return Err(error.into()),
            }
        }
    };
    let mut group = existing.clone();
    group.role_ids.extend(roles);
    group.members.extend(members);
    group.upstream_groups.extend(wanted.upstream_groups.iter().cloned());
    if group != existing {
        store.update_group(&group).await?;
    }
    Ok(group.id)
}

async fn ensure_project(
    store: &dyn Store,
    organization: OrganizationId,
    name: &DnsLabel,
    groups: BTreeSet<GroupId>,
) -> Result<(), StartError> {
    let existing = match project_named(store, organization, name).await? {
        Some(project) => project,
        None => {
            let project =
                Project::new(organization, name.as_str(), groups.clone()).map_err(|e| domain("rbac.seed", e))?;
            match store.create_project(&project).await {
                Ok(()) => return Ok(()),
                Err(identity_store::Error::Conflict { .. }) => project_named(store, organization, name)
                    .await?
                    .ok_or_else(|| identity_store::Error::NotFound { what: "project", id: name.to_string() })?,
                Err(error) => return Err(error.into()),
            }
        }
    };
    let mut project = existing.clone();
    project.group_ids.extend(groups);
    if project != existing {
        store.update_project(&project).await?;
    }
    Ok(())
}

async fn group_named(
    store: &dyn Store,
    organization: OrganizationId,
    name: &DnsLabel,
) -> Result<Option<Group>, identity_store::Error> {
    Ok(store.groups_of_organization(organization).await?.into_iter().find(|group| &group.name == name))
}

async fn project_named(
    store: &dyn Store,
    organization: OrganizationId,
    name: &DnsLabel,
) -> Result<Option<Project>, identity_store::Error> {
    Ok(store.projects_of_organization(organization).await?.into_iter().find(|project| &project.name == name))
}

async fn role_ids(store: &dyn Store, names: &[DnsLabel], path: &str) -> Result<BTreeSet<RoleId>, StartError> {
    let mut ids = BTreeSet::new();
    for (index, name) in names.iter().enumerate() {
        let role = store.find_role_by_name(name).await?;
        let role =
            role.ok_or_else(|| config(&format!("{path}.roles[{index}]"), format!("no role is named `{name}`")))?;
        ids.insert(role.id);
    }
    Ok(ids)
}

async fn member_ids(store: &dyn Store, members: &[Member], path: &str) -> Result<BTreeSet<IdentityId>, StartError> {
    let mut ids = BTreeSet::new();
    for (index, member) in members.iter().enumerate() {
        let found = match member {
            Member::Id(id) => match store.identity(*id).await {
                Ok(identity) => Some(identity.id),
                Err(identity_store::Error::NotFound { .. }) => None,
                Err(error) => return Err(error.into()),
            },
            Member::Email(email) => {
                let by_login = store.find_identity_by_identifier(CredentialType::Password, email).await?;
                let found = match by_login {
                    Some(identity) => Some(identity),
                    None => store.find_identity_by_address(AddressKind::Verifiable, email).await?,
                };
                found.map(|identity| identity.id)
            }
        };
        match found {
            Some(id) => {
                ids.insert(id);
            }
            // Seeding runs at every start, so the member is added once it has registered.
            None => {
                tracing::warn!(path = %format!("{path}.members[{index}]"), "a seeded group member does not exist yet")
            }
        }
    }
    Ok(ids)
}

fn config(path: &str, message: String) -> StartError {
    StartError::Config(ConfigError::Field { path: path.to_owned(), message })
}

fn domain(path: &str, error: identity_core::Error) -> StartError {
    config(path, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path_of(document: serde_json::Value) -> String {
        match crate::config::Config::from_value(json!({ "rbac": document }), std::iter::empty()) {
            Err(ConfigError::Field { path, .. }) => path,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn bad_seeds_are_named_by_their_path() {
        let org = |extra: serde_json::Value| {
            let mut org = json!({"name": "acme"});
            if let (Some(org), Some(extra)) = (org.as_object_mut(), extra.as_object()) {
                org.extend(extra.clone());
            }
            json!({"seed": {"organizations": [org]}})
        };
        assert_eq!(path_of(json!({"seed": {"organizations": [{"name": "Acme"}]}})), "rbac.seed.organizations[0].name");
        assert_eq!(path_of(json!({"seed": {"organisations": []}})), "rbac.seed.organisations");
        assert_eq!(path_of(json!({"platform_administrators": ["nope"]})), "rbac.platform_administrators[0]");
        assert_eq!(
            path_of(json!({"seed": {"organizations": [{"name": "acme"}, {"name": "acme"}]}})),
            "rbac.seed.organizations[1].name"
        );
        assert_eq!(path_of(org(json!({"display_name": " "}))), "rbac.seed.organizations[0].display_name");
        assert_eq!(
            path_of(org(json!({"email_domains": ["acme.example"]}))),
            "rbac.seed.organizations[0].email_domains"
        );
        assert_eq!(
            path_of(org(json!({"email_domains": ["not a domain"]}))),
            "rbac.seed.organizations[0].email_domains[0]"
        );
        assert_eq!(
            path_of(org(json!({"groups": [{"name": "ops", "members": ["nobody"]}]}))),
            "rbac.seed.organizations[0].groups[0].members[0]"
        );
        assert_eq!(
            path_of(org(json!({"groups": [{"name": "ops", "roles": ["Admin"]}]}))),
            "rbac.seed.organizations[0].groups[0].roles[0]"
        );
        assert_eq!(
            path_of(org(json!({"groups": [{"name": "ops"}, {"name": "ops"}]}))),
            "rbac.seed.organizations[0].groups[1].name"
        );
        assert_eq!(
            path_of(org(json!({"groups": [{"name": "ops", "colour": "red"}]}))),
            "rbac.seed.organizations[0].groups[0].colour"
        );
        assert_eq!(
            path_of(org(json!({"groups": [{"name": "ops"}], "projects": [{"name": "web", "groups": ["ops", "dev"]}]}))),
            "rbac.seed.organizations[0].projects[0].groups[1]"
        );
    }

    #[test]
    fn members_are_ids_or_email_addresses() {
        let id = IdentityId::new();
        assert_eq!(Member::try_from(id.to_string()), Ok(Member::Id(id)));
        assert_eq!(Member::try_from(" Ada@Example.COM".to_owned()), Ok(Member::Email("ada@example.com".into())));
        for bad in ["", "ada", "@example.com", "ada@", "a@b@c"] {
            assert!(Member::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }
}
