//! The `identity-server` binary: `config check`, `migrate`, and each admin job against a SQLite database,
//! including not-found and bad-input cases and their exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A configuration file for a SQLite database in `dir`, with cheap hashing.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("identity.yaml");
    let yaml = format!(
        "dsn: sqlite://{}\nhashers:\n  argon2: {{ memory_kib: 64, iterations: 1, parallelism: 1 }}\n",
        dir.join("identity.db").display()
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_identity-server"));
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("IDENTITY_")) {
        command.env_remove(name);
    }
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn config_check_names_bad_keys_and_migrate_prepares_the_database() {
    let dir = dir();
    let good = config(&dir);
    let checked = run(&["config", "check", "-c", good.to_str().unwrap()], None);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "serve:\n  public:\n    port: eighty\n").unwrap();
    let refused = run(&["config", "check", "-c", bad.to_str().unwrap()], None);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("serve.public.port"));
    let seed = "rbac:\n  seed:\n    organizations:\n      - name: acme\n        projects:\n          - {name: web, groups: [ops]}\n";
    std::fs::write(&bad, seed).unwrap();
    let refused = run(&["config", "check", "-c", bad.to_str().unwrap()], None);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rbac.seed.organizations[0].projects[0].groups[0]"));
    let migrated = run(&["migrate", "-c", good.to_str().unwrap()], None);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(dir.join("identity.db").exists());
    assert_eq!(run(&["serve", "--no-such-flag"], None).status.code(), Some(2));
}

#[test]
fn admin_jobs_run_against_the_database() {
    let dir = dir();
    let config = config(&dir);
    let c = config.to_str().unwrap();
    let password_file = dir.join("password");
    std::fs::write(&password_file, "correct-horse-battery-staple\n").unwrap();

    let created = json(&run(
        &[
            "admin",
            "-c",
            c,
            "create-admin-account",
            "--email",
            "root@example.com",
            "--username",
            "root",
            "--password-file",
            password_file.to_str().unwrap(),
        ],
        None,
    ));
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["is_admin"], true);
    let taken = run(
        &["admin", "-c", c, "create-admin-account", "--email", "root@example.com", "--password-stdin"],
        Some("another-long-passphrase\n"),
    );
    assert_eq!(taken.status.code(), Some(3));

    let found = json(&run(&["admin", "-c", c, "get-identity", "--email", "ROOT@example.com"], None));
    assert_eq!(found["id"], id.as_str());
    let table = run(&["admin", "-c", c, "--output", "table", "get-identity", "--id", &id], None);
    assert!(String::from_utf8_lossy(&table.stdout).contains("traits.email"));
    assert_eq!(run(&["admin", "-c", c, "get-identity", "--email", "nobody@example.com"], None).status.code(), Some(1));
    assert_eq!(run(&["admin", "-c", c, "get-identity", "--id", "not-an-id"], None).status.code(), Some(1));
    assert_eq!(run(&["admin", "-c", c, "get-identity"], None).status.code(), Some(2));

    let recovery = json(&run(&["admin", "-c", c, "reset-password", "--id", &id], None));
    assert!(recovery["recovery_link"].as_str().unwrap().contains("/self-service/recovery?flow="));
    assert_eq!(recovery["recovery_code"].as_str().unwrap().len(), 6);
    let reset =
        run(&["admin", "-c", c, "reset-password", "--id", &id, "--password-stdin"], Some("a-brand-new-passphrase"));
    json(&reset);
    let weak = run(&["admin", "-c", c, "reset-password", "--id", &id, "--password-stdin"], Some("short"));
    assert_eq!(weak.status.code(), Some(3));

    let mfa = json(&run(&["admin", "-c", c, "reset-identity-mfa", "--id", &id, "--mfa-type", "totp"], None));
    assert_eq!(mfa["removed"], false);
    assert_eq!(
        run(&["admin", "-c", c, "reset-identity-mfa", "--id", &id, "--mfa-type", "sms"], None).status.code(),
        Some(2)
    );
    let sessions = json(&run(&["admin", "-c", c, "invalidate-identity-sessions", "--email", "root@example.com"], None));
    assert_eq!(sessions["revoked_sessions"], 0);

    let import = dir.join("import.json");
    std::fs::write(
        &import,
        r#"[{"schema_id": "default", "traits": {"email": "a@example.com"},
             "credentials": {"password": {"config": {"hashed_password": "$2b$04$Vsx5MqXL0fo5VjW3ZJoNDe8PqvLGgTvmR2U1BK1Mdq6U3J1RFB1Ue"}}}},
            {"schema_id": "default", "traits": {"email": "b@example.com"}}]"#,
    )
    .unwrap();
    let imported = json(&run(&["admin", "-c", c, "import", import.to_str().unwrap()], None));
    assert_eq!(imported.as_array().unwrap().len(), 2);
    let again = run(&["admin", "-c", c, "import", import.to_str().unwrap()], None);
    assert_eq!(again.status.code(), Some(3), "importing twice conflicts");
    std::fs::write(&import, "{not json").unwrap();
    assert_eq!(run(&["admin", "-c", c, "import", import.to_str().unwrap()], None).status.code(), Some(3));

    let deleted = json(&run(&["admin", "-c", c, "delete-identity", "--id", &id], None));
    assert_eq!(deleted["deleted"], id.as_str());
    assert_eq!(run(&["admin", "-c", c, "delete-identity", "--id", &id], None).status.code(), Some(1));
}
