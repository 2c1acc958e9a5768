//! Connections to agents kept open across applies, one per agent, for the life of the
//! process (issue 17: a TLS handshake per agent per apply was most of the first frame through
//! agents). A `serve` worker, the agents' view and a bench that applies again reuse them; a
//! CLI command runs once and connects once.
//!
//! One connection is kept per agent (switch, address, and the network namespace it is
//! reached from), with the three certificate files it was made with as they read then: a
//! connect whose files read otherwise now (certificates issued again, whatever their length
//! or modification time) makes a new connection, which takes the old one's place. Whoever
//! takes a connection checks it with a call and drops it on any failure ([`evict`]); the
//! next connect is then a new connection, with its own TLS handshake and checks. A
//! connection is dropped only by whoever took that very one: a caller whose check failed
//! does not drop the new connection another made meanwhile. A connection whose agent
//! answered a check less than [`RECHECK_AFTER`] ago is taken without another (as database
//! pools skip the test of a connection used moments ago): a `serve` worker's orders, one
//! after another, pay one check per agent every few seconds, not one each.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use super::tls::TlsFiles;
use crate::orchestrator::Item;
use crate::southbound::AgentHealth;

/// How long an agent's answer to a check vouches for its connection.
pub const RECHECK_AFTER: Duration = Duration::from_secs(5);

/// Which agent a connection is to, and with what certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Key {
    agent: Agent,
    /// The CA, certificate and key files' contents.
    files: [Vec<u8>; 3],
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Agent {
    switch: String,
    address: String,
    netns: Option<String>,
}

impl Key {
    /// `None` when a certificate file cannot be read: nothing is kept, and the connection
    /// itself says what is wrong with the file.
    pub(super) fn new(switch: &str, address: &str, files: &TlsFiles, netns: Option<&str>) -> Option<Key> {
        let read = |p: &std::path::Path| std::fs::read(p).ok();
        Some(Key {
            agent: Agent { switch: switch.to_string(), address: address.to_string(), netns: netns.map(str::to_string) },
            files: [read(&files.ca)?, read(&files.cert)?, read(&files.key)?],
        })
    }
}

/// A connection taken from the pool: the channel, which keeping of it this is, and what the
/// agent said of itself when last checked, if that was less than [`RECHECK_AFTER`] ago.
pub(super) struct Taken {
    pub channel: Channel,
    generation: u64,
    pub recent: Option<AgentHealth>,
}

struct Kept {
    files: [Vec<u8>; 3],
    channel: Channel,
    generation: u64,
    checked: Instant,
    health: AgentHealth,
    /// What the switch held when this process last read it ([`remember`]): forgotten at a
    /// prepare, an abort or a failed commit there; a read-back inside a transaction keeps
    /// the prepared state, which its commit makes the switch's (an abort forgets it).
    state: Option<Arc<BTreeSet<Item>>>,
}

fn pool() -> &'static Mutex<HashMap<Agent, Kept>> {
    static POOL: OnceLock<Mutex<HashMap<Agent, Kept>>> = OnceLock::new();
    POOL.get_or_init(Mutex::default)
}

/// The connection kept for `key`'s agent, if it was made with `key`'s certificates (a
/// clone: gRPC channels share their connection).
pub(super) fn get(key: &Key) -> Option<Taken> {
    let pool = pool().lock().ok()?;
    let kept = pool.get(&key.agent).filter(|k| k.files == key.files)?;
    let recent = (kept.checked.elapsed() < RECHECK_AFTER).then(|| kept.health.clone());
    Some(Taken { channel: kept.channel.clone(), generation: kept.generation, recent })
}

/// Keeps `channel` for `key`'s agent, in place of any connection kept for it before; its
/// agent has just answered a check with `health`.
pub(super) fn keep(key: Key, channel: Channel, health: AgentHealth) {
    static GENERATION: AtomicU64 = AtomicU64::new(0);
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut pool) = pool().lock() {
        let kept = Kept { files: key.files, channel, generation, checked: Instant::now(), health, state: None };
        pool.insert(key.agent, kept);
    }
}

/// The connection `taken` for `key`'s agent has just passed a check, its agent answering
/// with `health`.
pub(super) fn checked(key: &Key, taken: &Taken, health: AgentHealth) {
    if let Ok(mut pool) = pool().lock()
        && let Some(kept) = pool.get_mut(&key.agent).filter(|k| k.generation == taken.generation)
    {
        (kept.checked, kept.health) = (Instant::now(), health);
    }
}

/// Drops the connection `taken` for `key`'s agent, if it is still the one kept.
pub(super) fn evict(key: &Key, taken: &Taken) {
    if let Ok(mut pool) = pool().lock()
        && pool.get(&key.agent).is_some_and(|k| k.generation == taken.generation)
    {
        pool.remove(&key.agent);
    }
}

/// Remembers what `key`'s switch holds, as just read (`Some`), or that this process no
/// longer knows it (`None`: something was prepared or aborted there). Nothing is
/// remembered for an agent with no connection kept with `key`'s certificates.
pub(super) fn remember(key: &Key, state: Option<&BTreeSet<Item>>) {
    let state = state.map(|s| Arc::new(s.clone()));
    if let Ok(mut pool) = pool().lock()
        && let Some(kept) = pool.get_mut(&key.agent).filter(|k| k.files == key.files)
    {
        kept.state = state;
    }
}

/// What `key`'s switch held when this process last read it ([`remember`]), if it knows.
/// A prepare planned from it carries its digest, so a switch changed since (by hand, by
/// another orchestrator, by its agent's confirm timer) is caught there.
pub(super) fn known(key: &Key) -> Option<Arc<BTreeSet<Item>>> {
    let pool = pool().lock().ok()?;
    pool.get(&key.agent).filter(|k| k.files == key.files)?.state.clone()
}

/// Drops every kept connection: the next connect to each agent is a new one (for benches
/// that measure a cold start, and tests).
pub fn forget_all() {
    if let Ok(mut pool) = pool().lock() {
        pool.clear();
    }
}

/// How many connections are kept.
pub fn kept() -> usize {
    pool().lock().map_or(0, |p| p.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> AgentHealth {
        AgentHealth {
            version: "test".into(),
            switch: "sw".into(),
            bridge: "br0".into(),
            open: None,
            features: Vec::new(),
        }
    }

    fn key(switch: &str, cert: &[u8]) -> Key {
        let agent = Agent { switch: switch.into(), address: "127.0.0.1:1".into(), netns: None };
        Key { agent, files: [b"ca".to_vec(), cert.to_vec(), b"key".to_vec()] }
    }

    /// One connection per agent: new certificates take the old connection's place; a
    /// failed check drops the connection it took and not one kept since.
    #[test]
    fn one_connection_per_agent_and_only_the_taken_one_is_evicted() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _guard = rt.enter();
        let channel = || tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        // Switch names of this test only: the pool is the process's.
        let (old, new) = (key("pool-test-a", b"cert 1"), key("pool-test-a", b"cert 2"));
        keep(old.clone(), channel(), health());
        let first = get(&old).expect("kept");
        assert!(get(&new).is_none(), "other certificates: not this connection");
        keep(new.clone(), channel(), health());
        assert!(get(&old).is_none(), "the new certificates' connection took its place");
        let second = get(&new).expect("kept");
        evict(&new, &first);
        assert!(get(&new).is_some(), "a check of the old connection failing drops nothing kept since");
        evict(&new, &second);
        assert!(get(&new).is_none());
        let other = key("pool-test-b", b"cert 1");
        keep(other.clone(), channel(), health());
        keep(other.clone(), channel(), health());
        let kept = pool().lock().unwrap().keys().filter(|a| a.switch.starts_with("pool-test-")).count();
        assert_eq!(kept, 1, "one per agent");
        evict(&other, &get(&other).unwrap());
    }

    /// A connection checked moments ago is taken with what its agent said then; one whose
    /// check is older is taken to be checked again.
    #[test]
    fn a_connection_checked_moments_ago_needs_no_other_check() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _guard = rt.enter();
        let key = key("pool-test-c", b"cert");
        keep(key.clone(), tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy(), health());
        let taken = get(&key).unwrap();
        assert_eq!(taken.recent, Some(health()));
        if let Some(kept) = pool().lock().unwrap().get_mut(&key.agent) {
            kept.checked -= RECHECK_AFTER;
        }
        assert!(get(&key).unwrap().recent.is_none(), "an old check vouches for nothing");
        let mut newer = health();
        newer.version = "again".into();
        checked(&key, &taken, newer.clone());
        assert_eq!(get(&key).unwrap().recent, Some(newer));
        evict(&key, &taken);
    }
}
