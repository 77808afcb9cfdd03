//! The in-memory backend: every aggregate behind one lock, so each operation is trivially atomic. It is the
//! executable specification the SQL backends are checked against, and what embedders test with.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use identity_core::time::{Duration, OffsetDateTime, PrimitiveDateTime};
use identity_core::{
    CredentialType, DnsLabel, EmailDomain, Enrollment, EnrollmentId, FlowId, GrantId, Group, GroupId, Identity,
    IdentityId, Organization, OrganizationId, Project, ProjectId, Role, RoleId, Session, SessionId, TokenHash,
};

use crate::code::{CodePurpose, CodeStore, OneTimeCode};
use crate::enrollment::EnrollmentStore;
use crate::error::Error;
use crate::flow::{FlowRecord, FlowStore};
use crate::identity::{
    AddressKind, IdentityFilter, IdentityStore, check_identity, is_login_credential, key_conflict, normalize_address,
    normalize_identifier, unique_keys, version_conflict,
};
use crate::oauth2::{ClientRecord, OAuth2Store, StoredDocument, TokenRecord};
use crate::page::{Page, PageRequest, PageToken};
use crate::rbac::RbacStore;
use crate::session::SessionStore;
use crate::throttle::{Failures, ThrottleStore};

/// A store that keeps everything in memory, for tests, demos and embedders that persist elsewhere.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    identities: BTreeMap<IdentityId, Identity>,
    /// Unique keys (see [`unique_keys`]): identifiers and addresses, by kind name.
    identifiers: HashMap<(&'static str, String), IdentityId>,
    external_ids: HashMap<String, IdentityId>,
    sessions: HashMap<SessionId, Session>,
    session_hashes: HashMap<TokenHash, SessionId>,
    flows: HashMap<FlowId, FlowRecord>,
    enrollments: HashMap<EnrollmentId, Enrollment>,
    enrollment_hashes: HashMap<TokenHash, EnrollmentId>,
    codes: HashMap<(CodePurpose, TokenHash), OneTimeCode>,
    counters: HashMap<String, Counter>,
    organizations: BTreeMap<OrganizationId, Organization>,
    groups: BTreeMap<GroupId, Group>,
    roles: BTreeMap<RoleId, Role>,
    projects: BTreeMap<ProjectId, Project>,
    clients: BTreeMap<String, ClientRecord>,
    documents: BTreeMap<(String, String), StoredDocument>,
    tokens: HashMap<TokenHash, TokenRecord>,
}

#[derive(Debug)]
struct Counter {
    count: u64,
    window_end: OffsetDateTime,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave the state half-written (no operation panics between its
    // checks and its writes), so a poisoned lock is still consistent and is used as is.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn require_identity(&self, id: IdentityId) -> Result<(), Error> {
        if self.identities.contains_key(&id) { Ok(()) } else { Err(Error::not_found("identity", id)) }
    }

    fn require_optional_identity(&self, id: Option<IdentityId>) -> Result<(), Error> {
        id.map_or(Ok(()), |id| self.require_identity(id))
    }

    /// The ids of identities matching the identifier filter, or `None` when there is no such filter.
    fn identifier_matches(&self, filter: &IdentityFilter) -> Option<HashSet<IdentityId>> {
        let wanted = filter.credential_identifier.as_deref()?;
        Some(
            CredentialType::ALL
                .into_iter()
                .filter(|kind| is_login_credential(*kind))
                .filter_map(|kind| self.identifiers.get(&(kind.as_str(), normalize_identifier(kind, wanted))).copied())
                .collect(),
        )
    }

    /// The identities matching `filter` with ids after `after`, in id order.
    fn matching<'s>(
        &'s self,
        filter: &'s IdentityFilter,
        after: Option<IdentityId>,
    ) -> impl Iterator<Item = &'s Identity> + 's {
        let by_identifier = self.identifier_matches(filter);
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.identities.range((start, Bound::Unbounded)).map(|(_, identity)| identity).filter(move |identity| {
            by_identifier.as_ref().is_none_or(|ids| ids.contains(&identity.id))
                && filter.role_attribute.as_ref().is_none_or(|attribute| identity.role_attributes.contains(attribute))
                && filter.organization_id.is_none_or(|org| identity.organization_id == Some(org))
        })
    }

    /// Checks that `identity` may hold its identifiers and external id (those it already holds are fine).
    fn check_unique(&self, identity: &Identity, keys: &[(&'static str, String)]) -> Result<(), Error> {
        if let Some(external_id) = &identity.external_id
            && self.external_ids.get(external_id).is_some_and(|owner| *owner != identity.id)
        {
            return Err(Error::conflict("external_id", external_id));
        }
        for key in keys {
            if self.identifiers.get(key).is_some_and(|owner| *owner != identity.id) {
                return Err(key_conflict(key.0, &key.1));
            }
        }
        Ok(())
    }

    fn index(&mut self, identity: &Identity, keys: Vec<(&'static str, String)>) {
        for key in keys {
            self.identifiers.insert(key, identity.id);
        }
        if let Some(external_id) = &identity.external_id {
            self.external_ids.insert(external_id.clone(), identity.id);
        }
    }

    fn unindex(&mut self, identity: &Identity) {
        for key in unique_keys(identity) {
            self.identifiers.remove(&key);
        }
        if let Some(external_id) = &identity.external_id {
            self.external_ids.remove(external_id);
        }
    }

    /// Replaces a stored identity and its keys; with `expected`, only if it was not changed since.
    fn replace_identity(&mut self, identity: &Identity, expected: Option<OffsetDateTime>) -> Result<(), Error> {
        let Some(old) = self.identities.get(&identity.id).cloned() else {
            return Err(Error::not_found("identity", identity.id));
        };
        // Compared to the microsecond, as the SQL backends keep it, so both decide alike.
        let micros = |instant: OffsetDateTime| instant.unix_timestamp_nanos() / 1_000;
        if expected.is_some_and(|expected| micros(old.updated_at) != micros(expected)) {
            return Err(version_conflict(identity.id));
        }
        let keys = unique_keys(identity);
        self.check_unique(identity, &keys)?;
        self.unindex(&old);
        self.index(identity, keys);
        self.identities.insert(identity.id, identity.clone());
        Ok(())
    }

    fn check_group(&self, group: &Group) -> Result<(), Error> {
        if !self.organizations.contains_key(&group.organization_id) {
            return Err(Error::not_found("organization", group.organization_id));
        }
        let name_taken = self.groups.values().any(|other| {
            other.id != group.id && other.organization_id == group.organization_id && other.name == group.name
        });
        if name_taken {
            return Err(Error::conflict("group name", group.name.as_str()));
        }
        if let Some(member) = group.members.iter().find(|member| !self.identities.contains_key(member)) {
            return Err(Error::not_found("identity", member));
        }
        if let Some(role) = group.role_ids.iter().find(|role| !self.roles.contains_key(role)) {
            return Err(Error::not_found("role", role));
        }
        Ok(())
    }

    fn check_project(&self, project: &Project) -> Result<(), Error> {
        if !self.organizations.contains_key(&project.organization_id) {
            return Err(Error::not_found("organization", project.organization_id));
        }
        let name_taken = self.projects.values().any(|other| {
            other.id != project.id && other.organization_id == project.organization_id && other.name == project.name
        });
        if name_taken {
            return Err(Error::conflict("project name", project.name.as_str()));
        }
        let foreign = project
            .group_ids
            .iter()
            .find(|group| self.groups.get(group).is_none_or(|group| group.organization_id != project.organization_id));
        if let Some(group) = foreign {
            return Err(Error::not_found("group", group));
        }
        Ok(())
    }

    fn check_organization(&self, organization: &Organization) -> Result<(), Error> {
        for other in self.organizations.values().filter(|other| other.id != organization.id) {
            if other.name == organization.name {
                return Err(Error::conflict("organization name", organization.name.as_str()));
            }
            if let Some(domain) = organization.email_domains.intersection(&other.email_domains).next() {
                return Err(Error::conflict("email domain", domain.as_str()));
            }
        }
        Ok(())
    }
}

fn later_of(now: OffsetDateTime, window: Duration) -> OffsetDateTime {
    now.checked_add(window).unwrap_or(PrimitiveDateTime::MAX.assume_utc())
}

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn create_identity(&self, identity: &Identity) -> Result<(), Error> {
        check_identity(identity)?;
        let keys = unique_keys(identity);
        let mut state = self.write();
        if state.identities.contains_key(&identity.id) {
            return Err(Error::conflict("identity id", identity.id.to_string()));
        }
        state.check_unique(identity, &keys)?;
        state.index(identity, keys);
        state.identities.insert(identity.id, identity.clone());
        Ok(())
    }

    async fn identity(&self, id: IdentityId) -> Result<Identity, Error> {
        self.read().identities.get(&id).cloned().ok_or_else(|| Error::not_found("identity", id))
    }

    async fn find_identity_by_identifier(
        &self,
        kind: CredentialType,
        identifier: &str,
    ) -> Result<Option<Identity>, Error> {
        let state = self.read();
        let owner = state.identifiers.get(&(kind.as_str(), normalize_identifier(kind, identifier)));
        Ok(owner.and_then(|id| state.identities.get(id)).cloned())
    }

    async fn find_identity_by_address(&self, kind: AddressKind, address: &str) -> Result<Option<Identity>, Error> {
        let state = self.read();
        let owner = state.identifiers.get(&(kind.as_str(), normalize_address(address)));
        Ok(owner.and_then(|id| state.identities.get(id)).cloned())
    }

    async fn find_identity_by_external_id(&self, external_id: &str) -> Result<Option<Identity>, Error> {
        let state = self.read();
        Ok(state.external_ids.get(external_id).and_then(|id| state.identities.get(id)).cloned())
    }

    async fn list_identities(&self, filter: &IdentityFilter, page: &PageRequest) -> Result<Page<Identity>, Error> {
        page.check()?;
        let after = page.page_token.as_ref().map(PageToken::last_id).transpose()?.map(IdentityId::from_uuid);
        let state = self.read();
        let size = page.page_size as usize;
        let items: Vec<Identity> = state.matching(filter, after).take(size + 1).cloned().collect();
        Ok(Page::from_overfetch(items, size, |identity| *identity.id.as_uuid()))
    }

    async fn count_identities(&self, filter: &IdentityFilter) -> Result<u64, Error> {
        Ok(self.read().matching(filter, None).count() as u64)
    }

    async fn update_identity(&self, identity: &Identity) -> Result<(), Error> {
        check_identity(identity)?;
        self.write().replace_identity(identity, None)
    }

    async fn update_identity_if_unchanged(
        &self,
        identity: &Identity,
        expected_updated_at: OffsetDateTime,
    ) -> Result<(), Error> {
        check_identity(identity)?;
        self.write().replace_identity(identity, Some(expected_updated_at))
    }

    async fn delete_identity(&self, id: IdentityId) -> Result<(), Error> {
        let mut state = self.write();
        let Some(identity) = state.identities.remove(&id) else {
            return Err(Error::not_found("identity", id));
        };
        state.unindex(&identity);
        let state = &mut *state;
        state.sessions.retain(|_, session| session.identity_id != id);
        state.session_hashes.retain(|_, session| state.sessions.contains_key(session));
        state.flows.retain(|_, flow| flow.identity_id != Some(id));
        state.enrollments.retain(|_, enrollment| enrollment.identity_id != id);
        state.enrollment_hashes.retain(|_, enrollment| state.enrollments.contains_key(enrollment));
        state.codes.retain(|_, code| code.identity_id != Some(id));
        state.tokens.retain(|_, token| token.identity_id != Some(id));
        for group in state.groups.values_mut() {
            group.members.remove(&id);
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, session: &Session) -> Result<(), Error> {
        let mut state = self.write();
        state.require_identity(session.identity_id)?;
        if state.sessions.contains_key(&session.id) {
            return Err(Error::conflict("session id", session.id.to_string()));
        }
        if state.session_hashes.contains_key(&session.token_hash) {
            return Err(Error::conflict("session token", session.id.to_string()));
        }
        state.session_hashes.insert(session.token_hash, session.id);
        state.sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn session(&self, id: SessionId) -> Result<Session, Error> {
        self.read().sessions.get(&id).cloned().ok_or_else(|| Error::not_found("session", id))
    }

    async fn find_session_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Session>, Error> {
        let state = self.read();
        Ok(state.session_hashes.get(hash).and_then(|id| state.sessions.get(id)).cloned())
    }

    async fn find_session_with_identity(&self, hash: &TokenHash) -> Result<Option<(Session, Identity)>, Error> {
        let state = self.read();
        let Some(session) = state.session_hashes.get(hash).and_then(|id| state.sessions.get(id)) else {
            return Ok(None);
        };
        Ok(state.identities.get(&session.identity_id).map(|identity| (session.clone(), identity.clone())))
    }

    async fn list_sessions(
        &self,
        active_at: Option<OffsetDateTime>,
        page: &PageRequest,
    ) -> Result<Page<Session>, Error> {
        page.check()?;
        let after = page.page_token.as_ref().map(PageToken::last_id).transpose()?;
        let state = self.read();
        let size = page.page_size as usize;
        let mut sessions: Vec<&Session> = state
            .sessions
            .values()
            .filter(|s| after.is_none_or(|after| *s.id.as_uuid() > after))
            .filter(|s| active_at.is_none_or(|now| s.is_valid_at(now)))
            .collect();
        // Ordered as the SQL backends order their text ids; for UUIDs that is byte order.
        sessions.sort_by_key(|s| *s.id.as_uuid());
        let items: Vec<Session> = sessions.into_iter().take(size + 1).cloned().collect();
        Ok(Page::from_overfetch(items, size, |session| *session.id.as_uuid()))
    }

    async fn sessions_of(
        &self,
        identity: IdentityId,
        active_at: Option<OffsetDateTime>,
    ) -> Result<Vec<Session>, Error> {
        let state = self.read();
        let mut sessions: Vec<Session> = state
            .sessions
            .values()
            .filter(|s| s.identity_id == identity && active_at.is_none_or(|now| s.is_valid_at(now)))
            .cloned()
            .collect();
        sessions.sort_by(|a, b| b.issued_at.cmp(&a.issued_at).then(b.id.cmp(&a.id)));
        Ok(sessions)
    }

    async fn update_session(&self, session: &Session) -> Result<(), Error> {
        let mut state = self.write();
        state.require_identity(session.identity_id)?;
        let Some(old) = state.sessions.get(&session.id) else {
            return Err(Error::not_found("session", session.id));
        };
        let (old_hash, was_active, expires_at) = (old.token_hash, old.active, old.expires_at);
        if old_hash != session.token_hash {
            if state.session_hashes.contains_key(&session.token_hash) {
                return Err(Error::conflict("session token", session.id.to_string()));
            }
            state.session_hashes.remove(&old_hash);
            state.session_hashes.insert(session.token_hash, session.id);
        }
        let mut stored = session.clone();
        // A revoked session stays revoked and the expiry stays as extended, whatever the caller's copy says.
        stored.active &= was_active;
        stored.expires_at = expires_at;
        state.sessions.insert(session.id, stored);
        Ok(())
    }

    async fn extend_session(&self, id: SessionId, expires_at: OffsetDateTime) -> Result<Session, Error> {
        let mut state = self.write();
        let session = state.sessions.get_mut(&id).ok_or_else(|| Error::not_found("session", id))?;
        session.expires_at = expires_at;
        Ok(session.clone())
    }

    async fn revoke_session(&self, id: SessionId) -> Result<(), Error> {
        let mut state = self.write();
        let session = state.sessions.get_mut(&id).ok_or_else(|| Error::not_found("session", id))?;
        session.revoke();
        Ok(())
    }

    async fn revoke_sessions_of(&self, identity: IdentityId, keep: Option<SessionId>) -> Result<u64, Error> {
        let mut state = self.write();
        let mut revoked = 0;
        for session in state.sessions.values_mut() {
            if session.identity_id == identity && session.active && Some(session.id) != keep {
                session.revoke();
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn count_active_sessions(&self, now: OffsetDateTime) -> Result<u64, Error> {
        Ok(self.read().sessions.values().filter(|session| session.is_valid_at(now)).count() as u64)
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.sessions.len();
        state.sessions.retain(|_, session| session.expires_at > now);
        let state = &mut *state;
        state.session_hashes.retain(|_, id| state.sessions.contains_key(id));
        Ok((before - state.sessions.len()) as u64)
    }
}

#[async_trait]
impl FlowStore for MemoryStore {
    async fn insert_flow(&self, flow: &FlowRecord) -> Result<(), Error> {
        let mut state = self.write();
        state.require_optional_identity(flow.identity_id)?;
        if state.flows.contains_key(&flow.id) {
            return Err(Error::conflict("flow id", flow.id.to_string()));
        }
        state.flows.insert(flow.id, flow.clone());
        Ok(())
    }

    async fn flow(&self, id: FlowId) -> Result<FlowRecord, Error> {
        self.read().flows.get(&id).cloned().ok_or_else(|| Error::not_found("flow", id))
    }

    async fn update_flow(&self, flow: &FlowRecord) -> Result<(), Error> {
        let mut state = self.write();
        state.require_optional_identity(flow.identity_id)?;
        let stored = state.flows.get_mut(&flow.id).ok_or_else(|| Error::not_found("flow", flow.id))?;
        *stored = flow.clone();
        Ok(())
    }

    async fn delete_flow(&self, id: FlowId) -> Result<(), Error> {
        self.write().flows.remove(&id).map(drop).ok_or_else(|| Error::not_found("flow", id))
    }

    async fn delete_expired_flows(&self, now: OffsetDateTime) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.flows.len();
        state.flows.retain(|_, flow| flow.expires_at > now);
        Ok((before - state.flows.len()) as u64)
    }
}

#[async_trait]
impl EnrollmentStore for MemoryStore {
    async fn insert_enrollment(&self, enrollment: &Enrollment) -> Result<(), Error> {
        let mut state = self.write();
        state.require_identity(enrollment.identity_id)?;
        if state.enrollments.contains_key(&enrollment.id) {
            return Err(Error::conflict("enrollment id", enrollment.id.to_string()));
        }
        if state.enrollment_hashes.contains_key(&enrollment.token_hash) {
            return Err(Error::conflict("enrollment token", enrollment.id.to_string()));
        }
        state.enrollment_hashes.insert(enrollment.token_hash, enrollment.id);
        state.enrollments.insert(enrollment.id, enrollment.clone());
        Ok(())
    }

    async fn enrollment(&self, id: EnrollmentId) -> Result<Enrollment, Error> {
        self.read().enrollments.get(&id).cloned().ok_or_else(|| Error::not_found("enrollment", id))
    }

    async fn find_enrollment_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Enrollment>, Error> {
        let state = self.read();
        Ok(state.enrollment_hashes.get(hash).and_then(|id| state.enrollments.get(id)).cloned())
    }

    async fn enrollments_of(&self, identity: IdentityId) -> Result<Vec<Enrollment>, Error> {
        let state = self.read();
        let mut found: Vec<Enrollment> =
            state.enrollments.values().filter(|e| e.identity_id == identity).cloned().collect();
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(found)
    }

    async fn update_enrollment(&self, enrollment: &Enrollment) -> Result<(), Error> {
        let mut state = self.write();
        state.require_identity(enrollment.identity_id)?;
        let Some(old) = state.enrollments.get(&enrollment.id) else {
            return Err(Error::not_found("enrollment", enrollment.id));
        };
        let old_hash = old.token_hash;
        if old_hash != enrollment.token_hash {
            if state.enrollment_hashes.contains_key(&enrollment.token_hash) {
                return Err(Error::conflict("enrollment token", enrollment.id.to_string()));
            }
            state.enrollment_hashes.remove(&old_hash);
            state.enrollment_hashes.insert(enrollment.token_hash, enrollment.id);
        }
        state.enrollments.insert(enrollment.id, enrollment.clone());
        Ok(())
    }

    async fn consume_enrollment(&self, hash: &TokenHash, now: OffsetDateTime) -> Result<Option<Enrollment>, Error> {
        let mut state = self.write();
        let Some(id) = state.enrollment_hashes.get(hash).copied() else { return Ok(None) };
        if state.enrollments.get(&id).is_none_or(|e| e.expires_at <= now) {
            return Ok(None);
        }
        state.enrollment_hashes.remove(hash);
        Ok(state.enrollments.remove(&id))
    }

    async fn complete_enrollment(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
        identity: &Identity,
        expected_updated_at: OffsetDateTime,
    ) -> Result<Option<Enrollment>, Error> {
        check_identity(identity)?;
        let mut state = self.write();
        let Some(id) = state.enrollment_hashes.get(hash).copied() else { return Ok(None) };
        let open = state.enrollments.get(&id).is_some_and(|e| e.expires_at > now && e.identity_id == identity.id);
        if !open {
            return Ok(None);
        }
        // The identity first: if it cannot be written, the enrollment stays open.
        state.replace_identity(identity, Some(expected_updated_at))?;
        state.enrollment_hashes.remove(hash);
        Ok(state.enrollments.remove(&id))
    }

    async fn delete_enrollment(&self, id: EnrollmentId) -> Result<(), Error> {
        let mut state = self.write();
        let enrollment = state.enrollments.remove(&id).ok_or_else(|| Error::not_found("enrollment", id))?;
        state.enrollment_hashes.remove(&enrollment.token_hash);
        Ok(())
    }

    async fn delete_expired_enrollments(&self, now: OffsetDateTime) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.enrollments.len();
        state.enrollments.retain(|_, e| e.expires_at > now);
        let state = &mut *state;
        state.enrollment_hashes.retain(|_, id| state.enrollments.contains_key(id));
        Ok((before - state.enrollments.len()) as u64)
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn insert_code(&self, code: &OneTimeCode) -> Result<(), Error> {
        let mut state = self.write();
        state.require_optional_identity(code.identity_id)?;
        let key = (code.purpose, code.hash);
        if state.codes.contains_key(&key) {
            return Err(Error::conflict("one-time code", code.purpose.as_str()));
        }
        state.codes.insert(key, code.clone());
        Ok(())
    }

    async fn consume_code(
        &self,
        purpose: CodePurpose,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<OneTimeCode>, Error> {
        let mut state = self.write();
        let key = (purpose, *hash);
        if state.codes.get(&key).is_none_or(|code| code.expires_at <= now) {
            return Ok(None);
        }
        Ok(state.codes.remove(&key))
    }

    async fn delete_codes_of(&self, identity: IdentityId, purpose: CodePurpose) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.codes.len();
        state.codes.retain(|_, code| !(code.identity_id == Some(identity) && code.purpose == purpose));
        Ok((before - state.codes.len()) as u64)
    }

    async fn delete_expired_codes(&self, now: OffsetDateTime) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.codes.len();
        state.codes.retain(|_, code| code.expires_at > now);
        Ok((before - state.codes.len()) as u64)
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn record_failure(&self, key: &str, window: Duration, now: OffsetDateTime) -> Result<Failures, Error> {
        let mut state = self.write();
        let counter = state
            .counters
            .entry(key.to_owned())
            .or_insert(Counter { count: 0, window_end: OffsetDateTime::UNIX_EPOCH });
        if counter.window_end <= now {
            *counter = Counter { count: 0, window_end: later_of(now, window) };
        }
        counter.count += 1;
        Ok(Failures { count: counter.count, window_end: counter.window_end })
    }

    async fn failures(&self, key: &str, now: OffsetDateTime) -> Result<Failures, Error> {
        let state = self.read();
        let open = state.counters.get(key).filter(|c| c.window_end > now);
        Ok(open
            .map_or(Failures { count: 0, window_end: now }, |c| Failures { count: c.count, window_end: c.window_end }))
    }

    async fn reset_failures(&self, key: &str) -> Result<(), Error> {
        self.write().counters.remove(key);
        Ok(())
    }

    async fn delete_expired_counters(&self, now: OffsetDateTime) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.counters.len();
        state.counters.retain(|_, counter| counter.window_end > now);
        Ok((before - state.counters.len()) as u64)
    }
}

#[async_trait]
impl RbacStore for MemoryStore {
    async fn create_organization(&self, organization: &Organization) -> Result<(), Error> {
        let mut state = self.write();
        if state.organizations.contains_key(&organization.id) {
            return Err(Error::conflict("organization id", organization.id.to_string()));
        }
        state.check_organization(organization)?;
        state.organizations.insert(organization.id, organization.clone());
        Ok(())
    }

    async fn organization(&self, id: OrganizationId) -> Result<Organization, Error> {
        self.read().organizations.get(&id).cloned().ok_or_else(|| Error::not_found("organization", id))
    }

    async fn find_organization_by_name(&self, name: &DnsLabel) -> Result<Option<Organization>, Error> {
        Ok(self.read().organizations.values().find(|o| &o.name == name).cloned())
    }

    async fn find_organization_by_email_domain(&self, domain: &EmailDomain) -> Result<Option<Organization>, Error> {
        Ok(self.read().organizations.values().find(|o| o.email_domains.contains(domain)).cloned())
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, Error> {
        let mut all: Vec<Organization> = self.read().organizations.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn update_organization(&self, organization: &Organization) -> Result<(), Error> {
        let mut state = self.write();
        if !state.organizations.contains_key(&organization.id) {
            return Err(Error::not_found("organization", organization.id));
        }
        state.check_organization(organization)?;
        state.organizations.insert(organization.id, organization.clone());
        Ok(())
    }

    async fn delete_organization(&self, id: OrganizationId) -> Result<(), Error> {
        let mut state = self.write();
        if state.organizations.remove(&id).is_none() {
            return Err(Error::not_found("organization", id));
        }
        state.groups.retain(|_, group| group.organization_id != id);
        state.projects.retain(|_, project| project.organization_id != id);
        Ok(())
    }

    async fn create_group(&self, group: &Group) -> Result<(), Error> {
        let mut state = self.write();
        if state.groups.contains_key(&group.id) {
            return Err(Error::conflict("group id", group.id.to_string()));
        }
        state.check_group(group)?;
        state.groups.insert(group.id, group.clone());
        Ok(())
    }

    async fn group(&self, id: GroupId) -> Result<Group, Error> {
        self.read().groups.get(&id).cloned().ok_or_else(|| Error::not_found("group", id))
    }

    async fn groups_of_organization(&self, organization: OrganizationId) -> Result<Vec<Group>, Error> {
        let mut found: Vec<Group> =
            self.read().groups.values().filter(|g| g.organization_id == organization).cloned().collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn groups_of_member(&self, identity: IdentityId) -> Result<Vec<Group>, Error> {
        Ok(self.read().groups.values().filter(|g| g.members.contains(&identity)).cloned().collect())
    }

    async fn update_group(&self, group: &Group) -> Result<(), Error> {
        let mut state = self.write();
        let Some(old) = state.groups.get(&group.id) else {
            return Err(Error::not_found("group", group.id));
        };
        if old.organization_id != group.organization_id {
            return Err(Error::Invalid { field: "organization_id", reason: "a group cannot move".into() });
        }
        state.check_group(group)?;
        state.groups.insert(group.id, group.clone());
        Ok(())
    }

    async fn delete_group(&self, id: GroupId) -> Result<(), Error> {
        let mut state = self.write();
        if state.groups.remove(&id).is_none() {
            return Err(Error::not_found("group", id));
        }
        for project in state.projects.values_mut() {
            project.group_ids.remove(&id);
        }
        Ok(())
    }

    async fn create_role(&self, role: &Role) -> Result<(), Error> {
        let mut state = self.write();
        if state.roles.contains_key(&role.id) {
            return Err(Error::conflict("role id", role.id.to_string()));
        }
        if state.roles.values().any(|other| other.name == role.name) {
            return Err(Error::conflict("role name", role.name.as_str()));
        }
        state.roles.insert(role.id, role.clone());
        Ok(())
    }

    async fn role(&self, id: RoleId) -> Result<Role, Error> {
        self.read().roles.get(&id).cloned().ok_or_else(|| Error::not_found("role", id))
    }

    async fn find_role_by_name(&self, name: &DnsLabel) -> Result<Option<Role>, Error> {
        Ok(self.read().roles.values().find(|r| &r.name == name).cloned())
    }

    async fn list_roles(&self) -> Result<Vec<Role>, Error> {
        let mut all: Vec<Role> = self.read().roles.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn update_role(&self, role: &Role) -> Result<(), Error> {
        let mut state = self.write();
        if !state.roles.contains_key(&role.id) {
            return Err(Error::not_found("role", role.id));
        }
        if state.roles.values().any(|other| other.id != role.id && other.name == role.name) {
            return Err(Error::conflict("role name", role.name.as_str()));
        }
        state.roles.insert(role.id, role.clone());
        Ok(())
    }

    async fn delete_role(&self, id: RoleId) -> Result<(), Error> {
        let mut state = self.write();
        if state.roles.remove(&id).is_none() {
            return Err(Error::not_found("role", id));
        }
        for group in state.groups.values_mut() {
            group.role_ids.remove(&id);
        }
        Ok(())
    }

    async fn create_project(&self, project: &Project) -> Result<(), Error> {
        let mut state = self.write();
        if state.projects.contains_key(&project.id) {
            return Err(Error::conflict("project id", project.id.to_string()));
        }
        state.check_project(project)?;
        state.projects.insert(project.id, project.clone());
        Ok(())
    }

    async fn project(&self, id: ProjectId) -> Result<Project, Error> {
        self.read().projects.get(&id).cloned().ok_or_else(|| Error::not_found("project", id))
    }

    async fn projects_of_organization(&self, organization: OrganizationId) -> Result<Vec<Project>, Error> {
        let mut found: Vec<Project> =
            self.read().projects.values().filter(|p| p.organization_id == organization).cloned().collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn update_project(&self, project: &Project) -> Result<(), Error> {
        let mut state = self.write();
        let Some(old) = state.projects.get(&project.id) else {
            return Err(Error::not_found("project", project.id));
        };
        if old.organization_id != project.organization_id {
            return Err(Error::Invalid { field: "organization_id", reason: "a project cannot move".into() });
        }
        state.check_project(project)?;
        state.projects.insert(project.id, project.clone());
        Ok(())
    }

    async fn delete_project(&self, id: ProjectId) -> Result<(), Error> {
        self.write().projects.remove(&id).map(drop).ok_or_else(|| Error::not_found("project", id))
    }
}

#[async_trait]
impl OAuth2Store for MemoryStore {
    async fn create_client(&self, client: &ClientRecord) -> Result<(), Error> {
        let mut state = self.write();
        if state.clients.contains_key(&client.client_id) {
            return Err(Error::conflict("client id", &client.client_id));
        }
        state.clients.insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn client(&self, client_id: &str) -> Result<ClientRecord, Error> {
        self.read().clients.get(client_id).cloned().ok_or_else(|| Error::not_found("client", client_id))
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, Error> {
        Ok(self.read().clients.values().cloned().collect())
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<(), Error> {
        let mut state = self.write();
        let stored =
            state.clients.get_mut(&client.client_id).ok_or_else(|| Error::not_found("client", &client.client_id))?;
        *stored = client.clone();
        Ok(())
    }

    async fn delete_client(&self, client_id: &str) -> Result<(), Error> {
        let mut state = self.write();
        if state.clients.remove(client_id).is_none() {
            return Err(Error::not_found("client", client_id));
        }
        state.tokens.retain(|_, token| token.client_id != client_id);
        Ok(())
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), Error> {
        let mut state = self.write();
        if !state.clients.contains_key(&token.client_id) {
            return Err(Error::not_found("client", &token.client_id));
        }
        state.require_optional_identity(token.identity_id)?;
        if state.tokens.contains_key(&token.hash) {
            return Err(Error::conflict("token", token.kind.as_str()));
        }
        state.tokens.insert(token.hash, token.clone());
        Ok(())
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, Error> {
        Ok(self.read().tokens.get(hash).cloned())
    }

    async fn consume_token(&self, hash: &TokenHash, now: OffsetDateTime) -> Result<Option<TokenRecord>, Error> {
        let mut state = self.write();
        if state.tokens.get(hash).is_none_or(|token| token.expires_at <= now) {
            return Ok(None);
        }
        Ok(state.tokens.remove(hash))
    }

    async fn revoke_grant(&self, grant: GrantId) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.tokens.len();
        state.tokens.retain(|_, token| token.grant_id != grant);
        Ok((before - state.tokens.len()) as u64)
    }

    async fn revoke_tokens_of(&self, identity: IdentityId) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.tokens.len();
        state.tokens.retain(|_, token| token.identity_id != Some(identity));
        Ok((before - state.tokens.len()) as u64)
    }

    async fn delete_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, Error> {
        let mut state = self.write();
        let before = state.tokens.len();
        state.tokens.retain(|_, token| token.expires_at > now);
        Ok((before - state.tokens.len()) as u64)
    }

    async fn put_document(
        &self,
        kind: &str,
        name: &str,
        document: &serde_json::Value,
        expected_version: Option<u64>,
    ) -> Result<u64, Error> {
        let mut state = self.write();
        let key = (kind.to_owned(), name.to_owned());
        let version = match (state.documents.get(&key), expected_version) {
            (None, None) => 1,
            (Some(_), None) => return Err(Error::conflict("document", name)),
            (None, Some(_)) => return Err(Error::not_found("document", name)),
            (Some(stored), Some(expected)) if stored.version == expected => expected + 1,
            (Some(_), Some(_)) => return Err(Error::conflict("document version", name)),
        };
        let stored = StoredDocument { kind: key.0.clone(), name: key.1.clone(), version, document: document.clone() };
        state.documents.insert(key, stored);
        Ok(version)
    }

    async fn document(&self, kind: &str, name: &str) -> Result<Option<StoredDocument>, Error> {
        Ok(self.read().documents.get(&(kind.to_owned(), name.to_owned())).cloned())
    }

    async fn list_documents(&self, kind: &str) -> Result<Vec<StoredDocument>, Error> {
        Ok(self.read().documents.values().filter(|d| d.kind == kind).cloned().collect())
    }

    async fn delete_document(&self, kind: &str, name: &str) -> Result<(), Error> {
        match self.write().documents.remove(&(kind.to_owned(), name.to_owned())) {
            Some(_) => Ok(()),
            None => Err(Error::not_found("document", name)),
        }
    }
}

#[cfg(feature = "testing")]
#[async_trait]
impl crate::testing::Inspect for MemoryStore {
    async fn rows_referencing(&self, identity: IdentityId) -> Result<u64, Error> {
        let state = self.read();
        let count = |n: usize| n as u64;
        Ok(count(usize::from(state.identities.contains_key(&identity)))
            + count(state.identifiers.values().filter(|owner| **owner == identity).count())
            + count(state.external_ids.values().filter(|owner| **owner == identity).count())
            + count(state.sessions.values().filter(|s| s.identity_id == identity).count())
            + count(state.flows.values().filter(|f| f.identity_id == Some(identity)).count())
            + count(state.enrollments.values().filter(|e| e.identity_id == identity).count())
            + count(state.codes.values().filter(|c| c.identity_id == Some(identity)).count())
            + count(state.tokens.values().filter(|t| t.identity_id == Some(identity)).count())
            + count(state.groups.values().filter(|g| g.members.contains(&identity)).count()))
    }
}
