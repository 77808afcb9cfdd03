//! The provider end to end on the memory and SQLite stores: every grant's happy path and its failures.

#[macro_use]
mod support;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use identity_core::SecretString;
use identity_core::time::Duration;
use identity_oidc::*;
use identity_store::Store;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use support::*;

identity_store::on_every_store!(
    authorization_code_with_pkce_issues_tokens_bound_to_the_session,
    a_bad_client_or_redirect_uri_is_shown_not_redirected,
    later_errors_go_to_the_redirect_uri_with_state,
    public_clients_must_use_s256_pkce,
    a_missing_or_wrong_code_verifier_is_invalid_grant,
    a_reused_code_is_refused_and_revokes_its_tokens,
    an_expired_code_is_refused,
    the_token_request_must_repeat_the_redirect_uri,
    refresh_tokens_rotate_and_a_reused_one_revokes_the_family,
    client_credentials_authenticate_by_the_registered_method,
    prompt_and_max_age_ask_for_a_fresh_login,
    access_tokens_of_another_kind_audience_or_algorithm_are_refused,
    expired_and_revoked_tokens_introspect_inactive,
    revoking_an_identity_ends_every_grant_it_holds,
    userinfo_releases_claims_by_scope,
    eddsa_keys_rotate_and_keep_verifying_tokens_they_signed,
    rs256_keys_rotate_and_keep_verifying_tokens_they_signed,
    registration_validates_metadata_and_hides_the_secret,
    replicas_share_the_stored_key_set_and_rotating_at_once_rotates_once,
    a_key_rotated_on_one_replica_is_learned_by_the_other_at_its_first_token_once_per_interval,
);

async fn authorization_code_with_pkce_issues_tokens_bound_to_the_session(store: Arc<dyn Store>) {
    let w = world(store).await;
    let location = match w.provider.authorize(&w.request("spa"), w.signed_in()).await.unwrap() {
        Authorization::Code { location } => location,
        other => panic!("{other:?}"),
    };
    assert!(location.starts_with(REDIRECT));
    assert_eq!(query(&location, "state").as_deref(), Some("state-123"));
    assert_eq!(query(&location, "iss").as_deref(), Some(ISSUER));
    let code = query(&location, "code").unwrap();
    let tokens = w.provider.token(&w.exchange(&code, Some(VERIFIER)), None).await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 3600);
    assert!(!format!("{tokens:?}").contains(&tokens.access_token));

    let claims = w.provider.verify_access_token(&tokens.access_token, ISSUER).unwrap();
    assert_eq!(claims.sub, w.identity.id.to_string());
    assert_eq!((claims.client_id.as_str(), claims.scope.as_str()), ("spa", "openid profile email"));
    assert_eq!(claims.exp - claims.iat, 3600);
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));

    // The ID token verifies with the published JWKS alone.
    let id_token = tokens.id_token.unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(w.provider.jwks()).unwrap();
    let kid = jsonwebtoken::decode_header(&id_token).unwrap().kid.unwrap();
    let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["spa"]);
    validation.set_issuer(&[ISSUER]);
    validation.validate_exp = false;
    let id: Value = jsonwebtoken::decode(&id_token, &key, &validation).unwrap().claims;
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["sub"], w.identity.id.to_string());
    assert_eq!(id["acr"], "aal1");
    assert_eq!(id["amr"], json!(["password"]));
    assert_eq!(id["auth_time"], w.session.authenticated_at.unix_timestamp());
    assert_eq!(id["at_hash"], identity_oidc::provider::at_hash(SigningAlgorithm::ES256, &tokens.access_token));
    assert!(tokens.refresh_token.is_some());
    assert!(w.provider.introspect(&tokens.access_token).await.unwrap().active);

    // Nothing secret is stored in the clear.
    let stored = w.store.client("backend").await.unwrap().document.to_string();
    assert!(!stored.contains(&w.secret));
    assert!(w.store.find_token(&identity_auth::hash_token(&code)).await.unwrap().is_some(), "the used marker");
}

async fn a_bad_client_or_redirect_uri_is_shown_not_redirected(store: Arc<dyn Store>) {
    let w = world(store).await;
    let mut request = w.request("nobody");
    let err = w.provider.authorize(&request, w.signed_in()).await.unwrap_err();
    assert!(matches!(err, Error::UnknownClient { .. }), "{err:?}");
    request.client_id = Some("spa".into());
    for uri in [Some("https://evil.example/callback"), Some("https://app.example/callback/"), None] {
        request.redirect_uri = uri.map(Into::into);
        let err = w.provider.authorize(&request, w.signed_in()).await.unwrap_err();
        assert!(matches!(err, Error::UnregisteredRedirectUri), "{uri:?}: {err:?}");
    }
}

async fn later_errors_go_to_the_redirect_uri_with_state(store: Arc<dyn Store>) {
    let w = world(store).await;
    let cases = [
        (AuthorizationRequest { response_type: Some("token".into()), ..w.request("spa") }, "unsupported_response_type"),
        (AuthorizationRequest { scope: Some("openid admin".into()), ..w.request("spa") }, "invalid_scope"),
        (AuthorizationRequest { prompt: Some("none login".into()), ..w.request("spa") }, "invalid_request"),
    ];
    for (request, expected) in cases {
        match w.provider.authorize(&request, w.signed_in()).await.unwrap() {
            Authorization::Error { location, error } => {
                assert_eq!(error.error.as_str(), expected);
                assert!(location.starts_with(REDIRECT));
                assert_eq!(query(&location, "error").as_deref(), Some(expected));
                assert_eq!(query(&location, "state").as_deref(), Some("state-123"));
                assert!(query(&location, "error_description").is_some());
                assert!(query(&location, "code").is_none());
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
}

async fn public_clients_must_use_s256_pkce(store: Arc<dyn Store>) {
    let w = world(store).await;
    let without = AuthorizationRequest { code_challenge: None, code_challenge_method: None, ..w.request("spa") };
    let plain = AuthorizationRequest {
        code_challenge: Some(VERIFIER.into()),
        code_challenge_method: Some("plain".into()),
        ..w.request("spa")
    };
    let implicit_plain = AuthorizationRequest { code_challenge_method: None, ..w.request("spa") };
    for request in [without.clone(), plain.clone(), implicit_plain] {
        match w.provider.authorize(&request, w.signed_in()).await.unwrap() {
            Authorization::Error { error, .. } => assert_eq!(error.error, ErrorCode::InvalidRequest),
            other => panic!("{other:?}"),
        }
    }
    // A confidential client may go without PKCE, but never with plain.
    let confidential = AuthorizationRequest { client_id: Some("backend".into()), ..without };
    assert!(matches!(w.provider.authorize(&confidential, w.signed_in()).await.unwrap(), Authorization::Code { .. }));
    let plain = AuthorizationRequest { client_id: Some("backend".into()), ..plain };
    assert!(matches!(w.provider.authorize(&plain, w.signed_in()).await.unwrap(), Authorization::Error { .. }));
}

async fn a_missing_or_wrong_code_verifier_is_invalid_grant(store: Arc<dyn Store>) {
    let w = world(store).await;
    let wrong = "wrong-verifier-wrong-verifier-wrong-verifier-0123";
    for verifier in [Some(wrong), None] {
        let code = w.code_for(&w.request("spa")).await;
        let err = w.provider.token(&w.exchange(&code, verifier), None).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidGrant), "{verifier:?}");
        // The code is spent by the failed attempt: guessing verifiers gets one try.
        let err = w.provider.token(&w.exchange(&code, Some(VERIFIER)), None).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidGrant));
    }
}

async fn a_reused_code_is_refused_and_revokes_its_tokens(store: Arc<dyn Store>) {
    let w = world(store).await;
    let code = w.code_for(&w.request("spa")).await;
    let tokens = w.provider.token(&w.exchange(&code, Some(VERIFIER)), None).await.unwrap();
    let err = w.provider.token(&w.exchange(&code, Some(VERIFIER)), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidGrant));
    assert!(!w.provider.introspect(&tokens.access_token).await.unwrap().active);
    let refresh = tokens.refresh_token.unwrap();
    let err = w.provider.token(&w.refresh(&refresh), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidGrant));
}

async fn an_expired_code_is_refused(store: Arc<dyn Store>) {
    let w = world(store).await;
    let code = w.code_for(&w.request("spa")).await;
    w.clock.advance(Duration::seconds(61));
    let err = w.provider.token(&w.exchange(&code, Some(VERIFIER)), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidGrant));
}

async fn the_token_request_must_repeat_the_redirect_uri(store: Arc<dyn Store>) {
    let w = world(store).await;
    for uri in [Some("https://app.example/other"), None] {
        let code = w.code_for(&w.request("spa")).await;
        let request = TokenRequest { redirect_uri: uri.map(Into::into), ..w.exchange(&code, Some(VERIFIER)) };
        assert_eq!(w.provider.token(&request, None).await.unwrap_err().code(), Some(ErrorCode::InvalidGrant));
    }
    // Another client cannot redeem the code either.
    let code = w.code_for(&w.request("spa")).await;
    let request = TokenRequest { client_id: None, ..w.exchange(&code, Some(VERIFIER)) };
    let err = w.provider.token(&request, Some(&w.basic(&w.secret))).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidGrant));
}

async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family(store: Arc<dyn Store>) {
    let w = world(store).await;
    let first = w.tokens().await;
    let old = first.refresh_token.clone().unwrap();
    let second = w.provider.token(&w.refresh(&old), None).await.unwrap();
    let newer = second.refresh_token.clone().unwrap();
    assert_ne!(old, newer);
    assert!(w.provider.introspect(&second.access_token).await.unwrap().active);
    assert!(!w.provider.introspect(&old).await.unwrap().active, "a rotated refresh token still introspects active");
    // Replaying the old one: refused, and everything of the grant goes.
    let err = w.provider.token(&w.refresh(&old), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidGrant));
    assert!(!w.provider.introspect(&second.access_token).await.unwrap().active);
    assert!(!w.provider.introspect(&first.access_token).await.unwrap().active);
    assert!(!w.provider.introspect(&newer).await.unwrap().active);
    assert_eq!(w.provider.token(&w.refresh(&newer), None).await.unwrap_err().code(), Some(ErrorCode::InvalidGrant));

    // A scope wider than the grant is invalid_scope.
    let third = w.tokens().await;
    let wider = TokenRequest { scope: Some("openid api:read".into()), ..w.refresh(&third.refresh_token.unwrap()) };
    assert_eq!(w.provider.token(&wider, None).await.unwrap_err().code(), Some(ErrorCode::InvalidScope));
}

async fn client_credentials_authenticate_by_the_registered_method(store: Arc<dyn Store>) {
    let w = world(store).await;
    let request = TokenRequest {
        grant_type: Some("client_credentials".into()),
        scope: Some("api:read".into()),
        ..Default::default()
    };
    let tokens = w.provider.token(&request, Some(&w.basic(&w.secret))).await.unwrap();
    let claims = w.provider.verify_access_token(&tokens.access_token, ISSUER).unwrap();
    assert_eq!((claims.sub.as_str(), claims.scope.as_str()), ("backend", "api:read"));
    assert!(tokens.refresh_token.is_none() && tokens.id_token.is_none());

    let post = TokenRequest {
        client_id: Some("poster".into()),
        client_secret: Some(SecretString::new(w.poster_secret.clone())),
        ..request.clone()
    };
    assert!(w.provider.token(&post, None).await.is_ok());

    let refused = [
        (request.clone(), Some(w.basic("not-the-secret"))),
        (request.clone(), None),
        // A basic client sending its secret in the body, and a post client sending it in the header.
        (
            TokenRequest {
                client_id: Some("backend".into()),
                client_secret: Some(SecretString::new(w.secret.clone())),
                ..request.clone()
            },
            None,
        ),
        (
            request.clone(),
            Some(BasicCredentials {
                client_id: "poster".into(),
                client_secret: SecretString::new(w.poster_secret.clone()),
            }),
        ),
        (TokenRequest { client_id: Some("spa".into()), ..request.clone() }, None),
        (request.clone(), Some(BasicCredentials { client_id: "nobody".into(), client_secret: SecretString::new("x") })),
    ];
    for (request, basic) in refused {
        let err = w.provider.token(&request, basic.as_ref()).await.unwrap_err();
        assert!(matches!(err.code(), Some(ErrorCode::InvalidClient) | Some(ErrorCode::UnauthorizedClient)), "{err:?}");
        assert_ne!(err.code(), None);
    }
    let wrong = w.provider.token(&request, Some(&w.basic("not-the-secret"))).await.unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::InvalidClient));
    let public = TokenRequest { client_id: Some("spa".into()), ..request.clone() };
    assert_eq!(w.provider.token(&public, None).await.unwrap_err().code(), Some(ErrorCode::UnauthorizedClient));
}

async fn prompt_and_max_age_ask_for_a_fresh_login(store: Arc<dyn Store>) {
    let w = world(store).await;
    let none = AuthorizationRequest { prompt: Some("none".into()), ..w.request("spa") };
    match w.provider.authorize(&none, None).await.unwrap() {
        Authorization::Error { error, location } => {
            assert_eq!(error.error, ErrorCode::LoginRequired);
            assert_eq!(query(&location, "error").as_deref(), Some("login_required"));
        }
        other => panic!("{other:?}"),
    }
    let hinted = AuthorizationRequest { login_hint: Some("ada@example.com".into()), ..w.request("spa") };
    match w.provider.authorize(&hinted, None).await.unwrap() {
        Authorization::Login { login_hint, .. } => assert_eq!(login_hint.as_deref(), Some("ada@example.com")),
        other => panic!("{other:?}"),
    }
    let login = AuthorizationRequest { prompt: Some("login".into()), ..w.request("spa") };
    let continuation = match w.provider.authorize(&login, w.signed_in()).await.unwrap() {
        Authorization::Login { continuation, .. } => continuation,
        other => panic!("{other:?}"),
    };
    assert!(matches!(w.provider.authorize(&continuation, w.signed_in()).await.unwrap(), Authorization::Code { .. }));

    w.clock.advance(Duration::minutes(10));
    let max_age = AuthorizationRequest { max_age: Some("300".into()), ..w.request("spa") };
    assert!(matches!(w.provider.authorize(&max_age, w.signed_in()).await.unwrap(), Authorization::Login { .. }));
    let relaxed = AuthorizationRequest { max_age: Some("3600".into()), ..w.request("spa") };
    assert!(matches!(w.provider.authorize(&relaxed, w.signed_in()).await.unwrap(), Authorization::Code { .. }));
}

fn forged(header: &Value, claims: &Value, signature: &str) -> String {
    format!("{}.{}.{signature}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

async fn access_tokens_of_another_kind_audience_or_algorithm_are_refused(store: Arc<dyn Store>) {
    let w = world(store).await;
    let tokens = w.tokens().await;
    let id_token = tokens.id_token.unwrap();
    assert!(matches!(w.provider.verify_access_token(&id_token, ISSUER), Err(Error::InvalidToken { .. })));
    assert!(matches!(w.provider.verify_access_token(&id_token, "spa"), Err(Error::InvalidToken { .. })));
    assert!(matches!(
        w.provider.verify_access_token(&tokens.access_token, "https://other.example"),
        Err(Error::InvalidToken { reason: "another audience" })
    ));

    let claims = serde_json::to_value(w.provider.verify_access_token(&tokens.access_token, ISSUER).unwrap()).unwrap();
    let kid = w.provider.keys().current().kid().to_owned();
    let none = forged(&json!({"alg": "none", "typ": "at+jwt", "kid": kid}), &claims, "");
    assert!(matches!(w.provider.verify_access_token(&none, ISSUER), Err(Error::InvalidToken { .. })));
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some(kid.clone());
    let public_jwk = w.provider.keys().current().public_jwk().to_string();
    for secret in [public_jwk.as_bytes(), b"secret".as_slice()] {
        let hmac = jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(secret)).unwrap();
        assert!(matches!(w.provider.verify_access_token(&hmac, ISSUER), Err(Error::InvalidToken { .. })));
    }
    // A token signed by a key of another provider, under our kid.
    let stranger = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let mut header = stranger.header("at+jwt");
    header.kid = Some(kid);
    let foreign = jsonwebtoken::encode(&header, &claims, stranger.encoding_key()).unwrap();
    assert!(matches!(w.provider.verify_access_token(&foreign, ISSUER), Err(Error::InvalidToken { .. })));
    // Tampered claims break the signature.
    let mut parts: Vec<String> = tokens.access_token.split('.').map(str::to_owned).collect();
    let mut widened = claims.clone();
    widened["scope"] = "openid admin".into();
    parts[1] = URL_SAFE_NO_PAD.encode(widened.to_string());
    assert!(w.provider.verify_access_token(&parts.join("."), ISSUER).is_err());
    for junk in ["", "a.b", "a.b.c", &"x".repeat(20_000)] {
        assert!(w.provider.verify_access_token(junk, ISSUER).is_err());
        assert!(!w.provider.introspect(junk).await.unwrap().active);
    }
}

async fn expired_and_revoked_tokens_introspect_inactive(store: Arc<dyn Store>) {
    let w = world(store).await;
    let tokens = w.tokens().await;
    let refresh = tokens.refresh_token.clone().unwrap();
    let live = w.provider.introspect(&refresh).await.unwrap();
    assert_eq!((live.active, live.token_type), (true, Some("refresh_token")));
    let active = w.provider.introspect(&tokens.access_token).await.unwrap();
    assert_eq!(active.sub, Some(w.identity.id.to_string()));
    assert_eq!(active.client_id.as_deref(), Some("spa"));
    assert_eq!(serde_json::to_value(Introspection::default()).unwrap(), json!({"active": false}));

    // Revoking the access token leaves the refresh token alone; revoking the refresh token takes the grant.
    w.provider.revoke(&w.public, &tokens.access_token).await.unwrap();
    assert!(!w.provider.introspect(&tokens.access_token).await.unwrap().active);
    assert!(w.provider.introspect(&refresh).await.unwrap().active);
    let other = w.tokens().await;
    w.provider.revoke(&w.confidential, other.refresh_token.as_deref().unwrap()).await.unwrap();
    assert!(w.provider.introspect(&other.access_token).await.unwrap().active, "another client cannot revoke it");
    w.provider.revoke(&w.public, other.refresh_token.as_deref().unwrap()).await.unwrap();
    assert!(!w.provider.introspect(&other.access_token).await.unwrap().active);
    w.provider.revoke(&w.public, "never-issued").await.unwrap();

    let fresh = w.tokens().await;
    w.clock.advance(Duration::hours(1));
    assert!(!w.provider.introspect(&fresh.access_token).await.unwrap().active);
    assert!(matches!(
        w.provider.verify_access_token(&fresh.access_token, ISSUER),
        Err(Error::InvalidToken { reason: "expired" })
    ));
    w.clock.advance(Duration::days(31));
    assert!(!w.provider.introspect(fresh.refresh_token.as_deref().unwrap()).await.unwrap().active);
}

async fn revoking_an_identity_ends_every_grant_it_holds(store: Arc<dyn Store>) {
    let w = world(store).await;
    let (first, second) = (w.tokens().await, w.tokens().await);
    assert!(w.provider.revoke_identity(w.identity.id).await.unwrap() >= 4, "two grants' access and refresh tokens");
    for tokens in [&first, &second] {
        assert!(!w.provider.introspect(&tokens.access_token).await.unwrap().active);
        let refresh = tokens.refresh_token.as_deref().unwrap();
        assert_eq!(
            w.provider.token(&w.refresh(refresh), None).await.unwrap_err().code(),
            Some(ErrorCode::InvalidGrant)
        );
    }
    // A grant made afterwards works again.
    let later = w.tokens().await;
    assert!(w.provider.introspect(&later.access_token).await.unwrap().active);
}

async fn userinfo_releases_claims_by_scope(store: Arc<dyn Store>) {
    let w = world(store).await;
    let tokens = w.tokens().await;
    let info = w.provider.userinfo(&tokens.access_token).await.unwrap();
    assert_eq!(
        info,
        json!({"sub": w.identity.id.to_string(), "given_name": "Ada", "family_name": "Lovelace",
               "email": "Ada@Example.com", "email_verified": true})
    );
    let request = AuthorizationRequest { scope: Some("openid".into()), ..w.request("spa") };
    let code = w.code_for(&request).await;
    let narrow = w.provider.token(&w.exchange(&code, Some(VERIFIER)), None).await.unwrap();
    assert_eq!(w.provider.userinfo(&narrow.access_token).await.unwrap(), json!({"sub": w.identity.id.to_string()}));
    w.provider.revoke(&w.public, &narrow.access_token).await.unwrap();
    assert!(w.provider.userinfo(&narrow.access_token).await.is_err());
}

async fn eddsa_keys_rotate_and_keep_verifying_tokens_they_signed(store: Arc<dyn Store>) {
    rotation_keeps_verifying(store, SigningAlgorithm::EdDSA).await;
}

async fn rs256_keys_rotate_and_keep_verifying_tokens_they_signed(store: Arc<dyn Store>) {
    rotation_keeps_verifying(store, SigningAlgorithm::RS256).await;
}

async fn rotation_keeps_verifying(store: Arc<dyn Store>, algorithm: SigningAlgorithm) {
    let w = world_with(store, algorithm).await;
    let before = w.tokens().await;
    let discovery = w.provider.discovery();
    assert_eq!(discovery.issuer, ISSUER);
    assert_eq!(discovery.jwks_uri, format!("{ISSUER}/.well-known/jwks.json"));
    assert_eq!(discovery.id_token_signing_alg_values_supported, vec![algorithm.as_str().to_owned()]);
    assert_eq!(discovery.code_challenge_methods_supported, vec!["S256".to_owned()]);
    let cipher = identity_auth::SecretCipher::new(vec![
        identity_auth::CipherKey::new(1, &identity_core::SecretBytes::new(vec![3; 32])).unwrap(),
    ])
    .unwrap();
    // Through the sealed document, as a restart would go.
    let mut keys = KeySet::from_document(&w.provider.keys().to_document(&cipher).unwrap(), &cipher).unwrap();
    keys.rotate(SigningAlgorithm::ES256).unwrap();
    w.provider.replace_keys(keys);
    assert_eq!(w.provider.jwks()["keys"].as_array().unwrap().len(), 2);
    assert!(w.provider.verify_access_token(&before.access_token, ISSUER).is_ok());
    let after = w.tokens().await;
    assert_eq!(jsonwebtoken::decode_header(&after.access_token).unwrap().alg, Algorithm::ES256);
    w.provider.replace_keys(KeySet::generate(SigningAlgorithm::ES256).unwrap());
    assert!(w.provider.verify_access_token(&before.access_token, ISSUER).is_err());
}

async fn registration_validates_metadata_and_hides_the_secret(store: Arc<dyn Store>) {
    let w = world(store).await;
    let base = ClientRegistration {
        client_id: Some("new".into()),
        client_name: "New".into(),
        redirect_uris: vec!["https://new.example/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode],
        scope: "openid".into(),
        token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        login_uri: None,
        allowed_cors_origins: vec![],
        tls_client_auth_subject_dn: None,
    };
    let bad = [
        (
            "redirect_uris",
            ClientRegistration { redirect_uris: vec!["https://new.example/cb#frag".into()], ..base.clone() },
        ),
        ("redirect_uris", ClientRegistration { redirect_uris: vec!["/relative".into()], ..base.clone() }),
        ("redirect_uris", ClientRegistration { redirect_uris: vec!["http://new.example/cb".into()], ..base.clone() }),
        ("redirect_uris", ClientRegistration { redirect_uris: vec![], ..base.clone() }),
        ("grant_types", ClientRegistration { grant_types: vec![GrantType::ClientCredentials], ..base.clone() }),
        ("grant_types", ClientRegistration { grant_types: vec![], ..base.clone() }),
        ("scope", ClientRegistration { scope: "open\\id".into(), ..base.clone() }),
        ("client_id", ClientRegistration { client_id: Some(String::new()), ..base.clone() }),
    ];
    for (field, registration) in bad {
        let err = w.provider.clients().create(registration).await.unwrap_err();
        assert!(matches!(err, Error::InvalidClientMetadata { field: f, .. } if f == field), "{field}: {err:?}");
    }
    let loopback = ClientRegistration { redirect_uris: vec!["http://127.0.0.1:8080/cb".into()], ..base.clone() };
    let created = w.provider.clients().create(loopback).await.unwrap().client;
    let document = w.store.client("new").await.unwrap().document;
    assert_eq!(document["client_id"], "new");
    assert_eq!(document["token_endpoint_auth_method"], "none");
    assert_eq!(document["response_types"], json!(["code"]));
    assert_eq!(document["grant_types"], json!(["authorization_code"]));
    assert!(matches!(
        w.provider.clients().create(base.clone()).await,
        Err(Error::Store(identity_store::Error::Conflict { .. }))
    ));

    // The secret: shown once, stored hashed, rotated on demand.
    let rotated = w.provider.clients().rotate_secret("backend").await.unwrap();
    assert!(!format!("{rotated:?}").contains(rotated.expose_once()));
    let backend = w.provider.clients().get("backend").await.unwrap();
    assert!(backend.verify_secret(rotated.expose_once()) && !backend.verify_secret(&w.secret));
    assert!(!w.store.client("backend").await.unwrap().document.to_string().contains(rotated.expose_once()));

    let mut created = created;
    created.client_name = "Renamed".into();
    let renamed = w.provider.clients().update(created).await.unwrap();
    assert_eq!(w.provider.clients().get("new").await.unwrap(), renamed);
    assert_eq!(w.provider.clients().list().await.unwrap().len(), 4);
    w.provider.clients().delete("new").await.unwrap();
    assert!(w.provider.clients().get("new").await.is_err());
}

fn cipher_of(byte: u8) -> identity_auth::SecretCipher {
    let key = identity_auth::CipherKey::new(1, &identity_core::SecretBytes::new(vec![byte; 32])).unwrap();
    identity_auth::SecretCipher::new(vec![key]).unwrap()
}

async fn replicas_share_the_stored_key_set_and_rotating_at_once_rotates_once(store: Arc<dyn Store>) {
    let w = world(store.clone()).await;
    let cipher = cipher_of(5);
    // Two replicas start on one store: the first creates the set, the second reads it.
    let first = KeySet::load_or_create(store.as_ref(), &cipher, SigningAlgorithm::ES256).await.unwrap();
    let other = Provider::new(
        store.clone(),
        w.clock.clone(),
        KeySet::load_or_create(store.as_ref(), &cipher, SigningAlgorithm::EdDSA).await.unwrap(),
        ProviderSettings::new(ISSUER),
    );
    assert_eq!(other.keys().current().kid(), first.current().kid());
    assert_eq!(other.keys().current().algorithm(), SigningAlgorithm::ES256, "the stored set, not a new one");
    w.provider.reload_keys(&cipher).await.unwrap();
    let original = w.provider.keys().current().kid().to_owned();
    assert_eq!(original, first.current().kid());
    let before = w.tokens().await;
    assert!(other.verify_access_token(&before.access_token, ISSUER).is_ok(), "a replica verifies the other's token");

    let (a, b) = tokio::join!(
        w.provider.rotate_keys(&cipher, SigningAlgorithm::ES256),
        other.rotate_keys(&cipher, SigningAlgorithm::ES256)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(w.provider.keys().current().kid(), other.keys().current().kid(), "both replicas sign with one key");
    assert_ne!(w.provider.keys().current().kid(), original);
    // Rotated once: the original key is still the previous one, so tokens it signed still verify everywhere.
    assert!(w.provider.keys().find(&original).is_some(), "rotated twice: the key in use was dropped");
    assert!(other.verify_access_token(&before.access_token, ISSUER).is_ok());
    let after = w.tokens().await;
    assert!(other.verify_access_token(&after.access_token, ISSUER).is_ok());

    // A rotation on one replica reaches the other when it reloads.
    w.provider.rotate_keys(&cipher, SigningAlgorithm::ES256).await.unwrap();
    let newest = w.tokens().await;
    assert!(other.verify_access_token(&newest.access_token, ISSUER).is_err(), "not reloaded yet");
    other.reload_keys(&cipher).await.unwrap();
    assert!(other.verify_access_token(&newest.access_token, ISSUER).is_ok());

    // The stored document is sealed: another cipher cannot open it, and it holds no key in clear.
    assert!(KeySet::load(store.as_ref(), &cipher_of(6)).await.is_err());
    let stored = store.document("signing_keys", "current").await.unwrap().unwrap();
    assert!(!stored.document.to_string().contains("PRIVATE KEY"));
}

async fn a_key_rotated_on_one_replica_is_learned_by_the_other_at_its_first_token_once_per_interval(
    store: Arc<dyn Store>,
) {
    let w = world(store.clone()).await;
    let cipher = Arc::new(cipher_of(5));
    let replica = || async {
        let keys = KeySet::load_or_create(store.as_ref(), &cipher, SigningAlgorithm::ES256).await.unwrap();
        Provider::new(store.clone(), w.clock.clone(), keys, ProviderSettings::new(ISSUER))
    };
    let lagging = replica().await;
    let learning = replica().await.with_key_refresh(cipher.clone(), Duration::seconds(1));
    w.provider.reload_keys(&cipher).await.unwrap();
    w.provider.rotate_keys(&cipher, SigningAlgorithm::ES256).await.unwrap();
    let rotated = w.tokens().await.access_token;

    let refused = lagging.live_access_token(&rotated, None).await.unwrap_err();
    assert!(matches!(refused, Error::InvalidToken { reason: "unknown key" }), "{refused:?}");
    let (claims, _) = learning.live_access_token(&rotated, None).await.unwrap();
    assert_eq!(claims.sub, w.identity.id.to_string());
    assert_eq!(learning.keys().current().kid(), w.provider.keys().current().kid(), "and it signs with it too");

    // Within the interval a second unknown key is refused, however many tokens name it; after it, learned.
    w.provider.rotate_keys(&cipher, SigningAlgorithm::ES256).await.unwrap();
    let newer = w.tokens().await.access_token;
    for _ in 0..3 {
        assert!(!learning.introspect(&newer).await.unwrap().active);
    }
    w.clock.advance(Duration::seconds(1));
    assert!(learning.introspect(&newer).await.unwrap().active);

    // Revocation learns the key too, so a token signed by a key rotated elsewhere can still be revoked here.
    w.clock.advance(Duration::seconds(1));
    w.provider.rotate_keys(&cipher, SigningAlgorithm::ES256).await.unwrap();
    let newest = w.tokens().await.access_token;
    learning.revoke(&w.public, &newest).await.unwrap();
    assert!(!w.provider.introspect(&newest).await.unwrap().active, "the revocation did not reach the token");
    assert!(w.provider.introspect(&newer).await.unwrap().active);

    // Tokens that are not JWTs, name no key or name a known one are refused or verified without a reload: the
    // next key rotated elsewhere is still learned within the same interval.
    w.clock.advance(Duration::seconds(1));
    for junk in ["", "not a token", "e30.e30.", &"a".repeat(20_000)] {
        assert!(!learning.introspect(junk).await.unwrap().active);
    }
    assert!(learning.introspect(&newer).await.unwrap().active);
    w.provider.rotate_keys(&cipher, SigningAlgorithm::ES256).await.unwrap();
    let latest = w.tokens().await.access_token;
    assert!(learning.introspect(&latest).await.unwrap().active, "a token without a known kid used up the reload");
}
