//! Sessions on the memory and SQLite stores: issuing, the check with its assurance levels, extension, listing,
//! revocation, and the privileged window.

#[macro_use]
mod support;

use std::sync::Arc;

use identity_auth::{ClientInfo, Error, RequiredAal, SessionSettings, Sessions};
use identity_core::time::Duration;
use identity_core::{
    AssuranceLevel, AuthenticationMethod, Clock, Credential, CredentialConfig, CredentialType, Identity, IdentityState,
    TestClock,
};
use identity_store::Store;
use support::*;

identity_store::on_every_store!(
    a_session_is_issued_with_its_token_once_and_checked,
    revoked_expired_and_disabled_sessions_are_inactive,
    highest_available_asks_for_the_second_factor_an_identity_has,
    highest_available_follows_a_policy_that_requires_a_second_factor,
    sessions_extend_only_inside_the_window,
    sessions_are_listed_and_revoked_one_others_or_all,
    only_a_recent_authentication_is_privileged,
);

fn password_step(clock: &TestClock) -> Vec<AuthenticationMethod> {
    vec![AuthenticationMethod {
        method: CredentialType::Password,
        aal: AssuranceLevel::Aal1,
        completed_at: clock.now(),
    }]
}

async fn setup(store: &Arc<dyn Store>) -> (Arc<TestClock>, Sessions, Identity) {
    let clock = clock();
    let sessions = Sessions::new(store.clone(), clock.clone(), SessionSettings::default()).unwrap();
    let identity = user(store, &hasher(), "ada@example.com", "correct-horse-battery", clock.now()).await;
    (clock, sessions, identity)
}

async fn a_session_is_issued_with_its_token_once_and_checked(store: Arc<dyn Store>) {
    let (clock, sessions, ada) = setup(&store).await;
    let client = ClientInfo { ip_address: Some("192.0.2.1".parse().unwrap()), user_agent: Some("curl/8".into()) };
    let issued = sessions.issue(&ada, password_step(&clock), client).await.unwrap();
    assert_eq!(issued.session.token_hash, identity_auth::hash_token(issued.token.expose_secret()));
    assert_eq!(issued.session.expires_at, clock.now() + Duration::hours(24));
    assert_eq!(issued.session.devices[0].user_agent.as_deref(), Some("curl/8"));
    assert!(!format!("{issued:?}").contains(issued.token.expose_secret()), "the token leaks through Debug");

    let (session, identity) =
        sessions.check(issued.token.expose_secret(), RequiredAal::HighestAvailable).await.unwrap();
    assert_eq!((session.id, identity.id), (issued.session.id, ada.id));
    assert!(matches!(sessions.check("no-such-token", RequiredAal::Aal1).await, Err(Error::SessionInactive)));
}

async fn revoked_expired_and_disabled_sessions_are_inactive(store: Arc<dyn Store>) {
    let (clock, sessions, mut ada) = setup(&store).await;
    let revoked = sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await.unwrap();
    sessions.revoke(ada.id, revoked.session.id).await.unwrap();
    assert!(matches!(
        sessions.check(revoked.token.expose_secret(), RequiredAal::Aal1).await,
        Err(Error::SessionInactive)
    ));

    let expiring = sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await.unwrap();
    let live = sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await.unwrap();
    clock.advance(Duration::hours(24));
    assert!(matches!(
        sessions.check(expiring.token.expose_secret(), RequiredAal::Aal1).await,
        Err(Error::SessionInactive)
    ));
    clock.advance(-Duration::hours(1));
    sessions.check(live.token.expose_secret(), RequiredAal::Aal1).await.unwrap();

    // A disabled identity's sessions are dead at once, even before they are revoked.
    ada.set_state(IdentityState::Inactive, clock.now());
    store.update_identity(&ada).await.unwrap();
    assert!(matches!(sessions.check(live.token.expose_secret(), RequiredAal::Aal1).await, Err(Error::SessionInactive)));
    assert!(matches!(
        sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await,
        Err(Error::IdentityDisabled)
    ));
    // Enabling it again does not bring them back.
    clock.advance(Duration::minutes(1));
    ada.set_state(IdentityState::Active, clock.now());
    store.update_identity(&ada).await.unwrap();
    assert!(matches!(sessions.check(live.token.expose_secret(), RequiredAal::Aal1).await, Err(Error::SessionInactive)));
    // And a deleted identity's sessions are gone with it.
    store.delete_identity(ada.id).await.unwrap();
    assert!(matches!(sessions.check(live.token.expose_secret(), RequiredAal::Aal1).await, Err(Error::SessionInactive)));
}

async fn highest_available_asks_for_the_second_factor_an_identity_has(store: Arc<dyn Store>) {
    let (clock, sessions, mut ada) = setup(&store).await;
    let issued = sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await.unwrap();
    sessions.check(issued.token.expose_secret(), RequiredAal::HighestAvailable).await.unwrap();

    let totp = identity_core::TotpConfig::new(identity_core::SealedSecret::from_bytes(vec![1; 48]));
    ada.credentials.insert(Credential::new(CredentialConfig::Totp(totp), vec![], clock.now()).unwrap());
    store.update_identity(&ada).await.unwrap();
    let token = issued.token.expose_secret();
    assert!(matches!(sessions.check(token, RequiredAal::HighestAvailable).await, Err(Error::Aal2Required)));
    sessions.check(token, RequiredAal::Aal1).await.unwrap();

    let second =
        AuthenticationMethod { method: CredentialType::Totp, aal: AssuranceLevel::Aal2, completed_at: clock.now() };
    let upgraded = sessions.add_method(issued.session, second).await.unwrap();
    assert_eq!(upgraded.authenticator_assurance_level, AssuranceLevel::Aal2);
    sessions.check(token, RequiredAal::HighestAvailable).await.unwrap();
}

async fn sessions_extend_only_inside_the_window(store: Arc<dyn Store>) {
    let settings = SessionSettings { earliest_possible_extend: Duration::hours(1), ..SessionSettings::default() };
    let clock = clock();
    let sessions = Sessions::new(store.clone(), clock.clone(), settings).unwrap();
    let ada = user(&store, &hasher(), "ada@example.com", "correct-horse-battery", clock.now()).await;
    let issued = sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await.unwrap();
    clock.advance(Duration::hours(2));
    assert_eq!(
        sessions.extend(ada.id, issued.session.id).await.unwrap().expires_at,
        issued.session.expires_at,
        "too early"
    );
    clock.advance(Duration::hours(21) + Duration::minutes(30));
    let extended = sessions.extend(ada.id, issued.session.id).await.unwrap();
    assert_eq!(extended.expires_at, clock.now() + Duration::hours(24));
    sessions.check(issued.token.expose_secret(), RequiredAal::Aal1).await.unwrap();
    sessions.revoke(ada.id, issued.session.id).await.unwrap();
    assert!(matches!(sessions.extend(ada.id, issued.session.id).await, Err(Error::SessionInactive)));
}

async fn sessions_are_listed_and_revoked_one_others_or_all(store: Arc<dyn Store>) {
    let (clock, sessions, ada) = setup(&store).await;
    let mut issued = Vec::new();
    for _ in 0..4 {
        issued.push(sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await.unwrap());
        clock.advance(Duration::seconds(1));
    }
    assert_eq!(sessions.list(ada.id, true).await.unwrap().len(), 4);
    // Another identity can neither revoke nor extend them.
    let mallory = user(&store, &hasher(), "mallory@example.com", "correct-horse-battery", clock.now()).await;
    assert!(matches!(sessions.revoke(mallory.id, issued[1].session.id).await, Err(Error::Store(_))));
    assert!(matches!(sessions.extend(mallory.id, issued[1].session.id).await, Err(Error::Store(_))));
    assert_eq!(sessions.list(ada.id, true).await.unwrap().len(), 4);
    sessions.revoke(ada.id, issued[0].session.id).await.unwrap();
    assert_eq!(sessions.list(ada.id, true).await.unwrap().len(), 3);
    assert_eq!(sessions.list(ada.id, false).await.unwrap().len(), 4);
    assert_eq!(sessions.revoke_others(ada.id, issued[3].session.id).await.unwrap(), 2);
    let left = sessions.list(ada.id, true).await.unwrap();
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), [issued[3].session.id]);
    assert_eq!(sessions.revoke_all(ada.id).await.unwrap(), 1);
    assert!(sessions.list(ada.id, true).await.unwrap().is_empty());
}

async fn only_a_recent_authentication_is_privileged(store: Arc<dyn Store>) {
    let (clock, sessions, ada) = setup(&store).await;
    let issued = sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await.unwrap();
    sessions.require_privileged(&issued.session).unwrap();
    clock.advance(Duration::minutes(16));
    assert!(matches!(sessions.require_privileged(&issued.session), Err(Error::ReauthenticationRequired)));
    let again =
        AuthenticationMethod { method: CredentialType::Password, aal: AssuranceLevel::Aal1, completed_at: clock.now() };
    let refreshed = sessions.add_method(issued.session, again).await.unwrap();
    sessions.require_privileged(&refreshed).unwrap();
}

async fn highest_available_follows_a_policy_that_requires_a_second_factor(store: Arc<dyn Store>) {
    let clock = clock();
    let mut policy = identity_core::AuthenticationPolicy::default();
    policy.secondary.require_totp = true;
    let policies = identity_auth::Policies::new(policy, vec![]).unwrap();
    let sessions =
        Sessions::new(store.clone(), clock.clone(), SessionSettings::default()).unwrap().with_policies(policies);
    let ada = user(&store, &hasher(), "ada@example.com", "correct-horse-battery", clock.now()).await;
    let issued = sessions.issue(&ada, password_step(&clock), ClientInfo::default()).await.unwrap();
    let token = issued.token.expose_secret();
    assert!(matches!(sessions.check(token, RequiredAal::HighestAvailable).await, Err(Error::Aal2Required)));
    sessions.check(token, RequiredAal::Aal1).await.unwrap();
}
