//! Shared fixtures of identity-auth's integration tests: a memory store, a clock, cheap hashing, certificates.

#![allow(dead_code)]

use std::sync::Arc;

use identity_auth::{Argon2Params, CertificateVerifier, HashAlgorithm, HasherConfig, PasswordHasher};
use identity_core::time::OffsetDateTime;
use identity_core::{Credential, CredentialConfig, Identity, PasswordConfig, SecretString, TestClock};
use identity_store::{MemoryStore, Store};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};

pub type Ca = CertifiedIssuer<'static, KeyPair>;

pub fn store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

/// 2040-06-01: inside the test certificates' validity.
pub fn clock() -> Arc<TestClock> {
    Arc::new(TestClock::new(date_time_ymd(2040, 6, 1)))
}

/// Cheap argon2id parameters: the tests are about behaviour, not cost.
pub fn hasher() -> Arc<PasswordHasher> {
    let config = HasherConfig {
        algorithm: HashAlgorithm::Argon2id,
        argon2: Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 },
        bcrypt_cost: 4,
    };
    Arc::new(PasswordHasher::new(config).unwrap())
}

pub fn secret(text: &str) -> SecretString {
    SecretString::new(text)
}

/// Stores an identity that signs in with `email` and `password`.
pub async fn user(
    store: &Arc<dyn Store>,
    hasher: &PasswordHasher,
    email: &str,
    password: &str,
    now: OffsetDateTime,
) -> Identity {
    let mut identity = Identity::new("default", serde_json::json!({ "email": email }), now).unwrap();
    let config =
        CredentialConfig::Password(PasswordConfig { hashed_password: Some(hasher.hash(&secret(password)).unwrap()) });
    identity.credentials.insert(Credential::new(config, vec![email.to_owned()], now).unwrap());
    store.create_identity(&identity).await.unwrap();
    identity
}

pub fn ca(common_name: &str) -> Ca {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2039, 1, 1);
    params.not_after = date_time_ymd(2050, 1, 1);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A client certificate for `common_name`, valid through 2040, issued by `ca`.
pub fn client_certificate(common_name: &str, ca: &Ca) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = date_time_ymd(2040, 1, 1);
    params.not_after = date_time_ymd(2041, 1, 1);
    params.signed_by(&KeyPair::generate().unwrap(), ca).unwrap().der().to_vec()
}

/// A client certificate for `common_name` that expired at the start of 2040-03.
pub fn expired_client_certificate(common_name: &str, ca: &Ca) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = date_time_ymd(2040, 1, 1);
    params.not_after = date_time_ymd(2040, 3, 1);
    params.signed_by(&KeyPair::generate().unwrap(), ca).unwrap().der().to_vec()
}

/// The platform CA (which signs CSRs) with 2039-2050 validity; issued certificates last a year.
pub fn platform_ca() -> identity_auth::PlatformCa {
    let mut params = CertificateParams::default();
    params.distinguished_name = name("Platform CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2039, 1, 1);
    params.not_after = date_time_ymd(2050, 1, 1);
    let key = KeyPair::generate().unwrap();
    let key_pem = secret(&key.serialize_pem());
    let ca = CertifiedIssuer::self_signed(params, key).unwrap();
    identity_auth::PlatformCa::from_pem(&ca.pem(), &key_pem, identity_core::time::Duration::days(365)).unwrap()
}

/// A certificate signing request for a fresh key.
pub fn csr(common_name: &str) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.serialize_request(&KeyPair::generate().unwrap()).unwrap().der().to_vec()
}

pub fn verifier(ca: &Ca) -> CertificateVerifier {
    CertificateVerifier::from_der(&[ca.der().to_vec()]).unwrap()
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Acme");
    name.push(DnType::CommonName, common_name);
    name
}

/// The email-and-password identity schema of `shared/testdata/schemas`: email is the login identifier and a
/// verifiable and recovery address; the name is optional.
pub const EMAIL_PASSWORD_SCHEMA: &str = r#"{
  "$id": "https://schemas.example.org/identity/email-password.schema.json",
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Person",
  "type": "object",
  "properties": {
    "traits": {
      "type": "object",
      "properties": {
        "email": {
          "type": "string", "format": "email", "title": "E-Mail", "minLength": 3,
          "ory.sh/kratos": {
            "credentials": { "password": { "identifier": true } },
            "verification": { "via": "email" },
            "recovery": { "via": "email" }
          }
        },
        "name": {
          "type": "object",
          "properties": { "first": { "title": "First Name", "type": "string" }, "last": { "title": "Last Name", "type": "string" } }
        }
      },
      "required": ["email"],
      "additionalProperties": false
    }
  }
}"#;

/// Everything the self-service and admin tests work with, over one store.
pub struct World {
    pub store: Arc<dyn Store>,
    pub clock: Arc<TestClock>,
    pub courier: Arc<identity_auth::RecordingCourier>,
    pub sessions: Arc<identity_auth::Sessions>,
    pub authenticator: Arc<identity_auth::Authenticator>,
    pub service: Arc<identity_auth::SelfService>,
    pub schemas: Arc<identity_schema::SchemaRegistry>,
    pub totp: identity_auth::TotpVerifier,
}

pub fn cipher() -> Arc<identity_auth::SecretCipher> {
    let key = identity_auth::CipherKey::new(1, &identity_core::SecretBytes::new(vec![3; 32])).unwrap();
    Arc::new(identity_auth::SecretCipher::new(vec![key]).unwrap())
}

/// A world with default settings.
pub fn world(store: Arc<dyn Store>) -> World {
    world_with(store, identity_auth::SelfServiceSettings::default())
}

pub fn world_with(store: Arc<dyn Store>, settings: identity_auth::SelfServiceSettings) -> World {
    world_full(store, settings, identity_auth::SessionSettings::default())
}

pub fn world_full(
    store: Arc<dyn Store>,
    settings: identity_auth::SelfServiceSettings,
    session_settings: identity_auth::SessionSettings,
) -> World {
    let clock = clock();
    let schema = identity_schema::IdentitySchema::from_json_str("default", EMAIL_PASSWORD_SCHEMA).unwrap();
    let schemas = Arc::new(identity_schema::SchemaRegistry::new(schema));
    let totp = identity_auth::TotpVerifier::new(identity_auth::TotpSettings::default(), cipher()).unwrap();
    let lookup = identity_auth::LookupSecrets::new(identity_core::SecretBytes::new(vec![5; 32])).unwrap();
    let authenticator = Arc::new(
        identity_auth::Authenticator::new(store.clone(), clock.clone(), hasher())
            .with_totp(totp.clone())
            .with_lookup_secrets(lookup),
    );
    let sessions = Arc::new(identity_auth::Sessions::new(store.clone(), clock.clone(), session_settings).unwrap());
    let courier = Arc::new(identity_auth::RecordingCourier::new());
    let parts = identity_auth::SelfServiceParts {
        store: store.clone(),
        clock: clock.clone(),
        authenticator: authenticator.clone(),
        sessions: sessions.clone(),
        schemas: schemas.clone(),
        courier: courier.clone(),
        code_key: identity_core::SecretBytes::new(vec![9; 32]),
    };
    let service = Arc::new(identity_auth::SelfService::new(parts, settings).unwrap());
    World { store, clock, courier, sessions, authenticator, service, schemas, totp }
}

/// The six-digit code in the last message sent to `to`.
pub fn last_code(courier: &identity_auth::RecordingCourier, to: &str) -> String {
    let message = courier.sent().into_iter().rev().find(|message| message.to == to).expect("a message to the address");
    let body = message.body.expose_secret().to_owned();
    body.split(|c: char| !c.is_ascii_digit()).find(|word| word.len() == 6).expect("a six-digit code").to_owned()
}

/// The admin operations over `world`, with `updb`/`ott` enrollments.
pub fn admin(world: &World) -> identity_auth::Admin {
    let enrollments = enrollments(world);
    identity_auth::Admin::new(identity_auth::AdminParts {
        store: world.store.clone(),
        clock: world.clock.clone(),
        sessions: world.sessions.clone(),
        hasher: hasher(),
        schemas: world.schemas.clone(),
        self_service: world.service.clone(),
        enrollments: Some(Arc::new(enrollments)),
        password_policy: identity_auth::PasswordPolicy::default(),
    })
}

/// Enrollments over `world`'s store, signed with the key `admin` uses.
pub fn enrollments(world: &World) -> identity_auth::Enrollments {
    identity_auth::Enrollments::new(
        world.store.clone(),
        world.clock.clone(),
        hasher(),
        &identity_core::SecretBytes::new(vec![8; 32]),
        identity_auth::EnrollmentSettings::default(),
    )
    .unwrap()
}
