//! Access control for the identity platform, in Unikorn's model: organizations hold groups and projects, groups
//! carry roles, roles grant create/read/update/delete on named scopes at the global, organization and project
//! levels. This crate computes; the data comes from any [`identity_store::RbacStore`]:
//!
//! - [`seed`] installs the built-in roles (`platform-administrator`, `administrator`, `user`, `reader`);
//! - [`Acls`] and [`OrganizationSnapshot`] build a subject's [`Acl`] in an organization, serialised as Unikorn's
//!   ACL JSON, and compile it into a [`CompiledAcl`] that answers [`allows`](CompiledAcl::allows) without
//!   allocating, and [`visibility`](CompiledAcl::visibility) (which projects a scope may read);
//! - [`can_grant`] refuses privilege escalation: a role may be granted only by someone holding all it grants;
//! - [`Selector`] matches identities' role attributes (OpenZiti's `#attr`, `@id`, `#all`);
//! - [`Rules`] are an identity-aware proxy's access rules: a [`Decision`] for a request, given the subject the
//!   caller already resolved, with no I/O.
//!
//! Platform administrators come only from configuration ([`PlatformAdministrators`]); nothing stored makes
//! anyone one.
//!
//! ```
//! use std::collections::BTreeSet;
//! use std::sync::Arc;
//! use identity_core::{Group, Operation, Organization, Project};
//! use identity_rbac::{Acls, PlatformAdministrators, Subject, scopes};
//! use identity_store::{IdentityStore, MemoryStore, RbacStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(MemoryStore::new());
//! let roles = identity_rbac::seed(store.as_ref()).await?;
//!
//! let ada = identity_core::Identity::new("default", serde_json::json!({"email": "ada@example.com"}),
//!     identity_core::time::OffsetDateTime::now_utc())?;
//! store.create_identity(&ada).await?;
//! let acme = Organization::new("acme", "ACME")?;
//! store.create_organization(&acme).await?;
//! let mut staff = Group::new(acme.id, "staff")?;
//! staff.members.insert(ada.id);
//! staff.role_ids.insert(roles.user);
//! store.create_group(&staff).await?;
//! let web = Project::new(acme.id, "web", BTreeSet::from([staff.id]))?;
//! store.create_project(&web).await?;
//!
//! let acls = Acls::new(store, PlatformAdministrators::default());
//! let acl = acls.compiled(&Subject::new(ada.id), acme.id).await?;
//! assert!(acl.allows(scopes::PROJECTS, Operation::Read, Some(web.id)));
//! assert!(!acl.allows(scopes::PROJECTS, Operation::Delete, Some(web.id)));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Outside tests, input that may be missing or wrong gets a typed error, never a panic; clippy holds every
// unwrap and expect of the crate's code to that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod acl;
mod compiled;
mod error;
mod grant;
mod rules;
mod seed;
mod selector;

pub use acl::{Acl, Acls, OrganizationAcl, OrganizationSnapshot, PlatformAdministrators, ProjectAcl, Subject};
pub use compiled::{CompiledAcl, Visibility};
pub use error::{Error, RuleFormat, RuleProblem, SelectorFault};
pub use grant::{can_grant, check_grant};
pub use rules::{
    Authenticator, AuthorizerSpec, Caller, Decision, ForwardedRequest, HeaderKey, HeaderValue, MatchSpec,
    PresentedCredentials, Principal, Request, Rule, RuleSpec, Rules, RulesConfig, Strategy, Unmatched,
};
pub use seed::{BuiltinRole, BuiltinRoles, scopes, seed};
pub use selector::{Selector, Semantic};
