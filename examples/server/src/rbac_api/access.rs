//! Who may do what through the CRUD routes, and the bodies and errors they share.
//!
//! - The admin listener trusts its caller (the operator): every operation is allowed, and no grant is checked.
//! - On the public listener the caller authenticates (session or access token; 401 otherwise). An organization
//!   it neither belongs to (through a group) nor administers the platform of is answered 404, exactly as one
//!   that does not exist, so that organizations cannot be discovered by id. Within an organization it can see,
//!   an operation its ACL does not allow is 403, naming the scope and operation.
//! - Creating and deleting organizations, changing where their logins go (email domains, provider), and writing
//!   roles (which every organization shares) need the scope globally: platform administrators only.
//! - Bodies: not JSON is 400; a missing, mistyped, malformed (names are DNS labels) or unknown field is 400
//!   naming the field; a well-formed body naming an object that does not exist (a member, role or group) is
//!   422; a name already taken is 409.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use identity_core::{Operation, Organization, OrganizationId, ProjectId, Role};
use identity_rbac::{CompiledAcl, Subject, scopes};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::http::body_object;
use crate::state::AppState;

/// Which listener a route is served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listener {
    /// Callers authenticate and are checked.
    Public,
    /// The operator's: trusted.
    Admin,
}

/// The state of the CRUD routes.
#[derive(Clone)]
pub(super) struct Api {
    /// The server.
    pub(super) app: Arc<AppState>,
    listener: Listener,
}

/// Who asks.
pub(super) enum Caller {
    /// The operator, on the admin listener.
    Operator,
    /// An authenticated identity, on the public listener.
    Subject(Subject),
}

/// The organization a request is about, and what the caller may do in it.
pub(super) struct InOrganization {
    /// The organization.
    pub(super) organization: Organization,
    /// Who asks.
    pub(super) caller: Caller,
    /// The caller's compiled ACL in the organization; `None` for the operator.
    acl: Option<CompiledAcl>,
}

impl Api {
    /// The routes' state on `listener`.
    pub(super) fn new(app: Arc<AppState>, listener: Listener) -> Self {
        Self { app, listener }
    }

    /// The listener.
    pub(super) fn listener(&self) -> Listener {
        self.listener
    }

    /// Who asks: the operator on the admin listener, the authenticated identity on the public one (401 if none).
    pub(super) async fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        match self.listener {
            Listener::Admin => Ok(Caller::Operator),
            Listener::Public => Ok(Caller::Subject(Subject::new(super::caller(&self.app, headers).await?))),
        }
    }

    /// Whether `caller` holds `operation` on `scope` platform-wide.
    pub(super) async fn holds_globally(
        &self,
        caller: &Caller,
        scope: &str,
        operation: Operation,
    ) -> Result<bool, ApiError> {
        match caller {
            Caller::Operator => Ok(true),
            Caller::Subject(subject) => {
                let acl = self.app.acls.global_acl(subject).await.map_err(super::rbac_error)?;
                Ok(acl.global.get(scope).allows(operation))
            }
        }
    }

    /// 403 unless `caller` holds `operation` on `scope` platform-wide.
    pub(super) async fn require_globally(
        &self,
        caller: &Caller,
        scope: &str,
        operation: Operation,
    ) -> Result<(), ApiError> {
        if self.holds_globally(caller, scope, operation).await? {
            Ok(())
        } else {
            Err(forbidden(scope, operation, "platform-wide"))
        }
    }

    /// The organization `id` names, as the caller may see it: 404 if it does not exist or the caller cannot see
    /// it (the same answer, word for word).
    pub(super) async fn organization(&self, headers: &HeaderMap, id: &str) -> Result<InOrganization, ApiError> {
        let caller = self.caller(headers).await?;
        let unknown = || ApiError::not_found("organization");
        let id: OrganizationId = id.parse().map_err(|_| unknown())?;
        let organization = match self.app.store.organization(id).await {
            Ok(organization) => organization,
            Err(identity_store::Error::NotFound { .. }) => return Err(unknown()),
            Err(error) => return Err(error.into()),
        };
        let acl = match &caller {
            Caller::Operator => None,
            Caller::Subject(subject) => {
                let snapshot = match self.app.acls.snapshot(id).await {
                    Ok(snapshot) => snapshot,
                    // Deleted since it was read.
                    Err(identity_rbac::Error::Store(identity_store::Error::NotFound { .. })) => return Err(unknown()),
                    Err(error) => return Err(super::rbac_error(error)),
                };
                let acl = snapshot.compile(subject, self.app.acls.administrators());
                if !snapshot.is_member(subject) && !acl.global(scopes::ORGANIZATIONS).allows(Operation::Read) {
                    return Err(unknown());
                }
                Some(acl)
            }
        };
        Ok(InOrganization { organization, caller, acl })
    }
}

impl InOrganization {
    /// The organization's id.
    pub(super) fn id(&self) -> OrganizationId {
        self.organization.id
    }

    /// The caller's compiled ACL; `None` for the operator, who may do anything.
    pub(super) fn acl(&self) -> Option<&CompiledAcl> {
        self.acl.as_ref()
    }

    /// 403 unless the caller may do `operation` on `scope` across the organization or, with `project`, there.
    pub(super) fn require(
        &self,
        scope: &str,
        operation: Operation,
        project: Option<ProjectId>,
    ) -> Result<(), ApiError> {
        match &self.acl {
            Some(acl) if !acl.allows(scope, operation, project) => {
                Err(forbidden(scope, operation, if project.is_some() { "in this project" } else { "here" }))
            }
            _ => Ok(()),
        }
    }

    /// 403 unless the caller holds everything `role` grants, so that giving it to a group (or a member to a
    /// group holding it) raises nobody above the caller.
    pub(super) fn may_grant(&self, role: &Role) -> Result<(), ApiError> {
        match &self.acl {
            Some(acl) => identity_rbac::check_grant(acl, role)
                .map_err(|refused| ApiError::new(StatusCode::FORBIDDEN, refused.to_string())),
            None => Ok(()),
        }
    }
}

fn forbidden(scope: &str, operation: Operation, place: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, format!("this needs `{}` on `{scope}` {place}", operation.as_str()))
}

/// The JSON a write handler decodes: the body for `POST` and `PUT`, or for `PATCH` the body merged as a JSON
/// merge patch (RFC 7396) into `current`, the object's writable fields.
pub(super) fn write_document(
    method: &Method,
    current: Option<Value>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, ApiError> {
    let body = body_object(headers, body)?;
    match (method, current) {
        (&Method::PATCH, Some(mut document)) => {
            json_patch::merge(&mut document, &body);
            Ok(document)
        }
        _ => Ok(body),
    }
}

/// `object`'s JSON without the fields no write may set (its id, its organization).
pub(super) fn writable(object: &impl Serialize) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut value {
        fields.remove("id");
        fields.remove("organization_id");
    }
    value
}

/// Decodes a write body, naming the field at fault (400).
pub(super) fn decode<T: DeserializeOwned>(document: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(document)
        .map_err(|error| ApiError::bad_request(format!("`{}`: {}", error.path(), error.inner())))
}

/// A domain object's own rule broken (400).
pub(super) fn invalid(error: identity_core::Error) -> ApiError {
    ApiError::bad_request(error.to_string())
}

/// A store error of a write. An object the body refers to (`references`: a member, a role, a group) that does not
/// exist is 422; an unknown object of the path stays 404.
pub(super) fn write_error(error: identity_store::Error, references: &[&str]) -> ApiError {
    match &error {
        identity_store::Error::NotFound { what, .. } if references.contains(what) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
        }
        _ => error.into(),
    }
}

/// 201 with the created object.
pub(super) fn created(object: &impl Serialize) -> Response {
    (StatusCode::CREATED, Json(serde_json::to_value(object).unwrap_or(Value::Null))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_patch_merges_into_the_current_fields_and_a_put_replaces_them() {
        let headers = HeaderMap::new();
        let current = json!({"name": "ops", "members": ["a"], "role_ids": ["r"]});
        let patched =
            write_document(&Method::PATCH, Some(current.clone()), &headers, br#"{"members": [], "role_ids": null}"#)
                .unwrap();
        assert_eq!(patched, json!({"name": "ops", "members": []}));
        let replaced = write_document(&Method::PUT, Some(current), &headers, br#"{"name": "dev"}"#).unwrap();
        assert_eq!(replaced, json!({"name": "dev"}));
        assert_eq!(write_document(&Method::PATCH, None, &headers, b"[1]").unwrap_err().status(), 400);
    }

    #[test]
    fn only_missing_references_are_unprocessable() {
        let missing = |what| identity_store::Error::NotFound { what, id: "x".into() };
        assert_eq!(write_error(missing("role"), &["identity", "role"]).status(), 422);
        assert_eq!(write_error(missing("group"), &["identity", "role"]).status(), 404);
        let taken = identity_store::Error::Conflict { field: "group name".into(), value: "ops".into() };
        assert_eq!(write_error(taken, &["role"]).status(), 409);
    }
}
