//! A driver whose calls are reported as they end, with how long each took: for benches that
//! split an apply's time by call, and tests that count the calls a transaction makes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::{AgentHealth, ApplyError, Driver, DriverError};
use crate::orchestrator::{Change, Item};

/// A driver call [`Observed`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// [`Driver::read_state`]: a transaction's read first and its read-backs.
    Read,
    Apply,
    /// [`Driver::prepare`] and [`Driver::prepare_unless_changed`].
    Prepare,
    Commit,
    Abort,
}

/// `inner`, each read, apply, prepare, commit and abort reported to `observe` with its time;
/// everything else passed on as it is.
pub struct Observed {
    inner: Box<dyn Driver>,
    observe: Box<dyn FnMut(Call, Duration) + Send>,
}

impl Observed {
    pub fn new(inner: Box<dyn Driver>, observe: impl FnMut(Call, Duration) + Send + 'static) -> Observed {
        Observed { inner, observe: Box::new(observe) }
    }

    fn timed<T>(&mut self, call: Call, f: impl FnOnce(&mut dyn Driver) -> T) -> T {
        let t = Instant::now();
        let out = f(self.inner.as_mut());
        (self.observe)(call, t.elapsed());
        out
    }
}

impl Driver for Observed {
    fn switch(&self) -> &str {
        self.inner.switch()
    }

    fn read_state(&mut self) -> Result<BTreeSet<Item>, DriverError> {
        self.timed(Call::Read, |d| d.read_state())
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), ApplyError> {
        self.timed(Call::Apply, |d| d.apply(changes))
    }

    fn prepare(&mut self, transaction: &str, changes: &[Change]) -> Result<(), ApplyError> {
        self.timed(Call::Prepare, |d| d.prepare(transaction, changes))
    }

    fn known_state(&mut self) -> Option<BTreeSet<Item>> {
        self.inner.known_state()
    }

    fn prepare_unless_changed(
        &mut self,
        transaction: &str,
        known: &BTreeSet<Item>,
        changes: &[Change],
    ) -> Result<Option<BTreeSet<Item>>, ApplyError> {
        self.timed(Call::Prepare, |d| d.prepare_unless_changed(transaction, known, changes))
    }

    fn commit(&mut self, transaction: &str) -> Result<(), DriverError> {
        self.timed(Call::Commit, |d| d.commit(transaction))
    }

    fn abort(&mut self, transaction: &str) -> Result<(), DriverError> {
        self.timed(Call::Abort, |d| d.abort(transaction))
    }

    fn inject_fault(&mut self, change_index: usize) {
        self.inner.inject_fault(change_index);
    }

    fn port_bytes(&mut self, ports: &[String]) -> Result<Option<BTreeMap<String, u64>>, DriverError> {
        self.inner.port_bytes(ports)
    }

    fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }

    fn agent_health(&mut self) -> Result<Option<AgentHealth>, DriverError> {
        self.inner.agent_health()
    }
}
