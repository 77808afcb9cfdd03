//! The RBAC API (`/api/v1`) of the real server on free loopback ports: organizations, groups, projects and roles
//! managed on the admin listener, and on the public one within what the caller's ACL allows; visible projects;
//! the ACL JSON; seeding from the configuration.

use std::path::PathBuf;

use identity_server::config::Config;
use identity_server::server::{Running, start};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

mod support;

const PASSWORD: &str = "correct-horse-battery-staple";

fn temp_db() -> String {
    let path: PathBuf =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rbac-{}.db", uuid::Uuid::new_v4()));
    format!("sqlite://{}", path.display())
}

fn config(dsn: &str, rbac: Value) -> Config {
    let document = json!({
        "dsn": dsn,
        "serve": { "public": { "port": 0 }, "admin": { "port": 0 }, "body_limit_bytes": 8192 },
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
        "rbac": rbac,
    });
    Config::from_value(document, std::iter::empty()).unwrap()
}

struct Server {
    running: Running,
    http: Client,
}

/// Which listener a request goes to, and with which credentials.
#[derive(Clone, Copy)]
enum As<'a> {
    /// The admin listener.
    Operator,
    /// The public listener with this session token.
    User(&'a str),
    /// The public listener without credentials.
    Nobody,
}

impl Server {
    async fn start(dsn: &str, rbac: Value) -> Self {
        Self { running: start(config(dsn, rbac)).await.unwrap(), http: Client::new() }
    }

    fn url(&self, who: As<'_>, path: &str) -> String {
        match who {
            As::Operator => format!("http://{}{path}", self.running.admin),
            _ => format!("http://{}{path}", self.running.public),
        }
    }

    /// Sends a request (a JSON body if given) and reads the status and the JSON answer (`null` when empty).
    async fn call(&self, who: As<'_>, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(who, path));
        if let As::User(token) = who {
            request = request.header("X-Session-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request).await
    }

    async fn get(&self, who: As<'_>, path: &str) -> (StatusCode, Value) {
        self.call(who, Method::GET, path, None).await
    }

    /// Registers `email` and returns its identity id and session token.
    async fn user(&self, email: &str) -> (String, String) {
        let done = support::register(&self.http, &format!("http://{}", self.running.public), email, PASSWORD).await;
        (done["identity"]["id"].as_str().unwrap().to_owned(), done["session_token"].as_str().unwrap().to_owned())
    }

    /// Creates an organization on the admin listener and returns its id.
    async fn organization(&self, name: &str) -> String {
        let body = json!({"name": name, "display_name": name.to_uppercase()});
        let (status, created) = self.call(As::Operator, Method::POST, "/api/v1/organizations", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Creates a group on the admin listener and returns its id.
    async fn group(&self, organization: &str, name: &str, roles: &[String], members: &[&str]) -> String {
        let path = format!("/api/v1/organizations/{organization}/groups");
        let body = json!({"name": name, "role_ids": roles, "members": members});
        let (status, created) = self.call(As::Operator, Method::POST, &path, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Creates a project on the admin listener and returns its id.
    async fn project(&self, organization: &str, name: &str, groups: &[&str]) -> String {
        let path = format!("/api/v1/organizations/{organization}/projects");
        let (status, created) =
            self.call(As::Operator, Method::POST, &path, Some(json!({"name": name, "group_ids": groups}))).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Signs `email` in again and returns the new session token.
    async fn login(&self, email: &str) -> String {
        let public = format!("http://{}", self.running.public);
        let flow: Value =
            self.http.get(format!("{public}/self-service/login/api")).send().await.unwrap().json().await.unwrap();
        let url = format!("{public}/self-service/login?flow={}", flow["id"].as_str().unwrap());
        let body = json!({"method": "password", "identifier": email, "password": PASSWORD});
        let (status, done) = read(self.http.post(url).json(&body)).await;
        assert_eq!(status, 200, "{done}");
        done["session_token"].as_str().unwrap().to_owned()
    }

    fn role(&self, builtin: identity_rbac::BuiltinRole) -> String {
        self.running.state.builtin_roles.id(builtin).to_string()
    }
}

async fn read(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
    (status, body)
}

/// The error's reason, for messages and assertions.
fn reason(body: &Value) -> &str {
    body["error"]["reason"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_organization_administrator_manages_its_own_organization_and_cannot_touch_another() {
    use identity_rbac::BuiltinRole::{Administrator, Reader};
    let server = Server::start("memory", json!({})).await;
    let (ada, token) = server.user("ada@example.com").await;
    let (bob, _) = server.user("bob@example.com").await;
    let acme = server.organization("acme").await;
    let globex = server.organization("globex").await;
    server.group(&acme, "admins", &[server.role(Administrator)], &[&ada]).await;
    let globex_group = server.group(&globex, "staff", &[], &[]).await;
    let ada_ = As::User(&token);

    let (status, listed) = server.get(ada_, "/api/v1/organizations").await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1, "only her own organization: {listed}");
    assert_eq!(listed[0]["id"], acme.as_str());
    let org = format!("/api/v1/organizations/{acme}");
    let (status, renamed) =
        server.call(ada_, Method::PATCH, &org, Some(json!({"display_name": "Acme Corporation"}))).await;
    assert_eq!((status, renamed["display_name"].as_str()), (StatusCode::OK, Some("Acme Corporation")));
    assert_eq!(renamed["name"], "acme", "a merge patch keeps the other fields");
    // Where logins go is the platform's decision, not the organization's.
    let claim = json!({"email_domains": ["gmail.com"], "provider_id": uuid::Uuid::new_v4()});
    let (status, refused) = server.call(ada_, Method::PATCH, &org, Some(claim)).await;
    assert_eq!(status, 403, "{refused}");

    // Its groups and projects.
    let body = json!({"name": "devs", "members": [bob], "role_ids": [server.role(Reader)]});
    let (status, devs) = server.call(ada_, Method::POST, &format!("{org}/groups"), Some(body)).await;
    assert_eq!(status, 201, "{devs}");
    assert_eq!(devs["organization_id"], acme.as_str());
    let devs = devs["id"].as_str().unwrap().to_owned();
    let (status, web) = server
        .call(ada_, Method::POST, &format!("{org}/projects"), Some(json!({"name": "web", "group_ids": [devs]})))
        .await;
    assert_eq!(status, 201, "{web}");
    let web = format!("{org}/projects/{}", web["id"].as_str().unwrap());
    let (status, renamed) = server.call(ada_, Method::PUT, &web, Some(json!({"name": "shop"}))).await;
    assert_eq!((status, renamed["name"].as_str(), &renamed["group_ids"]), (StatusCode::OK, Some("shop"), &json!([])));
    let (_, groups) = server.get(ada_, &format!("{org}/groups")).await;
    let names: Vec<&str> = groups.as_array().unwrap().iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(names, ["admins", "devs"]);
    assert_eq!(server.call(ada_, Method::DELETE, &web, None).await.0, 204);
    assert_eq!(server.get(ada_, &web).await.0, 404);
    assert_eq!(server.call(ada_, Method::DELETE, &format!("{org}/groups/{devs}"), None).await.0, 204);

    // Another organization does not exist for her, whatever she tries.
    let other = format!("/api/v1/organizations/{globex}");
    let (status, hidden) = server.get(ada_, &other).await;
    assert_eq!(status, 404);
    let (_, unknown) = server.get(ada_, &format!("/api/v1/organizations/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(reason(&hidden), reason(&unknown), "an invisible organization looks like an unknown one");
    assert_eq!(server.get(ada_, &format!("{other}/groups")).await.0, 404);
    assert_eq!(server.get(ada_, &format!("{other}/acl")).await.0, 404);
    assert_eq!(server.call(ada_, Method::POST, &format!("{other}/groups"), Some(json!({"name": "x"}))).await.0, 404);
    assert_eq!(server.call(ada_, Method::DELETE, &format!("{other}/groups/{globex_group}"), None).await.0, 404);
    assert_eq!(server.call(ada_, Method::PATCH, &other, Some(json!({"display_name": "Mine"}))).await.0, 404);
    // Nor through her own organization's path.
    assert_eq!(server.get(ada_, &format!("{org}/groups/{globex_group}")).await.0, 404);
    let body = json!({"name": "sneaky", "group_ids": [globex_group]});
    assert_eq!(server.call(ada_, Method::POST, &format!("{org}/projects"), Some(body)).await.0, 422);

    // Organizations themselves are the platform's.
    let body = json!({"name": "initech", "display_name": "Initech"});
    assert_eq!(server.call(ada_, Method::POST, "/api/v1/organizations", Some(body)).await.0, 403);
    assert_eq!(server.call(ada_, Method::DELETE, &org, None).await.0, 403);
    let custom =
        json!({"name": "custom", "scopes": {"organization": [{"name": "identity:groups", "operations": ["read"]}]}});
    assert_eq!(server.call(ada_, Method::POST, "/api/v1/roles", Some(custom)).await.0, 403);
    let (status, roles) = server.get(ada_, "/api/v1/roles").await;
    assert_eq!((status, roles.as_array().map(Vec::len)), (StatusCode::OK, Some(4)));
    assert_eq!(server.get(ada_, &format!("{org}/roles")).await.0, 200);
    server.running.stop().await;
}

#[tokio::test]
async fn an_organization_administrator_cannot_grant_what_it_does_not_hold() {
    use identity_rbac::BuiltinRole::{Administrator, PlatformAdministrator};
    let server = Server::start("memory", json!({})).await;
    let (ada, token) = server.user("ada@example.com").await;
    let (bob, _) = server.user("bob@example.com").await;
    let acme = server.organization("acme").await;
    server.group(&acme, "admins", &[server.role(Administrator)], &[&ada]).await;
    let compute = json!({"name": "compute-admin", "description": "Clusters.",
        "scopes": {"organization": [{"name": "compute:clusters", "operations": ["create", "read", "update", "delete"]}]}});
    let (status, compute) = server.call(As::Operator, Method::POST, "/api/v1/roles", Some(compute)).await;
    assert_eq!(status, 201, "{compute}");
    let compute = compute["id"].as_str().unwrap().to_owned();
    let ada_ = As::User(&token);
    let groups = format!("/api/v1/organizations/{acme}/groups");

    // A role with scopes she lacks, new or added.
    let (status, refused) =
        server.call(ada_, Method::POST, &groups, Some(json!({"name": "ops", "role_ids": [compute]}))).await;
    assert_eq!(status, 403, "{refused}");
    assert!(reason(&refused).contains("compute:clusters"), "{refused}");
    let body = json!({"name": "root", "role_ids": [server.role(PlatformAdministrator)]});
    assert_eq!(server.call(ada_, Method::POST, &groups, Some(body)).await.0, 403, "global scopes");
    let (status, ops) = server.call(ada_, Method::POST, &groups, Some(json!({"name": "ops"}))).await;
    assert_eq!(status, 201);
    let ops = format!("{groups}/{}", ops["id"].as_str().unwrap());
    assert_eq!(server.call(ada_, Method::PATCH, &ops, Some(json!({"role_ids": [compute]}))).await.0, 403);
    // Nor a member for a group that holds one: membership grants the group's roles.
    let held = server.group(&acme, "cluster-admins", std::slice::from_ref(&compute), &[]).await;
    let held = format!("{groups}/{held}");
    assert_eq!(server.call(ada_, Method::PATCH, &held, Some(json!({"members": [bob]}))).await.0, 403);
    assert_eq!(server.call(ada_, Method::PATCH, &held, Some(json!({"upstream_groups": ["ops"]}))).await.0, 403);
    // What she holds she may grant; renaming or emptying a group grants nothing.
    let body = json!({"members": [bob], "role_ids": [server.role(Administrator)]});
    let (status, granted) = server.call(ada_, Method::PATCH, &ops, Some(body)).await;
    assert_eq!(status, 200, "{granted}");
    let (status, renamed) = server.call(ada_, Method::PATCH, &held, Some(json!({"name": "cluster-owners"}))).await;
    assert_eq!((status, &renamed["role_ids"]), (StatusCode::OK, &json!([compute])));
    assert_eq!(server.call(As::Operator, Method::PATCH, &held, Some(json!({"members": [bob]}))).await.0, 200);
    assert_eq!(server.call(ada_, Method::PATCH, &held, Some(json!({"members": []}))).await.0, 200);
    server.running.stop().await;
}

#[tokio::test]
async fn a_reader_reads_and_cannot_write_and_each_caller_sees_its_visible_projects() {
    use identity_rbac::BuiltinRole::{Reader, User};
    let server = Server::start("memory", json!({})).await;
    let (bob, reader) = server.user("bob@example.com").await;
    let (carol, user) = server.user("carol@example.com").await;
    let acme = server.organization("acme").await;
    let readers = server.group(&acme, "readers", &[server.role(Reader)], &[&bob]).await;
    let staff = server.group(&acme, "staff", &[server.role(User)], &[&carol]).await;
    let web = server.project(&acme, "web", &[&staff]).await;
    let internal = server.project(&acme, "internal", &[]).await;
    let org = format!("/api/v1/organizations/{acme}");
    let bob_ = As::User(&reader);

    for path in [org.clone(), format!("{org}/groups"), format!("{org}/groups/{staff}"), format!("{org}/projects/{web}")]
    {
        assert_eq!(server.get(bob_, &path).await.0, 200, "{path}");
    }
    let writes = [
        (Method::POST, format!("{org}/groups"), Some(json!({"name": "mine"}))),
        (Method::PATCH, format!("{org}/groups/{readers}"), Some(json!({"name": "writers"}))),
        (Method::DELETE, format!("{org}/groups/{staff}"), None),
        (Method::POST, format!("{org}/projects"), Some(json!({"name": "mine"}))),
        (Method::PUT, format!("{org}/projects/{web}"), Some(json!({"name": "mine"}))),
        (Method::DELETE, format!("{org}/projects/{internal}"), None),
        (Method::PATCH, org.clone(), Some(json!({"display_name": "Mine"}))),
    ];
    for (method, path, body) in writes {
        let (status, refused) = server.call(bob_, method.clone(), &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {refused}");
        assert_eq!(refused["error"]["code"], 403);
    }
    let (_, kept) = server.get(As::Operator, &format!("{org}/groups/{readers}")).await;
    assert_eq!(kept["name"], "readers", "nothing was written");

    // A user reads the projects shared with its group, and nothing else.
    let carol_ = As::User(&user);
    let (_, listed) = server.get(carol_, &format!("{org}/projects")).await;
    let ids: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(ids, [web.as_str()]);
    assert_eq!(server.get(carol_, &format!("{org}/projects/{internal}")).await.0, 403);
    assert_eq!(server.get(carol_, &format!("{org}/groups")).await.0, 403);

    let visible = |who, query: &str| {
        let (server, path) = (&server, format!("{org}/visible-projects?{query}"));
        async move { server.get(who, &path).await }
    };
    let mut all = vec![web.clone(), internal.clone()];
    all.sort();
    let (status, seen) = visible(carol_, "scope=identity:projects").await;
    assert_eq!(status, 200);
    assert_eq!(
        seen,
        json!({"organization_id": acme, "scope": "identity:projects", "visibility": "projects", "project_ids": [web]})
    );
    let (_, seen) = visible(bob_, "scope=identity:projects").await;
    assert_eq!((&seen["visibility"], &seen["project_ids"]), (&json!("organization"), &json!(all)));
    let (_, seen) = visible(carol_, "scope=compute:clusters").await;
    assert_eq!((&seen["visibility"], &seen["project_ids"]), (&json!("projects"), &json!([])));
    let (status, seen) = visible(As::Operator, &format!("scope=identity:projects&identity={carol}")).await;
    assert_eq!((status, &seen["project_ids"]), (StatusCode::OK, &json!([web])));
    assert_eq!(visible(As::Operator, "scope=identity:projects").await.0, 400, "whose?");
    assert_eq!(visible(carol_, &format!("scope=identity:projects&identity={bob}")).await.0, 400, "not another's");
    assert_eq!(visible(carol_, "scope=has%20space").await.0, 400);
    assert_eq!(visible(carol_, "").await.0, 400);
    assert_eq!(visible(carol_, "scope=identity:projects&colour=red").await.0, 400);
    assert_eq!(visible(As::Nobody, "scope=identity:projects").await.0, 401);
    server.running.stop().await;
}

#[tokio::test]
async fn the_admin_listener_manages_everything_and_the_public_one_wants_credentials() {
    let server = Server::start("memory", json!({})).await;
    let op = As::Operator;
    for path in ["/api/v1/organizations", "/api/v1/roles"] {
        let (status, refused) = server.get(As::Nobody, path).await;
        assert_eq!((status, refused["error"]["id"].as_str()), (StatusCode::UNAUTHORIZED, Some("session_inactive")));
        assert_eq!(server.get(As::User("not-a-token"), path).await.0, 401);
    }

    let acme = server.organization("acme").await;
    let body = json!({"name": "acme", "display_name": "Again"});
    let (status, taken) = server.call(op, Method::POST, "/api/v1/organizations", Some(body)).await;
    assert_eq!(status, 409, "{taken}");
    let org = format!("/api/v1/organizations/{acme}");
    let (status, got) = server.get(op, &org).await;
    assert_eq!(status, 200);
    assert_eq!(
        got,
        json!({"id": acme, "name": "acme", "display_name": "ACME", "email_domains": [], "provider_id": null})
    );
    let provider = uuid::Uuid::new_v4();
    let body = json!({"name": "acme-corp", "display_name": "Acme", "email_domains": ["Acme.Example"], "provider_id": provider});
    let (status, replaced) = server.call(op, Method::PUT, &org, Some(body)).await;
    assert_eq!((status, &replaced["email_domains"]), (StatusCode::OK, &json!(["acme.example"])), "{replaced}");
    server.organization("globex").await;
    let (_, listed) = server.get(op, "/api/v1/organizations").await;
    let names: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|o| o["name"].as_str()).collect();
    assert_eq!(names, ["acme-corp", "globex"]);

    let group = server.group(&acme, "ops", &[], &[]).await;
    let body = json!({"name": "ops"});
    assert_eq!(server.call(op, Method::POST, &format!("{org}/groups"), Some(body)).await.0, 409);
    let project = server.project(&acme, "web", &[&group]).await;
    let (status, got) = server.get(op, &format!("{org}/projects/{project}")).await;
    assert_eq!((status, &got["group_ids"]), (StatusCode::OK, &json!([group])));
    let (status, patched) =
        server.call(op, Method::PATCH, &format!("{org}/projects/{project}"), Some(json!({"group_ids": []}))).await;
    assert_eq!((status, &patched["name"]), (StatusCode::OK, &json!("web")));

    // Roles: custom ones come and go; the built-in ones stay and keep their names.
    let body = json!({"name": "auditor", "scopes": {"organization": [{"name": "identity:groups", "operations": ["read", "read"]}]}});
    let (status, auditor) = server.call(op, Method::POST, "/api/v1/roles", Some(body.clone())).await;
    assert_eq!(status, 201, "{auditor}");
    assert_eq!(auditor["scopes"], json!({"organization": [{"name": "identity:groups", "operations": ["read"]}]}));
    assert_eq!(server.call(op, Method::POST, "/api/v1/roles", Some(body)).await.0, 409);
    let auditor = format!("/api/v1/roles/{}", auditor["id"].as_str().unwrap());
    let (status, described) =
        server.call(op, Method::PATCH, &auditor, Some(json!({"description": "Reads groups."}))).await;
    assert_eq!((status, &described["description"]), (StatusCode::OK, &json!("Reads groups.")));
    let reader = format!("/api/v1/roles/{}", server.role(identity_rbac::BuiltinRole::Reader));
    assert_eq!(server.call(op, Method::PATCH, &reader, Some(json!({"name": "viewer"}))).await.0, 409);
    assert_eq!(server.call(op, Method::DELETE, &reader, None).await.0, 409);
    assert_eq!(server.call(op, Method::PATCH, &reader, Some(json!({"description": "Looks."}))).await.0, 200);
    assert_eq!(server.call(op, Method::DELETE, &auditor, None).await.0, 204);
    assert_eq!(server.get(op, &auditor).await.0, 404);

    // Deleting an organization takes its groups and projects along.
    assert_eq!(server.call(op, Method::DELETE, &org, None).await.0, 204);
    assert_eq!(server.get(op, &org).await.0, 404);
    assert_eq!(server.get(op, &format!("{org}/groups/{group}")).await.0, 404);
    assert!(server.running.state.store.groups_of_organization(acme.parse().unwrap()).await.unwrap().is_empty());
    server.running.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_typed_4xx_naming_the_field() {
    let server = Server::start("memory", json!({})).await;
    let op = As::Operator;
    let acme = server.organization("acme").await;
    let org = format!("/api/v1/organizations/{acme}");
    let group = server.group(&acme, "ops", &[], &[]).await;
    let raw = |method: Method, path: &str, content_type: &str, body: &'static [u8]| {
        let request = server.http.request(method, server.url(op, path)).header("content-type", content_type).body(body);
        read(request)
    };

    let (status, error) = raw(Method::POST, "/api/v1/organizations", "application/json", b"{\"name\": ").await;
    assert_eq!((status, error["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(400)), "{error}");
    assert_eq!(raw(Method::POST, &format!("{org}/groups"), "application/json", b"[]").await.0, 400);
    assert_eq!(raw(Method::POST, &format!("{org}/groups"), "text/plain", b"ops").await.0, 415);
    let cases = [
        (Method::POST, "/api/v1/organizations".to_owned(), json!({"name": "Acme Corp", "display_name": "x"}), "name"),
        (Method::POST, "/api/v1/organizations".to_owned(), json!({"name": "x", "display_name": "x", "id": acme}), "id"),
        (Method::POST, "/api/v1/organizations".to_owned(), json!({"name": "x", "display_name": " "}), "display_name"),
        (
            Method::POST,
            "/api/v1/organizations".to_owned(),
            json!({"name": "x", "display_name": "x", "email_domains": ["acme.example"]}),
            "email_domains",
        ),
        (Method::POST, format!("{org}/groups"), json!({"name": "devs", "colour": "red"}), "colour"),
        (Method::POST, format!("{org}/groups"), json!({"name": "devs", "members": ["not-an-id"]}), "members[0]"),
        (Method::POST, format!("{org}/groups"), json!({"name": "devs", "organization_id": acme}), "organization_id"),
        (Method::PATCH, format!("{org}/groups/{group}"), json!({"name": null}), "name"),
        (Method::POST, format!("{org}/projects"), json!({"name": "web_shop"}), "name"),
        (Method::POST, "/api/v1/roles".to_owned(), json!({"name": "r", "scopes": {"globall": []}}), "globall"),
        (
            Method::POST,
            "/api/v1/roles".to_owned(),
            json!({"name": "r", "scopes": {"project": [{"name": "x", "operations": ["write"]}]}}),
            "operations",
        ),
        (
            Method::POST,
            "/api/v1/roles".to_owned(),
            json!({"name": "r", "scopes": {"project": [{"name": "x", "operations": [], "extra": 1}]}}),
            "extra",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, error) = server.call(op, method.clone(), &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{method} {path} {body}: {error}");
        assert!(reason(&error).contains(field), "{body}: the reason names `{field}`: {error}");
    }

    // Unknown objects: in the path 404, in the body 422.
    for path in [
        "/api/v1/organizations/not-an-id".to_owned(),
        format!("/api/v1/organizations/{}", uuid::Uuid::new_v4()),
        format!("{org}/groups/not-an-id"),
        format!("{org}/groups/{}", uuid::Uuid::new_v4()),
        format!("{org}/projects/{}", uuid::Uuid::new_v4()),
        format!("/api/v1/roles/{}", uuid::Uuid::new_v4()),
        "/api/v1/roles/nope".to_owned(),
    ] {
        let (status, error) = server.get(op, &path).await;
        assert_eq!((status, error["error"]["code"].as_i64()), (StatusCode::NOT_FOUND, Some(404)), "{path}");
    }
    let ghost = uuid::Uuid::new_v4();
    for (path, body) in [
        (format!("{org}/groups"), json!({"name": "devs", "members": [ghost]})),
        (format!("{org}/groups"), json!({"name": "devs", "role_ids": [ghost]})),
        (format!("{org}/projects"), json!({"name": "web", "group_ids": [ghost]})),
    ] {
        let (status, error) = server.call(op, Method::POST, &path, Some(body)).await;
        assert_eq!(status, 422, "{path}: {error}");
        assert!(reason(&error).contains(&ghost.to_string()), "{error}");
    }
    let (bob, token) = server.user("bob@example.com").await;
    server.group(&acme, "admins", &[server.role(identity_rbac::BuiltinRole::Administrator)], &[&bob]).await;
    let body = json!({"name": "devs", "role_ids": [ghost]});
    assert_eq!(server.call(As::User(&token), Method::POST, &format!("{org}/groups"), Some(body)).await.0, 422);
    server.running.stop().await;
}

#[tokio::test]
async fn the_acl_json_is_as_documented() {
    use identity_rbac::BuiltinRole::{Administrator, User};
    let dsn = temp_db();
    let server = Server::start(&dsn, json!({})).await;
    let (root, _) = server.user("root@example.com").await;
    server.running.stop().await;
    let server = Server::start(&dsn, json!({"platform_administrators": [root]})).await;
    let root = server.login("root@example.com").await;
    let (ada, admin) = server.user("ada@example.com").await;
    let (carol, user) = server.user("carol@example.com").await;
    let acme = server.organization("acme").await;
    let admins = server.group(&acme, "admins", &[server.role(Administrator)], &[&ada]).await;
    let staff = server.group(&acme, "staff", &[server.role(User)], &[&carol]).await;
    let web = server.project(&acme, "web", &[&staff, &admins]).await;
    server.project(&acme, "internal", &[&admins]).await;
    let acl = format!("/api/v1/organizations/{acme}/acl");

    let crud = json!(["create", "read", "update", "delete"]);
    let scope = |name: &str, operations: &Value| json!({"name": name, "operations": operations});
    let every = |operations: &Value, organizations: Value| {
        json!([
            scope("identity:groups", operations),
            scope("identity:members", operations),
            scope("identity:organizations", &organizations),
            scope("identity:projects", operations),
            scope("identity:providers", operations),
            scope("identity:roles", operations),
            scope("identity:serviceidentities", operations),
        ])
    };
    let (status, body) = server.get(As::User(&admin), &acl).await;
    assert_eq!(status, 200);
    // An administrator's roles grant nothing per project, so `projects` is left out, like `global`.
    assert_eq!(body, json!({"organization": {"id": acme, "endpoints": every(&crud, json!(["read", "update"]))}}));
    let (_, body) = server.get(As::User(&user), &acl).await;
    assert_eq!(
        body,
        json!({
            "organization": {"id": acme, "endpoints": [scope("identity:organizations", &json!(["read"]))]},
            "projects": [{"id": web, "endpoints": [scope("identity:projects", &json!(["read"]))]}],
        })
    );
    assert_eq!(server.get(As::User(&user), "/api/v1/acl").await.1, json!({}));
    let (_, body) = server.get(As::User(&root), "/api/v1/acl").await;
    assert_eq!(body, json!({"global": every(&crud, crud.clone())}));

    // The platform administrator does on the public listener what organization administrators cannot.
    let root_ = As::User(&root);
    let body = json!({"name": "initech", "display_name": "Initech"});
    let (status, initech) = server.call(root_, Method::POST, "/api/v1/organizations", Some(body)).await;
    assert_eq!(status, 201, "{initech}");
    let initech = format!("/api/v1/organizations/{}", initech["id"].as_str().unwrap());
    let claim = json!({"email_domains": ["initech.example"], "provider_id": uuid::Uuid::new_v4()});
    assert_eq!(server.call(root_, Method::PATCH, &initech, Some(claim)).await.0, 200);
    assert_eq!(server.get(root_, "/api/v1/organizations").await.1.as_array().map(Vec::len), Some(2));
    let (_, seen) =
        server.get(root_, &format!("/api/v1/organizations/{acme}/visible-projects?scope=identity:projects")).await;
    assert_eq!(seen["visibility"], "everything");
    assert_eq!(server.call(root_, Method::DELETE, &initech, None).await.0, 204);
    server.running.stop().await;
}

#[tokio::test]
async fn the_seed_in_the_configuration_is_applied_once_across_restarts() {
    let dsn = temp_db();
    let seed = json!({"seed": {"organizations": [{
        "name": "acme",
        "display_name": "Acme",
        "groups": [
            {"name": "admins", "roles": ["administrator"], "members": ["Ada@Example.com", "bob@example.com"]},
            {"name": "staff", "roles": ["user", "reader"]},
        ],
        "projects": [{"name": "web", "groups": ["staff"]}, {"name": "internal"}],
    }]}});
    let server = Server::start(&dsn, json!({})).await;
    let (ada, token) = server.user("ada@example.com").await;
    server.running.stop().await;

    let server = Server::start(&dsn, seed.clone()).await;
    let (status, listed) = server.get(As::User(&token), "/api/v1/organizations").await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let org = format!("/api/v1/organizations/{}", listed[0]["id"].as_str().unwrap());
    let (_, groups) = server.get(As::Operator, &format!("{org}/groups")).await;
    assert_eq!(groups[0]["name"], "admins");
    assert_eq!(groups[0]["members"], json!([ada]), "bob has not registered yet: skipped");
    let (status, created) =
        server.call(As::User(&token), Method::POST, &format!("{org}/projects"), Some(json!({"name": "api"}))).await;
    assert_eq!(status, 201, "the seeded administrator administers: {created}");
    let (bob, _) = server.user("bob@example.com").await;
    server.running.stop().await;

    // Again: nothing doubles, what the API added stays, and bob, registered since, joins.
    let server = Server::start(&dsn, seed.clone()).await;
    let (_, organizations) = server.get(As::Operator, "/api/v1/organizations").await;
    assert_eq!(organizations.as_array().map(Vec::len), Some(1));
    let (_, groups) = server.get(As::Operator, &format!("{org}/groups")).await;
    assert_eq!(groups.as_array().map(Vec::len), Some(2));
    let mut members = vec![ada.clone(), bob];
    members.sort();
    assert_eq!(groups[0]["members"], json!(members));
    assert_eq!(groups[1]["role_ids"].as_array().map(Vec::len), Some(2));
    let (_, projects) = server.get(As::Operator, &format!("{org}/projects")).await;
    let names: Vec<&str> = projects.as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["api", "internal", "web"]);
    assert_eq!(projects[2]["group_ids"], json!([groups[1]["id"]]));

    // Replicas seeding one store at once end up with one copy.
    let store = server.running.state.store.clone();
    let parsed = config(
        &dsn,
        json!({"seed": {"organizations": [{"name": "globex", "groups": [{"name": "ops"}],
        "projects": [{"name": "web", "groups": ["ops"]}]}]}}),
    );
    let seed = || identity_server::rbac_seed::apply(store.as_ref(), &parsed.rbac.seed);
    let outcomes = tokio::join!(seed(), seed(), seed(), seed());
    for outcome in [outcomes.0, outcomes.1, outcomes.2, outcomes.3] {
        outcome.unwrap();
    }
    let globex = store.find_organization_by_name(&"globex".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(store.groups_of_organization(globex.id).await.unwrap().len(), 1);
    assert_eq!(store.projects_of_organization(globex.id).await.unwrap().len(), 1);
    server.running.stop().await;

    // A role the store does not have stops the start, naming where.
    let bad = json!({"seed": {"organizations": [{"name": "acme", "groups": [{"name": "x", "roles": ["owner"]}]}]}});
    let error = start(config(&dsn, bad)).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("rbac.seed.organizations[0].groups[0].roles[0]"), "{error}");
}
