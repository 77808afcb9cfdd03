//! The self-service flows over HTTP, with Kratos' paths and shapes: create (API or browser, with the CSRF
//! cookie), fetch, submit (JSON or form; browsers get 303s), recovery links, and logout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use identity_auth::{
    ClientInfo, Flow, FlowKind, FlowRequest, FlowType, LoginRequest, RequiredAal, Submission, Submitted,
};
use identity_core::{AssuranceLevel, FlowId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::ApiError;
use crate::http::{Audience, body_object, cookie, identity_view, session_view, wants_json};
use crate::state::AppState;

use crate::public::token_of;

pub(crate) async fn logout_api(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let fields = body_object(&headers, &body)?;
    let token = fields
        .get("session_token")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("`session_token` is required"))?;
    app.flows.logout(token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /self-service/logout/browser`: a logout URL and token for the session cookie's session.
pub(crate) async fn logout_browser(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = token_of(&app, &headers).ok_or(identity_auth::Error::SessionInactive)?;
    let logout = app.flows.logout_token(&token).await?;
    let url = format!("{}/self-service/logout?token={}", app.public_url, logout.expose_secret());
    Ok(Json(json!({ "logout_url": url, "logout_token": logout.expose_secret() })))
}

/// `GET /self-service/logout?token=`: signs the session out, clears the cookie, and sends the browser to
/// `return_to` (if allowed) or the default return URL; without either, 204.
pub(crate) async fn logout_with_token(
    State(app): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let token = params.get("token").ok_or_else(|| ApiError::bad_request("`token` is required"))?;
    let return_to = allowed_return_to(&app, params.get("return_to"))?;
    app.flows.logout_with_token(token).await?;
    let mut response = match return_to.or_else(|| app.config.selfservice.default_return_url.clone()) {
        Some(target) => redirect(&target),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    set_cookie(&app, &mut response, &app.config.session.cookie_name, "", Some(0));
    Ok(response)
}

/// `GET /self-service/recovery?flow=&code=`: a recovery link an operator handed out. Redeems the code, sets
/// the session cookie, and sends the browser to the default return URL (or answers the flow as JSON).
pub(crate) async fn open_link(
    State(app): State<Arc<AppState>>,
    Path(kind): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    if kind != "recovery" {
        return Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "submit this flow with POST"));
    }
    let id: FlowId = params
        .get("flow")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::bad_request("`flow` must be a flow id"))?;
    let code = params.get("code").ok_or_else(|| ApiError::bad_request("`code` is required"))?;
    let client = ClientInfo { ip_address: Some(peer.ip()), user_agent: None };
    let submission = Submission::new("code", json!({ "code": code })).from_client(client);
    match app.flows.submit_recovery(id, submission).await? {
        Submitted::Flow(flow) => Ok(flow_response(&flow, false)),
        Submitted::Done(done) => {
            let mut response = match &app.config.selfservice.default_return_url {
                Some(target) => redirect(target),
                None => Json(flow_json(&done.flow)).into_response(),
            };
            set_cookie(&app, &mut response, &app.config.session.cookie_name, done.session.token.expose_secret(), None);
            Ok(response)
        }
    }
}

fn flow_kind(kind: &str) -> Result<FlowKind, ApiError> {
    match kind {
        "login" => Ok(FlowKind::Login),
        "registration" => Ok(FlowKind::Registration),
        "settings" => Ok(FlowKind::Settings),
        "recovery" => Ok(FlowKind::Recovery),
        "verification" => Ok(FlowKind::Verification),
        _ => Err(ApiError::not_found("self-service flow")),
    }
}

/// The CSRF cookie's name, per Kratos: one per public base URL.
pub(crate) fn csrf_cookie_name(app: &AppState) -> String {
    let digest = Sha256::digest(app.public_url.as_bytes());
    let hex: String = digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
    format!("csrf_token_{hex}")
}

/// Whether `return_to` is allowed (a configured prefix), so flows never redirect to arbitrary sites.
fn allowed_return_to(app: &AppState, return_to: Option<&String>) -> Result<Option<String>, ApiError> {
    let Some(return_to) = return_to else { return Ok(None) };
    // The authorization endpoint sends browsers to log in and come back to it.
    let own_authorize = format!("{}/oauth2/auth?", app.public_url);
    let allowed = return_to.starts_with(&own_authorize)
        || app.config.selfservice.allowed_return_urls.iter().any(|prefix| return_to.starts_with(prefix.as_str()));
    if allowed { Ok(Some(return_to.clone())) } else { Err(ApiError::bad_request("`return_to` is not an allowed URL")) }
}

pub(crate) async fn create_or_fetch_flow(
    State(app): State<Arc<AppState>>,
    Path((kind, variant)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let kind = flow_kind(&kind)?;
    let flow_type = match variant.as_str() {
        // Kratos' rule: a browser must not start an API flow (it would skip CSRF protection).
        "api" if headers.contains_key(header::ORIGIN) || cookie(&headers, &csrf_cookie_name(&app)).is_some() => {
            return Err(ApiError::bad_request("API flows cannot be started by a browser; use the browser flow"));
        }
        "api" => FlowType::Api,
        "browser" => FlowType::Browser,
        "flows" => {
            let id: FlowId = params
                .get("id")
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| ApiError::bad_request("`id` must be a flow id"))?;
            let csrf = cookie(&headers, &csrf_cookie_name(&app));
            let token = token_of(&app, &headers);
            let flow = app.flows.flow(id, kind, csrf.as_deref(), token.as_deref()).await?;
            return Ok(Json(shown_flow(&app, kind, &flow, token.as_deref()).await?).into_response());
        }
        _ => return Err(ApiError::not_found("self-service flow")),
    };
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", serde_urlencoded::to_string(&params).unwrap_or_default())
    };
    let mut request =
        FlowRequest::new(flow_type, &format!("{}/self-service/{}/{variant}{query}", app.public_url, kind.as_str()));
    request.return_to = allowed_return_to(&app, params.get("return_to"))?;
    let token = token_of(&app, &headers);
    let created = match kind {
        FlowKind::Login => {
            request.refresh = params.get("refresh").is_some_and(|v| v == "true");
            request.requested_aal = match params.get("aal").map(String::as_str) {
                None | Some("") | Some("aal1") => None,
                Some("aal2") => Some(AssuranceLevel::Aal2),
                Some(_) => return Err(ApiError::bad_request("`aal` must be aal1 or aal2")),
            };
            app.flows.create_login(&LoginRequest { flow: request, session_token: token.clone() }).await?
        }
        FlowKind::Registration => app.flows.create_registration(&request).await?,
        FlowKind::Settings => {
            let token = token.as_deref().ok_or(identity_auth::Error::SessionInactive)?;
            app.flows.create_settings(&request, token).await?
        }
        FlowKind::Recovery => app.flows.create_recovery(&request).await?,
        FlowKind::Verification => app.flows.create_verification(&request).await?,
    };
    let body = shown_flow(&app, kind, &created.flow, token.as_deref()).await?;
    let mut response = match (flow_type, app.config.selfservice.ui_urls.get(kind.as_str())) {
        (FlowType::Browser, Some(ui)) if !wants_json(&headers) => redirect(&format!("{ui}?flow={}", created.flow.id)),
        _ => Json(body).into_response(),
    };
    if let Some(csrf) = &created.csrf_token {
        set_cookie(&app, &mut response, &csrf_cookie_name(&app), csrf.expose_secret(), None);
    }
    Ok(response)
}

/// A flow's JSON as Kratos shows it: settings flows carry the identity they are for (the session's).
async fn shown_flow(app: &AppState, kind: FlowKind, flow: &Flow, token: Option<&str>) -> Result<Value, ApiError> {
    let mut body = flow_json(&crate::federation::with_providers(app, flow).await?);
    if kind == FlowKind::Settings {
        let token = token.ok_or(identity_auth::Error::SessionInactive)?;
        let (_, identity) = crate::http::check_session(app, token, RequiredAal::Aal1).await?;
        body["identity"] = identity_view(&identity, &app.public_url, Audience::Owner);
    }
    Ok(body)
}

/// A flow's JSON, with `kind`-independent fields only (Kratos' shape).
fn flow_json(flow: &Flow) -> Value {
    serde_json::to_value(flow).unwrap_or(Value::Null)
}

/// A 303 to `to` (a 400 if it cannot be a header value).
pub(crate) fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => ApiError::bad_request("the redirect target is not a valid URL").into_response(),
    }
}

/// Adds cookie `name` (HttpOnly, SameSite=Lax, Secure on https), expiring after `max_age` seconds if given.
pub(crate) fn set_cookie(app: &AppState, response: &mut Response, name: &str, value: &str, max_age: Option<i64>) {
    let secure = app.config.session.cookie_secure.unwrap_or(app.public_url.starts_with("https://"));
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        cookie.push_str("; Secure");
    }
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

pub(crate) async fn submit_flow(
    State(app): State<Arc<AppState>>,
    Path(kind): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let kind = flow_kind(&kind)?;
    let id: FlowId = params
        .get("flow")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::bad_request("`flow` must be a flow id"))?;
    let mut fields = body_object(&headers, &body)?;
    // Kratos' oidc strategy answers any submission naming a `provider` (its UI's provider buttons send no method).
    let method = fields
        .get("method")
        .and_then(Value::as_str)
        .or_else(|| fields.get("provider").map(|_| "oidc"))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("`method` is required"))?;
    // Browser flows: the token in the form (or header) must be the one in the cookie.
    let presented = fields
        .get("csrf_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned));
    let csrf = match (presented, cookie(&headers, &csrf_cookie_name(&app))) {
        (Some(presented), Some(cookie)) if bool::from(presented.as_bytes().ct_eq(cookie.as_bytes())) => Some(presented),
        _ => None,
    };
    if method == "oidc" {
        return crate::federation::login::begin(&app, kind, id, &fields, csrf.as_deref(), &headers).await;
    }
    if let Value::Object(map) = &mut fields {
        map.remove("method");
        map.remove("csrf_token");
    }
    let client = ClientInfo {
        ip_address: Some(peer.ip()),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    // A request with a valid double-submit CSRF token comes from a browser, which gets its session as a cookie.
    let from_browser = csrf.is_some();
    let mut submission = Submission::new(&method, fields).from_client(client);
    submission.csrf_token = csrf;
    submission.session_token = token_of(&app, &headers);
    // A browser posting a form (not asking for JSON) is answered with redirects, as Kratos does.
    let browser_form = from_browser && !wants_json(&headers);
    let return_to = if browser_form {
        let flow =
            app.flows.flow(id, kind, submission.csrf_token.as_deref(), submission.session_token.as_deref()).await;
        flow.ok().and_then(|flow| flow.return_to)
    } else {
        None
    };
    let (response, done) = answer(&app, kind, id, submission, from_browser).await?;
    if !browser_form {
        return Ok(response);
    }
    let target = if done {
        return_to.or_else(|| app.config.selfservice.default_return_url.clone())
    } else {
        app.config.selfservice.ui_urls.get(kind.as_str()).map(|ui| format!("{ui}?flow={id}"))
    };
    let Some(target) = target else { return Ok(response) };
    let mut redirected = redirect(&target);
    for cookie in response.headers().get_all(header::SET_COOKIE) {
        redirected.headers_mut().append(header::SET_COOKIE, cookie.clone());
    }
    Ok(redirected)
}

/// Counts a login submission's outcome for the metrics. A flow handed back with messages failed; one handed back
/// at its next step (a second factor) is not over, so it is not counted yet.
fn count_login<T>(
    app: &AppState,
    result: Result<Submitted<T>, identity_auth::Error>,
) -> Result<Submitted<T>, identity_auth::Error> {
    use crate::metrics::LoginOutcome;
    let outcome = match &result {
        Ok(Submitted::Done(_)) => Some(LoginOutcome::Succeeded),
        Ok(Submitted::Flow(flow)) => flow.has_errors().then_some(LoginOutcome::Failed),
        Err(identity_auth::Error::RateLimited { .. }) => Some(LoginOutcome::Throttled),
        Err(_) => Some(LoginOutcome::Failed),
    };
    if let Some(outcome) = outcome {
        app.metrics.login(outcome);
    }
    result
}

/// The JSON answer to a submission, and whether the flow finished.
async fn answer(
    app: &AppState,
    kind: FlowKind,
    id: FlowId,
    submission: Submission,
    from_browser: bool,
) -> Result<(Response, bool), ApiError> {
    match kind {
        FlowKind::Login => match count_login(app, app.flows.submit_login(id, submission).await)? {
            // Kratos answers a login flow that goes on with 400 and the flow.
            Submitted::Flow(flow) => {
                Ok((flow_response(&crate::federation::with_providers(app, &flow).await?, true), false))
            }
            Submitted::Done(done) => {
                crate::metrics::acting_for(done.identity.id);
                let mut body = json!({ "session": session_view(&done.session, Some(&done.identity), &app.public_url) });
                if let Some(token) = &done.token {
                    body["session_token"] = json!(token.expose_secret());
                }
                let mut response = Json(body).into_response();
                if let Some(token) = &done.token
                    && from_browser
                {
                    set_cookie(app, &mut response, &app.config.session.cookie_name, token.expose_secret(), None);
                }
                Ok((response, true))
            }
        },
        FlowKind::Registration => match app.flows.submit_registration(id, submission).await? {
            Submitted::Flow(flow) => {
                Ok((flow_response(&crate::federation::with_providers(app, &flow).await?, true), false))
            }
            Submitted::Done(done) => {
                app.metrics.registration();
                crate::metrics::acting_for(done.identity.id);
                let mut body = json!({ "identity": identity_view(&done.identity, &app.public_url, Audience::Owner) });
                if let Some(issued) = &done.session {
                    body["session"] = session_view(&issued.session, Some(&done.identity), &app.public_url);
                    body["session_token"] = json!(issued.token.expose_secret());
                }
                let continue_with: Vec<Value> = done
                    .verification_flows
                    .iter()
                    .map(|(flow, address)| {
                        json!({ "action": "show_verification_ui", "flow": { "id": flow.id, "verifiable_address": address, "url": flow.ui.action } })
                    })
                    .collect();
                if !continue_with.is_empty() {
                    body["continue_with"] = Value::Array(continue_with);
                }
                let mut response = Json(body).into_response();
                if let Some(issued) = &done.session
                    && from_browser
                {
                    set_cookie(app, &mut response, &app.config.session.cookie_name, issued.token.expose_secret(), None);
                }
                Ok((response, true))
            }
        },
        FlowKind::Settings => {
            let token = submission.session_token.clone();
            let flow = app.flows.submit_settings(id, submission).await?;
            let status = if flow.has_errors() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            Ok(((status, Json(shown_flow(app, kind, &flow, token.as_deref()).await?)).into_response(), false))
        }
        FlowKind::Recovery => match app.flows.submit_recovery(id, submission).await? {
            Submitted::Flow(flow) => Ok((flow_response(&flow, false), false)),
            Submitted::Done(done) => {
                let token = done.session.token.expose_secret().to_owned();
                let mut continue_with = vec![json!({ "action": "set_ory_session_token", "ory_session_token": token })];
                // Where a second factor is set up, the new one-factor session must be upgraded before settings.
                let request = FlowRequest::new(FlowType::Api, &format!("{}/self-service/settings/api", app.public_url));
                match app.flows.create_settings(&request, &token).await {
                    Ok(settings) => continue_with.push(json!({
                        "action": "show_settings_ui",
                        "flow": { "id": settings.flow.id, "url": settings.flow.ui.action }
                    })),
                    Err(identity_auth::Error::Aal2Required) => {}
                    Err(other) => return Err(other.into()),
                }
                let mut body = flow_json(&done.flow);
                body["continue_with"] = Value::Array(continue_with);
                Ok((Json(body).into_response(), true))
            }
        },
        FlowKind::Verification => match app.flows.submit_verification(id, submission).await? {
            Submitted::Flow(flow) => Ok((flow_response(&flow, false), false)),
            Submitted::Done(done) => Ok((Json(flow_json(&done.flow)).into_response(), true)),
        },
    }
}

/// A flow shown again: 400 when it carries errors (or always, for login and registration, whose success
/// answers have another shape), 200 otherwise.
fn flow_response(flow: &Flow, always_400: bool) -> Response {
    let status = if always_400 || flow.has_errors() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (status, Json(flow_json(flow))).into_response()
}
