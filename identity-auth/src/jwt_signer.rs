//! External JWT signers: third parties (an IdP, a CI system, another cluster) trusted to vouch for identities with
//! signed JWTs, as OpenZiti's "external JWT signer".
//!
//! A [`JwtSigner`] is the stored configuration: issuer, audience, public keys (one PEM key or certificate, or a JWKS
//! document), an algorithm allow-list, the claim that names the identity and whether it holds the identity's
//! external id or its id. [`JwtSigner::compile`] checks it and parses its keys once into a [`CompiledSigner`], so
//! [`CompiledSigner::verify`] does no key parsing per token.
//!
//! Verification trusts nothing in the token before its signature is checked: the algorithm must be on the signer's
//! allow-list (`none` and HMAC never are, so a token "signed" with the public key as an HMAC secret is refused), the
//! key is chosen from the signer's own keys by `kid` (keys embedded in the header, `jwk`/`jku`/`x5u`/`x5c`, are
//! ignored), and the time claims are checked against the caller's clock, not the system's, with
//! [`CLOCK_SKEW_LEEWAY`].

use std::str::FromStr;

use identity_core::time::{Duration, OffsetDateTime};
use identity_core::{IdentityId, JwtSignerId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// How far the clocks of the signer and of this server may disagree: a token is still accepted this long after its
/// `exp`, and this long before its `nbf`. Small, because an external token is a credential in its own right.
pub const CLOCK_SKEW_LEEWAY: Duration = Duration::seconds(30);

/// The longest token accepted, in bytes. Real JWTs are a few KiB even with many claims; the bound keeps a hostile
/// client from making the server decode megabytes of JSON before the signature check refuses it.
pub const MAX_TOKEN_LENGTH: usize = 64 * 1024;

/// The claim that names the identity unless a signer says otherwise, as in OpenZiti.
pub const DEFAULT_CLAIMS_PROPERTY: &str = "sub";

/// How many characters of a token-supplied value (`kid`, `alg`) an error message repeats.
const ECHO_LIMIT: usize = 64;

/// The RSA key sizes aws-lc-rs verifies (`RSA_PKCS1_2048_8192_*`, `RSA_PSS_2048_8192_*`). Checked when the signer is
/// compiled, so a too-small key is a configuration error and not a `BadSignature` on every token.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

const RSA_ALGORITHMS: &[Algorithm] =
    &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];
const P256_ALGORITHMS: &[Algorithm] = &[Algorithm::ES256];
const P384_ALGORITHMS: &[Algorithm] = &[Algorithm::ES384];
const ED25519_ALGORITHMS: &[Algorithm] = &[Algorithm::EdDSA];

/// A third party trusted to vouch for identities with JWTs it signs (OpenZiti's external JWT signer).
///
/// Plain configuration, as stored and as an administrator edits it: nothing is checked until
/// [`compile`](Self::compile) (or [`validate`](Self::validate)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSigner {
    /// This signer's id; authentication policies allow signers by it.
    pub id: JwtSignerId,
    /// A name for administrators.
    pub name: String,
    /// Whether the signer's tokens are accepted at all. Disabling a signer refuses its tokens at once, whatever
    /// they say.
    pub enabled: bool,
    /// The exact `iss` its tokens must carry.
    pub issuer: String,
    /// The value its tokens' `aud` (a string or an array of strings) must contain: the name this platform goes by at
    /// the signer.
    pub audience: String,
    /// The public keys its tokens are signed with.
    pub keys: SignerKeys,
    /// The `alg` values accepted in its tokens. Must not be empty, and must not contain an HMAC algorithm: HMAC needs
    /// a shared secret, and these keys are public.
    pub algorithms: Vec<Algorithm>,
    /// The claim holding the value that names the identity; `sub` unless set.
    #[serde(default = "default_claims_property")]
    pub claims_property: String,
    /// Whether that claim holds the identity's `external_id` (true) or its id, a UUID (false).
    #[serde(default)]
    pub use_external_id: bool,
}

fn default_claims_property() -> String {
    DEFAULT_CLAIMS_PROPERTY.to_owned()
}

/// The public keys of a signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerKeys {
    /// One key, as PEM text: a `PUBLIC KEY` (SPKI), an `RSA PUBLIC KEY` (PKCS#1) or a `CERTIFICATE` (only its first
    /// block is read). A certificate is only a container for the key here: its validity dates and issuer are not
    /// checked, so rotate a signer's key by updating the signer. The token's `kid` is not consulted, since there is
    /// only one key to use.
    Pem(String),
    /// A JWKS document; a token's `kid` picks the key. Keys meant for encryption (`use: enc`, an encryption `alg`,
    /// or `key_ops` without `verify`), which IdPs such as Keycloak publish beside their signing keys, are left out.
    Jwks(JwkSet),
}

/// How a verified token names its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityMatch {
    /// The identity whose `external_id` is this value (the signer has `use_external_id`).
    ExternalId(String),
    /// The identity with this id.
    Id(IdentityId),
}

/// A token that passed every check of its signer.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJwt {
    /// The signer that vouched for it.
    pub signer_id: JwtSignerId,
    /// The value of the signer's claims property, as the token carries it.
    pub subject: String,
    /// The identity the subject names, for the caller to look up.
    pub matches: IdentityMatch,
    /// All the token's claims (a JSON object), for policies that look further than the subject.
    pub claims: Value,
}

impl JwtSigner {
    /// A new enabled signer with a fresh id, whose tokens name identities by id in `sub`.
    pub fn new(
        name: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: SignerKeys,
        algorithms: Vec<Algorithm>,
    ) -> Self {
        Self {
            id: JwtSignerId::new(),
            name: name.into(),
            enabled: true,
            issuer: issuer.into(),
            audience: audience.into(),
            keys,
            algorithms,
            claims_property: default_claims_property(),
            use_external_id: false,
        }
    }

    /// Checks the configuration and parses the keys once, for verifying tokens.
    ///
    /// Refuses (with [`Error::InvalidSigner`] naming the field) an empty name, issuer, audience or claims property;
    /// no algorithms, or an HMAC one; a PEM that is not a public key or certificate usable with every allowed
    /// algorithm; a JWKS without signature keys, with a key no allowed algorithm can use (wrong family or curve), a
    /// symmetric key, an RSA key outside 2048..=8192 bits, or several keys without distinct `kid`s.
    pub fn compile(self) -> Result<CompiledSigner, Error> {
        let keys = self.compile_keys()?;
        Ok(CompiledSigner { signer: self, keys })
    }

    /// Checks the configuration as [`compile`](Self::compile) does, without keeping the result: for an admin API
    /// that refuses a bad signer before storing it.
    pub fn validate(&self) -> Result<(), Error> {
        self.compile_keys().map(drop)
    }

    fn compile_keys(&self) -> Result<KeyRing, Error> {
        require_text("name", &self.name)?;
        require_text("issuer", &self.issuer)?;
        require_text("audience", &self.audience)?;
        require_text("claims_property", &self.claims_property)?;
        if self.algorithms.is_empty() {
            return Err(invalid("algorithms", "must name at least one algorithm"));
        }
        if let Some(hmac) = self.algorithms.iter().find(|alg| alg.family() == AlgorithmFamily::Hmac) {
            return Err(invalid(
                "algorithms",
                format!(
                    "{hmac:?} is an HMAC algorithm: it verifies with a shared secret, and a signer's keys are public, \
                     so anyone could forge tokens"
                ),
            ));
        }
        match &self.keys {
            SignerKeys::Pem(pem) => compile_pem(pem, &self.algorithms).map(KeyRing::Single),
            SignerKeys::Jwks(set) => compile_jwks(set, &self.algorithms).map(KeyRing::Set),
        }
    }
}

/// A [`JwtSigner`] whose configuration was checked and whose keys were parsed, ready to verify tokens. Holds its
/// own copy of the configuration, so the checks cannot be bypassed by editing it afterwards; recompile after a
/// change. `Send + Sync`: one compiled signer (behind an `Arc`) serves every request.
#[derive(Debug, Clone)]
pub struct CompiledSigner {
    signer: JwtSigner,
    keys: KeyRing,
}

/// The parsed keys of a signer.
#[derive(Debug, Clone)]
enum KeyRing {
    /// From a PEM: the one key.
    Single(CompiledKey),
    /// From a JWKS: each signature key with its `kid`, in document order. Searched linearly: a JWKS holds a handful
    /// of keys.
    Set(Vec<(Option<String>, CompiledKey)>),
}

#[derive(Debug, Clone)]
struct CompiledKey {
    key: DecodingKey,
    /// The signer's algorithms this key can verify (and, if the JWK declares an `alg`, only that one).
    algorithms: Vec<Algorithm>,
}

impl KeyRing {
    fn select(&self, kid: Option<&str>) -> Result<&CompiledKey, Error> {
        match self {
            Self::Single(key) => Ok(key),
            Self::Set(keys) => match (kid, keys.as_slice()) {
                (Some(kid), _) => keys
                    .iter()
                    .find(|(key_id, _)| key_id.as_deref() == Some(kid))
                    .map(|(_, key)| key)
                    .ok_or_else(|| Error::UnknownKey { kid: Some(echo(kid)) }),
                // A token that names no key can only mean the one key there is.
                (None, [(_, only)]) => Ok(only),
                (None, _) => Err(Error::UnknownKey { kid: None }),
            },
        }
    }
}

impl CompiledSigner {
    /// The configuration this was compiled from.
    pub fn signer(&self) -> &JwtSigner {
        &self.signer
    }

    /// Verifies `token` (a compact JWS) as of `now` and says which identity it names.
    ///
    /// In order: a disabled signer refuses before looking at the token; the header's `alg` must be on the allow-list
    /// and usable with the key its `kid` picks; the signature must verify; `exp` must be present and, like `nbf`
    /// when present, hold at `now` give or take [`CLOCK_SKEW_LEEWAY`]; `iss` must equal the issuer and `aud` contain
    /// the audience; the claims property must be a non-empty string, and a UUID unless the signer matches external
    /// ids. Each failure is its own [`Error`] variant; a token that cannot be parsed is
    /// [`Error::MalformedToken`].
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<VerifiedJwt, Error> {
        let signer = &self.signer;
        if !signer.enabled {
            return Err(Error::SignerDisabled);
        }
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(malformed(format!("longer than {MAX_TOKEN_LENGTH} bytes")));
        }
        let (header, signature) = read_header(token)?;
        let algorithm = Algorithm::from_str(&header.alg)
            .ok()
            // The HMAC test repeats what `compile` guarantees: a token must never be checked with a public key as
            // an HMAC secret, whatever the configuration says.
            .filter(|alg| alg.family() != AlgorithmFamily::Hmac && signer.algorithms.contains(alg))
            .ok_or_else(|| Error::AlgorithmNotAllowed { algorithm: echo(&header.alg) })?;
        let key = self.keys.select(header.kid.as_deref())?;
        if !key.algorithms.contains(&algorithm) {
            return Err(Error::AlgorithmNotAllowed { algorithm: echo(&header.alg) });
        }
        // Checked after the algorithm, so an unsigned `alg: none` token is reported as such; with a real algorithm
        // an empty signature means a token cut short.
        if signature.is_empty() {
            return Err(malformed("the signature is empty"));
        }
        let claims = verify_signature(token, &key.key, algorithm)?;

        check_times(&claims, now)?;
        match claims.get("iss") {
            Some(Value::String(issuer)) if *issuer == signer.issuer => {}
            None | Some(Value::String(_)) => return Err(Error::WrongIssuer),
            Some(_) => return Err(malformed("the `iss` claim is not a string")),
        }
        check_audience(&claims, &signer.audience)?;

        let property = &signer.claims_property;
        let subject = match claims.get(property) {
            Some(Value::String(subject)) if !subject.is_empty() => subject.clone(),
            _ => return Err(malformed(format!("the `{property}` claim is missing or is not a non-empty string"))),
        };
        let matches = if signer.use_external_id {
            IdentityMatch::ExternalId(subject.clone())
        } else {
            let id = subject
                .parse::<IdentityId>()
                .map_err(|_| malformed(format!("the `{property}` claim is not an identity id (a UUID)")))?;
            IdentityMatch::Id(id)
        };
        Ok(VerifiedJwt { signer_id: signer.id, subject, matches, claims: Value::Object(claims) })
    }
}

/// The header fields read before the signature is checked: only what is needed to pick the algorithm and key.
#[derive(Deserialize)]
struct RawHeader {
    /// A string, not jsonwebtoken's `Algorithm`, so that `none` or an unknown name is reported as the algorithm it
    /// is rather than as a parse failure.
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// Reads the header of a compact JWS, and returns it with the encoded signature.
fn read_header(token: &str) -> Result<(RawHeader, &str), Error> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("not three dot-separated parts"));
    };
    let json = base64url_decode(header).ok_or_else(|| malformed("the header is not base64url"))?;
    // serde's derive refuses a duplicated `alg` or `kid`, so no other JSON reader can see a different one.
    let header: RawHeader =
        serde_json::from_slice(&json).map_err(|_| malformed("the header is not a JSON object with a string `alg`"))?;
    // RFC 7515 §4.1.11: a header extension marked critical must be understood, and this verifier implements none.
    if header.crit.is_some() {
        return Err(malformed("the header marks extensions critical (`crit`), which are not supported"));
    }
    Ok((header, signature))
}

/// Checks the signature with jsonwebtoken and returns the claims. jsonwebtoken's claim checks are all off: they read
/// the system clock where the caller's `now` must count, use a 60 s leeway, and accept a token without `aud`; the
/// checks after this call replace them.
fn verify_signature(token: &str, key: &DecodingKey, algorithm: Algorithm) -> Result<Map<String, Value>, Error> {
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(error) => Err(match error.kind() {
            ErrorKind::InvalidSignature => Error::BadSignature,
            ErrorKind::InvalidToken => malformed("not three dot-separated parts"),
            ErrorKind::Base64(_) => malformed("a part is not base64url"),
            ErrorKind::Json(_) | ErrorKind::Utf8(_) => malformed("the header or the claims are not a JSON object"),
            // The key and the algorithm were matched when the signer was compiled, so any other failure means this
            // key cannot vouch for the token.
            _ => Error::BadSignature,
        }),
    }
}

fn check_times(claims: &Map<String, Value>, now: OffsetDateTime) -> Result<(), Error> {
    // Seconds as f64: NumericDate may have a fraction (RFC 7519 §2), and f64 is exact to well under a millisecond
    // for any date near ours.
    let now = now.unix_timestamp_nanos() as f64 / 1e9;
    let leeway = CLOCK_SKEW_LEEWAY.as_seconds_f64();
    let expires =
        numeric_date(claims, "exp")?.ok_or_else(|| malformed("the `exp` claim is missing; tokens must expire"))?;
    if now > expires + leeway {
        return Err(Error::TokenExpired);
    }
    if let Some(not_before) = numeric_date(claims, "nbf")?
        && now + leeway < not_before
    {
        return Err(Error::TokenNotYetValid);
    }
    Ok(())
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(seconds)) => match seconds.as_f64() {
            Some(seconds) if seconds.is_finite() => Ok(Some(seconds)),
            _ => Err(malformed(format!("the `{name}` claim is not a number of seconds"))),
        },
        Some(_) => Err(malformed(format!("the `{name}` claim is not a number of seconds"))),
    }
}

fn check_audience(claims: &Map<String, Value>, audience: &str) -> Result<(), Error> {
    let found = match claims.get("aud") {
        None => false,
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(list)) => {
            let mut found = false;
            for entry in list {
                match entry {
                    Value::String(aud) => found |= aud == audience,
                    _ => return Err(malformed("the `aud` claim is not a string or an array of strings")),
                }
            }
            found
        }
        Some(_) => return Err(malformed("the `aud` claim is not a string or an array of strings")),
    };
    if found { Ok(()) } else { Err(Error::WrongAudience) }
}

fn compile_pem(pem: &str, algorithms: &[Algorithm]) -> Result<CompiledKey, Error> {
    // jsonwebtoken would read an `RSA PRIVATE KEY` as if it were a public one; a private key has no business in a
    // signer's configuration, so the label is checked first.
    let Some((_, rest)) = pem.split_once("-----BEGIN ") else {
        return Err(invalid("keys", "the PEM has no `-----BEGIN` line"));
    };
    let label = rest.split_once("-----").map_or(rest, |(label, _)| label);
    match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => {}
        private if private.contains("PRIVATE") => {
            return Err(invalid("keys", "the PEM is a private key; give the signer's public key or certificate"));
        }
        other => {
            return Err(invalid(
                "keys",
                format!("the PEM is labelled {:?}; expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", echo(other)),
            ));
        }
    }
    let bytes = pem.as_bytes();
    let key = DecodingKey::from_rsa_pem(bytes)
        .or_else(|_| DecodingKey::from_ec_pem(bytes))
        .or_else(|_| DecodingKey::from_ed_pem(bytes))
        .map_err(|_| invalid("keys", "the PEM holds no RSA, EC or Ed25519 public key"))?;
    // Through a JWK, PEM and JWKS keys pass the same checks (RSA size, EC curve, Ed25519 length), and a malformed
    // key (an RSA private key in a `PUBLIC KEY` block, a point of the wrong size) is refused here.
    let jwk = Jwk::from_decoding_key(&key, None)
        .map_err(|_| invalid("keys", "the PEM's key cannot be read as an RSA, EC or Ed25519 public key"))?;
    let profile = KeyProfile::of(&jwk).map_err(|problem| invalid("keys", format!("the PEM holds {problem}")))?;
    if let Some(unusable) = algorithms.iter().find(|alg| !profile.algorithms.contains(alg)) {
        return Err(invalid("keys", format!("the PEM holds {}, which cannot verify {unusable:?}", profile.kind)));
    }
    Ok(CompiledKey { key: profile.key, algorithms: algorithms.to_vec() })
}

fn compile_jwks(set: &JwkSet, algorithms: &[Algorithm]) -> Result<Vec<(Option<String>, CompiledKey)>, Error> {
    let mut keys: Vec<(Option<String>, CompiledKey)> = Vec::with_capacity(set.keys.len());
    for (index, jwk) in set.keys.iter().enumerate() {
        if is_encryption_key(jwk) {
            continue;
        }
        let kid = jwk.common.key_id.clone();
        let at = |problem: String| {
            let name = kid.as_deref().map(|kid| format!(" (kid {:?})", echo(kid))).unwrap_or_default();
            invalid("keys", format!("JWKS key {index}{name} {problem}"))
        };
        let profile = KeyProfile::of(jwk).map_err(|problem| at(format!("is {problem}")))?;
        let mut usable: Vec<Algorithm> =
            algorithms.iter().copied().filter(|alg| profile.algorithms.contains(alg)).collect();
        if usable.is_empty() {
            return Err(at(format!(
                "is {}, which none of the signer's algorithms {algorithms:?} can use",
                profile.kind
            )));
        }
        if let Some(declared) = jwk.common.key_algorithm {
            // RFC 7517 §4.4: a key that declares its algorithm is used with that one only.
            let allowed = Algorithm::try_from(declared).ok().filter(|alg| usable.contains(alg));
            let Some(allowed) = allowed else {
                return Err(at(format!(
                    "declares `alg` {declared}, which is not among its usable algorithms {usable:?}"
                )));
            };
            usable = vec![allowed];
        }
        if let Some(kid) = &kid
            && keys.iter().any(|(other, _)| other.as_deref() == Some(kid.as_str()))
        {
            return Err(at("repeats a `kid` used by an earlier key".to_owned()));
        }
        keys.push((kid, CompiledKey { key: profile.key, algorithms: usable }));
    }
    if keys.is_empty() {
        return Err(invalid("keys", "the JWKS holds no signature keys"));
    }
    if keys.len() > 1 && keys.iter().any(|(kid, _)| kid.is_none()) {
        return Err(invalid("keys", "the JWKS holds several keys, so each needs a `kid` for tokens to pick it by"));
    }
    Ok(keys)
}

/// Whether a JWK is declared for encryption rather than signatures: such keys can never verify a JWT.
fn is_encryption_key(jwk: &Jwk) -> bool {
    let common = &jwk.common;
    common.public_key_use == Some(PublicKeyUse::Encryption)
        || matches!(
            common.key_algorithm,
            Some(KeyAlgorithm::RSA1_5 | KeyAlgorithm::RSA_OAEP | KeyAlgorithm::RSA_OAEP_256)
        )
        || common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
}

/// A public key, parsed, with what it is and which algorithms can use it.
struct KeyProfile {
    key: DecodingKey,
    /// For messages: "an RSA key", "an EC P-256 key", ...
    kind: &'static str,
    algorithms: &'static [Algorithm],
}

impl KeyProfile {
    /// Parses and checks a JWK; the error is a phrase completing "the key is ...".
    fn of(jwk: &Jwk) -> Result<Self, String> {
        let unreadable = |what: &str| format!("{what} whose parameters are not valid base64url");
        match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => {
                let key = DecodingKey::from_jwk(jwk).map_err(|_| unreadable("an RSA key"))?;
                let DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() else {
                    return Err("an RSA key without a modulus and exponent".to_owned());
                };
                let bits = bit_length(n);
                if !RSA_BITS.contains(&bits) {
                    return Err(format!(
                        "an RSA key of {bits} bits; {} to {} bits are required",
                        RSA_BITS.start(),
                        RSA_BITS.end()
                    ));
                }
                // An exponent of 1 would make every message its own signature.
                if bit_length(e) < 2 || e.last().is_none_or(|last| last % 2 == 0) {
                    return Err("an RSA key whose exponent is not an odd number of at least 3".to_owned());
                }
                Ok(Self { key, kind: "an RSA key", algorithms: RSA_ALGORITHMS })
            }
            AlgorithmParameters::EllipticCurve(params) => {
                let (kind, algorithms, point_length) = match params.curve {
                    EllipticCurve::P256 => ("an EC P-256 key", P256_ALGORITHMS, 65),
                    EllipticCurve::P384 => ("an EC P-384 key", P384_ALGORITHMS, 97),
                    _ => return Err("an EC key on a curve other than P-256 and P-384".to_owned()),
                };
                let key = DecodingKey::from_jwk(jwk).map_err(|_| unreadable(kind))?;
                // 0x04 || x || y, as jsonwebtoken assembles it; a short coordinate would only fail at every verify.
                if key.try_get_as_bytes().map(<[u8]>::len) != Ok(point_length) {
                    return Err(format!("{kind} whose `x` and `y` do not have the curve's length"));
                }
                Ok(Self { key, kind, algorithms })
            }
            AlgorithmParameters::OctetKeyPair(params) => {
                if params.curve != EllipticCurve::Ed25519 {
                    return Err("an OKP key on a curve other than Ed25519".to_owned());
                }
                let kind = "an Ed25519 key";
                let key = DecodingKey::from_jwk(jwk).map_err(|_| unreadable(kind))?;
                if key.try_get_as_bytes().map(<[u8]>::len) != Ok(32) {
                    return Err(format!("{kind} whose `x` is not 32 bytes"));
                }
                Ok(Self { key, kind, algorithms: ED25519_ALGORITHMS })
            }
            AlgorithmParameters::OctetKey(_) => {
                Err("a symmetric (`oct`) key: an HMAC secret in a signer's public keys lets anyone forge tokens"
                    .to_owned())
            }
            _ => Err("a key of a type jsonwebtoken cannot verify with".to_owned()),
        }
    }
}

/// The number of significant bits of a big-endian unsigned integer.
fn bit_length(big_endian: &[u8]) -> usize {
    let mut digits = big_endian.iter().skip_while(|byte| **byte == 0);
    match digits.next() {
        None => 0,
        Some(first) => (8 - first.leading_zeros() as usize) + 8 * digits.count(),
    }
}

/// Strict base64url without padding (RFC 7515 §2): `None` on any other character, on a length no encoding has, or
/// on non-zero unused bits, so one text has one meaning (jsonwebtoken's decoder is equally strict). Written here
/// because only the header needs decoding before jsonwebtoken takes over, and the workspace does not pin `base64`
/// for this crate.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        Some(u32::from(value))
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.as_bytes().chunks(4) {
        let mut bits = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            bits |= sextet(*c)? << (18 - 6 * i);
        }
        let [_, first, second, third] = bits.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&[first, second, third]),
            3 if third == 0 => out.extend_from_slice(&[first, second]),
            2 if second == 0 && third == 0 => out.push(first),
            _ => return None,
        }
    }
    Some(out)
}

fn require_text(field: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() { Err(invalid(field, "must not be empty")) } else { Ok(()) }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidSigner { field, reason: reason.into() }
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedToken { reason: reason.into() }
}

/// A value from a token or a key set, cut short enough to put in an error message.
fn echo(value: &str) -> String {
    match value.char_indices().nth(ECHO_LIMIT) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
    use jsonwebtoken::jwk::{CommonParameters, OctetKeyParameters, OctetKeyType, RSAKeyParameters, RSAKeyType};
    use jsonwebtoken::{EncodingKey, Header};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// 2026-01-01T00:00:00Z. (`time`'s `datetime!` names the `time` crate, which this crate reaches only through
    /// `identity_core`.)
    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH.saturating_add(Duration::seconds(1_767_225_600));
    const ISSUER: &str = "https://idp.example.com";
    const AUDIENCE: &str = "identity-platform";

    /// A certificate made with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256`, and its public key
    /// as `openssl x509 -pubkey` prints it. The private key was thrown away: only the key extraction is tested.
    const CERTIFICATE_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIUEr4VgKxaQBzc8QOoM2euPiaPUcUwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPdGVzdC1qd3Qtc2lnbmVyMB4XDTI2MTEyNTA5MjU0M1oXDTM2
MTEyMjA5MjU0M1owGjEYMBYGA1UEAwwPdGVzdC1qd3Qtc2lnbmVyMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAE8yQXUOIvO50Y1gUWGJVyB9xXL+HOJH9YEhbohttw
qrdUQ1/ecioShuvlIw7r4HXb0c8+Bhoh6h5NdF98EHts9qNTMFEwHQYDVR0OBBYE
FElwkFCEmoFoF0/nm0Z4yLIelwt1MB8GA1UdIwQYMBaAFElwkFCEmoFoF0/nm0Z4
yLIelwt1MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgMY+owjRG
13zn3h8c64tbYOBgK6mUkiYV5DsEBcNOCTACIFQwf4DjQeGIES7Ho/Sizkuw7UNm
RrwGE0tSeUFWn5XU
-----END CERTIFICATE-----
";
    const CERTIFICATE_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8yQXUOIvO50Y1gUWGJVyB9xXL+HO
JH9YEhbohttwqrdUQ1/ecioShuvlIw7r4HXb0c8+Bhoh6h5NdF98EHts9g==
-----END PUBLIC KEY-----
";

    /// A key pair made for the test run: private keys are never committed.
    struct TestKey {
        algorithm: Algorithm,
        signing: EncodingKey,
        public_pem: String,
    }

    struct TestKeys {
        es256: TestKey,
        eddsa: TestKey,
        rs256: TestKey,
        /// Another ES256 key, for tokens the signer's key did not sign.
        stranger: TestKey,
    }

    /// RSA key generation takes a while, so the keys are made once per test binary.
    static KEYS: LazyLock<TestKeys> = LazyLock::new(|| TestKeys {
        es256: es256_key(),
        eddsa: eddsa_key(),
        rs256: rs256_key(),
        stranger: es256_key(),
    });

    fn es256_key() -> TestKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        TestKey {
            algorithm: Algorithm::ES256,
            signing: EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref()),
            public_pem: pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref()),
        }
    }

    fn eddsa_key() -> TestKey {
        let pair = Ed25519KeyPair::generate().unwrap();
        TestKey {
            algorithm: Algorithm::EdDSA,
            signing: EncodingKey::from_ed_der(pair.to_pkcs8v1().unwrap().as_ref()),
            public_pem: pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref()),
        }
    }

    fn rs256_key() -> TestKey {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        // jsonwebtoken signs RSA with a PKCS#1 key; its PEM reader unwraps the PKCS#8 document aws-lc-rs writes.
        let private_pem = pem("PRIVATE KEY", AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap().as_ref());
        TestKey {
            algorithm: Algorithm::RS256,
            signing: EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
            public_pem: pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref()),
        }
    }

    fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let bits = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(char::from(alphabet[(bits >> (18 - 6 * i)) as usize & 63]));
            }
            if pad {
                out.push_str(&"=="[..3 - chunk.len()]);
            }
        }
        out
    }

    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn b64url(bytes: &[u8]) -> String {
        base64(bytes, URL_SAFE, false)
    }

    fn pem(label: &str, der: &[u8]) -> String {
        let body = base64(der, STANDARD, true);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    fn public_jwk(key: &TestKey, kid: &str) -> Jwk {
        let bytes = key.public_pem.as_bytes();
        let decoding = match key.algorithm.family() {
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(bytes),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(bytes),
            _ => DecodingKey::from_ed_pem(bytes),
        }
        .unwrap();
        let mut jwk = Jwk::from_decoding_key(&decoding, Some(key.algorithm)).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        jwk
    }

    fn pem_signer(key: &TestKey) -> JwtSigner {
        JwtSigner::new("idp", ISSUER, AUDIENCE, SignerKeys::Pem(key.public_pem.clone()), vec![key.algorithm])
    }

    fn jwks_signer(keys: &[(&TestKey, &str)]) -> JwtSigner {
        let set = JwkSet { keys: keys.iter().map(|(key, kid)| public_jwk(key, kid)).collect() };
        let mut algorithms: Vec<Algorithm> = keys.iter().map(|(key, _)| key.algorithm).collect();
        algorithms.dedup();
        JwtSigner::new("idp", ISSUER, AUDIENCE, SignerKeys::Jwks(set), algorithms)
    }

    fn all_keys_jwks_signer() -> CompiledSigner {
        let keys = &*KEYS;
        jwks_signer(&[(&keys.es256, "ec"), (&keys.eddsa, "ed"), (&keys.rs256, "rsa")]).compile().unwrap()
    }

    fn good_claims(subject: &str) -> Value {
        json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": NOW.unix_timestamp(),
            "exp": NOW.unix_timestamp() + 300,
        })
    }

    fn claims_with(changes: Value) -> Value {
        let mut claims = good_claims(&IdentityId::new().to_string());
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }

    fn sign(key: &TestKey, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(key.algorithm);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &key.signing).unwrap()
    }

    fn unsigned_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes()),
            b64url(signature)
        )
    }

    fn verify_es256(claims: &Value) -> Result<VerifiedJwt, Error> {
        let signer = pem_signer(&KEYS.es256).compile().unwrap();
        signer.verify(&sign(&KEYS.es256, None, claims), NOW)
    }

    fn refusal(signer: JwtSigner) -> (&'static str, String) {
        match signer.compile() {
            Err(Error::InvalidSigner { field, reason }) => (field, reason),
            other => panic!("expected InvalidSigner, got {other:?}"),
        }
    }

    #[test]
    fn base64url_decoder_agrees_with_the_rfc_4648_vectors_and_refuses_sloppy_input() {
        for (text, bytes) in
            [("", ""), ("Zg", "f"), ("Zm8", "fo"), ("Zm9v", "foo"), ("Zm9vYg", "foob"), ("Zm9vYmE", "fooba")]
        {
            assert_eq!(base64url_decode(text).as_deref(), Some(bytes.as_bytes()), "{text}");
        }
        assert_eq!(base64url_decode("-_8"), Some(vec![0xfb, 0xff]));
        for bad in ["Z", "Zg==", "Zh", "Zm9", "Zm9v+", "Zm/v", "Zm9v Yg"] {
            assert_eq!(base64url_decode(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn base64url_decoder_inverts_the_encoder(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(base64url_decode(&b64url(&bytes)), Some(bytes));
        }
    }

    #[test]
    fn good_tokens_verify_with_pem_keys() {
        for key in [&KEYS.es256, &KEYS.eddsa, &KEYS.rs256] {
            let signer = pem_signer(key).compile().unwrap();
            let id = IdentityId::new();
            let verified = signer.verify(&sign(key, None, &good_claims(&id.to_string())), NOW).unwrap();
            assert_eq!(verified.signer_id, signer.signer().id);
            assert_eq!(verified.subject, id.to_string());
            assert_eq!(verified.matches, IdentityMatch::Id(id));
            assert_eq!(verified.claims["iss"], ISSUER);
        }
    }

    #[test]
    fn good_tokens_verify_with_jwks_keys_picked_by_kid() {
        let signer = all_keys_jwks_signer();
        for (key, kid) in [(&KEYS.es256, "ec"), (&KEYS.eddsa, "ed"), (&KEYS.rs256, "rsa")] {
            let id = IdentityId::new();
            let verified = signer.verify(&sign(key, Some(kid), &good_claims(&id.to_string())), NOW).unwrap();
            assert_eq!(verified.matches, IdentityMatch::Id(id), "{kid}");
        }
    }

    #[test]
    fn an_rsa_key_verifies_every_rsa_algorithm_the_signer_allows() {
        let mut signer = pem_signer(&KEYS.rs256);
        signer.algorithms = vec![Algorithm::RS256, Algorithm::PS256, Algorithm::RS512];
        let signer = signer.compile().unwrap();
        for algorithm in [Algorithm::PS256, Algorithm::RS512] {
            let token = jsonwebtoken::encode(&Header::new(algorithm), &claims_with(json!({})), &KEYS.rs256.signing);
            assert!(signer.verify(&token.unwrap(), NOW).is_ok(), "{algorithm:?}");
        }
        let token = jsonwebtoken::encode(&Header::new(Algorithm::PS384), &claims_with(json!({})), &KEYS.rs256.signing);
        assert!(matches!(
            signer.verify(&token.unwrap(), NOW),
            Err(Error::AlgorithmNotAllowed { algorithm }) if algorithm == "PS384"
        ));
    }

    #[test]
    fn a_certificate_pem_yields_the_key_it_certifies() {
        let from_certificate = JwtSigner::new(
            "idp",
            ISSUER,
            AUDIENCE,
            SignerKeys::Pem(CERTIFICATE_PEM.to_owned()),
            vec![Algorithm::ES256],
        )
        .compile()
        .unwrap();
        let expected = DecodingKey::from_ec_pem(CERTIFICATE_PUBLIC_KEY_PEM.as_bytes()).unwrap();
        let KeyRing::Single(compiled) = &from_certificate.keys else { panic!("a PEM compiles to one key") };
        assert_eq!(
            Jwk::from_decoding_key(&compiled.key, None).unwrap(),
            Jwk::from_decoding_key(&expected, None).unwrap()
        );
    }

    #[test]
    fn a_disabled_signer_refuses_every_token_before_reading_it() {
        let mut signer = pem_signer(&KEYS.es256);
        signer.enabled = false;
        let signer = signer.compile().unwrap();
        let good = sign(&KEYS.es256, None, &claims_with(json!({})));
        assert!(matches!(signer.verify(&good, NOW), Err(Error::SignerDisabled)));
        assert!(matches!(signer.verify("garbage", NOW), Err(Error::SignerDisabled)));
    }

    #[test]
    fn a_kid_the_jwks_lacks_is_an_unknown_key() {
        let signer = all_keys_jwks_signer();
        let token = sign(&KEYS.es256, Some("retired"), &claims_with(json!({})));
        assert!(matches!(signer.verify(&token, NOW), Err(Error::UnknownKey { kid: Some(kid) }) if kid == "retired"));
    }

    #[test]
    fn a_token_without_kid_needs_a_jwks_of_one_key() {
        let token = sign(&KEYS.es256, None, &claims_with(json!({})));
        let single = jwks_signer(&[(&KEYS.es256, "ec")]).compile().unwrap();
        assert!(single.verify(&token, NOW).is_ok());
        assert!(matches!(all_keys_jwks_signer().verify(&token, NOW), Err(Error::UnknownKey { kid: None })));
    }

    #[test]
    fn a_kid_naming_a_key_of_another_algorithm_is_refused_before_the_signature_check() {
        let token = sign(&KEYS.es256, Some("rsa"), &claims_with(json!({})));
        assert!(matches!(
            all_keys_jwks_signer().verify(&token, NOW),
            Err(Error::AlgorithmNotAllowed { algorithm }) if algorithm == "ES256"
        ));
    }

    #[test]
    fn an_unsigned_alg_none_token_is_refused() {
        let claims = claims_with(json!({}));
        for signature in [&b""[..], b"anything"] {
            let token = unsigned_token(&json!({"alg": "none", "typ": "JWT"}), &claims, signature);
            for signer in [pem_signer(&KEYS.es256).compile().unwrap(), all_keys_jwks_signer()] {
                assert!(matches!(
                    signer.verify(&token, NOW),
                    Err(Error::AlgorithmNotAllowed { algorithm }) if algorithm == "none"
                ));
            }
        }
    }

    #[test]
    fn an_hs256_token_keyed_with_the_public_key_is_refused() {
        // The classic confusion attack: a verifier that lets the token pick HMAC would check it with the public key
        // bytes as the secret, which the attacker knows.
        let claims = claims_with(json!({}));
        for key in [&KEYS.es256, &KEYS.rs256] {
            let secret = EncodingKey::from_secret(key.public_pem.as_bytes());
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("rsa".to_owned());
            let token = jsonwebtoken::encode(&header, &claims, &secret).unwrap();
            for signer in [pem_signer(key).compile().unwrap(), all_keys_jwks_signer()] {
                assert!(matches!(
                    signer.verify(&token, NOW),
                    Err(Error::AlgorithmNotAllowed { algorithm }) if algorithm == "HS256"
                ));
            }
        }
    }

    #[test]
    fn an_unknown_algorithm_name_is_not_allowed_and_is_cut_short_in_the_error() {
        let long = "X".repeat(500);
        let token = unsigned_token(&json!({ "alg": long }), &claims_with(json!({})), b"sig");
        let Err(Error::AlgorithmNotAllowed { algorithm }) = verify_any(&token) else { panic!("expected refusal") };
        assert_eq!(algorithm.chars().count(), ECHO_LIMIT + 1);
    }

    fn verify_any(token: &str) -> Result<VerifiedJwt, Error> {
        pem_signer(&KEYS.es256).compile().unwrap().verify(token, NOW)
    }

    #[test]
    fn a_token_from_another_issuer_is_refused() {
        assert!(matches!(verify_es256(&claims_with(json!({"iss": "https://evil.example"}))), Err(Error::WrongIssuer)));
        assert!(matches!(verify_es256(&claims_with(json!({"iss": null}))), Err(Error::WrongIssuer)));
        assert!(matches!(verify_es256(&claims_with(json!({"iss": 7}))), Err(Error::MalformedToken { .. })));
    }

    #[test]
    fn a_token_for_another_audience_is_refused() {
        assert!(matches!(verify_es256(&claims_with(json!({"aud": "other-app"}))), Err(Error::WrongAudience)));
        assert!(matches!(verify_es256(&claims_with(json!({"aud": null}))), Err(Error::WrongAudience)));
        assert!(matches!(verify_es256(&claims_with(json!({"aud": ["a", "b"]}))), Err(Error::WrongAudience)));
        assert!(matches!(verify_es256(&claims_with(json!({"aud": []}))), Err(Error::WrongAudience)));
        assert!(matches!(verify_es256(&claims_with(json!({"aud": ["a", 1]}))), Err(Error::MalformedToken { .. })));
    }

    #[test]
    fn an_audience_array_containing_ours_is_accepted() {
        assert!(verify_es256(&claims_with(json!({"aud": ["other-app", AUDIENCE]}))).is_ok());
    }

    #[test]
    fn an_expired_token_is_refused_once_past_the_leeway() {
        let exp = NOW.unix_timestamp() - CLOCK_SKEW_LEEWAY.whole_seconds();
        assert!(verify_es256(&claims_with(json!({"exp": exp}))).is_ok(), "at exp + leeway exactly");
        assert!(verify_es256(&claims_with(json!({"exp": exp + 1}))).is_ok(), "within the leeway");
        assert!(matches!(verify_es256(&claims_with(json!({"exp": exp - 1}))), Err(Error::TokenExpired)));
        assert!(matches!(verify_es256(&claims_with(json!({"exp": exp as f64 - 0.5}))), Err(Error::TokenExpired)));
    }

    #[test]
    fn a_token_without_a_numeric_exp_is_malformed() {
        assert!(matches!(verify_es256(&claims_with(json!({"exp": null}))), Err(Error::MalformedToken { .. })));
        assert!(matches!(verify_es256(&claims_with(json!({"exp": "tomorrow"}))), Err(Error::MalformedToken { .. })));
    }

    #[test]
    fn a_token_not_valid_yet_is_refused_beyond_the_leeway() {
        let leeway = CLOCK_SKEW_LEEWAY.whole_seconds();
        let soon = NOW.unix_timestamp() + leeway;
        assert!(verify_es256(&claims_with(json!({"nbf": soon}))).is_ok());
        assert!(verify_es256(&claims_with(json!({"nbf": soon - 1}))).is_ok());
        assert!(matches!(verify_es256(&claims_with(json!({"nbf": soon + 1}))), Err(Error::TokenNotYetValid)));
        assert!(matches!(verify_es256(&claims_with(json!({"nbf": "later"}))), Err(Error::MalformedToken { .. })));
    }

    #[test]
    fn a_token_signed_by_another_key_has_a_bad_signature() {
        let claims = claims_with(json!({}));
        let token = sign(&KEYS.stranger, None, &claims);
        assert!(matches!(verify_any(&token), Err(Error::BadSignature)));
        let token = sign(&KEYS.stranger, Some("ec"), &claims);
        assert!(matches!(all_keys_jwks_signer().verify(&token, NOW), Err(Error::BadSignature)));
    }

    #[test]
    fn a_token_with_altered_claims_has_a_bad_signature() {
        let token = sign(&KEYS.es256, None, &claims_with(json!({"sub": IdentityId::new().to_string()})));
        let [header, _, signature] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
        let forged_claims = b64url(claims_with(json!({})).to_string().as_bytes());
        let forged = format!("{header}.{forged_claims}.{signature}");
        assert!(matches!(verify_any(&forged), Err(Error::BadSignature)));
    }

    #[test]
    fn garbage_and_truncated_tokens_are_malformed() {
        let token = sign(&KEYS.es256, None, &claims_with(json!({})));
        let second_dot = token.rfind('.').unwrap();
        let mut inputs: Vec<String> =
            ["", ".", "..", "abc", "a.b", "a.b.c.d", "!!!.e30.e30", "e30.e30.e30", "bnVsbA.e30."]
                .into_iter()
                .map(str::to_owned)
                .collect();
        inputs.extend([10, token.find('.').unwrap(), second_dot - 3, second_dot].map(|end| token[..end].to_owned()));
        inputs.push(format!("{}.", &token[..second_dot]));
        inputs.push("A".repeat(MAX_TOKEN_LENGTH + 1));
        for input in &inputs {
            assert!(matches!(verify_any(input), Err(Error::MalformedToken { .. })), "{input:?}");
        }
    }

    #[test]
    fn a_signed_token_whose_claims_are_not_an_object_is_malformed() {
        let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &json!(["a"]), &KEYS.es256.signing);
        assert!(matches!(verify_any(&token.unwrap()), Err(Error::MalformedToken { .. })));
    }

    #[test]
    fn a_header_naming_alg_twice_is_malformed() {
        let header = b64url(br#"{"alg":"HS256","alg":"ES256"}"#);
        let token = format!("{header}.{}.c2ln", b64url(claims_with(json!({})).to_string().as_bytes()));
        assert!(matches!(verify_any(&token), Err(Error::MalformedToken { .. })));
    }

    #[test]
    fn a_header_with_critical_extensions_is_malformed() {
        let token = unsigned_token(&json!({"alg": "ES256", "crit": ["b64"], "b64": false}), &json!({}), b"sig");
        assert!(matches!(verify_any(&token), Err(Error::MalformedToken { .. })));
    }

    #[test]
    fn a_token_without_the_claims_property_is_malformed() {
        for sub in [json!(null), json!(""), json!(42)] {
            assert!(matches!(verify_es256(&claims_with(json!({"sub": sub}))), Err(Error::MalformedToken { .. })));
        }
        let mut signer = pem_signer(&KEYS.es256);
        signer.claims_property = "email".to_owned();
        signer.use_external_id = true;
        let signer = signer.compile().unwrap();
        let token = sign(&KEYS.es256, None, &claims_with(json!({})));
        let Err(Error::MalformedToken { reason }) = signer.verify(&token, NOW) else { panic!("expected refusal") };
        assert!(reason.contains("`email`"), "{reason}");
    }

    #[test]
    fn use_external_id_matches_the_claim_as_an_external_id() {
        let mut signer = pem_signer(&KEYS.es256);
        signer.use_external_id = true;
        signer.claims_property = "email".to_owned();
        let signer = signer.compile().unwrap();
        let token = sign(&KEYS.es256, None, &claims_with(json!({"email": "ada@example.com", "sub": "not-a-uuid"})));
        let verified = signer.verify(&token, NOW).unwrap();
        assert_eq!(verified.subject, "ada@example.com");
        assert_eq!(verified.matches, IdentityMatch::ExternalId("ada@example.com".to_owned()));
    }

    #[test]
    fn matching_by_id_needs_a_uuid() {
        assert!(matches!(verify_es256(&claims_with(json!({"sub": "ada"}))), Err(Error::MalformedToken { .. })));
    }

    #[test]
    fn errors_never_repeat_the_token() {
        let token = sign(&KEYS.es256, None, &claims_with(json!({"aud": "other"})));
        let error = verify_any(&token).unwrap_err().to_string();
        for part in token.split('.') {
            assert!(!error.contains(part), "{error}");
        }
    }

    #[test]
    fn compiled_signers_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<CompiledSigner>();
    }

    #[test]
    fn a_signer_round_trips_through_json_with_defaults() {
        let signer = jwks_signer(&[(&KEYS.eddsa, "ed")]);
        let json = serde_json::to_value(&signer).unwrap();
        assert_eq!(serde_json::from_value::<JwtSigner>(json.clone()).unwrap(), signer);
        let mut minimal = json;
        minimal.as_object_mut().unwrap().retain(|name, _| name != "claims_property" && name != "use_external_id");
        let decoded: JwtSigner = serde_json::from_value(minimal).unwrap();
        assert_eq!(decoded.claims_property, "sub");
        assert!(!decoded.use_external_id);
    }

    #[test]
    fn a_signer_needs_its_texts() {
        for field in ["name", "issuer", "audience", "claims_property"] {
            let mut signer = pem_signer(&KEYS.es256);
            let value = match field {
                "name" => &mut signer.name,
                "issuer" => &mut signer.issuer,
                "audience" => &mut signer.audience,
                _ => &mut signer.claims_property,
            };
            " ".clone_into(value);
            assert_eq!(
                signer.validate().map_err(|e| e.to_string()),
                Err(format!("invalid JWT signer `{field}`: must not be empty"))
            );
        }
    }

    #[test]
    fn a_signer_needs_an_algorithm_and_no_hmac() {
        let mut signer = pem_signer(&KEYS.es256);
        signer.algorithms.clear();
        assert_eq!(refusal(signer).0, "algorithms");
        for hmac in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut signer = pem_signer(&KEYS.es256);
            signer.algorithms.push(hmac);
            let (field, reason) = refusal(signer);
            assert_eq!(field, "algorithms");
            assert!(reason.contains(&format!("{hmac:?}")), "{reason}");
        }
    }

    #[test]
    fn a_pem_must_be_a_public_key_usable_with_every_allowed_algorithm() {
        let with_pem = |pem: &str, algorithms: Vec<Algorithm>| {
            JwtSigner::new("idp", ISSUER, AUDIENCE, SignerKeys::Pem(pem.to_owned()), algorithms)
        };
        let garbage = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n";
        let private = pem(
            "PRIVATE KEY",
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap().to_pkcs8v1().unwrap().as_ref(),
        );
        let refusals = [
            with_pem("", vec![Algorithm::ES256]),
            with_pem("not pem at all", vec![Algorithm::ES256]),
            with_pem(garbage, vec![Algorithm::ES256]),
            with_pem(&private, vec![Algorithm::ES256]),
            with_pem(&private.replace("PRIVATE KEY", "EC PRIVATE KEY"), vec![Algorithm::ES256]),
            with_pem(&KEYS.es256.public_pem.replace("PUBLIC KEY", "SECRET THING"), vec![Algorithm::ES256]),
            // A P-256 key cannot verify RSA, EdDSA or ES384 tokens.
            with_pem(&KEYS.es256.public_pem, vec![Algorithm::ES256, Algorithm::RS256]),
            with_pem(&KEYS.es256.public_pem, vec![Algorithm::ES384]),
            with_pem(&KEYS.rs256.public_pem, vec![Algorithm::EdDSA]),
            with_pem(&KEYS.eddsa.public_pem, vec![Algorithm::ES256]),
        ];
        for signer in refusals {
            let pem = match &signer.keys {
                SignerKeys::Pem(pem) => pem.clone(),
                SignerKeys::Jwks(_) => unreachable!(),
            };
            let (field, reason) = refusal(signer);
            assert_eq!(field, "keys", "{pem}");
            assert!(!reason.contains("MII"), "the message must not repeat the key: {reason}");
        }
    }

    fn with_jwks(keys: Vec<Jwk>, algorithms: Vec<Algorithm>) -> JwtSigner {
        JwtSigner::new("idp", ISSUER, AUDIENCE, SignerKeys::Jwks(JwkSet { keys }), algorithms)
    }

    fn rsa_jwk(n: &[u8], e: &[u8], kid: &str) -> Jwk {
        Jwk {
            common: CommonParameters { key_id: Some(kid.to_owned()), ..CommonParameters::default() },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: b64url(n),
                e: b64url(e),
            }),
        }
    }

    #[test]
    fn a_jwks_key_of_another_family_or_curve_is_refused() {
        let keys = &*KEYS;
        for (jwk, algorithms) in [
            (public_jwk(&keys.es256, "ec"), vec![Algorithm::RS256]),
            (public_jwk(&keys.rs256, "rsa"), vec![Algorithm::ES256, Algorithm::EdDSA]),
            (public_jwk(&keys.eddsa, "ed"), vec![Algorithm::ES256]),
            (public_jwk(&keys.es256, "ec"), vec![Algorithm::ES384]),
        ] {
            assert_eq!(refusal(with_jwks(vec![jwk], algorithms)).0, "keys");
        }
    }

    #[test]
    fn a_jwks_key_declaring_an_algorithm_the_signer_does_not_allow_is_refused() {
        let mut jwk = public_jwk(&KEYS.rs256, "rsa");
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS512);
        let (field, reason) = refusal(with_jwks(vec![jwk], vec![Algorithm::RS256]));
        assert_eq!(field, "keys");
        assert!(reason.contains("RS512"), "{reason}");
    }

    #[test]
    fn a_jwks_key_declaring_its_algorithm_verifies_only_that_one() {
        let mut jwk = public_jwk(&KEYS.rs256, "rsa");
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        let signer = with_jwks(vec![jwk], vec![Algorithm::RS256, Algorithm::PS256]).compile().unwrap();
        let mut header = Header::new(Algorithm::PS256);
        header.kid = Some("rsa".to_owned());
        let token = jsonwebtoken::encode(&header, &claims_with(json!({})), &KEYS.rs256.signing).unwrap();
        assert!(matches!(signer.verify(&token, NOW), Err(Error::AlgorithmNotAllowed { .. })));
    }

    #[test]
    fn a_jwks_needs_signature_keys_with_distinct_kids() {
        let keys = &*KEYS;
        let symmetric = Jwk {
            common: CommonParameters { key_id: Some("hmac".to_owned()), ..CommonParameters::default() },
            algorithm: AlgorithmParameters::OctetKey(OctetKeyParameters {
                key_type: OctetKeyType::Octet,
                value: b64url(b"a shared secret"),
            }),
        };
        let mut no_kid = public_jwk(&keys.eddsa, "x");
        no_kid.common.key_id = None;
        let mut odd_exponent_one = vec![0xc5; 256];
        odd_exponent_one[255] |= 1;
        for (jwks, algorithms) in [
            (vec![], vec![Algorithm::ES256]),
            (vec![symmetric], vec![Algorithm::ES256]),
            (vec![public_jwk(&keys.es256, "same"), public_jwk(&keys.stranger, "same")], vec![Algorithm::ES256]),
            (vec![public_jwk(&keys.es256, "ec"), no_kid], vec![Algorithm::ES256, Algorithm::EdDSA]),
            (vec![rsa_jwk(&[0xc5; 128], &[1, 0, 1], "rsa-1024")], vec![Algorithm::RS256]),
            (vec![rsa_jwk(&odd_exponent_one, &[1], "e-is-1")], vec![Algorithm::RS256]),
        ] {
            assert_eq!(refusal(with_jwks(jwks, algorithms)).0, "keys");
        }
    }

    #[test]
    fn encryption_keys_in_a_jwks_are_left_out() {
        let mut encryption = public_jwk(&KEYS.rs256, "enc");
        encryption.common.public_key_use = Some(PublicKeyUse::Encryption);
        encryption.common.key_algorithm = Some(KeyAlgorithm::RSA_OAEP);
        // One signature key remains, so a token without kid may use it; a token naming the encryption key may not.
        let signer =
            with_jwks(vec![encryption, public_jwk(&KEYS.es256, "sig")], vec![Algorithm::ES256, Algorithm::RS256])
                .compile()
                .unwrap();
        assert!(signer.verify(&sign(&KEYS.es256, None, &claims_with(json!({}))), NOW).is_ok());
        let token = sign(&KEYS.rs256, Some("enc"), &claims_with(json!({})));
        assert!(matches!(signer.verify(&token, NOW), Err(Error::UnknownKey { .. })));
    }

    fn base64url_part() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{0,120}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_strings_never_verify_nor_panic(input in any::<String>()) {
            let result = all_keys_jwks_signer().verify(&input, NOW);
            prop_assert!(result.is_err());
            if input.chars().count() >= 16 {
                prop_assert!(!result.unwrap_err().to_string().contains(&input));
            }
        }

        #[test]
        fn dotted_base64url_strings_never_verify_nor_panic(
            header in base64url_part(),
            claims in base64url_part(),
            signature in base64url_part(),
        ) {
            let token = format!("{header}.{claims}.{signature}");
            prop_assert!(all_keys_jwks_signer().verify(&token, NOW).is_err());
        }

        #[test]
        fn plausible_headers_over_arbitrary_bytes_never_verify_nor_panic(
            alg in prop::sample::select(vec!["ES256", "ES384", "EdDSA", "RS256", "PS512", "HS256", "none", ""]),
            kid in prop::option::of(prop::sample::select(vec!["ec", "ed", "rsa", "other"])),
            claims in proptest::collection::vec(any::<u8>(), 0..200),
            signature in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let header = json!({"alg": alg, "kid": kid});
            let token = format!("{}.{}.{}", b64url(header.to_string().as_bytes()), b64url(&claims), b64url(&signature));
            prop_assert!(all_keys_jwks_signer().verify(&token, NOW).is_err());
        }

        #[test]
        fn truncated_or_altered_tokens_never_verify(
            key in 0..3usize,
            position in any::<prop::sample::Index>(),
            replacement in prop::sample::select(b"AQgw_-.9z".to_vec()),
            truncate in any::<bool>(),
        ) {
            let (test_key, kid) = [(&KEYS.es256, "ec"), (&KEYS.eddsa, "ed"), (&KEYS.rs256, "rsa")][key];
            let token = sign(test_key, Some(kid), &claims_with(json!({})));
            let at = position.index(token.len());
            let changed = if truncate {
                token[..at].to_owned()
            } else {
                let mut bytes = token.clone().into_bytes();
                prop_assume!(bytes[at] != replacement);
                bytes[at] = replacement;
                String::from_utf8(bytes).unwrap()
            };
            prop_assert!(all_keys_jwks_signer().verify(&changed, NOW).is_err());
        }
    }
}
