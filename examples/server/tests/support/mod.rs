//! What the server's test binaries share: reading JSON answers, registering a user through the API, a
//! cookie-keeping browser, certificates made with rcgen for the mutual-TLS listener, an SMTP sink, a PostgreSQL
//! schema per test, and a TCP proxy that makes database outages.

#![allow(dead_code)]

use serde_json::{Value, json};

pub mod browser;
pub mod child;
pub mod mail;
pub mod postgres;
pub mod proxy;

/// Sends a request and reads its JSON answer.
pub trait JsonBody {
    /// The answer's JSON (panics on a transport error or a body that is not JSON: these are tests).
    async fn json_body(self) -> Value;
}

impl JsonBody for reqwest::RequestBuilder {
    async fn json_body(self) -> Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

/// Where `needle` occurs in `haystack`. A run of digits (a six-digit code) counts only where no letter or digit
/// touches it: hex hashes, UUIDs, timestamps and floats are full of six-digit runs that are no leak.
pub fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let digits = needle.iter().all(u8::is_ascii_digit);
    let alone = |at: usize| {
        let touched = at > 0 && haystack[at - 1].is_ascii_alphanumeric()
            || haystack.get(at + needle.len()).is_some_and(u8::is_ascii_alphanumeric);
        !touched
    };
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(at, _)| at)
        .filter(|&at| !digits || alone(at))
        .collect()
}

/// The key ids of a JWKS document, in its order (the signing key first).
pub fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap().to_owned()).collect()
}

/// Registers `email` with `password` through a native registration flow at `public` (`http://host:port`) and
/// returns the answer: the identity and, with the default settings, its session and token.
pub async fn register(http: &reqwest::Client, public: &str, email: &str, password: &str) -> Value {
    let flow = http.get(format!("{public}/self-service/registration/api")).json_body().await;
    http.post(format!("{public}/self-service/registration?flow={}", flow["id"].as_str().unwrap()))
        .json(&json!({"method": "password", "traits": {"email": email}, "password": password}))
        .json_body()
        .await
}

/// A CA, made here with rcgen, that issues server and client certificates.
pub struct Pki {
    /// The CA's certificate and key.
    pub ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    /// A CA named `Test CA`.
    pub fn new() -> Self {
        Self::named("Test CA")
    }

    /// A CA with the common name `name`.
    pub fn named(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        Self { ca: rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap() }
    }

    /// (certificate PEM, key PEM, certificate DER) for `common_name`, with `sans` as subject alternative names.
    pub fn issue(
        &self,
        common_name: &str,
        sans: Vec<String>,
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> (String, String, Vec<u8>) {
        self.issue_with(common_name, sans, usage, |_| {})
    }

    /// A client certificate for `common_name`, as [`Pki::issue`] makes it, valid only in `[not_before,
    /// not_after]`.
    pub fn issue_between(
        &self,
        common_name: &str,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> (String, String, Vec<u8>) {
        self.issue_with(common_name, vec![], rcgen::ExtendedKeyUsagePurpose::ClientAuth, |params| {
            params.not_before = not_before;
            params.not_after = not_after;
        })
    }

    fn issue_with(
        &self,
        common_name: &str,
        sans: Vec<String>,
        usage: rcgen::ExtendedKeyUsagePurpose,
        adjust: impl FnOnce(&mut rcgen::CertificateParams),
    ) -> (String, String, Vec<u8>) {
        let mut params = rcgen::CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        adjust(&mut params);
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.ca).unwrap();
        (certificate.pem(), key.serialize_pem(), certificate.der().to_vec())
    }
}

/// An HTTPS client trusting `ca_pem` for the server, presenting `identity` (certificate and key PEM) if given.
pub fn tls_client(ca_pem: &str, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut builder =
        reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    if let Some((certificate, key)) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(format!("{certificate}{key}").as_bytes()).unwrap());
    }
    builder.build().unwrap()
}
