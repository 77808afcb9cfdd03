//! Everything a request handler or CLI command needs, assembled once from the configuration: the store, the
//! schemas, sessions, authenticator, self-service flows and admin operations, and the keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use identity_auth::{
    Admin, AdminParts, Argon2Params, Authenticator, CipherKey, HashAlgorithm, HasherConfig, LookupSecrets,
    PasswordHasher, PasswordPolicy, RateLimit, SecretCipher, SelfService, SelfServiceParts, SelfServiceSettings,
    SessionSettings, Sessions, TotpSettings, TotpVerifier,
};
use identity_core::{Clock, SecretBytes, SystemClock};
use identity_schema::{IdentitySchema, SchemaRegistry};
use identity_store::sql::{SqlOptions, SqlStore};
use identity_store::{MemoryStore, Store};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::courier::{LogCourier, SmtpCourier};

/// The email-and-password schema used when the configuration names none.
pub const DEFAULT_SCHEMA: &str = include_str!("default.schema.json");

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store could not be opened or migrated.
    #[error("the store: {0}")]
    Store(#[from] identity_store::Error),
    /// A schema could not be loaded.
    #[error("identity schema: {0}")]
    Schema(#[from] identity_schema::Error),
    /// A component refused its settings.
    #[error("{0}")]
    Auth(#[from] identity_auth::Error),
    /// The OAuth2 provider could not start (its signing keys).
    #[error("the OAuth2 provider: {0}")]
    OAuth2(#[from] identity_oidc::Error),
    /// The built-in roles could not be seeded.
    #[error("seeding the built-in roles: {0}")]
    Rbac(#[from] identity_rbac::Error),
    /// The development secrets file could not be read or written.
    #[error("development secrets at {path}: {reason}")]
    Secrets {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// The assembled server.
pub struct AppState {
    /// The configuration in force.
    pub config: Config,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The identity schemas.
    pub schemas: Arc<SchemaRegistry>,
    /// Sessions.
    pub sessions: Arc<Sessions>,
    /// Self-service flows.
    pub flows: Arc<SelfService>,
    /// Admin operations.
    pub admin: Arc<Admin>,
    /// The public base URL.
    pub public_url: String,
    /// The OAuth2/OIDC provider; its issuer is the public base URL and its signing keys live in the store.
    pub oauth2: Arc<identity_oidc::Provider>,
    /// Seals secrets at rest (TOTP, signing keys, upstream client secrets).
    pub cipher: Arc<SecretCipher>,
    /// What `/metrics` shows.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The access rules `/decisions` applies, if configured.
    pub access_rules: Option<crate::decisions::AccessRules>,
    /// Organization ACLs, for rules that authorize by scope.
    pub acls: identity_rbac::Acls,
    /// The ids of the built-in roles, seeded into the store at start.
    pub builtin_roles: identity_rbac::BuiltinRoles,
    /// Enrollments, their CAs and certificate login.
    pub certificates: crate::certificates::Certificates,
    /// Sign-in at upstream identity providers.
    pub federation: Arc<crate::federation::Upstreams>,
}

/// What a store-opening step decides: whether to migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrations {
    /// Apply pending migrations (`serve`, `migrate`).
    Apply,
    /// Only check the schema version (admin commands on a database the server owns).
    Check,
}

/// Opens the store `config.dsn` names, with the pool `config.database` describes.
pub async fn open_store(config: &Config, migrations: Migrations) -> Result<Arc<dyn Store>, StartError> {
    let dsn = config.dsn.as_str();
    if dsn == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    let mut options = SqlOptions::new(dsn);
    options.max_connections = config.database.max_connections;
    options.acquire_timeout = config.database.acquire_timeout();
    let store = SqlStore::connect(&options).await?;
    match migrations {
        Migrations::Apply => store.migrate().await?,
        Migrations::Check => store.check_schema().await?,
    }
    Ok(Arc::new(store))
}

/// The default authentication policy, with the account lockout `throttling` asks for.
fn account_policy(throttling: &crate::config::Throttling) -> identity_core::AuthenticationPolicy {
    let mut policy = identity_core::AuthenticationPolicy::default();
    let password = &mut policy.primary.password;
    password.max_attempts = (throttling.max_failures_per_account > 0).then_some(throttling.max_failures_per_account);
    // Policies count lockouts in whole minutes; a partial minute is rounded up, so a lockout is never shorter.
    let lockout = throttling.lockout.parse().unwrap_or(identity_core::time::Duration::minutes(15));
    let minutes = (lockout.whole_seconds() + 59) / 60;
    password.lockout_duration_minutes = u32::try_from(minutes).unwrap_or(u32::MAX).max(1);
    policy
}

/// The keys in force: configured, or development keys kept next to the SQLite file.
struct Keys {
    cipher: Vec<String>,
    codes: String,
}

impl AppState {
    /// Assembles the server over `store` as `config` says.
    pub async fn new(config: Config, store: Arc<dyn Store>) -> Result<Self, StartError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let keys = keys(&config)?;
        let schemas = Arc::new(schemas(&config)?);
        let hasher = PasswordHasher::new(HasherConfig {
            algorithm: if config.hashers.algorithm == "bcrypt" {
                HashAlgorithm::Bcrypt
            } else {
                HashAlgorithm::Argon2id
            },
            argon2: Argon2Params {
                memory_kib: config.hashers.argon2.memory_kib,
                iterations: config.hashers.argon2.iterations,
                parallelism: config.hashers.argon2.parallelism,
            },
            bcrypt_cost: config.hashers.bcrypt_cost,
        })?;
        let hasher = match config.hashers.concurrency {
            Some(hashes) => hasher.with_concurrency(hashes)?,
            None => hasher,
        };
        let hasher = Arc::new(hasher.with_priority(config.hashers.priority));
        let cipher_keys = keys
            .cipher
            .iter()
            .map(|key| {
                let bytes = derive(b"cipher", key);
                // The id comes from the key itself, so reordering the list does not orphan sealed secrets.
                CipherKey::new(bytes[0], &SecretBytes::new(bytes.to_vec()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cipher = Arc::new(SecretCipher::new(cipher_keys)?);
        let totp = TotpVerifier::new(TotpSettings::default(), cipher.clone())?;
        let lookup = LookupSecrets::new(SecretBytes::new(derive(b"lookup", &keys.codes).to_vec()))?;
        let parse =
            |text: &crate::config::DurationText| text.parse().unwrap_or(identity_core::time::Duration::hours(1));
        let address_limit = (config.throttling.max_failures_per_address > 0).then(|| RateLimit {
            max_failures: config.throttling.max_failures_per_address,
            window: parse(&config.throttling.window),
        });
        let mut authenticator = Authenticator::new(store.clone(), clock.clone(), hasher.clone())
            .with_totp(totp)
            .with_lookup_secrets(lookup)
            .with_address_limit(address_limit)?
            .with_policies(identity_auth::Policies::new(account_policy(&config.throttling), vec![])?);
        if let Some(mtls) = &config.serve.mtls {
            authenticator = authenticator.with_certificates(client_cas(&mtls.client_ca_file)?);
        }
        let authenticator = Arc::new(authenticator);
        let sessions = Arc::new(Sessions::new(
            store.clone(),
            clock.clone(),
            SessionSettings {
                lifespan: parse(&config.session.lifespan),
                earliest_possible_extend: parse(&config.session.lifespan),
                privileged_max_age: parse(&config.session.privileged_max_age),
                enforce_mfa: config.session.enforce_mfa,
            },
        )?);
        let public_url = config.public_url();
        let mut settings = SelfServiceSettings::default();
        settings.flows.lifespan = parse(&config.selfservice.flow_lifespan);
        settings.flows.public_url = public_url.clone();
        settings.session_after_registration = config.selfservice.session_after_registration;
        settings.code_lifespan = parse(&config.selfservice.code_lifespan);
        let flows = Arc::new(SelfService::new(
            SelfServiceParts {
                store: store.clone(),
                clock: clock.clone(),
                authenticator: authenticator.clone(),
                sessions: sessions.clone(),
                schemas: schemas.clone(),
                courier: courier(&config)?,
                code_key: SecretBytes::new(derive(b"codes", &keys.codes).to_vec()),
            },
            settings,
        )?);
        let certificates = crate::certificates::Certificates::new(
            &config,
            crate::certificates::Parts {
                store: store.clone(),
                clock: clock.clone(),
                hasher: hasher.clone(),
                signing_key: SecretBytes::new(derive(b"enrollments", &keys.codes).to_vec()),
                public_url: public_url.clone(),
            },
        )?;
        let admin = Arc::new(Admin::new(AdminParts {
            store: store.clone(),
            clock: clock.clone(),
            sessions: sessions.clone(),
            hasher,
            schemas: schemas.clone(),
            self_service: flows.clone(),
            enrollments: Some(certificates.enrollments.clone()),
            password_policy: PasswordPolicy::default(),
        }));
        // Replicas starting together on one store end up with one key set (see `KeySet::load_or_create`).
        let signing_keys =
            identity_oidc::KeySet::load_or_create(store.as_ref(), &cipher, identity_oidc::SigningAlgorithm::ES256)
                .await?;
        let mut oauth2 = identity_oidc::Provider::new(
            store.clone(),
            clock.clone(),
            signing_keys,
            identity_oidc::ProviderSettings::new(public_url.clone()),
        )
        // A token signed by a key another replica just rotated to is verified at once, not after the next reload.
        .with_key_refresh(cipher.clone(), identity_core::time::Duration::seconds(1));
        if config.serve.mtls.is_some() {
            oauth2 = oauth2.with_certificate_authentication(authenticator);
        }
        let oauth2 = Arc::new(oauth2);
        let metrics = Arc::default();
        let access_rules = match &config.access_rules {
            Some(rules) => Some(crate::decisions::AccessRules::load(
                rules.file.clone(),
                identity_rbac::RulesConfig { login_url: rules.login_url.clone(), unmatched: rules.unmatched },
            )?),
            None => None,
        };
        // Idempotent and safe for replicas starting together; roles an operator changed are left as they are.
        let builtin_roles = identity_rbac::seed(store.as_ref()).await?;
        crate::rbac_seed::apply(store.as_ref(), &config.rbac.seed).await?;
        let acls = identity_rbac::Acls::new(store.clone(), config.rbac.platform_administrators(&builtin_roles));
        let federation = Arc::new(crate::federation::Upstreams::new(
            &config.federation,
            store.clone(),
            admin.clone(),
            cipher.clone(),
            clock.clone(),
        )?);
        Ok(Self {
            config,
            store,
            clock,
            schemas,
            sessions,
            flows,
            admin,
            public_url,
            oauth2,
            cipher,
            metrics,
            access_rules,
            acls,
            builtin_roles,
            certificates,
            federation,
        })
    }
}

/// The CAs that issue the client certificates the mutual-TLS listener accepts, as identity-auth verifies them.
fn client_cas(path: &std::path::Path) -> Result<identity_auth::CertificateVerifier, StartError> {
    let pem = std::fs::read_to_string(path).map_err(|e| crate::config::ConfigError::Field {
        path: "serve.mtls.client_ca_file".into(),
        message: format!("{}: {e}", path.display()),
    })?;
    Ok(identity_auth::CertificateVerifier::from_pem(&pem)?)
}

/// The configured courier: SMTP, or the log courier for development.
fn courier(config: &Config) -> Result<Arc<dyn identity_auth::Courier>, StartError> {
    match &config.courier.smtp {
        Some(smtp) => {
            let courier = SmtpCourier::start(&smtp.connection_uri, &smtp.from_address)
                .map_err(|message| crate::config::ConfigError::Field { path: "courier.smtp".into(), message })?;
            Ok(Arc::new(courier))
        }
        None => Ok(Arc::new(LogCourier)),
    }
}

/// 32 bytes for `purpose` from a configured key.
fn derive(purpose: &[u8], key: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(purpose);
    hash.update(b":");
    hash.update(key.as_bytes());
    hash.finalize().into()
}

fn schemas(config: &Config) -> Result<SchemaRegistry, StartError> {
    if config.identity.schemas.is_empty() {
        let schema = IdentitySchema::from_json_str(config.identity.default_schema_id.clone(), DEFAULT_SCHEMA)?;
        return Ok(SchemaRegistry::new(schema));
    }
    let loaded = config
        .identity
        .schemas
        .iter()
        .map(|location| IdentitySchema::load(location.id.clone(), &location.url))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SchemaRegistry::from_schemas(&config.identity.default_schema_id, loaded)?)
}

/// The configured keys, or development keys: generated once, kept next to the SQLite file (or in memory for the
/// memory store), announced loudly. PostgreSQL deployments must configure their keys (replicas must share them).
fn keys(config: &Config) -> Result<Keys, StartError> {
    if !config.secrets.cookie.is_empty() {
        // Accepted so that Kratos configurations load; nothing to sign, since cookies carry opaque tokens.
        tracing::warn!(
            "`secrets.cookie` is not used: session and CSRF cookies carry random tokens that the store keeps only \
             as hashes, so they need no signing key"
        );
    }
    if !config.secrets.cipher.is_empty() && config.secrets.codes.is_some() {
        return Ok(Keys {
            cipher: config.secrets.cipher.clone(),
            codes: config.secrets.codes.clone().unwrap_or_default(),
        });
    }
    let file = sqlite_path(&config.dsn).map(|path| {
        let mut name = path.as_os_str().to_owned();
        name.push(".secrets.json");
        PathBuf::from(name)
    });
    if config.dsn.starts_with("postgres") {
        return Err(crate::config::ConfigError::Field {
            path: "secrets".into(),
            message: "configure `secrets.cipher` and `secrets.codes` for PostgreSQL (every replica needs the same)"
                .into(),
        }
        .into());
    }
    let development = match &file {
        Some(path) => development_keys(path)?,
        None => fresh_development_keys(),
    };
    tracing::warn!(
        file = ?file,
        "USING DEVELOPMENT SECRETS: generated on first start and kept next to the database. Configure \
         `secrets.cipher` and `secrets.codes` before serving real users."
    );
    let cipher = if config.secrets.cipher.is_empty() { development.cipher } else { config.secrets.cipher.clone() };
    Ok(Keys { cipher, codes: config.secrets.codes.clone().unwrap_or(development.codes) })
}

fn fresh_development_keys() -> Keys {
    let random = || match identity_auth::random_bytes(32) {
        Ok(bytes) => STANDARD.encode(bytes.expose_secret()),
        // Without randomness nothing secure can start; a fixed key would be worse than the error below.
        Err(_) => String::new(),
    };
    Keys { cipher: vec![random()], codes: random() }
}

fn development_keys(path: &Path) -> Result<Keys, StartError> {
    let failed = |reason: String| StartError::Secrets { path: path.to_owned(), reason };
    if let Ok(text) = std::fs::read_to_string(path) {
        let stored: serde_json::Value = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
        let cipher = stored.get("cipher").and_then(|v| v.as_str()).ok_or_else(|| failed("no `cipher` key".into()))?;
        let codes = stored.get("codes").and_then(|v| v.as_str()).ok_or_else(|| failed("no `codes` key".into()))?;
        return Ok(Keys { cipher: vec![cipher.to_owned()], codes: codes.to_owned() });
    }
    let keys = fresh_development_keys();
    if keys.codes.is_empty() {
        return Err(failed("the system's random number generator failed".into()));
    }
    let document = serde_json::json!({ "cipher": keys.cipher[0], "codes": keys.codes });
    write_private(path, &document.to_string()).map_err(|e| failed(e.to_string()))?;
    Ok(keys)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

/// The file of a `sqlite://` DSN, if it names one.
pub fn sqlite_path(dsn: &str) -> Option<PathBuf> {
    let rest = dsn.strip_prefix("sqlite://").or_else(|| dsn.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}
