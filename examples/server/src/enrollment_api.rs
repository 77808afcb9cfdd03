//! Enrollments over HTTP (OpenZiti's model, in this server's JSON style).
//!
//! Admin listener: `POST /admin/identities/{id}/enrollments` with `{"method": "ott"}`, `{"method": "ottca",
//! "ca_id": "<configured CA id>"}` or `{"method": "updb", "username": "..."}` answers 201 with the enrollment
//! and its one-time `jwt` (shown this once); `GET` lists an identity's open enrollments, `GET|DELETE
//! .../enrollments/{enrollment_id}` shows or withdraws one, and `POST .../refresh` gives it a new JWT and expiry
//! (the old JWT stops working).
//!
//! Public listeners: `POST /enroll?method=ott` with `{"jwt", "csr"}` (the CSR in PEM) answers 200 with
//! `{"identity_id", "certificate", "ca"}` (PEM: the certificate the platform CA issued, now the identity's
//! authenticator, and the CA's own). `POST /enroll?method=ottca` with `{"jwt"}` on the mutual-TLS listener
//! registers the client certificate of the connection, issued by the enrollment's third-party CA, and answers
//! `{"identity_id", "fingerprint"}`. `POST /enroll?method=updb` with `{"jwt", "username", "password"}` sets the
//! password. Bodies may be JSON or forms. The JWT is the credential, so `ott` and `updb` work on the plain
//! listener too.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use identity_core::{CaId, CertificateFingerprint, Enrollment, EnrollmentId, EnrollmentMethod, SecretString};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::admin_api::identity_id;
use crate::certificates::pem;
use crate::error::ApiError;
use crate::http::{body_object, rfc3339};
use crate::mtls::PeerCertificate;
use crate::state::AppState;

/// The admin routes: an identity's enrollments.
pub fn admin(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/admin/identities/{id}/enrollments", get(list).post(create))
        .route("/admin/identities/{id}/enrollments/{enrollment}", get(show).delete(withdraw))
        .route("/admin/identities/{id}/enrollments/{enrollment}/refresh", post(refresh))
        .with_state(app)
}

/// The public routes: completing an enrollment.
pub fn public(app: Arc<AppState>) -> Router {
    Router::new().route("/enroll", post(enroll)).with_state(app)
}

/// An enrollment as the admin API shows it: never its token's hash.
fn view(enrollment: &Enrollment) -> Value {
    let mut view = json!({
        "id": enrollment.id,
        "identity_id": enrollment.identity_id,
        "created_at": rfc3339(enrollment.created_at),
        "expires_at": rfc3339(enrollment.expires_at),
    });
    match &enrollment.method {
        EnrollmentMethod::Ott => view["method"] = json!("ott"),
        EnrollmentMethod::Ottca { ca_id } => {
            view["method"] = json!("ottca");
            view["ca_id"] = json!(ca_id);
        }
        EnrollmentMethod::Updb { username } => {
            view["method"] = json!("updb");
            view["username"] = json!(username);
        }
    }
    view
}

/// A string field of `body`, required.
fn text<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("`{name}` is required")))
}

/// The method an admin asks for, checked against what this server can complete.
fn requested_method(app: &AppState, body: &Value) -> Result<EnrollmentMethod, ApiError> {
    match text(body, "method")? {
        "ott" if app.certificates.platform_ca.is_none() => {
            Err(ApiError::bad_request("`ott` enrollments need the platform CA; configure `enrollment.ca`"))
        }
        "ott" => Ok(EnrollmentMethod::Ott),
        "ottca" => {
            let ca_id: CaId =
                text(body, "ca_id")?.parse().map_err(|_| ApiError::bad_request("`ca_id` must be a UUID"))?;
            if !app.certificates.third_party_cas.contains(&ca_id) {
                return Err(ApiError::bad_request(format!("`ca_id`: no third-party CA `{ca_id}` is configured")));
            }
            Ok(EnrollmentMethod::Ottca { ca_id })
        }
        "updb" => Ok(EnrollmentMethod::Updb { username: text(body, "username")?.to_owned() }),
        _ => Err(ApiError::bad_request("`method` must be ott, ottca or updb")),
    }
}

/// An enrollment with its JWT, the one answer that reveals it.
fn issued(issued: &identity_auth::IssuedEnrollment) -> Value {
    let mut body = view(&issued.enrollment);
    body["jwt"] = json!(issued.jwt.expose_secret());
    body
}

async fn create(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = identity_id(&id)?;
    let method = requested_method(&app, &body_object(&headers, &body)?)?;
    let enrollment = app.certificates.enrollments.create(id, method).await?;
    Ok((StatusCode::CREATED, Json(issued(&enrollment))).into_response())
}

async fn list(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = identity_id(&id)?;
    app.store.identity(id).await?;
    let enrollments = app.store.enrollments_of(id).await?;
    Ok(Json(Value::Array(enrollments.iter().map(view).collect())))
}

/// Enrollment `enrollment` of identity `id`; another identity's is not found, so its id reveals nothing.
async fn own(app: &AppState, id: &str, enrollment: &str) -> Result<Enrollment, ApiError> {
    let id = identity_id(id)?;
    let enrollment_id: EnrollmentId = enrollment.parse().map_err(|_| ApiError::not_found("enrollment"))?;
    match app.store.enrollment(enrollment_id).await {
        Ok(found) if found.identity_id == id => Ok(found),
        Ok(_) | Err(identity_store::Error::NotFound { .. }) => Err(ApiError::not_found("enrollment")),
        Err(other) => Err(other.into()),
    }
}

async fn show(
    State(app): State<Arc<AppState>>,
    Path((id, enrollment)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let enrollment = own(&app, &id, &enrollment).await?;
    Ok(Json(view(&enrollment)))
}

async fn withdraw(
    State(app): State<Arc<AppState>>,
    Path((id, enrollment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let enrollment = own(&app, &id, &enrollment).await?;
    app.store.delete_enrollment(enrollment.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn refresh(
    State(app): State<Arc<AppState>>,
    Path((id, enrollment)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let enrollment = own(&app, &id, &enrollment).await?;
    Ok(Json(issued(&app.certificates.enrollments.refresh(enrollment.id).await?)))
}

/// `POST /enroll?method=`: completes an enrollment (see the module documentation).
async fn enroll(
    State(app): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let method = params.get("method").map(String::as_str);
    if !matches!(method, Some("ott" | "ottca" | "updb")) {
        return Err(ApiError::bad_request("`method` must be ott, ottca or updb"));
    }
    let body = body_object(&headers, &body)?;
    let jwt = text(&body, "jwt")?;
    let enrollments = &app.certificates.enrollments;
    match method {
        Some("ott") => {
            let csr = text(&body, "csr")?;
            let (identity, certificate) = enrollments.complete_ott(jwt, csr.as_bytes()).await?;
            let ca = app.certificates.platform_ca.as_deref().map(pem);
            Ok(Json(json!({ "identity_id": identity.id, "certificate": pem(&certificate), "ca": ca })))
        }
        Some("ottca") => {
            // Only the mutual-TLS listener sets the extension, from the handshake: never from the request.
            let certificate = peer.and_then(|Extension(PeerCertificate(der))| der).ok_or_else(|| {
                ApiError::bad_request("`ottca` needs the certificate presented on the mutual-TLS listener")
            })?;
            let identity = enrollments.complete_ottca(jwt, &certificate, &[]).await?;
            let fingerprint = CertificateFingerprint::from_bytes(Sha256::digest(&certificate).into());
            Ok(Json(json!({ "identity_id": identity.id, "fingerprint": fingerprint.to_hex() })))
        }
        _ => {
            let username = text(&body, "username")?;
            let password = SecretString::new(text(&body, "password")?.to_owned());
            let identity = enrollments.complete_password(jwt, username, password).await?;
            Ok(Json(json!({ "identity_id": identity.id })))
        }
    }
}
