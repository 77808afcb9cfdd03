//! The command line: `serve`, `migrate`, `config check`, and the operator's `admin` jobs, which call the admin
//! operations directly on the configured store. Exit codes: 0 ok, 1 not found, 2 usage, 3 conflict or invalid
//! input, 4 the server or store failed. Passwords are read from a file or standard input, never from arguments.

use std::io::Read as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use identity_auth::FlowType;
use identity_core::{CredentialType, Identity, IdentityId, SecretString};
use serde_json::Value;

use crate::config::Config;
use crate::http::{Audience, identity_view};
use crate::state::{AppState, Migrations, StartError, open_store};

/// The identity platform's reference server.
#[derive(Debug, Parser)]
#[command(name = "identity-server", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serves the public and admin APIs.
    Serve(ConfigArg),
    /// Brings the database schema up to date.
    Migrate(ConfigArg),
    /// Configuration tools.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The operator's everyday jobs.
    Admin(AdminArgs),
}

/// The configuration file option.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The YAML configuration file (defaults apply without one).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Checks a configuration file and names every bad key by its path.
    Check(ConfigArg),
}

/// `admin` options and subcommands.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The configuration file (for the DSN).
    #[arg(short, long, global = true)]
    pub config: Option<PathBuf>,
    /// How to print results.
    #[arg(long, value_enum, default_value = "json", global = true)]
    pub output: Output,
    /// The job.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// JSON, for scripts.
    Json,
    /// Aligned columns, for people.
    Table,
}

/// Which identity a job is about.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// The identity's id.
    #[arg(long)]
    pub id: Option<String>,
    /// An email the identity signs in with or has as an address.
    #[arg(long)]
    pub email: Option<String>,
}

/// Where a password comes from.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct PasswordSource {
    /// A file holding the password (trailing newline ignored).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

/// The admin jobs.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Creates an administrator account.
    CreateAdminAccount {
        /// Its email.
        #[arg(long)]
        email: String,
        /// A user name it can also sign in with.
        #[arg(long)]
        username: Option<String>,
        /// The password.
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Shows an identity.
    GetIdentity(Target),
    /// Sets a password, or without one prints a recovery code and link.
    ResetPassword {
        /// The identity.
        #[command(flatten)]
        target: Target,
        /// The new password.
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Removes a second factor (and ends the identity's sessions).
    ResetIdentityMfa {
        /// The identity.
        #[command(flatten)]
        target: Target,
        /// Which factor.
        #[arg(long, value_parser = ["totp", "lookup_secret"])]
        mfa_type: String,
    },
    /// Ends all sessions of an identity.
    InvalidateIdentitySessions(Target),
    /// Deletes an identity and everything it owns.
    DeleteIdentity(Target),
    /// Imports identities from Kratos' import JSON (one object or an array).
    Import {
        /// The file.
        file: PathBuf,
    },
}

/// A job's failure, with its exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What to tell the operator.
    pub message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl From<StartError> for Failure {
    fn from(error: StartError) -> Self {
        let code = if matches!(error, StartError::Config(_)) { 3 } else { 4 };
        Self::new(code, error.to_string())
    }
}

impl From<identity_auth::Error> for Failure {
    fn from(error: identity_auth::Error) -> Self {
        use identity_auth::Error as E;
        let code = match &error {
            E::Store(identity_store::Error::NotFound { .. }) => 1,
            E::Store(identity_store::Error::Unavailable { .. } | identity_store::Error::Backend { .. }) => 4,
            E::Internal { .. } | E::Random | E::Background { .. } => 4,
            _ => 3,
        };
        Self::new(code, error.to_string())
    }
}

impl From<identity_store::Error> for Failure {
    fn from(error: identity_store::Error) -> Self {
        identity_auth::Error::from(error).into()
    }
}

/// Runs an `admin` job and returns what to print.
pub async fn run_admin(args: AdminArgs) -> Result<String, Failure> {
    let config = Config::load(args.config.as_deref()).map_err(|e| Failure::new(3, e.to_string()))?;
    let store = open_store(&config, Migrations::Apply).await?;
    let app = AppState::new(config, store).await?;
    let admin = &app.admin;
    let value = match args.command {
        AdminCommand::CreateAdminAccount { email, username, password } => {
            let password =
                read_password(&password)?.ok_or_else(|| Failure::new(2, "give --password-file or --password-stdin"))?;
            view(&app, &admin.create_admin(&email, username.as_deref(), password).await?)
        }
        AdminCommand::GetIdentity(target) => view(&app, &find(&app, &target).await?),
        AdminCommand::ResetPassword { target, password } => {
            let identity = find(&app, &target).await?;
            match read_password(&password)? {
                Some(password) => view(&app, &admin.reset_password(identity.id, password).await?),
                None => {
                    let issued = admin.recovery_code(identity.id, None, FlowType::Browser).await?;
                    let expires_at = crate::http::rfc3339(issued.expires_at);
                    serde_json::json!({
                        "recovery_link": issued.link,
                        "recovery_code": issued.code.expose_secret(),
                        "expires_at": expires_at,
                    })
                }
            }
        }
        AdminCommand::ResetIdentityMfa { target, mfa_type } => {
            let identity = find(&app, &target).await?;
            let kind = if mfa_type == "totp" { CredentialType::Totp } else { CredentialType::LookupSecret };
            let removed = admin.reset_second_factor(identity.id, kind).await?;
            serde_json::json!({ "identity_id": identity.id, "removed": removed })
        }
        AdminCommand::InvalidateIdentitySessions(target) => {
            let identity = find(&app, &target).await?;
            let revoked = admin.revoke_sessions(identity.id).await?;
            serde_json::json!({ "identity_id": identity.id, "revoked_sessions": revoked })
        }
        AdminCommand::DeleteIdentity(target) => {
            let identity = find(&app, &target).await?;
            admin.delete(identity.id).await?;
            serde_json::json!({ "deleted": identity.id })
        }
        AdminCommand::Import { file } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| Failure::new(3, format!("{}: {e}", file.display())))?;
            let document: Value =
                serde_json::from_str(&text).map_err(|e| Failure::new(3, format!("{}: {e}", file.display())))?;
            let items = match document {
                Value::Array(items) => items,
                single => vec![single],
            };
            let mut imports = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let import = serde_path_to_error::deserialize(item)
                    .map_err(|e| Failure::new(3, format!("identity {index}: `{}`: {}", e.path(), e.inner())))?;
                imports.push(import);
            }
            let mut results = Vec::new();
            let mut failed = None;
            for (index, outcome) in admin.import_batch(imports).await.into_iter().enumerate() {
                match outcome {
                    Ok(identity) => results.push(serde_json::json!({ "index": index, "id": identity.id })),
                    Err(error) => {
                        let failure = Failure::from(error);
                        results.push(serde_json::json!({ "index": index, "error": failure.message }));
                        failed.get_or_insert(failure.code);
                    }
                }
            }
            let printed = Value::Array(results);
            if let Some(code) = failed {
                return Err(Failure::new(code, render(&printed, args.output)));
            }
            printed
        }
    };
    Ok(render(&value, args.output))
}

async fn find(app: &AppState, target: &Target) -> Result<Identity, Failure> {
    if let Some(id) = &target.id {
        let id: IdentityId = id.parse().map_err(|_| Failure::new(1, format!("no identity with id `{id}`")))?;
        return Ok(app.admin.identity(id).await?);
    }
    let email = target.email.as_deref().unwrap_or_default();
    app.admin
        .identity_by_email(email)
        .await?
        .ok_or_else(|| Failure::new(1, format!("no identity with email `{email}`")))
}

fn read_password(source: &PasswordSource) -> Result<Option<SecretString>, Failure> {
    let text = if let Some(path) = &source.password_file {
        std::fs::read_to_string(path).map_err(|e| Failure::new(3, format!("{}: {e}", path.display())))?
    } else if source.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::new(3, format!("standard input: {e}")))?;
        text
    } else {
        return Ok(None);
    };
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(Failure::new(3, "the password is empty"));
    }
    Ok(Some(SecretString::new(password)))
}

fn view(app: &AppState, identity: &Identity) -> Value {
    identity_view(identity, &app.public_url, Audience::Admin { include: &[] })
}

/// `value` as JSON, or as `key: value` lines for people.
fn render(value: &Value, output: Output) -> String {
    match output {
        Output::Json => serde_json::to_string_pretty(value).unwrap_or_default(),
        Output::Table => {
            let mut lines = Vec::new();
            table_lines(value, "", &mut lines);
            let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
            lines.into_iter().map(|(key, value)| format!("{key:width$}  {value}")).collect::<Vec<_>>().join("\n")
        }
    }
}

fn table_lines(value: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                table_lines(child, &path, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                table_lines(child, &format!("{prefix}[{index}]"), out);
            }
        }
        Value::String(text) => out.push((prefix.to_owned(), text.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}
