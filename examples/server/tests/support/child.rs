//! The `identity-server serve` binary as a child process, configured by environment variables, for tests that
//! kill it, restart it on the same files, or run it under a limit on file sizes.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A running server process, its two listeners, and everything it has logged so far.
pub struct ServerProcess {
    child: tokio::process::Child,
    /// The public listener, `http://host:port`.
    pub public: String,
    /// The admin listener, `http://host:port`.
    pub admin: String,
    log: Arc<Mutex<String>>,
}

/// How to start a server process.
#[derive(Clone, Default)]
pub struct Launch {
    /// `IDENTITY_`-prefixed variables beside the defaults (free ports, cheap argon2, JSON logs).
    pub env: Vec<(String, String)>,
    /// A limit in bytes on the size of any file the process writes (`RLIMIT_FSIZE`), with `SIGXFSZ` ignored so
    /// that a write past it fails with `EFBIG` (as on a full disk) instead of killing the process.
    pub file_size_limit: Option<u64>,
}

impl Launch {
    /// A server on `dsn`.
    pub fn new(dsn: &str) -> Self {
        Self { env: vec![("IDENTITY_DSN".into(), dsn.into())], file_size_limit: None }
    }

    /// The same, with `name=value` set too.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Starts the process and waits (up to 60 s) until it logs that it listens. If it exits first, the error
    /// is what it logged.
    pub async fn start(&self) -> Result<ServerProcess, String> {
        let binary = env!("CARGO_BIN_EXE_identity-server");
        let mut command = match self.file_size_limit {
            // An ignored signal stays ignored across exec, so the shell's `trap` reaches the server.
            Some(limit) => {
                let mut command = tokio::process::Command::new("sh");
                command.args([
                    "-c",
                    "trap '' XFSZ; exec prlimit --fsize=\"$1\" -- \"$0\" serve",
                    binary,
                    &limit.to_string(),
                ]);
                command
            }
            None => {
                let mut command = tokio::process::Command::new(binary);
                command.arg("serve");
                command
            }
        };
        command
            .env("IDENTITY_SERVE__PUBLIC__PORT", "0")
            .env("IDENTITY_SERVE__ADMIN__PORT", "0")
            .env("IDENTITY_HASHERS__ARGON2__MEMORY_KIB", "64")
            .env("IDENTITY_HASHERS__ARGON2__ITERATIONS", "1")
            .env("IDENTITY_HASHERS__ARGON2__PARALLELISM", "1")
            .env("IDENTITY_LOG__FORMAT", "json")
            .envs(self.env.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("cannot start the server: {e}"))?;
        let log = Arc::new(Mutex::new(String::new()));
        let (listening, mut heard) = tokio::sync::mpsc::channel::<(String, String)>(1);
        let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(entry) = serde_json::from_str::<Value>(&line)
                    && entry["fields"]["message"] == "listening"
                {
                    let field = |name: &str| entry["fields"][name].as_str().unwrap_or_default().to_owned();
                    let _ = listening.try_send((field("public"), field("admin")));
                }
                let mut log = kept.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let seen = || log.lock().unwrap().clone();
        match tokio::time::timeout(Duration::from_secs(60), heard.recv()).await {
            Ok(Some((public, admin))) => {
                Ok(ServerProcess { child, public: format!("http://{public}"), admin: format!("http://{admin}"), log })
            }
            Ok(None) => {
                let _ = child.wait().await;
                Err(seen())
            }
            Err(_) => panic!("the server did not listen within 60 s:\n{}", seen()),
        }
    }
}

impl ServerProcess {
    /// What the process has logged so far, one JSON entry a line.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process with SIGKILL, as a crash or the OOM killer would, and reaps it.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.unwrap().unwrap();
        assert!(!status.success(), "{status}");
    }

    /// Stops the process with SIGTERM and says whether it exited with status 0, within 30 s.
    pub async fn stop(mut self) -> bool {
        let pid = self.child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.unwrap().unwrap();
        status.success()
    }
}
