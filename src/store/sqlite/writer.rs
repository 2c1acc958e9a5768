//! SQLite's writer with group commit.
//!
//! SQLite has one writer at a time, and on a busy service most of a short write
//! transaction's time goes to `BEGIN` and `COMMIT` (a commit writes every page the
//! transaction touched to the WAL). So the writers of this process queue for one
//! connection and share transactions: the first opens one (`BEGIN IMMEDIATE`), each
//! writer after it runs inside a savepoint of it, and the transaction commits once nobody
//! is queued. A writer's `commit` returns only when the shared transaction has committed
//! (or with its error), so what a caller was told is durable is durable; a writer that
//! rolls back undoes its savepoint and nothing else. Later writers of a group see the
//! work of earlier ones, as they would have after their commits: the order is the queue's.
//!
//! A writer that hands the connection on while its group is still open keeps waiting for
//! the connection itself (in a task of its own, so a caller that gives up cannot strand the
//! group): whichever comes first, the group's commit or its own turn, in which it commits
//! the group. A writer dropped without commit or rollback is rolled back by the next one to
//! take the connection, at once by a task its drop starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Mutex, Notify, OwnedMutexGuard, watch};

use super::native::Native;
use crate::store::query::SqlError;

/// How long a background writer lets requests' writers go first at most: the worker
/// must not starve under a flood of requests. (A request holds the connection for a
/// fraction of a millisecond; at 1,000 acceptances/s the queue is empty again within a
/// few milliseconds.)
pub(in crate::store) const YIELD_TO_REQUESTS: std::time::Duration = std::time::Duration::from_millis(100);

/// The shared writer connection and who waits for it.
pub(in crate::store) struct Writer {
    state: Arc<Mutex<State>>,
    /// Writers waiting to start (not those waiting for their group's commit).
    queued: AtomicUsize,
    /// Of those, the background ones (the order worker's; see [`Writer::begin`]).
    queued_background: AtomicUsize,
    /// Told when a request's writer got the connection or gave up waiting (see
    /// [`Writer::begin`]).
    request_left: Notify,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("queued", &self.queued.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

struct State {
    conn: Native,
    /// Shared transactions rolled back as a whole so far (see [`Member::stamp`]).
    aborts: u64,
    /// The open shared transaction.
    group: Option<Arc<Group>>,
    /// A writer is inside the group (`Some(true)`: in a savepoint; `Some(false)`: it opened
    /// the transaction). Still set when the connection is taken next: that writer was
    /// dropped halfway and must be rolled back first.
    open: Option<bool>,
}

/// One shared transaction; `done` carries how its commit went.
struct Group {
    done: watch::Sender<Option<Result<(), String>>>,
}

impl Group {
    fn new() -> Arc<Group> {
        Arc::new(Group { done: watch::channel(None).0 })
    }

    fn outcome(&self) -> Option<Result<(), SqlError>> {
        self.done.borrow().clone().map(|r| r.map_err(group_error))
    }

    fn finish(&self, r: Result<(), String>) {
        self.done.send_replace(Some(r));
    }
}

fn group_error(message: String) -> SqlError {
    SqlError::new(format!("the shared write transaction failed: {message}"))
}

impl Writer {
    pub(in crate::store) fn new(conn: Native) -> Writer {
        Writer {
            state: Arc::new(Mutex::new(State { conn, aborts: 0, group: None, open: None })),
            queued: AtomicUsize::new(0),
            queued_background: AtomicUsize::new(0),
            request_left: Notify::new(),
        }
    }

    /// Takes the connection, first rolling back a writer that was dropped halfway.
    async fn take(&self) -> Result<OwnedMutexGuard<State>, SqlError> {
        let mut guard = self.state.clone().lock_owned().await;
        if let Some(savepoint) = guard.open.take() {
            tracing::debug!("rolling back a write transaction that was abandoned (a request refused halfway)");
            let undone = if savepoint {
                guard.conn.batch("ROLLBACK TO switchboard_writer; RELEASE switchboard_writer")
            } else {
                Err(SqlError::new("abandoned by the writer that opened it"))
            };
            if let Err(e) = undone {
                abort(&mut guard, &e.to_string()).await;
            }
        }
        Ok(guard)
    }

    /// Holds the connection with no transaction open on it (an open group is committed
    /// first) until the guard is dropped: meanwhile nothing is appended to the WAL.
    pub(in crate::store) async fn quiesce(&self) -> Result<Quiet, SqlError> {
        let mut guard = self.take().await?;
        if let Some(group) = guard.group.clone() {
            commit_group(&mut guard, &group).await?;
        }
        Ok(Quiet { _guard: guard })
    }

    /// Writers waiting for the connection now.
    pub(in crate::store) fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Starts a writer: opens a shared transaction or joins the open one. A `background`
    /// writer (the order worker's, which holds the connection for milliseconds) is one that
    /// a request's commit does not wait for: a request that finds only background writers
    /// queued commits its group at once, instead of waiting while they run in it.
    ///
    /// Before it queues, a background writer waits while requests' writers are queued
    /// (those waiting already and those that come meanwhile), for up to
    /// [`YIELD_TO_REQUESTS`]: a request that queued behind it would wait for its whole turn
    /// (milliseconds), though the request is somebody waiting and the worker's is a backlog.
    pub(in crate::store) async fn begin(self: &Arc<Self>, background: bool) -> Result<Member, SqlError> {
        if background {
            let _ = tokio::time::timeout(YIELD_TO_REQUESTS, self.no_request_waiting()).await;
        }
        let mut guard = {
            self.queued.fetch_add(1, Ordering::SeqCst);
            let _left = Dequeue(&self.queued, (!background).then_some(&self.request_left));
            let _background = background.then(|| {
                self.queued_background.fetch_add(1, Ordering::SeqCst);
                Dequeue(&self.queued_background, None)
            });
            self.take().await?
        };
        let (group, savepoint) = match guard.group.clone() {
            Some(g) => {
                guard.conn.batch("SAVEPOINT switchboard_writer")?;
                (g, true)
            }
            None => {
                guard.conn.batch("BEGIN IMMEDIATE")?;
                let g = Group::new();
                guard.group = Some(g.clone());
                (g, false)
            }
        };
        guard.open = Some(savepoint);
        Ok(Member { guard, writer: self.clone(), group, savepoint, background, sweep: Sweep(Some(self.clone())) })
    }

    /// Returns once no request's writer waits for the connection.
    async fn no_request_waiting(&self) {
        loop {
            // Registered before the check, so a request leaving in between is not missed.
            let left = self.request_left.notified();
            if !self.requests_queued() {
                return;
            }
            left.await;
        }
    }

    /// Whether a request's writer (not only background ones) waits for the connection.
    fn requests_queued(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > self.queued_background.load(Ordering::SeqCst)
    }
}

/// See [`Writer::quiesce`].
pub(in crate::store) struct Quiet {
    _guard: OwnedMutexGuard<State>,
}

/// Counts a writer out of the queue when it got the connection or gave up waiting (and
/// tells who waits for that).
struct Dequeue<'a>(&'a AtomicUsize, Option<&'a Notify>);

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        if let Some(n) = self.1 {
            n.notify_waiters();
        }
    }
}

/// Rolls the whole shared transaction back and tells its writers.
async fn abort(guard: &mut State, why: &str) {
    guard.aborts += 1;
    let _ = guard.conn.batch("ROLLBACK");
    if let Some(g) = guard.group.take() {
        g.finish(Err(why.to_string()));
    }
}

/// Commits the open group (the caller holds the connection).
async fn commit_group(guard: &mut State, group: &Arc<Group>) -> Result<(), SqlError> {
    let r = guard.conn.batch("COMMIT");
    if let Err(e) = &r {
        abort(guard, &e.to_string()).await;
        group.finish(Err(e.to_string()));
        return r;
    }
    guard.group = None;
    group.finish(Ok(()));
    r
}

/// Waits until `group` committed, committing it when the connection comes first.
async fn wait_for_commit(writer: Arc<Writer>, group: Arc<Group>) -> Result<(), SqlError> {
    let mut done = group.done.subscribe();
    let committed = async move { done.wait_for(Option::is_some).await.ok().and_then(|v| v.clone()) };
    tokio::select! {
        biased;
        r = committed => r.unwrap_or_else(|| Err("the writer went away".into())).map_err(group_error),
        guard = writer.take() => {
            let mut guard = guard?;
            if let Some(outcome) = group.outcome() {
                return outcome;
            }
            if guard.group.as_ref().is_some_and(|g| Arc::ptr_eq(g, &group)) {
                commit_group(&mut guard, &group).await
            } else {
                Err(group_error("the transaction was closed without a result".into()))
            }
        }
    }
}

/// A writer inside the shared transaction; holds the connection.
pub(in crate::store) struct Member {
    guard: OwnedMutexGuard<State>,
    writer: Arc<Writer>,
    group: Arc<Group>,
    savepoint: bool,
    background: bool,
    sweep: Sweep,
}

impl Member {
    pub(in crate::store) fn conn_mut(&mut self) -> &mut Native {
        &mut self.guard.conn
    }

    /// Changes when the database may hold something this process's writer did not put
    /// there: another connection committed (SQLite's `data_version`, which a connection's
    /// own commits leave alone), or a shared transaction was rolled back as a whole.
    pub(in crate::store) async fn stamp(&mut self) -> Result<(i64, u64), SqlError> {
        let version = self.guard.conn.integer("PRAGMA data_version")?;
        Ok((version, self.guard.aborts))
    }

    /// Keeps this writer's work and returns once the shared transaction committed.
    pub(in crate::store) async fn commit(self) -> Result<(), SqlError> {
        let Member { mut guard, writer, group, savepoint, background, mut sweep } = self;
        sweep.0 = None;
        guard.open = None;
        if savepoint && let Err(e) = guard.conn.batch("RELEASE switchboard_writer") {
            abort(&mut guard, &e.to_string()).await;
            return Err(e);
        }
        if writer.queued() == 0 || (!background && !writer.requests_queued()) {
            return commit_group(&mut guard, &group).await;
        }
        // Others are waiting: let them in, and commit with them.
        drop(guard);
        match tokio::spawn(wait_for_commit(writer, group)).await {
            Ok(r) => r,
            Err(e) => Err(group_error(e.to_string())),
        }
    }

    /// Undoes this writer's work (only it: the group goes on).
    pub(in crate::store) async fn rollback(self) -> Result<(), SqlError> {
        let Member { mut guard, group, savepoint, mut sweep, .. } = self;
        sweep.0 = None;
        guard.open = None;
        if savepoint {
            let r = guard.conn.batch("ROLLBACK TO switchboard_writer; RELEASE switchboard_writer");
            if let Err(e) = &r {
                abort(&mut guard, &e.to_string()).await;
            }
            r
        } else {
            // It opened the group and nobody joined while it held the connection.
            guard.aborts += 1;
            let r = guard.conn.batch("ROLLBACK");
            guard.group = None;
            group.finish(Err("rolled back".into()));
            r
        }
    }
}

/// Armed while a writer is open: if it is dropped halfway, a task takes the connection
/// right after it and rolls its work back.
struct Sweep(Option<Arc<Writer>>);

impl Drop for Sweep {
    fn drop(&mut self) {
        if let Some(writer) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                if let Err(e) = writer.take().await {
                    tracing::warn!(error = %e, "cannot roll back an abandoned write transaction");
                }
            });
        }
    }
}

#[cfg(test)]
mod queue_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::store::{Db, SqlError, sqlite_url};

    /// Writers that take the connection in the order given, each `(name, background,
    /// wait before starting)`, while a request holds it; the order they got it in.
    async fn turns(
        db: &Db,
        writers: &[(&'static str, bool, Duration)],
    ) -> Result<Vec<&'static str>, Box<dyn std::error::Error>> {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let held = db.write().await?;
        let mut tasks = Vec::new();
        for &(name, background, before) in writers {
            tokio::time::sleep(before).await;
            let (db, order) = (db.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let tx = if background { db.write_background().await? } else { db.write().await? };
                order.lock().map_err(|_| SqlError::new("poisoned"))?.push(name);
                tx.commit().await
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        held.commit().await?;
        for t in tasks {
            t.await??;
        }
        let order = order.lock().map_err(|_| "poisoned")?.clone();
        Ok(order)
    }

    /// The worker's writer lets requests go first: a request that queues while the worker
    /// waits for the connection gets it before the worker. But not forever: a request that
    /// comes after the worker waited its longest goes after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_writers_go_before_the_workers_for_a_while() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = Db::connect(&sqlite_url(dir.path())?).await?;
        let soon = Duration::from_millis(10);
        let late = super::YIELD_TO_REQUESTS + Duration::from_millis(50);
        let order =
            turns(&db, &[("request", false, soon), ("worker", true, soon), ("next request", false, soon)]).await?;
        assert_eq!(order, ["request", "next request", "worker"]);
        let order =
            turns(&db, &[("request", false, soon), ("worker", true, soon), ("late request", false, late)]).await?;
        assert_eq!(order, ["request", "worker", "late request"]);
        Ok(())
    }
}
