//! Certificate login, as OpenZiti's `POST /authenticate?method=cert`: on the mutual-TLS listener, the client
//! certificate of the connection signs its holder in, and the answer is that of a finished Kratos login flow,
//! `{"session_token", "session"}`. The certificate must be enrolled as the identity's authenticator (see
//! [`crate::enrollment_api`]); no certificate, an unknown or expired one (unless the identity's policy allows
//! expired certificates), a disabled identity, or a policy that does not allow certificates: 401.
//!
//! The session is aal1, as after a password. Where the identity has a second factor, `whoami` asks for it
//! (403 `session_aal2_required`) until a login flow created with `aal=aal2` and the session token completes it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use identity_auth::{ClientInfo, Error, IssuedSession};
use identity_core::{CredentialConfig, CredentialType, Identity};
use serde_json::json;

use crate::error::ApiError;
use crate::http::session_view;
use crate::metrics::LoginOutcome;
use crate::mtls::PeerCertificate;
use crate::state::AppState;

/// The route.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new().route("/authenticate", post(authenticate)).with_state(app)
}

/// A refused login as the client sees it: 401 with identity-auth's code, unless the server itself failed.
fn refused(error: Error) -> ApiError {
    match error {
        Error::Store(_) | Error::Internal { .. } | Error::Random | Error::Background { .. } => error.into(),
        other => ApiError::new(StatusCode::UNAUTHORIZED, other.to_string()).with_id(other.code()),
    }
}

async fn authenticate(
    State(app): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    peer: Option<Extension<PeerCertificate>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if params.get("method").map(String::as_str) != Some("cert") {
        return Err(ApiError::bad_request("`method` must be cert; passwords sign in through the login flow"));
    }
    // Only the mutual-TLS listener sets the extension, from the handshake: never from the request.
    let certificate = peer.and_then(|Extension(PeerCertificate(der))| der);
    let client = ClientInfo {
        ip_address: Some(address.ip()),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    let outcome = sign_in(&app, certificate, client).await;
    app.metrics.login(if outcome.is_ok() { LoginOutcome::Succeeded } else { LoginOutcome::Failed });
    let (issued, identity) = outcome.map_err(refused)?;
    let body = json!({
        "session_token": issued.token.expose_secret(),
        "session": session_view(&issued.session, Some(&identity), &app.public_url),
    });
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(crate::metrics::Subject(identity.id));
    Ok(response)
}

async fn sign_in(
    app: &AppState,
    certificate: Option<Vec<u8>>,
    client: ClientInfo,
) -> Result<(IssuedSession, Identity), Error> {
    let certificate = certificate.ok_or(Error::InvalidCredentials)?;
    let login = app.certificates.login.as_ref().ok_or(Error::MethodNotAllowed { method: "x509" })?;
    let (authenticated, verified) = login.authenticate_certificate(&certificate, &[]).await?;
    // identity-auth also maps a service's certificate by its common name; here only a certificate enrolled as
    // the identity's authenticator counts, since the enrollment CAs are not trusted to name services.
    let enrolled = authenticated.identity.credentials.get(CredentialType::X509).is_some_and(|credential| {
        matches!(&credential.config, CredentialConfig::X509(config)
            if config.certificates.iter().any(|held| held.fingerprint == verified.fingerprint))
    });
    if !enrolled {
        return Err(Error::InvalidCredentials);
    }
    let issued = app.sessions.issue(&authenticated.identity, authenticated.methods, client).await?;
    Ok((issued, authenticated.identity))
}
