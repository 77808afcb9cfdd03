//! Outside input never panics this crate: arbitrary selectors, rule files, URL patterns, request URLs and
//! headers give a result or a typed error.

use identity_core::IdentityId;
use identity_rbac::{
    Caller, PresentedCredentials, Request, RuleFormat, Rules, RulesConfig, Selector, Semantic, Unmatched,
};
use proptest::prelude::*;

fn rules_with(url: &str, strategy: &str) -> String {
    serde_json::json!([{
        "id": "fuzzed",
        "match": {"methods": ["GET"], "url": url, "strategy": strategy},
        "authenticators": ["anonymous"],
        "authorizer": "allow",
        "headers": {"X-Id": "{{ subject_id }}"}
    }])
    .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_selectors_parse_or_fail_cleanly(entries in prop::collection::vec("[#@]?[a-zA-Z0-9 #@:_./-]{0,12}", 0..5)) {
        if let Ok(selector) = Selector::parse(&entries, Semantic::AnyOf) {
            let _ = selector.matches(IdentityId::new(), &Default::default());
        }
    }

    #[test]
    fn arbitrary_patterns_load_or_fail_cleanly_and_match_arbitrary_urls(
        pattern in r"(https?://)?[a-z.]{0,8}(/|\*|\*\*|\{[a-z0-9]{0,3}\}?|\}|\\|[a-z%.]|\(|\)|\[|\]|\?|\+|\|){0,10}",
        strategy in prop_oneof![Just("glob"), Just("regex")],
        url in r"[a-zA-Z]{0,5}:?/{0,3}[a-zA-Z.:@%0-9]{0,12}(/[a-zA-Z.%0-9\\ ]{0,6}){0,4}(\?[a-z=]{0,4})?",
    ) {
        if let Ok(rules) = Rules::from_json(&rules_with(&pattern, strategy), RulesConfig { unmatched: Unmatched::Allow, login_url: None }) {
            let headers = [("Accept", "text/html")];
            let _ = rules.decide(&Request { method: "GET", url: &url, headers: &headers }, &Caller::Anonymous);
            let _ = rules.matched(&Request::new("GET", &url));
        }
    }

    #[test]
    fn arbitrary_rule_files_load_or_fail_cleanly(text in r"[-a-z:{}\[\] \n\x22#*/.,0-9]{0,200}") {
        let _ = Rules::load(&text, RuleFormat::Yaml, RulesConfig::default());
        let _ = Rules::load(&text, RuleFormat::Json, RulesConfig::default());
    }

    #[test]
    fn arbitrary_headers_yield_credentials_without_panicking(
        cookie in "[a-z_=; \"]{0,30}",
        authorization in "[A-Za-z .=_-]{0,30}",
    ) {
        let headers = [("Cookie", cookie.as_str()), ("Authorization", authorization.as_str())];
        let _ = PresentedCredentials::from_headers(&headers, "ory_kratos_session");
    }
}
