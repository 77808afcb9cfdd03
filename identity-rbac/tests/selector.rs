//! Role-attribute selectors: OpenZiti's semantics, and typed errors for bad entries.

use std::collections::BTreeSet;

use identity_core::{IdentityId, RoleAttribute};
use identity_rbac::{Error, Selector, SelectorFault, Semantic};

fn attributes(names: &[&str]) -> BTreeSet<RoleAttribute> {
    names.iter().map(|n| RoleAttribute::new(*n).unwrap()).collect()
}

#[test]
fn all_of_needs_every_attribute() {
    let selector = Selector::parse(&["#sales", "#emea"], Semantic::AllOf).unwrap();
    let id = IdentityId::new();
    assert!(selector.matches(id, &attributes(&["sales", "emea", "extra"])));
    assert!(!selector.matches(id, &attributes(&["sales"])));
    assert!(!selector.matches(id, &attributes(&[])));
}

#[test]
fn any_of_needs_one_attribute() {
    let selector = Selector::parse(&["#sales", "#emea"], Semantic::AnyOf).unwrap();
    let id = IdentityId::new();
    assert!(selector.matches(id, &attributes(&["emea"])));
    assert!(!selector.matches(id, &attributes(&["apac"])));
}

#[test]
fn ids_are_added_as_a_union() {
    let chosen = IdentityId::new();
    let entries = ["#sales".to_owned(), "#emea".to_owned(), format!("@{chosen}")];
    let selector = Selector::parse(&entries, Semantic::AllOf).unwrap();
    assert!(selector.matches(chosen, &attributes(&[])), "the @ entry selects it without the attributes");
    assert!(selector.matches(IdentityId::new(), &attributes(&["sales", "emea"])));
    assert!(!selector.matches(IdentityId::new(), &attributes(&["sales"])));

    // With only @ entries, AllOf does not select everyone by vacuous truth.
    let only_ids = Selector::parse(&[format!("@{chosen}")], Semantic::AllOf).unwrap();
    assert!(!only_ids.matches(IdentityId::new(), &attributes(&["sales"])));
    assert!(only_ids.matches(chosen, &attributes(&[])));
}

#[test]
fn all_selects_everyone_and_nothing_selects_no_one() {
    let everyone = Selector::parse(&["#all"], Semantic::AllOf).unwrap();
    assert!(everyone.selects_everyone());
    assert!(everyone.matches(IdentityId::new(), &attributes(&[])));
    let empty: [&str; 0] = [];
    let nobody = Selector::parse(&empty, Semantic::AnyOf).unwrap();
    assert!(!nobody.matches(IdentityId::new(), &attributes(&["sales"])));
}

#[test]
fn entries_read_back_in_canonical_order() {
    let id = IdentityId::new();
    let selector =
        Selector::parse(&[format!("@{id}"), "#b".into(), "#a".into(), "#a".into()], Semantic::AnyOf).unwrap();
    assert_eq!(selector.entries(), ["#a".to_owned(), "#b".to_owned(), format!("@{id}")]);
    assert_eq!(selector.semantic(), Semantic::AnyOf);
}

#[test]
fn bad_entries_are_typed_errors_naming_the_entry() {
    let fault = |entries: &[&str]| match Selector::parse(entries, Semantic::AllOf) {
        Err(Error::InvalidSelector { position, entry, fault }) => (position, entry, fault),
        other => panic!("expected InvalidSelector for {entries:?}, got {other:?}"),
    };
    assert_eq!(fault(&["sales"]), (0, "sales".into(), SelectorFault::NoSigil));
    assert_eq!(fault(&["#sales", "#all"]), (1, "#all".into(), SelectorFault::AllNotAlone));
    assert_eq!(fault(&["#all", "#sales"]), (0, "#all".into(), SelectorFault::AllNotAlone));
    assert_eq!(fault(&["@not-a-uuid"]), (0, "@not-a-uuid".into(), SelectorFault::BadId));
    assert!(matches!(fault(&["#ok", "#has space"]), (1, _, SelectorFault::BadAttribute(_))));
    assert!(matches!(fault(&["#"]), (0, _, SelectorFault::BadAttribute(identity_core::Problem::Empty))));
    assert!(matches!(fault(&["##double"]), (0, _, SelectorFault::BadAttribute(_))));
    let message = Selector::parse(&["sales"], Semantic::AllOf).unwrap_err().to_string();
    assert!(message.contains("\"sales\"") && message.contains("`#`"), "{message}");
}

#[test]
fn semantic_reads_as_openziti_writes_it() {
    assert_eq!(serde_json::from_str::<Semantic>("\"AnyOf\"").unwrap(), Semantic::AnyOf);
    assert_eq!(Semantic::default(), Semantic::AllOf);
    assert!(serde_json::from_str::<Semantic>("\"anyof\"").is_err());
}
