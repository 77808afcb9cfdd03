//! Errors as Kratos writes them: `{"error": {"id", "code", "status", "reason", "message"}}`, with the HTTP
//! status that goes with each, and `Retry-After` when rate limited. Internal details stay in the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    id: Option<&'static str>,
    reason: String,
    retry_after: Option<i64>,
    redirect_browser_to: Option<String>,
}

impl ApiError {
    /// An error with `status` and a reason for the client.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self { status, id: None, reason: reason.into(), retry_after: None, redirect_browser_to: None }
    }

    /// A 400 about the request.
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// A 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    /// This error, with Kratos' error id.
    pub fn with_id(mut self, id: &'static str) -> Self {
        self.id = Some(id);
        self
    }

    /// This error, telling a browser's script where to send the browser (Kratos' `redirect_browser_to`, beside
    /// `error`, as with `browser_location_change_required`).
    pub fn with_redirect_browser_to(mut self, url: impl Into<String>) -> Self {
        self.redirect_browser_to = Some(url.into());
        self
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<identity_auth::Error> for ApiError {
    fn from(error: identity_auth::Error) -> Self {
        use identity_auth::Error as E;
        let status = match &error {
            E::SessionInactive => StatusCode::UNAUTHORIZED,
            E::InvalidCredentials => StatusCode::UNAUTHORIZED,
            E::Aal2Required
            | E::ReauthenticationRequired
            | E::CsrfViolation
            | E::IdentityMismatch
            | E::IdentityDisabled => StatusCode::FORBIDDEN,
            E::FlowNotFound => StatusCode::NOT_FOUND,
            E::FlowExpired => StatusCode::GONE,
            E::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::Store(store) => return store_error(store, error.to_string()),
            E::Schema(schema) => return schema_error(schema),
            E::Internal { .. } | E::Random | E::Background { .. } | E::UnknownCipherKey | E::TamperedSecret => {
                tracing::error!(error = %error, "internal error");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "An internal error occurred.");
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let retry_after = match &error {
            E::RateLimited { retry_after } => Some(retry_after.whole_seconds().max(1)),
            _ => None,
        };
        let mut api = Self::new(status, error.to_string()).with_id(error.code());
        api.retry_after = retry_after;
        api
    }
}

impl From<identity_store::Error> for ApiError {
    fn from(error: identity_store::Error) -> Self {
        let reason = error.to_string();
        store_error(&error, reason)
    }
}

fn store_error(error: &identity_store::Error, reason: String) -> ApiError {
    use identity_store::Error as E;
    match error {
        E::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, reason),
        E::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, reason),
        E::Invalid { .. } => ApiError::bad_request(reason),
        E::Unavailable { .. } => {
            tracing::warn!(error = %reason, "store unavailable");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The store is unavailable; try again.")
        }
        _ => {
            tracing::error!(error = %reason, "store error");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "An internal error occurred.")
        }
    }
}

fn schema_error(error: &identity_schema::Error) -> ApiError {
    match error {
        identity_schema::Error::InvalidTraits { violations, .. } => {
            let details: Vec<String> = violations.iter().map(ToString::to_string).collect();
            ApiError::bad_request(format!("the traits do not match the schema: {}", details.join("; ")))
        }
        identity_schema::Error::UnknownSchema { id } => {
            ApiError::bad_request(format!("unknown identity schema `{id}`"))
        }
        other => {
            tracing::error!(error = %other, "schema error");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "An internal error occurred.")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status_text = self.status.canonical_reason().unwrap_or("Error");
        let mut error = json!({
            "code": self.status.as_u16(),
            "status": status_text,
            "reason": self.reason,
            "message": status_text,
        });
        if let Some(id) = self.id {
            error["id"] = json!(id);
        }
        let mut body = json!({ "error": error });
        if let Some(url) = self.redirect_browser_to {
            body["redirect_browser_to"] = json!(url);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_errors_get_kratos_ids_and_statuses() {
        let cases = [
            (identity_auth::Error::SessionInactive, 401, "session_inactive"),
            (identity_auth::Error::Aal2Required, 403, "session_aal2_required"),
            (identity_auth::Error::FlowExpired, 410, "self_service_flow_expired"),
            (identity_auth::Error::CsrfViolation, 403, "security_csrf_violation"),
        ];
        for (error, status, id) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.status.as_u16(), api.id), (status, Some(id)));
        }
        let limited = ApiError::from(identity_auth::Error::RateLimited {
            retry_after: identity_core::time::Duration::seconds(90),
        });
        let response = limited.into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "90");
    }

    #[test]
    fn internal_details_are_not_answered() {
        let api = ApiError::from(identity_auth::Error::Internal { reason: "secret detail".into() });
        assert_eq!(api.status, 500);
        assert!(!api.reason.contains("secret detail"));
    }
}
