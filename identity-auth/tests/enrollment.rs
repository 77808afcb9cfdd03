//! Enrollments: each method completes once, creating its credential; reuse, expiry and wrong methods are typed
//! errors; refreshing replaces the token.

mod support;

use std::sync::Arc;

use identity_auth::{Authenticator, EnrollmentSettings, Enrollments, Error, Presentation};
use identity_core::time::Duration;
use identity_core::{CaId, Clock, CredentialType, EnrollmentMethod, Identity, SecretBytes};
use identity_store::Store;
use support::*;

async fn device(store: &Arc<dyn Store>, now: identity_core::time::OffsetDateTime) -> Identity {
    let identity = Identity::new("device", serde_json::json!({"name": "edge-1"}), now).unwrap();
    store.create_identity(&identity).await.unwrap();
    identity
}

fn enrollments(store: &Arc<dyn Store>, clock: &Arc<identity_core::TestClock>) -> Enrollments {
    let settings = EnrollmentSettings { issuer: "https://id.example".into(), ..EnrollmentSettings::default() };
    Enrollments::new(store.clone(), clock.clone(), hasher(), &SecretBytes::new(vec![8; 32]), settings).unwrap()
}

#[tokio::test]
async fn an_updb_enrollment_sets_a_password_once() {
    let (store, clock) = (store(), clock());
    let identity = device(&store, clock.now()).await;
    let service = enrollments(&store, &clock);
    let issued = service.create(identity.id, EnrollmentMethod::Updb { username: "edge-admin".into() }).await.unwrap();
    assert_eq!(issued.enrollment.expires_at, clock.now() + Duration::hours(24));
    assert!(!format!("{issued:?}").contains(issued.jwt.expose_secret()), "the JWT leaks through Debug");

    let jwt = issued.jwt.expose_secret();
    let done = service.complete_password(jwt, "edge-admin", secret("Tr0ub4dor&3-staple-horse")).await.unwrap();
    assert!(done.has_credential(CredentialType::Password));
    assert!(store.enrollments_of(identity.id).await.unwrap().is_empty(), "the enrollment was not consumed");
    let again = service.complete_password(jwt, "edge-admin", secret("Tr0ub4dor&3-staple-horse")).await;
    assert!(matches!(again, Err(Error::InvalidEnrollment)), "{again:?}");

    let authenticator = Authenticator::new(store.clone(), clock.clone(), hasher());
    let login =
        Presentation::Password { identifier: "edge-admin".into(), password: secret("Tr0ub4dor&3-staple-horse") };
    assert_eq!(authenticator.authenticate(login).await.unwrap().identity.id, identity.id);
}

#[tokio::test]
async fn weak_passwords_and_wrong_user_names_leave_the_enrollment_open() {
    let (store, clock) = (store(), clock());
    let identity = device(&store, clock.now()).await;
    let service = enrollments(&store, &clock);
    let issued = service.create(identity.id, EnrollmentMethod::Updb { username: "edge-admin".into() }).await.unwrap();
    let jwt = issued.jwt.expose_secret();
    assert!(matches!(
        service.complete_password(jwt, "edge-admin", secret("password")).await,
        Err(Error::PasswordTooWeak { .. })
    ));
    assert!(matches!(
        service.complete_password(jwt, "someone", secret("Tr0ub4dor&3-staple-horse")).await,
        Err(Error::InvalidEnrollment)
    ));
    assert_eq!(store.enrollments_of(identity.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn expired_enrollments_and_foreign_tokens_are_refused() {
    let (store, clock) = (store(), clock());
    let identity = device(&store, clock.now()).await;
    let service = enrollments(&store, &clock);
    let issued = service.create(identity.id, EnrollmentMethod::Updb { username: "edge-admin".into() }).await.unwrap();
    clock.advance(Duration::hours(25));
    let late =
        service.complete_password(issued.jwt.expose_secret(), "edge-admin", secret("Tr0ub4dor&3-staple-horse")).await;
    assert!(matches!(late, Err(Error::EnrollmentExpired)), "{late:?}");

    let other_key = Enrollments::new(
        store.clone(),
        clock.clone(),
        hasher(),
        &SecretBytes::new(vec![9; 32]),
        EnrollmentSettings::default(),
    )
    .unwrap();
    let fresh = service.create(identity.id, EnrollmentMethod::Updb { username: "edge-admin".into() }).await.unwrap();
    let forged =
        other_key.complete_password(fresh.jwt.expose_secret(), "edge-admin", secret("Tr0ub4dor&3-staple-horse")).await;
    assert!(matches!(forged, Err(Error::InvalidEnrollment)));
    assert!(matches!(
        service.complete_password("not.a.jwt", "edge-admin", secret("x")).await,
        Err(Error::InvalidEnrollment)
    ));
}

#[tokio::test]
async fn refreshing_replaces_the_token_and_the_expiry() {
    let (store, clock) = (store(), clock());
    let identity = device(&store, clock.now()).await;
    let service = enrollments(&store, &clock);
    let issued = service.create(identity.id, EnrollmentMethod::Updb { username: "edge-admin".into() }).await.unwrap();
    clock.advance(Duration::hours(23));
    let refreshed = service.refresh(issued.enrollment.id).await.unwrap();
    assert_eq!(refreshed.enrollment.expires_at, clock.now() + Duration::hours(24));
    let old =
        service.complete_password(issued.jwt.expose_secret(), "edge-admin", secret("Tr0ub4dor&3-staple-horse")).await;
    assert!(matches!(old, Err(Error::InvalidEnrollment)));
    clock.advance(Duration::hours(2));
    assert!(
        service
            .complete_password(refreshed.jwt.expose_secret(), "edge-admin", secret("Tr0ub4dor&3-staple-horse"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn ott_signs_the_enrollees_request_and_ottca_takes_a_partner_certificate() {
    let (store, clock) = (store(), clock());
    let identity = device(&store, clock.now()).await;
    let (platform, partner) = (platform_ca(), ca("Partner CA"));
    let platform_verifier = platform.verifier().clone();
    let partner_id = CaId::new();
    let service =
        enrollments(&store, &clock).with_platform_ca(platform).with_third_party_ca(partner_id, verifier(&partner));

    let ott = service.create(identity.id, EnrollmentMethod::Ott).await.unwrap();
    let garbage = service.complete_ott(ott.jwt.expose_secret(), b"not a csr").await;
    assert!(matches!(garbage, Err(Error::MalformedCertificate { .. })), "{garbage:?}");
    let (done, certificate) = service.complete_ott(ott.jwt.expose_secret(), &csr("edge-1")).await.unwrap();
    assert!(done.has_credential(CredentialType::X509));
    let issued = platform_verifier.verify(&certificate, &[], clock.now()).unwrap();
    assert_eq!(issued.common_name, Some(identity.id.to_string()));
    let authenticator =
        Authenticator::new(store.clone(), clock.clone(), hasher()).with_certificates(platform_verifier.clone());
    let login = Presentation::Certificate { certificate: certificate.clone(), intermediates: vec![] };
    assert_eq!(authenticator.authenticate(login).await.unwrap().identity.id, identity.id);
    assert!(matches!(
        service.complete_ott(ott.jwt.expose_secret(), &csr("edge-1")).await,
        Err(Error::InvalidEnrollment)
    ));

    let ottca = service.create(identity.id, EnrollmentMethod::Ottca { ca_id: partner_id }).await.unwrap();
    let wrong_method = service.complete_ott(ottca.jwt.expose_secret(), &csr("edge-1")).await;
    assert!(matches!(wrong_method, Err(Error::WrongEnrollmentMethod { expected: "ottca" })), "{wrong_method:?}");
    let foreign = service
        .complete_ottca(ottca.jwt.expose_secret(), &client_certificate("edge-1b", &ca("Stranger CA")), &[])
        .await;
    assert!(matches!(foreign, Err(Error::UnknownIssuer)), "{foreign:?}");
    // A second certificate joins the first: both authenticate the identity.
    let partner_cert = client_certificate("edge-1b", &partner);
    service.complete_ottca(ottca.jwt.expose_secret(), &partner_cert, &[]).await.unwrap();
    let login = Presentation::Certificate { certificate, intermediates: vec![] };
    assert_eq!(authenticator.authenticate(login).await.unwrap().identity.id, identity.id);
    let partner_login =
        Authenticator::new(store.clone(), clock.clone(), hasher()).with_certificates(verifier(&partner));
    let login = Presentation::Certificate { certificate: partner_cert, intermediates: vec![] };
    assert_eq!(partner_login.authenticate(login).await.unwrap().identity.id, identity.id);
}

#[tokio::test]
async fn concurrent_completions_of_one_enrollment_succeed_once() {
    let (store, clock) = (store(), clock());
    let identity = device(&store, clock.now()).await;
    let service = Arc::new(enrollments(&store, &clock).with_platform_ca(platform_ca()));
    let ott = service.create(identity.id, EnrollmentMethod::Ott).await.unwrap();
    let jwt = ott.jwt.expose_secret().to_owned();
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let (service, jwt, request) = (service.clone(), jwt.clone(), csr(&format!("edge-{n}")));
            tokio::spawn(async move { service.complete_ott(&jwt, &request).await.is_ok() })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn a_password_enrollment_keeps_the_identifiers_the_identity_already_had() {
    let (store, clock) = (store(), clock());
    let ada = user(&store, &hasher(), "ada@example.com", "old-correct-horse", clock.now()).await;
    let service = enrollments(&store, &clock);
    let issued = service.create(ada.id, EnrollmentMethod::Updb { username: "ada".into() }).await.unwrap();
    service.complete_password(issued.jwt.expose_secret(), "ada", secret("Tr0ub4dor&3-staple-horse")).await.unwrap();
    let authenticator = Authenticator::new(store.clone(), clock.clone(), hasher());
    for identifier in ["ada", "ada@example.com"] {
        let login =
            Presentation::Password { identifier: identifier.into(), password: secret("Tr0ub4dor&3-staple-horse") };
        assert_eq!(authenticator.authenticate(login).await.unwrap().identity.id, ada.id, "{identifier}");
    }
}

#[tokio::test]
async fn a_password_enrollment_follows_the_identitys_policy_length() {
    let (store, clock) = (store(), clock());
    let mut identity = device(&store, clock.now()).await;
    let mut strict = identity_core::AuthenticationPolicy {
        id: identity_core::AuthenticationPolicyId::new(),
        ..identity_core::AuthenticationPolicy::default()
    };
    strict.primary.password.min_password_length = 30;
    identity.auth_policy_id = Some(strict.id);
    store.update_identity(&identity).await.unwrap();
    let policies = identity_auth::Policies::new(identity_core::AuthenticationPolicy::default(), vec![strict]).unwrap();
    let service = enrollments(&store, &clock).with_policies(policies);
    let issued = service.create(identity.id, EnrollmentMethod::Updb { username: "edge-admin".into() }).await.unwrap();
    let short =
        service.complete_password(issued.jwt.expose_secret(), "edge-admin", secret("Tr0ub4dor&3-staple-horse")).await;
    assert!(matches!(short, Err(Error::PasswordTooShort { min: 30 })), "{short:?}");
    let long = secret("Tr0ub4dor&3-staple-horse-battery-cloud");
    assert!(service.complete_password(issued.jwt.expose_secret(), "edge-admin", long).await.is_ok());
}
