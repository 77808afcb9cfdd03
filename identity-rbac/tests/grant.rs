//! Privilege escalation is refused: a role may be granted only by someone who holds everything it grants.

mod support;

use identity_core::{Operation, Permission, ScopeLevel};
use identity_rbac::{BuiltinRole, Error, Subject, can_grant, check_grant, scopes};
use support::{World, role};

async fn builtin(w: &World, which: BuiltinRole) -> identity_core::Role {
    w.store.role(w.roles.id(which)).await.unwrap()
}

#[tokio::test]
async fn an_administrator_grants_organization_roles_but_not_platform_administrator() {
    let w = World::new(support::memory()).await;
    let ada = w.identity("ada@example.com").await;
    w.group("admins", &[ada], &[w.roles.administrator]).await;
    let acl = w.compiled(ada).await;

    for granted in [BuiltinRole::Administrator, BuiltinRole::User, BuiltinRole::Reader] {
        assert!(can_grant(&acl, &builtin(&w, granted).await), "{granted:?}");
    }
    let platform = builtin(&w, BuiltinRole::PlatformAdministrator).await;
    assert!(!can_grant(&acl, &platform));
    let err = check_grant(&acl, &platform).unwrap_err();
    assert!(
        matches!(&err, Error::PrivilegeEscalation { role, level: ScopeLevel::Global, missing, .. }
            if role.as_str() == "platform-administrator" && *missing == Permission::ALL),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_user_cannot_grant_more_than_it_holds() {
    let w = World::new(support::memory()).await;
    let ada = w.identity("ada@example.com").await;
    w.group("staff", &[ada], &[w.roles.user]).await;
    let acl = w.compiled(ada).await;

    let reader = builtin(&w, BuiltinRole::Reader).await;
    assert!(!can_grant(&acl, &reader));
    let administrator = builtin(&w, BuiltinRole::Administrator).await;
    let err = check_grant(&acl, &administrator).unwrap_err();
    assert!(
        matches!(&err, Error::PrivilegeEscalation { level: ScopeLevel::Organization, scope, missing, .. }
            if scope.as_str() == scopes::GROUPS && *missing == Permission::ALL),
        "{err:?}"
    );
    // The error names only the operations lacking.
    let rename =
        role("rename", &[(ScopeLevel::Organization, scopes::ORGANIZATIONS, Permission::READ | Permission::UPDATE)]);
    let err = check_grant(&acl, &rename).unwrap_err();
    assert!(
        matches!(&err, Error::PrivilegeEscalation { scope, missing, .. }
            if scope.as_str() == scopes::ORGANIZATIONS && *missing == Permission::UPDATE),
        "{err:?}"
    );
    // A role within what it holds is fine.
    let discover = role("discover", &[(ScopeLevel::Organization, scopes::ORGANIZATIONS, Permission::READ)]);
    assert!(can_grant(&acl, &discover));
}

#[tokio::test]
async fn project_scopes_must_be_held_across_the_organization() {
    let w = World::new(support::memory()).await;
    let ada = w.identity("ada@example.com").await;
    let owner = w.role("cluster-owner", &[(ScopeLevel::Project, "compute:clusters", Permission::ALL)]).await;
    let group = w.group("team", &[ada], &[owner.id]).await;
    let project = w.project("web", &[group]).await;
    let acl = w.compiled(ada).await;
    assert!(acl.allows("compute:clusters", Operation::Delete, Some(project)));

    // Holding it in one project does not allow handing it to a group that may be shared with any project.
    let same = role("cluster-owner-2", &[(ScopeLevel::Project, "compute:clusters", Permission::ALL)]);
    assert!(!can_grant(&acl, &same));

    let org_wide = w.role("cluster-admin", &[(ScopeLevel::Organization, "compute:clusters", Permission::ALL)]).await;
    let other = w.identity("other@example.com").await;
    w.group("cluster-admins", &[other], &[org_wide.id]).await;
    assert!(can_grant(&w.compiled(other).await, &same));
}

#[tokio::test]
async fn a_platform_administrator_grants_every_builtin_role() {
    let w = World::new(support::memory()).await;
    let root = w.identity("root@example.com").await;
    let acl = w.acls_with_administrators(&[root]).compiled(&Subject::new(root), w.org).await.unwrap();
    for granted in BuiltinRole::ALL {
        assert!(can_grant(&acl, &builtin(&w, granted).await), "{granted:?}");
    }
    // But not a scope outside the platform-administrator role.
    let foreign = role("foreign", &[(ScopeLevel::Global, "compute:clusters", Permission::READ)]);
    assert!(!can_grant(&acl, &foreign));
}
