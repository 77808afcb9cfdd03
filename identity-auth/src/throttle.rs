//! Throttling of guesses: failed password, TOTP, backup-code and one-time-code attempts are counted in the store
//! (so every replica sees them) per identifier, per identity and per client address; past a limit, attempts are
//! refused with [`Error::RateLimited`] before any secret is checked or hashed.

use std::net::IpAddr;
use std::sync::Arc;

use identity_core::AuthenticationPolicy;
use identity_core::time::{Duration, OffsetDateTime};
use identity_store::{Failures, Store};

use crate::error::Error;

/// A limit: at most `max_failures` failures within `window` (the window opens at the first failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Failures allowed in a window; the next attempt is refused.
    pub max_failures: u32,
    /// How long failures count.
    pub window: Duration,
}

impl Default for RateLimit {
    /// 10 failures in 15 minutes.
    fn default() -> Self {
        Self { max_failures: 10, window: Duration::minutes(15) }
    }
}

impl RateLimit {
    /// Refuses a limit that would refuse everything or nothing: at least one failure, a positive window.
    pub fn check(&self, field: &'static str) -> Result<(), Error> {
        if self.max_failures == 0 || !self.window.is_positive() {
            return Err(Error::InvalidConfig {
                field,
                reason: "allow at least one failure in a positive window".into(),
            });
        }
        Ok(())
    }

    /// The password limit an authentication policy sets (`max_attempts` in `lockout_duration_minutes`), if any.
    pub fn of_policy(policy: &AuthenticationPolicy) -> Option<Self> {
        let rules = policy.primary.password;
        let max_failures = rules.max_attempts?;
        Some(Self { max_failures, window: Duration::minutes(i64::from(rules.lockout_duration_minutes.max(1))) })
    }
}

/// Counts attempts and failures in the store.
#[derive(Clone)]
pub(crate) struct Throttle {
    store: Arc<dyn Store>,
    per_address: Option<RateLimit>,
}

impl Throttle {
    /// A throttle over `store` that also limits failures per client address to `per_address`.
    pub(crate) fn new(store: Arc<dyn Store>, per_address: Option<RateLimit>) -> Self {
        Self { store, per_address }
    }

    /// Counts an attempt under `key` before its secret is checked, and refuses it once `limit` is passed. Counting
    /// before checking means parallel guesses cannot all slip under the limit; [`reset`](Self::reset) after a
    /// success forgets them.
    pub(crate) async fn count_attempt(
        &self,
        key: &str,
        limit: Option<RateLimit>,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let Some(limit) = limit else { return Ok(()) };
        let counter = self.store.record_failure(key, limit.window, now).await?;
        refuse_past(counter, limit, now, counter.count > u64::from(limit.max_failures))
    }

    /// Refuses an attempt from `address` once it has used up its failures. Only failures count against an
    /// address (many people may share one), so this only reads: a burst of parallel requests from one address
    /// can overshoot the limit by as many requests as are in flight at once, never more. Guessing one account's
    /// secret is bounded exactly by the identifier and identity counters, which count before checking.
    pub(crate) async fn check_address(&self, address: Option<IpAddr>, now: OffsetDateTime) -> Result<(), Error> {
        let (Some(limit), Some(address)) = (self.per_address, address) else { return Ok(()) };
        let counter = self.store.failures(&address_key(address), now).await?;
        refuse_past(counter, limit, now, counter.count >= u64::from(limit.max_failures))
    }

    /// Records a failed attempt from `address`.
    pub(crate) async fn address_failed(&self, address: Option<IpAddr>, now: OffsetDateTime) -> Result<(), Error> {
        let (Some(limit), Some(address)) = (self.per_address, address) else { return Ok(()) };
        self.store.record_failure(&address_key(address), limit.window, now).await?;
        Ok(())
    }

    /// Forgets the attempts counted under `key` (after a success).
    pub(crate) async fn reset(&self, key: &str) -> Result<(), Error> {
        Ok(self.store.reset_failures(key).await?)
    }

    /// Claims `key` once: of any number of concurrent callers, across replicas, exactly one gets `true` until
    /// `window` closes. The store's atomic failure counter serves as the claim (the first increment sees 1).
    pub(crate) async fn claim_once(&self, key: &str, window: Duration, now: OffsetDateTime) -> Result<bool, Error> {
        Ok(self.store.record_failure(key, window, now).await?.count == 1)
    }
}

fn refuse_past(counter: Failures, limit: RateLimit, now: OffsetDateTime, over: bool) -> Result<(), Error> {
    if !over {
        return Ok(());
    }
    // The counter's window end is when attempts are allowed again; never less than a second, never more than
    // the window, whatever clocks of other replicas wrote.
    let left = (counter.window_end - now).clamp(Duration::seconds(1), limit.window);
    Err(Error::RateLimited { retry_after: left })
}

/// The counter of password attempts on one identifier.
pub(crate) fn identifier_key(identifier: &str) -> String {
    let normalized = identity_store::normalize_identifier(identity_core::CredentialType::Password, identifier);
    format!("login:password:{normalized}")
}

/// The counter of password attempts on one identity, across its identifiers.
pub(crate) fn identity_key(identity: identity_core::IdentityId) -> String {
    format!("login:identity:{identity}")
}

/// The counter of second-factor attempts of one identity.
pub(crate) fn second_factor_key(identity: identity_core::IdentityId) -> String {
    format!("second-factor:{identity}")
}

/// The counter of failures from one client address. IPv6 clients are counted per /64, since one host usually
/// holds a whole /64 and could otherwise pick a fresh address per attempt.
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("address:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let segments = v6.segments();
                format!("address:{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use identity_store::MemoryStore;

    const START: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    #[test]
    fn addresses_are_counted_per_host_and_ipv6_per_64() {
        let key = |text: &str| address_key(text.parse().unwrap());
        assert_eq!(key("192.0.2.1"), "address:192.0.2.1");
        assert_eq!(key("::ffff:192.0.2.1"), "address:192.0.2.1");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    #[tokio::test]
    async fn attempts_past_the_limit_are_refused_until_the_window_ends() {
        let throttle = Throttle::new(Arc::new(MemoryStore::new()), None);
        let limit = Some(RateLimit { max_failures: 2, window: Duration::minutes(10) });
        throttle.count_attempt("k", limit, START).await.unwrap();
        throttle.count_attempt("k", limit, START + Duration::minutes(1)).await.unwrap();
        let refused = throttle.count_attempt("k", limit, START + Duration::minutes(4)).await;
        assert!(matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == Duration::minutes(6)));
        throttle.count_attempt("k", limit, START + Duration::minutes(10)).await.unwrap();
        throttle.count_attempt("k", None, START).await.unwrap();
    }

    #[tokio::test]
    async fn an_address_is_refused_only_after_its_failures() {
        let throttle =
            Throttle::new(Arc::new(MemoryStore::new()), Some(RateLimit { max_failures: 2, ..RateLimit::default() }));
        let address = Some("192.0.2.7".parse().unwrap());
        for _ in 0..5 {
            throttle.check_address(address, START).await.unwrap();
        }
        throttle.address_failed(address, START).await.unwrap();
        throttle.check_address(address, START).await.unwrap();
        throttle.address_failed(address, START).await.unwrap();
        assert!(matches!(throttle.check_address(address, START).await, Err(Error::RateLimited { .. })));
        throttle.check_address(Some("192.0.2.8".parse().unwrap()), START).await.unwrap();
        throttle.check_address(None, START).await.unwrap();
    }
}
