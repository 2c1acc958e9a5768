//! SQLite's checkpointer: copies the WAL back into the database file beside the writer, in
//! short rounds, and lets the WAL start over once it is long. It has a rusqlite connection
//! of its own and runs each round on a blocking thread: a round copies pages and syncs the
//! file, which must not hold up the async threads that requests run on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::native::Native;
use super::writer::Writer;

/// Copies the WAL back into the database file on a connection of its own, beside the
/// writer, while the process's database is open (`writer` alive).
///
/// Left to SQLite, the commit that finds the WAL past its threshold checkpoints: that
/// commit, and every writer queued behind it, waits while thousands of pages are copied.
/// Here the copy runs on another thread and the writer only appends.
///
/// The WAL starts over from its beginning only when a writer begins right after a
/// checkpoint copied all of it (and no reader still uses it). A busy writer always has
/// appended something since, so the WAL would grow until SQLite's own threshold made a
/// commit checkpoint after all, every writer waiting. So once the WAL is `RESTART` pages
/// long, the round runs with the writer held idle ([`Writer::quiesce`]): it copies only
/// what came since the last round, and the next writer starts the WAL over.
/// (docs/performance.md has what each cost.)
pub(in crate::store) async fn run(conn: Native, file: std::path::PathBuf, writer: std::sync::Weak<Writer>) {
    let conn = Arc::new(Mutex::new(conn));
    /// Pages in the WAL worth a checkpoint (4 KiB each), looked at every 10 ms. While a
    /// checkpoint copies and syncs, the writer's commits and the readers' snapshots can
    /// stall, the longer the bigger the round: small, frequent rounds keep each stall short
    /// (the sizes tried are in docs/performance.md).
    const PAGES: i64 = 200;
    /// A WAL this long (256 MiB) is started over (see above), below the length at which a
    /// commit checkpoints itself (`wal_autocheckpoint`). Each restart holds the writer for
    /// a few milliseconds, so restarts are kept rare: at this length they come seconds
    /// apart under load (docs/performance.md compares lengths). Unit tests start it over
    /// sooner, to see it happen.
    const RESTART: i64 = if cfg!(test) { 256 } else { 65_536 };
    /// What may be left to copy when the writer is held for the last round: the more a
    /// round copies, the longer it takes, and the writer waits for this one.
    const LAST: i64 = 64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut wal = WalState { log: 0, pending: 0 };
    // A reader still on the old WAL keeps it from starting over: then try again later.
    let mut restart_after = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        if writer.strong_count() == 0 {
            break;
        }
        let restart = wal.log >= RESTART && tokio::time::Instant::now() >= restart_after;
        // NOOP only reports the WAL's length. PASSIVE never waits for the writer or the
        // readers: it copies what it can.
        let mode = if wal.pending >= PAGES || restart { "PASSIVE" } else { "NOOP" };
        if !wal.note(checkpoint(&conn, mode).await) || !restart {
            continue;
        }
        restart_after = tokio::time::Instant::now() + Duration::from_millis(100);
        // What came meanwhile, copied while the writer goes on (twice at most: it may
        // outpace the copy).
        for _ in 0..2 {
            if wal.pending <= LAST || !wal.note(checkpoint(&conn, "PASSIVE").await) {
                break;
            }
        }
        // The round that copies the WAL's last page syncs the database file, which then
        // holds every page the rounds before it copied. Synced here, it holds only the
        // last round's while the writer waits.
        let path = file.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || std::fs::File::open(path)?.sync_data()).await {
            tracing::warn!(error = %e, "cannot sync the database file before a WAL restart");
        }
        let Some(w) = writer.upgrade() else { break };
        let started = std::time::Instant::now();
        match w.quiesce().await {
            Ok(quiet) => {
                drop(w);
                let copied = wal.note(checkpoint(&conn, "PASSIVE").await);
                drop(quiet);
                tracing::debug!(
                    copied,
                    pages = wal.log,
                    writer_held_us = started.elapsed().as_micros() as u64,
                    "WAL copied whole; the next writer starts it over"
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot hold the writer for a WAL restart"),
        }
    }
}

/// The WAL as the last checkpoint found it, in pages: its length and what is left to copy.
struct WalState {
    log: i64,
    pending: i64,
}

impl WalState {
    /// Takes in a checkpoint's outcome; false if it failed.
    fn note(&mut self, r: Result<(i64, i64), String>) -> bool {
        match r {
            Ok((log, done)) => {
                (self.log, self.pending) = (log, log - done);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; the writer's own checkpoints take over");
                (self.log, self.pending) = (0, 0);
                false
            }
        }
    }
}

/// One `PRAGMA wal_checkpoint(mode)` on a blocking thread: the WAL's length and how much
/// of it is copied, in pages.
async fn checkpoint(conn: &Arc<Mutex<Native>>, mode: &'static str) -> Result<(i64, i64), String> {
    let conn = conn.clone();
    let round = tokio::task::spawn_blocking(move || match conn.lock() {
        Ok(conn) => conn.checkpoint(mode).map_err(|e| e.to_string()),
        Err(_) => Err("the checkpointer's connection was poisoned".to_string()),
    });
    round.await.unwrap_or_else(|e| Err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::{Db, SqlError, query, sqlite_url};

    /// A writer that never stops keeps every checkpoint from copying the whole WAL, so by
    /// itself the WAL would only ever grow (until a commit checkpointed it, waited for by
    /// every writer behind it). The checkpointer starts it over (here every `RESTART` =
    /// 256 pages) while the writes, and reads beside them, go on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_writes_that_never_stop() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = Db::connect(&sqlite_url(dir.path())?).await?;
        let mut tx = db.write().await?;
        query("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)").execute(&mut tx).await?;
        tx.commit().await?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let reader = {
            let db = db.clone();
            tokio::spawn(async move {
                let mut reads = 0u64;
                while !*stopped.borrow() {
                    query("SELECT count(*) FROM filler").fetch_one(&db).await?;
                    reads += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Ok::<u64, SqlError>(reads)
            })
        };
        // A page a commit, a commit a millisecond, for 12 times the restart length.
        let body = "x".repeat(3000);
        let wal_file = dir.path().join("switchboard.db-wal");
        let mut longest = 0;
        for _ in 0..3000 {
            let mut tx = db.write().await?;
            query("INSERT INTO filler (body) VALUES ($1)").bind(&body).execute(&mut tx).await?;
            tx.commit().await?;
            longest = longest.max(std::fs::metadata(&wal_file)?.len() / 4096);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stop.send_replace(true);
        assert!(reader.await?? > 100, "the reader read all along");
        assert!(longest < 1500, "the WAL grew to {longest} pages for 3,000 written: it never started over");
        let row = query("SELECT count(*) AS n FROM filler").fetch_one(&db).await?;
        assert_eq!(row.try_get::<i64>("n")?, 3000, "nothing lost");
        Ok(())
    }
}
