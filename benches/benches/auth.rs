//! identity-auth's hot paths, each beside the bare primitive it wraps, measured in the same run: argon2id password
//! verification against the bare `argon2` call, TOTP verification against a bare `totp-rs` check, external JWT
//! verification (ES256, EdDSA, RS256) against a bare `jsonwebtoken::decode` with the same checks, and client
//! certificate verification against a bare `x509-parser` parse and signature check.
//!
//! Keys, certificates and hashes are made at bench start; no private key is stored anywhere.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use argon2::{Argon2, PasswordHash, PasswordVerifier as _};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use identity_auth::{
    CertificateVerifier, CipherKey, HasherConfig, JwtSigner, PasswordHasher, SecretCipher, SignerKeys, TotpSettings,
    TotpVerifier, Verification,
};
use identity_core::time::OffsetDateTime;
use identity_core::{IdentityId, SecretBytes, SecretString};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};
use serde_json::{Map, Value, json};

fn password_verify(c: &mut Criterion) {
    let hasher = PasswordHasher::new(HasherConfig::default()).unwrap();
    let password = SecretString::new("correct-horse-battery-staple");
    let hash = hasher.hash(&password).unwrap();
    assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_str());
    let phc = PasswordHash::new(hash.as_str()).unwrap();
    assert!(Argon2::default().verify_password(password.expose_secret().as_bytes(), &phc).is_ok());
    assert_eq!(hasher.verify(&password, &hash).unwrap(), Verification::Match { rehash: false });

    let mut group = c.benchmark_group("password_verify");
    // ~20-50 ms a call: flat sampling keeps ten samples within a few seconds.
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(4));
    group.bench_function("bare_argon2_verify_password", |b| {
        b.iter(|| black_box(Argon2::default().verify_password(black_box(password.expose_secret().as_bytes()), &phc)))
    });
    group.bench_function("password_hasher_verify", |b| {
        b.iter(|| black_box(hasher.verify(black_box(&password), &hash).unwrap()))
    });
    group.finish();
}

fn totp_verify(c: &mut Criterion) {
    let cipher = Arc::new(SecretCipher::new(vec![CipherKey::new(1, &SecretBytes::new(vec![7; 32])).unwrap()]).unwrap());
    let verifier = TotpVerifier::new(TotpSettings::default(), Arc::clone(&cipher)).unwrap();
    let identity = IdentityId::new();
    let mut config = verifier.enroll(identity, "ada@example.com").unwrap().config;
    let secret = cipher.open(config.secret.as_ref().unwrap(), identity.as_uuid().as_bytes()).unwrap();
    // The primitive: SHA-1, 6 digits, 30 s, one step of skew, as the default settings; built once.
    let bare = totp_rs::Builder::new().with_secret(secret.expose_secret()).with_skew(1).build().unwrap();
    let now = OffsetDateTime::now_utc();
    let seconds = u64::try_from(now.unix_timestamp()).unwrap();
    let code = bare.generate(seconds).to_string();
    assert!(bare.check(&code, seconds).is_some());
    assert!(verifier.verify(identity, &mut config, &code, now).is_ok());

    let mut group = c.benchmark_group("totp_verify");
    group.bench_function("bare_totp_rs_check", |b| b.iter(|| black_box(bare.check(black_box(&code), seconds))));
    group.bench_function("totp_verifier_verify", |b| {
        b.iter(|| {
            // Replay protection would refuse the second iteration's code.
            config.last_used_step = None;
            black_box(verifier.verify(identity, &mut config, black_box(&code), now).unwrap())
        })
    });
    group.finish();
}

const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "identity-platform";

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// A key pair made for this run: the private key to sign with and the public key as a JWK named `kid`.
struct JwtKey {
    algorithm: Algorithm,
    signing: EncodingKey,
    public: Jwk,
}

impl JwtKey {
    fn new(algorithm: Algorithm, signing: EncodingKey, public: DecodingKey) -> Self {
        let mut jwk = Jwk::from_decoding_key(&public, Some(algorithm)).unwrap();
        jwk.common.key_id = Some("bench".to_owned());
        Self { algorithm, signing, public: jwk }
    }

    fn es256() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let public = pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref());
        let signing = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
        Self::new(Algorithm::ES256, signing, DecodingKey::from_ec_pem(public.as_bytes()).unwrap())
    }

    fn eddsa() -> Self {
        let pair = Ed25519KeyPair::generate().unwrap();
        let public = pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref());
        let signing = EncodingKey::from_ed_der(pair.to_pkcs8v1().unwrap().as_ref());
        Self::new(Algorithm::EdDSA, signing, DecodingKey::from_ed_pem(public.as_bytes()).unwrap())
    }

    fn rs256() -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        // jsonwebtoken signs RSA with a PKCS#1 key; its PEM reader unwraps the PKCS#8 document aws-lc-rs writes.
        let private = pem("PRIVATE KEY", AsDer::<Pkcs8V1Der>::as_der(&pair).unwrap().as_ref());
        let public = pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref());
        let signing = EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
        Self::new(Algorithm::RS256, signing, DecodingKey::from_rsa_pem(public.as_bytes()).unwrap())
    }
}

fn jwt_verify(c: &mut Criterion) {
    // jsonwebtoken checks `exp` against the system clock, so the tokens are issued for the real time.
    let now = OffsetDateTime::now_utc();
    let claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": IdentityId::new().to_string(),
        "iat": now.unix_timestamp(),
        "exp": now.unix_timestamp() + 3600,
    });

    let mut group = c.benchmark_group("jwt_verify");
    for key in [JwtKey::es256(), JwtKey::eddsa(), JwtKey::rs256()] {
        let name = format!("{:?}", key.algorithm);
        let mut header = Header::new(key.algorithm);
        header.kid = Some("bench".to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &key.signing).unwrap();

        // A signer as an IdP publishes its keys (a JWKS; the token's `kid` picks the key), and the bare decode with
        // the same key and the same checks: algorithm, signature, `exp` (required, 30 s leeway), `nbf` if present,
        // `iss` and `aud` (both required).
        let keys = SignerKeys::Jwks(JwkSet { keys: vec![key.public.clone()] });
        let signer = JwtSigner::new("idp", ISSUER, AUDIENCE, keys, vec![key.algorithm]).compile().unwrap();
        let decoding = DecodingKey::from_jwk(&key.public).unwrap();
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = 30;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        assert!(jsonwebtoken::decode::<Map<String, Value>>(&token, &decoding, &validation).is_ok());
        assert!(signer.verify(&token, now).is_ok());

        group.bench_function(format!("{name}/bare_jsonwebtoken_decode"), |b| {
            b.iter(|| black_box(jsonwebtoken::decode::<Map<String, Value>>(black_box(&token), &decoding, &validation)))
        });
        group.bench_function(format!("{name}/compiled_signer_verify"), |b| {
            b.iter(|| black_box(signer.verify(black_box(&token), now).unwrap()))
        });
    }
    group.finish();
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Acme");
    name.push(DnType::CommonName, common_name);
    name
}

fn certificate_verify(c: &mut Criterion) {
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name("Root CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = date_time_ymd(2026, 1, 1);
    ca_params.not_after = date_time_ymd(2036, 1, 1);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let mut leaf_params = CertificateParams::default();
    leaf_params.distinguished_name = name("svc-billing");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf_params.not_before = date_time_ymd(2026, 1, 1);
    leaf_params.not_after = date_time_ymd(2027, 1, 1);
    let leaf = leaf_params.signed_by(&KeyPair::generate().unwrap(), &ca).unwrap().der().to_vec();

    let verifier = CertificateVerifier::from_pem(&ca.pem()).unwrap();
    let now = date_time_ymd(2026, 11, 25);
    let (_, ca_cert) = x509_parser::parse_x509_certificate(ca.der()).unwrap();
    let ca_key = ca_cert.public_key();
    let bare = |der: &[u8]| {
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        cert.verify_signature(Some(ca_key)).is_ok()
    };
    assert!(bare(&leaf));
    assert_eq!(verifier.verify(&leaf, &[], now).unwrap().thumbprint_s256(), identity_auth::thumbprint_s256(&leaf));

    let mut group = c.benchmark_group("certificate_verify");
    group.bench_function("bare_x509_parse_and_verify_signature", |b| b.iter(|| black_box(bare(black_box(&leaf)))));
    group.bench_function("certificate_verifier_verify_and_thumbprint", |b| {
        b.iter(|| black_box(verifier.verify(black_box(&leaf), &[], now).unwrap().thumbprint_s256()))
    });
    group.finish();
}

criterion_group!(benches, password_verify, totp_verify, jwt_verify, certificate_verify);
criterion_main!(benches);
