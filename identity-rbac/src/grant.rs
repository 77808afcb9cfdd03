//! Refusing privilege escalation: a role may be granted only by someone who already holds everything it grants
//! (Unikorn's fix).

use identity_core::{Role, ScopeLevel};

use crate::compiled::CompiledAcl;
use crate::error::Error;

/// Whether the holder of `acl` may grant `role` (to a group of the ACL's organization) without raising anyone's
/// privileges above its own. See [`check_grant`] for the rule.
pub fn can_grant(acl: &CompiledAcl, role: &Role) -> bool {
    check_grant(acl, role).is_ok()
}

/// Checks that the holder of `acl` holds every operation `role` grants:
/// - each global scope of the role, globally;
/// - each organization-level scope, across the organization (or globally);
/// - each project-level scope, across the organization (or globally) too: a group's roles reach every project
///   shared with the group, including projects shared later, so holding it in some projects is not enough.
///
/// This only refuses escalation; whether the holder may change the group at all (`identity:groups` update) is
/// a separate check. Fails with [`Error::PrivilegeEscalation`] naming the first scope the holder lacks.
pub fn check_grant(acl: &CompiledAcl, role: &Role) -> Result<(), Error> {
    let levels = [
        (ScopeLevel::Global, &role.scopes.global),
        (ScopeLevel::Organization, &role.scopes.organization),
        (ScopeLevel::Project, &role.scopes.project),
    ];
    for (level, scopes) in levels {
        for (scope, operations) in scopes.iter() {
            let held = match level {
                ScopeLevel::Global => acl.global(scope.as_str()),
                ScopeLevel::Organization | ScopeLevel::Project => acl.organization_wide(scope.as_str()),
            };
            if !held.contains(operations) {
                let missing = operations.operations().filter(|op| !held.allows(*op)).collect();
                return Err(Error::PrivilegeEscalation {
                    role: role.name.clone(),
                    level,
                    scope: scope.clone(),
                    missing,
                });
            }
        }
    }
    Ok(())
}
