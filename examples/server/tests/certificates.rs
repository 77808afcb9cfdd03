//! Certificate enrollment (`ott`, `ottca`, `updb`) and certificate login, end to end: the real server with its
//! mutual-TLS listener, a platform CA and two third-party CAs, all made here with rcgen; clients make their
//! CSRs with rcgen and present their certificates through reqwest over rustls.

use std::path::{Path, PathBuf};

use identity_server::config::{Config, ConfigError};
use identity_server::server::{Running, start};
use identity_server::state::StartError;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

mod support;

use support::{Pki, tls_client};

/// The server, its CAs and clients.
struct Fixture {
    running: Running,
    http: Client,
    /// Issued the listener's own certificate; also its `client_ca_file`.
    server_ca: Pki,
    /// The platform CA, which signs `ott` enrollees' CSRs.
    platform: Pki,
    /// Two third-party CAs, with their configured ids.
    third_a: (Pki, String),
    third_b: (Pki, String),
}

fn temp_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("certificates-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The configuration of a server whose CA files lie in `dir`.
fn document(dir: &Path, third_a: &str, third_b: &str) -> Value {
    json!({
        "dsn": "memory",
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 }, "mtls": {
            "port": 0, "certificate_file": dir.join("server.pem"), "key_file": dir.join("server.key"),
            "client_ca_file": dir.join("server-ca.pem") } },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
        "enrollment": {
            "ca": { "certificate_file": dir.join("platform.pem"), "key_file": dir.join("platform.key"), "validity": "30d" },
            "third_party_cas": [
                { "id": third_a, "certificate_file": dir.join("third-a.pem") },
                { "id": third_b, "certificate_file": dir.join("third-b.pem") },
            ],
        },
    })
}

impl Fixture {
    async fn start() -> Self {
        let dir = temp_dir();
        let (server_ca, platform) = (Pki::named("Server CA"), Pki::named("Platform CA"));
        let third_a = (Pki::named("Third party A"), uuid::Uuid::new_v4().to_string());
        let third_b = (Pki::named("Third party B"), uuid::Uuid::new_v4().to_string());
        let (server_pem, server_key, _) = server_ca.issue(
            "localhost",
            vec!["localhost".into(), "127.0.0.1".into()],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        for (name, text) in [
            ("server.pem", server_pem),
            ("server.key", server_key),
            ("server-ca.pem", server_ca.ca.pem()),
            ("platform.pem", platform.ca.pem()),
            ("platform.key", platform.ca.key().serialize_pem()),
            ("third-a.pem", third_a.0.ca.pem()),
            ("third-b.pem", third_b.0.ca.pem()),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let config = Config::from_value(document(&dir, &third_a.1, &third_b.1), std::iter::empty()).unwrap();
        let running = start(config).await.unwrap();
        Self { running, http: Client::new(), server_ca, platform, third_a, third_b }
    }

    fn admin(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.admin)
    }

    fn public(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.public)
    }

    fn tls(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.running.mtls.unwrap().port())
    }

    /// A client of the mutual-TLS listener presenting `identity` (certificate and key PEM), if given.
    fn client(&self, identity: Option<(&str, &str)>) -> Client {
        tls_client(&self.server_ca.ca.pem(), identity)
    }

    /// A new identity without credentials; its id.
    async fn identity(&self, email: &str) -> String {
        let body = json!({ "schema_id": "default", "traits": { "email": email } });
        let (status, created) = answer(self.http.post(self.admin("/admin/identities")).json(&body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Opens an enrollment of `body` for `identity`: the answer.
    async fn enrollment(&self, identity: &str, body: Value) -> (StatusCode, Value) {
        answer(self.http.post(self.admin(&format!("/admin/identities/{identity}/enrollments"))).json(&body)).await
    }

    /// The JWT of a new `ott` enrollment for `identity`.
    async fn ott(&self, identity: &str) -> String {
        let (status, created) = self.enrollment(identity, json!({ "method": "ott" })).await;
        assert_eq!(status, 201, "{created}");
        created["jwt"].as_str().unwrap().to_owned()
    }

    /// Completes an `ott` enrollment with a fresh key: the answer and the key (PEM).
    async fn enroll_ott(&self, jwt: &str) -> (StatusCode, Value, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let (status, body) =
            answer(self.http.post(self.public("/enroll?method=ott")).json(&json!({ "jwt": jwt, "csr": csr(&key) })))
                .await;
        (status, body, key.serialize_pem())
    }

    /// Signs in with the certificate `identity` (certificate and key PEM) over the mutual-TLS listener.
    async fn login(&self, identity: Option<(&str, &str)>) -> (StatusCode, Value) {
        answer(self.client(identity).post(self.tls("/authenticate?method=cert"))).await
    }

    async fn whoami(&self, token: &str) -> (StatusCode, Value) {
        answer(self.http.get(self.public("/sessions/whoami")).header("X-Session-Token", token)).await
    }

    /// Registers `der` (a certificate of `holder`) as an X.509 authenticator of a new identity, straight in the
    /// store, as an operator's import would: its id.
    async fn holder_of(&self, der: &[u8], email: &str) -> identity_core::IdentityId {
        let now = identity_core::time::OffsetDateTime::now_utc();
        let fingerprint = {
            use sha2::Digest as _;
            identity_core::CertificateFingerprint::from_bytes(sha2::Sha256::digest(der).into())
        };
        let mut identity = identity_core::Identity::new("default", json!({ "email": email }), now).unwrap();
        let config = identity_core::CredentialConfig::X509(identity_core::X509Config::single(fingerprint, "CN=x"));
        identity.credentials.insert(identity_core::Credential::new(config, vec![], now).unwrap());
        self.running.state.store.create_identity(&identity).await.unwrap();
        identity.id
    }
}

/// A request's status and JSON answer.
async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A PEM CSR for `key`, asking for a name and CA powers the platform does not grant.
fn csr(key: &rcgen::KeyPair) -> String {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, "I would like to be the admin");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.serialize_request(key).unwrap().pem().unwrap()
}

fn error_id(body: &Value) -> &str {
    body["error"]["id"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_ott_enrollment_issues_a_certificate_that_signs_the_identity_in_once() {
    let server = Fixture::start().await;
    let id = server.identity("device-1@example.com").await;
    let (status, created) = server.enrollment(&id, json!({ "method": "ott" })).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["method"].as_str(), created["identity_id"].as_str()), (Some("ott"), Some(id.as_str())));
    assert!(created["expires_at"].is_string());
    let jwt = created["jwt"].as_str().unwrap();
    let listed = answer(server.http.get(server.admin(&format!("/admin/identities/{id}/enrollments")))).await.1;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("jwt").is_none(), "the JWT is shown once: {listed}");

    let (status, enrolled, key) = server.enroll_ott(jwt).await;
    assert_eq!(status, 200, "{enrolled}");
    assert_eq!(enrolled["identity_id"], json!(id));
    assert_eq!(enrolled["ca"], json!(server.platform.ca.pem()));
    let certificate = enrolled["certificate"].as_str().unwrap();
    // The platform, not the CSR, decides the certificate's name and powers.
    let verifier = identity_auth::CertificateVerifier::from_pem(&server.platform.ca.pem()).unwrap();
    let verified =
        verifier.verify(certificate.as_bytes(), &[], identity_core::time::OffsetDateTime::now_utc()).unwrap();
    assert_eq!(verified.common_name.as_deref(), Some(id.as_str()));
    let listed = answer(server.http.get(server.admin(&format!("/admin/identities/{id}/enrollments")))).await.1;
    assert_eq!(listed, json!([]), "a completed enrollment is consumed");

    let (status, replayed, _) = server.enroll_ott(jwt).await;
    assert_eq!((status, error_id(&replayed)), (StatusCode::BAD_REQUEST, "invalid_enrollment"), "{replayed}");

    let (status, signed_in) = server.login(Some((certificate, &key))).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["session"]["identity"]["id"], json!(id));
    assert_eq!(signed_in["session"]["authentication_methods"][0]["method"], "x509");
    let (status, me) = server.whoami(signed_in["session_token"].as_str().unwrap()).await;
    assert_eq!((status, &me["identity"]["id"]), (StatusCode::OK, &json!(id)), "{me}");
    server.running.stop().await;
}

#[tokio::test]
async fn an_ottca_enrollment_registers_the_certificate_of_the_named_third_party_ca() {
    let server = Fixture::start().await;
    let id = server.identity("camera@example.com").await;
    let (status, created) = server.enrollment(&id, json!({ "method": "ottca", "ca_id": server.third_a.1 })).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["ca_id"], json!(server.third_a.1));
    let jwt = created["jwt"].as_str().unwrap();
    let (a_pem, a_key, _) = server.third_a.0.issue("camera", vec![], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    let (b_pem, b_key, _) = server.third_b.0.issue("camera", vec![], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    let enroll = |client: &Client| client.post(server.tls("/enroll?method=ottca")).json(&json!({ "jwt": jwt }));

    // Another trusted CA's certificate, or none, does not complete it; the enrollment stays open.
    let (status, refused) = answer(enroll(&server.client(Some((&b_pem, &b_key))))).await;
    assert_eq!((status, error_id(&refused)), (StatusCode::BAD_REQUEST, "unknown_issuer"), "{refused}");
    let (status, refused) = answer(enroll(&server.client(None))).await;
    assert_eq!(status, 400, "{refused}");
    let plain = server.http.post(server.public("/enroll?method=ottca")).json(&json!({ "jwt": jwt }));
    assert_eq!(answer(plain).await.0, 400);

    let (status, enrolled) = answer(enroll(&server.client(Some((&a_pem, &a_key))))).await;
    assert_eq!(status, 200, "{enrolled}");
    assert_eq!(enrolled["identity_id"], json!(id));
    assert_eq!(enrolled["fingerprint"].as_str().map(str::len), Some(64));
    let (status, replayed) = answer(enroll(&server.client(Some((&a_pem, &a_key))))).await;
    assert_eq!((status, error_id(&replayed)), (StatusCode::BAD_REQUEST, "invalid_enrollment"));

    let (status, signed_in) = server.login(Some((&a_pem, &a_key))).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(server.whoami(signed_in["session_token"].as_str().unwrap()).await.0, 200);
    let (status, refused) = server.login(Some((&b_pem, &b_key))).await;
    assert_eq!((status, error_id(&refused)), (StatusCode::UNAUTHORIZED, "invalid_credentials"), "{refused}");
    server.running.stop().await;
}

#[tokio::test]
async fn certificate_login_refuses_no_unknown_expired_or_disabled_certificates_with_401_json() {
    let server = Fixture::start().await;
    let (status, refused) = server.login(None).await;
    assert_eq!(status, 401, "{refused}");
    assert_eq!(answer(server.http.post(server.public("/authenticate?method=cert"))).await.0, 401);
    let wrong_method = server.client(None).post(server.tls("/authenticate?method=password"));
    assert_eq!(answer(wrong_method).await.0, 400);
    assert_eq!(answer(server.client(None).post(server.tls("/authenticate"))).await.0, 400);

    // A CA nobody configured is refused at the handshake.
    let stranger = Pki::named("Stranger CA");
    let (s_pem, s_key, s_der) = stranger.issue("device", vec![], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    server.holder_of(&s_der, "stranger@example.com").await;
    let handshake = server.client(Some((&s_pem, &s_key))).post(server.tls("/authenticate?method=cert")).send().await;
    assert!(handshake.is_err(), "a certificate of an unknown CA got through: {handshake:?}");

    // An expired certificate gets through the handshake to be refused by the holder's policy.
    let (from, to) = (rcgen::date_time_ymd(2020, 1, 1), rcgen::date_time_ymd(2021, 1, 1));
    let (e_pem, e_key, e_der) = server.third_a.0.issue_between("old", from, to);
    server.holder_of(&e_der, "old@example.com").await;
    let (status, refused) = server.login(Some((&e_pem, &e_key))).await;
    assert_eq!((status, error_id(&refused)), (StatusCode::UNAUTHORIZED, "certificate_expired"), "{refused}");

    // A service registered by common name does not sign in with a certificate an enrollment CA made for it.
    let now = identity_core::time::OffsetDateTime::now_utc();
    let mut service = identity_core::Identity::new("default", json!({ "email": "svc@example.com" }), now).unwrap();
    service.identity_type = identity_core::IdentityType::Service;
    let by_name = identity_core::CredentialConfig::X509(identity_core::X509Config::default());
    service.credentials.insert(identity_core::Credential::new(by_name, vec!["cn:billing".into()], now).unwrap());
    server.running.state.store.create_identity(&service).await.unwrap();
    let (n_pem, n_key, _) = server.third_b.0.issue("billing", vec![], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    let (status, refused) = server.login(Some((&n_pem, &n_key))).await;
    assert_eq!((status, error_id(&refused)), (StatusCode::UNAUTHORIZED, "invalid_credentials"), "{refused}");

    // A disabled identity's certificate signs nobody in, and its session ends.
    let id = server.identity("disabled@example.com").await;
    let (_, enrolled, key) = server.enroll_ott(&server.ott(&id).await).await;
    let certificate = enrolled["certificate"].as_str().unwrap().to_owned();
    let (status, signed_in) = server.login(Some((&certificate, &key))).await;
    assert_eq!(status, 200);
    let disable = json!({ "schema_id": "default", "traits": { "email": "disabled@example.com" }, "state": "inactive" });
    let put = server.http.put(server.admin(&format!("/admin/identities/{id}"))).json(&disable);
    assert_eq!(answer(put).await.0, 200);
    let (status, refused) = server.login(Some((&certificate, &key))).await;
    assert_eq!((status, error_id(&refused)), (StatusCode::UNAUTHORIZED, "identity_disabled"), "{refused}");
    assert_eq!(server.whoami(signed_in["session_token"].as_str().unwrap()).await.0, 401);
    server.running.stop().await;
}

#[tokio::test]
async fn bad_enrollment_requests_get_4xx_json_and_leave_the_enrollment_open() {
    let server = Fixture::start().await;
    let id = server.identity("device-2@example.com").await;
    let unknown = uuid::Uuid::new_v4();
    let cases = [
        (unknown.to_string(), json!({ "method": "ott" }), 404),
        ("not-an-id".to_owned(), json!({ "method": "ott" }), 404),
        (id.clone(), json!({}), 400),
        (id.clone(), json!({ "method": "magic" }), 400),
        (id.clone(), json!({ "method": "ottca" }), 400),
        (id.clone(), json!({ "method": "ottca", "ca_id": "not-a-uuid" }), 400),
        (id.clone(), json!({ "method": "ottca", "ca_id": unknown }), 400),
        (id.clone(), json!({ "method": "updb" }), 400),
    ];
    for (identity, body, expected) in cases {
        let (status, refused) = server.enrollment(&identity, body.clone()).await;
        assert_eq!(status, expected, "{identity} {body}: {refused}");
        assert_eq!(refused["error"]["code"], json!(expected), "{refused}");
    }
    let url = server.admin(&format!("/admin/identities/{id}/enrollments"));
    let not_json = server.http.post(&url).header("content-type", "application/json").body("{");
    assert_eq!(answer(not_json).await.0, 400);

    let jwt = server.ott(&id).await;
    let post = |method: &str, body: Value| server.http.post(server.public(&format!("/enroll{method}"))).json(&body);
    let mut tampered = jwt.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let cases = [
        ("", json!({ "jwt": jwt, "csr": "x" }), "", 400),
        ("?method=ott", json!({ "csr": "x" }), "", 400),
        ("?method=ott", json!({ "jwt": jwt }), "", 400),
        ("?method=ott", json!({ "jwt": "not.a.jwt", "csr": "x" }), "invalid_enrollment", 400),
        ("?method=ott", json!({ "jwt": tampered, "csr": "x" }), "invalid_enrollment", 400),
        ("?method=ott", json!({ "jwt": jwt, "csr": "not a CSR" }), "malformed_certificate", 400),
        ("?method=updb", json!({ "jwt": jwt, "username": "a", "password": "b" }), "wrong_enrollment_method", 400),
    ];
    for (query, body, id, expected) in cases {
        let (status, refused) = answer(post(query, body.clone())).await;
        assert_eq!((status.as_u16(), error_id(&refused)), (expected, id), "{query} {body}: {refused}");
    }
    let malformed = server.http.post(server.public("/enroll?method=ott")).header("content-type", "application/json");
    assert_eq!(answer(malformed.body("[")).await.0, 400);
    let (status, enrolled, _) = server.enroll_ott(&jwt).await;
    assert_eq!(status, 200, "the enrollment stayed open through the failures: {enrolled}");

    // An enrollment whose time is up.
    let jwt = server.ott(&id).await;
    let store = &server.running.state.store;
    let mut enrollment = store.enrollments_of(id.parse().unwrap()).await.unwrap().pop().unwrap();
    let now = identity_core::time::OffsetDateTime::now_utc();
    (enrollment.created_at, enrollment.expires_at) =
        (now - identity_core::time::Duration::days(2), now - identity_core::time::Duration::days(1));
    store.update_enrollment(&enrollment).await.unwrap();
    let (status, refused, _) = server.enroll_ott(&jwt).await;
    assert_eq!((status, error_id(&refused)), (StatusCode::BAD_REQUEST, "enrollment_expired"), "{refused}");
    server.running.stop().await;
}

#[tokio::test]
async fn operators_list_refresh_and_withdraw_enrollments() {
    let server = Fixture::start().await;
    let (id, other) = (server.identity("device-3@example.com").await, server.identity("device-4@example.com").await);
    let (_, first) = server.enrollment(&id, json!({ "method": "ott" })).await;
    let (_, second) = server.enrollment(&id, json!({ "method": "ottca", "ca_id": server.third_b.1 })).await;
    let url = |path: &str| server.admin(&format!("/admin/identities/{id}/enrollments{path}"));
    let listed = answer(server.http.get(url(""))).await.1;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let first_id = first["id"].as_str().unwrap();
    let (status, shown) = answer(server.http.get(url(&format!("/{first_id}")))).await;
    assert_eq!((status, &shown["method"]), (StatusCode::OK, &json!("ott")));
    let elsewhere = server.admin(&format!("/admin/identities/{other}/enrollments/{first_id}"));
    assert_eq!(answer(server.http.get(&elsewhere)).await.0, 404, "another identity's enrollment");
    assert_eq!(answer(server.http.delete(&elsewhere)).await.0, 404);
    assert_eq!(answer(server.http.get(url("/not-an-id"))).await.0, 404);
    assert_eq!(answer(server.http.get(server.admin("/admin/identities/x/enrollments"))).await.0, 404);

    let (status, refreshed) = answer(server.http.post(url(&format!("/{first_id}/refresh")))).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["jwt"], first["jwt"]);
    let (status, refused, _) = server.enroll_ott(first["jwt"].as_str().unwrap()).await;
    assert_eq!((status, error_id(&refused)), (StatusCode::BAD_REQUEST, "invalid_enrollment"), "the old JWT");

    let second_id = second["id"].as_str().unwrap();
    assert_eq!(server.http.delete(url(&format!("/{second_id}"))).send().await.unwrap().status(), 204);
    assert_eq!(answer(server.http.delete(url(&format!("/{second_id}")))).await.0, 404);
    let listed = answer(server.http.get(url(""))).await.1;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(server.enroll_ott(refreshed["jwt"].as_str().unwrap()).await.0, 200, "the new JWT");
    server.running.stop().await;
}

#[tokio::test]
async fn an_updb_enrollment_sets_the_password_the_login_flow_takes() {
    let server = Fixture::start().await;
    let id = server.identity("ada@example.com").await;
    let (status, created) = server.enrollment(&id, json!({ "method": "updb", "username": "ada@example.com" })).await;
    assert_eq!((status, &created["username"]), (StatusCode::CREATED, &json!("ada@example.com")));
    let body = json!({ "jwt": created["jwt"], "username": "ada@example.com", "password": "short" });
    let (status, refused) = answer(server.http.post(server.public("/enroll?method=updb")).json(&body)).await;
    assert_eq!(status, 400, "a weak password: {refused}");
    let body =
        json!({ "jwt": created["jwt"], "username": "ada@example.com", "password": "correct-horse-battery-staple" });
    let (status, enrolled) = answer(server.http.post(server.public("/enroll?method=updb")).json(&body)).await;
    assert_eq!((status, &enrolled["identity_id"]), (StatusCode::OK, &json!(id)), "{enrolled}");

    let flow = answer(server.http.get(server.public("/self-service/login/api"))).await.1;
    let login =
        json!({ "method": "password", "identifier": "ada@example.com", "password": "correct-horse-battery-staple" });
    let submit = server.http.post(server.public(&format!("/self-service/login?flow={}", flow["id"].as_str().unwrap())));
    let (status, signed_in) = answer(submit.json(&login)).await;
    assert_eq!((status, &signed_in["session"]["identity"]["id"]), (StatusCode::OK, &json!(id)), "{signed_in}");
    server.running.stop().await;
}

#[tokio::test]
async fn unreadable_enrollment_ca_files_are_named_by_their_configuration_path() {
    let dir = temp_dir();
    let pki = Pki::new();
    let (server_pem, server_key, _) =
        pki.issue("localhost", vec!["localhost".into()], rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    for (name, text) in [("server.pem", server_pem), ("server.key", server_key), ("server-ca.pem", pki.ca.pem())] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let path_of = |document: Value| async move {
        match start(Config::from_value(document, std::iter::empty()).unwrap()).await {
            Err(StartError::Config(ConfigError::Field { path, .. })) => path,
            Err(other) => panic!("expected a field error, got {other}"),
            Ok(_) => panic!("the server started"),
        }
    };
    let (a, b) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    // Nothing but the listener's files exists yet.
    assert_eq!(path_of(document(&dir, &a, &b)).await, "enrollment.ca.certificate_file");
    std::fs::write(dir.join("platform.pem"), pki.ca.pem()).unwrap();
    assert_eq!(path_of(document(&dir, &a, &b)).await, "enrollment.ca.key_file");
    std::fs::write(dir.join("platform.key"), "not a key").unwrap();
    assert_eq!(path_of(document(&dir, &a, &b)).await, "enrollment.ca");
    std::fs::write(dir.join("platform.key"), pki.ca.key().serialize_pem()).unwrap();
    assert_eq!(path_of(document(&dir, &a, &b)).await, "enrollment.third_party_cas[0].certificate_file");
    std::fs::write(dir.join("third-a.pem"), "no certificate").unwrap();
    assert_eq!(path_of(document(&dir, &a, &b)).await, "enrollment.third_party_cas[0].certificate_file");
}
