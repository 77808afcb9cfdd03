//! Ory's own Python SDK (`ory-kratos-client` 25.4.0) against the real server: its strict models must accept every
//! answer. Runs when `IDENTITY_TEST_PYTHON` names a Python with the SDK installed (`.ci/run` makes one);
//! otherwise it says SKIPPED and passes.

use identity_server::config::Config;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ory_kratos_client_drives_every_flow() {
    let Ok(python) = std::env::var("IDENTITY_TEST_PYTHON") else {
        eprintln!("SKIPPED: IDENTITY_TEST_PYTHON is not set, so the Ory SDK test passes without running");
        return;
    };
    let document = json!({
        "dsn": "memory",
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
    });
    let running =
        identity_server::server::start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/kratos_sdk.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("PUBLIC_URL", format!("http://{}", running.public))
        .env("ADMIN_URL", format!("http://{}", running.admin))
        .output()
        .await
        .unwrap();
    running.stop().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK run failed:\n{stdout}\n{stderr}");
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");
}
