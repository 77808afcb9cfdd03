//! What the handlers share: the JSON views of identities and sessions in Kratos' shape, reading the session
//! token from a request, and reading JSON or form bodies into one JSON object.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use identity_core::{CredentialType, Identity, Session};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Who sees an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience<'a> {
    /// The identity itself (whoami, flows): no credentials, no admin metadata.
    Owner,
    /// An operator: credentials listed, their configs empty unless `include` names their type.
    Admin {
        /// Credential types whose configs to include.
        include: &'a [CredentialType],
    },
}

/// `identity` as Kratos shows it to `audience`; `schema_url` is the public base URL.
pub fn identity_view(identity: &Identity, public_url: &str, audience: Audience<'_>) -> Value {
    let mut value = serde_json::to_value(identity).unwrap_or(Value::Null);
    let Value::Object(map) = &mut value else { return value };
    map.insert(
        "schema_url".into(),
        json!(format!("{public_url}/schemas/{}", URL_SAFE_NO_PAD.encode(identity.schema_id.as_bytes()))),
    );
    match audience {
        Audience::Owner => {
            map.remove("credentials");
            map.remove("metadata_admin");
        }
        Audience::Admin { include } => {
            if let Some(Value::Object(credentials)) = map.get_mut("credentials") {
                for (kind, credential) in credentials.iter_mut() {
                    let Value::Object(credential) = credential else { continue };
                    credential.insert("type".into(), json!(kind));
                    let included = include.iter().any(|wanted| wanted.as_str() == kind);
                    if !included {
                        credential.insert("config".into(), json!({}));
                    }
                }
            }
        }
    }
    value
}

/// `session` with its `identity` embedded, as Kratos shows it; the token's hash is not shown.
pub fn session_view(session: &Session, identity: Option<&Identity>, public_url: &str) -> Value {
    let mut value = serde_json::to_value(session).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("token_hash");
        map.remove("identity_id");
        if let Some(identity) = identity {
            map.insert("identity".into(), identity_view(identity, public_url, Audience::Owner));
        }
    }
    value
}

/// The session token a request carries: `X-Session-Token`, `Authorization: Bearer`, or the session cookie.
pub fn session_token(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    if let Some(token) = headers.get("x-session-token").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()) {
        return Some(token.to_owned());
    }
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    {
        return Some(bearer.trim().to_owned());
    }
    cookie(headers, cookie_name)
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A JSON or form body as one JSON object; form values are strings. Anything else is a 4xx.
pub fn body_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "" => {
            if body.is_empty() {
                return Ok(Value::Object(Map::new()));
            }
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
            if value.is_object() { Ok(value) } else { Err(ApiError::bad_request("the body must be a JSON object")) }
        }
        "application/x-www-form-urlencoded" => {
            let mut object = Map::new();
            for pair in body.split(|byte| *byte == b'&').filter(|pair| !pair.is_empty()) {
                let (key, value) = match pair.iter().position(|byte| *byte == b'=') {
                    Some(at) => (&pair[..at], &pair[at + 1..]),
                    None => (pair, &b""[..]),
                };
                object.insert(form_text(key)?, Value::String(form_text(value)?));
            }
            Ok(Value::Object(object))
        }
        _ => Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content type `{content_type}`; send JSON or a form"),
        )),
    }
}

/// One percent-encoded form component as text; bytes that are not UTF-8 are refused, not replaced.
fn form_text(encoded: &[u8]) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut index = 0;
    while index < encoded.len() {
        match encoded[index] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = encoded.get(index + 1..index + 3).and_then(|hex| std::str::from_utf8(hex).ok());
                let byte = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok());
                bytes.push(byte.ok_or_else(|| ApiError::bad_request("the form body has a bad percent escape"))?);
                index += 2;
            }
            other => bytes.push(other),
        }
        index += 1;
    }
    String::from_utf8(bytes).map_err(|_| ApiError::bad_request("the form body is not UTF-8"))
}

/// `instant` as RFC 3339, as Kratos writes times.
pub fn rfc3339(instant: identity_core::time::OffsetDateTime) -> String {
    instant.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Whether the client asked for JSON.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_come_from_header_bearer_or_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; ory_kratos_session=c00kie"));
        assert_eq!(session_token(&headers, "ory_kratos_session").as_deref(), Some("c00kie"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer b3arer"));
        assert_eq!(session_token(&headers, "ory_kratos_session").as_deref(), Some("b3arer"));
        headers.insert("x-session-token", HeaderValue::from_static("h3ader"));
        assert_eq!(session_token(&headers, "ory_kratos_session").as_deref(), Some("h3ader"));
        assert_eq!(session_token(&HeaderMap::new(), "ory_kratos_session"), None);
    }

    #[test]
    fn bodies_are_json_objects_or_forms_and_anything_else_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        assert_eq!(body_object(&headers, br#"{"a": 1}"#).unwrap(), json!({"a": 1}));
        assert_eq!(body_object(&headers, b"[1]").unwrap_err().status(), 400);
        assert_eq!(body_object(&headers, b"{").unwrap_err().status(), 400);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        assert_eq!(
            body_object(&headers, b"traits.email=a%40b.c&x=1").unwrap(),
            json!({"traits.email": "a@b.c", "x": "1"})
        );
        assert_eq!(body_object(&headers, b"a=%FF%FE").unwrap_err().status(), 400);
        assert_eq!(body_object(&headers, b"a=%4").unwrap_err().status(), 400);
        assert_eq!(body_object(&headers, b"a=x+y&b&").unwrap(), json!({"a": "x y", "b": ""}));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(body_object(&headers, b"x").unwrap_err().status(), 415);
    }
}
