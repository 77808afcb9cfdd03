//! Fuzz target `jwt`: the input as a compact JWT verified by an external JWT signer (identity-auth) whose keys are a
//! fixed JWKS, and by one whose key is the same key as PEM; and as a signer's key material (a JWKS document or a
//! PEM), compiled into a signer that then verifies a fixed valid token.

use std::sync::OnceLock;

use identity_auth::{CompiledSigner, JwtSigner};
use identity_core::time::OffsetDateTime;
use serde_json::{Value, json};

const JWKS: &str = include_str!("../data/jwks.json");
const PEM: &str = include_str!("../data/jwt-signer.pem");
/// A token of the fixed key, valid at [`now`], for signers compiled from fuzzed key material.
const TOKEN: &str = include_str!("../corpus/jwt/valid.jwt");

/// 2026-06-01: inside the seed tokens' validity.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_272_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The algorithm lists a signer is tried with: a JWKS may mix key types; a PEM key must suit every algorithm listed.
const JWKS_ALGORITHMS: &[&str] = &["ES256", "ES384", "RS256", "PS256", "EdDSA"];
const PEM_ALGORITHMS: [&[&str]; 4] = [&["ES256"], &["ES384"], &["RS256", "PS512"], &["EdDSA"]];

/// A signer's configuration as an administrator stores it, with `keys` in its serialized form.
fn signer(keys: Value, algorithms: &[&str]) -> Option<CompiledSigner> {
    let config = json!({
        "id": "0c2b8a5e-2f43-4a3e-9d41-55a4c5f0e001",
        "name": "fuzz",
        "enabled": true,
        "issuer": "https://signer.example",
        "audience": "identity-platform",
        "keys": keys,
        "algorithms": algorithms,
    });
    let signer: JwtSigner = serde_json::from_value(config).ok()?;
    let validated = signer.validate();
    let compiled = signer.compile();
    assert_eq!(validated.is_ok(), compiled.is_ok(), "validate and compile disagree");
    compiled.ok()
}

/// The signers the input is verified by: the fixed JWKS's, and the same key's as PEM.
pub fn fixed_signers() -> &'static [CompiledSigner] {
    static SIGNERS: OnceLock<Vec<CompiledSigner>> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        let jwks: Value = serde_json::from_str(JWKS).unwrap_or_default();
        let signers: Vec<CompiledSigner> =
            [(json!({ "jwks": jwks }), JWKS_ALGORITHMS), (json!({ "pem": PEM }), PEM_ALGORITHMS[0])]
                .into_iter()
                .filter_map(|(keys, algorithms)| signer(keys, algorithms))
                .collect();
        assert_eq!(signers.len(), 2, "the fixed signers must compile");
        signers
    })
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for signer in fixed_signers() {
        if let Ok(verified) = signer.verify(text, now()) {
            // Only the fixed key signs; anything it accepted must name the configured issuer and audience.
            assert_eq!(verified.claims["iss"], "https://signer.example", "accepted a token of another issuer");
        }
    }
    if let Ok(document) = serde_json::from_str::<Value>(text)
        && let Some(compiled) = signer(json!({ "jwks": document }), JWKS_ALGORITHMS)
    {
        let _ = compiled.verify(TOKEN.trim(), now());
    }
    for algorithms in PEM_ALGORITHMS {
        if let Some(compiled) = signer(json!({ "pem": text }), algorithms) {
            let _ = compiled.verify(TOKEN.trim(), now());
        }
    }
}
