//! When each client certificate was last presented: noted in memory by every request
//! whose certificate maps to a user (a lock and a map entry, no allocation for a
//! certificate already noted), written to the store in batches by one task every few
//! seconds and at shutdown. During a rotation the admin sees which partners still use
//! the old certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyway_store::Store;
use tokio::sync::watch;

use crate::limits::STORE_WITHIN;

/// How often noted uses are written.
pub(crate) const WRITE_EVERY: Duration = Duration::from_secs(2);

/// Certificates seen since the last write: fingerprint (lower-case hex) → seconds.
#[derive(Default)]
pub(crate) struct Uses(Mutex<HashMap<String, i64>>);

impl Uses {
    /// Notes that `fingerprint` was presented now.
    pub(crate) fn note(&self, fingerprint: &str) {
        let now = now();
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get_mut(fingerprint) {
            Some(at) => *at = now,
            None => {
                seen.insert(fingerprint.to_string(), now);
            }
        }
    }

    fn take(&self) -> Vec<(String, i64)> {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.drain().collect()
    }

    /// Puts back what could not be written (a newer note wins).
    fn restore(&self, uses: Vec<(String, i64)>) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (fingerprint, at) in uses {
            let kept = seen.entry(fingerprint).or_insert(at);
            *kept = (*kept).max(at);
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Writes the noted uses every [`WRITE_EVERY`], and once more when the gateway stops. A
/// store that cannot be written keeps them for the next round (one entry per
/// certificate, so memory stays bounded by the number of certificates).
pub(crate) async fn uses_loop(
    store: Arc<Store>,
    uses: Arc<Uses>,
    node: String,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let stopping = tokio::select! {
            _ = stopped.changed() => true,
            _ = tokio::time::sleep(WRITE_EVERY) => false,
        };
        let batch = uses.take();
        if !batch.is_empty() {
            let written =
                tokio::time::timeout(STORE_WITHIN, store.record_certificate_use(&batch, &node))
                    .await;
            if !matches!(written, Ok(Ok(()))) {
                uses.restore(batch);
            }
        }
        if stopping {
            return;
        }
    }
}
