//! Upstream providers on the admin listener: `GET`/`POST /admin/identity-providers`, `GET`/`PUT`/`DELETE
//! /admin/identity-providers/{id}`. A client secret is taken on write, sealed at once, and never answered: the
//! views list what a provider is, not what it knows.
//!
//! The JSON written: `{id?, display_name, type: oidc|google|microsoft|github, issuer (oidc), tenant (microsoft),
//! client_id, client_secret (required on create; kept when left out of a replacement), scopes?,
//! organization_id?, claims_mapping?, schema_id?}`. The JSON answered is the same without `client_secret`, plus
//! the `redirect_uri` to register at the upstream.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use identity_core::{OrganizationId, ProviderId, SealedSecret, SecretString};
use identity_oidc::federation::{ClaimsMapping, UpstreamKind, UpstreamProvider, check_url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{oidc_error, redirect_uri};
use crate::error::ApiError;
use crate::http::body_object;
use crate::state::AppState;

/// The admin routes.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/admin/identity-providers", get(list).post(create))
        .route("/admin/identity-providers/{id}", get(show).put(replace).delete(remove))
        .with_state(app)
}

/// A provider as written. No `Debug`: it holds the client secret in the clear.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderWrite {
    #[serde(default)]
    id: Option<ProviderId>,
    display_name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
    client_id: String,
    #[serde(default)]
    client_secret: Option<SecretString>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    organization_id: Option<OrganizationId>,
    #[serde(default)]
    claims_mapping: Option<BTreeMap<String, String>>,
    #[serde(default)]
    schema_id: Option<String>,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("`{field}`: {message}"))
}

fn parse(headers: &HeaderMap, body: &[u8]) -> Result<ProviderWrite, ApiError> {
    serde_path_to_error::deserialize(body_object(headers, body)?).map_err(|e| invalid(&e.path().to_string(), e.inner()))
}

fn provider_id(text: &str) -> Result<ProviderId, ApiError> {
    text.parse().map_err(|_| ApiError::not_found("upstream provider"))
}

/// The kind `write` names, checked: an issuer only for (and required by) `oidc`, a tenant for `microsoft`.
fn kind_of(write: &ProviderWrite) -> Result<UpstreamKind, ApiError> {
    let kind = match write.kind.as_str() {
        "oidc" => {
            let issuer = write.issuer.as_deref().map(str::trim).unwrap_or_default();
            if issuer.is_empty() {
                return Err(invalid("issuer", "is required for type oidc"));
            }
            check_url(issuer).map_err(|_| invalid("issuer", "must be an https URL (http only on loopback)"))?;
            if issuer.contains(['?', '#']) {
                return Err(invalid("issuer", "must not carry a query or fragment"));
            }
            UpstreamKind::Oidc { issuer: issuer.trim_end_matches('/').to_owned() }
        }
        "google" => UpstreamKind::Google,
        "github" => UpstreamKind::Github,
        "microsoft" => {
            let tenant = write.tenant.as_deref().unwrap_or_default();
            let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
            if tenant.is_empty() || !tenant.chars().all(valid) {
                return Err(invalid("tenant", "must be a tenant id, a domain, `common` or `organizations`"));
            }
            UpstreamKind::Microsoft { tenant: tenant.to_owned() }
        }
        other => return Err(invalid("type", format!("`{other}` is not one of oidc, google, microsoft, github"))),
    };
    if write.issuer.is_some() && !matches!(kind, UpstreamKind::Oidc { .. }) {
        return Err(invalid("issuer", "is only for type oidc"));
    }
    if write.tenant.is_some() && !matches!(kind, UpstreamKind::Microsoft { .. }) {
        return Err(invalid("tenant", "is only for type microsoft"));
    }
    Ok(kind)
}

/// Checks `write` and makes it provider `id`, sealing a new secret or keeping `kept` (a replacement's).
async fn provider_of(
    app: &AppState,
    id: ProviderId,
    write: ProviderWrite,
    kept: Option<SealedSecret>,
) -> Result<UpstreamProvider, ApiError> {
    let kind = kind_of(&write)?;
    let display_name = write.display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 100 {
        return Err(invalid("display_name", "must be 1 to 100 characters"));
    }
    if write.client_id.trim().is_empty() {
        return Err(invalid("client_id", "must not be empty"));
    }
    if let Some(bad) = write.scopes.iter().find(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        return Err(invalid("scopes", format!("`{bad}` is not a scope")));
    }
    let needs_openid = !matches!(kind, UpstreamKind::Github);
    if needs_openid && !write.scopes.is_empty() && !write.scopes.iter().any(|s| s == "openid") {
        return Err(invalid("scopes", "must include `openid`: the login needs the upstream's ID token"));
    }
    if let Some(organization) = write.organization_id {
        match app.store.organization(organization).await {
            Ok(_) => {}
            Err(identity_store::Error::NotFound { .. }) => {
                return Err(invalid("organization_id", "no such organization"));
            }
            Err(other) => return Err(other.into()),
        }
    }
    let schema_id = write.schema_id.unwrap_or_else(|| app.config.identity.default_schema_id.clone());
    if app.schemas.get(&schema_id).is_err() {
        return Err(invalid("schema_id", format!("unknown identity schema `{schema_id}`")));
    }
    let claims_mapping = match write.claims_mapping {
        Some(mapping) => {
            if let Some((path, _)) = mapping.iter().find(|(path, claim)| path.is_empty() || claim.is_empty()) {
                return Err(invalid("claims_mapping", format!("`{path}` maps an empty trait path or claim")));
            }
            ClaimsMapping(mapping)
        }
        None => ClaimsMapping::standard(),
    };
    let client_secret = match (write.client_secret, kept) {
        (Some(secret), _) if secret.expose_secret().is_empty() => return Err(invalid("client_secret", "is empty")),
        (Some(secret), _) => UpstreamProvider::seal_secret(id, &secret, &app.cipher).map_err(oidc_error)?,
        (None, Some(kept)) => kept,
        (None, None) => return Err(invalid("client_secret", "is required")),
    };
    Ok(UpstreamProvider {
        id,
        display_name: display_name.to_owned(),
        kind,
        client_id: write.client_id.trim().to_owned(),
        client_secret,
        scopes: write.scopes,
        organization_id: write.organization_id,
        claims_mapping,
        schema_id,
    })
}

/// What an operator sees of `provider`: everything but the secret, and where the upstream must send browsers.
fn view(app: &AppState, provider: &UpstreamProvider) -> Value {
    let mut view = json!({
        "id": provider.id,
        "display_name": provider.display_name,
        "client_id": provider.client_id,
        "scopes": provider.effective_scopes(),
        "organization_id": provider.organization_id,
        "claims_mapping": provider.claims_mapping,
        "schema_id": provider.schema_id,
        "redirect_uri": redirect_uri(app, provider.id),
    });
    let (kind, extra) = match &provider.kind {
        UpstreamKind::Oidc { issuer } => ("oidc", Some(("issuer", issuer))),
        UpstreamKind::Google => ("google", None),
        UpstreamKind::Microsoft { tenant } => ("microsoft", Some(("tenant", tenant))),
        UpstreamKind::Github => ("github", None),
    };
    view["type"] = json!(kind);
    if let Some((name, value)) = extra {
        view[name] = json!(value);
    }
    view
}

async fn list(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let providers = app.federation.providers.list().await.map_err(oidc_error)?;
    Ok(Json(Value::Array(providers.iter().map(|p| view(&app, p)).collect())))
}

async fn create(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let write = parse(&headers, &body)?;
    let id = write.id.unwrap_or_else(ProviderId::new);
    let provider = provider_of(&app, id, write, None).await?;
    app.federation.providers.create(&provider).await.map_err(oidc_error)?;
    tracing::info!(provider = %provider.id, "upstream provider created");
    Ok((StatusCode::CREATED, Json(view(&app, &provider))).into_response())
}

async fn show(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let stored = app.federation.providers.get(provider_id(&id)?).await.map_err(oidc_error)?;
    let stored = stored.ok_or_else(|| ApiError::not_found("upstream provider"))?;
    Ok(Json(view(&app, &stored.provider)))
}

/// A full replacement; the stored secret stays unless a new one is given. Two operators replacing one provider
/// at once cannot overwrite each other: the later one gets 409 and reads again.
async fn replace(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = provider_id(&id)?;
    let write = parse(&headers, &body)?;
    if write.id.is_some_and(|named| named != id) {
        return Err(invalid("id", "must be the id in the path"));
    }
    let stored = app.federation.providers.get(id).await.map_err(oidc_error)?;
    let stored = stored.ok_or_else(|| ApiError::not_found("upstream provider"))?;
    let provider = provider_of(&app, id, write, Some(stored.provider.client_secret)).await?;
    app.federation.providers.replace(&provider, stored.version).await.map_err(oidc_error)?;
    tracing::info!(provider = %provider.id, "upstream provider replaced");
    Ok(Json(view(&app, &provider)))
}

async fn remove(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = provider_id(&id)?;
    app.federation.providers.delete(id).await.map_err(|error| match error {
        identity_oidc::Error::Store(identity_store::Error::NotFound { .. }) => ApiError::not_found("upstream provider"),
        other => oidc_error(other),
    })?;
    tracing::info!(provider = %id, "upstream provider deleted");
    Ok(StatusCode::NO_CONTENT)
}
