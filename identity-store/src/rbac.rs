//! The objects of access control: organizations, groups, roles and projects.

use async_trait::async_trait;
use identity_core::{
    DnsLabel, EmailDomain, Group, GroupId, IdentityId, Organization, OrganizationId, Project, ProjectId, Role, RoleId,
};

use crate::error::Error;

/// Where the RBAC objects live.
///
/// Invariants every implementation keeps: organization and role names are unique, and so is an email domain
/// across organizations; group and project names are unique within their organization ([`Error::Conflict`]).
/// A group's members and roles, and a project's groups, must exist ([`Error::NotFound`]); deleting an identity,
/// role or group removes it from every group or project that lists it; deleting an organization deletes its
/// groups and projects.
#[async_trait]
pub trait RbacStore: Send + Sync {
    /// Stores a new organization.
    async fn create_organization(&self, organization: &Organization) -> Result<(), Error>;
    /// The organization with `id`.
    async fn organization(&self, id: OrganizationId) -> Result<Organization, Error>;
    /// The organization named `name`.
    async fn find_organization_by_name(&self, name: &DnsLabel) -> Result<Option<Organization>, Error>;
    /// The organization that claims the email domain `domain`.
    async fn find_organization_by_email_domain(&self, domain: &EmailDomain) -> Result<Option<Organization>, Error>;
    /// Every organization, ordered by name.
    async fn list_organizations(&self) -> Result<Vec<Organization>, Error>;
    /// Replaces a stored organization.
    async fn update_organization(&self, organization: &Organization) -> Result<(), Error>;
    /// Deletes an organization with its groups and projects.
    async fn delete_organization(&self, id: OrganizationId) -> Result<(), Error>;

    /// Stores a new group.
    async fn create_group(&self, group: &Group) -> Result<(), Error>;
    /// The group with `id`.
    async fn group(&self, id: GroupId) -> Result<Group, Error>;
    /// The groups of `organization`, ordered by name.
    async fn groups_of_organization(&self, organization: OrganizationId) -> Result<Vec<Group>, Error>;
    /// The groups `identity` is an explicit member of, ordered by id.
    async fn groups_of_member(&self, identity: IdentityId) -> Result<Vec<Group>, Error>;
    /// Replaces a stored group (its organization cannot change).
    async fn update_group(&self, group: &Group) -> Result<(), Error>;
    /// Deletes a group, removing it from the projects shared with it.
    async fn delete_group(&self, id: GroupId) -> Result<(), Error>;

    /// Stores a new role.
    async fn create_role(&self, role: &Role) -> Result<(), Error>;
    /// The role with `id`.
    async fn role(&self, id: RoleId) -> Result<Role, Error>;
    /// The role named `name`.
    async fn find_role_by_name(&self, name: &DnsLabel) -> Result<Option<Role>, Error>;
    /// Every role, ordered by name.
    async fn list_roles(&self) -> Result<Vec<Role>, Error>;
    /// Replaces a stored role.
    async fn update_role(&self, role: &Role) -> Result<(), Error>;
    /// Deletes a role, removing it from every group.
    async fn delete_role(&self, id: RoleId) -> Result<(), Error>;

    /// Stores a new project.
    async fn create_project(&self, project: &Project) -> Result<(), Error>;
    /// The project with `id`.
    async fn project(&self, id: ProjectId) -> Result<Project, Error>;
    /// The projects of `organization`, ordered by name.
    async fn projects_of_organization(&self, organization: OrganizationId) -> Result<Vec<Project>, Error>;
    /// Replaces a stored project (its organization cannot change).
    async fn update_project(&self, project: &Project) -> Result<(), Error>;
    /// Deletes a project.
    async fn delete_project(&self, id: ProjectId) -> Result<(), Error>;
}
