//! Basic-auth password checks at the gateway, bounded so that a partner cannot turn
//! them against keyway. Each check is argon2id (19 MiB, tens of milliseconds), so:
//!
//! - at most [`PasswordLimits::concurrent`] checks run at once (default: the number of
//!   cores) and at most [`PasswordLimits::queued`] wait; beyond that the caller gets 503
//!   with `Retry-After` instead of another 19 MiB;
//! - from the [`FREE_FAILURES`]th wrong password in a row on, a user and a certificate
//!   are locked out for a time that doubles with each further failure (1 s, 2 s, 4 s …
//!   up to [`MAX_LOCKOUT`]); a locked-out attempt gets 429 without hashing anything;
//! - a verified password is remembered for [`VERIFIED_FOR`] (a salted SHA-256 of user
//!   and password, salt made at start and kept in memory only), so a keep-alive partner
//!   sending its password with every request pays argon2 once; the memory is dropped
//!   whenever the store's users change.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keyway_store::{Store, StoreError};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// The wrong password in a row that starts the lockout.
pub(crate) const FREE_FAILURES: u32 = 3;
/// The longest lockout.
pub(crate) const MAX_LOCKOUT: Duration = Duration::from_secs(300);
/// How long a verified password is remembered.
pub(crate) const VERIFIED_FOR: Duration = Duration::from_secs(60);
/// Most users, certificates and remembered passwords kept track of; beyond it the
/// oldest are forgotten.
const MAX_TRACKED: usize = 10_000;

/// How many checks may run and wait.
#[derive(Debug, Clone, Copy)]
pub struct PasswordLimits {
    /// Checks hashing at once.
    pub concurrent: usize,
    /// Checks waiting for a turn; more get 503.
    pub queued: usize,
}

impl Default for PasswordLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        PasswordLimits {
            concurrent: cores,
            queued: 4 * cores,
        }
    }
}

/// What a check decided.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The password is the user's.
    Verified,
    /// It is not.
    Wrong,
    /// Too many checks running and waiting: try again shortly.
    Busy,
    /// Too many wrong passwords: try again after this long.
    LockedOut(Duration),
    /// The store could not be read: why.
    Unavailable(String),
}

/// Counts for `/metrics`, by outcome.
#[derive(Debug, Default)]
pub(crate) struct CheckCounts {
    pub verified: AtomicU64,
    pub remembered: AtomicU64,
    pub wrong: AtomicU64,
    pub locked_out: AtomicU64,
    pub busy: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// The gate every gateway password check goes through.
pub(crate) struct PasswordGate {
    hashing: Semaphore,
    /// Checks running or waiting for a turn.
    waiting: AtomicUsize,
    concurrent: usize,
    queued: usize,
    salt: [u8; 32],
    failures: Mutex<HashMap<String, Failures>>,
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    pub(crate) counts: CheckCounts,
}

impl PasswordGate {
    pub(crate) fn new(limits: PasswordLimits) -> Self {
        let mut salt = [0u8; 32];
        let _ = getrandom::fill(&mut salt);
        PasswordGate {
            hashing: Semaphore::new(limits.concurrent.max(1)),
            waiting: AtomicUsize::new(0),
            concurrent: limits.concurrent.max(1),
            queued: limits.queued,
            salt,
            failures: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
            counts: CheckCounts::default(),
        }
    }

    /// Checks `password` for `user`, who presented the certificate `fingerprint`.
    pub(crate) async fn check(
        &self,
        store: &Store,
        user: &str,
        password: &Zeroizing<String>,
        fingerprint: &str,
    ) -> Verdict {
        let key = self.key(user, password);
        let now = Instant::now();
        if lock(&self.verified)
            .get(&key)
            .is_some_and(|until| *until > now)
        {
            self.counts.remembered.fetch_add(1, Ordering::Relaxed);
            return Verdict::Verified;
        }
        let (by_user, by_cert) = (format!("user:{user}"), format!("cert:{fingerprint}"));
        if let Some(wait) = self.locked_for(&[&by_user, &by_cert], now) {
            self.counts.locked_out.fetch_add(1, Ordering::Relaxed);
            return Verdict::LockedOut(wait);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.concurrent + self.queued {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            self.counts.busy.fetch_add(1, Ordering::Relaxed);
            return Verdict::Busy;
        }
        let permit = self.hashing.acquire().await;
        let checked = tokio::time::timeout(
            crate::limits::STORE_WITHIN,
            store.check_password(user, password),
        )
        .await
        .map_err(|_| "the store did not answer the password check in time".to_string())
        .and_then(|checked| checked.map_err(|e: StoreError| e.to_string()));
        drop(permit);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match checked {
            Ok(true) => {
                self.counts.verified.fetch_add(1, Ordering::Relaxed);
                let mut failures = lock(&self.failures);
                failures.remove(&by_user);
                failures.remove(&by_cert);
                drop(failures);
                let mut verified = lock(&self.verified);
                make_room(&mut verified, |until| *until);
                verified.insert(key, Instant::now() + VERIFIED_FOR);
                Verdict::Verified
            }
            Ok(false) => {
                self.counts.wrong.fetch_add(1, Ordering::Relaxed);
                let mut failures = lock(&self.failures);
                make_room(&mut failures, |f| f.last);
                for key in [by_user, by_cert] {
                    let entry = failures.entry(key).or_insert(Failures {
                        count: 0,
                        last: now,
                        locked_until: None,
                    });
                    entry.count += 1;
                    entry.last = Instant::now();
                    entry.locked_until = lockout(entry.count).map(|d| entry.last + d);
                }
                Verdict::Wrong
            }
            Err(e) => Verdict::Unavailable(e),
        }
    }

    /// Forgets remembered passwords: the store's users changed.
    pub(crate) fn forget_verified(&self) {
        lock(&self.verified).clear();
    }

    fn locked_for(&self, keys: &[&str], now: Instant) -> Option<Duration> {
        let failures = lock(&self.failures);
        keys.iter()
            .filter_map(|k| failures.get(*k)?.locked_until)
            .filter(|until| *until > now)
            .max()
            .map(|until| until - now)
    }

    fn key(&self, user: &str, password: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.salt);
        hash.update((user.len() as u64).to_be_bytes());
        hash.update(user.as_bytes());
        hash.update(password.as_bytes());
        hash.finalize().into()
    }
}

/// The lockout after `count` wrong passwords in a row.
fn lockout(count: u32) -> Option<Duration> {
    let over = count.checked_sub(FREE_FAILURES)?;
    let seconds = 1u64.checked_shl(over).unwrap_or(u64::MAX);
    Some(Duration::from_secs(seconds).min(MAX_LOCKOUT))
}

/// Keeps a map under [`MAX_TRACKED`] entries by dropping the oldest by `age`.
fn make_room<V>(
    map: &mut HashMap<impl Eq + std::hash::Hash + Clone, V>,
    age: impl Fn(&V) -> Instant,
) {
    if map.len() < MAX_TRACKED {
        return;
    }
    let mut ages: Vec<Instant> = map.values().map(&age).collect();
    ages.sort();
    let cut = ages[ages.len() / 2];
    map.retain(|_, v| age(v) > cut);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_start_at_the_third_failure_double_and_stop_at_the_maximum() {
        assert_eq!(lockout(1), None);
        assert_eq!(lockout(3), Some(Duration::from_secs(1)));
        assert_eq!(lockout(4), Some(Duration::from_secs(2)));
        assert_eq!(lockout(6), Some(Duration::from_secs(8)));
        assert_eq!(lockout(20), Some(MAX_LOCKOUT));
        assert_eq!(lockout(200), Some(MAX_LOCKOUT));
    }
}
