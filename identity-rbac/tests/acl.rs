//! ACLs built from the store: union across groups, project sharing, no membership, readers, platform
//! administrators, recomputation after a change, Unikorn's JSON, visibility. Each scenario runs on the memory
//! store and on SQLite.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use identity_core::{Operation, Permission, ProjectId, ScopeLevel};
use identity_rbac::{Acl, Error, OrganizationSnapshot, PlatformAdministrators, Subject, Visibility, scopes};
use identity_store::Store;
use serde_json::json;
use support::World;

use ScopeLevel::{Organization as Org, Project as Proj};

async fn roles_of_several_groups_add_up(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let ada = w.identity("ada@example.com").await;
    let readers = w
        .role("group-readers", &[(Org, scopes::GROUPS, Permission::READ), (Proj, "compute:clusters", Permission::READ)])
        .await;
    let writers = w
        .role(
            "group-writers",
            &[(Org, scopes::GROUPS, Permission::UPDATE), (Proj, "compute:clusters", Permission::CREATE)],
        )
        .await;
    let g1 = w.group("one", &[ada], &[readers.id]).await;
    let g2 = w.group("two", &[ada], &[writers.id]).await;
    let both = w.project("both", &[g1, g2]).await;
    let only_one = w.project("only-one", &[g1]).await;

    let acl = w.acls().acl(&Subject::new(ada), w.org).await.unwrap();
    let organization = acl.organization.as_ref().unwrap();
    assert_eq!(organization.endpoints.get(scopes::GROUPS), Permission::READ | Permission::UPDATE);
    let project = |id: ProjectId| acl.projects.iter().find(|p| p.id == id).unwrap().endpoints.get("compute:clusters");
    assert_eq!(project(both), Permission::READ | Permission::CREATE);
    assert_eq!(project(only_one), Permission::READ);

    // Same-name scopes merge into one entry.
    let json = serde_json::to_value(&acl).unwrap();
    assert_eq!(
        json["organization"]["endpoints"],
        json!([{"name": "identity:groups", "operations": ["read", "update"]}])
    );

    let compiled = acl.compile();
    assert!(compiled.allows("compute:clusters", Operation::Create, Some(both)));
    assert!(!compiled.allows("compute:clusters", Operation::Create, Some(only_one)));
    assert!(!compiled.allows(scopes::GROUPS, Operation::Delete, None));
}

async fn projects_grant_only_through_the_groups_they_are_shared_with(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let ada = w.identity("ada@example.com").await;
    let bob = w.identity("bob@example.com").await;
    let mine = w.group("mine", &[ada], &[w.roles.user]).await;
    let theirs = w.group("theirs", &[bob], &[w.roles.user]).await;
    let shared = w.project("shared", &[mine]).await;
    let other = w.project("other", &[theirs]).await;

    let acl = w.compiled(ada).await;
    assert!(acl.allows(scopes::PROJECTS, Operation::Read, Some(shared)));
    assert!(!acl.allows(scopes::PROJECTS, Operation::Read, Some(other)));
    assert!(!acl.allows(scopes::PROJECTS, Operation::Update, Some(shared)));
    assert!(acl.allows(scopes::ORGANIZATIONS, Operation::Read, None), "users discover their organization");
    assert_eq!(acl.visibility(scopes::PROJECTS), Visibility::Projects(vec![shared]));
}

async fn a_subject_in_no_group_sees_nothing(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let member = w.identity("member@example.com").await;
    let stranger = w.identity("stranger@example.com").await;
    let group = w.group("staff", &[member], &[w.roles.reader]).await;
    let project = w.project("web", &[group]).await;

    let acls = w.acls();
    let acl = acls.acl(&Subject::new(stranger), w.org).await.unwrap();
    assert!(acl.is_empty());
    assert_eq!(serde_json::to_string(&acl).unwrap(), "{}");
    let compiled = acls.compiled(&Subject::new(stranger), w.org).await.unwrap();
    for scope in scopes::ALL {
        for op in Operation::ALL {
            assert!(!compiled.allows(scope, op, None), "{scope} {op:?}");
            assert!(!compiled.allows(scope, op, Some(project)), "{scope} {op:?}");
        }
    }
    assert!(compiled.visibility(scopes::PROJECTS).is_nothing());
    let snapshot = acls.snapshot(w.org).await.unwrap();
    assert!(!snapshot.is_member(&Subject::new(stranger)));
    assert!(snapshot.is_member(&Subject::new(member)));
}

async fn a_reader_cannot_write(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let ada = w.identity("ada@example.com").await;
    let group = w.group("auditors", &[ada], &[w.roles.reader]).await;
    let project = w.project("web", &[group]).await;

    let acl = w.compiled(ada).await;
    for scope in scopes::ALL {
        assert!(acl.allows(scope, Operation::Read, None), "{scope}");
        assert!(acl.allows(scope, Operation::Read, Some(project)), "{scope}");
        for op in [Operation::Create, Operation::Update, Operation::Delete] {
            assert!(!acl.allows(scope, op, None), "{scope} {op:?}");
            assert!(!acl.allows(scope, op, Some(project)), "{scope} {op:?}");
        }
    }
    assert_eq!(acl.visibility(scopes::PROJECTS), Visibility::Organization(w.org));
}

async fn platform_administrators_come_only_from_configuration(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let root = w.identity("root@example.com").await;
    let climber = w.identity("climber@example.com").await;
    // Someone put the platform-administrator role on a group through the API: it grants nothing globally.
    w.group("sneaky", &[climber], &[w.roles.platform_administrator]).await;
    let elsewhere = w.organization("globex").await;
    let foreign = w.project_in(elsewhere, "foreign", &[]).await;

    let acls = w.acls_with_administrators(&[root]);
    let climber_acl = acls.compiled(&Subject::new(climber), w.org).await.unwrap();
    assert!(!climber_acl.allows(scopes::ORGANIZATIONS, Operation::Delete, None));
    assert!(acls.acl(&Subject::new(climber), w.org).await.unwrap().is_empty());
    assert!(acls.global_acl(&Subject::new(climber)).await.unwrap().is_empty());

    // The configured subject holds everything, everywhere, though it is in no group.
    let root_acl = acls.compiled(&Subject::new(root), w.org).await.unwrap();
    for scope in scopes::ALL {
        for op in Operation::ALL {
            assert!(root_acl.allows(scope, op, None), "{scope} {op:?}");
            assert!(root_acl.allows(scope, op, Some(foreign)), "{scope} {op:?}");
        }
    }
    assert_eq!(root_acl.visibility(scopes::PROJECTS), Visibility::Everything);
    let global = acls.global_acl(&Subject::new(root)).await.unwrap();
    assert_eq!(global.global.get(scopes::ROLES), Permission::ALL);
    assert!(global.organization.is_none() && global.projects.is_empty());

    // Listed subjects alone suffice: they hold the built-in role's global scopes.
    let subjects_only = PlatformAdministrators { subjects: BTreeSet::from([root]), role_ids: BTreeSet::new() };
    let acls = identity_rbac::Acls::new(w.store.clone(), subjects_only);
    assert_eq!(acls.global_acl(&Subject::new(root)).await.unwrap().global.get(scopes::ROLES), Permission::ALL);
    assert!(acls.global_acl(&Subject::new(climber)).await.unwrap().is_empty());

    // Being listed is what counts; a configured role held through a group grants nothing globally.
    assert!(!acls.compiled(&Subject::new(climber), w.org).await.unwrap().allows(
        scopes::ORGANIZATIONS,
        Operation::Delete,
        None
    ));
}

async fn removing_a_group_from_a_project_removes_access_on_recompute(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let ada = w.identity("ada@example.com").await;
    let group = w.group("staff", &[ada], &[w.roles.user]).await;
    let project_id = w.project("web", &[group]).await;
    let before = w.compiled(ada).await;
    assert!(before.allows(scopes::PROJECTS, Operation::Read, Some(project_id)));

    let mut project = w.store.project(project_id).await.unwrap();
    project.group_ids.clear();
    w.store.update_project(&project).await.unwrap();

    let after = w.compiled(ada).await;
    assert!(!after.allows(scopes::PROJECTS, Operation::Read, Some(project_id)));
    assert!(after.visibility(scopes::PROJECTS).is_nothing());
    // A compiled ACL is a snapshot: the old one still answers as it did until it is rebuilt.
    assert!(before.allows(scopes::PROJECTS, Operation::Read, Some(project_id)));

    // Removing the member from the group takes the organization away too.
    let mut staff = w.store.group(group).await.unwrap();
    staff.members.clear();
    w.store.update_group(&staff).await.unwrap();
    assert!(!w.compiled(ada).await.allows(scopes::ORGANIZATIONS, Operation::Read, None));
}

async fn the_acl_serialises_as_unikorns_json(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let ada = w.identity("ada@example.com").await;
    let role = w
        .role(
            "ops",
            &[
                (Org, scopes::GROUPS, Permission::READ),
                (Org, scopes::ORGANIZATIONS, Permission::READ),
                (Proj, "compute:clusters", Permission::ALL),
            ],
        )
        .await;
    let group = w.group("ops", &[ada], &[role.id]).await;
    let project = w.project("web", &[group]).await;
    w.project("unshared", &[]).await;

    let acls = w.acls_with_administrators(&[ada]);
    let acl = acls.acl(&Subject::new(ada), w.org).await.unwrap();
    let crud = json!(["create", "read", "update", "delete"]);
    let everything: Vec<_> = scopes::ALL
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|name| json!({"name": name, "operations": crud}))
        .collect();
    let expected = json!({
        "global": everything,
        "organization": {"id": w.org.to_string(), "endpoints": [
            {"name": "identity:groups", "operations": ["read"]},
            {"name": "identity:organizations", "operations": ["read"]},
        ]},
        "projects": [{"id": project.to_string(), "endpoints": [
            {"name": "compute:clusters", "operations": crud},
        ]}],
    });
    assert_eq!(serde_json::to_value(&acl).unwrap(), expected);

    // Unikorn's JSON reads back into the same ACL, which answers the same questions.
    let decoded: Acl = serde_json::from_value(expected).unwrap();
    assert_eq!(decoded, acl);
    assert!(decoded.compile().allows("compute:clusters", Operation::Delete, Some(project)));

    // Without global or project scopes, those keys are left out.
    let plain = w.acls().acl(&Subject::new(ada), w.org).await.unwrap();
    let plain = serde_json::to_value(&plain).unwrap();
    assert_eq!(plain.as_object().unwrap().keys().collect::<Vec<_>>(), ["organization", "projects"]);
}

async fn organization_wide_grants_reach_every_project_of_the_organization_and_no_other(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let ada = w.identity("ada@example.com").await;
    w.group("admins", &[ada], &[w.roles.administrator]).await;
    let unshared = w.project("unshared", &[]).await;
    let elsewhere = w.organization("globex").await;
    let foreign = w.project_in(elsewhere, "foreign", &[]).await;

    let acl = w.compiled(ada).await;
    assert!(acl.allows(scopes::PROJECTS, Operation::Delete, Some(unshared)));
    assert!(!acl.allows(scopes::PROJECTS, Operation::Read, Some(foreign)), "another organization's project");
    assert!(!acl.allows(scopes::PROJECTS, Operation::Read, Some(ProjectId::new())));
    assert_eq!(acl.organization(), Some(w.org));
}

async fn upstream_groups_make_members(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let ada = w.identity("ada@example.com").await;
    let mut engineers = identity_store::testing::group(w.org, "engineers");
    engineers.upstream_groups.insert("eng@idp".into());
    engineers.role_ids.insert(w.roles.reader);
    w.store.create_group(&engineers).await.unwrap();

    let acls = w.acls();
    assert!(acls.acl(&Subject::new(ada), w.org).await.unwrap().is_empty());
    let federated = Subject { id: ada, upstream_groups: BTreeSet::from(["eng@idp".to_owned()]) };
    let acl = acls.compiled(&federated, w.org).await.unwrap();
    assert!(acl.allows(scopes::GROUPS, Operation::Read, None));
    let snapshot = acls.snapshot(w.org).await.unwrap();
    assert_eq!(snapshot.role_names(&federated), [identity_store::testing::label("reader")]);
}

async fn an_unknown_organization_is_not_found(store: Arc<dyn Store>) {
    let w = World::new(store).await;
    let ada = w.identity("ada@example.com").await;
    let err = w.acls().acl(&Subject::new(ada), identity_core::OrganizationId::new()).await.unwrap_err();
    assert!(matches!(err, Error::Store(identity_store::Error::NotFound { what: "organization", .. })), "{err:?}");
}

async fn seeding_twice_keeps_the_roles_and_their_changes(store: Arc<dyn Store>) {
    let first = identity_rbac::seed(store.as_ref()).await.unwrap();
    let mut platform = store.role(first.platform_administrator).await.unwrap();
    platform.scopes.global.grant("compute:clusters".parse().unwrap(), Permission::ALL);
    store.update_role(&platform).await.unwrap();

    let second = identity_rbac::seed(store.as_ref()).await.unwrap();
    assert_eq!(first, second);
    let names: Vec<String> = store.list_roles().await.unwrap().iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, ["administrator", "platform-administrator", "reader", "user"]);
    let kept = store.role(second.platform_administrator).await.unwrap();
    assert_eq!(kept.scopes.global.get("compute:clusters"), Permission::ALL);
}

identity_store::on_every_store!(
    roles_of_several_groups_add_up,
    projects_grant_only_through_the_groups_they_are_shared_with,
    a_subject_in_no_group_sees_nothing,
    a_reader_cannot_write,
    platform_administrators_come_only_from_configuration,
    removing_a_group_from_a_project_removes_access_on_recompute,
    the_acl_serialises_as_unikorns_json,
    organization_wide_grants_reach_every_project_of_the_organization_and_no_other,
    upstream_groups_make_members,
    an_unknown_organization_is_not_found,
    seeding_twice_keeps_the_roles_and_their_changes,
);

#[test]
fn a_snapshot_builds_acls_without_the_store() {
    let org = identity_core::OrganizationId::new();
    let ada = identity_core::IdentityId::new();
    let role = support::role("viewer", &[(Proj, "compute:clusters", Permission::READ)]);
    let mut group = identity_store::testing::group(org, "viewers");
    group.members.insert(ada);
    group.role_ids.insert(role.id);
    let project = identity_store::testing::project(org, "web", &[group.id]);
    let foreign_group = identity_store::testing::group(identity_core::OrganizationId::new(), "foreign");
    let snapshot = OrganizationSnapshot::new(org, vec![group, foreign_group], vec![project.clone()], vec![role]);

    let acl = snapshot.compile(&Subject::new(ada), &PlatformAdministrators::default());
    assert!(acl.allows("compute:clusters", Operation::Read, Some(project.id)));
    assert!(!acl.allows("compute:clusters", Operation::Read, None));
    assert_eq!(snapshot.organization(), org);
}
