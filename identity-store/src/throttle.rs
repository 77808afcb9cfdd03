//! Throttling counters: failed attempts per key within a window, shared by every server replica.

use async_trait::async_trait;
use identity_core::time::{Duration, OffsetDateTime};

use crate::error::Error;

/// A counter at one moment: the failures in its current window, and when that window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Failures counted in the window.
    pub count: u64,
    /// When the window closes and the count starts again (for a `Retry-After`); `now` when nothing is counted.
    pub window_end: OffsetDateTime,
}

/// Where failure counters live. Counting is atomic: concurrent failures on one key are all counted.
///
/// A counter's window opens at its first failure and lasts `window`; a failure after the window closed starts a
/// new window at one.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts one failure for `key` at `now` and returns the counter: the failures in the current window, this
    /// one included.
    async fn record_failure(&self, key: &str, window: Duration, now: OffsetDateTime) -> Result<Failures, Error>;

    /// The failures counted for `key` in a window still open at `now`.
    async fn failures(&self, key: &str, now: OffsetDateTime) -> Result<Failures, Error>;

    /// Forgets the failures of `key` (after a success).
    async fn reset_failures(&self, key: &str) -> Result<(), Error>;

    /// Deletes counters whose window closed before `now`; returns how many.
    async fn delete_expired_counters(&self, now: OffsetDateTime) -> Result<u64, Error>;
}
