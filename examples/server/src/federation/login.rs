//! The login at an upstream, Kratos' way: a login or registration flow submitted with `method: "oidc"` (and a
//! `provider`, or an identifier whose domain an organization owns) sends the browser to the upstream (303, or
//! 422 `browser_location_change_required` for a script asking for JSON); the upstream sends it back to
//! `/self-service/methods/oidc/callback/{provider}`, which completes the login, links the account to a local
//! identity and issues the session cookie.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use identity_auth::{ClientInfo, Flow, FlowKind, FlowType};
use identity_core::time::OffsetDateTime;
use identity_core::{AssuranceLevel, AuthenticationMethod, CredentialType, FlowId, Identity, ProviderId};
use identity_oidc::federation::{
    Callback, LinkOutcome, PENDING_LIFETIME, PendingLogin, Route, UpstreamIdentity, UpstreamProvider, route,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{oidc_error, redirect_uri};
use crate::error::ApiError;
use crate::flows::{csrf_cookie_name, redirect, set_cookie};
use crate::http::{body_object, cookie, session_view, wants_json};
use crate::metrics::{LoginOutcome, Subject};
use crate::state::AppState;

/// The document kind started logins are kept under, each named by its [`PendingLogin::lookup_key`].
pub const PENDING_KIND: &str = "federation_pending_login";

/// A started login as stored: the library's pending login (with its secrets) and the flow it belongs to.
#[derive(Serialize, Deserialize)]
struct PendingDocument {
    flow_id: FlowId,
    flow_kind: FlowKind,
    /// Unix seconds; the sooner of the flow's end and the pending login's lifetime.
    expires_at: i64,
    login: Value,
}

pub(super) fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/self-service/methods/oidc/callback/{provider}", get(callback_query).post(callback_form))
        .with_state(app)
}

/// Submits flow `id` of `kind` with the `oidc` method: checks the flow (a browser flow, with the CSRF token of
/// its cookie in `csrf`), picks the provider, keeps the started login server-side and sends the browser on.
pub(crate) async fn begin(
    app: &AppState,
    kind: FlowKind,
    id: FlowId,
    fields: &Value,
    csrf: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if !matches!(kind, FlowKind::Login | FlowKind::Registration) {
        return Err(ApiError::bad_request("the oidc method belongs to login and registration flows")
            .with_id("self_service_flow_method_invalid"));
    }
    let flow = app.flows.flow(id, kind, csrf, None).await?;
    if flow.flow_type != FlowType::Browser {
        // The callback finds the login by the browser's CSRF cookie; a native app has none to present.
        return Err(ApiError::bad_request("signing in at an upstream provider needs a browser flow"));
    }
    if flow.refresh || flow.requested_aal.is_some() {
        return Err(ApiError::bad_request("an upstream provider cannot refresh or upgrade a session"));
    }
    let provider = chosen_provider(app, kind, fields).await?;
    let begun =
        app.federation.federation.begin(&provider, &redirect_uri(app, provider.id)).await.map_err(oidc_error)?;
    let lapses = (begun.pending.started_at + PENDING_LIFETIME).min(flow.expires_at);
    let document = PendingDocument {
        flow_id: flow.id,
        flow_kind: kind,
        expires_at: lapses.unix_timestamp(),
        login: begun.pending.to_internal_json(),
    };
    let document = serde_json::to_value(&document).map_err(|_| internal("a pending login does not encode"))?;
    app.store.put_document(PENDING_KIND, &begun.pending.lookup_key(), &document, None).await?;
    let url = begun.authorization_url;
    if wants_json(headers) {
        let reason = format!("In order to complete this flow please redirect the browser to: {url}");
        return Ok(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason)
            .with_id("browser_location_change_required")
            .with_redirect_browser_to(url)
            .into_response());
    }
    Ok(redirect(&url))
}

/// The provider the submission names, or else the one of the organization owning the identifier's domain.
async fn chosen_provider(app: &AppState, kind: FlowKind, fields: &Value) -> Result<UpstreamProvider, ApiError> {
    if let Some(chosen) = fields.get("provider").and_then(Value::as_str).filter(|p| !p.is_empty()) {
        let unknown = || ApiError::bad_request(format!("`provider`: unknown upstream provider `{chosen}`"));
        let id: ProviderId = chosen.parse().map_err(|_| unknown())?;
        let stored = app.federation.providers.get(id).await.map_err(oidc_error)?;
        return stored.map(|stored| stored.provider).ok_or_else(unknown);
    }
    let email = match kind {
        FlowKind::Login => fields.get("identifier"),
        _ => fields.pointer("/traits/email").or_else(|| fields.get("traits.email")),
    };
    let providers = app.federation.providers.list().await.map_err(oidc_error)?;
    let organizations = app.store.list_organizations().await?;
    match route(email.and_then(Value::as_str), &organizations, &providers).map_err(oidc_error)? {
        Route::Organization { provider, .. } => Ok(provider.clone()),
        Route::Choose(_) => Err(ApiError::bad_request(
            "`provider` is required: no organization signs in users of this identifier's domain",
        )),
    }
}

async fn callback_query(
    State(app): State<Arc<AppState>>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let callback: Callback = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("the callback's query does not decode: {e}")))?;
    counted(&app, complete(&app, &provider, callback, peer, &headers).await)
}

/// The callback of upstreams answering with `response_mode=form_post`. Note that a browser posting across sites
/// leaves out `SameSite=Lax` cookies, the CSRF cookie among them, so such a callback is refused as a CSRF
/// violation; this server asks upstreams for the default query mode.
async fn callback_form(
    State(app): State<Arc<AppState>>,
    Path(provider): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let callback: Callback = serde_json::from_value(body_object(&headers, &body)?)
        .map_err(|e| ApiError::bad_request(format!("the callback's form does not decode: {e}")))?;
    counted(&app, complete(&app, &provider, callback, peer, &headers).await)
}

fn counted(app: &AppState, result: Result<Response, ApiError>) -> Result<Response, ApiError> {
    app.metrics.login(if result.is_ok() { LoginOutcome::Succeeded } else { LoginOutcome::Failed });
    result
}

fn internal(what: &str) -> ApiError {
    tracing::error!(what, "federation");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "An internal error occurred.")
}

/// Completes the login the callback's `state` names: consumes it (a replay finds nothing), checks it belongs to
/// this provider, to a flow still open and to this browser, has the upstream confirm it, links the account and
/// signs the identity in.
async fn complete(
    app: &AppState,
    provider: &str,
    callback: Callback,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::not_found("upstream provider");
    let provider_id: ProviderId = provider.parse().map_err(|_| unknown())?;
    let provider = app.federation.providers.get(provider_id).await.map_err(oidc_error)?.ok_or_else(unknown)?.provider;
    let key = callback.lookup_key().ok_or_else(|| ApiError::bad_request("`state` is required"))?;
    let document = take_pending(app, &key).await?;
    let pending = PendingLogin::from_internal_json(&document.login).map_err(oidc_error)?;
    if pending.provider != provider.id {
        return Err(oidc_error(identity_oidc::Error::UpstreamStateMismatch));
    }
    if app.clock.now().unix_timestamp() >= document.expires_at {
        return Err(oidc_error(identity_oidc::Error::UpstreamLoginExpired));
    }
    let csrf = cookie(headers, &csrf_cookie_name(app));
    let flow = app.flows.flow(document.flow_id, document.flow_kind, csrf.as_deref(), None).await?;
    if callback.code.is_none() && callback.error.is_none() {
        return Err(ApiError::bad_request("the callback carries neither `code` nor `error`"));
    }
    let upstream = app.federation.federation.complete(&provider, &pending, &callback).await.map_err(oidc_error)?;
    check_organization(app, &provider, &upstream).await?;
    let identity = linked_identity(app, &provider, upstream).await?;
    sign_in(app, flow, &identity, peer, headers).await
}

/// Takes the started login stored under `key` out of the store: of two callbacks racing with one `state`, the
/// store's delete lets exactly one through.
async fn take_pending(app: &AppState, key: &str) -> Result<PendingDocument, ApiError> {
    let unknown = || ApiError::bad_request("the upstream login is unknown or already completed; start again");
    let stored = app.store.document(PENDING_KIND, key).await?.ok_or_else(unknown)?;
    match app.store.delete_document(PENDING_KIND, key).await {
        Ok(()) => {}
        Err(identity_store::Error::NotFound { .. }) => return Err(unknown()),
        Err(other) => return Err(other.into()),
    }
    serde_json::from_value(stored.document).map_err(|_| internal("a pending login does not decode"))
}

/// An organization's users sign in at its provider only: an upstream account whose email's domain an
/// organization owns is refused at any other provider, so a social login with a company address cannot bypass
/// the company's IdP.
async fn check_organization(
    app: &AppState,
    provider: &UpstreamProvider,
    upstream: &UpstreamIdentity,
) -> Result<(), ApiError> {
    if upstream.email.is_none() {
        return Ok(());
    }
    let organizations = app.store.list_organizations().await?;
    // Routed among this provider alone, an address owned by an organization with another provider finds none.
    match route(upstream.email.as_deref(), &organizations, std::slice::from_ref(provider)) {
        Ok(_) => Ok(()),
        Err(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this email address belongs to an organization that signs in at another provider",
        )),
    }
}

/// The local identity of the upstream account: linked before, or created now. An account whose email already
/// belongs to an identity is not linked silently (that would hand the identity to whoever controls the upstream
/// account): the user must sign in to it first.
async fn linked_identity(
    app: &AppState,
    provider: &UpstreamProvider,
    upstream: UpstreamIdentity,
) -> Result<Identity, ApiError> {
    match app.federation.linker.resolve(provider, upstream).await.map_err(oidc_error)? {
        LinkOutcome::Linked(identity) => Ok(identity),
        LinkOutcome::Created(identity) => {
            app.metrics.registration();
            Ok(identity)
        }
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "an account with this email address exists already: sign in to it with its own credentials",
        )),
    }
}

/// Issues the session, ends the flow and sends the browser where the flow was to go (or answers the session).
async fn sign_in(
    app: &AppState,
    flow: Flow,
    identity: &Identity,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let now: OffsetDateTime = app.clock.now();
    let method = AuthenticationMethod { method: CredentialType::Oidc, aal: AssuranceLevel::Aal1, completed_at: now };
    let client = ClientInfo {
        ip_address: Some(peer.ip()),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    let issued = app.sessions.issue(identity, vec![method], client).await?;
    match app.store.delete_flow(flow.id).await {
        Ok(()) | Err(identity_store::Error::NotFound { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    let mut response = match flow.return_to.or_else(|| app.config.selfservice.default_return_url.clone()) {
        Some(target) => redirect(&target),
        None => {
            Json(json!({ "session": session_view(&issued.session, Some(identity), &app.public_url) })).into_response()
        }
    };
    set_cookie(app, &mut response, &app.config.session.cookie_name, issued.token.expose_secret(), None);
    response.extensions_mut().insert(Subject(identity.id));
    Ok(response)
}

/// Deletes the started logins that lapsed (their callback never came); returns how many.
pub async fn delete_lapsed(app: &AppState) -> Result<u64, identity_store::Error> {
    let now = app.clock.now().unix_timestamp();
    let mut deleted = 0;
    for stored in app.store.list_documents(PENDING_KIND).await? {
        let lapsed = serde_json::from_value::<PendingDocument>(stored.document).map_or(true, |d| d.expires_at <= now);
        if !lapsed {
            continue;
        }
        match app.store.delete_document(PENDING_KIND, &stored.name).await {
            Ok(()) => deleted += 1,
            // Its callback came meanwhile.
            Err(identity_store::Error::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(deleted)
}
