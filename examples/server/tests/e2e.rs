//! The real server on free loopback ports, with a temporary SQLite file (or memory), driven over HTTP the way
//! Kratos clients drive it.

use std::path::PathBuf;

use identity_server::config::Config;
use identity_server::server::{Running, start};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

mod support;

use support::{JsonBody, Pki};

const PASSWORD: &str = "correct-horse-battery-staple";

fn temp_db() -> PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("server-{}.db", uuid::Uuid::new_v4()))
}

fn config(dsn: &str) -> Config {
    let document = json!({
        "dsn": dsn,
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 }, "body_limit_bytes": 4096 },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
        "selfservice": { "allowed_return_urls": ["https://app.example/"] },
    });
    Config::from_value(document, std::iter::empty()).unwrap()
}

struct Server {
    running: Running,
    http: Client,
}

impl Server {
    async fn start(dsn: &str) -> Self {
        let running = start(config(dsn)).await.unwrap();
        Self { running, http: Client::new() }
    }

    fn public(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.public)
    }

    fn admin(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.admin)
    }

    async fn flow(&self, kind: &str) -> Value {
        let response = self.http.get(self.public(&format!("/self-service/{kind}/api"))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn submit(&self, kind: &str, flow: &Value, body: Value, token: Option<&str>) -> (StatusCode, Value) {
        let url = self.public(&format!("/self-service/{kind}?flow={}", flow["id"].as_str().unwrap()));
        let mut request = self.http.post(url).json(&body);
        if let Some(token) = token {
            request = request.header("X-Session-Token", token);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn register(&self, email: &str) -> (String, String) {
        let flow = self.flow("registration").await;
        let body = json!({ "method": "password", "traits": { "email": email }, "password": PASSWORD });
        let (status, done) = self.submit("registration", &flow, body, None).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["continue_with"][0]["action"], "show_verification_ui");
        assert_eq!(done["continue_with"][0]["flow"]["verifiable_address"], email.to_lowercase());
        (done["identity"]["id"].as_str().unwrap().to_owned(), done["session_token"].as_str().unwrap().to_owned())
    }

    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let flow = self.flow("login").await;
        let body = json!({ "method": "password", "identifier": email, "password": password });
        self.submit("login", &flow, body, None).await
    }

    async fn whoami(&self, token: &str) -> (StatusCode, Value) {
        let response =
            self.http.get(self.public("/sessions/whoami")).header("X-Session-Token", token).send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn health_version_and_schemas_answer() {
    let server = Server::start("memory").await;
    for path in ["/health/alive", "/health/ready"] {
        let response = server.http.get(server.public(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    }
    let admin = server.http.get(server.admin("/health/ready")).send().await.unwrap();
    assert_eq!(admin.status(), 200);
    let version: Value = server.http.get(server.public("/version")).json_body().await;
    assert!(version["version"].is_string());
    let schemas: Value = server.http.get(server.public("/schemas")).json_body().await;
    assert_eq!(schemas[0]["id"], "default");
    let by_id = server.http.get(server.public("/schemas/ZGVmYXVsdA")).send().await.unwrap();
    assert_eq!(by_id.status(), 200);
    assert_eq!(server.http.get(server.public("/schemas/nope")).send().await.unwrap().status(), 404);
    server.running.stop().await;
}

#[tokio::test]
async fn native_registration_login_whoami_and_sessions() {
    let server = Server::start("memory").await;
    let (id, token) = server.register("ada@example.com").await;
    let (status, session) = server.whoami(&token).await;
    assert_eq!(status, 200);
    assert_eq!(session["identity"]["id"], id.as_str());
    assert!(session.get("token_hash").is_none() && session["identity"].get("credentials").is_none());
    assert!(session["identity"]["schema_url"].as_str().unwrap().ends_with("/schemas/ZGVmYXVsdA"));

    let (status, error) = server.whoami("not-a-token").await;
    assert_eq!(status, 401);
    assert_eq!(error["error"]["id"], "session_inactive");
    assert_eq!(error["error"]["code"], 401);

    let (status, wrong) = server.login("ada@example.com", "wrong-password").await;
    assert_eq!(status, 400);
    assert_eq!(wrong["ui"]["messages"][0]["id"], 4000006);
    let (status, logged_in) = server.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{logged_in}");
    let second = logged_in["session_token"].as_str().unwrap().to_owned();

    let others: Value =
        server.http.get(server.public("/sessions")).header("X-Session-Token", &second).json_body().await;
    assert_eq!(others.as_array().unwrap().len(), 1);
    let revoked: Value =
        server.http.delete(server.public("/sessions")).header("X-Session-Token", &second).json_body().await;
    assert_eq!(revoked["count"], 1);
    assert_eq!(server.whoami(&token).await.0, 401);

    let logout = server
        .http
        .delete(server.public("/self-service/logout/api"))
        .json(&json!({"session_token": second}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_eq!(server.whoami(&second).await.0, 401);
    server.running.stop().await;
}

#[tokio::test]
async fn settings_change_the_password_and_totp_becomes_a_second_step() {
    let server = Server::start("memory").await;
    let (_, token) = server.register("ada@example.com").await;
    let response = server
        .http
        .get(server.public("/self-service/settings/api"))
        .header("X-Session-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let flow: Value = response.json().await.unwrap();
    let (status, saved) = server
        .submit("settings", &flow, json!({"method": "password", "password": "another-long-passphrase"}), Some(&token))
        .await;
    assert_eq!((status, saved["state"].as_str()), (StatusCode::OK, Some("success")), "{saved}");

    let (status, shown) = server.submit("settings", &flow, json!({"method": "totp"}), Some(&token)).await;
    assert_eq!(status, 200);
    let secret =
        shown["ui"]["nodes"].as_array().unwrap().iter().find(|n| n["attributes"]["id"] == "totp_secret_key").unwrap();
    let uri = secret["attributes"]["text"]["text"].as_str().unwrap();
    let app = totp_rs::Totp::from_url(uri).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (status, saved) = server
        .submit("settings", &flow, json!({"method": "totp", "totp_code": app.generate(now).to_string()}), Some(&token))
        .await;
    assert_eq!(saved["state"], "success", "{status} {saved}");

    let (status, second_step) = server.login("ada@example.com", "another-long-passphrase").await;
    assert_eq!(status, 400);
    assert!(second_step["ui"]["nodes"].as_array().unwrap().iter().any(|n| n["attributes"]["name"] == "totp_code"));
    // The code that confirmed the app is spent; the next step's code is accepted early (one step of skew).
    let code = app.generate(now + 30).to_string();
    let (status, done) = server.submit("login", &second_step, json!({"method": "totp", "totp_code": code}), None).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["session"]["authenticator_assurance_level"], "aal2");
    server.running.stop().await;
}

#[tokio::test]
async fn admin_identities_recovery_codes_and_sessions() {
    let server = Server::start("memory").await;
    let created = server
        .http
        .post(server.admin("/admin/identities"))
        .json(&json!({"schema_id": "default", "traits": {"email": "grace@example.com"},
                      "credentials": {"password": {"config": {"password": PASSWORD}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let grace: Value = created.json().await.unwrap();
    let id = grace["id"].as_str().unwrap().to_owned();
    assert_eq!(grace["credentials"]["password"]["config"], json!({}));
    assert_eq!(grace["credentials"]["password"]["type"], "password");

    let again = server
        .http
        .post(server.admin("/admin/identities"))
        .json(&json!({"schema_id": "default", "traits": {"email": "grace@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let included: Value =
        server.http.get(server.admin(&format!("/admin/identities/{id}?include_credential=password"))).json_body().await;
    assert!(
        included["credentials"]["password"]["config"]["hashed_password"].as_str().unwrap().starts_with("$argon2id$")
    );

    for n in 0..3 {
        server.register(&format!("user{n}@example.com")).await;
    }
    let page = server.http.get(server.admin("/admin/identities?page_size=2")).send().await.unwrap();
    let link = page.headers().get("link").unwrap().to_str().unwrap().to_owned();
    assert_eq!(page.json::<Value>().await.unwrap().as_array().unwrap().len(), 2);
    assert!(link.contains("page_token=") && link.contains("rel=\"next\""), "{link}");
    let filtered: Value =
        server.http.get(server.admin("/admin/identities?credentials_identifier=GRACE@example.com")).json_body().await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    let by_ids: Value = server
        .http
        .get(server.admin(&format!("/admin/identities?ids={id}&ids={}&ids=not-an-id", uuid::Uuid::new_v4())))
        .json_body()
        .await;
    assert_eq!(by_ids.as_array().unwrap().len(), 1);
    assert_eq!(by_ids[0]["id"], id.as_str());

    // An operator's recovery code, redeemed in the recovery flow it belongs to.
    let issued: Value = server
        .http
        .post(server.admin("/admin/recovery/code"))
        .json(&json!({"identity_id": id, "expires_in": "2h", "flow_type": "api"}))
        .json_body()
        .await;
    let link = issued["recovery_link"].as_str().unwrap();
    let flow_id = link.split("flow=").nth(1).unwrap();
    let (status, recovered) = server
        .submit("recovery", &json!({"id": flow_id}), json!({"method": "code", "code": issued["recovery_code"]}), None)
        .await;
    assert_eq!(status, 200, "{recovered}");
    let token = recovered["continue_with"][0]["ory_session_token"].as_str().unwrap().to_owned();
    assert_eq!(server.whoami(&token).await.0, 200);

    let sessions: Value = server.http.get(server.admin(&format!("/admin/identities/{id}/sessions"))).json_body().await;
    let session_id = sessions[0]["id"].as_str().unwrap().to_owned();
    let extended =
        server.http.patch(server.admin(&format!("/admin/sessions/{session_id}/extend"))).send().await.unwrap();
    assert_eq!(extended.status(), 200);
    assert_eq!(
        server.http.delete(server.admin(&format!("/admin/identities/{id}/sessions"))).send().await.unwrap().status(),
        204
    );
    assert_eq!(server.whoami(&token).await.0, 401);

    // All sessions, paged; only active ones on request.
    let all = server.http.get(server.admin("/admin/sessions?page_size=2&expand=identity")).send().await.unwrap();
    assert!(all.headers().get("link").is_some());
    let all: Value = all.json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert!(all[0]["identity"]["id"].is_string());
    let active: Value = server.http.get(server.admin("/admin/sessions?active=true&page_size=100")).json_body().await;
    assert!(active.as_array().unwrap().iter().all(|s| s["active"] == true));
    assert_eq!(server.http.get(server.admin("/admin/sessions?active=maybe")).send().await.unwrap().status(), 400);

    // OIDC links are removed one by one; TOTP that is not there is not found.
    let linked = server.http.post(server.admin("/admin/identities"))
        .json(&json!({"schema_id": "default", "traits": {"email": "linked@example.com"},
                      "credentials": {"oidc": {"config": {"providers": [{"provider": "github", "subject": "1"}, {"provider": "google", "subject": "2"}]}}}}))
        .json_body().await;
    let linked_id = linked["id"].as_str().unwrap();
    let unlink = |identifier: &str| {
        server
            .http
            .delete(server.admin(&format!("/admin/identities/{linked_id}/credentials/oidc?identifier={identifier}")))
            .send()
    };
    assert_eq!(unlink("github:1").await.unwrap().status(), 204);
    assert_eq!(unlink("github:1").await.unwrap().status(), 404);
    let after: Value = server.http.get(server.admin(&format!("/admin/identities/{linked_id}"))).json_body().await;
    assert_eq!(after["credentials"]["oidc"]["identifiers"], json!(["google:2"]));
    assert_eq!(unlink("google:2").await.unwrap().status(), 204);
    let after: Value = server.http.get(server.admin(&format!("/admin/identities/{linked_id}"))).json_body().await;
    assert!(after["credentials"].get("oidc").is_none());
    let totp = server
        .http
        .delete(server.admin(&format!("/admin/identities/{linked_id}/credentials/totp")))
        .send()
        .await
        .unwrap();
    assert_eq!(totp.status(), 404);
    let password = server
        .http
        .delete(server.admin(&format!("/admin/identities/{linked_id}/credentials/password")))
        .send()
        .await
        .unwrap();
    assert_eq!(password.status(), 400);

    // A recovery link signs in when opened, once.
    let link: Value =
        server.http.post(server.admin("/admin/recovery/link")).json(&json!({"identity_id": id})).json_body().await;
    let link = link["recovery_link"].as_str().unwrap().to_owned();
    let opened = server.http.get(&link).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("ory_kratos_session="));
    let whoami = server.http.get(server.public("/sessions/whoami")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(whoami.status(), 200);
    assert_eq!(server.http.get(&link).send().await.unwrap().status(), 404, "a link worked twice");

    // JSON Patch: traits and metadata change, identifiers follow; id and credentials cannot be patched.
    let patched = server
        .http
        .patch(server.admin(&format!("/admin/identities/{id}")))
        .json(&json!([{"op": "replace", "path": "/traits/email", "value": "grace@new.example"},
                      {"op": "add", "path": "/metadata_public", "value": {"tier": "gold"}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["traits"]["email"], "grace@new.example");
    assert_eq!(patched["metadata_public"]["tier"], "gold");
    assert_eq!(patched["credentials"]["password"]["identifiers"], json!(["grace@new.example"]));
    for bad in [
        json!([{"op": "replace", "path": "/id", "value": "x"}]),
        json!([{"op": "remove", "path": "/traits/nope"}]),
        json!({"op": 1}),
    ] {
        let refused =
            server.http.patch(server.admin(&format!("/admin/identities/{id}"))).json(&bad).send().await.unwrap();
        assert_eq!(refused.status(), 400, "{bad}");
    }

    assert_eq!(
        server.http.delete(server.admin(&format!("/admin/identities/{id}"))).send().await.unwrap().status(),
        204
    );
    assert_eq!(server.http.get(server.admin(&format!("/admin/identities/{id}"))).send().await.unwrap().status(), 404);
    server.running.stop().await;
}

#[tokio::test]
async fn bad_input_gets_4xx_json_never_5xx() {
    let server = Server::start("memory").await;
    let flow = server.flow("registration").await;
    let url = server.public(&format!("/self-service/registration?flow={}", flow["id"].as_str().unwrap()));
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (server.http.post(&url).header("content-type", "application/json").body("{not json"), 400),
        (server.http.post(&url).header("content-type", "text/plain").body("x"), 415),
        (
            server
                .http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b"method=%FF%FE".to_vec()),
            400,
        ),
        (server.http.post(&url).header("content-type", "application/json").body("x".repeat(10_000)), 413),
        (server.http.post(&url).json(&json!({"traits": {}})), 400),
        (
            server
                .http
                .post(server.public("/self-service/registration?flow=not-an-id"))
                .json(&json!({"method": "password"})),
            400,
        ),
        (
            server
                .http
                .post(server.public(&format!("/self-service/login?flow={}", uuid::Uuid::new_v4())))
                .json(&json!({"method": "password"})),
            404,
        ),
        (server.http.get(server.public("/no/such/route")), 404),
        (server.http.put(server.public("/sessions/whoami")), 405),
        (server.http.get(server.admin("/admin/identities/not-an-id")), 404),
        (server.http.get(server.admin("/admin/identities?page_size=abc")), 400),
        (server.http.get(server.admin("/admin/identities?page_token=garbage")), 400),
        (
            server
                .http
                .post(server.admin("/admin/identities"))
                .json(&json!({"schema_id": "default", "traits": {"email": 1}})),
            400,
        ),
        (
            server
                .http
                .post(server.admin("/admin/identities"))
                .json(&json!({"schema_id": "default", "traits": {}, "nope": 1})),
            400,
        ),
        (
            server.http.post(server.admin("/admin/recovery/code")).json(&json!({"identity_id": uuid::Uuid::new_v4()})),
            404,
        ),
    ];
    for (request, expected) in cases {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{body}");
        assert_eq!(body["error"]["code"], expected, "{body}");
    }
    server.running.stop().await;
}

#[tokio::test]
async fn browser_flows_need_the_csrf_cookie() {
    let server = Server::start("memory").await;
    let (cookie, token, url) = browser_flow(&server, "registration").await;
    let body = json!({"method": "password", "traits": {"email": "ada@example.com"}, "password": PASSWORD, "csrf_token": token});
    let without_cookie = server.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(without_cookie.status(), 403);
    let with_cookie = server.http.post(&url).header("cookie", &cookie).json(&body).send().await.unwrap();
    assert_eq!(with_cookie.status(), 200);
    let set =
        with_cookie.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert!(set.iter().any(|c| c.starts_with("ory_kratos_session=") && c.contains("HttpOnly")), "{set:?}");
    let from_a_browser = server
        .http
        .get(server.public("/self-service/login/api"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(from_a_browser.status(), 400);
    let bad_return = server
        .http
        .get(server.public("/self-service/login/browser?return_to=https://evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_return.status(), 400);

    // A browser login gets its session as a cookie; browser logout signs out exactly that session.
    let session_cookie = browser_login(&server).await;
    let whoami =
        server.http.get(server.public("/sessions/whoami")).header("cookie", &session_cookie).send().await.unwrap();
    assert_eq!(whoami.status(), 200);
    let logout: Value = server
        .http
        .get(server.public("/self-service/logout/browser"))
        .header("cookie", &session_cookie)
        .json_body()
        .await;
    let url = logout["logout_url"].as_str().unwrap().to_owned();
    let forged = url.replace("token=", "token=0");
    assert_eq!(server.http.get(&forged).send().await.unwrap().status(), 401);
    let no_redirects = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let done = no_redirects.get(format!("{url}&return_to=https://app.example/bye")).send().await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "https://app.example/bye");
    let whoami =
        server.http.get(server.public("/sessions/whoami")).header("cookie", &session_cookie).send().await.unwrap();
    assert_eq!(whoami.status(), 401);
    server.running.stop().await;
}

/// Starts a browser flow of `kind`: the CSRF cookie (`name=value`), its token, and the URL to submit to.
async fn browser_flow(server: &Server, kind: &str) -> (String, String, String) {
    let response = server
        .http
        .get(server.public(&format!("/self-service/{kind}/browser")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let flow: Value = response.json().await.unwrap();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let url = server.public(&format!("/self-service/{kind}?flow={}", flow["id"].as_str().unwrap()));
    (cookie, token, url)
}

/// Signs ada in through a browser login flow and returns the session cookie (`name=value`).
async fn browser_login(server: &Server) -> String {
    let (csrf, token, url) = browser_flow(server, "login").await;
    let body =
        json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD, "csrf_token": token});
    let response = server.http.post(&url).header("cookie", &csrf).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let set =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    set.iter().find(|c| c.starts_with("ory_kratos_session=")).unwrap().split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn identities_and_sessions_survive_a_restart_on_the_same_sqlite_file() {
    let dsn = format!("sqlite://{}", temp_db().display());
    let server = Server::start(&dsn).await;
    let (id, token) = server.register("ada@example.com").await;
    server.running.stop().await;
    let server = Server::start(&dsn).await;
    let (status, session) = server.whoami(&token).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["identity"]["id"], id.as_str());
    assert_eq!(server.login("ada@example.com", PASSWORD).await.0, 200);
    // The built-in roles were seeded at the first start, and the second found them instead of adding more.
    let roles = server.running.state.store.list_roles().await.unwrap();
    let mut names: Vec<String> = roles.iter().map(|role| role.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["administrator", "platform-administrator", "reader", "user"]);
    assert_eq!(
        roles.iter().find(|role| role.id == server.running.state.builtin_roles.user).map(|r| r.name.as_str()),
        Some("user")
    );
    server.running.stop().await;
}

#[tokio::test]
async fn cors_answers_allowed_origins_on_the_public_api_only() {
    let document = json!({
        "dsn": "memory",
        "serve": { "public": { "port": 0, "cors": { "enabled": true, "allowed_origins": ["https://app.example"] } },
                   "admin": { "port": 0 } },
    });
    let running = start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap();
    let http = Client::new();
    let preflight = |base: String, origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("http://{base}/sessions/whoami"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight(running.public.to_string(), "https://app.example").await.unwrap();
    assert_eq!(
        allowed.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()),
        Some("https://app.example")
    );
    assert_eq!(allowed.headers().get("access-control-allow-credentials").map(|v| v.to_str().unwrap()), Some("true"));
    let other = preflight(running.public.to_string(), "https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let admin = preflight(running.admin.to_string(), "https://app.example").await.unwrap();
    assert!(admin.headers().get("access-control-allow-origin").is_none(), "the admin API answered CORS");
    let id = http.get(format!("http://{}/health/alive", running.public)).send().await.unwrap();
    assert!(id.headers().get("x-request-id").is_some(), "no request id");
    running.stop().await;
}

#[tokio::test]
async fn browser_form_posts_are_answered_with_redirects() {
    let document = json!({
        "dsn": "memory",
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
        "selfservice": {
            "default_return_url": "https://app.example/home",
            "allowed_return_urls": ["https://app.example/"],
            "ui_urls": { "login": "https://app.example/login", "registration": "https://app.example/signup" },
        },
    });
    let running = start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap();
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let public = |path: &str| format!("http://{}{path}", running.public);

    // Creating a browser flow without asking for JSON sends the browser to the UI.
    let created = http
        .get(public("/self-service/registration/browser?return_to=https://app.example/welcome"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("https://app.example/signup?flow="), "{location}");
    let flow_id = location.split("flow=").nth(1).unwrap().to_owned();
    let cookie = created.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let token = cookie.split_once('=').unwrap().1.to_owned();

    let form = format!(
        "method=password&csrf_token={token}&traits.email=ada%40example.com&password=correct-horse-battery-staple"
    );
    let submit = |form: String| {
        http.post(public(&format!("/self-service/registration?flow={flow_id}")))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let weak = submit(format!("method=password&csrf_token={token}&traits.email=ada%40example.com&password=short"))
        .await
        .unwrap();
    assert_eq!(weak.status(), 303);
    assert_eq!(weak.headers()["location"], format!("https://app.example/signup?flow={flow_id}"));
    let done = submit(form).await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "https://app.example/welcome");
    let session = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("ory_kratos_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let whoami = http.get(public("/sessions/whoami")).header("cookie", &session).send().await.unwrap();
    assert_eq!(whoami.status(), 200);
    running.stop().await;
}

#[tokio::test]
async fn a_request_whose_body_does_not_arrive_in_time_gets_a_408_json_error_and_the_server_goes_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let document = json!({
        "dsn": "memory",
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 }, "request_timeout": "1s" },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
    });
    let running = start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap();
    // Headers promise a body that never comes: only the timeout can end the request.
    let mut stalled = tokio::net::TcpStream::connect(running.admin).await.unwrap();
    let head =
        "POST /admin/identities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    stalled.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut buffer = [0u8; 4096];
        loop {
            let n = stalled.read(&mut buffer).await.unwrap_or(0);
            answer.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&answer);
            let complete =
                text.split_once("\r\n\r\n").is_some_and(|(_, body)| serde_json::from_str::<Value>(body).is_ok());
            if n == 0 || complete {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never answered the stalled request");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let error: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"));
    assert_eq!(error["error"]["code"], 408, "{error}");
    // Other clients are still served.
    let alive = Client::new().get(format!("http://{}/health/alive", running.public)).send().await.unwrap();
    assert_eq!(alive.status(), 200);
    running.stop().await;
}

/// The value of `name` in `url`'s query.
fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

#[tokio::test]
async fn the_oauth2_provider_answers_at_hydras_paths() {
    let server = Server::start("memory").await;
    let no_redirects = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = "https://app.example/callback";

    // Registration on the admin listener: the secret shown once, bad metadata and a taken id refused.
    let client = json!({
        "client_id": "shop", "client_name": "Shop", "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "scope": "openid email reports:read", "token_endpoint_auth_method": "client_secret_basic"
    });
    let response = server.http.post(server.admin("/admin/clients")).json(&client).send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let created: Value = response.json().await.unwrap();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(created["redirect_uris"], json!([redirect]));
    let listed = server.http.get(server.admin("/admin/clients")).json_body().await;
    assert!(
        listed[0].get("client_secret").is_none()
            && listed[0].get("client_secret_hash").is_some_and(|h| h != &json!(secret))
    );
    let again = server.http.post(server.admin("/admin/clients")).json(&client).send().await.unwrap();
    assert_eq!(again.status(), 409);
    let bad = json!({"grant_types": ["authorization_code"], "token_endpoint_auth_method": "none"});
    let refused = server.http.post(server.admin("/admin/clients")).json(&bad).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_client_metadata");
    assert_eq!(server.http.get(server.public("/admin/clients")).send().await.unwrap().status(), 404, "admin only");
    let not_json = server.http.post(server.admin("/admin/clients")).body("{").send().await.unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(not_json.json::<Value>().await.unwrap()["error"], "invalid_client_metadata");
    let garbage = server
        .http
        .post(server.public("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', b'%', b'4'])
        .send()
        .await
        .unwrap();
    // Decoded lossily (as form decoders do), it names no client: a 4xx with RFC 6749 JSON, never a 5xx.
    assert!(garbage.status().is_client_error(), "{}", garbage.status());
    assert!(garbage.json::<Value>().await.unwrap()["error"].is_string());

    // Discovery names the public URL as the issuer, and its keys are published.
    let discovery = server.http.get(server.public("/.well-known/openid-configuration")).json_body().await;
    assert_eq!(discovery["issuer"], server.public(""));
    // Introspection is on the admin listener only, so discovery (public) does not point relying parties at it.
    assert!(discovery.get("introspection_endpoint").is_none(), "{discovery}");
    let jwks = server.http.get(server.public("/.well-known/jwks.json")).json_body().await;
    assert_eq!(jwks["keys"][0]["alg"], "ES256");

    // client_credentials, introspected on the admin listener, then revoked.
    let token = |form: Vec<(&str, String)>| {
        server.http.post(server.public("/oauth2/token")).basic_auth("shop", Some(&secret)).form(&form).send()
    };
    let response =
        token(vec![("grant_type", "client_credentials".into()), ("scope", "reports:read".into())]).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let issued: Value = response.json().await.unwrap();
    let access = issued["access_token"].as_str().unwrap().to_owned();
    let introspect =
        |token: String| server.http.post(server.admin("/admin/oauth2/introspect")).form(&[("token", token)]).send();
    let seen: Value = introspect(access.clone()).await.unwrap().json().await.unwrap();
    assert_eq!((seen["active"].clone(), seen["client_id"].clone()), (json!(true), json!("shop")));
    let revoked = server
        .http
        .post(server.public("/oauth2/revoke"))
        .basic_auth("shop", Some(&secret))
        .form(&[("token", access.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(access).await.unwrap().json::<Value>().await.unwrap()["active"], false);
    let wrong = server
        .http
        .post(server.public("/oauth2/token"))
        .basic_auth("shop", Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_client");
    let not_a_form = server
        .http
        .post(server.public("/oauth2/token"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), 400);
    assert_eq!(not_a_form.json::<Value>().await.unwrap()["error"], "invalid_request");

    // The authorization code flow: a browser without a session goes to the login flow and comes back.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let params = [
        ("response_type", "code"),
        ("client_id", "shop"),
        ("redirect_uri", redirect),
        ("scope", "openid email"),
        ("state", "s-1"),
        ("nonce", "n-1"),
        ("code_challenge", &identity_oidc::pkce::challenge_s256(verifier)),
        ("code_challenge_method", "S256"),
    ];
    let authorize = format!("{}?{}", server.public("/oauth2/auth"), serde_urlencoded::to_string(params).unwrap());
    let detour = no_redirects.get(&authorize).send().await.unwrap();
    assert_eq!(detour.status(), 303);
    let login = detour.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.starts_with(&server.public("/self-service/login/browser?")), "{login}");
    let resume = query_param(&login, "return_to").unwrap();
    assert!(resume.starts_with(&server.public("/oauth2/auth?")) && resume.contains("client_id=shop"), "{resume}");
    // The browser flow accepts coming back here as its return_to (without a UI configured it shows the flow).
    let flow = no_redirects.get(&login).header("accept", "application/json").send().await.unwrap();
    assert_eq!(flow.status(), 200, "the login flow refused the return_to");
    assert_eq!(flow.json::<Value>().await.unwrap()["return_to"], json!(resume));

    let (identity, session) = server.register("ada@example.com").await;
    let signed_in =
        no_redirects.get(&resume).header("cookie", format!("ory_kratos_session={session}")).send().await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let back = signed_in.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(redirect), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("s-1"));
    let code = query_param(&back, "code").unwrap();
    let exchange = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", redirect.to_owned()),
        ("code_verifier", verifier.to_owned()),
    ];
    let tokens: Value = token(exchange).await.unwrap().json().await.unwrap();
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string(), "{tokens}");
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let me = server.http.get(server.public("/userinfo")).header("authorization", &bearer).json_body().await;
    assert_eq!((me["sub"].as_str(), me["email"].as_str()), (Some(identity.as_str()), Some("ada@example.com")));
    let posted = server.http.post(server.public("/userinfo")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(posted.status(), 200);
    // The same access token is a credential of the RBAC API (a JWT in the bearer header, not a session).
    let acl = server.http.get(server.public("/api/v1/acl")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(acl.status(), 200);
    let anonymous = server.http.get(server.public("/userinfo")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));

    // Disabling the identity ends its grants: the refresh token stops working.
    let disable = json!({"schema_id": "default", "traits": {"email": "ada@example.com"}, "state": "inactive"});
    let put =
        server.http.put(server.admin(&format!("/admin/identities/{identity}"))).json(&disable).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let refresh = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap().to_owned()),
    ];
    let refused = token(refresh).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(access).await.unwrap().json::<Value>().await.unwrap()["active"], false);
    let acl = server.http.get(server.public("/api/v1/acl")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(acl.status(), 401, "a disabled identity's access token is no credential");
    // Enabled again, the identity keeps its grants revoked: the old access token still has a good signature and
    // an active subject, and is refused all the same.
    let enable = json!({"schema_id": "default", "traits": {"email": "ada@example.com"}, "state": "active"});
    let put =
        server.http.put(server.admin(&format!("/admin/identities/{identity}"))).json(&enable).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let acl = server.http.get(server.public("/api/v1/acl")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(acl.status(), 401, "a revoked access token is no credential");

    // Rotating the signing keys: the new key signs, the old one is still published, so tokens it signed verify.
    let before = server.http.get(server.public("/.well-known/jwks.json")).json_body().await;
    let rotated = server.http.post(server.admin("/admin/oauth2/keys/rotate")).send().await.unwrap();
    assert_eq!(rotated.status(), 200);
    let after = server.http.get(server.public("/.well-known/jwks.json")).json_body().await;
    assert_eq!(after["keys"].as_array().unwrap().len(), 2);
    assert_eq!(after["keys"][1]["kid"], before["keys"][0]["kid"]);
    let fresh: Value = token(vec![("grant_type", "client_credentials".into())]).await.unwrap().json().await.unwrap();
    let header = fresh["access_token"].as_str().unwrap().split('.').next().unwrap().to_owned();
    let header: Value = serde_json::from_slice(&base64_url(&header)).unwrap();
    assert_eq!(header["kid"], after["keys"][0]["kid"], "the new key signs");

    // An unknown client is told so here, never redirected.
    let stranger = authorize.replace("client_id=shop", "client_id=nobody");
    let shown = no_redirects.get(&stranger).send().await.unwrap();
    assert_eq!(shown.status(), 401);
    assert!(shown.headers().get("location").is_none());

    let metrics = server.http.get(server.admin("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        "identity_oauth2_token_grants_total{grant_type=\"client_credentials\"} 2",
        "identity_oauth2_token_grants_total{grant_type=\"authorization_code\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
    }
    server.running.stop().await;
}

#[tokio::test]
async fn mutual_tls_clients_get_tokens_bound_to_their_certificate() {
    let pki = Pki::new();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mtls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (server_cert, server_key, _) = pki.issue(
        "localhost",
        vec!["127.0.0.1".into(), "localhost".into()],
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );
    for (name, text) in [("server.pem", &server_cert), ("server.key", &server_key), ("ca.pem", &pki.ca.pem())] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut document = serde_json::to_value(json!({
        "dsn": "memory",
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 }, "mtls": {
            "port": 0, "certificate_file": dir.join("server.pem"), "key_file": dir.join("server.key"),
            "client_ca_file": dir.join("ca.pem") } },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
    }))
    .unwrap();
    let running = start(Config::from_value(document.take(), std::iter::empty()).unwrap()).await.unwrap();
    let mtls = running.mtls.unwrap();
    let (http, public, admin) =
        (Client::new(), format!("http://{}", running.public), format!("http://{}", running.admin));

    // The service `billing` holds its certificate; a client registered for its subject uses it.
    let (billing_pem, billing_key, billing_der) =
        pki.issue("billing", vec![], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    let verifier = identity_auth::CertificateVerifier::from_pem(&pki.ca.pem()).unwrap();
    let verified = verifier.verify(&billing_der, &[], identity_core::time::OffsetDateTime::now_utc()).unwrap();
    let mut service = identity_core::Identity::new(
        "default",
        json!({"email": "billing@example.com"}),
        identity_core::time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    service.identity_type = identity_core::IdentityType::Service;
    let config = identity_core::CredentialConfig::X509(identity_core::X509Config::single(
        verified.fingerprint,
        verified.subject.clone(),
    ));
    service.credentials.insert(
        identity_core::Credential::new(config, vec![], identity_core::time::OffsetDateTime::now_utc()).unwrap(),
    );
    running.state.store.create_identity(&service).await.unwrap();
    let client = json!({
        "client_id": "billing-svc", "grant_types": ["client_credentials"], "scope": "openid email",
        "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=billing"
    });
    assert_eq!(http.post(format!("{admin}/admin/clients")).json(&client).send().await.unwrap().status(), 201);

    let over_tls = |identity: Option<(&str, &str)>| support::tls_client(&pki.ca.pem(), identity);
    let with_billing = over_tls(Some((&billing_pem, &billing_key)));
    let tls_url = |path: &str| format!("https://localhost:{}{path}", mtls.port());
    let form = [("grant_type", "client_credentials"), ("client_id", "billing-svc"), ("scope", "openid email")];
    let response = with_billing.post(tls_url("/oauth2/token")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());

    // Bound: refused without the certificate (the plain listener, or TLS without one), or with another.
    let me = with_billing.get(tls_url("/userinfo")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.unwrap()["sub"], json!(service.id.to_string()));
    let plain = http.get(format!("{public}/userinfo")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(plain.status(), 401);
    let anonymous = over_tls(None);
    let bare = anonymous.get(tls_url("/userinfo")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    let (other_pem, other_key, _) = pki.issue("billing", vec![], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    let with_other = over_tls(Some((&other_pem, &other_key)));
    let stolen = with_other.get(tls_url("/userinfo")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(stolen.status(), 401, "a token bound to one certificate is refused with another");

    // Without a certificate, or with one that maps to no identity, the client does not authenticate.
    for client in [&anonymous, &with_other] {
        let refused = client.post(tls_url("/oauth2/token")).form(&form).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_client");
    }
    let discovery: Value =
        http.get(format!("{public}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(discovery["tls_client_certificate_bound_access_tokens"], true);
    running.stop().await;
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}

#[tokio::test]
async fn metrics_count_requests_logins_registrations_and_sessions_on_the_admin_listener() {
    let server = Server::start("memory").await;
    let (_, token) = server.register("ada@example.com").await;
    assert_eq!(server.login("ada@example.com", PASSWORD).await.0, 200);
    assert_eq!(server.login("ada@example.com", "wrong-horse-battery-staple").await.0, 400);
    assert_eq!(server.whoami(&token).await.0, 200);
    assert_eq!(server.http.get(server.public("/metrics")).send().await.unwrap().status(), 404, "admin only");

    let response = server.http.get(server.admin("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    for line in [
        "identity_registrations_total 1",
        "identity_logins_total{outcome=\"succeeded\"} 1",
        "identity_logins_total{outcome=\"failed\"} 1",
        "identity_active_sessions 2",
        "identity_http_requests_total{listener=\"public\",method=\"GET\",route=\"/sessions/whoami\",status=\"200\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    assert!(text.contains("identity_http_request_duration_seconds_bucket{"), "{text}");
    // Templates, not paths: no flow ids or tokens in the labels.
    assert!(text.contains("route=\"/self-service/{kind}\"") && !text.contains(&token), "{text}");
    server.running.stop().await;
}

const ACCESS_RULES: &str = r#"
- id: public
  match: { methods: [GET], url: "https://app.example/public/**" }
  authenticators: [anonymous]
  authorizer: allow
- id: private
  match: { methods: [GET, POST], url: "https://app.example/private/**" }
  authenticators: [cookie_session, bearer_session_token]
  authorizer: allow
  headers:
    X-User-Id: "{{ subject_id }}"
    X-User-Email: { key: email }
- id: closed
  match: { methods: [GET], url: "https://app.example/closed" }
  authenticators: [anonymous]
  authorizer: deny
"#;

#[tokio::test]
async fn decisions_answer_traefik_and_nginx_by_the_access_rules_and_reload() {
    let rules = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rules-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(&rules, ACCESS_RULES).unwrap();
    let config = Config::from_value(
        json!({
            "dsn": "memory",
            "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
            "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
            "access_rules": { "file": rules, "login_url": "https://id.example/login" },
        }),
        std::iter::empty(),
    )
    .unwrap();
    let server = Server {
        running: start(config).await.unwrap(),
        http: Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
    };
    let (identity, token) = server.register("ada@example.com").await;

    // Traefik's ForwardAuth: the original request in X-Forwarded-* headers.
    let traefik = |method: &str, uri: &str| {
        server
            .http
            .get(server.public("/decisions"))
            .header("x-forwarded-method", method)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "app.example")
            .header("x-forwarded-uri", uri)
    };
    assert_eq!(traefik("GET", "/public/page").send().await.unwrap().status(), 200);
    let browser = traefik("GET", "/private/page").header("accept", "text/html").send().await.unwrap();
    assert_eq!(browser.status(), 302);
    let login = browser.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.starts_with("https://id.example/login") && login.contains("return_to="), "{login}");
    assert_eq!(traefik("GET", "/private/page").send().await.unwrap().status(), 401, "an API client is not redirected");
    let allowed = traefik("POST", "/private/page").header("x-session-token", &token).send().await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["x-user-id"], identity.as_str());
    assert_eq!(allowed.headers()["x-user-email"], "ada@example.com");
    let by_cookie =
        traefik("GET", "/private/page").header("cookie", format!("ory_kratos_session={token}")).send().await.unwrap();
    assert_eq!(by_cookie.status(), 200);
    let forged = traefik("GET", "/private/page").header("x-session-token", "not-a-session").send().await.unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(traefik("GET", "/closed").send().await.unwrap().status(), 403);
    assert_eq!(traefik("GET", "/elsewhere").send().await.unwrap().status(), 403, "unmatched requests are denied");
    assert_eq!(traefik("GET", "/public/../private/page").send().await.unwrap().status(), 403, "dot segments");
    assert_eq!(traefik("DELETE", "/public/page").send().await.unwrap().status(), 403, "another method");

    // nginx's auth_request: the original URI after /decisions; never a redirect, which nginx would make a 500.
    let nginx = |path: &str| {
        server
            .http
            .get(server.public(&format!("/decisions{path}")))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "app.example")
    };
    assert_eq!(nginx("/public/page?x=1").send().await.unwrap().status(), 200);
    let browser = nginx("/private/page").header("accept", "text/html").send().await.unwrap();
    assert_eq!(browser.status(), 401);
    assert!(browser.headers()["location"].to_str().unwrap().starts_with("https://id.example/login"));
    assert_eq!(
        nginx("/private/page").header("authorization", format!("Bearer {token}")).send().await.unwrap().status(),
        200
    );
    assert_eq!(nginx("/closed").send().await.unwrap().status(), 403);

    // A reload takes the new rules; a file that does not load leaves the old ones in force.
    let access = server.running.state.access_rules.as_ref().unwrap();
    std::fs::write(&rules, ACCESS_RULES.replace("authorizer: allow\n  headers", "authorizer: deny\n  headers"))
        .unwrap();
    assert_eq!(access.reload().unwrap(), 3);
    assert_eq!(traefik("GET", "/private/page").header("x-session-token", &token).send().await.unwrap().status(), 403);
    std::fs::write(&rules, "- id: [broken").unwrap();
    assert!(access.reload().is_err());
    assert_eq!(traefik("GET", "/public/page").send().await.unwrap().status(), 200, "the old rules stay");
    server.running.stop().await;
}

#[tokio::test]
async fn the_caller_reads_its_acl_platform_wide_and_in_an_organization() {
    let server = Server::start("memory").await;
    let (identity, token) = server.register("ada@example.com").await;
    let acl = |path: &str, token: Option<&str>| {
        let mut request = server.http.get(server.public(path));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send()
    };
    assert_eq!(acl("/api/v1/acl", None).await.unwrap().status(), 401);
    assert_eq!(acl("/api/v1/acl", Some("a.b.c")).await.unwrap().status(), 401, "a forged access token");
    let global = acl("/api/v1/acl", Some(&token)).await.unwrap();
    assert_eq!(global.status(), 200);
    assert_eq!(global.json::<Value>().await.unwrap(), json!({}), "not a platform administrator: nothing global");

    // Ada is a `user` of acme through a group.
    let store = &server.running.state.store;
    let acme = identity_core::Organization::new("acme", "Acme").unwrap();
    store.create_organization(&acme).await.unwrap();
    let mut group = identity_core::Group::new(acme.id, "staff").unwrap();
    group.members.insert(identity.parse().unwrap());
    group.role_ids.insert(server.running.state.builtin_roles.user);
    store.create_group(&group).await.unwrap();
    let response = acl(&format!("/api/v1/organizations/{}/acl", acme.id), Some(&token)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["organization"]["id"], acme.id.to_string());
    assert!(body["organization"]["endpoints"].as_array().is_some_and(|scopes| !scopes.is_empty()), "{body}");
    let elsewhere = identity_core::OrganizationId::new();
    assert_eq!(acl(&format!("/api/v1/organizations/{elsewhere}/acl"), Some(&token)).await.unwrap().status(), 404);
    assert_eq!(acl("/api/v1/organizations/not-an-id/acl", Some(&token)).await.unwrap().status(), 404);
    server.running.stop().await;
}

#[tokio::test]
async fn a_key_rotation_on_one_replica_reaches_the_other_by_the_reload_task() {
    // Two replicas on one SQLite file behind one public URL (one issuer), as behind a load balancer; the second
    // reloads every second here (`oauth2.key_reload_interval`, 60 s by default).
    let dsn = format!("sqlite://{}", temp_db().display());
    let replica = || {
        let mut config = config(&dsn);
        config.serve.public.base_url = Some("https://id.example".into());
        config.oauth2.key_reload_interval = identity_server::config::DurationText("1s".into());
        async move { Server { running: start(config).await.unwrap(), http: Client::new() } }
    };
    let (a, b) = (replica().await, replica().await);
    let kids = |server: &Server| {
        let url = server.public("/.well-known/jwks.json");
        let http = server.http.clone();
        async move { support::kids(&http.get(url).json_body().await) }
    };
    let before = kids(&b).await;
    assert_eq!(kids(&a).await, before, "replicas starting on one store share one key set");
    assert_eq!(a.http.post(a.admin("/admin/oauth2/keys/rotate")).send().await.unwrap().status(), 200);
    let rotated = kids(&a).await;
    assert_ne!(rotated[0], before[0]);

    // A token signed by A's new key: B serves the new key set by its timed reload, before any token shows it.
    let client = json!({"client_id": "svc", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"});
    let created = a.http.post(a.admin("/admin/clients")).json(&client).json_body().await;
    let secret = created["client_secret"].as_str().unwrap();
    let issued = a
        .http
        .post(a.public("/oauth2/token"))
        .basic_auth("svc", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .json_body()
        .await;
    let access = issued["access_token"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while kids(&b).await != rotated {
        assert!(std::time::Instant::now() < deadline, "B never reloaded the rotated keys");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen = b.http.post(b.admin("/admin/oauth2/introspect")).form(&[("token", access)]).json_body().await;
    assert_eq!(seen["active"], true, "{seen}");
    a.running.stop().await;
    b.running.stop().await;
}

#[tokio::test]
async fn cookies_are_httponly_lax_and_secure_behind_https_and_logins_never_reuse_a_session() {
    // Behind https (the public base URL says so), every cookie the flows set is Secure too.
    let mut behind_tls = config("memory");
    behind_tls.serve.public.base_url = Some("https://id.example".into());
    let server = Server { running: start(behind_tls).await.unwrap(), http: Client::new() };
    server.register("ada@example.com").await;
    let (csrf, token, url) = browser_flow(&server, "login").await;
    let body =
        json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD, "csrf_token": token});
    let response = server.http.post(&url).header("cookie", &csrf).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&server, response).await;
    assert!(
        cookies.iter().any(|c| c.starts_with("ory_kratos_session="))
            && cookies.iter().any(|c| c.starts_with("csrf_token_"))
    );
    for set in &cookies {
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure"), "{set}");
    }
    server.running.stop().await;

    // Over plain http they are not Secure (browsers would drop them), and still HttpOnly and Lax.
    let server = Server::start("memory").await;
    let (_, first) = server.register("ada@example.com").await;
    let set = browser_login(&server).await;
    let created = server.http.get(server.public("/self-service/login/browser")).header("accept", "application/json");
    for cookie in set_cookies(&server, created.send().await.unwrap()).await {
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"),
            "{cookie}"
        );
    }
    // Every login issues a new session token, whatever the client already holds: no session fixation.
    let (_, second) = server.login("ada@example.com", PASSWORD).await;
    let second = second["session_token"].as_str().unwrap().to_owned();
    assert!(first != second && !set.ends_with(&second) && !set.ends_with(&first));
    // Logout ends exactly the session it names.
    let logout = server.http.delete(server.public("/self-service/logout/api")).json(&json!({"session_token": first}));
    assert_eq!(logout.send().await.unwrap().status(), 204);
    let whoami =
        |token: &str| server.http.get(server.public("/sessions/whoami")).header("X-Session-Token", token).send();
    assert_eq!(whoami(&first).await.unwrap().status(), 401);
    assert_eq!(whoami(&second).await.unwrap().status(), 200);
    server.running.stop().await;
}

/// The `Set-Cookie` headers of `response`, and of a fresh browser login flow's creation on `server`.
async fn set_cookies(server: &Server, response: reqwest::Response) -> Vec<String> {
    let created = server.http.get(server.public("/self-service/login/browser")).header("accept", "application/json");
    let created = created.send().await.unwrap();
    [response, created]
        .iter()
        .flat_map(|r| {
            r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn no_admin_operation_is_reachable_on_the_public_listener() {
    let server = Server::start("memory").await;
    let document = server.http.get(server.admin("/openapi.json")).json_body().await;
    let shared = ["/health/alive", "/health/ready", "/version", "/openapi.json"];
    for (path, operations) in document["paths"].as_object().unwrap() {
        if shared.contains(&path.as_str()) || path.starts_with("/api/v1/") {
            continue; // The same API on both listeners, checked against the caller on the public one.
        }
        let concrete = path.replace("{id}", &uuid::Uuid::new_v4().to_string()).replace(['{', '}'], "");
        for method in operations.as_object().unwrap().keys() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let answer = server.http.request(method.clone(), server.public(&concrete)).send().await.unwrap();
            let body: Value = answer.json().await.unwrap_or(Value::Null);
            assert_eq!(body["error"]["reason"], "Not Found", "{method} {path} on the public listener: {body}");
        }
    }
    server.running.stop().await;
}
