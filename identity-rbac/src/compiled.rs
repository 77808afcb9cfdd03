//! ACLs compiled for checks: scope names interned to small indexes, permissions as four-bit sets, so that
//! [`CompiledAcl::allows`] is one or two hash lookups and a mask, without allocating.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use identity_core::{Operation, OrganizationId, Permission, ProjectId, ScopeSet};

use crate::acl::Acl;

/// A subject's [`Acl`] in a form made for answering questions.
///
/// Checks go global, then organization, then project: an operation allowed globally is allowed everywhere, one
/// allowed across the organization is allowed in each of its projects.
#[derive(Debug, Clone)]
pub struct CompiledAcl {
    organization: Option<OrganizationId>,
    /// The interned scope names: name -> index into the permission tables.
    names: HashMap<Box<str>, u32, FastHash>,
    /// Global permissions, by scope index.
    global: Box<[Permission]>,
    /// Global | organization permissions, by scope index.
    organization_wide: Box<[Permission]>,
    /// Per-project permissions (already including the organization-wide ones), `width` entries per row; rows are
    /// shared by every project with the same permissions. Row 0 is the organization-wide row.
    rows: Box<[Permission]>,
    width: usize,
    /// The projects of the organization this ACL knows, each with its row.
    projects: HashMap<ProjectId, u32, FastHash>,
}

/// Which projects a subject may read in one scope: what another service turns into a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every project on the platform (a global grant): no filter.
    Everything,
    /// Every project of this organization (an organization-wide grant).
    Organization(OrganizationId),
    /// Only these projects, sorted by id; possibly none.
    Projects(Vec<ProjectId>),
}

impl Visibility {
    /// Whether nothing is visible.
    pub fn is_nothing(&self) -> bool {
        matches!(self, Visibility::Projects(ids) if ids.is_empty())
    }
}

impl CompiledAcl {
    /// Compiles `acl`. `organization` is the organization it is for; `known_projects` are the organization's
    /// projects (organization-wide grants reach these, and the ones listed in the ACL); any other project gets
    /// only the global grants.
    pub(crate) fn new(
        acl: &Acl,
        organization: Option<OrganizationId>,
        known_projects: impl IntoIterator<Item = ProjectId>,
    ) -> Self {
        let mut names: HashMap<Box<str>, u32, FastHash> = HashMap::default();
        let mut intern = |set: &ScopeSet| {
            for (name, _) in set.iter() {
                let next = u32::try_from(names.len()).unwrap_or(u32::MAX);
                names.entry(Box::from(name.as_str())).or_insert(next);
            }
        };
        intern(&acl.global);
        if let Some(org) = &acl.organization {
            intern(&org.endpoints);
        }
        for project in &acl.projects {
            intern(&project.endpoints);
        }
        let width = names.len();
        let table = |set: &ScopeSet, base: &[Permission]| -> Box<[Permission]> {
            let mut row: Vec<Permission> = if base.is_empty() { vec![Permission::NONE; width] } else { base.to_vec() };
            for (name, operations) in set.iter() {
                if let Some(slot) = names.get(name.as_str()).and_then(|i| row.get_mut(*i as usize)) {
                    *slot |= operations;
                }
            }
            row.into_boxed_slice()
        };
        let global = table(&acl.global, &[]);
        let organization_wide = match &acl.organization {
            Some(org) => table(&org.endpoints, &global),
            None => global.clone(),
        };

        let mut rows: Vec<Permission> = organization_wide.to_vec();
        let mut row_of: HashMap<Box<[Permission]>, u32> = HashMap::new();
        row_of.insert(organization_wide.clone(), 0);
        let mut projects: HashMap<ProjectId, u32, FastHash> = HashMap::default();
        for project in known_projects {
            projects.insert(project, 0);
        }
        for project in &acl.projects {
            let row = table(&project.endpoints, &organization_wide);
            let next = u32::try_from(row_of.len()).unwrap_or(u32::MAX);
            let index = *row_of.entry(row.clone()).or_insert_with(|| {
                rows.extend_from_slice(&row);
                next
            });
            projects.insert(project.id, index);
        }

        Self { organization, names, global, organization_wide, rows: rows.into_boxed_slice(), width, projects }
    }

    /// The organization this ACL is for, if any.
    pub fn organization(&self) -> Option<OrganizationId> {
        self.organization
    }

    /// Whether `operation` on `scope` is allowed: globally, across the organization, or (with `project`) in that
    /// project. A project the ACL does not know (not of its organization) gets only the global grants.
    ///
    /// No allocation: one hash lookup of the scope name, one of the project, and a bit test.
    pub fn allows(&self, scope: &str, operation: Operation, project: Option<ProjectId>) -> bool {
        let Some(&index) = self.names.get(scope) else {
            return false;
        };
        let index = index as usize;
        let granted = match project {
            None => self.organization_wide.get(index),
            Some(project) => match self.projects.get(&project) {
                Some(&row) => self.rows.get(row as usize * self.width + index),
                None => self.global.get(index),
            },
        };
        granted.is_some_and(|granted| granted.allows(operation))
    }

    /// The operations allowed globally on `scope`.
    pub fn global(&self, scope: &str) -> Permission {
        self.lookup(&self.global, scope)
    }

    /// The operations allowed on `scope` across the organization (global grants included).
    pub fn organization_wide(&self, scope: &str) -> Permission {
        self.lookup(&self.organization_wide, scope)
    }

    /// The projects whose `scope` the subject may read.
    pub fn visibility(&self, scope: &str) -> Visibility {
        if self.global(scope).allows(Operation::Read) {
            return Visibility::Everything;
        }
        if let (Some(organization), true) = (self.organization, self.organization_wide(scope).allows(Operation::Read)) {
            return Visibility::Organization(organization);
        }
        let ids: BTreeSet<ProjectId> = self
            .projects
            .keys()
            .copied()
            .filter(|project| self.allows(scope, Operation::Read, Some(*project)))
            .collect();
        Visibility::Projects(ids.into_iter().collect())
    }

    fn lookup(&self, table: &[Permission], scope: &str) -> Permission {
        self.names.get(scope).and_then(|index| table.get(*index as usize)).copied().unwrap_or_default()
    }
}

/// The hasher of the interned names and the project table: FxHash (a multiply-rotate, as in rustc), much cheaper
/// than SipHash for short keys. Flooding is no concern here: the tables are filled only from store data (scope
/// names of roles, project ids the platform made) and request input is only ever looked up, never inserted.
type FastHash = BuildHasherDefault<FxHasher>;

#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{OrganizationAcl, ProjectAcl};
    use identity_core::ScopeName;

    fn set(entries: &[(&str, Permission)]) -> ScopeSet {
        let mut set = ScopeSet::new();
        for (name, operations) in entries {
            set.grant(ScopeName::new(*name).unwrap(), *operations);
        }
        set
    }

    #[test]
    fn projects_with_equal_permissions_share_one_row() {
        let org = OrganizationId::new();
        let shared = set(&[("identity:projects", Permission::READ)]);
        let acl = Acl {
            global: ScopeSet::new(),
            organization: Some(OrganizationAcl { id: org, endpoints: set(&[("identity:groups", Permission::READ)]) }),
            projects: (0..100).map(|_| ProjectAcl { id: ProjectId::new(), endpoints: shared.clone() }).collect(),
        };
        let compiled = acl.compile();
        assert_eq!(compiled.width, 2);
        assert_eq!(compiled.rows.len(), 2 * compiled.width, "the organization row and one shared project row");
        for project in &acl.projects {
            assert!(compiled.allows("identity:projects", Operation::Read, Some(project.id)));
            assert!(compiled.allows("identity:groups", Operation::Read, Some(project.id)));
            assert!(!compiled.allows("identity:projects", Operation::Update, Some(project.id)));
        }
    }

    #[test]
    fn the_hasher_tells_similar_keys_apart() {
        let hash = |bytes: &[u8]| {
            let mut h = FxHasher::default();
            h.write(bytes);
            h.finish()
        };
        assert_ne!(hash(b"identity:projects"), hash(b"identity:project"));
        assert_ne!(hash(b"a"), hash(b"a\0"));
        assert_ne!(hash(b""), hash(b"\0"));
    }
}
