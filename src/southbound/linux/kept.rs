//! Netlink sockets kept for the life of the process, per network namespace: opening one
//! takes a thread to enter the namespace, the socket and a runtime (4.9 of the 7.3 ms an
//! order spent connecting to its path's 5 switches under the lab kernel), and a `serve`
//! worker connects to the same switches order after order. A [`LinuxSwitch`] takes a spare
//! when it connects and gives it back when it is dropped.
//!
//! A namespace is known by its inode as well as its name: one deleted and made again under
//! the same name (`lab down`, `lab up`) is another namespace, and a socket kept from the old
//! one would talk to it (and keep it alive). Taking a socket for a name drops the spares of
//! any earlier namespace of that name; [`forget`] drops a name's spares at once.
//!
//! [`LinuxSwitch`]: super::LinuxSwitch

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::MetadataExt;
use std::sync::{Mutex, OnceLock};

use super::conn::{Conn, NlError};

/// How many spare sockets are kept per namespace (one per switch driver at a time is the
/// engine's use; a few more cover the views that read a switch meanwhile).
const SPARES: usize = 4;

/// A network namespace: its name (`None`: the process's own) and inode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Ns {
    name: Option<String>,
    dev: u64,
    ino: u64,
}

impl Ns {
    fn of(name: Option<&str>) -> Option<Ns> {
        let path = match name {
            Some(n) => super::netns::path(n),
            None => std::path::PathBuf::from("/proc/self/ns/net"),
        };
        let m = std::fs::metadata(path).ok()?;
        Some(Ns { name: name.map(str::to_string), dev: m.dev(), ino: m.ino() })
    }
}

fn spares() -> &'static Mutex<HashMap<Ns, Vec<Conn>>> {
    static SPARES: OnceLock<Mutex<HashMap<Ns, Vec<Conn>>>> = OnceLock::new();
    SPARES.get_or_init(Mutex::default)
}

/// A socket into a namespace, given back to the spares when dropped.
pub(super) struct Kept {
    conn: Option<Conn>,
    ns: Option<Ns>,
}

impl Kept {
    /// A spare socket into `netns`, or a new one.
    pub(super) fn take(netns: Option<&str>) -> Result<Kept, NlError> {
        let ns = Ns::of(netns);
        if let Some(ns) = &ns
            && let Ok(mut spares) = spares().lock()
        {
            spares.retain(|k, _| k.name != ns.name || k == ns);
            if let Some(conn) = spares.get_mut(ns).and_then(Vec::pop) {
                return Ok(Kept { conn: Some(conn), ns: Some(ns.clone()) });
            }
        }
        Ok(Kept { conn: Some(Conn::open(netns)?), ns })
    }
}

impl Deref for Kept {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match &self.conn {
            Some(c) => c,
            None => unreachable!("a kept socket is given back only when dropped"),
        }
    }
}

impl DerefMut for Kept {
    fn deref_mut(&mut self) -> &mut Conn {
        match &mut self.conn {
            Some(c) => c,
            None => unreachable!("a kept socket is given back only when dropped"),
        }
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let (Some(conn), Some(ns)) = (self.conn.take(), self.ns.take())
            && let Ok(mut spares) = spares().lock()
        {
            let kept = spares.entry(ns).or_default();
            if kept.len() < SPARES {
                kept.push(conn);
            }
        }
    }
}

/// Drops the spare sockets into the namespaces `names` (they are being deleted).
pub fn forget(names: &[&str]) {
    if let Ok(mut spares) = spares().lock() {
        spares.retain(|k, _| k.name.as_deref().is_none_or(|n| !names.contains(&n)));
    }
}

/// How many spare sockets are kept, over all namespaces.
pub fn spare_count() -> usize {
    spares().lock().map_or(0, |s| s.values().map(Vec::len).sum())
}
