//! The rate limits of docs/api.md ("Limits"): what is counted, per what, for how long,
//! and when a count refuses a request. No I/O here: the counts live in MongoDB
//! (the store's `Counters`), so every instance sees the same ones.
//!
//! Limits protect the owner of an account and never lock them out: only failed
//! logins count against an account, per (account, address), so a right password
//! from an address that has not failed still logs in, however hard someone else
//! guesses elsewhere.

use std::time::Duration;

use time::OffsetDateTime;

/// One kind of count: a window length and a maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window: Duration,
}

/// Every limit, with the documented defaults; each can be set from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failed logins per (account or unknown name, address).
    pub login_failures_per_address: Limit,
    /// Failed logins per account (or unknown name) across addresses; past it, the
    /// addresses that failed for it in the window are refused.
    pub login_failures_per_account: Limit,
    /// Login attempts per address, right or wrong.
    pub logins_per_address: Limit,
    /// Registrations per address.
    pub registrations_per_address: Limit,
    /// Orders created per user (replays of an Idempotency-Key are not counted).
    pub orders_per_user: Limit,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Default for Limits {
    fn default() -> Self {
        let failures = Duration::from_secs(15 * 60);
        Self {
            login_failures_per_address: Limit {
                max: 10,
                window: failures,
            },
            login_failures_per_account: Limit {
                max: 100,
                window: failures,
            },
            logins_per_address: Limit {
                max: 100,
                window: MINUTE,
            },
            registrations_per_address: Limit {
                max: 20,
                window: Duration::from_secs(3600),
            },
            orders_per_user: Limit {
                max: 120,
                window: MINUTE,
            },
        }
    }
}

/// The environment variables that set each maximum (the windows are fixed).
pub const VARIABLES: [&str; 5] = [
    "LIMIT_LOGIN_FAILURES_PER_ADDRESS",
    "LIMIT_LOGIN_FAILURES_PER_ACCOUNT",
    "LIMIT_LOGINS_PER_ADDRESS",
    "LIMIT_REGISTRATIONS_PER_ADDRESS",
    "LIMIT_ORDERS_PER_USER",
];

impl Limits {
    /// The defaults, with any maximum the environment sets (a whole number from 1).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut limits = Self::default();
        let fields = [
            &mut limits.login_failures_per_address,
            &mut limits.login_failures_per_account,
            &mut limits.logins_per_address,
            &mut limits.registrations_per_address,
            &mut limits.orders_per_user,
        ];
        for (name, limit) in VARIABLES.iter().zip(fields) {
            if let Some(text) = var(name).filter(|t| !t.is_empty()) {
                limit.max = text
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("{name} must be a whole number from 1"))?;
            }
        }
        Ok(limits)
    }

    /// Whether a login for an account (or unknown name) from an address is refused,
    /// given the failures counted for the pair and for the account.
    pub fn login_refused(&self, pair: Count, account: Count) -> Option<Duration> {
        if pair.value >= self.login_failures_per_address.max {
            return Some(pair.wait);
        }
        // Past the account's limit, only addresses that took part are refused.
        if account.value >= self.login_failures_per_account.max && pair.value > 0 {
            return Some(account.wait.max(pair.wait));
        }
        None
    }
}

/// A counter's value in its current window, and the time left in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub value: u64,
    pub wait: Duration,
}

impl Count {
    /// `Some(wait)` when this count is past `limit`'s maximum.
    pub fn over(&self, limit: Limit) -> Option<Duration> {
        (self.value > limit.max).then_some(self.wait)
    }
}

/// The fixed window of `length` that holds `now`: its start (seconds since the
/// epoch) names it, and it ends `length` later. Windows are aligned to the epoch,
/// so every instance agrees on them without talking to each other.
pub fn window(now: OffsetDateTime, length: Duration) -> (i64, OffsetDateTime) {
    let length_secs = i64::try_from(length.as_secs().max(1)).unwrap_or(i64::MAX);
    let start = now.unix_timestamp().div_euclid(length_secs) * length_secs;
    let end = OffsetDateTime::from_unix_timestamp(start.saturating_add(length_secs))
        .unwrap_or(now + length);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn count(value: u64) -> Count {
        Count {
            value,
            wait: Duration::from_secs(30),
        }
    }

    #[test]
    fn the_defaults_are_api_mds() {
        let limits = Limits::default();
        assert_eq!(limits.login_failures_per_address.max, 10);
        assert_eq!(limits.login_failures_per_account.max, 100);
        assert_eq!(limits.logins_per_address.max, 100);
        assert_eq!(limits.registrations_per_address.max, 20);
        assert_eq!(limits.orders_per_user.max, 120);
        assert_eq!(
            limits.login_failures_per_address.window,
            Duration::from_secs(900)
        );
    }

    #[test]
    fn maxima_come_from_the_environment_and_bad_ones_are_refused() {
        let env: HashMap<&str, &str> = [("LIMIT_ORDERS_PER_USER", "5")].into();
        let limits = Limits::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(limits.orders_per_user.max, 5);
        assert_eq!(limits.logins_per_address.max, 100);
        for bad in ["0", "-1", "many"] {
            let env: HashMap<&str, &str> = [("LIMIT_LOGINS_PER_ADDRESS", bad)].into();
            assert!(Limits::from_lookup(|k| env.get(k).map(|v| v.to_string())).is_err());
        }
    }

    #[test]
    fn ten_failures_from_one_address_refuse_that_address_only() {
        let limits = Limits::default();
        assert_eq!(limits.login_refused(count(9), count(9)), None);
        assert!(limits.login_refused(count(10), count(10)).is_some());
        // Another address, with no failure of its own, still logs in.
        assert_eq!(limits.login_refused(count(0), count(10)), None);
    }

    #[test]
    fn past_the_accounts_limit_only_addresses_that_failed_are_refused() {
        let limits = Limits::default();
        assert!(limits.login_refused(count(1), count(100)).is_some());
        assert_eq!(limits.login_refused(count(0), count(5000)), None);
        assert_eq!(limits.login_refused(count(3), count(99)), None);
    }

    #[test]
    fn windows_are_aligned_and_end_one_length_later() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000_123).unwrap();
        let (start, end) = window(now, Duration::from_secs(60));
        assert_eq!(start, 1_000_000_080);
        assert_eq!(end.unix_timestamp(), 1_000_000_140);
        let over = count(121).over(Limits::default().orders_per_user);
        assert_eq!(over, Some(Duration::from_secs(30)));
        assert_eq!(count(120).over(Limits::default().orders_per_user), None);
    }
}
