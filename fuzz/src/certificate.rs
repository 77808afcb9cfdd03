//! Fuzz target `certificate`: the input as a client certificate (DER or PEM, a PEM bundle's later blocks being
//! intermediates) verified against a fixed CA, as CA certificates to trust, and as a certificate signing request
//! (DER or PEM) that the platform CA signs; whatever it issues must verify against the CA's own verifier.

use std::sync::OnceLock;

use identity_auth::{CertificateVerifier, PlatformCa, thumbprint_s256};
use identity_core::SecretString;
use identity_core::time::{Duration, OffsetDateTime};

const CA_PEM: &str = include_str!("../data/ca.pem");
const CA_KEY_PEM: &str = include_str!("../data/ca.key.pem");

/// 2026-06-01: inside the fixed CA's and the seed certificates' validity.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_272_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The fixed CA: the verifier's trust anchor and the signer of CSRs.
pub fn ca() -> &'static PlatformCa {
    static CA: OnceLock<PlatformCa> = OnceLock::new();
    CA.get_or_init(|| match PlatformCa::from_pem(CA_PEM, &SecretString::new(CA_KEY_PEM), Duration::days(365)) {
        Ok(ca) => ca,
        Err(e) => panic!("the fixed CA must load: {e}"),
    })
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let verifier = ca().verifier();
    let strict = verifier.verify(data, &[], now());
    let lenient = verifier.verify_allowing_expired(data, &[], now());
    if let Ok(verified) = &strict {
        assert!(lenient.is_ok(), "a certificate that verifies must verify when expiry is allowed");
        assert_eq!(verified.thumbprint_s256().len(), 43, "an S256 thumbprint is 43 base64url characters");
    }
    let _ = verifier.verify(data, &[data.to_vec()], now());
    let _ = thumbprint_s256(data);
    let _ = CertificateVerifier::from_der(&[data.to_vec()]);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = CertificateVerifier::from_pem(text);
    }
    if let Ok(issued) = ca().issue(data, "fuzzed-enrollee", now())
        && let Err(e) = verifier.verify(&issued, &[], now())
    {
        panic!("the CA's own certificate does not verify: {e}");
    }
}
