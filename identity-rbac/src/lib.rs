//! Access control for the identity platform: organizations, groups, roles of scoped CRUD permissions, projects,
//! ACLs compiled for in-memory checks, role-attribute selectors and the access rules of an identity-aware proxy.
//!
//! Its API arrives with the RBAC issue; until then this crate is empty on purpose.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
