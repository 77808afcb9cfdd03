//! Federation end to end: the real server (SQLite) and Node's `oidc-provider` as a real upstream on loopback, an
//! operator registering the provider through the admin API, and a cookie-keeping browser signing in through the
//! upstream and back; plus what must be refused (forged and replayed callbacks, upstream errors, other browsers,
//! unknown providers, bad admin input) and that the client secret is never answered.
//!
//! The tests that need the upstream run when node and the package are installed (`.ci/run` installs it into
//! `target/oidc-provider-node`) and say SKIPPED otherwise; the others always run.

use std::io::BufRead as _;

use identity_server::config::Config;
use identity_server::server::{Running, start};
use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::{Value, json};

mod support;

use support::JsonBody;
use support::browser::{Browser, csrf_token, location, query};

const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/oidc-provider-node");
const UPSTREAM_SCRIPT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../identity-oidc/tests/federation_support/upstream.mjs");
const CLIENT_ID: &str = "server-e2e-client";
const CLIENT_SECRET: &str = "server-e2e-client-secret-0123456789";
const RETURN_TO: &str = "https://app.example/signed-in";

fn temp_db() -> String {
    let path =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("federation-{}.db", uuid::Uuid::new_v4()));
    format!("sqlite://{}", path.display())
}

struct Server {
    running: Running,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Self {
        let document = json!({
            "dsn": temp_db(),
            "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
            "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
            "selfservice": { "allowed_return_urls": ["https://app.example/"] },
        });
        let running = start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap();
        Self { running, http: reqwest::Client::new() }
    }

    fn public(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.public)
    }

    fn admin(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.admin)
    }

    fn callback(&self, provider: &str) -> String {
        self.public(&format!("/self-service/methods/oidc/callback/{provider}"))
    }

    /// Registers an OIDC provider at `issuer` through the admin API; answers the status and body.
    async fn add_provider(&self, body: Value) -> (StatusCode, Value) {
        let response = self.http.post(self.admin("/admin/identity-providers")).json(&body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(!text.contains(CLIENT_SECRET), "the secret was answered: {text}");
        (status, serde_json::from_str(&text).unwrap())
    }
}

fn provider_body(id: &str, issuer: &str) -> Value {
    json!({
        "id": id, "display_name": "Node upstream", "type": "oidc", "issuer": issuer,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    })
}

impl Browser {
    /// Starts a browser flow of `kind` (asking for JSON, as a UI's script does) and answers it.
    async fn flow(&mut self, server: &Server, kind: &str) -> Value {
        let url = server.public(&format!("/self-service/{kind}/browser?return_to={RETURN_TO}"));
        let request = self.http.get(url).header(ACCEPT, "application/json");
        let response = self.send(request).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Submits `flow` as a form with its CSRF token and `fields`.
    async fn submit(&mut self, flow: &Value, fields: &[(&str, &str)], json: bool) -> reqwest::Response {
        let csrf = csrf_token(flow);
        let mut form = vec![("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        let mut request = self.http.post(flow["ui"]["action"].as_str().unwrap()).form(&form);
        if json {
            request = request.header(ACCEPT, "application/json");
        }
        self.send(request).await
    }

    fn forget_session(&mut self) {
        self.cookies.remove("ory_kratos_session");
    }
}

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

struct NodeUpstream {
    child: std::process::Child,
    issuer: String,
}

impl Drop for NodeUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts identity-oidc's `oidc-provider` script (beside the installed package: ES modules resolve packages from
/// the script's directory) with our client registered for `redirect_uri`, or says why it cannot.
fn start_upstream(redirect_uri: &str) -> Result<NodeUpstream, String> {
    let dir = std::path::Path::new(NODE_DIR);
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        return Err(format!("oidc-provider is not installed (run `npm install oidc-provider` in {NODE_DIR})"));
    }
    let script = dir.join(format!("server-federation-upstream-{}.mjs", uuid::Uuid::new_v4()));
    std::fs::copy(UPSTREAM_SCRIPT, &script).unwrap();
    let mut child = std::process::Command::new("node")
        .arg(&script)
        .args([CLIENT_ID, CLIENT_SECRET, redirect_uri])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let _ = std::fs::remove_file(&script);
    let issuer = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("the node upstream said {line:?}"));
    // Keep reading: the provider logs later, and a closed pipe would end it.
    std::thread::spawn(move || stdout.lines().map_while(Result::ok).for_each(|line| eprintln!("node: {line}")));
    Ok(NodeUpstream { issuer: issuer.to_owned(), child })
}

/// The server, and the upstream registered at it as provider `id` through the admin API; `None` (after saying
/// SKIPPED) without node or the package.
async fn server_with_upstream() -> Option<(Server, NodeUpstream, String)> {
    let server = Server::start().await;
    let id = uuid::Uuid::new_v4().to_string();
    let upstream = match start_upstream(&server.callback(&id)) {
        Ok(upstream) => upstream,
        Err(why) => {
            println!("SKIPPED: the federation end-to-end test needs Node's oidc-provider: {why}");
            return None;
        }
    };
    let (status, created) = server.add_provider(provider_body(&id, &upstream.issuer)).await;
    assert_eq!(status, 201, "{created}");
    Some((server, upstream, id))
}

/// Signs `browser` in at the upstream through a login flow submitted with `fields`; answers the callback URL
/// the upstream sent it back to (not yet opened).
async fn through_upstream(browser: &mut Browser, server: &Server, provider: &str, fields: &[(&str, &str)]) -> String {
    let flow = browser.flow(server, "login").await;
    let submitted = browser.submit(&flow, fields, false).await;
    assert_eq!(submitted.status(), 303);
    let authorization = location(&submitted);
    browser.follow_until(&authorization, &server.callback(provider)).await
}

async fn whoami(browser: &mut Browser, server: &Server) -> (StatusCode, Value) {
    let response = browser.get(&server.public("/sessions/whoami")).await;
    error_of(response).await
}

#[tokio::test]
async fn a_browser_signs_in_through_a_real_upstream_and_the_next_login_finds_the_same_identity() {
    let Some((server, upstream, id)) = server_with_upstream().await else { return };
    let mut browser = Browser::new();

    // The login flow offers the provider as a button of group oidc.
    let flow = browser.flow(&server, "login").await;
    let nodes = flow["ui"]["nodes"].as_array().unwrap();
    let button = nodes.iter().find(|n| n["group"] == "oidc").expect("no oidc node");
    assert_eq!(
        button["attributes"],
        json!({"name": "provider", "type": "submit", "value": id, "disabled": false, "node_type": "input"})
    );
    assert_eq!(button["meta"]["label"]["id"], 1010002);
    assert_eq!(button["meta"]["label"]["text"], "Sign in with Node upstream");

    // Submitting the provider (as Kratos' UI buttons do, without a method) sends the browser to the upstream.
    let submitted = browser.submit(&flow, &[("provider", &id)], false).await;
    assert_eq!(submitted.status(), 303);
    let authorization = location(&submitted);
    assert!(authorization.starts_with(&upstream.issuer), "{authorization}");
    assert_eq!(query(&authorization, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query(&authorization, "redirect_uri"), Some(server.callback(&id)));
    assert!(!authorization.contains(CLIENT_SECRET));
    let back = browser.follow_until(&authorization, &server.callback(&id)).await;

    let signed_in = browser.get(&back).await;
    assert_eq!(signed_in.status(), 303, "{:?}", signed_in.text().await);
    assert_eq!(location(&signed_in), RETURN_TO);
    assert!(browser.cookies.contains_key("ory_kratos_session"));
    let (status, session) = whoami(&mut browser, &server).await;
    assert_eq!(status, 200, "{session}");
    let identity = session["identity"].clone();
    assert_eq!(identity["traits"], json!({"email": "ada@example.com", "name": {"first": "Ada", "last": "Lovelace"}}));
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true, "the upstream verified the address");
    assert_eq!(session["authentication_methods"][0]["method"], "oidc");

    // The same callback again is refused, and signs nobody in.
    let mut stranger = Browser::new();
    stranger.cookies = browser.cookies.clone();
    stranger.forget_session();
    let (status, error) = error_of(stranger.get(&back).await).await;
    assert_eq!(status, 400, "{error}");
    assert!(error["error"]["reason"].as_str().unwrap().contains("already completed"), "{error}");
    assert!(!stranger.cookies.contains_key("ory_kratos_session"));

    // A second login, started by a script asking for JSON, links to the same identity.
    browser.forget_session();
    let flow = browser.flow(&server, "login").await;
    let submitted = browser.submit(&flow, &[("method", "oidc"), ("provider", &id)], true).await;
    let (status, answer) = error_of(submitted).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["id"], "browser_location_change_required");
    let authorization = answer["redirect_browser_to"].as_str().unwrap().to_owned();
    let back = browser.follow_until(&authorization, &server.callback(&id)).await;
    assert_eq!(browser.get(&back).await.status(), 303);
    let (status, again) = whoami(&mut browser, &server).await;
    assert_eq!(status, 200);
    assert_eq!(again["identity"]["id"], identity["id"]);
    assert_ne!(again["id"], session["id"], "a new session");
    let identities = server.http.get(server.admin("/admin/identities")).json_body().await;
    assert_eq!(identities.as_array().unwrap().len(), 1, "one identity for one upstream account");

    // A registration flow offers the provider too, and signs the linked identity in the same way.
    browser.forget_session();
    let flow = browser.flow(&server, "registration").await;
    let button = flow["ui"]["nodes"].as_array().unwrap().iter().find(|n| n["group"] == "oidc").cloned().unwrap();
    assert_eq!(button["meta"]["label"]["id"], 1040002);
    let submitted = browser.submit(&flow, &[("method", "oidc"), ("provider", &id)], false).await;
    assert_eq!(submitted.status(), 303);
    let back = browser.follow_until(&location(&submitted), &server.callback(&id)).await;
    assert_eq!(browser.get(&back).await.status(), 303);
    assert_eq!(whoami(&mut browser, &server).await.1["identity"]["id"], identity["id"]);

    // Renamed without a new secret, the provider keeps its secret: the code exchange still authenticates.
    let mut renamed = provider_body(&id, &upstream.issuer);
    renamed.as_object_mut().unwrap().remove("client_secret");
    renamed["display_name"] = json!("Renamed");
    let replaced = server.http.put(server.admin(&format!("/admin/identity-providers/{id}"))).json(&renamed).send();
    let (status, body) = error_of(replaced.await.unwrap()).await;
    assert_eq!((status, body["display_name"].clone()), (StatusCode::OK, json!("Renamed")), "{body}");
    browser.forget_session();
    let back = through_upstream(&mut browser, &server, &id, &[("provider", &id)]).await;
    assert_eq!(browser.get(&back).await.status(), 303);
    assert_eq!(whoami(&mut browser, &server).await.1["identity"]["id"], identity["id"]);
}

#[tokio::test]
async fn forged_foreign_failed_and_misrouted_callbacks_are_refused_with_4xx() {
    let Some((server, upstream, id)) = server_with_upstream().await else { return };
    let mut browser = Browser::new();

    // A state the server never issued.
    let forged = format!("{}?code=made-up&state=forged", server.callback(&id));
    let (status, error) = error_of(browser.get(&forged).await).await;
    assert_eq!(status, 400, "{error}");
    let (status, _) = error_of(browser.get(&server.callback(&id)).await).await;
    assert_eq!(status, 400, "no state at all");

    // Unknown providers, at the callback and in a submission.
    let unknown = uuid::Uuid::new_v4();
    let (status, error) =
        error_of(browser.get(&format!("{}?state=x", server.callback(&unknown.to_string()))).await).await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error_of(browser.get(&server.callback("not-an-id")).await).await.0, 404);
    let flow = browser.flow(&server, "login").await;
    let (status, error) = error_of(browser.submit(&flow, &[("provider", &unknown.to_string())], false).await).await;
    assert_eq!(status, 400);
    assert!(error["error"]["reason"].as_str().unwrap().contains("`provider`"), "{error}");
    let (status, error) = error_of(browser.submit(&flow, &[("method", "oidc")], false).await).await;
    assert_eq!(status, 400, "no provider and no identifier to route by: {error}");

    // The upstream refused: the error comes back as a 4xx naming it, and the login is used up.
    let flow = browser.flow(&server, "login").await;
    let submitted = browser.submit(&flow, &[("provider", &id)], false).await;
    let state = query(&location(&submitted), "state").unwrap();
    let denied = format!("{}?error=access_denied&error_description=no+thanks&state={state}", server.callback(&id));
    let (status, error) = error_of(browser.get(&denied).await).await;
    assert_eq!(status, 403, "{error}");
    assert!(error["error"]["reason"].as_str().unwrap().contains("access_denied"), "{error}");
    assert_eq!(error_of(browser.get(&denied).await).await.0, 400, "replayed");

    // A callback opened by another browser (without the flow's CSRF cookie) signs nobody in, nor does a code
    // the upstream issued to another login.
    let back = through_upstream(&mut browser, &server, &id, &[("provider", &id)]).await;
    let mut other = Browser::new();
    let (status, error) = error_of(other.get(&back).await).await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["id"], "security_csrf_violation");
    assert!(!other.cookies.contains_key("ory_kratos_session"));
    assert_eq!(error_of(browser.get(&back).await).await.0, 400, "the login was used up");

    // An API flow cannot go to an upstream: a native app holds no cookie for the callback to check.
    let api_flow = server.http.get(server.public("/self-service/login/api")).json_body().await;
    let action = api_flow["ui"]["action"].as_str().unwrap();
    let answer = server.http.post(action).json(&json!({"method": "oidc", "provider": id})).send().await.unwrap();
    assert_eq!(answer.status(), 400);

    // An organization owning the address's domain routes its users to its own provider, and refuses them at any
    // other: here it names a provider that is not the Node upstream.
    let store = server.running.state.store.clone();
    let mut acme = identity_core::Organization::new("acme", "ACME").unwrap();
    acme.email_domains.insert(identity_core::EmailDomain::new("example.com").unwrap());
    acme.provider_id = Some(id.parse().unwrap());
    store.create_organization(&acme).await.unwrap();
    let back =
        through_upstream(&mut browser, &server, &id, &[("method", "oidc"), ("identifier", "ada@example.com")]).await;
    assert_eq!(browser.get(&back).await.status(), 303, "routed by the identifier's domain");
    browser.forget_session();
    acme.provider_id = Some(identity_core::ProviderId::new());
    store.update_organization(&acme).await.unwrap();
    let back = through_upstream(&mut browser, &server, &id, &[("provider", &id)]).await;
    let (status, error) = error_of(browser.get(&back).await).await;
    assert_eq!(status, 403, "{error}");
    assert!(!browser.cookies.contains_key("ory_kratos_session"));
    drop(upstream);
}

#[tokio::test]
async fn an_upstream_account_with_the_email_of_an_existing_identity_does_not_take_it_over() {
    let Some((server, _upstream, id)) = server_with_upstream().await else { return };
    let public = server.public("");
    let local = support::register(&server.http, &public, "ada@example.com", "correct-horse-battery-staple").await;
    let local = local["identity"]["id"].clone();
    let mut browser = Browser::new();
    let back = through_upstream(&mut browser, &server, &id, &[("provider", &id)]).await;
    let (status, error) = error_of(browser.get(&back).await).await;
    assert_eq!(status, 409, "{error}");
    assert!(!browser.cookies.contains_key("ory_kratos_session"));
    let identity = server.http.get(server.admin(&format!("/admin/identities/{}", local.as_str().unwrap())));
    let identity = identity.json_body().await;
    assert!(identity["credentials"].get("oidc").is_none(), "nothing was linked: {identity}");
    let identities = server.http.get(server.admin("/admin/identities")).json_body().await;
    assert_eq!(identities.as_array().unwrap().len(), 1, "nothing was created");

    // The upstream's form_post answer goes to the same checks.
    let flow = browser.flow(&server, "login").await;
    let state = query(&location(&browser.submit(&flow, &[("provider", &id)], false).await), "state").unwrap();
    let post = |form: Vec<(&'static str, String)>| {
        let request = browser.http.post(server.callback(&id)).header("cookie", browser.cookie_header()).form(&form);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(post(vec![("state", "forged".into()), ("code", "c".into())]).await, 400);
    assert_eq!(post(vec![("state", state.clone()), ("error", "access_denied".into())]).await, 403);
    assert_eq!(post(vec![("state", state), ("error", "access_denied".into())]).await, 400, "replayed");
}

#[tokio::test]
async fn operators_manage_providers_and_never_read_a_secret_back() {
    let server = Server::start().await;
    let issuer = "http://127.0.0.1:9";
    let id = uuid::Uuid::new_v4().to_string();
    let (status, created) = server.add_provider(provider_body(&id, issuer)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], id);
    assert_eq!(created["type"], "oidc");
    assert_eq!(created["issuer"], issuer);
    assert_eq!(created["redirect_uri"], server.callback(&id));
    assert_eq!(created["scopes"], json!(["openid", "email", "profile"]));
    assert!(created.get("client_secret").is_none());

    let read = |path: String| {
        let http = server.http.clone();
        async move {
            let response = http.get(path).send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(!text.contains(CLIENT_SECRET), "{text}");
            (status, serde_json::from_str::<Value>(&text).unwrap())
        }
    };
    let one = server.admin(&format!("/admin/identity-providers/{id}"));
    assert_eq!(read(one.clone()).await, (StatusCode::OK, created.clone()));
    assert_eq!(read(server.admin("/admin/identity-providers")).await, (StatusCode::OK, json!([created.clone()])));
    let stored = server.running.state.store.document("upstream_provider", &id).await.unwrap().unwrap();
    assert!(!stored.document.to_string().contains(CLIENT_SECRET), "the secret is sealed at rest");

    // The same id twice.
    assert_eq!(server.add_provider(provider_body(&id, issuer)).await.0, 409);

    // Bad input is a 400 naming the field.
    let other = uuid::Uuid::new_v4().to_string();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = provider_body(&other, issuer);
        change(&mut body);
        body
    };
    let cases: Vec<(&str, Value)> = vec![
        ("client_secret", with(&|b| drop(b.as_object_mut().unwrap().remove("client_secret")))),
        ("client_secret", with(&|b| b["client_secret"] = json!(""))),
        ("type", with(&|b| b["type"] = json!("saml"))),
        ("issuer", with(&|b| drop(b.as_object_mut().unwrap().remove("issuer")))),
        ("issuer", with(&|b| b["issuer"] = json!("http://idp.example"))),
        ("issuer", with(&|b| b["type"] = json!("google"))),
        (
            "tenant",
            with(&|b| {
                b.as_object_mut().unwrap().extend([("type".into(), json!("microsoft")), ("issuer".into(), Value::Null)])
            }),
        ),
        ("scopes", with(&|b| b["scopes"] = json!(["email"]))),
        ("scopes", with(&|b| b["scopes"] = json!(["openid email"]))),
        ("display_name", with(&|b| b["display_name"] = json!("  "))),
        ("client_id", with(&|b| drop(b.as_object_mut().unwrap().remove("client_id")))),
        ("organization_id", with(&|b| b["organization_id"] = json!(uuid::Uuid::new_v4()))),
        ("schema_id", with(&|b| b["schema_id"] = json!("nope"))),
        ("claims_mapping", with(&|b| b["claims_mapping"] = json!({"email": ""}))),
        ("surprise", with(&|b| b["surprise"] = json!(true))),
        ("id", with(&|b| b["id"] = json!("not-a-uuid"))),
    ];
    for (field, body) in cases {
        let (status, error) = server.add_provider(body).await;
        assert_eq!(status, 400, "{field}: {error}");
        let reason = error["error"]["reason"].as_str().unwrap();
        assert!(reason.contains(field), "{field}: {reason}");
    }
    let malformed = server
        .http
        .post(server.admin("/admin/identity-providers"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(read(server.admin("/admin/identity-providers")).await.1.as_array().unwrap().len(), 1);

    // Unknown ids, and a replacement naming another id.
    let missing = server.admin(&format!("/admin/identity-providers/{}", uuid::Uuid::new_v4()));
    assert_eq!(read(missing.clone()).await.0, 404);
    assert_eq!(read(server.admin("/admin/identity-providers/not-an-id")).await.0, 404);
    let put = |url: String, body: Value| {
        let http = server.http.clone();
        async move { http.put(url).json(&body).send().await.unwrap().status() }
    };
    let mut without_id = provider_body(&other, issuer);
    without_id.as_object_mut().unwrap().remove("id");
    assert_eq!(put(missing.clone(), without_id).await, 404);
    assert_eq!(put(one.clone(), provider_body(&other, issuer)).await, 400);

    // A replacement with a new secret and scopes; the secret is still never shown.
    let mut replacement = provider_body(&id, "https://idp.example/");
    replacement["client_secret"] = json!(format!("{CLIENT_SECRET}-rotated"));
    replacement["scopes"] = json!(["openid", "email"]);
    assert_eq!(put(one.clone(), replacement).await, 200);
    let (_, shown) = read(one.clone()).await;
    assert_eq!(
        (shown["issuer"].clone(), shown["scopes"].clone()),
        (json!("https://idp.example"), json!(["openid", "email"]))
    );

    // An organization's own provider; the login flow's buttons are the global providers only.
    let acme = identity_core::Organization::new("acme", "ACME").unwrap();
    server.running.state.store.create_organization(&acme).await.unwrap();
    let acme_provider = uuid::Uuid::new_v4().to_string();
    let mut body = provider_body(&acme_provider, issuer);
    body["organization_id"] = json!(acme.id);
    let (status, created) = server.add_provider(body).await;
    assert_eq!((status, created["organization_id"].clone()), (StatusCode::CREATED, json!(acme.id)));
    let flow = server.http.get(server.public("/self-service/login/api")).json_body().await;
    let buttons: Vec<&Value> =
        flow["ui"]["nodes"].as_array().unwrap().iter().filter(|n| n["group"] == "oidc").collect();
    assert_eq!(buttons.len(), 1);
    assert_eq!(buttons[0]["attributes"]["value"], id);
    let delete = |url: String| {
        let http = server.http.clone();
        async move { http.delete(url).send().await.unwrap().status() }
    };
    assert_eq!(delete(one.clone()).await, 204);
    assert_eq!(read(one.clone()).await.0, 404);
    assert_eq!(delete(one.clone()).await, 404);
    assert_eq!(delete(server.admin("/admin/identity-providers/not-an-id")).await, 404);
    let flow = server.http.get(server.public("/self-service/login/api")).json_body().await;
    assert!(flow["ui"]["nodes"].as_array().unwrap().iter().all(|n| n["group"] != "oidc"), "the button went with it");
}

#[tokio::test]
async fn started_logins_whose_callback_never_came_are_swept() {
    let server = Server::start().await;
    let store = server.running.state.store.clone();
    let kind = identity_server::federation::login::PENDING_KIND;
    let lapsed = json!({"flow_id": uuid::Uuid::new_v4(), "flow_kind": "login", "expires_at": 0, "login": {}});
    store.put_document(kind, "lapsed", &lapsed, None).await.unwrap();
    let mut fresh = lapsed.clone();
    fresh["expires_at"] = json!(i64::MAX / 2);
    store.put_document(kind, "fresh", &fresh, None).await.unwrap();
    store.put_document(kind, "garbled", &json!("?"), None).await.unwrap();
    let swept = identity_server::federation::login::delete_lapsed(&server.running.state).await.unwrap();
    assert_eq!(swept, 2);
    let left: Vec<String> = store.list_documents(kind).await.unwrap().into_iter().map(|d| d.name).collect();
    assert_eq!(left, vec!["fresh".to_owned()]);
}
