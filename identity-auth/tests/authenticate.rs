//! The `authenticate` entry point: each first factor, the policy, lockout, disabled identities, and second
//! factors with their single use.

mod support;

use std::sync::Arc;

use identity_auth::{
    Authenticator, CipherKey, Error, LookupSecrets, Presentation, SecretCipher, TotpSettings, TotpVerifier,
};
use identity_core::time::Duration;
use identity_core::{
    AssuranceLevel, AuthenticationPolicy, Clock, Credential, CredentialConfig, CredentialType, Identity, IdentityState,
    SecretBytes, X509Config,
};
use identity_store::Store;
use support::*;

fn password(identifier: &str, password: &str) -> Presentation {
    Presentation::Password { identifier: identifier.into(), password: secret(password) }
}

#[tokio::test]
async fn the_right_password_authenticates_at_aal1() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    let ada = user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let authenticator = Authenticator::new(store.clone(), clock.clone(), hasher);
    let done = authenticator.authenticate(password("ADA@example.com", "correct-horse-battery")).await.unwrap();
    assert_eq!(done.identity.id, ada.id);
    assert_eq!(done.aal, AssuranceLevel::Aal1);
    assert_eq!(done.methods[0].method, CredentialType::Password);
    assert!(done.second_factor.is_none());
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_look_alike() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let authenticator = Authenticator::new(store, clock, hasher);
    let wrong = authenticator.authenticate(password("ada@example.com", "wrong")).await.unwrap_err();
    let unknown = authenticator.authenticate(password("nobody@example.com", "wrong")).await.unwrap_err();
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert!(matches!((wrong, unknown), (Error::InvalidCredentials, Error::InvalidCredentials)));
}

#[tokio::test]
async fn repeated_failures_lock_out_until_the_window_passes() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let mut policy = AuthenticationPolicy::default();
    policy.primary.password.max_attempts = Some(3);
    policy.primary.password.lockout_duration_minutes = 10;
    let authenticator = Authenticator::new(store, clock.clone(), hasher)
        .with_policies(identity_auth::Policies::new(policy, vec![]).unwrap());
    for _ in 0..3 {
        assert!(matches!(
            authenticator.authenticate(password("ada@example.com", "nope")).await,
            Err(Error::InvalidCredentials)
        ));
    }
    let locked = authenticator.authenticate(password("ada@example.com", "correct-horse-battery")).await;
    assert!(matches!(locked, Err(Error::RateLimited { .. })), "{locked:?}");
    // Unknown accounts lock out the same way, so lockout does not reveal which exist.
    for _ in 0..3 {
        let _ = authenticator.authenticate(password("ghost@example.com", "nope")).await;
    }
    assert!(matches!(
        authenticator.authenticate(password("ghost@example.com", "x")).await,
        Err(Error::RateLimited { .. })
    ));
    clock.advance(Duration::minutes(11));
    assert!(authenticator.authenticate(password("ada@example.com", "correct-horse-battery")).await.is_ok());
}

#[tokio::test]
async fn a_disabled_identity_never_authenticates() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    let mut ada = user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    ada.set_state(IdentityState::Inactive, clock.now());
    store.update_identity(&ada).await.unwrap();
    let authenticator = Authenticator::new(store, clock, hasher);
    let result = authenticator.authenticate(password("ada@example.com", "correct-horse-battery")).await;
    assert!(matches!(result, Err(Error::IdentityDisabled)));
    // Without the password, a disabled account still looks like any failed login.
    let result = authenticator.authenticate(password("ada@example.com", "wrong")).await;
    assert!(matches!(result, Err(Error::InvalidCredentials)));
}

#[tokio::test]
async fn a_policy_can_forbid_passwords() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let mut policy = AuthenticationPolicy::default();
    policy.primary.password.allowed = false;
    let authenticator =
        Authenticator::new(store, clock, hasher).with_policies(identity_auth::Policies::new(policy, vec![]).unwrap());
    // Refused like a wrong password, so the policy does not confirm that the password was right.
    let result = authenticator.authenticate(password("ada@example.com", "correct-horse-battery")).await;
    assert!(matches!(result, Err(Error::InvalidCredentials)), "{result:?}");
}

#[tokio::test]
async fn an_old_format_hash_is_replaced_at_login() {
    let (store, clock) = (store(), clock());
    let bcrypt = Arc::new(
        identity_auth::PasswordHasher::new(identity_auth::HasherConfig {
            algorithm: identity_auth::HashAlgorithm::Bcrypt,
            bcrypt_cost: 4,
            ..Default::default()
        })
        .unwrap(),
    );
    let ada = user(&store, &bcrypt, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let authenticator = Authenticator::new(store.clone(), clock, hasher());
    authenticator.authenticate(password("ada@example.com", "correct-horse-battery")).await.unwrap();
    let stored = store.identity(ada.id).await.unwrap();
    let CredentialConfig::Password(config) = &stored.credentials.get(CredentialType::Password).unwrap().config else {
        panic!("no password")
    };
    assert_eq!(config.hashed_password.as_ref().unwrap().algorithm(), "argon2id");
}

#[tokio::test]
async fn certificates_map_to_identities_by_thumbprint_or_common_name() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    let ca = ca("Platform CA");
    let device_cert = client_certificate("device-7", &ca);
    let verified = verifier(&ca).verify(&device_cert, &[], clock.now()).unwrap();
    let mut device = Identity::new("device", serde_json::json!({"name": "device-7"}), clock.now()).unwrap();
    let config = CredentialConfig::X509(X509Config::single(verified.fingerprint, verified.subject.clone()));
    device.credentials.insert(Credential::new(config, vec![], clock.now()).unwrap());
    store.create_identity(&device).await.unwrap();

    let mut service = Identity::new("service", serde_json::json!({"name": "billing"}), clock.now()).unwrap();
    service.identity_type = identity_core::IdentityType::Service;
    let config = CredentialConfig::X509(X509Config::single(
        identity_core::CertificateFingerprint::from_bytes([1; 32]),
        "CN=billing",
    ));
    service.credentials.insert(Credential::new(config, vec!["cn:billing".into()], clock.now()).unwrap());
    store.create_identity(&service).await.unwrap();

    // A user (not a service) registered by name is not reachable through a certificate's common name.
    let mut person = Identity::new("default", serde_json::json!({}), clock.now()).unwrap();
    let config = CredentialConfig::X509(X509Config::single(
        identity_core::CertificateFingerprint::from_bytes([2; 32]),
        "CN=payroll",
    ));
    person.credentials.insert(Credential::new(config, vec!["cn:payroll".into()], clock.now()).unwrap());
    store.create_identity(&person).await.unwrap();

    let authenticator = Authenticator::new(store, clock, hasher).with_certificates(verifier(&ca));
    let present = |der: Vec<u8>| Presentation::Certificate { certificate: der, intermediates: vec![] };
    let done = authenticator.authenticate(present(device_cert)).await.unwrap();
    assert_eq!((done.identity.id, done.methods[0].method), (device.id, CredentialType::X509));
    let done = authenticator.authenticate(present(client_certificate("billing", &ca))).await.unwrap();
    assert_eq!(done.identity.id, service.id);
    let stranger = authenticator.authenticate(present(client_certificate("nobody", &ca))).await;
    assert!(matches!(stranger, Err(Error::InvalidCredentials)));
    let not_a_service = authenticator.authenticate(present(client_certificate("payroll", &ca))).await;
    assert!(matches!(not_a_service, Err(Error::InvalidCredentials)));
    // A common name that spells another identity's fingerprint does not reach it.
    let impostor = client_certificate(&verified.fingerprint.to_hex(), &ca);
    assert!(matches!(authenticator.authenticate(present(impostor)).await, Err(Error::InvalidCredentials)));
    let foreign = authenticator.authenticate(present(client_certificate("device-7", &support::ca("Other CA")))).await;
    assert!(matches!(foreign, Err(Error::UnknownIssuer)));
    assert!(matches!(
        authenticator.authenticate(present(b"garbage".to_vec())).await,
        Err(Error::MalformedCertificate { .. })
    ));
}

fn cipher() -> Arc<SecretCipher> {
    Arc::new(SecretCipher::new(vec![CipherKey::new(1, &SecretBytes::new(vec![3; 32])).unwrap()]).unwrap())
}

#[tokio::test]
async fn a_totp_second_factor_is_required_once_enrolled_and_reaches_aal2_once_per_code() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    let mut ada = user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let totp = TotpVerifier::new(TotpSettings::default(), cipher()).unwrap();
    let enrollment = totp.enroll(ada.id, "ada@example.com").unwrap();
    ada.credentials.insert(Credential::new(CredentialConfig::Totp(enrollment.config), vec![], clock.now()).unwrap());
    store.update_identity(&ada).await.unwrap();

    let authenticator = Authenticator::new(store.clone(), clock.clone(), hasher).with_totp(totp);
    let first = authenticator.authenticate(password("ada@example.com", "correct-horse-battery")).await.unwrap();
    assert_eq!(first.second_factor, Some(vec![CredentialType::Totp]));

    let uri = enrollment.uri.expose_secret().to_owned();
    let app = totp_rs::Totp::from_url(&uri).unwrap();
    let code = app.generate(clock.now().unix_timestamp() as u64).to_string();
    let method = authenticator.verify_totp(ada.id, &code).await.unwrap();
    assert_eq!(method.aal, AssuranceLevel::Aal2);
    assert!(matches!(authenticator.verify_totp(ada.id, &code).await, Err(Error::InvalidTotpCode)), "replay accepted");
    assert!(matches!(authenticator.verify_totp(ada.id, "000000").await, Err(Error::InvalidTotpCode)));

    // Concurrent use of one fresh code: exactly one wins, across whatever replica serves each request.
    clock.advance(Duration::seconds(60));
    let code = app.generate(clock.now().unix_timestamp() as u64).to_string();
    let authenticator = Arc::new(authenticator);
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (authenticator, code) = (authenticator.clone(), code.clone());
            tokio::spawn(async move { authenticator.verify_totp(ada.id, &code).await.is_ok() })
        })
        .collect();
    let mut wins = 0;
    for attempt in attempts {
        wins += usize::from(attempt.await.unwrap());
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn a_policy_requiring_totp_says_so_even_before_enrolment() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let mut policy = AuthenticationPolicy::default();
    policy.secondary.require_totp = true;
    let authenticator =
        Authenticator::new(store, clock, hasher).with_policies(identity_auth::Policies::new(policy, vec![]).unwrap());
    let done = authenticator.authenticate(password("ada@example.com", "correct-horse-battery")).await.unwrap();
    assert_eq!(done.second_factor, Some(vec![]));
}

#[tokio::test]
async fn backup_codes_work_once_each_and_report_what_remains() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    let mut ada = user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let lookup = LookupSecrets::new(SecretBytes::new(vec![4; 32])).unwrap();
    let (codes, config) = lookup.generate(ada.id).unwrap();
    ada.credentials.insert(Credential::new(CredentialConfig::LookupSecret(config), vec![], clock.now()).unwrap());
    store.update_identity(&ada).await.unwrap();
    let authenticator = Authenticator::new(store.clone(), clock, hasher).with_lookup_secrets(lookup);
    let (method, remaining) = authenticator.use_lookup_code(ada.id, codes[3].expose_secret()).await.unwrap();
    assert_eq!((method.aal, remaining), (AssuranceLevel::Aal2, 11));
    assert!(matches!(
        authenticator.use_lookup_code(ada.id, codes[3].expose_secret()).await,
        Err(Error::InvalidLookupCode)
    ));
    assert_eq!(authenticator.use_lookup_code(ada.id, codes[4].expose_secret()).await.unwrap().1, 10);
    let _: &dyn Store = store.as_ref();
}

mod external_jwt {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine as _;
    use identity_auth::{JwtSigner, SignerKeys};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    struct Issuer {
        signing: EncodingKey,
        signer: JwtSigner,
    }

    fn issuer(name: &str) -> Issuer {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.public_key().as_der().unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
        let mut signer = JwtSigner::new(
            name,
            format!("https://{name}.example"),
            "identity",
            SignerKeys::Pem(pem),
            vec![Algorithm::ES256],
        );
        signer.use_external_id = true;
        Issuer { signing: EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref()), signer }
    }

    fn token(issuer: &Issuer, subject: &str, now: identity_core::time::OffsetDateTime) -> identity_core::SecretString {
        let claims = serde_json::json!({"iss": issuer.signer.issuer, "aud": "identity", "sub": subject,
            "exp": now.unix_timestamp() + 300});
        identity_core::SecretString::new(
            jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &issuer.signing).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_trusted_signers_jwt_authenticates_the_identity_it_names_if_the_policy_allows() {
        let (store, clock, hasher) = (store(), clock(), hasher());
        let mut employee = Identity::new("default", serde_json::json!({}), clock.now()).unwrap();
        employee.external_id = Some("emp-42".into());
        store.create_identity(&employee).await.unwrap();
        let (corp, other) = (issuer("corp"), issuer("other"));
        let mut policy = AuthenticationPolicy::default();
        policy.primary.ext_jwt.allowed = true;
        policy.primary.ext_jwt.allowed_signers.insert(corp.signer.id);
        let signers = vec![corp.signer.clone().compile().unwrap(), other.signer.clone().compile().unwrap()];
        let authenticator = Authenticator::new(store, clock.clone(), hasher)
            .with_policies(identity_auth::Policies::new(policy, vec![]).unwrap())
            .with_signers(signers);
        let present = |token| Presentation::ExternalJwt { token };

        let done = authenticator.authenticate(present(token(&corp, "emp-42", clock.now()))).await.unwrap();
        assert_eq!((done.identity.id, done.methods[0].method), (employee.id, CredentialType::ExtJwt));
        let not_allowed = authenticator.authenticate(present(token(&other, "emp-42", clock.now()))).await;
        assert!(matches!(not_allowed, Err(Error::MethodNotAllowed { method: "ext_jwt" })), "{not_allowed:?}");
        let unknown = authenticator.authenticate(present(token(&corp, "emp-404", clock.now()))).await;
        assert!(matches!(unknown, Err(Error::InvalidCredentials)));
        let stranger = issuer("stranger");
        let untrusted = authenticator.authenticate(present(token(&stranger, "emp-42", clock.now()))).await;
        assert!(matches!(untrusted, Err(Error::WrongIssuer)), "{untrusted:?}");
        let expired = token(&corp, "emp-42", clock.now() - Duration::hours(1));
        assert!(matches!(authenticator.authenticate(present(expired)).await, Err(Error::TokenExpired)));
    }

    #[tokio::test]
    async fn a_policy_can_require_a_signers_jwt_as_second_factor() {
        let (store, clock, hasher) = (store(), clock(), hasher());
        let mut ada = user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
        ada.external_id = Some("emp-7".into());
        store.update_identity(&ada).await.unwrap();
        let (corp, other) = (issuer("corp"), issuer("other"));
        let mut policy = AuthenticationPolicy::default();
        policy.secondary.require_ext_jwt_signer = Some(corp.signer.id);
        let signers = vec![corp.signer.clone().compile().unwrap(), other.signer.clone().compile().unwrap()];
        let policies = identity_auth::Policies::new(policy, vec![]).unwrap();
        let authenticator =
            Authenticator::new(store, clock.clone(), hasher).with_policies(policies).with_signers(signers);

        let first = authenticator
            .authenticate(Presentation::Password {
                identifier: "ada@example.com".into(),
                password: secret("correct-horse-battery"),
            })
            .await
            .unwrap();
        assert_eq!(first.second_factor, Some(vec![CredentialType::ExtJwt]));
        let done = authenticator.verify_external_jwt(ada.id, token(&corp, "emp-7", clock.now()).expose_secret()).await;
        assert_eq!(done.unwrap().aal, AssuranceLevel::Aal2);
        let someone_else =
            authenticator.verify_external_jwt(ada.id, token(&corp, "emp-8", clock.now()).expose_secret()).await;
        assert!(matches!(someone_else, Err(Error::InvalidCredentials)));
        let wrong_signer =
            authenticator.verify_external_jwt(ada.id, token(&other, "emp-7", clock.now()).expose_secret()).await;
        assert!(wrong_signer.is_err());
    }
}

#[tokio::test]
async fn second_factors_are_limited_and_refused_for_disabled_identities() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    let mut ada = user(&store, &hasher, "ada@example.com", "correct-horse-battery", clock.now()).await;
    let totp = TotpVerifier::new(TotpSettings::default(), cipher()).unwrap();
    let enrollment = totp.enroll(ada.id, "ada@example.com").unwrap();
    ada.credentials.insert(Credential::new(CredentialConfig::Totp(enrollment.config), vec![], clock.now()).unwrap());
    store.update_identity(&ada).await.unwrap();
    let mut policy = AuthenticationPolicy::default();
    policy.primary.password.max_attempts = Some(3);
    let authenticator = Authenticator::new(store.clone(), clock.clone(), hasher)
        .with_policies(identity_auth::Policies::new(policy, vec![]).unwrap())
        .with_totp(totp);
    for _ in 0..3 {
        assert!(matches!(authenticator.verify_totp(ada.id, "000000").await, Err(Error::InvalidTotpCode)));
    }
    let app = totp_rs::Totp::from_url(enrollment.uri.expose_secret()).unwrap();
    let right = app.generate(clock.now().unix_timestamp() as u64).to_string();
    assert!(matches!(authenticator.verify_totp(ada.id, &right).await, Err(Error::RateLimited { .. })));

    clock.advance(Duration::minutes(20));
    ada = store.identity(ada.id).await.unwrap();
    ada.set_state(IdentityState::Inactive, clock.now());
    store.update_identity(&ada).await.unwrap();
    let right = app.generate(clock.now().unix_timestamp() as u64).to_string();
    assert!(matches!(authenticator.verify_totp(ada.id, &right).await, Err(Error::IdentityDisabled)));
}

#[tokio::test]
async fn expired_certificates_pass_only_where_the_policy_allows() {
    let (store, clock, hasher) = (store(), clock(), hasher());
    let ca = ca("Platform CA");
    let expired = expired_client_certificate("sensor-9", &ca);
    let verified = verifier(&ca).verify_allowing_expired(&expired, &[], clock.now()).unwrap();
    assert!(verified.1, "the certificate should be reported expired");
    let mut lenient =
        AuthenticationPolicy { id: identity_core::AuthenticationPolicyId::new(), ..AuthenticationPolicy::default() };
    lenient.primary.cert.allow_expired_certs = true;
    let mut sensor = Identity::new("device", serde_json::json!({}), clock.now()).unwrap();
    let config = CredentialConfig::X509(X509Config::single(verified.0.fingerprint, verified.0.subject));
    sensor.credentials.insert(Credential::new(config, vec![], clock.now()).unwrap());
    store.create_identity(&sensor).await.unwrap();

    let policies = identity_auth::Policies::new(AuthenticationPolicy::default(), vec![lenient.clone()]).unwrap();
    let authenticator = Authenticator::new(store.clone(), clock.clone(), hasher)
        .with_certificates(verifier(&ca))
        .with_policies(policies);
    let present = || Presentation::Certificate { certificate: expired.clone(), intermediates: vec![] };
    assert!(matches!(authenticator.authenticate(present()).await, Err(Error::CertificateExpired { .. })));
    sensor.auth_policy_id = Some(lenient.id);
    store.update_identity(&sensor).await.unwrap();
    assert_eq!(authenticator.authenticate(present()).await.unwrap().identity.id, sensor.id);
}
