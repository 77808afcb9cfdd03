//! The OpenAPI documents cannot drift from the code: every route in the source is documented on exactly the
//! listeners that serve it, every documented operation is served, and every other method gets the framework's
//! 405. Then `schemathesis` (when `IDENTITY_TEST_PYTHON` names a Python whose environment has it; `.ci/run` makes
//! one) generates requests, good and bad, from each document: no 5xx, and no answer the document does not allow.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use identity_server::config::Config;
use identity_server::server::{Running, start};
use reqwest::{Client, Method};
use serde_json::{Value, json};

const ACCESS_RULES: &str = r#"
- id: app
  match: { methods: [GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS], url: "https://app.example/**" }
  authenticators: [bearer_session_token, anonymous]
  authorizer: allow
"#;

async fn server() -> Running {
    let rules = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rules-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(&rules, ACCESS_RULES).unwrap();
    let config = Config::from_value(
        json!({
            "dsn": "memory",
            "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
            "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
            "access_rules": { "file": rules },
        }),
        std::iter::empty(),
    )
    .unwrap();
    start(config).await.unwrap()
}

/// Every `.route("...")` path in the server's source, with axum's catch-all `{*rest}` written as OpenAPI's
/// `{rest}`.
fn source_routes() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    let mut pending = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (index, _) in text.match_indices(".route(") {
                let rest = text[index + ".route(".len()..].trim_start();
                let Some(literal) = rest.strip_prefix('"') else { continue };
                let route = &literal[..literal.find('"').unwrap()];
                routes.insert(route.replace("{*", "{"));
            }
        }
    }
    routes
}

/// `path` with its parameters filled in with values the routes accept (an unknown id, a real flow kind).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{kind}" if path.starts_with("/self-service/") => "recovery",
            "{variant}" => "api",
            "{kind}" => "password",
            s if s.starts_with('{') => "00000000-0000-0000-0000-000000000000",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// How the server answered: its status, and whether it was the framework saying there is no such route (404)
/// or no such method (405), told from a handler's own 404 or 405 by the framework's bare reason phrase.
async fn probe(http: &Client, base: &str, method: Method, path: &str) -> (u16, bool) {
    let response = http.request(method, format!("{base}{}", concrete(path))).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let reason = body["error"]["reason"].as_str().unwrap_or_default();
    let framework = matches!((status, reason), (404, "Not Found") | (405, "Method Not Allowed"));
    (status, framework)
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test]
async fn every_route_is_documented_on_the_listeners_that_serve_it() {
    let running = server().await;
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let listeners = [("public", format!("http://{}", running.public)), ("admin", format!("http://{}", running.admin))];
    let mut documented = BTreeSet::new();
    for (name, base) in &listeners {
        let document: Value = http.get(format!("{base}/openapi.json")).send().await.unwrap().json().await.unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(document["servers"][0]["url"], base.as_str(), "{name}");
        let paths = document["paths"].as_object().unwrap();
        for (path, operations) in paths {
            documented.insert(path.clone());
            for method in METHODS {
                let (status, framework) = probe(&http, base, method.to_uppercase().parse().unwrap(), path).await;
                if operations.get(method).is_some() {
                    assert!(!framework, "{name}: {method} {path} is documented but not served ({status})");
                } else {
                    assert!(
                        framework && status == 405,
                        "{name}: {method} {path} is served ({status}) but not documented"
                    );
                }
            }
            // Every documented answer has a description, and every `$ref` resolves.
            for (method, operation) in operations.as_object().unwrap() {
                for (status, answer) in operation["responses"].as_object().unwrap() {
                    assert!(answer["description"].is_string(), "{name}: {method} {path} {status}");
                }
            }
        }
        let text = document.to_string();
        for (index, _) in text.match_indices("\"$ref\":\"#/components/schemas/") {
            let rest = &text[index + "\"$ref\":\"#/components/schemas/".len()..];
            let schema = &rest[..rest.find('"').unwrap()];
            assert!(document["components"]["schemas"].get(schema).is_some(), "{name}: no schema {schema}");
        }
        // A route of the source that this listener serves must be in its document.
        for route in source_routes() {
            let (status, framework) = probe(&http, base, Method::GET, &route).await;
            let served = !(framework && status == 404);
            assert_eq!(
                served,
                paths.contains_key(&route),
                "{name}: {route} served: {served}, documented: not {served}"
            );
        }
    }
    let routes = source_routes();
    assert_eq!(documented, routes, "the documents' paths and the source's routes differ");
    running.stop().await;
}

/// The `schemathesis` command next to `IDENTITY_TEST_PYTHON`, if that environment has it.
fn schemathesis() -> Option<std::path::PathBuf> {
    let python = std::env::var("IDENTITY_TEST_PYTHON").ok()?;
    let command = Path::new(&python).parent()?.join("schemathesis");
    command.exists().then_some(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_the_documents_do_not_allow() {
    let Some(command) = schemathesis() else {
        eprintln!("SKIPPED: no schemathesis next to IDENTITY_TEST_PYTHON (.ci/run installs it)");
        return;
    };
    let running = server().await;
    // A real session, so that the authenticated operations are exercised past their credential check too.
    let http = Client::new();
    let registered =
        support::register(&http, &format!("http://{}", running.public), "st@example.com", "a-long-passphrase-1").await;
    let token = registered["session_token"].as_str().unwrap().to_owned();
    let mut failures = Vec::new();
    for base in [format!("http://{}", running.public), format!("http://{}", running.admin)] {
        let output = tokio::process::Command::new(&command)
            .arg("run")
            .arg(format!("{base}/openapi.json"))
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--max-examples", "25", "--seed", "1", "--no-color", "--max-redirects", "0"])
            .args(["--request-timeout", "10", "--workers", "1"])
            .args(["--header", &format!("X-Session-Token: {token}")])
            .args(["--generation-database", "none"])
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            failures.push(format!("{base}:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
        }
    }
    running.stop().await;
    assert!(failures.is_empty(), "schemathesis found problems:\n{}", failures.join("\n"));
}
