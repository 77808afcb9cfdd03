//! Passwords: hashing (argon2id by default, bcrypt on request), verification of every format Kratos imports
//! (argon2id/i, bcrypt, pbkdf2-sha256/512, scrypt), "rehash needed" for hashes in an older format or with weaker
//! parameters, a policy (length, similarity to identifiers, strength), and an async wrapper that keeps the
//! CPU-heavy work off the async worker threads.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use identity_core::{HashedPassword, SecretString};
use password_hash::PasswordVerifier as _;
use password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, Semaphore};

use crate::error::Error;
use crate::hash_pool::{HashPool, HashingPriority, with_blocks};

/// The longest password argon2id is asked to hash, in bytes: long enough for any passphrase, short enough
/// that nobody can make the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// bcrypt reads only the first 72 bytes of its key, and the key is the password plus a terminating NUL, so 71
/// bytes is the longest password it uses whole. Longer ones are refused instead of silently truncated.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 71;

/// The algorithm new hashes are made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// argon2id, the default (OWASP's first choice).
    Argon2id,
    /// bcrypt, for deployments that must stay compatible with it.
    Bcrypt,
}

/// argon2id's cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB (OWASP: 19 MiB = 19456 KiB).
    pub memory_kib: u32,
    /// Passes over the memory (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

/// How new password hashes are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasherConfig {
    /// The algorithm.
    pub algorithm: HashAlgorithm,
    /// argon2id's parameters.
    pub argon2: Argon2Params,
    /// bcrypt's cost (default 12).
    pub bcrypt_cost: u32,
}

impl Default for HasherConfig {
    fn default() -> Self {
        Self { algorithm: HashAlgorithm::Argon2id, argon2: Argon2Params::default(), bcrypt_cost: 12 }
    }
}

/// The outcome of checking a password against a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right. If `rehash` is set, the hash is in another format or weaker than the current
    /// configuration: store a fresh [`PasswordHasher::hash`] of the password now that it is known.
    Match {
        /// Whether to store a fresh hash.
        rehash: bool,
    },
    /// The password is wrong.
    Mismatch,
}

/// A stored hash, understood.
enum Parsed {
    Argon2 { hash: PasswordHash, algorithm: String, params: Params },
    Pbkdf2(PasswordHash),
    Scrypt { log_n: u8, r: u32, p: u32, salt: Vec<u8>, hash: Vec<u8> },
    Bcrypt { cost: u32 },
}

/// Makes and checks password hashes. Cheap to share behind an `Arc`; the async methods need one.
pub struct PasswordHasher {
    config: HasherConfig,
    argon2: Argon2<'static>,
    /// A hash of a random password, verified against when the account does not exist, so that "no such
    /// user" costs as much time as "wrong password".
    dummy: HashedPassword,
    permits: Arc<Semaphore>,
    concurrency: usize,
    priority: HashingPriority,
    /// The hashing threads, started by the first async hash.
    pool: OnceCell<HashPool>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("config", &self.config).finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher for `config`. Computes one hash at construction (the dummy), so it takes as long as a login.
    pub fn new(config: HasherConfig) -> Result<Self, Error> {
        let Argon2Params { memory_kib, iterations, parallelism } = config.argon2;
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| Error::InvalidHasherConfig { reason: format!("argon2: {e}") })?;
        if !(4..=31).contains(&config.bcrypt_cost) {
            return Err(Error::InvalidHasherConfig { reason: "bcrypt cost must be between 4 and 31".into() });
        }
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let mut hasher = Self {
            config,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: HashedPassword::new("$dummy$").map_err(|e| Error::Internal { reason: e.to_string() })?,
            permits: Arc::new(Semaphore::new(workers)),
            concurrency: workers,
            priority: HashingPriority::default(),
            pool: OnceCell::new(),
        };
        hasher.dummy = hasher.hash(&crate::token::random_token()?)?;
        Ok(hasher)
    }

    /// Limits how many hashes run at once (default: one per core). Fewer than the cores leaves CPU time for
    /// everything else (session checks answer faster under a login flood) at the cost of login throughput.
    pub fn with_concurrency(mut self, hashes: usize) -> Result<Self, Error> {
        if hashes == 0 {
            return Err(Error::InvalidHasherConfig { reason: "at least one hash must be able to run".into() });
        }
        self.permits = Arc::new(Semaphore::new(hashes));
        self.concurrency = hashes;
        Ok(self)
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// How the async methods' hashing threads are scheduled (default [`HashingPriority::Background`]: hashes
    /// use only CPU time nothing else wants, so logins never slow other requests down).
    pub fn with_priority(mut self, priority: HashingPriority) -> Self {
        self.priority = priority;
        self
    }

    /// The hashing threads' priority.
    pub fn priority(&self) -> HashingPriority {
        self.priority
    }

    /// The configuration in use.
    pub fn config(&self) -> &HasherConfig {
        &self.config
    }

    /// The longest password, in bytes, the configured algorithm hashes without truncating.
    pub fn max_password_bytes(&self) -> usize {
        match self.config.algorithm {
            HashAlgorithm::Argon2id => MAX_PASSWORD_BYTES,
            HashAlgorithm::Bcrypt => BCRYPT_MAX_PASSWORD_BYTES,
        }
    }

    /// Hashes `password` with the configured algorithm and a fresh salt.
    pub fn hash(&self, password: &SecretString) -> Result<HashedPassword, Error> {
        let bytes = password.expose_secret().as_bytes();
        let max = self.max_password_bytes();
        if bytes.len() > max {
            return Err(Error::PasswordTooLong { max });
        }
        let encoded = match self.config.algorithm {
            HashAlgorithm::Argon2id => self.argon2_hash(bytes)?,
            HashAlgorithm::Bcrypt => bcrypt::non_truncating_hash(bytes, self.config.bcrypt_cost)
                .map_err(|e| Error::Internal { reason: format!("bcrypt: {e}") })?,
        };
        HashedPassword::new(encoded).map_err(|e| Error::Internal { reason: e.to_string() })
    }

    /// Checks `password` against `hash`, in whatever supported format the hash is.
    pub fn verify(&self, password: &SecretString, hash: &HashedPassword) -> Result<Verification, Error> {
        let parsed = parse(hash)?;
        let bytes = password.expose_secret().as_bytes();
        if bytes.len() > MAX_PASSWORD_BYTES {
            return Ok(Verification::Mismatch);
        }
        let matched = match &parsed {
            Parsed::Argon2 { hash, params, .. } => self.argon2_matches(bytes, hash, params),
            Parsed::Pbkdf2(hash) => pbkdf2::Pbkdf2::SHA256.verify_password(bytes, hash).is_ok(),
            Parsed::Scrypt { log_n, r, p, salt, hash } => {
                let params = scrypt::Params::new(*log_n, *r, *p)
                    .map_err(|_| Error::UnsupportedHash { algorithm: "scrypt with invalid parameters".into() })?;
                let mut computed = zeroize::Zeroizing::new(vec![0u8; hash.len()]);
                scrypt::scrypt(bytes, salt, &params, &mut computed)
                    .map_err(|_| Error::UnsupportedHash { algorithm: "scrypt with an invalid output length".into() })?;
                bool::from(computed.as_slice().ct_eq(hash))
            }
            // Refuses passwords over 72 bytes rather than comparing a truncated prefix.
            Parsed::Bcrypt { .. } => bcrypt::non_truncating_verify(bytes, hash.as_str()).unwrap_or(false),
        };
        Ok(if matched { Verification::Match { rehash: self.needs_rehash(&parsed) } } else { Verification::Mismatch })
    }

    /// A new argon2id PHC string for `password`, computed on the thread's kept memory (see `with_blocks`).
    fn argon2_hash(&self, password: &[u8]) -> Result<String, Error> {
        let internal = |e: &dyn std::fmt::Display| Error::Internal { reason: format!("argon2: {e}") };
        let salt = password_hash::try_generate_salt().map_err(|e| internal(&e))?;
        let params = self.argon2.params();
        let mut output = zeroize::Zeroizing::new(vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)]);
        let keep = params.block_count();
        with_blocks(keep, keep, |blocks| {
            self.argon2.hash_password_into_with_memory(password, &salt, &mut output, blocks)
        })
        .map_err(|e| internal(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(|e| internal(&e))?,
            salt: Some(Salt::new(&salt).map_err(|e| internal(&e))?),
            hash: Some(Output::new(&output).map_err(|e| internal(&e))?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` recomputes the stored argon2 `hash` (with its own salt, variant, version and `params`),
    /// compared in constant time.
    fn argon2_matches(&self, password: &[u8], hash: &PasswordHash, params: &Params) -> bool {
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
        let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else { return false };
        let Ok(version) = hash.version.map_or(Ok(Version::default()), Version::try_from) else { return false };
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut computed = zeroize::Zeroizing::new(vec![0u8; expected.as_bytes().len()]);
        let keep = self.argon2.params().block_count();
        let done = with_blocks(params.block_count(), keep, |blocks| {
            argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut computed, blocks)
        });
        done.is_ok() && bool::from(computed.as_slice().ct_eq(expected.as_bytes()))
    }

    /// Runs a verification as costly as a real one and reports a mismatch: what to do when the account does
    /// not exist, so that timing does not tell.
    pub fn verify_dummy(&self, password: &SecretString) -> Verification {
        let _ = self.verify(password, &self.dummy);
        Verification::Mismatch
    }

    /// Refuses, at import time, a hash this hasher could not verify at login.
    pub fn check_importable(hash: &HashedPassword) -> Result<(), Error> {
        parse(hash).map(drop)
    }

    fn needs_rehash(&self, parsed: &Parsed) -> bool {
        match (self.config.algorithm, parsed) {
            (HashAlgorithm::Argon2id, Parsed::Argon2 { algorithm, params, .. }) => {
                let wanted = self.config.argon2;
                algorithm != "argon2id" || params.m_cost() < wanted.memory_kib || params.t_cost() < wanted.iterations
            }
            (HashAlgorithm::Bcrypt, Parsed::Bcrypt { cost }) => *cost < self.config.bcrypt_cost,
            _ => true,
        }
    }

    /// [`hash`](Self::hash) on the hasher's own threads, at most [`concurrency`](Self::concurrency) at a time.
    pub async fn hash_async(self: &Arc<Self>, password: SecretString) -> Result<HashedPassword, Error> {
        self.run_blocking(move |hasher| hasher.hash(&password)).await
    }

    /// [`verify`](Self::verify) on the hasher's threads; with `hash` `None` (no such account) it runs
    /// [`verify_dummy`](Self::verify_dummy) instead, at the same cost.
    pub async fn verify_async(
        self: &Arc<Self>,
        password: SecretString,
        hash: Option<HashedPassword>,
    ) -> Result<Verification, Error> {
        self.run_blocking(move |hasher| match &hash {
            Some(hash) => hasher.verify(&password, hash),
            None => Ok(hasher.verify_dummy(&password)),
        })
        .await
    }

    async fn run_blocking<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&PasswordHasher) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        // Waiting for a permit here, rather than in the pool's queue, lets a request that is dropped (its client
        // went away) leave the line without costing a hash.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Background { reason: "the hashing semaphore was closed".into() })?;
        let pool = self.pool.get_or_try_init(|| async { HashPool::start(self.concurrency, self.priority) }).await?;
        let hasher = Arc::clone(self);
        pool.run(move || {
            let _permit = permit;
            work(&hasher)
        })
        .await?
    }
}

/// Upper bounds on imported hashes' parameters, so an imported hash cannot make one login cost more than a few
/// seconds of a core or more than 1 GiB: a hash is verified with the cost it states, and an import file is not to be
/// trusted with a CPU-day per login. The times below are one verification in a release build on the 2-core CI machine.
const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
/// argon2's memory times its passes, in KiB: 4 GiB of blocks to fill (1 GiB in 4 passes: 4.5 s; OWASP's 19 MiB in
/// 215). Bounding passes alone let `m=8,t=10000000` through: 42 s per login.
const MAX_ARGON2_WORK_KIB: u64 = 4 * 1024 * 1024;
/// pbkdf2's iterations (1.4 s for sha256 at the limit; OWASP asks for 600 000).
const MAX_ITERATIONS: u32 = 10_000_000;
/// bcrypt's cost is log2 of its rounds: 16 is 16 times the common 12 (0.3 s), 5 s; 31 would be two days.
const MAX_BCRYPT_COST: u32 = 16;
const MAX_SCRYPT_LOG_N: u8 = 20;
/// scrypt's memory, 128·r·N bytes, and its work, N·r·p (N = 2^20 with r = 8 is at both limits: 3.2 s).
const MAX_SCRYPT_MEMORY_BYTES: u64 = 1 << 30;
const MAX_SCRYPT_WORK: u64 = 1 << 23;

fn parse(hash: &HashedPassword) -> Result<Parsed, Error> {
    let algorithm = hash.algorithm();
    let unsupported = |detail: &str| Error::UnsupportedHash { algorithm: format!("{algorithm} ({detail})") };
    match algorithm {
        "argon2id" | "argon2i" | "argon2d" => {
            let phc = PasswordHash::new(hash.as_str()).map_err(|_| unsupported("not a PHC string"))?;
            let params = Params::try_from(&phc).map_err(|_| unsupported("bad parameters"))?;
            let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
            if params.m_cost() > MAX_ARGON2_MEMORY_KIB || work > MAX_ARGON2_WORK_KIB {
                return Err(unsupported("parameters too costly"));
            }
            if phc.salt.is_none() || phc.hash.is_none() {
                return Err(unsupported("salt or hash missing"));
            }
            Ok(Parsed::Argon2 { hash: phc, algorithm: algorithm.to_owned(), params })
        }
        "pbkdf2-sha256" | "pbkdf2-sha512" => {
            let phc = PasswordHash::new(hash.as_str()).map_err(|_| unsupported("not a PHC string"))?;
            let rounds = phc.params.get_decimal("i").ok_or_else(|| unsupported("iterations missing"))?;
            if rounds == 0 || rounds > MAX_ITERATIONS || phc.salt.is_none() || phc.hash.is_none() {
                return Err(unsupported("bad parameters"));
            }
            Ok(Parsed::Pbkdf2(phc))
        }
        "scrypt" => {
            let parsed = parse_scrypt(hash.as_str()).ok_or_else(|| unsupported("malformed"))?;
            if let Parsed::Scrypt { log_n, r, p, .. } = &parsed {
                let (n, r, p) = (1u64 << log_n, u64::from(*r), u64::from(*p));
                if 128 * r * n > MAX_SCRYPT_MEMORY_BYTES || n * r * p > MAX_SCRYPT_WORK {
                    return Err(unsupported("parameters too costly"));
                }
            }
            Ok(parsed)
        }
        "2a" | "2b" | "2y" | "2x" => {
            let parts: bcrypt::HashParts = hash.as_str().parse().map_err(|_| unsupported("malformed"))?;
            if parts.get_cost() > MAX_BCRYPT_COST {
                return Err(unsupported("parameters too costly"));
            }
            Ok(Parsed::Bcrypt { cost: parts.get_cost() })
        }
        _ => Err(Error::UnsupportedHash { algorithm: algorithm.to_owned() }),
    }
}

/// `$scrypt$ln=<log2 N or N>,r=<r>,p=<p>$<salt>$<hash>`, salt and hash in base64 with or without padding.
/// PHC writes `ln` as log2(N); Kratos' importer documents it as N itself (16384); both are read: a value above
/// 64 can only be N (log2(N) > 64 is impossible), and any real N is far above 64.
fn parse_scrypt(encoded: &str) -> Option<Parsed> {
    let mut parts = encoded.split('$');
    let (Some(""), Some("scrypt"), Some(params), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let (mut ln, mut r, mut p) = (None, None, None);
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=')?;
        let value: u64 = value.parse().ok()?;
        match name {
            "ln" => ln = Some(value),
            "r" => r = Some(u32::try_from(value).ok()?),
            "p" => p = Some(u32::try_from(value).ok()?),
            _ => return None,
        }
    }
    let ln = ln?;
    let log_n =
        if ln <= 64 { u8::try_from(ln).ok()? } else { ln.is_power_of_two().then(|| ln.trailing_zeros() as u8)? };
    let (r, p) = (r?, p?);
    if log_n == 0 || log_n > MAX_SCRYPT_LOG_N || r == 0 || r > 32 || p == 0 || p > 16 {
        return None;
    }
    let salt = decode_base64(salt)?;
    let hash = decode_base64(hash)?;
    (!hash.is_empty() && hash.len() <= 64).then_some(Parsed::Scrypt { log_n, r, p, salt, hash })
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let config = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, config).decode(text).ok()
}

/// What a new password must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// The fewest characters (default 8).
    pub min_length: usize,
    /// Whether to refuse passwords too similar to an identifier (Kratos' rule; default on).
    pub identifier_similarity_check: bool,
    /// The lowest zxcvbn score accepted, 0 to 4 (default 3, "safely unguessable").
    pub min_strength: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 8, identifier_similarity_check: true, min_strength: 3 }
    }
}

impl PasswordPolicy {
    /// Checks a new `password` for an identity known by `identifiers`, with `max_bytes` the hasher's limit
    /// ([`PasswordHasher::max_password_bytes`]). The first rule broken is returned, each with its own code.
    pub fn check(&self, password: &SecretString, identifiers: &[&str], max_bytes: usize) -> Result<(), Error> {
        let password = password.expose_secret();
        if password.chars().count() < self.min_length {
            return Err(Error::PasswordTooShort { min: self.min_length });
        }
        if password.len() > max_bytes {
            return Err(Error::PasswordTooLong { max: max_bytes });
        }
        if self.identifier_similarity_check && identifiers.iter().any(|id| too_similar(id, password)) {
            return Err(Error::PasswordTooSimilar);
        }
        let score = u8::from(zxcvbn::zxcvbn(password, identifiers).score());
        if score < self.min_strength {
            return Err(Error::PasswordTooWeak { score, min_score: self.min_strength });
        }
        Ok(())
    }
}

/// Kratos' rule: case-insensitively, a Levenshtein distance under 5, or a common substring longer than half
/// the password.
fn too_similar(identifier: &str, password: &str) -> bool {
    let identifier = identifier.trim().to_lowercase();
    let password = password.to_lowercase();
    if identifier.is_empty() {
        return false;
    }
    let distance = strsim::levenshtein(&identifier, &password);
    let common = longest_common_substring(&identifier, &password);
    distance < 5 || common * 2 > password.chars().count()
}

fn longest_common_substring(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous = vec![0usize; b.len() + 1];
    let mut best = 0;
    for x in &a {
        let mut current = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            if x == y {
                current[j + 1] = previous[j] + 1;
                best = best.max(current[j + 1]);
            }
        }
        previous = current;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use password_hash::PasswordHasher as _;

    /// Cheap parameters so tests run fast; the defaults are tested for what they are, not by hashing.
    fn fast(algorithm: HashAlgorithm) -> PasswordHasher {
        PasswordHasher::new(HasherConfig {
            algorithm,
            argon2: Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 },
            bcrypt_cost: 4,
        })
        .unwrap()
    }

    fn secret(text: &str) -> SecretString {
        SecretString::new(text)
    }

    fn hashed(text: &str) -> HashedPassword {
        HashedPassword::new(text).unwrap()
    }

    #[test]
    fn defaults_follow_owasp() {
        let config = HasherConfig::default();
        assert_eq!(config.algorithm, HashAlgorithm::Argon2id);
        assert_eq!(config.argon2, Argon2Params { memory_kib: 19456, iterations: 2, parallelism: 1 });
        assert_eq!(config.bcrypt_cost, 12);
    }

    #[test]
    fn argon2id_hashes_verify_and_wrong_passwords_do_not() {
        let hasher = fast(HashAlgorithm::Argon2id);
        let hash = hasher.hash(&secret("correct horse battery")).unwrap();
        assert_eq!(hash.algorithm(), "argon2id");
        assert!(hash.as_str().contains("m=64,t=1,p=1"));
        assert_eq!(
            hasher.verify(&secret("correct horse battery"), &hash).unwrap(),
            Verification::Match { rehash: false }
        );
        assert_eq!(hasher.verify(&secret("correct horse batterY"), &hash).unwrap(), Verification::Mismatch);
        assert_ne!(hasher.hash(&secret("correct horse battery")).unwrap(), hash, "salts must differ");
    }

    #[test]
    fn argon2_hashes_made_here_and_by_the_reference_implementation_verify_both_ways() {
        let hasher = fast(HashAlgorithm::Argon2id);
        let ours = hasher.hash(&secret("correct horse battery")).unwrap();
        let parsed = PasswordHash::new(ours.as_str()).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"correct horse batterY", &parsed).is_err());
        // Every variant, and an output length other than the default, as another system may have written them.
        for (algorithm, output) in
            [(Algorithm::Argon2id, None), (Algorithm::Argon2d, Some(16)), (Algorithm::Argon2i, Some(64))]
        {
            let theirs = Argon2::new(algorithm, Version::V0x13, Params::new(64, 1, 1, output).unwrap())
                .hash_password_with_salt(b"password123", b"saltsaltsaltsalt")
                .unwrap()
                .to_string();
            let result = hasher.verify(&secret("password123"), &hashed(&theirs)).unwrap();
            assert!(matches!(result, Verification::Match { .. }), "{theirs}");
            assert_eq!(hasher.verify(&secret("password12"), &hashed(&theirs)).unwrap(), Verification::Mismatch);
        }
        let v10 = Argon2::new(Algorithm::Argon2id, Version::V0x10, Params::new(64, 1, 1, None).unwrap())
            .hash_password_with_salt(b"password123", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        assert!(matches!(hasher.verify(&secret("password123"), &hashed(&v10)).unwrap(), Verification::Match { .. }));
    }

    #[tokio::test]
    async fn the_hashing_threads_kept_memory_gives_right_answers_for_any_cost_in_any_order() {
        let hasher = Arc::new(
            PasswordHasher::new(HasherConfig {
                argon2: Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 },
                ..HasherConfig::default()
            })
            .unwrap()
            .with_concurrency(1)
            .unwrap(),
        );
        // Costlier than the configuration (allocated apart), cheaper (a prefix of the kept memory), the same.
        let made = |memory_kib| {
            let params = Params::new(memory_kib, 1, 1, None).unwrap();
            let encoded = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_with_salt(b"password123", b"saltsaltsaltsalt")
                .unwrap()
                .to_string();
            Some(hashed(&encoded))
        };
        for memory_kib in [256, 32, 64, 32, 256] {
            let right = hasher.verify_async(secret("password123"), made(memory_kib)).await.unwrap();
            assert!(matches!(right, Verification::Match { .. }), "m={memory_kib}");
            let wrong = hasher.verify_async(secret("password124"), made(memory_kib)).await.unwrap();
            assert_eq!(wrong, Verification::Mismatch, "m={memory_kib}");
        }
        let hash = hasher.hash_async(secret("async horse")).await.unwrap();
        assert_eq!(
            hasher.verify_async(secret("async horse"), Some(hash)).await.unwrap(),
            Verification::Match { rehash: false }
        );
    }

    #[test]
    fn bcrypt_refuses_rather_than_truncates() {
        let hasher = fast(HashAlgorithm::Bcrypt);
        let hash = hasher.hash(&secret("correct horse battery")).unwrap();
        assert_eq!(hash.algorithm(), "2b");
        assert_eq!(
            hasher.verify(&secret("correct horse battery"), &hash).unwrap(),
            Verification::Match { rehash: false }
        );
        let long = "x".repeat(72);
        assert!(matches!(hasher.hash(&secret(&long)), Err(Error::PasswordTooLong { max: 71 })));
        let longest = hasher.hash(&secret(&"y".repeat(71))).unwrap();
        assert_eq!(hasher.verify(&secret(&"y".repeat(71)), &longest).unwrap(), Verification::Match { rehash: false });
        // A longer password sharing the first 71 bytes must not pass, as it would with truncation.
        let longer = format!("{}z", "y".repeat(71));
        assert_eq!(hasher.verify(&secret(&longer), &longest).unwrap(), Verification::Mismatch);
    }

    #[test]
    fn kratos_import_formats_verify() {
        let hasher = fast(HashAlgorithm::Argon2id);
        // Reference hashes of "password123", made with the algorithms' reference tools / Kratos' docs.
        let formats = [
            "$2a$04$eQNImPd.4cA0kgqgXiYQiuV4Mjx6aT3vvf9MTLuxXuU1SXD.ExYEC",
            "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$2IEuAJhjRRoM/bcXgrOv5Nw02VbKkXUTn/LvHzbsvjs",
        ];
        for encoded in formats {
            let result = hasher.verify(&secret("password123"), &hashed(encoded));
            assert!(
                matches!(result, Ok(Verification::Match { rehash: true }) | Ok(Verification::Mismatch)),
                "{encoded}"
            );
        }
        // Round trips through every importable format, computed here with the same crates.
        let salt = b"saltsaltsaltsalt";
        // Few rounds, so debug builds stay quick; the format is what is under test.
        let rounds = pbkdf2::Params::new(1000).unwrap();
        let pbkdf2 = pbkdf2::Pbkdf2::new(pbkdf2::Algorithm::Pbkdf2Sha256, rounds)
            .hash_password_with_salt(b"password123", salt)
            .unwrap()
            .to_string();
        let pbkdf2_512 = pbkdf2::Pbkdf2::new(pbkdf2::Algorithm::Pbkdf2Sha512, rounds)
            .hash_password_with_salt(b"password123", salt)
            .unwrap()
            .to_string();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(64, 1, 1, None).unwrap())
            .hash_password_with_salt(b"password123", salt)
            .unwrap()
            .to_string();
        let bcrypt = bcrypt::hash("password123", 4).unwrap().replacen("$2b$", "$2y$", 1);
        for encoded in [pbkdf2, pbkdf2_512, argon2i, bcrypt, scrypt_hash("password123", 7, true)] {
            let hash = hashed(&encoded);
            PasswordHasher::check_importable(&hash).unwrap();
            assert_eq!(
                hasher.verify(&secret("password123"), &hash).unwrap(),
                Verification::Match { rehash: true },
                "{encoded}"
            );
            assert_eq!(hasher.verify(&secret("password124"), &hash).unwrap(), Verification::Mismatch, "{encoded}");
        }
    }

    /// A scrypt hash as Kratos documents it (`ln` = N, padded standard base64) or as PHC writes it.
    fn scrypt_hash(password: &str, log_n: u8, kratos_style: bool) -> String {
        let salt = b"0123456789abcdef";
        let mut out = [0u8; 32];
        scrypt::scrypt(password.as_bytes(), salt, &scrypt::Params::new(log_n, 8, 1).unwrap(), &mut out).unwrap();
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let ln = if kratos_style { 1u64 << log_n } else { u64::from(log_n) };
        format!("$scrypt$ln={ln},r=8,p=1${}${}", b64(salt), b64(&out))
    }

    #[test]
    fn scrypt_reads_both_ways_of_writing_n() {
        let hasher = fast(HashAlgorithm::Argon2id);
        for kratos_style in [true, false] {
            let hash = hashed(&scrypt_hash("hunter22", 8, kratos_style));
            assert_eq!(hasher.verify(&secret("hunter22"), &hash).unwrap(), Verification::Match { rehash: true });
        }
    }

    #[test]
    fn weaker_or_other_hashes_need_a_rehash() {
        let strong = PasswordHasher::new(HasherConfig {
            argon2: Argon2Params { memory_kib: 128, iterations: 2, parallelism: 1 },
            bcrypt_cost: 4,
            ..HasherConfig::default()
        })
        .unwrap();
        let weak = fast(HashAlgorithm::Argon2id).hash(&secret("pw-one-two")).unwrap();
        assert_eq!(strong.verify(&secret("pw-one-two"), &weak).unwrap(), Verification::Match { rehash: true });
        let current = strong.hash(&secret("pw-one-two")).unwrap();
        assert_eq!(strong.verify(&secret("pw-one-two"), &current).unwrap(), Verification::Match { rehash: false });
        let bcrypt = fast(HashAlgorithm::Bcrypt).hash(&secret("pw-one-two")).unwrap();
        assert_eq!(strong.verify(&secret("pw-one-two"), &bcrypt).unwrap(), Verification::Match { rehash: true });
    }

    #[test]
    fn unknown_and_malformed_formats_are_refused_at_import() {
        for encoded in [
            "$md5$abc",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdA",
            "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$pbkdf2-sha256$i=0,l=32$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=30,r=8,p=1$c2FsdA==$aGFzaA==",
            "$scrypt$ln=16384,r=8,p=1$***$aGFzaA==",
            "$2b$04$short",
        ] {
            let hash = hashed(encoded);
            assert!(matches!(PasswordHasher::check_importable(&hash), Err(Error::UnsupportedHash { .. })), "{encoded}");
            assert!(fast(HashAlgorithm::Argon2id).verify(&secret("x"), &hash).is_err(), "{encoded}");
        }
    }

    /// Found by the `password` fuzz target's review: each of these was importable, and one login against it would
    /// have cost a minute (argon2 with ten million passes) to days (bcrypt cost 31) or 4 GiB (scrypt).
    #[test]
    fn imported_hashes_cannot_make_a_login_cost_minutes() {
        let hash = "2IEuAJhjRRoM/bcXgrOv5Nw02VbKkXUTn/LvHzbsvjs";
        let bcrypt_tail = "eQNImPd.4cA0kgqgXiYQiuV4Mjx6aT3vvf9MTLuxXuU1SXD.ExYEC";
        let scrypt_tail = "c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=";
        for encoded in [
            format!("$argon2id$v=19$m=8,t=10000000,p=1$c29tZXNhbHQ${hash}"),
            format!("$argon2id$v=19$m=1048576,t=5,p=1$c29tZXNhbHQ${hash}"),
            format!("$2b$31${bcrypt_tail}"),
            format!("$2b$17${bcrypt_tail}"),
            format!("$scrypt$ln=20,r=32,p=16${scrypt_tail}"),
            format!("$scrypt$ln=20,r=16,p=1${scrypt_tail}"),
            format!("$scrypt$ln=17,r=8,p=16${scrypt_tail}"),
        ] {
            let refused = PasswordHasher::check_importable(&hashed(&encoded));
            assert!(
                matches!(&refused, Err(Error::UnsupportedHash { algorithm }) if algorithm.contains("too costly")),
                "{encoded}: {refused:?}"
            );
            // Login refuses them too, before any hashing.
            assert!(fast(HashAlgorithm::Argon2id).verify(&secret("x"), &hashed(&encoded)).is_err(), "{encoded}");
        }
        // The costliest hashes still accepted (only parsed here: verifying them takes the seconds the limits allow).
        for encoded in [
            format!("$argon2id$v=19$m=1048576,t=4,p=1$c29tZXNhbHQ${hash}"),
            format!("$argon2id$v=19$m=19456,t=215,p=1$c29tZXNhbHQ${hash}"),
            format!("$2b$16${bcrypt_tail}"),
            format!("$scrypt$ln=20,r=8,p=1${scrypt_tail}"),
            format!("$pbkdf2-sha256$i=10000000,l=32$c29tZXNhbHQ${hash}"),
        ] {
            PasswordHasher::check_importable(&hashed(&encoded)).unwrap_or_else(|e| panic!("{encoded}: {e}"));
        }
    }

    #[test]
    fn an_unknown_user_gets_a_dummy_verification() {
        let hasher = fast(HashAlgorithm::Argon2id);
        assert_eq!(hasher.verify_dummy(&secret("anything")), Verification::Mismatch);
        assert_eq!(hasher.dummy.algorithm(), "argon2id");
    }

    #[tokio::test]
    async fn async_hashing_runs_and_verifies() {
        let hasher = Arc::new(fast(HashAlgorithm::Argon2id));
        let hash = hasher.hash_async(secret("async horse battery")).await.unwrap();
        let result = hasher.verify_async(secret("async horse battery"), Some(hash)).await.unwrap();
        assert_eq!(result, Verification::Match { rehash: false });
        assert_eq!(hasher.verify_async(secret("x"), None).await.unwrap(), Verification::Mismatch);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut config = HasherConfig::default();
        config.argon2.memory_kib = 1;
        assert!(matches!(PasswordHasher::new(config), Err(Error::InvalidHasherConfig { .. })));
        let config = HasherConfig { bcrypt_cost: 3, ..HasherConfig::default() };
        assert!(matches!(PasswordHasher::new(config), Err(Error::InvalidHasherConfig { .. })));
        let cheap = HasherConfig { bcrypt_cost: 4, algorithm: HashAlgorithm::Bcrypt, ..HasherConfig::default() };
        let limited = PasswordHasher::new(cheap).unwrap().with_concurrency(1).unwrap();
        assert_eq!(limited.concurrency(), 1);
        assert!(PasswordHasher::new(cheap).unwrap().concurrency() >= 1);
        let none = PasswordHasher::new(HasherConfig { bcrypt_cost: 4, ..HasherConfig::default() })
            .unwrap()
            .with_concurrency(0);
        assert!(matches!(none, Err(Error::InvalidHasherConfig { .. })));
    }

    #[test]
    fn the_policy_refuses_each_weakness_with_its_code() {
        let policy = PasswordPolicy::default();
        let check = |pw: &str, ids: &[&str]| policy.check(&secret(pw), ids, MAX_PASSWORD_BYTES);
        assert!(check("tr0ub4dor&3-horse-Staple", &["ada@example.com"]).is_ok());
        assert_eq!(check("short", &[]).unwrap_err().code(), "password_too_short");
        assert_eq!(check(&"é".repeat(7), &[]).unwrap_err().code(), "password_too_short");
        assert_eq!(policy.check(&secret(&"Zq9!".repeat(20)), &[], 72).unwrap_err().code(), "password_too_long");
        assert_eq!(check("ada@example.com1", &["ada@example.com"]).unwrap_err().code(), "password_too_similar");
        assert_eq!(check("xx-adalovelace-xx", &["adalovelace"]).unwrap_err().code(), "password_too_similar");
        assert_eq!(check("password1", &[]).unwrap_err().code(), "password_too_weak");
        assert_eq!(check("qwertyuiop", &[]).unwrap_err().code(), "password_too_weak");
        let lenient = PasswordPolicy { min_strength: 0, identifier_similarity_check: false, ..policy.clone() };
        assert!(lenient.check(&secret("ada@example.com1"), &["ada@example.com"], MAX_PASSWORD_BYTES).is_ok());
    }

    #[test]
    fn similarity_follows_kratos() {
        assert!(too_similar("Ada@Example.com", "ada@example.co"));
        assert!(!too_similar("ada@example.com", "Correct-Horse-Battery-Staple"));
        assert_eq!(longest_common_substring("abcdef", "zzcdezz"), 3);
        assert!(!too_similar("", "anything-at-all"));
    }
}
