//! What the handlers share: the JSON views of identities and sessions in Kratos' shape, reading the session
//! token from a request, and reading JSON or form bodies into one JSON object.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::BTreeSet;

use identity_core::time::OffsetDateTime;
use identity_core::{
    AssuranceLevel, AuthenticationMethod, AuthenticationPolicyId, CredentialType, Device, Identity, IdentityId,
    IdentityState, IdentityType, OrganizationId, RecoveryAddress, RoleAttribute, Session, SessionId, VerifiableAddress,
};
use serde::Serialize;
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

/// `identity` as Kratos shows it to `audience`, written straight to JSON (no intermediate `Value`: whoami is a hot
/// path). The fields are listed, not derived from [`Identity`], so that a field added to the domain is not shown
/// to anybody until it is added here; a test compares this list with the domain's.
#[derive(Serialize)]
pub struct IdentityView<'a> {
    id: &'a IdentityId,
    schema_id: &'a str,
    schema_url: String,
    traits: &'a Value,
    state: IdentityState,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    state_changed_at: Option<OffsetDateTime>,
    #[serde(rename = "type")]
    identity_type: IdentityType,
    is_admin: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    role_attributes: &'a BTreeSet<RoleAttribute>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_policy_id: Option<&'a AuthenticationPolicyId>,
    organization_id: Option<&'a OrganizationId>,
    verifiable_addresses: &'a [VerifiableAddress],
    recovery_addresses: &'a [RecoveryAddress],
    metadata_public: Option<&'a Value>,
    /// Shown (even when empty, as `null`) to operators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata_admin: Option<Option<&'a Value>>,
    /// Operators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<Value>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl<'a> IdentityView<'a> {
    /// `identity` as `audience` sees it; `public_url` is the base of its `schema_url`.
    pub fn new(identity: &'a Identity, public_url: &str, audience: Audience<'_>) -> Self {
        let (metadata_admin, credentials) = match audience {
            Audience::Owner => (None, None),
            Audience::Admin { include } => {
                (Some(identity.metadata_admin.as_ref()), Some(admin_credentials(identity, include)))
            }
        };
        Self {
            id: &identity.id,
            schema_id: &identity.schema_id,
            schema_url: format!("{public_url}/schemas/{}", URL_SAFE_NO_PAD.encode(identity.schema_id.as_bytes())),
            traits: &identity.traits,
            state: identity.state,
            state_changed_at: identity.state_changed_at,
            identity_type: identity.identity_type,
            is_admin: identity.is_admin,
            external_id: identity.external_id.as_deref(),
            role_attributes: &identity.role_attributes,
            auth_policy_id: identity.auth_policy_id.as_ref(),
            organization_id: identity.organization_id.as_ref(),
            verifiable_addresses: &identity.verifiable_addresses,
            recovery_addresses: &identity.recovery_addresses,
            metadata_public: identity.metadata_public.as_ref(),
            metadata_admin,
            credentials,
            created_at: identity.created_at,
            updated_at: identity.updated_at,
        }
    }
}

/// The credentials as Kratos' admin API lists them: each with its `type`, its config empty unless `include`
/// names the type.
fn admin_credentials(identity: &Identity, include: &[CredentialType]) -> Value {
    let mut credentials = serde_json::to_value(&identity.credentials).unwrap_or(Value::Null);
    if let Value::Object(credentials) = &mut credentials {
        for (kind, credential) in credentials.iter_mut() {
            let Value::Object(credential) = credential else { continue };
            credential.insert("type".into(), json!(kind));
            if !include.iter().any(|wanted| wanted.as_str() == kind) {
                credential.insert("config".into(), json!({}));
            }
        }
    }
    credentials
}

/// `identity` as Kratos shows it to `audience`, as a JSON value to embed in a larger body.
pub fn identity_view(identity: &Identity, public_url: &str, audience: Audience<'_>) -> Value {
    serde_json::to_value(IdentityView::new(identity, public_url, audience)).unwrap_or(Value::Null)
}

/// A session as Kratos shows it, with its identity embedded when known; never the token's hash. Listed field by
/// field for the same reason as [`IdentityView`].
#[derive(Serialize)]
pub struct SessionView<'a> {
    id: &'a SessionId,
    active: bool,
    authenticator_assurance_level: AssuranceLevel,
    authentication_methods: &'a [AuthenticationMethod],
    #[serde(with = "time::serde::rfc3339")]
    issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    authenticated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    devices: &'a [Device],
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<IdentityView<'a>>,
}

impl<'a> SessionView<'a> {
    /// `session`, with `identity` (as its owner sees it) when given.
    pub fn new(session: &'a Session, identity: Option<&'a Identity>, public_url: &str) -> Self {
        Self {
            id: &session.id,
            active: session.active,
            authenticator_assurance_level: session.authenticator_assurance_level,
            authentication_methods: &session.authentication_methods,
            issued_at: session.issued_at,
            authenticated_at: session.authenticated_at,
            expires_at: session.expires_at,
            devices: &session.devices,
            identity: identity.map(|identity| IdentityView::new(identity, public_url, Audience::Owner)),
        }
    }
}

/// `session` as a JSON value to embed in a larger body (see [`SessionView`]).
pub fn session_view(session: &Session, identity: Option<&Identity>, public_url: &str) -> Value {
    serde_json::to_value(SessionView::new(session, identity, public_url)).unwrap_or(Value::Null)
}

/// The token of an `Authorization: Bearer` header (the scheme in any case, RFC 7235), if non-empty.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// The session token a request carries: `X-Session-Token`, `Authorization: Bearer`, or the session cookie.
pub fn session_token(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    if let Some(token) = headers.get("x-session-token").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()) {
        return Some(token.to_owned());
    }
    if let Some(bearer) = bearer_token(headers) {
        return Some(bearer.to_owned());
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
                // Two hex digits exactly: from_str_radix alone would also take a sign (`%+5`).
                let hex = encoded.get(index + 1..index + 3).filter(|hex| hex.iter().all(u8::is_ascii_hexdigit));
                let hex = hex.and_then(|hex| std::str::from_utf8(hex).ok());
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

/// Checks a session token as [`identity_auth::Sessions::check`] does, and notes its identity for the request's
/// access-log line.
pub async fn check_session(
    app: &crate::state::AppState,
    token: &str,
    aal: identity_auth::RequiredAal,
) -> Result<(identity_core::Session, identity_core::Identity), identity_auth::Error> {
    let (session, identity) = app.sessions.check(token, aal).await?;
    crate::metrics::acting_for(identity.id);
    Ok((session, identity))
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

    /// An identity and a session with every optional field set, so that a field left out of a view shows.
    fn everything() -> (Identity, Session) {
        use identity_core::{AddressVia, Credential, CredentialConfig, TokenHash};
        let now = OffsetDateTime::UNIX_EPOCH + identity_core::time::Duration::days(20_000);
        let mut identity = Identity::new("default", json!({"email": "a@b.c"}), now).unwrap();
        identity.state_changed_at = Some(now);
        identity.external_id = Some("hr-1".into());
        identity.role_attributes.insert("ops".parse().unwrap());
        identity.auth_policy_id = Some(AuthenticationPolicyId::new());
        identity.organization_id = Some(OrganizationId::new());
        identity.verifiable_addresses.push(VerifiableAddress::new("a@b.c", AddressVia::Email, now).unwrap());
        identity.recovery_addresses.push(RecoveryAddress::new("a@b.c", AddressVia::Email, now).unwrap());
        identity.metadata_public = Some(json!({"plan": "pro"}));
        identity.metadata_admin = Some(json!({"note": "vip"}));
        let key = CredentialConfig::Webauthn(json!({"key": "k"}));
        identity.credentials.insert(Credential::new(key, vec!["a@b.c".into()], now).unwrap());
        let method =
            AuthenticationMethod { method: CredentialType::Password, aal: AssuranceLevel::Aal1, completed_at: now };
        let mut session = Session::new(
            identity.id,
            TokenHash::from_bytes([7; 32]),
            vec![method],
            now,
            identity_core::time::Duration::hours(1),
        )
        .unwrap();
        session.devices.push(Device {
            id: identity_core::DeviceId::new(),
            ip_address: Some(std::net::IpAddr::from([127, 0, 0, 1])),
            user_agent: None,
            location: None,
        });
        (identity, session)
    }

    fn without(mut value: Value, keys: &[&str]) -> Value {
        for key in keys {
            value.as_object_mut().unwrap().remove(*key);
        }
        value
    }

    #[test]
    fn an_owner_sees_every_field_of_the_identity_but_its_credentials_and_admin_metadata() {
        let (identity, _) = everything();
        let mut expected = without(serde_json::to_value(&identity).unwrap(), &["credentials", "metadata_admin"]);
        expected["schema_url"] = json!("https://id.example/schemas/ZGVmYXVsdA");
        assert_eq!(identity_view(&identity, "https://id.example", Audience::Owner), expected);
    }

    #[test]
    fn an_operator_sees_credentials_with_their_type_and_configs_only_when_asked() {
        let (identity, _) = everything();
        let mut expected = serde_json::to_value(&identity).unwrap();
        expected["schema_url"] = json!("https://id.example/schemas/ZGVmYXVsdA");
        expected["credentials"]["webauthn"]["type"] = json!("webauthn");
        let included =
            identity_view(&identity, "https://id.example", Audience::Admin { include: &[CredentialType::Webauthn] });
        assert_eq!(included, expected);
        expected["credentials"]["webauthn"]["config"] = json!({});
        assert_eq!(identity_view(&identity, "https://id.example", Audience::Admin { include: &[] }), expected);
        let mut bare = identity.clone();
        bare.metadata_admin = None;
        assert_eq!(
            identity_view(&bare, "https://id.example", Audience::Admin { include: &[] })["metadata_admin"],
            Value::Null
        );
    }

    #[test]
    fn a_session_shows_every_field_but_its_token_hash_and_embeds_its_identity() {
        let (identity, session) = everything();
        let mut expected = without(serde_json::to_value(&session).unwrap(), &["token_hash", "identity_id"]);
        assert_eq!(session_view(&session, None, "https://id.example"), expected);
        expected["identity"] = identity_view(&identity, "https://id.example", Audience::Owner);
        assert_eq!(session_view(&session, Some(&identity), "https://id.example"), expected);
        assert!(
            !serde_json::to_string(&SessionView::new(&session, Some(&identity), "x"))
                .unwrap()
                .contains(&session.token_hash.to_hex())
        );
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
        // A sign is no hex digit (u8::from_str_radix takes `+5` as 5).
        assert_eq!(body_object(&headers, b"a=%+5").unwrap_err().status(), 400);
        assert_eq!(body_object(&headers, b"a=x+y&b&").unwrap(), json!({"a": "x y", "b": ""}));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(body_object(&headers, b"x").unwrap_err().status(), 415);
    }
}
