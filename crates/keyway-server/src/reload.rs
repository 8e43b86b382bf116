//! Keeping the gateway current with the store: a poll of its stamp (and, on PostgreSQL,
//! a wake-up by LISTEN/NOTIFY) swaps in trust, the directory and the server certificate
//! without a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use crate::GatewayError;
use crate::admin::READY_WITHIN;
use crate::identity::{certified, server_identity};
use crate::limits::STORE_WITHIN;
use crate::options::GatewayOptions;
use crate::state::State;

/// Polls the store's stamp; on a change, swaps in the new trust and forgets the
/// connectors (rebuilt on their next use).
pub(crate) async fn reload_loop(
    state: Arc<State>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    options: GatewayOptions,
    mut stopped: watch::Receiver<bool>,
) {
    let mut last = state.store.gateway_stamp().await.ok();
    let mut renewal_checked = std::time::Instant::now();
    refresh_expiry(&state).await;
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(options.reload_every) => {}
            _ = state.reload.notified() => last = None,
        }
        // A store that hangs (a database gone without a word) is as unready as one that
        // answers with an error.
        let Ok(Ok(stamp)) = tokio::time::timeout(READY_WITHIN, state.store.gateway_stamp()).await
        else {
            state.ready.store(false, Ordering::Relaxed);
            continue;
        };
        // The server certificate: replaced in the store (another node renewed it, an
        // administrator changed it) or due for renewal (checked hourly).
        if Some(stamp) != last || renewal_checked.elapsed() > Duration::from_secs(3600) {
            renewal_checked = std::time::Instant::now();
            let keystore = options.server_keystore.as_deref();
            if let Ok((key, chain)) = server_identity(&state.store, keystore, &options.hosts).await
            {
                let current = state.server_cert.get();
                let same = current
                    .cert
                    .first()
                    .zip(chain.first())
                    .is_some_and(|(a, b)| a.as_ref() == b.der());
                if !same && let Ok(new) = certified(&key, &chain, &provider) {
                    state.server_cert.set(new);
                }
            }
            refresh_expiry(&state).await;
        }
        if Some(stamp) == last {
            state.ready.store(true, Ordering::Relaxed);
            continue;
        }
        let loaded = tokio::time::timeout(
            STORE_WITHIN,
            state.load(&provider, &options.client_truststores),
        )
        .await;
        match loaded.unwrap_or_else(|_| Err(GatewayError::Setup("the store did not answer".into())))
        {
            Ok(()) => {
                state.ready.store(true, Ordering::Relaxed);
                last = Some(stamp);
            }
            Err(_) => state.ready.store(false, Ordering::Relaxed),
        }
    }
}

/// On PostgreSQL, wakes the reload loop whenever any node commits a change, so changes
/// apply in milliseconds; polling stays as the safety net when the listening connection
/// is lost.
pub(crate) async fn listen_loop(state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    loop {
        match state.store.changes().await {
            Ok(Some(mut changes)) => loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    next = changes.next() => match next {
                        Ok(_) => state.reload.notify_one(),
                        Err(_) => break,
                    },
                }
            },
            // SQLite: one process writes, polling sees everything.
            Ok(None) => return,
            Err(_) => {}
        }
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Days left of the server certificate, keyway's CA and the earliest client
/// certificate in use.
pub(crate) async fn refresh_expiry(state: &State) {
    let now = time::OffsetDateTime::now_utc();
    let days = |end: time::OffsetDateTime| (end - now).whole_days();
    let mut found = BTreeMap::new();
    if let Some(leaf) = state.server_cert.get().cert.first()
        && let Ok(cert) = keyway_keystore::Certificate::from_der(leaf.to_vec(), "server")
    {
        found.insert("server", days(cert.info().not_after));
    }
    if let Ok(Some(ca)) = state.store.ca().await {
        found.insert("ca", days(ca.issuing().info().not_after));
    }
    if let Ok(Some(end)) = state.store.earliest_client_expiry().await {
        found.insert("client", (end - now.unix_timestamp()) / 86_400);
    }
    state.metrics.set_expiry_days(found);
}
