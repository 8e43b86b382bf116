//! The audit trail of the gateway's decisions: queued by requests, written in batches by
//! one task; refusals wait until theirs is written. And the retention that keeps the
//! audit log from growing without end.

use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::Ordering;

use keyway_store::{Context, GatewayRecord, Retention, Store};

use crate::state::State;
use tokio::sync::{mpsc, watch};

use crate::limits::STORE_WITHIN;

/// Applies the audit retention at start and then hourly, as the local administrator
/// from `gateway`: every pruning is an `audit.prune` entry naming what went.
pub(crate) async fn retention_loop(
    store: Arc<Store>,
    retention: Retention,
    mut stopped: watch::Receiver<bool>,
) {
    if retention.keep_days.is_none() && retention.max_rows.is_none() {
        return;
    }
    let ctx = Context {
        origin: "gateway".into(),
        ..Context::local_admin()
    };
    loop {
        // Failures (the store away) are tried again at the next hour.
        let _ = tokio::time::timeout(
            Duration::from_secs(600),
            store.apply_retention(&ctx, retention),
        )
        .await;
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// A decision on its way to the audit log; `written` is told once it is (refusals wait
/// for that before they are answered).
pub(crate) struct Pending {
    pub record: GatewayRecord,
    pub written: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How many audit records are kept while the store cannot be written.
pub(crate) const KEPT: usize = 100_000;

/// How long a refusal waits for its audit record to be written before it is answered
/// anyway (the record is then written when the store allows).
pub(crate) const DURABLE_WITHIN: Duration = Duration::from_secs(1);

/// Writes decisions to the audit log in batches (one transaction each). Answered
/// requests do not wait for the disk: a crash loses at most the last batch interval
/// (50 ms) of them. Refusals are written before they are answered, at once.
pub(crate) async fn record_loop(
    state: Arc<State>,
    mut pending: mpsc::UnboundedReceiver<Pending>,
    mut stopped: watch::Receiver<bool>,
) {
    let store = &state.store;
    let metrics = &state.metrics;
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    loop {
        let stopping = tokio::select! {
            _ = stopped.changed() => true,
            received = pending.recv() => match received {
                Some(p) => {
                    batch.push(p.record);
                    waiting.extend(p.written);
                    false
                }
                None => true,
            },
        };
        while let Ok(p) = pending.try_recv() {
            batch.push(p.record);
            waiting.extend(p.written);
        }
        // Counted before the write, which may wait up to STORE_WITHIN on a store gone.
        metrics
            .audit_queued
            .store(batch.len() as i64, Ordering::Relaxed);
        // Refusals are waiting on this write: no pause after it.
        let urgent = !waiting.is_empty();
        // A database gone silent must not hold the writer: the batch stays and is tried
        // again.
        let written = !batch.is_empty()
            && matches!(
                tokio::time::timeout(STORE_WITHIN, store.record_gateway(&batch)).await,
                Ok(Ok(_))
            );
        if written {
            batch.clear();
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
        // While the database cannot be written, keep at most this many (the oldest go,
        // counted and said; refusals waiting on them are let go too).
        if batch.len() > KEPT {
            let dropped = batch.len() - KEPT;
            batch.drain(..dropped);
            waiting.clear();
            metrics
                .audit_dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::warn!(
                dropped,
                kept = KEPT,
                "the store cannot be written: the oldest gateway audit records beyond the bound were dropped"
            );
        }
        metrics
            .audit_queued
            .store(batch.len() as i64, Ordering::Relaxed);
        if stopping {
            if !batch.is_empty() {
                metrics
                    .audit_dropped
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::error!(
                    unwritten = batch.len(),
                    "stopping with gateway audit records the store did not take"
                );
            }
            return;
        }
        if !urgent || !written {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
