//! `switchboard agent`: one switch served to a remote orchestrator, with two-phase apply.
//!
//! [`Agent`] is the transaction logic, blocking and independent of the transport: prepare
//! reads the state before, journals it to local disk (written whole and fsynced before any
//! change is made), applies the changes and arms the confirm timer; commit makes them
//! permanent by clearing the journal; abort, or the timer running out, re-converges the
//! bridge to the state before with the planner's `diff` (so rollback is "make it equal to
//! what it was", not a replay of inverses). One transaction is open at a time. An agent that
//! starts and finds a journal rolls it back first: it was killed mid-transaction.
//! [`service`] puts it on gRPC over mutual TLS.

pub mod service;
pub mod turns;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::orchestrator::{Change, Item, Ownership, diff};
use crate::southbound::{ApplyError, Driver, DriverError};

/// How often a rollback that failed is tried again.
pub const ROLLBACK_RETRY: Duration = Duration::from_secs(5);

/// How many read-back rounds a rollback gets to converge.
const ROLLBACK_ROUNDS: usize = 3;

/// The switch behind the agent and its one open transaction.
pub struct Agent {
    driver: Box<dyn Driver>,
    /// The switch's name (the agent certificate's).
    name: String,
    bridge: String,
    journal: PathBuf,
    confirm_timeout: Duration,
    open: Option<Open>,
    /// How the last [`CLOSED_KEPT`] transactions ended, newest last: the answer to a late
    /// commit, and why a closed transaction is never prepared again.
    closed: std::collections::VecDeque<(String, &'static str)>,
    /// What it tells orchestrators it knows (`wire::FEATURES`).
    features: Vec<String>,
}

/// How many closed transactions an agent remembers.
const CLOSED_KEPT: usize = 64;

/// The open transaction.
#[derive(Debug, Clone)]
pub struct Open {
    pub transaction: String,
    /// Who prepared it, as the orchestrator said.
    pub holder: String,
    /// The client certificate's name it came with.
    pub client: String,
    /// What the switch held before the first prepare.
    before: BTreeSet<Item>,
    /// Changes applied so far.
    pub changes: usize,
    /// When the confirm timer rolls it back.
    pub deadline: Instant,
}

/// What the journal holds while a transaction is open.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    transaction: String,
    holder: String,
    client: String,
    before: Vec<Item>,
}

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Another transaction is open.
    #[error(
        "switch `{switch}` is busy: transaction {transaction} is open, held by {holder} (client certificate `{client}`); try again after it commits, aborts or times out"
    )]
    Busy { switch: String, transaction: String, holder: String, client: String },
    /// The switch refused a change; the transaction was rolled back and closed.
    #[error("{failure}; the agent put the switch back as it was and closed the transaction")]
    Refused { failure: ApplyError },
    /// The transaction is not open here.
    #[error("transaction {transaction} is not open on switch `{switch}`{how}")]
    NotOpen { switch: String, transaction: String, how: String },
    /// Reading the switch failed.
    #[error("{0}")]
    Driver(#[from] DriverError),
    /// The journal could not be written, read or removed.
    #[error("journal {path}: {message}")]
    Journal { path: String, message: String },
    /// A rollback did not bring the switch back; it is tried again.
    #[error("rollback of transaction {transaction} on switch `{switch}` failed (tried again every {}s): {message}", ROLLBACK_RETRY.as_secs())]
    Rollback { switch: String, transaction: String, message: String },
    /// The switch does not hold the state a prepare's changes were planned from: nothing was
    /// applied and no transaction opened; `state` is what it holds.
    #[error("switch `{switch}` does not hold the state the changes were planned from; plan again from what it holds")]
    Differs { switch: String, state: BTreeSet<Item> },
}

/// What a prepare left: when the confirm timer runs out, and whether it checked the state
/// its changes were planned from ([`Agent::prepare_expecting`]).
#[derive(Debug, Clone, Copy)]
pub struct Prepared {
    pub deadline: Instant,
    pub checked: bool,
}

/// What a start found in the journal and did about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub transaction: String,
    pub holder: String,
    /// Changes made to put the switch back.
    pub changes: usize,
}

impl Agent {
    /// An agent for `driver`'s switch. A journal left at `journal` by an agent that was
    /// killed is rolled back first (and removed once the switch is back).
    pub fn start(
        driver: Box<dyn Driver>,
        name: &str,
        bridge: &str,
        journal: &Path,
        confirm_timeout: Duration,
    ) -> Result<(Agent, Option<Recovered>), AgentError> {
        let mut agent = Agent {
            driver,
            name: name.to_string(),
            bridge: bridge.to_string(),
            journal: journal.to_path_buf(),
            confirm_timeout,
            open: None,
            closed: Default::default(),
            features: crate::southbound::remote::wire::FEATURES.iter().map(|f| f.to_string()).collect(),
        };
        let Some(found) = agent.read_journal()? else { return Ok((agent, None)) };
        let before: BTreeSet<Item> = found.before.into_iter().collect();
        let changes = agent.converge(&before).map_err(|message| AgentError::Rollback {
            switch: agent.name.clone(),
            transaction: found.transaction.clone(),
            message,
        })?;
        agent.remove_journal()?;
        agent.close(&found.transaction, "rolled back when the agent restarted");
        Ok((agent, Some(Recovered { transaction: found.transaction, holder: found.holder, changes })))
    }

    /// The agent, telling orchestrators it knows only `features` and behaving as a release
    /// that knows no more (it ignores a prepare's `expect_state` unless it lists
    /// `prepare.expect_state`): what an agent of an older release does (tests of the
    /// orchestrator's checks).
    pub fn advertising(mut self, features: &[&str]) -> Agent {
        self.features = features.iter().map(|f| f.to_string()).collect();
        self
    }

    /// What it tells orchestrators it knows.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The open transaction, if any.
    pub fn open(&self) -> Option<&Open> {
        self.open.as_ref()
    }

    /// The switch's driver, for reads outside transactions.
    pub fn driver(&mut self) -> &mut dyn Driver {
        self.driver.as_mut()
    }

    /// Phase one. A new transaction reads the state before, journals it and applies
    /// `changes`; the open transaction, prepared again by the same holder, takes more
    /// changes (its state before stays). If the switch refuses a change the whole
    /// transaction is rolled back and closed. A transaction that was closed here (committed,
    /// rolled back, or aborted before its prepare arrived: an orchestrator gave up on a slow
    /// agent) is refused: opened again, it would hold only the changes that came after.
    pub fn prepare(
        &mut self,
        transaction: &str,
        holder: &str,
        client: &str,
        changes: &[Change],
    ) -> Result<Prepared, AgentError> {
        self.prepare_expecting(transaction, holder, client, None, changes)
    }

    /// [`Agent::prepare`], checking first, when it opens the transaction, that the switch
    /// holds the state whose [`state_digest`](crate::southbound::remote::wire::state_digest)
    /// is `expect` (the one the orchestrator planned `changes` from, without reading it
    /// first): when it does not, nothing is applied, nothing opened, and the answer is
    /// [`AgentError::Differs`] with what the switch holds. A prepare adding to an open
    /// transaction checks nothing (its state before is the one its first prepare read), and
    /// says so (`Prepared::checked` false).
    pub fn prepare_expecting(
        &mut self,
        transaction: &str,
        holder: &str,
        client: &str,
        expect: Option<&[u8]>,
        changes: &[Change],
    ) -> Result<Prepared, AgentError> {
        if let Some(how) = self.closed_how(transaction) {
            return Err(AgentError::NotOpen {
                switch: self.name.clone(),
                transaction: transaction.to_string(),
                how: format!(": it was {how}; a new transaction is needed"),
            });
        }
        // An agent told to list fewer features behaves as the release that lacked them.
        let expect =
            expect.filter(|_| self.features.iter().any(|f| f == crate::southbound::remote::wire::EXPECT_STATE));
        let start = Instant::now();
        let mut checked = false;
        match &self.open {
            Some(open) if open.transaction == transaction && open.holder == holder => {}
            Some(open) => {
                return Err(AgentError::Busy {
                    switch: self.name.clone(),
                    transaction: open.transaction.clone(),
                    holder: open.holder.clone(),
                    client: open.client.clone(),
                });
            }
            None => {
                let before = self.driver.read_state()?;
                if let Some(expect) = expect
                    && crate::southbound::remote::wire::state_digest(&before) != expect
                {
                    return Err(AgentError::Differs { switch: self.name.clone(), state: before });
                }
                checked = expect.is_some();
                self.write_journal(&Journal {
                    transaction: transaction.to_string(),
                    holder: holder.to_string(),
                    client: client.to_string(),
                    before: before.iter().cloned().collect(),
                })?;
                self.open = Some(Open {
                    transaction: transaction.to_string(),
                    holder: holder.to_string(),
                    client: client.to_string(),
                    before,
                    changes: 0,
                    deadline: Instant::now() + self.confirm_timeout,
                });
            }
        }
        let ready = start.elapsed();
        if let Err(failure) = self.driver.apply(changes) {
            // The switch refused: take back the whole transaction, then answer.
            return match self.roll_back("rolled back after the switch refused a change") {
                Ok(_) => Err(AgentError::Refused { failure }),
                Err(e) => Err(e),
            };
        }
        let deadline = Instant::now() + self.confirm_timeout;
        let open = self.open.as_mut().ok_or_else(|| AgentError::NotOpen {
            switch: self.name.clone(),
            transaction: transaction.to_string(),
            how: String::new(),
        })?;
        open.changes += changes.len();
        open.deadline = deadline;
        tracing::info!(
            transaction,
            changes = changes.len(),
            read_and_journal_ms = ready.as_millis() as u64,
            apply_ms = (start.elapsed() - ready).as_millis() as u64,
            "prepared"
        );
        Ok(Prepared { deadline, checked })
    }

    /// Phase two: the prepared changes stay; the journal goes.
    pub fn commit(&mut self, transaction: &str) -> Result<(), AgentError> {
        self.check_open(transaction)?;
        self.remove_journal()?;
        self.open = None;
        self.close(transaction, "committed");
        Ok(())
    }

    /// Puts the switch back as it was before `transaction`. `Ok(false)`: it was not open
    /// (already rolled back, committed, or never prepared here). An abort that comes before
    /// its transaction's prepare (held up on the way) closes it, so that prepare is refused.
    pub fn abort(&mut self, transaction: &str) -> Result<bool, AgentError> {
        if self.open.as_ref().is_none_or(|o| o.transaction != transaction) {
            if self.closed_how(transaction).is_none() {
                self.close(transaction, "aborted by its orchestrator before its prepare arrived");
            }
            return Ok(false);
        }
        self.roll_back("aborted").map(|_| true)
    }

    /// The confirm timer of `transaction` rang: rolls it back if it is still open and its
    /// deadline (which a later prepare moves) has passed. Answers when to ring again:
    /// `None` when the transaction is closed.
    pub fn expire(&mut self, transaction: &str, now: Instant) -> Option<Instant> {
        let open = self.open.as_ref().filter(|o| o.transaction == transaction)?;
        if open.deadline > now {
            return Some(open.deadline);
        }
        match self.roll_back("rolled back by its confirm timer (no commit came in time)") {
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "rollback by the confirm timer failed");
                Some(now + ROLLBACK_RETRY)
            }
        }
    }

    fn check_open(&self, transaction: &str) -> Result<&Open, AgentError> {
        match &self.open {
            Some(open) if open.transaction == transaction => Ok(open),
            _ => {
                let how = match self.closed_how(transaction) {
                    Some(how) => format!(": it was {how}"),
                    None => ": it was never prepared here, or its outcome is forgotten".into(),
                };
                Err(AgentError::NotOpen { switch: self.name.clone(), transaction: transaction.to_string(), how })
            }
        }
    }

    /// Re-converges to the open transaction's state before, removes the journal and closes
    /// it. On failure the transaction stays open (and journaled) and its deadline moves to
    /// the next retry.
    fn roll_back(&mut self, how: &'static str) -> Result<usize, AgentError> {
        let Some(open) = self.open.take() else { return Ok(0) };
        match self.converge(&open.before) {
            Ok(n) => {
                self.remove_journal()?;
                tracing::info!(transaction = %open.transaction, holder = %open.holder, changes = n, "{how}");
                self.close(&open.transaction, how);
                Ok(n)
            }
            Err(message) => {
                let transaction = open.transaction.clone();
                self.open = Some(Open { deadline: Instant::now() + ROLLBACK_RETRY, ..open });
                Err(AgentError::Rollback { switch: self.name.clone(), transaction, message })
            }
        }
    }

    /// Makes the switch hold exactly `before` (of what the planner's model expresses), the
    /// way the engine rolls back: read, `diff`, apply, verify by reading back. Answers the
    /// number of changes made.
    fn converge(&mut self, before: &BTreeSet<Item>) -> Result<usize, String> {
        let everything = Ownership::everything();
        let mut made = 0;
        for _ in 0..ROLLBACK_ROUNDS {
            let actual = self.driver.read_state().map_err(|e| e.to_string())?;
            let changes = diff(before, &actual, &everything);
            if changes.is_empty() {
                return Ok(made);
            }
            self.driver.apply(&changes).map_err(|e| e.to_string())?;
            made += changes.len();
        }
        let actual = self.driver.read_state().map_err(|e| e.to_string())?;
        let left = diff(before, &actual, &everything).len();
        if left == 0 { Ok(made) } else { Err(format!("{left} differences remain after {ROLLBACK_ROUNDS} rounds")) }
    }

    /// Remembers how `transaction` ended (forgetting the oldest beyond [`CLOSED_KEPT`]).
    fn close(&mut self, transaction: &str, how: &'static str) {
        if self.closed.len() == CLOSED_KEPT {
            self.closed.pop_front();
        }
        self.closed.push_back((transaction.to_string(), how));
    }

    /// How `transaction` ended, if it is closed and remembered.
    fn closed_how(&self, transaction: &str) -> Option<&'static str> {
        self.closed.iter().rev().find(|(t, _)| t == transaction).map(|(_, how)| *how)
    }

    fn journal_error(&self, message: String) -> AgentError {
        AgentError::Journal { path: self.journal.display().to_string(), message }
    }

    /// Writes the journal whole: a temporary file, fsynced, renamed over, and the
    /// directory fsynced, so a crash leaves the old journal or the new one, never half.
    fn write_journal(&self, journal: &Journal) -> Result<(), AgentError> {
        let text = serde_json::to_vec(journal).map_err(|e| self.journal_error(e.to_string()))?;
        let tmp = self.journal.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.journal.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.journal)?;
            sync_dir(&self.journal)
        };
        write().map_err(|e| self.journal_error(format!("cannot write: {e}")))
    }

    fn read_journal(&self) -> Result<Option<Journal>, AgentError> {
        let bytes = match std::fs::read(&self.journal) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.journal_error(format!("cannot read: {e}"))),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            self.journal_error(format!(
                "unreadable ({e}): it should hold the state before an unfinished transaction; check the bridge and remove the file to start"
            ))
        })
    }

    fn remove_journal(&self) -> Result<(), AgentError> {
        match std::fs::remove_file(&self.journal) {
            Ok(()) => {
                sync_dir(&self.journal).map_err(|e| self.journal_error(format!("cannot sync its directory: {e}")))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.journal_error(format!("cannot remove: {e}"))),
        }
    }
}

/// Fsyncs the directory holding `path`, so a rename or removal in it is on disk.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrator::Op;
    use crate::southbound::dry_run::DryRun;

    fn change(op: Op, vid: u16) -> Change {
        Change { op, item: Item::Vlan { port: "p1".into(), vid, pvid: false, untagged: false } }
    }

    fn agent(journal: &Path) -> Agent {
        let mut dry = DryRun::new("sw1", None, "br0");
        dry.state.insert(Item::Port { port: "p1".into(), mcast_flood: true });
        Agent::start(Box::new(dry), "sw1", "br0", journal, Duration::from_secs(60)).unwrap().0
    }

    #[test]
    fn prepare_commit_abort_and_the_timer() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        let mut a = agent(&journal);
        let before = a.driver().read_state().unwrap();
        a.prepare("t1", "orch", "client", &[change(Op::Add, 10)]).unwrap();
        assert!(journal.exists());
        let busy = a.prepare("t2", "other", "c2", &[change(Op::Add, 11)]).unwrap_err().to_string();
        assert!(busy.contains("transaction t1 is open, held by orch"), "{busy}");
        a.prepare("t1", "orch", "client", &[change(Op::Add, 12)]).unwrap();
        assert!(a.abort("t1").unwrap());
        assert_eq!(a.driver().read_state().unwrap(), before);
        assert!(!journal.exists());
        assert!(!a.abort("t1").unwrap());

        a.prepare("t3", "orch", "client", &[change(Op::Add, 10)]).unwrap();
        a.commit("t3").unwrap();
        assert!(!journal.exists());
        let committed = a.driver().read_state().unwrap();
        assert_ne!(committed, before);
        let late = a.commit("t3").unwrap_err().to_string();
        assert!(late.contains("it was committed"), "{late}");

        let p = a.prepare("t4", "orch", "client", &[change(Op::Remove, 10)]).unwrap();
        assert_eq!(a.expire("t4", p.deadline - Duration::from_secs(1)), Some(p.deadline));
        assert_eq!(a.expire("t4", p.deadline), None);
        assert_eq!(a.driver().read_state().unwrap(), committed);
        let late = a.commit("t4").unwrap_err().to_string();
        assert!(late.contains("rolled back by its confirm timer"), "{late}");
    }

    #[test]
    fn a_closed_transaction_is_never_prepared_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = agent(&dir.path().join("j"));
        let before = a.driver().read_state().unwrap();
        // Rolled back by the timer, then a read-back round's prepare comes late: refused,
        // or the commit after it would keep only that round's changes.
        let p = a.prepare("t1", "orch", "c", &[change(Op::Add, 10)]).unwrap();
        assert_eq!(a.expire("t1", p.deadline), None);
        let again = a.prepare("t1", "orch", "c", &[change(Op::Add, 11)]).unwrap_err().to_string();
        assert!(again.contains("rolled back by its confirm timer"), "{again}");
        assert!(again.ends_with("a new transaction is needed"), "{again}");
        assert_eq!(a.driver().read_state().unwrap(), before);
        // The orchestrator gave up on a slow agent and aborted before its prepare arrived.
        assert!(!a.abort("t2").unwrap());
        let late = a.prepare("t2", "orch", "c", &[change(Op::Add, 10)]).unwrap_err().to_string();
        assert!(late.contains("aborted by its orchestrator before its prepare arrived"), "{late}");
        assert_eq!(a.driver().read_state().unwrap(), before);
        assert!(a.open().is_none());
        // Committed ones too; and the agent forgets the oldest beyond what it keeps.
        a.prepare("t3", "orch", "c", &[change(Op::Add, 10)]).unwrap();
        a.commit("t3").unwrap();
        assert!(a.prepare("t3", "orch", "c", &[]).unwrap_err().to_string().contains("it was committed"));
        for k in 0..CLOSED_KEPT {
            a.abort(&format!("x{k}")).unwrap();
        }
        a.prepare("t3", "orch", "c", &[change(Op::Remove, 10)]).unwrap();
        a.commit("t3").unwrap();
        assert_eq!(a.driver().read_state().unwrap(), before);
    }

    #[test]
    fn a_journal_left_behind_is_rolled_back_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        let mut a = agent(&journal);
        a.prepare("t1", "orch", "client", &[change(Op::Add, 10)]).unwrap();
        // The agent dies here; its switch (the dry-run state) stays as it is.
        let state = a.driver().read_state().unwrap();
        let mut dry = DryRun::new("sw1", None, "br0");
        dry.state = state;
        let (mut b, recovered) = Agent::start(Box::new(dry), "sw1", "br0", &journal, Duration::from_secs(60)).unwrap();
        assert_eq!(recovered, Some(Recovered { transaction: "t1".into(), holder: "orch".into(), changes: 1 }));
        assert_eq!(
            b.driver().read_state().unwrap(),
            BTreeSet::from([Item::Port { port: "p1".into(), mcast_flood: true }])
        );
        assert!(!journal.exists());

        std::fs::write(&journal, b"{not json").unwrap();
        let err =
            Agent::start(Box::new(DryRun::new("sw1", None, "br0")), "sw1", "br0", &journal, Duration::from_secs(1))
                .err()
                .unwrap()
                .to_string();
        assert!(err.contains("unreadable"), "{err}");
    }

    #[test]
    fn a_refused_change_rolls_the_transaction_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = agent(&dir.path().join("j"));
        let before = a.driver().read_state().unwrap();
        a.driver().inject_fault(1);
        let err = a.prepare("t1", "orch", "c", &[change(Op::Add, 10), change(Op::Add, 11)]).unwrap_err();
        assert!(matches!(err, AgentError::Refused { .. }), "{err}");
        assert_eq!(a.driver().read_state().unwrap(), before);
        assert!(a.open().is_none());
    }
}
