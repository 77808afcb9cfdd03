//! The `openidconnect` crate as a real relying party of the reference server, over HTTP: discovery and JWKS,
//! authorization code with PKCE through a browser that signs in at the login flow and comes back, ID token
//! validation (signature, `iss`, `aud`, `nonce`, `at_hash`), userinfo, refresh, client credentials and
//! revocation (over HTTPS, at the TLS listener: the crate, as RFC 7009 says, revokes over nothing else);
//! introspection on the admin listener checks what the relying party holds. And what must fail: another
//! nonce, a tampered `state`, a wrong PKCE verifier, a revoked refresh token.
//!
//! The crate's own `reqwest` feature targets another reqwest major than the workspace's, so its HTTP hook is
//! implemented here over ours (a closure, which `AsyncHttpClient` is implemented for).

use identity_server::config::Config;
use identity_server::server::start;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreProviderMetadata, CoreRevocableToken,
    CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpClientError, HttpRequest, HttpResponse,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError,
    RevocationUrl, Scope, TokenResponse as _,
};
use serde_json::{Value, json};
use support::browser::{Browser, csrf_token, location, query};
use support::{JsonBody, Pki};

mod support;

/// A loopback redirect URI nobody serves: the code is read from the `Location` header pointing there.
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const CLIENT_ID: &str = "rust-rp";
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct-horse-battery-staple";

/// Sends one of the relying party's requests with the workspace's reqwest. The client given must not follow
/// redirects: openidconnect requires that (a redirect could carry a request, and its secrets, elsewhere).
async fn send(http: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpClientError<reqwest::Error>> {
    let request = reqwest::Request::try_from(request).map_err(Box::new)?;
    let response = http.execute(request).await.map_err(Box::new)?;
    let mut answer = openidconnect::http::Response::builder().status(response.status()).version(response.version());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await.map_err(Box::new)?;
    Ok(answer.body(body.to_vec())?)
}

/// The code in the authorization response at `callback`, if its `state` is the one sent (the relying party's own
/// CSRF check: the crate leaves it to the caller).
fn code_of(callback: &str, state: &CsrfToken) -> Result<AuthorizationCode, String> {
    match (query(callback, "state"), query(callback, "code")) {
        (Some(got), Some(code)) if got == *state.secret() => Ok(AuthorizationCode::new(code)),
        (got, _) => Err(format!("the state {got:?} is not the one sent")),
    }
}

/// Asserts that a token request was refused with `invalid_grant`.
fn assert_invalid_grant<T: std::fmt::Debug, E: std::error::Error + 'static>(
    result: Result<T, RequestTokenError<E, openidconnect::StandardErrorResponse<CoreErrorResponseType>>>,
) {
    match result {
        Err(RequestTokenError::ServerResponse(error)) => {
            assert_eq!(*error.error(), CoreErrorResponseType::InvalidGrant, "{error:?}")
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn openidconnect_signs_in_through_the_login_flow_refreshes_and_revokes() {
    // RFC 7009 has clients revoke over HTTPS only, and the crate holds to that: the public API is also served on
    // the TLS listener (which asks for, but does not need, a client certificate), with a certificate from this CA.
    let pki = Pki::new();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oidc-rp-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (certificate, key, _) =
        pki.issue("localhost", vec!["localhost".into()], rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    for (name, text) in [("server.pem", &certificate), ("server.key", &key), ("ca.pem", &pki.ca.pem())] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let config = Config::from_value(
        json!({
            "dsn": "memory",
            "serve": { "public": { "port": 0 }, "admin": { "port": 0 }, "mtls": {
                "port": 0, "certificate_file": dir.join("server.pem"), "key_file": dir.join("server.key"),
                "client_ca_file": dir.join("ca.pem") } },
            "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
        }),
        std::iter::empty(),
    )
    .unwrap();
    let running = start(config).await.unwrap();
    let (public, admin) = (format!("http://{}", running.public), format!("http://{}", running.admin));
    let revocation = format!("https://localhost:{}/oauth2/revoke", running.mtls.unwrap().port());
    let api = reqwest::Client::new();
    let registration = json!({
        "client_id": CLIENT_ID, "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "scope": "openid email reports:read", "token_endpoint_auth_method": "client_secret_basic"
    });
    let created = api.post(format!("{admin}/admin/clients")).json(&registration).json_body().await;
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let registered = support::register(&api, &public, EMAIL, PASSWORD).await;
    let identity = registered["identity"]["id"].as_str().unwrap().to_owned();
    let introspect = |token: String| {
        let (api, url) = (api.clone(), format!("{admin}/admin/oauth2/introspect"));
        async move { api.post(url).form(&[("token", token)]).json_body().await }
    };

    // The relying party's back channel: its own client, no cookies, no redirects.
    let backchannel = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let rp_http = move |request: HttpRequest| send(backchannel.clone(), request);

    // Discovery and the JWKS, both over HTTP, from the issuer.
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(public.clone()).unwrap(), &rp_http)
        .await
        .expect("discovery and JWKS");
    assert_eq!(metadata.issuer().as_str(), public);
    assert!(!metadata.jwks().keys().is_empty(), "the JWKS has the signing key");
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(CLIENT_ID.into()), Some(ClientSecret::new(secret)))
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    // Discovery names the revocation endpoint, but the crate's core metadata type does not read it; and the
    // crate refuses to revoke over plain HTTP, so the relying party revokes at the TLS listener.
    let plain = client.clone().set_revocation_url(RevocationUrl::new(format!("{public}/oauth2/revoke")).unwrap());
    let refused = plain.revoke_token(CoreRevocableToken::AccessToken(openidconnect::AccessToken::new("t".into())));
    assert!(matches!(refused, Err(openidconnect::ConfigurationError::InsecureUrl(_))));
    let client = client.set_revocation_url(RevocationUrl::new(revocation).unwrap());
    let authorize = || {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        (url.to_string(), verifier, state, nonce)
    };

    // The browser has no session: the authorization endpoint sends it through the login flow and back.
    let (url, verifier, state, nonce) = authorize();
    assert!(url.starts_with(&format!("{public}/oauth2/auth?")), "{url}");
    let mut browser = Browser::new();
    let detour = browser.get(&url).await;
    assert_eq!(detour.status(), 303);
    let login = location(&detour);
    assert!(login.starts_with(&format!("{public}/self-service/login/browser?")), "{login}");
    let shown = browser.get(&login).await;
    assert_eq!(shown.status(), 200, "without a UI configured the browser flow is shown as JSON");
    let flow: Value = shown.json().await.unwrap();
    assert_eq!(flow["ui"]["method"], "POST");
    let csrf = csrf_token(&flow);
    let form = [("csrf_token", csrf.as_str()), ("method", "password"), ("identifier", EMAIL), ("password", PASSWORD)];
    let submitted = browser.send(browser.http.post(flow["ui"]["action"].as_str().unwrap()).form(&form)).await;
    assert_eq!(submitted.status(), 303, "a browser's form gets a redirect");
    let resume = location(&submitted);
    assert_eq!(Some(resume.clone()), flow["return_to"].as_str().map(str::to_owned));
    assert!(resume.starts_with(&format!("{public}/oauth2/auth?")), "{resume}");
    assert!(browser.cookies.contains_key("ory_kratos_session"), "signed in: {:?}", browser.cookies.keys());
    let back = browser.get(&resume).await;
    assert!(matches!(back.status().as_u16(), 302 | 303), "{}", back.status());
    let callback = location(&back);
    assert!(callback.starts_with(&format!("{REDIRECT}?")), "{callback}");
    assert_eq!(query(&callback, "iss"), Some(public.clone()), "RFC 9207: the response names its issuer");
    // A tampered state is the relying party's to catch; the real one passes.
    let tampered = callback.replace(&format!("state={}", state.secret()), "state=forged");
    assert_ne!(tampered, callback);
    assert!(code_of(&tampered, &state).is_err(), "a forged state is refused");
    let code = code_of(&callback, &state).unwrap();

    let tokens: CoreTokenResponse = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http)
        .await
        .expect("the code is exchanged");
    let id_verifier = client.id_token_verifier();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&id_verifier, &nonce).expect("the ID token passes the crate's checks");
    assert_eq!(claims.subject().as_str(), identity);
    assert_eq!(claims.issuer().as_str(), public);
    assert!(claims.audiences().iter().any(|aud| aud.as_str() == CLIENT_ID));
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash binds the ID token to the access token");
    assert!(id_token.claims(&id_verifier, &Nonce::new("another".into())).is_err(), "another nonce is refused");

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&rp_http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some(EMAIL));

    // A refresh rotates the refresh token: the first one is used up.
    let first_refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed: CoreTokenResponse =
        client.exchange_refresh_token(&first_refresh).unwrap().request_async(&rp_http).await.expect("the refresh");
    let refresh = refreshed.refresh_token().expect("a new refresh token").clone();
    assert_ne!(refresh.secret(), first_refresh.secret());
    // The refreshed ID token carries no nonce (there was no new authorization request); it must still be the
    // provider's, for this client and user, and bound to the new access token.
    let id_token = refreshed.id_token().expect("a refreshed ID token: openid was granted");
    let claims = id_token.claims(&id_verifier, |nonce: Option<&Nonce>| match nonce {
        None => Ok(()),
        Some(_) => Err("a nonce on a refreshed ID token".to_owned()),
    });
    let claims = claims.expect("the refreshed ID token passes the crate's checks");
    assert_eq!(claims.subject().as_str(), identity);
    let expected_hash = AccessTokenHash::from_token(
        refreshed.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    assert_eq!(introspect(refreshed.access_token().secret().clone()).await["active"], true);
    assert_eq!(introspect(first_refresh.secret().clone()).await["active"], false, "a used refresh token stays used");

    // Client credentials: the client itself is the subject.
    let service: CoreTokenResponse = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("reports:read".into()))
        .request_async(&rp_http)
        .await
        .expect("client credentials");
    let seen = introspect(service.access_token().secret().clone()).await;
    assert_eq!((seen["active"].clone(), seen["sub"].clone()), (json!(true), json!(CLIENT_ID)));

    // Revocation (RFC 7009) through the crate: introspection then says inactive, and the refresh token is dead.
    assert_eq!(introspect(refresh.secret().clone()).await["active"], true);
    client
        .revoke_token(CoreRevocableToken::RefreshToken(refresh.clone()))
        .unwrap()
        .request_async(&rp_http)
        .await
        .expect("the refresh token is revoked");
    assert_eq!(introspect(refresh.secret().clone()).await["active"], false);
    assert_invalid_grant(client.exchange_refresh_token(&refresh).unwrap().request_async(&rp_http).await);
    assert_invalid_grant(
        client.exchange_refresh_token(&RefreshToken::new("never-issued".into())).unwrap().request_async(&rp_http).await,
    );
    client
        .revoke_token(CoreRevocableToken::AccessToken(service.access_token().clone()))
        .unwrap()
        .request_async(&rp_http)
        .await
        .expect("the service token is revoked");
    assert_eq!(introspect(service.access_token().secret().clone()).await["active"], false);

    // Signed in now, the browser gets a code straight away; exchanged with another PKCE verifier, it is refused.
    let (url, _verifier, state, _nonce) = authorize();
    let straight = browser.get(&url).await;
    let callback = location(&straight);
    assert!(callback.starts_with(&format!("{REDIRECT}?")), "no second login: {callback}");
    let code = code_of(&callback, &state).unwrap();
    let (_, wrong) = PkceCodeChallenge::new_random_sha256();
    assert_invalid_grant(client.exchange_code(code).unwrap().set_pkce_verifier(wrong).request_async(&rp_http).await);
    running.stop().await;
}
