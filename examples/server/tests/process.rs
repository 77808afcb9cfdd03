//! The `identity-server serve` process itself: it starts from environment variables alone, its logs never hold
//! passwords, tokens or codes (even at debug level), and SIGTERM stops it cleanly with exit code 0.

#![cfg(unix)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_keep_secrets_out_sighup_reloads_the_rules_and_sigterm_stops_cleanly() {
    let rules = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rules-{}.yaml", uuid::Uuid::new_v4()));
    let rule = |authorizer: &str| {
        format!(
            "- id: page\n  match: {{ methods: [GET], url: \"https://app.example/page\" }}\n  authenticators: [anonymous]\n  authorizer: {authorizer}\n"
        )
    };
    std::fs::write(&rules, rule("allow")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_identity-server"))
        .arg("serve")
        .env("IDENTITY_ACCESS_RULES__FILE", &rules)
        .env("IDENTITY_DSN", "memory")
        .env("IDENTITY_SERVE__PUBLIC__PORT", "0")
        .env("IDENTITY_SERVE__ADMIN__PORT", "0")
        .env("IDENTITY_HASHERS__ARGON2__MEMORY_KIB", "64")
        .env("IDENTITY_HASHERS__ARGON2__ITERATIONS", "1")
        .env("IDENTITY_LOG__LEVEL", "debug")
        .env("IDENTITY_LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let (public, admin) = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).await.unwrap() == 0 {
                panic!("the server exited before listening:\n{seen}");
            }
            seen.push_str(&line);
            if let Ok(entry) = serde_json::from_str::<Value>(&line)
                && entry["fields"]["message"] == "listening"
            {
                let field = |name: &str| entry["fields"][name].as_str().unwrap().to_owned();
                return (field("public"), field("admin"));
            }
        }
    })
    .await
    .expect("the server did not start");

    let http = reqwest::Client::new();
    let password = "correct-horse-battery-staple";
    let registered = support::register(&http, &format!("http://{public}"), "ada@example.com", password).await;
    let token = registered["session_token"].as_str().unwrap().to_owned();
    let whoami = http
        .get(format!("http://{public}/sessions/whoami"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), 200);
    let sessions =
        http.get(format!("http://{public}/sessions")).header("X-Session-Token", &token).send().await.unwrap();
    assert_eq!(sessions.status(), 200);
    // One-time secrets travel in some routes' queries (logout tokens, recovery links, upstream callbacks).
    let query_secret = "query-secret-8b1f2c";
    let logout = http.get(format!("http://{public}/self-service/logout?token={query_secret}")).send().await.unwrap();
    assert!(logout.status().is_client_error());
    let issued: Value = http
        .post(format!("http://{admin}/admin/recovery/code"))
        .json(&json!({"identity_id": registered["identity"]["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = issued["recovery_code"].as_str().unwrap().to_owned();

    // SIGHUP: the new rules decide the next request, and the server goes on.
    let decide = || {
        http.get(format!("http://{public}/decisions"))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "app.example")
            .header("x-forwarded-uri", "/page")
            .send()
    };
    assert_eq!(decide().await.unwrap().status(), 200);
    std::fs::write(&rules, rule("deny")).unwrap();
    let hup = std::process::Command::new("kill").args(["-HUP", &child.id().unwrap().to_string()]).status().unwrap();
    assert!(hup.success());
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).await.unwrap() > 0, "the server exited after SIGHUP:\n{seen}");
            seen.push_str(&line);
            if line.contains("access rules reloaded") {
                return;
            }
        }
    })
    .await
    .expect("the rules were not reloaded");
    assert_eq!(decide().await.unwrap().status(), 403);

    let stopped =
        std::process::Command::new("kill").args(["-TERM", &child.id().unwrap().to_string()]).status().unwrap();
    assert!(stopped.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("no clean stop").unwrap();
    assert!(status.success(), "{status}");
    stderr.read_to_string(&mut seen).await.unwrap();
    assert!(seen.contains("shutting down"), "{seen}");
    for secret in [password, token.as_str(), code.as_str(), query_secret] {
        let found = support::occurrences(seen.as_bytes(), secret.as_bytes());
        assert!(found.is_empty(), "a secret reached the log:\n{seen}");
    }
    // One access line per request; whoami's names the identity it answered for.
    let access: Vec<Value> = seen
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["target"] == "identity_server::access")
        .collect();
    let whoami = access.iter().find(|entry| entry["fields"]["route"] == "/sessions/whoami").expect("no access line");
    assert_eq!(whoami["fields"]["status"], 200);
    assert_eq!(whoami["fields"]["subject"], registered["identity"]["id"]);
    assert!(whoami["fields"]["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(whoami["fields"]["latency_ms"].is_number());
    // Every line of a request that authenticated names its identity (noted where credentials are checked, not
    // per handler); a request that did not, nobody.
    let line = |route: &str| access.iter().find(|entry| entry["fields"]["route"] == route).expect("no access line");
    for route in ["/sessions", "/self-service/{kind}"] {
        assert_eq!(line(route)["fields"]["subject"], registered["identity"]["id"], "{route}");
    }
    assert_eq!(line("/self-service/logout")["fields"]["subject"], "");
    assert_eq!(access.len(), 8, "{access:?}");
}
