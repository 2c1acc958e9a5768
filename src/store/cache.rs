//! The process's copies: of rows that, on SQLite, only this process writes (what the
//! dry-run switches hold, and the VLANs allocated per switch), and of the catalogue's
//! definitions and usage models, which never change once written. The order worker reads them on every
//! batch and a busy core carries thousands, so reading them from the database each time
//! would hold the writer.
//!
//! A copy is good while the database's stamp ([`WriteTx::stamp`]) is the one it was made
//! under. The repositories that write those rows queue what they changed on the write
//! transaction, and the copy takes it in right before the commit (a commit that fails
//! changes the stamp, so the copy is read again); a rolled back transaction drops it. On
//! PostgreSQL, where other instances write at any time, no copy of those is kept.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{Stamp, WriteTx};

/// The copies one database's users share.
#[derive(Default)]
pub(crate) struct Caches {
    /// The dry-run switches' items as stored (JSON text), by switch.
    pub(crate) dry: StampedCopy<HashMap<String, HashSet<String>>>,
    /// Taken by a batch from working its apply out from `dry` until it committed it, so
    /// this process's workers do not spoil each other's work.
    pub(crate) dry_turn: tokio::sync::Mutex<()>,
    pub(crate) vlans: StampedCopy<VlanCopy>,
    /// Service definitions and usage models by ID: they never change once written (a
    /// change is a new version), so every instance may keep them, on either database.
    pub(crate) catalog: Mutex<Catalog>,
}

#[derive(Default)]
pub(crate) struct Catalog {
    pub(crate) definitions: HashMap<String, crate::orchestrator::policy::Definition>,
    pub(crate) models: HashMap<String, (String, crate::orchestrator::policy::UsageModel)>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches").finish_non_exhaustive()
    }
}

/// A change a write transaction made to rows that a copy holds, taken in at its commit.
pub(crate) enum Pending {
    /// Dry-run switch items gone and added: (switch, item text).
    Dry { gone: Vec<(String, String)>, added: Vec<(String, String)> },
    /// The dry-run switches changed some other way (a switch removed).
    ForgetDry,
    /// The VLANs of these channels freed.
    Released(Vec<String>),
    /// (switch, VLAN, channel) allocated.
    Allocated(Vec<(String, u16, String)>),
}

impl Caches {
    /// Takes in what a transaction about to commit changed.
    pub(crate) fn take_in(&self, pending: Vec<Pending>) {
        for p in pending {
            match p {
                Pending::Dry { gone, added } => {
                    let Some(mut copy) = self.dry.kept() else { continue };
                    for (name, item) in &gone {
                        if let Some(held) = copy.get_mut(name) {
                            held.remove(item);
                        }
                    }
                    for (name, item) in added {
                        if let Some(held) = copy.get_mut(&name) {
                            held.insert(item);
                        }
                    }
                }
                Pending::ForgetDry => self.dry.forget(),
                Pending::Released(channels) => {
                    let Some(mut copy) = self.vlans.kept() else { continue };
                    for ch in &channels {
                        for (sw, v) in copy.channels.remove(ch).unwrap_or_default() {
                            if let Some(held) = copy.switches.get_mut(&sw) {
                                held.remove(&v);
                            }
                        }
                    }
                }
                Pending::Allocated(rows) => {
                    let Some(mut copy) = self.vlans.kept() else { continue };
                    for (sw, v, ch) in rows {
                        let Some(held) = copy.switches.get_mut(&sw) else { continue };
                        held.insert(v, ch.clone());
                        copy.channels.entry(ch).or_default().push((sw, v));
                    }
                }
            }
        }
    }
}

/// The VLAN allocations of some switches (switch -> VLAN -> channel) and, for those, each
/// channel's (switch, VLAN) pairs.
#[derive(Default)]
pub(crate) struct VlanCopy {
    pub(crate) switches: HashMap<String, HashMap<u16, String>>,
    pub(crate) channels: HashMap<String, Vec<(String, u16)>>,
}

/// A copy of rows only this process writes while the database's stamp stays the one it
/// was made under.
#[derive(Default)]
pub(crate) struct StampedCopy<T>(Mutex<Stamped<T>>);

#[derive(Default)]
pub(crate) struct Stamped<T> {
    stamp: Option<Stamp>,
    /// Counts the changes made to the copy by any means but loading what it lacked, so
    /// that work done from a look at it can tell whether it is still what it looked at.
    generation: u64,
    data: T,
}

impl<T: Default> StampedCopy<T> {
    /// The copy, emptied first unless it was made under `stamp`.
    pub(crate) fn under(&self, stamp: Stamp) -> CopyGuard<'_, T> {
        let mut g = self.lock();
        if g.stamp != Some(stamp) {
            let generation = g.generation + 1;
            *g = Stamped { stamp: Some(stamp), generation, data: T::default() };
        }
        CopyGuard(g)
    }

    /// The copy to bring up to date with this process's own writes, if one is kept.
    pub(crate) fn kept(&self) -> Option<CopyGuard<'_, T>> {
        let mut g = self.lock();
        g.generation += 1;
        g.stamp.is_some().then_some(CopyGuard(g))
    }

    /// A look at the copy as it is, with the stamp it was made under (if any) and its
    /// generation: what is worked out from it holds while both are unchanged.
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> (Option<Stamp>, u64, R) {
        let g = self.lock();
        (g.stamp, g.generation, f(&g.data))
    }

    /// See [`StampedCopy::peek`].
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Drops the copy.
    pub(crate) fn forget(&self) {
        let mut g = self.lock();
        let generation = g.generation + 1;
        *g = Stamped { generation, ..Stamped::default() };
    }

    /// Emptied if a thread panicked while updating it.
    fn lock(&self) -> std::sync::MutexGuard<'_, Stamped<T>> {
        self.0.lock().unwrap_or_else(|poisoned| {
            let mut g = poisoned.into_inner();
            let generation = g.generation + 1;
            *g = Stamped { generation, ..Stamped::default() };
            g
        })
    }
}

/// The data of a locked [`StampedCopy`].
pub(crate) struct CopyGuard<'a, T>(std::sync::MutexGuard<'a, Stamped<T>>);

impl<T> std::ops::Deref for CopyGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0.data
    }
}

impl<T> std::ops::DerefMut for CopyGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0.data
    }
}

impl WriteTx {
    /// Queues `p` for the copies, taken in right before this transaction commits.
    pub(crate) fn on_commit(&mut self, p: Pending) {
        self.pending.push(p);
    }
}
