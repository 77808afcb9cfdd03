//! Fuzz target `access_rules`: the input as a proxy access-rule file (YAML and JSON) that, if it loads, decides a
//! few fixed requests; and as a request URL decided by a fixed rule file, for anonymous and authenticated callers.

use std::sync::OnceLock;

use identity_core::IdentityId;
use identity_rbac::{Authenticator, Caller, Principal, Request, RuleFormat, Rules, RulesConfig};

const RULES: &str = include_str!("../corpus/access_rules/proxy.yaml");
const URLS: [&str; 4] = [
    "https://api.example.com/health",
    "https://api.example.com/projects/7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "https://api.example.com/ops/x/../admin?q=%2F",
    "http://[::1]:8080/public/a%20b",
];

fn rules() -> &'static Rules {
    static RULES_ONCE: OnceLock<Rules> = OnceLock::new();
    RULES_ONCE.get_or_init(|| match Rules::load(RULES, RuleFormat::Yaml, RulesConfig::default()) {
        Ok(rules) => rules,
        Err(e) => panic!("the fixed rule file must load: {e}"),
    })
}

fn principal() -> &'static Principal {
    static PRINCIPAL: OnceLock<Principal> = OnceLock::new();
    PRINCIPAL.get_or_init(|| {
        let id: IdentityId = match "8f14e45f-ceea-467f-a0e4-7a1d2b1c3d4e".parse() {
            Ok(id) => id,
            Err(e) => panic!("a fixed id: {e:?}"),
        };
        let mut principal = Principal::new(id);
        principal.email = Some("ada@example.com".into());
        principal
    })
}

fn decide(rules: &Rules, method: &str, url: &str) {
    let headers = [("Accept", "text/html"), ("Cookie", "ory_kratos_session=abc"), ("Authorization", "Bearer x.y.z")];
    let request = Request { method, url, headers: &headers };
    let matched = rules.matched(&request).map(|rule| rule.id().to_owned());
    let _ = rules.decide(&request, &Caller::Anonymous);
    for via in [Authenticator::CookieSession, Authenticator::BearerJwt] {
        let _ = rules.decide(&request, &Caller::Authenticated { via, principal: principal(), acl: None });
    }
    // Matching has no side effects: asking again gives the same rule.
    assert_eq!(rules.matched(&request).map(|rule| rule.id().to_owned()), matched, "matching {url} is not stable");
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [RuleFormat::Yaml, RuleFormat::Json] {
        if let Ok(loaded) = Rules::load(text, format, RulesConfig::default()) {
            for url in URLS {
                decide(&loaded, "GET", url);
            }
        }
    }
    let (method, url) = match text.split_once(' ') {
        Some((method, url)) if !method.is_empty() && method.len() <= 8 => (method, url),
        _ => ("GET", text),
    };
    decide(rules(), method, url);
}
