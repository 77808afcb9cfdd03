//! Federation to upstream providers: the login at the upstream (state, nonce, PKCE, code exchange), ID token
//! validation (keys by kid with one refetch, algorithms from the key, iss/aud/exp/nonce), GitHub, routing by
//! email domain, and linking to local identities without account takeover.

mod federation_support;

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use federation_support::*;
use identity_core::time::Duration;
use identity_core::{Clock, CredentialType, EmailDomain, Identity, Organization, SecretString};
use identity_oidc::federation::*;
use identity_oidc::{Error, SigningAlgorithm, SigningKey};
use serde_json::{Value, json};

fn refused(result: Result<UpstreamIdentity, Error>) -> Error {
    result.expect_err("the login should have been refused")
}

#[tokio::test]
async fn a_valid_login_returns_the_upstream_identity_and_sends_pkce_and_the_secret() {
    let world = world();
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    let url = &begun.authorization_url;
    assert!(url.starts_with(&format!("{ISSUER}/authorize?")), "{url}");
    assert_eq!(query(url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query(url, "redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(query(url, "code_challenge_method").as_deref(), Some("S256"));
    let (state, nonce) = (query(url, "state").unwrap(), query(url, "nonce").unwrap());
    assert!(state.len() >= 43 && nonce.len() >= 43 && state != nonce, "fresh 32-byte values");
    assert!(query(url, "scope").unwrap().split(' ').any(|s| s == "openid"));
    let debug = format!("{:?} {:?}", begun.pending, world.provider);
    assert!(!debug.contains(&state) && !debug.contains(&nonce) && !debug.contains(CLIENT_SECRET), "{debug}");
    let verifier_json = begun.pending.to_internal_json();
    assert!(!debug.contains(verifier_json["verifier"].as_str().unwrap()), "{debug}");

    world.answer_with_claims(&world.claims(&begun));
    let upstream = world.federation.complete(&world.provider, &begun.pending, &world.callback(&begun)).await;
    let upstream = upstream.unwrap();
    assert_eq!(upstream.subject, "upstream-user-1");
    assert_eq!((upstream.email.as_deref(), upstream.email_verified), (Some("grace@example.com"), true));
    assert_eq!(upstream.provider, world.provider.id);

    // The token request carried the code, the verifier whose S256 is the challenge, and the client secret.
    let (url, form, basic) = world.http.with(|u| u.posts[0].clone());
    assert_eq!(url, format!("{ISSUER}/token"));
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(field("code").as_deref(), Some("the-code"));
    let verifier = field("code_verifier").unwrap();
    assert_eq!(
        identity_oidc::pkce::challenge_s256(&verifier),
        query(&begun.authorization_url, "code_challenge").unwrap()
    );
    assert_eq!(field("client_secret").as_deref(), Some(CLIENT_SECRET));
    assert!(basic.is_none());
}

#[tokio::test]
async fn an_issuer_without_client_secret_post_gets_basic_credentials() {
    let world = world();
    world.http.with(|u| u.auth_methods = Some(json!(["client_secret_basic"])));
    world.login_with(|_| {}).await.unwrap();
    let (_, form, basic) = world.http.with(|u| u.posts[0].clone());
    assert_eq!(basic, Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert!(form.iter().all(|(name, _)| name != "client_secret" && name != "client_id"));
}

#[tokio::test]
async fn a_pending_login_survives_its_internal_json_round_trip() {
    let world = world();
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    let stored = begun.pending.to_internal_json();
    assert_eq!(world.callback(&begun).lookup_key(), Some(begun.pending.lookup_key()), "the callback finds its login");
    assert_ne!(begun.pending.lookup_key(), stored["state"].as_str().unwrap(), "the key is not the state itself");
    assert_eq!(Callback::default().lookup_key(), None);
    let back = PendingLogin::from_internal_json(&stored).unwrap();
    world.answer_with_claims(&world.claims(&begun));
    assert!(world.federation.complete(&world.provider, &back, &world.callback(&begun)).await.is_ok());
    assert!(PendingLogin::from_internal_json(&json!({"state": 1})).is_err());
}

#[tokio::test]
async fn a_wrong_or_missing_state_is_refused_before_any_exchange() {
    let world = world();
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    world.answer_with_claims(&world.claims(&begun));
    for state in [Some("forged".to_owned()), None, Some(String::new())] {
        let callback = Callback { code: Some("c".into()), state, ..Default::default() };
        let error = refused(world.federation.complete(&world.provider, &begun.pending, &callback).await);
        assert!(matches!(error, Error::UpstreamStateMismatch), "{error}");
    }
    assert!(world.http.with(|u| u.posts.is_empty()), "no code was exchanged");
    // A callback for this login presented to another provider is refused too.
    let error = refused(world.federation.complete(&world.github, &begun.pending, &world.callback(&begun)).await);
    assert!(matches!(error, Error::UpstreamStateMismatch), "{error}");
}

#[tokio::test]
async fn an_upstream_error_and_a_stale_login_are_refused() {
    let world = world();
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    let mut callback = world.callback(&begun);
    callback.error = Some("access_denied".into());
    callback.code = None;
    let error = refused(world.federation.complete(&world.provider, &begun.pending, &callback).await);
    assert!(matches!(error, Error::UpstreamDenied { ref error, .. } if error == "access_denied"), "{error}");
    world.clock.advance(PENDING_LIFETIME + Duration::seconds(1));
    let error = refused(world.federation.complete(&world.provider, &begun.pending, &world.callback(&begun)).await);
    assert!(matches!(error, Error::UpstreamLoginExpired), "{error}");
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    let world = world();
    let error = refused(world.login_with(|c| c["nonce"] = "another-login".into()).await);
    assert!(matches!(error, Error::InvalidIdToken { reason } if reason.contains("nonce")), "{error}");
    let error = refused(world.login_with(|c| drop(c.as_object_mut().unwrap().remove("nonce"))).await);
    assert!(matches!(error, Error::InvalidIdToken { reason } if reason.contains("nonce")), "{error}");
}

#[tokio::test]
async fn wrong_issuer_audience_azp_and_expired_tokens_are_refused() {
    let world = world();
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change)> = vec![
        ("iss", Box::new(|c| c["iss"] = "https://evil.example".into())),
        ("aud", Box::new(|c| c["aud"] = "another-client".into())),
        ("azp", Box::new(|c| c["aud"] = json!([CLIENT_ID, "another-client"]))),
        ("azp", Box::new(|c| c["azp"] = "another-client".into())),
        ("expired", Box::new(|c| c["exp"] = json!(c["iat"].as_i64().unwrap() - 120))),
        ("future", Box::new(|c| c["iat"] = json!(c["iat"].as_i64().unwrap() + 3600))),
        ("sub", Box::new(|c| drop(c.as_object_mut().unwrap().remove("sub")))),
    ];
    for (what, change) in cases {
        let error = refused(world.login_with(|c| change(c)).await);
        assert!(matches!(error, Error::InvalidIdToken { .. }), "{what}: {error}");
    }
    // Several audiences with azp = us, and a token expired within the leeway, are fine.
    let upstream = world.login_with(|c| {
        c["aud"] = json!([CLIENT_ID, "another-client"]);
        c["azp"] = CLIENT_ID.into();
        c["exp"] = json!(c["iat"].as_i64().unwrap() - 30);
    });
    assert!(upstream.await.is_ok());
}

fn unsigned(header: Value, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.", part(&header), part(claims))
}

#[tokio::test]
async fn alg_none_and_hmac_tokens_are_refused() {
    let world = world();
    let kid = world.key.kid().to_owned();
    // alg none, naming our key.
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    let claims = world.claims(&begun);
    world.answer_with(&unsigned(json!({"alg": "none", "kid": kid, "typ": "JWT"}), &claims));
    let error = refused(world.federation.complete(&world.provider, &begun.pending, &world.callback(&begun)).await);
    assert!(matches!(error, Error::InvalidIdToken { .. }), "{error}");

    // HS256 keyed with the public key's JSON (the classic confusion attack) and with the client secret.
    for secret in [world.key.public_jwk().to_string().into_bytes(), CLIENT_SECRET.as_bytes().to_vec()] {
        let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        let key = jsonwebtoken::EncodingKey::from_secret(&secret);
        let token = jsonwebtoken::encode(&header, &world.claims(&begun), &key).unwrap();
        world.answer_with(&token);
        let error = refused(world.federation.complete(&world.provider, &begun.pending, &world.callback(&begun)).await);
        assert!(matches!(error, Error::InvalidIdToken { .. }), "{error}");
    }

    // An HMAC key published in the JWKS is not a signing key either.
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    world.http.with(|u| u.jwks = vec![json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0"})]);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("hmac".into());
    let key = jsonwebtoken::EncodingKey::from_secret(b"secret");
    world.answer_with(&jsonwebtoken::encode(&header, &world.claims(&begun), &key).unwrap());
    let error = refused(world.federation.complete(&world.provider, &begun.pending, &world.callback(&begun)).await);
    assert!(matches!(error, Error::InvalidIdToken { .. }), "{error}");
}

#[tokio::test]
async fn a_token_whose_header_alg_differs_from_the_key_is_refused() {
    let world = world_with(SigningAlgorithm::RS256);
    let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    // Publish the ES256 key under the RS256 key's kid: the token claims RS256, the key says ES256.
    let mut jwk = other.public_jwk().clone();
    jwk["kid"] = world.key.kid().into();
    world.http.with(|u| u.jwks = vec![jwk]);
    let error = refused(world.login_with(|_| {}).await);
    assert!(matches!(error, Error::InvalidIdToken { .. }), "{error}");
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused_after_one_refetch() {
    let world = world();
    let stranger = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    world.answer_with(&stranger.sign("JWT", &world.claims(&begun)).unwrap());
    let error = refused(world.federation.complete(&world.provider, &begun.pending, &world.callback(&begun)).await);
    assert!(matches!(error, Error::UnknownSigningKey { kid: Some(ref kid) } if kid == stranger.kid()), "{error}");
    assert_eq!(world.http.with(|u| (u.jwks_fetches, u.fresh_jwks_fetches)), (2, 1), "exactly one refetch");

    // A token signed by a stranger but naming our kid fails on the signature.
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    let mut header = stranger.header("JWT");
    header.kid = Some(world.key.kid().to_owned());
    let forged = jsonwebtoken::encode(&header, &world.claims(&begun), stranger.encoding_key()).unwrap();
    world.answer_with(&forged);
    let error = refused(world.federation.complete(&world.provider, &begun.pending, &world.callback(&begun)).await);
    assert!(matches!(error, Error::InvalidIdToken { reason } if reason.contains("signature")), "{error}");
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_the_key_set_is_refetched() {
    let world = world_with(SigningAlgorithm::RS256);
    let next = SigningKey::generate(SigningAlgorithm::RS256).unwrap();
    world.http.with(|u| u.rotated_jwks = Some(vec![u.jwks[0].clone(), next.public_jwk().clone()]));
    let begun = world.federation.begin(&world.provider, REDIRECT).await.unwrap();
    world.answer_with(&next.sign("JWT", &world.claims(&begun)).unwrap());
    let upstream = world.federation.complete(&world.provider, &begun.pending, &world.callback(&begun)).await;
    assert_eq!(upstream.unwrap().subject, "upstream-user-1");
    assert_eq!(world.http.with(|u| u.fresh_jwks_fetches), 1);
}

#[tokio::test]
async fn github_logins_use_the_user_api_and_only_verified_emails() {
    let world = world();
    let begun = world.federation.begin(&world.github, REDIRECT).await.unwrap();
    assert!(begun.authorization_url.starts_with(GITHUB_AUTHORIZE), "{}", begun.authorization_url);
    assert_eq!(query(&begun.authorization_url, "nonce"), None);
    world.http.with(|u| {
        u.token_response =
            json!({"access_token": "gho_token", "token_type": "bearer", "scope": "read:user,user:email"});
        u.github_user = json!({"id": 583231, "login": "octocat", "name": "The Octocat", "email": "public@example.com"});
        u.github_emails = json!([
            {"email": "old@example.com", "primary": false, "verified": true},
            {"email": "octo@example.com", "primary": true, "verified": true},
            {"email": "unverified@example.com", "primary": false, "verified": false},
        ]);
    });
    let upstream = world.federation.complete(&world.github, &begun.pending, &world.callback(&begun)).await;
    let upstream = upstream.unwrap();
    assert_eq!(upstream.subject, "583231");
    assert_eq!((upstream.email.as_deref(), upstream.email_verified), (Some("octo@example.com"), true));
    assert_eq!(upstream.claims["login"], "octocat");
    let gets = world.http.with(|u| u.bearer_gets.clone());
    assert_eq!(
        gets,
        vec![(GITHUB_USER.to_owned(), "gho_token".to_owned()), (GITHUB_EMAILS.to_owned(), "gho_token".to_owned())]
    );
    let (url, _, _) = world.http.with(|u| u.posts[0].clone());
    assert_eq!(url, GITHUB_TOKEN);

    // No verified address: the public one is reported, unverified.
    let begun = world.federation.begin(&world.github, REDIRECT).await.unwrap();
    world.http.with(|u| u.github_emails = json!([{"email": "x@example.com", "primary": true, "verified": false}]));
    let upstream = world.federation.complete(&world.github, &begun.pending, &world.callback(&begun)).await;
    let upstream = upstream.unwrap();
    assert_eq!((upstream.email.as_deref(), upstream.email_verified), (Some("public@example.com"), false));

    // GitHub's errors come with status 200.
    let begun = world.federation.begin(&world.github, REDIRECT).await.unwrap();
    world.http.with(|u| u.token_response = json!({"error": "bad_verification_code"}));
    let error = refused(world.federation.complete(&world.github, &begun.pending, &world.callback(&begun)).await);
    assert!(matches!(error, Error::UpstreamDenied { ref error, .. } if error == "bad_verification_code"), "{error}");
}

#[test]
fn logins_route_by_email_domain_to_the_organizations_provider() {
    let cipher = cipher();
    let secret = SecretString::new("s");
    let google = UpstreamProvider::new(UpstreamKind::Google, "Google", "g", &secret, &cipher).unwrap();
    let github = UpstreamProvider::new(UpstreamKind::Github, "GitHub", "h", &secret, &cipher).unwrap();
    let kind = UpstreamKind::Microsoft { tenant: "acme.example".into() };
    let mut entra = UpstreamProvider::new(kind, "ACME", "e", &secret, &cipher).unwrap();
    let mut acme = Organization::new("acme", "ACME").unwrap();
    acme.email_domains = BTreeSet::from([EmailDomain::new("acme.example").unwrap()]);
    acme.provider_id = Some(entra.id);
    entra.organization_id = Some(acme.id);
    let providers = vec![google.clone(), entra.clone(), github.clone()];
    let organizations = vec![acme.clone()];

    match route(Some("Grace@ACME.example"), &organizations, &providers).unwrap() {
        Route::Organization { organization, provider } => {
            assert_eq!((organization, provider.id), (acme.id, entra.id));
        }
        other => panic!("not routed to the organization: {other:?}"),
    }
    for email in [Some("grace@gmail.example"), Some("grace@sub.acme.example"), Some("not-an-email"), None] {
        let Route::Choose(choices) = route(email, &organizations, &providers).unwrap() else {
            panic!("{email:?} was routed to an organization")
        };
        let ids: Vec<_> = choices.iter().map(|p| p.id).collect();
        assert_eq!(ids, vec![google.id, github.id], "{email:?}: only global providers are offered");
    }
    // An organization whose provider is missing does not fall back to the global providers.
    let error = route(Some("grace@acme.example"), &organizations, &[google, github]).unwrap_err();
    assert!(matches!(error, Error::UnknownUpstreamProvider { .. }), "{error}");
}

#[test]
fn providers_serialise_with_the_secret_sealed_and_open_only_for_their_own_id() {
    let cipher = cipher();
    let provider =
        UpstreamProvider::new(UpstreamKind::Google, "Google", "g", &SecretString::new(CLIENT_SECRET), &cipher).unwrap();
    let json = serde_json::to_string(&provider).unwrap();
    assert!(!json.contains(CLIENT_SECRET), "{json}");
    let back: UpstreamProvider = serde_json::from_str(&json).unwrap();
    assert_eq!(back, provider);
    assert!(!format!("{provider:?}").contains(CLIENT_SECRET));
    let mut value: Value = serde_json::from_str(&json).unwrap();
    value["surprise"] = true.into();
    assert!(serde_json::from_value::<UpstreamProvider>(value).is_err(), "unknown fields are refused");
}

#[tokio::test]
async fn a_sealed_secret_moved_to_another_provider_does_not_open() {
    let world = world();
    let mut thief = world.github.clone();
    thief.kind = world.provider.kind.clone();
    thief.client_secret = world.provider.client_secret.clone();
    let begun = world.federation.begin(&thief, REDIRECT).await.unwrap();
    world.answer_with_claims(&world.claims(&begun));
    assert!(world.federation.complete(&thief, &begun.pending, &world.callback(&begun)).await.is_err());
    assert!(world.http.with(|u| u.posts.is_empty()));
}

#[tokio::test]
async fn providers_are_kept_in_the_store_with_optimistic_replacement() {
    let world = world();
    let providers = UpstreamProviders::new(world.store.clone());
    assert_eq!(providers.create(&world.provider).await.unwrap(), 1);
    assert!(providers.create(&world.provider).await.is_err(), "ids are unique");
    providers.create(&world.github).await.unwrap();
    let stored = providers.get(world.provider.id).await.unwrap().unwrap();
    assert_eq!((stored.provider.clone(), stored.version), (world.provider.clone(), 1));
    let mut changed = stored.provider.clone();
    changed.display_name = "Renamed".into();
    assert_eq!(providers.replace(&changed, 1).await.unwrap(), 2);
    assert!(providers.replace(&changed, 1).await.is_err(), "a stale version is refused");
    assert_eq!(providers.list().await.unwrap().len(), 2);
    providers.delete(world.github.id).await.unwrap();
    assert!(providers.get(world.github.id).await.unwrap().is_none());
    assert!(providers.delete(world.github.id).await.is_err());
}

// Linking.

async fn upstream(world: &World, change: impl FnOnce(&mut Value)) -> UpstreamIdentity {
    world.login_with(change).await.unwrap()
}

async fn local_identity(world: &World, email: &str) -> Identity {
    let traits = json!({"email": email});
    let mut identity = Identity::new("default", traits, world.clock.now()).unwrap();
    let mut address =
        identity_core::VerifiableAddress::new(email, identity_core::AddressVia::Email, world.clock.now()).unwrap();
    address.verified = true;
    identity.verifiable_addresses.push(address);
    world.store.create_identity(&identity).await.unwrap();
    identity
}

#[tokio::test]
async fn a_first_login_creates_a_linked_identity_with_mapped_traits_and_the_next_signs_it_in() {
    let world = world();
    let first = upstream(&world, |_| {}).await;
    let LinkOutcome::Created(created) = world.linker.resolve(&world.provider, first.clone()).await.unwrap() else {
        panic!("no identity was created")
    };
    assert_eq!(created.traits, json!({"email": "grace@example.com", "name": {"first": "Grace", "last": "Hopper"}}));
    assert!(created.verifiable_addresses.iter().any(|a| a.value == "grace@example.com" && a.verified));
    let credential = created.credentials.get(CredentialType::Oidc).unwrap();
    assert_eq!(credential.identifiers, vec![link_identifier(&world.provider, "upstream-user-1")]);

    let again = upstream(&world, |_| {}).await;
    match world.linker.resolve(&world.provider, again).await.unwrap() {
        LinkOutcome::Linked(identity) => assert_eq!(identity.id, created.id),
        other => panic!("not signed in to the linked identity: {other:?}"),
    }
}

#[tokio::test]
async fn traits_the_schema_refuses_create_nothing() {
    let world = world();
    let bad = upstream(&world, |c| c["email"] = "not an email".into()).await;
    assert!(world.linker.resolve(&world.provider, bad).await.is_err());
    assert_eq!(world.store.count_identities(&Default::default()).await.unwrap(), 0);
}

#[tokio::test]
async fn a_verified_email_of_an_existing_identity_requires_proof_before_linking() {
    let world = world();
    let local = local_identity(&world, "grace@example.com").await;
    let login = upstream(&world, |c| c["email"] = "Grace@Example.com".into()).await;
    let outcome = world.linker.resolve(&world.provider, login).await.unwrap();
    let LinkOutcome::ProofRequired { identity_id, upstream } = outcome else { panic!("linked silently: {outcome:?}") };
    assert_eq!(identity_id, local.id);
    // Nothing was linked yet: the next login asks again.
    let stored = world.store.identity(local.id).await.unwrap();
    assert!(stored.credentials.get(CredentialType::Oidc).is_none());

    let linked = world.linker.link_after_proof(identity_id, &world.provider, &upstream).await.unwrap();
    assert!(linked.credentials.get(CredentialType::Oidc).is_some());
    let next = upstream_again(&world).await;
    match world.linker.resolve(&world.provider, next).await.unwrap() {
        LinkOutcome::Linked(identity) => assert_eq!(identity.id, local.id),
        other => panic!("the proven link does not sign in: {other:?}"),
    }
    // Linking twice is harmless; linking the same account to another identity is refused by the store.
    world.linker.link_after_proof(local.id, &world.provider, &upstream).await.unwrap();
    let other = local_identity(&world, "other@example.com").await;
    assert!(world.linker.link_after_proof(other.id, &world.provider, &upstream).await.is_err());
}

async fn upstream_again(world: &World) -> UpstreamIdentity {
    upstream(world, |_| {}).await
}

#[tokio::test]
async fn an_unverified_email_never_matches_an_existing_identity() {
    let world = world();
    let local = local_identity(&world, "grace@example.com").await;
    let login = upstream(&world, |c| c["email_verified"] = false.into()).await;
    let outcome = world.linker.resolve(&world.provider, login.clone()).await.unwrap();
    assert!(matches!(outcome, LinkOutcome::EmailInUse { .. }), "{outcome:?}");
    let stored = world.store.identity(local.id).await.unwrap();
    assert!(stored.credentials.get(CredentialType::Oidc).is_none(), "no link was made");
    assert_eq!(world.store.count_identities(&Default::default()).await.unwrap(), 1);

    // With a fresh address, the new identity keeps the address unverified.
    let fresh = upstream(&world, |c| {
        c["email"] = "new@example.com".into();
        c["email_verified"] = "false".into();
        c["sub"] = "upstream-user-2".into();
    })
    .await;
    let LinkOutcome::Created(created) = world.linker.resolve(&world.provider, fresh).await.unwrap() else {
        panic!("no identity created")
    };
    assert!(created.verifiable_addresses.iter().all(|a| !a.verified));
}

#[tokio::test]
async fn an_upstream_identity_of_another_provider_is_refused() {
    let world = world();
    let login = upstream(&world, |_| {}).await;
    assert!(world.linker.resolve(&world.github, login.clone()).await.is_err());
    assert!(world.linker.link_after_proof(identity_core::IdentityId::new(), &world.github, &login).await.is_err());
}

// End to end against Node's `oidc-provider` on loopback, over the real reqwest client.

struct NodeUpstream {
    child: std::process::Child,
    issuer: String,
}

impl Drop for NodeUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/oidc-provider-node");
const E2E_REDIRECT: &str = "http://127.0.0.1:9/callback";

/// Starts the script of `federation_support/upstream.mjs` next to the installed package, or says why not.
fn start_node_upstream() -> Result<NodeUpstream, String> {
    use std::io::BufRead as _;
    let dir = std::path::Path::new(NODE_DIR);
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        return Err(format!("oidc-provider is not installed (run `npm install oidc-provider` in {NODE_DIR})"));
    }
    // ES modules resolve packages from the script's own directory, so the script runs from beside them.
    let script = dir.join("federation-upstream.mjs");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/federation_support/upstream.mjs"), &script).unwrap();
    let mut child = std::process::Command::new("node")
        .arg(&script)
        .args(["e2e-client", "e2e-client-secret-0123456789", E2E_REDIRECT])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let issuer = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("the node upstream said {line:?}"));
    // Keep reading: the provider logs later, and a closed pipe would kill it.
    std::thread::spawn(move || stdout.lines().map_while(Result::ok).for_each(|line| eprintln!("node: {line}")));
    Ok(NodeUpstream { issuer: issuer.to_owned(), child })
}

/// Follows redirects by hand from `url` until one points at `stop`, carrying cookies as a browser would.
async fn browse_until(url: &str, stop: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut cookies = std::collections::BTreeMap::<String, String>::new();
    let mut url = url.to_owned();
    for _ in 0..10 {
        let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let response = client.get(&url).header("cookie", header.join("; ")).send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let Some(location) = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()) else {
            panic!("{url} answered {status} without a redirect: {}", response.text().await.unwrap_or_default())
        };
        if location.starts_with(stop) {
            return location;
        }
        url = if location.starts_with('/') {
            let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            format!("{origin}{location}")
        } else {
            location
        };
    }
    panic!("too many redirects");
}

#[tokio::test]
async fn a_login_at_a_real_oidc_provider_creates_and_then_signs_in_a_linked_identity() {
    let upstream = match start_node_upstream() {
        Ok(upstream) => upstream,
        Err(why) => {
            println!("SKIPPED: the end-to-end federation test needs Node's oidc-provider: {why}");
            return;
        }
    };
    let world = world();
    let http = ReqwestHttp::new(HttpSettings::default()).unwrap();
    let federation =
        Federation::new(std::sync::Arc::new(http), cipher(), std::sync::Arc::new(identity_core::SystemClock));
    let secret = SecretString::new("e2e-client-secret-0123456789");
    let kind = UpstreamKind::Oidc { issuer: upstream.issuer.clone() };
    let provider = UpstreamProvider::new(kind, "Node", "e2e-client", &secret, &cipher()).unwrap();

    let mut linked_to = None;
    for round in 0..2 {
        let begun = federation.begin(&provider, E2E_REDIRECT).await.unwrap();
        let back = browse_until(&begun.authorization_url, E2E_REDIRECT).await;
        let callback = Callback { code: query(&back, "code"), state: query(&back, "state"), ..Default::default() };
        assert!(callback.code.is_some(), "no code in {back}");
        let identity = federation.complete(&provider, &begun.pending, &callback).await.unwrap();
        assert_eq!(identity.subject, "ada");
        assert_eq!((identity.email.as_deref(), identity.email_verified), (Some("ada@example.com"), true));
        assert_eq!(identity.claims["given_name"], "Ada");
        match (round, world.linker.resolve(&provider, identity).await.unwrap()) {
            (0, LinkOutcome::Created(created)) => {
                assert_eq!(created.traits["name"], json!({"first": "Ada", "last": "Lovelace"}));
                linked_to = Some(created.id);
            }
            (1, LinkOutcome::Linked(identity)) => assert_eq!(Some(identity.id), linked_to),
            (round, other) => panic!("round {round}: {other:?}"),
        }
        // The same code cannot be used twice at the upstream.
        if round == 1 {
            let replay = federation.complete(&provider, &begun.pending, &callback).await;
            assert!(replay.is_err());
        }
    }
}
