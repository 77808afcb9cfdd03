//! identity-rbac's checks beside their baselines, measured in the same run, over one policy: a subject in 50 groups
//! of an organization with 1,000 projects, each project shared with one group, each group carrying one of five
//! project-level roles (group 0 also carries the built-in `user` role).
//!
//! - `acl_allows`: `CompiledAcl::allows` on a cycle of 64 questions (allowed and denied), beside a bare std
//!   `HashMap<(ProjectId, String), Permission>` lookup of the same questions (the naive table, SipHash), and
//!   casbin-rs enforcing the same questions with the same policy as RBAC with domains (one domain per project).
//! - `acl_build`: building and compiling the subject's ACL from a snapshot of the store's data (pure
//!   computation), the same from the memory store (four reads, then the build), beside casbin-rs loading the same
//!   policy into a fresh enforcer.

use std::collections::{BTreeSet, HashMap};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use identity_core::{
    Group, GroupId, IdentityId, Operation, Organization, Permission, Project, ProjectId, Role, RoleScopes, ScopeLevel,
    ScopeName,
};
use identity_rbac::{Acls, OrganizationSnapshot, PlatformAdministrators, Subject, scopes};
use identity_store::{MemoryStore, RbacStore, Store};
use tokio::runtime::Runtime;

const GROUPS: usize = 50;
const PROJECTS: usize = 1_000;

const CASBIN_MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && keyMatch(r.dom, p.dom) && r.obj == p.obj && r.act == p.act
"#;

/// The five project-level roles: (name, [(scope, operations)]).
fn project_roles() -> Vec<Role> {
    let grants: [(&str, &[(&str, Permission)]); 5] = [
        ("viewer", &[("compute:clusters", Permission::READ), ("compute:servers", Permission::READ)]),
        (
            "operator",
            &[("compute:clusters", Permission::READ | Permission::UPDATE), ("compute:servers", Permission::ALL)],
        ),
        ("storage", &[("storage:volumes", Permission::ALL), ("compute:servers", Permission::READ)]),
        ("network", &[("network:networks", Permission::ALL), ("network:ports", Permission::READ)]),
        ("owner", &[("compute:clusters", Permission::ALL), ("storage:volumes", Permission::READ)]),
    ];
    grants
        .iter()
        .map(|(name, scopes)| {
            let mut role_scopes = RoleScopes::default();
            for (scope, operations) in *scopes {
                role_scopes.at_mut(ScopeLevel::Project).grant(ScopeName::new(*scope).unwrap(), *operations);
            }
            Role::new(name, role_scopes).unwrap()
        })
        .collect()
}

struct Policy {
    subject: IdentityId,
    organization: Organization,
    roles: Vec<Role>,
    user_role: Role,
    groups: Vec<Group>,
    projects: Vec<Project>,
}

fn policy() -> Policy {
    let subject = IdentityId::new();
    let organization = Organization::new("acme", "ACME").unwrap();
    let roles = project_roles();
    let user_role = identity_rbac::BuiltinRole::User.role().unwrap();
    let groups: Vec<Group> = (0..GROUPS)
        .map(|i| {
            let mut group = Group::new(organization.id, &format!("group-{i}")).unwrap();
            group.members.insert(subject);
            group.role_ids.insert(roles[i % roles.len()].id);
            if i == 0 {
                group.role_ids.insert(user_role.id);
            }
            group
        })
        .collect();
    let projects = (0..PROJECTS)
        .map(|k| {
            Project::new(organization.id, &format!("project-{k}"), BTreeSet::from([groups[k % GROUPS].id])).unwrap()
        })
        .collect();
    Policy { subject, organization, roles, user_role, groups, projects }
}

impl Policy {
    fn all_roles(&self) -> Vec<Role> {
        self.roles.iter().cloned().chain([self.user_role.clone()]).collect()
    }

    fn snapshot(&self) -> OrganizationSnapshot {
        OrganizationSnapshot::new(self.organization.id, self.groups.clone(), self.projects.clone(), self.all_roles())
    }

    async fn store(&self) -> Arc<dyn Store> {
        let store = Arc::new(MemoryStore::new());
        let identity = identity_core::Identity::new(
            "default",
            serde_json::json!({}),
            identity_core::time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        let identity = identity_core::Identity { id: self.subject, ..identity };
        identity_store::IdentityStore::create_identity(store.as_ref(), &identity).await.unwrap();
        store.create_organization(&self.organization).await.unwrap();
        for role in self.all_roles() {
            store.create_role(&role).await.unwrap();
        }
        for group in &self.groups {
            store.create_group(group).await.unwrap();
        }
        for project in &self.projects {
            store.create_project(project).await.unwrap();
        }
        store
    }

    fn role_of(&self, group: GroupId) -> Vec<&Role> {
        let group = self.groups.iter().find(|g| g.id == group).unwrap();
        self.all_roles_ref().into_iter().filter(|r| group.role_ids.contains(&r.id)).collect()
    }

    fn all_roles_ref(&self) -> Vec<&Role> {
        self.roles.iter().chain([&self.user_role]).collect()
    }

    /// The same policy for casbin: `p, role, *, scope, op` for each project-level grant of each role,
    /// `p, user, <org>, scope, op` for the organization-level grants, and `g, subject, role, <project>` for each
    /// role the subject holds in each project (plus `g, subject, user, <org>`).
    fn casbin_rules(&self) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let mut policies = Vec::new();
        for role in self.all_roles_ref() {
            for (scope, operations) in role.scopes.project.iter() {
                for op in operations.operations() {
                    policies.push(vec![role.name.to_string(), "*".into(), scope.to_string(), op.as_str().into()]);
                }
            }
            for (scope, operations) in role.scopes.organization.iter() {
                for op in operations.operations() {
                    let org = self.organization.id.to_string();
                    policies.push(vec![role.name.to_string(), org, scope.to_string(), op.as_str().into()]);
                }
            }
        }
        let subject = self.subject.to_string();
        let mut groupings =
            vec![vec![subject.clone(), self.user_role.name.to_string(), self.organization.id.to_string()]];
        for project in &self.projects {
            for group in &project.group_ids {
                for role in self.role_of(*group) {
                    groupings.push(vec![subject.clone(), role.name.to_string(), project.id.to_string()]);
                }
            }
        }
        (policies, groupings)
    }

    async fn casbin(&self) -> Enforcer {
        let model = DefaultModel::from_str(CASBIN_MODEL).await.unwrap();
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default()).await.unwrap();
        let (policies, groupings) = self.casbin_rules();
        enforcer.add_policies(policies).await.unwrap();
        enforcer.add_grouping_policies(groupings).await.unwrap();
        enforcer
    }

    /// 64 questions: (scope, operation, project or None for the organization), about half of them allowed.
    fn questions(&self) -> Vec<(String, Operation, Option<ProjectId>)> {
        let scopes_asked =
            ["compute:clusters", "compute:servers", "storage:volumes", "network:networks", "network:ports"];
        (0..64)
            .map(|i| {
                if i % 16 == 0 {
                    return (scopes::ORGANIZATIONS.to_owned(), Operation::Read, None);
                }
                let project = &self.projects[(i * 37) % PROJECTS];
                let op = Operation::ALL[i % 4];
                (scopes_asked[(i / 4) % scopes_asked.len()].to_owned(), op, Some(project.id))
            })
            .collect()
    }
}

fn acl_allows(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let policy = policy();
    let subject = Subject::new(policy.subject);
    let compiled = policy.snapshot().compile(&subject, &PlatformAdministrators::default());
    let acl = policy.snapshot().acl(&subject, &PlatformAdministrators::default());
    let enforcer = runtime.block_on(policy.casbin());
    let questions = policy.questions();

    // The naive table: (project, scope) -> operations, in a std HashMap (SipHash), organization entries under a
    // nil project id.
    let mut naive: HashMap<(ProjectId, String), Permission> = HashMap::new();
    for project in &acl.projects {
        for (scope, operations) in project.endpoints.iter() {
            naive.insert((project.id, scope.to_string()), operations);
        }
    }
    let nil = ProjectId::from_uuid(uuid::Uuid::nil());
    if let Some(org) = &acl.organization {
        for (scope, operations) in org.endpoints.iter() {
            naive.insert((nil, scope.to_string()), operations);
        }
    }
    let naive_questions: Vec<((ProjectId, String), Operation)> =
        questions.iter().map(|(scope, op, project)| ((project.unwrap_or(nil), scope.clone()), *op)).collect();
    let casbin_questions: Vec<(String, String, String, String)> = questions
        .iter()
        .map(|(scope, op, project)| {
            let domain = project.map_or(policy.organization.id.to_string(), |p| p.to_string());
            (policy.subject.to_string(), domain, scope.clone(), op.as_str().to_owned())
        })
        .collect();

    // All three answer every question alike, and about half are allowed.
    let mut allowed = 0;
    for ((question, naive_q), casbin_q) in questions.iter().zip(&naive_questions).zip(&casbin_questions) {
        let ours = compiled.allows(&question.0, question.1, question.2);
        let bare = naive.get(&naive_q.0).is_some_and(|p| p.allows(naive_q.1));
        let theirs = enforcer.enforce(casbin_q.clone()).unwrap();
        assert_eq!(ours, bare, "{question:?}");
        assert_eq!(ours, theirs, "{question:?}");
        allowed += usize::from(ours);
    }
    assert!((16..=48).contains(&allowed), "{allowed} of 64 allowed");
    let rules = enforcer.get_policy().len() + enforcer.get_grouping_policy().len();
    println!("casbin policy: {rules} rules");

    let mut group = c.benchmark_group("acl_allows");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let mut i = 0usize;
    group.bench_function("bare_std_hashmap_get", |b| {
        b.iter(|| {
            i = (i + 1) % naive_questions.len();
            let (key, op) = &naive_questions[i];
            black_box(naive.get(black_box(key)).is_some_and(|p| p.allows(*op)))
        })
    });
    let mut i = 0usize;
    group.bench_function("compiled_acl_allows", |b| {
        b.iter(|| {
            i = (i + 1) % questions.len();
            let (scope, op, project) = &questions[i];
            black_box(compiled.allows(black_box(scope), *op, *project))
        })
    });
    let mut i = 0usize;
    group.bench_function("casbin_enforce", |b| {
        b.iter(|| {
            i = (i + 1) % casbin_questions.len();
            let (sub, dom, obj, act) = &casbin_questions[i];
            black_box(enforcer.enforce((sub.as_str(), dom.as_str(), obj.as_str(), act.as_str())).unwrap())
        })
    });
    group.finish();
}

fn acl_build(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let policy = policy();
    let subject = Subject::new(policy.subject);
    let administrators = PlatformAdministrators::default();
    let snapshot = policy.snapshot();
    let store = runtime.block_on(policy.store());
    let acls = Acls::new(store.clone(), administrators.clone());
    let built = snapshot.acl(&subject, &administrators);
    assert_eq!(built.projects.len(), PROJECTS);
    assert_eq!(runtime.block_on(acls.acl(&subject, policy.organization.id)).unwrap(), built);

    let mut group = c.benchmark_group("acl_build");
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("snapshot_acl_and_compile", |b| {
        b.iter(|| black_box(snapshot.compile(black_box(&subject), &administrators)))
    });
    group.bench_function("memory_store_load_acl_and_compile", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(acls.compiled(&subject, policy.organization.id).await.unwrap()) })
    });
    group.bench_function("casbin_load_policy", |b| {
        b.to_async(&runtime).iter(|| async { black_box(policy.casbin().await) })
    });
    group.finish();
}

criterion_group!(benches, acl_allows, acl_build);
criterion_main!(benches);
