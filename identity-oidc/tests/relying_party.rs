//! identity-oidc checked by a real relying party: the `openidconnect` crate reads the discovery document and JWKS,
//! builds the authorization request, and validates the ID token (signature, `iss`, `aud`, `exp`, `nonce`,
//! `at_hash`) and the userinfo answer. No HTTP: the provider's answers are handed over as the JSON a server would
//! send (the server's own end-to-end test drives the same over HTTP).

mod support;

use std::sync::Arc;

use identity_core::Clock;
use identity_oidc::*;
use identity_store::Store;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreProviderMetadata, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, ClientId, ClientSecret, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse as _,
};
use support::*;

identity_store::on_every_store!(
    es256_tokens_pass_a_relying_partys_checks,
    eddsa_tokens_pass_a_relying_partys_checks,
    rs256_tokens_pass_a_relying_partys_checks,
);

async fn es256_tokens_pass_a_relying_partys_checks(store: Arc<dyn Store>) {
    relying_party(store, SigningAlgorithm::ES256).await;
}

async fn eddsa_tokens_pass_a_relying_partys_checks(store: Arc<dyn Store>) {
    relying_party(store, SigningAlgorithm::EdDSA).await;
}

async fn rs256_tokens_pass_a_relying_partys_checks(store: Arc<dyn Store>) {
    relying_party(store, SigningAlgorithm::RS256).await;
}

/// Converts through JSON, as the bytes on the wire would be read.
fn wire<T: serde::Serialize, U: serde::de::DeserializeOwned>(value: &T) -> U {
    serde_json::from_value(serde_json::to_value(value).unwrap()).unwrap()
}

async fn relying_party(store: Arc<dyn Store>, algorithm: SigningAlgorithm) {
    let w = world_with(store, algorithm).await;
    let metadata: CoreProviderMetadata = wire(&w.provider.discovery());
    let jwks: CoreJsonWebKeySet = wire(&w.provider.jwks());
    let client = CoreClient::from_provider_metadata(
        metadata.set_jwks(jwks),
        ClientId::new("backend".into()),
        Some(ClientSecret::new(w.secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    // The relying party's authorization request, read by the provider as the server would read its query.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert!(url.as_str().starts_with(&format!("{ISSUER}/oauth2/auth?")), "{url}");
    let request: AuthorizationRequest = serde_urlencoded::from_str(url.query().unwrap()).unwrap();
    let Authorization::Code { location } = w.provider.authorize(&request, w.signed_in()).await.unwrap() else {
        panic!("no code")
    };
    assert_eq!(query(&location, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(query(&location, "iss").as_deref(), Some(ISSUER));
    let code = query(&location, "code").unwrap();

    let exchange = TokenRequest {
        grant_type: Some("authorization_code".into()),
        code: Some(identity_core::SecretString::new(&code)),
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some(identity_core::SecretString::new(verifier.secret())),
        ..Default::default()
    };
    let tokens: CoreTokenResponse = wire(&w.provider.token(&exchange, Some(&w.basic(&w.secret))).await.unwrap());
    // The provider's clock, not the machine's: the fixtures live in 2026-01.
    let now = w.clock.now().unix_timestamp();
    let id_verifier =
        client.id_token_verifier().set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap_or_default());
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&id_verifier, &nonce).expect("the relying party accepts the ID token");
    assert_eq!(claims.subject().as_str(), w.identity.id.to_string());
    assert_eq!(claims.issuer().as_str(), ISSUER);
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash binds the ID token to the access token");
    // Another nonce, or a verifier for another client, must fail.
    assert!(id_token.claims(&id_verifier, &Nonce::new("other".into())).is_err());
    let stranger = CoreClient::from_provider_metadata(
        wire::<_, CoreProviderMetadata>(&w.provider.discovery()).set_jwks(wire(&w.provider.jwks())),
        ClientId::new("someone-else".into()),
        None,
    );
    let stranger_verifier =
        stranger.id_token_verifier().set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap_or_default());
    assert!(id_token.claims(&stranger_verifier, &nonce).is_err(), "an ID token for another audience");

    // Userinfo, read as the relying party's typed claims.
    let userinfo = w.provider.userinfo(tokens.access_token().secret()).await.unwrap();
    let body = serde_json::to_vec(&userinfo).unwrap();
    let expected = claims.subject().clone();
    let userinfo = CoreUserInfoClaims::from_json::<std::io::Error>(&body, Some(&expected)).unwrap();
    assert_eq!(userinfo.subject().as_str(), w.identity.id.to_string());
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some("Ada@Example.com"), "the traits as written");
    assert_eq!(userinfo.email_verified(), Some(true));

    // A refresh, whose answer the relying party reads again.
    let refresh = TokenRequest {
        grant_type: Some("refresh_token".into()),
        refresh_token: Some(identity_core::SecretString::new(tokens.refresh_token().unwrap().secret())),
        ..Default::default()
    };
    let refreshed: CoreTokenResponse = wire(&w.provider.token(&refresh, Some(&w.basic(&w.secret))).await.unwrap());
    assert_ne!(refreshed.refresh_token().unwrap().secret(), tokens.refresh_token().unwrap().secret());
    assert!(w.provider.introspect(refreshed.access_token().secret()).await.unwrap().active);
}
