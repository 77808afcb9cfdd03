//! Mutual-TLS client authentication and certificate-bound tokens (RFC 8705), on memory and SQLite.

mod support;

use std::sync::Arc;

use identity_auth::{Authenticator, CertificateVerifier, HasherConfig, PasswordHasher};
use identity_core::{Clock, Credential, CredentialConfig, Identity, IdentityType, TestClock, X509Config};
use identity_oidc::*;
use identity_store::Store;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};
use support::ISSUER;

identity_store::on_every_store!(
    a_certificate_client_gets_a_token_for_its_service_bound_to_its_certificate,
    certificate_clients_are_refused_without_the_right_certificate,
    registration_and_discovery_follow_the_mutual_tls_setting,
);

type Ca = CertifiedIssuer<'static, KeyPair>;

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

/// A CA valid over the test clock's 2026.
fn ca(common_name: &str) -> Ca {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2025, 1, 1);
    params.not_after = date_time_ymd(2030, 1, 1);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn client_certificate(common_name: &str, ca: &Ca) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = date_time_ymd(2025, 6, 1);
    params.not_after = date_time_ymd(2027, 1, 1);
    params.signed_by(&KeyPair::generate().unwrap(), ca).unwrap().der().to_vec()
}

struct Setup {
    provider: Provider,
    clock: Arc<TestClock>,
    ca: Ca,
    verifier: CertificateVerifier,
    /// The service `billing`, enrolled with `billing_cert`.
    service: Identity,
    billing_cert: Vec<u8>,
}

/// Stores an identity of `kind` holding the certificate `der`.
async fn holder(
    store: &Arc<dyn Store>,
    clock: &TestClock,
    verifier: &CertificateVerifier,
    der: &[u8],
    kind: IdentityType,
) -> Identity {
    let verified = verifier.verify(der, &[], clock.now()).unwrap();
    let mut identity = Identity::new("default", serde_json::json!({}), clock.now()).unwrap();
    identity.identity_type = kind;
    let config = CredentialConfig::X509(X509Config::single(verified.fingerprint, verified.subject));
    identity.credentials.insert(Credential::new(config, vec![], clock.now()).unwrap());
    store.create_identity(&identity).await.unwrap();
    identity
}

async fn setup(store: Arc<dyn Store>, mutual_tls: bool) -> Setup {
    let clock = Arc::new(identity_store::testing::clock());
    let ca = ca("Client CA");
    let verifier = CertificateVerifier::from_der(&[ca.der().to_vec()]).unwrap();
    let billing_cert = client_certificate("billing", &ca);
    let service = holder(&store, &clock, &verifier, &billing_cert, IdentityType::Service).await;
    let keys = KeySet::generate(SigningAlgorithm::ES256).unwrap();
    let mut provider = Provider::new(store.clone(), clock.clone(), keys, ProviderSettings::new(ISSUER));
    if mutual_tls {
        let hasher = Arc::new(PasswordHasher::new(HasherConfig::default()).unwrap());
        let authenticator =
            Authenticator::new(store.clone(), clock.clone(), hasher).with_certificates(verifier.clone());
        provider = provider.with_certificate_authentication(Arc::new(authenticator));
    }
    Setup { provider, clock, ca, verifier, service, billing_cert }
}

fn registration(client_id: &str, subject: Option<&str>) -> ClientRegistration {
    ClientRegistration {
        client_id: Some(client_id.into()),
        client_name: client_id.into(),
        redirect_uris: vec![],
        grant_types: vec![GrantType::ClientCredentials],
        scope: "reports:read".into(),
        token_endpoint_auth_method: TokenEndpointAuthMethod::TlsClientAuth,
        login_uri: None,
        allowed_cors_origins: vec![],
        tls_client_auth_subject_dn: subject.map(str::to_owned),
    }
}

fn request(client_id: &str, certificate: Option<&[u8]>) -> TokenRequest {
    TokenRequest {
        grant_type: Some("client_credentials".into()),
        client_id: Some(client_id.into()),
        client_certificate: certificate.map(|der| PresentedCertificate { der: der.to_vec(), intermediates: vec![] }),
        ..TokenRequest::default()
    }
}

async fn a_certificate_client_gets_a_token_for_its_service_bound_to_its_certificate(store: Arc<dyn Store>) {
    let s = setup(store, true).await;
    s.provider.clients().create(registration("billing-svc", Some("CN=billing"))).await.unwrap();
    let tokens = s.provider.token(&request("billing-svc", Some(&s.billing_cert)), None).await.unwrap();
    assert!(tokens.refresh_token.is_none() && tokens.id_token.is_none(), "the service presents its certificate again");

    // Bound: refused as a bare bearer token, accepted with the same certificate, refused with another.
    let refused = s.provider.verify_access_token(&tokens.access_token, ISSUER).unwrap_err();
    assert!(refused.to_string().contains("certificate"), "{refused}");
    let claims = s.provider.verify_bound_access_token(&tokens.access_token, ISSUER, &s.billing_cert).unwrap();
    assert_eq!(claims.sub, s.service.id.to_string(), "the subject is the certificate's service identity");
    assert_eq!(claims.client_id, "billing-svc");
    let thumbprint = identity_auth::thumbprint_s256(&s.billing_cert);
    assert_eq!(claims.cnf.as_ref().map(|c| c.x5t_s256.as_str()), Some(thumbprint.as_str()));
    let other = client_certificate("billing", &s.ca);
    assert!(s.provider.verify_bound_access_token(&tokens.access_token, ISSUER, &other).is_err());

    // Introspection shows the binding for the resource server, and ends with the service's grants.
    let seen = s.provider.introspect(&tokens.access_token).await.unwrap();
    assert!(seen.active);
    assert_eq!(seen.cnf.map(|c| c.x5t_s256), Some(thumbprint));
    s.provider.revoke_identity(s.service.id).await.unwrap();
    assert!(!s.provider.introspect(&tokens.access_token).await.unwrap().active);
}

async fn certificate_clients_are_refused_without_the_right_certificate(store: Arc<dyn Store>) {
    let s = setup(store.clone(), true).await;
    let clients = s.provider.clients();
    clients.create(registration("billing-svc", Some("CN=billing"))).await.unwrap();
    let invalid_client = |result: Result<TokenResponse, Error>| {
        let error = result.unwrap_err();
        assert_eq!(error.code(), Some(ErrorCode::InvalidClient), "{error:?}");
    };
    // No certificate.
    invalid_client(s.provider.token(&request("billing-svc", None), None).await);
    // A certificate from a CA nobody trusts, with the right subject.
    let stranger = client_certificate("billing", &ca("Rogue CA"));
    invalid_client(s.provider.token(&request("billing-svc", Some(&stranger)), None).await);
    // A trusted certificate that maps to no identity.
    let unknown = client_certificate("billing", &s.ca);
    invalid_client(s.provider.token(&request("billing-svc", Some(&unknown)), None).await);
    // Another service's certificate: it authenticates, but its subject is not the client's.
    let payroll_cert = client_certificate("payroll", &s.ca);
    holder(&store, &s.clock, &s.verifier, &payroll_cert, IdentityType::Service).await;
    invalid_client(s.provider.token(&request("billing-svc", Some(&payroll_cert)), None).await);
    // A person's certificate with the client's subject: only service identities stand behind clients.
    let person_cert = client_certificate("reports", &s.ca);
    holder(&store, &s.clock, &s.verifier, &person_cert, IdentityType::User).await;
    clients.create(registration("reports-svc", Some("CN=reports"))).await.unwrap();
    invalid_client(s.provider.token(&request("reports-svc", Some(&person_cert)), None).await);
    // A secret next to the certificate is not how this client authenticates.
    let mut with_secret = request("billing-svc", Some(&s.billing_cert));
    with_secret.client_secret = Some(identity_core::SecretString::new("guess"));
    invalid_client(s.provider.token(&with_secret, None).await);
    // The right certificate still works after all that.
    assert!(s.provider.token(&request("billing-svc", Some(&s.billing_cert)), None).await.is_ok());

    // A provider not set up for mutual TLS refuses such clients whatever they present.
    let plain = setup(store, false).await;
    plain.provider.clients().create(registration("other-svc", Some("CN=billing"))).await.unwrap();
    invalid_client(plain.provider.token(&request("other-svc", Some(&plain.billing_cert)), None).await);
}

async fn registration_and_discovery_follow_the_mutual_tls_setting(store: Arc<dyn Store>) {
    let s = setup(store.clone(), true).await;
    let clients = s.provider.clients();
    for (id, method, subject) in [
        ("no-subject", TokenEndpointAuthMethod::TlsClientAuth, None),
        ("blank-subject", TokenEndpointAuthMethod::TlsClientAuth, Some("  ")),
        ("secret-with-subject", TokenEndpointAuthMethod::ClientSecretBasic, Some("CN=billing")),
    ] {
        let registration = ClientRegistration { token_endpoint_auth_method: method, ..registration(id, subject) };
        let error = clients.create(registration).await.unwrap_err();
        assert!(
            matches!(error, Error::InvalidClientMetadata { field: "tls_client_auth_subject_dn", .. }),
            "{id}: {error:?}"
        );
    }
    let created = clients.create(registration("billing-svc", Some("CN=billing"))).await.unwrap();
    assert!(created.secret.is_none(), "a certificate client gets no secret");
    let discovery = serde_json::to_value(s.provider.discovery()).unwrap();
    assert!(discovery["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&"tls_client_auth".into()));
    assert_eq!(discovery["tls_client_certificate_bound_access_tokens"], true);
    let plain = serde_json::to_value(setup(store, false).await.provider.discovery()).unwrap();
    assert!(!plain["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&"tls_client_auth".into()));
    assert!(plain.get("tls_client_certificate_bound_access_tokens").is_none());
}
