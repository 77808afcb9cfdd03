//! The conformance suite: one set of async checks that every backend of this crate passes, and that an
//! embedder's own backend can run against itself to prove it keeps the same invariants (unique identifiers under
//! concurrency, atomic writes, cascade deletes, single-use tokens and codes, typed errors).
//!
//! A backend's test file runs every check, each in a fresh store, with one line:
//!
//! ```
//! identity_store::conformance_tests!(async {
//!     Some(std::sync::Arc::new(identity_store::MemoryStore::new())
//!         as std::sync::Arc<dyn identity_store::testing::Inspect>)
//! });
//! # fn main() {}
//! ```
//!
//! Each check is also a public function taking the store, so a backend can run one alone; [`CHECKS`] names them
//! all. The fixtures the checks build on ([`identity_with_email`], [`token_hash`], [`START`], ...) are public too,
//! for a backend's own tests. Time never passes by sleeping: every instant is [`START`] plus an explicit duration.

// A check's `expect` is one of its assertions: a store that fails where the contract says it succeeds fails the
// check, at that line and with that message, as `assert!` would. A typed error returned instead would lose both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use identity_core::time::{Duration, OffsetDateTime};
use identity_core::{
    AddressVia, AssuranceLevel, AuthenticationMethod, CertificateFingerprint, Clock, Credential, CredentialConfig,
    CredentialType, Device, DeviceId, DnsLabel, EmailDomain, Enrollment, EnrollmentId, EnrollmentMethod, FlowId,
    GrantId, Group, GroupId, HashedPassword, Identity, IdentityId, IdentityType, OidcConfig, OidcLink, Organization,
    OrganizationId, PasswordConfig, Permission, Project, ProviderId, RecoveryAddress, Role, RoleAttribute, RoleId,
    RoleScopes, ScopeLevel, ScopeName, SealedSecret, Session, SessionId, TestClock, TokenHash, TotpConfig,
    VerifiableAddress, X509Config,
};
use serde_json::json;

// The store traits' methods need no import: they are the supertraits of `dyn Inspect`.
use crate::{
    AddressKind, ClientRecord, CodePurpose, Error, FlowRecord, IdentityFilter, MAX_DOCUMENT_BYTES, MAX_PAGE_SIZE,
    OneTimeCode, PageRequest, PageToken, TokenKind, TokenRecord,
};

/// A backend under test: a Store plus a way to see leftovers.
#[async_trait::async_trait]
pub trait Inspect: crate::Store {
    /// How many stored rows/entries of any kind (credentials, identifiers, sessions, enrollments, codes, flows,
    /// tokens, role attributes, group memberships, the identity itself) still reference `identity`.
    async fn rows_referencing(&self, identity: IdentityId) -> Result<u64, crate::Error>;
}

/// Runs every check of the suite as its own `#[tokio::test]` (multi-threaded, two workers).
///
/// The argument is an expression of type `impl Future<Output = Option<Arc<dyn Inspect>>>`, evaluated afresh in
/// each test so that every check starts from an empty store; `None` skips the test (it returns early, passing),
/// for backends whose server is not available. See the [module documentation](crate::testing) for an example.
/// The test crate needs `tokio` (with `macros` and `rt-multi-thread`) among its dev-dependencies.
#[macro_export]
macro_rules! conformance_tests {
    (@each [$($callback:tt)*]) => {
        $crate::conformance_tests! { $($callback)*;
            identities_round_trip_through_create_read_update_and_delete,
            unknown_identities_are_not_found,
            password_identifiers_are_found_regardless_of_case,
            identities_are_found_by_external_id,
            identities_are_found_by_certificate_fingerprint,
            a_taken_identifier_is_a_conflict_naming_it_and_stores_nothing,
            a_taken_external_id_is_a_conflict,
            updating_into_another_identitys_identifier_is_a_conflict_and_changes_nothing,
            changing_an_email_frees_the_old_identifier,
            identities_are_found_by_address_and_addresses_are_unique,
            concurrent_creations_of_one_email_create_one_identity,
            identities_are_listed_in_pages_ordered_by_id,
            sessions_are_listed_in_pages_and_filtered_by_activity,
            page_sizes_outside_the_limits_are_invalid,
            a_page_token_the_store_did_not_issue_is_invalid,
            identity_filters_combine_and_counts_agree_with_listings,
            oversized_traits_are_refused,
            identifiers_with_nul_are_refused_and_never_found,
            a_taken_identity_id_is_a_conflict_on_the_id,
            a_stale_identity_write_is_refused_and_changes_nothing,
            completing_an_enrollment_consumes_it_and_stores_the_identity_together,
            a_completion_that_cannot_store_the_identity_leaves_the_enrollment_open,
            deleting_an_identity_leaves_nothing_behind,
            sessions_are_found_by_token_hash_with_their_identity,
            sessions_of_an_identity_are_newest_first_and_active_ones_exclude_expired_and_revoked,
            sessions_can_be_updated_extended_and_revoked,
            revoking_all_sessions_of_an_identity_keeps_the_one_asked_for,
            a_stale_copy_cannot_bring_a_revoked_session_back,
            organizations_and_roles_list_in_bytewise_name_order,
            expired_sessions_are_deleted,
            only_valid_sessions_are_counted_as_active,
            unknown_sessions_are_not_found,
            a_session_needs_an_existing_identity,
            a_taken_session_id_or_token_hash_is_a_conflict,
            flows_round_trip_through_insert_update_and_delete,
            unknown_flows_are_not_found,
            expired_flows_are_deleted,
            enrollments_are_found_by_token_hash_and_refreshed,
            unknown_enrollments_are_not_found,
            a_taken_enrollment_token_hash_is_a_conflict,
            an_enrollment_is_consumed_once,
            a_lapsed_enrollment_is_not_consumed,
            concurrent_consumers_of_one_enrollment_get_it_once,
            expired_enrollments_are_deleted,
            a_code_is_consumed_once,
            a_lapsed_code_is_not_consumed,
            a_code_is_not_consumed_for_another_purpose,
            concurrent_consumers_of_one_code_get_it_once,
            codes_of_an_identity_are_deleted_per_purpose,
            expired_codes_are_deleted,
            a_code_with_a_taken_purpose_and_hash_is_a_conflict,
            a_code_needs_an_existing_identity,
            failures_are_counted_per_key,
            a_failure_after_the_window_starts_a_new_count,
            resetting_failures_forgets_them,
            concurrent_failures_on_one_key_are_all_counted,
            expired_counters_are_deleted,
            organizations_round_trip_and_names_are_unique,
            an_email_domain_belongs_to_one_organization,
            groups_round_trip_with_members_and_roles,
            group_names_are_unique_within_an_organization,
            group_members_and_roles_must_exist,
            roles_round_trip_and_names_are_unique,
            deleting_a_role_removes_it_from_groups,
            projects_round_trip_and_deleting_a_group_unshares_it,
            project_names_are_unique_and_their_groups_must_exist,
            deleting_an_organization_deletes_its_groups_and_projects,
            oauth2_clients_round_trip_and_ids_are_unique,
            an_oauth2_token_is_found_and_consumed_once,
            concurrent_consumers_of_one_oauth2_token_get_it_once,
            a_lapsed_oauth2_token_is_not_consumed,
            revoking_a_grant_deletes_its_tokens,
            revoking_an_identitys_tokens_spares_other_identities_and_clients,
            expired_oauth2_tokens_are_deleted,
            deleting_an_oauth2_client_deletes_its_tokens,
            an_oauth2_token_needs_an_existing_client_identity_and_a_free_hash,
            oauth2_documents_are_versioned_and_a_stale_replacement_is_refused,
            concurrent_replacements_of_one_oauth2_document_let_one_win,
        }
    };
    (@names; $($check:ident),* $(,)?) => {
        &[$(::core::stringify!($check)),*]
    };
    (@tests $store:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let store: ::core::option::Option<::std::sync::Arc<dyn $crate::testing::Inspect>> = $store.await;
                let ::core::option::Option::Some(store) = store else { return };
                $crate::testing::$check(store).await;
            }
        )*
    };
    ($store:expr $(,)?) => {
        $crate::conformance_tests! { @each [@tests $store] }
    };
}

/// The names of every check, in the order [`conformance_tests!`](crate::conformance_tests) runs them; each is a
/// public function of this module.
pub const CHECKS: &[&str] = crate::conformance_tests!(@each [@names]);

// ---------------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------------

/// The instant every check starts at, 2026-01-01T00:00:00Z: whole seconds, so it survives any backend's precision.
pub const START: OffsetDateTime = time::macros::datetime!(2026-01-01 00:00:00 UTC);

/// A private in-memory SQLite store, migrated: the SQL backend for other crates' tests.
#[cfg(feature = "sqlite")]
pub async fn sqlite_in_memory() -> Arc<dyn crate::Store> {
    let store = crate::sql::SqlStore::connect(&crate::sql::SqlOptions::new("sqlite::memory:"))
        .await
        .expect("opening an in-memory SQLite database");
    store.migrate().await.expect("migrating it");
    Arc::new(store)
}

/// Runs each scenario, an `async fn(Arc<dyn Store>)` in the calling module, as two `#[tokio::test]`s: on a fresh
/// memory store (in module `memory`) and on a fresh [`sqlite_in_memory`] store (in module `sqlite`). Other crates'
/// integration tests use it to hold their behaviour to both backends.
#[cfg(feature = "sqlite")]
#[macro_export]
macro_rules! on_every_store {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $scenario() {
                super::$scenario(::std::sync::Arc::new($crate::MemoryStore::new())).await
            })*
        }
        mod sqlite {
            $(#[tokio::test] async fn $scenario() { super::$scenario($crate::testing::sqlite_in_memory().await).await })*
        }
    };
}

/// A clock standing at [`START`].
pub fn clock() -> TestClock {
    TestClock::new(START)
}

/// A well-formed PHC string (not the hash of anything) for the fixtures' password credentials.
const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

/// A new user identity created at [`START`] whose traits hold `email`, with a password credential whose login
/// identifier is `email`, exactly as given.
pub fn identity_with_email(email: &str) -> Identity {
    let mut identity = Identity::new("default", json!({ "email": email }), START).expect("a valid identity");
    identity.credentials.insert(password_credential(email));
    identity
}

/// A password credential answering to `identifier`, made at [`START`].
pub fn password_credential(identifier: &str) -> Credential {
    let hash = HashedPassword::new(PASSWORD_HASH).expect("a PHC string");
    let config = CredentialConfig::Password(PasswordConfig { hashed_password: Some(hash) });
    Credential::new(config, vec![identifier.to_owned()], START).expect("a valid credential")
}

/// A TOTP credential labelled `label` (a second factor: its identifier is not a unique login key).
pub fn totp_credential(label: &str) -> Credential {
    let config = CredentialConfig::Totp(TotpConfig::new(SealedSecret::from_bytes(vec![7; 20])));
    Credential::new(config, vec![label.to_owned()], START).expect("a valid credential")
}

/// An OIDC credential linking the account `subject` at `provider`; its identifier is `provider:subject`.
pub fn oidc_credential(provider: &str, subject: &str) -> Credential {
    let link = OidcLink::new(provider, subject);
    let config = CredentialConfig::Oidc(OidcConfig { providers: vec![link] });
    Credential::new(config, vec![format!("{provider}:{subject}")], START).expect("a valid credential")
}

/// A device identity holding the X.509 certificate with `fingerprint`.
pub fn device_with_certificate(fingerprint: CertificateFingerprint) -> Identity {
    let mut device = Identity::new("device", json!({}), START).expect("a valid identity");
    device.identity_type = IdentityType::Device;
    let config = CredentialConfig::X509(X509Config::single(fingerprint, "CN=device"));
    device.credentials.insert(Credential::new(config, vec![], START).expect("a valid credential"));
    device
}

/// A token hash whose 32 bytes are all `n`: distinct `n`, distinct hashes.
pub fn token_hash(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

/// The role attribute `name`.
pub fn role_attribute(name: &str) -> RoleAttribute {
    RoleAttribute::new(name).expect("a valid role attribute")
}

/// The DNS label `name`.
pub fn label(name: &str) -> DnsLabel {
    DnsLabel::new(name).expect("a valid DNS label")
}

/// A password session of `identity` whose token hashes to `hash`, issued at `issued_at` for `lifespan`.
pub fn session_for(identity: IdentityId, hash: TokenHash, issued_at: OffsetDateTime, lifespan: Duration) -> Session {
    let method =
        AuthenticationMethod { method: CredentialType::Password, aal: AssuranceLevel::Aal1, completed_at: issued_at };
    Session::new(identity, hash, vec![method], issued_at, lifespan).expect("a valid session")
}

/// A one-time-token (`ott`) enrollment of `identity` whose token hashes to `hash`, made at [`START`], lapsing
/// after `lifetime`.
pub fn enrollment_for(identity: IdentityId, hash: TokenHash, lifetime: Duration) -> Enrollment {
    Enrollment::new(identity, EnrollmentMethod::Ott, hash, START, lifetime).expect("a valid enrollment")
}

/// A one-time code for `purpose` hashing to `hash`, issued at [`START`], lapsing after `lifetime`.
pub fn code_for(
    identity: Option<IdentityId>,
    purpose: CodePurpose,
    hash: TokenHash,
    lifetime: Duration,
) -> OneTimeCode {
    OneTimeCode {
        hash,
        purpose,
        identity_id: identity,
        address: Some("ada@example.com".into()),
        flow_id: None,
        created_at: START,
        expires_at: START + lifetime,
    }
}

/// A login flow acting for `identity`, lapsing `lifetime` after [`START`].
pub fn flow_for(identity: Option<IdentityId>, lifetime: Duration) -> FlowRecord {
    FlowRecord {
        id: FlowId::new(),
        kind: "login".into(),
        identity_id: identity,
        expires_at: START + lifetime,
        document: json!({ "state": "choose_method", "return_to": "https://app.example/" }),
    }
}

/// An OAuth2 client registered at [`START`] as `client_id`.
pub fn client_record(client_id: &str) -> ClientRecord {
    ClientRecord {
        client_id: client_id.to_owned(),
        document: json!({ "client_name": client_id, "redirect_uris": ["https://app.example/callback"] }),
        created_at: START,
        updated_at: START,
    }
}

/// An access token of `grant` issued to `client_id` at [`START`] for no identity, hashing to `hash` and lapsing
/// after `lifetime`.
pub fn token_for(client_id: &str, grant: GrantId, hash: TokenHash, lifetime: Duration) -> TokenRecord {
    TokenRecord {
        hash,
        kind: TokenKind::AccessToken,
        client_id: client_id.to_owned(),
        identity_id: None,
        grant_id: grant,
        created_at: START,
        expires_at: START + lifetime,
        document: json!({ "scope": "openid profile" }),
    }
}

/// A new organization named `name`, without email domains.
pub fn organization(name: &str) -> Organization {
    Organization::new(name, format!("The {name} organization")).expect("a valid organization")
}

/// A new role named `name` that reads projects.
pub fn role(name: &str) -> Role {
    let mut scopes = RoleScopes::default();
    scopes.at_mut(ScopeLevel::Project).grant(ScopeName::new("identity:projects").expect("a scope"), Permission::READ);
    Role::new(name, scopes).expect("a valid role")
}

/// An empty group named `name` in `organization`.
pub fn group(organization: OrganizationId, name: &str) -> Group {
    Group::new(organization, name).expect("a valid group")
}

/// A project named `name` in `organization`, shared with `groups`.
pub fn project(organization: OrganizationId, name: &str, groups: &[GroupId]) -> Project {
    Project::new(organization, name, groups.iter().copied().collect()).expect("a valid project")
}

// ---------------------------------------------------------------------------------------------------------------
// Assertions and helpers
// ---------------------------------------------------------------------------------------------------------------

#[track_caller]
fn assert_not_found<T: Debug>(result: Result<T, Error>, doing: &str) {
    assert!(matches!(result, Err(Error::NotFound { .. })), "{doing}: expected NotFound, got {result:?}");
}

/// Asserts a `Conflict` and returns the value it names as taken.
#[track_caller]
fn assert_conflict<T: Debug>(result: Result<T, Error>, doing: &str) -> String {
    match result {
        Err(Error::Conflict { value, .. }) => value,
        other => panic!("{doing}: expected Conflict, got {other:?}"),
    }
}

#[track_caller]
fn assert_invalid<T: Debug>(result: Result<T, Error>, doing: &str) {
    assert!(matches!(result, Err(Error::Invalid { .. })), "{doing}: expected Invalid, got {result:?}");
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

async fn find_by_email(store: &dyn Inspect, email: &str) -> Option<IdentityId> {
    store
        .find_identity_by_identifier(CredentialType::Password, email)
        .await
        .expect("finding an identity by its email")
        .map(|identity| identity.id)
}

async fn create(store: &dyn Inspect, identity: &Identity) {
    store.create_identity(identity).await.expect("creating an identity that takes no identifier of another");
}

async fn create_with_email(store: &dyn Inspect, email: &str) -> Identity {
    let identity = identity_with_email(email);
    create(store, &identity).await;
    identity
}

/// Runs `n` futures made by `make` as separate tasks released at the same instant, and returns their outputs.
async fn race<T, F, Fut>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let racer = make(i);
            tokio::spawn(async move {
                barrier.wait().await;
                racer.await
            })
        })
        .collect();
    let mut outputs = Vec::with_capacity(n);
    for task in tasks {
        outputs.push(task.await.expect("a racing task panicked"));
    }
    outputs
}

// ---------------------------------------------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------------------------------------------

/// An identity with every field set reads back equal after create and after update, and is gone after delete.
pub async fn identities_round_trip_through_create_read_update_and_delete(store: Arc<dyn Inspect>) {
    let mut ada = identity_with_email("ada@example.com");
    ada.external_id = Some("hr-1815".into());
    ada.is_admin = true;
    ada.role_attributes.insert(role_attribute("engineering"));
    ada.organization_id = Some(OrganizationId::new());
    ada.metadata_public = Some(json!({ "team": "analytical-engines" }));
    ada.metadata_admin = Some(json!({ "notes": "first programmer" }));
    ada.verifiable_addresses.push(VerifiableAddress::new("ada@example.com", AddressVia::Email, START).unwrap());
    ada.recovery_addresses.push(RecoveryAddress::new("ada@example.com", AddressVia::Email, START).unwrap());
    store.create_identity(&ada).await.expect("creating ada");
    assert_eq!(store.identity(ada.id).await.expect("reading ada"), ada, "the stored identity differs");

    let mut updated = ada.clone();
    updated.traits = json!({ "email": "ada@example.com", "name": "Ada Lovelace" });
    updated.role_attributes = BTreeSet::from([role_attribute("research"), role_attribute("sales")]);
    updated.credentials.insert(totp_credential("ada@example.com"));
    updated.credentials.insert(oidc_credential("google", "1815"));
    updated.updated_at = START + Duration::hours(1);
    store.update_identity(&updated).await.expect("updating ada");
    assert_eq!(store.identity(ada.id).await.expect("reading ada"), updated, "the update was not kept as given");
    assert_eq!(
        store.find_identity_by_identifier(CredentialType::Oidc, "google:1815").await.expect("finding by OIDC"),
        Some(updated.clone()),
        "a credential added by an update does not sign in"
    );

    store.delete_identity(ada.id).await.expect("deleting ada");
    assert_not_found(store.identity(ada.id).await, "reading a deleted identity");
    assert_eq!(find_by_email(&*store, "ada@example.com").await, None, "a deleted identity still signs in");
}

/// Reading, updating or deleting an identity that was never stored is `NotFound`, and the update creates nothing.
pub async fn unknown_identities_are_not_found(store: Arc<dyn Inspect>) {
    let ghost = identity_with_email("ghost@example.com");
    assert_not_found(store.identity(ghost.id).await, "reading an identity never stored");
    assert_not_found(store.update_identity(&ghost).await, "updating an identity never stored");
    assert_not_found(store.delete_identity(ghost.id).await, "deleting an identity never stored");
    assert_not_found(store.identity(ghost.id).await, "reading an identity after a refused update");
    assert_eq!(find_by_email(&*store, "ghost@example.com").await, None, "a refused update kept an identifier");
}

/// An identity created with `Ada@Example.com` is found by `ada@example.COM`.
pub async fn password_identifiers_are_found_regardless_of_case(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "Ada@Example.com").await;
    let found = store
        .find_identity_by_identifier(CredentialType::Password, "ada@example.COM")
        .await
        .expect("finding ada by her email");
    assert_eq!(found, Some(ada), "a password identifier is matched case-sensitively");
    assert_eq!(find_by_email(&*store, "bob@example.com").await, None, "an unknown identifier found someone");
}

/// An identity is found by its external id, and only by its own.
pub async fn identities_are_found_by_external_id(store: Arc<dyn Inspect>) {
    let mut ada = identity_with_email("ada@example.com");
    ada.external_id = Some("hr-1815".into());
    create(&*store, &ada).await;
    create_with_email(&*store, "bob@example.com").await;
    let found = store.find_identity_by_external_id("hr-1815").await.expect("finding by external id");
    assert_eq!(found, Some(ada));
    let nobody = store.find_identity_by_external_id("hr-1816").await.expect("finding by external id");
    assert_eq!(nobody, None, "an unknown external id found someone");
}

/// A device is found by its certificate's fingerprint, and a second identity cannot claim the same certificate.
pub async fn identities_are_found_by_certificate_fingerprint(store: Arc<dyn Inspect>) {
    let fingerprint = CertificateFingerprint::from_bytes([0xAB; 32]);
    let device = device_with_certificate(fingerprint);
    create(&*store, &device).await;
    let found = store.find_identity_by_certificate(&fingerprint).await.expect("finding by certificate");
    assert_eq!(found, Some(device));
    let other = CertificateFingerprint::from_bytes([0xCD; 32]);
    assert_eq!(store.find_identity_by_certificate(&other).await.expect("finding by certificate"), None);

    let clone = device_with_certificate(fingerprint);
    assert_conflict(store.create_identity(&clone).await, "creating a second holder of one certificate");
    assert_not_found(store.identity(clone.id).await, "reading the refused second holder");
}

/// Creating an identity with a taken identifier fails with a `Conflict` naming the identifier, in any case, and
/// keeps nothing of the loser, not even its other identifiers.
pub async fn a_taken_identifier_is_a_conflict_naming_it_and_stores_nothing(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;

    let mut impostor = identity_with_email("ada@example.com");
    impostor.credentials.insert(oidc_credential("google", "impostor"));
    let taken = assert_conflict(store.create_identity(&impostor).await, "creating with ada's email");
    assert_eq!(taken, "ada@example.com", "the conflict does not name the taken identifier");
    assert_not_found(store.identity(impostor.id).await, "reading the refused impostor");
    let oidc = store.find_identity_by_identifier(CredentialType::Oidc, "google:impostor").await.expect("finding");
    assert_eq!(oidc, None, "the refused identity's other identifier was kept");

    let shouting = identity_with_email("ADA@Example.COM");
    let taken = assert_conflict(store.create_identity(&shouting).await, "creating with ada's email in capitals");
    assert!(taken.eq_ignore_ascii_case("ada@example.com"), "the conflict names `{taken}`, not ada's email");
    assert_not_found(store.identity(shouting.id).await, "reading the refused identity");

    assert_eq!(store.count_identities(&IdentityFilter::default()).await.expect("counting"), 1);
    assert_eq!(find_by_email(&*store, "ada@example.com").await, Some(ada.id), "ada lost her email");
}

/// Creating an identity with an external id that is taken fails with a `Conflict` naming it, and keeps nothing.
pub async fn a_taken_external_id_is_a_conflict(store: Arc<dyn Inspect>) {
    let mut ada = identity_with_email("ada@example.com");
    ada.external_id = Some("hr-1815".into());
    create(&*store, &ada).await;

    let mut bob = identity_with_email("bob@example.com");
    bob.external_id = Some("hr-1815".into());
    let taken = assert_conflict(store.create_identity(&bob).await, "creating with ada's external id");
    assert_eq!(taken, "hr-1815");
    assert_not_found(store.identity(bob.id).await, "reading the refused identity");
    assert_eq!(find_by_email(&*store, "bob@example.com").await, None, "the refused identity's email was kept");

    bob.external_id = None;
    store.create_identity(&bob).await.expect("creating bob without the taken external id");
}

/// An update that claims another identity's email or external id fails with a `Conflict` and changes nothing.
pub async fn updating_into_another_identitys_identifier_is_a_conflict_and_changes_nothing(store: Arc<dyn Inspect>) {
    let mut ada = identity_with_email("ada@example.com");
    ada.external_id = Some("hr-1815".into());
    create(&*store, &ada).await;
    let bob = create_with_email(&*store, "bob@example.com").await;

    let mut hijack = bob.clone();
    hijack.traits = json!({ "email": "ada@example.com" });
    hijack.credentials.insert(password_credential("ada@example.com"));
    hijack.updated_at = START + Duration::hours(1);
    let taken = assert_conflict(store.update_identity(&hijack).await, "updating bob to ada's email");
    assert_eq!(taken, "ada@example.com");

    let mut hijack = bob.clone();
    hijack.external_id = Some("hr-1815".into());
    hijack.updated_at = START + Duration::hours(1);
    let taken = assert_conflict(store.update_identity(&hijack).await, "updating bob to ada's external id");
    assert_eq!(taken, "hr-1815");

    assert_eq!(store.identity(bob.id).await.expect("reading bob"), bob, "a refused update changed bob");
    assert_eq!(find_by_email(&*store, "bob@example.com").await, Some(bob.id), "bob lost his email");
    assert_eq!(find_by_email(&*store, "ada@example.com").await, Some(ada.id), "ada lost her email");
}

/// After an update changes an identity's email, the new one signs in and the old one is free for someone else.
pub async fn changing_an_email_frees_the_old_identifier(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@old.example").await;
    let mut moved = ada.clone();
    moved.traits = json!({ "email": "ada@new.example" });
    moved.credentials.insert(password_credential("ada@new.example"));
    moved.updated_at = START + Duration::hours(1);
    store.update_identity(&moved).await.expect("changing ada's email");

    assert_eq!(find_by_email(&*store, "ada@new.example").await, Some(ada.id), "the new email does not sign in");
    assert_eq!(find_by_email(&*store, "ada@old.example").await, None, "the old email still signs in");
    let newcomer = identity_with_email("ada@old.example");
    store.create_identity(&newcomer).await.expect("creating another identity with the freed email");
    assert_eq!(find_by_email(&*store, "ada@old.example").await, Some(newcomer.id));
}

/// Recovery and verifiable addresses are found by their owner, however they are typed; each belongs to one
/// identity (a second one is a conflict naming the address), and a removed address is free again.
pub async fn identities_are_found_by_address_and_addresses_are_unique(store: Arc<dyn Inspect>) {
    let mut ada = identity_with_email("ada@example.com");
    ada.recovery_addresses
        .push(RecoveryAddress::new("Ada.Recovery@Example.com", AddressVia::Email, START).expect("address"));
    ada.verifiable_addresses
        .push(VerifiableAddress::new("+1 (415) 555-0100", AddressVia::Sms, START).expect("address"));
    create(&*store, &ada).await;
    let found = |kind, address: &'static str| {
        let store = store.clone();
        async move { store.find_identity_by_address(kind, address).await.expect("finding by address").map(|i| i.id) }
    };
    assert_eq!(found(AddressKind::Recovery, " ada.recovery@EXAMPLE.com ").await, Some(ada.id));
    assert_eq!(found(AddressKind::Verifiable, "+14155550100").await, Some(ada.id));
    assert_eq!(found(AddressKind::Verifiable, "ada.recovery@example.com").await, None, "kinds are kept apart");
    assert_eq!(found(AddressKind::Recovery, "nobody@example.com").await, None);

    let mut twin = identity_with_email("twin@example.com");
    twin.recovery_addresses
        .push(RecoveryAddress::new("ada.recovery@example.com", AddressVia::Email, START).expect("address"));
    let refused = store.create_identity(&twin).await;
    assert!(
        matches!(&refused, Err(Error::Conflict { field, value }) if field == "recovery address" && value == "ada.recovery@example.com"),
        "taking ada's recovery address: {refused:?}"
    );
    assert_eq!(find_by_email(&*store, "twin@example.com").await, None, "the refused identity was stored");

    let mut moved = ada.clone();
    moved.recovery_addresses.clear();
    moved.updated_at = START + Duration::hours(1);
    store.update_identity(&moved).await.expect("removing ada's recovery address");
    assert_eq!(found(AddressKind::Recovery, "ada.recovery@example.com").await, None, "a removed address is found");
    store.create_identity(&twin).await.expect("taking the freed address");
    assert_eq!(found(AddressKind::Recovery, "ada.recovery@example.com").await, Some(twin.id));
}

/// 50 tasks creating 50 identities with one email at the same instant: exactly one succeeds, the others get a
/// `Conflict`, and one identity has that email.
pub async fn concurrent_creations_of_one_email_create_one_identity(store: Arc<dyn Inspect>) {
    const EMAIL: &str = "popular@example.com";
    let outcomes = race(50, |_| {
        let store = store.clone();
        let identity = identity_with_email(EMAIL);
        async move { store.create_identity(&identity).await }
    })
    .await;
    let created = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let conflicts = outcomes.iter().filter(|outcome| matches!(outcome, Err(Error::Conflict { .. }))).count();
    assert_eq!((created, conflicts), (1, 49), "outcomes: {outcomes:?}");
    let filter = IdentityFilter { credential_identifier: Some(EMAIL.into()), ..IdentityFilter::default() };
    assert_eq!(store.count_identities(&filter).await.expect("counting"), 1);
    assert_eq!(store.count_identities(&IdentityFilter::default()).await.expect("counting"), 1);
}

/// 7 sessions of two identities come in pages of 3, 3 and 1, each once, ordered by id; with an instant, only
/// those active and unexpired then.
pub async fn sessions_are_listed_in_pages_and_filtered_by_activity(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let bob = create_with_email(&*store, "bob@example.com").await;
    let mut ids = Vec::new();
    for n in 0..7u8 {
        let owner = if n % 2 == 0 { ada.id } else { bob.id };
        let lifespan = if n == 6 { Duration::minutes(1) } else { Duration::hours(1) };
        let session = session_for(owner, token_hash(n), START, lifespan);
        store.insert_session(&session).await.expect("storing a session");
        ids.push(session.id);
    }
    store.revoke_session(ids[0]).await.expect("revoking");
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let listed = store.list_sessions(None, &page).await.expect("listing sessions");
        assert!(listed.items.len() <= 3);
        seen.extend(listed.items.iter().map(|session| session.id));
        match listed.next_page_token {
            Some(token) => page.page_token = Some(token),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.sort_by_key(|id| *id.as_uuid());
    assert_eq!(seen, expected, "every session once, in id order");
    let later = START + Duration::minutes(30);
    let active = store.list_sessions(Some(later), &PageRequest::first(100)).await.expect("listing active sessions");
    let mut active: Vec<SessionId> = active.items.iter().map(|session| session.id).collect();
    active.sort_by_key(|id| *id.as_uuid());
    let mut wanted: Vec<SessionId> = ids[1..6].to_vec();
    wanted.sort_by_key(|id| *id.as_uuid());
    assert_eq!(active, wanted, "revoked and expired sessions were listed as active");
    assert_invalid(
        store.list_sessions(None, &PageRequest { page_size: 1, page_token: Some(PageToken::parse("!!")) }).await,
        "a garbage token",
    );
}

/// 25 identities of one organization come in pages of 10, 10 and 5, the last without a next token, each
/// identity once, ordered by id; identities of other organizations stay out.
pub async fn identities_are_listed_in_pages_ordered_by_id(store: Arc<dyn Inspect>) {
    let organization = OrganizationId::new();
    let mut members = Vec::new();
    for n in 0..25 {
        let mut member = identity_with_email(&format!("member-{n}@example.com"));
        member.organization_id = Some(organization);
        create(&*store, &member).await;
        members.push(member.id);
    }
    for n in 0..3 {
        create_with_email(&*store, &format!("outsider-{n}@example.com")).await;
    }

    let filter = IdentityFilter { organization_id: Some(organization), ..IdentityFilter::default() };
    let mut request = PageRequest::first(10);
    let (mut sizes, mut listed) = (Vec::new(), Vec::new());
    loop {
        let page = store.list_identities(&filter, &request).await.expect("listing a page");
        sizes.push(page.items.len());
        listed.extend(page.items.iter().map(|identity| identity.id));
        assert!(sizes.len() <= 5, "pagination does not end; page sizes so far: {sizes:?}");
        match page.next_page_token {
            Some(token) => request = PageRequest { page_size: 10, page_token: Some(token) },
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 5], "page sizes");
    assert_eq!(listed, sorted(members), "the pages do not hold each member once, ordered by id");
}

/// A page size of 0 or over [`MAX_PAGE_SIZE`] is `Invalid`; [`MAX_PAGE_SIZE`] itself is fine.
pub async fn page_sizes_outside_the_limits_are_invalid(store: Arc<dyn Inspect>) {
    create_with_email(&*store, "ada@example.com").await;
    let all = IdentityFilter::default();
    for size in [0, MAX_PAGE_SIZE + 1] {
        assert_invalid(store.list_identities(&all, &PageRequest::first(size)).await, &format!("page size {size}"));
    }
    let page = store.list_identities(&all, &PageRequest::first(MAX_PAGE_SIZE)).await.expect("the largest page");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next_page_token, None);
}

/// A page token the store did not issue is `Invalid`, not a silent first page.
pub async fn a_page_token_the_store_did_not_issue_is_invalid(store: Arc<dyn Inspect>) {
    create_with_email(&*store, "ada@example.com").await;
    let request = PageRequest { page_size: 10, page_token: Some(PageToken::parse("garbage")) };
    assert_invalid(store.list_identities(&IdentityFilter::default(), &request).await, "listing after `garbage`");
}

async fn assert_filter_selects(store: &dyn Inspect, filter: IdentityFilter, expected: &[IdentityId]) {
    let page = store.list_identities(&filter, &PageRequest::first(MAX_PAGE_SIZE)).await.expect("listing");
    let listed: Vec<IdentityId> = page.items.iter().map(|identity| identity.id).collect();
    let expected = sorted(expected.to_vec());
    assert_eq!(listed, expected, "identities listed for {filter:?}");
    assert_eq!(page.next_page_token, None, "a complete listing has a next page for {filter:?}");
    let count = store.count_identities(&filter).await.expect("counting");
    assert_eq!(count, expected.len() as u64, "count for {filter:?} disagrees with the listing");
}

/// Each filter selects what it names, filters combine with AND, and counts agree with listings.
pub async fn identity_filters_combine_and_counts_agree_with_listings(store: Arc<dyn Inspect>) {
    let (north, south) = (OrganizationId::new(), OrganizationId::new());
    let member = |email: &str, organization: Option<OrganizationId>, attribute: &str| {
        let mut identity = identity_with_email(email);
        identity.organization_id = organization;
        identity.role_attributes.insert(role_attribute(attribute));
        identity
    };
    let ada = member("ada@example.com", Some(north), "sales");
    let bob = member("bob@example.com", Some(north), "ops");
    let cyd = member("cyd@example.com", Some(south), "sales");
    let dee = member("dee@example.com", None, "sales");
    for identity in [&ada, &bob, &cyd, &dee] {
        create(&*store, identity).await;
    }

    let by_identifier = |identifier: &str| IdentityFilter {
        credential_identifier: Some(identifier.into()),
        ..IdentityFilter::default()
    };
    let sales = Some(role_attribute("sales"));
    assert_filter_selects(&*store, IdentityFilter::default(), &[ada.id, bob.id, cyd.id, dee.id]).await;
    assert_filter_selects(&*store, by_identifier("ada@example.com"), &[ada.id]).await;
    assert_filter_selects(&*store, by_identifier("ADA@example.com"), &[ada.id]).await;
    assert_filter_selects(&*store, by_identifier("nobody@example.com"), &[]).await;
    let filter = IdentityFilter { role_attribute: sales.clone(), ..IdentityFilter::default() };
    assert_filter_selects(&*store, filter, &[ada.id, cyd.id, dee.id]).await;
    let filter = IdentityFilter { organization_id: Some(north), ..IdentityFilter::default() };
    assert_filter_selects(&*store, filter, &[ada.id, bob.id]).await;
    let filter = IdentityFilter { organization_id: Some(north), role_attribute: sales.clone(), ..Default::default() };
    assert_filter_selects(&*store, filter, &[ada.id]).await;
    let filter = IdentityFilter { role_attribute: sales, ..by_identifier("bob@example.com") };
    assert_filter_selects(&*store, filter, &[]).await;
    let filter = IdentityFilter { organization_id: Some(south), ..by_identifier("cyd@example.com") };
    assert_filter_selects(&*store, filter, &[cyd.id]).await;
}

/// Traits over [`MAX_DOCUMENT_BYTES`] are `Invalid` on create and on update, and nothing is written.
pub async fn oversized_traits_are_refused(store: Arc<dyn Inspect>) {
    let blob = "x".repeat(MAX_DOCUMENT_BYTES);
    let mut huge = identity_with_email("huge@example.com");
    huge.traits = json!({ "email": "huge@example.com", "blob": blob });
    assert_invalid(store.create_identity(&huge).await, "creating an identity with oversized traits");
    assert_not_found(store.identity(huge.id).await, "reading the refused identity");
    assert_eq!(find_by_email(&*store, "huge@example.com").await, None, "the refused identity's email was kept");

    let ada = create_with_email(&*store, "ada@example.com").await;
    let mut bloated = ada.clone();
    bloated.traits = json!({ "email": "ada@example.com", "blob": blob });
    assert_invalid(store.update_identity(&bloated).await, "updating to oversized traits");
    assert_eq!(store.identity(ada.id).await.expect("reading ada"), ada, "a refused update changed ada");
}

/// Deleting an identity deletes its credentials, sessions, enrollments, codes, flows, OAuth2 tokens, role
/// attributes and group memberships: no row references it afterwards, and another identity keeps its own.
pub async fn deleting_an_identity_leaves_nothing_behind(store: Arc<dyn Inspect>) {
    let mut ada = identity_with_email("ada@example.com");
    ada.role_attributes = BTreeSet::from([role_attribute("engineering"), role_attribute("research")]);
    ada.credentials.insert(totp_credential("ada@example.com"));
    ada.external_id = Some("hr-1815".into());
    create(&*store, &ada).await;
    let bob = create_with_email(&*store, "bob@example.com").await;

    let session = session_for(ada.id, token_hash(1), START, Duration::hours(24));
    store.insert_session(&session).await.expect("inserting ada's session");
    store.insert_session(&session_for(bob.id, token_hash(2), START, Duration::hours(24))).await.expect("bob's");
    let enrollment = enrollment_for(ada.id, token_hash(3), Duration::hours(1));
    store.insert_enrollment(&enrollment).await.expect("inserting ada's enrollment");
    let code = code_for(Some(ada.id), CodePurpose::Recovery, token_hash(4), Duration::hours(1));
    store.insert_code(&code).await.expect("inserting ada's code");
    let flow = flow_for(Some(ada.id), Duration::hours(1));
    store.insert_flow(&flow).await.expect("inserting ada's flow");
    store.create_client(&client_record("shop")).await.expect("registering a client");
    let token = TokenRecord {
        kind: TokenKind::RefreshToken,
        identity_id: Some(ada.id),
        ..token_for("shop", GrantId::new(), token_hash(5), Duration::days(30))
    };
    store.insert_token(&token).await.expect("inserting ada's refresh token");
    let acme = organization("acme");
    store.create_organization(&acme).await.expect("creating an organization");
    let mut engineers = group(acme.id, "engineers");
    engineers.members = BTreeSet::from([ada.id, bob.id]);
    store.create_group(&engineers).await.expect("creating a group with ada and bob");

    let before = store.rows_referencing(ada.id).await.expect("counting ada's rows");
    assert!(before > 0, "rows_referencing sees nothing of a stored identity");
    store.delete_identity(ada.id).await.expect("deleting ada");

    assert_eq!(store.rows_referencing(ada.id).await.expect("counting ada's rows"), 0, "rows left behind");
    assert_not_found(store.identity(ada.id).await, "reading deleted ada");
    assert_not_found(store.session(session.id).await, "reading a deleted identity's session");
    assert_eq!(store.find_session_by_token_hash(&token_hash(1)).await.expect("finding a session"), None);
    assert_not_found(store.enrollment(enrollment.id).await, "reading a deleted identity's enrollment");
    assert_eq!(store.find_enrollment_by_token_hash(&token_hash(3)).await.expect("finding an enrollment"), None);
    let consumed = store.consume_code(CodePurpose::Recovery, &token_hash(4), START).await.expect("consuming");
    assert_eq!(consumed, None, "a deleted identity's recovery code still works");
    assert_not_found(store.flow(flow.id).await, "reading a deleted identity's flow");
    assert_eq!(store.find_token(&token_hash(5)).await.expect("finding a token"), None, "its token survived");
    let engineers = store.group(engineers.id).await.expect("reading the group");
    assert_eq!(engineers.members, BTreeSet::from([bob.id]), "the group still lists the deleted identity");
    assert_eq!(store.groups_of_member(ada.id).await.expect("listing ada's groups"), []);
    assert_eq!(store.find_identity_by_external_id("hr-1815").await.expect("finding by external id"), None);

    assert!(store.find_session_by_token_hash(&token_hash(2)).await.expect("finding bob's session").is_some());
    assert!(store.rows_referencing(bob.id).await.expect("counting bob's rows") > 0, "bob's rows went too");
    assert_eq!(store.identity(bob.id).await.expect("reading bob"), bob);
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------------------------

/// A session is read by id and found by its token's hash, alone or with its identity; another hash finds nothing.
pub async fn sessions_are_found_by_token_hash_with_their_identity(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let session = session_for(ada.id, token_hash(1), START, Duration::hours(24));
    store.insert_session(&session).await.expect("inserting a session");

    assert_eq!(store.session(session.id).await.expect("reading the session"), session);
    let found = store.find_session_by_token_hash(&token_hash(1)).await.expect("finding by hash");
    assert_eq!(found, Some(session.clone()));
    let found = store.find_session_with_identity(&token_hash(1)).await.expect("finding with identity");
    assert_eq!(found, Some((session, ada)));
    assert_eq!(store.find_session_by_token_hash(&token_hash(9)).await.expect("finding by hash"), None);
    assert_eq!(store.find_session_with_identity(&token_hash(9)).await.expect("finding with identity"), None);
}

/// `sessions_of` lists an identity's sessions newest first; with `active_at` it leaves out expired and revoked
/// ones; another identity's sessions never appear.
pub async fn sessions_of_an_identity_are_newest_first_and_active_ones_exclude_expired_and_revoked(
    store: Arc<dyn Inspect>,
) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let bob = create_with_email(&*store, "bob@example.com").await;
    let oldest = session_for(ada.id, token_hash(1), START, Duration::hours(1));
    let revoked = session_for(ada.id, token_hash(2), START + Duration::hours(1), Duration::hours(24));
    let newest = session_for(ada.id, token_hash(3), START + Duration::hours(2), Duration::hours(24));
    let bobs = session_for(bob.id, token_hash(4), START + Duration::hours(2), Duration::hours(24));
    for session in [&revoked, &oldest, &newest, &bobs] {
        store.insert_session(session).await.expect("inserting a session");
    }
    store.revoke_session(revoked.id).await.expect("revoking a session");

    let ids = |sessions: Vec<Session>| sessions.into_iter().map(|session| session.id).collect::<Vec<SessionId>>();
    let all = store.sessions_of(ada.id, None).await.expect("listing all sessions");
    assert_eq!(ids(all), [newest.id, revoked.id, oldest.id], "all sessions, newest first");
    let active = store.sessions_of(ada.id, Some(START + Duration::hours(3))).await.expect("listing active ones");
    assert_eq!(ids(active), [newest.id], "active sessions three hours in");
}

/// A session can be replaced (a second factor, a device), extended, and revoked; a revoked session is still
/// found by its hash, marked inactive.
pub async fn sessions_can_be_updated_extended_and_revoked(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let session = session_for(ada.id, token_hash(1), START, Duration::hours(24));
    store.insert_session(&session).await.expect("inserting a session");

    let mut upgraded = session.clone();
    upgraded.add_method(AuthenticationMethod {
        method: CredentialType::Totp,
        aal: AssuranceLevel::Aal2,
        completed_at: START + Duration::minutes(5),
    });
    upgraded.devices.push(Device {
        id: DeviceId::new(),
        ip_address: Some("192.0.2.7".parse().expect("an address")),
        user_agent: Some("curl/8".into()),
        location: None,
    });
    store.update_session(&upgraded).await.expect("updating the session");
    assert_eq!(store.session(session.id).await.expect("reading the session"), upgraded);

    let later = START + Duration::hours(48);
    let extended = store.extend_session(session.id, later).await.expect("extending the session");
    assert_eq!(extended, Session { expires_at: later, ..upgraded.clone() }, "extending changed more than the expiry");
    assert_eq!(store.session(session.id).await.expect("reading the session"), extended);

    // A copy read before the extension does not undo it when written back.
    let mut stale = upgraded.clone();
    stale.devices.clear();
    store.update_session(&stale).await.expect("writing a stale copy back");
    assert_eq!(
        store.session(session.id).await.expect("reading the session").expires_at,
        later,
        "the extension was lost"
    );

    store.revoke_session(session.id).await.expect("revoking the session");
    assert!(!store.session(session.id).await.expect("reading the session").active, "a revoked session is active");
    let found = store.find_session_by_token_hash(&token_hash(1)).await.expect("finding by hash");
    assert_eq!(found.map(|session| session.active), Some(false), "a revoked session is not found inactive");
}

/// Revoking every session of an identity but one revokes the other active ones, returns how many, and leaves
/// the kept one and other identities' sessions active.
pub async fn revoking_all_sessions_of_an_identity_keeps_the_one_asked_for(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let bob = create_with_email(&*store, "bob@example.com").await;
    let sessions: Vec<Session> =
        (1..=4).map(|n| session_for(ada.id, token_hash(n), START, Duration::hours(24))).collect();
    let bobs = session_for(bob.id, token_hash(5), START, Duration::hours(24));
    for session in sessions.iter().chain([&bobs]) {
        store.insert_session(session).await.expect("inserting a session");
    }
    store.revoke_session(sessions[3].id).await.expect("revoking one session beforehand");

    let revoked = store.revoke_sessions_of(ada.id, Some(sessions[0].id)).await.expect("revoking the others");
    assert_eq!(revoked, 2, "the count of active sessions revoked");
    let active = |id| {
        let store = store.clone();
        async move { store.session(id).await.expect("reading a session").active }
    };
    assert!(active(sessions[0].id).await, "the kept session was revoked");
    for session in &sessions[1..] {
        assert!(!active(session.id).await, "a session other than the kept one is still active");
    }
    assert!(active(bobs.id).await, "another identity's session was revoked");

    assert_eq!(store.revoke_sessions_of(ada.id, None).await.expect("revoking the rest"), 1);
    assert!(!active(sessions[0].id).await, "revoking without `keep` kept a session");
}

/// Deleting expired sessions deletes those that expired before the instant given, counts them, and keeps the
/// others.
pub async fn expired_sessions_are_deleted(store: Arc<dyn Inspect>) {
    let clock = clock();
    let ada = create_with_email(&*store, "ada@example.com").await;
    let short = session_for(ada.id, token_hash(1), START, Duration::hours(1));
    let shortish = session_for(ada.id, token_hash(2), START, Duration::hours(2));
    let long = session_for(ada.id, token_hash(3), START, Duration::hours(48));
    for session in [&short, &shortish, &long] {
        store.insert_session(session).await.expect("inserting a session");
    }
    clock.advance(Duration::hours(3));
    assert_eq!(store.delete_expired_sessions(clock.now()).await.expect("deleting expired sessions"), 2);
    assert_not_found(store.session(short.id).await, "reading a deleted expired session");
    assert_not_found(store.session(shortish.id).await, "reading a deleted expired session");
    assert_eq!(store.session(long.id).await.expect("reading the live session"), long);
    assert_eq!(store.delete_expired_sessions(clock.now()).await.expect("deleting again"), 0);
}

/// The active count leaves out revoked sessions and those expired at the instant given.
pub async fn only_valid_sessions_are_counted_as_active(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    assert_eq!(store.count_active_sessions(START).await.expect("counting none"), 0);
    let sessions =
        [(1, 1), (2, 2), (3, 48)].map(|(n, hours)| session_for(ada.id, token_hash(n), START, Duration::hours(hours)));
    for session in &sessions {
        store.insert_session(session).await.expect("inserting a session");
    }
    assert_eq!(store.count_active_sessions(START).await.expect("counting"), 3);
    store.revoke_session(sessions[2].id).await.expect("revoking");
    assert_eq!(store.count_active_sessions(START).await.expect("counting after a revocation"), 2);
    assert_eq!(
        store.count_active_sessions(START + Duration::hours(1)).await.expect("counting later"),
        1,
        "expiry is exclusive"
    );
    assert_eq!(store.count_active_sessions(START + Duration::hours(3)).await.expect("counting much later"), 0);
}

/// Reading, updating, extending or revoking a session that was never stored is `NotFound`.
pub async fn unknown_sessions_are_not_found(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let ghost = session_for(ada.id, token_hash(1), START, Duration::hours(1));
    assert_not_found(store.session(ghost.id).await, "reading an unknown session");
    assert_not_found(store.update_session(&ghost).await, "updating an unknown session");
    assert_not_found(store.extend_session(ghost.id, START + Duration::hours(2)).await, "extending an unknown one");
    assert_not_found(store.revoke_session(ghost.id).await, "revoking an unknown session");
    assert_eq!(store.find_session_by_token_hash(&token_hash(1)).await.expect("finding"), None, "update created it");
}

/// A session of an identity that does not exist is refused with `NotFound`.
pub async fn a_session_needs_an_existing_identity(store: Arc<dyn Inspect>) {
    let orphan = session_for(IdentityId::new(), token_hash(1), START, Duration::hours(1));
    assert_not_found(store.insert_session(&orphan).await, "inserting a session of a missing identity");
    assert_eq!(store.find_session_by_token_hash(&token_hash(1)).await.expect("finding"), None);
}

/// A second session with a taken token hash, or a taken id, is a `Conflict`, and the first one is unchanged.
pub async fn a_taken_session_id_or_token_hash_is_a_conflict(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let first = session_for(ada.id, token_hash(1), START, Duration::hours(1));
    store.insert_session(&first).await.expect("inserting a session");

    let same_hash = session_for(ada.id, token_hash(1), START, Duration::hours(2));
    assert_conflict(store.insert_session(&same_hash).await, "inserting a second session with one token hash");
    assert_not_found(store.session(same_hash.id).await, "reading the refused session");
    let same_id = Session { token_hash: token_hash(2), ..first.clone() };
    assert_conflict(store.insert_session(&same_id).await, "inserting a second session with one id");
    assert_eq!(store.find_session_by_token_hash(&token_hash(2)).await.expect("finding"), None);
    assert_eq!(store.find_session_by_token_hash(&token_hash(1)).await.expect("finding"), Some(first));
}

// ---------------------------------------------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------------------------------------------

/// A flow, anonymous or acting for an identity, reads back as inserted and as updated, and is gone after delete.
pub async fn flows_round_trip_through_insert_update_and_delete(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let settings = FlowRecord { kind: "settings".into(), ..flow_for(Some(ada.id), Duration::hours(1)) };
    let login = flow_for(None, Duration::hours(1));
    store.insert_flow(&settings).await.expect("inserting a settings flow");
    store.insert_flow(&login).await.expect("inserting an anonymous login flow");
    assert_eq!(store.flow(settings.id).await.expect("reading the settings flow"), settings);
    assert_eq!(store.flow(login.id).await.expect("reading the login flow"), login);

    let advanced = FlowRecord {
        document: json!({ "state": "sent_email", "attempts": 2 }),
        expires_at: START + Duration::hours(2),
        ..settings.clone()
    };
    store.update_flow(&advanced).await.expect("updating the flow");
    assert_eq!(store.flow(settings.id).await.expect("reading the flow"), advanced);

    assert_conflict(store.insert_flow(&login).await, "inserting a flow whose id is taken");
    store.delete_flow(settings.id).await.expect("deleting the flow");
    assert_not_found(store.flow(settings.id).await, "reading a deleted flow");
    assert_eq!(store.flow(login.id).await.expect("reading the other flow"), login, "deleting took another flow");
}

/// Reading, updating or deleting an unknown flow is `NotFound`, and so is a flow for a missing identity.
pub async fn unknown_flows_are_not_found(store: Arc<dyn Inspect>) {
    let ghost = flow_for(None, Duration::hours(1));
    assert_not_found(store.flow(ghost.id).await, "reading an unknown flow");
    assert_not_found(store.update_flow(&ghost).await, "updating an unknown flow");
    assert_not_found(store.delete_flow(ghost.id).await, "deleting an unknown flow");
    assert_not_found(store.flow(ghost.id).await, "reading a flow after a refused update");
    let orphan = flow_for(Some(IdentityId::new()), Duration::hours(1));
    assert_not_found(store.insert_flow(&orphan).await, "inserting a flow for a missing identity");
}

/// Deleting expired flows deletes those that lapsed before the instant given, counts them, and keeps the others.
pub async fn expired_flows_are_deleted(store: Arc<dyn Inspect>) {
    let flows = [1, 2, 48].map(|hours| flow_for(None, Duration::hours(hours)));
    for flow in &flows {
        store.insert_flow(flow).await.expect("inserting a flow");
    }
    let now = START + Duration::hours(3);
    assert_eq!(store.delete_expired_flows(now).await.expect("deleting expired flows"), 2);
    assert_not_found(store.flow(flows[0].id).await, "reading a deleted expired flow");
    assert_not_found(store.flow(flows[1].id).await, "reading a deleted expired flow");
    assert_eq!(store.flow(flows[2].id).await.expect("reading the live flow"), flows[2]);
}

// ---------------------------------------------------------------------------------------------------------------
// Enrollments
// ---------------------------------------------------------------------------------------------------------------

/// Enrollments are read by id, found by token hash and listed per identity; a refresh replaces the token, so the
/// old hash finds nothing; a deleted enrollment is gone.
pub async fn enrollments_are_found_by_token_hash_and_refreshed(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let bob = create_with_email(&*store, "bob@example.com").await;
    let device = enrollment_for(ada.id, token_hash(1), Duration::hours(1));
    let password = Enrollment::new(
        ada.id,
        EnrollmentMethod::Updb { username: "ada".into() },
        token_hash(2),
        START,
        Duration::hours(24),
    )
    .expect("a valid enrollment");
    let bobs = enrollment_for(bob.id, token_hash(3), Duration::hours(1));
    for enrollment in [&device, &password, &bobs] {
        store.insert_enrollment(enrollment).await.expect("inserting an enrollment");
    }

    assert_eq!(store.enrollment(device.id).await.expect("reading an enrollment"), device);
    assert_eq!(store.find_enrollment_by_token_hash(&token_hash(2)).await.expect("finding"), Some(password.clone()));
    let of_ada: Vec<EnrollmentId> =
        store.enrollments_of(ada.id).await.expect("listing ada's").into_iter().map(|e| e.id).collect();
    assert_eq!(sorted(of_ada), sorted(vec![device.id, password.id]), "ada's enrollments");

    let mut refreshed = device.clone();
    refreshed.refresh(token_hash(4), START + Duration::minutes(30), Duration::hours(1)).expect("refreshing");
    store.update_enrollment(&refreshed).await.expect("storing the refresh");
    assert_eq!(store.enrollment(device.id).await.expect("reading"), refreshed);
    assert_eq!(store.find_enrollment_by_token_hash(&token_hash(4)).await.expect("finding"), Some(refreshed));
    assert_eq!(store.find_enrollment_by_token_hash(&token_hash(1)).await.expect("finding"), None, "old token works");

    store.delete_enrollment(password.id).await.expect("deleting an enrollment");
    assert_not_found(store.enrollment(password.id).await, "reading a deleted enrollment");
    assert_eq!(store.find_enrollment_by_token_hash(&token_hash(2)).await.expect("finding"), None);
}

/// Reading, updating or deleting an unknown enrollment is `NotFound`, and so is one for a missing identity.
pub async fn unknown_enrollments_are_not_found(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let ghost = enrollment_for(ada.id, token_hash(1), Duration::hours(1));
    assert_not_found(store.enrollment(ghost.id).await, "reading an unknown enrollment");
    assert_not_found(store.update_enrollment(&ghost).await, "updating an unknown enrollment");
    assert_not_found(store.delete_enrollment(ghost.id).await, "deleting an unknown enrollment");
    let orphan = enrollment_for(IdentityId::new(), token_hash(2), Duration::hours(1));
    assert_not_found(store.insert_enrollment(&orphan).await, "inserting an enrollment of a missing identity");
    assert_eq!(store.find_enrollment_by_token_hash(&token_hash(1)).await.expect("finding"), None);
    assert_eq!(store.find_enrollment_by_token_hash(&token_hash(2)).await.expect("finding"), None);
}

/// A second enrollment with a taken token hash is a `Conflict`.
pub async fn a_taken_enrollment_token_hash_is_a_conflict(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let first = enrollment_for(ada.id, token_hash(1), Duration::hours(1));
    store.insert_enrollment(&first).await.expect("inserting an enrollment");
    let second = enrollment_for(ada.id, token_hash(1), Duration::hours(2));
    assert_conflict(store.insert_enrollment(&second).await, "inserting a second enrollment with one token hash");
    assert_not_found(store.enrollment(second.id).await, "reading the refused enrollment");
    assert_eq!(store.find_enrollment_by_token_hash(&token_hash(1)).await.expect("finding"), Some(first));
}

/// Consuming an enrollment returns it once; the second time there is nothing, and it is gone.
pub async fn an_enrollment_is_consumed_once(store: Arc<dyn Inspect>) {
    let clock = clock();
    let ada = create_with_email(&*store, "ada@example.com").await;
    let enrollment = enrollment_for(ada.id, token_hash(1), Duration::hours(1));
    store.insert_enrollment(&enrollment).await.expect("inserting an enrollment");
    clock.advance(Duration::minutes(10));
    let first = store.consume_enrollment(&token_hash(1), clock.now()).await.expect("consuming");
    assert_eq!(first, Some(enrollment.clone()));
    let second = store.consume_enrollment(&token_hash(1), clock.now()).await.expect("consuming again");
    assert_eq!(second, None, "an enrollment was consumed twice");
    assert_not_found(store.enrollment(enrollment.id).await, "reading a consumed enrollment");
}

/// An enrollment that has lapsed is not consumed.
pub async fn a_lapsed_enrollment_is_not_consumed(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let enrollment = enrollment_for(ada.id, token_hash(1), Duration::hours(1));
    store.insert_enrollment(&enrollment).await.expect("inserting an enrollment");
    let late = enrollment.expires_at + Duration::seconds(1);
    assert_eq!(store.consume_enrollment(&token_hash(1), late).await.expect("consuming late"), None);
}

/// 20 tasks consuming one enrollment at the same instant: exactly one gets it.
pub async fn concurrent_consumers_of_one_enrollment_get_it_once(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let enrollment = enrollment_for(ada.id, token_hash(1), Duration::hours(1));
    store.insert_enrollment(&enrollment).await.expect("inserting an enrollment");
    let outcomes = race(20, |_| {
        let store = store.clone();
        async move { store.consume_enrollment(&token_hash(1), START).await.expect("consuming") }
    })
    .await;
    let winners: Vec<Enrollment> = outcomes.into_iter().flatten().collect();
    assert_eq!(winners, [enrollment], "not exactly one consumer got the enrollment");
}

/// Deleting expired enrollments deletes those that lapsed before the instant given, counts them, keeps the rest.
pub async fn expired_enrollments_are_deleted(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let enrollments =
        [(1, 1), (2, 2), (3, 48)].map(|(n, hours)| enrollment_for(ada.id, token_hash(n), Duration::hours(hours)));
    for enrollment in &enrollments {
        store.insert_enrollment(enrollment).await.expect("inserting an enrollment");
    }
    let now = START + Duration::hours(3);
    assert_eq!(store.delete_expired_enrollments(now).await.expect("deleting expired enrollments"), 2);
    assert_not_found(store.enrollment(enrollments[0].id).await, "reading a deleted expired enrollment");
    assert_not_found(store.enrollment(enrollments[1].id).await, "reading a deleted expired enrollment");
    assert_eq!(store.enrollment(enrollments[2].id).await.expect("reading the live one"), enrollments[2]);
}

// ---------------------------------------------------------------------------------------------------------------
// One-time codes
// ---------------------------------------------------------------------------------------------------------------

/// Consuming a code returns it once; the second time there is nothing.
pub async fn a_code_is_consumed_once(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let code = OneTimeCode {
        flow_id: Some(FlowId::new()),
        ..code_for(Some(ada.id), CodePurpose::Recovery, token_hash(1), Duration::minutes(15))
    };
    store.insert_code(&code).await.expect("inserting a code");
    let now = START + Duration::minutes(5);
    let first = store.consume_code(CodePurpose::Recovery, &token_hash(1), now).await.expect("consuming");
    assert_eq!(first, Some(code));
    let second = store.consume_code(CodePurpose::Recovery, &token_hash(1), now).await.expect("consuming again");
    assert_eq!(second, None, "a code was consumed twice");
}

/// A code that has lapsed is not consumed.
pub async fn a_lapsed_code_is_not_consumed(store: Arc<dyn Inspect>) {
    let code = code_for(None, CodePurpose::Verification, token_hash(1), Duration::minutes(15));
    store.insert_code(&code).await.expect("inserting a code");
    let late = code.expires_at + Duration::seconds(1);
    let consumed = store.consume_code(CodePurpose::Verification, &token_hash(1), late).await.expect("consuming");
    assert_eq!(consumed, None, "a lapsed code was accepted");
}

/// A code is not consumed for a purpose other than its own, and stays usable for its own.
pub async fn a_code_is_not_consumed_for_another_purpose(store: Arc<dyn Inspect>) {
    let code = code_for(None, CodePurpose::Recovery, token_hash(1), Duration::minutes(15));
    store.insert_code(&code).await.expect("inserting a code");
    for purpose in [CodePurpose::Verification, CodePurpose::Login] {
        let consumed = store.consume_code(purpose, &token_hash(1), START).await.expect("consuming");
        assert_eq!(consumed, None, "a recovery code was accepted for {purpose:?}");
    }
    let consumed = store.consume_code(CodePurpose::Recovery, &token_hash(1), START).await.expect("consuming");
    assert_eq!(consumed, Some(code), "trying other purposes used up the code");
}

/// 20 tasks consuming one code at the same instant: exactly one gets it.
pub async fn concurrent_consumers_of_one_code_get_it_once(store: Arc<dyn Inspect>) {
    let code = code_for(None, CodePurpose::Login, token_hash(1), Duration::minutes(15));
    store.insert_code(&code).await.expect("inserting a code");
    let outcomes = race(20, |_| {
        let store = store.clone();
        async move { store.consume_code(CodePurpose::Login, &token_hash(1), START).await.expect("consuming") }
    })
    .await;
    let winners: Vec<OneTimeCode> = outcomes.into_iter().flatten().collect();
    assert_eq!(winners, [code], "not exactly one consumer got the code");
}

/// Deleting an identity's codes for one purpose deletes only those, and counts them.
pub async fn codes_of_an_identity_are_deleted_per_purpose(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    let bob = create_with_email(&*store, "bob@example.com").await;
    let lifetime = Duration::minutes(15);
    let codes = [
        code_for(Some(ada.id), CodePurpose::Recovery, token_hash(1), lifetime),
        code_for(Some(ada.id), CodePurpose::Recovery, token_hash(2), lifetime),
        code_for(Some(ada.id), CodePurpose::Verification, token_hash(3), lifetime),
        code_for(Some(bob.id), CodePurpose::Recovery, token_hash(4), lifetime),
    ];
    for code in &codes {
        store.insert_code(code).await.expect("inserting a code");
    }
    assert_eq!(store.delete_codes_of(ada.id, CodePurpose::Recovery).await.expect("deleting ada's codes"), 2);
    let consume = |purpose, n| {
        let store = store.clone();
        async move { store.consume_code(purpose, &token_hash(n), START).await.expect("consuming") }
    };
    assert_eq!(consume(CodePurpose::Recovery, 1).await, None, "a deleted code still works");
    assert_eq!(consume(CodePurpose::Recovery, 2).await, None, "a deleted code still works");
    assert_eq!(consume(CodePurpose::Verification, 3).await, Some(codes[2].clone()), "another purpose's code went");
    assert_eq!(consume(CodePurpose::Recovery, 4).await, Some(codes[3].clone()), "another identity's code went");
}

/// Deleting expired codes deletes those that lapsed before the instant given, counts them, and keeps the rest.
pub async fn expired_codes_are_deleted(store: Arc<dyn Inspect>) {
    let codes = [(1, 1), (2, 2), (3, 48)]
        .map(|(n, hours)| code_for(None, CodePurpose::Verification, token_hash(n), Duration::hours(hours)));
    for code in &codes {
        store.insert_code(code).await.expect("inserting a code");
    }
    let now = START + Duration::hours(3);
    assert_eq!(store.delete_expired_codes(now).await.expect("deleting expired codes"), 2);
    let live = store.consume_code(CodePurpose::Verification, &token_hash(3), now).await.expect("consuming");
    assert_eq!(live, Some(codes[2].clone()), "a live code was deleted");
    let gone = store.consume_code(CodePurpose::Verification, &token_hash(1), START).await.expect("consuming");
    assert_eq!(gone, None, "a deleted code is still stored");
}

/// A second code with the same purpose and hash is a `Conflict`; the same hash for another purpose is fine.
pub async fn a_code_with_a_taken_purpose_and_hash_is_a_conflict(store: Arc<dyn Inspect>) {
    let recovery = code_for(None, CodePurpose::Recovery, token_hash(1), Duration::minutes(15));
    store.insert_code(&recovery).await.expect("inserting a code");
    let again = OneTimeCode { address: Some("bob@example.com".into()), ..recovery.clone() };
    assert_conflict(store.insert_code(&again).await, "inserting a second recovery code with one hash");
    let verification = OneTimeCode { purpose: CodePurpose::Verification, ..recovery.clone() };
    store.insert_code(&verification).await.expect("the same hash for another purpose");
    let consumed = store.consume_code(CodePurpose::Recovery, &token_hash(1), START).await.expect("consuming");
    assert_eq!(consumed, Some(recovery), "the refused code replaced the first");
}

/// A code for an identity that does not exist is refused with `NotFound`.
pub async fn a_code_needs_an_existing_identity(store: Arc<dyn Inspect>) {
    let orphan = code_for(Some(IdentityId::new()), CodePurpose::Recovery, token_hash(1), Duration::minutes(15));
    assert_not_found(store.insert_code(&orphan).await, "inserting a code for a missing identity");
    let consumed = store.consume_code(CodePurpose::Recovery, &token_hash(1), START).await.expect("consuming");
    assert_eq!(consumed, None, "the refused code was stored");
}

// ---------------------------------------------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------------------------------------------

const WINDOW: Duration = Duration::minutes(15);

/// Failures on a key count 1, 2, 3 within a window that closes `window` after the first; another key counts
/// nothing.
pub async fn failures_are_counted_per_key(store: Arc<dyn Inspect>) {
    let clock = clock();
    for expected in 1..=3 {
        let counter = store.record_failure("login:ada", WINDOW, clock.now()).await.expect("recording a failure");
        assert_eq!(counter.count, expected, "the count after {expected} failures");
        assert_eq!(counter.window_end, START + WINDOW, "the window closes a window after the first failure");
        clock.advance(Duration::minutes(1));
    }
    let counter = store.failures("login:ada", clock.now()).await.expect("reading failures");
    assert_eq!((counter.count, counter.window_end), (3, START + WINDOW));
    assert_eq!(store.failures("login:bob", clock.now()).await.expect("reading failures").count, 0);
}

/// Once a key's window has closed, its old failures no longer count and the next failure counts 1.
pub async fn a_failure_after_the_window_starts_a_new_count(store: Arc<dyn Inspect>) {
    let clock = clock();
    store.record_failure("login:ada", WINDOW, clock.now()).await.expect("recording a failure");
    clock.advance(Duration::minutes(5));
    assert_eq!(store.record_failure("login:ada", WINDOW, clock.now()).await.expect("recording a failure").count, 2);
    clock.set(START + WINDOW);
    let counter = store.record_failure("login:ada", WINDOW, clock.now()).await.expect("recording after the window");
    assert_eq!(counter.count, 1, "a failure after the window did not start a new count");
    assert_eq!(counter.window_end, START + WINDOW + WINDOW, "the new window starts at the new failure");
    assert_eq!(store.failures("login:ada", clock.now()).await.expect("reading failures").count, 1);
}

/// Resetting a key forgets its failures; the next one counts 1.
pub async fn resetting_failures_forgets_them(store: Arc<dyn Inspect>) {
    for _ in 0..2 {
        store.record_failure("login:ada", WINDOW, START).await.expect("recording a failure");
    }
    store.reset_failures("login:ada").await.expect("resetting");
    assert_eq!(store.failures("login:ada", START).await.expect("reading failures").count, 0);
    assert_eq!(store.record_failure("login:ada", WINDOW, START).await.expect("recording a failure").count, 1);
}

/// 20 tasks recording a failure on one key at the same instant: every failure counts, each task sees its own
/// count, and the key shows 20.
pub async fn concurrent_failures_on_one_key_are_all_counted(store: Arc<dyn Inspect>) {
    let counts = race(20, |_| {
        let store = store.clone();
        async move { store.record_failure("login:ada", WINDOW, START).await.expect("recording a failure").count }
    })
    .await;
    assert_eq!(sorted(counts), (1..=20).collect::<Vec<u64>>(), "the counts the racing tasks saw");
    assert_eq!(store.failures("login:ada", START).await.expect("reading failures").count, 20);
}

/// Deleting expired counters deletes those whose window closed, counts them, and keeps open ones.
pub async fn expired_counters_are_deleted(store: Arc<dyn Inspect>) {
    store.record_failure("login:ada", WINDOW, START).await.expect("recording a failure");
    let later = START + Duration::minutes(30);
    store.record_failure("login:bob", WINDOW, later).await.expect("recording a failure");
    let now = later + Duration::minutes(1);
    assert_eq!(store.delete_expired_counters(now).await.expect("deleting expired counters"), 1);
    assert_eq!(store.failures("login:bob", now).await.expect("reading failures").count, 1, "an open counter went");
    assert_eq!(store.delete_expired_counters(now).await.expect("deleting again"), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Access control
// ---------------------------------------------------------------------------------------------------------------

/// Organizations read back as created and updated, are found by name and listed by name; a taken name is a
/// `Conflict` on create and on update; a deleted or unknown organization is `NotFound`.
pub async fn organizations_round_trip_and_names_are_unique(store: Arc<dyn Inspect>) {
    let (acme, beta) = (organization("acme"), organization("beta"));
    store.create_organization(&beta).await.expect("creating beta");
    store.create_organization(&acme).await.expect("creating acme");
    assert_eq!(store.organization(acme.id).await.expect("reading acme"), acme);
    assert_eq!(store.find_organization_by_name(&label("acme")).await.expect("finding"), Some(acme.clone()));
    assert_eq!(store.find_organization_by_name(&label("nobody")).await.expect("finding"), None);
    let names: Vec<String> =
        store.list_organizations().await.expect("listing").into_iter().map(|o| o.name.to_string()).collect();
    assert_eq!(names, ["acme", "beta"], "organizations ordered by name");

    let renamed = Organization { display_name: "ACME Corporation".into(), ..acme.clone() };
    store.update_organization(&renamed).await.expect("updating acme");
    assert_eq!(store.organization(acme.id).await.expect("reading acme"), renamed);

    let copycat = organization("acme");
    let taken = assert_conflict(store.create_organization(&copycat).await, "creating a second acme");
    assert_eq!(taken, "acme");
    assert_not_found(store.organization(copycat.id).await, "reading the refused organization");
    let grab = Organization { name: label("acme"), ..beta.clone() };
    assert_conflict(store.update_organization(&grab).await, "renaming beta to acme");
    assert_eq!(store.organization(beta.id).await.expect("reading beta"), beta, "a refused rename changed beta");

    store.delete_organization(beta.id).await.expect("deleting beta");
    assert_not_found(store.organization(beta.id).await, "reading a deleted organization");
    let ghost = organization("ghost");
    assert_not_found(store.organization(ghost.id).await, "reading an unknown organization");
    assert_not_found(store.update_organization(&ghost).await, "updating an unknown organization");
    assert_not_found(store.delete_organization(ghost.id).await, "deleting an unknown organization");
}

/// An organization is found by an email domain it claims; a second organization claiming it, on create or on
/// update, is a `Conflict`.
pub async fn an_email_domain_belongs_to_one_organization(store: Arc<dyn Inspect>) {
    let domain = EmailDomain::new("acme.example").expect("a domain");
    let claiming = |name: &str| Organization {
        email_domains: BTreeSet::from([domain.clone()]),
        provider_id: Some(ProviderId::new()),
        ..organization(name)
    };
    let acme = claiming("acme");
    store.create_organization(&acme).await.expect("creating acme with its domain");
    assert_eq!(store.find_organization_by_email_domain(&domain).await.expect("finding"), Some(acme));
    let other = EmailDomain::new("other.example").expect("a domain");
    assert_eq!(store.find_organization_by_email_domain(&other).await.expect("finding"), None);

    let rival = claiming("rival");
    let taken = assert_conflict(store.create_organization(&rival).await, "creating a rival claiming acme's domain");
    assert_eq!(taken, "acme.example");
    assert_not_found(store.organization(rival.id).await, "reading the refused rival");
    let rival = organization("rival");
    store.create_organization(&rival).await.expect("creating the rival without domains");
    let grab = Organization {
        email_domains: BTreeSet::from([domain.clone()]),
        provider_id: Some(ProviderId::new()),
        ..rival.clone()
    };
    assert_conflict(store.update_organization(&grab).await, "updating the rival to claim acme's domain");
    assert_eq!(store.organization(rival.id).await.expect("reading the rival"), rival);
}

/// Groups read back with their members, roles and upstream groups, are listed per organization (by name) and
/// per member (by id), follow updates, and are gone after delete; unknown groups are `NotFound`.
pub async fn groups_round_trip_with_members_and_roles(store: Arc<dyn Inspect>) {
    let acme = organization("acme");
    store.create_organization(&acme).await.expect("creating an organization");
    let ada = create_with_email(&*store, "ada@example.com").await;
    let bob = create_with_email(&*store, "bob@example.com").await;
    let reader = role("reader");
    store.create_role(&reader).await.expect("creating a role");

    let mut everyone = group(acme.id, "everyone");
    everyone.members = BTreeSet::from([ada.id, bob.id]);
    let mut admins = group(acme.id, "admins");
    admins.members = BTreeSet::from([ada.id]);
    admins.role_ids = BTreeSet::from([reader.id]);
    admins.upstream_groups = BTreeSet::from(["cn=admins,dc=acme".to_owned()]);
    store.create_group(&everyone).await.expect("creating everyone");
    store.create_group(&admins).await.expect("creating admins");
    assert_eq!(store.group(admins.id).await.expect("reading admins"), admins);

    let names = |groups: Vec<Group>| groups.into_iter().map(|g| g.name.to_string()).collect::<Vec<_>>();
    let group_ids = |groups: Vec<Group>| groups.into_iter().map(|g| g.id).collect::<Vec<GroupId>>();
    assert_eq!(names(store.groups_of_organization(acme.id).await.expect("listing")), ["admins", "everyone"]);
    let of_ada = store.groups_of_member(ada.id).await.expect("listing ada's groups");
    assert_eq!(group_ids(of_ada), sorted(vec![admins.id, everyone.id]), "ada's groups, ordered by id");
    assert_eq!(group_ids(store.groups_of_member(bob.id).await.expect("listing")), [everyone.id]);

    let mut grown = admins.clone();
    grown.members.insert(bob.id);
    grown.role_ids.clear();
    store.update_group(&grown).await.expect("updating admins");
    assert_eq!(store.group(admins.id).await.expect("reading admins"), grown);
    let of_bob = store.groups_of_member(bob.id).await.expect("listing bob's groups");
    assert_eq!(group_ids(of_bob), sorted(vec![admins.id, everyone.id]), "bob's groups after joining admins");

    store.delete_group(everyone.id).await.expect("deleting everyone");
    assert_not_found(store.group(everyone.id).await, "reading a deleted group");
    assert_eq!(group_ids(store.groups_of_member(bob.id).await.expect("listing")), [admins.id]);
    let ghost = group(acme.id, "ghost");
    assert_not_found(store.group(ghost.id).await, "reading an unknown group");
    assert_not_found(store.update_group(&ghost).await, "updating an unknown group");
    assert_not_found(store.delete_group(ghost.id).await, "deleting an unknown group");
}

/// A second group with a taken name in the same organization is a `Conflict`; in another organization it is fine.
pub async fn group_names_are_unique_within_an_organization(store: Arc<dyn Inspect>) {
    let (acme, beta) = (organization("acme"), organization("beta"));
    store.create_organization(&acme).await.expect("creating acme");
    store.create_organization(&beta).await.expect("creating beta");
    store.create_group(&group(acme.id, "admins")).await.expect("creating acme's admins");
    let twin = group(acme.id, "admins");
    let taken = assert_conflict(store.create_group(&twin).await, "creating a second admins in acme");
    assert_eq!(taken, "admins");
    assert_not_found(store.group(twin.id).await, "reading the refused group");
    store.create_group(&group(beta.id, "admins")).await.expect("creating beta's admins");
    let renamed = group(acme.id, "staff");
    store.create_group(&renamed).await.expect("creating staff");
    let grab = Group { name: label("admins"), ..renamed.clone() };
    assert_conflict(store.update_group(&grab).await, "renaming staff to admins");
    assert_eq!(store.group(renamed.id).await.expect("reading staff"), renamed);
}

/// A group listing a member that is not an identity, or a role that does not exist, is refused with `NotFound`,
/// on create and on update.
pub async fn group_members_and_roles_must_exist(store: Arc<dyn Inspect>) {
    let acme = organization("acme");
    store.create_organization(&acme).await.expect("creating an organization");
    let mut haunted = group(acme.id, "haunted");
    haunted.members.insert(IdentityId::new());
    assert_not_found(store.create_group(&haunted).await, "creating a group with a missing member");
    assert_not_found(store.group(haunted.id).await, "reading the refused group");
    let mut roleless = group(acme.id, "roleless");
    roleless.role_ids.insert(RoleId::new());
    assert_not_found(store.create_group(&roleless).await, "creating a group with a missing role");

    let staff = group(acme.id, "staff");
    store.create_group(&staff).await.expect("creating an empty group");
    let mut ghostly = staff.clone();
    ghostly.members.insert(IdentityId::new());
    assert_not_found(store.update_group(&ghostly).await, "adding a missing member");
    let mut ghostly = staff.clone();
    ghostly.role_ids.insert(RoleId::new());
    assert_not_found(store.update_group(&ghostly).await, "adding a missing role");
    assert_eq!(store.group(staff.id).await.expect("reading staff"), staff, "a refused update changed the group");
}

/// Roles read back as created and updated, are found by name and listed by name; a taken name is a `Conflict`;
/// a deleted or unknown role is `NotFound`.
pub async fn roles_round_trip_and_names_are_unique(store: Arc<dyn Inspect>) {
    let (reader, admin) = (role("reader"), role("administrator"));
    store.create_role(&reader).await.expect("creating reader");
    store.create_role(&admin).await.expect("creating administrator");
    assert_eq!(store.role(reader.id).await.expect("reading reader"), reader);
    assert_eq!(store.find_role_by_name(&label("reader")).await.expect("finding"), Some(reader.clone()));
    assert_eq!(store.find_role_by_name(&label("nobody")).await.expect("finding"), None);
    let names: Vec<String> = store.list_roles().await.expect("listing").into_iter().map(|r| r.name.into()).collect();
    assert_eq!(names, ["administrator", "reader"], "roles ordered by name");

    let mut described = reader.clone();
    described.description = Some("Reads projects".into());
    described
        .scopes
        .at_mut(ScopeLevel::Organization)
        .grant(ScopeName::new("identity:groups").unwrap(), Permission::ALL);
    store.update_role(&described).await.expect("updating reader");
    assert_eq!(store.role(reader.id).await.expect("reading reader"), described);

    let twin = role("reader");
    assert_eq!(assert_conflict(store.create_role(&twin).await, "creating a second reader"), "reader");
    assert_not_found(store.role(twin.id).await, "reading the refused role");
    let grab = Role { name: label("reader"), ..admin.clone() };
    assert_conflict(store.update_role(&grab).await, "renaming administrator to reader");

    store.delete_role(admin.id).await.expect("deleting administrator");
    assert_not_found(store.role(admin.id).await, "reading a deleted role");
    let ghost = role("ghost");
    assert_not_found(store.role(ghost.id).await, "reading an unknown role");
    assert_not_found(store.update_role(&ghost).await, "updating an unknown role");
    assert_not_found(store.delete_role(ghost.id).await, "deleting an unknown role");
}

/// Deleting a role removes it from every group that granted it.
pub async fn deleting_a_role_removes_it_from_groups(store: Arc<dyn Inspect>) {
    let acme = organization("acme");
    store.create_organization(&acme).await.expect("creating an organization");
    let (reader, writer) = (role("reader"), role("writer"));
    store.create_role(&reader).await.expect("creating reader");
    store.create_role(&writer).await.expect("creating writer");
    let mut staff = group(acme.id, "staff");
    staff.role_ids = BTreeSet::from([reader.id, writer.id]);
    store.create_group(&staff).await.expect("creating a group with both roles");

    store.delete_role(reader.id).await.expect("deleting reader");
    let staff = store.group(staff.id).await.expect("reading the group");
    assert_eq!(staff.role_ids, BTreeSet::from([writer.id]), "the group still grants the deleted role");
}

/// Projects read back with their groups, are listed per organization by name, follow updates, and are gone
/// after delete; deleting a group removes it from the projects shared with it.
pub async fn projects_round_trip_and_deleting_a_group_unshares_it(store: Arc<dyn Inspect>) {
    let acme = organization("acme");
    store.create_organization(&acme).await.expect("creating an organization");
    let (devs, ops) = (group(acme.id, "devs"), group(acme.id, "ops"));
    store.create_group(&devs).await.expect("creating devs");
    store.create_group(&ops).await.expect("creating ops");
    let web = project(acme.id, "web", &[devs.id, ops.id]);
    let api = project(acme.id, "api", &[devs.id]);
    store.create_project(&web).await.expect("creating web");
    store.create_project(&api).await.expect("creating api");
    assert_eq!(store.project(web.id).await.expect("reading web"), web);
    let names: Vec<String> = store
        .projects_of_organization(acme.id)
        .await
        .expect("listing projects")
        .into_iter()
        .map(|p| p.name.into())
        .collect();
    assert_eq!(names, ["api", "web"], "projects ordered by name");

    let narrowed = Project { group_ids: BTreeSet::from([ops.id]), ..api.clone() };
    store.update_project(&narrowed).await.expect("updating api");
    assert_eq!(store.project(api.id).await.expect("reading api"), narrowed);

    store.delete_group(ops.id).await.expect("deleting ops");
    let web = store.project(web.id).await.expect("reading web");
    assert_eq!(web.group_ids, BTreeSet::from([devs.id]), "web is still shared with a deleted group");
    let api = store.project(api.id).await.expect("reading api");
    assert_eq!(api.group_ids, BTreeSet::new(), "api is still shared with a deleted group");

    store.delete_project(api.id).await.expect("deleting api");
    assert_not_found(store.project(api.id).await, "reading a deleted project");
    let ghost = project(acme.id, "ghost", &[]);
    assert_not_found(store.project(ghost.id).await, "reading an unknown project");
    assert_not_found(store.update_project(&ghost).await, "updating an unknown project");
    assert_not_found(store.delete_project(ghost.id).await, "deleting an unknown project");
}

/// A second project with a taken name in one organization is a `Conflict` (in another it is fine), and a project
/// shared with a group that does not exist is `NotFound`.
pub async fn project_names_are_unique_and_their_groups_must_exist(store: Arc<dyn Inspect>) {
    let (acme, beta) = (organization("acme"), organization("beta"));
    store.create_organization(&acme).await.expect("creating acme");
    store.create_organization(&beta).await.expect("creating beta");
    store.create_project(&project(acme.id, "web", &[])).await.expect("creating acme's web");
    let twin = project(acme.id, "web", &[]);
    assert_eq!(assert_conflict(store.create_project(&twin).await, "creating a second web in acme"), "web");
    assert_not_found(store.project(twin.id).await, "reading the refused project");
    store.create_project(&project(beta.id, "web", &[])).await.expect("creating beta's web");

    let haunted = project(acme.id, "haunted", &[GroupId::new()]);
    assert_not_found(store.create_project(&haunted).await, "creating a project shared with a missing group");
    assert_not_found(store.project(haunted.id).await, "reading the refused project");
}

/// Deleting an organization deletes its groups and projects, and leaves other organizations' alone.
pub async fn deleting_an_organization_deletes_its_groups_and_projects(store: Arc<dyn Inspect>) {
    let (acme, beta) = (organization("acme"), organization("beta"));
    store.create_organization(&acme).await.expect("creating acme");
    store.create_organization(&beta).await.expect("creating beta");
    let ada = create_with_email(&*store, "ada@example.com").await;
    let mut acme_staff = group(acme.id, "staff");
    acme_staff.members.insert(ada.id);
    let mut beta_staff = group(beta.id, "staff");
    beta_staff.members.insert(ada.id);
    store.create_group(&acme_staff).await.expect("creating acme's staff");
    store.create_group(&beta_staff).await.expect("creating beta's staff");
    let acme_web = project(acme.id, "web", &[acme_staff.id]);
    let beta_web = project(beta.id, "web", &[beta_staff.id]);
    store.create_project(&acme_web).await.expect("creating acme's web");
    store.create_project(&beta_web).await.expect("creating beta's web");

    store.delete_organization(acme.id).await.expect("deleting acme");
    assert_not_found(store.group(acme_staff.id).await, "reading a deleted organization's group");
    assert_not_found(store.project(acme_web.id).await, "reading a deleted organization's project");
    let of_ada: Vec<GroupId> =
        store.groups_of_member(ada.id).await.expect("listing").into_iter().map(|g| g.id).collect();
    assert_eq!(of_ada, [beta_staff.id], "ada's groups after acme went");
    assert_eq!(store.group(beta_staff.id).await.expect("reading beta's group"), beta_staff);
    assert_eq!(store.project(beta_web.id).await.expect("reading beta's project"), beta_web);
    assert_eq!(store.identity(ada.id).await.expect("reading ada"), ada, "deleting an organization changed ada");
}

// ---------------------------------------------------------------------------------------------------------------
// OAuth2
// ---------------------------------------------------------------------------------------------------------------

/// Clients read back as registered and updated, are listed by client id, and are gone after delete; a taken
/// client id is a `Conflict`; unknown clients are `NotFound`.
pub async fn oauth2_clients_round_trip_and_ids_are_unique(store: Arc<dyn Inspect>) {
    let (shop, app) = (client_record("shop"), client_record("app"));
    store.create_client(&shop).await.expect("registering shop");
    store.create_client(&app).await.expect("registering app");
    assert_eq!(store.client("shop").await.expect("reading shop"), shop);
    let ids: Vec<String> = store.list_clients().await.expect("listing").into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, ["app", "shop"], "clients ordered by client id");

    let updated = ClientRecord {
        document: json!({ "client_name": "The Shop", "redirect_uris": ["https://shop.example/cb"] }),
        updated_at: START + Duration::hours(1),
        ..shop.clone()
    };
    store.update_client(&updated).await.expect("updating shop");
    assert_eq!(store.client("shop").await.expect("reading shop"), updated);

    let twin = client_record("shop");
    assert_eq!(assert_conflict(store.create_client(&twin).await, "registering shop twice"), "shop");
    assert_eq!(store.client("shop").await.expect("reading shop"), updated, "the refused client replaced shop");

    store.delete_client("app").await.expect("deleting app");
    assert_not_found(store.client("app").await, "reading a deleted client");
    assert_not_found(store.client("ghost").await, "reading an unknown client");
    assert_not_found(store.update_client(&client_record("ghost")).await, "updating an unknown client");
    assert_not_found(store.delete_client("ghost").await, "deleting an unknown client");
}

/// A token is found by its hash, consumed once, and then gone.
pub async fn an_oauth2_token_is_found_and_consumed_once(store: Arc<dyn Inspect>) {
    let ada = create_with_email(&*store, "ada@example.com").await;
    store.create_client(&client_record("shop")).await.expect("registering a client");
    let code = TokenRecord {
        kind: TokenKind::AuthorizationCode,
        identity_id: Some(ada.id),
        document: json!({ "scope": "openid", "nonce": "n-0S6_WzA2Mj", "code_challenge": "E9Melhoa2Ow" }),
        ..token_for("shop", GrantId::new(), token_hash(1), Duration::minutes(10))
    };
    store.insert_token(&code).await.expect("inserting a code");
    assert_eq!(store.find_token(&token_hash(1)).await.expect("finding"), Some(code.clone()));
    assert_eq!(store.find_token(&token_hash(2)).await.expect("finding"), None);

    let now = START + Duration::minutes(1);
    assert_eq!(store.consume_token(&token_hash(1), now).await.expect("consuming"), Some(code));
    assert_eq!(store.consume_token(&token_hash(1), now).await.expect("consuming again"), None, "consumed twice");
    assert_eq!(store.find_token(&token_hash(1)).await.expect("finding"), None, "a consumed code is still stored");
}

/// 20 tasks consuming one refresh token at the same instant: exactly one gets it.
pub async fn concurrent_consumers_of_one_oauth2_token_get_it_once(store: Arc<dyn Inspect>) {
    store.create_client(&client_record("shop")).await.expect("registering a client");
    let refresh = TokenRecord {
        kind: TokenKind::RefreshToken,
        ..token_for("shop", GrantId::new(), token_hash(1), Duration::days(30))
    };
    store.insert_token(&refresh).await.expect("inserting a refresh token");
    let outcomes = race(20, |_| {
        let store = store.clone();
        async move { store.consume_token(&token_hash(1), START).await.expect("consuming") }
    })
    .await;
    let winners: Vec<TokenRecord> = outcomes.into_iter().flatten().collect();
    assert_eq!(winners, [refresh], "not exactly one consumer got the refresh token");
}

/// A token that has lapsed is not consumed.
pub async fn a_lapsed_oauth2_token_is_not_consumed(store: Arc<dyn Inspect>) {
    store.create_client(&client_record("shop")).await.expect("registering a client");
    let token = token_for("shop", GrantId::new(), token_hash(1), Duration::minutes(10));
    store.insert_token(&token).await.expect("inserting a token");
    let late = token.expires_at + Duration::seconds(1);
    assert_eq!(store.consume_token(&token_hash(1), late).await.expect("consuming late"), None);
}

/// Revoking a grant deletes its codes and tokens, returns how many, and leaves other grants alone.
pub async fn revoking_a_grant_deletes_its_tokens(store: Arc<dyn Inspect>) {
    store.create_client(&client_record("shop")).await.expect("registering a client");
    let (revoked, kept) = (GrantId::new(), GrantId::new());
    let kinds = [TokenKind::AuthorizationCode, TokenKind::AccessToken, TokenKind::RefreshToken];
    for (n, kind) in (1..).zip(kinds) {
        let token = TokenRecord { kind, ..token_for("shop", revoked, token_hash(n), Duration::hours(1)) };
        store.insert_token(&token).await.expect("inserting a token");
    }
    let survivor = token_for("shop", kept, token_hash(4), Duration::hours(1));
    store.insert_token(&survivor).await.expect("inserting another grant's token");

    assert_eq!(store.revoke_grant(revoked).await.expect("revoking the grant"), 3);
    for n in 1..=3 {
        assert_eq!(store.find_token(&token_hash(n)).await.expect("finding"), None, "a revoked token survived");
    }
    assert_eq!(store.find_token(&token_hash(4)).await.expect("finding"), Some(survivor), "another grant's went");
    assert_eq!(store.revoke_grant(revoked).await.expect("revoking again"), 0);
}

/// Revoking an identity's tokens deletes every one issued for it, whatever the client or grant, and no other.
pub async fn revoking_an_identitys_tokens_spares_other_identities_and_clients(store: Arc<dyn Inspect>) {
    let (ada, grace) = (identity_with_email("ada@example.com"), identity_with_email("grace@example.com"));
    store.create_identity(&ada).await.expect("creating ada");
    store.create_identity(&grace).await.expect("creating grace");
    for client in ["shop", "blog"] {
        store.create_client(&client_record(client)).await.expect("registering a client");
    }
    let of = |client: &str, identity: Option<IdentityId>, n: u8| TokenRecord {
        identity_id: identity,
        ..token_for(client, GrantId::new(), token_hash(n), Duration::hours(1))
    };
    let tokens =
        [of("shop", Some(ada.id), 1), of("blog", Some(ada.id), 2), of("shop", Some(grace.id), 3), of("shop", None, 4)];
    for token in &tokens {
        store.insert_token(token).await.expect("inserting a token");
    }
    assert_eq!(store.revoke_tokens_of(ada.id).await.expect("revoking ada's tokens"), 2);
    for n in 1..=2 {
        assert_eq!(store.find_token(&token_hash(n)).await.expect("finding"), None, "one of ada's tokens survived");
    }
    for (n, token) in (3..).zip(&tokens[2..]) {
        let found = store.find_token(&token_hash(n)).await.expect("finding");
        assert_eq!(found.as_ref(), Some(token), "a token not ada's went");
    }
    assert_eq!(store.revoke_tokens_of(ada.id).await.expect("revoking again"), 0);
}

/// A document is created once, replaced only from the version last read, listed by kind in name order, and
/// deleted once.
pub async fn oauth2_documents_are_versioned_and_a_stale_replacement_is_refused(store: Arc<dyn Inspect>) {
    let keys = serde_json::json!({"keys": ["a"]});
    assert_eq!(store.put_document("signing_keys", "current", &keys, None).await.expect("creating"), 1);
    let again = store.put_document("signing_keys", "current", &keys, None).await;
    assert!(matches!(again, Err(Error::Conflict { .. })), "created twice: {again:?}");
    let rotated = serde_json::json!({"keys": ["b", "a"]});
    assert_eq!(store.put_document("signing_keys", "current", &rotated, Some(1)).await.expect("replacing"), 2);
    let stale = store.put_document("signing_keys", "current", &keys, Some(1)).await;
    assert!(matches!(stale, Err(Error::Conflict { .. })), "a stale replacement went through: {stale:?}");
    let stored = store.document("signing_keys", "current").await.expect("reading").expect("stored");
    assert_eq!((stored.version, &stored.document), (2, &rotated));
    let missing = store.put_document("signing_keys", "nothing", &keys, Some(1)).await;
    assert!(matches!(missing, Err(Error::NotFound { .. })), "{missing:?}");
    for name in ["github", "google"] {
        store.put_document("upstream_provider", name, &serde_json::json!({"id": name}), None).await.expect("creating");
    }
    let listed: Vec<String> =
        store.list_documents("upstream_provider").await.expect("listing").into_iter().map(|d| d.name).collect();
    assert_eq!(listed, ["github", "google"], "only the kind asked for, by name");
    store.delete_document("upstream_provider", "github").await.expect("deleting");
    assert_eq!(store.document("upstream_provider", "github").await.expect("reading"), None);
    let twice = store.delete_document("upstream_provider", "github").await;
    assert!(matches!(twice, Err(Error::NotFound { .. })), "{twice:?}");
    assert!(store.document("signing_keys", "current").await.expect("reading").is_some(), "another kind went too");
}

/// Of writers replacing the same version at once (replicas rotating keys), exactly one succeeds.
pub async fn concurrent_replacements_of_one_oauth2_document_let_one_win(store: Arc<dyn Inspect>) {
    store.put_document("signing_keys", "current", &serde_json::json!({"n": 0}), None).await.expect("creating");
    let writers: Vec<_> = (1..=8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store.put_document("signing_keys", "current", &serde_json::json!({"n": n}), Some(1)).await
            })
        })
        .collect();
    let mut won = 0;
    for writer in writers {
        match writer.await.expect("a writer") {
            Ok(version) => {
                assert_eq!(version, 2);
                won += 1;
            }
            Err(Error::Conflict { .. }) => {}
            Err(other) => panic!("a writer failed otherwise: {other}"),
        }
    }
    assert_eq!(won, 1, "exactly one replacement of version 1 wins");
}

/// Deleting expired tokens deletes those that lapsed before the instant given, counts them, keeps the rest.
pub async fn expired_oauth2_tokens_are_deleted(store: Arc<dyn Inspect>) {
    store.create_client(&client_record("shop")).await.expect("registering a client");
    let tokens = [(1, 1), (2, 2), (3, 48)]
        .map(|(n, hours)| token_for("shop", GrantId::new(), token_hash(n), Duration::hours(hours)));
    for token in &tokens {
        store.insert_token(token).await.expect("inserting a token");
    }
    let now = START + Duration::hours(3);
    assert_eq!(store.delete_expired_tokens(now).await.expect("deleting expired tokens"), 2);
    assert_eq!(store.find_token(&token_hash(1)).await.expect("finding"), None, "an expired token survived");
    assert_eq!(store.find_token(&token_hash(2)).await.expect("finding"), None, "an expired token survived");
    assert_eq!(store.find_token(&token_hash(3)).await.expect("finding"), Some(tokens[2].clone()));
}

/// Deleting a client deletes every token issued to it, and no other client's.
pub async fn deleting_an_oauth2_client_deletes_its_tokens(store: Arc<dyn Inspect>) {
    store.create_client(&client_record("shop")).await.expect("registering shop");
    store.create_client(&client_record("app")).await.expect("registering app");
    for n in 1..=2 {
        store
            .insert_token(&token_for("shop", GrantId::new(), token_hash(n), Duration::hours(1)))
            .await
            .expect("shop's");
    }
    let apps = token_for("app", GrantId::new(), token_hash(3), Duration::hours(1));
    store.insert_token(&apps).await.expect("inserting app's token");

    store.delete_client("shop").await.expect("deleting shop");
    for n in 1..=2 {
        assert_eq!(store.find_token(&token_hash(n)).await.expect("finding"), None, "a deleted client's token survived");
    }
    assert_eq!(store.find_token(&token_hash(3)).await.expect("finding"), Some(apps), "another client's token went");
}

/// A token for an unknown client or identity is `NotFound`; a token with a taken hash is a `Conflict`.
pub async fn an_oauth2_token_needs_an_existing_client_identity_and_a_free_hash(store: Arc<dyn Inspect>) {
    store.create_client(&client_record("shop")).await.expect("registering a client");
    let stray = token_for("ghost", GrantId::new(), token_hash(1), Duration::hours(1));
    assert_not_found(store.insert_token(&stray).await, "inserting a token for an unknown client");
    let orphan = TokenRecord {
        identity_id: Some(IdentityId::new()),
        ..token_for("shop", GrantId::new(), token_hash(2), Duration::hours(1))
    };
    assert_not_found(store.insert_token(&orphan).await, "inserting a token for a missing identity");
    assert_eq!(store.find_token(&token_hash(1)).await.expect("finding"), None, "a refused token was stored");
    assert_eq!(store.find_token(&token_hash(2)).await.expect("finding"), None, "a refused token was stored");

    let token = token_for("shop", GrantId::new(), token_hash(3), Duration::hours(1));
    store.insert_token(&token).await.expect("inserting a token");
    let twin = TokenRecord { grant_id: GrantId::new(), ..token.clone() };
    assert_conflict(store.insert_token(&twin).await, "inserting a second token with one hash");
    assert_eq!(store.find_token(&token_hash(3)).await.expect("finding"), Some(token), "the refused token replaced it");
}

/// An identifier with a NUL byte is refused on write and simply not found on read, on every backend alike.
pub async fn identifiers_with_nul_are_refused_and_never_found(store: Arc<dyn Inspect>) {
    let bad = identity_with_email("nul\0@example.com");
    assert!(matches!(store.create_identity(&bad).await, Err(Error::Invalid { .. })), "NUL accepted on create");
    let found = store.find_identity_by_identifier(CredentialType::Password, "nul\0@example.com").await;
    assert!(matches!(found, Ok(None)), "lookup with NUL: {found:?}");
    let by_external = store.find_identity_by_external_id("x\0y").await;
    assert!(matches!(by_external, Ok(None)), "external id with NUL: {by_external:?}");
}

/// Re-creating an identity under a taken id is a conflict on the id, and the first identity is untouched.
pub async fn a_taken_identity_id_is_a_conflict_on_the_id(store: Arc<dyn Inspect>) {
    let first = identity_with_email("first@example.com");
    store.create_identity(&first).await.expect("creating the first identity");
    let mut second = identity_with_email("second@example.com");
    second.id = first.id;
    second.external_id = Some("ext-second".into());
    match store.create_identity(&second).await {
        Err(Error::Conflict { field, .. }) => assert_eq!(field, "identity id"),
        other => panic!("expected a conflict on the id, got {other:?}"),
    }
    assert_eq!(store.identity(first.id).await.expect("reading the first identity"), first);
    let stray = store.find_identity_by_identifier(CredentialType::Password, "second@example.com").await;
    assert!(matches!(stray, Ok(None)), "the loser's identifier was stored");
}

/// An optimistic update from a stale copy is refused, names the version, and writes nothing.
pub async fn a_stale_identity_write_is_refused_and_changes_nothing(store: Arc<dyn Inspect>) {
    let ada = identity_with_email("ada@example.com");
    store.create_identity(&ada).await.expect("creating");
    let read_at = ada.updated_at;

    let mut first = ada.clone();
    first.traits = json!({"email": "ada@example.com", "name": "first"});
    first.updated_at = read_at + Duration::seconds(1);
    store.update_identity_if_unchanged(&first, read_at).await.expect("the first writer wins");

    let mut second = ada.clone();
    second.traits = json!({"email": "ada@example.com", "name": "second"});
    second.updated_at = read_at + Duration::seconds(2);
    match store.update_identity_if_unchanged(&second, read_at).await {
        Err(Error::Conflict { field, .. }) => assert_eq!(field, "identity version"),
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(store.identity(ada.id).await.expect("reading").traits["name"], "first");
    let unknown = identity_with_email("nobody@example.com");
    assert!(matches!(store.update_identity_if_unchanged(&unknown, read_at).await, Err(Error::NotFound { .. })));

    // Versions compare to the microsecond on every backend, so all of them decide alike.
    let mut third = first.clone();
    third.updated_at = first.updated_at + Duration::seconds(1);
    let within_a_microsecond = first.updated_at + Duration::nanoseconds(400);
    store.update_identity_if_unchanged(&third, within_a_microsecond).await.expect("same microsecond, same version");
}

/// Completing an enrollment consumes it and stores the identity with its new credential, both at once; a
/// second completion finds nothing and writes nothing.
pub async fn completing_an_enrollment_consumes_it_and_stores_the_identity_together(store: Arc<dyn Inspect>) {
    let device = identity_with_email("device@example.com");
    store.create_identity(&device).await.expect("creating");
    let enrollment = enrollment_for(device.id, token_hash(61), Duration::hours(1));
    store.insert_enrollment(&enrollment).await.expect("inserting the enrollment");

    let mut enrolled = device.clone();
    enrolled.credentials.insert(totp_credential("device"));
    enrolled.updated_at = START + Duration::minutes(1);
    let consumed =
        store.complete_enrollment(&token_hash(61), START, &enrolled, device.updated_at).await.expect("completing");
    assert_eq!(consumed.map(|e| e.id), Some(enrollment.id));
    assert!(store.identity(device.id).await.expect("reading").has_credential(CredentialType::Totp));
    assert!(store.find_enrollment_by_token_hash(&token_hash(61)).await.expect("finding").is_none());

    let again = store.complete_enrollment(&token_hash(61), START, &enrolled, enrolled.updated_at).await;
    assert!(matches!(again, Ok(None)), "a consumed enrollment completed twice: {again:?}");
    let lapsed = enrollment_for(device.id, token_hash(62), Duration::hours(1));
    store.insert_enrollment(&lapsed).await.expect("inserting");
    let late =
        store.complete_enrollment(&token_hash(62), START + Duration::hours(2), &enrolled, enrolled.updated_at).await;
    assert!(matches!(late, Ok(None)), "a lapsed enrollment completed: {late:?}");
}

/// If the identity cannot be stored (its new identifier is taken, or it changed meanwhile), the enrollment
/// stays open and the identity keeps what it had.
pub async fn a_completion_that_cannot_store_the_identity_leaves_the_enrollment_open(store: Arc<dyn Inspect>) {
    let taken = identity_with_email("taken@example.com");
    store.create_identity(&taken).await.expect("creating");
    let device = identity_with_email("device@example.com");
    store.create_identity(&device).await.expect("creating");
    let enrollment = enrollment_for(device.id, token_hash(63), Duration::hours(1));
    store.insert_enrollment(&enrollment).await.expect("inserting the enrollment");

    let mut clashing = device.clone();
    clashing.credentials.insert(password_credential("taken@example.com"));
    let result = store.complete_enrollment(&token_hash(63), START, &clashing, device.updated_at).await;
    assert!(matches!(result, Err(Error::Conflict { .. })), "{result:?}");
    let mut stale = device.clone();
    stale.credentials.insert(totp_credential("device"));
    let result =
        store.complete_enrollment(&token_hash(63), START, &stale, device.updated_at - Duration::seconds(1)).await;
    assert!(matches!(result, Err(Error::Conflict { .. })), "{result:?}");

    assert!(store.find_enrollment_by_token_hash(&token_hash(63)).await.expect("finding").is_some());
    assert_eq!(store.identity(device.id).await.expect("reading"), device);
}

/// A session revoked while a request still holds an older copy stays revoked when that copy is written back.
pub async fn a_stale_copy_cannot_bring_a_revoked_session_back(store: Arc<dyn Inspect>) {
    let identity = identity_with_email("stale@example.com");
    store.create_identity(&identity).await.expect("creating the identity");
    let session = session_for(identity.id, token_hash(41), START, Duration::hours(1));
    store.insert_session(&session).await.expect("inserting the session");
    let mut stale = store.session(session.id).await.expect("reading the session");
    store.revoke_sessions_of(identity.id, None).await.expect("revoking");
    stale.devices.clear();
    store.update_session(&stale).await.expect("writing the stale copy back");
    assert!(!store.session(session.id).await.expect("reading again").active, "the revoked session came back");
}

/// Names list in byte order on every backend (PostgreSQL's locale collations would put `a-c` before `ab`).
pub async fn organizations_and_roles_list_in_bytewise_name_order(store: Arc<dyn Inspect>) {
    for name in ["ab", "a-c", "a0"] {
        store.create_organization(&organization(name)).await.expect("creating an organization");
        store.create_role(&role(name)).await.expect("creating a role");
    }
    let organizations: Vec<String> =
        store.list_organizations().await.expect("listing").into_iter().map(|o| o.name.to_string()).collect();
    assert_eq!(organizations, ["a-c", "a0", "ab"]);
    let roles: Vec<String> =
        store.list_roles().await.expect("listing").into_iter().map(|r| r.name.to_string()).collect();
    assert_eq!(roles, ["a-c", "a0", "ab"]);
}

/// What became of one identity in [`create_while_closing`]: the identity and whether its creation was answered
/// with success.
pub type Outcome = (Identity, bool);

/// Creates 200 identities from concurrent tasks and runs `close` (which should make the backend stop
/// answering, e.g. close its pool) once 20 of them were answered. Every creation must end in success or
/// [`Error::Unavailable`]: no panic, no other error. Returns what happened to each, for
/// [`assert_whole_or_absent`] on a reopened store.
pub async fn create_while_closing(
    store: Arc<dyn crate::Store>,
    close: impl Future<Output = ()> + Send,
) -> Vec<Outcome> {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..200 {
        let store = store.clone();
        tasks.spawn(async move {
            let identity = identity_with_email(&format!("load-{n}@example.com"));
            let result = store.create_identity(&identity).await;
            (identity, result)
        });
    }
    let mut close = Some(Box::pin(close));
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (identity, result) = joined.expect("a creation task panicked");
        match result {
            Ok(()) => outcomes.push((identity, true)),
            Err(Error::Unavailable { .. }) => outcomes.push((identity, false)),
            Err(other) => panic!("a creation during the outage failed with {other:?}, not Unavailable"),
        }
        if outcomes.len() == 20
            && let Some(close) = close.take()
        {
            close.await;
        }
    }
    if let Some(close) = close.take() {
        close.await;
    }
    outcomes
}

/// Checks, on a store reopened after [`create_while_closing`], that every identity answered with success is
/// there whole (found by id and by its email), and every other one is either whole or absent: never an
/// identity without its identifier, nor an identifier without its identity.
pub async fn assert_whole_or_absent(store: &dyn crate::Store, outcomes: &[Outcome]) {
    for (identity, succeeded) in outcomes {
        let email = identity.traits["email"].as_str().unwrap_or_default();
        let by_id = store.identity(identity.id).await;
        let by_email = store.find_identity_by_identifier(CredentialType::Password, email).await.unwrap();
        match by_id {
            Ok(stored) => {
                assert_eq!(&stored, identity, "a stored identity differs from what was written");
                assert_eq!(by_email.map(|i| i.id), Some(identity.id), "{email}: identity stored without identifier");
            }
            Err(Error::NotFound { .. }) => {
                assert!(!succeeded, "{email}: creation was answered with success but the identity is missing");
                assert!(by_email.is_none(), "{email}: identifier stored without its identity");
            }
            Err(other) => panic!("reading {email} back failed: {other:?}"),
        }
    }
    assert!(outcomes.iter().any(|(_, ok)| *ok), "no creation succeeded before the outage");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_listed_once() {
        let unique: BTreeSet<&str> = CHECKS.iter().copied().collect();
        assert_eq!(unique.len(), CHECKS.len(), "a check is listed twice");
        assert!(CHECKS.contains(&"concurrent_creations_of_one_email_create_one_identity"));
    }
}
