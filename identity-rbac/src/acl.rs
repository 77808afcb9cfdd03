//! Access control lists: what one subject may do in one organization, built from the store's groups, roles and
//! projects, in Unikorn's JSON shape.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use identity_core::{DnsLabel, Group, GroupId, IdentityId, OrganizationId, Project, ProjectId, Role, RoleId, ScopeSet};
use identity_store::RbacStore;
use serde::{Deserialize, Serialize};

use crate::compiled::CompiledAcl;
use crate::error::Error;

/// Who an ACL is for: an identity (a user or a service identity), and the groups its upstream identity provider
/// says it belongs to (matched against [`Group::upstream_groups`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subject {
    /// The identity.
    pub id: IdentityId,
    /// Group names at the upstream provider it signed in with; empty for local identities.
    pub upstream_groups: BTreeSet<String>,
}

impl Subject {
    /// A subject with no upstream groups.
    pub fn new(id: IdentityId) -> Self {
        Self { id, upstream_groups: BTreeSet::new() }
    }

    /// Whether the subject belongs to `group`, explicitly or through an upstream group.
    pub fn is_member_of(&self, group: &Group) -> bool {
        group.members.contains(&self.id) || group.upstream_groups.iter().any(|g| self.upstream_groups.contains(g))
    }
}

/// Who the platform administrators are. It comes from the deployment's configuration only: no API call can
/// make anyone a platform administrator.
///
/// A subject listed in `subjects` receives the global scopes of every role in `role_ids` (usually just the seeded
/// `platform-administrator`). Global scopes reach nobody else: a role's global scopes are ignored when the role is
/// held through a group, so granting a role through the API never grants anything platform-wide.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformAdministrators {
    /// Subjects that administer the platform: they hold the built-in `platform-administrator` role's global
    /// scopes, plus those of `role_ids`.
    #[serde(default)]
    pub subjects: BTreeSet<IdentityId>,
    /// Further roles whose global scopes the `subjects` hold (custom platform-wide roles). Global scopes of roles
    /// held through groups grant nothing, however they were assigned.
    #[serde(default)]
    pub role_ids: BTreeSet<RoleId>,
}

impl PlatformAdministrators {
    /// Whether `subject` is a platform administrator.
    pub fn contains(&self, subject: IdentityId) -> bool {
        self.subjects.contains(&subject)
    }
}

/// A subject's rights in one organization, serialised exactly as Unikorn's ACL:
/// `{"global": [{name, operations}], "organization": {"id", "endpoints": [...]}, "projects": [{"id",
/// "endpoints": [...]}]}`, with empty keys left out. Scopes are sorted by name, projects by id; operations are
/// listed in CRUD order. Ask questions of it through [`Acl::compile`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Acl {
    /// Scopes that hold everywhere (platform administrators only).
    #[serde(default, skip_serializing_if = "ScopeSet::is_empty")]
    pub global: ScopeSet,
    /// Scopes that hold across the organization; absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationAcl>,
    /// Scopes per project, for the projects shared with the subject's groups that grant something there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<ProjectAcl>,
}

/// The organization part of an [`Acl`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationAcl {
    /// The organization.
    pub id: OrganizationId,
    /// What the subject may do across it.
    #[serde(default, skip_serializing_if = "ScopeSet::is_empty")]
    pub endpoints: ScopeSet,
}

/// One project of an [`Acl`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectAcl {
    /// The project.
    pub id: ProjectId,
    /// What the subject may do in it.
    #[serde(default, skip_serializing_if = "ScopeSet::is_empty")]
    pub endpoints: ScopeSet,
}

impl Acl {
    /// Whether the ACL grants nothing at all.
    pub fn is_empty(&self) -> bool {
        self.global.is_empty() && self.organization.is_none() && self.projects.is_empty()
    }

    /// The ACL compiled for checks. The projects it knows are the ones listed; a project it does not know gets
    /// only the global scopes (see [`CompiledAcl::allows`]). [`OrganizationSnapshot::compile`] knows every
    /// project of the organization instead.
    pub fn compile(&self) -> CompiledAcl {
        let organization = self.organization.as_ref().map(|o| o.id);
        CompiledAcl::new(self, organization, self.projects.iter().map(|p| p.id))
    }
}

/// Everything needed to build the ACLs of one organization, read from the store once: the organization's groups
/// and projects, and every role. Building an ACL from it is pure computation, so a server can keep a snapshot
/// and rebuild many subjects' ACLs without waiting on the store; it must load a fresh one after a change
/// (a group removed from a project, a member removed from a group) for the change to show.
#[derive(Debug, Clone)]
pub struct OrganizationSnapshot {
    organization: OrganizationId,
    groups: Vec<Group>,
    projects: Vec<Project>,
    roles: HashMap<RoleId, Role>,
}

impl OrganizationSnapshot {
    /// A snapshot of data already loaded. Groups and projects of other organizations are ignored.
    pub fn new(
        organization: OrganizationId,
        groups: Vec<Group>,
        mut projects: Vec<Project>,
        roles: impl IntoIterator<Item = Role>,
    ) -> Self {
        let groups = groups.into_iter().filter(|g| g.organization_id == organization).collect();
        projects.retain(|p| p.organization_id == organization);
        projects.sort_by_key(|p| p.id);
        Self { organization, groups, projects, roles: roles.into_iter().map(|r| (r.id, r)).collect() }
    }

    /// Reads the organization's groups and projects and every role. Fails with
    /// [`identity_store::Error::NotFound`] if the organization does not exist.
    pub async fn load(store: &dyn RbacStore, organization: OrganizationId) -> Result<Self, Error> {
        store.organization(organization).await?;
        let groups = store.groups_of_organization(organization).await?;
        let projects = store.projects_of_organization(organization).await?;
        let roles = store.list_roles().await?;
        Ok(Self::new(organization, groups, projects, roles))
    }

    /// The organization.
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }

    /// The groups of the organization `subject` belongs to, explicitly or through an upstream group.
    pub fn groups_of<'a>(&'a self, subject: &'a Subject) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups.iter().filter(|group| subject.is_member_of(group))
    }

    /// Whether `subject` belongs to any group of the organization. A subject that does not cannot see it.
    pub fn is_member(&self, subject: &Subject) -> bool {
        self.groups_of(subject).next().is_some()
    }

    /// The names of the roles `subject` holds in the organization through its groups, sorted, without repeats.
    pub fn role_names(&self, subject: &Subject) -> Vec<DnsLabel> {
        let names: BTreeSet<&DnsLabel> = self
            .groups_of(subject)
            .flat_map(|group| group.role_ids.iter())
            .filter_map(|id| self.roles.get(id).map(|role| &role.name))
            .collect();
        names.into_iter().cloned().collect()
    }

    /// `subject`'s ACL in the organization:
    /// - global scopes, if the configuration makes it a platform administrator;
    /// - organization scopes: the union of the organization-level scopes of the roles of its groups;
    /// - for each project shared with one of its groups, the union of the project-level scopes of the roles of
    ///   those of its groups the project is shared with (projects where that union is empty are left out).
    ///
    /// Same-name scopes merge by union. A role a group names but the snapshot lacks (deleted meanwhile) grants
    /// nothing.
    pub fn acl(&self, subject: &Subject, administrators: &PlatformAdministrators) -> Acl {
        let mut acl = Acl { global: self.global_scopes(subject, administrators), ..Acl::default() };

        let mut organization = ScopeSet::new();
        let mut per_group: HashMap<GroupId, ScopeSet> = HashMap::new();
        for group in self.groups_of(subject) {
            let mut project = ScopeSet::new();
            for role in group.role_ids.iter().filter_map(|id| self.roles.get(id)) {
                organization.merge(&role.scopes.organization);
                project.merge(&role.scopes.project);
            }
            per_group.insert(group.id, project);
        }
        if !organization.is_empty() {
            acl.organization = Some(OrganizationAcl { id: self.organization, endpoints: organization });
        }
        if per_group.values().all(ScopeSet::is_empty) {
            return acl;
        }
        for project in &self.projects {
            let mut endpoints = ScopeSet::new();
            for scopes in project.group_ids.iter().filter_map(|id| per_group.get(id)) {
                endpoints.merge(scopes);
            }
            if !endpoints.is_empty() {
                acl.projects.push(ProjectAcl { id: project.id, endpoints });
            }
        }
        acl
    }

    /// `subject`'s ACL compiled for checks. Unlike [`Acl::compile`], it knows every project of the organization,
    /// so organization-wide scopes apply to projects not shared with the subject, and a project of another
    /// organization gets only global scopes.
    pub fn compile(&self, subject: &Subject, administrators: &PlatformAdministrators) -> CompiledAcl {
        let acl = self.acl(subject, administrators);
        CompiledAcl::new(&acl, Some(self.organization), self.projects.iter().map(|p| p.id))
    }

    fn global_scopes(&self, subject: &Subject, administrators: &PlatformAdministrators) -> ScopeSet {
        global_scopes(subject, administrators, |id| self.roles.get(&id))
    }
}

fn global_scopes<'a>(
    subject: &Subject,
    administrators: &PlatformAdministrators,
    role: impl Fn(RoleId) -> Option<&'a Role>,
) -> ScopeSet {
    let mut global = ScopeSet::new();
    // Only configured subjects hold global scopes; roles' global scopes never count through groups, so no API
    // call can make anyone a platform administrator.
    if !administrators.contains(subject.id) {
        return global;
    }
    if let Ok(builtin) = crate::seed::BuiltinRole::PlatformAdministrator.scopes() {
        global.merge(&builtin.global);
    }
    for found in administrators.role_ids.iter().filter_map(|id| role(*id)) {
        global.merge(&found.scopes.global);
    }
    global
}

/// Builds ACLs from a store, with the deployment's platform administrators.
#[derive(Clone)]
pub struct Acls {
    store: Arc<dyn RbacStore>,
    administrators: PlatformAdministrators,
}

impl std::fmt::Debug for Acls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acls").field("administrators", &self.administrators).finish_non_exhaustive()
    }
}

impl Acls {
    /// ACLs over `store`; `administrators` comes from configuration.
    pub fn new(store: Arc<dyn RbacStore>, administrators: PlatformAdministrators) -> Self {
        Self { store, administrators }
    }

    /// The platform administrators.
    pub fn administrators(&self) -> &PlatformAdministrators {
        &self.administrators
    }

    /// Reads a snapshot of `organization` (see [`OrganizationSnapshot::load`]).
    pub async fn snapshot(&self, organization: OrganizationId) -> Result<OrganizationSnapshot, Error> {
        OrganizationSnapshot::load(self.store.as_ref(), organization).await
    }

    /// `subject`'s ACL in `organization`, from the store's current data (see [`OrganizationSnapshot::acl`]).
    pub async fn acl(&self, subject: &Subject, organization: OrganizationId) -> Result<Acl, Error> {
        Ok(self.snapshot(organization).await?.acl(subject, &self.administrators))
    }

    /// `subject`'s ACL in `organization`, compiled (see [`OrganizationSnapshot::compile`]).
    pub async fn compiled(&self, subject: &Subject, organization: OrganizationId) -> Result<CompiledAcl, Error> {
        Ok(self.snapshot(organization).await?.compile(subject, &self.administrators))
    }

    /// `subject`'s ACL outside any organization (Unikorn's `GET /api/v1/acl`): its global scopes, if it is a
    /// platform administrator, and nothing otherwise.
    pub async fn global_acl(&self, subject: &Subject) -> Result<Acl, Error> {
        if !self.administrators.contains(subject.id) {
            return Ok(Acl::default());
        }
        let mut roles = Vec::with_capacity(self.administrators.role_ids.len());
        for id in &self.administrators.role_ids {
            match self.store.role(*id).await {
                Ok(role) => roles.push(role),
                Err(identity_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let global = global_scopes(subject, &self.administrators, |id| roles.iter().find(|r| r.id == id));
        Ok(Acl { global, ..Acl::default() })
    }
}
