//! Who holds the gateway's connections, so that no one client can hold them all.
//!
//! - Connections still in their TLS handshake have their own, smaller budget
//!   ([`ConnectionLimits::handshakes`]); when it is full, the oldest one still shaking
//!   hands is closed to make room: bare TCP connections that never send a ClientHello
//!   cannot keep partners out until their timeout.
//! - After the handshake, a connection counts against its client certificate's share
//!   ([`ConnectionLimits::per_certificate`]) and its address's share
//!   ([`ConnectionLimits::per_address`]), and against the total
//!   ([`ConnectionLimits::total`]). Over a share or the total, the oldest *idle*
//!   connection (parked between requests) of that certificate, address, or of anyone, is
//!   closed for the new one; a connection busy with a request is never closed for
//!   another. Only when nothing idle can go is the new connection closed.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// The budgets.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections past their handshake, in all.
    pub total: usize,
    /// Connections still in their handshake.
    pub handshakes: usize,
    /// Connections of one client certificate.
    pub per_certificate: usize,
    /// Connections from one address; 0: no limit (behind a proxy that hides addresses).
    pub per_address: usize,
}

/// Why a new connection was closed or an old one made room.
#[derive(Debug, Default)]
pub(crate) struct LimitCounts {
    /// Oldest handshakes closed for newer ones.
    pub handshake_evicted: AtomicU64,
    /// Idle connections closed for the same certificate's or address's new one.
    pub share_evicted: AtomicU64,
    /// Idle connections closed because all were in use.
    pub full_evicted: AtomicU64,
    /// New connections closed: nothing idle could make room.
    pub refused: AtomicU64,
}

struct Open {
    certificate: Arc<str>,
    address: IpAddr,
    idle: Arc<AtomicBool>,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    next: u64,
    /// In their handshake, oldest first.
    handshaking: VecDeque<(u64, Arc<Notify>)>,
    /// Past it, by id (ids grow, so the smallest is the oldest).
    open: std::collections::BTreeMap<u64, Open>,
    per_certificate: HashMap<Arc<str>, usize>,
    per_address: HashMap<IpAddr, usize>,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Open> {
        let open = self.open.remove(&id)?;
        decrement(&mut self.per_certificate, &open.certificate);
        decrement(&mut self.per_address, &open.address);
        Some(open)
    }

    /// Closes the oldest idle connection that `pick` accepts; whether there was one.
    fn evict_oldest(&mut self, pick: impl Fn(&Open) -> bool) -> bool {
        let found = self
            .open
            .iter()
            .find(|(_, o)| o.idle.load(Ordering::Acquire) && pick(o))
            .map(|(id, _)| *id);
        match found.and_then(|id| self.remove(id)) {
            Some(open) => {
                open.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The table of the gateway's connections.
pub(crate) struct Connections {
    limits: ConnectionLimits,
    table: Mutex<Table>,
    pub(crate) counts: LimitCounts,
}

impl Connections {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Connections {
            limits,
            table: Mutex::new(Table::default()),
            counts: LimitCounts::default(),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections in their handshake, and past it.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        let table = self.table();
        (table.handshaking.len(), table.open.len())
    }

    /// A new connection starts its handshake; the oldest handshake goes if the budget
    /// is full.
    pub(crate) fn handshake(self: &Arc<Self>) -> HandshakeSlot {
        let mut table = self.table();
        while table.handshaking.len() >= self.limits.handshakes.max(1) {
            let Some((_, evict)) = table.handshaking.pop_front() else {
                break;
            };
            evict.notify_one();
            self.counts
                .handshake_evicted
                .fetch_add(1, Ordering::Relaxed);
        }
        table.next += 1;
        let id = table.next;
        let evict = Arc::new(Notify::new());
        table.handshaking.push_back((id, evict.clone()));
        HandshakeSlot {
            id,
            evict,
            connections: self.clone(),
        }
    }

    /// A connection past its handshake, for `certificate` from `address`; `None` when it
    /// must close because nothing idle could make room.
    pub(crate) fn admit(self: &Arc<Self>, certificate: &str, address: IpAddr) -> Option<Admitted> {
        let limits = self.limits;
        let mut table = self.table();
        let certificate: Arc<str> = Arc::from(certificate);
        let of_certificate = table
            .per_certificate
            .get(&certificate)
            .copied()
            .unwrap_or(0);
        if of_certificate >= limits.per_certificate.max(1) {
            if !table.evict_oldest(|o| o.certificate == certificate) {
                self.counts.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            self.counts.share_evicted.fetch_add(1, Ordering::Relaxed);
        }
        let of_address = table.per_address.get(&address).copied().unwrap_or(0);
        if limits.per_address > 0 && of_address >= limits.per_address {
            if !table.evict_oldest(|o| o.address == address) {
                self.counts.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            self.counts.share_evicted.fetch_add(1, Ordering::Relaxed);
        }
        if table.open.len() >= limits.total.max(1) {
            if !table.evict_oldest(|_| true) {
                self.counts.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            self.counts.full_evicted.fetch_add(1, Ordering::Relaxed);
        }
        table.next += 1;
        let id = table.next;
        let idle = Arc::new(AtomicBool::new(false));
        let evict = Arc::new(Notify::new());
        *table
            .per_certificate
            .entry(certificate.clone())
            .or_default() += 1;
        *table.per_address.entry(address).or_default() += 1;
        table.open.insert(
            id,
            Open {
                certificate,
                address,
                idle: idle.clone(),
                evict: evict.clone(),
            },
        );
        Some(Admitted {
            id,
            idle,
            evict,
            connections: self.clone(),
        })
    }
}

/// A connection in its handshake; it leaves the budget when dropped.
pub(crate) struct HandshakeSlot {
    id: u64,
    evict: Arc<Notify>,
    connections: Arc<Connections>,
}

impl HandshakeSlot {
    /// Completes when a newer handshake needed the slot.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut table = self.connections.table();
        if let Some(at) = table.handshaking.iter().position(|(id, _)| *id == self.id) {
            table.handshaking.remove(at);
        }
    }
}

/// A connection past its handshake; it leaves the table when dropped.
pub(crate) struct Admitted {
    id: u64,
    idle: Arc<AtomicBool>,
    evict: Arc<Notify>,
    connections: Arc<Connections>,
}

impl Admitted {
    /// Marks the connection idle (parked, may be closed for another) or busy.
    pub(crate) fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Ordering::Release);
    }

    /// Completes when the connection was chosen to make room.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections.table().remove(self.id);
    }
}

/// How long a read or write of the store may take before the gateway gives up on it
/// (and tries again later): a database gone silent holds no task for longer.
pub(crate) const STORE_WITHIN: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            total: 4,
            handshakes: 2,
            per_certificate: 2,
            per_address: 3,
        }
    }

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const THERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_certificate_over_its_share_closes_its_own_oldest_idle_connection() {
        let c = Connections::new(limits());
        let first = c.admit("A", HERE).unwrap();
        let second = c.admit("A", THERE).unwrap();
        // Both busy: nothing of A's can go, so A's third is refused.
        assert!(c.admit("A", THERE).is_none());
        first.set_idle(true);
        second.set_idle(true);
        let third = c.admit("A", THERE).unwrap();
        assert_eq!(c.counts.share_evicted.load(Ordering::Relaxed), 1);
        // The oldest went: its eviction is signalled, and it left the table.
        assert_eq!(c.sizes().1, 2);
        drop(first);
        assert_eq!(c.sizes().1, 2);
        drop((second, third));
        assert_eq!(c.sizes().1, 0);
    }

    #[test]
    fn a_full_gateway_closes_the_oldest_idle_connection_of_anyone() {
        let c = Connections::new(limits());
        let kept: Vec<_> = [("A", HERE), ("B", HERE), ("C", THERE), ("D", THERE)]
            .iter()
            .map(|(cert, at)| c.admit(cert, *at).unwrap())
            .collect();
        assert!(c.admit("E", THERE).is_none(), "all busy");
        kept[0].set_idle(true);
        let _e = c.admit("E", THERE).unwrap();
        assert_eq!(c.counts.full_evicted.load(Ordering::Relaxed), 1);
        assert_eq!(c.sizes().1, 4);
    }

    #[test]
    fn the_handshake_budget_closes_the_oldest_handshake() {
        let c = Connections::new(limits());
        let a = c.handshake();
        let _b = c.handshake();
        let _c = c.handshake();
        assert_eq!(c.sizes().0, 2);
        assert_eq!(c.counts.handshake_evicted.load(Ordering::Relaxed), 1);
        // a was told to go (its notification is stored until it looks).
        let told = futures_now(a.evicted());
        assert!(told);
    }

    /// Whether a future is ready at its first poll.
    fn futures_now(f: impl std::future::Future<Output = ()>) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        f.as_mut().poll(&mut cx).is_ready()
    }
}
