//! `identity-server`: serve, migrate, check the configuration, or run an admin job.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use clap::Parser as _;
use identity_server::cli::{Cli, Command, ConfigCommand};
use identity_server::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::from(4);
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => {
            let config = match Config::load(args.config.as_deref()) {
                Ok(config) => config,
                Err(error) => return fail(3, &error.to_string()),
            };
            init_logging(&config);
            let running = match identity_server::server::start(config).await {
                Ok(running) => running,
                Err(error) => return fail(4, &error.to_string()),
            };
            reload_rules_on_hangup(running.state.clone());
            shutdown_signal().await;
            tracing::info!("shutting down; in-flight requests finish first");
            running.stop().await;
            ExitCode::SUCCESS
        }
        Command::Migrate(args) => {
            let config = match Config::load(args.config.as_deref()) {
                Ok(config) => config,
                Err(error) => return fail(3, &error.to_string()),
            };
            match identity_server::state::open_store(&config, identity_server::state::Migrations::Apply).await {
                Ok(_) => {
                    println!("the database is up to date");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(4, &error.to_string()),
            }
        }
        Command::Config { command: ConfigCommand::Check(args) } => match Config::load(args.config.as_deref()) {
            Ok(_) => {
                println!("the configuration is valid");
                ExitCode::SUCCESS
            }
            Err(error) => fail(3, &error.to_string()),
        },
        Command::Admin(args) => match identity_server::cli::run_admin(args).await {
            Ok(output) => {
                println!("{output}");
                ExitCode::SUCCESS
            }
            Err(failure) => fail(failure.code, &failure.message),
        },
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(code)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log.format == "json" { builder.json().init() } else { builder.init() }
}

/// SIGHUP reloads the access rules; requests go on meanwhile, decided by the rules in force.
fn reload_rules_on_hangup(state: std::sync::Arc<identity_server::state::AppState>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("SIGHUP cannot be handled here: the access rules reload only at start");
            return;
        };
        while hangups.recv().await.is_some() {
            let Some(rules) = &state.access_rules else { continue };
            match rules.reload() {
                Ok(count) => tracing::info!(rules = count, "access rules reloaded"),
                Err(error) => tracing::error!(error = %error, "the access rules did not reload; the old ones stay"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
