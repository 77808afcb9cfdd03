//! Where "now" comes from. Code that checks expiry takes a [`Clock`], so tests move time instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// A source of the current instant.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock: what production uses.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until told to move: for tests of expiry, lockout and rotation.
///
/// It keeps microseconds, the precision databases store, so an instant read from it survives a round trip
/// through any backend unchanged. Shared between threads without locks.
#[derive(Debug)]
pub struct TestClock {
    unix_micros: AtomicI64,
}

impl TestClock {
    /// A clock showing `start` (truncated to the microsecond).
    pub fn new(start: OffsetDateTime) -> Self {
        Self { unix_micros: AtomicI64::new(to_micros(start)) }
    }

    /// A clock showing 2026-01-01T00:00:00Z, a fixed, readable start for tests.
    pub fn at_default_start() -> Self {
        Self::new(time::macros::datetime!(2026-01-01 00:00:00 UTC))
    }

    /// Sets the clock to `instant`.
    pub fn set(&self, instant: OffsetDateTime) {
        self.unix_micros.store(to_micros(instant), Ordering::SeqCst);
    }

    /// Moves the clock by `by` (backwards if negative).
    pub fn advance(&self, by: time::Duration) {
        let micros =
            i64::try_from(by.whole_microseconds()).unwrap_or(if by.is_negative() { i64::MIN } else { i64::MAX });
        let _ =
            self.unix_micros.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| Some(now.saturating_add(micros)));
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        let micros = i128::from(self.unix_micros.load(Ordering::SeqCst));
        // Out of range only after a deliberate advance past year 9999; clamp rather than panic.
        OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).unwrap_or(if micros < 0 {
            time::PrimitiveDateTime::MIN.assume_utc()
        } else {
            time::PrimitiveDateTime::MAX.assume_utc()
        })
    }
}

fn to_micros(instant: OffsetDateTime) -> i64 {
    // Every OffsetDateTime fits: year ±9999 is about ±3.2e17 µs.
    i64::try_from(instant.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn test_clock_stands_still_until_moved() {
        let clock = TestClock::at_default_start();
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00:00 UTC));
        assert_eq!(clock.now(), clock.now());
        clock.advance(time::Duration::minutes(90));
        assert_eq!(clock.now(), datetime!(2026-01-01 01:30:00 UTC));
        clock.advance(time::Duration::hours(-2));
        assert_eq!(clock.now(), datetime!(2025-12-31 23:30:00 UTC));
        clock.set(datetime!(2030-06-01 12:00:00.123456789 UTC));
        assert_eq!(clock.now(), datetime!(2030-06-01 12:00:00.123456 UTC));
    }

    #[test]
    fn test_clock_clamps_instead_of_panicking() {
        let clock = TestClock::at_default_start();
        clock.advance(time::Duration::MAX);
        assert_eq!(clock.now(), time::PrimitiveDateTime::MAX.assume_utc());
    }

    #[test]
    fn system_clock_is_utc_and_moves_forward() {
        let before = SystemClock.now();
        let after = SystemClock.now();
        assert!(after >= before);
        assert!(before.offset().is_utc());
    }
}
