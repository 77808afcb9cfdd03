//! Validation of an upstream's ID token (OpenID Connect Core §3.1.3.7): the signature against the key of the
//! JWKS named by `kid`, with the algorithm the key implies (never `none`, never HMAC, never one the header
//! picks), then `iss`, `aud` (and `azp`), `exp`, `iat` and `nonce`, against our clock.

use identity_core::time::OffsetDateTime;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::error::Error;

/// Seconds of clock difference tolerated on `exp` and `iat`.
pub const LEEWAY_SECONDS: i64 = 60;
/// Longest ID token accepted, in bytes.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// What a valid ID token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The issuer (for a multi-tenant Entra issuer, with `{tenantid}` left in: it is filled from `tid`).
    pub issuer: &'a str,
    /// Another spelling of the issuer the provider documents (Google's `accounts.google.com`).
    pub alternate_issuer: Option<&'a str>,
    /// Our client id, which `aud` must contain.
    pub client_id: &'a str,
    /// The nonce sent in the authorization request.
    pub nonce: &'a str,
    /// Now.
    pub now: OffsetDateTime,
}

fn refused(reason: &'static str) -> Error {
    Error::InvalidIdToken { reason }
}

/// The header of an ID token, or an error when it does not decode (this is also where `alg: none` ends:
/// jsonwebtoken knows no such algorithm).
fn header_of(token: &str) -> Result<jsonwebtoken::Header, Error> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(refused("the token is too long"));
    }
    jsonwebtoken::decode_header(token).map_err(|_| refused("the header is malformed or its alg unknown"))
}

fn signing_keys(jwks: &Value) -> impl Iterator<Item = Jwk> + '_ {
    jwks.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        // Keys that do not parse are skipped one by one: one odd key must not break sign-in with the others.
        .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
}

/// The algorithm `jwk` verifies, from the key alone: its `alg` if it names an asymmetric signature algorithm,
/// otherwise what its type implies (RS256 for RSA, as OIDC's default). Symmetric keys have none.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let declared = match jwk.common.key_algorithm {
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::RS384) => Some(Algorithm::RS384),
        Some(KeyAlgorithm::RS512) => Some(Algorithm::RS512),
        Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
        Some(KeyAlgorithm::PS384) => Some(Algorithm::PS384),
        Some(KeyAlgorithm::PS512) => Some(Algorithm::PS512),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::ES384) => Some(Algorithm::ES384),
        Some(KeyAlgorithm::EdDSA) => Some(Algorithm::EdDSA),
        Some(_) => return None,
        None => None,
    };
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        // Symmetric (`oct`) keys and anything unknown verify nothing here.
        _ => return None,
    };
    match declared {
        // A declared algorithm must fit the key's type (an `ES256` label on an RSA key is refused).
        Some(alg) if same_family(alg, implied) => Some(alg),
        Some(_) => None,
        None => Some(implied),
    }
}

fn same_family(a: Algorithm, b: Algorithm) -> bool {
    use Algorithm::*;
    let family = |alg| match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => 1,
        ES256 | ES384 => 2,
        EdDSA => 3,
        _ => 0,
    };
    family(a) != 0 && family(a) == family(b) && (family(a) != 2 || a == b)
}

/// Validates `token` against `jwks` and `expected`; returns its claims. Fails with
/// [`Error::UnknownSigningKey`] when no key of `jwks` has the token's `kid`, so the caller can refetch the key
/// set once and try again.
pub fn validate(token: &str, jwks: &Value, expected: &Expected<'_>) -> Result<Map<String, Value>, Error> {
    let header = header_of(token)?;
    let kid = header.kid.clone();
    let mut candidates: Vec<Jwk> =
        signing_keys(jwks).filter(|jwk| kid.is_none() || jwk.common.key_id.as_deref() == kid.as_deref()).collect();
    if candidates.is_empty() {
        return Err(Error::UnknownSigningKey { kid });
    }
    // Without a `kid` only a key set of one key is unambiguous.
    if kid.is_none() && candidates.len() > 1 {
        return Err(refused("the token names no kid and the key set has several keys"));
    }
    let jwk = candidates.swap_remove(0);
    let algorithm = key_algorithm(&jwk).ok_or(refused("the key is not an asymmetric signing key"))?;
    if header.alg != algorithm {
        return Err(refused("the token's alg is not the key's"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| refused("the key does not decode"))?;
    let mut validation = Validation::new(algorithm);
    // Time, audience and issuer are checked below against our clock and rules, not the system clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|_| refused("the signature does not verify"))?;
    check_claims(&data.claims, expected)?;
    Ok(data.claims)
}

fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), Error> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let issuer = match (expected.issuer.contains("{tenantid}"), text("tid")) {
        (true, Some(tid)) => expected.issuer.replace("{tenantid}", tid),
        (true, None) => return Err(refused("a multi-tenant issuer needs the token's tid")),
        (false, _) => expected.issuer.to_owned(),
    };
    let iss = text("iss");
    if iss != Some(issuer.as_str()) && (iss.is_none() || iss != expected.alternate_issuer) {
        return Err(refused("iss is not the provider's issuer"));
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(refused("sub is missing"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !audiences.contains(&expected.client_id) {
        return Err(refused("aud does not contain our client id"));
    }
    // OIDC Core §3.1.3.7 (4, 5): with several audiences `azp` must be present; when present it must be us.
    match text("azp") {
        Some(azp) if azp != expected.client_id => return Err(refused("azp is not our client id")),
        None if audiences.len() > 1 => return Err(refused("azp is required when there are several audiences")),
        _ => {}
    }
    let now = expected.now.unix_timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(refused("exp is missing"))?;
    if exp + LEEWAY_SECONDS <= now {
        return Err(refused("the token has expired"));
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or(refused("iat is missing"))?;
    if iat - LEEWAY_SECONDS > now {
        return Err(refused("the token was issued in the future"));
    }
    let nonce = text("nonce").unwrap_or_default();
    if !bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) || expected.nonce.is_empty() {
        return Err(refused("the nonce is not the one sent"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwk(value: Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_algorithm_comes_from_the_key_and_hmac_keys_have_none() {
        let ec = json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "e"});
        assert_eq!(key_algorithm(&jwk(ec.clone())), Some(Algorithm::ES256));
        let mut mislabelled = ec;
        mislabelled["alg"] = "RS256".into();
        assert_eq!(key_algorithm(&jwk(mislabelled)), None);
        let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        assert_eq!(key_algorithm(&jwk(rsa.clone())), Some(Algorithm::RS256));
        let mut ps = rsa;
        ps["alg"] = "PS256".into();
        assert_eq!(key_algorithm(&jwk(ps)), Some(Algorithm::PS256));
        let oct = json!({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"});
        assert_eq!(key_algorithm(&jwk(oct)), None);
    }
}
