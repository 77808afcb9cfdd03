//! A compiled ACL answers `allows` without allocating: every allocation of this test binary is counted (it holds
//! this one test, so nothing else allocates meanwhile) and none may happen while questions are asked.

mod support;

use identity_core::{Operation, Permission, ScopeLevel};
use identity_rbac::{OrganizationSnapshot, PlatformAdministrators, Subject};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

#[test]
fn allows_does_not_allocate() {
    let org = identity_core::OrganizationId::new();
    let ada = identity_core::IdentityId::new();
    let role = support::role(
        "engineer",
        &[
            (ScopeLevel::Project, "compute:clusters", Permission::ALL),
            (ScopeLevel::Organization, "identity:groups", Permission::READ),
        ],
    );
    let mut group = identity_store::testing::group(org, "engineers");
    group.members.insert(ada);
    group.role_ids.insert(role.id);
    let project = identity_store::testing::project(org, "web", &[group.id]);
    let other = identity_core::ProjectId::new();
    let snapshot = OrganizationSnapshot::new(org, vec![group], vec![project.clone()], vec![role]);
    let acl = snapshot.compile(&Subject::new(ada), &PlatformAdministrators::default());
    let questions = [
        ("compute:clusters", Operation::Delete, Some(project.id)),
        ("compute:clusters", Operation::Read, Some(other)),
        ("compute:clusters", Operation::Read, None),
        ("identity:groups", Operation::Read, None),
        ("identity:groups", Operation::Update, None),
        ("no:such-scope", Operation::Read, Some(project.id)),
    ];

    let region = Region::new(GLOBAL);
    let mut granted = 0;
    for _ in 0..1_000 {
        for (scope, operation, project) in questions {
            granted += usize::from(acl.allows(scope, operation, project));
        }
    }
    let stats = region.change();
    assert_eq!(granted, 2_000, "the answers changed");
    assert_eq!((stats.allocations, stats.reallocations), (0, 0), "allows allocated: {stats:?}");
}
