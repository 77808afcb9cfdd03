//! Shared fixtures of identity-rbac's integration tests: a store holding one organization and the built-in
//! roles, with helpers to add identities, groups, projects and roles.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;

use identity_core::{
    GroupId, IdentityId, Organization, OrganizationId, Permission, ProjectId, Role, RoleId, RoleScopes, ScopeLevel,
    ScopeName,
};
use identity_rbac::{Acls, BuiltinRoles, CompiledAcl, PlatformAdministrators, Subject};
use identity_store::{MemoryStore, Store, testing};

pub fn memory() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

/// A store with the built-in roles and one organization, `acme`.
pub struct World {
    pub store: Arc<dyn Store>,
    pub roles: BuiltinRoles,
    pub org: OrganizationId,
}

impl World {
    pub async fn new(store: Arc<dyn Store>) -> Self {
        let roles = identity_rbac::seed(store.as_ref()).await.unwrap();
        let org = testing::organization("acme");
        store.create_organization(&org).await.unwrap();
        Self { store, roles, org: org.id }
    }

    /// Another organization in the same store.
    pub async fn organization(&self, name: &str) -> OrganizationId {
        let org: Organization = testing::organization(name);
        self.store.create_organization(&org).await.unwrap();
        org.id
    }

    pub async fn identity(&self, email: &str) -> IdentityId {
        let identity = testing::identity_with_email(email);
        self.store.create_identity(&identity).await.unwrap();
        identity.id
    }

    pub async fn group(&self, name: &str, members: &[IdentityId], roles: &[RoleId]) -> GroupId {
        self.group_in(self.org, name, members, roles).await
    }

    pub async fn group_in(&self, org: OrganizationId, name: &str, members: &[IdentityId], roles: &[RoleId]) -> GroupId {
        let mut group = testing::group(org, name);
        group.members.extend(members.iter().copied());
        group.role_ids.extend(roles.iter().copied());
        self.store.create_group(&group).await.unwrap();
        group.id
    }

    pub async fn project(&self, name: &str, groups: &[GroupId]) -> ProjectId {
        self.project_in(self.org, name, groups).await
    }

    pub async fn project_in(&self, org: OrganizationId, name: &str, groups: &[GroupId]) -> ProjectId {
        let project = testing::project(org, name, groups);
        self.store.create_project(&project).await.unwrap();
        project.id
    }

    /// A stored role granting `grants`.
    pub async fn role(&self, name: &str, grants: &[(ScopeLevel, &str, Permission)]) -> Role {
        let role = role(name, grants);
        self.store.create_role(&role).await.unwrap();
        role
    }

    pub fn acls(&self) -> Acls {
        Acls::new(self.store.clone(), PlatformAdministrators::default())
    }

    pub fn acls_with_administrators(&self, subjects: &[IdentityId]) -> Acls {
        let administrators = PlatformAdministrators {
            subjects: subjects.iter().copied().collect(),
            role_ids: BTreeSet::from([self.roles.platform_administrator]),
        };
        Acls::new(self.store.clone(), administrators)
    }

    /// `subject`'s compiled ACL in acme, without platform administrators.
    pub async fn compiled(&self, subject: IdentityId) -> CompiledAcl {
        self.acls().compiled(&Subject::new(subject), self.org).await.unwrap()
    }
}

/// A role (not stored) granting `grants`.
pub fn role(name: &str, grants: &[(ScopeLevel, &str, Permission)]) -> Role {
    let mut scopes = RoleScopes::default();
    for (level, scope, operations) in grants {
        scopes.at_mut(*level).grant(ScopeName::new(*scope).unwrap(), *operations);
    }
    Role::new(name, scopes).unwrap()
}
