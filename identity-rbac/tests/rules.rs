//! Proxy access rules: loading (YAML and JSON, every bad rule reported with its id and field), precedence and
//! overlap detection, and decisions for anonymous and authenticated callers.

mod support;

use std::collections::BTreeSet;

use identity_core::{IdentityId, Operation, Permission, ProjectId, ScopeLevel};
use identity_rbac::{
    Authenticator, Caller, CompiledAcl, Decision, Error, OrganizationSnapshot, PlatformAdministrators, Principal,
    Request, RuleFormat, Rules, RulesConfig, Subject, Unmatched,
};

const RULES: &str = r##"
- id: health
  match: { methods: [GET], url: "https://api.example.com/health" }
  authenticators: [anonymous]
  authorizer: allow
  headers:
    X-Via: "{{ authenticator }}"
    X-User-Id: { key: subject_id }

- id: read-project
  match: { methods: [GET, HEAD], url: "https://api.example.com/projects/{project}" }
  authenticators: [cookie_session, bearer_session_token]
  authorizer:
    scope: { name: "compute:clusters", operation: read, project_segment: project }
  headers:
    X-User-Id: "{{ subject_id }}"
    X-User-Email: { key: email }
    X-User-Roles: { key: roles }
    X-User: "id={{ subject_id }};org={{organization}}"

- id: delete-project
  match:
    methods: [DELETE]
    url: 'https://api\.example\.com/projects/(?P<project>[0-9a-f-]{36})'
    strategy: regex
  authenticators: [bearer_jwt]
  authorizer:
    scope: { name: "compute:clusters", operation: delete, project_segment: project }

- id: ops
  match: { methods: [GET, POST], url: "https://api.example.com/ops/**" }
  authenticators: [cookie_session, anonymous]
  authorizer:
    selector: { roles: ["#ops", "#oncall"], semantic: AnyOf }

- id: admin-closed
  priority: 10
  match: { methods: [GET, POST], url: "https://api.example.com/**/admin" }
  authenticators: [anonymous]
  authorizer: deny

- id: public
  match: { methods: [GET], url: "https://api.example.com/public/**" }
  authenticators: [anonymous]
  authorizer: allow
"##;

struct Fixture {
    rules: Rules,
    ada: Principal,
    acl: CompiledAcl,
    readable: ProjectId,
    deletable: ProjectId,
    hidden: ProjectId,
}

fn fixture(config: RulesConfig) -> Fixture {
    let org = identity_core::OrganizationId::new();
    let mut ada = Principal::new(IdentityId::new());
    ada.email = Some("ada@example.com".into());
    ada.organization_id = Some(org);
    ada.role_attributes = ["oncall".parse().unwrap()].into();

    let viewer = support::role("viewer", &[(ScopeLevel::Project, "compute:clusters", Permission::READ)]);
    let owner = support::role("owner", &[(ScopeLevel::Project, "compute:clusters", Permission::ALL)]);
    let mut viewers = identity_store::testing::group(org, "viewers");
    viewers.members.insert(ada.id);
    viewers.role_ids.insert(viewer.id);
    let mut owners = identity_store::testing::group(org, "owners");
    owners.members.insert(ada.id);
    owners.role_ids.insert(owner.id);
    let readable = identity_store::testing::project(org, "readable", &[viewers.id]);
    let deletable = identity_store::testing::project(org, "deletable", &[owners.id]);
    let hidden = identity_store::testing::project(org, "hidden", &[]);
    let (r, d, h) = (readable.id, deletable.id, hidden.id);
    let snapshot =
        OrganizationSnapshot::new(org, vec![viewers, owners], vec![readable, deletable, hidden], [viewer, owner]);
    let subject = Subject::new(ada.id);
    ada.roles = snapshot.role_names(&subject);
    let acl = snapshot.compile(&subject, &PlatformAdministrators::default());
    Fixture { rules: Rules::from_yaml(RULES, config).unwrap(), ada, acl, readable: r, deletable: d, hidden: h }
}

impl Fixture {
    fn as_ada(&self, via: Authenticator) -> Caller<'_> {
        Caller::Authenticated { via, principal: &self.ada, acl: Some(&self.acl) }
    }

    fn decide(&self, method: &str, url: &str, caller: Caller<'_>) -> Decision {
        self.rules.decide(&Request::new(method, url), &caller)
    }
}

fn header<'a>(decision: &'a Decision, name: &str) -> Option<&'a str> {
    match decision {
        Decision::Allow(headers) => headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()),
        _ => None,
    }
}

fn project_url(project: ProjectId) -> String {
    format!("https://api.example.com/projects/{project}")
}

#[test]
fn a_scope_rule_allows_the_projects_the_acl_allows_and_sets_the_headers() {
    let f = fixture(RulesConfig::default());
    let decision = f.decide("GET", &project_url(f.readable), f.as_ada(Authenticator::CookieSession));
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    assert_eq!(header(&decision, "X-User-Id"), Some(f.ada.id.to_string().as_str()));
    assert_eq!(header(&decision, "X-User-Email"), Some("ada@example.com"));
    assert_eq!(header(&decision, "X-User-Roles"), Some("owner,viewer"));
    let org = f.ada.organization_id.unwrap();
    assert_eq!(header(&decision, "X-User"), Some(format!("id={};org={org}", f.ada.id).as_str()));

    assert_eq!(f.decide("GET", &project_url(f.hidden), f.as_ada(Authenticator::CookieSession)), Decision::Forbidden);
    assert_eq!(
        f.decide("GET", &project_url(ProjectId::new()), f.as_ada(Authenticator::CookieSession)),
        Decision::Forbidden
    );
    // A segment that is not a project id is refused, not an error.
    let bad = "https://api.example.com/projects/not-a-uuid";
    assert_eq!(f.decide("GET", bad, f.as_ada(Authenticator::CookieSession)), Decision::Forbidden);
    // Without an ACL in the organization, scope rules forbid.
    let no_acl = Caller::Authenticated { via: Authenticator::CookieSession, principal: &f.ada, acl: None };
    assert_eq!(f.decide("GET", &project_url(f.readable), no_acl), Decision::Forbidden);
}

#[test]
fn a_regex_rule_reads_its_named_group() {
    let f = fixture(RulesConfig::default());
    let jwt = f.as_ada(Authenticator::BearerJwt);
    assert!(matches!(f.decide("DELETE", &project_url(f.deletable), jwt), Decision::Allow(_)));
    assert_eq!(f.decide("DELETE", &project_url(f.readable), jwt), Decision::Forbidden);
}

#[test]
fn only_the_listed_authenticators_count() {
    let f = fixture(RulesConfig::default());
    // delete-project accepts bearer JWTs only: a session cookie is not enough.
    let decision = f.decide("DELETE", &project_url(f.deletable), f.as_ada(Authenticator::CookieSession));
    assert_eq!(decision, Decision::Unauthorized { login: None });
    assert_eq!(f.decide("GET", &project_url(f.readable), Caller::Anonymous), Decision::Unauthorized { login: None });
    assert!(matches!(
        f.decide("GET", &project_url(f.readable), f.as_ada(Authenticator::BearerSessionToken)),
        Decision::Allow(_)
    ));
}

#[test]
fn browsers_are_sent_to_log_in_and_come_back() {
    let config = RulesConfig { login_url: Some("https://id.example.com/login".into()), ..RulesConfig::default() };
    let f = fixture(config);
    let url = project_url(f.readable);
    let browser = [("Accept", "text/html,application/xhtml+xml;q=0.9")];
    let request = Request { method: "GET", url: &url, headers: &browser };
    let Decision::Unauthorized { login: Some(login) } = f.rules.decide(&request, &Caller::Anonymous) else {
        panic!("expected a login redirect");
    };
    assert_eq!(
        login,
        format!("https://id.example.com/login?return_to=https%3A%2F%2Fapi.example.com%2Fprojects%2F{}", f.readable)
    );
    // An API client gets a plain 401.
    let api = [("Accept", "application/json")];
    let request = Request { method: "GET", url: &url, headers: &api };
    assert_eq!(f.rules.decide(&request, &Caller::Anonymous), Decision::Unauthorized { login: None });
}

#[test]
fn selector_rules_match_role_attributes() {
    let f = fixture(RulesConfig::default());
    let url = "https://api.example.com/ops/pager";
    let decision = f.decide("POST", url, f.as_ada(Authenticator::CookieSession));
    assert!(matches!(decision, Decision::Allow(_)), "ada is #oncall: {decision:?}");
    let mut bob = f.ada.clone();
    bob.role_attributes = BTreeSet::from(["sales".parse().unwrap()]);
    let caller = Caller::Authenticated { via: Authenticator::CookieSession, principal: &bob, acl: None };
    assert_eq!(f.decide("POST", url, caller), Decision::Forbidden);
    // Anonymous gets through the authenticators, but the selector needs a subject: log in.
    assert_eq!(f.decide("GET", url, Caller::Anonymous), Decision::Unauthorized { login: None });
}

#[test]
fn anonymous_rules_let_anyone_in_with_anonymous_headers() {
    let f = fixture(RulesConfig::default());
    let decision = f.decide("GET", "https://api.example.com/health", Caller::Anonymous);
    // Empty values (no subject id) are left out.
    assert_eq!(decision, Decision::Allow(vec![("X-Via".into(), "anonymous".into())]));
    // `anonymous` is the only authenticator listed, so even a signed-in caller is anonymous here.
    let decision = f.decide("GET", "https://api.example.com/health", f.as_ada(Authenticator::CookieSession));
    assert_eq!(decision, Decision::Allow(vec![("X-Via".into(), "anonymous".into())]));
}

#[test]
fn priority_beats_specificity_and_specificity_breaks_ties() {
    let f = fixture(RulesConfig::default());
    // admin-closed (priority 10, less specific) beats ops and public (priority 0).
    assert_eq!(f.decide("GET", "https://api.example.com/public/admin", Caller::Anonymous), Decision::Forbidden);
    assert_eq!(
        f.decide("GET", "https://api.example.com/ops/admin", f.as_ada(Authenticator::CookieSession)),
        Decision::Forbidden
    );
    let first = f.rules.iter().next().unwrap();
    assert_eq!(first.id(), "admin-closed");

    let rules = r#"
- id: broad
  match: { methods: [GET], url: "https://x.example/projects/*" }
  authenticators: [anonymous]
  authorizer: deny
- id: narrow
  match: { methods: [GET], url: "https://x.example/projects/readme" }
  authenticators: [anonymous]
  authorizer: allow
"#;
    let rules = Rules::from_yaml(rules, RulesConfig::default()).unwrap();
    let decide = |url: &str| rules.decide(&Request::new("GET", url), &Caller::Anonymous);
    assert_eq!(decide("https://x.example/projects/readme"), Decision::Allow(vec![]));
    assert_eq!(decide("https://x.example/projects/other"), Decision::Forbidden);
    assert_eq!(
        rules.matched(&Request::new("GET", "https://x.example/projects/readme")).map(|r| r.id()),
        Some("narrow")
    );
}

#[test]
fn unmatched_requests_get_the_configured_default() {
    let f = fixture(RulesConfig::default());
    assert_eq!(f.decide("GET", "https://api.example.com/unknown", Caller::Anonymous), Decision::Forbidden);
    assert_eq!(f.decide("PUT", "https://api.example.com/health", Caller::Anonymous), Decision::Forbidden);
    assert_eq!(f.decide("get", "https://api.example.com/health", Caller::Anonymous), Decision::Forbidden);
    let open = fixture(RulesConfig { unmatched: Unmatched::Allow, ..RulesConfig::default() });
    assert_eq!(open.decide("GET", "https://api.example.com/unknown", Caller::Anonymous), Decision::Allow(vec![]));
    let none = Rules::from_yaml("[]", RulesConfig::default()).unwrap();
    assert!(none.is_empty());
    assert_eq!(none.decide(&Request::new("GET", "https://x.example/"), &Caller::Anonymous), Decision::Forbidden);
}

#[test]
fn urls_an_upstream_could_read_differently_are_forbidden() {
    let f = fixture(RulesConfig { unmatched: Unmatched::Allow, ..RulesConfig::default() });
    for url in [
        "https://api.example.com/public/../admin",
        "https://api.example.com/public/%2e%2e/admin",
        "https://api.example.com/public%2fadmin",
        "https://api.example.com//admin",
        "https://user@api.example.com/public/x",
        "not a url",
    ] {
        assert_eq!(f.decide("GET", url, Caller::Anonymous), Decision::Forbidden, "{url}");
    }
    // Equivalent spellings are matched as one URL.
    let decision = f.decide("GET", "HTTPS://API.EXAMPLE.COM:443/%70ublic/readme?x=1", Caller::Anonymous);
    assert_eq!(decision, Decision::Allow(vec![]));
    assert_eq!(
        f.rules.matched(&Request::new("GET", "https://api.example.com/%70ublic/x")).map(|r| r.id()),
        Some("public")
    );
}

#[test]
fn overlapping_rules_of_equal_precedence_are_refused_at_load() {
    let rules = r#"
- id: projects
  match: { methods: [GET, POST], url: "https://x.example/projects/*" }
  authenticators: [anonymous]
  authorizer: allow
- id: admin
  match: { methods: [POST, DELETE], url: "https://x.example/*/projects" }
  authenticators: [anonymous]
  authorizer: deny
"#;
    let Err(Error::InvalidRules { problems }) = Rules::from_yaml(rules, RulesConfig::default()) else {
        panic!("overlap accepted");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!((problems[0].id.as_deref(), problems[0].field.as_str()), (Some("admin"), "match"));
    assert!(problems[0].reason.contains("`projects`") && problems[0].reason.contains("POST"), "{}", problems[0].reason);

    // Disjoint methods, a different priority, or disjoint URLs (of the same specificity) make the pair acceptable.
    let disjoint_methods = rules.replace("[POST, DELETE]", "[DELETE]");
    assert!(Rules::from_yaml(&disjoint_methods, RulesConfig::default()).is_ok());
    let prioritised = rules.replace("- id: admin\n", "- id: admin\n  priority: 1\n");
    assert!(Rules::from_yaml(&prioritised, RulesConfig::default()).is_ok());
    let disjoint_urls = rules.replace("*/projects", "*.json/abc");
    assert!(Rules::from_yaml(&disjoint_urls, RulesConfig::default()).is_ok());

    // A regex that may overlap is refused too (it cannot be proven disjoint).
    let regex = r#"[
      {"id": "a", "match": {"methods": ["GET"], "url": "https://x\\.example/[a-z]+", "strategy": "regex"},
       "authenticators": ["anonymous"], "authorizer": "allow"},
      {"id": "b", "match": {"methods": ["GET"], "url": "https://x\\.example/[0-9]+", "strategy": "regex"},
       "authenticators": ["anonymous"], "authorizer": "allow"}
    ]"#;
    let Err(Error::InvalidRules { problems }) = Rules::from_json(regex, RulesConfig::default()) else {
        panic!("possible overlap accepted");
    };
    assert_eq!(problems[0].id.as_deref(), Some("b"));
}

#[test]
fn a_rule_file_with_bad_rules_reports_each_by_id_and_field() {
    let file = r##"
- id: good
  match: { methods: [GET], url: "https://x.example/good" }
  authenticators: [anonymous]
  authorizer: allow
- id: bad-method
  match: { methods: [GET, FETCH], url: "https://x.example/a" }
  authenticators: [anonymous]
  authorizer: allow
- id: bad-glob
  match: { methods: [GET], url: "https://x.example/{project" }
  authenticators: [anonymous]
  authorizer: allow
- id: bad-regex
  match: { methods: [GET], url: "https://x.example/(", strategy: regex }
  authenticators: [anonymous]
  authorizer: allow
- id: bad-selector
  match: { methods: [GET], url: "https://x.example/b" }
  authenticators: [cookie_session]
  authorizer: { selector: { roles: ["#ops", "ops"] } }
- id: bad-scope
  match: { methods: [GET], url: "https://x.example/c/{id}" }
  authenticators: [cookie_session]
  authorizer: { scope: { name: "has space", operation: read, project_segment: project } }
- id: bad-operation
  match: { methods: [GET], url: "https://x.example/d" }
  authenticators: [cookie_session]
  authorizer: { scope: { name: "x:y", operation: write } }
- id: bad-header
  match: { methods: [GET], url: "https://x.example/e" }
  authenticators: [cookie_session]
  authorizer: allow
  headers: { "X-Id": "{{ password }}", "Bad Name": "x" }
- id: no-authenticators
  match: { methods: [GET], url: "https://x.example/f" }
  authenticators: []
  authorizer: allow
- id: unreachable
  match: { methods: [GET], url: "https://x.example/g" }
  authenticators: [anonymous, cookie_session]
  authorizer: allow
- id: unknown-field
  match: { methods: [GET], url: "https://x.example/h" }
  authenticators: [anonymous]
  authorizer: allow
  mutators: []
- id: unknown-authenticator
  match: { methods: [GET], url: "https://x.example/i" }
  authenticators: [oauth2_introspection]
  authorizer: allow
- id: good
  match: { methods: [GET], url: "https://x.example/j" }
  authenticators: [anonymous]
  authorizer: allow
- match: { methods: [GET], url: "https://x.example/k" }
  authenticators: [anonymous]
  authorizer: allow
"##;
    let Err(Error::InvalidRules { problems }) = Rules::from_yaml(file, RulesConfig::default()) else {
        panic!("bad rules accepted");
    };
    let found: BTreeSet<(Option<&str>, &str)> = problems.iter().map(|p| (p.id.as_deref(), p.field.as_str())).collect();
    let expected: BTreeSet<(Option<&str>, &str)> = [
        (Some("bad-method"), "match.methods[1]"),
        (Some("bad-glob"), "match.url"),
        (Some("bad-regex"), "match.url"),
        (Some("bad-selector"), "authorizer.selector.roles[1]"),
        (Some("bad-scope"), "authorizer.scope.name"),
        (Some("bad-scope"), "authorizer.scope.project_segment"),
        (Some("bad-operation"), "authorizer.scope.operation"),
        (Some("bad-header"), "headers.X-Id"),
        (Some("bad-header"), "headers.Bad Name"),
        (Some("no-authenticators"), "authenticators"),
        (Some("unreachable"), "authenticators[1]"),
        (Some("unknown-field"), "mutators"),
        (Some("unknown-authenticator"), "authenticators[0]"),
        (Some("good"), "id"),
        (None, "."),
    ]
    .into();
    assert_eq!(found, expected, "{problems:#?}");
    assert!(problems.iter().all(|p| p.id.as_deref() != Some("good") || p.index == 12), "only the duplicate is faulted");
    let message = Error::InvalidRules { problems: problems.clone() }.to_string();
    assert!(
        message.starts_with(&format!("{} invalid access rule(s); first: rule `bad-method` (#1)", problems.len())),
        "{message}"
    );
}

#[test]
fn a_rule_file_that_is_not_a_list_of_rules_is_a_syntax_error() {
    for (text, format) in [
        ("- id: [unclosed", RuleFormat::Yaml),
        ("rules: []", RuleFormat::Yaml),
        ("{\"id\": \"x\"}", RuleFormat::Json),
        ("[{\"id\": ", RuleFormat::Json),
        ("\t- tab", RuleFormat::Yaml),
    ] {
        match Rules::load(text, format, RulesConfig::default()) {
            Err(Error::RuleFileSyntax { format: f, message }) => assert!(f == format && !message.is_empty()),
            other => panic!("{text:?}: expected a syntax error, got {other:?}"),
        }
    }
}

#[test]
fn json_rule_files_load_like_yaml() {
    let json = r#"[{
        "id": "read", "priority": 5,
        "match": {"methods": ["get"], "url": "https://x.example/projects/{project}"},
        "authenticators": ["bearer_jwt"],
        "authorizer": {"scope": {"name": "compute:clusters", "operation": "read", "project_segment": "project"}},
        "headers": {"X-User-Id": {"key": "subject_id"}}
    }]"#;
    let rules = Rules::from_json(json, RulesConfig::default()).unwrap();
    let rule = rules.iter().next().unwrap();
    assert_eq!((rule.id(), rule.priority(), rule.authenticators()), ("read", 5, &[Authenticator::BearerJwt][..]));
    assert_eq!(rule.specificity(), "https://x.example/projects/".len());
    // Methods are read case-insensitively from the file but matched exactly.
    assert!(rules.matched(&Request::new("GET", "https://x.example/projects/p")).is_some());

    let f = fixture(RulesConfig::default());
    let caller = f.as_ada(Authenticator::BearerJwt);
    let decision = rules.decide(&Request::new("GET", &format!("https://x.example/projects/{}", f.readable)), &caller);
    assert_eq!(decision, Decision::Allow(vec![("X-User-Id".into(), f.ada.id.to_string())]));
    assert!(f.acl.allows("compute:clusters", Operation::Read, Some(f.readable)));
}
