//! `GET /openapi.json` on each listener: an OpenAPI 3.1 document of that listener's API. Clients generate SDKs
//! from it and `schemathesis` checks the running server against it in CI (`tests/openapi.rs`), which also checks
//! that every route in the source is documented on the listeners that serve it, and nothing else is.
//!
//! Schemas say what is always there and what type it has; fields a client may ignore are left open
//! (`additionalProperties` is allowed), so that adding a field never breaks a document's users.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::state::AppState;

/// Which listener a document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The public API (also served by the mutual-TLS listener).
    Public,
    /// The admin API.
    Admin,
}

/// `GET /openapi.json` for `listener`.
pub fn router(app: Arc<AppState>, listener: Listener) -> Router {
    let handler = move |State(app): State<Arc<AppState>>| async move { document_response(&app, listener) };
    Router::new().route("/openapi.json", axum::routing::get(handler)).with_state(app)
}

fn document_response(app: &AppState, listener: Listener) -> Response {
    let server = match listener {
        Listener::Public => app.public_url.clone(),
        Listener::Admin => app.config.serve.admin.base_url.clone().unwrap_or_default(),
    };
    Json(document(listener, &server)).into_response()
}

/// The OpenAPI 3.1 document of `listener`, served at `server`.
pub fn document(listener: Listener, server: &str) -> Value {
    let (title, operations) = match listener {
        Listener::Public => ("identity-server public API", public_operations()),
        Listener::Admin => ("identity-server admin API", admin_operations()),
    };
    let mut paths = Map::new();
    for operation in operations {
        let entry = paths.entry(operation.path.to_owned()).or_insert_with(|| json!({}));
        entry[operation.method] = operation.to_json();
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": title, "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": server }],
        "paths": paths,
        "components": { "schemas": schemas() },
    })
}

/// One operation: method and path (axum's templates are OpenAPI's), what it takes and what it answers.
struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    query: Vec<Value>,
    headers: Vec<Value>,
    body: Option<Value>,
    responses: Vec<(&'static str, Value)>,
}

impl Operation {
    fn new(method: &'static str, path: &'static str, summary: &'static str) -> Self {
        Self { method, path, summary, query: Vec::new(), headers: Vec::new(), body: None, responses: Vec::new() }
    }

    /// A query parameter, optional unless `required`.
    fn query(mut self, name: &str, schema: Value, required: bool) -> Self {
        self.query.push(json!({ "name": name, "in": "query", "required": required, "schema": schema }));
        self
    }

    /// A request header, optional.
    fn header(mut self, name: &str) -> Self {
        self.headers.push(json!({ "name": name, "in": "header", "required": false, "schema": { "type": "string" } }));
        self
    }

    /// The session credentials a caller may send: `X-Session-Token`, `Authorization: Bearer`, or the cookie.
    fn session(self) -> Self {
        self.header("X-Session-Token").header("Authorization")
    }

    /// A required JSON body of `schema`.
    fn json_body(mut self, schema: Value) -> Self {
        self.body = Some(json!({ "required": true, "content": { "application/json": { "schema": schema } } }));
        self
    }

    /// A JSON or form body of `schema`, as flow submissions take.
    fn json_or_form_body(mut self, schema: Value) -> Self {
        self.body = Some(json!({ "required": true, "content": {
            "application/json": { "schema": schema },
            "application/x-www-form-urlencoded": { "schema": schema },
        }}));
        self
    }

    /// A form body of `schema` (OAuth2 endpoints).
    fn form_body(mut self, schema: Value) -> Self {
        self.body = Some(json!({
            "required": true, "content": { "application/x-www-form-urlencoded": { "schema": schema } }
        }));
        self
    }

    /// A JSON answer.
    fn answers(mut self, status: &'static str, description: &str, schema: Value) -> Self {
        self.responses.push((
            status,
            json!({ "description": description, "content": { "application/json": { "schema": schema } } }),
        ));
        self
    }

    /// An answer without a body (204, redirects).
    fn empty(mut self, status: &'static str, description: &str) -> Self {
        self.responses.push((status, json!({ "description": description })));
        self
    }

    /// Client errors in Kratos' error JSON.
    fn errors(self) -> Self {
        self.answers("4XX", "the request was refused; `error.reason` says why", reference("Error"))
    }

    /// Client errors in RFC 6749's JSON.
    fn oauth_errors(self) -> Self {
        self.answers("4XX", "the request was refused (RFC 6749 error)", reference("OAuth2Error"))
    }

    fn to_json(&self) -> Value {
        let mut parameters: Vec<Value> = path_parameters(self.path);
        parameters.extend(self.query.iter().cloned());
        parameters.extend(self.headers.iter().cloned());
        let responses: Map<String, Value> =
            self.responses.iter().map(|(status, response)| ((*status).to_owned(), response.clone())).collect();
        let mut operation = json!({ "summary": self.summary, "responses": responses });
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = &self.body {
            operation["requestBody"] = body.clone();
        }
        operation
    }
}

/// `{name}` segments of `path` as required string parameters; the self-service routes' segments are enums.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = match (path, name) {
                (p, "kind") if p.starts_with("/self-service/") => {
                    json!({ "type": "string", "enum": ["login", "registration", "settings", "recovery", "verification"] })
                }
                (_, "variant") => json!({ "type": "string", "enum": ["api", "browser", "flows"] }),
                _ => json!({ "type": "string" }),
            };
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect()
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array_of(name: &str) -> Value {
    json!({ "type": "array", "items": reference(name) })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

/// What both listeners answer: health and version.
fn common_operations() -> Vec<Operation> {
    vec![
        Operation::new("get", "/health/alive", "The process answers.").answers("200", "alive", reference("Status")),
        Operation::new("get", "/health/ready", "The store answers too.")
            .answers("200", "ready", reference("Status"))
            .answers(
                "503",
                "the store is not reachable",
                object(&["errors"], json!({ "errors": { "type": "object" } })),
            ),
        Operation::new("get", "/version", "The server's version.").answers(
            "200",
            "the version",
            object(&["version"], json!({ "version": string() })),
        ),
        Operation::new("get", "/openapi.json", "This document.").answers(
            "200",
            "an OpenAPI 3.1 document",
            json!({ "type": "object" }),
        ),
    ]
}

fn public_operations() -> Vec<Operation> {
    let mut operations = common_operations();
    operations.extend([
        Operation::new("get", "/schemas", "The identity schemas.").answers(
            "200",
            "id and schema of each",
            array_of("SchemaEntry"),
        ),
        Operation::new("get", "/schemas/{id}", "One identity schema (JSON Schema).")
            .answers("200", "the schema", json!({ "type": "object" }))
            .errors(),
        Operation::new("get", "/sessions/whoami", "The caller's session, with its identity.")
            .session()
            .answers("200", "the session", reference("Session"))
            .errors(),
        Operation::new("get", "/sessions", "The caller's other sessions.")
            .session()
            .answers("200", "the sessions", array_of("Session"))
            .errors(),
        Operation::new("delete", "/sessions", "Revokes the caller's other sessions.")
            .session()
            .answers("200", "how many were revoked", object(&["count"], json!({ "count": { "type": "integer" } })))
            .errors(),
        Operation::new("delete", "/sessions/{id}", "Revokes one of the caller's other sessions.")
            .session()
            .empty("204", "revoked")
            .errors(),
        Operation::new("delete", "/self-service/logout/api", "Signs a native session out by its token.")
            .json_body(object(&["session_token"], json!({ "session_token": string() })))
            .empty("204", "signed out")
            .errors(),
        Operation::new("get", "/self-service/logout/browser", "A logout URL for the session cookie's session.")
            .session()
            .answers(
                "200",
                "the logout URL and token",
                object(&["logout_url", "logout_token"], json!({ "logout_url": string(), "logout_token": string() })),
            )
            .errors(),
        Operation::new("get", "/self-service/logout", "Signs the browser out with a logout token.")
            .query("token", string(), true)
            .query("return_to", string(), false)
            .empty("204", "signed out")
            .empty("303", "signed out; on to `return_to`")
            .errors(),
        Operation::new(
            "get",
            "/self-service/{kind}/{variant}",
            "Creates a flow (`api`, `browser`) or fetches one (`flows?id=`).",
        )
        .query("id", string(), false)
        .query("return_to", string(), false)
        .query("refresh", json!({ "type": "boolean" }), false)
        .query("aal", json!({ "type": "string", "enum": ["aal1", "aal2"] }), false)
        .session()
        .header("Cookie")
        .answers("200", "the flow", reference("Flow"))
        .empty("303", "a browser flow: on to the UI")
        .errors(),
        Operation::new("post", "/self-service/{kind}", "Submits a flow with a `method`.")
            .query("flow", string(), true)
            .session()
            .header("Cookie")
            .json_or_form_body(
                json!({ "type": "object", "properties": { "method": string(), "csrf_token": string() } }),
            )
            .answers(
                "200",
                "done: the flow and, for logins and registrations, the session",
                json!({ "type": "object" }),
            )
            .empty("303", "a browser flow: on to the next page")
            .answers(
                "4XX",
                "the flow with messages (400), or an error",
                json!({ "anyOf": [reference("Flow"), reference("Error")] }),
            ),
        Operation::new("get", "/self-service/{kind}", "Opens a recovery link.")
            .query("flow", string(), true)
            .query("code", string(), true)
            .answers("200", "the flow", reference("Flow"))
            .empty("303", "recovered; on to the default return URL")
            .answers(
                "4XX",
                "the flow with messages, or an error",
                json!({ "anyOf": [reference("Flow"), reference("Error")] }),
            ),
        Operation::new("get", "/.well-known/openid-configuration", "OpenID Connect discovery.").answers(
            "200",
            "the provider's metadata",
            reference("Discovery"),
        ),
        Operation::new("get", "/.well-known/jwks.json", "The signing keys.").answers(
            "200",
            "a JWK set",
            reference("Jwks"),
        ),
        Operation::new("get", "/oauth2/auth", "The authorization endpoint (authorization code with PKCE).")
            .query("client_id", string(), false)
            .query("redirect_uri", string(), false)
            .query("response_type", string(), false)
            .query("scope", string(), false)
            .query("state", string(), false)
            .query("nonce", string(), false)
            .query("code_challenge", string(), false)
            .query("code_challenge_method", string(), false)
            .header("Cookie")
            .empty("302", "on to the client (a code or an error) or to the login flow")
            .empty("303", "on to the client (a code or an error) or to the login flow")
            .oauth_errors(),
        Operation::new("post", "/oauth2/token", "The token endpoint.")
            .header("Authorization")
            .form_body(object(
                &["grant_type"],
                json!({
                    "grant_type": string(), "code": string(), "redirect_uri": string(), "code_verifier": string(),
                    "refresh_token": string(), "scope": string(), "client_id": string(), "client_secret": string(),
                }),
            ))
            .answers("200", "the tokens", reference("TokenResponse"))
            .oauth_errors(),
        Operation::new("get", "/userinfo", "The claims of an access token's subject.")
            .header("Authorization")
            .answers("200", "the claims", object(&["sub"], json!({ "sub": string() })))
            .oauth_errors(),
        Operation::new("post", "/userinfo", "The claims of an access token's subject.")
            .header("Authorization")
            .answers("200", "the claims", object(&["sub"], json!({ "sub": string() })))
            .oauth_errors(),
        Operation::new("post", "/oauth2/revoke", "Revokes a token (RFC 7009).")
            .header("Authorization")
            .form_body(object(
                &["token"],
                json!({ "token": string(), "token_type_hint": string(), "client_id": string() }),
            ))
            .empty("200", "revoked, or never valid")
            .oauth_errors(),
        Operation::new("get", "/api/v1/acl", "The caller's platform-wide ACL.")
            .session()
            .answers("200", "the ACL", reference("Acl"))
            .errors(),
        Operation::new("get", "/api/v1/organizations/{id}/acl", "The caller's ACL in one organization.")
            .session()
            .answers("200", "the ACL", reference("Acl"))
            .errors(),
    ]);
    operations.extend(rbac_operations());
    operations.extend([
        Operation::new("get", "/self-service/methods/oidc/callback/{provider}", "An upstream provider's callback.")
            .query("code", string(), false)
            .query("state", string(), false)
            .query("error", string(), false)
            .query("error_description", string(), false)
            .header("Cookie")
            .answers("200", "signed in: the session", json!({ "type": "object" }))
            .empty("303", "signed in; on to `return_to`")
            .errors()
            .answers("502", "the upstream failed or broke the protocol", reference("Error")),
        Operation::new("post", "/self-service/methods/oidc/callback/{provider}", "An upstream's `form_post` callback.")
            .header("Cookie")
            .form_body(json!({ "type": "object", "properties": {
                "code": string(), "state": string(), "error": string(), "error_description": string(),
            }}))
            .answers("200", "signed in: the session", json!({ "type": "object" }))
            .empty("303", "signed in; on to `return_to`")
            .errors()
            .answers("502", "the upstream failed or broke the protocol", reference("Error")),
        Operation::new("post", "/enroll", "Completes an enrollment (OpenZiti's `ott`, `ottca`, `updb`).")
            .query("method", json!({ "type": "string", "enum": ["ott", "ottca", "updb"] }), true)
            .json_or_form_body(object(
                &["jwt"],
                json!({
                    "jwt": string(), "csr": string(), "username": string(), "password": string(),
                }),
            ))
            .answers(
                "200",
                "enrolled: the certificate (ott) or the identity",
                object(
                    &["identity_id"],
                    json!({
                        "identity_id": string(), "certificate": string(), "ca": string(), "fingerprint": string(),
                    }),
                ),
            )
            .errors(),
        Operation::new("post", "/authenticate", "Signs in with the connection's client certificate (mutual TLS).")
            .query("method", json!({ "type": "string", "enum": ["cert"] }), true)
            .answers(
                "200",
                "the session and its token",
                object(
                    &["session_token", "session"],
                    json!({
                        "session_token": string(), "session": reference("Session"),
                    }),
                ),
            )
            .errors(),
    ]);
    // Forward-auth answers any method, as the proxies send the original one.
    for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
        for path in ["/decisions", "/decisions/{rest}"] {
            operations.push(
                Operation::new(method, path, "A forward-auth decision for the original request (Traefik, nginx).")
                    .header("X-Forwarded-Method")
                    .header("X-Forwarded-Proto")
                    .header("X-Forwarded-Host")
                    .header("X-Forwarded-Uri")
                    .session()
                    .empty("200", "allowed; the rule's headers are set")
                    .empty("302", "a browser without credentials: on to the login page")
                    .empty("401", "no valid credentials")
                    .empty("403", "denied")
                    .empty("404", "no rule matches and unmatched requests are refused")
                    .errors(),
            );
        }
    }
    operations
}

fn admin_operations() -> Vec<Operation> {
    let identity_body = json!({ "type": "object", "required": ["traits"], "properties": {
        "schema_id": string(), "traits": { "type": "object" }, "state": reference("IdentityState"),
        "credentials": { "type": "object" }, "metadata_public": {}, "metadata_admin": {}, "external_id": string(),
    }});
    let mut operations = common_operations();
    operations.extend([
        Operation::new("get", "/metrics", "Prometheus metrics.").empty("200", "the metrics in Prometheus' text format"),
        Operation::new("get", "/admin/identities", "Identities, in keyset pages, or those of `ids`.")
            .query("page_size", json!({ "type": "integer", "minimum": 1 }), false)
            .query("page_token", string(), false)
            .query("credentials_identifier", string(), false)
            .query("ids", json!({ "type": "array", "items": string() }), false)
            .answers("200", "the identities", array_of("Identity"))
            .errors(),
        Operation::new("post", "/admin/identities", "Creates (or imports) an identity.")
            .json_body(identity_body.clone())
            .answers("201", "the identity", reference("Identity"))
            .errors(),
        Operation::new("patch", "/admin/identities", "Creates identities in a batch.")
            .json_body(object(
                &["identities"],
                json!({ "identities": { "type": "array", "items": { "type": "object" } } }),
            ))
            .answers(
                "200",
                "what became of each",
                object(&["identities"], json!({ "identities": { "type": "array" } })),
            )
            .errors(),
        Operation::new("get", "/admin/identities/by/external/{external_id}", "The identity with an external id.")
            .answers("200", "the identity", reference("Identity"))
            .errors(),
        Operation::new("get", "/admin/identities/{id}", "One identity.")
            .query("include_credential", json!({ "type": "array", "items": string() }), false)
            .answers("200", "the identity", reference("Identity"))
            .errors(),
        Operation::new("put", "/admin/identities/{id}", "Replaces an identity.")
            .json_body(identity_body)
            .answers("200", "the identity", reference("Identity"))
            .errors(),
        Operation::new("patch", "/admin/identities/{id}", "Changes an identity with a JSON Patch (RFC 6902).")
            .json_body(json!({ "type": "array", "items": { "type": "object" } }))
            .answers("200", "the identity", reference("Identity"))
            .errors(),
        Operation::new("delete", "/admin/identities/{id}", "Deletes an identity.").empty("204", "deleted").errors(),
        Operation::new("delete", "/admin/identities/{id}/credentials/{kind}", "Deletes credentials of one type.")
            .query("identifier", string(), false)
            .empty("204", "deleted")
            .errors(),
        Operation::new("get", "/admin/identities/{id}/sessions", "An identity's sessions.")
            .query("active", json!({ "type": "boolean" }), false)
            .answers("200", "the sessions", array_of("Session"))
            .errors(),
        Operation::new("delete", "/admin/identities/{id}/sessions", "Revokes an identity's sessions.")
            .empty("204", "revoked")
            .errors(),
        Operation::new("get", "/admin/sessions", "Sessions, in keyset pages.")
            .query("page_size", json!({ "type": "integer", "minimum": 1 }), false)
            .query("page_token", string(), false)
            .query("active", json!({ "type": "boolean" }), false)
            .query("expand", json!({ "type": "string", "enum": ["identity"] }), false)
            .answers("200", "the sessions", array_of("Session"))
            .errors(),
        Operation::new("get", "/admin/sessions/{id}", "One session.")
            .answers("200", "the session", reference("Session"))
            .errors(),
        Operation::new("delete", "/admin/sessions/{id}", "Disables a session.").empty("204", "disabled").errors(),
        Operation::new("patch", "/admin/sessions/{id}/extend", "Extends a session by its lifespan.")
            .answers("200", "the session", reference("Session"))
            .errors(),
        Operation::new("post", "/admin/recovery/code", "A recovery code for an identity.")
            .json_body(object(&["identity_id"], json!({ "identity_id": string(), "expires_in": string() })))
            .answers(
                "201",
                "the code and the link to enter it",
                object(
                    &["recovery_code", "recovery_link"],
                    json!({ "recovery_code": string(), "recovery_link": string() }),
                ),
            )
            .errors(),
        Operation::new("post", "/admin/recovery/link", "A recovery link for an identity.")
            .json_body(object(&["identity_id"], json!({ "identity_id": string(), "expires_in": string() })))
            .answers("200", "the link", object(&["recovery_link"], json!({ "recovery_link": string() })))
            .errors(),
        Operation::new("get", "/admin/identities/{id}/enrollments", "An identity's open enrollments.")
            .answers("200", "the enrollments (without their JWTs)", array_of("Enrollment"))
            .errors(),
        Operation::new("post", "/admin/identities/{id}/enrollments", "Opens an enrollment; its JWT is shown once.")
            .json_body(object(&["method"], json!({
                "method": { "type": "string", "enum": ["ott", "ottca", "updb"] }, "ca_id": string(), "username": string(),
            })))
            .answers("201", "the enrollment with its JWT", reference("Enrollment"))
            .errors(),
        Operation::new("get", "/admin/identities/{id}/enrollments/{enrollment}", "One enrollment.")
            .answers("200", "the enrollment", reference("Enrollment"))
            .errors(),
        Operation::new("delete", "/admin/identities/{id}/enrollments/{enrollment}", "Withdraws an enrollment.")
            .empty("204", "withdrawn")
            .errors(),
        Operation::new("post", "/admin/identities/{id}/enrollments/{enrollment}/refresh", "A new JWT and expiry.")
            .answers("200", "the enrollment with its new JWT", reference("Enrollment"))
            .errors(),
        Operation::new("get", "/admin/identity-providers", "The upstream identity providers.")
            .answers("200", "the providers (never their secrets)", array_of("IdentityProvider"))
            .errors(),
        Operation::new("post", "/admin/identity-providers", "Adds an upstream identity provider.")
            .json_body(reference("IdentityProviderWrite"))
            .answers("201", "the provider", reference("IdentityProvider"))
            .errors(),
        Operation::new("get", "/admin/identity-providers/{id}", "One upstream identity provider.")
            .answers("200", "the provider", reference("IdentityProvider"))
            .errors(),
        Operation::new("put", "/admin/identity-providers/{id}", "Replaces a provider (the secret kept if left out).")
            .json_body(reference("IdentityProviderWrite"))
            .answers("200", "the provider", reference("IdentityProvider"))
            .errors(),
        Operation::new("delete", "/admin/identity-providers/{id}", "Removes a provider.")
            .empty("204", "removed")
            .errors(),
        Operation::new("get", "/admin/clients", "The OAuth2 clients (secrets only as hashes).")
            .answers("200", "the clients", array_of("OAuth2Client"))
            .oauth_errors(),
        Operation::new("post", "/admin/clients", "Registers an OAuth2 client; its secret is shown once.")
            .json_body(json!({ "type": "object", "properties": {
                "client_id": string(), "client_name": string(),
                "redirect_uris": { "type": "array", "items": string() },
                "grant_types": { "type": "array", "items": string() },
                "response_types": { "type": "array", "items": string() },
                "scope": string(), "token_endpoint_auth_method": string(),
            }}))
            .answers("201", "the client, with its secret", reference("OAuth2Client"))
            .oauth_errors(),
        Operation::new("get", "/admin/clients/{id}", "One OAuth2 client.")
            .answers("200", "the client", reference("OAuth2Client"))
            .errors(),
        Operation::new("delete", "/admin/clients/{id}", "Deletes an OAuth2 client.").empty("204", "deleted").errors(),
        Operation::new("post", "/admin/oauth2/introspect", "Introspects a token (RFC 7662).")
            .form_body(object(&["token"], json!({ "token": string(), "token_type_hint": string() })))
            .answers(
                "200",
                "whether it is active, and its claims",
                object(&["active"], json!({ "active": { "type": "boolean" } })),
            )
            .oauth_errors(),
        Operation::new(
            "post",
            "/admin/oauth2/keys/rotate",
            "Rotates the signing key; the previous one stays published.",
        )
        .answers("200", "the published keys", reference("Jwks"))
        .oauth_errors(),
    ]);
    operations.extend(rbac_operations());
    operations
}

/// The RBAC API, on both listeners (the admin one trusts its caller; the public one checks the caller's ACL).
fn rbac_operations() -> Vec<Operation> {
    let crud = |collection: &'static str, item: &'static str, schema: &'static str, write: &'static str| {
        let what = schema;
        vec![
            Operation::new("get", collection, "The collection.")
                .session()
                .answers("200", what, array_of(schema))
                .errors(),
            Operation::new("post", collection, "Creates one.")
                .session()
                .json_body(reference(write))
                .answers("201", what, reference(schema))
                .errors(),
            Operation::new("get", item, "One.").session().answers("200", what, reference(schema)).errors(),
            Operation::new("put", item, "Replaces one.")
                .session()
                .json_body(reference(write))
                .answers("200", what, reference(schema))
                .errors(),
            Operation::new("patch", item, "Changes one (JSON merge patch, RFC 7396).")
                .session()
                .json_body(json!({ "type": "object" }))
                .answers("200", what, reference(schema))
                .errors(),
            Operation::new("delete", item, "Deletes one.").session().empty("204", "deleted").errors(),
        ]
    };
    let mut operations = Vec::new();
    operations.extend(crud("/api/v1/organizations", "/api/v1/organizations/{id}", "Organization", "OrganizationWrite"));
    operations.extend(crud(
        "/api/v1/organizations/{id}/groups",
        "/api/v1/organizations/{id}/groups/{group}",
        "Group",
        "GroupWrite",
    ));
    operations.extend(crud(
        "/api/v1/organizations/{id}/projects",
        "/api/v1/organizations/{id}/projects/{project}",
        "Project",
        "ProjectWrite",
    ));
    operations.extend(crud("/api/v1/roles", "/api/v1/roles/{id}", "Role", "RoleWrite"));
    operations.extend([
        Operation::new("get", "/api/v1/organizations/{id}/roles", "The roles the organization can use.")
            .session()
            .answers("200", "the roles", array_of("Role"))
            .errors(),
        Operation::new("get", "/api/v1/organizations/{id}/visible-projects", "The projects a scope lets one read.")
            .query("scope", string(), true)
            .query("identity", string(), false)
            .session()
            .answers(
                "200",
                "what is visible",
                object(
                    &["organization_id", "scope", "visibility", "project_ids"],
                    json!({
                        "organization_id": string(), "scope": string(),
                        "visibility": { "type": "string", "enum": ["everything", "organization", "projects"] },
                        "project_ids": { "type": "array", "items": string() },
                    }),
                ),
            )
            .errors(),
    ]);
    operations
}

/// The shared schemas.
fn schemas() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    json!({
        "Error": object(&["error"], json!({ "error": object(&["code", "status", "reason", "message"], json!({
            "id": string(), "code": { "type": "integer" }, "status": string(), "reason": string(), "message": string(),
        })) })),
        "OAuth2Error": object(&["error"], json!({ "error": string(), "error_description": string() })),
        "Status": object(&["status"], json!({ "status": string() })),
        "SchemaEntry": object(&["id", "schema"], json!({ "id": string(), "schema": { "type": "object" } })),
        "IdentityState": { "type": "string", "enum": ["active", "inactive"] },
        "Identity": object(
            &["id", "schema_id", "schema_url", "traits", "state", "created_at", "updated_at"],
            json!({
                "id": string(), "schema_id": string(), "schema_url": string(), "traits": { "type": "object" },
                "state": reference("IdentityState"), "created_at": time, "updated_at": time,
                "verifiable_addresses": { "type": "array" }, "recovery_addresses": { "type": "array" },
                "credentials": { "type": "object" },
            }),
        ),
        "Session": object(&["id", "active", "expires_at", "authenticator_assurance_level"], json!({
            "id": string(), "active": { "type": "boolean" }, "expires_at": time, "issued_at": time,
            "authenticated_at": time, "authenticator_assurance_level": string(),
            "authentication_methods": { "type": "array" }, "identity": reference("Identity"),
        })),
        "Flow": object(&["id", "type", "expires_at", "ui"], json!({
            "id": string(), "type": { "type": "string", "enum": ["api", "browser"] }, "expires_at": time,
            "issued_at": time, "request_url": string(),
            "ui": object(&["action", "method", "nodes"], json!({
                "action": string(), "method": string(), "nodes": { "type": "array" },
            })),
        })),
        "Discovery": object(&["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"], json!({
            "issuer": string(), "authorization_endpoint": string(), "token_endpoint": string(), "jwks_uri": string(),
        })),
        "Jwks": object(&["keys"], json!({ "keys": { "type": "array", "items": object(&["kty"], json!({ "kty": string() })) } })),
        "TokenResponse": object(&["access_token", "token_type"], json!({
            "access_token": string(), "token_type": string(), "expires_in": { "type": "integer" },
            "refresh_token": string(), "id_token": string(), "scope": string(),
        })),
        "OAuth2Client": object(&["client_id"], json!({
            "client_id": string(), "client_secret": string(), "client_name": string(),
            "redirect_uris": { "type": "array", "items": string() },
            "grant_types": { "type": "array", "items": string() }, "scope": string(),
            "token_endpoint_auth_method": string(),
        })),
        "Acl": { "type": "object" },
        "Enrollment": object(&["id", "identity_id", "method", "expires_at"], json!({
            "id": string(), "identity_id": string(), "method": string(), "created_at": time, "expires_at": time,
            "jwt": string(), "ca_id": string(), "username": string(),
        })),
        "IdentityProvider": object(&["id", "type", "client_id"], json!({
            "id": string(), "display_name": string(), "type": string(), "issuer": string(), "client_id": string(),
            "redirect_uri": string(), "scopes": { "type": "array", "items": string() },
        })),
        "IdentityProviderWrite": object(&["type", "client_id"], json!({
            "id": string(), "display_name": string(),
            "type": { "type": "string", "enum": ["oidc", "google", "microsoft", "github"] },
            "issuer": string(), "tenant": string(), "client_id": string(), "client_secret": string(),
            "scopes": { "type": "array", "items": string() }, "organization_id": string(), "schema_id": string(),
            "claims_mapping": { "type": "object" },
        })),
        "Organization": object(&["id", "name"], json!({
            "id": string(), "name": string(), "display_name": string(),
            "email_domains": { "type": "array", "items": string() },
        })),
        "OrganizationWrite": object(&["name"], json!({
            "name": string(), "display_name": string(), "email_domains": { "type": "array", "items": string() },
            "provider_id": string(),
        })),
        "Group": object(&["id", "organization_id", "name"], json!({
            "id": string(), "organization_id": string(), "name": string(),
            "members": { "type": "array", "items": string() }, "role_ids": { "type": "array", "items": string() },
            "upstream_groups": { "type": "array", "items": string() },
        })),
        "GroupWrite": object(&["name"], json!({
            "name": string(), "members": { "type": "array", "items": string() },
            "role_ids": { "type": "array", "items": string() }, "upstream_groups": { "type": "array", "items": string() },
        })),
        "Project": object(&["id", "organization_id", "name"], json!({
            "id": string(), "organization_id": string(), "name": string(),
            "group_ids": { "type": "array", "items": string() },
        })),
        "ProjectWrite": object(&["name"], json!({ "name": string(), "group_ids": { "type": "array", "items": string() } })),
        "Role": object(&["id", "name", "scopes"], json!({
            "id": string(), "name": string(), "description": string(), "scopes": { "type": "object" },
        })),
        "RoleWrite": object(&["name", "scopes"], json!({
            "name": string(), "description": string(), "scopes": { "type": "object" },
        })),
    })
}
