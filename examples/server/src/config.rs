//! The server's configuration: one YAML file (every key optional, with development defaults) plus
//! `IDENTITY_`-prefixed environment overrides (`IDENTITY_DSN`, `IDENTITY_SERVE__PUBLIC__PORT`: `__` separates
//! levels; variables naming no top-level key, such as `IDENTITY_TEST_*`, belong to other tools). Unknown keys are
//! errors, and every error names the key's path.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("{path} is not valid YAML: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's explanation.
        message: String,
    },
    /// A key has a bad value, or is unknown.
    #[error("`{path}`: {message}")]
    Field {
        /// The key's path (`serve.public.port`).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where data lives: `memory`, `sqlite://path` (default `sqlite://identity.db`), `postgres://...`.
    pub dsn: String,
    /// The connection pool of a SQL `dsn`: its size, and how long a request waits for a connection.
    pub database: DatabaseConfig,
    /// Listeners.
    pub serve: Serve,
    /// Keys.
    pub secrets: Secrets,
    /// Password hashing.
    pub hashers: Hashers,
    /// Sessions.
    pub session: SessionConfig,
    /// Self-service flows.
    pub selfservice: SelfServiceConfig,
    /// Identity schemas.
    pub identity: IdentityConfig,
    /// Message delivery.
    pub courier: CourierConfig,
    /// Limits on failed attempts.
    pub throttling: Throttling,
    /// Logging.
    pub log: LogConfig,
    /// The identity-aware proxy's access rules, decided at `/decisions` (none: every decision is 403).
    pub access_rules: Option<AccessRulesConfig>,
    /// Access control: the platform administrators, and organizations to seed at start.
    pub rbac: crate::rbac_seed::RbacConfig,
    /// Enrollments (OpenZiti's `ott`, `ottca`, `updb`) and the CAs behind certificate enrollment.
    pub enrollment: EnrollmentConfig,
    /// Logins at upstream identity providers (the providers themselves are kept in the store).
    pub federation: FederationConfig,
    /// The OAuth2/OIDC provider.
    pub oauth2: OAuth2Config,
}

/// The OAuth2/OIDC provider's upkeep.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2Config {
    /// How often the stored signing keys are read again (default `60s`), so that a key rotated on another replica
    /// signs here too and appears in this replica's JWKS. A token signed by a key this replica has not read yet
    /// makes it read the keys at once (at most once a second), so verifying does not wait for this.
    pub key_reload_interval: DurationText,
}

impl Default for OAuth2Config {
    fn default() -> Self {
        Self { key_reload_interval: DurationText("60s".into()) }
    }
}

/// How the server talks to upstream identity providers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Time to connect to an upstream (TCP and TLS; default `5s`).
    pub connect_timeout: DurationText,
    /// Time for a whole call to an upstream (discovery, key set, token exchange; default `10s`): a login waits
    /// on it, so it stays well under `serve.request_timeout`.
    pub timeout: DurationText,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self { connect_timeout: DurationText("5s".into()), timeout: DurationText("10s".into()) }
    }
}

/// The connection pool of a SQL store (unused for `memory`). Each replica has its own pool, so the replicas
/// together open up to `replicas × max_connections` connections: keep that under PostgreSQL's `max_connections`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// The most connections this process opens (default 10; at least 1).
    pub max_connections: u32,
    /// How long a request waits for a connection (default `5s`), opening one included. It bounds how long a
    /// request takes to fail while the database is down, unreachable or has no free connection: such requests
    /// are answered 503 with the JSON error after at most about this long, and `/health/ready` turns 503 just as
    /// fast. Keep it well under `serve.request_timeout`, which would otherwise answer 408 first.
    pub acquire_timeout: DurationText,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: DurationText("5s".into()) }
    }
}

impl DatabaseConfig {
    /// The acquire timeout as a `std` duration (5 s if it does not parse, which [`Config`]'s checks prevent).
    pub fn acquire_timeout(&self) -> std::time::Duration {
        self.acquire_timeout
            .parse()
            .ok()
            .and_then(|duration| std::time::Duration::try_from(duration).ok())
            .unwrap_or(std::time::Duration::from_secs(5))
    }
}

/// Where the access rules come from and what they default to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRulesConfig {
    /// The rules file: YAML, or JSON when it ends in `.json`. SIGHUP reloads it.
    pub file: PathBuf,
    /// Where browsers that must sign in are sent; the request's URL is appended as `return_to`.
    #[serde(default)]
    pub login_url: Option<String>,
    /// What a request no rule matches gets: `deny` (default) or `allow`.
    #[serde(default)]
    pub unmatched: identity_rbac::Unmatched,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            dsn: "sqlite://identity.db".into(),
            database: DatabaseConfig::default(),
            serve: Serve::default(),
            secrets: Secrets::default(),
            hashers: Hashers::default(),
            session: SessionConfig::default(),
            selfservice: SelfServiceConfig::default(),
            identity: IdentityConfig::default(),
            courier: CourierConfig::default(),
            throttling: Throttling::default(),
            log: LogConfig::default(),
            access_rules: None,
            rbac: Default::default(),
            enrollment: EnrollmentConfig::default(),
            federation: FederationConfig::default(),
            oauth2: OAuth2Config::default(),
        }
    }
}

/// Enrollments: how long an invitation lasts, and the CAs whose certificates identities enrol.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrollmentConfig {
    /// How long an enrollment's one-time JWT stays valid (default `24h`).
    pub lifespan: DurationText,
    /// The platform's CA, which signs the CSRs of `ott` enrollees (none: `ott` enrollments are refused).
    pub ca: Option<PlatformCaConfig>,
    /// Third-party CAs that `ottca` enrollments name by `id`: their certificates become authenticators as issued.
    pub third_party_cas: Vec<ThirdPartyCaConfig>,
}

impl Default for EnrollmentConfig {
    fn default() -> Self {
        Self { lifespan: DurationText("24h".into()), ca: None, third_party_cas: Vec::new() }
    }
}

/// The platform's CA.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformCaConfig {
    /// Its certificate, PEM.
    pub certificate_file: PathBuf,
    /// Its private key, PEM (PKCS#8).
    pub key_file: PathBuf,
    /// How long the certificates it issues are valid (default `365d`; never beyond the CA's own expiry).
    #[serde(default = "a_year")]
    pub validity: DurationText,
}

fn a_year() -> DurationText {
    DurationText("365d".into())
}

/// A third-party CA.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThirdPartyCaConfig {
    /// The id `ottca` enrollments name it by (a UUID).
    pub id: identity_core::CaId,
    /// Its certificate (or a bundle of its CA certificates), PEM.
    pub certificate_file: PathBuf,
}

/// Both listeners and what they share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Serve {
    /// The public API (self-service, sessions).
    pub public: Listener,
    /// The admin API (never expose it publicly).
    pub admin: Listener,
    /// How long a request may take, in a duration like `30s`.
    pub request_timeout: DurationText,
    /// The largest request body, in bytes (default 1 MiB).
    pub body_limit_bytes: usize,
    /// The most connections each listener keeps open at once (default 4096); past it, new clients wait until one
    /// closes. Keep it under the process' open-file limit (`ulimit -n`).
    pub max_connections: u32,
    /// The most connections one client address may hold open at once on a listener (default 1024; 0: no limit).
    /// Behind a reverse proxy every connection comes from the proxy: raise it, or set 0.
    pub max_connections_per_address: u32,
    /// How long a client may take to send a request's headers, and how long a keep-alive connection may sit
    /// idle (default `10s`): slow or silent clients cannot hold connections.
    pub header_timeout: DurationText,
    /// An optional third listener speaking TLS that asks for client certificates (RFC 8705 mutual TLS): the
    /// public API, where `tls_client_auth` clients get certificate-bound tokens.
    pub mtls: Option<MtlsListener>,
}

/// The mutual-TLS listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsListener {
    /// The address to bind.
    #[serde(default = "localhost")]
    pub host: String,
    /// The port (0: any free port).
    #[serde(default)]
    pub port: u16,
    /// The server's certificate chain, PEM.
    pub certificate_file: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// The CAs whose client certificates are accepted, PEM. A connection without a certificate is accepted
    /// too, and is then just a TLS connection to the public API.
    pub client_ca_file: PathBuf,
}

impl Default for Serve {
    fn default() -> Self {
        Self {
            public: Listener { host: "127.0.0.1".into(), port: 4433, base_url: None, cors: Cors::default() },
            admin: Listener { host: "127.0.0.1".into(), port: 4434, base_url: None, cors: Cors::default() },
            request_timeout: DurationText("30s".into()),
            body_limit_bytes: 1024 * 1024,
            max_connections: 4096,
            max_connections_per_address: 1024,
            header_timeout: DurationText("10s".into()),
            mtls: None,
        }
    }
}

/// One listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// The address to bind.
    #[serde(default = "localhost")]
    pub host: String,
    /// The port (0: any free port).
    #[serde(default)]
    pub port: u16,
    /// The URL clients reach it at (default `http://host:port`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Cross-origin requests (public listener only).
    #[serde(default)]
    pub cors: Cors,
}

fn localhost() -> String {
    "127.0.0.1".into()
}

/// CORS for the public API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cors {
    /// Whether to answer cross-origin requests.
    pub enabled: bool,
    /// The origins allowed (exact matches).
    pub allowed_origins: Vec<String>,
}

/// Keys, each a list so they can be rotated (the first signs or encrypts; all are tried). `Debug` shows only
/// how many there are.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Secrets {
    /// Kratos' cookie keys (at least 32 characters each): accepted so Kratos configurations load, and unused,
    /// since cookies carry random tokens stored only as hashes (the server warns when they are set).
    pub cookie: Vec<String>,
    /// Keys for encrypting TOTP secrets at rest (at least 32 characters each).
    pub cipher: Vec<String>,
    /// The key one-time codes and backup codes are hashed with (at least 32 characters).
    pub codes: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("cookie", &self.cookie.len())
            .field("cipher", &self.cipher.len())
            .field("codes", &self.codes.is_some())
            .finish()
    }
}

/// Password hashing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hashers {
    /// `argon2` (default) or `bcrypt`.
    pub algorithm: String,
    /// argon2id parameters.
    pub argon2: Argon2Config,
    /// bcrypt cost.
    pub bcrypt_cost: u32,
    /// How many hashes may run at once (default: one per core); fewer keeps session checks fast under a login
    /// flood, at the cost of logins per second.
    pub concurrency: Option<usize>,
    /// How hashes are scheduled: `background` (default; hashes use only CPU time nothing else wants, so a login
    /// flood cannot slow session checks) or `normal` (hashes compete with requests for the cores).
    pub priority: identity_auth::HashingPriority,
}

impl Default for Hashers {
    fn default() -> Self {
        Self {
            algorithm: "argon2".into(),
            argon2: Argon2Config::default(),
            bcrypt_cost: 12,
            concurrency: None,
            priority: identity_auth::HashingPriority::Background,
        }
    }
}

/// argon2id parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Config {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Config {
    fn default() -> Self {
        let defaults = identity_auth::Argon2Params::default();
        Self { memory_kib: defaults.memory_kib, iterations: defaults.iterations, parallelism: defaults.parallelism }
    }
}

/// Sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// How long a session lasts (default `24h`).
    pub lifespan: DurationText,
    /// How recently a session must have authenticated to change credentials (default `15m`).
    pub privileged_max_age: DurationText,
    /// Whether every identity needs a second factor.
    pub enforce_mfa: bool,
    /// The session cookie's name.
    pub cookie_name: String,
    /// Whether cookies are `Secure` (default: when the public base URL is https).
    pub cookie_secure: Option<bool>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifespan: DurationText("24h".into()),
            privileged_max_age: DurationText("15m".into()),
            enforce_mfa: false,
            cookie_name: "ory_kratos_session".into(),
            cookie_secure: None,
        }
    }
}

/// Self-service flows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfServiceConfig {
    /// How long a flow lasts (default `1h`).
    pub flow_lifespan: DurationText,
    /// Where browsers go after a flow when no `return_to` was given.
    pub default_return_url: Option<String>,
    /// The `return_to` URLs allowed (prefixes).
    pub allowed_return_urls: Vec<String>,
    /// The UI pages for browser flows, per kind (`login`, `registration`, ...).
    pub ui_urls: std::collections::BTreeMap<String, String>,
    /// Whether registration signs the new identity in.
    pub session_after_registration: bool,
    /// How long recovery and verification codes last (default `1h`).
    pub code_lifespan: DurationText,
}

impl Default for SelfServiceConfig {
    fn default() -> Self {
        Self {
            flow_lifespan: DurationText("1h".into()),
            default_return_url: None,
            allowed_return_urls: Vec::new(),
            ui_urls: Default::default(),
            session_after_registration: true,
            code_lifespan: DurationText("1h".into()),
        }
    }
}

/// Identity schemas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// The schema registration uses.
    pub default_schema_id: String,
    /// Schemas: id and location (a file path, `file://...` or `base64://...`). Empty: the built-in
    /// email-and-password schema as `default`.
    pub schemas: Vec<SchemaLocation>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self { default_schema_id: "default".into(), schemas: Vec::new() }
    }
}

/// Where a schema is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaLocation {
    /// Its id.
    pub id: String,
    /// Its location.
    pub url: String,
}

/// Message delivery: SMTP when configured, otherwise a log line per message (without its code).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CourierConfig {
    /// The SMTP server.
    pub smtp: Option<SmtpConfig>,
}

/// An SMTP server.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtp://user:password@host:port` (plain), with `?tls=required` (STARTTLS), or `smtps://...` (TLS).
    pub connection_uri: String,
    /// The sender, `Name <address>` or an address.
    pub from_address: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URI may hold the SMTP password.
        f.debug_struct("SmtpConfig").field("from_address", &self.from_address).finish_non_exhaustive()
    }
}

/// Limits on failed attempts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Throttling {
    /// Failures allowed per client address in a window (0: no limit per address).
    pub max_failures_per_address: u32,
    /// The window (default `15m`).
    pub window: DurationText,
    /// Failed passwords allowed per login identifier and per identity before a lockout (default 10, the default
    /// authentication policy's; 0: no lockout).
    pub max_failures_per_account: u32,
    /// How long an account's lockout lasts (default `15m`; whole minutes, at least `1m`, as policies count it).
    pub lockout: DurationText,
}

impl Default for Throttling {
    fn default() -> Self {
        Self {
            max_failures_per_address: 10,
            window: DurationText("15m".into()),
            max_failures_per_account: 10,
            lockout: DurationText("15m".into()),
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info` (default), `debug`, `trace`, or a filter directive.
    pub level: String,
    /// `text` (default) or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: "text".into() }
    }
}

/// The longest duration the configuration takes: a hundred years, so that an instant plus any configured
/// lifespan or interval stays far inside the dates the clock can hold.
const MAX_DURATION: identity_core::time::Duration = identity_core::time::Duration::days(36_500);

/// A duration written as Kratos writes them: `90s`, `15m`, `1h30m`, `24h`, `7d` (at most 100 years).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl DurationText {
    /// The duration, or why the text is not one.
    pub fn parse(&self) -> Result<identity_core::time::Duration, String> {
        let text = self.0.trim();
        if text.is_empty() {
            return Err("an empty duration".into());
        }
        let mut total = identity_core::time::Duration::ZERO;
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let amount: i64 = digits.parse().map_err(|_| format!("`{text}` is not a duration like 15m or 1h30m"))?;
            digits.clear();
            let seconds_per_unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                _ => return Err(format!("`{text}` has an unknown unit `{c}` (use s, m, h or d)")),
            };
            // time's `Duration::days` and the like panic on overflow; seconds are counted here instead.
            let too_long = || format!("`{text}` is longer than {} days", MAX_DURATION.whole_days());
            let seconds = amount.checked_mul(seconds_per_unit).ok_or_else(too_long)?;
            total = total.checked_add(identity_core::time::Duration::seconds(seconds)).ok_or_else(too_long)?;
            if total > MAX_DURATION {
                return Err(too_long());
            }
        }
        if !digits.is_empty() {
            return Err(format!("`{text}` lacks a unit (use s, m, h or d)"));
        }
        if !total.is_positive() {
            return Err(format!("`{text}` must be positive"));
        }
        Ok(total)
    }
}

/// The top-level keys, the only ones `IDENTITY_*` variables may name.
const SECTIONS: &[&str] = &[
    "dsn",
    "database",
    "serve",
    "secrets",
    "hashers",
    "session",
    "selfservice",
    "identity",
    "courier",
    "throttling",
    "log",
    "access_rules",
    "rbac",
    "enrollment",
    "federation",
    "oauth2",
];

impl Config {
    /// Reads `path` (if given) and applies the environment's `IDENTITY_*` overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let document = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                let yaml: Value = serde_yaml_ng::from_str(&text)
                    .map_err(|e| ConfigError::Yaml { path: path.to_owned(), message: e.to_string() })?;
                if yaml.is_null() { Value::Object(Map::new()) } else { yaml }
            }
            None => Value::Object(Map::new()),
        };
        Self::from_value(document, std::env::vars())
    }

    /// The configuration `document` describes, with `env`'s `IDENTITY_*` variables applied over it.
    pub fn from_value(
        mut document: Value,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        for (name, value) in env {
            let Some(path) = name.strip_prefix("IDENTITY_") else { continue };
            let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
            // Other tools share the prefix (`IDENTITY_TEST_POSTGRES_URL`): only the configuration's own sections
            // are read; within a section an unknown key is still an error.
            if !SECTIONS.contains(&keys[0].as_str()) {
                continue;
            }
            // Values are JSON when they parse as JSON (numbers, booleans, lists), text otherwise.
            let value = serde_json::from_str(&value).unwrap_or(Value::String(value));
            set_path(&mut document, &keys, value)
                .map_err(|message| ConfigError::Field { path: keys.join("."), message })?;
        }
        let config: Config = serde_path_to_error::deserialize(document).map_err(|error| ConfigError::Field {
            path: error.path().to_string(),
            message: error.inner().to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Checks what types alone cannot: durations, the DSN, the hasher.
    fn check(&self) -> Result<(), ConfigError> {
        let field = |path: &str, message: String| ConfigError::Field { path: path.into(), message };
        let durations = [
            ("serve.request_timeout", &self.serve.request_timeout),
            ("serve.header_timeout", &self.serve.header_timeout),
            ("database.acquire_timeout", &self.database.acquire_timeout),
            ("session.lifespan", &self.session.lifespan),
            ("session.privileged_max_age", &self.session.privileged_max_age),
            ("selfservice.flow_lifespan", &self.selfservice.flow_lifespan),
            ("selfservice.code_lifespan", &self.selfservice.code_lifespan),
            ("throttling.window", &self.throttling.window),
            ("throttling.lockout", &self.throttling.lockout),
            ("enrollment.lifespan", &self.enrollment.lifespan),
            ("federation.connect_timeout", &self.federation.connect_timeout),
            ("federation.timeout", &self.federation.timeout),
            ("oauth2.key_reload_interval", &self.oauth2.key_reload_interval),
        ];
        for (path, duration) in durations {
            duration.parse().map_err(|message| field(path, message))?;
        }
        let dsn = self.dsn.as_str();
        if !(dsn == "memory"
            || dsn.starts_with("sqlite:")
            || dsn.starts_with("postgres://")
            || dsn.starts_with("postgresql://"))
        {
            return Err(field("dsn", "use `memory`, `sqlite://path` or `postgres://...`".into()));
        }
        if self.database.max_connections == 0 {
            return Err(field("database.max_connections", "must be at least 1".into()));
        }
        if !matches!(self.hashers.algorithm.as_str(), "argon2" | "bcrypt") {
            return Err(field("hashers.algorithm", "use `argon2` or `bcrypt`".into()));
        }
        if self.throttling.lockout.parse().is_ok_and(|lockout| lockout < identity_core::time::Duration::minutes(1)) {
            return Err(field("throttling.lockout", "must be at least 1m".into()));
        }
        if self.hashers.concurrency == Some(0) {
            return Err(field("hashers.concurrency", "must be at least 1".into()));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(field("log.format", "use `text` or `json`".into()));
        }
        for (index, key) in self.secrets.cookie.iter().chain(&self.secrets.cipher).enumerate() {
            if key.len() < 32 {
                return Err(field("secrets", format!("key {index} is shorter than 32 characters")));
            }
        }
        if self.secrets.codes.as_ref().is_some_and(|key| key.len() < 32) {
            return Err(field("secrets.codes", "must be at least 32 characters".into()));
        }
        if self.serve.body_limit_bytes == 0 {
            return Err(field("serve.body_limit_bytes", "must be positive".into()));
        }
        if self.serve.max_connections == 0 {
            return Err(field("serve.max_connections", "must be at least 1".into()));
        }
        if let Some(ca) = &self.enrollment.ca {
            ca.validity.parse().map_err(|message| field("enrollment.ca.validity", message))?;
        }
        for (index, ca) in self.enrollment.third_party_cas.iter().enumerate() {
            if self.enrollment.third_party_cas[..index].iter().any(|earlier| earlier.id == ca.id) {
                return Err(field(&format!("enrollment.third_party_cas[{index}].id"), "is used twice".into()));
            }
        }
        self.rbac.check()
    }

    /// The public base URL (no trailing slash).
    pub fn public_url(&self) -> String {
        base_url(&self.serve.public)
    }

    /// The admin base URL (no trailing slash).
    pub fn admin_url(&self) -> String {
        base_url(&self.serve.admin)
    }
}

fn base_url(listener: &Listener) -> String {
    match &listener.base_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}:{}", listener.host, listener.port),
    }
}

/// Sets `value` at `keys` in `document`, making objects on the way.
fn set_path(document: &mut Value, keys: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = keys.split_last() else { return Ok(()) };
    let mut node = document;
    for key in parents {
        let Value::Object(map) = node else { return Err(format!("`{key}` is not a section")) };
        node = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    let Value::Object(map) = node else { return Err(format!("`{last}` is not inside a section")) };
    map.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn an_empty_configuration_has_development_defaults() {
        let config = Config::from_value(json!({}), env(&[])).unwrap();
        assert_eq!(config.dsn, "sqlite://identity.db");
        assert_eq!(config.public_url(), "http://127.0.0.1:4433");
        assert_eq!(config.admin_url(), "http://127.0.0.1:4434");
        assert_eq!(config.session.lifespan.parse().unwrap(), identity_core::time::Duration::hours(24));
        assert_eq!(config.hashers.priority, identity_auth::HashingPriority::Background);
        assert_eq!(
            (config.database.max_connections, config.database.acquire_timeout()),
            (10, std::time::Duration::from_secs(5))
        );
        let normal = Config::from_value(json!({"hashers": {"priority": "normal"}}), env(&[])).unwrap();
        assert_eq!(normal.hashers.priority, identity_auth::HashingPriority::Normal);
    }

    #[test]
    fn environment_variables_override_nested_keys() {
        let overrides = env(&[
            ("IDENTITY_DSN", "memory"),
            ("IDENTITY_SERVE__PUBLIC__PORT", "8080"),
            ("OTHER", "x"),
            ("IDENTITY_TEST_POSTGRES_URL", "postgres://elsewhere"),
        ]);
        let config = Config::from_value(json!({"serve": {"public": {"host": "0.0.0.0"}}}), overrides).unwrap();
        assert_eq!(config.dsn, "memory");
        assert_eq!((config.serve.public.host.as_str(), config.serve.public.port), ("0.0.0.0", 8080));
        let typo = Config::from_value(json!({}), env(&[("IDENTITY_SERVE__PUBLIK__PORT", "1")]));
        assert!(
            matches!(typo, Err(ConfigError::Field { path, .. }) if path == "serve.publik"),
            "a typo in a section passed"
        );
    }

    #[test]
    fn bad_keys_and_values_are_named_by_their_path() {
        let path_of = |document: Value| match Config::from_value(document, env(&[])) {
            Err(ConfigError::Field { path, .. }) => path,
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(path_of(json!({"serve": {"public": {"port": "eighty"}}})), "serve.public.port");
        assert_eq!(path_of(json!({"session": {"lifespan": "soon"}})), "session.lifespan");
        assert_eq!(path_of(json!({"session": {"lifespann": "1h"}})), "session.lifespann");
        assert_eq!(path_of(json!({"dsn": "mysql://x"})), "dsn");
        assert_eq!(path_of(json!({"hashers": {"concurrency": 0}})), "hashers.concurrency");
        assert_eq!(path_of(json!({"hashers": {"priority": "high"}})), "hashers.priority");
        assert_eq!(path_of(json!({"secrets": {"cipher": ["short"]}})), "secrets");
        assert_eq!(path_of(json!({"enrollment": {"lifespan": "forever"}})), "enrollment.lifespan");
        let ca = json!({"certificate_file": "ca.pem", "key_file": "ca.key", "validity": "0d"});
        assert_eq!(path_of(json!({"enrollment": {"ca": ca}})), "enrollment.ca.validity");
        let third = |id: &str| json!({"id": id, "certificate_file": "x.pem"});
        assert_eq!(
            path_of(json!({"enrollment": {"third_party_cas": [third("x")]}})),
            "enrollment.third_party_cas[0].id"
        );
        let id = "6f1c1f4e-3b8a-4c1e-9d2a-0b9f6f1a2c3d";
        let twice = json!({"enrollment": {"third_party_cas": [third(id), third(id)]}});
        assert_eq!(path_of(twice), "enrollment.third_party_cas[1].id");
        assert_eq!(path_of(json!({"federation": {"timeout": "0s"}})), "federation.timeout");
        assert_eq!(path_of(json!({"oauth2": {"key_reload_interval": "often"}})), "oauth2.key_reload_interval");
        assert_eq!(path_of(json!({"oauth2": {"reload": "1m"}})), "oauth2.reload");
        assert_eq!(path_of(json!({"database": {"max_connections": 0}})), "database.max_connections");
        assert_eq!(path_of(json!({"database": {"acquire_timeout": "soon"}})), "database.acquire_timeout");
    }

    #[test]
    fn debug_output_hides_keys_and_smtp_passwords() {
        let document = json!({
            "secrets": {"cipher": ["k".repeat(40)], "codes": "c".repeat(40)},
            "courier": {"smtp": {"connection_uri": "smtp://u:hunter2@mail.example", "from_address": "id@example.com"}},
        });
        let debug = format!("{:?}", Config::from_value(document, env(&[])).unwrap());
        assert!(!debug.contains("kkkk") && !debug.contains("cccc") && !debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn durations_read_like_kratos() {
        let parse = |text: &str| DurationText(text.into()).parse();
        assert_eq!(parse("1h30m").unwrap(), identity_core::time::Duration::minutes(90));
        assert_eq!(parse("7d").unwrap(), identity_core::time::Duration::days(7));
        assert_eq!(parse("36500d").unwrap(), identity_core::time::Duration::days(36_500));
        // Beyond i64, beyond i64 once in seconds (time's constructors would panic), beyond 100 years, by a sum.
        for bad in ["", "15", "1x", "0s", "h", "99999999999999999999d", "999999999999999d", "9223372036854775807m"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        for long in ["36501d", "876001h", "36500d1s", "36000d36000d"] {
            let error = parse(long).unwrap_err();
            assert!(error.contains("longer than 36500 days"), "{long}: {error}");
        }
    }
}
