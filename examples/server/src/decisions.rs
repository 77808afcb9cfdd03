//! Forward-auth decisions (`/decisions/*`, any method) for an identity-aware proxy in front of apps that know
//! nothing about identity, with identity-rbac's access rules.
//!
//! The original request comes from Traefik's ForwardAuth headers (`X-Forwarded-Method`, `-Proto`, `-Host`,
//! `-Uri`), or, as nginx's `auth_request` is usually set up, from the path after `/decisions` with the host and
//! scheme from `X-Forwarded-Host`/`-Proto` (or `Host`). The answer is 200 with the rule's headers, 401, 403, or
//! for a browser that must sign in a redirect to the login page: 302 for Traefik, and for nginx (which turns any
//! status but 2xx, 401 and 403 into a 500) a 401 carrying the login URL in `Location`, for an `error_page 401`
//! to follow. Failing to check a credential (the store is down) makes the caller anonymous: the rules then deny
//! whatever needs a subject, and the proxy never gets a 5xx.
//!
//! The rules load from a file at start; SIGHUP reloads them ([`AccessRules::reload`]), and a file that does not
//! load leaves the rules in force unchanged.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use identity_auth::RequiredAal;
use identity_core::Identity;
use identity_rbac::{
    Authenticator, Caller, CompiledAcl, Decision, ForwardedRequest, PresentedCredentials, Principal, Request,
    RuleFormat, Rules, RulesConfig, Subject,
};

use crate::config::ConfigError;
use crate::error::ApiError;
use crate::state::AppState;

/// The access rules in force, and the file they come from.
pub struct AccessRules {
    file: PathBuf,
    config: RulesConfig,
    rules: RwLock<Arc<Rules>>,
}

impl std::fmt::Debug for AccessRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessRules").field("file", &self.file).finish_non_exhaustive()
    }
}

fn read(file: &std::path::Path, config: &RulesConfig) -> Result<Rules, ConfigError> {
    let field = |message: String| ConfigError::Field { path: "access_rules.file".into(), message };
    let text = std::fs::read_to_string(file).map_err(|e| field(format!("{}: {e}", file.display())))?;
    let format = match file.extension().and_then(|e| e.to_str()) {
        Some("json") => RuleFormat::Json,
        _ => RuleFormat::Yaml,
    };
    Rules::load(&text, format, config.clone()).map_err(|e| field(e.to_string()))
}

impl AccessRules {
    /// The rules of `file` (YAML, or JSON by its extension) under `config`.
    pub fn load(file: PathBuf, config: RulesConfig) -> Result<Self, ConfigError> {
        let rules = read(&file, &config)?;
        Ok(Self { file, config, rules: RwLock::new(Arc::new(rules)) })
    }

    /// Reads the file again. Requests keep being decided meanwhile, by the old rules until the new ones are in;
    /// if the file no longer loads, the old rules stay and the error says why.
    pub fn reload(&self) -> Result<usize, ConfigError> {
        let rules = read(&self.file, &self.config)?;
        let count = rules.len();
        *self.rules.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(rules);
        Ok(count)
    }

    /// The rules in force.
    pub fn current(&self) -> Arc<Rules> {
        self.rules.read().map_or_else(|poisoned| poisoned.into_inner().clone(), |rules| rules.clone())
    }
}

/// The original request, and whether it came the nginx way (from the path), which decides how a login redirect
/// is answered.
fn original(method: &Method, uri: &Uri, pairs: &[(&str, &str)]) -> Option<(String, String, bool)> {
    if let Some(forwarded) = ForwardedRequest::from_headers(pairs) {
        return Some((forwarded.method, forwarded.url, false));
    }
    let find = |name: &str| pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
    let rest = uri.path_and_query()?.as_str().strip_prefix("/decisions")?;
    let rest = if rest.is_empty() { "/" } else { rest };
    if !rest.starts_with('/') {
        return None;
    }
    let host = find("x-forwarded-host").or_else(|| find("host"))?;
    let proto = find("x-forwarded-proto").unwrap_or("http");
    let method = find("x-forwarded-method").unwrap_or(method.as_str());
    Some((method.to_owned(), format!("{proto}://{host}{rest}"), true))
}

/// `/decisions` and `/decisions/*`.
pub async fn decide(State(app): State<Arc<AppState>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let Some(access) = &app.access_rules else {
        return ApiError::new(StatusCode::FORBIDDEN, "no access rules are configured").into_response();
    };
    let pairs: Vec<(&str, &str)> =
        headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))).collect();
    let Some((original_method, url, from_path)) = original(&method, &uri, &pairs) else {
        return forbidden();
    };
    let request = Request { method: &original_method, url: &url, headers: &pairs };
    let rules = access.current();
    let resolved = match rules.matched(&request) {
        Some(rule) => {
            let presented = PresentedCredentials::from_headers(&pairs, &app.config.session.cookie_name);
            resolve(&app, &presented.in_order(rule.authenticators())).await
        }
        None => None,
    };
    let caller = match &resolved {
        Some((via, principal, acl)) => Caller::Authenticated { via: *via, principal, acl: acl.as_ref() },
        None => Caller::Anonymous,
    };
    match rules.decide(&request, &caller) {
        Decision::Allow(set) => {
            let mut response = StatusCode::OK.into_response();
            for (name, value) in set {
                if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Decision::Unauthorized { login: Some(login) } => {
            let mut response = if from_path { unauthorized() } else { StatusCode::FOUND.into_response() };
            if let Ok(location) = HeaderValue::try_from(login) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Decision::Unauthorized { login: None } => unauthorized(),
        Decision::Forbidden => forbidden(),
    }
}

/// Refusals are Kratos' error JSON like every other error of this listener (and so keep their headers).
fn unauthorized() -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "the request needs a signed-in subject").into_response()
}

fn forbidden() -> Response {
    ApiError::new(StatusCode::FORBIDDEN, "the access rules forbid the request").into_response()
}

/// The first credential of `candidates` that proves an active identity, with its principal and its ACL in its
/// organization. Failures (a bad token, the store unreachable) are logged and make the caller anonymous.
async fn resolve(
    app: &AppState,
    candidates: &[(Authenticator, &str)],
) -> Option<(Authenticator, Principal, Option<CompiledAcl>)> {
    for (via, credential) in candidates {
        let identity: Option<Identity> = match via {
            Authenticator::CookieSession | Authenticator::BearerSessionToken => {
                crate::http::check_session(app, credential, RequiredAal::HighestAvailable)
                    .await
                    .ok()
                    .map(|(_, identity)| identity)
            }
            Authenticator::BearerJwt => crate::oauth2::identity_of_access_token(app, credential).await,
            _ => None,
        };
        let Some(identity) = identity else { continue };
        let mut principal = Principal::from_identity(&identity);
        let mut acl = None;
        if let Some(organization) = identity.organization_id {
            match app.acls.snapshot(organization).await {
                Ok(snapshot) => {
                    let subject = Subject::new(identity.id);
                    principal.roles = snapshot.role_names(&subject);
                    acl = Some(snapshot.compile(&subject, app.acls.administrators()));
                }
                Err(error) => tracing::warn!(error = %error, "the organization's ACL could not be read"),
            }
        }
        return Some((*via, principal, acl));
    }
    None
}
