//! Connections to agents kept open across applies, one per agent, for the life of the
//! process (issue 17: a TLS handshake per agent per apply was most of the first frame through
//! agents). A `serve` worker, the agents' view and a bench that applies again reuse them; a
//! CLI command runs once and connects once.
//!
//! A connection is kept under what made it: the switch, its address, the network namespace
//! it was made from and the three certificate files as they were on disk (path, length and
//! modification time), so certificates issued again make a new connection. Whoever takes one
//! checks it with a call and drops it on any failure ([`evict`]); the next connect is then
//! a new connection, with its own TLS handshake and checks.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use tonic::transport::Channel;

use super::tls::TlsFiles;

/// What a kept connection was made for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Key {
    switch: String,
    address: String,
    netns: Option<String>,
    files: [(std::path::PathBuf, u64, Option<SystemTime>); 3],
}

impl Key {
    /// `None` when a certificate file cannot be read: nothing is kept, and the connection
    /// itself says what is wrong with the file.
    pub(super) fn new(switch: &str, address: &str, files: &TlsFiles, netns: Option<&str>) -> Option<Key> {
        let stamp = |p: &Path| std::fs::metadata(p).ok().map(|m| (p.to_path_buf(), m.len(), m.modified().ok()));
        Some(Key {
            switch: switch.to_string(),
            address: address.to_string(),
            netns: netns.map(str::to_string),
            files: [stamp(&files.ca)?, stamp(&files.cert)?, stamp(&files.key)?],
        })
    }
}

fn pool() -> &'static Mutex<HashMap<Key, Channel>> {
    static POOL: OnceLock<Mutex<HashMap<Key, Channel>>> = OnceLock::new();
    POOL.get_or_init(Mutex::default)
}

/// The connection kept for `key`, if any (a clone: gRPC channels share their connection).
pub(super) fn get(key: &Key) -> Option<Channel> {
    pool().lock().ok()?.get(key).cloned()
}

/// Keeps `channel` for `key`.
pub(super) fn keep(key: Key, channel: Channel) {
    if let Ok(mut pool) = pool().lock() {
        pool.insert(key, channel);
    }
}

/// Drops the connection kept for `key`.
pub(super) fn evict(key: &Key) {
    if let Ok(mut pool) = pool().lock() {
        pool.remove(key);
    }
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
