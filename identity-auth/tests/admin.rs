//! The operator's jobs, on the memory and SQLite stores: administrators, lookups, password and second-factor
//! resets that end sessions, recovery codes, disabling, deleting, Kratos imports and enrollment-only identities.

#[macro_use]
mod support;

use std::sync::Arc;

use identity_auth::{Error, FlowType, IdentityImport, RequiredAal, Submission, Submitted};
use identity_core::time::Duration;
use identity_core::{
    AssuranceLevel, AuthenticationMethod, Clock, CredentialType, EnrollmentMethod, IdentityState, IdentityType,
    SecretString,
};
use identity_store::Store;
use serde_json::json;
use support::*;

identity_store::on_every_store!(
    an_administrator_signs_in_with_email_or_username,
    identities_are_found_by_id_and_by_email,
    a_password_reset_ends_every_session,
    a_recovery_code_from_the_operator_recovers_the_account,
    resetting_a_second_factor_removes_it_and_ends_sessions,
    disabling_ends_sessions_and_deleting_removes_everything,
    kratos_imports_keep_hashed_passwords_and_verified_addresses,
    bad_imports_are_refused_and_store_nothing,
    an_identity_without_credentials_enrolls_with_a_password,
);

const PASSWORD: &str = "correct-horse-battery-staple";

fn secret(text: &str) -> SecretString {
    SecretString::new(text)
}

async fn signs_in(world: &World, identifier: &str, password: &str) -> bool {
    let request =
        identity_auth::LoginRequest { flow: identity_auth::FlowRequest::new(FlowType::Api, "x"), session_token: None };
    let flow = world.service.create_login(&request).await.unwrap().flow;
    let body = json!({ "identifier": identifier, "password": password });
    matches!(world.service.submit_login(flow.id, Submission::new("password", body)).await.unwrap(), Submitted::Done(_))
}

async fn session_of(world: &World, identity: &identity_core::Identity) -> SecretString {
    let methods = vec![
        AuthenticationMethod {
            method: CredentialType::Password,
            aal: AssuranceLevel::Aal1,
            completed_at: world.clock.now(),
        },
        AuthenticationMethod {
            method: CredentialType::Totp,
            aal: AssuranceLevel::Aal2,
            completed_at: world.clock.now(),
        },
    ];
    world.sessions.issue(identity, methods, Default::default()).await.unwrap().token
}

async fn is_active(world: &World, token: &SecretString) -> bool {
    world.sessions.check(token.expose_secret(), RequiredAal::Aal1).await.is_ok()
}

async fn an_administrator_signs_in_with_email_or_username(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let created = admin.create_admin("Root@Example.com", Some("Root"), secret(PASSWORD)).await.unwrap();
    assert!(created.is_admin);
    assert!(signs_in(&world, "root@example.com", PASSWORD).await);
    assert!(signs_in(&world, "ROOT", PASSWORD).await);
    let weak = admin.create_admin("other@example.com", None, secret("short")).await;
    assert!(matches!(weak, Err(Error::PasswordTooShort { .. })), "{weak:?}");
    let taken = admin.create_admin("root@example.com", None, secret(PASSWORD)).await;
    assert!(matches!(taken, Err(Error::Store(identity_store::Error::Conflict { .. }))), "{taken:?}");
    let invalid = admin.create_admin("not an email", None, secret(PASSWORD)).await;
    assert!(matches!(invalid, Err(Error::Schema(_))), "{invalid:?}");
}

async fn identities_are_found_by_id_and_by_email(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let created = admin.create_admin("ada@example.com", None, secret(PASSWORD)).await.unwrap();
    assert_eq!(admin.identity(created.id).await.unwrap().id, created.id);
    assert_eq!(admin.identity_by_email("ADA@example.com").await.unwrap().map(|i| i.id), Some(created.id));
    assert!(admin.identity_by_email("nobody@example.com").await.unwrap().is_none());
    let missing = admin.identity(identity_core::IdentityId::new()).await;
    assert!(matches!(missing, Err(Error::Store(identity_store::Error::NotFound { .. }))));
}

async fn a_password_reset_ends_every_session(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let ada = admin.create_admin("ada@example.com", None, secret(PASSWORD)).await.unwrap();
    let token = session_of(&world, &ada).await;
    let refused = admin.reset_password(ada.id, secret("ada@example.com")).await;
    assert!(matches!(refused, Err(Error::PasswordTooSimilar | Error::PasswordTooWeak { .. })), "{refused:?}");
    assert!(is_active(&world, &token).await, "a refused reset ended sessions");
    admin.reset_password(ada.id, secret("a-fresh-long-passphrase")).await.unwrap();
    assert!(!is_active(&world, &token).await);
    assert!(!signs_in(&world, "ada@example.com", PASSWORD).await);
    assert!(signs_in(&world, "ada@example.com", "a-fresh-long-passphrase").await);
}

async fn a_recovery_code_from_the_operator_recovers_the_account(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let ada = admin.create_admin("ada@example.com", None, secret(PASSWORD)).await.unwrap();
    let issued = admin.recovery_code(ada.id, Some(Duration::hours(2)), FlowType::Api).await.unwrap();
    assert!(issued.link.ends_with(&format!("/self-service/recovery?flow={}", issued.flow_id)), "{}", issued.link);
    assert_eq!(issued.expires_at, world.clock.now() + Duration::hours(2));
    assert!(world.courier.sent().is_empty(), "the operator's code was sent by mail");
    // The flow outlives the default hour, as the code does.
    world.clock.advance(Duration::minutes(90));
    let body = json!({ "code": issued.code.expose_secret() });
    let recovered = world.service.submit_recovery(issued.flow_id, Submission::new("code", body)).await.unwrap();
    let Submitted::Done(recovered) = recovered else { panic!("the code did not recover the account") };
    assert_eq!(recovered.identity.id, ada.id);
    assert!(world.sessions.is_privileged(&recovered.session.session));

    admin.set_state(ada.id, IdentityState::Inactive).await.unwrap();
    let disabled = admin.recovery_code(ada.id, None, FlowType::Browser).await;
    assert!(matches!(disabled, Err(Error::IdentityDisabled)), "{disabled:?}");
}

async fn resetting_a_second_factor_removes_it_and_ends_sessions(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let mut ada = admin.create_admin("ada@example.com", None, secret(PASSWORD)).await.unwrap();
    let enrollment = world.totp.enroll(ada.id, "ada@example.com").unwrap();
    let credential = identity_core::Credential::new(
        identity_core::CredentialConfig::Totp(enrollment.config),
        vec![],
        world.clock.now(),
    )
    .unwrap();
    ada.credentials.insert(credential);
    ada.updated_at = world.clock.now() + Duration::seconds(1);
    world.store.update_identity(&ada).await.unwrap();
    let token = session_of(&world, &ada).await;

    assert!(admin.reset_second_factor(ada.id, CredentialType::Totp).await.unwrap());
    assert!(!world.store.identity(ada.id).await.unwrap().has_credential(CredentialType::Totp));
    assert!(!is_active(&world, &token).await);
    assert!(!admin.reset_second_factor(ada.id, CredentialType::LookupSecret).await.unwrap());
    let password = admin.reset_second_factor(ada.id, CredentialType::Password).await;
    assert!(matches!(password, Err(Error::MethodNotAllowed { .. })), "{password:?}");
    assert!(signs_in(&world, "ada@example.com", PASSWORD).await, "a one-factor login needs no second step now");
}

async fn disabling_ends_sessions_and_deleting_removes_everything(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let ada = admin.create_admin("ada@example.com", None, secret(PASSWORD)).await.unwrap();
    let token = session_of(&world, &ada).await;
    let disabled = admin.set_state(ada.id, IdentityState::Inactive).await.unwrap();
    assert_eq!(disabled.state, IdentityState::Inactive);
    assert!(!is_active(&world, &token).await);
    assert!(matches!(admin.revoke_sessions(ada.id).await, Ok(0)));
    let refused = world.sessions.issue(&disabled, vec![], Default::default()).await;
    assert!(refused.is_err());
    admin.set_state(ada.id, IdentityState::Active).await.unwrap();
    assert!(!is_active(&world, &token).await, "enabling brought an old session back");
    let fresh = session_of(&world, &world.store.identity(ada.id).await.unwrap()).await;
    assert_eq!(admin.revoke_sessions(ada.id).await.unwrap(), 1);
    assert!(!is_active(&world, &fresh).await);

    let last = session_of(&world, &world.store.identity(ada.id).await.unwrap()).await;
    admin.delete(ada.id).await.unwrap();
    assert!(!is_active(&world, &last).await);
    assert!(admin.identity_by_email("ada@example.com").await.unwrap().is_none());
    assert!(matches!(admin.delete(ada.id).await, Err(Error::Store(identity_store::Error::NotFound { .. }))));
}

fn import(json: serde_json::Value) -> IdentityImport {
    serde_json::from_value(json).unwrap()
}

async fn kratos_imports_keep_hashed_passwords_and_verified_addresses(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let bcrypt = bcrypt::hash("imported-passphrase-1", 4).unwrap();
    let imported = admin
        .import(import(json!({
            "schema_id": "default",
            "traits": { "email": "Grace@Example.com" },
            "external_id": "legacy-17",
            "metadata_admin": { "plan": "gold" },
            "verifiable_addresses": [{ "value": "grace@example.com", "via": "email", "verified": true, "status": "completed" }],
            "credentials": { "password": { "config": { "hashed_password": bcrypt } } }
        })))
        .await
        .unwrap();
    assert!(imported.verifiable_addresses[0].verified);
    assert_eq!(imported.external_id.as_deref(), Some("legacy-17"));
    assert!(signs_in(&world, "grace@example.com", "imported-passphrase-1").await);

    let plain = admin
        .import(import(json!({
            "schema_id": "default",
            "traits": { "email": "linus@example.com" },
            "state": "inactive",
            "credentials": {
                "password": { "config": { "password": "plain-imported-pass" } },
                "oidc": { "config": { "providers": [{ "provider": "github", "subject": "12345" }] } }
            }
        })))
        .await
        .unwrap();
    assert_eq!(plain.state, IdentityState::Inactive);
    assert!(!plain.verifiable_addresses[0].verified);
    let stored = world.store.identity(plain.id).await.unwrap();
    let hash = match &stored.credentials.get(CredentialType::Password).unwrap().config {
        identity_core::CredentialConfig::Password(config) => config.hashed_password.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(!format!("{hash:?}").contains("plain-imported-pass"));
    let by_github = world.store.find_identity_by_identifier(CredentialType::Oidc, "github:12345").await.unwrap();
    assert_eq!(by_github.map(|i| i.id), Some(plain.id));

    let batch = admin
        .import_batch(vec![
            import(json!({ "schema_id": "default", "traits": { "email": "one@example.com" } })),
            import(json!({ "schema_id": "default", "traits": { "email": "grace@example.com" } })),
        ])
        .await;
    assert!(batch[0].is_ok());
    assert!(matches!(batch[1], Err(Error::Store(identity_store::Error::Conflict { .. }))));
}

async fn bad_imports_are_refused_and_store_nothing(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let cases = [
        json!({ "schema_id": "nope", "traits": { "email": "a@example.com" } }),
        json!({ "schema_id": "default", "traits": { "email": 7 } }),
        json!({ "schema_id": "default", "traits": { "email": "a@example.com" },
                "credentials": { "password": { "config": { "hashed_password": "$md5$abc" } } } }),
        json!({ "schema_id": "default", "traits": { "email": "a@example.com" },
                "credentials": { "password": { "config": { "password": "x-long-password", "hashed_password": "$2b$04$x" } } } }),
        json!({ "schema_id": "default", "traits": { "email": "a@example.com" },
                "credentials": { "password": { "config": {} } } }),
    ];
    for case in cases {
        let result = admin.import(import(case.clone())).await;
        assert!(result.is_err(), "{case} was imported");
    }
    let unknown = serde_json::from_value::<IdentityImport>(
        json!({ "schema_id": "default", "traits": {}, "credentials": { "passkey": {} } }),
    );
    assert!(unknown.is_err(), "an unknown credential type was accepted");
    assert_eq!(world.store.count_identities(&Default::default()).await.unwrap(), 0);
}

async fn an_identity_without_credentials_enrolls_with_a_password(store: Arc<dyn Store>) {
    let world = world(store);
    let admin = admin(&world);
    let method = EnrollmentMethod::Updb { username: "dev@example.com".into() };
    let (identity, issued) = admin
        .create_for_enrollment(None, json!({ "email": "dev@example.com" }), IdentityType::User, method)
        .await
        .unwrap();
    assert!(identity.credentials.is_empty());
    assert!(!signs_in(&world, "dev@example.com", PASSWORD).await);
    let enrollments = enrollments(&world);
    enrollments.complete_password(issued.jwt.expose_secret(), "dev@example.com", secret(PASSWORD)).await.unwrap();
    assert!(signs_in(&world, "dev@example.com", PASSWORD).await);

    let invalid = admin.create_for_enrollment(None, json!({}), IdentityType::Device, EnrollmentMethod::Ott).await;
    assert!(matches!(invalid, Err(Error::Schema(_))), "{invalid:?}");
    assert_eq!(world.store.count_identities(&Default::default()).await.unwrap(), 1);
}
